//! Convolution references in the conv view of `shaders/conv.wgsl`: [`ConvShape`] describes a
//! Conv2d; a ConvTranspose2d is described by the convolution whose input gradient it is.

/// A convolution x (n, cin, h, w) → y (n, cout, oh, ow) with weights (cout, cin, kh, kw).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    /// A Conv2d layer; the output size follows PyTorch: ⌊(h + 2·pad − kh) / stride⌋ + 1.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(n: usize, cin: usize, h: usize, w: usize, cout: usize, kh: usize, kw: usize, stride: usize, pad: usize) -> ConvShape {
        let oh = (h + 2 * pad).saturating_sub(kh) / stride.max(1) + 1;
        let ow = (w + 2 * pad).saturating_sub(kw) / stride.max(1) + 1;
        ConvShape { n, cin, h, w, cout, oh, ow, kh, kw, stride, pad }
    }

    /// The convolution behind a ConvTranspose2d(tcin → tcout) on (n, tcin, h, w): its output is
    /// (h − 1)·stride − 2·pad + kh + out_pad high (likewise wide), and it is the input gradient of
    /// a convolution from that size (tcout channels) back to h × w (tcin channels).
    #[allow(clippy::too_many_arguments)]
    pub fn transposed(n: usize, tcin: usize, h: usize, w: usize, tcout: usize, kh: usize, kw: usize, stride: usize, pad: usize, out_pad: usize) -> ConvShape {
        let big_h = ((h - 1) * stride + kh + out_pad).saturating_sub(2 * pad);
        let big_w = ((w - 1) * stride + kw + out_pad).saturating_sub(2 * pad);
        ConvShape { n, cin: tcout, h: big_h, w: big_w, cout: tcin, oh: h, ow: w, kh, kw, stride, pad }
    }

    pub fn x_len(&self) -> usize {
        self.n * self.cin * self.h * self.w
    }
    pub fn y_len(&self) -> usize {
        self.n * self.cout * self.oh * self.ow
    }
    pub fn w_len(&self) -> usize {
        self.cout * self.cin * self.kh * self.kw
    }

    /// The input position a tap reads for an output position, if it lies inside the input.
    fn tap(&self, o: usize, k: usize, size: usize) -> Option<usize> {
        let i = (o * self.stride + k) as isize - self.pad as isize;
        (i >= 0 && (i as usize) < size).then_some(i as usize)
    }

    fn xi(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.cin + c) * self.h + y) * self.w + x
    }
    fn yi(&self, n: usize, c: usize, y: usize, x: usize) -> usize {
        ((n * self.cout + c) * self.oh + y) * self.ow + x
    }
    fn wi(&self, co: usize, ci: usize, ky: usize, kx: usize) -> usize {
        ((co * self.cin + ci) * self.kh + ky) * self.kw + kx
    }
}

/// Calls `f(y index, x index, w index)` for every multiply-add of the convolution: every output
/// position, output channel, input channel and tap whose input position lies inside the input.
/// The three references below are this one loop with a different multiply-add.
fn for_each_tap(s: &ConvShape, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..s.n {
        for co in 0..s.cout {
            for oy in 0..s.oh {
                for ox in 0..s.ow {
                    let yi = s.yi(n, co, oy, ox);
                    for ci in 0..s.cin {
                        for ky in 0..s.kh {
                            let Some(iy) = s.tap(oy, ky, s.h) else { continue };
                            for kx in 0..s.kw {
                                let Some(ix) = s.tap(ox, kx, s.w) else { continue };
                                f(yi, s.xi(n, ci, iy, ix), s.wi(co, ci, ky, kx));
                            }
                        }
                    }
                }
            }
        }
    }
}

fn round(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|v| v as f32).collect()
}

/// x, wt (cout, cin, kh, kw), optional bias (cout) -> y (n, cout, oh, ow)
pub fn conv2d_forward(x: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let plane = s.oh * s.ow;
    let mut y: Vec<f64> = (0..s.y_len()).map(|i| b.map_or(0.0, |b| b[(i / plane) % s.cout] as f64)).collect();
    for_each_tap(s, |yi, xi, wi| y[yi] += x[xi] as f64 * wt[wi] as f64);
    round(y)
}

/// dy (n, cout, oh, ow), wt, optional bias (cin) -> dx (n, cin, h, w): the scatter of every output
/// gradient back through the taps that produced it (the bias is a transposed layer's).
pub fn conv2d_backward_input(dy: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let plane = s.h * s.w;
    let mut dx: Vec<f64> = (0..s.x_len()).map(|i| b.map_or(0.0, |b| b[(i / plane) % s.cin] as f64)).collect();
    for_each_tap(s, |yi, xi, wi| dx[xi] += dy[yi] as f64 * wt[wi] as f64);
    round(dx)
}

/// dy (n, cout, oh, ow), x -> dwt (cout, cin, kh, kw)
pub fn conv2d_backward_weight(dy: &[f32], x: &[f32], s: &ConvShape) -> Vec<f32> {
    let mut dw = vec![0.0f64; s.w_len()];
    for_each_tap(s, |yi, xi, wi| dw[wi] += dy[yi] as f64 * x[xi] as f64);
    round(dw)
}

