//! Streamed data (src/data/stream.rs, `DataSource::Stream`): rows read on background threads and
//! uploaded before each step train exactly as the same rows held on the GPU do (to the bit: the
//! same rows in the same order, for a joint and a separate discriminator pass, k = 2, a data set
//! whose epochs end inside a step); a streamed run resumed from its state goes on as the
//! uninterrupted one; the GPU agrees with the CPU reference on streamed data; the prefetcher
//! stays within its bound however far behind the consumer is; a folder read on demand gives the
//! rows `load_folder` gives, and a file whose body is corrupt is replaced and reported.

mod common;
use image::{ImageFormat, Rgb, RgbImage};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wgpu_gan::data::images::{load_folder, FolderOptions};
use wgpu_gan::data::stream::{FolderRows, PrefetchOptions, Prefetcher, RowSource, StepPlan, Stream};
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::{verify, DataSource, GanConfig, GpuGan, Table};
use wgpu_gan::models::R6;

/// R6 at 16 × 16, narrow, on `rows` (37 images: epochs end inside steps), two D updates a step.
fn small_r6(data: DataSource) -> GanConfig {
    let shape = R6 { image_size: 16, nc: 3, nz: 8, ngf: 4, ndf: 4 };
    let base = GanConfig::r6(Arc::new(Table::new(vec![0.0; 3 * 256], 3 * 256).unwrap()), &shape);
    GanConfig { data, batch: 8, k: 2, ..base }
}

/// R1's networks (no batch norm: one joint D pass over [fake; real]) on a table of 2-D points.
fn small_r1(data: DataSource) -> GanConfig {
    GanConfig { data, batch: 16, k: 2, ..GanConfig::r1(Mixture::ring(), 4, 16) }
}

fn table(count: usize, dim: usize, seed: u64) -> Arc<Table> {
    Arc::new(Table::new(common::randv(count * dim, seed, 1.0), dim).unwrap())
}

fn train(cfg: &GanConfig, steps: usize) -> wgpu_gan::gan::GanState {
    let gpu = common::gpu();
    let (g0, d0) = cfg.init_params();
    let mut gan = GpuGan::new(&gpu, cfg.clone(), &g0, &d0, 4).unwrap();
    gan.train_steps(steps);
    gan.stats().unwrap();
    gan.read_state().unwrap()
}

#[test]
fn streamed_rows_train_exactly_as_rows_on_the_gpu() {
    for (name, make, dim) in [("R6 16 × 16 (separate passes)", small_r6 as fn(DataSource) -> GanConfig, 3 * 256), ("R1 nets (joint pass)", small_r1, 2)] {
        let t = table(37, dim, 5);
        let on_gpu = make(DataSource::Table(t.clone()));
        let streamed = make(DataSource::Stream(Stream::new(t)));
        assert_eq!(on_gpu.separate_passes(), name.contains("separate"), "{name}");
        let (a, b) = (train(&on_gpu, 6), train(&streamed, 6));
        let same = a == b;
        println!("{name}: 6 steps, k = 2, 37 rows; streamed and on-GPU states identical: {same}");
        assert!(same, "{name}: the streamed run differs from the on-GPU run");
        assert_eq!(b.step, 6);
    }
}

#[test]
fn a_streamed_run_resumes_where_it_stopped() {
    let cfg = small_r6(DataSource::Stream(Stream::new(table(37, 3 * 256, 6))));
    let straight = train(&cfg, 5);
    let gpu = common::gpu();
    let (g0, d0) = cfg.init_params();
    let mut first = GpuGan::new(&gpu, cfg.clone(), &g0, &d0, 4).unwrap();
    first.train_steps(2);
    let half = first.read_state().unwrap();
    drop(first);
    let mut second = GpuGan::new(&gpu, cfg.clone(), &g0, &d0, 4).unwrap();
    second.train_steps(1); // the prefetcher starts at step 0 ...
    second.load_state(&half).unwrap(); // ... and must restart at step 2
    second.train_steps(3);
    let resumed = second.read_state().unwrap();
    println!("2 steps, state saved, 3 more after loading it: identical to 5 straight: {}", resumed == straight);
    assert!(resumed == straight, "the resumed streamed run differs");
}

#[test]
fn streamed_steps_agree_with_the_cpu_reference() {
    let cfg = small_r6(DataSource::Stream(Stream::new(table(37, 3 * 256, 7))));
    let v = verify(&common::gpu(), &cfg, 2, cfg.batch, 5).unwrap();
    println!("{v}");
    assert!(v.passed(1e-4), "judged {:.2e}", v.judged());
}

