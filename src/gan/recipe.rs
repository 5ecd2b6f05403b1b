//! The training step, written once. A step is a list of phases (each discriminator update, then
//! the generator update), and a phase is a list of [`Op`]s; [`super::GpuGan`] turns each op into
//! dispatches and [`super::CpuGan`] executes it with the CPU reference, so `--verify` compares
//! one recipe run by two backends. See [`super`] for the procedure in words.

use super::GanConfig;

/// One operation of a training step.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe::{self, Op}, GanConfig}};
/// let cfg = GanConfig::r1(Mixture::ring(), 2, 16);
/// let ops: Vec<Op> = recipe::step(&cfg).concat();
/// assert_eq!(ops.first(), Some(&Op::Noise { stream: 0 }));
/// assert_eq!(ops.last(), Some(&Op::Advance));      // a step ends by counting itself
/// assert_eq!(ops.iter().filter(|o| matches!(o, Op::DStep { .. } | Op::GStep)).count(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// z ~ N(0, I) from (seed, `stream`, step).
    Noise { stream: u32 },
    /// fake = G(z), training mode (the generator's slot 0).
    Generate,
    /// The real batch of discriminator update `update`.
    Real { update: usize },
    /// The discriminator on the generated and the real batch: one joint pass over [fake; real],
    /// or (with batch normalisation) real in slot 1, then fake in slot 0.
    DiscriminateBoth { joint: bool },
    /// The discriminator on the generated batch alone (slot 0).
    DiscriminateFake,
    /// The discriminator's loss, its statistics and its gradient with respect to the logits.
    DLoss,
    /// Backpropagation to the discriminator's weights (the passes of [`Op::DiscriminateBoth`]; with
    /// two passes their gradients are added).
    DBackward { joint: bool },
    /// WGAN-GP: x̂ = ε·real + (1 − ε)·fake per sample, ε ~ U(0, 1] (`rng::unit`; update `update`'s stream).
    Interpolate { update: usize },
    /// WGAN-GP: the critic on x̂ (its slot 1), its gradient g with respect to x̂, the penalty
    /// λ·mean(‖g‖ − 1)² (added to the D loss), and the penalty's gradient with respect to the
    /// critic's weights, added to theirs.
    Penalty,
    /// The discriminator's optimizer step (and weight clipping) for update `update`.
    DStep { update: usize },
    /// The generator's loss and its gradient with respect to the logits.
    GLoss,
    /// Backpropagation through the frozen discriminator to its input, then through the generator
    /// to its weights.
    GBackward,
    /// The generator's optimizer step.
    GStep,
    /// The step counter advances (the last op of a step).
    Advance,
}

/// Discriminator update `i` of a step.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe::{d_update, Op}, GanConfig}};
/// let cfg = GanConfig { k: 2, ..GanConfig::r1(Mixture::ring(), 2, 16) }; // update i: noise stream 2i
/// assert_eq!(d_update(&cfg, 1), [
///     Op::Noise { stream: 2 }, Op::Generate, Op::Real { update: 1 }, Op::DiscriminateBoth { joint: true },
///     Op::DLoss, Op::DBackward { joint: true }, Op::DStep { update: 1 },
/// ]);
/// let gp = cfg.wgan_gp(10.0, 5, 1e-4);              // the penalty comes before the step
/// assert_eq!(d_update(&gp, 0)[6..], [Op::Interpolate { update: 0 }, Op::Penalty, Op::DStep { update: 0 }]);
/// ```
pub fn d_update(cfg: &GanConfig, i: usize) -> Vec<Op> {
    let joint = !cfg.separate_passes();
    vec![
        Op::Noise { stream: cfg.noise_stream(Some(i)) },
        Op::Generate,
        Op::Real { update: i },
        Op::DiscriminateBoth { joint },
        Op::DLoss,
        Op::DBackward { joint },
    ]
    .into_iter()
    .chain(if cfg.gp_lambda > 0.0 { vec![Op::Interpolate { update: i }, Op::Penalty] } else { vec![] })
    .chain([Op::DStep { update: i }])
    .collect()
}

