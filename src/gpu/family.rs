//! Which family of matrix and convolution kernels a device runs (chosen per device by
//! `ops::choose_family` or named in [`super::GpuOptions::kernels`], kept with it as a
//! [`Gpu::choice`]). The kernels themselves are `ops`'s; this layer only keeps the choice.

use crate::gpu::Gpu;

/// Which matrix-product and convolution kernels a device runs.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, KernelFamily};
/// let gpu = Gpu::new()?;
/// assert!(KernelFamily::Tiled.runs_on(&gpu.device, gpu.info.as_ref())); // any device
/// let direct = KernelFamily::Direct.on(&gpu);
/// assert_eq!(KernelFamily::of(&direct), KernelFamily::Direct);
/// assert!(direct.describe().contains("kernels: direct"));
/// assert!(!KernelFamily::Direct.products() && KernelFamily::Gemm.products());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum KernelFamily {
    /// `shaders/conv.wgsl`: one invocation per 4 × 4 block of outputs, any device.
    Direct,
    /// `ops::conv_gemm`'s packing + subgroup matrix products, for devices with 8-wide subgroups (the
    /// software adapter, llvmpipe, on AVX2 machines).
    Gemm,
    /// `ops::conv_gemm`'s packing with `shaders/tiled.wgsl`'s product: 64 × 64 tiles staged through
    /// workgroup memory by 256 invocations, the shape a real GPU wants. Any device can run it.
    Tiled,
}

impl KernelFamily {
    /// The families a device may run, the likely fastest first: `Gemm` alone when it has
    /// subgroup operations exactly 8 lanes wide (llvmpipe); on any other known adapter `Tiled`
    /// then `Direct`, between which `ops::choose_family` decides by timing them; `Direct` alone on a
    /// device whose adapter is unknown. `WGPU_GAN_KERNELS=direct` or `tiled` names one (any
    /// device runs both).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let gpu = Gpu::new()?;
    /// let c = KernelFamily::candidates(&gpu.device, gpu.info.as_ref());
    /// assert!(!c.is_empty() && c.iter().all(|f| f.runs_on(&gpu.device, gpu.info.as_ref())));
    /// let unknown = KernelFamily::candidates(&gpu.device, None); // a host's device, adapter unknown
    /// assert!(unknown.len() == 1 && unknown[0] != KernelFamily::Gemm);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn candidates(device: &wgpu::Device, info: Option<&wgpu::AdapterInfo>) -> Vec<KernelFamily> {
        let can = KernelFamily::Gemm.runs_on(device, info);
        match std::env::var("WGPU_GAN_KERNELS").as_deref() {
            Ok("direct") => vec![KernelFamily::Direct],
            Ok("tiled") => vec![KernelFamily::Tiled],
            _ if can => vec![KernelFamily::Gemm],
            _ if info.is_some() => vec![KernelFamily::Tiled, KernelFamily::Direct],
            _ => vec![KernelFamily::Direct],
        }
    }

    /// Whether a device can run this family: `Gemm` needs subgroup operations exactly 8 lanes
    /// wide; the others run anywhere.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let gpu = Gpu::new()?;
    /// assert!(KernelFamily::Direct.runs_on(&gpu.device, None));
    /// assert!(!KernelFamily::Gemm.runs_on(&gpu.device, None)); // no adapter info: no subgroup size
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn runs_on(self, device: &wgpu::Device, info: Option<&wgpu::AdapterInfo>) -> bool {
        self != KernelFamily::Gemm || device.features().contains(wgpu::Features::SUBGROUP) && info.is_some_and(|i| i.subgroup_min_size == 8 && i.subgroup_max_size == 8)
    }

    /// The first of [`KernelFamily::candidates`]: the family chosen without timing.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let gpu = Gpu::new()?;
    /// let (device, info) = (&gpu.device, gpu.info.as_ref());
    /// assert_eq!(KernelFamily::choose(device, info), KernelFamily::candidates(device, info)[0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn choose(device: &wgpu::Device, info: Option<&wgpu::AdapterInfo>) -> KernelFamily {
        Self::candidates(device, info)[0]
    }

    /// The family `gpu` runs: its choice if one was made (`ops::choose_family`, which times
    /// the candidates where there are several, or [`KernelFamily::on`]), else the first of the
    /// [`KernelFamily::candidates`].
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let gpu = Gpu::new()?;
    /// let guess = KernelFamily::choose(&gpu.device, gpu.info.as_ref());
    /// assert_eq!(KernelFamily::of(&gpu), guess); // nothing chosen yet
    /// assert_eq!(KernelFamily::of(&KernelFamily::Tiled.on(&gpu)), KernelFamily::Tiled);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn of(gpu: &Gpu) -> KernelFamily {
        gpu.choice::<KernelFamily>().unwrap_or_else(|| Self::choose(&gpu.device, gpu.info.as_ref()))
    }

    /// `gpu` running this family (its own copy of the device's choices; the original keeps its own).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let gpu = Gpu::new()?;
    /// let tiled = KernelFamily::Tiled.on(&gpu);
    /// assert!(tiled.describe().contains("kernels: tiled-gemm"));
    /// assert_eq!(gpu.choice::<KernelFamily>(), None); // the original is unchanged
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn on(self, gpu: &Gpu) -> Gpu {
        gpu.with_choice(self, self.label())
    }

    /// What [`Gpu::describe`] shows.
    pub(crate) fn label(self) -> String {
        format!("kernels: {}", self.name())
    }

    /// Its name in logs and benchmark tables.
    ///
    /// ```
    /// use wgpu_gan::gpu::KernelFamily::{Direct, Gemm, Tiled};
    /// assert_eq!([Direct, Gemm, Tiled].map(|f| f.name()), ["direct", "subgroup-gemm", "tiled-gemm"]);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            KernelFamily::Direct => "direct",
            KernelFamily::Gemm => "subgroup-gemm",
            KernelFamily::Tiled => "tiled-gemm",
        }
    }

    /// Whether convolutions and the larger matrix products go through the packing and products
    /// of `ops::conv_gemm` (Gemm, Tiled) rather than the direct kernels.
    ///
    /// ```
    /// use wgpu_gan::gpu::KernelFamily;
    /// assert!(KernelFamily::Tiled.products() && KernelFamily::Gemm.products());
    /// assert!(!KernelFamily::Direct.products());
    /// ```
    pub fn products(self) -> bool {
        self != KernelFamily::Direct
    }
}
