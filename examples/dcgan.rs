//! R6, the DCGAN of PyTorch's `examples/dcgan`, on your own pictures or on data that needs no
//! download:
//!
//! ```sh
//! cargo run --release --example dcgan                                   # the shapes toy, 64 × 64 RGB
//! cargo run --release --example dcgan -- --dataset folder --dataroot ~/faces --image-size 64
//! cargo run --release --example dcgan -- --dataset fake --iters 5        # noise images, for timing
//! cargo run --release --example dcgan -- --dataset mnist --image-size 32 --nc 1
//! cargo run --release --example dcgan -- --verify                        # an R6 step, GPU vs CPU
//! cargo run --release --example dcgan -- --export shapes50k --images 50000  # the toy as PNG files
//! ```
//!
//! The networks, initialisation and optimizer are the example's (`--nz`, `--ngf`, `--ndf`, `--nc`,
//! `--image-size` as there). A data set that fits is held on the GPU; a folder too large for
//! that (or any data set with `--stream on`) is read as training goes: decoded on `--workers`
//! background threads a few steps ahead and uploaded before each step, in the same order
//! (host memory bounded by the read-ahead, not the folder; `--data-only` times that path alone).
//! Writes sample grids, the loss log and curve and a checkpoint to `--out` (default
//! `out/dcgan`); on the shapes toy it ends with mode coverage: how many of its 9 classes (shape
//! × colour) 1,000 generated images show.

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use wgpu_gan::data::images::{fake, shape_coverage, shapes, FolderOptions, ImageSet, SHAPE_CLASSES};
use wgpu_gan::data::stream::{FolderRows, PrefetchOptions, Prefetcher, RowSource, StepPlan, Stream};
use wgpu_gan::gan::images::{iterations, train, RunOptions};
use wgpu_gan::gan::{verify, DataSource, GanConfig, Table};
use wgpu_gan::gpu::{Gpu, Tensor};
use wgpu_gan::models::R6;
use wgpu_gan::nn::Mode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Dataset {
    /// Coloured shapes on a dark background, 9 classes, generated here (no download).
    Shapes,
    /// Every PNG and JPEG image under --dataroot, recursively.
    Folder,
    /// Uniform noise images (PyTorch's FakeData), for timing.
    Fake,
    /// The MNIST IDX files under --dataroot (default $MNIST_DIR), resized to --image-size.
    Mnist,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StreamMode {
    /// Stream a folder whose images, as f32, exceed what the device binds at once (or 2 GiB).
    Auto,
    /// Always read the data as training goes.
    On,
    /// Always hold the whole data set on the GPU.
    Off,
}

/// R6 (the DCGAN paper's model as PyTorch's examples/dcgan builds it) on an image data set.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    #[command(flatten)]
    dist: wgpu_gan::cli::DistArgs,
    #[arg(long, value_enum, default_value_t = Dataset::Shapes)]
    dataset: Dataset,
    /// The folder of images (--dataset folder) or of the MNIST files (--dataset mnist).
    #[arg(long)]
    dataroot: Option<PathBuf>,
    /// Side of the square images, a power of two from 16 (the example's 64).
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Channels: 3 (RGB) or 1 (grey); MNIST is always 1.
    #[arg(long, default_value_t = 3)]
    nc: usize,
    /// Size of the noise vector.
    #[arg(long, default_value_t = 100, value_parser = wgpu_gan::cli::at_least_one)]
    nz: usize,
    /// Width of the generator's last layer (the others double inward).
    #[arg(long, default_value_t = 64, value_parser = wgpu_gan::cli::at_least_one)]
    ngf: usize,
    /// Width of the discriminator's first layer.
    #[arg(long, default_value_t = 64, value_parser = wgpu_gan::cli::at_least_one)]
    ndf: usize,
    /// Images of the shapes toy or of fake noise to make (default 2,000); the most to read from a
    /// folder or from MNIST (default: all).
    #[arg(long, value_parser = wgpu_gan::cli::at_least_one)]
    images: Option<usize>,
    /// Folder images whose shorter side is below this many pixels are an error.
    #[arg(long, default_value_t = 16)]
    min_size: u32,
    /// Iterations (one D and one G update each); default 5 epochs.
    #[arg(long, value_parser = wgpu_gan::cli::at_least_one)]
    iters: Option<usize>,
    #[arg(long, default_value_t = 64, value_parser = wgpu_gan::cli::at_least_one)]
    batch: usize,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Output directory (sample grids, loss log and curve, checkpoint); default out/dcgan.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 250, value_parser = wgpu_gan::cli::at_least_one)]
    sample_every: usize,
    #[arg(long, default_value_t = 250, value_parser = wgpu_gan::cli::at_least_one)]
    checkpoint_every: usize,
    #[arg(long, default_value_t = 10, value_parser = wgpu_gan::cli::at_least_one)]
    log_every: usize,
    /// Continue from a checkpoint written by an earlier run (same model and data).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Start from these weights (G.<i>.* and D.<i>.*: scripts/from_pytorch.py --example turns
    /// PyTorch's examples/dcgan netG.pth and netD.pth into such a file).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Hold the data on the GPU or read it as training goes.
    #[arg(long, value_enum, default_value_t = StreamMode::Auto)]
    stream: StreamMode,
    /// Background threads decoding images when streaming (default: up to 4, one per core).
    #[arg(long, value_parser = wgpu_gan::cli::at_least_one)]
    workers: Option<usize>,
    /// Steps each worker reads ahead when streaming.
    #[arg(long, default_value_t = 2, value_parser = wgpu_gan::cli::at_least_one)]
    prefetch: usize,
    /// Time the data path alone for --iters steps (read, decode, upload; no training).
    #[arg(long)]
    data_only: bool,
    /// Write the data set's images as PNG files under this directory (1,000 to a subfolder) and stop.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Run --verify-steps steps at --verify-batch on the GPU and on the CPU reference and compare.
    #[arg(long)]
    verify: bool,
    #[arg(long, default_value_t = 8, value_parser = wgpu_gan::cli::at_least_one)]
    verify_batch: usize,
    #[arg(long, default_value_t = 1, value_parser = wgpu_gan::cli::at_least_one)]
    verify_steps: usize,
}

