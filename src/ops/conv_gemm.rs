//! The software adapter's convolution family: every convolution pass as patch packing
//! (`im2col`), one subgroup matrix product (`sgemm_nt`) and, for input gradients, the sum of the
//! patch gradients back into the image (`col2im`); `shaders/conv_gemm.wgsl` (products, subgroups) and `shaders/pack.wgsl` (packing, any device) say why this shape
//! suits llvmpipe. [`KernelFamily`] picks it or the direct kernels of `shaders/conv.wgsl` per device.
//!
//! In the conv view (x (N, CIN, H, W) → y (N, COUT, OH, OW), weights (COUT, K) with
//! K = CIN·KH·KW, P = OH·OW positions per sample), for a chunk of samples with `cols` positions:
//!
//! | pass             | a (rows × k)              | b (rows × k)            | C                       |
//! | ---------------- | ------------------------- | ----------------------- | ----------------------- |
//! | forward          | W (COUT, K)               | patches of x (cols, K)  | y (NCHW) [+ bias]       |
//! | input gradient   | Wᵀ (K, COUT)              | dy by position (cols, COUT) | patch gradient (K, cols) → col2im → dx |
//! | weight gradient  | dy by channel (COUT, cols) | patches of x, transposed (K, cols) | dW (COUT, K), split over cols |
//!
//! Every operand is packed contiguous along the reduction and padded with zeros to a multiple of
//! 4 by `im2col` (a tensor seen with a 1 × 1 kernel is just its matrix, transposed or not). The
//! batch is cut into chunks so that no packed operand exceeds [`CHUNK_FLOATS`]; the three work
//! buffers live in the network's [`Workspace`] and are shared by its layers.

use super::shape::{gcd, ConvShape};
use super::split::{Launch, SplitSum};
use super::split::Workspace;
use crate::error::{Error, Result};
use crate::gpu::budget::lp;
use crate::gpu::{AsArg, Dispatch, Gpu, Tensor};
pub use crate::gpu::KernelFamily;
pub use crate::gpu::Operands;

/// Floats one packed operand may hold: the batch is processed in chunks of samples under it.
pub const CHUNK_FLOATS: usize = 1 << 21;
/// Tiles × splits a matrix product aims at, so that the software adapter's threads all work.
const GEMM_TARGET_TILES: usize = 32;
/// Shortest reduction split, in vec4 steps.
const MIN_SPLIT_STEPS: usize = 64;

/// The tile a subgroup of the product computes: 32 rows by 32 (`sgemm_nt`) or 64 columns
/// (`sgemm_nt_wide`, fewer loads per multiply-add, more waste at the edges). Which is faster
/// depends on the shape; [`crate::gpu::tune`] times both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tile {
    Narrow,
    Wide,
    /// `sgemm_tn`: C = aᵀ·b with both operands row-major over k (not a tuning candidate).
    Tn,
}

impl Tile {
    pub const ALL: [Tile; 2] = [Tile::Narrow, Tile::Wide];

    pub fn width(self) -> usize {
        match self {
            Tile::Narrow | Tile::Tn => 32,
            Tile::Wide => 64,
        }
    }

    pub fn entry(self) -> &'static str {
        match self {
            Tile::Narrow => "sgemm_nt",
            Tile::Wide => "sgemm_nt_wide",
            Tile::Tn => "sgemm_tn",
        }
    }

    /// The tile used without timing: wide once N gives every thread a few wide tiles.
    pub fn guess(m: usize, n: usize) -> Tile {
        if m.div_ceil(32) * n.div_ceil(64) >= 8 { Tile::Wide } else { Tile::Narrow }
    }
}

/// Splits of an (m × n) product's reduction of k4 vec4 steps, and steps per split: enough
/// tiles to occupy the device (the software adapter's threads with `Gemm`, counted in narrow
/// tiles; a GPU's cores with `Tiled`), no split shorter than `MIN_SPLIT_STEPS` or longer than
/// a quarter of the loop budget. For `Gemm` the plan does not depend on the [`Tile`], so both
/// tiles add the same terms in the same order: the tuner's choice never changes a result.
pub fn split_plan(m: usize, n: usize, k4: usize, family: KernelFamily) -> (usize, usize) {
    let (edge, target) = match family {
        KernelFamily::Tiled => (TILED_EDGE, TILED_TARGET_TILES),
        _ => (32, GEMM_TARGET_TILES),
    };
    let tiles = m.div_ceil(edge) * n.div_ceil(edge);
    let want = target.div_ceil(tiles.max(1)).min(k4.div_ceil(MIN_SPLIT_STEPS)).max(1);
    let want = want.max(k4.div_ceil(crate::gpu::budget::TILE_TRIPS as usize));
    let k_per = k4.div_ceil(want).max(1);
    (k4.div_ceil(k_per).max(1), k_per)
}

/// Floats of partial sums a split (m × n) product of k4 steps needs (0 for one split).
pub fn split_len(m: usize, n: usize, k4: usize, family: KernelFamily) -> usize {
    match split_plan(m, n, k4, family).0 {
        1 => 0,
        s => s * m * n,
    }
}

/// `tiled.wgsl`: rows and columns of C per workgroup, and workgroups a product aims at (a few
/// per core of a large GPU).
const TILED_EDGE: usize = 64;
const TILED_TARGET_TILES: usize = 512;

/// `tgemm_nt`: b is implicit (the patches of [`SgemmParams::geo`], read from the image).
pub const IMPLICIT: u32 = 16;

crate::uniform! {
    /// Uniform of `sgemm_nt` and `tgemm_nt`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct SgemmParams {
        pub m: u32,
        pub n: u32,
        pub k4: u32,
        pub k_per: u32,
        pub splits: u32,
        pub tiles_m: u32,
        pub tiles_n: u32,
        pub flags: u32,
        pub p_len: u32,
        pub s_n: u32,
        pub s_m: u32,
        pub off: u32,
        pub slot: u32,
        /// `sgemm_tn`: rows of a and b (k4 = ceil(k_rows / 4)).
        pub k_rows: u32,
        /// The fused activation's negative slope ([`Epilogue`]; flag `RELU` for a ReLU).
        pub slope: f32,
        pub _pad: u32,
        /// `tgemm_nt` with [`IMPLICIT`]: the convolution whose patches b is.
        pub geo: Geometry,
    }
}

crate::uniform! {
    /// Uniform of `im2col` and `col2im`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct Geometry {
        pub n0: u32,
        pub cols: u32,
        pub rows: u32,
        pub c: u32,
        pub h: u32,
        pub w: u32,
        pub oh: u32,
        pub ow: u32,
        pub kh: u32,
        pub kw: u32,
        pub stride_y: u32,
        pub stride_x: u32,
        pub pad_y: u32,
        pub pad_x: u32,
        pub dil_y: u32,
        pub dil_x: u32,
        pub tap_step_y: u32,
        pub tap_step_x: u32,
        pub width: u32,
        pub flags: u32,
    }
}

/// Groups of 4 columns a lane of a subgroup product stores: two in the wide tile.
fn quads(entry: &str) -> u64 {
    if entry.contains("wide") {
        2
    } else {
        1
    }
}

/// Loop trips of a subgroup product (`Sgemm`, `SgemmTex`): the k loop, then 32 row stores of one
/// 4-trip loop each (and the other store loop's exit), per group of 4 columns (two in the wide
/// tile). (The fused stores have no loop: counted as the plain ones, an upper bound.)
fn sgemm_trips(e: &str, p: &SgemmParams) -> u64 {
    lp(p.k_per as u64) + quads(e) * 32 * (lp(4) + lp(0))
}

fn product_flops(_: &str, p: &SgemmParams) -> f64 {
    8.0 * p.m as f64 * p.n as f64 * p.k4 as f64
}

