//! A GAN training step on the GPU, built once as a [`Program`] and submitted as one command buffer.

use super::{GanConfig, GanState, SAMPLE_STREAM};
use crate::cpu::DStats;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};
use crate::nn::GpuMlp;
use crate::optim::GpuOptimizer;

/// Uniform of `shaders/rng.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RngParams {
    pub n: u32,
    pub seed: u32,
    pub stream: u32,
    pub k: u32,
    pub row_offset: u32,
    pub sigma: f32,
    pub _pad: [u32; 2],
}

/// Uniform of `shaders/loss.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub n_fake: u32,
    pub n_real: u32,
    pub kind: u32,
    pub stat_offset: u32,
}

/// Statistics of the most recent step (M4): the last D update's and the G update's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub d: DStats,
    pub g_loss: f32,
}

const STATS_LEN: usize = 6;

pub struct GpuGan {
    pub gpu: Gpu,
    pub cfg: GanConfig,
    pub g: GpuMlp,
    pub d: GpuMlp,
    opt_g: GpuOptimizer,
    opt_d: GpuOptimizer,
    /// counter[0] is the number of completed steps; the kernels read it.
    pub counter: Tensor,
    zero_counter: Tensor,
    z: Tensor,
    /// Discriminator input, (2·batch, 2): rows [0, batch) generated, [batch, 2·batch) real.
    x_d: Tensor,
    logits: Tensor,
    dlogits: Tensor,
    dx: Tensor,
    centres: Tensor,
    stats: Tensor,
    step_program: Program,
    /// Largest batch [`GpuGan::sample`] can produce in one go.
    pub sample_capacity: usize,
    z_sample: Tensor,
    /// The generator's output for the last [`GpuGan::sample_program`] run, (sample_capacity, 2).
    pub samples: Tensor,
    pub steps_done: u64,
}

impl GpuGan {
    /// Builds every buffer, pipeline, bind group and the step program. `sample_capacity` bounds the
    /// number of points one [`GpuGan::sample`] call can generate.
    pub fn new(gpu: &Gpu, cfg: GanConfig, g_params: &[Vec<f32>], d_params: &[Vec<f32>], sample_capacity: usize) -> Result<GpuGan> {
        cfg.validate()?;
        let b = cfg.batch;
        let zd = cfg.z_dim();
        let g = GpuMlp::new(gpu, cfg.generator.clone(), g_params, b.max(sample_capacity), "G")?;
        let d = GpuMlp::new(gpu, cfg.discriminator.clone(), d_params, 2 * b, "D")?;
        let opt_g = GpuOptimizer::new(gpu, cfg.opt_g, &g.params, "G.opt")?;
        let opt_d = GpuOptimizer::new(gpu, cfg.opt_d, &d.params, "D.opt")?;
        let mut gan = GpuGan {
            counter: Tensor::from_slice(gpu, "counter", &[0u32])?,
            zero_counter: Tensor::from_slice(gpu, "zero_counter", &[0u32])?,
            z: Tensor::zeros(gpu, "z", b * zd)?,
            x_d: Tensor::zeros(gpu, "x_d", 2 * b * 2)?,
            logits: Tensor::zeros(gpu, "logits", 2 * b)?,
            dlogits: Tensor::zeros(gpu, "dlogits", 2 * b)?,
            dx: Tensor::zeros(gpu, "dx", b * 2)?,
            centres: Tensor::from_slice(gpu, "centres", &cfg.data.flat_centres())?,
            stats: Tensor::zeros(gpu, "stats", STATS_LEN)?,
            step_program: Program::default(),
            sample_capacity,
            z_sample: Tensor::zeros(gpu, "z_sample", sample_capacity * zd)?,
            samples: Tensor::zeros(gpu, "samples", sample_capacity * 2)?,
            steps_done: 0,
            gpu: gpu.clone(),
            cfg,
            g,
            d,
            opt_g,
            opt_d,
        };
        gan.step_program = gan.build_step()?;
        Ok(gan)
    }

    fn randn(&self, out: &Tensor, n: usize, seed: u32, stream: u32, counter: &Tensor) -> Result<Dispatch> {
        let k = self.gpu.kernel("rng", "randn_fill")?;
        let p = RngParams { n: n as u32, seed, stream, ..Default::default() };
        Dispatch::new(&self.gpu, &k, bytemuck::bytes_of(&p), &[&counter.buffer, &out.buffer], Some((n as u32).div_ceil(2)))
    }

