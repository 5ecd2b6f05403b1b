//! A training run's state as a safetensors checkpoint ([`crate::checkpoint`]), with the names a
//! PyTorch user would look for: `G.0.weight`, `D.3.running_mean`, `D.3.num_batches_tracked`
//! (indices as in an `nn.Sequential` of the same layers), and the optimizer moments as
//! `optimizer_G.0.weight.exp_avg` / `.exp_avg_sq` (Adam), `.momentum_buffer` (SGD), `.square_avg`
//! (RMSprop). The random-number state is the pair (seed, step): every draw is a pure function of
//! it (counter-based generator), so the metadata holds both, and the step also as a tensor.
//! Each network's architecture is stored as its versioned JSON description
//! ([`crate::nn::describe`]); loading compares the descriptions field by field and checks that the
//! optimizers and what fixes the step's position in the noise and data are the same.

use super::{GanConfig, GanState};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::nn::{describe, NetSpec};
use crate::optim::Optimizer;
use std::path::Path;

fn state_names(opt: &Optimizer) -> &'static [&'static str] {
    match opt {
        Optimizer::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        Optimizer::Sgd { .. } => &["momentum_buffer"],
        Optimizer::RmsProp { .. } => &["square_avg"],
    }
}

impl GanConfig {
    /// Training-mode forward passes per step through each network's batch norms (PyTorch's
    /// `num_batches_tracked` advances once per pass).
    fn passes_per_step(&self) -> (i64, i64) {
        let k = self.k as i64;
        let g = k + if self.reuse_fake { 0 } else { 1 };
        let d = if self.separate_passes() { 2 * k + 1 } else { k + 1 };
        (g, d)
    }
}

fn push_net(ck: &mut Checkpoint, prefix: &str, spec: &NetSpec, params: &[Vec<f32>], running: &[Vec<f32>], passes: i64) {
    for ((name, shape), p) in spec.param_names().iter().zip(params) {
        ck.push_f32(&format!("{prefix}.{name}"), shape, p);
    }
    for ((i, _, parts), r) in spec.running().iter().zip(running) {
        let mut at = 0;
        for (name, len) in parts {
            ck.push_f32(&format!("{prefix}.{i}.{name}"), &[*len], &r[at..at + len]);
            at += len;
        }
        ck.push_i64(&format!("{prefix}.{i}.num_batches_tracked"), &[], &[passes]);
    }
}

fn push_opt(ck: &mut Checkpoint, prefix: &str, spec: &NetSpec, opt: &Optimizer, state: &[Vec<Vec<f32>>]) {
    for ((name, shape), s) in spec.param_names().iter().zip(state) {
        for (sn, v) in state_names(opt).iter().zip(s) {
            ck.push_f32(&format!("optimizer_{prefix}.{name}.{sn}"), shape, v);
        }
    }
}

fn read_net(ck: &Checkpoint, prefix: &str, spec: &NetSpec) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
    let params = spec.param_names().iter().map(|(name, shape)| ck.f32_finite(&format!("{prefix}.{name}"), shape).map(<[f32]>::to_vec)).collect::<Result<_>>()?;
    let running = spec
        .running()
        .iter()
        .map(|(i, _, parts)| parts.iter().map(|(name, len)| ck.f32_finite(&format!("{prefix}.{i}.{name}"), &[*len]).map(<[f32]>::to_vec)).collect::<Result<Vec<_>>>().map(|v| v.concat()))
        .collect::<Result<_>>()?;
    Ok((params, running))
}

fn read_opt(ck: &Checkpoint, prefix: &str, spec: &NetSpec, opt: &Optimizer) -> Result<Vec<Vec<Vec<f32>>>> {
    spec.param_names()
        .iter()
        .map(|(name, shape)| state_names(opt).iter().map(|sn| ck.f32_finite(&format!("optimizer_{prefix}.{name}.{sn}"), shape).map(<[f32]>::to_vec)).collect())
        .collect()
}

fn opt_kind(o: &Optimizer) -> &'static str {
    match o {
        Optimizer::Sgd { .. } => "SGD",
        Optimizer::Adam { .. } => "Adam",
        Optimizer::RmsProp { .. } => "RMSprop",
    }
}

