//! Mutation fuzzing of the readers that take files from users: the MNIST IDX reader (raw and
//! gzip, through [`crate::data::mnist::Mnist::load`]), the checkpoint reader
//! ([`crate::checkpoint::Checkpoint::load`] and the GAN checkpoint loader on top of it), and the
//! image-folder reader (PNG and JPEG, through [`crate::data::images::scan_folder`]'s header read
//! and the full decode that loading and streaming share).
//!
//! Each case starts from a valid file and applies a few random mutations (bit flips, truncation,
//! appended junk, header fields overwritten with extreme values, repeated or deleted ranges), then
//! reads it. A reader may refuse the file, with an error; it must not panic, and the file's size
//! bounds what it allocates (checked by the caller's memory, see `examples/fuzz_readers.rs`).
//! Deterministic for a seed, so a failure can be replayed.
//!
//! ```text
//! cargo run --release --example fuzz_readers -- --cases 100000 --seed 1
//! ```

use crate::checkpoint::Checkpoint;
use rand::{Rng, RngCore, SeedableRng};
use std::path::Path;

/// What one fuzzing run saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub cases: usize,
    /// Files the reader accepted (mutations that left them valid).
    pub accepted: usize,
    /// Files it refused with an error.
    pub refused: usize,
    /// Descriptions of the cases that panicked (empty when all is well).
    pub panics: Vec<String>,
}

fn mutate(rng: &mut rand::rngs::StdRng, mut b: Vec<u8>, header: usize) -> Vec<u8> {
    for _ in 0..rng.random_range(1..=4) {
        match rng.random_range(0..7) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let n = rng.random_range(0..=b.len());
                b.truncate(n);
            }
            2 => {
                let n = rng.random_range(1..64);
                let mut junk = vec![0u8; n];
                rng.fill_bytes(&mut junk);
                b.extend(junk);
            }
            3 if b.len() >= header.max(4) => {
                // A header word (or the safetensors length prefix) set to an extreme value.
                let w = rng.random_range(0..header.max(4) / 4) * 4;
                let v: u32 = [0, 1, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, rng.random()][rng.random_range(0..6)];
                b[w..w + 4].copy_from_slice(&v.to_be_bytes());
            }
            4 if b.len() > 8 => {
                let (s, e) = (rng.random_range(0..b.len()), rng.random_range(0..b.len()));
                let (s, e) = (s.min(e), s.max(e));
                let piece = b[s..e].to_vec();
                b.splice(e..e, piece);
            }
            5 if b.len() > 8 => {
                let s = rng.random_range(0..b.len());
                let e = (s + rng.random_range(1..32)).min(b.len());
                b.drain(s..e);
            }
            _ if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
            _ => {}
        }
    }
    b
}

fn run_cases(cases: usize, seed: u64, dir: &Path, seeds: &[(Vec<u8>, usize)], read: &dyn Fn(&[u8]) -> bool, tag: &str) -> Report {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut r = Report::default();
    for i in 0..cases {
        let (base, header) = &seeds[i % seeds.len()];
        let bytes = mutate(&mut rng, base.clone(), *header);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&bytes))) {
            Ok(true) => r.accepted += 1,
            Ok(false) => r.refused += 1,
            Err(_) => {
                let path = dir.join(format!("panic-{tag}-{i}.bin"));
                let _ = std::fs::write(&path, &bytes);
                r.panics.push(format!("{tag} case {i} (seed {seed}): input saved as {}", path.display()));
            }
        }
        r.cases += 1;
    }
    r
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("in-memory write");
    e.finish().expect("in-memory write")
}

/// Fuzzes the IDX reader: `cases` mutated image files (raw and gzip; the labels file beside them
/// is valid), read through `Mnist::load` from `dir`.
pub fn idx(cases: usize, seed: u64, dir: &Path) -> Report {
    use crate::data::mnist::{Mnist, Split};
    let _ = std::fs::create_dir_all(dir);
    let n = 5u32;
    let mut img = Vec::new();
    for v in [0x803u32, n, 28, 28] {
        img.extend(v.to_be_bytes());
    }
    img.extend((0..n as usize * 784).map(|i| (i * 7 % 256) as u8));
    let mut lbl = Vec::new();
    for v in [0x801u32, n] {
        lbl.extend(v.to_be_bytes());
    }
    lbl.extend([0u8, 1, 2, 3, 4]);
    let _ = std::fs::write(dir.join("train-labels-idx1-ubyte"), &lbl);
    let raw = dir.join("train-images-idx3-ubyte");
    let packed = dir.join("train-images-idx3-ubyte.gz");
    // Half the cases mutate the raw bytes, half the gzip file itself.
    let seeds = vec![(img.clone(), 16), (gz(&img), 0)];
    let read = |b: &[u8]| {
        let compressed = b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b;
        let _ = std::fs::remove_file(&raw);
        let _ = std::fs::remove_file(&packed);
        let _ = std::fs::write(if compressed { &packed } else { &raw }, b);
        Mnist::load(dir, Split::Train).is_ok()
    };
    run_cases(cases, seed, dir, &seeds, &read, "idx")
}

