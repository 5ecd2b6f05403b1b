// Matrix products with both operands contiguous along the reduction ("NT"), read four values at a
// time, for the Linear layers whenever the reduction length is a multiple of 4.
//
//   gemm_nt        a (M, K), b (P, K), bias (P) -> out (M, P)   out[m, p] = [bias[p] +] Σ_k a[m, k]·b[p, k]
//   transpose_pad  src (ROWS, COLS) -> out (COLS, ROWS4)        out[c, r] = src[r, c], 0 for r ≥ ROWS
//
// As Linear layers (y = x Wᵀ + b, PyTorch's W (OUT, IN)):
//   forward          a = x (N, IN),  b = W (OUT, IN)              -> y (N, OUT) with the bias
//   input gradient   a = dy (N, OUT), b = Wᵀ (IN, OUT)            -> dx (N, IN)
//   weight gradient  a = dyᵀ (OUT, N4), b = xᵀ (IN, N4), K = N4   -> dW (OUT, IN), split over K
// (Wᵀ, dyᵀ and xᵀ written by transpose_pad, the batch padded with zeros to a multiple of 4.)
//
// Why this shape: the software adapter (llvmpipe) turns every storage load inside a loop into a
// loop over its 8 SIMD lanes, so loads dominate. A vec4 load shares one such loop among four
// values, and an 8 × 8 block per invocation does 256 multiply-adds for 16 of them: measured on a
// 512³ product, 9.3 GFLOP/s per core against 2.4 for scalar loads in 4 × 4 blocks
// (docs/BENCHMARKS.md). Real GPUs like wide loads and register blocks as well.
//
// Each invocation owns 8 rows of a × 8 rows of b and sums k over its tile [split·K_PER,
// (split+1)·K_PER) (in vec4 units); tile `split` writes slot split of out (offset split·M·P), which
// `reduce.wgsl` then adds up (one tile: out itself). Blocks over the edge clamp their reads and skip
// their writes. flags: bit 0 add the bias, bit 1 add into out instead of overwriting it.

struct Params {
    m: u32,
    p: u32,
    k4: u32,      // reduction length / 4
    k_per: u32,   // vec4 steps per tile
    flags: u32,
    rows: u32,    // transpose_pad: ROWS, COLS, ROWS4
    cols: u32,
    rows4: u32,
}

@group(0) @binding(0) var<uniform> q: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn gemm_nt(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let pb = (q.p + 7u) / 8u;
    let blocks = ((q.m + 7u) / 8u) * pb;
    let split = idx / blocks;
    let k0 = split * q.k_per;
    if (k0 >= q.k4) { return; }
    let k1 = min(k0 + q.k_per, q.k4);
    let m0 = ((idx % blocks) / pb) * 8u;
    let p0 = ((idx % blocks) % pb) * 8u;
    // Row offsets (in vec4 units), clamped to the last row.
    var ar: array<u32, 8>;
    var br: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        ar[i] = min(m0 + i, q.m - 1u) * q.k4;
        br[i] = min(p0 + i, q.p - 1u) * q.k4;
    }
    var acc: array<vec4<f32>, 16>;   // acc[2i + j/4][j%4] = out[m0 + i, p0 + j]
    for (var k = k0; k < k1; k++) {
        let b0 = b[br[0] + k];
        let b1 = b[br[1] + k];
        let b2 = b[br[2] + k];
        let b3 = b[br[3] + k];
        let b4 = b[br[4] + k];
        let b5 = b[br[5] + k];
        let b6 = b[br[6] + k];
        let b7 = b[br[7] + k];
        for (var i = 0u; i < 8u; i++) {
            let x = a[ar[i] + k];
            acc[2u * i] += vec4<f32>(dot(x, b0), dot(x, b1), dot(x, b2), dot(x, b3));
            acc[2u * i + 1u] += vec4<f32>(dot(x, b4), dot(x, b5), dot(x, b6), dot(x, b7));
        }
    }
    let base = split * q.m * q.p;
    let add = (q.flags & 2u) != 0u;
    for (var i = 0u; i < 8u; i++) {
        let m = m0 + i;
        if (m >= q.m) { break; }
        for (var j = 0u; j < 8u; j++) {
            let p = p0 + j;
            if (p >= q.p) { break; }
            var v = acc[2u * i + j / 4u][j % 4u];
            if ((q.flags & 1u) != 0u) { v += bias[p]; }
            let o = base + m * q.p + p;
            out[o] = select(0.0, out[o], add) + v;
        }
    }
}

@compute @workgroup_size(WG)
fn transpose_pad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= q.cols * q.rows4) { return; }
    let c = i / q.rows4;
    let r = i % q.rows4;
    var v = 0.0;
    if (r < q.rows) { v = src[r * q.cols + c]; }
    out[i] = v;
}
