//! Choosing the adapter and the limits: the `--backend`, `--adapter` and `--limits` flags every
//! example takes, and the same choices for a library user ([`GpuOptions`]).

use crate::error::{Error, Result};

/// Which graphics API wgpu goes through.
///
/// ```
/// use wgpu_gan::gpu::{Backend, Gpu, GpuOptions};
/// let gpu = Gpu::with_options(&GpuOptions { backend: Backend::Auto, ..GpuOptions::from_env() })?;
/// let info = gpu.info.clone().unwrap();
/// let api = match info.backend {
///     wgpu::Backend::Vulkan => Backend::Vulkan,
///     wgpu::Backend::Metal => Backend::Metal,
///     wgpu::Backend::Dx12 => Backend::Dx12,
///     _ => Backend::Gl,
/// };
/// // Naming the API that `Auto` found opens the same adapter.
/// let again = Gpu::with_options(&GpuOptions { backend: api, ..GpuOptions::from_env() })?;
/// assert_eq!(again.info.unwrap().name, info.name);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Backend {
    /// Whatever is present, preferring a hardware GPU, then Vulkan, Metal, DX12 and GL in that order
    /// (`WGPU_BACKEND` narrows the search as in wgpu).
    #[default]
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl Backend {
    fn mask(self) -> wgpu::Backends {
        match self {
            Backend::Auto => wgpu::Backends::all().with_env(),
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
        }
    }
}

/// Which limits the device is opened with.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, GpuOptions, LimitsChoice};
/// assert_eq!(LimitsChoice::default(), LimitsChoice::Adapter);
/// let gpu = Gpu::with_options(&GpuOptions { limits: LimitsChoice::Default, ..GpuOptions::from_env() })?;
/// let portable = wgpu::Limits::defaults().max_storage_buffer_binding_size;
/// assert_eq!(gpu.device.limits().max_storage_buffer_binding_size, portable);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum LimitsChoice {
    /// Everything the adapter offers (the default: larger batches and layers fit).
    #[default]
    Adapter,
    /// wgpu's portable defaults (the WebGPU limits every native adapter meets): proves a run
    /// would fit on any Vulkan, Metal or DX12 GPU.
    Default,
    /// wgpu's downlevel defaults (old GL/DX11-class devices). The kernels need more storage
    /// buffers per stage than these allow; opening works, building a kernel that needs more
    /// fails with a message naming it.
    Downlevel,
}

/// How [`super::Gpu::with_options`] picks its adapter and device.
///
/// ```
/// use wgpu_gan::{gpu::{Gpu, GpuOptions}, Error};
/// let none = GpuOptions { adapter_name: Some("no such adapter".into()), ..GpuOptions::from_env() };
/// assert!(matches!(Gpu::with_options(&none), Err(Error::NoAdapter(_)))); // lists those found
/// let o = GpuOptions { no_tune: true, no_subgroups: true, ..GpuOptions::from_env() };
/// let gpu = Gpu::with_options(&o)?;
/// assert!(!gpu.device.features().contains(wgpu::Features::SUBGROUP));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuOptions {
    pub backend: Backend,
    pub limits: LimitsChoice,
    /// Only adapters whose name contains this (case-insensitive), e.g. "nvidia" or "llvmpipe".
    pub adapter_name: Option<String>,
    /// Skip kernel autotuning ([`super::tune`]): every kernel takes its built-in guess.
    pub no_tune: bool,
    /// Open the device without the SUBGROUP feature even where the adapter has it, as on GL and
    /// on WebGPU implementations without subgroups: the kernels then run the families that need
    /// no optional feature (tiled or direct), and CI tests that path on the software adapter.
    pub no_subgroups: bool,
    /// Where tuned kernel choices are kept (`None`: the user's cache directory, see
    /// [`super::tune`]).
    pub tune_dir: Option<std::path::PathBuf>,
    /// Which family of matrix and convolution kernels to run (`None`: the fastest that the
    /// device can run, timed on first use where there are several). Opening fails when the
    /// device cannot run the one named (`Gemm` needs 8-wide subgroups).
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, GpuOptions, KernelFamily};
    /// let gpu = Gpu::with_options(&GpuOptions { kernels: Some(KernelFamily::Tiled), ..GpuOptions::from_env() })?;
    /// assert_eq!(KernelFamily::of(&gpu), KernelFamily::Tiled);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub kernels: Option<super::KernelFamily>,
    /// Among the matching adapters of the best kind (see `pick_adapter`), the one at this index
    /// (modulo their number): a data-parallel run gives each rank on a machine its own GPU.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, GpuOptions};
    /// let first = Gpu::with_options(&GpuOptions::from_env())?;
    /// let again = Gpu::with_options(&GpuOptions { adapter_index: Some(0), ..GpuOptions::from_env() })?;
    /// assert_eq!(first.describe(), again.describe());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub adapter_index: Option<usize>,
}

