// Convolutions as matrix products, for the software adapter (llvmpipe): the "CPU-adapter family"
// of src/nn/conv_gemm.rs, chosen when the device runs 8-wide subgroups.
//
//   sgemm_nt  a (M, K4·4), b (N, K4·4) -> out        C[m, n] = [bias[m] +] Σ_k a[m, k]·b[n, k]
//   im2col    x (N, C, H, W) -> the matrix of its patches, one row per output position (or its
//             transpose, one row per (channel, tap)), rows padded with zeros
//   col2im    the patch-matrix gradient (C·KH·KW, positions) -> dx (N, C, H, W): every input
//             pixel sums the taps that read it [+ bias]
//
// Why this shape. llvmpipe runs 8 invocations as the lanes of one 256-bit vector. Arithmetic is
// vectorised, but a storage load whose address is not a compile-time constant becomes a loop over
// the 8 lanes, each loading its own scalars: loads, not multiply-adds, bound a naive kernel. So in
// sgemm_nt a subgroup of 8 lanes owns a 32 × 32 tile of C and, per step of 4 along k, each lane
// loads only 4 rows of a and 4 rows of b (one vec4 each: the lane loop runs once for 4 values).
// Lane l owns columns n0 + l, n0 + 8 + l, n0 + 16 + l, n0 + 24 + l: exactly the b rows it loaded.
// The 32 rows of a it needs come from the other lanes through subgroupShuffle with a constant
// lane, which llvmpipe compiles to one vector shuffle. So each loaded value feeds 32 multiply-adds
// and the 8 lanes do 4,096 of them per step. On 2 cores this reached 30-48 GFLOP/s against 6-8 for
// the 8 × 8-per-invocation gemm_nt and 2-4 for the direct convolution kernels (docs/BENCHMARKS.md).
// The body is unrolled by hand (32 named accumulators) so that no accumulator is a dynamically
// indexed array, which llvmpipe would keep in memory.
//
// A real GPU runs 32- or 64-wide subgroups, where this lane arithmetic does not hold; there the
// direct kernels of conv.wgsl run (src/nn/conv_gemm.rs::ConvFamily).

