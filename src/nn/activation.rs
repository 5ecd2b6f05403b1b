//! Element-wise activations (PyTorch's `nn.ReLU`, `nn.LeakyReLU`, `nn.Tanh`, `nn.Sigmoid`) and
//! the in-pass row copy. Every backward takes the forward *input* x and the upstream gradient dy.
//! Kernels: `shaders/activation.wgsl`. Tests: `tests/activation.rs`.

use super::{no_grad_of_grad, CpuBackward, CpuForward, CpuGradOfGrad, GpuBackward, GpuForward, GpuGradOfGrad, LayerImpl};
use crate::error::{Error, Result};
use crate::gpu::{AsArg, Dispatch, Gpu, Program};
use super::describe::Fields;
use super::Layer;
use serde_json::{json, Value};

/// An element-wise activation layer; `LeakyRelu` holds its negative slope.
///
/// ```
/// use wgpu_gan::nn::{Act, LayerImpl};
/// assert_eq!(Act::LeakyRelu(0.2).kind(), "LeakyReLU");
/// assert_eq!(Act::LeakyRelu(0.2).piecewise(), Some((0.2, false))); // fusable into the layer before
/// assert_eq!(Act::Tanh.piecewise(), None);
/// assert_eq!((Act::Relu.in_len(), Act::Relu.out_len(5)), (None, 5)); // any width, unchanged
/// assert!(Act::LeakyRelu(f32::NAN).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
}

impl Act {
    /// (negative slope, whether a ReLU) for the piecewise-linear activations, which the layer
    /// before them can fuse into its stores; None for the others.
    ///
    /// ```
    /// use wgpu_gan::nn::Act;
    /// assert_eq!(Act::Relu.piecewise(), Some((0.0, true)));
    /// assert_eq!(Act::LeakyRelu(0.2).piecewise(), Some((0.2, false)));
    /// assert_eq!(Act::Sigmoid.piecewise(), None);
    /// ```
    pub fn piecewise(self) -> Option<(f32, bool)> {
        match self {
            Act::Relu => Some((0.0, true)),
            Act::LeakyRelu(s) => Some((s, false)),
            Act::Tanh | Act::Sigmoid => None,
        }
    }
}

// ---------------------------------------------------------------- CPU reference

