//! Real samples read on demand, for data sets that should not be held whole (in host or device
//! memory): a [`RowSource`] gives row `i` of the data set when asked, and a [`Prefetcher`]
//! reads the rows of the coming training steps on background threads into a bounded queue, as a
//! DataLoader with workers does.
//!
//! The order is the on-GPU table's (`shaders/rng.wgsl::gather_rows`, [`crate::rng::gather_source`]):
//! every epoch visits each row once in a permutation that depends only on (seed, epoch), so a
//! streamed run draws exactly the rows an on-GPU run draws, step for step, and a run resumed at
//! step s reads on from step s.

use crate::data::images::{load_scanned, read_image, scan_folder, skipped_report, FolderOptions, FolderScan, ImageSet};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A data set whose rows are read when asked for.
///
/// ```
/// use wgpu_gan::data::stream::RowSource;
/// // Row i is [i, i].
/// struct Counting;
/// impl RowSource for Counting {
///     fn count(&self) -> usize { 5 }
///     fn dim(&self) -> usize { 2 }
///     fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) }
///     fn describe(&self) -> String { "5 counting rows".into() }
/// }
/// let mut row = [0.0; 2];
/// Counting.read(3, &mut row)?;
/// assert_eq!((row, Counting.problems()), ([3.0, 3.0], None));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub trait RowSource: Send + Sync {
    /// Rows in the data set.
    fn count(&self) -> usize;
    /// Values per row.
    fn dim(&self) -> usize;
    /// Row `i` (below [`RowSource::count`]) into `out` (`dim` values).
    fn read(&self, i: usize, out: &mut [f32]) -> Result<()>;
    /// One line for logs: what the rows are.
    fn describe(&self) -> String;
    /// Rows that could not be read while training and what was read in their place (a line for
    /// the log), or nothing.
    fn problems(&self) -> Option<String> {
        None
    }
}

/// A shared [`RowSource`], as [`crate::gan::DataSource::Stream`] holds it. Two are equal when
/// they are the same source.
///
/// ```
/// # use wgpu_gan::data::stream::RowSource;
/// # struct Rows; // 6 rows, row i = [i, i]
/// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
/// use std::sync::Arc;
/// use wgpu_gan::data::stream::Stream;
/// let source: Arc<dyn RowSource> = Arc::new(Rows);
/// let a = Stream::new(source.clone());
/// assert_eq!(a, Stream::new(source));           // the same source
/// assert_ne!(a, Stream::new(Arc::new(Rows)));   // another one, however alike
/// assert!(format!("{a:?}").starts_with("Stream(6 rows"));
/// ```
#[derive(Clone)]
pub struct Stream {
    pub source: Arc<dyn RowSource>,
    /// How the rows are read ahead (see [`Prefetcher`]).
    pub prefetch: PrefetchOptions,
}

impl Stream {
    /// The rows of `source`, read ahead with the default [`PrefetchOptions`].
    ///
    /// ```
    /// # use wgpu_gan::data::stream::RowSource;
    /// # struct Rows; // 6 rows, row i = [i, i]
    /// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
    /// use std::sync::Arc;
    /// use wgpu_gan::data::stream::{PrefetchOptions, Stream};
    /// let s = Stream::new(Arc::new(Rows));
    /// assert_eq!((s.source.count(), s.prefetch), (6, PrefetchOptions::default()));
    /// ```
    pub fn new(source: Arc<dyn RowSource>) -> Stream {
        Stream { source, prefetch: PrefetchOptions::default() }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stream({}, {:?})", self.source.describe(), self.prefetch)
    }
}

impl PartialEq for Stream {
    fn eq(&self, other: &Stream) -> bool {
        Arc::ptr_eq(&self.source, &other.source) && self.prefetch == other.prefetch
    }
}

