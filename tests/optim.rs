//! The optimizers (src/optim.rs, shaders/optim.wgsl) against the CPU reference over five
//! successive updates, with clipping and learning-rate decay. Tolerance 1e-5.

mod common;
use common::layer::TOL;
use common::{check, gpu, randv, tensor};
use wgpu_gan::optim::{GpuOptimizer, Optimizer};
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
    // Lengths that are multiples of 4 run Adam four values at a time (adam_step4).
    for &n in &[1usize, 4, 7, 33, 256, 257, 102_400] {
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

/// Adam over many tensors: the small ones whose lengths are multiples of 4 share `adam_multi4`
/// launches (7 to a launch), the others run alone (`adam_step4` past 1,024 floats, `adam_step`
/// for a length that is not a multiple of 4). Every tensor and its moments against the CPU over
/// five updates, with and without clipping; then the divergence watch names the lowest tensor
/// whose gradient is not finite, across two shared launches.
#[test]
fn adam_updates_small_tensors_together() {
    let gpu = gpu();
    let lens = [4usize, 8, 12, 16, 260, 1_024, 1_028, 65_540, 102, 20, 24, 28, 32, 36];
    let opt = Optimizer::adam(2e-4, 0.5, 0.999);
    for clip in [0.0f32, 0.05] {
        let mut ps: Vec<Vec<f32>> = lens.iter().enumerate().map(|(i, &n)| randv(n, 300 + i as u64, 0.1)).collect();
        let mut st: Vec<Vec<Vec<f32>>> = lens.iter().map(|&n| vec![vec![0.0; n]; 2]).collect();
        let tp: Vec<_> = ps.iter().map(|p| tensor(&gpu, p)).collect();
        let gpu_opt = GpuOptimizer::new(&gpu, opt, &tp, "multi").unwrap();
        let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[3u32]).unwrap();
        for it in 0..5u64 {
            let gs: Vec<Vec<f32>> = lens.iter().enumerate().map(|(i, &n)| randv(n, 400 + 20 * it + i as u64, 1.0)).collect();
            let tg: Vec<_> = gs.iter().map(|g| tensor(&gpu, g)).collect();
            let prog = gpu_opt.step(&gpu, &tp, &tg, &counter.buffer, 2, 1, clip, 0).unwrap();
            let names: Vec<&str> = prog.dispatches.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names.iter().filter(|n| **n == "optim::adam_multi4").count(), 2, "{names:?}");
            assert_eq!(names.len(), 5, "{names:?}");
            prog.run(&gpu);
            for ((p, g), s) in ps.iter_mut().zip(&gs).zip(st.iter_mut()) {
                opt.cpu_step(p, g, s, 8, clip);
            }
        }
        let state = gpu_opt.read_state(&gpu).unwrap();
        for (i, n) in lens.iter().enumerate() {
            let tag = format!("adam over {} tensors: #{i} ({n} floats) clip={clip}", lens.len());
            check(&tag, &tp[i].read(&gpu).unwrap(), &ps[i], TOL);
            check(&format!("{tag} m"), &state[i][0], &st[i][0], TOL);
            check(&format!("{tag} v"), &state[i][1], &st[i][1], TOL);
        }
        assert_eq!(gpu_opt.health(&gpu).unwrap(), None);
        // Not finite in tensors 12 and 9 (in the second and the first shared launch): the watch
        // names 9.
        let mut gs: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.01; n]).collect();
        gs[12][5] = f32::NAN;
        gs[9][3] = f32::INFINITY;
        let tg: Vec<_> = gs.iter().map(|g| tensor(&gpu, g)).collect();
        gpu_opt.step(&gpu, &tp, &tg, &counter.buffer, 2, 1, clip, 0).unwrap().run(&gpu);
        let bad = gpu_opt.health(&gpu).unwrap().expect("a non-finite gradient trips the watch");
        assert_eq!((bad.tensor, bad.step), (9, 3), "{bad:?}");
    }
}
