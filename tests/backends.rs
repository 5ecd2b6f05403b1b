//! Choosing the backend, the adapter and the limits: a training step under wgpu's portable
//! default limits, clear errors (never panics) for a backend or adapter that is not there and for
//! limits too small for a kernel.

mod common;
use std::sync::Arc;
use wgpu_gan::gan::{verify, GanConfig, GpuGan, Table};
use wgpu_gan::gpu::{Backend, Gpu, GpuOptions, LimitsChoice};

fn r2(batch: usize) -> GanConfig {
    let rows = wgpu_gan::rng::uniform_fill(3, 1, 64 * 784, -1.0, 1.0);
    let mut cfg = GanConfig::r2(Arc::new(Table::new(rows, 784).unwrap()));
    cfg.batch = batch;
    cfg
}

/// wgpu's default limits are what every native Vulkan, Metal and DX12 adapter offers (WebGPU's):
/// an R2 step that runs under them runs anywhere. Judged against the CPU reference as --verify does.
#[test]
fn r2_step_runs_under_portable_default_limits() {
    let gpu = Gpu::with_options(&GpuOptions { limits: LimitsChoice::Default, no_tune: true, ..GpuOptions::from_env() })
        .unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"));
    let l = gpu.device.limits();
    println!("adapter: {}; opened with max_storage_buffers_per_shader_stage {}, max_storage_buffer_binding_size {}", gpu.describe(), l.max_storage_buffers_per_shader_stage, l.max_storage_buffer_binding_size);
    assert_eq!(l.max_storage_buffers_per_shader_stage, wgpu::Limits::defaults().max_storage_buffers_per_shader_stage);
    let v = verify(&gpu, &r2(8), 1, 8, 3).unwrap();
    println!("{v}");
    assert!(v.passed(1e-4), "R2 step under default limits differs from the CPU reference: {}", v.judged());
}

/// The downlevel limits allow 4 storage buffers per stage; Adam needs 5. Building the step must
/// fail with the kernel's name, not panic inside wgpu.
#[test]
fn too_small_limits_name_the_kernel() {
    let gpu = Gpu::with_options(&GpuOptions { limits: LimitsChoice::Downlevel, no_tune: true, ..GpuOptions::from_env() }).unwrap();
    let cfg = r2(4);
    let (g, d) = cfg.init_params();
    let err = match GpuGan::new(&gpu, cfg, &g, &d, 4) {
        Ok(_) => panic!("an R2 step was built under limits its kernels exceed"),
        Err(e) => e.to_string(),
    };
    println!("downlevel: {err}");
    assert!(err.contains("kernel ") && err.contains("storage buffers per shader stage"), "{err}");
}

#[test]
fn a_missing_backend_or_adapter_lists_what_was_found() {
    // Metal exists only on Apple platforms, DX12 only on Windows.
    let absent = if cfg!(target_os = "macos") { Backend::Dx12 } else { Backend::Metal };
    let err = Gpu::with_options(&GpuOptions { backend: absent, ..Default::default() }).err().expect("no such backend here").to_string();
    println!("{absent:?}: {err}");
    assert!(err.contains(&format!("no {absent:?} adapter")) && err.contains("found:"), "{err}");
    assert!(err.contains("mesa-vulkan-drivers") && err.contains("--cpu"), "the message should say what to do: {err}");

    let err = Gpu::with_options(&GpuOptions { adapter_name: Some("no-such-gpu-xyz".into()), ..Default::default() }).err().expect("no such adapter").to_string();
    println!("adapter name: {err}");
    assert!(err.contains("no-such-gpu-xyz") && err.contains("found:"), "{err}");
    // What was found is listed by name, so the user can pick one.
    let gpu = common::gpu();
    let name = gpu.info.as_ref().unwrap().name.clone();
    assert!(err.contains(&name), "the adapter in use ({name}) should be listed: {err}");
}

/// The backends this machine has: those on which wgpu enumerates at least one adapter.
fn present_backends() -> Vec<Backend> {
    let mut present = Vec::new();
    for (b, mask) in [(Backend::Vulkan, wgpu::Backends::VULKAN), (Backend::Metal, wgpu::Backends::METAL), (Backend::Dx12, wgpu::Backends::DX12), (Backend::Gl, wgpu::Backends::GL)] {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = mask;
        if !pollster::block_on(wgpu::Instance::new(desc).enumerate_adapters(mask)).is_empty() {
            present.push(b);
        }
    }
    present
}

