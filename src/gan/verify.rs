//! GPU training against the CPU reference.
//!
//! - **Per phase, judged.** Before each part of a step (every discriminator update, then the
//!   generator update) the CPU reference is given the GPU's exact state (weights, optimizer
//!   moments, running statistics, step counter); both run that part, the CPU on the GPU's own
//!   noise and real batch; the losses and every gradient are compared. This isolates what the
//!   kernels compute. (The noise itself differs between the two: Box–Muller's log, cos and sin
//!   round differently on each device, and log(u) for u near 1 is only accurate to ~2⁻²¹ in
//!   absolute terms on a GPU, which moves a few normals near zero by ~1e-3; one such value
//!   landing on the other side of a ReLU's kink changes a gradient by a whole sample's share.
//!   The random-number kernels are compared with the CPU on their own in tests/rng.rs.)
//! - **Weights after each step, reported.** Adam's first steps move each weight by about
//!   lr·g/(|g| + ε): for a gradient that cancels to near zero the direction of the step is set by
//!   rounding, and in a network of a million weights a few such coin flips per step are a
//!   certainty, not a bug (the optimizer kernels are compared with the CPU on their own, from
//!   identical gradients, in tests/optim.rs). So the weights after the step are printed
//!   beside the judged figures.
//! - **Free trajectory, reported.** Both run freely from the same initial weights and noise;
//!   rounding differences grow along the way through the same mechanism.
//!
//! The CPU's backward pass runs through the GPU's forward activations (read back), and starts
//! from the loss gradient at the GPU's logits, while its forward pass, whose losses are
//! compared, is its own. Otherwise an activation that sits on a
//! ReLU's kink, which rounding-level differences put on either side, makes the two gradients
//! differ by that sample's whole share (seen: 4e-3 in one of ten R1 steps at batch 256, with
//! half the phases holding some input within 1e-6 of a kink).
//!
//! Biases that feed a batch norm have a gradient that is zero in exact arithmetic (the batch norm
//! subtracts any per-channel shift): both sides hold rounding noise, so those tensors are judged
//! by their size against the network's largest gradient instead. Likewise a gradient tensor that
//! is below 1 % of the network's largest everywhere is judged by its error against that largest
//! gradient, not against its own size: such a tensor is a sum that (nearly) cancels, whose
//! rounding is that of its terms. The discriminator's last bias is one: with the Wasserstein loss
//! its gradient, mean 1/n_f − mean 1/n_r, is exactly 0 (the f64 reference gives 0, the GPU's f32
//! tile sums 6e-8); near equilibrium with the cross-entropy losses, mean σ(l_f) + mean σ(l_r) − 1
//! cancels to ~1e-4 of its terms.

use super::{recipe, CpuGan, GanConfig, GpuGan};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::max_rel_err;
use crate::nn::{CpuNet, GpuNet, Mode};
use std::fmt;

/// Max relative errors (max norm) of the weights (with BatchNorm running statistics) and of
/// generated samples (batch statistics).
///
/// ```
/// use wgpu_gan::gan::Agreement;
/// let a = Agreement { g_weights: 1e-6, d_weights: 4e-6, samples: 2e-6 };
/// assert_eq!(a.worst(), 4e-6);
/// assert!(Agreement { samples: f32::NAN, ..a }.worst().is_nan()); // a NaN is never hidden
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Agreement {
    pub g_weights: f32,
    pub d_weights: f32,
    pub samples: f32,
}

impl Agreement {
    /// The largest of the three errors (NaN if any is NaN).
    ///
    /// ```
    /// use wgpu_gan::gan::Agreement;
    /// assert_eq!(Agreement { g_weights: 1e-3, d_weights: 0.0, samples: 2e-3 }.worst(), 2e-3);
    /// assert_eq!(Agreement::default().worst(), 0.0);
    /// ```
    pub fn worst(&self) -> f32 {
        worst(&[self.g_weights, self.d_weights, self.samples])
    }

    fn max(self, o: Agreement) -> Agreement {
        Agreement { g_weights: self.g_weights.max(o.g_weights), d_weights: self.d_weights.max(o.d_weights), samples: self.samples.max(o.samples) }
    }
}

fn worst(v: &[f32]) -> f32 {
    if v.iter().any(|x| x.is_nan()) {
        return f32::NAN;
    }
    v.iter().fold(0.0, |a, &b| a.max(b))
}

