//! Every kernel against its CPU reference on random inputs of awkward sizes (not multiples of the
//! workgroup). Errors are the max relative error in the max norm (wgpu_gan::max_rel_err).
//!
//! Tolerance 1e-5 throughout. Elementwise kernels agree to a few ulps. The reductions (Linear's
//! three matrix products over up to 257 terms, the loss means) run sequentially in f32 on the GPU
//! against an f64 reference: their error grows like √len·2⁻²⁴ of the largest term, about 1e-6 here.

mod common;
use common::{check, gpu, launch, randv, tensor};
use wgpu_gan::cpu::{self, LossKind};
use wgpu_gan::gan::{LossParams, RngParams};
use wgpu_gan::nn::{act_entries, blocks4, Act, ActParams, LinearParams};
use wgpu_gan::optim::{GpuOptimizer, Optimizer};

const TOL: f32 = 1e-5;
const SHAPES: &[(usize, usize, usize)] = &[(1, 1, 1), (7, 33, 1), (33, 7, 257), (257, 33, 7), (5, 6, 3), (64, 128, 128)];

#[test]
fn linear_kernels_match_cpu() {
    let gpu = gpu();
    for (s, &(n, inp, out)) in SHAPES.iter().enumerate() {
        let s = s as u64 * 10;
        let (x, w, b, dy) = (randv(n * inp, s, 1.0), randv(out * inp, s + 1, 1.0), randv(out, s + 2, 1.0), randv(n * out, s + 3, 1.0));
        let (tx, tw, tb, tdy) = (tensor(&gpu, &x), tensor(&gpu, &w), tensor(&gpu, &b), tensor(&gpu, &dy));
        let p = LinearParams::new(n, inp, out, false);
        let pb = bytemuck::bytes_of(&p);
        let tag = format!("n={n} in={inp} out={out}");

        let ty = tensor(&gpu, &vec![0.0; n * out]);
        launch(&gpu, "linear", "linear_forward", pb, &[&tx, &tw, &tb, &ty], Some(blocks4(n, out)));
        check(&format!("linear_forward {tag}"), &ty.read(&gpu).unwrap(), &cpu::linear_forward(&x, &w, &b, n, inp, out), TOL);

        let tdx = tensor(&gpu, &vec![0.0; n * inp]);
        launch(&gpu, "linear", "linear_backward_input", pb, &[&tw, &tdy, &tdx], Some(blocks4(n, inp)));
        check(&format!("linear_backward_input {tag}"), &tdx.read(&gpu).unwrap(), &cpu::linear_backward_input(&dy, &w, n, inp, out), TOL);


        let tdb = tensor(&gpu, &vec![0.0; out]);
        launch(&gpu, "linear", "linear_backward_bias", pb, &[&tdy, &tdb], Some(out as u32));
        check(&format!("linear_backward_bias {tag}"), &tdb.read(&gpu).unwrap(), &cpu::linear_backward_bias(&dy, n, out), TOL);
    }
}

#[test]
fn activation_kernels_match_cpu() {
    let gpu = gpu();
    for &n in &[1usize, 7, 33, 257, 4099] {
        // Wide range so that tanh/sigmoid saturate and both signs of every branch are hit.
        let x = randv(n, n as u64, 20.0);
        let dy = randv(n, n as u64 + 1, 1.0);
        let (tx, tdy, ty) = (tensor(&gpu, &x), tensor(&gpu, &dy), tensor(&gpu, &vec![0.0; n]));
        for a in [Act::Relu, Act::LeakyRelu(0.2), Act::Tanh, Act::Sigmoid] {
            let (fwd, bwd, slope) = act_entries(a);
            let p = ActParams { n: n as u32, slope, ..Default::default() };
            launch(&gpu, "activation", fwd, bytemuck::bytes_of(&p), &[&tx, &ty], Some(n as u32));
            check(&format!("{fwd} n={n}"), &ty.read(&gpu).unwrap(), &wgpu_gan::nn::act_forward(a, &x), TOL);
            launch(&gpu, "activation", bwd, bytemuck::bytes_of(&p), &[&tx, &tdy, &ty], Some(n as u32));
            check(&format!("{bwd} n={n}"), &ty.read(&gpu).unwrap(), &wgpu_gan::nn::act_backward(a, &x, &dy), TOL);
        }
    }
}

