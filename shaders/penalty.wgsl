// WGAN-GP's gradient penalty (Gulrajani et al. 2017): with g (N, DIM) the gradient of the critic's
// output with respect to each interpolated input x̂ (one row per sample),
//   penalty = λ · mean_n (‖g_n‖₂ − 1)²
// and its gradient with respect to g, which src/nn's grad_of_input_grad passes back through the
// critic's backward pass to its weights:
//   ḡ_n = λ · 2 (‖g_n‖ − 1) / (N ‖g_n‖) · g_n        (0 for a row whose gradient is exactly 0)
//
//   gradient_penalty_rows  g -> gbar (N, DIM), terms (N) = λ (‖g_n‖ − 1)² / N   (one invocation per row)
//   gradient_penalty_sum   terms -> stats.penalty = Σ terms; stats.d_loss += it  (one workgroup)

struct Params {
    n: u32,
    dim: u32,
    lambda: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> gbar: array<f32>;
@group(0) @binding(3) var<storage, read_write> terms: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: Stats;

const RED: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(WG)
fn gradient_penalty_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= p.n) { return; }
    let base = row * p.dim;
    var ss = 0.0;
    for (var j = 0u; j < p.dim; j++) {
        let v = g[base + j];
        ss += v * v;
    }
    let r = sqrt(ss);
    terms[row] = p.lambda * (r - 1.0) * (r - 1.0) / f32(p.n);
    let scale = select(0.0, p.lambda * 2.0 * (r - 1.0) / (f32(p.n) * r), r > 0.0);
    for (var j = 0u; j < p.dim; j++) {
        gbar[base + j] = scale * g[base + j];
    }
}

@compute @workgroup_size(256)
fn gradient_penalty_sum(@builtin(local_invocation_index) t: u32) {
    var acc = 0.0;
    for (var i = t; i < p.n; i += RED) {
        acc += terms[i];
    }
    red[t] = acc;
    workgroupBarrier();
    for (var s = RED / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        stats.penalty = red[0];
        stats.d_loss = stats.d_loss + red[0];
    }
}
