//! Whole networks and layers together: a network's gradients against central differences, every
//! layer against PyTorch's numbers (tests/fixtures/torch_layers.safetensors, written by
//! scripts/fixtures.py), and R2's reducing layers at the batches users train with.

mod common;
use common::layer::{compare, report, run_cpu, run_gpu, run_gpu_on, Run, TOL};
use common::{check, numeric_h, randv, weighted};
use std::collections::HashMap;
use wgpu_gan::nn::{Act, BnSpec, ConvSpec, CpuNet, Init, Layer, Mode, NetSpec};
const MLP_H: f32 = 2e-3;

/// The composition: a whole network's input and weight gradients through every layer kind.
#[test]
fn mlp_backward_matches_finite_differences() {
    for (hidden, last) in [(Act::Relu, None), (Act::LeakyRelu(0.2), Some(Act::Tanh)), (Act::Tanh, Some(Act::Sigmoid))] {
        let spec = NetSpec::mlp(&[3, 9, 5, 2], hidden, last);
        let n = 4;
        // Finite differences are meaningless across a ReLU kink: take the first seed whose
        // pre-activations all stay 0.02 away from zero (a perturbation of MLP_H = 2e-3 moves them
        // by less than that).
        let (params, x, mut net) = (0..200u32)
            .map(|s| {
                let (p, x) = (spec.init(11 + s, 0, wgpu_gan::nn::Init::PyTorch), randv(n * 3, 8 + s as u64, 1.0));
                let mut net = CpuNet::new(spec.clone(), p.clone()).unwrap();
                net.forward(&x, n).unwrap();
                (p, x, net)
            })
            .find(|(_, _, net)| {
                spec.layers.iter().zip(net.saved_inputs()).all(|(l, inp)| {
                    !matches!(l, wgpu_gan::nn::Layer::Act(_)) || inp.iter().all(|v| v.abs() > 0.02)
                })
            })
            .expect("no kink-free draw in 200 seeds");
        let r = randv(n * 2, 9, 1.0);
        let dx = net.backward(&r, n, true).unwrap();
        let tag = format!("mlp {hidden:?}/{last:?}");
        let f = |x: &[f32], p: &[Vec<f32>]| {
            let mut m = CpuNet::new(spec.clone(), p.to_vec()).unwrap();
            weighted(&m.forward(x, n).unwrap(), &r)
        };
        report(&format!("{tag} input"), &dx, &numeric_h(&x, &|x| f(x, &params), MLP_H));
        for (pi, g) in net.grads.iter().enumerate() {
            let num = numeric_h(&params[pi], &|v| {
                let mut p = params.clone();
                p[pi] = v.to_vec();
                f(&x, &p)
            }, MLP_H);
            report(&format!("{tag} param {pi}"), g, &num);
        }
    }
}

// ---------------------------------------------------------------- PyTorch fixtures

struct Fixtures {
    bytes: Vec<u8>,
    cases: HashMap<String, HashMap<String, String>>,
}

impl Fixtures {
    fn load() -> Fixtures {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch_layers.safetensors");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (regenerate with python3 scripts/fixtures.py)"));
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let cases = meta
            .metadata()
            .clone()
            .expect("fixture metadata")
            .into_iter()
            .map(|(k, v)| (k, v.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(a, b)| (a.to_string(), b.to_string())).collect()))
            .collect();
        Fixtures { bytes, cases }
    }

    fn get(&self, case: &str, what: &str) -> Vec<f32> {
        let st = safetensors::SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(&format!("{case}.{what}")).unwrap_or_else(|e| panic!("{case}.{what}: {e}"));
        t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }
}

fn num(m: &HashMap<String, String>, k: &str) -> usize {
    m[k].parse().unwrap()
}

