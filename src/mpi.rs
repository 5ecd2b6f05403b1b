//! MPI as the transport of data-parallel training ([`crate::gan::dist`]): one process per GPU
//! under `mpirun`, on one machine or many. The `mpi` cargo feature (Open MPI or MPICH, through
//! the `mpi` crate; building its bindings needs libclang).
//!
//! A rank that waits in a collective longer than the timeout (another rank died or hangs)
//! prints which call it was and exits with code 3; `mpirun` then stops every other rank. A rank
//! that fails otherwise calls [`Mpi::abort`], which stops them all at once. Either way no rank
//! is left waiting, and no file is written from a half-finished step (only rank 0 writes, after
//! the step's collectives).

use crate::error::{Error, Result};
use crate::gan::dist::Collective;
use ::mpi::collective::SystemOperation;
use ::mpi::topology::{Communicator, SimpleCommunicator};
use ::mpi::traits::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// This process's place in the MPI world, with a watchdog on every collective.
///
/// ```
/// use wgpu_gan::gan::dist::Collective;
/// let mpi = wgpu_gan::mpi::Mpi::init(std::time::Duration::from_secs(60))?;
/// // Started without mpirun: a world of one.
/// assert_eq!((mpi.rank(), mpi.ranks(), mpi.local_rank()), (0, 1, 0));
/// let mut v = [1.5, 2.0];
/// mpi.sum(&mut v)?;
/// assert_eq!(v, [1.5, 2.0]);
/// assert_eq!(mpi.gather(&[7.0])?, [7.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Mpi {
    world: SimpleCommunicator,
    local_rank: usize,
    watch: Arc<Watch>,
    // Last: finalises MPI when dropped.
    _universe: ::mpi::environment::Universe,
}

/// The collective a rank is in, and since when.
struct Watch {
    rank: usize,
    timeout: Duration,
    current: Mutex<Option<(Instant, &'static str)>>,
}

impl Mpi {
    /// Initialises MPI (once per process), and starts the watchdog: a collective that has not
    /// returned after `timeout` ends the process with a message naming it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mpi = wgpu_gan::mpi::Mpi::init(Duration::from_secs(60))?;
    /// assert!(wgpu_gan::mpi::Mpi::init(Duration::from_secs(60)).is_err()); // once per process
    /// # drop(mpi);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn init(timeout: Duration) -> Result<Mpi> {
        let universe = ::mpi::initialize().ok_or_else(|| Error::Device("MPI was initialised already in this process".into()))?;
        let world = universe.world();
        let rank = world.rank() as usize;
        // Ranks that share a machine (and its GPUs), numbered from 0.
        let local_rank = world.split_shared(world.rank()).rank() as usize;
        let watch = Arc::new(Watch { rank, timeout, current: Mutex::new(None) });
        let w = watch.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let stuck = w.current.lock().ok().and_then(|c| c.filter(|(t, _)| t.elapsed() > w.timeout));
            if let Some((t, what)) = stuck {
                eprintln!(
                    "error: rank {}: no answer from the other ranks for {:.0} s in {what}: a rank has stopped or was lost; exiting",
                    w.rank,
                    t.elapsed().as_secs_f64()
                );
                std::process::exit(3);
            }
        });
        Ok(Mpi { world, local_rank, watch, _universe: universe })
    }

    /// This process's rank among those on its machine.
    ///
    /// ```
    /// let mpi = wgpu_gan::mpi::Mpi::init(std::time::Duration::from_secs(60))?;
    /// assert_eq!(mpi.local_rank(), 0);                     // alone on this machine
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// Ends every rank of the run (MPI_Abort) with `code`, after printing `msg`.
    ///
    /// ```
    /// if std::env::var("WGPU_GAN_ABORT_DEMO").is_ok() {
    ///     // The child: a world of one that aborts with code 7.
    ///     let mpi = wgpu_gan::mpi::Mpi::init(std::time::Duration::from_secs(60)).unwrap();
    ///     mpi.abort("a demonstration", 7);
    /// }
    /// let me = std::env::current_exe().unwrap();           // this example, run again as a child
    /// let status = std::process::Command::new(me).env("WGPU_GAN_ABORT_DEMO", "1").status().unwrap();
    /// assert_eq!(status.code(), Some(7));
    /// ```
    pub fn abort(&self, msg: &str, code: i32) -> ! {
        eprintln!("error: rank {}: {msg}; stopping every rank", self.watch.rank);
        self.world.abort(code)
    }

    fn watched<T>(&self, what: &'static str, f: impl FnOnce() -> T) -> T {
        *self.watch.current.lock().expect("watch") = Some((Instant::now(), what));
        let out = f();
        *self.watch.current.lock().expect("watch") = None;
        out
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn ranks(&self) -> usize {
        self.world.size() as usize
    }

    /// Reduced on rank 0 and broadcast from there, so that every rank holds the same bits (an
    /// MPI_Allreduce only should).
    fn sum(&self, values: &mut [f32]) -> Result<()> {
        let send = values.to_vec();
        let root = self.world.process_at_rank(0);
        self.watched("a sum over the ranks (MPI_Reduce, MPI_Bcast)", || {
            if self.world.rank() == 0 {
                root.reduce_into_root(&send[..], values, SystemOperation::sum());
            } else {
                root.reduce_into(&send[..], SystemOperation::sum());
            }
            root.broadcast_into(values);
        });
        Ok(())
    }

    fn gather(&self, values: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0f64; values.len() * self.ranks()];
        self.watched("a gather from the ranks (MPI_Allgather)", || self.world.all_gather_into(values, &mut out[..]));
        Ok(out)
    }
}
