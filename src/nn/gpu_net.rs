//! The GPU side of a sequential network: parameters, gradients, running statistics and per-slot
//! activation buffers allocated once for a maximum batch, and programs (forward, backward) built
//! for a given batch from each layer's launches.

use super::{GpuBackward, GpuForward, GpuGradOfGrad, Mode, NetSpec, Tape};
use crate::error::{Error, Result};
use crate::gpu::{AsArg, Block, Gpu, Program, Tensor};
use crate::ops::Workspace;

/// Whether layers may run a neighbouring activation in their own kernels (on unless
/// `WGPU_GAN_FUSE=off`).
pub fn fusion_on() -> bool {
    std::env::var("WGPU_GAN_FUSE").map_or(true, |v| v != "off")
}

/// A sequential network on the GPU, built for batches up to a maximum; its passes are programs
/// ([`crate::gpu::Program`]) that are built once and recorded or run as often as needed.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Tensor};
/// use wgpu_gan::nn::{Act, GpuNet, Init, Mode, NetSpec};
/// let gpu = Gpu::new()?;
/// let spec = NetSpec::mlp(&[3, 8, 2], Act::Relu, None);
/// let params = spec.init(1, 0, Init::PyTorch);
/// let net = GpuNet::new(&gpu, spec, &params, 4, 1, "net")?;      // batches up to 4, one slot
/// let x = Tensor::new(&gpu, &[4, 3], &[0.5; 12])?;
/// let y = Tensor::zeros_shaped(&gpu, "y", &[4, 2])?;
/// net.forward(&gpu, 0, &x.buffer, &y.buffer, 4, Mode::Train)?.run(&gpu);
/// assert_eq!(y.read(&gpu)?.len(), 8);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuNet {
    pub spec: NetSpec,
    /// Values per sample before each layer, and after the last.
    widths: Vec<usize>,
    pub max_batch: usize,
    /// Each layer's parameters, as in [`NetSpec::param_names`]: one buffer, the tensors ranges
    /// of it (`params[i]`), so that an optimizer updates them in one launch.
    pub params: Block,
    /// Their gradients, laid out as `params`.
    pub grads: Block,
    /// Running state of the layers that have one, in [`NetSpec::running`] order.
    pub running: Vec<Tensor>,
    /// acts[slot][layer]: output of every layer but the last (the caller gives the last its buffer)
    /// and the views (a reshape's output is its input's buffer).
    acts: Vec<Vec<Option<Tensor>>>,
    /// saved[slot][layer]: what the layer keeps for its backward pass (None for most).
    saved: Vec<Vec<Option<Tensor>>>,
    /// Gradient with respect to the output of every layer but the last, and but those followed
    /// by a view (whose output gradient is theirs).
    dacts: Vec<Option<Tensor>>,
    /// Whether each layer is a view (see [`super::LayerImpl::is_view`]).
    views: Vec<bool>,
    /// A gradient penalty's gradient with respect to each layer's output gradient but the last
    /// (allocated by [`GpuNet::enable_penalty`]).
    gbars: Vec<Tensor>,
    ws: Workspace,
    /// Per layer: (first parameter, parameter count, running-state index): [`NetSpec::layout`].
    index: Vec<(usize, usize, Option<usize>)>,
}

