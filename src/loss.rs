//! The GAN objectives of SPEC.md §2 in one place: which loss ([`LossKind`]), its CPU reference
//! (on logits, in the stable softplus form), the statistics a training step reports ([`Stats`],
//! one `#[repr(C)]` struct that the WGSL writes by field name) and the kernels of
//! `shaders/loss.wgsl`. Tests: `tests/loss.rs`.

use crate::gpu::budget::lp;
use crate::gpu::{Dispatch, Gpu, Program, Tensor};
use crate::nn::activation::sigmoid;

/// Which GAN objective (SPEC.md §2). Discriminant values match the `kind` of `shaders/loss.wgsl`.
///
/// With logits l = D(x) before any sigmoid, real rows r and generated rows f:
/// - `Minimax` (the original game): D minimises mean softplus(−l_r) + mean softplus(l_f);
///   G minimises −mean softplus(l_f) (= mean log(1 − D(G(z)))), which saturates when D wins.
/// - `NonSaturating` (the usual fix): the same D loss; G minimises mean softplus(−l_f)
///   (= −mean log D(G(z))).
/// - `Wasserstein` (WGAN critic, no sigmoid): D minimises mean l_f − mean l_r; G minimises −mean l_f.
///   With weight clipping ([`crate::gan::GanConfig::wgan_clip`]) or the gradient penalty
///   ([`crate::gan::GanConfig::wgan_gp`], [`gradient_penalty`]).
/// - `Hinge` (raw output): D minimises mean relu(1 − l_r) + mean relu(1 + l_f); G minimises −mean l_f.
/// - `LeastSquares` (LSGAN, targets 1 for real and 0 for generated, raw output): D minimises
///   ½ mean (l_r − 1)² + ½ mean l_f²; G minimises ½ mean (l_f − 1)².
///
/// ```
/// use wgpu_gan::loss::LossKind;
/// assert!(LossKind::NonSaturating.uses_sigmoid() && !LossKind::Wasserstein.uses_sigmoid());
/// assert_eq!(LossKind::Hinge as u32, 3); // the `kind` the kernels read
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    Minimax = 0,
    NonSaturating = 1,
    Wasserstein = 2,
    Hinge = 3,
    LeastSquares = 4,
}

impl LossKind {
    /// Whether the loss reads the discriminator's output through a sigmoid (its statistics are
    /// then probabilities; otherwise raw outputs).
    ///
    /// ```
    /// use wgpu_gan::loss::LossKind;
    /// assert!(LossKind::Minimax.uses_sigmoid() && LossKind::NonSaturating.uses_sigmoid());
    /// for raw in [LossKind::Wasserstein, LossKind::Hinge, LossKind::LeastSquares] {
    ///     assert!(!raw.uses_sigmoid());
    /// }
    /// ```
    pub fn uses_sigmoid(self) -> bool {
        matches!(self, LossKind::Minimax | LossKind::NonSaturating)
    }
}

/// The discriminator's loss term for logit `l` of a real or generated sample, and its derivative.
///
/// ```
/// use wgpu_gan::loss::{d_term, LossKind};
/// assert_eq!(d_term(LossKind::Hinge, 0.5, true), (0.5, -1.0)); // relu(1 − l)
/// assert_eq!(d_term(LossKind::Hinge, -2.0, false), (0.0, 0.0)); // relu(1 + l): saturated
/// assert_eq!(d_term(LossKind::Wasserstein, 2.0, false), (2.0, 1.0));
/// let (loss, grad) = d_term(LossKind::Minimax, 0.0, true); // softplus(−0) = ln 2
/// assert!((loss - 2f64.ln()).abs() < 1e-6 && grad == -0.5);
/// ```
pub fn d_term(kind: LossKind, l: f32, real: bool) -> (f64, f32) {
    let l64 = l as f64;
    match (kind, real) {
        (LossKind::Wasserstein, true) => (-l64, -1.0),
        (LossKind::Wasserstein, false) => (l64, 1.0),
        (LossKind::Hinge, true) => ((1.0 - l64).max(0.0), if l < 1.0 { -1.0 } else { 0.0 }),
        (LossKind::Hinge, false) => ((1.0 + l64).max(0.0), if l > -1.0 { 1.0 } else { 0.0 }),
        (LossKind::LeastSquares, true) => (0.5 * (l64 - 1.0).powi(2), l - 1.0),
        (LossKind::LeastSquares, false) => (0.5 * l64 * l64, l),
        (_, true) => (softplus(-l) as f64, sigmoid(l) - 1.0),
        (_, false) => (softplus(l) as f64, sigmoid(l)),
    }
}

