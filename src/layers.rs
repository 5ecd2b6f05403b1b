//! One layer at a time, from your own code: layers built by name with PyTorch's arguments, run
//! forward and backward on shaped tensors, on the GPU or by their CPU reference, each in one call.
//!
//! ```
//! use wgpu_gan::gpu::{CpuTensor, Gpu};
//! use wgpu_gan::layers::Conv2d;
//! let gpu = Gpu::new()?;
//! let conv = Conv2d::new(3, 8, 3).stride(2).padding(1).dilation((2, 1)).bias(false);
//! let x = CpuTensor::new(&[4, 3, 17, 13], (0..4 * 3 * 17 * 13).map(|i| (i % 7) as f32 - 3.0).collect())?;
//! let y = conv.forward(&gpu, &x.to_gpu(&gpu)?)?;         // shape [4, 8, 8, 7]
//! let want = conv.forward_cpu(&x)?;                      // the CPU reference
//! assert_eq!(y.shape(), want.shape());
//! assert!(wgpu_gan::max_rel_err(y.to_cpu(&gpu)?.data(), want.data()) < 1e-4);
//! let dy = y.to_cpu(&gpu)?.to_gpu(&gpu)?;
//! let g = conv.backward(&gpu, &x.to_gpu(&gpu)?, &dy)?;   // input and weight gradients
//! assert_eq!(g.param("weight").unwrap().shape(), &[8, 3, 3, 3]);
//! # Ok::<(), wgpu_gan::Error>(())
//! ```
//!
//! Each builder ([`Conv2d`], [`ConvTranspose2d`], [`Linear`], [`BatchNorm2d`], [`BatchNorm1d`],
//! [`Activation`]) dereferences to a [`Module`], which holds the parameters by PyTorch's names
//! (initialised as PyTorch does, from a seed) and runs the layer. The input size is taken from
//! the tensor at each call; the kernels and buffers for a shape are built on first use and kept
//! until the shape, the device or a parameter changes. For training a whole network, the
//! prebuilt programs of [`crate::nn::GpuNet`] (what [`crate::gan`] runs) record every step once
//! instead.

use crate::error::{Error, Result};
use crate::gpu::{CpuTensor, Gpu, Tensor};
use crate::interop::StateDict;
use crate::nn::{Act, BnSpec, ConvSpec, CpuNet, GpuNet, Grads, Init, Layer, Mode, NetSpec, Reshape};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One value for both axes (`3`) or one per axis (`(3, 1)`: height, width), as PyTorch takes them.
///
/// ```
/// use wgpu_gan::layers::Pair;
/// assert_eq!(3usize.pair(), [3, 3]);
/// assert_eq!((3, 1).pair(), [3, 1]);
/// ```
pub trait Pair {
    fn pair(self) -> [usize; 2];
}

impl Pair for usize {
    fn pair(self) -> [usize; 2] {
        [self; 2]
    }
}

impl Pair for (usize, usize) {
    fn pair(self) -> [usize; 2] {
        [self.0, self.1]
    }
}

/// What a module computes, with its hyper-parameters; the input size comes with each call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Conv { transposed: bool, cin: usize, cout: usize, k: [usize; 2], stride: [usize; 2], pad: [usize; 2], dil: [usize; 2], out_pad: [usize; 2], bias: bool },
    Linear { inp: usize, out: usize, bias: bool },
    BatchNorm { c: usize, eps: f32, momentum: f32, two_d: bool },
    Act(Act),
}

/// Parameter gradients by name beside the input gradient, from [`Module::backward`] (GPU
/// tensors) or [`Module::backward_cpu`].
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::Linear};
/// let mut fc = Linear::new(2, 1).bias(false);
/// fc.set_param("weight", CpuTensor::new(&[1, 2], vec![1.0, 2.0])?)?;
/// let x = CpuTensor::new(&[3, 2], vec![1.0, 0.0, 0.0, 1.0, 2.0, 2.0])?;
/// let g = fc.backward_cpu(&x, &CpuTensor::new(&[3, 1], vec![1.0; 3])?)?;
/// assert_eq!(g.input.data(), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]); // dy · W per row
/// assert_eq!(g.param("weight").unwrap().data(), &[3.0, 3.0]); // Σ dy · x over the batch
/// assert!(g.param("bias").is_none() && g.params.len() == 1);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Debug)]
pub struct Gradients<T> {
    /// The gradient with respect to the layer's input.
    pub input: T,
    /// The gradient with respect to each parameter, in PyTorch's order.
    pub params: Vec<(&'static str, T)>,
}

impl<T> Gradients<T> {
    /// The gradient of the parameter PyTorch calls `name` ("weight", "bias").
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Linear};
    /// let fc = Linear::new(3, 2);
    /// let x = CpuTensor::new(&[1, 3], vec![1.0, 2.0, 3.0])?;
    /// let g = fc.backward_cpu(&x, &CpuTensor::new(&[1, 2], vec![1.0, 0.0])?)?;
    /// assert_eq!(g.param("weight").unwrap().data(), &[1.0, 2.0, 3.0, 0.0, 0.0, 0.0]); // dy ⊗ x
    /// assert_eq!(g.param("bias").unwrap().data(), &[1.0, 0.0]);
    /// assert!(g.param("running_mean").is_none());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn param(&self, name: &str) -> Option<&T> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }
}

/// The network built for one input shape on one device.
struct Built {
    device: wgpu::Device,
    sample: Vec<usize>,
    net: GpuNet,
}

/// Where seeds come from when none is given: each new module takes the next value of this
/// process-wide counter, so that two layers of one shape start different. The order of
/// construction decides (threads building layers at once may interleave): `.seed(s)` gives
/// weights that depend on nothing else.
static NEXT_SEED: AtomicU32 = AtomicU32::new(0);

