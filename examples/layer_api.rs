//! One of each layer through the layer API (`wgpu_gan::layers`), forward and backward on the GPU,
//! against its CPU reference: `cargo run --release --example layer_api`.
use wgpu_gan::gpu::{CpuTensor, Gpu};
use wgpu_gan::layers::{Activation, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Linear, Module};
use wgpu_gan::{max_rel_err, rng::normal_fill, Error};

fn main() -> wgpu_gan::Result<()> {
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());
    let layers: [(Module, &[usize]); 6] = [
        (Conv2d::new(3, 8, 4).stride(2).padding(1).dilation((2, 1)).into(), &[5, 3, 17, 13]),
        (ConvTranspose2d::new(8, 3, 4).stride(2).padding(1).bias(false).into(), &[5, 8, 7, 6]),
        (Linear::new(30, 7).into(), &[5, 30]),
        (BatchNorm2d::new(6).into(), &[5, 6, 4, 3]),
        (BatchNorm1d::new(9).into(), &[5, 9]),
        (Activation::leaky_relu(0.2).into(), &[5, 11]),
    ];
    let random = |shape: &[usize], seed| CpuTensor::new(shape, normal_fill(seed, 0, shape.iter().product(), 0.0, 1.0));
    let mut worst = 0f32;
    for (i, (layer, shape)) in layers.iter().enumerate() {
        let x = random(shape, 2 * i as u32)?;
        let (y, got_y) = (layer.forward_cpu(&x)?, layer.forward(&gpu, &x.to_gpu(&gpu)?)?.to_cpu(&gpu)?);
        let dy = random(y.shape(), 2 * i as u32 + 1)?;
        let (want, got) = (layer.backward_cpu(&x, &dy)?, layer.backward(&gpu, &x.to_gpu(&gpu)?, &dy.to_gpu(&gpu)?)?);
        let mut errs = vec![("output", max_rel_err(got_y.data(), y.data())), ("input", max_rel_err(got.input.to_cpu(&gpu)?.data(), want.input.data()))];
        for ((name, g), (_, w)) in got.params.iter().zip(&want.params) {
            errs.push((name, max_rel_err(g.to_cpu(&gpu)?.data(), w.data())));
        }
        let shown: Vec<String> = errs.iter().map(|(n, e)| format!("{n} {e:.1e}")).collect();
        println!("{:<16} {:?} -> {:?}: max rel err {}", layer.name(), shape, y.shape(), shown.join(", "));
        worst = errs.iter().fold(worst, |m, &(_, e)| if e.is_nan() { f32::INFINITY } else { m.max(e) });
    }
    if worst > 1e-5 {
        return Err(Error::Shape(format!("the GPU differs from the CPU reference by up to {worst:.1e} (more than 1e-5)")));
    }
    println!("every layer matches its CPU reference (worst {worst:.1e})");
    Ok(())
}