#[test]
fn loss_kernels_match_cpu() {
    let gpu = gpu();
    for &(nf, nr) in &[(1usize, 1usize), (7, 7), (33, 1), (257, 257), (600, 600)] {
        let l = randv(nf + nr, (nf * 31 + nr) as u64, 12.0);
        let tl = tensor(&gpu, &l);
        let tout = tensor(&gpu, &vec![0.0; nf + nr]);
        let tstats = tensor(&gpu, &[0.0; 6]);
        for kind in [LossKind::Minimax, LossKind::NonSaturating, LossKind::Wasserstein] {
            let p = LossParams { n_fake: nf as u32, n_real: nr as u32, kind: kind as u32, stat_offset: 0 };
            let pb = bytemuck::bytes_of(&p);
            let tag = format!("{kind:?} fake={nf} real={nr}");
            launch(&gpu, "loss", "gan_loss_d_backward", pb, &[&tl, &tout], Some((nf + nr) as u32));
            check(&format!("gan_loss_d_backward {tag}"), &tout.read(&gpu).unwrap(), &cpu::gan_loss_d_backward(&l, nf, kind), TOL);
            launch(&gpu, "loss", "gan_loss_d_forward", pb, &[&tl, &tstats], None);
            let s = tstats.read(&gpu).unwrap();
            let w = cpu::gan_loss_d_forward(&l, nf, kind);
            check(&format!("gan_loss_d_forward {tag}"), &s[..5], &[w.loss, w.d_real, w.d_fake, w.acc_real, w.acc_fake], TOL);

            let p = LossParams { n_fake: nf as u32, n_real: 0, kind: kind as u32, stat_offset: 5 };
            let pb = bytemuck::bytes_of(&p);
            launch(&gpu, "loss", "gan_loss_g_backward", pb, &[&tl, &tout], Some(nf as u32));
            check(&format!("gan_loss_g_backward {tag}"), &tout.read(&gpu).unwrap()[..nf], &cpu::gan_loss_g_backward(&l[..nf], kind), TOL);
            launch(&gpu, "loss", "gan_loss_g_forward", pb, &[&tl, &tstats], None);
            check(&format!("gan_loss_g_forward {tag}"), &tstats.read(&gpu).unwrap()[5..6], &[cpu::gan_loss_g_forward(&l[..nf], kind)], TOL);
        }
    }
}

#[test]
fn optimizer_kernels_match_cpu() {
    let gpu = gpu();
    let opts = [
        Optimizer::Sgd { lr: 0.05, momentum: 0.0 },
        Optimizer::Sgd { lr: 0.05, momentum: 0.9 },
        Optimizer::adam(2e-4, 0.5, 0.999),
        Optimizer::adam(1e-3, 0.9, 0.99),
        Optimizer::RmsProp { lr: 5e-5, alpha: 0.99, eps: 1e-8 },
    ];
    for &n in &[1usize, 7, 33, 257] {
        for (oi, opt) in opts.iter().enumerate() {
            for clip in [0.0f32, 0.3] {
                let mut p = randv(n, (n + oi) as u64, 0.5);
                let mut st: Vec<Vec<f32>> = (0..opt.state_count()).map(|_| vec![0.0; n]).collect();
                let tp = [tensor(&gpu, &p)];
                let gpu_opt = GpuOptimizer::new(&gpu, *opt, &tp, "test").unwrap();
                // counter[0] = 3 with t = 3·2 + 1 + 1 = 8 exercises the GPU-side step formula.
                let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[3u32]).unwrap();
                // Five successive updates with fresh gradients, so the state matters.
                for it in 0..5u64 {
                    let g = randv(n, 100 + it, 1.0);
                    // Linear decay over 11 steps at counter 3: the learning rate used is lr·8/11.
                    gpu_opt.step(&gpu, &tp, &[tensor(&gpu, &g)], &counter.buffer, 2, 1, clip, 11).unwrap().run(&gpu);
                    opt.scaled(wgpu_gan::optim::lr_scale(3, 11)).cpu_step(&mut p, &g, &mut st, 8, clip);
                }
                let ts = gpu_opt.read_state(&gpu).unwrap().remove(0);
                let tag = format!("{} n={n} #{oi} clip={clip}", opt.entry());
                check(&tag, &tp[0].read(&gpu).unwrap(), &p, TOL);
                for (i, (t, s)) in ts.iter().zip(&st).enumerate() {
                    check(&format!("{tag} state{i}"), t, s, TOL);
                }
            }
        }
    }
}

#[test]
fn random_kernels_match_cpu() {
    let gpu = gpu();
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[5u32]).unwrap();
    for &n in &[1usize, 7, 33, 257, 10_001] {
        let out = tensor(&gpu, &vec![0.0; n]);
        let p = RngParams { n: n as u32, seed: 42, stream: 3, ..Default::default() };
        launch(&gpu, "rng", "randn_fill", bytemuck::bytes_of(&p), &[&counter, &out], Some((n as u32).div_ceil(2)));
        // Same bits on both sides; only log/cos/sin rounding differs.
        check(&format!("randn_fill n={n}"), &out.read(&gpu).unwrap(), &cpu::randn_fill(n, 42, 3, 5), TOL);
    }
    for mix in [wgpu_gan::data::Mixture::ring(), wgpu_gan::data::Mixture::grid()] {
        let n = 333;
        let centres = tensor(&gpu, &mix.flat_centres());
        let out = tensor(&gpu, &vec![0.0; 2 * (n + 5)]);
        let p = RngParams { n: n as u32, seed: 9, stream: 1, k: mix.centres.len() as u32, row_offset: 5, sigma: mix.sigma, ..Default::default() };
        launch(&gpu, "rng", "mixture_sample", bytemuck::bytes_of(&p), &[&centres, &counter, &out], Some(n as u32));
        let got = out.read(&gpu).unwrap();
        assert!(got[..10].iter().all(|&v| v == 0.0), "rows before row_offset were written");
        check(&format!("mixture_sample {} n={n}", mix.name), &got[10..], &cpu::mixture_sample(&mix.centres, mix.sigma, n, 9, 1, 5), TOL);
    }
}

