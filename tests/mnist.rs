//! The MNIST IDX reader on the real files and on hand-made broken ones, and the two picture helpers
//! (image grid, line chart) that the MNIST runs use.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use wgpu_gan::data::mnist::{parse_images, parse_labels, resolve_dir, Mnist, Split};
use wgpu_gan::plot::{image_grid, line_chart, save_png};
use wgpu_gan::Error;

/// `$MNIST_DIR` (CI: the workplace's 8,000 + 2,000 digits), else the 2,000 + 500-digit subset
/// committed under tests/data/mnist, so that a fresh clone passes.
fn data_dir() -> PathBuf {
    match std::env::var_os("MNIST_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mnist")),
    }
}

/// (training, held-out) digits in `dir`: the committed subset's counts, or the workplace files'.
fn expected_counts(dir: &Path) -> (usize, usize) {
    if dir.ends_with("tests/data/mnist") {
        (2000, 500)
    } else {
        (8000, 2000)
    }
}

/// A fresh, empty directory under the system temp dir, unique to this process and call.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wgpu-gan-mnist-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn images_bytes(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x803u32, count, rows, cols] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

fn labels_bytes(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x801u32, count] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(labels);
    b
}

/// Asserts `r` is an `Error::Data` whose message contains every one of `needles` (case-insensitive).
fn assert_data_err<T: std::fmt::Debug>(r: wgpu_gan::Result<T>, needles: &[&str]) -> String {
    match r {
        Err(Error::Data(m)) => {
            let low = m.to_lowercase();
            for n in needles {
                assert!(low.contains(&n.to_lowercase()), "message {m:?} should mention {n:?}");
            }
            m
        }
        other => panic!("expected Error::Data mentioning {needles:?}, got {other:?}"),
    }
}

fn check_split(m: &Mnist, count: usize) {
    assert_eq!(m.count, count);
    assert_eq!((m.rows, m.cols), (28, 28));
    assert_eq!(m.dim(), 784);
    assert_eq!(m.images.len(), count * 784);
    assert_eq!(m.labels.len(), count);
    let lo = m.images.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = m.images.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((lo, hi), (-1.0, 1.0), "pixels should span exactly [-1, 1]");
    assert!(m.images.iter().all(|v| (-1.0..=1.0).contains(v)));
    let mut seen = [0usize; 10];
    for &l in &m.labels {
        assert!(l <= 9);
        seen[l as usize] += 1;
    }
    assert!(seen.iter().all(|&s| s > 0), "every digit should occur: {seen:?}");
}

#[test]
fn reads_the_shared_subset() {
    let dir = data_dir();
    let train = Mnist::load(&dir, Split::Train).unwrap();
    let test = Mnist::load(&dir, Split::Test).unwrap();
    let (n_train, n_test) = expected_counts(&dir);
    println!("{}: {} training and {} held-out digits", dir.display(), train.count, test.count);
    check_split(&train, n_train);
    check_split(&test, n_test);
    let first = train.image(0);
    assert_eq!(first.len(), 784);
    assert!(first.iter().any(|&v| v != first[0]), "first training image is blank");
    assert_ne!(train.images[..784], test.images[..784]);

    let small = train.take(5);
    assert_eq!(small.count, 5);
    assert_eq!(small.labels, train.labels[..5]);
    assert_eq!(small.image(4), train.image(4));
    assert_eq!(train.take(100_000).count, n_train);
}

