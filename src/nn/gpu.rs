//! The GPU side of a sequential network: parameters, gradients, running statistics and per-slot
//! activation buffers allocated once for a maximum batch, and programs (forward, backward) built
//! for a given batch.

use super::{check_params, Act, Layer, Mode, NetSpec, Tape};
use crate::cpu::BnSaved;
use crate::cpu::ConvShape;
use crate::error::{Error, Result};
use crate::gpu::budget::{self, plan_tiles, GemmParams, ReduceParams, Tiles};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};

/// Invocations for a register-blocked matrix kernel of `shaders/linear.wgsl`: one per 4×4 block.
pub fn blocks4(rows: usize, cols: usize) -> u32 {
    (rows.div_ceil(4) * cols.div_ceil(4)) as u32
}

/// Uniform of `shaders/linear.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LinearParams {
    pub n: u32,
    pub in_f: u32,
    pub out_f: u32,
    /// 1: add the weight/bias gradient into its buffer.
    pub accumulate: u32,
    /// Batch rows per tile of the bias gradient (a split reduction).
    pub n_per: u32,
    pub _pad: [u32; 3],
}

impl LinearParams {
    /// One tile over the whole batch.
    pub fn new(n: usize, in_f: usize, out_f: usize, accumulate: bool) -> LinearParams {
        LinearParams { n: n as u32, in_f: in_f as u32, out_f: out_f as u32, accumulate: accumulate as u32, n_per: (n as u32).max(1), _pad: [0; 3] }
    }

    /// Tiles of the bias gradient (one invocation per output per tile).
    pub fn bias_tiles(&self, parallel: u64) -> Tiles {
        let p = *self;
        plan_tiles(self.n, 1, self.out_f as u64, parallel, 4 * self.out_f as u64, |n_per, _| budget::loop_trips("linear::linear_backward_bias", bytemuck::bytes_of(&LinearParams { n_per: n_per as u32, ..p })).unwrap_or(u64::MAX))
    }
}

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

/// Uniform of `shaders/conv.wgsl` (the conv view of [`ConvShape`]).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvParams {
    pub n: u32,
    pub cin: u32,
    pub h: u32,
    pub w: u32,
    pub cout: u32,
    pub oh: u32,
    pub ow: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride: u32,
    pub pad: u32,
    /// bit 0: add the bias; bit 1: accumulate into the output.
    pub flags: u32,
    /// Split reductions (conv2d_backward_weight, channel_sum): samples and output rows per tile,
    /// tiles along the rows.
    pub n_per: u32,
    pub y_per: u32,
    pub y_splits: u32,
    pub _pad: u32,
}

impl ConvParams {
    pub fn new(s: &ConvShape, flags: u32) -> ConvParams {
        let u = |v: usize| v as u32;
        ConvParams {
            n: u(s.n),
            cin: u(s.cin),
            h: u(s.h),
            w: u(s.w),
            cout: u(s.cout),
            oh: u(s.oh),
            ow: u(s.ow),
            kh: u(s.kh),
            kw: u(s.kw),
            stride: u(s.stride),
            pad: u(s.pad),
            flags,
            n_per: u(s.n.max(1)),
            y_per: u(s.oh.max(1)),
            y_splits: 1,
            _pad: 0,
        }
    }

    pub fn with_tiles(self, t: Tiles) -> ConvParams {
        ConvParams { n_per: t.n_per, y_per: t.y_per, y_splits: t.y_tiles, ..self }
    }

    /// Tiles of the weight gradient over (samples, output rows).
    pub fn weight_tiles(&self, parallel: u64) -> Tiles {
        let bytes = 4 * (self.cin * self.h * self.w + self.cout * self.oh * self.ow) as u64;
        plan_tiles(self.n, self.oh, self.backward_weight_threads() as u64, parallel, bytes, |np, yp| budget::conv_weight_trips(self, np, yp))
    }

    /// Tiles of the channel sum (bias gradient) over (samples, output rows).
    pub fn channel_sum_tiles(&self, parallel: u64) -> Tiles {
        plan_tiles(self.n, self.oh, self.cout as u64, parallel, 4 * (self.cout * self.oh * self.ow) as u64, |np, yp| budget::channel_sum_trips(self, np, yp))
    }

