//! What the examples share on the command line: the device flags ([`DeviceArgs`]), and flag
//! parsers, so that a bad value stops the program before any work with one clear line and exit
//! code 2 (clap's own convention for a refused flag).

use crate::gpu::{Backend, Gpu, GpuOptions, LimitsChoice};

/// A count that must be at least 1 (steps, iterations, epochs, batch sizes, intervals).
///
/// ```
/// use wgpu_gan::cli::at_least_one;
/// assert_eq!(at_least_one(" 64 "), Ok(64));
/// for bad in ["0", "-3", "2.5", ""] {
///     assert!(at_least_one(bad).is_err(), "{bad:?}");
/// }
/// ```
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("{s:?} is not a whole number ({e})")),
    }
}

/// A finite number above 0 (learning rates).
///
/// ```
/// use wgpu_gan::cli::positive_f32;
/// assert_eq!(positive_f32("2e-4"), Ok(2e-4));
/// for bad in ["0", "-1e-3", "inf", "NaN", "fast"] {
///     assert!(positive_f32(bad).is_err(), "{bad:?}");
/// }
/// ```
pub fn positive_f32(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} must be a finite number above 0")),
        Err(e) => Err(format!("{s:?} is not a number ({e})")),
    }
}

/// Creates the output directory and proves it writable (see [`crate::checkpoint::prepare_out_dir`]).
pub use crate::checkpoint::prepare_out_dir;

/// The `--loss` flag of the training examples: every objective of [`crate::loss::LossKind`], and
/// the two WGAN training schemes (SPEC.md §2, R4).
///
/// ```
/// use clap::ValueEnum;
/// use wgpu_gan::{cli::LossChoice, data::Mixture, gan::GanConfig, loss::LossKind};
/// let cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// assert_eq!(LossChoice::Hinge.apply(cfg.clone()).loss, LossKind::Hinge);
/// let choice = LossChoice::from_str("wgan-gp", false).unwrap();   // --loss wgan-gp
/// let gp = choice.apply(cfg);
/// assert!(choice.is_wgan());
/// assert_eq!((gp.loss, gp.k, gp.gp_lambda), (LossKind::Wasserstein, 5, 10.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LossChoice {
    /// The non-saturating GAN loss (the default).
    NonSaturating,
    /// The original minimax loss.
    Minimax,
    /// Hinge loss on the raw output.
    Hinge,
    /// Least squares (LSGAN) on the raw output.
    LeastSquares,
    /// WGAN: Wasserstein loss, critic weights clipped to [−0.01, 0.01], RMSprop 5e-5, 5 critic
    /// updates per generator update.
    WganClip,
    /// WGAN-GP: Wasserstein loss with gradient penalty λ = 10, Adam 1e-4 (β 0.5, 0.9), 5 critic
    /// updates per generator update.
    WganGp,
}

impl LossChoice {
    /// `cfg` trained with this loss. The two WGAN schemes replace the optimizers and the number
    /// of critic updates with R4's (an example may then set the learning rates again, as
    /// dcgan_mnist's --lr-d/--lr-g do; gaussian_ring's --opt, --k and learning rates give way),
    /// and the critic loses its batch normalisation (R4: a gradient penalty is per sample).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{cli::LossChoice, gan::{GanConfig, Table}, loss::LossKind};
    /// let r2 = GanConfig::r2(Arc::new(Table::new(vec![0.0; 784], 784)?));
    /// assert_eq!(LossChoice::LeastSquares.apply(r2.clone()).loss, LossKind::LeastSquares);
    /// let wgan = LossChoice::WganClip.apply(r2);
    /// assert_eq!((wgan.loss, wgan.clip_d, wgan.k), (LossKind::Wasserstein, 0.01, 5));
    /// assert!(!wgan.discriminator.has_batchnorm());         // R2's D loses its batch norm
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn apply(self, cfg: crate::gan::GanConfig) -> crate::gan::GanConfig {
        use crate::loss::LossKind;
        let no_bn = |mut c: crate::gan::GanConfig| {
            c.discriminator.layers.retain(|l| !matches!(l, crate::nn::Layer::BatchNorm(_)));
            c
        };
        match self {
            LossChoice::NonSaturating => crate::gan::GanConfig { loss: LossKind::NonSaturating, ..cfg },
            LossChoice::Minimax => crate::gan::GanConfig { loss: LossKind::Minimax, ..cfg },
            LossChoice::Hinge => crate::gan::GanConfig { loss: LossKind::Hinge, ..cfg },
            LossChoice::LeastSquares => crate::gan::GanConfig { loss: LossKind::LeastSquares, ..cfg },
            LossChoice::WganClip => no_bn(cfg).wgan_clip(0.01, 5, 5e-5),
            LossChoice::WganGp => no_bn(cfg).wgan_gp(10.0, 5, 1e-4),
        }
    }