/// A layer with its parameters, run one call at a time (see the module documentation). Made by
/// the builders of this module, which dereference to it.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::{Linear, Module}};
/// let mut fc: Module = Linear::new(2, 1).bias(false).into();
/// assert_eq!((fc.name(), fc.param_names()), ("Linear", vec!["weight"]));
/// fc.set_param("weight", CpuTensor::new(&[1, 2], vec![1.0, -1.0])?)?;
/// assert!(fc.set_param("weight", CpuTensor::new(&[2, 1], vec![1.0, -1.0])?).is_err()); // shape
/// let y = fc.forward_cpu(&CpuTensor::new(&[2, 2], vec![3.0, 1.0, 0.5, 2.0])?)?;
/// assert_eq!((y.shape(), y.data()), (&[2, 1][..], &[2.0, -1.5][..]));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Module {
    kind: Kind,
    seed: u32,
    mode: Mode,
    params: Vec<(&'static str, CpuTensor)>,
    /// A batch norm's running mean then variance (empty for other layers).
    running: Mutex<Vec<f32>>,
    built: Mutex<Option<Built>>,
}

impl Module {
    fn new(kind: Kind) -> Module {
        let mut m = Module { kind, seed: NEXT_SEED.fetch_add(1, Ordering::Relaxed), mode: Mode::Train, params: Vec::new(), running: Mutex::new(Vec::new()), built: Mutex::new(None) };
        m.reset();
        m
    }

    /// The network layer this module is on images of `h` × `w` (convolutions) or with `hw`
    /// positions per channel (batch norm); the other kinds take neither.
    fn layer(&self, h: usize, w: usize, hw: usize) -> Layer {
        match self.kind {
            Kind::Conv { transposed, cin, cout, k, stride, pad, dil, out_pad, bias } => {
                let s = ConvSpec { cin, cout, h, w, kh: k[0], kw: k[1], stride, pad, out_pad, dilation: dil, bias };
                if transposed { Layer::ConvT2d(s) } else { Layer::Conv2d(s) }
            }
            Kind::Linear { inp, out, bias } => Layer::Linear(crate::nn::Linear { inp, out, bias }),
            Kind::BatchNorm { c, eps, momentum, .. } => Layer::BatchNorm(BnSpec { c, hw, eps, momentum }),
            Kind::Act(a) => Layer::Act(a),
        }
    }

    fn spec(&self, sample: &[usize]) -> Result<(NetSpec, Vec<usize>)> {
        let name = self.name();
        let wrong = |want: &str| Error::Shape(format!("{name} takes inputs of shape {want}; got a sample of shape {sample:?} (the shape without its batch)"));
        let (layers, out) = match self.kind {
            Kind::Conv { transposed, cin, .. } => {
                let &[c, h, w] = sample else { return Err(wrong(&format!("[n, {cin}, height, width]"))) };
                if c != cin {
                    return Err(wrong(&format!("[n, {cin}, height, width]")));
                }
                let layer = self.layer(h, w, 1);
                let (Layer::Conv2d(s) | Layer::ConvT2d(s)) = layer else { unreachable!("a convolution") };
                let (oc, oh, ow) = s.out_chw(transposed);
                (vec![layer], vec![oc, oh, ow])
            }
            Kind::Linear { inp, out, .. } => {
                if sample != [inp] {
                    return Err(wrong(&format!("[n, {inp}]")));
                }
                (vec![self.layer(1, 1, 1)], vec![out])
            }
            Kind::BatchNorm { c, two_d, .. } => {
                let hw = match (two_d, sample) {
                    (true, &[ch, h, w]) if ch == c => h * w,
                    (false, &[ch]) if ch == c => 1,
                    (false, &[ch, l]) if ch == c => l,
                    (true, _) => return Err(wrong(&format!("[n, {c}, height, width]"))),
                    (false, _) => return Err(wrong(&format!("[n, {c}] or [n, {c}, length]"))),
                };
                (vec![self.layer(1, 1, hw)], sample.to_vec())
            }
            Kind::Act(_) => {
                // A network must start with a layer that fixes its width: a reshape that changes nothing.
                let len = sample.iter().product();
                (vec![Layer::Reshape(Reshape::Unflatten { c: len, h: 1, w: 1 }), self.layer(1, 1, 1)], sample.to_vec())
            }
        };
        let spec = NetSpec { layers };
        spec.widths().map_err(|e| match e {
            Error::Shape(m) => Error::Shape(format!("{name}: {m}")),
            e => e,
        })?;
        Ok((spec, out))
    }

