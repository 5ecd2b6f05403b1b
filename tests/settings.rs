//! Settings that would train silently wrong are refused before any work, with a message saying
//! which setting and why (issue 11: a NaN learning rate used to run to the end with exit 0).

use wgpu_gan::data::Mixture;
use wgpu_gan::gan::GanConfig;
use wgpu_gan::optim::Optimizer;

#[test]
fn bad_optimizer_settings_are_refused_by_name() {
    let cases = [
        (Optimizer::adam(f32::NAN, 0.5, 0.999), "learning rate NaN"),
        (Optimizer::adam(f32::INFINITY, 0.5, 0.999), "learning rate inf"),
        (Optimizer::adam(-1e-3, 0.5, 0.999), "learning rate -0.001"),
        (Optimizer::adam(0.0, 0.5, 0.999), "learning rate 0"),
        (Optimizer::adam(1e-3, 1.5, 0.999), "beta1 1.5"),
        (Optimizer::Sgd { lr: 0.1, momentum: f32::NAN }, "momentum NaN"),
        (Optimizer::RmsProp { lr: 1e-3, alpha: 0.99, eps: -1.0 }, "eps -1"),
    ];
    for (opt, what) in cases {
        for generator in [true, false] {
            let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
            if generator {
                cfg.opt_g = opt;
            } else {
                cfg.opt_d = opt;
            }
            let err = cfg.validate().expect_err("a bad optimizer setting was accepted").to_string();
            println!("{err}");
            let net = if generator { "generator" } else { "discriminator" };
            assert!(err.contains(what) && err.contains(net), "{err}");
        }
    }
    assert!(GanConfig::r1(Mixture::ring(), 2, 16).validate().is_ok(), "the defaults must pass");
}
