//! The classifier behind FID-MNIST: its loss gradient (CPU against central differences, GPU
//! against CPU), and a short training run on real digits that must learn.

mod common;
use common::{check, gpu, launch, randv, tensor};
use wgpu_gan::data::mnist::{Mnist, Split};
use wgpu_gan::metrics::classifier::{ClassifyParams, Classifier, TrainSettings};

#[test]
fn softmax_xent_backward_matches_finite_differences_and_gpu() {
    let gpu = gpu();
    // (A mean over many more rows makes each entry ~1/n and the f32 loss's rounding, divided by 2h,
    // too coarse for central differences; the GPU comparison covers a long batch below.)
    for &(n, classes) in &[(1usize, 10usize), (7, 10), (33, 3), (130, 10)] {
        let logits = randv(n * classes, n as u64, 4.0);
        let labels: Vec<f32> = (0..n).map(|i| ((i * 7 + 3) % classes) as f32).collect();
        let grad = wgpu_gan::metrics::classifier::softmax_xent_backward(&logits, &labels, classes);
        let h = 1e-2f32;
        let num: Vec<f32> = (0..logits.len())
            .map(|i| {
                let mut p = logits.clone();
                p[i] += h;
                let lp = wgpu_gan::metrics::classifier::softmax_xent(&p, &labels, classes).0 as f64;
                p[i] -= 2.0 * h;
                let lm = wgpu_gan::metrics::classifier::softmax_xent(&p, &labels, classes).0 as f64;
                ((lp - lm) / (2.0 * h as f64)) as f32
            })
            .collect();
        if n <= 33 {
            let e = wgpu_gan::max_rel_err(&grad, &num);
            println!("softmax_xent_backward n={n} classes={classes}: analytic vs central difference {e:.2e}");
            assert!(e <= 1e-3, "{e:e}");
        }
        let (tl, ty, tout) = (tensor(&gpu, &logits), tensor(&gpu, &labels), tensor(&gpu, &vec![0.0; logits.len()]));
        let p = ClassifyParams { n: n as u32, classes: classes as u32, _pad: [0; 2] };
        launch(&gpu, &wgpu_gan::metrics::classifier::SoftmaxXentBackward { logits: &tl.buffer, labels: &ty.buffer, out: &tout.buffer }, &p, Some(n as u32));
        check(&format!("softmax_xent_backward n={n} classes={classes}"), &tout.read(&gpu).unwrap(), &grad, 1e-5);
    }
}

#[test]
fn shift_images_matches_cpu() {
    let gpu = gpu();
    for &(n, h, w, max) in &[(1usize, 5usize, 7usize, 2u32), (13, 28, 28, 2), (3, 4, 3, 1)] {
        let x = randv(n * h * w, n as u64, 1.0);
        let counter = wgpu_gan::gpu::Tensor::from_slice(&gpu, "counter", &[9u32]).unwrap();
        let (tx, tout) = (tensor(&gpu, &x), tensor(&gpu, &vec![0.0; x.len()]));
        let p = wgpu_gan::rng::RngParams { n: n as u32, seed: 4, stream: 1, k: w as u32, row_offset: 0, sigma: 0.0, dim: (h * w) as u32, per_step: max, ..Default::default() };
        launch(&gpu, &wgpu_gan::rng::GatherRows { entry: "shift_images", centres: &tx.buffer, counter: &counter.buffer, out: &tout.buffer }, &p, Some((n * h * w) as u32));
        let want = wgpu_gan::rng::shift_images(&x, h, w, max, 4, 1, 9);
        check(&format!("shift_images n={n} {h}x{w} max {max}"), &tout.read(&gpu).unwrap(), &want, 0.0);
        assert!(want != x || max == 0, "some image must have moved");
    }
}

#[test]
fn classifier_learns_digits() {
    // $MNIST_DIR, else the subset committed under tests/data/mnist (2,000 + 500 digits: all this uses).
    let dir = std::env::var("MNIST_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mnist").into());
    let train = Mnist::load(dir.as_ref(), Split::Train).unwrap().take(2000);
    let test = Mnist::load(dir.as_ref(), Split::Test).unwrap().take(500);
    let gpu = gpu();
    let clf = Classifier::train(&gpu, &train.images, &train.labels, TrainSettings { epochs: 6, max_shift: 0, ..Default::default() }, &mut |_, _| {}).unwrap();
    let acc = clf.accuracy(&gpu, &test.images, &test.labels).unwrap();
    println!("LeNet after 6 epochs on 2000 digits (no augmentation): {:.1}% on 500 held-out", 100.0 * acc);
    assert!(acc >= 0.85, "accuracy {acc} (chance is 0.1)");
    let f = clf.features(&gpu, &test.images[..10 * 784]).unwrap();
    assert_eq!(f.len(), 10 * 128);
    assert!(f.iter().all(|v| v.is_finite() && *v >= 0.0), "features come after a ReLU");
    // The same classifier's logits on the CPU reference.
    let mut net = wgpu_gan::nn::CpuNet::new(clf.spec.clone(), clf.params.clone()).unwrap();
    let want = net.run(0, &test.images[..5 * 784], 5, wgpu_gan::nn::Mode::Eval).unwrap();
    check("classifier logits GPU vs CPU", &clf.logits(&gpu, &test.images[..5 * 784]).unwrap(), &want, 1e-5);
}
