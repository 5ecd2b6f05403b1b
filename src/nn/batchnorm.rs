//! Batch normalisation (PyTorch's `nn.BatchNorm1d` for hw = 1 and `nn.BatchNorm2d`): γ = `weight`,
//! β = `bias`, and running statistics kept beside them. Kernels: `shaders/batchnorm.wgsl`.
//! A ReLU or LeakyReLU right after the layer runs inside its kernels: the normalisation stores it
//! too, and the backward kernels take the gradient through it (`GpuNet` offers it; every
//! family). Tests: `tests/batchnorm.rs`, `tests/fusion.rs`.

use super::{Act, CpuBackward, CpuForward, FusedAct, GpuBackward, GpuForward, LayerImpl, Mode, Param, Role};
use crate::error::{Error, Result};
use crate::gpu::budget::{lp, plan_tiles};
use crate::gpu::{Dispatch, Partials, Program};
use super::describe::Fields;
use super::Layer;
use serde_json::{json, Value};

/// Batch normalisation over `c` channels of `hw` positions each (hw = 1: BatchNorm1d).
///
/// ```
/// use wgpu_gan::nn::{BnSpec, LayerImpl, Mode};
/// let bn = BnSpec::new(3, 4);                                 // BatchNorm2d(3) on 2 × 2 maps
/// assert_eq!((bn.kind(), bn.eps, bn.momentum), ("BatchNorm2d", 1e-5, 0.1));
/// assert_eq!(bn.params().iter().map(|p| p.len()).collect::<Vec<_>>(), [3, 3]); // γ, β
/// assert!(bn.check_batch(1, Mode::Train).is_ok());            // 4 values per channel
/// assert!(BnSpec::new(3, 1).check_batch(1, Mode::Train).is_err()); // 1 value: no variance
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BnSpec {
    pub c: usize,
    pub hw: usize,
    pub eps: f32,
    pub momentum: f32,
}

impl BnSpec {
    /// Whether the element-wise kernels run four values at a time: four consecutive values share
    /// one channel (HW a multiple of 4) or are four channels (HW = 1, C a multiple of 4).
    ///
    /// ```
    /// use wgpu_gan::nn::BnSpec;
    /// assert!(BnSpec::new(3, 16).vec4());                  // 4 × 4 maps: four values of one channel
    /// assert!(BnSpec::new(8, 1).vec4());                   // BatchNorm1d(8): four channels side by side
    /// assert!(!BnSpec::new(3, 1).vec4() && !BnSpec::new(4, 9).vec4());
    /// ```
    pub fn vec4(&self) -> bool {
        self.hw % 4 == 0 || (self.hw == 1 && self.c % 4 == 0)
    }

    /// PyTorch's defaults: eps 1e-5, momentum 0.1.
    ///
    /// ```
    /// use wgpu_gan::nn::BnSpec;
    /// let bn = BnSpec::new(8, 49);                         // BatchNorm2d(8) on 7 × 7 maps
    /// assert_eq!(bn, BnSpec { c: 8, hw: 49, eps: 1e-5, momentum: 0.1 });
    /// ```
    pub fn new(c: usize, hw: usize) -> BnSpec {
        BnSpec { c, hw, eps: 1e-5, momentum: 0.1 }
    }
}

// ---------------------------------------------------------------- CPU reference

/// Statistics of one batch-norm pass: per channel mean and 1/√(var + eps), var biased.
///
/// ```
/// use wgpu_gan::nn::batchnorm::BnSaved;
/// let st = BnSaved { mean: vec![1.0, 2.0], invstd: vec![0.5, 0.25] };
/// assert_eq!(st.flat(), [1.0, 2.0, 0.5, 0.25]);
/// assert_eq!(BnSaved::from_flat(&st.flat(), 2), st);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BnSaved {
    pub mean: Vec<f32>,
    pub invstd: Vec<f32>,
}

