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

use super::{Act, BnSpec, ConvSpec, Layer, Linear, NetSpec};
use crate::error::{Error, Result};
use serde_json::{json, Value};

pub const FORMAT: &str = "wgpu-gan/sequential";
/// Version 1: the layers of this crate as of its first description format.
pub const VERSION: u64 = 1;

impl NetSpec {
    /// This network's description (see the module documentation).
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

fn parse_layer(v: &Value) -> std::result::Result<Layer, String> {
    let kind = v["kind"].as_str().ok_or("no \"kind\"")?;
    let uint = |k: &str| v[k].as_u64().map(|x| x as usize).ok_or(format!("{kind}: \"{k}\" is missing or not a non-negative integer"));
    let float = |k: &str| v[k].as_f64().map(|x| x as f32).ok_or(format!("{kind}: \"{k}\" is missing or not a number"));
    let flag = |k: &str| v[k].as_bool().ok_or(format!("{kind}: \"{k}\" is missing or not true/false"));
    let pair = |k: &str| -> std::result::Result<(usize, usize), String> {
        match v[k].as_array().map(|a| a.iter().map(|x| x.as_u64()).collect::<Option<Vec<_>>>()) {
            Some(Some(a)) if a.len() == 2 => Ok((a[0] as usize, a[1] as usize)),
            _ => Err(format!("{kind}: \"{k}\" must be [height, width]")),
        }
    };
    let conv = |transposed: bool| -> std::result::Result<ConvSpec, String> {
        let ((h, w), (kh, kw)) = (pair("input_size")?, pair("kernel_size")?);
        let out_pad = if transposed { uint("output_padding")? } else { 0 };
        Ok(ConvSpec { cin: uint("in_channels")?, cout: uint("out_channels")?, h, w, kh, kw, stride: uint("stride")?, pad: uint("padding")?, out_pad, bias: flag("bias")? })
    };
    Ok(match kind {
        "Linear" => Layer::Linear(Linear { inp: uint("in_features")?, out: uint("out_features")?, bias: flag("bias")? }),
        "Conv2d" => Layer::Conv2d(conv(false)?),
        "ConvTranspose2d" => Layer::ConvT2d(conv(true)?),
        "BatchNorm1d" | "BatchNorm2d" => Layer::BatchNorm(BnSpec { c: uint("num_features")?, hw: uint("positions")?, eps: float("eps")?, momentum: float("momentum")? }),
        "ReLU" => Layer::Act(Act::Relu),
        "LeakyReLU" => Layer::Act(Act::LeakyRelu(float("negative_slope")?)),
        "Tanh" => Layer::Act(Act::Tanh),
        "Sigmoid" => Layer::Act(Act::Sigmoid),
        other => return Err(format!("unknown layer kind \"{other}\"")),
    })
}

/// Compares a saved description with the model's own, field by field: `Ok` when they describe
/// the same network, otherwise an error listing every difference ("layer 3 (Conv2d): kernel_size
/// is [4,4] in the checkpoint, [3,3] in this model").
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
