//! Checkpoints in the safetensors format.
//!
//! A checkpoint is a list of named tensors (f32 weights and optimiser state, i64 / u32 counters
//! and RNG state) plus string metadata. On disk it is a plain safetensors file (little-endian,
//! row-major, dtypes `F32`, `I64`, `U32`), so other tools can open it; the metadata key `format`
//! holds [`FORMAT`] so that a foreign safetensors file is refused with a clear message instead of
//! being misread.
//!
//! [`Checkpoint::save`] is atomic: it writes `<path>.tmp` in the same directory, flushes and
//! `fsync`s it, then renames it over `<path>`. A crash mid-write leaves at worst a stray `.tmp`,
//! never a half-written file under the final name, and the previous checkpoint stays intact until
//! the rename.
//!
//! [`Checkpoint::load`] checks everything before trusting it: size, header length, the
//! safetensors header and offsets, the format tag and the dtypes. The typed getters
//! ([`Checkpoint::f32`] …) then check name, dtype and shape, so that loading a checkpoint into a
//! model of another size fails with a message naming the tensor.

use crate::error::{Error, Result};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Value of `metadata["format"]` in every checkpoint this crate writes.
///
/// ```
/// use wgpu_gan::checkpoint::{Checkpoint, FORMAT};
/// # let dir = std::env::temp_dir().join(format!("format_{}", std::process::id()));
/// assert_eq!(Checkpoint::new().meta("format")?, FORMAT);
/// let mut foreign = Checkpoint::new();
/// foreign.set_meta("format", "someone-else-v3");
/// foreign.save(&dir.join("f.safetensors"))?;
/// assert!(Checkpoint::load(&dir.join("f.safetensors")).is_err()); // not this crate's: refused
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub const FORMAT: &str = "wgpu-gan-checkpoint-v1";

/// The elements of one tensor.
///
/// ```
/// use wgpu_gan::checkpoint::{Checkpoint, Data};
/// let mut ck = Checkpoint::new();
/// ck.push_u32("rng", &[2], &[7, 8]);
/// assert_eq!(ck.entries[0].data, Data::U32(vec![7, 8]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
    U32(Vec<u32>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U32(v) => v.len(),
        }
    }

    fn dtype(&self) -> Dtype {
        match self {
            Data::F32(_) => Dtype::F32,
            Data::I64(_) => Dtype::I64,
            Data::U32(_) => Dtype::U32,
        }
    }

    fn le_bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// One named tensor.
///
/// ```
/// use wgpu_gan::checkpoint::{Checkpoint, Data, Entry};
/// let mut ck = Checkpoint::new();
/// ck.push_f32("w", &[2, 1], &[0.5, -0.5]);
/// assert_eq!(ck.entries, [Entry { name: "w".into(), shape: vec![2, 1], data: Data::F32(vec![0.5, -0.5]) }]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Data,
}

/// Named tensors plus string metadata. `metadata["format"]` is [`FORMAT`].
///
/// After [`Checkpoint::load`] the entries are in file order (safetensors orders them by dtype,
/// then name), not in the order they were pushed; look tensors up by name.
///
/// ```
/// use wgpu_gan::checkpoint::Checkpoint;
/// # let dir = std::env::temp_dir().join(format!("checkpoint_{}", std::process::id()));
/// let mut ck = Checkpoint::new();
/// ck.push_f32("g.0.weight", &[2, 2], &[1.0, 2.0, 3.0, 4.0]);
/// ck.push_i64("step", &[1], &[500]);
/// ck.set_meta("model", "r1");
/// ck.save(&dir.join("ck.safetensors"))?;
/// let back = Checkpoint::load(&dir.join("ck.safetensors"))?;
/// assert_eq!(back.f32("g.0.weight", &[2, 2])?, [1.0, 2.0, 3.0, 4.0]);
/// assert_eq!((back.i64("step", &[1])?, back.meta("model")?), (&[500][..], "r1"));
/// assert!(back.f32("g.0.weight", &[4]).is_err());        // another shape: refused
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub entries: Vec<Entry>,
    pub metadata: BTreeMap<String, String>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Self::new()
    }
}