/// Fuzzes the checkpoint reader: `cases` mutated GAN checkpoints read with `Checkpoint::load` and
/// then `load_checkpoint` for the model they were written for.
pub fn checkpoints(cases: usize, seed: u64, dir: &Path) -> Report {
    use crate::gan::{load_checkpoint, save_checkpoint, GanConfig, GanState};
    let _ = std::fs::create_dir_all(dir);
    let cfg = GanConfig::r1(crate::data::Mixture::ring(), 2, 4);
    let (g, d) = cfg.init_params();
    let zeros = |p: &Vec<Vec<f32>>, k: usize| p.iter().map(|t| vec![vec![0.0; t.len()]; k]).collect::<Vec<_>>();
    let state = GanState { opt_g: zeros(&g, cfg.opt_g.state_count()), opt_d: zeros(&d, cfg.opt_d.state_count()), g, d, g_running: vec![], d_running: vec![], step: 3 };
    let path = dir.join("checkpoint.safetensors");
    if save_checkpoint(&path, &cfg, &state).is_err() {
        return Report { panics: vec!["could not write the seed checkpoint".into()], ..Default::default() };
    }
    let base = std::fs::read(&path).unwrap_or_default();
    let header = 8 + u64::from_le_bytes(base[..8].try_into().unwrap_or([0; 8])) as usize;
    let read = |b: &[u8]| {
        let _ = std::fs::write(&path, b);
        Checkpoint::load(&path).is_ok() && load_checkpoint(&path, &cfg).is_ok()
    };
    run_cases(cases, seed, dir, &[(base.clone(), header.min(base.len()))], &read, "checkpoint")
}

/// Fuzzes the image-folder reader: `cases` mutated PNG (RGB and grey) and JPEG files, each alone
/// in a folder that is scanned (headers) and whose image is then decoded, resized and cropped as
/// R6 reads it (64 × 64 RGB). Decoding is bounded by [`crate::data::images::DECODE_LIMITS`].
pub fn images(cases: usize, seed: u64, dir: &Path) -> Report {
    use crate::data::images::{read_image, scan_folder, FolderOptions};
    let folder = dir.join("folder");
    let _ = std::fs::create_dir_all(&folder);
    let rgb = image::RgbImage::from_fn(23, 17, |x, y| image::Rgb([(x * 11) as u8, (y * 15) as u8, ((x + y) * 7) as u8]));
    let encode = |img: image::DynamicImage, format: image::ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).map(|_| out.into_inner()).unwrap_or_default()
    };
    // Headers: the PNG signature and IHDR (33 bytes, width and height at 16..24); a JPEG's first
    // segments (its frame header, with the size, follows the quantisation tables).
    let seeds = vec![
        (encode(image::DynamicImage::ImageRgb8(rgb.clone()), image::ImageFormat::Png), 33),
        (encode(image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8()), image::ImageFormat::Png), 33),
        (encode(image::DynamicImage::ImageRgb8(rgb), image::ImageFormat::Jpeg), 200),
    ];
    if seeds.iter().any(|(b, _)| b.is_empty()) {
        return Report { panics: vec!["could not encode the seed images".into()], ..Default::default() };
    }
    let o = FolderOptions { size: 64, nc: 3, min_side: 0, max_images: None };
    let read = |b: &[u8]| {
        // The extension follows the seed; the reader guesses the format from the bytes.
        let name = if b.starts_with(&[0xff, 0xd8]) { "image.jpg" } else { "image.png" };
        for stale in ["image.jpg", "image.png"] {
            let _ = std::fs::remove_file(folder.join(stale));
        }
        let _ = std::fs::write(folder.join(name), b);
        match scan_folder(&folder, o) {
            Ok(scan) => scan.files.iter().all(|f| read_image(f, o.size, o.nc).is_ok()),
            Err(_) => false,
        }
    };
    run_cases(cases, seed, dir, &seeds, &read, "image")
}