struct Params {
    // sgemm_nt: C is M × N; both operands have rows of k4 vec4s.
    m: u32,
    n: u32,
    k4: u32,
    // vec4 steps per split of the reduction, splits, and tiles of 32 along M and N.
    k_per: u32,
    splits: u32,
    tiles_m: u32,
    tiles_n: u32,
    // bit 0: add bias[m]; bit 1: add into out instead of overwriting it.
    flags: u32,
    // Where C[m, n] goes: out[off + split·slot + (n / p_len)·s_n + m·s_m + n % p_len]. A plain
    // row-major M × N result has p_len = N, s_m = N, s_n = 0; an NCHW output with M channels and
    // N = samples × positions has p_len = positions, s_m = positions, s_n = M·positions.
    p_len: u32,
    s_n: u32,
    s_m: u32,
    off: u32,
    slot: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> g: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// c + (x·b0, x·b1, x·b2, x·b3): one row of a against the lane's four rows of b, four k values.
fn fma4(c: vec4<f32>, x: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return c + vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
}

// Where the lane's four columns go (their part of the output index), and which exist.
struct Cols {
    at: vec4<u32>,
    ok: vec4<bool>,
    base: u32,
}

// Stores row m of the lane's columns.
fn put(m: u32, c: vec4<f32>, o: Cols) {
    if (m >= g.m) { return; }
    let row = o.base + m * g.s_m;
    var v = c;
    if ((g.flags & 1u) != 0u) { v += vec4<f32>(bias[m]); }
    // (A branch, not select(0, out[i], add): select would load out[i] on every store.)
    if ((g.flags & 2u) != 0u) {
        for (var j = 0u; j < 4u; j++) {
            if (o.ok[j]) { out[row + o.at[j]] += v[j]; }
        }
    } else {
        for (var j = 0u; j < 4u; j++) {
            if (o.ok[j]) { out[row + o.at[j]] = v[j]; }
        }
    }
}

@compute @workgroup_size(8)
fn sgemm_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(subgroup_invocation_id) l: u32) {
    let t = wid.x + wid.y * nwg.x;
    let tiles = g.tiles_m * g.tiles_n;
    let split = t / tiles;
    if (split >= g.splits) { return; }
    let m0 = ((t % tiles) / g.tiles_n) * 32u;
    let n0 = ((t % tiles) % g.tiles_n) * 32u;
    let k0 = split * g.k_per;
    let k1 = min(k0 + g.k_per, g.k4);
    // Rows of a (all lanes together: m0 .. m0 + 32) and of b (this lane's columns), clamped to the
    // last row: the clamped ones are never stored.
    let ar = min(vec4<u32>(m0 + l, m0 + 8u + l, m0 + 16u + l, m0 + 24u + l), vec4<u32>(g.m - 1u)) * g.k4;
    let cols = vec4<u32>(n0 + l, n0 + 8u + l, n0 + 16u + l, n0 + 24u + l);
    let br = min(cols, vec4<u32>(g.n - 1u)) * g.k4;
    var c0: vec4<f32>; var c1: vec4<f32>; var c2: vec4<f32>; var c3: vec4<f32>;
    var c4: vec4<f32>; var c5: vec4<f32>; var c6: vec4<f32>; var c7: vec4<f32>;
    var c8: vec4<f32>; var c9: vec4<f32>; var c10: vec4<f32>; var c11: vec4<f32>;
    var c12: vec4<f32>; var c13: vec4<f32>; var c14: vec4<f32>; var c15: vec4<f32>;
    var c16: vec4<f32>; var c17: vec4<f32>; var c18: vec4<f32>; var c19: vec4<f32>;
    var c20: vec4<f32>; var c21: vec4<f32>; var c22: vec4<f32>; var c23: vec4<f32>;
    var c24: vec4<f32>; var c25: vec4<f32>; var c26: vec4<f32>; var c27: vec4<f32>;
    var c28: vec4<f32>; var c29: vec4<f32>; var c30: vec4<f32>; var c31: vec4<f32>;    for (var k = k0; k < k1; k++) {
        let a0 = a[ar.x + k];
        let a1 = a[ar.y + k];
        let a2 = a[ar.z + k];
        let a3 = a[ar.w + k];
        let b0 = b[br.x + k];
        let b1 = b[br.y + k];
        let b2 = b[br.z + k];
        let b3 = b[br.w + k];
        c0 = fma4(c0, subgroupShuffle(a0, 0u), b0, b1, b2, b3);
        c1 = fma4(c1, subgroupShuffle(a0, 1u), b0, b1, b2, b3);
        c2 = fma4(c2, subgroupShuffle(a0, 2u), b0, b1, b2, b3);
        c3 = fma4(c3, subgroupShuffle(a0, 3u), b0, b1, b2, b3);
        c4 = fma4(c4, subgroupShuffle(a0, 4u), b0, b1, b2, b3);
        c5 = fma4(c5, subgroupShuffle(a0, 5u), b0, b1, b2, b3);
        c6 = fma4(c6, subgroupShuffle(a0, 6u), b0, b1, b2, b3);
        c7 = fma4(c7, subgroupShuffle(a0, 7u), b0, b1, b2, b3);
        c8 = fma4(c8, subgroupShuffle(a1, 0u), b0, b1, b2, b3);
        c9 = fma4(c9, subgroupShuffle(a1, 1u), b0, b1, b2, b3);
        c10 = fma4(c10, subgroupShuffle(a1, 2u), b0, b1, b2, b3);
        c11 = fma4(c11, subgroupShuffle(a1, 3u), b0, b1, b2, b3);
        c12 = fma4(c12, subgroupShuffle(a1, 4u), b0, b1, b2, b3);
        c13 = fma4(c13, subgroupShuffle(a1, 5u), b0, b1, b2, b3);
        c14 = fma4(c14, subgroupShuffle(a1, 6u), b0, b1, b2, b3);
        c15 = fma4(c15, subgroupShuffle(a1, 7u), b0, b1, b2, b3);
        c16 = fma4(c16, subgroupShuffle(a2, 0u), b0, b1, b2, b3);
        c17 = fma4(c17, subgroupShuffle(a2, 1u), b0, b1, b2, b3);
        c18 = fma4(c18, subgroupShuffle(a2, 2u), b0, b1, b2, b3);
        c19 = fma4(c19, subgroupShuffle(a2, 3u), b0, b1, b2, b3);
        c20 = fma4(c20, subgroupShuffle(a2, 4u), b0, b1, b2, b3);
        c21 = fma4(c21, subgroupShuffle(a2, 5u), b0, b1, b2, b3);
        c22 = fma4(c22, subgroupShuffle(a2, 6u), b0, b1, b2, b3);
        c23 = fma4(c23, subgroupShuffle(a2, 7u), b0, b1, b2, b3);
        c24 = fma4(c24, subgroupShuffle(a3, 0u), b0, b1, b2, b3);
        c25 = fma4(c25, subgroupShuffle(a3, 1u), b0, b1, b2, b3);
        c26 = fma4(c26, subgroupShuffle(a3, 2u), b0, b1, b2, b3);
        c27 = fma4(c27, subgroupShuffle(a3, 3u), b0, b1, b2, b3);
        c28 = fma4(c28, subgroupShuffle(a3, 4u), b0, b1, b2, b3);
        c29 = fma4(c29, subgroupShuffle(a3, 5u), b0, b1, b2, b3);
        c30 = fma4(c30, subgroupShuffle(a3, 6u), b0, b1, b2, b3);
        c31 = fma4(c31, subgroupShuffle(a3, 7u), b0, b1, b2, b3);
    }
    let o = Cols((cols / g.p_len) * g.s_n + cols % g.p_len, cols < vec4<u32>(g.n), g.off + split * g.slot);
    put(m0 + 0u, c0, o);
    put(m0 + 1u, c1, o);
    put(m0 + 2u, c2, o);
    put(m0 + 3u, c3, o);
    put(m0 + 4u, c4, o);
    put(m0 + 5u, c5, o);
    put(m0 + 6u, c6, o);
    put(m0 + 7u, c7, o);
    put(m0 + 8u, c8, o);
    put(m0 + 9u, c9, o);
    put(m0 + 10u, c10, o);
    put(m0 + 11u, c11, o);
    put(m0 + 12u, c12, o);
    put(m0 + 13u, c13, o);
    put(m0 + 14u, c14, o);
    put(m0 + 15u, c15, o);
    put(m0 + 16u, c16, o);
    put(m0 + 17u, c17, o);
    put(m0 + 18u, c18, o);
    put(m0 + 19u, c19, o);
    put(m0 + 20u, c20, o);
    put(m0 + 21u, c21, o);
    put(m0 + 22u, c22, o);
    put(m0 + 23u, c23, o);
    put(m0 + 24u, c24, o);
    put(m0 + 25u, c25, o);
    put(m0 + 26u, c26, o);
    put(m0 + 27u, c27, o);
    put(m0 + 28u, c28, o);
    put(m0 + 29u, c29, o);
    put(m0 + 30u, c30, o);
    put(m0 + 31u, c31, o);
}

