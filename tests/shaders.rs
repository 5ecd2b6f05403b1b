//! Every file under shaders/ parses and validates with naga behind the shared prelude (no GPU
//! needed), and every one of them is embedded in the crate.

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        if name == "prelude" {
            assert_eq!(src, wgpu_gan::gpu::PRELUDE, "prelude.wgsl is not the prelude the crate embeds");
            continue;
        }
        let (module, _) = wgpu_gan::gpu::validate(&name, &wgpu_gan::gpu::source(&name).unwrap()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!module.entry_points.is_empty(), "{name} has no entry point");
        let embedded = wgpu_gan::gpu::SHADERS.iter().find(|(n, _)| *n == name);
        assert_eq!(embedded.map(|e| e.1), Some(src.as_str()), "{name}.wgsl is not the source the crate embeds");
        println!("{name}.wgsl: {} entry points valid", module.entry_points.len());
        n += 1;
    }
    assert_eq!(n, wgpu_gan::gpu::SHADERS.len(), "shaders/ and the embedded list differ");
}

#[test]
fn a_broken_shader_is_reported_with_its_name() {
    let err = wgpu_gan::gpu::validate("broken", "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }").unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
}