/// Which rows one training step reads: `draws` draws (the discriminator updates) of `batch`
/// rows each, from a data set of `count` rows, in the epoch order of `seed`.
///
/// ```
/// # use wgpu_gan::data::stream::RowSource;
/// # struct Rows; // 6 rows, row i = [i, i]
/// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
/// use wgpu_gan::data::stream::StepPlan;
/// let plan = StepPlan { seed: 1, draws: 2, batch: 3, ..Default::default() };
/// let mut rows = Vec::new();
/// plan.read(&Rows, 0, &mut rows)?;
/// assert_eq!(rows.len(), plan.len(Rows.dim()));             // 2 draws × 3 rows × 2 values
/// let mut firsts: Vec<f32> = rows.iter().step_by(2).copied().collect();
/// firsts.sort_by(f32::total_cmp);
/// assert_eq!(firsts, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);       // step 0 is epoch 0: each row once
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepPlan {
    pub seed: u32,
    pub draws: usize,
    /// Rows of each draw that this process reads.
    pub batch: usize,
    /// A data-parallel rank's shard ([`crate::gan::dist`]): the first of its rows among each
    /// draw's `total` (0: `batch`, a process alone). Rank r of N at batch b reads rows
    /// [r·b, (r+1)·b) of what one process at batch N·b reads.
    pub first: usize,
    pub total: usize,
}

impl StepPlan {
    /// Values one step reads.
    ///
    /// ```
    /// use wgpu_gan::data::stream::StepPlan;
    /// let plan = StepPlan { seed: 0, draws: 5, batch: 8, ..Default::default() };
    /// assert_eq!(plan.len(2), 5 * 8 * 2);                      // 5 draws of 8 rows of 2 values
    /// ```
    pub fn len(&self, dim: usize) -> usize {
        self.draws * self.batch * dim
    }

    /// The rows of step `step`, draw after draw, into `out` (resized to [`StepPlan::len`]).
    ///
    /// ```
    /// # use wgpu_gan::data::stream::RowSource;
    /// # struct Rows; // 6 rows, row i = [i, i]
    /// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
    /// use wgpu_gan::data::stream::StepPlan;
    /// let plan = StepPlan { seed: 1, draws: 3, batch: 2, ..Default::default() };
    /// let mut rows = vec![9.0; 100];
    /// plan.read(&Rows, 4, &mut rows)?;
    /// assert_eq!(rows.len(), plan.len(2));                     // resized: 3 × 2 × 2
    /// let mut draw1 = [0.0; 4];
    /// plan.read_draw(&Rows, 4, 1, &mut draw1)?;
    /// assert_eq!(rows[4..8], draw1);                           // draw after draw
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read(&self, src: &dyn RowSource, step: u64, out: &mut Vec<f32>) -> Result<()> {
        let n = self.batch * src.dim();
        out.resize(self.draws * n, 0.0);
        for (d, draw) in out.chunks_mut(n).enumerate() {
            self.read_draw(src, step, d, draw)?;
        }
        Ok(())
    }

    /// The `batch` rows of draw `draw` of step `step` into `out`.
    ///
    /// ```
    /// # use wgpu_gan::data::stream::RowSource;
    /// # struct Rows; // 6 rows, row i = [i, i]
    /// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
    /// use wgpu_gan::data::stream::StepPlan;
    /// let plan = StepPlan { seed: 7, draws: 2, batch: 3, ..Default::default() };
    /// let mut out = [-1.0; 3 * 2];
    /// plan.read_draw(&Rows, 0, 1, &mut out)?;
    /// let mut ids: Vec<f32> = out.chunks(2).map(|r| r[0]).collect();
    /// ids.sort_by(f32::total_cmp);
    /// ids.dedup();
    /// assert!(ids.len() == 3 && out.iter().all(|v| (0.0..6.0).contains(v))); // 3 rows, no repeat
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_draw(&self, src: &dyn RowSource, step: u64, draw: usize, out: &mut [f32]) -> Result<()> {
        let (count, dim) = (src.count() as u32, src.dim());
        for (j, row) in out.chunks_mut(dim).take(self.batch).enumerate() {
            let total = if self.total == 0 { self.batch } else { self.total };
            let i = crate::rng::gather_source((self.first + j) as u32, total as u32, count, self.seed, draw as u32, step as u32, self.draws as u32);
            src.read(i as usize, row)?;
        }
        Ok(())
    }
}

/// How far a [`Prefetcher`] reads ahead.
///
/// ```
/// use wgpu_gan::data::stream::PrefetchOptions;
/// let o = PrefetchOptions { workers: 2, depth: 3 };
/// assert_eq!(o.bound(10), (2 * (3 + 1) + 1) * 10);   // at most 90 values held at once
/// let d = PrefetchOptions::default();
/// assert!((1..=4).contains(&d.workers) && d.depth == 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefetchOptions {
    /// Background threads, each reading whole steps (worker w reads steps w, w + workers, ...).
    pub workers: usize,
    /// Steps each worker may hold ready beyond the one it is reading.
    pub depth: usize,
}

