//! Layers and sequential networks. A network is a list of [`Layer`]s applied one after another to
//! a batch of n samples stored back to back (NCHW for images). Reshapes cost nothing: a layer only
//! checks that it receives as many values per sample as it expects, so Linear(100, 6272) feeds a
//! BatchNorm1d(6272) and then a ConvTranspose2d reading (128, 7, 7) from the same buffer, and a
//! Conv2d output flattens into a Linear layer the same way.
//!
//! **One layer, one module.** Each layer kind lives in its own file with everything it is:
//! its hyper-parameters, its CPU reference forward and backward (plain loops, the specification),
//! its kernels' typed bindings and uniforms, and its GPU launches, next to `shaders/<name>.wgsl`
//! and `tests/<name>.rs`: [`linear`], [`conv`], [`conv_transpose`], [`batchnorm`],
//! [`activation`], [`reshape`]. Each implements [`LayerImpl`]; [`Layer`] is the serialisable value
//! that names one of them (adding a layer: its module, a variant, one arm of [`Layer::imp`] and
//! its parser in [`Layer::parse`]; docs/ARCHITECTURE.md walks through it).
//!
//! [`CpuNet`] is the reference network; [`GpuNet`] builds the same computation as
//! [`Program`]s of WGSL dispatches. Both keep the activations of each forward
//! pass in a numbered *slot*, so that one network can run forward on two batches (a
//! discriminator's real and generated halves, which batch normalisation must not mix) and then
//! backpropagate each, adding the second pass's parameter gradients to the first's.

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod conv_transpose;
mod cpu_net;
pub mod describe;
mod gpu_net;
pub mod linear;
pub mod reshape;

pub use activation::{copy_range, Act};
pub use batchnorm::BnSpec;
pub use conv::{ConvShape, ConvSpec};
pub use cpu_net::CpuNet;
pub use gpu_net::{GpuNet, Grads};
pub use crate::ops::Workspace;
pub use linear::Linear;
pub use reshape::Reshape;

use crate::error::{Error, Result};
use crate::gpu::{AsArg, Gpu, Program, Tensor};
use crate::ops::Launch;

/// A layer's running state: initial values, and its named parts with their lengths.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, LayerImpl, Running};
/// let (init, parts): Running = BnSpec::new(2, 1).running().unwrap();
/// assert_eq!(init, [0.0, 0.0, 1.0, 1.0]);                       // mean 0, var 1
/// assert_eq!(parts, [("running_mean", 2), ("running_var", 2)]);
/// ```
pub type Running = (Vec<f32>, Vec<(&'static str, usize)>);
/// A layer kind's description reader: `None` when `kind` is not its.
pub(crate) type Parser = fn(&str, &serde_json::Value) -> Option<std::result::Result<Layer, String>>;
/// A network's weights: its parameters and its layers' running state.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, Init, Layer, NetSpec, Weights};
/// let spec = NetSpec { layers: vec![Layer::linear(2, 4), Layer::BatchNorm(BnSpec::new(4, 1))] };
/// let (params, running): Weights = (spec.init(3, 0, Init::PyTorch), spec.init_running());
/// assert_eq!(params.iter().map(Vec::len).collect::<Vec<_>>(), [8, 4, 4, 4]); // W, b, γ, β
/// assert_eq!(running, [vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]);      // mean ++ var
/// ```
pub type Weights = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// What a parameter tensor is, for initialisation and for diagnostics.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, Init, Layer, NetSpec, Role};
/// let spec = NetSpec { layers: vec![Layer::linear(2, 3), Layer::BatchNorm(BnSpec::new(3, 1))] };
/// let roles: Vec<Role> = spec.params().iter().map(|(_, p)| p.role).collect();
/// assert_eq!(roles, [Role::Weight, Role::Bias, Role::Scale, Role::Shift]);
/// assert_eq!(spec.init(1, 0, Init::PyTorch)[2], [1.0; 3]);     // γ starts at 1
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A weight matrix or kernel: initialised from its fan-in.
    Weight,
    /// An additive bias.
    Bias,
    /// A batch norm's γ.
    Scale,
    /// A batch norm's β.
    Shift,
}

/// One parameter tensor of a layer: PyTorch's attribute name, shape and role.
///
/// ```
/// use wgpu_gan::nn::{Param, Role};
/// let p = Param::new("weight", vec![8, 3, 4, 4], Role::Weight);
/// assert_eq!(p.len(), 384);
/// assert!(!p.is_empty() && Param::new("bias", vec![0], Role::Bias).is_empty());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub role: Role,
}

impl Param {
    /// A parameter called `name` of this shape.
    ///
    /// ```
    /// use wgpu_gan::nn::{Param, Role};
    /// let p = Param::new("weight", vec![4, 2], Role::Weight);
    /// assert_eq!((p.name, p.shape.as_slice(), p.role), ("weight", &[4, 2][..], Role::Weight));
    /// ```
    pub fn new(name: &'static str, shape: Vec<usize>, role: Role) -> Param {
        Param { name, shape, role }
    }
    /// Number of values: the product of the shape.
    ///
    /// ```
    /// use wgpu_gan::nn::{Param, Role};
    /// assert_eq!(Param::new("weight", vec![8, 1, 4, 4], Role::Weight).len(), 128);
    /// ```
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether it holds no value (a zero in its shape).
    ///
    /// ```
    /// use wgpu_gan::nn::{Param, Role};
    /// assert!(Param::new("weight", vec![0, 3], Role::Weight).is_empty());
    /// assert!(!Param::new("bias", vec![3], Role::Bias).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A CPU forward pass of one layer.
///
/// ```
/// use wgpu_gan::nn::{CpuForward, Layer, Mode};
/// let params = [vec![1.0, 2.0], vec![0.5]];                   // Linear(2, 1): W, b
/// let c = CpuForward { x: &[1.0, 1.0, 2.0, 0.0], n: 2, params: &params, running: None, mode: Mode::Train };
/// let (y, saved) = Layer::linear(2, 1).imp().cpu_forward(c);
/// assert_eq!((y, saved.len()), (vec![3.5, 2.5], 0));          // x Wᵀ + b; nothing kept
/// ```
pub struct CpuForward<'a> {
    pub x: &'a [f32],
    pub n: usize,
    pub params: &'a [Vec<f32>],
    /// The layer's running state (see [`LayerImpl::running`]), updated in `Train` mode.
    pub running: Option<&'a mut Vec<f32>>,
    pub mode: Mode,
}

