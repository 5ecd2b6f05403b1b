// Batch normalisation over the channels of an (N, C, HW) tensor: HW = 1 is BatchNorm1d over
// features, HW = H·W is BatchNorm2d. Each channel is normalised with statistics over its N·HW values.
//
//   batchnorm_stats_partial    x -> part[split, c] = Σ x over the split's tile of channel c;
//                              with flag 16, Σ (x − mean)², mean = stats[c]
//   batchnorm_stats_finish     part -> flag 16 clear: stats[0..C) = mean = Σ part / M;
//                              flag 16 set: stats[C..2C) = 1/√(var + eps), var = Σ part / M (biased);
//                              with flag 4 also running (mean C, var C) ← (1−m)·running + m·batch,
//                              the running variance taking the unbiased batch variance (as PyTorch)
//   batchnorm_forward          x, γ, β, stats or running -> y = (x − mean)·invstd·γ + β
//   batchnorm_backward_partial x, dy, stats -> part[split, 0, c] = Σ dy, part[split, 1, c] = Σ dy·x̂
//   batchnorm_backward_finish  part -> stats[2C..3C) = Σ dy, stats[3C..4C) = Σ dy·x̂;
//                              with flag 8 also dγ = Σ dy·x̂ (out) and dβ = Σ dy (out2)
//   batchnorm_backward_input   x, dy, γ, stats -> dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M), M = N·HW
//
// Training mode uses the batch statistics and differentiates through them (the full backward);
// evaluation mode (flag 1 clear) uses the running statistics and is only run forward.
//
// Per-channel sums are split reductions: a tile is N_PER samples × P_PER positions of one channel,
// summed sequentially by one invocation into its slot of `part`; the finishing kernels add the
// slots. The host sizes the tiles (src/gpu/budget.rs) so that no invocation loops more than a
// bounded number of times, whatever N and HW: Mesa's llvmpipe silently stops every loop of an
// invocation after 65,535 iterations in all. The variance is the two-pass one (mean first, then the
// centred squares), as in the CPU reference.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    // bit 0: batch statistics (training) rather than running ones; bit 1: add parameter gradients
    // into dγ/dβ instead of overwriting them; bit 2: update the running statistics;
    // bit 3: write the parameter gradients at all; bit 4: the centred pass of the statistics.
    flags: u32,
    eps: f32,
    momentum: f32,
    // Split reductions: samples and positions per tile, tiles along the positions.
    n_per: u32,
    p_per: u32,
    p_splits: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
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
@group(0) @binding(9) var<storage, read_write> part: array<f32>;    // (splits, ·, C) partial sums

fn splits() -> u32 {
    return p.p_splits * ((p.n + p.n_per - 1u) / p.n_per);
}

// The tile of split `split`: samples [t.x, t.y), positions [t.z, t.w).
fn tile(split: u32) -> vec4<u32> {
    let n0 = (split / p.p_splits) * p.n_per;
    let i0 = (split % p.p_splits) * p.p_per;
    return vec4<u32>(n0, min(n0 + p.n_per, p.n), i0, min(i0 + p.p_per, p.hw));
}

@compute @workgroup_size(WG)
fn batchnorm_stats_partial(@builtin(global_invocation_id) gid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let c = idx % p.c;
    let split = idx / p.c;
    if (split >= splits()) { return; }
    let t = tile(split);
    let centred = (p.flags & 16u) != 0u;
    let mean = select(0.0, stats[c], centred);
    var s = 0.0;
    for (var nn = t.x; nn < t.y; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = t.z; i < t.w; i++) {
            let d = x[base + i] - mean;
            s += select(d, d * d, centred);
        }
    }
    part[split * p.c + c] = s;
}

@compute @workgroup_size(WG)
fn batchnorm_stats_finish(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.c) { return; }
    let m = f32(p.n * p.hw);
    var s = 0.0;
    for (var k = 0u; k < splits(); k++) { s += part[k * p.c + c]; }
    if ((p.flags & 16u) == 0u) {
        stats[c] = s / m;
        return;
    }
    stats[p.c + c] = 1.0 / sqrt(s / m + p.eps);
    if ((p.flags & 4u) != 0u) {
        running[c] = (1.0 - p.momentum) * running[c] + p.momentum * stats[c];
        running[p.c + c] = (1.0 - p.momentum) * running[p.c + c] + p.momentum * (s / (m - 1.0));
    }
}