/// The generator's loss term for the logit of a generated sample, and its derivative.
///
/// ```
/// use wgpu_gan::loss::{g_term, LossKind};
/// assert_eq!(g_term(LossKind::LeastSquares, 3.0), (2.0, 2.0)); // ½ (l − 1)²
/// assert_eq!(g_term(LossKind::Wasserstein, 1.5), (-1.5, -1.0));
/// let (loss, grad) = g_term(LossKind::NonSaturating, 0.0); // softplus(−l)
/// assert!((loss - 2f64.ln()).abs() < 1e-6 && grad == -0.5);
/// ```
pub fn g_term(kind: LossKind, l: f32) -> (f64, f32) {
    match kind {
        LossKind::Minimax => (-softplus(l) as f64, -sigmoid(l)),
        LossKind::NonSaturating => (softplus(-l) as f64, sigmoid(l) - 1.0),
        LossKind::LeastSquares => (0.5 * (l as f64 - 1.0).powi(2), l - 1.0),
        LossKind::Wasserstein | LossKind::Hinge => (-l as f64, -1.0),
    }
}

/// What a training step reports (M4): the last discriminator update's loss, mean D(x), mean
/// D(G(z)) (sigmoid scores for minimax and non-saturating; raw outputs for Wasserstein, hinge and
/// least squares), accuracy on real and on generated samples, the generator's loss and WGAN-GP's
/// penalty. The GPU writes it as `struct Stats` of `shaders/prelude.wgsl` (from loss.wgsl and
/// penalty.wgsl), whose layout is checked against this one ([`check_stats_layout`]).
///
/// ```
/// use wgpu_gan::loss::Stats;
/// let s = Stats { d_loss: 1.25, penalty: 0.5, ..Default::default() };
/// assert_eq!(s.values(), [1.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]);
/// assert_eq!(Stats::FIELDS[6], ("penalty", 24));
/// assert_eq!(std::mem::size_of::<Stats>(), 28);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Stats {
    pub d_loss: f32,
    pub d_real: f32,
    pub d_fake: f32,
    pub acc_real: f32,
    pub acc_fake: f32,
    pub g_loss: f32,
    /// WGAN-GP's gradient penalty (included in `d_loss`); 0 for the other losses.
    pub penalty: f32,
}

impl Stats {
    /// Field names and byte offsets, in order (what the WGSL struct must match).
    ///
    /// ```
    /// use wgpu_gan::loss::Stats;
    /// assert_eq!(Stats::FIELDS[0], ("d_loss", 0));
    /// assert_eq!(Stats::FIELDS.len() * 4, std::mem::size_of::<Stats>()); // seven f32, no padding
    /// ```
    pub const FIELDS: [(&'static str, usize); 7] = [
        ("d_loss", std::mem::offset_of!(Stats, d_loss)),
        ("d_real", std::mem::offset_of!(Stats, d_real)),
        ("d_fake", std::mem::offset_of!(Stats, d_fake)),
        ("acc_real", std::mem::offset_of!(Stats, acc_real)),
        ("acc_fake", std::mem::offset_of!(Stats, acc_fake)),
        ("g_loss", std::mem::offset_of!(Stats, g_loss)),
        ("penalty", std::mem::offset_of!(Stats, penalty)),
    ];

    /// As a list of floats (for comparisons and logs), in field order.
    ///
    /// ```
    /// use wgpu_gan::loss::Stats;
    /// let s = Stats { d_real: 0.75, g_loss: 0.5, ..Default::default() };
    /// assert_eq!((s.values()[1], s.values()[5]), (0.75, 0.5));
    /// assert_eq!(s.values().len(), Stats::FIELDS.len());    // one per field, in order
    /// ```
    pub fn values(&self) -> [f32; 7] {
        [self.d_loss, self.d_real, self.d_fake, self.acc_real, self.acc_fake, self.g_loss, self.penalty]
    }
}

/// Checks that `struct Stats` of `shaders/prelude.wgsl` has [`Stats`]'s fields at its offsets and
/// its size, naming the first difference.
///
/// ```
/// // Reads the embedded WGSL with naga: no device needed.
/// assert!(wgpu_gan::loss::check_stats_layout().is_ok());
/// ```
pub fn check_stats_layout() -> crate::Result<()> {
    let src = crate::gpu::source("loss").expect("loss.wgsl is embedded"); // (the prelude defines it)
    let (module, _) = crate::gpu::validate("loss", &src)?;
    let err = |m: String| Err(crate::Error::Shader { file: "loss".into(), message: m });
    let Some(ty) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("Stats")) else {
        return err("no struct Stats".into());
    };
    let naga::TypeInner::Struct { members, span } = &ty.1.inner else {
        return err("Stats is not a struct".into());
    };
    let found: Vec<(String, usize)> = members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize)).collect();
    let want: Vec<(String, usize)> = Stats::FIELDS.iter().map(|(n, o)| (n.to_string(), *o)).collect();
    if found != want || *span as usize != std::mem::size_of::<Stats>() {
        return err(format!("struct Stats is {found:?} ({span} bytes) in the WGSL; the host's is {want:?} ({} bytes)", std::mem::size_of::<Stats>()));
    }
    Ok(())
}

