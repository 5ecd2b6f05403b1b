// Linear layer, y = x Wᵀ + b (PyTorch's layout: W is (OUT, IN)), and its three backward kernels.
//
//   linear_forward          x (N,IN), w (OUT,IN), b (OUT) -> y  (N,OUT)
//   linear_backward_input   dy (N,OUT), w (OUT,IN)        -> dx (N,IN)     dx = dy W
//   linear_backward_weight  dy (N,OUT), x (N,IN)          -> dw (OUT,IN)   dw = dyᵀ x
//   linear_backward_bias    dy (N,OUT)                    -> db (OUT)      db = Σ_n dy
//
// Gradients are overwritten, never accumulated. Every invocation owns one output element and runs
// its reduction sequentially in the same order as the CPU reference, so the only difference from it
// is rounding (fused multiply-adds where the driver contracts them).
// Dispatch: a 1-D range of invocations folded onto a 2-D grid of 64-wide workgroups
// (index = x + y * 64 * num_workgroups.x) so that more than 65535 * 64 outputs fit.

struct Params {
    n: u32,      // batch rows
    in_f: u32,   // input features
    out_f: u32,  // output features
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn linear_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= p.n * p.out_f) { return; }
    let row = idx / p.out_f;
    let o = idx % p.out_f;
    let xr = row * p.in_f;
    let wr = o * p.in_f;
    var acc = 0.0;
    for (var i = 0u; i < p.in_f; i++) {
        acc += x[xr + i] * w[wr + i];
    }
    out[idx] = acc + b[o];
}

@compute @workgroup_size(64)
fn linear_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= p.n * p.in_f) { return; }
    let row = idx / p.in_f;
    let i = idx % p.in_f;
    let dr = row * p.out_f;
    var acc = 0.0;
    for (var o = 0u; o < p.out_f; o++) {
        acc += dy[dr + o] * w[o * p.in_f + i];
    }
    out[idx] = acc;
}

@compute @workgroup_size(64)
fn linear_backward_weight(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= p.out_f * p.in_f) { return; }
    let o = idx / p.in_f;
    let i = idx % p.in_f;
    var acc = 0.0;
    for (var r = 0u; r < p.n; r++) {
        acc += dy[r * p.out_f + o] * x[r * p.in_f + i];
    }
    out[idx] = acc;
}

@compute @workgroup_size(64)
fn linear_backward_bias(@builtin(global_invocation_id) gid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_index(gid, nwg);
    if (o >= p.out_f) { return; }
    var acc = 0.0;
    for (var r = 0u; r < p.n; r++) {
        acc += dy[r * p.out_f + o];
    }
    out[o] = acc;
}