    /// Whether this choice sets the optimizers and k itself.
    ///
    /// ```
    /// use wgpu_gan::cli::LossChoice;
    /// assert!(LossChoice::WganClip.is_wgan() && LossChoice::WganGp.is_wgan());
    /// assert!(!LossChoice::Hinge.is_wgan() && !LossChoice::NonSaturating.is_wgan());
    /// ```
    pub fn is_wgan(self) -> bool {
        matches!(self, LossChoice::WganClip | LossChoice::WganGp)
    }
}

/// The device flags every example takes (`#[command(flatten)]`).
///
/// ```
/// use clap::Parser;
/// use wgpu_gan::{cli::DeviceArgs, gpu::{Backend, LimitsChoice}};
/// #[derive(Parser)]
/// struct Args {
///     #[command(flatten)]
///     device: DeviceArgs,
/// }
/// let a = Args::parse_from(["demo", "--backend", "vulkan", "--limits", "default", "--no-tune"]);
/// let o = a.device.options();
/// assert_eq!((o.backend, o.limits, o.no_tune), (Backend::Vulkan, LimitsChoice::Default, true));
/// assert!(Args::try_parse_from(["demo", "--backend", "glide"]).is_err());
/// ```
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DeviceArgs {
    /// Graphics API to run on.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// Only use an adapter whose name contains this (case-insensitive); default $WGPU_ADAPTER_NAME.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Device limits to request: the adapter's own, wgpu's portable defaults, or its downlevel ones.
    #[arg(long, value_enum, default_value_t = LimitsChoice::Adapter)]
    pub limits: LimitsChoice,
    /// Do not time kernel variants on first use (nor read or write the cache of choices in the
    /// user's cache directory); each kernel takes its built-in guess. Also `WGPU_GAN_TUNE=off`.
    #[arg(long)]
    pub no_tune: bool,
    /// Open the device without subgroup operations even where the adapter has them (as GL and
    /// some WebGPU implementations run): the kernel families that need no optional feature. Also
    /// `WGPU_GAN_SUBGROUPS=off`.
    #[arg(long)]
    pub no_subgroups: bool,
    /// Kernel family to run (default: the fastest this device can run, timed on first use where
    /// there are several; also `WGPU_GAN_KERNELS=direct` or `tiled`).
    #[arg(long, value_enum)]
    pub kernels: Option<crate::gpu::KernelFamily>,
}

impl DeviceArgs {
    /// The [`GpuOptions`] these flags ask for (the adapter name and subgroups also from the
    /// environment, see [`GpuOptions::from_env`]).
    ///
    /// ```
    /// use wgpu_gan::{cli::DeviceArgs, gpu::{Backend, LimitsChoice}};
    /// let args = DeviceArgs { backend: Backend::Vulkan, limits: LimitsChoice::Downlevel, no_tune: true, ..Default::default() };
    /// let o = args.options();
    /// assert_eq!((o.backend, o.limits, o.no_tune, o.tune_dir), (Backend::Vulkan, LimitsChoice::Downlevel, true, None));
    /// ```
    pub fn options(&self) -> GpuOptions {
        let env = GpuOptions::from_env();
        GpuOptions {
            backend: self.backend,
            limits: self.limits,
            adapter_name: self.adapter.clone().or(env.adapter_name),
            no_tune: self.no_tune,
            no_subgroups: self.no_subgroups || env.no_subgroups,
            tune_dir: None,
            kernels: self.kernels,
            adapter_index: None,
        }
    }

