#!/usr/bin/env bash
# The machine code llvmpipe generated for one examples/load_probe.rs variant, natively or under
# GALLIUM_OVERRIDE_CPU_CAPS=avx: perf samples the instruction pointers of the running kernel
# (software clock: no hardware counters needed), gdb dumps the executable mapping that holds the
# hottest one, objdump disassembles it (OUTDIR/jit.asm; OUTDIR/ips.txt: samples per address).
# Usage: bash scripts/capture_jit.sh VARIANT native|avx OUTDIR   (needs perf, gdb, objdump)
set -e
cd "$(dirname "$0")/.."
cargo build --release --quiet --example load_probe
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
V=$1; CAPS=$2; O=$3; mkdir -p $O
if [ "$CAPS" = avx ]; then export GALLIUM_OVERRIDE_CPU_CAPS=avx; else unset GALLIUM_OVERRIDE_CPU_CAPS; fi
target/release/examples/load_probe --runs 1 --target-ms 300 --hold 12 $V > $O/result.txt 2> $O/stderr.txt &
PID=$!
sleep 5
# 1. sample instruction pointers (perf) for 2 s
perf record -q -p $PID -o $O/perf.data -- sleep 2 >/dev/null 2>&1 || true
perf script -i $O/perf.data -F ip,sym,dso 2>/dev/null | awk '{print $1, $2, $3}' | sort | uniq -c | sort -rn > $O/ips.txt || true
cp /proc/$PID/maps $O/maps.txt
# 2. gdb: threads, pcs, and dump of the anonymous executable mapping holding the hottest ip
HOT=$(awk 'NR==1{print $2}' $O/ips.txt)
read START END < <(python3 - "$HOT" $O/maps.txt <<'PY'
import sys
ip=int(sys.argv[1],16)
for l in open(sys.argv[2]):
    a,b=l.split()[0].split('-'); a=int(a,16); b=int(b,16)
    if a<=ip<b: print(hex(a),hex(b)); break
PY
)
echo "hot=$HOT map=$START-$END" > $O/region.txt
gdb -p $PID -batch -ex 'info threads' -ex 'thread apply all bt 3' -ex "dump binary memory $O/jit.bin $START $END" > $O/gdb.txt 2>&1 || true
wait $PID || true
objdump -D -b binary -m i386:x86-64 --adjust-vma=$START $O/jit.bin > $O/jit.asm
