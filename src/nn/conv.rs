//! Conv2d (PyTorch's `nn.Conv2d`, NCHW cross-correlation) and what both convolution layers share:
//! the geometry ([`ConvSpec`], [`ConvShape`]) and the CPU references in the conv view. Their GPU
//! passes are lowered by [`crate::ops::conv`] (the kernels of `shaders/conv.wgsl` or the
//! products of the device's family). A ConvTranspose2d is described by the convolution whose
//! input gradient it is ([`super::conv_transpose`]). Tests: `tests/conv.rs`.

use super::{CpuBackward, CpuForward, CpuGradOfGrad, GpuBackward, GpuForward, GpuGradOfGrad, LayerImpl, Param, Role};
use crate::error::{Error, Result};
use crate::gpu::{AsArg, Gpu, Program};
use crate::ops::conv::{self as lower, Epilogue};
#[doc(hidden)]
pub use crate::ops::conv::{ChannelSum, ConvBackwardInput, ConvBackwardWeight, ConvForward, ConvParams, CONV_BIAS};
pub use crate::ops::shape::ConvShape;
#[doc(hidden)]
pub use crate::ops::shape::gcd;
use super::describe::Fields;
use super::Layer;
use serde_json::{json, Value};

/// A convolution layer's geometry, with PyTorch's parameters per axis ([height, width]): input
/// (cin, h, w), kernel kh × kw, stride, padding, dilation, the output padding of a transposed
/// convolution (0 for Conv2d), and whether it adds a bias. (`groups` is not supported: every
/// kernel's 4-channel blocks would have to respect group boundaries.)
///
/// ```
/// use wgpu_gan::nn::{ConvSpec, Layer, NetSpec};
/// let c = ConvSpec::new(1, 8, 28, 28, 4, 2, 1);   // 1 → 8 channels, 4 × 4 kernel, stride 2, pad 1
/// assert_eq!(c.out_chw(false), (8, 14, 14));      // as a Conv2d
/// assert_eq!(c.out_chw(true), (8, 56, 56));       // as a ConvTranspose2d
/// let net = NetSpec { layers: vec![Layer::Conv2d(c.no_bias())] };
/// assert_eq!(net.param_lens(), [8 * 1 * 4 * 4]);  // the weight only
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub out_pad: [usize; 2],
    pub dilation: [usize; 2],
    pub bias: bool,
}

impl ConvSpec {
    /// Square kernel `k`, stride `s`, padding `p` on a (cin, h, w) input, with a bias.
    ///
    /// ```
    /// use wgpu_gan::nn::ConvSpec;
    /// let c = ConvSpec::new(3, 8, 32, 32, 5, 1, 2);
    /// assert_eq!((c.kh, c.kw, c.stride, c.pad, c.dilation, c.bias), (5, 5, [1, 1], [2, 2], [1, 1], true));
    /// assert_eq!(c.out_chw(false), (8, 32, 32));          // "same" padding
    /// ```
    pub fn new(cin: usize, cout: usize, h: usize, w: usize, k: usize, s: usize, p: usize) -> ConvSpec {
        ConvSpec { cin, cout, h, w, kh: k, kw: k, stride: [s; 2], pad: [p; 2], out_pad: [0; 2], dilation: [1; 2], bias: true }
    }

    /// The same layer with output padding `op` on both axes (transposed convolutions).
    ///
    /// ```
    /// use wgpu_gan::nn::ConvSpec;
    /// let c = ConvSpec::new(8, 4, 7, 7, 3, 2, 1);
    /// assert_eq!(c.out_chw(true), (4, 13, 13));           // ConvTranspose2d: (7 − 1)·2 − 2 + 3
    /// assert_eq!(c.out_pad(1).out_chw(true), (4, 14, 14)); // one more row and column
    /// ```
    pub fn out_pad(self, op: usize) -> ConvSpec {
        ConvSpec { out_pad: [op; 2], ..self }
    }

    /// The same layer without a bias (PyTorch's `bias=False`).
    ///
    /// ```
    /// use wgpu_gan::nn::{ConvSpec, Layer};
    /// let c = ConvSpec::new(1, 8, 28, 28, 4, 2, 1);
    /// assert_eq!(Layer::Conv2d(c).param_shapes().len(), 2); // weight, bias
    /// assert_eq!(Layer::Conv2d(c.no_bias()).param_shapes(), [("weight", vec![8, 1, 4, 4])]);
    /// ```
    pub fn no_bias(self) -> ConvSpec {
        ConvSpec { bias: false, ..self }
    }

