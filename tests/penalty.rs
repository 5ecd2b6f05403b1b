//! WGAN-GP's gradient penalty λ·mean_n(‖∇ₓD(x̂_n)‖ − 1)²: its gradient with respect to the critic's
//! weights is the gradient of an input gradient, computed layer by layer by `grad_of_grad`
//! (src/nn). The CPU reference against central differences of the penalty itself, and the GPU
//! (penalty kernels of shaders/penalty.wgsl, each layer's grad_of_grad launches) against the CPU.

mod common;
use common::layer::{report, TOL};
use common::{check, numeric_h, randv};
use wgpu_gan::gpu::{Dispatch, Program};
use wgpu_gan::loss::{gradient_penalty, PenaltyParams, PenaltyRows, PenaltySum};
use wgpu_gan::nn::{Act, ConvSpec, CpuNet, GpuNet, Grads, Init, Layer, Mode, NetSpec, Reshape};

const LAMBDA: f32 = 10.0;
/// Finite-difference step: the penalty is evaluated in f32 layers, so a smaller step drowns in
/// rounding (2e-3 gave up to 1.6e-3 on the conv critic, 5e-3 gives ≤ 7e-4; the tolerance is 1e-3).
const H_FD: f32 = 5e-3;

fn critics() -> Vec<(&'static str, NetSpec, usize)> {
    let lrelu = Layer::Act(Act::LeakyRelu(0.2));
    vec![
        ("MLP critic", NetSpec { layers: vec![Layer::linear(5, 7), lrelu, Layer::linear(7, 6), Layer::Act(Act::Relu), Layer::linear(6, 1)] }, 5),
        // Widths in 4s: the subgroup family runs both activations inside the Linear kernels
        // (tests/fusion.rs), and the penalty pass reads what those kernels stored.
        ("MLP critic, fused activations", NetSpec { layers: vec![Layer::linear(6, 8), lrelu, Layer::linear(8, 12), Layer::Act(Act::Relu), Layer::linear(12, 1)] }, 9),
        (
            "conv critic",
            NetSpec {
                layers: vec![
                    Layer::Reshape(Reshape::Unflatten { c: 1, h: 5, w: 4 }),
                    Layer::Conv2d(ConvSpec { stride: [2, 1], ..ConvSpec::new(1, 2, 5, 4, 3, 1, 1) }),
                    lrelu,
                    Layer::ConvT2d(ConvSpec::new(2, 1, 3, 4, 2, 1, 0)),
                    Layer::Act(Act::LeakyRelu(0.1)),
                    Layer::Reshape(Reshape::Flatten),
                    Layer::linear(4 * 5, 1),
                ],
            },
            2,
        ),
    ]
}

/// (penalty, its gradient with respect to every parameter) on the CPU reference.
fn cpu_penalty(spec: &NetSpec, params: &[Vec<f32>], x: &[f32], n: usize) -> (f32, Vec<Vec<f32>>, CpuNet) {
    let mut net = CpuNet::new(spec.clone(), params.to_vec()).unwrap();
    net.run(0, x, n, Mode::Train).unwrap();
    let g0 = net.backward_slot(0, &vec![1.0; n], n, false, false).unwrap();
    let (p, gbar0) = gradient_penalty(&g0, n, spec.in_dim(), LAMBDA);
    net.grads.iter_mut().for_each(|g| g.iter_mut().for_each(|v| *v = 0.0));
    net.penalty_backward(0, &gbar0, n).unwrap();
    (p, net.grads.clone(), net)
}

/// The first seed whose activation inputs all stay `margin` away from the kink at 0.
fn kink_free(spec: &NetSpec, n: usize, margin: f32) -> (Vec<Vec<f32>>, Vec<f32>) {
    (0..500u32)
        .map(|s| (spec.init(20 + s, 0, Init::PyTorch), randv(n * spec.in_dim(), 30 + s as u64, 1.0)))
        .find(|(p, x)| {
            let mut net = CpuNet::new(spec.clone(), p.clone()).unwrap();
            net.run(0, x, n, Mode::Train).unwrap();
            let clear = spec.layers.iter().zip(net.saved_inputs()).all(|(l, inp)| !matches!(l, Layer::Act(_)) || inp.iter().all(|v| v.abs() > margin));
            // ... and a live network: every weight gets some of the penalty's gradient.
            clear && cpu_penalty(spec, p, x, n).1.iter().zip(spec.params()).all(|(g, (_, q))| q.role != wgpu_gan::nn::Role::Weight || g.iter().any(|v| *v != 0.0))
        })
        .expect("no kink-free draw in 500 seeds")
}

#[test]
fn penalty_weight_gradients_match_finite_differences() {
    for (name, spec, n) in critics() {
        let (params, x) = kink_free(&spec, n, 0.01);
        let (_, grads, _) = cpu_penalty(&spec, &params, &x, n);
        for (pi, g) in grads.iter().enumerate() {
            let num = numeric_h(&params[pi], &|v| {
                let mut p = params.clone();
                p[pi] = v.to_vec();
                cpu_penalty(&spec, &p, &x, n).0 as f64
            }, H_FD);
            report(&format!("{name}: penalty gradient of param {pi} ({})", spec.param_names()[pi].0), g, &num);
        }
    }
}

