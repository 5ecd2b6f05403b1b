//! Typed kernel launches. Every entry point's bindings are a Rust struct with one named field per
//! storage buffer, declared with [`kernel!`](crate::kernel) beside the code that launches it:
//!
//! ```ignore
//! crate::kernel! {
//!     /// y = conv(x, w) + b
//!     pub ConvForward = "conv" :: "conv2d_forward", ConvParams {
//!         1 x: Read, 2 wt: Read, 3 b: Read, 5 out: ReadWrite,
//!     }
//!     trips: |_, p| lp(p.cin) + p.cin * lp(p.kh) + ...;
//!     flops: |_, p| 2.0 * (p.n * p.cout * ...) as f64;
//! }
//! let d = Dispatch::new(gpu, &ConvForward { x, wt, b, out }, &params, Some(threads))?;
//! ```
//!
//! A declaration also carries what is known about its kernel as functions of its own typed
//! uniform (and of the entry point, for a declaration that covers several): `trips`, the loop
//! iterations one invocation runs as llvmpipe counts them (required: the guard of
//! [`super::budget`] refuses a launch past the software adapter's budget with it), and `flops`,
//! the floating-point operations of one launch (optional; kernel_bench reports GFLOP/s with it).
//! So a new kernel is declared in this one place.
//!
//! The first time a kernel is built, the WGSL module is reflected with naga and the declaration
//! is checked against it: the same bindings (numbers, names as the WGSL spells them, access
//! modes) as the entry point uses, and a uniform of exactly the size of the parameter struct.
//! Any difference is an error naming the kernel and the binding, so two buffers swapped in a
//! declaration, a renamed WGSL variable or a grown uniform fail at pipeline creation instead of
//! computing wrong numbers.

use crate::error::{Error, Result};

/// How a kernel accesses a storage buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
    /// `texture_storage_2d<rgba32float, read>`: the declared buffer, read as vec4s, mirrored
    /// into an rgba32float texture 4,096 texels wide (vec4 i at texel (i mod 4096, i div 4096))
    /// and copied there before every launch ([`crate::gpu::Dispatch`]). For loads that llvmpipe
    /// turns into a per-lane loop from a storage buffer and into one gather from a texture.
    Texture,
}

/// One declared storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub binding: u32,
    pub name: &'static str,
    pub access: Access,
}

/// What a storage binding binds: a buffer, or a range of one (a tensor in a [`super::Block`]).
///
/// ```
/// use wgpu_gan::gpu::{AsArg, Block, Gpu};
/// let gpu = Gpu::new()?;
/// let block = Block::zeros(&gpu, "two", &[3, 5])?;
/// let a = block.parts[1].arg();                  // the second tensor: a range of the block
/// assert_eq!(a.buffer, &block.whole.buffer);
/// assert!(a.offset > 0 && a.offset % 4 == 0);
/// assert_eq!(a.size, 5 * 4);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arg<'a> {
    pub buffer: &'a wgpu::Buffer,
    /// Bytes from the buffer's start (a multiple of the device's storage offset alignment).
    pub offset: u64,
    /// Bytes bound.
    pub size: u64,
}

impl Arg<'_> {
    /// The bind group's view of it: the whole buffer as such, a range by offset and size.
    ///
    /// ```
    /// use wgpu_gan::gpu::{AsArg, Gpu, Tensor};
    /// let gpu = Gpu::new()?;
    /// let t = Tensor::zeros(&gpu, "t", 8)?;
    /// let arg = t.arg();
    /// let wgpu::BindingResource::Buffer(b) = arg.binding() else { panic!("a buffer binding") };
    /// assert_eq!((b.offset, b.size), (0, None)); // a tensor with a buffer of its own: all of it
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        // The whole buffer binds as such (its size left to the driver), a range by offset and size.
        let size = if self.offset == 0 && self.size == self.buffer.size() { None } else { std::num::NonZeroU64::new(self.size) };
        wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: self.buffer, offset: self.offset, size })
    }
}

/// Something a kernel can bind as a storage buffer: a whole `wgpu::Buffer`, or a
/// [`super::Tensor`] (which may be a range of a larger buffer). Launches such as
/// [`crate::nn::copy_range`] and the kernels' binding structs take either.
///
/// ```
/// use wgpu_gan::gpu::{AsArg, Gpu, Tensor};
/// let gpu = Gpu::new()?;
/// let t = Tensor::zeros(&gpu, "t", 6)?;
/// assert_eq!(t.size(), 24);                      // bytes bound
/// let raw: &dyn AsArg = &t.buffer;              // the buffer itself, whole
/// assert_eq!(raw.arg().offset, 0);
/// assert!(raw.size() >= 24);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub trait AsArg {
    fn arg(&self) -> Arg<'_>;
    /// Bytes bound.
    fn size(&self) -> u64 {
        self.arg().size
    }
}

