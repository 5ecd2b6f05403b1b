#!/bin/bash
# One prepared measurement for a session that is lent a GPU machine (no Rust, no Vulkan loader
# there): run it through the device tool from the repository root, after building here and
# copying the binaries into .gl/ (see below), with `carry: [".gl"]`. It prints the adapter and its
# kernel family, the R2 step at batch 64, 256 and 1,024 for every family the GPU can run, the
# kernel table at batch 256, and PyTorch (fp32 and TF32) in the same call, so that the ratios in
# docs/BENCHMARKS.md are measured side by side.
#
# Here, once:
#   cargo build --release --example dcgan_bench --example kernel_bench --example dcgan_mnist
#   mkdir -p .gl && cp target/release/examples/{dcgan_bench,kernel_bench,dcgan_mnist} .gl/
#   cp ../shared/bench/torch_dcgan.py .gl/ && cp -r ../shared/data/mnist .gl/mnist
#   (cd .gl && apt-get download libvulkan1)
#   grep -qx '/.gl/' .git/info/exclude || echo /.gl/ >> .git/info/exclude
# Then through the device tool: bash scripts/device_bench.sh   (about 5 minutes)
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && export VK_DRIVER_FILES="$icd" && break
done
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-none found}"
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader || true
export WGPU_GAN_CACHE_DIR="${OUT:-/tmp}/tune"
B=.gl
date
# The family the tuner picks (tiled or direct, timed on R2's discriminator), then each forced.
$B/dcgan_bench --batches 64,256,1024 --iters 20 --warmup 3 2>&1 | grep -E "adapter|RESULT"
for fam in tiled direct; do
    WGPU_GAN_KERNELS=$fam $B/dcgan_bench --batches 64,256,1024 --iters 20 --warmup 3 2>&1 | grep RESULT | sed "s/^/$fam: /"
done
python3 $B/torch_dcgan.py --batches 64,256,1024 --iters 50 2>&1 | grep RESULT
python3 $B/torch_dcgan.py --batches 64,256,1024 --iters 50 --tf32 2>&1 | grep RESULT
# Where the time goes, per kernel (timestamp queries), and the tuner's choices.
$B/kernel_bench --models r2 --batches 256 --reps 5 2>&1 | tail -40
# The whole step against the CPU reference on this device, at the largest batch.
MNIST_DIR=$B/mnist $B/dcgan_mnist --verify --verify-batch 1024 --verify-steps 1 2>&1 | tail -4
date