fn shape_len(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn ck<T>(msg: String) -> Result<T> {
    Err(Error::Checkpoint(msg))
}

/// Writes `bytes` to `path` atomically: `<path>.tmp` in the same directory (created if needed),
/// flushed and synced, then renamed over `path`, then the directory synced where possible. A crash
/// leaves the old file or the new one, never half of either. `what` names the file in errors.
/// Every file this crate writes (checkpoints, pictures, logs) goes through here.
///
/// ```
/// use wgpu_gan::checkpoint::write_atomic;
/// # let dir = std::env::temp_dir().join(format!("write_atomic_{}", std::process::id()));
/// let path = dir.join("logs/loss.csv");                  // the directory is created
/// write_atomic(&path, b"step,loss\n", "loss log")?;
/// write_atomic(&path, b"step,loss\n0,0.7\n", "loss log")?; // replaced whole
/// assert_eq!(std::fs::read_to_string(&path)?, "step,loss\n0,0.7\n");
/// assert!(!dir.join("logs/loss.csv.tmp").exists());
/// assert!(write_atomic(std::path::Path::new("/"), b"", "root").is_err()); // not a file path
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let Some(file_name) = path.file_name() else {
        return ck(format!("{}: not a file path", path.display()));
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        fs::create_dir_all(dir).map_err(|e| io_err(e, &format!("creating {what} directory"), dir))?;
    }
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(".tmp");
    let tmp: PathBuf = path.with_file_name(tmp_name);

    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e, &format!("writing {what}"), &tmp));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e, &format!("renaming {} over {what}", tmp.display()), path));
    }
    // Make the rename itself durable where directories can be synced (best effort).
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir.unwrap_or(Path::new("."))) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn io_err(e: std::io::Error, what: &str, path: &Path) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{what} {}: {e}", path.display()),
    ))
}

fn dtype_name(d: &Data) -> &'static str {
    match d {
        Data::F32(_) => "F32",
        Data::I64(_) => "I64",
        Data::U32(_) => "U32",
    }
}

fn decode<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunk of N bytes")))
        .collect()
}

