//! The CPU reference: one plain function per GPU kernel, with the same name and meaning. These are
//! the specification the WGSL is tested against; they favour being obviously right over speed
//! (reductions accumulate in f64).
//!
//! Gradients are overwritten, never accumulated, as on the GPU.

use crate::rng;

mod conv;
pub use conv::*;

// ---------------------------------------------------------------- linear

/// x (n,inp), w (out,inp), b (out) -> y (n,out);  y = x Wᵀ + b
pub fn linear_forward(x: &[f32], w: &[f32], b: &[f32], n: usize, inp: usize, out: usize) -> Vec<f32> {
    let mut y = vec![0.0; n * out];
    for r in 0..n {
        for o in 0..out {
            let acc: f64 = (0..inp).map(|i| x[r * inp + i] as f64 * w[o * inp + i] as f64).sum();
            y[r * out + o] = (acc + b[o] as f64) as f32;
        }
    }
    y
}

/// dy (n,out), w (out,inp) -> dx (n,inp);  dx = dy W
pub fn linear_backward_input(dy: &[f32], w: &[f32], n: usize, inp: usize, out: usize) -> Vec<f32> {
    let mut dx = vec![0.0; n * inp];
    for r in 0..n {
        for i in 0..inp {
            let acc: f64 = (0..out).map(|o| dy[r * out + o] as f64 * w[o * inp + i] as f64).sum();
            dx[r * inp + i] = acc as f32;
        }
    }
    dx
}

/// dy (n,out), x (n,inp) -> dw (out,inp);  dw = dyᵀ x
pub fn linear_backward_weight(dy: &[f32], x: &[f32], n: usize, inp: usize, out: usize) -> Vec<f32> {
    let mut dw = vec![0.0; out * inp];
    for o in 0..out {
        for i in 0..inp {
            let acc: f64 = (0..n).map(|r| dy[r * out + o] as f64 * x[r * inp + i] as f64).sum();
            dw[o * inp + i] = acc as f32;
        }
    }
    dw
}

/// dy (n,out) -> db (out);  db = Σ_rows dy
pub fn linear_backward_bias(dy: &[f32], n: usize, out: usize) -> Vec<f32> {
    (0..out).map(|o| (0..n).map(|r| dy[r * out + o] as f64).sum::<f64>() as f32).collect()
}

// ---------------------------------------------------------------- activations

pub fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

pub fn softplus(a: f32) -> f32 {
    a.max(0.0) + (-a.abs()).exp().ln_1p()
}

pub fn relu_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| v.max(0.0)).collect()
}
pub fn relu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| if v > 0.0 { g } else { 0.0 }).collect()
}
pub fn leaky_relu_forward(x: &[f32], slope: f32) -> Vec<f32> {
    x.iter().map(|&v| if v > 0.0 { v } else { slope * v }).collect()
}
pub fn leaky_relu_backward(x: &[f32], dy: &[f32], slope: f32) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| if v > 0.0 { g } else { slope * g }).collect()
}
pub fn tanh_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v.tanh()).collect()
}
pub fn tanh_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| (g as f64 / (v as f64).cosh().powi(2)) as f32).collect()
}
pub fn sigmoid_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| sigmoid(v)).collect()
}
pub fn sigmoid_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| g * sigmoid(v) * sigmoid(-v)).collect()
}

// ---------------------------------------------------------------- losses

/// Which GAN objective (SPEC.md §2). Discriminant values match the `kind` of `shaders/loss.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    Minimax = 0,
    NonSaturating = 1,
    Wasserstein = 2,
}

/// Discriminator statistics of one batch: loss, mean D(x), mean D(G(z)), accuracy on real, on fake.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DStats {
    pub loss: f32,
    pub d_real: f32,
    pub d_fake: f32,
    pub acc_real: f32,
    pub acc_fake: f32,
}