    /// The kernels' view of this layer at batch n (see [`ConvShape`]).
    ///
    /// ```
    /// use wgpu_gan::nn::ConvSpec;
    /// let c = ConvSpec::new(1, 8, 28, 28, 4, 2, 1);
    /// let s = c.shape(5, false);                          // Conv2d at batch 5: 1 × 28 × 28 → 8 × 14 × 14
    /// assert_eq!((s.n, s.cin, s.h, s.cout, s.oh), (5, 1, 28, 8, 14));
    /// let t = c.shape(5, true);                           // ConvTranspose2d: the convolution 56 × 56 → 28 × 28
    /// assert_eq!((t.cin, t.h, t.cout, t.oh), (8, 56, 1, 28));
    /// ```
    pub fn shape(&self, n: usize, transposed: bool) -> ConvShape {
        let c = self;
        let (k, s, p, d) = ([c.kh, c.kw], c.stride, c.pad, c.dilation);
        // The extent of a dilated kernel: d·(k − 1) + 1.
        let span = |a: usize| d[a] * (k[a].max(1) - 1) + 1;
        if transposed {
            // The convolution whose input gradient this layer is: from its output (big) back to
            // its input (h × w). Output size (h − 1)·s − 2p + d·(k − 1) + op + 1, as PyTorch.
            let big = |a: usize, size: usize| ((size.max(1) - 1) * s[a] + span(a) + c.out_pad[a]).saturating_sub(2 * p[a]);
            ConvShape { n, cin: c.cout, h: big(0, c.h), w: big(1, c.w), cout: c.cin, oh: c.h, ow: c.w, kh: c.kh, kw: c.kw, stride: s, pad: p, dil: d }
        } else {
            // ⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1, as PyTorch.
            let out = |a: usize, size: usize| (size + 2 * p[a]).saturating_sub(span(a)) / s[a].max(1) + 1;
            ConvShape { n, cin: c.cin, h: c.h, w: c.w, cout: c.cout, oh: out(0, c.h), ow: out(1, c.w), kh: c.kh, kw: c.kw, stride: s, pad: p, dil: d }
        }
    }

    /// Output (channels, height, width).
    ///
    /// ```
    /// use wgpu_gan::nn::ConvSpec;
    /// let c = ConvSpec::new(16, 1, 14, 14, 4, 2, 1);
    /// assert_eq!(c.out_chw(false), (1, 7, 7));            // (14 + 2 − 4) / 2 + 1
    /// assert_eq!(c.out_chw(true), (1, 28, 28));           // (14 − 1)·2 − 2 + 4
    /// ```
    pub fn out_chw(&self, transposed: bool) -> (usize, usize, usize) {
        let s = self.shape(1, transposed);
        if transposed {
            (self.cout, s.h, s.w)
        } else {
            (self.cout, s.oh, s.ow)
        }
    }

    pub(super) fn check(&self, transposed: bool) -> Result<()> {
        let c = self;
        let what = if transposed { "ConvTranspose2d" } else { "Conv2d" };
        // (Descriptions come from files: bound every size before any arithmetic on them.)
        let all = [c.cin, c.cout, c.h, c.w, c.kh, c.kw, c.stride[0], c.stride[1], c.pad[0], c.pad[1], c.out_pad[0], c.out_pad[1], c.dilation[0], c.dilation[1]];
        if all.iter().any(|&v| v > 1 << 20) || c.cin.checked_mul(c.h).and_then(|v| v.checked_mul(c.w)).is_none_or(|v| v as u64 > 1 << 40) {
            return Err(Error::Shape(format!("{what} {c:?}: sizes beyond 2^20 (or an input beyond 2^40 values) are not supported")));
        }
        if [c.cin, c.cout, c.h, c.w, c.kh, c.kw, c.stride[0], c.stride[1], c.dilation[0], c.dilation[1]].contains(&0) {
            return Err(Error::Shape(format!("{what} {c:?}: channels, sizes, kernel, stride and dilation must be at least 1")));
        }
        let k = [c.kh, c.kw];
        let size = [c.h, c.w];
        for a in 0..2 {
            let span = c.dilation[a] * (k[a] - 1) + 1;
            if transposed {
                // PyTorch: output padding must be smaller than either the stride or the dilation.
                if c.out_pad[a] >= c.stride[a] && c.out_pad[a] >= c.dilation[a] {
                    return Err(Error::Shape(format!("{what} {c:?}: output padding must be smaller than the stride or the dilation")));
                }
                if (size[a] - 1) * c.stride[a] + span + c.out_pad[a] <= 2 * c.pad[a] {
                    return Err(Error::Shape(format!("{what} {c:?}: the padding leaves no output")));
                }
            } else {
                if c.out_pad[a] != 0 {
                    return Err(Error::Shape(format!("{what} {c:?}: output padding is for transposed convolutions")));
                }
                if size[a] + 2 * c.pad[a] < span {
                    return Err(Error::Shape(format!("{what} {c:?}: the (dilated) kernel is larger than the padded input")));
                }
            }
        }
        Ok(())
    }