crate::kernel! {
    /// C = a·bᵀ over one split of k, a 32 × 32 (or 32 × 64: [`Tile`]) tile per subgroup of 8,
    /// stored through the output map. `out4` is the same buffer as `out`, seen as vec4s (for
    /// flag 4; any 16 bytes otherwise).
    /// The `_act` and `_dact` entries fuse an activation into the store ([`Epilogue`]); the others
    /// bind `act4` to `out4` and `pre4` to `a` (unused).
    pub Sgemm = "conv_gemm" :: ["sgemm_nt", "sgemm_nt_wide", "sgemm_tn", "sgemm_nt_act", "sgemm_nt_wide_act", "sgemm_nt_dact", "sgemm_nt_wide_dact"], SgemmParams { 1 a: Read, 2 b: Read, 3 bias: Read, 4 out: ReadWrite, 5 out4: ReadWrite, 11 act4: ReadWrite, 12 pre4: Read }
    trips: sgemm_trips;
    flops: product_flops;
    textures: [a, b];
}
crate::kernel! {
    /// C = a·bᵀ over one split of k, a 64 × 64 tile per workgroup of 256, for real GPUs.
    /// With [`IMPLICIT`], b is the patch matrix of the convolution `geo` read from `img`.
    pub Tgemm = "tiled" :: "tgemm_nt", SgemmParams { 1 a: Read, 2 b: Read, 3 bias: Read, 4 out: ReadWrite, 6 img: Read }
    // Stages of 4 vec4 steps, 4 inner steps each, then 16 single stores.
    trips: |_, p| {
        let stages = (p.k_per as u64).div_ceil(4);
        lp(stages) + stages * lp(4)
    };
    flops: |_, p| 8.0 * p.m as f64 * p.n as f64 * p.k4 as f64;
}
/// Loop trips of a taps product (`SgemmTaps`, `SgemmTapsTex`): the taps (kh × kw), COUT4 steps
/// each, then the 32 row stores' 4-trip loops per group of 4 columns (two in the wide tile; the
/// fused store has one such loop too).
fn taps_trips(e: &str, p: &SgemmParams) -> u64 {
    let i: Implicit = bytemuck::cast(p.geo);
    let (kh, kw, c) = (i.kh as u64, i.kw as u64, i.c as u64);
    lp(kh) + kh * lp(kw) + kh * kw * lp(c) + quads(e) * 32 * (lp(4) + lp(0))
}

crate::kernel! {
    /// A product whose b operand is read tap by tap from an image stored by position: a
    /// convolution's forward pass without im2col, or one stride phase of its input gradient
    /// without col2im (see the shader). `out4` as for [`Sgemm`].
    pub SgemmTaps = "conv_gemm" :: ["sgemm_taps", "sgemm_taps_wide", "sgemm_taps_dact", "sgemm_taps_wide_dact"], SgemmParams { 1 a: Read, 2 b: Read, 3 bias: Read, 4 out: ReadWrite, 5 out4: ReadWrite, 11 act4: ReadWrite, 12 pre4: Read }
    trips: taps_trips;
    flops: product_flops;
    textures: [a, b];
}
crate::kernel! {
    /// A convolution's weights packed as [`SgemmTaps`]' a operand (all taps, or one phase's).
    pub TapWeights = "pack" :: "tap_weights", Geometry { 6 src: Read, 8 dst4: ReadWrite }
    trips: |_, _| 0;
    textures: [src];
}
crate::kernel! {
    /// The patch matrix of a chunk of `src` (or its transpose), zero-padded.
    pub Im2col = "pack" :: "im2col", Geometry { 6 src: Read, 7 dst: ReadWrite }
    // The taps, then (plain layout) the padding of the last channel's row (< 4 values).
    trips: |_, p| lp(p.kh as u64) + p.kh as u64 * lp(p.kw as u64) + lp(4);
    textures: [src];
}
crate::kernel! {
    /// The plain patch matrix, four values per store: KH·KW a multiple of 4 (`im2col_rows`; KW
    /// = 4: `im2col_rows_k4`), or 1 × 1 (`im2col_rows_c4`).
    pub Im2colRows = "pack" :: ["im2col_rows", "im2col_rows_k4", "im2col_rows_c4"], Geometry { 6 src: Read, 8 dst4: ReadWrite }
    // im2col_rows: the taps four at a time (each 4 trips) and the zeros after the last channel
    // (fewer than 4 vec4s); _k4: a row of taps per vec4; _c4: no loop.
    trips: |e, p| {
        let taps4 = (p.kh as u64 * p.kw as u64).div_ceil(4);
        match e {
            "im2col_rows" => lp(taps4) + taps4 * lp(4) + lp(4),
            "im2col_rows_k4" => lp(p.kh as u64),
            _ => 0,
        }
    };
    textures: [src];
}
crate::kernel! {
    /// The plain patch matrix of a 1 × 1 kernel over aligned planes: 4 × 4 blocks through `src4`,
    /// src seen as vec4s.
    pub Im2colRowsT4 = "pack" :: "im2col_rows_t4", Geometry { 8 dst4: ReadWrite, 10 src4: Read }
    trips: |_, _| 0;
    textures: [src4];
}
crate::kernel! {
    /// The transposed patch matrix, four positions per store.
    pub Im2colCols = "pack" :: "im2col_cols", Geometry { 6 src: Read, 8 dst4: ReadWrite }
    trips: |_, p| lp(p.kh as u64) + p.kh as u64 * lp(p.kw as u64);
    textures: [src];
}
crate::kernel! {
    /// The transposed patch matrix of a 1 × 1 kernel over aligned planes: a vec4 copy.
    pub Im2colColsCopy = "pack" :: "im2col_cols_copy", Geometry { 8 dst4: ReadWrite, 10 src4: Read }
    trips: |_, _| 0;
    textures: [src4];
}
crate::kernel! {
    /// dst (a chunk of N, C, H, W) = [bias +] the patch gradient summed back over its taps.
    pub Col2im = "pack" :: "col2im", Geometry { 3 bias: Read, 6 src: Read, 7 dst: ReadWrite }
    // As conv2d_backward_input without its channel loop.
    trips: |_, p| {
        let (sy, sx) = (p.tap_step_y.max(1) as u64, p.tap_step_x.max(1) as u64);
        let (a, b) = ((p.kh as u64).div_ceil(sy), (p.kw as u64).div_ceil(sx));
        lp(sy) + lp(sx) + lp(a) + a * lp(b)
    };
}

crate::uniform! {
    /// Uniform of `col2im_phase` (see the shader).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct Phase {
        pub n0: u32,
        pub chunk: u32,
        pub c: u32,
        pub h: u32,
        pub w: u32,
        pub oh: u32,
        pub ow: u32,
        pub kh: u32,
        pub kw: u32,
        pub width: u32,
        pub flags: u32,
        pub stride_y: u32,
        pub stride_x: u32,
        pub iy0: u32,
        pub ix0: u32,
        pub ay: u32,
        pub bx: u32,
        pub ry: u32,
        pub rx: u32,
        pub cy: u32,
        pub cx: u32,
        pub ty: u32,
        pub tx: u32,
        pub _pad: u32,
    }
}

crate::kernel! {
    /// col2im over one stride phase (dilation 1).
    pub Col2imPhase = "pack" :: "col2im_phase", Phase { 3 bias: Read, 6 src: Read, 7 dst: ReadWrite }
    trips: |_, p| lp(p.ty as u64) + p.ty as u64 * lp(p.tx as u64);
}
crate::kernel! {
    /// col2im over one stride phase of 2 × 2 taps, unrolled.
    pub Col2imPhase2x2 = "pack" :: "col2im_phase2x2", Phase { 3 bias: Read, 6 src: Read, 7 dst: ReadWrite }
    trips: |_, _| 0;
}

/// Along one axis of size `size` with stride `s`, padding `pad` and kernel `k`, phase `r` (the
/// input positions i with (i + pad) mod s = r): (first position, count, first tap, taps, offset c
/// such that tap t reads output a + c − t for the a-th position of the phase).
fn phase_axis(size: usize, s: usize, pad: usize, k: usize, r: usize) -> (usize, usize, usize, usize, usize) {
    let i0 = (r as i64 - pad as i64).rem_euclid(s as i64) as usize;
    let count = if i0 < size { (size - i0).div_ceil(s) } else { 0 };
    let taps = if r < k { (k - r).div_ceil(s) } else { 0 };
    (i0, count, r, taps, (i0 + pad - r) / s)
}

