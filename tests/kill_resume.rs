//! `kill -9` in the middle of an R6 run on a streamed image folder (the prefetching reader, its
//! workers reading ahead) loses nothing: the run resumed from its last checkpoint logs the same
//! losses, step for step, and ends in the same state as a run that was never interrupted. The
//! folder holds PNG and JPEG images of mixed sizes and two broken files (not an image; a PNG cut
//! in half, whose header reads): both are reported, and the runs write their grids and
//! checkpoints.
//!
//! The run to kill is this test binary started again as a child running this same test with
//! `WGPU_GAN_KILL_DIR` set (which makes it train instead), so that a real process dies by
//! SIGKILL mid-step; its reads are slowed down so that the kill lands while it trains.

mod common;
use image::{ImageFormat, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wgpu_gan::data::images::FolderOptions;
use wgpu_gan::data::stream::{FolderRows, PrefetchOptions, RowSource, Stream};
use wgpu_gan::gan::images::{train, RunOptions};
use wgpu_gan::gan::GanConfig;
use wgpu_gan::models::R6;

const ITERS: usize = 30;

/// A folder of 40 small pictures, PNG and JPEG of mixed sizes, and two broken files.
fn folder(dir: &Path) {
    std::fs::create_dir_all(dir.join("jpeg")).unwrap();
    for i in 0..40u32 {
        let img = RgbImage::from_fn(20 + i % 5 * 7, 18 + i % 3 * 5, |x, y| Rgb([(x * 9 + i) as u8, (y * 13) as u8, (i * 6) as u8]));
        let (name, f) = if i % 3 == 0 { (format!("jpeg/{i:02}.jpg"), ImageFormat::Jpeg) } else { (format!("{i:02}.png"), ImageFormat::Png) };
        img.save_with_format(dir.join(name), f).unwrap();
    }
    std::fs::write(dir.join("readme.txt"), "not an image").unwrap();
    let whole = std::fs::read(dir.join("01.png")).unwrap();
    std::fs::write(dir.join("05-cut.png"), &whole[..whole.len() / 2]).unwrap();
}

/// The folder's rows, each read `delay` late (a slow disk).
struct Slow {
    rows: FolderRows,
    delay: Duration,
}

impl RowSource for Slow {
    fn count(&self) -> usize {
        self.rows.count()
    }
    fn dim(&self) -> usize {
        self.rows.dim()
    }
    fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> {
        std::thread::sleep(self.delay);
        self.rows.read(i, out)
    }
    fn describe(&self) -> String {
        self.rows.describe()
    }
}

/// Trains (or resumes) into `out`; the losses logged, and the broken files the reader reported.
fn run(data: &Path, out: &Path, resume: bool, delay: Duration) -> (Vec<String>, String) {
    let rows = FolderRows::scan(data, FolderOptions { size: 16, nc: 3, min_side: 8, max_images: None }).unwrap();
    let skipped = format!("{:?}", rows.skipped);
    let source = Arc::new(Slow { rows, delay });
    let stream = Stream { source: source.clone(), prefetch: PrefetchOptions { workers: 2, depth: 2 } };
    let shape = R6 { image_size: 16, nc: 3, nz: 8, ngf: 4, ndf: 4 };
    let cfg = GanConfig { batch: 8, seed: 3, ..GanConfig::r6(stream, &shape) };
    let ck = out.join("checkpoint.safetensors");
    let opts = RunOptions {
        out: out.to_path_buf(),
        iters: ITERS,
        sample_every: 0,
        checkpoint_every: 3,
        log_every: 1,
        resume: if resume { Some(ck) } else { None },
        init_from: None,
        grid: 4,
        grid_seed: 1,
        grid_mode: wgpu_gan::nn::Mode::Eval,
        image_hw: (16, 16),
        channels: 3,
    };
    train(&common::gpu(), cfg, &opts).unwrap();
    (losses(out), format!("scan skipped {skipped}; while training: {}", source.rows.problems().unwrap_or_default()))
}

/// The loss log without its seconds column.
fn losses(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("losses.csv")).unwrap_or_default();
    text.lines().skip(1).map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string()).collect()
}

#[test]
fn kill_9_mid_run_loses_nothing() {
    if let Ok(base) = std::env::var("WGPU_GAN_KILL_DIR") {
        // The child: train until the parent kills it (it fails below if it is not killed).
        let base = PathBuf::from(base);
        let _ = run(&base.join("data"), &base.join("killed"), false, Duration::from_millis(15));
        panic!("the child run was to be killed before it finished");
    }
    let base = std::env::temp_dir().join(format!("wgpu-gan-kill-{}", std::process::id()));
    let (data, killed, straight) = (base.join("data"), base.join("killed"), base.join("straight"));
    let _ = std::fs::remove_dir_all(&base);
    folder(&data);
    /// Kills the child if the test fails before it does.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_9_mid_run_loses_nothing", "--nocapture"])
        .env("WGPU_GAN_KILL_DIR", &base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Child)
        .unwrap();
    // Kill it once two checkpoints are down, and steps past them.
    let t = Instant::now();
    while losses(&killed).len() < 7 {
        assert!(t.elapsed() < Duration::from_secs(120), "the child run never got to step 7");
        assert!(child.0.try_wait().unwrap().is_none(), "the child run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The log is written with each checkpoint: let it train on past this one (about two steps).
    std::thread::sleep(Duration::from_millis(130));
    child.0.kill().unwrap(); // SIGKILL
    let status = child.0.wait().unwrap();
    let logged = losses(&killed).len();
    println!("killed with SIGKILL after {logged} logged steps of {ITERS} (exit status {status:?})");
    assert!(status.code().is_none(), "the child was not killed by a signal: {status:?}");
    assert!(logged < ITERS, "the child finished before the kill");

    let (resumed, _) = run(&data, &killed, true, Duration::ZERO);
    let (uninterrupted, reported) = run(&data, &straight, false, Duration::ZERO);
    println!("{reported}");
    assert!(reported.contains("readme.txt") && reported.contains("05-cut.png"), "the broken files were not both reported: {reported}");
    for out in [&killed, &straight] {
        for f in ["samples_final.png", "checkpoint.safetensors", "loss_curve.png"] {
            assert!(out.join(f).is_file(), "{} has no {f}", out.display());
        }
    }
    assert_eq!(uninterrupted.len(), ITERS);
    let same = resumed == uninterrupted;
    println!("resumed run: {} logged steps, identical to the uninterrupted run's: {same}", resumed.len());
    assert!(same, "resumed:\n{}\nuninterrupted:\n{}", resumed.join("\n"), uninterrupted.join("\n"));
    let _ = std::fs::remove_dir_all(&base);
}
