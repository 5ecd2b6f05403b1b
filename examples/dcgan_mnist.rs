//! R2, DCGAN on MNIST (SPEC.md §4): strided convolutions in D, transposed convolutions in G, batch
//! normalisation, LeakyReLU; Adam 2e-4 (0.5, 0.999), batch 64, non-saturating loss.
//!
//!     cargo run --release --example dcgan_mnist -- --mnist-dir ../shared/data/mnist
//!     cargo run --release --example dcgan_mnist -- --resume out/dcgan_mnist/checkpoint.safetensors
//!     cargo run --release --example dcgan_mnist -- --verify
//!
//! Writes out/dcgan_mnist/: samples_NNNNNN.png (fixed noise, every 250 iterations),
//! samples_final.png, loss_curve.png, losses.csv and checkpoint.safetensors.

#[path = "common/mnist_gan.rs"]
mod mnist_gan;

fn main() -> std::process::ExitCode {
    mnist_gan::main_with("dcgan_mnist", wgpu_gan::gan::GanConfig::r2, 20)
}
