//! SGD (with momentum), Adam and RMSprop, as WGSL kernels (`shaders/optim.wgsl`) and as CPU
//! reference steps. Conventions are PyTorch's. An optional clamp after the update serves WGAN's
//! weight clipping.

use crate::error::{Error, Result};
use crate::gpu::budget::lp;
use crate::gpu::{Block, Dispatch, Gpu, Program, Tensor};

/// An optimizer and its hyper-parameters (PyTorch's meanings), run by [`GpuOptimizer`] and
/// [`CpuOptimizer`].
///
/// ```
/// use wgpu_gan::optim::Optimizer;
/// let adam = Optimizer::adam(2e-4, 0.5, 0.999);   // DCGAN's; eps 1e-8
/// assert_eq!(adam, Optimizer::Adam { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd { lr: f32, momentum: f32 },
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32 },
    RmsProp { lr: f32, alpha: f32, eps: f32 },
}

impl Optimizer {
    /// Adam with PyTorch's default eps, 1e-8.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// let adam = Optimizer::adam(1e-3, 0.9, 0.999);
    /// assert!(matches!(adam, Optimizer::Adam { lr, eps, .. } if lr == 1e-3 && eps == 1e-8));
    /// assert_eq!(adam.state_count(), 2);
    /// ```
    pub fn adam(lr: f32, beta1: f32, beta2: f32) -> Optimizer {
        Optimizer::Adam { lr, beta1, beta2, eps: 1e-8 }
    }

