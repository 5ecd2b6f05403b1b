// 2-D convolution (NCHW, PyTorch's cross-correlation) and its gradients. Three kernels serve both
// Conv2d and ConvTranspose2d: a transposed convolution's forward pass is the input gradient of the
// convolution with the same weights, and its input gradient is that convolution's forward pass.
//
// Every kernel is described in the convolution's own terms ("the conv view"):
//   x  (N, CIN, H, W)      input            y / dy (N, COUT, OH, OW)   output / its gradient
//   wt (COUT, CIN, KH, KW) weights          b (COUT or CIN, see below)
//   iy = oy·stride + ky·dil − pad  (per axis: stride, pad and dilation each have a row and a column value);
//   a tap lands on an output row when iy + pad − ky·dil is a multiple of the stride.
// A ConvTranspose2d(Tcin → Tcout) with weights (Tcin, Tcout, KH, KW) is the conv view with
// CIN = Tcout, H×W = its output size, COUT = Tcin, OH×OW = its input size, the same weight buffer.
//
//   conv2d_forward          x, wt, (b[COUT])  -> y  (N,COUT,OH,OW)        y  = b + Σ x·wt
//   conv2d_backward_input   dy, wt, (b[CIN])  -> dx (N,CIN,H,W)           dx = b + Σ dy·wt
//   conv2d_backward_weight  dy, x             -> dwt (COUT,CIN,KH,KW)     dwt = Σ_{n,oy,ox} dy·x
//   channel_sum             dy                -> db (COUT)                 db = Σ_{n,oy,ox} dy
// (the optional bias of conv2d_backward_input is the transposed layer's bias.)
//
// Blocking: an invocation owns a 4×4 block of outputs. For the forward and input-gradient kernels
// the block is 4 samples × 4 channels at one spatial position: the four samples share every
// bounds check and every stride-phase test (which taps land where depends only on the position),
// the four channels share the loads of the other operand, and each step loads 8 values for 16
// multiply-adds. For the weight gradient the block is 4 output × 4 input channels at one tap.
// Blocks hanging over an edge clamp their reads and skip their writes.
//
// Split reductions: the two reducing kernels (conv2d_backward_weight, channel_sum) sum over
// samples × output rows × output columns, which grows with the batch. Each invocation sums one
// tile of that range, N_PER samples × Y_PER output rows (all columns), and writes its partial sum
// to slot `split` of `out` (offset split × outputs); `shaders/reduce.wgsl` then adds the slots. With
// one tile the invocation writes (or accumulates into) the gradient itself. The host sizes the tiles
// so that no invocation loops more than a bounded number of times (src/gpu/budget.rs: Mesa's
// llvmpipe stops every loop of an invocation after 65,535 iterations in all, without an error)
// and so that a small layer still gets enough invocations to fill the device.
// Dispatch: a 1-D range of invocations folded onto a 2-D grid of 64-wide workgroups.