    /// PyTorch's class name of this layer.
    ///
    /// ```
    /// use wgpu_gan::layers::{Activation, ConvTranspose2d, Module};
    /// assert_eq!(ConvTranspose2d::new(1, 1, 2).name(), "ConvTranspose2d");
    /// let m: Module = Activation::leaky_relu(0.2).into();
    /// assert_eq!(m.name(), "LeakyReLU");
    /// ```
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Conv { transposed: false, .. } => "Conv2d",
            Kind::Conv { transposed: true, .. } => "ConvTranspose2d",
            Kind::Linear { .. } => "Linear",
            Kind::BatchNorm { two_d: true, .. } => "BatchNorm2d",
            Kind::BatchNorm { two_d: false, .. } => "BatchNorm1d",
            Kind::Act(Act::Relu) => "ReLU",
            Kind::Act(Act::LeakyRelu(_)) => "LeakyReLU",
            Kind::Act(Act::Tanh) => "Tanh",
            Kind::Act(Act::Sigmoid) => "Sigmoid",
        }
    }

    /// Fresh parameters (PyTorch's initialisation, from this module's seed) and running state,
    /// after a change of hyper-parameters.
    fn reset(&mut self) {
        // The parameters' shapes do not depend on the input size (1 × 1 here; nothing is checked
        // until a call brings an input).
        let spec = NetSpec { layers: vec![self.layer(1, 1, 1)] };
        self.params = spec
            .params()
            .into_iter()
            .zip(spec.init(self.seed, 0, Init::PyTorch))
            .map(|((_, p), v)| (p.name, CpuTensor::new(&p.shape, v).expect("init gives each shape its values")))
            .collect();
        *self.running.get_mut().unwrap_or_else(|e| e.into_inner()) = spec.init_running().concat();
        *self.built.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The names of the parameters, in PyTorch's order ("weight", "bias").
    ///
    /// ```
    /// use wgpu_gan::layers::{Activation, BatchNorm2d, Conv2d};
    /// assert_eq!(Conv2d::new(1, 2, 3).param_names(), ["weight", "bias"]);
    /// assert_eq!(BatchNorm2d::new(4).param_names(), ["weight", "bias"]); // scale, shift
    /// assert!(Activation::relu().param_names().is_empty());
    /// ```
    pub fn param_names(&self) -> Vec<&'static str> {
        self.params.iter().map(|(n, _)| *n).collect()
    }

    /// The parameter PyTorch calls `name`.
    ///
    /// ```
    /// use wgpu_gan::layers::BatchNorm1d;
    /// let bn = BatchNorm1d::new(3);
    /// assert_eq!(bn.param("weight").unwrap().data(), &[1.0; 3]); // PyTorch's start: scale 1
    /// assert_eq!(bn.param("bias").unwrap().data(), &[0.0; 3]);   // and shift 0
    /// assert!(bn.param("running_mean").is_none());               // see Module::running
    /// ```
    pub fn param(&self, name: &str) -> Option<&CpuTensor> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }

    /// Replaces the parameter PyTorch calls `name` with `value`, which must have its shape.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Linear};
    /// let mut fc = Linear::new(2, 1);
    /// fc.set_param("bias", CpuTensor::new(&[1], vec![0.5])?)?;
    /// assert_eq!(fc.param("bias").unwrap().data(), &[0.5]);
    /// assert!(fc.set_param("bias", CpuTensor::new(&[2], vec![0.5, 0.5])?).is_err()); // not [1]
    /// assert!(fc.set_param("bias", CpuTensor::new(&[1], vec![f32::NAN])?).is_err());
    /// assert!(fc.set_param("gamma", CpuTensor::new(&[1], vec![1.0])?).is_err());   // no such name
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_param(&mut self, name: &str, value: CpuTensor) -> Result<()> {
        let layer = self.name();
        let names = self.param_names();
        let slot = self.params.iter_mut().find(|(n, _)| *n == name).ok_or_else(|| Error::Shape(format!("{layer} has no parameter \"{name}\" (it has {names:?})")))?;
        if value.shape() != slot.1.shape() {
            return Err(Error::Shape(format!("{layer}.{name} has shape {:?}; the value given has {:?}", slot.1.shape(), value.shape())));
        }
        if value.data().iter().any(|v| !v.is_finite()) {
            return Err(Error::Shape(format!("{layer}.{name}: the value given holds NaN or infinite values")));
        }
        slot.1 = value;
        *self.built.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// A batch norm's running statistics by PyTorch's names ("running_mean", "running_var");
    /// empty for other layers.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::{BatchNorm1d, Linear}};
    /// let bn = BatchNorm1d::new(1).momentum(1.0);             // running = the last batch's
    /// bn.forward_cpu(&CpuTensor::new(&[2, 1], vec![1.0, 3.0])?)?;
    /// let r = bn.running();
    /// assert_eq!((r[0].0, r[0].1.data()), ("running_mean", &[2.0][..]));
    /// assert_eq!((r[1].0, r[1].1.data()), ("running_var", &[2.0][..])); // unbiased: (1 + 1) / 1
    /// assert!(Linear::new(1, 1).running().is_empty());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn running(&self) -> Vec<(&'static str, CpuTensor)> {
        let values = self.running.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let c = values.len() / 2;
        if c == 0 {
            return Vec::new();
        }
        vec![("running_mean", CpuTensor::new(&[c], values[..c].to_vec()).expect("c values")), ("running_var", CpuTensor::new(&[c], values[c..].to_vec()).expect("c values"))]
    }

    /// Loads the parameters (and a batch norm's running statistics) from a PyTorch state dict,
    /// the tensors named `{prefix}weight`, `{prefix}bias`, ... (`prefix` as "features.0." for
    /// layer 0 of a module's `features`, or "" for the layer's own state dict). Every missing or
    /// mis-shaped tensor is named in the error, and nothing changes unless all of them fit.
    ///
    /// ```
    /// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict, layers::Linear};
    /// let mut ck = Checkpoint::new();                          // any safetensors file will do
    /// ck.push_f32("fc.weight", &[1, 2], &[0.5, -0.5]);
    /// ck.push_f32("fc.bias", &[1], &[0.25]);
    /// let sd = StateDict::from_bytes(&ck.to_bytes()?).unwrap();
    /// let mut fc = Linear::new(2, 1);
    /// fc.load_state_dict(&sd, "fc.")?;
    /// assert_eq!(fc.param("weight").unwrap().data(), &[0.5, -0.5]);
    /// let err = Linear::new(3, 1).load_state_dict(&sd, "fc.").unwrap_err().to_string();
    /// assert!(err.contains("fc.weight has shape [1, 2], the layer needs [1, 3]"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load_state_dict(&mut self, sd: &StateDict, prefix: &str) -> Result<()> {
        let mut problems = Vec::new();
        let mut take = |name: &str, shape: &[usize]| match sd.tensors.get(&format!("{prefix}{name}")) {
            None => {
                problems.push(format!("{prefix}{name} {shape:?} is missing"));
                None
            }
            Some(t) if t.shape != shape => {
                problems.push(format!("{prefix}{name} has shape {:?}, the layer needs {shape:?}", t.shape));
                None
            }
            Some(t) if t.values.iter().any(|v| !v.is_finite()) => {
                problems.push(format!("{prefix}{name} holds NaN or infinite values"));
                None
            }
            Some(t) => CpuTensor::new(shape, t.values.clone()).ok(),
        };
        let params: Vec<_> = self.params.iter().map(|(n, p)| (*n, take(n, p.shape()))).collect();
        let running: Vec<_> = self.running().into_iter().map(|(n, r)| take(n, r.shape())).collect();
        if !problems.is_empty() {
            return Err(Error::Checkpoint(format!("{}: the state dict does not fit ({})", self.name(), problems.join("; "))));
        }
        self.params = params.into_iter().map(|(n, p)| (n, p.expect("checked"))).collect();
        *self.running.get_mut().unwrap_or_else(|e| e.into_inner()) = running.into_iter().flat_map(|r| r.expect("checked").into_data()).collect();
        *self.built.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// Whether a batch norm uses the batch's statistics and updates its running ones
    /// ([`Mode::Train`], PyTorch's `train()`, the default) or uses its running ones
    /// ([`Mode::Eval`]). Other layers behave the same in every mode.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::BatchNorm1d, nn::Mode};
    /// let mut bn = BatchNorm1d::new(1);
    /// let x = CpuTensor::new(&[2, 1], vec![1.0, 3.0])?;
    /// bn.set_mode(Mode::Eval);                                 // running mean 0, variance 1
    /// assert!((bn.forward_cpu(&x)?.data()[0] - 1.0).abs() < 1e-4);
    /// assert_eq!(bn.running()[0].1.data(), &[0.0]);            // left alone
    /// bn.set_mode(Mode::Train);                                // batch mean 2, variance 1
    /// assert!((bn.forward_cpu(&x)?.data()[0] + 1.0).abs() < 1e-4);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// The mode set by [`Module::set_mode`] or the builders' `eval()`.
    ///
    /// ```
    /// use wgpu_gan::{layers::BatchNorm2d, nn::Mode};
    /// assert_eq!(BatchNorm2d::new(2).mode(), Mode::Train);     // PyTorch's default
    /// assert_eq!(BatchNorm2d::new(2).eval().mode(), Mode::Eval);
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The output of the layer on `x` (shape `[n, ...]`), on the GPU. In training mode a batch
    /// norm's running statistics move, as in PyTorch (and this call waits to read them back).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{CpuTensor, Gpu, Tensor}, layers::Linear};
    /// let gpu = Gpu::new()?;
    /// let mut fc = Linear::new(2, 1);
    /// fc.set_param("weight", CpuTensor::new(&[1, 2], vec![1.0, -1.0])?)?;
    /// fc.set_param("bias", CpuTensor::new(&[1], vec![0.5])?)?;
    /// let y = fc.forward(&gpu, &Tensor::new(&gpu, &[2, 2], &[3.0, 1.0, 0.0, 2.0])?)?;
    /// assert_eq!(y.to_cpu(&gpu)?.data(), &[2.5, -1.5]);
    /// assert!(fc.forward(&gpu, &Tensor::new(&gpu, &[1, 3], &[0.0; 3])?).is_err()); // takes [n, 2]
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        let (n, sample) = split_batch(self.name(), x.shape())?;
        let (spec, out) = self.spec(sample)?;
        let y = Tensor::zeros_shaped(gpu, "y", &with_batch(n, &out))?;
        let xb = whole_buffer(gpu, x)?;
        self.on_gpu(gpu, spec, sample, n, |net| {
            net.forward(gpu, 0, &xb, &y.buffer, n, self.mode)?.run(gpu);
            if self.mode == Mode::Train && !net.running.is_empty() {
                *self.running.lock().unwrap_or_else(|e| e.into_inner()) = net.read_running(gpu)?.concat();
            }
            Ok(())
        })?;
        Ok(y)
    }

    /// The gradients with respect to the input and to every parameter, given the gradient `dy`
    /// at the output of the layer on `x`, on the GPU. The forward pass runs again inside (with
    /// batch statistics, as after a training-mode forward, leaving the running ones alone).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{CpuTensor, Gpu, Tensor}, layers::Linear};
    /// let gpu = Gpu::new()?;
    /// let mut fc = Linear::new(2, 1).bias(false);
    /// fc.set_param("weight", CpuTensor::new(&[1, 2], vec![1.0, -1.0])?)?;
    /// let x = Tensor::new(&gpu, &[1, 2], &[1.0, 2.0])?;
    /// let g = fc.backward(&gpu, &x, &Tensor::new(&gpu, &[1, 1], &[3.0])?)?;
    /// assert_eq!(g.input.to_cpu(&gpu)?.data(), &[3.0, -3.0]);                  // dy · W
    /// assert_eq!(g.param("weight").unwrap().to_cpu(&gpu)?.data(), &[3.0, 6.0]); // dy · x
    /// assert!(fc.backward(&gpu, &x, &Tensor::new(&gpu, &[1, 2], &[1.0; 2])?).is_err()); // dy's shape
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn backward(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<Gradients<Tensor>> {
        let (n, sample) = split_batch(self.name(), x.shape())?;
        let (spec, out) = self.spec(sample)?;
        self.check_backward(n, &out, dy.shape())?;
        let dx = Tensor::zeros_shaped(gpu, "dx", x.shape())?;
        let y = Tensor::zeros(gpu, "y", dy.len())?;
        let (xb, dyb) = (whole_buffer(gpu, x)?, whole_buffer(gpu, dy)?);
        let params = self.on_gpu(gpu, spec, sample, n, |net| {
            let mut prog = net.forward(gpu, 0, &xb, &y.buffer, n, Mode::BatchStats)?;
            prog.extend(net.backward(gpu, 0, &xb, &dyb, Some(&dx.buffer), n, Grads::Write)?);
            prog.run(gpu);
            // Copies, so that the gradients outlive the next call.
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            let out = self
                .params
                .iter()
                .zip(net.grads.iter())
                .map(|((name, p), g)| {
                    let t = Tensor::zeros_shaped(gpu, name, p.shape())?;
                    encoder.copy_buffer_to_buffer(&g.buffer, g.offset, &t.buffer, 0, g.bytes());
                    Ok((*name, t))
                })
                .collect::<Result<Vec<_>>>()?;
            gpu.queue.submit([encoder.finish()]);
            Ok(out)
        })?;
        Ok(Gradients { input: dx, params })
    }

    /// The CPU reference of [`Module::forward`].
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Conv2d};
    /// let mut conv = Conv2d::new(1, 1, 2).bias(false);
    /// conv.set_param("weight", CpuTensor::new(&[1, 1, 2, 2], vec![1.0; 4])?)?; // sums 2 × 2 windows
    /// let y = conv.forward_cpu(&CpuTensor::new(&[1, 1, 2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?)?;
    /// assert_eq!((y.shape(), y.data()), (&[1, 1, 1, 2][..], &[12.0, 16.0][..]));
    /// assert!(conv.forward_cpu(&CpuTensor::new(&[1, 2, 2, 3], vec![0.0; 12])?).is_err()); // 2 channels
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn forward_cpu(&self, x: &CpuTensor) -> Result<CpuTensor> {
        let (n, sample) = split_batch(self.name(), x.shape())?;
        let (spec, out) = self.spec(sample)?;
        let mut net = self.cpu_net(spec)?;
        let y = net.run(0, x.data(), n, self.mode)?;
        if self.mode == Mode::Train && !net.running.is_empty() {
            *self.running.lock().unwrap_or_else(|e| e.into_inner()) = net.running.concat();
        }
        CpuTensor::new(&with_batch(n, &out), y)
    }

    /// The CPU reference of [`Module::backward`].
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::{Activation, BatchNorm1d}};
    /// let (x, dy) = (CpuTensor::new(&[1, 2], vec![0.0; 2])?, CpuTensor::new(&[1, 2], vec![1.0, 2.0])?);
    /// let g = Activation::sigmoid().backward_cpu(&x, &dy)?;
    /// assert_eq!(g.input.data(), &[0.25, 0.5]);                // dy · σ(x)(1 − σ(x)), σ(0) = ½
    /// assert!(BatchNorm1d::new(2).eval().backward_cpu(&x, &dy).is_err()); // not in eval mode
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn backward_cpu(&self, x: &CpuTensor, dy: &CpuTensor) -> Result<Gradients<CpuTensor>> {
        let (n, sample) = split_batch(self.name(), x.shape())?;
        let (spec, out) = self.spec(sample)?;
        self.check_backward(n, &out, dy.shape())?;
        let mut net = self.cpu_net(spec)?;
        net.run(0, x.data(), n, Mode::BatchStats)?;
        let dx = net.backward_slot(0, dy.data(), n, true, false)?;
        let params = self.params.iter().zip(net.grads).map(|((name, p), g)| Ok((*name, CpuTensor::new(p.shape(), g)?))).collect::<Result<_>>()?;
        Ok(Gradients { input: CpuTensor::new(x.shape(), dx)?, params })
    }

    fn check_backward(&self, n: usize, out: &[usize], dy: &[usize]) -> Result<()> {
        if dy != with_batch(n, out) {
            return Err(Error::Shape(format!("{}: the output gradient has shape {dy:?}; the output has {:?}", self.name(), with_batch(n, out))));
        }
        if self.mode == Mode::Eval && matches!(self.kind, Kind::BatchNorm { .. }) {
            return Err(Error::Shape(format!("{}: backward through evaluation mode (running statistics) is not supported; set Mode::Train", self.name())));
        }
        Ok(())
    }

    fn values(&self) -> Vec<Vec<f32>> {
        self.params.iter().map(|(_, p)| p.data().to_vec()).collect()
    }

    fn cpu_net(&self, spec: NetSpec) -> Result<CpuNet> {
        let mut net = CpuNet::new(spec, self.values())?;
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !running.is_empty() {
            net.running = vec![running];
        }
        Ok(net)
    }

    /// Runs `f` on the network for samples of shape `sample` on `gpu`, built for a batch of at
    /// least `n`: the one kept from the last call if it fits, else a new one (kept in its place).
    fn on_gpu<T>(&self, gpu: &Gpu, spec: NetSpec, sample: &[usize], n: usize, f: impl FnOnce(&GpuNet) -> Result<T>) -> Result<T> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let fits = built.as_ref().is_some_and(|b| b.device == gpu.device && b.sample == sample && b.net.max_batch >= n);
        if !fits {
            *built = None;
            let net = GpuNet::new(gpu, spec, &self.values(), n, 1, self.name())?;
            *built = Some(Built { device: gpu.device.clone(), sample: sample.to_vec(), net });
        }
        let net = &built.as_ref().expect("built above").net;
        // The running statistics live here, not on the device: each call starts from them.
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(t) = net.running.first() {
            t.write(gpu, &running)?;
        }
        f(net)
    }
}

