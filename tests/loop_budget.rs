//! The loop budget of the software adapter (llvmpipe silently stops looping after 65,535
//! iterations per invocation) and the guard that keeps every launch under it.

mod common;
use wgpu_gan::gpu::budget::{self, plan_tiles, LOOP_BUDGET, TILE_TRIPS};
use wgpu_gan::gpu::SHADERS;
use wgpu_gan::gpu::Bindings;
use wgpu_gan::nn::conv::{ConvBackwardWeight, ConvForward, ConvParams};
use wgpu_gan::nn::{ConvSpec, GpuNet, Grads, Init, Layer, Mode, NetSpec};

/// The kernel declarations (`kernel!` and hand-written `Bindings`) under `src/`, as (file,
/// entry point): found by reading the sources, so that a declaration is written in one place only.
fn declared_entry_points() -> Vec<(String, String)> {
    let sources = common::crate_sources();
    let quoted = |list: &str| list.split(',').map(|e| e.trim().trim_matches('"').to_string()).filter(|e| !e.is_empty()).collect::<Vec<_>>();
    let mut found = Vec::new();
    for src in &sources {
        // `pub Name = "file" :: "entry"` or `:: ["a", "b"]` inside kernel! { .. }
        for (i, _) in src.match_indices(" :: ") {
            let before = &src[..i];
            let Some(q) = before.strip_suffix('"') else { continue };
            let Some(start) = q.rfind('"') else { continue };
            let file = &q[start + 1..];
            let after = &src[i + 4..];
            let entries = if let Some(rest) = after.strip_prefix('[') {
                quoted(&rest[..rest.find(']').unwrap()])
            } else if let Some(rest) = after.strip_prefix('"') {
                vec![rest[..rest.find('"').unwrap()].to_string()]
            } else {
                continue;
            };
            found.extend(entries.into_iter().map(|e| (file.to_string(), e)));
        }
        // impl Bindings by hand: const FILE = "file"; const ENTRIES = &["a", ..];
        for (i, _) in src.match_indices("const FILE: &'static str = \"") {
            let rest = &src[i + 28..];
            let file = &rest[..rest.find('"').unwrap()];
            let ent = &rest[rest.find("const ENTRIES").unwrap()..];
            let list = &ent[ent.find("= &[").unwrap() + 4..];
            let list = &list[..list.find(']').unwrap()];
            found.extend(quoted(list).into_iter().map(|e| (file.to_string(), e)));
        }
    }
    found
}

/// Every entry point of every shader has a declaration, and with it a loop bound (`kernel!`
/// does not compile without one, and `Bindings::trips` has no default): so no kernel can be
/// launched past the guard. Lists the entry points that have none.
#[test]
fn every_kernel_declares_its_loop_bound() {
    let declared = declared_entry_points();
    let mut missing = Vec::new();
    let mut count = 0;
    for (file, _) in SHADERS {
        let (module, _) = wgpu_gan::gpu::validate(file, &wgpu_gan::gpu::source(file).unwrap()).unwrap();
        for ep in &module.entry_points {
            count += 1;
            if !declared.iter().any(|(f, e)| f == file && *e == ep.name) {
                missing.push(format!("{file}::{}", ep.name));
            }
        }
    }
    println!("{count} entry points, {} declarations found in src/, {} entry points without one", declared.len(), missing.len());
    assert!(count > 90 && declared.len() >= count, "the scan of src/ found too little: {declared:?}");
    assert!(missing.is_empty(), "entry points without a kernel! declaration (and so without a loop bound): {missing:?}");
    // A declaration's bound is its own formula over its own uniform.
    let p = ConvParams::new(&ConvSpec::new(3, 5, 8, 8, 4, 2, 1).shape(2, false), 0);
    let (ci, kh, kw) = (p.cin as u64, p.kh as u64, p.kw as u64);
    assert_eq!(ConvForward::trips("conv2d_forward", &p), (ci + 1) + ci * (kh + 1) + ci * kh * (kw + 1) + budget::STORE4X4);
}

