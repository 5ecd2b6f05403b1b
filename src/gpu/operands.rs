//! [`Operands`]: whether kernels read buffers through texture copies on this device.

use super::Gpu;

/// How kernels read the storage buffers their declarations allow to be read as textures
/// ([`super::Bindings::TEXTURES`]): from the buffers, or from texture copies of them made before
/// a launch (skipped where a launch earlier in the same submission copied the same range and
/// nothing wrote it since; [`super::bindings::Access::Texture`]). On llvmpipe a storage load is a loop over
/// the 8 lanes with a branch each; with AVX-512 code each lane's value goes into its register
/// with one masked broadcast, without it (AVX2: every AMD Zen before Zen 4, Intel client CPUs)
/// through a store and reload of the whole vector, 7× slower per vec4; a load from a read-only
/// storage texture is one branch-free gather either way, 20× faster than the buffer's under AVX2
/// (docs/BENCHMARKS.md, issue 24). The copies cost memory traffic,
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
    /// Both ways, for tests and benchmarks that run each.
    ///
    /// ```
    /// use wgpu_gan::gpu::Operands;
    /// let names: Vec<&str> = Operands::ALL.iter().map(|o| o.name()).collect();
    /// assert_eq!(names, ["buffers", "textures"]);
    /// ```
    pub const ALL: [Operands; 2] = [Operands::Buffers, Operands::Textures];

    /// The operands `gpu` reads: its choice, else buffers.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Operands};
    /// let gpu = Gpu::new()?;
    /// assert_eq!(Operands::of(&gpu), Operands::Buffers); // none chosen yet
    /// assert_eq!(Operands::of(&Operands::Textures.on(&gpu)), Operands::Textures);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn of(gpu: &Gpu) -> Operands {
        gpu.choice::<Operands>().unwrap_or(Operands::Buffers)
    }

    /// The one `WGPU_GAN_OPERANDS` names, if it names one.
    ///
    /// ```
    /// use wgpu_gan::gpu::Operands;
    /// std::env::set_var("WGPU_GAN_OPERANDS", "textures");
    /// assert_eq!(Operands::from_env(), Some(Operands::Textures));
    /// std::env::set_var("WGPU_GAN_OPERANDS", "fastest");
    /// assert_eq!(Operands::from_env(), None); // not a name: timed instead
    /// ```
    pub fn from_env() -> Option<Operands> {
        match std::env::var("WGPU_GAN_OPERANDS").as_deref() {
            Ok("buffers") => Some(Operands::Buffers),
            Ok("textures") => Some(Operands::Textures),
            _ => None,
        }
    }

    /// Its name, as `WGPU_GAN_OPERANDS` takes it.
    ///
    /// ```
    /// use wgpu_gan::gpu::Operands;
    /// assert_eq!((Operands::Buffers.name(), Operands::Textures.name()), ("buffers", "textures"));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Operands::Buffers => "buffers",
            Operands::Textures => "textures",
        }
    }

    /// `gpu` reading operands this way (its own copy of the device's choices).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Operands};
    /// let gpu = Gpu::new()?;
    /// let tex = Operands::Textures.on(&gpu);
    /// assert!(tex.describe().contains("operands: textures"));
    /// assert_eq!(gpu.choice::<Operands>(), None); // the original keeps its own
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn on(self, gpu: &Gpu) -> Gpu {
        gpu.with_choice(self, self.label())
    }

    /// What [`Gpu::describe`] shows for it.
    ///
    /// ```
    /// assert_eq!(wgpu_gan::gpu::Operands::Buffers.label(), "operands: buffers");
    /// ```
    pub fn label(self) -> String {
        format!("operands: {}", self.name())
    }
}