#[test]
fn layers_match_pytorch_fixtures() {
    let fx = Fixtures::load();
    let mut names: Vec<_> = fx.cases.keys().cloned().collect();
    names.sort();
    assert!(names.len() >= 20, "expected the full fixture set, found {}", names.len());
    for name in names {
        let m = &fx.cases[&name];
        let n = num(m, "n");
        let (layer, params, running) = match m["kind"].as_str() {
            kind @ ("conv2d" | "conv_transpose2d") => {
                // Per-axis keys (sh, sw, ...) where the case has them, else one value for both axes.
                let axes = |y: &str, x: &str, both: &str, default: usize| -> [usize; 2] {
                    let one = |k: &str| m.get(k).or(m.get(both)).map_or(default, |v| v.parse().unwrap());
                    [one(y), one(x)]
                };
                let spec = ConvSpec {
                    cin: num(m, "cin"),
                    cout: num(m, "cout"),
                    h: num(m, "h"),
                    w: num(m, "w"),
                    kh: num(m, "kh"),
                    kw: num(m, "kw"),
                    stride: axes("sh", "sw", "stride", 1),
                    pad: axes("ph", "pw", "pad", 0),
                    out_pad: axes("oph", "opw", "out_pad", 0),
                    dilation: axes("dh", "dw", "dilation", 1),
                    bias: m.get("bias").is_none_or(|b| b == "1"),
                };
                let layer = if kind == "conv2d" { Layer::Conv2d(spec) } else { Layer::ConvT2d(spec) };
                let params = if spec.bias { vec![fx.get(&name, "w"), fx.get(&name, "b")] } else { vec![fx.get(&name, "w")] };
                (layer, params, None)
            }
            "batchnorm" => {
                let spec = BnSpec { c: num(m, "c"), hw: num(m, "hw"), eps: m["eps"].parse().unwrap(), momentum: m["momentum"].parse().unwrap() };
                let running = [fx.get(&name, "running_mean0"), fx.get(&name, "running_var0")].concat();
                (Layer::BatchNorm(spec), vec![fx.get(&name, "gamma"), fx.get(&name, "beta")], Some(running))
            }
            other => panic!("{name}: unknown fixture kind {other}"),
        };
        let (x, dy) = (fx.get(&name, "x"), fx.get(&name, "dy"));
        let bn = running.is_some();
        let cpu_run = run_cpu(layer, n, &x, &params, running.as_deref(), &dy, Mode::Train);
        let torch = Run {
            dx_scale: cpu_run.dx_scale,
            y: fx.get(&name, "y"),
            dx: fx.get(&name, "dx"),
            grads: match params.len() {
                _ if bn => vec![fx.get(&name, "dgamma"), fx.get(&name, "dbeta")],
                2 => vec![fx.get(&name, "dw"), fx.get(&name, "db")],
                _ => vec![fx.get(&name, "dw")],
            },
            running: if bn { vec![[fx.get(&name, "running_mean1"), fx.get(&name, "running_var1")].concat()] } else { vec![] },
        };
        let r = running.as_deref();
        // PyTorch's values are exact (f64, rounded once); both of ours round along the way.
        compare(&format!("{name} CPU vs PyTorch"), &cpu_run, &torch, TOL);
        compare(&format!("{name} GPU vs PyTorch"), &run_gpu(layer, n, &x, &params, r, &dy, Mode::Train, false), &torch, TOL);
        if bn {
            let eval = run_gpu(layer, n, &x, &params, r, &dy, Mode::Eval, false);
            check(&format!("{name} GPU eval-mode forward vs PyTorch"), &eval.y, &fx.get(&name, "y_eval"), TOL);
        }
    }
}

// ---------------------------------------------------------------- reductions past the loop budget