    /// Invocations of each kernel (one per 4×4 block, or per channel for channel_sum).
    pub fn forward_threads(&self) -> u32 {
        self.n.div_ceil(4) * self.cout.div_ceil(4) * self.oh * self.ow
    }
    pub fn backward_input_threads(&self) -> u32 {
        self.n.div_ceil(4) * self.cin.div_ceil(4) * self.h * self.w
    }
    pub fn backward_weight_threads(&self) -> u32 {
        self.cin.div_ceil(4) * self.cout.div_ceil(4) * self.kh * self.kw
    }
}

/// Uniform of `shaders/batchnorm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BnParams {
    pub n: u32,
    pub c: u32,
    pub hw: u32,
    /// bit 0 batch statistics, bit 1 accumulate dγ/dβ, bit 2 update running, bit 3 write dγ/dβ,
    /// bit 4 the centred pass of the statistics.
    pub flags: u32,
    pub eps: f32,
    pub momentum: f32,
    /// Split reductions: samples and positions per tile, tiles along the positions.
    pub n_per: u32,
    pub p_per: u32,
    pub p_splits: u32,
    pub _pad: [u32; 3],
}

impl BnParams {
    /// Parameters of a batch-norm layer at batch n, with its tiles planned.
    pub fn new(n: usize, bn: &super::BnSpec, flags: u32, parallel: u64) -> BnParams {
        // The backward pass reads x and dy.
        let t = plan_tiles(n as u32, bn.hw as u32, bn.c as u64, parallel, 8 * (bn.c * bn.hw) as u64, |np, pp| budget::bn_tile_trips(np, pp));
        BnParams {
            n: n as u32,
            c: bn.c as u32,
            hw: bn.hw as u32,
            flags,
            eps: bn.eps,
            momentum: bn.momentum,
            n_per: t.n_per,
            p_per: t.y_per,
            p_splits: t.y_tiles,
            _pad: [0; 3],
        }
    }

    pub fn tiles(&self) -> u32 {
        self.p_splits * self.n.div_ceil(self.n_per.max(1))
    }
}

pub const BN_BATCH: u32 = 1;
pub const BN_ACCUMULATE: u32 = 2;
pub const BN_UPDATE_RUNNING: u32 = 4;
pub const BN_PARAM_GRADS: u32 = 8;
pub const BN_CENTRED: u32 = 16;
pub const CONV_BIAS: u32 = 1;
pub const CONV_ACCUMULATE: u32 = 2;

pub fn act_entries(a: Act) -> (&'static str, &'static str, f32) {
    match a {
        Act::Relu => ("relu_forward", "relu_backward", 0.0),
        Act::LeakyRelu(s) => ("leaky_relu_forward", "leaky_relu_backward", s),
        Act::Tanh => ("tanh_forward", "tanh_backward", 0.0),
        Act::Sigmoid => ("sigmoid_forward", "sigmoid_backward", 0.0),
    }
}

pub struct GpuNet {
    pub spec: NetSpec,
    widths: Vec<usize>,
    pub max_batch: usize,
    /// Each layer's weight then bias, as in [`NetSpec::param_names`].
    pub params: Vec<Tensor>,
    pub grads: Vec<Tensor>,
    /// Running statistics (mean c, var c) of each BatchNorm layer, in [`NetSpec::batchnorms`] order.
    pub running: Vec<Tensor>,
    /// acts[slot][layer]: output of every layer but the last (the caller gives the last its buffer).
    acts: Vec<Vec<Tensor>>,
    /// bn_saved[slot][k]: (mean, invstd, Σdy, Σdy·x̂) of BatchNorm layer k in that slot's pass.
    bn_saved: Vec<Vec<Tensor>>,
    /// Gradient with respect to the output of every layer but the last.
    dacts: Vec<Tensor>,
    /// Partial sums of the split reductions (one layer at a time: programs run in order).
    scratch: Tensor,
    /// Transposed operands of the Linear layers' matrix products (Wᵀ or dyᵀ; xᵀ).
    trans: [Tensor; 2],
}

