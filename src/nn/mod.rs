//! Layers and sequential networks. A network is a list of [`Layer`]s applied one after another to
//! a batch of n samples stored back to back (NCHW for images). Reshapes cost nothing: a layer only
//! checks that it receives as many values per sample as it expects, so Linear(100, 6272) feeds a
//! BatchNorm1d(6272) and then a ConvTranspose2d reading (128, 7, 7) from the same buffer, and a
//! Conv2d output flattens into a Linear layer the same way.
//!
//! Parameters per layer (PyTorch's layouts and names): Linear W (out, in), b (out); Conv2d
//! W (cout, cin, kh, kw), b (cout); ConvTranspose2d W (cin, cout, kh, kw), b (cout); BatchNorm
//! γ = "weight" (c), β = "bias" (c), plus the running statistics (not trained, kept beside them).
//!
//! [`CpuNet`] is the reference implementation; [`GpuNet`] builds the same computation as
//! [`Program`](crate::gpu::Program)s of WGSL dispatches. Both keep the activations of each forward
//! pass in a numbered *slot*, so that one network can run forward on two batches (a
//! discriminator's real and generated halves, which batch normalisation must not mix) and then
//! backpropagate each, adding the second pass's parameter gradients to the first's.

mod gpu;
pub use gpu::{act_entries, blocks4, copy_range, ActParams, BnParams, ConvParams, GpuNet, LinearParams};

use crate::cpu::{self, BnSaved, ConvShape};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
}

/// A convolution layer's geometry: input (cin, h, w), kernel kh × kw, one stride and padding for
/// both directions, and the output padding of a transposed convolution (0 for Conv2d).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub out_pad: usize,
}

impl ConvSpec {
    /// Square kernel `k`, stride `s`, padding `p` on a (cin, h, w) input.
    pub fn new(cin: usize, cout: usize, h: usize, w: usize, k: usize, s: usize, p: usize) -> ConvSpec {
        ConvSpec { cin, cout, h, w, kh: k, kw: k, stride: s, pad: p, out_pad: 0 }
    }

    /// The kernels' view of this layer at batch n (see [`ConvShape`]).
    pub fn shape(&self, n: usize, transposed: bool) -> ConvShape {
        let c = self;
        if transposed {
            ConvShape::transposed(n, c.cin, c.h, c.w, c.cout, c.kh, c.kw, c.stride, c.pad, c.out_pad)
        } else {
            ConvShape::conv2d(n, c.cin, c.h, c.w, c.cout, c.kh, c.kw, c.stride, c.pad)
        }
    }

    /// Output (channels, height, width).
    pub fn out_chw(&self, transposed: bool) -> (usize, usize, usize) {
        let s = self.shape(1, transposed);
        if transposed {
            (self.cout, s.h, s.w)
        } else {
            (self.cout, s.oh, s.ow)
        }
    }

    fn check(&self, transposed: bool) -> Result<()> {
        let c = self;
        let what = if transposed { "ConvTranspose2d" } else { "Conv2d" };
        if [c.cin, c.cout, c.h, c.w, c.kh, c.kw, c.stride].contains(&0) {
            return Err(Error::Shape(format!("{what} {c:?}: channels, sizes, kernel and stride must be at least 1")));
        }
        if transposed {
            if c.out_pad >= c.stride {
                return Err(Error::Shape(format!("{what} {c:?}: output padding must be smaller than the stride")));
            }
            if (c.h - 1) * c.stride + c.kh + c.out_pad <= 2 * c.pad || (c.w - 1) * c.stride + c.kw + c.out_pad <= 2 * c.pad {
                return Err(Error::Shape(format!("{what} {c:?}: the padding leaves no output")));
            }
        } else {
            if c.out_pad != 0 {
                return Err(Error::Shape(format!("{what} {c:?}: output padding is for transposed convolutions")));
            }
            if c.h + 2 * c.pad < c.kh || c.w + 2 * c.pad < c.kw {
                return Err(Error::Shape(format!("{what} {c:?}: the kernel is larger than the padded input")));
            }
        }
        Ok(())
    }
}

