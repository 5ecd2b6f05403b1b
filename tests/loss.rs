//! The GAN losses (src/loss.rs, shaders/loss.wgsl): the CPU backward against central differences,
//! the kernels against the CPU reference (tolerance 1e-5), and the statistics struct's layout in
//! the WGSL against the host's.

mod common;
use common::layer::{numeric, report, TOL};
use common::{check, gpu, launch, randv, tensor};
use wgpu_gan::loss::{GanLossD, GanLossG, LossKind, LossParams, Stats};

const KINDS: [LossKind; 5] = [LossKind::Minimax, LossKind::NonSaturating, LossKind::Wasserstein, LossKind::Hinge, LossKind::LeastSquares];

#[test]
fn loss_backward_matches_finite_differences() {
    // Logits kept 2h away from the hinge's kinks at ±1 (and from 0, for the accuracy counts).
    let l: Vec<f32> = randv(13, 7, 4.0).into_iter().map(|v| if (v.abs() - 1.0).abs() < 0.03 || v.abs() < 0.03 { v + 0.1 } else { v }).collect();
    let nf = 6;
    for kind in KINDS {
        report(&format!("gan_loss_d_backward {kind:?}"), &wgpu_gan::loss::gan_loss_d_backward(&l, nf, kind),
            &numeric(&l, &|l| wgpu_gan::loss::gan_loss_d_forward(l, nf, kind).d_loss as f64));
        report(&format!("gan_loss_g_backward {kind:?}"), &wgpu_gan::loss::gan_loss_g_backward(&l, kind),
            &numeric(&l, &|l| wgpu_gan::loss::gan_loss_g_forward(l, kind) as f64));
    }
}

#[test]
fn loss_kernels_match_cpu() {
    let gpu = gpu();
    for &(nf, nr) in &[(1usize, 1usize), (7, 7), (33, 1), (257, 257), (600, 600), (1024, 1024)] {
        let l = randv(nf + nr, (nf * 31 + nr) as u64, 12.0);
        let tl = tensor(&gpu, &l);
        let tout = tensor(&gpu, &vec![0.0; nf + nr]);
        let tstats = tensor(&gpu, &[0.0; 7]);
        for kind in KINDS {
            let p = LossParams { n_fake: nf as u32, n_real: nr as u32, kind: kind as u32, _pad: 0 };
            let tag = format!("{kind:?} fake={nf} real={nr}");
            // One kernel writes the loss statistics and every logit's gradient (over a sentinel).
            tout.write(&gpu, &vec![1e30f32; nf + nr]).unwrap();
            launch(&gpu, &GanLossD { logits: &tl.buffer, out: &tout.buffer, stats: &tstats.buffer }, &p, None);
            check(&format!("gan_loss_d gradient {tag}"), &tout.read(&gpu).unwrap(), &wgpu_gan::loss::gan_loss_d_backward(&l, nf, kind), TOL);
            let s = tstats.read(&gpu).unwrap();
            let w = wgpu_gan::loss::gan_loss_d_forward(&l, nf, kind);
            check(&format!("gan_loss_d statistics {tag}"), &s[..5], &w.values()[..5], TOL);

            let p = LossParams { n_fake: nf as u32, n_real: 0, kind: kind as u32, _pad: 0 };
            tout.write(&gpu, &vec![1e30f32; nf + nr]).unwrap();
            launch(&gpu, &GanLossG { logits: &tl.buffer, out: &tout.buffer, stats: &tstats.buffer }, &p, None);
            let got = tout.read(&gpu).unwrap();
            check(&format!("gan_loss_g gradient {tag}"), &got[..nf], &wgpu_gan::loss::gan_loss_g_backward(&l[..nf], kind), TOL);
            assert!(got[nf..].iter().all(|&v| v == 1e30), "gan_loss_g wrote past its {nf} logits");
            check(&format!("gan_loss_g loss {tag}"), &tstats.read(&gpu).unwrap()[5..6], &[wgpu_gan::loss::gan_loss_g_forward(&l[..nf], kind)], TOL);
        }
    }
}

#[test]
fn the_stats_struct_has_one_layout_on_both_sides() {
    wgpu_gan::loss::check_stats_layout().unwrap();
    assert_eq!(std::mem::size_of::<Stats>(), 28);
}

/// The one-call losses (`gpu_d_loss`, `gpu_g_loss`): typed results against the CPU reference for
/// every kind, awkward sizes and batch 1,024; refused inputs are errors.
#[test]
fn one_call_losses_match_cpu() {
    let gpu = gpu();
    for &(nf, nr) in &[(1usize, 1usize), (5, 3), (1024, 1024)] {
        let l = randv(nf + nr, (nf * 7 + nr) as u64, 6.0);
        for kind in KINDS {
            let tag = format!("{kind:?} fake={nf} real={nr}");
            let (s, g) = wgpu_gan::loss::gpu_d_loss(&gpu, kind, &l, nf).unwrap();
            let w = wgpu_gan::loss::gan_loss_d_forward(&l, nf, kind);
            check(&format!("gpu_d_loss statistics {tag}"), &s.values()[..5], &w.values()[..5], TOL);
            assert_eq!((s.g_loss, s.penalty), (0.0, 0.0), "{tag}: a D loss fills only its own fields");
            check(&format!("gpu_d_loss gradient {tag}"), &g, &wgpu_gan::loss::gan_loss_d_backward(&l, nf, kind), TOL);
            let (gl, gg) = wgpu_gan::loss::gpu_g_loss(&gpu, kind, &l[..nf]).unwrap();
            check(&format!("gpu_g_loss {tag}"), &[gl], &[wgpu_gan::loss::gan_loss_g_forward(&l[..nf], kind)], TOL);
            check(&format!("gpu_g_loss gradient {tag}"), &gg, &wgpu_gan::loss::gan_loss_g_backward(&l[..nf], kind), TOL);
        }
    }
    for (l, nf) in [(vec![1.0f32, 2.0], 0usize), (vec![1.0, 2.0], 2), (vec![], 0)] {
        let err = wgpu_gan::loss::gpu_d_loss(&gpu, LossKind::Minimax, &l, nf).expect_err("refused");
        assert!(err.to_string().contains("gpu_d_loss"), "{err}");
    }
    assert!(wgpu_gan::loss::gpu_g_loss(&gpu, LossKind::Minimax, &[]).is_err());
}
