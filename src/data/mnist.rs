//! Reader for the MNIST handwritten digits in their original IDX format.
//!
//! An IDX file is a big-endian header followed by raw bytes. Image files start with the magic
//! number `0x00000803` and three `u32`s (item count, rows, columns), then `count·rows·cols` pixels
//! (0 = background, 255 = ink), one byte each, image after image in row-major order. Label files
//! start with `0x00000801` and the item count, then one byte per item (the digit, 0..=9).
//!
//! The four files of a split may be gzip-compressed (`train-images-idx3-ubyte.gz`, as distributed)
//! or already unpacked (same name without `.gz`); the compressed name is tried first. Anything wrong
//! with a file (missing, corrupt gzip, wrong magic, truncated, trailing bytes, counts that disagree,
//! labels above 9) comes back as [`Error::Data`] with the file's path, what was found and what was
//! expected.

use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file holding unsigned bytes in 3 dimensions (images).
///
/// ```
/// use wgpu_gan::data::mnist::{parse_images, IMAGES_MAGIC};
/// let mut idx: Vec<u8> = [IMAGES_MAGIC, 1, 2, 2].iter().flat_map(|v| v.to_be_bytes()).collect();
/// idx.extend([0, 255, 0, 255]);                          // 1 image of 2 × 2
/// assert_eq!(&idx[..4], [0, 0, 8, 3]);
/// assert_eq!(parse_images(&idx, "x")?, (1, 2, 2, vec![0, 255, 0, 255]));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file holding unsigned bytes in 1 dimension (labels).
///
/// ```
/// use wgpu_gan::data::mnist::{parse_labels, IMAGES_MAGIC, LABELS_MAGIC};
/// let idx = |magic: u32| [&magic.to_be_bytes()[..], &2u32.to_be_bytes(), &[3, 9]].concat();
/// assert_eq!(parse_labels(&idx(LABELS_MAGIC), "y")?, [3, 9]);
/// let err = parse_labels(&idx(IMAGES_MAGIC), "y").unwrap_err();
/// assert!(err.to_string().contains("is this the images file?"));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Which half of MNIST to read.
///
/// ```
/// use wgpu_gan::data::mnist::Split;
/// assert_eq!(Split::Test.file_names(), ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"));
/// assert_eq!(Split::Train.file_names().1, "train-labels-idx1-ubyte");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The `train-*` files.
    Train,
    /// The `t10k-*` files: held out, for evaluation only.
    Test,
}

impl Split {
    /// File names (without `.gz`) of the images and labels of this split.
    ///
    /// ```
    /// use wgpu_gan::data::mnist::Split;
    /// let (images, labels) = Split::Train.file_names();
    /// assert_eq!((images, labels), ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"));
    /// assert!(Split::Test.file_names().0.starts_with("t10k-"));
    /// ```
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }
}

