//! Data-parallel training: N processes (ranks), one per GPU, each holding both networks and
//! training on its own rows of every global batch, the gradients averaged over the ranks before
//! every optimizer launch — the same step as one process on the whole batch, to float rounding.
//!
//! - **Shards.** Rank r of N at batch B draws the noise and real rows that one process at batch
//!   N·B draws in rows [r·B, (r+1)·B): every random number is a function of its global index
//!   (`shaders/rng.wgsl`), so nothing but the index changes.
//! - **Gradients.** Each rank's backward pass gives the gradient of its own mean loss; the mean
//!   of those over the ranks is the whole batch's. It is taken on each network's one gradient
//!   buffer (`GpuNet::grads.whole`), once per optimizer launch.
//! - **Batch norm (SyncBatchNorm).** With `sync_bn`, each batch-norm layer's statistics are the
//!   whole batch's: the ranks combine their tiles' means and centred sums (in f64, in rank
//!   order, so every rank gets the same bits), and average the backward pass's Σ dy and Σ dy·x̂.
//!   Without it, each rank normalises by its own rows (what plain DistributedDataParallel does).
//!
//! The transport is a [`Collective`]: MPI (`wgpu_gan::mpi`, the `mpi` feature) between
//! processes, or [`Threads`] between threads of one process (tests, and one machine with
//! several adapters and no MPI).
//!
//! ```
//! use wgpu_gan::{data::Mixture, gan::{dist::{DistGan, Threads}, GanConfig, GpuGan, Trainer}, gpu::Gpu};
//! let gpu = Gpu::new()?;
//! let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
//! cfg.batch = 8;                                         // per rank: 2 × 8 rows a step
//! let (g, d) = cfg.init_params();
//! let ranks: Vec<_> = Threads::group(2).into_iter().map(|t| {
//!     let (gpu, cfg, g, d) = (gpu.clone(), cfg.clone(), g.clone(), d.clone());
//!     std::thread::spawn(move || -> wgpu_gan::Result<_> {
//!         let mut gan = DistGan::new(&gpu, cfg, &g, &d, 8, Box::new(t), true)?;
//!         gan.train_steps(2);
//!         gan.stats()?;
//!         gan.gan.read_state()
//!     })
//! }).collect();
//! let states: Vec<_> = ranks.into_iter().map(|h| h.join().unwrap()).collect::<Result<_, _>>()?;
//! // One process at batch 16 takes the same two steps.
//! let mut one = GpuGan::new(&gpu, GanConfig { batch: 16, ..cfg }, &g, &d, 8)?;
//! one.train_steps(2);
//! let want = one.read_state()?;
//! for s in &states {
//!     for (a, b) in s.g.iter().chain(&s.d).zip(want.g.iter().chain(&want.d)) {
//!         assert!(wgpu_gan::max_rel_err(a, b) < 1e-5);
//!     }
//! }
//! # Ok::<(), wgpu_gan::Error>(())
//! ```

use super::{GanConfig, GanState, GpuGan, Stats, Trainer};
use crate::error::{Error, Result};
use crate::gpu::{read_range_async, Dispatch, Gpu, Tensor};
use crate::nn::batchnorm::{combine_moments, BnBackwardFinish, BnStatsFinish, BnSync};
use crate::nn::Mode;
use std::cell::{Cell, RefCell};
use super::recipe::Op;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Which rows of a data-parallel run's global batch a process draws: rank `rank` of `ranks`.
///
/// ```
/// use wgpu_gan::gan::dist::Shard;
/// assert_eq!(Shard::ALONE, Shard { rank: 0, ranks: 1 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub ranks: usize,
}

impl Shard {
    /// One process, the whole batch.
    ///
    /// ```
    /// use wgpu_gan::gan::dist::Shard;
    /// assert_eq!((Shard::ALONE.rank, Shard::ALONE.ranks), (0, 1));
    /// ```
    pub const ALONE: Shard = Shard { rank: 0, ranks: 1 };

    /// (global index of this rank's first row, rows over all ranks) for a per-rank batch `n`.
    pub(crate) fn rows(&self, n: u32) -> (u32, u32) {
        (self.rank as u32 * n, self.ranks as u32 * n)
    }

    /// What a data-parallel run cannot do, as an error before anything is built.
    pub(crate) fn check(&self, cfg: &GanConfig) -> Result<()> {
        if self.ranks == 0 || self.rank >= self.ranks {
            return Err(Error::Shape(format!("rank {} of {}: a rank is below the number of ranks", self.rank, self.ranks)));
        }
        if self.ranks == 1 {
            return Ok(());
        }
        if (cfg.batch * cfg.z_dim()) % 2 == 1 {
            return Err(Error::Shape(format!(
                "data-parallel training needs batch × z_dim even (the noise is drawn in pairs); batch {} × z_dim {} is odd",
                cfg.batch,
                cfg.z_dim()
            )));
        }
        Ok(())
    }
}

