//! Where a training step's time goes: every dispatch of an R1 (ring) and an R2 (DCGAN-MNIST) step
//! at the batch sizes users train with, each timed on its own (one submission, synchronised,
//! median of --reps), with its shape, loop count per invocation, time, GFLOP/s for the matrix and
//! convolution kernels, and share of the step; then the same per kernel. The header names the
//! kernel family (`WGPU_GAN_KERNELS=direct` for the other one) and the clock.
//!
//!     cargo run --release --example kernel_bench -- --models r1,r2 --batches 64,256,1024
//!
//! Timed with timestamp queries around each dispatch's pass where the device has them (lavapipe
//! does), else (or with --wall-clock) by the wall clock per submission, which includes the
//! adapter's submission overhead (~0.1 ms on lavapipe). Run it on a quiet machine.

use clap::Parser;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::{GanConfig, GpuGan, Table};
use wgpu_gan::gpu::{Dispatch, Gpu};

#[derive(Parser)]
#[command(about = "Time every kernel of an R1 and an R2 training step")]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    #[arg(long, default_value = "r1,r2")]
    models: String,
    #[arg(long, default_value = "64,256,1024")]
    batches: String,
    /// Timed runs of each dispatch; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Print every dispatch, not only the per-kernel totals.
    #[arg(long)]
    each: bool,
    /// Time by the wall clock around each submission even where timestamp queries exist.
    #[arg(long)]
    wall_clock: bool,
}

/// Floating-point operations of a matrix or convolution dispatch, as its kernel declaration
/// counts them (multiply-adds × 2, taps in the padding counted); None for the others.
fn flop(d: &Dispatch) -> Option<f64> {
    (d.flops > 0.0).then_some(d.flops)
}

fn shape(d: &Dispatch) -> String {
    let w: Vec<String> = d.params.chunks_exact(4).take(20).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string()).collect();
    format!("[{}]", w.join(","))
}

/// How one dispatch is timed: with timestamp queries around its compute pass where the device has
/// them (the GPU's own clock, no submission cost), by the wall clock around a synchronised
/// submission otherwise.
struct Clock {
    queries: Option<(wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer)>,
}

impl Clock {
    fn new(gpu: &Gpu, wall: bool) -> Clock {
        let has = gpu.device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let queries = (has && !wall).then(|| {
            let qs = gpu.device.create_query_set(&wgpu::QuerySetDescriptor { label: Some("kernel_bench"), ty: wgpu::QueryType::Timestamp, count: 2 });
            let buf = |usage| gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some("kernel_bench"), size: 16, usage, mapped_at_creation: false });
            (qs, buf(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC), buf(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST))
        });
        Clock { queries }
    }

    fn what(&self) -> &'static str {
        if self.queries.is_some() {
            "timestamp queries"
        } else {
            "wall clock per submission"
        }
    }

    /// Seconds one run of `d` takes.
    fn time(&self, gpu: &Gpu, d: &Dispatch) -> wgpu_gan::Result<f64> {
        let s = Instant::now();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        // A launch that reads buffers through textures copies them in first (not timed by the
        // queries, which time the pass; the wall clock includes them).
        d.copy_mirrors(&mut enc);
        {
            let timestamp_writes = self.queries.as_ref().map(|(qs, _, _)| wgpu::ComputePassTimestampWrites { query_set: qs, beginning_of_pass_write_index: Some(0), end_of_pass_write_index: Some(1) });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
            d.record(&mut pass);
        }
        if let Some((qs, resolve, read)) = &self.queries {
            enc.resolve_query_set(qs, 0..2, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, read, 0, 16);
        }
        gpu.queue.submit([enc.finish()]);
        gpu.wait()?;
        let wall = s.elapsed().as_secs_f64();
        let Some((_, _, read)) = &self.queries else { return Ok(wall) };
        read.slice(..).map_async(wgpu::MapMode::Read, |_| {});
        gpu.wait()?;
        let ticks: [u64; 2] = {
            let view = read.slice(..).get_mapped_range().map_err(|e| wgpu_gan::Error::Readback(e.to_string()))?;
            bytemuck::pod_read_unaligned(&view[..16])
        };
        read.unmap();
        Ok(ticks[1].saturating_sub(ticks[0]) as f64 * gpu.queue.get_timestamp_period() as f64 * 1e-9)
    }
}

