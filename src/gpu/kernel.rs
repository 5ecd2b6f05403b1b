//! Compute pipelines with explicit bind group layouts, and dispatches built once and recorded many
//! times.
//!
//! Each pipeline's layout is derived from naga's analysis of its own entry point: exactly the
//! bindings that the entry point uses, in binding order, with the access (uniform, read-only or
//! read-write storage) that the WGSL declares. The shader source is the file under `shaders/`,
//! embedded at compile time, so the file on disk is the shader that runs.

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Whether kernels are built without wgpu's injected bounds checks and loop bounding
/// (`WGPU_GAN_TRUSTED_KERNELS=1`). Every kernel here clamps its reads and guards its writes, and
/// is tested against the CPU reference with the checks on; skipping them saves ~12 % of R2 step time on the
/// software adapter. Off by default.
pub fn gpu_trusted() -> bool {
    std::env::var("WGPU_GAN_TRUSTED_KERNELS").is_ok_and(|v| v == "1")
}

/// Definitions every shader shares (`shaders/prelude.wgsl`): prepended to each file when it is
/// built, so that a kernel file uses them without copying them.
pub const PRELUDE: &str = include_str!("../../shaders/prelude.wgsl");

/// The source a kernel is built from: the prelude, then the file `file` of [`SHADERS`]; for
/// `file+tex:a,b` ([`texture_file`]), that file with its storage arrays `a` and `b` read through
/// textures ([`texture_variant`]).
pub fn source(file: &str) -> Option<String> {
    let (base, textures) = match file.split_once("+tex:") {
        Some((base, names)) => (base, names.split(',').collect::<Vec<_>>()),
        None => (file, Vec::new()),
    };
    let src = SHADERS.iter().find(|(n, _)| *n == base).map(|(_, s)| format!("{PRELUDE}\n{s}"))?;
    if textures.is_empty() {
        return Some(src);
    }
    texture_variant(&src, &textures).ok()
}

/// The name under which a file's texture variant is built and cached: `file+tex:a,b`.
pub fn texture_file(file: &str, names: &[&str]) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{file}+tex:{}", names.join(","));
    let mut known = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = known.iter().find(|k| **k == key) {
        return k;
    }
    // A few per kernel declaration, made once: leaking them gives the cache its static keys.
    let k: &'static str = Box::leak(key.into_boxed_str());
    known.push(k);
    k
}

/// `src` with each read-only storage array named in `names` (`array<f32>` or
/// `array<vec4<f32>>`) declared as a read-only storage texture,
/// `texture_storage_2d<rgba32float, read>`, at the same binding instead, and every
/// `name[i]` read through a function that fetches element i from the texture mirror of the
/// buffer ([`Access::Texture`]: vec4 j at texel (j mod 4096, j div 4096); a float is one
/// component of its vec4). The index splits with masks and shifts (an integer division would
/// run lane by lane on llvmpipe). A storage texture rather than a sampled one: llvmpipe inlines
/// its load, where a texel fetch is a call that also works out a mip level per lane
/// (`examples/load_probe.rs`: about 0.5 ns a vec4 and lane against 1.1; docs/BENCHMARKS.md).
pub fn texture_variant(src: &str, names: &[&str]) -> std::result::Result<String, String> {
    let mut out = src.to_string();
    let mut helpers = String::new();
    for name in names {
        let decl = format!("var<storage, read> {name}:");
        let line = out.lines().find(|l| l.contains(&decl) && !l.trim_start().starts_with("//")).ok_or(format!("no read-only storage array `{name}`"))?.to_string();
        let at = line.find("var<").expect("found above");
        let ty = line[at + decl.len()..].trim().trim_end_matches(';').trim();
        let (ret, body) = match ty {
            "array<vec4<f32>>" => ("vec4<f32>", format!("return textureLoad({name}, vec2<u32>(i & 4095u, i >> 12u));")),
            "array<f32>" => (
                "f32",
                format!("let t = textureLoad({name}, vec2<u32>((i >> 2u) & 4095u, i >> 14u));\n    let c = i & 3u;\n    return select(select(t.x, t.y, c == 1u), select(t.z, t.w, c == 3u), c >= 2u);"),
            ),
            other => return Err(format!("`{name}` is a {other}: only array<f32> and array<vec4<f32>> can be read through a texture")),
        };
        out = out.replace(&line, &format!("{}var {name}: {TEXTURE_TYPE};", &line[..at]));
        helpers.push_str(&format!("\nfn {name}_texel(i: u32) -> {ret} {{\n    {body}\n}}\n"));
        out = rewrite_reads(&out, name, &format!("{name}_texel"));
    }
    Ok(out + &helpers)
}