/// What [`verify`] found: the judged figures, which [`Verification::passed`] holds to a
/// tolerance, and the reported ones.
///
/// ```
/// use wgpu_gan::gan::{Agreement, Verification};
/// let drift = Agreement { g_weights: 0.5, ..Agreement::default() };
/// let v = Verification { steps: 1, losses: 1e-7, d_grads: 3e-6, g_grads: 2e-6, zero_grads: 0.0, per_step: drift, trajectory: drift };
/// assert_eq!(v.judged(), 3e-6);
/// assert!(v.passed(1e-5) && !v.passed(1e-6));       // the reported drift is not judged
/// assert!(v.to_string().contains("discriminator gradients"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verification {
    pub steps: usize,
    /// Judged: worst max relative error of the losses and D statistics, per phase.
    pub losses: f32,
    /// Judged: worst max relative error over the discriminator's / generator's gradient tensors.
    pub d_grads: f32,
    pub g_grads: f32,
    /// Judged: for the gradients that are (nearly) zero, relative to the network's largest
    /// gradient: the size of a bias feeding a batch norm (zero in exact arithmetic), and the error
    /// of any tensor below `NEAR_ZERO` of the largest.
    pub zero_grads: f32,
    /// Reported: weights and samples after each step from identical state (worst).
    pub per_step: Agreement,
    /// Reported: after `steps` free-running steps from the same initial weights.
    pub trajectory: Agreement,
}

impl Verification {
    /// The judged figures, worst first.
    ///
    /// ```
    /// use wgpu_gan::gan::{Agreement, Verification};
    /// let v = Verification { steps: 2, losses: 1e-6, d_grads: 2e-6, g_grads: 5e-6, zero_grads: 0.0,
    ///                        per_step: Agreement::default(), trajectory: Agreement::default() };
    /// assert_eq!(v.judged(), 5e-6);
    /// assert!(Verification { losses: f32::NAN, ..v }.judged().is_nan());
    /// ```
    pub fn judged(&self) -> f32 {
        worst(&[self.losses, self.d_grads, self.g_grads, self.zero_grads])
    }

    /// Whether every judged figure is within `tol` (a NaN never passes).
    ///
    /// ```
    /// use wgpu_gan::gan::{Agreement, Verification};
    /// let v = Verification { steps: 2, losses: 1e-6, d_grads: 2e-6, g_grads: 5e-6, zero_grads: 0.0,
    ///                        per_step: Agreement::default(), trajectory: Agreement::default() };
    /// assert!(v.passed(5e-6) && !v.passed(4e-6));
    /// assert!(!Verification { g_grads: f32::NAN, ..v }.passed(1.0));
    /// ```
    pub fn passed(&self, tol: f32) -> bool {
        self.judged() <= tol
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "GPU vs CPU reference over {} steps, max relative error (max norm):", self.steps)?;
        writeln!(f, "  judged, each phase from identical state:")?;
        writeln!(f, "    losses and D statistics            {:.2e}", self.losses)?;
        writeln!(f, "    discriminator gradients            {:.2e}", self.d_grads)?;
        writeln!(f, "    generator gradients                {:.2e}", self.g_grads)?;
        writeln!(f, "    (nearly) zero gradients            {:.2e}  (|error| / largest gradient: biases feeding a batch norm, sums that cancel)", self.zero_grads)?;
        writeln!(f, "  reported (Adam turns near-zero gradients' rounding into ±lr steps; see src/gan/verify.rs):")?;
        let p = &self.per_step;
        let t = &self.trajectory;
        writeln!(f, "                                       after one step   free trajectory")?;
        writeln!(f, "    generator weights                  {:.2e}         {:.2e}", p.g_weights, t.g_weights)?;
        writeln!(f, "    discriminator weights              {:.2e}         {:.2e}", p.d_weights, t.d_weights)?;
        write!(f, "    generated samples                  {:.2e}         {:.2e}", p.samples, t.samples)
    }
}

/// A gradient tensor below this share of its network's largest gradient is judged against the
/// largest (see the module notes).
pub const NEAR_ZERO: f32 = 1e-2;

/// (worst max rel err over the judged gradient tensors, worst (nearly) zero figure).
async fn grads(gpu: &Gpu, g: &GpuNet, c: &CpuNet) -> Result<(f32, f32)> {
    let scale = c.grads.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    let (mut judged, mut zero) = (0.0f32, 0.0f32);
    for (i, (got, want)) in g.grads.read_async(gpu).await?.into_iter().zip(&c.grads).enumerate() {
        let own = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if g.spec.structurally_zero(i) {
            zero = worst(&[zero, got.iter().fold(0.0f32, |m, v| m.max(v.abs())) / scale]);
        } else if own < NEAR_ZERO * scale {
            zero = worst(&[zero, got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs())) / scale]);
        } else {
            judged = worst(&[judged, max_rel_err(&got, want)]);
        }
    }
    Ok((judged, zero))
}

async fn weights(gan: &GpuGan, cpu: &mut CpuGan, n: usize, seed: u32) -> Result<Agreement> {
    let gpu = &gan.gpu;
    let flat = |p: Vec<Vec<f32>>, r: Vec<Vec<f32>>| [p, r].concat().concat();
    Ok(Agreement {
        g_weights: max_rel_err(&flat(gan.g.params.read_async(gpu).await?, gan.g.read_running_async(gpu).await?), &flat(cpu.g.params.clone(), cpu.g.running.clone())),
        d_weights: max_rel_err(&flat(gan.d.params.read_async(gpu).await?, gan.d.read_running_async(gpu).await?), &flat(cpu.d.params.clone(), cpu.d.running.clone())),
        samples: max_rel_err(&gan.sample_async(n, seed, Mode::BatchStats).await?, &cpu.sample(n, seed, Mode::BatchStats)?),
    })
}

