// Packing for the matrix-product kernel families (src/ops/conv_gemm.rs): im2col and col2im between
// an image and the matrix of its patches, the stride-phase col2im, and tap_weights (the weights of
// a convolution laid out for sgemm_taps). Nothing here needs an optional device feature, so this
// module builds on every adapter (GL and WebGPU without subgroups too): the tiled family of
// tiled.wgsl packs with it, and the subgroup products of conv_gemm.wgsl consume what it writes.
//
//   im2col    x (N, C, H, W) -> the matrix of its patches, one row per output position (or its
//             transpose, one row per (channel, tap)), rows padded with zeros
//   col2im    the patch-matrix gradient (C·KH·KW, positions) -> dx (N, C, H, W): every input
//             pixel sums the taps that read it [+ bias]
//
// The costs that shape these kernels on llvmpipe are those conv_gemm.wgsl's header describes: a
// storage access at a computed address is a loop over the 8 lanes, an integer division runs one
// lane at a time (so the packing divides in floats, `divmod`), and both sides of a branch run (so
// each case is an entry point of its own).

// The per-channel bias that col2im adds.
@group(0) @binding(3) var<storage, read> bias: array<f32>;

// ------------------------------------------------------------------ patches

// Geometry (prelude.wgsl): the convolution that im2col and col2im work for.
@group(0) @binding(5) var<uniform> q: Geometry;
@group(0) @binding(6) var<storage, read> src: array<f32>;
@group(0) @binding(7) var<storage, read_write> dst: array<f32>;
@group(0) @binding(8) var<storage, read_write> dst4: array<vec4<f32>>;
// src again, as vec4s (bound only when src is a whole number of vec4s). A vec4 load costs one
// pass of the lane loop where four scalar loads cost four.
@group(0) @binding(10) var<storage, read> src4: array<vec4<f32>>;

const FAST_DIV: u32 = 8u;     // every dividend of divmod is under 2^22

fn qdiv(i: u32, d: u32) -> vec2<u32> {
    return divmod(i, d, (q.flags & FAST_DIV) != 0u);
}

// Where output position `col` of the chunk is: (sample, row, column).
fn position(col: u32) -> vec3<u32> {
    let np = qdiv(col, q.oh * q.ow);
    let yx = qdiv(np.y, q.ow);
    return vec3<u32>(q.n0 + np.x, yx.x, yx.y);
}

// The input value that tap (ky, kx) of channel ch reads for position at, 0 in the padding.
// Branch-free: the
// read is clamped into the image and its value masked (a branch around a load costs llvmpipe
// more than the load).
fn tap(at: vec3<u32>, ch: u32, ky: u32, kx: u32) -> f32 {
    let iy = i32(at.y * q.stride_y + ky * q.dil_y) - i32(q.pad_y);
    let ix = i32(at.z * q.stride_x + kx * q.dil_x) - i32(q.pad_x);
    let ok = iy >= 0 && iy < i32(q.h) && ix >= 0 && ix < i32(q.w);
    let y = u32(clamp(iy, 0, i32(q.h) - 1));
    let x = u32(clamp(ix, 0, i32(q.w) - 1));
    return select(0.0, src[((at.x * q.c + ch) * q.h + y) * q.w + x], ok);
}

// For position at and channel ch: (first input column, first input row, start of the channel's
// image) that tap (0, 0) reads, before clamping (may lie in the padding).
fn corner(at: vec3<u32>, ch: u32) -> vec3<i32> {
    let ix = i32(at.z * q.stride_x) - i32(q.pad_x);
    let iy = i32(at.y * q.stride_y) - i32(q.pad_y);
    return vec3<i32>(ix, iy, i32((at.x * q.c + ch) * q.h * q.w));
}