/// Every `name[expr]` in `src` (name a whole word) as `func(expr)`.
fn rewrite_reads(src: &str, name: &str, func: &str) -> String {
    let b = src.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let whole = src[i..].starts_with(name) && (i == 0 || !ident(b[i - 1])) && b.get(i + name.len()).is_none_or(|&c| !ident(c));
        let open = whole.then(|| i + name.len() + src[i + name.len()..].len() - src[i + name.len()..].trim_start().len()).filter(|&j| b.get(j) == Some(&b'['));
        let Some(open) = open else {
            let c = src[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let mut depth = 0;
        let mut close = b.len();
        for (k, &c) in b.iter().enumerate().skip(open) {
            match c {
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        close = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        if close == b.len() {
            // No closing bracket (in a comment, say): left as it is.
            out.push_str(&src[i..]);
            break;
        }
        out.push_str(func);
        out.push('(');
        out.push_str(&rewrite_reads(&src[open + 1..close], name, func));
        out.push(')');
        i = close + 1;
    }
    out
}

/// Every shader file of the crate: (name, WGSL source, without the prelude).
pub const SHADERS: &[(&str, &str)] = &[
    ("linear", include_str!("../../shaders/linear.wgsl")),
    ("activation", include_str!("../../shaders/activation.wgsl")),
    ("loss", include_str!("../../shaders/loss.wgsl")),
    ("optim", include_str!("../../shaders/optim.wgsl")),
    ("rng", include_str!("../../shaders/rng.wgsl")),
    ("step", include_str!("../../shaders/step.wgsl")),
    ("conv", include_str!("../../shaders/conv.wgsl")),
    ("batchnorm", include_str!("../../shaders/batchnorm.wgsl")),
    ("classify", include_str!("../../shaders/classify.wgsl")),
    ("reduce", include_str!("../../shaders/reduce.wgsl")),
    ("gemm", include_str!("../../shaders/gemm.wgsl")),
    ("penalty", include_str!("../../shaders/penalty.wgsl")),
    ("cond", include_str!("../../shaders/cond.wgsl")),
    ("conv_gemm", include_str!("../../shaders/conv_gemm.wgsl")),
    ("pack", include_str!("../../shaders/pack.wgsl")),
    ("tiled", include_str!("../../shaders/tiled.wgsl")),
];

use super::bindings::{self, Access, Bindings, Reflected};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Slot {
    Uniform,
    Read,
    ReadWrite,
    Texture,
}

/// Texels per row of a buffer's texture mirror ([`Access::Texture`]); a power of two, so that
/// the shaders split an index with a mask and a shift.
pub const MIRROR_WIDTH: u32 = 4096;

/// The WGSL type a texture variant ([`texture_variant`]) declares in place of a read-only storage
/// array: a read-only storage texture, loaded without a mip level or sampler.
///
/// ```
/// let src = wgpu_gan::gpu::texture_variant(&wgpu_gan::gpu::source("linear").unwrap(), &["w4"]).unwrap();
/// assert!(src.contains(&format!("var w4: {};", wgpu_gan::gpu::TEXTURE_TYPE)));
/// ```
pub const TEXTURE_TYPE: &str = "texture_storage_2d<rgba32float, read>";

/// A compiled compute pipeline and what its bind group must hold.
pub struct Kernel {
    pub name: String,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    /// (binding number, kind) of each binding the entry point uses, ascending.
    slots: Vec<(u32, Slot)>,
    /// Invocations per workgroup along x.
    pub workgroup_x: u32,
    /// The bindings as naga reflected them from the WGSL.
    pub reflected: Reflected,
}

/// Parses and validates a shader with naga, allowing subgroup operations (the shader tests
/// validate every file this way; only conv_gemm.wgsl uses them).
pub fn validate(file: &str, src: &str) -> Result<(naga::Module, naga::valid::ModuleInfo)> {
    validate_with(file, src, true)
}

/// Parses and validates a shader with naga for a device with (`subgroups`) or without the
/// SUBGROUP feature. A module that uses what the device lacks fails here, with the file named,
/// before wgpu sees it.
pub fn validate_with(file: &str, src: &str, subgroups: bool) -> Result<(naga::Module, naga::valid::ModuleInfo)> {
    let module = naga::front::wgsl::parse_str(src)
        .map_err(|e| Error::Shader { file: file.into(), message: e.emit_to_string(src) })?;
    let caps = if subgroups { naga::valid::Capabilities::SUBGROUP } else { naga::valid::Capabilities::empty() };
    let mut validator = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps);
    if subgroups {
        validator.subgroup_stages(naga::valid::ShaderStages::COMPUTE).subgroup_operations(naga::valid::SubgroupOperationSet::all());
    }
    let info = validator.validate(&module).map_err(|e| {
        let message = e.emit_to_string(src);
        let why = if !subgroups && message.contains("SUBGROUP") { "(this device was opened without subgroup operations) " } else { "" };
        Error::Shader { file: file.into(), message: format!("{why}{message}") }
    })?;
    Ok((module, info))
}

impl Kernel {
    pub(crate) fn build(device: &wgpu::Device, file: &'static str, entry: &'static str) -> Result<Kernel> {
        let src = source(file).ok_or_else(|| Error::Shader { file: file.into(), message: "no such shader".into() })?;
        let src = src.as_str();
        let (module, info) = validate_with(file, src, device.features().contains(wgpu::Features::SUBGROUP))?;
        // Resolve the override constants (the prelude's workgroup size) to their defaults, as the
        // pipeline below does, to learn the entry point's real workgroup size.
        let (module, info) = naga::back::pipeline_constants::process_overrides(&module, &info, Some((naga::ShaderStage::Compute, entry)), &Default::default())
            .map_err(|e| Error::Shader { file: file.into(), message: format!("{entry}: {e}") })?;
        let (ep_index, ep) = module
            .entry_points
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == entry)
            .ok_or_else(|| Error::Shader { file: file.into(), message: format!("no entry point {entry}") })?;
        let uses = info.get_entry_point(ep_index);
        let mut slots = Vec::new();
        let mut reflected = Reflected { slots: Vec::new(), min_bytes: Vec::new(), uniform: None, uniform_fields: Vec::new() };
        let mut min_bytes = Vec::new();
        for (handle, var) in module.global_variables.iter() {
            let (Some(binding), false) = (&var.binding, uses[handle].is_empty()) else { continue };
            let slot = match var.space {
                naga::AddressSpace::Uniform => Slot::Uniform,
                naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => Slot::ReadWrite,
                naga::AddressSpace::Storage { .. } => Slot::Read,
                naga::AddressSpace::Handle => match module.types[var.ty].inner {
                    naga::TypeInner::Image { dim: naga::ImageDimension::D2, arrayed: false, class: naga::ImageClass::Storage { format: naga::StorageFormat::Rgba32Float, access } } if access == naga::StorageAccess::LOAD => Slot::Texture,
                    _ => return Err(Error::Shader { file: file.into(), message: format!("{entry}: binding {} is a kind of texture or sampler this crate does not bind", binding.binding) }),
                },
                _ => continue,
            };
            let name: &'static str = var.name.clone().unwrap_or_default().leak();
            match slot {
                Slot::Uniform => {}
                // One texel.
                Slot::Texture => min_bytes.push((binding.binding, 16)),
                _ => min_bytes.push((binding.binding, module.types[var.ty].inner.size(module.to_ctx()) as u64)),
            }
            match slot {
                Slot::Uniform => {
                    reflected.uniform = Some((binding.binding, module.types[var.ty].inner.size(module.to_ctx()) as usize));
                    reflected.uniform_fields = struct_fields(&module, var.ty);
                }
                Slot::Read => reflected.slots.push(bindings::Slot { binding: binding.binding, name, access: Access::Read }),
                Slot::ReadWrite => reflected.slots.push(bindings::Slot { binding: binding.binding, name, access: Access::ReadWrite }),
                Slot::Texture => reflected.slots.push(bindings::Slot { binding: binding.binding, name, access: Access::Texture }),
            }
            slots.push((binding.binding, slot));
        }
        slots.sort_by_key(|s| s.0);
        reflected.slots.sort_by_key(|s| s.binding);
        min_bytes.sort_by_key(|m| m.0);
        reflected.min_bytes = min_bytes.into_iter().map(|m| m.1).collect();
        check_limits(device, file, entry, &module, ep, &slots, uses)?;
        let workgroup_x = ep.workgroup_size[0];
        let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
            .iter()
            .map(|&(binding, slot)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match slot {
                    Slot::Texture => wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::ReadOnly,
                        format: wgpu::TextureFormat::Rgba32Float,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                    _ => wgpu::BindingType::Buffer {
                        ty: match slot {
                            Slot::Uniform => wgpu::BufferBindingType::Uniform,
                            Slot::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                            _ => wgpu::BufferBindingType::Storage { read_only: true },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                },
                count: None,
            })
            .collect();
        // A texture variant (`file+tex:a,b`) is named as its file's kernel: the same computation
        // ([`Dispatch::mirrored`] tells them apart).
        let name = format!("{}::{entry}", file.split("+tex:").next().unwrap_or(file));
        let (pipeline, layout) = super::capture(device, &format!("kernel {name}"), || build_pipeline(device, file, entry, &name, src, &entries))?;
        Ok(Kernel { name, pipeline, layout, slots, workgroup_x, reflected })
    }
}

/// The bind group layout, shader module and pipeline of one entry point.
fn build_pipeline(device: &wgpu::Device, file: &str, entry: &str, name: &str, src: &str, entries: &[wgpu::BindGroupLayoutEntry]) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(name), entries });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(name),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let desc = wgpu::ShaderModuleDescriptor { label: Some(file), source: wgpu::ShaderSource::Wgsl(src.into()) };
    let shader = if gpu_trusted() {
        unsafe { device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
    } else {
        device.create_shader_module(desc)
    };
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: Some(&pipeline_layout),
        module: &shader,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    });
    (pipeline, layout)
}

