//! R6, the DCGAN of PyTorch's examples/dcgan (src/models.rs): the networks have the example's
//! layers and parameter counts, every layer at R6's new shapes (512 channels at 4 × 4 from a
//! 1 × 1 input, 3 channels at 64 × 64, a 4 × 4 convolution to one logit) matches the CPU reference
//! in every kernel family, small channel counts at batch 1,024 too, and whole R6 training steps
//! match the CPU reference as `--verify` judges them. Tolerance 1e-5 per layer, 1e-4 per step.

mod common;
use common::layer::{compare, run_cpu, run_gpu_on, TOL};
use common::{gpu, kernel_variants, randv};
use std::sync::Arc;
use wgpu_gan::gan::{verify, GanConfig, Table};
use wgpu_gan::models::R6;
use wgpu_gan::nn::{ConvSpec, Init, Layer, Mode, NetSpec};

/// The parameter counts of PyTorch's example (nz 100, ngf = ndf = 64, nc 3, 64 × 64), summed from
/// its layers: G's five transposed convolutions and four batch norms, D's five convolutions and
/// three batch norms, every convolution without a bias.
#[test]
fn r6_has_the_examples_layers() {
    let r6 = R6::default();
    r6.validate().unwrap();
    let (g, d) = (r6.generator(), r6.discriminator());
    let count = |n: &NetSpec| n.param_lens().iter().sum::<usize>();
    let convt = |cin: usize, cout: usize| cin * cout * 16;
    let want_g = convt(100, 512) + convt(512, 256) + convt(256, 128) + convt(128, 64) + convt(64, 3) + 2 * (512 + 256 + 128 + 64);
    let want_d = convt(3, 64) + convt(64, 128) + convt(128, 256) + convt(256, 512) + convt(512, 1) + 2 * (128 + 256 + 512);
    println!("R6 at 64 × 64: G {} parameters (PyTorch's example: {want_g}), D {} ({want_d})", count(&g), count(&d));
    assert_eq!((count(&g), count(&d)), (want_g, want_d));
    assert_eq!((want_g, want_d), (3_576_704, 2_765_568));
    assert_eq!((g.in_dim(), g.out_dim(), d.in_dim(), d.out_dim()), (100, 3 * 64 * 64, 3 * 64 * 64, 1));
    for size in [16, 32, 128] {
        let r = R6 { image_size: size, ..r6 };
        r.validate().unwrap();
        assert_eq!((r.generator().out_dim(), r.discriminator().in_dim(), r.discriminator().out_dim()), (3 * size * size, 3 * size * size, 1), "image size {size}");
    }
    for bad in [R6 { image_size: 48, ..r6 }, R6 { image_size: 8, ..r6 }, R6 { nc: 0, ..r6 }] {
        let err = bad.validate().expect_err("an R6 that cannot be built was accepted").to_string();
        println!("refused: {err}");
    }
}

/// Each of R6's layer shapes, GPU against CPU in every kernel family: full channel counts at a
/// small batch, and small channel counts at batch 1,024 (the longest reductions users run).
#[test]
fn r6_layer_shapes_match_cpu() {
    let c = |cin, cout, hw, s, p| ConvSpec::new(cin, cout, hw, hw, 4, s, p).no_bias();
    let cases = [
        (2, Layer::ConvT2d(c(100, 512, 1, 1, 0))),
        (2, Layer::ConvT2d(c(512, 256, 4, 2, 1))),
        (2, Layer::ConvT2d(c(64, 3, 32, 2, 1))),
        (2, Layer::Conv2d(c(3, 64, 64, 2, 1))),
        (2, Layer::Conv2d(c(256, 512, 8, 2, 1))),
        (2, Layer::Conv2d(c(512, 1, 4, 1, 0))),
        (1024, Layer::ConvT2d(c(8, 4, 1, 1, 0))),
        (1024, Layer::ConvT2d(c(4, 3, 32, 2, 1))),
        (1024, Layer::Conv2d(c(3, 4, 64, 2, 1))),
        (1024, Layer::Conv2d(c(8, 1, 4, 1, 0))),
    ];
    for (i, (n, layer)) in cases.into_iter().enumerate() {
        let net = NetSpec { layers: vec![layer] };
        let params = net.init(30 + i as u32, 0, Init::Dcgan);
        let x = randv(n * net.in_dim(), 70 + i as u64, 1.0);
        let dy = randv(n * net.out_dim(), 80 + i as u64, 1.0);
        let want = run_cpu(layer, n, &x, &params, None, &dy, Mode::Train);
        let (kind, s) = match layer {
            Layer::ConvT2d(s) => ("convT", s),
            Layer::Conv2d(s) => ("conv2d", s),
            _ => unreachable!(),
        };
        for (fam, g) in kernel_variants() {
            let tag = format!("R6 {kind} n={n} {}→{} {}×{} s{} p{} [{fam}]", s.cin, s.cout, s.h, s.w, s.stride[0], s.pad[0]);
            compare(&tag, &run_gpu_on(&g, layer, n, &x, &params, None, &dy, Mode::Train, false), &want, TOL);
        }
    }
}

/// Whole R6 training steps, GPU against the CPU reference from the same weights, noise and real
/// batch: a narrow R6 at 32 × 32 (three steps at batch 4), and the example's own 64 × 64 network
/// (one step at batch 2).
#[test]
fn r6_steps_match_cpu() {
    let gpu = gpu();
    for (shape, batch, steps) in [(R6 { image_size: 32, nz: 16, ngf: 8, ndf: 8, ..R6::default() }, 4, 3), (R6::default(), 2, 1)] {
        let dim = shape.nc * shape.image_size * shape.image_size;
        let rows = wgpu_gan::rng::uniform_fill(5, 0, 16 * dim, -1.0, 1.0);
        let mut cfg = GanConfig::r6(Arc::new(Table::new(rows, dim).unwrap()), &shape);
        cfg.batch = batch;
        let t = std::time::Instant::now();
        let v = verify(&gpu, &cfg, steps, batch, 3).unwrap();
        println!("R6 {shape:?} batch {batch}, {steps} steps ({:.1} s):\n{v}", t.elapsed().as_secs_f64());
        assert!(v.passed(1e-4), "R6 step differs from the CPU reference: {}", v.judged());
    }
}
