//! Data-parallel training (issue 26) between threads of one process: N ranks at batch B take the
//! same steps as one process at batch N·B — losses, averaged gradients, updated weights and
//! running statistics to float rounding — with SyncBatchNorm; without it R2 parts ways through
//! its batch norms, and R1, which has none, does not. (tests/mpi.rs runs the same check between
//! processes over MPI.)

mod common;

use std::sync::Arc;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::dist::{check_against_one, Collective, DistGan, StepCheck, Threads};
use wgpu_gan::gan::{GanConfig, Table, Trainer};

/// Runs `check_against_one` on `ranks` threads; rank 0's result.
fn threads(cfg: &GanConfig, ranks: usize, steps: usize, sync_bn: bool) -> Vec<StepCheck> {
    let gpu = common::gpu();
    let handles: Vec<_> = Threads::group(ranks)
        .into_iter()
        .map(|t| {
            let (gpu, cfg) = (gpu.clone(), cfg.clone());
            std::thread::spawn(move || check_against_one(&gpu, &cfg, Box::new(t), steps, sync_bn))
        })
        .collect();
    let mut out: Vec<_> = handles.into_iter().map(|h| h.join().expect("a rank panicked").expect("a rank failed")).collect();
    assert!(out[1..].iter().all(|v| v.is_empty()), "only rank 0 compares");
    out.swap_remove(0)
}

fn report(name: &str, checks: &[StepCheck]) {
    for c in checks {
        // The weights left out of the judgement (gradients at rounding level) stay a few.
        assert!(c.left_out.0 * 50 <= c.left_out.1, "{name}: {} of {} weights not judged", c.left_out.0, c.left_out.1);
        println!(
            "{name} step {}: max rel err: stats {:.2e}, D grads {:.2e}, G grads {:.2e}, weights {:.2e}, \
             running var {:.2e}; reported: running mean {:.2e}, free-running weights {:.2e}, {} of {} weights left out",
            c.step, c.stats, c.d_grads, c.g_grads, c.weights, c.running_var, c.running_mean, c.drift, c.left_out.0, c.left_out.1
        );
    }
}

/// 28 × 28 "digits" of noise in [−1, 1]: R2's shapes without reading MNIST.
fn fake_digits(n: usize) -> Arc<Table> {
    Arc::new(Table::new(common::randv(n * 784, 5, 1.0), 784).unwrap())
}

fn r2(batch: usize) -> GanConfig {
    let mut cfg = GanConfig::r2(fake_digits(64));
    cfg.batch = batch;
    cfg
}

#[test]
fn r1_two_ranks_match_one_process_at_twice_the_batch() {
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 128);
    cfg.batch = 128;
    let checks = threads(&cfg, 2, 3, true);
    report("R1, 2 × 128 vs 1 × 256", &checks);
    assert_eq!(checks.len(), 3);
    for c in &checks {
        assert!(c.worst() <= 1e-5, "{c:?}");
    }
    // R1 has no batch norm: without SyncBN it is the same run.
    let off = threads(&cfg, 2, 2, false);
    report("R1 without SyncBN", &off);
    assert!(off.iter().all(|c| c.worst() <= 1e-5), "{off:?}");
}

#[test]
fn r2_two_ranks_with_sync_bn_match_one_process_at_twice_the_batch() {
    let checks = threads(&r2(8), 2, 3, true);
    report("R2, 2 × 8 vs 1 × 16, SyncBN", &checks);
    assert_eq!(checks.len(), 3);
    for c in &checks {
        assert!(c.worst() <= 1e-5, "{c:?}");
    }
}

#[test]
fn r2_without_sync_bn_differs_through_the_batch_statistics() {
    let checks = threads(&r2(8), 2, 1, false);
    report("R2, 2 × 8 vs 1 × 16, per-rank batch norm", &checks);
    // Each rank normalises by its own 8 rows: the losses, gradients and running statistics
    // move away from the whole batch's by far more than rounding.
    let c = checks[0];
    assert!(c.d_grads > 1e-3 && c.running_var > 1e-4, "{c:?}");
}

#[test]
fn three_ranks_and_a_burst_of_critic_updates() {
    // WGAN with weight clipping and the original schedule's long first steps: the extra critic
    // updates run their own program, whose gradients the ranks average too.
    // (Plain SGD: RMSprop's first step is ±10·lr for every gradient, so a gradient that cancels
    // to rounding level steps by ±10·lr in a direction rounding sets, and five critic updates in
    // one step carry that on. The averaging is the same for every optimizer.)
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 32).wgan_clip(0.5, 2, 5e-5);
    cfg.opt_d = wgpu_gan::optim::Optimizer::Sgd { lr: 0.05, momentum: 0.5 };
    cfg.critic_burst = Some(wgpu_gan::gan::CriticBurst { k: 3, first: 1, every: 0 });
    cfg.batch = 20;
    let checks = threads(&cfg, 3, 2, true);
    report("R1 WGAN-clip, 3 × 20 vs 1 × 60, a long first step", &checks);
    for c in &checks {
        assert!(c.worst() <= 1e-5, "{c:?}");
    }
}

