//! The training loop of the MNIST examples (`dcgan_mnist`, `mlp_gan_mnist`): progress bar, loss
//! log and curve, sample grids from fixed noise, checkpoints and resuming.

use super::{load_checkpoint, save_checkpoint, CpuGan, GanConfig, GanState, GpuGan, Stats, Trainer};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::nn::Mode;
use crate::plot;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where and how often a run writes what it writes.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("RunOptions_{}", std::process::id()));
/// // `cfg`: a tiny GAN of 4 × 4 grey images.
/// let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1,
///     resume: None, init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// train_cpu(cfg, &opts)?;
/// for f in ["losses.csv", "samples_000002.png", "samples_final.png", "checkpoint.safetensors", "loss_curve.png"] {
///     assert!(out.join(f).exists(), "{f}");
/// }
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out: PathBuf,
    /// Total iterations (a resumed run continues up to this number).
    pub iters: usize,
    /// Write a sample grid every this many iterations (and at the end).
    pub sample_every: usize,
    /// Write `checkpoint.safetensors` every this many iterations (and at the end).
    pub checkpoint_every: usize,
    /// Read the losses every this many iterations (each read waits for the GPU).
    pub log_every: usize,
    pub resume: Option<PathBuf>,
    /// Start from these weights instead of the config's initialisation: a weights-only
    /// safetensors file (PyTorch's `save_file`) holding `G.<index>.<name>` and `D.<index>.<name>`
    /// (see [`crate::interop`]). Ignored when resuming.
    pub init_from: Option<PathBuf>,
    /// Samples in a grid (a square number looks best) and the seed of their fixed noise.
    pub grid: usize,
    pub grid_seed: u32,
    /// Batch normalisation statistics for the grids.
    pub grid_mode: Mode,
    /// Image height and width of a sample.
    pub image_hw: (usize, usize),
    /// Channels of a sample (1: grey, 3: RGB), stored plane after plane.
    pub channels: usize,
}

/// Iterations of a run: `iters` when given, else `epochs` passes over `images` at `batch`, with
/// checked arithmetic (a huge `--epochs` is an error, not a wrapped count) and at least one.
///
/// ```
/// use wgpu_gan::gan::images::iterations;
/// assert_eq!(iterations(None, 2, 60_000, 64)?, 1875);    // 2 epochs of MNIST
/// assert_eq!(iterations(Some(10), 2, 60_000, 64)?, 10);  // --iters wins
/// assert!(iterations(None, 1, 50, 64).is_err());         // the batch is larger than the data
/// assert!(iterations(None, usize::MAX, 60_000, 64).is_err());
/// assert!(iterations(Some(0), 2, 60_000, 64).unwrap_err().to_string().contains("--iters 0"));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn iterations(iters: Option<usize>, epochs: usize, images: usize, batch: usize) -> Result<usize> {
    let n = match iters {
        Some(0) => return Err(Error::Shape("--iters 0: no iteration to run".into())),
        Some(i) => i,
        None => epochs.checked_mul(images).ok_or_else(|| Error::Shape(format!("--epochs {epochs}: too many to count")))? / batch.max(1),
    };
    if n == 0 {
        return Err(Error::Shape(format!("--batch {batch} is larger than the {images} training images: no iteration to run")));
    }
    Ok(n)
}

/// One row of the loss log.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("LogRow_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN, logged at every one.
/// let (_, rows, _): (_, Vec<LogRow>, _) = train_cpu(cfg, &opts)?;
/// assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3, 4]);
/// assert!(rows.iter().all(|r| r.stats.d_loss.is_finite() && r.secs >= 0.0));
/// let csv = std::fs::read_to_string(out.join("losses.csv"))?;
/// assert_eq!(csv.lines().count(), 1 + rows.len());      // a header, then a line per row
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogRow {
    pub step: u64,
    pub stats: Stats,
    pub secs: f64,
}

const CSV_HEADER: &str = "step,d_loss,g_loss,d_real,d_fake,acc_real,acc_fake,seconds";

fn csv_row(r: &LogRow) -> String {
    let s = &r.stats;
    format!("{},{},{},{},{},{},{},{:.3}", r.step, s.d_loss, s.g_loss, s.d_real, s.d_fake, s.acc_real, s.acc_fake, r.secs)
}

fn parse_csv(text: &str, up_to: u64) -> Vec<LogRow> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().ok()).collect::<Option<_>>()?;
            (v.len() == 8 && v[0] as u64 <= up_to).then(|| LogRow {
                step: v[0] as u64,
                stats: Stats { d_loss: v[1] as f32, d_real: v[3] as f32, d_fake: v[4] as f32, acc_real: v[5] as f32, acc_fake: v[6] as f32, g_loss: v[2] as f32, penalty: 0.0 },
                secs: v[7],
            })
        })
        .collect()
}

