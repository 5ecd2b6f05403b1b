// Convolutions as matrix products, for the software adapter (llvmpipe): the "CPU-adapter family"
// of src/ops/conv_gemm.rs, chosen when the device runs 8-wide subgroups. Every entry point here
// uses subgroup operations, so only a device opened with the SUBGROUP feature builds this module;
// the packing these products consume (im2col, col2im, tap_weights) is in pack.wgsl, which builds
// anywhere.
//
//   sgemm_nt  a (M, K4·4), b (N, K4·4) -> out        C[m, n] = [bias[m] +] Σ_k a[m, k]·b[n, k]
//   sgemm_tn  the same with both operands stored transposed
//   sgemm_taps  a product whose b is read tap by tap from an image stored by position (the
//             forward pass without a patch matrix; the input gradient by stride phase)
//
// Why this shape. llvmpipe runs 8 invocations as the lanes of one 256-bit vector. Arithmetic is
// vectorised, but a storage load whose address is not a compile-time constant becomes a loop over
// the 8 lanes, each loading its own scalars: loads, not multiply-adds, bound a naive kernel (two
// more costs shape the code below: an integer division also runs one lane at a time, so the
// packing divides in floats, `divmod`; and both sides of a branch run, the untaken one masked, so
// each case of a packing kernel is an entry point of its own). So in
// sgemm_nt a subgroup of 8 lanes owns a 32 × 32 tile of C and, per step of 4 along k, each lane
// loads only 4 rows of a and 4 rows of b (one vec4 each: the lane loop runs once for 4 values).
// Lane l owns columns n0 + 4l .. n0 + 4l + 3: exactly the b rows it loaded, and, for the usual
// output maps, 4 consecutive floats that it stores as one vec4 (a store costs a lane loop too).
// The 32 rows of a it needs come from the other lanes through subgroupShuffle with a constant
// lane, which llvmpipe compiles to one vector shuffle. So each loaded value feeds 32 multiply-adds
// and the 8 lanes do 4,096 of them per step. On 2 cores this reached 30-48 GFLOP/s against 6-8 for
// the 8 × 8-per-invocation gemm_nt and 2-4 for the direct convolution kernels (docs/BENCHMARKS.md).
// sgemm_nt_wide gives each lane 8 columns (a 32 × 64 tile), halving the loads of a per
// multiply-add. The 32 accumulators of a lane are the fields of a struct, all accessed with
// constant names, so that no accumulator is a dynamically indexed array, which llvmpipe would
// keep in memory.
//
// A real GPU runs 32- or 64-wide subgroups, where this lane arithmetic does not hold; there the
// tiled product of tiled.wgsl or the direct kernels of conv.wgsl run
// (src/ops/conv_gemm.rs::KernelFamily). The uniform, ProductParams, is in prelude.wgsl (both
// products read it).

@group(0) @binding(0) var<uniform> g: ProductParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// The output, bound twice: as floats, and as vec4s for the groups of 4 columns that the map
// keeps together (flag 4, set only when the buffer is a whole number of vec4s).
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> out4: array<vec4<f32>>;

// Epilogues (src/ops/conv_gemm.rs::Epilogue). A product's store can take over the piecewise-linear
// activation that follows it (sgemm_nt_act: out = C and act4 = leaky4(C)), or the gradient
// through the one before it (sgemm_nt_dact: out = leaky_grad4(C, pre4), C being the gradient at
// the activation's output and pre4 its input), so that the activation's pass over memory and its
// launch disappear. Only with the vec4 map and N a multiple of 4 (every store a whole vec4), one
// split, overwriting: the host checks. The mode is a constant argument in each entry point, so
// the branches on it fold away once the functions are inlined (on llvmpipe both sides of a
// branch that stays would run). The plain entries bind act4 to out and pre4 to a.
@group(0) @binding(11) var<storage, read_write> act4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> pre4: array<vec4<f32>>;
const PLAIN: u32 = 0u;
const ACT: u32 = 1u;
const DACT: u32 = 2u;
// DACT for scattered columns (the stride-phase products of sgemm_taps_dact): each value on its
// own, its pre-activation read as a component of pre4.
const DACT1: u32 = 3u;
// ProductParams.flags: the fused activation is a ReLU.
const RELU: u32 = 32u;

// The lane's accumulators: rows m0 .. m0 + 31 of its 4 consecutive columns. A struct, not an
// array, so that every access has a constant member and Mesa keeps them all in registers.
struct Rows {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
    r4: vec4<f32>,
    r5: vec4<f32>,
    r6: vec4<f32>,
    r7: vec4<f32>,
    r8: vec4<f32>,
    r9: vec4<f32>,
    r10: vec4<f32>,
    r11: vec4<f32>,
    r12: vec4<f32>,
    r13: vec4<f32>,
    r14: vec4<f32>,
    r15: vec4<f32>,
    r16: vec4<f32>,
    r17: vec4<f32>,
    r18: vec4<f32>,
    r19: vec4<f32>,
    r20: vec4<f32>,
    r21: vec4<f32>,
    r22: vec4<f32>,
    r23: vec4<f32>,
    r24: vec4<f32>,
    r25: vec4<f32>,
    r26: vec4<f32>,
    r27: vec4<f32>,
    r28: vec4<f32>,
    r29: vec4<f32>,
    r30: vec4<f32>,
    r31: vec4<f32>,
}