/// The budget we guard is not larger than the real one: a kernel that loops N times and counts
/// returns min(N, limit) on llvmpipe (opened by name, so the check runs even beside a hardware GPU).
#[test]
fn llvmpipe_stops_loops_where_the_budget_says() {
    let gpu = software_adapter();
    let src = "@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn count_loop() {
    var c = 0u;
    for (var i = 0u; i < out[0]; i++) { c += 1u; }
    out[1] = c;
}";
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("loop"), source: wgpu::ShaderSource::Wgsl(src.into()) });
    let pipeline = gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("loop"),
        layout: None,
        module: &module,
        entry_point: Some("count_loop"),
        compilation_options: Default::default(),
        cache: None,
    });
    for n in [1000u32, 65_534, 70_000, 200_000] {
        let t = wgpu_gan::gpu::Tensor::from_slice(&gpu, "loop", &[n, 0u32]).unwrap();
        let bind = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: t.buffer.as_entire_binding() }],
        });
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        gpu.queue.submit([enc.finish()]);
        let got = t.read(&gpu).unwrap()[1].to_bits();
        println!("loop of {n} trips ran {got} ({})", gpu.describe());
        assert!(got <= n);
        if got < n {
            // Truncated: then the guard's budget must not exceed what the adapter really allows.
            assert!(gpu.loop_budget().is_some(), "loops truncated on an adapter the guard does not watch");
            assert!(LOOP_BUDGET <= got as u64 + 1, "guarded budget {LOOP_BUDGET} exceeds the measured {got}");
        } else if n as u64 > LOOP_BUDGET && gpu.loop_budget().is_some() {
            println!("  (this adapter has no loop limiter; the guard is conservative here)");
        }
    }
}

/// Mesa's software adapter, whatever else the machine has; without it the test fails and says what
/// to install.
fn software_adapter() -> wgpu_gan::gpu::Gpu {
    let gpu = wgpu_gan::gpu::Gpu::with_options(&wgpu_gan::gpu::GpuOptions { adapter_name: Some("llvmpipe".into()), no_tune: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("this test needs the software adapter (apt-get install mesa-vulkan-drivers): {e}"));
    assert!(gpu.loop_budget().is_some(), "{} should be a CPU adapter with a loop budget", gpu.describe());
    gpu
}

/// A launch past the budget is an error naming the kernel and the shape, on the software adapter.
#[test]
fn guard_refuses_launches_past_the_budget() {
    // The guard itself, whatever the adapter: past the budget it refuses, without one it passes.
    let p = ConvParams::new(&ConvSpec::new(1, 1, 1, 70_000, 1, 1, 0).shape(1, false), 0);
    let trips = ConvBackwardWeight::trips("conv2d_backward_weight", &p);
    assert!(trips > LOOP_BUDGET, "{trips}");
    assert!(budget::check("conv::conv2d_backward_weight", trips, bytemuck::bytes_of(&p), None).is_ok());
    let err = budget::check("conv::conv2d_backward_weight", trips, bytemuck::bytes_of(&p), Some(LOOP_BUDGET)).unwrap_err().to_string();
    assert!(err.contains("conv::conv2d_backward_weight") && err.contains(&trips.to_string()), "{err}");
    // The network-level refusals happen on a CPU adapter, so this part opens the software adapter
    // by name even where a hardware GPU is present; without it the test fails and says what to install.
    let gpu = software_adapter();
    // A Linear layer with 70,001 inputs: its forward kernel loops over all of them in one
    // invocation, a reduction that is not split (its length does not grow with the batch).
    let spec = NetSpec { layers: vec![Layer::linear(70_001, 1)] };
    let params = spec.init(1, 0, Init::PyTorch);
    let net = GpuNet::new(&gpu, spec, &params, 2, 1, "wide").unwrap();
    let (x, y) = (common::tensor(&gpu, &vec![0.0; 2 * 70_001]), common::tensor(&gpu, &[0.0; 2]));
    let err = match net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train) {
        Ok(_) => panic!("a forward pass looping 70,000 times per invocation was accepted"),
        Err(e) => e.to_string(),
    };
    println!("guard: {err}");
    assert!(err.contains("linear::linear_forward") && err.contains("loop iterations"), "error should name the kernel and its count: {err}");

    // A score (OUT = 1) with 70,000 inputs: `linear_forward_thin_out` loops over IN / 4 = 17,500
    // vec4s, which fits; with 280,000 inputs (70,000 vec4s) it is refused.
    let score = |inp: usize| {
        let spec = NetSpec { layers: vec![Layer::linear(inp, 1)] };
        let params = spec.init(1, 0, Init::PyTorch);
        let net = GpuNet::new(&gpu, spec, &params, 2, 1, "score").unwrap();
        let x = common::tensor(&gpu, &vec![0.0; 2 * inp]);
        net.forward(&gpu, 0, &x.buffer, &y.buffer, 2, Mode::Train).map(|_| ())
    };
    assert!(score(70_000).is_ok(), "17,500 vec4 steps fit the budget");
    let err = score(280_000).err().expect("a thin forward pass looping 70,000 times per invocation was accepted").to_string();
    println!("guard: {err}");
    assert!(err.contains("linear::linear_forward_thin_out"), "{err}");

    // Four outputs and 70,000 inputs go through the vec4 product (gemm_nt with the direct
    // kernels), 17,500 steps of 8 rows.
    let wide = |g: &wgpu_gan::gpu::Gpu, inp: usize| {
        let spec = NetSpec { layers: vec![Layer::linear(inp, 4)] };
        let params = spec.init(1, 0, Init::PyTorch);
        let net = GpuNet::new(g, spec, &params, 2, 1, "wide4").unwrap();
        let (x, y) = (common::tensor(g, &vec![0.0; 2 * inp]), common::tensor(g, &[0.0; 8]));
        net.forward(g, 0, &x.buffer, &y.buffer, 2, Mode::Train).map(|_| ())
    };
    let direct = common::gpu_with(wgpu_gan::ops::conv_gemm::KernelFamily::Direct);
    let err = wide(&direct, 70_000).err().expect("a forward pass looping 175,000 times per invocation was accepted").to_string();
    println!("guard: {err}");
    assert!(err.contains("gemm::gemm_nt"), "{err}");
    // The subgroup product (the software adapter's family) loops once per vec4 step: 17,500
    // passes, 280,000 inputs (70,000 steps) do not.
    if common::kernel_families().contains(&wgpu_gan::ops::conv_gemm::KernelFamily::Gemm) {
        let sg = common::gpu_with(wgpu_gan::ops::conv_gemm::KernelFamily::Gemm);
        assert!(wide(&sg, 70_000).is_ok(), "17,500 steps fit the budget");
        let err = wide(&sg, 280_000).err().expect("a subgroup product looping 70,000 times per invocation was accepted").to_string();
        println!("guard: {err}");
        assert!(err.contains("conv_gemm::sgemm_nt"), "{err}");
    }

    // A convolution whose output rows are 70,000 wide: even a tile of one sample × one row is
    // past the budget in the direct kernels' weight gradient (the software adapter's family
    // splits that product along the positions, so this is the direct family's case).
    let gpu = common::gpu_with(wgpu_gan::ops::conv_gemm::KernelFamily::Direct);
    let spec = NetSpec { layers: vec![Layer::Conv2d(ConvSpec::new(1, 1, 1, 70_000, 1, 1, 0))] };
    let params = spec.init(1, 0, Init::PyTorch);
    let net = GpuNet::new(&gpu, spec, &params, 1, 1, "long").unwrap();
    let (x, dy) = (common::tensor(&gpu, &vec![0.0; 70_000]), common::tensor(&gpu, &vec![0.0; 70_000]));
    let err = match net.backward(&gpu, 0, &x.buffer, &dy.buffer, None, 1, Grads::Write) {
        Ok(_) => panic!("a weight gradient looping 70,000 times per invocation was accepted"),
        Err(e) => e.to_string(),
    };
    println!("guard: {err}");
    assert!(err.contains("conv::conv2d_backward_weight"), "{err}");

}

