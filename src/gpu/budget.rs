//! Loop budgets: how many loop iterations one invocation of each kernel runs for the shape at
//! hand, the guard that refuses a launch past the software adapter's limit, and the tiling of
//! split reductions that keeps every kernel under it.
//!
//! Mesa's llvmpipe (the software Vulkan adapter) compiles every shader with a loop limiter: one
//! counter per invocation, shared by all of that invocation's loops, allows 65,535 iterations in
//! all; a loop of t trips costs t + 1, nested loops count every inner and outer trip, and once the
//! counter is spent every remaining loop runs exactly once. Nothing reports it: a long reduction
//! simply returns a partial sum. So every kernel declares, with its bindings ([`crate::kernel!`]'s
//! `trips`), an upper bound of that count as a function of its own uniform, and [`check`] turns a
//! launch past the budget into an error naming the kernel and its shape when the adapter is a CPU
//! one (or unknown). This module knows no kernel: the formulas live beside the launches.
//! The reductions whose length grows with the batch (weight and bias gradients, batch-norm
//! statistics) are split into tiles by [`plan_tiles`] so that they stay far below it.

use crate::error::{Error, Result};

/// Iterations llvmpipe allows one invocation, summed over all of its loops.
pub const LOOP_BUDGET: u64 = 65_535;

/// Trips a tile of a split reduction aims at: long enough to amortise writing and re-reading its
/// partial sum, a quarter of the budget.
pub const TILE_TRIPS: u64 = 16384;
/// Invocations a split reduction tries to offer a hardware GPU before it stops making tiles
/// smaller: enough to fill its cores.
pub const PARALLEL_INVOCATIONS_GPU: u64 = 16384;
/// The same for a CPU adapter, whose few threads are kept busy by far fewer invocations and which
/// pays for every extra tile (R2's weight gradients at batch 64 took twice as long on llvmpipe
/// with the GPU's target: 1,656 ms against 813 ms per step).
pub const PARALLEL_INVOCATIONS_CPU: u64 = 1024;
/// Tiles are not made shorter than this for the sake of parallelism.
pub const MIN_TILE_TRIPS: u64 = 512;

/// Cost of a loop of `t` trips as llvmpipe counts it.
pub fn lp(t: u64) -> u64 {
    t + 1
}

/// The cost of the 4×4 block stores of the register-blocked kernels (two nested loops of 4).
pub const STORE4X4: u64 = 5 + 4 * 5;

/// How a reduction over `n` samples × `rows` rows is cut into tiles: `n_per` samples by `y_per`
/// rows each, `n_tiles` × `y_tiles` of them (the kernels number a tile n-major: tile =
/// n_tile · y_tiles + y_tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiles {
    pub n_per: u32,
    pub n_tiles: u32,
    pub y_per: u32,
    pub y_tiles: u32,
}

impl Tiles {
    pub fn count(&self) -> u32 {
        self.n_tiles * self.y_tiles
    }
}

/// Bytes of input one tile should read at most, so that all the invocations working on a tile
/// find its data in cache: on the 2-core software adapter (32 MiB of L3) R2's largest weight
/// gradient at batch 256 took 2.0 s with two 19 MB tiles and 1.0 s with 4 MB ones, while at
/// batch 64 one 4.8 MB tile beat five 1.1 MB ones by 13 %.
pub const TILE_BYTES: u64 = 6 << 20;

/// Tiles for a reduction over `n` samples × `rows` rows, where `trips(n_per, y_per)` is what one
/// invocation of the first pass runs for a tile, `per_tile` is how many invocations each tile
/// has and `sample_bytes` is how much input one sample contributes. Tiles are cut down until one
/// costs at most [`TILE_TRIPS`] and reads at most [`TILE_BYTES`], then further (not below
/// [`MIN_TILE_TRIPS`]) until the launch has `parallel` invocations, and finally evened out so
/// that no tile is a sliver. A tile of one sample and one row that still costs more than the
/// budget is left as it is for [`check`] to refuse.
pub fn plan_tiles(n: u32, rows: u32, per_tile: u64, parallel: u64, sample_bytes: u64, trips: impl Fn(u64, u64) -> u64) -> Tiles {
    let (n, rows) = (n.max(1) as u64, rows.max(1) as u64);
    let mut y_per = rows;
    while y_per > 1 && trips(1, y_per) > TILE_TRIPS {
        y_per = y_per.div_ceil(2);
    }
    // The largest sample count whose tile fits (trips grow with n_per).
    let (mut lo, mut hi) = (1u64, n.min((TILE_BYTES / sample_bytes.max(1)).max(1)));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if trips(mid, y_per) <= TILE_TRIPS {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut n_per = lo;
    loop {
        let tiles = n.div_ceil(n_per) * rows.div_ceil(y_per);
        if per_tile * tiles >= parallel {
            break;
        }
        if n_per > 1 && trips(n_per.div_ceil(2), y_per) >= MIN_TILE_TRIPS {
            n_per = n_per.div_ceil(2);
        } else if y_per > 1 && trips(n_per, y_per.div_ceil(2)) >= MIN_TILE_TRIPS {
            y_per = y_per.div_ceil(2);
        } else {
            break;
        }
    }
    // Even tiles: as many as needed, each as equal as the counts allow.
    let n_per = n.div_ceil(n.div_ceil(n_per));
    let y_per = rows.div_ceil(rows.div_ceil(y_per));
    let u = |v: u64| v as u32;
    Tiles { n_per: u(n_per), n_tiles: u(n.div_ceil(n_per)), y_per: u(y_per), y_tiles: u(rows.div_ceil(y_per)) }
}

/// The guard: refuses a launch of `kernel` whose invocations would loop `trips` times, past
/// `budget` (Some on a CPU adapter or one whose type is unknown), naming the kernel, its uniform
/// (`params`) and the count.
pub fn check(kernel: &str, trips: u64, params: &[u8], budget: Option<u64>) -> Result<u64> {
    if let Some(b) = budget {
        if trips > b {
            let words: Vec<String> = params.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string()).collect();
            return Err(Error::Limit(format!(
                "{kernel}: one invocation would run {trips} loop iterations for this shape (uniform words [{}]), \
                 past the {b} that this software adapter runs before it silently stops looping; \
                 use a smaller layer or batch, or a hardware adapter",
                words.join(", ")
            )));
        }
    }
    Ok(trips)
}
