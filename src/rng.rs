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
