//! Conditional GANs (src/gan/cond.rs): the conditioning kernels against the CPU reference, and a
//! CGAN training step (R3, and a dense CGAN whose discriminator takes a one-hot vector), GPU
//! against the CPU reference through `gan::verify`.

mod common;
use common::{check, gpu, launch, randv, tensor};
use std::sync::Arc;
use wgpu_gan::gan::cond::{append, append_onehot, project, project_backward, push_project, push_project_backward, take, take_columns};
use wgpu_gan::gan::{verify, GanConfig, Table};
use wgpu_gan::nn::{Act, NetSpec};
use wgpu_gan::rng::{random_labels, RandomLabels, RngParams};

#[test]
fn conditioning_kernels_match_cpu() {
    let gpu = gpu();
    for &(rows, dim, classes, plane) in &[(5usize, 7usize, 3usize, 1usize), (4, 12, 10, 12), (33, 2, 4, 1), (1024, 28, 10, 28)] {
        // Two calls into one output, the second from row `rows` (as for [fake; real]).
        let x = randv(2 * rows * dim, 1, 1.0);
        let labels: Vec<f32> = (0..2 * rows).map(|i| (i * 7 % classes) as f32).collect();
        let width = dim + classes * plane;
        let (tx, tl, out) = (tensor(&gpu, &x), tensor(&gpu, &labels), tensor(&gpu, &vec![9.0; 2 * rows * width]));
        let mut p = wgpu_gan::gpu::Program::default();
        p.push(append(&gpu, &tx.buffer, &tl.buffer, &out.buffer, rows, dim, classes, plane, [0, 0, 0]).unwrap());
        p.push(append(&gpu, &tx.buffer, &tl.buffer, &out.buffer, rows, dim, classes, plane, [rows, rows, rows]).unwrap());
        p.run(&gpu);
        let want = append_onehot(&x, &labels, 2 * rows, dim, classes, plane);
        check(&format!("append_onehot rows={rows} dim={dim} classes={classes} plane={plane}"), &out.read(&gpu).unwrap(), &want, 0.0);
        let cols = tensor(&gpu, &vec![0.0; 2 * rows * dim]);
        let mut p = wgpu_gan::gpu::Program::default();
        p.push(take(&gpu, &out.buffer, &cols.buffer, 2 * rows, width, dim).unwrap());
        p.run(&gpu);
        check("take_columns", &cols.read(&gpu).unwrap(), &take_columns(&want, 2 * rows, width, dim), 0.0);
    }
    let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[3u32]).unwrap();
    let out = tensor(&gpu, &vec![0.0; 1000]);
    launch(&gpu, &RandomLabels { counter: &counter.buffer, out: &out.buffer }, &RngParams { n: 997, seed: 5, stream: 2, k: 10, row_offset: 3, ..Default::default() }, Some(997));
    let got = out.read(&gpu).unwrap();
    check("random_labels", &got[3..], &random_labels(997, 10, 5, 2, 3), 0.0);
    let counts = (0..10).map(|c| got[3..].iter().filter(|&&v| v == c as f32).count()).collect::<Vec<_>>();
    assert!(counts.iter().all(|&n| n > 60), "every class drawn about 100 times in 997: {counts:?}");
}

