//! Loop budgets: how many loop iterations one invocation of each kernel runs for the shape at
//! hand, the guard that refuses a launch past the software adapter's limit, and the tiling of
//! split reductions that keeps every kernel under it.
//!
//! Mesa's llvmpipe (the software Vulkan adapter) compiles every shader with a loop limiter: one
//! counter per invocation, shared by all of that invocation's loops, allows 65,535 iterations in
//! all; a loop of t trips costs t + 1, nested loops count every inner and outer trip, and once the
//! counter is spent every remaining loop runs exactly once. Nothing reports it: a long reduction
//! simply returns a partial sum. So every kernel here declares, in [`loop_trips`], an upper bound
//! of that count as a function of its uniform parameters, and [`check`] turns a launch past the
//! budget into an error naming the kernel and its shape when the adapter is a CPU one (or unknown).
//! The reductions whose length grows with the batch (weight and bias gradients, batch-norm
//! statistics) are split into tiles by [`plan_tiles`] so that they stay far below it.

use crate::error::{Error, Result};
use crate::loss::LossParams;
use crate::metrics::classifier::ClassifyParams;
use crate::nn::batchnorm::BnParams;
use crate::nn::conv::ConvParams;
use crate::nn::conv_gemm::{Geometry, Phase, SgemmParams};
use crate::nn::gemm::GemmParams;
use crate::nn::linear::LinearParams;
use crate::nn::split::ReduceParams;
use crate::rng::RngParams;

/// Iterations llvmpipe allows one invocation, summed over all of its loops.
pub const LOOP_BUDGET: u64 = 65_535;

/// Trips a tile of a split reduction aims at: long enough to amortise writing and re-reading its
/// partial sum, a quarter of the budget.
pub const TILE_TRIPS: u64 = 16384;
/// Invocations a split reduction tries to offer a hardware GPU before it stops making tiles
/// smaller: enough to fill its cores.
pub const PARALLEL_INVOCATIONS_GPU: u64 = 16384;
/// The same for a CPU adapter, whose few threads are kept busy by far fewer invocations and which
/// pays for every extra tile (R2's weight gradients at batch 64 took twice as long on llvmpipe
/// with the GPU's target: 1,656 ms against 813 ms per step).
pub const PARALLEL_INVOCATIONS_CPU: u64 = 1024;
/// Tiles are not made shorter than this for the sake of parallelism.
pub const MIN_TILE_TRIPS: u64 = 512;

/// Cost of a loop of `t` trips as llvmpipe counts it.
fn lp(t: u64) -> u64 {
    t + 1
}

/// The cost of the 4×4 block stores of the register-blocked kernels (two nested loops of 4).
const STORE4X4: u64 = 5 + 4 * 5;

/// How a reduction over `n` samples × `rows` rows is cut into tiles: `n_per` samples by `y_per`
/// rows each, `n_tiles` × `y_tiles` of them (the kernels number a tile n-major: tile =
/// n_tile · y_tiles + y_tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiles {
    pub n_per: u32,
    pub n_tiles: u32,
    pub y_per: u32,
    pub y_tiles: u32,
}

impl Tiles {
    pub fn count(&self) -> u32 {
        self.n_tiles * self.y_tiles
    }
}

/// Bytes of input one tile should read at most, so that all the invocations working on a tile
/// find its data in cache: on the 2-core software adapter (32 MiB of L3) R2's largest weight
/// gradient at batch 256 took 2.0 s with two 19 MB tiles and 1.0 s with 4 MB ones, while at
/// batch 64 one 4.8 MB tile beat five 1.1 MB ones by 13 %.
pub const TILE_BYTES: u64 = 6 << 20;

