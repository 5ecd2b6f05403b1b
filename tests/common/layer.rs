//! Running one layer (or network) forward and backward on the CPU reference and on the GPU, and
//! comparing the two; finite-difference checks of the CPU backward.
#![allow(dead_code)]

use super::{check, gpu, kernel_variants, randv, tensor, weighted};
use wgpu_gan::gpu::Gpu;
use wgpu_gan::nn::{ConvSpec, CpuNet, GpuNet, Grads, Init, Layer, Mode, NetSpec};

/// GPU-vs-CPU tolerance (max relative error, max norm).
pub const TOL: f32 = 1e-5;
/// Finite-difference step and tolerance of the CPU backward checks.
pub const H: f32 = 1e-2;
pub const GRAD_TOL: f32 = 1e-3;

/// Central differences with step [`H`].
pub fn numeric(x: &[f32], loss: &dyn Fn(&[f32]) -> f64) -> Vec<f32> {
    super::numeric_h(x, loss, H)
}

/// Prints and checks an analytic gradient against central differences.
pub fn report(name: &str, analytic: &[f32], num: &[f32]) {
    let e = wgpu_gan::max_rel_err(analytic, num);
    println!("{name:<56} analytic vs central difference: max rel err {e:.2e}");
    assert!(e <= GRAD_TOL, "{name}: {e:e}");
}

/// Layer geometries that break naive indexing: strides 1–3, padding 0–2, kernels 1–5 (also
/// smaller than the stride) and 3×5, non-square inputs, batch 1, channel counts that are not multiples of 4.
pub fn conv_cases() -> Vec<(usize, ConvSpec)> {
    let c = |cin, cout, h, w, kh, kw, stride, pad, op| ConvSpec { cin, cout, h, w, kh, kw, stride: [stride; 2], pad: [pad; 2], out_pad: [op; 2], dilation: [1; 2], bias: true };
    vec![
        (1, c(1, 1, 5, 5, 3, 3, 1, 0, 0)),
        (3, c(3, 5, 7, 9, 3, 3, 1, 1, 0)),
        (2, c(5, 3, 8, 6, 4, 4, 2, 1, 1)),
        (1, c(6, 7, 11, 8, 5, 5, 3, 2, 2)),
        (3, c(7, 6, 9, 10, 3, 5, 2, 2, 1)),
        (5, c(2, 9, 6, 7, 4, 4, 2, 1, 0)),
        // PyTorch's per-axis parameters: asymmetric kernel, stride, padding, output padding and
        // dilation; with stride 2 and dilation 2 some rows of a transposed output get no tap.
        (2, ConvSpec { kh: 3, kw: 2, stride: [2, 1], pad: [0, 1], out_pad: [1, 0], dilation: [2, 1], ..c(3, 5, 9, 7, 3, 3, 1, 0, 0) }),
        (3, ConvSpec { stride: [3, 2], pad: [2, 1], out_pad: [2, 1], dilation: [2, 3], ..c(2, 6, 10, 8, 3, 3, 1, 0, 0) }),
        (2, ConvSpec { dilation: [2, 2], out_pad: [1, 1], ..c(5, 4, 7, 6, 3, 3, 2, 1, 0) }),
        // Kernels smaller than the stride: input positions that no tap reads (a stride phase of
        // the software adapter's col2im with no taps at all).
        (2, ConvSpec { kw: 1, pad: [1, 0], ..c(3, 4, 9, 8, 2, 2, 3, 0, 1) }),
    ]
}

/// One layer run forward (slot 0) and backward on the CPU reference and on the GPU.
pub struct Run {
    pub y: Vec<f32>,
    pub dx: Vec<f32>,
    /// For batch norm: the scale of the terms of dx (see the module notes).
    pub dx_scale: Option<f32>,
    pub grads: Vec<Vec<f32>>,
    pub running: Vec<Vec<f32>>,
}

pub fn run_cpu(layer: Layer, n: usize, x: &[f32], params: &[Vec<f32>], running: Option<&[f32]>, dy: &[f32], mode: Mode) -> Run {
    let mut net = CpuNet::new(NetSpec { layers: vec![layer] }, params.to_vec()).unwrap();
    if let Some(r) = running {
        net.running[0] = r.to_vec();
    }
    let y = net.run(0, x, n, mode).unwrap();
    let dx = if mode == Mode::Eval { vec![] } else { net.backward(dy, n, true).unwrap() };
    let dx_scale = match layer {
        Layer::BatchNorm(b) => {
            let st = wgpu_gan::nn::batchnorm::batchnorm_stats(x, n, b.c, b.hw, b.eps, b.momentum, None);
            Some(dy.iter().enumerate().map(|(i, g)| (g * params[0][(i / b.hw) % b.c] * st.invstd[(i / b.hw) % b.c]).abs()).fold(0.0, f32::max))
        }
        _ => None,
    };
    Run { y, dx, dx_scale, grads: net.grads.clone(), running: net.running.clone() }
}