/// Training-mode statistics of x (n, c, hw); updates `running` = (mean c, var c) by momentum with
/// the unbiased variance when given.
///
/// ```
/// use wgpu_gan::nn::batchnorm::batchnorm_stats;
/// let x = [1.0, 10.0, 3.0, 20.0];                  // n = 2 samples of c = 2 channels, hw = 1
/// let mut running = vec![0.0, 0.0, 1.0, 1.0];      // mean ++ var
/// let st = batchnorm_stats(&x, 2, 2, 1, 0.0, 0.5, Some(&mut running));
/// assert_eq!((st.mean, st.invstd), (vec![2.0, 15.0], vec![1.0, 0.2])); // variances 1 and 25
/// assert_eq!(running, [1.0, 7.5, 1.5, 25.5]);      // halfway to the means and unbiased variances 2, 50
/// ```
pub fn batchnorm_stats(x: &[f32], n: usize, c: usize, hw: usize, eps: f32, momentum: f32, running: Option<&mut [f32]>) -> BnSaved {
    let m = (n * hw) as f64;
    let vals = |ch: usize| (0..n).flat_map(move |i| x[(i * c + ch) * hw..(i * c + ch + 1) * hw].iter().map(|&v| v as f64));
    let mean: Vec<f64> = (0..c).map(|ch| vals(ch).sum::<f64>() / m).collect();
    let var: Vec<f64> = (0..c).map(|ch| vals(ch).map(|v| (v - mean[ch]).powi(2)).sum::<f64>() / m).collect();
    if let Some(r) = running {
        let mo = momentum as f64;
        for ch in 0..c {
            r[ch] = ((1.0 - mo) * r[ch] as f64 + mo * mean[ch]) as f32;
            r[c + ch] = ((1.0 - mo) * r[c + ch] as f64 + mo * var[ch] * m / (m - 1.0)) as f32;
        }
    }
    BnSaved {
        mean: mean.iter().map(|&v| v as f32).collect(),
        invstd: var.iter().map(|&v| (1.0 / (v + eps as f64).sqrt()) as f32).collect(),
    }
}

/// y = (x − mean)·invstd·γ + β with the given statistics (batch ones in training, running ones in
/// evaluation: see [`bn_eval_stats`]).
///
/// ```
/// use wgpu_gan::nn::batchnorm::{batchnorm_forward, BnSaved};
/// let st = BnSaved { mean: vec![2.0, 15.0], invstd: vec![1.0, 0.2] };
/// let y = batchnorm_forward(&[1.0, 10.0, 3.0, 20.0], &[1.0, 2.0], &[0.0, 1.0], &st, 2, 1);
/// assert_eq!(y, [-1.0, -1.0, 1.0, 3.0]);           // (x − mean)·invstd·γ + β, channels alternating
/// ```
pub fn batchnorm_forward(x: &[f32], gamma: &[f32], beta: &[f32], st: &BnSaved, c: usize, hw: usize) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / hw) % c;
            ((v as f64 - st.mean[ch] as f64) * st.invstd[ch] as f64 * gamma[ch] as f64 + beta[ch] as f64) as f32
        })
        .collect()
}

/// Evaluation-mode statistics from running (mean c, var c).
///
/// ```
/// use wgpu_gan::nn::batchnorm::bn_eval_stats;
/// let st = bn_eval_stats(&[1.0, 2.0, 4.0, 0.25], 2, 0.0);
/// assert_eq!((st.mean, st.invstd), (vec![1.0, 2.0], vec![0.5, 2.0]));
/// ```
pub fn bn_eval_stats(running: &[f32], c: usize, eps: f32) -> BnSaved {
    BnSaved {
        mean: running[..c].to_vec(),
        invstd: running[c..2 * c].iter().map(|&v| (1.0 / (v as f64 + eps as f64).sqrt()) as f32).collect(),
    }
}

/// Training-mode backward: returns (dx, dγ, dβ) for x (n, c, hw) and upstream dy.
///
/// ```
/// use wgpu_gan::nn::batchnorm::{batchnorm_backward, batchnorm_stats};
/// let x = [0.0, 1.0, 5.0];                                    // n = 3, one channel
/// let st = batchnorm_stats(&x, 3, 1, 1, 1e-5, 0.1, None);
/// let (dx, dgamma, dbeta) = batchnorm_backward(&x, &[1.0, 2.0, 3.0], &[1.0], &st, 3, 1, 1);
/// let xhat: Vec<f32> = x.iter().map(|v| (v - st.mean[0]) * st.invstd[0]).collect();
/// assert!((dgamma[0] - (xhat[0] + 2.0 * xhat[1] + 3.0 * xhat[2])).abs() < 1e-5); // Σ dy·x̂
/// assert_eq!(dbeta, [6.0]);                                   // Σ dy
/// assert!(dx.iter().sum::<f32>().abs() < 1e-5);               // shifting x changes nothing
/// ```
pub fn batchnorm_backward(x: &[f32], dy: &[f32], gamma: &[f32], st: &BnSaved, n: usize, c: usize, hw: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = (n * hw) as f64;
    let idx = |ch: usize| (0..n).flat_map(move |i| (i * c + ch) * hw..(i * c + ch + 1) * hw);
    let xhat = |i: usize, ch: usize| (x[i] as f64 - st.mean[ch] as f64) * st.invstd[ch] as f64;
    let s1: Vec<f64> = (0..c).map(|ch| idx(ch).map(|i| dy[i] as f64).sum()).collect();
    let s2: Vec<f64> = (0..c).map(|ch| idx(ch).map(|i| dy[i] as f64 * xhat(i, ch)).sum()).collect();
    let dx = (0..x.len())
        .map(|i| {
            let ch = (i / hw) % c;
            (gamma[ch] as f64 * st.invstd[ch] as f64 * (dy[i] as f64 - s1[ch] / m - xhat(i, ch) * s2[ch] / m)) as f32
        })
        .collect();
    (dx, s2.iter().map(|&v| v as f32).collect(), s1.iter().map(|&v| v as f32).collect())
}