/// What an entry point needs of the device (bindings per stage, workgroup size, workgroup
/// memory) against what it was opened with: a clear error naming the kernel instead of a panic
/// inside wgpu when a device with smaller limits (`--limits downlevel`) cannot run it.
fn check_limits(device: &wgpu::Device, file: &str, entry: &str, module: &naga::Module, ep: &naga::EntryPoint, slots: &[(u32, Slot)], uses: &naga::valid::FunctionInfo) -> Result<()> {
    let l = device.limits();
    let storage = slots.iter().filter(|s| s.1 == Slot::Read || s.1 == Slot::ReadWrite).count() as u32;
    let uniform = slots.iter().filter(|s| s.1 == Slot::Uniform).count() as u32;
    let textures = slots.iter().filter(|s| s.1 == Slot::Texture).count() as u32;
    let [x, y, z] = ep.workgroup_size;
    let shared: u64 = module
        .global_variables
        .iter()
        .filter(|(h, v)| v.space == naga::AddressSpace::WorkGroup && !uses[*h].is_empty())
        .map(|(_, v)| module.types[v.ty].inner.size(module.to_ctx()) as u64)
        .sum();
    let needs = [
        ("storage buffers per shader stage", storage as u64, l.max_storage_buffers_per_shader_stage as u64),
        ("uniform buffers per shader stage", uniform as u64, l.max_uniform_buffers_per_shader_stage as u64),
        ("storage textures per shader stage", textures as u64, l.max_storage_textures_per_shader_stage as u64),
        ("workgroup size x", x as u64, l.max_compute_workgroup_size_x as u64),
        ("workgroup size y", y as u64, l.max_compute_workgroup_size_y as u64),
        ("workgroup size z", z as u64, l.max_compute_workgroup_size_z as u64),
        ("invocations per workgroup", (x * y * z) as u64, l.max_compute_invocations_per_workgroup as u64),
        ("bytes of workgroup memory", shared, l.max_compute_workgroup_storage_size as u64),
    ];
    for (what, need, have) in needs {
        if need > have {
            return Err(Error::Limit(format!("kernel {file}::{entry} needs {need} {what}; this device was opened with {have} (use the adapter's own limits)")));
        }
    }
    Ok(())
}

/// One kernel launch with its bind group and parameters, created once and recorded into as many
/// passes as needed. Holds its own small uniform buffer.
///
/// ```
/// use wgpu_gan::gpu::{Gpu, Program, Tensor};
/// let gpu = Gpu::new()?;
/// let src = Tensor::new(&gpu, &[4], &[1.0, 2.0, 3.0, 4.0])?;
/// let dst = Tensor::zeros(&gpu, "dst", 4)?;
/// let d = wgpu_gan::nn::copy_range(&gpu, &src, 1, &dst, 0, 2)?; // dst[0..2] = src[1..3]
/// assert_eq!(d.groups, [1, 1, 1]); // 2 invocations: one workgroup
/// Program { dispatches: vec![d] }.run(&gpu);
/// assert_eq!(dst.read(&gpu)?, [2.0, 3.0, 0.0, 0.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct Dispatch {
    pub name: String,
    /// Loop iterations one invocation runs (its declaration's bound, [`Bindings::trips`]).
    pub trips: u64,
    /// Floating-point operations of the launch ([`Bindings::flops`]; 0 where not declared).
    pub flops: f64,
    /// The uniform bytes it was built with (for benchmarks and diagnostics).
    pub params: Vec<u8>,
    /// Workgroups launched (x, y, z).
    pub groups: [u32; 3],
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    /// The buffers bound as textures, with their mirrors: copied before the launch unless the
    /// mirror holds that range already (`encode_dispatches`).
    mirrors: Vec<Mirror>,
    /// The ranges it may write (its read_write bindings): (buffer, offset, bytes).
    writes: Vec<(wgpu::Buffer, u64, u64)>,
    /// A launch that reduces partial sums: what a data-parallel run combines over its ranks
    /// before it (a batch norm's finish: SyncBatchNorm, `gan::dist`); a process alone runs it as
    /// it is.
    sync: Option<Box<Partials>>,
}

