//! A convolution's passes in the conv view ([`ConvShape`]: x (n, cin, h, w) → y (n, cout, oh, ow),
//! weights (cout, cin, kh, kw)): the forward pass, the input gradient and the weight and bias
//! gradients, through the device's kernel family: the products of [`super::conv_gemm`], or the
//! direct kernels of `shaders/conv.wgsl` (one invocation per 4 × 4 block of outputs). Conv2d and
//! ConvTranspose2d (`crate::nn`) both lower onto these (a transposed layer's forward pass is the
//! input gradient of the same weights).

use super::conv_gemm::{self, KernelFamily};
/// The fused passes (the subgroup family's; each declines, pushing nothing, where it cannot):
/// the forward pass storing the activation after it, and the input gradient through the one before.
pub use super::conv_gemm::{backward_input_fused, forward_fused, input_fuses, Epilogue};
use super::shape::{gcd, ConvShape};
use super::split::{Launch, SplitSum, ACCUMULATE};
use crate::error::Result;
use crate::gpu::budget::{lp, plan_tiles, Tiles, STORE4X4};
use crate::gpu::{AsArg, Dispatch, Gpu, Tensor};

crate::uniform! {
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
        pub stride_y: u32,
        pub stride_x: u32,
        pub pad_y: u32,
        pub pad_x: u32,
        pub dil_y: u32,
        pub dil_x: u32,
        /// conv2d_backward_input: taps of one stride phase are this far apart (stride / gcd(stride, dilation)).
        pub tap_step_y: u32,
        pub tap_step_x: u32,
        /// bit 0: add the bias; bit 1: accumulate into the output.
        pub flags: u32,
        /// Split reductions (conv2d_backward_weight, channel_sum): samples and output rows per tile,
        /// tiles along the rows.
        pub n_per: u32,
        pub y_per: u32,
        pub y_splits: u32,
        pub _pad: [u32; 3],
    }
}


/// bit 0 of [`ConvParams::flags`]: add the bias.
pub const CONV_BIAS: u32 = 1;

/// Trips of `conv2d_backward_weight` for a tile of `n_per` samples × `y_per` output rows.
pub fn conv_weight_trips(p: &ConvParams, n_per: u64, y_per: u64) -> u64 {
    lp(n_per) + n_per * lp(y_per) + n_per * y_per * lp(p.ow as u64) + STORE4X4
}

/// Trips of `channel_sum` for a tile of `n_per` samples × `y_per` output rows.
pub fn channel_sum_trips(p: &ConvParams, n_per: u64, y_per: u64) -> u64 {
    lp(n_per) + n_per * lp(y_per * p.ow as u64)
}

