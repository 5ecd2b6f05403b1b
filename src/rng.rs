//! The counter-based generator shared by the GPU (`shaders/rng.wgsl`) and the CPU reference.
//! Every draw is a pure function of (seed, stream, step, index): PCG4D (Jarzynski & Olano, 2020)
//! applied twice. Bits are identical on both sides; the normals differ only by the rounding of
//! log/cos/sin on each device.

use crate::gpu::budget::lp;

fn pcg4d(a: [u32; 4]) -> [u32; 4] {
    let mut v = a.map(|x| x.wrapping_mul(1664525).wrapping_add(1013904223));
    let mix = |v: &mut [u32; 4]| {
        v[0] = v[0].wrapping_add(v[1].wrapping_mul(v[3]));
        v[1] = v[1].wrapping_add(v[2].wrapping_mul(v[0]));
        v[2] = v[2].wrapping_add(v[0].wrapping_mul(v[1]));
        v[3] = v[3].wrapping_add(v[1].wrapping_mul(v[2]));
    };
    mix(&mut v);
    for x in v.iter_mut() {
        *x ^= *x >> 16;
    }
    mix(&mut v);
    v
}

/// Four random u32 for (seed, stream, step, index).
///
/// ```
/// use wgpu_gan::rng::random4;
/// assert_eq!(random4(1, 2, 3, 4), random4(1, 2, 3, 4)); // a pure function of its key
/// assert_ne!(random4(1, 2, 3, 4), random4(1, 2, 3, 5));
/// assert_ne!(random4(1, 2, 3, 4), random4(1, 2, 4, 4));
/// ```
pub fn random4(seed: u32, stream: u32, step: u32, index: u32) -> [u32; 4] {
    pcg4d(pcg4d([index, step, stream, seed]))
}