/// Checks a checkpoint's description of network `key` ("generator", "discriminator") against
/// `spec`, field by field.
fn check_net(ck: &Checkpoint, path: &Path, key: &str, spec: &NetSpec) -> Result<()> {
    describe::check_saved(key, ck.meta(key)?, spec).map_err(|e| match e {
        Error::Checkpoint(m) => Error::Checkpoint(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// What must match between a checkpoint and the run loading it besides the architectures (see
/// [`check_net`]): the kind of each optimizer (its state's layout), and what fixes the step's
/// position in the noise, the data epochs and Adam's step count. Learning rates may change on
/// resume; they are stored for the record.
fn fingerprint(cfg: &GanConfig) -> Vec<(&'static str, String)> {
    let data = match &cfg.data {
        super::DataSource::Mixture(m) => format!("mixture {}", m.name),
        // A streamed data set draws the rows a table of the same rows would: either may resume the other.
        super::DataSource::Table(t) => format!("table of {} rows of {}", t.count, t.dim),
        super::DataSource::Stream(s) => format!("table of {} rows of {}", s.source.count(), s.source.dim()),
    };
    let burst = cfg.critic_burst.map(|b| ("critic_burst", format!("{} updates in steps < {} and every {}th", b.k, b.first, b.every)));
    vec![
        ("optimizer_G.kind", opt_kind(&cfg.opt_g).into()),
        ("optimizer_D.kind", opt_kind(&cfg.opt_d).into()),
        ("batch", cfg.batch.to_string()),
        ("k", cfg.k.to_string()),
        ("reuse_fake", cfg.reuse_fake.to_string()),
        ("loss", format!("{:?}", cfg.loss)),
        ("gp_lambda", cfg.gp_lambda.to_string()),
        ("clip_d", cfg.clip_d.to_string()),
        ("data", data),
    ]
    .into_iter()
    .chain(burst)
    .collect()
}

/// Writes `state` of a run of `cfg` to `path` atomically.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{load_checkpoint, save_checkpoint, CpuGan, GanConfig}};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// (cfg.batch, cfg.seed) = (8, 3);
/// let (g, d) = cfg.init_params();
/// let mut cpu = CpuGan::new(cfg.clone(), g, d)?;
/// cpu.train_step();
/// let dir = std::env::temp_dir().join(format!("save_checkpoint_{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// save_checkpoint(&dir.join("ck.safetensors"), &cfg, &cpu.read_state())?;
/// assert_eq!(load_checkpoint(&dir.join("ck.safetensors"), &cfg)?, (cpu.read_state(), 3)); // and the seed
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn save_checkpoint(path: &Path, cfg: &GanConfig, state: &GanState) -> Result<()> {
    let mut ck = Checkpoint::new();
    let (gp, dp) = cfg.passes_per_step();
    let step = state.step as i64;
    push_net(&mut ck, "G", &cfg.generator, &state.g, &state.g_running, gp * step);
    push_net(&mut ck, "D", &cfg.discriminator, &state.d, &state.d_running, dp * step);
    push_opt(&mut ck, "G", &cfg.generator, &cfg.opt_g, &state.opt_g);
    push_opt(&mut ck, "D", &cfg.discriminator, &cfg.opt_d, &state.opt_d);
    ck.push_i64("step", &[], &[step]);
    ck.push_u32("rng.seed_step", &[2], &[cfg.seed, state.step]);
    ck.set_meta("generator", cfg.generator.describe());
    ck.set_meta("discriminator", cfg.discriminator.describe());
    for (k, v) in fingerprint(cfg) {
        ck.set_meta(k, v);
    }
    ck.set_meta("step", state.step);
    ck.set_meta("seed", cfg.seed);
    ck.set_meta("optimizer_G", format!("{:?}", cfg.opt_g));
    ck.set_meta("optimizer_D", format!("{:?}", cfg.opt_d));
    ck.set_meta("rng", "counter-based PCG4D: every draw is a function of (seed, stream, step, index); state = (seed, step)");
    // A diverged run must never replace a good checkpoint with NaN weights: refuse before anything
    // is written, so the file on disk stays the last good one.
    if let Some((name, i)) = ck.first_non_finite() {
        return Err(Error::NonFinite(format!(
            "refusing to write {} at step {step}: tensor {name} holds a NaN or infinite value at index {i} (training diverged); \
             the file on disk was left as it was",
            path.display()
        )));
    }
    ck.save(path)
}

/// Reads a checkpoint written by [`save_checkpoint`] for a run of `cfg`. The seed comes back in
/// the second value; a checkpoint for other architectures, optimizer kinds, batch size, k, loss
/// or data is refused with a message naming the difference.
///
/// ```
/// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}};
/// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// # (cfg.batch, cfg.seed) = (8, 3);
/// # let (g, d) = cfg.init_params();
/// # let mut cpu = CpuGan::new(cfg.clone(), g, d)?;
/// # cpu.train_step();
/// # let dir = std::env::temp_dir().join(format!("load_checkpoint_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("checkpoint.safetensors");
/// # wgpu_gan::gan::save_checkpoint(&path, &cfg, &cpu.read_state())?;
/// use wgpu_gan::gan::load_checkpoint;
/// // `path`: a checkpoint of `cfg` (batch 8, seed 3) saved after one step.
/// let (state, seed) = load_checkpoint(&path, &cfg)?;
/// assert_eq!((state.step, seed), (1, 3));
/// let other = GanConfig { batch: 16, ..cfg.clone() };
/// let err = load_checkpoint(&path, &other).unwrap_err();
/// assert!(err.to_string().contains("batch"), "{err}");  // names the difference
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn load_checkpoint(path: &Path, cfg: &GanConfig) -> Result<(GanState, u32)> {
    let ck = Checkpoint::load(path)?;
    check_net(&ck, path, "generator", &cfg.generator)?;
    check_net(&ck, path, "discriminator", &cfg.discriminator)?;
    for (k, want) in fingerprint(cfg) {
        let got = ck.meta(k)?;
        if got != want {
            return Err(Error::Checkpoint(format!("{}: written for {k} {got}, but this run has {want}", path.display())));
        }
    }
    if let (None, Ok(got)) = (cfg.critic_burst, ck.meta("critic_burst")) {
        return Err(Error::Checkpoint(format!("{}: written for the critic schedule {got}, but this run has none", path.display())));
    }
    let (g, g_running) = read_net(&ck, "G", &cfg.generator)?;
    let (d, d_running) = read_net(&ck, "D", &cfg.discriminator)?;
    let rng = ck.u32("rng.seed_step", &[2])?;
    let step = ck.i64("step", &[])?[0];
    if step < 0 || step as u64 != rng[1] as u64 {
        return Err(Error::Checkpoint(format!("{}: step {step} and RNG step {} disagree", path.display(), rng[1])));
    }
    let state = GanState {
        opt_g: read_opt(&ck, "G", &cfg.generator, &cfg.opt_g)?,
        opt_d: read_opt(&ck, "D", &cfg.discriminator, &cfg.opt_d)?,
        g,
        d,
        g_running,
        d_running,
        step: rng[1],
    };
    Ok((state, rng[0]))
}

/// Only the generator of a checkpoint: its parameters, BatchNorm running statistics and the step
/// it was saved at (for sampling and scoring; the rest of the run's settings do not matter then).
///
/// ```
/// # use wgpu_gan::{data::Mixture, gan::{CpuGan, GanConfig}};
/// # let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// # (cfg.batch, cfg.seed) = (8, 3);
/// # let (g, d) = cfg.init_params();
/// # let mut cpu = CpuGan::new(cfg.clone(), g, d)?;
/// # cpu.train_step();
/// # let dir = std::env::temp_dir().join(format!("load_generator_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("checkpoint.safetensors");
/// # wgpu_gan::gan::save_checkpoint(&path, &cfg, &cpu.read_state())?;
/// use wgpu_gan::gan::load_generator;
/// // `path`: a checkpoint of `cfg` saved after one step.
/// let (params, running, step) = load_generator(&path, &cfg.generator)?;
/// assert_eq!((params, running.len(), step), (cpu.read_state().g, 0, 1)); // no batch norm
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn load_generator(path: &Path, generator: &NetSpec) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>, u32)> {
    let ck = Checkpoint::load(path)?;
    check_net(&ck, path, "generator", generator)?;
    let (params, running) = read_net(&ck, "G", generator)?;
    let step = ck.i64("step", &[])?[0];
    Ok((params, running, step.clamp(0, u32::MAX as i64) as u32))
}