/// The projection discriminator's kernels: each half of [fake; real] with its own labels, as the
/// training step calls them, against the CPU; and the CPU's backward against the forward (the
/// projection is linear, so its gradient must be its exact adjoint: ⟨P e, d⟩ = ⟨e, Pᵀ d⟩).
#[test]
fn projection_kernels_match_cpu() {
    let gpu = gpu();
    for &(rows, classes) in &[(1usize, 10usize), (7, 3), (257, 10), (1024, 10)] {
        let w = 1 + classes;
        let ext = randv(2 * rows * w, 11 + rows as u64, 1.0);
        let dl = randv(2 * rows, 12 + rows as u64, 1.0);
        let (lf, lr): (Vec<f32>, Vec<f32>) = ((0..rows).map(|i| (i * 3 % classes) as f32).collect(), (0..2 * rows).map(|i| (i * 7 % classes) as f32).collect());
        let (te, tdl, tlf, tlr) = (tensor(&gpu, &ext), tensor(&gpu, &dl), tensor(&gpu, &lf), tensor(&gpu, &lr));
        let (logits, dext) = (tensor(&gpu, &vec![9.0; 2 * rows]), tensor(&gpu, &vec![9.0; 2 * rows * w]));
        let mut p = wgpu_gan::gpu::Program::default();
        // Generated rows with lf from 0, real rows with lr from row `rows` (its real half).
        p.push(push_project(&gpu, &te.buffer, &tlf.buffer, &logits.buffer, rows, classes, [0, 0, 0]).unwrap());
        p.push(push_project(&gpu, &te.buffer, &tlr.buffer, &logits.buffer, rows, classes, [rows, rows, rows]).unwrap());
        p.push(push_project_backward(&gpu, &tdl.buffer, &tlf.buffer, &dext.buffer, rows, classes, [0, 0, 0]).unwrap());
        p.push(push_project_backward(&gpu, &tdl.buffer, &tlr.buffer, &dext.buffer, rows, classes, [rows, rows, rows]).unwrap());
        p.run(&gpu);
        let labels = [lf.clone(), lr[rows..].to_vec()].concat();
        let tag = format!("rows={rows} classes={classes}");
        check(&format!("project {tag}"), &logits.read(&gpu).unwrap(), &project(&ext, &labels, classes), 0.0);
        let back = project_backward(&dl, &labels, classes);
        check(&format!("project_backward {tag}"), &dext.read(&gpu).unwrap(), &back, 0.0);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>();
        let (lhs, rhs) = (dot(&project(&ext, &labels, classes), &dl), dot(&ext, &back));
        assert!((lhs - rhs).abs() <= 1e-9 * lhs.abs().max(1.0), "{tag}: the backward is not the forward's adjoint: {lhs} vs {rhs}");
    }
}

fn labelled(n: usize, dim: usize, classes: u32) -> Arc<Table> {
    Arc::new(Table::with_labels(randv(n * dim, 4, 1.0), dim, (0..n as u32).map(|i| i % classes).collect()).unwrap())
}

#[test]
fn a_cgan_step_matches_the_cpu_reference() {
    let gpu = gpu();
    // R3 (label planes into the conv D, batch norm in both: separate real and generated passes).
    let r3 = GanConfig { batch: 4, ..GanConfig::r3(labelled(16, 784, 10)) };
    // A dense CGAN: one-hot after z and after the sample; no batch norm, one joint D pass.
    let discriminator = NetSpec::mlp(&[6 + 4, 32, 1], Act::LeakyRelu(0.2), None);
    let dense = GanConfig {
        generator: NetSpec::mlp(&[8 + 4, 32, 6], Act::LeakyRelu(0.2), Some(Act::Tanh)),
        discriminator,
        classes: 4,
        batch: 16,
        k: 2,
        ..GanConfig::r5(labelled(64, 6, 4))
    };
    let dense_320 = GanConfig { batch: 320, k: 1, ..dense.clone() };
    // Projection discriminators: R3's (separate passes) and the dense one (one joint pass).
    let r3_proj = r3.clone().with_projection().unwrap();
    assert_eq!((r3_proj.discriminator.in_dim(), r3_proj.discriminator.out_dim(), r3_proj.label_plane()), (784, 11, 0));
    let dense_proj = dense.clone().with_projection().unwrap();
    assert_eq!((dense_proj.discriminator.in_dim(), dense_proj.discriminator.out_dim()), (6, 5));
    let dense_proj_320 = GanConfig { batch: 320, k: 1, ..dense_proj.clone() };
    for (name, cfg) in [
        ("R3 CGAN-MNIST", r3),
        ("dense CGAN", dense),
        ("dense CGAN at batch 320", dense_320),
        ("R3 with a projection discriminator", r3_proj),
        ("dense CGAN, projection", dense_proj),
        ("dense CGAN, projection, batch 320", dense_proj_320),
    ] {
        cfg.validate().unwrap();
        let v = verify(&gpu, &cfg, 2, cfg.batch, 5).unwrap();
        println!("{name}:\n{v}");
        assert!(v.passed(1e-4), "{name}: judged {:e}", v.judged());
    }
}

