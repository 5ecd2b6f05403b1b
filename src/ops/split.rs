//! Split reductions: a sum whose length grows with the batch (a weight or bias gradient, batch-norm
//! statistics) runs as tiles, each writing a partial sum into the network's scratch space, and a
//! second pass (`shaders/reduce.wgsl`) adds the tiles into the result. The tile sizes come from
//! [`crate::gpu::budget::plan_tiles`], which keeps every invocation under the software adapter's
//! loop limit and the launch wide enough for the device.

use crate::gpu::budget::lp;
use crate::gpu::Tensor;
use crate::error::{Error, Result};
use crate::gpu::{AsArg, Dispatch, Gpu, Program};

crate::uniform! {
    /// Uniform of `shaders/reduce.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct ReduceParams {
        pub len: u32,
        pub splits: u32,
        /// bit 1: add into the output.
        pub flags: u32,
        pub _pad: u32,
    }
}

/// bit 1 of the split kernels' flags: add into the output instead of overwriting it.
pub const ACCUMULATE: u32 = 2;

crate::kernel! {
    /// out = [out +] Σ_s part[s, ·]
    pub ReduceSplits = "reduce" :: "reduce_splits", ReduceParams { 1 part: Read, 2 out: ReadWrite }
    trips: |_, p| lp(p.splits as u64);
}

/// One split reduction: its first pass (built by `first(output, accumulate)`), the length of the
/// result and its tiles.
pub struct SplitSum<'a> {
    /// The first pass writing into the given buffer; the flag says whether it adds into it.
    pub first: &'a dyn Fn(&dyn AsArg, bool) -> Result<Dispatch>,
    pub out: &'a dyn AsArg,
    /// Values of the result, and tiles of the first pass.
    pub len: usize,
    pub tiles: u32,
    pub accumulate: bool,
}

/// Where a layer's launches go: the device, the network's shared buffers, and the program being
/// built. The `ops` functions take one of these rather than the three apart.
pub struct Launch<'a> {
    pub gpu: &'a Gpu,
    pub ws: &'a Workspace,
    pub prog: &'a mut Program,
}

impl<'a> Launch<'a> {
    pub fn new(gpu: &'a Gpu, ws: &'a Workspace, prog: &'a mut Program) -> Launch<'a> {
        Launch { gpu, ws, prog }
    }

    /// Pushes a split reduction: with one tile the first pass writes (or adds into) the result;
    /// otherwise it writes one partial sum per tile into the workspace's scratch buffer and
    /// `reduce_splits` adds them into the result.
    pub fn push_split(&mut self, r: SplitSum<'_>) -> Result<()> {
        if r.tiles <= 1 {
            self.prog.push((r.first)(r.out, r.accumulate)?);
            return Ok(());
        }
        let scratch = &self.ws.scratch;
        self.ws.check_scratch(r.tiles as usize * r.len, "a split reduction")?;
        self.prog.push((r.first)(scratch, false)?);
        let p = ReduceParams { len: r.len as u32, splits: r.tiles, flags: ACCUMULATE * r.accumulate as u32, _pad: 0 };
        self.prog.push(Dispatch::new(self.gpu, &ReduceSplits { part: scratch, out: r.out }, &p, Some(r.len as u32))?);
        Ok(())
    }
}

/// Buffers the layers of one network share, one layer at a time (programs run in order): the
/// partial sums of split reductions, and the transposed operands of the Linear layers.
/// [`crate::nn::GpuNet`] sizes and owns one; a layer's passes run by hand
/// ([`crate::nn::GpuForward`]) take one sized by the layer's `scratch_len` and `work_lens`.
///
/// ```
/// use wgpu_gan::{gpu::Gpu, nn::Workspace};
/// let gpu = Gpu::new()?;
/// let ws = Workspace::new(&gpu, "mine", 1024, [16, 16], [0; 3])?;
/// assert_eq!(ws.scratch.len(), 1024);
/// assert_eq!(ws.trans[0].len(), 16);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Workspace {
    pub scratch: Tensor,
    pub trans: [Tensor; 2],
    /// The packed operands and patch gradient of the software adapter's convolutions
    /// ([`super::conv_gemm`]); empty with the direct kernels.
    pub work: [Tensor; 3],
}

impl Workspace {
    /// The buffers for `label`'s layers: `scratch` floats of partial sums, the two transposed
    /// operands and the three work buffers of the given lengths (each at least one float).
    ///
    /// ```
    /// use wgpu_gan::{gpu::Gpu, nn::Workspace};
    /// let gpu = Gpu::new()?;
    /// let ws = Workspace::new(&gpu, "d", 64, [8, 0], [0, 0, 32])?;
    /// assert_eq!((ws.scratch.len(), ws.trans[0].len(), ws.work[2].len()), (64, 8, 32));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(gpu: &crate::gpu::Gpu, label: &str, scratch: usize, trans: [usize; 2], work: [usize; 3]) -> crate::error::Result<Workspace> {
        let t = |part: &str, len: usize| Tensor::zeros(gpu, &format!("{label}.{part}"), len);
        Ok(Workspace {
            scratch: t("scratch", scratch)?,
            trans: [t("trans0", trans[0])?, t("trans1", trans[1])?],
            work: [t("work0", work[0])?, t("work1", work[1])?, t("work2", work[2])?],
        })
    }

    /// Fails when `len` floats of partial sums do not fit in the scratch space.
    ///
    /// ```
    /// use wgpu_gan::{gpu::Gpu, nn::Workspace};
    /// let gpu = Gpu::new()?;
    /// let ws = Workspace::new(&gpu, "d", 64, [1, 1], [1; 3])?;
    /// assert!(ws.check_scratch(64, "a split sum").is_ok());
    /// assert!(ws.check_scratch(65, "a split sum").unwrap_err().to_string().contains("scratch"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn check_scratch(&self, len: usize, what: &str) -> Result<()> {
        if len > self.scratch.len() {
            return Err(Error::Shape(format!("{what}: {len} partial sums exceed this network's scratch space ({})", self.scratch.len())));
        }
        Ok(())
    }
}
