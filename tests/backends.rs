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

#[test]
fn each_backend_present_runs_a_kernel() {
    // Whatever backends this machine has (lavapipe's Vulkan and llvmpipe's GL here), each one
    // opens and computes the same thing.
    let mut ran = Vec::new();
    for b in [Backend::Vulkan, Backend::Metal, Backend::Dx12, Backend::Gl] {
        let Ok(gpu) = Gpu::with_options(&GpuOptions { backend: b, no_tune: true, ..Default::default() }) else { continue };
        let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.01 - 5.0).collect();
        let (tx, ty) = (common::tensor(&gpu, &x), common::tensor(&gpu, &[0.0; 1000]));
        let p = wgpu_gan::nn::activation::ActParams { n: 1000, slope: 0.2, ..Default::default() };
        common::launch(&gpu, &wgpu_gan::nn::activation::ActForward { entry: "leaky_relu_forward", x: &tx.buffer, out: &ty.buffer }, &p, Some(1000));
        let want = wgpu_gan::nn::activation::act_forward(wgpu_gan::nn::Act::LeakyRelu(0.2), &x);
        common::check(&format!("leaky_relu on {}", gpu.describe()), &ty.read(&gpu).unwrap(), &want, 0.0);
        ran.push(format!("{b:?}"));
    }
    println!("backends that ran: {ran:?}");
    assert!(!ran.is_empty(), "no backend could be opened");
}
