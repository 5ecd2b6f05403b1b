//! Square images for R6, as rows of nc × size × size values in [−1, 1] (channel-major, as the
//! networks read them), from three sources:
//!
//! - [`load_folder`]: every image under a directory, recursively (PNG and JPEG), resized on the
//!   shorter side and centre-cropped to `size` like torchvision's `Resize` + `CenterCrop`, RGB
//!   or grey. Files that are not images are skipped and reported (count and first names), and
//!   one whose header reads but whose body does not decode is reported and read as the next
//!   image in path order (so a folder gives the same rows held or streamed); a
//!   directory that does not exist, one without a single image, and an image smaller than the
//!   minimum side are errors. Decoding is bounded ([`DECODE_LIMITS`]), so a file that declares
//!   100,000 × 100,000 pixels is refused without allocating them.
//! - [`fake`]: uniform noise images (PyTorch's `FakeData`), for timing.
//! - [`shapes`]: a toy with known modes and no download: one filled square, disc or triangle in
//!   red, green or blue on a dark background, 9 classes; [`shape_class`] reads a generated image
//!   back into its class, so mode coverage can be measured as M1 measures it on the ring.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Images as rows: `count` rows of `nc × size × size` values in [−1, 1].
///
/// ```
/// use wgpu_gan::data::images::fake;
/// let set = fake(4, 3, 8, 1);
/// assert_eq!((set.count, set.dim(), set.rows.len()), (4, 3 * 8 * 8, 4 * 192));
/// assert!(set.rows.iter().all(|v| (-1.0..=1.0).contains(v)));
/// assert!(set.labels.is_none() && set.skipped_report().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct ImageSet {
    pub rows: Vec<f32>,
    pub count: usize,
    pub nc: usize,
    pub size: usize,
    /// Class of each image where the source has classes ([`shapes`]).
    pub labels: Option<Vec<f32>>,
    /// Files under a folder that did not decode, with why (folder sources only).
    pub skipped: Vec<(PathBuf, String)>,
}

impl ImageSet {
    /// Values per image.
    ///
    /// ```
    /// use wgpu_gan::data::images::fake;
    /// let set = fake(2, 3, 4, 0);                              // 2 RGB images of 4 × 4
    /// assert_eq!(set.dim(), 3 * 4 * 4);
    /// assert_eq!(set.rows.len(), set.count * set.dim());
    /// ```
    pub fn dim(&self) -> usize {
        self.nc * self.size * self.size
    }

    /// A line for the log: how many files were skipped and the first few, or nothing.
    ///
    /// ```
    /// use wgpu_gan::data::images::fake;
    /// let mut set = fake(1, 1, 2, 0);
    /// assert_eq!(set.skipped_report(), None);
    /// set.skipped.push(("a/notes.txt".into(), "not an image".into()));
    /// let line = set.skipped_report().unwrap();
    /// assert!(line.contains("skipped 1 file(s)") && line.contains("a/notes.txt (not an image)"));
    /// ```
    pub fn skipped_report(&self) -> Option<String> {
        skipped_report(&self.skipped)
    }
}

/// The most pixels along either side, and the most bytes, that decoding one file may take.
///
/// ```
/// use image::RgbImage;
/// use wgpu_gan::{data::images::{scan_folder, FolderOptions, DECODE_LIMITS}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("decode_limits_{}", std::process::id()));
/// save_png(&RgbImage::new(4, 4), &dir.join("a.png"))?;
/// save_png(&RgbImage::new(DECODE_LIMITS.0 + 1, 1), &dir.join("b.png"))?; // a pixel too wide
/// let scan = scan_folder(&dir, FolderOptions { size: 4, nc: 3, min_side: 0, max_images: None })?;
/// assert_eq!(scan.files, [dir.join("a.png")]);
/// assert_eq!(scan.skipped[0].0, dir.join("b.png"));                    // refused, not decoded
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const DECODE_LIMITS: (u32, u64) = (16_384, 256 << 20);

