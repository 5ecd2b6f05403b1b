//! The texture copies that launches reading operands through textures need are skipped only where
//! the mirror already holds what the launch would copy (`Program::encode`): a range written in
//! between, in whole or in part, is copied again, and so is a range copied before only in part.
//! Each program below runs in one submission on a device that reads operands through textures,
//! and each launch's result is checked against the values its operand held at its turn.

mod common;

use common::gpu;
use wgpu_gan::gpu::{Dispatch, Gpu, Program, Tensor};
use wgpu_gan::nn::copy_range;
use wgpu_gan::ops::linear::{LinearBackwardBias, LinearParams};
use wgpu_gan::ops::Operands;

const ROWS: usize = 4;
const COLS: usize = 4;

/// db = Σ_rows dy over a (ROWS, COLS) operand, which this kernel reads through a texture.
fn column_sums(g: &Gpu, dy: &Tensor, out: &Tensor) -> Dispatch {
    Dispatch::new(g, &LinearBackwardBias { dy, out }, &LinearParams::new(ROWS, 1, COLS, false), Some(COLS as u32)).unwrap()
}

fn sums(v: &[f32]) -> Vec<f32> {
    (0..COLS).map(|c| (0..ROWS).map(|r| v[r * COLS + c]).sum()).collect()
}

fn textured() -> Gpu {
    let g = Operands::Textures.on(&gpu());
    assert!(column_sums(&g, &Tensor::zeros(&g, "x", ROWS * COLS).unwrap(), &Tensor::zeros(&g, "y", COLS).unwrap()).mirrored(), "the launch must read its operand through a texture on this device");
    g
}

#[test]
fn a_range_written_between_two_reads_is_copied_again() {
    let g = textured();
    let first: Vec<f32> = (0..ROWS * COLS).map(|i| i as f32).collect();
    let second: Vec<f32> = (0..ROWS * COLS).map(|i| 100.0 - 3.0 * i as f32).collect();
    let x = Tensor::new(&g, &[ROWS, COLS], &first).unwrap();
    let src = Tensor::new(&g, &[ROWS, COLS], &second).unwrap();
    let patch = Tensor::new(&g, &[2], &[1000.0, 2000.0]).unwrap();
    let ys: Vec<Tensor> = (0..4).map(|i| Tensor::zeros(&g, &format!("y{i}"), COLS).unwrap()).collect();
    let mut p = Program::default();
    p.push(column_sums(&g, &x, &ys[0]));
    // Read again, nothing written: the same values (the copy may be skipped).
    p.push(column_sums(&g, &x, &ys[1]));
    // All of x rewritten by a launch, then read.
    p.push(copy_range(&g, &src, 0, &x, 0, ROWS * COLS).unwrap());
    p.push(column_sums(&g, &x, &ys[2]));
    // Two values of x, in its middle, rewritten, then read.
    p.push(copy_range(&g, &patch, 0, &x, 5, 2).unwrap());
    p.push(column_sums(&g, &x, &ys[3]));
    p.run(&g);
    let mut patched = second.clone();
    patched[5..7].copy_from_slice(&[1000.0, 2000.0]);
    let want = [sums(&first), sums(&first), sums(&second), sums(&patched)];
    for (i, (y, w)) in ys.iter().zip(&want).enumerate() {
        assert_eq!(&y.read(&g).unwrap(), w, "launch {i} read stale values through its texture");
    }
}

#[test]
fn a_range_copied_in_part_is_copied_whole_when_a_launch_reads_it_whole() {
    let g = textured();
    let v: Vec<f32> = (0..ROWS * COLS).map(|i| 1.0 + i as f32).collect();
    let x = Tensor::new(&g, &[ROWS, COLS], &v).unwrap();
    let (y0, y1) = (Tensor::zeros(&g, "y0", COLS).unwrap(), Tensor::zeros(&g, "y1", COLS).unwrap());
    let mut p = Program::default();
    // A launch that copies only the first row (one texel) of x: the rows after it are whatever
    // the texture held, so its result is not checked.
    p.push(column_sums(&g, &x, &y0).with_mirror_extents(&[1]));
    p.push(column_sums(&g, &x, &y1));
    p.run(&g);
    assert_eq!(y1.read(&g).unwrap(), sums(&v), "a launch that reads all of x must not skip the copy after a partial one");
}