/// Runs `steps` training steps of `cfg` both ways, comparing `n` samples of the fixed noise `seed`.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{verify, GanConfig}, gpu::Gpu};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 32;
/// let v = verify(&Gpu::new()?, &cfg, 1, 64, 7)?;
/// assert!(v.passed(1e-4), "{v}");                 // losses and gradients, phase by phase
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn verify(gpu: &Gpu, cfg: &GanConfig, steps: usize, n: usize, seed: u32) -> Result<Verification> {
    pollster::block_on(verify_async(gpu, cfg, steps, n, seed))
}

/// [`verify`] without blocking: what a browser's page runs (see [`crate::gpu::fetch`]).
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{verify_async, GanConfig}, gpu::Gpu};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// cfg.batch = 8;
/// let gpu = Gpu::new()?;
/// let v = pollster::block_on(verify_async(&gpu, &cfg, 1, 8, 7))?; // a page awaits it instead
/// assert_eq!(v.steps, 1);
/// assert!(v.passed(1e-4), "{v}");
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub async fn verify_async(gpu: &Gpu, cfg: &GanConfig, steps: usize, n: usize, seed: u32) -> Result<Verification> {
    let (g0, d0) = cfg.init_params();
    // The free-running CPU steps (the trajectory below) need nothing from the GPU: where there
    // are threads they run on one of their own, beside the phase-by-phase comparison (the CPU
    // reference is single-threaded, and it is most of the time a verification takes).
    let free_cpu = {
        let (cfg, g0, d0) = (cfg.clone(), g0.clone(), d0.clone());
        move || -> Result<CpuGan> {
            let mut cpu = CpuGan::new(cfg, g0, d0)?;
            for _ in 0..steps {
                cpu.train_step();
            }
            Ok(cpu)
        }
    };
    #[cfg(not(target_arch = "wasm32"))]
    let free_cpu = std::thread::spawn(free_cpu);
    let mut gan = GpuGan::new(gpu, cfg.clone(), &g0, &d0, n)?;
    let mut cpu = CpuGan::new(cfg.clone(), g0.clone(), d0.clone())?;
    let mut v = Verification {
        steps,
        losses: 0.0,
        d_grads: 0.0,
        g_grads: 0.0,
        zero_grads: 0.0,
        per_step: Agreement::default(),
        trajectory: Agreement::default(),
    };
    for _ in 0..steps {
        // The one recipe, phase by phase: the GPU runs its program for the phase, the CPU the
        // same operations from the GPU's state, noise and real batch. A long step of the critic
        // schedule first runs its extra critic updates the same way.
        let extra = if gan.long_step() { recipe::burst(cfg) } else { Vec::new() };
        let usual = recipe::step(cfg);
        let phases = extra.iter().enumerate().map(|(i, ops)| (ops, true, i)).chain(usual.iter().enumerate().map(|(i, ops)| (ops, false, i)));
        for (ops, is_extra, i) in phases {
            let g_phase = !is_extra && i == cfg.k;
            cpu.load_state(&gan.read_state_async().await?)?;
            if is_extra {
                gan.run_burst_phase(i)?;
            } else {
                gan.run_phase(i)?;
            }
            cpu.injected.tapes = Some(gan.read_tapes_async(g_phase).await?);
            cpu.injected.logits = Some(gan.read_logits_async(g_phase).await?);
            if cfg.gp_lambda > 0.0 && !g_phase {
                cpu.injected.gp_tape = Some(gan.read_gp_tape_async().await?);
            }
            let (z, real) = gan.read_inputs_async().await?;
            cpu.run_phase(ops, Some(z), (!g_phase).then_some(real));
            let (s, c) = (gan.stats_async().await?, cpu.stats);
            let (got, want) = if g_phase { (vec![s.g_loss], vec![c.g_loss]) } else { (vec![s.d_loss, s.d_real, s.d_fake], vec![c.d_loss, c.d_real, c.d_fake]) };
            v.losses = worst(&[v.losses, max_rel_err(&got, &want)]);
            let (j, z) = if g_phase { grads(gpu, &gan.g, &cpu.g).await? } else { grads(gpu, &gan.d, &cpu.d).await? };
            if g_phase {
                v.g_grads = worst(&[v.g_grads, j]);
            } else {
                v.d_grads = worst(&[v.d_grads, j]);
            }
            v.zero_grads = worst(&[v.zero_grads, z]);
        }
        v.per_step = v.per_step.max(weights(&gan, &mut cpu, n, seed).await?);
    }
    let mut gan = GpuGan::new(gpu, cfg.clone(), &g0, &d0, n)?;
    gan.train_steps(steps);
    #[cfg(not(target_arch = "wasm32"))]
    let mut cpu = free_cpu.join().map_err(|_| crate::error::Error::Shape("the CPU reference's free-running steps panicked".into()))??;
    #[cfg(target_arch = "wasm32")]
    let mut cpu = free_cpu()?;
    v.trajectory = weights(&gan, &mut cpu, n, seed).await?;
    Ok(v)
}
