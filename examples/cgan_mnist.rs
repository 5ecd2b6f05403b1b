//! R3, CGAN-MNIST (SPEC.md §4): R2 with the digit's label given to both networks, a one-hot label
//! after z and 10 constant label planes after the image. The same loop, files, checkpoints,
//! `--resume` and `--verify` as `dcgan_mnist`; the sample grids are 10 × 10 with one class per row.
//!
//!     cargo run --release --example cgan_mnist -- --mnist-dir ../shared/data/mnist
//!     cargo run --release --example cgan_mnist -- --verify
//!     cargo run --release --example cgan_mnist -- --digit 7 --count 64      # from its checkpoint
//!     cargo run --release --example evaluate -- --model r3 --checkpoint out/cgan_mnist/checkpoint.safetensors
//!                                                                        # FID-MNIST and M3

#[path = "common/mnist_gan.rs"]
mod mnist_gan;

fn main() -> std::process::ExitCode {
    mnist_gan::main_with("cgan_mnist", wgpu_gan::gan::GanConfig::r3, 20)
}
