//! Matrix products and their lowering: the one layer that knows the kernel families. Layers
//! (`crate::nn`) say what they need (a convolution's forward pass, a Linear layer's input
//! gradient through the activation before it) and the functions here choose the family's
//! kernels, tiles and splits.
//!
//! - [`conv_gemm`]: [`KernelFamily`] (chosen per device on first use), the subgroup and tiled
//!   products ([`conv_gemm::Product`]) and the packing that feeds them (im2col, col2im, taps);
//! - [`conv`]: a convolution's forward pass, input gradient and weight and bias gradients, by the
//!   family's products or the direct kernels of `shaders/conv.wgsl`;
//! - [`linear`]: the same for a Linear layer, among its thin, outer-product and product paths;
//! - [`gemm`], [`split`]: the vec4 product and transposes of the direct family; split
//!   reductions and the [`Workspace`] a network's layers share;
//! - [`shape`]: the conv view of a convolution's geometry.

pub mod conv;
pub mod conv_gemm;
pub mod gemm;
pub mod linear;
pub mod shape;
pub mod split;

pub use crate::gpu::Operands;
pub use crate::gpu::KernelFamily;
pub use split::{Launch, SplitSum, Workspace, ACCUMULATE};

use crate::error::Result;
use crate::gpu::{Gpu, Program, Tensor};
use shape::ConvShape;

/// Whether element-wise layers should walk one (sample, channel) plane per invocation (batch
/// norm's `*_planes` kernels) rather than one value: on the software adapter's family, where an
/// invocation's loop over a plane is cheaper than the lane loop of scattered loads.
pub fn plane_kernels(gpu: &Gpu) -> bool {
    KernelFamily::of(gpu) == KernelFamily::Gemm
}

/// The batch at which kernel families are compared when a device can run more than one.
const FAMILY_TIMING_BATCH: usize = 64;

/// The family `gpu` runs, chosen now if it has not been: the [`KernelFamily::candidates`], timed
/// against each other where there are several (on a GPU: tiled and direct; the choice is kept by
/// the tuner), and kept with the device ([`Gpu::set_choice`]). Networks call it when they are
/// built (`crate::nn::GpuNet::new`), and the examples when they open the device.
pub fn choose_family(gpu: &Gpu) -> KernelFamily {
    // A family named beforehand (GpuOptions::kernels, KernelFamily::on) still gets its operands chosen.
    let f = gpu.choice::<KernelFamily>().unwrap_or_else(|| {
        let families = KernelFamily::candidates(&gpu.device, gpu.info.as_ref());
        let f = KernelFamily::time_families(gpu, &families, FAMILY_TIMING_BATCH).unwrap_or_else(|e| {
            eprintln!("wgpu-gan: timing the kernel families failed ({e}); using the direct kernels");
            KernelFamily::Direct
        });
        gpu.set_choice(f, f.label());
        f
    });
    if f == KernelFamily::Gemm && gpu.choice::<Operands>().is_none() {
        let o = Operands::from_env().map_or_else(|| time_operands(gpu, FAMILY_TIMING_BATCH), Ok).unwrap_or_else(|e| {
            eprintln!("wgpu-gan: timing the product operands failed ({e}); reading them from buffers");
            Operands::Buffers
        });
        gpu.set_choice(o, o.label());
    }
    f
}

/// The faster way for the subgroup products to read their operands on this device
/// ([`Operands`]), for the convolutions of R2's discriminator at `batch`, timed on first use and
/// remembered by the tuner; buffers when tuning is off.
fn time_operands(gpu: &Gpu, batch: usize) -> Result<Operands> {
    let names: Vec<&str> = Operands::ALL.iter().map(|o| o.name()).collect();
    let key = format!("operands r2-convolutions batch={batch}");
    let pick = gpu.tuned(&key, &names, |name| {
        let o = Operands::ALL.into_iter().find(|o| o.name() == name).unwrap_or(Operands::Buffers);
        time_convolutions(&o.on(gpu), batch)
    })?;
    Ok(pick.and_then(|n| Operands::ALL.into_iter().find(|o| o.name() == n)).unwrap_or(Operands::Buffers))
}

impl KernelFamily {
    /// The fastest of `families` on this device for the convolutions of R2's discriminator at
    /// `batch` (each one's forward pass, weight gradient and, for the second, input gradient:
    /// the work every family does differently), timed on first use and remembered by the tuner
    /// ([`crate::gpu::tune`]); the first family when tuning is off.
    pub fn time_families(gpu: &Gpu, families: &[KernelFamily], batch: usize) -> Result<KernelFamily> {
        if families.len() < 2 {
            return Ok(families.first().copied().unwrap_or(KernelFamily::Direct));
        }
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        let key = format!("family r2-convolutions batch={batch}");
        let pick = gpu.tuned(&key, &names, |name| {
            let family = families.iter().copied().find(|f| f.name() == name).unwrap_or(families[0]);
            time_convolutions(&family.on(gpu), batch)
        })?;
        Ok(pick.and_then(|n| families.iter().copied().find(|f| f.name() == n)).unwrap_or(families[0]))
    }
}

/// Seconds the convolutions of R2's discriminator take at `batch` with `gpu`'s family: Conv(1 →
/// 64, 4 × 4, stride 2, padding 1) on 28 × 28 and Conv(64 → 128) on 14 × 14, each forward and
/// weight gradient, and the second's input gradient ([`crate::gpu::tune::time_runs`]).
fn time_convolutions(gpu: &Gpu, batch: usize) -> Result<f64> {
    let conv = |cin: usize, hw: usize, cout: usize| ConvShape { n: batch, cin, h: hw, w: hw, cout, oh: hw / 2, ow: hw / 2, kh: 4, kw: 4, stride: [2; 2], pad: [1; 2], dil: [1; 2] };
    let shapes = [conv(1, 28, 64), conv(64, 14, 128)];
    let parallel = gpu.parallel_invocations();
    let (mut work, mut scratch) = ([1usize; 3], 1usize);
    for s in &shapes {
        let w = conv::work_lens(gpu, s);
        for i in 0..3 {
            work[i] = work[i].max(w[i]);
        }
        scratch = scratch.max(w[3]).max(conv::grads_scratch_len(s, None, parallel));
    }
    let t = |label: &str, len: usize| Tensor::zeros(gpu, &format!("family-timing.{label}"), len);
    let ws = Workspace::new(gpu, "family-timing", scratch, [1, 1], work)?;
    let x = Tensor::from_slice(gpu, "family-timing.x", &crate::rng::uniform_fill(7, 0, shapes[0].x_len(), -1.0, 1.0))?;
    let mut prog = Program::default();
    let mut input = x;
    for (i, s) in shapes.iter().enumerate() {
        let w = Tensor::from_slice(gpu, "family-timing.w", &crate::rng::uniform_fill(8, i as u32, s.w_len(), -0.05, 0.05))?;
        let y = t("y", s.y_len())?;
        let grads = [t("dw", s.w_len())?];
        conv::forward(&mut Launch::new(gpu, &ws, &mut prog), s, &input, &w, None, &y)?;
        conv::grads(&mut Launch::new(gpu, &ws, &mut prog), s, &input, &y, None, &grads, false)?;
        if i == 1 {
            let dx = t("dx", s.x_len())?;
            conv::backward_input(&mut Launch::new(gpu, &ws, &mut prog), s, &y, &w, None, &dx)?;
        }
        input = y;
    }
    crate::gpu::tune::time_runs(gpu, || prog.run(gpu))
}