impl BnSaved {
    /// mean ++ invstd, as a network's tape keeps it.
    ///
    /// ```
    /// use wgpu_gan::nn::batchnorm::BnSaved;
    /// let st = BnSaved { mean: vec![0.5, 1.0], invstd: vec![2.0, 4.0] };
    /// assert_eq!(st.flat(), [0.5, 1.0, 2.0, 4.0]);
    /// ```
    pub fn flat(&self) -> Vec<f32> {
        [self.mean.as_slice(), &self.invstd].concat()
    }

    /// From mean ++ invstd (the GPU keeps two more per-channel sums after them).
    ///
    /// ```
    /// use wgpu_gan::nn::batchnorm::BnSaved;
    /// let st = BnSaved::from_flat(&[1.0, 2.0, 0.5, 0.25, 9.0, 9.0, 9.0, 9.0], 2); // the GPU's sums ignored
    /// assert_eq!((st.mean, st.invstd), (vec![1.0, 2.0], vec![0.5, 0.25]));
    /// ```
    pub fn from_flat(v: &[f32], c: usize) -> BnSaved {
        BnSaved { mean: v[..c].to_vec(), invstd: v[c..2 * c].to_vec() }
    }
}

// ---------------------------------------------------------------- kernels

crate::uniform! {
    /// Uniform of `shaders/batchnorm.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct BnParams {
        pub n: u32,
        pub c: u32,
        pub hw: u32,
        /// bit 0 batch statistics, bit 1 accumulate dγ/dβ, bit 2 update running, bit 3 write dγ/dβ,
        /// bit 5 the backward kernels' dy is at the output of the fused activation after the layer,
        /// bit 6 that activation is a ReLU.
        pub flags: u32,
        pub eps: f32,
        pub momentum: f32,
        /// Split reductions: samples and positions per tile, tiles along the positions.
        pub n_per: u32,
        pub p_per: u32,
        pub p_splits: u32,
        /// The fused LeakyReLU's negative slope.
        pub slope: f32,
        pub _pad: [u32; 2],
    }
}

// The bits of `BnParams::flags`. Public for the crate's own modules and tests, not API.
#[doc(hidden)]
pub const BN_BATCH: u32 = 1;
#[doc(hidden)]
pub const BN_ACCUMULATE: u32 = 2;
#[doc(hidden)]
pub const BN_UPDATE_RUNNING: u32 = 4;
#[doc(hidden)]
pub const BN_PARAM_GRADS: u32 = 8;
#[doc(hidden)]
pub const BN_FUSED_ACT: u32 = 32;
#[doc(hidden)]
pub const BN_RELU: u32 = 64;

/// Trips of the batch-norm partial-sum kernels for a tile of `n_per` samples × `p_per` positions
/// (the statistics walk it twice: its mean, then its centred squares; the backward once).
// Public for the crate's own modules and tests, not API: the kernels' loop budget.
#[doc(hidden)]
pub fn bn_tile_trips(n_per: u64, p_per: u64) -> u64 {
    2 * (lp(n_per) + n_per * lp(p_per))
}

