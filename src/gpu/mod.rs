//! The GPU runtime: a device and queue (created here or borrowed from the host application),
//! f32 tensors in storage buffers, a cache of compute pipelines with explicit bind group layouts,
//! prebuilt dispatches that record into any compute pass, and asynchronous readback.

#[doc(hidden)]
pub mod bindings;
mod family;
#[doc(hidden)]
pub mod budget;
mod kernel;
mod select;
mod tensor;
#[doc(hidden)]
pub mod tune;
pub mod operands;

pub use select::{Backend, GpuOptions, LimitsChoice};
pub use bindings::{Arg, AsArg};
#[doc(hidden)]
pub use bindings::{field_type, Access, Bindings, Field, FieldType, Slot, Uniform};
pub use operands::Operands;
pub use kernel::{Dispatch, Partials, Program};
#[doc(hidden)]
pub use kernel::{grid, mirror_fits, source, texture_file, texture_variant, validate, Kernel, MIRROR_WIDTH, PRELUDE, SHADERS, TEXTURE_TYPE};
pub use tensor::{fetch, Block, CpuTensor, Tensor};
pub(crate) use tensor::read_range_async;
pub use family::KernelFamily;

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A device and queue plus what this crate keeps beside them (adapter description, pipelines).
/// Cheap to clone.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Tensor};
/// let gpu = Gpu::new()?;
/// println!("{}", gpu.describe()); // adapter, backend, driver
/// let t = Tensor::new(&gpu, &[3], &[1.0, 2.0, 3.0])?;
/// let clone = gpu.clone(); // the same device and queue
/// assert_eq!(t.read(&clone)?, [1.0, 2.0, 3.0]);
/// assert!(gpu.check_size("a buffer of 2⁶⁴ bytes", u64::MAX).is_err());
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone)]
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Adapter name and backend as the driver reports them (empty when borrowed without one).
    pub info: Option<wgpu::AdapterInfo>,
    /// Choices the layers above make for this device and keep with it (the kernel family of
    /// `ops::family`), keyed by their own types: this layer knows none of them.
    choices: Arc<Mutex<Choices>>,
    kernels: Arc<Mutex<HashMap<(&'static str, &'static str), Arc<Kernel>>>>,
    /// Kernel choices timed on this device ([`tune`]).
    tuner: Arc<Mutex<tune::Tuner>>,
    /// Errors wgpu reported outside any error scope (a device this crate opened only; see
    /// [`Gpu::take_uncaptured`]).
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Textures that launches copy the buffers they read as textures into, before they run
    /// ([`Gpu::mirror`]), by (binding, power-of-two height, source: 0 for a shared one), and the
    /// bytes of those kept for one source.
    mirrors: Arc<Mutex<(HashMap<(u32, u32, u64), wgpu::Texture>, u64)>>,
}

/// The largest buffer range that gets a texture mirror of its own ([`Gpu::mirror`]).
pub(crate) const OWN_MIRROR_MAX: u64 = 4 << 20;
/// The bytes of texture mirrors a [`Gpu`]'s map keeps for one buffer range each before it
/// forgets them ([`Gpu::mirror`]).
pub(crate) const OWN_MIRRORS_BUDGET: u64 = 128 << 20;

/// See [`Gpu::checked`]; for code that has a device but no [`Gpu`] yet.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn capture<T>(device: &wgpu::Device, what: &str, build: impl FnOnce() -> T) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let invalid = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = build();
    // Native backends resolve these at once; scopes are popped innermost first.
    let invalid = pollster::block_on(invalid.pop());
    let oom = pollster::block_on(oom.pop());
    match invalid.or(oom) {
        None => Ok(out),
        Some(wgpu::Error::OutOfMemory { .. }) => Err(Error::Limit(format!("{what}: the device is out of memory"))),
        Some(e) => Err(Error::Gpu { what: what.to_string(), message: describe_error(&e) }),
    }
}

