// Linear layer, y = x Wᵀ + b (PyTorch's layout: W is (OUT, IN)): the scalar forward, input-gradient
// and bias-gradient kernels, and the kernels of layers thin on one side (below: a 2-D input, a
// score); every other product whose reduction length is a multiple of 4 runs on the products of
// shaders/gemm.wgsl or shaders/conv_gemm.wgsl.
//
//   linear_forward          x (N,IN), w (OUT,IN), b (OUT) -> y  (N,OUT)
//   linear_backward_input   dy (N,OUT), w (OUT,IN)        -> dx (N,IN)     dx = dy W
//   linear_backward_bias    dy (N,OUT)                    -> db (OUT)      db = Σ_n dy
//   thin layers (IN or OUT under 4): linear_forward_thin_in(_act), linear_forward_thin_out,
//   linear_backward_input4(_dact), linear_backward_input_thin_in, linear_backward_weight_thin_*
//
// The bias gradient overwrites its buffer, or adds into it when `accumulate` is 1 (a layer
// applied to two batches: a discriminator's real and generated passes). Every kernel honours the
// flag, so the host passes 0 for the forward pass and the input gradient.
//
// The two matrix products are register-blocked: each invocation owns a 4×4 block of outputs and
// per step of the reduction loads 4 values of each operand for 16 multiply-adds (a one-output
// invocation loads 2 per multiply-add, and loads are what software and real GPUs alike pay for).
// Each output's sum still runs sequentially in the CPU reference's order, so the only difference
// from it is rounding. Blocks hanging over the edge clamp their reads to the last row/column and
// skip their writes, so any shape works.
// Dispatch: a 1-D range of invocations folded onto a 2-D grid of 64-wide workgroups
// (index = x + y * 64 * num_workgroups.x) so that more than 65535 * 64 invocations fit.
//   matrix kernels: ceil(rows/4) * ceil(cols/4) invocations;  linear_backward_bias: OUT.
//
// The scalar kernels run where a reduction length is not a multiple of 4 and the layer is not
// thin; otherwise the layer runs on the vec4 products (the weight gradient too, unless thin).
// The bias gradient sums over the batch, so it is a split reduction: each tile of N_PER rows is
// summed by its own invocations into slot `split` of `out` (offset split × OUT), and
// `shaders/reduce.wgsl` adds the slots; with one tile it writes the gradient directly. The host
// sizes the tiles (src/gpu/budget.rs) so that no invocation loops past Mesa llvmpipe's silent
// limit of 65,535 iterations, whatever the batch; it launches tiles × OUT invocations.

struct Params {
    n: u32,      // batch rows
    in_f: u32,   // input features
    out_f: u32,  // output features
    accumulate: u32,
    n_per: u32,  // batch rows per tile of a split gradient (bias, thin weights)
    has_bias: u32, // forward kernels: 1 adds b (a layer built with bias = false passes 0);
                   // thin weight-gradient kernels: 1 also stores db
    slope: f32,  // linear_backward_input4_dact: the activation before the layer (see there)
    relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// The 4×4 block (first row, first column) of invocation idx in a rows × cols output, or none.
struct Block {
    r0: u32,
    c0: u32,
    ok: bool,
}

fn block_of(idx: u32, rows: u32, cols: u32) -> Block {
    let bc = (cols + 3u) / 4u;
    let br = (rows + 3u) / 4u;
    return Block(4u * (idx / bc), 4u * (idx % bc), idx < br * bc);
}

// Writes the in-bounds part of a 4×4 block, row-major into out with row stride `stride`.
fn store_block(acc: array<vec4<f32>, 4>, r0: u32, c0: u32, rows: u32, cols: u32, stride: u32, base: u32) {
    for (var a = 0u; a < 4u; a++) {
        let r = r0 + a;
        if (r >= rows) { break; }
        for (var c = 0u; c < 4u; c++) {
            if (c0 + c >= cols) { break; }
            let o = base + r * stride + c0 + c;
            out[o] = select(0.0, out[o], p.accumulate != 0u) + acc[a][c];
        }
    }
}

// y[r, o] = b[o] + Σ_i x[r, i] w[o, i]
@compute @workgroup_size(WG)
fn linear_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = block_of(flat_index(gid, nwg), p.n, p.out_f);
    if (!blk.ok) { return; }
    let xr = clamp4(blk.r0, p.n) * p.in_f;
    let wr = clamp4(blk.c0, p.out_f) * p.in_f;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < p.in_f; i++) {
        let wv = vec4<f32>(w[wr.x + i], w[wr.y + i], w[wr.z + i], w[wr.w + i]);
        acc[0] += x[xr.x + i] * wv;
        acc[1] += x[xr.y + i] * wv;
        acc[2] += x[xr.z + i] * wv;
        acc[3] += x[xr.w + i] * wv;
    }
    if (p.has_bias != 0u) {
        let oc = clamp4(blk.c0, p.out_f);
        let bv = vec4<f32>(b[oc.x], b[oc.y], b[oc.z], b[oc.w]);
        for (var a = 0u; a < 4u; a++) {
            acc[a] += bv;
        }
    }
    store_block(acc, blk.r0, blk.c0, p.n, p.out_f, p.out_f, 0u);
}