// c + (x·b0, x·b1, x·b2, x·b3): one row of a against the lane's four rows of b, four k values.
fn mac4(c: vec4<f32>, x: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return c + vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
}

// One step of 4 along k for 32 rows: a0..a3 are rows m0 + l, + 8 + l, + 16 + l, + 24 + l as
// lane l loaded them; row r reaches every lane from lane r % 8 of a(r / 8).
fn step(c: ptr<function, Rows>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
        b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
    (*c).r0 = mac4((*c).r0, subgroupShuffle(a0, 0u), b0, b1, b2, b3);
    (*c).r1 = mac4((*c).r1, subgroupShuffle(a0, 1u), b0, b1, b2, b3);
    (*c).r2 = mac4((*c).r2, subgroupShuffle(a0, 2u), b0, b1, b2, b3);
    (*c).r3 = mac4((*c).r3, subgroupShuffle(a0, 3u), b0, b1, b2, b3);
    (*c).r4 = mac4((*c).r4, subgroupShuffle(a0, 4u), b0, b1, b2, b3);
    (*c).r5 = mac4((*c).r5, subgroupShuffle(a0, 5u), b0, b1, b2, b3);
    (*c).r6 = mac4((*c).r6, subgroupShuffle(a0, 6u), b0, b1, b2, b3);
    (*c).r7 = mac4((*c).r7, subgroupShuffle(a0, 7u), b0, b1, b2, b3);
    (*c).r8 = mac4((*c).r8, subgroupShuffle(a1, 0u), b0, b1, b2, b3);
    (*c).r9 = mac4((*c).r9, subgroupShuffle(a1, 1u), b0, b1, b2, b3);
    (*c).r10 = mac4((*c).r10, subgroupShuffle(a1, 2u), b0, b1, b2, b3);
    (*c).r11 = mac4((*c).r11, subgroupShuffle(a1, 3u), b0, b1, b2, b3);
    (*c).r12 = mac4((*c).r12, subgroupShuffle(a1, 4u), b0, b1, b2, b3);
    (*c).r13 = mac4((*c).r13, subgroupShuffle(a1, 5u), b0, b1, b2, b3);
    (*c).r14 = mac4((*c).r14, subgroupShuffle(a1, 6u), b0, b1, b2, b3);
    (*c).r15 = mac4((*c).r15, subgroupShuffle(a1, 7u), b0, b1, b2, b3);
    (*c).r16 = mac4((*c).r16, subgroupShuffle(a2, 0u), b0, b1, b2, b3);
    (*c).r17 = mac4((*c).r17, subgroupShuffle(a2, 1u), b0, b1, b2, b3);
    (*c).r18 = mac4((*c).r18, subgroupShuffle(a2, 2u), b0, b1, b2, b3);
    (*c).r19 = mac4((*c).r19, subgroupShuffle(a2, 3u), b0, b1, b2, b3);
    (*c).r20 = mac4((*c).r20, subgroupShuffle(a2, 4u), b0, b1, b2, b3);
    (*c).r21 = mac4((*c).r21, subgroupShuffle(a2, 5u), b0, b1, b2, b3);
    (*c).r22 = mac4((*c).r22, subgroupShuffle(a2, 6u), b0, b1, b2, b3);
    (*c).r23 = mac4((*c).r23, subgroupShuffle(a2, 7u), b0, b1, b2, b3);
    (*c).r24 = mac4((*c).r24, subgroupShuffle(a3, 0u), b0, b1, b2, b3);
    (*c).r25 = mac4((*c).r25, subgroupShuffle(a3, 1u), b0, b1, b2, b3);
    (*c).r26 = mac4((*c).r26, subgroupShuffle(a3, 2u), b0, b1, b2, b3);
    (*c).r27 = mac4((*c).r27, subgroupShuffle(a3, 3u), b0, b1, b2, b3);
    (*c).r28 = mac4((*c).r28, subgroupShuffle(a3, 4u), b0, b1, b2, b3);
    (*c).r29 = mac4((*c).r29, subgroupShuffle(a3, 5u), b0, b1, b2, b3);
    (*c).r30 = mac4((*c).r30, subgroupShuffle(a3, 6u), b0, b1, b2, b3);
    (*c).r31 = mac4((*c).r31, subgroupShuffle(a3, 7u), b0, b1, b2, b3);
}

// Where a lane's group of 4 columns goes: how many of them exist, the output offset of each
// (without the row's part), and the bias of each column (flags 1 | 8; else 0). Computed once per
// group: the divisions of the map would cost more than the stores if done per row.
struct Quad {
    live: u32,
    at: vec4<u32>,
    bias: vec4<f32>,
}