// Mean and 1/√(var + eps) of channel c for the current mode.
fn mean_invstd(c: u32) -> vec2<f32> {
    if ((p.flags & 1u) != 0u) {
        return vec2<f32>(stats[c], stats[p.c + c]);
    }
    return vec2<f32>(running[c], 1.0 / sqrt(running[p.c + c] + p.eps));
}

@compute @workgroup_size(WG)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c * p.hw) { return; }
    let c = (i / p.hw) % p.c;
    let mi = mean_invstd(c);
    out[i] = (x[i] - mi.x) * mi.y * gamma[c] + beta[c];
}

@compute @workgroup_size(WG)
fn batchnorm_backward_partial(@builtin(global_invocation_id) gid: vec3<u32>,
                              @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let c = idx % p.c;
    let split = idx / p.c;
    if (split >= splits()) { return; }
    let t = tile(split);
    let mean = stats[c];
    let invstd = stats[p.c + c];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var nn = t.x; nn < t.y; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = t.z; i < t.w; i++) {
            let g = dy[base + i];
            s1 += g;
            s2 += g * (x[base + i] - mean) * invstd;
        }
    }
    part[(2u * split) * p.c + c] = s1;
    part[(2u * split + 1u) * p.c + c] = s2;
}

@compute @workgroup_size(WG)
fn batchnorm_backward_finish(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.c) { return; }
    var s1 = 0.0;
    var s2 = 0.0;
    for (var k = 0u; k < splits(); k++) {
        s1 += part[(2u * k) * p.c + c];
        s2 += part[(2u * k + 1u) * p.c + c];
    }
    stats[2u * p.c + c] = s1;
    stats[3u * p.c + c] = s2;
    if ((p.flags & 8u) != 0u) {
        let add = (p.flags & 2u) != 0u;
        out[c] = select(0.0, out[c], add) + s2;
        out2[c] = select(0.0, out2[c], add) + s1;
    }
}

@compute @workgroup_size(WG)
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

// batchnorm_forward and batchnorm_backward_input four values at a time, when the four share their
// statistics' loads: HW a multiple of 4 (one channel; BatchNorm2d on even planes) or HW = 1 with
// C a multiple of 4 (four consecutive channels; BatchNorm1d). Each storage access costs the
// software adapter a loop over its 8 lanes per value or per vec4 (see conv_gemm.wgsl).
@group(0) @binding(10) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> out4: array<vec4<f32>>;

// Per-channel values of the four elements from 4·i: (mean, invstd, γ, channel of the first).
struct Four {
    mean: vec4<f32>,
    invstd: vec4<f32>,
    gamma: vec4<f32>,
    c: u32,
}

// The channel of element 4·i, and whether the four elements are four channels (HW = 1).
fn first_channel(i: u32) -> u32 {
    return ((4u * i) / p.hw) % p.c;
}

// γ and β as per-channel vectors from channel c: c..c+3 for HW = 1, else c four times.
// (Storage pointers cannot be function arguments in WGSL: one function per buffer.)
fn gamma4(c: u32) -> vec4<f32> {
    if (p.hw == 1u) { return vec4<f32>(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]); }
    return vec4<f32>(gamma[c]);
}

fn beta4(c: u32) -> vec4<f32> {
    if (p.hw == 1u) { return vec4<f32>(beta[c], beta[c + 1u], beta[c + 2u], beta[c + 3u]); }
    return vec4<f32>(beta[c]);
}

