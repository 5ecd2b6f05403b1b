// Optimizer updates over a block: every parameter tensor of a network in one buffer
// (`Block` on the host: each tensor at a multiple of 64 values, zeros between them), with its
// gradients and the optimizer's moments in buffers of the same layout. One launch updates the
// whole network, four values per invocation. Conventions follow PyTorch's torch.optim.
//
//   sgd_step      p, g, v        v ← μ v + g ;  p ← p − lr v            (μ = 0: plain SGD)
//   adam_step     p, g, m, v     m ← β1 m + (1−β1) g ; v ← β2 v + (1−β2) g²
//                                p ← p − lr (m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + eps)
//   rmsprop_step  p, g, v        v ← α v + (1−α) g² ;  p ← p − lr g / (sqrt(v) + eps)
//
// The gaps between tensors hold zeros in all four buffers, and every update keeps a zero
// parameter with a zero gradient and zero moments at zero, so they stay zero.
// The learning rate used is lr · max(0, 1 − counter[0] / decay_steps) when decay_steps > 0 (linear
// decay to zero over a run), lr otherwise.
// After any update, if clip > 0 the parameter is clamped to [−clip, clip] (WGAN weight clipping).
// Divergence watch: an invocation whose gradient or new parameter is NaN or infinite lowers
// health[0] to (step << 10) | tensor with an atomic min, so the host, which reads health with the
// losses, learns the first step (saturating at 2²²−1) and the lowest-numbered tensor (< 1024)
// that went bad, without any per-step readback. The tensor is found from `bounds` (each
// tensor's first value, then the block's length) only when a value is bad.
// The step count t lives on the GPU: t = counter[0] · t_mul + t_add + 1, so a whole training
// step (k discriminator updates, one generator update) runs without writing anything from the host.

struct Params {
    n: u32,       // values in the block (a multiple of 4)
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
    parts: u32,   // tensors in the block: bounds has parts + 1 entries
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> counter: array<u32>;
@group(0) @binding(3) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> s1: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> s2: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> health: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read> bounds: array<u32>;

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

fn finite4(x: vec4<f32>) -> bool {
    return all((bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) != vec4<u32>(0x7f800000u));
}

// The tensor that value `at` of the block belongs to: the last k with bounds[k] <= at, by
// bisection (10 halvings cover the 1,024 tensors a block may hold).
fn part_of(at: u32) -> u32 {
    var lo = 0u;
    var hi = p.parts;
    for (var s = 0u; s < 10u; s++) {
        let mid = (lo + hi) / 2u;
        if (hi - lo > 1u && bounds[mid] <= at) {
            lo = mid;
        } else if (hi - lo > 1u) {
            hi = mid;
        }
    }
    return lo;
}

// Stores four updated parameters (clamped when clipping), after the divergence watch has seen
// them and their gradients.
fn finish(i: u32, w: vec4<f32>, g: vec4<f32>) {
    if (!(finite4(w) && finite4(g))) {
        atomicMin(&health[0], (min(counter[0], 0x3fffffu) << 10u) | min(part_of(4u * i), 1023u));
    }
    if (p.clip > 0.0) {
        param[i] = clamp(w, vec4<f32>(-p.clip), vec4<f32>(p.clip));
    } else {
        param[i] = w;
    }
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let g = grad[i];
    let v = p.beta1 * s1[i] + g;
    s1[i] = v;
    finish(i, param[i] - lr_now() * v, g);
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let t = f32(counter[0] * p.t_mul + p.t_add + 1u);
    let g = grad[i];
    let m = p.beta1 * s1[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g * g;
    s1[i] = m;
    s2[i] = v;
    let mhat = m / one_minus_pow(p.ln_beta1, t);
    let vhat = v / one_minus_pow(p.ln_beta2, t);
    finish(i, param[i] - lr_now() * mhat / (sqrt(vhat) + vec4<f32>(p.eps)), g);
}

@compute @workgroup_size(WG)
fn rmsprop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let g = grad[i];
    let v = p.beta2 * s1[i] + (1.0 - p.beta2) * g * g;
    s1[i] = v;
    finish(i, param[i] - lr_now() * g / (sqrt(v) + vec4<f32>(p.eps)), g);
}