    /// The hyper-parameters in PyTorch's names (the transposed layer adds `output_padding`).
    pub(super) fn describe(&self, transposed: bool) -> serde_json::Value {
        let mut v = json!({
            "in_channels": self.cin, "out_channels": self.cout, "input_size": [self.h, self.w],
            "kernel_size": [self.kh, self.kw], "stride": self.stride, "padding": self.pad, "dilation": self.dilation,
            "groups": 1, "bias": self.bias,
        });
        if transposed {
            v["output_padding"] = json!(self.out_pad);
        }
        v
    }

    /// The geometry from a description (see [`ConvSpec::describe`]).
    pub(super) fn parse(f: &Fields<'_>, transposed: bool) -> std::result::Result<ConvSpec, String> {
        let (size, k) = (f.uints("input_size", 2)?, f.uints("kernel_size", 2)?);
        let pair = |k: &str| -> std::result::Result<[usize; 2], String> { f.uints(k, 2).map(|v| [v[0], v[1]]) };
        let out_pad = if transposed { pair("output_padding")? } else { [0; 2] };
        if f.v.get("groups").is_some_and(|g| g.as_u64() != Some(1)) {
            return Err(format!("{}: groups other than 1 are not supported", f.kind));
        }
        let dilation = if f.v.get("dilation").is_some() { pair("dilation")? } else { [1; 2] };
        Ok(ConvSpec { cin: f.uint("in_channels")?, cout: f.uint("out_channels")?, h: size[0], w: size[1], kh: k[0], kw: k[1], stride: pair("stride")?, pad: pair("padding")?, out_pad, dilation, bias: f.flag("bias")? })
    }

    /// Parameters: weight (cout, cin, kh, kw) for Conv2d, (cin, cout, kh, kw) for the transposed
    /// layer, then the bias (cout) when the layer has one.
    pub(super) fn params(&self, transposed: bool) -> Vec<Param> {
        let shape = if transposed { vec![self.cin, self.cout, self.kh, self.kw] } else { vec![self.cout, self.cin, self.kh, self.kw] };
        let mut v = vec![Param::new("weight", shape, Role::Weight)];
        if self.bias {
            v.push(Param::new("bias", vec![self.cout], Role::Bias));
        }
        v
    }
}

