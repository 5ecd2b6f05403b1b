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
    device: wgpu_gan::gpu::DeviceArgs,
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
}

fn main() -> wgpu_gan::Result<()> {
    let a = Args::parse();
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
        println!(
            "RESULT system=wgpu-gan model=R1-ring batch={batch} ms_per_iter={:.3} steps_per_s={:.1} dispatches={}",
            dt * 1e3,
            1.0 / dt,
            gan.dispatches_per_step()
        );
    }
    Ok(())
}