/// What data-parallel training needs of its transport: every rank calls the same methods in the
/// same order, and each returns only when every rank has called it.
///
/// ```
/// use wgpu_gan::gan::dist::Collective;
/// /// A world of one: nothing to exchange.
/// struct Alone;
/// impl Collective for Alone {
///     fn rank(&self) -> usize { 0 }
///     fn ranks(&self) -> usize { 1 }
///     fn sum(&self, _: &mut [f32]) -> wgpu_gan::Result<()> { Ok(()) }
///     fn gather(&self, v: &[f64]) -> wgpu_gan::Result<Vec<f64>> { Ok(v.to_vec()) }
/// }
/// let mut v = [2.0, 3.0];
/// Alone.sum(&mut v)?;
/// assert_eq!((v, Alone.gather(&[1.0])?), ([2.0, 3.0], vec![1.0]));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub trait Collective {
    /// This process's rank, 0..ranks.
    fn rank(&self) -> usize;
    fn ranks(&self) -> usize;
    /// Replaces `values` by their sum over the ranks (element by element; the same bits on
    /// every rank).
    fn sum(&self, values: &mut [f32]) -> Result<()>;
    /// Every rank's `values` (each rank gives as many), in rank order.
    fn gather(&self, values: &[f64]) -> Result<Vec<f64>>;
}

/// A shared transport is one too (the caller keeps a handle, e.g. to abort every rank).
impl<C: Collective + ?Sized> Collective for Arc<C> {
    fn rank(&self) -> usize {
        (**self).rank()
    }
    fn ranks(&self) -> usize {
        (**self).ranks()
    }
    fn sum(&self, values: &mut [f32]) -> Result<()> {
        (**self).sum(values)
    }
    fn gather(&self, values: &[f64]) -> Result<Vec<f64>> {
        (**self).gather(values)
    }
}

/// Whether this process was started by `mpirun` (or another MPI launcher) as one of several
/// ranks: Open MPI, MPICH and Slurm's PMI say so in the environment. (A program built without
/// MPI checks it to refuse to train N copies alone into one output directory.)
///
/// ```
/// std::env::remove_var("OMPI_COMM_WORLD_SIZE");
/// std::env::set_var("PMI_SIZE", "1");                 // one rank: not a data-parallel run
/// assert!(!wgpu_gan::gan::dist::launched_as_ranks());
/// std::env::set_var("OMPI_COMM_WORLD_SIZE", "2");
/// assert!(wgpu_gan::gan::dist::launched_as_ranks());
/// ```
pub fn launched_as_ranks() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"]
        .iter()
        .any(|v| std::env::var(v).ok().and_then(|s| s.parse::<usize>().ok()).is_some_and(|n| n > 1))
}

/// A [`Collective`] between threads of one process: ranks that share a machine (and perhaps one
/// adapter), with no MPI. A rank that waits longer than the timeout for the others gets an error.
///
/// ```
/// use wgpu_gan::gan::dist::{Collective, Threads};
/// let ranks: Vec<_> = Threads::group(3).into_iter().map(|t| std::thread::spawn(move || {
///     let mut v = [t.rank() as f32, 1.0];
///     t.sum(&mut v).unwrap();
///     (v, t.gather(&[t.rank() as f64]).unwrap())
/// })).collect();                                         // all three started, then joined
/// let out: Vec<_> = ranks.into_iter().map(|h| h.join().unwrap()).collect();
/// assert!(out.iter().all(|(v, g)| *v == [3.0, 3.0] && *g == [0.0, 1.0, 2.0]));
/// ```
pub struct Threads {
    rank: usize,
    shared: Arc<Exchange>,
    timeout: Duration,
}

struct Exchange {
    ranks: usize,
    round: Mutex<Round>,
    changed: Condvar,
}

#[derive(Default)]
struct Round {
    /// Rounds completed.
    done: u64,
    given: Vec<Option<Vec<f64>>>,
    /// The last round's values, and how many ranks have yet to take them.
    result: Arc<Vec<Vec<f64>>>,
    unread: usize,
}

impl Threads {
    /// `ranks` members of one group, to hand one to each thread (a 60 s timeout).
    ///
    /// ```
    /// use wgpu_gan::gan::dist::{Collective, Threads};
    /// let g = Threads::group(2);
    /// assert_eq!(g.iter().map(|t| (t.rank(), t.ranks())).collect::<Vec<_>>(), [(0, 2), (1, 2)]);
    /// ```
    pub fn group(ranks: usize) -> Vec<Threads> {
        let shared = Arc::new(Exchange { ranks, round: Mutex::new(Round { given: vec![None; ranks], ..Default::default() }), changed: Condvar::new() });
        (0..ranks).map(|rank| Threads { rank, shared: shared.clone(), timeout: Duration::from_secs(60) }).collect()
    }