// dx[r, i] = Σ_o dy[r, o] w[o, i]
@compute @workgroup_size(WG)
fn linear_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = block_of(flat_index(gid, nwg), p.n, p.in_f);
    if (!blk.ok) { return; }
    let dr = clamp4(blk.r0, p.n) * p.out_f;
    let ic = clamp4(blk.c0, p.in_f);
    var acc: array<vec4<f32>, 4>;
    for (var o = 0u; o < p.out_f; o++) {
        let base = o * p.in_f;
        let wv = vec4<f32>(w[base + ic.x], w[base + ic.y], w[base + ic.z], w[base + ic.w]);
        acc[0] += dy[dr.x + o] * wv;
        acc[1] += dy[dr.y + o] * wv;
        acc[2] += dy[dr.z + o] * wv;
        acc[3] += dy[dr.w + o] * wv;
    }
    store_block(acc, blk.r0, blk.c0, p.n, p.in_f, p.in_f, 0u);
}

// linear_backward_input for IN a multiple of 4, four consecutive inputs of one row per
// invocation: vec4 loads of W and a vec4 store through the vec4 views below, for the layers whose
// OUT is too short (1 or 2: a discriminator's score, a 2-D generator's output) for the products.
@group(0) @binding(6) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>;

// Row r, quad c of dx for invocation i (r, c by the float division: i < 2^22, checked by the host).
fn input_quad(i: u32, q: u32) -> vec4<f32> {
    let rc = divmod(i, q, true);
    let r = rc.x;
    let c = rc.y;
    var acc = vec4<f32>(0.0);
    for (var o = 0u; o < p.out_f; o++) {
        acc += dy[r * p.out_f + o] * w4[o * q + c];
    }
    return acc;
}

@compute @workgroup_size(WG)
fn linear_backward_input4(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let q = p.in_f / 4u;
    if (i >= p.n * q) { return; }
    out4[i] = input_quad(i, q);
}

// linear_backward_input4 taken on through the ReLU or LeakyReLU before the layer: out4 is the
// gradient at that activation's input, pre4 (the activation's input), with the slope and the
// ReLU flag of the uniform. Saves the activation's own backward pass.
@group(0) @binding(8) var<storage, read> pre4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn linear_backward_input4_dact(@builtin(global_invocation_id) gid: vec3<u32>,
                               @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let q = p.in_f / 4u;
    if (i >= p.n * q) { return; }
    out4[i] = leaky_grad4(input_quad(i, q), pre4[i], p.slope, p.relu != 0u);
}

fn tiles() -> u32 {
    return (p.n + p.n_per - 1u) / p.n_per;
}

@compute @workgroup_size(WG)
fn linear_backward_bias(@builtin(global_invocation_id) gid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let o = idx % p.out_f;
    let split = idx / p.out_f;
    if (split >= tiles()) { return; }
    let r1 = min(split * p.n_per + p.n_per, p.n);
    var acc = 0.0;
    for (var r = split * p.n_per; r < r1; r++) {
        acc += dy[r * p.out_f + o];
    }
    let at = split * p.out_f + o;
    out[at] = select(0.0, out[at], p.accumulate != 0u) + acc;
}

// The weight gradient dW = dyᵀ x (OUT, IN) of a layer that is thin on one side, as outer products
// summed over one tile of n_per batch rows into slot `split` of out (offset split·OUT·IN; as the
// bias gradient, `shaders/reduce.wgsl` adds the slots), straight from dy and x: no transposes and
// no product for a matrix with one or two rows (R1's first and last layers).
//   linear_backward_weight_thin_dy  OUT < 4, IN a multiple of 4: one invocation per (tile, o,
//                                   quad c of IN): Σ_r dy[r, o] · x4[r, c], one vec4 store.
//   linear_backward_weight_thin_x   IN < 4, OUT a multiple of 4: one per (tile, i, quad c of OUT):
//                                   Σ_r dy4[r, c] · x[r, i], four values of column i.
// Both can store the bias gradient too (below): one launch fewer, and no second pass over dy.
// tiles() · OUT · IN / 4 invocations.
@group(0) @binding(9) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read> dy4: array<vec4<f32>>;
// With has_bias = 1 (one tile only: the host checks), the thin weight-gradient kernels also store
// the bias gradient db = Σ_r dy (OUT), adding into it under `accumulate` like dW.
@group(0) @binding(13) var<storage, read_write> db: array<f32>;

