//! The vec4 matrix products of `shaders/gemm.wgsl`, which the Linear layers run on (see
//! [`super::linear`]): `gemm_nt` and the transposition that prepares its operands.

use crate::gpu::budget::lp;
use crate::error::Result;
use crate::gpu::{AsArg, Dispatch, Gpu};

crate::uniform! {
    /// Uniform of `shaders/gemm.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct GemmParams {
        pub m: u32,
        pub p: u32,
        /// Reduction length / 4.
        pub k4: u32,
        /// vec4 steps per tile of a split reduction (k4 for one tile).
        pub k_per: u32,
        /// bit 0: add the bias; bit 1: add into the output.
        pub flags: u32,
        /// transpose_pad: source rows and columns, padded row count.
        pub rows: u32,
        pub cols: u32,
        pub rows4: u32,
    }
}

/// bit 0 of [`GemmParams::flags`]: add the bias.
pub const GEMM_BIAS: u32 = 1;

/// Trips of `gemm_nt` for a tile of `k_per` vec4 steps: the row-offset loop, the k loop with its
/// 8-row inner loop, and the 8 × 8 store.
pub fn gemm_trips(k_per: u64) -> u64 {
    lp(8) + lp(k_per) + k_per * lp(8) + lp(8) + 8 * lp(8)
}

crate::kernel! {
    /// `out[m, p] = [bias[p] +] Σ_k a[m, k]·b[p, k]`, both operands contiguous along k (vec4).
    pub GemmNt = "gemm" :: "gemm_nt", GemmParams { 1 a: Read, 2 b: Read, 3 bias: Read, 5 out: ReadWrite }
    trips: |_, p| gemm_trips(p.k_per as u64);
    flops: |_, p| 8.0 * p.m as f64 * p.p as f64 * p.k4 as f64;
}
crate::kernel! {
    /// out (COLS, ROWS4) = srcᵀ, rows padded with zeros to a multiple of 4.
    pub TransposePad = "gemm" :: "transpose_pad", GemmParams { 4 src: Read, 5 out: ReadWrite }
    trips: |_, _| 0;
}

/// Invocations of `gemm_nt` per tile: one per 8 × 8 block of the output.
pub fn blocks8(rows: usize, cols: usize) -> u32 {
    (rows.div_ceil(8) * cols.div_ceil(8)) as u32
}

/// A dispatch writing the (cols, rows padded to 4) transpose of `src` (rows, cols) into `out`.
pub fn transpose(gpu: &Gpu, src: &dyn AsArg, out: &dyn AsArg, rows: usize, cols: usize) -> Result<Dispatch> {
    let rows4 = rows.div_ceil(4) * 4;
    let p = GemmParams { rows: rows as u32, cols: cols as u32, rows4: rows4 as u32, ..Default::default() };
    Dispatch::new(gpu, &TransposePad { src, out }, &p, Some((cols * rows4) as u32))
}