/// Batch normalisation over `c` channels of `hw` positions each (hw = 1: BatchNorm1d).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BnSpec {
    pub c: usize,
    pub hw: usize,
    pub eps: f32,
    pub momentum: f32,
}

impl BnSpec {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1.
    pub fn new(c: usize, hw: usize) -> BnSpec {
        BnSpec { c, hw, eps: 1e-5, momentum: 0.1 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    Linear { inp: usize, out: usize },
    Conv2d(ConvSpec),
    ConvT2d(ConvSpec),
    BatchNorm(BnSpec),
    Act(Act),
}

impl Layer {
    /// Values per sample this layer reads (None for layers that take whatever they get).
    fn in_len(&self) -> Option<usize> {
        match *self {
            Layer::Linear { inp, .. } => Some(inp),
            Layer::Conv2d(c) | Layer::ConvT2d(c) => Some(c.cin * c.h * c.w),
            Layer::BatchNorm(b) => Some(b.c * b.hw),
            Layer::Act(_) => None,
        }
    }

    fn out_len(&self, inp: usize) -> usize {
        match *self {
            Layer::Linear { out, .. } => out,
            Layer::Conv2d(c) => {
                let (a, b, d) = c.out_chw(false);
                a * b * d
            }
            Layer::ConvT2d(c) => {
                let (a, b, d) = c.out_chw(true);
                a * b * d
            }
            Layer::BatchNorm(b) => b.c * b.hw,
            Layer::Act(_) => inp,
        }
    }

    /// Parameter tensors: (PyTorch name suffix, shape).
    pub fn param_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            Layer::Linear { inp, out } => vec![("weight", vec![out, inp]), ("bias", vec![out])],
            Layer::Conv2d(c) => vec![("weight", vec![c.cout, c.cin, c.kh, c.kw]), ("bias", vec![c.cout])],
            Layer::ConvT2d(c) => vec![("weight", vec![c.cin, c.cout, c.kh, c.kw]), ("bias", vec![c.cout])],
            Layer::BatchNorm(b) => vec![("weight", vec![b.c]), ("bias", vec![b.c])],
            Layer::Act(_) => vec![],
        }
    }
}

/// How parameters start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// PyTorch's defaults: weights and biases U(−1/√fan_in, 1/√fan_in); BatchNorm γ = 1, β = 0.
    PyTorch,
    /// DCGAN (Radford et al.): weights N(0, 0.02), biases 0, BatchNorm γ ~ N(1, 0.02), β = 0.
    Dcgan,
}

/// A sequential network's architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    pub layers: Vec<Layer>,
}

impl NetSpec {
    /// Linear layers of the given widths with `hidden` between them and `last` after the last.
    pub fn mlp(widths: &[usize], hidden: Act, last: Option<Act>) -> NetSpec {
        let mut layers = Vec::new();
        for (i, w) in widths.windows(2).enumerate() {
            layers.push(Layer::Linear { inp: w[0], out: w[1] });
            if i + 2 < widths.len() {
                layers.push(Layer::Act(hidden));
            }
        }
        if let Some(a) = last {
            layers.push(Layer::Act(a));
        }
        NetSpec { layers }
    }