/// A CPU backward pass of one layer through a training-mode forward pass.
///
/// ```
/// use wgpu_gan::nn::{CpuBackward, Layer};
/// let params = [vec![1.0, 2.0], vec![0.5]];                   // Linear(2, 1)
/// let c = CpuBackward { x: &[1.0, 1.0, 2.0, 0.0], dy: &[1.0, -1.0], n: 2, params: &params, saved: &[], weight_grads: true };
/// let (dx, grads) = Layer::linear(2, 1).imp().cpu_backward(c);
/// assert_eq!(dx, [1.0, 2.0, -1.0, -2.0]);                     // dy W
/// assert_eq!(grads, [vec![-1.0, 1.0], vec![0.0]]);            // dyᵀ x, Σ dy
/// ```
pub struct CpuBackward<'a> {
    /// The layer's input in that pass.
    pub x: &'a [f32],
    pub dy: &'a [f32],
    pub n: usize,
    pub params: &'a [Vec<f32>],
    /// What the forward pass saved (see [`LayerImpl::saved_len`]).
    pub saved: &'a [f32],
    /// Whether to compute the parameter gradients.
    pub weight_grads: bool,
}

/// A GPU forward pass of one layer at batch `n` in `mode`.
///
/// ```
/// use wgpu_gan::nn::{Act, GpuForward, Layer, Mode, Workspace};
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// # let gpu = Gpu::new()?;
/// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
/// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;  // a network's shared buffers
/// let (x, y) = (t(&[-1.0, 2.0, -3.0, 4.0])?, t(&[0.0; 4])?);
/// let c = GpuForward { gpu: &gpu, n: 2, width: 2, mode: Mode::Train, x: &x, y: &y, params: &[], running: None, saved: None, ws: &ws };
/// assert_eq!(c.x_len(), 4);
/// let mut prog = Program::default();
/// Layer::Act(Act::Relu).imp().gpu_forward(&c, &mut prog)?;
/// prog.run(&gpu);
/// assert_eq!(y.read(&gpu)?, [0.0, 2.0, 0.0, 4.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuForward<'a> {
    pub gpu: &'a Gpu,
    pub n: usize,
    /// Values per sample of the input.
    pub width: usize,
    pub mode: Mode,
    pub x: &'a dyn AsArg,
    pub y: &'a dyn AsArg,
    pub params: &'a [Tensor],
    pub running: Option<&'a Tensor>,
    /// This layer's saved tensor in the pass's slot (see [`LayerImpl::saved_len`]).
    pub saved: Option<&'a Tensor>,
    pub ws: &'a Workspace,
}

/// An activation that a neighbouring layer runs inside its own kernels ([`GpuNet`] offers each
/// ReLU or LeakyReLU to the layer before it: see [`LayerImpl::gpu_forward_fused`]).
///
/// ```
/// use wgpu_gan::nn::{Act, BnSpec, FusedAct, GpuForward, LayerImpl, Mode, Workspace};
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// # let gpu = Gpu::new()?;
/// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
/// let bn = BnSpec::new(1, 1);                                  // BatchNorm1d(1), then a ReLU
/// let (x, y, relu, saved) = (t(&[1.0, 3.0])?, t(&[0.0; 2])?, t(&[0.0; 2])?, t(&[0.0; 4])?);
/// let (params, running) = ([t(&[1.0])?, t(&[0.0])?], t(&[0.0, 1.0])?);
/// let ws = Workspace::new(&gpu, "ws", bn.scratch_len(2, gpu.parallel_invocations()).max(1), [1, 1], [1; 3])?;
/// let c = GpuForward { gpu: &gpu, n: 2, width: 1, mode: Mode::Train, x: &x, y: &y, params: &params, running: Some(&running), saved: Some(&saved), ws: &ws };
/// let mut prog = Program::default();
/// assert!(bn.gpu_forward_fused(&c, FusedAct { act: Act::Relu, buf: &relu }, &mut prog)?);
/// prog.run(&gpu);
/// let (y, r) = (y.read(&gpu)?, relu.read(&gpu)?);               // y ≈ (−1, 1), r = relu(y)
/// assert!((y[0] + 1.0).abs() < 1e-4 && r[0] == 0.0 && (r[1] - 1.0).abs() < 1e-4);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct FusedAct<'a> {
    pub act: Act,
    /// Forward: where the activation's output goes; backward: the activation's input.
    pub buf: &'a dyn AsArg,
}

/// A GPU backward pass of one layer through the pass that read `x`.
///
/// ```
/// use wgpu_gan::nn::{Act, GpuBackward, Layer, Workspace};
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// # let gpu = Gpu::new()?;
/// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
/// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;  // a network's shared buffers
/// let (x, dy, dx) = (t(&[-1.0, 2.0, -3.0, 4.0])?, t(&[1.0; 4])?, t(&[9.0; 4])?);
/// let c = GpuBackward { gpu: &gpu, n: 4, width: 1, x: &x, dy: &dy, dx: Some(&dx), params: &[], grads: &[], saved: None, weight_grads: false, accumulate: false, ws: &ws };
/// let mut prog = Program::default();
/// Layer::Act(Act::Relu).imp().gpu_backward(&c, &mut prog)?;
/// prog.run(&gpu);
/// assert_eq!(dx.read(&gpu)?, [0.0, 1.0, 0.0, 1.0]);           // dy where x > 0
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuBackward<'a> {
    pub gpu: &'a Gpu,
    pub n: usize,
    /// Values per sample of the input.
    pub width: usize,
    pub x: &'a dyn AsArg,
    pub dy: &'a dyn AsArg,
    /// Where the input gradient goes (none: not needed).
    pub dx: Option<&'a dyn AsArg>,
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub saved: Option<&'a Tensor>,
    /// Whether to compute the parameter gradients, and whether to add them into the present ones.
    pub weight_grads: bool,
    pub accumulate: bool,
    pub ws: &'a Workspace,
}