/// σ(v) without overflow for either sign.
///
/// ```
/// use wgpu_gan::nn::activation::sigmoid;
/// assert_eq!(sigmoid(0.0), 0.5);
/// assert_eq!((sigmoid(-200.0), sigmoid(200.0)), (0.0, 1.0)); // e^200 never computed
/// assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-6);
/// ```
pub fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// max(x, 0) element-wise.
///
/// ```
/// use wgpu_gan::nn::activation::relu_forward;
/// assert_eq!(relu_forward(&[-1.0, 0.0, 2.0]), [0.0, 0.0, 2.0]);
/// ```
pub fn relu_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| v.max(0.0)).collect()
}
/// dx = dy where x > 0, else 0.
///
/// ```
/// use wgpu_gan::nn::activation::relu_backward;
/// assert_eq!(relu_backward(&[-1.0, 0.0, 2.0], &[5.0, 5.0, 5.0]), [0.0, 0.0, 5.0]);
/// ```
pub fn relu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| if v > 0.0 { g } else { 0.0 }).collect()
}
/// x where x > 0, else slope·x.
///
/// ```
/// use wgpu_gan::nn::activation::leaky_relu_forward;
/// assert_eq!(leaky_relu_forward(&[-2.0, 3.0], 0.25), [-0.5, 3.0]);
/// ```
pub fn leaky_relu_forward(x: &[f32], slope: f32) -> Vec<f32> {
    x.iter().map(|&v| if v > 0.0 { v } else { slope * v }).collect()
}
/// dx = dy where x > 0, else slope·dy.
///
/// ```
/// use wgpu_gan::nn::activation::leaky_relu_backward;
/// assert_eq!(leaky_relu_backward(&[-2.0, 3.0], &[1.0, 1.0], 0.25), [0.25, 1.0]);
/// ```
pub fn leaky_relu_backward(x: &[f32], dy: &[f32], slope: f32) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| if v > 0.0 { g } else { slope * g }).collect()
}
/// tanh(x) element-wise.
///
/// ```
/// use wgpu_gan::nn::activation::tanh_forward;
/// let y = tanh_forward(&[0.0, 1.0, -1.0]);
/// assert_eq!(y[0], 0.0);
/// assert!((y[1] - 0.761_594_2).abs() < 1e-6 && y[2] == -y[1]);
/// ```
pub fn tanh_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v.tanh()).collect()
}
/// dx = dy / cosh²(x) = dy·(1 − tanh²(x)).
///
/// ```
/// use wgpu_gan::nn::activation::{tanh_backward, tanh_forward};
/// let dx = tanh_backward(&[0.0, 1.0], &[2.0, 1.0]);
/// assert_eq!(dx[0], 2.0);                                   // slope 1 at 0
/// let t = tanh_forward(&[1.0])[0];
/// assert!((dx[1] - (1.0 - t * t)).abs() < 1e-6);
/// ```
pub fn tanh_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| (g as f64 / (v as f64).cosh().powi(2)) as f32).collect()
}
/// σ(x) element-wise (see [`sigmoid`]).
///
/// ```
/// use wgpu_gan::nn::activation::sigmoid_forward;
/// let y = sigmoid_forward(&[0.0, 1.0]);
/// assert_eq!(y[0], 0.5);
/// assert!((y[1] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
/// ```
pub fn sigmoid_forward(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| sigmoid(v)).collect()
}
/// dx = dy·σ(x)·(1 − σ(x)).
///
/// ```
/// use wgpu_gan::nn::activation::sigmoid_backward;
/// assert_eq!(sigmoid_backward(&[0.0], &[2.0]), [0.5]);       // 2 · ½ · ½
/// ```
pub fn sigmoid_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    x.iter().zip(dy).map(|(&v, &g)| g * sigmoid(v) * sigmoid(-v)).collect()
}

/// The forward reference of any [`Act`].
///
/// ```
/// use wgpu_gan::nn::{activation::{act_forward, leaky_relu_forward}, Act};
/// let x = [-2.0, 2.0];
/// assert_eq!(act_forward(Act::LeakyRelu(0.5), &x), [-1.0, 2.0]);
/// assert_eq!(act_forward(Act::LeakyRelu(0.5), &x), leaky_relu_forward(&x, 0.5));
/// ```
pub fn act_forward(a: Act, x: &[f32]) -> Vec<f32> {
    match a {
        Act::Relu => relu_forward(x),
        Act::LeakyRelu(s) => leaky_relu_forward(x, s),
        Act::Tanh => tanh_forward(x),
        Act::Sigmoid => sigmoid_forward(x),
    }
}

/// The backward reference of any [`Act`]: dx = act'(x)·dy.
///
/// ```
/// use wgpu_gan::nn::{activation::{act_backward, act_forward}, Act};
/// let (x, h) = (0.3f32, 1e-3f32);                        // against a central difference
/// let f = |v: f32| act_forward(Act::Sigmoid, &[v])[0];
/// let fd = (f(x + h) - f(x - h)) / (2.0 * h);
/// assert!((act_backward(Act::Sigmoid, &[x], &[1.0])[0] - fd).abs() < 1e-3);
/// ```
pub fn act_backward(a: Act, x: &[f32], dy: &[f32]) -> Vec<f32> {
    match a {
        Act::Relu => relu_backward(x, dy),
        Act::LeakyRelu(s) => leaky_relu_backward(x, dy, s),
        Act::Tanh => tanh_backward(x, dy),
        Act::Sigmoid => sigmoid_backward(x, dy),
    }
}

// ---------------------------------------------------------------- kernels

crate::uniform! {
    /// Uniform of `shaders/activation.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct ActParams {
        pub n: u32,
        pub slope: f32,
        /// copy_range only: first element read and written.
        pub src: u32,
        pub dst: u32,
    }
}