/// The partial sums a launch reduces, for a data-parallel run to combine over its ranks first
/// (see `nn::batchnorm::BnSync`, which reads them with the launch's own uniform).
// Public for the crate's own modules, not API.
#[doc(hidden)]
#[derive(Clone)]
pub struct Partials {
    /// Sums of a backward pass (averaged over the ranks), or statistics (merged).
    pub backward: bool,
    /// The partial sums the launch reads.
    pub part: super::Tensor,
    /// What the launch writes besides: its results, running statistics it updates (the
    /// statistics' finish), the parameter gradients it stores (the backward's).
    pub stats: wgpu::Buffer,
    pub running: Option<wgpu::Buffer>,
    pub grads: Option<[super::Tensor; 2]>,
}

/// A buffer (or a range of one, from `offset`) that a launch reads through a texture: `texels`
/// vec4s of it are copied into `texture` before the launch.
struct Mirror {
    buffer: wgpu::Buffer,
    offset: u64,
    texture: wgpu::Texture,
    texels: u64,
}

impl Dispatch {
    /// A launch of the kernel that `bindings` declares (see [`super::bindings`]), with its uniform
    /// `params`. `threads`: invocations wanted along x; `None` launches exactly one workgroup.
    ///
    /// Fails if the declaration does not match the WGSL, or if the kernel's invocations would loop
    /// past the device's loop budget for these parameters ([`super::budget::check`] with the
    /// declaration's [`Bindings::trips`]): the software
    /// adapter would otherwise return wrong numbers without a word.
    ///
    /// Where the declaration names bindings that may be read through textures
    /// ([`Bindings::TEXTURES`]) and the device reads them so ([`super::Operands::Textures`]), the
    /// launch runs the kernel's texture variant, each such buffer copied into a texture before it
    /// (every one of them a whole number of vec4s that fits one; else the plain kernel runs).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Dispatch, Gpu, Program, Tensor}, nn::activation::{ActForward, ActParams}};
    /// let gpu = Gpu::new()?;
    /// let (x, y) = (Tensor::new(&gpu, &[4], &[-1.0, 2.0, -3.0, 4.0])?, Tensor::zeros(&gpu, "y", 4)?);
    /// let p = ActParams { n: 4, ..Default::default() };
    /// let relu = Dispatch::new(&gpu, &ActForward { entry: "relu_forward", x: &x, out: &y }, &p, Some(4))?;
    /// Program { dispatches: vec![relu] }.run(&gpu);
    /// assert_eq!(y.read(&gpu)?, [0.0, 2.0, 0.0, 4.0]);
    /// assert!(Dispatch::new(&gpu, &ActForward { entry: "copy_range", x: &x, out: &y }, &p, None).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new<B: Bindings>(gpu: &Gpu, bindings: &B, params: &B::Params, threads: Option<u32>) -> Result<Dispatch> {
        let buffers = bindings.buffers();
        let textures = !B::TEXTURES.is_empty()
            && gpu.choice::<super::Operands>() == Some(super::Operands::Textures)
            && B::SLOTS.iter().zip(&buffers).filter(|(s, _)| B::TEXTURES.contains(&s.name)).all(|(_, b)| b.size % 16 == 0 && mirror_fits(&gpu.device, b.size));
        let kernel = gpu.pipeline_for::<B>(bindings.entry(), textures)?;
        let (trips, flops) = (B::trips(bindings.entry(), params), B::flops(bindings.entry(), params));
        let params = bytemuck::bytes_of(params);
        let trips = super::budget::check(&kernel.name, trips, params, gpu.loop_budget())?;
        for ((slot, need), b) in kernel.reflected.slots.iter().zip(&kernel.reflected.min_bytes).zip(&buffers) {
            if b.size < *need {
                return Err(Error::Shape(format!("{}: the buffer bound to `{}` has {} bytes; it needs at least {need}", kernel.name, slot.name, b.size)));
            }
        }
        let (mut mirrors, mut writes) = (Vec::new(), Vec::new());
        for (&(binding, slot), b) in kernel.slots.iter().filter(|s| s.1 != Slot::Uniform).zip(&buffers) {
            match slot {
                Slot::Texture => mirrors.push(Mirror { buffer: b.buffer.clone(), offset: b.offset, texture: gpu.mirror(binding, b.buffer, b.offset, b.size)?, texels: b.size / 16 }),
                Slot::ReadWrite => writes.push((b.buffer.clone(), b.offset, b.size)),
                Slot::Read | Slot::Uniform => {}
            }
        }
        let bind_group = gpu.checked(&format!("the launch of kernel {}", kernel.name), || bind(gpu, &kernel, params, &buffers, &mirrors))?;
        let groups = match threads {
            None => [1, 1, 1],
            Some(t) => grid(t.max(1), kernel.workgroup_x, gpu.device.limits().max_compute_workgroups_per_dimension)?,
        };
        Ok(Dispatch { name: kernel.name.clone(), trips, flops, params: params.to_vec(), pipeline: kernel.pipeline.clone(), bind_group, groups, mirrors, writes, sync: None })
    }

    /// Marks the launch as a batch norm's finish, whose partial sums a data-parallel run combines
    /// over its ranks first.
    pub(crate) fn with_sync(mut self, s: Partials) -> Dispatch {
        self.sync = Some(Box::new(s));
        self
    }

    /// The batch-norm sums to combine over ranks before this launch, if it is a finish.
    pub(crate) fn sync(&self) -> Option<&Partials> {
        self.sync.as_deref()
    }

    /// Records the launch into a pass. A launch that reads buffers through textures
    /// ([`Dispatch::mirrored`]) needs their copies encoded first ([`Dispatch::copy_mirrors`]),
    /// outside any pass: [`Program::encode`] does both.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let d = copy_range(&gpu, &a, 0, &b, 0, 2)?;
    /// let mut encoder = gpu.device.create_command_encoder(&Default::default());
    /// d.record(&mut encoder.begin_compute_pass(&Default::default())); // the host's own pass
    /// gpu.queue.submit([encoder.finish()]);
    /// assert_eq!(b.read(&gpu)?, [1.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }

    /// Whether the launch reads some of its buffers through texture mirrors ([`Access::Texture`]).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Block, Gpu, Operands, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// let gpu = Gpu::new()?;
    /// let (p, g) = (Block::from_slices(&gpu, "p", &[vec![1.0; 4]])?, Block::from_slices(&gpu, "g", &[vec![1.0; 4]])?);
    /// let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &p, "net")?;
    /// let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let step = |gpu: &Gpu| sgd.step(gpu, &p, &g, &counter.buffer, 1, 0, 0.0, 0);
    /// assert!(!step(&gpu)?.dispatches[0].mirrored());
    /// assert!(step(&Operands::Textures.on(&gpu))?.dispatches[0].mirrored()); // the gradient as a texture
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn mirrored(&self) -> bool {
        !self.mirrors.is_empty()
    }

    /// Encodes the copies of the buffers this launch reads as textures into their mirrors.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Operands, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// let gpu = Operands::Textures.on(&Gpu::new()?);
    /// let (p, g) = (Block::from_slices(&gpu, "p", &[vec![1.0, 2.0]])?, Block::from_slices(&gpu, "g", &[vec![1.0, 1.0]])?);
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &p, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let d = sgd.step(&gpu, &p, &g, &counter.buffer, 1, 0, 0.0, 0)?.dispatches.remove(0); // p -= 0.5 g
    /// let mut encoder = gpu.device.create_command_encoder(&Default::default());
    /// d.copy_mirrors(&mut encoder); // outside any pass
    /// d.record(&mut encoder.begin_compute_pass(&Default::default()));
    /// gpu.queue.submit([encoder.finish()]);
    /// assert_eq!(p.read(&gpu)?, [vec![0.5, 1.5]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn copy_mirrors(&self, encoder: &mut wgpu::CommandEncoder) {
        for m in &self.mirrors {
            copy_to_mirror(encoder, &m.buffer, m.offset, &m.texture, m.texels);
        }
    }

    /// Copies only the first `texels[i]` vec4s of the i-th buffer read as a texture (where that
    /// is less than the buffer): what the launch can read, for an operand that lies at the start
    /// of a larger buffer (a workspace).
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Operands, Program, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// let gpu = Operands::Textures.on(&Gpu::new()?);
    /// let p = Block::from_slices(&gpu, "p", &[vec![1.0, 2.0], vec![3.0]])?;
    /// let g = Block::from_slices(&gpu, "g", &[vec![1.0, 1.0], vec![1.0]])?;
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &p, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let d = sgd.step(&gpu, &p, &g, &counter.buffer, 1, 0, 0.0, 0)?.dispatches.remove(0); // p -= 0.5 g
    /// let d = d.with_mirror_extents(&[16]); // 16 vec4s: the first part's 64-value slot only
    /// Program { dispatches: vec![d] }.run(&gpu);
    /// // The second part's gradient was never copied: its texels read as zeros.
    /// assert_eq!(p.read(&gpu)?, [vec![0.5, 1.5], vec![3.0]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn with_mirror_extents(mut self, texels: &[u64]) -> Dispatch {
        for (m, &t) in self.mirrors.iter_mut().zip(texels) {
            m.texels = m.texels.min(t.max(1));
        }
        self
    }

    /// Records the launch, and the copies it needs first, into an encoder.
    ///
    /// ```
    /// # use wgpu_gan::{gpu::{Block, Gpu, Operands, Tensor}, optim::{GpuOptimizer, Optimizer}};
    /// let gpu = Operands::Textures.on(&Gpu::new()?);
    /// let (p, g) = (Block::from_slices(&gpu, "p", &[vec![1.0, 2.0]])?, Block::from_slices(&gpu, "g", &[vec![1.0, 1.0]])?);
    /// # let sgd = GpuOptimizer::new(&gpu, Optimizer::Sgd { lr: 0.5, momentum: 0.0 }, &p, "net")?;
    /// # let counter = Tensor::from_slice(&gpu, "counter", &[0u32])?;
    /// let d = sgd.step(&gpu, &p, &g, &counter.buffer, 1, 0, 0.0, 0)?.dispatches.remove(0); // p -= 0.5 g
    /// let mut encoder = gpu.device.create_command_encoder(&Default::default());
    /// d.encode(&mut encoder); // the gradient's copy, then the launch
    /// gpu.queue.submit([encoder.finish()]);
    /// assert_eq!(p.read(&gpu)?, [vec![0.5, 1.5]]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.copy_mirrors(encoder);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(&self.name), timestamp_writes: None });
        self.record(&mut pass);
    }
}