crate::kernel! {
    /// Per tile of each channel: its mean and Σ (x − that mean)².
    pub BnStatsPartial = "batchnorm" :: "batchnorm_stats_partial", BnParams { 1 x: Read, 9 part: ReadWrite }
    trips: |_, p| bn_tile_trips(p.n_per as u64, p.p_per as u64);
    textures: [x];
}
crate::kernel! {
    /// Mean and 1/σ (and the running statistics) from the tiles' means and centred sums.
    pub BnStatsFinish = "batchnorm" :: "batchnorm_stats_finish", BnParams { 5 stats: ReadWrite, 6 running: ReadWrite, 9 part: ReadWrite }
    // Reads the tiles' values twice (their means, then their centred sums).
    trips: |_, p| 2 * lp(p.p_splits as u64 * (p.n as u64).div_ceil(p.n_per.max(1) as u64));
}
crate::kernel! {
    /// y = x·invstd·γ + (β − mean·invstd·γ) with batch or running statistics; the `_act` entry
    /// also stores the ReLU or LeakyReLU after the layer into `act` (the plain one binds its
    /// output there and never stores it).
    pub BnForward = "batchnorm" :: ["batchnorm_forward", "batchnorm_forward_act"], BnParams { 1 x: Read, 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 6 running: ReadWrite, 7 out: ReadWrite, 13 act: ReadWrite }
    trips: |_, _| 0;
    textures: [x];
}
crate::kernel! {
    /// Per-tile Σ dy and Σ dy·x̂ of each channel.
    pub BnBackwardPartial = "batchnorm" :: "batchnorm_backward_partial", BnParams { 1 x: Read, 2 gamma: Read, 3 beta: Read, 4 dy: Read, 5 stats: ReadWrite, 9 part: ReadWrite }
    trips: |_, p| bn_tile_trips(p.n_per as u64, p.p_per as u64);
    textures: [x, dy];
}
crate::kernel! {
    /// The sums from the tiles; dγ into `out`, dβ into `out2`.
    pub BnBackwardFinish = "batchnorm" :: "batchnorm_backward_finish", BnParams { 5 stats: ReadWrite, 7 out: ReadWrite, 8 out2: ReadWrite, 9 part: ReadWrite }
    trips: |_, p| 2 * lp(p.p_splits as u64 * (p.n as u64).div_ceil(p.n_per.max(1) as u64));
}
crate::kernel! {
    /// dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M)
    pub BnBackwardInput = "batchnorm" :: "batchnorm_backward_input", BnParams { 1 x: Read, 2 gamma: Read, 3 beta: Read, 4 dy: Read, 5 stats: ReadWrite, 7 out: ReadWrite }
    trips: |_, _| 0;
    textures: [x, dy];
}
crate::kernel! {
    /// batchnorm_forward four values at a time ([`BnSpec::vec4`]).
    pub BnForward4 = "batchnorm" :: ["batchnorm_forward4", "batchnorm_forward4_act"], BnParams { 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 6 running: ReadWrite, 10 x4: Read, 12 out4: ReadWrite, 14 act4: ReadWrite }
    trips: |_, _| 0;
    textures: [x4];
}
crate::kernel! {
    /// batchnorm_backward_input four values at a time ([`BnSpec::vec4`]).
    pub BnBackwardInput4 = "batchnorm" :: "batchnorm_backward_input4", BnParams { 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 10 x4: Read, 11 dy4: Read, 12 out4: ReadWrite }
    trips: |_, _| 0;
    textures: [x4, dy4];
}

crate::kernel! {
    /// batchnorm_forward one (sample, channel) plane per invocation (software adapter, HW > 1).
    pub BnForwardPlanes = "batchnorm" :: ["batchnorm_forward_planes", "batchnorm_forward_planes_act"], BnParams { 1 x: Read, 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 6 running: ReadWrite, 7 out: ReadWrite, 13 act: ReadWrite }
    trips: |_, p| lp(p.hw as u64);
    textures: [x];
}
crate::kernel! {
    /// batchnorm_forward_planes over vec4s (HW a multiple of 4).
    pub BnForwardPlanes4 = "batchnorm" :: ["batchnorm_forward_planes4", "batchnorm_forward_planes4_act"], BnParams { 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 6 running: ReadWrite, 10 x4: Read, 12 out4: ReadWrite, 14 act4: ReadWrite }
    trips: |_, p| lp(p.hw as u64 / 4);
    textures: [x4];
}
crate::kernel! {
    /// batchnorm_backward_input one plane per invocation (software adapter, HW > 1).
    pub BnBackwardInputPlanes = "batchnorm" :: "batchnorm_backward_input_planes", BnParams { 1 x: Read, 2 gamma: Read, 3 beta: Read, 4 dy: Read, 5 stats: ReadWrite, 7 out: ReadWrite }
    trips: |_, p| lp(p.hw as u64);
    textures: [x, dy];
}
crate::kernel! {
    /// batchnorm_backward_input_planes over vec4s (HW a multiple of 4).
    pub BnBackwardInputPlanes4 = "batchnorm" :: "batchnorm_backward_input_planes4", BnParams { 2 gamma: Read, 3 beta: Read, 5 stats: ReadWrite, 10 x4: Read, 11 dy4: Read, 12 out4: ReadWrite }
    trips: |_, p| lp(p.hw as u64 / 4);
    textures: [x4, dy4];
}