/// The col2im dispatches of a chunk: one per stride phase without dilation, else the general one.
fn push_col2im(l: &mut Launch<'_>, s: &ConvShape, n0: usize, nc: usize, b: Option<&dyn AsArg>, src: &dyn AsArg, dx: &dyn AsArg) -> Result<()> {
    let gpu = l.gpu;
    let u = |v: usize| v as u32;
    let cols = nc * s.oh * s.ow;
    if s.dil != [1, 1] {
        let g = Geometry { width: cols as u32, flags: BIAS * b.is_some() as u32, ..geometry(s, n0, nc) };
        let elems = (nc * s.cin * s.h * s.w) as u32;
        l.prog.push(Dispatch::new(gpu, &Col2im { bias: b.unwrap_or(src), src, dst: dx }, &g, Some(elems))?);
        return Ok(());
    }
    for [(iy0, ay, ry, ty, cy), (ix0, bx, rx, tx, cx)] in phases(s) {
        let cells = u(nc * s.cin * ay * bx);
        let f = Phase {
            n0: u(n0), chunk: u(nc), c: u(s.cin), h: u(s.h), w: u(s.w), oh: u(s.oh), ow: u(s.ow), kh: u(s.kh), kw: u(s.kw),
            width: u(cols), flags: (BIAS * b.is_some() as u32) | (PHASE_FAST_DIV * (cells < FAST_DIV_BELOW) as u32),
            stride_y: u(s.stride[0]), stride_x: u(s.stride[1]),
            iy0: u(iy0), ix0: u(ix0), ay: u(ay), bx: u(bx), ry: u(ry), rx: u(rx), cy: u(cy), cx: u(cx), ty: u(ty), tx: u(tx), _pad: 0,
        };
        let (bias, threads) = (b.unwrap_or(src), Some(cells));
        l.prog.push(if ty == 2 && tx == 2 {
            Dispatch::new(gpu, &Col2imPhase2x2 { bias, src, dst: dx }, &f, threads)?
        } else {
            Dispatch::new(gpu, &Col2imPhase { bias, src, dst: dx }, &f, threads)?
        });
    }
    Ok(())
}

const BIAS: u32 = 1;
const ADD: u32 = 2;
/// Packing ([`Geometry::flags`]): every index the kernel divides is under [`FAST_DIV_BELOW`], so it may divide in
/// floats (the shader's `divmod`). `col2im_phase`'s flag for the same is [`PHASE_FAST_DIV`].
pub const FAST_DIV: u32 = 8;
pub const PHASE_FAST_DIV: u32 = 2;
pub const FAST_DIV_BELOW: u32 = 1 << 22;
/// `sgemm_nt`: the map keeps aligned groups of 4 columns contiguous (stored as vec4s).
const VEC4: u32 = 4;
/// `sgemm_nt`: the bias is per column, not per row.
const BIAS_BY_COLUMN: u32 = 8;
/// `sgemm_nt_act` / `_dact`: the fused activation is a ReLU (its negative side exactly 0).
const RELU: u32 = 32;

fn r4(v: usize) -> usize {
    v.div_ceil(4) * 4
}

/// The conv view's sizes that the packing needs.
struct Dims {
    k: usize,
    plane: usize,
}

fn dims(s: &ConvShape) -> Dims {
    Dims { k: s.cin * s.kh * s.kw, plane: s.oh * s.ow }
}

/// Samples per chunk: the batch cut into as few equal chunks as keep every packed operand under
/// [`CHUNK_FLOATS`], rounded up (when that stays under) so that a chunk's positions are a
/// multiple of 4 and the products store their results four at a time.
fn chunk(s: &ConvShape) -> usize {
    let d = dims(s);
    chunk_of(s, d.plane * r4(d.k).max(r4(s.cout)))
}

/// Samples per chunk when the largest packed operand holds `per` floats a sample (see [`chunk`]).
fn chunk_of(s: &ConvShape, per: usize) -> usize {
    let plane = s.oh * s.ow;
    let most = (CHUNK_FLOATS / (per + 4)).clamp(1, s.n.max(1));
    let even = s.n.max(1).div_ceil(s.n.max(1).div_ceil(most));
    let step = 4 / gcd(plane.max(1), 4);
    let aligned = even.div_ceil(step) * step;
    if even >= s.n || aligned > most { even } else { aligned }
}

/// Samples per chunk of the forward pass through `sgemm_taps`, whose only per-sample operand is
/// x by position (a quarter of a 4 × 4 kernel's patch matrix at stride 2: fewer, larger chunks).
fn taps_chunk(s: &ConvShape) -> usize {
    chunk_of(s, s.h * s.w * r4(s.cin))
}

/// Samples per chunk of the input gradient by stride phase: its per-sample operand is dy by
/// position.
fn phase_chunk(s: &ConvShape) -> usize {
    chunk_of(s, s.oh * s.ow * r4(s.cout))
}

/// The chunks of the batch: (first sample, samples).
fn chunks(s: &ConvShape) -> Vec<(usize, usize)> {
    chunks_of(s, chunk(s))
}

fn chunks_of(s: &ConvShape, c: usize) -> Vec<(usize, usize)> {
    (0..s.n).step_by(c).map(|n0| (n0, c.min(s.n - n0))).collect()
}

/// Floats of the three work buffers (packed a, packed b, patch gradient) and of split partial
/// sums that this family needs for the conv view `s` (at its batch).
pub fn work_lens(s: &ConvShape, family: KernelFamily) -> [usize; 4] {
    let d = dims(s);
    let nc = chunk(s);
    let cols = nc * d.plane;
    // (The subgroup family's `sgemm_taps`: dy by position in t0, x by position in t1.)
    let taps = family == KernelFamily::Gemm;
    let t0 = (s.cout * r4(d.k)).max(cols * r4(s.cout)).max(s.cout * r4(cols)).max(taps as usize * phase_chunk(s) * d.plane * r4(s.cout));
    let t1 = (cols * r4(d.k)).max(d.k * r4(s.cout)).max(d.k * r4(cols)).max(taps as usize * taps_chunk(s) * s.h * s.w * r4(s.cin));
    let t2 = cols * d.k;
    [t0, t1, t2, split_len(s.cout, d.k, r4(cols) / 4, family)]
}

/// The geometry of the conv view for a chunk, as `im2col`/`col2im` read it.
fn geometry(s: &ConvShape, n0: usize, nc: usize) -> Geometry {
    let u = |v: usize| v as u32;
    let cols = nc * s.oh * s.ow;
    Geometry {
        n0: u(n0),
        cols: u(cols),
        rows: u(cols),
        c: u(s.cin),
        h: u(s.h),
        w: u(s.w),
        oh: u(s.oh),
        ow: u(s.ow),
        kh: u(s.kh),
        kw: u(s.kw),
        stride_y: u(s.stride[0]),
        stride_x: u(s.stride[1]),
        pad_y: u(s.pad[0]),
        pad_x: u(s.pad[1]),
        dil_y: u(s.dil[0]),
        dil_x: u(s.dil[1]),
        tap_step_y: u(s.stride[0] / gcd(s.stride[0], s.dil[0]).max(1)),
        tap_step_x: u(s.stride[1] / gcd(s.stride[1], s.dil[1]).max(1)),
        width: 0,
        flags: 0,
    }
}

/// The output gradient dy (N, COUT, OH, OW) of a chunk seen with a 1 × 1 kernel: its patch
/// matrix is dy by position (cols, COUT), its transpose dy by channel.
fn dy_matrix(s: &ConvShape, n0: usize, nc: usize) -> Geometry {
    geometry(&ConvShape { cin: s.cout, h: s.oh, w: s.ow, kh: 1, kw: 1, stride: [1; 2], pad: [0; 2], dil: [1; 2], ..*s }, n0, nc)
}

/// A matrix (rows, cols) seen as `rows` samples of `cols` channels with a 1 × 1 kernel, so that
/// `im2col` packs it (plain: rows × cols padded to 4; transposed: cols × rows padded to 4).
fn matrix(n0: usize, rows: usize, cols: usize) -> Geometry {
    let s = ConvShape { n: n0 + rows, cin: cols, h: 1, w: 1, cout: 1, oh: 1, ow: 1, kh: 1, kw: 1, stride: [1; 2], pad: [0; 2], dil: [1; 2] };
    geometry(&s, n0, rows)
}

/// A dispatch writing the (rows, cols) matrix `src` into `dst` with each row padded with zeros to
/// a multiple of 4 (`transposed`: its transpose, (cols, rows padded to 4)).
pub fn pack_matrix(gpu: &Gpu, src: &dyn AsArg, dst: &dyn AsArg, rows: usize, cols: usize, transposed: bool) -> Result<Dispatch> {
    pack(gpu, matrix(0, rows, cols), transposed, src, dst)
}