/// A set of labelled digits, pixels already scaled to [−1, 1].
///
/// ```
/// use wgpu_gan::data::mnist::{Mnist, Split, IMAGES_MAGIC, LABELS_MAGIC};
/// # let dir = std::env::temp_dir().join(format!("mnist_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let be = |v: &[u32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
/// // two 2 × 2 images and their labels, unpacked (`.gz` files are read too)
/// std::fs::write(dir.join("t10k-images-idx3-ubyte"), [be(&[IMAGES_MAGIC, 2, 2, 2]), vec![0, 255, 0, 255, 255, 255, 255, 255]].concat())?;
/// std::fs::write(dir.join("t10k-labels-idx1-ubyte"), [be(&[LABELS_MAGIC, 2]), vec![7, 1]].concat())?;
/// let m = Mnist::load(&dir, Split::Test)?;
/// assert_eq!((m.count, m.dim(), m.labels.as_slice()), (2, 4, &[7, 1][..]));
/// assert_eq!((m.image(0), m.take(1).count), (&[-1.0, 1.0, -1.0, 1.0][..], 1));
/// assert!(m.expect_size(28, 28, "lenet").is_err());
/// assert!(Mnist::load(&dir, Split::Train).is_err());        // no train-* files
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// `count` images of `rows × cols` pixels, back to back, row-major; −1 is background (0) and
    /// +1 full ink (255).
    pub images: Vec<f32>,
    /// One digit 0..=9 per image.
    pub labels: Vec<u8>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Mnist {
    /// Reads one split from `dir`. Pixels go from 0..=255 to `x / 127.5 − 1`, so that 0 maps to
    /// exactly −1 and 255 to exactly +1.
    ///
    /// ```
    /// use wgpu_gan::data::mnist::{Mnist, Split, IMAGES_MAGIC, LABELS_MAGIC};
    /// # let dir = std::env::temp_dir().join(format!("mnist_load_{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let be = |v: &[u32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    /// std::fs::write(dir.join("train-images-idx3-ubyte"), [be(&[IMAGES_MAGIC, 1, 1, 3]), vec![0, 51, 255]].concat())?;
    /// std::fs::write(dir.join("train-labels-idx1-ubyte"), [be(&[LABELS_MAGIC, 1]), vec![4]].concat())?;
    /// let m = Mnist::load(&dir, Split::Train)?;
    /// assert_eq!((m.rows, m.cols, m.labels.as_slice()), (1, 3, &[4][..]));
    /// assert_eq!(m.images, [-1.0, 51.0 / 127.5 - 1.0, 1.0]);   // 0 → −1, 255 → +1
    /// std::fs::write(dir.join("train-labels-idx1-ubyte"), [be(&[LABELS_MAGIC, 2]), vec![4, 5]].concat())?;
    /// assert!(Mnist::load(&dir, Split::Train).is_err());       // 1 image, 2 labels
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(dir: &Path, split: Split) -> Result<Mnist> {
        if !dir.is_dir() {
            return Err(Error::Data(format!(
                "MNIST directory {} does not exist or is not a directory; {}",
                dir.display(),
                WHERE_HINT
            )));
        }
        let (img_name, lbl_name) = split.file_names();
        let img_path = find_file(dir, img_name)?;
        let lbl_path = find_file(dir, lbl_name)?;
        let img_what = img_path.display().to_string();
        let lbl_what = lbl_path.display().to_string();

        let (count, rows, cols, pixels) = parse_images(&read_idx(&img_path, 16, IMAGES_MAGIC)?, &img_what)?;
        let labels = parse_labels(&read_idx(&lbl_path, 8, LABELS_MAGIC)?, &lbl_what)?;
        if labels.len() != count {
            return Err(Error::Data(format!(
                "{img_what} holds {count} images but {lbl_what} holds {} labels; \
                 expected one label per image (are the files from different sets?)",
                labels.len()
            )));
        }
        let images = pixels.iter().map(|&p| p as f32 / 127.5 - 1.0).collect();
        Ok(Mnist { images, labels, count, rows, cols })
    }

    /// Pixels per image, `rows · cols`.
    ///
    /// ```
    /// use wgpu_gan::data::mnist::Mnist;
    /// let m = Mnist { images: vec![0.0; 2 * 6], labels: vec![3, 8], count: 2, rows: 2, cols: 3 };
    /// assert_eq!(m.dim(), 6);
    /// assert_eq!(m.images.len(), m.count * m.dim());
    /// ```
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// The `i`-th image's pixels (row-major). Panics if `i >= count`.
    ///
    /// ```
    /// use wgpu_gan::data::mnist::Mnist;
    /// let m = Mnist { images: vec![-1.0, -1.0, 1.0, 0.5], labels: vec![3, 8], count: 2, rows: 1, cols: 2 };
    /// assert_eq!(m.image(1), [1.0, 0.5]);
    /// assert!(std::panic::catch_unwind(|| m.image(2).len()).is_err()); // out of range
    /// ```
    pub fn image(&self, i: usize) -> &[f32] {
        assert!(i < self.count, "image index {i} out of range (count {})", self.count);
        let d = self.dim();
        &self.images[i * d..(i + 1) * d]
    }

    /// Refuses images of another size than a model needs (a 14×56 file has as many pixels as a
    /// 28×28 one and would otherwise train on scrambled digits).
    ///
    /// ```
    /// use wgpu_gan::data::mnist::Mnist;
    /// let m = Mnist { images: vec![0.0; 14 * 56], labels: vec![1], count: 1, rows: 14, cols: 56 };
    /// assert!(m.expect_size(14, 56, "this model").is_ok());
    /// let err = m.expect_size(28, 28, "lenet").unwrap_err().to_string();
    /// assert!(err.contains("lenet needs 28×28 images, but these are 14×56"));
    /// ```
    pub fn expect_size(&self, rows: usize, cols: usize, what: &str) -> Result<()> {
        if (self.rows, self.cols) != (rows, cols) {
            return Err(Error::Data(format!(
                "{what} needs {rows}×{cols} images, but these are {}×{}",
                self.rows, self.cols
            )));
        }
        Ok(())
    }

    /// A copy of the first `n` items (all of them if `n >= count`), e.g. for quick tests.
    ///
    /// ```
    /// use wgpu_gan::data::mnist::Mnist;
    /// let m = Mnist { images: vec![1.0, 2.0, 3.0], labels: vec![4, 5, 6], count: 3, rows: 1, cols: 1 };
    /// let two = m.take(2);
    /// assert_eq!((two.count, two.images, two.labels), (2, vec![1.0, 2.0], vec![4, 5]));
    /// assert_eq!(m.take(10), m);                               // all of them
    /// ```
    pub fn take(&self, n: usize) -> Mnist {
        let n = n.min(self.count);
        Mnist {
            images: self.images[..n * self.dim()].to_vec(),
            labels: self.labels[..n].to_vec(),
            count: n,
            rows: self.rows,
            cols: self.cols,
        }
    }
}