/// Longest plane the per-plane kernels walk in one invocation (well under llvmpipe's loop budget).
const MAX_PLANE: usize = 16384;

impl BnSpec {
    /// Whether the per-plane kernels apply: with the software adapter's kernel family, for
    /// BatchNorm2d with planes of a length one invocation can walk. (Other families keep the flat
    /// kernels, whose parallelism a GPU wants; tests/batchnorm.rs runs both.)
    fn planes(&self, gpu: &crate::gpu::Gpu) -> bool {
        crate::ops::plane_kernels(gpu) && self.hw > 1 && self.hw <= MAX_PLANE
    }
}

impl BnParams {
    /// Parameters of a batch-norm layer at batch n, with its tiles planned.
    pub fn new(n: usize, bn: &BnSpec, flags: u32, parallel: u64) -> BnParams {
        // The backward pass reads x and dy.
        let t = plan_tiles(n as u32, bn.hw as u32, bn.c as u64, parallel, 8 * (bn.c * bn.hw) as u64, bn_tile_trips);
        BnParams {
            n: n as u32,
            c: bn.c as u32,
            hw: bn.hw as u32,
            flags,
            eps: bn.eps,
            momentum: bn.momentum,
            n_per: t.n_per,
            p_per: t.y_per,
            p_splits: t.y_tiles,
            slope: 0.0,
            _pad: [0; 2],
        }
    }

    pub fn tiles(&self) -> u32 {
        self.p_splits * self.n.div_ceil(self.n_per.max(1))
    }
}

/// A batch norm's finish launch, as a data-parallel run sees it (SyncBatchNorm,
/// [`crate::gan::dist`]): the partial sums in `part` that it reduces, per tile and channel.
///
/// Statistics (`backward` false): each tile's mean and Σ (x − mean)², which the ranks combine
/// into the whole batch's; the finish then runs with [`BnSync::global_params`] on one tile
/// holding them, so that it also updates the running statistics with the whole batch's count.
/// Gradients (`backward` true): each tile's Σ dy and Σ dy·x̂, averaged over the ranks (each
/// rank's dy is that of its own mean loss, 1/N of the whole batch's) before the finish.
// Public for the crate's own modules, not API.
#[doc(hidden)]
#[derive(Clone)]
pub struct BnSync {
    pub backward: bool,
    pub part: crate::gpu::Tensor,
    pub params: BnParams,
    pub stats: wgpu::Buffer,
    /// The statistics' running mean and variance (the statistics' finish only).
    pub running: Option<wgpu::Buffer>,
    /// dγ and dβ (the backward's finish only).
    pub grads: Option<[crate::gpu::Tensor; 2]>,
}

impl BnSync {
    /// The partial sums that launch `d` reduces, with its uniform, if it is a batch norm's
    /// finish.
    pub fn of(d: &Dispatch) -> Option<BnSync> {
        let p = d.sync()?;
        let params: BnParams = bytemuck::pod_read_unaligned(d.params.get(..std::mem::size_of::<BnParams>())?);
        Some(BnSync { backward: p.backward, part: p.part.clone(), params, stats: p.stats.clone(), running: p.running.clone(), grads: p.grads.clone() })
    }

    /// Values of `part` the launch reads: two per tile and channel.
    pub fn part_len(&self) -> usize {
        2 * self.params.tiles() as usize * self.params.c as usize
    }

    /// Values (samples × positions) of each tile, as the kernels' `tile_count`.
    pub fn tile_counts(&self) -> Vec<f64> {
        let p = &self.params;
        (0..p.tiles())
            .map(|k| {
                let n0 = (k / p.p_splits) * p.n_per;
                let i0 = (k % p.p_splits) * p.p_per;
                ((n0 + p.n_per).min(p.n) - n0) as f64 * ((i0 + p.p_per).min(p.hw) - i0) as f64
            })
            .collect()
    }