// The plain layout written four values at a time (stores, like loads, cost a loop over the lanes
// per value or per vec4). Rows are width floats, width a multiple of 4. One entry point per case:
// llvmpipe runs both sides of a branch (the untaken one masked), so a kernel with several paths
// pays for all of them (a vec4 copy took 7.4 ms as a branch of im2col_cols, 2.7 ms alone).
//   im2col_rows     KH·KW a multiple of 4: one invocation per (position, channel) writes its taps
//   im2col_rows_k4  the same for KW = 4: a row of taps per vec4, its columns worked out once
//   im2col_rows_c4  a 1 × 1 kernel (a matrix: dy by position, W): one invocation per (position,
//                   4 channels)
//   im2col_rows_t4  a 1 × 1 kernel, stride 1, no padding, OH·OW and C multiples of 4: a 4 × 4
//                   block (4 positions of one plane, 4 channels) per invocation, moved as 4 vec4
//                   loads (src4) and 4 vec4 stores, transposed in registers
@compute @workgroup_size(WG)
fn im2col_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= q.rows * q.c) { return; }
    let taps = q.kh * q.kw;
    let row4 = q.width / 4u;
    let cc = qdiv(i, q.c);
    let col = cc.x;
    let ch = cc.y;
    let at = position(col);
    var o = col * row4 + ch * taps / 4u;
    var ky = 0u;
    var kx = 0u;
    for (var t = 0u; t < taps; t += 4u) {
        var v: vec4<f32>;
        for (var j = 0u; j < 4u; j++) {
            v[j] = tap(at, ch, ky, kx);
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

@compute @workgroup_size(WG)
fn im2col_rows_k4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= q.rows * q.c) { return; }
    let row4 = q.width / 4u;
    let cc = qdiv(i, q.c);
    let col = cc.x;
    let ch = cc.y;
    let at = position(col);
    var o = col * row4 + ch * q.kh;
    let r = corner(at, ch);
    let ix = r.x + vec4<i32>(0, 1, 2, 3) * i32(q.dil_x);
    let okx = ix >= vec4<i32>(0) & ix < vec4<i32>(i32(q.w));
    let x = vec4<u32>(clamp(ix, vec4<i32>(0), vec4<i32>(i32(q.w) - 1)));
    // (Two aligned vec4 loads shifted into place were slower than these four scalar loads:
    // 9.8 against 7.4 ms for R2's largest, in one kernel_bench run.)
    for (var ky = 0u; ky < q.kh; ky++) {
        let iy = r.y + i32(ky * q.dil_y);
        let row = u32(r.z) + u32(clamp(iy, 0, i32(q.h) - 1)) * q.w;
        let v = vec4<f32>(src[row + x.x], src[row + x.y], src[row + x.z], src[row + x.w]);
        dst4[o] = select(vec4<f32>(0.0), v, okx & vec4<bool>(iy >= 0 && iy < i32(q.h)));
        o += 1u;
    }
}

@compute @workgroup_size(WG)
fn im2col_rows_c4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let quads = (q.c + 3u) / 4u;
    if (i >= q.rows * quads) { return; }
    let cc = qdiv(i, quads);
    let col = cc.x;
    let c0 = 4u * cc.y;
    let at = position(col);
    // Channels past C read the last one's value, masked to 0.
    let last = q.c - 1u;
    let v = vec4<f32>(tap(at, c0, 0u, 0u), tap(at, min(c0 + 1u, last), 0u, 0u),
                      tap(at, min(c0 + 2u, last), 0u, 0u), tap(at, min(c0 + 3u, last), 0u, 0u));
    let live = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(q.c);
    dst4[col * (q.width / 4u) + c0 / 4u] = select(vec4<f32>(0.0), v, live);
}

@compute @workgroup_size(WG)
fn im2col_rows_t4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let cq = q.c / 4u;
    if (i >= (q.rows / 4u) * cq) { return; }
    let row4 = q.width / 4u;
    let cc = qdiv(i, cq);
    let col = 4u * cc.x;
    let c0 = 4u * cc.y;
    let plane = q.oh * q.ow;
    let np = qdiv(col, plane);
    let at = (((q.n0 + np.x) * q.c + c0) * plane + np.y) / 4u;
    let p4 = plane / 4u;
    let v0 = src4[at];
    let v1 = src4[at + p4];
    let v2 = src4[at + 2u * p4];
    let v3 = src4[at + 3u * p4];
    let o = col * row4 + c0 / 4u;
    dst4[o] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
    dst4[o + row4] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
    dst4[o + 2u * row4] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
    dst4[o + 3u * row4] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
}

// The transposed layout four positions at a time: one invocation per (4 positions, channel)
// writes one vec4 per tap (zeros past the chunk). Rows are width = rows floats.
@compute @workgroup_size(WG)
fn im2col_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let quads = q.rows / 4u;
    if (i >= quads * q.c) { return; }
    let cc = qdiv(i, quads);
    let c0 = 4u * cc.y;
    let ch = cc.x;
    // (Positions past the chunk read the last one's pixels, masked to 0 by `live`.)
    let last = q.cols - 1u;
    let p0 = position(min(c0, last));
    let p1 = position(min(c0 + 1u, last));
    let p2 = position(min(c0 + 2u, last));
    let p3 = position(min(c0 + 3u, last));
    let live = vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) < vec4<u32>(q.cols);
    // The four positions' corners (see `corner`), worked out once: per tap only the offsets move.
    let r0 = corner(p0, ch);
    let r1 = corner(p1, ch);
    let r2 = corner(p2, ch);
    let r3 = corner(p3, ch);
    let ix0 = vec4<i32>(r0.x, r1.x, r2.x, r3.x);
    let iy0 = vec4<i32>(r0.y, r1.y, r2.y, r3.y);
    let base = vec4<u32>(u32(r0.z), u32(r1.z), u32(r2.z), u32(r3.z));
    let hi = vec4<i32>(i32(q.h) - 1, i32(q.h) - 1, i32(q.h) - 1, i32(q.h) - 1);
    let wi = vec4<i32>(i32(q.w) - 1, i32(q.w) - 1, i32(q.w) - 1, i32(q.w) - 1);
    var o = ch * q.kh * q.kw * quads + c0 / 4u;
    for (var ky = 0u; ky < q.kh; ky++) {
        let iy = iy0 + vec4<i32>(i32(ky * q.dil_y));
        let oky = live & iy >= vec4<i32>(0) & iy <= hi;
        let row = base + vec4<u32>(clamp(iy, vec4<i32>(0), hi)) * q.w;
        for (var kx = 0u; kx < q.kw; kx++) {
            let ix = ix0 + vec4<i32>(i32(kx * q.dil_x));
            let ok = oky & ix >= vec4<i32>(0) & ix <= wi;
            let at = row + vec4<u32>(clamp(ix, vec4<i32>(0), wi));
            dst4[o] = select(vec4<f32>(0.0), vec4<f32>(src[at.x], src[at.y], src[at.z], src[at.w]), ok);
            o += quads;
        }
    }
}