/// l (n_fake + n_real): fake rows first (target 0), then real rows (target 1) -> DStats
pub fn gan_loss_d_forward(l: &[f32], n_fake: usize, kind: LossKind) -> DStats {
    let (fake, real) = l.split_at(n_fake);
    let mean = |it: &mut dyn Iterator<Item = f64>, n: usize| (it.sum::<f64>() / n.max(1) as f64) as f32;
    let w = kind == LossKind::Wasserstein;
    let score = |v: f32| if w { v as f64 } else { sigmoid(v) as f64 };
    let loss = if w {
        mean(&mut fake.iter().map(|&v| v as f64), fake.len()) + mean(&mut real.iter().map(|&v| -v as f64), real.len())
    } else {
        mean(&mut fake.iter().map(|&v| softplus(v) as f64), fake.len()) + mean(&mut real.iter().map(|&v| softplus(-v) as f64), real.len())
    };
    DStats {
        loss,
        d_real: mean(&mut real.iter().map(|&v| score(v)), real.len()),
        d_fake: mean(&mut fake.iter().map(|&v| score(v)), fake.len()),
        acc_real: mean(&mut real.iter().map(|&v| (v > 0.0) as u8 as f64), real.len()),
        acc_fake: mean(&mut fake.iter().map(|&v| (v < 0.0) as u8 as f64), fake.len()),
    }
}

/// l (n_fake + n_real) -> dl (n_fake + n_real), the gradient of the D loss.
pub fn gan_loss_d_backward(l: &[f32], n_fake: usize, kind: LossKind) -> Vec<f32> {
    let n_real = l.len() - n_fake;
    l.iter()
        .enumerate()
        .map(|(i, &v)| match (i < n_fake, kind == LossKind::Wasserstein) {
            (true, false) => sigmoid(v) / n_fake as f32,
            (true, true) => 1.0 / n_fake as f32,
            (false, false) => (sigmoid(v) - 1.0) / n_real as f32,
            (false, true) => -1.0 / n_real as f32,
        })
        .collect()
}

/// l (n) on generated samples -> the G loss.
pub fn gan_loss_g_forward(l: &[f32], kind: LossKind) -> f32 {
    let s: f64 = l
        .iter()
        .map(|&v| match kind {
            LossKind::Minimax => -softplus(v) as f64,
            LossKind::NonSaturating => softplus(-v) as f64,
            LossKind::Wasserstein => -v as f64,
        })
        .sum();
    (s / l.len().max(1) as f64) as f32
}

/// l (n) -> dl (n), the gradient of the G loss.
pub fn gan_loss_g_backward(l: &[f32], kind: LossKind) -> Vec<f32> {
    let n = l.len() as f32;
    l.iter()
        .map(|&v| match kind {
            LossKind::Minimax => -sigmoid(v) / n,
            LossKind::NonSaturating => (sigmoid(v) - 1.0) / n,
            LossKind::Wasserstein => -1.0 / n,
        })
        .collect()
}

// ---------------------------------------------------------------- optimizers

fn clip(v: f32, c: f32) -> f32 {
    if c > 0.0 { v.clamp(-c, c) } else { v }
}

/// v ← μ v + g ; p ← p − lr v
pub fn sgd_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, momentum: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = momentum * v[i] + g[i];
        p[i] = clip(p[i] - lr * v[i], clip_at);
    }
}

/// Adam with bias correction at step t (1-based).
#[allow(clippy::too_many_arguments)]
pub fn adam_step(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u32, lr: f32, b1: f32, b2: f32, eps: f32, clip_at: f32) {
    let c1 = (1.0 - (b1 as f64).powi(t as i32)) as f32;
    let c2 = (1.0 - (b2 as f64).powi(t as i32)) as f32;
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] = clip(p[i] - lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps), clip_at);
    }
}

/// v ← α v + (1−α) g² ; p ← p − lr g / (sqrt(v) + eps)
pub fn rmsprop_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, alpha: f32, eps: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = alpha * v[i] + (1.0 - alpha) * g[i] * g[i];
        p[i] = clip(p[i] - lr * g[i] / (v[i].sqrt() + eps), clip_at);
    }
}

// ---------------------------------------------------------------- random numbers and toy data

