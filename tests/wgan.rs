//! WGAN-GP end to end: a training step with the gradient penalty, GPU against the CPU reference
//! (the one recipe run by both, `gan::verify`), on an MLP critic (R1's) and a conv critic (R2's
//! without batch norm, as R4 has it); and the penalty pulling the critic's gradient norms to 1.

mod common;
use std::sync::Arc;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::{verify, GanConfig, GpuGan, Table};
use wgpu_gan::nn::{Layer, NetSpec};

#[test]
fn a_wgan_gp_step_matches_the_cpu_reference() {
    let gpu = common::gpu();
    let ring = GanConfig { batch: 64, ..GanConfig::r1(Mixture::ring(), 2, 32) }.wgan_gp(10.0, 2, 1e-3);
    let d = wgpu_gan::models::r2_discriminator();
    let critic = NetSpec { layers: d.layers.into_iter().filter(|l| !matches!(l, Layer::BatchNorm(_))).collect() };
    let table = Arc::new(Table::new(common::randv(784 * 16, 3, 1.0), 784).unwrap());
    let conv = GanConfig { batch: 4, discriminator: critic, ..GanConfig::r2(table) }.wgan_gp(10.0, 1, 1e-4);
    // Past the software adapter's loop limit in one invocation: every reduction of the step,
    // the penalty's included, runs split at batch 320 (2 × 320 rows in the critic's joint pass).
    let big = GanConfig { batch: 320, ..GanConfig::r1(Mixture::ring(), 2, 32) }.wgan_gp(10.0, 1, 1e-3);
    for (name, cfg) in [("R1 ring, MLP critic", ring), ("R4: R2 without batch norm, conv critic", conv), ("R1 ring at batch 320", big)] {
        let v = verify(&gpu, &cfg, 2, cfg.batch, 5).unwrap();
        println!("WGAN-GP, {name}:\n{v}");
        assert!(v.passed(1e-4), "{name}: judged {:e}", v.judged());
    }
}

#[test]
fn a_critic_with_batch_norm_is_refused_for_the_penalty() {
    let table = Arc::new(Table::new(vec![0.0; 784 * 4], 784).unwrap());
    let cfg = GanConfig { batch: 4, ..GanConfig::r2(table) }.wgan_gp(10.0, 1, 1e-4);
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("batch normalisation"), "{err}");
    // A layer whose input gradient has no hand-written gradient (tanh's needs its second
    // derivative) is refused before anything runs, on either backend.
    let mut ring = GanConfig { batch: 8, ..GanConfig::r1(Mixture::ring(), 2, 8) }.wgan_gp(10.0, 1, 1e-4);
    ring.discriminator.layers[1] = Layer::Act(wgpu_gan::nn::Act::Tanh);
    let err = ring.validate().unwrap_err().to_string();
    println!("refused: {err}");
    assert!(err.contains("layer 1") && err.contains("Tanh"), "{err}");
}

/// Critic updates with only the penalty's pull: the mean gradient norm at the interpolates
/// approaches 1 and the penalty falls.
#[test]
fn the_penalty_pulls_gradient_norms_towards_one() {
    let gpu = common::gpu();
    let cfg = GanConfig { batch: 128, ..GanConfig::r1(Mixture::ring(), 2, 64) }.wgan_gp(10.0, 5, 1e-3);
    let (g0, d0) = cfg.init_params();
    let mut gan = GpuGan::new(&gpu, cfg, &g0, &d0, 16).unwrap();
    gan.train_steps(1);
    let first = gan.stats().unwrap().penalty;
    gan.train_steps(60);
    let later = gan.stats().unwrap().penalty;
    println!("penalty after 1 step {first:.4}, after 61 steps {later:.4}");
    assert!(first.is_finite() && later < first, "the penalty should fall: {first} → {later}");
}

