//! A GAN training step on the GPU, built once as a [`Program`] and submitted as one command buffer.

use super::recipe::{self, Op};
use super::dist::Shard;
use super::{DataSource, GanConfig, GanState, SAMPLE_STREAM};
use crate::data::stream::{Prefetcher, StepPlan, Stream};
use crate::error::{Error, Result};
use crate::gpu::{fetch, Dispatch, Gpu, Program, Tensor};
use crate::loss::{GanLossD, GanLossG, LossParams, PenaltyParams, PenaltyRows, PenaltySum, Stats};
use crate::nn::{copy_range, GpuNet, Grads, Mode, Tape};
use crate::optim::GpuOptimizer;
use crate::rng::{AdvanceStep, GatherLabeled, GatherRows, Interpolate, MixtureLabeled, MixtureSample, RandnFill, RandomLabels, RngParams};
use super::cond;

/// Added to a noise stream for the generated samples' labels (conditional GANs).
pub(crate) const LABEL_STREAM: u32 = 0x2000_0000;

/// The generator's slot for sampling (slot 0 holds the training pass).
const SAMPLE_SLOT: usize = 1;

/// A GAN training step on the GPU: the two networks and their optimizers, and the named parts
/// the step is built from.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
/// let gpu = Gpu::new()?;
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 32);   // R1, narrower
/// cfg.batch = 64;
/// let (g, d) = cfg.init_params();
/// let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 100)?;    // can sample up to 100 points at once
/// gan.train_steps(5);                                    // submitted, nothing read back
/// assert_eq!(gan.steps_done(), 5);
/// assert!(gan.stats()?.d_loss.is_finite());              // waits for the GPU
/// assert_eq!(gan.sample(100, 7, Mode::Eval)?.len(), 200);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuGan {
    pub gpu: Gpu,
    pub cfg: GanConfig,
    pub g: GpuNet,
    pub d: GpuNet,
    opt: Optimizers,
    clock: Clock,
    io: StepBuffers,
    /// WGAN-GP only.
    penalty: Option<PenaltyBuffers>,
    /// Conditional GANs only.
    cond: Option<CondBuffers>,
    /// A projection discriminator only.
    proj: Option<ProjBuffers>,
    program: StepProgram,
    sampler: Sampler,
    /// Streamed data only.
    feed: Option<Feed>,
    /// Which rows of a data-parallel run's global batch this process draws (all of them alone).
    shard: Shard,
}

/// Streamed data ([`DataSource::Stream`]): the rows of the coming steps read ahead on background
/// threads, and the staging belt (wgpu's ring of mapped upload buffers, handed back as the GPU
/// finishes each copy) through which each step's rows reach `StepBuffers::table` at the start
/// of the step's submission, while the previous step may still run.
struct Feed {
    stream: Stream,
    plan: StepPlan,
    prefetch: Option<Prefetcher>,
    belt: wgpu::util::StagingBelt,
    /// Submitted steps whose upload may still hold a staging buffer, oldest first: at most
    /// [`STEPS_IN_FLIGHT`], so that the staging memory is bounded however many steps
    /// [`GpuGan::train_steps`] is asked for at once.
    in_flight: std::collections::VecDeque<wgpu::SubmissionIndex>,
    /// The first failure to read rows: training stops there and [`GpuGan::stats`] returns it
    /// (until a state is loaded).
    error: Option<String>,
}

/// Streamed steps submitted and not yet finished, at most (each holds its rows in a staging
/// buffer until the GPU has copied them).
///
/// ```
/// use wgpu_gan::{data::stream::StepPlan, gan::STEPS_IN_FLIGHT};
/// // The most a run streaming 28 × 28 images at batch 64 (k = 1) holds in upload buffers:
/// let plan = StepPlan { seed: 0, draws: 1, batch: 64, ..Default::default() };
/// let bytes = STEPS_IN_FLIGHT * plan.len(28 * 28) * 4;
/// assert_eq!(bytes, 3 * 64 * 784 * 4);                 // about 0.6 MB
/// ```
pub const STEPS_IN_FLIGHT: usize = 3;

impl Feed {
    /// The rows of step `step`, from the prefetcher (restarted there if it was elsewhere: after
    /// a checkpoint was loaded, or on the first step).
    fn rows(&mut self, step: u64) -> Result<Vec<f32>> {
        if self.prefetch.as_ref().is_none_or(|p| p.next_step() != step) {
            self.prefetch = None; // stops the old workers first
            self.prefetch = Some(Prefetcher::start(self.stream.source.clone(), self.plan, step, self.stream.prefetch));
        }
        self.prefetch.as_mut().expect("started above").next_rows()
    }
}

struct Optimizers {
    g: GpuOptimizer,
    d: GpuOptimizer,
}

/// The step counter: `counter[0]` on the GPU (the kernels read it), and the host's count of the
/// steps it has submitted.
struct Clock {
    counter: Tensor,
    steps_done: u64,
}

/// What one step reads and writes besides the networks.
struct StepBuffers {
    z: Tensor,
    /// Generated batch, rows [0, batch); with one joint discriminator pass also the real batch in
    /// rows [batch, 2·batch).
    x_d: Tensor,
    /// Real batch for separate discriminator passes (one element otherwise).
    x_real: Tensor,
    logits: Tensor,
    dlogits: Tensor,
    /// Real half of the logits / their gradient for separate passes.
    logits_real: Tensor,
    dlogits_real: Tensor,
    /// The gradient G receives at its output.
    dx: Tensor,
    /// The step's losses and statistics ([`Stats`]).
    stats: Tensor,
    /// Mixture centres or the data table, and the table's labels (conditional GANs).
    table: Tensor,
    table_labels: Option<Tensor>,
}

/// WGAN-GP: the interpolates x̂, the critic's outputs on them, a row of ones (the gradient of
/// each output with respect to itself), the gradient g at x̂, the penalty's gradient ḡ with
/// respect to it, and the per-sample penalty terms.
struct PenaltyBuffers {
    xhat: Tensor,
    logits: Tensor,
    ones: Tensor,
    g: Tensor,
    gbar: Tensor,
    terms: Tensor,
}

/// A conditional GAN: the generated and the real batch's labels (real ones at the real rows'
/// offset), the generator's input [z | one-hot], the discriminator's inputs [sample | label
/// planes] (joint or generated half, and real half), its input gradient, and the sampler's labels
/// and input.
struct CondBuffers {
    labels_fake: Tensor,
    labels_real: Tensor,
    zc: Tensor,
    x: Tensor,
    x_real: Tensor,
    dx: Tensor,
    labels_sample: Tensor,
    zc_sample: Tensor,
}

