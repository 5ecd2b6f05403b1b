//! The software adapter's kernel family (src/ops/conv_gemm.rs, shaders/conv_gemm.wgsl) kernel by
//! kernel: the subgroup product `sgemm_nt` (both tiles) and the tiled GPU product `tgemm_nt` on
//! tile-breaking sizes, with their output maps, row and column bias,
//! accumulation and split reductions, and the patch packing `im2col_rows`/`im2col_cols`/`im2col`
//! against a CPU construction of the patch matrix. (The layers built on them are compared with
//! the CPU reference in tests/conv.rs, conv_transpose.rs, linear.rs and network.rs, up to batch
//! 1024, with every family.) The subgroup kernels need an adapter with 8-wide subgroups; where
//! there is none the tests say so and check the tiled product only.

mod common;
use common::{check, gpu_with, kernel_families, launch, randv, tensor};
use wgpu_gan::ops::conv_gemm::{Geometry, Im2col, Im2colColsCopy, Im2colRowsT4, FAST_DIV, Im2colCols, Im2colRows, KernelFamily, Sgemm, SgemmParams, Tgemm, Tile};

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

/// Output maps (p_len, s_n, s_m, off) to test for an m × n product, each with whether it keeps
/// groups of 4 columns contiguous and aligned (the kernel's vec4 stores, flag 4).
fn maps(m: usize, n: usize) -> Vec<(&'static str, (usize, usize, usize, usize), bool)> {
    let mut v = vec![("plain", (n, 0, n, 0), false), ("transposed", (1, m, 1, 0), false)];
    // NCHW: columns = samples × positions, at an offset; with 4 positions and an offset of 8
    // every group of 4 columns is one aligned vec4.
    if n % 3 == 0 {
        v.push(("NCHW", (3, m * 3, 3, 5), false));
    }
    if n % 4 == 0 {
        v.push(("NCHW aligned", (4, m * 4, 4, 8), true));
        v.push(("plain aligned", (n, 0, n, 0), true));
    }
    v
}

