// Batch normalisation over the channels of an (N, C, HW) tensor: HW = 1 is BatchNorm1d over
// features, HW = H·W is BatchNorm2d. Each channel is normalised with statistics over its N·HW values.
//
//   batchnorm_stats_partial    x -> part[split, 0, c] = the mean of the split's tile of channel c,
//                              part[split, 1, c] = Σ (x − that mean)² over the tile (two loops
//                              over the tile, which is in cache for the second)
//   batchnorm_stats_finish     part -> stats[0..C) = mean, stats[C..2C) = 1/√(var + eps) (biased
//                              variance), the tiles' centred sums combined exactly (Chan et al.:
//                              M2 = Σ M2ₜ + nₜ·(meanₜ − mean)²); with flag 4 also running (mean C,
//                              var C) ← (1−m)·running + m·batch, the running variance taking the
//                              unbiased batch variance (as PyTorch)
//   batchnorm_forward          x, γ, β, stats or running -> y = x·scale + shift per channel,
//                              scale = invstd·γ, shift = β − mean·scale
//   *_act                      the same, also storing act = ReLU or LeakyReLU(y) (the activation
//                              after the layer, fused: src/nn/gpu_net.rs)
//   batchnorm_backward_partial x, dy, stats -> part[split, 0, c] = Σ dy, part[split, 1, c] = Σ dy·x̂
//   batchnorm_backward_finish  part -> stats[2C..3C) = Σ dy, stats[3C..4C) = Σ dy·x̂;
//                              with flag 8 also dγ = Σ dy·x̂ (out) and dβ = Σ dy (out2)
//   batchnorm_backward_input   x, dy, γ, stats -> dx = γ·invstd·(dy − Σdy/M − x̂·Σdy·x̂/M), M = N·HW
//
// With flag 32 the backward kernels take dy at the output of the ReLU or LeakyReLU after the
// layer (flag 64: a ReLU; else the slope `slope`) and use dy·act'(y) in its place, y recomputed
// from x exactly as the forward kernels computed it: the activation's backward pass and its
// launch disappear, and no kernel reads y.
//
// Training mode uses the batch statistics and differentiates through them (the full backward);
// evaluation mode (flag 1 clear) uses the running statistics and is only run forward.
//
// Per-channel sums are split reductions: a tile is N_PER samples × P_PER positions of one channel,
// summed sequentially by one invocation into its slot of `part`; the finishing kernels add the
// slots. The host sizes the tiles (src/gpu/budget.rs) so that no invocation loops more than a
// bounded number of times, whatever N and HW: Mesa's llvmpipe silently stops every loop of an
// invocation after 65,535 iterations in all. The variance is a two-pass one within each tile (its
// mean, then its centred squares) combined exactly across tiles, so that the statistics take one
// partial launch and one finishing launch.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    // bit 0: batch statistics (training) rather than running ones; bit 1: add parameter gradients
    // into dγ/dβ instead of overwriting them; bit 2: update the running statistics;
    // bit 3: write the parameter gradients at all; bit 5: the backward kernels' dy is at the
    // output of the activation after the layer; bit 6: that activation is a ReLU.
    flags: u32,
    eps: f32,
    momentum: f32,
    // Split reductions: samples and positions per tile, tiles along the positions.
    n_per: u32,
    p_per: u32,
    p_splits: u32,
    // The fused LeakyReLU's negative slope.
    slope: f32,
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
// The fused activation's output (the *_act entries).
@group(0) @binding(13) var<storage, read_write> act: array<f32>;
@group(0) @binding(14) var<storage, read_write> act4: array<vec4<f32>>;

const PLAIN: u32 = 0u;
const ACT: u32 = 1u;
const FUSED_ACT: u32 = 32u;
const RELU: u32 = 64u;

fn relu() -> bool {
    return (p.flags & RELU) != 0u;
}

// The gradient g at the fused activation's output taken to its input y (flag 32), else g.
fn through_act(g: f32, y: f32) -> f32 {
    return select(g, leaky_grad(g, y, p.slope, relu()), (p.flags & FUSED_ACT) != 0u);
}

fn through_act4(g: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    return select(g, leaky_grad4(g, y, p.slope, relu()), (p.flags & FUSED_ACT) != 0u);
}

fn splits() -> u32 {
    return p.p_splits * ((p.n + p.n_per - 1u) / p.n_per);
}

// The tile of split `split`: samples [t.x, t.y), positions [t.z, t.w).
fn tile(split: u32) -> vec4<u32> {
    let n0 = (split / p.p_splits) * p.n_per;
    let i0 = (split % p.p_splits) * p.p_per;
    return vec4<u32>(n0, min(n0 + p.n_per, p.n), i0, min(i0 + p.p_per, p.hw));
}

