//! Fréchet distance between two sets of feature vectors (the "FID" when the features come from a
//! fixed classifier network).
//!
//! Each set is summarised by a Gaussian N(μ, Σ) fitted to its rows, and the distance between the
//! two Gaussians is
//!
//! ```text
//! FID = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2·Tr((Σ₁Σ₂)^½)
//! ```
//!
//! (the squared 2-Wasserstein distance between the two normal distributions).
//!
//! # Computing Tr((Σ₁Σ₂)^½)
//!
//! The product Σ₁Σ₂ of two symmetric positive semi-definite matrices is in general not symmetric,
//! so taking a general matrix square root of it is numerically fragile (complex round-off
//! components, poor conditioning). Instead, with S = Σ₁^½ (the symmetric PSD square root, from an
//! eigendecomposition of Σ₁), write
//!
//! ```text
//! Σ₁Σ₂ = S·(S Σ₂)        and        M = S Σ₂ S = (S Σ₂)·S.
//! ```
//!
//! For any two square matrices, XY and YX have the same eigenvalues (with multiplicity), so Σ₁Σ₂
//! and M share their spectrum. That holds even when Σ₁ is singular, since no inverse of S is
//! needed. M is symmetric and positive semi-definite (it is Sᵀ Σ₂ S), so its eigenvalues λᵢ are
//! real and ≥ 0. The principal square root of Σ₁Σ₂ has eigenvalues √λᵢ, and a trace is the sum of
//! the eigenvalues, hence
//!
//! ```text
//! Tr((Σ₁Σ₂)^½) = Σᵢ √λᵢ(M).
//! ```
//!
//! Everything is done in f64. Round-off can make tiny eigenvalues of Σ₁ or M slightly negative;
//! they are clamped to 0 before taking square roots. M is symmetrised as (M + Mᵀ)/2 before its
//! eigendecomposition, because the floating-point product is only symmetric up to round-off.
//!
//! # Bias
//!
//! The FID from finite samples is a *biased* estimator: even two sample sets drawn from the same
//! distribution give a positive value, and the expected value depends on the sample count (it
//! shrinks as the count grows, roughly like 1/n). Values are therefore only comparable when they
//! were computed from the same number of samples on each side. This project always uses 2000
//! samples per set; a figure from another count must not be put beside those.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, SymmetricEigen};

/// A Gaussian fitted to a set of feature vectors.
///
/// ```
/// use wgpu_gan::metrics::fid::{frechet_distance, Gaussian};
/// let a = Gaussian { mean: vec![0.0, 0.0], cov: vec![1.0, 0.0, 0.0, 1.0], dim: 2, count: 2000 };
/// let b = Gaussian { mean: vec![3.0, 4.0], ..a.clone() };
/// assert!((frechet_distance(&a, &b)? - 25.0).abs() < 1e-9); // ‖μ₁ − μ₂‖²; the covariances cancel
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    /// Sample mean, length `dim`.
    pub mean: Vec<f64>,
    /// Unbiased sample covariance (divided by `count − 1`), `dim × dim`, row-major.
    pub cov: Vec<f64>,
    /// Feature dimension.
    pub dim: usize,
    /// Number of feature vectors it was fitted to. Compare FIDs only between equal counts.
    pub count: usize,
}

/// Mean and unbiased covariance (divided by n − 1) of the n row vectors of length `dim` in
/// `features` (row-major, n × dim), accumulated in f64 in two passes (mean first, then the
/// centred products).
///
/// Errors: [`Error::Shape`] when `dim` is 0, the length is not a multiple of `dim`, or there are
/// fewer than 2 rows; [`Error::NonFinite`] when a feature is NaN or infinite.
///
/// ```
/// use wgpu_gan::metrics::fid::gaussian;
/// let g = gaussian(&[0.0, 0.0, 2.0, 0.0, 1.0, 3.0], 2)?;   // (0, 0), (2, 0), (1, 3)
/// assert_eq!((g.mean, g.count), (vec![1.0, 1.0], 3));
/// assert_eq!(g.cov, [1.0, 0.0, 0.0, 3.0]);                 // sums of squares 2 and 6, over n − 1
/// assert!(gaussian(&[1.0, 2.0], 2).is_err());              // one row: no covariance
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn gaussian(features: &[f32], dim: usize) -> Result<Gaussian> {
    if dim == 0 {
        return Err(Error::Shape("FID features: dimension 0".into()));
    }
    if !features.len().is_multiple_of(dim) {
        return Err(Error::Shape(format!(
            "FID features: length {} is not a multiple of the dimension {dim}",
            features.len()
        )));
    }
    let n = features.len() / dim;
    if n < 2 {
        return Err(Error::Shape(format!(
            "FID features: {n} vector(s) of dimension {dim}; a covariance needs at least 2"
        )));
    }
    if let Some(i) = features.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!(
            "FID features: value {} at row {}, column {}",
            features[i],
            i / dim,
            i % dim
        )));
    }

    // Pass 1: the mean.
    let mut mean = vec![0.0f64; dim];
    for row in features.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }

    // Pass 2: the centred data (n × dim), then Xcᵀ Xc / (n − 1).
    let xc = DMatrix::from_fn(n, dim, |r, c| features[r * dim + c] as f64 - mean[c]);
    let mut cov_m = xc.tr_mul(&xc);
    cov_m /= (n - 1) as f64;
    // Exactly symmetric (the product is, but make it explicit) and row-major.
    let mut cov = vec![0.0f64; dim * dim];
    for i in 0..dim {
        for j in 0..dim {
            cov[i * dim + j] = 0.5 * (cov_m[(i, j)] + cov_m[(j, i)]);
        }
    }
    Ok(Gaussian {
        mean,
        cov,
        dim,
        count: n,
    })
}