// Stores row m of the group: one vec4 when the map allows and all 4 columns exist, else each
// column on its own. The overwriting vec4 store, by far the commonest, has a branch of its own
// with nothing else in it (the other branches, masked off, would otherwise run around it). (A
// branch, not select(0, out[i], add): select would load on every store.)
fn put(m: u32, c: vec4<f32>, q: Quad, mode: u32) {
    if (m >= g.m || q.live == 0u) { return; }
    let v = c + q.bias;
    let add = (g.flags & 2u) != 0u;
    let row = m * g.s_m;
    if (mode == ACT) {
        let i = (row + q.at.x) / 4u;
        out4[i] = v;
        act4[i] = leaky4(v, g.slope, (g.flags & RELU) != 0u);
        return;
    }
    if (mode == DACT) {
        let i = (row + q.at.x) / 4u;
        out4[i] = leaky_grad4(v, pre4[i], g.slope, (g.flags & RELU) != 0u);
        return;
    }
    if (mode == DACT1) {
        for (var j = 0u; j < q.live; j++) {
            let o = row + q.at[j];
            out[o] = leaky_grad(v[j], pre4[o / 4u][o % 4u], g.slope, (g.flags & RELU) != 0u);
        }
        return;
    }
    if ((g.flags & 6u) == 4u && q.live == 4u) {
        out4[(row + q.at.x) / 4u] = v;
        return;
    }
    if ((g.flags & 4u) != 0u && q.live == 4u) {
        let i = (row + q.at.x) / 4u;
        out4[i] += v;
        return;
    }
    if (add) {
        for (var j = 0u; j < q.live; j++) { out[row + q.at[j]] += v[j]; }
    } else {
        for (var j = 0u; j < q.live; j++) { out[row + q.at[j]] = v[j]; }
    }
}

// Stores the 32 rows; rb holds the row bias as a0..a3 hold rows of a (lane l: rows m0 + l + 8i).
fn put_rows(c: ptr<function, Rows>, m0: u32, q: Quad, rb: vec4<f32>, mode: u32) {
    put(m0 + 0u, (*c).r0 + subgroupShuffle(rb[0], 0u), q, mode);
    put(m0 + 1u, (*c).r1 + subgroupShuffle(rb[0], 1u), q, mode);
    put(m0 + 2u, (*c).r2 + subgroupShuffle(rb[0], 2u), q, mode);
    put(m0 + 3u, (*c).r3 + subgroupShuffle(rb[0], 3u), q, mode);
    put(m0 + 4u, (*c).r4 + subgroupShuffle(rb[0], 4u), q, mode);
    put(m0 + 5u, (*c).r5 + subgroupShuffle(rb[0], 5u), q, mode);
    put(m0 + 6u, (*c).r6 + subgroupShuffle(rb[0], 6u), q, mode);
    put(m0 + 7u, (*c).r7 + subgroupShuffle(rb[0], 7u), q, mode);
    put(m0 + 8u, (*c).r8 + subgroupShuffle(rb[1], 0u), q, mode);
    put(m0 + 9u, (*c).r9 + subgroupShuffle(rb[1], 1u), q, mode);
    put(m0 + 10u, (*c).r10 + subgroupShuffle(rb[1], 2u), q, mode);
    put(m0 + 11u, (*c).r11 + subgroupShuffle(rb[1], 3u), q, mode);
    put(m0 + 12u, (*c).r12 + subgroupShuffle(rb[1], 4u), q, mode);
    put(m0 + 13u, (*c).r13 + subgroupShuffle(rb[1], 5u), q, mode);
    put(m0 + 14u, (*c).r14 + subgroupShuffle(rb[1], 6u), q, mode);
    put(m0 + 15u, (*c).r15 + subgroupShuffle(rb[1], 7u), q, mode);
    put(m0 + 16u, (*c).r16 + subgroupShuffle(rb[2], 0u), q, mode);
    put(m0 + 17u, (*c).r17 + subgroupShuffle(rb[2], 1u), q, mode);
    put(m0 + 18u, (*c).r18 + subgroupShuffle(rb[2], 2u), q, mode);
    put(m0 + 19u, (*c).r19 + subgroupShuffle(rb[2], 3u), q, mode);
    put(m0 + 20u, (*c).r20 + subgroupShuffle(rb[2], 4u), q, mode);
    put(m0 + 21u, (*c).r21 + subgroupShuffle(rb[2], 5u), q, mode);
    put(m0 + 22u, (*c).r22 + subgroupShuffle(rb[2], 6u), q, mode);
    put(m0 + 23u, (*c).r23 + subgroupShuffle(rb[2], 7u), q, mode);
    put(m0 + 24u, (*c).r24 + subgroupShuffle(rb[3], 0u), q, mode);
    put(m0 + 25u, (*c).r25 + subgroupShuffle(rb[3], 1u), q, mode);
    put(m0 + 26u, (*c).r26 + subgroupShuffle(rb[3], 2u), q, mode);
    put(m0 + 27u, (*c).r27 + subgroupShuffle(rb[3], 3u), q, mode);
    put(m0 + 28u, (*c).r28 + subgroupShuffle(rb[3], 4u), q, mode);
    put(m0 + 29u, (*c).r29 + subgroupShuffle(rb[3], 5u), q, mode);
    put(m0 + 30u, (*c).r30 + subgroupShuffle(rb[3], 6u), q, mode);
    put(m0 + 31u, (*c).r31 + subgroupShuffle(rb[3], 7u), q, mode);
}

