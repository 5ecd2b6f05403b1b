// GAN losses on logits, in the numerically stable softplus form (SPEC.md §2).
//
// The discriminator sees one batch of logits l (n_fake + n_real): rows [0, n_fake) are generated
// samples (target 0), rows [n_fake, n_fake + n_real) are real samples (target 1). The generator
// phase sees only n_fake logits.
//
//   gan_loss_d_backward  l (n_fake+n_real) -> dl (n_fake+n_real)   d(loss_D)/dl
//   gan_loss_g_backward  l (n_fake)        -> dl (n_fake)          d(loss_G)/dl
//   gan_loss_d_forward   l (n_fake+n_real) -> stats.d_loss, d_real (mean D(x)), d_fake (mean D(G(z))),
//                                           acc_real, acc_fake (accuracy on real, on generated)
//   gan_loss_g_forward   l (n_fake)        -> stats.g_loss
//
// kind: 0 = minimax, 1 = non-saturating, 2 = Wasserstein (critic output used raw; no sigmoid).
//   D, kinds 0/1: mean softplus(−l_r) + mean softplus(l_f);  kind 2: mean l_f − mean l_r
//   G, kind 0: −mean softplus(l_f);  kind 1: mean softplus(−l_f);  kind 2: −mean l_f
// For kind 2 the "D(x)" statistics are the mean raw critic outputs.
//
// The forward kernels are single-workgroup reductions (launch exactly one workgroup): each of the
// 256 invocations sums a strided slice, then a tree reduction in workgroup memory.

struct Params {
    n_fake: u32,
    n_real: u32,
    kind: u32,
    _pad: u32,
}


@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: Stats;

const RED: u32 = 256u;
var<workgroup> red: array<vec4<f32>, 256>;
var<workgroup> red2: array<f32, 256>;

fn softplus(a: f32) -> f32 {
    return max(a, 0.0) + log(1.0 + exp(-abs(a)));
}

@compute @workgroup_size(WG)
fn gan_loss_d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n_fake + p.n_real) { return; }
    let l = logits[i];
    if (i < p.n_fake) {
        let g = select(sigmoid(l), 1.0, p.kind == 2u);
        out[i] = g / f32(p.n_fake);
    } else {
        let g = select(sigmoid(l) - 1.0, -1.0, p.kind == 2u);
        out[i] = g / f32(p.n_real);
    }
}

@compute @workgroup_size(WG)
fn gan_loss_g_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n_fake) { return; }
    let s = sigmoid(logits[i]);
    var g: f32;
    switch p.kind {
        case 0u: { g = -s; }
        case 1u: { g = s - 1.0; }
        default: { g = -1.0; }
    }
    out[i] = g / f32(p.n_fake);
}

// Sums over the fake rows: (loss term, D(G(z)), fake judged fake) ; over real rows likewise.
@compute @workgroup_size(256)
fn gan_loss_d_forward(@builtin(local_invocation_index) t: u32) {
    var fake = vec4<f32>(0.0);
    var real = vec4<f32>(0.0);
    for (var i = t; i < p.n_fake; i += RED) {
        let l = logits[i];
        if (p.kind == 2u) {
            fake += vec4<f32>(l, l, select(0.0, 1.0, l < 0.0), 0.0);
        } else {
            fake += vec4<f32>(softplus(l), sigmoid(l), select(0.0, 1.0, l < 0.0), 0.0);
        }
    }
    for (var i = p.n_fake + t; i < p.n_fake + p.n_real; i += RED) {
        let l = logits[i];
        if (p.kind == 2u) {
            real += vec4<f32>(-l, l, select(0.0, 1.0, l > 0.0), 0.0);
        } else {
            real += vec4<f32>(softplus(-l), sigmoid(l), select(0.0, 1.0, l > 0.0), 0.0);
        }
    }
    red[t] = fake;
    red2[t] = 0.0;
    workgroupBarrier();
    for (var s = RED / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    let fake_sum = red[0];
    workgroupBarrier();
    red[t] = real;
    workgroupBarrier();
    for (var s = RED / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        let real_sum = red[0];
        let nf = f32(max(p.n_fake, 1u));
        let nr = f32(max(p.n_real, 1u));
        stats.d_loss = fake_sum.x / nf + real_sum.x / nr;
        stats.d_real = real_sum.y / nr;
        stats.d_fake = fake_sum.y / nf;
        stats.acc_real = real_sum.z / nr;
        stats.acc_fake = fake_sum.z / nf;
    }
}

@compute @workgroup_size(256)
fn gan_loss_g_forward(@builtin(local_invocation_index) t: u32) {
    var acc = 0.0;
    for (var i = t; i < p.n_fake; i += RED) {
        let l = logits[i];
        switch p.kind {
            case 0u: { acc -= softplus(l); }
            case 1u: { acc += softplus(-l); }
            default: { acc -= l; }
        }
    }
    red2[t] = acc;
    workgroupBarrier();
    for (var s = RED / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red2[t] += red2[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        stats.g_loss = red2[0] / f32(max(p.n_fake, 1u));
    }
}
