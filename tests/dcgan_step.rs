//! R2 (DCGAN-MNIST) on the GPU against the CPU reference: its two networks with two passes kept
//! at once and their gradients added (what the discriminator does with real and generated
//! batches), and whole training steps at a small batch.

mod common;
use std::sync::Arc;
use wgpu_gan::gan::{CpuGan, GanConfig, GpuGan, Table};
use wgpu_gan::models::{r2_discriminator, r2_generator};
use wgpu_gan::nn::{CpuNet, GpuNet, Init, Mode, Grads};

#[test]
fn r2_networks_with_two_passes_match_cpu() {
    let gpu = common::gpu();
    for (name, spec, n) in [("D", r2_discriminator(), 5usize), ("G", r2_generator(100), 3)] {
        let params = spec.init(1, 0, Init::Dcgan);
        let mut cpu = CpuNet::new(spec.clone(), params.clone()).unwrap();
        let net = GpuNet::new(&gpu, spec.clone(), &params, n, 2, name).unwrap();
        let (x0, x1) = (common::randv(n * spec.in_dim(), 1, 1.0), common::randv(n * spec.in_dim(), 2, 1.0));
        let (d0, d1) = (common::randv(n * spec.out_dim(), 3, 1.0), common::randv(n * spec.out_dim(), 4, 1.0));
        let t = |v: &[f32]| common::tensor(&gpu, v);
        let (tx0, tx1, td0, td1) = (t(&x0), t(&x1), t(&d0), t(&d1));
        let (ty0, ty1, tdx) = (t(&vec![0.0; d0.len()]), t(&vec![0.0; d0.len()]), t(&vec![0.0; x0.len()]));
        let mut p = net.forward(&gpu, 1, &tx1.buffer, &ty1.buffer, n, Mode::Train).unwrap();
        p.extend(net.forward(&gpu, 0, &tx0.buffer, &ty0.buffer, n, Mode::Train).unwrap());
        p.extend(net.backward(&gpu, 1, &tx1.buffer, &td1.buffer, None, n, Grads::Write).unwrap());
        p.extend(net.backward(&gpu, 0, &tx0.buffer, &td0.buffer, Some(&tdx.buffer), n, Grads::Add).unwrap());
        p.run(&gpu);
        let y1 = cpu.run(1, &x1, n, Mode::Train).unwrap();
        let y0 = cpu.run(0, &x0, n, Mode::Train).unwrap();
        cpu.backward_slot(1, &d1, n, true, false).unwrap();
        let dx = cpu.backward_slot(0, &d0, n, true, true).unwrap();
        common::check(&format!("{name} output, pass 1"), &ty1.read(&gpu).unwrap(), &y1, 1e-5);
        common::check(&format!("{name} output, pass 0"), &ty0.read(&gpu).unwrap(), &y0, 1e-5);
        common::check(&format!("{name} input gradient"), &tdx.read(&gpu).unwrap(), &dx, 1e-5);
        for (i, (g, w)) in net.grads.iter().zip(&cpu.grads).enumerate() {
            let pname = &spec.param_names()[i].0;
            if bias_before_batchnorm(&spec, pname) {
                // Mathematically zero (batch norm subtracts any per-channel shift): both sides
                // hold rounding noise; check its size instead of its digits.
                let (gmax, scale) = (g.read(&gpu).unwrap().iter().fold(0.0f32, |m, v| m.max(v.abs())), net_scale(&cpu.grads));
                println!("{name} gradient {pname}: structurally zero, |GPU| ≤ {gmax:.1e} (largest gradient {scale:.1e})");
                assert!(gmax <= 1e-5 * scale, "{name} {pname}: a bias before batch norm got a real gradient");
                continue;
            }
            common::check(&format!("{name} gradient {pname}"), &g.read(&gpu).unwrap(), w, 1e-5);
        }
        for (g, w) in net.read_running(&gpu).unwrap().iter().zip(&cpu.running) {
            common::check(&format!("{name} running statistics"), g, w, 1e-5);
        }
    }
}

fn net_scale(grads: &[Vec<f32>]) -> f32 {
    grads.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Whether a parameter is the bias of a layer whose output goes straight into a batch norm.
fn bias_before_batchnorm(spec: &wgpu_gan::nn::NetSpec, pname: &str) -> bool {
    let Some((idx, "bias")) = pname.split_once('.').map(|(a, b)| (a.parse::<usize>().unwrap(), b)) else { return false };
    !matches!(spec.layers[idx], wgpu_gan::nn::Layer::BatchNorm(_)) && matches!(spec.layers.get(idx + 1), Some(wgpu_gan::nn::Layer::BatchNorm(_)))
}

fn table() -> Arc<Table> {
    Arc::new(Table::new(wgpu_gan::rng::uniform_fill(3, 3, 37 * 784, -1.0, 1.0), 784).unwrap())
}

#[test]
fn r2_training_steps_match_cpu() {
    // Each phase from the GPU's exact state, on its noise and through its forward activations
    // (see src/gan/verify.rs): losses and gradients are judged at 1e-5.
    let gpu = common::gpu();
    let mut cfg = GanConfig::r2(table());
    cfg.batch = 6;
    let v = wgpu_gan::gan::verify(&gpu, &cfg, 2, 6, 3).unwrap();
    println!("{v}");
    for (what, e) in [("losses", v.losses), ("D gradients", v.d_grads), ("G gradients", v.g_grads), ("biases before batch norm", v.zero_grads)] {
        assert!(e <= 1e-5, "R2 steps: {what} differ by {e:e}");
    }
    // The weights after a step and the free trajectory are reported, but they must at least be close.
    assert!(v.per_step.worst() < 1e-2 && v.trajectory.worst() < 1e-2, "{v}");
    // Parameters that do not fit the model are an error, not a panic.
    assert!(CpuGan::new(cfg.clone(), vec![], vec![]).is_err());
    assert!(GpuGan::new(&gpu, cfg.clone(), &[], &[], 1).is_err());
}
