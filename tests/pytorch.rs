//! Both directions with PyTorch itself (these run where `python3` has torch and safetensors;
//! elsewhere each test prints SKIPPED and the reason, and passes without checking anything):
//!
//! - a PyTorch-initialised R2 (scripts/torch_steps.py) trained here for a few steps, replaying
//!   PyTorch's noise and real batches, on the GPU and on the CPU reference: the losses of every
//!   step and the first step's gradients are judged against PyTorch's at the tolerance of
//!   `--verify` (1e-4); the weights after the last step are reported (Adam turns gradients that
//!   cancel to rounding noise into ±lr steps; see src/gan/verify.rs);
//! - a model trained here, loaded with strict=True by scripts/to_pytorch.py, gives PyTorch's
//!   outputs on fixed inputs within 1e-5 (eval and train mode), and scripts/from_pytorch.py brings
//!   the weights, running statistics and Adam state back bit for bit;
//! - R6 and PyTorch's examples/dcgan (its classes as scripts/dcgan_example.py builds them, state
//!   dicts named `main.<j>.<name>`): the example's netG.pth and netD.pth, converted by
//!   `from_pytorch.py --example`, give the example's outputs here and start a training run
//!   (`dcgan --init-from`); an R6 checkpoint written here, converted by `to_pytorch.py --example`,
//!   loads into the example's classes with strict=True and gives our outputs there.

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use wgpu_gan::gan::{load_checkpoint, save_checkpoint, CpuGan, GanConfig, GanState, GpuGan, Table};
use wgpu_gan::interop::StateDict;
use wgpu_gan::nn::{CpuNet, Mode};

const TOL: f32 = 1e-4;