/// (batch, the shape of one sample).
fn split_batch<'a>(name: &str, shape: &'a [usize]) -> Result<(usize, &'a [usize])> {
    match shape.split_first() {
        Some((&n, sample)) if n > 0 => Ok((n, sample)),
        _ => Err(Error::Shape(format!("{name}: an input needs a batch dimension of at least 1 first; got shape {shape:?}"))),
    }
}

fn with_batch(n: usize, sample: &[usize]) -> Vec<usize> {
    std::iter::once(n).chain(sample.iter().copied()).collect()
}

/// A buffer that starts with `t`'s values: its own, or a copy of its range of a larger one.
fn whole_buffer(gpu: &Gpu, t: &Tensor) -> Result<wgpu::Buffer> {
    if t.offset == 0 {
        return Ok(t.buffer.clone());
    }
    let copy = Tensor::zeros(gpu, "input", t.len())?;
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&t.buffer, t.offset, &copy.buffer, 0, t.bytes());
    gpu.queue.submit([encoder.finish()]);
    Ok(copy.buffer)
}

/// The builder methods every layer has: `$new` builds one for the examples.
macro_rules! common {
    ($t:ident, $new:literal) => {
        impl $t {
            /// Parameters drawn from this seed (by default each new layer takes the next value of
            /// a process-wide counter from 0: the same weights for the same order of construction).
            ///
            #[doc = concat!("```\nuse wgpu_gan::layers::*;\nlet (a, b) = (", $new, ".seed(7), ", $new, ".seed(7));\nfor name in a.param_names() {\n    assert_eq!(a.param(name), b.param(name)); // the same seed, the same values\n}\n```")]
            pub fn seed(mut self, seed: u32) -> $t {
                self.0.seed = seed;
                self.0.reset();
                self
            }

            /// Evaluation mode (PyTorch's `eval()`): see [`Module::set_mode`].
            ///
            #[doc = concat!("```\nuse wgpu_gan::{layers::*, nn::Mode};\nassert_eq!(", $new, ".mode(), Mode::Train);\nassert_eq!(", $new, ".eval().mode(), Mode::Eval);\n```")]
            pub fn eval(mut self) -> $t {
                self.0.mode = Mode::Eval;
                self
            }

            /// The module itself.
            ///
            #[doc = concat!("```\nuse wgpu_gan::layers::*;\nlet layer = ", $new, ".seed(3);\nlet names = layer.param_names();\nlet m: Module = layer.into_module();\nassert_eq!(m.param_names(), names);\n```")]
            pub fn into_module(self) -> Module {
                self.0
            }
        }

        impl std::ops::Deref for $t {
            type Target = Module;
            fn deref(&self) -> &Module {
                &self.0
            }
        }

        impl std::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Module {
                &mut self.0
            }
        }

        impl From<$t> for Module {
            fn from(l: $t) -> Module {
                l.0
            }
        }
    };
}

