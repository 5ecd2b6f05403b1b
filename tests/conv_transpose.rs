//! ConvTranspose2d (src/nn/conv_transpose.rs, shaders/conv.wgsl): the CPU backward against central differences and
//! the GPU against the CPU on geometries that break naive indexing (strides 1–3, padding 0–2,
//! kernels 3–5 and 3×5, non-square inputs, batch 1, channel counts that are not multiples of 4) and
//! on R2's layers, writing and accumulating gradients, with and without a bias. Tolerance 1e-5.

mod common;
use common::layer;

#[test]
fn conv_transpose_backward_matches_finite_differences() {
    layer::conv_backward_matches_finite_differences(true);
}

#[test]
fn conv_transpose_kernels_match_cpu() {
    layer::conv_kernels_match_cpu(true, true);
}

/// `bias=False`: no bias tensor; forward without it and no bias gradient.
#[test]
fn conv_transpose_without_bias_matches_cpu() {
    layer::conv_kernels_match_cpu(true, false);
}
