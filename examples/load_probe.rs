//! Microbenchmark of WGSL memory-access patterns on llvmpipe (lavapipe) through wgpu.
//!
//! Each invocation runs K iterations of "load at an address depending on (gid, k), multiply-add",
//! then stores one f32. One process measures the variants named on its command line under
//! whatever GALLIUM_OVERRIDE_CPU_CAPS it was started with; `scripts/load_probe.sh` alternates
//! native / avx processes so both see the same background load. The evidence behind the
//! texture-read path of issue 24 (docs/BENCHMARKS.md, "Why the step was slow without AVX-512").
//!
//! usage: cargo run --release --example load_probe -- [--k 4096] [--target-ms 400] [--runs 5] [--hold SECS] VARIANT...
//!        cargo run --release --example load_probe -- --list

use std::time::Instant;

const LEN: u32 = 16384; // floats of data: 64 KiB (the uniform-buffer limit), 4096 vec4s
const MAX_GROUPS: u32 = 65535;

#[derive(Clone, Copy, PartialEq)]
enum Bind {
    Storage,
    Uniform,
    Texture,
    /// A read-only storage texture (rgba32float), the same texels as `Texture`.
    Image,
}

struct Variant {
    name: &'static str,
    desc: &'static str,
    bind: Bind,
    /// floats delivered to each lane per loop iteration (1 or 4)
    width: u32,
    subgroups: bool,
}

const VARIANTS: &[Variant] = &[
    Variant { name: "base", desc: "no load: vec4 from f32((gid+k)&4095) (loop + FMA + convert overhead)", bind: Bind::Storage, width: 4, subgroups: false },
    Variant { name: "s_f32", desc: "storage array<f32>, d[(gid+k)&16383]", bind: Bind::Storage, width: 1, subgroups: false },
    Variant { name: "s_vec4", desc: "storage array<vec4<f32>>, d4[(gid+k)&4095]", bind: Bind::Storage, width: 4, subgroups: false },
    Variant { name: "s_uni_f32", desc: "storage array<f32>, d[k&16383] (same for all lanes)", bind: Bind::Storage, width: 1, subgroups: false },
    Variant { name: "s_uni_vec4", desc: "storage array<vec4<f32>>, d4[k&4095] (same for all lanes)", bind: Bind::Storage, width: 4, subgroups: false },
    Variant { name: "u_vec4", desc: "uniform array<vec4<f32>,4096>, u[(gid+k)&4095]", bind: Bind::Uniform, width: 4, subgroups: false },
    Variant { name: "wg_vec4", desc: "workgroup array<vec4<f32>,1024>, sh[(gid+k)&1023]", bind: Bind::Storage, width: 4, subgroups: false },
    Variant { name: "tex_vec4", desc: "textureLoad rgba32float 64x64, texel (gid+k)&4095", bind: Bind::Texture, width: 4, subgroups: false },
    Variant { name: "img_vec4", desc: "textureLoad of a read-only storage texture rgba32float 64x64, texel (gid+k)&4095", bind: Bind::Image, width: 4, subgroups: false },
    Variant { name: "sg_shuf_var", desc: "1 storage vec4 load per 8 iters + subgroupShuffle(v,(lane+j)&7)", bind: Bind::Storage, width: 4, subgroups: true },
    Variant { name: "sg_shuf_const", desc: "1 storage vec4 load per 8 iters + subgroupShuffle(v, j const)", bind: Bind::Storage, width: 4, subgroups: true },
    Variant { name: "sg_bcast", desc: "1 storage vec4 load per 8 iters + subgroupBroadcast(v, j const)", bind: Bind::Storage, width: 4, subgroups: true },
];

fn data(i: u32) -> f32 {
    ((i.wrapping_mul(37) % 101) as f32) / 101.0 - 0.5
}

