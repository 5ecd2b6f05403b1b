//! The GAN training procedure of SPEC.md §3, on the GPU ([`GpuGan`]) and on the CPU reference
//! ([`CpuGan`]), step for step the same computation from the same weights and random numbers.
//!
//! One iteration:
//! 1. k times: z ~ N(0, I); fake = G(z) (no gradient into G); real ~ data; the discriminator sees
//!    one batch [fake; real] (2·batch rows; for these per-sample layers that is the same as two
//!    passes), gets the D loss gradient, backpropagates to its weights only, and takes an
//!    optimizer step (then clamps its weights when `clip_d` > 0).
//! 2. once: fresh z; logits = D(G(z)); the G loss gradient flows back through D to its input (D's
//!    weight gradients are not computed) and on through G, whose optimizer steps.
//!
//! When the discriminator has batch normalisation, real and generated batches must not share
//! statistics, so it instead runs two passes per update (real first, then generated, as the usual
//! PyTorch loop does), each kept in its own slot, and adds their parameter gradients.
//! With `reuse_fake` the generator phase reuses the last D update's noise and G(z) (DCGAN's and the
//! PyTorch anchor's loop) instead of drawing fresh noise: one generator forward pass less.
//!
//! Random numbers are keyed by (seed, stream, step): D update i draws noise from stream 2i and real
//! mixture data from stream 2i+1 (image data: draw i of the step, in epoch order); the generator
//! phase draws from stream 2k. The extra updates of a long critic phase (`critic_burst`, i ≥ k)
//! skip the generator's streams: 2(i+1) and 2(i+1)+1.
//!
//! With a gradient penalty (WGAN-GP, `gp_lambda` > 0) each critic update then also forms
//! x̂ = ε·real + (1 − ε)·fake per sample (ε from stream 0x4000_0000 + i), runs the critic on x̂
//! in its own slot, takes its gradient g with respect to x̂, adds λ·mean(‖g‖ − 1)² to the loss
//! and the penalty's weight gradient to the critic's, before its optimizer step.

mod ckpt;
pub mod cond;
mod cpu_ref;
pub mod dist;
mod gpu;
#[cfg(feature = "cli")]
pub mod images;
pub mod recipe;
mod verify;

pub use ckpt::{load_checkpoint, load_generator, save_checkpoint};
pub use cpu_ref::CpuGan;
pub use gpu::{GpuGan, STEPS_IN_FLIGHT};
pub use crate::loss::Stats;
pub use verify::{verify, verify_async, Agreement, Verification};

use crate::loss::LossKind;
use crate::data::Mixture;
use crate::error::{Error, Result};
use crate::nn::{Init, NetSpec};
use crate::optim::Optimizer;
use crate::data::stream::Stream;
use std::sync::Arc;

/// A table of real samples (images flattened to rows), drawn in epochs: every epoch visits each
/// row once, in a fresh order (see `shaders/rng.wgsl::gather_rows`).
///
/// ```
/// use wgpu_gan::gan::Table;
/// let t = Table::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 3)?;      // two rows of 3
/// assert_eq!((t.count, t.dim), (2, 3));
/// assert!(Table::new(vec![0.0; 5], 3).is_err());                   // not whole rows
/// let l = Table::with_labels(t.rows.clone(), 3, vec![1, 0])?;
/// assert_eq!(l.labels, Some(vec![1, 0]));
/// assert!(Table::with_labels(t.rows, 3, vec![0]).is_err());        // one label per row
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub rows: Vec<f32>,
    pub dim: usize,
    pub count: usize,
    /// A class label per row (conditional GANs), or none.
    pub labels: Option<Vec<u32>>,
}