/// The discriminator's loss on the GPU in one call, for use outside a training program (which
/// launches [`GanLossD`] inside its step): `logits` are D's scores of `n_fake` generated samples,
/// then of the real ones. Returns the statistics that a D loss fills (`d_loss`, `d_real`,
/// `d_fake`, `acc_real`, `acc_fake`; the others 0) and d(loss)/d(logit) for every logit.
///
/// ```
/// # fn main() -> wgpu_gan::Result<()> {
/// use wgpu_gan::loss::{gpu_d_loss, LossKind};
/// let gpu = wgpu_gan::gpu::Gpu::new()?;
/// // Two generated samples scored -2 and 1, one real sample scored 3.
/// let (stats, grad) = gpu_d_loss(&gpu, LossKind::Minimax, &[-2.0, 1.0, 3.0], 2)?;
/// let cpu = wgpu_gan::loss::gan_loss_d_forward(&[-2.0, 1.0, 3.0], 2, LossKind::Minimax);
/// assert!((stats.d_loss - cpu.d_loss).abs() < 1e-5 && stats.acc_fake == 0.5);
/// assert_eq!(grad.len(), 3);
/// # Ok(()) }
/// ```
pub fn gpu_d_loss(gpu: &Gpu, kind: LossKind, logits: &[f32], n_fake: usize) -> crate::Result<(Stats, Vec<f32>)> {
    if n_fake == 0 || n_fake >= logits.len() {
        return Err(crate::Error::Shape(format!("gpu_d_loss: {n_fake} generated among {} logits: both the generated and the real part need at least one", logits.len())));
    }
    let p = LossParams { n_fake: n_fake as u32, n_real: (logits.len() - n_fake) as u32, kind: kind as u32, _pad: 0 };
    let (stats, grad) = run_loss(gpu, logits, |l, out, stats| Dispatch::new(gpu, &GanLossD { logits: l, out, stats }, &p, None))?;
    Ok((stats, grad))
}

/// The generator's loss on the GPU in one call: `logits` are D's scores of generated samples.
/// Returns the loss and d(loss)/d(logit) for every logit.
///
/// ```
/// # fn main() -> wgpu_gan::Result<()> {
/// use wgpu_gan::loss::{gpu_g_loss, LossKind};
/// let gpu = wgpu_gan::gpu::Gpu::new()?;
/// let (loss, grad) = gpu_g_loss(&gpu, LossKind::NonSaturating, &[-1.0, 0.5])?;
/// assert!((loss - wgpu_gan::loss::gan_loss_g_forward(&[-1.0, 0.5], LossKind::NonSaturating)).abs() < 1e-5);
/// assert_eq!(grad, wgpu_gan::loss::gan_loss_g_backward(&[-1.0, 0.5], LossKind::NonSaturating));
/// # Ok(()) }
/// ```
pub fn gpu_g_loss(gpu: &Gpu, kind: LossKind, logits: &[f32]) -> crate::Result<(f32, Vec<f32>)> {
    if logits.is_empty() {
        return Err(crate::Error::Shape("gpu_g_loss: no logits".into()));
    }
    let p = LossParams { n_fake: logits.len() as u32, n_real: 0, kind: kind as u32, _pad: 0 };
    let (stats, grad) = run_loss(gpu, logits, |l, out, stats| Dispatch::new(gpu, &GanLossG { logits: l, out, stats }, &p, None))?;
    Ok((stats.g_loss, grad))
}