/// How [`load_folder`] reads a folder.
///
/// ```
/// use image::RgbImage;
/// use wgpu_gan::{data::images::{load_folder, FolderOptions}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("folder_options_{}", std::process::id()));
/// for i in 0..3 {
///     save_png(&RgbImage::new(8, 6), &dir.join(format!("{i}.png")))?;
/// }
/// let o = FolderOptions { size: 4, nc: 1, min_side: 0, max_images: Some(2) };
/// assert_eq!(load_folder(&dir, o)?.rows.len(), 2 * 4 * 4);             // two grey 4 × 4 images
/// assert!(load_folder(&dir, FolderOptions { min_side: 7, ..o }).is_err()); // 6 pixels high
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FolderOptions {
    /// Output side (pixels).
    pub size: usize,
    /// 3 for RGB, 1 for grey.
    pub nc: usize,
    /// Images whose shorter side is below this are an error (they would be blown up from almost
    /// nothing); 0 accepts any.
    pub min_side: u32,
    /// Read at most this many images (in path order).
    pub max_images: Option<usize>,
}

/// Every image under `dir` (see the module documentation), decoded into memory. For a folder
/// too large to hold, [`crate::data::stream::FolderRows`] reads the same images on demand.
///
/// ```
/// use image::{Rgb, RgbImage};
/// use wgpu_gan::{data::images::{load_folder, FolderOptions}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("load_folder_{}", std::process::id()));
/// save_png(&RgbImage::from_pixel(6, 4, Rgb([255, 0, 0])), &dir.join("red.png"))?;
/// std::fs::write(dir.join("notes.txt"), "not an image")?;
/// let set = load_folder(&dir, FolderOptions { size: 2, nc: 3, min_side: 0, max_images: None })?;
/// assert_eq!((set.count, set.dim()), (1, 3 * 2 * 2));
/// assert_eq!(set.rows, [[1.0; 4], [-1.0; 4], [-1.0; 4]].concat());     // planes R, G, B
/// assert_eq!(set.skipped[0].0, dir.join("notes.txt"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn load_folder(dir: &Path, o: FolderOptions) -> Result<ImageSet> {
    load_scanned(dir, scan_folder(dir, o)?, o)
}

/// The images a [`scan_folder`] of `dir` listed, decoded into memory. A file whose header read
/// but whose body does not decode is reported (in `skipped`) and its row is the next image in
/// path order that does, as [`crate::data::stream::FolderRows`] reads it: a folder gives the same
/// rows held or streamed, so either run may resume the other.
///
/// ```
/// use image::{Rgb, RgbImage};
/// use wgpu_gan::{data::images::{load_scanned, scan_folder, FolderOptions}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("load_scanned_{}", std::process::id()));
/// let o = FolderOptions { size: 2, nc: 1, min_side: 0, max_images: None };
/// save_png(&RgbImage::from_pixel(2, 2, Rgb([255; 3])), &dir.join("a.png"))?;
/// save_png(&RgbImage::new(2, 2), &dir.join("b.png"))?;
/// let png = std::fs::read(dir.join("a.png"))?;
/// std::fs::write(dir.join("a.png"), &png[..png.len() - 20])?; // header intact, body cut
/// let scan = scan_folder(&dir, o)?;
/// assert_eq!(scan.files.len(), 2);                             // a.png's header reads
/// let set = load_scanned(&dir, scan, o)?;
/// assert_eq!((set.rows, set.skipped.len()), (vec![-1.0; 8], 1)); // b.png's black, twice
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn load_scanned(dir: &Path, scan: FolderScan, o: FolderOptions) -> Result<ImageSet> {
    let mut skipped = scan.skipped;
    let decoded: Vec<Option<Vec<f32>>> = scan
        .files
        .iter()
        .map(|path| match read_image(path, o.size, o.nc) {
            Ok(row) => Some(row),
            Err(why) => {
                skipped.push((path.clone(), why));
                None
            }
        })
        .collect();
    let n = decoded.len();
    if decoded.iter().all(Option::is_none) {
        return Err(no_image(dir, &skipped));
    }
    let mut rows = Vec::with_capacity(n * o.nc * o.size * o.size);
    for i in 0..n {
        let row = (0..n).find_map(|t| decoded[(i + t) % n].as_ref()).expect("one image decodes");
        rows.extend_from_slice(row);
    }
    Ok(ImageSet { rows, count: n, nc: o.nc, size: o.size, labels: None, skipped })
}