#[test]
fn overlapped_updates_of_conditional_and_penalty_gans_match_one_process() {
    // The D updates' exchanges run beside the next phase's noise and generator pass: with labels
    // drawn and appended in that noise (a conditional GAN), and with WGAN-GP's two critic
    // updates a step.
    let mut cond = GanConfig::r1(Mixture::ring(), 2, 64).conditional();
    cond.batch = 16;
    let checks = threads(&cond, 2, 3, true);
    report("conditional R1, 2 × 16 vs 1 × 32", &checks);
    // (D by SGD: after two Adam updates a step, the weights whose gradient in the first was at
    // rounding level are not the ones the judgement leaves out, and Adam's ±lr steps there part
    // the runs by 3e-5, by rounding alone; the exchange is the same for every optimizer.)
    let mut gp = GanConfig::r1(Mixture::ring(), 2, 64).wgan_gp(10.0, 2, 1e-4);
    gp.opt_d = wgpu_gan::optim::Optimizer::Sgd { lr: 0.01, momentum: 0.5 };
    gp.batch = 16;
    let gp_checks = threads(&gp, 2, 2, true);
    report("R1 WGAN-GP (k 2), 2 × 16 vs 1 × 32", &gp_checks);
    for c in checks.iter().chain(&gp_checks) {
        assert!(c.worst() <= 1e-5, "{c:?}");
    }
}

#[test]
fn streamed_rows_are_sharded_like_the_table() {
    // A small GAN on 16-value rows read on demand (R6's data path): each rank reads its shard of
    // every draw, two critic updates a step.
    use wgpu_gan::data::stream::{PrefetchOptions, Stream};
    use wgpu_gan::gan::DataSource;
    use wgpu_gan::nn::{Act, NetSpec};
    let table = Arc::new(Table::new(common::randv(40 * 16, 9, 1.0), 16).unwrap());
    let data = DataSource::Stream(Stream { source: table, prefetch: PrefetchOptions { workers: 1, depth: 1 } });
    let mut cfg = GanConfig::new(NetSpec::mlp(&[4, 32, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 32, 1], Act::LeakyRelu(0.2), None), data);
    cfg.batch = 6;
    cfg.k = 2;
    let checks = threads(&cfg, 2, 3, true);
    report("streamed rows, 2 × 6 vs 1 × 12, k 2", &checks);
    for c in &checks {
        assert!(c.worst() <= 1e-5, "{c:?}");
    }
}

#[test]
fn d_gradients_are_exchanged_while_the_generator_runs_where_nothing_else_is_exchanged() {
    // A discriminator update's exchange overlaps the next phase's noise and generator pass,
    // unless that pass has exchanges of its own (R2's generator has batch norms: with SyncBN).
    let gpu = common::gpu();
    let overlapped = |cfg: GanConfig, sync_bn: bool| {
        let (g, d) = cfg.init_params();
        let mut gan = DistGan::new(&gpu, cfg, &g, &d, 1, Box::new(Threads::group(1).remove(0)), sync_bn).unwrap();
        gan.train_steps(2);
        gan.stats().unwrap();
        gan.comm().overlapped
    };
    let mut r1 = GanConfig::r1(Mixture::ring(), 2, 32);
    r1.batch = 16;
    r1.k = 3; // three D updates a step, each followed by one that does not read D
    assert_eq!(overlapped(r1, true), 2 * 3);
    // R2's generator phase reuses the D update's G(z): nothing to run ahead. Drawing its own:
    let fresh = GanConfig { reuse_fake: false, ..r2(4) };
    assert_eq!((overlapped(r2(4), false), overlapped(fresh.clone(), true), overlapped(fresh, false)), (0, 0, 2));
}

#[test]
fn without_sync_bn_the_ranks_agree_on_averaged_running_statistics() {
    // Each rank's running statistics follow its own rows; at a checkpoint the training loop
    // asks the ranks to agree, which averages them first.
    let gpu = common::gpu();
    let handles: Vec<_> = Threads::group(2)
        .into_iter()
        .map(|t| {
            let (gpu, cfg) = (gpu.clone(), r2(4));
            std::thread::spawn(move || {
                let (g, d) = cfg.init_params();
                let mut gan = DistGan::new(&gpu, cfg, &g, &d, 1, Box::new(t), false).unwrap();
                gan.train_steps(2);
                gan.stats().unwrap();
                let before = gan.gan.read_state().unwrap();
                gan.agree().expect("the ranks agree once the running statistics are averaged");
                (before, gan.gan.read_state().unwrap())
            })
        })
        .collect();
    let s: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_ne!(s[0].0.d_running, s[1].0.d_running, "each rank's own rows moved its running statistics");
    assert_eq!(s[0].1.d_running, s[1].1.d_running);
    assert_eq!(s[0].1.g_running, s[1].1.g_running);
    let mean = (s[0].0.d_running[0][0] + s[1].0.d_running[0][0]) / 2.0;
    assert!((s[0].1.d_running[0][0] - mean).abs() <= 1e-6 * mean.abs().max(1.0));
}