impl GpuOptions {
    /// The defaults with `WGPU_ADAPTER_NAME` honoured, as wgpu's own helpers do, and
    /// `WGPU_GAN_SUBGROUPS=off` (or `0`, `no`, `false`) setting [`GpuOptions::no_subgroups`].
    ///
    /// ```
    /// use wgpu_gan::gpu::GpuOptions;
    /// std::env::set_var("WGPU_GAN_SUBGROUPS", "off");
    /// std::env::set_var("WGPU_ADAPTER_NAME", "llvmpipe");
    /// let o = GpuOptions::from_env();
    /// assert!(o.no_subgroups && o.adapter_name.as_deref() == Some("llvmpipe"));
    /// assert_eq!(o.kernels, None); // the rest as `GpuOptions::default()`
    /// ```
    pub fn from_env() -> GpuOptions {
        GpuOptions {
            adapter_name: std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty()),
            no_subgroups: subgroups_off_by_env(),
            ..Default::default()
        }
    }

    /// The optional features to request of `adapter`: subgroups (unless turned off) and timestamp
    /// queries (kernel_bench times each dispatch with them) where it has them; nothing else.
    pub(super) fn features(&self, adapter: &wgpu::Adapter) -> wgpu::Features {
        let mut want = wgpu::Features::TIMESTAMP_QUERY;
        if !self.no_subgroups {
            want |= wgpu::Features::SUBGROUP;
        }
        adapter.features() & want
    }
}

/// `WGPU_GAN_SUBGROUPS=off` (or `0`, `no`, `false`).
fn subgroups_off_by_env() -> bool {
    super::tune::switched_off("WGPU_GAN_SUBGROUPS")
}

fn describe(i: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
}

/// Hardware first; among equals, Vulkan, Metal, DX12, then GL (so a missing Vulkan driver does not
/// silently hand the work to a GL software rasteriser when a Vulkan one is installed).
fn rank(i: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match i.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = match i.backend {
        wgpu::Backend::Vulkan => 0,
        wgpu::Backend::Metal => 1,
        wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 3,
        _ => 4,
    };
    (kind, api)
}

/// The adapter `o` asks for, or an error listing every adapter that was found.
pub(super) async fn pick_adapter(o: &GpuOptions) -> Result<(wgpu::Instance, wgpu::Adapter)> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = o.backend.mask();
    let instance = wgpu::Instance::new(desc);
    let mut adapters = instance.enumerate_adapters(o.backend.mask()).await;
    if let Some(name) = &o.adapter_name {
        let want = name.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&want));
    }
    adapters.sort_by_key(|a| rank(&a.get_info()));
    if let (Some(i), Some(best)) = (o.adapter_index, adapters.first().map(|a| rank(&a.get_info()))) {
        adapters.retain(|a| rank(&a.get_info()) == best);
        let i = i % adapters.len();
        adapters.rotate_left(i);
    }
    match adapters.into_iter().next() {
        Some(a) => Ok((instance, a)),
        None => {
            let what = match (&o.backend, &o.adapter_name) {
                (Backend::Auto, None) => "no adapter".to_string(),
                (b, None) => format!("no {b:?} adapter"),
                (Backend::Auto, Some(n)) => format!("no adapter named like {n:?}"),
                (b, Some(n)) => format!("no {b:?} adapter named like {n:?}"),
            };
            // Everything present on any backend, so that the message says what would work.
            let mut all = wgpu::InstanceDescriptor::new_without_display_handle();
            all.backends = wgpu::Backends::all();
            let found: Vec<String> = wgpu::Instance::new(all).enumerate_adapters(wgpu::Backends::all()).await.iter().map(|a| describe(&a.get_info())).collect();
            let list = if found.is_empty() { "none".to_string() } else { found.join("; ") };
            Err(Error::NoAdapter(format!("{what}; found: {list}")))
        }
    }
}

/// The limits to request under `choice`, checked against what the adapter offers.
pub(super) fn limits(choice: LimitsChoice, adapter: &wgpu::Adapter) -> Result<wgpu::Limits> {
    let offered = adapter.limits();
    let wanted = match choice {
        LimitsChoice::Adapter => return Ok(offered),
        LimitsChoice::Default => wgpu::Limits::defaults(),
        LimitsChoice::Downlevel => wgpu::Limits::downlevel_defaults(),
    };
    let mut short = Vec::new();
    wanted.check_limits_with_fail_fn(&offered, false, |name, want, have| short.push(format!("{name} {want} (adapter: {have})")));
    if !short.is_empty() {
        return Err(Error::Device(format!("the {choice:?} limits ask for more than {} offers: {}", describe(&adapter.get_info()), short.join(", "))));
    }
    Ok(wanted)
}
