//! A GAN training step on the GPU, built once as a [`Program`] and submitted as one command buffer.

use super::{DataSource, GanConfig, GanState, SAMPLE_STREAM};
use crate::cpu::DStats;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};
use crate::nn::{copy_range, GpuNet, Mode, Tape};
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
    /// gather_rows: values per row, and draws per step.
    pub dim: u32,
    pub per_step: u32,
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
/// The generator's slot for sampling (slot 0 holds the training pass).
const SAMPLE_SLOT: usize = 1;

pub struct GpuGan {
    pub gpu: Gpu,
    pub cfg: GanConfig,
    pub g: GpuNet,
    pub d: GpuNet,
    opt_g: GpuOptimizer,
    opt_d: GpuOptimizer,
    /// `counter[0]` is the number of completed steps; the kernels read it.
    pub counter: Tensor,
    zero_counter: Tensor,
    z: Tensor,
    /// Generated batch, rows [0, batch); with one joint discriminator pass also the real batch in
    /// rows [batch, 2·batch).
    x_d: Tensor,
    /// Real batch for separate discriminator passes.
    x_real: Tensor,
    logits: Tensor,
    dlogits: Tensor,
    /// Real half of the logits / their gradient for separate passes.
    logits_real: Tensor,
    dlogits_real: Tensor,
    dx: Tensor,
    /// Mixture centres or the data table.
    table: Tensor,
    stats: Tensor,
    step_program: Program,
    /// The parts of a step (each discriminator update, the generator phase), for verifying each
    /// against the CPU reference on its own.
    d_updates: Vec<Program>,
    g_phase: Program,
    /// Largest batch [`GpuGan::sample`] can produce in one go.
    pub sample_capacity: usize,
    z_sample: Tensor,
    /// The generator's output for the last [`GpuGan::sample_program`] run, (sample_capacity, dim).
    pub samples: Tensor,
    pub steps_done: u64,
}

impl GpuGan {
    /// Builds every buffer, pipeline, bind group and the step program. `sample_capacity` bounds the
    /// number of samples one [`GpuGan::sample`] call can generate.
    pub fn new(gpu: &Gpu, cfg: GanConfig, g_params: &[Vec<f32>], d_params: &[Vec<f32>], sample_capacity: usize) -> Result<GpuGan> {
        cfg.validate()?;
        let b = cfg.batch;
        let zd = cfg.z_dim();
        let dim = cfg.data.dim();
        let sep = cfg.separate_passes();
        // Slot 0 trains; slot 1 samples, so that sampling never touches what a step backpropagates through.
        let g = GpuNet::new(gpu, cfg.generator.clone(), g_params, b.max(sample_capacity), 2, "G")?;
        let d = GpuNet::new(gpu, cfg.discriminator.clone(), d_params, if sep { b } else { 2 * b }, if sep { 2 } else { 1 }, "D")?;
        let opt_g = GpuOptimizer::new(gpu, cfg.opt_g, &g.params, "G.opt")?;
        let opt_d = GpuOptimizer::new(gpu, cfg.opt_d, &d.params, "D.opt")?;
        let table = match &cfg.data {
            DataSource::Mixture(m) => Tensor::from_slice(gpu, "centres", &m.flat_centres())?,
            DataSource::Table(t) => Tensor::from_slice(gpu, "data", &t.rows)?,
        };
        let mut gan = GpuGan {
            counter: Tensor::from_slice(gpu, "counter", &[0u32])?,
            zero_counter: Tensor::from_slice(gpu, "zero_counter", &[0u32])?,
            z: Tensor::zeros(gpu, "z", b * zd)?,
            x_d: Tensor::zeros(gpu, "x_d", 2 * b * dim)?,
            x_real: Tensor::zeros(gpu, "x_real", if sep { b * dim } else { 1 })?,
            logits: Tensor::zeros(gpu, "logits", 2 * b)?,
            dlogits: Tensor::zeros(gpu, "dlogits", 2 * b)?,
            logits_real: Tensor::zeros(gpu, "logits_real", b)?,
            dlogits_real: Tensor::zeros(gpu, "dlogits_real", b)?,
            dx: Tensor::zeros(gpu, "dx", b * dim)?,
            table,
            stats: Tensor::zeros(gpu, "stats", STATS_LEN)?,
            step_program: Program::default(),
            d_updates: Vec::new(),
            g_phase: Program::default(),
            sample_capacity,
            z_sample: Tensor::zeros(gpu, "z_sample", sample_capacity * zd)?,
            samples: Tensor::zeros(gpu, "samples", sample_capacity * dim)?,
            steps_done: 0,
            gpu: gpu.clone(),
            cfg,
            g,
            d,
            opt_g,
            opt_d,
        };
        let mut step = gan.build_d_phase()?;
        step.extend(gan.build_g_phase()?);
        gan.step_program = step;
        gan.d_updates = (0..gan.cfg.k).map(|i| gan.build_d_update(i)).collect::<Result<_>>()?;
        gan.g_phase = gan.build_g_phase()?;
        Ok(gan)
    }