pub fn run_gpu(layer: Layer, n: usize, x: &[f32], params: &[Vec<f32>], running: Option<&[f32]>, dy: &[f32], mode: Mode, accumulate_twice: bool) -> Run {
    run_gpu_on(&gpu(), layer, n, x, params, running, dy, mode, accumulate_twice)
}

/// [`run_gpu`] on a given device (e.g. with another convolution family).
#[allow(clippy::too_many_arguments)]
pub fn run_gpu_on(gpu: &Gpu, layer: Layer, n: usize, x: &[f32], params: &[Vec<f32>], running: Option<&[f32]>, dy: &[f32], mode: Mode, accumulate_twice: bool) -> Run {
    let gpu = gpu.clone();
    let spec = NetSpec { layers: vec![layer] };
    let out = spec.out_dim();
    let net = GpuNet::new(&gpu, spec, params, n, 1, "test").unwrap();
    if let Some(r) = running {
        net.load(&gpu, params, &[r.to_vec()]).unwrap();
    }
    let (tx, ty, tdy, tdx) = (tensor(&gpu, x), tensor(&gpu, &vec![0.0; n * out]), tensor(&gpu, dy), tensor(&gpu, &vec![0.0; x.len()]));
    let mut prog = net.forward(&gpu, 0, &tx.buffer, &ty.buffer, n, mode).unwrap();
    if mode != Mode::Eval {
        prog.extend(net.backward(&gpu, 0, &tx.buffer, &tdy.buffer, Some(&tdx.buffer), n, Grads::Write).unwrap());
        if accumulate_twice {
            prog.extend(net.backward(&gpu, 0, &tx.buffer, &tdy.buffer, None, n, Grads::Add).unwrap());
        }
    }
    prog.run(&gpu);
    let mut grads = net.grads.iter().map(|t| t.read(&gpu).unwrap()).collect::<Vec<_>>();
    if accumulate_twice {
        grads.iter_mut().for_each(|g| g.iter_mut().for_each(|v| *v *= 0.5));
    }
    Run {
        dx_scale: None,
        y: ty.read(&gpu).unwrap(),
        dx: if mode == Mode::Eval { vec![] } else { tdx.read(&gpu).unwrap() },
        grads,
        running: net.read_running(&gpu).unwrap(),
    }
}

pub fn compare(tag: &str, got: &Run, want: &Run, grad_tol: f32) {
    check(&format!("{tag} forward"), &got.y, &want.y, TOL);
    if !want.dx.is_empty() {
        match want.dx_scale {
            None => check(&format!("{tag} input gradient"), &got.dx, &want.dx, TOL),
            Some(scale) => {
                let diff = got.dx.iter().zip(&want.dx).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                let e = diff / scale;
                println!("{:<48} max err / max|γ·invstd·dy| {e:.3e}  (tol {TOL:.0e}; plain max rel err {:.3e})", format!("{tag} input gradient"), wgpu_gan::max_rel_err(&got.dx, &want.dx));
                assert!(e <= TOL, "{tag} input gradient: {e:e}");
            }
        }
        for (i, (g, w)) in got.grads.iter().zip(&want.grads).enumerate() {
            check(&format!("{tag} param {i} gradient"), g, w, grad_tol);
        }
    }
    for (g, w) in got.running.iter().zip(&want.running) {
        check(&format!("{tag} running statistics"), g, w, TOL);
    }
}

