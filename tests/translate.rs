//! Every entry point of every shader translates through naga's back ends for the three native
//! APIs wgpu targets: SPIR-V (Vulkan), MSL (Metal) and HLSL (DX12, shader models 5.1 and 6.0),
//! as wgpu would translate it, one entry point at a time. No GPU needed: this is what stands
//! behind "any Vulkan, Metal or DX12 GPU" on machines that have none of the latter two.
//!
//! One module, conv_gemm.wgsl, uses subgroup operations (built only on devices that have them);
//! no kernel uses shader-f16 or timestamp writes. The one override constant, the prelude's workgroup size, is resolved to its default first, as
//! wgpu does when it creates a pipeline, so there is one path per entry point to translate.

use naga::back::{hlsl, msl, spv};
use wgpu_gan::gpu::SHADERS;

fn translate(file: &str, module: &naga::Module, info: &naga::valid::ModuleInfo, ep: &naga::EntryPoint) -> Vec<(String, Result<usize, String>)> {
    let stage = ep.stage;
    let name = ep.name.clone();
    let mut out = Vec::new();

    let opts = spv::Options { lang_version: (1, 3), ..Default::default() };
    let pipe = spv::PipelineOptions { shader_stage: stage, entry_point: name.clone() };
    out.push(("spir-v 1.3".to_string(), spv::write_vec(module, info, &opts, Some(&pipe)).map(|w| w.len() * 4).map_err(|e| format!("{e:?}"))));

    for version in [(2, 0), (2, 4)] {
        let opts = msl::Options { lang_version: version, ..Default::default() };
        let pipe = msl::PipelineOptions { entry_point: Some((stage, name.clone())), ..Default::default() };
        out.push((format!("msl {}.{}", version.0, version.1), msl::write_string(module, info, &opts, &pipe).map(|(s, _)| s.len()).map_err(|e| format!("{e:?}"))));
    }

    for model in [hlsl::ShaderModel::V5_1, hlsl::ShaderModel::V6_0] {
        let opts = hlsl::Options { shader_model: model, ..Default::default() };
        let pipe = hlsl::PipelineOptions { entry_point: Some((stage, name.clone())) };
        let mut s = String::new();
        let r = hlsl::Writer::new(&mut s, &opts, &pipe).write(module, info, None).map(|_| ()).map_err(|e| format!("{e:?}"));
        out.push((format!("hlsl {model:?}"), r.map(|_| s.len())));
    }
    let _ = file;
    out
}

#[test]
fn every_entry_point_translates_to_spirv_msl_and_hlsl() {
    let (mut passed, mut failed) = (0, Vec::new());
    let mut entry_points = 0;
    for (file, _) in SHADERS {
        let (module, info) = wgpu_gan::gpu::validate(file, &wgpu_gan::gpu::source(file).unwrap()).unwrap_or_else(|e| panic!("{e}"));
        for ep in &module.entry_points {
            entry_points += 1;
            let (module, info) = naga::back::pipeline_constants::process_overrides(&module, &info, Some((ep.stage, &ep.name)), &Default::default())
                .unwrap_or_else(|e| panic!("{file}::{}: {e}", ep.name));
            let ep = module.entry_points.iter().find(|e| e.name == ep.name).unwrap();
            for (backend, r) in translate(file, &module, &info, ep) {
                match r {
                    Ok(bytes) if bytes > 0 => passed += 1,
                    Ok(_) => failed.push(format!("{file}.wgsl::{} → {backend}: empty output", ep.name)),
                    Err(e) => failed.push(format!("{file}.wgsl::{} → {backend}: {e}", ep.name)),
                }
            }
        }
    }
    println!(
        "{passed} shader × entry-point × back-end translations passed, {} failed ({} shaders, {entry_points} entry points, 5 back-end targets)",
        failed.len(),
        SHADERS.len()
    );
    assert!(failed.is_empty(), "translation failures:\n{}", failed.join("\n"));
    assert_eq!(passed, entry_points * 5);
}

#[test]
fn a_translation_error_names_the_entry_point() {
    // An entry point that does not exist must be reported, not silently skipped.
    let (module, info) = wgpu_gan::gpu::validate("conv", &wgpu_gan::gpu::source("conv").unwrap()).unwrap();
    let pipe = msl::PipelineOptions { entry_point: Some((naga::ShaderStage::Compute, "no_such_kernel".into())), ..Default::default() };
    assert!(msl::write_string(&module, &info, &msl::Options::default(), &pipe).is_err());
    let mut s = String::new();
    let pipe = hlsl::PipelineOptions { entry_point: Some((naga::ShaderStage::Compute, "no_such_kernel".into())) };
    assert!(hlsl::Writer::new(&mut s, &hlsl::Options::default(), &pipe).write(&module, &info, None).is_err());
}
