//! Trains reference model R1 (SPEC.md §4) on the ring of 8 Gaussians (or the grid of 25), on
//! whatever GPU wgpu finds, and reports mode coverage (M1) and D's accuracy (M4).
//!
//!     cargo run --release --example gaussian_ring                 # ring, default settings
//!     cargo run --release --example gaussian_ring -- --data grid
//!     cargo run --release --example gaussian_ring -- --verify     # GPU vs CPU reference, 10 steps
//!
//! Writes PNG scatter plots (real grey, generated blue, centres red) to --out.

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wgpu_gan::data::Mixture;
use wgpu_gan::nn::Mode;
use wgpu_gan::gan::{CpuGan, GanConfig, GpuGan};
use wgpu_gan::gpu::Gpu;
use wgpu_gan::optim::Optimizer;
use wgpu_gan::{metrics, plot};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Data {
    Ring,
    Grid,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Opt {
    Adam,
    Sgd,
    Rmsprop,
}

#[derive(Parser, Debug)]
#[command(about = "Train a 2-D toy GAN (R1) with WGSL kernels and report mode coverage")]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    #[arg(long, value_enum, default_value = "ring")]
    data: Data,
    /// Training iterations (each: k D updates + 1 G update).
    #[arg(long, default_value_t = 13000, value_parser = wgpu_gan::cli::at_least_one)]
    steps: usize,
    #[arg(long, default_value_t = 256, value_parser = wgpu_gan::cli::at_least_one)]
    batch: usize,
    /// Discriminator updates per generator update.
    #[arg(long, default_value_t = 1, value_parser = wgpu_gan::cli::at_least_one)]
    k: usize,
    /// Condition both networks on the mode index (one-hot after z and after the point): each
    /// label asks for one mode; reports per-condition M1.
    #[arg(long)]
    conditional: bool,
    /// The objective (wgan-clip and wgan-gp also set R4's optimizers and 5 critic updates).
    #[arg(long, value_enum, default_value = "non-saturating")]
    loss: wgpu_gan::cli::LossChoice,
    /// With --loss wgan-gp: the penalty's weight λ instead of R4's 10 (Gulrajani et al. used 0.1
    /// on their 2-D toys, whose data span a few units).
    #[arg(long, value_parser = wgpu_gan::cli::positive_f32)]
    gp_lambda: Option<f32>,
    /// With --loss wgan-gp or wgan-clip: both learning rates instead of R4's.
    #[arg(long, value_parser = wgpu_gan::cli::positive_f32)]
    wgan_lr: Option<f32>,
    /// With --loss wgan-clip: the original WGAN's critic schedule, 100 critic updates per
    /// generator update in the first 25 steps and in every 500th (needs --lr-decay false).
    #[arg(long)]
    original_schedule: bool,
    #[arg(long, value_enum, default_value = "adam")]
    opt: Opt,
    /// D learns 4x faster than G (two time-scale updates): it keeps pressing on the thin bridges
    /// that a 2-D latent leaves between modes.
    #[arg(long, default_value_t = 2e-3, value_parser = wgpu_gan::cli::positive_f32)]
    lr_d: f32,
    #[arg(long, default_value_t = 5e-4, value_parser = wgpu_gan::cli::positive_f32)]
    lr_g: f32,
    /// Adam β1 (SGD momentum; unused by RMSprop).
    #[arg(long, default_value_t = 0.5)]
    beta1: f32,
    /// Decay both learning rates linearly to zero over the run (`--lr-decay false` keeps them constant).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    lr_decay: bool,
    #[arg(long, default_value_t = 2, value_parser = wgpu_gan::cli::at_least_one)]
    z_dim: usize,
    #[arg(long, default_value_t = 128, value_parser = wgpu_gan::cli::at_least_one)]
    hidden: usize,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Scatter plots taken during training (plus the final one).
    #[arg(long, default_value_t = 4, value_parser = wgpu_gan::cli::at_least_one)]
    snapshots: usize,
    /// Generated samples for M1 and the plots.
    #[arg(long, default_value_t = 2500, value_parser = wgpu_gan::cli::at_least_one)]
    samples: usize,
    #[arg(long, default_value = "out/gaussian_ring")]
    out: PathBuf,
    /// Run --verify-steps on the GPU and on the CPU reference from the same weights and noise,
    /// print the max relative differences, and fail above --verify-tol.
    #[arg(long)]
    verify: bool,
    #[arg(long, default_value_t = 10, value_parser = wgpu_gan::cli::at_least_one)]
    verify_steps: usize,
    #[arg(long, default_value_t = 1e-4, value_parser = wgpu_gan::cli::positive_f32)]
    verify_tol: f32,
    /// Train on the CPU reference instead (slow; for machines with no Vulkan/Metal/DX12 driver).
    #[arg(long, conflicts_with = "verify")]
    cpu: bool,
}