    /// The same rank, waiting at most `timeout` for the others in each call.
    ///
    /// ```
    /// use wgpu_gan::gan::dist::{Collective, Threads};
    /// let lone = Threads::group(2).remove(0).with_timeout(std::time::Duration::from_millis(10));
    /// assert!(lone.sum(&mut [1.0]).is_err());              // rank 1 never calls
    /// ```
    pub fn with_timeout(self, timeout: Duration) -> Threads {
        Threads { timeout, ..self }
    }

    /// Every rank's values, once all have given theirs.
    fn exchange(&self, mine: Vec<f64>) -> Result<Arc<Vec<Vec<f64>>>> {
        let ex = &*self.shared;
        let lost = || Error::Shape(format!("rank {}: the other ranks did not answer within {:?} (one of them stopped)", self.rank, self.timeout));
        let deadline = Instant::now() + self.timeout;
        fn wait<'a>(ex: &Exchange, g: std::sync::MutexGuard<'a, Round>, deadline: Instant, lost: &dyn Fn() -> Error) -> Result<std::sync::MutexGuard<'a, Round>> {
            let left = deadline.checked_duration_since(Instant::now()).ok_or_else(lost)?;
            Ok(ex.changed.wait_timeout(g, left).map_err(|_| lost())?.0)
        }
        let mut r = ex.round.lock().map_err(|_| lost())?;
        // The last round's values must be taken by every rank before this one is filled.
        while r.unread > 0 || r.given[self.rank].is_some() {
            r = wait(ex, r, deadline, &lost)?;
        }
        r.given[self.rank] = Some(mine);
        let round = r.done;
        if r.given.iter().all(Option::is_some) {
            r.result = Arc::new(r.given.iter_mut().map(|v| v.take().expect("given")).collect());
            r.unread = ex.ranks;
            r.done += 1;
            ex.changed.notify_all();
        }
        while r.done == round {
            r = wait(ex, r, deadline, &lost)?;
        }
        let out = r.result.clone();
        r.unread -= 1;
        if r.unread == 0 {
            ex.changed.notify_all();
        }
        Ok(out)
    }
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn ranks(&self) -> usize {
        self.shared.ranks
    }
    fn sum(&self, values: &mut [f32]) -> Result<()> {
        let all = self.exchange(values.iter().map(|&v| v as f64).collect())?;
        for (i, v) in values.iter_mut().enumerate() {
            // In f32, in rank order, as an MPI sum of f32 would.
            *v = all.iter().fold(0.0f32, |s, r| s + r[i] as f32);
        }
        Ok(())
    }
    fn gather(&self, values: &[f64]) -> Result<Vec<f64>> {
        Ok(self.exchange(values.to_vec())?.concat())
    }
}

/// Time and bytes a rank spent in its collectives: what data-parallel training costs a step
/// beyond the step itself.
///
/// ```
/// use wgpu_gan::gan::dist::CommStats;
/// let c = CommStats::default();
/// assert_eq!((c.calls, c.overlapped, c.bytes, c.seconds, c.exchange_seconds), (0, 0, 0, 0.0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommStats {
    /// Collective calls (gradient sums, batch-norm combinations, statistics).
    pub calls: u64,
    /// Of those, the ones during which the GPU went on with work queued after the readback (a
    /// discriminator update's exchange, while the next phase's noise and generator pass run).
    pub overlapped: u64,
    /// Bytes this rank gave to them.
    pub bytes: u64,
    /// Seconds from asking the GPU for the values to having written the result back: the GPU
    /// finishing the work queued before them, the readback, the exchange and the write.
    pub seconds: f64,
    /// Of those, the seconds inside the exchanges themselves (the transport, and waiting for
    /// the slowest rank to arrive).
    pub exchange_seconds: f64,
}

/// One rank of a data-parallel run: its [`GpuGan`] at this rank's batch, and the group.
///
/// [`DistGan::new`] checks that every rank starts from the same weights and settings (a
/// checksum gathered from all); [`Trainer::stats`] is the whole batch's (the ranks' mean);
/// [`Trainer::agree`] checks the ranks still hold the same state (the training loop does so at
/// each checkpoint). See the module's documentation.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{dist::{DistGan, Threads}, GanConfig, Trainer}, gpu::Gpu};
/// let gpu = Gpu::new()?;
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let (g, d) = cfg.init_params();
/// // A group of one: the same program, its exchanges with nobody.
/// let mut gan = DistGan::new(&gpu, cfg, &g, &d, 4, Box::new(Threads::group(1).remove(0)), true)?;
/// gan.train_steps(2);
/// assert_eq!(gan.steps_done(), 2);
/// assert!(gan.stats()?.d_loss.is_finite());
/// assert!(gan.leader() && gan.agree().is_ok());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct DistGan {
    pub gan: GpuGan,
    group: Box<dyn Collective>,
    sync_bn: bool,
    /// Each batch norm's finish over one tile of the ranks' combined sums (statistics and
    /// backward), by its launch's index in the step and in the burst program.
    finish: [HashMap<usize, Dispatch>; 2],
    /// By the position of a discriminator update in the step: its optimizer launches, and the
    /// launches after them that do not read D (the next phase's noise, generator pass and real
    /// rows), which run while the ranks exchange D's gradients.
    ahead: HashMap<usize, (Range<usize>, Range<usize>)>,
    /// The first error of a step ([`Trainer::train_steps`] returns none): [`Trainer::stats`]
    /// returns it.
    error: RefCell<Option<Error>>,
    comm: Cell<CommStats>,
}