impl Default for PrefetchOptions {
    /// Up to 4 workers (fewer on machines with fewer cores), 2 steps ahead each.
    fn default() -> PrefetchOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PrefetchOptions { workers: cores.clamp(1, 4), depth: 2 }
    }
}

impl PrefetchOptions {
    /// The most values the queue holds at once: every worker's ready steps and the one it is
    /// reading, and the one handed out.
    ///
    /// ```
    /// use wgpu_gan::data::stream::PrefetchOptions;
    /// let one = PrefetchOptions { workers: 1, depth: 0 };
    /// assert_eq!(one.bound(100), 2 * 100);                     // the step being read, the one handed out
    /// assert_eq!(PrefetchOptions { workers: 4, depth: 2 }.bound(1), 4 * 3 + 1);
    /// ```
    pub fn bound(&self, step_len: usize) -> usize {
        (self.workers * (self.depth + 1) + 1) * step_len
    }
}

/// Reads the rows of steps `first`, `first + 1`, ... on background threads, in order: each
/// worker owns every `workers`-th step and a queue of `depth` finished steps, so at most
/// [`PrefetchOptions::bound`] values are held however large the data set. Dropping it stops
/// the workers.
///
/// ```
/// # use wgpu_gan::data::stream::RowSource;
/// # struct Rows; // 6 rows, row i = [i, i]
/// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
/// use std::sync::Arc;
/// use wgpu_gan::data::stream::{PrefetchOptions, Prefetcher, StepPlan};
/// let plan = StepPlan { seed: 3, draws: 1, batch: 4, ..Default::default() };
/// let mut p = Prefetcher::start(Arc::new(Rows), plan, 5, PrefetchOptions { workers: 2, depth: 1 });
/// for step in 5..8 {
///     let mut want = Vec::new();
///     plan.read(&Rows, step, &mut want)?;
///     assert_eq!(p.next_step(), step);
///     assert_eq!(p.next_rows()?, want);         // what a direct read gives, in step order
/// }
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Prefetcher {
    queues: Vec<Receiver<Result<Vec<f32>>>>,
    workers: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next: u64,
    first: u64,
}

