//! Which family of matrix and convolution kernels a device runs (chosen per device by
//! [`super::choose_family`], kept with it as a [`Gpu::choice`]).

use crate::gpu::Gpu;

/// Which convolution kernels a device runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFamily {
    /// `shaders/conv.wgsl`: one invocation per 4 × 4 block of outputs, any device.
    Direct,
    /// This module: packing + subgroup matrix products, for devices with 8-wide subgroups (the
    /// software adapter, llvmpipe, on AVX2 machines).
    Gemm,
    /// This module's packing with `shaders/tiled.wgsl`'s product: 64 × 64 tiles staged through
    /// workgroup memory by 256 invocations, the shape a real GPU wants. Any device can run it.
    Tiled,
}

impl KernelFamily {
    /// The families a device may run, the likely fastest first: `Gemm` alone when it has
    /// subgroup operations exactly 8 lanes wide (llvmpipe); on any other known adapter `Tiled`
    /// then `Direct`, between which [`super::choose_family`] decides by timing them; `Direct` alone on a
    /// device whose adapter is unknown. `WGPU_GAN_KERNELS=direct` or `tiled` names one (any
    /// device runs both).
    pub fn candidates(device: &wgpu::Device, info: Option<&wgpu::AdapterInfo>) -> Vec<KernelFamily> {
        let can = device.features().contains(wgpu::Features::SUBGROUP) && info.is_some_and(|i| i.subgroup_min_size == 8 && i.subgroup_max_size == 8);
        match std::env::var("WGPU_GAN_KERNELS").as_deref() {
            Ok("direct") => vec![KernelFamily::Direct],
            Ok("tiled") => vec![KernelFamily::Tiled],
            _ if can => vec![KernelFamily::Gemm],
            _ if info.is_some() => vec![KernelFamily::Tiled, KernelFamily::Direct],
            _ => vec![KernelFamily::Direct],
        }
    }

    /// The first of [`KernelFamily::candidates`]: the family chosen without timing.
    pub fn choose(device: &wgpu::Device, info: Option<&wgpu::AdapterInfo>) -> KernelFamily {
        Self::candidates(device, info)[0]
    }

    /// The family `gpu` runs: its choice if one was made ([`super::choose_family`], which times
    /// the candidates where there are several, or [`KernelFamily::on`]), else the first of the
    /// [`KernelFamily::candidates`].
    pub fn of(gpu: &Gpu) -> KernelFamily {
        gpu.choice::<KernelFamily>().unwrap_or_else(|| Self::choose(&gpu.device, gpu.info.as_ref()))
    }

    /// `gpu` running this family (its own copy of the device's choices; the original keeps its own).
    pub fn on(self, gpu: &Gpu) -> Gpu {
        gpu.with_choice(self, self.label())
    }

    /// What [`Gpu::describe`] shows.
    pub(super) fn label(self) -> String {
        format!("kernels: {}", self.name())
    }

    pub fn name(self) -> &'static str {
        match self {
            KernelFamily::Direct => "direct",
            KernelFamily::Gemm => "subgroup-gemm",
            KernelFamily::Tiled => "tiled-gemm",
        }
    }

    /// Whether convolutions and the larger matrix products go through the packing and products
    /// of [`super::conv_gemm`] (Gemm, Tiled) rather than the direct kernels.
    pub fn products(self) -> bool {
        self != KernelFamily::Direct
    }
}

/// How the subgroup products ([`KernelFamily::Gemm`], `shaders/conv_gemm.wgsl`) read their two
/// operands: from the storage buffers, or from texture copies of them made before each launch
/// (`shaders/conv_gemm_textures.wgsl`). On llvmpipe a storage load is a loop over the 8 lanes
/// with a branch each; with AVX-512 code each lane's value goes into its register with one
/// masked broadcast, without it (AVX2, every AMD Zen before Zen 4, Intel client CPUs) through a
/// store and reload of the whole vector, 7× slower per vec4; a texel fetch is one branch-free
/// gather either way (docs/BENCHMARKS.md, issue 24). The copies cost memory traffic, so which is
/// faster depends on the CPU: [`super::choose_family`] times both (`WGPU_GAN_OPERANDS=buffers`
/// or `textures` names one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operands {
    Buffers,
    Textures,
}

impl Operands {
    pub const ALL: [Operands; 2] = [Operands::Buffers, Operands::Textures];

    /// The operands `gpu` reads: its choice, else buffers.
    pub fn of(gpu: &Gpu) -> Operands {
        gpu.choice::<Operands>().unwrap_or(Operands::Buffers)
    }

    /// Whether a product on `gpu` reads `operands` through textures: its choice, where every
    /// operand fits in one ([`crate::gpu::mirror_fits`]).
    pub fn read_as_textures(gpu: &Gpu, operands: &[&wgpu::Buffer]) -> bool {
        Self::of(gpu) == Operands::Textures && operands.iter().all(|b| crate::gpu::mirror_fits(&gpu.device, b.size()))
    }

    /// The one `WGPU_GAN_OPERANDS` names, if it names one.
    pub fn from_env() -> Option<Operands> {
        match std::env::var("WGPU_GAN_OPERANDS").as_deref() {
            Ok("buffers") => Some(Operands::Buffers),
            Ok("textures") => Some(Operands::Textures),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Operands::Buffers => "buffers",
            Operands::Textures => "textures",
        }
    }

    /// `gpu` reading operands this way (its own copy of the device's choices).
    pub fn on(self, gpu: &Gpu) -> Gpu {
        gpu.with_choice(self, self.label())
    }

    pub(super) fn label(self) -> String {
        format!("operands: {}", self.name())
    }
}

