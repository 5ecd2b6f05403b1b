//! The reference models of SPEC.md §4 (R1 on the toys, R2, R3 and R5 on images; R4 is any of
//! them with `GanConfig::wgan_gp` or `wgan_clip`), and the MNIST classifier behind FID.

use crate::data::Mixture;
use crate::gan::{DataSource, GanConfig, Table};
use crate::nn::{Act, BnSpec, ConvSpec, Init, Layer, NetSpec, Reshape};
use crate::optim::Optimizer;
use std::sync::Arc;

/// R2's generator: z → Linear(z, 128·7·7) → BatchNorm1d → ReLU → Unflatten(128, 7, 7) →
/// ConvT(128→64, k4 s2 p1) → BatchNorm2d → ReLU → ConvT(64→1, k4 s2 p1) → Tanh → (1, 28, 28).
/// The same modules as the PyTorch `nn.Sequential`, so the parameters have its indices.
///
/// ```
/// use wgpu_gan::models::r2_generator;
/// let g = r2_generator(100);
/// assert_eq!((g.in_dim(), g.out_dim()), (100, 28 * 28));
/// assert_eq!(g.param_names()[0], ("0.weight".to_string(), vec![128 * 7 * 7, 100])); // PyTorch's
/// ```
pub fn r2_generator(z_dim: usize) -> NetSpec {
    NetSpec {
        layers: vec![
            Layer::linear(z_dim, 128 * 7 * 7),
            Layer::BatchNorm(BnSpec::new(128 * 7 * 7, 1)),
            Layer::Act(Act::Relu),
            Layer::Reshape(Reshape::Unflatten { c: 128, h: 7, w: 7 }),
            Layer::ConvT2d(ConvSpec::new(128, 64, 7, 7, 4, 2, 1)),
            Layer::BatchNorm(BnSpec::new(64, 14 * 14)),
            Layer::Act(Act::Relu),
            Layer::ConvT2d(ConvSpec::new(64, 1, 14, 14, 4, 2, 1)),
            Layer::Act(Act::Tanh),
        ],
    }
}

/// R2's discriminator: (1, 28, 28) → Conv(1→64, k4 s2 p1) → LeakyReLU(0.2) → Conv(64→128, k4 s2 p1)
/// → BatchNorm2d → LeakyReLU(0.2) → Flatten → Linear(6272, 1) → logit.
///
/// ```
/// use wgpu_gan::models::r2_discriminator;
/// let d = r2_discriminator();
/// assert_eq!((d.in_dim(), d.out_dim(), d.has_batchnorm()), (28 * 28, 1, true));
/// ```
pub fn r2_discriminator() -> NetSpec {
    NetSpec {
        layers: vec![
            Layer::Conv2d(ConvSpec::new(1, 64, 28, 28, 4, 2, 1)),
            Layer::Act(Act::LeakyRelu(0.2)),
            Layer::Conv2d(ConvSpec::new(64, 128, 14, 14, 4, 2, 1)),
            Layer::BatchNorm(BnSpec::new(128, 7 * 7)),
            Layer::Act(Act::LeakyRelu(0.2)),
            Layer::Reshape(Reshape::Flatten),
            Layer::linear(128 * 7 * 7, 1),
        ],
    }
}

/// R3's generator (CGAN-MNIST): R2's with z followed by a one-hot label of 10 classes (110 values).
///
/// ```
/// use wgpu_gan::models::r3_generator;
/// let g = r3_generator(100);
/// assert_eq!((g.in_dim(), g.out_dim()), (100 + 10, 28 * 28));
/// ```
pub fn r3_generator(z_dim: usize) -> NetSpec {
    let mut g = r2_generator(z_dim + 10);
    if let Layer::Linear(l) = &mut g.layers[0] {
        l.inp = z_dim + 10;
    }
    g
}

/// R3's discriminator: R2's with the label given as 10 constant planes after the image (11×28×28).
///
/// ```
/// use std::sync::Arc;
/// use wgpu_gan::{gan::{GanConfig, Table}, models::r3_discriminator};
/// assert_eq!(r3_discriminator().in_dim(), 11 * 28 * 28);
/// let digit = Table::with_labels(vec![0.0; 784], 784, vec![3])?; // one image, labelled 3
/// let cfg = GanConfig::r3(Arc::new(digit));
/// cfg.validate()?;
/// assert_eq!(cfg.label_plane(), 28 * 28);          // a whole plane per class
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn r3_discriminator() -> NetSpec {
    let mut d = r2_discriminator();
    if let Layer::Conv2d(c) = &mut d.layers[0] {
        c.cin = 11;
    }
    d
}