// ---------------------------------------------------------------- CPU reference (the conv view)

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
                            let Some(iy) = s.tap(0, oy, ky) else { continue };
                            for kx in 0..s.kw {
                                let Some(ix) = s.tap(1, ox, kx) else { continue };
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
///
/// ```
/// use wgpu_gan::nn::{conv::conv2d_forward, ConvSpec};
/// let s = ConvSpec::new(1, 1, 3, 3, 2, 1, 0).shape(1, false); // batch 1, 3 × 3 → 2 × 2
/// let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
/// let y = conv2d_forward(&x, &[1.0; 4], Some(&[1.0]), &s);    // 2 × 2 window sums, plus 1
/// assert_eq!(y, [13.0, 17.0, 25.0, 29.0]);
/// ```
pub fn conv2d_forward(x: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let plane = s.oh * s.ow;
    let mut y: Vec<f64> = (0..s.y_len()).map(|i| b.map_or(0.0, |b| b[(i / plane) % s.cout] as f64)).collect();
    for_each_tap(s, |yi, xi, wi| y[yi] += x[xi] as f64 * wt[wi] as f64);
    round(y)
}

/// dy (n, cout, oh, ow), wt, optional bias (cin) -> dx (n, cin, h, w): the scatter of every output
/// gradient back through the taps that produced it (the bias is a transposed layer's).
///
/// ```
/// use wgpu_gan::nn::{conv::conv2d_backward_input, ConvSpec};
/// let s = ConvSpec::new(1, 1, 3, 3, 2, 1, 0).shape(1, false);
/// let dx = conv2d_backward_input(&[1.0; 4], &[1.0; 4], None, &s);
/// assert_eq!(dx, [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]); // windows covering each pixel
/// ```
pub fn conv2d_backward_input(dy: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let plane = s.h * s.w;
    let mut dx: Vec<f64> = (0..s.x_len()).map(|i| b.map_or(0.0, |b| b[(i / plane) % s.cin] as f64)).collect();
    for_each_tap(s, |yi, xi, wi| dx[xi] += dy[yi] as f64 * wt[wi] as f64);
    round(dx)
}

/// dy (n, cout, oh, ow), x -> dwt (cout, cin, kh, kw)
///
/// ```
/// use wgpu_gan::nn::{conv::conv2d_backward_weight, ConvSpec};
/// let s = ConvSpec::new(1, 1, 3, 3, 2, 1, 0).shape(1, false);
/// let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
/// let dw = conv2d_backward_weight(&[1.0; 4], &x, &s);
/// assert_eq!(dw, [12.0, 16.0, 24.0, 28.0]);  // each tap: the inputs it met, summed
/// ```
pub fn conv2d_backward_weight(dy: &[f32], x: &[f32], s: &ConvShape) -> Vec<f32> {
    let mut dw = vec![0.0f64; s.w_len()];
    for_each_tap(s, |yi, xi, wi| dw[wi] += dy[yi] as f64 * x[xi] as f64);
    round(dw)
}

/// dy (n, c, hw) -> (c): the bias gradient of a convolution (either kind).
///
/// ```
/// use wgpu_gan::nn::conv::channel_sum;
/// let dy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];     // n = 2, c = 2, hw = 2
/// assert_eq!(channel_sum(&dy, 2, 2, 2), [1.0 + 2.0 + 5.0 + 6.0, 3.0 + 4.0 + 7.0 + 8.0]);
/// ```
pub fn channel_sum(dy: &[f32], n: usize, c: usize, hw: usize) -> Vec<f32> {
    (0..c)
        .map(|ch| (0..n).flat_map(|i| dy[(i * c + ch) * hw..(i * c + ch + 1) * hw].iter()).map(|&v| v as f64).sum::<f64>() as f32)
        .collect()
}


// ---------------------------------------------------------------- the layer

/// The layer from its description, if `kind` is this layer's.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    (kind == "Conv2d").then(|| ConvSpec::parse(&Fields { kind, v }, false).map(Layer::Conv2d))
}

/// `nn.Conv2d` with the geometry of its [`ConvSpec`].
///
/// ```
/// use wgpu_gan::nn::{conv::Conv2d, ConvSpec, LayerImpl};
/// let l = Conv2d(ConvSpec::new(3, 8, 32, 32, 3, 1, 1));
/// assert_eq!((l.kind(), l.in_len(), l.out_len(3 * 32 * 32)), ("Conv2d", Some(3 * 32 * 32), 8 * 32 * 32));
/// assert_eq!(l.params()[0].shape, [8, 3, 3, 3]);               // (cout, cin, kh, kw), then the bias
/// assert!(Conv2d(ConvSpec::new(3, 8, 2, 2, 5, 1, 0)).validate().is_err()); // kernel beyond the input
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d(pub ConvSpec);