impl AsArg for wgpu::Buffer {
    fn arg(&self) -> Arg<'_> {
        Arg { buffer: self, offset: 0, size: self.size() }
    }
}

/// A kernel's bindings: implemented by the structs that [`kernel!`](crate::kernel) declares.
pub trait Bindings {
    /// The uniform struct (`()` for a kernel without one).
    type Params: Uniform;
    /// Shader file (a name in [`super::SHADERS`]).
    const FILE: &'static str;
    /// Entry points that take exactly these bindings.
    const ENTRIES: &'static [&'static str];
    /// Storage bindings in ascending binding order.
    const SLOTS: &'static [Slot];
    /// Read-only storage bindings (`array<f32>` or `array<vec4<f32>>`) that may be read through
    /// texture copies on devices where that is faster ([`super::Operands`]): declared with
    /// `textures: [a, b];`.
    const TEXTURES: &'static [&'static str] = &[];
    /// The entry point this launch runs.
    fn entry(&self) -> &'static str {
        Self::ENTRIES[0]
    }
    /// The buffers (or ranges of buffers), in [`Bindings::SLOTS`] order.
    fn buffers(&self) -> Vec<Arg<'_>>;
    /// Upper bound of the loop iterations one invocation of `entry` runs with uniform `p`, as
    /// llvmpipe counts them ([`super::budget`]): every loop as written, `continue`d trips included.
    fn trips(entry: &str, p: &Self::Params) -> u64;
    /// Floating-point operations of one launch of `entry` with uniform `p` (multiply-adds count
    /// two; taps that fall in the padding counted); 0 where nobody measures them.
    fn flops(_entry: &str, _p: &Self::Params) -> f64 {
        0.0
    }
}

/// What reflection found an entry point to use: its storage bindings (ascending) and the byte size
/// of its uniform, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Reflected {
    pub slots: Vec<Slot>,
    /// The fewest bytes each storage binding's buffer must have (a struct's size, or one element
    /// of a runtime-sized array), in `slots` order.
    pub min_bytes: Vec<u64>,
    pub uniform: Option<(u32, usize)>,
    /// The uniform's members (name, offset, type), when it is a struct.
    pub uniform_fields: Vec<Field>,
}

/// Compares a declaration with what naga reflected from the WGSL.
pub fn check(kernel: &str, declared: &[Slot], params_size: usize, found: &Reflected) -> Result<()> {
    let err = |m: String| Err(Error::Binding { kernel: kernel.to_string(), message: m });
    for (i, d) in declared.iter().enumerate() {
        let Some(f) = found.slots.iter().find(|f| f.binding == d.binding) else {
            return err(format!("binding {} (`{}`) is declared but the entry point does not use it", d.binding, d.name));
        };
        if f.name != d.name {
            return err(format!("binding {} is `{}` in the WGSL but declared as `{}`", d.binding, f.name, d.name));
        }
        if f.access != d.access {
            return err(format!("binding {} (`{}`) is {:?} in the WGSL but declared {:?}", d.binding, d.name, f.access, d.access));
        }
        if i > 0 && declared[i - 1].binding >= d.binding {
            return err(format!("binding {} (`{}`) is declared out of ascending order", d.binding, d.name));
        }
    }
    if let Some(f) = found.slots.iter().find(|f| !declared.iter().any(|d| d.binding == f.binding)) {
        return err(format!("the entry point uses binding {} (`{}`), which is not declared", f.binding, f.name));
    }
    match found.uniform {
        Some((b, size)) if size != params_size => err(format!("the uniform at binding {b} is {size} bytes in the WGSL; the parameter struct has {params_size}")),
        None if params_size != 0 => err(format!("the entry point has no uniform but a {params_size}-byte parameter struct is declared")),
        _ => Ok(()),
    }
}

