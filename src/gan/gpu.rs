//! A GAN training step on the GPU, built once as a [`Program`] and submitted as one command buffer.

use super::recipe::{self, Op};
use super::{DataSource, GanConfig, GanState, SAMPLE_STREAM};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};
use crate::loss::{GanLossD, GanLossG, LossParams, PenaltyParams, PenaltyRows, PenaltySum, Stats};
use crate::nn::{copy_range, GpuNet, Grads, Mode, Tape};
use crate::optim::GpuOptimizer;
use crate::rng::{AdvanceStep, GatherLabeled, GatherRows, Interpolate, MixtureLabeled, MixtureSample, RandnFill, RandomLabels, RngParams};
use super::cond;

/// Added to a noise stream for the generated samples' labels (conditional GANs).
pub(crate) const LABEL_STREAM: u32 = 0x2000_0000;

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
    /// Mixture centres or the data table, and its labels (conditional GANs).
    table: Tensor,
    table_labels: Tensor,
    /// WGAN-GP: the interpolates x̂, the critic's outputs on them, a row of ones (the gradient
    /// of each output with respect to itself), the gradient g at x̂, the penalty's gradient ḡ with
    /// respect to it, and the per-sample penalty terms (one-element placeholders without GP).
    gp: [Tensor; 6],
    stats: Tensor,
    step_program: Program,
    /// Where each phase of the step (each discriminator update, then the generator phase) ends
    /// in `step_program`, for verifying each against the CPU reference on its own.
    phase_ends: Vec<usize>,
    /// Each operation of the step and its dispatches in `step_program`.
    op_ranges: Vec<(Op, std::ops::Range<usize>)>,
    /// The extra critic updates of a long step ([`GanConfig::critic_burst`]; empty without one),
    /// run before `step_program`, and where each of them ends.
    burst_program: Program,
    burst_ends: Vec<usize>,
    /// Largest batch [`GpuGan::sample`] can produce in one go.
    pub sample_capacity: usize,
    z_sample: Tensor,
    /// Conditional GANs (`classes` > 0; one-element placeholders otherwise): the generated and
    /// the real batch's labels (real ones at the real rows' offset), the generator's input
    /// [z | one-hot], the discriminator's inputs [sample | label planes] (joint or generated
    /// half, and real half), its input gradient, and the sampler's labels and input.
    cond: [Tensor; 8],
    /// A projection discriminator's outputs (rows of 1 + classes: [`cond::project`]) for the
    /// joint or generated pass and for the real pass, overwritten by their gradients in the
    /// backward pass (one-element placeholders otherwise).
    proj: [Tensor; 2],
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
        // D's slots: 0 trains (and holds the generated half of separate passes), 1 the real half
        // of separate passes or, with a gradient penalty, the interpolates.
        let gp = cfg.gp_lambda > 0.0;
        let mut d = GpuNet::new(gpu, cfg.discriminator.clone(), d_params, if sep { b } else { 2 * b }, if sep || gp { 2 } else { 1 }, "D")?;
        if gp {
            d.enable_penalty(gpu)?;
        }
        let gp_len = |len: usize| if gp { len } else { 1 };
        let opt_g = GpuOptimizer::new(gpu, cfg.opt_g, &g.params, "G.opt")?;
        let opt_d = GpuOptimizer::new(gpu, cfg.opt_d, &d.params, "D.opt")?;
        let table_labels = match &cfg.data {
            DataSource::Table(t) if cfg.classes > 0 => Tensor::from_slice(gpu, "data.labels", t.labels.as_deref().unwrap_or(&[0]))?,
            _ => Tensor::zeros(gpu, "data.labels", 1)?,
        };
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
            table_labels,
            gp: [
                Tensor::zeros(gpu, "gp.xhat", gp_len(b * dim))?,
                Tensor::zeros(gpu, "gp.logits", gp_len(b))?,
                Tensor::from_slice(gpu, "gp.ones", &vec![1.0f32; gp_len(b)])?,
                Tensor::zeros(gpu, "gp.g", gp_len(b * dim))?,
                Tensor::zeros(gpu, "gp.gbar", gp_len(b * dim))?,
                Tensor::zeros(gpu, "gp.terms", gp_len(b))?,
            ],
            stats: Tensor::zeros(gpu, "stats", std::mem::size_of::<Stats>() / 4)?,
            step_program: Program::default(),
            phase_ends: Vec::new(),
            op_ranges: Vec::new(),
            burst_program: Program::default(),
            burst_ends: Vec::new(),
            sample_capacity,
            z_sample: Tensor::zeros(gpu, "z_sample", sample_capacity * zd)?,
            cond: {
                let (c, dd) = (cfg.classes, cfg.discriminator.in_dim());
                let len = |l: usize| if c > 0 { l } else { 1 };
                [
                    Tensor::zeros(gpu, "cond.labels_fake", len(b))?,
                    Tensor::zeros(gpu, "cond.labels_real", len(2 * b))?,
                    Tensor::zeros(gpu, "cond.zc", len(b * (zd + c)))?,
                    Tensor::zeros(gpu, "cond.x", len(2 * b * dd))?,
                    Tensor::zeros(gpu, "cond.x_real", len(b * dd))?,
                    Tensor::zeros(gpu, "cond.dx", len(b * dd))?,
                    Tensor::zeros(gpu, "cond.labels_sample", len(sample_capacity))?,
                    Tensor::zeros(gpu, "cond.zc_sample", len(sample_capacity * (zd + c)))?,
                ]
            },
            proj: {
                let w = if cfg.projection() { 1 + cfg.classes } else { 0 };
                [Tensor::zeros(gpu, "proj.ext", (2 * b * w).max(1))?, Tensor::zeros(gpu, "proj.ext_real", (b * w).max(1))?]
            },
            samples: Tensor::zeros(gpu, "samples", sample_capacity * dim)?,
            steps_done: 0,
            gpu: gpu.clone(),
            cfg,
            g,
            d,
            opt_g,
            opt_d,
        };
        let mut step = Program::default();
        for ops in recipe::step(&gan.cfg) {
            for op in ops {
                let start = step.dispatches.len();
                step.extend(gan.build(&[op])?);
                gan.op_ranges.push((op, start..step.dispatches.len()));
            }
            gan.phase_ends.push(step.dispatches.len());
        }
        gan.step_program = step;
        let mut burst = Program::default();
        for ops in recipe::burst(&gan.cfg) {
            burst.extend(gan.build(&ops)?);
            gan.burst_ends.push(burst.dispatches.len());
        }
        gan.burst_program = burst;
        if gan.cfg.classes > 0 {
            gan.set_sample_labels(&super::grid_labels(sample_capacity, gan.cfg.classes))?;
        }
        Ok(gan)
    }

    fn randn(&self, out: &Tensor, n: usize, seed: u32, stream: u32, counter: &Tensor) -> Result<Dispatch> {
        let p = RngParams { n: n as u32, seed, stream, ..Default::default() };
        Dispatch::new(&self.gpu, &RandnFill { counter: &counter.buffer, out: &out.buffer }, &p, Some((n as u32).div_ceil(2)))
    }

    /// Real samples of D update `i` into `out` from row `row_offset`.
    fn real_batch(&self, i: usize, out: &Tensor, row_offset: u32) -> Result<Dispatch> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let nb = c.batch as u32;
        let (centres, counter, out) = (&self.table.buffer, &self.counter.buffer, &out.buffer);
        match &c.data {
            DataSource::Mixture(m) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: c.noise_stream(Some(i)) + 1, k: m.centres.len() as u32, row_offset, sigma: m.sigma, ..Default::default() };
                if c.classes > 0 {
                    return Dispatch::new(gpu, &MixtureLabeled { centres, counter, out, out_labels: &self.cond[1].buffer }, &rp, Some(nb));
                }
                Dispatch::new(gpu, &MixtureSample { centres, counter, out }, &rp, Some(nb))
            }
            DataSource::Table(t) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: i as u32, k: t.count as u32, row_offset, sigma: 0.0, dim: t.dim as u32, per_step: c.k as u32 };
                if c.classes > 0 {
                    let g = GatherLabeled { centres, counter, out, labels: &self.table_labels.buffer, out_labels: &self.cond[1].buffer };
                    return Dispatch::new(gpu, &g, &rp, Some(nb * t.dim as u32));
                }
                Dispatch::new(gpu, &GatherRows { entry: "gather_rows", centres, counter, out }, &rp, Some(nb * t.dim as u32))
            }
        }
    }

    /// The dispatches of a list of recipe operations (see [`recipe::Op`]).
    fn build(&self, ops: &[Op]) -> Result<Program> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let b = c.batch;
        let nb = b as u32;
        let (x, z) = (&self.x_d.buffer, &self.z.buffer);
        let (logits, dlogits, stats) = (&self.logits.buffer, &self.dlogits.buffer, &self.stats.buffer);
        // A conditional GAN's networks see [z | one-hot label] and [sample | label planes]; the
        // buffers the layers read are then these, and `x` stays the samples themselves.
        // A projection discriminator reads the samples themselves and writes 1 + classes values
        // a row into `proj`, which `project` turns into the logits (and back for the gradient).
        let cond = c.classes > 0;
        let proj = c.projection();
        let planes = cond && !proj;
        let [lf, lr, zc, xc, xrc, dxc, _, _] = &self.cond;
        let g_in = if cond { &zc.buffer } else { z };
        let (d_in, d_in_real) = if planes { (&xc.buffer, &xrc.buffer) } else { (x, &self.x_real.buffer) };
        let (dim, classes, plane) = (c.data.dim(), c.classes, c.label_plane());
        let [ext, ext_real] = [&self.proj[0].buffer, &self.proj[1].buffer];
        let (d_out, d_out_real) = if proj { (ext, ext_real) } else { (logits, &self.logits_real.buffer) };
        // (D's output from row `at` of `out`, its labels from `l_at`) → logits from `to`, rows of
        // the generated batch (labels `lf`) or the real one (`lr`: from row b after a joint
        // batch's real rows, from 0 for separate passes).
        let project = |prog: &mut Program, out: &wgpu::Buffer, labels: &wgpu::Buffer, to: &wgpu::Buffer, at: [usize; 3]| -> Result<()> {
            if proj {
                prog.push(cond::push_project(gpu, out, labels, to, b, classes, at)?);
            }
            Ok(())
        };
        let unproject = |prog: &mut Program, dl: &wgpu::Buffer, labels: &wgpu::Buffer, dout: &wgpu::Buffer, at: [usize; 3]| -> Result<()> {
            if proj {
                prog.push(cond::push_project_backward(gpu, dl, labels, dout, b, classes, at)?);
            }
            Ok(())
        };
        let mut prog = Program::default();
        for op in ops {
            match *op {
                Op::Noise { stream } => {
                    prog.push(self.randn(&self.z, b * c.z_dim(), c.seed, stream, &self.counter)?);
                    if cond {
                        let p = RngParams { n: nb, seed: c.seed, stream: stream + LABEL_STREAM, k: classes as u32, ..Default::default() };
                        prog.push(Dispatch::new(gpu, &RandomLabels { counter: &self.counter.buffer, out: &lf.buffer }, &p, Some(nb))?);
                        prog.push(cond::append(gpu, z, &lf.buffer, &zc.buffer, b, c.z_dim(), classes, 1, [0, 0, 0])?);
                    }
                }
                Op::Generate => prog.extend(self.g.forward(gpu, 0, g_in, x, b, Mode::Train)?),
                Op::Real { update } if c.separate_passes() => prog.push(self.real_batch(update, &self.x_real, 0)?),
                Op::Real { update } => prog.push(self.real_batch(update, &self.x_d, nb)?),
                Op::DiscriminateBoth { joint: true } => {
                    if planes {
                        prog.push(cond::append(gpu, x, &lf.buffer, &xc.buffer, b, dim, classes, plane, [0, 0, 0])?);
                        prog.push(cond::append(gpu, x, &lr.buffer, &xc.buffer, b, dim, classes, plane, [b, b, b])?);
                    }
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, 2 * b, Mode::Train)?);
                    project(&mut prog, ext, &lf.buffer, logits, [0, 0, 0])?;
                    project(&mut prog, ext, &lr.buffer, logits, [b, b, b])?;
                }
                Op::DiscriminateBoth { joint: false } => {
                    // Real first, then generated (the running statistics see them in that order).
                    if planes {
                        prog.push(cond::append(gpu, &self.x_real.buffer, &lr.buffer, &xrc.buffer, b, dim, classes, plane, [0, 0, 0])?);
                        prog.push(cond::append(gpu, x, &lf.buffer, &xc.buffer, b, dim, classes, plane, [0, 0, 0])?);
                    }
                    prog.extend(self.d.forward(gpu, 1, d_in_real, d_out_real, b, Mode::Train)?);
                    project(&mut prog, ext_real, &lr.buffer, &self.logits_real.buffer, [0, 0, 0])?;
                    prog.push(copy_range(gpu, &self.logits_real.buffer, 0, logits, b, b)?);
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, b, Mode::Train)?);
                    project(&mut prog, ext, &lf.buffer, logits, [0, 0, 0])?;
                }
                Op::DiscriminateFake => {
                    if planes {
                        prog.push(cond::append(gpu, x, &lf.buffer, &xc.buffer, b, dim, classes, plane, [0, 0, 0])?);
                    }
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, b, Mode::Train)?);
                    project(&mut prog, ext, &lf.buffer, logits, [0, 0, 0])?;
                }
                Op::DLoss => {
                    let lp = LossParams { n_fake: nb, n_real: nb, kind: c.loss as u32, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &GanLossD { logits, out: dlogits, stats }, &lp, None)?);
                }
                Op::DBackward { joint: true } => {
                    unproject(&mut prog, dlogits, &lf.buffer, ext, [0, 0, 0])?;
                    unproject(&mut prog, dlogits, &lr.buffer, ext, [b, b, b])?;
                    prog.extend(self.d.backward(gpu, 0, d_in, if proj { ext } else { dlogits }, None, 2 * b, Grads::Write)?);
                }
                Op::DBackward { joint: false } => {
                    prog.push(copy_range(gpu, dlogits, b, &self.dlogits_real.buffer, 0, b)?);
                    unproject(&mut prog, &self.dlogits_real.buffer, &lr.buffer, ext_real, [0, 0, 0])?;
                    unproject(&mut prog, dlogits, &lf.buffer, ext, [0, 0, 0])?;
                    let (d_real, d_fake) = if proj { (ext_real, ext) } else { (&self.dlogits_real.buffer, dlogits) };
                    prog.extend(self.d.backward(gpu, 1, d_in_real, d_real, None, b, Grads::Write)?);
                    prog.extend(self.d.backward(gpu, 0, d_in, d_fake, None, b, Grads::Add)?);
                }
                Op::DStep { update } => prog.extend(self.opt_d.step(gpu, &self.d.params, &self.d.grads, &self.counter.buffer, c.k as u32, update as u32, c.clip_d, c.lr_decay_steps)?),
                Op::GLoss => {
                    let lp = LossParams { n_fake: nb, n_real: 0, kind: c.loss as u32, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &GanLossG { logits, out: dlogits, stats }, &lp, None)?);
                }
                Op::GBackward => {
                    unproject(&mut prog, dlogits, &lf.buffer, ext, [0, 0, 0])?;
                    let dout = if proj { ext } else { dlogits };
                    if planes {
                        // The gradient of D's input is [sample part | label part]: G gets the first.
                        prog.extend(self.d.backward(gpu, 0, d_in, dout, Some(&dxc.buffer), b, Grads::None)?);
                        prog.push(cond::take(gpu, &dxc.buffer, &self.dx.buffer, b, dim + classes * plane, dim)?);
                    } else {
                        prog.extend(self.d.backward(gpu, 0, d_in, dout, Some(&self.dx.buffer), b, Grads::None)?);
                    }
                    prog.extend(self.g.backward(gpu, 0, g_in, &self.dx.buffer, None, b, Grads::Write)?);
                }
                Op::Interpolate { update } => {
                    // x̂ = ε·real + (1 − ε)·fake from the joint batch [fake; real] (no batch norm
                    // in a GP critic, so the discriminator always sees one joint batch).
                    let p = RngParams { n: nb, seed: c.seed, stream: c.interpolate_stream(update), row_offset: nb, k: 0, dim: c.data.dim() as u32, ..Default::default() };
                    let it = Interpolate { counter: &self.counter.buffer, out: &self.gp[0].buffer, a: x, b: x };
                    prog.push(Dispatch::new(gpu, &it, &p, Some(nb * c.data.dim() as u32))?);
                }
                Op::Penalty => {
                    let [xhat, logits_hat, ones, g, gbar, terms] = &self.gp;
                    prog.extend(self.d.forward(gpu, 1, &xhat.buffer, &logits_hat.buffer, b, Mode::Train)?);
                    prog.extend(self.d.backward(gpu, 1, &xhat.buffer, &ones.buffer, Some(&g.buffer), b, Grads::None)?);
                    let pp = PenaltyParams { n: nb, dim: c.data.dim() as u32, lambda: c.gp_lambda, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &PenaltyRows { g: &g.buffer, gbar: &gbar.buffer, terms: &terms.buffer }, &pp, Some(nb))?);
                    prog.push(Dispatch::new(gpu, &PenaltySum { terms: &terms.buffer, stats }, &pp, None)?);
                    prog.extend(self.d.penalty_backward(gpu, 1, &xhat.buffer, &ones.buffer, &gbar.buffer, b)?);
                }
                Op::GStep => prog.extend(self.opt_g.step(gpu, &self.g.params, &self.g.grads, &self.counter.buffer, 1, 0, 0.0, c.lr_decay_steps)?),
                Op::Advance => prog.push(Dispatch::new(gpu, &AdvanceStep { counter: &self.counter.buffer }, &(), None)?),
            }
        }
        Ok(prog)
    }

    /// The whole training step, for a host that records it into its own compute pass. Each
    /// recording advances the step counter on the GPU when it runs.
    pub fn step_program(&self) -> &Program {
        &self.step_program
    }

    /// Runs `n` training steps, each its own submission (a long step of the critic schedule,
    /// two); returns without waiting for the GPU.
    pub fn train_steps(&mut self, n: usize) {
        for _ in 0..n {
            if self.long_step() {
                self.burst_program.run(&self.gpu);
            }
            self.step_program.run(&self.gpu);
            self.steps_done += 1;
        }
    }

    /// Whether the next step is a long one of [`GanConfig::critic_burst`].
    pub fn long_step(&self) -> bool {
        self.cfg.critic_burst.is_some_and(|b| b.applies(self.steps_done))
    }

    /// Runs extra critic update `j` of a long step alone (for verification: the updates of
    /// [`recipe::burst`], before the step's own phases). Waits for the GPU.
    pub fn run_burst_phase(&mut self, j: usize) -> Result<()> {
        if j >= self.burst_ends.len() {
            return Err(Error::Shape(format!("extra critic update {j}: a long step has {}", self.burst_ends.len())));
        }
        let start = if j == 0 { 0 } else { self.burst_ends[j - 1] };
        self.burst_program.run_range(&self.gpu, start..self.burst_ends[j]);
        self.gpu.wait()
    }

    /// Runs phase `i` of the current step alone (for verification; see [`recipe::step`]: phases
    /// 0..k are the discriminator updates, phase k the generator update, which advances the step
    /// counter). Waits for the GPU.
    pub fn run_phase(&mut self, i: usize) -> Result<()> {
        self.check_phase(i)?;
        let start = if i == 0 { 0 } else { self.phase_ends[i - 1] };
        self.step_program.run_range(&self.gpu, start..self.phase_ends[i]);
        if i + 1 == self.phase_ends.len() {
            self.steps_done += 1;
        }
        self.gpu.wait()
    }

    /// Runs phase `i` with the given noise (batch, z_dim) and real batch (batch, dim) in place of
    /// its own draws: a phase of another implementation's run replayed here (PyTorch's, in
    /// tests/pytorch.rs). Waits for the GPU.
    pub fn run_phase_with(&mut self, i: usize, z: &[f32], real: Option<&[f32]>) -> Result<()> {
        self.check_phase(i)?;
        let (b, dim) = (self.cfg.batch, self.cfg.data.dim());
        self.z.write_at(&self.gpu, 0, z, b * self.cfg.z_dim())?;
        if let Some(r) = real {
            let (t, at) = if self.cfg.separate_passes() { (&self.x_real, 0) } else { (&self.x_d, b * dim) };
            t.write_at(&self.gpu, at, r, b * dim)?;
        }
        let start = if i == 0 { 0 } else { self.phase_ends[i - 1] };
        let ranges: Vec<_> = self
            .op_ranges
            .iter()
            .filter(|(op, r)| r.start >= start && r.end <= self.phase_ends[i] && !matches!(op, Op::Noise { .. } | Op::Real { .. }))
            .map(|(_, r)| r.clone())
            .collect();
        self.step_program.run_ranges(&self.gpu, &ranges);
        if i + 1 == self.phase_ends.len() {
            self.steps_done += 1;
        }
        self.gpu.wait()
    }

    /// The forward passes of the last phase run, as the CPU reference keeps them: the
    /// discriminator's (slot, tape) and, after a generator phase, the generator's.
    pub fn read_tapes(&self, g_phase: bool) -> Result<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)> {
        let (gpu, b) = (&self.gpu, self.cfg.batch);
        // What the networks read: the conditioned inputs for a conditional GAN.
        // (A projection discriminator reads the samples themselves.)
        let cond = self.cfg.classes > 0;
        let planes = cond && !self.cfg.projection();
        let (d_in, d_in_real) = if planes { (&self.cond[3], &self.cond[4]) } else { (&self.x_d, &self.x_real) };
        let g_in = if cond { &self.cond[2] } else { &self.z };
        let x = d_in.read(gpu)?;
        let mut d = Vec::new();
        if g_phase {
            d.push((0, self.d.read_tape(gpu, 0, &x, b)?));
        } else if self.cfg.separate_passes() {
            d.push((1, self.d.read_tape(gpu, 1, &d_in_real.read(gpu)?, b)?));
            d.push((0, self.d.read_tape(gpu, 0, &x, b)?));
        } else {
            d.push((0, self.d.read_tape(gpu, 0, &x, 2 * b)?));
        }
        let g = if g_phase { vec![(0, self.g.read_tape(gpu, 0, &g_in.read(gpu)?, b)?)] } else { vec![] };
        Ok((d, g))
    }

    /// The discriminator's logits of the last phase run: [generated; real] after a discriminator
    /// update, the generated batch's after the generator phase.
    pub fn read_logits(&self, g_phase: bool) -> Result<Vec<f32>> {
        let b = self.cfg.batch;
        let mut l = self.logits.read(&self.gpu)?;
        l.truncate(if g_phase { b } else { 2 * b });
        Ok(l)
    }

    fn check_phase(&self, i: usize) -> Result<()> {
        if i >= self.phase_ends.len() {
            return Err(Error::Shape(format!("phase {i}: a step has {} phases (k discriminator updates, then the generator)", self.phase_ends.len())));
        }
        Ok(())
    }

    /// The critic's pass on the interpolates of the last discriminator update (WGAN-GP), as
    /// the CPU reference keeps it.
    pub fn read_gp_tape(&self) -> Result<Tape> {
        self.d.read_tape(&self.gpu, 1, &self.gp[0].read(&self.gpu)?, self.cfg.batch)
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
        let v = self.stats.read(&self.gpu)?;
        let s: Stats = *bytemuck::from_bytes(bytemuck::cast_slice(&v));
        if s.values().iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "training diverged at step {}: losses/statistics {s:?}; lower the learning rates",
                self.steps_done
            )));
        }
        Ok(s)
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
        let mut g_in = &self.z_sample.buffer;
        if self.cfg.classes > 0 {
            // The labels of the last [`GpuGan::set_sample_labels`] (by default the classes in
            // order, row by row of a grid: see [`grid_labels`]).
            let [_, _, _, _, _, _, labels, zc] = &self.cond;
            prog.push(cond::append(&self.gpu, g_in, &labels.buffer, &zc.buffer, n, self.cfg.z_dim(), self.cfg.classes, 1, [0, 0, 0])?);
            g_in = &zc.buffer;
        }
        prog.extend(self.g.forward(&self.gpu, SAMPLE_SLOT, g_in, &self.samples.buffer, n, mode)?);
        Ok(prog)
    }

    /// The labels the sampler conditions on (conditional GANs): one per sample, < classes.
    pub fn set_sample_labels(&self, labels: &[u32]) -> Result<()> {
        if self.cfg.classes == 0 || labels.len() > self.sample_capacity || labels.iter().any(|&l| l as usize >= self.cfg.classes) {
            return Err(Error::Shape(format!("{} labels for a sampler of {} samples and {} classes", labels.len(), self.sample_capacity, self.cfg.classes)));
        }
        let v: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        self.cond[6].write_at(&self.gpu, 0, &v, v.len())
    }

    /// n generated samples (n, dim) from the fixed sampling noise of `seed`, read back.
    /// (A conditional GAN's samples are conditioned on [`super::grid_labels`]`(n, classes)`.)
    pub fn sample(&self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        if self.cfg.classes > 0 && n <= self.sample_capacity {
            self.set_sample_labels(&super::grid_labels(n, self.cfg.classes))?;
        }
        self.sample_program(n, seed, mode)?.run(&self.gpu);
        let mut v = self.samples.read(&self.gpu)?;
        v.truncate(n * self.cfg.data.dim());
        Ok(v)
    }
}
