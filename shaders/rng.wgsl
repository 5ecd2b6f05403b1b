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

struct Params {
    n: u32,
    seed: u32,
    stream: u32,
    k: u32,           // mixture components
    row_offset: u32,  // first output row (mixture_sample)
    sigma: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> centres: array<f32>;
@group(0) @binding(2) var<storage, read> counter: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

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

// Uniform in (0, 1): the top 24 bits, centred in their interval, so that log() never sees 0.
fn unit(u: u32) -> f32 {
    return (f32(u >> 8u) + 0.5) * (1.0 / 16777216.0);
}

fn box_muller(u1: u32, u2: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * log(unit(u1)));
    let th = TWO_PI * unit(u2);
    return vec2<f32>(r * cos(th), r * sin(th));
}

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// Invocation j fills out[2j] and out[2j+1] from one hash.
@compute @workgroup_size(64)
fn randn_fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (2u * j >= p.n) { return; }
    let r = random4(j);
    let z = box_muller(r.x, r.y);
    out[2u * j] = z.x;
    if (2u * j + 1u < p.n) {
        out[2u * j + 1u] = z.y;
    }
}

@compute @workgroup_size(64)
fn mixture_sample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (j >= p.n) { return; }
    let r = random4(j);
    let m = r.z % p.k;
    let e = box_muller(r.x, r.y);
    let row = p.row_offset + j;
    out[2u * row] = centres[2u * m] + p.sigma * e.x;
    out[2u * row + 1u] = centres[2u * m + 1u] + p.sigma * e.y;
}
