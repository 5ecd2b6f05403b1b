//! The command line shared by `dcgan_mnist` (R2) and `mlp_gan_mnist` (R5).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use wgpu_gan::data::mnist::{resolve_dir, Mnist, Split};
use wgpu_gan::gan::images::{iterations, train_cpu_prepared, train_prepared, RunOptions};
use wgpu_gan::gan::{verify, GanConfig, Table, Trainer};
use wgpu_gan::nn::Mode;
use wgpu_gan::optim::Optimizer;

#[derive(Parser)]
pub struct Args {
    #[command(flatten)]
    pub device: wgpu_gan::cli::DeviceArgs,
    #[command(flatten)]
    pub dist: wgpu_gan::cli::DistArgs,
    /// Directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], …); default $MNIST_DIR.
    #[arg(long)]
    pub mnist_dir: Option<PathBuf>,
    /// Epochs over the training split (iterations = epochs · images / batch), unless --iters is
    /// given; default 20 for dcgan_mnist, 32 for mlp_gan_mnist.
    #[arg(long, value_parser = wgpu_gan::cli::at_least_one)]
    pub epochs: Option<usize>,
    #[arg(long, value_parser = wgpu_gan::cli::at_least_one)]
    pub iters: Option<usize>,
    #[arg(long, default_value_t = 64, value_parser = wgpu_gan::cli::at_least_one)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Adam learning rates (default: the model's; R2 2e-4 for both, R5 1e-3 for G and 2e-4 for D).
    #[arg(long, value_parser = wgpu_gan::cli::positive_f32)]
    pub lr_g: Option<f32>,
    #[arg(long, value_parser = wgpu_gan::cli::positive_f32)]
    pub lr_d: Option<f32>,
    /// Output directory (sample grids, loss log and curve, checkpoint).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 250, value_parser = wgpu_gan::cli::at_least_one)]
    pub sample_every: usize,
    #[arg(long, default_value_t = 250, value_parser = wgpu_gan::cli::at_least_one)]
    pub checkpoint_every: usize,
    #[arg(long, default_value_t = 10, value_parser = wgpu_gan::cli::at_least_one)]
    pub log_every: usize,
    /// Continue from a checkpoint written by an earlier run (same model and optimizers).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start from weights saved by PyTorch (or anyone): a safetensors file with `G.<i>.<name>` and
    /// `D.<i>.<name>` tensors in nn.Sequential numbering (F32, F16 or BF16), e.g. written by
    /// `scripts/from_pytorch.py --weights-only`.
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// The objective. wgan-clip and wgan-gp are R4: the critic without batch normalisation,
    /// R4's optimizers and 5 critic updates per generator update (--lr-d/--lr-g then set the
    /// learning rates of those optimizers).
    #[arg(long, value_enum, default_value = "non-saturating")]
    pub loss: wgpu_gan::cli::LossChoice,
    /// With --loss wgan-clip: the original WGAN's critic schedule, 100 critic updates per
    /// generator update in the first 25 steps and in every 500th.
    #[arg(long)]
    pub original_schedule: bool,
    /// Give the digit's label to both networks as a one-hot vector after z and after the image
    /// (dense models: mlp_gan_mnist; cgan_mnist is R3, conditional by design).
    #[arg(long)]
    pub conditional: bool,
    /// Condition the discriminator by projection (a class embedding against its last features,
    /// Miyato & Koyama 2018) instead of label planes or a one-hot vector (cgan_mnist, or with
    /// --conditional).
    #[arg(long)]
    pub projection: bool,
    /// BatchNorm statistics for the sample grids: "batch" (of the 64 grid samples) or "running".
    #[arg(long, default_value = "batch")]
    pub grid_bn: String,
    /// Instead of training: a few steps on the GPU and on the CPU reference at a small batch,
    /// compared; exits non-zero when they differ by more than the tolerance.
    #[arg(long)]
    pub verify: bool,
    /// Conditional models (cgan_mnist): instead of training, generate `--count` samples of this
    /// digit from the checkpoint `--from` (default: this example's output) into digit_<d>.png.
    #[arg(long, conflicts_with_all = ["verify", "resume"])]
    pub digit: Option<u32>,
    #[arg(long, default_value_t = 64, value_parser = wgpu_gan::cli::at_least_one)]
    pub count: usize,
    #[arg(long)]
    pub from: Option<PathBuf>,
    #[arg(long, default_value_t = 3, value_parser = wgpu_gan::cli::at_least_one)]
    pub verify_steps: usize,
    #[arg(long, default_value_t = 8, value_parser = wgpu_gan::cli::at_least_one)]
    pub verify_batch: usize,
    #[arg(long, default_value_t = 1e-4, value_parser = wgpu_gan::cli::positive_f32)]
    pub tolerance: f32,
    /// Train on the CPU reference instead (no GPU or Vulkan driver needed; the same loop, files and
    /// checkpoints, which resume on either; seconds per R2 iteration, so meant for R5 or short runs).
    #[arg(long, conflicts_with = "verify")]
    pub cpu: bool,
}