impl Table {
    /// A table of `rows.len() / dim` unlabelled rows; an error unless `rows` holds whole rows.
    ///
    /// ```
    /// use wgpu_gan::gan::Table;
    /// let t = Table::new(vec![1.0, 2.0, 3.0, 4.0], 2)?;
    /// assert_eq!((t.count, t.dim, t.labels), (2, 2, None));
    /// assert!(Table::new(vec![], 2).is_err() && Table::new(vec![1.0], 0).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(rows: Vec<f32>, dim: usize) -> Result<Table> {
        if dim == 0 || rows.is_empty() || rows.len() % dim != 0 {
            return Err(Error::Shape(format!("a data table of {} values cannot hold rows of {dim}", rows.len())));
        }
        let count = rows.len() / dim;
        Ok(Table { rows, dim, count, labels: None })
    }

    /// A table whose rows carry class labels in 0..classes.
    ///
    /// ```
    /// use wgpu_gan::gan::Table;
    /// let t = Table::with_labels(vec![0.0; 6], 2, vec![0, 1, 1])?;   // three rows of 2
    /// assert_eq!((t.count, t.labels.as_deref()), (3, Some(&[0, 1, 1][..])));
    /// assert!(Table::with_labels(vec![0.0; 6], 2, vec![0, 1]).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_labels(rows: Vec<f32>, dim: usize, labels: Vec<u32>) -> Result<Table> {
        let t = Table::new(rows, dim)?;
        if labels.len() != t.count {
            return Err(Error::Shape(format!("{} labels for {} rows", labels.len(), t.count)));
        }
        Ok(Table { labels: Some(labels), ..t })
    }
}

/// Where the real samples come from.
///
/// ```
/// use std::sync::Arc;
/// use wgpu_gan::{data::Mixture, gan::{DataSource, Table}};
/// let ring = DataSource::Mixture(Mixture::ring());
/// assert_eq!((ring.dim(), ring.mixture().map(|m| m.centres.len())), (2, Some(8)));
/// let table: DataSource = Arc::new(Table::new(vec![0.0; 4 * 16], 16)?).into();
/// assert_eq!((table.dim(), table.mixture()), (16, None));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// A toy 2-D mixture sampled on the GPU.
    Mixture(Mixture),
    /// A dataset uploaded once and drawn from on the GPU.
    Table(Arc<Table>),
    /// A dataset read on the host as training goes (decoded on background threads), each step's
    /// rows uploaded before the step: for data that does not fit in memory. The rows drawn are
    /// the same as a [`DataSource::Table`] of the same rows would give.
    Stream(Stream),
}

impl From<Arc<Table>> for DataSource {
    fn from(t: Arc<Table>) -> DataSource {
        DataSource::Table(t)
    }
}

impl From<Stream> for DataSource {
    fn from(s: Stream) -> DataSource {
        DataSource::Stream(s)
    }
}

impl crate::data::stream::RowSource for Table {
    fn count(&self) -> usize {
        self.count
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn read(&self, i: usize, out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(&self.rows[i * self.dim..(i + 1) * self.dim]);
        Ok(())
    }
    fn describe(&self) -> String {
        format!("a table of {} rows of {}", self.count, self.dim)
    }
}

impl DataSource {
    /// The mixture, for a [`DataSource::Mixture`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{data::Mixture, gan::{DataSource, Table}};
    /// assert_eq!(DataSource::Mixture(Mixture::ring()).mixture(), Some(&Mixture::ring()));
    /// let table = DataSource::Table(Arc::new(Table::new(vec![0.0; 4], 2)?));
    /// assert!(table.mixture().is_none());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn mixture(&self) -> Option<&Mixture> {
        match self {
            DataSource::Mixture(m) => Some(m),
            _ => None,
        }
    }

    /// Values per sample.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{data::Mixture, gan::{DataSource, Table}};
    /// assert_eq!(DataSource::Mixture(Mixture::ring()).dim(), 2);
    /// assert_eq!(DataSource::Table(Arc::new(Table::new(vec![0.0; 6], 3)?)).dim(), 3);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn dim(&self) -> usize {
        match self {
            DataSource::Mixture(_) => 2,
            DataSource::Table(t) => t.dim,
            DataSource::Stream(s) => s.source.dim(),
        }
    }
}