// ------------------------------------------------------------------ patches

// The geometry of im2col and col2im: a convolution x (N, C, H, W) -> (N, ·, OH, OW) with a
// KH × KW kernel, for the chunk of samples [n0, n0 + cols / (OH·OW)).
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

@group(0) @binding(5) var<uniform> q: Geometry;
@group(0) @binding(6) var<storage, read> src: array<f32>;
@group(0) @binding(7) var<storage, read_write> dst: array<f32>;
@group(0) @binding(8) var<storage, read_write> dst4: array<vec4<f32>>;

// Where output position `col` of the chunk is: (sample, row, column).
fn position(col: u32) -> vec3<u32> {
    let plane = q.oh * q.ow;
    let pos = col % plane;
    return vec3<u32>(q.n0 + col / plane, pos / q.ow, pos % q.ow);
}

// The input value that tap (ky, kx) of channel ch reads for position at, 0 in the padding or
// past the chunk (`live` false; `at` must still be a position of the batch). Branch-free: the
// read is clamped into the image and its value masked (a branch around a load costs llvmpipe
// more than the load).
fn tap(at: vec3<u32>, live: bool, ch: u32, ky: u32, kx: u32) -> f32 {
    let iy = i32(at.y * q.stride_y + ky * q.dil_y) - i32(q.pad_y);
    let ix = i32(at.z * q.stride_x + kx * q.dil_x) - i32(q.pad_x);
    let ok = live && iy >= 0 && iy < i32(q.h) && ix >= 0 && ix < i32(q.w);
    let y = u32(clamp(iy, 0, i32(q.h) - 1));
    let x = u32(clamp(ix, 0, i32(q.w) - 1));
    return select(0.0, src[((at.x * q.c + ch) * q.h + y) * q.w + x], ok);
}