/// The gradient of an input gradient, for penalties on it (WGAN-GP). A backward pass maps the
/// gradient at a layer's output, g_out, to the one at its input, g_in = B(g_out; W, x). Given ḡ_in,
/// the gradient of a penalty with respect to g_in, this gives ḡ_out = (∂g_in/∂g_out)ᵀ ḡ_in, to
/// pass on to the next layer, and the penalty's gradient with respect to the layer's parameters,
/// (∂g_in/∂W)ᵀ ḡ_in. For the layers a WGAN-GP critic uses B is linear in g_out and does not
/// depend on x (or only through a mask that is constant almost everywhere), so both are the
/// layer's own kernels with other operands: Linear's ḡ_out = ḡ_in Wᵀ (the forward pass without
/// bias) and ∂W = g_outᵀ ḡ_in (the weight gradient with dy := g_out, x := ḡ_in).
///
/// ```
/// use wgpu_gan::nn::{CpuGradOfGrad, Layer};
/// // Linear(2, 1) with W = (1, 2): g_in = g_out·W. Penalty g_in[0] at g_out = 3: ḡ_in = (1, 0).
/// let params = [vec![1.0, 2.0], vec![0.0]];
/// let c = CpuGradOfGrad { x: &[5.0, 5.0], g_out: &[3.0], gbar_in: &[1.0, 0.0], n: 1, params: &params };
/// let (gbar_out, grads) = Layer::linear(2, 1).imp().cpu_grad_of_grad(c)?;
/// assert_eq!(gbar_out, [1.0]);                       // ∂penalty/∂g_out = W[0]
/// assert_eq!(grads, [vec![3.0, 0.0], vec![0.0]]);    // ∂penalty/∂W = (g_out, 0); no bias in g_in
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct CpuGradOfGrad<'a> {
    /// The layer's input in the forward pass.
    pub x: &'a [f32],
    /// The gradient at its output in the backward pass.
    pub g_out: &'a [f32],
    /// The penalty's gradient with respect to the gradient at its input.
    pub gbar_in: &'a [f32],
    pub n: usize,
    pub params: &'a [Vec<f32>],
}

/// [`CpuGradOfGrad`] on the GPU; parameter gradients are added to `grads`.
///
/// ```
/// use wgpu_gan::nn::{Act, GpuGradOfGrad, LayerImpl, Workspace};
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// # let gpu = Gpu::new()?;
/// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
/// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;  // a network's shared buffers
/// let (x, g_out, gbar_in, gbar_out) = (t(&[-1.0, 2.0, -3.0, 4.0])?, t(&[1.0; 4])?, t(&[5.0; 4])?, t(&[0.0; 4])?);
/// let c = GpuGradOfGrad { gpu: &gpu, n: 4, width: 1, x: &x, g_out: &g_out, gbar_in: &gbar_in, gbar_out: Some(&gbar_out), params: &[], grads: &[], ws: &ws };
/// let mut prog = Program::default();
/// Act::Relu.gpu_grad_of_grad(&c, &mut prog)?;                  // ḡ_out = ḡ_in where x > 0
/// prog.run(&gpu);
/// assert_eq!(gbar_out.read(&gpu)?, [0.0, 5.0, 0.0, 5.0]);
/// assert!(Act::Tanh.gpu_grad_of_grad(&c, &mut prog).is_err()); // not provided
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuGradOfGrad<'a> {
    pub gpu: &'a Gpu,
    pub n: usize,
    /// Values per sample of the layer's input.
    pub width: usize,
    pub x: &'a dyn AsArg,
    pub g_out: &'a dyn AsArg,
    pub gbar_in: &'a dyn AsArg,
    /// Where ḡ_out goes (none for a network's last layer).
    pub gbar_out: Option<&'a dyn AsArg>,
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub ws: &'a Workspace,
}

impl GpuGradOfGrad<'_> {
    /// Values of the whole input batch.
    ///
    /// ```
    /// use wgpu_gan::nn::{GpuGradOfGrad, Workspace};
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// # let gpu = Gpu::new()?;
    /// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;
    /// let x = Tensor::zeros(&gpu, "x", 12)?;
    /// let c = GpuGradOfGrad { gpu: &gpu, n: 4, width: 3, x: &x, g_out: &x, gbar_in: &x, gbar_out: None, params: &[], grads: &[], ws: &ws };
    /// assert_eq!(c.x_len(), 12);                                   // n · width
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn x_len(&self) -> u32 {
        (self.n * self.width) as u32
    }

    // Public for the layers' modules (it returns a launch context of the hidden `ops` module), not API.
    /// Where this layer's launches go: the `ops` functions' context, pushing into `prog`.
    #[doc(hidden)]
    pub fn on<'p>(&'p self, prog: &'p mut Program) -> Launch<'p> {
        Launch::new(self.gpu, self.ws, prog)
    }
}

/// The error of a layer without [`LayerImpl::cpu_grad_of_grad`].
///
/// ```
/// use wgpu_gan::nn::{no_grad_of_grad, Act, CpuGradOfGrad, LayerImpl};
/// let c = CpuGradOfGrad { x: &[0.0], g_out: &[1.0], gbar_in: &[1.0], n: 1, params: &[] };
/// let e = Act::Tanh.cpu_grad_of_grad(c).unwrap_err();
/// assert!(matches!(e, wgpu_gan::Error::Shape(_)) && e.to_string().starts_with("invalid shape or setting: Tanh:"));
/// assert_eq!(e.to_string(), no_grad_of_grad("Tanh").to_string());
/// ```
pub fn no_grad_of_grad(kind: &str) -> Error {
    Error::Shape(format!(
        "{kind}: a gradient penalty needs the gradient of this layer's input gradient, which it does not provide \
         (a WGAN-GP critic is made of Linear, Conv2d, ConvTranspose2d, ReLU/LeakyReLU and reshapes, without batch norm)"
    ))
}