#[test]
fn streams_refuse_what_they_cannot_do() {
    let cfg = small_r1(DataSource::Stream(Stream::new(table(37, 2, 8)))).conditional();
    let e = cfg.validate().expect_err("a conditional GAN on unlabelled streamed rows was accepted").to_string();
    println!("refused: {e}");
    assert!(e.contains("label"), "{e}");
}

/// Rows whose reads are counted, and slow.
struct Counted {
    reads: AtomicUsize,
}

impl RowSource for Counted {
    fn count(&self) -> usize {
        1000
    }
    fn dim(&self) -> usize {
        4
    }
    fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        out.fill(i as f32);
        Ok(())
    }
    fn describe(&self) -> String {
        "counted".into()
    }
}

#[test]
fn the_prefetcher_reads_in_order_and_no_further_ahead_than_its_bound() {
    let src = Arc::new(Counted { reads: AtomicUsize::new(0) });
    let plan = StepPlan { seed: 3, draws: 2, batch: 5, ..Default::default() };
    let o = PrefetchOptions { workers: 3, depth: 2 };
    let mut p = Prefetcher::start(src.clone(), plan, 7, o);
    for step in 7..20u64 {
        let rows = p.next_rows().unwrap();
        let mut want = Vec::new();
        plan.read(src.as_ref(), step, &mut want).unwrap();
        assert_eq!(rows, want, "step {step}");
        assert_eq!(p.next_step(), step + 1);
    }
    // The consumer stops; the workers fill their queues and wait.
    std::thread::sleep(Duration::from_millis(300));
    let step_rows = plan.draws * plan.batch;
    // Rows read: 13 steps taken, 13 more by the comparison above, and what is queued.
    let ahead = src.reads.load(Ordering::SeqCst) - 2 * 13 * step_rows;
    let bound = o.bound(step_rows); // in rows: a step is `step_rows` of them
    println!("consumer idle: the workers read {} steps ahead (bound {} steps)", ahead / step_rows, bound / step_rows);
    assert!(ahead <= bound, "{ahead} rows read ahead, over the bound of {bound}");
    assert!(ahead >= o.workers * o.depth * step_rows, "the workers did not read ahead ({ahead} rows)");
    drop(p); // stops and joins the workers
}

#[test]
fn a_folder_streams_the_rows_it_loads_and_replaces_a_corrupt_body() {
    let d = std::env::temp_dir().join(format!("wgpu-gan-stream-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).unwrap();
    for (i, c) in [[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 200, 0]].iter().enumerate() {
        let img = RgbImage::from_fn(30 + 7 * i as u32, 24, |x, y| Rgb([c[0] ^ (x as u8 * 9), c[1] ^ (y as u8 * 5), c[2]]));
        let (name, fmt) = if i % 2 == 0 { (format!("{i}.png"), ImageFormat::Png) } else { (format!("sub/{i}.jpg"), ImageFormat::Jpeg) };
        img.save_with_format(d.join(name), fmt).unwrap();
    }
    // A PNG whose header is whole and whose pixels are cut off: the scan accepts it (headers
    // only), decoding it fails.
    let whole = std::fs::read(d.join("0.png")).unwrap();
    std::fs::write(d.join("00-truncated.png"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    let o = FolderOptions { size: 16, nc: 3, min_side: 8, max_images: None };
    let rows = FolderRows::scan(&d, o).unwrap();
    let held = load_folder(&d, o).unwrap();
    println!("{}; scan skipped {:?}; load_folder {}", rows.describe(), rows.skipped, held.skipped_report().unwrap());
    assert_eq!((rows.count(), held.count), (5, 5), "a body that does not decode keeps its row, held or streamed");
    assert_eq!((rows.skipped.len(), held.skipped.len()), (1, 2), "the scan reads headers only; loading decodes");
    let dim = rows.dim();
    let mut got = vec![0.0; dim];
    // Path order: 0.png, 00-truncated.png, 2.png, sub/1.jpg, sub/3.jpg.
    for i in [0, 2, 3, 4] {
        rows.read(i, &mut got).unwrap();
        assert_eq!(got, held.rows[i * dim..(i + 1) * dim], "row {i}");
    }
    assert!(rows.problems().is_none());
    rows.read(1, &mut got).unwrap();
    assert_eq!(got, held.rows[dim..2 * dim], "the truncated file's row is the same held and streamed");
    assert_eq!(got, held.rows[2 * dim..3 * dim], "the truncated file is replaced by the next image");
    let p = rows.problems().expect("the truncated file is reported");
    println!("{p}");
    assert!(p.contains("00-truncated.png"), "{p}");
    let _ = std::fs::remove_dir_all(&d);
}