/// An `im2col` dispatch: plain (rows = positions, width = K rounded to 4) or transposed
/// (rows = positions rounded to 4 = width).
fn pack(gpu: &Gpu, g: Geometry, transposed: bool, src: &dyn AsArg, dst: &dyn AsArg) -> Result<Dispatch> {
    let taps = g.kh * g.kw;
    let k = (g.c * taps) as usize;
    // A 1 × 1 kernel over planes whose positions come in aligned quads, with src a whole number
    // of vec4s (its vec4 view reaches only those): vec4 copies or 4 × 4 transposes.
    let plane4 = taps == 1 && g.stride_y == 1 && g.stride_x == 1 && g.pad_y == 0 && g.pad_x == 0 && (g.oh * g.ow) % 4 == 0 && src.size() % 16 == 0;
    // The dividends are invocation indices and positions (< rows).
    let fast = |g: Geometry, threads: u32| Geometry { flags: g.flags | (FAST_DIV * (threads.max(g.rows) < FAST_DIV_BELOW) as u32), ..g };
    if transposed {
        let rows = r4(g.cols as usize) as u32;
        let threads = rows / 4 * g.c;
        let g = fast(Geometry { rows, width: rows, ..g }, threads);
        return if plane4 {
            Dispatch::new(gpu, &Im2colColsCopy { dst4: dst, src4: src }, &g, Some(threads))
        } else {
            Dispatch::new(gpu, &Im2colCols { src, dst4: dst }, &g, Some(threads))
        };
    }
    let g = Geometry { width: r4(k) as u32, ..g };
    if plane4 && g.c % 4 == 0 {
        let threads = g.rows / 4 * g.c / 4;
        return Dispatch::new(gpu, &Im2colRowsT4 { dst4: dst, src4: src }, &fast(g, threads), Some(threads));
    }
    let (entry, threads) = if taps == 1 {
        ("im2col_rows_c4", g.rows * g.c.div_ceil(4))
    } else if g.kw == 4 {
        ("im2col_rows_k4", g.rows * g.c)
    } else {
        ("im2col_rows", g.rows * g.c)
    };
    let g = fast(g, threads);
    if taps == 1 || taps % 4 == 0 {
        Dispatch::new(gpu, &Im2colRows { entry, src, dst4: dst }, &g, Some(threads))
    } else {
        Dispatch::new(gpu, &Im2col { src, dst }, &g, Some(threads))
    }
}

/// One product C = a·bᵀ (a (m, 4·k4), b (n, 4·k4), both rows contiguous), stored through the map
/// (p_len, s_n, s_m, off): C[i, j] goes to out[off + (j / p_len)·s_n + i·s_m + j % p_len]. The
/// Linear layers run on it too with this family ([`super::linear`]). A transposed result (map
/// (1, m, 1, off)) is computed as the plain product b·aᵀ, whose rows are stored four values at a
/// time.
#[derive(Clone, Copy)]
pub struct Product<'a> {
    pub a: &'a dyn AsArg,
    pub b: &'a dyn AsArg,
    /// bias\[i\] added to row i.
    pub bias: Option<&'a dyn AsArg>,
    pub m: usize,
    pub n: usize,
    pub k4: usize,
    pub map: (usize, usize, usize, usize),
}

/// The product as the kernel runs it, and whether its bias is per column.
struct Oriented<'a> {
    p: Product<'a>,
    bias_by_column: bool,
    /// `sgemm_tn`'s rows of k (0 for the NT products).
    k_rows: usize,
    /// `tgemm_nt`: b is the patch matrix of this convolution, read from the image bound as b.
    implicit: Option<Geometry>,
}

impl<'a> Product<'a> {
    /// A transposed result as the plain product of the swapped operands (same sums, same order).
    fn oriented(&self) -> Oriented<'a> {
        let (p_len, s_n, s_m, off) = self.map;
        if p_len == 1 && s_n == self.m && s_m == 1 && self.m > 1 {
            let p = Product { a: self.b, b: self.a, m: self.n, n: self.m, map: (self.m, 0, self.m, off), ..*self };
            return Oriented { p, bias_by_column: self.bias.is_some(), k_rows: 0, implicit: None };
        }
        Oriented { p: *self, bias_by_column: false, k_rows: 0, implicit: None }
    }

    /// The plain row-major (m, n) map.
    pub fn rows(n: usize) -> (usize, usize, usize, usize) {
        (n, 0, n, 0)
    }

    /// Splits of the reduction (and vec4 steps per split) for enough tiles to occupy the
    /// device, each under the loop budget.
    pub fn splits(&self, family: KernelFamily) -> (usize, usize) {
        split_plan(self.m, self.n, self.k4, family)
    }

    /// C [+]= a·bᵀ with the reduction split ([`Product::splits`] for this device's family) and the partial sums added by
    /// `reduce_splits` (the map must be the plain one).
    pub fn push_split(&self, l: &mut Launch<'_>, out: &dyn AsArg, accumulate: bool) -> Result<()> {
        let gpu = l.gpu;
        if self.map != Product::rows(self.n) {
            return Err(Error::Shape(format!("a split product needs the plain map, not {:?}", self.map)));
        }
        let (splits, k_per) = self.splits(KernelFamily::of(gpu));
        let o = self.oriented();
        let tile = o.tile(gpu, splits, k_per)?;
        o.push_split(l, tile, (splits, k_per), out, accumulate)
    }

    /// C [+]= aᵀ·b for a (k_rows, m) and b (k_rows, n), both row-major with m and n multiples of 4
    /// (`self.k4` = ceil(k_rows / 4), the plain map), split like [`Product::push_split`]: the
    /// subgroup family's `sgemm_tn`, which needs neither operand transposed.
    pub fn push_tn_split(&self, l: &mut Launch<'_>, k_rows: usize, out: &dyn AsArg, accumulate: bool) -> Result<()> {
        let gpu = l.gpu;
        if KernelFamily::of(gpu) != KernelFamily::Gemm || self.m % 4 != 0 || self.n % 4 != 0 || self.map != Product::rows(self.n) || self.bias.is_some() || self.k4 != k_rows.div_ceil(4) {
            return Err(Error::Shape(format!("sgemm_tn needs the subgroup family, M and N multiples of 4, the plain map, no bias and k4 = ceil(k_rows / 4) ({} × {} × {k_rows})", self.m, self.n)));
        }
        let o = Oriented { p: *self, bias_by_column: false, k_rows, implicit: None };
        o.push_split(l, Tile::Tn, self.splits(KernelFamily::of(gpu)), out, accumulate)
    }

    /// The whole reduction in one split.
    pub fn whole(&self, gpu: &Gpu, out: &dyn AsArg) -> Result<Dispatch> {
        let o = self.oriented();
        let tile = o.tile(gpu, 1, self.k4.max(1))?;
        o.dispatch(gpu, out, false, tile, 1, self.k4.max(1))
    }

    /// Whether [`Product::whole_fused`] can store through `epi` into `out`: the subgroup family,
    /// every group of 4 columns one aligned vec4 of `out` (and of the epilogue's buffer, which
    /// covers the same extent), so that each store is a whole vec4.
    pub fn fuses(&self, gpu: &Gpu, out: &dyn AsArg, epi: &Epilogue) -> bool {
        let o = self.oriented();
        let need = (o.out_extent(1) * 4) as u64;
        KernelFamily::of(gpu) == KernelFamily::Gemm
            && o.vec4_map()
            && o.p.n % 4 == 0
            && [out, epi.buffer()].iter().all(|b| b.size() % 16 == 0 && b.size() >= need)
    }

    /// The whole reduction in one split with the activation `epi` fused into the store; fails
    /// unless [`Product::fuses`].
    pub fn whole_fused(&self, gpu: &Gpu, out: &dyn AsArg, epi: Epilogue) -> Result<Dispatch> {
        if !self.fuses(gpu, out, &epi) {
            return Err(Error::Shape(format!("a {} × {} product cannot fuse an activation into its store here", self.m, self.n)));
        }
        let o = self.oriented();
        let tile = o.tile(gpu, 1, self.k4.max(1))?;
        o.dispatch_with(gpu, out, false, tile, 1, self.k4.max(1), Some(epi))
    }
}