impl GpuForward<'_> {
    /// Values of the whole input batch.
    ///
    /// ```
    /// use wgpu_gan::nn::{GpuForward, Mode, Workspace};
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// # let gpu = Gpu::new()?;
    /// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;
    /// let x = Tensor::zeros(&gpu, "x", 12)?;
    /// let c = GpuForward { gpu: &gpu, n: 4, width: 3, mode: Mode::Train, x: &x, y: &x, params: &[], running: None, saved: None, ws: &ws };
    /// assert_eq!(c.x_len(), 12);                                   // n · width
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn x_len(&self) -> u32 {
        (self.n * self.width) as u32
    }

    // Public for the layers' modules (it returns a launch context of the hidden `ops` module), not API.
    /// Where this layer's launches go: the `ops` functions' context, pushing into `prog`.
    #[doc(hidden)]
    pub fn on<'p>(&'p self, prog: &'p mut Program) -> Launch<'p> {
        Launch::new(self.gpu, self.ws, prog)
    }
}

impl GpuBackward<'_> {
    /// Values of the whole input batch.
    ///
    /// ```
    /// use wgpu_gan::nn::{GpuBackward, Workspace};
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// # let gpu = Gpu::new()?;
    /// # let ws = Workspace::new(&gpu, "ws", 1, [1, 1], [1; 3])?;
    /// let x = Tensor::zeros(&gpu, "x", 12)?;
    /// let c = GpuBackward { gpu: &gpu, n: 4, width: 3, x: &x, dy: &x, dx: None, params: &[], grads: &[], saved: None, weight_grads: false, accumulate: false, ws: &ws };
    /// assert_eq!(c.x_len(), 12);                                   // n · width
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn x_len(&self) -> u32 {
        (self.n * self.width) as u32
    }

    // Public for the layers' modules (it returns a launch context of the hidden `ops` module), not API.
    /// Where this layer's launches go: the `ops` functions' context, pushing into `prog`.
    #[doc(hidden)]
    pub fn on<'p>(&'p self, prog: &'p mut Program) -> Launch<'p> {
        Launch::new(self.gpu, self.ws, prog)
    }
}

/// What every layer kind provides. The network code ([`CpuNet`], [`GpuNet`], checkpoints,
/// initialisation) goes through this trait only.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, Layer, LayerImpl, Mode};
/// let l: Box<dyn LayerImpl> = Layer::BatchNorm(BnSpec::new(16, 49)).imp();
/// assert_eq!((l.kind(), l.in_len(), l.out_len(784)), ("BatchNorm2d", Some(784), 784));
/// assert_eq!((l.params().len(), l.saved_len()), (2, 4 * 16));   // γ, β; mean, 1/σ and two sums
/// assert!(l.running().is_some() && !l.is_view() && !l.has_grad_of_grad());
/// assert_eq!(l.describe()["num_features"], 16);
/// assert!(l.check_batch(1, Mode::Eval).is_ok());
/// ```
pub trait LayerImpl {
    /// PyTorch's class name of the layer ("Conv2d").
    fn kind(&self) -> &'static str;
    /// Checks the hyper-parameters.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// Values per sample this layer reads (None for layers that take whatever they get).
    fn in_len(&self) -> Option<usize>;
    /// Values per sample it writes, given what it reads.
    fn out_len(&self, inp: usize) -> usize;
    /// Checks that a forward pass at batch `n` in `mode` can run (batch statistics need two values
    /// per channel).
    fn check_batch(&self, _n: usize, _mode: Mode) -> Result<()> {
        Ok(())
    }
    /// Parameter tensors in PyTorch's order.
    fn params(&self) -> Vec<Param> {
        Vec::new()
    }
    /// Initial values of the state kept beside the parameters, not trained (a batch norm's
    /// running mean and variance, concatenated), and the names of its parts with their lengths.
    fn running(&self) -> Option<Running> {
        None
    }
    /// Whether the output is the input itself (a reshape): the network then gives both the same
    /// buffer, and so their gradients too.
    fn is_view(&self) -> bool {
        false
    }
    /// Values a forward pass keeps for its backward pass besides the layer's input (per slot).
    fn saved_len(&self) -> usize {
        0
    }
    /// Floats of split-reduction scratch space this layer needs at batch `n`.
    fn scratch_len(&self, _n: usize, _parallel: u64) -> usize {
        0
    }
    /// Floats of the two transposition buffers this layer needs at batch `n`.
    fn transpose_lens(&self, _n: usize) -> Result<(usize, usize)> {
        Ok((0, 0))
    }
    /// Floats of the three work buffers and of split partial sums that this layer's lowering
    /// needs on `gpu` at batch `n` (see [`crate::ops::conv::work_lens`]).
    fn work_lens(&self, _n: usize, _gpu: &Gpu) -> [usize; 4] {
        [0; 4]
    }
    /// The layer's hyper-parameters as a JSON object (see [`describe`]).
    fn describe(&self) -> serde_json::Value;
    /// Forward on the CPU: (output, saved values for the backward pass).
    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>);
    /// Backward on the CPU: (input gradient, parameter gradients when asked for).
    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>);
    /// Appends the forward pass's dispatches.
    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()>;
    /// Appends the backward pass's dispatches.
    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()>;
    /// Appends this layer's forward pass with the ReLU or LeakyReLU after it (`then`) fused in:
    /// the layer's output into `c.y` as ever, the activation's into `then.buf`. Ok(false), with
    /// nothing appended, where this layer cannot (the network then runs the activation).
    fn gpu_forward_fused(&self, _c: &GpuForward<'_>, _then: FusedAct<'_>, _prog: &mut Program) -> Result<bool> {
        Ok(false)
    }
    /// Appends this layer's backward pass with its input gradient taken on through the ReLU or
    /// LeakyReLU before it (`below`, `below.buf` being that activation's input): `c.dx` is then
    /// the gradient at the activation's input. Ok(false), with nothing appended, where it cannot.
    fn gpu_backward_fused(&self, _c: &GpuBackward<'_>, _below: FusedAct<'_>, _prog: &mut Program) -> Result<bool> {
        Ok(false)
    }
    /// Appends this layer's backward pass taken from the output of the ReLU or LeakyReLU after
    /// it (`above`): `c.dy` is the gradient at the activation's output, `c.dx` as ever at this
    /// layer's input. Only asked of a layer whose [`LayerImpl::gpu_forward_fused`] stored that
    /// activation, which must then return Ok(true) here too (the activation's own pass has not
    /// run, and its input was not kept apart from this layer's output). Ok(false) otherwise.
    fn gpu_backward_through(&self, _c: &GpuBackward<'_>, _above: Act, _prog: &mut Program) -> Result<bool> {
        Ok(false)
    }
    /// Whether [`LayerImpl::cpu_grad_of_grad`] and [`LayerImpl::gpu_grad_of_grad`] are provided
    /// (what a gradient penalty needs of every critic layer).
    fn has_grad_of_grad(&self) -> bool {
        false
    }
    /// The gradient of the input gradient (see [`CpuGradOfGrad`]): (ḡ_out, parameter gradients).
    fn cpu_grad_of_grad(&self, _c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        Err(no_grad_of_grad(self.kind()))
    }
    /// The same on the GPU, adding into the parameter gradients.
    fn gpu_grad_of_grad(&self, _c: &GpuGradOfGrad<'_>, _prog: &mut Program) -> Result<()> {
        Err(no_grad_of_grad(self.kind()))
    }
}

