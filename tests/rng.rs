//! The counter-based random numbers and data draws (src/rng.rs, shaders/rng.wgsl): the same bits
//! as the CPU reference, normals with the right moments, and epochs that visit every row once.

mod common;
use common::layer::TOL;
use common::{check, gpu, launch, randv, tensor};
use wgpu_gan::rng::{GatherRows, MixtureSample, RandnFill, RngParams};
#[test]
fn random_kernels_match_cpu() {
    let gpu = gpu();
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[5u32]).unwrap();
    for &n in &[1usize, 7, 33, 257, 10_001] {
        let out = tensor(&gpu, &vec![0.0; n]);
        let p = RngParams { n: n as u32, seed: 42, stream: 3, ..Default::default() };
        launch(&gpu, &RandnFill { counter: &counter.buffer, out: &out.buffer }, &p, Some((n as u32).div_ceil(2)));
        // Same bits on both sides; only log/cos/sin rounding differs.
        check(&format!("randn_fill n={n}"), &out.read(&gpu).unwrap(), &wgpu_gan::rng::randn_fill(n, 42, 3, 5), TOL);
    }
    for mix in [wgpu_gan::data::Mixture::ring(), wgpu_gan::data::Mixture::grid()] {
        let n = 333;
        let centres = tensor(&gpu, &mix.flat_centres());
        let out = tensor(&gpu, &vec![0.0; 2 * (n + 5)]);
        let p = RngParams { n: n as u32, seed: 9, stream: 1, k: mix.centres.len() as u32, row_offset: 5, sigma: mix.sigma, ..Default::default() };
        launch(&gpu, &MixtureSample { centres: &centres.buffer, counter: &counter.buffer, out: &out.buffer }, &p, Some(n as u32));
        let got = out.read(&gpu).unwrap();
        assert!(got[..10].iter().all(|&v| v == 0.0), "rows before row_offset were written");
        check(&format!("mixture_sample {} n={n}", mix.name), &got[10..], &wgpu_gan::rng::mixture_sample(&mix.centres, mix.sigma, n, 9, 1, 5), TOL);
    }
}

/// The generator is only useful if its normals are normal: mean, variance and tails of 200k draws.
#[test]
fn gpu_normals_have_the_right_moments() {
    let gpu = gpu();
    let n = 200_000;
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[0u32]).unwrap();
    let out = tensor(&gpu, &vec![0.0; n]);
    let p = RngParams { n: n as u32, seed: 1, stream: 0, ..Default::default() };
    launch(&gpu, &RandnFill { counter: &counter.buffer, out: &out.buffer }, &p, Some((n as u32).div_ceil(2)));
    let v = out.read(&gpu).unwrap();
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    let tail = v.iter().filter(|x| x.abs() > 1.96).count() as f64 / n as f64;
    println!("randn moments: mean {mean:.4}, var {var:.4}, P(|z|>1.96) {tail:.4}");
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01 && (tail - 0.05).abs() < 0.003);
}

#[test]
fn gather_rows_visits_every_row_once_per_epoch() {
    let gpu = gpu();
    // A table of 37 rows of 5 values, drawn 8 rows at a time: each epoch must visit every row once.
    let (count, dim, n) = (37usize, 5usize, 8usize);
    let table: Vec<f32> = (0..count * dim).map(|i| i as f32).collect();
    let tt = tensor(&gpu, &table);
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[0u32]).unwrap();
    let out = tensor(&gpu, &vec![0.0; (n + 3) * dim]);
    let mut seen = Vec::new();
    for step in 0..10u32 {
        counter.write(&gpu, &[step]).unwrap();
        for draw in 0..2u32 {
            let p = RngParams { n: n as u32, seed: 4, stream: draw, k: count as u32, row_offset: 3, sigma: 0.0, dim: dim as u32, per_step: 2, ..Default::default() };
            launch(&gpu, &GatherRows { entry: "gather_rows", centres: &tt.buffer, counter: &counter.buffer, out: &out.buffer }, &p, Some((n * dim) as u32));
            let (want, idx) = wgpu_gan::rng::gather_rows(&table, dim, n, 4, draw, step, 2);
            check(&format!("gather_rows step {step} draw {draw}"), &out.read(&gpu).unwrap()[3 * dim..], &want, 0.0);
            seen.extend(idx);
        }
    }
    for epoch in seen.chunks_exact(count) {
        let mut e = epoch.to_vec();
        e.sort();
        assert_eq!(e, (0..count).collect::<Vec<_>>(), "an epoch must visit every row exactly once");
    }
    assert_ne!(&seen[..count], &seen[count..2 * count], "epochs should be shuffled differently");
}