/// The first `texels` vec4s of `buffer` from byte `offset` into its mirror: full rows of
/// [`MIRROR_WIDTH`] texels, then the rest of the last row.
fn copy_to_mirror(encoder: &mut wgpu::CommandEncoder, buffer: &wgpu::Buffer, offset: u64, texture: &wgpu::Texture, texels: u64) {
    let texels = texels as u32;
    let (rows, rest) = (texels / MIRROR_WIDTH, texels % MIRROR_WIDTH);
    let row_bytes = MIRROR_WIDTH * 16;
    let mut copy = |y: u32, width: u32, height: u32| {
        encoder.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo { buffer, layout: wgpu::TexelCopyBufferLayout { offset: offset + y as u64 * row_bytes as u64, bytes_per_row: Some(row_bytes), rows_per_image: None } },
            wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x: 0, y, z: 0 }, aspect: wgpu::TextureAspect::All },
            wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        );
    };
    if rows > 0 {
        copy(0, MIRROR_WIDTH, rows);
    }
    if rest > 0 {
        copy(rows, rest, 1);
    }
}

/// Rows of [`MIRROR_WIDTH`] texels that a mirror of a buffer of `bytes` has: enough for its
/// whole vec4s, rounded up to a power of two (so that launches share few sizes), at most the
/// device's largest texture; a buffer too large for that is an error.
pub(crate) fn mirror_rows(device: &wgpu::Device, bytes: u64) -> Result<u32> {
    let rows = (bytes / 16).max(1).div_ceil(MIRROR_WIDTH as u64);
    let max = device.limits().max_texture_dimension_2d as u64;
    if rows > max {
        return Err(Error::Limit(format!("a buffer of {bytes} bytes does not fit in a texture of {MIRROR_WIDTH} × {max} texels")));
    }
    Ok(rows.next_power_of_two().min(max) as u32)
}