/// n standard normals for (seed, stream, step): pair j = (`out[2j]`, `out[2j+1]`) from one hash.
pub fn randn_fill(n: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    let mut out = vec![0.0; n];
    for j in 0..n.div_ceil(2) {
        let r = rng::random4(seed, stream, step, j as u32);
        let z = rng::box_muller(r[0], r[1]);
        out[2 * j] = z[0];
        if 2 * j + 1 < n {
            out[2 * j + 1] = z[1];
        }
    }
    out
}

/// n points of a 2-D Gaussian mixture, centres (k,2), equal weights -> (n,2)
pub fn mixture_sample(centres: &[[f32; 2]], sigma: f32, n: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    let mut out = vec![0.0; 2 * n];
    for j in 0..n {
        let r = rng::random4(seed, stream, step, j as u32);
        let c = centres[(r[2] % centres.len() as u32) as usize];
        let e = rng::box_muller(r[0], r[1]);
        out[2 * j] = c[0] + sigma * e[0];
        out[2 * j + 1] = c[1] + sigma * e[1];
    }
    out
}

/// n rows of a table (count, dim) in the epoch order of [`rng::gather_source`] -> (n, dim), and
/// the rows' indices.
#[allow(clippy::too_many_arguments)]
pub fn gather_rows(table: &[f32], dim: usize, n: usize, seed: u32, stream: u32, step: u32, per_step: u32) -> (Vec<f32>, Vec<usize>) {
    let count = (table.len() / dim) as u32;
    let idx: Vec<usize> = (0..n as u32).map(|j| rng::gather_source(j, n as u32, count, seed, stream, step, per_step) as usize).collect();
    (idx.iter().flat_map(|&i| table[i * dim..(i + 1) * dim].iter().copied()).collect(), idx)
}

// ---------------------------------------------------------------- classification

/// Mean cross-entropy of softmax(logits) (n, classes) against `labels`, and the share of rows
/// whose largest logit is the label.
pub fn softmax_xent(logits: &[f32], labels: &[f32], classes: usize) -> (f32, f32) {
    let n = labels.len();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (r, &y) in labels.iter().enumerate() {
        let row = &logits[r * classes..(r + 1) * classes];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        loss += lse - row[y as usize] as f64;
        let best = (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b });
        correct += (best == y as usize) as usize;
    }
    ((loss / n as f64) as f32, correct as f32 / n as f32)
}

/// logits (n, classes), labels (n) -> d(mean cross-entropy)/dlogits
pub fn softmax_xent_backward(logits: &[f32], labels: &[f32], classes: usize) -> Vec<f32> {
    let n = labels.len();
    let mut out = vec![0.0; logits.len()];
    for (r, &y) in labels.iter().enumerate() {
        let row = &logits[r * classes..(r + 1) * classes];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        for c in 0..classes {
            let p = (row[c] as f64 - m).exp() / s;
            out[r * classes + c] = ((p - (c == y as usize) as u8 as f64) / n as f64) as f32;
        }
    }
    out
}

/// Each image (n, h·w) translated by its own (dy, dx) ∈ [−max, max]², drawn from
/// (seed, stream, step, image); background −1 shifted in (`shaders/rng.wgsl::shift_images`).
#[allow(clippy::too_many_arguments)]
pub fn shift_images(x: &[f32], h: usize, w: usize, max: u32, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    let dim = h * w;
    let mut out = vec![-1.0; x.len()];
    for img in 0..x.len() / dim {
        let r = rng::random4(seed, stream, step, img as u32);
        let span = 2 * max + 1;
        let (dy, dx) = ((r[0] % span) as i64 - max as i64, (r[1] % span) as i64 - max as i64);
        for y in 0..h as i64 {
            for xx in 0..w as i64 {
                let (sy, sx) = (y - dy, xx - dx);
                if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                    out[img * dim + (y * w as i64 + xx) as usize] = x[img * dim + (sy * w as i64 + sx) as usize];
                }
            }
        }
    }
    out
}