/// A projection discriminator's outputs (rows of 1 + classes: [`cond::project`]) for the joint
/// or generated pass and for the real pass, overwritten by their gradients in the backward pass.
struct ProjBuffers {
    ext: Tensor,
    ext_real: Tensor,
}

/// The step, built once.
struct StepProgram {
    step: Program,
    /// Where each phase of the step (each discriminator update, then the generator phase) ends
    /// in `step`, for verifying each against the CPU reference on its own.
    phase_ends: Vec<usize>,
    /// Each operation of the step and its dispatches in `step`.
    op_ranges: Vec<(Op, std::ops::Range<usize>)>,
    /// The extra critic updates of a long step ([`GanConfig::critic_burst`]; empty without one),
    /// run before `step`, and where each of them ends.
    burst: Program,
    burst_ends: Vec<usize>,
    /// Where each optimizer launch starts in `step` and in `burst`, and whether it updates the
    /// generator: a data-parallel run sums the gradients over its ranks there.
    step_updates: Vec<(usize, bool)>,
    burst_updates: Vec<(usize, bool)>,
}

/// Where each optimizer launch of a program starts (its operations' dispatch ranges), and
/// whether it is the generator's.
fn updates(ops: &[(Op, std::ops::Range<usize>)]) -> Vec<(usize, bool)> {
    ops.iter()
        .filter_map(|(op, r)| match op {
            Op::DStep { .. } => Some((r.start, false)),
            Op::GStep => Some((r.start, true)),
            _ => None,
        })
        .collect()
}

/// Generating samples from fixed noise: at most `capacity` at once, into `samples`.
struct Sampler {
    capacity: usize,
    /// Always 0: the sampler's noise does not depend on the step.
    zero_counter: Tensor,
    z: Tensor,
    /// The generator's output for the last [`GpuGan::sample_program`] run, (capacity, dim).
    samples: Tensor,
}

