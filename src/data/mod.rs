//! Data sources. The toy mixtures of SPEC.md (R1) are sampled on the GPU by
//! `shaders/rng.wgsl::mixture_sample`; this module describes them.

pub mod images;
pub mod mnist;
pub mod stream;

/// An equal-weight mixture of isotropic 2-D Gaussians.
///
/// ```
/// use wgpu_gan::data::Mixture;
/// let grid = Mixture::grid();
/// assert_eq!((grid.centres.len(), grid.sigma), (25, 0.05));
/// assert_eq!(grid.flat_centres()[..4], [-4.0, -4.0, -4.0, -2.0]); // x, y of the first two
/// assert_eq!(grid.extent(), 4.0 * 1.5 + 0.1);                   // plots show [−6.1, 6.1]²
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    pub name: &'static str,
    pub centres: Vec<[f32; 2]>,
    pub sigma: f32,
}

impl Mixture {
    /// 8 Gaussians on the unit circle at angles 2πi/8, σ = 0.01 (PacGAN's ring).
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, metrics::mode_coverage};
    /// let ring = Mixture::ring();
    /// let at_centres: Vec<f32> = ring.centres.iter().flatten().copied().collect();
    /// let m = mode_coverage(&at_centres, &ring);                 // M1
    /// assert_eq!((m.modes_covered, m.high_quality_pct), (8, 100.0));
    /// ```
    pub fn ring() -> Mixture {
        let centres = (0..8)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / 8.0;
                [a.cos() as f32, a.sin() as f32]
            })
            .collect();
        Mixture { name: "ring", centres, sigma: 0.01 }
    }

    /// 25 Gaussians at {−4,−2,0,2,4}², σ = 0.05 (PacGAN's grid).
    ///
    /// ```
    /// use wgpu_gan::data::Mixture;
    /// let grid = Mixture::grid();
    /// assert_eq!((grid.name, grid.centres.len(), grid.sigma), ("grid", 25, 0.05));
    /// assert_eq!((grid.centres[0], grid.centres[24]), ([-4.0, -4.0], [4.0, 4.0]));
    /// ```
    pub fn grid() -> Mixture {
        let mut centres = Vec::new();
        for i in 0..5 {
            for j in 0..5 {
                centres.push([-4.0 + 2.0 * i as f32, -4.0 + 2.0 * j as f32]);
            }
        }
        Mixture { name: "grid", centres, sigma: 0.05 }
    }

    /// The centres back to back, x then y of each.
    ///
    /// ```
    /// use wgpu_gan::data::Mixture;
    /// let ring = Mixture::ring();
    /// let flat = ring.flat_centres();
    /// assert_eq!(flat.len(), 2 * 8);
    /// assert_eq!(flat[2..4], ring.centres[1]);                 // x, y of centre 1
    /// ```
    pub fn flat_centres(&self) -> Vec<f32> {
        self.centres.iter().flat_map(|c| *c).collect()
    }

    /// Half-width of a square that holds the mixture with a margin, for plots.
    ///
    /// ```
    /// use wgpu_gan::data::Mixture;
    /// assert_eq!(Mixture::ring().extent(), 1.0 * 1.5 + 0.1);  // radius 1
    /// let one = Mixture { name: "one", centres: vec![[0.5, -2.0]], sigma: 0.1 };
    /// assert_eq!(one.extent(), 2.0 * 1.5 + 0.1);               // the largest |coordinate|, 2
    /// ```
    pub fn extent(&self) -> f32 {
        let r = self.centres.iter().flat_map(|c| c.iter().map(|v| v.abs())).fold(0.0, f32::max);
        r * 1.5 + 0.1
    }
}