/// Invocations of `gemm::gemm_nt` per tile: one per 8 × 8 block of the output.
pub fn blocks8(rows: usize, cols: usize) -> u32 {
    (rows.div_ceil(8) * cols.div_ceil(8)) as u32
}

/// Tiles of a Linear weight gradient by `gemm_nt` over the batch padded to n4 (vec4 steps).
fn linear_weight_gemm_tiles(n: usize, inp: usize, out: usize, parallel: u64) -> Tiles {
    let k4 = n.div_ceil(4) as u32;
    plan_tiles(k4, 1, blocks8(out, inp) as u64, parallel, 16 * (inp + out) as u64, |k_per, _| budget::gemm_trips(k_per))
}

/// Floats of the two transposition buffers a Linear layer needs at batch `n`: (Wᵀ or dyᵀ, xᵀ).
fn transpose_lens(spec: &NetSpec, n: usize) -> Result<(usize, usize)> {
    let n4 = n.div_ceil(4) * 4;
    let mul = |a: usize, b: usize| a.checked_mul(b).ok_or_else(|| Error::Limit(format!("a {a} × {b} transpose does not fit in memory")));
    spec.layers.iter().try_fold((1, 1), |(a, b), l| match *l {
        Layer::Linear { inp, out } => Ok((a.max(mul(inp, out)?.div_ceil(4) * 4).max(mul(out, n4)?), b.max(mul(inp, n4)?))),
        _ => Ok((a, b)),
    })
}

/// Floats of scratch space that the split reductions of `spec` need at batch `n`.
fn scratch_len(spec: &NetSpec, n: usize, par: u64) -> usize {
    let split = |t: Tiles, len: usize| if t.count() > 1 { t.count() as usize * len } else { 0 };
    let conv = |s: &ConvShape, bias_c: usize, bias_oh: usize, bias_ow: usize| {
        let p = ConvParams::new(s, 0);
        let bias_view = ConvShape { cout: bias_c, oh: bias_oh, ow: bias_ow, ..*s };
        split(p.weight_tiles(par), s.w_len()).max(split(ConvParams::new(&bias_view, 0).channel_sum_tiles(par), bias_c))
    };
    spec.layers
        .iter()
        .map(|l| match *l {
            Layer::Linear { inp, out } => {
                let p = LinearParams::new(n, inp, out, false);
                split(linear_weight_gemm_tiles(n, inp, out, par), inp * out).max(split(p.bias_tiles(par), out))
            }
            Layer::Conv2d(c) => {
                let s = c.shape(n, false);
                conv(&s, s.cout, s.oh, s.ow)
            }
            Layer::ConvT2d(c) => {
                let s = c.shape(n, true);
                conv(&s, s.cin, s.h, s.w)
            }
            Layer::BatchNorm(bn) => 2 * BnParams::new(n, &bn, 0, par).tiles() as usize * bn.c,
            Layer::Act(_) => 0,
        })
        .max()
        .unwrap_or(0)
}

/// What one split reduction launches: the first pass and the gradient it produces.
struct SplitSum<'a> {
    kernel: &'static str,
    entry: &'static str,
    /// Uniform bytes of the first pass; the argument says whether it accumulates into its output.
    params: &'a dyn Fn(bool) -> Vec<u8>,
    inputs: &'a [&'a wgpu::Buffer],
    out: &'a wgpu::Buffer,
    /// Values of the gradient, tiles, and first-pass invocations per tile.
    len: usize,
    tiles: u32,
    per_tile: u32,
    accumulate: bool,
}