impl GpuNet {
    /// Buffers for batches up to `max_batch` and `slots` forward passes kept at once.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// use wgpu_gan::nn::{Act, GpuNet, Init, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let spec = NetSpec::mlp(&[2, 8, 1], Act::Relu, None);
    /// let params = spec.init(1, 0, Init::PyTorch);
    /// let net = GpuNet::new(&gpu, spec.clone(), &params, 4, 2, "d")?; // batches up to 4, two slots
    /// assert_eq!((net.max_batch, net.read_params(&gpu)?), (4, params.clone()));
    /// assert!(GpuNet::new(&gpu, spec, &params[..2], 4, 2, "d").is_err()); // the second Linear missing
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &Gpu, spec: NetSpec, params: &[Vec<f32>], max_batch: usize, slots: usize, label: &str) -> Result<GpuNet> {
        spec.check_params(params, label)?;
        // The device's kernel family, timed now where it can run several (once per device): the
        // work buffers below and every layer's dispatches depend on it.
        crate::ops::choose_family(gpu);
        let out_widths = spec.widths()?;
        if max_batch == 0 || slots == 0 {
            return Err(Error::Shape(format!("{label}: batch size and slots must be at least 1")));
        }
        let imps: Vec<_> = spec.layers.iter().map(|l| l.imp()).collect();
        let p = Block::from_slices(gpu, &format!("{label}.params"), params)?;
        let g = p.zeros_like(gpu, &format!("{label}.grads"))?;
        let running = spec.running().iter().map(|(i, v, _)| Tensor::from_slice(gpu, &format!("{label}.{i}.running"), v)).collect::<Result<_>>()?;
        let views: Vec<bool> = imps.iter().map(|l| l.is_view()).collect();
        let last = imps.len() - 1;
        // Layer i's output needs its own buffer unless it is the network's output or layer i is a view.
        let own_out = |i: usize| i < last && !views[i];
        // The gradient of layer i's output needs one unless it is the output or layer i + 1 is a view.
        let own_grad = |i: usize| i < last && !views[i + 1];
        let rows = |w: usize| max_batch.checked_mul(w).ok_or_else(|| Error::Limit(format!("{label}: {max_batch} rows of {w} values do not fit in memory")));
        let mut acts = Vec::new();
        let mut saved = Vec::new();
        for s in 0..slots {
            acts.push(out_widths.iter().enumerate().map(|(i, &w)| own_out(i).then(|| Tensor::zeros(gpu, &format!("{label}.slot{s}.act{i}"), rows(w)?)).transpose()).collect::<Result<Vec<_>>>()?);
            saved.push(imps.iter().enumerate().map(|(i, l)| (l.saved_len() > 0).then(|| Tensor::zeros(gpu, &format!("{label}.slot{s}.saved{i}"), l.saved_len())).transpose()).collect::<Result<Vec<_>>>()?);
        }
        let dacts = out_widths.iter().enumerate().map(|(i, &w)| own_grad(i).then(|| Tensor::zeros(gpu, &format!("{label}.dact{i}"), rows(w)?)).transpose()).collect::<Result<_>>()?;
        // Tile counts are not monotonic in the batch (evening tiles out can add one at a smaller
        // batch), so the scratch holds the most that any batch up to max_batch needs.
        let par = gpu.parallel_invocations();
        let mut scratch_len = (1..=max_batch).flat_map(|n| imps.iter().map(move |l| l.scratch_len(n, par))).max().unwrap_or(0);
        // The most any batch up to max_batch needs (as for the scratch above).
        let mut work = [1usize; 3];
        for n in 1..=max_batch {
            for l in &imps {
                let w = l.work_lens(n, gpu);
                for i in 0..3 {
                    work[i] = work[i].max(w[i]);
                }
                scratch_len = scratch_len.max(w[3]);
            }
        }
        let (mut ta, mut tb) = (1, 1);
        for l in &imps {
            let (a, b) = l.transpose_lens(max_batch)?;
            (ta, tb) = (ta.max(a), tb.max(b));
        }
        let ws = Workspace::new(gpu, label, scratch_len, [ta, tb], work)?;
        let index = spec.layout();
        let widths = std::iter::once(spec.in_dim()).chain(out_widths).collect();
        Ok(GpuNet { spec, widths, max_batch, params: p, grads: g, running, acts, saved, dacts, views, gbars: Vec::new(), ws, index })
    }

    /// The buffer holding layer `li`'s output in `slot` (`input`, `output`: the caller's).
    fn out_buf<'a>(&'a self, slot: usize, li: usize, input: &'a wgpu::Buffer, output: &'a wgpu::Buffer) -> &'a wgpu::Buffer {
        match &self.acts[slot][li] {
            Some(t) => &t.buffer,
            None if li + 1 == self.views.len() => output,
            None => self.in_buf(slot, li, input, output),
        }
    }

    /// The buffer holding layer `li`'s input in `slot`.
    fn in_buf<'a>(&'a self, slot: usize, li: usize, input: &'a wgpu::Buffer, output: &'a wgpu::Buffer) -> &'a wgpu::Buffer {
        if li == 0 {
            input
        } else {
            self.out_buf(slot, li - 1, input, output)
        }
    }

    /// The buffer holding the gradient of layer `li`'s output (`dout`: the caller's).
    fn grad_buf<'a>(&'a self, li: usize, dout: &'a wgpu::Buffer) -> &'a wgpu::Buffer {
        match &self.dacts[li] {
            Some(t) => &t.buffer,
            None if li + 1 == self.views.len() => dout,
            None => self.grad_buf(li + 1, dout),
        }
    }

    /// The activation of layer `li` if it is one that a neighbouring layer's kernels can run
    /// (ReLU, LeakyReLU: [`super::Act::piecewise`]). `WGPU_GAN_FUSE=off` turns fusion off (for
    /// measuring what it saves).
    fn fusable_act(&self, li: usize) -> Option<super::Act> {
        match self.spec.layers.get(li) {
            Some(super::Layer::Act(a)) if a.piecewise().is_some() && fusion_on() => Some(*a),
            _ => None,
        }
    }

    /// Fails unless each (what, buffer, width index) holds n rows of that width.
    fn check_buffers(&self, n: usize, bufs: &[(&str, &wgpu::Buffer, usize)]) -> Result<()> {
        for &(what, b, wi) in bufs {
            let need = (n * self.widths[wi] * 4) as u64;
            if b.size() < need {
                return Err(Error::Shape(format!("the {what} buffer holds {} bytes; {n} rows of {} values need {need}", b.size(), self.widths[wi])));
            }
        }
        Ok(())
    }

    fn check(&self, n: usize, slot: usize) -> Result<()> {
        if n == 0 || n > self.max_batch {
            return Err(Error::Shape(format!("batch {n} outside 1..={} that this network was built for", self.max_batch)));
        }
        if slot >= self.acts.len() {
            return Err(Error::Shape(format!("slot {slot}: this network keeps {} passes", self.acts.len())));
        }
        Ok(())
    }

    /// input (n, in) -> output (n, out) in `slot`. `output` may be a larger buffer; rows [0, n)
    /// are written.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{GpuNet, Layer, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(2, 1)] }, &[vec![1.0, 2.0], vec![0.5]], 2, 1, "d")?;
    /// let (x, y) = (Tensor::new(&gpu, &[2, 2], &[1.0, 1.0, 2.0, 0.0])?, Tensor::zeros(&gpu, "y", 2)?);
    /// net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train)?.run(&gpu);
    /// assert_eq!(y.read(&gpu)?, [3.5, 2.5]);                                   // x Wᵀ + b
    /// assert!(net.forward(&gpu, 0, &x.buffer, &y.buffer, 3, Mode::Train).is_err()); // beyond batch 2
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn forward(&self, gpu: &Gpu, slot: usize, input: &wgpu::Buffer, output: &wgpu::Buffer, n: usize, mode: Mode) -> Result<Program> {
        self.check(n, slot)?;
        self.check_buffers(n, &[("input", input, 0), ("output", output, self.widths.len() - 1)])?;
        for (i, l) in self.spec.layers.iter().enumerate() {
            l.imp().check_batch(n, mode).map_err(super::at_layer(i))?;
        }
        let mut prog = Program::default();
        let mut li = 0;
        while li < self.spec.layers.len() {
            let (p0, np, ri) = self.index[li];
            let c = GpuForward {
                gpu,
                n,
                width: self.widths[li],
                mode,
                x: self.in_buf(slot, li, input, output),
                y: self.out_buf(slot, li, input, output),
                params: &self.params[p0..p0 + np],
                running: ri.map(|r| &self.running[r]),
                saved: self.saved[slot][li].as_ref(),
                ws: &self.ws,
            };
            let imp = self.spec.layers[li].imp();
            // A ReLU or LeakyReLU right after a layer that can store it as well: one launch.
            if let Some(act) = self.fusable_act(li + 1).filter(|_| !self.views[li]) {
                let then = super::FusedAct { act, buf: self.out_buf(slot, li + 1, input, output) };
                if imp.gpu_forward_fused(&c, then, &mut prog)? {
                    li += 2;
                    continue;
                }
            }
            imp.gpu_forward(&c, &mut prog)?;
            li += 1;
        }
        Ok(prog)
    }

    /// dout (n, out) -> gradients through the training-mode pass kept in `slot`; `input` must be
    /// the buffer that pass read. The pass must have used batch statistics (`Train` or
    /// `BatchStats`): programs are recorded once and run later, so this cannot be checked here,
    /// and after an `Eval` pass the slot's saved batch statistics are stale (the CPU reference
    /// refuses that case). Writes parameter gradients when `grads` is given (added to the present
    /// ones when it says so), and the input gradient into `dinput` when given.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{GpuNet, Grads, Layer, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(2, 1)] }, &[vec![1.0, 2.0], vec![0.0]], 2, 1, "d")?;
    /// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
    /// let (x, y, dy, dx) = (t(&[1.0, 1.0, 2.0, 0.0])?, t(&[0.0; 2])?, t(&[1.0, -1.0])?, t(&[0.0; 4])?);
    /// net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train)?.run(&gpu);
    /// net.backward(&gpu, 0, &x.buffer, &dy.buffer, Some(&dx.buffer), 2, Grads::Write)?.run(&gpu);
    /// assert_eq!(dx.read(&gpu)?, [1.0, 2.0, -1.0, -2.0]);                // dy W
    /// assert_eq!(net.grads.read(&gpu)?, [vec![-1.0, 1.0], vec![0.0]]);   // dyᵀ x, Σ dy
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn backward(&self, gpu: &Gpu, slot: usize, input: &wgpu::Buffer, dout: &wgpu::Buffer, dinput: Option<&wgpu::Buffer>, n: usize, grads: Grads) -> Result<Program> {
        self.check(n, slot)?;
        let last = self.widths.len() - 1;
        self.check_buffers(n, &[("input", input, 0), ("output gradient", dout, last)])?;
        if let Some(d) = dinput {
            self.check_buffers(n, &[("input gradient", d, 0)])?;
        }
        let mut prog = Program::default();
        // Where the gradient at layer li's input goes.
        let dx_of = |li: usize| if li == 0 { dinput.map(|b| b as &dyn AsArg) } else { Some(self.grad_buf(li - 1, dout) as &dyn AsArg) };
        let mut li = self.spec.layers.len();
        while li > 0 {
            li -= 1;
            let (p0, np, _) = self.index[li];
            let c = |dx| GpuBackward {
                gpu,
                n,
                width: self.widths[li],
                x: self.in_buf(slot, li, input, input),
                dy: self.grad_buf(li, dout),
                dx,
                params: &self.params[p0..p0 + np],
                grads: &self.grads[p0..p0 + np],
                saved: self.saved[slot][li].as_ref(),
                weight_grads: grads != Grads::None,
                accumulate: grads == Grads::Add,
                ws: &self.ws,
            };
            let imp = self.spec.layers[li].imp();
            // A ReLU or LeakyReLU whose forward pass the layer before it ran (batch norm): that
            // layer's backward kernels take the gradient through it.
            if let Some(act) = self.fusable_act(li).filter(|_| li > 0 && !self.views[li - 1]) {
                let (q0, nq, _) = self.index[li - 1];
                let below = GpuBackward {
                    x: self.in_buf(slot, li - 1, input, input),
                    dx: dx_of(li - 1),
                    width: self.widths[li - 1],
                    params: &self.params[q0..q0 + nq],
                    grads: &self.grads[q0..q0 + nq],
                    saved: self.saved[slot][li - 1].as_ref(),
                    ..c(None)
                };
                if self.spec.layers[li - 1].imp().gpu_backward_through(&below, act, &mut prog)? {
                    li -= 1;
                    continue;
                }
            }
            // A ReLU or LeakyReLU right before a layer whose input-gradient kernel can take the
            // gradient through it too: the pair's input gradient in one launch.
            if let Some(act) = li.checked_sub(1).and_then(|a| self.fusable_act(a)).filter(|_| !self.views[li]) {
                let below = super::FusedAct { act, buf: self.in_buf(slot, li - 1, input, input) };
                if imp.gpu_backward_fused(&c(dx_of(li - 1)), below, &mut prog)? {
                    li -= 1;
                    continue;
                }
            }
            imp.gpu_backward(&c(dx_of(li)), &mut prog)?;
        }
        Ok(prog)
    }

    /// Allocates what [`GpuNet::penalty_backward`] needs (once; a network without a penalty
    /// does without it).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{Act, GpuNet, Init, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let spec = NetSpec::mlp(&[2, 4, 1], Act::LeakyRelu(0.2), None);
    /// let mut net = GpuNet::new(&gpu, spec.clone(), &spec.init(1, 0, Init::PyTorch), 2, 1, "d")?;
    /// let (x, dy, g) = (Tensor::zeros(&gpu, "x", 4)?, Tensor::zeros(&gpu, "dy", 2)?, Tensor::zeros(&gpu, "g", 4)?);
    /// let penalty = |net: &GpuNet| net.penalty_backward(&gpu, 0, &x.buffer, &dy.buffer, &g.buffer, 2).map(|_| ());
    /// assert!(penalty(&net).is_err());                            // no buffers for it yet
    /// net.enable_penalty(&gpu)?;
    /// assert!(penalty(&net).is_ok());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn enable_penalty(&mut self, gpu: &Gpu) -> Result<()> {
        if self.gbars.is_empty() {
            let last = self.widths.len() - 1;
            self.gbars = self.widths[1..last].iter().enumerate().map(|(i, &w)| Tensor::zeros(gpu, &format!("gbar{i}"), self.max_batch * w)).collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// Adds to the parameter gradients the gradient of a penalty on the input gradient of the
    /// backward pass that has just run through `slot` (from `input`, with output gradient
    /// `dout`), given `gbar0`, the penalty's gradient with respect to that input gradient
    /// (WGAN-GP; see [`super::GpuGradOfGrad`]). Must follow that backward pass in the same
    /// program, with nothing in between that backpropagates through this network.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{GpuNet, Grads, Layer, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let mut net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(2, 1)] }, &[vec![1.0, 2.0], vec![0.0]], 1, 1, "d")?;
    /// net.enable_penalty(&gpu)?;
    /// # let t = |v: &[f32]| Tensor::new(&gpu, &[v.len()], v);
    /// let (x, y, dy, gbar) = (t(&[5.0, 5.0])?, t(&[0.0])?, t(&[1.0])?, t(&[1.0, 0.0])?); // penalty: dx[0]
    /// let mut prog = net.forward(&gpu, 0, &x.buffer, &y.buffer, 1, Mode::Train)?;
    /// prog.extend(net.backward(&gpu, 0, &x.buffer, &dy.buffer, None, 1, Grads::Write)?);
    /// prog.extend(net.penalty_backward(&gpu, 0, &x.buffer, &dy.buffer, &gbar.buffer, 1)?);
    /// prog.run(&gpu);
    /// assert_eq!(net.grads.read(&gpu)?, [vec![6.0, 5.0], vec![1.0]]);  // dyᵀ x = (5, 5), plus dy ⊗ (1, 0)
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn penalty_backward(&self, gpu: &Gpu, slot: usize, input: &wgpu::Buffer, dout: &wgpu::Buffer, gbar0: &wgpu::Buffer, n: usize) -> Result<Program> {
        self.check(n, slot)?;
        if self.gbars.len() + 2 != self.widths.len() {
            return Err(Error::Shape("this network was not prepared for a gradient penalty (GpuNet::enable_penalty)".into()));
        }
        let last = self.spec.layers.len() - 1;
        let mut prog = Program::default();
        for (li, l) in self.spec.layers.iter().enumerate() {
            let (p0, np, _) = self.index[li];
            let c = GpuGradOfGrad {
                gpu,
                n,
                width: self.widths[li],
                x: self.in_buf(slot, li, input, input),
                g_out: self.grad_buf(li, dout),
                gbar_in: if li == 0 { gbar0 } else { &self.gbars[li - 1].buffer },
                gbar_out: (li < last).then(|| &self.gbars[li] as &dyn AsArg),
                params: &self.params[p0..p0 + np],
                grads: &self.grads[p0..p0 + np],
                ws: &self.ws,
            };
            l.imp().gpu_grad_of_grad(&c, &mut prog).map_err(super::at_layer(li))?;
        }
        Ok(prog)
    }

    /// Reads every parameter back (in [`NetSpec::param_names`] order), in one readback.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// use wgpu_gan::nn::{GpuNet, Layer, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(2, 1)] }, &[vec![1.0, 2.0], vec![0.5]], 1, 1, "d")?;
    /// assert_eq!(net.read_params(&gpu)?, [vec![1.0, 2.0], vec![0.5]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_params(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        self.params.read(gpu)
    }

    /// Reads back the training-mode pass kept in `slot` at batch `n` whose input was `input`.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{Act, GpuNet, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let spec = NetSpec::mlp(&[2, 1], Act::Relu, Some(Act::Relu));  // relu(x Wᵀ + b)
    /// let net = GpuNet::new(&gpu, spec, &[vec![1.0, -2.0], vec![0.0]], 1, 1, "d")?;
    /// let (x, y) = (Tensor::new(&gpu, &[2], &[1.0, 1.0])?, Tensor::zeros(&gpu, "y", 1)?);
    /// net.forward(&gpu, 0, &x.buffer, &y.buffer, 1, Mode::Train)?.run(&gpu);
    /// assert_eq!(net.read_tape(&gpu, 0, &[1.0, 1.0], 1)?.inputs, [vec![1.0, 1.0], vec![-1.0]]); // each layer's input
    /// assert!(net.read_tape(&gpu, 0, &[1.0], 1).is_err());                  // too short an input
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_tape(&self, gpu: &Gpu, slot: usize, input: &[f32], n: usize) -> Result<Tape> {
        pollster::block_on(self.read_tape_async(gpu, slot, input, n))
    }

    /// [`GpuNet::read_tape`] without blocking (see [`crate::gpu::fetch`]).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{GpuNet, Layer, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(1, 1)] }, &[vec![2.0], vec![0.0]], 1, 1, "d")?;
    /// let (x, y) = (Tensor::new(&gpu, &[1], &[3.0])?, Tensor::zeros(&gpu, "y", 1)?);
    /// net.forward(&gpu, 0, &x.buffer, &y.buffer, 1, Mode::Train)?.run(&gpu);
    /// let tape = pollster::block_on(net.read_tape_async(&gpu, 0, &[3.0], 1))?;
    /// assert_eq!((tape.n, tape.inputs, tape.saved), (1, vec![vec![3.0]], vec![vec![]]));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_tape_async(&self, gpu: &Gpu, slot: usize, input: &[f32], n: usize) -> Result<Tape> {
        self.check(n, slot)?;
        if input.len() < n * self.widths[0] {
            return Err(Error::Shape(format!("read_tape: {} input values for {n} rows of {}", input.len(), self.widths[0])));
        }
        // Every buffer at once: the layers' outputs, then what they saved.
        let acts: Vec<&Tensor> = self.acts[slot].iter().flatten().collect();
        let saved: Vec<&Tensor> = self.saved[slot].iter().flatten().collect();
        let mut read = crate::gpu::fetch(gpu, &[acts, saved].concat()).await?.into_iter();
        let mut inputs = vec![input[..n * self.widths[0]].to_vec()];
        for li in 1..self.views.len() {
            // A view's output is the buffer before it: the same values.
            let v = match &self.acts[slot][li - 1] {
                Some(_) => read.next().expect("one read per buffer")[..n * self.widths[li]].to_vec(),
                None => inputs[li - 1].clone(),
            };
            inputs.push(v);
        }
        let saved = self.saved[slot].iter().map(|t| t.as_ref().map_or(Vec::new(), |_| read.next().expect("one read per buffer"))).collect();
        Ok(Tape { n, inputs, saved, g_outs: Vec::new() })
    }

    /// Reads the running state (batch-norm statistics) back.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// use wgpu_gan::nn::{BnSpec, GpuNet, Layer, Mode, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let spec = NetSpec { layers: vec![Layer::linear(1, 1), Layer::BatchNorm(BnSpec::new(1, 1))] };
    /// let net = GpuNet::new(&gpu, spec, &[vec![1.0], vec![0.0], vec![1.0], vec![0.0]], 2, 1, "g")?;
    /// assert_eq!(net.read_running(&gpu)?, [vec![0.0, 1.0]]);           // mean 0, var 1
    /// let (x, y) = (Tensor::new(&gpu, &[2], &[1.0, 3.0])?, Tensor::zeros(&gpu, "y", 2)?);
    /// net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train)?.run(&gpu);
    /// let r = &net.read_running(&gpu)?[0];                             // 10% of the way to mean 2, var 2
    /// assert!((r[0] - 0.2).abs() < 1e-5 && (r[1] - 1.1).abs() < 1e-5);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_running(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.read_running_async(gpu))
    }

    /// [`GpuNet::read_running`] without blocking.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// use wgpu_gan::nn::{BnSpec, GpuNet, Layer, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let params = [vec![1.0], vec![0.0], vec![1.0], vec![0.0]];
    /// let spec = NetSpec { layers: vec![Layer::linear(1, 1), Layer::BatchNorm(BnSpec::new(1, 1))] };
    /// let net = GpuNet::new(&gpu, spec, &params, 2, 1, "g")?;
    /// net.load(&gpu, &params, &[vec![0.5, 2.0]])?;
    /// assert_eq!(pollster::block_on(net.read_running_async(&gpu))?, [vec![0.5, 2.0]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_running_async(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>> {
        crate::gpu::fetch(gpu, &self.running.iter().collect::<Vec<_>>()).await
    }

    /// Overwrites parameters and running statistics (loading a checkpoint).
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// use wgpu_gan::nn::{GpuNet, Layer, NetSpec};
    /// let gpu = Gpu::new()?;
    /// let net = GpuNet::new(&gpu, NetSpec { layers: vec![Layer::linear(2, 1)] }, &[vec![0.0; 2], vec![0.0]], 1, 1, "d")?;
    /// net.load(&gpu, &[vec![1.0, 2.0], vec![3.0]], &[])?;
    /// assert_eq!(net.read_params(&gpu)?, [vec![1.0, 2.0], vec![3.0]]);
    /// assert!(net.load(&gpu, &[vec![1.0, 2.0], vec![3.0]], &[vec![0.0, 1.0]]).is_err()); // no batch norm
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(&self, gpu: &Gpu, params: &[Vec<f32>], running: &[Vec<f32>]) -> Result<()> {
        self.spec.check_params(params, "loading a network")?;
        if running.len() != self.running.len() || running.iter().zip(&self.running).any(|(a, b)| a.len() != b.len()) {
            return Err(Error::Shape("running statistics do not match the network's BatchNorm layers".into()));
        }
        self.params.write(gpu, params)?;
        for (t, v) in self.running.iter().zip(running) {
            t.write(gpu, v)?;
        }
        Ok(())
    }
}

