//! Shared test helpers: the GPU (failing loudly when there is none), random inputs, one-off launches.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use wgpu_gan::gpu::{Dispatch, Gpu, Program, Tensor};

/// The adapter for GPU tests. Without one the test fails and says what to install; it never passes
/// quietly.
pub fn gpu() -> Gpu {
    static ONCE: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| match Gpu::new() {
        Ok(g) => {
            eprintln!("adapter: {}", g.describe());
            g
        }
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
    .clone()
}

pub fn randv(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-scale..scale)).collect()
}

pub fn tensor(gpu: &Gpu, v: &[f32]) -> Tensor {
    Tensor::from_slice(gpu, "test", v).unwrap()
}

/// Runs one kernel once over `bufs` (ascending binding order) and waits.
pub fn launch(gpu: &Gpu, file: &'static str, entry: &'static str, params: &[u8], bufs: &[&Tensor], threads: Option<u32>) {
    let k = gpu.kernel(file, entry).unwrap();
    let b: Vec<&wgpu::Buffer> = bufs.iter().map(|t| &t.buffer).collect();
    let mut p = Program::default();
    p.push(Dispatch::new(gpu, &k, params, &b, threads).unwrap());
    p.run(gpu);
    gpu.wait().unwrap();
}

/// Prints and checks a GPU-vs-CPU comparison.
pub fn check(name: &str, got: &[f32], want: &[f32], tol: f32) {
    let e = wgpu_gan::max_rel_err(got, want);
    println!("{name:<48} max rel err {e:.3e}  (tol {tol:.0e}, {} values)", want.len());
    assert!(e <= tol, "{name}: max relative error {e:e} above {tol:e}");
}