/// Everything that defines a training run.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{DataSource, GanConfig}, nn::{Act, NetSpec}};
/// let g = NetSpec::mlp(&[4, 16, 2], Act::Relu, None);
/// let d = NetSpec::mlp(&[2, 16, 1], Act::LeakyRelu(0.2), None);
/// let cfg = GanConfig::new(g, d, DataSource::Mixture(Mixture::ring()));
/// assert_eq!((cfg.z_dim(), cfg.batch, cfg.k), (4, 64, 1));
/// cfg.validate()?;
/// let d3 = NetSpec::mlp(&[3, 16, 1], Act::LeakyRelu(0.2), None);
/// assert!(GanConfig { discriminator: d3, ..cfg }.validate().is_err()); // G makes 2 values, D takes 3
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct GanConfig {
    pub generator: NetSpec,
    pub discriminator: NetSpec,
    pub data: DataSource,
    /// How both networks' parameters start (see [`GanConfig::init_params`]).
    pub init: Init,
    /// The generator phase reuses the last discriminator update's noise and generated batch.
    pub reuse_fake: bool,
    pub loss: LossKind,
    /// Discriminator updates per generator update.
    pub k: usize,
    pub batch: usize,
    pub opt_d: Optimizer,
    pub opt_g: Optimizer,
    /// WGAN weight clipping of the critic: clamp to [−c, c] after each update; 0 disables it.
    pub clip_d: f32,
    /// Conditional GAN (SPEC.md R3): the number of classes (0: unconditional). The generator then
    /// takes z followed by a one-hot label, and the discriminator the sample followed by one
    /// block per class (a constant plane per class for images, or one value per class); the data
    /// must carry labels.
    pub classes: usize,
    /// WGAN-GP's gradient penalty weight λ (`loss::gradient_penalty`): each critic update adds
    /// λ·mean(‖∇D(x̂)‖ − 1)² on points x̂ between its real and generated batches; 0 disables it.
    pub gp_lambda: f32,
    /// Both learning rates decay linearly to zero over this many iterations; 0 keeps them constant.
    pub lr_decay_steps: u32,
    /// The original WGAN's critic schedule (Arjovsky et al. 2017): more critic updates in some
    /// steps (see [`CriticBurst`]); `None`: `k` in every step.
    pub critic_burst: Option<CriticBurst>,
    pub seed: u32,
}

/// Steps with more critic updates: `k` of them (instead of [`GanConfig::k`]) in the first
/// `first` steps and in every step whose index is a multiple of `every`. The original WGAN used
/// 100, 25 and 500, so that the critic is near its optimum before the generator learns and
/// again from time to time ([`CriticBurst::ORIGINAL`]).
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{CriticBurst, GanConfig}};
/// let b = CriticBurst::ORIGINAL;
/// assert!(b.applies(0) && b.applies(24) && !b.applies(25) && b.applies(500));
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16).wgan_clip(0.01, 5, 5e-5);
/// cfg.critic_burst = Some(b);
/// cfg.validate()?;                                  // an RMSprop critic: allowed
/// assert_eq!((cfg.critic_updates(0), cfg.critic_updates(30)), (100, 5));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CriticBurst {
    pub k: usize,
    pub first: u64,
    pub every: u64,
}

impl CriticBurst {
    /// The original WGAN's schedule: 100 critic updates per generator update in the first 25
    /// generator steps and in every 500th.
    ///
    /// ```
    /// use wgpu_gan::gan::CriticBurst;
    /// let b = CriticBurst::ORIGINAL;
    /// assert_eq!((b.k, b.first, b.every), (100, 25, 500));
    /// ```
    pub const ORIGINAL: CriticBurst = CriticBurst { k: 100, first: 25, every: 500 };

    /// Whether step `step` (0-based generator updates) is one of the long ones.
    ///
    /// ```
    /// use wgpu_gan::gan::CriticBurst;
    /// let b = CriticBurst { k: 10, first: 2, every: 5 };
    /// assert_eq!((0..11).filter(|&s| b.applies(s)).collect::<Vec<_>>(), [0, 1, 5, 10]);
    /// assert!(!CriticBurst { every: 0, ..b }.applies(5)); // every 0: the first steps only
    /// ```
    pub fn applies(&self, step: u64) -> bool {
        step < self.first || (self.every > 0 && step.is_multiple_of(self.every))
    }
}

