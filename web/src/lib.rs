//! R1 (SPEC.md: an MLP GAN on a ring of eight Gaussians) trained in a web page on WebGPU: the same
//! crate, kernels and training step as the native examples, with every readback awaited instead of
//! waited for. `web/main.js` drives it; `scripts/web.sh` builds it, serves it and tests it in
//! headless Chromium.

use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wgpu_gan::data::Mixture;
use wgpu_gan::gan::{verify_async, GanConfig, GpuGan};
use wgpu_gan::gpu::{Gpu, GpuOptions, KernelFamily};
use wgpu_gan::nn::Mode;

fn js(e: wgpu_gan::Error) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// The browser's device: WebGPU's adapter with its own limits, without subgroups (WGSL in a
/// browser needs `enable subgroups;` for them, and the software adapter's family is the only one
/// that uses them), and the kernel family named, "direct" or "tiled" (a page does not time them).
async fn open(kernels: &str) -> Result<Gpu, JsValue> {
    let family = match kernels {
        "direct" => KernelFamily::Direct,
        "tiled" => KernelFamily::Tiled,
        other => return Err(JsValue::from_str(&format!("kernels \"{other}\": the page runs \"direct\" or \"tiled\""))),
    };
    let o = GpuOptions { no_subgroups: true, kernels: Some(family), ..GpuOptions::default() };
    Gpu::with_options_async(&o).await.map_err(js)
}

/// R1 as the main command trains it: the learning rates decay linearly to zero over
/// `decay_steps` (0: constant).
fn config(batch: usize, decay_steps: u32) -> GanConfig {
    let mut cfg = GanConfig::r1(Mixture::ring(), 2, 128);
    cfg.batch = batch;
    cfg.lr_decay_steps = decay_steps;
    cfg
}

/// A GAN training on the ring in this page. Methods that read back return promises.
#[wasm_bindgen]
pub struct Trainer {
    gan: Rc<RefCell<GpuGan>>,
    mix: Mixture,
}

#[wasm_bindgen]
impl Trainer {
    /// Opens WebGPU and builds R1 at this batch size, its learning rates decaying to zero over
    /// `steps`, able to draw up to `samples` points, with the kernel family named ("direct" or
    /// "tiled").
    pub async fn create(batch: usize, steps: u32, samples: usize, kernels: String) -> Result<Trainer, JsValue> {
        console_error_panic_hook();
        let gpu = open(&kernels).await?;
        let cfg = config(batch, steps);
        let (g, d) = cfg.init_params();
        let gan = GpuGan::new(&gpu, cfg, &g, &d, samples).map_err(js)?;
        Ok(Trainer { gan: Rc::new(RefCell::new(gan)), mix: Mixture::ring() })
    }

    /// The adapter, backend and kernel family, as the native examples print them.
    pub fn adapter(&self) -> String {
        self.gan.borrow().gpu.describe()
    }

    /// Submits `steps` training steps (nothing is read back).
    pub fn train(&self, steps: usize) -> Result<(), JsValue> {
        self.gan.try_borrow_mut().map_err(|_| JsValue::from_str("the trainer is busy reading back"))?.train_steps(steps);
        Ok(())
    }

    pub fn steps_done(&self) -> f64 {
        self.gan.borrow().steps_done() as f64
    }

    /// The last step's losses: a promise of [D loss, G loss, D(real), D(fake)]; rejected when
    /// training diverged.
    pub fn losses(&self) -> js_sys::Promise {
        let gan = self.gan.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let s = gan.try_borrow().map_err(|_| JsValue::from_str("the trainer is busy"))?.stats_async().await.map_err(js)?;
            Ok(js_sys::Float32Array::from(&[s.d_loss, s.g_loss, s.d_real, s.d_fake][..]).into())
        })
    }

    /// A promise of `n` generated points (x0, y0, x1, y1, ...) from fixed noise, in evaluation mode.
    pub fn sample(&self, n: usize) -> js_sys::Promise {
        let gan = self.gan.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let v = gan.try_borrow().map_err(|_| JsValue::from_str("the trainer is busy"))?.sample_async(n, 7, Mode::Eval).await.map_err(js)?;
            Ok(js_sys::Float32Array::from(&v[..]).into())
        })
    }

    /// Half the side of the square that shows the ring and its surroundings.
    pub fn extent(&self) -> f32 {
        self.mix.extent()
    }

    /// The ring's centres (x0, y0, ...) and its σ last.
    pub fn centres(&self) -> Vec<f32> {
        self.mix.centres.iter().flatten().copied().chain([self.mix.sigma]).collect()
    }

    /// M1 on `points`: [modes covered, modes with ≥ 1 % of the good samples, % of samples
    /// within 3σ of a centre].
    pub fn coverage(&self, points: &[f32]) -> Vec<f32> {
        let m = wgpu_gan::metrics::mode_coverage(points, &self.mix);
        vec![m.modes_covered as f32, m.modes_strict as f32, m.high_quality_pct]
    }
}

/// The native `--verify`, in the page: `steps` training steps of R1 at `batch` on WebGPU and by
/// the CPU reference (compiled to wasm), phase by phase from identical state. A promise of
/// [judged max relative error (losses and gradients), weights after one step, samples].
#[wasm_bindgen]
pub fn verify(batch: usize, steps: usize, kernels: String) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let gpu = open(&kernels).await?;
        let v = verify_async(&gpu, &config(batch, 0), steps, 256, 7).await.map_err(js)?;
        web_sys::console::log_1(&JsValue::from_str(&v.to_string()));
        let p = v.per_step;
        Ok(js_sys::Float32Array::from(&[v.judged(), p.g_weights.max(p.d_weights), p.samples][..]).into())
    })
}

/// Rust panics reach the console with their message (as text, not as "unreachable").
fn console_error_panic_hook() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        std::panic::set_hook(Box::new(|info| web_sys::console::error_1(&JsValue::from_str(&info.to_string()))));
    });
}
