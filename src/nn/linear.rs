//! Linear layer, y = x Wᵀ + b (PyTorch's `nn.Linear`: W is (out, in)): its hyper-parameters and
//! CPU reference. Its GPU passes are lowered by [`crate::ops::linear`] (the kernels of
//! `shaders/linear.wgsl`, `shaders/gemm.wgsl` or the family's products). Tests: `tests/linear.rs`.

use super::{CpuBackward, CpuForward, CpuGradOfGrad, FusedAct, GpuBackward, GpuForward, GpuGradOfGrad, LayerImpl, Param, Role};
use crate::error::{Error, Result};
use crate::gpu::{AsArg, Gpu, Program};
use crate::ops::conv_gemm::Epilogue;
use crate::ops::linear::{Backward, Lin};
#[doc(hidden)]
pub use crate::ops::linear::{blocks4, LinearParams};
use super::describe::Fields;
use super::Layer;
use serde_json::{json, Value};

/// `nn.Linear(inp, out, bias)`.
///
/// ```
/// use wgpu_gan::nn::{Layer, LayerImpl, Linear};
/// let l = Linear { inp: 3, out: 2, bias: true };
/// assert_eq!(Layer::linear(3, 2), Layer::Linear(l));
/// let shapes: Vec<Vec<usize>> = l.params().into_iter().map(|p| p.shape).collect();
/// assert_eq!(shapes, [vec![2, 3], vec![2]]);                  // W (out, in), b
/// assert_eq!(l.describe()["in_features"], 3);
/// assert!(Linear { inp: 0, ..l }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub inp: usize,
    pub out: usize,
    pub bias: bool,
}

// ---------------------------------------------------------------- CPU reference

/// x (n,inp), w (out,inp), optional b (out) -> y (n,out);  y = x Wᵀ + b
///
/// ```
/// use wgpu_gan::nn::linear::linear_forward;
/// let w = [1.0, 0.0, 1.0, 1.0];                               // rows: output 0, output 1
/// assert_eq!(linear_forward(&[1.0, 2.0], &w, Some(&[0.5, 0.0]), 1, 2, 2), [1.5, 3.0]);
/// ```
pub fn linear_forward(x: &[f32], w: &[f32], b: Option<&[f32]>, n: usize, inp: usize, out: usize) -> Vec<f32> {
    let mut y = vec![0.0; n * out];
    for r in 0..n {
        for o in 0..out {
            let acc: f64 = (0..inp).map(|i| x[r * inp + i] as f64 * w[o * inp + i] as f64).sum();
            y[r * out + o] = (acc + b.map_or(0.0, |b| b[o] as f64)) as f32;
        }
    }
    y
}

/// dy (n,out), w (out,inp) -> dx (n,inp);  dx = dy W
///
/// ```
/// use wgpu_gan::nn::linear::linear_backward_input;
/// let w = [1.0, 0.0, 1.0, 1.0];
/// assert_eq!(linear_backward_input(&[1.0, 1.0], &w, 1, 2, 2), [2.0, 1.0]); // the rows of W, summed
/// ```
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
///
/// ```
/// use wgpu_gan::nn::linear::linear_backward_weight;
/// let x = [1.0, 2.0, 3.0, 4.0];                               // n = 2 rows of 2
/// assert_eq!(linear_backward_weight(&[1.0, 2.0], &x, 2, 2, 1), [1.0 + 2.0 * 3.0, 2.0 + 2.0 * 4.0]);
/// ```
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
///
/// ```
/// use wgpu_gan::nn::linear::linear_backward_bias;
/// assert_eq!(linear_backward_bias(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), [5.0, 7.0, 9.0]);
/// ```
pub fn linear_backward_bias(dy: &[f32], n: usize, out: usize) -> Vec<f32> {
    (0..out).map(|o| (0..n).map(|r| dy[r * out + o] as f64).sum::<f64>() as f32).collect()
}

// ---------------------------------------------------------------- the layer

/// The layer from its description, if `kind` is this layer's.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    let f = Fields { kind, v };
    (kind == "Linear").then(|| Ok(Layer::Linear(Linear { inp: f.uint("in_features")?, out: f.uint("out_features")?, bias: f.flag("bias")? })))
}

