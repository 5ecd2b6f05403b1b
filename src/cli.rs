//! Flag parsers the examples share, so that a bad value stops the program before any work with
//! one clear line and exit code 2 (clap's own convention for a refused flag).

/// A count that must be at least 1 (steps, iterations, epochs, batch sizes, intervals).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("{s:?} is not a whole number ({e})")),
    }
}

/// A finite number above 0 (learning rates).
pub fn positive_f32(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} must be a finite number above 0")),
        Err(e) => Err(format!("{s:?} is not a number ({e})")),
    }
}

/// Creates the output directory and proves it writable (a probe file written and removed), so that
/// a bad `--out` is reported before any training rather than after it, naming the path.
pub fn prepare_out_dir(dir: &std::path::Path) -> crate::Result<()> {
    let fail = |what: &str, e: std::io::Error| crate::Error::Io(std::io::Error::new(e.kind(), format!("output directory {}: {what}: {e}", dir.display())));
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    let probe = dir.join(format!(".wgpu-gan-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| fail("cannot write into it", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot remove a file from it", e))
}

/// The `--loss` flag of the training examples: every objective of [`crate::loss::LossKind`], and
/// the two WGAN training schemes (SPEC.md §2, R4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LossChoice {
    /// The non-saturating GAN loss (the default).
    NonSaturating,
    /// The original minimax loss.
    Minimax,
    /// Hinge loss on the raw output.
    Hinge,
    /// Least squares (LSGAN) on the raw output.
    LeastSquares,
    /// WGAN: Wasserstein loss, critic weights clipped to [−0.01, 0.01], RMSprop 5e-5, 5 critic
    /// updates per generator update.
    WganClip,
    /// WGAN-GP: Wasserstein loss with gradient penalty λ = 10, Adam 1e-4 (β 0.5, 0.9), 5 critic
    /// updates per generator update.
    WganGp,
}

impl LossChoice {
    /// `cfg` trained with this loss. The two WGAN schemes replace the optimizers and the number
    /// of critic updates with R4's (an example may then set the learning rates again, as
    /// dcgan_mnist's --lr-d/--lr-g do; gaussian_ring's --opt, --k and learning rates give way),
    /// and the critic loses its batch normalisation (R4: a gradient penalty is per sample).
    pub fn apply(self, cfg: crate::gan::GanConfig) -> crate::gan::GanConfig {
        use crate::loss::LossKind;
        let no_bn = |mut c: crate::gan::GanConfig| {
            c.discriminator.layers.retain(|l| !matches!(l, crate::nn::Layer::BatchNorm(_)));
            c
        };
        match self {
            LossChoice::NonSaturating => crate::gan::GanConfig { loss: LossKind::NonSaturating, ..cfg },
            LossChoice::Minimax => crate::gan::GanConfig { loss: LossKind::Minimax, ..cfg },
            LossChoice::Hinge => crate::gan::GanConfig { loss: LossKind::Hinge, ..cfg },
            LossChoice::LeastSquares => crate::gan::GanConfig { loss: LossKind::LeastSquares, ..cfg },
            LossChoice::WganClip => no_bn(cfg).wgan_clip(0.01, 5, 5e-5),
            LossChoice::WganGp => no_bn(cfg).wgan_gp(10.0, 5, 1e-4),
        }
    }

    /// Whether this choice sets the optimizers and k itself.
    pub fn is_wgan(self) -> bool {
        matches!(self, LossChoice::WganClip | LossChoice::WganGp)
    }
}