/// One layer of a sequential network.
///
/// ```
/// use wgpu_gan::nn::{Act, Layer, Linear};
/// let l = Layer::linear(100, 256);
/// assert_eq!(l, Layer::Linear(Linear { inp: 100, out: 256, bias: true }));
/// assert_eq!(l.param_shapes(), [("weight", vec![256, 100]), ("bias", vec![256])]);
/// let v = serde_json::json!({ "negative_slope": 0.2 });
/// assert_eq!(Layer::parse("LeakyReLU", &v), Ok(Layer::Act(Act::LeakyRelu(0.2))));
/// assert!(Layer::parse("Dropout", &v).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    Linear(Linear),
    Conv2d(ConvSpec),
    ConvT2d(ConvSpec),
    BatchNorm(BnSpec),
    Act(Act),
    Reshape(Reshape),
}

impl Layer {
    /// The layer's implementation (the one place that maps a kind to its module).
    ///
    /// ```
    /// use wgpu_gan::nn::{BnSpec, Layer};
    /// assert_eq!(Layer::BatchNorm(BnSpec::new(4, 1)).imp().kind(), "BatchNorm1d");
    /// let l = Layer::linear(3, 2).imp();
    /// assert_eq!((l.in_len(), l.out_len(3), l.params().len()), (Some(3), 2, 2));
    /// ```
    pub fn imp(&self) -> Box<dyn LayerImpl> {
        match *self {
            Layer::Linear(l) => Box::new(l),
            Layer::Conv2d(c) => Box::new(conv::Conv2d(c)),
            Layer::ConvT2d(c) => Box::new(conv_transpose::ConvTranspose2d(c)),
            Layer::BatchNorm(b) => Box::new(b),
            Layer::Act(a) => Box::new(a),
            Layer::Reshape(r) => Box::new(r),
        }
    }

    /// The layer a description names (see [`describe`]): each module reads its own kinds.
    ///
    /// ```
    /// use wgpu_gan::nn::{Layer, Linear};
    /// use serde_json::json;
    /// let v = json!({ "in_features": 3, "out_features": 2, "bias": false });
    /// assert_eq!(Layer::parse("Linear", &v), Ok(Layer::Linear(Linear { inp: 3, out: 2, bias: false })));
    /// assert!(Layer::parse("Linear", &json!({ "in_features": 3 })).is_err()); // out_features missing
    /// assert_eq!(Layer::parse("GRU", &v), Err("unknown layer kind \"GRU\"".to_string()));
    /// ```
    pub fn parse(kind: &str, v: &serde_json::Value) -> std::result::Result<Layer, String> {
        const PARSERS: &[Parser] =
            &[linear::parse, conv::parse, conv_transpose::parse, batchnorm::parse, activation::parse, reshape::parse];
        PARSERS.iter().find_map(|p| p(kind, v)).unwrap_or_else(|| Err(format!("unknown layer kind \"{kind}\"")))
    }

    /// Linear(inp → out) with a bias.
    ///
    /// ```
    /// use wgpu_gan::nn::{Layer, Linear, NetSpec};
    /// assert_eq!(Layer::linear(4, 2), Layer::Linear(Linear { inp: 4, out: 2, bias: true }));
    /// assert_eq!(NetSpec { layers: vec![Layer::linear(4, 2)] }.param_lens(), [8, 2]);
    /// ```
    pub fn linear(inp: usize, out: usize) -> Layer {
        Layer::Linear(Linear { inp, out, bias: true })
    }

    /// Parameter tensors: (PyTorch name suffix, shape).
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, BnSpec, ConvSpec, Layer};
    /// assert_eq!(Layer::BatchNorm(BnSpec::new(8, 4)).param_shapes(), [("weight", vec![8]), ("bias", vec![8])]);
    /// assert_eq!(Layer::Conv2d(ConvSpec::new(1, 8, 28, 28, 4, 2, 1)).param_shapes()[0], ("weight", vec![8, 1, 4, 4]));
    /// assert!(Layer::Act(Act::Tanh).param_shapes().is_empty());
    /// ```
    pub fn param_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        self.imp().params().into_iter().map(|p| (p.name, p.shape)).collect()
    }
}

