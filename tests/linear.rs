//! Linear (src/nn/linear.rs, shaders/linear.wgsl and shaders/gemm.wgsl): the CPU backward against
//! central differences, every kernel against the CPU reference on awkward sizes, and the layer on
//! both kernel paths (vec4 products and scalar kernels) up to batch 1024, with and without a bias.
//! Tolerance 1e-5 (max relative error, max norm): the reductions (up to 1024 terms) run in f32 on
//! the GPU against an f64 reference and round like √len·2⁻²⁴ of the largest term.

mod common;
use common::layer::{compare, numeric, report, run_cpu, run_gpu_on, TOL};
use common::{check, gpu, kernel_variants, launch, randv, tensor, weighted};
use wgpu_gan::ops::gemm::{GemmNt, GemmParams, TransposePad};
use wgpu_gan::ops::linear::{blocks4, LinearBackwardBias, LinearBackwardInput, LinearBackwardInput4, LinearForward, LinearParams};
use wgpu_gan::nn::{Init, Layer, Linear, Mode, NetSpec};
const SHAPES: &[(usize, usize, usize)] = &[(1, 1, 1), (7, 33, 1), (33, 7, 257), (257, 33, 7), (5, 6, 3), (64, 128, 128), (1024, 68, 2), (3, 4, 3)];

#[test]
fn linear_backward_matches_finite_differences() {
    for &(n, inp, out) in &[(1usize, 1usize, 1usize), (3, 7, 5), (7, 33, 4)] {
        let (x, w, b) = (randv(n * inp, 1, 1.0), randv(out * inp, 2, 1.0), randv(out, 3, 1.0));
        let r = randv(n * out, 4, 1.0);
        let tag = format!("n={n} in={inp} out={out}");
        report(&format!("linear_backward_input {tag}"), &wgpu_gan::nn::linear::linear_backward_input(&r, &w, n, inp, out),
            &numeric(&x, &|x| weighted(&wgpu_gan::nn::linear::linear_forward(x, &w, Some(&b), n, inp, out), &r)));
        report(&format!("linear_backward_weight {tag}"), &wgpu_gan::nn::linear::linear_backward_weight(&r, &x, n, inp, out),
            &numeric(&w, &|w| weighted(&wgpu_gan::nn::linear::linear_forward(&x, w, Some(&b), n, inp, out), &r)));
        report(&format!("linear_backward_bias {tag}"), &wgpu_gan::nn::linear::linear_backward_bias(&r, n, out),
            &numeric(&b, &|b| weighted(&wgpu_gan::nn::linear::linear_forward(&x, &w, Some(b), n, inp, out), &r)));
    }
}

#[test]
fn linear_kernels_match_cpu() {
    let gpu = gpu();
    for (s, &(n, inp, out)) in SHAPES.iter().enumerate() {
        let s = s as u64 * 10;
        let (x, w, b, dy) = (randv(n * inp, s, 1.0), randv(out * inp, s + 1, 1.0), randv(out, s + 2, 1.0), randv(n * out, s + 3, 1.0));
        let (tx, tw, tb, tdy) = (tensor(&gpu, &x), tensor(&gpu, &w), tensor(&gpu, &b), tensor(&gpu, &dy));
        let p = LinearParams::new(n, inp, out, false);
        let tag = format!("n={n} in={inp} out={out}");

        let ty = tensor(&gpu, &vec![0.0; n * out]);
        launch(&gpu, &LinearForward { x: &tx.buffer, w: &tw.buffer, b: &tb.buffer, out: &ty.buffer }, &p, Some(blocks4(n, out)));
        check(&format!("linear_forward {tag}"), &ty.read(&gpu).unwrap(), &wgpu_gan::nn::linear::linear_forward(&x, &w, Some(&b), n, inp, out), TOL);

        let tdx = tensor(&gpu, &vec![0.0; n * inp]);
        launch(&gpu, &LinearBackwardInput { w: &tw.buffer, dy: &tdy.buffer, out: &tdx.buffer }, &p, Some(blocks4(n, inp)));
        check(&format!("linear_backward_input {tag}"), &tdx.read(&gpu).unwrap(), &wgpu_gan::nn::linear::linear_backward_input(&dy, &w, n, inp, out), TOL);
        if inp % 4 == 0 {
            let tdx = tensor(&gpu, &vec![7.0; n * inp]);
            launch(&gpu, &LinearBackwardInput4 { dy: &tdy.buffer, w4: &tw.buffer, out4: &tdx.buffer }, &p, Some((n * inp / 4) as u32));
            check(&format!("linear_backward_input4 {tag}"), &tdx.read(&gpu).unwrap(), &wgpu_gan::nn::linear::linear_backward_input(&dy, &w, n, inp, out), TOL);
        }


        let tdb = tensor(&gpu, &vec![0.0; out]);
        launch(&gpu, &LinearBackwardBias { dy: &tdy.buffer, out: &tdb.buffer }, &p, Some(out as u32));
        check(&format!("linear_backward_bias {tag}"), &tdb.read(&gpu).unwrap(), &wgpu_gan::nn::linear::linear_backward_bias(&dy, n, out), TOL);
    }
}