#[test]
fn sgemm_matches_cpu() {
    let subgroups = family().is_some();
    let gpu = common::gpu();
    // Sizes off the 32 × 32 and 32 × 64 tiles and the 8 lanes, a long reduction, one row or
    // column, columns that are and are not a multiple of 4.
    for &(m, n, k) in &[(1usize, 1usize, 4usize), (7, 9, 12), (33, 31, 20), (64, 96, 1024), (1, 70, 64), (100, 3, 8), (40, 1024, 100), (35, 132, 16), (3, 68, 8)] {
        let (a, b, bias) = (randv(m * k, 1, 1.0), randv(n * k, 2, 1.0), randv(m, 3, 1.0));
        let c = product(&a, &b, m, n, k);
        let (ta, tb, tbias) = (tensor(&gpu, &a), tensor(&gpu, &b), tensor(&gpu, &bias));
        let u = |v: usize| v as u32;
        let bias_n = randv(n, 9, 1.0);
        let tbias_n = tensor(&gpu, &bias_n);
        // The subgroup kernel's two tiles, then the tiled (GPU) kernel: (entry, tile edge along
        // N, tile edge along M, invocations per tile).
        let kernels = [(Tile::Narrow.entry(), 32usize, 32usize, 8u32), (Tile::Wide.entry(), 64, 32, 8), ("tgemm_nt", 64, 64, 256)];
        for (name, edge_n, edge_m, per_tile) in kernels.into_iter().filter(|k| subgroups || k.0 == "tgemm_nt") {
            let tiles_n = u(n.div_ceil(edge_n));
            let base = SgemmParams { m: u(m), n: u(n), k4: u(k / 4), k_per: u(k / 4), splits: 1, tiles_m: u(m.div_ceil(edge_m)), tiles_n, flags: 0, p_len: u(n), s_n: 0, s_m: u(n), off: 0, slot: u(m * n), k_rows: 0, slope: 0.0, _pad: 0, geo: Default::default() };
            let threads = |p: &SgemmParams| Some(p.splits * p.tiles_m * p.tiles_n * per_tile);
            // out4 views out as vec4s; an output under 16 bytes cannot be, and a spare stands in.
            let spare = tensor(&gpu, &[0.0; 4]);
            let run_with = |p: &SgemmParams, out: &wgpu_gan::gpu::Tensor, bias: &wgpu_gan::gpu::Tensor| {
                if name == "tgemm_nt" {
                    let p = SgemmParams { flags: p.flags & !4, ..*p };
                    launch(&gpu, &Tgemm { a: &ta.buffer, b: &tb.buffer, bias: &bias.buffer, out: &out.buffer, img: &ta.buffer }, &p, threads(&p));
                } else {
                    let out4 = if out.buffer.size() >= 16 { &out.buffer } else { &spare.buffer };
                    launch(&gpu, &Sgemm { entry: name, a: &ta.buffer, b: &tb.buffer, bias: &bias.buffer, out: &out.buffer, out4, act4: out4, pre4: &ta.buffer }, p, threads(p))
                }
            };
            let run = |p: &SgemmParams, out: &wgpu_gan::gpu::Tensor| run_with(p, out, &tbias);
            for (what, (pos, s_n, s_m, off), vec4) in maps(m, n) {
                let at = |i: usize, j: usize| off + (j / pos) * s_n + i * s_m + j % pos;
                let len = off + m * n;
                // Overwrite, with the bias: what lies outside the map must stay as it was.
                let prior = randv(len, 4, 1.0);
                let mut want = prior.clone();
                for i in 0..m {
                    for j in 0..n {
                        want[at(i, j)] = (c[i * n + j] + bias[i] as f64) as f32;
                    }
                }
                let p = SgemmParams { flags: 1 | 4 * vec4 as u32, p_len: u(pos), s_n: u(s_n), s_m: u(s_m), off: u(off), ..base };
                let out = tensor(&gpu, &prior);
                run(&p, &out);
                check(&format!("{name} {m}×{n}×{k} {what} + bias"), &out.read(&gpu).unwrap()[..len], &want, TOL);
                // With a bias per column instead (flag 8: a transposed product computed swapped).
                let mut want = prior.clone();
                for i in 0..m {
                    for j in 0..n {
                        want[at(i, j)] = (c[i * n + j] + bias_n[j] as f64) as f32;
                    }
                }
                let out = tensor(&gpu, &prior);
                run_with(&SgemmParams { flags: 1 | 8 | 4 * vec4 as u32, ..p }, &out, &tbias_n);
                check(&format!("{name} {m}×{n}×{k} {what} + column bias"), &out.read(&gpu).unwrap()[..len], &want, TOL);
                // Added to what is there.
                let mut want = prior.clone();
                for i in 0..m {
                    for j in 0..n {
                        want[at(i, j)] = (prior[at(i, j)] as f64 + c[i * n + j]) as f32;
                    }
                }
                let p = SgemmParams { flags: 2 | 4 * vec4 as u32, ..p };
                let out = tensor(&gpu, &prior);
                run(&p, &out);
                check(&format!("{name} {m}×{n}×{k} {what}, accumulated"), &out.read(&gpu).unwrap()[..len], &want, TOL);
            }
            // Split reduction: slot s holds the sum over k in [4·s·k_per, 4·(s+1)·k_per).
            if k >= 8 {
                let k_per = (k / 4).div_ceil(3);
                let splits = (k / 4).div_ceil(k_per);
                let p = SgemmParams { k_per: u(k_per), splits: u(splits), flags: 4 * ((m * n) % 4 == 0 && n % 4 == 0) as u32, ..base };
                let out = tensor(&gpu, &vec![0.0; splits * m * n]);
                run(&p, &out);
                let slots = out.read(&gpu).unwrap();
                let summed: Vec<f32> = (0..m * n).map(|i| (0..splits).map(|s| slots[s * m * n + i] as f64).sum::<f64>() as f32).collect();
                let want: Vec<f32> = c.iter().map(|&v| v as f32).collect();
                check(&format!("{name} {m}×{n}×{k} in {splits} splits"), &summed, &want, TOL);
            }
        }
    }
}