// The tile's place: (m0, n0, split), or split = splits past the last tile.
fn tile(wid: vec3<u32>, nwg: vec3<u32>, width: u32) -> vec3<u32> {
    let t = wid.x + wid.y * nwg.x;
    let tiles = g.tiles_m * g.tiles_n;
    return vec3<u32>(((t % tiles) / g.tiles_n) * 32u, ((t % tiles) % g.tiles_n) * width, t / tiles);
}

// Row offsets of the 32 rows of a in the tile (lane l loads rows m0 + l + 8i), clamped to the
// last row: the clamped ones are never stored.
fn a_rows(m0: u32, l: u32) -> vec4<u32> {
    return min(vec4<u32>(m0 + l, m0 + 8u + l, m0 + 16u + l, m0 + 24u + l), vec4<u32>(g.m - 1u)) * g.k4;
}

// Row offsets of b for columns col0 .. col0 + 3, clamped likewise.
fn b_rows(col0: u32) -> vec4<u32> {
    return min(vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u), vec4<u32>(g.n - 1u)) * g.k4;
}

fn quad(col0: u32, split: u32) -> Quad {
    let cols = vec4<u32>(col0, col0 + 1u, col0 + 2u, col0 + 3u);
    let at = g.off + split * g.slot + (cols / g.p_len) * g.s_n + cols % g.p_len;
    var cb = vec4<f32>(0.0);
    if ((g.flags & 9u) == 9u) {
        let last = vec4<u32>(g.n - 1u);
        let i = min(cols, last);
        cb = vec4<f32>(bias[i.x], bias[i.y], bias[i.z], bias[i.w]);
    }
    return Quad(min(g.n, col0 + 4u) - min(g.n, col0), at, cb);
}

// The row bias (flag 1 without 8) of rows m0 + l + 8i, else 0.
fn row_bias(m0: u32, l: u32) -> vec4<f32> {
    if ((g.flags & 9u) != 1u) { return vec4<f32>(0.0); }
    let i = min(vec4<u32>(m0 + l, m0 + 8u + l, m0 + 16u + l, m0 + 24u + l), vec4<u32>(g.m - 1u));
    return vec4<f32>(bias[i.x], bias[i.y], bias[i.z], bias[i.w]);
}

// C over a 32 × 32 tile: lane l owns columns n0 + 4l .. n0 + 4l + 3; stored by `mode`.
fn nt(wid: vec3<u32>, nwg: vec3<u32>, l: u32, mode: u32) {
    let t = tile(wid, nwg, 32u);
    if (t.z >= g.splits) { return; }
    let k0 = t.z * g.k_per;
    let k1 = min(k0 + g.k_per, g.k4);
    let ar = a_rows(t.x, l);
    let col0 = t.y + 4u * l;
    let br = b_rows(col0);
    var c: Rows;
    for (var k = k0; k < k1; k++) {
        step(&c, a[ar.x + k], a[ar.y + k], a[ar.z + k], a[ar.w + k], b[br.x + k], b[br.y + k], b[br.z + k], b[br.w + k]);
    }
    put_rows(&c, t.x, quad(col0, t.z), row_bias(t.x, l), mode);
}

// C over a 32 × 64 tile: lane l owns columns n0 + 8l .. n0 + 8l + 7, so each loaded row of a
// feeds twice the multiply-adds (faster where N is large; the autotuner chooses, src/gpu/tune.rs).
fn nt_wide(wid: vec3<u32>, nwg: vec3<u32>, l: u32, mode: u32) {
    let t = tile(wid, nwg, 64u);
    if (t.z >= g.splits) { return; }
    let k0 = t.z * g.k_per;
    let k1 = min(k0 + g.k_per, g.k4);
    let ar = a_rows(t.x, l);
    let col0 = t.y + 8u * l;
    let br = b_rows(col0);
    let bq = b_rows(col0 + 4u);
    var c: Rows;
    var d: Rows;
    for (var k = k0; k < k1; k++) {
        let a0 = a[ar.x + k];
        let a1 = a[ar.y + k];
        let a2 = a[ar.z + k];
        let a3 = a[ar.w + k];
        step(&c, a0, a1, a2, a3, b[br.x + k], b[br.y + k], b[br.z + k], b[br.w + k]);
        step(&d, a0, a1, a2, a3, b[bq.x + k], b[bq.y + k], b[bq.z + k], b[bq.w + k]);
    }
    let rb = row_bias(t.x, l);
    put_rows(&c, t.x, quad(col0, t.z), rb, mode);
    put_rows(&d, t.x, quad(col0 + 4u, t.z), rb, mode);
}

@compute @workgroup_size(8)
fn sgemm_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(subgroup_invocation_id) l: u32) {
    nt(wid, nwg, l, PLAIN);
}