fn four(i: u32) -> Four {
    let c = first_channel(i);
    if (p.hw == 1u) {
        let a = mean_invstd(c);
        let b = mean_invstd(c + 1u);
        let d = mean_invstd(c + 2u);
        let f = mean_invstd(c + 3u);
        return Four(vec4<f32>(a.x, b.x, d.x, f.x), vec4<f32>(a.y, b.y, d.y, f.y), gamma4(c), c);
    }
    let a = mean_invstd(c);
    return Four(vec4<f32>(a.x), vec4<f32>(a.y), gamma4(c), c);
}

@compute @workgroup_size(WG)
fn batchnorm_forward4(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c * p.hw / 4u) { return; }
    let f = four(i);
    out4[i] = (x4[i] - f.mean) * f.invstd * f.gamma + beta4(f.c);
}

// Row r of stats (r·C + channel) as a per-channel vector (stats is read-write: no pointer helper).
fn per_stat(r: u32, c: u32) -> vec4<f32> {
    let at = r * p.c + c;
    if (p.hw == 1u) { return vec4<f32>(stats[at], stats[at + 1u], stats[at + 2u], stats[at + 3u]); }
    return vec4<f32>(stats[at]);
}

@compute @workgroup_size(WG)
fn batchnorm_backward_input4(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c * p.hw / 4u) { return; }
    // The batch statistics (training mode): mean, invstd, Σ dy, Σ dy·x̂ at rows 0-3 of stats.
    let c = first_channel(i);
    let m = f32(p.n * p.hw);
    let mean = per_stat(0u, c);
    let invstd = per_stat(1u, c);
    let xhat = (x4[i] - mean) * invstd;
    out4[i] = gamma4(c) * invstd * (dy4[i] - per_stat(2u, c) / m - xhat * per_stat(3u, c) / m);
}

// batchnorm_forward and batchnorm_backward_input one (sample, channel) plane per invocation, for
// BatchNorm2d (HW > 1): the channel's statistics and γ, β are read once per plane instead of once
// per value (each read is a loop over the software adapter's lanes), and no index is divided.
// The plane is walked as vec4s when HW is a multiple of 4 (the *4 kernels), else one value at a
// time. Only on the software adapter: a GPU wants the flat kernels' parallelism.

// (scale, shift) with y = x·scale + shift, for the plane's channel.
fn affine(c: u32) -> vec2<f32> {
    let mi = mean_invstd(c);
    let scale = mi.y * gamma[c];
    return vec2<f32>(scale, beta[c] - mi.x * scale);
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c) { return; }
    let a = affine(i % p.c);
    for (var j = i * p.hw; j < (i + 1u) * p.hw; j++) {
        out[j] = x[j] * a.x + a.y;
    }
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes4(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c) { return; }
    let a = affine(i % p.c);
    let q = p.hw / 4u;
    for (var j = i * q; j < (i + 1u) * q; j++) {
        out4[j] = x4[j] * a.x + a.y;
    }
}

// dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M) = dy·k + x·u + v per channel, with
// k = γ·invstd, u = −k·invstd·Σdy·x̂/M, v = −k·Σdy/M − mean·u.
fn backward_coefficients(c: u32) -> vec3<f32> {
    let m = f32(p.n * p.hw);
    let invstd = stats[p.c + c];
    let k = gamma[c] * invstd;
    let u = -k * invstd * stats[3u * p.c + c] / m;
    return vec3<f32>(k, u, -k * stats[2u * p.c + c] / m - stats[c] * u);
}

@compute @workgroup_size(WG)
fn batchnorm_backward_input_planes(@builtin(global_invocation_id) gid: vec3<u32>,
                                   @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c) { return; }
    let b = backward_coefficients(i % p.c);
    for (var j = i * p.hw; j < (i + 1u) * p.hw; j++) {
        out[j] = dy[j] * b.x + x[j] * b.y + b.z;
    }
}

@compute @workgroup_size(WG)
fn batchnorm_backward_input_planes4(@builtin(global_invocation_id) gid: vec3<u32>,
                                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c) { return; }
    let b = backward_coefficients(i % p.c);
    let q = p.hw / 4u;
    for (var j = i * q; j < (i + 1u) * q; j++) {
        out4[j] = dy4[j] * b.x + x4[j] * b.y + b.z;
    }
}