/// The generator update that ends a step. With `reuse_fake` it keeps the last discriminator
/// update's noise and generated batch (DCGAN's loop) instead of drawing fresh ones.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe::{g_phase, Op}, GanConfig}};
/// let cfg = GanConfig::r1(Mixture::ring(), 2, 16);    // k = 1: G's noise is stream 2
/// assert_eq!(g_phase(&cfg)[..2], [Op::Noise { stream: 2 }, Op::Generate]);
/// let dcgan = GanConfig { reuse_fake: true, ..cfg };
/// assert_eq!(g_phase(&dcgan), [Op::DiscriminateFake, Op::GLoss, Op::GBackward, Op::GStep, Op::Advance]);
/// ```
pub fn g_phase(cfg: &GanConfig) -> Vec<Op> {
    let mut ops = Vec::new();
    if !cfg.reuse_fake {
        ops.extend([Op::Noise { stream: cfg.noise_stream(None) }, Op::Generate]);
    }
    ops.extend([Op::DiscriminateFake, Op::GLoss, Op::GBackward, Op::GStep, Op::Advance]);
    ops
}

/// A whole step: k discriminator updates, then the generator update.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe, GanConfig}};
/// let cfg = GanConfig { k: 3, ..GanConfig::r1(Mixture::ring(), 2, 16) };
/// let phases = recipe::step(&cfg);
/// assert_eq!(phases.len(), 4);                      // 3 critic updates, then G
/// assert_eq!(phases[2], recipe::d_update(&cfg, 2));
/// assert_eq!(phases[3], recipe::g_phase(&cfg));
/// ```
pub fn step(cfg: &GanConfig) -> Vec<Vec<Op>> {
    let mut phases: Vec<Vec<Op>> = (0..cfg.k).map(|i| d_update(cfg, i)).collect();
    phases.push(g_phase(cfg));
    phases
}

/// The extra discriminator updates k..K of a step under [`GanConfig::critic_burst`] (none without
/// one); they run before the step's usual phases.
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe, CriticBurst, GanConfig}};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16).wgan_clip(0.01, 2, 5e-5);
/// assert!(recipe::burst(&cfg).is_empty());          // no schedule
/// cfg.critic_burst = Some(CriticBurst { k: 5, first: 1, every: 0 });
/// let extra = recipe::burst(&cfg);
/// assert_eq!(extra.len(), 3);                       // updates 2, 3 and 4
/// assert_eq!(extra[0], recipe::d_update(&cfg, 2));
/// ```
pub fn burst(cfg: &GanConfig) -> Vec<Vec<Op>> {
    let extra = cfg.critic_burst.map_or(cfg.k, |b| b.k.max(cfg.k));
    (cfg.k..extra).map(|i| d_update(cfg, i)).collect()
}

/// Step `index` (0-based): [`burst`]'s updates first when the schedule covers it, then [`step`].
///
/// ```
/// use wgpu_gan::{data::Mixture, gan::{recipe, CriticBurst, GanConfig}};
/// let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16).wgan_clip(0.01, 2, 5e-5);
/// cfg.critic_burst = Some(CriticBurst { k: 5, first: 1, every: 10 });
/// assert_eq!(recipe::step_at(&cfg, 0).len(), 6);    // 5 critic updates, then G
/// assert_eq!(recipe::step_at(&cfg, 1), recipe::step(&cfg));
/// assert_eq!(recipe::step_at(&cfg, 10).len(), 6);   // every 10th step again
/// ```
pub fn step_at(cfg: &GanConfig, index: u64) -> Vec<Vec<Op>> {
    let long = cfg.critic_burst.is_some_and(|b| b.applies(index));
    let mut phases = if long { burst(cfg) } else { Vec::new() };
    phases.extend(step(cfg));
    phases
}