impl DistGan {
    /// Builds this rank's GAN (`cfg.batch` rows of a global batch of `ranks · cfg.batch`) and
    /// checks, with the other ranks, that all start alike. Every rank calls it.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{dist::{DistGan, Threads}, GanConfig}, gpu::Gpu};
    /// let gpu = Gpu::new()?;
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 3, 16);    // z_dim 3
    /// cfg.batch = 5;
    /// let (g, d) = cfg.init_params();
    /// let alone = DistGan::new(&gpu, cfg.clone(), &g, &d, 4, Box::new(Threads::group(1).remove(0)), true);
    /// assert!(alone.is_ok());
    /// // On 2 ranks the noise is drawn in pairs: 5 rows of 3 values is refused before any exchange.
    /// let two = DistGan::new(&gpu, cfg, &g, &d, 4, Box::new(Threads::group(2).remove(0)), true);
    /// assert!(two.err().unwrap().to_string().contains("even"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &Gpu, cfg: GanConfig, g_params: &[Vec<f32>], d_params: &[Vec<f32>], sample_capacity: usize, group: Box<dyn Collective>, sync_bn: bool) -> Result<DistGan> {
        let shard = Shard { rank: group.rank(), ranks: group.ranks() };
        let gan = GpuGan::new_shard(gpu, cfg, g_params, d_params, sample_capacity, shard)?;
        let mut finish = [HashMap::new(), HashMap::new()];
        for (map, prog) in finish.iter_mut().zip([gan.step_program(), gan.burst_program()]) {
            for (i, d) in prog.dispatches.iter().enumerate() {
                let Some(s) = BnSync::of(d) else { continue };
                let p = s.global_params(shard.ranks);
                let finish = match (&s.running, &s.grads) {
                    (Some(running), _) => Dispatch::new(gpu, &BnStatsFinish { stats: &s.stats, running, part: &s.part }, &p, Some(s.params.c))?,
                    (None, Some([dg, db])) => Dispatch::new(gpu, &BnBackwardFinish { stats: &s.stats, out: dg, out2: db, part: &s.part }, &p, Some(s.params.c))?,
                    (None, None) => return Err(Error::Shape(format!("{}: a batch norm finish without its outputs", d.name))),
                };
                map.insert(i, finish);
            }
        }
        let ahead = overlaps(&gan, sync_bn);
        let dist = DistGan { gan, group, sync_bn, finish, ahead, error: RefCell::new(None), comm: Cell::new(CommStats::default()) };
        dist.agree_on(&dist.gan.read_state()?, "start")?;
        Ok(dist)
    }

    /// This rank and the number of ranks.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{dist::{DistGan, Shard, Threads}, GanConfig}, gpu::Gpu};
    /// let gpu = Gpu::new()?;
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    /// cfg.batch = 4;
    /// let (g, d) = cfg.init_params();
    /// let gan = DistGan::new(&gpu, cfg, &g, &d, 4, Box::new(Threads::group(1).remove(0)), true)?;
    /// assert_eq!(gan.shard(), Shard::ALONE);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn shard(&self) -> Shard {
        Shard { rank: self.group.rank(), ranks: self.group.ranks() }
    }

    /// What the collectives have cost this rank so far.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{dist::{DistGan, Threads}, GanConfig, Trainer}, gpu::Gpu};
    /// let gpu = Gpu::new()?;
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    /// cfg.batch = 4;
    /// let (g, d) = cfg.init_params();
    /// let mut gan = DistGan::new(&gpu, cfg, &g, &d, 4, Box::new(Threads::group(1).remove(0)), true)?;
    /// let before = gan.comm();                             // the check of the start
    /// gan.train_steps(1);
    /// let c = gan.comm();
    /// assert_eq!(c.calls - before.calls, 2);               // D's and G's gradients (R1: no batch norm)
    /// assert_eq!(c.overlapped, 1);                         // D's, beside G's forward pass
    /// assert!(c.bytes > before.bytes && c.seconds >= c.exchange_seconds);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn comm(&self) -> CommStats {
        self.comm.get()
    }

    /// Fails unless every rank's settings and `state` hash alike (`when` names the moment).
    fn agree_on(&self, state: &GanState, when: &str) -> Result<()> {
        let h = fingerprint(&self.gan.cfg, state, &format!("{} ranks, SyncBN {}", self.group.ranks(), self.sync_bn));
        let all = self.collect_gather(&[(h >> 32) as f64, (h & 0xffff_ffff) as f64])?;
        let odd: Vec<usize> = all.chunks(2).enumerate().filter(|(_, v)| v[0] != all[0] || v[1] != all[1]).map(|(r, _)| r).collect();
        if !odd.is_empty() {
            return Err(Error::Shape(format!(
                "at the {when}, ranks {odd:?} hold other weights or settings than rank 0 (every rank needs the same model, \
                 per-rank batch, seed and checkpoint)"
            )));
        }
        Ok(())
    }

    /// Runs `f` (a readback, an exchange and a write), counted in [`DistGan::comm`].
    fn timed<T>(&self, bytes: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let out = f();
        let mut c = self.comm.get();
        c.calls += 1;
        c.bytes += bytes as u64;
        c.seconds += t.elapsed().as_secs_f64();
        self.comm.set(c);
        out
    }

    /// The exchange itself, its time counted apart.
    fn exchange<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let out = f();
        let mut c = self.comm.get();
        c.exchange_seconds += t.elapsed().as_secs_f64();
        self.comm.set(c);
        out
    }

    fn sum(&self, v: &mut [f32]) -> Result<()> {
        self.exchange(|| self.group.sum(v))
    }

    fn gather(&self, v: &[f64]) -> Result<Vec<f64>> {
        self.exchange(|| self.group.gather(v))
    }

    fn collect_gather(&self, v: &[f64]) -> Result<Vec<f64>> {
        self.timed(v.len() * 8, || self.gather(v))
    }

    /// The mean over the ranks of a buffer's `len` values from its start, in place on the GPU.
    fn average(&self, t: &Tensor, len: usize) -> Result<()> {
        self.average_while(t, len, || ())
    }

    /// [`DistGan::average`], calling `during` (to queue more work for the GPU) once the values
    /// are read back, before the exchange.
    fn average_while(&self, t: &Tensor, len: usize, during: impl FnOnce()) -> Result<()> {
        let gpu = &self.gan.gpu;
        self.timed(len * 4, || {
            let mut v = read_buffer(gpu, t, len)?;
            during();
            self.sum(&mut v)?;
            let inv = 1.0 / self.group.ranks() as f32;
            v.iter_mut().for_each(|x| *x *= inv);
            gpu.queue.write_buffer(&t.buffer, t.offset, bytemuck::cast_slice(&v));
            Ok(())
        })
    }

    /// Batch norm's backward sums, the ranks' mean per channel, into its `part` as one tile.
    fn combine_sums(&self, s: &BnSync) -> Result<()> {
        let (gpu, c) = (&self.gan.gpu, s.params.c as usize);
        self.timed(2 * c * 4, || {
            let part = read_buffer(gpu, &s.part, s.part_len())?;
            // Per channel, not per tile: ranks on other adapters may split their rows otherwise.
            let mut sums: Vec<f32> = s.local_sums(&part).into_iter().map(|v| v as f32).collect();
            self.sum(&mut sums)?;
            let inv = 1.0 / self.group.ranks() as f32;
            sums.iter_mut().for_each(|v| *v *= inv);
            gpu.queue.write_buffer(&s.part.buffer, s.part.offset, bytemuck::cast_slice(&sums));
            Ok(())
        })
    }

    /// Batch norm's statistics over the whole batch, into its `part` as one tile.
    fn combine_stats(&self, s: &BnSync) -> Result<()> {
        let (gpu, c) = (&self.gan.gpu, s.params.c as usize);
        self.timed(3 * c * 8, || {
            let part = read_buffer(gpu, &s.part, s.part_len())?;
            let mine: Vec<f64> = s.local_moments(&part).into_iter().flatten().collect();
            let all = self.gather(&mine)?;
            let mut out = vec![0.0f32; 2 * c];
            for ch in 0..c {
                let m = all.chunks(3 * c).fold([0.0; 3], |acc, r| combine_moments(acc, [r[3 * ch], r[3 * ch + 1], r[3 * ch + 2]]));
                (out[ch], out[c + ch]) = (m[1] as f32, m[2] as f32);
            }
            gpu.queue.write_buffer(&s.part.buffer, s.part.offset, bytemuck::cast_slice(&out));
            Ok(())
        })
    }

    /// Runs `prog` (the step, or the burst when `which` is 1) with the collectives where they
    /// fall: the gradients averaged before each optimizer launch, and with SyncBN each batch
    /// norm's sums combined before its finish.
    fn run(&self, which: usize) -> Result<()> {
        let (prog, updates) = if which == 0 { (self.gan.step_program(), self.gan.step_updates()) } else { (self.gan.burst_program(), self.gan.burst_updates()) };
        let gpu = &self.gan.gpu;
        let mut from = 0;
        for (i, d) in prog.dispatches.iter().enumerate() {
            if i < from {
                continue; // run ahead of an exchange already
            }
            let update = updates.iter().find(|u| u.0 == i);
            let bn = BnSync::of(d).filter(|_| self.sync_bn);
            if update.is_none() && bn.is_none() {
                continue;
            }
            prog.run_range(gpu, from..i);
            from = i;
            if let Some(&(_, generator)) = update {
                let net = if generator { &self.gan.g } else { &self.gan.d };
                let grads = &net.grads.whole;
                match self.ahead.get(&i).filter(|_| which == 0) {
                    Some((update, ahead)) => {
                        // The GPU runs what comes next and does not read D while the ranks
                        // exchange D's gradients; D's update follows it.
                        self.average_while(grads, grads.len(), || prog.run_range(gpu, ahead.clone()))?;
                        prog.run_range(gpu, update.clone());
                        let mut c = self.comm.get();
                        c.overlapped += 1;
                        self.comm.set(c);
                        from = ahead.end;
                        continue;
                    }
                    None => self.average(grads, grads.len())?,
                }
            }
            if let Some(s) = bn {
                if s.backward {
                    self.combine_sums(&s)?;
                } else {
                    self.combine_stats(&s)?;
                }
                run_one(gpu, &self.finish[which][&i]);
                from = i + 1;
            }
        }
        prog.run_range(gpu, from..prog.dispatches.len());
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        self.gan.upload_rows()?;
        if self.gan.long_step() {
            self.run(1)?;
        }
        self.run(0)?;
        self.gan.count_step();
        Ok(())
    }
}