    fn build_step(&self) -> Result<Program> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let b = c.batch;
        let nb = b as u32;
        let mut prog = Program::default();
        for i in 0..c.k {
            let stream = c.noise_stream(Some(i));
            prog.push(self.randn(&self.z, b * c.z_dim(), c.seed, stream, &self.counter)?);
            prog.extend(self.g.forward(gpu, &self.z.buffer, &self.x_d.buffer, b)?);
            let rp = RngParams {
                n: nb,
                seed: c.seed,
                stream: stream + 1,
                k: c.data.centres.len() as u32,
                row_offset: nb,
                sigma: c.data.sigma,
                _pad: [0; 2],
            };
            let k = gpu.kernel("rng", "mixture_sample")?;
            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&rp), &[&self.centres.buffer, &self.counter.buffer, &self.x_d.buffer], Some(nb))?);
            prog.extend(self.d.forward(gpu, &self.x_d.buffer, &self.logits.buffer, 2 * b)?);
            let lp = LossParams { n_fake: nb, n_real: nb, kind: c.loss as u32, stat_offset: 0 };
            let k = gpu.kernel("loss", "gan_loss_d_forward")?;
            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.stats.buffer], None)?);
            let k = gpu.kernel("loss", "gan_loss_d_backward")?;
            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.dlogits.buffer], Some(2 * nb))?);
            prog.extend(self.d.backward(gpu, &self.x_d.buffer, &self.dlogits.buffer, None, 2 * b, true)?);
            prog.extend(self.opt_d.step(gpu, &self.d.params, &self.d.grads, &self.counter.buffer, c.k as u32, i as u32, c.clip_d, c.lr_decay_steps)?);
        }
        prog.push(self.randn(&self.z, b * c.z_dim(), c.seed, c.noise_stream(None), &self.counter)?);
        prog.extend(self.g.forward(gpu, &self.z.buffer, &self.x_d.buffer, b)?);
        prog.extend(self.d.forward(gpu, &self.x_d.buffer, &self.logits.buffer, b)?);
        let lp = LossParams { n_fake: nb, n_real: 0, kind: c.loss as u32, stat_offset: 5 };
        let k = gpu.kernel("loss", "gan_loss_g_forward")?;
        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.stats.buffer], None)?);
        let k = gpu.kernel("loss", "gan_loss_g_backward")?;
        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.dlogits.buffer], Some(nb))?);
        prog.extend(self.d.backward(gpu, &self.x_d.buffer, &self.dlogits.buffer, Some(&self.dx.buffer), b, false)?);
        prog.extend(self.g.backward(gpu, &self.z.buffer, &self.dx.buffer, None, b, true)?);
        prog.extend(self.opt_g.step(gpu, &self.g.params, &self.g.grads, &self.counter.buffer, 1, 0, 0.0, c.lr_decay_steps)?);
        let k = gpu.kernel("step", "advance_step")?;
        prog.push(Dispatch::new(gpu, &k, &[], &[&self.counter.buffer], None)?);
        Ok(prog)
    }

    /// The whole training step, for a host that records it into its own compute pass. Each
    /// recording advances the step counter on the GPU when it runs.
    pub fn step_program(&self) -> &Program {
        &self.step_program
    }

    /// Runs `n` training steps, each its own submission; returns without waiting for the GPU.
    pub fn train_steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step_program.run(&self.gpu);
        }
        self.steps_done += n as u64;
    }

    /// Number of dispatches in one training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.step_program.dispatches.len()
    }

    /// Reads the last step's losses and D statistics (waits for the GPU). Fails on NaN/inf.
    pub fn stats(&self) -> Result<Stats> {
        let s = self.stats.read(&self.gpu)?;
        if s.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "training diverged at step {}: losses/statistics {s:?}; lower the learning rates",
                self.steps_done
            )));
        }
        Ok(Stats { d: DStats { loss: s[0], d_real: s[1], d_fake: s[2], acc_real: s[3], acc_fake: s[4] }, g_loss: s[5] })
    }

    /// Reads back everything the next step depends on (waits for the GPU).
    pub fn read_state(&self) -> Result<GanState> {
        let gpu = &self.gpu;
        Ok(GanState {
            g: self.g.read_params(gpu)?,
            d: self.d.read_params(gpu)?,
            opt_g: self.opt_g.read_state(gpu)?,
            opt_d: self.opt_d.read_state(gpu)?,
            step: self.counter.read(gpu)?[0].to_bits(),
        })
    }

    /// A program that writes G(z) for `n` points of the fixed sampling noise of `seed` into
    /// [`GpuGan::samples`] (rows [0, n)). Record it into your own pass, or see [`GpuGan::sample`].
    pub fn sample_program(&self, n: usize, seed: u32) -> Result<Program> {
        if n == 0 || n > self.sample_capacity {
            return Err(Error::Shape(format!("can sample 1..={} points at once, asked for {n}", self.sample_capacity)));
        }
        let mut prog = Program::default();
        prog.push(self.randn(&self.z_sample, n * self.cfg.z_dim(), seed, SAMPLE_STREAM, &self.zero_counter)?);
        prog.extend(self.g.forward(&self.gpu, &self.z_sample.buffer, &self.samples.buffer, n)?);
        Ok(prog)
    }

    /// n generated points (n,2) from the fixed sampling noise of `seed`, read back to the host.
    pub fn sample(&self, n: usize, seed: u32) -> Result<Vec<f32>> {
        self.sample_program(n, seed)?.run(&self.gpu);
        let mut v = self.samples.read(&self.gpu)?;
        v.truncate(n * 2);
        Ok(v)
    }
}
