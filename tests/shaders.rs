//! Every file under shaders/ parses and validates with naga behind the shared prelude (no GPU
//! needed), and every one of them is embedded in the crate.

mod common;

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

/// Every kernel declaration that lets some of its arrays be read through textures (`textures:
/// [..]` in a `kernel!` under src/) has a texture variant that validates with naga, in which
/// those arrays are textures at the same bindings and are no longer indexed; and the rewriting
/// refuses what it cannot rewrite.
#[test]
fn texture_variants_validate() {
    let sources = common::crate_sources();
    let mut checked = 0;
    for src in &sources {
        for (at, _) in src.match_indices("\n    textures: [") {
            // The declaration this clause ends: the last `= "file" ::` before it.
            let before = &src[..at];
            let decl = before.rfind(" :: ").expect("a declaration before its textures clause");
            let q = before[..decl].strip_suffix('"').expect("a quoted file");
            let file = &q[q.rfind('"').unwrap() + 1..];
            let list = &src[at + "\n    textures: [".len()..];
            let names: Vec<&str> = list[..list.find(']').unwrap()].split(',').map(str::trim).collect();
            let base = wgpu_gan::gpu::source(file).unwrap();
            let variant = wgpu_gan::gpu::texture_variant(&base, &names).unwrap_or_else(|e| panic!("{file} {names:?}: {e}"));
            wgpu_gan::gpu::validate(file, &variant).unwrap_or_else(|e| panic!("{file} {names:?}: {e}"));
            for n in &names {
                assert!(variant.contains(&format!("var {n}: {};", wgpu_gan::gpu::TEXTURE_TYPE)), "{file}: {n} is not a texture");
                let indexed = variant.match_indices(&format!("{n}[")).any(|(i, _)| !variant[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                assert!(!indexed, "{file}: {n} is still indexed");
            }
            checked += 1;
        }
    }
    println!("{checked} declarations' texture variants validate");
    assert!(checked >= 20, "only {checked} texture variants found");
    assert!(wgpu_gan::gpu::texture_variant(&wgpu_gan::gpu::source("linear").unwrap(), &["out"]).is_err(), "a read-write array was rewritten");
    assert!(wgpu_gan::gpu::texture_variant(&wgpu_gan::gpu::source("linear").unwrap(), &["nosuch"]).is_err());
}
