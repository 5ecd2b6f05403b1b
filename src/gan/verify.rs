//! GPU training against the CPU reference, two ways.
//!
//! - **Per step**: before each step the CPU reference is given the GPU's exact state (weights,
//!   optimizer moments, step counter); both take one step; the results are compared. This isolates
//!   what the kernels compute, and it is what the pass/fail tolerance applies to.
//! - **Trajectory**: both run freely from the same initial weights and noise. Differences at
//!   rounding level (the GPU's log/cos/sin in the noise, f32 sums against f64 ones) grow along the
//!   way, and Adam's first steps grow them fastest: with v̂ ≈ g² each weight moves by
//!   lr·g/(|g|+ε), whose sensitivity to g is lr/ε = 1e5 × lr at g ≈ 0, so a weight whose batch
//!   gradient cancels to ~1e-8 moves by an amount set by rounding. The figure is reported, not
//!   judged: it measures the dynamics as much as the kernels.

use super::{CpuGan, GanConfig, GpuGan};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::max_rel_err;
use crate::nn::Mode;

/// Max relative errors (max norm) of the weights (with BatchNorm running statistics) and of
/// generated samples (batch statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Agreement {
    pub g_weights: f32,
    pub d_weights: f32,
    pub samples: f32,
}

impl Agreement {
    pub fn worst(&self) -> f32 {
        if [self.g_weights, self.d_weights, self.samples].iter().any(|v| v.is_nan()) {
            return f32::NAN;
        }
        self.g_weights.max(self.d_weights).max(self.samples)
    }

    fn max(self, o: Agreement) -> Agreement {
        Agreement { g_weights: self.g_weights.max(o.g_weights), d_weights: self.d_weights.max(o.d_weights), samples: self.samples.max(o.samples) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verification {
    /// Worst over the steps of the one-step comparison from identical state.
    pub per_step: Agreement,
    /// After `steps` free-running steps from the same initial weights.
    pub trajectory: Agreement,
}

fn compare(gan: &GpuGan, cpu: &mut CpuGan, n: usize, seed: u32) -> Result<Agreement> {
    Ok(Agreement {
        g_weights: max_rel_err(&[gan.g.read_params(&gan.gpu)?, gan.g.read_running(&gan.gpu)?].concat().concat(), &[&cpu.g.params[..], &cpu.g.running].concat().concat()),
        d_weights: max_rel_err(&[gan.d.read_params(&gan.gpu)?, gan.d.read_running(&gan.gpu)?].concat().concat(), &[&cpu.d.params[..], &cpu.d.running].concat().concat()),
        samples: max_rel_err(&gan.sample(n, seed, Mode::BatchStats)?, &cpu.sample(n, seed, Mode::BatchStats)),
    })
}

/// Runs `steps` training steps of `cfg` both ways, comparing `n` samples of the fixed noise `seed`.
pub fn verify(gpu: &Gpu, cfg: &GanConfig, steps: usize, n: usize, seed: u32) -> Result<Verification> {
    let (g0, d0) = cfg.init_params();
    let mut gan = GpuGan::new(gpu, cfg.clone(), &g0, &d0, n)?;
    let mut cpu = CpuGan::new(cfg.clone(), g0.clone(), d0.clone())?;
    let mut per_step = Agreement::default();
    for _ in 0..steps {
        cpu.load_state(&gan.read_state()?)?;
        gan.train_steps(1);
        cpu.train_step();
        per_step = per_step.max(compare(&gan, &mut cpu, n, seed)?);
    }
    let mut gan = GpuGan::new(gpu, cfg.clone(), &g0, &d0, n)?;
    let mut cpu = CpuGan::new(cfg.clone(), g0, d0)?;
    gan.train_steps(steps);
    for _ in 0..steps {
        cpu.train_step();
    }
    let trajectory = compare(&gan, &mut cpu, n, seed)?;
    Ok(Verification { per_step, trajectory })
}