/// For each discriminator update of the step (by its optimizer launches' start): those launches,
/// and the launches right after them that do not read D — the next phase's noise, generator pass
/// and real rows — unless they hold an exchange of their own (a batch norm with SyncBN).
fn overlaps(gan: &GpuGan, sync_bn: bool) -> HashMap<usize, (Range<usize>, Range<usize>)> {
    let (ops, prog) = (gan.step_ops(), gan.step_program());
    let mut out = HashMap::new();
    for (j, (op, r)) in ops.iter().enumerate() {
        if !matches!(op, Op::DStep { .. }) {
            continue;
        }
        let mut end = r.end;
        for (next, rn) in &ops[j + 1..] {
            if !matches!(next, Op::Noise { .. } | Op::Generate | Op::Real { .. }) || rn.start != end {
                break;
            }
            end = rn.end;
        }
        let ahead = r.end..end;
        let exchanges = sync_bn && prog.dispatches[ahead.clone()].iter().any(|d| d.sync().is_some());
        if !ahead.is_empty() && !exchanges {
            out.insert(r.start, (r.clone(), ahead));
        }
    }
    out
}

/// Runs one launch on its own.
fn run_one(gpu: &Gpu, d: &Dispatch) {
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgpu-gan sync") });
    d.encode(&mut encoder);
    gpu.queue.submit([encoder.finish()]);
}

