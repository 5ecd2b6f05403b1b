//! Batch normalisation (src/nn/batchnorm.rs, shaders/batchnorm.wgsl): the CPU backward against
//! central differences and the GPU against the CPU in all three modes, with accumulation.
//!
//! A batch-norm input gradient γ·invstd·(dy − mean dy − x̂·mean(dy·x̂)) cancels: with two values per
//! channel x̂ = ±(1 − O(eps/var)) and the result is ~1e-5 of its terms, so any f32 evaluation
//! (PyTorch's included) is off by ~1e-2 of the result. Its error is therefore measured against
//! the size of the terms, max |γ·invstd·dy| (see common/layer.rs).

mod common;
use common::layer::{compare, numeric, report, run_cpu, run_gpu_on, TOL};
use common::{randv, weighted};
use wgpu_gan::nn::{BnSpec, Layer, Mode};
#[test]
fn batchnorm_backward_matches_finite_differences() {
    // Two values per channel make the output nearly independent of x (see the module notes), which
    // finite differences cannot resolve; the smallest batch here has six.
    for &(n, c, hw) in &[(5usize, 7usize, 1usize), (2, 3, 3), (3, 5, 6)] {
        let (x, g, b, r) = (randv(n * c * hw, 1, 2.0), randv(c, 2, 1.0).iter().map(|v| v + 1.0).collect::<Vec<_>>(), randv(c, 3, 1.0), randv(n * c * hw, 4, 1.0));
        let fwd = |x: &[f32], g: &[f32], b: &[f32]| {
            let st = wgpu_gan::nn::batchnorm::batchnorm_stats(x, n, c, hw, 1e-5, 0.1, None);
            wgpu_gan::nn::batchnorm::batchnorm_forward(x, g, b, &st, c, hw)
        };
        let st = wgpu_gan::nn::batchnorm::batchnorm_stats(&x, n, c, hw, 1e-5, 0.1, None);
        let (dx, dg, db) = wgpu_gan::nn::batchnorm::batchnorm_backward(&x, &r, &g, &st, n, c, hw);
        let tag = format!("batchnorm n={n} c={c} hw={hw}");
        report(&format!("{tag} dx"), &dx, &numeric(&x, &|x| weighted(&fwd(x, &g, &b), &r)));
        report(&format!("{tag} dgamma"), &dg, &numeric(&g, &|g| weighted(&fwd(&x, g, &b), &r)));
        report(&format!("{tag} dbeta"), &db, &numeric(&b, &|b| weighted(&fwd(&x, &g, b), &r)));
    }
}

#[test]
fn batchnorm_kernels_match_cpu() {
    // (1024, 2, 196): R2's longest batch-norm reduction, 200,704 values a channel at batch 1,024.
    for (i, &(n, c, hw)) in [(2usize, 3usize, 1usize), (5, 7, 1), (3, 5, 24), (64, 6272, 1), (7, 13, 49), (4, 64, 196), (1024, 2, 196)].iter().enumerate() {
        let spec = BnSpec { c, hw, eps: 1e-5, momentum: 0.1 };
        let layer = Layer::BatchNorm(spec);
        let params = vec![randv(c, 70 + i as u64, 0.5).iter().map(|v| v + 1.0).collect(), randv(c, 80, 0.5)];
        let running: Vec<f32> = [randv(c, 81, 1.0), randv(c, 82, 0.5).iter().map(|v| v + 1.0).collect()].concat();
        let x: Vec<f32> = randv(n * c * hw, 90 + i as u64, 2.0).iter().map(|v| v + 0.7).collect();
        let dy = randv(n * c * hw, 95 + i as u64, 1.0);
        let tag = format!("batchnorm n={n} c={c} hw={hw}");
        // Long reductions (N·HW = 784 here) round like √784·2⁻²⁴ ≈ 2e-6 relative to the sums.
        // The software adapter's family walks (sample, channel) planes; the others run flat.
        for (fam, gpu) in common::kernel_variants() {
            let tag = format!("{tag} [{fam}]");
            for mode in [Mode::Train, Mode::BatchStats, Mode::Eval] {
                let want = run_cpu(layer, n, &x, &params, Some(&running), &dy, mode);
                compare(&format!("{tag} {mode:?}"), &run_gpu_on(&gpu, layer, n, &x, &params, Some(&running), &dy, mode, false), &want, TOL);
            }
            let want = run_cpu(layer, n, &x, &params, Some(&running), &dy, Mode::Train);
            compare(&format!("{tag} (accumulated twice)"), &run_gpu_on(&gpu, layer, n, &x, &params, Some(&running), &dy, Mode::Train, true), &want, TOL);
        }
    }
}
