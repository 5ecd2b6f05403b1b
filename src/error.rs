//! One error type for everything a user can get wrong or a machine can lack.

use std::fmt;

/// What every fallible call of this crate returns; its `Display` says what to change.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, Error};
/// let e = CpuTensor::new(&[2, 2], vec![1.0; 3]).unwrap_err(); // 3 values for 4 places
/// assert!(matches!(e, Error::Shape(_)));
/// assert!(e.to_string().starts_with("invalid shape or setting"));
/// let io: Error = std::io::Error::from(std::io::ErrorKind::NotFound).into();
/// assert!(matches!(io, Error::Io(_)));
/// ```
#[derive(Debug)]
pub enum Error {
    /// No Vulkan/Metal/DX12 adapter could be opened.
    NoAdapter(String),
    /// The adapter refused to create a device.
    Device(String),
    /// A shader failed naga's parser or validator (a bug in this crate, reported with the file).
    Shader { file: String, message: String },
    /// A kernel launch declared with bindings that differ from its WGSL (a bug in this crate or in
    /// a user's own kernel declaration, reported with the kernel and the binding).
    Binding { kernel: String, message: String },
    /// wgpu refused to create something (a shader module, pipeline, buffer or bind group) or to
    /// run submitted work: `what` names the kernel or buffer, `message` is wgpu's.
    Gpu { what: String, message: String },
    /// Shapes, sizes or settings that do not fit together.
    Shape(String),
    /// A buffer larger than the adapter allows.
    Limit(String),
    /// Reading results back from the GPU failed.
    Readback(String),
    /// A loss or weight became NaN/inf.
    NonFinite(String),
    Io(std::io::Error),
    Image(String),
    /// A dataset file that is missing, truncated or not what it claims to be (MNIST IDX files).
    Data(String),
    /// A checkpoint that cannot be written, or read back: truncated, foreign, or for another model.
    Checkpoint(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoAdapter(m) => write!(
                f,
                "no usable GPU adapter ({m}). Install a Vulkan driver: on Debian/Ubuntu without a GPU, \
                 `apt-get install mesa-vulkan-drivers` provides the software adapter (lavapipe); \
                 or choose another --backend / --adapter, or run on the CPU reference with --cpu \
                 (the training, evaluate and step-bench examples take it)"
            ),
            Error::Device(m) => write!(f, "could not open the GPU device: {m}"),
            Error::Shader { file, message } => write!(f, "shader {file} is invalid: {message}"),
            Error::Binding { kernel, message } => write!(f, "kernel {kernel}: its declared bindings do not match the WGSL: {message}"),
            Error::Gpu { what, message } => write!(f, "wgpu rejected {what}: {message}"),
            Error::Shape(m) => write!(f, "invalid shape or setting: {m}"),
            Error::Limit(m) => write!(f, "adapter limit exceeded: {m}"),
            Error::Readback(m) => write!(f, "GPU readback failed: {m}"),
            Error::NonFinite(m) => write!(f, "non-finite value: {m}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Image(m) => write!(f, "image error: {m}"),
            Error::Data(m) => write!(f, "data error: {m}"),
            Error::Checkpoint(m) => write!(f, "checkpoint error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// This crate's result, with [`Error`].
///
/// ```
/// fn two_by_two(v: Vec<f32>) -> wgpu_gan::Result<wgpu_gan::gpu::CpuTensor> {
///     wgpu_gan::gpu::CpuTensor::new(&[2, 2], v)
/// }
/// assert!(two_by_two(vec![0.0; 4]).is_ok() && two_by_two(vec![0.0; 5]).is_err());
/// ```
pub type Result<T> = std::result::Result<T, Error>;
