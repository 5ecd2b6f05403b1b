//! Conditioning on class labels (conditional GANs, SPEC.md R3): the generator's input is z followed
//! by a one-hot label; the discriminator's input is the sample followed by one constant plane per
//! class (or a one-hot vector, for dense discriminators), or, for a projection discriminator, the
//! sample alone, the label entering through [`project`]. Kernels: `shaders/cond.wgsl` and
//! `rng.wgsl::random_labels`. Tests: `tests/cgan.rs`.

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu};

/// x rows (n, dim) then, per row, `classes` blocks of `plane` values, the label's block all 1.
///
/// ```
/// use wgpu_gan::gan::cond::append_onehot;
/// let x = [1.0, 2.0, 3.0, 4.0];                        // 2 rows of 2
/// let out = append_onehot(&x, &[1.0, 0.0], 2, 2, 2, 1); // labels 1 and 0 of 2 classes
/// assert_eq!(out, [1.0, 2.0, 0.0, 1.0, 3.0, 4.0, 1.0, 0.0]);
/// let planes = append_onehot(&x[..2], &[1.0], 1, 2, 2, 2); // blocks of 2 values
/// assert_eq!(planes, [1.0, 2.0, 0.0, 0.0, 1.0, 1.0]);
/// ```
pub fn append_onehot(x: &[f32], labels: &[f32], n: usize, dim: usize, classes: usize, plane: usize) -> Vec<f32> {
    let width = dim + classes * plane;
    let mut out = vec![0.0; n * width];
    for r in 0..n {
        out[r * width..r * width + dim].copy_from_slice(&x[r * dim..(r + 1) * dim]);
        let c = labels[r] as usize;
        out[r * width + dim + c * plane..r * width + dim + (c + 1) * plane].iter_mut().for_each(|v| *v = 1.0);
    }
    out
}

/// The first `dim` values of each of n rows of `stride`.
///
/// ```
/// use wgpu_gan::gan::cond::{append_onehot, take_columns};
/// let x = [1.0, 2.0, 3.0, 4.0];
/// let with_labels = append_onehot(&x, &[1.0, 0.0], 2, 2, 3, 1); // rows of 2 + 3
/// assert_eq!(take_columns(&with_labels, 2, 5, 2), x);           // the samples back
/// ```
pub fn take_columns(src: &[f32], n: usize, stride: usize, dim: usize) -> Vec<f32> {
    (0..n).flat_map(|r| src[r * stride..r * stride + dim].iter().copied()).collect()
}

/// The projection discriminator's logits (Miyato & Koyama, "cGANs with Projection
/// Discriminator", 2018): D(x, y) = ψ(φ(x)) + ⟨V_y, φ(x)⟩, with φ the features before D's last
/// layer and V a class embedding. Here the last layer is a Linear of 1 + classes outputs whose
/// rows are ψ's weights and V's (with a bias each, a per-class offset), so D's output row r is
/// [ψ(φ) | ⟨V_c, φ⟩ for every c] and the logit is its column 0 plus the label's column:
/// ext (n, 1 + classes), labels (n) -> logits (n).
///
/// ```
/// use wgpu_gan::gan::cond::project;
/// let ext = [0.5, 1.0, 2.0, -1.0, 3.0, 4.0];       // 2 rows of 1 + 2 classes
/// assert_eq!(project(&ext, &[1.0, 0.0], 2), [0.5 + 2.0, -1.0 + 3.0]);
/// ```
pub fn project(ext: &[f32], labels: &[f32], classes: usize) -> Vec<f32> {
    let w = 1 + classes;
    ext.chunks(w).zip(labels).map(|(row, &l)| row[0] + row[1 + l as usize]).collect()
}

/// The gradient of [`project`]: dl (n) -> d ext (n, 1 + classes), dl at column 0 and at the
/// label's column.
///
/// ```
/// use wgpu_gan::gan::cond::project_backward;
/// let d_ext = project_backward(&[1.0, 2.0], &[1.0, 0.0], 2);
/// assert_eq!(d_ext, [1.0, 0.0, 1.0, 2.0, 2.0, 0.0]);
/// ```
pub fn project_backward(dl: &[f32], labels: &[f32], classes: usize) -> Vec<f32> {
    let w = 1 + classes;
    let mut out = vec![0.0; dl.len() * w];
    for (r, (&g, &l)) in dl.iter().zip(labels).enumerate() {
        out[r * w] = g;
        out[r * w + 1 + l as usize] = g;
    }
    out
}

