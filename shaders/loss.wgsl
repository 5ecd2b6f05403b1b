// GAN losses on logits, in the numerically stable softplus form (SPEC.md §2).
//
// The discriminator sees one batch of logits l (n_fake + n_real): rows [0, n_fake) are generated
// samples (target 0), rows [n_fake, n_fake + n_real) are real samples (target 1). The generator
// phase sees only n_fake logits.
//
//   gan_loss_d   l (n_fake+n_real) -> dl = d(loss_D)/dl, and stats.d_loss, d_real (mean D(x)),
//                d_fake (mean D(G(z))), acc_real, acc_fake (accuracy on real, on generated)
//   gan_loss_g   l (n_fake)        -> dl = d(loss_G)/dl, and stats.g_loss
// The loss and its gradient read the same logits, so one pass gives both.
//
// kind: 0 = minimax, 1 = non-saturating, 2 = Wasserstein, 3 = hinge, 4 = least squares (src/loss.rs
// LossKind has the formulas; kinds 2-4 use the critic's output raw, no sigmoid).
//   D, kinds 0/1: mean softplus(−l_r) + mean softplus(l_f);  2: mean l_f − mean l_r;
//      3: mean relu(1 − l_r) + mean relu(1 + l_f);  4: ½ mean (l_r − 1)² + ½ mean l_f²
//   G, 0: −mean softplus(l_f);  1: mean softplus(−l_f);  2, 3: −mean l_f;  4: ½ mean (l_f − 1)²
// For kinds 2-4 the "D(x)" statistics are the mean raw outputs.
//
// Both are single-workgroup reductions (launch exactly one workgroup): each of the 256
// invocations sums a strided slice, writing each logit's gradient as it goes, then a tree
// reduction in workgroup memory.

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

// The discriminator's per-sample loss term for logit l of a real or a generated sample, and its
// derivative with respect to l (src/loss.rs: d_term).
fn d_term(l: f32, real: bool) -> vec2<f32> {
    switch p.kind {
        case 2u: { return select(vec2<f32>(l, 1.0), vec2<f32>(-l, -1.0), real); }
        case 3u: {
            if (real) { return vec2<f32>(max(0.0, 1.0 - l), select(0.0, -1.0, l < 1.0)); }
            return vec2<f32>(max(0.0, 1.0 + l), select(0.0, 1.0, l > -1.0));
        }
        case 4u: {
            if (real) { return vec2<f32>(0.5 * (l - 1.0) * (l - 1.0), l - 1.0); }
            return vec2<f32>(0.5 * l * l, l);
        }
        default: {
            if (real) { return vec2<f32>(softplus(-l), sigmoid(l) - 1.0); }
            return vec2<f32>(softplus(l), sigmoid(l));
        }
    }
}

// The generator's per-sample loss term for the logit of a generated sample, and its derivative.
fn g_term(l: f32) -> vec2<f32> {
    switch p.kind {
        case 0u: { return vec2<f32>(-softplus(l), -sigmoid(l)); }
        case 1u: { return vec2<f32>(softplus(-l), sigmoid(l) - 1.0); }
        case 4u: { return vec2<f32>(0.5 * (l - 1.0) * (l - 1.0), l - 1.0); }
        default: { return vec2<f32>(-l, -1.0); }
    }
}

// What "D(x)" means in the statistics: the probability for the two cross-entropy losses, the raw
// output for the others.
fn score(l: f32) -> f32 {
    return select(l, sigmoid(l), p.kind <= 1u);
}

// Sums over the fake rows: (loss term, D(G(z)), fake judged fake) ; over real rows likewise.
@compute @workgroup_size(256)
fn gan_loss_d(@builtin(local_invocation_index) t: u32) {
    var fake = vec4<f32>(0.0);
    var real = vec4<f32>(0.0);
    for (var i = t; i < p.n_fake; i += RED) {
        let l = logits[i];
        let d = d_term(l, false);
        out[i] = d.y / f32(p.n_fake);
        fake += vec4<f32>(d.x, score(l), select(0.0, 1.0, l < 0.0), 0.0);
    }
    for (var i = p.n_fake + t; i < p.n_fake + p.n_real; i += RED) {
        let l = logits[i];
        let d = d_term(l, true);
        out[i] = d.y / f32(p.n_real);
        real += vec4<f32>(d.x, score(l), select(0.0, 1.0, l > 0.0), 0.0);
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
fn gan_loss_g(@builtin(local_invocation_index) t: u32) {
    var acc = 0.0;
    for (var i = t; i < p.n_fake; i += RED) {
        let g = g_term(logits[i]);
        out[i] = g.y / f32(p.n_fake);
        acc += g.x;
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