/// A ReLU or LeakyReLU fused into the store of a product (`sgemm_nt_act`, `sgemm_nt_dact`): its
/// negative slope, and whether it is a ReLU (negative side exactly 0).
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// The activation after the product: `out` = C as ever, and `post` = act(C).
    Act { post: &'a dyn AsArg, slope: f32, relu: bool },
    /// The activation before a layer whose input gradient this product is: C is the gradient
    /// at the activation's output, `pre` its input, and `out` = act'(pre)·C, the gradient at its
    /// input.
    Dact { pre: &'a dyn AsArg, slope: f32, relu: bool },
}

impl<'a> Epilogue<'a> {
    pub fn buffer(&self) -> &'a dyn AsArg {
        match *self {
            Epilogue::Act { post, .. } => post,
            Epilogue::Dact { pre, .. } => pre,
        }
    }

    fn entry(&self, tile: Tile) -> &'static str {
        match (self, tile) {
            (Epilogue::Act { .. }, Tile::Wide) => "sgemm_nt_wide_act",
            (Epilogue::Act { .. }, _) => "sgemm_nt_act",
            (Epilogue::Dact { .. }, Tile::Wide) => "sgemm_nt_wide_dact",
            (Epilogue::Dact { .. }, _) => "sgemm_nt_dact",
        }
    }
}

impl Oriented<'_> {
    /// The split dispatch (`splits`, `k_per`) with `tile`, and `reduce_splits` adding its slots.
    fn push_split(&self, l: &mut Launch<'_>, tile: Tile, (splits, k_per): (usize, usize), out: &dyn AsArg, accumulate: bool) -> Result<()> {
        let gpu = l.gpu;
        let first = |out: &dyn AsArg, add: bool| self.dispatch(gpu, out, add, tile, splits, k_per);
        l.push_split(SplitSum { first: &first, out, len: self.p.m * self.p.n, tiles: splits as u32, accumulate })
    }

    /// Whether the map keeps every aligned group of 4 columns contiguous and 16-byte aligned.
    fn vec4_map(&self) -> bool {
        let (p_len, s_n, s_m, off) = self.p.map;
        [p_len, s_n, s_m, off, self.p.m * self.p.n].iter().all(|v| v % 4 == 0)
    }

    /// The parameters of one dispatch over `splits` splits of `k_per` steps (slot `split` at
    /// out + split·slot), and its invocations.
    fn params(&self, add: bool, tile: Tile, splits: usize, k_per: usize) -> (SgemmParams, u32) {
        let u = |v: usize| v as u32;
        let (tm, tn) = (self.p.m.div_ceil(32), self.p.n.div_ceil(tile.width()));
        let (p_len, s_n, s_m, off) = self.p.map;
        let p = SgemmParams {
            m: u(self.p.m),
            n: u(self.p.n),
            k4: u(self.p.k4),
            k_per: u(k_per),
            splits: u(splits),
            tiles_m: u(tm),
            tiles_n: u(tn),
            flags: (BIAS * self.p.bias.is_some() as u32) | (ADD * add as u32) | (VEC4 * self.vec4_map() as u32) | (BIAS_BY_COLUMN * self.bias_by_column as u32),
            p_len: u(p_len),
            s_n: u(s_n),
            s_m: u(s_m),
            off: u(off),
            slot: u(self.p.m * self.p.n),
            k_rows: u(self.k_rows),
            slope: 0.0,
            _pad: 0,
            geo: Geometry::default(),
        };
        (p, u(splits * tm * tn * 8))
    }

    /// Floats of `out` that a dispatch over `splits` splits reaches.
    fn out_extent(&self, splits: usize) -> usize {
        let (p_len, s_n, s_m, off) = self.p.map;
        let (m, n) = (self.p.m.max(1), self.p.n.max(1));
        off + (splits - 1) * m * n + (n - 1) / p_len.max(1) * s_n + (m - 1) * s_m + (n - 1) % p_len.max(1) + 1
    }

    fn dispatch(&self, gpu: &Gpu, out: &dyn AsArg, add: bool, tile: Tile, splits: usize, k_per: usize) -> Result<Dispatch> {
        self.dispatch_with(gpu, out, add, tile, splits, k_per, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn dispatch_with(&self, gpu: &Gpu, out: &dyn AsArg, add: bool, tile: Tile, splits: usize, k_per: usize, epi: Option<Epilogue>) -> Result<Dispatch> {
        if KernelFamily::of(gpu) == KernelFamily::Tiled {
            let (p, _) = self.params(add, tile, splits, k_per);
            let (tm, tn) = (self.p.m.div_ceil(TILED_EDGE), self.p.n.div_ceil(TILED_EDGE));
            let flags = (p.flags & !VEC4) | (IMPLICIT * self.implicit.is_some() as u32);
            let p = SgemmParams { tiles_m: tm as u32, tiles_n: tn as u32, flags, geo: self.implicit.unwrap_or_default(), ..p };
            let threads = (splits * tm * tn * 256) as u32;
            // (With IMPLICIT, b is the image; otherwise `img` is unused and b fills it.)
            return Dispatch::new(gpu, &Tgemm { a: self.p.a, b: self.p.b, bias: self.p.bias.unwrap_or(self.p.a), out, img: self.p.b }, &p, Some(threads));
        }
        let (mut p, threads) = self.params(add, tile, splits, k_per);
        // The vec4 view of `out` reaches only its whole vec4s: stores go through it only when that
        // is all of it. A buffer under 16 bytes cannot be bound as vec4s at all; a spare one
        // stands in (never written: flag 4 is off).
        if out.size() % 16 != 0 {
            p.flags &= !VEC4;
        }
        let spare = spare_vec4(gpu, out);
        let out4 = spare.as_ref().map_or(out, |s| s as &dyn AsArg);
        let (a, b, bias) = (self.p.a, self.p.b, self.p.bias.unwrap_or(self.p.a));
        let launch = |entry: &'static str, act4, pre4, p: &SgemmParams| {
            // Read through textures, each operand's copy need reach only what its loads reach
            // (clamped to the last row).
            let (m, n, k4, rows) = (p.m as u64, p.n as u64, p.k4 as u64, p.k_rows as u64);
            let extents = if entry == "sgemm_tn" { [rows * m.div_ceil(4), rows * n.div_ceil(4)] } else { [m * k4, n * k4] };
            Dispatch::new(gpu, &Sgemm { entry, a, b, bias, out, out4, act4, pre4 }, p, Some(threads)).map(|d| d.with_mirror_extents(&extents))
        };
        let fused = |entry, act4, pre4, slope, relu: bool| launch(entry, act4, pre4, &SgemmParams { slope, flags: p.flags | (RELU * relu as u32), ..p });
        match epi {
            None => launch(tile.entry(), out4, a, &p),
            Some(e @ Epilogue::Act { post, slope, relu }) => fused(e.entry(tile), post, a, slope, relu),
            Some(e @ Epilogue::Dact { pre, slope, relu }) => fused(e.entry(tile), out4, pre, slope, relu),
        }
    }

    /// The tile for this product: the tuner's choice where the device is tuned and the product
    /// is large enough to be worth timing ([`crate::gpu::tune`]), else [`Tile::guess`].
    fn tile(&self, gpu: &Gpu, splits: usize, k_per: usize) -> Result<Tile> {
        let guess = Tile::guess(self.p.m, self.p.n);
        // The tiled family has one shape: nothing to choose.
        if KernelFamily::of(gpu) != KernelFamily::Gemm {
            return Ok(guess);
        }
        // Below ~4 M multiply-adds a launch costs about what the product does: not worth timing.
        if self.p.m * self.p.n * self.p.k4 * 4 < 1 << 22 {
            return Ok(guess);
        }
        let key = format!("sgemm_nt m={} n={} k4={} splits={splits} vec4={}", self.p.m, self.p.n, self.p.k4, self.vec4_map());
        let names: Vec<&str> = Tile::ALL.iter().map(|t| t.entry()).collect();
        let pick = gpu.tuned(&key, &names, |name| {
            let tile = Tile::ALL.into_iter().find(|t| t.entry() == name).unwrap_or(guess);
            self.time(gpu, tile, splits, k_per)
        })?;
        Ok(pick.and_then(|name| Tile::ALL.into_iter().find(|t| t.entry() == name)).unwrap_or(guess))
    }

    /// Seconds one dispatch of this shape takes with `tile`, on scratch operands of its sizes
    /// (never the real ones, which may hold state).
    fn time(&self, gpu: &Gpu, tile: Tile, splits: usize, k_per: usize) -> Result<f64> {
        let scratch = |label: &str, len: usize| Tensor::zeros(gpu, label, len.max(4));
        let a = scratch("tune.a", self.p.m * self.p.k4 * 4)?;
        let b = scratch("tune.b", self.p.n * self.p.k4 * 4)?;
        let bias = self.p.bias.map(|_| scratch("tune.bias", self.p.m.max(self.p.n))).transpose()?;
        let (p_len, s_n, s_m, off) = self.p.map;
        // The same map from the same alignment, without the real output's offset.
        let p = Oriented { p: Product { a: &a, b: &b, bias: bias.as_ref().map(|t| t as &dyn AsArg), map: (p_len, s_n, s_m, off % 4), ..self.p }, ..*self };
        let out = scratch("tune.out", p.out_extent(splits))?;
        let d = p.dispatch(gpu, &out, false, tile, splits, k_per)?;
        crate::gpu::tune::time_dispatch(gpu, &d)
    }
}

