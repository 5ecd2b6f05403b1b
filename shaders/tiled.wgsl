// The matrix product of the GPU family (src/ops/conv_gemm.rs, KernelFamily::Tiled): the same
// C = a·bᵀ with the same output maps, bias, accumulation and split reduction as conv_gemm.wgsl's
// sgemm_nt, shaped for a real GPU instead of llvmpipe.
//
//   tgemm_nt  a (M, K4·4), b (N, K4·4) -> out        C[m, n] = [bias] + Σ_k a[m, k]·b[n, k]
//
// A workgroup of 256 invocations owns a TILE × TILE block of C. The reduction goes in stages of
// KT vec4s (16 values): every invocation copies one vec4 of a and one of b into workgroup memory,
// then each computes a 4 × 4 block of C from it (rows ty + 16i, columns tx + 16j: neighbouring
// invocations read neighbouring vec4s, so the reads spread over the memory banks, and store
// neighbouring columns, so the stores coalesce). Each staged value is read by 16 invocations
// from workgroup memory instead of 64 times from global memory. The stage layout is k-major
// ([kk·TILE + row]) for the same reason.
//
// With flag 16 the b operand is implicit: each staged vec4 of a patch row is read from the image
// itself (`patch_value`), so a convolution's forward pass needs no packing pass and no packed matrix
// (implicit GEMM). The input and weight gradients still go through the same packing (im2col)
// and scattering (col2im) as the software adapter's family. No GPU has measured it yet.

// ProductParams (prelude.wgsl): the same as sgemm_nt's; flag 4 is not used here.
@group(0) @binding(0) var<uniform> g: ProductParams;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// The image whose patches b is when flag 16 is set (implicit GEMM); any buffer otherwise.
@group(0) @binding(6) var<storage, read> img: array<f32>;

// Rows and columns of C per workgroup, and vec4 steps of k per stage.
const TILE: u32 = 64u;
const KT: u32 = 4u;

var<workgroup> sa: array<vec4<f32>, 256>;
var<workgroup> sb: array<vec4<f32>, 256>;

fn dot4(x: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
}

// Stores C[m, col] = v (+ bias) through the map, or adds it.
fn put1(m: u32, col: u32, split: u32, v: f32) {
    if (m >= g.m || col >= g.n) { return; }
    var x = v;
    if ((g.flags & 9u) == 1u) { x += bias[m]; }
    if ((g.flags & 9u) == 9u) { x += bias[col]; }
    let i = g.off + split * g.slot + (col / g.p_len) * g.s_n + m * g.s_m + col % g.p_len;
    if ((g.flags & 2u) != 0u) { out[i] += x; } else { out[i] = x; }
}

// Value k of patch row `col` (an output position of the chunk) of g.geo's convolution: the input
// pixel that tap k = (channel, ky, kx) reads for it, 0 in the padding and past C·KH·KW.
fn patch_value(col: u32, k: u32) -> f32 {
    let q = g.geo;
    let plane = q.oh * q.ow;
    let p = col % plane;
    let taps = q.kh * q.kw;
    let ch = k / taps;
    let t = k % taps;
    let iy = i32((p / q.ow) * q.stride_y + (t / q.kw) * q.dil_y) - i32(q.pad_y);
    let ix = i32((p % q.ow) * q.stride_x + (t % q.kw) * q.dil_x) - i32(q.pad_x);
    let ok = ch < q.c && iy >= 0 && iy < i32(q.h) && ix >= 0 && ix < i32(q.w);
    let y = u32(clamp(iy, 0, i32(q.h) - 1));
    let x = u32(clamp(ix, 0, i32(q.w) - 1));
    let at = (((q.n0 + col / plane) * q.c + min(ch, q.c - 1u)) * q.h + y) * q.w + x;
    return select(0.0, img[at], ok);
}

// The stage's vec4 of b: row `row`, vec4 step kc, packed or implicit.
fn b_stage(row: u32, br: u32, kc: u32) -> vec4<f32> {
    if ((g.flags & 16u) != 0u) {
        let k = 4u * kc;
        return vec4<f32>(patch_value(row, k), patch_value(row, k + 1u), patch_value(row, k + 2u), patch_value(row, k + 3u));
    }
    return b[br + kc];
}

fn put4(m: u32, c0: u32, split: u32, v: vec4<f32>) {
    put1(m, c0, split, v.x);
    put1(m, c0 + 16u, split, v.y);
    put1(m, c0 + 32u, split, v.z);
    put1(m, c0 + 48u, split, v.w);
}

@compute @workgroup_size(256)
fn tgemm_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let t = wid.x + wid.y * nwg.x;
    let tiles = g.tiles_m * g.tiles_n;
    let split = t / tiles;
    // (The same for the whole workgroup, so the barriers below stay in uniform control flow.)
    if (split >= g.splits) { return; }
    let m0 = ((t % tiles) / g.tiles_n) * TILE;
    let n0 = ((t % tiles) % g.tiles_n) * TILE;
    let k0 = split * g.k_per;
    let k1 = min(k0 + g.k_per, g.k4);
    // The copy: invocation li brings vec4 li % KT of row li / KT of each operand's tile (rows past
    // the matrix are clamped, and never stored; steps past the split are zeros).
    let lr = li / KT;
    let lk = li % KT;
    let ar = min(m0 + lr, g.m - 1u) * g.k4;
    let brow = min(n0 + lr, g.n - 1u);
    let br = brow * g.k4;
    let slot = lk * TILE + lr;
    // The compute: rows ty + 16i, columns tx + 16j of the tile.
    let tx = li % 16u;
    let ty = li / 16u;
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    for (var ks = k0; ks < k1; ks += KT) {
        let k = ks + lk;
        let kc = min(k, k1 - 1u);
        sa[slot] = select(vec4<f32>(0.0), a[ar + kc], k < k1);
        sb[slot] = select(vec4<f32>(0.0), b_stage(brow, br, kc), k < k1);
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let s = kk * TILE;
            let b0 = sb[s + tx];
            let b1 = sb[s + tx + 16u];
            let b2 = sb[s + tx + 32u];
            let b3 = sb[s + tx + 48u];
            c0 += dot4(sa[s + ty], b0, b1, b2, b3);
            c1 += dot4(sa[s + ty + 16u], b0, b1, b2, b3);
            c2 += dot4(sa[s + ty + 32u], b0, b1, b2, b3);
            c3 += dot4(sa[s + ty + 48u], b0, b1, b2, b3);
        }
        workgroupBarrier();
    }
    put4(m0 + ty, n0 + tx, split, c0);
    put4(m0 + ty + 16u, n0 + tx, split, c1);
    put4(m0 + ty + 32u, n0 + tx, split, c2);
    put4(m0 + ty + 48u, n0 + tx, split, c3);
}