/// Every reducing layer of R2 at the batches users train with (64, 320, 1024), GPU against the CPU
/// reference. The sums that grow with the batch (weight and bias gradients over batch × output
/// positions, batch-norm statistics over batch × positions) are what llvmpipe's loop limiter
/// truncated before the reductions were split (n = 84 was the first wrong batch for R2, n = 1024
/// left D's conv weight gradients 100 % wrong). Each layer keeps R2's spatial geometry, so every sum
/// has R2's length, with fewer channels to keep the f64 CPU reference quick.
#[test]
fn r2_layers_match_cpu_past_the_loop_budget() {
    let conv = |cin, cout, h| ConvSpec::new(cin, cout, h, h, 4, 2, 1);
    let layers: Vec<(&str, Layer)> = vec![
        ("D conv1 1→8 28×28", Layer::Conv2d(conv(1, 8, 28))),
        ("D conv2 8→8 14×14", Layer::Conv2d(conv(8, 8, 14))),
        ("G convT1 8→8 7×7", Layer::ConvT2d(conv(8, 8, 7))),
        ("G convT2 8→1 14×14", Layer::ConvT2d(conv(8, 1, 14))),
        // 32 input channels (for the transposed layer, 32 output channels): the subgroup family
        // computes these input gradients (the transposed layer's forward pass) by stride phase.
        ("D conv2 32→4 14×14", Layer::Conv2d(conv(32, 4, 14))),
        ("G convT1 4→32 7×7", Layer::ConvT2d(conv(4, 32, 7))),
        ("G BatchNorm2d(8, 14×14)", Layer::BatchNorm(BnSpec { c: 8, hw: 196, eps: 1e-5, momentum: 0.1 })),
        ("D BatchNorm2d(8, 7×7)", Layer::BatchNorm(BnSpec { c: 8, hw: 49, eps: 1e-5, momentum: 0.1 })),
        ("G BatchNorm1d(40)", Layer::BatchNorm(BnSpec { c: 40, hw: 1, eps: 1e-5, momentum: 0.1 })),
        ("G Linear 100→40", Layer::linear(100, 40)),
        ("D Linear 392→1", Layer::linear(392, 1)),
        // PyTorch's per-axis parameters and dilation (the input gradient's tap search), no bias.
        ("Conv2d 2→3 k(3,2) s(2,1) p(0,1) d(2,1), no bias", Layer::Conv2d(ConvSpec { kw: 2, stride: [2, 1], pad: [0, 1], dilation: [2, 1], ..ConvSpec::new(2, 3, 9, 7, 3, 1, 0).no_bias() })),
        ("ConvT2d 3→2 s(3,2) p(2,1) op(2,1) d(2,3)", Layer::ConvT2d(ConvSpec { stride: [3, 2], pad: [2, 1], out_pad: [2, 1], dilation: [2, 3], ..ConvSpec::new(3, 2, 4, 5, 3, 1, 0) })),
        ("Linear 100→40, no bias", Layer::Linear(wgpu_gan::nn::Linear { inp: 100, out: 40, bias: false })),
        ("Linear 6→5, no bias (scalar kernel)", Layer::Linear(wgpu_gan::nn::Linear { inp: 6, out: 5, bias: false })),
    ];
    for n in [64usize, 320, 1024] {
        for (i, (name, layer)) in layers.iter().enumerate() {
            let net = NetSpec { layers: vec![*layer] };
            let (x, dy) = (randv(n * net.in_dim(), 200 + i as u64, 1.0), randv(n * net.out_dim(), 300 + i as u64, 1.0));
            let (params, running) = match layer {
                Layer::BatchNorm(b) => {
                    let params = vec![randv(b.c, 7, 0.5).iter().map(|v| v + 1.0).collect(), randv(b.c, 8, 0.5)];
                    (params, Some([randv(b.c, 9, 1.0), randv(b.c, 10, 0.5).iter().map(|v| v + 1.0).collect()].concat()))
                }
                _ => (net.init(11 + i as u32, 0, Init::PyTorch), None),
            };
            let r = running.as_deref();
            let want = run_cpu(*layer, n, &x, &params, r, &dy, Mode::Train);
            // Every layer with each family of kernels: the software adapter's packs the batch in
            // chunks (D conv2 here takes two at n = 1024) and walks batch norm by planes, the
            // others run batch norm flat and the tiled product.
            for (fam, g) in common::kernel_variants() {
                let name = format!("{name} [{fam}]");
                compare(&format!("{name} n={n}"), &run_gpu_on(&g, *layer, n, &x, &params, r, &dy, Mode::Train, false), &want, TOL);
                if n == 320 {
                    // The split path adding into gradients that are already there.
                    compare(&format!("{name} n={n} (accumulated twice)"), &run_gpu_on(&g, *layer, n, &x, &params, r, &dy, Mode::Train, true), &want, TOL);
                }
            }
        }
    }
}

