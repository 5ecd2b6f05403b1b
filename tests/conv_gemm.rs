//! The software adapter's kernel family (src/nn/conv_gemm.rs, shaders/conv_gemm.wgsl) kernel by
//! kernel: the subgroup product `sgemm_nt` on tile-breaking sizes, with its output maps, bias,
//! accumulation and split reductions, and the patch packing `im2col_rows`/`im2col_cols`/`im2col`
//! against a CPU construction of the patch matrix. (The layers built on them are compared with
//! the CPU reference in tests/conv.rs, conv_transpose.rs, linear.rs and network.rs, up to batch
//! 1024, with both families.) Needs an adapter with 8-wide subgroups; says so and skips the
//! kernels where there is none.

mod common;
use common::{check, gpu_with, kernel_families, launch, randv, tensor};
use wgpu_gan::nn::conv_gemm::{Geometry, Im2col, Im2colCols, Im2colRows, KernelFamily, Sgemm, SgemmParams};

const TOL: f32 = 1e-5;

fn family() -> Option<wgpu_gan::gpu::Gpu> {
    kernel_families().contains(&KernelFamily::Gemm).then(|| gpu_with(KernelFamily::Gemm))
}

/// out[map(i, j)] = [bias[i] +] Σ_k a[i, k]·b[j, k] in f64.
fn product(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|t| a[i * k + t] as f64 * b[j * k + t] as f64).sum();
        }
    }
    c
}