/// The image files of a folder as [`scan_folder`] finds them: those whose header reads as a PNG
/// or JPEG image of an accepted size, in path order, and the others with why.
///
/// ```
/// use image::RgbImage;
/// use wgpu_gan::{data::images::{scan_folder, FolderOptions}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("folder_scan_{}", std::process::id()));
/// for name in ["b.png", "a.png"] {
///     save_png(&RgbImage::new(3, 3), &dir.join(name))?;
/// }
/// let scan = scan_folder(&dir, FolderOptions { size: 3, nc: 3, min_side: 0, max_images: None })?;
/// assert_eq!(scan.files, [dir.join("a.png"), dir.join("b.png")]); // in path order
/// assert!(scan.skipped.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FolderScan {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Lists the images under `dir`, recursively, reading only each file's header (fast: no pixel is
/// decoded): files that are not PNG or JPEG, or whose header does not read, are skipped with why;
/// a directory that does not exist, a folder without an image, and an image whose shorter side
/// is below `o.min_side` are errors. At most `o.max_images` images, in path order.
///
/// ```
/// use image::RgbImage;
/// use wgpu_gan::{data::images::{scan_folder, FolderOptions}, plot::save_png};
/// # let dir = std::env::temp_dir().join(format!("scan_folder_{}", std::process::id()));
/// let o = FolderOptions { size: 8, nc: 3, min_side: 0, max_images: None };
/// assert!(scan_folder(&dir, o).is_err());                      // does not exist yet
/// save_png(&RgbImage::new(5, 5), &dir.join("sub/x.png"))?;
/// std::fs::write(dir.join("a.txt"), "text")?;
/// let scan = scan_folder(&dir, o)?;                            // recursive
/// assert_eq!((scan.files, scan.skipped.len()), (vec![dir.join("sub/x.png")], 1));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn scan_folder(dir: &Path, o: FolderOptions) -> Result<FolderScan> {
    if o.size == 0 || !(o.nc == 1 || o.nc == 3) {
        return Err(Error::Shape(format!("image folder: size {} and {} channels (1 or 3 wanted)", o.size, o.nc)));
    }
    if !dir.is_dir() {
        return Err(Error::Data(format!("image folder {}: {}", dir.display(), if dir.exists() { "is not a directory" } else { "does not exist" })));
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths)?;
    paths.sort();
    let mut scan = FolderScan { files: Vec::new(), skipped: Vec::new() };
    for path in paths {
        if o.max_images.is_some_and(|m| scan.files.len() >= m) {
            break;
        }
        match header(&path) {
            Ok((w, h)) => {
                if w.min(h) < o.min_side {
                    return Err(Error::Data(format!("{}: {w} × {h} pixels, smaller than the {} the folder's images must have on their shorter side", path.display(), o.min_side)));
                }
                scan.files.push(path);
            }
            Err(why) => scan.skipped.push((path, why)),
        }
    }
    if scan.files.is_empty() {
        return Err(no_image(dir, &scan.skipped));
    }
    Ok(scan)
}

fn no_image(dir: &Path, skipped: &[(PathBuf, String)]) -> Error {
    let why = skipped_report(skipped).unwrap_or_else(|| "it holds no files".into());
    Error::Data(format!("image folder {} has no readable image (PNG or JPEG): {why}", dir.display()))
}