    /// Checks the settings: a learning rate that is NaN, infinite, zero or negative (which would
    /// silently run gradient ascent), or decay rates outside [0, 1), give a message saying which.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// assert!(Optimizer::adam(1e-3, 0.9, 0.999).validate().is_ok());
    /// assert!(Optimizer::Sgd { lr: -0.1, momentum: 0.0 }.validate().unwrap_err().contains("learning rate"));
    /// assert!(Optimizer::adam(1e-3, 1.0, 0.999).validate().unwrap_err().contains("beta1"));
    /// assert!(Optimizer::RmsProp { lr: 1e-3, alpha: 0.99, eps: 0.0 }.validate().is_err());
    /// ```
    pub fn validate(&self) -> std::result::Result<(), String> {
        let (lr, rates, eps): (f32, &[(&str, f32)], f32) = match self {
            Optimizer::Sgd { lr, momentum } => (*lr, &[("momentum", *momentum)][..], 1.0),
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
        // (eps = 0 divides 0 by 0 wherever a gradient is 0 from the start: a NaN parameter, in
        // PyTorch too; here also in the zeros between a block's tensors.)
        if !(eps.is_finite() && eps > 0.0) {
            return Err(format!("eps {eps} must be a finite number above 0"));
        }
        Ok(())
    }

    /// Number of state tensors per parameter (momentum / first and second moments).
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// assert_eq!(Optimizer::Sgd { lr: 0.1, momentum: 0.9 }.state_count(), 1);  // velocity
    /// assert_eq!(Optimizer::adam(1e-3, 0.9, 0.999).state_count(), 2);           // m and v
    /// assert_eq!(Optimizer::RmsProp { lr: 1e-3, alpha: 0.99, eps: 1e-8 }.state_count(), 1);
    /// ```
    pub fn state_count(&self) -> usize {
        match self {
            Optimizer::Sgd { .. } | Optimizer::RmsProp { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    /// The uniform for `shaders/optim.wgsl`.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// let p = Optimizer::adam(0.1, 0.5, 0.9).params(8, 1, 0, 0.0, 0);
    /// assert_eq!((p.n, p.lr, p.beta1, p.beta2), (8, 0.1, 0.5, 0.9));
    /// assert!((p.ln_beta1 - 0.5f32.ln()).abs() < 1e-7);     // for β^t in the kernel
    /// let s = Optimizer::Sgd { lr: 0.2, momentum: 0.7 }.params(4, 1, 0, 0.01, 0);
    /// assert_eq!((s.lr, s.beta1, s.clip), (0.2, 0.7, 0.01)); // momentum in beta1
    /// ```
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

    /// The entry point of `shaders/optim.wgsl` that runs this optimizer.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// assert_eq!(Optimizer::adam(1e-3, 0.9, 0.999).entry(), "adam_step");
    /// assert_eq!(Optimizer::Sgd { lr: 0.1, momentum: 0.0 }.entry(), "sgd_step");
    /// ```
    pub fn entry(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd_step",
            Optimizer::Adam { .. } => "adam_step",
            Optimizer::RmsProp { .. } => "rmsprop_step",
        }
    }

    /// The same optimizer with learning rate `new`.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// let rms = Optimizer::RmsProp { lr: 5e-5, alpha: 0.99, eps: 1e-8 };
    /// assert_eq!(rms.with_lr(1e-4), Optimizer::RmsProp { lr: 1e-4, alpha: 0.99, eps: 1e-8 });
    /// ```
    pub fn with_lr(&self, new: f32) -> Optimizer {
        let mut o = *self;
        match &mut o {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => *lr = new,
        }
        o
    }

    /// The same optimizer with its learning rate multiplied by `scale`.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// let sgd = Optimizer::Sgd { lr: 0.5, momentum: 0.9 };
    /// assert_eq!(sgd.scaled(0.25), Optimizer::Sgd { lr: 0.125, momentum: 0.9 });
    /// assert_eq!(Optimizer::adam(2e-4, 0.5, 0.999).scaled(1.0), Optimizer::adam(2e-4, 0.5, 0.999));
    /// ```
    pub fn scaled(&self, scale: f32) -> Optimizer {
        let mut o = *self;
        match &mut o {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::RmsProp { lr, .. } => *lr *= scale,
        }
        o
    }

    /// One CPU reference update of `p` with gradient `g` at step `t` (1-based), state in `s`.
    ///
    /// ```
    /// use wgpu_gan::optim::Optimizer;
    /// let sgd = Optimizer::Sgd { lr: 0.5, momentum: 0.0 };
    /// let (mut p, mut s) = (vec![1.0, 2.0], vec![vec![0.0; 2]]); // one state: the velocity
    /// sgd.cpu_step(&mut p, &[1.0, -1.0], &mut s, 1, 0.0);
    /// assert_eq!((p, &s[0]), (vec![0.5, 2.5], &vec![1.0, -1.0]));
    /// ```
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

crate::uniform! {
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct OptimParams {
        /// Values in the block (a multiple of 4).
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
        /// Tensors in the block (the divergence watch finds a bad value's tensor among them).
        pub parts: u32,
    }
}

/// Optimizer state on the GPU for one network's parameters: each moment one [`Block`] laid out
/// as the parameters, so that one launch updates the whole network.
///
/// ```
/// use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
/// let gpu = Gpu::new()?;
/// let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
/// let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
/// let grads = Block::from_slices(&gpu, "g", &[vec![1.0, -1.0], vec![4.0]])?;
/// let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;   // steps done
/// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu); // one launch
/// assert_eq!(params.read(&gpu)?, [vec![0.5, 2.5], vec![1.0]]);     // p − lr·g
/// assert_eq!(sgd.health(&gpu)?, None);                            // every value finite
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct GpuOptimizer {
    pub opt: Optimizer,
    /// The moments: one block (SGD's velocity, RMSprop's mean square) or two (Adam's).
    pub state: Vec<Block>,
    /// The divergence watch: u32::MAX while every gradient and updated parameter is finite,
    /// else (first step << 10) | tensor number (see `shaders/optim.wgsl`).
    pub health: Tensor,
    /// Each tensor's first value in the block, then the block's length ([`Block::bounds`]).
    bounds: Tensor,
}

/// Where training first went non-finite, as the optimizer saw it.
///
/// ```
/// use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{Divergence, GpuOptimizer, Optimizer}};
/// let gpu = Gpu::new()?;
/// let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
/// let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
/// let grads = Block::from_slices(&gpu, "g", &[vec![1.0, 1.0], vec![f32::NAN]])?;
/// let counter = Tensor::from_slice(&gpu, "counter", &[2u32])?;   // the third step
/// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu);
/// assert_eq!(sgd.health(&gpu)?, Some(Divergence { step: 2, tensor: 1 }));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Steps completed before that update (0 in the first; saturates at 2²² − 1).
    pub step: u32,
    /// The number of the tensor in the optimizer's parameter list.
    pub tensor: usize,
}

impl GpuOptimizer {
    /// Zeroed state for `params`; an error past 1,023 tensors (what the divergence watch can number).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Block, Gpu}, optim::{GpuOptimizer, Optimizer}};
    /// let gpu = Gpu::new()?;
    /// let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// let adam = GpuOptimizer::new(&gpu, Optimizer::adam(1e-3, 0.9, 0.999), &params, "net")?;
    /// assert_eq!(adam.state.len(), 2);                      // m and v, each laid out as params
    /// assert_eq!(adam.read_state(&gpu)?, [vec![vec![0.0; 2]; 2], vec![vec![0.0]; 2]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &Gpu, opt: Optimizer, params: &Block, label: &str) -> Result<GpuOptimizer> {
        // Tensors 0..=1022: with 1023 the key of a saturated step would equal the healthy u32::MAX.
        if params.len() > 1023 {
            return Err(Error::Shape(format!("{label}: {} parameter tensors, the divergence watch numbers at most 1023", params.len())));
        }
        let state = (0..opt.state_count()).map(|s| params.zeros_like(gpu, &format!("{label}.state{s}"))).collect::<Result<_>>()?;
        let health = Tensor::from_slice(gpu, &format!("{label}.health"), &[u32::MAX, u32::MAX])?;
        let bounds = Tensor::from_slice(gpu, &format!("{label}.bounds"), &params.bounds())?;
        Ok(GpuOptimizer { opt, state, health, bounds })
    }

    /// Reads the divergence watch: `None` while every update so far was finite.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// # use wgpu_gan::optim::Divergence;
    /// assert_eq!(sgd.health(&gpu)?, None);
    /// let grads = Block::from_slices(&gpu, "g", &[vec![f32::INFINITY, 0.0], vec![0.0]])?;
    /// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu);
    /// assert_eq!(sgd.health(&gpu)?, Some(Divergence { step: 0, tensor: 0 }));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn health(&self, gpu: &Gpu) -> Result<Option<Divergence>> {
        pollster::block_on(self.health_async(gpu))
    }

    /// [`GpuOptimizer::health`] without blocking (see [`crate::gpu::fetch`]).
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// assert_eq!(pollster::block_on(sgd.health_async(&gpu))?, None);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn health_async(&self, gpu: &Gpu) -> Result<Option<Divergence>> {
        let v = crate::gpu::fetch(gpu, &[&self.health]).await?[0][0].to_bits();
        Ok((v != u32::MAX).then_some(Divergence { step: v >> 10, tensor: (v & 1023) as usize }))
    }