@compute @workgroup_size(8)
fn sgemm_nt_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) l: u32) {
    nt_wide(wid, nwg, l, PLAIN);
}

@compute @workgroup_size(8)
fn sgemm_nt_act(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(subgroup_invocation_id) l: u32) {
    nt(wid, nwg, l, ACT);
}

@compute @workgroup_size(8)
fn sgemm_nt_wide_act(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(subgroup_invocation_id) l: u32) {
    nt_wide(wid, nwg, l, ACT);
}

@compute @workgroup_size(8)
fn sgemm_nt_dact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(subgroup_invocation_id) l: u32) {
    nt(wid, nwg, l, DACT);
}

@compute @workgroup_size(8)
fn sgemm_nt_wide_dact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(subgroup_invocation_id) l: u32) {
    nt_wide(wid, nwg, l, DACT);
}

// C = aᵀ·b with a (K, M) and b (K, N) row-major, M and N multiples of 4: the weight gradient of a
// Linear layer, dy (batch, OUT) against x (batch, IN), without transposing either. Each lane
// loads, per step of 4 rows of k, the vec4 of its 4 columns of a and of b in each row: lane l
// holds rows m0 + 4l .. m0 + 4l + 3 of C's tile as components, and row r of the tile reaches every
// lane as component r % 4 of lane r / 4's loads, through constant-lane shuffles of scalars (as
// many shuffled values per multiply-add as sgemm_nt's vec4 shuffles). Rows past k_rows are zeros.
fn step_tn(c: ptr<function, Rows>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
           b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
    (*c).r0 += subgroupShuffle(a0[0], 0u) * b0 + subgroupShuffle(a1[0], 0u) * b1 + subgroupShuffle(a2[0], 0u) * b2 + subgroupShuffle(a3[0], 0u) * b3;
    (*c).r1 += subgroupShuffle(a0[1], 0u) * b0 + subgroupShuffle(a1[1], 0u) * b1 + subgroupShuffle(a2[1], 0u) * b2 + subgroupShuffle(a3[1], 0u) * b3;
    (*c).r2 += subgroupShuffle(a0[2], 0u) * b0 + subgroupShuffle(a1[2], 0u) * b1 + subgroupShuffle(a2[2], 0u) * b2 + subgroupShuffle(a3[2], 0u) * b3;
    (*c).r3 += subgroupShuffle(a0[3], 0u) * b0 + subgroupShuffle(a1[3], 0u) * b1 + subgroupShuffle(a2[3], 0u) * b2 + subgroupShuffle(a3[3], 0u) * b3;
    (*c).r4 += subgroupShuffle(a0[0], 1u) * b0 + subgroupShuffle(a1[0], 1u) * b1 + subgroupShuffle(a2[0], 1u) * b2 + subgroupShuffle(a3[0], 1u) * b3;
    (*c).r5 += subgroupShuffle(a0[1], 1u) * b0 + subgroupShuffle(a1[1], 1u) * b1 + subgroupShuffle(a2[1], 1u) * b2 + subgroupShuffle(a3[1], 1u) * b3;
    (*c).r6 += subgroupShuffle(a0[2], 1u) * b0 + subgroupShuffle(a1[2], 1u) * b1 + subgroupShuffle(a2[2], 1u) * b2 + subgroupShuffle(a3[2], 1u) * b3;
    (*c).r7 += subgroupShuffle(a0[3], 1u) * b0 + subgroupShuffle(a1[3], 1u) * b1 + subgroupShuffle(a2[3], 1u) * b2 + subgroupShuffle(a3[3], 1u) * b3;
    (*c).r8 += subgroupShuffle(a0[0], 2u) * b0 + subgroupShuffle(a1[0], 2u) * b1 + subgroupShuffle(a2[0], 2u) * b2 + subgroupShuffle(a3[0], 2u) * b3;
    (*c).r9 += subgroupShuffle(a0[1], 2u) * b0 + subgroupShuffle(a1[1], 2u) * b1 + subgroupShuffle(a2[1], 2u) * b2 + subgroupShuffle(a3[1], 2u) * b3;
    (*c).r10 += subgroupShuffle(a0[2], 2u) * b0 + subgroupShuffle(a1[2], 2u) * b1 + subgroupShuffle(a2[2], 2u) * b2 + subgroupShuffle(a3[2], 2u) * b3;
    (*c).r11 += subgroupShuffle(a0[3], 2u) * b0 + subgroupShuffle(a1[3], 2u) * b1 + subgroupShuffle(a2[3], 2u) * b2 + subgroupShuffle(a3[3], 2u) * b3;
    (*c).r12 += subgroupShuffle(a0[0], 3u) * b0 + subgroupShuffle(a1[0], 3u) * b1 + subgroupShuffle(a2[0], 3u) * b2 + subgroupShuffle(a3[0], 3u) * b3;
    (*c).r13 += subgroupShuffle(a0[1], 3u) * b0 + subgroupShuffle(a1[1], 3u) * b1 + subgroupShuffle(a2[1], 3u) * b2 + subgroupShuffle(a3[1], 3u) * b3;
    (*c).r14 += subgroupShuffle(a0[2], 3u) * b0 + subgroupShuffle(a1[2], 3u) * b1 + subgroupShuffle(a2[2], 3u) * b2 + subgroupShuffle(a3[2], 3u) * b3;
    (*c).r15 += subgroupShuffle(a0[3], 3u) * b0 + subgroupShuffle(a1[3], 3u) * b1 + subgroupShuffle(a2[3], 3u) * b2 + subgroupShuffle(a3[3], 3u) * b3;
    (*c).r16 += subgroupShuffle(a0[0], 4u) * b0 + subgroupShuffle(a1[0], 4u) * b1 + subgroupShuffle(a2[0], 4u) * b2 + subgroupShuffle(a3[0], 4u) * b3;
    (*c).r17 += subgroupShuffle(a0[1], 4u) * b0 + subgroupShuffle(a1[1], 4u) * b1 + subgroupShuffle(a2[1], 4u) * b2 + subgroupShuffle(a3[1], 4u) * b3;
    (*c).r18 += subgroupShuffle(a0[2], 4u) * b0 + subgroupShuffle(a1[2], 4u) * b1 + subgroupShuffle(a2[2], 4u) * b2 + subgroupShuffle(a3[2], 4u) * b3;
    (*c).r19 += subgroupShuffle(a0[3], 4u) * b0 + subgroupShuffle(a1[3], 4u) * b1 + subgroupShuffle(a2[3], 4u) * b2 + subgroupShuffle(a3[3], 4u) * b3;
    (*c).r20 += subgroupShuffle(a0[0], 5u) * b0 + subgroupShuffle(a1[0], 5u) * b1 + subgroupShuffle(a2[0], 5u) * b2 + subgroupShuffle(a3[0], 5u) * b3;
    (*c).r21 += subgroupShuffle(a0[1], 5u) * b0 + subgroupShuffle(a1[1], 5u) * b1 + subgroupShuffle(a2[1], 5u) * b2 + subgroupShuffle(a3[1], 5u) * b3;
    (*c).r22 += subgroupShuffle(a0[2], 5u) * b0 + subgroupShuffle(a1[2], 5u) * b1 + subgroupShuffle(a2[2], 5u) * b2 + subgroupShuffle(a3[2], 5u) * b3;
    (*c).r23 += subgroupShuffle(a0[3], 5u) * b0 + subgroupShuffle(a1[3], 5u) * b1 + subgroupShuffle(a2[3], 5u) * b2 + subgroupShuffle(a3[3], 5u) * b3;
    (*c).r24 += subgroupShuffle(a0[0], 6u) * b0 + subgroupShuffle(a1[0], 6u) * b1 + subgroupShuffle(a2[0], 6u) * b2 + subgroupShuffle(a3[0], 6u) * b3;
    (*c).r25 += subgroupShuffle(a0[1], 6u) * b0 + subgroupShuffle(a1[1], 6u) * b1 + subgroupShuffle(a2[1], 6u) * b2 + subgroupShuffle(a3[1], 6u) * b3;
    (*c).r26 += subgroupShuffle(a0[2], 6u) * b0 + subgroupShuffle(a1[2], 6u) * b1 + subgroupShuffle(a2[2], 6u) * b2 + subgroupShuffle(a3[2], 6u) * b3;
    (*c).r27 += subgroupShuffle(a0[3], 6u) * b0 + subgroupShuffle(a1[3], 6u) * b1 + subgroupShuffle(a2[3], 6u) * b2 + subgroupShuffle(a3[3], 6u) * b3;
    (*c).r28 += subgroupShuffle(a0[0], 7u) * b0 + subgroupShuffle(a1[0], 7u) * b1 + subgroupShuffle(a2[0], 7u) * b2 + subgroupShuffle(a3[0], 7u) * b3;
    (*c).r29 += subgroupShuffle(a0[1], 7u) * b0 + subgroupShuffle(a1[1], 7u) * b1 + subgroupShuffle(a2[1], 7u) * b2 + subgroupShuffle(a3[1], 7u) * b3;
    (*c).r30 += subgroupShuffle(a0[2], 7u) * b0 + subgroupShuffle(a1[2], 7u) * b1 + subgroupShuffle(a2[2], 7u) * b2 + subgroupShuffle(a3[2], 7u) * b3;
    (*c).r31 += subgroupShuffle(a0[3], 7u) * b0 + subgroupShuffle(a1[3], 7u) * b1 + subgroupShuffle(a2[3], 7u) * b2 + subgroupShuffle(a3[3], 7u) * b3;
}

