//! The GPU side of a sequential network: parameters, gradients and per-layer activation buffers
//! allocated once for a maximum batch, and programs (forward, backward) built for a given batch.

use super::{Act, Layer, MlpSpec};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};

/// Invocations for a register-blocked matrix kernel of `shaders/linear.wgsl`: one per 4×4 block.
pub fn blocks4(rows: usize, cols: usize) -> u32 {
    (rows.div_ceil(4) * cols.div_ceil(4)) as u32
}

/// Uniform of `shaders/linear.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LinearParams {
    pub n: u32,
    pub in_f: u32,
    pub out_f: u32,
    pub _pad: u32,
}

/// Uniform of `shaders/activation.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ActParams {
    pub n: u32,
    pub slope: f32,
    pub _pad: [u32; 2],
}

pub fn act_entries(a: Act) -> (&'static str, &'static str, f32) {
    match a {
        Act::Relu => ("relu_forward", "relu_backward", 0.0),
        Act::LeakyRelu(s) => ("leaky_relu_forward", "leaky_relu_backward", s),
        Act::Tanh => ("tanh_forward", "tanh_backward", 0.0),
        Act::Sigmoid => ("sigmoid_forward", "sigmoid_backward", 0.0),
    }
}

pub struct GpuMlp {
    pub spec: MlpSpec,
    widths: Vec<usize>,
    pub max_batch: usize,
    /// W0, b0, W1, b1, … as in [`MlpSpec::param_lens`].
    pub params: Vec<Tensor>,
    pub grads: Vec<Tensor>,
    /// Output of every layer but the last (the caller gives the last one its buffer).
    acts: Vec<Tensor>,
    /// Gradient with respect to the output of every layer but the last.
    dacts: Vec<Tensor>,
}

impl GpuMlp {
    pub fn new(gpu: &Gpu, spec: MlpSpec, params: &[Vec<f32>], max_batch: usize, label: &str) -> Result<GpuMlp> {
        let widths = spec.widths()?;
        let lens = spec.param_lens();
        if lens.len() != params.len() || lens.iter().zip(params).any(|(l, p)| *l != p.len()) {
            return Err(Error::Shape(format!("{label}: parameters do not match the network")));
        }
        if max_batch == 0 {
            return Err(Error::Shape(format!("{label}: batch size must be at least 1")));
        }
        let p = params.iter().enumerate().map(|(i, v)| Tensor::from_slice(gpu, &format!("{label}.param{i}"), v)).collect::<Result<_>>()?;
        let g = lens.iter().enumerate().map(|(i, &l)| Tensor::zeros(gpu, &format!("{label}.grad{i}"), l)).collect::<Result<_>>()?;
        let hidden = &widths[..widths.len() - 1];
        let acts = hidden.iter().enumerate().map(|(i, &w)| Tensor::zeros(gpu, &format!("{label}.act{i}"), max_batch * w)).collect::<Result<_>>()?;
        let dacts = hidden.iter().enumerate().map(|(i, &w)| Tensor::zeros(gpu, &format!("{label}.dact{i}"), max_batch * w)).collect::<Result<_>>()?;
        Ok(GpuMlp { spec, widths, max_batch, params: p, grads: g, acts, dacts })
    }

    fn check_batch(&self, n: usize) -> Result<u32> {
        if n == 0 || n > self.max_batch {
            return Err(Error::Shape(format!("batch {n} outside 1..={} that this network was built for", self.max_batch)));
        }
        Ok(n as u32)
    }

    /// input (n, in) -> output (n, out). `output` may be a larger buffer; rows [0, n) are written.
    pub fn forward(&self, gpu: &Gpu, input: &wgpu::Buffer, output: &wgpu::Buffer, n: usize) -> Result<Program> {
        let nb = self.check_batch(n)?;
        let last = self.spec.layers.len() - 1;
        let mut prog = Program::default();
        let mut pi = 0;
        for (li, l) in self.spec.layers.iter().enumerate() {
            let x = if li == 0 { input } else { &self.acts[li - 1].buffer };
            let y = if li == last { output } else { &self.acts[li].buffer };
            prog.push(match *l {
                Layer::Linear { inp, out } => {
                    let k = gpu.kernel("linear", "linear_forward")?;
                    let p = LinearParams { n: nb, in_f: inp as u32, out_f: out as u32, _pad: 0 };
                    let d = Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, &self.params[pi].buffer, &self.params[pi + 1].buffer, y], Some(blocks4(n, out)))?;
                    pi += 2;
                    d
                }
                Layer::Act(a) => {
                    let (fwd, _, slope) = act_entries(a);
                    let len = nb * self.widths[li] as u32;
                    let k = gpu.kernel("activation", fwd)?;
                    Dispatch::new(gpu, &k, bytemuck::bytes_of(&ActParams { n: len, slope, _pad: [0; 2] }), &[x, y], Some(len))?
                }
            });
        }
        Ok(prog)
    }

    /// dout (n, out) -> gradients. `input` must be the buffer the matching forward read. Writes
    /// parameter gradients when `weight_grads`, and the input gradient into `dinput` when given.
    pub fn backward(&self, gpu: &Gpu, input: &wgpu::Buffer, dout: &wgpu::Buffer, dinput: Option<&wgpu::Buffer>, n: usize, weight_grads: bool) -> Result<Program> {
        let nb = self.check_batch(n)?;
        let last = self.spec.layers.len() - 1;
        let mut prog = Program::default();
        let mut pi = self.params.len();
        for (li, l) in self.spec.layers.iter().enumerate().rev() {
            let x = if li == 0 { input } else { &self.acts[li - 1].buffer };
            let dy = if li == last { dout } else { &self.dacts[li].buffer };
            let dx = if li == 0 { dinput } else { Some(&self.dacts[li - 1].buffer) };
            match *l {
                Layer::Linear { inp, out } => {
                    pi -= 2;
                    let p = LinearParams { n: nb, in_f: inp as u32, out_f: out as u32, _pad: 0 };
                    let pb = bytemuck::bytes_of(&p);
                    if weight_grads {
                        let k = gpu.kernel("linear", "linear_backward_weight")?;
                        prog.push(Dispatch::new(gpu, &k, pb, &[x, dy, &self.grads[pi].buffer], Some(blocks4(out, inp)))?);
                        let k = gpu.kernel("linear", "linear_backward_bias")?;
                        prog.push(Dispatch::new(gpu, &k, pb, &[dy, &self.grads[pi + 1].buffer], Some(out as u32))?);
                    }
                    if let Some(dx) = dx {
                        let k = gpu.kernel("linear", "linear_backward_input")?;
                        prog.push(Dispatch::new(gpu, &k, pb, &[&self.params[pi].buffer, dy, dx], Some(blocks4(n, inp)))?);
                    }
                }
                Layer::Act(a) => {
                    if let Some(dx) = dx {
                        let (_, bwd, slope) = act_entries(a);
                        let len = nb * self.widths[li] as u32;
                        let k = gpu.kernel("activation", bwd)?;
                        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&ActParams { n: len, slope, _pad: [0; 2] }), &[x, dy, dx], Some(len))?);
                    }
                }
            }
        }
        Ok(prog)
    }

    /// Reads every parameter back (W0, b0, W1, b1, …).
    pub fn read_params(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        self.params.iter().map(|t| t.read(gpu)).collect()
    }
}
