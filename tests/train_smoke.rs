//! A short training run on the GPU must learn the ring: before training the generator's output is a
//! small blob that covers (almost) no mode; after it, most modes are covered by tight samples.
//! A sign error anywhere in the D or G gradient chain, or a broken optimizer, fails this.

mod common;
use wgpu_gan::data::Mixture;
use wgpu_gan::nn::Mode;
use wgpu_gan::gan::{GanConfig, GpuGan};
use wgpu_gan::metrics::mode_coverage;
use wgpu_gan::optim::Optimizer;

#[test]
fn short_ring_training_learns_the_modes() {
    let gpu = common::gpu();
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 64);
    cfg.batch = 128;
    cfg.opt_d = Optimizer::adam(2e-3, 0.5, 0.999);
    cfg.opt_g = Optimizer::adam(5e-4, 0.5, 0.999);
    cfg.lr_decay_steps = 2000;
    let (g, d) = cfg.init_params();
    let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 2500).unwrap();
    let before = mode_coverage(&gan.sample(2500, 1, Mode::Eval).unwrap(), cfg.data.mixture().unwrap());
    println!("before training: {before}");
    assert!(before.high_quality_pct < 5.0, "the untrained generator already looks trained: {before}");
    gan.train_steps(2000);
    let s = gan.stats().unwrap();
    let after = mode_coverage(&gan.sample(2500, 1, Mode::Eval).unwrap(), cfg.data.mixture().unwrap());
    println!("after 2000 steps: {after}; D(x) {:.3} D(G(z)) {:.3}", s.d_real, s.d_fake);
    assert!(after.modes_covered >= 6, "{after}");
    assert!(after.high_quality_pct >= 30.0, "{after}");
}