// The plain layout written four values at a time (stores, like loads, cost a loop over the lanes
// per value or per vec4): when KH·KW is a multiple of 4, one invocation per (position, channel)
// writes its taps as vec4s; with a 1 × 1 kernel (a matrix: dy by position, W), one invocation per
// (position, 4 channels). Rows are width floats, width a multiple of 4.
@compute @workgroup_size(WG)
fn im2col_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let taps = q.kh * q.kw;
    let row4 = q.width / 4u;
    if (taps == 1u) {
        let quads = (q.c + 3u) / 4u;
        if (i >= q.rows * quads) { return; }
        let col = i / quads;
        let c0 = 4u * (i % quads);
        let at = position(col);
        var v = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            if (c0 + j < q.c) { v[j] = tap(at, true, c0 + j, 0u, 0u); }
        }
        dst4[col * row4 + c0 / 4u] = v;
        return;
    }
    if (i >= q.rows * q.c) { return; }
    let col = i / q.c;
    let ch = i % q.c;
    let at = position(col);
    var o = col * row4 + ch * taps / 4u;
    var ky = 0u;
    var kx = 0u;
    for (var t = 0u; t < taps; t += 4u) {
        var v: vec4<f32>;
        for (var j = 0u; j < 4u; j++) {
            v[j] = tap(at, true, ch, ky, kx);
            kx += 1u;
            if (kx == q.kw) { kx = 0u; ky += 1u; }
        }
        dst4[o] = v;
        o += 1u;
    }
    if (ch + 1u == q.c) {
        for (var k = (q.c * taps) / 4u; k < row4; k++) {
            dst4[col * row4 + k] = vec4<f32>(0.0);
        }
    }
}

// The transposed layout four positions at a time: one invocation per (4 positions, channel)
// writes one vec4 per tap (zeros past the chunk). Rows are width = rows floats.
@compute @workgroup_size(WG)
fn im2col_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let quads = q.rows / 4u;
    if (i >= quads * q.c) { return; }
    let c0 = 4u * (i % quads);
    let ch = i / quads;
    // (Positions past the chunk read the last one's pixels, masked to 0 by `live`.)
    let last = q.cols - 1u;
    let p0 = position(min(c0, last));
    let p1 = position(min(c0 + 1u, last));
    let p2 = position(min(c0 + 2u, last));
    let p3 = position(min(c0 + 3u, last));
    let live = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(q.cols);
    var o = ch * q.kh * q.kw * quads + c0 / 4u;
    for (var ky = 0u; ky < q.kh; ky++) {
        for (var kx = 0u; kx < q.kw; kx++) {
            dst4[o] = vec4<f32>(tap(p0, live.x, ch, ky, kx), tap(p1, live.y, ch, ky, kx), tap(p2, live.z, ch, ky, kx), tap(p3, live.w, ch, ky, kx));
            o += quads;
        }
    }
}

// The plain layout one value at a time, for kernels whose KH·KW is not a multiple of 4 (see
// im2col_rows): one invocation per (output position, channel) writes its KH·KW taps, zero where
// they fall in the padding; the columns past C·KH·KW are zeros (written by the last channel).
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= q.rows * q.c) { return; }
    let col = i / q.c;
    let ch = i % q.c;
    let at = position(col);
    var o = col * q.width + ch * q.kh * q.kw;
    for (var ky = 0u; ky < q.kh; ky++) {
        for (var kx = 0u; kx < q.kw; kx++) {
            dst[o] = tap(at, true, ch, ky, kx);
            o += 1u;
        }
    }
    if (ch + 1u == q.c) {
        for (var k = q.c * q.kh * q.kw; k < q.width; k++) {
            dst[col * q.width + k] = 0.0;
        }
    }
}

// dx[n, c, iy, ix] = [bias[c] +] Σ over the taps that read (iy, ix) of the patch gradient there:
// one invocation per input value of the chunk, only the taps of its stride phase visited.
@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let plane = q.oh * q.ow;
    let chunk = q.cols / plane;
    let img = q.h * q.w;
    if (i >= chunk * q.c * img) { return; }
    let nl = i / (q.c * img);
    let ch = (i / img) % q.c;
    let iy = (i % img) / q.w + q.pad_y;    // shifted by pad: oy·stride + ky·dil = iy
    let ix = i % q.w + q.pad_x;
    let taps = q.kh * q.kw;
    var s = 0.0;
    if ((q.flags & 1u) != 0u) { s = bias[ch]; }
    let ky0 = first_tap(iy, q.dil_y, q.stride_y, q.tap_step_y, q.kh);
    let kx0 = first_tap(ix, q.dil_x, q.stride_x, q.tap_step_x, q.kw);
    for (var ky = ky0; ky < q.kh && ky * q.dil_y <= iy; ky += q.tap_step_y) {
        let oy = (iy - ky * q.dil_y) / q.stride_y;
        if (oy >= q.oh) { continue; }
        for (var kx = kx0; kx < q.kw && kx * q.dil_x <= ix; kx += q.tap_step_x) {
            let ox = (ix - kx * q.dil_x) / q.stride_x;
            if (ox >= q.ow) { continue; }
            s += src[(ch * taps + ky * q.kw + kx) * q.width + nl * plane + oy * q.ow + ox];
        }
    }
    dst[q.n0 * q.c * img + i] = s;
}