/// R5's generator: z(100) → 256 → 512 → 784, LeakyReLU(0.2) hidden, Tanh out.
///
/// ```
/// use wgpu_gan::models::r5_generator;
/// assert_eq!(r5_generator(100).widths()?, [256, 256, 512, 512, 784, 784]); // Linear, then activation
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn r5_generator(z_dim: usize) -> NetSpec {
    NetSpec::mlp(&[z_dim, 256, 512, 784], Act::LeakyRelu(0.2), Some(Act::Tanh))
}

/// R5's discriminator: 784 → 512 → 256 → 1, LeakyReLU(0.2) hidden.
///
/// ```
/// use wgpu_gan::models::r5_discriminator;
/// assert_eq!(r5_discriminator().widths()?, [512, 512, 256, 256, 1]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn r5_discriminator() -> NetSpec {
    NetSpec::mlp(&[784, 512, 256, 1], Act::LeakyRelu(0.2), None)
}

/// The LeNet-style MNIST classifier whose penultimate features FID-MNIST compares:
/// Conv(1→16, k5 s2 p2) → ReLU → Conv(16→32, k5 s2 p2) → ReLU → Flatten → Linear(1568, 128) → ReLU
/// → Linear(128, 10). Strided convolutions stand in for LeNet's pooling.
///
/// ```
/// use wgpu_gan::models::lenet;
/// let net = lenet();
/// assert_eq!(net.widths()?, [16 * 14 * 14, 3136, 32 * 7 * 7, 1568, 1568, 128, 128, 10]);
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn lenet() -> NetSpec {
    NetSpec {
        layers: vec![
            Layer::Conv2d(ConvSpec::new(1, 16, 28, 28, 5, 2, 2)),
            Layer::Act(Act::Relu),
            Layer::Conv2d(ConvSpec::new(16, 32, 14, 14, 5, 2, 2)),
            Layer::Act(Act::Relu),
            Layer::Reshape(Reshape::Flatten),
            Layer::linear(32 * 7 * 7, 128),
            Layer::Act(Act::Relu),
            Layer::linear(128, 10),
        ],
    }
}

/// Layers of [`lenet`] up to and including the penultimate activation (the FID features, 128 wide).
///
/// ```
/// use wgpu_gan::models::{lenet, LENET_FEATURE_LAYERS};
/// let widths = lenet().widths()?;
/// assert_eq!(widths[LENET_FEATURE_LAYERS - 1], 128);   // the features, after the ReLU
/// assert_eq!(widths.len() - LENET_FEATURE_LAYERS, 1);  // only the class layer is left out
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const LENET_FEATURE_LAYERS: usize = 7;

impl GanConfig {
    /// R2, DCGAN-MNIST (SPEC.md §4): Adam 2e-4, β (0.5, 0.999), batch 64, non-saturating loss, k = 1,
    /// DCGAN initialisation; the generator phase reuses the discriminator phase's G(z), as the
    /// PyTorch anchor (../shared/bench/torch_dcgan.py) does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{gan::{GanConfig, Table}, nn::Init};
    /// let cfg = GanConfig::r2(Arc::new(Table::new(vec![0.0; 2 * 784], 784)?)); // two blank digits
    /// assert_eq!((cfg.batch, cfg.init, cfg.reuse_fake, cfg.z_dim()), (64, Init::Dcgan, true, 100));
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn r2(data: Arc<Table>) -> GanConfig {
        GanConfig { init: Init::Dcgan, reuse_fake: true, ..GanConfig::new(r2_generator(100), r2_discriminator(), DataSource::Table(data)) }
    }

    /// Reference model R1 (SPEC.md §4) for a toy mixture, z of `z_dim`, hidden width `hidden`:
    /// MLPs, batch 256, Adam with D's learning rate 4× G's (tuned on the ring, docs/BENCHMARKS.md).
    ///
    /// ```
    /// use wgpu_gan::{data::Mixture, gan::GanConfig, optim::Optimizer};
    /// let cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    /// assert_eq!((cfg.z_dim(), cfg.batch, cfg.generator.out_dim()), (2, 256, 2));
    /// assert_eq!(cfg.opt_d, Optimizer::adam(2e-3, 0.5, 0.999)); // 4× G's 5e-4
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn r1(data: Mixture, z_dim: usize, hidden: usize) -> GanConfig {
        GanConfig {
            batch: 256,
            opt_d: Optimizer::adam(2e-3, 0.5, 0.999),
            opt_g: Optimizer::adam(5e-4, 0.5, 0.999),
            ..GanConfig::new(
                NetSpec::mlp(&[z_dim, hidden, hidden, 2], Act::Relu, None),
                NetSpec::mlp(&[2, hidden, hidden, 1], Act::LeakyRelu(0.2), None),
                DataSource::Mixture(data),
            )
        }
    }

