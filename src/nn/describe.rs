//! Named, versioned model descriptions: a network's architecture as a small JSON document that a
//! checkpoint carries in its metadata, so that loading can say exactly what differs, and that a
//! script (or another program) can rebuild the model from.
//!
//! ```json
//! { "format": "wgpu-gan/sequential", "version": 1,
//!   "layers": [ { "kind": "Linear", "in_features": 100, "out_features": 6272, "bias": true },
//!               { "kind": "BatchNorm1d", "num_features": 6272, "positions": 1, "eps": 1e-5, "momentum": 0.1 },
//!               { "kind": "ReLU" }, ... ] }
//! ```
//!
//! Field names are PyTorch's where PyTorch has one. Convolutions also record `input_size`
//! (PyTorch's modules do not fix it; this crate's layers do). Each layer writes its own fields
//! ([`super::LayerImpl::describe`]); [`NetSpec::from_description`] reads them back.

use super::{Layer, NetSpec};
use crate::error::{Error, Result};
use serde_json::{json, Value};

/// The `format` field of every description; another is refused.
///
/// ```
/// use wgpu_gan::nn::{describe::FORMAT, Act, NetSpec};
/// let mut v = NetSpec::mlp(&[2, 1], Act::Relu, None).describe();
/// assert_eq!(v["format"], FORMAT);
/// v["format"] = "keras/sequential".into();
/// assert!(NetSpec::from_description(&v).is_err());
/// ```
pub const FORMAT: &str = "wgpu-gan/sequential";
/// Version 1: the layers of this crate as of its first description format.
///
/// ```
/// use wgpu_gan::nn::{describe::VERSION, Act, NetSpec};
/// let mut v = NetSpec::mlp(&[2, 1], Act::Relu, None).describe();
/// assert_eq!(v["version"], VERSION);
/// v["version"] = (VERSION + 1).into();                    // a later crate's description
/// assert!(NetSpec::from_description(&v).is_err());
/// ```
pub const VERSION: u64 = 1;

impl NetSpec {
    /// This network's description (see the module documentation).
    ///
    /// ```
    /// use wgpu_gan::nn::{Layer, NetSpec};
    /// let v = NetSpec { layers: vec![Layer::linear(3, 2)] }.describe();
    /// assert_eq!(v["layers"][0], serde_json::json!({ "kind": "Linear", "in_features": 3, "out_features": 2, "bias": true }));
    /// ```
    pub fn describe(&self) -> Value {
        let layers: Vec<Value> = self
            .layers
            .iter()
            .map(|l| {
                let imp = l.imp();
                let mut v = json!({ "kind": imp.kind() });
                if let Value::Object(fields) = imp.describe() {
                    v.as_object_mut().expect("an object").extend(fields);
                }
                v
            })
            .collect();
        json!({ "format": FORMAT, "version": VERSION, "layers": layers })
    }

    /// Rebuilds a network from its description; fails with the layer and field that is missing or
    /// wrong.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, NetSpec};
    /// let d = NetSpec::mlp(&[4, 8, 1], Act::Relu, Some(Act::Sigmoid));
    /// assert_eq!(NetSpec::from_description(&d.describe())?, d);
    /// let mut v = d.describe();
    /// v["layers"][0]["padding_mode"] = "zeros".into();            // a field no Linear reads
    /// assert!(NetSpec::from_description(&v).is_err());
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn from_description(v: &Value) -> Result<NetSpec> {
        check_header(v)?;
        let layers = v["layers"].as_array().ok_or_else(|| bad("the description has no \"layers\" list".into()))?;
        let layers = layers.iter().enumerate().map(|(i, l)| parse_layer(l).map_err(|e| bad(format!("layer {i}: {e}")))).collect::<Result<Vec<_>>>()?;
        let spec = NetSpec { layers };
        spec.widths()?;
        Ok(spec)
    }
}

fn bad(m: String) -> Error {
    Error::Checkpoint(format!("model description: {m}"))
}

fn check_header(v: &Value) -> Result<()> {
    if v["format"] != FORMAT {
        return Err(bad(format!("format is {}, expected \"{FORMAT}\"", v["format"])));
    }
    match v["version"].as_u64() {
        Some(VERSION) => Ok(()),
        other => Err(bad(format!("version {other:?} is not one this crate reads (it reads {VERSION})"))),
    }
}

/// One layer from its description. Every field given must be one the layer reads, holding the
/// value it took: a field it does not know (PyTorch's `padding_mode`, say) or does not honour
/// would otherwise be dropped without a word, and the network would not be the one described.
fn parse_layer(v: &Value) -> std::result::Result<Layer, String> {
    let kind = v["kind"].as_str().ok_or("no \"kind\"")?;
    let fields = v.as_object().ok_or("a layer must be a JSON object")?;
    let layer = Layer::parse(kind, v)?;
    if layer.imp().kind() != kind {
        return Err(format!("{kind}: these fields make a {} (a batch norm over 1 position per channel is BatchNorm1d, over more BatchNorm2d)", layer.imp().kind()));
    }
    let read = layer.imp().describe();
    for (k, given) in fields.iter().filter(|(k, _)| k.as_str() != "kind") {
        match read.get(k) {
            None => {
                let known: Vec<&String> = read.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                let known = if known.is_empty() { "none".to_string() } else { known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ") };
                return Err(format!("{kind}: field \"{k}\" is not one this crate reads (it reads {known}), so the layer cannot be built as described"));
            }
            Some(taken) if given != taken && !same_number(given, taken) => {
                return Err(format!("{kind}: \"{k}\" is {given}, which this crate does not support (it would build the layer with {taken})"));
            }
            Some(_) => {}
        }
    }
    Ok(layer)
}

/// Typed reads of one layer's description, for the layers' `parse` functions.
// Public for the crate's own modules and tests, not API: the layers' description parsers read through it.
#[doc(hidden)]
pub struct Fields<'a> {
    pub kind: &'a str,
    pub v: &'a Value,
}