/// Sets one field of a module's [`Kind`] and draws fresh parameters.
macro_rules! set {
    ($self:ident, $variant:ident { $field:ident } = $value:expr) => {{
        let value = $value;
        if let Kind::$variant { $field, .. } = &mut $self.0.kind {
            *$field = value;
        }
        $self.0.reset();
        $self
    }};
}

/// Builder methods of the two convolutions: `$new` builds a 1 → 1 channel, 3 × 3 one for the
/// examples, and the shapes are its outputs on a 5 × 5 input with stride 2, padding 1, dilation 2.
macro_rules! conv_builders {
    ($t:ident, $new:literal, $strided:literal, $padded:literal, $dilated:literal) => {
        impl $t {
            /// Steps between the kernel's positions (PyTorch's `stride`): one value, or (height, width).
            ///
            #[doc = concat!("```\nuse wgpu_gan::{gpu::CpuTensor, layers::*};\nlet x = CpuTensor::new(&[1, 1, 5, 5], vec![1.0; 25])?;\nassert_eq!(", $new, ".stride(2).forward_cpu(&x)?.shape(), &", $strided, ");\n# Ok::<(), wgpu_gan::Error>(())\n```")]
            pub fn stride(mut self, s: impl Pair) -> $t {
                set!(self, Conv { stride } = s.pair())
            }

            /// Zeros added on each side (PyTorch's `padding`).
            ///
            #[doc = concat!("```\nuse wgpu_gan::{gpu::CpuTensor, layers::*};\nlet x = CpuTensor::new(&[1, 1, 5, 5], vec![1.0; 25])?;\nassert_eq!(", $new, ".padding(1).forward_cpu(&x)?.shape(), &", $padded, ");\n# Ok::<(), wgpu_gan::Error>(())\n```")]
            pub fn padding(mut self, p: impl Pair) -> $t {
                set!(self, Conv { pad } = p.pair())
            }

            /// Spacing between the kernel's taps (PyTorch's `dilation`).
            ///
            #[doc = concat!("```\nuse wgpu_gan::{gpu::CpuTensor, layers::*};\nlet x = CpuTensor::new(&[1, 1, 5, 5], vec![1.0; 25])?;\nassert_eq!(", $new, ".dilation(2).forward_cpu(&x)?.shape(), &", $dilated, ");\n# Ok::<(), wgpu_gan::Error>(())\n```")]
            pub fn dilation(mut self, d: impl Pair) -> $t {
                set!(self, Conv { dil } = d.pair())
            }

            /// Whether it adds a bias (default true).
            ///
            #[doc = concat!("```\nuse wgpu_gan::layers::*;\nassert_eq!(", $new, ".param_names(), [\"weight\", \"bias\"]);\nassert_eq!(", $new, ".bias(false).param_names(), [\"weight\"]);\n```")]
            pub fn bias(mut self, on: bool) -> $t {
                set!(self, Conv { bias } = on)
            }
        }
        common!($t, $new);
    };
}

