//! # wgpu-gan
//!
//! Generative adversarial networks trained entirely by hand-written WGSL compute kernels, forward
//! and backward, through wgpu (Vulkan, Metal, DX12), each kernel checked against a CPU reference.
//!
//! - [`gpu`]: device and queue (created, or borrowed from your application), tensors, pipelines,
//!   prebuilt dispatches ([`gpu::Program`]) that record into any compute pass, readback.
//! - [`nn`]: layers, one module each (Linear, Conv2d, ConvTranspose2d, BatchNorm, activations)
//!   holding its CPU reference, kernel bindings and launches, and sequential networks
//!   ([`nn::CpuNet`], [`nn::GpuNet`]); [`models`]: R2, R5 and the FID classifier.
//! - [`loss`]: the GAN objectives, their CPU reference and kernels, and the step statistics.
//! - The CPU reference of every kernel sits beside its launch, named after its entry point
//!   (`nn::conv::conv2d_forward`, `loss::gan_loss_d_forward`, `rng::randn_fill`, ...; the two
//!   penalty kernels share one reference, `loss::gradient_penalty`).
//! - [`optim`]: SGD with momentum, Adam, RMSprop.
//! - [`gan`]: the alternating D/G training procedure ([`gan::GpuGan`], [`gan::CpuGan`]),
//!   verification against the reference, checkpoints ([`checkpoint`], safetensors).
//! - [`data`], [`metrics`], [`plot`]: toy mixtures and MNIST, mode coverage (M1) and FID-MNIST
//!   (M2), scatter plots, image grids and loss curves.
//!
//! ```
//! use wgpu_gan::{gan::{GanConfig, GpuGan}, data::Mixture, gpu::Gpu};
//! let gpu = Gpu::new()?;                       // or Gpu::from_device(device, queue)
//! let cfg = GanConfig::r1(Mixture::ring(), 2, 128);
//! let (g, d) = cfg.init_params();
//! let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 2500)?;
//! gan.train_steps(20);                         // one submission per step
//! println!("{:?}", gan.stats()?);
//! let points = gan.sample(2500, 7, wgpu_gan::nn::Mode::Eval)?;
//! # Ok::<(), wgpu_gan::Error>(())
//! ```

pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli;
pub mod data;
#[doc(hidden)]
pub mod fuzz;
pub mod error;
pub mod gan;
pub mod loss;
pub mod gpu;
pub mod interop;
pub mod layers;
pub mod metrics;
pub mod models;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod nn;
#[doc(hidden)]
pub mod ops;
pub mod optim;
pub mod plot;
pub mod rng;

pub use error::{Error, Result};

/// Max relative error in the max norm: max |got − want| / max |want| (with max |want| floored at
/// 1e-30 so that two zero tensors compare as 0). Elementwise relative error is meaningless for
/// entries near zero (a gradient sum that cancels), so every GPU-vs-CPU figure in this crate is
/// this one.
///
/// ```
/// use wgpu_gan::max_rel_err;
/// assert_eq!(max_rel_err(&[1.0, 4.5], &[1.0, 4.0]), 0.125); // 0.5 / 4
/// assert_eq!(max_rel_err(&[0.0; 3], &[0.0; 3]), 0.0);
/// assert!(max_rel_err(&[f32::NAN], &[1.0]).is_nan());
/// ```
pub fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "comparing tensors of different lengths");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    if got.iter().chain(want).any(|v| !v.is_finite()) {
        return f32::NAN;
    }
    let diff = got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}
