//! Times R2 (DCGAN-MNIST) training iterations on the GPU — one D phase (G forward, D on real and on
//! generated, D backward, Adam) and one G phase (D forward, D backward to its input, G backward,
//! Adam) — after warm-up, and prints one RESULT line per batch size in the format of
//! ../shared/bench/torch_dcgan.py, the PyTorch anchor to run beside it on the same machine.
//! Like the anchor it times compute, not data loading: the real batch is drawn from a table of
//! random images held on the GPU.
//!
//!     cargo run --release --example dcgan_bench -- --batches 64,256,1024
//!     cargo run --release --example dcgan_bench -- --model r6 --batches 64,128 [--stream]
//!
//! `--model r6` times R6 (PyTorch's examples/dcgan at 64 × 64 RGB) instead, beside
//! `scripts/dcgan_example.py bench`; `--stream` feeds it through the streamed data path (rows
//! read by background threads and uploaded before each step) instead of the table on the GPU.

use clap::Parser;
use std::sync::Arc;
use std::time::Instant;
use wgpu_gan::data::stream::Stream;
use wgpu_gan::gan::{DataSource, GanConfig, GpuGan, Table};

#[derive(Parser)]
#[command(about = "Time R2 DCGAN-MNIST training iterations on the GPU")]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    /// Time the CPU reference's step instead (f64, one core: what a machine without any adapter
    /// gets; `--iters` steps are timed, and it is slow).
    #[arg(long)]
    cpu: bool,
    #[arg(long, default_value = "64,256,1024")]
    batches: String,
    /// Timed iterations per batch size (each synchronised; the median is reported).
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Untimed iterations first (pipeline compilation, first submissions).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Also time each kernel of one step on its own (one submission each) and print the totals.
    #[arg(long)]
    profile: bool,
    /// r2 (DCGAN-MNIST) or r6 (PyTorch's examples/dcgan, 3 × --image-size²).
    #[arg(long, default_value = "r2")]
    model: String,
    /// R6's image size.
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Feed the real batches through the streamed data path.
    #[arg(long)]
    stream: bool,
}

/// The config to time: R2 or R6 on a table of random images (or streamed from it).
fn config(a: &Args, batch: usize) -> wgpu_gan::Result<GanConfig> {
    let (dim, rows) = match a.model.as_str() {
        "r2" => (784, 2048),
        "r6" => (3 * a.image_size * a.image_size, 512),
        m => return Err(wgpu_gan::Error::Shape(format!("--model {m}: r2 or r6"))),
    };
    let table = Arc::new(Table::new(wgpu_gan::rng::uniform_fill(1, 1, rows * dim, -1.0, 1.0), dim)?);
    let data = if a.stream { DataSource::Stream(Stream::new(table)) } else { DataSource::Table(table) };
    let mut cfg = if a.model == "r2" {
        GanConfig { data, ..GanConfig::r2(Arc::new(Table::new(vec![0.0; dim], dim)?)) }
    } else {
        let shape = wgpu_gan::models::R6 { image_size: a.image_size, ..Default::default() };
        shape.validate()?;
        GanConfig::r6(data, &shape)
    };
    cfg.batch = batch;
    cfg.validate()?;
    Ok(cfg)
}

/// FLOP (2 per multiply-add) of one R2 iteration per sample, as this benchmark and the PyTorch
/// anchor run it (one G forward, reused by the G phase). Multiply-adds, in millions: G forward
/// 7.25; D forward on real and on fake 2 × 6.63; D backward on both, weights 2 × 6.63 and input
/// gradients below conv1 2 × 6.43; G phase D forward 6.63 and input gradients 6.63; G backward,
/// weights 7.25 and input gradients below the Linear layer 6.62: 73.8 M, 147.5 MFLOP. (SPEC.md's
/// 163 MFLOP counts a second generator forward pass.)
const FLOP_PER_SAMPLE: f64 = 147.5e6;

fn main() -> wgpu_gan::Result<()> {
    let a = Args::parse();
    if a.cpu {
        return cpu_reference(&a);
    }
    let gpu = a.device.open()?;
    for b in a.batches.split(',') {
        let batch: usize = b.trim().parse().map_err(|_| wgpu_gan::Error::Shape(format!("bad batch size {b:?}")))?;
        let cfg = config(&a, batch)?;
        let (g, d) = cfg.init_params();
        let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 1)?;
        gan.train_steps(a.warmup.max(1));
        gan.stats()?;
        let mut times: Vec<f64> = (0..a.iters.max(1))
            .map(|_| {
                let t = Instant::now();
                gan.train_steps(1);
                gan.gpu.wait()?;
                Ok(t.elapsed().as_secs_f64())
            })
            .collect::<wgpu_gan::Result<_>>()?;
        gan.stats()?; // fails if training produced NaN: never time garbage
        if a.profile {
            for (name, t, count) in gan.step_program().profile_by_kernel(&gpu)? {
                println!("  {name:<40} {count:>3}x  {:>9.2} ms", t * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let dt = times[times.len() / 2];
        // The host's share of a step: recording it, not submitting it.
        let record = gan.step_program().record_seconds(&gpu, 20);
        // (FLOPs counted for R2 only.)
        let gflops = if a.model == "r2" { FLOP_PER_SAMPLE * batch as f64 / dt / 1e9 } else { 0.0 };
        println!(
            "RESULT system=wgpu-gan{} model={} batch={batch} ms_per_iter={:.3} img_per_s={:.0} gflop_per_s={gflops:.1} dispatches={} record_ms={:.3}",
            if a.stream { "-streamed" } else { "" },
            a.model.to_uppercase(),
            dt * 1e3,
            batch as f64 / dt,
            gan.dispatches_per_step(),
            record * 1e3
        );
    }
    Ok(())
}

/// `--cpu`: the same step on the CPU reference (f64, one core), median of `--iters` steps.
fn cpu_reference(a: &Args) -> wgpu_gan::Result<()> {
    println!("adapter: none (CPU reference, --cpu)");
    for b in a.batches.split(',') {
        let batch: usize = b.trim().parse().map_err(|_| wgpu_gan::Error::Shape(format!("bad batch size {b:?}")))?;
        let cfg = config(a, batch)?;
        let (g, d) = cfg.init_params();
        let mut gan = wgpu_gan::gan::CpuGan::new(cfg, g, d)?;
        let mut times: Vec<f64> = (0..a.iters.max(1))
            .map(|_| {
                let t = Instant::now();
                gan.train_step();
                t.elapsed().as_secs_f64()
            })
            .collect();
        wgpu_gan::gan::Trainer::stats(&gan)?;
        times.sort_by(f64::total_cmp);
        let dt = times[times.len() / 2];
        println!("RESULT system=wgpu-gan-cpu-reference model={} batch={batch} ms_per_iter={:.3} img_per_s={:.0} gflop_per_s={:.2}", a.model.to_uppercase(), dt * 1e3, batch as f64 / dt, if a.model == "r2" { FLOP_PER_SAMPLE * batch as f64 / dt / 1e9 } else { 0.0 });
    }
    Ok(())
}
