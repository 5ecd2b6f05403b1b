// Softmax cross-entropy for a classifier's logits (n, classes) and integer labels (stored as f32).
//
//   softmax_xent_backward  logits, labels -> dlogits = (softmax(l) − onehot(label)) / n
//
// (the gradient of the mean cross-entropy over the batch). One invocation per row; the softmax is
// shifted by the row's maximum so that exp never overflows. The loss itself is only needed for
// progress reports and is computed on the host from read-back logits (src/metrics/classifier.rs: softmax_xent).

struct Params {
    n: u32,
    classes: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn softmax_xent_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                         @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.n) { return; }
    let base = r * p.classes;
    var m = logits[base];
    for (var c = 1u; c < p.classes; c++) { m = max(m, logits[base + c]); }
    var s = 0.0;
    for (var c = 0u; c < p.classes; c++) { s += exp(logits[base + c] - m); }
    let label = u32(labels[r]);
    let inv_n = 1.0 / f32(p.n);
    for (var c = 0u; c < p.classes; c++) {
        let prob = exp(logits[base + c] - m) / s;
        out[base + c] = (prob - select(0.0, 1.0, c == label)) * inv_n;
    }
}
