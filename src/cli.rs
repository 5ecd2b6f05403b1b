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