/// What a user passes that does not fit is an error naming the problem, on both backends.
#[test]
fn wrong_inputs_are_errors_not_panics() {
    let spec = NetSpec { layers: vec![Layer::linear(4, 3), Layer::BatchNorm(BnSpec::new(3, 1)), Layer::Act(Act::Relu)] };
    let params = spec.init(1, 0, Init::PyTorch);
    let mut cpu = CpuNet::new(spec.clone(), params.clone()).unwrap();
    let e = cpu.run(0, &[0.0; 7], 2, Mode::Train).unwrap_err().to_string();
    assert!(e.contains("8 values") && e.contains("7 were given"), "{e}");
    let e = cpu.run(0, &[0.0; 4], 1, Mode::Train).unwrap_err().to_string();
    assert!(e.contains("layer 1") && e.contains("two values per channel"), "{e}");
    assert!(cpu.run(0, &[0.0; 4], 1, Mode::Eval).is_ok(), "evaluation mode uses the running statistics: batch 1 is fine");
    let e = cpu.backward(&[0.0; 3], 1, true).unwrap_err().to_string();
    assert!(e.contains("evaluation-mode pass"), "{e}");

    let gpu = common::gpu();
    let net = wgpu_gan::nn::GpuNet::new(&gpu, spec, &params, 8, 1, "test").unwrap();
    let (small, out) = (common::tensor(&gpu, &[0.0; 7]), common::tensor(&gpu, &[0.0; 24]));
    let e = net.forward(&gpu, 0, &small.buffer, &out.buffer, 2, Mode::Train).err().expect("a 7-value input for 2 rows of 4").to_string();
    assert!(e.contains("input buffer"), "{e}");
    let x = common::tensor(&gpu, &[0.0; 32]);
    let e = net.forward(&gpu, 0, &x.buffer, &out.buffer, 1, Mode::Train).err().expect("batch statistics of one value").to_string();
    assert!(e.contains("two values per channel"), "{e}");
    println!("refused: {e}");
}

