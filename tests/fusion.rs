//! Activations fused into the kernels of the layer next to them: a ReLU or LeakyReLU after a
//! Linear layer is stored by the Linear's product (`sgemm_nt_act`), and the gradient through a
//! ReLU or LeakyReLU before a Linear layer is taken by the Linear's input-gradient kernel
//! (`sgemm_nt_dact`, `linear_backward_input4_dact`). Whole networks against the CPU reference,
//! which runs every layer on its own, with every kernel family, at awkward batches and at 1,024;
//! and a check that the subgroup family really fuses (so that these comparisons test the fused
//! kernels, not the fallback).

mod common;
use common::{check, randv, tensor};
use wgpu_gan::gpu::{Gpu, Program};
use wgpu_gan::ops::conv_gemm::KernelFamily;
use wgpu_gan::nn::{Act, BnSpec, ConvSpec, CpuNet, GpuNet, Grads, Init, Layer, Linear, Mode, NetSpec, Reshape};

const TOL: f32 = 1e-5;

struct Pass {
    y: Vec<f32>,
    dx: Vec<f32>,
    grads: Vec<Vec<f32>>,
    /// Names of the dispatches of the forward and of the backward program.
    forward: Vec<String>,
    backward: Vec<String>,
}

fn gpu_pass(gpu: &Gpu, spec: &NetSpec, params: &[Vec<f32>], x: &[f32], dy: &[f32], n: usize) -> Pass {
    let net = GpuNet::new(gpu, spec.clone(), params, n, 1, "fused").unwrap();
    let (tx, ty, tdy, tdx) = (tensor(gpu, x), tensor(gpu, &vec![0.0; n * spec.out_dim()]), tensor(gpu, dy), tensor(gpu, &vec![0.0; x.len()]));
    let fwd = net.forward(gpu, 0, &tx.buffer, &ty.buffer, n, Mode::Train).unwrap();
    let bwd = net.backward(gpu, 0, &tx.buffer, &tdy.buffer, Some(&tdx.buffer), n, Grads::Write).unwrap();
    let names = |p: &Program| p.dispatches.iter().map(|d| d.name.clone()).collect();
    let (forward, backward) = (names(&fwd), names(&bwd));
    let mut prog = fwd;
    prog.extend(bwd);
    prog.run(gpu);
    Pass { y: ty.read(gpu).unwrap(), dx: tdx.read(gpu).unwrap(), grads: net.grads.iter().map(|t| t.read(gpu).unwrap()).collect(), forward, backward }
}

/// The GPU pass against the CPU reference (which runs every layer on its own): forward output,
/// input gradient and every parameter gradient within TOL. Returns the GPU pass.
#[allow(clippy::too_many_arguments)]
fn checked_pass(gpu: &Gpu, tag: &str, spec: &NetSpec, params: &[Vec<f32>], x: &[f32], dy: &[f32], n: usize) -> Pass {
    let mut cpu = CpuNet::new(spec.clone(), params.to_vec()).unwrap();
    let y = cpu.run(0, x, n, Mode::Train).unwrap();
    let dx = cpu.backward(dy, n, true).unwrap();
    let got = gpu_pass(gpu, spec, params, x, dy, n);
    check(&format!("{tag} forward"), &got.y, &y, TOL);
    check(&format!("{tag} input gradient"), &got.dx, &dx, TOL);
    for (i, (g, w)) in got.grads.iter().zip(&cpu.grads).enumerate() {
        check(&format!("{tag} param {i} gradient"), g, w, TOL);
    }
    got
}

/// Activation launches among a program's dispatch names (the in-pass row copy aside).
fn act_launches(names: &[String]) -> usize {
    names.iter().filter(|d| d.starts_with("activation::") && !d.ends_with("copy_range")).count()
}

fn lin(inp: usize, out: usize) -> Layer {
    Layer::Linear(Linear { inp, out, bias: true })
}