fn config(a: &Args) -> GanConfig {
    let data = match a.data {
        Data::Ring => Mixture::ring(),
        Data::Grid => Mixture::grid(),
    };
    let mut c = GanConfig::r1(data, a.z_dim, a.hidden);
    c.batch = a.batch;
    c.k = a.k;
    c.seed = a.seed;
    c.lr_decay_steps = if a.lr_decay { a.steps as u32 } else { 0 };
    let opt = |lr| match a.opt {
        Opt::Adam => Optimizer::adam(lr, a.beta1, 0.999),
        Opt::Sgd => Optimizer::Sgd { lr, momentum: a.beta1 },
        Opt::Rmsprop => Optimizer::RmsProp { lr, alpha: 0.99, eps: 1e-8 },
    };
    c.opt_d = opt(a.lr_d);
    c.opt_g = opt(a.lr_g);
    let mut c = a.loss.apply(c);
    if a.loss.is_wgan() {
        if let Some(l) = a.gp_lambda.filter(|_| c.gp_lambda > 0.0) {
            c.gp_lambda = l;
        }
        if let Some(lr) = a.wgan_lr {
            c.opt_d = c.opt_d.with_lr(lr);
            c.opt_g = c.opt_g.with_lr(lr);
        }
    }
    if a.original_schedule {
        c.critic_burst = Some(wgpu_gan::gan::CriticBurst::ORIGINAL);
    }
    if a.conditional {
        c.conditional()
    } else {
        c
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> wgpu_gan::Result<ExitCode> {
    let cfg = config(a);
    // Bad settings stop here, before any GPU work, with exit code 2 like a flag clap refuses.
    if let Err(e) = cfg.validate() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    if !a.verify {
        wgpu_gan::cli::prepare_out_dir(&a.out)?;
    }
    if a.cpu {
        return train_cpu(a, cfg);
    }
    let gpu = a.device.open()?;
    if a.verify {
        return verify(a, &gpu, cfg);
    }
    let (g0, d0) = cfg.init_params();
    let mut gan = GpuGan::new(&gpu, cfg.clone(), &g0, &d0, a.samples)?;
    let mix = mixture(&cfg);
    println!(
        "R1 on {} ({} modes, σ={}): batch {}, k {}, {:?}, {:?}; {} dispatches per step, one submission each",
        mix.name, mix.centres.len(), mix.sigma, cfg.batch, cfg.k, cfg.loss, cfg.opt_d, gan.dispatches_per_step()
    );
    let real = real_points(a, &cfg);
    let mut panels = Vec::new();
    let snap_every = (a.steps / a.snapshots.max(1)).max(1);
    let bar = ProgressBar::new(a.steps as u64);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap());
    let t0 = Instant::now();
    let mut done = 0;
    while done < a.steps {
        let chunk = 50.min(a.steps - done);
        gan.train_steps(chunk);
        done += chunk;
        let s = gan.stats()?; // waits for the GPU: also what keeps the queue from running far ahead
        bar.set_position(done as u64);
        let msg = format!(
            "D {:.3} G {:.3} D(x) {:.2} D(G(z)) {:.2} acc {:.0}%/{:.0}%",
            s.d_loss, s.g_loss, s.d_real, s.d_fake, 100.0 * s.acc_real, 100.0 * s.acc_fake
        );
        if bar.is_hidden() {
            // No terminal (a pipe, a log file, CI): a plain line every tenth of the run.
            let tenth = (a.steps / 10).max(1);
            if done / tenth > (done - chunk) / tenth || done == a.steps {
                let secs = t0.elapsed().as_secs_f64();
                let rate = done as f64 / secs.max(1e-9);
                println!("{done}/{} {secs:.0} s, {rate:.1} steps/s, ETA {:.0} s  {msg}", a.steps, (a.steps - done) as f64 / rate);
            }
        } else {
            bar.set_message(msg);
        }
        if done % snap_every < chunk && done < a.steps {
            panels.push(plot::scatter(256, mix.extent(), &real, &gan.sample(a.samples, a.seed, Mode::Eval)?, &mix.centres));
        }
    }
    bar.finish();
    let secs = t0.elapsed().as_secs_f64();
    println!("{} steps in {:.1} s: {:.1} steps/s", a.steps, secs, a.steps as f64 / secs);
    let s = gan.stats()?;
    println!(
        "M4: D(x) {:.3}, D(G(z)) {:.3}, D accuracy on real {:.1}%, on fake {:.1}%; losses D {:.4}, G {:.4}",
        s.d_real, s.d_fake, 100.0 * s.acc_real, 100.0 * s.acc_fake, s.d_loss, s.g_loss
    );
    let fake = gan.sample(a.samples, a.seed, Mode::Eval)?;
    report(a, &cfg, &real, &fake, panels)
}

/// Real points drawn on the CPU for the plots (their own stream, not the training data's).
fn real_points(a: &Args, cfg: &GanConfig) -> Vec<f32> {
    let mix = mixture(cfg);
    wgpu_gan::rng::mixture_sample(&mix.centres, mix.sigma, a.samples, a.seed, 0xABCD, 0)
}

fn mixture(cfg: &GanConfig) -> &Mixture {
    cfg.data.mixture().expect("gaussian_ring trains on a mixture")
}

fn report(a: &Args, cfg: &GanConfig, real: &[f32], fake: &[f32], mut panels: Vec<image::RgbImage>) -> wgpu_gan::Result<ExitCode> {
    let mix = mixture(cfg);
    let csv_path = a.out.join(format!("{}_samples.csv", mix.name));
    let csv: String = fake.chunks_exact(2).map(|p| format!("{},{}\n", p[0], p[1])).collect();
    wgpu_gan::checkpoint::write_atomic(&csv_path, format!("x,y\n{csv}").as_bytes(), "samples")?;
    let m = metrics::mode_coverage(fake, mix);
    println!("M1 ({}): {m}", mix.name);
    println!("   high-quality samples per mode: {:?}", m.counts);
    if cfg.classes > 0 {
        // The samples were asked for with wgpu_gan::gan::grid_labels: each mode in turn.
        let labels = wgpu_gan::gan::grid_labels(fake.len() / 2, cfg.classes);
        let hits = metrics::conditional_hits(fake, &labels, mix);
        let mean = hits.iter().sum::<f32>() / hits.len() as f32;
        println!("M1 per condition: share of the samples asked for mode c that are high quality in mode c: {:?} %, mean {mean:.1} %", hits.iter().map(|h| (h * 10.0).round() / 10.0).collect::<Vec<_>>());
    }
    let last = plot::scatter(512, mix.extent(), real, fake, &mix.centres);
    let final_path = a.out.join(format!("{}_final.png", mix.name));
    plot::save_png(&last, &final_path)?;
    panels.push(plot::scatter(256, mix.extent(), real, fake, &mix.centres));
    let prog_path = a.out.join(format!("{}_progress.png", mix.name));
    plot::save_png(&plot::row(&panels), &prog_path)?;
    println!("wrote {}, {} and {}", final_path.display(), prog_path.display(), csv_path.display());
    Ok(ExitCode::SUCCESS)
}

/// The same steps on the GPU and on the CPU reference from the same weights and noise.
fn verify(a: &Args, gpu: &Gpu, cfg: GanConfig) -> wgpu_gan::Result<ExitCode> {
    let n = a.samples.clamp(1, 500);
    let v = wgpu_gan::gan::verify(gpu, &cfg, a.verify_steps, n, a.seed)?;
    println!("verify: {v}");
    if !v.passed(a.verify_tol) {
        println!("FAILED: {:.3e} above tolerance {:.1e}", v.judged(), a.verify_tol);
        return Ok(ExitCode::FAILURE);
    }
    println!("OK: every judged figure within tolerance {:.1e}", a.verify_tol);
    Ok(ExitCode::SUCCESS)
}

/// Training on the CPU reference: the fallback when no adapter exists.
fn train_cpu(a: &Args, cfg: GanConfig) -> wgpu_gan::Result<ExitCode> {
    println!("adapter: none (CPU reference, --cpu)");
    let (g0, d0) = cfg.init_params();
    let mut gan = CpuGan::new(cfg.clone(), g0, d0)?;
    let bar = ProgressBar::new(a.steps as u64);
    for i in 0..a.steps {
        gan.train_step();
        if i % 50 == 0 {
            bar.set_position(i as u64);
            bar.set_message(format!("D {:.3} G {:.3}", gan.stats.d_loss, gan.stats.g_loss));
        }
    }
    bar.finish();
    let fake = gan.sample(a.samples, a.seed, Mode::Eval)?;
    report(a, &cfg, &real_points(a, &cfg), &fake, Vec::new())
}