/// The generator is only useful if its normals are normal: mean, variance and tails of 200k draws.
#[test]
fn gpu_normals_have_the_right_moments() {
    let gpu = gpu();
    let n = 200_000;
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[0u32]).unwrap();
    let out = tensor(&gpu, &vec![0.0; n]);
    let p = RngParams { n: n as u32, seed: 1, stream: 0, ..Default::default() };
    launch(&gpu, "rng", "randn_fill", bytemuck::bytes_of(&p), &[&counter, &out], Some((n as u32).div_ceil(2)));
    let v = out.read(&gpu).unwrap();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    let tail = v.iter().filter(|x| x.abs() > 1.96).count() as f64 / n as f64;
    println!("randn moments: mean {mean:.4}, var {var:.4}, P(|z|>1.96) {tail:.4}");
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01 && (tail - 0.05).abs() < 0.003);
}

/// The vec4 products of shaders/gemm.wgsl on their own: out = a bᵀ (+ bias) against the CPU's
/// linear_forward, whole and split into tiles of the reduction (each tile its own slot), and
/// transpose_pad against a plain transpose with zero padding.
#[test]
fn gemm_kernels_match_cpu() {
    use wgpu_gan::gpu::budget::GemmParams;
    let gpu = gpu();
    for &(m, p, k) in &[(1usize, 1usize, 4usize), (7, 9, 12), (8, 8, 128), (13, 33, 20), (64, 3, 400)] {
        let (a, b, bias) = (randv(m * k, 1, 1.0), randv(p * k, 2, 1.0), randv(p, 3, 1.0));
        let (ta, tb, tbias) = (tensor(&gpu, &a), tensor(&gpu, &b), tensor(&gpu, &bias));
        let want = cpu::linear_forward(&a, &b, &bias, m, k, p);
        let k4 = (k / 4) as u32;
        let blocks = (m.div_ceil(8) * p.div_ceil(8)) as u32;
        let g = GemmParams { m: m as u32, p: p as u32, k4, k_per: k4, flags: 1, ..Default::default() };
        let out = tensor(&gpu, &vec![0.0; m * p]);
        launch(&gpu, "gemm", "gemm_nt", bytemuck::bytes_of(&g), &[&ta, &tb, &tbias, &out], Some(blocks));
        check(&format!("gemm_nt m={m} p={p} k={k}"), &out.read(&gpu).unwrap(), &want, TOL);
        // Tiles of 2 vec4 steps: slot s holds the partial sum over k in [8s, 8s + 8).
        let tiles = k4.div_ceil(2) as usize;
        let g = GemmParams { k_per: 2, flags: 0, ..g };
        let out = tensor(&gpu, &vec![0.0; tiles * m * p]);
        launch(&gpu, "gemm", "gemm_nt", bytemuck::bytes_of(&g), &[&ta, &tb, &tbias, &out], Some(blocks * tiles as u32));
        let slots = out.read(&gpu).unwrap();
        let summed: Vec<f32> = (0..m * p).map(|i| (0..tiles).map(|s| slots[s * m * p + i]).sum::<f32>() + bias[i % p]).collect();
        check(&format!("gemm_nt m={m} p={p} k={k}, {tiles} tiles"), &summed, &want, TOL);
    }
    for &(rows, cols) in &[(1usize, 1usize), (5, 3), (8, 8), (33, 7)] {
        let src = randv(rows * cols, 9, 1.0);
        let rows4 = rows.div_ceil(4) * 4;
        let g = GemmParams { rows: rows as u32, cols: cols as u32, rows4: rows4 as u32, ..Default::default() };
        let (ts, out) = (tensor(&gpu, &src), tensor(&gpu, &vec![7.0; cols * rows4]));
        launch(&gpu, "gemm", "transpose_pad", bytemuck::bytes_of(&g), &[&ts, &out], Some((cols * rows4) as u32));
        let want: Vec<f32> = (0..cols * rows4).map(|i| if i % rows4 < rows { src[(i % rows4) * cols + i / rows4] } else { 0.0 }).collect();
        check(&format!("transpose_pad {rows}×{cols}"), &out.read(&gpu).unwrap(), &want, 0.0);
    }
}