    /// Values per sample after each layer; checks that consecutive layers fit.
    pub fn widths(&self) -> Result<Vec<usize>> {
        let mut w = None::<usize>;
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            match *l {
                Layer::Conv2d(c) => c.check(false)?,
                Layer::ConvT2d(c) => c.check(true)?,
                Layer::Linear { inp, out } if inp == 0 || out == 0 => return Err(Error::Shape(format!("layer {i}: a Linear layer has zero width"))),
                Layer::BatchNorm(b) if b.c == 0 || b.hw == 0 || !(b.eps > 0.0) || !(0.0..=1.0).contains(&b.momentum) => {
                    return Err(Error::Shape(format!("layer {i}: BatchNorm {b:?} needs c, hw ≥ 1, eps > 0, momentum in [0, 1]")))
                }
                _ => {}
            }
            let inp = match (w, l.in_len()) {
                (Some(prev), Some(want)) if prev != want => {
                    return Err(Error::Shape(format!("layer {i} ({l:?}) takes {want} values per sample but receives {prev}")));
                }
                (_, Some(want)) => want,
                (Some(prev), None) => prev,
                (None, None) => return Err(Error::Shape("a network cannot start with an activation".into())),
            };
            let o = l.out_len(inp);
            w = Some(o);
            out.push(o);
        }
        if out.is_empty() {
            return Err(Error::Shape("empty network".into()));
        }
        Ok(out)
    }

    pub fn in_dim(&self) -> usize {
        self.layers.first().and_then(|l| l.in_len()).unwrap_or(0)
    }

    pub fn out_dim(&self) -> usize {
        self.widths().ok().and_then(|w| w.last().copied()).unwrap_or(0)
    }

    pub fn has_batchnorm(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, Layer::BatchNorm(_)))
    }

    /// Parameter lengths in order: each layer's weight then bias.
    pub fn param_lens(&self) -> Vec<usize> {
        self.param_names().into_iter().map(|(_, s)| s.iter().product()).collect()
    }

    /// Parameter names as a PyTorch `nn.Sequential` of these layers would call them
    /// ("3.weight" is the weight of layer 3), with their shapes.
    pub fn param_names(&self) -> Vec<(String, Vec<usize>)> {
        let mut v = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            for (suffix, shape) in l.param_shapes() {
                v.push((format!("{i}.{suffix}"), shape));
            }
        }
        v
    }

    /// Whether parameter `i` (in [`NetSpec::param_names`] order) is the bias of a layer whose
    /// output goes straight into a batch norm: batch norm subtracts every per-channel shift, so its
    /// gradient is zero in exact arithmetic and rounding noise in practice.
    pub fn structurally_zero(&self, i: usize) -> bool {
        let mut k = 0;
        for (li, l) in self.layers.iter().enumerate() {
            let n = l.param_shapes().len();
            if i < k + n {
                return i == k + 1 && !matches!(l, Layer::BatchNorm(_)) && matches!(self.layers.get(li + 1), Some(Layer::BatchNorm(_)));
            }
            k += n;
        }
        false
    }

    /// The BatchNorm layers: (layer index, spec). Each keeps running statistics (mean c, var c).
    pub fn batchnorms(&self) -> Vec<(usize, BnSpec)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| if let Layer::BatchNorm(b) = l { Some((i, *b)) } else { None }).collect()
    }

    /// Fresh running statistics, PyTorch's: mean 0, var 1.
    pub fn init_running(&self) -> Vec<Vec<f32>> {
        self.batchnorms().iter().map(|(_, b)| [vec![0.0; b.c], vec![1.0; b.c]].concat()).collect()
    }

    /// Initial parameters drawn from the counter-based generator (streams from `stream` upward),
    /// so that the same seed gives the same weights on every machine.
    pub fn init(&self, seed: u32, stream: u32, how: Init) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut s = stream;
        for l in &self.layers {
            let shapes = l.param_shapes();
            if shapes.is_empty() {
                continue;
            }
            let (wlen, blen) = (shapes[0].1.iter().product::<usize>(), shapes[1].1[0]);
            match (l, how) {
                (Layer::BatchNorm(_), Init::PyTorch) => {
                    out.push(vec![1.0; wlen]);
                    out.push(vec![0.0; blen]);
                }
                (Layer::BatchNorm(_), Init::Dcgan) => {
                    out.push(crate::rng::normal_fill(seed, s, wlen, 1.0, 0.02));
                    out.push(vec![0.0; blen]);
                }
                (_, Init::Dcgan) => {
                    out.push(crate::rng::normal_fill(seed, s, wlen, 0.0, 0.02));
                    out.push(vec![0.0; blen]);
                }
                (_, Init::PyTorch) => {
                    // fan_in as PyTorch computes it: weight.size(1) · kernel area.
                    let sh = &shapes[0].1;
                    let fan_in: usize = sh[1..].iter().product();
                    let k = 1.0 / (fan_in as f32).sqrt();
                    out.push(crate::rng::uniform_fill(seed, s, wlen, -k, k));
                    out.push(crate::rng::uniform_fill(seed, s + 1, blen, -k, k));
                }
            }
            s += 2;
        }
        out
    }
}