#[test]
fn batch_norm_tiles_count_every_value_once() {
    // The host side of SyncBN reads the tiles the kernels wrote: ragged tiles along both the
    // samples and the positions.
    use wgpu_gan::nn::batchnorm::{BnParams, BnSync};
    let gpu = common::gpu();
    let t = wgpu_gan::gpu::Tensor::zeros(&gpu, "part", 1).unwrap();
    let params = BnParams { n: 37, c: 2, hw: 5, n_per: 8, p_per: 2, p_splits: 3, ..Default::default() };
    let s = BnSync { backward: false, part: t.clone(), params, stats: t.buffer.clone(), running: None, grads: None };
    let counts = s.tile_counts();
    assert_eq!(counts.len(), 15); // 5 sample tiles × 3 position tiles
    assert_eq!(counts.iter().sum::<f64>(), 37.0 * 5.0);
    assert_eq!((counts[0], counts[2], counts[12], counts[14]), (16.0, 8.0, 10.0, 5.0)); // 8 × 2, 8 × 1, 5 × 2, 5 × 1
    // Per-tile means and centred sums of x = sample + 10·position, combined, are the whole's.
    let x = |n: usize, i: usize| (n + 10 * i) as f64;
    let mut part = vec![0.0f32; 2 * 15 * 2];
    for k in 0..15 {
        let (n0, i0) = ((k / 3) * 8, (k % 3) * 2);
        let vals: Vec<f64> = (n0..(n0 + 8).min(37)).flat_map(|n| (i0..(i0 + 2).min(5)).map(move |i| x(n, i))).collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        for ch in 0..2 {
            part[2 * k * 2 + ch] = mean as f32;
            part[(2 * k + 1) * 2 + ch] = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() as f32;
        }
    }
    let all: Vec<f64> = (0..37).flat_map(|n| (0..5).map(move |i| x(n, i))).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let m2 = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    for m in s.local_moments(&part) {
        assert_eq!(m[0], 185.0);
        assert!((m[1] - mean).abs() < 1e-9 && (m[2] - m2).abs() < 1e-6 * m2, "{m:?} against {mean}, {m2}");
    }
    // The backward sums add up over the tiles.
    let sums = BnSync { backward: true, ..s }.local_sums(&part);
    let want: f64 = (0..15).map(|k| part[2 * k * 2] as f64).sum();
    assert_eq!(sums[0], want);
}

#[test]
fn ranks_that_start_from_different_weights_are_refused() {
    let gpu = common::gpu();
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    cfg.batch = 8;
    let handles: Vec<_> = Threads::group(2)
        .into_iter()
        .map(|t| {
            let (gpu, mut cfg) = (gpu.clone(), cfg.clone());
            cfg.seed = t.rank() as u32; // a different seed on each rank
            std::thread::spawn(move || {
                let (g, d) = cfg.init_params();
                DistGan::new(&gpu, cfg, &g, &d, 1, Box::new(t), true).err().map(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        let e = h.join().unwrap().expect("a rank with other weights must be refused");
        assert!(e.contains("ranks [1]"), "{e}");
    }
}

#[test]
fn a_rank_that_stops_answering_is_an_error_not_a_hang() {
    let mut ranks = Threads::group(2);
    let lone = ranks.remove(0).with_timeout(std::time::Duration::from_millis(300));
    drop(ranks); // rank 1 never calls
    let t = std::time::Instant::now();
    let e = lone.sum(&mut [1.0]).unwrap_err().to_string();
    assert!(e.contains("did not answer") && t.elapsed().as_secs_f64() < 5.0, "{e}");
}

#[test]
fn an_odd_noise_size_is_refused_on_several_ranks() {
    let gpu = common::gpu();
    let mut cfg = GanConfig::r1(Mixture::ring(), 3, 16); // z_dim 3
    cfg.batch = 5;
    let t = Threads::group(2).remove(0);
    let (g, d) = cfg.init_params();
    let e = DistGan::new(&gpu, cfg, &g, &d, 1, Box::new(t), true).err().expect("refused").to_string();
    assert!(e.contains("even"), "{e}");
}
