// Counter-based random numbers and the data the toy GAN trains on, generated on the GPU.
//
// Every number is a pure function of (seed, stream, step, index): the PCG4D hash of Jarzynski &
// Olano (2020), applied twice, turns that 4-vector into four independent-looking u32. Nothing is
// carried from one call to the next, so the CPU reference (src/rng.rs) draws exactly the same bits,
// and a step is reproducible from its counter alone. `step` is read from counter[0] on the GPU.
//
//   randn_fill      -> out (n)                  standard normals (Box–Muller on pairs of uniforms)
//   mixture_sample  centres (k,2) -> out rows [row_offset, row_offset+n) of a (·,2) buffer:
//                   x = centre[m] + σ·ε, m uniform in 0..k, ε ~ N(0, I₂)
//   gather_rows     table (k, dim) -> out rows [row_offset, row_offset+n) of a (·, dim) buffer:
//                   row j of draw `stream` in step s is table row perm_e(t mod k), where
//                   t = (s·per_step + stream)·n + j counts the rows drawn so far and e = t div k is
//                   the epoch: every epoch visits each of the k rows once, in an order that is a
//                   keyed Feistel permutation of 0..k (reproduced by src/rng.rs::epoch_permute)
//   mixture_labeled as mixture_sample, and each point's component m -> out_labels[row] (as f32)
//   gather_labeled  as gather_rows, and labels (k) -> out_labels[row_offset + j] (as f32)
//   interpolate     a, b (rows of dim from a_at, b_at) -> out (n, dim): out = ε·a + (1 − ε)·b with
//                   ε = unit(first word of the hash of (seed, stream, step, row)), uniform in (0, 1]
//                   per row (WGAN-GP's points between real and generated samples; a_at = row_offset,
//                   b_at = k, in rows)
//   random_labels   -> out[row_offset + j] = (first word of the hash of (seed, stream, step, j)) mod k,
//                   as f32: class labels for generated samples (conditional GANs)
//   shift_images    images (n, h·w), h·w = dim, w = k -> out: each image translated by its own
//                   (dy, dx), both uniform in −per_step..=per_step, drawn from (seed, stream, step,
//                   image); pixels shifted in from outside are −1 (background). Data augmentation.

struct Params {
    n: u32,
    seed: u32,
    stream: u32,
    k: u32,           // mixture components
    row_offset: u32,  // first output row (mixture_sample)
    sigma: f32,
    dim: u32,         // gather: values per row
    per_step: u32,    // gather: draws per step (k discriminator updates)
    // A data-parallel rank's shard: the global index of its first draw, and the draws of one
    // call over all ranks (0: n, one process). Rank r of N at batch n draws what one process at
    // batch N·n draws in rows [r·n, (r+1)·n).
    first: u32,
    total: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> centres: array<f32>;   // or the table of gather_rows
@group(0) @binding(2) var<storage, read> counter: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_labels: array<f32>;
@group(0) @binding(6) var<storage, read> a: array<f32>;
@group(0) @binding(7) var<storage, read> b: array<f32>;

const TWO_PI: f32 = 6.283185307179586;

fn pcg4d(a: vec4<u32>) -> vec4<u32> {
    var v = a * 1664525u + 1013904223u;
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    v ^= v >> vec4<u32>(16u);
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    return v;
}

fn random4(index: u32) -> vec4<u32> {
    return pcg4d(pcg4d(vec4<u32>(index, counter[0], p.stream, p.seed)));
}

// Uniform in (0, 1]: the top 24 bits, centred in their interval, so that log() never sees 0
// (the f32 sum rounds to 1 for the top 256 words: harmless, log(1) = 0; as rng::unit).
fn unit(u: u32) -> f32 {
    return (f32(u >> 8u) + 0.5) * (1.0 / 16777216.0);
}

fn box_muller(u1: u32, u2: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * log(unit(u1)));
    let th = TWO_PI * unit(u2);
    return vec2<f32>(r * cos(th), r * sin(th));
}