fn shader(v: &Variant) -> String {
    let mut s = String::from(
        "struct Params { k: u32, p1: u32, p2: u32, p3: u32 }\n\
         @group(0) @binding(0) var<uniform> P: Params;\n\
         @group(0) @binding(1) var<storage, read_write> outb: array<f32>;\n",
    );
    s += match (v.bind, v.width, v.name) {
        (Bind::Uniform, _, _) => "@group(0) @binding(2) var<uniform> u: array<vec4<f32>, 4096>;\n",
        (Bind::Texture, _, _) => "@group(0) @binding(2) var t: texture_2d<f32>;\n",
        (Bind::Image, _, _) => "@group(0) @binding(2) var t: texture_storage_2d<rgba32float, read>;\n",
        (Bind::Storage, 1, _) => "@group(0) @binding(2) var<storage, read> d: array<f32>;\n",
        _ => "@group(0) @binding(2) var<storage, read> d4: array<vec4<f32>>;\n",
    };
    if v.name == "wg_vec4" {
        s += "var<workgroup> sh: array<vec4<f32>, 1024>;\n";
    }
    s += "@compute @workgroup_size(64)\n\
          fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) li: u32";
    if v.subgroups {
        s += ", @builtin(subgroup_invocation_id) lane: u32";
    }
    s += ") {\n  let gid = g.x;\n  let c = f32(gid & 15u) * 0.0625 + 0.5;\n";
    if v.name == "wg_vec4" {
        s += "  for (var i = li; i < 1024u; i += 64u) { sh[i] = d4[i]; }\n  workgroupBarrier();\n";
    }
    if v.width == 1 {
        s += "  var acc = 0.0;\n";
    } else {
        s += "  var acc = vec4<f32>(0.0);\n";
    }
    let body = match v.name {
        "base" => "    let x = vec4<f32>(f32((gid + k) & 4095u) * (1.0 / 4096.0));\n    acc += x * c;\n".to_string(),
        "s_f32" => "    let x = d[(gid + k) & 16383u];\n    acc += x * c;\n".to_string(),
        "s_vec4" => "    let x = d4[(gid + k) & 4095u];\n    acc += x * c;\n".to_string(),
        "s_uni_f32" => "    let x = d[k & 16383u];\n    acc += x * c;\n".to_string(),
        "s_uni_vec4" => "    let x = d4[k & 4095u];\n    acc += x * c;\n".to_string(),
        "u_vec4" => "    let x = u[(gid + k) & 4095u];\n    acc += x * c;\n".to_string(),
        "wg_vec4" => "    let x = sh[(gid + k) & 1023u];\n    acc += x * c;\n".to_string(),
        "tex_vec4" => "    let i = (gid + k) & 4095u;\n    let x = textureLoad(t, vec2<u32>(i & 63u, i >> 6u), 0);\n    acc += x * c;\n".to_string(),
        "img_vec4" => "    let i = (gid + k) & 4095u;\n    let x = textureLoad(t, vec2<u32>(i & 63u, i >> 6u));\n    acc += x * c;\n".to_string(),
        "sg_shuf_var" | "sg_shuf_const" | "sg_bcast" => {
            let mut b = String::from("    let v = d4[(gid + k) & 4095u];\n");
            for j in 0..8 {
                let op = match v.name {
                    "sg_shuf_var" => format!("subgroupShuffle(v, (lane + {j}u) & 7u)"),
                    "sg_shuf_const" => format!("subgroupShuffle(v, {j}u)"),
                    _ => format!("subgroupBroadcast(v, {j}u)"),
                };
                b += &format!("    acc += {op} * c;\n");
            }
            b
        }
        _ => unreachable!(),
    };
    let step = if v.subgroups { "8u" } else { "1u" };
    s += &format!("  for (var k = 0u; k < P.k; k += {step}) {{\n{body}  }}\n");
    if v.width == 1 {
        s += "  outb[gid] = acc;\n}\n";
    } else {
        s += "  outb[gid] = acc.x + acc.y + acc.z + acc.w;\n}\n";
    }
    s
}

/// CPU reference for invocation gid: (value, sum of |terms| for the tolerance).
fn reference(v: &Variant, gid: u32, k_total: u32) -> (f32, f32) {
    let c = (gid & 15) as f32 * 0.0625 + 0.5;
    let d4 = |i: u32| [data(4 * i), data(4 * i + 1), data(4 * i + 2), data(4 * i + 3)];
    let lane = gid & 7; // llvmpipe: subgroups of 8 consecutive invocations (checked by this reference)
    let mut acc = [0f32; 4];
    let mut mag = 0f32;
    let mut add = |x: [f32; 4], acc: &mut [f32; 4]| {
        for q in 0..4 {
            acc[q] += x[q] * c;
            mag += (x[q] * c).abs();
        }
    };
    let mut k = 0;
    while k < k_total {
        match v.name {
            "base" => {
                let f = ((gid + k) & 4095) as f32 * (1.0 / 4096.0);
                add([f; 4], &mut acc)
            }
            "s_f32" => add([data((gid + k) & 16383), 0.0, 0.0, 0.0], &mut acc),
            "s_uni_f32" => add([data(k & 16383), 0.0, 0.0, 0.0], &mut acc),
            "s_vec4" | "u_vec4" | "tex_vec4" | "img_vec4" => add(d4((gid + k) & 4095), &mut acc),
            "s_uni_vec4" => add(d4(k & 4095), &mut acc),
            "wg_vec4" => add(d4((gid + k) & 1023), &mut acc),
            "sg_shuf_var" => {
                for j in 0..8 {
                    let src = (lane + j) & 7;
                    add(d4((gid - lane + src + k) & 4095), &mut acc)
                }
            }
            "sg_shuf_const" | "sg_bcast" => {
                for j in 0..8 {
                    add(d4((gid - lane + j + k) & 4095), &mut acc)
                }
            }
            _ => unreachable!(),
        }
        k += if v.subgroups { 8 } else { 1 };
    }
    (acc[0] + acc[1] + acc[2] + acc[3], mag)
}