/// Every backend the machine has (lavapipe's Vulkan and llvmpipe's GL here) opens as the main
/// command opens it, kernel families timed and kernels tuned (into a scratch cache), and runs
/// training steps of R1 (the main command's model) and R2 (convolutions, batch norm) that agree
/// with the CPU reference as --verify judges them. A backend that is present but cannot open or
/// run fails the test: none is skipped.
#[test]
fn each_backend_present_trains_with_tuning_on() {
    let present = present_backends();
    println!("backends present: {present:?}");
    assert!(!present.is_empty(), "no backend has an adapter: install mesa-vulkan-drivers");
    let scratch = std::env::temp_dir().join(format!("wgpu-gan-backends-{}", std::process::id()));
    let mut failed = Vec::new();
    for b in present {
        let o = GpuOptions { backend: b, tune_dir: Some(scratch.clone()), ..GpuOptions::from_env() };
        let run = || -> Result<String, String> {
            let gpu = Gpu::with_options(&o).map_err(|e| e.to_string())?;
            assert!(gpu.tuning(), "tuning should be on for this test");
            let mut out = format!("{}: ", gpu.describe());
            let r1 = GanConfig::r1(wgpu_gan::data::Mixture::ring(), 2, 128);
            for (name, cfg, steps) in [("R1", r1, 2), ("R2", r2(8), 1)] {
                let v = verify(&gpu, &cfg, steps, cfg.batch.min(64), 3).map_err(|e| format!("{name}: {e}"))?;
                if !v.passed(1e-4) {
                    return Err(format!("{name} differs from the CPU reference: {}", v.judged()));
                }
                out += &format!("{name} ok ({:.2e}); ", v.judged());
            }
            Ok(out)
        };
        match run() {
            Ok(s) => println!("{b:?}: {s}"),
            Err(e) => failed.push(format!("{b:?}: {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failed.is_empty(), "a backend this machine has cannot train: {}", failed.join("\n"));
}

/// A device opened without subgroups (`--no-subgroups`, as GL runs) refuses the subgroup module
/// with an error that names it, while the packing kernels build, and the kernel families it
/// offers are the ones that need no optional feature.
#[test]
fn without_subgroups_the_subgroup_module_is_refused_by_name() {
    let gpu = Gpu::with_options(&GpuOptions { no_subgroups: true, no_tune: true, ..GpuOptions::from_env() }).unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"));
    assert!(!gpu.device.features().contains(wgpu::Features::SUBGROUP), "opened with subgroups although asked not to");
    let err = gpu.kernel("conv_gemm", "sgemm_nt").err().expect("a subgroup kernel built on a device without subgroups").to_string();
    println!("sgemm_nt without subgroups: {err}");
    assert!(err.contains("conv_gemm") && err.contains("without subgroup"), "{err}");
    for entry in ["im2col", "im2col_cols", "col2im", "col2im_phase", "tap_weights"] {
        gpu.kernel("pack", entry).unwrap_or_else(|e| panic!("pack::{entry} should build without subgroups: {e}"));
    }
    gpu.kernel("tiled", "tgemm_nt").unwrap_or_else(|e| panic!("the tiled product should build without subgroups: {e}"));
    let families = wgpu_gan::ops::conv_gemm::KernelFamily::candidates(&gpu.device, gpu.info.as_ref());
    let chosen = wgpu_gan::ops::conv_gemm::KernelFamily::of(&gpu);
    println!("families without subgroups: {families:?}; chosen {}", chosen.name());
    assert!(!families.contains(&wgpu_gan::ops::conv_gemm::KernelFamily::Gemm), "{families:?}");
    assert_ne!(chosen, wgpu_gan::ops::conv_gemm::KernelFamily::Gemm);
}

/// wgpu's validation errors become the crate's errors, never wgpu's default panic: one raised
/// while building (a buffer larger than the device allows) names what was being built, and one
/// raised by submitted work (a write past a buffer's end) comes back from `wait`.
#[test]
fn wgpu_validation_errors_are_errors() {
    // A device of its own: the shared one's other users must not see (or take) this error.
    let gpu = Gpu::with_options(&GpuOptions { no_tune: true, ..GpuOptions::from_env() }).unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"));
    let too_big = gpu.device.limits().max_buffer_size + 4;
    let err = gpu
        .checked("an oversized test buffer", || gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some("too big"), size: too_big, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false }))
        .expect_err("a buffer over max_buffer_size was created without an error")
        .to_string();
    println!("building: {err}");
    assert!(err.contains("an oversized test buffer"), "{err}");

    let t = common::tensor(&gpu, &[0.0; 4]);
    gpu.queue.write_buffer(&t.buffer, 8, bytemuck::cast_slice(&[1.0f32; 4]));
    let err = gpu.wait().expect_err("a write past the end of a buffer was not reported").to_string();
    println!("submitted: {err}");
    assert!(err.contains("wgpu rejected"), "{err}");
    // Reported once: the device goes on working.
    gpu.wait().expect("the error was reported twice");
    assert_eq!(t.read(&gpu).unwrap(), vec![0.0; 4]);
}

/// The kernel family is an option of the device: the one named is what the layers run, and a
/// family the device cannot run (subgroup products without subgroups) is refused when opening.
#[test]
fn the_kernel_family_is_an_option_of_the_device() {
    use wgpu_gan::gpu::KernelFamily;
    for family in [KernelFamily::Direct, KernelFamily::Tiled] {
        let gpu = Gpu::with_options(&GpuOptions { kernels: Some(family), no_tune: true, ..GpuOptions::from_env() }).unwrap();
        assert_eq!(KernelFamily::of(&gpu), family);
        assert_eq!(wgpu_gan::ops::choose_family(&gpu), family, "a family named beforehand is not timed away");
        assert!(gpu.describe().contains(family.name()), "{}", gpu.describe());
    }
    let err = Gpu::with_options(&GpuOptions { kernels: Some(KernelFamily::Gemm), no_subgroups: true, no_tune: true, ..GpuOptions::from_env() }).err().expect("no subgroups, no subgroup kernels").to_string();
    println!("{err}");
    assert!(err.contains("subgroup-gemm") && err.contains("8 lanes"), "{err}");
}