// Invocation j fills out[2j] and out[2j+1] from one hash.
@compute @workgroup_size(WG)
fn randn_fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (2u * j >= p.n) { return; }
    let r = random4(p.first + j);
    let z = box_muller(r.x, r.y);
    out[2u * j] = z.x;
    if (2u * j + 1u < p.n) {
        out[2u * j + 1u] = z.y;
    }
}

@compute @workgroup_size(WG)
fn mixture_sample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (j >= p.n) { return; }
    mixture_point(j);
}

// Point j of the mixture into row row_offset + j; returns its component.
fn mixture_point(j: u32) -> u32 {
    let r = random4(p.first + j);
    let m = r.z % p.k;
    let e = box_muller(r.x, r.y);
    let row = p.row_offset + j;
    out[2u * row] = centres[2u * m] + p.sigma * e.x;
    out[2u * row + 1u] = centres[2u * m + 1u] + p.sigma * e.y;
    return m;
}

// mixture_sample, and each point's component as its label (a conditional toy GAN).
@compute @workgroup_size(WG)
fn mixture_labeled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (j >= p.n) { return; }
    out_labels[p.row_offset + j] = f32(mixture_point(j));
}

// A bijection of 0..count keyed by (seed, epoch): a 4-round Feistel network on the smallest even
// number of bits that holds count, walked until it lands inside the range (each walk step is
// itself a bijection, so the walk ends and the map stays one-to-one).
fn epoch_permute(j: u32, count: u32, seed: u32, epoch: u32) -> u32 {
    var bits = 2u;
    while ((1u << bits) < count && bits < 32u) { bits += 2u; }
    let half = bits / 2u;
    let mask = (1u << half) - 1u;
    var v = j;
    loop {
        var l = v >> half;
        var r = v & mask;
        for (var round = 0u; round < 4u; round++) {
            let f = pcg4d(vec4<u32>(r, round, epoch, seed)).x & mask;
            let t = l ^ f;
            l = r;
            r = t;
        }
        v = (l << half) | r;
        if (v < count) { break; }
    }
    return v;
}

fn gather_source(j: u32) -> u32 {
    let t = (counter[0] * p.per_step + p.stream) * select(p.total, p.n, p.total == 0u) + p.first + j;
    return epoch_permute(t % p.k, p.k, p.seed, t / p.k);
}

// One invocation per output value.
@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.dim) { return; }
    let j = i / p.dim;
    let d = i % p.dim;
    out[(p.row_offset + j) * p.dim + d] = centres[gather_source(j) * p.dim + d];
}

@compute @workgroup_size(WG)
fn gather_labeled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.dim) { return; }
    let j = i / p.dim;
    let d = i % p.dim;
    let src = gather_source(j);
    out[(p.row_offset + j) * p.dim + d] = centres[src * p.dim + d];
    if (d == 0u) {
        out_labels[p.row_offset + j] = f32(labels[src]);
    }
}

@compute @workgroup_size(WG)
fn shift_images(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.dim) { return; }
    let img = i / p.dim;
    let pix = i % p.dim;
    let w = p.k;
    let h = p.dim / w;
    let r = random4(img);
    let span = 2u * p.per_step + 1u;
    let dy = i32(r.x % span) - i32(p.per_step);
    let dx = i32(r.y % span) - i32(p.per_step);
    let sy = i32(pix / w) - dy;
    let sx = i32(pix % w) - dx;
    var v = -1.0;
    if (sy >= 0 && sy < i32(h) && sx >= 0 && sx < i32(w)) {
        v = centres[img * p.dim + u32(sy) * w + u32(sx)];
    }
    out[i] = v;
}

// One invocation per value: row i / dim, column i % dim.
@compute @workgroup_size(WG)
fn interpolate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n * p.dim) { return; }
    let row = i / p.dim;
    let e = unit(random4(p.first + row).x);
    out[i] = e * a[p.row_offset * p.dim + i] + (1.0 - e) * b[p.k * p.dim + i];
}

@compute @workgroup_size(WG)
fn random_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (j >= p.n) { return; }
    out[p.row_offset + j] = f32(random4(p.first + j).x % p.k);
}