/// (name, network, activation layers the subgroup family must fuse forward and backward, and that
/// the other families fuse forward: only the thin-input kernel, which every family runs).
fn nets(act: Act) -> Vec<(&'static str, NetSpec, usize, usize, usize)> {
    let a = Layer::Act(act);
    vec![
        // Products both ways (the forward pass of the first layer, the input gradient of the
        // second through the activation).
        ("12→20→act→8", NetSpec { layers: vec![lin(12, 20), a, lin(20, 8)] }, 1, 1, 0),
        // R1's shape: a 2-D input (`linear_forward_thin_in_act`), a score whose input gradient is
        // an outer product (`linear_backward_input4_dact`).
        ("2→128→act→128→act→1", NetSpec { layers: vec![lin(2, 128), a, lin(128, 128), a, lin(128, 1)] }, 2, 2, 1),
        // An activation as the last layer (the caller's output buffer).
        ("8→12→act (last)", NetSpec { layers: vec![lin(8, 12), a] }, 1, 0, 0),
        // An activation after views only: its input gradient is the network's.
        ("view→act→16→8", NetSpec { layers: vec![Layer::Reshape(Reshape::Unflatten { c: 1, h: 4, w: 4 }), Layer::Reshape(Reshape::Flatten), a, lin(16, 8)] }, 0, 1, 0),
        // Widths that are not multiples of 4 do not fuse (and must still be right).
        ("6→7→act→5", NetSpec { layers: vec![lin(6, 7), a, lin(7, 5)] }, 0, 0, 0),
    ]
}

#[test]
fn fused_activations_match_cpu() {
    for (fam, gpu) in common::kernel_variants() {
        for act in [Act::Relu, Act::LeakyRelu(0.2), Act::LeakyRelu(-0.3)] {
            for (name, spec, fwd_fused, bwd_fused, other_fwd) in nets(act) {
                for n in [1usize, 7, 257, 1024] {
                    let tag = format!("{name} {act:?} n={n} [{fam}]");
                    let params = spec.init(5 + n as u32, 0, Init::PyTorch);
                    let (x, dy) = (randv(n * spec.in_dim(), 40 + n as u64, 1.0), randv(n * spec.out_dim(), 50 + n as u64, 1.0));
                    let got = checked_pass(&gpu, &tag, &spec, &params, &x, &dy, n);
                    // Every activation runs once: fused, or as its own launch.
                    let acts = act_launches;
                    let count = |names: &[String], s: &str| names.iter().filter(|d| d.ends_with(s)).count();
                    let (fused_f, fused_b) = (count(&got.forward, "_act"), count(&got.backward, "_dact"));
                    let all = spec.layers.iter().filter(|l| matches!(l, Layer::Act(_))).count();
                    assert_eq!(acts(&got.forward) + fused_f, all, "{tag}: {:?}", got.forward);
                    assert_eq!(acts(&got.backward) + fused_b, all, "{tag}: {:?}", got.backward);
                    // The subgroup family fuses all that the table says; the others only what
                    // the thin-input kernel stores.
                    if KernelFamily::of(&gpu) == KernelFamily::Gemm {
                        assert_eq!((fused_f, fused_b), (fwd_fused, bwd_fused), "{tag}: {:?} / {:?}", got.forward, got.backward);
                    } else {
                        assert_eq!(fused_f, other_fwd, "{tag}: {:?}", got.forward);
                    }
                }
            }
        }
    }
}

/// The batch norm's parameters made random (γ around 1, β around 0, both signs), so that the
/// activation after it sees shifted and scaled values.
fn random_bn_params(spec: &NetSpec, mut params: Vec<Vec<f32>>, seed: u64) -> Vec<Vec<f32>> {
    let mut at = 0;
    for l in &spec.layers {
        let np = l.imp().params().len();
        if let Layer::BatchNorm(b) = l {
            params[at] = randv(b.c, seed, 0.5).iter().map(|v| v + 1.0).collect();
            params[at + 1] = randv(b.c, seed + 1, 0.5);
        }
        at += np;
    }
    params
}