/// Declares the bindings of one or more entry points (see the module documentation). Fields are
/// `binding name: Read | ReadWrite` in ascending binding order; the uniform type follows the
/// entry point after a comma (omit it for a kernel without one). Several entry points with the
/// same bindings are written `"file" :: ["a", "b"]`; the struct then has an `entry` field. After
/// the fields: `trips: |entry, params| ...;` (required) and `flops: |entry, params| ...;`
/// (optional), closures over the entry point's name and the typed uniform, and `textures: [a,
/// b];` (optional, [`Bindings::TEXTURES`]).
#[doc(hidden)]
#[macro_export]
macro_rules! kernel {
    (@params) => { () };
    (@params $p:ty) => { $p };
    (@textures) => { &[] };
    (@textures $($t:ident),+) => { &[$(stringify!($t)),+] };
    (@info $trips:expr $(, $flops:expr)?) => {
        fn trips(entry: &str, p: &Self::Params) -> u64 {
            let f: fn(&str, &Self::Params) -> u64 = $trips;
            f(entry, p)
        }
        $(fn flops(entry: &str, p: &Self::Params) -> f64 {
            let f: fn(&str, &Self::Params) -> f64 = $flops;
            f(entry, p)
        })?
    };
    ($(#[$m:meta])* $vis:vis $name:ident = $file:literal :: $entry:literal $(, $p:ty)? { $($bind:literal $field:ident : $acc:ident),* $(,)? }
     trips: $trips:expr; $(flops: $flops:expr;)? $(textures: [$($tex:ident),+ $(,)?];)?) => {
        $(#[$m])*
        #[doc(hidden)]
        $vis struct $name<'a> { $(pub $field: &'a dyn $crate::gpu::AsArg),* }
        impl $crate::gpu::Bindings for $name<'_> {
            type Params = $crate::kernel!(@params $($p)?);
            const FILE: &'static str = $file;
            const ENTRIES: &'static [&'static str] = &[$entry];
            const SLOTS: &'static [$crate::gpu::Slot] = &[$($crate::gpu::Slot { binding: $bind, name: stringify!($field), access: $crate::gpu::Access::$acc }),*];
            const TEXTURES: &'static [&'static str] = $crate::kernel!(@textures $($($tex),+)?);
            fn buffers(&self) -> Vec<$crate::gpu::Arg<'_>> { vec![$(self.$field.arg()),*] }
            $crate::kernel!(@info $trips $(, $flops)?);
        }
    };
    ($(#[$m:meta])* $vis:vis $name:ident = $file:literal :: [$($entry:literal),+ $(,)?] $(, $p:ty)? { $($bind:literal $field:ident : $acc:ident),* $(,)? }
     trips: $trips:expr; $(flops: $flops:expr;)? $(textures: [$($tex:ident),+ $(,)?];)?) => {
        $(#[$m])*
        #[doc(hidden)]
        $vis struct $name<'a> { pub entry: &'static str, $(pub $field: &'a dyn $crate::gpu::AsArg),* }
        impl $crate::gpu::Bindings for $name<'_> {
            type Params = $crate::kernel!(@params $($p)?);
            const FILE: &'static str = $file;
            const ENTRIES: &'static [&'static str] = &[$($entry),+];
            const SLOTS: &'static [$crate::gpu::Slot] = &[$($crate::gpu::Slot { binding: $bind, name: stringify!($field), access: $crate::gpu::Access::$acc }),*];
            const TEXTURES: &'static [&'static str] = $crate::kernel!(@textures $($($tex),+)?);
            fn entry(&self) -> &'static str { self.entry }
            fn buffers(&self) -> Vec<$crate::gpu::Arg<'_>> { vec![$(self.$field.arg()),*] }
            $crate::kernel!(@info $trips $(, $flops)?);
        }
    };
}

/// One field of a uniform struct: its name, byte offset and WGSL type (`u32`, `f32`,
/// `array<u32, 8>`, or a nested struct's name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub ty: String,
}

/// A kernel's uniform parameters, whose fields are compared with the WGSL struct when the kernel
/// is built: names, offsets and types, member by member, so that two swapped fields (even of one
/// type) fail there instead of computing wrong numbers. Declared with [`uniform!`](crate::uniform)
/// beside the struct.
pub trait Uniform: bytemuck::Pod {
    /// The fields in order; empty for a uniform whose fields are not declared (only its size is
    /// checked then: `()` and plain arrays).
    fn fields() -> Vec<Field>;
    /// The WGSL type this struct is when nested in another uniform.
    fn wgsl_type() -> String;
}

impl Uniform for () {
    fn fields() -> Vec<Field> {
        Vec::new()
    }
    fn wgsl_type() -> String {
        String::new()
    }
}

impl<const N: usize> Uniform for [u32; N] {
    fn fields() -> Vec<Field> {
        Vec::new()
    }
    fn wgsl_type() -> String {
        format!("array<u32, {N}>")
    }
}

/// The WGSL type of a field's Rust type.
pub trait FieldType {
    fn wgsl() -> String;
}

impl FieldType for u32 {
    fn wgsl() -> String {
        "u32".into()
    }
}

impl FieldType for i32 {
    fn wgsl() -> String {
        "i32".into()
    }
}

impl FieldType for f32 {
    fn wgsl() -> String {
        "f32".into()
    }
}

impl<T: FieldType, const N: usize> FieldType for [T; N] {
    fn wgsl() -> String {
        format!("array<{}, {N}>", T::wgsl())
    }
}