impl GanConfig {
    /// A GAN of these networks on these data with the defaults every reference model starts
    /// from (the one place they are written): PyTorch's initialisation, the non-saturating loss,
    /// k = 1, batch 64, Adam 2e-4 (β 0.5, 0.999) for both networks, a fresh G(z) for the
    /// generator phase, no clipping, penalty, classes, learning-rate decay or critic burst, seed 0.
    /// The reference models (`r1` here, `r2`, `r3`, `r5` in [`crate::models`]) change what they need.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{DataSource, GanConfig}, loss::LossKind, nn::{Act, NetSpec}};
    /// let g = NetSpec::mlp(&[3, 8, 2], Act::Relu, None);
    /// let d = NetSpec::mlp(&[2, 8, 1], Act::LeakyRelu(0.2), None);
    /// let cfg = GanConfig::new(g, d, DataSource::Mixture(Mixture::ring()));
    /// assert_eq!((cfg.batch, cfg.k, cfg.loss, cfg.seed, cfg.z_dim()), (64, 1, LossKind::NonSaturating, 0, 3));
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(generator: NetSpec, discriminator: NetSpec, data: DataSource) -> GanConfig {
        GanConfig {
            generator,
            discriminator,
            data,
            init: Init::PyTorch,
            reuse_fake: false,
            loss: LossKind::NonSaturating,
            k: 1,
            batch: 64,
            opt_d: Optimizer::adam(2e-4, 0.5, 0.999),
            opt_g: Optimizer::adam(2e-4, 0.5, 0.999),
            clip_d: 0.0,
            gp_lambda: 0.0,
            classes: 0,
            lr_decay_steps: 0,
            critic_burst: None,
            seed: 0,
        }
    }

    /// The same models trained as a WGAN-GP (SPEC.md §2, R4): Wasserstein loss with gradient
    /// penalty λ, `n_critic` critic updates per generator update, Adam(lr, β = (0.5, 0.9)) for both.
    /// The critic must have no batch normalisation and no final sigmoid.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig, loss::LossKind, optim::Optimizer};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 8).wgan_gp(10.0, 5, 1e-4);
    /// assert_eq!((cfg.loss, cfg.gp_lambda, cfg.k), (LossKind::Wasserstein, 10.0, 5));
    /// assert_eq!(cfg.opt_d, Optimizer::adam(1e-4, 0.5, 0.9));
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn wgan_gp(self, lambda: f32, n_critic: usize, lr: f32) -> GanConfig {
        let adam = Optimizer::adam(lr, 0.5, 0.9);
        GanConfig { loss: LossKind::Wasserstein, gp_lambda: lambda, clip_d: 0.0, k: n_critic, opt_d: adam, opt_g: adam, reuse_fake: false, ..self }
    }

    /// The same models trained as the original WGAN (R4): Wasserstein loss, the critic's weights
    /// clamped to [−c, c] after each update, `n_critic` critic updates, RMSprop(lr) for both.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig, loss::LossKind, optim::Optimizer};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 8).wgan_clip(0.01, 5, 5e-5);
    /// assert_eq!((cfg.loss, cfg.clip_d, cfg.k), (LossKind::Wasserstein, 0.01, 5));
    /// assert_eq!(cfg.opt_g, Optimizer::RmsProp { lr: 5e-5, alpha: 0.99, eps: 1e-8 });
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn wgan_clip(self, c: f32, n_critic: usize, lr: f32) -> GanConfig {
        let rms = Optimizer::RmsProp { lr, alpha: 0.99, eps: 1e-8 };
        GanConfig { loss: LossKind::Wasserstein, gp_lambda: 0.0, clip_d: c, k: n_critic, opt_d: rms, opt_g: rms, reuse_fake: false, ..self }
    }

    /// R1 made conditional: the component's index given to both networks (one-hot after z and
    /// after the point), so that each label asks for one mode.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 8).conditional();   // 8 components: 8 classes
    /// assert_eq!((cfg.classes, cfg.z_dim()), (8, 2));
    /// assert_eq!((cfg.generator.in_dim(), cfg.discriminator.in_dim()), (2 + 8, 2 + 8));
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn conditional(self) -> GanConfig {
        let classes = match &self.data {
            DataSource::Mixture(m) => m.centres.len(),
            _ => 10,
        };
        let mut g = self.generator.clone();
        let mut d = self.discriminator.clone();
        for (net, extra) in [(&mut g, classes), (&mut d, classes)] {
            if let Some(crate::nn::Layer::Linear(l)) = net.layers.first_mut() {
                l.inp += extra;
            }
        }
        GanConfig { generator: g, discriminator: d, classes, ..self }
    }

    /// The noise values per sample: the generator's input less a conditional GAN's one-hot label.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let cfg = GanConfig::r1(Mixture::ring(), 3, 8);
    /// assert_eq!(cfg.z_dim(), 3);
    /// assert_eq!(cfg.conditional().z_dim(), 3);             // the generator now takes 3 + 8
    /// ```
    pub fn z_dim(&self) -> usize {
        self.generator.in_dim().saturating_sub(self.classes)
    }

