//! Reshapes (PyTorch's `nn.Flatten` and `nn.Unflatten`): a batch is stored sample after sample,
//! so a reshape changes no value. They exist so that a network lists the same modules as its
//! PyTorch twin, and its parameters get the same `nn.Sequential` indices (a checkpoint loads into
//! that model strictly). On the GPU a reshape is a view: the network gives its output the input's
//! buffer ([`LayerImpl::is_view`]) and it launches nothing, except to copy when it is a network's
//! first or last layer and the caller's buffers differ. No kernel, so no shader file.
//! Tests: `tests/reshape.rs`.

use crate::gpu::AsArg;
use super::activation::copy_range;
use super::{CpuBackward, CpuForward, CpuGradOfGrad, GpuBackward, GpuForward, GpuGradOfGrad, Layer, LayerImpl};
use crate::error::{Error, Result};
use crate::gpu::Program;
use serde_json::{json, Value};

/// A reshape layer: no parameters, no values changed.
///
/// ```
/// use wgpu_gan::nn::{ConvSpec, Layer, NetSpec, Reshape};
/// let spec = NetSpec { layers: vec![
///     Layer::Reshape(Reshape::Unflatten { c: 1, h: 4, w: 4 }),
///     Layer::Conv2d(ConvSpec::new(1, 2, 4, 4, 3, 1, 1)),
///     Layer::Reshape(Reshape::Flatten),
///     Layer::linear(32, 1),
/// ] };
/// assert_eq!(spec.widths()?, [16, 32, 32, 1]);
/// assert_eq!(spec.param_names()[2].0, "3.weight");       // nn.Sequential's index, as in PyTorch
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reshape {
    /// `nn.Flatten()`: (C, H, W) → (C·H·W).
    Flatten,
    /// `nn.Unflatten(1, (c, h, w))`: (c·h·w) → (c, h, w).
    Unflatten { c: usize, h: usize, w: usize },
}

/// The layer from its description, if `kind` is a reshape.
// Public for the crate's own modules and tests, not API: a description parser that only Layer::parse calls.
#[doc(hidden)]
pub fn parse(kind: &str, v: &Value) -> Option<std::result::Result<Layer, String>> {
    match kind {
        "Flatten" => Some(Ok(Layer::Reshape(Reshape::Flatten))),
        "Unflatten" => Some(match v["unflattened_size"].as_array().map(|a| a.iter().map(|x| x.as_u64().map(|x| x as usize)).collect::<Option<Vec<_>>>()) {
            Some(Some(s)) if s.len() == 3 => Ok(Layer::Reshape(Reshape::Unflatten { c: s[0], h: s[1], w: s[2] })),
            _ => Err("Unflatten: \"unflattened_size\" must be [channels, height, width]".into()),
        }),
        _ => None,
    }
}

/// Copies x to y when they are different buffers (a reshape at either end of a network).
fn pass_through(gpu: &crate::gpu::Gpu, x: &dyn AsArg, y: &dyn AsArg, len: u32, prog: &mut Program) -> Result<()> {
    if x.arg() != y.arg() {
        prog.push(copy_range(gpu, x, 0, y, 0, len as usize)?);
    }
    Ok(())
}

impl LayerImpl for Reshape {
    fn kind(&self) -> &'static str {
        match self {
            Reshape::Flatten => "Flatten",
            Reshape::Unflatten { .. } => "Unflatten",
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            Reshape::Unflatten { c, h, w } if c == 0 || h == 0 || w == 0 => Err(Error::Shape(format!("{self:?}: every size must be at least 1"))),
            Reshape::Unflatten { c, h, w } if c.checked_mul(h).and_then(|v| v.checked_mul(w)).is_none_or(|v| v as u64 > 1 << 40) => {
                Err(Error::Shape(format!("{self:?}: more than 2^40 values per sample")))
            }
            _ => Ok(()),
        }
    }

    fn in_len(&self) -> Option<usize> {
        match *self {
            Reshape::Flatten => None,
            Reshape::Unflatten { c, h, w } => Some(c * h * w),
        }
    }

    fn out_len(&self, inp: usize) -> usize {
        inp
    }

    fn is_view(&self) -> bool {
        true
    }

    fn describe(&self) -> Value {
        match *self {
            Reshape::Flatten => json!({ "start_dim": 1, "end_dim": -1 }),
            Reshape::Unflatten { c, h, w } => json!({ "dim": 1, "unflattened_size": [c, h, w] }),
        }
    }

    fn cpu_forward(&self, c: CpuForward<'_>) -> (Vec<f32>, Vec<f32>) {
        (c.x.to_vec(), Vec::new())
    }

    fn cpu_backward(&self, c: CpuBackward<'_>) -> (Vec<f32>, Vec<Vec<f32>>) {
        (c.dy.to_vec(), Vec::new())
    }

    fn gpu_forward(&self, c: &GpuForward<'_>, prog: &mut Program) -> Result<()> {
        pass_through(c.gpu, c.x, c.y, c.x_len(), prog)
    }

    fn has_grad_of_grad(&self) -> bool {
        true
    }

    fn cpu_grad_of_grad(&self, c: CpuGradOfGrad<'_>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        Ok((c.gbar_in.to_vec(), Vec::new()))
    }

    fn gpu_grad_of_grad(&self, c: &GpuGradOfGrad<'_>, prog: &mut Program) -> Result<()> {
        match c.gbar_out {
            Some(o) => pass_through(c.gpu, c.gbar_in, o, c.x_len(), prog),
            None => Ok(()),
        }
    }

    fn gpu_backward(&self, c: &GpuBackward<'_>, prog: &mut Program) -> Result<()> {
        match c.dx {
            Some(dx) => pass_through(c.gpu, c.dy, dx, c.x_len(), prog),
            None => Ok(()),
        }
    }
}