pub fn main_with(name: &str, make: fn(Arc<Table>) -> GanConfig, default_epochs: usize) -> ExitCode {
    let a = Args::parse();
    // One rank of a data-parallel run (--distributed, or started by mpirun), or a run alone.
    let rank = match a.dist.start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(name, make, &a, default_epochs, rank.as_ref()) {
        Ok(code) => code,
        // An error on one rank stops them all (the others would wait for it forever).
        Err(e) if rank.is_some() => rank.expect("a rank").abort(&e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn bn_mode(s: &str) -> wgpu_gan::Result<Mode> {
    match s {
        "batch" => Ok(Mode::BatchStats),
        "running" => Ok(Mode::Eval),
        other => Err(wgpu_gan::Error::Shape(format!("--grid-bn takes \"batch\" or \"running\", not {other:?}"))),
    }
}

fn run(name: &str, make: fn(Arc<Table>) -> GanConfig, a: &Args, default_epochs: usize, rank: Option<&wgpu_gan::cli::Rank>) -> wgpu_gan::Result<ExitCode> {
    if rank.is_some() && (a.verify || a.cpu || a.digit.is_some()) {
        return Err(wgpu_gan::Error::Shape("--distributed trains on GPUs: not with --verify, --cpu or --digit".into()));
    }
    // Rank 0 of a data-parallel run speaks for all.
    let lead = rank.is_none_or(|r| r.leader());
    if a.batch < 2 {
        return Err(wgpu_gan::Error::Shape(format!("--batch {}: batch normalisation and the D statistics need at least 2", a.batch)));
    }
    let grid_mode = bn_mode(&a.grid_bn)?;
    let dir = resolve_dir(a.mnist_dir.as_deref())?;
    let train_set = Mnist::load(&dir, Split::Train)?;
    train_set.expect_size(28, 28, name)?;
    if lead {
        println!("MNIST: {} training images from {}", train_set.count, dir.display());
    }
    // The labels travel with the images (a conditional GAN reads them; the others do not).
    let labels = train_set.labels.iter().map(|&l| l as u32).collect();
    let table = Arc::new(Table::with_labels(train_set.images, train_set.rows * train_set.cols, labels)?);
    let mut cfg = a.loss.apply(make(table));
    if a.conditional {
        cfg = cfg.conditional();
    }
    if a.projection {
        cfg = cfg.with_projection()?;
    }
    cfg.batch = a.batch;
    cfg.seed = a.seed;
    let with_lr = |o: Optimizer, lr: Option<f32>| lr.map_or(o, |lr| o.with_lr(lr));
    cfg.opt_g = with_lr(cfg.opt_g, a.lr_g);
    cfg.opt_d = with_lr(cfg.opt_d, a.lr_d);
    if a.original_schedule {
        cfg.critic_burst = Some(wgpu_gan::gan::CriticBurst::ORIGINAL);
    }
    // Bad settings (a NaN or negative learning rate, ...) stop here, before any GPU work, with
    // exit code 2 like a flag clap itself refuses.
    if let Err(e) = cfg.validate() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    // Output directory, and the checkpoint or weights to start from: checked and read (once)
    // before any GPU work.
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("out").join(name));
    // A checkpoint records the whole batch (ranks × --batch): a data-parallel run resumes from one
    // of the same whole batch, whatever the number of ranks that wrote it.
    let whole = GanConfig { batch: cfg.batch * rank.map_or(1, |r| r.ranks), ..cfg.clone() };
    let prepared = if a.verify { None } else { Some(wgpu_gan::gan::images::prepare_run(&whole, &out, a.resume.as_deref(), a.init_from.as_deref())?) };
    if let Some(digit) = a.digit {
        return generate_digit(name, cfg, a, digit, &out, (train_set.rows, train_set.cols));
    }
    let gpu = if a.cpu {
        println!("adapter: none (CPU reference, --cpu)");
        None
    } else {
        Some(a.device.open_for_rank(rank.map(|r| r.local_rank))?)
    };
    if let (true, Some(gpu)) = (a.verify, &gpu) {
        cfg.batch = a.verify_batch;
        println!("verify: {} steps at batch {} on the GPU and on the CPU reference", a.verify_steps, cfg.batch);
        let v = verify(gpu, &cfg, a.verify_steps, cfg.batch, 5)?;
        println!("{v}");
        let ok = v.passed(a.tolerance);
        println!("{}: judged {:.2e}, tolerance {:.0e}", if ok { "verify: PASS" } else { "verify: FAIL" }, v.judged(), a.tolerance);
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    // Epochs count global batches: --batch rows from each rank.
    let ranks = rank.map_or(1, |r| r.ranks);
    let iters = iterations(a.iters, a.epochs.unwrap_or(default_epochs), train_set.count, a.batch * ranks)?;
    let opts = RunOptions {
        out,
        iters,
        sample_every: a.sample_every,
        checkpoint_every: a.checkpoint_every,
        log_every: a.log_every,
        resume: a.resume.clone(),
        init_from: a.init_from.clone(),
        // A conditional GAN's grid: 10 × 10, one class per row.
        grid: if cfg.classes > 0 { 100 } else { 64 },
        grid_seed: 7,
        grid_mode,
        image_hw: (train_set.rows, train_set.cols),
        channels: 1,
    };
    if lead {
        let per_rank = match rank {
            Some(r) => format!(" ({} ranks × {}, batch norm {})", r.ranks, cfg.batch, if r.sync_bn { "over the whole batch" } else { "per rank" }),
            None => String::new(),
        };
        println!(
            "{name}: {iters} iterations at batch {}{per_rank} ({:.1} epochs), {:?} loss, k {}, G {:?}, D {:?}",
            cfg.batch * ranks,
            (iters * cfg.batch * ranks) as f64 / train_set.count as f64,
            cfg.loss,
            cfg.k,
            cfg.opt_g,
            cfg.opt_d
        );
    }
    let t0 = std::time::Instant::now();
    let prepared = match prepared {
        Some(p) => p,
        None => opts.prepare(&cfg)?,
    };
    let (s, start) = match (&gpu, rank) {
        (Some(gpu), Some(r)) => {
            let grid = opts.grid;
            let make = |c: &GanConfig, g: &[Vec<f32>], d: &[Vec<f32>]| wgpu_gan::gan::dist::DistGan::new(gpu, c.clone(), g, d, grid, r.group(), r.sync_bn);
            let (gan, _, start) = wgpu_gan::gan::images::train_on(make, cfg, &opts, prepared)?;
            let s = Trainer::stats(&gan)?;
            if lead {
                let c = gan.comm();
                let steps = (iters - start).max(1) as f64;
                println!(
                    "data parallel: {} exchanges with the other ranks, {:.1} MB sent by this rank, {:.2} s in them ({:.1} ms a step)",
                    c.calls,
                    c.bytes as f64 / 1e6,
                    c.seconds,
                    1e3 * c.seconds / steps
                );
            }
            (s, start)
        }
        (Some(gpu), None) => {
            let (gan, _, start) = train_prepared(gpu, cfg, &opts, prepared)?;
            (gan.stats()?, start)
        }
        (None, _) => {
            let (gan, _, start) = train_cpu_prepared(cfg, &opts, prepared)?;
            (Trainer::stats(&gan)?, start)
        }
    };
    if !lead {
        return Ok(ExitCode::SUCCESS);
    }
    let secs = t0.elapsed().as_secs_f64();
    let ran = iters - start;
    println!("{ran} iterations in {:.0} s ({:.3} s per iteration)", secs, secs / ran.max(1) as f64);
    println!(
        "M4 at the end: D(x) {:.3}, D(G(z)) {:.3}, D accuracy on real {:.1}%, on fake {:.1}%; losses D {:.4}, G {:.4}",
        s.d_real, s.d_fake, 100.0 * s.acc_real, 100.0 * s.acc_fake, s.d_loss, s.g_loss
    );
    println!("wrote {0}/samples_final.png, {0}/loss_curve.png, {0}/losses.csv, {0}/checkpoint.safetensors", opts.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `--digit d --count n`: n samples of digit d from a conditional model's checkpoint, as a grid.
fn generate_digit(name: &str, cfg: GanConfig, a: &Args, digit: u32, out: &std::path::Path, (h, w): (usize, usize)) -> wgpu_gan::Result<ExitCode> {
    if cfg.classes == 0 || digit as usize >= cfg.classes {
        return Err(wgpu_gan::Error::Shape(format!("--digit needs a conditional model and a digit below {}; {name} has {} classes", cfg.classes.max(10), cfg.classes)));
    }
    let ckpt = a.from.clone().unwrap_or_else(|| out.join("checkpoint.safetensors"));
    let (g, running, step) = wgpu_gan::gan::load_generator(&ckpt, &cfg.generator)?;
    let gpu = a.device.open()?;
    let (g0, d0) = cfg.init_params();
    let n = a.count;
    let gan = wgpu_gan::gan::GpuGan::new(&gpu, cfg, &g0, &d0, n)?;
    gan.g.load(&gpu, &g, &running)?;
    gan.set_sample_labels(&vec![digit; n])?;
    gan.sample_program(n, a.seed, bn_mode(&a.grid_bn)?)?.run(&gpu);
    let imgs = gan.samples().read(&gpu)?;
    let path = out.join(format!("digit_{digit}.png"));
    let cols = (n as f64).sqrt().ceil() as usize;
    wgpu_gan::plot::save_png(&wgpu_gan::plot::image_grid(&imgs[..n * h * w], n, h, w, cols, 2), &path)?;
    println!("{n} samples of digit {digit} from {} (iteration {step}): wrote {}", ckpt.display(), path.display());
    Ok(ExitCode::SUCCESS)
}