    /// This conditional GAN with its discriminator conditioned by projection ([`cond::project`];
    /// SPEC.md R3 allows it) instead of label blocks: the blocks leave its first layer's input
    /// (a Linear layer's inputs, or a convolution's label planes) and its last Linear layer gains
    /// one output per class, the class embeddings.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 8).conditional().with_projection()?;
    /// assert_eq!((cfg.discriminator.in_dim(), cfg.discriminator.out_dim()), (2, 1 + 8));
    /// assert!(GanConfig::r1(Mixture::ring(), 2, 8).with_projection().is_err()); // not conditional
    /// assert!(cfg.with_projection().is_err());                                 // already projected
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_projection(self) -> Result<GanConfig> {
        if self.classes == 0 || self.projection() {
            return Err(Error::Shape("a projection discriminator needs a conditional GAN with label blocks to replace".into()));
        }
        let (classes, extra) = (self.classes, self.classes * self.label_plane());
        let mut d = self.discriminator.clone();
        match d.layers.first_mut() {
            Some(crate::nn::Layer::Linear(l)) => l.inp -= extra,
            Some(crate::nn::Layer::Conv2d(c)) if c.cin > classes => c.cin -= classes,
            _ => return Err(Error::Shape("a projection discriminator: the first layer must be the Linear or Conv2d layer that reads the label blocks".into())),
        }
        match d.layers.last_mut() {
            Some(crate::nn::Layer::Linear(l)) if l.out == 1 => l.out += classes,
            _ => return Err(Error::Shape("a projection discriminator: the last layer must be a Linear layer with one output".into())),
        }
        let cfg = GanConfig { discriminator: d, ..self };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Whether the discriminator is conditioned by projection ([`cond::project`]): a conditional
    /// GAN whose discriminator reads the sample alone (no label blocks) and outputs 1 + classes
    /// values per sample.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let cgan = GanConfig::r1(Mixture::ring(), 2, 8).conditional();
    /// assert!(!cgan.projection());                          // label blocks
    /// assert!(cgan.with_projection()?.projection());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn projection(&self) -> bool {
        self.classes > 0 && self.discriminator.in_dim() == self.data.dim()
    }