impl LayerImpl for Conv2d {
    fn kind(&self) -> &'static str {
        "Conv2d"
    }

    fn validate(&self) -> Result<()> {
        self.0.check(false)
    }

    fn in_len(&self) -> Option<usize> {
        Some(self.0.cin * self.0.h * self.0.w)
    }

    fn out_len(&self, _inp: usize) -> usize {
        let (a, b, c) = self.0.out_chw(false);
        a * b * c
    }

    fn params(&self) -> Vec<Param> {
        self.0.params(false)
    }

    fn scratch_len(&self, n: usize, parallel: u64) -> usize {
        let s = self.0.shape(n, false);
        lower::grads_scratch_len(&s, self.0.bias.then_some((s.cout, s.oh, s.ow)), parallel)
    }

    fn describe(&self) -> serde_json::Value {
        self.0.describe(false)
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        let b = self.0.bias.then(|| c.params[1].as_slice());
        (conv2d_forward(c.x, &c.params[0], b, &self.0.shape(c.n, false)), Vec::new())
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        let s = self.0.shape(c.n, false);
        let mut grads = Vec::new();
        if c.weight_grads {
            grads.push(conv2d_backward_weight(c.dy, c.x, &s));
            if self.0.bias {
                grads.push(channel_sum(c.dy, c.n, s.cout, s.oh * s.ow));
            }
        }
        (conv2d_backward_input(c.dy, &c.params[0], None, &s), grads)
    }

    fn work_lens(&self, n: usize, gpu: &Gpu) -> [usize; 4] {
        lower::work_lens(gpu, &self.0.shape(n, false))
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        let b = c.params.get(1).map(|t| t as &dyn AsArg);
        lower::forward(&mut c.on(prog), &self.0.shape(c.n, false), c.x, &c.params[0], b, c.y)
    }

    /// The subgroup family's patch-matrix products store the activation too
    /// ([`crate::ops::conv_gemm::forward_fused`]); the other paths decline.
    fn gpu_forward_fused(&self, c: &GpuForward<'_>, then: super::FusedAct<'_>, prog: &mut Program) -> Result<bool> {
        let Some((slope, relu)) = then.act.piecewise() else { return Ok(false) };
        let b = c.params.get(1).map(|t| t as &dyn AsArg);
        let epi = Epilogue::Act { post: then.buf, slope, relu };
        lower::forward_fused(&mut c.on(prog), &self.0.shape(c.n, false), c.x, &c.params[0], b, c.y, epi)
    }

    fn has_grad_of_grad(&self) -> bool {
        true
    }

    fn cpu_grad_of_grad(&self, c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        // g_in = conv_input_grad(g_out; W): ḡ_out = conv(ḡ_in; W) without bias, ∂W = the weight
        // gradient with dy := g_out, x := ḡ_in; the bias does not enter g_in.
        let s = self.0.shape(c.n, false);
        let mut grads = vec![conv2d_backward_weight(c.g_out, c.gbar_in, &s)];
        if self.0.bias {
            grads.push(vec![0.0; s.cout]);
        }
        Ok((conv2d_forward(c.gbar_in, &c.params[0], None, &s), grads))
    }

    fn gpu_grad_of_grad(&self, c: &GpuGradOfGrad<'_>, prog: &mut Program) -> Result<()> {
        let s = self.0.shape(c.n, false);
        let wt = &c.params[0];
        if let Some(o) = c.gbar_out {
            lower::forward(&mut c.on(prog), &s, c.gbar_in, wt, None, o)?;
        }
        lower::grads(&mut c.on(prog), &s, c.gbar_in, c.g_out, None, c.grads, true)
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        let s = self.0.shape(c.n, false);
        if c.weight_grads {
            let bias = self.0.bias.then_some((c.dy, (s.cout, s.oh, s.ow)));
            lower::grads(&mut c.on(prog), &s, c.x, c.dy, bias, c.grads, c.accumulate)?;
        }
        if let Some(dx) = c.dx {
            lower::backward_input(&mut c.on(prog), &s, c.dy, &c.params[0], None, dx)?;
        }
        Ok(())
    }

    /// The subgroup family's stride-phase input gradient stores through the activation before
    /// the convolution (`sgemm_taps_dact`); the other paths decline.
    fn gpu_backward_fused(&self, c: &GpuBackward<'_>, below: super::FusedAct<'_>, prog: &mut Program) -> Result<bool> {
        let s = self.0.shape(c.n, false);
        let (Some(dx), Some((slope, relu))) = (c.dx, below.act.piecewise()) else { return Ok(false) };
        if !lower::input_fuses(c.gpu, c.ws, &s, below.buf) {
            return Ok(false);
        }
        if c.weight_grads {
            let bias = self.0.bias.then_some((c.dy, (s.cout, s.oh, s.ow)));
            lower::grads(&mut c.on(prog), &s, c.x, c.dy, bias, c.grads, c.accumulate)?;
        }
        let epi = Epilogue::Dact { pre: below.buf, slope, relu };
        lower::backward_input_fused(&mut c.on(prog), &s, c.dy, &c.params[0], dx, epi)?;
        Ok(true)
    }
}
