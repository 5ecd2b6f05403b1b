//! Conv2d, ConvTranspose2d and BatchNorm: the CPU reference against central differences, the GPU
//! kernels against the CPU reference on awkward shapes, and both against PyTorch's numbers
//! (tests/fixtures/torch_layers.safetensors, written by scripts/fixtures.py).
//!
//! Errors are max relative errors in the max norm; GPU-vs-CPU tolerance 1e-5 throughout. (The
//! longest reductions here, DCGAN-shaped weight gradients over 3·14·14 positions and batch-norm
//! statistics over 64·196 values, stay near 1e-6: sequential f32 sums round like √len·2⁻²⁴.)
//!
//! A batch-norm input gradient γ·invstd·(dy − mean dy − x̂·mean(dy·x̂)) cancels: with two values per
//! channel x̂ = ±(1 − O(eps/var)) and the result is ~1e-5 of its terms, so any f32 evaluation
//! (PyTorch's included) is off by ~1e-2 of the result. Its error is therefore measured against
//! the size of the terms, max |γ·invstd·dy|, which for a well-conditioned batch is the size of
//! the result itself.

mod common;
use common::{check, gpu, randv, tensor, weighted};
use std::collections::HashMap;
use wgpu_gan::cpu::{self, ConvShape};
use wgpu_gan::nn::{BnSpec, ConvSpec, CpuNet, GpuNet, Init, Layer, Mode, NetSpec};

const H: f32 = 1e-2;
const GRAD_TOL: f32 = 1e-3;
const TOL: f32 = 1e-5;

fn numeric(x: &[f32], loss: &dyn Fn(&[f32]) -> f64) -> Vec<f32> {
    common::numeric_h(x, loss, H)
}

fn report(name: &str, analytic: &[f32], num: &[f32]) {
    let e = wgpu_gan::max_rel_err(analytic, num);
    println!("{name:<56} analytic vs central difference: max rel err {e:.2e}");
    assert!(e <= GRAD_TOL, "{name}: {e:e}");
}

/// Layer geometries that break naive indexing: strides 1–3, padding 0–2, kernels 3–5 and 3×5,
/// non-square inputs, batch 1, channel counts that are not multiples of 4.
fn conv_cases() -> Vec<(usize, ConvSpec)> {
    let c = |cin, cout, h, w, kh, kw, stride, pad, out_pad| ConvSpec { cin, cout, h, w, kh, kw, stride, pad, out_pad };
    vec![
        (1, c(1, 1, 5, 5, 3, 3, 1, 0, 0)),
        (3, c(3, 5, 7, 9, 3, 3, 1, 1, 0)),
        (2, c(5, 3, 8, 6, 4, 4, 2, 1, 1)),
        (1, c(6, 7, 11, 8, 5, 5, 3, 2, 2)),
        (3, c(7, 6, 9, 10, 3, 5, 2, 2, 1)),
        (5, c(2, 9, 6, 7, 4, 4, 2, 1, 0)),
    ]
}

#[test]
fn conv_backward_matches_finite_differences() {
    for (i, (n, spec)) in conv_cases().into_iter().enumerate() {
        for transposed in [false, true] {
            let mut spec = spec;
            if !transposed {
                spec.out_pad = 0;
            }
            let s = spec.shape(n, transposed);
            let (xl, yl) = if transposed { (s.y_len(), s.x_len()) } else { (s.x_len(), s.y_len()) };
            let bl = spec.cout;
            let (x, w, b, r) = (randv(xl, 10 + i as u64, 1.0), randv(s.w_len(), 20 + i as u64, 0.5), randv(bl, 30, 0.5), randv(yl, 40 + i as u64, 1.0));
            let fwd = |x: &[f32], w: &[f32], b: &[f32]| -> Vec<f32> {
                if transposed {
                    cpu::conv_transpose2d_forward(x, w, Some(b), &s)
                } else {
                    cpu::conv2d_forward(x, w, Some(b), &s)
                }
            };
            let (dx, dw, db) = if transposed {
                (cpu::conv_transpose2d_backward_input(&r, &w, &s), cpu::conv_transpose2d_backward_weight(&r, &x, &s), cpu::channel_sum(&r, n, s.cin, s.h * s.w))
            } else {
                (cpu::conv2d_backward_input(&r, &w, None, &s), cpu::conv2d_backward_weight(&r, &x, &s), cpu::channel_sum(&r, n, s.cout, s.oh * s.ow))
            };
            let tag = format!("{} n={n} {spec:?}", if transposed { "convT" } else { "conv" });
            report(&format!("{tag} dx"), &dx, &numeric(&x, &|x| weighted(&fwd(x, &w, &b), &r)));
            report(&format!("{tag} dw"), &dw, &numeric(&w, &|w| weighted(&fwd(&x, w, &b), &r)));
            report(&format!("{tag} db"), &db, &numeric(&b, &|b| weighted(&fwd(&x, &w, b), &r)));
        }
    }
}