/// Whether a buffer of `bytes` can be read as a texture on `device` ([`Access::Texture`]).
pub fn mirror_fits(device: &wgpu::Device, bytes: u64) -> bool {
    mirror_rows(device, bytes).is_ok()
}

/// An rgba32float texture of [`MIRROR_WIDTH`] × `rows` texels to copy buffers into.
pub(crate) fn new_mirror(device: &wgpu::Device, rows: u32) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("mirror"),
        size: wgpu::Extent3d { width: MIRROR_WIDTH, height: rows, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    })
}

/// The bind group of one launch: its uniform (a small buffer of its own) and `buffers` in slot
/// order, those of texture slots by their mirrors (in `mirrors`, in slot order too).
fn bind(gpu: &Gpu, kernel: &Kernel, params: &[u8], buffers: &[bindings::Arg<'_>], mirrors: &[Mirror]) -> wgpu::BindGroup {
    let uniform = kernel.slots.iter().any(|s| s.1 == Slot::Uniform).then(|| {
        use wgpu::util::DeviceExt;
        gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&kernel.name),
            contents: params,
            usage: wgpu::BufferUsages::UNIFORM,
        })
    });
    let views: Vec<wgpu::TextureView> = mirrors.iter().map(|m| m.texture.create_view(&Default::default())).collect();
    let (mut next, mut next_view) = (buffers.iter(), views.iter());
    let entries: Vec<wgpu::BindGroupEntry> = kernel
        .slots
        .iter()
        .map(|&(binding, slot)| wgpu::BindGroupEntry {
            binding,
            resource: match slot {
                Slot::Uniform => uniform.as_ref().unwrap().as_entire_binding(),
                Slot::Texture => {
                    next.next();
                    wgpu::BindingResource::TextureView(next_view.next().unwrap())
                }
                _ => next.next().unwrap().binding(),
            },
        })
        .collect();
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(&kernel.name),
        layout: &kernel.layout,
        entries: &entries,
    })
}

impl Kernel {
    /// Checks a declaration of this kernel's bindings, and its uniform's fields, against the WGSL.
    pub fn check<B: Bindings>(&self) -> Result<()> {
        self.check_slots::<B>(B::SLOTS)
    }

    /// [`Kernel::check`] with the declared slots given (a texture variant's: some read as textures).
    pub fn check_slots<B: Bindings>(&self, slots: &[bindings::Slot]) -> Result<()> {
        bindings::check(&self.name, slots, std::mem::size_of::<B::Params>(), &self.reflected)?;
        bindings::check_uniform(&self.name, &<B::Params as bindings::Uniform>::fields(), &self.reflected.uniform_fields)
    }
}

/// The members of a struct type as (name, offset, WGSL type); empty for another type.
fn struct_fields(module: &naga::Module, ty: naga::Handle<naga::Type>) -> Vec<bindings::Field> {
    let naga::TypeInner::Struct { members, .. } = &module.types[ty].inner else { return Vec::new() };
    members.iter().map(|m| bindings::Field { name: m.name.clone().unwrap_or_default(), offset: m.offset as usize, ty: wgsl_type(module, m.ty) }).collect()
}