    /// [`DeviceArgs::open`] for one rank of a data-parallel run: the `local_rank`-th adapter of
    /// the best kind on this machine (modulo their number), unless `--adapter` names one.
    ///
    /// ```
    /// use wgpu_gan::cli::DeviceArgs;
    /// let args = DeviceArgs { no_tune: true, ..Default::default() };
    /// let gpu = args.open_for_rank(Some(0))?;               // rank 0 of this machine
    /// assert_eq!(gpu.describe(), args.open()?.describe());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn open_for_rank(&self, local_rank: Option<usize>) -> crate::Result<Gpu> {
        let mut o = self.options();
        o.adapter_index = local_rank;
        self.open_with(o)
    }

    /// Opens the device and prints the adapter and backend first, as every example does.
    ///
    /// ```
    /// use wgpu_gan::cli::DeviceArgs;
    /// let gpu = DeviceArgs { no_tune: true, ..Default::default() }.open()?; // prints "adapter: ..."
    /// assert!(!gpu.describe().is_empty());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn open(&self) -> crate::Result<Gpu> {
        self.open_with(self.options())
    }

    fn open_with(&self, options: GpuOptions) -> crate::Result<Gpu> {
        let gpu = Gpu::with_options(&options)?;
        // The kernel family is chosen (and timed, where a device can run more than one) now, so
        // that the line below names it and no step pays for the timing.
        crate::ops::choose_family(&gpu);
        println!("adapter: {}", gpu.describe());
        if self.backend == Backend::Auto && gpu.info.as_ref().is_some_and(|i| i.backend == wgpu::Backend::Gl) {
            eprintln!(
                "note: no Vulkan, Metal or DX12 adapter was found, so this runs on OpenGL; on Debian/Ubuntu \
                 `apt-get install mesa-vulkan-drivers` adds the Vulkan software adapter"
            );
        }
        Ok(gpu)
    }
}

/// The data-parallel flags of the training examples (issue 26; see [`crate::gan::dist`]).
///
/// ```
/// use clap::Parser;
/// use wgpu_gan::cli::DistArgs;
/// #[derive(Parser)]
/// struct Args {
///     #[command(flatten)]
///     dist: DistArgs,
/// }
/// let a = Args::parse_from(["demo", "--sync-bn", "off", "--mpi-timeout", "30"]);
/// assert!(!a.dist.distributed && !a.dist.sync_bn() && a.dist.mpi_timeout == 30);
/// assert!(Args::parse_from(["demo"]).dist.sync_bn());   // on by default
/// ```
#[derive(Clone, Debug, clap::Args)]
pub struct DistArgs {
    /// Train as one rank of a data-parallel run started by `mpirun -np N` (a build with the `mpi`
    /// feature): every rank holds both networks and takes --batch rows of each global batch of
    /// N × --batch; gradients are averaged over the ranks before every update; rank 0 writes
    /// the files. Implied when mpirun starts several ranks.
    #[arg(long)]
    pub distributed: bool,
    /// Batch-norm statistics of the whole global batch ("on": SyncBatchNorm, the same step as
    /// one process at N × --batch) or of each rank's own rows ("off": plain data parallelism,
    /// fewer exchanges per step).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub sync_bn: String,
    /// Seconds a rank waits for the others in one exchange before it decides one was lost and
    /// exits (mpirun then stops the rest).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub mpi_timeout: u64,
}

impl DistArgs {
    /// Whether `--sync-bn` is on.
    ///
    /// ```
    /// use wgpu_gan::cli::DistArgs;
    /// let off = DistArgs { distributed: false, sync_bn: "off".into(), mpi_timeout: 60 };
    /// assert!(!off.sync_bn());
    /// ```
    pub fn sync_bn(&self) -> bool {
        self.sync_bn == "on"
    }

    /// Joins the MPI run when asked to (or when started by mpirun as one of several ranks);
    /// `None` for a run alone. Without the `mpi` feature that is an error saying how to build.
    ///
    /// ```
    /// use wgpu_gan::cli::DistArgs;
    /// let alone = DistArgs { distributed: false, sync_bn: "on".into(), mpi_timeout: 60 };
    /// # std::env::remove_var("OMPI_COMM_WORLD_SIZE");
    /// assert!(alone.start()?.is_none());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn start(&self) -> crate::Result<Option<Rank>> {
        if !self.distributed && !crate::gan::dist::launched_as_ranks() {
            return Ok(None);
        }
        #[cfg(feature = "mpi")]
        {
            let mpi = std::sync::Arc::new(crate::mpi::Mpi::init(std::time::Duration::from_secs(self.mpi_timeout))?);
            use crate::gan::dist::Collective;
            Ok(Some(Rank { rank: mpi.rank(), ranks: mpi.ranks(), local_rank: mpi.local_rank(), sync_bn: self.sync_bn(), mpi }))
        }
        #[cfg(not(feature = "mpi"))]
        Err(crate::Error::Device(
            "data-parallel training (--distributed, or several ranks under mpirun) needs a build with the `mpi` feature: \
             `cargo build --release --features mpi` (Debian: apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
                .into(),
        ))
    }
}