impl GpuNet {
    /// Buffers for batches up to `max_batch` and `slots` forward passes kept at once.
    pub fn new(gpu: &Gpu, spec: NetSpec, params: &[Vec<f32>], max_batch: usize, slots: usize, label: &str) -> Result<GpuNet> {
        check_params(&spec, params, label)?;
        let widths = spec.widths()?;
        if max_batch == 0 || slots == 0 {
            return Err(Error::Shape(format!("{label}: batch size and slots must be at least 1")));
        }
        let names = spec.param_names();
        let p = params.iter().zip(&names).map(|(v, (nm, _))| Tensor::from_slice(gpu, &format!("{label}.{nm}"), v)).collect::<Result<_>>()?;
        let g = params.iter().zip(&names).map(|(v, (nm, _))| Tensor::zeros(gpu, &format!("{label}.{nm}.grad"), v.len())).collect::<Result<_>>()?;
        let running = spec.init_running().iter().enumerate().map(|(i, v)| Tensor::from_slice(gpu, &format!("{label}.running{i}"), v)).collect::<Result<_>>()?;
        let hidden = &widths[..widths.len() - 1];
        let rows = |w: usize| max_batch.checked_mul(w).ok_or_else(|| Error::Limit(format!("{label}: {max_batch} rows of {w} values do not fit in memory")));
        let mut acts = Vec::new();
        let mut bn_saved = Vec::new();
        for s in 0..slots {
            acts.push(hidden.iter().enumerate().map(|(i, &w)| Tensor::zeros(gpu, &format!("{label}.slot{s}.act{i}"), rows(w)?)).collect::<Result<Vec<_>>>()?);
            bn_saved.push(spec.batchnorms().iter().map(|(i, b)| Tensor::zeros(gpu, &format!("{label}.slot{s}.bn{i}"), 4 * b.c)).collect::<Result<Vec<_>>>()?);
        }
        let dacts = hidden.iter().enumerate().map(|(i, &w)| Tensor::zeros(gpu, &format!("{label}.dact{i}"), rows(w)?)).collect::<Result<_>>()?;
        // Tile counts are not monotonic in the batch (evening tiles out can add one at a smaller
        // batch), so the scratch holds the most that any batch up to max_batch needs.
        let par = gpu.parallel_invocations();
        let scratch = Tensor::zeros(gpu, &format!("{label}.scratch"), (1..=max_batch).map(|n| scratch_len(&spec, n, par)).max().unwrap_or(0))?;
        let (ta, tb) = transpose_lens(&spec, max_batch)?;
        let trans = [Tensor::zeros(gpu, &format!("{label}.trans0"), ta)?, Tensor::zeros(gpu, &format!("{label}.trans1"), tb)?];
        Ok(GpuNet { spec, widths, max_batch, params: p, grads: g, running, acts, bn_saved, dacts, scratch, trans })
    }