/// Tiles cover the whole range, fit the tile target, and get smaller for parallelism only down to
/// the minimum.
#[test]
fn tiles_cover_the_reduction_within_the_target() {
    for &(n, oh, ow, blocks) in &[(1u32, 1u32, 1u64, 1u64), (64, 14, 14, 256), (1024, 14, 14, 256), (1024, 7, 7, 8192), (83, 28, 28, 1), (5000, 1, 1, 2), (3, 300, 300, 16)] {
        let trips = |np: u64, yp: u64| 1 + np + np * (yp + 1) + np * yp * (ow + 1);
        let t = plan_tiles(n, oh, blocks, budget::PARALLEL_INVOCATIONS_GPU, 4 * (oh as u64) * ow, trips);
        println!("n={n} rows={oh} cols={ow} per-tile {blocks}: {t:?}, {} trips per invocation", trips(t.n_per as u64, t.y_per as u64));
        assert!(t.n_per as u64 * t.n_tiles as u64 >= n as u64 && (t.n_tiles - 1) * t.n_per < n, "{t:?} must cover {n} samples exactly");
        assert!(t.y_per as u64 * t.y_tiles as u64 >= oh as u64 && (t.y_tiles - 1) * t.y_per < oh, "{t:?} must cover {oh} rows");
        assert!(trips(t.n_per as u64, t.y_per as u64) <= TILE_TRIPS, "{t:?} over the tile target");
    }
}
