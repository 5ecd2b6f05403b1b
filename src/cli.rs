//! Flag parsers the examples share, so that a bad value stops the program before any work with
//! one clear line and exit code 2 (clap's own convention for a refused flag).

/// A count that must be at least 1 (steps, iterations, epochs, batch sizes, intervals).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(e) => Err(format!("{s:?} is not a whole number ({e})")),
    }
}

/// A finite number above 0 (learning rates).
pub fn positive_f32(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} must be a finite number above 0")),
        Err(e) => Err(format!("{s:?} is not a number ({e})")),
    }
}

/// Creates the output directory and proves it writable (a probe file written and removed), so that
/// a bad `--out` is reported before any training rather than after it, naming the path.
pub fn prepare_out_dir(dir: &std::path::Path) -> crate::Result<()> {
    let fail = |what: &str, e: std::io::Error| crate::Error::Io(std::io::Error::new(e.kind(), format!("output directory {}: {what}: {e}", dir.display())));
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", e))?;
    let probe = dir.join(format!(".wgpu-gan-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| fail("cannot write into it", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot remove a file from it", e))
}
