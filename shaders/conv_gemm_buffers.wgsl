// conv_gemm.wgsl's operands as storage buffers of vec4s (see the notes there).
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;

fn ld_a(i: u32) -> vec4<f32> {
    return a[i];
}

fn ld_b(i: u32) -> vec4<f32> {
    return b[i];
}
