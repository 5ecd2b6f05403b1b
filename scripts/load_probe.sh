#!/usr/bin/env bash
# How fast llvmpipe loads memory in each WGSL access pattern (examples/load_probe.rs), with its
# native code generation and with GALLIUM_OVERRIDE_CPU_CAPS=avx (no AVX-512), alternating the two
# in every round so that both see the same background load. One RESULT line per process.
# Usage: bash scripts/load_probe.sh [ROUNDS] [VARIANT...]   (default 3 rounds, every variant)
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
rounds="${1:-3}"
shift || true
variants="${*:-base s_f32 s_vec4 s_uni_f32 s_uni_vec4 u_vec4 wg_vec4 tex_vec4 img_vec4 sg_shuf_var sg_shuf_const sg_bcast}"
cargo build --release --quiet --example load_probe
for v in $variants; do
    for r in $(seq 1 "$rounds"); do
        target/release/examples/load_probe --runs 5 --target-ms 400 "$v" 2>/dev/null | sed "s/^/round=$r column=native /"
        GALLIUM_OVERRIDE_CPU_CAPS=avx target/release/examples/load_probe --runs 5 --target-ms 400 "$v" 2>/dev/null | sed "s/^/round=$r column=avx /"
    done
done