/// y = conv(x, W) [+ b] for the conv view `s`.
pub fn forward(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg) -> Result<()> {
    let (gpu, ws) = (l.gpu, l.ws);
    let d = dims(s);
    let [w0, w1, _] = [&ws.work[0], &ws.work[1], &ws.work[2]];
    if by_taps(gpu, ws, s) {
        // The weights by tap once, then per chunk x by position and the product.
        push_tap_weights(l, s, wt, w0, 0, None)?;
        for (n0, nc) in chunks_of(s, taps_chunk(s)) {
            l.prog.push(pack(gpu, by_position(s, n0, nc), false, x, w1)?);
            push_forward_taps(l, s, n0, nc, w0, w1, b, y)?;
        }
        return Ok(());
    }
    // W (COUT, K) is already the a operand when K is a multiple of 4.
    let a = if d.k % 4 == 0 {
        wt
    } else {
        l.prog.push(pack(gpu, matrix(0, s.cout, d.k), false, wt, w0)?);
        w0
    };
    if KernelFamily::of(gpu) == KernelFamily::Tiled {
        // Implicit GEMM: the product reads the patches from x itself, the whole batch at once.
        l.prog.push(implicit_forward(gpu, s, x, a, b, y)?);
        return Ok(());
    }
    push_patch_forward(l, s, x, a, w1, b, y, None)
}

/// Per chunk the patch matrix of x into `w1` and its product with `a` into y, storing the
/// activation after the convolution too with `then` ([`Product::whole_fused`]).
#[allow(clippy::too_many_arguments)]
fn push_patch_forward(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, a: &dyn AsArg, w1: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg, then: Option<Epilogue>) -> Result<()> {
    let gpu = l.gpu;
    for (n0, nc) in chunks(s) {
        l.prog.push(pack(gpu, geometry(s, n0, nc), false, x, w1)?);
        let prod = forward_product(s, n0, nc, a, w1, b);
        l.prog.push(match then {
            None => prod.whole(gpu, y)?,
            Some(epi) => prod.whole_fused(gpu, y, epi)?,
        });
    }
    Ok(())
}

/// The product of one chunk of the patch-matrix forward pass: y = a · w1ᵀ [+ b], a the weights
/// (COUT, K padded to 4), w1 the chunk's patch matrix.
fn forward_product<'a>(s: &ConvShape, n0: usize, nc: usize, a: &'a dyn AsArg, w1: &'a dyn AsArg, b: Option<&'a dyn AsArg>) -> Product<'a> {
    let d = dims(s);
    Product { a, b: w1, bias: b, m: s.cout, n: nc * d.plane, k4: r4(d.k) / 4, map: (d.plane, s.cout * d.plane, d.plane, n0 * s.cout * d.plane) }
}

/// [`forward`] with the ReLU or LeakyReLU after the convolution stored by each chunk's product
/// too (`epi`, [`Product::whole_fused`]): where the subgroup family runs the patch-matrix path
/// with K a multiple of 4 and every store is a whole vec4. Ok(false), with nothing appended,
/// elsewhere.
pub fn forward_fused(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg, epi: Epilogue) -> Result<bool> {
    let (gpu, ws) = (l.gpu, l.ws);
    let d = dims(s);
    let w1 = &ws.work[1];
    if KernelFamily::of(gpu) != KernelFamily::Gemm || by_taps(gpu, ws, s) || d.k % 4 != 0 {
        return Ok(false);
    }
    let all = chunks(s);
    if !all.iter().all(|&(n0, nc)| forward_product(s, n0, nc, wt, w1, b).fuses(gpu, y, &epi)) {
        return Ok(false);
    }
    push_patch_forward(l, s, x, wt, w1, b, y, Some(epi))?;
    Ok(true)
}

/// The tiled family's forward pass: y (NCHW) = W · patches(x) [+ bias] in one `tgemm_nt` whose
/// b operand is implicit ([`IMPLICIT`]), `a` the weights (COUT, K padded to 4).
fn implicit_forward(gpu: &Gpu, s: &ConvShape, x: &dyn AsArg, a: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg) -> Result<Dispatch> {
    let d = dims(s);
    let k4 = r4(d.k) / 4;
    let p = Product { a, b: x, bias: b, m: s.cout, n: s.n * d.plane, k4, map: (d.plane, s.cout * d.plane, d.plane, 0) };
    let o = Oriented { p, bias_by_column: false, k_rows: 0, implicit: Some(geometry(s, 0, s.n)) };
    o.dispatch(gpu, y, false, Tile::Narrow, 1, k4)
}

/// `sgemm_taps`' view of ProductParams.geo (the shader's `Implicit`, same 20 words): how its b
/// operand is read tap by tap from an image stored by position, and where C goes. See the
/// shader for each field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Implicit {
    pub c: u32,
    pub gy: u32,
    pub gx: u32,
    pub kh: u32,
    pub kw: u32,
    pub bh: u32,
    pub bw: u32,
    pub mul_y: u32,
    pub mul_x: u32,
    pub add_y: u32,
    pub add_x: u32,
    pub step_y: u32,
    pub step_x: u32,
    pub o_y0: u32,
    pub o_x0: u32,
    pub o_sy: u32,
    pub o_sx: u32,
    pub o_w: u32,
    pub _pad: [u32; 2],
}

/// The weights of `s` (W (COUT, CIN, KH, KW) in `wt`) packed as a `sgemm_taps` a operand into
/// `dst` from vec4 `at`: forward (rows = output channels, all taps) or, for a stride phase, rows
/// = input channels and the phase's taps (first tap (ky0, kx0), taps (ty, tx), one stride apart).
fn push_tap_weights(l: &mut Launch<'_>, s: &ConvShape, wt: &dyn AsArg, dst: &dyn AsArg, at: usize, phase: Option<[usize; 4]>) -> Result<()> {
    let gpu = l.gpu;
    let u = |v: usize| v as u32;
    let plane = s.kh * s.kw;
    let (rows, chans, rs, cs) = if phase.is_some() { (s.cin, s.cout, plane, s.cin * plane) } else { (s.cout, s.cin, s.cin * plane, plane) };
    let [ky0, kx0, ty, tx] = phase.unwrap_or([0, 0, s.kh, s.kw]);
    let step = if phase.is_some() { s.stride } else { [1, 1] };
    let geo = Geometry {
        c: u(rows), rows: u(chans), width: u(r4(chans) / 4), h: u(rs), w: u(cs), kh: u(s.kh), kw: u(s.kw),
        pad_y: u(ky0), pad_x: u(kx0), stride_y: u(step[0]), stride_x: u(step[1]), dil_y: u(ty), dil_x: u(tx), n0: u(at), ..Geometry::default()
    };
    l.prog.push(Dispatch::new(gpu, &TapWeights { src: wt, dst4: dst }, &geo, Some(u(rows * ty * tx * r4(chans) / 4)))?);
    Ok(())
}

/// Whether `sgemm_taps` runs this convolution (the subgroup family only): its rows are
/// `rows` channels (to fill the product's 32-row tiles: a 1-channel image would waste 31 of
/// 32), its columns `cells` and its packed weights `packed` vec4s within the float division's
/// range, and the work buffers hold the operands (`need`, in floats, against `have`).
fn taps_fit(gpu: &Gpu, rows: usize, cells: usize, packed: usize, need: [usize; 2], have: [usize; 2]) -> bool {
    KernelFamily::of(gpu) == KernelFamily::Gemm && rows >= 32 && cells.max(packed) < FAST_DIV_BELOW as usize && need[0] <= have[0] && need[1] <= have[1]
}

