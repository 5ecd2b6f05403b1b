//! [`Operands`]: whether kernels read buffers through texture copies on this device.

use super::Gpu;

/// How kernels read the storage buffers their declarations allow to be read as textures
/// ([`super::Bindings::TEXTURES`]): from the buffers, or from texture copies of them made before
/// each launch ([`super::bindings::Access::Texture`]). On llvmpipe a storage load is a loop over
/// the 8 lanes with a branch each; with AVX-512 code each lane's value goes into its register
/// with one masked broadcast, without it (AVX2: every AMD Zen before Zen 4, Intel client CPUs)
/// through a store and reload of the whole vector, 7× slower per vec4; a texel fetch is one
/// branch-free gather either way (docs/BENCHMARKS.md, issue 24). The copies cost memory traffic,
/// so which is faster depends on the CPU: `ops::choose_family` times both
/// (`WGPU_GAN_OPERANDS=buffers` or `textures` names one). Kept with the device as a
/// [`Gpu::choice`].
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Operands};
/// let gpu = Gpu::new()?;
/// let tex = Operands::Textures.on(&gpu);
/// assert_eq!(Operands::of(&tex), Operands::Textures);
/// assert_eq!(Operands::of(&gpu), Operands::Buffers); // the original keeps its own (none yet)
/// assert_eq!(Operands::ALL.map(Operands::name), ["buffers", "textures"]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
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

    pub fn label(self) -> String {
        format!("operands: {}", self.name())
    }
}