/// Whether PyTorch is here; says so when it is not.
fn torch(test: &str) -> bool {
    let ok = Command::new("python3").args(["-c", "import torch, safetensors"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED {test}: python3 with torch and safetensors is not installed here (pip install torch safetensors)");
    }
    ok
}

fn script(name: &str, args: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name);
    let out = Command::new("python3").arg(&path).args(args).output().expect("python3 runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{name} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("wgpu-gan-pytorch-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn r2(batch: usize) -> GanConfig {
    let data = Arc::new(Table::new(vec![0.0; 784 * 16], 784).unwrap());
    GanConfig { batch, ..GanConfig::r2(data) }
}

/// Two steps of `cfg` from its initial weights on the GPU, saved as `dir/checkpoint.safetensors`:
/// (the state, the file).
fn trained_checkpoint(gpu: &wgpu_gan::gpu::Gpu, cfg: &GanConfig, dir: &Path) -> (GanState, PathBuf) {
    let (g0, d0) = cfg.init_params();
    let mut gan = GpuGan::new(gpu, cfg.clone(), &g0, &d0, 4).unwrap();
    gan.train_steps(2);
    let state = gan.read_state().unwrap();
    let ck = dir.join("checkpoint.safetensors");
    save_checkpoint(&ck, cfg, &state).unwrap();
    (state, ck)
}

/// Noise `z` and images `x` (values, shape) as `dir/inputs.safetensors`, for the scripts' `--run`.
fn write_inputs(dir: &Path, z: (&[f32], Vec<usize>), x: (&[f32], Vec<usize>)) -> PathBuf {
    let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    let (zb, xb) = (bytes(z.0), bytes(x.0));
    let views = vec![
        ("z".to_string(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, z.1, &zb).unwrap()),
        ("x".to_string(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, x.1, &xb).unwrap()),
    ];
    let inputs = dir.join("inputs.safetensors");
    std::fs::write(&inputs, safetensors::serialize(views, None::<std::collections::HashMap<String, String>>).unwrap()).unwrap();
    inputs
}

fn worst(v: &mut f32, e: f32) {
    *v = if e.is_nan() || v.is_nan() { f32::NAN } else { v.max(e) };
}

#[test]
fn a_pytorch_initialised_r2_trains_here_as_in_pytorch() {
    if !torch("a_pytorch_initialised_r2_trains_here_as_in_pytorch") {
        return;
    }
    let (steps, batch) = (3, 8);
    let dir = tmp("steps");
    script("torch_steps.py", &["--out", dir.to_str().unwrap(), "--steps", &steps.to_string(), "--batch", &batch.to_string()]);
    let init = StateDict::load(&dir.join("init.safetensors")).unwrap();
    let rec = StateDict::load(&dir.join("steps.safetensors")).unwrap();
    let get = |k: &str| rec.tensors.get(k).unwrap_or_else(|| panic!("{k} missing")).values.clone();
    let cfg = r2(batch);
    let ((g, gr), (d, dr)) = (init.net("G.", &cfg.generator).unwrap(), init.net("D.", &cfg.discriminator).unwrap());

    let gpu = common::gpu();
    let mut gan = GpuGan::new(&gpu, cfg.clone(), &g, &d, batch).unwrap();
    let state = GanState { g_running: gr.clone(), d_running: dr.clone(), ..gan.read_state().unwrap() };
    gan.load_state(&state).unwrap();
    let mut cpu = CpuGan::new(cfg.clone(), g, d).unwrap();
    cpu.load_state(&state).unwrap();
    let phases = wgpu_gan::gan::recipe::step(&cfg);

    let (mut losses, mut grads) = ([0.0f32; 2], [0.0f32; 2]);
    for s in 0..steps {
        let (z, real) = (get(&format!("z.{s}")), get(&format!("real.{s}")));
        gan.run_phase_with(0, &z, Some(&real)).unwrap();
        cpu.run_phase(&phases[0], Some(z.clone()), Some(real.clone()));
        let first_grads = |net: &str, spec: &wgpu_gan::nn::NetSpec, got: Vec<Vec<f32>>| -> f32 {
            let mut e = 0.0;
            for (i, ((name, _), g)) in spec.param_names().iter().zip(got).enumerate() {
                // Biases that feed a batch norm: zero in exact arithmetic, rounding noise on both sides.
                if !spec.structurally_zero(i) {
                    worst(&mut e, wgpu_gan::max_rel_err(&g, &get(&format!("grad.{net}.{name}"))));
                }
            }
            e
        };
        if s == 0 {
            worst(&mut grads[0], first_grads("D", &cfg.discriminator, gan.d.grads.iter().map(|t| t.read(&gpu).unwrap()).collect()));
            worst(&mut grads[1], first_grads("D", &cfg.discriminator, cpu.d.grads.clone()));
        }
        gan.run_phase_with(1, &z, None).unwrap();
        cpu.run_phase(&phases[1], Some(z), None);
        if s == 0 {
            worst(&mut grads[0], first_grads("G", &cfg.generator, gan.g.grads.iter().map(|t| t.read(&gpu).unwrap()).collect()));
            worst(&mut grads[1], first_grads("G", &cfg.generator, cpu.g.grads.clone()));
        }
        let want = [get(&format!("d_loss.{s}"))[0], get(&format!("g_loss.{s}"))[0]];
        let st = gan.stats().unwrap();
        let (eg, ec) = (wgpu_gan::max_rel_err(&[st.d_loss, st.g_loss], &want), wgpu_gan::max_rel_err(&[cpu.stats.d_loss, cpu.stats.g_loss], &want));
        println!("step {s}: PyTorch D {:.6} G {:.6}; GPU D {:.6} G {:.6} ({eg:.1e}); CPU ({ec:.1e})", want[0], want[1], st.d_loss, st.g_loss);
        worst(&mut losses[0], eg);
        worst(&mut losses[1], ec);
    }
    let final_err = |s: GanState| -> f32 {
        let mut e = 0.0;
        for (prefix, spec, params) in [("G", &cfg.generator, &s.g), ("D", &cfg.discriminator, &s.d)] {
            for (i, ((name, _), p)) in spec.param_names().iter().zip(params).enumerate() {
                // (A bias feeding a batch norm has a zero gradient in exact arithmetic; Adam
                // turns its rounding noise into ±lr steps on both sides: not comparable.)
                if !spec.structurally_zero(i) {
                    worst(&mut e, wgpu_gan::max_rel_err(p, &get(&format!("final.{prefix}.{name}"))));
                }
            }
        }
        e
    };
    let (fg, fc) = (final_err(gan.read_state().unwrap()), final_err(cpu.read_state()));
    println!("against PyTorch over {steps} R2 steps at batch {batch}, max relative error (max norm):");
    println!("  judged:   losses of every step  GPU {:.2e}  CPU {:.2e}", losses[0], losses[1]);
    println!("            first step's gradients GPU {:.2e}  CPU {:.2e}", grads[0], grads[1]);
    println!("  reported: weights after step {steps}  GPU {fg:.2e}  CPU {fc:.2e}  (biases feeding a batch norm left out)");
    for (what, e) in [("GPU losses", losses[0]), ("CPU losses", losses[1]), ("GPU gradients", grads[0]), ("CPU gradients", grads[1])] {
        assert!(e <= TOL, "{what} differ from PyTorch's by {e:e}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_checkpoint_loads_strictly_in_pytorch_and_comes_back() {
    if !torch("a_checkpoint_loads_strictly_in_pytorch_and_comes_back") {
        return;
    }
    let gpu = common::gpu();
    let dir = tmp("roundtrip");
    let cfg = r2(4);
    let (state, ck) = trained_checkpoint(&gpu, &cfg, &dir);
    // Fixed inputs: 3 noise vectors and 3 images.
    let n = 3;
    let (z, x) = (common::randv(n * 100, 1, 1.0), common::randv(n * 784, 2, 1.0));
    let inputs = write_inputs(&dir, (&z, vec![n, 100]), (&x, vec![n, 1, 28, 28]));
    let (model, outputs) = (dir.join("model.pt"), dir.join("outputs.safetensors"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    script("to_pytorch.py", &[&s(&ck), "--out", &s(&model), "--run", &s(&inputs), &s(&outputs)]);

    let torch_out = StateDict::load(&outputs).unwrap();
    let mut worst_err = 0.0f32;
    for (mode, torch_mode) in [(Mode::Eval, "eval"), (Mode::BatchStats, "train")] {
        for (name, spec, params, running, input) in [("G", &cfg.generator, &state.g, &state.g_running, &z), ("D", &cfg.discriminator, &state.d, &state.d_running, &x)] {
            let mut net = CpuNet::new(spec.clone(), params.clone()).unwrap();
            net.running = running.clone();
            let ours = net.run(0, input, n, mode).unwrap();
            let want = &torch_out.tensors[&format!("{name}.{torch_mode}")].values;
            let e = wgpu_gan::max_rel_err(&ours, want);
            println!("{name} in {torch_mode} mode: ours vs PyTorch (strict load) max rel err {e:.2e}");
            worst(&mut worst_err, e);
        }
    }
    assert!(worst_err <= 1e-5, "outputs differ from PyTorch's by {worst_err:e}");

    // And back: the whole checkpoint (Adam state included), and the weights alone.
    let back = dir.join("back.safetensors");
    script("from_pytorch.py", &[&s(&model), "--template", &s(&ck), "--out", &s(&back)]);
    let (again, _) = load_checkpoint(&back, &cfg).unwrap();
    assert!(again == state, "the state changed on the way through PyTorch");
    let weights = dir.join("weights.safetensors");
    script("from_pytorch.py", &[&s(&model), "--weights-only", "--out", &s(&weights)]);
    let sd = StateDict::load(&weights).unwrap();
    assert_eq!(sd.net("G.", &cfg.generator).unwrap(), (state.g.clone(), state.g_running.clone()));
    assert_eq!(sd.net("D.", &cfg.discriminator).unwrap(), (state.d.clone(), state.d_running.clone()));
    println!("checkpoint → PyTorch (strict) → checkpoint: every tensor and the step identical");
    let _ = std::fs::remove_dir_all(dir);
}

/// R6 at 64 × 64 with narrow layers (the example's structure, cheap to run on the CPU).
fn r6_small() -> (wgpu_gan::models::R6, GanConfig) {
    let shape = wgpu_gan::models::R6 { image_size: 64, nc: 3, nz: 16, ngf: 8, ndf: 8 };
    let data = Arc::new(Table::new(common::randv(4 * 3 * 64 * 64, 9, 1.0), 3 * 64 * 64).unwrap());
    (shape, GanConfig { batch: 4, ..GanConfig::r6(data, &shape) })
}

const R6_FLAGS: [&str; 6] = ["--nz", "16", "--ngf", "8", "--ndf", "8"];

/// Our G(z) and sigmoid(D(x)) in eval mode (the example's D ends in a sigmoid), judged against
/// the example's outputs; returns the worse error.
fn against_example(cfg: &GanConfig, g: (&[Vec<f32>], &[Vec<f32>]), d: (&[Vec<f32>], &[Vec<f32>]), z: &[f32], x: &[f32], theirs: &StateDict) -> f32 {
    let run = |spec: &wgpu_gan::nn::NetSpec, (params, running): (&[Vec<f32>], &[Vec<f32>]), input: &[f32]| {
        let mut net = CpuNet::new(spec.clone(), params.to_vec()).unwrap();
        net.running = running.to_vec();
        net.run(0, input, 3, Mode::Eval).unwrap()
    };
    let g_out = run(&cfg.generator, g, z);
    let d_out: Vec<f32> = run(&cfg.discriminator, d, x).iter().map(|&l| 1.0 / (1.0 + (-l).exp())).collect();
    let mut w = 0.0f32;
    for (name, ours) in [("G", g_out), ("D", d_out)] {
        let e = wgpu_gan::max_rel_err(&ours, &theirs.tensors[&format!("{name}.eval")].values);
        println!("{name} in eval mode: ours vs PyTorch's examples/dcgan class, max rel err {e:.2e}");
        worst(&mut w, e);
    }
    w
}

#[test]
fn pytorchs_examples_dcgan_weights_start_a_run_here() {
    if !torch("pytorchs_examples_dcgan_weights_start_a_run_here") {
        return;
    }
    let dir = tmp("example-in");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec!["make".to_string(), s(&dir)];
    args.extend(R6_FLAGS.iter().map(|a| a.to_string()));
    script("dcgan_example.py", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let init = dir.join("init.safetensors");
    script("from_pytorch.py", &["--example", &s(&dir.join("netG.pth")), &s(&dir.join("netD.pth")), "--out", &s(&init)]);
    let (_, cfg) = r6_small();
    let sd = StateDict::load(&init).unwrap();
    let (g, gr) = sd.net("G.", &cfg.generator).unwrap();
    let (d, dr) = sd.net("D.", &cfg.discriminator).unwrap();
    let reference = StateDict::load(&dir.join("reference.safetensors")).unwrap();
    let (z, x) = (&reference.tensors["z"].values, &reference.tensors["x"].values);
    let e = against_example(&cfg, (&g, &gr), (&d, &dr), z, x, &reference);
    assert!(e <= 1e-5, "the example's weights give other outputs here: {e:e}");

    // dcgan --init-from: a run starts from them.
    let gpu = common::gpu();
    let opts = wgpu_gan::gan::images::RunOptions {
        out: dir.join("run"),
        iters: 2,
        sample_every: 0,
        checkpoint_every: 0,
        log_every: 1,
        resume: None,
        init_from: Some(init.clone()),
        grid: 4,
        grid_seed: 7,
        grid_mode: Mode::BatchStats,
        image_hw: (64, 64),
        channels: 3,
    };
    let (gan, _, _) = wgpu_gan::gan::images::train(&gpu, cfg.clone(), &opts).unwrap();
    let after = gan.read_state().unwrap();
    let (own_g, _) = cfg.init_params();
    let dist = |a: &[Vec<f32>], b: &[Vec<f32>]| a.iter().flatten().zip(b.iter().flatten()).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    let (from_torch, from_own) = (dist(&after.g, &g), dist(&after.g, &own_g));
    println!("after 2 steps from the example's weights: G within {from_torch:.2e} of them (Adam, lr 2e-4), {from_own:.2e} from the crate's own initialisation");
    assert!(from_torch <= 3.0 * 2.0 * 2e-4, "the run did not start from the example's weights");
    assert!(from_own > 1e-2, "the run started from the crate's own initialisation");
    assert!(dir.join("run/checkpoint.safetensors").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_r6_checkpoint_loads_strictly_into_pytorchs_examples_dcgan() {
    if !torch("an_r6_checkpoint_loads_strictly_into_pytorchs_examples_dcgan") {
        return;
    }
    let gpu = common::gpu();
    let dir = tmp("example-out");
    let (_, cfg) = r6_small();
    let (state, ck) = trained_checkpoint(&gpu, &cfg, &dir);
    let (z, x) = (common::randv(3 * 16, 1, 1.0), common::randv(3 * 3 * 64 * 64, 2, 1.0));
    let inputs = write_inputs(&dir, (&z, vec![3, 16]), (&x, vec![3, 3, 64, 64]));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let example = dir.join("example");
    script("to_pytorch.py", &[&s(&ck), "--example", &s(&example)]);
    let outputs = dir.join("outputs.safetensors");
    let mut args = vec!["check".to_string(), s(&example), "--run".into(), s(&inputs), s(&outputs)];
    args.extend(R6_FLAGS.iter().map(|a| a.to_string()));
    script("dcgan_example.py", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let theirs = StateDict::load(&outputs).unwrap();
    let e = against_example(&cfg, (&state.g, &state.g_running), (&state.d, &state.d_running), &z, &x, &theirs);
    assert!(e <= 1e-5, "the example's classes give other outputs from our checkpoint: {e:e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The Python side of the descriptions (scripts/wgpu_gan_torch.py) refuses what it cannot build,
/// naming it, as `NetSpec::from_description` does: a field it does not read (PyTorch's
/// padding_mode) and a value it would not honour (a Flatten from the second dimension on); the
/// description as the crate writes it builds.
#[test]
fn python_refuses_description_fields_it_does_not_read() {
    if !torch("python_refuses_description_fields_it_does_not_read") {
        return;
    }
    let dir = tmp("strict");
    let v = wgpu_gan::models::r2_discriminator().describe();
    let mut reflect = v.clone();
    reflect["layers"][0]["padding_mode"] = "reflect".into();
    let mut flat = v.clone();
    let at = flat["layers"].as_array().unwrap().iter().position(|l| l["kind"] == "Flatten").expect("R2's D flattens");
    flat["layers"][at]["start_dim"] = 2.into();
    let mut bn = v.clone();
    let at = bn["layers"].as_array().unwrap().iter().position(|l| l["kind"] == "BatchNorm2d").expect("R2's D has a BatchNorm2d");
    bn["layers"][at]["kind"] = "BatchNorm1d".into();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    for (name, desc, refused) in [("plain", &v, None), ("reflect", &reflect, Some("'padding_mode' is not one this mapping reads")), ("flat", &flat, Some("only the values this crate writes")), ("bn", &bn, Some("positions per channel is BatchNorm2d"))] {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, desc.to_string()).unwrap();
        let code = format!("import sys, json; sys.path.insert(0, {:?}); import wgpu_gan_torch as w; print(w.build(json.load(open({:?}))))", scripts.display().to_string(), path.display().to_string());
        let out = Command::new("python3").args(["-c", &code]).output().expect("python3 runs");
        let err = String::from_utf8_lossy(&out.stderr);
        match refused {
            None => assert!(out.status.success(), "{name}: {err}"),
            Some(msg) => {
                println!("{name}: {}", err.lines().last().unwrap_or(""));
                assert!(!out.status.success() && err.contains(msg), "{name} was not refused with {msg:?}: {err}");
            }
        }
    }
}