    /// Values per class block of the discriminator's conditioned input (1, or an image plane;
    /// 0 with a projection discriminator).
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let r1 = GanConfig::r1(Mixture::ring(), 2, 8);
    /// assert_eq!(r1.label_plane(), 0);                      // unconditional
    /// assert_eq!(r1.clone().conditional().label_plane(), 1); // one value per class
    /// assert_eq!(r1.conditional().with_projection()?.label_plane(), 0);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn label_plane(&self) -> usize {
        match self.classes {
            0 => 0,
            c => self.discriminator.in_dim().saturating_sub(self.data.dim()) / c,
        }
    }

    /// Checks that the networks, data and settings fit together; the error says what does not.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// cfg.validate()?;
    /// cfg.k = 0;
    /// assert!(cfg.validate().is_err());                     // no critic update
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.generator.widths()?;
        self.discriminator.widths()?;
        let extra = self.classes * self.label_plane();
        if self.generator.out_dim() + extra != self.discriminator.in_dim() {
            return Err(Error::Shape(format!(
                "the generator makes {} values per sample but the discriminator takes {}{}",
                self.generator.out_dim(),
                self.discriminator.in_dim(),
                if self.classes > 0 { " (with its label blocks, a multiple of the classes)" } else { "" }
            )));
        }
        if self.classes > 0 {
            // Tables carry labels; a mixture's label is its component.
            let labeled = match &self.data {
                DataSource::Table(t) => t.labels.as_ref().is_some_and(|l| l.iter().all(|&v| (v as usize) < self.classes)),
                DataSource::Mixture(m) => m.centres.len() == self.classes,
                DataSource::Stream(_) => false,
            };
            if !labeled {
                return Err(Error::Shape(format!("a conditional GAN needs data labelled 0..{} (a table with labels held in memory, or a mixture of that many components)", self.classes)));
            }
            if self.generator.in_dim() <= self.classes || (!self.projection() && self.discriminator.in_dim() != self.data.dim() + extra) {
                return Err(Error::Shape(format!(
                    "a conditional GAN of {} classes needs a generator input of z + {} values and a discriminator input of the sample + a multiple of {} values (or of the sample alone, with a projection discriminator's 1 + {} outputs)",
                    self.classes, self.classes, self.classes, self.classes
                )));
            }
            if self.gp_lambda > 0.0 {
                return Err(Error::Shape("the gradient penalty is not implemented for conditional GANs yet".into()));
            }
        }
        if self.projection() && self.discriminator.out_dim() != 1 + self.classes {
            return Err(Error::Shape(format!(
                "a projection discriminator (reading the sample alone) must output 1 + {} values per sample: ψ and one per class",
                self.classes
            )));
        }
        if !self.projection() && self.discriminator.out_dim() != 1 {
            return Err(Error::Shape("the discriminator must output one logit per sample".into()));
        }
        if self.generator.out_dim() != self.data.dim() {
            return Err(Error::Shape(format!("the data has {} values per sample but the generator makes {}", self.data.dim(), self.generator.out_dim())));
        }
        if self.k == 0 || self.batch == 0 {
            return Err(Error::Shape("k and batch must be at least 1".into()));
        }
        if let Some(b) = self.critic_burst {
            // The optimizers number their steps as step·k + update; the extra updates of a long
            // phase would share those numbers, which only Adam's bias correction and the
            // learning-rate decay read.
            if matches!(self.opt_d, Optimizer::Adam { .. }) || self.lr_decay_steps > 0 {
                return Err(Error::Shape("the original WGAN critic schedule needs an RMSprop or SGD critic and constant learning rates (it was made for WGAN with clipping)".into()));
            }
            if b.k <= self.k {
                return Err(Error::Shape(format!("a long critic phase of {} updates is not longer than the usual {}", b.k, self.k)));
            }
        }
        for (net, o) in [("generator", &self.opt_g), ("discriminator", &self.opt_d)] {
            o.validate().map_err(|m| Error::Shape(format!("{net} optimizer: {m}")))?;
        }
        if (self.generator.has_batchnorm() || self.discriminator.has_batchnorm()) && self.batch < 2 {
            return Err(Error::Shape("batch normalisation needs a batch of at least 2".into()));
        }
        if !(self.gp_lambda >= 0.0 && self.gp_lambda.is_finite()) {
            return Err(Error::Shape(format!("the gradient penalty weight must be finite and ≥ 0, not {}", self.gp_lambda)));
        }
        if self.gp_lambda > 0.0 && self.discriminator.has_batchnorm() {
            return Err(Error::Shape("a gradient penalty is per sample: the critic cannot have batch normalisation (R4 removes it)".into()));
        }
        if self.gp_lambda > 0.0 {
            if let Some((i, l)) = self.discriminator.layers.iter().enumerate().find(|(_, l)| !l.imp().has_grad_of_grad()) {
                return Err(crate::nn::at_layer(i)(crate::nn::no_grad_of_grad(l.imp().kind())));
            }
        }
        if let DataSource::Stream(s) = &self.data {
            if self.classes > 0 || self.critic_burst.is_some() {
                return Err(Error::Shape("streamed data carry no labels and one step's rows at a time: train conditional GANs and the original WGAN's critic schedule from a table held in memory".into()));
            }
            if s.source.count() == 0 {
                return Err(Error::Shape("the streamed data set has no rows".into()));
            }
        }
        if let DataSource::Mixture(m) = &self.data {
            if m.centres.is_empty() {
                return Err(Error::Shape("the data mixture has no components".into()));
            }
        }
        Ok(())
    }

    /// Initial (G, D) parameters for this config's seed.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig};
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// let (g, d) = cfg.init_params();
    /// assert_eq!(g.iter().map(Vec::len).collect::<Vec<_>>(), cfg.generator.param_lens());
    /// assert_eq!(cfg.init_params(), (g.clone(), d));        // the same seed, the same weights
    /// cfg.seed = 1;
    /// assert_ne!(cfg.init_params().0, g);
    /// ```
    pub fn init_params(&self) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut d = self.discriminator.init(self.seed, 2000, self.init);
        if self.projection() {
            // The class embeddings (rows 1.. of the last layer's weight and bias) start at zero:
            // D starts as the unconditional discriminator and learns the classes from there.
            // (validate() holds the last layer to be a Linear one; its weight, then its bias if it has one.)
            if let Some(crate::nn::Layer::Linear(l)) = self.discriminator.layers.last() {
                let n = d.len();
                let weight = if l.bias { n - 2 } else { n - 1 };
                d[weight][l.inp..].iter_mut().for_each(|v| *v = 0.0);
                if l.bias {
                    d[n - 1][1..].iter_mut().for_each(|v| *v = 0.0);
                }
            }
        }
        (self.generator.init(self.seed, 1000, self.init), d)
    }

    /// Whether the discriminator sees real and generated batches in two passes (it has batch
    /// normalisation) rather than as one [fake; real] batch.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{data::Mixture, gan::{GanConfig, Table}};
    /// assert!(!GanConfig::r1(Mixture::ring(), 2, 8).separate_passes());
    /// let mnist = Arc::new(Table::new(vec![0.0; 2 * 784], 784)?);
    /// assert!(GanConfig::r2(mnist).separate_passes());      // R2's D has batch norm
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn separate_passes(&self) -> bool {
        self.discriminator.has_batchnorm()
    }

    /// The stream of the interpolation weights ε of D update `i` (WGAN-GP).
    pub(crate) fn interpolate_stream(&self, i: usize) -> u32 {
        0x4000_0000 + i as u32
    }

    pub(crate) fn noise_stream(&self, d_update: Option<usize>) -> u32 {
        match d_update {
            // (The extra updates of a long critic phase come after the generator's stream.)
            Some(i) if i >= self.k => 2 * (i + 1) as u32,
            Some(i) => 2 * i as u32,
            None => 2 * self.k as u32,
        }
    }

    /// Critic updates in step `step`: `k`, or the burst's in the steps it covers.
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{CriticBurst, GanConfig}};
    /// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8).wgan_clip(0.01, 5, 5e-5);
    /// assert_eq!(cfg.critic_updates(0), 5);
    /// cfg.critic_burst = Some(CriticBurst { k: 20, first: 1, every: 0 });
    /// assert_eq!((cfg.critic_updates(0), cfg.critic_updates(1)), (20, 5));
    /// ```
    pub fn critic_updates(&self, step: u64) -> usize {
        match self.critic_burst {
            Some(b) if b.applies(step) => b.k.max(self.k),
            _ => self.k,
        }
    }
}

