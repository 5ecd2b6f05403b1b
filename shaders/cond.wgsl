// Conditioning on class labels (conditional GANs, SPEC.md R3): labels travel as f32 class indices.
//
//   append_onehot  x (rows of DIM from row X_AT), labels (from L_AT) -> out rows from OUT_AT, each
//                  DIM + CLASSES·PLANE wide:
//                  each row is the row of x, then CLASSES blocks of PLANE values, the block of the
//                  row's label all 1 and the others 0 (PLANE = 1: a one-hot vector appended to z;
//                  PLANE = H·W: one constant plane per class appended to an image's channels)
//   take_columns   src (ROWS, STRIDE) -> out (ROWS, DIM): the first DIM values of each row (the
//                  part of a conditioned input's gradient that belongs to the sample itself)
//   project        the projection discriminator's logit (src/gan/cond.rs::project): x (rows of
//                  1 + CLASSES from row X_AT, D's outputs [ψ(φ) | ⟨V_c, φ⟩ per class]), labels
//                  (from L_AT) -> out[OUT_AT + r] = x[r, 0] + x[r, 1 + label r]
//   project_backward  its gradient: x (the logits' gradient dl from row X_AT), labels -> out
//                  rows of 1 + CLASSES from row OUT_AT: dl[r] at column 0 and at the label's
//                  column, 0 elsewhere; one invocation per output value

struct Params {
    rows: u32,
    dim: u32,
    classes: u32,
    plane: u32,
    x_at: u32,
    l_at: u32,
    stride: u32,
    out_at: u32,    // append_onehot: first output row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn append_onehot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let width = p.dim + p.classes * p.plane;
    if (i >= p.rows * width) { return; }
    let r = i / width;
    let j = i % width;
    if (j < p.dim) {
        out[p.out_at * width + i] = x[(p.x_at + r) * p.dim + j];
    } else {
        out[p.out_at * width + i] = select(0.0, 1.0, (j - p.dim) / p.plane == u32(labels[p.l_at + r]));
    }
}

@compute @workgroup_size(WG)
fn take_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.rows * p.dim) { return; }
    out[i] = x[(i / p.dim) * p.stride + i % p.dim];
}

@compute @workgroup_size(WG)
fn project(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.rows) { return; }
    let w = 1u + p.classes;
    let row = (p.x_at + r) * w;
    out[p.out_at + r] = x[row] + x[row + 1u + u32(labels[p.l_at + r])];
}

@compute @workgroup_size(WG)
fn project_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let w = 1u + p.classes;
    if (i >= p.rows * w) { return; }
    let r = i / w;
    let j = i % w;
    let hit = j == 0u || j == 1u + u32(labels[p.l_at + r]);
    out[p.out_at * w + i] = select(0.0, x[p.x_at + r], hit);
}