/// In a browser an error scope resolves only after control returns to the page, and nothing may
/// block until it does: what goes wrong there reaches the uncaptured-error handler instead, and
/// [`Gpu::wait`] (which every readback calls first, see [`fetch`]) returns it.
#[cfg(target_arch = "wasm32")]
pub(crate) fn capture<T>(_device: &wgpu::Device, _what: &str, build: impl FnOnce() -> T) -> Result<T> {
    Ok(build())
}

/// wgpu's description of an error (its `Display` says only which kind it is).
fn describe_error(e: &wgpu::Error) -> String {
    match e {
        // One line: wgpu's header lines ("Validation Error", "Caused by:") dropped, the causes kept.
        wgpu::Error::Validation { description, .. } | wgpu::Error::Internal { description, .. } => description
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "Validation Error" && *l != "Caused by:")
            .collect::<Vec<_>>()
            .join("; "),
        wgpu::Error::OutOfMemory { .. } => "out of memory".to_string(),
    }
}

/// Values of any type, one per type, each with a label for [`Gpu::describe`].
type Choices = HashMap<std::any::TypeId, (Arc<dyn std::any::Any + Send + Sync>, String)>;

/// Adapter, backend, driver and a hash of the tuned kernels' source (with the type a texture
/// variant reads through, which the operands choice was timed on): a choice made for one of
/// them says nothing about another. A software adapter's speed depends on the CPU's vector
/// instructions, which its name does not tell (llvmpipe says "256 bits" on AVX2 and AVX-512
/// machines alike): for one, the CPU's AVX-512 and AVX2 support and Mesa's override of them
/// (`GALLIUM_OVERRIDE_CPU_CAPS`) are part of the identity too.
fn identity(i: &wgpu::AdapterInfo) -> String {
    let src = source("conv_gemm").unwrap_or_default() + &source("tiled").unwrap_or_default() + kernel::TEXTURE_TYPE;
    let cpu = if i.device_type == wgpu::DeviceType::Cpu { format!(" cpu {}", cpu_caps()) } else { String::new() };
    format!("{} {:?} {} {} kernels {:016x}{cpu}", i.name, i.backend, i.driver, i.driver_info, tune::fnv1a(&src))
}

/// The vector instructions a software adapter may generate on this CPU, as a short tag.
fn cpu_caps() -> String {
    #[cfg(target_arch = "x86_64")]
    let caps = format!("avx512f={} avx2={}", std::arch::is_x86_feature_detected!("avx512f"), std::arch::is_x86_feature_detected!("avx2"));
    #[cfg(not(target_arch = "x86_64"))]
    let caps = std::env::consts::ARCH.to_string();
    match std::env::var("GALLIUM_OVERRIDE_CPU_CAPS") {
        Ok(o) => format!("{caps} override={o}"),
        Err(_) => caps,
    }
}

