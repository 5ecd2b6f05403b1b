// The second pass of a split reduction: adds the partial sums that the tiles of a first pass left
// in `part` (splits slots of `len` values each, slot-major) into `out`.
//
//   reduce_splits   part (splits, len) -> out (len)   out = [out +] Σ_s part[s, ·]
//
// flags bit 1: add into out (a gradient accumulated over two passes) instead of overwriting it.
// One invocation per output value; each loops over the splits, a count the host keeps small
// (src/gpu/budget.rs).

struct Params {
    len: u32,
    splits: u32,
    flags: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn reduce_splits(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.len) { return; }
    var s = 0.0;
    for (var k = 0u; k < p.splits; k++) {
        s += part[k * p.len + i];
    }
    out[i] = select(0.0, out[i], (p.flags & 2u) != 0u) + s;
}
