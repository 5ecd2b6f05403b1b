//! Times R1 training iterations (k = 1: one D update on [fake; real], one G update through D) on the
//! GPU after warm-up, and prints one RESULT line per batch size in the format of
//! `scripts/torch_ring.py`, which is the PyTorch anchor to run beside it on the same machine.
//!
//!     cargo run --release --example ring_bench -- --batches 64,256,1024

use clap::Parser;
use std::time::Instant;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::{GanConfig, GpuGan};

#[derive(Parser)]
#[command(about = "Time R1 ring training iterations on the GPU")]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    /// Time the CPU reference's step instead (f64, one core: what a machine without any adapter
    /// gets; `--iters` steps are timed, and it is slow).
    #[arg(long)]
    cpu: bool,
    #[arg(long, default_value = "64,256,1024")]
    batches: String,
    /// Iterations per timed repetition.
    #[arg(long, default_value_t = 50)]
    iters: usize,
    /// Timed repetitions; the median is reported.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Also time each kernel of one step on its own (one submission each) and print the totals.
    #[arg(long)]
    profile: bool,
}

fn main() -> wgpu_gan::Result<()> {
    let a = Args::parse();
    if a.cpu {
        return cpu_reference(&a);
    }
    let gpu = a.device.open()?;
    for b in a.batches.split(',') {
        let batch: usize = b.trim().parse().map_err(|_| wgpu_gan::Error::Shape(format!("bad batch size {b:?}")))?;
        let mut cfg = GanConfig::r1(Mixture::ring(), 2, a.hidden);
        cfg.batch = batch; // optimizers: R1's defaults, as gaussian_ring and scripts/torch_ring.py use
        let (g, d) = cfg.init_params();
        let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 1)?;
        gan.train_steps(20); // pipelines compiled, first submissions done
        gan.stats()?;
        let mut times: Vec<f64> = (0..a.reps.max(1))
            .map(|_| {
                let t = Instant::now();
                gan.train_steps(a.iters);
                gan.gpu.wait().expect("device lost");
                t.elapsed().as_secs_f64() / a.iters as f64
            })
            .collect();
        gan.stats()?; // fails if training produced NaN: never time garbage
        times.sort_by(f64::total_cmp);
        let dt = times[times.len() / 2];
        // The host's share of a step: recording it, not submitting it.
        let record = gan.step_program().record_seconds(&gpu, 50);
        println!(
            "RESULT system=wgpu-gan model=R1-ring batch={batch} ms_per_iter={:.3} steps_per_s={:.1} dispatches={} record_ms={:.3}",
            dt * 1e3,
            1.0 / dt,
            gan.dispatches_per_step(),
            record * 1e3
        );
        if a.profile {
            for (name, t, count) in gan.step_program().profile_by_kernel(&gpu)? {
                println!("  {name:<40} {count:>3}x  {:>9.3} ms", t * 1e3);
            }
        }
    }
    Ok(())
}

/// `--cpu`: the same step on the CPU reference (f64, one core), median of `--reps` runs of
/// `--iters` steps.
fn cpu_reference(a: &Args) -> wgpu_gan::Result<()> {
    println!("adapter: none (CPU reference, --cpu)");
    for b in a.batches.split(',') {
        let batch: usize = b.trim().parse().map_err(|_| wgpu_gan::Error::Shape(format!("bad batch size {b:?}")))?;
        let mut cfg = GanConfig::r1(Mixture::ring(), 2, a.hidden);
        cfg.batch = batch;
        let (g, d) = cfg.init_params();
        let mut gan = wgpu_gan::gan::CpuGan::new(cfg, g, d)?;
        let mut times: Vec<f64> = (0..a.reps.max(1))
            .map(|_| {
                let t = Instant::now();
                for _ in 0..a.iters {
                    gan.train_step();
                }
                t.elapsed().as_secs_f64() / a.iters.max(1) as f64
            })
            .collect();
        wgpu_gan::gan::Trainer::stats(&gan)?;
        times.sort_by(f64::total_cmp);
        let dt = times[times.len() / 2];
        println!("RESULT system=wgpu-gan-cpu-reference model=R1-ring batch={batch} ms_per_iter={:.3} steps_per_s={:.1}", dt * 1e3, 1.0 / dt);
    }
    Ok(())
}
