//! Conditioning on class labels (conditional GANs, SPEC.md R3): the generator's input is z followed
//! by a one-hot label, the discriminator's input is the sample followed by one constant plane per
//! class (or a one-hot vector, for dense discriminators). Kernels: `shaders/cond.wgsl` and
//! `rng.wgsl::random_labels`. Tests: `tests/cgan.rs`.

use crate::error::Result;
use crate::gpu::{Dispatch, Gpu};

/// x rows (n, dim) then, per row, `classes` blocks of `plane` values, the label's block all 1.
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
pub fn take_columns(src: &[f32], n: usize, stride: usize, dim: usize) -> Vec<f32> {
    (0..n).flat_map(|r| src[r * stride..r * stride + dim].iter().copied()).collect()
}

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

crate::kernel! {
    /// out = [x rows | one-hot blocks of the labels].
    pub AppendOnehot = "cond" :: "append_onehot", CondParams { 1 x: Read, 2 labels: Read, 3 out: ReadWrite }
}
crate::kernel! {
    /// out = the first dim values of each row of x.
    pub TakeColumns = "cond" :: "take_columns", CondParams { 1 x: Read, 3 out: ReadWrite }
}

/// A dispatch of [`AppendOnehot`]: `rows` rows of `x` from row `x_at` with the labels from `l_at`,
/// written from row `out_at`.
#[allow(clippy::too_many_arguments)]
pub fn append(gpu: &Gpu, x: &wgpu::Buffer, labels: &wgpu::Buffer, out: &wgpu::Buffer, rows: usize, dim: usize, classes: usize, plane: usize, [x_at, l_at, out_at]: [usize; 3]) -> Result<Dispatch> {
    let u = |v: usize| v as u32;
    let p = CondParams { rows: u(rows), dim: u(dim), classes: u(classes), plane: u(plane), x_at: u(x_at), l_at: u(l_at), stride: 0, out_at: u(out_at) };
    Dispatch::new(gpu, &AppendOnehot { x, labels, out }, &p, Some(u(rows * (dim + classes * plane))))
}

/// A dispatch of [`TakeColumns`].
pub fn take(gpu: &Gpu, src: &wgpu::Buffer, out: &wgpu::Buffer, rows: usize, stride: usize, dim: usize) -> Result<Dispatch> {
    let u = |v: usize| v as u32;
    let p = CondParams { rows: u(rows), dim: u(dim), stride: u(stride), plane: 1, ..Default::default() };
    Dispatch::new(gpu, &TakeColumns { x: src, out }, &p, Some(u(rows * dim)))
}
