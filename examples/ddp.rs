//! Data-parallel training over MPI (issue 26): the equivalence check and the timing.
//!
//! ```text
//! # 2 ranks × batch B against one process at 2B, 3 steps each judged (exit code 1 above 1e-5):
//! mpirun -np 2 target/release/examples/ddp --check --model r2 --batch 8
//! # Step time and what the exchanges cost, on N ranks (N = 1: the same program without peers):
//! mpirun -np 2 target/release/examples/ddp --bench --model r2 --batch 32 --steps 10
//! ```
//!
//! Build with `cargo build --release --features mpi --example ddp`. R2 reads MNIST from
//! $MNIST_DIR (or --mnist-dir) when it is there, and 28 × 28 noise images otherwise (the check
//! needs R2's shapes, not digits).

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::dist::{check_against_one, DistGan};
use wgpu_gan::gan::{GanConfig, GpuGan, Table, Trainer};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    #[command(flatten)]
    dist: wgpu_gan::cli::DistArgs,
    /// R1 (the ring's MLPs) or R2 (DCGAN-MNIST).
    #[arg(long, default_value = "r1", value_parser = ["r1", "r2"])]
    model: String,
    /// Rows per rank (each global batch is ranks × batch).
    #[arg(long, default_value_t = 16, value_parser = wgpu_gan::cli::at_least_one)]
    batch: usize,
    #[arg(long, default_value_t = 3, value_parser = wgpu_gan::cli::at_least_one)]
    steps: usize,
    /// Judge the ranks' steps against one process at the whole batch.
    #[arg(long, conflicts_with = "bench")]
    check: bool,
    /// Time the steps and the exchanges.
    #[arg(long)]
    bench: bool,
    #[arg(long, default_value_t = 1e-5)]
    tolerance: f32,
    #[arg(long)]
    mnist_dir: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let mut a = Args::parse();
    // Always one rank of an MPI run (mpirun -np 1, or no mpirun: a world of one).
    a.dist.distributed = true;
    let rank = match a.dist.start() {
        Ok(Some(r)) => r,
        Ok(None) => unreachable!("asked to join"),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&a, &rank) {
        Ok(code) => code,
        Err(e) => rank.abort(&e.to_string()),
    }
}

fn config(a: &Args, lead: bool) -> wgpu_gan::Result<GanConfig> {
    let mut cfg = if a.model == "r1" {
        GanConfig::r1(Mixture::ring(), 2, 128)
    } else {
        let table = match wgpu_gan::data::mnist::resolve_dir(a.mnist_dir.as_deref()).and_then(|d| wgpu_gan::data::mnist::Mnist::load(&d, wgpu_gan::data::mnist::Split::Train)) {
            Ok(m) => Table::new(m.images, 784)?,
            Err(e) => {
                if lead {
                    println!("R2 on 28 × 28 noise images (no MNIST: {e})");
                }
                Table::new(wgpu_gan::rng::uniform_fill(7, 0, 256 * 784, -1.0, 1.0), 784)?
            }
        };
        GanConfig::r2(Arc::new(table))
    };
    cfg.batch = a.batch;
    Ok(cfg)
}

fn run(a: &Args, rank: &wgpu_gan::cli::Rank) -> wgpu_gan::Result<ExitCode> {
    let lead = rank.leader();
    let gpu = a.device.open_for_rank(Some(rank.local_rank))?;
    let cfg = config(a, lead)?;
    let what = format!("{}, {} ranks × batch {}, SyncBN {}", a.model.to_uppercase(), rank.ranks, a.batch, if rank.sync_bn { "on" } else { "off" });
    if a.check || !a.bench {
        let checks = check_against_one(&gpu, &cfg, rank.group(), a.steps, rank.sync_bn)?;
        if !lead {
            return Ok(ExitCode::SUCCESS);
        }
        println!("{what} against 1 process × batch {}, each step from the same state (max relative error):", rank.ranks * a.batch);
        println!("step  stats     D grads   G grads   weights   run. var  | reported: run. mean  free-running weights  weights left out");
        let mut worst = 0.0f32;
        for c in &checks {
            println!(
                "{:>4}  {:.2e}  {:.2e}  {:.2e}  {:.2e}  {:.2e}  |           {:.2e}  {:.2e}             {} of {}",
                c.step, c.stats, c.d_grads, c.g_grads, c.weights, c.running_var, c.running_mean, c.drift, c.left_out.0, c.left_out.1
            );
            worst = worst.max(c.worst());
        }
        let ok = worst <= a.tolerance;
        println!("{}: worst judged {worst:.2e}, tolerance {:.0e}", if ok { "check: PASS" } else { "check: FAIL" }, a.tolerance);
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    // --bench: a warm-up step, then `steps` timed one by one (each waits for the GPU).
    let (g0, d0) = cfg.init_params();
    let mut gan = DistGan::new(&gpu, cfg.clone(), &g0, &d0, 1, rank.group(), rank.sync_bn)?;
    gan.train_steps(1);
    gan.stats()?;
    let before = gan.comm();
    let mut times = Vec::new();
    for _ in 0..a.steps {
        let t = Instant::now();
        gan.train_steps(1);
        gan.gan.gpu.wait()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let after = gan.comm();
    gan.stats()?;
    // Rank 0 alone, the plain step at this rank's batch (no exchange, no pass break).
    let plain = if lead && rank.ranks == 1 {
        let mut one = GpuGan::new(&gpu, cfg, &g0, &d0, 1)?;
        one.train_steps(1);
        one.stats()?;
        let mut t = Vec::new();
        for _ in 0..a.steps {
            let s = Instant::now();
            one.train_steps(1);
            one.gpu.wait()?;
            t.push(s.elapsed().as_secs_f64());
        }
        Some(median(&mut t))
    } else {
        None
    };
    if lead {
        let n = a.steps as f64;
        let calls = (after.calls - before.calls) as f64 / n;
        let bytes = (after.bytes - before.bytes) as f64 / n;
        println!("{what}: {} timed steps", a.steps);
        println!(
            "  step (median) {:.1} ms; per step: {calls:.0} exchanges, {:.2} MB given, {:.1} ms from readback to write-back, {:.1} ms of it in the exchanges",
            1e3 * median(&mut times),
            bytes / 1e6,
            1e3 * (after.seconds - before.seconds) / n,
            1e3 * (after.exchange_seconds - before.exchange_seconds) / n
        );
        if let Some(p) = plain {
            println!("  the plain step of one process at batch {} (no exchange points): {:.1} ms", a.batch, 1e3 * p);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