/// Runs one loss launch over `logits` into fresh buffers and reads back the statistics and the
/// gradient.
fn run_loss(gpu: &Gpu, logits: &[f32], launch: impl FnOnce(&Tensor, &Tensor, &Tensor) -> crate::Result<Dispatch>) -> crate::Result<(Stats, Vec<f32>)> {
    let l = Tensor::from_slice(gpu, "loss.logits", logits)?;
    let out = Tensor::zeros(gpu, "loss.grad", logits.len())?;
    let stats = Tensor::zeros(gpu, "loss.stats", Stats::FIELDS.len())?;
    Program { dispatches: vec![launch(&l, &out, &stats)?] }.run(gpu);
    let s = stats.read(gpu)?;
    Ok((bytemuck::pod_read_unaligned(bytemuck::cast_slice(&s)), out.read(gpu)?))
}

/// log(1 + eˣ), in the form that neither overflows for large x nor loses small values.
///
/// ```
/// use wgpu_gan::loss::softplus;
/// assert!((softplus(0.0) - 2f32.ln()).abs() < 1e-7);
/// assert_eq!(softplus(100.0), 100.0);
/// assert!(softplus(-100.0) > 0.0 && softplus(-100.0) < 1e-40);
/// ```
pub fn softplus(a: f32) -> f32 {
    a.max(0.0) + (-a.abs()).exp().ln_1p()
}

// ---------------------------------------------------------------- CPU reference

/// l (n_fake + n_real): fake rows first (target 0), then real rows (target 1) -> the D loss and
/// statistics (g_loss and penalty 0).
///
/// ```
/// use wgpu_gan::loss::{gan_loss_d_forward, LossKind};
/// // One generated sample scored −2, one real scored 0.5: hinge terms 0 and 0.5.
/// let s = gan_loss_d_forward(&[-2.0, 0.5], 1, LossKind::Hinge);
/// assert_eq!((s.d_loss, s.d_fake, s.d_real), (0.5, -2.0, 0.5)); // raw scores: no sigmoid
/// assert_eq!((s.acc_fake, s.acc_real, s.g_loss), (1.0, 1.0, 0.0));
/// ```
pub fn gan_loss_d_forward(l: &[f32], n_fake: usize, kind: LossKind) -> Stats {
    let (fake, real) = l.split_at(n_fake);
    let mean = |it: &mut dyn Iterator<Item = f64>, n: usize| (it.sum::<f64>() / n.max(1) as f64) as f32;
    let score = |v: f32| if kind.uses_sigmoid() { sigmoid(v) as f64 } else { v as f64 };
    Stats {
        d_loss: mean(&mut fake.iter().map(|&v| d_term(kind, v, false).0), fake.len()) + mean(&mut real.iter().map(|&v| d_term(kind, v, true).0), real.len()),
        d_real: mean(&mut real.iter().map(|&v| score(v)), real.len()),
        d_fake: mean(&mut fake.iter().map(|&v| score(v)), fake.len()),
        acc_real: mean(&mut real.iter().map(|&v| (v > 0.0) as u8 as f64), real.len()),
        acc_fake: mean(&mut fake.iter().map(|&v| (v < 0.0) as u8 as f64), fake.len()),
        g_loss: 0.0,
        penalty: 0.0,
    }
}

/// l (n_fake + n_real) -> dl (n_fake + n_real), the gradient of the D loss.
///
/// ```
/// use wgpu_gan::loss::{gan_loss_d_backward, LossKind};
/// // Wasserstein: mean l_f − mean l_r, two generated rows then one real.
/// assert_eq!(gan_loss_d_backward(&[3.0, -1.0, 2.0], 2, LossKind::Wasserstein), [0.5, 0.5, -1.0]);
/// ```
pub fn gan_loss_d_backward(l: &[f32], n_fake: usize, kind: LossKind) -> Vec<f32> {
    let n_real = l.len() - n_fake;
    l.iter().enumerate().map(|(i, &v)| d_term(kind, v, i >= n_fake).1 / if i < n_fake { n_fake } else { n_real } as f32).collect()
}

/// l (n) on generated samples -> the G loss.
///
/// ```
/// use wgpu_gan::loss::{gan_loss_g_forward, LossKind};
/// assert_eq!(gan_loss_g_forward(&[1.0, 3.0], LossKind::Wasserstein), -2.0);
/// assert_eq!(gan_loss_g_forward(&[1.0, 3.0], LossKind::LeastSquares), 1.0); // (0 + 2) / 2
/// ```
pub fn gan_loss_g_forward(l: &[f32], kind: LossKind) -> f32 {
    (l.iter().map(|&v| g_term(kind, v).0).sum::<f64>() / l.len().max(1) as f64) as f32
}

