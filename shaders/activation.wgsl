// Elementwise activations and their backward kernels. Every backward takes the forward *input* x
// (not the output) and the upstream gradient dy, and writes dx; recomputing tanh/sigmoid from x
// costs less than keeping a second buffer alive.
//
//   relu_forward        x (n) -> y (n)     y = max(x, 0)
//   relu_backward       x, dy -> dx        dx = dy · [x > 0]
//   leaky_relu_forward  x -> y             y = x if x > 0 else slope·x
//   leaky_relu_backward x, dy -> dx        dx = dy if x > 0 else slope·dy
//   tanh_forward        x -> y             y = tanh x
//   tanh_backward       x, dy -> dx        dx = dy / cosh² x   (= 1 − tanh² x without cancellation)
//   sigmoid_forward     x -> y             y = σ(x), evaluated without overflow for either sign
//   sigmoid_backward    x, dy -> dx        dx = dy σ(x) σ(−x)  (= σ(1 − σ) without cancellation)
//   copy_range          x -> out           out[dst + i] = x[src + i], i < n (moves rows between
//                                          buffers inside a compute pass, where copy commands can't go)

struct Params {
    n: u32,       // number of elements
    slope: f32,   // LeakyReLU negative slope
    src: u32,     // copy_range: first element read
    dst: u32,     // copy_range: first element written
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// tanh(±15) is ±1 in f32; clamping first keeps drivers that evaluate tanh through exp(2x) from
// producing inf/inf.
fn tanh_clamped(v: f32) -> f32 {
    return tanh(clamp(v, -15.0, 15.0));
}

@compute @workgroup_size(WG)
fn relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = max(x[i], 0.0);
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = select(0.0, dy[i], x[i] > 0.0);
}

@compute @workgroup_size(WG)
fn leaky_relu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    let v = x[i];
    out[i] = select(p.slope * v, v, v > 0.0);
}

@compute @workgroup_size(WG)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    let g = dy[i];
    out[i] = select(p.slope * g, g, x[i] > 0.0);
}

@compute @workgroup_size(WG)
fn tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = tanh_clamped(x[i]);
}

@compute @workgroup_size(WG)
fn tanh_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    // cosh(40)² ≈ 1.4e34 still fits in f32; beyond it the derivative is below f32's resolution.
    let c = cosh(clamp(x[i], -40.0, 40.0));
    out[i] = dy[i] / (c * c);
}

@compute @workgroup_size(WG)
fn sigmoid_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = sigmoid(x[i]);
}

@compute @workgroup_size(WG)
fn sigmoid_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[i] = dy[i] * sigmoid(x[i]) * sigmoid(-x[i]);
}

@compute @workgroup_size(WG)
fn copy_range(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    out[p.dst + i] = x[p.src + i];
}

// The same four values at a time, for a length that is a multiple of 4 (the host's choice): on
// the software adapter each storage access costs a loop over the 8 SIMD lanes, per value or per
// vec4, so these run in about half the time of the scalar kernels above on R2's activations.
@group(0) @binding(4) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out4: array<vec4<f32>>;

fn sigmoid4(v: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(sigmoid(v.x), sigmoid(v.y), sigmoid(v.z), sigmoid(v.w));
}

@compute @workgroup_size(WG)
fn relu_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    out4[i] = max(x4[i], vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn relu_backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    out4[i] = select(vec4<f32>(0.0), dy4[i], x4[i] > vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn leaky_relu_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let v = x4[i];
    out4[i] = select(p.slope * v, v, v > vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn leaky_relu_backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let g = dy4[i];
    out4[i] = select(p.slope * g, g, x4[i] > vec4<f32>(0.0));
}

@compute @workgroup_size(WG)
fn tanh_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    out4[i] = tanh(clamp(x4[i], vec4<f32>(-15.0), vec4<f32>(15.0)));
}

@compute @workgroup_size(WG)
fn tanh_backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let c = cosh(clamp(x4[i], vec4<f32>(-40.0), vec4<f32>(40.0)));
    out4[i] = dy4[i] / (c * c);
}

@compute @workgroup_size(WG)
fn sigmoid_forward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    out4[i] = sigmoid4(x4[i]);
}

@compute @workgroup_size(WG)
fn sigmoid_backward4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let v = x4[i];
    out4[i] = dy4[i] * sigmoid4(v) * sigmoid4(-v);
}