crate::kernel! {
    /// y = f(x) element-wise.
    pub ActForward = "activation" :: ["relu_forward", "leaky_relu_forward", "tanh_forward", "sigmoid_forward"], ActParams { 1 x: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// dx = f'(x)·dy element-wise.
    pub ActBackward = "activation" :: ["relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward"], ActParams { 1 x: Read, 2 dy: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// The forward kernels four values at a time (a length that is a multiple of 4).
    pub ActForward4 = "activation" :: ["relu_forward4", "leaky_relu_forward4", "tanh_forward4", "sigmoid_forward4"], ActParams { 4 x4: Read, 6 out4: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// The backward kernels four values at a time.
    pub ActBackward4 = "activation" :: ["relu_backward4", "leaky_relu_backward4", "tanh_backward4", "sigmoid_backward4"], ActParams { 4 x4: Read, 5 dy4: Read, 6 out4: ReadWrite }
    trips: |_, _| 0;
}

/// y = act(x) over `len` values: four at a time when `len` is a multiple of 4.
// Public for the crate's own modules and tests, not API: records a kernel launch.
#[doc(hidden)]
pub fn push_act_forward(gpu: &Gpu, prog: &mut Program, a: Act, x: &dyn AsArg, y: &dyn AsArg, len: u32) -> Result<()> {
    let (entry, _, slope) = act_entries(a);
    let p = ActParams { n: len, slope, ..Default::default() };
    prog.push(if len % 4 == 0 {
        Dispatch::new(gpu, &ActForward4 { entry: act_entries4(a).0, x4: x, out4: y }, &p, Some(len / 4))?
    } else {
        Dispatch::new(gpu, &ActForward { entry, x, out: y }, &p, Some(len))?
    });
    Ok(())
}

/// dx = act'(x)·dy over `len` values: four at a time when `len` is a multiple of 4.
// Public for the crate's own modules and tests, not API: records a kernel launch.
#[doc(hidden)]
pub fn push_act_backward(gpu: &Gpu, prog: &mut Program, a: Act, x: &dyn AsArg, dy: &dyn AsArg, dx: &dyn AsArg, len: u32) -> Result<()> {
    let (_, entry, slope) = act_entries(a);
    let p = ActParams { n: len, slope, ..Default::default() };
    prog.push(if len % 4 == 0 {
        Dispatch::new(gpu, &ActBackward4 { entry: act_entries4(a).1, x4: x, dy4: dy, out4: dx }, &p, Some(len / 4))?
    } else {
        Dispatch::new(gpu, &ActBackward { entry, x, dy, out: dx }, &p, Some(len))?
    });
    Ok(())
}

crate::kernel! {
    /// out[dst + i] = x[src + i], i < n.
    pub CopyRange = "activation" :: "copy_range", ActParams { 1 x: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}

/// (forward entry point, backward entry point, slope) of an activation.
// Public for the crate's own modules and tests, not API: kernel entry point names (tests/activation.rs).
#[doc(hidden)]
pub fn act_entries(a: Act) -> (&'static str, &'static str, f32) {
    match a {
        Act::Relu => ("relu_forward", "relu_backward", 0.0),
        Act::LeakyRelu(s) => ("leaky_relu_forward", "leaky_relu_backward", s),
        Act::Tanh => ("tanh_forward", "tanh_backward", 0.0),
        Act::Sigmoid => ("sigmoid_forward", "sigmoid_backward", 0.0),
    }
}

/// The forward and backward entry points that take four values at a time.
// Public for the crate's own modules and tests, not API: kernel entry point names (tests/activation.rs).
#[doc(hidden)]
pub fn act_entries4(a: Act) -> (&'static str, &'static str) {
    match a {
        Act::Relu => ("relu_forward4", "relu_backward4"),
        Act::LeakyRelu(_) => ("leaky_relu_forward4", "leaky_relu_backward4"),
        Act::Tanh => ("tanh_forward4", "tanh_backward4"),
        Act::Sigmoid => ("sigmoid_forward4", "sigmoid_backward4"),
    }
}

/// A dispatch copying `n` values from `src[src_at..]` to `dst[dst_at..]` inside a compute pass.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// let gpu = Gpu::new()?;
/// let (src, dst) = (Tensor::new(&gpu, &[4], &[1.0, 2.0, 3.0, 4.0])?, Tensor::zeros(&gpu, "dst", 5)?);
/// let mut prog = Program::default();
/// prog.push(wgpu_gan::nn::copy_range(&gpu, &src, 1, &dst, 2, 3)?); // src[1..4] into dst[2..5]
/// prog.run(&gpu);
/// assert_eq!(dst.read(&gpu)?, [0.0, 0.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn copy_range(gpu: &Gpu, src: &dyn AsArg, src_at: usize, dst: &dyn AsArg, dst_at: usize, n: usize) -> Result<Dispatch> {
    let p = ActParams { n: n as u32, slope: 0.0, src: src_at as u32, dst: dst_at as u32 };
    Dispatch::new(gpu, &CopyRange { x: src, out: dst }, &p, Some(n as u32))
}

// ---------------------------------------------------------------- the layer

/// The layer from its description, if `kind` is an activation.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    let a = match kind {
        "ReLU" => Act::Relu,
        "LeakyReLU" => match (Fields { kind, v }).float("negative_slope") {
            Ok(s) => Act::LeakyRelu(s),
            Err(e) => return Some(Err(e)),
        },
        "Tanh" => Act::Tanh,
        "Sigmoid" => Act::Sigmoid,
        _ => return None,
    };
    Some(Ok(Layer::Act(a)))
}

impl LayerImpl for Act {
    fn kind(&self) -> &'static str {
        match self {
            Act::Relu => "ReLU",
            Act::LeakyRelu(_) => "LeakyReLU",
            Act::Tanh => "Tanh",
            Act::Sigmoid => "Sigmoid",
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            Act::LeakyRelu(s) if !s.is_finite() => Err(Error::Shape(format!("LeakyReLU slope {s} is not finite"))),
            _ => Ok(()),
        }
    }

    fn in_len(&self) -> Option<usize> {
        None
    }

    fn out_len(&self, inp: usize) -> usize {
        inp
    }

    fn describe(&self) -> serde_json::Value {
        match self {
            Act::LeakyRelu(s) => json!({ "negative_slope": s }),
            _ => json!({}),
        }
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        (act_forward(*self, c.x), Vec::new())
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        (act_backward(*self, c.x, c.dy), Vec::new())
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        push_act_forward(c.gpu, prog, *self, c.x, c.y, c.x_len())
    }

    fn has_grad_of_grad(&self) -> bool {
        matches!(self, Act::Relu | Act::LeakyRelu(_))
    }

    /// ReLU and LeakyReLU: g_in = g_out·s(x) with a slope s that is constant on either side of
    /// 0, so ḡ_out = ḡ_in·s(x) and nothing flows into x (almost everywhere). Tanh and sigmoid
    /// would need their second derivatives: not provided.
    fn cpu_grad_of_grad(&self, c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        match self {
            Act::Relu | Act::LeakyRelu(_) => Ok((act_backward(*self, c.x, c.gbar_in), Vec::new())),
            _ => Err(no_grad_of_grad(self.kind())),
        }
    }

    fn gpu_grad_of_grad(&self, c: &GpuGradOfGrad<'_>, prog: &mut Program) -> Result<()> {
        if !matches!(self, Act::Relu | Act::LeakyRelu(_)) {
            return Err(no_grad_of_grad(self.kind()));
        }
        if let Some(o) = c.gbar_out {
            push_act_backward(c.gpu, prog, *self, c.x, c.gbar_in, o, c.x_len())?;
        }
        Ok(())
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        if let Some(dx) = c.dx {
            push_act_backward(c.gpu, prog, *self, c.x, c.dy, dx, c.x_len())?;
        }
        Ok(())
    }
}