#[test]
fn batchnorm_backward_matches_finite_differences() {
    // Two values per channel make the output nearly independent of x (see the module notes), which
    // finite differences cannot resolve; the smallest batch here has six.
    for &(n, c, hw) in &[(5usize, 7usize, 1usize), (2, 3, 3), (3, 5, 6)] {
        let (x, g, b, r) = (randv(n * c * hw, 1, 2.0), randv(c, 2, 1.0).iter().map(|v| v + 1.0).collect::<Vec<_>>(), randv(c, 3, 1.0), randv(n * c * hw, 4, 1.0));
        let fwd = |x: &[f32], g: &[f32], b: &[f32]| {
            let st = cpu::batchnorm_stats(x, n, c, hw, 1e-5, 0.1, None);
            cpu::batchnorm_forward(x, g, b, &st, c, hw)
        };
        let st = cpu::batchnorm_stats(&x, n, c, hw, 1e-5, 0.1, None);
        let (dx, dg, db) = cpu::batchnorm_backward(&x, &r, &g, &st, n, c, hw);
        let tag = format!("batchnorm n={n} c={c} hw={hw}");
        report(&format!("{tag} dx"), &dx, &numeric(&x, &|x| weighted(&fwd(x, &g, &b), &r)));
        report(&format!("{tag} dgamma"), &dg, &numeric(&g, &|g| weighted(&fwd(&x, g, &b), &r)));
        report(&format!("{tag} dbeta"), &db, &numeric(&b, &|b| weighted(&fwd(&x, &g, b), &r)));
    }
}

/// One layer run forward (slot 0) and backward on the CPU reference and on the GPU.
struct Run {
    y: Vec<f32>,
    dx: Vec<f32>,
    /// For batch norm: the scale of the terms of dx (see the module notes).
    dx_scale: Option<f32>,
    grads: Vec<Vec<f32>>,
    running: Vec<Vec<f32>>,
}

fn run_cpu(layer: Layer, n: usize, x: &[f32], params: &[Vec<f32>], running: Option<&[f32]>, dy: &[f32], mode: Mode) -> Run {
    let mut net = CpuNet::new(NetSpec { layers: vec![layer] }, params.to_vec()).unwrap();
    if let Some(r) = running {
        net.running[0] = r.to_vec();
    }
    let y = net.run(0, x, n, mode);
    let dx = if mode == Mode::Eval { vec![] } else { net.backward(dy, n, true) };
    let dx_scale = match layer {
        Layer::BatchNorm(b) => {
            let st = cpu::batchnorm_stats(x, n, b.c, b.hw, b.eps, b.momentum, None);
            Some(dy.iter().enumerate().map(|(i, g)| (g * params[0][(i / b.hw) % b.c] * st.invstd[(i / b.hw) % b.c]).abs()).fold(0.0, f32::max))
        }
        _ => None,
    };
    Run { y, dx, dx_scale, grads: net.grads.clone(), running: net.running.clone() }
}