/// Everything a training step depends on: weights, optimizer state and the step counter.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let (g, d) = cfg.init_params();
/// let mut cpu = CpuGan::new(cfg, g.clone(), d)?;
/// let start = cpu.read_state();
/// assert_eq!((&start.g, start.step), (&g, 0));
/// assert_eq!((start.opt_g.len(), start.opt_g[0].len()), (g.len(), 2)); // Adam: 2 moments a tensor
/// cpu.train_step();
/// assert_eq!(cpu.read_state().step, 1);
/// cpu.load_state(&start)?;                          // back to the start
/// assert_eq!(cpu.read_state(), start);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GanState {
    pub g: Vec<Vec<f32>>,
    pub d: Vec<Vec<f32>>,
    pub opt_g: Vec<Vec<Vec<f32>>>,
    pub opt_d: Vec<Vec<Vec<f32>>>,
    /// BatchNorm running statistics of each network.
    pub g_running: Vec<Vec<f32>>,
    pub d_running: Vec<Vec<f32>>,
    pub step: u32,
}

/// What a training loop needs of a GAN, whether it runs on the GPU ([`GpuGan`]) or on the CPU
/// reference ([`CpuGan`], for machines with no adapter at all: `--cpu`).
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig, Trainer}, nn::Mode};
/// fn run<T: Trainer>(gan: &mut T) -> wgpu_gan::Result<usize> {
///     gan.train_steps(3);
///     gan.stats()?;                                 // an error if training diverged
///     Ok(gan.sample(4, 7, Mode::Eval)?.len())
/// }
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let (g, d) = cfg.init_params();
/// let mut cpu = CpuGan::new(cfg, g, d)?;
/// assert_eq!((run(&mut cpu)?, cpu.steps_done()), (8, 3)); // 4 points of 2; 3 steps
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub trait Trainer {
    /// Runs `n` training steps.
    fn train_steps(&mut self, n: usize);
    /// The last step's statistics; fails when training diverged.
    fn stats(&self) -> Result<Stats>;
    /// `n` samples from the fixed noise of `seed`.
    fn sample(&mut self, n: usize, seed: u32, mode: crate::nn::Mode) -> Result<Vec<f32>>;
    /// The most samples [`Trainer::sample`] gives at once.
    fn sample_capacity(&self) -> usize;
    fn read_state(&self) -> Result<GanState>;
    fn load_state(&mut self, s: &GanState) -> Result<()>;
    /// Steps taken so far (the step counter).
    fn steps_done(&self) -> u64;
    /// Whether this process writes the run's files and prints its progress: all but the
    /// ranks after the first of a data-parallel run ([`dist::DistGan`]).
    fn leader(&self) -> bool {
        true
    }
    /// Fails unless every process of the run holds the same state (alone: always fine).
    fn agree(&self) -> Result<()> {
        Ok(())
    }
    /// Processes whose rows make up each batch (a data-parallel run's ranks; alone 1). A
    /// checkpoint records the whole batch, ranks × `cfg.batch`.
    fn ranks(&self) -> usize {
        1
    }
}

