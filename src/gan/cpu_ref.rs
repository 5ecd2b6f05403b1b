//! The CPU reference of a training step: the specification [`super::GpuGan`] is checked against.

use super::{DataSource, GanConfig, GanState, SAMPLE_STREAM};
use crate::cpu;
use crate::error::{Error, Result};
use crate::nn::{CpuNet, Mode, Tape};
use crate::optim::{lr_scale, CpuOptimizer};

pub struct CpuGan {
    pub cfg: GanConfig,
    pub g: CpuNet,
    pub d: CpuNet,
    opt_g: CpuOptimizer,
    opt_d: CpuOptimizer,
    pub step: u32,
    /// Last step's statistics: D loss, mean D(x), mean D(G(z)), accuracies, G loss.
    pub d_stats: cpu::DStats,
    pub g_loss: f32,
    /// The last generated batch (reused by the generator phase when `reuse_fake`).
    fake: Vec<f32>,
    /// Forward passes to backpropagate through instead of this reference's own, for the next
    /// phase only: (discriminator slot, tape) and (generator slot, tape). Verification puts the
    /// GPU's here, so that an activation sitting on a ReLU's kink, which rounding may put on
    /// either side, is on the same side in both backward passes.
    pub tapes: Option<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)>,
}

impl CpuGan {
    pub fn new(cfg: GanConfig, g_params: Vec<Vec<f32>>, d_params: Vec<Vec<f32>>) -> Result<CpuGan> {
        cfg.validate()?;
        let opt_g = CpuOptimizer::new(cfg.opt_g, &cfg.generator.param_lens());
        let opt_d = CpuOptimizer::new(cfg.opt_d, &cfg.discriminator.param_lens());
        Ok(CpuGan {
            g: CpuNet::new(cfg.generator.clone(), g_params)?,
            d: CpuNet::new(cfg.discriminator.clone(), d_params)?,
            cfg,
            opt_g,
            opt_d,
            step: 0,
            d_stats: Default::default(),
            g_loss: 0.0,
            fake: Vec::new(),
            tapes: None,
        })
    }

    /// Everything the next step depends on, as `GpuGan::read_state` gives it.
    pub fn read_state(&self) -> GanState {
        GanState {
            g: self.g.params.clone(),
            d: self.d.params.clone(),
            opt_g: self.opt_g.state.clone(),
            opt_d: self.opt_d.state.clone(),
            g_running: self.g.running.clone(),
            d_running: self.d.running.clone(),
            step: self.step,
        }
    }

    /// Continues from another implementation's exact state (see `GpuGan::read_state`).
    pub fn load_state(&mut self, s: &GanState) -> Result<()> {
        let fits = |a: &[Vec<f32>], b: &[Vec<f32>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len());
        let fits_opt = |a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fits(x, y));
        if !fits(&s.g, &self.g.params)
            || !fits(&s.d, &self.d.params)
            || !fits_opt(&s.opt_g, &self.opt_g.state)
            || !fits_opt(&s.opt_d, &self.opt_d.state)
            || !fits(&s.g_running, &self.g.running)
            || !fits(&s.d_running, &self.d.running)
        {
            return Err(Error::Shape("the state does not match this model's shapes".into()));
        }
        self.g.params = s.g.clone();
        self.d.params = s.d.clone();
        self.opt_g.state = s.opt_g.clone();
        self.opt_d.state = s.opt_d.clone();
        self.g.running = s.g_running.clone();
        self.d.running = s.d_running.clone();
        self.step = s.step;
        Ok(())
    }

    /// The real batch of D update `i`.
    fn real_batch(&self, i: usize) -> Vec<f32> {
        let c = &self.cfg;
        match &c.data {
            DataSource::Mixture(m) => cpu::mixture_sample(&m.centres, m.sigma, c.batch, c.seed, c.noise_stream(Some(i)) + 1, self.step),
            DataSource::Table(t) => cpu::gather_rows(&t.rows, t.dim, c.batch, c.seed, i as u32, self.step, c.k as u32).0,
        }
    }

    pub fn train_step(&mut self) {
        for i in 0..self.cfg.k {
            self.d_update(i, None);
        }
        self.g_phase(None);
    }

    /// Discriminator update `i` of the current step. `inputs` = (noise, real batch) replaces the
    /// update's own draws (verification feeds it the GPU's, so that the comparison starts after
    /// the random-number kernels, which are tested on their own).
    pub fn d_update(&mut self, i: usize, inputs: Option<(Vec<f32>, Vec<f32>)>) {
        let c = self.cfg.clone();
        let (b, k, zd) = (c.batch, c.k as u32, c.z_dim());
        let sep = c.separate_passes();
        {
            let (z, real) = inputs.unwrap_or_else(|| (cpu::randn_fill(b * zd, c.seed, c.noise_stream(Some(i)), self.step), self.real_batch(i)));
            self.fake = self.g.forward(&z, b);
            let l = if sep {
                let lr = self.d.run(1, &real, b, Mode::Train);
                let mut l = self.d.run(0, &self.fake, b, Mode::Train);
                l.extend(lr);
                l
            } else {
                self.d.forward(&[self.fake.as_slice(), &real].concat(), 2 * b)
            };
            self.d_stats = cpu::gan_loss_d_forward(&l, b, c.loss);
            let dl = cpu::gan_loss_d_backward(&l, b, c.loss);
            self.use_tapes();
            if sep {
                self.d.backward_slot(1, &dl[b..], b, true, false);
                self.d.backward_slot(0, &dl[..b], b, true, true);
            } else {
                self.d.backward(&dl, 2 * b, true);
            }
            self.opt_d.step(&mut self.d.params, &self.d.grads, self.step * k + i as u32 + 1, c.clip_d, lr_scale(self.step, c.lr_decay_steps));
        }
    }

    fn use_tapes(&mut self) {
        if let Some((d, g)) = self.tapes.take() {
            d.into_iter().for_each(|(slot, t)| self.d.set_tape(slot, t));
            g.into_iter().for_each(|(slot, t)| self.g.set_tape(slot, t));
        }
    }

    /// The generator update that ends a step (and advances the step counter); `z` replaces its
    /// own noise draw (unused when the config reuses the discriminator phase's batch).
    pub fn g_phase(&mut self, z: Option<Vec<f32>>) {
        let c = self.cfg.clone();
        let (b, zd) = (c.batch, c.z_dim());
        if !c.reuse_fake {
            let z = z.unwrap_or_else(|| cpu::randn_fill(b * zd, c.seed, c.noise_stream(None), self.step));
            self.fake = self.g.forward(&z, b);
        }
        let l = self.d.forward(&self.fake, b);
        self.g_loss = cpu::gan_loss_g_forward(&l, c.loss);
        let dl = cpu::gan_loss_g_backward(&l, c.loss);
        self.use_tapes();
        let dx = self.d.backward(&dl, b, false);
        self.g.backward(&dx, b, true);
        self.opt_g.step(&mut self.g.params, &self.g.grads, self.step + 1, 0.0, lr_scale(self.step, c.lr_decay_steps));
        self.step += 1;
    }

    /// n generated samples (n, dim) from the fixed sampling noise of `seed` (in slot 1, apart from
    /// the training pass; `Train` is taken as `BatchStats`: sampling leaves the running statistics alone).
    pub fn sample(&mut self, n: usize, seed: u32, mode: Mode) -> Vec<f32> {
        let mode = if mode == Mode::Train { Mode::BatchStats } else { mode };
        let z = cpu::randn_fill(n * self.cfg.z_dim(), seed, SAMPLE_STREAM, 0);
        self.g.run(1, &z, n, mode)
    }
}