/// The CPU backward of a convolution of either kind against central differences on
/// [`conv_cases`].
pub fn conv_backward_matches_finite_differences(transposed: bool) {
    for (i, (n, spec)) in conv_cases().into_iter().enumerate() {
        {
            let mut spec = spec;
            if !transposed {
                spec.out_pad = [0; 2];
            }
            let s = spec.shape(n, transposed);
            let (xl, yl) = if transposed { (s.y_len(), s.x_len()) } else { (s.x_len(), s.y_len()) };
            let bl = spec.cout;
            let (x, w, b, r) = (randv(xl, 10 + i as u64, 1.0), randv(s.w_len(), 20 + i as u64, 0.5), randv(bl, 30, 0.5), randv(yl, 40 + i as u64, 1.0));
            let fwd = |x: &[f32], w: &[f32], b: &[f32]| -> Vec<f32> {
                if transposed {
                    wgpu_gan::nn::conv_transpose::conv_transpose2d_forward(x, w, Some(b), &s)
                } else {
                    wgpu_gan::nn::conv::conv2d_forward(x, w, Some(b), &s)
                }
            };
            let (dx, dw, db) = if transposed {
                (wgpu_gan::nn::conv_transpose::conv_transpose2d_backward_input(&r, &w, &s), wgpu_gan::nn::conv_transpose::conv_transpose2d_backward_weight(&r, &x, &s), wgpu_gan::nn::conv::channel_sum(&r, n, s.cin, s.h * s.w))
            } else {
                (wgpu_gan::nn::conv::conv2d_backward_input(&r, &w, None, &s), wgpu_gan::nn::conv::conv2d_backward_weight(&r, &x, &s), wgpu_gan::nn::conv::channel_sum(&r, n, s.cout, s.oh * s.ow))
            };
            let tag = format!("{} n={n} {spec:?}", if transposed { "convT" } else { "conv" });
            report(&format!("{tag} dx"), &dx, &numeric(&x, &|x| weighted(&fwd(x, &w, &b), &r)));
            report(&format!("{tag} dw"), &dw, &numeric(&w, &|w| weighted(&fwd(&x, w, &b), &r)));
            report(&format!("{tag} db"), &db, &numeric(&b, &|b| weighted(&fwd(&x, &w, b), &r)));
        }
    }
}

/// A convolution of either kind, with or without a bias, GPU against CPU on [`conv_cases`] and
/// R2's layers, writing and accumulating its gradients.
pub fn conv_kernels_match_cpu(transposed: bool, bias: bool) {
    let mut cases = conv_cases();
    // The DCGAN layers at a small batch (weight gradients sum 2·7·7 to 2·14·14 terms per tap).
    cases.push((3, ConvSpec::new(1, 64, 28, 28, 4, 2, 1)));
    cases.push((3, ConvSpec::new(64, 128, 14, 14, 4, 2, 1)));
    // At least 32 input channels (for a transposed layer, output channels): the subgroup family
    // computes these input gradients by stride phase (1 or 2 taps a phase along each axis, an
    // odd COUT padded to 4, strides 3 and 2).
    let c = |cin, cout, h, w, k, stride, pad, op| ConvSpec { out_pad: [op; 2], ..ConvSpec::new(cin, cout, h, w, k, stride, pad) };
    cases.push((2, c(33, 6, 9, 7, 3, 2, 1, 1)));
    cases.push((2, c(6, 35, 5, 4, 3, 2, 1, 1)));
    cases.push((1, ConvSpec { kw: 3, stride: [3, 2], pad: [2, 1], out_pad: [2, 1], ..c(34, 36, 10, 11, 4, 1, 0, 0) }));
    // At least 32 output channels and a dilation: the forward pass by taps, dilation apart.
    cases.push((2, ConvSpec { dilation: [2, 1], ..c(8, 33, 9, 8, 3, 1, 1, 0) }));
    for (i, (n, spec)) in cases.into_iter().enumerate() {
        {
            let mut spec = ConvSpec { bias, ..spec };
            if !transposed {
                spec.out_pad = [0; 2];
            }
            if transposed && spec.cin == 1 && spec.h == 28 {
                // ConvT(128 → 64) from 7×7 and ConvT(64 → 1) from 14×14, as in R2's generator.
                spec = ConvSpec { bias, ..ConvSpec::new(128, 64, 7, 7, 4, 2, 1) };
            } else if transposed && spec.cin == 64 && spec.h == 14 {
                spec = ConvSpec { bias, ..ConvSpec::new(64, 1, 14, 14, 4, 2, 1) };
            }
            let layer = if transposed { Layer::ConvT2d(spec) } else { Layer::Conv2d(spec) };
            let net = NetSpec { layers: vec![layer] };
            let params = net.init(7 + i as u32, 0, Init::PyTorch);
            let x = randv(n * net.in_dim(), 50 + i as u64, 1.0);
            let dy = randv(n * net.out_dim(), 60 + i as u64, 1.0);
            let tag = format!("{} n={n} {}→{} {}×{} k{}×{} s{} p{} op{}{}", if transposed { "convT" } else { "conv2d" }, spec.cin, spec.cout, spec.h, spec.w, spec.kh, spec.kw, spec.stride[0], spec.pad[0], spec.out_pad[0], if bias { "" } else { " no bias" });
            let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
            for (fam, g) in kernel_variants() {
                let tag = format!("{tag} [{fam}]");
                compare(&tag, &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
                compare(&format!("{tag} (accumulated twice)"), &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, true), &want, TOL);
            }
        }
    }
}
