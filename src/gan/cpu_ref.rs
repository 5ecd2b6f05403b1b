//! The CPU reference of a training step: the specification [`super::GpuGan`] is checked against.

use super::recipe::{self, Op};
use super::{DataSource, GanConfig, GanState, SAMPLE_STREAM};
use crate::error::{Error, Result};
use crate::loss::{self, Stats};
use crate::nn::{CpuNet, Mode, Tape};
use crate::optim::{lr_scale, CpuOptimizer};
use crate::rng;

/// Shapes are checked when the GAN is built ([`GanConfig::validate`]); a failure here is a bug.
const CHECKED: &str = "shapes checked by GanConfig::validate";

/// The training procedure on the CPU reference: every layer, loss and optimizer in plain loops,
/// the same recipe and random numbers as [`super::GpuGan`] (what `--verify` compares it with).
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 32;
/// let (g, d) = cfg.init_params();
/// let mut cpu = CpuGan::new(cfg, g, d)?;
/// cpu.train_step();
/// assert!(cpu.stats.d_loss.is_finite());
/// assert_eq!(cpu.sample(10, 7, Mode::Eval)?.len(), 20);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct CpuGan {
    pub cfg: GanConfig,
    pub g: CpuNet,
    pub d: CpuNet,
    opt: Optimizers,
    pub step: u32,
    /// Last step's statistics: D loss, mean D(x), mean D(G(z)), accuracies, G loss.
    pub stats: Stats,
    work: Work,
    /// What verification puts in place of this reference's own values (see `Injected`).
    pub injected: Injected,
}

struct Optimizers {
    g: CpuOptimizer,
    d: CpuOptimizer,
}

/// The working values of a step: noise, generated and real batch, logits and their gradient, a
/// conditional GAN's labels of the generated and the real batch (as f32 class indices), and
/// WGAN-GP's interpolates of the current update.
#[derive(Default)]
struct Work {
    z: Vec<f32>,
    fake: Vec<f32>,
    real: Vec<f32>,
    logits: Vec<f32>,
    dlogits: Vec<f32>,
    labels_fake: Vec<f32>,
    labels_real: Vec<f32>,
    xhat: Vec<f32>,
}

/// Values to use instead of this reference's own, each for the next phase (or loss, or penalty)
/// only: verification puts the GPU's here, so that both sides differentiate from the same numbers.
#[derive(Default)]
pub struct Injected {
    /// Noise and real batch to use instead of drawing them.
    pub z: Option<Vec<f32>>,
    pub real: Option<Vec<f32>>,
    /// The critic's pass on the interpolates to backpropagate through, for the next penalty.
    pub gp_tape: Option<Tape>,
    /// Logits to differentiate the loss at, for the next loss: the loss itself is still computed
    /// from this reference's logits and compared, but the gradient that flows back starts from
    /// the same numbers on both sides, so that a sum that cancels, such as the last bias's
    /// gradient near equilibrium, mean σ(l_f) + mean σ(l_r) − 1, is not judged on the rounding of
    /// two different forward passes.
    pub logits: Option<Vec<f32>>,
    /// Forward passes to backpropagate through, for the next phase: (discriminator slot, tape)
    /// and (generator slot, tape), so that an activation sitting on a ReLU's kink, which
    /// rounding may put on either side, is on the same side in both backward passes.
    pub tapes: Option<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)>,
}

impl CpuGan {
    /// The reference GAN of `cfg` from these initial weights (see [`GanConfig::init_params`]).
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// let (g, d) = cfg.init_params();
    /// let cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// assert_eq!((cpu.read_state().g, cpu.read_state().step), (g.clone(), 0));
    /// assert!(CpuGan::new(cfg, d, g).is_err());             // G's and D's weights swapped
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(cfg: GanConfig, g_params: Vec<Vec<f32>>, d_params: Vec<Vec<f32>>) -> Result<CpuGan> {
        cfg.validate()?;
        let opt_g = CpuOptimizer::new(cfg.opt_g, &cfg.generator.param_lens());
        let opt_d = CpuOptimizer::new(cfg.opt_d, &cfg.discriminator.param_lens());
        Ok(CpuGan {
            g: CpuNet::new(cfg.generator.clone(), g_params)?,
            d: CpuNet::new(cfg.discriminator.clone(), d_params)?,
            cfg,
            opt: Optimizers { g: opt_g, d: opt_d },
            step: 0,
            stats: Stats::default(),
            work: Work::default(),
            injected: Injected::default(),
        })
    }