// How many values the tile of `split` holds.
fn tile_count(split: u32) -> f32 {
    let t = tile(split);
    return f32((t.y - t.x) * (t.w - t.z));
}

@compute @workgroup_size(WG)
fn batchnorm_stats_partial(@builtin(global_invocation_id) gid: vec3<u32>,
                           @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    let c = idx % p.c;
    let split = idx / p.c;
    if (split >= splits()) { return; }
    let t = tile(split);
    var s = 0.0;
    for (var nn = t.x; nn < t.y; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = t.z; i < t.w; i++) {
            s += x[base + i];
        }
    }
    let mean = s / tile_count(split);
    var q = 0.0;
    for (var nn = t.x; nn < t.y; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = t.z; i < t.w; i++) {
            let d = x[base + i] - mean;
            q += d * d;
        }
    }
    part[(2u * split) * p.c + c] = mean;
    part[(2u * split + 1u) * p.c + c] = q;
}

@compute @workgroup_size(WG)
fn batchnorm_stats_finish(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.c) { return; }
    let m = f32(p.n * p.hw);
    var s = 0.0;
    for (var k = 0u; k < splits(); k++) { s += tile_count(k) * part[2u * k * p.c + c]; }
    let mean = s / m;
    var q = 0.0;
    for (var k = 0u; k < splits(); k++) {
        let d = part[2u * k * p.c + c] - mean;
        q += part[(2u * k + 1u) * p.c + c] + tile_count(k) * d * d;
    }
    stats[c] = mean;
    stats[p.c + c] = 1.0 / sqrt(q / m + p.eps);
    if ((p.flags & 4u) != 0u) {
        running[c] = (1.0 - p.momentum) * running[c] + p.momentum * mean;
        running[p.c + c] = (1.0 - p.momentum) * running[p.c + c] + p.momentum * (q / (m - 1.0));
    }
}

// (scale, shift) with y = x·scale + shift for channel c, from the batch statistics. The backward
// kernels (training mode only; they do not bind the running statistics) recompute y with it,
// and the forward kernels take it in training mode (`affine`), so y has the same bits in both.
fn batch_affine(c: u32) -> vec2<f32> {
    let scale = stats[p.c + c] * gamma[c];
    return vec2<f32>(scale, beta[c] - stats[c] * scale);
}

// The same in the current mode (running statistics in evaluation).
fn affine(c: u32) -> vec2<f32> {
    if ((p.flags & 1u) != 0u) { return batch_affine(c); }
    let scale = 1.0 / sqrt(running[p.c + c] + p.eps) * gamma[c];
    return vec2<f32>(scale, beta[c] - running[c] * scale);
}

fn forward(i: u32, mode: u32) {
    if (i >= p.n * p.c * p.hw) { return; }
    let a = affine((i / p.hw) % p.c);
    let y = x[i] * a.x + a.y;
    out[i] = y;
    if (mode == ACT) {
        act[i] = leaky(y, p.slope, relu());
    }
}

@compute @workgroup_size(WG)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
    forward(flat_index(gid, nwg), PLAIN);
}