impl Trainer for GpuGan {
    fn train_steps(&mut self, n: usize) {
        GpuGan::train_steps(self, n)
    }
    fn stats(&self) -> Result<Stats> {
        GpuGan::stats(self)
    }
    fn sample(&mut self, n: usize, seed: u32, mode: crate::nn::Mode) -> Result<Vec<f32>> {
        GpuGan::sample(self, n, seed, mode)
    }
    fn sample_capacity(&self) -> usize {
        GpuGan::sample_capacity(self)
    }
    fn read_state(&self) -> Result<GanState> {
        GpuGan::read_state(self)
    }
    fn load_state(&mut self, s: &GanState) -> Result<()> {
        GpuGan::load_state(self, s)
    }
    fn steps_done(&self) -> u64 {
        GpuGan::steps_done(self)
    }
}

impl Trainer for CpuGan {
    fn train_steps(&mut self, n: usize) {
        for _ in 0..n {
            self.train_step();
        }
    }
    fn stats(&self) -> Result<Stats> {
        let s = self.stats;
        if s.values().iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("training diverged at step {}: losses/statistics {s:?}; lower the learning rates", self.step)));
        }
        for (net, params, spec) in [("G", &self.g.params, &self.cfg.generator), ("D", &self.d.params, &self.cfg.discriminator)] {
            if let Some(i) = params.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
                return Err(Error::NonFinite(format!("training diverged by step {}: {net}.{} holds NaN or infinite values; lower the learning rates", self.step, spec.param_names()[i].0)));
            }
        }
        Ok(s)
    }
    fn sample(&mut self, n: usize, seed: u32, mode: crate::nn::Mode) -> Result<Vec<f32>> {
        CpuGan::sample(self, n, seed, mode)
    }
    fn sample_capacity(&self) -> usize {
        usize::MAX
    }
    fn read_state(&self) -> Result<GanState> {
        Ok(CpuGan::read_state(self))
    }
    fn load_state(&mut self, s: &GanState) -> Result<()> {
        CpuGan::load_state(self, s)
    }
    fn steps_done(&self) -> u64 {
        self.step as u64
    }
}

/// Labels for a grid of `n` conditional samples: the classes in order, each over an equal run of
/// rows (n = 100, 10 classes: one class per row of a 10 × 10 grid).
///
/// ```
/// use wgpu_gan::gan::grid_labels;
/// assert_eq!(grid_labels(6, 3), [0, 0, 1, 1, 2, 2]);
/// assert_eq!(grid_labels(100, 10)[10..20], [1; 10]);    // row 1 of a 10 × 10 grid
/// ```
pub fn grid_labels(n: usize, classes: usize) -> Vec<u32> {
    (0..n).map(|r| (r * classes / n.max(1)) as u32).collect()
}

/// The stream for sampling from fixed noise (plots, metrics): distinct from every training stream.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig, SAMPLE_STREAM}, nn::{CpuNet, Mode}, rng::randn_fill};
/// let cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// let (g, d) = cfg.init_params();
/// let mut net = CpuNet::new(cfg.generator.clone(), g.clone())?;
/// let mut cpu = CpuGan::new(cfg, g, d)?;
/// // Samples of seed 7: the generator on the normals of (seed 7, SAMPLE_STREAM, step 0).
/// let z = randn_fill(3 * 2, 7, SAMPLE_STREAM, 0);
/// assert_eq!(cpu.sample(3, 7, Mode::Eval)?, net.forward(&z, 3)?);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const SAMPLE_STREAM: u32 = 0xFFFF_0000;
