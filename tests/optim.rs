//! The optimizers (src/optim.rs, shaders/optim.wgsl) against the CPU reference over five
//! successive updates, with clipping and learning-rate decay. Tolerance 1e-5. Each network's
//! parameters are one block (`gpu::Block`): one launch updates all its tensors.

mod common;
use common::layer::TOL;
use common::{check, gpu, randv};
use wgpu_gan::gpu::{Block, Tensor};
use wgpu_gan::optim::{GpuOptimizer, Optimizer};

fn all_optimizers() -> [Optimizer; 5] {
    [
        Optimizer::Sgd { lr: 0.05, momentum: 0.0 },
        Optimizer::Sgd { lr: 0.05, momentum: 0.9 },
        Optimizer::adam(2e-4, 0.5, 0.999),
        Optimizer::adam(1e-3, 0.9, 0.99),
        Optimizer::RmsProp { lr: 5e-5, alpha: 0.99, eps: 1e-8 },
    ]
}

/// Five updates of a block of tensors with `lens` values by `opt` on the GPU and on the CPU;
/// compares parameters and moments, and checks that the gaps between tensors stay zero and that
/// the update is one launch.
fn five_updates(gpu: &wgpu_gan::gpu::Gpu, opt: Optimizer, lens: &[usize], clip: f32, seed: u64) -> (Block, GpuOptimizer, Tensor) {
    let mut ps: Vec<Vec<f32>> = lens.iter().enumerate().map(|(i, &n)| randv(n, seed + i as u64, 0.5)).collect();
    let mut st: Vec<Vec<Vec<f32>>> = lens.iter().map(|&n| vec![vec![0.0; n]; opt.state_count()]).collect();
    let params = Block::from_slices(gpu, "params", &ps).unwrap();
    let grads = params.zeros_like(gpu, "grads").unwrap();
    let gpu_opt = GpuOptimizer::new(gpu, opt, &params, "test").unwrap();
    // counter[0] = 3 with t = 3·2 + 1 + 1 = 8 exercises the GPU-side step formula.
    let counter = Tensor::from_slice(gpu, "counter", &[3u32]).unwrap();
    for it in 0..5u64 {
        let gs: Vec<Vec<f32>> = lens.iter().enumerate().map(|(i, &n)| randv(n, seed + 100 + 20 * it + i as u64, 1.0)).collect();
        grads.write(gpu, &gs).unwrap();
        // Linear decay over 11 steps at counter 3: the learning rate used is lr·8/11.
        let prog = gpu_opt.step(gpu, &params, &grads, &counter.buffer, 2, 1, clip, 11).unwrap();
        assert_eq!(prog.dispatches.len(), 1, "one launch per block");
        prog.run(gpu);
        for ((p, g), s) in ps.iter_mut().zip(&gs).zip(st.iter_mut()) {
            opt.scaled(wgpu_gan::optim::lr_scale(3, 11)).cpu_step(p, g, s, 8, clip);
        }
    }
    let got = params.read(gpu).unwrap();
    let state = gpu_opt.read_state(gpu).unwrap();
    for (i, n) in lens.iter().enumerate() {
        let tag = format!("{} over {} tensors: #{i} ({n} values) clip={clip}", opt.entry(), lens.len());
        check(&tag, &got[i], &ps[i], TOL);
        for (k, (a, b)) in state[i].iter().zip(&st[i]).enumerate() {
            check(&format!("{tag} state{k}"), a, b, TOL);
        }
    }
    // Everything outside the tensors is still zero: parameters and moments.
    let mut inside = vec![false; params.whole.len()];
    for t in params.iter() {
        inside[(t.offset / 4) as usize..][..t.len()].fill(true);
    }
    for (what, whole) in std::iter::once(("params", &params.whole)).chain(gpu_opt.state.iter().map(|b| ("state", &b.whole))) {
        let v = whole.read(gpu).unwrap();
        let stray = v.iter().zip(&inside).filter(|(x, &i)| !i && **x != 0.0).count();
        assert_eq!(stray, 0, "{} {what}: {stray} values between tensors are not zero", opt.entry());
    }
    (params, gpu_opt, counter)
}

#[test]
fn optimizer_kernels_match_cpu() {
    let gpu = gpu();
    for &n in &[1usize, 4, 7, 33, 256, 257, 102_400] {
        for (oi, opt) in all_optimizers().iter().enumerate() {
            for clip in [0.0f32, 0.3] {
                five_updates(&gpu, *opt, &[n], clip, (n + oi) as u64);
            }
        }
    }
}