struct Params {
    n: u32,
    cin: u32,
    h: u32,
    w: u32,
    cout: u32,
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
    // conv2d_backward_input: the taps of one stride phase are tap_step apart, tap_step =
    // stride / gcd(stride, dilation) (the stride itself when the dilation is 1).
    tap_step_y: u32,
    tap_step_x: u32,
    // bit 0: add the bias (conv2d_forward, conv2d_backward_input); bit 1: add into the output
    // instead of overwriting it (conv2d_backward_weight, channel_sum: gradients of a layer applied
    // to two batches, e.g. a discriminator's real and generated passes).
    flags: u32,
    // Split reductions (see above): samples and output rows per tile, tiles along the rows.
    n_per: u32,
    y_per: u32,
    y_splits: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// Where invocation idx works when it owns 4 samples × 4 channels of a (N, C, S) tensor, S = spatial
// positions, laid out position-fastest so that neighbouring invocations read neighbouring pixels.
struct SampleBlock {
    n0: u32,
    c0: u32,
    pos: u32,
    ok: bool,
}

fn sample_block(idx: u32, channels: u32, positions: u32) -> SampleBlock {
    let cb = (channels + 3u) / 4u;
    let nb = (p.n + 3u) / 4u;
    let pos = idx % positions;
    let rest = idx / positions;
    return SampleBlock(4u * (rest / cb), 4u * (rest % cb), pos, rest < nb * cb);
}

// Writes the in-range part of acc[sample][channel] into out (N, channels, positions).
fn store_samples(acc: array<vec4<f32>, 4>, blk: SampleBlock, channels: u32, positions: u32) {
    for (var j = 0u; j < 4u; j++) {
        let nn = blk.n0 + j;
        if (nn >= p.n) { break; }
        for (var c = 0u; c < 4u; c++) {
            let ch = blk.c0 + c;
            if (ch >= channels) { break; }
            out[(nn * channels + ch) * positions + blk.pos] = acc[j][c];
        }
    }
}

// Bias of four channels (clamped reads; the clamped lanes are never stored).
fn bias4(c0: u32, channels: u32) -> vec4<f32> {
    if ((p.flags & 1u) == 0u) { return vec4<f32>(0.0); }
    let c = clamp4(c0, channels);
    return vec4<f32>(b[c.x], b[c.y], b[c.z], b[c.w]);
}

@compute @workgroup_size(WG)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let positions = p.oh * p.ow;
    let blk = sample_block(flat_index(gid, nwg), p.cout, positions);
    if (!blk.ok) { return; }
    let oy = blk.pos / p.ow;
    let ox = blk.pos % p.ow;
    let ns = clamp4(blk.n0, p.n) * (p.cin * p.h * p.w);       // sample offsets in x
    let cs = clamp4(blk.c0, p.cout) * (p.cin * p.kh * p.kw);  // output-channel offsets in wt
    let bias = bias4(blk.c0, p.cout);
    var acc = array<vec4<f32>, 4>(bias, bias, bias, bias);
    for (var ci = 0u; ci < p.cin; ci++) {
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = i32(oy * p.stride_y + ky * p.dil_y) - i32(p.pad_y);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            let xrow = (ci * p.h + u32(iy)) * p.w;
            let wrow = (ci * p.kh + ky) * p.kw;
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = i32(ox * p.stride_x + kx * p.dil_x) - i32(p.pad_x);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                let xo = xrow + u32(ix);
                let wo = wrow + kx;
                let wv = vec4<f32>(wt[cs.x + wo], wt[cs.y + wo], wt[cs.z + wo], wt[cs.w + wo]);
                acc[0] += x[ns.x + xo] * wv;
                acc[1] += x[ns.y + xo] * wv;
                acc[2] += x[ns.z + xo] * wv;
                acc[3] += x[ns.w + xo] * wv;
            }
        }
    }
    store_samples(acc, blk, p.cout, positions);
}

// dx[n, ci, iy, ix] = Σ over taps (ky, kx) whose output position (oy, ox) exists, and over co, of
// dy[n, co, oy, ox] · wt[co, ci, ky, kx]. Only taps with ky·dil ≡ iy + pad (mod stride) land on an
// output row: the first is found by a search over one tap step, and the rest follow every
// tap_step taps (with dilation 1: the phase (iy + pad) mod stride, then every stride-th tap), so
// no multiply-add is wasted on the zeros a transposed convolution inserts.
// (first_tap, shared with pack.wgsl's col2im, is in the prelude.)

@compute @workgroup_size(WG)
fn conv2d_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let positions = p.h * p.w;
    let blk = sample_block(flat_index(gid, nwg), p.cin, positions);
    if (!blk.ok) { return; }
    let iy = blk.pos / p.w + p.pad_y;   // shifted by pad so that oy·stride + ky·dil = iy
    let ix = blk.pos % p.w + p.pad_x;
    let out_plane = p.oh * p.ow;
    let ns = clamp4(blk.n0, p.n) * (p.cout * out_plane);       // sample offsets in dy
    let cs = clamp4(blk.c0, p.cin) * (p.kh * p.kw);           // input-channel offsets in wt
    let co_stride = p.cin * p.kh * p.kw;
    let bias = bias4(blk.c0, p.cin);
    var acc = array<vec4<f32>, 4>(bias, bias, bias, bias);
    let ky0 = first_tap(iy, p.dil_y, p.stride_y, p.tap_step_y, p.kh);
    let kx0 = first_tap(ix, p.dil_x, p.stride_x, p.tap_step_x, p.kw);
    for (var ky = ky0; ky < p.kh && ky * p.dil_y <= iy; ky += p.tap_step_y) {
        let oy = (iy - ky * p.dil_y) / p.stride_y;
        if (oy >= p.oh) { continue; }
        for (var kx = kx0; kx < p.kw && kx * p.dil_x <= ix; kx += p.tap_step_x) {
            let ox = (ix - kx * p.dil_x) / p.stride_x;
            if (ox >= p.ow) { continue; }
            let dyo = oy * p.ow + ox;
            let wo = ky * p.kw + kx;
            for (var co = 0u; co < p.cout; co++) {
                let wc = co * co_stride + wo;
                let wv = vec4<f32>(wt[cs.x + wc], wt[cs.y + wc], wt[cs.z + wc], wt[cs.w + wc]);
                let d = co * out_plane + dyo;
                acc[0] += dy[ns.x + d] * wv;
                acc[1] += dy[ns.y + d] * wv;
                acc[2] += dy[ns.z + d] * wv;
                acc[3] += dy[ns.w + d] * wv;
            }
        }
    }
    store_samples(acc, blk, p.cin, positions);
}