/// How parameters start.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, Init, Layer, NetSpec};
/// let spec = NetSpec { layers: vec![Layer::linear(4, 2), Layer::BatchNorm(BnSpec::new(2, 1))] };
/// let p = spec.init(7, 0, Init::PyTorch);
/// assert!(p[0].iter().all(|w| w.abs() <= 0.5) && p[2] == [1.0, 1.0]); // U(±1/√4); γ = 1
/// let d = spec.init(7, 0, Init::Dcgan);
/// assert_eq!((&d[1], &d[3]), (&vec![0.0, 0.0], &vec![0.0, 0.0]));      // bias and β 0
/// assert_eq!(spec.init(7, 0, Init::Dcgan), d);                        // same seed, same weights
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// PyTorch's defaults: weights and biases U(−1/√fan_in, 1/√fan_in); BatchNorm γ = 1, β = 0.
    PyTorch,
    /// DCGAN (Radford et al.): weights N(0, 0.02), biases 0, BatchNorm γ ~ N(1, 0.02), β = 0.
    Dcgan,
}

/// A sequential network's architecture.
///
/// ```
/// use wgpu_gan::nn::{Act, BnSpec, Layer, NetSpec};
/// let g = NetSpec { layers: vec![Layer::linear(4, 8), Layer::BatchNorm(BnSpec::new(8, 1)), Layer::Act(Act::Relu), Layer::linear(8, 2)] };
/// assert_eq!((g.in_dim(), g.out_dim(), g.has_batchnorm()), (4, 2, true));
/// assert_eq!(g.param_names()[2], ("1.weight".to_string(), vec![8])); // the batch norm's γ
/// assert!(g.structurally_zero(1));                                 // the bias before it
/// let bad = NetSpec { layers: vec![Layer::linear(4, 8), Layer::linear(9, 2)] };
/// assert!(bad.widths().is_err());                                  // 8 values into 9
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    pub layers: Vec<Layer>,
}

impl NetSpec {
    /// Linear layers of the given widths with `hidden` between them and `last` after the last.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// let d = NetSpec::mlp(&[2, 16, 1], Act::LeakyRelu(0.2), None);
    /// assert_eq!(d.widths()?, [16, 16, 1]);                   // Linear, LeakyReLU, Linear
    /// assert_eq!(NetSpec::from_description(&d.describe())?, d); // its JSON description, read back
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn mlp(widths: &[usize], hidden: Act, last: Option<Act>) -> NetSpec {
        let mut layers = Vec::new();
        for (i, w) in widths.windows(2).enumerate() {
            layers.push(Layer::linear(w[0], w[1]));
            if i + 2 < widths.len() {
                layers.push(Layer::Act(hidden));
            }
        }
        if let Some(a) = last {
            layers.push(Layer::Act(a));
        }
        NetSpec { layers }
    }