/// The critic alone (the generator's learning rate ~0): its Wasserstein estimate, mean D(x) −
/// mean D(G(z)), rises in both cases; without the penalty it grows without bound, with it the
/// critic stays near 1-Lipschitz and the estimate levels off (about 0.96 here: roughly the
/// distance between the untrained generator's points and the ring).
#[test]
fn a_critic_alone_learns_the_wasserstein_estimate() {
    let gpu = common::gpu();
    let mut w = Vec::new();
    for lambda in [0.0f32, 10.0] {
        let mut cfg = GanConfig { batch: 256, ..GanConfig::r1(Mixture::ring(), 2, 128) }.wgan_gp(10.0, 5, 1e-4);
        cfg.gp_lambda = lambda;
        cfg.opt_g = cfg.opt_g.with_lr(1e-12);
        let (g0, d0) = cfg.init_params();
        let mut gan = GpuGan::new(&gpu, cfg, &g0, &d0, 16).unwrap();
        let mut est = Vec::new();
        for _ in 0..4 {
            gan.train_steps(50);
            let s = gan.stats().unwrap();
            est.push(s.d_real - s.d_fake);
        }
        println!("λ = {lambda}: Wasserstein estimate every 50 steps {est:?}, penalty {:.3}", gan.stats().unwrap().penalty);
        assert!(est[3] > est[0] && est[3] > 0.5, "λ = {lambda}: the estimate should rise: {est:?}");
        w.push(est);
    }
    let (free, penalised) = (&w[0], &w[1]);
    assert!(free[3] > 3.0 * penalised[3], "without the penalty the estimate runs away ({free:?}); with it, it levels off ({penalised:?})");
    assert!((penalised[3] - penalised[2]).abs() < 0.1, "with the penalty the estimate levels off: {penalised:?}");
}

/// The original WGAN's critic schedule (more critic updates in the first steps and every so
/// often): a long step runs its extra critic updates before the usual ones, on the GPU exactly
/// as on the CPU reference, phase by phase and over whole steps; the usual steps between are
/// unchanged; settings it cannot honour are refused.
#[test]
fn the_original_critic_schedule_matches_the_cpu_reference() {
    use wgpu_gan::gan::{recipe, CriticBurst};
    let gpu = common::gpu();
    // 4 critic updates (instead of 2) in steps 0 and 1, and in every third step: steps 0, 1, 3
    // are long, step 2 is not.
    let burst = CriticBurst { k: 4, first: 2, every: 3 };
    let cfg = GanConfig { batch: 64, critic_burst: Some(burst), ..GanConfig::r1(Mixture::ring(), 2, 32).wgan_clip(0.01, 2, 5e-4) };
    let phases: Vec<usize> = (0..4).map(|s| recipe::step_at(&cfg, s).len()).collect();
    assert_eq!(phases, vec![5, 5, 3, 5], "4 critic updates + G in long steps, 2 + G otherwise");
    assert_eq!(recipe::burst(&cfg).len(), 2);
    let v = verify(&gpu, &cfg, 4, cfg.batch, 5).unwrap();
    println!("WGAN, original critic schedule (4 steps, 3 of them long):\n{v}");
    assert!(v.passed(1e-4), "judged {:e}", v.judged());
    // A long step differs from a usual one: the same start with and without the schedule.
    let (g0, d0) = cfg.init_params();
    let mut long = GpuGan::new(&gpu, cfg.clone(), &g0, &d0, 16).unwrap();
    let mut usual = GpuGan::new(&gpu, GanConfig { critic_burst: None, ..cfg.clone() }, &g0, &d0, 16).unwrap();
    long.train_steps(1);
    usual.train_steps(1);
    assert_ne!(long.read_state().unwrap().d, usual.read_state().unwrap().d, "the long step's extra critic updates changed D");
    // Refused: an Adam critic (its step count would be shared) and a burst no longer than k.
    let adam = GanConfig { critic_burst: Some(burst), ..GanConfig::r1(Mixture::ring(), 2, 32).wgan_gp(10.0, 2, 1e-4) };
    let e = adam.validate().unwrap_err().to_string();
    assert!(e.contains("RMSprop or SGD"), "{e}");
    let short = GanConfig { critic_burst: Some(CriticBurst { k: 2, ..burst }), ..cfg.clone() };
    assert!(short.validate().unwrap_err().to_string().contains("not longer"));
}
