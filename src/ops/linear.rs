//! A Linear layer's passes, y = x Wᵀ + b (W is (out, in)), lowered to the device's kernels: the
//! thin kernels of `shaders/linear.wgsl` for a 2-D input or output or a score (any family), the
//! products of [`super::conv_gemm`] (subgroup and tiled families), or `gemm_nt` and the scalar
//! 4 × 4-block kernels (direct family). Which one runs is decided here, from the shape and the
//! family, never by the layer (`crate::nn::linear`).

use super::conv_gemm::{self, Epilogue, KernelFamily, Product};
use super::gemm::{blocks8, transpose, GemmNt, GemmParams, GEMM_BIAS};
use super::split::{Launch, SplitSum, ACCUMULATE};
use crate::error::Result;
use crate::gpu::budget::{lp, plan_tiles, Tiles, STORE4X4};
use crate::gpu::{AsArg, Bindings, Dispatch, Gpu, Tensor};

/// The shape of a Linear layer: IN, OUT, and whether it adds a bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lin {
    pub inp: usize,
    pub out: usize,
    pub bias: bool,
}

/// One backward pass: the device and workspace, batch n, the layer's input x, the gradient dy at
/// its output, its weights W, where dx goes (None: not wanted), and the parameter gradients
/// (dW, then db with a bias) with whether they add into what is there (None: not wanted).
pub struct Backward<'a> {
    pub n: usize,
    pub x: &'a dyn AsArg,
    pub dy: &'a dyn AsArg,
    pub w: &'a dyn AsArg,
    pub dx: Option<&'a dyn AsArg>,
    pub grads: Option<(&'a [Tensor], bool)>,
}

crate::uniform! {
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
        /// linear_forward: 1 adds the bias.
        pub has_bias: u32,
        /// linear_backward_input4_dact: the negative slope of the activation before the layer, and
        /// 1 if it is a ReLU.
        pub slope: f32,
        pub relu: u32,
    }
}