impl LayerImpl for Linear {
    fn kind(&self) -> &'static str {
        "Linear"
    }

    fn validate(&self) -> Result<()> {
        if self.inp == 0 || self.out == 0 {
            return Err(Error::Shape(format!("{self:?}: a Linear layer has zero width")));
        }
        Ok(())
    }

    fn in_len(&self) -> Option<usize> {
        Some(self.inp)
    }

    fn out_len(&self, _inp: usize) -> usize {
        self.out
    }

    fn params(&self) -> Vec<Param> {
        let mut v = vec![Param::new("weight", vec![self.out, self.inp], Role::Weight)];
        if self.bias {
            v.push(Param::new("bias", vec![self.out], Role::Bias));
        }
        v
    }

    fn scratch_len(&self, n: usize, parallel: u64) -> usize {
        self.lower().scratch_len(n, parallel)
    }

    fn work_lens(&self, n: usize, gpu: &Gpu) -> [usize; 4] {
        self.lower().work_lens(gpu, n)
    }

    fn transpose_lens(&self, n: usize) -> Result<(usize, usize)> {
        let n4 = n.div_ceil(4) * 4;
        let mul = |a: usize, b: usize| a.checked_mul(b).ok_or_else(|| Error::Limit(format!("a {a} × {b} transpose does not fit in memory")));
        // (Wᵀ or dyᵀ, xᵀ)
        let wt = mul(self.inp, self.out.div_ceil(4) * 4)?;
        Ok((wt.max(mul(self.out, n4)?), mul(self.inp, n4)?))
    }

    fn describe(&self) -> serde_json::Value {
        json!({ "in_features": self.inp, "out_features": self.out, "bias": self.bias })
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        let b = self.bias.then(|| c.params[1].as_slice());
        (linear_forward(c.x, &c.params[0], b, c.n, self.inp, self.out), Vec::new())
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        let mut grads = Vec::new();
        if c.weight_grads {
            grads.push(linear_backward_weight(c.dy, c.x, c.n, self.inp, self.out));
            if self.bias {
                grads.push(linear_backward_bias(c.dy, c.n, self.out));
            }
        }
        (linear_backward_input(c.dy, &c.params[0], c.n, self.inp, self.out), grads)
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        let b = if self.bias { Some(&c.params[1] as &dyn AsArg) } else { None };
        self.lower().forward(&mut c.on(prog), c.x, &c.params[0], b, c.y, c.n, None).map(|_| ())
    }

    fn gpu_forward_fused(&self, c: &GpuForward<'_>, then: FusedAct<'_>, prog: &mut Program) -> Result<bool> {
        let Some((slope, relu)) = then.act.piecewise() else { return Ok(false) };
        let b = if self.bias { Some(&c.params[1] as &dyn AsArg) } else { None };
        self.lower().forward(&mut c.on(prog), c.x, &c.params[0], b, c.y, c.n, Some(Epilogue::Act { post: then.buf, slope, relu }))
    }

    fn has_grad_of_grad(&self) -> bool {
        true
    }

    fn cpu_grad_of_grad(&self, c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        // g_in = g_out W: ḡ_out = ḡ_in Wᵀ, ∂W = g_outᵀ ḡ_in; the bias does not enter g_in.
        let gbar_out = linear_forward(c.gbar_in, &c.params[0], None, c.n, self.inp, self.out);
        let mut grads = vec![linear_backward_weight(c.g_out, c.gbar_in, c.n, self.inp, self.out)];
        if self.bias {
            grads.push(vec![0.0; self.out]);
        }
        Ok((gbar_out, grads))
    }

    fn gpu_grad_of_grad(&self, c: &GpuGradOfGrad<'_>, prog: &mut Program) -> Result<()> {
        if let Some(o) = c.gbar_out {
            self.lower().forward(&mut c.on(prog), c.gbar_in, &c.params[0], None, o, c.n, None)?;
        }
        self.lower().weight_grad(&mut c.on(prog), c.g_out, c.gbar_in, c.n, &c.grads[0], true)
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        self.lower().backward(&self.backward_args(c), None, &mut c.on(prog)).map(|_| ())
    }

    fn gpu_backward_fused(&self, c: &GpuBackward<'_>, below: FusedAct<'_>, prog: &mut Program) -> Result<bool> {
        let Some((slope, relu)) = below.act.piecewise() else { return Ok(false) };
        self.lower().backward(&self.backward_args(c), Some(Epilogue::Dact { pre: below.buf, slope, relu }), &mut c.on(prog))
    }
}

impl Linear {
    /// This layer's shape, as its lowering takes it.
    fn lower(&self) -> Lin {
        Lin { inp: self.inp, out: self.out, bias: self.bias }
    }

    fn backward_args<'a>(&self, c: &GpuBackward<'a>) -> Backward<'a> {
        Backward { n: c.n, x: c.x, dy: c.dy, w: &c.params[0], dx: c.dx, grads: c.weight_grads.then_some((c.grads, c.accumulate)) }
    }
}