    /// The finish over `ranks` equal shards, reading one tile that the host writes into `part`
    /// first: for the statistics the whole batch's mean and centred sum (its count, for the
    /// running variance, that of the whole batch); for the backward sums, the ranks' mean of
    /// each rank's Σ dy and Σ dy·x̂ (the count unused: the input gradient's launch keeps this
    /// rank's own).
    pub fn global_params(&self, ranks: usize) -> BnParams {
        let n = if self.backward { self.params.n } else { self.params.n * ranks as u32 };
        BnParams { n, n_per: n, p_per: self.params.hw, p_splits: 1, ..self.params }
    }

    /// This rank's Σ dy and Σ dy·x̂ per channel (the backward sums: [Σ dy (c), Σ dy·x̂ (c)]),
    /// added up over its tiles in f64.
    pub fn local_sums(&self, part: &[f32]) -> Vec<f64> {
        let c = self.params.c as usize;
        let mut out = vec![0.0f64; 2 * c];
        for k in 0..self.params.tiles() as usize {
            for ch in 0..c {
                out[ch] += part[2 * k * c + ch] as f64;
                out[c + ch] += part[(2 * k + 1) * c + ch] as f64;
            }
        }
        out
    }

    /// Per channel (count, mean, Σ (x − mean)²) of this rank's batch from its tiles' `part`
    /// values, combined in f64 (Chan et al.'s pairwise update).
    pub fn local_moments(&self, part: &[f32]) -> Vec<[f64; 3]> {
        let c = self.params.c as usize;
        let counts = self.tile_counts();
        (0..c)
            .map(|ch| {
                let mut acc = [0.0f64; 3];
                for (k, &cnt) in counts.iter().enumerate() {
                    acc = combine_moments(acc, [cnt, part[2 * k * c + ch] as f64, part[(2 * k + 1) * c + ch] as f64]);
                }
                acc
            })
            .collect()
    }
}

/// Two groups' (count, mean, Σ (x − mean)²) as one's.
///
/// ```
/// use wgpu_gan::nn::batchnorm::combine_moments;
/// // {1, 3} and {5}: count 3, mean 3, Σ (x − 3)² = 4 + 0 + 4
/// assert_eq!(combine_moments([2.0, 2.0, 2.0], [1.0, 5.0, 0.0]), [3.0, 3.0, 8.0]);
/// assert_eq!(combine_moments([0.0; 3], [1.0, 5.0, 0.0]), [1.0, 5.0, 0.0]); // an empty group
/// ```
pub fn combine_moments(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    let n = a[0] + b[0];
    if n == 0.0 {
        return [0.0; 3];
    }
    let d = b[1] - a[1];
    [n, a[1] + d * b[0] / n, a[2] + b[2] + d * d * a[0] * b[0] / n]
}

// ---------------------------------------------------------------- the layer

/// The layer from its description, if `kind` is this layer's.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    let f = Fields { kind, v };
    matches!(kind, "BatchNorm1d" | "BatchNorm2d").then(|| Ok(Layer::BatchNorm(BnSpec { c: f.uint("num_features")?, hw: f.uint("positions")?, eps: f.float("eps")?, momentum: f.float("momentum")? })))
}

