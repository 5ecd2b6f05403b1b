//! Measures of SPEC.md §5.
//!
//! M1, mode coverage on the toy mixtures: a sample is *high quality* when it lies within 3σ of its
//! nearest centre; a mode is *covered* when it is the nearest centre of at least one high-quality
//! sample (SPEC's rule). Because a single stray point is weak evidence, `modes_strict` also counts
//! the modes holding at least 1 % of the high-quality samples, reported beside it, never instead.
//! The reverse KL is KL(q ‖ uniform) where q is the histogram of high-quality samples over modes.

pub mod classifier;
pub mod fid;

use crate::data::Mixture;

/// M1 of a set of points (see [`mode_coverage`]).
///
/// ```
/// use wgpu_gan::{data::Mixture, metrics::mode_coverage};
/// // three points on mode 0 (1, 0), one on mode 2 (0, 1), one between modes
/// let points = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
/// let m = mode_coverage(&points, &Mixture::ring());
/// assert_eq!((m.samples, m.modes_total, m.modes_covered, m.high_quality_pct), (5, 8, 2, 80.0));
/// assert_eq!(m.counts, [3, 0, 1, 0, 0, 0, 0, 0]);
/// assert!(m.to_string().starts_with("modes 2/8"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModeCoverage {
    pub samples: usize,
    pub modes_total: usize,
    /// Modes that are the nearest centre of ≥ 1 high-quality sample.
    pub modes_covered: usize,
    /// Modes holding ≥ 1 % of the high-quality samples.
    pub modes_strict: usize,
    /// Share of samples within 3σ of their nearest centre, in percent.
    pub high_quality_pct: f32,
    /// KL(histogram of high-quality samples over modes ‖ uniform); ∞ if there are none.
    pub reverse_kl: f32,
    /// High-quality samples per mode.
    pub counts: Vec<usize>,
}

impl std::fmt::Display for ModeCoverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "modes {}/{} (≥1% of HQ: {}), high quality {:.1}%, reverse KL {:.4} over {} samples",
            self.modes_covered, self.modes_total, self.modes_strict, self.high_quality_pct, self.reverse_kl, self.samples
        )
    }
}

/// M1 per condition for a conditional toy GAN: for each component c, the share (percent) of the
/// samples asked for with label c that are high quality (within 3σ of their nearest centre) and
/// land in mode c.
///
/// ```
/// use wgpu_gan::{data::Mixture, metrics::conditional_hits};
/// let ring = Mixture::ring();
/// let c = ring.flat_centres();
/// // both asked for mode 0: one lands on it, the other on mode 1
/// let hits = conditional_hits(&[c[0], c[1], c[2], c[3]], &[0, 0], &ring);
/// assert_eq!(hits.len(), 8);
/// assert_eq!((hits[0], hits[1]), (50.0, 0.0));         // mode 1 was never asked for
/// ```
pub fn conditional_hits(points: &[f32], labels: &[u32], mix: &Mixture) -> Vec<f32> {
    let limit = 3.0 * mix.sigma;
    let mut asked = vec![0usize; mix.centres.len()];
    let mut hit = vec![0usize; mix.centres.len()];
    for (p, &l) in points.chunks_exact(2).zip(labels) {
        let c = mix.centres[l as usize];
        asked[l as usize] += 1;
        if ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt() <= limit {
            hit[l as usize] += 1;
        }
    }
    asked.iter().zip(&hit).map(|(&a, &h)| if a == 0 { 0.0 } else { 100.0 * h as f32 / a as f32 }).collect()
}

/// M1 for points (n,2) against a mixture.
///
/// ```
/// use wgpu_gan::{data::Mixture, metrics::mode_coverage};
/// let ring = Mixture::ring();
/// let every = mode_coverage(&ring.flat_centres(), &ring);        // one point per mode
/// assert_eq!((every.modes_covered, every.modes_strict, every.reverse_kl), (8, 8, 0.0));
/// let one = mode_coverage(&[1.0, 0.0, 1.0, 0.0], &ring);         // all on mode 0
/// assert!(one.modes_covered == 1 && (one.reverse_kl - 8f32.ln()).abs() < 1e-6);
/// assert_eq!(mode_coverage(&[9.0, 9.0], &ring).reverse_kl, f32::INFINITY); // nothing near
/// ```
pub fn mode_coverage(points: &[f32], mix: &Mixture) -> ModeCoverage {
    let n = points.len() / 2;
    let mut counts = vec![0usize; mix.centres.len()];
    let limit = 3.0 * mix.sigma;
    for p in points.chunks_exact(2) {
        let (best, d2) = mix
            .centres
            .iter()
            .enumerate()
            .map(|(i, c)| (i, (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)))
            .fold((0, f32::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        if d2.sqrt() <= limit {
            counts[best] += 1;
        }
    }
    let hq: usize = counts.iter().sum();
    let k = counts.len() as f64;
    let reverse_kl = if hq == 0 {
        f32::INFINITY
    } else {
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let q = c as f64 / hq as f64;
                q * (q * k).ln()
            })
            .sum::<f64>() as f32
    };
    ModeCoverage {
        samples: n,
        modes_total: counts.len(),
        modes_covered: counts.iter().filter(|&&c| c > 0).count(),
        modes_strict: counts.iter().filter(|&&c| c * 100 >= hq.max(1)).count(),
        high_quality_pct: if n == 0 { 0.0 } else { 100.0 * hq as f32 / n as f32 },
        reverse_kl,
        counts,
    }
}