/// The vec4 products of shaders/gemm.wgsl on their own: out = a bᵀ (+ bias) against the CPU's
/// linear_forward, whole and split into tiles of the reduction (each tile its own slot), and
/// transpose_pad against a plain transpose with zero padding.
#[test]
fn gemm_kernels_match_cpu() {
    let gpu = gpu();
    for &(m, p, k) in &[(1usize, 1usize, 4usize), (7, 9, 12), (8, 8, 128), (13, 33, 20), (64, 3, 400)] {
        let (a, b, bias) = (randv(m * k, 1, 1.0), randv(p * k, 2, 1.0), randv(p, 3, 1.0));
        let (ta, tb, tbias) = (tensor(&gpu, &a), tensor(&gpu, &b), tensor(&gpu, &bias));
        let want = wgpu_gan::nn::linear::linear_forward(&a, &b, Some(&bias), m, k, p);
        let k4 = (k / 4) as u32;
        let blocks = (m.div_ceil(8) * p.div_ceil(8)) as u32;
        let g = GemmParams { m: m as u32, p: p as u32, k4, k_per: k4, flags: 1, ..Default::default() };
        let out = tensor(&gpu, &vec![0.0; m * p]);
        launch(&gpu, &GemmNt { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &g, Some(blocks));
        check(&format!("gemm_nt m={m} p={p} k={k}"), &out.read(&gpu).unwrap(), &want, TOL);
        // Tiles of 2 vec4 steps: slot s holds the partial sum over k in [8s, 8s + 8).
        let tiles = k4.div_ceil(2) as usize;
        let g = GemmParams { k_per: 2, flags: 0, ..g };
        let out = tensor(&gpu, &vec![0.0; tiles * m * p]);
        launch(&gpu, &GemmNt { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &g, Some(blocks * tiles as u32));
        let slots = out.read(&gpu).unwrap();
        let summed: Vec<f32> = (0..m * p).map(|i| (0..tiles).map(|s| slots[s * m * p + i]).sum::<f32>() + bias[i % p]).collect();
        check(&format!("gemm_nt m={m} p={p} k={k}, {tiles} tiles"), &summed, &want, TOL);
    }
    for &(rows, cols) in &[(1usize, 1usize), (5, 3), (8, 8), (33, 7)] {
        let src = randv(rows * cols, 9, 1.0);
        let rows4 = rows.div_ceil(4) * 4;
        let g = GemmParams { rows: rows as u32, cols: cols as u32, rows4: rows4 as u32, ..Default::default() };
        let (ts, out) = (tensor(&gpu, &src), tensor(&gpu, &vec![7.0; cols * rows4]));
        launch(&gpu, &TransposePad { src: &ts.buffer, out: &out.buffer }, &g, Some((cols * rows4) as u32));
        let want: Vec<f32> = (0..cols * rows4).map(|i| if i % rows4 < rows { src[(i % rows4) * cols + i / rows4] } else { 0.0 }).collect();
        check(&format!("transpose_pad {rows}×{cols}"), &out.read(&gpu).unwrap(), &want, 0.0);
    }
}

/// Linear layers through GpuNet on both kernel paths, with each kernel family (the software
/// adapter's runs its products through conv_gemm.wgsl's sgemm_nt): the vec4 products when
/// a reduction length is a multiple of 4 (IN for the forward pass, OUT for the input gradient,
/// always for the weight gradient, whose batch is padded; with the product families also a
/// large forward pass whose IN is padded to 4, R1's 2-D input) and the scalar kernels of
/// shaders/linear.wgsl otherwise; batches that are not multiples of 4 or 8, and accumulation.
#[test]
fn linear_layers_match_cpu_on_both_kernel_paths() {
    for (i, &(n, inp, out)) in [(1usize, 4usize, 4usize), (7, 12, 5), (13, 8, 33), (5, 3, 8), (9, 2, 128), (64, 128, 128), (33, 100, 6), (1024, 100, 40), (1400, 100, 1), (256, 2, 128), (1024, 3, 17), (13, 36, 68), (1024, 128, 2), (7, 4, 3), (1024, 2, 128), (1031, 1, 4)].iter().enumerate() {
        let layer = Layer::linear(inp, out);
        let params = NetSpec { layers: vec![layer] }.init(40 + i as u32, 0, Init::PyTorch);
        let (x, dy) = (randv(n * inp, 500 + i as u64, 1.0), randv(n * out, 600 + i as u64, 1.0));
        let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
        for (fam, g) in kernel_variants() {
            let tag = format!("linear n={n} {inp}→{out} [{fam}]");
            compare(&tag, &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
            compare(&format!("{tag} (accumulated twice)"), &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, true), &want, TOL);
        }
    }
}

/// `bias=False` (PyTorch's option; the DCGAN paper's layers have none): no bias tensor, the same
/// numbers as a biased layer whose bias is zero, on both kernel paths, GPU against CPU.
#[test]
fn linear_layers_without_bias_match_cpu() {
    for (i, &(n, inp, out)) in [(7usize, 12usize, 5usize), (13, 3, 8), (64, 100, 40), (300, 3, 64)].iter().enumerate() {
        let layer = Layer::Linear(Linear { inp, out, bias: false });
        let net = NetSpec { layers: vec![layer] };
        assert_eq!(net.param_names(), vec![("0.weight".to_string(), vec![out, inp])], "a layer without bias has only its weight");
        let params = net.init(70 + i as u32, 0, Init::PyTorch);
        let (x, dy) = (randv(n * inp, 700 + i as u64, 1.0), randv(n * out, 800 + i as u64, 1.0));
        let tag = format!("linear without bias n={n} {inp}→{out}");
        let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
        let with_zero_bias = run_cpu(Layer::linear(inp, out), n, &x, &[params[0].clone(), vec![0.0; out]], None, &dy, Mode::Train);
        check(&format!("{tag}: CPU forward vs a zero bias"), &want.y, &with_zero_bias.y, 0.0);
        for (fam, g) in kernel_variants() {
            let tag = format!("{tag} [{fam}]");
            compare(&tag, &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
            compare(&format!("{tag} (accumulated twice)"), &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, true), &want, TOL);
        }
    }
}
