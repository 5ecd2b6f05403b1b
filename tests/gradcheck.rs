//! The CPU reference's backward functions against central differences (no GPU needed).
//!
//! For an op y = f(x) and a fixed random weighting r, L = Σ r·y; the analytic gradient is the
//! backward function applied to dy = r, the numerical one (L(x + h) − L(x − h)) / 2h per input,
//! with L summed in f64. h = 1e-2 keeps f32 rounding in L below the O(h²) truncation error of
//! the smooth ops; inputs of ReLU/LeakyReLU are kept at least 2h away from the kink. Tolerance
//! 1e-3, max relative error in the max norm.

mod common;
use common::{numeric_h, randv, weighted};
use wgpu_gan::cpu::{self, LossKind};
use wgpu_gan::nn::{act_backward, act_forward, Act, CpuNet, NetSpec};

const H: f32 = 1e-2;
const TOL: f32 = 1e-3;
const MLP_H: f32 = 2e-3;

/// Central differences of `loss` with respect to each entry of `x`.
fn numeric(x: &[f32], loss: &dyn Fn(&[f32]) -> f64) -> Vec<f32> {
    numeric_h(x, loss, H)
}

fn report(name: &str, analytic: &[f32], num: &[f32]) {
    let e = wgpu_gan::max_rel_err(analytic, num);
    println!("{name:<44} analytic vs central difference: max rel err {e:.2e}");
    assert!(e <= TOL, "{name}: {e:e}");
}

#[test]
fn linear_backward_matches_finite_differences() {
    for &(n, inp, out) in &[(1usize, 1usize, 1usize), (3, 7, 5), (7, 33, 4)] {
        let (x, w, b) = (randv(n * inp, 1, 1.0), randv(out * inp, 2, 1.0), randv(out, 3, 1.0));
        let r = randv(n * out, 4, 1.0);
        let tag = format!("n={n} in={inp} out={out}");
        report(&format!("linear_backward_input {tag}"), &cpu::linear_backward_input(&r, &w, n, inp, out),
            &numeric(&x, &|x| weighted(&cpu::linear_forward(x, &w, &b, n, inp, out), &r)));
        report(&format!("linear_backward_weight {tag}"), &cpu::linear_backward_weight(&r, &x, n, inp, out),
            &numeric(&w, &|w| weighted(&cpu::linear_forward(&x, w, &b, n, inp, out), &r)));
        report(&format!("linear_backward_bias {tag}"), &cpu::linear_backward_bias(&r, n, out),
            &numeric(&b, &|b| weighted(&cpu::linear_forward(&x, &w, b, n, inp, out), &r)));
    }
}

#[test]
fn activation_backward_matches_finite_differences() {
    let mut x = randv(64, 5, 3.0);
    for v in x.iter_mut() {
        if v.abs() < 2.0 * H {
            *v += 4.0 * H; // away from ReLU's kink
        }
    }
    let r = randv(64, 6, 1.0);
    for a in [Act::Relu, Act::LeakyRelu(0.2), Act::Tanh, Act::Sigmoid] {
        report(&format!("{a:?} backward"), &act_backward(a, &x, &r), &numeric(&x, &|x| weighted(&act_forward(a, x), &r)));
    }
}

#[test]
fn loss_backward_matches_finite_differences() {
    let l = randv(13, 7, 4.0);
    let nf = 6;
    for kind in [LossKind::Minimax, LossKind::NonSaturating, LossKind::Wasserstein] {
        report(&format!("gan_loss_d_backward {kind:?}"), &cpu::gan_loss_d_backward(&l, nf, kind),
            &numeric(&l, &|l| cpu::gan_loss_d_forward(l, nf, kind).loss as f64));
        report(&format!("gan_loss_g_backward {kind:?}"), &cpu::gan_loss_g_backward(&l, kind),
            &numeric(&l, &|l| cpu::gan_loss_g_forward(l, kind) as f64));
    }
}

/// The composition: a whole network's input and weight gradients through every layer kind.
#[test]
fn mlp_backward_matches_finite_differences() {
    for (hidden, last) in [(Act::Relu, None), (Act::LeakyRelu(0.2), Some(Act::Tanh)), (Act::Tanh, Some(Act::Sigmoid))] {
        let spec = NetSpec::mlp(&[3, 9, 5, 2], hidden, last);
        let n = 4;
        // Finite differences are meaningless across a ReLU kink: take the first seed whose
        // pre-activations all stay 0.02 away from zero (a perturbation of MLP_H = 2e-3 moves them
        // by less than that).
        let (params, x, mut net) = (0..200u32)
            .map(|s| {
                let (p, x) = (spec.init(11 + s, 0, wgpu_gan::nn::Init::PyTorch), randv(n * 3, 8 + s as u64, 1.0));
                let mut net = CpuNet::new(spec.clone(), p.clone()).unwrap();
                net.forward(&x, n);
                (p, x, net)
            })
            .find(|(_, _, net)| {
                spec.layers.iter().zip(net.saved_inputs()).all(|(l, inp)| {
                    !matches!(l, wgpu_gan::nn::Layer::Act(_)) || inp.iter().all(|v| v.abs() > 0.02)
                })
            })
            .expect("no kink-free draw in 200 seeds");
        let r = randv(n * 2, 9, 1.0);
        let dx = net.backward(&r, n, true);
        let tag = format!("mlp {hidden:?}/{last:?}");
        let f = |x: &[f32], p: &[Vec<f32>]| {
            let mut m = CpuNet::new(spec.clone(), p.to_vec()).unwrap();
            weighted(&m.forward(x, n), &r)
        };
        report(&format!("{tag} input"), &dx, &numeric_h(&x, &|x| f(x, &params), MLP_H));
        for (pi, g) in net.grads.iter().enumerate() {
            let num = numeric_h(&params[pi], &|v| {
                let mut p = params.clone();
                p[pi] = v.to_vec();
                f(&x, &p)
            }, MLP_H);
            report(&format!("{tag} param {pi}"), g, &num);
        }
    }
}