/// The first `len` values of a tensor (waits for the GPU).
fn read_buffer(gpu: &Gpu, t: &Tensor, len: usize) -> Result<Vec<f32>> {
    let pending = read_range_async(gpu, &t.buffer, t.offset, len);
    gpu.wait()?;
    pollster::block_on(pending)
}

/// A 64-bit FNV-1a hash of what must be alike on every rank: the networks' descriptions, the
/// per-rank batch, seed, loss and schedule, the run's shape (`run`: ranks, SyncBN), and the
/// whole training state.
fn fingerprint(cfg: &GanConfig, s: &GanState, run: &str) -> u64 {
    use crate::gpu::tune::{fnv1a_on, FNV_OFFSET};
    let mut h = FNV_OFFSET;
    let mut eat = |bytes: &[u8]| h = fnv1a_on(h, bytes);
    eat(cfg.generator.describe().to_string().as_bytes());
    eat(cfg.discriminator.describe().to_string().as_bytes());
    eat(format!("{} {} {} {:?} {:?} {:?} {run}", cfg.batch, cfg.seed, cfg.k, cfg.loss, cfg.opt_g, cfg.opt_d).as_bytes());
    for t in s.g.iter().chain(&s.d).chain(&s.g_running).chain(&s.d_running).chain(s.opt_g.iter().chain(&s.opt_d).flatten()) {
        eat(bytemuck::cast_slice(t));
    }
    eat(&s.step.to_le_bytes());
    h
}

impl Trainer for DistGan {
    /// Runs `n` steps (each waits for the collectives in it); after an error none runs, and
    /// [`Trainer::stats`] returns it.
    fn train_steps(&mut self, n: usize) {
        for _ in 0..n {
            if self.error.borrow().is_some() {
                return;
            }
            if let Err(e) = self.step() {
                *self.error.borrow_mut() = Some(e);
            }
        }
    }

    /// The last step's statistics over the whole batch (the ranks' mean). Every rank calls it.
    fn stats(&self) -> Result<Stats> {
        if let Some(e) = self.error.borrow_mut().take() {
            return Err(e);
        }
        let s = self.gan.stats()?;
        let mut v = s.values().to_vec();
        self.timed(v.len() * 4, || self.sum(&mut v))?;
        let n = self.group.ranks() as f32;
        let mean: Vec<f32> = v.iter().map(|x| x / n).collect();
        Ok(*bytemuck::from_bytes(bytemuck::cast_slice(&mean)))
    }