/// A type as the uniform declarations spell it: `u32`, `array<u32, 8>`, `vec4<f32>`, a struct's name.
fn wgsl_type(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    let scalar = |s: &naga::Scalar| match (s.kind, s.width) {
        (naga::ScalarKind::Uint, 4) => "u32".to_string(),
        (naga::ScalarKind::Sint, 4) => "i32".to_string(),
        (naga::ScalarKind::Float, 4) => "f32".to_string(),
        (k, w) => format!("{k:?}{}", w * 8),
    };
    let t = &module.types[ty];
    match &t.inner {
        naga::TypeInner::Scalar(s) => scalar(s),
        naga::TypeInner::Vector { size, scalar: s } => format!("vec{}<{}>", *size as u8, scalar(s)),
        // A uniform array of vec4s (its stride must be 16 bytes) holds what the host declares as a
        // flat array of 4× as many scalars.
        naga::TypeInner::Array { base, size: naga::ArraySize::Constant(n), .. } => match &module.types[*base].inner {
            naga::TypeInner::Vector { size: naga::VectorSize::Quad, scalar: s } if s.width == 4 => format!("array<{}, {}>", scalar(s), n.get() * 4),
            _ => format!("array<{}, {n}>", wgsl_type(module, *base)),
        },
        naga::TypeInner::Struct { .. } => t.name.clone().unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

/// Workgroups for `threads` invocations of `wg` each, folded onto x and y when x alone would exceed
/// the per-dimension limit. The kernels reconstruct the flat index as x + y·wg·num_workgroups.x.
pub fn grid(threads: u32, wg: u32, max_dim: u32) -> Result<[u32; 3]> {
    let groups = threads.div_ceil(wg);
    if groups <= max_dim {
        return Ok([groups, 1, 1]);
    }
    let y = groups.div_ceil(max_dim);
    if y > max_dim {
        return Err(Error::Limit(format!("{threads} invocations do not fit in a {max_dim}² grid")));
    }
    Ok([groups.div_ceil(y), y, 1])
}

/// An ordered list of dispatches: a forward pass, a training step, a sampler. Recording it into a
/// pass is all a host application needs; `run` does it in one submission.
///
/// ```
/// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
/// let gpu = Gpu::new()?;
/// let a = Tensor::new(&gpu, &[4], &[1.0, 2.0, 0.0, 0.0])?;
/// let b = Tensor::zeros(&gpu, "b", 2)?;
/// let mut prog = Program::default();
/// prog.push(copy_range(&gpu, &a, 0, &b, 0, 2)?); // b = a[0..2]
/// prog.push(copy_range(&gpu, &b, 0, &a, 2, 2)?); // then a[2..4] = b
/// let mut encoder = gpu.device.create_command_encoder(&Default::default());
/// prog.encode(&mut encoder); // into the host's own encoder
/// gpu.queue.submit([encoder.finish()]);
/// assert_eq!(a.read(&gpu)?, [1.0, 2.0, 1.0, 2.0]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Default)]
pub struct Program {
    pub dispatches: Vec<Dispatch>,
}

impl Program {
    /// Appends a launch.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let mut prog = Program::default();
    /// prog.push(copy_range(&gpu, &a, 1, &b, 0, 1)?); // b[0] = a[1]
    /// assert_eq!(prog.dispatches.len(), 1);
    /// prog.run(&gpu);
    /// assert_eq!(b.read(&gpu)?, [2.0, 0.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn push(&mut self, d: Dispatch) {
        self.dispatches.push(d);
    }

    /// Appends the launches of `other`, to run after its own.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let mut prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] }; // b = a
    /// prog.extend(Program { dispatches: vec![copy_range(&gpu, &b, 0, &a, 1, 1)?] }); // a[1] = b[0]
    /// assert_eq!(prog.dispatches.len(), 2);
    /// prog.run(&gpu);
    /// assert_eq!(a.read(&gpu)?, [1.0, 1.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn extend(&mut self, other: Program) {
        self.dispatches.extend(other.dispatches);
    }

    /// Records every dispatch, in order, into a compute pass the caller owns. wgpu inserts the
    /// barriers between dispatches that touch the same buffers. Fails for a program with
    /// launches that read buffers through textures ([`Dispatch::mirrored`]): their copies go
    /// between passes, so record those with [`Program::encode`].
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] };
    /// let mut encoder = gpu.device.create_command_encoder(&Default::default());
    /// prog.record(&mut encoder.begin_compute_pass(&Default::default()))?; // the host's own pass
    /// gpu.queue.submit([encoder.finish()]);
    /// assert_eq!(b.read(&gpu)?, [1.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) -> Result<()> {
        if let Some(d) = self.dispatches.iter().find(|d| d.mirrored()) {
            return Err(Error::Shape(format!("{} reads buffers through texture copies, which cannot be recorded into a compute pass: use Program::encode", d.name)));
        }
        for d in &self.dispatches {
            d.record(pass);
        }
        Ok(())
    }

    /// Records into the caller's encoder: one compute pass, or a new one after each launch's
    /// texture copies where there are any.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] }; // b = a
    /// let mut encoder = gpu.device.create_command_encoder(&Default::default());
    /// encoder.clear_buffer(&a.buffer, 0, None); // the host's own work first
    /// prog.encode(&mut encoder);
    /// gpu.queue.submit([encoder.finish()]);
    /// assert_eq!(b.read(&gpu)?, [0.0, 0.0]); // the copy saw a cleared
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        encode_dispatches(encoder, self.dispatches.iter());
    }

    /// The host's share of running this program: seconds to record its prebuilt dispatches
    /// (pipelines and bind groups exist already) into a command buffer, the mean of `reps`
    /// recordings, nothing submitted.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] };
    /// let s = prog.record_seconds(&gpu, 3);
    /// assert!(s.is_finite() && s >= 0.0);
    /// assert_eq!(b.read(&gpu)?, [0.0, 0.0]); // recorded three times, never submitted
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn record_seconds(&self, gpu: &Gpu, reps: usize) -> f64 {
        let t = std::time::Instant::now();
        for _ in 0..reps.max(1) {
            let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("record") });
            self.encode(&mut enc);
            drop(enc.finish());
        }
        t.elapsed().as_secs_f64() / reps.max(1) as f64
    }

    /// Runs each dispatch in its own submission and waits for it: (kernel name, with
    /// " (textures)" for a launch that reads buffers through textures, and seconds) per dispatch.
    /// For finding where the time goes; the per-submission overhead is included.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b, c) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?, Tensor::zeros(&gpu, "c", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?, copy_range(&gpu, &b, 0, &c, 0, 2)?] };
    /// let times = prog.profile(&gpu)?;
    /// assert_eq!(times.len(), 2);
    /// assert!(times.iter().all(|(name, s)| name == "activation::copy_range" && *s > 0.0));
    /// assert_eq!(c.read(&gpu)?, [1.0, 2.0]); // both ran, in order
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn profile(&self, gpu: &Gpu) -> Result<Vec<(String, f64)>> {
        let mut out = Vec::new();
        for d in &self.dispatches {
            let t = std::time::Instant::now();
            let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profile") });
            d.encode(&mut encoder);
            gpu.queue.submit([encoder.finish()]);
            gpu.wait()?;
            let name = if d.mirrored() { format!("{} (textures)", d.name) } else { d.name.clone() };
            out.push((name, t.elapsed().as_secs_f64()));
        }
        Ok(out)
    }

    /// [`Program::profile`] summed by kernel: (name, seconds, launches), the most time first.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 1)?, copy_range(&gpu, &a, 1, &b, 1, 1)?] };
    /// let by_kernel = prog.profile_by_kernel(&gpu)?;
    /// assert_eq!(by_kernel.len(), 1); // one kernel, launched twice
    /// assert_eq!((by_kernel[0].0.as_str(), by_kernel[0].2), ("activation::copy_range", 2));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn profile_by_kernel(&self, gpu: &Gpu) -> Result<Vec<(String, f64, usize)>> {
        let mut by_kernel: Vec<(String, f64, usize)> = Vec::new();
        for (name, t) in self.profile(gpu)? {
            match by_kernel.iter_mut().find(|e| e.0 == name) {
                Some(e) => {
                    e.1 += t;
                    e.2 += 1;
                }
                None => by_kernel.push((name, t, 1)),
            }
        }
        by_kernel.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(by_kernel)
    }

    /// Runs dispatches `range` only (one encoder, one pass, one submission).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 1)?, copy_range(&gpu, &a, 1, &b, 1, 1)?] };
    /// prog.run_range(&gpu, 1..2); // the second launch only
    /// assert_eq!(b.read(&gpu)?, [0.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_range(&self, gpu: &Gpu, range: std::ops::Range<usize>) {
        self.run_ranges(gpu, &[range]);
    }

    /// Runs the dispatches of each range, in order, in one pass and one submission.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?, copy_range(&gpu, &b, 1, &a, 0, 1)?] };
    /// prog.run_ranges(&gpu, &[1..2, 0..1]); // a[0] = b[1] (still 0), then b = a
    /// assert_eq!(b.read(&gpu)?, [0.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_ranges(&self, gpu: &Gpu, ranges: &[std::ops::Range<usize>]) {
        let _ = self.run_ranges_after(gpu, ranges, |_| ());
    }

    /// [`Program::run`], in a submission whose encoder `before` records into first (copies
    /// that the dispatches then see).
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] }; // b = a
    /// let fresh = Tensor::new(&gpu, &[2], &[5.0, 6.0])?;
    /// prog.run_after(&gpu, |e| e.copy_buffer_to_buffer(&fresh.buffer, 0, &a.buffer, 0, 8)); // a = fresh
    /// assert_eq!(b.read(&gpu)?, [5.0, 6.0]); // the launch saw the copy
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run_after(&self, gpu: &Gpu, before: impl FnOnce(&mut wgpu::CommandEncoder)) -> wgpu::SubmissionIndex {
        self.run_ranges_after(gpu, &[0..self.dispatches.len()], before)
    }

    fn run_ranges_after(&self, gpu: &Gpu, ranges: &[std::ops::Range<usize>], before: impl FnOnce(&mut wgpu::CommandEncoder)) -> wgpu::SubmissionIndex {
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgpu-gan") });
        before(&mut encoder);
        encode_dispatches(&mut encoder, ranges.iter().flat_map(|r| &self.dispatches[r.clone()]));
        gpu.queue.submit([encoder.finish()])
    }

    /// One encoder, one pass, one submission.
    ///
    /// ```
    /// use wgpu_gan::{gpu::{Gpu, Program, Tensor}, nn::copy_range};
    /// let gpu = Gpu::new()?;
    /// let (a, b) = (Tensor::new(&gpu, &[2], &[1.0, 2.0])?, Tensor::zeros(&gpu, "b", 2)?);
    /// let prog = Program { dispatches: vec![copy_range(&gpu, &a, 0, &b, 0, 2)?] };
    /// prog.run(&gpu); // returns at once; the readback waits for it
    /// assert_eq!(b.read(&gpu)?, [1.0, 2.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn run(&self, gpu: &Gpu) {
        self.run_range(gpu, 0..self.dispatches.len());
    }
}