/// The loss curve: both losses and the mean D outputs against the iteration; for the Wasserstein
/// loss also the critic's estimate of the Wasserstein distance, mean D(x) − mean D(G(z)) (M4: it
/// should fall as G improves).
///
/// ```
/// use wgpu_gan::{gan::{images::{loss_curve, LogRow}, Stats}, loss::LossKind};
/// let stats = |i: u64| Stats { d_loss: 1.0 / i as f32, g_loss: 0.7, ..Stats::default() };
/// let rows: Vec<LogRow> = (1..=5).map(|i| LogRow { step: 10 * i, stats: stats(i), secs: i as f64 }).collect();
/// let out = std::env::temp_dir().join(format!("loss_curve_{}", std::process::id()));
/// std::fs::create_dir_all(&out)?;
/// loss_curve(&rows, &out.join("curve.png"), LossKind::Wasserstein)?; // with the W estimate
/// assert_eq!(image::image_dimensions(out.join("curve.png")).unwrap(), (720, 360));
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn loss_curve(rows: &[LogRow], path: &Path, loss: crate::loss::LossKind) -> Result<()> {
    let xs: Vec<f32> = rows.iter().map(|r| r.step as f32).collect();
    let col = |f: fn(&Stats) -> f32| rows.iter().map(|r| f(&r.stats)).collect::<Vec<f32>>();
    let (dl, gl, dx, dgz) = (col(|s| s.d_loss), col(|s| s.g_loss), col(|s| s.d_real), col(|s| s.d_fake));
    let w = col(|s| s.d_real - s.d_fake);
    let mut lines = vec![("loss D", &dl), ("loss G", &gl), ("D(x)", &dx), ("D(G(z))", &dgz)];
    if loss == crate::loss::LossKind::Wasserstein {
        lines.push(("W estimate", &w));
    }
    let img = plot::line_chart(&xs, &lines.iter().map(|(n, v)| (*n, v.as_slice())).collect::<Vec<_>>(), 720, 360);
    plot::save_png(&img, path)
}

/// A grid of `opts.grid` samples from the fixed noise, as a PNG.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("sample_grid_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`: a GAN of 4 × 4 grey images; `opts.grid`: 4 samples of seed `opts.grid_seed`.
/// let (g, d) = cfg.init_params();
/// let mut gan = CpuGan::new(cfg, g, d)?;
/// std::fs::create_dir_all(&out)?;
/// sample_grid(&mut gan, &opts, &out.join("grid.png"))?;
/// let samples = gan.sample(4, opts.grid_seed, opts.grid_mode)?;
/// let want = wgpu_gan::plot::image_grid_channels(&samples, 4, 1, 4, 4, 2, 2); // 2 × 2, scaled 2×
/// assert_eq!(image::open(out.join("grid.png")).unwrap().to_rgb8(), want);
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn sample_grid<T: Trainer>(gan: &mut T, opts: &RunOptions, path: &Path) -> Result<()> {
    let (h, w) = opts.image_hw;
    let n = opts.grid.min(gan.sample_capacity());
    let imgs = gan.sample(n, opts.grid_seed, opts.grid_mode)?;
    let cols = (n as f64).sqrt().ceil() as usize;
    let scale = if h * w >= 64 * 64 { 1 } else { 2 };
    plot::save_png(&plot::image_grid_channels(&imgs, n, opts.channels, h, w, cols, scale), path)
}

/// What a run reads before it starts, read once: the checkpoint it resumes from (its state and
/// seed) or the weights it starts from (each network's parameters and running statistics), after
/// checking that the output directory can be written. [`prepare_run`] makes one before any GPU
/// work, so a bad path fails at once; [`train_prepared`] takes it.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("Prepared_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN.
/// let missing = RunOptions { resume: Some(out.join("no_such.safetensors")), ..opts.clone() };
/// assert!(missing.prepare(&cfg).is_err());              // before any training
/// let prepared: Prepared = opts.prepare(&cfg)?;
/// let (gan, _, start) = train_cpu_prepared(cfg, &opts, prepared)?;
/// assert_eq!((start, gan.step), (0, 4));
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Prepared {
    resumed: Option<(GanState, u32)>,
    init: Option<NetWeights>,
    /// The paths it read (a run checks that its options name the same).
    paths: (Option<PathBuf>, Option<PathBuf>),
}