fn check(g: &Gaussian, which: &str) -> Result<()> {
    if g.dim == 0 || g.mean.len() != g.dim || g.cov.len() != g.dim * g.dim {
        return Err(Error::Shape(format!(
            "Fréchet distance: Gaussian {which} has dim {}, mean of length {}, covariance of length {}",
            g.dim,
            g.mean.len(),
            g.cov.len()
        )));
    }
    if g.mean.iter().chain(&g.cov).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!(
            "Fréchet distance: Gaussian {which} has a non-finite mean or covariance"
        )));
    }
    Ok(())
}

/// Symmetric PSD square root of a symmetric matrix (negative eigenvalues from round-off clamped
/// to 0).
fn sqrt_psd(a: DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(a);
    let q = &eig.eigenvectors;
    let d = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    // Q diag(√λ) Qᵀ
    let mut qd = q.clone();
    for (j, mut col) in qd.column_iter_mut().enumerate() {
        col *= d[j];
    }
    let s = &qd * q.transpose();
    (&s + s.transpose()) * 0.5
}

/// Tr((Σ₁Σ₂)^½) by the symmetric route described in the module documentation.
fn trace_sqrt_product(s1: &DMatrix<f64>, s2: &DMatrix<f64>) -> f64 {
    let s = sqrt_psd(s1.clone());
    let m = &s * s2 * &s;
    let m = (&m + m.transpose()) * 0.5;
    let eig = SymmetricEigen::new(m);
    eig.eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).sum()
}

/// The Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) between two Gaussians of the same
/// dimension. Mathematically ≥ 0; a result that round-off pushes below 0 is returned as 0.
///
/// Errors: [`Error::Shape`] when the dimensions differ or a Gaussian is inconsistent;
/// [`Error::NonFinite`] when an input or the result is not finite.
///
/// ```
/// use wgpu_gan::metrics::fid::{frechet_distance, Gaussian};
/// // equal means, covariances diag(1, 4) and diag(4, 1): 5 + 5 − 2·Tr(diag(2, 2)) = 2
/// let a = Gaussian { mean: vec![0.0; 2], cov: vec![1.0, 0.0, 0.0, 4.0], dim: 2, count: 10 };
/// let b = Gaussian { cov: vec![4.0, 0.0, 0.0, 1.0], ..a.clone() };
/// assert!((frechet_distance(&a, &b)? - 2.0).abs() < 1e-9);
/// let c = Gaussian { mean: vec![0.0; 3], cov: vec![0.0; 9], dim: 3, count: 10 };
/// assert!(frechet_distance(&a, &c).is_err());              // dimensions differ
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> Result<f64> {
    check(a, "a")?;
    check(b, "b")?;
    if a.dim != b.dim {
        return Err(Error::Shape(format!(
            "Fréchet distance between Gaussians of dimensions {} and {}",
            a.dim, b.dim
        )));
    }
    let d = a.dim;
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let tr_a: f64 = (0..d).map(|i| a.cov[i * d + i]).sum();
    let tr_b: f64 = (0..d).map(|i| b.cov[i * d + i]).sum();
    let ma = DMatrix::from_row_slice(d, d, &a.cov);
    let mb = DMatrix::from_row_slice(d, d, &b.cov);
    let tr_sqrt = trace_sqrt_product(&ma, &mb);
    let fid = mean_term + tr_a + tr_b - 2.0 * tr_sqrt;
    if !fid.is_finite() {
        return Err(Error::NonFinite(format!(
            "Fréchet distance came out as {fid}"
        )));
    }
    Ok(fid.max(0.0))
}

/// FID between two sets of feature vectors (each row-major, n × `dim`): [`gaussian`] of both, then
/// [`frechet_distance`]. Use the same number of vectors on both sides and across comparisons
/// (2000 in this project): the estimate is biased by the sample count.
///
/// ```
/// use wgpu_gan::metrics::fid::fid;
/// let a = [0.0, 0.0, 2.0, 0.0, 1.0, 3.0];                   // three 2-D feature vectors
/// let shifted: Vec<f32> = a.iter().map(|v| v + 1.0).collect();
/// assert!(fid(&a, &a, 2)? < 1e-9);
/// assert!((fid(&a, &shifted, 2)? - 2.0).abs() < 1e-9);     // ‖(1, 1)‖², the same covariance
/// assert!(fid(&a, &[f32::NAN; 6], 2).is_err());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn fid(feat_a: &[f32], feat_b: &[f32], dim: usize) -> Result<f64> {
    let a = gaussian(feat_a, dim)?;
    let b = gaussian(feat_b, dim)?;
    frechet_distance(&a, &b)
}
