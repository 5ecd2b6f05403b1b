//! The one-call layer API (`wgpu_gan::layers`): every layer's GPU forward and backward against
//! its CPU reference at awkward sizes and at batch 1,024, the CPU backward against finite
//! differences through the API, parameters by name, state dicts, modes and shape errors.

mod common;

use common::layer::TOL;
use std::collections::BTreeMap;
use wgpu_gan::gpu::{CpuTensor, Tensor};
use wgpu_gan::interop::{self, StateDict};
use wgpu_gan::layers::{Activation, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Linear, Module};
use wgpu_gan::max_rel_err;
use wgpu_gan::nn::Mode;
use wgpu_gan::rng::normal_fill;

fn random(shape: &[usize], seed: u32) -> CpuTensor {
    CpuTensor::new(shape, normal_fill(seed, 3, shape.iter().product(), 0.0, 1.0)).unwrap()
}

/// Forward and backward of `layer` on an input of `shape`, GPU against CPU: the largest error.
fn gpu_vs_cpu(layer: &Module, shape: &[usize], seed: u32) -> f32 {
    let g = common::gpu();
    let x = random(shape, seed);
    let y = layer.forward_cpu(&x).unwrap();
    let got_y = layer.forward(&g, &x.to_gpu(&g).unwrap()).unwrap();
    assert_eq!(got_y.shape(), y.shape(), "{}: output shape", layer.name());
    let dy = random(y.shape(), seed + 1);
    let want = layer.backward_cpu(&x, &dy).unwrap();
    let got = layer.backward(&g, &x.to_gpu(&g).unwrap(), &dy.to_gpu(&g).unwrap()).unwrap();
    assert_eq!(got.input.shape(), shape);
    assert_eq!(got.params.len(), layer.param_names().len(), "{}: a gradient per parameter", layer.name());
    let mut errs = vec![max_rel_err(got_y.to_cpu(&g).unwrap().data(), y.data()), max_rel_err(got.input.to_cpu(&g).unwrap().data(), want.input.data())];
    for (name, t) in &got.params {
        assert_eq!(t.shape(), layer.param(name).unwrap().shape(), "{}.{name}: gradient shape", layer.name());
        errs.push(max_rel_err(t.to_cpu(&g).unwrap().data(), want.param(name).unwrap().data()));
    }
    let worst = errs.iter().fold(0f32, |m, &e| if e.is_nan() { f32::INFINITY } else { m.max(e) });
    println!("{:<16} {shape:?}: max rel err {worst:.2e}", layer.name());
    worst
}

#[test]
fn every_layer_matches_cpu_at_awkward_sizes_and_batch_1024() {
    let cases: Vec<(Module, Vec<usize>)> = vec![
        (Conv2d::new(3, 5, (3, 2)).stride((2, 1)).padding((1, 0)).dilation((2, 1)).into(), vec![3, 3, 11, 7]),
        (Conv2d::new(1, 2, 4).stride(2).padding(1).into(), vec![1024, 1, 8, 8]),
        (ConvTranspose2d::new(5, 3, 3).stride(2).padding(1).output_padding(1).into(), vec![2, 5, 5, 4]),
        (ConvTranspose2d::new(2, 1, 4).stride(2).padding(1).bias(false).into(), vec![1024, 2, 4, 4]),
        (Linear::new(13, 7).into(), vec![9, 13]),
        (Linear::new(6, 3).bias(false).into(), vec![1024, 6]),
        (BatchNorm2d::new(3).eps(1e-3).into(), vec![7, 3, 5, 3]),
        (BatchNorm2d::new(2).into(), vec![1024, 2, 7, 7]),
        (BatchNorm1d::new(11).into(), vec![6, 11]),
        (BatchNorm1d::new(2).into(), vec![1024, 2, 3]),
        (Activation::relu().into(), vec![3, 2, 5]),
        (Activation::leaky_relu(0.2).into(), vec![1024, 7]),
        (Activation::tanh().into(), vec![5, 3, 2, 2]),
        (Activation::sigmoid().into(), vec![1024, 3]),
    ];
    let mut worst = 0f32;
    for (i, (layer, shape)) in cases.iter().enumerate() {
        worst = worst.max(gpu_vs_cpu(layer, shape, 10 * i as u32));
    }
    println!("worst max rel err over every layer: {worst:.2e}");
    assert!(worst <= TOL, "the GPU differs from the CPU reference by {worst:.2e}");
}