// im2col_cols for a 1 × 1 kernel, stride 1, no padding and OH·OW a multiple of 4: four positions
// of one plane are 4 aligned, consecutive floats of src, so the transposed layout is a copy.
@compute @workgroup_size(WG)
fn im2col_cols_copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let quads = q.rows / 4u;
    if (i >= quads * q.c) { return; }
    let cc = qdiv(i, quads);
    let np = qdiv(4u * cc.y, q.oh * q.ow);
    dst4[i] = src4[(((q.n0 + np.x) * q.c + cc.x) * q.oh * q.ow + np.y) / 4u];
}

// The plain layout one value at a time, for kernels whose KH·KW is not a multiple of 4 (see
// im2col_rows): one invocation per (output position, channel) writes its KH·KW taps, zero where
// they fall in the padding; the columns past C·KH·KW are zeros (written by the last channel).
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= q.rows * q.c) { return; }
    let cc = qdiv(i, q.c);
    let col = cc.x;
    let ch = cc.y;
    let at = position(col);
    var o = col * q.width + ch * q.kh * q.kw;
    for (var ky = 0u; ky < q.kh; ky++) {
        for (var kx = 0u; kx < q.kw; kx++) {
            dst[o] = tap(at, ch, ky, kx);
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
    // add bias[c]; bit 1: PHASE_FAST_DIV.
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

const PHASE_FAST_DIV: u32 = 2u;   // Phase.flags: every cell index is under 2^22 (see divmod)

// Invocation i of a phase: (sample in the chunk, channel, row and column in the phase's grid).
fn phase_cell(i: u32) -> vec4<u32> {
    let fast = (f.flags & PHASE_FAST_DIV) != 0u;
    let cg = divmod(i, f.ay * f.bx, fast);
    let nc = divmod(cg.x, f.c, fast);
    let ab = divmod(cg.y, f.bx, fast);
    return vec4<u32>(nc.x, nc.y, ab.x, ab.y);
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

// sgemm_taps's a operand from a convolution's weights W (COUT, CIN, KH, KW): row r, then per tap
// (ti, tj) the values of `width`·4 channels, W[r·rs + ch·cs + (ky0 + ti·sy)·KW + kx0 + tj·sx]
// (zeros past the channel count). Forward: rows are output channels, channels the input's
// (rs = CIN·KH·KW, cs = KH·KW, all taps); a stride phase: rows are input channels, channels the
// output's (rs = KH·KW, cs = CIN·KH·KW, the phase's taps). One invocation per (row, tap, 4
// channels). Geometry: c = rows, rows = channels, width = channels / 4 rounded up, h = rs, w = cs,
// kh, kw = KH, KW, pad_y/x = the first tap (ky0, kx0), stride_y/x = the tap step, dil_y/x = taps,
// n0 = where in dst (in vec4s) the block starts.
@compute @workgroup_size(WG)
fn tap_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let taps = q.dil_y * q.dil_x;
    if (i >= q.c * taps * q.width) { return; }
    let rest = divmod(i, q.width, true);      // (row·taps + tap, quad of channels)
    let rt = divmod(rest.x, taps, true);      // (row, tap)
    let tt = divmod(rt.y, q.dil_x, true);     // (ti, tj)
    let ky = q.pad_y + tt.x * q.stride_y;
    let kx = q.pad_x + tt.y * q.stride_x;
    let ch = 4u * rest.y;
    let chs = vec4<u32>(ch, ch + 1u, ch + 2u, ch + 3u);
    let at = min(chs, vec4<u32>(q.rows - 1u)) * q.w + rt.x * q.h + ky * q.kw + kx;
    let v = vec4<f32>(src[at.x], src[at.y], src[at.z], src[at.w]);
    dst4[q.n0 + i] = select(vec4<f32>(0.0), v, chs < vec4<u32>(q.rows));
}
