//! The MNIST classifier behind FID-MNIST (M2) and conditional accuracy (M3): [`lenet`] trained with
//! this crate's own kernels (forward, backward, Adam, all on the GPU), its held-out accuracy, and
//! its penultimate-layer features.

use crate::gpu::budget::lp;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::rng::{AdvanceStep, GatherLabeled, GatherRows, RngParams};
use crate::gpu::{Dispatch, Gpu, Program, Tensor};
use crate::models::{lenet, LENET_FEATURE_LAYERS};
use crate::nn::{GpuNet, Grads, Init, Mode, NetSpec};
use crate::optim::{GpuOptimizer, Optimizer};
use std::path::Path;

crate::uniform! {
    /// Uniform of `shaders/classify.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct ClassifyParams {
        pub n: u32,
        pub classes: u32,
        pub _pad: [u32; 2],
    }
}

crate::kernel! {
    /// dlogits = (softmax(l) − onehot(label)) / n
    pub SoftmaxXentBackward = "classify" :: "softmax_xent_backward", ClassifyParams { 1 logits: Read, 2 labels: Read, 3 out: ReadWrite }
    trips: |_, p| 3 * lp(p.classes as u64);
}

/// Mean cross-entropy of softmax(logits) (n, classes) against `labels`, and the share of rows
/// whose largest logit is the label.
///
/// ```
/// use wgpu_gan::metrics::classifier::softmax_xent;
/// // two rows of 2 classes: equal logits (loss ln 2, argmax the first), and a sure right answer
/// let (loss, accuracy) = softmax_xent(&[0.0, 0.0, 0.0, 20.0], &[0.0, 1.0], 2);
/// assert!((loss - 2f32.ln() / 2.0).abs() < 1e-6);
/// assert_eq!(accuracy, 1.0);
/// assert_eq!(softmax_xent(&[0.0, 20.0], &[0.0], 2).1, 0.0);
/// ```
pub fn softmax_xent(logits: &[f32], labels: &[f32], classes: usize) -> (f32, f32) {
    let n = labels.len();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (r, &y) in labels.iter().enumerate() {
        let row = &logits[r * classes..(r + 1) * classes];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        loss += lse - row[y as usize] as f64;
        let best = (0..classes).fold(0, |b, c| if row[c] > row[b] { c } else { b });
        correct += (best == y as usize) as usize;
    }
    ((loss / n as f64) as f32, correct as f32 / n as f32)
}

/// logits (n, classes), labels (n) -> d(mean cross-entropy)/dlogits
///
/// ```
/// use wgpu_gan::metrics::classifier::{softmax_xent, softmax_xent_backward};
/// let (logits, labels) = ([0.0, 0.0, 3.0, 1.0], [1.0, 0.0]);
/// let g = softmax_xent_backward(&logits, &labels, 2);
/// assert_eq!(g[..2], [0.25, -0.25]);                  // (softmax (½, ½) − one-hot (0, 1)) / n
/// let (mut up, mut down) = (logits, logits);
/// (up[2], down[2]) = (3.01, 2.99);
/// let numeric = (softmax_xent(&up, &labels, 2).0 - softmax_xent(&down, &labels, 2).0) / 0.02;
/// assert!((numeric - g[2]).abs() < 1e-3);
/// ```
pub fn softmax_xent_backward(logits: &[f32], labels: &[f32], classes: usize) -> Vec<f32> {
    let n = labels.len();
    let mut out = vec![0.0; logits.len()];
    for (r, &y) in labels.iter().enumerate() {
        let row = &logits[r * classes..(r + 1) * classes];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        for c in 0..classes {
            let p = (row[c] as f64 - m).exp() / s;
            out[r * classes + c] = ((p - (c == y as usize) as u8 as f64) / n as f64) as f32;
        }
    }
    out
}