    /// R3, CGAN-MNIST (SPEC.md §4): R2 with the label given to both networks (one-hot after z;
    /// 10 constant planes after the image). The table must carry labels 0..9.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::gan::{GanConfig, Table};
    /// let cfg = GanConfig::r3(Arc::new(Table::with_labels(vec![0.0; 2 * 784], 784, vec![3, 9])?));
    /// assert_eq!((cfg.classes, cfg.z_dim(), cfg.generator.in_dim()), (10, 100, 110));
    /// cfg.validate()?;
    /// let unlabelled = Arc::new(Table::new(vec![0.0; 784], 784)?);
    /// assert!(GanConfig::r3(unlabelled).validate().is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn r3(data: Arc<Table>) -> GanConfig {
        GanConfig { generator: r3_generator(100), discriminator: r3_discriminator(), classes: 10, ..GanConfig::r2(data) }
    }

    /// R5, the 2014-style dense GAN on MNIST: R2's training settings with the MLPs of
    /// [`r5_generator`] / [`r5_discriminator`], PyTorch's default initialisation, and the
    /// generator's learning rate raised to 1e-3: at 2e-4 the discriminator won (D(G(z)) ≈ 0.1) and
    /// 2,500 iterations gave only blobs; at 1e-3 digits of every class appear by ~1,500
    /// (docs/BENCHMARKS.md).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{gan::{GanConfig, Table}, nn::Init, optim::Optimizer};
    /// let cfg = GanConfig::r5(Arc::new(Table::new(vec![0.0; 2 * 784], 784)?));
    /// assert_eq!((cfg.init, cfg.opt_g), (Init::PyTorch, Optimizer::adam(1e-3, 0.5, 0.999)));
    /// assert!(!cfg.separate_passes());                      // no batch norm
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn r5(data: Arc<Table>) -> GanConfig {
        GanConfig {
            generator: r5_generator(100),
            discriminator: r5_discriminator(),
            init: Init::PyTorch,
            opt_g: Optimizer::adam(1e-3, 0.5, 0.999),
            ..GanConfig::r2(data)
        }
    }
}

/// R6, the DCGAN of Radford et al. as PyTorch's `examples/dcgan` builds it, for square images of
/// `image_size` (a power of two from 16: 64 is the paper's) with `nc` channels, noise of `nz`,
/// and `ngf` / `ndf` the widths of G's last and D's first layer. PyTorch's example fixes 64; other
/// sizes add or remove one stride-2 stage per factor of two, doubling the widths inward.
///
/// ```
/// use wgpu_gan::models::R6;
/// let r6 = R6::default();                             // 64 × 64 RGB
/// r6.validate()?;
/// assert_eq!((r6.generator().in_dim(), r6.generator().out_dim()), (100, 3 * 64 * 64));
/// assert_eq!(r6.discriminator().out_dim(), 1);
/// let small = R6 { image_size: 16, nc: 1, ..r6 };       // 16 × 16 grey
/// assert_eq!(small.discriminator().in_dim(), 16 * 16);
/// assert!(R6 { image_size: 48, ..r6 }.validate().is_err()); // not a power of two
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct R6 {
    pub image_size: usize,
    pub nc: usize,
    pub nz: usize,
    pub ngf: usize,
    pub ndf: usize,
}

impl Default for R6 {
    /// The example's defaults: 64 × 64 RGB, nz 100, ngf = ndf = 64.
    fn default() -> R6 {
        R6 { image_size: 64, nc: 3, nz: 100, ngf: 64, ndf: 64 }
    }
}

