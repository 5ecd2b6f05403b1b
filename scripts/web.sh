#!/usr/bin/env bash
# The browser build (issue 27): R1 trained on the ring in a web page, on WebGPU.
#
#   bash scripts/web.sh serve        # build, then serve the page at http://127.0.0.1:8000/
#   bash scripts/web.sh test [STEPS] # build, train STEPS steps (default 600) in headless Chromium,
#                                    # check the run and the page's GPU-vs-CPU step (CI runs this)
#   bash scripts/web.sh build        # only build web/pkg
#
# The toolchain is Debian's: rustc-web 1.96 builds std for wasm32 from rust-web-src (with
# RUSTC_BOOTSTRAP for -Zbuild-std); it is installed here when missing (apt-get: root), and kept
# apart from rustup's (its own CARGO_HOME, target/cargo-web).
# wasm-bindgen's JavaScript glue comes from web/bindgen, a small native tool built with the
# usual cargo. Chromium runs WebGPU on its bundled software adapter (SwiftShader).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}
steps=${2:-600}
case "$mode" in
  build|serve|test) ;;
  *) echo "usage: bash scripts/web.sh build|serve|test [STEPS]" >&2; exit 2 ;;
esac

native_cargo=$(command -v cargo || true)
if [ -z "$native_cargo" ]; then
  echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
# (rust-web-llvm: /usr/bin/rust-lld, the linker the wasm32 target names, a link to lld-22.)
want=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
[ "$mode" = test ] && want+=(chromium)
missing=()
for p in "${want[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian's wasm32 toolchain and Chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The page's module: the crate and web/src for wasm32 with Debian's compiler and std ...
(
  export CARGO_HOME=$PWD/target/cargo-web PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  cd web
  /usr/bin/cargo -Zbuild-std=std,panic_abort build --quiet --target wasm32-unknown-unknown --release --target-dir ../target/wasm
)
# ... and its JavaScript bindings.
(cd web/bindgen && "$native_cargo" build --quiet --release --target-dir ../../target/bindgen)
rm -rf web/pkg
target/bindgen/release/wgpu-gan-bindgen target/wasm/wasm32-unknown-unknown/release/wgpu_gan_web.wasm web/pkg
echo "built web/pkg ($(du -sh web/pkg | cut -f1))"

case "$mode" in
  build) ;;
  serve) exec python3 web/serve.py --port "${PORT:-8000}" ;;
  test)
    out=out/web
    mkdir -p "$out"
    rm -f "$out/result.json" "$out/result.png"
    python3 web/serve.py --port 0 --result "$out/result.json" >"$out/server.log" 2>&1 &
    server=$!
    disown "$server"
    browser=
    profile=$(mktemp -d)
    # Whatever happens, neither the server nor the browser outlives the test.
    trap 'kill -9 $server $browser 2>/dev/null || true; rm -rf "$profile"' EXIT
    for _ in $(seq 100); do grep -q serving "$out/server.log" 2>/dev/null && break; sleep 0.1; done
    port=$(sed -n 's|.*127.0.0.1:\([0-9]*\)/.*|\1|p' "$out/server.log")
    if [ -z "$port" ]; then
      echo "the page's server did not start:" >&2
      cat "$out/server.log" >&2
      exit 1
    fi
    # (--no-sandbox: CI runs as root; --enable-unsafe-webgpu: WebGPU on Linux.)
    chromium --headless=new --no-sandbox --enable-unsafe-webgpu --enable-logging=stderr \
      --disable-background-networking --disable-component-update --no-first-run --user-data-dir="$profile" \
      "http://127.0.0.1:$port/index.html?steps=$steps&test=1${WEB_QUERY:+&$WEB_QUERY}" >"$out/chromium.log" 2>&1 &
    browser=$!
    disown "$browser"   # (killed at the end without the shell reporting it)
    # The server exits once the page has reported; give up after 15 minutes, or when the browser
    # has gone.
    for _ in $(seq 900); do
      kill -0 "$server" 2>/dev/null && kill -0 "$browser" 2>/dev/null || break
      sleep 1
    done
    sleep 1
    if [ ! -f "$out/result.json" ]; then
      echo "the page reported nothing (Chromium gone, or 15 minutes passed); Chromium's log:" >&2
      grep -v "^\[.*:INFO:" "$out/chromium.log" | tail -40 >&2
      exit 1
    fi
    python3 - "$out/result.json" "$steps" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1])); want = int(sys.argv[2])
if "error" in r:
    sys.exit(f"the page failed: {r['error']}")
print(f"adapter: {r['adapter']}")
print(f"{r['steps']} steps in {r['seconds']:.1f} s ({r['steps'] / r['seconds']:.1f} steps/s)")
print(f"last losses: D {r['losses'][0]:.4f}, G {r['losses'][1]:.4f}, D(real) {r['losses'][2]:.3f}, D(fake) {r['losses'][3]:.3f}")
print(f"modes covered: {r['coverage'][0]:.0f} of 8, {r['coverage'][2]:.1f} % within 3 sigma")
print(f"GPU vs CPU reference, one step in the page: judged max rel err {r['verify'][0]:.2e}; weights {r['verify'][1]:.2e}, samples {r['verify'][2]:.2e} (reported)")
assert r["steps"] == want, f"trained {r['steps']} steps, asked for {want}"
assert all(math.isfinite(v) for v in r["losses"]), f"non-finite losses {r['losses']}"
assert r["verify"][0] <= 1e-4, f"the page's GPU step differs from its CPU reference by {r['verify'][0]:.2e} (> 1e-4)"
print("browser test passed")
PY
    echo "the canvas after training: $out/result.png"
    ;;
esac