#[test]
fn a_cgan_without_labels_or_with_mismatched_inputs_is_refused() {
    let unlabelled = Arc::new(Table::new(vec![0.0; 784 * 4], 784).unwrap());
    let err = GanConfig { batch: 4, ..GanConfig::r3(unlabelled) }.validate().unwrap_err().to_string();
    assert!(err.contains("labelled"), "{err}");
    let bad_d = GanConfig { batch: 4, discriminator: wgpu_gan::models::r2_discriminator(), ..GanConfig::r3(labelled(8, 784, 10)) };
    let err = bad_d.validate().unwrap_err().to_string();
    println!("refused: {err}");
    assert!(err.contains("discriminator"), "{err}");
    // (R2's discriminator reads the image alone: a projection discriminator without its class outputs.)
    assert!(err.contains("1 + 10"), "{err}");
    // An unconditional GAN has no label blocks to replace by a projection.
    let err = GanConfig { batch: 4, ..GanConfig::r2(labelled(8, 784, 10)) }.with_projection().unwrap_err().to_string();
    assert!(err.contains("conditional"), "{err}");
}

/// The conditional toy: R1 with the mode index given to both networks; a step GPU vs CPU, and the
/// per-condition measure on points placed by hand.
#[test]
fn the_conditional_ring_step_matches_and_is_measured_per_condition() {
    let gpu = gpu();
    let mix = wgpu_gan::data::Mixture::ring();
    let cfg = GanConfig { batch: 32, ..GanConfig::r1(mix.clone(), 2, 16) }.conditional();
    assert_eq!((cfg.classes, cfg.generator.in_dim(), cfg.discriminator.in_dim()), (8, 10, 10));
    for cfg in [cfg.clone(), GanConfig { batch: 320, ..cfg }] {
        let v = verify(&gpu, &cfg, 2, 16, 5).unwrap();
        println!("conditional ring, batch {}:\n{v}", cfg.batch);
        assert!(v.passed(1e-4), "batch {}: judged {:e}", cfg.batch, v.judged());
    }
    // Points at the centres asked for their own mode: 100 %; asked for the next mode: 0 %.
    let points: Vec<f32> = mix.centres.iter().flat_map(|c| [c[0], c[1]]).collect();
    let own: Vec<u32> = (0..8).collect();
    let next: Vec<u32> = (0..8).map(|i| (i + 1) % 8).collect();
    assert!(wgpu_gan::metrics::conditional_hits(&points, &own, &mix).iter().all(|&h| h == 100.0));
    assert!(wgpu_gan::metrics::conditional_hits(&points, &next, &mix).iter().all(|&h| h == 0.0));
}

/// A projection discriminator starts as the unconditional one: its class embeddings (rows 1.. of
/// the last layer) start at zero. With them drawn like the other weights, D separated real from
/// generated digits within 100 iterations and kept G from learning (docs/BENCHMARKS.md).
#[test]
fn projection_embeddings_start_at_zero() {
    let cfg = GanConfig { batch: 4, ..GanConfig::r3(labelled(16, 784, 10)) }.with_projection().unwrap();
    let (_, d) = cfg.init_params();
    let (w, b) = (&d[d.len() - 2], &d[d.len() - 1]);
    assert_eq!((w.len(), b.len()), (11 * 6272, 11));
    assert!(w[..6272].iter().any(|&v| v != 0.0), "ψ is drawn as usual");
    assert!(w[6272..].iter().all(|&v| v == 0.0) && b[1..].iter().all(|&v| v == 0.0), "the embeddings start at zero");
    // The unconditional layers are drawn as R2's.
    let plain = GanConfig { batch: 4, ..GanConfig::r2(labelled(16, 784, 10)) }.init_params().1;
    assert_eq!(d[0], plain[0]);
    // A last layer without bias: only its weight's embedding rows are zeroed.
    let mut no_bias = cfg.clone();
    if let Some(wgpu_gan::nn::Layer::Linear(l)) = no_bias.discriminator.layers.last_mut() {
        l.bias = false;
    }
    let (_, d) = no_bias.init_params();
    let w = &d[d.len() - 1];
    assert_eq!(w.len(), 11 * 6272);
    assert!(w[..6272].iter().any(|&v| v != 0.0) && w[6272..].iter().all(|&v| v == 0.0));
    // (D: conv, conv, batch norm γ and β, then the Linear weight: the batch norm is left alone.)
    assert_eq!(d[d.len() - 3..d.len() - 1], plain[plain.len() - 4..plain.len() - 2], "the batch norm before it is left alone");
}