impl LayerImpl for BnSpec {
    fn kind(&self) -> &'static str {
        if self.hw == 1 {
            "BatchNorm1d"
        } else {
            "BatchNorm2d"
        }
    }

    fn validate(&self) -> Result<()> {
        let b = self;
        if b.c == 0 || b.hw == 0 || !(b.eps > 0.0) || !(0.0..=1.0).contains(&b.momentum) {
            return Err(Error::Shape(format!("BatchNorm {b:?} needs c, hw ≥ 1, eps > 0, momentum in [0, 1]")));
        }
        Ok(())
    }

    fn in_len(&self) -> Option<usize> {
        Some(self.c * self.hw)
    }

    fn out_len(&self, _inp: usize) -> usize {
        self.c * self.hw
    }

    fn check_batch(&self, n: usize, mode: Mode) -> Result<()> {
        if mode != Mode::Eval && n * self.hw < 2 {
            return Err(Error::Shape(format!(
                "{} with batch statistics needs at least two values per channel; batch {n} gives {}",
                self.kind(),
                n * self.hw
            )));
        }
        Ok(())
    }

    fn params(&self) -> Vec<Param> {
        vec![Param::new("weight", vec![self.c], Role::Scale), Param::new("bias", vec![self.c], Role::Shift)]
    }

    fn running(&self) -> Option<super::Running> {
        Some(([vec![0.0; self.c], vec![1.0; self.c]].concat(), vec![("running_mean", self.c), ("running_var", self.c)]))
    }

    /// On the GPU: mean, invstd, Σdy, Σdy·x̂ per channel; the CPU keeps the first two.
    fn saved_len(&self) -> usize {
        4 * self.c
    }

    fn scratch_len(&self, n: usize, parallel: u64) -> usize {
        2 * BnParams::new(n, self, 0, parallel).tiles() as usize * self.c
    }

    fn describe(&self) -> serde_json::Value {
        json!({ "num_features": self.c, "positions": self.hw, "eps": self.eps, "momentum": self.momentum })
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        let b = self;
        let st = match c.mode {
            Mode::Train => batchnorm_stats(c.x, c.n, b.c, b.hw, b.eps, b.momentum, c.running.map(|r| r.as_mut_slice())),
            Mode::BatchStats => batchnorm_stats(c.x, c.n, b.c, b.hw, b.eps, b.momentum, None),
            Mode::Eval => bn_eval_stats(c.running.expect("a batch norm has running statistics"), b.c, b.eps),
        };
        let y = batchnorm_forward(c.x, &c.params[0], &c.params[1], &st, b.c, b.hw);
        (y, if c.mode == Mode::Eval { Vec::new() } else { st.flat() })
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        let st = BnSaved::from_flat(c.saved, self.c);
        let (dx, dgamma, dbeta) = batchnorm_backward(c.x, c.dy, &c.params[0], &st, c.n, self.c, self.hw);
        (dx, if c.weight_grads { vec![dgamma, dbeta] } else { Vec::new() })
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        self.push_forward(c, None, prog)
    }

    /// Every family: the normalising kernels store the activation as well (`*_act`), and the
    /// backward kernels take the gradient through it ([`LayerImpl::gpu_backward_through`]).
    fn gpu_forward_fused(&self, c: &GpuForward<'_>, then: FusedAct<'_>, prog: &mut Program) -> Result<bool> {
        if then.act.piecewise().is_none() {
            return Ok(false);
        }
        self.push_forward(c, Some(then), prog)?;
        Ok(true)
    }

    fn gpu_backward_through(&self, c: &GpuBackward<'_>, above: Act, prog: &mut Program) -> Result<bool> {
        let Some((slope, relu)) = above.piecewise() else { return Ok(false) };
        self.push_backward(c, Some((slope, relu)), prog)?;
        Ok(true)
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        self.push_backward(c, None, prog)
    }

}

impl BnSpec {
    /// The forward pass: in training the batch statistics (one split pass and its finish), then
    /// the normalisation, storing the activation after the layer too when `then` is given.
    fn push_forward(&self, c: &GpuForward<'_>, then: Option<FusedAct<'_>>, prog: &mut Program) -> Result<()> {
        let (bn, n, gpu) = (self, c.n, c.gpu);
        let stats = &c.saved.expect("a batch norm keeps its statistics").buffer;
        let running = &c.running.expect("a batch norm has running statistics").buffer;
        bn.check_batch(n, c.mode)?;
        let mut p = BnParams::new(n, bn, 0, gpu.parallel_invocations());
        if c.mode != Mode::Eval {
            let part = &c.ws.scratch;
            c.ws.check_scratch(2 * p.tiles() as usize * bn.c, "batch norm statistics")?;
            p.flags = BN_BATCH | if c.mode == Mode::Train { BN_UPDATE_RUNNING } else { 0 };
            prog.push(Dispatch::new(gpu, &BnStatsPartial { x: c.x, part }, &p, Some(p.tiles() * bn.c as u32))?);
            let sync = Partials { backward: false, part: part.clone(), stats: stats.clone(), running: Some(running.clone()), grads: None };
            prog.push(Dispatch::new(gpu, &BnStatsFinish { stats, running, part }, &p, Some(bn.c as u32))?.with_sync(sync));
            p.flags = BN_BATCH;
        }
        // The `_act` entries store the activation after the layer too; the plain ones bind their
        // output as `act` and never store it.
        let (x, out, len) = (c.x, c.y, (n * bn.c * bn.hw) as u32);
        let act = then.map_or(out, |t| t.buf);
        if let Some((slope, relu)) = then.and_then(|t| t.act.piecewise()) {
            p.slope = slope;
            p.flags |= relu as u32 * BN_RELU;
        }
        let e = |plain: &'static str, fused: &'static str| if then.is_some() { fused } else { plain };
        let (gamma, beta) = (&c.params[0], &c.params[1]);
        let planes = (n * bn.c) as u32;
        prog.push(if bn.planes(gpu) && bn.hw % 4 == 0 {
            let entry = e("batchnorm_forward_planes4", "batchnorm_forward_planes4_act");
            Dispatch::new(gpu, &BnForwardPlanes4 { entry, gamma, beta, stats, running, x4: x, out4: out, act4: act }, &p, Some(planes))?
        } else if bn.planes(gpu) {
            let entry = e("batchnorm_forward_planes", "batchnorm_forward_planes_act");
            Dispatch::new(gpu, &BnForwardPlanes { entry, x, gamma, beta, stats, running, out, act }, &p, Some(planes))?
        } else if bn.vec4() {
            let entry = e("batchnorm_forward4", "batchnorm_forward4_act");
            Dispatch::new(gpu, &BnForward4 { entry, gamma, beta, stats, running, x4: x, out4: out, act4: act }, &p, Some(len / 4))?
        } else {
            let entry = e("batchnorm_forward", "batchnorm_forward_act");
            Dispatch::new(gpu, &BnForward { entry, x, gamma, beta, stats, running, out, act }, &p, Some(len))?
        });
        Ok(())
    }

