//! Scores a generator checkpoint with FID-MNIST (M2): the Fréchet distance between the penultimate
//! features of a LeNet-style classifier (trained here with this crate's kernels, or loaded) for
//! 2,000 generated digits and the 2,000 held-out digits, printed beside the floor (2,000 training
//! digits against the same held-out ones). Also prints the classifier's held-out accuracy and how
//! the generated digits spread over the ten classes, for both BatchNorm sampling modes.
//!
//!     cargo run --release --example evaluate -- --checkpoint out/dcgan_mnist/checkpoint.safetensors
//!     cargo run --release --example evaluate -- --model r5 --checkpoint out/mlp_gan_mnist/checkpoint.safetensors

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use wgpu_gan::data::mnist::{resolve_dir, Mnist, Split};
use wgpu_gan::gan::{load_generator, CpuGan, GanConfig, GpuGan, Table, Trainer};
use wgpu_gan::metrics::classifier::{Classifier, On, TrainSettings, CLASSES, FEATURES};
use wgpu_gan::metrics::fid::{frechet_distance, gaussian};
use wgpu_gan::nn::Mode;
use wgpu_gan::plot;

#[derive(Parser)]
#[command(about = "FID-MNIST of a generator checkpoint, beside the train-vs-held-out floor")]
struct Args {
    #[command(flatten)]
    device: wgpu_gan::cli::DeviceArgs,
    #[arg(long)]
    checkpoint: PathBuf,
    /// r2 (dcgan_mnist) or r5 (mlp_gan_mnist).
    #[arg(long, default_value = "r2")]
    model: String,
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Classifier weights: loaded if the file exists, otherwise trained and saved there.
    #[arg(long, default_value = "out/classifier.safetensors")]
    classifier: PathBuf,
    #[arg(long, default_value_t = 25, value_parser = wgpu_gan::cli::at_least_one)]
    classifier_epochs: usize,
    /// Generated digits (keep 2000 to compare with the floor and with published figures).
    #[arg(long, default_value_t = 2000, value_parser = wgpu_gan::cli::at_least_one)]
    n: usize,
    /// Where to write a 10×10 grid of the scored samples.
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Score on the CPU reference instead (no GPU needed). Needs an existing --classifier file:
    /// training one on the CPU reference would take hours.
    #[arg(long)]
    cpu: bool,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> wgpu_gan::Result<()> {
    let dir = resolve_dir(a.mnist_dir.as_deref())?;
    let train = Mnist::load(&dir, Split::Train)?;
    let test = Mnist::load(&dir, Split::Test)?;
    train.expect_size(28, 28, "the FID classifier")?;
    test.expect_size(28, 28, "the FID classifier")?;
    // The generator checkpoint is read (and refused if missing, foreign or non-finite) before any
    // GPU work, in particular before minutes of classifier training.
    let dim = train.rows * train.cols;
    let table = Arc::new(Table::with_labels(train.images.clone(), dim, train.labels.iter().map(|&l| l as u32).collect())?);
    let cfg = match a.model.as_str() {
        "r2" => GanConfig::r2(table),
        "r3" => GanConfig::r3(table),
        "r5" => GanConfig::r5(table),
        "r5c" => GanConfig::r5(table).conditional(),
        other => return Err(wgpu_gan::Error::Shape(format!("--model takes r2, r3, r5 or r5c (mlp_gan_mnist --conditional), not {other:?}"))),
    };
    let classes = cfg.classes;
    let (g, running, step) = load_generator(&a.checkpoint, &cfg.generator)?;
    if a.cpu && !a.classifier.exists() {
        return Err(wgpu_gan::Error::Shape(format!(
            "--cpu needs a trained classifier at {} (training one on the CPU reference would take hours): \
             run evaluate once on any adapter, which saves it there, or point --classifier at a copy",
            a.classifier.display()
        )));
    }
    let gpu = if a.cpu {
        println!("adapter: none (CPU reference, --cpu)");
        None
    } else {
        Some(a.device.open()?)
    };
    let on = || gpu.as_ref().map_or(On::Cpu, On::Gpu);
    let clf = if a.classifier.exists() {
        println!("classifier: loaded {}", a.classifier.display());
        Classifier::load(&a.classifier)?
    } else {
        if a.classifier_epochs == 0 {
            return Err(wgpu_gan::Error::Shape("--classifier-epochs must be at least 1".into()));
        }
        let s = TrainSettings { epochs: a.classifier_epochs, ..Default::default() };
        println!("classifier: training LeNet for {} epochs on {} digits ({} iterations)…", s.epochs, train.count, s.epochs * train.count / s.batch);
        let t0 = std::time::Instant::now();
        let gpu = gpu.as_ref().expect("checked above: --cpu needs an existing classifier");
        let c = Classifier::train(gpu, &train.images, &train.labels, s, &mut |i, n| {
            if i % 500 == 0 || i == n {
                println!("  {i}/{n} iterations, {:.0} s", t0.elapsed().as_secs_f64());
            }
        })?;
        c.save(&a.classifier)?;
        println!("classifier: saved {}", a.classifier.display());
        c
    };
    let acc = clf.accuracy(on(), &test.images, &test.labels)?;
    println!("classifier accuracy on the {} held-out digits: {:.2}%", test.count, 100.0 * acc);
    let n = a.n.min(test.count).min(train.count);
    let held_out = &test.images[..n * dim];
    // The held-out digits' statistics are shared by the floor and every score below.
    let held = gaussian(&clf.features(on(), held_out)?, FEATURES)?;
    let score = |imgs: &[f32]| -> wgpu_gan::Result<f64> { frechet_distance(&gaussian(&clf.features(on(), imgs)?, FEATURES)?, &held) };
    let floor = score(&train.images[..n * dim])?;
    println!("FID-MNIST floor ({n} training digits vs {n} held-out): {floor:.2}");

    let (g0, d0) = cfg.init_params();
    let chunk = 64;
    let mut gan: Box<dyn Trainer> = match &gpu {
        Some(gpu) => {
            let gan = GpuGan::new(gpu, cfg, &g0, &d0, chunk)?;
            gan.g.load(gpu, &g, &running)?;
            Box::new(gan)
        }
        None => {
            let mut gan = CpuGan::new(cfg, g.clone(), d0)?;
            gan.g.running = running.clone();
            Box::new(gan)
        }
    };
    println!("generator: {} at iteration {step}", a.checkpoint.display());
    for (mode, what) in [(Mode::BatchStats, "batch statistics (64 per batch)"), (Mode::Eval, "running statistics")] {
        let mut imgs = Vec::with_capacity(n * dim);
        for c in 0..n.div_ceil(chunk) {
            imgs.extend(gan.sample(chunk, 10_000 + c as u32, mode)?);
        }
        imgs.truncate(n * dim);
        let fid = score(&imgs)?;
        let mut hist = [0usize; CLASSES];
        let predicted = clf.predict(on(), &imgs)?;
        for &p in &predicted {
            hist[p as usize] += 1;
        }
        if classes > 0 {
            // M3: each chunk was asked for wgpu_gan::gan::grid_labels(chunk, classes).
            let asked = wgpu_gan::gan::grid_labels(chunk, classes);
            let right = predicted.iter().enumerate().filter(|(i, &p)| p as u32 == asked[i % chunk]).count();
            println!("M3, conditional accuracy, BatchNorm with {what}: {:.1}% of {n} samples classified as the digit asked for", 100.0 * right as f64 / n as f64);
        }
        let covered = hist.iter().filter(|&&h| h * 100 >= n).count();
        println!("FID-MNIST, BatchNorm with {what}: {fid:.2}   (floor {floor:.2}; {n} generated vs {n} held-out)");
        println!("  classes of the generated digits: {hist:?} ({covered}/10 classes with ≥ 1 %)");
        if let (Some(path), Mode::BatchStats) = (&a.grid, mode) {
            plot::save_png(&plot::image_grid(&imgs, 100.min(n), train.rows, train.cols, 10, 2), path)?;
            println!("  wrote {}", path.display());
        }
    }
    Ok(())
}