const WHERE_HINT: &str = "pass the directory holding the MNIST IDX files with the `--mnist-dir` flag \
                          or set the `MNIST_DIR` environment variable";

/// Chooses the directory to read MNIST from: `flag` (the `--mnist-dir` value) when given,
/// otherwise the `MNIST_DIR` environment variable; with neither, an [`Error::Data`] that names both.
///
/// ```
/// use std::path::{Path, PathBuf};
/// use wgpu_gan::data::mnist::resolve_dir;
/// assert_eq!(resolve_dir(Some(Path::new("/data/mnist")))?, PathBuf::from("/data/mnist"));
/// match std::env::var_os("MNIST_DIR") {
///     Some(v) if !v.is_empty() => assert_eq!(resolve_dir(None)?, PathBuf::from(v)),
///     _ => assert!(resolve_dir(None).unwrap_err().to_string().contains("--mnist-dir")),
/// }
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn resolve_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os("MNIST_DIR") {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => Err(Error::Data(format!("no MNIST directory given: {WHERE_HINT}"))),
    }
}

/// `dir/name.gz` if it exists, else `dir/name`, else an error listing both.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(Error::Data(format!(
        "MNIST file not found in {}: looked for {name}.gz and {name}; {WHERE_HINT}",
        dir.display()
    )))
}

/// Largest IDX file (header and data) this reader accepts: 1 GiB, twenty times the full MNIST
/// training set. A header claiming more is refused before anything is decompressed.
///
/// ```
/// use wgpu_gan::data::mnist::{Mnist, Split, IMAGES_MAGIC, MAX_IDX_BYTES};
/// # let dir = std::env::temp_dir().join(format!("max_idx_bytes_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// // a 16-byte file whose header claims 2^20 images of 32 × 32 pixels
/// let head: Vec<u8> = [IMAGES_MAGIC, 1 << 20, 32, 32].iter().flat_map(|v| v.to_be_bytes()).collect();
/// assert!(16 + (1 << 20) * 32 * 32 > MAX_IDX_BYTES);
/// std::fs::write(dir.join("train-images-idx3-ubyte"), head)?;
/// std::fs::write(dir.join("train-labels-idx1-ubyte"), [0u8; 8])?;
/// let err = Mnist::load(&dir, Split::Train).unwrap_err().to_string();
/// assert!(err.contains(&format!("more than the {MAX_IDX_BYTES} bytes")), "{err}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const MAX_IDX_BYTES: usize = 1 << 30;
/// Largest image side accepted in a header.
///
/// ```
/// use wgpu_gan::data::mnist::{Mnist, Split, IMAGES_MAGIC, MAX_SIDE};
/// # let dir = std::env::temp_dir().join(format!("max_side_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let head: Vec<u8> = [IMAGES_MAGIC, 1, MAX_SIDE as u32 + 1, 1].iter().flat_map(|v| v.to_be_bytes()).collect();
/// std::fs::write(dir.join("train-images-idx3-ubyte"), head)?;
/// std::fs::write(dir.join("train-labels-idx1-ubyte"), [0u8; 8])?;
/// let err = Mnist::load(&dir, Split::Train).unwrap_err().to_string();
/// assert!(err.contains(&format!("larger than the {MAX_SIDE}×{MAX_SIDE}")), "{err}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const MAX_SIDE: usize = 4096;