/// dy (n, c, hw) -> (c): the bias gradient of a convolution (either kind).
pub fn channel_sum(dy: &[f32], n: usize, c: usize, hw: usize) -> Vec<f32> {
    (0..c)
        .map(|ch| (0..n).flat_map(|i| dy[(i * c + ch) * hw..(i * c + ch + 1) * hw].iter()).map(|&v| v as f64).sum::<f64>() as f32)
        .collect()
}

/// ConvTranspose2d forward: x (n, tcin, h, w), weights (tcin, tcout, kh, kw), bias (tcout).
/// `s` comes from [`ConvShape::transposed`].
pub fn conv_transpose2d_forward(x: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    conv2d_backward_input(x, wt, b, s)
}

/// ConvTranspose2d input gradient: dy (n, tcout, H, W) -> dx (n, tcin, h, w).
pub fn conv_transpose2d_backward_input(dy: &[f32], wt: &[f32], s: &ConvShape) -> Vec<f32> {
    conv2d_forward(dy, wt, None, s)
}

/// ConvTranspose2d weight gradient (tcin, tcout, kh, kw) from its input x and output gradient dy.
pub fn conv_transpose2d_backward_weight(dy: &[f32], x: &[f32], s: &ConvShape) -> Vec<f32> {
    conv2d_backward_weight(x, dy, s)
}

// ---------------------------------------------------------------- batch normalisation

/// Statistics of one batch-norm pass: per channel mean and 1/√(var + eps), var biased.
#[derive(Clone, Debug, PartialEq)]
pub struct BnSaved {
    pub mean: Vec<f32>,
    pub invstd: Vec<f32>,
}

/// Training-mode statistics of x (n, c, hw); updates `running` = (mean c, var c) by momentum with
/// the unbiased variance when given.
pub fn batchnorm_stats(x: &[f32], n: usize, c: usize, hw: usize, eps: f32, momentum: f32, running: Option<&mut [f32]>) -> BnSaved {
    let m = (n * hw) as f64;
    let vals = |ch: usize| (0..n).flat_map(move |i| x[(i * c + ch) * hw..(i * c + ch + 1) * hw].iter().map(|&v| v as f64));
    let mean: Vec<f64> = (0..c).map(|ch| vals(ch).sum::<f64>() / m).collect();
    let var: Vec<f64> = (0..c).map(|ch| vals(ch).map(|v| (v - mean[ch]).powi(2)).sum::<f64>() / m).collect();
    if let Some(r) = running {
        let mo = momentum as f64;
        for ch in 0..c {
            r[ch] = ((1.0 - mo) * r[ch] as f64 + mo * mean[ch]) as f32;
            r[c + ch] = ((1.0 - mo) * r[c + ch] as f64 + mo * var[ch] * m / (m - 1.0)) as f32;
        }
    }
    BnSaved {
        mean: mean.iter().map(|&v| v as f32).collect(),
        invstd: var.iter().map(|&v| (1.0 / (v + eps as f64).sqrt()) as f32).collect(),
    }
}

/// y = (x − mean)·invstd·γ + β with the given statistics (batch ones in training, running ones in
/// evaluation: see [`bn_eval_stats`]).
pub fn batchnorm_forward(x: &[f32], gamma: &[f32], beta: &[f32], st: &BnSaved, c: usize, hw: usize) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / hw) % c;
            ((v as f64 - st.mean[ch] as f64) * st.invstd[ch] as f64 * gamma[ch] as f64 + beta[ch] as f64) as f32
        })
        .collect()
}

/// Evaluation-mode statistics from running (mean c, var c).
pub fn bn_eval_stats(running: &[f32], c: usize, eps: f32) -> BnSaved {
    BnSaved {
        mean: running[..c].to_vec(),
        invstd: running[c..2 * c].iter().map(|&v| (1.0 / (v as f64 + eps as f64).sqrt()) as f32).collect(),
    }
}

/// Training-mode backward: returns (dx, dγ, dβ) for x (n, c, hw) and upstream dy.
pub fn batchnorm_backward(x: &[f32], dy: &[f32], gamma: &[f32], st: &BnSaved, n: usize, c: usize, hw: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = (n * hw) as f64;
    let idx = |ch: usize| (0..n).flat_map(move |i| (i * c + ch) * hw..(i * c + ch + 1) * hw);
    let xhat = |i: usize, ch: usize| (x[i] as f64 - st.mean[ch] as f64) * st.invstd[ch] as f64;
    let s1: Vec<f64> = (0..c).map(|ch| idx(ch).map(|i| dy[i] as f64).sum()).collect();
    let s2: Vec<f64> = (0..c).map(|ch| idx(ch).map(|i| dy[i] as f64 * xhat(i, ch)).sum()).collect();
    let dx = (0..x.len())
        .map(|i| {
            let ch = (i / hw) % c;
            (gamma[ch] as f64 * st.invstd[ch] as f64 * (dy[i] as f64 - s1[ch] / m - xhat(i, ch) * s2[ch] / m)) as f32
        })
        .collect();
    (dx, s2.iter().map(|&v| v as f32).collect(), s1.iter().map(|&v| v as f32).collect())
}