    /// Clears the divergence watch (after loading a good state).
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let grads = Block::from_slices(&gpu, "g", &[vec![f32::NAN, 0.0], vec![0.0]])?;
    /// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu);
    /// assert!(sgd.health(&gpu)?.is_some());
    /// sgd.reset_health(&gpu)?;
    /// assert_eq!(sgd.health(&gpu)?, None);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn reset_health(&self, gpu: &Gpu) -> Result<()> {
        self.health.write(gpu, &[u32::MAX, u32::MAX])
    }

    /// Reads the state back (one readback per moment): for each parameter, its 1 (SGD,
    /// RMSprop) or 2 (Adam) states.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let grads = Block::from_slices(&gpu, "g", &[vec![1.0, -1.0], vec![4.0]])?;
    /// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu);
    /// // SGD without momentum: the velocity is the last gradient; one state per tensor.
    /// assert_eq!(sgd.read_state(&gpu)?, [vec![vec![1.0, -1.0]], vec![vec![4.0]]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn read_state(&self, gpu: &Gpu) -> Result<Vec<Vec<Vec<f32>>>> {
        pollster::block_on(self.read_state_async(gpu))
    }

    /// [`GpuOptimizer::read_state`] without blocking.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let s = pollster::block_on(sgd.read_state_async(&gpu))?;
    /// assert_eq!(s, [vec![vec![0.0; 2]], vec![vec![0.0]]]);  // zero before any step
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn read_state_async(&self, gpu: &Gpu) -> Result<Vec<Vec<Vec<f32>>>> {
        let mut moments = Vec::with_capacity(self.state.len());
        for b in &self.state {
            moments.push(b.read_async(gpu).await?);
        }
        let tensors = self.state.first().map_or(0, |b| b.len());
        Ok((0..tensors).map(|i| moments.iter().map(|m| m[i].clone()).collect()).collect())
    }

    /// Overwrites the state (resuming from a checkpoint); shapes as [`GpuOptimizer::read_state`] gives.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let state = vec![vec![vec![0.5, 0.25]], vec![vec![-1.0]]];
    /// sgd.load_state(&gpu, &state)?;
    /// assert_eq!(sgd.read_state(&gpu)?, state);
    /// assert!(sgd.load_state(&gpu, &state[..1]).is_err());  // a tensor short
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load_state(&self, gpu: &Gpu, state: &[Vec<Vec<f32>>]) -> Result<()> {
        let lens = self.state.first().map(|b| b.lens()).unwrap_or_default();
        if state.len() != lens.len() || state.iter().zip(&lens).any(|(s, &l)| s.len() != self.state.len() || s.iter().any(|x| x.len() != l)) {
            return Err(Error::Shape("optimizer state does not match the parameters".into()));
        }
        for (k, block) in self.state.iter().enumerate() {
            block.write(gpu, &state.iter().map(|s| s[k].clone()).collect::<Vec<_>>())?;
        }
        Ok(())
    }

    /// One launch that updates every parameter of `params` from its gradient in `grads` (both laid
    /// out as the block this optimizer was made for). Adam's step is t = `counter[0]`·t_mul +
    /// t_add + 1; with `decay_steps` > 0 the learning rate decays linearly to 0 at `counter[0]` =
    /// decay_steps.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// # let gpu = Gpu::new()?;
    /// # let params = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &params, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let grads = Block::from_slices(&gpu, "g", &[vec![2.0, 2.0], vec![-2.0]])?;
    /// sgd.step(&gpu, &params, &grads, &counter.buffer, 1, 0, 0.0, 0)?.run(&gpu);
    /// assert_eq!(params.read(&gpu)?, [vec![0.0, 1.0], vec![4.0]]);   // p − 0.5·g
    /// let wrong = Block::from_slices(&gpu, "w", &[vec![0.0; 3]])?;
    /// assert!(sgd.step(&gpu, &params, &wrong, &counter.buffer, 1, 0, 0.0, 0).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn step(&self, gpu: &Gpu, params: &Block, grads: &Block, counter: &wgpu::Buffer, t_mul: u32, t_add: u32, clip: f32, decay_steps: u32) -> Result<Program> {
        let layout = |b: &Block| (b.bounds(), b.lens());
        if layout(params) != layout(&self.state[0]) || layout(grads) != layout(&self.state[0]) {
            return Err(Error::Shape("the optimizer's parameters and gradients must be laid out as the block it was made for".into()));
        }
        if params.is_empty() {
            return Ok(Program::default());
        }
        let n = params.whole.len();
        let u = OptimParams { parts: params.len() as u32, ..self.opt.params(n, t_mul, t_add, clip, decay_steps) };
        let (grad, param, health, bounds) = (&grads.whole, &params.whole, &self.health, &self.bounds);
        let threads = Some((n / 4) as u32);
        let d = match self.state.as_slice() {
            [m, v] => Dispatch::new(gpu, &AdamStep { grad, counter, param, s1: &m.whole, s2: &v.whole, health, bounds }, &u, threads)?,
            [v] => Dispatch::new(gpu, &OneStateStep { entry: self.opt.entry(), grad, counter, param, s1: &v.whole, health, bounds }, &u, threads)?,
            _ => unreachable!("every optimizer keeps one or two states per parameter"),
        };
        Ok(Program { dispatches: vec![d] })
    }
}

