//! ConvTranspose2d (PyTorch's `nn.ConvTranspose2d`): the input gradient of the convolution with the
//! same weights (see [`super::conv`], whose kernels in `shaders/conv.wgsl` it runs with the roles
//! swapped: its forward pass is `conv2d_backward_input`, its input gradient `conv2d_forward`, its
//! weight gradient `conv2d_backward_weight` with x and dy exchanged). Tests: `tests/conv_transpose.rs`.

use super::conv::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward, channel_sum, ConvShape, ConvSpec};
use crate::ops::conv as lower;
use super::describe::Fields;
use super::{CpuBackward, CpuForward, CpuGradOfGrad, GpuBackward, GpuForward, GpuGradOfGrad, Layer, LayerImpl, Param};
use serde_json::Value;
use crate::error::Result;
use crate::gpu::{AsArg, Program};

// ---------------------------------------------------------------- CPU reference

/// ConvTranspose2d forward: x (n, tcin, h, w), weights (tcin, tcout, kh, kw), bias (tcout).
/// `s` comes from [`ConvSpec::shape`] with `transposed`.
///
/// ```
/// use wgpu_gan::nn::{conv_transpose::conv_transpose2d_forward, ConvSpec};
/// let s = ConvSpec::new(1, 1, 1, 1, 2, 1, 0).shape(1, true);     // 1 × 1 → 2 × 2
/// let y = conv_transpose2d_forward(&[2.0], &[1.0, 2.0, 3.0, 4.0], Some(&[1.0]), &s);
/// assert_eq!(y, [3.0, 5.0, 7.0, 9.0]);                           // the kernel times x, plus b
/// ```
pub fn conv_transpose2d_forward(x: &[f32], wt: &[f32], b: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    conv2d_backward_input(x, wt, b, s)
}

/// ConvTranspose2d input gradient: dy (n, tcout, H, W) -> dx (n, tcin, h, w).
///
/// ```
/// use wgpu_gan::nn::{conv_transpose::conv_transpose2d_backward_input, ConvSpec};
/// let s = ConvSpec::new(1, 1, 1, 1, 2, 1, 0).shape(1, true);
/// let dx = conv_transpose2d_backward_input(&[1.0, 1.0, 0.0, 2.0], &[1.0, 2.0, 3.0, 4.0], &s);
/// assert_eq!(dx, [1.0 + 2.0 + 2.0 * 4.0]);                       // Σ dy·w
/// ```
pub fn conv_transpose2d_backward_input(dy: &[f32], wt: &[f32], s: &ConvShape) -> Vec<f32> {
    conv2d_forward(dy, wt, None, s)
}

/// ConvTranspose2d weight gradient (tcin, tcout, kh, kw) from its input x and output gradient dy.
///
/// ```
/// use wgpu_gan::nn::{conv_transpose::conv_transpose2d_backward_weight, ConvSpec};
/// let s = ConvSpec::new(1, 1, 1, 1, 2, 1, 0).shape(1, true);
/// let dw = conv_transpose2d_backward_weight(&[1.0, 0.0, 0.0, 1.0], &[2.0], &s);
/// assert_eq!(dw, [2.0, 0.0, 0.0, 2.0]);                          // x·dy
/// ```
pub fn conv_transpose2d_backward_weight(dy: &[f32], x: &[f32], s: &ConvShape) -> Vec<f32> {
    conv2d_backward_weight(x, dy, s)
}


// ---------------------------------------------------------------- the layer

/// The layer from its description, if `kind` is this layer's.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    (kind == "ConvTranspose2d").then(|| ConvSpec::parse(&Fields { kind, v }, true).map(Layer::ConvT2d))
}