/// PyTorch's `nn.Conv2d(cin, cout, k)`: inputs `[n, cin, h, w]`.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::Conv2d};
/// let conv = Conv2d::new(2, 4, (3, 1)).stride(2).padding((1, 0)).seed(7);
/// let y = conv.forward_cpu(&CpuTensor::new(&[1, 2, 5, 5], vec![1.0; 50])?)?;
/// assert_eq!(y.shape(), &[1, 4, 3, 3]);
/// assert_eq!(conv.param("weight").unwrap().shape(), &[4, 2, 3, 1]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Conv2d(Module);

impl Conv2d {
    /// `cin` input channels, `cout` output channels, kernel `k` (one size or (height, width)),
    /// stride 1, no padding, dilation 1, with a bias.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Conv2d};
    /// let conv = Conv2d::new(3, 8, (3, 2));
    /// assert_eq!(conv.param("weight").unwrap().shape(), &[8, 3, 3, 2]);
    /// let y = conv.forward_cpu(&CpuTensor::new(&[1, 3, 4, 4], vec![0.0; 48])?)?;
    /// assert_eq!(y.shape(), &[1, 8, 2, 3]);                    // valid positions only
    /// let b0 = conv.param("bias").unwrap().data()[0];
    /// assert!(y.data()[..6].iter().all(|v| *v == b0));        // zeros in: channel 0's bias out
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(cin: usize, cout: usize, k: impl Pair) -> Conv2d {
        Conv2d(Module::new(Kind::Conv { transposed: false, cin, cout, k: k.pair(), stride: [1; 2], pad: [0; 2], dil: [1; 2], out_pad: [0; 2], bias: true }))
    }
}
conv_builders!(Conv2d, "Conv2d::new(1, 1, 3)", "[1, 1, 2, 2]", "[1, 1, 5, 5]", "[1, 1, 1, 1]");