/// Digits 0..=9: the classifier's outputs.
///
/// ```
/// use wgpu_gan::{metrics::classifier::CLASSES, models::lenet};
/// assert_eq!(lenet().out_dim(), CLASSES);              // one logit per digit
/// ```
pub const CLASSES: usize = 10;
/// Width of the features FID compares.
///
/// ```
/// use wgpu_gan::{metrics::classifier::{Classifier, On, FEATURES}, models::lenet, nn::Init};
/// let spec = lenet();
/// let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec }; // untrained
/// let features = clf.features(On::Cpu, &[0.0; 2 * 784])?;
/// assert_eq!(features.len(), 2 * FEATURES);
/// assert!(features.iter().all(|&f| f >= 0.0));         // after a ReLU
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const FEATURES: usize = 128;
const CHUNK: usize = 500;

/// A trained classifier: the architecture and its parameters.
///
/// ```
/// use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
/// # let dir = std::env::temp_dir().join(format!("classifier_{}", std::process::id()));
/// let spec = lenet();
/// let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec }; // untrained
/// let x = wgpu_gan::rng::uniform_fill(1, 2, 3 * 784, -1.0, 1.0);  // three noise "images"
/// let digits = clf.predict(On::Cpu, &x)?;
/// assert!(digits.len() == 3 && digits.iter().all(|&d| d < 10));
/// assert_eq!(clf.accuracy(On::Cpu, &x, &digits)?, 1.0);
/// clf.save(&dir.join("clf.safetensors"))?;
/// assert_eq!(Classifier::load(&dir.join("clf.safetensors"))?.params, clf.params);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Classifier {
    pub spec: NetSpec,
    pub params: Vec<Vec<f32>>,
}

/// Training settings.
///
/// ```
/// use wgpu_gan::{gpu::Gpu, metrics::classifier::{Classifier, TrainSettings}};
/// let gpu = Gpu::new()?;
/// let images = wgpu_gan::rng::uniform_fill(0, 0, 8 * 784, -1.0, 1.0);   // 8 noise "digits"
/// let labels = [0, 1, 2, 3, 4, 5, 6, 7];
/// let s = TrainSettings { epochs: 1, batch: 4, ..TrainSettings::default() }; // 2 iterations
/// let mut calls = Vec::new();
/// let clf = Classifier::train(&gpu, &images, &labels, s, &mut |done, total| calls.push((done, total)))?;
/// assert_eq!((calls, clf.params.len()), (vec![(2, 2)], 8));
/// assert!(Classifier::train(&gpu, &images, &labels[..7], s, &mut |_, _| {}).is_err()); // 7 labels
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub seed: u32,
    /// Augmentation: each training image is translated by up to this many pixels each way.
    pub max_shift: u32,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings { epochs: 25, batch: 64, lr: 1e-3, seed: 0, max_shift: 2 }
    }
}

