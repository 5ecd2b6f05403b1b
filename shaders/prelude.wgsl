// Shared by every kernel file: prepended to each one when its pipelines are built
// (src/gpu/kernel.rs::source), so the files below use these without defining them.

// Invocations per workgroup of the element-wise and register-blocked kernels, a pipeline-override
// constant: the host reads the resolved value back (Kernel::workgroup_x) when it sizes a launch.
override WG: u32 = 64u;

// The flat invocation index of a launch of more than 65,535 workgroups, which the host folds onto
// x and y (src/gpu/kernel.rs::grid).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Four consecutive indices from `first`, clamped to the last valid one (count − 1): reads of a
// block that hangs over the edge stay in bounds, and the block's stores are guarded instead.
fn clamp4(first: u32, count: u32) -> vec4<u32> {
    return min(vec4<u32>(first, first + 1u, first + 2u, first + 3u), vec4<u32>(count - 1u));
}

// What a training step reports (written by loss.wgsl and penalty.wgsl); the host's `loss::Stats`
// has the same fields at the same offsets (checked by src/loss.rs::check_stats_layout).
struct Stats {
    d_loss: f32,
    d_real: f32,
    d_fake: f32,
    acc_real: f32,
    acc_fake: f32,
    g_loss: f32,
    penalty: f32,
}

// σ(v) without overflow for either sign.
fn sigmoid(v: f32) -> f32 {
    if (v >= 0.0) {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

// For a convolution's input gradient (conv.wgsl, conv_gemm.wgsl's col2im): the first tap k < step
// with k·dil ≡ i (mod stride), or `none` when no tap lands (possible only when the dilation and
// the stride share a factor).
fn first_tap(i: u32, dil: u32, stride: u32, step: u32, none: u32) -> u32 {
    let r = i % stride;
    for (var k = 0u; k < step; k++) {
        if ((k * dil) % stride == r) { return k; }
    }
    return none;
}