/// Whether batch normalisation uses the batch's statistics (and updates the running ones) or the
/// running statistics.
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

/// What one forward pass keeps for its backward pass: each layer's input and each batch norm's
/// statistics.
#[derive(Clone, Debug, Default)]
pub struct Tape {
    pub n: usize,
    pub inputs: Vec<Vec<f32>>,
    pub bn: Vec<Option<BnSaved>>,
}

/// The reference network: plain loops from [`crate::cpu`].
pub struct CpuNet {
    pub spec: NetSpec,
    pub params: Vec<Vec<f32>>,
    pub grads: Vec<Vec<f32>>,
    /// Running statistics of each BatchNorm layer, (mean c, var c), in [`NetSpec::batchnorms`] order.
    pub running: Vec<Vec<f32>>,
    tapes: Vec<Tape>,
}

fn check_params(spec: &NetSpec, params: &[Vec<f32>], what: &str) -> Result<()> {
    spec.widths()?;
    let names = spec.param_names();
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

impl CpuNet {
    pub fn new(spec: NetSpec, params: Vec<Vec<f32>>) -> Result<CpuNet> {
        check_params(&spec, &params, "CPU network")?;
        let grads = spec.param_lens().iter().map(|&l| vec![0.0; l]).collect();
        let running = spec.init_running();
        Ok(CpuNet { spec, params, grads, running, tapes: Vec::new() })
    }

    /// Training-mode forward in slot 0: x (n, in) -> y (n, out).
    pub fn forward(&mut self, x: &[f32], n: usize) -> Vec<f32> {
        self.run(0, x, n, Mode::Train)
    }

    /// Forward pass keeping its activations in `slot`.
    pub fn run(&mut self, slot: usize, x: &[f32], n: usize, mode: Mode) -> Vec<f32> {
        if self.tapes.len() <= slot {
            self.tapes.resize(slot + 1, Tape::default());
        }
        let mut tape = Tape { n, inputs: Vec::new(), bn: Vec::new() };
        let mut h = x.to_vec();
        let mut pi = 0;
        let mut bi = 0;
        for l in &self.spec.layers {
            let mut saved = None;
            let next = match *l {
                Layer::Linear { inp, out } => cpu::linear_forward(&h, &self.params[pi], &self.params[pi + 1], n, inp, out),
                Layer::Conv2d(c) => cpu::conv2d_forward(&h, &self.params[pi], Some(&self.params[pi + 1]), &c.shape(n, false)),
                Layer::ConvT2d(c) => cpu::conv_transpose2d_forward(&h, &self.params[pi], Some(&self.params[pi + 1]), &c.shape(n, true)),
                Layer::BatchNorm(b) => {
                    let st = match mode {
                        Mode::Train => cpu::batchnorm_stats(&h, n, b.c, b.hw, b.eps, b.momentum, Some(&mut self.running[bi])),
                        Mode::BatchStats => cpu::batchnorm_stats(&h, n, b.c, b.hw, b.eps, b.momentum, None),
                        Mode::Eval => cpu::bn_eval_stats(&self.running[bi], b.c, b.eps),
                    };
                    bi += 1;
                    let y = cpu::batchnorm_forward(&h, &self.params[pi], &self.params[pi + 1], &st, b.c, b.hw);
                    saved = (mode != Mode::Eval).then_some(st);
                    y
                }
                Layer::Act(a) => act_forward(a, &h),
            };
            pi += l.param_shapes().len();
            tape.bn.push(saved);
            tape.inputs.push(std::mem::replace(&mut h, next));
        }
        self.tapes[slot] = tape;
        h
    }

    /// Replaces the pass kept in `slot` (verification: backpropagating through another
    /// implementation's forward activations, see `gan::verify`).
    pub fn set_tape(&mut self, slot: usize, tape: Tape) {
        if self.tapes.len() <= slot {
            self.tapes.resize(slot + 1, Tape::default());
        }
        self.tapes[slot] = tape;
    }

    /// What each layer received in the last forward pass of slot 0.
    pub fn saved_inputs(&self) -> &[Vec<f32>] {
        &self.tapes[0].inputs
    }

    /// Backward through slot 0, overwriting parameter gradients when `weight_grads`.
    pub fn backward(&mut self, dy: &[f32], n: usize, weight_grads: bool) -> Vec<f32> {
        self.backward_slot(0, dy, n, weight_grads, false)
    }

    /// dy (n, out) -> dx (n, in) through the pass kept in `slot` (a training-mode pass). Parameter
    /// gradients are written when `weight_grads`, added to the existing ones when `accumulate`.
    pub fn backward_slot(&mut self, slot: usize, dy: &[f32], n: usize, weight_grads: bool, accumulate: bool) -> Vec<f32> {
        let tape = &self.tapes[slot];
        assert_eq!(tape.n, n, "backward batch differs from the forward pass in this slot");
        let mut g = dy.to_vec();
        let mut pi = self.params.len();
        let put = |grads: &mut Vec<Vec<f32>>, i: usize, v: Vec<f32>| {
            if weight_grads {
                if accumulate {
                    grads[i].iter_mut().zip(v).for_each(|(a, b)| *a += b);
                } else {
                    grads[i] = v;
                }
            }
        };
        for (li, l) in self.spec.layers.iter().enumerate().rev() {
            let x = &tape.inputs[li];
            pi -= l.param_shapes().len();
            g = match *l {
                Layer::Linear { inp, out } => {
                    if weight_grads {
                        put(&mut self.grads, pi, cpu::linear_backward_weight(&g, x, n, inp, out));
                        put(&mut self.grads, pi + 1, cpu::linear_backward_bias(&g, n, out));
                    }
                    cpu::linear_backward_input(&g, &self.params[pi], n, inp, out)
                }
                Layer::Conv2d(c) => {
                    let s = c.shape(n, false);
                    if weight_grads {
                        put(&mut self.grads, pi, cpu::conv2d_backward_weight(&g, x, &s));
                        put(&mut self.grads, pi + 1, cpu::channel_sum(&g, n, s.cout, s.oh * s.ow));
                    }
                    cpu::conv2d_backward_input(&g, &self.params[pi], None, &s)
                }
                Layer::ConvT2d(c) => {
                    let s = c.shape(n, true);
                    if weight_grads {
                        put(&mut self.grads, pi, cpu::conv_transpose2d_backward_weight(&g, x, &s));
                        put(&mut self.grads, pi + 1, cpu::channel_sum(&g, n, s.cin, s.h * s.w));
                    }
                    cpu::conv_transpose2d_backward_input(&g, &self.params[pi], &s)
                }
                Layer::BatchNorm(b) => {
                    let st = tape.bn[li].as_ref().expect("backward through an evaluation-mode batch norm is not supported");
                    let (dx, dgamma, dbeta) = cpu::batchnorm_backward(x, &g, &self.params[pi], st, n, b.c, b.hw);
                    put(&mut self.grads, pi, dgamma);
                    put(&mut self.grads, pi + 1, dbeta);
                    dx
                }
                Layer::Act(a) => act_backward(a, x, &g),
            };
        }
        g
    }
}

pub fn act_forward(a: Act, x: &[f32]) -> Vec<f32> {
    match a {
        Act::Relu => cpu::relu_forward(x),
        Act::LeakyRelu(s) => cpu::leaky_relu_forward(x, s),
        Act::Tanh => cpu::tanh_forward(x),
        Act::Sigmoid => cpu::sigmoid_forward(x),
    }
}

pub fn act_backward(a: Act, x: &[f32], dy: &[f32]) -> Vec<f32> {
    match a {
        Act::Relu => cpu::relu_backward(x, dy),
        Act::LeakyRelu(s) => cpu::leaky_relu_backward(x, dy, s),
        Act::Tanh => cpu::tanh_backward(x, dy),
        Act::Sigmoid => cpu::sigmoid_backward(x, dy),
    }
}