/// PyTorch's `nn.ConvTranspose2d(cin, cout, k)`: inputs `[n, cin, h, w]`.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::ConvTranspose2d};
/// let up = ConvTranspose2d::new(4, 2, 4).stride(2).padding(1).bias(false);
/// let y = up.forward_cpu(&CpuTensor::new(&[1, 4, 3, 3], vec![0.5; 36])?)?;
/// assert_eq!(y.shape(), &[1, 2, 6, 6]);
/// assert_eq!(up.param_names(), ["weight"]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct ConvTranspose2d(Module);

impl ConvTranspose2d {
    /// `cin` input channels, `cout` output channels, kernel `k`, stride 1, no padding.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::ConvTranspose2d};
    /// let up = ConvTranspose2d::new(4, 2, 3);
    /// assert_eq!(up.param("weight").unwrap().shape(), &[4, 2, 3, 3]); // PyTorch's (cin, cout, kh, kw)
    /// let y = up.forward_cpu(&CpuTensor::new(&[1, 4, 2, 2], vec![1.0; 16])?)?;
    /// assert_eq!(y.shape(), &[1, 2, 4, 4]);                         // (2 − 1) + 3
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(cin: usize, cout: usize, k: impl Pair) -> ConvTranspose2d {
        ConvTranspose2d(Module::new(Kind::Conv { transposed: true, cin, cout, k: k.pair(), stride: [1; 2], pad: [0; 2], dil: [1; 2], out_pad: [0; 2], bias: true }))
    }

    /// Rows and columns added at the bottom and right of the output (PyTorch's `output_padding`).
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::ConvTranspose2d};
    /// let x = CpuTensor::new(&[1, 1, 3, 3], vec![1.0; 9])?;
    /// let up = ConvTranspose2d::new(1, 1, 3).stride(2).padding(1);
    /// assert_eq!(up.forward_cpu(&x)?.shape(), &[1, 1, 5, 5]);
    /// assert_eq!(up.output_padding(1).forward_cpu(&x)?.shape(), &[1, 1, 6, 6]); // twice the input
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn output_padding(mut self, p: impl Pair) -> ConvTranspose2d {
        set!(self, Conv { out_pad } = p.pair())
    }
}
conv_builders!(ConvTranspose2d, "ConvTranspose2d::new(1, 1, 3)", "[1, 1, 11, 11]", "[1, 1, 5, 5]", "[1, 1, 9, 9]");

/// PyTorch's `nn.Linear(inp, out)`: inputs `[n, inp]`.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::Linear};
/// let fc = Linear::new(3, 2);
/// let x = CpuTensor::new(&[4, 3], vec![0.1; 12])?;
/// let g = fc.backward_cpu(&x, &CpuTensor::new(&[4, 2], vec![1.0; 8])?)?;
/// assert_eq!(g.param("bias").unwrap().data(), &[4.0, 4.0]); // the sum of dy over the batch
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Linear(Module);

impl Linear {
    /// `inp` inputs, `out` outputs, with a bias.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Linear};
    /// let mut fc = Linear::new(2, 1);
    /// fc.set_param("weight", CpuTensor::new(&[1, 2], vec![2.0, -1.0])?)?;
    /// fc.set_param("bias", CpuTensor::new(&[1], vec![0.5])?)?;
    /// let y = fc.forward_cpu(&CpuTensor::new(&[1, 2], vec![3.0, 4.0])?)?;
    /// assert_eq!(y.data(), &[2.5]); // 2·3 − 4 + 0.5
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(inp: usize, out: usize) -> Linear {
        Linear(Module::new(Kind::Linear { inp, out, bias: true }))
    }

    /// Whether it adds a bias (default true).
    ///
    /// ```
    /// use wgpu_gan::layers::Linear;
    /// assert_eq!(Linear::new(4, 2).param_names(), ["weight", "bias"]);
    /// assert_eq!(Linear::new(4, 2).bias(false).param_names(), ["weight"]);
    /// ```
    pub fn bias(mut self, on: bool) -> Linear {
        set!(self, Linear { bias } = on)
    }
}
common!(Linear, "Linear::new(2, 3)");

/// Builder methods of the two batch norms: `$new` builds a one-channel one for the examples,
/// `$shape` is the shape of two values of its channel.
macro_rules! bn_builders {
    ($t:ident, $new:literal, $shape:literal) => {
        impl $t {
            /// Added to the variance before its square root (default 1e-5).
            ///
            #[doc = concat!("```\nuse wgpu_gan::{gpu::CpuTensor, layers::*};\nlet x = CpuTensor::new(&", $shape, ", vec![1.0, 3.0])?; // mean 2, variance 1\nlet y = ", $new, ".eps(3.0).forward_cpu(&x)?;\nassert!((y.data()[1] - 0.5).abs() < 1e-6); // (3 − 2) / √(1 + 3)\n# Ok::<(), wgpu_gan::Error>(())\n```")]
            pub fn eps(mut self, eps: f32) -> $t {
                set!(self, BatchNorm { eps } = eps)
            }

            /// How far the running statistics move towards each batch's (default 0.1).
            ///
            #[doc = concat!("```\nuse wgpu_gan::{gpu::CpuTensor, layers::*};\nlet bn = ", $new, ".momentum(0.25);\nbn.forward_cpu(&CpuTensor::new(&", $shape, ", vec![1.0, 7.0])?)?;\nassert_eq!(bn.running()[0].1.data(), &[1.0]); // a quarter of the way from 0 to the mean, 4\n# Ok::<(), wgpu_gan::Error>(())\n```")]
            pub fn momentum(mut self, m: f32) -> $t {
                set!(self, BatchNorm { momentum } = m)
            }
        }
        common!($t, $new);
    };
}