// Row k (and the lane's vec4 `col4` of it) of a matrix with `width4` vec4s per row, 0 past k_rows.
fn row_a(k: u32, col4: u32) -> vec4<f32> {
    let w4 = (g.m + 3u) / 4u;
    return select(vec4<f32>(0.0), a[min(k, g.k_rows - 1u) * w4 + min(col4, w4 - 1u)], k < g.k_rows);
}

fn row_b(k: u32, col4: u32) -> vec4<f32> {
    let w4 = (g.n + 3u) / 4u;
    return select(vec4<f32>(0.0), b[min(k, g.k_rows - 1u) * w4 + min(col4, w4 - 1u)], k < g.k_rows);
}

@compute @workgroup_size(8)
fn sgemm_tn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(subgroup_invocation_id) l: u32) {
    let t = tile(wid, nwg, 32u);
    if (t.z >= g.splits) { return; }
    let k0 = t.z * g.k_per;
    let k1 = min(k0 + g.k_per, g.k4);
    let ca = t.x / 4u + l;
    let col0 = t.y + 4u * l;
    let cb = col0 / 4u;
    var c: Rows;
    for (var k = k0; k < k1; k++) {
        let r = 4u * k;
        step_tn(&c, row_a(r, ca), row_a(r + 1u, ca), row_a(r + 2u, ca), row_a(r + 3u, ca),
                row_b(r, cb), row_b(r + 1u, cb), row_b(r + 2u, cb), row_b(r + 3u, cb));
    }
    put_rows(&c, t.x, quad(col0, t.z), row_bias(t.x, l), PLAIN);
}