// A thin weight-gradient invocation's place among `rows` rows of `q` quads per tile: (tile, row,
// quad, the tile's end in the batch); tile ≥ tiles() past the last.
fn thin_cell(idx: u32, rows: u32, q: u32) -> vec4<u32> {
    let per = rows * q;
    let split = idx / per;
    let rc = idx % per;
    return vec4<u32>(split, rc / q, rc % q, min(split * p.n_per + p.n_per, p.n));
}

@compute @workgroup_size(WG)
fn linear_backward_weight_thin_dy(@builtin(global_invocation_id) gid: vec3<u32>,
                                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = p.in_f / 4u;
    let t = thin_cell(flat_index(gid, nwg), p.out_f, q);
    if (t.x >= tiles()) { return; }
    var acc = vec4<f32>(0.0);
    var sum = 0.0;
    for (var r = t.x * p.n_per; r < t.w; r++) {
        let d = dy[r * p.out_f + t.y];
        acc += d * x4[r * q + t.z];
        sum += d;
    }
    // dW row-major: row o, quad c is vec4 o·q + c of the slot.
    let at = (t.x * p.out_f + t.y) * q + t.z;
    if (p.accumulate != 0u) {
        out4[at] += acc;
    } else {
        out4[at] = acc;
    }
    // db[o] = Σ_r dy[r, o], which this loop read anyway: stored by the quad-0 invocation.
    if (p.has_bias != 0u && t.z == 0u) {
        let o = t.x * p.out_f + t.y;
        db[o] = select(0.0, db[o], p.accumulate != 0u) + sum;
    }
}

@compute @workgroup_size(WG)
fn linear_backward_weight_thin_x(@builtin(global_invocation_id) gid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = p.out_f / 4u;
    let t = thin_cell(flat_index(gid, nwg), p.in_f, q);
    if (t.x >= tiles()) { return; }
    let i = t.y;
    let c = t.z;
    var acc = vec4<f32>(0.0);
    var sum = vec4<f32>(0.0);
    for (var r = t.x * p.n_per; r < t.w; r++) {
        let d = dy4[r * q + c];
        acc += d * x[r * p.in_f + i];
        sum += d;
    }
    // db[4c .. 4c + 3] = Σ_r dy4[r, c], which this loop read anyway: stored by the column-0
    // invocations.
    if (p.has_bias != 0u && i == 0u) {
        let o = t.x * p.out_f + 4u * c;
        let keep = p.accumulate != 0u;
        db[o] = select(0.0, db[o], keep) + sum.x;
        db[o + 1u] = select(0.0, db[o + 1u], keep) + sum.y;
        db[o + 2u] = select(0.0, db[o + 2u], keep) + sum.z;
        db[o + 3u] = select(0.0, db[o + 3u], keep) + sum.w;
    }
    // Rows 4c .. 4c + 3 of dW, column i.
    let at = t.x * p.out_f * p.in_f + 4u * c * p.in_f + i;
    let s = p.in_f;
    if (p.accumulate != 0u) {
        out[at] += acc.x;
        out[at + s] += acc.y;
        out[at + 2u * s] += acc.z;
        out[at + 3u * s] += acc.w;
    } else {
        out[at] = acc.x;
        out[at + s] = acc.y;
        out[at + 2u * s] = acc.z;
        out[at + 3u * s] = acc.w;
    }
}

// The forward pass of a layer that is thin on one side, one short loop per invocation instead of
// a product with a 1- or 2-wide side (or an input padded to 4 first):
//   linear_forward_thin_in    IN < 4 (a 2-D input), OUT a multiple of 4: one invocation per (row
//                             r, quad c of OUT), y4[r, c] = Σ_i x[r, i] · W[4c.., i] (+ b), n·OUT/4
//                             invocations (r, c by the float division: under 2^22, host-checked);
//                             `_act` also stores the ReLU/LeakyReLU after the layer into act4.
//                             The 4 × IN block of W for quad c is IN whole vec4s (rows of W are
//                             IN long), loaded as such and its columns picked out in registers:
//                             on llvmpipe every load is a loop over the lanes, the picking is not.
//   linear_forward_thin_out   OUT < 4 (a score, a 2-D output), IN a multiple of 4: one per row,
//                             y[r, o] = Σ_c x4[r, c] · w4[o, c] (+ b), n invocations. One loop
//                             per OUT, each loading only the
//                             rows of W it uses (the loops of the other cases, masked off, stop
//                             at once).
@group(0) @binding(11) var<storage, read_write> act4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> b4: array<vec4<f32>>;