impl Classifier {
    /// Trains [`lenet`] on `images` (n, 784) in [−1, 1] with `labels`, Adam on the mean
    /// cross-entropy with the learning rate decaying linearly to zero over the run, epochs drawn
    /// on the GPU in shuffled order, each image shifted by up to `max_shift` pixels. `progress(done, total)` is
    /// called every few hundred iterations.
    ///
    /// ```
    /// use wgpu_gan::{gpu::Gpu, metrics::classifier::{Classifier, On, TrainSettings}};
    /// let gpu = Gpu::new()?;
    /// let images = wgpu_gan::rng::uniform_fill(0, 0, 4 * 784, -1.0, 1.0);   // 4 noise "digits"
    /// let s = TrainSettings { epochs: 1, batch: 2, ..TrainSettings::default() };
    /// let clf = Classifier::train(&gpu, &images, &[0, 1, 2, 3], s, &mut |_, _| {})?;
    /// assert_eq!(clf.predict(On::Cpu, &images)?.len(), 4);
    /// assert!(Classifier::train(&gpu, &images, &[0, 1, 2, 10], s, &mut |_, _| {}).is_err()); // not a digit
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn train(gpu: &Gpu, images: &[f32], labels: &[u8], s: TrainSettings, progress: &mut dyn FnMut(usize, usize)) -> Result<Classifier> {
        let spec = lenet();
        let dim = spec.in_dim();
        let count = labels.len();
        if count == 0 || images.len() != count * dim {
            return Err(Error::Shape(format!("{} labels for {} values of {dim}-pixel images", count, images.len())));
        }
        if labels.iter().any(|&l| l as usize >= CLASSES) {
            return Err(Error::Shape("labels must be 0..9".into()));
        }
        let b = s.batch;
        let params = spec.init(s.seed, 3000, Init::PyTorch);
        let net = GpuNet::new(gpu, spec.clone(), &params, b, 1, "classifier")?;
        let opt = GpuOptimizer::new(gpu, Optimizer::adam(s.lr, 0.9, 0.999), &net.params, "classifier.opt")?;
        let table = Tensor::from_slice(gpu, "mnist", images)?;
        let label_table = Tensor::from_slice(gpu, "labels", &labels.iter().map(|&l| l as u32).collect::<Vec<_>>())?;
        let counter = Tensor::from_slice(gpu, "counter", &[0u32])?;
        let x_raw = Tensor::zeros(gpu, "x_raw", b * dim)?;
        let (x, y, logits, dlogits) = (Tensor::zeros(gpu, "x", b * dim)?, Tensor::zeros(gpu, "y", b)?, Tensor::zeros(gpu, "logits", b * CLASSES)?, Tensor::zeros(gpu, "dlogits", b * CLASSES)?);
        let mut step = Program::default();
        let rp = RngParams { n: b as u32, seed: s.seed, stream: 0, k: count as u32, row_offset: 0, sigma: 0.0, dim: dim as u32, per_step: 1, ..Default::default() };
        let gather = GatherLabeled { centres: &table.buffer, counter: &counter.buffer, out: &x_raw.buffer, labels: &label_table.buffer, out_labels: &y.buffer };
        step.push(Dispatch::new(gpu, &gather, &rp, Some((b * dim) as u32))?);
        let side = (dim as f64).sqrt() as u32;
        let sp = RngParams { n: b as u32, seed: s.seed, stream: 1, k: side, row_offset: 0, sigma: 0.0, dim: dim as u32, per_step: s.max_shift, ..Default::default() };
        let shift = GatherRows { entry: "shift_images", centres: &x_raw.buffer, counter: &counter.buffer, out: &x.buffer };
        step.push(Dispatch::new(gpu, &shift, &sp, Some((b * dim) as u32))?);
        step.extend(net.forward(gpu, 0, &x.buffer, &logits.buffer, b, Mode::Train)?);
        let cp = ClassifyParams { n: b as u32, classes: CLASSES as u32, _pad: [0; 2] };
        step.push(Dispatch::new(gpu, &SoftmaxXentBackward { logits: &logits.buffer, labels: &y.buffer, out: &dlogits.buffer }, &cp, Some(b as u32))?);
        step.extend(net.backward(gpu, 0, &x.buffer, &dlogits.buffer, None, b, Grads::Write)?);
        let iters = s.epochs * count / b;
        step.extend(opt.step(gpu, &net.params, &net.grads, &counter.buffer, 1, 0, 0.0, iters as u32)?);
        step.push(Dispatch::new(gpu, &AdvanceStep { counter: &counter.buffer }, &(), None)?);
        for i in 0..iters {
            step.run(gpu);
            if (i + 1) % 100 == 0 || i + 1 == iters {
                gpu.wait()?;
                progress(i + 1, iters);
            }
        }
        let params = net.read_params(gpu)?;
        if params.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite("classifier training diverged".into()));
        }
        Ok(Classifier { spec, params })
    }

    /// Runs `spec` (this network or its first layers, with the matching parameters) over `x`
    /// (n rows) in chunks and returns its outputs.
    fn run<'a>(&self, on: impl Into<On<'a>>, layers: usize, x: &[f32]) -> Result<Vec<f32>> {
        let spec = NetSpec { layers: self.spec.layers[..layers].to_vec() };
        let nparams = spec.param_lens().len();
        let (din, dout) = (spec.in_dim(), spec.out_dim());
        if x.is_empty() || x.len() % din != 0 {
            return Err(Error::Shape(format!("{} values are not a whole number of {din}-value images", x.len())));
        }
        let gpu = match on.into() {
            On::Gpu(g) => g,
            On::Cpu => {
                let mut net = crate::nn::CpuNet::new(spec, self.params[..nparams].to_vec())?;
                return Ok(x.chunks(CHUNK * din).map(|c| net.run(0, c, c.len() / din, Mode::Eval)).collect::<Result<Vec<_>>>()?.concat());
            }
        };
        let net = GpuNet::new(gpu, spec, &self.params[..nparams], CHUNK, 1, "classifier.eval")?;
        let (tx, ty) = (Tensor::zeros(gpu, "eval.x", CHUNK * din)?, Tensor::zeros(gpu, "eval.y", CHUNK * dout)?);
        let mut out = Vec::with_capacity(x.len() / din * dout);
        for chunk in x.chunks(CHUNK * din) {
            let n = chunk.len() / din;
            gpu.queue.write_buffer(&tx.buffer, 0, bytemuck::cast_slice(chunk));
            net.forward(gpu, 0, &tx.buffer, &ty.buffer, n, Mode::Eval)?.run(gpu);
            out.extend_from_slice(&ty.read(gpu)?[..n * dout]);
        }
        Ok(out)
    }

    /// Logits (n, 10).
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let l = clf.logits(On::Cpu, &x)?;
    /// assert_eq!(l.len(), 2 * 10);                          // 10 per image
    /// assert!(clf.logits(On::Cpu, &x[..100]).is_err());     // not a whole image
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn logits<'a>(&self, on: impl Into<On<'a>>, x: &[f32]) -> Result<Vec<f32>> {
        self.run(on, self.spec.layers.len(), x)
    }

    /// Predicted digit of every image.
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let (p, l) = (clf.predict(On::Cpu, &x)?, clf.logits(On::Cpu, &x)?);
    /// let argmax = |r: &[f32]| (0..10).fold(0, |b, c| if r[c] > r[b] { c } else { b }) as u8;
    /// assert_eq!(p, [argmax(&l[..10]), argmax(&l[10..])]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn predict<'a>(&self, on: impl Into<On<'a>>, x: &[f32]) -> Result<Vec<u8>> {
        Ok(self.logits(on, x)?.chunks_exact(CLASSES).map(|r| (0..CLASSES).fold(0, |b, c| if r[c] > r[b] { c } else { b }) as u8).collect())
    }

    /// Share of images classified as their label.
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let p = clf.predict(On::Cpu, &x)?;
    /// assert_eq!(clf.accuracy(On::Cpu, &x, &p)?, 1.0);
    /// let wrong = [(p[0] + 1) % 10, p[1]];                  // one of two wrong
    /// assert_eq!(clf.accuracy(On::Cpu, &x, &wrong)?, 0.5);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn accuracy<'a>(&self, on: impl Into<On<'a>>, x: &[f32], labels: &[u8]) -> Result<f32> {
        let p = self.predict(on, x)?;
        Ok(p.iter().zip(labels).filter(|(a, b)| a == b).count() as f32 / labels.len().max(1) as f32)
    }

    /// Penultimate-layer features (n, 128): what FID-MNIST compares.
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let f = clf.features(On::Cpu, &x)?;
    /// assert_eq!(f.len(), 2 * wgpu_gan::metrics::classifier::FEATURES);
    /// assert!(f.iter().all(|&v| v >= 0.0));                 // taken after a ReLU
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn features<'a>(&self, on: impl Into<On<'a>>, x: &[f32]) -> Result<Vec<f32>> {
        self.run(on, LENET_FEATURE_LAYERS, x)
    }

    /// Writes the parameters, with the architecture in the metadata, as safetensors.
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let dir = std::env::temp_dir().join(format!("classifier_save_{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// clf.save(&dir.join("clf.safetensors"))?;
    /// assert_eq!(Classifier::load(&dir.join("clf.safetensors"))?.params, clf.params);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut ck = Checkpoint::new();
        for ((name, shape), p) in self.spec.param_names().iter().zip(&self.params) {
            ck.push_f32(name, shape, p);
        }
        ck.set_meta("model", self.spec.describe());
        ck.save(path)
    }

    /// Reads what [`Classifier::save`] wrote; an error for another architecture.
    ///
    /// ```
    /// # use wgpu_gan::{metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
    /// # let spec = lenet();
    /// # let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec };    // untrained
    /// # let x = wgpu_gan::rng::uniform_fill(1, 2, 2 * 784, -1.0, 1.0);           // two noise "images"
    /// let dir = std::env::temp_dir().join(format!("classifier_load_{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// clf.save(&dir.join("clf.safetensors"))?;
    /// assert_eq!(Classifier::load(&dir.join("clf.safetensors"))?.logits(On::Cpu, &x)?, clf.logits(On::Cpu, &x)?);
    /// assert!(Classifier::load(&dir.join("missing.safetensors")).is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<Classifier> {
        let ck = Checkpoint::load(path)?;
        let spec = lenet();
        crate::nn::describe::check_saved("classifier", ck.meta("model")?, &spec).map_err(|e| match e {
            Error::Checkpoint(m) => Error::Checkpoint(format!("{}: {m}", path.display())),
            e => e,
        })?;
        let params = spec.param_names().iter().map(|(n, s)| ck.f32(n, s).map(<[f32]>::to_vec)).collect::<Result<_>>()?;
        Ok(Classifier { spec, params })
    }
}

