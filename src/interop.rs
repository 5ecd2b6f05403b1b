//! PyTorch interop: weights-only state dicts.
//!
//! A PyTorch user saves a model with `safetensors.torch.save_file(model.state_dict(), path)`
//! (or several models, their keys prefixed: `{"G." + k: v}`). [`StateDict::load`] reads any such
//! file, whatever wrote it, converting F16, BF16 and F64 tensors to f32; [`StateDict::net`] takes a
//! network's parameters and batch-norm running statistics out of it by PyTorch's `nn.Sequential`
//! names (`3.weight`, `4.running_mean`; see [`crate::nn::NetSpec::param_names`]), and lists every
//! tensor that is missing or has the wrong shape in one error. Tensors the network does not use
//! (`num_batches_tracked`, or another model's) are left alone.
//!
//! The other direction, this crate's checkpoints loaded strictly into PyTorch with the Adam state
//! in `torch.optim.Adam`'s layout, is `scripts/to_pytorch.py` (and `scripts/from_pytorch.py` back).

use crate::error::{Error, Result};
use crate::nn::{NetSpec, Weights};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::Path;

/// One tensor of a state dict, as f32, with the dtype it was stored in.
///
/// ```
/// use safetensors::{tensor::TensorView, Dtype};
/// use wgpu_gan::interop::StateDict;
/// let half: Vec<u8> = [0x3c00u16, 0xc000].iter().flat_map(|h| h.to_le_bytes()).collect(); // 1, −2
/// let view = TensorView::new(Dtype::F16, vec![2], &half).unwrap();
/// let bytes = safetensors::serialize([("w", view)], None).unwrap();
/// let t = &StateDict::from_bytes(&bytes).unwrap().tensors["w"];
/// assert_eq!((t.shape.as_slice(), t.values.as_slice(), t.stored_as), (&[2][..], &[1.0, -2.0][..], Dtype::F16));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    pub stored_as: Dtype,
}

/// A state dict: tensor name → tensor (floating-point tensors only; integer ones such as
/// `num_batches_tracked` are skipped).
///
/// ```
/// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict, nn::{Act, NetSpec}};
/// let mut ck = Checkpoint::new();                        // any safetensors writer will do
/// ck.push_f32("D.0.weight", &[1, 2], &[0.5, -0.5]);
/// ck.push_f32("D.0.bias", &[1], &[0.1]);
/// ck.push_i64("D.num_batches_tracked", &[1], &[3]);
/// let sd = StateDict::from_bytes(&ck.to_bytes()?).unwrap();
/// assert_eq!(sd.tensors.len(), 2);                       // integer tensors are skipped
/// let (params, running) = sd.net("D.", &NetSpec::mlp(&[2, 1], Act::Relu, None))?;
/// assert_eq!((params, running.len()), (vec![vec![0.5, -0.5], vec![0.1]], 0));
/// assert!(sd.net("D.", &NetSpec::mlp(&[3, 1], Act::Relu, None)).is_err()); // 0.weight is not [1, 3]
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict {
    pub tensors: BTreeMap<String, Tensor>,
}