/// What each texture mirror holds at a point of an encoder: the buffer range last copied into it,
/// while no launch recorded since has written that range.
#[derive(Default)]
struct Mirrored(Vec<(wgpu::Texture, wgpu::Buffer, u64, u64)>);

impl Mirrored {
    /// Whether `m.texture` holds what `m` would copy into it.
    fn holds(&self, m: &Mirror) -> bool {
        self.0.iter().any(|(t, b, o, texels)| *t == m.texture && *b == m.buffer && *o == m.offset && *texels >= m.texels)
    }

    fn copied(&mut self, m: &Mirror) {
        self.0.retain(|(t, ..)| *t != m.texture);
        self.0.push((m.texture.clone(), m.buffer.clone(), m.offset, m.texels));
    }

    /// Forgets every mirror of a range that `d` may write.
    fn written_by(&mut self, d: &Dispatch) {
        self.0.retain(|(_, b, o, texels)| !d.writes.iter().any(|(wb, wo, bytes)| wb == b && *wo < o + texels * 16 && *o < wo + bytes));
    }
}

/// Records `dispatches` in order into compute passes. A launch that reads buffers through
/// textures ends the pass before it to copy them into their mirrors, except where every mirror
/// already holds that range, copied earlier in this encoder and not written since (a layer's
/// weights read by its forward pass and its input gradient, an activation read by the next
/// layer and by its weight gradient): those launches run on in the same pass, without a copy.
/// Nothing is assumed about what a mirror holds from an earlier encoder.
fn encode_dispatches<'a>(encoder: &mut wgpu::CommandEncoder, dispatches: impl Iterator<Item = &'a Dispatch>) {
    let mut held = Mirrored::default();
    let mut pass: Option<wgpu::ComputePass<'static>> = None;
    for d in dispatches {
        // (No list of the copies: this runs for every launch of every step.)
        if pass.is_none() || d.mirrors.iter().any(|m| !held.holds(m)) {
            // The pass borrows the encoder: it ends before the copies are encoded.
            drop(pass.take());
            // A launch's mirrors are distinct textures (one per binding): copying one does not
            // change whether another holds its range.
            for m in &d.mirrors {
                if !held.holds(m) {
                    copy_to_mirror(encoder, &m.buffer, m.offset, &m.texture, m.texels);
                    held.copied(m);
                }
            }
            pass = Some(encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("wgpu-gan"), timestamp_writes: None }).forget_lifetime());
        }
        if let Some(p) = pass.as_mut() {
            d.record(p);
        }
        held.written_by(d);
    }
}