impl GpuGan {
    /// Builds every buffer, pipeline, bind group and the step program. `sample_capacity` bounds the
    /// number of samples one [`GpuGan::sample`] call can generate.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// let gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// assert_eq!((gan.steps_done(), gan.sample_capacity()), (0, 8));
    /// cfg.batch = 0;
    /// assert!(GpuGan::new(&gpu, cfg, &g, &d, 8).is_err()); // the config is checked first
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &Gpu, cfg: GanConfig, g_params: &[Vec<f32>], d_params: &[Vec<f32>], sample_capacity: usize) -> Result<GpuGan> {
        GpuGan::new_shard(gpu, cfg, g_params, d_params, sample_capacity, Shard::ALONE)
    }

    /// [`GpuGan::new`] for one rank of a data-parallel run: `cfg.batch` is this rank's share of
    /// the global batch of `shard.ranks · cfg.batch`, and its noise and real rows are those rows
    /// of that batch (see [`super::dist`]).
    pub(crate) fn new_shard(gpu: &Gpu, cfg: GanConfig, g_params: &[Vec<f32>], d_params: &[Vec<f32>], sample_capacity: usize, shard: Shard) -> Result<GpuGan> {
        cfg.validate()?;
        shard.check(&cfg)?;
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
        let opt_g = GpuOptimizer::new(gpu, cfg.opt_g, &g.params, "G.opt")?;
        let opt_d = GpuOptimizer::new(gpu, cfg.opt_d, &d.params, "D.opt")?;
        let table_labels = match &cfg.data {
            DataSource::Table(t) if cfg.classes > 0 => Some(Tensor::from_slice(gpu, "data.labels", t.labels.as_deref().unwrap_or(&[0]))?),
            _ => None,
        };
        let (table, feed) = match &cfg.data {
            DataSource::Mixture(m) => (Tensor::from_slice(gpu, "centres", &m.flat_centres())?, None),
            DataSource::Table(t) => (Tensor::from_slice(gpu, "data", &t.rows)?, None),
            DataSource::Stream(s) => {
                let (first, total) = shard.rows(b as u32);
                let plan = StepPlan { seed: cfg.seed, draws: cfg.k, batch: b, first: first as usize, total: total as usize };
                let len = plan.len(dim);
                let belt = wgpu::util::StagingBelt::new(gpu.device.clone(), (len * 4) as u64);
                (Tensor::zeros(gpu, "stream.step_rows", len)?, Some(Feed { stream: s.clone(), plan, prefetch: None, belt, in_flight: Default::default(), error: None }))
            }
        };
        let io = StepBuffers {
            z: Tensor::zeros(gpu, "z", b * zd)?,
            x_d: Tensor::zeros(gpu, "x_d", 2 * b * dim)?,
            x_real: Tensor::zeros(gpu, "x_real", if sep { b * dim } else { 1 })?,
            logits: Tensor::zeros(gpu, "logits", 2 * b)?,
            dlogits: Tensor::zeros(gpu, "dlogits", 2 * b)?,
            logits_real: Tensor::zeros(gpu, "logits_real", b)?,
            dlogits_real: Tensor::zeros(gpu, "dlogits_real", b)?,
            dx: Tensor::zeros(gpu, "dx", b * dim)?,
            stats: Tensor::zeros(gpu, "stats", std::mem::size_of::<Stats>() / 4)?,
            table,
            table_labels,
        };
        let penalty = if gp {
            Some(PenaltyBuffers {
                xhat: Tensor::zeros(gpu, "gp.xhat", b * dim)?,
                logits: Tensor::zeros(gpu, "gp.logits", b)?,
                ones: Tensor::from_slice(gpu, "gp.ones", &vec![1.0f32; b])?,
                g: Tensor::zeros(gpu, "gp.g", b * dim)?,
                gbar: Tensor::zeros(gpu, "gp.gbar", b * dim)?,
                terms: Tensor::zeros(gpu, "gp.terms", b)?,
            })
        } else {
            None
        };
        let (c, dd) = (cfg.classes, cfg.discriminator.in_dim());
        let cond = if c > 0 {
            Some(CondBuffers {
                labels_fake: Tensor::zeros(gpu, "cond.labels_fake", b)?,
                labels_real: Tensor::zeros(gpu, "cond.labels_real", 2 * b)?,
                zc: Tensor::zeros(gpu, "cond.zc", b * (zd + c))?,
                x: Tensor::zeros(gpu, "cond.x", 2 * b * dd)?,
                x_real: Tensor::zeros(gpu, "cond.x_real", b * dd)?,
                dx: Tensor::zeros(gpu, "cond.dx", b * dd)?,
                labels_sample: Tensor::zeros(gpu, "cond.labels_sample", sample_capacity)?,
                zc_sample: Tensor::zeros(gpu, "cond.zc_sample", sample_capacity * (zd + c))?,
            })
        } else {
            None
        };
        let proj = if cfg.projection() {
            let w = 1 + cfg.classes;
            Some(ProjBuffers { ext: Tensor::zeros(gpu, "proj.ext", 2 * b * w)?, ext_real: Tensor::zeros(gpu, "proj.ext_real", b * w)? })
        } else {
            None
        };
        let sampler = Sampler {
            capacity: sample_capacity,
            zero_counter: Tensor::from_slice(gpu, "zero_counter", &[0u32])?,
            z: Tensor::zeros(gpu, "z_sample", sample_capacity * zd)?,
            samples: Tensor::zeros(gpu, "samples", sample_capacity * dim)?,
        };
        let program = StepProgram {
            step: Program::default(),
            phase_ends: Vec::new(),
            op_ranges: Vec::new(),
            burst: Program::default(),
            burst_ends: Vec::new(),
            step_updates: Vec::new(),
            burst_updates: Vec::new(),
        };
        let mut gan = GpuGan {
            clock: Clock { counter: Tensor::from_slice(gpu, "counter", &[0u32])?, steps_done: 0 },
            io,
            penalty,
            cond,
            proj,
            program,
            sampler,
            feed,
            shard,
            gpu: gpu.clone(),
            cfg,
            g,
            d,
            opt: Optimizers { g: opt_g, d: opt_d },
        };
        let mut step = Program::default();
        for ops in recipe::step(&gan.cfg) {
            for op in ops {
                let start = step.dispatches.len();
                step.extend(gan.build(&[op])?);
                gan.program.op_ranges.push((op, start..step.dispatches.len()));
            }
            gan.program.phase_ends.push(step.dispatches.len());
        }
        gan.program.step_updates = updates(&gan.program.op_ranges);
        gan.program.step = step;
        let mut burst = Program::default();
        let mut burst_ops = Vec::new();
        for ops in recipe::burst(&gan.cfg) {
            for op in ops {
                let start = burst.dispatches.len();
                burst.extend(gan.build(&[op])?);
                burst_ops.push((op, start..burst.dispatches.len()));
            }
            gan.program.burst_ends.push(burst.dispatches.len());
        }
        gan.program.burst_updates = updates(&burst_ops);
        gan.program.burst = burst;
        if gan.cond.is_some() {
            gan.set_sample_labels(&super::grid_labels(sample_capacity, gan.cfg.classes))?;
        }
        Ok(gan)
    }

    /// `n` normals into `out`: this rank's share of a step's (`sharded`; each invocation draws
    /// a pair, and n is even on a rank), or all of them (the sampler's fixed noise).
    fn randn(&self, out: &Tensor, n: usize, seed: u32, stream: u32, counter: &Tensor, sharded: bool) -> Result<Dispatch> {
        let first = if sharded { (self.shard.rank * n / 2) as u32 } else { 0 };
        let p = RngParams { n: n as u32, seed, stream, first, ..Default::default() };
        Dispatch::new(&self.gpu, &RandnFill { counter: &counter.buffer, out: &out.buffer }, &p, Some((n as u32).div_ceil(2)))
    }

    /// Real samples of D update `i` into `out` from row `row_offset`.
    fn real_batch(&self, i: usize, out: &Tensor, row_offset: u32) -> Result<Dispatch> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let nb = c.batch as u32;
        let (first, total) = self.shard.rows(nb);
        let (centres, counter, out) = (&self.io.table.buffer, &self.clock.counter.buffer, &out.buffer);
        match &c.data {
            DataSource::Mixture(m) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: c.noise_stream(Some(i)) + 1, k: m.centres.len() as u32, row_offset, sigma: m.sigma, first, ..Default::default() };
                if let Some(k) = &self.cond {
                    return Dispatch::new(gpu, &MixtureLabeled { centres, counter, out, out_labels: &k.labels_real.buffer }, &rp, Some(nb));
                }
                Dispatch::new(gpu, &MixtureSample { centres, counter, out }, &rp, Some(nb))
            }
            DataSource::Table(t) => {
                let rp = RngParams { n: nb, seed: c.seed, stream: i as u32, k: t.count as u32, row_offset, sigma: 0.0, dim: t.dim as u32, per_step: c.k as u32, first, total, ..Default::default() };
                if let (Some(k), Some(labels)) = (&self.cond, &self.io.table_labels) {
                    let g = GatherLabeled { centres, counter, out, labels: &labels.buffer, out_labels: &k.labels_real.buffer };
                    return Dispatch::new(gpu, &g, &rp, Some(nb * t.dim as u32));
                }
                Dispatch::new(gpu, &GatherRows { entry: "gather_rows", centres, counter, out }, &rp, Some(nb * t.dim as u32))
            }
            // The step's rows are uploaded before it (draw after draw): a copy of draw i's.
            DataSource::Stream(s) => {
                let n = c.batch * s.source.dim();
                copy_range(gpu, centres, i * n, out, row_offset as usize * s.source.dim(), n)
            }
        }
    }

    /// The dispatches of a list of recipe operations (see [`recipe::Op`]).
    fn build(&self, ops: &[Op]) -> Result<Program> {
        let (gpu, c) = (&self.gpu, &self.cfg);
        let b = c.batch;
        let nb = b as u32;
        let io = &self.io;
        let (x, z) = (&io.x_d.buffer, &io.z.buffer);
        let (logits, dlogits, stats) = (&io.logits.buffer, &io.dlogits.buffer, &io.stats.buffer);
        let counter = &self.clock.counter.buffer;
        // A conditional GAN's networks see [z | one-hot label] and [sample | label planes]; the
        // buffers the layers read are then these, and `x` stays the samples themselves.
        // A projection discriminator reads the samples themselves and writes 1 + classes values
        // a row into `proj`, which `project` turns into the logits (and back for the gradient).
        let cn = self.cond.as_ref();
        let proj = self.proj.is_some();
        // Label planes: a conditional GAN whose discriminator is not a projection one.
        let planes = cn.filter(|_| !proj);
        // The generated and the real batch's labels (conditional GANs).
        let (lf, lr) = (cn.map(|k| &k.labels_fake.buffer), cn.map(|k| &k.labels_real.buffer));
        let g_in = cn.map_or(z, |k| &k.zc.buffer);
        let (d_in, d_in_real) = planes.map_or((x, &io.x_real.buffer), |k| (&k.x.buffer, &k.x_real.buffer));
        let (dim, classes, plane) = (c.data.dim(), c.classes, c.label_plane());
        let (d_out, d_out_real) = self.proj.as_ref().map_or((logits, &io.logits_real.buffer), |p| (&p.ext.buffer, &p.ext_real.buffer));
        // (D's output from row `at` of `out`, its labels from `l_at`) → logits from `to`, rows of
        // the generated batch (labels `lf`) or the real one (`lr`: from row b after a joint
        // batch's real rows, from 0 for separate passes).
        let project = |prog: &mut Program, out: &wgpu::Buffer, labels: Option<&wgpu::Buffer>, to: &wgpu::Buffer, at: [usize; 3]| -> Result<()> {
            if let (true, Some(labels)) = (proj, labels) {
                prog.push(cond::push_project(gpu, out, labels, to, b, classes, at)?);
            }
            Ok(())
        };
        let unproject = |prog: &mut Program, dl: &wgpu::Buffer, labels: Option<&wgpu::Buffer>, dout: &wgpu::Buffer, at: [usize; 3]| -> Result<()> {
            if let (true, Some(labels)) = (proj, labels) {
                prog.push(cond::push_project_backward(gpu, dl, labels, dout, b, classes, at)?);
            }
            Ok(())
        };
        let mut prog = Program::default();
        for op in ops {
            match *op {
                Op::Noise { stream } => {
                    prog.push(self.randn(&io.z, b * c.z_dim(), c.seed, stream, &self.clock.counter, true)?);
                    if let Some(k) = cn {
                        let p = RngParams { n: nb, seed: c.seed, stream: stream + LABEL_STREAM, k: classes as u32, first: self.shard.rows(nb).0, ..Default::default() };
                        prog.push(Dispatch::new(gpu, &RandomLabels { counter, out: &k.labels_fake.buffer }, &p, Some(nb))?);
                        prog.push(cond::append(gpu, z, &k.labels_fake.buffer, &k.zc.buffer, b, c.z_dim(), classes, 1, [0, 0, 0])?);
                    }
                }
                Op::Generate => prog.extend(self.g.forward(gpu, 0, g_in, x, b, Mode::Train)?),
                Op::Real { update } if c.separate_passes() => prog.push(self.real_batch(update, &io.x_real, 0)?),
                Op::Real { update } => prog.push(self.real_batch(update, &io.x_d, nb)?),
                Op::DiscriminateBoth { joint: true } => {
                    if let Some(k) = planes {
                        prog.push(cond::append(gpu, x, &k.labels_fake.buffer, &k.x.buffer, b, dim, classes, plane, [0, 0, 0])?);
                        prog.push(cond::append(gpu, x, &k.labels_real.buffer, &k.x.buffer, b, dim, classes, plane, [b, b, b])?);
                    }
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, 2 * b, Mode::Train)?);
                    project(&mut prog, d_out, lf, logits, [0, 0, 0])?;
                    project(&mut prog, d_out, lr, logits, [b, b, b])?;
                }
                Op::DiscriminateBoth { joint: false } => {
                    // Real first, then generated (the running statistics see them in that order).
                    if let Some(k) = planes {
                        prog.push(cond::append(gpu, &io.x_real.buffer, &k.labels_real.buffer, &k.x_real.buffer, b, dim, classes, plane, [0, 0, 0])?);
                        prog.push(cond::append(gpu, x, &k.labels_fake.buffer, &k.x.buffer, b, dim, classes, plane, [0, 0, 0])?);
                    }
                    prog.extend(self.d.forward(gpu, 1, d_in_real, d_out_real, b, Mode::Train)?);
                    project(&mut prog, d_out_real, lr, &io.logits_real.buffer, [0, 0, 0])?;
                    prog.push(copy_range(gpu, &io.logits_real.buffer, 0, logits, b, b)?);
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, b, Mode::Train)?);
                    project(&mut prog, d_out, lf, logits, [0, 0, 0])?;
                }
                Op::DiscriminateFake => {
                    if let Some(k) = planes {
                        prog.push(cond::append(gpu, x, &k.labels_fake.buffer, &k.x.buffer, b, dim, classes, plane, [0, 0, 0])?);
                    }
                    prog.extend(self.d.forward(gpu, 0, d_in, d_out, b, Mode::Train)?);
                    project(&mut prog, d_out, lf, logits, [0, 0, 0])?;
                }
                Op::DLoss => {
                    let lp = LossParams { n_fake: nb, n_real: nb, kind: c.loss as u32, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &GanLossD { logits, out: dlogits, stats }, &lp, None)?);
                }
                Op::DBackward { joint: true } => {
                    unproject(&mut prog, dlogits, lf, d_out, [0, 0, 0])?;
                    unproject(&mut prog, dlogits, lr, d_out, [b, b, b])?;
                    prog.extend(self.d.backward(gpu, 0, d_in, if proj { d_out } else { dlogits }, None, 2 * b, Grads::Write)?);
                }
                Op::DBackward { joint: false } => {
                    prog.push(copy_range(gpu, dlogits, b, &io.dlogits_real.buffer, 0, b)?);
                    unproject(&mut prog, &io.dlogits_real.buffer, lr, d_out_real, [0, 0, 0])?;
                    unproject(&mut prog, dlogits, lf, d_out, [0, 0, 0])?;
                    let (d_real, d_fake) = if proj { (d_out_real, d_out) } else { (&io.dlogits_real.buffer, dlogits) };
                    prog.extend(self.d.backward(gpu, 1, d_in_real, d_real, None, b, Grads::Write)?);
                    prog.extend(self.d.backward(gpu, 0, d_in, d_fake, None, b, Grads::Add)?);
                }
                Op::DStep { update } => prog.extend(self.opt.d.step(gpu, &self.d.params, &self.d.grads, counter, c.k as u32, update as u32, c.clip_d, c.lr_decay_steps)?),
                Op::GLoss => {
                    let lp = LossParams { n_fake: nb, n_real: 0, kind: c.loss as u32, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &GanLossG { logits, out: dlogits, stats }, &lp, None)?);
                }
                Op::GBackward => {
                    unproject(&mut prog, dlogits, lf, d_out, [0, 0, 0])?;
                    let dout = if proj { d_out } else { dlogits };
                    if let Some(k) = planes {
                        // The gradient of D's input is [sample part | label part]: G gets the first.
                        prog.extend(self.d.backward(gpu, 0, d_in, dout, Some(&k.dx.buffer), b, Grads::None)?);
                        prog.push(cond::take(gpu, &k.dx.buffer, &io.dx.buffer, b, dim + classes * plane, dim)?);
                    } else {
                        prog.extend(self.d.backward(gpu, 0, d_in, dout, Some(&io.dx.buffer), b, Grads::None)?);
                    }
                    prog.extend(self.g.backward(gpu, 0, g_in, &io.dx.buffer, None, b, Grads::Write)?);
                }
                Op::Interpolate { update } => {
                    // x̂ = ε·real + (1 − ε)·fake from the joint batch [fake; real] (no batch norm
                    // in a GP critic, so the discriminator always sees one joint batch).
                    let p = RngParams { n: nb, seed: c.seed, stream: c.interpolate_stream(update), row_offset: nb, k: 0, dim: c.data.dim() as u32, first: self.shard.rows(nb).0, ..Default::default() };
                    let it = Interpolate { counter, out: &self.penalty()?.xhat.buffer, a: x, b: x };
                    prog.push(Dispatch::new(gpu, &it, &p, Some(nb * c.data.dim() as u32))?);
                }
                Op::Penalty => {
                    let PenaltyBuffers { xhat, logits: logits_hat, ones, g, gbar, terms } = self.penalty()?;
                    prog.extend(self.d.forward(gpu, 1, &xhat.buffer, &logits_hat.buffer, b, Mode::Train)?);
                    prog.extend(self.d.backward(gpu, 1, &xhat.buffer, &ones.buffer, Some(&g.buffer), b, Grads::None)?);
                    let pp = PenaltyParams { n: nb, dim: c.data.dim() as u32, lambda: c.gp_lambda, _pad: 0 };
                    prog.push(Dispatch::new(gpu, &PenaltyRows { g: &g.buffer, gbar: &gbar.buffer, terms: &terms.buffer }, &pp, Some(nb))?);
                    prog.push(Dispatch::new(gpu, &PenaltySum { terms: &terms.buffer, stats }, &pp, None)?);
                    prog.extend(self.d.penalty_backward(gpu, 1, &xhat.buffer, &ones.buffer, &gbar.buffer, b)?);
                }
                Op::GStep => prog.extend(self.opt.g.step(gpu, &self.g.params, &self.g.grads, counter, 1, 0, 0.0, c.lr_decay_steps)?),
                Op::Advance => prog.push(Dispatch::new(gpu, &AdvanceStep { counter }, &(), None)?),
            }
        }
        Ok(prog)
    }

    /// WGAN-GP's buffers (an error without a gradient penalty: a recipe asked for them wrongly).
    fn penalty(&self) -> Result<&PenaltyBuffers> {
        self.penalty.as_ref().ok_or_else(|| Error::Shape("the gradient penalty's buffers exist only with --loss wgan-gp".into()))
    }

    /// The whole training step, for a host that records it into its own compute pass. Each
    /// recording advances the step counter on the GPU when it runs.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.step_program().run(&gpu);                         // recorded and run by the host
    /// assert_eq!(gan.read_state()?.step, 1);                // the GPU's counter advanced
    /// assert_eq!(gan.step_program().dispatches.len(), gan.dispatches_per_step());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn step_program(&self) -> &Program {
        &self.program.step
    }

    /// The extra critic updates of a long step (empty without [`GanConfig::critic_burst`]).
    pub(crate) fn burst_program(&self) -> &Program {
        &self.program.burst
    }

    /// Each operation of the step and its launches.
    pub(crate) fn step_ops(&self) -> &[(Op, std::ops::Range<usize>)] {
        &self.program.op_ranges
    }

    /// Where the optimizer launches of the step start, and whether each is the generator's.
    pub(crate) fn step_updates(&self) -> &[(usize, bool)] {
        &self.program.step_updates
    }

    /// The same for the extra critic updates.
    pub(crate) fn burst_updates(&self) -> &[(usize, bool)] {
        &self.program.burst_updates
    }

    /// With streamed data, the rows of the next step into the step's table (read ahead by the
    /// prefetcher; for a step that a data-parallel run submits itself).
    pub(crate) fn upload_rows(&mut self) -> Result<()> {
        let step = self.clock.steps_done;
        if let Some(f) = &mut self.feed {
            let rows = f.rows(step).map_err(|e| Error::Data(format!("training stopped: the real samples of step {}: {e}", step + 1)))?;
            self.io.table.write(&self.gpu, &rows)?;
        }
        Ok(())
    }

    /// Counts a step that a data-parallel run ([`super::dist`]) submitted itself.
    pub(crate) fn count_step(&mut self) {
        self.clock.steps_done += 1;
    }

    /// Runs `n` training steps, each its own submission (a long step of the critic schedule,
    /// two); returns without waiting for the GPU.
    ///
    /// With streamed data each step first takes its rows from the prefetcher (waiting for them
    /// if the workers are behind); if they cannot be read, training stops at that step and the
    /// next [`GpuGan::stats`] returns the error.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.train_steps(2);
    /// assert_eq!(gan.steps_done(), 2);
    /// assert_eq!(gan.read_state()?.step, 2);                // waits for the GPU
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn train_steps(&mut self, n: usize) {
        for _ in 0..n {
            if self.long_step() {
                self.program.burst.run(&self.gpu);
            }
            match &mut self.feed {
                None => self.program.step.run(&self.gpu),
                Some(f) => {
                    if f.error.is_some() {
                        return;
                    }
                    let rows = match f.rows(self.clock.steps_done) {
                        Ok(r) => r,
                        Err(e) => {
                            f.error = Some(format!("step {}: {e}", self.clock.steps_done + 1));
                            return;
                        }
                    };
                    // The oldest step still running, if too many are: waited for, so that its
                    // staging buffer comes back before this step takes one.
                    while f.in_flight.len() >= STEPS_IN_FLIGHT {
                        let oldest = f.in_flight.pop_front().expect("not empty");
                        let _ = self.gpu.device.poll(wgpu::PollType::Wait { submission_index: Some(oldest), timeout: None });
                    }
                    let (target, belt) = (&self.io.table.buffer, &mut f.belt);
                    let submitted = self.program.step.run_after(&self.gpu, |enc| {
                        let bytes: &[u8] = bytemuck::cast_slice(&rows);
                        let size = wgpu::BufferSize::new(bytes.len() as u64).expect("a step reads rows");
                        belt.write_buffer(enc, target, 0, size).copy_from_slice(bytes);
                        belt.finish();
                    });
                    f.in_flight.push_back(submitted);
                    f.belt.recall();
                    // Lets the belt take back the buffers of copies the GPU has finished (else it
                    // would make new ones until the next wait), without waiting.
                    let _ = self.gpu.device.poll(wgpu::PollType::Poll);
                }
            }
            self.clock.steps_done += 1;
        }
    }

    /// Whether the next step is a long one of [`GanConfig::critic_burst`].
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CriticBurst, GanConfig, GpuGan}, gpu::Gpu};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8).wgan_clip(0.01, 1, 5e-5);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// cfg.critic_burst = Some(CriticBurst { k: 2, first: 1, every: 0 }); // step 0 only
    /// let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 8)?;
    /// assert!(gan.long_step());
    /// gan.train_steps(1);
    /// assert!(!gan.long_step());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn long_step(&self) -> bool {
        self.cfg.critic_burst.is_some_and(|b| b.applies(self.clock.steps_done))
    }

    /// Runs extra critic update `j` of a long step alone (for verification: the updates of
    /// [`recipe::burst`], before the step's own phases). Waits for the GPU.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{CriticBurst, GanConfig, GpuGan}, gpu::Gpu};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8).wgan_clip(0.01, 1, 5e-5);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// cfg.critic_burst = Some(CriticBurst { k: 2, first: 1, every: 0 }); // 2 updates, not 1
    /// let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 8)?;
    /// gan.run_burst_phase(0)?;                              // the one extra update
    /// assert!(gan.run_burst_phase(1).is_err());
    /// assert_ne!(gan.read_state()?.d, d);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_burst_phase(&mut self, j: usize) -> Result<()> {
        let p = &self.program;
        if j >= p.burst_ends.len() {
            return Err(Error::Shape(format!("extra critic update {j}: a long step has {}", p.burst_ends.len())));
        }
        let start = if j == 0 { 0 } else { p.burst_ends[j - 1] };
        p.burst.run_range(&self.gpu, start..p.burst_ends[j]);
        self.gpu.wait()
    }

    /// Runs phase `i` of the current step alone (for verification; see [`recipe::step`]: phases
    /// 0..k are the discriminator updates, phase k the generator update, which advances the step
    /// counter). Waits for the GPU.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;                                    // the D update (k = 1)
    /// assert_eq!(gan.steps_done(), 0);
    /// gan.run_phase(1)?;                                    // the G update ends the step
    /// assert_eq!(gan.steps_done(), 1);
    /// assert!(gan.run_phase(2).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_phase(&mut self, i: usize) -> Result<()> {
        self.check_phase(i)?;
        if let (Some(f), 0) = (&self.feed, i) {
            // The step's rows, read here and now (the prefetcher serves whole steps).
            let mut rows = Vec::new();
            f.plan.read(f.stream.source.as_ref(), self.clock.steps_done, &mut rows)?;
            self.io.table.write(&self.gpu, &rows)?;
        }
        let p = &self.program;
        let start = if i == 0 { 0 } else { p.phase_ends[i - 1] };
        p.step.run_range(&self.gpu, start..p.phase_ends[i]);
        if i + 1 == p.phase_ends.len() {
            self.clock.steps_done += 1;
        }
        self.gpu.wait()
    }

    /// Runs phase `i` with the given noise (batch, z_dim) and real batch (batch, dim) in place of
    /// its own draws: a phase of another implementation's run replayed here (PyTorch's, in
    /// tests/pytorch.rs). Waits for the GPU.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let (z, real) = (vec![0.5; 4 * 2], vec![1.0; 4 * 2]); // batch 4, z_dim 2, points of 2
    /// gan.run_phase_with(0, &z, Some(&real))?;
    /// assert_eq!(gan.read_inputs()?, (z.clone(), real));    // used in place of its own draws
    /// assert!(gan.run_phase_with(2, &z, None).is_err());    // a step has 2 phases
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_phase_with(&mut self, i: usize, z: &[f32], real: Option<&[f32]>) -> Result<()> {
        self.check_phase(i)?;
        let (b, dim) = (self.cfg.batch, self.cfg.data.dim());
        self.io.z.write_at(&self.gpu, 0, z, b * self.cfg.z_dim())?;
        if let Some(r) = real {
            let (t, at) = if self.cfg.separate_passes() { (&self.io.x_real, 0) } else { (&self.io.x_d, b * dim) };
            t.write_at(&self.gpu, at, r, b * dim)?;
        }
        let p = &self.program;
        let start = if i == 0 { 0 } else { p.phase_ends[i - 1] };
        let ranges: Vec<_> = p
            .op_ranges
            .iter()
            .filter(|(op, r)| r.start >= start && r.end <= p.phase_ends[i] && !matches!(op, Op::Noise { .. } | Op::Real { .. }))
            .map(|(_, r)| r.clone())
            .collect();
        p.step.run_ranges(&self.gpu, &ranges);
        if i + 1 == p.phase_ends.len() {
            self.clock.steps_done += 1;
        }
        self.gpu.wait()
    }

    /// The forward passes of the last phase run, as the CPU reference keeps them: the
    /// discriminator's (slot, tape) and, after a generator phase, the generator's.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// let (d_tapes, g_tapes) = gan.read_tapes(false)?;
    /// assert_eq!((d_tapes.len(), d_tapes[0].1.n, g_tapes.len()), (1, 2 * 4, 0)); // one [fake; real] pass
    /// gan.run_phase(1)?;
    /// assert_eq!(gan.read_tapes(true)?.1.len(), 1);         // the generator's pass too
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_tapes(&self, g_phase: bool) -> Result<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)> {
        pollster::block_on(self.read_tapes_async(g_phase))
    }

    /// [`GpuGan::read_tapes`] without blocking (see [`crate::gpu::fetch`]).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// let (d_tapes, _) = pollster::block_on(gan.read_tapes_async(false))?;
    /// assert_eq!((d_tapes[0].0, d_tapes[0].1.n), (0, 2 * 4)); // slot 0, fake and real rows
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_tapes_async(&self, g_phase: bool) -> Result<(Vec<(usize, Tape)>, Vec<(usize, Tape)>)> {
        let (gpu, b) = (&self.gpu, self.cfg.batch);
        // What the networks read: the conditioned inputs for a conditional GAN.
        // (A projection discriminator reads the samples themselves.)
        let planes = self.cond.as_ref().filter(|_| self.proj.is_none());
        let (d_in, d_in_real) = planes.map_or((&self.io.x_d, &self.io.x_real), |k| (&k.x, &k.x_real));
        let g_in = self.cond.as_ref().map_or(&self.io.z, |k| &k.zc);
        let [x, x_real, z] = <[Vec<f32>; 3]>::try_from(fetch(gpu, &[d_in, d_in_real, g_in]).await?).expect("three reads");
        let mut d = Vec::new();
        if g_phase {
            d.push((0, self.d.read_tape_async(gpu, 0, &x, b).await?));
        } else if self.cfg.separate_passes() {
            d.push((1, self.d.read_tape_async(gpu, 1, &x_real, b).await?));
            d.push((0, self.d.read_tape_async(gpu, 0, &x, b).await?));
        } else {
            d.push((0, self.d.read_tape_async(gpu, 0, &x, 2 * b).await?));
        }
        let g = if g_phase { vec![(0, self.g.read_tape_async(gpu, 0, &z, b).await?)] } else { vec![] };
        Ok((d, g))
    }

    /// The discriminator's logits of the last phase run: [generated; real] after a discriminator
    /// update, the generated batch's after the generator phase.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// assert_eq!(gan.read_logits(false)?.len(), 2 * 4);     // [generated; real]
    /// gan.run_phase(1)?;
    /// assert_eq!(gan.read_logits(true)?.len(), 4);          // the generated batch
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_logits(&self, g_phase: bool) -> Result<Vec<f32>> {
        pollster::block_on(self.read_logits_async(g_phase))
    }

    /// [`GpuGan::read_logits`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// let l = pollster::block_on(gan.read_logits_async(false))?;
    /// assert!(l.len() == 8 && l.iter().all(|v| v.is_finite()));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_logits_async(&self, g_phase: bool) -> Result<Vec<f32>> {
        let b = self.cfg.batch;
        let mut l = fetch(&self.gpu, &[&self.io.logits]).await?.remove(0);
        l.truncate(if g_phase { b } else { 2 * b });
        Ok(l)
    }

    fn check_phase(&self, i: usize) -> Result<()> {
        if i >= self.program.phase_ends.len() {
            return Err(Error::Shape(format!("phase {i}: a step has {} phases (k discriminator updates, then the generator)", self.program.phase_ends.len())));
        }
        Ok(())
    }

    /// The critic's pass on the interpolates of the last discriminator update (WGAN-GP), as
    /// the CPU reference keeps it.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let mut wgan = GpuGan::new(&gpu, cfg.wgan_gp(10.0, 1, 1e-4), &g, &d, 8)?;
    /// wgan.run_phase(0)?;
    /// assert_eq!(wgan.read_gp_tape()?.n, 4);                // the batch of interpolates
    /// assert!(gan.read_gp_tape().is_err());                 // no gradient penalty
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_gp_tape(&self) -> Result<Tape> {
        pollster::block_on(self.read_gp_tape_async())
    }

    /// [`GpuGan::read_gp_tape`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// assert!(pollster::block_on(gan.read_gp_tape_async()).is_err()); // only with WGAN-GP
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_gp_tape_async(&self) -> Result<Tape> {
        let xhat = fetch(&self.gpu, &[&self.penalty()?.xhat]).await?.remove(0);
        self.d.read_tape_async(&self.gpu, 1, &xhat, self.cfg.batch).await
    }

    /// The random inputs of the last phase run: the noise z (batch, z_dim) and the real batch
    /// (batch, dim; meaningful after a discriminator update).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// let (z, real) = gan.read_inputs()?;
    /// assert_eq!((z.len(), real.len()), (4 * 2, 4 * 2));    // batch × z_dim, batch × dim
    /// assert!(z.iter().any(|&v| v != 0.0));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_inputs(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        pollster::block_on(self.read_inputs_async())
    }

    /// [`GpuGan::read_inputs`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.run_phase(0)?;
    /// let (z, real) = pollster::block_on(gan.read_inputs_async())?;
    /// assert_eq!((z, real), gan.read_inputs()?);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_inputs_async(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let (b, dim) = (self.cfg.batch, self.cfg.data.dim());
        let io = &self.io;
        let [z, real] = <[Vec<f32>; 2]>::try_from(fetch(&self.gpu, &[&io.z, if self.cfg.separate_passes() { &io.x_real } else { &io.x_d }]).await?).expect("two reads");
        let real = if self.cfg.separate_passes() { real } else { real[b * dim..].to_vec() };
        Ok((z, real))
    }

    /// Number of dispatches in one training step.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let n = gan.dispatches_per_step();
    /// assert!(n > 0 && n == gan.step_program().dispatches.len());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn dispatches_per_step(&self) -> usize {
        self.program.step.dispatches.len()
    }

    /// Reads the last step's losses and D statistics (waits for the GPU). Fails on NaN/inf: in
    /// the losses, or in any gradient or updated weight since the start (the optimizers' divergence
    /// watch), naming the first step and the tensor.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.train_steps(1);
    /// let s = gan.stats()?;
    /// assert!(s.d_loss > 0.0 && s.penalty == 0.0);          // no penalty without WGAN-GP
    /// assert!((0.0..=1.0).contains(&s.acc_real));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn stats(&self) -> Result<Stats> {
        pollster::block_on(self.stats_async())
    }

    /// [`GpuGan::stats`] without blocking (a browser's page awaits it between frames).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let mut s = gan.read_state()?;
    /// s.d[0][0] = f32::NAN;                                 // a poisoned weight
    /// gan.load_state(&s)?;
    /// gan.train_steps(1);
    /// assert!(pollster::block_on(gan.stats_async()).is_err()); // training diverged
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn stats_async(&self) -> Result<Stats> {
        if let Some(e) = self.feed.as_ref().and_then(|f| f.error.as_ref()) {
            return Err(Error::Data(format!("training stopped: the real samples of {e}")));
        }
        for (net, opt, spec) in [("G", &self.opt.g, &self.cfg.generator), ("D", &self.opt.d, &self.cfg.discriminator)] {
            if let Some(d) = opt.health_async(&self.gpu).await? {
                let name = spec.param_names().get(d.tensor).map_or(format!("#{}", d.tensor), |n| n.0.clone());
                return Err(Error::NonFinite(format!(
                    "training diverged: in step {} the gradient or the updated value of {net}.{name} became NaN or infinite; \
                     lower the learning rates (a checkpoint is never written from a diverged state)",
                    d.step + 1
                )));
            }
        }
        let v = fetch(&self.gpu, &[&self.io.stats]).await?.remove(0);
        let s: Stats = *bytemuck::from_bytes(bytemuck::cast_slice(&v));
        if s.values().iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "training diverged at step {}: losses/statistics {s:?}; lower the learning rates",
                self.clock.steps_done
            )));
        }
        Ok(s)
    }

    /// Reads back everything the next step depends on (waits for the GPU).
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let s = gan.read_state()?;
    /// assert_eq!((&s.g, &s.d, s.step), (&g, &d, 0));
    /// gan.train_steps(1);
    /// assert_eq!(gan.read_state()?.step, 1);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_state(&self) -> Result<GanState> {
        pollster::block_on(self.read_state_async())
    }

    /// [`GpuGan::read_state`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let s = pollster::block_on(gan.read_state_async())?;
    /// assert_eq!((s.opt_g.len(), s.opt_g[0].len()), (g.len(), 2)); // Adam: 2 moments a tensor
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_state_async(&self) -> Result<GanState> {
        let gpu = &self.gpu;
        Ok(GanState {
            g: self.g.params.read_async(gpu).await?,
            d: self.d.params.read_async(gpu).await?,
            opt_g: self.opt.g.read_state_async(gpu).await?,
            opt_d: self.opt.d.read_state_async(gpu).await?,
            g_running: self.g.read_running_async(gpu).await?,
            d_running: self.d.read_running_async(gpu).await?,
            step: fetch(gpu, &[&self.clock.counter]).await?[0][0].to_bits(),
        })
    }

    /// Continues from a saved state (a checkpoint): weights, optimizer moments, running
    /// statistics and the step counter.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let start = gan.read_state()?;
    /// gan.train_steps(2);
    /// gan.load_state(&start)?;
    /// assert_eq!((gan.steps_done(), gan.read_state()?), (0, start.clone()));
    /// let mut bad = start;
    /// bad.g.pop();
    /// assert!(gan.load_state(&bad).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load_state(&mut self, s: &GanState) -> Result<()> {
        let gpu = &self.gpu;
        self.g.load(gpu, &s.g, &s.g_running)?;
        self.d.load(gpu, &s.d, &s.d_running)?;
        self.opt.g.load_state(gpu, &s.opt_g)?;
        self.opt.d.load_state(gpu, &s.opt_d)?;
        self.clock.counter.write(gpu, &[s.step])?;
        self.opt.g.reset_health(gpu)?;
        self.opt.d.reset_health(gpu)?;
        self.clock.steps_done = s.step as u64;
        if let Some(f) = &mut self.feed {
            // A new start: the rows are read afresh from this step.
            f.error = None;
        }
        Ok(())
    }

    /// A program that writes G(z) for `n` samples of the fixed sampling noise of `seed` into
    /// [`GpuGan::samples`] (rows [0, n)), batch normalisation in `mode` (never `Train`: sampling
    /// leaves the running statistics alone). Record it into your own pass, or see [`GpuGan::sample`].
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.sample_program(3, 7, Mode::Eval)?.run(&gpu);
    /// let rows = gan.samples().read(&gpu)?;
    /// assert_eq!(rows[..3 * 2], gan.sample(3, 7, Mode::Eval)?[..]);
    /// assert!(gan.sample_program(9, 7, Mode::Eval).is_err()); // capacity 8
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn sample_program(&self, n: usize, seed: u32, mode: Mode) -> Result<Program> {
        let mode = if mode == Mode::Train { Mode::BatchStats } else { mode };
        let sm = &self.sampler;
        if n == 0 || n > sm.capacity {
            return Err(Error::Shape(format!("can sample 1..={} points at once, asked for {n}", sm.capacity)));
        }
        let mut prog = Program::default();
        prog.push(self.randn(&sm.z, n * self.cfg.z_dim(), seed, SAMPLE_STREAM, &sm.zero_counter, false)?);
        let mut g_in = &sm.z.buffer;
        if let Some(k) = &self.cond {
            // The labels of the last [`GpuGan::set_sample_labels`] (by default the classes in
            // order, row by row of a grid: see [`grid_labels`]).
            prog.push(cond::append(&self.gpu, g_in, &k.labels_sample.buffer, &k.zc_sample.buffer, n, self.cfg.z_dim(), self.cfg.classes, 1, [0, 0, 0])?);
            g_in = &k.zc_sample.buffer;
        }
        prog.extend(self.g.forward(&self.gpu, SAMPLE_SLOT, g_in, &sm.samples.buffer, n, mode)?);
        Ok(prog)
    }

    /// The labels the sampler conditions on (conditional GANs): one per sample, < classes.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let cond = cfg.conditional();                       // one class per ring component
    /// let (cg, cd) = cond.init_params();
    /// let cgan = GpuGan::new(&gpu, cond, &cg, &cd, 8)?;
    /// cgan.set_sample_labels(&[0, 3])?;
    /// assert!(cgan.set_sample_labels(&[8]).is_err());       // the ring has 8 classes: 0..8
    /// assert!(gan.set_sample_labels(&[0]).is_err());        // not a conditional GAN
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_sample_labels(&self, labels: &[u32]) -> Result<()> {
        let cap = self.sampler.capacity;
        let bad = || Error::Shape(format!("{} labels for a sampler of {cap} samples and {} classes", labels.len(), self.cfg.classes));
        let Some(k) = self.cond.as_ref() else { return Err(bad()) };
        if labels.len() > cap || labels.iter().any(|&l| l as usize >= self.cfg.classes) {
            return Err(bad());
        }
        let v: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        k.labels_sample.write_at(&self.gpu, 0, &v, v.len())
    }

    /// The sampler's output buffer: [`GpuGan::sample_program`] writes its samples there, rows
    /// [0, n), (capacity, dim); a host can bind it.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// assert_eq!(gan.samples().len(), 8 * 2);               // capacity × dim
    /// gan.sample_program(2, 7, Mode::Eval)?.run(&gpu);
    /// assert_eq!(gan.samples().read(&gpu)?[..4], gan.sample(2, 7, Mode::Eval)?[..]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn samples(&self) -> &Tensor {
        &self.sampler.samples
    }

    /// The most samples one [`GpuGan::sample`] call can generate.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// assert_eq!(gan.sample_capacity(), 8);
    /// assert!(gan.sample(8, 7, Mode::Eval).is_ok() && gan.sample(9, 7, Mode::Eval).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn sample_capacity(&self) -> usize {
        self.sampler.capacity
    }

    /// Steps taken so far.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// gan.train_steps(3);
    /// assert_eq!(gan.steps_done(), 3);                      // counted on the host: no wait
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn steps_done(&self) -> u64 {
        self.clock.steps_done
    }

    /// n generated samples (n, dim) from the fixed sampling noise of `seed`, read back.
    /// (A conditional GAN's samples are conditioned on [`super::grid_labels`]`(n, classes)`.)
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let a = gan.sample(3, 7, Mode::Eval)?;
    /// assert_eq!(a.len(), 3 * 2);
    /// assert_eq!(gan.sample(3, 7, Mode::Eval)?, a);         // fixed noise: the same samples
    /// assert_ne!(gan.sample(3, 8, Mode::Eval)?, a);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn sample(&self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        pollster::block_on(self.sample_async(n, seed, mode))
    }

    /// [`GpuGan::sample`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{data::Mixture, gan::{GanConfig, GpuGan}, gpu::Gpu, nn::Mode};
    /// # let gpu = Gpu::new()?;
    /// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 8);
    /// # cfg.batch = 4;
    /// # let (g, d) = cfg.init_params();
    /// # let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8)?;
    /// let a = pollster::block_on(gan.sample_async(2, 7, Mode::Eval))?;
    /// assert_eq!(a, gan.sample(2, 7, Mode::Eval)?);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn sample_async(&self, n: usize, seed: u32, mode: Mode) -> Result<Vec<f32>> {
        if self.cfg.classes > 0 && n <= self.sampler.capacity {
            self.set_sample_labels(&super::grid_labels(n, self.cfg.classes))?;
        }
        self.sample_program(n, seed, mode)?.run(&self.gpu);
        let mut v = fetch(&self.gpu, &[&self.sampler.samples]).await?.remove(0);
        v.truncate(n * self.cfg.data.dim());
        Ok(v)
    }
}