/// A line for the log: how many files were skipped and the first few, or nothing.
///
/// ```
/// use std::path::PathBuf;
/// use wgpu_gan::data::images::skipped_report;
/// assert_eq!(skipped_report(&[]), None);
/// let skipped: Vec<(PathBuf, String)> = (0..5).map(|i| (format!("f{i}.txt").into(), "not an image".into())).collect();
/// let line = skipped_report(&skipped).unwrap();
/// assert!(line.starts_with("skipped 5 file(s)") && line.contains("f2.txt (not an image)"));
/// assert!(!line.contains("f3.txt") && line.ends_with("; ..."));   // the first three only
/// ```
pub fn skipped_report(skipped: &[(PathBuf, String)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let first: Vec<String> = skipped.iter().take(3).map(|(p, why)| format!("{} ({why})", p.display())).collect();
    Some(format!("skipped {} file(s) that are not readable images: {}{}", skipped.len(), first.join("; "), if skipped.len() > 3 { "; ..." } else { "" }))
}

/// The files under `dir`, recursively (a symbolic link to a file counts as the file; one to a
/// directory is not followed, so a link loop cannot recurse forever).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let err = |p: &Path, e: std::io::Error| Error::Data(format!("image folder {}: {e}", p.display()));
    for e in std::fs::read_dir(dir).map_err(|e| err(dir, e))? {
        let e = e.map_err(|e| err(dir, e))?;
        let path = e.path();
        let kind = e.file_type().map_err(|e| err(&path, e))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// A reader for one file with its format guessed from its first bytes, limited by
/// [`DECODE_LIMITS`], or why not.
fn reader(path: &Path) -> std::result::Result<image::ImageReader<std::io::BufReader<std::fs::File>>, String> {
    let mut reader = image::ImageReader::open(path).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    if reader.format().is_none() {
        return Err("not a PNG or JPEG file".into());
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(DECODE_LIMITS.0);
    limits.max_image_height = Some(DECODE_LIMITS.0);
    limits.max_alloc = Some(DECODE_LIMITS.1);
    reader.limits(limits);
    Ok(reader)
}

/// A file's width and height from its header alone, within [`DECODE_LIMITS`].
fn header(path: &Path) -> std::result::Result<(u32, u32), String> {
    let (w, h) = reader(path)?.into_dimensions().map_err(|e| e.to_string())?;
    if w.max(h) > DECODE_LIMITS.0 {
        return Err(format!("{w} × {h} pixels, over the {} a side may have", DECODE_LIMITS.0));
    }
    Ok((w, h))
}

/// One file decoded within [`DECODE_LIMITS`], or why not.
fn decode(path: &Path) -> std::result::Result<image::DynamicImage, String> {
    reader(path)?.decode().map_err(|e| e.to_string())
}

/// One file as a row of nc × size × size values in [−1, 1] (see [`load_folder`]), or why not.
///
/// ```
/// use image::{Rgb, RgbImage};
/// use wgpu_gan::data::images::read_image;
/// # let dir = std::env::temp_dir().join(format!("read_image_{}", std::process::id()));
/// let path = dir.join("white.png");
/// wgpu_gan::plot::save_png(&RgbImage::from_pixel(8, 4, Rgb([255; 3])), &path)?;
/// // 8 × 4 is resized to 4 × 2, then its centre 2 × 2 is cut out
/// assert_eq!(read_image(&path, 2, 1), Ok(vec![1.0; 4]));
/// assert_eq!(read_image(&path, 2, 3).map(|row| row.len()), Ok(3 * 2 * 2));
/// assert!(read_image(&dir.join("missing.png"), 2, 1).is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn read_image(path: &Path, size: usize, nc: usize) -> std::result::Result<Vec<f32>, String> {
    decode(path).map(|img| to_row(&img, size, nc))
}

/// Resized on the shorter side to `size` (bilinear, as torchvision), centre-cropped, as nc × size
/// × size values in [−1, 1].
fn to_row(img: &image::DynamicImage, size: usize, nc: usize) -> Vec<f32> {
    let s = size as u32;
    let (w, h) = (img.width().max(1), img.height().max(1));
    let (nw, nh) = if w <= h { (s, ((h as u64 * s as u64).div_ceil(w as u64) as u32).max(s)) } else { (((w as u64 * s as u64).div_ceil(h as u64) as u32).max(s), s) };
    let resized = img.resize_exact(nw, nh, image::imageops::FilterType::Triangle);
    let cropped = resized.crop_imm((nw - s) / 2, (nh - s) / 2, s, s);
    let scale = |v: u8| v as f32 / 127.5 - 1.0;
    let plane = size * size;
    let mut row = vec![0.0; nc * plane];
    if nc == 1 {
        for (i, p) in cropped.to_luma8().pixels().enumerate() {
            row[i] = scale(p.0[0]);
        }
    } else {
        for (i, p) in cropped.to_rgb8().pixels().enumerate() {
            for c in 0..3 {
                row[c * plane + i] = scale(p.0[c]);
            }
        }
    }
    row
}

/// `count` images of uniform noise in [−1, 1] (PyTorch's `FakeData`), from `seed`.
///
/// ```
/// use wgpu_gan::data::images::fake;
/// let a = fake(2, 1, 4, 7);
/// assert_eq!(a.rows.len(), 2 * 4 * 4);
/// assert_eq!(a.rows, fake(2, 1, 4, 7).rows);       // the same seed, the same noise
/// assert_ne!(a.rows, fake(2, 1, 4, 8).rows);
/// ```
pub fn fake(count: usize, nc: usize, size: usize, seed: u32) -> ImageSet {
    let rows = crate::rng::uniform_fill(seed, 0x0fa6e, count * nc * size * size, -1.0, 1.0);
    ImageSet { rows, count, nc, size, labels: None, skipped: Vec::new() }
}

/// The shapes of [`shapes`].
///
/// ```
/// use wgpu_gan::data::images::{shapes, COLOURS, SHAPES};
/// let set = shapes(9, 16, 0)?;
/// let class = set.labels.as_ref().unwrap()[7] as usize;   // image 7 is of class 7
/// assert_eq!((SHAPES[class / 3], COLOURS[class % 3]), ("triangle", "green"));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const SHAPES: [&str; 3] = ["square", "disc", "triangle"];
/// The colours of [`shapes`] (RGB in [−1, 1]: one channel bright, the others dark).
///
/// ```
/// use wgpu_gan::data::images::{shapes, COLOURS};
/// let set = shapes(3, 16, 1)?;                    // a red, a green and a blue square
/// let plane = 16 * 16;
/// let mean = |i: usize, c: usize| set.rows[(3 * i + c) * plane..][..plane].iter().sum::<f32>() / plane as f32;
/// for (i, colour) in COLOURS.iter().enumerate() {
///     assert!(mean(i, i) > mean(i, (i + 1) % 3), "{colour}: its channel is the bright one");
/// }
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const COLOURS: [&str; 3] = ["red", "green", "blue"];
/// Classes of [`shapes`]: shape × colour.
///
/// ```
/// use wgpu_gan::data::images::{shapes, SHAPE_CLASSES};
/// let labels = shapes(2 * SHAPE_CLASSES, 16, 0)?.labels.unwrap();
/// assert_eq!(SHAPE_CLASSES, 9);
/// assert!((0..SHAPE_CLASSES).all(|c| labels.iter().filter(|&&l| l == c as f32).count() == 2));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const SHAPE_CLASSES: usize = SHAPES.len() * COLOURS.len();
/// The background value of every channel of [`shapes`].
const BACKGROUND: f32 = -0.8;
/// Standard deviation of the Gaussian noise on every pixel of [`shapes`]. Without it the toy is
/// too easy to tell from a generator's first attempts: PyTorch's own examples/dcgan networks
/// (32 × 32, ngf = ndf = 32) trained on the noise-free toy had D(G(z)) at 0.001 after 1,500
/// iterations and drew nothing; with 0.15 they drew 7 of the 9 classes (docs/BENCHMARKS.md).
///
/// ```
/// use wgpu_gan::data::images::{shapes, SHAPE_NOISE};
/// let set = shapes(3, 32, 2)?;
/// let red_of_blue = &set.rows[6 * 32 * 32..7 * 32 * 32];   // image 2 (blue): red is background
/// let mean = red_of_blue.iter().sum::<f32>() / 1024.0;
/// let sd = (red_of_blue.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 1024.0).sqrt();
/// assert!((mean + 0.8).abs() < 0.05 && (sd - SHAPE_NOISE).abs() < 0.03); // −0.8 ± noise (clamped at −1)
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const SHAPE_NOISE: f32 = 0.15;

/// `count` RGB images of `size` (at least 16): each one filled shape of class (shape, colour) =
/// (class / 3, class % 3), its size 35–70 % of the image and its position drawn at random (from
/// `seed`), on a dark background, with Gaussian noise ([`SHAPE_NOISE`]) on every value, clamped
/// to [−1, 1]; classes in turn, so every class has count / 9 images.
///
/// ```
/// use wgpu_gan::data::images::shapes;
/// let set = shapes(9, 32, 0)?;
/// assert_eq!((set.count, set.nc, set.dim()), (9, 3, 3 * 32 * 32));
/// assert_eq!(set.labels.unwrap(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
/// assert!(set.rows.iter().all(|v| (-1.0..=1.0).contains(v)));
/// assert!(shapes(9, 8, 0).is_err());                      // under 16 pixels
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn shapes(count: usize, size: usize, seed: u32) -> Result<ImageSet> {
    if size < 16 {
        return Err(Error::Shape(format!("the shapes toy needs images of at least 16 pixels, not {size}")));
    }
    let u = crate::rng::uniform_fill(seed, 0x5a9e, count * 3, 0.0, 1.0);
    let plane = size * size;
    let mut rows = vec![BACKGROUND; count * 3 * plane];
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let class = i % SHAPE_CLASSES;
        labels.push(class as f32);
        let (shape, colour) = (class / COLOURS.len(), class % COLOURS.len());
        let side = ((0.35 + 0.35 * u[3 * i]) * size as f32).round() as usize;
        let x0 = (u[3 * i + 1] * (size - side) as f32) as usize;
        let y0 = (u[3 * i + 2] * (size - side) as f32) as usize;
        let row = &mut rows[i * 3 * plane..(i + 1) * 3 * plane];
        for y in 0..side {
            for x in 0..side {
                if inside(shape, x, y, side) {
                    row[colour * plane + (y0 + y) * size + x0 + x] = 1.0;
                }
            }
        }
    }
    let noise = crate::rng::normal_fill(seed, 0x5a9f, rows.len(), 0.0, SHAPE_NOISE);
    for (v, e) in rows.iter_mut().zip(noise) {
        *v = (*v + e).clamp(-1.0, 1.0);
    }
    Ok(ImageSet { rows, count, nc: 3, size, labels: Some(labels), skipped: Vec::new() })
}

/// Whether pixel (x, y) of a `side`-pixel box lies in shape `shape` (square, disc, triangle with
/// its base at the bottom).
fn inside(shape: usize, x: usize, y: usize, side: usize) -> bool {
    let (fx, fy, s) = (x as f32 + 0.5, y as f32 + 0.5, side as f32);
    match shape {
        0 => true,
        1 => {
            let (dx, dy) = (fx - s / 2.0, fy - s / 2.0);
            dx * dx + dy * dy <= s * s / 4.0
        }
        _ => (fx - s / 2.0).abs() <= fy / 2.0,
    }
}

/// The class of a generated shapes image (nc 3, `size`), or None when it shows no single clear
/// shape. The image is first smoothed (a 3 × 3 box filter), so that a generator's pixel-scale
/// artefacts (the checkerboard of transposed convolutions, speckles) do not break a shape apart.
/// Its colour is then the channel whose bright pixels (above 0, halfway between background and
/// shape, over 5 noise deviations from either) are most of the bright pixels; its shape is read
/// from their bounding box: a triangle (apex up) has a third as many of them in the box's top
/// half as in its bottom half, a square and a disc as many; a square fills its box (≈ 1) and its
/// corners, a disc π/4 of it and not its corners. These hold for soft edges and holes too (a
/// generator's; the toy blurred, or with a grid of holes: tested).
///
/// ```
/// use wgpu_gan::data::images::{shape_class, shapes};
/// let set = shapes(18, 32, 5)?;
/// let labels = set.labels.as_ref().unwrap();
/// for (img, &label) in set.rows.chunks(set.dim()).zip(labels) {
///     assert_eq!(shape_class(img, 32), Some(label as usize));
/// }
/// assert_eq!(shape_class(&[-0.8; 3 * 32 * 32], 32), None);   // nothing drawn
/// assert_eq!(shape_class(&[1.0; 10], 32), None);             // not a 3 × 32 × 32 image
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn shape_class(img: &[f32], size: usize) -> Option<usize> {
    let plane = size * size;
    if img.len() != 3 * plane {
        return None;
    }
    let img = box_blur(img, size);
    let bright = |c: usize, i: usize| img[c * plane + i] > 0.0;
    let counts: Vec<usize> = (0..3).map(|c| (0..plane).filter(|&i| bright(c, i)).count()).collect();
    let total: usize = counts.iter().sum();
    let colour = (0..3).max_by_key(|&c| counts[c])?;
    if total == 0 || counts[colour] * 10 < total * 9 || counts[colour] < plane / 50 {
        return None;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (size, size, 0, 0);
    for i in (0..plane).filter(|&i| bright(colour, i)) {
        let (y, x) = (i / size, i % size);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let fill = counts[colour] as f32 / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f32;
    // Rows above and below the box's middle (a middle row of an odd height counts in neither).
    let (h, mut top, mut bottom) = (y1 - y0 + 1, 0usize, 0usize);
    for i in (0..plane).filter(|&i| bright(colour, i)) {
        let r = i / size - y0;
        if 2 * r + 1 < h {
            top += 1;
        } else if 2 * r + 1 > h {
            bottom += 1;
        }
    }
    let ratio = top as f32 / bottom.max(1) as f32;
    // How much of the box's four corners (squares of a fifth of its shorter side, 2 pixels at
    // least) is bright: a square's are, a disc's are not.
    let k = ((x1 - x0 + 1).min(h) / 5).max(2);
    let mut corner = 0usize;
    for (cx, cy) in [(x0, y0), (x1 + 1 - k, y0), (x0, y1 + 1 - k), (x1 + 1 - k, y1 + 1 - k)] {
        corner += (cy..cy + k).flat_map(|y| (cx..cx + k).map(move |x| y * size + x)).filter(|&i| bright(colour, i)).count();
    }
    let corners = corner as f32 / (4 * k * k) as f32;
    let level = ratio > 0.75 && ratio < 1.33;
    let shape = if ratio < 0.6 && fill > 0.3 && fill < 0.75 {
        2
    } else if level && corners >= 0.5 && fill > 0.75 {
        0
    } else if level && corners < 0.35 && fill > 0.6 && fill < 0.9 {
        1
    } else {
        return None;
    };
    Some(shape * COLOURS.len() + colour)
}

/// Each of the planes of `img` (size × size) averaged over 3 × 3 neighbourhoods (those inside).
fn box_blur(img: &[f32], size: usize) -> Vec<f32> {
    let mut out = vec![0.0; img.len()];
    for (p, o) in img.chunks(size * size).zip(out.chunks_mut(size * size)) {
        for y in 0..size {
            for x in 0..size {
                let (ys, xs) = (y.saturating_sub(1)..(y + 2).min(size), x.saturating_sub(1)..(x + 2).min(size));
                let n = (ys.len() * xs.len()) as f32;
                o[y * size + x] = ys.flat_map(|yy| xs.clone().map(move |xx| p[yy * size + xx])).sum::<f32>() / n;
            }
        }
    }
    out
}

/// Mode coverage of generated shapes images (M1's idea for images): how many of the
/// [`SHAPE_CLASSES`] classes appear among `n` images, how many images are of a clear class, and
/// the count per class.
///
/// ```
/// use wgpu_gan::data::images::{shape_coverage, shapes};
/// let set = shapes(9, 32, 0)?;
/// assert_eq!(shape_coverage(&set.rows, 9, 32), (9, 9, [1; 9]));      // every class, once
/// let mut rows = set.rows[..3 * set.dim()].to_vec();                  // classes 0, 1, 2 ...
/// rows.extend(vec![-0.8; set.dim()]);                                 // ... and a blank image
/// assert_eq!(shape_coverage(&rows, 4, 32), (3, 3, [1, 1, 1, 0, 0, 0, 0, 0, 0]));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn shape_coverage(images: &[f32], n: usize, size: usize) -> (usize, usize, [usize; SHAPE_CLASSES]) {
    let dim = 3 * size * size;
    let mut per = [0usize; SHAPE_CLASSES];
    for i in 0..n {
        if let Some(c) = shape_class(&images[i * dim..(i + 1) * dim], size) {
            per[c] += 1;
        }
    }
    (per.iter().filter(|&&c| c > 0).count(), per.iter().sum(), per)
}