/// The WGSL type of the field that `get` reads (used by [`uniform_layout!`](crate::uniform_layout)).
pub fn field_type<S, T: FieldType>(_get: fn(&S) -> &T) -> String {
    T::wgsl()
}

/// Declares the fields of a `#[repr(C)]` uniform struct in order, so that they are checked
/// against the WGSL ([`Uniform`]): `uniform_layout!(ConvParams { n, cin, h, .. })`. The crate's
/// uniforms use [`uniform!`](crate::uniform), which writes this from the struct itself. A field
/// named here that the struct lacks does not compile; one the struct has but this list lacks
/// fails the check (the WGSL has a member the list does not).
#[doc(hidden)]
#[macro_export]
macro_rules! uniform_layout {
    ($t:ident { $($f:ident),* $(,)? }) => {
        impl $crate::gpu::Uniform for $t {
            fn fields() -> Vec<$crate::gpu::Field> {
                vec![$($crate::gpu::Field {
                    name: stringify!($f).to_string(),
                    offset: std::mem::offset_of!($t, $f),
                    ty: $crate::gpu::field_type(|s: &$t| &s.$f),
                }),*]
            }
            fn wgsl_type() -> String {
                stringify!($t).to_string()
            }
        }
        impl $crate::gpu::FieldType for $t {
            fn wgsl() -> String {
                stringify!($t).to_string()
            }
        }
    };
}

/// Declares a uniform struct and its [`Uniform`] layout in one place: the struct as written
/// (its attributes, `#[repr(C)]` and the bytemuck derives included), with its fields listed once.
///
/// ```ignore
/// crate::uniform! {
///     #[repr(C)]
///     #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
///     pub struct ActParams { pub n: u32, pub slope: f32, pub src: u32, pub dst: u32 }
/// }
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! uniform {
    ($(#[$m:meta])* $vis:vis struct $t:ident { $($(#[$fm:meta])* $fvis:vis $f:ident : $ft:ty),* $(,)? }) => {
        $(#[$m])* #[doc(hidden)] $vis struct $t { $($(#[$fm])* $fvis $f: $ft),* }
        $crate::uniform_layout!($t { $($f),* });
    };
}

/// Bytes a field of 4-byte scalars takes (`u32`, `array<f32, 3>`); 0 for another type.
fn scalar_bytes(ty: &str) -> usize {
    match ty {
        "u32" | "i32" | "f32" => 4,
        _ => ty.strip_prefix("array<").and_then(|r| r.strip_suffix('>')).and_then(|r| r.rsplit_once(", ")).map_or(0, |(t, n)| scalar_bytes(t) * n.parse::<usize>().unwrap_or(0)),
    }
}

/// Padding merged: consecutive fields named `_…` (`_pad: [u32; 3]` on the host, `_pad0`, `_pad1`,
/// `_pad2` in WGSL, whose uniform arrays need a 16-byte stride) become one `_pad` of their bytes.
fn merge_padding(fields: &[Field]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for f in fields {
        if f.name.starts_with('_') {
            let bytes = scalar_bytes(&f.ty);
            if let Some(last) = out.last_mut().filter(|l| l.name == "_pad") {
                let before = last.ty.trim_end_matches(" bytes").parse::<usize>().unwrap_or(0);
                last.ty = format!("{} bytes", before + bytes);
                continue;
            }
            out.push(Field { name: "_pad".into(), offset: f.offset, ty: format!("{bytes} bytes") });
        } else {
            out.push(f.clone());
        }
    }
    out
}

/// Compares a uniform's declared fields with the members naga reflected from the WGSL (empty
/// declarations are not compared), naming the first difference.
pub fn check_uniform(kernel: &str, declared: &[Field], found: &[Field]) -> Result<()> {
    if declared.is_empty() {
        return Ok(());
    }
    let (declared, found) = (&merge_padding(declared)[..], &merge_padding(found)[..]);
    for (i, d) in declared.iter().enumerate() {
        let Some(f) = found.get(i) else {
            return Err(Error::Binding { kernel: kernel.into(), message: format!("uniform field `{}` (offset {}) is declared but the WGSL struct has only {} members", d.name, d.offset, found.len()) });
        };
        if f != d {
            return Err(Error::Binding {
                kernel: kernel.into(),
                message: format!("uniform member {i} is `{}: {}` at offset {} in the WGSL but `{}: {}` at offset {} in the host's struct", f.name, f.ty, f.offset, d.name, d.ty, d.offset),
            });
        }
    }
    if let Some(f) = found.get(declared.len()) {
        return Err(Error::Binding { kernel: kernel.into(), message: format!("the WGSL uniform has member `{}: {}` at offset {}, which the host's struct does not declare", f.name, f.ty, f.offset) });
    }
    Ok(())
}