// ---------------------------------------------------------------------------------------------
// Products whose b operand is read tap by tap from an image stored by position (NHWC: one row of
// C channels, padded to 4, per position), instead of from a packed patch matrix: sgemm_taps.
// Column j of C is a cell (sample, u, v) of a gy × gx grid; for tap (ti, tj) it reads the image
// row at (y0 + ti·step_y, x0 + tj·step_x), with (y0, x0) = (u·mul_y + add_y, v·mul_x + add_x),
// one vec4 of 4 channels per step (zero outside the image: coordinates wrap as u32, so "before
// the first row" is "past the last"). K runs over (ti, tj, channel), and a is packed to match by
// tap_weights. C[i, j] goes to out[off + sample·(M·s_m) + i·s_m + (o_y0 + u·o_sy)·o_w + o_x0 +
// v·o_sx] (as 4 floats at once with flag 4, when the map keeps a group's 4 columns together).
// a starts `slot` vec4s into its buffer (the stride phases' weights lie one after another).
//
// Two uses (src/ops/conv_gemm.rs):
// - a convolution's forward pass: cells are output positions, the image is x by position, taps
//   are the kernel's (step = dilation), (mul, add) = (stride, −pad): the im2col patch matrix is
//   never written;
// - one stride phase of its input gradient: every input value of phase (ry, rx) is read by the
//   same ty × tx taps, so
//     dx[n, ci, iy0 + a·sy, ix0 + b·sx] = [bias[ci] +] Σ over taps (ti, tj), channels co of
//         W[co, ci, ry + ti·sy, rx + tj·sx] · dy[n, co, a + cy − ti, b + cx − tj]:
//   cells are the phase's input values, the image is dy by position, step = −1, (mul, add) =
//   (1, cy): the same multiply-adds as the patch gradient's product, K long and M short, with
//   16× fewer stores and no col2im afterwards.
// The fields of ProductParams.geo, read as Implicit (the same 20 words; src/ops/conv_gemm.rs
// builds them as its `Implicit`).
struct Implicit {
    c: u32,           // vec4s per image row
    gy: u32,          // the grid of cells per sample
    gx: u32,
    kh: u32,          // taps along each axis
    kw: u32,
    bh: u32,          // the image's rows and columns
    bw: u32,
    mul_y: u32,
    mul_x: u32,
    add_y: u32,       // (two's complement when negative)
    add_x: u32,
    step_y: u32,
    step_x: u32,
    o_y0: u32,        // the output map (see above)
    o_x0: u32,
    o_sy: u32,
    o_sx: u32,
    o_w: u32,
    pad0: u32,
    pad1: u32,
}

fn implicit() -> Implicit {
    let e = g.geo;
    return Implicit(e.n0, e.cols, e.rows, e.c, e.h, e.w, e.oh, e.ow, e.kh, e.kw, e.stride_y, e.stride_x,
                    e.pad_y, e.pad_x, e.dil_y, e.dil_x, e.tap_step_y, e.tap_step_x, e.width, e.flags);
}

// A lane's group of 4 columns: the image position of its sample's first row, the coordinates
// tap (0, 0) reads, and where its values go (a Quad).
struct TapCols {
    pos0: vec4<u32>,
    y0: vec4<u32>,
    x0: vec4<u32>,
    q: Quad,
}

// (sample, u, v) of a cell.
fn tap_cell(c: u32, e: Implicit) -> vec3<u32> {
    let nc = divmod(c, e.gy * e.gx, true);
    let uv = divmod(nc.y, e.gx, true);
    return vec3<u32>(nc.x, uv.x, uv.y);
}