#[test]
fn penalty_gpu_matches_cpu() {
    let gpu = common::gpu();
    for (name, spec, n) in critics() {
        for n in [n, 67, 1024] {
            let _ = penalty_on_gpu(&gpu, name, &spec, n);
        }
    }
}

/// The discriminator's shape, small: the subgroup family stores the first LeakyReLU from the
/// first convolution's products and takes its gradient in the second convolution's stride-phase
/// input gradient (tests/fusion.rs), and the penalty pass reads what they stored. Batches 3 and
/// 67 only: at 1,024 every draw has an activation input within rounding of 0 (528 a sample).
#[test]
fn penalty_through_fused_convolutions_matches_cpu() {
    use wgpu_gan::ops::conv_gemm::KernelFamily;
    if !common::kernel_families().contains(&KernelFamily::Gemm) {
        println!("no 8-lane subgroups on this device: only the subgroup family fuses convolutions' activations");
        return;
    }
    let gpu = common::gpu_with(KernelFamily::Gemm);
    let lrelu = Layer::Act(Act::LeakyRelu(0.2));
    let spec = NetSpec {
        layers: vec![
            Layer::Reshape(Reshape::Unflatten { c: 1, h: 8, w: 8 }),
            Layer::Conv2d(ConvSpec::new(1, 32, 8, 8, 4, 2, 1)),
            lrelu,
            Layer::Conv2d(ConvSpec::new(32, 4, 4, 4, 4, 2, 1)),
            lrelu,
            Layer::Reshape(Reshape::Flatten),
            Layer::linear(4 * 2 * 2, 1),
        ],
    };
    for n in [3, 67] {
        let names = penalty_on_gpu(&gpu, "conv critic, fused activations", &spec, n);
        let has = |end: &str| names.iter().any(|d| d.ends_with(end));
        assert!(has("nt_act") || has("nt_wide_act"), "the first convolution did not store the activation: {names:?}");
        assert!(has("taps_dact") || has("taps_wide_dact"), "the second convolution did not take the activation's gradient: {names:?}");
    }
}

/// The penalty and its parameter gradients on the GPU against the CPU reference; returns the
/// names of the launches.
fn penalty_on_gpu(gpu: &wgpu_gan::gpu::Gpu, name: &str, spec: &NetSpec, n: usize) -> Vec<String> {
    let gpu = gpu.clone();
    // (GPU and CPU each run their own forward pass: an activation input within rounding
    // of 0 could fall on different sides; these seeds have none.)
    let (params, x) = kink_free(spec, n, 1e-5);
    let (p_cpu, grads_cpu, _) = cpu_penalty(spec, &params, &x, n);
    let dim = spec.in_dim();
    let mut net = GpuNet::new(&gpu, spec.clone(), &params, n, 1, "critic").unwrap();
    net.enable_penalty(&gpu).unwrap();
    let t = |v: &[f32]| common::tensor(&gpu, v);
    let (tx, ty, ones, g0, gbar0, terms) = (t(&x), t(&vec![0.0; n]), t(&vec![1.0; n]), t(&vec![0.0; n * dim]), t(&vec![0.0; n * dim]), t(&vec![0.0; n]));
    let stats = t(&[0.0; 7]);
    let mut prog = net.forward(&gpu, 0, &tx.buffer, &ty.buffer, n, Mode::Train).unwrap();
    prog.extend(net.backward(&gpu, 0, &tx.buffer, &ones.buffer, Some(&g0.buffer), n, Grads::None).unwrap());
    let pp = PenaltyParams { n: n as u32, dim: dim as u32, lambda: LAMBDA, _pad: 0 };
    prog.push(Dispatch::new(&gpu, &PenaltyRows { g: &g0.buffer, gbar: &gbar0.buffer, terms: &terms.buffer }, &pp, Some(n as u32)).unwrap());
    prog.push(Dispatch::new(&gpu, &PenaltySum { terms: &terms.buffer, stats: &stats.buffer }, &pp, None).unwrap());
    // The penalty's gradients alone (the critic's own gradients are zero here).
    prog.extend(net.penalty_backward(&gpu, 0, &tx.buffer, &ones.buffer, &gbar0.buffer, n).unwrap());
    let mut zero = Program::default();
    for g in &net.grads {
        zero.push(wgpu_gan::nn::copy_range(&gpu, &t(&vec![0.0; g.len()]).buffer, 0, &g.buffer, 0, g.len()).unwrap());
    }
    zero.run(&gpu);
    prog.run(&gpu);
    let names = prog.dispatches.iter().map(|d| d.name.clone()).collect();
    let tag = format!("{name} n={n}");
    check(&format!("{tag}: penalty"), &stats.read(&gpu).unwrap()[6..7], &[p_cpu], TOL);
    for (i, (g, w)) in net.grads.iter().zip(&grads_cpu).enumerate() {
        check(&format!("{tag}: penalty gradient of {}", spec.param_names()[i].0), &g.read(&gpu).unwrap(), w, TOL);
    }
    names
}