/// IEEE half precision to f32 (every f16 value is exact in f32).
///
/// ```
/// use wgpu_gan::interop::f16_to_f32;
/// assert_eq!((f16_to_f32(0x3c00), f16_to_f32(0xc000)), (1.0, -2.0));
/// assert_eq!(f16_to_f32(0x7bff), 65504.0);                // the largest finite half
/// assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));          // the smallest subnormal
/// assert!(f16_to_f32(0xfc00) == f32::NEG_INFINITY && f16_to_f32(0x7e00).is_nan());
/// ```
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: shift the fraction up until its leading one is the implicit bit.
            let shift = f.leading_zeros() - 21;
            sign | ((127 - 15 + 1 - shift) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 to f32: the top half of an f32.
///
/// ```
/// use wgpu_gan::interop::bf16_to_f32;
/// assert_eq!(bf16_to_f32(0x3f80), 1.0);
/// assert_eq!(bf16_to_f32(0xc0a0), -5.0);
/// assert_eq!(bf16_to_f32((0.15625f32.to_bits() >> 16) as u16), 0.15625); // low half zero: exact
/// ```
pub fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

impl StateDict {
    /// Reads a safetensors file written by anyone (PyTorch's `save_file`, this crate, ...).
    ///
    /// ```
    /// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict};
    /// let dir = std::env::temp_dir().join(format!("state_dict_load_{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("w", &[2], &[1.0, 2.0]);
    /// ck.save(&dir.join("sd.safetensors"))?;
    /// assert_eq!(StateDict::load(&dir.join("sd.safetensors"))?.tensors["w"].values, [1.0, 2.0]);
    /// assert!(StateDict::load(&dir.join("missing.safetensors")).is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<StateDict> {
        let p = path.display();
        let bytes = std::fs::read(path).map_err(|e| Error::Checkpoint(format!("{p}: {e}")))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Checkpoint(format!("{p}: {e}")))
    }

    /// Parses safetensors bytes; the error says why they are not a state dict.
    ///
    /// ```
    /// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict};
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("0.bias", &[3], &[0.5, 0.0, -1.0]);
    /// let sd = StateDict::from_bytes(&ck.to_bytes()?).unwrap();
    /// assert_eq!(sd.tensors["0.bias"].shape, [3]);
    /// assert!(StateDict::from_bytes(b"not safetensors").is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<StateDict, String> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                Dtype::F16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
                Dtype::BF16 => data.chunks_exact(2).map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
                Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect(),
                // Integer bookkeeping (num_batches_tracked, step counters): not weights.
                Dtype::I64 | Dtype::I32 | Dtype::U32 | Dtype::U64 | Dtype::I16 | Dtype::U16 | Dtype::I8 | Dtype::U8 | Dtype::BOOL => continue,
                other => return Err(format!("tensor {name} has dtype {other:?}, which cannot be read as weights")),
            };
            tensors.insert(name, Tensor { shape: view.shape().to_vec(), values, stored_as: view.dtype() });
        }
        Ok(StateDict { tensors })
    }

    /// The parameters (in [`NetSpec::param_names`] order) and running statistics (in
    /// [`NetSpec::running`] order) of `spec`, from the tensors named `{prefix}{index}.{name}`.
    /// Every missing or mis-shaped tensor is listed in the error; non-finite values are refused.
    ///
    /// ```
    /// use wgpu_gan::{checkpoint::Checkpoint, interop::StateDict, nn::{Act, NetSpec}};
    /// let mut ck = Checkpoint::new();
    /// ck.push_f32("G.0.weight", &[1, 2], &[0.5, -0.5]);
    /// ck.push_f32("G.0.bias", &[1], &[0.1]);
    /// let sd = StateDict::from_bytes(&ck.to_bytes()?).unwrap();
    /// let (params, _) = sd.net("G.", &NetSpec::mlp(&[2, 1], Act::Relu, None))?;
    /// assert_eq!(params, [vec![0.5, -0.5], vec![0.1]]);
    /// assert!(sd.net("D.", &NetSpec::mlp(&[2, 1], Act::Relu, None)).is_err()); // no D. tensors
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn net(&self, prefix: &str, spec: &NetSpec) -> Result<Weights> {
        spec.widths()?;
        let mut problems = Vec::new();
        let mut take = |name: String, shape: &[usize]| -> Vec<f32> {
            match self.tensors.get(&name) {
                None => problems.push(format!("{name} {shape:?} is missing")),
                Some(t) if t.shape != shape => problems.push(format!("{name} has shape {:?}, the model needs {shape:?}", t.shape)),
                Some(t) if t.values.iter().any(|v| !v.is_finite()) => problems.push(format!("{name} holds NaN or infinite values")),
                Some(t) => return t.values.clone(),
            }
            Vec::new()
        };
        let params: Vec<Vec<f32>> = spec.param_names().into_iter().map(|(n, s)| take(format!("{prefix}{n}"), &s)).collect();
        let running: Vec<Vec<f32>> = spec
            .running()
            .into_iter()
            .map(|(i, _, parts)| parts.iter().flat_map(|(part, len)| take(format!("{prefix}{i}.{part}"), &[*len])).collect())
            .collect();
        if problems.is_empty() {
            return Ok((params, running));
        }
        let mut known: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        known.truncate(16);
        Err(Error::Checkpoint(format!(
            "the state dict does not fit this model ({} problem{}): {}. It holds: {}{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("; "),
            known.join(", "),
            if self.tensors.len() > 16 { ", …" } else { "" }
        )))
    }
}
