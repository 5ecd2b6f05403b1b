//! The training step, written once. A step is a list of phases (each discriminator update, then
//! the generator update), and a phase is a list of [`Op`]s; [`super::GpuGan`] turns each op into
//! dispatches and [`super::CpuGan`] executes it with the CPU reference, so `--verify` compares
//! one recipe run by two backends. See [`super`] for the procedure in words.

use super::GanConfig;

/// One operation of a training step.
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
    /// WGAN-GP: x̂ = ε·real + (1 − ε)·fake per sample, ε ~ U(0, 1) (update `update`'s stream).
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
pub fn g_phase(cfg: &GanConfig) -> Vec<Op> {
    let mut ops = Vec::new();
    if !cfg.reuse_fake {
        ops.extend([Op::Noise { stream: cfg.noise_stream(None) }, Op::Generate]);
    }
    ops.extend([Op::DiscriminateFake, Op::GLoss, Op::GBackward, Op::GStep, Op::Advance]);
    ops
}

/// A whole step: k discriminator updates, then the generator update.
pub fn step(cfg: &GanConfig) -> Vec<Vec<Op>> {
    let mut phases: Vec<Vec<Op>> = (0..cfg.k).map(|i| d_update(cfg, i)).collect();
    phases.push(g_phase(cfg));
    phases
}

/// The extra discriminator updates k..K of a step under [`GanConfig::critic_burst`] (none without
/// one); they run before the step's usual phases.
pub fn burst(cfg: &GanConfig) -> Vec<Vec<Op>> {
    let extra = cfg.critic_burst.map_or(cfg.k, |b| b.k.max(cfg.k));
    (cfg.k..extra).map(|i| d_update(cfg, i)).collect()
}

/// Step `index` (0-based): [`burst`]'s updates first when the schedule covers it, then [`step`].
pub fn step_at(cfg: &GanConfig, index: u64) -> Vec<Vec<Op>> {
    let long = cfg.critic_burst.is_some_and(|b| b.applies(index));
    let mut phases = if long { burst(cfg) } else { Vec::new() };
    phases.extend(step(cfg));
    phases
}