/// Uniform in (0, 1] from the top 24 bits: never 0, but exactly 1 for the top 2⁸ values of `u`
/// (above 2²³ the f32 sum `k + 0.5` rounds to even, so the top half has 23 bits of resolution).
/// The kernels compute the same; every use is safe at 1 (Box–Muller's radius is then 0, an
/// interpolation weight may be 1).
///
/// ```
/// use wgpu_gan::rng::unit;
/// assert!(unit(0) > 0.0 && unit(0) < 1e-7);
/// assert_eq!(unit(0x8000_0000), 0.5);
/// assert_eq!(unit(0xff), unit(0)); // the low 8 bits do not count
/// assert_eq!(unit(u32::MAX), 1.0);
/// ```
pub fn unit(u: u32) -> f32 {
    ((u >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Two standard normals from two uniform draws (Box–Muller): radius √(−2 ln `unit(u1)`), angle
/// 2π·`unit(u2)`.
///
/// ```
/// use wgpu_gan::rng::box_muller;
/// let [a, b] = box_muller(0x8000_0000, 12345); // unit(u1) = 0.5
/// assert!((a * a + b * b - 2.0 * 2f32.ln()).abs() < 1e-5);
/// let [c, s] = box_muller(0x8000_0000, 0); // angle ≈ 0
/// assert!((c - (2.0 * 2f32.ln()).sqrt()).abs() < 1e-5 && s.abs() < 1e-5);
/// ```
pub fn box_muller(u1: u32, u2: u32) -> [f32; 2] {
    let r = (-2.0 * unit(u1).ln()).sqrt();
    let th = std::f32::consts::TAU * unit(u2);
    [r * th.cos(), r * th.sin()]
}

/// Uniform values in (lo, hi] (`lo + (hi − lo)·unit(..)`: see [`unit()`]), keyed like the GPU draws (used for weight initialisation, so that a
/// model starts from the same weights on every machine).
///
/// ```
/// use wgpu_gan::rng::{random4, uniform_fill, unit};
/// let w = uniform_fill(7, 1, 8, -0.5, 0.5);
/// assert_eq!(w.len(), 8);
/// assert!(w.iter().all(|v| *v > -0.5 && *v <= 0.5));
/// assert_eq!(w[3], -0.5 + unit(random4(7, 1, 0, 3)[0]));
/// assert_eq!(w, uniform_fill(7, 1, 8, -0.5, 0.5));
/// ```
pub fn uniform_fill(seed: u32, stream: u32, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let r = random4(seed, stream, 0, i as u32);
            lo + (hi - lo) * unit(r[0])
        })
        .collect()
}

/// The order in which epoch `epoch` visits rows 0..count: a keyed bijection (4-round Feistel network
/// on the smallest even number of bits holding `count`, cycle-walked back into range), the same
/// bits as `shaders/rng.wgsl::epoch_permute`. Returns the row visited at position `j`.
///
/// ```
/// use wgpu_gan::rng::epoch_permute;
/// let mut order: Vec<u32> = (0..10).map(|j| epoch_permute(j, 10, 3, 0)).collect();
/// assert_ne!(order, (0..10).collect::<Vec<_>>()); // shuffled...
/// order.sort();
/// assert_eq!(order, (0..10).collect::<Vec<_>>()); // ...but every row once
/// ```
pub fn epoch_permute(j: u32, count: u32, seed: u32, epoch: u32) -> u32 {
    let mut bits = 2u32;
    while (1u64 << bits) < count as u64 && bits < 32 {
        bits += 2;
    }
    let half = bits / 2;
    let mask = (1u32 << half) - 1;
    let mut v = j;
    loop {
        let (mut l, mut r) = (v >> half, v & mask);
        for round in 0..4 {
            let f = pcg4d([r, round, epoch, seed])[0] & mask;
            (l, r) = (r, l ^ f);
        }
        v = (l << half) | r;
        if v < count {
            return v;
        }
    }
}

/// The table row that draw `stream` of step `step` takes for its row `j` when it draws `n` rows per
/// call and `per_step` calls per step (see `shaders/rng.wgsl::gather_rows`).
///
/// ```
/// use wgpu_gan::rng::{epoch_permute, gather_source};
/// // One call of 3 rows per step from a table of 5: step 2 takes draws 6 to 8 of the
/// // sequence of epochs, positions 1 to 3 of epoch 1.
/// let rows: Vec<u32> = (0..3).map(|j| gather_source(j, 3, 5, 9, 0, 2, 1)).collect();
/// assert_eq!(rows, [epoch_permute(1, 5, 9, 1), epoch_permute(2, 5, 9, 1), epoch_permute(3, 5, 9, 1)]);
/// assert_eq!(gather_source(1, 3, 5, 9, 0, 3, 1), epoch_permute(0, 5, 9, 2)); // draw 10
/// ```
pub fn gather_source(j: u32, n: u32, count: u32, seed: u32, stream: u32, step: u32, per_step: u32) -> u32 {
    let t = (step.wrapping_mul(per_step).wrapping_add(stream)).wrapping_mul(n).wrapping_add(j);
    epoch_permute(t % count, count, seed, t / count)
}

/// Normal values N(mean, std²) keyed like [`uniform_fill`] (pairs from one hash, Box–Muller).
///
/// ```
/// use wgpu_gan::rng::{normal_fill, randn_fill};
/// let z = randn_fill(5, 4, 2, 0); // step 0 of the same key
/// let x = normal_fill(4, 2, 5, 3.0, 0.5);
/// assert!(x.iter().zip(&z).all(|(x, z)| (x - (3.0 + 0.5 * z)).abs() < 1e-6));
/// assert_eq!(normal_fill(4, 2, 3, 1.0, 0.0), [1.0; 3]);
/// ```
pub fn normal_fill(seed: u32, stream: u32, n: usize, mean: f32, std: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let r = random4(seed, stream, 0, (i / 2) as u32);
            mean + std * box_muller(r[0], r[1])[i % 2]
        })
        .collect()
}

// ---------------------------------------------------------------- CPU reference of shaders/rng.wgsl

/// n standard normals for (seed, stream, step): pair j = (`out[2j]`, `out[2j+1]`) from one hash.
///
/// ```
/// use wgpu_gan::rng::{box_muller, randn_fill, random4};
/// let z = randn_fill(5, 1, 0, 7);
/// assert_eq!(z.len(), 5);
/// let r = random4(1, 0, 7, 1); // pair 1: values 2 and 3
/// assert_eq!(z[2..4], box_muller(r[0], r[1]));
/// assert_eq!(z[..4], randn_fill(4, 1, 0, 7)[..]); // an odd n drops the last pair's second
/// assert_ne!(z, randn_fill(5, 1, 0, 8));
/// ```
pub fn randn_fill(n: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    let mut out = vec![0.0; n];
    for j in 0..n.div_ceil(2) {
        let r = random4(seed, stream, step, j as u32);
        let z = box_muller(r[0], r[1]);
        out[2 * j] = z[0];
        if 2 * j + 1 < n {
            out[2 * j + 1] = z[1];
        }
    }
    out
}

/// n points of a 2-D Gaussian mixture, centres (k,2), equal weights -> (n,2)
///
/// ```
/// use wgpu_gan::rng::mixture_sample;
/// let centres = [[1.0, 0.0], [0.0, 1.0]];
/// let x = mixture_sample(&centres, 0.0, 6, 5, 0, 0); // σ = 0: every point is a centre
/// assert_eq!(x.len(), 12);
/// assert!(x.chunks(2).all(|p| centres.iter().any(|c| c[..] == *p)));
/// ```
pub fn mixture_sample(centres: &[[f32; 2]], sigma: f32, n: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    mixture_labeled(centres, sigma, n, seed, stream, step).0
}