crate::uniform! {
    /// Uniform of `shaders/cond.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct CondParams {
        pub rows: u32,
        pub dim: u32,
        pub classes: u32,
        pub plane: u32,
        pub x_at: u32,
        pub l_at: u32,
        pub stride: u32,
        /// append_onehot: the first output row written.
        pub out_at: u32,
    }
}

crate::kernel! {
    /// out = [x rows | one-hot blocks of the labels].
    pub AppendOnehot = "cond" :: "append_onehot", CondParams { 1 x: Read, 2 labels: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// out = the first dim values of each row of x.
    pub TakeColumns = "cond" :: "take_columns", CondParams { 1 x: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}

/// A dispatch of [`AppendOnehot`]: `rows` rows of `x` from row `x_at` with the labels from `l_at`,
/// written from row `out_at`.
// Public for the crate's own modules and tests (it records a kernel launch), not API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn append(gpu: &Gpu, x: &wgpu::Buffer, labels: &wgpu::Buffer, out: &wgpu::Buffer, rows: usize, dim: usize, classes: usize, plane: usize, [x_at, l_at, out_at]: [usize; 3]) -> Result<Dispatch> {
    let u = |v: usize| v as u32;
    let p = CondParams { rows: u(rows), dim: u(dim), classes: u(classes), plane: u(plane), x_at: u(x_at), l_at: u(l_at), stride: 0, out_at: u(out_at) };
    Dispatch::new(gpu, &AppendOnehot { x, labels, out }, &p, Some(u(rows * (dim + classes * plane))))
}

crate::kernel! {
    /// [`project`] (x: D's outputs) and [`project_backward`] (x: the logits' gradient).
    pub Project = "cond" :: ["project", "project_backward"], CondParams { 1 x: Read, 2 labels: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}

/// A projection over `rows` rows: D's outputs from row `x_at` of `ext` (rows of 1 + classes),
/// labels from `l_at`, logits into `logits` from `out_at`.
// Public for the crate's own modules and tests (it records a kernel launch), not API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn push_project(gpu: &Gpu, ext: &wgpu::Buffer, labels: &wgpu::Buffer, logits: &wgpu::Buffer, rows: usize, classes: usize, at: [usize; 3]) -> Result<Dispatch> {
    project_dispatch(gpu, "project", ext, labels, logits, rows, classes, at, rows)
}

/// Its gradient: the logits' gradient from row `x_at` of `dl`, labels from `l_at`, into rows of
/// 1 + classes of `dext` from row `out_at`.
// Public for the crate's own modules and tests (it records a kernel launch), not API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn push_project_backward(gpu: &Gpu, dl: &wgpu::Buffer, labels: &wgpu::Buffer, dext: &wgpu::Buffer, rows: usize, classes: usize, at: [usize; 3]) -> Result<Dispatch> {
    project_dispatch(gpu, "project_backward", dl, labels, dext, rows, classes, at, rows * (1 + classes))
}

#[allow(clippy::too_many_arguments)]
fn project_dispatch(gpu: &Gpu, entry: &'static str, x: &wgpu::Buffer, labels: &wgpu::Buffer, out: &wgpu::Buffer, rows: usize, classes: usize, [x_at, l_at, out_at]: [usize; 3], threads: usize) -> Result<Dispatch> {
    let u = |v: usize| v as u32;
    let p = CondParams { rows: u(rows), classes: u(classes), x_at: u(x_at), l_at: u(l_at), out_at: u(out_at), ..Default::default() };
    Dispatch::new(gpu, &Project { entry, x, labels, out }, &p, Some(u(threads)))
}

/// A dispatch of [`TakeColumns`].
// Public for the crate's own modules and tests (it records a kernel launch), not API.
#[doc(hidden)]
pub fn take(gpu: &Gpu, src: &wgpu::Buffer, out: &wgpu::Buffer, rows: usize, stride: usize, dim: usize) -> Result<Dispatch> {
    let u = |v: usize| v as u32;
    let p = CondParams { rows: u(rows), dim: u(dim), stride: u(stride), plane: 1, ..Default::default() };
    Dispatch::new(gpu, &TakeColumns { x: src, out }, &p, Some(u(rows * dim)))
}
