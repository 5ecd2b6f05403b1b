//! PNG pictures: scatter plots of real vs generated points, and side-by-side panels of them.

use crate::error::{Error, Result};
use image::{Rgb, RgbImage};
use std::path::Path;

const BG: Rgb<u8> = Rgb([255, 255, 255]);
const AXIS: Rgb<u8> = Rgb([225, 225, 225]);
const REAL: Rgb<u8> = Rgb([150, 150, 150]);
const FAKE: Rgb<u8> = Rgb([30, 90, 200]);
const CENTRE: Rgb<u8> = Rgb([220, 40, 40]);

/// A square scatter plot of the region [−extent, extent]²: real points grey, generated points blue,
/// mixture centres as red crosses, the axes in light grey.
pub fn scatter(size: u32, extent: f32, real: &[f32], fake: &[f32], centres: &[[f32; 2]]) -> RgbImage {
    let mut img = RgbImage::from_pixel(size, size, BG);
    let to_px = |x: f32, y: f32| -> Option<(i64, i64)> {
        let px = ((x / extent + 1.0) * 0.5 * size as f32).floor() as i64;
        let py = ((1.0 - y / extent) * 0.5 * size as f32).floor() as i64;
        (px >= 0 && py >= 0 && px < size as i64 && py < size as i64).then_some((px, py))
    };
    let mid = size / 2;
    for i in 0..size {
        img.put_pixel(i, mid, AXIS);
        img.put_pixel(mid, i, AXIS);
    }
    let dot = |img: &mut RgbImage, x: f32, y: f32, c: Rgb<u8>, r: i64| {
        if let Some((px, py)) = to_px(x, y) {
            for dx in -r..=r {
                for dy in -r..=r {
                    let (qx, qy) = (px + dx, py + dy);
                    if qx >= 0 && qy >= 0 && qx < size as i64 && qy < size as i64 {
                        img.put_pixel(qx as u32, qy as u32, c);
                    }
                }
            }
        }
    };
    for p in real.chunks_exact(2) {
        dot(&mut img, p[0], p[1], REAL, 1);
    }
    for p in fake.chunks_exact(2) {
        dot(&mut img, p[0], p[1], FAKE, 0);
    }
    for c in centres {
        if let Some((px, py)) = to_px(c[0], c[1]) {
            for d in -4i64..=4 {
                for (qx, qy) in [(px + d, py + d), (px + d, py - d)] {
                    if qx >= 0 && qy >= 0 && qx < size as i64 && qy < size as i64 {
                        img.put_pixel(qx as u32, qy as u32, CENTRE);
                    }
                }
            }
        }
    }
    img
}

/// Places panels left to right with a 4-pixel gap.
pub fn row(panels: &[RgbImage]) -> RgbImage {
    let h = panels.iter().map(|p| p.height()).max().unwrap_or(1);
    let w = panels.iter().map(|p| p.width() + 4).sum::<u32>().saturating_sub(4).max(1);
    let mut out = RgbImage::from_pixel(w, h, Rgb([90, 90, 90]));
    let mut x = 0;
    for p in panels {
        image::imageops::replace(&mut out, p, x as i64, 0);
        x += p.width() + 4;
    }
    out
}

/// Writes a PNG atomically (temporary file, then rename), creating the directory if needed.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png).map_err(|e| Error::Image(format!("{}: {e}", path.display())))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