/// [`mixture_sample`] and each point's component (its label, as f32): `shaders/rng.wgsl::mixture_labeled`.
///
/// ```
/// use wgpu_gan::rng::{mixture_labeled, mixture_sample};
/// let centres = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]];
/// let (x, labels) = mixture_labeled(&centres, 0.0, 8, 5, 0, 0);
/// assert!(x.chunks(2).zip(&labels).all(|(p, &l)| centres[l as usize][..] == *p));
/// assert_eq!(x, mixture_sample(&centres, 0.0, 8, 5, 0, 0));
/// ```
pub fn mixture_labeled(centres: &[[f32; 2]], sigma: f32, n: usize, seed: u32, stream: u32, step: u32) -> (Vec<f32>, Vec<f32>) {
    let mut out = vec![0.0; 2 * n];
    let mut labels = vec![0.0; n];
    for j in 0..n {
        let r = random4(seed, stream, step, j as u32);
        let m = (r[2] % centres.len() as u32) as usize;
        let e = box_muller(r[0], r[1]);
        out[2 * j] = centres[m][0] + sigma * e[0];
        out[2 * j + 1] = centres[m][1] + sigma * e[1];
        labels[j] = m as f32;
    }
    (out, labels)
}

/// n rows of a table (count, dim) in the epoch order of [`gather_source`] -> (n, dim), and
/// the rows' indices.
///
/// ```
/// use wgpu_gan::rng::gather_rows;
/// let table = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]; // row i = [i, i + 0.5]
/// let (x, mut idx) = gather_rows(&table, 2, 4, 1, 0, 0, 1);
/// assert!(x.chunks(2).zip(&idx).all(|(r, &i)| r == [i as f32, i as f32 + 0.5]));
/// idx.sort();
/// assert_eq!(idx, [0, 1, 2, 3]); // one call of `count` rows is one epoch
/// ```
#[allow(clippy::too_many_arguments)]
pub fn gather_rows(table: &[f32], dim: usize, n: usize, seed: u32, stream: u32, step: u32, per_step: u32) -> (Vec<f32>, Vec<usize>) {
    let count = (table.len() / dim) as u32;
    let idx: Vec<usize> = (0..n as u32).map(|j| gather_source(j, n as u32, count, seed, stream, step, per_step) as usize).collect();
    (idx.iter().flat_map(|&i| table[i * dim..(i + 1) * dim].iter().copied()).collect(), idx)
}

/// Each image (n, h·w) translated by its own (dy, dx) ∈ [−max, max]², drawn from
/// (seed, stream, step, image); background −1 shifted in (`shaders/rng.wgsl::shift_images`).
///
/// ```
/// use wgpu_gan::rng::shift_images;
/// let x: Vec<f32> = (0..18).map(|v| v as f32).collect(); // two 3 × 3 images
/// assert_eq!(shift_images(&x, 3, 3, 0, 1, 0, 0), x);
/// let y = shift_images(&x, 3, 3, 1, 1, 0, 0);
/// // A shift of at most one keeps each centre pixel; the rest is the input's or background.
/// assert!(y[..9].contains(&4.0) && y[9..].contains(&13.0));
/// assert!(y.iter().all(|v| *v == -1.0 || x.contains(v)));
/// ```
#[allow(clippy::too_many_arguments)]
pub fn shift_images(x: &[f32], h: usize, w: usize, max: u32, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    let dim = h * w;
    let mut out = vec![-1.0; x.len()];
    for img in 0..x.len() / dim {
        let r = random4(seed, stream, step, img as u32);
        let span = 2 * max + 1;
        let (dy, dx) = ((r[0] % span) as i64 - max as i64, (r[1] % span) as i64 - max as i64);
        for y in 0..h as i64 {
            for xx in 0..w as i64 {
                let (sy, sx) = (y - dy, xx - dx);
                if sy >= 0 && sy < h as i64 && sx >= 0 && sx < w as i64 {
                    out[img * dim + (y * w as i64 + xx) as usize] = x[img * dim + (sy * w as i64 + sx) as usize];
                }
            }
        }
    }
    out
}

/// n rows of ε·a + (1 − ε)·b (rows of `dim`), ε = `unit(random4(seed, stream, step, row)[0])`.
///
/// ```
/// use wgpu_gan::rng::{interpolate, random4, unit};
/// let out = interpolate(&[1.0; 4], &[0.0; 4], 2, 2, 3, 0, 0); // a = 1, b = 0: out = ε
/// assert_eq!(out[0], out[1]); // one ε per row
/// assert_eq!(out[2], unit(random4(3, 0, 0, 1)[0]));
/// assert!(out.iter().all(|e| *e > 0.0 && *e < 1.0));
/// ```
pub fn interpolate(a: &[f32], b: &[f32], n: usize, dim: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    (0..n * dim)
        .map(|i| {
            let e = unit(random4(seed, stream, step, (i / dim) as u32)[0]);
            e * a[i] + (1.0 - e) * b[i]
        })
        .collect()
}