@compute @workgroup_size(WG)
fn batchnorm_forward_act(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    forward(flat_index(gid, nwg), ACT);
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
    let a = batch_affine(c);
    var s1 = 0.0;
    var s2 = 0.0;
    for (var nn = t.x; nn < t.y; nn++) {
        let base = (nn * p.c + c) * p.hw;
        for (var i = t.z; i < t.w; i++) {
            let v = x[base + i];
            let g = through_act(dy[base + i], v * a.x + a.y);
            s1 += g;
            s2 += g * (v - mean) * invstd;
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
    let v = x[i];
    let a = batch_affine(c);
    let xhat = (v - stats[c]) * invstd;
    let g = through_act(dy[i], v * a.x + a.y);
    out[i] = gamma[c] * invstd * (g - stats[2u * p.c + c] / m - xhat * stats[3u * p.c + c] / m);
}

// batchnorm_forward and batchnorm_backward_input four values at a time, when the four share their
// statistics' loads: HW a multiple of 4 (one channel; BatchNorm2d on even planes) or HW = 1 with
// C a multiple of 4 (four consecutive channels; BatchNorm1d). Each storage access costs the
// software adapter a loop over its 8 lanes per value or per vec4 (see conv_gemm.wgsl).
@group(0) @binding(10) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> out4: array<vec4<f32>>;

// The channel of element 4·i, and whether the four elements are four channels (HW = 1).
fn first_channel(i: u32) -> u32 {
    return ((4u * i) / p.hw) % p.c;
}

// γ as a per-channel vector from channel c: c..c+3 for HW = 1, else c four times.
fn gamma4(c: u32) -> vec4<f32> {
    if (p.hw == 1u) { return vec4<f32>(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]); }
    return vec4<f32>(gamma[c]);
}

// (scale, shift) of the four elements from 4·i, from `affine` (batch: `batch_affine`).
struct Affine4 {
    scale: vec4<f32>,
    shift: vec4<f32>,
}

fn gather4(a: vec2<f32>, b: vec2<f32>, d: vec2<f32>, f: vec2<f32>) -> Affine4 {
    return Affine4(vec4<f32>(a.x, b.x, d.x, f.x), vec4<f32>(a.y, b.y, d.y, f.y));
}

fn affine4(i: u32) -> Affine4 {
    let c = first_channel(i);
    if (p.hw == 1u) { return gather4(affine(c), affine(c + 1u), affine(c + 2u), affine(c + 3u)); }
    let a = affine(c);
    return gather4(a, a, a, a);
}

fn batch_affine4(i: u32) -> Affine4 {
    let c = first_channel(i);
    if (p.hw == 1u) { return gather4(batch_affine(c), batch_affine(c + 1u), batch_affine(c + 2u), batch_affine(c + 3u)); }
    let a = batch_affine(c);
    return gather4(a, a, a, a);
}

fn forward4(i: u32, mode: u32) {
    if (i >= p.n * p.c * p.hw / 4u) { return; }
    let a = affine4(i);
    let y = x4[i] * a.scale + a.shift;
    out4[i] = y;
    if (mode == ACT) {
        act4[i] = leaky4(y, p.slope, relu());
    }
}

@compute @workgroup_size(WG)
fn batchnorm_forward4(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>) {
    forward4(flat_index(gid, nwg), PLAIN);
}

@compute @workgroup_size(WG)
fn batchnorm_forward4_act(@builtin(global_invocation_id) gid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
    forward4(flat_index(gid, nwg), ACT);
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
    let v = x4[i];
    let a = batch_affine4(i);
    let xhat = (v - mean) * invstd;
    let g = through_act4(dy4[i], v * a.scale + a.shift);
    out4[i] = gamma4(c) * invstd * (g - per_stat(2u, c) / m - xhat * per_stat(3u, c) / m);
}

// batchnorm_forward and batchnorm_backward_input one (sample, channel) plane per invocation, for
// BatchNorm2d (HW > 1): the channel's statistics and γ, β are read once per plane instead of once
// per value (each read is a loop over the software adapter's lanes), and no index is divided.
// The plane is walked as vec4s when HW is a multiple of 4 (the *4 kernels), else one value at a
// time. Only on the software adapter: a GPU wants the flat kernels' parallelism.

fn forward_planes(i: u32, mode: u32) {
    if (i >= p.n * p.c) { return; }
    let a = affine(i % p.c);
    for (var j = i * p.hw; j < (i + 1u) * p.hw; j++) {
        let y = x[j] * a.x + a.y;
        out[j] = y;
        if (mode == ACT) {
            act[j] = leaky(y, p.slope, relu());
        }
    }
}

fn forward_planes4(i: u32, mode: u32) {
    if (i >= p.n * p.c) { return; }
    let a = affine(i % p.c);
    let q = p.hw / 4u;
    for (var j = i * q; j < (i + 1u) * q; j++) {
        let y = x4[j] * a.x + a.y;
        out4[j] = y;
        if (mode == ACT) {
            act4[j] = leaky4(y, p.slope, relu());
        }
    }
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes(@builtin(global_invocation_id) gid: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_planes(flat_index(gid, nwg), PLAIN);
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes_act(@builtin(global_invocation_id) gid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_planes(flat_index(gid, nwg), ACT);
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes4(@builtin(global_invocation_id) gid: vec3<u32>,
                             @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_planes4(flat_index(gid, nwg), PLAIN);
}

@compute @workgroup_size(WG)
fn batchnorm_forward_planes4_act(@builtin(global_invocation_id) gid: vec3<u32>,
                                 @builtin(num_workgroups) nwg: vec3<u32>) {
    forward_planes4(flat_index(gid, nwg), ACT);
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
    let a = batch_affine(i % p.c);
    for (var j = i * p.hw; j < (i + 1u) * p.hw; j++) {
        let v = x[j];
        out[j] = through_act(dy[j], v * a.x + a.y) * b.x + v * b.y + b.z;
    }
}

@compute @workgroup_size(WG)
fn batchnorm_backward_input_planes4(@builtin(global_invocation_id) gid: vec3<u32>,
                                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.c) { return; }
    let b = backward_coefficients(i % p.c);
    let a = batch_affine(i % p.c);
    let q = p.hw / 4u;
    for (var j = i * q; j < (i + 1u) * q; j++) {
        let v = x4[j];
        out4[j] = through_act4(dy4[j], v * a.x + a.y) * b.x + v * b.y + b.z;
    }
}