crate::kernel! {
    /// Adam over a block: first and second moments in s1, s2.
    pub AdamStep = "optim" :: "adam_step", OptimParams { 1 grad: Read, 2 counter: Read, 3 param: ReadWrite, 4 s1: ReadWrite, 5 s2: ReadWrite, 6 health: ReadWrite, 7 bounds: Read }
    trips: |_, _| lp(10);
    textures: [grad];
}
crate::kernel! {
    /// SGD with momentum (velocity in s1) or RMSprop (mean square in s1), over a block.
    pub OneStateStep = "optim" :: ["sgd_step", "rmsprop_step"], OptimParams { 1 grad: Read, 2 counter: Read, 3 param: ReadWrite, 4 s1: ReadWrite, 6 health: ReadWrite, 7 bounds: Read }
    trips: |_, _| lp(10);
    textures: [grad];
}

/// Optimizer state on the CPU.
///
/// ```
/// use wgpu_gan::optim::{CpuOptimizer, Optimizer};
/// let mut opt = CpuOptimizer::new(Optimizer::adam(0.1, 0.9, 0.999), &[2, 1]);
/// assert_eq!((opt.state.len(), opt.state[0].len()), (2, 2)); // 2 tensors, 2 moments each
/// let mut p = vec![vec![1.0, 1.0], vec![0.0]];
/// opt.step(&mut p, &[vec![0.5, -2.0], vec![0.0]], 1, 0.0, 1.0);
/// // Adam's first step: about lr against the gradient's sign, whatever its size.
/// assert!((p[0][0] - 0.9).abs() < 1e-5 && (p[0][1] - 1.1).abs() < 1e-5);
/// assert_eq!(p[1], [0.0]);                           // no gradient, no move
/// ```
pub struct CpuOptimizer {
    pub opt: Optimizer,
    pub state: Vec<Vec<Vec<f32>>>,
}