/// The file's bytes (gunzipped when its name ends in `.gz`, any number of gzip members), read as a
/// stream: the header first, then exactly the size it declares and one byte more, so that a
/// decompression bomb or a lying header never makes it read or allocate more than the header's
/// claim (itself bounded by [`MAX_IDX_BYTES`]), and anything after the data (trailing bytes, or
/// junk after the last gzip member) is seen and reported by the parser.
fn read_idx(path: &Path, header: usize, magic: u32) -> Result<Vec<u8>> {
    let what = path.display();
    let file = std::fs::File::open(path).map_err(|e| Error::Data(format!("{what}: cannot read: {e}")))?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let mut stream: Box<dyn Read> = if gz { Box::new(MultiGzDecoder::new(std::io::BufReader::new(file))) } else { Box::new(std::io::BufReader::new(file)) };
    let io = |e: std::io::Error| {
        if gz {
            Error::Data(format!("{what}: not a valid gzip stream ({e}); expected a gzip-compressed IDX file"))
        } else {
            Error::Data(format!("{what}: cannot read: {e}"))
        }
    };
    let mut head = Vec::with_capacity(header);
    (&mut stream).take(header as u64).read_to_end(&mut head).map_err(io)?;
    if head.len() < header || be_u32(&head, 0) != magic {
        return Ok(head); // the parser reports the short header or the wrong magic number
    }
    let dims: Vec<usize> = head[4..].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    if dims.len() > 1 && dims[1..].iter().any(|&d| d > MAX_SIDE) {
        return Err(Error::Data(format!("{what}: header claims images of {}×{} pixels, larger than the {MAX_SIDE}×{MAX_SIDE} this reader accepts", dims[1], dims[2])));
    }
    let body = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).filter(|&b| b <= MAX_IDX_BYTES - header).ok_or_else(|| {
        Error::Data(format!("{what}: header claims {} items of {:?} values, more than the {MAX_IDX_BYTES} bytes this reader accepts", dims[0], &dims[1..]))
    })?;
    let mut out = head;
    (&mut stream).take(body as u64 + 1).read_to_end(&mut out).map_err(io)?;
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn magic_hint(found: u32, expected: u32) -> &'static str {
    match (found, expected) {
        (LABELS_MAGIC, IMAGES_MAGIC) => "; is this the labels file?",
        (IMAGES_MAGIC, LABELS_MAGIC) => "; is this the images file?",
        (0x1f8b_0000..=0x1f8b_ffff, _) => "; it looks gzip-compressed, name it with a .gz suffix",
        _ => "",
    }
}

/// Checks the first four bytes (when there are four) against `expected`; a shorter input is left
/// to the caller's header-length check.
fn check_magic(bytes: &[u8], expected: u32, kind: &str, what: &str) -> Result<()> {
    if bytes.len() < 4 {
        return Ok(());
    }
    let magic = be_u32(bytes, 0);
    if magic != expected {
        return Err(Error::Data(format!(
            "{what}: magic number 0x{magic:08x}, expected 0x{expected:08x} ({kind}){}",
            magic_hint(magic, expected)
        )));
    }
    Ok(())
}