    /// Everything the next step depends on, as `GpuGan::read_state` gives it.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// let s = cpu.read_state();
    /// assert_eq!((&s.g, &s.d, s.step), (&g, &d, 0));
    /// assert_eq!((s.opt_d.len(), s.opt_d[0].len()), (d.len(), 2));   // Adam: 2 moments a tensor
    /// assert!(s.opt_d.iter().flatten().flatten().all(|&m| m == 0.0)); // before any step
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_state(&self) -> GanState {
        GanState {
            g: self.g.params.clone(),
            d: self.d.params.clone(),
            opt_g: self.opt.g.state.clone(),
            opt_d: self.opt.d.state.clone(),
            g_running: self.g.running.clone(),
            d_running: self.d.running.clone(),
            step: self.step,
        }
    }

    /// Continues from another implementation's exact state (see `GpuGan::read_state`).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// let start = cpu.read_state();
    /// cpu.train_step();
    /// cpu.load_state(&start)?;
    /// assert_eq!(cpu.read_state(), start);
    /// let mut bad = start.clone();
    /// bad.g.pop();                                          // a tensor short
    /// assert!(cpu.load_state(&bad).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load_state(&mut self, s: &GanState) -> Result<()> {
        let fits = |a: &[Vec<f32>], b: &[Vec<f32>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len());
        let fits_opt = |a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fits(x, y));
        if !fits(&s.g, &self.g.params)
            || !fits(&s.d, &self.d.params)
            || !fits_opt(&s.opt_g, &self.opt.g.state)
            || !fits_opt(&s.opt_d, &self.opt.d.state)
            || !fits(&s.g_running, &self.g.running)
            || !fits(&s.d_running, &self.d.running)
        {
            return Err(Error::Shape("the state does not match this model's shapes".into()));
        }
        self.g.params = s.g.clone();
        self.d.params = s.d.clone();
        self.opt.g.state = s.opt_g.clone();
        self.opt.d.state = s.opt_d.clone();
        self.g.running = s.g_running.clone();
        self.d.running = s.d_running.clone();
        self.step = s.step;
        Ok(())
    }

    /// The real batch of D update `i`, and its labels (conditional GANs; empty otherwise).
    fn real_batch(&self, i: usize) -> (Vec<f32>, Vec<f32>) {
        let c = &self.cfg;
        match &c.data {
            DataSource::Mixture(m) => {
                let (points, labels) = rng::mixture_labeled(&m.centres, m.sigma, c.batch, c.seed, c.noise_stream(Some(i)) + 1, self.step);
                (points, if c.classes > 0 { labels } else { Vec::new() })
            }
            DataSource::Table(t) => {
                let (rows, idx) = rng::gather_rows(&t.rows, t.dim, c.batch, c.seed, i as u32, self.step, c.k as u32);
                let labels = t.labels.as_ref().map_or(Vec::new(), |l| idx.iter().map(|&j| l[j] as f32).collect());
                (rows, labels)
            }
            DataSource::Stream(s) => {
                let plan = crate::data::stream::StepPlan { seed: c.seed, draws: c.k, batch: c.batch, ..Default::default() };
                let mut rows = vec![0.0; c.batch * s.source.dim()];
                if let Err(e) = plan.read_draw(s.source.as_ref(), self.step as u64, i, &mut rows) {
                    panic!("the CPU reference could not read its real batch: {e}");
                }
                (rows, Vec::new())
            }
        }
    }

    /// A conditional GAN's network input: `x` (n rows of `dim`) with its label blocks.
    /// (Unconditional: `x` itself, not a copy.)
    fn conditioned<'a>(&self, x: &'a [f32], labels: &[f32], dim: usize, plane: usize) -> std::borrow::Cow<'a, [f32]> {
        if self.cfg.classes == 0 {
            return std::borrow::Cow::Borrowed(x);
        }
        std::borrow::Cow::Owned(super::cond::append_onehot(x, labels, x.len() / dim, dim, self.cfg.classes, plane))
    }

    /// The logits from D's outputs: a projection discriminator's rows of 1 + classes values
    /// through [`super::cond::project`] with their labels; otherwise the outputs themselves.
    fn projected(&self, out: &[f32], labels: &[f32]) -> Vec<f32> {
        if self.cfg.projection() {
            super::cond::project(out, labels, self.cfg.classes)
        } else {
            out.to_vec()
        }
    }

    /// The gradient at D's outputs from the logits' gradient (the inverse of [`Self::projected`]).
    fn unprojected(&self, dl: &[f32], labels: &[f32]) -> Vec<f32> {
        if self.cfg.projection() {
            super::cond::project_backward(dl, labels, self.cfg.classes)
        } else {
            dl.to_vec()
        }
    }

    /// One training step: the recipe's phases for the current step (see [`crate::gan::recipe::step_at`]).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// cpu.train_step();
    /// let s = cpu.read_state();
    /// assert_eq!(s.step, 1);
    /// assert!(s.g != g && s.d != d);                        // both networks moved
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn train_step(&mut self) {
        for ops in recipe::step_at(&self.cfg, self.step as u64) {
            self.run_phase(&ops, None, None);
        }
    }

    /// One phase of the recipe (see [`recipe::step`]). `z` and `real` replace the phase's own
    /// draws of noise and real data (verification feeds it the GPU's, so that the comparison
    /// starts after the random-number kernels, which are tested on their own).
    ///
    /// # Panics
    /// When `z` or `real` does not hold a batch (`batch × z_dim`, `batch × dim` values).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// let phases = wgpu_gan::gan::recipe::step_at(&cfg, 0);
    /// assert_eq!(phases.len(), 2);                          // k = 1 D update, then G's
    /// cpu.run_phase(&phases[0], Some(vec![0.0; 4 * 2]), None); // z = 0 for the batch of 4
    /// let s = cpu.read_state();
    /// assert!(s.d != d && s.g == g);                        // only D stepped
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_phase(&mut self, ops: &[Op], z: Option<Vec<f32>>, real: Option<Vec<f32>>) {
        let c = &self.cfg;
        assert!(z.as_ref().is_none_or(|z| z.len() == c.batch * c.z_dim()), "run_phase: z must hold batch × z_dim = {} values", c.batch * c.z_dim());
        assert!(real.as_ref().is_none_or(|r| r.len() == c.batch * c.data.dim()), "run_phase: the real batch must hold batch × dim = {} values", c.batch * c.data.dim());
        (self.injected.z, self.injected.real) = (z, real);
        ops.iter().for_each(|op| self.exec(op));
        (self.injected.z, self.injected.real) = (None, None);
    }

    fn use_tapes(&mut self) {
        if let Some((d, g)) = self.injected.tapes.take() {
            d.into_iter().for_each(|(slot, t)| self.d.set_tape(slot, t));
            g.into_iter().for_each(|(slot, t)| self.g.set_tape(slot, t));
        }
    }

    /// One operation of the recipe, as the CPU reference computes it.
    fn exec(&mut self, op: &Op) {
        let c = &self.cfg;
        let (b, zd) = (c.batch, c.z_dim());
        match *op {
            Op::Noise { stream } => {
                self.work.z = self.injected.z.take().unwrap_or_else(|| rng::randn_fill(b * zd, c.seed, stream, self.step));
                if c.classes > 0 {
                    self.work.labels_fake = rng::random_labels(b, c.classes, c.seed, stream + super::gpu::LABEL_STREAM, self.step);
                }
            }
            Op::Generate => {
                let g_in = self.conditioned(&self.work.z, &self.work.labels_fake, zd, 1);
                self.work.fake = self.g.forward(&g_in, b).expect(CHECKED);
            }
            Op::Real { update } => {
                let (real, labels) = self.real_batch(update);
                self.work.real = self.injected.real.take().unwrap_or(real);
                self.work.labels_real = labels;
            }
            Op::DiscriminateBoth { joint: true } => {
                let (dim, plane) = (c.data.dim(), c.label_plane());
                let d_in = [self.conditioned(&self.work.fake, &self.work.labels_fake, dim, plane), self.conditioned(&self.work.real, &self.work.labels_real, dim, plane)].concat();
                let out = self.d.forward(&d_in, 2 * b).expect(CHECKED);
                let half = out.len() / 2;
                self.work.logits = [self.projected(&out[..half], &self.work.labels_fake), self.projected(&out[half..], &self.work.labels_real)].concat();
            }
            Op::DiscriminateBoth { joint: false } => {
                let (dim, plane) = (c.data.dim(), c.label_plane());
                let (real_in, fake_in) = (self.conditioned(&self.work.real, &self.work.labels_real, dim, plane), self.conditioned(&self.work.fake, &self.work.labels_fake, dim, plane));
                let lr = self.d.run(1, &real_in, b, Mode::Train).expect(CHECKED);
                let lf = self.d.run(0, &fake_in, b, Mode::Train).expect(CHECKED);
                self.work.logits = [self.projected(&lf, &self.work.labels_fake), self.projected(&lr, &self.work.labels_real)].concat();
            }
            Op::DiscriminateFake => {
                let d_in = self.conditioned(&self.work.fake, &self.work.labels_fake, c.data.dim(), c.label_plane());
                let out = self.d.forward(&d_in, b).expect(CHECKED);
                self.work.logits = self.projected(&out, &self.work.labels_fake);
            }
            Op::DLoss => {
                self.stats = Stats { g_loss: self.stats.g_loss, ..loss::gan_loss_d_forward(&self.work.logits, b, c.loss) };
                let l = self.injected.logits.take().unwrap_or_else(|| self.work.logits.clone());
                self.work.dlogits = loss::gan_loss_d_backward(&l, b, c.loss);
            }
            Op::DBackward { joint } => {
                self.use_tapes();
                let fake = self.unprojected(&self.work.dlogits[..b], &self.work.labels_fake);
                let real = self.unprojected(&self.work.dlogits[b..], &self.work.labels_real);
                if joint {
                    self.d.backward(&[fake, real].concat(), 2 * b, true).expect(CHECKED);
                } else {
                    self.d.backward_slot(1, &real, b, true, false).expect(CHECKED);
                    self.d.backward_slot(0, &fake, b, true, true).expect(CHECKED);
                }
            }
            Op::DStep { update } => {
                let t = self.step * c.k as u32 + update as u32 + 1;
                self.opt.d.step(&mut self.d.params, &self.d.grads, t, c.clip_d, lr_scale(self.step, c.lr_decay_steps));
            }
            Op::GLoss => {
                self.stats.g_loss = loss::gan_loss_g_forward(&self.work.logits, c.loss);
                let l = self.injected.logits.take().unwrap_or_else(|| self.work.logits.clone());
                self.work.dlogits = loss::gan_loss_g_backward(&l, c.loss);
            }
            Op::GBackward => {
                self.use_tapes();
                let dout = self.unprojected(&self.work.dlogits, &self.work.labels_fake);
                let mut dx = self.d.backward(&dout, b, false).expect(CHECKED);
                let c = &self.cfg;
                if c.classes > 0 && !c.projection() {
                    // G gets the gradient of the sample part of D's input.
                    dx = super::cond::take_columns(&dx, b, c.discriminator.in_dim(), c.data.dim());
                }
                self.g.backward(&dx, b, true).expect(CHECKED);
            }
            Op::Interpolate { update } => {
                let step = self.step;
                let dim = c.data.dim();
                self.work.xhat = rng::interpolate(&self.work.real, &self.work.fake, b, dim, c.seed, c.interpolate_stream(update), step);
            }
            Op::Penalty => {
                let dim = c.data.dim();
                self.d.run(1, &self.work.xhat, b, Mode::Train).expect(CHECKED);
                if let Some(t) = self.injected.gp_tape.take() {
                    self.d.set_tape(1, t);
                }
                let g = self.d.backward_slot(1, &vec![1.0; b], b, false, false).expect(CHECKED);
                let (penalty, gbar) = loss::gradient_penalty(&g, b, dim, c.gp_lambda);
                self.stats.penalty = penalty;
                self.stats.d_loss += penalty;
                self.d.penalty_backward(1, &gbar, b).expect(CHECKED);
            }
            Op::GStep => self.opt.g.step(&mut self.g.params, &self.g.grads, self.step + 1, 0.0, lr_scale(self.step, c.lr_decay_steps)),
            Op::Advance => self.step += 1,
        }
    }

    /// n generated samples (n, dim) from the fixed sampling noise of `seed` (in slot 1, apart from
    /// the training pass; `Train` is taken as `BatchStats`: sampling leaves the running statistics alone).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}, nn::Mode};
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut cpu = CpuGan::new(cfg.clone(), g.clone(), d.clone())?;
    /// let a = cpu.sample(3, 7, Mode::Eval)?;
    /// assert_eq!(a.len(), 3 * 2);                           // 3 points of 2
    /// assert_eq!(cpu.sample(3, 7, Mode::Eval)?, a);         // fixed noise: the same samples
    /// assert_ne!(cpu.sample(3, 8, Mode::Eval)?, a);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn sample(&mut self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        let mode = if mode == Mode::Train { Mode::BatchStats } else { mode };
        let z = rng::randn_fill(n * self.cfg.z_dim(), seed, SAMPLE_STREAM, 0);
        let labels: Vec<f32> = super::grid_labels(n, self.cfg.classes.max(1)).iter().map(|&l| l as f32).collect();
        let g_in = self.conditioned(&z, &labels, self.cfg.z_dim(), 1);
        self.g.run(1, &g_in, n, mode)
    }
}
