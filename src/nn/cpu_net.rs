//! The reference network: each layer's CPU reference, one after another.

use super::{CpuBackward, CpuForward, CpuGradOfGrad, Mode, NetSpec, Tape};
use crate::error::{Error, Result};

/// A sequential network run by each layer's CPU reference.
///
/// ```
/// use wgpu_gan::nn::{Act, CpuNet, Init, NetSpec};
/// let spec = NetSpec::mlp(&[3, 8, 2], Act::Relu, None);
/// let params = spec.init(1, 0, Init::PyTorch);
/// let mut net = CpuNet::new(spec, params)?;
/// let y = net.forward(&[0.5; 3 * 4], 4)?;               // a batch of 4
/// let dx = net.backward(&vec![1.0; y.len()], 4, true)?;   // and net.grads, the weights'
/// assert_eq!((y.len(), dx.len(), net.grads.len()), (8, 12, 4));
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub struct CpuNet {
    pub spec: NetSpec,
    pub params: Vec<Vec<f32>>,
    pub grads: Vec<Vec<f32>>,
    /// Running state of each layer that has one (a batch norm's mean c, var c), in
    /// [`NetSpec::running`] order.
    pub running: Vec<Vec<f32>>,
    tapes: Vec<Tape>,
    /// [`NetSpec::layout`]: each layer's parameters and running state.
    layout: Vec<(usize, usize, Option<usize>)>,
}

impl CpuNet {
    pub fn new(spec: NetSpec, params: Vec<Vec<f32>>) -> Result<CpuNet> {
        spec.check_params(&params, "CPU network")?;
        let grads = spec.param_lens().iter().map(|&l| vec![0.0; l]).collect();
        let running = spec.init_running();
        let layout = spec.layout();
        Ok(CpuNet { spec, params, grads, running, tapes: Vec::new(), layout })
    }

    /// Training-mode forward in slot 0: x (n, in) -> y (n, out).
    pub fn forward(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run(0, x, n, Mode::Train)
    }

    /// Forward pass keeping its activations in `slot`. Fails on an input of the wrong length or a
    /// batch that batch normalisation cannot use.
    pub fn run(&mut self, slot: usize, x: &[f32], n: usize, mode: Mode) -> Result<Vec<f32>> {
        let want = n * self.spec.in_dim();
        if n == 0 || x.len() != want {
            return Err(Error::Shape(format!("the network takes n × {} = {want} values for a batch of {n}; {} were given", self.spec.in_dim(), x.len())));
        }
        for (i, l) in self.spec.layers.iter().enumerate() {
            l.imp().check_batch(n, mode).map_err(super::at_layer(i))?;
        }
        if self.tapes.len() <= slot {
            self.tapes.resize(slot + 1, Tape::default());
        }
        let mut tape = Tape { n, ..Tape::default() };
        let mut h = x.to_vec();
        for (l, &(pi, np, ri)) in self.spec.layers.iter().zip(&self.layout) {
            let running = ri.map(|r| &mut self.running[r]);
            let (next, saved) = l.imp().cpu_forward(CpuForward { x: &h, n, params: &self.params[pi..pi + np], running, mode });
            tape.saved.push(saved);
            tape.inputs.push(std::mem::replace(&mut h, next));
        }
        self.tapes[slot] = tape;
        Ok(h)
    }

    /// Replaces the pass kept in `slot` (verification: backpropagating through another
    /// implementation's forward activations, see `gan::verify`).
    pub fn set_tape(&mut self, slot: usize, tape: Tape) {
        if self.tapes.len() <= slot {
            self.tapes.resize(slot + 1, Tape::default());
        }
        self.tapes[slot] = tape;
    }

    /// What each layer received in the last forward pass of slot 0.
    pub fn saved_inputs(&self) -> &[Vec<f32>] {
        &self.tapes[0].inputs
    }

    /// Backward through slot 0, overwriting parameter gradients when `weight_grads`.
    pub fn backward(&mut self, dy: &[f32], n: usize, weight_grads: bool) -> Result<Vec<f32>> {
        self.backward_slot(0, dy, n, weight_grads, false)
    }

    /// dy (n, out) -> dx (n, in) through the pass kept in `slot` (a training-mode pass). Parameter
    /// gradients are written when `weight_grads`, added to the existing ones when `accumulate`.
    pub fn backward_slot(&mut self, slot: usize, dy: &[f32], n: usize, weight_grads: bool, accumulate: bool) -> Result<Vec<f32>> {
        let tape = self.tapes.get(slot).ok_or_else(|| Error::Shape(format!("no forward pass kept in slot {slot}")))?;
        if tape.n != n || tape.inputs.is_empty() {
            return Err(Error::Shape(format!("backward at batch {n} through slot {slot}, whose forward pass had batch {}", tape.n)));
        }
        if dy.len() != n * self.spec.out_dim() {
            return Err(Error::Shape(format!("the output gradient has {} values; a batch of {n} needs {}", dy.len(), n * self.spec.out_dim())));
        }
        let mut g = dy.to_vec();
        let mut g_outs = vec![Vec::new(); self.spec.layers.len()];
        for (li, l) in self.spec.layers.iter().enumerate().rev() {
            let imp = l.imp();
            let (pi, np, _) = self.layout[li];
            let c = CpuBackward { x: &tape.inputs[li], dy: &g, n, params: &self.params[pi..pi + np], saved: &tape.saved[li], weight_grads };
            if imp.saved_len() > 0 && tape.saved[li].is_empty() {
                return Err(Error::Shape(format!("layer {li} ({}): backward through an evaluation-mode pass is not supported", imp.kind())));
            }
            let (dx, grads) = imp.cpu_backward(c);
            if weight_grads {
                for (j, v) in grads.into_iter().enumerate() {
                    if accumulate {
                        self.grads[pi + j].iter_mut().zip(v).for_each(|(a, b)| *a += b);
                    } else {
                        self.grads[pi + j] = v;
                    }
                }
            }
            // (The gradient at this layer's output is kept for a penalty's double backward.)
            g_outs[li] = std::mem::replace(&mut g, dx);
        }
        self.tapes[slot].g_outs = g_outs;
        Ok(g)
    }

    /// Adds to the parameter gradients the gradient of a penalty on the input gradient of the
    /// last backward pass through `slot`, given `gbar0`, the penalty's gradient with respect to
    /// that input gradient (WGAN-GP; see [`super::CpuGradOfGrad`]).
    pub fn penalty_backward(&mut self, slot: usize, gbar0: &[f32], n: usize) -> Result<()> {
        let tape = self.tapes.get(slot).ok_or_else(|| Error::Shape(format!("no forward pass kept in slot {slot}")))?;
        if tape.n != n || tape.g_outs.len() != self.spec.layers.len() {
            return Err(Error::Shape(format!("slot {slot} holds no backward pass at batch {n} to take the penalty's gradient through")));
        }
        let mut gbar = gbar0.to_vec();
        for (li, l) in self.spec.layers.iter().enumerate() {
            let imp = l.imp();
            let (pi, np, _) = self.layout[li];
            let c = CpuGradOfGrad { x: &tape.inputs[li], g_out: &tape.g_outs[li], gbar_in: &gbar, n, params: &self.params[pi..pi + np] };
            let (next, grads) = imp.cpu_grad_of_grad(c).map_err(super::at_layer(li))?;
            for (j, v) in grads.into_iter().enumerate() {
                self.grads[pi + j].iter_mut().zip(v).for_each(|(a, b)| *a += b);
            }
            gbar = next;
        }
        Ok(())
    }
}