/// The one-call layer API (`wgpu_gan::layers`) on the same fixtures: each layer built with
/// PyTorch's arguments, its weights loaded from a state dict by PyTorch's names, run forward and
/// backward on the GPU, against PyTorch's numbers.
#[test]
fn the_layer_api_matches_pytorch_fixtures() {
    use wgpu_gan::gpu::CpuTensor;
    use wgpu_gan::interop::{StateDict, Tensor as Stored};
    use wgpu_gan::layers::{BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Module};
    use wgpu_gan::max_rel_err;
    let fx = Fixtures::load();
    let g = common::gpu();
    let mut names: Vec<_> = fx.cases.keys().cloned().collect();
    names.sort();
    let mut worst = 0f32;
    for name in names {
        let m = &fx.cases[&name];
        let pair = |y: &str, x: &str, both: &str, default: usize| -> (usize, usize) {
            let one = |k: &str| m.get(k).or(m.get(both)).map_or(default, |v| v.parse().unwrap());
            (one(y), one(x))
        };
        let (n, h, w) = (num(m, "n"), m.get("h").map_or(1, |v| v.parse().unwrap()), m.get("w").map_or(1, |v| v.parse().unwrap()));
        // (the layer, its input shape, state dict entry ← fixture tensor, gradient ← fixture tensor)
        let (layer, shape, stored, grads): (Module, Vec<usize>, Vec<(&str, &str)>, Vec<(&str, &str)>) = match m["kind"].as_str() {
            kind @ ("conv2d" | "conv_transpose2d") => {
                let (cin, cout, k) = (num(m, "cin"), num(m, "cout"), (num(m, "kh"), num(m, "kw")));
                let bias = m.get("bias").is_none_or(|b| b == "1");
                let (s, p, d) = (pair("sh", "sw", "stride", 1), pair("ph", "pw", "pad", 0), pair("dh", "dw", "dilation", 1));
                let layer: Module = if kind == "conv2d" {
                    Conv2d::new(cin, cout, k).stride(s).padding(p).dilation(d).bias(bias).into()
                } else {
                    ConvTranspose2d::new(cin, cout, k).stride(s).padding(p).dilation(d).output_padding(pair("oph", "opw", "out_pad", 0)).bias(bias).into()
                };
                let (stored, grads) = if bias { (vec![("weight", "w"), ("bias", "b")], vec![("weight", "dw"), ("bias", "db")]) } else { (vec![("weight", "w")], vec![("weight", "dw")]) };
                (layer, vec![n, cin, h, w], stored, grads)
            }
            "batchnorm" => {
                let (c, hw, eps, momentum) = (num(m, "c"), num(m, "hw"), m["eps"].parse().unwrap(), m["momentum"].parse().unwrap());
                let (layer, shape): (Module, _) = if hw == 1 { (BatchNorm1d::new(c).eps(eps).momentum(momentum).into(), vec![n, c]) } else { (BatchNorm2d::new(c).eps(eps).momentum(momentum).into(), vec![n, c, h, w]) };
                let stored = vec![("weight", "gamma"), ("bias", "beta"), ("running_mean", "running_mean0"), ("running_var", "running_var0")];
                (layer, shape, stored, vec![("weight", "dgamma"), ("bias", "dbeta")])
            }
            other => panic!("{name}: unknown fixture kind {other}"),
        };
        let mut layer = layer;
        let shapes: std::collections::HashMap<&str, Vec<usize>> =
            layer.param_names().into_iter().map(|p| (p, layer.param(p).unwrap().shape().to_vec())).chain(layer.running().into_iter().map(|(r, t)| (r, t.shape().to_vec()))).collect();
        let tensors = stored.iter().map(|(ours, theirs)| (format!("netD.{ours}"), Stored { shape: shapes[ours].clone(), values: fx.get(&name, theirs), stored_as: safetensors::Dtype::F32 })).collect();
        layer.load_state_dict(&StateDict { tensors }, "netD.").unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = CpuTensor::new(&shape, fx.get(&name, "x")).unwrap();
        let y = layer.forward(&g, &x.to_gpu(&g).unwrap()).unwrap().to_cpu(&g).unwrap();
        let dy = CpuTensor::new(y.shape(), fx.get(&name, "dy")).unwrap();
        let back = layer.backward(&g, &x.to_gpu(&g).unwrap(), &dy.to_gpu(&g).unwrap()).unwrap();
        let (dx, want_dx) = (back.input.read(&g).unwrap(), fx.get(&name, "dx"));
        let dx_err = if m["kind"] == "batchnorm" {
            // A batch norm's dx cancels (at batch 2 nearly to zero): measured against the scale of
            // its terms, max |γ·invstd·dy|, as layers_match_pytorch_fixtures does.
            let (c, hw) = (num(m, "c"), num(m, "hw"));
            let gamma = fx.get(&name, "gamma");
            let st = wgpu_gan::nn::batchnorm::batchnorm_stats(x.data(), n, c, hw, m["eps"].parse().unwrap(), 0.1, None);
            let scale = dy.data().iter().enumerate().map(|(i, d)| (d * gamma[(i / hw) % c] * st.invstd[(i / hw) % c]).abs()).fold(0.0, f32::max);
            dx.iter().zip(&want_dx).fold(0.0f32, |e, (a, b)| e.max((a - b).abs())) / scale
        } else {
            max_rel_err(&dx, &want_dx)
        };
        let mut errs = vec![("y", max_rel_err(y.data(), &fx.get(&name, "y"))), ("dx", dx_err)];
        for (ours, theirs) in grads {
            errs.push((theirs, max_rel_err(&back.param(ours).unwrap().read(&g).unwrap(), &fx.get(&name, theirs))));
        }
        // The training-mode forward moved the running statistics as PyTorch's did.
        for (r, t) in layer.running() {
            errs.push((r, max_rel_err(t.data(), &fx.get(&name, &format!("{r}1")))));
        }
        for (what, e) in errs {
            assert!(e <= TOL, "{name} {what}: the layer API differs from PyTorch by {e:.2e}");
            worst = worst.max(e);
        }
    }
    println!("layer API vs PyTorch, every fixture case: worst max rel err {worst:.2e}");
}