/// PyTorch's `nn.BatchNorm2d(c)`: inputs `[n, c, h, w]`, statistics per channel.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::BatchNorm2d};
/// let bn = BatchNorm2d::new(1).momentum(0.5);
/// bn.forward_cpu(&CpuTensor::new(&[2, 1, 1, 2], vec![1.0, 3.0, 5.0, 7.0])?)?;
/// assert_eq!(bn.running()[0].1.data(), &[2.0]); // half way from 0 to the batch mean, 4
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct BatchNorm2d(Module);

impl BatchNorm2d {
    /// `c` channels, eps 1e-5, momentum 0.1, with a scale and a shift.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::BatchNorm2d};
    /// let bn = BatchNorm2d::new(2);
    /// let x = CpuTensor::new(&[1, 2, 1, 2], vec![1.0, 3.0, -5.0, 5.0])?; // channel means 2 and 0
    /// let y = bn.forward_cpu(&x)?;
    /// assert!(y.data().iter().zip([-1.0, 1.0, -1.0, 1.0]).all(|(a, b)| (a - b).abs() < 1e-4));
    /// assert_eq!(bn.running()[0].1.data(), &[0.2, 0.0]);       // mean moved 0.1 of the way
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(c: usize) -> BatchNorm2d {
        BatchNorm2d(Module::new(Kind::BatchNorm { c, eps: 1e-5, momentum: 0.1, two_d: true }))
    }
}
bn_builders!(BatchNorm2d, "BatchNorm2d::new(1)", "[1, 1, 1, 2]");

/// PyTorch's `nn.BatchNorm1d(c)`: inputs `[n, c]` or `[n, c, length]`.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::BatchNorm1d};
/// let bn = BatchNorm1d::new(2);
/// let y = bn.forward_cpu(&CpuTensor::new(&[2, 2], vec![0.0, 1.0, 2.0, 5.0])?)?;
/// assert!((y.data()[0] + 1.0).abs() < 1e-4 && (y.data()[3] - 1.0).abs() < 1e-4);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct BatchNorm1d(Module);

impl BatchNorm1d {
    /// `c` features, eps 1e-5, momentum 0.1, with a scale and a shift.
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::BatchNorm1d};
    /// let bn = BatchNorm1d::new(2);
    /// assert_eq!(bn.param("weight").unwrap().shape(), &[2]);
    /// assert!(bn.forward_cpu(&CpuTensor::new(&[2, 2, 3], vec![0.5; 12])?).is_ok()); // [n, c, length] too
    /// assert!(bn.forward_cpu(&CpuTensor::new(&[2, 3], vec![0.5; 6])?).is_err());    // 3 features
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(c: usize) -> BatchNorm1d {
        BatchNorm1d(Module::new(Kind::BatchNorm { c, eps: 1e-5, momentum: 0.1, two_d: false }))
    }
}
bn_builders!(BatchNorm1d, "BatchNorm1d::new(1)", "[2, 1]");

/// An element-wise activation on inputs of any shape: PyTorch's `nn.ReLU`, `nn.LeakyReLU`,
/// `nn.Tanh`, `nn.Sigmoid`.
///
/// ```
/// use wgpu_gan::{gpu::CpuTensor, layers::Activation};
/// let y = Activation::leaky_relu(0.2).forward_cpu(&CpuTensor::new(&[1, 2], vec![-1.0, 3.0])?)?;
/// assert_eq!(y.data(), &[-0.2, 3.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Activation(Module);

impl Activation {
    /// PyTorch's `nn.ReLU`: max(x, 0).
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Activation};
    /// let y = Activation::relu().forward_cpu(&CpuTensor::new(&[1, 3], vec![-2.0, 0.0, 1.5])?)?;
    /// assert_eq!(y.data(), &[0.0, 0.0, 1.5]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn relu() -> Activation {
        Activation(Module::new(Kind::Act(Act::Relu)))
    }

    /// max(x, 0) + slope · min(x, 0).
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Activation};
    /// let y = Activation::leaky_relu(0.5).forward_cpu(&CpuTensor::new(&[2, 1], vec![-4.0, 4.0])?)?;
    /// assert_eq!(y.data(), &[-2.0, 4.0]);
    /// assert_eq!(Activation::leaky_relu(0.5).name(), "LeakyReLU");
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn leaky_relu(slope: f32) -> Activation {
        Activation(Module::new(Kind::Act(Act::LeakyRelu(slope))))
    }

    /// PyTorch's `nn.Tanh`: values into (−1, 1).
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Activation};
    /// let y = Activation::tanh().forward_cpu(&CpuTensor::new(&[1, 3], vec![0.0, 20.0, -20.0])?)?;
    /// assert_eq!(y.data()[0], 0.0);
    /// assert!((y.data()[1] - 1.0).abs() < 1e-6 && (y.data()[2] + 1.0).abs() < 1e-6);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn tanh() -> Activation {
        Activation(Module::new(Kind::Act(Act::Tanh)))
    }

    /// PyTorch's `nn.Sigmoid`: 1 / (1 + e^−x), values into (0, 1).
    ///
    /// ```
    /// use wgpu_gan::{gpu::CpuTensor, layers::Activation};
    /// let y = Activation::sigmoid().forward_cpu(&CpuTensor::new(&[1, 2], vec![0.0, 2.0])?)?;
    /// assert_eq!(y.data()[0], 0.5);
    /// assert!((y.data()[1] - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn sigmoid() -> Activation {
        Activation(Module::new(Kind::Act(Act::Sigmoid)))
    }
}
common!(Activation, "Activation::leaky_relu(0.2)");
