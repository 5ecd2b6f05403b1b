#!/usr/bin/env bash
# Our R2 (DCGAN-MNIST) and R1 (ring) training steps beside PyTorch's on the same CPU cores, in
# interleaved rounds: the command behind the speed tables of docs/BENCHMARKS.md for the software
# adapter (llvmpipe). Each round runs, one after the other:
#   dcgan_bench --batches 64,256 --iters 10 --warmup 2                  ours, once per column
#   torch_dcgan.py --device cpu --batches 64,256 --iters 20             PyTorch
#   ring_bench --batches 256,1024                                       ours, once per column
#   scripts/torch_ring.py --device cpu --batches 256,1024 --iters 300   PyTorch
# and after the rounds R2 at batch 1,024 once (dcgan_bench --iters 3 --warmup 1 beside
# torch_dcgan.py --iters 10). With r6 in MODELS each round also runs R6 (PyTorch's
# examples/dcgan, 64 x 64 RGB):
#   dcgan_bench --model r6 --batches 64,128 --iters 3 --warmup 1       ours, once per column
#   scripts/dcgan_example.py bench --batches 64,128 --iters 5           PyTorch (the example's classes) It ends with one line per step, batch and round: our ms, PyTorch's
# ms and the ratio (PyTorch's time / ours: our speed as a fraction of PyTorch's).
#
# Columns: "native" is llvmpipe's own code generation for this CPU; "avx" runs the same binaries
# with GALLIUM_OVERRIDE_CPU_CAPS=avx (code generation limited to AVX). Each column keeps its own
# scratch tuning cache, so the avx column does not reuse tile choices timed under native code.
#
# Usage: bash scripts/bench_side_by_side.sh [ROUNDS]     (default 3)
# Environment (all optional):
#   TORCH_DCGAN   PyTorch's R2 anchor; default ../shared/bench/torch_dcgan.py, beside the repository
#   CAPS_COLUMNS  the columns to run, default "native avx"
#   MODELS        the steps to time, default "r2 r1"; any of r2, r1, r6
#   BASELINE      a directory with older dcgan_bench and ring_bench binaries, run in the same rounds
#                 (R2 at batch 64, R1 at batch 256, native column) to compare two builds
#   BIN           take our binaries from this directory instead of building them here
#   PYTHON        default python3
# Needs PyTorch (pip install torch) and Mesa's software Vulkan driver; the adapter is llvmpipe
# unless $WGPU_ADAPTER_NAME says otherwise. Run it on a quiet machine: a build or a test beside it
# spoils the figures, and only ratios from the same round compare.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-3}"
torch_dcgan="${TORCH_DCGAN:-../shared/bench/torch_dcgan.py}"
py="${PYTHON:-python3}"
caps_columns="${CAPS_COLUMNS:-native avx}"
models="${MODELS:-r2 r1}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export WGPU_ADAPTER_NAME="${WGPU_ADAPTER_NAME:-llvmpipe}"
unset GALLIUM_OVERRIDE_CPU_CAPS

case "$rounds" in ''|*[!0-9]*|0) echo "ROUNDS must be a count of at least 1, not '$rounds'" >&2; exit 2;; esac
for c in $caps_columns; do
    case "$c" in native|avx) ;; *) echo "CAPS_COLUMNS: unknown column '$c' (native, avx)" >&2; exit 2;; esac
done
for m in $models; do
    case "$m" in r2|r1|r6) ;; *) echo "MODELS: unknown step '$m' (r2, r1, r6)" >&2; exit 2;; esac
done
has() { case " $models " in *" $1 "*) return 0;; *) return 1;; esac; }
if has r2; then
    [ -f "$torch_dcgan" ] || { echo "PyTorch's R2 anchor not found at $torch_dcgan (set TORCH_DCGAN)" >&2; exit 2; }
fi

if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --example dcgan_bench --example ring_bench
    BIN=target/release/examples
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
log="$scratch/results"
: > "$log"

# tagged ROUND COLUMN COMMAND...: runs the command, shows its output, and keeps its RESULT lines
# tagged with the round and the column.
tagged() {
    local round=$1 col=$2
    shift 2
    echo "+ [round $round, $col] $*"
    "$@" 2>&1 | while IFS= read -r line; do
        echo "$line"
        case "$line" in
            RESULT\ *) echo "RESULT round=$round column=$col ${line#RESULT }" >> "$log" ;;
        esac
    done
}

# ours ROUND COLUMN BINARY ARGS...: one of our binaries under the column's code generation.
ours() {
    local round=$1 col=$2
    shift 2
    if [ "$col" = avx ]; then
        tagged "$round" avx env GALLIUM_OVERRIDE_CPU_CAPS=avx WGPU_GAN_CACHE_DIR="$scratch/tune-avx" "$@"
    else
        tagged "$round" native env WGPU_GAN_CACHE_DIR="$scratch/tune-native" "$@"
    fi
}

date
for r in $(seq 1 "$rounds"); do
    if has r2; then
        for c in $caps_columns; do
            ours "$r" "$c" "$BIN/dcgan_bench" --batches 64,256 --iters 10 --warmup 2
        done
        tagged "$r" pytorch "$py" "$torch_dcgan" --device cpu --batches 64,256 --iters 20
        if [ -n "${BASELINE:-}" ]; then
            tagged "$r" baseline "$BASELINE/dcgan_bench" --batches 64 --iters 10 --warmup 2
        fi
    fi
    if has r1; then
        for c in $caps_columns; do
            ours "$r" "$c" "$BIN/ring_bench" --batches 256,1024
        done
        tagged "$r" pytorch "$py" scripts/torch_ring.py --device cpu --batches 256,1024 --iters 300
        if [ -n "${BASELINE:-}" ]; then
            tagged "$r" baseline "$BASELINE/ring_bench" --batches 256
        fi
    fi
    if has r6; then
        for c in $caps_columns; do
            ours "$r" "$c" "$BIN/dcgan_bench" --model r6 --batches 64,128 --iters 3 --warmup 1
        done
        tagged "$r" pytorch "$py" scripts/dcgan_example.py bench --batches 64,128 --iters 5
    fi
done
if has r2; then
    for c in $caps_columns; do
        ours once "$c" "$BIN/dcgan_bench" --batches 1024 --iters 3 --warmup 1
    done
    tagged once pytorch "$py" "$torch_dcgan" --device cpu --batches 1024 --iters 10
fi
date

echo
echo "== side by side (ratio = PyTorch's ms / ours)"
awk -v cols="$caps_columns baseline" '
{
    delete f
    for (i = 2; i <= NF; i++) { eq = index($i, "="); f[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
    model = ("model" in f) ? f["model"] : "R2"   # torch_dcgan.py names no model
    key = model " batch " f["batch"] " round " f["round"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    ms[key, f["column"]] = f["ms_per_iter"]
}
END {
    nc = split(cols, c, " ")
    for (k = 1; k <= n; k++) {
        key = order[k]
        torch = ((key, "pytorch") in ms) ? ms[key, "pytorch"] : ""
        line = key ":"
        for (j = 1; j <= nc; j++) {
            if (!((key, c[j]) in ms)) continue
            ours = ms[key, c[j]]
            line = line sprintf("  %s %.2f ms", c[j], ours)
            if (torch != "" && ours > 0) line = line sprintf(" (%.3fx)", torch / ours)
        }
        if (torch != "") line = line sprintf("  PyTorch %.2f ms", torch)
        print line
    }
}' "$log"
