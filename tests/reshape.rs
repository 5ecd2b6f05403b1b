//! Reshapes (src/nn/reshape.rs): `Flatten` and `Unflatten` change no value and cost nothing in
//! the middle of a network (the GPU network gives a view its input's buffer), copy at either end,
//! and shift the parameter names to PyTorch's `nn.Sequential` numbering.

mod common;
use common::layer::TOL;
use common::{check, gpu, randv, tensor};
use wgpu_gan::nn::{Act, BnSpec, ConvSpec, CpuNet, GpuNet, Grads, Init, Layer, Mode, NetSpec, Reshape};

/// A small generator with and without its Unflatten.
fn nets() -> (NetSpec, NetSpec) {
    let with = NetSpec {
        layers: vec![
            Layer::linear(6, 2 * 3 * 3),
            Layer::BatchNorm(BnSpec::new(18, 1)),
            Layer::Act(Act::Relu),
            Layer::Reshape(Reshape::Unflatten { c: 2, h: 3, w: 3 }),
            Layer::ConvT2d(ConvSpec::new(2, 3, 3, 3, 4, 2, 1)),
            Layer::Act(Act::Tanh),
            Layer::Reshape(Reshape::Flatten),
        ],
    };
    let without = NetSpec { layers: with.layers.iter().copied().filter(|l| !matches!(l, Layer::Reshape(_))).collect() };
    (with, without)
}

/// (output, input gradient, parameter gradients, dispatches) of one GPU pass.
fn gpu_pass(spec: &NetSpec, params: &[Vec<f32>], x: &[f32], dy: &[f32], n: usize) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>, usize) {
    let gpu = gpu();
    let net = GpuNet::new(&gpu, spec.clone(), params, n, 1, "reshape").unwrap();
    let (tx, ty, tdy, tdx) = (tensor(&gpu, x), tensor(&gpu, &vec![0.0; dy.len()]), tensor(&gpu, dy), tensor(&gpu, &vec![0.0; x.len()]));
    let mut p = net.forward(&gpu, 0, &tx.buffer, &ty.buffer, n, Mode::Train).unwrap();
    p.extend(net.backward(&gpu, 0, &tx.buffer, &tdy.buffer, Some(&tdx.buffer), n, Grads::Write).unwrap());
    p.run(&gpu);
    let grads = net.grads.iter().map(|t| t.read(&gpu).unwrap()).collect();
    (ty.read(&gpu).unwrap(), tdx.read(&gpu).unwrap(), grads, p.dispatches.len())
}

#[test]
fn reshapes_change_nothing_but_the_names() {
    let (with, without) = nets();
    assert_eq!(with.widths().unwrap().last(), without.widths().unwrap().last());
    let names: Vec<String> = with.param_names().into_iter().map(|p| p.0).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"], "PyTorch's numbering counts the reshapes");
    let params = without.init(3, 0, Init::PyTorch);
    let n = 5;
    let (x, dy) = (randv(n * 6, 1, 1.0), randv(n * 3 * 6 * 6, 2, 1.0));
    // CPU: identical numbers.
    let (mut a, mut b) = (CpuNet::new(with.clone(), params.clone()).unwrap(), CpuNet::new(without.clone(), params.clone()).unwrap());
    check("CPU forward with reshapes", &a.forward(&x, n).unwrap(), &b.forward(&x, n).unwrap(), 0.0);
    check("CPU input gradient with reshapes", &a.backward(&dy, n, true).unwrap(), &b.backward(&dy, n, true).unwrap(), 0.0);
    // GPU: the same as the CPU, and the trailing Flatten costs one copy; the Unflatten nothing.
    let (y, dx, grads, count) = gpu_pass(&with, &params, &x, &dy, n);
    let (_, _, _, count_without) = gpu_pass(&without, &params, &x, &dy, n);
    check("GPU forward with reshapes", &y, &b.forward(&x, n).unwrap(), TOL);
    check("GPU input gradient with reshapes", &dx, &b.backward(&dy, n, true).unwrap(), TOL);
    for (i, (g, w)) in grads.iter().zip(&b.grads).enumerate() {
        // (A bias feeding a batch norm has a gradient of zero in exact arithmetic: rounding noise.)
        if !with.structurally_zero(i) {
            check(&format!("GPU parameter gradient {i} with reshapes"), g, w, TOL);
        }
    }
    println!("dispatches: {count} with the reshapes, {count_without} without");
    assert_eq!(count, count_without + 1, "a view in the middle launches nothing; the last layer copies once");
}

#[test]
fn a_network_may_start_with_a_reshape() {
    let spec = NetSpec { layers: vec![Layer::Reshape(Reshape::Unflatten { c: 1, h: 4, w: 4 }), Layer::Conv2d(ConvSpec::new(1, 2, 4, 4, 3, 1, 1))] };
    let params = spec.init(5, 0, Init::PyTorch);
    let n = 3;
    let (x, dy) = (randv(n * 16, 3, 1.0), randv(n * 32, 4, 1.0));
    let mut cpu = CpuNet::new(spec.clone(), params.clone()).unwrap();
    let (y, dx, _, _) = gpu_pass(&spec, &params, &x, &dy, n);
    check("GPU forward after a leading Unflatten", &y, &cpu.forward(&x, n).unwrap(), TOL);
    check("GPU input gradient through a leading Unflatten", &dx, &cpu.backward(&dy, n, true).unwrap(), TOL);
    let bad = NetSpec { layers: vec![Layer::linear(3, 10), Layer::Reshape(Reshape::Unflatten { c: 1, h: 3, w: 3 })] };
    assert!(bad.widths().is_err(), "10 values cannot unflatten to (1, 3, 3)");
}
