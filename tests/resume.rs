//! Checkpoints: a run resumed from a checkpoint continues exactly as the uninterrupted run (the
//! random numbers and the data order are functions of (seed, step), both stored), and a damaged or
//! foreign checkpoint is refused with a message saying what is wrong.

mod common;
use std::sync::Arc;
use wgpu_gan::gan::{load_checkpoint, save_checkpoint, GanConfig, GpuGan, Table};

fn cfg() -> GanConfig {
    let rows = wgpu_gan::rng::uniform_fill(5, 5, 50 * 784, -1.0, 1.0);
    let mut c = GanConfig::r2(Arc::new(Table::new(rows, 784).unwrap()));
    c.batch = 4;
    c.seed = 11;
    c
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wgpu-gan-resume-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn resumed_run_matches_uninterrupted_run() {
    let gpu = common::gpu();
    let c = cfg();
    let (g0, d0) = c.init_params();
    // 14 steps at batch 4 cross an epoch boundary of the 50-image table (12.5 steps per epoch).
    let mut straight = GpuGan::new(&gpu, c.clone(), &g0, &d0, 4).unwrap();
    let mut losses_straight = Vec::new();
    for _ in 0..14 {
        straight.train_steps(1);
        losses_straight.push(straight.stats().unwrap());
    }
    let mut first = GpuGan::new(&gpu, c.clone(), &g0, &d0, 4).unwrap();
    let mut losses = Vec::new();
    for _ in 0..6 {
        first.train_steps(1);
        losses.push(first.stats().unwrap());
    }
    let path = dir("ok").join("checkpoint.safetensors");
    save_checkpoint(&path, &c, &first.read_state().unwrap()).unwrap();
    drop(first);
    // A fresh process would start from other initial weights: load everything from the file.
    let mut other = c.clone();
    other.seed = 999;
    let (state, seed) = load_checkpoint(&path, &other).unwrap();
    assert_eq!((seed, state.step), (11, 6));
    other.seed = seed;
    let (g1, d1) = other.init_params();
    let mut resumed = GpuGan::new(&gpu, other, &g1, &d1, 4).unwrap();
    resumed.load_state(&state).unwrap();
    for _ in 6..14 {
        resumed.train_steps(1);
        losses.push(resumed.stats().unwrap());
    }
    for (i, (a, b)) in losses.iter().zip(&losses_straight).enumerate() {
        println!("step {}: D {:.6} / {:.6}, G {:.6} / {:.6}", i + 1, a.d_loss, b.d_loss, a.g_loss, b.g_loss);
    }
    // The same kernels on the same inputs in the same order: the match is exact.
    assert_eq!(losses, losses_straight, "resumed losses differ from the uninterrupted run's");
    assert_eq!(resumed.read_state().unwrap(), straight.read_state().unwrap(), "resumed state differs");
}

#[test]
fn damaged_or_foreign_checkpoints_are_refused() {
    let gpu = common::gpu();
    let c = cfg();
    let (g0, d0) = c.init_params();
    let mut gan = GpuGan::new(&gpu, c.clone(), &g0, &d0, 4).unwrap();
    gan.train_steps(1);
    let d = dir("bad");
    let good = d.join("good.safetensors");
    save_checkpoint(&good, &c, &gan.read_state().unwrap()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let err = |path: &std::path::Path, cfg: &GanConfig| load_checkpoint(path, cfg).err().map(|e| e.to_string()).unwrap_or_default();

    let cut = d.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = err(&cut, &c);
    println!("truncated: {e}");
    assert!(e.contains("truncated"), "{e}");

    let foreign = d.join("foreign.safetensors");
    std::fs::write(&foreign, b"not a checkpoint at all, just text").unwrap();
    let e = err(&foreign, &c);
    println!("foreign: {e}");
    assert!(!e.is_empty() && e.contains("foreign.safetensors"), "{e}");

    let mut r5 = GanConfig::r5(match &c.data {
        wgpu_gan::gan::DataSource::Table(t) => t.clone(),
        _ => unreachable!(),
    });
    r5.batch = 4;
    let e = err(&good, &r5);
    println!("other model: {e}");
    assert!(e.contains("generator"), "{e}");

    let missing = d.join("missing.safetensors");
    let e = err(&missing, &c);
    println!("missing: {e}");
    assert!(e.contains("missing.safetensors"), "{e}");
}

/// The three periods of a run (losses, sample grids, checkpoints) are independent: grids every 7
/// iterations with the losses read every 10 come out at 7 and 14, not at the log's 10 and 20
/// (they used to wait for a log chunk that crossed their multiple), while the loss log keeps rows
/// only at multiples of 10 and at the end.
#[test]
fn run_periods_are_independent() {
    use wgpu_gan::gan::images::{train, RunOptions};
    let gpu = common::gpu();
    let out = std::env::temp_dir().join(format!("wgpu-gan-periods-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut cfg = GanConfig::r5(Arc::new(Table::new(wgpu_gan::rng::uniform_fill(5, 1, 64 * 784, -1.0, 1.0), 784).unwrap()));
    cfg.batch = 8;
    let opts = RunOptions {
        out: out.clone(),
        iters: 20,
        sample_every: 7,
        checkpoint_every: 1000,
        log_every: 10,
        resume: None, init_from: None,
        grid: 4,
        grid_seed: 1,
        grid_mode: wgpu_gan::nn::Mode::Eval,
        image_hw: (28, 28),
        channels: 1,
    };
    let (_, rows, _) = train(&gpu, cfg, &opts).unwrap();
    let mut grids: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.starts_with("samples_0")).collect();
    grids.sort();
    println!("grids: {grids:?}; log rows at {:?}", rows.iter().map(|r| r.step).collect::<Vec<_>>());
    assert_eq!(grids, ["samples_000007.png", "samples_000014.png"]);
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [10, 20]);
    let _ = std::fs::remove_dir_all(&out);
}

/// `--cpu`: the same training loop on the CPU reference writes the same files, resumes exactly
/// (4 + 4 iterations give the 8-iteration run's weights bit for bit), and its checkpoint resumes
/// on the GPU too.
#[test]
fn cpu_training_loop_resumes_exactly_and_hands_over_to_the_gpu() {
    use wgpu_gan::gan::images::{train, train_cpu, RunOptions};
    let dir = std::env::temp_dir().join(format!("wgpu-gan-cpu-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = GanConfig::r5(Arc::new(Table::new(wgpu_gan::rng::uniform_fill(9, 1, 64 * 784, -1.0, 1.0), 784).unwrap()));
    cfg.batch = 8;
    let opts = |out: &str, iters: usize, resume: Option<std::path::PathBuf>| RunOptions {
        out: dir.join(out),
        iters,
        sample_every: 1000,
        checkpoint_every: 1000,
        log_every: 2,
        resume, init_from: None,
        grid: 4,
        grid_seed: 1,
        grid_mode: wgpu_gan::nn::Mode::Eval,
        image_hw: (28, 28),
        channels: 1,
    };
    let (straight, rows, _) = train_cpu(cfg.clone(), &opts("straight", 8, None)).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(dir.join("straight/samples_final.png").is_file() && dir.join("straight/checkpoint.safetensors").is_file());
    train_cpu(cfg.clone(), &opts("split", 4, None)).unwrap();
    let (resumed, rows, start) = train_cpu(cfg.clone(), &opts("split", 8, Some(dir.join("split/checkpoint.safetensors")))).unwrap();
    assert_eq!((start, rows.len()), (4, 4));
    assert_eq!(resumed.read_state(), straight.read_state(), "4 + 4 CPU iterations differ from 8");
    // The CPU's checkpoint continues on the GPU.
    let gpu = common::gpu();
    let (gan, _, start) = train(&gpu, cfg.clone(), &opts("split", 10, Some(dir.join("split/checkpoint.safetensors")))).unwrap();
    assert_eq!((start, gan.steps_done()), (8, 10));
    // What a run prepared (read once, before any GPU work) is the checkpoint its options name:
    // prepared with one, the same checkpoint continues; prepared without, a run whose options
    // resume is refused rather than started fresh.
    use wgpu_gan::gan::images::{prepare_run, train_cpu_prepared};
    let ck = dir.join("split/checkpoint.safetensors");
    let o = opts("split", 11, Some(ck.clone()));
    let (_, _, start) = train_cpu_prepared(cfg.clone(), &o, prepare_run(&cfg, &o.out, Some(&ck), None).unwrap()).unwrap();
    assert_eq!(start, 10);
    let err = train_cpu_prepared(cfg.clone(), &o, prepare_run(&cfg, &o.out, None, None).unwrap()).err().expect("a mismatched preparation is refused");
    assert!(err.to_string().contains("prepare with the same options"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
