//! The CPU reference of a training step: the specification [`super::GpuGan`] is checked against.

use super::{GanConfig, GanState, SAMPLE_STREAM};
use crate::cpu;
use crate::error::{Error, Result};
use crate::nn::CpuMlp;
use crate::optim::{lr_scale, CpuOptimizer};

pub struct CpuGan {
    pub cfg: GanConfig,
    pub g: CpuMlp,
    pub d: CpuMlp,
    opt_g: CpuOptimizer,
    opt_d: CpuOptimizer,
    pub step: u32,
    /// Last step's statistics: D loss, mean D(x), mean D(G(z)), accuracies, G loss.
    pub d_stats: cpu::DStats,
    pub g_loss: f32,
}

impl CpuGan {
    pub fn new(cfg: GanConfig, g_params: Vec<Vec<f32>>, d_params: Vec<Vec<f32>>) -> Result<CpuGan> {
        cfg.validate()?;
        let opt_g = CpuOptimizer::new(cfg.opt_g, &cfg.generator.param_lens());
        let opt_d = CpuOptimizer::new(cfg.opt_d, &cfg.discriminator.param_lens());
        Ok(CpuGan {
            g: CpuMlp::new(cfg.generator.clone(), g_params)?,
            d: CpuMlp::new(cfg.discriminator.clone(), d_params)?,
            cfg,
            opt_g,
            opt_d,
            step: 0,
            d_stats: Default::default(),
            g_loss: 0.0,
        })
    }

    /// Continues from another implementation's exact state (see `GpuGan::read_state`).
    pub fn load_state(&mut self, s: &GanState) -> Result<()> {
        let fits = |a: &[Vec<f32>], b: &[Vec<f32>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len());
        let fits_opt = |a: &[Vec<Vec<f32>>], b: &[Vec<Vec<f32>>]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fits(x, y));
        if !fits(&s.g, &self.g.params) || !fits(&s.d, &self.d.params) || !fits_opt(&s.opt_g, &self.opt_g.state) || !fits_opt(&s.opt_d, &self.opt_d.state) {
            return Err(Error::Shape("the state does not match this model's shapes".into()));
        }
        self.g.params = s.g.clone();
        self.d.params = s.d.clone();
        self.opt_g.state = s.opt_g.clone();
        self.opt_d.state = s.opt_d.clone();
        self.step = s.step;
        Ok(())
    }

    pub fn train_step(&mut self) {
        let c = &self.cfg;
        let (b, k, zd) = (c.batch, c.k as u32, c.z_dim());
        for i in 0..c.k {
            let z = cpu::randn_fill(b * zd, c.seed, c.noise_stream(Some(i)), self.step);
            let mut x = self.g.forward(&z, b);
            x.extend(cpu::mixture_sample(&c.data.centres, c.data.sigma, b, c.seed, c.noise_stream(Some(i)) + 1, self.step));
            let l = self.d.forward(&x, 2 * b);
            self.d_stats = cpu::gan_loss_d_forward(&l, b, c.loss);
            let dl = cpu::gan_loss_d_backward(&l, b, c.loss);
            self.d.backward(&dl, 2 * b, true);
            self.opt_d.step(&mut self.d.params, &self.d.grads, self.step * k + i as u32 + 1, c.clip_d, lr_scale(self.step, c.lr_decay_steps));
        }
        let z = cpu::randn_fill(b * zd, c.seed, c.noise_stream(None), self.step);
        let x = self.g.forward(&z, b);
        let l = self.d.forward(&x, b);
        self.g_loss = cpu::gan_loss_g_forward(&l, c.loss);
        let dl = cpu::gan_loss_g_backward(&l, c.loss);
        let dx = self.d.backward(&dl, b, false);
        self.g.backward(&dx, b, true);
        self.opt_g.step(&mut self.g.params, &self.g.grads, self.step + 1, 0.0, lr_scale(self.step, c.lr_decay_steps));
        self.step += 1;
    }

    /// n generated points (n,2) from the fixed sampling noise of `seed`.
    pub fn sample(&mut self, n: usize, seed: u32) -> Vec<f32> {
        let z = cpu::randn_fill(n * self.cfg.z_dim(), seed, SAMPLE_STREAM, 0);
        self.g.forward(&z, n)
    }
}