    fn sample(&mut self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        self.gan.sample(n, seed, mode)
    }

    fn sample_capacity(&self) -> usize {
        self.gan.sample_capacity()
    }

    fn read_state(&self) -> Result<GanState> {
        self.gan.read_state()
    }

    fn load_state(&mut self, s: &GanState) -> Result<()> {
        self.gan.load_state(s)
    }

    fn steps_done(&self) -> u64 {
        self.gan.steps_done()
    }

    fn ranks(&self) -> usize {
        self.group.ranks()
    }

    /// Rank 0 writes the run's files and prints its progress.
    fn leader(&self) -> bool {
        self.group.rank() == 0
    }

    /// Without SyncBN each rank's running statistics follow its own rows: they are first
    /// averaged over the ranks (what every rank then keeps, and a checkpoint saves).
    fn agree(&self) -> Result<()> {
        if !self.sync_bn {
            let gpu = &self.gan.gpu;
            for t in self.gan.g.running.iter().chain(&self.gan.d.running) {
                self.average(t, t.len())?;
            }
            gpu.wait()?;
        }
        self.agree_on(&self.gan.read_state()?, &format!("step {}", self.gan.steps_done()))
    }
}

/// A tensor read on both sides, compared.
fn compare(gpu: &Gpu, got: &Tensor, want: &Tensor) -> Result<f32> {
    Ok(crate::max_rel_err(&got.read(gpu)?, &want.read(gpu)?))
}

/// One step of [`check_against_one`]: how far the ranks' step is from one process's step on the
/// whole batch from the same state, as max |a − b| / max |b|, and how far the two runs have
/// drifted apart when each runs freely.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{dist::{check_against_one, Threads}, GanConfig}, gpu::Gpu};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let c = check_against_one(&Gpu::new()?, &cfg, Box::new(Threads::group(1).remove(0)), 1, true)?;
/// // One rank against one process at the same batch: the same launches, the same numbers.
/// assert_eq!((c[0].step, c[0].worst(), c[0].drift), (1, 0.0, 0.0));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepCheck {
    pub step: usize,
    /// The losses and statistics ([`Stats`]), against the largest of them.
    pub stats: f32,
    /// The averaged gradients of D (its last update's) and of G: each network's one gradient
    /// buffer against its largest value. (Tensor by tensor, a sum that cancels — the score's
    /// bias, Σ (σ(l) − y)/n — or a bias into a batch norm, whose gradient is zero in exact
    /// arithmetic, would be measured against its own rounding.)
    pub d_grads: f32,
    pub g_grads: f32,
    /// The weights after the step, each network's against its largest weight, leaving out those
    /// whose gradients differ and are at rounding level ([`ROUNDING_LEVEL`] of the network's
    /// largest) in either run: Adam moves a weight by lr·g/(|g| + ε), so for such a g the step's size and
    /// direction are set by rounding (a bias into a batch norm, whose gradient is zero in exact
    /// arithmetic, is always one).
    pub weights: f32,
    /// How many weights were left out of `weights`, of how many.
    pub left_out: (usize, usize),
    /// The batch norms' running variances after the step, each network's against its largest.
    pub running_var: f32,
    /// Reported, not judged: the running means (a batch norm after a bias follows that bias's
    /// noise steps, momentum × lr each), and all the weights of the two runs left to run freely
    /// from the start (Adam's steps on gradients at rounding level set them apart).
    pub running_mean: f32,
    pub drift: f32,
}

impl StepCheck {
    /// The largest of the judged figures (not `running_mean` and `drift`).
    ///
    /// ```
    /// use wgpu_gan::gan::dist::StepCheck;
    /// let c = StepCheck { step: 1, stats: 1e-7, weights: 3e-6, drift: 1e-3, ..Default::default() };
    /// assert_eq!(c.worst(), 3e-6);
    /// ```
    pub fn worst(&self) -> f32 {
        [self.stats, self.d_grads, self.g_grads, self.weights, self.running_var].into_iter().fold(0.0, f32::max)
    }
}

/// A gradient below this share of its network's largest is taken to be rounding noise (see
/// [`StepCheck::weights`]).
///
/// ```
/// // f32 sums of a few thousand terms round at about 1e-7 of their largest: this is 100 × that.
/// assert_eq!(wgpu_gan::gan::dist::ROUNDING_LEVEL, 1e-5);
/// ```
pub const ROUNDING_LEVEL: f32 = 1e-5;

/// Each network's batch norms' running means and variances, flat: [G means, D means, G
/// variances, D variances].
fn running(s: &GanState) -> [Vec<f32>; 4] {
    // Each batch norm's running state is [mean (c), var (c)].
    let half = |r: &[Vec<f32>], second: bool| r.iter().flat_map(|t| if second { t[t.len() / 2..].to_vec() } else { t[..t.len() / 2].to_vec() }).collect();
    [half(&s.g_running, false), half(&s.d_running, false), half(&s.g_running, true), half(&s.d_running, true)]
}