fn tap_cols(col0: u32, e: Implicit) -> TapCols {
    let last = g.n - 1u;
    let c0 = tap_cell(min(col0, last), e);
    let c1 = tap_cell(min(col0 + 1u, last), e);
    let c2 = tap_cell(min(col0 + 2u, last), e);
    let c3 = tap_cell(min(col0 + 3u, last), e);
    let n = vec4<u32>(c0.x, c1.x, c2.x, c3.x);
    let u = vec4<u32>(c0.y, c1.y, c2.y, c3.y);
    let v = vec4<u32>(c0.z, c1.z, c2.z, c3.z);
    let at = g.off + n * (g.m * g.s_m) + (vec4<u32>(e.o_y0) + u * e.o_sy) * e.o_w + vec4<u32>(e.o_x0) + v * e.o_sx;
    let q = Quad(min(g.n, col0 + 4u) - min(g.n, col0), at, vec4<f32>(0.0));
    return TapCols(n * (e.bh * e.bw), u * e.mul_y + vec4<u32>(e.add_y), v * e.mul_x + vec4<u32>(e.add_x), q);
}

// The rows of b (in vec4s) that tap (ti, tj) reads for the 4 columns, 0 where the tap falls
// outside the image (`ok` false: those reads are masked).
struct Tap {
    r: vec4<u32>,
    ok: vec4<bool>,
}

fn tap_rows(p: TapCols, ti: u32, tj: u32, e: Implicit) -> Tap {
    let y = p.y0 + vec4<u32>(ti * e.step_y);
    let x = p.x0 + vec4<u32>(tj * e.step_x);
    let ok = (y < vec4<u32>(e.bh)) & (x < vec4<u32>(e.bw));
    return Tap(select(vec4<u32>(0u), (p.pos0 + y * e.bw + x) * e.c, ok), ok);
}

fn tap_b(t: Tap, c4: u32, j: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), b[t.r[j] + c4], t.ok[j]);
}

fn taps(wid: vec3<u32>, nwg: vec3<u32>, l: u32, mode: u32) {
    let t = tile(wid, nwg, 32u);
    if (t.z >= g.splits) { return; }
    let e = implicit();
    let ar = a_rows(t.x, l) + vec4<u32>(g.slot);
    let p = tap_cols(t.y + 4u * l, e);
    var c: Rows;
    var k = 0u;
    for (var ti = 0u; ti < e.kh; ti++) {
        for (var tj = 0u; tj < e.kw; tj++) {
            let r = tap_rows(p, ti, tj, e);
            for (var c4 = 0u; c4 < e.c; c4++) {
                step(&c, a[ar.x + k], a[ar.y + k], a[ar.z + k], a[ar.w + k],
                     tap_b(r, c4, 0u), tap_b(r, c4, 1u), tap_b(r, c4, 2u), tap_b(r, c4, 3u));
                k++;
            }
        }
    }
    put_rows(&c, t.x, p.q, row_bias(t.x, l), mode);
}

// sgemm_taps with 8 columns a lane (a 32 × 64 tile), as sgemm_nt_wide.
fn taps_wide(wid: vec3<u32>, nwg: vec3<u32>, l: u32, mode: u32) {
    let t = tile(wid, nwg, 64u);
    if (t.z >= g.splits) { return; }
    let e = implicit();
    let ar = a_rows(t.x, l) + vec4<u32>(g.slot);
    let p = tap_cols(t.y + 8u * l, e);
    let pq = tap_cols(t.y + 8u * l + 4u, e);
    var c: Rows;
    var d: Rows;
    var k = 0u;
    for (var ti = 0u; ti < e.kh; ti++) {
        for (var tj = 0u; tj < e.kw; tj++) {
            let r = tap_rows(p, ti, tj, e);
            let rq = tap_rows(pq, ti, tj, e);
            for (var c4 = 0u; c4 < e.c; c4++) {
                let a0 = a[ar.x + k];
                let a1 = a[ar.y + k];
                let a2 = a[ar.z + k];
                let a3 = a[ar.w + k];
                step(&c, a0, a1, a2, a3, tap_b(r, c4, 0u), tap_b(r, c4, 1u), tap_b(r, c4, 2u), tap_b(r, c4, 3u));
                step(&d, a0, a1, a2, a3, tap_b(rq, c4, 0u), tap_b(rq, c4, 1u), tap_b(rq, c4, 2u), tap_b(rq, c4, 3u));
                k++;
            }
        }
    }
    let rb = row_bias(t.x, l);
    put_rows(&c, t.x, p.q, rb, mode);
    put_rows(&d, t.x, pq.q, rb, mode);
}

@compute @workgroup_size(8)
fn sgemm_taps(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(subgroup_invocation_id) l: u32) {
    taps(wid, nwg, l, PLAIN);
}

@compute @workgroup_size(8)
fn sgemm_taps_wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(subgroup_invocation_id) l: u32) {
    taps_wide(wid, nwg, l, PLAIN);
}

// The input gradient by stride phase taken on through the ReLU or LeakyReLU before the
// convolution (the gradient at the activation's input; pre4 its input): each phase overwrites
// its own pixels, one split, so each stored value is final.
@compute @workgroup_size(8)
fn sgemm_taps_dact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(subgroup_invocation_id) l: u32) {
    taps(wid, nwg, l, DACT1);
}

@compute @workgroup_size(8)
fn sgemm_taps_wide_dact(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(subgroup_invocation_id) l: u32) {
    taps_wide(wid, nwg, l, DACT1);
}