/// The tuner keeps its choice in the cache file and takes it from there the next time without
/// timing anything; turned off, it chooses nothing and writes nothing.
#[test]
fn tuner_remembers_its_choice() {
    use wgpu_gan::gpu::tune::Tuner;
    let Some(gpu) = family() else { return };
    let dir = std::env::temp_dir().join(format!("wgpu-gan-tune-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let id = gpu.identity().expect("the test adapter describes itself");
    let tuned = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
    // The slower candidate must lose, whatever order they are timed in.
    let pick = tuned.tuned("op m=1", &["slow", "fast"], |c| Ok(if c == "fast" { 1.0 } else { 2.0 })).unwrap();
    assert_eq!(pick.as_deref(), Some("fast"));
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one cache file per adapter: {files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("op m=1\tfast"), "{text}");
    // A new tuner on the same directory reads it back and times nothing.
    let again = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
    let pick = again.tuned("op m=1", &["slow", "fast"], |_| panic!("a remembered choice is not timed again")).unwrap();
    assert_eq!(pick.as_deref(), Some("fast"));
    // A remembered choice that is no longer a candidate is timed afresh.
    let pick = again.tuned("op m=1", &["slow", "other"], |c| Ok(if c == "other" { 0.5 } else { 1.0 })).unwrap();
    assert_eq!(pick.as_deref(), Some("other"));
    // Off: no choice, nothing timed.
    let off = gpu.clone().with_tuner(Tuner::new(true, Some(&id), Some(dir.clone())));
    assert_eq!(off.tuned("op m=2", &["a", "b"], |_| panic!("tuning is off")).unwrap(), None);
    assert!(!std::fs::read_to_string(&files[0]).unwrap().contains("op m=2"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A convolution built with tuning on (both tiles timed, the faster kept) gives the same
/// numbers, bit for bit, as with tuning off: the tiles add the same terms in the same order.
#[test]
fn tuned_products_change_no_result() {
    use wgpu_gan::gpu::tune::Tuner;
    use wgpu_gan::ops::conv_gemm::Product;
    let Some(gpu) = family() else { return };
    let dir = std::env::temp_dir().join(format!("wgpu-gan-tune-result-{}", std::process::id()));
    let id = gpu.identity().expect("the test adapter describes itself");
    let (m, n, k) = (72usize, 520usize, 512usize);
    let (a, b) = (randv(m * k, 5, 1.0), randv(n * k, 6, 1.0));
    let (ta, tb) = (tensor(&gpu, &a), tensor(&gpu, &b));
    let mut results = vec![];
    for tile in Tile::ALL {
        // Force each tile by remembering it as the choice.
        let _ = std::fs::remove_dir_all(&dir);
        let g = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
        let key = format!("sgemm_nt m={m} n={n} k4={} splits=1 vec4=true", k / 4);
        assert_eq!(g.tuned(&key, &[tile.entry()], |_| Ok(1.0)).unwrap().as_deref(), Some(tile.entry()));
        let prod = Product { a: &ta.buffer, b: &tb.buffer, bias: None, m, n, k4: k / 4, map: Product::rows(n) };
        let out = tensor(&g, &vec![0.0; m * n]);
        let d = prod.whole(&g, &out.buffer).unwrap();
        assert!(d.name.ends_with(&format!("::{}", tile.entry())), "the remembered tile is the one built: {}", d.name);
        let mut prog = wgpu_gan::gpu::Program::default();
        prog.push(d);
        prog.run(&g);
        results.push(out.read(&g).unwrap());
    }
    let want: Vec<f32> = product(&a, &b, m, n, k).iter().map(|&v| v as f32).collect();
    check("tuned product", &results[0], &want, TOL);
    assert!(results[0] == results[1], "the two tiles must give identical sums");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn im2col_matches_cpu() {
    let Some(gpu) = family() else { return };
    // (samples, channels, h, w, kh, kw, stride, pad, chunk start, chunk samples)
    for &(n, c, h, w, kh, kw, s, pad, n0, nc) in &[(3usize, 2usize, 7usize, 6usize, 4usize, 4usize, 2usize, 1usize, 1usize, 2usize), (2, 3, 5, 5, 3, 3, 1, 1, 0, 2), (4, 5, 6, 4, 1, 1, 1, 0, 2, 2), (1, 1, 28, 28, 4, 4, 2, 1, 0, 1), (2, 6, 9, 8, 3, 5, 2, 2, 0, 2), (3, 8, 14, 14, 1, 1, 1, 0, 1, 2), (2, 4, 7, 9, 4, 4, 1, 2, 0, 2), (3, 4, 7, 9, 4, 4, 2, 1, 1, 2)] {
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
        // Every kernel with exact integer divisions, then with the float ones (FAST_DIV).
        for flags in [0, FAST_DIV] {
            let g = Geometry { flags, ..g };
            let tag = format!("{tag}, flags {flags}");
            let plain: Vec<f32> = (0..cols * k4).map(|i| if i % k4 < k { v(i / k4, i % k4) } else { 0.0 }).collect();
            // The scalar kernel (any kernel size) and the vec4 one (KH·KW a multiple of 4, or 1 × 1).
            let out = tensor(&gpu, &vec![7.0; cols * k4]);
            launch(&gpu, &Im2col { src: &tx.buffer, dst: &out.buffer }, &g, Some(u(cols * c)));
            check(&format!("im2col {tag}"), &out.read(&gpu).unwrap(), &plain, 0.0);
            // Each vec4 kernel, then, for a 1 × 1 kernel over planes of a multiple of 4 positions (x
            // a whole number of vec4s), the vec4 copy and the 4 × 4 transposes.
            let plane4 = kh * kw == 1 && s == 1 && pad == 0 && (oh * ow) % 4 == 0 && x.len() % 4 == 0;
            let transposed: Vec<f32> = (0..k * cols4).map(|i| if i % cols4 < cols { v(i % cols4, i / cols4) } else { 0.0 }).collect();
            let rows_entries: &[&str] = match (kh * kw, kw) {
                (1, _) => &["im2col_rows_c4"],
                (t, 4) if t % 4 == 0 => &["im2col_rows", "im2col_rows_k4"],
                (t, _) if t % 4 == 0 => &["im2col_rows"],
                _ => &[],
            };
            for &entry in rows_entries {
                let out = tensor(&gpu, &vec![7.0; cols * k4]);
                let threads = if kh * kw == 1 { cols * c.div_ceil(4) } else { cols * c };
                launch(&gpu, &Im2colRows { entry, src: &tx.buffer, dst4: &out.buffer }, &g, Some(u(threads)));
                check(&format!("{entry} {tag}"), &out.read(&gpu).unwrap(), &plain, 0.0);
            }
            if plane4 && c % 4 == 0 {
                let out = tensor(&gpu, &vec![7.0; cols * k4]);
                launch(&gpu, &Im2colRowsT4 { dst4: &out.buffer, src4: &tx.buffer }, &g, Some(u(cols / 4 * c / 4)));
                check(&format!("im2col_rows_t4 {tag}"), &out.read(&gpu).unwrap(), &plain, 0.0);
            }
            let t = Geometry { rows: u(cols4), width: u(cols4), ..g };
            let out = tensor(&gpu, &vec![7.0; k * cols4]);
            launch(&gpu, &Im2colCols { src: &tx.buffer, dst4: &out.buffer }, &t, Some(u(cols4 / 4 * c)));
            check(&format!("im2col_cols {tag}"), &out.read(&gpu).unwrap(), &transposed, 0.0);
            if plane4 {
                let out = tensor(&gpu, &vec![7.0; k * cols4]);
                launch(&gpu, &Im2colColsCopy { dst4: &out.buffer, src4: &tx.buffer }, &t, Some(u(cols4 / 4 * c)));
                check(&format!("im2col_cols_copy {tag}"), &out.read(&gpu).unwrap(), &transposed, 0.0);
            }
        }
    }
}

/// Where a device can run more than one family (a real GPU: tiled or direct), the faster on R2's
/// discriminator's convolutions is timed once, kept with the other choices, and taken from there
/// the next time; with tuning off the first candidate (tiled) is used untimed.
#[test]
fn families_are_timed_once_and_remembered() {
    use wgpu_gan::gpu::tune::Tuner;
    let gpu = common::gpu();
    let dir = std::env::temp_dir().join(format!("wgpu-gan-family-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let id = gpu.identity().expect("the test adapter describes itself");
    let both = [KernelFamily::Tiled, KernelFamily::Direct];
    let g = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
    let f = KernelFamily::time_families(&g, &both, 4).unwrap();
    assert!(both.contains(&f), "{f:?}");
    let key = "family r2-convolutions batch=4";
    let again = gpu.clone().with_tuner(Tuner::new(false, Some(&id), Some(dir.clone())));
    let kept = again.tuned(key, &["tiled-gemm", "direct"], |_| panic!("a remembered family is not timed again")).unwrap();
    assert_eq!(kept.as_deref(), Some(f.name()));
    println!("timed on this adapter: {}", f.name());
    let off = gpu.clone().with_tuner(Tuner::new(true, Some(&id), Some(dir.clone())));
    assert_eq!(KernelFamily::time_families(&off, &both, 4).unwrap(), KernelFamily::Tiled);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sgemm_tn`, C = aᵀ·b from a (K, M) and b (K, N) row-major (the Linear weight gradient without
/// transposes): K not a multiple of 4 (the rows past it read as zeros), M and N off the tile, in
/// one split and in several (slot s: the rows of split s), overwriting and accumulating.
#[test]
fn sgemm_tn_matches_cpu() {
    let Some(gpu) = family() else { return };
    let u = |v: usize| v as u32;
    for &(m, n, k) in &[(4usize, 4usize, 1usize), (36, 68, 13), (128, 40, 1024), (8, 100, 7)] {
        let (a, b) = (randv(k * m, 21, 1.0), randv(k * n, 22, 1.0));
        let want: Vec<f32> = (0..m * n).map(|o| (0..k).map(|t| a[t * m + o / n] as f64 * b[t * n + o % n] as f64).sum::<f64>() as f32).collect();
        let (ta, tb) = (tensor(&gpu, &a), tensor(&gpu, &b));
        let k4 = k.div_ceil(4);
        for (splits, k_per) in [(1usize, k4), (k4.div_ceil(3.max(1).min(k4)), 3.min(k4))] {
            let splits = splits.max(1);
            let p = SgemmParams { m: u(m), n: u(n), k4: u(k4), k_per: u(k_per), splits: u(splits), tiles_m: u(m.div_ceil(32)), tiles_n: u(n.div_ceil(32)), flags: 4, p_len: u(n), s_n: 0, s_m: u(n), off: 0, slot: u(m * n), k_rows: u(k), slope: 0.0, _pad: 0, geo: Default::default() };
            let prior = randv(splits * m * n, 23, 1.0);
            for add in [false, true] {
                let out = tensor(&gpu, &prior);
                let p = SgemmParams { flags: 4 | 2 * add as u32, ..p };
                launch(&gpu, &Sgemm { entry: "sgemm_tn", a: &ta.buffer, b: &tb.buffer, bias: &ta.buffer, out: &out.buffer, out4: &out.buffer, act4: &out.buffer, pre4: &ta.buffer }, &p, Some(u(splits * m.div_ceil(32) * n.div_ceil(32) * 8)));
                let got = out.read(&gpu).unwrap();
                let summed: Vec<f32> = (0..m * n).map(|i| (0..splits).map(|s| got[s * m * n + i] as f64 - if add { prior[s * m * n + i] as f64 } else { 0.0 }).sum::<f64>() as f32).collect();
                check(&format!("sgemm_tn {m}×{n}×{k} in {splits} splits{}", if add { ", accumulated" } else { "" }), &summed, &want, TOL);
            }
        }
    }
}

/// A program whose products read their operands through textures gives the same numbers
/// recorded by `Program::encode` into a host's own encoder as run by the crate, because both
/// encode the buffers' copies before the launches; recording it into a bare compute pass, where
/// the copies cannot go, is an error rather than a product of stale texture contents.
#[test]
fn texture_reads_encode_their_copies() {
    use wgpu_gan::ops::conv_gemm::Product;
    use wgpu_gan::ops::Operands;
    let Some(gpu) = family() else { return };
    let g = Operands::Textures.on(&gpu);
    let (m, n, k) = (40usize, 72usize, 64usize);
    let (a, b) = (randv(m * k, 15, 1.0), randv(n * k, 16, 1.0));
    let (ta, tb) = (tensor(&g, &a), tensor(&g, &b));
    let prod = Product { a: &ta.buffer, b: &tb.buffer, bias: None, m, n, k4: k / 4, map: Product::rows(n) };
    let want: Vec<f32> = product(&a, &b, m, n, k).iter().map(|&v| v as f32).collect();
    // Another product first, so that the shared texture holds other numbers before each run.
    let (c, d) = (tensor(&g, &randv(m * k, 17, 1.0)), tensor(&g, &randv(n * k, 18, 1.0)));
    let other = Product { a: &c.buffer, b: &d.buffer, bias: None, m, n, k4: k / 4, map: Product::rows(n) };
    let out = tensor(&g, &vec![0.0; m * n]);
    let scratch = tensor(&g, &vec![0.0; m * n]);
    let mut prog = wgpu_gan::gpu::Program::default();
    prog.push(other.whole(&g, &scratch.buffer).unwrap());
    prog.push(prod.whole(&g, &out.buffer).unwrap());
    assert!(prog.dispatches.iter().all(|d| d.mirrored()), "the products do not read through textures");
    prog.run(&g);
    check("run", &out.read(&g).unwrap(), &want, TOL);
    out.write(&g, &vec![0.0f32; m * n]).unwrap();
    let mut enc = g.device.create_command_encoder(&Default::default());
    prog.encode(&mut enc);
    g.queue.submit([enc.finish()]);
    check("encode", &out.read(&g).unwrap(), &want, TOL);
    let mut enc = g.device.create_command_encoder(&Default::default());
    let err = prog.record(&mut enc.begin_compute_pass(&Default::default())).expect_err("texture reads recorded into a bare pass").to_string();
    println!("refused: {err}");
    assert!(err.contains("Program::encode"), "{err}");
}