    /// The backward pass; with `above` = (slope, ReLU or not), `c.dy` is the gradient at the
    /// output of the activation after the layer, which the forward pass stored.
    fn push_backward(&self, c: &GpuBackward<'_>, above: Option<(f32, bool)>, prog: &mut Program) -> Result<()> {
        let (bn, n, gpu) = (self, c.n, c.gpu);
        let stats = &c.saved.expect("a batch norm keeps its statistics").buffer;
        let flags = BN_BATCH | if c.weight_grads { BN_PARAM_GRADS | (c.accumulate as u32 * BN_ACCUMULATE) } else { 0 };
        let mut p = BnParams::new(n, bn, flags, gpu.parallel_invocations());
        if let Some((slope, relu)) = above {
            p.flags |= BN_FUSED_ACT | (relu as u32 * BN_RELU);
            p.slope = slope;
        }
        c.ws.check_scratch(2 * p.tiles() as usize * bn.c, "batch norm gradients")?;
        let part = &c.ws.scratch;
        let (gamma, beta) = (&c.params[0], &c.params[1]);
        prog.push(Dispatch::new(gpu, &BnBackwardPartial { x: c.x, gamma, beta, dy: c.dy, stats, part }, &p, Some(p.tiles() * bn.c as u32))?);
        // Without parameter gradients the kernel does not write them; the buffers fill the bindings.
        let (dgamma, dbeta) = (&c.grads[0], &c.grads[1]);
        let sync = Partials { backward: true, part: part.clone(), stats: stats.clone(), running: None, grads: Some([dgamma.clone(), dbeta.clone()]) };
        prog.push(Dispatch::new(gpu, &BnBackwardFinish { stats, out: dgamma, out2: dbeta, part }, &p, Some(bn.c as u32))?.with_sync(sync));
        if let Some(dx) = c.dx {
            let len = (n * bn.c * bn.hw) as u32;
            let planes = (n * bn.c) as u32;
            prog.push(if bn.planes(gpu) && bn.hw % 4 == 0 {
                Dispatch::new(gpu, &BnBackwardInputPlanes4 { gamma, beta, stats, x4: c.x, dy4: c.dy, out4: dx }, &p, Some(planes))?
            } else if bn.planes(gpu) {
                Dispatch::new(gpu, &BnBackwardInputPlanes { x: c.x, gamma, beta, dy: c.dy, stats, out: dx }, &p, Some(planes))?
            } else if bn.vec4() {
                Dispatch::new(gpu, &BnBackwardInput4 { gamma, beta, stats, x4: c.x, dy4: c.dy, out4: dx }, &p, Some(len / 4))?
            } else {
                Dispatch::new(gpu, &BnBackwardInput { x: c.x, gamma, beta, dy: c.dy, stats, out: dx }, &p, Some(len))?
            });
        }
        Ok(())
    }
}