    /// Pushes a split reduction: with one tile the first pass writes (or adds into) the gradient;
    /// otherwise it writes one partial sum per tile into the scratch buffer and `reduce_splits`
    /// adds them into the gradient.
    fn push_split(&self, gpu: &Gpu, prog: &mut Program, r: SplitSum<'_>) -> Result<()> {
        let k = gpu.kernel(r.kernel, r.entry)?;
        let threads = r.tiles.checked_mul(r.per_tile).ok_or_else(|| Error::Limit(format!("{}::{}: too many invocations", r.kernel, r.entry)))?;
        if r.tiles == 1 {
            let mut bufs = r.inputs.to_vec();
            bufs.push(r.out);
            prog.push(Dispatch::new(gpu, &k, &(r.params)(r.accumulate), &bufs, Some(threads))?);
            return Ok(());
        }
        if r.tiles as usize * r.len > self.scratch.len {
            return Err(Error::Shape(format!("{}::{}: {} tiles of {} values exceed this network's scratch space", r.kernel, r.entry, r.tiles, r.len)));
        }
        let mut bufs = r.inputs.to_vec();
        bufs.push(&self.scratch.buffer);
        prog.push(Dispatch::new(gpu, &k, &(r.params)(false), &bufs, Some(threads))?);
        let p = ReduceParams { len: r.len as u32, splits: r.tiles, flags: CONV_ACCUMULATE * r.accumulate as u32, _pad: 0 };
        let k = gpu.kernel("reduce", "reduce_splits")?;
        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[&self.scratch.buffer, r.out], Some(r.len as u32))?);
        Ok(())
    }

    fn check(&self, n: usize, slot: usize) -> Result<u32> {
        if n == 0 || n > self.max_batch {
            return Err(Error::Shape(format!("batch {n} outside 1..={} that this network was built for", self.max_batch)));
        }
        if slot >= self.acts.len() {
            return Err(Error::Shape(format!("slot {slot}: this network keeps {} passes", self.acts.len())));
        }
        Ok(n as u32)
    }

    /// input (n, in) -> output (n, out) in `slot`. `output` may be a larger buffer; rows [0, n)
    /// are written.
    pub fn forward(&self, gpu: &Gpu, slot: usize, input: &wgpu::Buffer, output: &wgpu::Buffer, n: usize, mode: Mode) -> Result<Program> {
        let nb = self.check(n, slot)?;
        if mode == Mode::Train || mode == Mode::BatchStats {
            for (_, b) in self.spec.batchnorms() {
                if n * b.hw < 2 {
                    return Err(Error::Shape("batch normalisation with batch statistics needs more than one value per channel".into()));
                }
            }
        }
        let last = self.spec.layers.len() - 1;
        let mut prog = Program::default();
        let (mut pi, mut bi) = (0, 0);
        for (li, l) in self.spec.layers.iter().enumerate() {
            let x = if li == 0 { input } else { &self.acts[slot][li - 1].buffer };
            let y = if li == last { output } else { &self.acts[slot][li].buffer };
            let (w, b) = (self.params.get(pi).map(|t| &t.buffer), self.params.get(pi + 1).map(|t| &t.buffer));
            match *l {
                Layer::Linear { inp, out } if inp % 4 == 0 => {
                    // y = x Wᵀ + b: both operands contiguous along IN, four at a time.
                    let p = GemmParams { m: nb, p: out as u32, k4: (inp / 4) as u32, k_per: (inp / 4) as u32, flags: 1, ..Default::default() };
                    let k = gpu.kernel("gemm", "gemm_nt")?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, w.unwrap(), b.unwrap(), y], Some(blocks8(n, out)))?);
                }
                Layer::Linear { inp, out } => {
                    let k = gpu.kernel("linear", "linear_forward")?;
                    let p = LinearParams::new(n, inp, out, false);
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, w.unwrap(), b.unwrap(), y], Some(blocks4(n, out)))?);
                }
                Layer::Conv2d(c) => {
                    let p = ConvParams::new(&c.shape(n, false), CONV_BIAS);
                    let k = gpu.kernel("conv", "conv2d_forward")?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, w.unwrap(), b.unwrap(), y], Some(p.forward_threads()))?);
                }
                Layer::ConvT2d(c) => {
                    let p = ConvParams::new(&c.shape(n, true), CONV_BIAS);
                    let k = gpu.kernel("conv", "conv2d_backward_input")?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[w.unwrap(), b.unwrap(), x, y], Some(p.backward_input_threads()))?);
                }
                Layer::BatchNorm(bn) => {
                    let saved = &self.bn_saved[slot][bi].buffer;
                    let running = &self.running[bi].buffer;
                    let batch = mode != Mode::Eval;
                    let mut p = BnParams::new(n, &bn, 0, gpu.parallel_invocations());
                    if batch {
                        // Mean, then the centred squares (two split passes, each finished per channel).
                        let part = &self.scratch.buffer;
                        if (p.tiles() as usize) * bn.c > self.scratch.len {
                            return Err(Error::Shape(format!("batch norm at batch {n}: its tiles exceed this network's scratch space")));
                        }
                        let update = if mode == Mode::Train { BN_UPDATE_RUNNING } else { 0 };
                        let (kp, kf) = (gpu.kernel("batchnorm", "batchnorm_stats_partial")?, gpu.kernel("batchnorm", "batchnorm_stats_finish")?);
                        for flags in [BN_BATCH, BN_BATCH | BN_CENTRED | update] {
                            p.flags = flags;
                            prog.push(Dispatch::new(gpu, &kp, bytemuck::bytes_of(&p), &[x, saved, part], Some(p.tiles() * bn.c as u32))?);
                            prog.push(Dispatch::new(gpu, &kf, bytemuck::bytes_of(&p), &[saved, running, part], Some(bn.c as u32))?);
                        }
                        p.flags = BN_BATCH;
                    }
                    let k = gpu.kernel("batchnorm", "batchnorm_forward")?;
                    let len = nb * (bn.c * bn.hw) as u32;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, w.unwrap(), b.unwrap(), saved, running, y], Some(len))?);
                    bi += 1;
                }
                Layer::Act(a) => {
                    let (fwd, _, slope) = act_entries(a);
                    let len = nb * self.widths[li] as u32;
                    let k = gpu.kernel("activation", fwd)?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&ActParams { n: len, slope, ..Default::default() }), &[x, y], Some(len))?);
                }
            }
            pi += l.param_shapes().len();
        }
        Ok(prog)
    }

    /// dout (n, out) -> gradients through the training-mode pass kept in `slot`; `input` must be
    /// the buffer that pass read. The pass must have used batch statistics (`Train` or
    /// `BatchStats`): programs are recorded once and run later, so this cannot be checked here,
    /// and after an `Eval` pass the slot's saved batch statistics are stale (the CPU reference
    /// panics in that case). Writes parameter gradients when `weight_grads` (added to the
    /// present ones when `accumulate`), and the input gradient into `dinput` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(&self, gpu: &Gpu, slot: usize, input: &wgpu::Buffer, dout: &wgpu::Buffer, dinput: Option<&wgpu::Buffer>, n: usize, weight_grads: bool, accumulate: bool) -> Result<Program> {
        let nb = self.check(n, slot)?;
        let last = self.spec.layers.len() - 1;
        let mut prog = Program::default();
        let mut pi = self.params.len();
        let mut bi = self.running.len();
        let acc = accumulate as u32;
        for (li, l) in self.spec.layers.iter().enumerate().rev() {
            let x = if li == 0 { input } else { &self.acts[slot][li - 1].buffer };
            let dy = if li == last { dout } else { &self.dacts[li].buffer };
            let dx = if li == 0 { dinput } else { Some(&self.dacts[li - 1].buffer) };
            pi -= l.param_shapes().len();
            let (w, b) = (self.params.get(pi).map(|t| &t.buffer), self.params.get(pi + 1).map(|t| &t.buffer));
            let (dw, db) = (self.grads.get(pi).map(|t| &t.buffer), self.grads.get(pi + 1).map(|t| &t.buffer));
            match *l {
                Layer::Linear { inp, out } => {
                    let p = LinearParams::new(n, inp, out, false);
                    let n4 = n.div_ceil(4) * 4;
                    let [ta, tb] = [&self.trans[0].buffer, &self.trans[1].buffer];
                    if weight_grads {
                        // dW = dyᵀ x as gemm_nt over the batch: dyᵀ (OUT, N4) and xᵀ (IN, N4), padded with zeros.
                        prog.push(self.transpose(gpu, dy, ta, n, out)?);
                        prog.push(self.transpose(gpu, x, tb, n, inp)?);
                        let t = linear_weight_gemm_tiles(n, inp, out, gpu.parallel_invocations());
                        let g = GemmParams { m: out as u32, p: inp as u32, k4: (n4 / 4) as u32, k_per: t.n_per, ..Default::default() };
                        let params = |a: bool| bytemuck::bytes_of(&GemmParams { flags: 2 * a as u32, ..g }).to_vec();
                        // (The bias binding is unused with flag 0; any buffer will do.)
                        let r = SplitSum { kernel: "gemm", entry: "gemm_nt", params: &params, inputs: &[ta, tb, tb], out: dw.unwrap(), len: inp * out, tiles: t.count(), per_tile: blocks8(out, inp), accumulate };
                        self.push_split(gpu, &mut prog, r)?;
                        let t = p.bias_tiles(gpu.parallel_invocations());
                        let params = |a: bool| bytemuck::bytes_of(&LinearParams { n_per: t.n_per, accumulate: a as u32, ..p }).to_vec();
                        let r = SplitSum { kernel: "linear", entry: "linear_backward_bias", params: &params, inputs: &[dy], out: db.unwrap(), len: out, tiles: t.count(), per_tile: out as u32, accumulate };
                        self.push_split(gpu, &mut prog, r)?;
                    }
                    if let Some(dx) = dx {
                        // The input gradient is this pass's alone: never accumulated.
                        if out % 4 == 0 {
                            // dx = dy W as gemm_nt: dy (N, OUT) and Wᵀ (IN, OUT).
                            prog.push(self.transpose(gpu, w.unwrap(), ta, out, inp)?);
                            let g = GemmParams { m: nb, p: inp as u32, k4: (out / 4) as u32, k_per: (out / 4) as u32, ..Default::default() };
                            let k = gpu.kernel("gemm", "gemm_nt")?;
                            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&g), &[dy, ta, ta, dx], Some(blocks8(n, inp)))?);
                        } else {
                            let k = gpu.kernel("linear", "linear_backward_input")?;
                            prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[w.unwrap(), dy, dx], Some(blocks4(n, inp)))?);
                        }
                    }
                }
                Layer::Conv2d(c) => {
                    let s = c.shape(n, false);
                    if weight_grads {
                        self.push_conv_grads(gpu, &mut prog, &s, [x, dy], dy, (s.cout, s.oh, s.ow), [dw.unwrap(), db.unwrap()], accumulate)?;
                    }
                    if let Some(dx) = dx {
                        let p = ConvParams::new(&s, 0);
                        let k = gpu.kernel("conv", "conv2d_backward_input")?;
                        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[w.unwrap(), b.unwrap(), dy, dx], Some(p.backward_input_threads()))?);
                    }
                }
                Layer::ConvT2d(c) => {
                    // In the conv view the layer's input x is the convolution's output gradient
                    // and the layer's output gradient dy is the convolution's input.
                    let s = c.shape(n, true);
                    if weight_grads {
                        self.push_conv_grads(gpu, &mut prog, &s, [dy, x], dy, (s.cin, s.h, s.w), [dw.unwrap(), db.unwrap()], accumulate)?;
                    }
                    if let Some(dx) = dx {
                        let p = ConvParams::new(&s, 0);
                        let k = gpu.kernel("conv", "conv2d_forward")?;
                        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[dy, w.unwrap(), b.unwrap(), dx], Some(p.forward_threads()))?);
                    }
                }
                Layer::BatchNorm(bn) => {
                    bi -= 1;
                    let saved = &self.bn_saved[slot][bi].buffer;
                    let flags = BN_BATCH | if weight_grads { BN_PARAM_GRADS | acc * BN_ACCUMULATE } else { 0 };
                    let p = BnParams::new(n, &bn, flags, gpu.parallel_invocations());
                    if 2 * (p.tiles() as usize) * bn.c > self.scratch.len {
                        return Err(Error::Shape(format!("batch norm at batch {n}: its tiles exceed this network's scratch space")));
                    }
                    let part = &self.scratch.buffer;
                    let k = gpu.kernel("batchnorm", "batchnorm_backward_partial")?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, dy, saved, part], Some(p.tiles() * bn.c as u32))?);
                    let k = gpu.kernel("batchnorm", "batchnorm_backward_finish")?;
                    prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[saved, dw.unwrap(), db.unwrap(), part], Some(bn.c as u32))?);
                    if let Some(dx) = dx {
                        let k = gpu.kernel("batchnorm", "batchnorm_backward_input")?;
                        let len = nb * (bn.c * bn.hw) as u32;
                        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[x, w.unwrap(), dy, saved, dx], Some(len))?);
                    }
                }
                Layer::Act(a) => {
                    if let Some(dx) = dx {
                        let (_, bwd, slope) = act_entries(a);
                        let len = nb * self.widths[li] as u32;
                        let k = gpu.kernel("activation", bwd)?;
                        prog.push(Dispatch::new(gpu, &k, bytemuck::bytes_of(&ActParams { n: len, slope, ..Default::default() }), &[x, dy, dx], Some(len))?);
                    }
                }
            }
        }
        Ok(prog)
    }

    /// A dispatch writing the (cols, rows padded to 4) transpose of `src` (rows, cols) into `dst`.
    fn transpose(&self, gpu: &Gpu, src: &wgpu::Buffer, dst: &wgpu::Buffer, rows: usize, cols: usize) -> Result<Dispatch> {
        let rows4 = rows.div_ceil(4) * 4;
        let p = GemmParams { rows: rows as u32, cols: cols as u32, rows4: rows4 as u32, ..Default::default() };
        let k = gpu.kernel("gemm", "transpose_pad")?;
        Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[src, dst], Some((cols * rows4) as u32))
    }

    /// The weight gradient (conv view `s`, its two operands in binding order) and the bias
    /// gradient (a channel sum of `bias_src` over `bias` = (channels, rows, columns)) of a
    /// convolution of either kind, as split reductions.
    #[allow(clippy::too_many_arguments)]
    fn push_conv_grads(&self, gpu: &Gpu, prog: &mut Program, s: &ConvShape, operands: [&wgpu::Buffer; 2], bias_src: &wgpu::Buffer, bias: (usize, usize, usize), out: [&wgpu::Buffer; 2], accumulate: bool) -> Result<()> {
        let flags = |a: bool| if a { CONV_ACCUMULATE } else { 0 };
        let p = ConvParams::new(s, 0);
        let t = p.weight_tiles(gpu.parallel_invocations());
        let params = |a: bool| bytemuck::bytes_of(&ConvParams { flags: flags(a), ..p.with_tiles(t) }).to_vec();
        let r = SplitSum { kernel: "conv", entry: "conv2d_backward_weight", params: &params, inputs: &operands, out: out[0], len: s.w_len(), tiles: t.count(), per_tile: p.backward_weight_threads(), accumulate };
        self.push_split(gpu, prog, r)?;
        let view = ConvShape { cout: bias.0, oh: bias.1, ow: bias.2, ..*s };
        let p = ConvParams::new(&view, 0);
        let t = p.channel_sum_tiles(gpu.parallel_invocations());
        let params = |a: bool| bytemuck::bytes_of(&ConvParams { flags: flags(a), ..p.with_tiles(t) }).to_vec();
        let r = SplitSum { kernel: "conv", entry: "channel_sum", params: &params, inputs: &[bias_src], out: out[1], len: bias.0, tiles: t.count(), per_tile: bias.0 as u32, accumulate };
        self.push_split(gpu, prog, r)
    }

    /// Reads every parameter back (in [`NetSpec::param_names`] order).
    pub fn read_params(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        self.params.iter().map(|t| t.read(gpu)).collect()
    }

    /// Reads back the training-mode pass kept in `slot` at batch `n` whose input was `input`.
    pub fn read_tape(&self, gpu: &Gpu, slot: usize, input: &[f32], n: usize) -> Result<Tape> {
        self.check(n, slot)?;
        let mut inputs = vec![input[..n * self.spec.in_dim()].to_vec()];
        for (i, t) in self.acts[slot].iter().enumerate() {
            inputs.push(t.read(gpu)?[..n * self.widths[i]].to_vec());
        }
        let mut bn = Vec::new();
        let mut k = 0;
        for l in &self.spec.layers {
            bn.push(match l {
                Layer::BatchNorm(b) => {
                    let v = self.bn_saved[slot][k].read(gpu)?;
                    k += 1;
                    Some(BnSaved { mean: v[..b.c].to_vec(), invstd: v[b.c..2 * b.c].to_vec() })
                }
                _ => None,
            });
        }
        Ok(Tape { n, inputs, bn })
    }

    /// Reads the BatchNorm running statistics back.
    pub fn read_running(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        self.running.iter().map(|t| t.read(gpu)).collect()
    }

    /// Overwrites parameters and running statistics (loading a checkpoint).
    pub fn load(&self, gpu: &Gpu, params: &[Vec<f32>], running: &[Vec<f32>]) -> Result<()> {
        check_params(&self.spec, params, "loading a network")?;
        if running.len() != self.running.len() || running.iter().zip(&self.running).any(|(a, b)| a.len() != b.len) {
            return Err(Error::Shape("running statistics do not match the network's BatchNorm layers".into()));
        }
        for (t, v) in self.params.iter().zip(params).chain(self.running.iter().zip(running)) {
            t.write(gpu, v)?;
        }
        Ok(())
    }
}

/// A dispatch copying `n` values from `src[src_at..]` to `dst[dst_at..]` inside a compute pass.
pub fn copy_range(gpu: &Gpu, src: &wgpu::Buffer, src_at: usize, dst: &wgpu::Buffer, dst_at: usize, n: usize) -> Result<Dispatch> {
    let k = gpu.kernel("activation", "copy_range")?;
    let p = ActParams { n: n as u32, slope: 0.0, src: src_at as u32, dst: dst_at as u32 };
    Dispatch::new(gpu, &k, bytemuck::bytes_of(&p), &[src, dst], Some(n as u32))
}