struct Ctx {
    device: wgpu::Device,
    queue: wgpu::Queue,
    params: wgpu::Buffer,
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    storage: wgpu::Buffer,
    uniform: wgpu::Buffer,
    texture_view: wgpu::TextureView,
}

fn open() -> (Ctx, wgpu::AdapterInfo) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = wgpu::Backends::VULKAN;
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
    let adapter = adapters
        .into_iter()
        .find(|a| a.get_info().name.to_lowercase().contains("llvmpipe"))
        .expect("no llvmpipe Vulkan adapter");
    let info = adapter.get_info();
    let features = adapter.features() & wgpu::Features::SUBGROUP;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("probe"),
        required_features: features,
        required_limits: adapter.limits(),
        experimental_features: Default::default(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .expect("device");
    use wgpu::util::DeviceExt;
    let bytes: Vec<f32> = (0..LEN).map(data).collect();
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let out_size = MAX_GROUPS as u64 * 64 * 4;
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: out_size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: out_size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let storage = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&bytes),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&bytes),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let size = wgpu::Extent3d { width: 64, height: 64, depth_or_array_layers: 1 };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        wgpu::TexelCopyTextureInfo { texture: &texture, mip_level: 0, origin: wgpu::Origin3d::ZERO, aspect: wgpu::TextureAspect::All },
        bytemuck::cast_slice(&bytes),
        wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(64 * 16), rows_per_image: Some(64) },
        size,
    );
    let texture_view = texture.create_view(&Default::default());
    (Ctx { device, queue, params, out, staging, storage, uniform, texture_view }, info)
}

fn entry(binding: u32, ty: wgpu::BindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry { binding, visibility: wgpu::ShaderStages::COMPUTE, ty, count: None }
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
}

fn build(ctx: &Ctx, v: &Variant) -> Kernel {
    let d = &ctx.device;
    let src = shader(v);
    if std::env::var_os("PROBE_PRINT_WGSL").is_some() {
        eprintln!("--- {} ---\n{src}", v.name);
    }
    let module = d.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(v.name), source: wgpu::ShaderSource::Wgsl(src.into()) });
    let third = match v.bind {
        Bind::Storage => wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Storage { read_only: true }, has_dynamic_offset: false, min_binding_size: None },
        Bind::Uniform => wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Uniform, has_dynamic_offset: false, min_binding_size: None },
        Bind::Texture => wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        Bind::Image => wgpu::BindingType::StorageTexture {
            access: wgpu::StorageTextureAccess::ReadOnly,
            format: wgpu::TextureFormat::Rgba32Float,
            view_dimension: wgpu::TextureViewDimension::D2,
        },
    };
    let layout = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: None,
        entries: &[
            entry(0, wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Uniform, has_dynamic_offset: false, min_binding_size: None }),
            entry(1, wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Storage { read_only: false }, has_dynamic_offset: false, min_binding_size: None }),
            entry(2, third),
        ],
    });
    let pl = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: None, bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
    let pipeline = d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(v.name),
        layout: Some(&pl),
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let third_res = match v.bind {
        Bind::Storage => ctx.storage.as_entire_binding(),
        Bind::Uniform => ctx.uniform.as_entire_binding(),
        Bind::Texture | Bind::Image => wgpu::BindingResource::TextureView(&ctx.texture_view),
    };
    let bind_group = d.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &layout,
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: ctx.params.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: ctx.out.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 2, resource: third_res },
        ],
    });
    Kernel { pipeline, bind_group }
}

fn wait(ctx: &Ctx) {
    ctx.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).expect("poll");
}

/// One dispatch of `groups` workgroups, timed from submit to completion (seconds).
fn dispatch(ctx: &Ctx, k: &Kernel, groups: u32) -> f64 {
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&k.pipeline);
        pass.set_bind_group(0, &k.bind_group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }
    let cmd = enc.finish();
    wait(ctx);
    let t0 = Instant::now();
    ctx.queue.submit([cmd]);
    wait(ctx);
    t0.elapsed().as_secs_f64()
}