crate::kernel! {
    /// y = [b +] Σ x·wt, 4 samples × 4 output channels per invocation.
    pub ConvForward = "conv" :: "conv2d_forward", ConvParams { 1 x: Read, 2 wt: Read, 3 b: Read, 5 out: ReadWrite }
    trips: |_, p| {
        let (ci, kh, kw) = (p.cin as u64, p.kh as u64, p.kw as u64);
        lp(ci) + ci * lp(kh) + ci * kh * lp(kw) + STORE4X4
    };
    flops: |_, p| 2.0 * [p.n, p.cout, p.oh * p.ow, p.cin, p.kh, p.kw].iter().map(|&v| v as f64).product::<f64>();
}
crate::kernel! {
    /// dx = [b +] Σ dy·wt (a transposed layer's forward pass, with its bias).
    pub ConvBackwardInput = "conv" :: "conv2d_backward_input", ConvParams { 2 wt: Read, 3 b: Read, 4 dy: Read, 5 out: ReadWrite }
    // The two searches for the first tap (one tap step each), then only the taps of one stride
    // phase: at most ⌈k / tap step⌉ along each axis.
    trips: |_, p| {
        let (sy, sx) = (p.tap_step_y.max(1) as u64, p.tap_step_x.max(1) as u64);
        let (a, b) = ((p.kh as u64).div_ceil(sy), (p.kw as u64).div_ceil(sx));
        lp(sy) + lp(sx) + lp(a) + a * lp(b) + a * b * lp(p.cout as u64) + STORE4X4
    };
    flops: |_, p| 2.0 * [p.n, p.cin, p.h * p.w, p.cout, p.kh, p.kw].iter().map(|&v| v as f64).product::<f64>() / (p.stride_y * p.stride_x) as f64;
}
crate::kernel! {
    /// dwt = Σ dy·x over one tile of samples × output rows.
    pub ConvBackwardWeight = "conv" :: "conv2d_backward_weight", ConvParams { 1 x: Read, 4 dy: Read, 5 out: ReadWrite }
    trips: |_, p| conv_weight_trips(p, p.n_per as u64, p.y_per as u64);
    flops: |_, p| 2.0 * [p.n, p.cout, p.oh * p.ow, p.cin, p.kh, p.kw].iter().map(|&v| v as f64).product::<f64>();
}
crate::kernel! {
    /// db = Σ dy per channel over one tile.
    pub ChannelSum = "conv" :: "channel_sum", ConvParams { 4 dy: Read, 5 out: ReadWrite }
    trips: |_, p| channel_sum_trips(p, p.n_per as u64, p.y_per as u64);
    textures: [dy];
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
            stride_y: u(s.stride[0]),
            stride_x: u(s.stride[1]),
            pad_y: u(s.pad[0]),
            pad_x: u(s.pad[1]),
            dil_y: u(s.dil[0]),
            dil_x: u(s.dil[1]),
            tap_step_y: u(s.stride[0] / gcd(s.stride[0], s.dil[0]).max(1)),
            tap_step_x: u(s.stride[1] / gcd(s.stride[1], s.dil[1]).max(1)),
            flags,
            n_per: u(s.n.max(1)),
            y_per: u(s.oh.max(1)),
            y_splits: 1,
            _pad: [0; 3],
        }
    }

    pub fn with_tiles(self, t: Tiles) -> ConvParams {
        ConvParams { n_per: t.n_per, y_per: t.y_per, y_splits: t.y_tiles, ..self }
    }

    /// Tiles of the weight gradient over (samples, output rows).
    pub fn weight_tiles(&self, parallel: u64) -> Tiles {
        let bytes = 4 * (self.cin * self.h * self.w + self.cout * self.oh * self.ow) as u64;
        plan_tiles(self.n, self.oh, self.backward_weight_threads() as u64, parallel, bytes, |np, yp| conv_weight_trips(self, np, yp))
    }

    /// Tiles of the channel sum (bias gradient) over (samples, output rows).
    pub fn channel_sum_tiles(&self, parallel: u64) -> Tiles {
        plan_tiles(self.n, self.oh, self.cout as u64, parallel, 4 * (self.cout * self.oh * self.ow) as u64, |np, yp| channel_sum_trips(self, np, yp))
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

/// The bias gradient of a convolution of either kind in the conv view: a channel sum of `src`
/// over (channels, rows, columns).
fn bias_view(s: &ConvShape, channels: usize, rows: usize, cols: usize) -> ConvShape {
    ConvShape { cout: channels, oh: rows, ow: cols, ..*s }
}

fn split_len(t: Tiles, len: usize) -> usize {
    if t.count() > 1 {
        t.count() as usize * len
    } else {
        0
    }
}

/// Scratch floats the split gradients of a convolution (conv view `s`, bias over `bias` =
/// (channels, rows, columns), if any) need.
pub fn grads_scratch_len(s: &ConvShape, bias: Option<(usize, usize, usize)>, parallel: u64) -> usize {
    let w = split_len(ConvParams::new(s, 0).weight_tiles(parallel), s.w_len());
    let b = bias.map_or(0, |(c, r, k)| split_len(ConvParams::new(&bias_view(s, c, r, k), 0).channel_sum_tiles(parallel), c));
    w.max(b)
}

/// y = conv(x, W) [+ b] in the conv view, with the device's family of kernels.
pub fn forward(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg) -> Result<()> {
    let gpu = l.gpu;
    if KernelFamily::of(gpu).products() {
        return conv_gemm::forward(l, s, x, wt, b, y);
    }
    let p = ConvParams::new(s, CONV_BIAS * b.is_some() as u32);
    l.prog.push(Dispatch::new(gpu, &ConvForward { x, wt, b: b.unwrap_or(wt), out: y }, &p, Some(p.forward_threads()))?);
    Ok(())
}

/// dx = [b +] the input gradient of the conv view for dy, with the device's family of kernels.
pub fn backward_input(l: &mut Launch<'_>, s: &ConvShape, dy: &dyn AsArg, wt: &dyn AsArg, b: Option<&dyn AsArg>, dx: &dyn AsArg) -> Result<()> {
    let gpu = l.gpu;
    if KernelFamily::of(gpu).products() {
        return conv_gemm::backward_input(l, s, dy, wt, b, dx);
    }
    let p = ConvParams::new(s, CONV_BIAS * b.is_some() as u32);
    l.prog.push(Dispatch::new(gpu, &ConvBackwardInput { wt, b: b.unwrap_or(wt), dy, out: dx }, &p, Some(p.backward_input_threads()))?);
    Ok(())
}

/// The weight gradient (conv view `s`; `x` and `dy` in the conv view's roles) and the bias
/// gradient (a channel sum of `bias_src` over `bias` = (channels, rows, columns)) of a
/// convolution of either kind, as split reductions.
pub fn grads(l: &mut Launch<'_>, s: &ConvShape, x: &dyn AsArg, dy: &dyn AsArg, bias: Option<(&dyn AsArg, (usize, usize, usize))>, grads: &[Tensor], accumulate: bool) -> Result<()> {
    let gpu = l.gpu;
    let flags = |a: bool| ACCUMULATE * a as u32;
    if KernelFamily::of(gpu).products() {
        conv_gemm::backward_weight(l, s, x, dy, &grads[0], accumulate)?;
    } else {
        let p = ConvParams::new(s, 0);
        let t = p.weight_tiles(gpu.parallel_invocations());
        let first = |o: &dyn AsArg, a: bool| Dispatch::new(gpu, &ConvBackwardWeight { x, dy, out: o }, &ConvParams { flags: flags(a), ..p.with_tiles(t) }, Some(t.count() * p.backward_weight_threads()));
        l.push_split(SplitSum { first: &first, out: &grads[0], len: s.w_len(), tiles: t.count(), accumulate })?;
    }
    if let Some((src, (c, r, k))) = bias {
        let p = ConvParams::new(&bias_view(s, c, r, k), 0);
        let t = p.channel_sum_tiles(gpu.parallel_invocations());
        let first = |o: &dyn AsArg, a: bool| Dispatch::new(gpu, &ChannelSum { dy: src, out: o }, &ConvParams { flags: flags(a), ..p.with_tiles(t) }, Some(t.count() * c as u32));
        l.push_split(SplitSum { first: &first, out: &grads[1], len: c, tiles: t.count(), accumulate })?;
    }
    Ok(())
}

/// Work buffers (floats) a convolution of conv view `s` needs with this device's family.
pub fn work_lens(gpu: &Gpu, s: &ConvShape) -> [usize; 4] {
    let family = KernelFamily::of(gpu);
    if family.products() { conv_gemm::work_lens(s, family) } else { [0; 4] }
}
