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
//
//   adam_multi4   Adam for up to 7 tensors in one launch (their lengths multiples of 4): tensor k
//                 in bindings 11 + 4k .. 14 + 4k (param, grad, m, v), its invocations from
//                 starts[k] (a multiple of WG, so that a workgroup updates one tensor), lens[k]
//                 vec4s, tags[k] in the divergence watch; n = the tensors bound.

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
    // adam_multi4 only (see above); starts[n] = the invocations in all.
    starts: array<vec4<u32>, 2>,
    lens: array<vec4<u32>, 2>,
    tags: array<vec4<u32>, 2>,
}

// Entry k of one of the uniform's 8-entry tables.
fn entry8(t: array<vec4<u32>, 2>, k: u32) -> u32 {
    return t[k / 4u][k % 4u];
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

// The divergence watch: records this step and tensor `tag` unless `ok`.
fn watch_tag(ok: bool, tag: u32) {
    if (!ok) {
        atomicMin(&health[0], (min(counter[0], 0x3fffffu) << 10u) | min(tag, 1023u));
    }
}

fn watch(ok: bool) {
    watch_tag(ok, p.tag);
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

// One Adam update of four parameters: the new parameters, moments, and whether the gradient and
// the (unclipped) new parameters are finite.
struct Adam4 {
    w: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
    ok: bool,
}

fn adam4(w0: vec4<f32>, g: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> Adam4 {
    let t = f32(counter[0] * p.t_mul + p.t_add + 1u);
    let m = p.beta1 * m0 + (1.0 - p.beta1) * g;
    let v = p.beta2 * v0 + (1.0 - p.beta2) * g * g;
    let mhat = m / one_minus_pow(p.ln_beta1, t);
    let vhat = v / one_minus_pow(p.ln_beta2, t);
    var w = w0 - lr_now() * mhat / (sqrt(vhat) + vec4<f32>(p.eps));
    let ok = finite4(w) && finite4(g);
    if (p.clip > 0.0) { w = clamp(w, vec4<f32>(-p.clip), vec4<f32>(p.clip)); }
    return Adam4(w, m, v, ok);
}

@compute @workgroup_size(WG)
fn adam_step4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n / 4u) { return; }
    let r = adam4(param4[i], grad4[i], m4[i], v4[i]);
    m4[i] = r.m;
    v4[i] = r.v;
    watch(r.ok);
    param4[i] = r.w;
}

// adam_multi4's tensors (unused slots are bound to a used tensor's buffers and never selected).
// Storage pointers cannot be function arguments in WGSL, so each slot has its own case, which
// the workgroup's tensor selects; on the software adapter the other cases run masked off, which
// costs less than a launch of their own for the small tensors the host groups here.
@group(0) @binding(11) var<storage, read_write> mp0: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> mg0: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> mm0: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> mv0: array<vec4<f32>>;
@group(0) @binding(15) var<storage, read_write> mp1: array<vec4<f32>>;
@group(0) @binding(16) var<storage, read> mg1: array<vec4<f32>>;
@group(0) @binding(17) var<storage, read_write> mm1: array<vec4<f32>>;
@group(0) @binding(18) var<storage, read_write> mv1: array<vec4<f32>>;
@group(0) @binding(19) var<storage, read_write> mp2: array<vec4<f32>>;
@group(0) @binding(20) var<storage, read> mg2: array<vec4<f32>>;
@group(0) @binding(21) var<storage, read_write> mm2: array<vec4<f32>>;
@group(0) @binding(22) var<storage, read_write> mv2: array<vec4<f32>>;
@group(0) @binding(23) var<storage, read_write> mp3: array<vec4<f32>>;
@group(0) @binding(24) var<storage, read> mg3: array<vec4<f32>>;
@group(0) @binding(25) var<storage, read_write> mm3: array<vec4<f32>>;
@group(0) @binding(26) var<storage, read_write> mv3: array<vec4<f32>>;
@group(0) @binding(27) var<storage, read_write> mp4: array<vec4<f32>>;
@group(0) @binding(28) var<storage, read> mg4: array<vec4<f32>>;
@group(0) @binding(29) var<storage, read_write> mm4: array<vec4<f32>>;
@group(0) @binding(30) var<storage, read_write> mv4: array<vec4<f32>>;
@group(0) @binding(31) var<storage, read_write> mp5: array<vec4<f32>>;
@group(0) @binding(32) var<storage, read> mg5: array<vec4<f32>>;
@group(0) @binding(33) var<storage, read_write> mm5: array<vec4<f32>>;
@group(0) @binding(34) var<storage, read_write> mv5: array<vec4<f32>>;
@group(0) @binding(35) var<storage, read_write> mp6: array<vec4<f32>>;
@group(0) @binding(36) var<storage, read> mg6: array<vec4<f32>>;
@group(0) @binding(37) var<storage, read_write> mm6: array<vec4<f32>>;
@group(0) @binding(38) var<storage, read_write> mv6: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn adam_multi4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    var slot = 0u;
    for (var k = 1u; k < 8u; k++) {
        slot += u32(i >= entry8(p.starts, k));
    }
    if (slot >= p.n) { return; }
    let j = i - entry8(p.starts, slot);
    if (j >= entry8(p.lens, slot)) { return; }
    let tag = entry8(p.tags, slot);
    switch slot {
        case 0u: {
            let r = adam4(mp0[j], mg0[j], mm0[j], mv0[j]);
            mm0[j] = r.m;
            mv0[j] = r.v;
            watch_tag(r.ok, tag);
            mp0[j] = r.w;
        }
        case 1u: {
            let r = adam4(mp1[j], mg1[j], mm1[j], mv1[j]);
            mm1[j] = r.m;
            mv1[j] = r.v;
            watch_tag(r.ok, tag);
            mp1[j] = r.w;
        }
        case 2u: {
            let r = adam4(mp2[j], mg2[j], mm2[j], mv2[j]);
            mm2[j] = r.m;
            mv2[j] = r.v;
            watch_tag(r.ok, tag);
            mp2[j] = r.w;
        }
        case 3u: {
            let r = adam4(mp3[j], mg3[j], mm3[j], mv3[j]);
            mm3[j] = r.m;
            mv3[j] = r.v;
            watch_tag(r.ok, tag);
            mp3[j] = r.w;
        }
        case 4u: {
            let r = adam4(mp4[j], mg4[j], mm4[j], mv4[j]);
            mm4[j] = r.m;
            mv4[j] = r.v;
            watch_tag(r.ok, tag);
            mp4[j] = r.w;
        }
        case 5u: {
            let r = adam4(mp5[j], mg5[j], mm5[j], mv5[j]);
            mm5[j] = r.m;
            mv5[j] = r.v;
            watch_tag(r.ok, tag);
            mp5[j] = r.w;
        }
        case 6u: {
            let r = adam4(mp6[j], mg6[j], mm6[j], mv6[j]);
            mm6[j] = r.m;
            mv6[j] = r.v;
            watch_tag(r.ok, tag);
            mp6[j] = r.w;
        }
        default: {}
    }
}
