//! The counter-based generator shared by the GPU (`shaders/rng.wgsl`) and the CPU reference.
//! Every draw is a pure function of (seed, stream, step, index): PCG4D (Jarzynski & Olano, 2020)
//! applied twice. Bits are identical on both sides; the normals differ only by the rounding of
//! log/cos/sin on each device.

fn pcg4d(a: [u32; 4]) -> [u32; 4] {
    let mut v = a.map(|x| x.wrapping_mul(1664525).wrapping_add(1013904223));
    let mix = |v: &mut [u32; 4]| {
        v[0] = v[0].wrapping_add(v[1].wrapping_mul(v[3]));
        v[1] = v[1].wrapping_add(v[2].wrapping_mul(v[0]));
        v[2] = v[2].wrapping_add(v[0].wrapping_mul(v[1]));
        v[3] = v[3].wrapping_add(v[1].wrapping_mul(v[2]));
    };
    mix(&mut v);
    for x in v.iter_mut() {
        *x ^= *x >> 16;
    }
    mix(&mut v);
    v
}

/// Four random u32 for (seed, stream, step, index).
pub fn random4(seed: u32, stream: u32, step: u32, index: u32) -> [u32; 4] {
    pcg4d(pcg4d([index, step, stream, seed]))
}

/// Uniform in (0, 1) from the top 24 bits; never 0 or 1.
pub fn unit(u: u32) -> f32 {
    ((u >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

pub fn box_muller(u1: u32, u2: u32) -> [f32; 2] {
    let r = (-2.0 * unit(u1).ln()).sqrt();
    let th = std::f32::consts::TAU * unit(u2);
    [r * th.cos(), r * th.sin()]
}

/// Uniform values in [lo, hi), keyed like the GPU draws (used for weight initialisation, so that a
/// model starts from the same weights on every machine).
pub fn uniform_fill(seed: u32, stream: u32, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let r = random4(seed, stream, 0, i as u32);
            lo + (hi - lo) * unit(r[0])
        })
        .collect()
}

/// The order in which epoch `epoch` visits rows 0..count: a keyed bijection (4-round Feistel network
/// on the smallest even number of bits holding `count`, cycle-walked back into range), the same
/// bits as `shaders/rng.wgsl::epoch_permute`. Returns the row visited at position `j`.
pub fn epoch_permute(j: u32, count: u32, seed: u32, epoch: u32) -> u32 {
    let mut bits = 2u32;
    while (1u64 << bits) < count as u64 && bits < 32 {
        bits += 2;
    }
    let half = bits / 2;
    let mask = (1u32 << half) - 1;
    let mut v = j;
    loop {
        let (mut l, mut r) = (v >> half, v & mask);
        for round in 0..4 {
            let f = pcg4d([r, round, epoch, seed])[0] & mask;
            (l, r) = (r, l ^ f);
        }
        v = (l << half) | r;
        if v < count {
            return v;
        }
    }
}

/// The table row that draw `stream` of step `step` takes for its row `j` when it draws `n` rows per
/// call and `per_step` calls per step (see `shaders/rng.wgsl::gather_rows`).
pub fn gather_source(j: u32, n: u32, count: u32, seed: u32, stream: u32, step: u32, per_step: u32) -> u32 {
    let t = (step.wrapping_mul(per_step).wrapping_add(stream)).wrapping_mul(n).wrapping_add(j);
    epoch_permute(t % count, count, seed, t / count)
}

/// Normal values N(mean, std²) keyed like [`uniform_fill`] (pairs from one hash, Box–Muller).
pub fn normal_fill(seed: u32, stream: u32, n: usize, mean: f32, std: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let r = random4(seed, stream, 0, (i / 2) as u32);
            mean + std * box_muller(r[0], r[1])[i % 2]
        })
        .collect()
}