/// A ReLU or LeakyReLU after a batch norm: the normalising kernel stores it (`*_act`) and the
/// batch norm's backward kernels take the gradient through it, in every family and for each of
/// the batch norm's kernel shapes (per channel vec4s, scalars, planes of 49, 16 and 196 values).
/// Whole networks against the CPU reference at batches 3, 7, 257 and 1,024 (two values per channel leave a batch
/// norm's input gradient at ~1e-5 of its terms: tests/batchnorm.rs); no activation may
/// run as a launch of its own (the layer after each activation is a view, so nothing else
/// can take it).
#[test]
fn batch_norm_fuses_the_activation_after_it() {
    let bn = |c: usize, hw: usize| Layer::BatchNorm(BnSpec::new(c, hw));
    let flat = Layer::Reshape(Reshape::Flatten);
    let unflat = |c: usize, h: usize, w: usize| Layer::Reshape(Reshape::Unflatten { c, h, w });
    // No bias before a batch norm: its gradient is zero up to rounding (the mean is taken out).
    let lin_nb = |inp: usize, out: usize| Layer::Linear(Linear { inp, out, bias: false });
    for (fam, gpu) in common::kernel_variants() {
        for act in [Act::Relu, Act::LeakyRelu(0.2), Act::LeakyRelu(-0.3)] {
            let a = Layer::Act(act);
            let nets = [
                ("12→20→bn1d→act→view→8", NetSpec { layers: vec![lin_nb(12, 20), bn(20, 1), a, unflat(20, 1, 1), flat, lin(20, 8)] }),
                ("6→7→bn1d→act (last)", NetSpec { layers: vec![lin_nb(6, 7), bn(7, 1), a] }),
                ("view→bn2d 3×7×7→act→view→5", NetSpec { layers: vec![unflat(3, 7, 7), bn(3, 49), a, flat, lin(147, 5)] }),
                ("view→bn2d 5×4×4→act→view→3", NetSpec { layers: vec![unflat(5, 4, 4), bn(5, 16), a, flat, lin(80, 3)] }),
                // R2's generator plane (14 × 14): at batch 1,024 each channel's statistics sum
                // 200,704 values, R2's longest batch-norm reduction.
                ("view→bn2d 2×14×14→act→view→3", NetSpec { layers: vec![unflat(2, 14, 14), bn(2, 196), a, flat, lin(392, 3)] }),
            ];
            for (name, spec) in nets {
                for n in [3usize, 7, 257, 1024] {
                    let tag = format!("{name} {act:?} n={n} [{fam}]");
                    let params = random_bn_params(&spec, spec.init(9 + n as u32, 0, Init::PyTorch), 60 + n as u64);
                    let (x, dy) = (randv(n * spec.in_dim(), 70 + n as u64, 1.5), randv(n * spec.out_dim(), 80 + n as u64, 1.0));
                    let got = checked_pass(&gpu, &tag, &spec, &params, &x, &dy, n);
                    let acts = act_launches;
                    assert_eq!(acts(&got.forward), 0, "{tag}: {:?}", got.forward);
                    assert_eq!(acts(&got.backward), 0, "{tag}: {:?}", got.backward);
                    assert_eq!(got.forward.iter().filter(|d| d.starts_with("batchnorm::") && d.ends_with("_act")).count(), 1, "{tag}: {:?}", got.forward);
                }
            }
        }
    }
}

/// A ReLU or LeakyReLU between two strided convolutions (the discriminator's first two layers):
/// the subgroup family stores it with the first convolution's products (`sgemm_nt*_act`) and
/// takes the gradient through it in the second's stride-phase input gradient
/// (`sgemm_taps*_dact`, scattered stores); the other families run it on its own. Against the
/// CPU reference at batches 1, 7, 257 and 1,024.
#[test]
fn convolutions_fuse_the_activation_between_them() {
    let spec_of = |act: Act| NetSpec {
        layers: vec![
            Layer::Reshape(Reshape::Unflatten { c: 1, h: 12, w: 12 }),
            Layer::Conv2d(ConvSpec::new(1, 32, 12, 12, 4, 2, 1)),
            Layer::Act(act),
            Layer::Conv2d(ConvSpec::new(32, 16, 6, 6, 4, 2, 1).no_bias()),
            Layer::Reshape(Reshape::Flatten),
            lin(144, 4),
        ],
    };
    for (fam, gpu) in common::kernel_variants() {
        for act in [Act::Relu, Act::LeakyRelu(0.2), Act::LeakyRelu(-0.3)] {
            let spec = spec_of(act);
            for n in [1usize, 7, 257, 1024] {
                let tag = format!("conv→act→conv {act:?} n={n} [{fam}]");
                let params = spec.init(11 + n as u32, 0, Init::PyTorch);
                let (x, dy) = (randv(n * spec.in_dim(), 90 + n as u64, 1.0), randv(n * spec.out_dim(), 95 + n as u64, 1.0));
                let got = checked_pass(&gpu, &tag, &spec, &params, &x, &dy, n);
                let acts = act_launches;
                let fused = |names: &[String], s: &str| names.iter().filter(|d| d.ends_with(s)).count();
                if KernelFamily::of(&gpu) == KernelFamily::Gemm {
                    assert_eq!((acts(&got.forward), acts(&got.backward)), (0, 0), "{tag}: {:?} / {:?}", got.forward, got.backward);
                    assert!(fused(&got.forward, "_act") >= 1 && fused(&got.backward, "taps_dact") + fused(&got.backward, "taps_wide_dact") == 4, "{tag}: {:?} / {:?}", got.forward, got.backward);
                } else {
                    assert_eq!((acts(&got.forward), acts(&got.backward)), (1, 1), "{tag}: {:?} / {:?}", got.forward, got.backward);
                }
            }
        }
    }
}