impl Gpu {
    /// Opens the best adapter wgpu finds (a hardware GPU before a software one; Vulkan, Metal,
    /// DX12, then GL), honouring `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`, with the adapter's real
    /// limits rather than the conservative defaults.
    ///
    /// ```
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let info = gpu.info.as_ref().expect("opened here: the adapter is known");
    /// assert!(gpu.describe().starts_with(&info.name));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new() -> Result<Gpu> {
        Self::with_options(&GpuOptions::from_env())
    }

    /// Opens the adapter and limits that `o` asks for; with no such adapter, an error that lists
    /// the adapters that were found.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, GpuOptions, LimitsChoice};
    /// let o = GpuOptions { limits: LimitsChoice::Default, ..GpuOptions::from_env() };
    /// let gpu = Gpu::with_options(&o)?;
    /// assert!(gpu.check_size("a 256 MiB buffer", 256 << 20).is_err()); // the portable limit: 128 MiB
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_options(o: &GpuOptions) -> Result<Gpu> {
        pollster::block_on(Self::with_options_async(o))
    }

    /// [`Gpu::new`] without blocking, as a browser needs it (its adapter and device arrive
    /// asynchronously).
    ///
    /// ```
    /// let gpu = pollster::block_on(wgpu_gan::gpu::Gpu::new_async())?; // in a page: .await
    /// let t = wgpu_gan::gpu::Tensor::new(&gpu, &[2], &[1.0, 2.0])?;
    /// assert_eq!(t.read(&gpu)?, [1.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn new_async() -> Result<Gpu> {
        Self::with_options_async(&GpuOptions::from_env()).await
    }

    /// [`Gpu::with_options`] without blocking.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, GpuOptions, KernelFamily};
    /// let o = GpuOptions { kernels: Some(KernelFamily::Direct), ..GpuOptions::from_env() };
    /// let gpu = pollster::block_on(Gpu::with_options_async(&o))?;
    /// assert_eq!(KernelFamily::of(&gpu), KernelFamily::Direct);
    /// assert!(gpu.describe().contains("kernels: direct"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub async fn with_options_async(o: &GpuOptions) -> Result<Gpu> {
        let (_instance, adapter) = select::pick_adapter(o).await?;
        let info = adapter.get_info();
        let required_limits = select::limits(o.limits, &adapter)?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-gan"),
                // Subgroups where the adapter has them and `o` allows (the software adapter's
                // kernel family needs them, src/ops/conv_gemm.rs) and timestamp queries.
                required_features: o.features(&adapter),
                required_limits,
                experimental_features: Default::default(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Device(e.to_string()))?;
        // No tuning in a browser: timing needs a clock and a device that can be waited on.
        let no_tune = o.no_tune || tune::off_by_env() || cfg!(target_arch = "wasm32");
        let tuner = tune::Tuner::new(no_tune, Some(&identity(&info)), o.tune_dir.clone());
        // wgpu's default handler panics on an error no scope caught; keep it instead, so that
        // `wait` and readbacks return it as an error (the builders catch their own with scopes).
        let uncaptured: Arc<Mutex<Vec<String>>> = Default::default();
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(describe_error(&e));
            }
        }));
        let gpu = Gpu { device, queue, info: Some(info), choices: Default::default(), kernels: Default::default(), tuner: Arc::new(Mutex::new(tuner)), uncaptured, mirrors: Default::default() };
        if let Some(f) = o.kernels {
            if !f.runs_on(&gpu.device, gpu.info.as_ref()) {
                return Err(Error::Device(format!("{}: the {} kernels (--kernels gemm) need subgroup operations 8 lanes wide, which this device does not offer", gpu.describe(), f.name())));
            }
            gpu.set_choice(f, f.label());
        }
        Ok(gpu)
    }

    /// Uses a device and queue that the host application already owns. Everything this crate
    /// creates lives on that device, and its programs can be recorded into the host's own passes.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, Tensor};
    /// let app = Gpu::new()?;                  // (stands for your application's device and queue)
    /// let gpu = Gpu::from_device(app.device.clone(), app.queue.clone());
    /// let t = Tensor::new(&gpu, &[2], &[1.0, 2.0])?;
    /// assert_eq!(t.read(&app)?, [1.0, 2.0]);  // the same device
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Gpu {
        // Without adapter information there is nothing to key choices on: no tuning.
        let tuner = tune::Tuner::new(true, None, None);
        // The host application's device keeps the host's own uncaptured-error handler.
        Gpu { device, queue, info: None, choices: Default::default(), kernels: Default::default(), tuner: Arc::new(Mutex::new(tuner)), uncaptured: Default::default(), mirrors: Default::default() }
    }

    /// This device with another tuner (a test's own cache directory, or tuning turned off).
    ///
    /// ```
    /// use wgpu_gan::gpu::{tune::Tuner, Gpu};
    /// let gpu = Gpu::new()?;
    /// let dir = std::env::temp_dir().join(format!("with_tuner{}", std::process::id()));
    /// let id = gpu.identity().unwrap();
    /// let g = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
    /// let pick = g.tuned("demo", &["a", "b"], |c| Ok(if c == "b" { 1.0 } else { 2.0 }))?;
    /// assert_eq!(pick.as_deref(), Some("b")); // the faster, kept in a file in `dir`
    /// assert!(!gpu.with_tuner(Tuner::new(true, None, None)).tuning()); // tuning off
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_tuner(mut self, tuner: tune::Tuner) -> Gpu {
        self.tuner = Arc::new(Mutex::new(tuner));
        self
    }

    /// What tuning choices are keyed on: adapter, driver, and the kernels' source.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// let gpu = Gpu::new()?;
    /// let id = gpu.identity().expect("an adapter this crate opened");
    /// assert!(id.starts_with(&gpu.info.as_ref().unwrap().name));
    /// assert_eq!(Gpu::from_device(gpu.device.clone(), gpu.queue.clone()).identity(), None);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn identity(&self) -> Option<String> {
        self.info.as_ref().map(identity)
    }

    /// "name (backend, type, driver; choices)" for logs; every example prints it first.
    ///
    /// ```
    /// use wgpu_gan::gpu::{Gpu, KernelFamily};
    /// let app = Gpu::new()?;
    /// let host = Gpu::from_device(app.device.clone(), app.queue.clone());
    /// assert_eq!(host.describe(), "host-provided device");
    /// assert_eq!(KernelFamily::Direct.on(&host).describe(), "host-provided device; kernels: direct");
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn describe(&self) -> String {
        let mut labels: Vec<String> = self.choices.lock().map(|c| c.values().map(|v| v.1.clone()).collect()).unwrap_or_default();
        labels.sort();
        let chosen = if labels.is_empty() { String::new() } else { format!("; {}", labels.join("; ")) };
        match &self.info {
            // A browser gives no name or driver (WebGPU keeps them from pages).
            Some(i) if i.name.is_empty() && i.driver.is_empty() => format!("an unnamed adapter ({:?}, {:?}{chosen})", i.backend, i.device_type),
            Some(i) => format!("{} ({:?}, {:?}, driver {} {}{chosen})", i.name, i.backend, i.device_type, i.driver, i.driver_info),
            None => format!("host-provided device{chosen}"),
        }
    }

    /// The value of type `T` chosen for this device ([`Gpu::set_choice`]), if any.
    ///
    /// ```
    /// #[derive(Clone, Copy, Debug, PartialEq)]
    /// struct Batch(u32);
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// assert_eq!(gpu.choice::<Batch>(), None);
    /// gpu.set_choice(Batch(8), "batch 8".into());
    /// assert_eq!(gpu.choice::<Batch>(), Some(Batch(8)));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn choice<T: Copy + Send + Sync + 'static>(&self) -> Option<T> {
        let c = self.choices.lock().ok()?;
        c.get(&std::any::TypeId::of::<T>()).and_then(|v| v.0.downcast_ref::<T>().copied())
    }

    /// Keeps `value` as this device's choice of type `T`, for every clone of it that has not
    /// taken its own ([`Gpu::with_choice`]); `label` is what [`Gpu::describe`] shows.
    ///
    /// ```
    /// #[derive(Clone, Copy, Debug, PartialEq)]
    /// struct Width(u32);
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let clone = gpu.clone();
    /// gpu.set_choice(Width(16), "width 16".into());
    /// assert_eq!(clone.choice::<Width>(), Some(Width(16))); // clones share the choices
    /// assert!(clone.describe().contains("width 16"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_choice<T: Copy + Send + Sync + 'static>(&self, value: T, label: String) {
        if let Ok(mut c) = self.choices.lock() {
            c.insert(std::any::TypeId::of::<T>(), (Arc::new(value), label));
        }
    }

    /// This device with its own copy of the choices and `value` as its choice of type `T` (a test
    /// running one kernel family, the timing of a candidate); the original keeps its own.
    ///
    /// ```
    /// #[derive(Clone, Copy, Debug, PartialEq)]
    /// struct Width(u32);
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let own = gpu.with_choice(Width(16), "width 16".into());
    /// assert_eq!((own.choice::<Width>(), gpu.choice::<Width>()), (Some(Width(16)), None));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_choice<T: Copy + Send + Sync + 'static>(&self, value: T, label: String) -> Gpu {
        let mut g = self.clone();
        let copy = self.choices.lock().map(|c| c.clone()).unwrap_or_default();
        g.choices = Arc::new(Mutex::new(copy));
        g.set_choice(value, label);
        g
    }

    /// The compute pipeline for `entry` in shader `file` (a name in [`SHADERS`]), built on first
    /// use and cached. Launches go through [`Gpu::pipeline`], which also checks their bindings.
    ///
    /// ```
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let k = gpu.kernel("activation", "relu_forward")?;
    /// assert_eq!(k.name, "activation::relu_forward");
    /// assert!(std::sync::Arc::ptr_eq(&k, &gpu.kernel("activation", "relu_forward")?)); // cached
    /// assert!(gpu.kernel("activation", "no_such_entry").is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn kernel(&self, file: &'static str, entry: &'static str) -> Result<Arc<Kernel>> {
        let mut cache = self.kernels.lock().expect("kernel cache poisoned");
        if let Some(k) = cache.get(&(file, entry)) {
            return Ok(k.clone());
        }
        let k = Arc::new(Kernel::build(&self.device, file, entry)?);
        cache.insert((file, entry), k.clone());
        Ok(k)
    }

    /// The pipeline of `entry` for the bindings `B` declares, checked against the WGSL when it is
    /// built (see [`bindings`]).
    ///
    /// ```
    /// use wgpu_gan::{gpu::Gpu, nn::activation::ActForward};
    /// let gpu = Gpu::new()?;
    /// assert_eq!(gpu.pipeline::<ActForward>("tanh_forward")?.name, "activation::tanh_forward");
    /// assert!(gpu.pipeline::<ActForward>("tanh_backward").is_err()); // not an entry it declares
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn pipeline<B: Bindings>(&self, entry: &'static str) -> Result<Arc<Kernel>> {
        self.pipeline_for::<B>(entry, false)
    }

    /// [`Gpu::pipeline`], or with `textures` its variant that reads the bindings
    /// [`Bindings::TEXTURES`] names through texture copies ([`kernel::texture_variant`]).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Access, Gpu}, optim::AdamStep};
    /// let gpu = Gpu::new()?;
    /// let access = |textures: bool| -> Result<Access, wgpu_gan::Error> {
    ///     let k = gpu.pipeline_for::<AdamStep>("adam_step", textures)?;
    ///     Ok(k.reflected.slots.iter().find(|s| s.name == "grad").unwrap().access)
    /// };
    /// assert_eq!((access(false)?, access(true)?), (Access::Read, Access::Texture));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn pipeline_for<B: Bindings>(&self, entry: &'static str, textures: bool) -> Result<Arc<Kernel>> {
        if !B::ENTRIES.contains(&entry) {
            return Err(Error::Binding { kernel: format!("{}::{entry}", B::FILE), message: format!("{entry} is not one of the entry points {:?} these bindings declare", B::ENTRIES) });
        }
        if !textures || B::TEXTURES.is_empty() {
            let k = self.kernel(B::FILE, entry)?;
            k.check::<B>()?;
            return Ok(k);
        }
        let k = self.kernel(kernel::texture_file(B::FILE, B::TEXTURES), entry)?;
        let slots: Vec<bindings::Slot> = B::SLOTS
            .iter()
            .map(|s| if B::TEXTURES.contains(&s.name) { bindings::Slot { access: bindings::Access::Texture, ..*s } } else { *s })
            .collect();
        k.check_slots::<B>(&slots)?;
        Ok(k)
    }

    /// Blocks until all submitted work is done; an error wgpu raised outside the builders' scopes
    /// (an invalid submission, a lost device) is returned here.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] }.run(&gpu);
    /// gpu.wait()?; // the copy has run
    /// gpu.queue.write_buffer(&b.buffer, 64, &[0; 4]); // past the end of b's 8 bytes
    /// assert!(gpu.wait().is_err()); // reported here
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .map(|_| ())
            .map_err(|e| Error::Readback(e.to_string()))?;
        self.take_uncaptured()
    }

    /// The errors wgpu reported on this device outside any error scope since the last call, as
    /// one [`Error::Gpu`] (none: `Ok`).
    ///
    /// ```
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let t = wgpu_gan::gpu::Tensor::zeros(&gpu, "t", 1)?;
    /// assert!(gpu.take_uncaptured().is_ok()); // nothing went wrong yet
    /// gpu.queue.write_buffer(&t.buffer, 64, &[0; 4]); // past the end of its 4 bytes
    /// assert!(matches!(gpu.take_uncaptured(), Err(wgpu_gan::Error::Gpu { .. })));
    /// assert!(gpu.take_uncaptured().is_ok()); // each error is returned once
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn take_uncaptured(&self) -> Result<()> {
        let mut v = self.uncaptured.lock().map_err(|_| Error::Device("error sink poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let all = std::mem::take(&mut *v).join("; ");
        Err(Error::Gpu { what: "submitted work".into(), message: all })
    }

    /// A texture that `buffer` (from byte `offset`, `bytes` long), bound at `binding`, can be
    /// copied into to be read as a texture ([`bindings::Access::Texture`]).
    ///
    /// A range of up to [`OWN_MIRROR_MAX`] bytes gets a texture of its own (the map of this
    /// `Gpu` and its clones keeps at most [`OWN_MIRRORS_BUDGET`] bytes of them, then starts
    /// afresh): a launch that reads what
    /// an earlier launch of the same submission copied there, unwritten since, needs no copy (a
    /// layer's weights, an activation read again by the weight gradient). Larger ranges, and
    /// any past the budget, share one texture per binding and height with every launch that
    /// binds as many rows there (each copies its buffer in first, the launches run in order), so
    /// that their memory stays bounded.
    pub(crate) fn mirror(&self, binding: u32, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<wgpu::Texture> {
        use std::hash::{Hash, Hasher};
        let rows = kernel::mirror_rows(&self.device, bytes)?;
        let texture_bytes = rows as u64 * kernel::MIRROR_WIDTH as u64 * 16;
        let mut guard = self.mirrors.lock().unwrap_or_else(|p| p.into_inner());
        let (mirrors, own_bytes) = &mut *guard;
        // A source by its buffer and offset (a hash collision would only share a texture, which
        // is always correct: whether a copy may be skipped is decided from the buffers).
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (buffer, offset).hash(&mut h);
        let source = h.finish() | 1;
        if let Some(t) = mirrors.get(&(binding, rows, source)) {
            return Ok(t.clone());
        }
        if bytes <= OWN_MIRROR_MAX && *own_bytes + texture_bytes > OWN_MIRRORS_BUDGET {
            // Past the budget the map forgets the textures of single ranges (those of networks
            // dropped since, of the timing runs): launches built already keep theirs, new ones
            // get new ones, and the map holds at most the budget.
            mirrors.retain(|k, _| k.2 == 0);
            *own_bytes = 0;
        }
        let own = bytes <= OWN_MIRROR_MAX && *own_bytes + texture_bytes <= OWN_MIRRORS_BUDGET;
        let key = (binding, rows, if own { source } else { 0 });
        if let Some(t) = mirrors.get(&key) {
            return Ok(t.clone());
        }
        let t = self.checked("a texture mirror", || kernel::new_mirror(&self.device, rows))?;
        mirrors.insert(key, t.clone());
        if own {
            *own_bytes += texture_bytes;
        }
        Ok(t)
    }

    /// Runs `build` (creating shader modules, pipelines, buffers or bind groups) with wgpu's
    /// validation and out-of-memory errors captured: either becomes [`Error::Gpu`] naming `what`,
    /// instead of wgpu's default panic.
    ///
    /// ```
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// let buffer = |usage| wgpu::BufferDescriptor { label: None, size: 16, usage, mapped_at_creation: false };
    /// let ok = gpu.checked("a buffer", || gpu.device.create_buffer(&buffer(wgpu::BufferUsages::STORAGE)))?;
    /// assert_eq!(ok.size(), 16);
    /// let bad = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::STORAGE; // not allowed together
    /// let err = gpu.checked("a mapped storage buffer", || gpu.device.create_buffer(&buffer(bad)));
    /// assert!(matches!(err, Err(wgpu_gan::Error::Gpu { what, .. }) if what == "a mapped storage buffer"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn checked<T>(&self, what: &str, build: impl FnOnce() -> T) -> Result<T> {
        capture(&self.device, what, build)
    }

    /// The loop-iteration budget that launches on this device must respect: llvmpipe's
    /// ([`budget::LOOP_BUDGET`]) on a CPU adapter, and also on a host-provided device whose adapter
    /// is unknown (it may be one); none on a known hardware adapter.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// let gpu = Gpu::new()?;
    /// let cpu = gpu.info.as_ref().unwrap().device_type == wgpu::DeviceType::Cpu;
    /// assert_eq!(gpu.loop_budget().is_some(), cpu); // llvmpipe: Some(65535)
    /// let host = Gpu::from_device(gpu.device.clone(), gpu.queue.clone());
    /// assert!(host.loop_budget().is_some()); // unknown adapter: perhaps a CPU one
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn loop_budget(&self) -> Option<u64> {
        match &self.info {
            Some(i) if i.device_type != wgpu::DeviceType::Cpu => None,
            _ => Some(budget::LOOP_BUDGET),
        }
    }

    /// How many invocations a split reduction should offer this device (see
    /// [`budget::plan_tiles`]): few on a CPU adapter, many on a GPU.
    ///
    /// ```
    /// use wgpu_gan::gpu::Gpu;
    /// let gpu = Gpu::new()?;
    /// let host = Gpu::from_device(gpu.device.clone(), gpu.queue.clone()); // unknown: as a GPU
    /// let cpu = gpu.info.as_ref().unwrap().device_type == wgpu::DeviceType::Cpu;
    /// assert_eq!(gpu.parallel_invocations() < host.parallel_invocations(), cpu);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn parallel_invocations(&self) -> u64 {
        match &self.info {
            Some(i) if i.device_type == wgpu::DeviceType::Cpu => budget::PARALLEL_INVOCATIONS_CPU,
            _ => budget::PARALLEL_INVOCATIONS_GPU,
        }
    }

    /// Checks a buffer size against the adapter's storage-binding limit before allocating.
    ///
    /// ```
    /// let gpu = wgpu_gan::gpu::Gpu::new()?;
    /// assert!(gpu.check_size("a small buffer", 1024).is_ok());
    /// let max = gpu.device.limits().max_storage_buffer_binding_size as u64;
    /// let err = gpu.check_size("the weights", max + 1).unwrap_err();
    /// assert!(matches!(err, wgpu_gan::Error::Limit(_)) && err.to_string().contains("the weights"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let l = self.device.limits();
        let max = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        if bytes > max {
            return Err(Error::Limit(format!(
                "{what} needs {bytes} bytes but this adapter binds at most {max} bytes per storage buffer; \
                 use a smaller batch or layer"
            )));
        }
        Ok(())
    }
}