    /// Values per sample after each layer; checks every layer and that consecutive layers fit.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, ConvSpec, Layer, NetSpec};
    /// let d = NetSpec { layers: vec![Layer::Conv2d(ConvSpec::new(1, 4, 8, 8, 4, 2, 1)), Layer::Act(Act::Relu), Layer::linear(64, 1)] };
    /// assert_eq!(d.widths()?, [64, 64, 1]);                         // 4 × 4 × 4, flattened into the Linear
    /// assert!(NetSpec { layers: vec![] }.widths().is_err());
    /// assert!(NetSpec { layers: vec![Layer::Act(Act::Relu)] }.widths().is_err()); // no input width
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn widths(&self) -> Result<Vec<usize>> {
        let mut w = None::<usize>;
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let imp = l.imp();
            imp.validate().map_err(at_layer(i))?;
            let inp = match (w, imp.in_len()) {
                (Some(prev), Some(want)) if prev != want => {
                    return Err(Error::Shape(format!("layer {i} ({l:?}) takes {want} values per sample but receives {prev}")));
                }
                (_, Some(want)) => want,
                (Some(prev), None) => prev,
                (None, None) => {
                return Err(Error::Shape(format!(
                    "a network cannot start with {} (it takes any width): put a layer that fixes the input size first, e.g. Unflatten before a Flatten",
                    imp.kind()
                )))
            }
            };
            let o = imp.out_len(inp);
            w = Some(o);
            out.push(o);
        }
        if out.is_empty() {
            return Err(Error::Shape("empty network".into()));
        }
        Ok(out)
    }

    /// Values per sample of the input (0 when the first layer takes any width).
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, Layer, NetSpec};
    /// assert_eq!(NetSpec::mlp(&[100, 256, 784], Act::Relu, Some(Act::Tanh)).in_dim(), 100);
    /// assert_eq!(NetSpec { layers: vec![Layer::Act(Act::Relu)] }.in_dim(), 0);
    /// ```
    pub fn in_dim(&self) -> usize {
        self.layers.first().and_then(|l| l.imp().in_len()).unwrap_or(0)
    }

    /// Values per sample of the output (0 when the layers do not fit together).
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, Layer, NetSpec};
    /// assert_eq!(NetSpec::mlp(&[100, 256, 784], Act::Relu, Some(Act::Tanh)).out_dim(), 784);
    /// assert_eq!(NetSpec { layers: vec![Layer::linear(4, 8), Layer::linear(9, 2)] }.out_dim(), 0);
    /// ```
    pub fn out_dim(&self) -> usize {
        self.widths().ok().and_then(|w| w.last().copied()).unwrap_or(0)
    }

    /// Whether any layer is a batch norm.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, BnSpec, Layer, NetSpec};
    /// assert!(!NetSpec::mlp(&[2, 8, 1], Act::Relu, None).has_batchnorm());
    /// assert!(NetSpec { layers: vec![Layer::linear(2, 8), Layer::BatchNorm(BnSpec::new(8, 1))] }.has_batchnorm());
    /// ```
    pub fn has_batchnorm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::BatchNorm(_)))
    }

    /// Every layer's parameters in order, with the index of the layer that owns each.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// let p = NetSpec::mlp(&[2, 3, 1], Act::Relu, None).params();  // Linear, ReLU, Linear
    /// assert_eq!(p.iter().map(|(i, p)| (*i, p.name)).collect::<Vec<_>>(), [(0, "weight"), (0, "bias"), (2, "weight"), (2, "bias")]);
    /// assert_eq!(p[2].1.shape, [1, 3]);
    /// ```
    pub fn params(&self) -> Vec<(usize, Param)> {
        self.layers.iter().enumerate().flat_map(|(i, l)| l.imp().params().into_iter().map(move |p| (i, p))).collect()
    }

    /// Where each layer's tensors sit: (its first parameter, its parameter count, its index among
    /// the layers with running state), in layer order.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, BnSpec, Layer, NetSpec};
    /// let spec = NetSpec { layers: vec![Layer::linear(2, 4), Layer::BatchNorm(BnSpec::new(4, 1)), Layer::Act(Act::Relu), Layer::linear(4, 1)] };
    /// assert_eq!(spec.layout(), [(0, 2, None), (2, 2, Some(0)), (4, 0, None), (4, 2, None)]);
    /// ```
    pub fn layout(&self) -> Vec<(usize, usize, Option<usize>)> {
        let (mut pi, mut ri) = (0, 0);
        self.layers
            .iter()
            .map(|l| {
                let imp = l.imp();
                let np = imp.params().len();
                let r = imp.running().is_some().then(|| {
                    ri += 1;
                    ri - 1
                });
                pi += np;
                (pi - np, np, r)
            })
            .collect()
    }

    /// Parameter lengths in order: each layer's weight then bias.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// assert_eq!(NetSpec::mlp(&[3, 8, 2], Act::Relu, None).param_lens(), [24, 8, 16, 2]);
    /// ```
    pub fn param_lens(&self) -> Vec<usize> {
        self.params().iter().map(|(_, p)| p.len()).collect()
    }

    /// Parameter names as a PyTorch `nn.Sequential` of these layers would call them
    /// ("3.weight" is the weight of layer 3), with their shapes.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// let names = NetSpec::mlp(&[3, 8, 2], Act::Relu, None).param_names(); // layers 0 and 2 have some
    /// assert_eq!(names[0], ("0.weight".to_string(), vec![8, 3]));
    /// assert_eq!(names[3], ("2.bias".to_string(), vec![2]));
    /// ```
    pub fn param_names(&self) -> Vec<(String, Vec<usize>)> {
        self.params().into_iter().map(|(i, p)| (format!("{i}.{}", p.name), p.shape)).collect()
    }

    /// Whether parameter `i` (in [`NetSpec::param_names`] order) is the bias of a layer whose
    /// output goes straight into a batch norm: batch norm subtracts every per-channel shift, so its
    /// gradient is zero in exact arithmetic and rounding noise in practice.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, BnSpec, Layer, NetSpec};
    /// let spec = NetSpec { layers: vec![Layer::linear(2, 4), Layer::BatchNorm(BnSpec::new(4, 1)), Layer::Act(Act::Relu), Layer::linear(4, 1)] };
    /// assert!(spec.structurally_zero(1));                                  // 0.bias, into the batch norm
    /// assert!(!spec.structurally_zero(0) && !spec.structurally_zero(5));   // a weight; the last bias
    /// assert!(!spec.structurally_zero(9));                                 // no such parameter
    /// ```
    pub fn structurally_zero(&self, i: usize) -> bool {
        // The next layer that is not a view (a reshape) decides.
        let next = |li: usize| self.layers[li + 1..].iter().find(|l| !l.imp().is_view());
        self.params().get(i).is_some_and(|(li, p)| p.role == Role::Bias && matches!(next(*li), Some(Layer::BatchNorm(_))))
    }

    /// The layers with running state: (layer index, initial values). Checkpoints call its parts by
    /// name (a batch norm's `running_mean`, `running_var`).
    ///
    /// ```
    /// use wgpu_gan::nn::{BnSpec, Layer, NetSpec};
    /// let r = NetSpec { layers: vec![Layer::linear(2, 3), Layer::BatchNorm(BnSpec::new(3, 1))] }.running();
    /// assert_eq!(r.len(), 1);
    /// assert_eq!((r[0].0, &r[0].2), (1, &vec![("running_mean", 3), ("running_var", 3)]));
    /// assert_eq!(r[0].1, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    /// ```
    pub fn running(&self) -> Vec<(usize, Vec<f32>, Vec<(&'static str, usize)>)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| l.imp().running().map(|(v, parts)| (i, v, parts))).collect()
    }

    /// Fresh running state of every layer that has one (PyTorch's batch norm: mean 0, var 1).
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, BnSpec, Layer, NetSpec};
    /// let spec = NetSpec { layers: vec![Layer::linear(1, 2), Layer::BatchNorm(BnSpec::new(2, 1))] };
    /// assert_eq!(spec.init_running(), [vec![0.0, 0.0, 1.0, 1.0]]);
    /// assert!(NetSpec::mlp(&[2, 1], Act::Relu, None).init_running().is_empty());
    /// ```
    pub fn init_running(&self) -> Vec<Vec<f32>> {
        self.running().into_iter().map(|(_, v, _)| v).collect()
    }

    /// Initial parameters drawn from the counter-based generator (streams from `stream` upward,
    /// two per layer with parameters), so that the same seed gives the same weights on every machine.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, Init, NetSpec};
    /// let spec = NetSpec::mlp(&[4, 2], Act::Relu, None);            // Linear(4, 2)
    /// let p = spec.init(3, 0, Init::PyTorch);
    /// assert_eq!(p.iter().map(Vec::len).collect::<Vec<_>>(), [8, 2]);
    /// assert!(p.iter().flatten().all(|v| v.abs() <= 0.5));            // U(±1/√4)
    /// assert_eq!(spec.init(3, 0, Init::PyTorch), p);                   // same seed, same weights
    /// assert_ne!(spec.init(4, 0, Init::PyTorch), p);
    /// ```
    pub fn init(&self, seed: u32, stream: u32, how: Init) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut s = stream;
        for l in &self.layers {
            let params = l.imp().params();
            if params.is_empty() {
                continue;
            }
            // fan_in as PyTorch computes it: weight.size(1) · kernel area.
            let fan_in: usize = params[0].shape[1..].iter().product();
            let k = 1.0 / (fan_in.max(1) as f32).sqrt();
            for (j, p) in params.iter().enumerate() {
                let len = p.len();
                out.push(match (p.role, how) {
                    (Role::Scale, Init::PyTorch) => vec![1.0; len],
                    (Role::Scale, Init::Dcgan) => crate::rng::normal_fill(seed, s, len, 1.0, 0.02),
                    (Role::Shift, _) | (Role::Bias, Init::Dcgan) => vec![0.0; len],
                    (Role::Weight, Init::Dcgan) => crate::rng::normal_fill(seed, s, len, 0.0, 0.02),
                    (Role::Weight | Role::Bias, Init::PyTorch) => crate::rng::uniform_fill(seed, s + j as u32, len, -k, k),
                });
            }
            s += 2;
        }
        out
    }

    /// Checks that `params` has this network's tensors with their lengths.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// let spec = NetSpec::mlp(&[2, 1], Act::Relu, None);
    /// assert!(spec.check_params(&[vec![0.0; 2], vec![0.0]], "d").is_ok());
    /// let e = spec.check_params(&[vec![0.0; 3], vec![0.0]], "d").unwrap_err();
    /// assert!(e.to_string().ends_with("d: parameter 0.weight [1, 2] needs 2 values, got 3"));
    /// assert!(spec.check_params(&[vec![0.0; 2]], "d").is_err());        // the bias missing
    /// ```
    pub fn check_params(&self, params: &[Vec<f32>], what: &str) -> Result<()> {
        self.widths()?;
        let names = self.param_names();
        if names.len() != params.len() {
            return Err(Error::Shape(format!("{what}: the network has {} parameter tensors, {} were given", names.len(), params.len())));
        }
        for ((name, shape), p) in names.iter().zip(params) {
            if shape.iter().product::<usize>() != p.len() {
                return Err(Error::Shape(format!("{what}: parameter {name} {shape:?} needs {} values, got {}", shape.iter().product::<usize>(), p.len())));
            }
        }
        Ok(())
    }
}

