// Batch normalisation over the channels of an (N, C, HW) tensor: HW = 1 is BatchNorm1d over
// features, HW = H·W is BatchNorm2d. Each channel is normalised with statistics over its N·HW values.
//
//   batchnorm_stats           x -> stats[0..C) = mean, stats[C..2C) = 1/√(var + eps) (biased var);
//                             with flag 4 also running (mean C, var C) ← (1−m)·running + m·batch,
//                             the running variance taking the unbiased batch variance (as PyTorch)
//   batchnorm_forward         x, γ, β, stats or running -> y = (x − mean)·invstd·γ + β
//   batchnorm_backward_reduce x, dy, stats -> stats[2C..3C) = Σ dy, stats[3C..4C) = Σ dy·x̂;
//                             with flag 8 also dγ = Σ dy·x̂ (out) and dβ = Σ dy (out2)
//   batchnorm_backward_input  x, dy, γ, stats -> dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M), M = N·HW
//
// Training mode uses the batch statistics and differentiates through them (the full backward);
// evaluation mode (flag 1 clear) uses the running statistics and is only run forward.
// Per-channel sums run sequentially in one invocation each, in the CPU reference's order.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    // bit 0: batch statistics (training) rather than running ones; bit 1: add parameter gradients
    // into dγ/dβ instead of overwriting them; bit 2: update the running statistics;
    // bit 3: write the parameter gradients at all.
    flags: u32,
    eps: f32,
    momentum: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;    // (4, C) per layer and pass
@group(0) @binding(6) var<storage, read_write> running: array<f32>;  // (2, C): mean, var
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read_write> out2: array<f32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn batchnorm_stats(@builtin(global_invocation_id) gid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.c) { return; }
    let m = f32(p.n * p.hw);
    var s = 0.0;
    for (var nn = 0u; nn < p.n; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = 0u; i < p.hw; i++) { s += x[base + i]; }
    }
    let mean = s / m;
    var q = 0.0;
    for (var nn = 0u; nn < p.n; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = 0u; i < p.hw; i++) {
            let d = x[base + i] - mean;
            q += d * d;
        }
    }
    let var_b = q / m;
    stats[c] = mean;
    stats[p.c + c] = 1.0 / sqrt(var_b + p.eps);
    if ((p.flags & 4u) != 0u) {
        running[c] = (1.0 - p.momentum) * running[c] + p.momentum * mean;
        running[p.c + c] = (1.0 - p.momentum) * running[p.c + c] + p.momentum * (q / (m - 1.0));
    }
}

// Mean and 1/√(var + eps) of channel c for the current mode.
fn mean_invstd(c: u32) -> vec2<f32> {
    if ((p.flags & 1u) != 0u) {
        return vec2<f32>(stats[c], stats[p.c + c]);
    }
    return vec2<f32>(running[c], 1.0 / sqrt(running[p.c + c] + p.eps));
}

@compute @workgroup_size(64)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    let mi = mean_invstd(c);
    out[i] = (x[i] - mi.x) * mi.y * gamma[c] + beta[c];
}

@compute @workgroup_size(64)
fn batchnorm_backward_reduce(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.c) { return; }
    let mean = stats[c];
    let invstd = stats[p.c + c];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var nn = 0u; nn < p.n; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = 0u; i < p.hw; i++) {
            let g = dy[base + i];
            s1 += g;
            s2 += g * (x[base + i] - mean) * invstd;
        }
    }
    stats[2u * p.c + c] = s1;
    stats[3u * p.c + c] = s2;
    if ((p.flags & 8u) != 0u) {
        let add = (p.flags & 2u) != 0u;
        out[c] = select(0.0, out[c], add) + s2;
        out2[c] = select(0.0, out2[c], add) + s1;
    }
}

@compute @workgroup_size(64)
fn batchnorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    let m = f32(p.n * p.hw);
    let invstd = stats[p.c + c];
    let xhat = (x[i] - stats[c]) * invstd;
    out[i] = gamma[c] * invstd * (dy[i] - stats[2u * p.c + c] / m - xhat * stats[3u * p.c + c] / m);
}