/// Whether the input gradient of `s` runs by stride phase: no dilation and a kernel at least as
/// large as its stride (every phase has taps), besides [`taps_fit`].
fn by_phase(gpu: &Gpu, ws: &Workspace, s: &ConvShape) -> bool {
    let nc = phase_chunk(s);
    let packed = s.cin * s.kh * s.kw * r4(s.cout) / 4;
    let need = [nc * s.oh * s.ow * r4(s.cout), packed * 4];
    // (A phase has at most ⌈KH / stride⌉ × ⌈KW / stride⌉ taps.)
    let taps = s.kh.div_ceil(s.stride[0]) * s.kw.div_ceil(s.stride[1]);
    s.dil == [1, 1] && s.kh >= s.stride[0] && s.kw >= s.stride[1] && short_taps(taps, s.cout) && taps_fit(gpu, s.cin, nc * s.h * s.w, packed, need, [ws.work[0].len(), ws.work[1].len()])
}

/// Whether a `sgemm_taps` reduction of `taps` taps over `chans` channels stays within one tile's
/// share of the loop budget ([`crate::gpu::budget::TILE_TRIPS`]; it is never split): longer ones
/// take the packed path, whose products split.
fn short_taps(taps: usize, chans: usize) -> bool {
    (taps * (r4(chans) / 4 + 1)) as u64 <= crate::gpu::budget::TILE_TRIPS
}

/// Whether the forward pass of `s` reads its patches from x by position (no im2col): at least 4
/// input channels (a vec4 step is 4 of them), besides [`taps_fit`].
fn by_taps(gpu: &Gpu, ws: &Workspace, s: &ConvShape) -> bool {
    let nc = taps_chunk(s);
    let packed = s.cout * s.kh * s.kw * r4(s.cin) / 4;
    let need = [packed * 4, nc * s.h * s.w * r4(s.cin)];
    s.cin >= 4 && short_taps(s.kh * s.kw, s.cin) && taps_fit(gpu, s.cout, nc * s.oh * s.ow, packed, need, [ws.work[0].len(), ws.work[1].len()])
}

/// x by position (NHWC, channels padded to 4) for a chunk: the 1 × 1 patch matrix of x.
fn by_position(s: &ConvShape, n0: usize, nc: usize) -> Geometry {
    geometry(&ConvShape { oh: s.h, ow: s.w, kh: 1, kw: 1, stride: [1; 2], pad: [0; 2], dil: [1; 2], ..*s }, n0, nc)
}

/// The forward pass of one chunk through `sgemm_taps`: W packed by tap in `wp` (by the caller),
/// x by position in `xp`, y (NCHW) [+ bias].
#[allow(clippy::too_many_arguments)]
fn push_forward_taps(l: &mut Launch<'_>, s: &ConvShape, n0: usize, nc: usize, wp: &dyn AsArg, xp: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg) -> Result<()> {
    let gpu = l.gpu;
    let u = |v: usize| v as u32;
    let (ci4, plane) = (r4(s.cin) / 4, s.oh * s.ow);
    let neg = |v: usize| (v as u32).wrapping_neg();
    let imp = Implicit {
        c: u(ci4), gy: u(s.oh), gx: u(s.ow), kh: u(s.kh), kw: u(s.kw), bh: u(s.h), bw: u(s.w),
        mul_y: u(s.stride[0]), mul_x: u(s.stride[1]), add_y: neg(s.pad[0]), add_x: neg(s.pad[1]), step_y: u(s.dil[0]), step_x: u(s.dil[1]),
        o_y0: 0, o_x0: 0, o_sy: 1, o_sx: 1, o_w: u(s.ow), _pad: [0; 2],
    };
    let k4 = s.kh * s.kw * ci4;
    // Four consecutive columns of a sample are 4 consecutive floats of y: stored as one vec4 when
    // every group of 4 is aligned (positions and offset multiples of 4, y whole vec4s).
    let off = n0 * s.cout * plane;
    let vec4 = plane % 4 == 0 && off % 4 == 0 && y.size() % 16 == 0;
    let p = SgemmParams {
        m: u(s.cout), n: u(nc * plane), k4: u(k4), k_per: u(k4), splits: 1,
        flags: (BIAS * b.is_some() as u32) | (VEC4 * vec4 as u32), s_m: u(plane), off: u(off),
        geo: bytemuck::cast(imp),
        ..SgemmParams::default()
    };
    let tile = taps_tile(gpu, &p, nc * s.h * s.w * ci4 * 4, b.is_some(), y.size())?;
    l.prog.push(taps_dispatch(gpu, tile, p, wp, xp, b, y, None)?);
    Ok(())
}

/// A 16-byte stand-in for `out` as the vec4 view `out4` of a product when `out` is too small to
/// be bound as vec4s (never written through: the caller's flag 4 is then off).
fn spare_vec4(gpu: &Gpu, out: &dyn AsArg) -> Option<wgpu::Buffer> {
    (out.size() < 16).then(|| gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some("sgemm.spare"), size: 16, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false }))
}

/// The stride phases of `s` that hold input values: ((ry, rx) as `phase_axis` gives them for
/// each axis: (first input, count, first tap, taps, offset)).
fn phases(s: &ConvShape) -> Vec<[(usize, usize, usize, usize, usize); 2]> {
    let mut v = Vec::new();
    for ry in 0..s.stride[0] {
        for rx in 0..s.stride[1] {
            let py = phase_axis(s.h, s.stride[0], s.pad[0], s.kh, ry);
            let px = phase_axis(s.w, s.stride[1], s.pad[1], s.kw, rx);
            if py.1 > 0 && px.1 > 0 {
                v.push([py, px]);
            }
        }
    }
    v
}

/// Every stride phase's weights, one block after another in `wp` (blocks of CIN·taps·COUT4 vec4s):
/// once per pass, for all chunks.
fn push_phase_weights(l: &mut Launch<'_>, s: &ConvShape, wt: &dyn AsArg, wp: &dyn AsArg) -> Result<()> {
    let mut at = 0;
    for [(_, _, ry, ty, _), (_, _, rx, tx, _)] in phases(s) {
        push_tap_weights(l, s, wt, wp, at, Some([ry, rx, ty, tx]))?;
        at += s.cin * ty * tx * r4(s.cout) / 4;
    }
    Ok(())
}

/// The input gradient of one chunk by stride phase: per phase one `sgemm_taps` from its weights
/// in `wp` ([`push_phase_weights`]) and dy by position (`dyp`, packed by the caller) into dx.
#[allow(clippy::too_many_arguments)]
fn push_phases(l: &mut Launch<'_>, s: &ConvShape, n0: usize, nc: usize, wp: &dyn AsArg, dyp: &dyn AsArg, b: Option<&dyn AsArg>, dx: &dyn AsArg, below: Option<Epilogue>) -> Result<()> {
    let gpu = l.gpu;
    let u = |v: usize| v as u32;
    let co4 = r4(s.cout) / 4;
    let mut at = 0;
    for [(iy0, ay, _, ty, cy), (ix0, bx, _, tx, cx)] in phases(s) {
        let imp = Implicit {
            c: u(co4), gy: u(ay), gx: u(bx), kh: u(ty), kw: u(tx), bh: u(s.oh), bw: u(s.ow),
            mul_y: 1, mul_x: 1, add_y: u(cy), add_x: u(cx), step_y: u32::MAX, step_x: u32::MAX,
            o_y0: u(iy0), o_x0: u(ix0), o_sy: u(s.stride[0]), o_sx: u(s.stride[1]), o_w: u(s.w), _pad: [0; 2],
        };
        let k4 = ty * tx * co4;
        let p = SgemmParams {
            m: u(s.cin), n: u(nc * ay * bx), k4: u(k4), k_per: u(k4), splits: 1,
            flags: BIAS * b.is_some() as u32, s_m: u(s.h * s.w), off: u(n0 * s.cin * s.h * s.w), slot: u(at),
            geo: bytemuck::cast(imp),
            ..SgemmParams::default()
        };
        at += s.cin * k4;
        let tile = taps_tile(gpu, &p, nc * s.oh * s.ow * co4 * 4, b.is_some(), dx.size())?;
        l.prog.push(taps_dispatch(gpu, tile, p, wp, dyp, b, dx, below)?);
    }
    Ok(())
}