/// The weights `a` (the ranks') against `b` (one process's) where both gradients `ga`, `gb`
/// are above rounding level: (max rel err against the largest weight, weights left out).
fn judge_weights(a: &[Vec<f32>], b: &[Vec<f32>], ga: &[Vec<f32>], gb: &[Vec<f32>]) -> (f32, usize) {
    let scale = gb.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut out = 0;
    for (((wa, wb), ga), gb) in a.iter().zip(b).zip(ga).zip(gb) {
        for i in 0..wa.len() {
            // (Equal gradients, zeros of a ReLU that is off in both runs among them, give equal
            // steps: those are judged too.)
            if ga[i] == gb[i] || ga[i].abs().min(gb[i].abs()) >= ROUNDING_LEVEL * scale {
                x.push(wa[i]);
                y.push(wb[i]);
            } else {
                out += 1;
            }
        }
    }
    let all = b.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    (x.iter().zip(&y).fold(0.0f32, |m, (p, q)| m.max((p - q).abs())) / all, out)
}

/// Trains `steps` steps as this rank of `group` (each rank at `cfg.batch`) and, on rank 0 only,
/// one process on the whole batch (`ranks · cfg.batch`) beside it: before each step it is given
/// the ranks' state, so that each step is judged on its own; a second one runs freely from the
/// same initial weights. Returns on rank 0 each step's differences ([`StepCheck`]), on the
/// others nothing. Every rank calls it.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{dist::{check_against_one, Threads}, GanConfig}, gpu::Gpu};
/// let gpu = Gpu::new()?;
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let ranks: Vec<_> = Threads::group(2).into_iter().map(|t| {
///     let (gpu, cfg) = (gpu.clone(), cfg.clone());
///     std::thread::spawn(move || check_against_one(&gpu, &cfg, Box::new(t), 2, true))
/// }).collect();
/// let mut out: Vec<_> = ranks.into_iter().map(|h| h.join().unwrap()).collect::<Result<_, _>>()?;
/// assert!(out[1].is_empty());                           // rank 0 compares
/// assert!(out.remove(0).iter().all(|c| c.worst() <= 1e-5));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn check_against_one(gpu: &Gpu, cfg: &GanConfig, group: Box<dyn Collective>, steps: usize, sync_bn: bool) -> Result<Vec<StepCheck>> {
    let (g0, d0) = cfg.init_params();
    let ranks = group.ranks();
    let lead = group.rank() == 0;
    let mut dist = DistGan::new(gpu, cfg.clone(), &g0, &d0, 1, group, sync_bn)?;
    let whole = GanConfig { batch: cfg.batch * ranks, ..cfg.clone() };
    let mut refs = if lead { Some((GpuGan::new(gpu, whole.clone(), &g0, &d0, 1)?, GpuGan::new(gpu, whole, &g0, &d0, 1)?)) } else { None };
    let mut out = Vec::new();
    for step in 1..=steps {
        if let Some((one, _)) = refs.as_mut() {
            one.load_state(&dist.gan.read_state()?)?;
        }
        dist.train_steps(1);
        let s = dist.stats()?;
        let Some((one, free)) = refs.as_mut() else { continue };
        one.train_steps(1);
        free.train_steps(1);
        let want = one.stats()?;
        let (a, b, f) = (dist.gan.read_state()?, one.read_state()?, free.read_state()?);
        let (gd, gg) = ((dist.gan.d.grads.read(gpu)?, one.d.grads.read(gpu)?), (dist.gan.g.grads.read(gpu)?, one.g.grads.read(gpu)?));
        let (wg, wd) = (judge_weights(&a.g, &b.g, &gg.0, &gg.1), judge_weights(&a.d, &b.d, &gd.0, &gd.1));
        let total = a.g.iter().chain(&a.d).map(Vec::len).sum();
        let (ra, rb) = (running(&a), running(&b));
        let rel = |x: &[Vec<f32>], y: &[Vec<f32>], i: usize| if y[i].is_empty() { 0.0 } else { crate::max_rel_err(&x[i], &y[i]) };
        let flat = |s: &GanState| [s.g.concat(), s.d.concat()];
        let (fa, ff) = (flat(&a), flat(&f));
        out.push(StepCheck {
            step,
            stats: crate::max_rel_err(&s.values(), &want.values()),
            d_grads: compare(gpu, &dist.gan.d.grads.whole, &one.d.grads.whole)?,
            g_grads: compare(gpu, &dist.gan.g.grads.whole, &one.g.grads.whole)?,
            weights: wg.0.max(wd.0),
            left_out: (wg.1 + wd.1, total),
            running_var: rel(&ra, &rb, 2).max(rel(&ra, &rb, 3)),
            running_mean: rel(&ra, &rb, 0).max(rel(&ra, &rb, 1)),
            drift: rel(&fa, &ff, 0).max(rel(&fa, &ff, 1)),
        });
    }
    Ok(out)
}
