//! Activations (src/nn/activation.rs, shaders/activation.wgsl): the CPU backward against central
//! differences, the kernels against the CPU reference (tolerance 1e-5), and the in-pass row copy.

mod common;
use common::layer::{numeric, report, H, TOL};
use common::{check, gpu, launch, randv, tensor, weighted};
use wgpu_gan::nn::activation::{act_backward, act_entries, act_entries4, act_forward, ActBackward, ActBackward4, ActForward, ActForward4, ActParams};
use wgpu_gan::nn::Act;
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
fn activation_kernels_match_cpu() {
    let gpu = gpu();
    for &n in &[1usize, 7, 33, 257, 4099, 1024 * 784] {
        // Wide range so that tanh/sigmoid saturate and both signs of every branch are hit.
        let x = randv(n, n as u64, 20.0);
        let dy = randv(n, n as u64 + 1, 1.0);
        let (tx, tdy, ty) = (tensor(&gpu, &x), tensor(&gpu, &dy), tensor(&gpu, &vec![0.0; n]));
        for a in [Act::Relu, Act::LeakyRelu(0.2), Act::Tanh, Act::Sigmoid] {
            let (fwd, bwd, slope) = act_entries(a);
            let p = ActParams { n: n as u32, slope, ..Default::default() };
            launch(&gpu, &ActForward { entry: fwd, x: &tx.buffer, out: &ty.buffer }, &p, Some(n as u32));
            check(&format!("{fwd} n={n}"), &ty.read(&gpu).unwrap(), &act_forward(a, &x), TOL);
            launch(&gpu, &ActBackward { entry: bwd, x: &tx.buffer, dy: &tdy.buffer, out: &ty.buffer }, &p, Some(n as u32));
            check(&format!("{bwd} n={n}"), &ty.read(&gpu).unwrap(), &act_backward(a, &x, &dy), TOL);
            // The vec4 kernels on the first multiple of 4 values.
            let n4 = n / 4 * 4;
            if n4 > 0 {
                let p = ActParams { n: n4 as u32, ..p };
                let t4 = tensor(&gpu, &vec![7.0; n]);
                let (f4, b4) = act_entries4(a);
                launch(&gpu, &ActForward4 { entry: f4, x4: &tx.buffer, out4: &t4.buffer }, &p, Some(n4 as u32 / 4));
                let mut want = act_forward(a, &x[..n4]);
                want.extend(std::iter::repeat_n(7.0, n - n4));
                check(&format!("{f4} n={n4}"), &t4.read(&gpu).unwrap(), &want, TOL);
                launch(&gpu, &ActBackward4 { entry: b4, x4: &tx.buffer, dy4: &tdy.buffer, out4: &t4.buffer }, &p, Some(n4 as u32 / 4));
                let mut want = act_backward(a, &x[..n4], &dy[..n4]);
                want.extend(std::iter::repeat_n(7.0, n - n4));
                check(&format!("{b4} n={n4}"), &t4.read(&gpu).unwrap(), &want, TOL);
            }
        }
    }
}

#[test]
fn copy_range_moves_rows_within_a_pass() {
    let gpu = gpu();
    let src = randv(50, 3, 1.0);
    let (ts, td) = (tensor(&gpu, &src), tensor(&gpu, &vec![0.0; 40]));
    let mut prog = wgpu_gan::gpu::Program::default();
    prog.push(wgpu_gan::nn::copy_range(&gpu, &ts.buffer, 7, &td.buffer, 11, 29).unwrap());
    prog.run(&gpu);
    let got = td.read(&gpu).unwrap();
    check("copy_range", &got[11..40], &src[7..36], 0.0);
    assert!(got[..11].iter().all(|&v| v == 0.0));
}