/// What a backward pass does with the parameter gradients.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Tensor};
/// use wgpu_gan::nn::{Grads, GpuNet, Layer, Mode, NetSpec};
/// let gpu = Gpu::new()?;
/// let spec = NetSpec { layers: vec![Layer::linear(2, 1)] };
/// let net = GpuNet::new(&gpu, spec, &[vec![0.5, -0.5], vec![0.0]], 2, 1, "d")?;
/// let (x, y, dy) = (Tensor::new(&gpu, &[4], &[1.0, 2.0, 3.0, 4.0])?, Tensor::zeros(&gpu, "y", 2)?, Tensor::new(&gpu, &[2], &[1.0, 1.0])?);
/// net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train)?.run(&gpu);
/// net.backward(&gpu, 0, &x.buffer, &dy.buffer, None, 2, Grads::Write)?.run(&gpu);
/// assert_eq!(net.grads.read(&gpu)?, [vec![4.0, 6.0], vec![2.0]]);  // dyᵀ x, Σ dy
/// net.backward(&gpu, 0, &x.buffer, &dy.buffer, None, 2, Grads::Add)?.run(&gpu);
/// assert_eq!(net.grads.read(&gpu)?, [vec![8.0, 12.0], vec![4.0]]); // added to those
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grads {
    /// Not computed (backpropagating through a frozen network to its input).
    None,
    /// Computed, overwriting the present ones.
    Write,
    /// Computed and added to the present ones (a second pass through the same weights).
    Add,
}
