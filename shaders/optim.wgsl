// Optimizer updates, one invocation per parameter. Conventions follow PyTorch's torch.optim.
//
//   sgd_step      p, g, v        v ← μ v + g ;  p ← p − lr v            (μ = 0: plain SGD)
//   adam_step     p, g, m, v     m ← β1 m + (1−β1) g ; v ← β2 v + (1−β2) g²
//                                p ← p − lr (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + eps)
//   rmsprop_step  p, g, v        v ← α v + (1−α) g² ;  p ← p − lr g / (sqrt(v) + eps)
//
// The learning rate used is lr · max(0, 1 − counter[0] / decay_steps) when decay_steps > 0 (linear
// decay to zero over a run), lr otherwise.
// After any update, if clip > 0 the parameter is clamped to [−clip, clip] (WGAN weight clipping).
// Divergence watch: an invocation whose gradient or new parameter is NaN or infinite lowers
// health[0] to (step << 10) | tag with an atomic min, so the host, which reads health with the
// losses, learns the first step (saturating at 2²²−1) and the lowest-numbered tensor (tag, < 1024)
// that went bad, without any per-step readback.
// The step count t lives on the GPU: t = counter[0] · t_mul + t_add + 1, so a whole training
// step (k discriminator updates, one generator update) runs without writing anything from the host.

struct Params {
    n: u32,
    t_mul: u32,
    t_add: u32,
    decay_steps: u32,
    lr: f32,
    beta1: f32,   // Adam β1, SGD momentum μ
    beta2: f32,   // Adam β2, RMSprop α
    eps: f32,
    clip: f32,
    ln_beta1: f32,  // ln β1 and ln β2, computed on the host in f64 (see one_minus_pow)
    ln_beta2: f32,
    tag: u32,     // this tensor's number, for the divergence watch
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> counter: array<u32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> s1: array<f32>;
@group(0) @binding(5) var<storage, read_write> s2: array<f32>;
@group(0) @binding(6) var<storage, read_write> health: array<atomic<u32>>;

// 1 − βᵗ = 1 − e^(−a) with a = −t ln β. For β close to 1 and small t, pow(β, t) through exp2/log2
// loses most of its digits in the subtraction; the Taylor series of 1 − e^(−a) keeps them.
fn one_minus_pow(ln_beta: f32, t: f32) -> f32 {
    let a = -t * ln_beta;
    if (a < 0.1) {
        return a * (1.0 - a / 2.0 * (1.0 - a / 3.0 * (1.0 - a / 4.0 * (1.0 - a / 5.0))));
    }
    return 1.0 - exp(-a);
}

fn lr_now() -> f32 {
    if (p.decay_steps == 0u) {
        return p.lr;
    }
    return p.lr * max(0.0, 1.0 - f32(counter[0]) / f32(p.decay_steps));
}

fn finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// The divergence watch: records this step and tensor unless `ok`.
fn watch(ok: bool) {
    if (!ok) {
        atomicMin(&health[0], (min(counter[0], 0x3fffffu) << 10u) | min(p.tag, 1023u));
    }
}

fn finish(i: u32, v: f32) {
    watch(finite(v) && finite(grad[i]));
    if (p.clip > 0.0) {
        param[i] = clamp(v, -p.clip, p.clip);
    } else {
        param[i] = v;
    }
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    let v = p.beta1 * s1[i] + grad[i];
    s1[i] = v;
    finish(i, param[i] - lr_now() * v);
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    let t = f32(counter[0] * p.t_mul + p.t_add + 1u);
    let g = grad[i];
    let m = p.beta1 * s1[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g * g;
    s1[i] = m;
    s2[i] = v;
    let mhat = m / one_minus_pow(p.ln_beta1, t);
    let vhat = v / one_minus_pow(p.ln_beta2, t);
    finish(i, param[i] - lr_now() * mhat / (sqrt(vhat) + p.eps));
}

@compute @workgroup_size(WG)
fn rmsprop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) { return; }
    let g = grad[i];
    let v = p.beta2 * s1[i] + (1.0 - p.beta2) * g * g;
    s1[i] = v;
    finish(i, param[i] - lr_now() * g / (sqrt(v) + p.eps));
}

// adam_step four parameters at a time (a tensor whose length is a multiple of 4): the same
// arithmetic per component, one storage access per vec4 instead of per value (on the software
// adapter each access is a loop over the 8 SIMD lanes).
@group(0) @binding(7) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> param4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> v4: array<vec4<f32>>;

fn finite4(x: vec4<f32>) -> bool {
    return all((bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) != vec4<u32>(0x7f800000u));
}

@compute @workgroup_size(WG)
fn adam_step4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let t = f32(counter[0] * p.t_mul + p.t_add + 1u);
    let g = grad4[i];
    let m = p.beta1 * m4[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * v4[i] + (1.0 - p.beta2) * g * g;
    m4[i] = m;
    v4[i] = v;
    let mhat = m / one_minus_pow(p.ln_beta1, t);
    let vhat = v / one_minus_pow(p.ln_beta2, t);
    var w = param4[i] - lr_now() * mhat / (sqrt(vhat) + vec4<f32>(p.eps));
    watch(finite4(w) && finite4(g));
    if (p.clip > 0.0) { w = clamp(w, vec4<f32>(-p.clip), vec4<f32>(p.clip)); }
    param4[i] = w;
}
