//! Conv2d (src/nn/conv.rs, shaders/conv.wgsl): the CPU backward against central differences and
//! the GPU against the CPU on geometries that break naive indexing (strides 1–3, padding 0–2,
//! kernels 3–5 and 3×5, non-square inputs, batch 1, channel counts that are not multiples of 4) and
//! on R2's layers, writing and accumulating gradients, with and without a bias. Tolerance 1e-5.

mod common;
use common::layer;
use wgpu_gan::nn::{ConvSpec, Layer, NetSpec};

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
    let conv = |h, w, k, s, p| ConvSpec::new(1, 1, h, w, k, s, p).shape(1, false);
    let convt = |h, w, k, s, p, op| ConvSpec::new(1, 1, h, w, k, s, p).out_pad(op).shape(1, true);
    assert_eq!(conv(28, 28, 4, 2, 1).oh, 14);
    assert_eq!(conv(12, 13, 4, 3, 0).ow, 4);
    assert_eq!(convt(7, 7, 4, 2, 1, 0).h, 14);
    assert_eq!(convt(5, 4, 5, 3, 2, 1).w, 11);
    // Per-axis parameters and dilation: Conv2d(k=(3,2), s=(2,1), p=(0,1), d=(2,1)) on 9×5
    // gives ⌊(9 − 2·2 − 1)/2⌋ + 1 = 3 rows and (5 + 2 − 1 − 1)/1 + 1 = 6 columns (PyTorch's formula).
    let s = ConvSpec { kh: 3, kw: 2, stride: [2, 1], pad: [0, 1], dilation: [2, 1], ..ConvSpec::new(1, 1, 9, 5, 3, 1, 0) }.shape(1, false);
    assert_eq!((s.oh, s.ow), (3, 6));
    // ConvTranspose2d(k=(3,2), s=(2,1), p=(1,0), op=(1,0), d=(1,2)) on 4×3: (4−1)·2 − 2 + 2 + 1 + 1 = 8
    // rows, (3−1)·1 − 0 + 2·1 + 0 + 1 = 5 columns.
    let t = ConvSpec { kh: 3, kw: 2, stride: [2, 1], pad: [1, 0], out_pad: [1, 0], dilation: [1, 2], ..ConvSpec::new(1, 1, 4, 3, 3, 1, 0) }.shape(1, true);
    assert_eq!((t.h, t.w), (8, 5));
    let bad = NetSpec { layers: vec![Layer::ConvT2d(ConvSpec::new(1, 1, 4, 4, 3, 2, 0).out_pad(2))] };
    assert!(bad.widths().is_err(), "output padding ≥ stride must be refused");
    let mismatch = NetSpec { layers: vec![Layer::linear(3, 10), Layer::Conv2d(ConvSpec::new(1, 2, 3, 3, 3, 1, 1))] };
    assert!(mismatch.widths().is_err(), "10 values cannot feed a (1,3,3) convolution");
}

/// A reduction past one tile's share of the loop budget for the subgroup family's tap product
/// (49 taps × 351 vec4s of channels): the forward pass takes the packed, split product instead,
/// and still matches the CPU; R2's layer (16 taps × 16 vec4s) takes the tap product. (The direct
/// kernels refuse the long layer: one invocation would loop past the software adapter's limit.)
#[test]
fn long_tap_reductions_take_the_split_product() {
    use common::layer::{compare, run_cpu, run_gpu_on, TOL};
    use wgpu_gan::ops::conv_gemm::KernelFamily;
    use wgpu_gan::nn::{GpuNet, Init, Mode};
    if !common::kernel_families().contains(&KernelFamily::Gemm) {
        println!("no 8-lane subgroups on this adapter: the subgroup family does not run here");
        return;
    }
    let g = common::gpu_with(KernelFamily::Gemm);
    for (spec, taps) in [(ConvSpec::new(1400, 32, 7, 7, 7, 1, 0), false), (ConvSpec::new(64, 128, 14, 14, 4, 2, 1), true)] {
        let layer = Layer::Conv2d(spec);
        let net = NetSpec { layers: vec![layer] };
        let params = net.init(5, 0, Init::PyTorch);
        let gnet = GpuNet::new(&g, net.clone(), &params, 1, 1, "test").unwrap();
        let (x, y) = (common::tensor(&g, &vec![0.0; net.in_dim()]), common::tensor(&g, &vec![0.0; net.out_dim()]));
        let prog = gnet.forward(&g, 0, &x.buffer, &y.buffer, 1, Mode::Train).unwrap();
        let used = prog.dispatches.iter().any(|d| d.name.starts_with("conv_gemm::sgemm_taps"));
        assert_eq!(used, taps, "{}→{} k{}: tap product used: {used}", spec.cin, spec.cout, spec.kh);
        if !taps {
            let (x, dy) = (common::randv(net.in_dim(), 61, 1.0), common::randv(net.out_dim(), 62, 1.0));
            let want = run_cpu(layer, 1, &x, &params, None, &dy, Mode::Train);
            compare("conv2d 1400→32 7×7 k7 [subgroup-gemm]", &run_gpu_on(&g, layer, 1, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
        }
    }
}
