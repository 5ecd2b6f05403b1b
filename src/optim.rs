//! SGD (with momentum), Adam and RMSprop, as WGSL kernels (`shaders/optim.wgsl`) and as CPU
//! reference steps. Conventions are PyTorch's. An optional clamp after the update serves WGAN's
//! weight clipping.

use crate::error::Result;
use crate::gpu::{Access, Bindings, Dispatch, Gpu, Program, Slot, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd { lr: f32, momentum: f32 },
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32 },
    RmsProp { lr: f32, alpha: f32, eps: f32 },
}

impl Optimizer {
    pub fn adam(lr: f32, beta1: f32, beta2: f32) -> Optimizer {
        Optimizer::Adam { lr, beta1, beta2, eps: 1e-8 }
    }

    /// Checks the settings: a learning rate that is NaN, infinite, zero or negative (which would
    /// silently run gradient ascent), or decay rates outside [0, 1), give a message saying which.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let (lr, rates, eps): (f32, &[(&str, f32)], f32) = match self {
            Optimizer::Sgd { lr, momentum } => (*lr, &[("momentum", *momentum)][..], 0.0),
            Optimizer::Adam { lr, beta1, beta2, eps } => (*lr, &[("beta1", *beta1), ("beta2", *beta2)][..], *eps),
            Optimizer::RmsProp { lr, alpha, eps } => (*lr, &[("alpha", *alpha)][..], *eps),
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("learning rate {lr} must be a finite number above 0"));
        }
        for (name, v) in rates {
            if !(v.is_finite() && (0.0..1.0).contains(v)) {
                return Err(format!("{name} {v} must lie in [0, 1)"));
            }
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(format!("eps {eps} must be finite and not negative"));
        }
        Ok(())
    }

    /// Number of state tensors per parameter (momentum / first and second moments).
    pub fn state_count(&self) -> usize {
        match self {
            Optimizer::Sgd { .. } | Optimizer::RmsProp { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    /// The uniform for `shaders/optim.wgsl`.
    pub fn params(&self, n: usize, t_mul: u32, t_add: u32, clip: f32, decay_steps: u32) -> OptimParams {
        let mut p = OptimParams { n: n as u32, t_mul, t_add, clip, decay_steps, ..Default::default() };
        match *self {
            Optimizer::Sgd { lr, momentum } => {
                p.lr = lr;
                p.beta1 = momentum;
            }
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                p.lr = lr;
                p.beta1 = beta1;
                p.beta2 = beta2;
                p.eps = eps;
                p.ln_beta1 = (beta1 as f64).ln() as f32;
                p.ln_beta2 = (beta2 as f64).ln() as f32;
            }
            Optimizer::RmsProp { lr, alpha, eps } => {
                p.lr = lr;
                p.beta2 = alpha;
                p.eps = eps;
            }
        }
        p
    }

    pub fn entry(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd_step",
            Optimizer::Adam { .. } => "adam_step",
            Optimizer::RmsProp { .. } => "rmsprop_step",
        }
    }

    /// The same optimizer with its learning rate multiplied by `scale`.
    /// The same optimizer with learning rate `lr`.
    pub fn with_lr(&self, new: f32) -> Optimizer {
        let mut o = *self;
        match &mut o {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => *lr = new,
        }
        o
    }

    pub fn scaled(&self, scale: f32) -> Optimizer {
        let mut o = *self;
        match &mut o {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => *lr *= scale,
        }
        o
    }

    /// One CPU reference update of `p` with gradient `g` at step `t` (1-based), state in `s`.
    pub fn cpu_step(&self, p: &mut [f32], g: &[f32], s: &mut [Vec<f32>], t: u32, clip: f32) {
        match *self {
            Optimizer::Sgd { lr, momentum } => sgd_step(p, g, &mut s[0], lr, momentum, clip),
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                let (m, v) = s.split_at_mut(1);
                adam_step(p, g, &mut m[0], &mut v[0], t, lr, beta1, beta2, eps, clip)
            }
            Optimizer::RmsProp { lr, alpha, eps } => rmsprop_step(p, g, &mut s[0], lr, alpha, eps, clip),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct OptimParams {
    pub n: u32,
    pub t_mul: u32,
    pub t_add: u32,
    pub decay_steps: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub clip: f32,
    pub ln_beta1: f32,
    pub ln_beta2: f32,
    /// The tensor's number in the divergence watch (see [`GpuOptimizer::health`]).
    pub tag: u32,
    /// `adam_multi4` only: each tensor's first invocation (a multiple of the workgroup size;
    /// `starts[n]` = all the invocations, and so are the unused entries after it), its length in
    /// vec4s, its number in the divergence watch.
    pub starts: [u32; 8],
    pub lens: [u32; 8],
    pub tags: [u32; 8],
}

crate::uniform_layout!(OptimParams { n, t_mul, t_add, decay_steps, lr, beta1, beta2, eps, clip, ln_beta1, ln_beta2, tag, starts, lens, tags });

/// Optimizer state on the GPU for a list of parameter tensors.
pub struct GpuOptimizer {
    pub opt: Optimizer,
    pub state: Vec<Vec<Tensor>>,
    /// The divergence watch: u32::MAX while every gradient and updated parameter is finite,
    /// else (first step << 10) | tensor number (see `shaders/optim.wgsl`).
    pub health: Tensor,
}

/// Where training first went non-finite, as the optimizer saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Steps completed before that update (0 in the first; saturates at 2²² − 1).
    pub step: u32,
    /// The number of the tensor in the optimizer's parameter list.
    pub tensor: usize,
}

impl GpuOptimizer {
    pub fn new(gpu: &Gpu, opt: Optimizer, params: &[Tensor], label: &str) -> Result<GpuOptimizer> {
        let state = params
            .iter()
            .enumerate()
            .map(|(i, p)| (0..opt.state_count()).map(|s| Tensor::zeros(gpu, &format!("{label}.state{i}.{s}"), p.len)).collect::<Result<Vec<_>>>())
            .collect::<Result<_>>()?;
        // Tags 0..=1022: with 1023 the key of a saturated step would equal the healthy u32::MAX.
        if params.len() > 1023 {
            return Err(crate::error::Error::Shape(format!("{label}: {} parameter tensors, the divergence watch numbers at most 1023", params.len())));
        }
        let health = Tensor::from_slice(gpu, &format!("{label}.health"), &[u32::MAX, u32::MAX])?;
        Ok(GpuOptimizer { opt, state, health })
    }

    /// Reads the divergence watch: `None` while every update so far was finite.
    pub fn health(&self, gpu: &Gpu) -> Result<Option<Divergence>> {
        let v = self.health.read(gpu)?[0].to_bits();
        Ok((v != u32::MAX).then_some(Divergence { step: v >> 10, tensor: (v & 1023) as usize }))
    }

    /// Clears the divergence watch (after loading a good state).
    pub fn reset_health(&self, gpu: &Gpu) -> Result<()> {
        self.health.write(gpu, &[u32::MAX, u32::MAX])
    }

    /// Reads the state tensors back: for each parameter, its 1 (SGD, RMSprop) or 2 (Adam) states.
    pub fn read_state(&self, gpu: &Gpu) -> Result<Vec<Vec<Vec<f32>>>> {
        self.state.iter().map(|s| s.iter().map(|t| t.read(gpu)).collect()).collect()
    }

    /// Overwrites the state (resuming from a checkpoint); shapes as [`GpuOptimizer::read_state`] gives.
    pub fn load_state(&self, gpu: &Gpu, state: &[Vec<Vec<f32>>]) -> Result<()> {
        if state.len() != self.state.len() || state.iter().zip(&self.state).any(|(a, b)| a.len() != b.len() || a.iter().zip(b).any(|(x, t)| x.len() != t.len)) {
            return Err(crate::error::Error::Shape("optimizer state does not match the parameters".into()));
        }
        for (a, b) in state.iter().zip(&self.state) {
            for (x, t) in a.iter().zip(b) {
                t.write(gpu, x)?;
            }
        }
        Ok(())
    }

    /// Updates every parameter from its gradient. Adam's step is t = `counter[0]`·t_mul + t_add + 1;
    /// with `decay_steps` > 0 the learning rate decays linearly to 0 at `counter[0]` = decay_steps.
    #[allow(clippy::too_many_arguments)]
    pub fn step(&self, gpu: &Gpu, params: &[Tensor], grads: &[Tensor], counter: &wgpu::Buffer, t_mul: u32, t_add: u32, clip: f32, decay_steps: u32) -> Result<Program> {
        let mut prog = Program::default();
        let health = &self.health.buffer;
        // Adam on small tensors whose lengths are multiples of 4: up to MULTI at a time in one
        // `adam_multi4` launch, where the device binds that many storage buffers.
        let bindable = gpu.device.limits().max_storage_buffers_per_shader_stage as usize >= MULTI_SLOTS.len();
        let grouped = |i: usize| bindable && self.state[i].len() == 2 && params[i].len % 4 == 0 && params[i].len <= MULTI_MAX_LEN;
        let small: Vec<usize> = (0..params.len()).filter(|&i| grouped(i)).collect();
        for group in small.chunks(MULTI) {
            let mut u = OptimParams { n: group.len() as u32, ..self.opt.params(0, t_mul, t_add, clip, decay_steps) };
            let mut at = 0u32;
            let set = |i: usize| [&params[i].buffer, &grads[i].buffer, &self.state[i][0].buffer, &self.state[i][1].buffer];
            // Unused slots repeat the first tensor's buffers (each in the same role: a buffer may
            // not be read-only in one binding and writable in another).
            let mut slots = [set(group[0]); MULTI];
            for (k, &i) in group.iter().enumerate() {
                let len4 = (params[i].len / 4) as u32;
                (u.starts[k], u.lens[k], u.tags[k]) = (at, len4, i as u32);
                at += len4.div_ceil(WG) * WG;
                slots[k] = set(i);
            }
            u.starts[group.len()..].fill(at);
            prog.push(Dispatch::new(gpu, &AdamMulti { counter, health, slots }, &u, Some(at))?);
        }
        for (i, ((p, g), s)) in params.iter().zip(grads).zip(&self.state).enumerate() {
            if grouped(i) {
                continue;
            }
            let u = OptimParams { tag: i as u32, ..self.opt.params(p.len, t_mul, t_add, clip, decay_steps) };
            let (grad, param, threads) = (&g.buffer, &p.buffer, Some(p.len as u32));
            prog.push(match s.as_slice() {
                [m, v] if p.len % 4 == 0 => Dispatch::new(gpu, &AdamStep4 { counter, health, grad4: grad, param4: param, m4: &m.buffer, v4: &v.buffer }, &u, Some(p.len as u32 / 4))?,
                [m, v] => Dispatch::new(gpu, &AdamStep { grad, counter, param, s1: &m.buffer, s2: &v.buffer, health }, &u, threads)?,
                [v] => Dispatch::new(gpu, &OneStateStep { entry: self.opt.entry(), grad, counter, param, s1: &v.buffer, health }, &u, threads)?,
                _ => unreachable!("every optimizer keeps one or two states per parameter"),
            });
        }
        Ok(prog)
    }
}

crate::kernel! {
    /// Adam: first and second moments in s1, s2.
    pub AdamStep = "optim" :: "adam_step", OptimParams { 1 grad: Read, 2 counter: Read, 3 param: ReadWrite, 4 s1: ReadWrite, 5 s2: ReadWrite, 6 health: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// Adam four parameters at a time (a length that is a multiple of 4).
    pub AdamStep4 = "optim" :: "adam_step4", OptimParams { 2 counter: Read, 6 health: ReadWrite, 7 grad4: Read, 8 param4: ReadWrite, 9 m4: ReadWrite, 10 v4: ReadWrite }
    trips: |_, _| 0;
    textures: [grad4];
}
/// Tensors per `adam_multi4` launch.
pub const MULTI: usize = 7;
/// The longest tensor that `adam_multi4` takes (floats): biases, batch-norm parameters, small
/// weights. Longer ones run alone: on the software adapter each update costs more among the
/// kernel's cases (the cases not taken run masked off: a 262,144-float tensor took 1.4-1.9× as
/// long there), and R1's step at batch 256 took 7.09 ms with tensors up to 65,536 floats grouped
/// against 6.79 ms ungrouped and 6.70 ms with this bound (docs/BENCHMARKS.md).
pub const MULTI_MAX_LEN: usize = 1024;
/// Invocations per workgroup (the prelude's WG): each tensor of `adam_multi4` starts on a
/// workgroup of its own, so that the workgroup's lanes take one case. (Each invocation finds its
/// tensor by itself: another size would cost speed, not correctness.)
const WG: u32 = 64;

/// `adam_multi4`'s bindings: the step counter, the divergence watch, then per tensor k (param,
/// grad, m, v) at 11 + 4k .. 14 + 4k.
pub struct AdamMulti<'a> {
    pub counter: &'a wgpu::Buffer,
    pub health: &'a wgpu::Buffer,
    pub slots: [[&'a wgpu::Buffer; 4]; MULTI],
}

const MULTI_NAMES: [[&str; 4]; MULTI] = [
    ["mp0", "mg0", "mm0", "mv0"],
    ["mp1", "mg1", "mm1", "mv1"],
    ["mp2", "mg2", "mm2", "mv2"],
    ["mp3", "mg3", "mm3", "mv3"],
    ["mp4", "mg4", "mm4", "mv4"],
    ["mp5", "mg5", "mm5", "mv5"],
    ["mp6", "mg6", "mm6", "mv6"],
];

const fn multi_slots() -> [Slot; 2 + 4 * MULTI] {
    let mut s = [Slot { binding: 2, name: "counter", access: Access::Read }; 2 + 4 * MULTI];
    s[1] = Slot { binding: 6, name: "health", access: Access::ReadWrite };
    let mut k = 0;
    while k < MULTI {
        let mut j = 0;
        while j < 4 {
            let access = if j == 1 { Access::Read } else { Access::ReadWrite };
            s[2 + 4 * k + j] = Slot { binding: (11 + 4 * k + j) as u32, name: MULTI_NAMES[k][j], access };
            j += 1;
        }
        k += 1;
    }
    s
}

const MULTI_SLOTS: [Slot; 2 + 4 * MULTI] = multi_slots();

impl Bindings for AdamMulti<'_> {
    type Params = OptimParams;
    const FILE: &'static str = "optim";
    const ENTRIES: &'static [&'static str] = &["adam_multi4"];
    const SLOTS: &'static [Slot] = &MULTI_SLOTS;
    fn buffers(&self) -> Vec<&wgpu::Buffer> {
        let mut b = vec![self.counter, self.health];
        b.extend(self.slots.iter().flatten().copied());
        b
    }
    /// The search for the invocation's tensor among the 8 starts.
    fn trips(_: &str, _: &OptimParams) -> u64 {
        crate::gpu::budget::lp(7)
    }
}

crate::kernel! {
    /// SGD with momentum (velocity in s1) or RMSprop (mean square in s1).
    pub OneStateStep = "optim" :: ["sgd_step", "rmsprop_step"], OptimParams { 1 grad: Read, 2 counter: Read, 3 param: ReadWrite, 4 s1: ReadWrite, 6 health: ReadWrite }
    trips: |_, _| 0;
}

/// Optimizer state on the CPU.
pub struct CpuOptimizer {
    pub opt: Optimizer,
    pub state: Vec<Vec<Vec<f32>>>,
}

impl CpuOptimizer {
    pub fn new(opt: Optimizer, lens: &[usize]) -> CpuOptimizer {
        CpuOptimizer { opt, state: lens.iter().map(|&l| vec![vec![0.0; l]; opt.state_count()]).collect() }
    }

    /// `lr_scale` as [`lr_scale`] computes it for the current step.
    pub fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], t: u32, clip: f32, lr_scale: f32) {
        let opt = self.opt.scaled(lr_scale);
        for ((p, g), s) in params.iter_mut().zip(grads).zip(self.state.iter_mut()) {
            opt.cpu_step(p, g, s, t, clip);
        }
    }
}

