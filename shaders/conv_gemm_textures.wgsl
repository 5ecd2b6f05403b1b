// conv_gemm.wgsl's operands as rgba32float textures: each buffer's vec4 i at texel (i mod 4096,
// i div 4096), copied there before every launch (src/gpu/kernel.rs, Access::Texture). llvmpipe
// fetches a texel for the 8 lanes with one branch-free gather, where a storage load is a loop
// over the lanes with a branch each and, without AVX-512, a round trip of the whole vector
// through memory per value (docs/BENCHMARKS.md, issue 24). The row width is a power of two, so
// the index splits with a mask and a shift (an integer division would run lane by lane).
@group(0) @binding(1) var a: texture_2d<f32>;
@group(0) @binding(2) var b: texture_2d<f32>;

fn ld_a(i: u32) -> vec4<f32> {
    return textureLoad(a, vec2<u32>(i & 4095u, i >> 12u), 0);
}

fn ld_b(i: u32) -> vec4<f32> {
    return textureLoad(b, vec2<u32>(i & 4095u, i >> 12u), 0);
}