impl Checkpoint {
    /// An empty checkpoint whose metadata already holds `format` = [`FORMAT`].
    ///
    /// ```
    /// use wgpu_gan::checkpoint::{Checkpoint, FORMAT};
    /// let ck = Checkpoint::new();
    /// assert!(ck.entries.is_empty());
    /// assert_eq!(ck.meta("format")?, FORMAT);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new() -> Checkpoint {
        let mut metadata = BTreeMap::new();
        metadata.insert("format".to_string(), FORMAT.to_string());
        Checkpoint {
            entries: Vec::new(),
            metadata,
        }
    }

    fn push(&mut self, name: &str, shape: &[usize], data: Data) {
        assert_eq!(
            shape_len(shape),
            data.len(),
            "checkpoint tensor {name}: shape {shape:?} holds {} elements, got {}",
            shape_len(shape),
            data.len()
        );
        assert!(
            name != "__metadata__",
            "checkpoint tensor name __metadata__ is reserved by safetensors"
        );
        assert!(
            self.entries.iter().all(|e| e.name != name),
            "checkpoint tensor {name} pushed twice"
        );
        self.entries.push(Entry {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        });
    }

    /// Adds an f32 tensor. Panics if the shape's product differs from `v.len()` or the name is
    /// already used (programming errors).
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("w", &[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(ck.f32("w", &[2, 2])?, [1.0, 2.0, 3.0, 4.0]);
    /// let twice = std::panic::catch_unwind(move || ck.push_f32("w", &[1], &[0.0]));
    /// assert!(twice.is_err());                                 // one tensor per name
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn push_f32(&mut self, name: &str, shape: &[usize], v: &[f32]) {
        self.push(name, shape, Data::F32(v.to_vec()));
    }

    /// Adds an i64 tensor. Panics like [`Checkpoint::push_f32`].
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_i64("step", &[1], &[-3]);
    /// assert_eq!(ck.i64("step", &[1])?, [-3]);
    /// assert!(ck.f32("step", &[1]).is_err());                  // not an f32 tensor
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn push_i64(&mut self, name: &str, shape: &[usize], v: &[i64]) {
        self.push(name, shape, Data::I64(v.to_vec()));
    }

    /// Adds a u32 tensor. Panics like [`Checkpoint::push_f32`].
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_u32("rng", &[2, 2], &[1, 2, 3, 4]);
    /// assert_eq!(ck.u32("rng", &[2, 2])?, [1, 2, 3, 4]);
    /// assert!(std::panic::catch_unwind(move || ck.push_u32("s", &[3], &[1])).is_err()); // 3 ≠ 1 value
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn push_u32(&mut self, name: &str, shape: &[usize], v: &[u32]) {
        self.push(name, shape, Data::U32(v.to_vec()));
    }

    /// The safetensors bytes of this checkpoint.
    ///
    /// ```
    /// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict};
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("w", &[2], &[0.5, -1.0]);
    /// let bytes = ck.to_bytes()?;
    /// let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize; // header length
    /// assert_eq!(bytes.len(), 8 + n + 2 * 4);                  // then the two f32
    /// assert_eq!(StateDict::from_bytes(&bytes).unwrap().tensors["w"].values, [0.5, -1.0]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<Vec<u8>> = self.entries.iter().map(|e| e.data.le_bytes()).collect();
        let mut views = Vec::with_capacity(self.entries.len());
        for (e, b) in self.entries.iter().zip(&bytes) {
            let v = TensorView::new(e.data.dtype(), e.shape.clone(), b)
                .map_err(|err| Error::Checkpoint(format!("tensor {}: {err}", e.name)))?;
            views.push((e.name.clone(), v));
        }
        let mut meta: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        meta.entry("format".to_string())
            .or_insert_with(|| FORMAT.to_string());
        safetensors::serialize(views, Some(meta))
            .map_err(|e| Error::Checkpoint(format!("cannot serialise: {e}")))
    }

    /// Writes the checkpoint to `path` atomically (`<path>.tmp`, flush, sync, rename), creating
    /// the parent directory if needed. An existing file at `path` is replaced.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// # let dir = std::env::temp_dir().join(format!("checkpoint_save_{}", std::process::id()));
    /// let path = dir.join("run/ck.safetensors");               // run/ is created
    /// let mut ck = Checkpoint::new();
    /// ck.push_i64("step", &[1], &[1]);
    /// ck.save(&path)?;
    /// ck.set_meta("note", "second");
    /// ck.save(&path)?;                                         // replaces the first
    /// assert_eq!(Checkpoint::load(&path)?, ck);
    /// assert!(!dir.join("run/ck.safetensors.tmp").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes().map_err(|e| match e {
            Error::Checkpoint(m) => Error::Checkpoint(format!("{}: {m}", path.display())),
            e => e,
        })?;
        write_atomic(path, &bytes, "checkpoint")
    }

    /// Reads a checkpoint written by [`Checkpoint::save`], refusing files that are missing,
    /// truncated, not safetensors, not tagged with [`FORMAT`], or hold other dtypes than
    /// F32 / I64 / U32.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// # let dir = std::env::temp_dir().join(format!("checkpoint_load_{}", std::process::id()));
    /// let path = dir.join("ck.safetensors");
    /// let mut ck = Checkpoint::new();
    /// ck.push_u32("rng", &[1], &[9]);
    /// ck.save(&path)?;
    /// assert_eq!(Checkpoint::load(&path)?.u32("rng", &[1])?, [9]);
    /// let bytes = std::fs::read(&path)?;
    /// std::fs::write(&path, &bytes[..bytes.len() - 1])?;       // one byte short
    /// assert!(Checkpoint::load(&path).is_err());
    /// assert!(Checkpoint::load(&dir.join("missing.safetensors")).is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let p = path.display();
        let buf = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return ck(format!("{p}: no such checkpoint file"));
            }
            Err(e) => return Err(io_err(e, "reading checkpoint", path)),
        };
        let len = buf.len();
        if len < 8 {
            return ck(format!(
                "{p}: {len} bytes is too short to be a safetensors file (truncated or not a safetensors file)"
            ));
        }
        let n = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        if n > (len - 8) as u64 {
            return ck(format!(
                "{p}: header length {n} reaches beyond the end of the file ({len} bytes): \
                 truncated or not a safetensors file"
            ));
        }
        let (n, header) = SafeTensors::read_metadata(&buf).map_err(|e| {
            let why = match e {
                safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                    "the data section does not match the header".to_string()
                }
                e => e.to_string(),
            };
            Error::Checkpoint(format!("{p}: truncated or not a safetensors file ({why})"))
        })?;

        let metadata: BTreeMap<String, String> = header
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match metadata.get("format") {
            Some(f) if f == FORMAT => {}
            Some(f) => {
                return ck(format!(
                    "{p}: not a wgpu-gan checkpoint (format {f:?}, expected {FORMAT:?})"
                ))
            }
            None => {
                return ck(format!(
                    "{p}: not a wgpu-gan checkpoint (format metadata missing)"
                ))
            }
        }

        let data = &buf[8 + n..];
        let mut entries = Vec::new();
        for name in header.offset_keys() {
            let info = header.info(&name).expect("name from offset_keys");
            let (s, e) = info.data_offsets;
            let bytes = &data[s..e];
            let d = match info.dtype {
                Dtype::F32 => Data::F32(decode(bytes, f32::from_le_bytes)),
                Dtype::I64 => Data::I64(decode(bytes, i64::from_le_bytes)),
                Dtype::U32 => Data::U32(decode(bytes, u32::from_le_bytes)),
                other => return ck(format!(
                    "{p}: tensor {name} has unsupported dtype {other:?} (F32, I64 and U32 only)"
                )),
            };
            entries.push(Entry {
                name,
                shape: info.shape.clone(),
                data: d,
            });
        }
        Ok(Checkpoint { entries, metadata })
    }

    fn get(&self, name: &str, shape: &[usize], want: &str) -> Result<&Entry> {
        let Some(e) = self.entries.iter().find(|e| e.name == name) else {
            let mut names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
            names.sort_unstable();
            let shown = if names.len() > 12 {
                format!("{}, … ({} in all)", names[..12].join(", "), names.len())
            } else {
                names.join(", ")
            };
            return ck(format!(
                "tensor {name} is missing from the checkpoint (it holds: {shown})"
            ));
        };
        if dtype_name(&e.data) != want {
            return ck(format!(
                "tensor {name} has dtype {}, this model expects {want}",
                dtype_name(&e.data)
            ));
        }
        if e.shape != shape {
            return ck(format!(
                "tensor {name} has shape {:?}, this model expects {shape:?}",
                e.shape
            ));
        }
        Ok(e)
    }

    /// The f32 tensor `name`, which must have exactly `shape`.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("b", &[2], &[0.1, 0.2]);
    /// assert_eq!(ck.f32("b", &[2])?, [0.1, 0.2]);
    /// let err = ck.f32("b", &[3]).unwrap_err().to_string();
    /// assert!(err.contains("tensor b has shape [2]"));         // named, with the shape it has
    /// assert!(ck.f32("w", &[2]).is_err());                     // missing
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        match &self.get(name, shape, "F32")?.data {
            Data::F32(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    /// The f32 tensor `name` of `shape`, refused when it holds a NaN or an infinity: weights from
    /// a diverged run (or a damaged file) would train or score garbage. (The container itself
    /// stores any bits; this is for model weights and optimizer state.)
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("w", &[3], &[1.0, f32::NAN, 2.0]);
    /// assert!(ck.f32("w", &[3]).is_ok());                      // stored and read as any bits
    /// assert!(ck.f32_finite("w", &[3]).unwrap_err().to_string().contains("index 1"));
    /// ck.push_f32("b", &[1], &[0.5]);
    /// assert_eq!(ck.f32_finite("b", &[1])?, [0.5]);
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn f32_finite(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let v = self.f32(name, shape)?;
        match v.iter().position(|x| !x.is_finite()) {
            Some(i) => Err(Error::NonFinite(format!("checkpoint tensor {name} holds a NaN or infinite value at index {i}"))),
            None => Ok(v),
        }
    }

    /// The first f32 tensor holding a NaN or an infinity, and the index of that value.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("a", &[2], &[0.0, 1.0]);
    /// assert_eq!(ck.first_non_finite(), None);
    /// ck.push_f32("b", &[3], &[0.0, 1.0, f32::INFINITY]);
    /// assert_eq!(ck.first_non_finite(), Some(("b", 2)));
    /// ```
    pub fn first_non_finite(&self) -> Option<(&str, usize)> {
        self.entries.iter().find_map(|e| match &e.data {
            Data::F32(v) => v.iter().position(|x| !x.is_finite()).map(|i| (e.name.as_str(), i)),
            _ => None,
        })
    }

    /// The i64 tensor `name`, which must have exactly `shape`.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_i64("step", &[2], &[7, -1]);
    /// assert_eq!(ck.i64("step", &[2])?, [7, -1]);
    /// assert!(ck.i64("step", &[1, 2]).is_err());               // another shape
    /// assert!(ck.u32("step", &[2]).is_err());                  // another dtype
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn i64(&self, name: &str, shape: &[usize]) -> Result<&[i64]> {
        match &self.get(name, shape, "I64")?.data {
            Data::I64(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    /// The u32 tensor `name`, which must have exactly `shape`.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.push_u32("rng", &[1, 2], &[5, 6]);
    /// assert_eq!(ck.u32("rng", &[1, 2])?, [5, 6]);
    /// let err = ck.i64("rng", &[1, 2]).unwrap_err().to_string();
    /// assert!(err.contains("dtype U32"));                      // another dtype, named
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn u32(&self, name: &str, shape: &[usize]) -> Result<&[u32]> {
        match &self.get(name, shape, "U32")?.data {
            Data::U32(v) => Ok(v),
            _ => unreachable!("dtype checked"),
        }
    }

    /// The metadata value under `key`.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.set_meta("model", "r1");
    /// assert_eq!(ck.meta("model")?, "r1");
    /// assert!(ck.meta("seed").unwrap_err().to_string().contains("metadata key seed"));
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.metadata.get(key).map(String::as_str).ok_or_else(|| {
            Error::Checkpoint(format!("metadata key {key} is missing from the checkpoint"))
        })
    }

    /// Sets (or replaces) the metadata value under `key`.
    ///
    /// ```
    /// use wgpu_gan::checkpoint::Checkpoint;
    /// let mut ck = Checkpoint::new();
    /// ck.set_meta("step", 500);                                // anything ToString
    /// ck.set_meta("step", 501);                                // replaced
    /// assert_eq!(ck.meta("step")?, "501");
    /// assert_eq!(ck.metadata.len(), 2);                        // "step" and "format"
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_meta(&mut self, key: &str, value: impl ToString) {
        self.metadata.insert(key.to_string(), value.to_string());
    }
}

/// Creates the output directory and proves it writable (a probe file written and removed), so that
/// a bad `--out` is reported before any training rather than after it, naming the path.
///
/// ```
/// use wgpu_gan::checkpoint::prepare_out_dir;
/// # let dir = std::env::temp_dir().join(format!("prepare_out_dir_{}", std::process::id()));
/// prepare_out_dir(&dir.join("run/1"))?;
/// assert!(dir.join("run/1").is_dir());
/// assert_eq!(std::fs::read_dir(dir.join("run/1"))?.count(), 0);   // the probe is gone
/// std::fs::write(dir.join("file"), "")?;
/// let err = prepare_out_dir(&dir.join("file/out")).unwrap_err().to_string();
/// assert!(err.contains("file/out"));                               // refused, named
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn prepare_out_dir(dir: &std::path::Path) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| Error::Io(std::io::Error::new(e.kind(), format!("output directory {}: {what}: {e}", dir.display())));
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    let probe = dir.join(format!(".wgpu-gan-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| fail("cannot write into it", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot remove a file from it", e))
}