/// The samplers the GAN variants added, at a real batch's size (1024 rows) and off-size ones:
/// WGAN-GP's interpolates and the conditional toy's labelled mixture, against the CPU.
#[test]
fn interpolate_and_labelled_mixture_match_cpu() {
    use wgpu_gan::rng::{Interpolate, MixtureLabeled};
    let gpu = gpu();
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[7u32]).unwrap();
    for &(n, dim) in &[(3usize, 5usize), (1024, 2), (1024, 13)] {
        // a: rows [n, 2n) of x (real), b: rows [0, n) (generated), as in a joint batch.
        let x = randv(2 * n * dim, 11, 1.0);
        let (tx, out) = (tensor(&gpu, &x), tensor(&gpu, &vec![0.0; n * dim]));
        let p = RngParams { n: n as u32, seed: 3, stream: 9, row_offset: n as u32, k: 0, dim: dim as u32, ..Default::default() };
        launch(&gpu, &Interpolate { counter: &counter.buffer, out: &out.buffer, a: &tx.buffer, b: &tx.buffer }, &p, Some((n * dim) as u32));
        let want = wgpu_gan::rng::interpolate(&x[n * dim..], &x[..n * dim], n, dim, 3, 9, 7);
        check(&format!("interpolate n={n} dim={dim}"), &out.read(&gpu).unwrap(), &want, TOL);
    }
    let mix = wgpu_gan::data::Mixture::ring();
    for n in [5usize, 1024] {
        let centres = tensor(&gpu, &mix.flat_centres());
        let (out, labels) = (tensor(&gpu, &vec![0.0; 2 * (n + 2)]), tensor(&gpu, &vec![0.0; n + 2]));
        let p = RngParams { n: n as u32, seed: 4, stream: 1, k: mix.centres.len() as u32, row_offset: 2, sigma: mix.sigma, ..Default::default() };
        launch(&gpu, &MixtureLabeled { centres: &centres.buffer, counter: &counter.buffer, out: &out.buffer, out_labels: &labels.buffer }, &p, Some(n as u32));
        let (points, want_labels) = wgpu_gan::rng::mixture_labeled(&mix.centres, mix.sigma, n, 4, 1, 7);
        check(&format!("mixture_labeled points n={n}"), &out.read(&gpu).unwrap()[4..], &points, TOL);
        check(&format!("mixture_labeled labels n={n}"), &labels.read(&gpu).unwrap()[2..], &want_labels, 0.0);
    }
}

/// A data-parallel rank's shard (`first`, `total`: issue 26): rank 1 of 2 at batch 1024 draws
/// exactly rows [1024, 2048) of what one process at 2048 draws, for the normals, the mixture and
/// the table's shuffled epochs, against the CPU reference of the whole batch.
#[test]
fn a_ranks_shard_is_its_rows_of_the_whole_draw() {
    let gpu = gpu();
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[3u32]).unwrap();
    let (b, zd) = (1024usize, 2usize);
    // Normals: this rank's b·zd values start at pair b·zd/2 of the whole batch's.
    let n = b * zd;
    let out = tensor(&gpu, &vec![0.0; n]);
    let p = RngParams { n: n as u32, seed: 7, stream: 2, first: (n / 2) as u32, ..Default::default() };
    launch(&gpu, &RandnFill { counter: &counter.buffer, out: &out.buffer }, &p, Some((n as u32).div_ceil(2)));
    check("randn_fill, rank 1 of 2", &out.read(&gpu).unwrap(), &wgpu_gan::rng::randn_fill(2 * n, 7, 2, 3)[n..], TOL);
    // The ring: point j of this rank is point b + j of the whole batch.
    let mix = wgpu_gan::data::Mixture::ring();
    let centres = tensor(&gpu, &mix.flat_centres());
    let out = tensor(&gpu, &vec![0.0; 2 * b]);
    let p = RngParams { n: b as u32, seed: 9, stream: 1, k: mix.centres.len() as u32, sigma: mix.sigma, first: b as u32, ..Default::default() };
    launch(&gpu, &MixtureSample { centres: &centres.buffer, counter: &counter.buffer, out: &out.buffer }, &p, Some(b as u32));
    check("mixture_sample, rank 1 of 2", &out.read(&gpu).unwrap(), &wgpu_gan::rng::mixture_sample(&mix.centres, mix.sigma, 2 * b, 9, 1, 3)[2 * b..], TOL);
    // The table: row j of draw 1 is row b + j of the whole batch's draw 1 (epochs over 3,001 rows).
    let (count, dim) = (3001usize, 3usize);
    let table: Vec<f32> = (0..count * dim).map(|i| i as f32).collect();
    let tt = tensor(&gpu, &table);
    let out = tensor(&gpu, &vec![0.0; b * dim]);
    let p = RngParams { n: b as u32, seed: 4, stream: 1, k: count as u32, dim: dim as u32, per_step: 2, first: b as u32, total: 2 * b as u32, ..Default::default() };
    launch(&gpu, &GatherRows { entry: "gather_rows", centres: &tt.buffer, counter: &counter.buffer, out: &out.buffer }, &p, Some((b * dim) as u32));
    let (whole, _) = wgpu_gan::rng::gather_rows(&table, dim, 2 * b, 4, 1, 3, 2);
    check("gather_rows, rank 1 of 2", &out.read(&gpu).unwrap(), &whole[b * dim..], 0.0);
}