/// Every optimizer over many tensors of awkward lengths in one block (one launch): every tensor
/// and its moments against the CPU over five updates, with and without clipping; then the
/// divergence watch names the lowest tensor whose gradient is not finite.
#[test]
fn one_launch_updates_a_block_of_tensors() {
    let gpu = gpu();
    let lens = [4usize, 8, 1, 12, 16, 260, 1_024, 1_027, 65_540, 102, 20, 3, 28, 32, 36];
    for (oi, opt) in all_optimizers().iter().enumerate() {
        for clip in [0.0f32, 0.05] {
            let (params, gpu_opt, counter) = five_updates(&gpu, *opt, &lens, clip, 300 + 10 * oi as u64);
            assert_eq!(gpu_opt.health(&gpu).unwrap(), None);
            // Not finite in tensors 12 and 9 (the NaN in the last value of a tensor whose length
            // is not a multiple of 4): the watch names 9.
            let mut gs: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.01; n]).collect();
            gs[12][27] = f32::NAN;
            gs[9][101] = f32::INFINITY;
            let grads = Block::from_slices(&gpu, "grads", &gs).unwrap();
            gpu_opt.step(&gpu, &params, &grads, &counter.buffer, 2, 1, clip, 0).unwrap().run(&gpu);
            let bad = gpu_opt.health(&gpu).unwrap().expect("a non-finite gradient trips the watch");
            assert_eq!((bad.tensor, bad.step), (9, 3), "{} {bad:?}", opt.entry());
            // Only in the first tensor, and only in the last (from finite parameters and zero
            // moments again: the step above left tensors 9 and 12 not finite).
            for (t, at) in [(0usize, 3usize), (lens.len() - 1, 35)] {
                params.write(&gpu, &lens.iter().map(|&n| vec![0.5f32; n]).collect::<Vec<_>>()).unwrap();
                gpu_opt.load_state(&gpu, &lens.iter().map(|&n| vec![vec![0.0f32; n]; opt.state_count()]).collect::<Vec<_>>()).unwrap();
                gpu_opt.reset_health(&gpu).unwrap();
                let mut gs: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.01; n]).collect();
                gs[t][at] = f32::NAN;
                let grads = Block::from_slices(&gpu, "grads", &gs).unwrap();
                gpu_opt.step(&gpu, &params, &grads, &counter.buffer, 2, 1, clip, 0).unwrap().run(&gpu);
                assert_eq!(gpu_opt.health(&gpu).unwrap().map(|d| d.tensor), Some(t), "{}", opt.entry());
            }
        }
    }
}

/// A block's tensors are ranges of one buffer: written and read back by part and whole, and an
/// optimizer refuses gradients laid out otherwise.
#[test]
fn blocks_keep_their_tensors_apart() {
    let gpu = gpu();
    let data: Vec<Vec<f32>> = [5usize, 64, 65, 1].iter().enumerate().map(|(i, &n)| randv(n, 40 + i as u64, 1.0)).collect();
    let b = Block::from_slices(&gpu, "b", &data).unwrap();
    assert!(b.iter().all(|t| t.offset % 256 == 0), "{:?}", b.bounds());
    assert_eq!(b.bounds(), vec![0, 64, 128, 256, 320]);
    for (t, d) in b.iter().zip(&data) {
        assert_eq!(&t.read(&gpu).unwrap(), d);
    }
    b[2].write(&gpu, &[7.0f32; 65]).unwrap();
    let back = b.read(&gpu).unwrap();
    assert_eq!(back[2], vec![7.0f32; 65]);
    assert_eq!((&back[1], &back[3]), (&data[1], &data[3]), "a write to one part stays in it");
    assert!(b.write(&gpu, &data[..3]).is_err());
    assert!(b[0].write(&gpu, &[1.0f32; 6]).is_err());
    let opt = GpuOptimizer::new(&gpu, Optimizer::adam(1e-3, 0.9, 0.99), &b, "t").unwrap();
    let other = Block::zeros(&gpu, "g", &[5, 64, 65, 2]).unwrap();
    let counter = Tensor::from_slice(&gpu, "counter", &[0u32]).unwrap();
    let err = opt.step(&gpu, &b, &other, &counter.buffer, 1, 0, 0.0, 0).err().expect("gradients laid out otherwise are refused");
    assert!(err.to_string().contains("laid out"), "{err}");
    // A network without parameters: no launch.
    let none = Block::zeros(&gpu, "none", &[]).unwrap();
    let opt = GpuOptimizer::new(&gpu, Optimizer::adam(1e-3, 0.9, 0.99), &none, "none").unwrap();
    assert_eq!(opt.step(&gpu, &none, &none, &counter.buffer, 1, 0, 0.0, 0).unwrap().dispatches.len(), 0);
}
