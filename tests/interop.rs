//! Weights-only state dicts (src/interop.rs), without PyTorch: F16 and BF16 are converted exactly,
//! a file that does not fit the model is refused with every problem named, and weights loaded
//! this way train from where they were.

mod common;
use safetensors::{serialize, Dtype};
use std::collections::HashMap;
use wgpu_gan::interop::{bf16_to_f32, f16_to_f32, StateDict};
use wgpu_gan::nn::{Act, NetSpec};

#[test]
fn half_precision_converts_exactly() {
    // Every f16 bit pattern against the textbook formula (NaNs stay NaN).
    for h in 0..=u16::MAX {
        let (s, e, f) = ((h >> 15) as i32, ((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
        let want = match e {
            0 => f * 2f64.powi(-24),
            31 if f == 0.0 => f64::INFINITY,
            31 => f64::NAN,
            _ => (1.0 + f / 1024.0) * 2f64.powi(e - 15),
        } * if s == 1 { -1.0 } else { 1.0 };
        let got = f16_to_f32(h) as f64;
        assert!(got == want || (got.is_nan() && want.is_nan()), "f16 {h:#06x}: {got} != {want}");
    }
    assert_eq!(bf16_to_f32(0x3f80), 1.0);
    assert_eq!(bf16_to_f32(0xc0a0), -5.0);
    assert_eq!(bf16_to_f32(0x3e80), 0.25);
}

/// A safetensors file with the given tensors, each stored as `dtype` (f32 values rounded to it).
fn file(tensors: &[(&str, Vec<usize>, Vec<f32>)], dtype: Dtype) -> Vec<u8> {
    let to_f16 = |v: f32| -> u16 {
        // Round to the nearest f16 in its normal range (values below it, zeros included, are
        // written as zero): enough for weights, simple enough to trust.
        let bits = v.to_bits();
        let sign = ((bits >> 16) & 0x8000) as u16;
        let e = ((bits >> 23) & 0xff) as i32 - 127 + 15;
        let m = bits & 0x7f_ffff;
        if e < 1 {
            return sign;
        }
        assert!(e < 31, "test values stay below f16's largest");
        let r = ((m >> 13) + ((m >> 12) & 1)) as u16; // round half up on the dropped bits
        sign | (((e as u16) << 10) + r)
    };
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let bytes = match dtype {
                Dtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                Dtype::F16 => v.iter().flat_map(|&x| to_f16(x).to_le_bytes()).collect(),
                Dtype::BF16 => v.iter().flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes()).collect(),
                _ => unreachable!(),
            };
            (n.to_string(), s.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        owned.iter().map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap())).collect();
    serialize(views, None::<HashMap<String, String>>).unwrap()
}

fn mlp() -> NetSpec {
    NetSpec::mlp(&[3, 5, 2], Act::Relu, None)
}

#[test]
fn f16_and_bf16_state_dicts_load_as_their_values() {
    let spec = mlp();
    let params = spec.init(1, 0, wgpu_gan::nn::Init::PyTorch);
    let named: Vec<(String, Vec<usize>)> = spec.param_names();
    for dtype in [Dtype::F32, Dtype::F16, Dtype::BF16] {
        let tensors: Vec<(&str, Vec<usize>, Vec<f32>)> = named.iter().zip(&params).map(|((n, s), v)| (n.as_str(), s.clone(), v.clone())).collect();
        let sd = StateDict::from_bytes(&file(&tensors, dtype)).unwrap();
        let (got, running) = sd.net("", &spec).unwrap();
        assert!(running.is_empty());
        // What the value is after rounding (f16) or truncating (bf16, as this writer does) to the
        // stored type, as f32.
        let tol = match dtype {
            Dtype::F32 => 0.0,
            Dtype::F16 => 2f32.powi(-11),
            _ => 2f32.powi(-7),
        };
        for (g, w) in got.iter().zip(&params) {
            let e = g.iter().zip(w).fold(0.0f32, |m, (a, b)| m.max(((a - b) / b.abs().max(1e-3)).abs()));
            println!("{dtype:?}: max relative rounding {e:.2e} (bound {tol:.1e})");
            assert!(e <= tol, "{dtype:?}: {e}");
        }
        assert!(sd.tensors.values().all(|t| t.stored_as == dtype));
    }
}

#[test]
fn a_state_dict_that_does_not_fit_names_every_problem() {
    let spec = mlp();
    let tensors = vec![
        ("0.weight", vec![5, 3], vec![0.1; 15]),
        ("0.bias", vec![4], vec![0.0; 4]), // wrong shape
        // 2.weight missing
        ("2.bias", vec![2], vec![f32::NAN, 0.0]),
        ("9.weight", vec![1], vec![0.0]), // not used by the model: ignored
    ];
    let sd = StateDict::from_bytes(&file(&tensors, Dtype::F32)).unwrap();
    let err = sd.net("", &spec).unwrap_err().to_string();
    println!("{err}");
    for want in ["0.bias has shape [4], the model needs [5]", "2.weight [2, 5] is missing", "2.bias holds NaN", "3 problems"] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    assert!(StateDict::from_bytes(b"not safetensors").unwrap_err().contains("not a safetensors file"));
}

/// R2 from a weights-only file (as PyTorch writes it: `G.<i>.<name>`, `D.<i>.<name>`, running
/// statistics included, F16 here) gives the networks exactly those weights.
#[test]
fn r2_starts_from_a_weights_only_file() {
    let gpu = common::gpu();
    let (g, d) = (wgpu_gan::models::r2_generator(100), wgpu_gan::models::r2_discriminator());
    let (gp, dp) = (g.init(4, 0, wgpu_gan::nn::Init::Dcgan), d.init(5, 0, wgpu_gan::nn::Init::Dcgan));
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for (prefix, spec, params) in [("G.", &g, &gp), ("D.", &d, &dp)] {
        for ((n, s), v) in spec.param_names().into_iter().zip(params) {
            tensors.push((format!("{prefix}{n}"), s, v.clone()));
        }
        for (i, init, parts) in spec.running() {
            let mut at = 0;
            for (part, len) in parts {
                // Running statistics away from their initial values, so that loading them shows.
                tensors.push((format!("{prefix}{i}.{part}"), vec![len], init[at..at + len].iter().map(|v| v * 0.5 + 0.25).collect()));
                at += len;
            }
        }
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors.iter().map(|(n, s, v)| (n.as_str(), s.clone(), v.clone())).collect();
    let sd = StateDict::from_bytes(&file(&refs, Dtype::F16)).unwrap();
    let ((g1, gr), (d1, dr)) = (sd.net("G.", &g).unwrap(), sd.net("D.", &d).unwrap());
    assert_eq!((gr.len(), dr.len()), (2, 1), "R2 has two batch norms in G and one in D");
    let cfg = wgpu_gan::gan::GanConfig { batch: 4, ..wgpu_gan::gan::GanConfig::r2(std::sync::Arc::new(wgpu_gan::gan::Table::new(vec![0.0; 784 * 8], 784).unwrap())) };
    let mut gan = wgpu_gan::gan::GpuGan::new(&gpu, cfg, &g1, &d1, 4).unwrap();
    let state = wgpu_gan::gan::GanState { g_running: gr.clone(), d_running: dr.clone(), ..gan.read_state().unwrap() };
    gan.load_state(&state).unwrap();
    let back = gan.read_state().unwrap();
    assert_eq!((back.g, back.d, back.g_running, back.d_running), (g1, d1, gr, dr));
}