/// Where a trained classifier runs: on a GPU (`&gpu` converts) or on the CPU reference.
///
/// ```
/// use wgpu_gan::{gpu::Gpu, metrics::classifier::{Classifier, On}, models::lenet, nn::Init};
/// let spec = lenet();
/// let clf = Classifier { params: spec.init(3, 1, Init::PyTorch), spec };
/// let x = wgpu_gan::rng::uniform_fill(4, 0, 2 * 784, -1.0, 1.0);
/// let gpu = Gpu::new()?;
/// let (on_gpu, on_cpu) = (clf.logits(&gpu, &x)?, clf.logits(On::Cpu, &x)?);
/// assert_eq!(on_gpu.len(), 2 * 10);
/// assert!(wgpu_gan::max_rel_err(&on_gpu, &on_cpu) < 1e-4);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy)]
pub enum On<'a> {
    Gpu(&'a Gpu),
    Cpu,
}

impl<'a> From<&'a Gpu> for On<'a> {
    fn from(g: &'a Gpu) -> On<'a> {
        On::Gpu(g)
    }
}

/// FID-MNIST (M2) of `generated` against `reference` images (both (n, 784)), on the classifier's
/// penultimate features. Compare only at equal counts (2,000 here): the figure is biased by n.
///
/// ```
/// use wgpu_gan::{gpu::Gpu, metrics::classifier::{fid_mnist, Classifier}, models::lenet, nn::Init};
/// let gpu = Gpu::new()?;
/// let spec = lenet();
/// let clf = Classifier { params: spec.init(0, 1, Init::PyTorch), spec }; // untrained
/// let a = wgpu_gan::rng::uniform_fill(1, 0, 4 * 784, -1.0, 1.0);
/// let b = vec![-1.0; 4 * 784];                          // four blank images
/// let (same, apart) = (fid_mnist(&gpu, &clf, &a, &a)?, fid_mnist(&gpu, &clf, &a, &b)?);
/// assert!(apart > 0.0 && same < 1e-3 * apart);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn fid_mnist(gpu: &Gpu, clf: &Classifier, generated: &[f32], reference: &[f32]) -> Result<f64> {
    let a = clf.features(gpu, generated)?;
    let b = clf.features(gpu, reference)?;
    super::fid::fid(&a, &b, FEATURES)
}