impl R6 {
    /// Checks the sizes: an image size that is a power of two from 16 to 1,024, and every count
    /// at least 1.
    ///
    /// ```
    /// use wgpu_gan::models::R6;
    /// R6 { image_size: 32, ..R6::default() }.validate()?;
    /// assert!(R6 { image_size: 8, ..R6::default() }.validate().is_err());   // below 16
    /// assert!(R6 { nz: 0, ..R6::default() }.validate().is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        let s = self.image_size;
        if !(16..=1024).contains(&s) || !s.is_power_of_two() {
            return Err(crate::Error::Shape(format!("--image-size {s}: R6 needs a power of two from 16 to 1024 (32, 64, 128, ...)")));
        }
        if self.nc == 0 || self.nz == 0 || self.ngf == 0 || self.ndf == 0 {
            return Err(crate::Error::Shape(format!("{self:?}: channels, noise and widths must be at least 1")));
        }
        Ok(())
    }

    /// Stride-2 stages between 4 × 4 and the image (4 at 64 × 64).
    fn stages(&self) -> usize {
        (self.image_size / 4).trailing_zeros() as usize
    }

    /// The generator: z (nz) → (nz, 1, 1) → ConvT(nz → ngf·2^(s−1), 4, 1, 0) → BN → ReLU → s − 1
    /// times [ConvT(c → c/2, 4, 2, 1) → BN → ReLU] → ConvT(ngf → nc, 4, 2, 1) → Tanh, every
    /// convolution without a bias (s = `R6::stages`; at 64 × 64: 512, 256, 128, 64 channels).
    ///
    /// ```
    /// use wgpu_gan::models::R6;
    /// let g = R6 { image_size: 16, nc: 1, nz: 8, ngf: 4, ndf: 4 }.generator();
    /// assert_eq!((g.in_dim(), g.out_dim()), (8, 16 * 16));
    /// assert!(g.has_batchnorm());
    /// ```
    pub fn generator(&self) -> NetSpec {
        let s = self.stages();
        let mut c = self.ngf << (s - 1);
        let mut hw = 4;
        let mut layers = vec![
            Layer::Reshape(Reshape::Unflatten { c: self.nz, h: 1, w: 1 }),
            Layer::ConvT2d(ConvSpec::new(self.nz, c, 1, 1, 4, 1, 0).no_bias()),
            Layer::BatchNorm(BnSpec::new(c, hw * hw)),
            Layer::Act(Act::Relu),
        ];
        for _ in 1..s {
            layers.push(Layer::ConvT2d(ConvSpec::new(c, c / 2, hw, hw, 4, 2, 1).no_bias()));
            (c, hw) = (c / 2, hw * 2);
            layers.push(Layer::BatchNorm(BnSpec::new(c, hw * hw)));
            layers.push(Layer::Act(Act::Relu));
        }
        layers.push(Layer::ConvT2d(ConvSpec::new(c, self.nc, hw, hw, 4, 2, 1).no_bias()));
        layers.push(Layer::Act(Act::Tanh));
        NetSpec { layers }
    }

    /// The discriminator: (nc, size, size) → Conv(nc → ndf, 4, 2, 1) → LeakyReLU(0.2) → s − 1 times
    /// [Conv(c → 2c, 4, 2, 1) → BN → LeakyReLU(0.2)] → Conv(ndf·2^(s−1) → 1, 4, 1, 0) → logit, every
    /// convolution without a bias; the sigmoid is the loss's.
    ///
    /// ```
    /// use wgpu_gan::models::R6;
    /// let d = R6 { image_size: 32, nc: 3, nz: 8, ngf: 4, ndf: 4 }.discriminator();
    /// assert_eq!((d.in_dim(), d.out_dim()), (3 * 32 * 32, 1)); // one logit per image
    /// ```
    pub fn discriminator(&self) -> NetSpec {
        let s = self.stages();
        let (mut c, mut hw) = (self.ndf, self.image_size / 2);
        let mut layers = vec![Layer::Conv2d(ConvSpec::new(self.nc, c, self.image_size, self.image_size, 4, 2, 1).no_bias()), Layer::Act(Act::LeakyRelu(0.2))];
        for _ in 1..s {
            layers.push(Layer::Conv2d(ConvSpec::new(c, 2 * c, hw, hw, 4, 2, 1).no_bias()));
            (c, hw) = (2 * c, hw / 2);
            layers.push(Layer::BatchNorm(BnSpec::new(c, hw * hw)));
            layers.push(Layer::Act(Act::LeakyRelu(0.2)));
        }
        layers.push(Layer::Conv2d(ConvSpec::new(c, 1, hw, hw, 4, 1, 0).no_bias()));
        NetSpec { layers }
    }
}

impl GanConfig {
    /// R6 on a table of images (nc × size × size each, in [−1, 1]): the example's training
    /// settings, which are R2's (Adam 2e-4, β (0.5, 0.999), batch 64, non-saturating loss, DCGAN
    /// initialisation; PyTorch's example also feeds G's phase the discriminator phase's G(z)).
    /// The data: an `Arc<Table>` held on the GPU, or a [`crate::data::stream::Stream`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use wgpu_gan::{gan::{GanConfig, Table}, models::R6};
    /// let shape = R6 { image_size: 16, nc: 1, nz: 8, ngf: 4, ndf: 4 };
    /// let cfg = GanConfig::r6(Arc::new(Table::new(vec![0.0; 2 * 256], 256)?), &shape);
    /// assert_eq!((cfg.z_dim(), cfg.reuse_fake), (8, true));
    /// cfg.validate()?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn r6(data: impl Into<DataSource>, shape: &R6) -> GanConfig {
        GanConfig { init: Init::Dcgan, reuse_fake: true, ..GanConfig::new(shape.generator(), shape.discriminator(), data.into()) }
    }
}
