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
    /// A network of `spec` with these parameters (checked: [`NetSpec::check_params`]), zero gradients
    /// and fresh running state.
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, NetSpec};
    /// let spec = NetSpec { layers: vec![Layer::linear(2, 1)] };
    /// let net = CpuNet::new(spec.clone(), vec![vec![1.0, 2.0], vec![0.0]])?;
    /// assert_eq!(net.grads, [vec![0.0, 0.0], vec![0.0]]);
    /// assert!(CpuNet::new(spec, vec![vec![1.0], vec![0.0]]).is_err()); // W needs 2 values
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn new(spec: NetSpec, params: Vec<Vec<f32>>) -> Result<CpuNet> {
        spec.check_params(&params, "CPU network")?;
        let grads = spec.param_lens().iter().map(|&l| vec![0.0; l]).collect();
        let running = spec.init_running();
        let layout = spec.layout();
        Ok(CpuNet { spec, params, grads, running, tapes: Vec::new(), layout })
    }

    /// Training-mode forward in slot 0: x (n, in) -> y (n, out).
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, NetSpec};
    /// let mut net = CpuNet::new(NetSpec { layers: vec![Layer::linear(2, 1)] }, vec![vec![1.0, 2.0], vec![0.5]])?;
    /// assert_eq!(net.forward(&[1.0, 1.0, 2.0, 0.0], 2)?, [3.5, 2.5]); // x Wᵀ + b
    /// assert!(net.forward(&[1.0; 3], 2).is_err());                    // 2 rows need 4 values
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn forward(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        self.run(0, x, n, Mode::Train)
    }

    /// Forward pass keeping its activations in `slot`. Fails on an input of the wrong length or a
    /// batch that batch normalisation cannot use.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, CpuNet, Mode, NetSpec};
    /// let spec = NetSpec::mlp(&[1, 1], Act::Relu, Some(Act::Relu)); // relu(2x − 1)
    /// let mut net = CpuNet::new(spec, vec![vec![2.0], vec![-1.0]])?;
    /// assert_eq!(net.run(0, &[1.0, 0.0], 2, Mode::Eval)?, [1.0, 0.0]);
    /// assert_eq!(net.run(1, &[3.0], 1, Mode::Train)?, [5.0]);      // another pass, in slot 1
    /// assert_eq!(net.saved_inputs()[0], [1.0, 0.0]);               // slot 0's is still there
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
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
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, NetSpec, Tape};
    /// let mut net = CpuNet::new(NetSpec { layers: vec![Layer::linear(1, 1)] }, vec![vec![2.0], vec![0.0]])?;
    /// net.set_tape(1, Tape { n: 2, inputs: vec![vec![1.0, 3.0]], saved: vec![vec![]], g_outs: vec![] });
    /// net.backward_slot(1, &[1.0, 1.0], 2, true, false)?;
    /// assert_eq!(net.grads[0], [4.0]);                            // dyᵀ x through the given pass
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn set_tape(&mut self, slot: usize, tape: Tape) {
        if self.tapes.len() <= slot {
            self.tapes.resize(slot + 1, Tape::default());
        }
        self.tapes[slot] = tape;
    }

    /// What each layer received in the last forward pass of slot 0.
    ///
    /// ```
    /// use wgpu_gan::nn::{Act, CpuNet, NetSpec};
    /// let mut net = CpuNet::new(NetSpec::mlp(&[1, 1], Act::Relu, Some(Act::Relu)), vec![vec![-1.0], vec![0.0]])?;
    /// net.forward(&[2.0], 1)?;
    /// assert_eq!(net.saved_inputs(), [vec![2.0], vec![-2.0]]);     // the Linear's input, the ReLU's
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn saved_inputs(&self) -> &[Vec<f32>] {
        &self.tapes[0].inputs
    }

    /// Backward through slot 0, overwriting parameter gradients when `weight_grads`.
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, NetSpec};
    /// let mut net = CpuNet::new(NetSpec { layers: vec![Layer::linear(2, 1)] }, vec![vec![1.0, 2.0], vec![0.0]])?;
    /// net.forward(&[1.0, 1.0, 2.0, 0.0], 2)?;
    /// assert_eq!(net.backward(&[1.0, -1.0], 2, true)?, [1.0, 2.0, -1.0, -2.0]); // dy W
    /// assert_eq!(net.grads, [vec![-1.0, 1.0], vec![0.0]]);                      // dyᵀ x, Σ dy
    /// assert!(net.backward(&[1.0], 1, true).is_err());                           // not the pass's batch
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
    pub fn backward(&mut self, dy: &[f32], n: usize, weight_grads: bool) -> Result<Vec<f32>> {
        self.backward_slot(0, dy, n, weight_grads, false)
    }

    /// dy (n, out) -> dx (n, in) through the pass kept in `slot` (a training-mode pass). Parameter
    /// gradients are written when `weight_grads`, added to the existing ones when `accumulate`.
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, Mode, NetSpec};
    /// let mut net = CpuNet::new(NetSpec { layers: vec![Layer::linear(1, 1)] }, vec![vec![2.0], vec![0.0]])?;
    /// net.run(0, &[1.0], 1, Mode::Train)?;
    /// net.run(1, &[3.0], 1, Mode::Train)?;
    /// net.backward_slot(0, &[1.0], 1, true, false)?;
    /// assert_eq!(net.backward_slot(1, &[1.0], 1, true, true)?, [2.0]); // dx = dy W
    /// assert_eq!(net.grads, [vec![4.0], vec![2.0]]);                   // 1 + 3 and 1 + 1: summed
    /// assert!(net.backward_slot(2, &[1.0], 1, true, false).is_err());  // no pass in slot 2
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
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
    ///
    /// ```
    /// use wgpu_gan::nn::{CpuNet, Layer, NetSpec};
    /// let mut net = CpuNet::new(NetSpec { layers: vec![Layer::linear(2, 1)] }, vec![vec![1.0, 2.0], vec![0.0]])?;
    /// net.forward(&[5.0, 5.0], 1)?;
    /// assert_eq!(net.backward(&[1.0], 1, false)?, [1.0, 2.0]);    // input gradient W
    /// net.penalty_backward(0, &[1.0, 0.0], 1)?;                   // penalty: its first component
    /// assert_eq!(net.grads, [vec![1.0, 0.0], vec![0.0]]);         // ∂penalty/∂W = dy ⊗ (1, 0)
    /// assert!(net.penalty_backward(1, &[1.0, 0.0], 1).is_err());  // no pass in slot 1
    /// # Ok::<(), wgpu_gan::Error>(())
    /// ```
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