/// The learning-rate factor at `step` for a linear decay to zero over `decay_steps` (0: none),
/// computed exactly as `shaders/optim.wgsl::lr_now` does.
pub fn lr_scale(step: u32, decay_steps: u32) -> f32 {
    if decay_steps == 0 {
        1.0
    } else {
        (1.0 - step as f32 / decay_steps as f32).max(0.0)
    }
}

// ---------------------------------------------------------------- CPU reference

fn clip(v: f32, c: f32) -> f32 {
    if c > 0.0 { v.clamp(-c, c) } else { v }
}

/// v ← μ v + g ; p ← p − lr v
pub fn sgd_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, momentum: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = momentum * v[i] + g[i];
        p[i] = clip(p[i] - lr * v[i], clip_at);
    }
}

/// Adam with bias correction at step t (1-based).
#[allow(clippy::too_many_arguments)]
pub fn adam_step(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], t: u32, lr: f32, b1: f32, b2: f32, eps: f32, clip_at: f32) {
    let c1 = (1.0 - (b1 as f64).powi(t as i32)) as f32;
    let c2 = (1.0 - (b2 as f64).powi(t as i32)) as f32;
    for i in 0..p.len() {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        p[i] = clip(p[i] - lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps), clip_at);
    }
}

/// v ← α v + (1−α) g² ; p ← p − lr g / (sqrt(v) + eps)
pub fn rmsprop_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, alpha: f32, eps: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = alpha * v[i] + (1.0 - alpha) * g[i] * g[i];
        p[i] = clip(p[i] - lr * g[i] / (v[i].sqrt() + eps), clip_at);
    }
}
