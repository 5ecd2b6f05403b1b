// Shared by every kernel file: prepended to each one when its pipelines are built
// (src/gpu/kernel.rs::source), so the files below use these without defining them.

// Invocations per workgroup of the element-wise and register-blocked kernels, a pipeline-override
// constant: the host reads the resolved value back (Kernel::workgroup_x) when it sizes a launch.
override WG: u32 = 64u;

// The flat invocation index of a launch of more than 65,535 workgroups, which the host folds onto
// x and y (src/gpu/kernel.rs::grid).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Four consecutive indices from `first`, clamped to the last valid one (count − 1): reads of a
// block that hangs over the edge stay in bounds, and the block's stores are guarded instead.
fn clamp4(first: u32, count: u32) -> vec4<u32> {
    return min(vec4<u32>(first, first + 1u, first + 2u, first + 3u), vec4<u32>(count - 1u));
}

// What a training step reports (written by loss.wgsl and penalty.wgsl); the host's `loss::Stats`
// has the same fields at the same offsets (checked by src/loss.rs::check_stats_layout).
struct Stats {
    d_loss: f32,
    d_real: f32,
    d_fake: f32,
    acc_real: f32,
    acc_fake: f32,
    g_loss: f32,
    penalty: f32,
}

// σ(v) without overflow for either sign.
fn sigmoid(v: f32) -> f32 {
    if (v >= 0.0) {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

// For a convolution's input gradient (conv.wgsl, pack.wgsl's col2im): the first tap k < step
// with k·dil ≡ i (mod stride), or `none` when no tap lands (possible only when the dilation and
// the stride share a factor).
fn first_tap(i: u32, dil: u32, stride: u32, step: u32, none: u32) -> u32 {
    let r = i % stride;
    for (var k = 0u; k < step; k++) {
        if ((k * dil) % stride == r) { return k; }
    }
    return none;
}

// The geometry of a convolution x (N, C, H, W) -> (N, ·, OH, OW) with a KH × KW kernel, for the
// chunk of samples [n0, n0 + cols / (OH·OW)): pack.wgsl's im2col and col2im, and tiled.wgsl's
// implicit patches.
struct Geometry {
    n0: u32,
    // Output positions in the chunk (chunk samples × OH·OW), and the patch rows written: cols, or
    // cols rounded up to 4 in the transposed layout (the extra rows are zeros).
    cols: u32,
    rows: u32,
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_y: u32,
    stride_x: u32,
    pad_y: u32,
    pad_x: u32,
    dil_y: u32,
    dil_x: u32,
    // Taps of one stride phase are tap_step apart (col2im; see conv.wgsl's backward_input).
    tap_step_y: u32,
    tap_step_x: u32,
    // Floats per patch row: C·KH·KW rounded up to 4 (im2col, im2col_rows), the rows
    // (im2col_cols), or cols (the patch gradient (K, cols) that col2im reads).
    width: u32,
    // bit 0: add bias[c] (col2im, binding 3).
    flags: u32,
}

// The uniform of the matrix products C = a·bᵀ (conv_gemm.wgsl's sgemm_nt, tiled.wgsl's tgemm_nt;
// src/ops/conv_gemm.rs::SgemmParams).
struct ProductParams {
    // C is M × N; both operands have rows of k4 vec4s.
    m: u32,
    n: u32,
    k4: u32,
    // vec4 steps per split of the reduction, splits, and tiles along M and N (conv_gemm.wgsl:
    // 32 rows by 32 or 64 columns; tiled.wgsl: 64 by 64).
    k_per: u32,
    splits: u32,
    tiles_m: u32,
    tiles_n: u32,
    // bit 0: add bias[m] (with bit 3: bias[n]); bit 1: add into out instead of overwriting it;
    // bit 2 (sgemm_nt): the map keeps every aligned group of 4 columns contiguous and 16-byte
    // aligned (p_len, s_n, s_m, off and slot multiples of 4), so that they are stored as one vec4;
    // bit 4 (tgemm_nt): b is implicit, the patches of `geo`'s convolution.
    flags: u32,
    // Where C[m, n] goes: out[off + split·slot + (n / p_len)·s_n + m·s_m + n % p_len]. A plain
    // row-major M × N result has p_len = N, s_m = N, s_n = 0; an NCHW output with M channels and
    // N = samples × positions has p_len = positions, s_m = positions, s_n = M·positions.
    p_len: u32,
    s_n: u32,
    s_m: u32,
    off: u32,
    slot: u32,
    // sgemm_tn: the rows of a and b (the reduction's length; k4 = ceil(k_rows / 4)).
    k_rows: u32,
    // The negative side's slope of the activation fused into the store (conv_gemm.wgsl's
    // sgemm_nt_act and sgemm_nt_dact entries; with flag 32 a ReLU, whose negative side is 0).
    slope: f32,
    _pad2: u32,
    // tiled.wgsl with flag 16: the b operand is the patch matrix of this convolution, read from
    // the image directly (implicit GEMM) instead of a packed matrix.
    geo: Geometry,
}

// (i / d, i % d) for d ≥ 1. llvmpipe runs an integer division one lane at a time (eight scalar
// divisions per vector); with `fast` the quotient comes from a vectorised float division instead,
// corrected by one step: exact while i < 2^22 (the float quotient is then off by at most one).
// Without it, the plain integer division.
fn divmod(i: u32, d: u32, fast: bool) -> vec2<u32> {
    if (!fast) { return vec2<u32>(i / d, i % d); }
    let q0 = u32(f32(i) / f32(d));
    let r0 = i32(i) - i32(q0 * d);
    let lo = r0 < 0;
    let hi = r0 >= i32(d);
    let q1 = select(select(q0, q0 + 1u, hi), q0 - 1u, lo);
    let r1 = select(select(r0, r0 - i32(d), hi), r0 + i32(d), lo);
    return vec2<u32>(q1, u32(r1));
}

// ReLU and LeakyReLU, four values at a time, for kernels that fuse them into their stores: the
// negative side is slope·v, or exactly 0 for a ReLU (so no −0 and no 0·∞ = NaN), as the
// activation kernels and their CPU reference (src/nn/activation.rs) give.
fn leaky4(v: vec4<f32>, slope: f32, relu: bool) -> vec4<f32> {
    return select(select(slope * v, vec4<f32>(0.0), relu), v, v > vec4<f32>(0.0));
}

// The gradient d at such an activation's output taken to its input `pre`: d where pre > 0, else
// slope·d (0 for a ReLU).
fn leaky_grad4(d: vec4<f32>, pre: vec4<f32>, slope: f32, relu: bool) -> vec4<f32> {
    return select(select(slope * d, vec4<f32>(0.0), relu), d, pre > vec4<f32>(0.0));
}

// The same one value at a time.
fn leaky(v: f32, slope: f32, relu: bool) -> f32 {
    return select(select(slope * v, 0.0, relu), v, v > 0.0);
}

fn leaky_grad(d: f32, pre: f32, slope: f32, relu: bool) -> f32 {
    return select(select(slope * d, 0.0, relu), d, pre > 0.0);
}