fn read_out(ctx: &Ctx, n: u32) -> Vec<f32> {
    let bytes = n as u64 * 4;
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(&ctx.out, 0, &ctx.staging, 0, bytes);
    ctx.queue.submit([enc.finish()]);
    let slice = ctx.staging.slice(0..bytes);
    slice.map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    wait(ctx);
    let v: Vec<f32> = bytemuck::cast_slice(&slice.get_mapped_range().expect("range")[..]).to_vec();
    ctx.staging.unmap();
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut k_total, mut target_ms, mut runs, mut hold) = (4096u32, 400.0f64, 5usize, 0.0f64);
    let mut names = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--k" => k_total = args.next().unwrap().parse().unwrap(),
            "--target-ms" => target_ms = args.next().unwrap().parse().unwrap(),
            "--runs" => runs = args.next().unwrap().parse().unwrap(),
            "--hold" => hold = args.next().unwrap().parse().unwrap(),
            "--list" => {
                for v in VARIANTS {
                    println!("{:14} {}", v.name, v.desc);
                }
                return;
            }
            "all" => names.extend(VARIANTS.iter().map(|v| v.name.to_string())),
            _ => names.push(a),
        }
    }
    assert!(k_total % 8 == 0 && k_total > 0);
    let caps = std::env::var("GALLIUM_OVERRIDE_CPU_CAPS").unwrap_or_else(|_| "native".into());
    let (ctx, info) = open();
    eprintln!("adapter: {} / {} / {} caps={caps} subgroup={}", info.name, info.driver, info.driver_info, ctx.device.features().contains(wgpu::Features::SUBGROUP));
    ctx.queue.write_buffer(&ctx.params, 0, bytemuck::cast_slice(&[k_total, 0u32, 0, 0]));
    for name in &names {
        let v = VARIANTS.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("unknown variant {name}; --list"));
        if v.subgroups && !ctx.device.features().contains(wgpu::Features::SUBGROUP) {
            println!("RESULT {name} {caps} skipped (no SUBGROUP)");
            continue;
        }
        let t_build = Instant::now();
        let kern = build(&ctx, v);
        // First dispatch also triggers llvmpipe's JIT compile: warm-up.
        let mut groups = 8u32;
        dispatch(&ctx, &kern, groups);
        let build_s = t_build.elapsed().as_secs_f64();
        // Calibrate to ~target_ms per dispatch.
        loop {
            let t = dispatch(&ctx, &kern, groups);
            if t * 1000.0 > target_ms * 0.25 || groups == MAX_GROUPS {
                groups = ((groups as f64 * target_ms / 1000.0 / t).round() as u32).clamp(1, MAX_GROUPS);
                break;
            }
            groups = (groups * 4).min(MAX_GROUPS);
        }
        dispatch(&ctx, &kern, groups); // warm-up at full size
        let mut times: Vec<f64> = (0..runs).map(|_| dispatch(&ctx, &kern, groups)).collect();
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let med = times[times.len() / 2];
        let n = groups * 64;
        // Correctness: every invocation of the first 2 workgroups and 62 spread over the grid.
        let out = read_out(&ctx, n);
        let mut worst = 0f32;
        let mut checked = 0;
        let sample: Vec<u32> = (0..128).chain((0..62).map(|i| (i as u64 * (n as u64 - 1) / 61) as u32)).collect();
        for gid in sample {
            let (r, mag) = reference(v, gid, k_total);
            let err = (out[gid as usize] - r).abs() / mag.max(1e-6);
            worst = worst.max(err);
            checked += 1;
            if err > 1e-4 {
                eprintln!("MISMATCH {name} gid {gid}: gpu {} cpu {r}", out[gid as usize]);
            }
        }
        let ok = if worst <= 1e-4 { "ok" } else { "FAIL" };
        let lane_iters = n as f64 * k_total as f64;
        let ns_per = med / lane_iters * 1e9;
        let gflops = lane_iters * v.width as f64 / med / 1e9;
        println!(
            "RESULT {name} {caps} groups={groups} med_ms={:.1} min_ms={:.1} max_ms={:.1} ns_per_lane_iter={:.4} Gfloat_per_s={:.3} check={ok}({checked},relerr={worst:.1e}) build_s={build_s:.2}",
            med * 1e3,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            ns_per,
            gflops
        );
        if hold > 0.0 {
            eprintln!("HOLD pid={} variant={name} for {hold}s", std::process::id());
            let t0 = Instant::now();
            while t0.elapsed().as_secs_f64() < hold {
                dispatch(&ctx, &kern, groups);
            }
        }
    }
}
