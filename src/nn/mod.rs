//! Layers and sequential networks. A network is a list of [`Layer`]s; each Linear layer owns a
//! weight W (out,in) and bias b (out) with their gradients. The backward order of a sequential
//! network is known, so backward is called explicitly, layer by layer, last to first.
//!
//! [`CpuMlp`] is the reference implementation; [`GpuMlp`] builds the same computation as
//! [`Program`](crate::gpu::Program)s of WGSL dispatches.

mod gpu;
pub use gpu::{act_entries, blocks4, ActParams, LinearParams};
pub use gpu::GpuMlp;

use crate::cpu;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    Linear { inp: usize, out: usize },
    Act(Act),
}

/// A sequential network's architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    pub layers: Vec<Layer>,
}

impl MlpSpec {
    /// Linear layers of the given widths with `hidden` between them and nothing after the last.
    pub fn mlp(widths: &[usize], hidden: Act, last: Option<Act>) -> MlpSpec {
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
        MlpSpec { layers }
    }

    /// Width of each layer's output.
    pub fn widths(&self) -> Result<Vec<usize>> {
        let mut w = None::<usize>;
        let mut out = Vec::new();
        for l in &self.layers {
            match *l {
                Layer::Linear { inp, out: o } => {
                    if let Some(prev) = w {
                        if prev != inp {
                            return Err(Error::Shape(format!("a Linear layer takes {inp} features but receives {prev}")));
                        }
                    }
                    if inp == 0 || o == 0 {
                        return Err(Error::Shape("a Linear layer has zero width".into()));
                    }
                    w = Some(o);
                }
                Layer::Act(_) => {
                    if w.is_none() {
                        return Err(Error::Shape("a network must start with a Linear layer".into()));
                    }
                }
            }
            out.push(w.unwrap());
        }
        if out.is_empty() {
            return Err(Error::Shape("empty network".into()));
        }
        Ok(out)
    }

    pub fn in_dim(&self) -> usize {
        match self.layers.first() {
            Some(Layer::Linear { inp, .. }) => *inp,
            _ => 0,
        }
    }

    pub fn out_dim(&self) -> usize {
        self.widths().ok().and_then(|w| w.last().copied()).unwrap_or(0)
    }

    /// Parameter shapes in order: W0, b0, W1, b1, …
    pub fn param_lens(&self) -> Vec<usize> {
        self.layers
            .iter()
            .flat_map(|l| match *l {
                Layer::Linear { inp, out } => vec![out * inp, out],
                Layer::Act(_) => vec![],
            })
            .collect()
    }

    /// PyTorch's default Linear initialisation, W and b ~ U(−1/√in, 1/√in), drawn from the
    /// counter-based generator so that the same seed gives the same weights everywhere.
    pub fn init(&self, seed: u32, stream: u32) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut s = stream;
        for l in &self.layers {
            if let Layer::Linear { inp, out: o } = *l {
                let k = 1.0 / (inp as f32).sqrt();
                out.push(crate::rng::uniform_fill(seed, s, o * inp, -k, k));
                out.push(crate::rng::uniform_fill(seed, s + 1, o, -k, k));
                s += 2;
            }
        }
        out
    }
}

/// The reference network: plain loops from [`crate::cpu`], keeping each layer's input for backward.
pub struct CpuMlp {
    pub spec: MlpSpec,
    pub params: Vec<Vec<f32>>,
    pub grads: Vec<Vec<f32>>,
    inputs: Vec<Vec<f32>>,
}

impl CpuMlp {
    pub fn new(spec: MlpSpec, params: Vec<Vec<f32>>) -> Result<CpuMlp> {
        spec.widths()?;
        let lens = spec.param_lens();
        if lens.len() != params.len() || lens.iter().zip(&params).any(|(l, p)| *l != p.len()) {
            return Err(Error::Shape("parameters do not match the network".into()));
        }
        let grads = lens.iter().map(|&l| vec![0.0; l]).collect();
        Ok(CpuMlp { spec, params, grads, inputs: Vec::new() })
    }

    /// x (n, in) -> y (n, out)
    pub fn forward(&mut self, x: &[f32], n: usize) -> Vec<f32> {
        self.inputs.clear();
        let mut h = x.to_vec();
        let mut pi = 0;
        for l in &self.spec.layers {
            let next = match *l {
                Layer::Linear { inp, out } => {
                    let y = cpu::linear_forward(&h, &self.params[pi], &self.params[pi + 1], n, inp, out);
                    pi += 2;
                    y
                }
                Layer::Act(a) => act_forward(a, &h),
            };
            self.inputs.push(std::mem::replace(&mut h, next));
        }
        h
    }

    /// What each layer received in the last forward pass.
    pub fn saved_inputs(&self) -> &[Vec<f32>] {
        &self.inputs
    }

    /// dy (n, out) -> dx (n, in). Writes the parameter gradients when `weight_grads`.
    pub fn backward(&mut self, dy: &[f32], n: usize, weight_grads: bool) -> Vec<f32> {
        let mut g = dy.to_vec();
        let mut pi = self.params.len();
        for (li, l) in self.spec.layers.iter().enumerate().rev() {
            let x = &self.inputs[li];
            g = match *l {
                Layer::Linear { inp, out } => {
                    pi -= 2;
                    if weight_grads {
                        self.grads[pi] = cpu::linear_backward_weight(&g, x, n, inp, out);
                        self.grads[pi + 1] = cpu::linear_backward_bias(&g, n, out);
                    }
                    cpu::linear_backward_input(&g, &self.params[pi], n, inp, out)
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