/// A `sgemm_taps` launch of `p` with `tile`'s entry (its tiles filled in); with `below` (an
/// [`Epilogue::Dact`]) the `_dact` entry, storing through the activation before the convolution
/// (the caller checks that the product overwrites in one split).
#[allow(clippy::too_many_arguments)]
fn taps_dispatch(gpu: &Gpu, tile: Tile, p: SgemmParams, a: &dyn AsArg, b: &dyn AsArg, bias: Option<&dyn AsArg>, out: &dyn AsArg, below: Option<Epilogue>) -> Result<Dispatch> {
    let (tm, tn) = (p.m.div_ceil(32), p.n.div_ceil(tile.width() as u32));
    let mut p = SgemmParams { tiles_m: tm, tiles_n: tn, ..p };
    let wide = tile == Tile::Wide;
    let (entry, pre) = match below {
        None => (if wide { "sgemm_taps_wide" } else { "sgemm_taps" }, a),
        Some(Epilogue::Dact { pre, slope, relu }) => {
            (p.slope, p.flags) = (slope, p.flags | (RELU * relu as u32));
            (if wide { "sgemm_taps_wide_dact" } else { "sgemm_taps_dact" }, pre)
        }
        Some(Epilogue::Act { .. }) => return Err(Error::Shape("a stride-phase product takes only the gradient through the activation before it".into())),
    };
    // A buffer under 16 bytes cannot be bound as vec4s: a spare one stands in (flag 4 is then
    // off, since the caller sets it only for whole vec4s).
    let spare = spare_vec4(gpu, out);
    let out4 = spare.as_ref().map_or(out, |s| s as &dyn AsArg);
    let (bias, threads) = (bias.unwrap_or(a), Some(tm * tn * 8));
    // Read through textures: a from `slot` on; b, the images of the samples the launch's cells
    // lie in.
    let e: Implicit = bytemuck::cast(p.geo);
    let samples = (p.n as u64).saturating_sub(1) / (e.gy as u64 * e.gx as u64).max(1) + 1;
    let extents = [p.slot as u64 + p.m as u64 * p.k4 as u64, samples * e.bh as u64 * e.bw as u64 * e.c as u64];
    Dispatch::new(gpu, &SgemmTaps { entry, a, b, bias, out, out4, act4: out4, pre4: pre }, &p, threads).map(|d| d.with_mirror_extents(&extents))
}

/// The tile for a `sgemm_taps` product: the tuner's choice, timed on scratch operands of the
/// real sizes (`b_len` floats of the image by position, an output of `out_bytes`), else the
/// narrow one.
fn taps_tile(gpu: &Gpu, p: &SgemmParams, b_len: usize, bias: bool, out_bytes: u64) -> Result<Tile> {
    let e: Implicit = bytemuck::cast(p.geo);
    let key = format!("sgemm_taps m={} n={} k4={} taps={}x{} step={} flags={}", p.m, p.n, p.k4, e.kh, e.kw, e.step_y as i32, p.flags);
    let pick = gpu.tuned(&key, &["sgemm_taps", "sgemm_taps_wide"], |name| {
        let tile = if name == "sgemm_taps_wide" { Tile::Wide } else { Tile::Narrow };
        let scratch = |label: &str, len: usize| Tensor::zeros(gpu, label, len.max(4));
        let a = scratch("tune.a", p.m as usize * p.k4 as usize * 4)?;
        let b = scratch("tune.b", b_len)?;
        let out = scratch("tune.out", out_bytes as usize / 4)?;
        let bias = bias.then(|| scratch("tune.bias", p.m as usize)).transpose()?;
        crate::gpu::tune::time_dispatch(gpu, &taps_dispatch(gpu, tile, SgemmParams { slot: 0, ..*p }, &a, &b, bias.as_ref().map(|t| t as &dyn AsArg), &out, None)?)
    })?;
    Ok(if pick.as_deref() == Some("sgemm_taps_wide") { Tile::Wide } else { Tile::Narrow })
}

/// dx = [b +] the input gradient of the conv view `s` for the output gradient dy.
pub fn backward_input(l: &mut Launch<'_>, s: &ConvShape, dy: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, dx: &dyn AsArg) -> Result<()> {
    let (gpu, ws) = (l.gpu, l.ws);
    let d = dims(s);
    let [w0, w1, w2] = [&ws.work[0], &ws.work[1], &ws.work[2]];
    if by_phase(gpu, ws, s) {
        return push_input_by_phase(l, s, dy, wt, b, dx, None);
    }
    // Wᵀ (K, COUT padded to 4), once for all chunks.
    l.prog.push(pack(gpu, matrix(0, s.cout, d.k), true, wt, w1)?);
    for (n0, nc) in chunks(s) {
        let cols = nc * d.plane;
        // dy by position: the chunk's (cols, COUT) matrix, a 1 × 1 patch matrix of dy.
        let g = dy_matrix(s, n0, nc);
        l.prog.push(pack(gpu, g, false, dy, w0)?);
        // The patch gradient transposed, (K, cols): col2im's neighbouring invocations then read
        // neighbouring values (a (cols, K) layout has them K floats apart: R2's col2im took 88 ms
        // a step that way, 68 ms this way, in one kernel_bench run).
        let prod = Product { a: w1, b: w0, bias: None, m: d.k, n: cols, k4: r4(s.cout) / 4, map: Product::rows(cols) };
        l.prog.push(prod.whole(gpu, w2)?);
        push_col2im(l, s, n0, nc, b, w2, dx)?;
    }
    Ok(())
}

/// Whether [`backward_input_fused`] runs for the conv view `s` with the activation's input in
/// `pre`: the stride-phase path (the subgroup family), `pre` bindable as vec4s over dx's extent.
pub fn input_fuses(gpu: &Gpu, ws: &Workspace, s: &ConvShape, pre: &dyn AsArg) -> bool {
    let need = (s.n * s.cin * s.h * s.w * 4) as u64;
    by_phase(gpu, ws, s) && pre.size() % 16 == 0 && pre.size() >= need
}

/// [`backward_input`] taken on through the ReLU or LeakyReLU before the convolution (`below`,
/// an [`Epilogue::Dact`] whose `pre` is that activation's input): dx is then the gradient at the
/// activation's input. Fails unless [`input_fuses`].
pub fn backward_input_fused(l: &mut Launch<'_>, s: &ConvShape, dy: &dyn AsArg, wt: &dyn AsArg, dx: &dyn AsArg, below: Epilogue) -> Result<()> {
    let (gpu, ws) = (l.gpu, l.ws);
    if !input_fuses(gpu, ws, s, below.buffer()) {
        return Err(Error::Shape("this convolution's input gradient cannot take the activation before it".into()));
    }
    push_input_by_phase(l, s, dy, wt, None, dx, Some(below))
}

/// The input gradient by stride phase: the phases' weights once, then per chunk dy by position
/// and one `sgemm_taps` per phase (through the activation before the convolution with `below`).
fn push_input_by_phase(l: &mut Launch<'_>, s: &ConvShape, dy: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, dx: &dyn AsArg, below: Option<Epilogue>) -> Result<()> {
    let (gpu, ws) = (l.gpu, l.ws);
    let [w0, w1] = [&ws.work[0], &ws.work[1]];
    push_phase_weights(l, s, wt, w1)?;
    for (n0, nc) in chunks_of(s, phase_chunk(s)) {
        l.prog.push(pack(gpu, dy_matrix(s, n0, nc), false, dy, w0)?);
        push_phases(l, s, n0, nc, w1, w0, b, dx, below)?;
    }
    Ok(())
}

/// dW [+]= the weight gradient of the conv view `s` (x and dy in the conv view's roles).
pub fn backward_weight(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, dy: &dyn AsArg, dw: &dyn AsArg, accumulate: bool) -> Result<()> {
    let (gpu, ws) = (l.gpu, l.ws);
    let d = dims(s);
    let [w0, w1] = [&ws.work[0], &ws.work[1]];
    for (i, (n0, nc)) in chunks(s).into_iter().enumerate() {
        let cols = nc * d.plane;
        // dy by channel: (COUT, cols padded to 4), the transposed 1 × 1 patch matrix of dy.
        let g = dy_matrix(s, n0, nc);
        l.prog.push(pack(gpu, g, true, dy, w0)?);
        l.prog.push(pack(gpu, geometry(s, n0, nc), true, x, w1)?);
        let prod = Product { a: w0, b: w1, bias: None, m: s.cout, n: d.k, k4: r4(cols) / 4, map: Product::rows(d.k) };
        prod.push_split(l, dw, accumulate || i > 0)?;
    }
    Ok(())
}
