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
        (Optimizer::Adam { lr: 1e-3, beta1: 0.5, beta2: 0.999, eps: 0.0 }, "eps 0"),
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

/// A finite but absurd learning rate passes the settings check and blows the weights up within a
/// few steps. The optimizers' divergence watch (on the GPU, no per-step readback) makes the next
/// `stats()` fail, naming the step and the tensor; a checkpoint is then refused (tests/checkpoint.rs).
#[test]
fn divergence_is_caught_with_step_and_tensor() {
    use wgpu_gan::gan::GpuGan;
    let gpu = wgpu_gan::gpu::Gpu::with_options(&wgpu_gan::gpu::GpuOptions { no_tune: true, ..wgpu_gan::gpu::GpuOptions::from_env() }).unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"));
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    cfg.batch = 32;
    let (g, d) = cfg.init_params();
    let mut healthy = GpuGan::new(&gpu, cfg.clone(), &g, &d, 8).unwrap();
    healthy.train_steps(5);
    assert!(healthy.stats().is_ok(), "the default settings must not trip the watch");

    cfg.opt_d = Optimizer::adam(1e30, 0.5, 0.999);
    assert!(cfg.validate().is_ok(), "1e30 is a legal (if absurd) learning rate");
    let mut gan = GpuGan::new(&gpu, cfg, &g, &d, 8).unwrap();
    gan.train_steps(20);
    let err = gan.stats().expect_err("20 steps at learning rate 1e30 stayed finite?").to_string();
    println!("{err}");
    // D's weights jump to ~1e30 in its first update, so the generator's gradient through D overflows
    // in the same step (seen: "in step 1 ... G.0.weight").
    assert!(err.contains("diverged") && err.contains("in step ") && (err.contains("G.") || err.contains("D.")), "{err}");
    let state = gan.read_state().unwrap();
    assert!(state.d.iter().flatten().any(|v| !v.is_finite()), "the weights really are non-finite");
}

/// The flag parsers the examples share refuse what would run zero steps or train on NaN, and the
/// output directory is proven writable before any work.
#[test]
fn flags_and_output_directory_are_checked_up_front() {
    use wgpu_gan::cli::{at_least_one, positive_f32, prepare_out_dir};
    assert_eq!(at_least_one("7"), Ok(7));
    for bad in ["0", "-3", "x", "", "99999999999999999999999"] {
        assert!(at_least_one(bad).is_err(), "{bad:?} accepted as a count");
    }
    assert_eq!(positive_f32("2e-4"), Ok(2e-4));
    for bad in ["nan", "inf", "-1e-3", "0", "abc"] {
        assert!(positive_f32(bad).is_err(), "{bad:?} accepted as a learning rate");
    }
    let dir = std::env::temp_dir().join(format!("wgpu-gan-out-{}", std::process::id()));
    prepare_out_dir(&dir.join("a/b")).unwrap();
    assert!(dir.join("a/b").is_dir());
    std::fs::write(dir.join("file"), b"x").unwrap();
    let err = prepare_out_dir(&dir.join("file/sub")).unwrap_err().to_string();
    println!("{err}");
    assert!(err.contains("file/sub"), "the error must name the path: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A size whose byte count overflows is an error, not an arithmetic panic.
#[test]
fn absurd_tensor_sizes_are_errors() {
    let gpu = wgpu_gan::gpu::Gpu::with_options(&wgpu_gan::gpu::GpuOptions { no_tune: true, ..wgpu_gan::gpu::GpuOptions::from_env() }).unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}"));
    for len in [usize::MAX / 2, 1usize << 62] {
        let err = wgpu_gan::gpu::Tensor::zeros(&gpu, "huge", len).err().expect("an absurd tensor was allocated").to_string();
        println!("{err}");
        assert!(err.contains("huge"), "{err}");
    }
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 16);
    cfg.batch = 1usize << 61;
    let (g, d) = cfg.init_params();
    assert!(wgpu_gan::gan::GpuGan::new(&gpu, cfg, &g, &d, 8).is_err(), "a batch of 2^61 was accepted");
}

/// A run's length: huge epoch counts are an error instead of wrapping, and a batch larger than the
/// data (zero iterations) is refused instead of "training" nothing and reporting statistics.
#[test]
fn run_length_is_checked() {
    use wgpu_gan::gan::images::iterations;
    assert_eq!(iterations(None, 20, 8000, 64).unwrap(), 2500);
    assert_eq!(iterations(Some(7), 20, 8000, 64).unwrap(), 7);
    let e = iterations(None, usize::MAX / 2, 8000, 64).unwrap_err().to_string();
    assert!(e.contains("--epochs"), "{e}");
    let e = iterations(None, 1, 8000, 10_000).unwrap_err().to_string();
    assert!(e.contains("no iteration"), "{e}");
}