crate::kernel! {
    /// y = x Wᵀ [+ b], 4×4 blocks of scalar loads.
    pub LinearForward = "linear" :: "linear_forward", LinearParams { 1 x: Read, 2 w: Read, 3 b: Read, 5 out: ReadWrite }
    trips: |_, p| lp(p.in_f as u64) + lp(4) + STORE4X4;
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
}
crate::kernel! {
    /// dx = dy W, 4×4 blocks of scalar loads.
    pub LinearBackwardInput = "linear" :: "linear_backward_input", LinearParams { 2 w: Read, 4 dy: Read, 5 out: ReadWrite }
    trips: |_, p| lp(p.out_f as u64) + STORE4X4;
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
}
crate::kernel! {
    /// dx = dy W for IN a multiple of 4, 4 inputs per invocation (`w4`, `out4`: `w` and `out` as
    /// vec4s).
    pub LinearBackwardInput4 = "linear" :: "linear_backward_input4", LinearParams { 4 dy: Read, 6 w4: Read, 7 out4: ReadWrite }
    trips: |_, p| lp(p.out_f as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [dy, w4];
}
crate::kernel! {
    /// linear_backward_input4 taken on through the ReLU or LeakyReLU before the layer (`pre4`
    /// its input; slope and ReLU flag in the uniform).
    pub LinearBackwardInput4Dact = "linear" :: "linear_backward_input4_dact", LinearParams { 4 dy: Read, 6 w4: Read, 7 out4: ReadWrite, 8 pre4: Read }
    trips: |_, p| lp(p.out_f as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [dy, w4, pre4];
}
crate::kernel! {
    /// dW = dyᵀ x over one tile of rows for OUT < 4 and IN a multiple of 4 (`x4`: x, `out4`: the
    /// gradient or its slot, as vec4s).
    /// With `has_bias`, also db = Σ dy into `db` (one tile only).
    pub LinearWeightThinDy = "linear" :: "linear_backward_weight_thin_dy", LinearParams { 4 dy: Read, 7 out4: ReadWrite, 9 x4: Read, 13 db: ReadWrite }
    trips: |_, p| lp(p.n_per as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [dy, x4];
}
crate::kernel! {
    /// dW = dyᵀ x over one tile of rows for IN < 4 and OUT a multiple of 4 (`dy4`: dy as vec4s).
    /// With `has_bias`, also db = Σ dy into `db` (one tile only).
    pub LinearWeightThinX = "linear" :: "linear_backward_weight_thin_x", LinearParams { 1 x: Read, 5 out: ReadWrite, 10 dy4: Read, 13 db: ReadWrite }
    trips: |_, p| lp(p.n_per as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [x, dy4];
}
crate::kernel! {
    /// y = x Wᵀ [+ b] for IN < 4 and OUT a multiple of 4 (`w4`, `out4`, `b4`: W, y and b as
    /// vec4s).
    pub LinearForwardThinIn = "linear" :: "linear_forward_thin_in", LinearParams { 1 x: Read, 6 w4: Read, 7 out4: ReadWrite, 12 b4: Read }
    // No loop: IN < 4 is unrolled.
    trips: |_, _| 0;
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [x, w4, b4];
}
crate::kernel! {
    /// [`LinearForwardThinIn`] with the activation after the layer.
    pub LinearForwardThinInAct = "linear" :: "linear_forward_thin_in_act", LinearParams { 1 x: Read, 6 w4: Read, 7 out4: ReadWrite, 11 act4: ReadWrite, 12 b4: Read }
    trips: |_, _| 0;
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [x, w4, b4];
}
crate::kernel! {
    /// y = x Wᵀ [+ b] for OUT < 4 and IN a multiple of 4, one row per invocation (`x4`, `w4`: x
    /// and W as vec4s).
    pub LinearForwardThinOut = "linear" :: "linear_forward_thin_out", LinearParams { 3 b: Read, 5 out: ReadWrite, 6 w4: Read, 9 x4: Read }
    // One of three sums over IN / 4 (the others stop at once), then one store per output.
    trips: |_, p| lp(p.in_f as u64 / 4) + 2 * lp(0) + lp(p.out_f as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [w4, x4];
}
crate::kernel! {
    /// dx = dy W for IN < 4 and OUT a multiple of 4, one row per invocation, from W itself
    /// (`dy4`, `w4`: dy and W as vec4s).
    pub LinearBackwardInputThinIn = "linear" :: "linear_backward_input_thin_in", LinearParams { 5 out: ReadWrite, 6 w4: Read, 10 dy4: Read }
    trips: |_, p| lp(p.out_f as u64 / 4) + lp(p.in_f as u64);
    flops: |_, p| 2.0 * p.n as f64 * p.in_f as f64 * p.out_f as f64;
    textures: [w4, dy4];
}
crate::kernel! {
    /// db = Σ_n dy over one tile of rows.
    pub LinearBackwardBias = "linear" :: "linear_backward_bias", LinearParams { 4 dy: Read, 5 out: ReadWrite }
    trips: |_, p| lp(p.n_per as u64);
    textures: [dy];
}

impl LinearParams {
    /// One tile over the whole batch, with the bias.
    pub fn new(n: usize, in_f: usize, out_f: usize, accumulate: bool) -> LinearParams {
        LinearParams { n: n as u32, in_f: in_f as u32, out_f: out_f as u32, accumulate: accumulate as u32, n_per: (n as u32).max(1), has_bias: 1, slope: 0.0, relu: 0 }
    }

    /// Tiles of the bias gradient (one invocation per output per tile).
    pub fn bias_tiles(&self, parallel: u64) -> Tiles {
        let p = *self;
        plan_tiles(self.n, 1, self.out_f as u64, parallel, 4 * self.out_f as u64, |n_per, _| LinearBackwardBias::trips("linear_backward_bias", &LinearParams { n_per: n_per as u32, ..p }))
    }
}

/// Invocations for a register-blocked matrix kernel of `shaders/linear.wgsl`: one per 4×4 block.
pub fn blocks4(rows: usize, cols: usize) -> u32 {
    (rows.div_ceil(4) * cols.div_ceil(4)) as u32
}

/// Tiles of a Linear weight gradient by `gemm_nt` over the batch padded to n4 (vec4 steps).
fn weight_tiles(n: usize, inp: usize, out: usize, parallel: u64) -> Tiles {
    let k4 = n.div_ceil(4) as u32;
    plan_tiles(k4, 1, blocks8(out, inp) as u64, parallel, 16 * (inp + out) as u64, |k_per, _| super::gemm::gemm_trips(k_per))
}

fn split_len(t: Tiles, len: usize) -> usize {
    if t.count() > 1 {
        t.count() as usize * len
    } else {
        0
    }
}

impl Lin {
    /// Whether the subgroup family's input gradient pads dy's OUT to a multiple of 4 rather than
    /// run the scalar kernel (only for a large dx: see `PADDED_PRODUCT_MIN`).
    pub fn pads_dy(&self, n: usize) -> bool {
        self.out % 4 != 0 && n * self.inp >= PADDED_PRODUCT_MIN && !self.outer_input_grad(n)
    }

    /// Whether the input gradient runs as `linear_backward_input4`: OUT under 4 (a score, a 2-D
    /// point), where dx is an outer product that vec4 loads and stores move faster than any
    /// product with padding; IN a multiple of 4, and few enough quads for its float division.
    fn outer_input_grad(&self, n: usize) -> bool {
        self.out < 4 && self.inp % 4 == 0 && n * self.inp / 4 < conv_gemm::FAST_DIV_BELOW as usize
    }

    /// Whether the product families pad IN to a multiple of 4 for the forward pass rather than
    /// run the scalar kernel (a toy's 2-D input): worth two packing launches from
    /// `PADDED_FORWARD_MIN` outputs.
    pub fn pads_x(&self, n: usize) -> bool {
        self.inp % 4 != 0 && n * self.out >= PADDED_FORWARD_MIN && !self.thin_in(n)
    }

    /// y = x Wᵀ (+ b): the vec4 product when IN is a multiple of 4 (or padded to one), else the
    /// scalar kernel. With `then`, the product also stores the activation of y (its
    /// [`Epilogue::Act`]); Ok(false), with nothing pushed, where it cannot.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(&self, l: &mut Launch<'_>, x: &dyn AsArg, w: &dyn AsArg, b: Option<&dyn AsArg>, y: &dyn AsArg, n: usize, then: Option<Epilogue>) -> Result<bool> {
        let (gpu, ws) = (l.gpu, l.ws);
        let (inp, out) = (self.inp, self.out);
        // Without a bias, any buffer fills the binding: the kernels do not read it.
        let bias = b.unwrap_or(w);
        let p = LinearParams { has_bias: b.is_some() as u32, ..LinearParams::new(n, inp, out, false) };
        if self.thin_in(n) {
            let threads = Some((n * out / 4) as u32);
            l.prog.push(match then {
                Some(Epilogue::Act { post, slope, relu }) => {
                    let p = LinearParams { slope, relu: relu as u32, ..p };
                    Dispatch::new(gpu, &LinearForwardThinInAct { x, w4: w, out4: y, act4: post, b4: bias }, &p, threads)?
                }
                _ => Dispatch::new(gpu, &LinearForwardThinIn { x, w4: w, out4: y, b4: bias }, &p, threads)?,
            });
            return Ok(true);
        }
        if self.thin_out() {
            if then.is_some() {
                return Ok(false);
            }
            l.prog.push(Dispatch::new(gpu, &LinearForwardThinOut { b: bias, out: y, w4: w, x4: x }, &p, Some(n as u32))?);
            return Ok(true);
        }
        if KernelFamily::of(gpu).products() && (inp % 4 == 0 || self.pads_x(n)) {
            // yᵀ (OUT, N) = W xᵀ through the product, stored transposed into y (N, OUT): C[o, i]
            // goes to y[i·OUT + o]. With IN not a multiple of 4, x and W get zero columns first.
            let [w0, w1] = [&ws.work[0], &ws.work[1]];
            let (xa, wa) = if inp % 4 == 0 { (x, w) } else { (w0 as &dyn AsArg, w1 as &dyn AsArg) };
            let prod = Product { a: wa, b: xa, bias: b, m: out, n, k4: inp.div_ceil(4), map: (1, out, 1, 0) };
            if then.is_some_and(|e| !prod.fuses(gpu, y, &e)) {
                return Ok(false);
            }
            if inp % 4 != 0 {
                l.prog.push(conv_gemm::pack_matrix(gpu, x, w0, n, inp, false)?);
                l.prog.push(conv_gemm::pack_matrix(gpu, w, w1, out, inp, false)?);
            }
            l.prog.push(match then {
                Some(e) => prod.whole_fused(gpu, y, e)?,
                None => prod.whole(gpu, y)?,
            });
        } else if then.is_some() {
            return Ok(false);
        } else if inp % 4 == 0 {
            // Both operands contiguous along IN, four at a time.
            let p = GemmParams { m: n as u32, p: out as u32, k4: (inp / 4) as u32, k_per: (inp / 4) as u32, flags: GEMM_BIAS * b.is_some() as u32, ..Default::default() };
            l.prog.push(Dispatch::new(gpu, &GemmNt { a: x, b: w, bias, out: y }, &p, Some(blocks8(n, out)))?);
        } else {
            l.prog.push(Dispatch::new(gpu, &LinearForward { x, w, b: bias, out: y }, &p, Some(blocks4(n, out)))?);
        }
        Ok(true)
    }

    /// Whether the forward pass runs as `linear_forward_thin_in` (any family): IN under 4 (a
    /// 2-D input), OUT a multiple of 4, and few enough quads of y for its float division.
    fn thin_in(&self, n: usize) -> bool {
        self.thin_input() && n * self.out / 4 < conv_gemm::FAST_DIV_BELOW as usize
    }

    /// IN under 4 (a 2-D input) and OUT a multiple of 4: the shape of `linear_forward_thin_in`,
    /// `linear_backward_weight_thin_x` and `linear_backward_input_thin_in`.
    fn thin_input(&self) -> bool {
        self.inp < 4 && self.out % 4 == 0
    }

    /// Whether the forward pass runs as `linear_forward_thin_out` (any family): OUT under 4 (a
    /// score, a 2-D output), IN a multiple of 4.
    fn thin_out(&self) -> bool {
        self.out < 4 && self.inp % 4 == 0
    }

    /// Whether the weight gradient runs as `linear_backward_weight_thin_*` (any family): one
    /// side under 4 wide (a 2-D input or output, a score), the other a multiple of 4.
    pub fn thin_weight_grad(&self) -> bool {
        self.thin_out() || self.thin_input()
    }

    /// Tiles of the thin weight gradient over the batch (one invocation per 4 weights per tile).
    pub fn thin_tiles(&self, n: usize, parallel: u64) -> Tiles {
        let p = LinearParams::new(n, self.inp, self.out, false);
        let trips = |n_per: u64| {
            let q = LinearParams { n_per: n_per as u32, ..p };
            if self.out < 4 { LinearWeightThinDy::trips("linear_backward_weight_thin_dy", &q) } else { LinearWeightThinX::trips("linear_backward_weight_thin_x", &q) }
        };
        plan_tiles(p.n, 1, (self.inp * self.out / 4) as u64, parallel, 4 * (self.inp + self.out) as u64, |n_per, _| trips(n_per))
    }

    /// dW (+)= dyᵀ x over the batch, split: thin layers by outer products
    /// ([`Lin::thin_weight_grad`]); with the subgroup family and IN, OUT multiples of 4
    /// as `sgemm_tn` from dy and x themselves; otherwise as an NT product of dyᵀ (OUT, N4) and
    /// xᵀ (IN, N4), transposed and padded with zeros.
    pub fn weight_grad(&self, l: &mut Launch<'_>, dy: &dyn AsArg, x: &dyn AsArg, n: usize, dw: &dyn AsArg, accumulate: bool) -> Result<()> {
        self.weight_and_bias_grad(l, dy, x, n, dw, None, accumulate).map(|_| ())
    }

    /// [`Lin::weight_grad`], and with `db` the bias gradient db (+)= Σ dy by the same launch
    /// where a thin kernel takes the whole batch in one tile: Ok(true) if it did.
    #[allow(clippy::too_many_arguments)]
    fn weight_and_bias_grad(&self, l: &mut Launch<'_>, dy: &dyn AsArg, x: &dyn AsArg, n: usize, dw: &dyn AsArg, db: Option<&dyn AsArg>, accumulate: bool) -> Result<bool> {
        let (gpu, ws) = (l.gpu, l.ws);
        let (inp, out) = (self.inp, self.out);
        if self.thin_weight_grad() {
            let t = self.thin_tiles(n, gpu.parallel_invocations());
            // The bias rides along only without a split: its slots would need a reduction of
            // their own.
            let db = db.filter(|_| t.count() == 1);
            let p = LinearParams { n_per: t.n_per, has_bias: db.is_some() as u32, ..LinearParams::new(n, inp, out, false) };
            let threads = Some(t.count() * (inp * out / 4) as u32);
            // Without a bias the kernels do not write db: a buffer that no other binding of the
            // launch overlaps fills it (WebGPU refuses a writable binding aliasing another).
            let db_arg = db.unwrap_or(&ws.trans[1]);
            let first = |o: &dyn AsArg, acc: bool| {
                let p = LinearParams { accumulate: acc as u32, ..p };
                if out < 4 {
                    Dispatch::new(gpu, &LinearWeightThinDy { dy, out4: o, x4: x, db: db_arg }, &p, threads)
                } else {
                    Dispatch::new(gpu, &LinearWeightThinX { x, out: o, dy4: dy, db: db_arg }, &p, threads)
                }
            };
            l.push_split(SplitSum { first: &first, out: dw, len: inp * out, tiles: t.count(), accumulate })?;
            return Ok(db.is_some());
        }
        if KernelFamily::of(gpu) == KernelFamily::Gemm && inp % 4 == 0 && out % 4 == 0 {
            // dW = dyᵀ x straight from dy (N, OUT) and x (N, IN): no transposes.
            let prod = Product { a: dy, b: x, bias: None, m: out, n: inp, k4: n.div_ceil(4), map: Product::rows(inp) };
            return prod.push_tn_split(l, n, dw, accumulate).map(|_| false);
        }
        let [ta, tb] = [&ws.trans[0], &ws.trans[1]];
        l.prog.push(transpose(gpu, dy, ta, n, out)?);
        l.prog.push(transpose(gpu, x, tb, n, inp)?);
        if KernelFamily::of(gpu).products() {
            let prod = Product { a: ta, b: tb, bias: None, m: out, n: inp, k4: n.div_ceil(4), map: Product::rows(inp) };
            return prod.push_split(l, dw, accumulate).map(|_| false);
        }
        let t = weight_tiles(n, inp, out, gpu.parallel_invocations());
        let g = GemmParams { m: out as u32, p: inp as u32, k4: n.div_ceil(4) as u32, k_per: t.n_per, ..Default::default() };
        // (The bias binding is unused with flag 0; any buffer will do.)
        let first = |o: &dyn AsArg, acc: bool| Dispatch::new(gpu, &GemmNt { a: ta, b: tb, bias: tb, out: o }, &GemmParams { flags: ACCUMULATE * acc as u32, ..g }, Some(t.count() * blocks8(out, inp)));
        l.push_split(SplitSum { first: &first, out: dw, len: inp * out, tiles: t.count(), accumulate }).map(|_| false)
    }
}

/// How a Linear layer's input gradient runs (see [`Lin::backward`]).
enum InputGrad<'a> {
    /// Through the subgroup product: Wᵀ transposed first, dy padded to OUT4 first when
    /// `padded_dy`.
    Product(Product<'a>, bool),
    /// gemm_nt of dy and Wᵀ (the direct family, OUT a multiple of 4).
    GemmNt,
    /// linear_backward_input4 (OUT under 4).
    Outer,
    /// linear_backward_input_thin_in (IN under 4).
    ThinIn,
    /// linear_backward_input (scalar 4 × 4 blocks).
    Scalar,
}

impl Lin {
    /// The weight and bias gradients (when asked for) and the input gradient (into `c.dx`, when
    /// given). With `below`, the input gradient is taken on through that activation by the same
    /// kernel (`sgemm_nt_dact`, `linear_backward_input4_dact`); Ok(false), with nothing pushed,
    /// where this shape has no such kernel.
    pub fn backward(&self, c: &Backward<'_>, below: Option<Epilogue>, l: &mut Launch<'_>) -> Result<bool> {
        let (inp, out, n, gpu, ws) = (self.inp, self.out, c.n, l.gpu, l.ws);
        let w = c.w;
        let ta = &ws.trans[0];
        let w0 = &ws.work[0];
        let how = if self.thin_input() {
            // dx = dy W, one row per invocation, from W as it is.
            InputGrad::ThinIn
        } else if KernelFamily::of(gpu).products() && (out % 4 == 0 || self.pads_dy(n)) {
            // dxᵀ (IN, N) = Wᵀ dyᵀ through the subgroup product, stored into dx (N, IN): Wᵀ
            // (IN, OUT4) and dy with OUT padded to a multiple of 4 when it is not one (D's last
            // layer has OUT = 1). Padding dy costs a dispatch: worth it only for a large dx
            // (R2's D: 10 ms a step saved; R1's joint D pass, 512 × 128 values, would lose
            // ~0.2 ms a step to the extra launches).
            let dy = if out % 4 == 0 { c.dy } else { w0 };
            InputGrad::Product(Product { a: ta, b: dy, bias: None, m: inp, n, k4: out.div_ceil(4), map: (1, inp, 1, 0) }, out % 4 != 0)
        } else if out % 4 == 0 {
            InputGrad::GemmNt
        } else if self.outer_input_grad(n) {
            InputGrad::Outer
        } else {
            InputGrad::Scalar
        };
        // The activation below, as this path can take it (None: it cannot).
        let epi = match (below, c.dx) {
            (None, _) => None,
            (Some(e), Some(dx)) => {
                let fits = |b: &dyn AsArg| b.size() % 16 == 0 && b.size() >= (n * inp * 4) as u64;
                match &how {
                    InputGrad::Product(prod, _) if prod.fuses(gpu, dx, &e) => Some(e),
                    InputGrad::Outer if fits(dx) && fits(e.buffer()) => Some(e),
                    _ => return Ok(false),
                }
            }
            // No input gradient wanted: nothing to take through the activation either.
            (Some(_), None) => None,
        };
        if let Some((grads, accumulate)) = c.grads {
            let db = self.bias.then(|| &grads[1] as &dyn AsArg);
            let bias_done = self.weight_and_bias_grad(l, c.dy, c.x, n, &grads[0], db, accumulate)?;
            if self.bias && !bias_done {
                let p = LinearParams::new(n, inp, out, false);
                let t = p.bias_tiles(gpu.parallel_invocations());
                let first = |o: &dyn AsArg, acc: bool| Dispatch::new(gpu, &LinearBackwardBias { dy: c.dy, out: o }, &LinearParams { n_per: t.n_per, accumulate: acc as u32, ..p }, Some(t.count() * out as u32));
                l.push_split(SplitSum { first: &first, out: &grads[1], len: out, tiles: t.count(), accumulate })?;
            }
        }
        let Some(dx) = c.dx else { return Ok(true) };
        // The input gradient is this pass's alone: never accumulated.
        let p = LinearParams::new(n, inp, out, false);
        match how {
            InputGrad::Product(prod, padded_dy) => {
                l.prog.push(transpose(gpu, w, ta, out, inp)?);
                if padded_dy {
                    l.prog.push(conv_gemm::pack_matrix(gpu, c.dy, w0, n, out, false)?);
                }
                l.prog.push(match epi {
                    Some(e) => prod.whole_fused(gpu, dx, e)?,
                    None => prod.whole(gpu, dx)?,
                });
            }
            InputGrad::GemmNt => {
                // dx = dy W as gemm_nt: dy (N, OUT) and Wᵀ (IN, OUT).
                l.prog.push(transpose(gpu, w, ta, out, inp)?);
                let g = GemmParams { m: n as u32, p: inp as u32, k4: (out / 4) as u32, k_per: (out / 4) as u32, ..Default::default() };
                l.prog.push(Dispatch::new(gpu, &GemmNt { a: c.dy, b: ta, bias: ta, out: dx }, &g, Some(blocks8(n, inp)))?);
            }
            InputGrad::Outer => {
                let threads = Some((n * inp / 4) as u32);
                l.prog.push(match epi {
                    Some(Epilogue::Dact { pre, slope, relu }) => {
                        let p = LinearParams { slope, relu: relu as u32, ..p };
                        Dispatch::new(gpu, &LinearBackwardInput4Dact { dy: c.dy, w4: w, out4: dx, pre4: pre }, &p, threads)?
                    }
                    _ => Dispatch::new(gpu, &LinearBackwardInput4 { dy: c.dy, w4: w, out4: dx }, &p, threads)?,
                });
            }
            InputGrad::ThinIn => l.prog.push(Dispatch::new(gpu, &LinearBackwardInputThinIn { out: dx, w4: w, dy4: c.dy }, &p, Some(n as u32))?),
            InputGrad::Scalar => l.prog.push(Dispatch::new(gpu, &LinearBackwardInput { w, dy: c.dy, out: dx }, &p, Some(blocks4(n, inp)))?),
        }
        Ok(true)
    }
}

/// Input-gradient values from which the subgroup family pads OUT to 4 rather than run the scalar
/// kernel: three dispatches instead of one pay off only for a large dx.
const PADDED_PRODUCT_MIN: usize = 1 << 17;
/// Outputs from which the forward pass pads IN to 4 (see [`Lin::pads_x`]): R1's first layers,
/// 256 × 128 and more, qualify.
const PADDED_FORWARD_MIN: usize = 1 << 14;

impl Lin {
    /// Scratch floats of this layer's split weight and bias gradients at batch n.
    pub fn scratch_len(&self, n: usize, parallel: u64) -> usize {
        let p = LinearParams::new(n, self.inp, self.out, false);
        let weights = if self.thin_weight_grad() { self.thin_tiles(n, parallel) } else { weight_tiles(n, self.inp, self.out, parallel) };
        split_len(weights, self.inp * self.out).max(if self.bias { split_len(p.bias_tiles(parallel), self.out) } else { 0 })
    }

    /// Work buffers (floats) the product families need at batch n: the split weight gradient, dy
    /// padded for the input gradient, x and W padded for the forward pass; none for the direct
    /// family.
    pub fn work_lens(&self, gpu: &Gpu, n: usize) -> [usize; 4] {
        let family = KernelFamily::of(gpu);
        if !family.products() {
            return [0; 4];
        }
        let padded_dy = if self.pads_dy(n) { n * self.out.div_ceil(4) * 4 } else { 0 };
        let inp4 = self.inp.div_ceil(4) * 4;
        let (padded_x, padded_w) = if self.pads_x(n) { (n * inp4, self.out * inp4) } else { (0, 0) };
        [padded_dy.max(padded_x), padded_w, 0, conv_gemm::split_len(self.out, self.inp, n.div_ceil(4), family)]
    }
}