fn bench(gpu: &Gpu, name: &str, batch: usize, gan: &mut GpuGan, a: &Args) -> wgpu_gan::Result<()> {
    gan.train_steps(2);
    gan.stats()?;
    let prog = gan.step_program();
    let clock = Clock::new(gpu, a.wall_clock);
    let mut rows = Vec::new();
    for d in &prog.dispatches {
        let mut t: Vec<f64> = (0..a.reps.max(1)).map(|_| clock.time(gpu, d)).collect::<wgpu_gan::Result<_>>()?;
        t.sort_by(f64::total_cmp);
        rows.push((d, t[t.len() / 2]));
    }
    let total: f64 = rows.iter().map(|r| r.1).sum();
    println!("\n{name} step at batch {batch}: {} dispatches, {:.1} ms summed over dispatches ({}); kernels: {}", rows.len(), total * 1e3, clock.what(), wgpu_gan::ops::conv_gemm::KernelFamily::of(gpu).name());
    if a.each {
        println!("{:>3}  {:<40} {:>14} {:>7} {:>10} {:>8} {:>6}  uniform words", "#", "kernel", "workgroups", "trips", "ms", "GFLOP/s", "share");
        for (i, (d, t)) in rows.iter().enumerate() {
            let g = flop(d).map_or("".to_string(), |f| format!("{:.2}", f / t / 1e9));
            println!("{i:>3}  {:<40} {:>14} {:>7} {:>10.3} {:>8} {:>5.1}%  {}", d.name, format!("{:?}", d.groups), d.trips, t * 1e3, g, 100.0 * t / total, shape(d));
        }
    }
    let mut by: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for (d, t) in &rows {
        let e = by.entry(d.name.as_str()).or_default();
        e.0 += 1;
        e.1 += t;
        e.2 += flop(d).unwrap_or(0.0);
    }
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    println!("{:<40} {:>5} {:>10} {:>8} {:>6}", "kernel", "count", "ms", "GFLOP/s", "share");
    for (k, (c, t, f)) in by {
        let g = if f > 0.0 { format!("{:.2}", f / t / 1e9) } else { String::new() };
        println!("{k:<40} {c:>5} {:>10.3} {g:>8} {:>5.1}%", t * 1e3, 100.0 * t / total);
    }
    Ok(())
}

fn main() -> wgpu_gan::Result<()> {
    let a = Args::parse();
    let gpu = a.device.open()?;
    for model in a.models.split(',') {
        for b in a.batches.split(',') {
            let batch: usize = b.trim().parse().map_err(|_| wgpu_gan::Error::Shape(format!("bad batch size {b:?}")))?;
            let mut cfg = match model.trim() {
                "r1" => GanConfig::r1(Mixture::ring(), 2, 128),
                "r2" => GanConfig::r2(Arc::new(Table::new(wgpu_gan::rng::uniform_fill(1, 1, 2048 * 784, -1.0, 1.0), 784)?)),
                other => return Err(wgpu_gan::Error::Shape(format!("unknown model {other:?} (r1 or r2)"))),
            };
            cfg.batch = batch;
            let (g, d) = cfg.init_params();
            let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 1)?;
            bench(&gpu, &model.to_uppercase(), batch, &mut gan, &a)?;
        }
    }
    // What the tuner chose (src/gpu/tune.rs): remembered from earlier runs or timed in this one.
    let choices = gpu.tuned_choices();
    if gpu.tuning() && !choices.is_empty() {
        println!("\nkernel choices on this adapter (the tuner's cache):");
        for (key, choice) in choices {
            println!("  {key:60} {choice}");
        }
    }
    Ok(())
}
