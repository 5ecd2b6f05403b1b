#!/usr/bin/env bash
# The paths a device without subgroup operations takes (wgpu's GL backend, WebGPU without the
# `subgroups` feature, devices opened with downlevel limits), run on the software adapter in CI:
#   1. the device opened without SUBGROUP (WGPU_GAN_SUBGROUPS=off, every example's --no-subgroups):
#      the kernel-family tests, --verify for R1, R2 (also at batch 320) and R4, and a short run of
#      every example, the
#      kernel families timed and kernels tuned as a user's first run does them;
#   2. the GL backend, where the machine has it (Mesa's llvmpipe through EGL): --verify for the
#      three training examples.
# Usage: bash scripts/portable_paths.sh   (needs $MNIST_DIR, or tests/data/mnist is used)
set -euo pipefail
cd "$(dirname "$0")/.."
export MNIST_DIR="${MNIST_DIR:-$(pwd)/tests/data/mnist}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# A scratch tuning cache, so that this run times the families and tiles as a first run would.
export WGPU_GAN_CACHE_DIR="$out/cache"
run() { local t=$SECONDS; echo "+ $*"; "$@"; echo "+ $(( SECONDS - t )) s"; }
ex() { run cargo run --release --quiet --example "$@"; }

echo "== without subgroups"
export WGPU_GAN_SUBGROUPS=off
run cargo test --release --test conv_gemm --test conv --test conv_transpose --test fusion --test linear \
  --test batchnorm --test penalty --test train_step --test train_smoke -- --show-output
ex gaussian_ring -- --verify
ex dcgan_mnist -- --verify
ex dcgan_mnist -- --verify --loss wgan-gp
# Batch 320: every reduction longer than one invocation may loop on llvmpipe, in the family chosen
# without subgroups (tiled or direct, as timed on this machine).
ex dcgan_mnist -- --verify --verify-batch 320 --verify-steps 1
ex gaussian_ring -- --steps 300 --out "$out/ring"
ex dcgan_mnist -- --iters 4 --sample-every 2 --checkpoint-every 2 --out "$out/dcgan"
ex dcgan_mnist -- --iters 6 --resume "$out/dcgan/checkpoint.safetensors" --out "$out/dcgan"
ex cgan_mnist -- --iters 3 --out "$out/cgan"
ex mlp_gan_mnist -- --iters 3 --out "$out/mlp"
ex dcgan -- --image-size 32 --ngf 8 --ndf 8 --images 200 --iters 3 --out "$out/r6"
ex dcgan -- --image-size 32 --ngf 8 --ndf 8 --nz 16 --verify --verify-batch 4
ex evaluate -- --checkpoint "$out/dcgan/checkpoint.safetensors" --classifier "$out/classifier.safetensors" --classifier-epochs 1 --n 200
ex dcgan_bench -- --batches 8 --iters 2 --warmup 1
ex ring_bench -- --batches 64 --iters 20 --reps 1
ex kernel_bench -- --models r1,r2 --batches 8 --reps 1
unset WGPU_GAN_SUBGROUPS

echo "== GL backend"
if ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 && ls /usr/lib/*/libEGL.so.1 >/dev/null 2>&1; then
  ex gaussian_ring -- --backend gl --verify
  ex dcgan_mnist -- --backend gl --verify
  ex cgan_mnist -- --backend gl --verify
else
  echo "GL: Mesa's EGL and DRI drivers are not installed (libegl1 libegl-mesa0 libgl1-mesa-dri): install them to test the GL path"
  exit 1
fi