impl Args {
    /// Images of a generated data set: --images, or 2,000.
    fn made(&self) -> usize {
        self.images.unwrap_or(2000)
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    // One rank of a data-parallel run (--distributed, or started by mpirun), or a run alone.
    let rank = match a.dist.start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&a, rank.as_ref()) {
        Ok(code) => code,
        // An error on one rank stops them all (the others would wait for it forever).
        Err(e) if rank.is_some() => rank.expect("a rank").abort(&e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The data: images held in memory, or a folder read on demand.
enum Data {
    Held(ImageSet),
    Folder(FolderRows),
}

fn load(a: &Args, shape: &R6, gpu: &Gpu) -> wgpu_gan::Result<Data> {
    match a.dataset {
        Dataset::Shapes => shapes(a.made(), a.image_size, a.seed).map(Data::Held),
        Dataset::Fake => Ok(Data::Held(fake(a.made(), shape.nc, a.image_size, a.seed))),
        Dataset::Folder => {
            let dir = a.dataroot.clone().ok_or_else(|| wgpu_gan::Error::Data("--dataset folder needs --dataroot DIR".into()))?;
            let rows = FolderRows::scan(&dir, FolderOptions { size: a.image_size, nc: shape.nc, min_side: a.min_size, max_images: a.images })?;
            if let Some(r) = wgpu_gan::data::images::skipped_report(&rows.skipped) {
                eprintln!("warning: {r}");
            }
            if Some(rows.count()) == a.images {
                eprintln!("note: read the first {} images of {} in path order (--images raises the limit)", rows.count(), dir.display());
            }
            let l = gpu.device.limits();
            let room = l.max_storage_buffer_binding_size.min(l.max_buffer_size).min(2 << 30);
            let stream = a.data_only || match a.stream {
                StreamMode::On => true,
                StreamMode::Off => false,
                StreamMode::Auto => rows.bytes() > room,
            };
            if stream {
                return Ok(Data::Folder(rows));
            }
            let set = rows.load()?;
            if let Some(r) = set.skipped_report() {
                eprintln!("warning: while decoding: {r}");
            }
            Ok(Data::Held(set))
        }
        Dataset::Mnist => {
            let dir = wgpu_gan::data::mnist::resolve_dir(a.dataroot.as_deref())?;
            let m = wgpu_gan::data::mnist::Mnist::load(&dir, wgpu_gan::data::mnist::Split::Train)?;
            let n = m.count.min(a.images.unwrap_or(usize::MAX));
            let s = a.image_size;
            let mut rows = Vec::with_capacity(n * s * s);
            for i in 0..n {
                // Pixel values in [−1, 1] as bytes, resized with the folder reader's filter.
                let bytes: Vec<u8> = m.image(i).iter().map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8).collect();
                let img = image::GrayImage::from_raw(m.cols as u32, m.rows as u32, bytes).expect("an MNIST image");
                let r = image::imageops::resize(&img, s as u32, s as u32, image::imageops::FilterType::Triangle);
                rows.extend(r.pixels().map(|p| p.0[0] as f32 / 127.5 - 1.0));
            }
            Ok(Data::Held(ImageSet { rows, count: n, nc: 1, size: s, labels: None, skipped: Vec::new() }))
        }
    }
}

/// `--export`: the data set's images as PNG files, `dir/NNN/NNNNNN.png`. The shapes toy and the
/// fake images are made 1,000 at a time (seed + chunk), so any count fits in memory.
fn export(a: &Args, shape: &R6, dir: &std::path::Path) -> wgpu_gan::Result<ExitCode> {
    let s = a.image_size;
    let mut written = 0;
    let t = std::time::Instant::now();
    let total = a.made();
    while written < total {
        let chunk = (total - written).min(1000);
        let set = match a.dataset {
            Dataset::Shapes => shapes(chunk, s, a.seed + (written / 1000) as u32)?,
            Dataset::Fake => fake(chunk, shape.nc, s, a.seed + (written / 1000) as u32),
            _ => return Err(wgpu_gan::Error::Shape("--export writes the generated data sets: --dataset shapes or fake".into())),
        };
        let sub = dir.join(format!("{:03}", written / 1000));
        std::fs::create_dir_all(&sub)?;
        for i in 0..chunk {
            let img = wgpu_gan::plot::image_grid_channels(&set.rows[i * set.dim()..(i + 1) * set.dim()], 1, set.nc, s, s, 1, 1);
            img.save(sub.join(format!("{:06}.png", written + i))).map_err(|e| wgpu_gan::Error::Image(e.to_string()))?;
        }
        written += chunk;
        eprint!("\rwrote {written}/{total} images");
    }
    eprintln!();
    println!("wrote {written} PNG images of {} × {s} × {s} under {} in {:.0} s", shape.nc, dir.display(), t.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// `--data-only`: each step's rows read by the prefetcher and uploaded into a device buffer, as
/// a streamed training run does, timed without the training.
fn time_data_path(gpu: &Gpu, source: Arc<dyn RowSource>, plan: StepPlan, prefetch: PrefetchOptions, steps: usize) -> wgpu_gan::Result<()> {
    let dst = Tensor::zeros(gpu, "step_rows", plan.len(source.dim()))?;
    let t = std::time::Instant::now();
    let mut p = Prefetcher::start(source.clone(), plan, 0, prefetch);
    for s in 0..steps {
        let rows = p.next_rows()?;
        dst.write(gpu, &rows)?;
        if s % 10 == 9 {
            gpu.wait()?;
        }
    }
    gpu.wait()?;
    let secs = t.elapsed().as_secs_f64();
    let images = steps * plan.draws * plan.batch;
    println!(
        "data path alone ({} workers, {} steps ahead each): {steps} steps of {} images in {secs:.2} s: {:.0} images/s, {:.1} ms a step",
        prefetch.workers,
        prefetch.depth,
        plan.draws * plan.batch,
        images as f64 / secs,
        1e3 * secs / steps as f64
    );
    Ok(())
}

fn run(a: &Args, rank: Option<&wgpu_gan::cli::Rank>) -> wgpu_gan::Result<ExitCode> {
    if rank.is_some() && (a.verify || a.export.is_some() || a.data_only) {
        return Err(wgpu_gan::Error::Shape("--distributed trains: not with --verify, --export or --data-only".into()));
    }
    // Rank 0 of a data-parallel run speaks for all.
    let lead = rank.is_none_or(|r| r.leader());
    macro_rules! say {
        ($($t:tt)*) => {
            if lead {
                println!($($t)*);
            }
        };
    }
    let nc = if a.dataset == Dataset::Mnist { 1 } else { a.nc };
    if a.dataset == Dataset::Shapes && nc != 3 {
        return Err(wgpu_gan::Error::Shape("the shapes toy is RGB: --nc 3".into()));
    }
    let shape = R6 { image_size: a.image_size, nc, nz: a.nz, ngf: a.ngf, ndf: a.ndf };
    shape.validate()?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("out/dcgan"));
    if let Some(dir) = &a.export {
        return export(a, &shape, dir);
    }
    let gpu = a.device.open_for_rank(rank.map(|r| r.local_rank))?;
    let prefetch = PrefetchOptions { workers: a.workers.unwrap_or(PrefetchOptions::default().workers), depth: a.prefetch };
    let (data, count): (DataSource, usize) = match load(a, &shape, &gpu)? {
        Data::Folder(rows) => {
            say!("{:?}: {}, streamed (held whole they would take {:.0} MB as f32)", a.dataset, rows.describe(), rows.bytes() as f64 / 1e6);
            let n = rows.count();
            (DataSource::Stream(Stream { source: Arc::new(rows), prefetch }), n)
        }
        Data::Held(set) => {
            say!("{:?}: {} images of {} × {} × {}", a.dataset, set.count, set.nc, set.size, set.size);
            let (n, t) = (set.count, Arc::new(Table::new(set.rows, set.nc * set.size * set.size)?));
            if a.stream == StreamMode::On || a.data_only {
                (DataSource::Stream(Stream { source: t, prefetch }), n)
            } else {
                (DataSource::Table(t), n)
            }
        }
    };
    let mut cfg = GanConfig::r6(data, &shape);
    cfg.batch = a.batch;
    cfg.seed = a.seed;
    cfg.validate()?;
    if let DataSource::Stream(s) = &cfg.data {
        let plan = StepPlan { seed: cfg.seed, draws: cfg.k, batch: cfg.batch, ..Default::default() };
        let step_mb = (plan.len(s.source.dim()) * 4) as f64 / 1e6;
        say!(
            "streaming: {} workers, {} steps ahead each: at most {:.1} MB of rows read ahead, and {:.1} MB in upload buffers",
            prefetch.workers,
            prefetch.depth,
            prefetch.bound(plan.len(s.source.dim())) as f64 * 4.0 / 1e6,
            wgpu_gan::gan::STEPS_IN_FLIGHT as f64 * step_mb
        );
        if a.data_only {
            time_data_path(&gpu, s.source.clone(), plan, prefetch, a.iters.unwrap_or(100))?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    if a.verify {
        cfg.batch = a.verify_batch;
        say!("verify: {} steps of R6 {:?} at batch {} on the GPU and on the CPU reference", a.verify_steps, shape, cfg.batch);
        let t = std::time::Instant::now();
        let v = verify(&gpu, &cfg, a.verify_steps, cfg.batch, 5)?;
        say!("{v}");
        let ok = v.passed(1e-4);
        say!("{}: judged {:.2e}, tolerance 1e-4 ({:.0} s)", if ok { "verify: PASS" } else { "verify: FAIL" }, v.judged(), t.elapsed().as_secs_f64());
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    // Epochs count global batches: --batch rows from each rank.
    let ranks = rank.map_or(1, |r| r.ranks);
    let iters = iterations(a.iters, 5, count, a.batch * ranks)?;
    let opts = RunOptions {
        out: out.clone(),
        iters,
        sample_every: a.sample_every,
        checkpoint_every: a.checkpoint_every,
        log_every: a.log_every,
        resume: a.resume.clone(),
        init_from: a.init_from.clone(),
        grid: 64,
        grid_seed: 7,
        grid_mode: Mode::BatchStats,
        image_hw: (a.image_size, a.image_size),
        channels: nc,
    };
    let per_rank = rank.map_or(String::new(), |r| format!(" ({} ranks × {}, batch norm {})", r.ranks, cfg.batch, if r.sync_bn { "over the whole batch" } else { "per rank" }));
    say!("R6 {shape:?}: {iters} iterations at batch {}{per_rank}, G {:?}, D {:?}", cfg.batch * ranks, cfg.opt_g, cfg.opt_d);
    let t0 = std::time::Instant::now();
    let problems = match &cfg.data {
        DataSource::Stream(s) => Some(s.source.clone()),
        _ => None,
    };
    let (gan, start, s) = match rank {
        Some(r) => {
            // A checkpoint records the whole batch (ranks × --batch).
            let prepared = opts.prepare(&GanConfig { batch: cfg.batch * r.ranks, ..cfg.clone() })?;
            let grid = opts.grid;
            let make = |c: &GanConfig, g: &[Vec<f32>], d: &[Vec<f32>]| wgpu_gan::gan::dist::DistGan::new(&gpu, c.clone(), g, d, grid, r.group(), r.sync_bn);
            let (gan, _, start) = wgpu_gan::gan::images::train_on(make, cfg, &opts, prepared)?;
            let s = wgpu_gan::gan::Trainer::stats(&gan)?;
            (gan.gan, start, s)
        }
        None => {
            let (gan, _, start) = train(&gpu, cfg, &opts)?;
            let s = gan.stats()?;
            (gan, start, s)
        }
    };
    if !lead {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = problems.and_then(|s| s.problems()) {
        eprintln!("warning: while training: {p}");
    }
    let secs = t0.elapsed().as_secs_f64();
    let ran = iters - start;
    say!("{ran} iterations in {secs:.0} s ({:.3} s per iteration, {:.0} images/s)", secs / ran.max(1) as f64, (ran * a.batch * ranks) as f64 / secs.max(1e-9));
    say!("M4 at the end: D(x) {:.3}, D(G(z)) {:.3}, D accuracy on real {:.1}%, on fake {:.1}%; losses D {:.4}, G {:.4}", s.d_real, s.d_fake, 100.0 * s.acc_real, 100.0 * s.acc_fake, s.d_loss, s.g_loss);
    if a.dataset == Dataset::Shapes {
        let n = 1000.min(gan.sample_capacity());
        let mut imgs = Vec::new();
        // The sampler holds `grid` images at a time.
        let mut seed = 100;
        while imgs.len() < 1000 * 3 * a.image_size * a.image_size {
            imgs.extend(gan.sample(n, seed, Mode::BatchStats)?);
            seed += 1;
        }
        let total = imgs.len() / (3 * a.image_size * a.image_size);
        let (classes, clear, per) = shape_coverage(&imgs, total, a.image_size);
        say!("mode coverage: {classes}/{SHAPE_CLASSES} classes among {total} samples; {clear} ({:.1} %) read as one clear shape; per class {per:?}", 100.0 * clear as f64 / total as f64);
    }
    say!("wrote {0}/samples_final.png, {0}/loss_curve.png, {0}/losses.csv, {0}/checkpoint.safetensors", out.display());
    Ok(ExitCode::SUCCESS)
}