fn thin_in(i: u32) -> vec4<f32> {
    let q = p.out_f / 4u;
    let rc = divmod(i, q, true);
    let r = rc.x;
    let c = rc.y;
    let s = p.in_f;
    let last = s * q - 1u;
    let v0 = w4[min(c * s, last)];
    let v1 = w4[min(c * s + 1u, last)];
    let v2 = w4[min(c * s + 2u, last)];
    let x0 = x[r * s];
    let x1 = x[r * s + min(1u, s - 1u)];
    let x2 = x[r * s + min(2u, s - 1u)];
    var acc: vec4<f32>;
    if (s == 1u) {
        acc = x0 * v0;
    } else if (s == 2u) {
        acc = x0 * vec4<f32>(v0.x, v0.z, v1.x, v1.z) + x1 * vec4<f32>(v0.y, v0.w, v1.y, v1.w);
    } else {
        acc = x0 * vec4<f32>(v0.x, v0.w, v1.z, v2.y) + x1 * vec4<f32>(v0.y, v1.x, v1.w, v2.z) + x2 * vec4<f32>(v0.z, v1.y, v2.x, v2.w);
    }
    return acc + select(vec4<f32>(0.0), b4[c], p.has_bias != 0u);
}

@compute @workgroup_size(WG)
fn linear_forward_thin_in(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * (p.out_f / 4u)) { return; }
    out4[i] = thin_in(i);
}

@compute @workgroup_size(WG)
fn linear_forward_thin_in_act(@builtin(global_invocation_id) gid: vec3<u32>,
                              @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * (p.out_f / 4u)) { return; }
    let v = thin_in(i);
    out4[i] = v;
    act4[i] = leaky4(v, p.slope, p.relu != 0u);
}

@compute @workgroup_size(WG)
fn linear_forward_thin_out(@builtin(global_invocation_id) gid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.n) { return; }
    let q = p.in_f / 4u;
    let xr = r * q;
    var acc = vec3<f32>(0.0);
    if (p.out_f == 1u) {
        for (var c = 0u; c < q; c++) {
            acc.x += dot(x4[xr + c], w4[c]);
        }
    } else if (p.out_f == 2u) {
        for (var c = 0u; c < q; c++) {
            let xv = x4[xr + c];
            acc += vec3<f32>(dot(xv, w4[c]), dot(xv, w4[q + c]), 0.0);
        }
    } else {
        for (var c = 0u; c < q; c++) {
            let xv = x4[xr + c];
            acc += vec3<f32>(dot(xv, w4[c]), dot(xv, w4[q + c]), dot(xv, w4[2u * q + c]));
        }
    }
    let last = p.out_f - 1u;
    for (var o = 0u; o < p.out_f; o++) {
        out[r * p.out_f + o] = acc[o] + select(0.0, b[min(o, last)], p.has_bias != 0u);
    }
}

// The input gradient of a thin-input layer, dx = dy W (N, IN) for IN < 4 and OUT a multiple of 4,
// straight from W (OUT, IN): one invocation per row, a loop over the quads c of OUT. As in
// linear_forward_thin_in, rows 4c .. 4c + 3 of W are IN whole vec4s whose columns are picked out
// in registers, so W needs no transposed copy (one launch fewer than linear_forward_thin_out
// through Wᵀ).
@compute @workgroup_size(WG)
fn linear_backward_input_thin_in(@builtin(global_invocation_id) gid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.n) { return; }
    let q = p.out_f / 4u;
    let s = p.in_f;
    let last = s * q - 1u;
    var acc = vec3<f32>(0.0);
    for (var c = 0u; c < q; c++) {
        let d = dy4[r * q + c];
        let v0 = w4[min(c * s, last)];
        if (s == 1u) {
            acc.x += dot(d, v0);
        } else if (s == 2u) {
            let v1 = w4[min(c * s + 1u, last)];
            acc.x += dot(d, vec4<f32>(v0.x, v0.z, v1.x, v1.z));
            acc.y += dot(d, vec4<f32>(v0.y, v0.w, v1.y, v1.w));
        } else {
            let v1 = w4[min(c * s + 1u, last)];
            let v2 = w4[min(c * s + 2u, last)];
            acc += vec3<f32>(dot(d, vec4<f32>(v0.x, v0.w, v1.z, v2.y)), dot(d, vec4<f32>(v0.y, v1.x, v1.w, v2.z)), dot(d, vec4<f32>(v0.z, v1.y, v2.x, v2.w)));
        }
    }
    let last_i = s - 1u;
    for (var i = 0u; i < s; i++) {
        out[r * s + i] = acc[min(i, last_i)];
    }
}