fn run_gpu(layer: Layer, n: usize, x: &[f32], params: &[Vec<f32>], running: Option<&[f32]>, dy: &[f32], mode: Mode, accumulate_twice: bool) -> Run {
    let gpu = gpu();
    let spec = NetSpec { layers: vec![layer] };
    let out = spec.out_dim();
    let net = GpuNet::new(&gpu, spec, params, n, 1, "test").unwrap();
    if let Some(r) = running {
        net.load(&gpu, params, &[r.to_vec()]).unwrap();
    }
    let (tx, ty, tdy, tdx) = (tensor(&gpu, x), tensor(&gpu, &vec![0.0; n * out]), tensor(&gpu, dy), tensor(&gpu, &vec![0.0; x.len()]));
    let mut prog = net.forward(&gpu, 0, &tx.buffer, &ty.buffer, n, mode).unwrap();
    if mode != Mode::Eval {
        prog.extend(net.backward(&gpu, 0, &tx.buffer, &tdy.buffer, Some(&tdx.buffer), n, true, false).unwrap());
        if accumulate_twice {
            prog.extend(net.backward(&gpu, 0, &tx.buffer, &tdy.buffer, None, n, true, true).unwrap());
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

fn compare(tag: &str, got: &Run, want: &Run, grad_tol: f32) {
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

#[test]
fn conv_kernels_match_cpu() {
    let mut cases = conv_cases();
    // The DCGAN layers at a small batch (weight gradients sum 2·7·7 to 2·14·14 terms per tap).
    cases.push((3, ConvSpec::new(1, 64, 28, 28, 4, 2, 1)));
    cases.push((3, ConvSpec::new(64, 128, 14, 14, 4, 2, 1)));
    for (i, (n, spec)) in cases.into_iter().enumerate() {
        for transposed in [false, true] {
            let mut spec = spec;
            if !transposed {
                spec.out_pad = 0;
            }
            if transposed && spec.cin == 1 && spec.h == 28 {
                // ConvT(128 → 64) from 7×7 and ConvT(64 → 1) from 14×14, as in R2's generator.
                spec = ConvSpec::new(128, 64, 7, 7, 4, 2, 1);
            } else if transposed && spec.cin == 64 && spec.h == 14 {
                spec = ConvSpec::new(64, 1, 14, 14, 4, 2, 1);
            }
            let layer = if transposed { Layer::ConvT2d(spec) } else { Layer::Conv2d(spec) };
            let net = NetSpec { layers: vec![layer] };
            let params = net.init(7 + i as u32, 0, Init::PyTorch);
            let x = randv(n * net.in_dim(), 50 + i as u64, 1.0);
            let dy = randv(n * net.out_dim(), 60 + i as u64, 1.0);
            let tag = format!("{} n={n} {}→{} {}×{} k{}×{} s{} p{} op{}", if transposed { "convT" } else { "conv2d" }, spec.cin, spec.cout, spec.h, spec.w, spec.kh, spec.kw, spec.stride, spec.pad, spec.out_pad);
            let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
            compare(&tag, &run_gpu(layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
            compare(&format!("{tag} (accumulated twice)"), &run_gpu(layer, n, &x, &params, None, &dy, Mode::Train, true), &want, TOL);
        }
    }
}

#[test]
fn batchnorm_kernels_match_cpu() {
    for (i, &(n, c, hw)) in [(2usize, 3usize, 1usize), (5, 7, 1), (3, 5, 24), (64, 6272, 1), (7, 13, 49), (4, 64, 196)].iter().enumerate() {
        let spec = BnSpec { c, hw, eps: 1e-5, momentum: 0.1 };
        let layer = Layer::BatchNorm(spec);
        let params = vec![randv(c, 70 + i as u64, 0.5).iter().map(|v| v + 1.0).collect(), randv(c, 80, 0.5)];
        let running: Vec<f32> = [randv(c, 81, 1.0), randv(c, 82, 0.5).iter().map(|v| v + 1.0).collect()].concat();
        let x: Vec<f32> = randv(n * c * hw, 90 + i as u64, 2.0).iter().map(|v| v + 0.7).collect();
        let dy = randv(n * c * hw, 95 + i as u64, 1.0);
        let tag = format!("batchnorm n={n} c={c} hw={hw}");
        // Long reductions (N·HW = 784 here) round like √784·2⁻²⁴ ≈ 2e-6 relative to the sums.
        for mode in [Mode::Train, Mode::BatchStats, Mode::Eval] {
            let want = run_cpu(layer, n, &x, &params, Some(&running), &dy, mode);
            compare(&format!("{tag} {mode:?}"), &run_gpu(layer, n, &x, &params, Some(&running), &dy, mode, false), &want, TOL);
        }
        let want = run_cpu(layer, n, &x, &params, Some(&running), &dy, Mode::Train);
        compare(&format!("{tag} (accumulated twice)"), &run_gpu(layer, n, &x, &params, Some(&running), &dy, Mode::Train, true), &want, TOL);
    }
}

#[test]
fn gather_and_copy_kernels_match_cpu() {
    let gpu = gpu();
    // A table of 37 rows of 5 values, drawn 8 rows at a time: each epoch must visit every row once.
    let (count, dim, n) = (37usize, 5usize, 8usize);
    let table: Vec<f32> = (0..count * dim).map(|i| i as f32).collect();
    let tt = tensor(&gpu, &table);
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[0u32]).unwrap();
    let out = tensor(&gpu, &vec![0.0; (n + 3) * dim]);
    let mut seen = Vec::new();
    for step in 0..10u32 {
        counter.write(&gpu, &[step]).unwrap();
        for draw in 0..2u32 {
            let p = wgpu_gan::gan::RngParams { n: n as u32, seed: 4, stream: draw, k: count as u32, row_offset: 3, sigma: 0.0, dim: dim as u32, per_step: 2 };
            common::launch(&gpu, "rng", "gather_rows", bytemuck::bytes_of(&p), &[&tt, &counter, &out], Some((n * dim) as u32));
            let (want, idx) = cpu::gather_rows(&table, dim, n, 4, draw, step, 2);
            check(&format!("gather_rows step {step} draw {draw}"), &out.read(&gpu).unwrap()[3 * dim..], &want, 0.0);
            seen.extend(idx);
        }
    }
    for epoch in seen.chunks_exact(count) {
        let mut e = epoch.to_vec();
        e.sort();
        assert_eq!(e, (0..count).collect::<Vec<_>>(), "an epoch must visit every row exactly once");
    }
    assert_ne!(&seen[..count], &seen[count..2 * count], "epochs should be shuffled differently");

    let src = randv(50, 3, 1.0);
    let (ts, td) = (tensor(&gpu, &src), tensor(&gpu, &vec![0.0; 40]));
    let mut prog = wgpu_gan::gpu::Program::default();
    prog.push(wgpu_gan::nn::copy_range(&gpu, &ts.buffer, 7, &td.buffer, 11, 29).unwrap());
    prog.run(&gpu);
    let got = td.read(&gpu).unwrap();
    check("copy_range", &got[11..40], &src[7..36], 0.0);
    assert!(got[..11].iter().all(|&v| v == 0.0));
}

// ---------------------------------------------------------------- PyTorch fixtures

struct Fixtures {
    bytes: Vec<u8>,
    cases: HashMap<String, HashMap<String, String>>,
}

impl Fixtures {
    fn load() -> Fixtures {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch_layers.safetensors");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (regenerate with python3 scripts/fixtures.py)"));
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let cases = meta
            .metadata()
            .clone()
            .expect("fixture metadata")
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(a, b)| (a.to_string(), b.to_string())).collect()))
            .collect();
        Fixtures { bytes, cases }
    }

    fn get(&self, case: &str, what: &str) -> Vec<f32> {
        let st = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(&format!("{case}.{what}")).unwrap_or_else(|e| panic!("{case}.{what}: {e}"));
        t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

fn num(m: &HashMap<String, String>, k: &str) -> usize {
    m[k].parse().unwrap()
}

#[test]
fn layers_match_pytorch_fixtures() {
    let fx = Fixtures::load();
    let mut names: Vec<_> = fx.cases.keys().cloned().collect();
    names.sort();
    assert!(names.len() >= 20, "expected the full fixture set, found {}", names.len());
    for name in names {
        let m = &fx.cases[&name];
        let n = num(m, "n");
        let (layer, params, running) = match m["kind"].as_str() {
            kind @ ("conv2d" | "conv_transpose2d") => {
                let spec = ConvSpec {
                    cin: num(m, "cin"),
                    cout: num(m, "cout"),
                    h: num(m, "h"),
                    w: num(m, "w"),
                    kh: num(m, "kh"),
                    kw: num(m, "kw"),
                    stride: num(m, "stride"),
                    pad: num(m, "pad"),
                    out_pad: m.get("out_pad").map_or(0, |v| v.parse().unwrap()),
                };
                let layer = if kind == "conv2d" { Layer::Conv2d(spec) } else { Layer::ConvT2d(spec) };
                (layer, vec![fx.get(&name, "w"), fx.get(&name, "b")], None)
            }
            "batchnorm" => {
                let spec = BnSpec { c: num(m, "c"), hw: num(m, "hw"), eps: m["eps"].parse().unwrap(), momentum: m["momentum"].parse().unwrap() };
                let running = [fx.get(&name, "running_mean0"), fx.get(&name, "running_var0")].concat();
                (Layer::BatchNorm(spec), vec![fx.get(&name, "gamma"), fx.get(&name, "beta")], Some(running))
            }
            other => panic!("{name}: unknown fixture kind {other}"),
        };
        let (x, dy) = (fx.get(&name, "x"), fx.get(&name, "dy"));
        let bn = running.is_some();
        let cpu_run = run_cpu(layer, n, &x, &params, running.as_deref(), &dy, Mode::Train);
        let torch = Run {
            dx_scale: cpu_run.dx_scale,
            y: fx.get(&name, "y"),
            dx: fx.get(&name, "dx"),
            grads: if bn { vec![fx.get(&name, "dgamma"), fx.get(&name, "dbeta")] } else { vec![fx.get(&name, "dw"), fx.get(&name, "db")] },
            running: if bn { vec![[fx.get(&name, "running_mean1"), fx.get(&name, "running_var1")].concat()] } else { vec![] },
        };
        let r = running.as_deref();
        // PyTorch's values are exact (f64, rounded once); both of ours round along the way.
        compare(&format!("{name} CPU vs PyTorch"), &cpu_run, &torch, TOL);
        compare(&format!("{name} GPU vs PyTorch"), &run_gpu(layer, n, &x, &params, r, &dy, Mode::Train, false), &torch, TOL);
        if bn {
            let eval = run_gpu(layer, n, &x, &params, r, &dy, Mode::Eval, false);
            check(&format!("{name} GPU eval-mode forward vs PyTorch"), &eval.y, &fx.get(&name, "y_eval"), TOL);
        }
    }
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
    let mismatch = NetSpec { layers: vec![Layer::Linear { inp: 3, out: 10 }, Layer::Conv2d(ConvSpec::new(1, 2, 3, 3, 3, 1, 1))] };
    assert!(mismatch.widths().is_err(), "10 values cannot feed a (1,3,3) convolution");
}

// ---------------------------------------------------------------- reductions past the loop budget

/// Every reducing layer of R2 at the batches users train with (64, 320, 1024), GPU against the CPU
/// reference. The sums that grow with the batch (weight and bias gradients over batch × output
/// positions, batch-norm statistics over batch × positions) are what llvmpipe's loop limiter
/// truncated before the reductions were split (n = 84 was the first wrong batch for R2, n = 1024
/// left D's conv weight gradients 100 % wrong). Each layer keeps R2's spatial geometry, so every sum
/// has R2's length, with fewer channels to keep the f64 CPU reference quick.
#[test]
fn r2_layers_match_cpu_past_the_loop_budget() {
    let conv = |cin, cout, h| ConvSpec::new(cin, cout, h, h, 4, 2, 1);
    let layers: Vec<(&str, Layer)> = vec![
        ("D conv1 1→8 28×28", Layer::Conv2d(conv(1, 8, 28))),
        ("D conv2 8→8 14×14", Layer::Conv2d(conv(8, 8, 14))),
        ("G convT1 8→8 7×7", Layer::ConvT2d(conv(8, 8, 7))),
        ("G convT2 8→1 14×14", Layer::ConvT2d(conv(8, 1, 14))),
        ("G BatchNorm2d(8, 14×14)", Layer::BatchNorm(BnSpec { c: 8, hw: 196, eps: 1e-5, momentum: 0.1 })),
        ("D BatchNorm2d(8, 7×7)", Layer::BatchNorm(BnSpec { c: 8, hw: 49, eps: 1e-5, momentum: 0.1 })),
        ("G BatchNorm1d(40)", Layer::BatchNorm(BnSpec { c: 40, hw: 1, eps: 1e-5, momentum: 0.1 })),
        ("G Linear 100→40", Layer::Linear { inp: 100, out: 40 }),
        ("D Linear 392→1", Layer::Linear { inp: 392, out: 1 }),
    ];
    for n in [64usize, 320, 1024] {
        for (i, (name, layer)) in layers.iter().enumerate() {
            let net = NetSpec { layers: vec![*layer] };
            let (x, dy) = (randv(n * net.in_dim(), 200 + i as u64, 1.0), randv(n * net.out_dim(), 300 + i as u64, 1.0));
            let (params, running) = match layer {
                Layer::BatchNorm(b) => {
                    let params = vec![randv(b.c, 7, 0.5).iter().map(|v| v + 1.0).collect(), randv(b.c, 8, 0.5)];
                    (params, Some([randv(b.c, 9, 1.0), randv(b.c, 10, 0.5).iter().map(|v| v + 1.0).collect()].concat()))
                }
                _ => (net.init(11 + i as u32, 0, Init::PyTorch), None),
            };
            let r = running.as_deref();
            let want = run_cpu(*layer, n, &x, &params, r, &dy, Mode::Train);
            compare(&format!("{name} n={n}"), &run_gpu(*layer, n, &x, &params, r, &dy, Mode::Train, false), &want, TOL);
            if n == 320 {
                // The split path adding into gradients that are already there.
                compare(&format!("{name} n={n} (accumulated twice)"), &run_gpu(*layer, n, &x, &params, r, &dy, Mode::Train, true), &want, TOL);
            }
        }
    }
}

/// Linear layers through GpuNet on both kernel paths: the vec4 products of shaders/gemm.wgsl when
/// a reduction length is a multiple of 4 (IN for the forward pass, OUT for the input gradient,
/// always for the weight gradient, whose batch is padded) and the scalar kernels of
/// shaders/linear.wgsl otherwise; batches that are not multiples of 4 or 8, and accumulation.
#[test]
fn linear_layers_match_cpu_on_both_kernel_paths() {
    for (i, &(n, inp, out)) in [(1usize, 4usize, 4usize), (7, 12, 5), (13, 8, 33), (5, 3, 8), (9, 2, 128), (64, 128, 128), (33, 100, 6), (1024, 100, 40)].iter().enumerate() {
        let layer = Layer::Linear { inp, out };
        let params = NetSpec { layers: vec![layer] }.init(40 + i as u32, 0, Init::PyTorch);
        let (x, dy) = (randv(n * inp, 500 + i as u64, 1.0), randv(n * out, 600 + i as u64, 1.0));
        let tag = format!("linear n={n} {inp}→{out}");
        let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
        compare(&tag, &run_gpu(layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
        compare(&format!("{tag} (accumulated twice)"), &run_gpu(layer, n, &x, &params, None, &dy, Mode::Train, true), &want, TOL);
    }
}