/// Prefixes a shape error with the layer it concerns.
///
/// ```
/// use wgpu_gan::{nn::at_layer, Error};
/// let e = at_layer(3)(Error::Shape("too wide".into()));
/// assert!(matches!(&e, Error::Shape(m) if m == "layer 3: too wide"));
/// let e = at_layer(3)(Error::Checkpoint("bad".into()));
/// assert!(matches!(&e, Error::Checkpoint(m) if m == "bad"));   // other errors pass unchanged
/// ```
pub fn at_layer(i: usize) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Shape(m) => Error::Shape(format!("layer {i}: {m}")),
        e => e,
    }
}

/// Whether batch normalisation uses the batch's statistics (and updates the running ones) or the
/// running statistics.
///
/// ```
/// use wgpu_gan::nn::{BnSpec, CpuNet, Layer, Mode, NetSpec};
/// let spec = NetSpec { layers: vec![Layer::linear(1, 1), Layer::BatchNorm(BnSpec::new(1, 1))] };
/// let mut net = CpuNet::new(spec, vec![vec![1.0], vec![0.0], vec![1.0], vec![0.0]])?;
/// net.run(0, &[1.0, 3.0], 2, Mode::BatchStats)?;
/// assert_eq!(net.running, [vec![0.0, 1.0]]);                   // left alone
/// net.run(0, &[1.0, 3.0], 2, Mode::Train)?;
/// assert_eq!(net.running, [vec![0.2, 1.1]]);                   // 10% of the way to mean 2, var 2
/// assert!(net.run(0, &[1.0], 1, Mode::Train).is_err() && net.run(0, &[1.0], 1, Mode::Eval).is_ok());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics, and the running statistics move towards them (PyTorch's `train()`).
    Train,
    /// Batch statistics, running statistics left alone (sampling a generator "in train mode"
    /// without disturbing it).
    BatchStats,
    /// Running statistics (PyTorch's `eval()`).
    Eval,
}

/// What one forward pass keeps for its backward pass: each layer's input and what each layer
/// saved (empty for most; a batch norm's mean and 1/σ).
///
/// ```
/// use wgpu_gan::nn::{CpuNet, Layer, NetSpec, Tape};
/// let spec = NetSpec { layers: vec![Layer::linear(2, 1)] };
/// let mut net = CpuNet::new(spec, vec![vec![1.0, 2.0], vec![0.0]])?;
/// let tape = Tape { n: 1, inputs: vec![vec![3.0, 4.0]], saved: vec![vec![]], g_outs: vec![] };
/// net.set_tape(0, tape);                          // a pass that read (3, 4), say a GPU one
/// let dx = net.backward(&[1.0], 1, true)?;
/// assert_eq!((dx, &net.grads[0]), (vec![1.0, 2.0], &vec![3.0, 4.0])); // dy W, dyᵀ x
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tape {
    pub n: usize,
    pub inputs: Vec<Vec<f32>>,
    pub saved: Vec<Vec<f32>>,
    /// After a backward pass through this tape: the gradient at each layer's output.
    pub g_outs: Vec<Vec<f32>>,
}
