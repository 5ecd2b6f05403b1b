//! `wgpu-gan-bindgen INPUT.wasm OUT_DIR`: writes the page's module (`<name>.js` and
//! `<name>_bg.wasm`) for `<script type="module">` (wasm-bindgen's `--target web`).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, out] = args.as_slice() else {
        eprintln!("usage: wgpu-gan-bindgen INPUT.wasm OUT_DIR");
        std::process::exit(2);
    };
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    // (The command line tool sets the default module path; the library leaves it out unless asked.)
    let done = b.input_path(input).web(true).and_then(|b| b.typescript(false).omit_default_module_path(false).generate(out));
    if let Err(e) = done {
        eprintln!("wgpu-gan-bindgen: {input}: {e:#}");
        std::process::exit(1);
    }
}