    fn randn(&self, out: &Tensor, n: usize, seed: u32, stream: u32, counter: &Tensor) -> Result<Dispatch> {
        let k = self.gpu.kernel("rng", "randn_fill")?;
        let p = RngParams { n: n as u32, seed, stream, ..Default::default() };
        Dispatch::new(&self.gpu, &k, bytemuck::bytes_of(&p), &[&counter.buffer, &out.buffer], Some((n as u32).div_ceil(2)))
    }

    /// Real samples of D update `i` into `out` from row `row_offset`.
    fn real_batch(&self, i: usize, out: &Tensor, row_offset: u32) -> Result<Dispatch> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let nb = c.batch as u32;
        match &c.data {
            DataSource::Mixture(m) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: c.noise_stream(Some(i)) + 1, k: m.centres.len() as u32, row_offset, sigma: m.sigma, ..Default::default() };
                let k = gpu.kernel("rng", "mixture_sample")?;
                Dispatch::new(gpu, &k, bytemuck::bytes_of(&rp), &[&self.table.buffer, &self.counter.buffer, &out.buffer], Some(nb))
            }
            DataSource::Table(t) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: i as u32, k: t.count as u32, row_offset, sigma: 0.0, dim: t.dim as u32, per_step: c.k as u32 };
                let k = gpu.kernel("rng", "gather_rows")?;
                Dispatch::new(gpu, &k, bytemuck::bytes_of(&rp), &[&self.table.buffer, &self.counter.buffer, &out.buffer], Some(nb * t.dim as u32))
            }
        }
    }

    /// The k discriminator updates of a step.
    fn build_d_phase(&self) -> Result<Program> {
        let mut prog = Program::default();
        for i in 0..self.cfg.k {
            prog.extend(self.build_d_update(i)?);
        }
        Ok(prog)
    }

    /// Discriminator update i of a step.
    fn build_d_update(&self, i: usize) -> Result<Program> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let b = c.batch;
        let nb = b as u32;
        let sep = c.separate_passes();
        let (x, z) = (&self.x_d.buffer, &self.z.buffer);
        let mut prog = Program::default();
        let lp = LossParams { n_fake: nb, n_real: nb, kind: c.loss as u32, stat_offset: 0 };
        {
            prog.push(self.randn(&self.z, b * c.z_dim(), c.seed, c.noise_stream(Some(i)), &self.counter)?);
            prog.extend(self.g.forward(gpu, 0, z, x, b, Mode::Train)?);
            if sep {
                // Real first, then generated (the running statistics see them in that order).
                prog.push(self.real_batch(i, &self.x_real, 0)?);
                prog.extend(self.d.forward(gpu, 1, &self.x_real.buffer, &self.logits_real.buffer, b, Mode::Train)?);
                prog.push(copy_range(gpu, &self.logits_real.buffer, 0, &self.logits.buffer, b, b)?);
                prog.extend(self.d.forward(gpu, 0, x, &self.logits.buffer, b, Mode::Train)?);
            } else {
                prog.push(self.real_batch(i, &self.x_d, nb)?);
                prog.extend(self.d.forward(gpu, 0, x, &self.logits.buffer, 2 * b, Mode::Train)?);
            }
            let k = gpu.kernel("loss", "gan_loss_d_forward")?;
            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.stats.buffer], None)?);
            let k = gpu.kernel("loss", "gan_loss_d_backward")?;
            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.dlogits.buffer], Some(2 * nb))?);
            if sep {
                prog.push(copy_range(gpu, &self.dlogits.buffer, b, &self.dlogits_real.buffer, 0, b)?);
                prog.extend(self.d.backward(gpu, 1, &self.x_real.buffer, &self.dlogits_real.buffer, None, b, true, false)?);
                prog.extend(self.d.backward(gpu, 0, x, &self.dlogits.buffer, None, b, true, true)?);
            } else {
                prog.extend(self.d.backward(gpu, 0, x, &self.dlogits.buffer, None, 2 * b, true, false)?);
            }
            prog.extend(self.opt_d.step(gpu, &self.d.params, &self.d.grads, &self.counter.buffer, c.k as u32, i as u32, c.clip_d, c.lr_decay_steps)?);
        }
        Ok(prog)
    }

    /// The generator update that ends a step (and advances the step counter).
    fn build_g_phase(&self) -> Result<Program> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let b = c.batch;
        let nb = b as u32;
        let (x, z) = (&self.x_d.buffer, &self.z.buffer);
        let mut prog = Program::default();
        if !c.reuse_fake {
            prog.push(self.randn(&self.z, b * c.z_dim(), c.seed, c.noise_stream(None), &self.counter)?);
            prog.extend(self.g.forward(gpu, 0, z, x, b, Mode::Train)?);
        }
        prog.extend(self.d.forward(gpu, 0, x, &self.logits.buffer, b, Mode::Train)?);
        let lp = LossParams { n_fake: nb, n_real: 0, kind: c.loss as u32, stat_offset: 5 };
        let k = gpu.kernel("loss", "gan_loss_g_forward")?;
        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.stats.buffer], None)?);
        let k = gpu.kernel("loss", "gan_loss_g_backward")?;
        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&lp), &[&self.logits.buffer, &self.dlogits.buffer], Some(nb))?);
        prog.extend(self.d.backward(gpu, 0, x, &self.dlogits.buffer, Some(&self.dx.buffer), b, false, false)?);
        prog.extend(self.g.backward(gpu, 0, z, &self.dx.buffer, None, b, true, false)?);
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

    /// Runs discriminator update `i` of the current step alone (for verification; a step is
    /// updates 0..k then [`GpuGan::run_g_phase`]). Waits for the GPU.
    pub fn run_d_update(&mut self, i: usize) -> Result<()> {
        self.d_updates[i].run(&self.gpu);
        self.gpu.wait()
    }

    /// Runs the generator phase that ends a step (for verification). Waits for the GPU.
    pub fn run_g_phase(&mut self) -> Result<()> {
        self.g_phase.run(&self.gpu);
        self.steps_done += 1;
        self.gpu.wait()
    }

    /// The forward passes of the last phase run, as the CPU reference keeps them: the
    /// discriminator's (slot, tape) and, after a generator phase, the generator's.
    pub fn read_tapes(&self, g_phase: bool) -> Result<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)> {
        let (gpu, b) = (&self.gpu, self.cfg.batch);
        let x = self.x_d.read(gpu)?;
        let mut d = Vec::new();
        if g_phase {
            d.push((0, self.d.read_tape(gpu, 0, &x, b)?));
        } else if self.cfg.separate_passes() {
            d.push((1, self.d.read_tape(gpu, 1, &self.x_real.read(gpu)?, b)?));
            d.push((0, self.d.read_tape(gpu, 0, &x, b)?));
        } else {
            d.push((0, self.d.read_tape(gpu, 0, &x, 2 * b)?));
        }
        let g = if g_phase { vec![(0, self.g.read_tape(gpu, 0, &self.z.read(gpu)?, b)?)] } else { vec![] };
        Ok((d, g))
    }

    /// The random inputs of the last phase run: the noise z (batch, z_dim) and the real batch
    /// (batch, dim; meaningful after a discriminator update).
    pub fn read_inputs(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let (b, dim) = (self.cfg.batch, self.cfg.data.dim());
        let real = if self.cfg.separate_passes() { self.x_real.read(&self.gpu)? } else { self.x_d.read(&self.gpu)?[b * dim..].to_vec() };
        Ok((self.z.read(&self.gpu)?, real))
    }

    /// Number of dispatches in one training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.step_program.dispatches.len()
    }

    /// Reads the last step's losses and D statistics (waits for the GPU). Fails on NaN/inf: in
    /// the losses, or in any gradient or updated weight since the start (the optimizers' divergence
    /// watch), naming the first step and the tensor.
    pub fn stats(&self) -> Result<Stats> {
        for (net, opt, spec) in [("G", &self.opt_g, &self.cfg.generator), ("D", &self.opt_d, &self.cfg.discriminator)] {
            if let Some(d) = opt.health(&self.gpu)? {
                let name = spec.param_names().get(d.tensor).map_or(format!("#{}", d.tensor), |n| n.0.clone());
                return Err(Error::NonFinite(format!(
                    "training diverged: in step {} the gradient or the updated value of {net}.{name} became NaN or infinite; \
                     lower the learning rates (a checkpoint is never written from a diverged state)",
                    d.step + 1
                )));
            }
        }
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
            g_running: self.g.read_running(gpu)?,
            d_running: self.d.read_running(gpu)?,
            step: self.counter.read(gpu)?[0].to_bits(),
        })
    }

    /// Continues from a saved state (a checkpoint): weights, optimizer moments, running
    /// statistics and the step counter.
    pub fn load_state(&mut self, s: &GanState) -> Result<()> {
        let gpu = &self.gpu;
        self.g.load(gpu, &s.g, &s.g_running)?;
        self.d.load(gpu, &s.d, &s.d_running)?;
        self.opt_g.load_state(gpu, &s.opt_g)?;
        self.opt_d.load_state(gpu, &s.opt_d)?;
        self.counter.write(gpu, &[s.step])?;
        self.opt_g.reset_health(gpu)?;
        self.opt_d.reset_health(gpu)?;
        self.steps_done = s.step as u64;
        Ok(())
    }

    /// A program that writes G(z) for `n` samples of the fixed sampling noise of `seed` into
    /// [`GpuGan::samples`] (rows [0, n)), batch normalisation in `mode` (never `Train`: sampling
    /// leaves the running statistics alone). Record it into your own pass, or see [`GpuGan::sample`].
    pub fn sample_program(&self, n: usize, seed: u32, mode: Mode) -> Result<Program> {
        let mode = if mode == Mode::Train { Mode::BatchStats } else { mode };
        if n == 0 || n > self.sample_capacity {
            return Err(Error::Shape(format!("can sample 1..={} points at once, asked for {n}", self.sample_capacity)));
        }
        let mut prog = Program::default();
        prog.push(self.randn(&self.z_sample, n * self.cfg.z_dim(), seed, SAMPLE_STREAM, &self.zero_counter)?);
        prog.extend(self.g.forward(&self.gpu, SAMPLE_SLOT, &self.z_sample.buffer, &self.samples.buffer, n, mode)?);
        Ok(prog)
    }

    /// n generated samples (n, dim) from the fixed sampling noise of `seed`, read back.
    pub fn sample(&self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        self.sample_program(n, seed, mode)?.run(&self.gpu);
        let mut v = self.samples.read(&self.gpu)?;
        v.truncate(n * self.cfg.data.dim());
        Ok(v)
    }
}