impl Fields<'_> {
    pub fn uint(&self, k: &str) -> std::result::Result<usize, String> {
        self.v[k].as_u64().map(|x| x as usize).ok_or(format!("{}: \"{k}\" is missing or not a non-negative integer", self.kind))
    }
    pub fn float(&self, k: &str) -> std::result::Result<f32, String> {
        self.v[k].as_f64().map(|x| x as f32).ok_or(format!("{}: \"{k}\" is missing or not a number", self.kind))
    }
    pub fn flag(&self, k: &str) -> std::result::Result<bool, String> {
        self.v[k].as_bool().ok_or(format!("{}: \"{k}\" is missing or not true/false", self.kind))
    }
    /// A list of exactly `n` non-negative integers.
    pub fn uints(&self, k: &str, n: usize) -> std::result::Result<Vec<usize>, String> {
        match self.v[k].as_array().map(|a| a.iter().map(|x| x.as_u64().map(|x| x as usize)).collect::<Option<Vec<_>>>()) {
            Some(Some(a)) if a.len() == n => Ok(a),
            _ => Err(format!("{}: \"{k}\" must be a list of {n} non-negative integers", self.kind)),
        }
    }
}

/// Compares a saved description with the model's own, field by field: `Ok` when they describe
/// the same network, otherwise an error listing every difference ("layer 3 (Conv2d): kernel_size
/// is \[4,4\] in the checkpoint, \[3,3\] in this model").
///
/// ```
/// use wgpu_gan::nn::{describe::compare, Act, NetSpec};
/// let (a, b) = (NetSpec::mlp(&[2, 8, 1], Act::Relu, None), NetSpec::mlp(&[2, 16, 1], Act::Relu, None));
/// assert!(compare("D", &a.describe(), &a.describe()).is_ok());
/// let e = compare("D", &a.describe(), &b.describe()).unwrap_err().to_string();
/// assert!(e.contains("layer 0 (Linear): out_features is 8 in the checkpoint, 16 in this model"), "{e}");
/// ```
pub fn compare(net: &str, saved: &Value, ours: &Value) -> Result<()> {
    check_header(saved).map_err(|e| Error::Checkpoint(format!("{net}: {e}")))?;
    let empty = Vec::new();
    let (a, b) = (saved["layers"].as_array().unwrap_or(&empty), ours["layers"].as_array().unwrap_or(&empty));
    let mut diffs = Vec::new();
    if a.len() != b.len() {
        diffs.push(format!("{} layers in the checkpoint, {} in this model", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let kind = y["kind"].as_str().unwrap_or("?");
        if x["kind"] != y["kind"] {
            diffs.push(format!("layer {i} is {} in the checkpoint, {} in this model", x["kind"], y["kind"]));
            continue;
        }
        let keys: std::collections::BTreeSet<&String> = x.as_object().into_iter().chain(y.as_object()).flat_map(|o| o.keys()).collect();
        for k in keys {
            if x[k] != y[k] && !same_number(&x[k], &y[k]) {
                diffs.push(format!("layer {i} ({kind}): {k} is {} in the checkpoint, {} in this model", show(&x[k]), show(&y[k])));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Checkpoint(format!("the checkpoint's {net} is a different network: {}", diffs.join("; "))))
    }
}

/// Checks a description saved as JSON text (a checkpoint's metadata) against `spec`: an error
/// names every difference, or says that the text is not a description (an older checkpoint).
///
/// ```
/// use wgpu_gan::nn::{describe::check_saved, Act, NetSpec};
/// let spec = NetSpec::mlp(&[2, 8, 1], Act::Relu, None);
/// check_saved("D", &spec.describe().to_string(), &spec)?;
/// let e = check_saved("D", "[Linear { inp: 2 }]", &spec).unwrap_err();
/// assert!(e.to_string().contains("no model description"), "{e}");
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn check_saved(net: &str, saved: &str, spec: &NetSpec) -> Result<()> {
    let saved: Value = serde_json::from_str(saved).map_err(|_| {
        Error::Checkpoint(format!("the {net} has no model description (written by an older version of this crate); it cannot be checked, so it is not loaded"))
    })?;
    compare(net, &saved, &spec.describe())
}

/// f32 values written as JSON and read back compare equal as f32.
fn same_number(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x as f32 == y as f32)
}

fn show(v: &Value) -> String {
    if v.is_null() {
        "absent".into()
    } else {
        v.to_string()
    }
}