/// n class labels in 0..classes (as f32) for (seed, stream, step): label j = `random4(.., j)[0]` mod classes.
///
/// ```
/// use wgpu_gan::rng::{random4, random_labels};
/// let y = random_labels(8, 10, 2, 0, 5);
/// assert!(y.iter().all(|l| l.fract() == 0.0 && (0.0..10.0).contains(l)));
/// assert_eq!(y[3], (random4(2, 0, 5, 3)[0] % 10) as f32);
/// ```
pub fn random_labels(n: usize, classes: usize, seed: u32, stream: u32, step: u32) -> Vec<f32> {
    (0..n as u32).map(|j| (random4(seed, stream, step, j)[0] % classes as u32) as f32).collect()
}

// ---------------------------------------------------------------- kernels

crate::uniform! {
    /// Uniform of `shaders/rng.wgsl`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
    pub struct RngParams {
        pub n: u32,
        pub seed: u32,
        pub stream: u32,
        pub k: u32,
        pub row_offset: u32,
        pub sigma: f32,
        /// gather_rows: values per row, and draws per step.
        pub dim: u32,
        pub per_step: u32,
        /// A data-parallel rank's shard ([`crate::gan::Shard`]): the global index of its first
        /// draw (a pair of normals for `randn_fill`), and the draws of one call over all ranks
        /// (0: `n`, one process).
        pub first: u32,
        pub total: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

/// Trips of `epoch_permute` (gather_rows, gather_labeled): the bit-width loop (≤ 16 trips),
/// then a cycle walk of 4-round Feistel steps. A walk visits distinct values outside 0..k of a
/// domain D < 4k, so it is at most D − k + 1 steps; each further step happens with probability
/// < 3/4, so walks longer than 10,000 steps (probability < 10⁻¹²⁴⁹) are not counted.
fn epoch_permute_trips(p: &RngParams) -> u64 {
    let k = (p.k as u64).max(1);
    let mut bits = 2u32;
    while (1u64 << bits) < k && bits < 32 {
        bits += 2;
    }
    let walk = ((1u64 << bits) - k + 1).min(10_000);
    lp(16) + walk * (1 + lp(4))
}

crate::kernel! {
    /// n standard normals for (seed, stream, `counter[0]`).
    pub RandnFill = "rng" :: "randn_fill", RngParams { 2 counter: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// Points of a 2-D Gaussian mixture (`centres`), rows from `row_offset`.
    pub MixtureSample = "rng" :: "mixture_sample", RngParams { 1 centres: Read, 2 counter: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// Rows of a table (bound as `centres`) in epoch order; `shift_images` translates images
    /// (bound as `centres`) instead.
    pub GatherRows = "rng" :: ["gather_rows", "shift_images"], RngParams { 1 centres: Read, 2 counter: Read, 3 out: ReadWrite }
    trips: |e, p| if e == "gather_rows" { epoch_permute_trips(p) } else { 0 };
}
crate::kernel! {
    /// out = ε·a + (1 − ε)·b per row, ε ~ U(0, 1] from (seed, stream, step, row); `a` from row
    /// `row_offset`, `b` from row `k`.
    pub Interpolate = "rng" :: "interpolate", RngParams { 2 counter: Read, 3 out: ReadWrite, 6 a: Read, 7 b: Read }
    trips: |_, _| 0;
}
crate::kernel! {
    /// out[row_offset + j] = a random class in 0..k, as f32.
    pub RandomLabels = "rng" :: "random_labels", RngParams { 2 counter: Read, 3 out: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// mixture_sample with each point's component as its label.
    pub MixtureLabeled = "rng" :: "mixture_labeled", RngParams { 1 centres: Read, 2 counter: Read, 3 out: ReadWrite, 5 out_labels: ReadWrite }
    trips: |_, _| 0;
}
crate::kernel! {
    /// gather_rows with each row's label.
    pub GatherLabeled = "rng" :: "gather_labeled", RngParams { 1 centres: Read, 2 counter: Read, 3 out: ReadWrite, 4 labels: Read, 5 out_labels: ReadWrite }
    trips: |_, p| epoch_permute_trips(p);
}
crate::kernel! {
    /// The step counter that the random-number and optimizer kernels read: `counter[0] += 1` (one
    /// invocation; the last dispatch of a training step).
    pub AdvanceStep = "step" :: "advance_step" { 0 counter: ReadWrite }
    trips: |_, _| 0;
}