/// l (n) -> dl (n), the gradient of the G loss.
///
/// ```
/// use wgpu_gan::loss::{gan_loss_g_backward, LossKind};
/// assert_eq!(gan_loss_g_backward(&[1.0, 3.0], LossKind::LeastSquares), [0.0, 1.0]); // (l − 1) / n
/// assert_eq!(gan_loss_g_backward(&[1.0, 3.0], LossKind::Hinge), [-0.5, -0.5]);
/// ```
pub fn gan_loss_g_backward(l: &[f32], kind: LossKind) -> Vec<f32> {
    let n = l.len() as f32;
    l.iter().map(|&v| g_term(kind, v).1 / n).collect()
}

/// WGAN-GP's penalty on g (n, dim), the critic's gradient at each interpolate: (λ·mean_n
/// (‖g_n‖ − 1)², its gradient with respect to g).
///
/// ```
/// use wgpu_gan::loss::gradient_penalty;
/// // Rows of norm 5 and 0, λ = 10: 10 · ((5 − 1)² + (0 − 1)²) / 2.
/// let (p, grad) = gradient_penalty(&[3.0, 4.0, 0.0, 0.0], 2, 2, 10.0);
/// assert_eq!(p, 85.0);
/// assert_eq!(grad, [24.0, 32.0, 0.0, 0.0]); // 2λ(‖g‖ − 1)/(n‖g‖) · g; 0 at g = 0
/// ```
pub fn gradient_penalty(g: &[f32], n: usize, dim: usize, lambda: f32) -> (f32, Vec<f32>) {
    let mut total = 0.0f64;
    let mut gbar = vec![0.0; n * dim];
    for r in 0..n {
        let row = &g[r * dim..(r + 1) * dim];
        let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        total += lambda as f64 * (norm - 1.0).powi(2) / n as f64;
        if norm > 0.0 {
            let scale = lambda as f64 * 2.0 * (norm - 1.0) / (n as f64 * norm);
            for (o, &v) in gbar[r * dim..(r + 1) * dim].iter_mut().zip(row) {
                *o = (scale * v as f64) as f32;
            }
        }
    }
    (total as f32, gbar)
}

// ---------------------------------------------------------------- kernels

crate::uniform! {
    /// Uniform of `shaders/loss.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct LossParams {
        pub n_fake: u32,
        pub n_real: u32,
        pub kind: u32,
        pub _pad: u32,
    }
}

crate::uniform! {
    /// Uniform of `shaders/penalty.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct PenaltyParams {
        pub n: u32,
        pub dim: u32,
        pub lambda: f32,
        pub _pad: u32,
    }
}

crate::kernel! {
    /// Per row of g: the penalty term and its gradient ḡ.
    pub PenaltyRows = "penalty" :: "gradient_penalty_rows", PenaltyParams { 1 g: Read, 2 gbar: ReadWrite, 3 terms: ReadWrite }
    // Two passes over the row.
    trips: |_, p| 2 * lp(p.dim as u64);
}
crate::kernel! {
    /// stats.penalty = Σ terms, added to stats.d_loss (one workgroup).
    pub PenaltySum = "penalty" :: "gradient_penalty_sum", PenaltyParams { 3 terms: ReadWrite, 4 stats: ReadWrite }
    trips: |_, p| lp((p.n as u64).div_ceil(256)) + lp(8);
}

crate::kernel! {
    /// The discriminator's loss and statistics into `stats`, and d(loss)/dl into `out`, in one
    /// pass over the logits (one workgroup).
    pub GanLossD = "loss" :: "gan_loss_d", LossParams { 1 logits: Read, 2 out: ReadWrite, 3 stats: ReadWrite }
    // Strided sums over 256 invocations, then two tree reductions of log2(256) levels.
    trips: |_, p| lp((p.n_fake as u64).div_ceil(256)) + lp((p.n_real as u64).div_ceil(256)) + 2 * lp(8);
}
crate::kernel! {
    /// The generator's loss into `stats.g_loss`, and d(loss)/dl into `out` (one workgroup).
    pub GanLossG = "loss" :: "gan_loss_g", LossParams { 1 logits: Read, 2 out: ReadWrite, 3 stats: ReadWrite }
    trips: |_, p| lp((p.n_fake as u64).div_ceil(256)) + lp(8);
}
