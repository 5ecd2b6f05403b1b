//! Conv2d (src/nn/conv.rs, shaders/conv.wgsl): the CPU backward against central differences and
//! the GPU against the CPU on geometries that break naive indexing (strides 1–3, padding 0–2,
//! kernels 3–5 and 3×5, non-square inputs, batch 1, channel counts that are not multiples of 4) and
//! on R2's layers, writing and accumulating gradients, with and without a bias. Tolerance 1e-5.

mod common;
use common::layer;
use wgpu_gan::nn::{ConvShape, ConvSpec, Layer, NetSpec};

#[test]
fn conv_backward_matches_finite_differences() {
    layer::conv_backward_matches_finite_differences(false);
}

#[test]
fn conv_kernels_match_cpu() {
    layer::conv_kernels_match_cpu(false, true);
}

/// `bias=False`: no bias tensor; forward without it and no bias gradient.
#[test]
fn conv_without_bias_matches_cpu() {
    layer::conv_kernels_match_cpu(false, false);
}

#[test]
fn conv_shapes_follow_pytorch() {
    // Output sizes of PyTorch's formulas, including the floor in a strided convolution.
    assert_eq!(ConvShape::conv2d(1, 1, 28, 28, 1, 4, 4, 2, 1).oh, 14);
    assert_eq!(ConvShape::conv2d(1, 1, 12, 13, 1, 4, 4, 3, 0).ow, 4);
    assert_eq!(ConvShape::transposed(1, 1, 7, 7, 1, 4, 4, 2, 1, 0).h, 14);
    assert_eq!(ConvShape::transposed(1, 1, 5, 4, 1, 5, 5, 3, 2, 1).w, 11);
    let bad = NetSpec { layers: vec![Layer::ConvT2d(ConvSpec { out_pad: 2, ..ConvSpec::new(1, 1, 4, 4, 3, 2, 0) })] };
    assert!(bad.widths().is_err(), "output padding ≥ stride must be refused");
    let mismatch = NetSpec { layers: vec![Layer::linear(3, 10), Layer::Conv2d(ConvSpec::new(1, 2, 3, 3, 3, 1, 1))] };
    assert!(mismatch.widths().is_err(), "10 values cannot feed a (1,3,3) convolution");
}