/// This process's place in a data-parallel run ([`DistArgs::start`]).
///
/// ```
/// use wgpu_gan::cli::DistArgs;
/// let args = DistArgs { distributed: true, sync_bn: "on".into(), mpi_timeout: 60 };
/// match args.start() {
///     // Built with the `mpi` feature and started alone: a world of one.
///     Ok(Some(r)) => assert_eq!((r.rank, r.ranks, r.local_rank, r.sync_bn), (0, 1, 0, true)),
///     Ok(None) => unreachable!("asked to join"),
///     Err(e) => assert!(e.to_string().contains("--features mpi")), // built without it
/// }
/// ```
pub struct Rank {
    pub rank: usize,
    pub ranks: usize,
    /// Among the ranks on this machine: which adapter to open ([`DeviceArgs::open_for_rank`]).
    pub local_rank: usize,
    pub sync_bn: bool,
    #[cfg(feature = "mpi")]
    mpi: std::sync::Arc<crate::mpi::Mpi>,
}

impl Rank {
    /// Whether this rank prints the run's progress and writes its files (rank 0).
    ///
    /// ```
    /// use wgpu_gan::cli::DistArgs;
    /// let args = DistArgs { distributed: true, sync_bn: "on".into(), mpi_timeout: 60 };
    /// match args.start() {
    ///     Ok(Some(r)) => assert!(r.leader()),                // rank 0 of 1 (the `mpi` feature)
    ///     Ok(None) => unreachable!("asked to join"),
    ///     Err(e) => assert!(e.to_string().contains("--features mpi")),
    /// }
    /// ```
    pub fn leader(&self) -> bool {
        self.rank == 0
    }

    /// The transport, for [`crate::gan::dist::DistGan::new`].
    ///
    /// ```
    /// use wgpu_gan::cli::DistArgs;
    /// let args = DistArgs { distributed: true, sync_bn: "on".into(), mpi_timeout: 60 };
    /// match args.start() {
    ///     Ok(Some(r)) => {
    ///         let mut v = [1.0f32];
    ///         r.group().sum(&mut v).unwrap();                // the sum over one rank
    ///         assert_eq!(v, [1.0]);
    ///     }
    ///     Ok(None) => unreachable!("asked to join"),
    ///     Err(e) => assert!(e.to_string().contains("--features mpi")),
    /// }
    /// ```
    pub fn group(&self) -> Box<dyn crate::gan::dist::Collective> {
        #[cfg(feature = "mpi")]
        return Box::new(self.mpi.clone());
        #[cfg(not(feature = "mpi"))]
        unreachable!("a Rank exists only with the mpi feature")
    }

    /// Stops every rank of the run after printing `msg` (an error on this rank must not leave
    /// the others waiting for it).
    ///
    /// ```
    /// use wgpu_gan::cli::DistArgs;
    /// let args = DistArgs { distributed: true, sync_bn: "on".into(), mpi_timeout: 60 };
    /// if std::env::var("WGPU_GAN_ABORT_DEMO").is_ok() {
    ///     // The child: a rank of one that aborts (exit code 1).
    ///     args.start().unwrap().unwrap().abort("a demonstration");
    /// }
    /// // This example run again as a child.
    /// let me = std::env::current_exe().unwrap();
    /// let status = std::process::Command::new(me).env("WGPU_GAN_ABORT_DEMO", "1").status().unwrap();
    /// match args.start() {
    ///     Ok(_) => assert_eq!(status.code(), Some(1)),      // the `mpi` feature: the child aborted
    ///     Err(_) => assert!(!status.success()),             // without it the child had no rank
    /// }
    /// ```
    pub fn abort(&self, msg: &str) -> ! {
        #[cfg(feature = "mpi")]
        self.mpi.abort(msg, 1);
        #[cfg(not(feature = "mpi"))]
        unreachable!("a Rank exists only with the mpi feature: {msg}")
    }
}