/// Each network's (parameters, running statistics): G's, then D's.
type NetWeights = ((Vec<Vec<f32>>, Vec<Vec<f32>>), (Vec<Vec<f32>>, Vec<Vec<f32>>));

/// Checks `out` and reads `resume` (a checkpoint of `cfg`) or, when not resuming, `init_from`
/// (a weights-only safetensors file, see [`RunOptions::init_from`]).
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("prepare_run_{}", std::process::id()));
/// // `cfg`: a tiny GAN; `out`: a fresh directory.
/// std::fs::create_dir_all(&out)?;
/// std::fs::write(out.join("a_file"), b"")?;
/// assert!(prepare_run(&cfg, &out.join("a_file/run"), None, None).is_err()); // not a directory
/// prepare_run(&cfg, &out.join("run"), None, None)?;
/// assert!(out.join("run").is_dir());                    // made, and found writable
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn prepare_run(cfg: &GanConfig, out: &Path, resume: Option<&Path>, init_from: Option<&Path>) -> Result<Prepared> {
    crate::checkpoint::prepare_out_dir(out)?;
    let resumed = resume.map(|p| load_checkpoint(p, cfg)).transpose()?;
    let init = match (init_from, &resumed) {
        (Some(p), None) => {
            let sd = crate::interop::StateDict::load(p)?;
            Some((sd.net("G.", &cfg.generator)?, sd.net("D.", &cfg.discriminator)?))
        }
        _ => None,
    };
    Ok(Prepared { resumed, init, paths: (resume.map(Path::to_path_buf), init_from.map(Path::to_path_buf)) })
}

impl RunOptions {
    /// [`prepare_run`] with these options' paths.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use wgpu_gan::{gan::{images::*, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
    /// # let (g, d) = (NetSpec::mlp(&[4, 8, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 8, 1], Act::LeakyRelu(0.2), None));
    /// # let cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(vec![0.0; 2 * 16], 16)?)));
    /// # let out = std::env::temp_dir().join(format!("prepare_{}", std::process::id()));
    /// let mut opts = RunOptions { out: out.join("run"), iters: 1, sample_every: 1, checkpoint_every: 1, log_every: 1,
    ///     resume: None, init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
    /// opts.prepare(&cfg)?;
    /// assert!(out.join("run").is_dir());                    // made, and found writable
    /// opts.resume = Some(out.join("missing.safetensors"));
    /// assert!(opts.prepare(&cfg).is_err());                 // no checkpoint to resume from
    /// # std::fs::remove_dir_all(&out)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn prepare(&self, cfg: &GanConfig) -> Result<Prepared> {
        prepare_run(cfg, &self.out, self.resume.as_deref(), self.init_from.as_deref())
    }
}

/// Trains `cfg` (from a checkpoint when `opts.resume` is set) up to `opts.iters` iterations.
/// Returns the trained GAN, the whole loss log (a resumed run's includes the earlier rows) and the
/// iteration it started from.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("train_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN, checkpointed every 2.
/// let gpu = wgpu_gan::gpu::Gpu::new()?;
/// let (gan, rows, start) = train(&gpu, cfg, &opts)?;
/// assert_eq!((gan.steps_done(), rows.len(), start), (4, 4, 0));
/// assert!(out.join("checkpoint.safetensors").exists());
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn train(gpu: &Gpu, cfg: GanConfig, opts: &RunOptions) -> Result<(GpuGan, Vec<LogRow>, usize)> {
    let prepared = opts.prepare(&cfg)?;
    train_prepared(gpu, cfg, opts, prepared)
}

/// [`train`] with what [`prepare_run`] read already.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("train_prepared_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN.
/// let prepared = opts.prepare(&cfg)?;                   // a bad path fails here, before the GPU
/// let gpu = wgpu_gan::gpu::Gpu::new()?;
/// let (gan, _, _) = train_prepared(&gpu, cfg, &opts, prepared)?;
/// assert_eq!(gan.steps_done(), 4);
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn train_prepared(gpu: &Gpu, cfg: GanConfig, opts: &RunOptions, prepared: Prepared) -> Result<(GpuGan, Vec<LogRow>, usize)> {
    let grid = opts.grid.max(1);
    train_on(|cfg, g0, d0| GpuGan::new(gpu, cfg.clone(), g0, d0, grid), cfg, opts, prepared)
}