// dwt[co, ci, ky, kx] = Σ_{n, oy, ox} dy[n, co, oy, ox] · x[n, ci, oy·stride + ky·dil − pad, (likewise for x)]
// over the tile of (n, oy) that this invocation's split owns.
@compute @workgroup_size(WG)
fn conv2d_backward_weight(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let taps = p.kh * p.kw;
    let cib = (p.cin + 3u) / 4u;
    let cob = (p.cout + 3u) / 4u;
    let blocks = cib * cob * taps;
    let idx = flat_index(gid, nwg);
    let split = idx / blocks;
    if (split >= p.y_splits * ((p.n + p.n_per - 1u) / p.n_per)) { return; }
    let within = idx % blocks;
    let tap = within % taps;
    let rest = within / taps;
    let ci0 = 4u * (rest % cib);
    let co0 = 4u * (rest / cib);
    let ky = tap / p.kw;
    let kx = tap % p.kw;
    let n0 = (split / p.y_splits) * p.n_per;
    let n1 = min(n0 + p.n_per, p.n);
    let y0 = (split % p.y_splits) * p.y_per;
    let y1 = min(y0 + p.y_per, p.oh);
    let in_plane = p.h * p.w;
    let out_plane = p.oh * p.ow;
    let cis = clamp4(ci0, p.cin) * in_plane;
    let cos = clamp4(co0, p.cout) * out_plane;
    var acc: array<vec4<f32>, 4>;   // acc[output channel][input channel]
    for (var nn = n0; nn < n1; nn++) {
        let xn = nn * p.cin * in_plane;
        let dn = nn * p.cout * out_plane;
        for (var oy = y0; oy < y1; oy++) {
            let iy = i32(oy * p.stride_y + ky * p.dil_y) - i32(p.pad_y);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            for (var ox = 0u; ox < p.ow; ox++) {
                let ix = i32(ox * p.stride_x + kx * p.dil_x) - i32(p.pad_x);
                if (ix < 0 || ix >= i32(p.w)) { continue; }
                let xo = xn + u32(iy) * p.w + u32(ix);
                let xv = vec4<f32>(x[cis.x + xo], x[cis.y + xo], x[cis.z + xo], x[cis.w + xo]);
                let d = dn + oy * p.ow + ox;
                acc[0] += dy[cos.x + d] * xv;
                acc[1] += dy[cos.y + d] * xv;
                acc[2] += dy[cos.z + d] * xv;
                acc[3] += dy[cos.w + d] * xv;
            }
        }
    }
    let add = (p.flags & 2u) != 0u;
    let base = split * p.cout * p.cin * taps;
    for (var a = 0u; a < 4u; a++) {
        let co = co0 + a;
        if (co >= p.cout) { break; }
        for (var c = 0u; c < 4u; c++) {
            let ci = ci0 + c;
            if (ci >= p.cin) { break; }
            let o = base + (co * p.cin + ci) * taps + tap;
            out[o] = select(0.0, out[o], add) + acc[a][c];
        }
    }
}

// db[c] = Σ_{n, position} dy[n, c, position] over a (N, COUT, OH·OW) gradient, over the tile of
// (n, oy) that this invocation's split owns: one invocation per (split, channel).
@compute @workgroup_size(WG)
fn channel_sum(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let c = idx % p.cout;
    let split = idx / p.cout;
    if (split >= p.y_splits * ((p.n + p.n_per - 1u) / p.n_per)) { return; }
    let plane = p.oh * p.ow;
    let n0 = (split / p.y_splits) * p.n_per;
    let n1 = min(n0 + p.n_per, p.n);
    let i0 = (split % p.y_splits) * p.y_per * p.ow;
    let i1 = min(i0 + p.y_per * p.ow, plane);
    var s = 0.0;
    for (var nn = n0; nn < n1; nn++) {
        let base = (nn * p.cout + c) * plane;
        for (var i = i0; i < i1; i++) {
            s += dy[base + i];
        }
    }
    let o = split * p.cout + c;
    out[o] = select(0.0, out[o], (p.flags & 2u) != 0u) + s;
}