#[test]
fn sgemm_matches_cpu() {
    let Some(gpu) = family() else { return };
    // Sizes off the 32 × 32 tile and the 8 lanes, a long reduction, one row or column.
    for &(m, n, k) in &[(1usize, 1usize, 4usize), (7, 9, 12), (33, 31, 20), (64, 96, 1024), (1, 70, 64), (100, 3, 8), (40, 1024, 100)] {
        let (a, b, bias) = (randv(m * k, 1, 1.0), randv(n * k, 2, 1.0), randv(m, 3, 1.0));
        let c = product(&a, &b, m, n, k);
        let (ta, tb, tbias) = (tensor(&gpu, &a), tensor(&gpu, &b), tensor(&gpu, &bias));
        let u = |v: usize| v as u32;
        let base = SgemmParams { m: u(m), n: u(n), k4: u(k / 4), k_per: u(k / 4), splits: 1, tiles_m: u(m.div_ceil(32)), tiles_n: u(n.div_ceil(32)), flags: 1, p_len: u(n), s_n: 0, s_m: u(n), off: 0, slot: u(m * n), _pad: [0; 3] };
        let threads = |p: &SgemmParams| Some(p.splits * p.tiles_m * p.tiles_n * 8);
        // Plain row-major with the bias.
        let out = tensor(&gpu, &vec![9.0; m * n]);
        launch(&gpu, &Sgemm { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &base, threads(&base));
        let want: Vec<f32> = (0..m * n).map(|i| (c[i] + bias[i / n] as f64) as f32).collect();
        check(&format!("sgemm_nt {m}×{n}×{k} + bias"), &out.read(&gpu).unwrap(), &want, TOL);
        // Transposed into (n, m) (the Linear layers' map) and added to what is there.
        let p = SgemmParams { flags: 2, p_len: 1, s_n: u(m), s_m: 1, ..base };
        let prior = randv(m * n, 4, 1.0);
        let out = tensor(&gpu, &prior);
        launch(&gpu, &Sgemm { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &p, threads(&p));
        let want: Vec<f32> = (0..m * n).map(|o| (prior[o] as f64 + c[(o % m) * n + o / m]) as f32).collect();
        check(&format!("sgemm_nt {m}×{n}×{k} transposed, accumulated"), &out.read(&gpu).unwrap(), &want, TOL);
        // NCHW: columns = samples × positions (3 positions per sample when n allows), at an offset.
        if n % 3 == 0 {
            let (pos, off) = (3usize, 5usize);
            let p = SgemmParams { flags: 0, p_len: u(pos), s_n: u(m * pos), s_m: u(pos), off: u(off), ..base };
            let out = tensor(&gpu, &vec![0.0; off + m * n]);
            launch(&gpu, &Sgemm { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &p, threads(&p));
            let mut want = vec![0.0f32; off + m * n];
            for i in 0..m {
                for j in 0..n {
                    want[off + (j / pos) * m * pos + i * pos + j % pos] = c[i * n + j] as f32;
                }
            }
            check(&format!("sgemm_nt {m}×{n}×{k} into NCHW"), &out.read(&gpu).unwrap(), &want, TOL);
        }
        // Split reduction: slot s holds the sum over k in [4·s·k_per, 4·(s+1)·k_per).
        if k >= 8 {
            let k_per = (k / 4).div_ceil(3);
            let splits = (k / 4).div_ceil(k_per);
            let p = SgemmParams { flags: 0, k_per: u(k_per), splits: u(splits), ..base };
            let out = tensor(&gpu, &vec![0.0; splits * m * n]);
            launch(&gpu, &Sgemm { a: &ta.buffer, b: &tb.buffer, bias: &tbias.buffer, out: &out.buffer }, &p, threads(&p));
            let slots = out.read(&gpu).unwrap();
            let summed: Vec<f32> = (0..m * n).map(|i| (0..splits).map(|s| slots[s * m * n + i] as f64).sum::<f64>() as f32).collect();
            let want: Vec<f32> = c.iter().map(|&v| v as f32).collect();
            check(&format!("sgemm_nt {m}×{n}×{k} in {splits} splits"), &summed, &want, TOL);
        }
    }
}

#[test]
fn im2col_matches_cpu() {
    let Some(gpu) = family() else { return };
    // (samples, channels, h, w, kh, kw, stride, pad, chunk start, chunk samples)
    for &(n, c, h, w, kh, kw, s, pad, n0, nc) in &[(3usize, 2usize, 7usize, 6usize, 4usize, 4usize, 2usize, 1usize, 1usize, 2usize), (2, 3, 5, 5, 3, 3, 1, 1, 0, 2), (4, 5, 6, 4, 1, 1, 1, 0, 2, 2), (1, 1, 28, 28, 4, 4, 2, 1, 0, 1), (2, 6, 9, 8, 3, 5, 2, 2, 0, 2)] {
        let x = randv(n * c * h * w, 7, 1.0);
        let tx = tensor(&gpu, &x);
        let (oh, ow) = ((h + 2 * pad - kh) / s + 1, (w + 2 * pad - kw) / s + 1);
        let cols = nc * oh * ow;
        let k = c * kh * kw;
        let (k4, cols4) = (k.div_ceil(4) * 4, cols.div_ceil(4) * 4);
        // value(col, (ch, ky, kx)) on the CPU.
        let v = |col: usize, kk: usize| -> f32 {
            let (ni, pos) = (n0 + col / (oh * ow), col % (oh * ow));
            let (ch, t) = (kk / (kh * kw), kk % (kh * kw));
            let iy = (pos / ow * s + t / kw) as isize - pad as isize;
            let ix = (pos % ow * s + t % kw) as isize - pad as isize;
            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                return 0.0;
            }
            x[((ni * c + ch) * h + iy as usize) * w + ix as usize]
        };
        let u = |v: usize| v as u32;
        let g = Geometry { n0: u(n0), cols: u(cols), rows: u(cols), c: u(c), h: u(h), w: u(w), oh: u(oh), ow: u(ow), kh: u(kh), kw: u(kw), stride_y: u(s), stride_x: u(s), pad_y: u(pad), pad_x: u(pad), dil_y: 1, dil_x: 1, tap_step_y: 1, tap_step_x: 1, width: u(k4), flags: 0 };
        let tag = format!("{nc} of {n} samples, {c}×{h}×{w}, k{kh}×{kw} s{s} p{pad}");
        let plain: Vec<f32> = (0..cols * k4).map(|i| if i % k4 < k { v(i / k4, i % k4) } else { 0.0 }).collect();
        // The scalar kernel (any kernel size) and the vec4 one (KH·KW a multiple of 4, or 1 × 1).
        let out = tensor(&gpu, &vec![7.0; cols * k4]);
        launch(&gpu, &Im2col { src: &tx.buffer, dst: &out.buffer }, &g, Some(u(cols * c)));
        check(&format!("im2col {tag}"), &out.read(&gpu).unwrap(), &plain, 0.0);
        if (kh * kw) % 4 == 0 || kh * kw == 1 {
            let out = tensor(&gpu, &vec![7.0; cols * k4]);
            let threads = if kh * kw == 1 { cols * c.div_ceil(4) } else { cols * c };
            launch(&gpu, &Im2colRows { src: &tx.buffer, dst4: &out.buffer }, &g, Some(u(threads)));
            check(&format!("im2col_rows {tag}"), &out.read(&gpu).unwrap(), &plain, 0.0);
        }
        let t = Geometry { rows: u(cols4), width: u(cols4), ..g };
        let out = tensor(&gpu, &vec![7.0; k * cols4]);
        launch(&gpu, &Im2colCols { src: &tx.buffer, dst4: &out.buffer }, &t, Some(u(cols4 / 4 * c)));
        let transposed: Vec<f32> = (0..k * cols4).map(|i| if i % cols4 < cols { v(i % cols4, i / cols4) } else { 0.0 }).collect();
        check(&format!("im2col_cols {tag}"), &out.read(&gpu).unwrap(), &transposed, 0.0);
    }
}