impl CpuOptimizer {
    /// Zeroed state for tensors of `lens` values.
    ///
    /// ```
    /// use wgpu_gan::optim::{CpuOptimizer, Optimizer};
    /// let opt = CpuOptimizer::new(Optimizer::Sgd { lr: 0.1, momentum: 0.9 }, &[3, 1]);
    /// assert_eq!(opt.state, [vec![vec![0.0; 3]], vec![vec![0.0]]]); // one velocity a tensor
    /// ```
    pub fn new(opt: Optimizer, lens: &[usize]) -> CpuOptimizer {
        CpuOptimizer { opt, state: lens.iter().map(|&l| vec![vec![0.0; l]; opt.state_count()]).collect() }
    }

    /// `lr_scale` as [`lr_scale`] computes it for the current step.
    ///
    /// ```
    /// use wgpu_gan::optim::{CpuOptimizer, Optimizer};
    /// let mut opt = CpuOptimizer::new(Optimizer::Sgd { lr: 1.0, momentum: 0.0 }, &[2]);
    /// let mut p = vec![vec![1.0, 1.0]];
    /// opt.step(&mut p, &[vec![1.0, -2.0]], 1, 0.0, 0.5);  // learning rate halved
    /// assert_eq!(p[0], [0.5, 2.0]);
    /// ```
    pub fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], t: u32, clip: f32, lr_scale: f32) {
        let opt = self.opt.scaled(lr_scale);
        for ((p, g), s) in params.iter_mut().zip(grads).zip(self.state.iter_mut()) {
            opt.cpu_step(p, g, s, t, clip);
        }
    }
}

/// The learning-rate factor at `step` for a linear decay to zero over `decay_steps` (0: none),
/// computed exactly as `shaders/optim.wgsl::lr_now` does.
///
/// ```
/// use wgpu_gan::optim::lr_scale;
/// assert_eq!(lr_scale(7, 0), 1.0);                   // no decay
/// assert_eq!(lr_scale(5, 20), 0.75);
/// assert_eq!(lr_scale(30, 20), 0.0);                 // past the end: zero, not negative
/// ```
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
///
/// ```
/// use wgpu_gan::optim::sgd_step;
/// let (mut p, mut v) = (vec![1.0, -1.0], vec![0.0; 2]);
/// sgd_step(&mut p, &[1.0, 1.0], &mut v, 0.5, 0.5, 0.0);
/// assert_eq!((&p[..], &v[..]), (&[0.5, -1.5][..], &[1.0, 1.0][..]));
/// sgd_step(&mut p, &[1.0, 1.0], &mut v, 0.5, 0.5, 0.6); // v = 1.5; clamp to [−0.6, 0.6]
/// assert_eq!(p, [-0.25, -0.6]);
/// ```
pub fn sgd_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, momentum: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = momentum * v[i] + g[i];
        p[i] = clip(p[i] - lr * v[i], clip_at);
    }
}

/// Adam with bias correction at step t (1-based).
///
/// ```
/// use wgpu_gan::optim::adam_step;
/// let (mut p, mut m, mut v) = (vec![1.0, 1.0], vec![0.0; 2], vec![0.0; 2]);
/// adam_step(&mut p, &[0.5, -2.0], &mut m, &mut v, 1, 0.1, 0.9, 0.999, 1e-8, 1.05);
/// assert!((m[0] - 0.05).abs() < 1e-6 && (v[1] - 0.004).abs() < 1e-6);
/// // Bias-corrected, step 1 moves each weight by about lr: to 0.9, and to 1.1 clamped at 1.05.
/// assert!((p[0] - 0.9).abs() < 1e-5);
/// assert_eq!(p[1], 1.05);
/// ```
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
///
/// ```
/// use wgpu_gan::optim::rmsprop_step;
/// let (mut p, mut v) = (vec![1.0], vec![0.0]);
/// rmsprop_step(&mut p, &[2.0], &mut v, 0.01, 0.99, 1e-8, 0.0);
/// // v = 0.01·2² = 0.04, so p moves by lr·2 / √0.04 = 10·lr.
/// assert!((v[0] - 0.04).abs() < 1e-6 && (p[0] - 0.9).abs() < 1e-5);
/// ```
pub fn rmsprop_step(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, alpha: f32, eps: f32, clip_at: f32) {
    for i in 0..p.len() {
        v[i] = alpha * v[i] + (1.0 - alpha) * g[i] * g[i];
        p[i] = clip(p[i] - lr * g[i] / (v[i].sqrt() + eps), clip_at);
    }
}