/// backward_cpu's parameter and input gradients against central differences of Σ y·dy, through
/// the API (names and shapes wired to the right tensors).
#[test]
fn cpu_backward_matches_finite_differences() {
    let layers: Vec<(Module, Vec<usize>)> = vec![
        (Conv2d::new(2, 3, (3, 2)).stride(2).padding(1).dilation((1, 2)).seed(4).into(), vec![2, 2, 6, 5]),
        (ConvTranspose2d::new(2, 2, 3).stride(2).seed(5).into(), vec![2, 2, 3, 3]),
        (Linear::new(4, 3).seed(6).into(), vec![3, 4]),
        (BatchNorm2d::new(2).into(), vec![3, 2, 2, 2]),
    ];
    let h = 1e-2f64;
    for (li, (layer, shape)) in layers.into_iter().enumerate() {
        let x = random(&shape, 50 + li as u32);
        let dy = random(layer.forward_cpu(&x).unwrap().shape(), 60 + li as u32);
        let objective = |m: &Module, x: &CpuTensor| -> f64 { m.forward_cpu(x).unwrap().data().iter().zip(dy.data()).map(|(a, b)| *a as f64 * *b as f64).sum() };
        let g = layer.backward_cpu(&x, &dy).unwrap();
        let mut layer = layer;
        for name in layer.param_names() {
            let p = layer.param(name).unwrap().clone();
            for j in (0..p.data().len()).step_by(p.data().len().div_ceil(5)) {
                let at = |d: f64, l: &mut Module| {
                    let mut v = p.data().to_vec();
                    v[j] += d as f32;
                    l.set_param(name, CpuTensor::new(p.shape(), v).unwrap()).unwrap();
                    objective(l, &x)
                };
                let fd = (at(h, &mut layer) - at(-h, &mut layer)) / (2.0 * h);
                layer.set_param(name, p.clone()).unwrap();
                let an = g.param(name).unwrap().data()[j] as f64;
                assert!((fd - an).abs() <= 2e-2 * an.abs().max(1.0), "{} {name}[{j}]: finite difference {fd}, backward {an}", layer.name());
            }
        }
        for j in (0..x.data().len()).step_by(7) {
            let at = |d: f64| {
                let mut v = x.data().to_vec();
                v[j] += d as f32;
                objective(&layer, &CpuTensor::new(x.shape(), v).unwrap())
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            let an = g.input.data()[j] as f64;
            assert!((fd - an).abs() <= 2e-2 * an.abs().max(1.0), "{} input[{j}]: finite difference {fd}, backward {an}", layer.name());
        }
    }
}

#[test]
fn parameters_by_name_change_what_the_layer_computes() {
    let g = common::gpu();
    let mut fc = Linear::new(2, 2);
    assert_eq!(fc.param_names(), ["weight", "bias"]);
    fc.set_param("weight", CpuTensor::new(&[2, 2], vec![0.0, 1.0, 1.0, 0.0]).unwrap()).unwrap();
    fc.set_param("bias", CpuTensor::new(&[2], vec![10.0, 20.0]).unwrap()).unwrap();
    let x = CpuTensor::new(&[1, 2], vec![3.0, 4.0]).unwrap();
    // Once the layer has run, a change must reach the device's copy too.
    assert_eq!(fc.forward(&g, &x.to_gpu(&g).unwrap()).unwrap().read(&g).unwrap(), [14.0, 23.0]);
    fc.set_param("bias", CpuTensor::new(&[2], vec![0.0, 0.0]).unwrap()).unwrap();
    assert_eq!(fc.forward(&g, &x.to_gpu(&g).unwrap()).unwrap().read(&g).unwrap(), [4.0, 3.0]);
    assert_eq!(fc.forward_cpu(&x).unwrap().data(), [4.0, 3.0]);
    let e = fc.set_param("weight", CpuTensor::new(&[4], vec![0.0; 4]).unwrap()).unwrap_err().to_string();
    assert!(e.contains("[2, 2]") && e.contains("[4]"), "{e}");
    let e = fc.set_param("gamma", CpuTensor::new(&[2], vec![0.0; 2]).unwrap()).unwrap_err().to_string();
    assert!(e.contains("gamma") && e.contains("weight"), "{e}");
    // Seeds: the same seed, the same weights; layers built one after another differ.
    assert_eq!(Conv2d::new(2, 3, 3).seed(9).param("weight"), Conv2d::new(2, 3, 3).seed(9).param("weight"));
    assert_ne!(Conv2d::new(2, 3, 3).param("weight"), Conv2d::new(2, 3, 3).param("weight"));
    assert_eq!(Conv2d::new(2, 3, 3).bias(false).param_names(), ["weight"]);
    // Parameters exist whatever the input will be: a kernel dilated past 64 pixels too.
    let wide = Conv2d::new(1, 1, 3).dilation(40).seed(1);
    assert_eq!(wide.param("weight").unwrap().shape(), &[1, 1, 3, 3]);
    assert_eq!(wide.forward_cpu(&random(&[1, 1, 100, 100], 2)).unwrap().shape(), &[1, 1, 20, 20]);
}

#[test]
fn state_dicts_load_by_name_and_refuse_what_does_not_fit() {
    let t = |shape: &[usize], v: f32| interop::Tensor { shape: shape.to_vec(), values: vec![v; shape.iter().product()], stored_as: safetensors::Dtype::F32 };
    let mut tensors = BTreeMap::new();
    tensors.insert("main.1.weight".to_string(), t(&[3], 2.0));
    tensors.insert("main.1.bias".to_string(), t(&[3], 0.5));
    tensors.insert("main.1.running_mean".to_string(), t(&[3], 1.0));
    tensors.insert("main.1.running_var".to_string(), t(&[3], 4.0));
    let sd = StateDict { tensors };
    let mut bn = BatchNorm1d::new(3).eval();
    bn.load_state_dict(&sd, "main.1.").unwrap();
    assert_eq!(bn.param("weight").unwrap().data(), [2.0; 3]);
    assert_eq!(bn.running()[1].1.data(), [4.0; 3]);
    // Eval mode: (x − 1)/√(4 + eps)·2 + 0.5.
    let y = bn.forward_cpu(&CpuTensor::new(&[1, 3], vec![3.0; 3]).unwrap()).unwrap();
    assert!(y.data().iter().all(|v| (v - 2.5).abs() < 1e-4), "{y:?}");
    let g = common::gpu();
    let y = bn.forward(&g, &Tensor::new(&g, &[1, 3], &[3.0; 3]).unwrap()).unwrap().read(&g).unwrap();
    assert!(y.iter().all(|v| (v - 2.5).abs() < 1e-4), "{y:?}");
    // A missing tensor and a mis-shaped one, both named; nothing changes.
    let mut sd2 = StateDict { tensors: sd.tensors.clone() };
    sd2.tensors.remove("main.1.bias");
    sd2.tensors.insert("main.1.weight".to_string(), t(&[4], 7.0));
    let e = bn.load_state_dict(&sd2, "main.1.").unwrap_err().to_string();
    assert!(e.contains("main.1.bias [3] is missing") && e.contains("main.1.weight has shape [4]"), "{e}");
    assert_eq!(bn.param("weight").unwrap().data(), [2.0; 3], "a failed load must leave the layer as it was");
}

#[test]
fn batch_norm_running_statistics_move_alike_on_both_sides() {
    let g = common::gpu();
    let x = random(&[6, 2, 3, 3], 77);
    let (cpu, gpu) = (BatchNorm2d::new(2).momentum(0.3), BatchNorm2d::new(2).momentum(0.3));
    for _ in 0..2 {
        cpu.forward_cpu(&x).unwrap();
        gpu.forward(&g, &x.to_gpu(&g).unwrap()).unwrap();
    }
    for ((name, a), (_, b)) in cpu.running().iter().zip(gpu.running()) {
        assert!(max_rel_err(b.data(), a.data()) < TOL, "{name}: {:?} vs {:?}", b.data(), a.data());
        assert!(a.data().iter().all(|v| *v != 0.0 && *v != 1.0), "{name} must have moved: {:?}", a.data());
    }
    // One value per channel has no batch statistics: refused (PyTorch refuses it too).
    let e = BatchNorm1d::new(3).forward_cpu(&random(&[1, 3], 5)).unwrap_err().to_string();
    assert!(e.contains("BatchNorm"), "{e}");
    assert!(BatchNorm1d::new(3).forward(&g, &random(&[1, 3], 5).to_gpu(&g).unwrap()).is_err());
    // In evaluation mode there is no batch statistic to differentiate through.
    let mut bn = BatchNorm2d::new(2);
    bn.set_mode(Mode::Eval);
    let e = bn.backward_cpu(&x, &random(&[6, 2, 3, 3], 79)).unwrap_err().to_string();
    assert!(e.contains("evaluation mode"), "{e}");
}

#[test]
fn gradients_outlive_the_next_call_and_batches_change() {
    let g = common::gpu();
    let conv = Conv2d::new(2, 2, 3).padding(1);
    let x = random(&[2, 2, 5, 5], 5).to_gpu(&g).unwrap();
    let first = conv.backward(&g, &x, &random(&[2, 2, 5, 5], 6).to_gpu(&g).unwrap()).unwrap();
    let kept = first.param("weight").unwrap().read(&g).unwrap();
    conv.backward(&g, &x, &random(&[2, 2, 5, 5], 7).to_gpu(&g).unwrap()).unwrap();
    assert_eq!(first.param("weight").unwrap().read(&g).unwrap(), kept);
    // A larger batch, then another image size: each rebuilt on demand, each right.
    for shape in [[9, 2, 5, 5], [1, 2, 4, 6]] {
        let x = random(&shape, 8);
        let got = conv.forward(&g, &x.to_gpu(&g).unwrap()).unwrap().to_cpu(&g).unwrap();
        assert!(max_rel_err(got.data(), conv.forward_cpu(&x).unwrap().data()) < TOL);
    }
    // A part of a larger buffer is read from its own offset.
    let block = wgpu_gan::gpu::Block::from_slices(&g, "b", &[vec![9.0; 3], x_values(&[1, 2, 4, 6])]).unwrap();
    let view = block[1].clone().reshape(&[1, 2, 4, 6]).unwrap();
    assert!(view.offset > 0);
    let x = CpuTensor::new(&[1, 2, 4, 6], x_values(&[1, 2, 4, 6])).unwrap();
    let got = conv.forward(&g, &view).unwrap().to_cpu(&g).unwrap();
    assert!(max_rel_err(got.data(), conv.forward_cpu(&x).unwrap().data()) < TOL);
}

fn x_values(shape: &[usize]) -> Vec<f32> {
    (0..shape.iter().product::<usize>()).map(|i| ((i * 7) % 11) as f32 - 5.0).collect()
}

#[test]
fn shapes_are_checked_with_messages_that_say_what_was_expected() {
    let g = common::gpu();
    let conv = Conv2d::new(3, 4, 3);
    let e = conv.forward_cpu(&random(&[2, 4, 5, 5], 1)).unwrap_err().to_string();
    assert!(e.contains("[n, 3, height, width]") && e.contains("[4, 5, 5]"), "{e}");
    let e = conv.forward(&g, &random(&[2, 3, 5], 1).to_gpu(&g).unwrap()).unwrap_err().to_string();
    assert!(e.contains("Conv2d"), "{e}");
    // A kernel larger than the padded input.
    assert!(conv.forward_cpu(&random(&[1, 3, 2, 2], 1)).is_err());
    let e = Linear::new(4, 2).backward_cpu(&random(&[3, 4], 1), &random(&[3, 3], 2)).unwrap_err().to_string();
    assert!(e.contains("[3, 3]") && e.contains("[3, 2]"), "{e}");
    assert!(Linear::new(4, 2).forward_cpu(&random(&[3, 2, 2], 1)).is_err(), "Linear takes [n, features]");
    assert!(BatchNorm2d::new(2).forward_cpu(&random(&[3, 2], 1)).is_err(), "BatchNorm2d takes images");
    assert!(Activation::relu().forward_cpu(&CpuTensor::new(&[0, 3], vec![]).unwrap()).is_err(), "an empty batch");
    assert!(Tensor::new(&g, &[2, 3], &[0.0; 5]).is_err());
    assert!(Tensor::new(&g, &[2, 3], &[0.0; 6]).unwrap().reshape(&[4, 2]).is_err());
    assert!(CpuTensor::new(&[usize::MAX, 2], vec![]).is_err());
}