// col2im for one stride phase (dilation 1): the input values whose row ≡ phase_y and column ≡
// phase_x (mod stride) after padding, which are read by the same taps, so that no invocation
// divides per tap. One dispatch per phase; together they cover every input value once.
struct Phase {
    n0: u32,
    chunk: u32,
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    // Floats per row of the patch gradient (K, cols): the chunk's positions; bit 0 of flags:
    // add bias[c].
    width: u32,
    flags: u32,
    stride_y: u32,
    stride_x: u32,
    // The phase's first input row and column, and its grid of ay × bx input values.
    iy0: u32,
    ix0: u32,
    ay: u32,
    bx: u32,
    // Its first tap (ry, rx); tap t reads output row a + cy − t (likewise columns); ty × tx taps.
    ry: u32,
    rx: u32,
    cy: u32,
    cx: u32,
    ty: u32,
    tx: u32,
    _pad: u32,
}

@group(0) @binding(9) var<uniform> f: Phase;

// Invocation i of a phase: (sample in the chunk, channel, row and column in the phase's grid).
fn phase_cell(i: u32) -> vec4<u32> {
    let grid = f.ay * f.bx;
    let g = i % grid;
    return vec4<u32>(i / (f.c * grid), (i / grid) % f.c, g / f.bx, g % f.bx);
}

// The starting sum of channel c: its bias (a transposed convolution's), or 0.
fn phase_bias(c: u32) -> f32 {
    if ((f.flags & 1u) != 0u) { return bias[c]; }
    return 0.0;
}

// Writes the input gradient of that cell.
fn phase_store(cell: vec4<u32>, s: f32) {
    let iy = f.iy0 + cell.z * f.stride_y;
    let ix = f.ix0 + cell.w * f.stride_x;
    dst[((f.n0 + cell.x) * f.c + cell.y) * f.h * f.w + iy * f.w + ix] = s;
}

@compute @workgroup_size(WG)
fn col2im_phase(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= f.chunk * f.c * f.ay * f.bx) { return; }
    let cell = phase_cell(i);   // (sample, channel, a, bb)
    let a = cell.z;
    let bb = cell.w;
    var s = phase_bias(cell.y);
    let row0 = cell.x * f.oh * f.ow;
    let kbase = cell.y * f.kh * f.kw;
    for (var t = 0u; t < f.ty; t++) {
        let oy = a + f.cy - t;   // wraps past oh when negative
        if (oy >= f.oh) { continue; }
        let krow = kbase + (f.ry + t * f.stride_y) * f.kw + f.rx;
        for (var u = 0u; u < f.tx; u++) {
            let ox = bb + f.cx - u;
            if (ox >= f.ow) { continue; }
            s += src[(krow + u * f.stride_x) * f.width + row0 + oy * f.ow + ox];
        }
    }
    phase_store(cell, s);
}

// col2im_phase when the phase has 2 × 2 taps (a 4 × 4 kernel with stride 2, as in DCGAN): the
// four taps unrolled, their reads clamped into range and masked instead of branched around.
@compute @workgroup_size(WG)
fn col2im_phase2x2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= f.chunk * f.c * f.ay * f.bx) { return; }
    let cell = phase_cell(i);   // (sample, channel, a, bb)
    let a = cell.z;
    let bb = cell.w;
    var s = phase_bias(cell.y);
    // Output rows a + cy and a + cy − 1 (taps t = 0, 1), columns likewise; wrapped ones are out.
    let oy = vec2<u32>(a + f.cy, a + f.cy - 1u);
    let ox = vec2<u32>(bb + f.cx, bb + f.cx - 1u);
    let yok = oy < vec2<u32>(f.oh);
    let xok = ox < vec2<u32>(f.ow);
    let row0 = cell.x * f.oh * f.ow;
    let py = row0 + min(oy, vec2<u32>(f.oh - 1u)) * f.ow;
    let px = min(ox, vec2<u32>(f.ow - 1u));
    let k0 = (cell.y * f.kh + f.ry) * f.kw + f.rx;          // tap (0, 0)
    let k1 = k0 + f.stride_y * f.kw;                     // tap (1, 0)
    let kx = f.stride_x * f.width;                       // to tap (·, 1)
    let r0 = k0 * f.width;
    let r1 = k1 * f.width;
    s += select(0.0, src[r0 + py.x + px.x], yok.x && xok.x);
    s += select(0.0, src[r0 + kx + py.x + px.y], yok.x && xok.y);
    s += select(0.0, src[r1 + py.y + px.x], yok.y && xok.x);
    s += select(0.0, src[r1 + kx + py.y + px.y], yok.y && xok.y);
    phase_store(cell, s);
}