#[test]
fn raw_files_load_like_gz_files() {
    let src = data_dir();
    let dir = temp_dir("raw");
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::write(dir.join(name), gunzip(&src.join(format!("{name}.gz")))).unwrap();
    }
    let raw = Mnist::load(&dir, Split::Test).unwrap();
    let gz = Mnist::load(&src, Split::Test).unwrap();
    assert_eq!(raw, gz);
    // The train files are not there: the message names what was looked for and how to point elsewhere.
    assert_data_err(
        Mnist::load(&dir, Split::Train),
        &["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte", "--mnist-dir", "MNIST_DIR"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_directory_is_explained() {
    let dir = std::env::temp_dir().join("wgpu-gan-mnist-test-does-not-exist-x9");
    assert_data_err(Mnist::load(&dir, Split::Train), &["does-not-exist-x9", "--mnist-dir", "MNIST_DIR"]);
    let flag = Path::new("/some/where");
    assert_eq!(resolve_dir(Some(flag)).unwrap(), flag);
    if std::env::var_os("MNIST_DIR").is_none() {
        assert_data_err(resolve_dir(None), &["--mnist-dir", "MNIST_DIR"]);
    }
}

#[test]
fn parse_accepts_good_bytes() {
    let px: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
    let (n, r, c, p) = parse_images(&images_bytes(2, 3, 4, &px), "x").unwrap();
    assert_eq!((n, r, c), (2, 3, 4));
    assert_eq!(p, px);
    assert_eq!(parse_labels(&labels_bytes(3, &[0, 9, 5]), "y").unwrap(), vec![0, 9, 5]);
}

#[test]
fn parse_errors_name_the_problem() {
    let px = vec![0u8; 2 * 28 * 28];
    // Wrong magic: a label file given as images and vice versa.
    assert_data_err(parse_images(&labels_bytes(2, &[1, 2]), "imgs.idx"), &["imgs.idx", "magic", "0x00000801", "0x00000803"]);
    assert_data_err(parse_labels(&images_bytes(2, 28, 28, &px), "lbls.idx"), &["lbls.idx", "magic", "0x00000803", "0x00000801"]);
    // Header too short.
    assert_data_err(parse_images(&[0, 0, 8], "short"), &["short", "header"]);
    // Truncated pixel data and trailing bytes.
    assert_data_err(parse_images(&images_bytes(2, 28, 28, &px[..1000]), "trunc"), &["trunc", "truncated", "1000", "1568"]);
    let mut long = px.clone();
    long.push(7);
    assert_data_err(parse_images(&images_bytes(2, 28, 28, &long), "trail"), &["trail", "trailing", "1569", "1568"]);
    assert_data_err(parse_labels(&labels_bytes(3, &[1, 2]), "ltrunc"), &["ltrunc", "truncated", "3"]);
    assert_data_err(parse_labels(&labels_bytes(1, &[1, 2]), "ltrail"), &["ltrail", "trailing"]);
    // A label that is not a digit.
    assert_data_err(parse_labels(&labels_bytes(3, &[1, 10, 2]), "l10"), &["l10", "label 10", "index 1"]);
    // Non-28x28 sizes are accepted and reported.
    let (_, r, c, _) = parse_images(&images_bytes(1, 2, 3, &[0; 6]), "small").unwrap();
    assert_eq!((r, c), (2, 3));
}

#[test]
fn load_errors_name_the_file() {
    let px = vec![255u8; 3 * 28 * 28];
    // Label count differs from image count.
    let dir = temp_dir("count");
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&images_bytes(3, 28, 28, &px))).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&labels_bytes(2, &[1, 2]))).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["3 images", "2 labels", "train-labels-idx1-ubyte.gz"]);
    // Label 10 in a file.
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&labels_bytes(3, &[1, 10, 2]))).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-labels-idx1-ubyte.gz", "label 10"]);
    // Good labels: loads, 255 → exactly +1.
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&labels_bytes(3, &[1, 0, 2]))).unwrap();
    let m = Mnist::load(&dir, Split::Train).unwrap();
    assert!(m.images.iter().all(|&v| v == 1.0));
    // Images and labels swapped.
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&labels_bytes(3, &[1, 0, 2]))).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-images-idx3-ubyte.gz", "0x00000801", "0x00000803", "labels file"]);
    // Truncated pixels inside a valid gzip stream.
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&images_bytes(3, 28, 28, &px[..2000]))).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-images-idx3-ubyte.gz", "truncated"]);
    // Corrupt gzip: a good stream cut short, and garbage.
    let good = gzip(&images_bytes(3, 28, 28, &px));
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &good[..good.len() / 2]).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-images-idx3-ubyte.gz", "gzip"]);
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), b"this is not gzip at all").unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-images-idx3-ubyte.gz", "gzip"]);
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 6] ^= 0xff; // inside the CRC32 trailer
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), &bad_crc).unwrap();
    assert_data_err(Mnist::load(&dir, Split::Train), &["train-images-idx3-ubyte.gz", "gzip"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn image_grid_layout_and_values() {
    let (h, w) = (3usize, 2usize);
    let n = 5;
    let mut imgs = vec![0.0f32; n * h * w];
    imgs[0] = 1.0; // image 0, pixel (0,0): white
    imgs[h * w + 1] = -1.0; // image 1, pixel (0,1): black
    let scale = 4;
    let g = image_grid(&imgs, n, h, w, 3, scale);
    let (cw, ch) = (w as u32 * scale, h as u32 * scale);
    assert_eq!(g.width(), 3 * cw + 2 * 2);
    assert_eq!(g.height(), 2 * ch + 2);
    for d in 0..scale {
        assert_eq!(g.get_pixel(d, d).0, [255, 255, 255]);
        // Image 1 starts after one cell and a 2-pixel gap; its pixel (0,1) is `scale` further right.
        assert_eq!(g.get_pixel(cw + 2 + scale + d, d).0, [0, 0, 0]);
    }
    // 0 → mid grey; the gap is dark grey and neither black nor white.
    let mid = g.get_pixel(scale, 0).0;
    assert!(mid[0] == 127 || mid[0] == 128, "{mid:?}");
    let gap = g.get_pixel(cw, 0).0;
    assert!(gap[0] > 0 && gap[0] < 100, "{gap:?}");
    assert_eq!(gap, g.get_pixel(0, ch).0);
    let dir = temp_dir("png");
    save_png(&g, &dir.join("grid.png")).unwrap();
    assert!(dir.join("grid.png").metadata().unwrap().len() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_chart_draws_something_of_the_right_size() {
    let xs: Vec<f32> = (0..200).map(|i| i as f32 * 10.0).collect();
    let a: Vec<f32> = xs.iter().map(|x| (x / 300.0).sin()).collect();
    let mut b: Vec<f32> = xs.iter().map(|x| 0.5 - x / 4000.0).collect();
    b[50] = f32::NAN;
    b[51] = f32::INFINITY;
    let img = line_chart(&xs, &[("loss_d", &a), ("loss_g", &b)], 480, 320);
    assert_eq!((img.width(), img.height()), (480, 320));
    let blank = image::RgbImage::from_pixel(480, 320, image::Rgb([255, 255, 255]));
    assert_ne!(img, blank);
    // Both series colours appear.
    let has = |c: [u8; 3]| img.pixels().any(|p| p.0 == c);
    assert!(has(wgpu_gan::plot::SERIES_COLOURS[0].0) && has(wgpu_gan::plot::SERIES_COLOURS[1].0));
    // A small one, and degenerate inputs, do not panic.
    let small = line_chart(&xs, &[("a", &a)], 120, 80);
    assert_eq!((small.width(), small.height()), (120, 80));
    let _ = line_chart(&[], &[], 10, 5);
    let _ = line_chart(&[1.0], &[("nan", &[f32::NAN])], 200, 100);
    let _ = line_chart(&[1.0, 1.0], &[("flat", &[3.0, 3.0])], 200, 100);
    let dir = temp_dir("chart");
    save_png(&img, &dir.join("chart.png")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The reader streams: it reads the header, then at most what the header declares (plus one byte
/// to see trailing data), so gzip bombs and lying headers cost nothing; several gzip members are one
/// file, as gzip itself treats them; junk after the last member is refused; a model that needs
/// 28×28 refuses 14×56 images although they have as many pixels.
#[test]
fn streaming_reader_bounds_and_gzip_members() {
    let dir = temp_dir("stream");
    let px: Vec<u8> = (0..3 * 784).map(|i| (i % 251) as u8).collect();
    let labels = labels_bytes(3, &[1, 2, 3]);
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    let images = images_bytes(3, 28, 28, &px);
    let put = |bytes: Vec<u8>| std::fs::write(dir.join("train-images-idx3-ubyte.gz"), bytes).unwrap();

    // Two gzip members (cat a.gz b.gz): one file.
    put([gzip(&images[..1000]), gzip(&images[1000..])].concat());
    let two = Mnist::load(&dir, Split::Train).expect("a multi-member gzip file is valid");
    put(gzip(&images));
    assert_eq!(two, Mnist::load(&dir, Split::Train).unwrap());

    // Junk after the gzip stream.
    put([gzip(&images), b"this is not gzip".to_vec()].concat());
    let m = assert_data_err(Mnist::load(&dir, Split::Train), &["gzip"]);
    println!("junk after the stream: {m}");

    // A bomb: the header says 3 images, the stream then inflates to 200 MB. Refused as trailing
    // data after reading one byte past the 3 images, quickly and without the memory.
    let mut bomb = images.clone();
    bomb.resize(200 << 20, 0);
    put(gzip(&bomb));
    let t = std::time::Instant::now();
    let m = assert_data_err(Mnist::load(&dir, Split::Train), &["trailing data"]);
    println!("bomb: {m} ({:.2} s)", t.elapsed().as_secs_f64());
    assert!(t.elapsed().as_secs_f64() < 2.0, "the reader went on decompressing the bomb");

    // A header claiming absurd sizes is refused before any decompression.
    put(gzip(&images_bytes(0xFFFF_FFFF, 28, 28, &[])));
    assert_data_err(Mnist::load(&dir, Split::Train), &["more than"]);
    put(gzip(&images_bytes(1, 100_000, 28, &[])));
    assert_data_err(Mnist::load(&dir, Split::Train), &["100000×28"]);

    // Same pixel count, wrong shape.
    put(gzip(&images_bytes(3, 14, 56, &px)));
    let odd = Mnist::load(&dir, Split::Train).unwrap();
    let m = assert_data_err(odd.expect_size(28, 28, "R2"), &["R2", "28×28", "14×56"]);
    println!("shape: {m}");
    std::fs::remove_dir_all(&dir).unwrap();
}
