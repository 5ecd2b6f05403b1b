//! R5, the 2014-style dense GAN on MNIST (SPEC.md §4): G z(100)→256→512→784, D 784→512→256→1,
//! LeakyReLU(0.2), Tanh output; Adam (0.5, 0.999) with G at 1e-3 and D at 2e-4, batch 64,
//! non-saturating loss, 32 epochs (4,000 iterations). Cheap enough to show digits on a software
//! adapter in about 8 minutes (2 cores).
//!
//!     cargo run --release --example mlp_gan_mnist -- --mnist-dir ../shared/data/mnist
//!
//! Writes out/mlp_gan_mnist/ (same files as dcgan_mnist). --verify, --resume as there.

#[path = "common/mnist_gan.rs"]
mod mnist_gan;

fn main() -> std::process::ExitCode {
    mnist_gan::main_with("mlp_gan_mnist", wgpu_gan::gan::GanConfig::r5, 32)
}