/// Tiles for a reduction over `n` samples × `rows` rows, where `trips(n_per, y_per)` is what one
/// invocation of the first pass runs for a tile, `per_tile` is how many invocations each tile
/// has and `sample_bytes` is how much input one sample contributes. Tiles are cut down until one
/// costs at most [`TILE_TRIPS`] and reads at most [`TILE_BYTES`], then further (not below
/// [`MIN_TILE_TRIPS`]) until the launch has `parallel` invocations, and finally evened out so
/// that no tile is a sliver. A tile of one sample and one row that still costs more than the
/// budget is left as it is for [`check`] to refuse.
pub fn plan_tiles(n: u32, rows: u32, per_tile: u64, parallel: u64, sample_bytes: u64, trips: impl Fn(u64, u64) -> u64) -> Tiles {
    let (n, rows) = (n.max(1) as u64, rows.max(1) as u64);
    let mut y_per = rows;
    while y_per > 1 && trips(1, y_per) > TILE_TRIPS {
        y_per = y_per.div_ceil(2);
    }
    // The largest sample count whose tile fits (trips grow with n_per).
    let (mut lo, mut hi) = (1u64, n.min((TILE_BYTES / sample_bytes.max(1)).max(1)));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if trips(mid, y_per) <= TILE_TRIPS {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut n_per = lo;
    loop {
        let tiles = n.div_ceil(n_per) * rows.div_ceil(y_per);
        if per_tile * tiles >= parallel {
            break;
        }
        if n_per > 1 && trips(n_per.div_ceil(2), y_per) >= MIN_TILE_TRIPS {
            n_per = n_per.div_ceil(2);
        } else if y_per > 1 && trips(n_per, y_per.div_ceil(2)) >= MIN_TILE_TRIPS {
            y_per = y_per.div_ceil(2);
        } else {
            break;
        }
    }
    // Even tiles: as many as needed, each as equal as the counts allow.
    let n_per = n.div_ceil(n.div_ceil(n_per));
    let y_per = rows.div_ceil(rows.div_ceil(y_per));
    let u = |v: u64| v as u32;
    Tiles { n_per: u(n_per), n_tiles: u(n.div_ceil(n_per)), y_per: u(y_per), y_tiles: u(rows.div_ceil(y_per)) }
}

fn decode<T: bytemuck::Pod>(kernel: &str, params: &[u8]) -> Result<T> {
    let size = std::mem::size_of::<T>();
    if params.len() < size {
        return Err(Error::Shape(format!("{kernel}: {} bytes of parameters, its uniform needs {size}", params.len())));
    }
    Ok(bytemuck::pod_read_unaligned(&params[..size]))
}

/// Upper bound of the loop iterations (as llvmpipe counts them) that one invocation of `kernel`
/// ("file::entry") runs with these uniform parameters. Every entry point of every shader must be
/// listed: an unlisted kernel is an error at launch creation, so a new kernel cannot skip the
/// guard. Keep each formula next to the loops it describes in mind: it counts every loop as
/// written, `continue`d trips included.
pub fn loop_trips(kernel: &str, params: &[u8]) -> Result<u64> {
    let u = |v: u32| v as u64;
    Ok(match kernel {
        // Element-wise kernels: no loops.
        "activation::relu_forward" | "activation::relu_backward" | "activation::leaky_relu_forward" | "activation::leaky_relu_backward"
        | "activation::tanh_forward" | "activation::tanh_backward" | "activation::sigmoid_forward" | "activation::sigmoid_backward"
        | "activation::relu_forward4" | "activation::relu_backward4" | "activation::leaky_relu_forward4" | "activation::leaky_relu_backward4"
        | "activation::tanh_forward4" | "activation::tanh_backward4" | "activation::sigmoid_forward4" | "activation::sigmoid_backward4"
        | "activation::copy_range" | "optim::sgd_step" | "optim::adam_step" | "optim::adam_step4" | "optim::rmsprop_step" | "rng::randn_fill" | "rng::mixture_sample"
        | "rng::shift_images" | "rng::interpolate" | "rng::random_labels" | "rng::mixture_labeled" | "cond::append_onehot" | "cond::take_columns" | "cond::project" | "cond::project_backward" | "step::advance_step" | "batchnorm::batchnorm_forward" | "batchnorm::batchnorm_forward4" | "batchnorm::batchnorm_forward_act" | "batchnorm::batchnorm_forward4_act" | "batchnorm::batchnorm_backward_input4"
        | "batchnorm::batchnorm_backward_input" => 0,
        "linear::linear_forward" => {
            let p: LinearParams = decode(kernel, params)?;
            lp(u(p.in_f)) + lp(4) + STORE4X4
        }
        "linear::linear_backward_input" => {
            let p: LinearParams = decode(kernel, params)?;
            lp(u(p.out_f)) + STORE4X4
        }
        // No loop: IN < 4 is unrolled.
        "linear::linear_forward_thin_in" | "linear::linear_forward_thin_in_act" => 0,
        "linear::linear_forward_thin_out" => {
            // One of three sums over IN / 4 (the others stop at once), then one store per output.
            let p: LinearParams = decode(kernel, params)?;
            lp(u(p.in_f / 4)) + 2 * lp(0) + lp(u(p.out_f))
        }
        "linear::linear_backward_input4" | "linear::linear_backward_input4_dact" => {
            let p: LinearParams = decode(kernel, params)?;
            lp(u(p.out_f))
        }
        "linear::linear_backward_bias" | "linear::linear_backward_weight_thin_dy" | "linear::linear_backward_weight_thin_x" => {
            let p: LinearParams = decode(kernel, params)?;
            lp(u(p.n_per))
        }
        "conv::conv2d_forward" => {
            let p: ConvParams = decode(kernel, params)?;
            let (ci, kh, kw) = (u(p.cin), u(p.kh), u(p.kw));
            lp(ci) + ci * lp(kh) + ci * kh * lp(kw) + STORE4X4
        }
        "conv::conv2d_backward_input" => {
            // The two searches for the first tap (one tap step each), then only the taps of one
            // stride phase: at most ⌈k / tap step⌉ along each axis.
            let p: ConvParams = decode(kernel, params)?;
            let (sy, sx) = (u(p.tap_step_y.max(1)), u(p.tap_step_x.max(1)));
            let (a, b) = (u(p.kh).div_ceil(sy), u(p.kw).div_ceil(sx));
            lp(sy) + lp(sx) + lp(a) + a * lp(b) + a * b * lp(u(p.cout)) + STORE4X4
        }
        "conv::conv2d_backward_weight" => {
            let p: ConvParams = decode(kernel, params)?;
            conv_weight_trips(&p, u(p.n_per), u(p.y_per))
        }
        "conv::channel_sum" => {
            let p: ConvParams = decode(kernel, params)?;
            channel_sum_trips(&p, u(p.n_per), u(p.y_per))
        }
        "conv_gemm::sgemm_nt" | "conv_gemm::sgemm_nt_wide" | "conv_gemm::sgemm_tn" | "conv_gemm::sgemm_nt_act" | "conv_gemm::sgemm_nt_wide_act"
        | "conv_gemm::sgemm_nt_dact" | "conv_gemm::sgemm_nt_wide_dact" => {
            // The k loop, then 32 row stores of one 4-trip loop each (and the other store loop's
            // exit), per group of 4 columns (two in the wide tile). (The fused stores have no
            // loop: counted as the plain ones, an upper bound.)
            let p: SgemmParams = decode(kernel, params)?;
            let quads = if kernel.contains("wide") { 2 } else { 1 };
            lp(u(p.k_per)) + quads * 32 * (lp(4) + lp(0))
        }
        "batchnorm::batchnorm_forward_planes" | "batchnorm::batchnorm_forward_planes_act" | "batchnorm::batchnorm_backward_input_planes" => {
            let p: BnParams = decode(kernel, params)?;
            lp(u(p.hw))
        }
        "batchnorm::batchnorm_forward_planes4" | "batchnorm::batchnorm_forward_planes4_act" | "batchnorm::batchnorm_backward_input_planes4" => {
            let p: BnParams = decode(kernel, params)?;
            lp(u(p.hw) / 4)
        }
        "tiled::tgemm_nt" => {
            // Stages of 4 vec4 steps, 4 inner steps each, then 16 single stores.
            let p: SgemmParams = decode(kernel, params)?;
            let stages = u(p.k_per).div_ceil(4);
            lp(stages) + stages * lp(4)
        }
        "pack::im2col" => {
            // The taps, then (plain layout) the padding of the last channel's row (< 4 values).
            let p: Geometry = decode(kernel, params)?;
            lp(u(p.kh)) + u(p.kh) * lp(u(p.kw)) + lp(4)
        }
        "pack::im2col_rows" => {
            // The taps four at a time (each 4 trips) and the zeros after the last channel (fewer
            // than 4 vec4s).
            let p: Geometry = decode(kernel, params)?;
            let taps = u(p.kh) * u(p.kw);
            lp(taps.div_ceil(4)) + taps.div_ceil(4) * lp(4) + lp(4)
        }
        "pack::im2col_rows_k4" => {
            let p: Geometry = decode(kernel, params)?;
            lp(u(p.kh))
        }
        "pack::im2col_cols" => {
            let p: Geometry = decode(kernel, params)?;
            lp(u(p.kh)) + u(p.kh) * lp(u(p.kw))
        }
        "pack::col2im_phase2x2" => 0,
        // The search for the invocation's tensor among the 8 starts.
        "optim::adam_multi4" => lp(7),
        "conv_gemm::sgemm_taps" | "conv_gemm::sgemm_taps_wide" | "conv_gemm::sgemm_taps_dact" | "conv_gemm::sgemm_taps_wide_dact" => {
            // The taps (kh × kw), COUT4 steps each, then the 32 row stores' 4-trip loops per
            // group of 4 columns (two in the wide tile; the fused store has one such loop too).
            let p: SgemmParams = decode(kernel, params)?;
            let e: crate::nn::conv_gemm::Implicit = bytemuck::cast(p.geo);
            let (kh, kw, c) = (u(e.kh), u(e.kw), u(e.c));
            let quads = if kernel.contains("wide") { 2 } else { 1 };
            lp(kh) + kh * lp(kw) + kh * kw * lp(c) + quads * 32 * (lp(4) + lp(0))
        }
        "pack::tap_weights" | "pack::im2col_rows_t4" | "pack::im2col_cols_copy" | "pack::im2col_rows_c4" => 0,
        "pack::col2im_phase" => {
            let p: Phase = decode(kernel, params)?;
            lp(u(p.ty)) + u(p.ty) * lp(u(p.tx))
        }
        "pack::col2im" => {
            // As conv2d_backward_input without its channel loop.
            let p: Geometry = decode(kernel, params)?;
            let (sy, sx) = (u(p.tap_step_y.max(1)), u(p.tap_step_x.max(1)));
            let (a, b) = (u(p.kh).div_ceil(sy), u(p.kw).div_ceil(sx));
            lp(sy) + lp(sx) + lp(a) + a * lp(b)
        }
        "gemm::transpose_pad" => 0,
        "gemm::gemm_nt" => {
            let p: GemmParams = decode(kernel, params)?;
            gemm_trips(u(p.k_per))
        }
        "reduce::reduce_splits" => {
            let p: ReduceParams = decode(kernel, params)?;
            lp(u(p.splits))
        }
        "batchnorm::batchnorm_stats_partial" | "batchnorm::batchnorm_backward_partial" => {
            let p: BnParams = decode(kernel, params)?;
            bn_tile_trips(u(p.n_per), u(p.p_per))
        }
        "batchnorm::batchnorm_stats_finish" | "batchnorm::batchnorm_backward_finish" => {
            // The statistics' finish reads the tiles' values twice (their means, then their centred sums).
            let p: BnParams = decode(kernel, params)?;
            let n_per = u(p.n_per).max(1);
            2 * lp(u(p.p_splits) * u(p.n).div_ceil(n_per))
        }
        "penalty::gradient_penalty_rows" => {
            // Two passes over the row.
            let p: crate::loss::PenaltyParams = decode(kernel, params)?;
            2 * lp(u(p.dim))
        }
        "penalty::gradient_penalty_sum" => {
            let p: crate::loss::PenaltyParams = decode(kernel, params)?;
            lp(u(p.n).div_ceil(256)) + lp(8)
        }
        "loss::gan_loss_d" => {
            // Strided sums over 256 invocations, then two tree reductions of log2(256) levels.
            let p: LossParams = decode(kernel, params)?;
            lp(u(p.n_fake).div_ceil(256)) + lp(u(p.n_real).div_ceil(256)) + 2 * lp(8)
        }
        "loss::gan_loss_g" => {
            let p: LossParams = decode(kernel, params)?;
            lp(u(p.n_fake).div_ceil(256)) + lp(8)
        }
        "classify::softmax_xent_backward" => {
            let p: ClassifyParams = decode(kernel, params)?;
            3 * lp(u(p.classes))
        }
        "rng::gather_rows" | "rng::gather_labeled" => {
            // epoch_permute: the bit-width loop (≤ 16 trips), then a cycle walk of 4-round Feistel
            // steps. A walk visits distinct values outside 0..k of a domain D < 4k, so it is at
            // most D − k + 1 steps; each further step happens with probability < 3/4, so walks
            // longer than 10,000 steps (probability < 10⁻¹²⁴⁹) are not counted.
            let p: RngParams = decode(kernel, params)?;
            let k = u(p.k).max(1);
            let mut bits = 2u32;
            while (1u64 << bits) < k && bits < 32 {
                bits += 2;
            }
            let walk = ((1u64 << bits) - k + 1).min(10_000);
            lp(16) + walk * (1 + lp(4))
        }
        _ => return Err(Error::Shape(format!("{kernel}: no loop bound declared in src/gpu/budget.rs"))),
    })
}

/// Trips of `conv::conv2d_backward_weight` for a tile of `n_per` samples × `y_per` output rows.
pub fn conv_weight_trips(p: &ConvParams, n_per: u64, y_per: u64) -> u64 {
    lp(n_per) + n_per * lp(y_per) + n_per * y_per * lp(p.ow as u64) + STORE4X4
}

/// Trips of `gemm::gemm_nt` for a tile of `k_per` vec4 steps: the row-offset loop, the k loop
/// with its 8-row inner loop, and the 8 × 8 store.
pub fn gemm_trips(k_per: u64) -> u64 {
    lp(8) + lp(k_per) + k_per * lp(8) + lp(8) + 8 * lp(8)
}

/// Trips of `conv::channel_sum` for a tile of `n_per` samples × `y_per` output rows.
pub fn channel_sum_trips(p: &ConvParams, n_per: u64, y_per: u64) -> u64 {
    lp(n_per) + n_per * lp(y_per * p.ow as u64)
}

/// Trips of the batch-norm partial-sum kernels for a tile of `n_per` samples × `p_per` positions
/// (the statistics walk it twice: its mean, then its centred squares; the backward once).
pub fn bn_tile_trips(n_per: u64, p_per: u64) -> u64 {
    2 * (lp(n_per) + n_per * lp(p_per))
}

/// The guard: refuses a launch whose invocations would loop past `budget` (Some on a CPU adapter
/// or one whose type is unknown), naming the kernel, its parameters and the count.
pub fn check(kernel: &str, params: &[u8], budget: Option<u64>) -> Result<u64> {
    let trips = loop_trips(kernel, params)?;
    if let Some(b) = budget {
        if trips > b {
            let words: Vec<String> = params.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string()).collect();
            return Err(Error::Limit(format!(
                "{kernel}: one invocation would run {trips} loop iterations for this shape (uniform words [{}]), \
                 past the {b} that this software adapter runs before it silently stops looping; \
                 use a smaller layer or batch, or a hardware adapter",
                words.join(", ")
            )));
        }
    }
    Ok(trips)
}