impl Prefetcher {
    /// Starts `o.workers` threads (at least one) reading the steps of `plan` from `first` on.
    ///
    /// ```
    /// # use wgpu_gan::data::stream::RowSource;
    /// # struct Rows; // 6 rows, row i = [i, i]
    /// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
    /// use std::sync::Arc;
    /// use wgpu_gan::data::stream::{PrefetchOptions, Prefetcher, StepPlan};
    /// let plan = StepPlan { seed: 0, draws: 2, batch: 2, ..Default::default() };
    /// let mut p = Prefetcher::start(Arc::new(Rows), plan, 10, PrefetchOptions { workers: 0, depth: 1 });
    /// let mut want = Vec::new();
    /// plan.read(&Rows, 10, &mut want)?;
    /// assert_eq!(p.next_rows()?, want);                        // no workers asked for: one anyway
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn start(source: Arc<dyn RowSource>, plan: StepPlan, first: u64, o: PrefetchOptions) -> Prefetcher {
        let stop = Arc::new(AtomicBool::new(false));
        let n = o.workers.max(1);
        let mut queues = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = sync_channel(o.depth);
            let (source, stop) = (source.clone(), stop.clone());
            let spawned = std::thread::Builder::new().name(format!("wgpu-gan-data-{w}")).spawn(move || {
                let mut step = first + w as u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut rows = Vec::new();
                    let r = plan.read(source.as_ref(), step, &mut rows).map(|_| rows);
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                    step += n as u64;
                }
            });
            match spawned {
                Ok(h) => workers.push(h),
                // No thread: the queue's sender is gone, and `next` says so.
                Err(e) => eprintln!("warning: could not start data worker {w}: {e}"),
            }
            queues.push(rx);
        }
        Prefetcher { queues, workers, stop, next: first, first }
    }

    /// The step whose rows [`Prefetcher::next_rows`] gives next.
    ///
    /// ```
    /// # use wgpu_gan::data::stream::RowSource;
    /// # struct Rows; // 6 rows, row i = [i, i]
    /// # impl RowSource for Rows { fn count(&self) -> usize { 6 } fn dim(&self) -> usize { 2 } fn read(&self, i: usize, out: &mut [f32]) -> wgpu_gan::Result<()> { out.fill(i as f32); Ok(()) } fn describe(&self) -> String { "6 rows".into() } }
    /// use std::sync::Arc;
    /// use wgpu_gan::data::stream::{PrefetchOptions, Prefetcher, StepPlan};
    /// let plan = StepPlan { seed: 0, draws: 1, batch: 2, ..Default::default() };
    /// let mut p = Prefetcher::start(Arc::new(Rows), plan, 3, PrefetchOptions { workers: 2, depth: 1 });
    /// assert_eq!(p.next_step(), 3);
    /// p.next_rows()?;
    /// p.next_rows()?;
    /// assert_eq!(p.next_step(), 5);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn next_step(&self) -> u64 {
        self.next
    }

    /// The rows of the next step (waits for its worker).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::data::stream::{PrefetchOptions, Prefetcher, RowSource, StepPlan};
    /// # struct Failing; // 4 rows of 1 value, none readable: "disk gone"
    /// # impl RowSource for Failing { fn count(&self) -> usize { 4 } fn dim(&self) -> usize { 1 } fn read(&self, _: usize, _: &mut [f32]) -> wgpu_gan::Result<()> { Err(wgpu_gan::Error::Data("disk gone".into())) } fn describe(&self) -> String { "failing".into() } }
    /// let plan = StepPlan { seed: 0, draws: 1, batch: 2, ..Default::default() };
    /// let mut p = Prefetcher::start(Arc::new(Failing), plan, 0, PrefetchOptions { workers: 1, depth: 1 });
    /// assert!(p.next_rows().unwrap_err().to_string().contains("disk gone")); // the read's error
    /// assert!(p.next_rows().is_err());                         // and the worker has stopped
    /// ```
    pub fn next_rows(&mut self) -> Result<Vec<f32>> {
        let q = &self.queues[((self.next - self.first) % self.queues.len() as u64) as usize];
        let r = q.recv().map_err(|_| Error::Data(format!("the data worker for step {} stopped", self.next)))?;
        self.next += 1;
        r
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A worker blocked on a full queue wakes when its receiver goes.
        self.queues.clear();
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

/// The images of a folder, decoded when read: [`scan_folder`] lists them (headers only) and
/// each read decodes one file as [`crate::data::images::load_folder`] would. A file that passed
/// the scan but does not decode in full (a truncated body) is replaced by the next one that
/// does, in path order, and reported by [`RowSource::problems`]; the same files give the same
/// rows in every run.
///
/// ```
/// use image::{Rgb, RgbImage};
/// use wgpu_gan::data::{images::FolderOptions, stream::{FolderRows, RowSource}};
/// # let dir = std::env::temp_dir().join(format!("folder_rows_{}", std::process::id()));
/// for (name, v) in [("a.png", 0), ("b.png", 255)] {
///     wgpu_gan::plot::save_png(&RgbImage::from_pixel(4, 4, Rgb([v; 3])), &dir.join(name))?;
/// }
/// let rows = FolderRows::scan(&dir, FolderOptions { size: 2, nc: 1, min_side: 0, max_images: None })?;
/// assert_eq!((rows.count(), rows.dim(), rows.bytes()), (2, 4, 2 * 4 * 4));
/// let mut row = [0.0; 4];
/// rows.read(1, &mut row)?;
/// assert_eq!(row, [1.0; 4]);                                 // b.png: white
/// assert_eq!(rows.load()?.rows, [[-1.0; 4], [1.0; 4]].concat()); // all of them, held
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct FolderRows {
    files: Vec<PathBuf>,
    options: FolderOptions,
    dir: PathBuf,
    /// Files the scan skipped, with why.
    pub skipped: Vec<(PathBuf, String)>,
    failed: Mutex<Vec<(PathBuf, String)>>,
}

impl FolderRows {
    /// Lists the images under `dir` as [`scan_folder`] does (headers only, nothing decoded).
    ///
    /// ```
    /// use image::RgbImage;
    /// use wgpu_gan::data::{images::FolderOptions, stream::{FolderRows, RowSource}};
    /// # let dir = std::env::temp_dir().join(format!("folder_rows_scan_{}", std::process::id()));
    /// let o = FolderOptions { size: 2, nc: 3, min_side: 0, max_images: None };
    /// assert!(FolderRows::scan(&dir, o).is_err());             // no such directory yet
    /// wgpu_gan::plot::save_png(&RgbImage::new(3, 3), &dir.join("a.png"))?;
    /// std::fs::write(dir.join("b.txt"), "text")?;
    /// let rows = FolderRows::scan(&dir, o)?;
    /// assert_eq!((rows.count(), rows.dim(), rows.skipped.len()), (1, 3 * 2 * 2, 1));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn scan(dir: &Path, options: FolderOptions) -> Result<FolderRows> {
        let scan = scan_folder(dir, options)?;
        Ok(FolderRows { files: scan.files, options, dir: dir.to_path_buf(), skipped: scan.skipped, failed: Mutex::new(Vec::new()) })
    }

    /// The files, in row order.
    ///
    /// ```
    /// use image::RgbImage;
    /// use wgpu_gan::data::{images::FolderOptions, stream::FolderRows};
    /// # let dir = std::env::temp_dir().join(format!("folder_rows_files_{}", std::process::id()));
    /// for name in ["sub/b.png", "a.png"] {
    ///     wgpu_gan::plot::save_png(&RgbImage::new(2, 2), &dir.join(name))?;
    /// }
    /// let rows = FolderRows::scan(&dir, FolderOptions { size: 2, nc: 1, min_side: 0, max_images: None })?;
    /// assert_eq!(rows.files(), [dir.join("a.png"), dir.join("sub/b.png")]); // recursive, path order
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Bytes the rows would take held whole, as f32.
    ///
    /// ```
    /// use image::RgbImage;
    /// use wgpu_gan::data::{images::FolderOptions, stream::FolderRows};
    /// # let dir = std::env::temp_dir().join(format!("folder_rows_bytes_{}", std::process::id()));
    /// for i in 0..3 {
    ///     wgpu_gan::plot::save_png(&RgbImage::new(8, 8), &dir.join(format!("{i}.png")))?;
    /// }
    /// let rows = FolderRows::scan(&dir, FolderOptions { size: 4, nc: 3, min_side: 0, max_images: None })?;
    /// assert_eq!(rows.bytes(), 3 * (3 * 4 * 4) * 4);           // 3 rows of 48 f32
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn bytes(&self) -> u64 {
        (self.files.len() * self.dim() * 4) as u64
    }

    /// Every image decoded into memory (as [`crate::data::images::load_folder`], without
    /// scanning again).
    ///
    /// ```
    /// use image::{Rgb, RgbImage};
    /// use wgpu_gan::data::{images::{load_folder, FolderOptions}, stream::FolderRows};
    /// # let dir = std::env::temp_dir().join(format!("folder_rows_load_{}", std::process::id()));
    /// wgpu_gan::plot::save_png(&RgbImage::from_pixel(2, 2, Rgb([255; 3])), &dir.join("a.png"))?;
    /// let o = FolderOptions { size: 2, nc: 1, min_side: 0, max_images: None };
    /// let set = FolderRows::scan(&dir, o)?.load()?;
    /// assert_eq!((set.count, &set.rows), (1, &vec![1.0; 4]));  // one white grey image
    /// assert_eq!(set.rows, load_folder(&dir, o)?.rows);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(self) -> Result<ImageSet> {
        load_scanned(&self.dir, FolderScan { files: self.files, skipped: self.skipped }, self.options)
    }
}

impl RowSource for FolderRows {
    fn count(&self) -> usize {
        self.files.len()
    }

    fn dim(&self) -> usize {
        self.options.nc * self.options.size * self.options.size
    }

    fn read(&self, i: usize, out: &mut [f32]) -> Result<()> {
        let n = self.files.len();
        for t in 0..n {
            let path = &self.files[(i + t) % n];
            match read_image(path, self.options.size, self.options.nc) {
                Ok(row) => {
                    out.copy_from_slice(&row);
                    return Ok(());
                }
                Err(why) => {
                    let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                    if !failed.iter().any(|(p, _)| p == path) {
                        eprintln!("warning: {} does not decode ({why}); the next image in path order is read in its place", path.display());
                        failed.push((path.clone(), why));
                    }
                }
            }
        }
        Err(Error::Data(format!("image folder {}: not one of its {n} images decodes", self.dir.display())))
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!("{} images under {} read as {} × {} × {}", self.files.len(), self.dir.display(), o.nc, o.size, o.size)
    }

    fn problems(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        skipped_report(&failed).map(|r| format!("{r} (each replaced by the next image in path order)"))
    }
}