/// [`train`] on the CPU reference (`--cpu`): the same loop, files and checkpoints, at the speed of
/// an f64 reference on one core (seconds per R2 iteration; fine for R5 or a few steps).
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("train_cpu_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN, checkpointed every 2.
/// let (_, _, start) = train_cpu(cfg.clone(), &opts)?;
/// assert_eq!(start, 0);
/// let more = RunOptions { iters: 6, resume: Some(out.join("checkpoint.safetensors")), ..opts };
/// let (gan, rows, start) = train_cpu(cfg, &more)?;     // on from the checkpoint
/// assert_eq!((start, gan.step, rows.len()), (4, 6, 6)); // the log keeps the first 4 rows
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn train_cpu(cfg: GanConfig, opts: &RunOptions) -> Result<(CpuGan, Vec<LogRow>, usize)> {
    let prepared = opts.prepare(&cfg)?;
    train_cpu_prepared(cfg, opts, prepared)
}

/// [`train_cpu`] with what [`prepare_run`] read already.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("train_cpu_prepared_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN.
/// let other = RunOptions { init_from: Some(out.join("w.safetensors")), ..opts.clone() };
/// let prepared = opts.prepare(&cfg)?;
/// assert!(train_cpu_prepared(cfg.clone(), &other, prepared).is_err()); // prepared for other options
/// let prepared = opts.prepare(&cfg)?;
/// assert_eq!(train_cpu_prepared(cfg, &opts, prepared)?.0.step, 4);
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn train_cpu_prepared(cfg: GanConfig, opts: &RunOptions, prepared: Prepared) -> Result<(CpuGan, Vec<LogRow>, usize)> {
    train_on(|cfg, g0, d0| CpuGan::new(cfg.clone(), g0.to_vec(), d0.to_vec()), cfg, opts, prepared)
}

/// The training loop behind [`train`] and [`train_cpu`], for any [`Trainer`] that `make` builds
/// from the config (its seed taken from the checkpoint when resuming) and the initial weights.
///
/// ```
/// # use std::sync::Arc;
/// # use wgpu_gan::{gan::{images::*, CpuGan, DataSource, GanConfig, Table}, nn::{Act, Mode, NetSpec}};
/// # let rows: Vec<f32> = (0..8 * 16).map(|i| (i % 5) as f32 / 2.0 - 1.0).collect(); // 8 images of 4 × 4
/// # let (g, d) = (NetSpec::mlp(&[4, 16, 16], Act::Relu, Some(Act::Tanh)), NetSpec::mlp(&[16, 16, 1], Act::LeakyRelu(0.2), None));
/// # let mut cfg = GanConfig::new(g, d, DataSource::Table(Arc::new(Table::new(rows, 16)?)));
/// # cfg.batch = 4;
/// # let out = std::env::temp_dir().join(format!("train_on_{}", std::process::id()));
/// # let opts = RunOptions { out: out.clone(), iters: 4, sample_every: 2, checkpoint_every: 2, log_every: 1, resume: None,
/// #     init_from: None, grid: 4, grid_seed: 7, grid_mode: Mode::Eval, image_hw: (4, 4), channels: 1 };
/// // `cfg`, `opts`: 4 iterations of a tiny GAN.
/// let make = |c: &GanConfig, g: &[Vec<f32>], d: &[Vec<f32>]| {
///     assert_eq!(g, c.init_params().0);                 // no checkpoint or weights to start from
///     CpuGan::new(c.clone(), g.to_vec(), d.to_vec())
/// };
/// let prepared = opts.prepare(&cfg)?;
/// let (gan, rows, _) = train_on(make, cfg, &opts, prepared)?;
/// assert_eq!((gan.step, rows.len()), (4, 4));
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn train_on<T: Trainer>(make: impl FnOnce(&GanConfig, &[Vec<f32>], &[Vec<f32>]) -> Result<T>, mut cfg: GanConfig, opts: &RunOptions, prepared: Prepared) -> Result<(T, Vec<LogRow>, usize)> {
    let Prepared { resumed, init, paths } = prepared;
    if paths != (opts.resume.clone(), opts.init_from.clone()) {
        return Err(Error::Shape(format!(
            "the run's options name resume {:?} and init_from {:?}, but what was prepared read {:?} and {:?}: prepare with the same options",
            opts.resume, opts.init_from, paths.0, paths.1
        )));
    }
    let resumed = resumed.map(|(state, seed)| {
        cfg.seed = seed;
        state
    });
    let (mut g0, mut d0) = cfg.init_params();
    let mut running = None;
    let from_weights = init.is_some();
    if let Some(((g, gr), (d, dr))) = init {
        (g0, d0, running) = (g, d, Some((gr, dr)));
    }
    let mut gan = make(&cfg, &g0, &d0)?;
    // A data-parallel run's rank 0 prints and writes; the other ranks train beside it.
    let lead = gan.leader();
    if from_weights && lead {
        println!("initial weights from {}", opts.init_from.as_ref().map_or(String::new(), |p| p.display().to_string()));
    }
    if let Some((g_running, d_running)) = running {
        let state = GanState { g_running, d_running, ..gan.read_state()? };
        gan.load_state(&state)?;
    }
    let csv_path = opts.out.join("losses.csv");
    let mut rows = Vec::new();
    if let Some(state) = &resumed {
        gan.load_state(state)?;
        if let Ok(text) = std::fs::read_to_string(&csv_path) {
            rows = parse_csv(&text, state.step as u64);
        }
        if lead {
            println!("resumed from {} at iteration {} (seed {})", opts.resume.as_ref().map_or(String::new(), |p| p.display().to_string()), state.step, cfg.seed);
        }
    }
    let start = gan.steps_done() as usize;
    if start > opts.iters {
        return Err(Error::Shape(format!("the checkpoint is at iteration {start}, beyond the {} asked for", opts.iters)));
    }
    let bar = if lead { ProgressBar::new(opts.iters as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap());
    bar.set_position(start as u64);
    let t0 = Instant::now();
    let secs0 = rows.last().map_or(0.0, |r| r.secs);
    let mut csv = format!("{CSV_HEADER}\n{}", rows.iter().map(|r| csv_row(r) + "\n").collect::<String>());
    let mut done = start;
    // Whether the last chunk (done − chunk, done] crossed a multiple of k.
    let every = |done: usize, chunk: usize, k: usize| k > 0 && done / k > (done - chunk) / k;
    while done < opts.iters {
        // Chunks end on the next multiple of any of the three periods (also after resuming from
        // any step), so each of them fires exactly on its own multiples.
        let le = opts.log_every.max(1);
        // A period of 0 means never (as in `every`).
        let to_next = |k: usize| if k == 0 { usize::MAX } else { k - done % k };
        let chunk = to_next(le).min(to_next(opts.sample_every)).min(to_next(opts.checkpoint_every)).min(opts.iters - done);
        gan.train_steps(chunk);
        done += chunk;
        let s = gan.stats()?; // waits for the GPU; fails on NaN/inf, naming the step and tensor
        let row = LogRow { step: done as u64, stats: s, secs: secs0 + t0.elapsed().as_secs_f64() };
        if done % le == 0 || done == opts.iters {
            csv.push_str(&(csv_row(&row) + "\n"));
            rows.push(row);
        }
        let msg = format!(
            "D {:.3} G {:.3} D(x) {:.2} D(G(z)) {:.2} acc {:.0}%/{:.0}%",
            s.d_loss, s.g_loss, s.d_real, s.d_fake, 100.0 * s.acc_real, 100.0 * s.acc_fake
        );
        bar.set_position(done as u64);
        if !lead {
            // Not rank 0 of a data-parallel run: rank 0 reports.
        } else if bar.is_hidden() {
            // No terminal (a log file, CI): a plain line now and then instead of the bar.
            if every(done, chunk, opts.log_every.max(1) * 10) || done == opts.iters {
                let rate = (done - start) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                println!("{done}/{} {:.0} s, {rate:.2} it/s, ETA {:.0} s  {msg}", opts.iters, row.secs, (opts.iters - done) as f64 / rate);
            }
        } else {
            bar.set_message(msg);
        }
        if every(done, chunk, opts.sample_every) && done < opts.iters && lead {
            sample_grid(&mut gan, opts, &opts.out.join(format!("samples_{done:06}.png")))?;
        }
        if every(done, chunk, opts.checkpoint_every) || done == opts.iters {
            // Every rank of a data-parallel run still holds the same state (each rank calls it).
            gan.agree()?;
            if lead {
                // Log first, then checkpoint: a resumed run finds every row up to its checkpoint.
                write_atomic(&csv_path, &csv)?;
                // The whole batch of a data-parallel run: what the ranks' steps are, together.
                let whole = GanConfig { batch: cfg.batch * gan.ranks(), ..cfg.clone() };
                save_checkpoint(&opts.out.join("checkpoint.safetensors"), &whole, &gan.read_state()?)?;
            }
        }
    }
    bar.finish();
    if !lead {
        return Ok((gan, rows, start));
    }
    write_atomic(&csv_path, &csv)?;
    sample_grid(&mut gan, opts, &opts.out.join("samples_final.png"))?;
    if !rows.is_empty() {
        loss_curve(&rows, &opts.out.join("loss_curve.png"), cfg.loss)?;
    }
    Ok((gan, rows, start))
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    crate::checkpoint::write_atomic(path, text.as_bytes(), "loss log")
}