/// Parses an (already decompressed) IDX image file. `what` names the source in error messages.
/// Returns `(count, rows, cols, pixels)` with `pixels.len() == count · rows · cols`.
///
/// ```
/// use wgpu_gan::data::mnist::{parse_images, IMAGES_MAGIC};
/// let head: Vec<u8> = [IMAGES_MAGIC, 2, 1, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
/// let (n, rows, cols, px) = parse_images(&[&head[..], &[1, 2, 3, 4, 5, 6]].concat(), "x")?;
/// assert_eq!((n, rows, cols, px), (2, 1, 3, vec![1, 2, 3, 4, 5, 6]));
/// let err = parse_images(&[&head[..], &[1, 2, 3]].concat(), "short.idx").unwrap_err();
/// assert!(err.to_string().contains("short.idx: truncated"));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn parse_images(bytes: &[u8], what: &str) -> Result<(usize, usize, usize, Vec<u8>)> {
    check_magic(bytes, IMAGES_MAGIC, "an IDX image file", what)?;
    if bytes.len() < 16 {
        return Err(Error::Data(format!(
            "{what}: only {} bytes, expected at least the 16-byte IDX image header \
             (magic 0x{IMAGES_MAGIC:08x}, count, rows, cols)",
            bytes.len()
        )));
    }
    let count = be_u32(bytes, 4) as usize;
    let rows = be_u32(bytes, 8) as usize;
    let cols = be_u32(bytes, 12) as usize;
    if rows == 0 || cols == 0 {
        return Err(Error::Data(format!(
            "{what}: image size {rows}×{cols}, expected non-zero dimensions (28×28 for MNIST)"
        )));
    }
    let body = &bytes[16..];
    let expected = count.checked_mul(rows).and_then(|v| v.checked_mul(cols)).ok_or_else(|| {
        Error::Data(format!("{what}: header claims {count} images of {rows}×{cols} pixels, which is absurdly large"))
    })?;
    if body.len() > expected {
        return Err(Error::Data(format!(
            "{what}: trailing data: {} or more bytes of pixel data after the header (a stream is read \
             only one byte past the declared size), expected exactly {expected} ({count} images × {rows} rows × {cols} cols)",
            body.len()
        )));
    }
    if body.len() < expected {
        return Err(Error::Data(format!(
            "{what}: truncated: {} bytes of pixel data after the header, expected exactly {expected} \
             ({count} images × {rows} rows × {cols} cols)",
            body.len()
        )));
    }
    Ok((count, rows, cols, body.to_vec()))
}

/// Parses an (already decompressed) IDX label file; every label must be a digit 0..=9.
/// `what` names the source in error messages.
///
/// ```
/// use wgpu_gan::data::mnist::{parse_labels, LABELS_MAGIC};
/// let head: Vec<u8> = [LABELS_MAGIC, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
/// assert_eq!(parse_labels(&[&head[..], &[0, 9, 4]].concat(), "y")?, [0, 9, 4]);
/// assert!(parse_labels(&[&head[..], &[0, 10, 4]].concat(), "y").is_err());   // 10 is no digit
/// assert!(parse_labels(&[&head[..], &[0, 9]].concat(), "y").is_err());       // 2 labels, 3 claimed
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn parse_labels(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    check_magic(bytes, LABELS_MAGIC, "an IDX label file", what)?;
    if bytes.len() < 8 {
        return Err(Error::Data(format!(
            "{what}: only {} bytes, expected at least the 8-byte IDX label header (magic 0x{LABELS_MAGIC:08x}, count)",
            bytes.len()
        )));
    }
    let count = be_u32(bytes, 4) as usize;
    let body = &bytes[8..];
    if body.len() > count {
        return Err(Error::Data(format!("{what}: trailing data: {} or more label bytes after the header, expected exactly {count}", body.len())));
    }
    if body.len() < count {
        return Err(Error::Data(format!(
            "{what}: truncated: {} label bytes after the header, expected exactly {count} (the count in the header)",
            body.len()
        )));
    }
    if let Some((i, &l)) = body.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(Error::Data(format!("{what}: label {l} at index {i}, expected a digit 0..=9")));
    }
    Ok(body.to_vec())
}