/// `nn.ConvTranspose2d` with the geometry of its [`ConvSpec`] (h × w is its input size).
///
/// ```
/// use wgpu_gan::nn::{conv_transpose::ConvTranspose2d, ConvSpec, LayerImpl};
/// let l = ConvTranspose2d(ConvSpec::new(128, 64, 7, 7, 4, 2, 1)); // DCGAN's 7 × 7 → 14 × 14
/// assert_eq!(l.out_len(128 * 7 * 7), 64 * 14 * 14);
/// assert_eq!(l.params()[0].shape, [128, 64, 4, 4]);              // (cin, cout, kh, kw), as PyTorch
/// let op = ConvSpec::new(1, 1, 4, 4, 3, 1, 1).out_pad(1);        // output padding ≥ stride
/// assert!(ConvTranspose2d(op).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2d(pub ConvSpec);

impl LayerImpl for ConvTranspose2d {
    fn kind(&self) -> &'static str {
        "ConvTranspose2d"
    }

    fn validate(&self) -> Result<()> {
        self.0.check(true)
    }

    fn in_len(&self) -> Option<usize> {
        Some(self.0.cin * self.0.h * self.0.w)
    }

    fn out_len(&self, _inp: usize) -> usize {
        let (a, b, c) = self.0.out_chw(true);
        a * b * c
    }

    fn params(&self) -> Vec<Param> {
        self.0.params(true)
    }

    fn scratch_len(&self, n: usize, parallel: u64) -> usize {
        let s = self.0.shape(n, true);
        lower::grads_scratch_len(&s, self.0.bias.then_some((s.cin, s.h, s.w)), parallel)
    }

    fn describe(&self) -> serde_json::Value {
        self.0.describe(true)
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        let b = self.0.bias.then(|| c.params[1].as_slice());
        (conv_transpose2d_forward(c.x, &c.params[0], b, &self.0.shape(c.n, true)), Vec::new())
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        let s = self.0.shape(c.n, true);
        let mut grads = Vec::new();
        if c.weight_grads {
            grads.push(conv_transpose2d_backward_weight(c.dy, c.x, &s));
            if self.0.bias {
                grads.push(channel_sum(c.dy, c.n, s.cin, s.h * s.w));
            }
        }
        (conv_transpose2d_backward_input(c.dy, &c.params[0], &s), grads)
    }

    fn work_lens(&self, n: usize, gpu: &crate::gpu::Gpu) -> [usize; 4] {
        lower::work_lens(gpu, &self.0.shape(n, true))
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        let b = c.params.get(1).map(|t| t as &dyn AsArg);
        lower::backward_input(&mut c.on(prog), &self.0.shape(c.n, true), c.x, &c.params[0], b, c.y)
    }

    fn has_grad_of_grad(&self) -> bool {
        true
    }

    fn cpu_grad_of_grad(&self, c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        // In the conv view g_in = conv(g_out; W): ḡ_out = conv_input_grad(ḡ_in; W), ∂W = the
        // conv weight gradient with dy := ḡ_in, x := g_out.
        let s = self.0.shape(c.n, true);
        let mut grads = vec![conv2d_backward_weight(c.gbar_in, c.g_out, &s)];
        if self.0.bias {
            grads.push(vec![0.0; s.cin]);
        }
        Ok((conv2d_backward_input(c.gbar_in, &c.params[0], None, &s), grads))
    }

    fn gpu_grad_of_grad(&self, c: &GpuGradOfGrad<'_>, prog: &mut Program) -> Result<()> {
        let s = self.0.shape(c.n, true);
        let wt = &c.params[0];
        if let Some(o) = c.gbar_out {
            lower::backward_input(&mut c.on(prog), &s, c.gbar_in, wt, None, o)?;
        }
        lower::grads(&mut c.on(prog), &s, c.g_out, c.gbar_in, None, c.grads, true)
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        // In the conv view the layer's input x is the convolution's output gradient and the
        // layer's output gradient dy is the convolution's input.
        let s = self.0.shape(c.n, true);
        if c.weight_grads {
            let bias = self.0.bias.then_some((c.dy, (s.cin, s.h, s.w)));
            lower::grads(&mut c.on(prog), &s, c.dy, c.x, bias, c.grads, c.accumulate)?;
        }
        if let Some(dx) = c.dx {
            lower::forward(&mut c.on(prog), &s, c.dy, &c.params[0], None, dx)?;
        }
        Ok(())
    }
}

