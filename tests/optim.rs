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
