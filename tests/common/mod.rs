//! Shared test helpers: the GPU (failing loudly when there is none), random inputs, one-off launches.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use wgpu_gan::gpu::{Bindings, Dispatch, Gpu, Program, Tensor};

/// The adapter for GPU tests. Without one the test fails and says what to install; it never passes
/// quietly.
pub fn gpu() -> Gpu {
    static ONCE: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
    // Without kernel tuning: the tests choose their kernels themselves (tests/conv_gemm.rs runs
    // every candidate), and a test run should neither time candidates nor write a cache file.
    let options = wgpu_gan::gpu::GpuOptions { no_tune: true, ..wgpu_gan::gpu::GpuOptions::from_env() };
    ONCE.get_or_init(|| match Gpu::with_options(&options) {
        Ok(g) => {
            eprintln!("adapter: {}", g.describe());
            g
        }
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
    .clone()
}

/// The convolution families this adapter can run: the direct kernels and the tiled (GPU) family
/// always, the software adapter's subgroup family where the device has 8-wide subgroups (it says
/// so when not).
pub fn kernel_families() -> Vec<wgpu_gan::ops::conv_gemm::KernelFamily> {
    use wgpu_gan::ops::conv_gemm::KernelFamily;
    let g = gpu();
    // The tiled (GPU) family runs anywhere; the subgroup one only with 8-wide subgroups.
    if KernelFamily::Gemm.runs_on(&g.device, g.info.as_ref()) {
        vec![KernelFamily::Direct, KernelFamily::Gemm, KernelFamily::Tiled]
    } else {
        eprintln!("this adapter has no 8-wide subgroups: the subgroup kernel family is not tested");
        vec![KernelFamily::Direct, KernelFamily::Tiled]
    }
}

/// The test device with the given convolution family (the subgroup family reading its operands
/// from buffers, unless `WGPU_GAN_OPERANDS=textures`).
pub fn gpu_with(family: wgpu_gan::ops::conv_gemm::KernelFamily) -> Gpu {
    use wgpu_gan::ops::Operands;
    let g = family.on(&gpu());
    match Operands::from_env() {
        Some(o) if family == wgpu_gan::ops::KernelFamily::Gemm => o.on(&g),
        _ => g,
    }
}

/// Every way this adapter can run the layers: each of [`kernel_families`], and the subgroup
/// family once more reading its operands through textures ([`wgpu_gan::ops::Operands`]); named
/// for the messages.
pub fn kernel_variants() -> Vec<(String, Gpu)> {
    use wgpu_gan::ops::{KernelFamily, Operands};
    let mut out = Vec::new();
    for f in kernel_families() {
        if f == KernelFamily::Gemm {
            for o in Operands::ALL {
                out.push((format!("{}, operands from {}", f.name(), o.name()), o.on(&f.on(&gpu()))));
            }
        } else {
            out.push((f.name().to_string(), gpu_with(f)));
        }
    }
    out
}

pub fn randv(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-scale..scale)).collect()
}

pub fn tensor(gpu: &Gpu, v: &[f32]) -> Tensor {
    Tensor::from_slice(gpu, "test", v).unwrap()
}

/// Runs one kernel once (its typed bindings and uniform) and waits.
pub fn launch<B: Bindings>(gpu: &Gpu, bindings: &B, params: &B::Params, threads: Option<u32>) {
    let mut p = Program::default();
    p.push(Dispatch::new(gpu, bindings, params, threads).unwrap());
    p.run(gpu);
    gpu.wait().unwrap();
}

/// Prints and checks a GPU-vs-CPU comparison.
pub fn check(name: &str, got: &[f32], want: &[f32], tol: f32) {
    let e = wgpu_gan::max_rel_err(got, want);
    println!("{name:<48} max rel err {e:.3e}  (tol {tol:.0e}, {} values)", want.len());
    assert!(e <= tol, "{name}: max relative error {e:e} above {tol:e}");
}

/// Σ y·r in f64: the scalar whose gradient with respect to y is r.
pub fn weighted(y: &[f32], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// Central differences (loss(x + h) − loss(x − h)) / 2h with respect to each entry of `x`.
pub fn numeric_h(x: &[f32], loss: &dyn Fn(&[f32]) -> f64, h: f32) -> Vec<f32> {
    (0..x.len())
        .map(|i| {
            let mut p = x.to_vec();
            p[i] += h;
            let lp = loss(&p);
            p[i] -= 2.0 * h;
            let lm = loss(&p);
            ((lp - lm) / (2.0 * h as f64)) as f32
        })
        .collect()
}
pub mod layer;

/// The text of every Rust file under the crate's `src/` (for tests that check the declarations
/// written there).
pub fn crate_sources() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut sources = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut sources);
    sources
}

