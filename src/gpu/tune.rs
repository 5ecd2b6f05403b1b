//! Autotuning: where a kernel comes in more than one shape (today the subgroup product's 32 × 32
//! and 32 × 64 tiles, `ops::conv_gemm::Tile`, and the kernel family), the fastest one for each problem size is
//! found by timing every candidate the first time that size is built, and remembered.
//!
//! Choices are kept per adapter and driver in a small text file in the user's cache directory
//! (`$WGPU_GAN_CACHE_DIR`, else `$XDG_CACHE_HOME/wgpu-gan`, else `~/.cache/wgpu-gan`), one
//! `key<TAB>choice` line each, so later runs build without timing anything. `--no-tune` (every
//! example's `cli::DeviceArgs`) or `WGPU_GAN_TUNE=off` skips both the timing and the file and
//! uses each kernel's built-in guess. The candidates compute the same sums in the same order, so
//! the choice changes speed, never results.

use super::{Dispatch, Gpu};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Timed runs per candidate after one untimed run; the fastest counts.
const RUNS: usize = 3;
/// Interleaved rounds of timing every candidate.
const ROUNDS: usize = 2;

/// What a device has chosen so far, and where the choices are kept.
#[derive(Debug, Default)]
pub struct Tuner {
    /// No timing and no file: every kernel takes its guess.
    pub off: bool,
    /// The cache file; `None` keeps choices in memory only.
    pub path: Option<PathBuf>,
    choices: BTreeMap<String, String>,
    /// The keys asked for by this process.
    used: std::collections::BTreeSet<String>,
    loaded: bool,
}

impl Tuner {
    /// A tuner for the adapter `identity` (name and driver), with its file in `dir` (`None`: the
    /// user's cache directory, see the module doc).
    pub fn new(off: bool, identity: Option<&str>, dir: Option<PathBuf>) -> Tuner {
        let path = identity.and_then(|id| dir.or_else(cache_dir).map(|d| d.join(file_name(id))));
        Tuner { off: off || identity.is_none(), path, ..Default::default() }
    }

    /// The choices this process has used (remembered or timed), as (key, choice).
    pub fn choices(&mut self) -> Vec<(String, String)> {
        self.choices.iter().filter(|(k, _)| self.used.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn load(&mut self) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let Some(text) = self.path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else { return };
        // A line that does not parse is skipped: the worst a damaged file costs is a new timing.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some((k, v)) = line.split_once('\t') {
                self.choices.insert(k.to_string(), v.trim().to_string());
            }
        }
    }

    /// Writes every choice (to a temporary file renamed over the old one, so that a crash never
    /// leaves half a file). A cache that cannot be written is reported once on stderr and the
    /// run goes on: tuning is an optimisation.
    fn save(&mut self) {
        let Some(path) = self.path.clone() else { return };
        let mut text = String::from("# wgpu-gan kernel choices for one adapter and driver: key<TAB>choice (delete to re-tune)\n");
        for (k, v) in &self.choices {
            text.push_str(&format!("{k}\t{v}\n"));
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let wrote = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| std::fs::write(&tmp, text)).and_then(|_| std::fs::rename(&tmp, &path));
        if let Err(e) = wrote {
            eprintln!("wgpu-gan: cannot keep kernel choices in {} ({e}); they will be timed again next run", path.display());
            self.path = None;
        }
    }
}

/// `$WGPU_GAN_CACHE_DIR`, else `$XDG_CACHE_HOME/wgpu-gan`, else `$HOME/.cache/wgpu-gan`.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("WGPU_GAN_CACHE_DIR").or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("wgpu-gan"))).or_else(|| env("HOME").map(|h| h.join(".cache").join("wgpu-gan")))
}

/// A file name for an adapter identity: its letters and digits, then a hash of the whole.
fn file_name(identity: &str) -> String {
    let mut short: String = identity.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    short.truncate(48);
    format!("tune-{short}-{:016x}.txt", fnv1a(identity))
}

/// FNV-1a of a string: stable across Rust versions and runs, unlike std's hasher.
pub(crate) fn fnv1a(s: &str) -> u64 {
    fnv1a_on(FNV_OFFSET, s.as_bytes())
}

/// FNV-1a's starting state.
pub(crate) const FNV_OFFSET: u64 = 0xcbf29ce484222325;

/// FNV-1a from state `h` on over `bytes` (a hash of several pieces without joining them).
pub(crate) fn fnv1a_on(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// `WGPU_GAN_TUNE=off` (or `0`, `no`) turns tuning off.
pub fn off_by_env() -> bool {
    switched_off("WGPU_GAN_TUNE")
}

/// Whether the environment variable `name` says off (`off`, `0`, `no` or `false`).
pub(crate) fn switched_off(name: &str) -> bool {
    matches!(std::env::var(name).as_deref(), Ok("off" | "0" | "no" | "false"))
}

impl Gpu {
    /// The candidate chosen for `key`: remembered, or found now by `time` (seconds per run of a
    /// candidate, by name) and remembered. `None` when tuning is off: the caller takes its guess.
    pub fn tuned(&self, key: &str, candidates: &[&str], mut time: impl FnMut(&str) -> Result<f64>) -> Result<Option<String>> {
        let lock = || self.tuner.lock().map_err(|_| Error::Device("tuner lock poisoned".into()));
        {
            let mut t = lock()?;
            if t.off || candidates.is_empty() {
                return Ok(None);
            }
            t.load();
            if let Some(c) = t.choices.get(key).filter(|c| candidates.contains(&c.as_str())).cloned() {
                t.used.insert(key.to_string());
                return Ok(Some(c));
            }
        }
        // Timed without the lock: a candidate may build kernels that consult the tuner in turn.
        // Each candidate's fastest over ROUNDS interleaved rounds: a burst of load on a shared
        // machine then slows every candidate once instead of deciding the choice.
        let mut fastest = vec![f64::INFINITY; candidates.len()];
        for _ in 0..ROUNDS {
            for (f, &c) in fastest.iter_mut().zip(candidates) {
                *f = f.min(time(c)?);
            }
        }
        let best = fastest.iter().zip(candidates).min_by(|a, b| a.0.total_cmp(b.0));
        let Some((_, &c)) = best else { return Ok(None) };
        let mut t = lock()?;
        t.choices.insert(key.to_string(), c.to_string());
        t.used.insert(key.to_string());
        t.save();
        Ok(Some(c.to_string()))
    }

    /// Whether kernels are being tuned on this device.
    pub fn tuning(&self) -> bool {
        self.tuner.lock().map(|t| !t.off).unwrap_or(false)
    }

    /// The choices used so far on this device (key, choice), for benchmark tables.
    pub fn tuned_choices(&self) -> Vec<(String, String)> {
        self.tuner.lock().map(|mut t| t.choices()).unwrap_or_default()
    }
}

/// Seconds one run of `d` takes (see [`time_runs`]).
pub fn time_dispatch(gpu: &Gpu, d: &Dispatch) -> Result<f64> {
    time_runs(gpu, || {
        let mut enc = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("tune") });
        // The launch with its texture copies, if it reads any: their cost is part of its time.
        d.encode(&mut enc);
        gpu.queue.submit([enc.finish()]);
    })
}

/// Seconds one call of `submit` (work it submits to the GPU) takes: the fastest of `RUNS`,
/// each waited for, after an untimed one that builds the pipelines' code.
pub fn time_runs(gpu: &Gpu, mut submit: impl FnMut()) -> Result<f64> {
    let mut best = f64::INFINITY;
    for run in 0..=RUNS {
        let t = Instant::now();
        submit();
        gpu.wait()?;
        if run > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}
