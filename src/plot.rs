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
///
/// ```
/// use wgpu_gan::plot::scatter;
/// let img = scatter(100, 1.0, &[0.5, 0.5], &[-0.5, -0.5], &[]);
/// assert_eq!(img.dimensions(), (100, 100));
/// assert_eq!(img.get_pixel(75, 25).0, [150, 150, 150]);   // the real point, up and right: grey
/// assert_eq!(img.get_pixel(25, 75).0, [30, 90, 200]);     // the generated one: blue
/// assert_eq!(img.get_pixel(10, 10).0, [255, 255, 255]);   // background
/// ```
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
///
/// ```
/// use image::RgbImage;
/// use wgpu_gan::plot::row;
/// let out = row(&[RgbImage::new(10, 8), RgbImage::new(20, 5)]);
/// assert_eq!(out.dimensions(), (10 + 4 + 20, 8));
/// assert_eq!(out.get_pixel(12, 0).0, [90, 90, 90]);       // the gap
/// ```
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
///
/// ```
/// use image::{Rgb, RgbImage};
/// use wgpu_gan::plot::save_png;
/// # let dir = std::env::temp_dir().join(format!("save_png_{}", std::process::id()));
/// let path = dir.join("sub/pic.png");                    // the directories are created
/// save_png(&RgbImage::from_pixel(3, 2, Rgb([1, 2, 3])), &path)?;
/// let back = image::open(&path).unwrap().to_rgb8();
/// assert_eq!((back.dimensions(), back.get_pixel(2, 1).0), ((3, 2), [1, 2, 3]));
/// assert!(!dir.join("sub/pic.png.tmp").exists());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgpu_gan::Error>(())
/// ```
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| Error::Image(format!("{}: {e}", path.display())))?;
    crate::checkpoint::write_atomic(path, &png, "picture")
}

const GRID_GAP: Rgb<u8> = Rgb([60, 60, 60]);

/// Tiles `n` grayscale images into a grid, `cols` per row (rows as many as needed), each image
/// `h × w` pixels, row-major, stored back to back in `images`. A value of −1 is black and +1 white
/// (linearly in between, clamped outside; NaN is drawn black). Each pixel becomes a `scale × scale`
/// block and neighbouring cells are separated by a 2-pixel dark-grey gap (no border around the
/// outside), so the result is `cols·w·scale + 2·(cols−1)` wide and `rows·h·scale + 2·(rows−1)` high
/// with `rows = ⌈n / cols⌉` (at least 1). Cells past the `n`-th are left dark grey.
///
/// ```
/// use wgpu_gan::plot::image_grid;
/// // three 2 × 2 images (black, white, mid-grey), 2 per row, each pixel drawn 3 × 3
/// let images = [[-1.0; 4], [1.0; 4], [0.0; 4]].concat();
/// let g = image_grid(&images, 3, 2, 2, 2, 3);
/// assert_eq!(g.dimensions(), (2 * 6 + 2, 2 * 6 + 2));
/// assert_eq!(g.get_pixel(0, 0).0, [0; 3]);
/// assert_eq!(g.get_pixel(8, 0).0, [255; 3]);   // the second cell starts at x = 6 + 2
/// assert_eq!(g.get_pixel(0, 8).0, [128; 3]);   // 0 → 127.5, rounded
/// assert_eq!(g.get_pixel(8, 8).0, [60; 3]);    // no fourth image: dark grey
/// ```
pub fn image_grid(images: &[f32], n: usize, h: usize, w: usize, cols: usize, scale: u32) -> RgbImage {
    image_grid_channels(images, n, 1, h, w, cols, scale)
}

/// [`image_grid`] for images of `c` channels stored plane after plane (c × h × w each): grey for
/// one channel, RGB for three.
///
/// ```
/// use wgpu_gan::plot::image_grid_channels;
/// // one RGB image of 1 × 2 pixels, plane after plane: a red pixel and a green one
/// let img = [1.0, -1.0, /* G */ -1.0, 1.0, /* B */ -1.0, -1.0];
/// let g = image_grid_channels(&img, 1, 3, 1, 2, 1, 1);
/// assert_eq!(g.dimensions(), (2, 1));
/// assert_eq!((g.get_pixel(0, 0).0, g.get_pixel(1, 0).0), ([255, 0, 0], [0, 255, 0]));
/// ```
pub fn image_grid_channels(images: &[f32], n: usize, c: usize, h: usize, w: usize, cols: usize, scale: u32) -> RgbImage {
    assert!(c == 1 || c == 3, "image_grid: {c} channels (1 or 3)");
    assert!(images.len() >= n * c * h * w, "image_grid: {} values given for {n} images of {c}×{h}×{w}", images.len());
    let cols = cols.max(1) as u32;
    let scale = scale.max(1);
    let rows = (n as u32).div_ceil(cols).max(1);
    let (cw, ch) = (w as u32 * scale, h as u32 * scale);
    let width = (cols * cw + 2 * (cols - 1)).max(1);
    let height = (rows * ch + 2 * (rows - 1)).max(1);
    let mut out = RgbImage::from_pixel(width, height, GRID_GAP);
    let byte = |v: f32| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8; // NaN → 0
    let plane = h * w;
    for k in 0..n {
        let (x0, y0) = ((k as u32 % cols) * (cw + 2), (k as u32 / cols) * (ch + 2));
        let img = &images[k * c * plane..(k + 1) * c * plane];
        for i in 0..plane {
            let px = if c == 1 { [byte(img[i]); 3] } else { [byte(img[i]), byte(img[plane + i]), byte(img[2 * plane + i])] };
            let (x, y) = ((i % w) as u32 * scale, (i / w) as u32 * scale);
            for dy in 0..scale {
                for dx in 0..scale {
                    out.put_pixel(x0 + x + dx, y0 + y + dy, Rgb(px));
                }
            }
        }
    }
    out
}

/// Series colours of [`line_chart`], in order (then repeated).
///
/// ```
/// use wgpu_gan::plot::{line_chart, SERIES_COLOURS};
/// let xs = [0.0, 1.0, 2.0];
/// let chart = line_chart(&xs, &[("d", &[0.0, 1.0, 2.0]), ("g", &[2.0, 1.0, 0.0])], 200, 100);
/// let drawn = |c: image::Rgb<u8>| chart.pixels().any(|p| *p == c);
/// assert!(drawn(SERIES_COLOURS[0]) && drawn(SERIES_COLOURS[1]) && !drawn(SERIES_COLOURS[2]));
/// ```
pub const SERIES_COLOURS: [Rgb<u8>; 8] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([23, 190, 207]),
];

/// A 3×5 pixel glyph: five rows, three bits each (bit 2 is the left column).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        '+' => [0, 2, 7, 2, 0],
        '_' => [0, 0, 0, 0, 7],
        '=' => [0, 7, 0, 7, 0],
        ':' => [0, 2, 0, 2, 0],
        '/' => [1, 1, 2, 4, 4],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        ' ' => [0, 0, 0, 0, 0],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        _ => [7, 1, 2, 0, 2], // '?'
    }
}

fn put_clipped(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < img.width() as i64 && y < img.height() as i64 {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// Width in pixels of `s` drawn by [`draw_text`] at font scale `fs`.
fn text_width(s: &str, fs: i64) -> i64 {
    (s.chars().count() as i64 * 4 - 1).max(0) * fs
}

/// Draws `s` with the 3×5 font, top-left corner at (x, y), each font pixel `fs × fs`.
fn draw_text(img: &mut RgbImage, s: &str, x: i64, y: i64, fs: i64, c: Rgb<u8>) {
    for (k, ch) in s.chars().enumerate() {
        let g = glyph(ch);
        for (r, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    for dy in 0..fs {
                        for dx in 0..fs {
                            put_clipped(img, x + (k as i64 * 4 + col) * fs + dx, y + r as i64 * fs + dy, c);
                        }
                    }
                }
            }
        }
    }
}

/// A short label for an axis end: up to 4 significant digits, exponent form when very large/small.
fn axis_label(v: f32) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.2e}")
    }
}

fn draw_line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    loop {
        put_clipped(img, x, y, c);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// A `width × height` line chart of each named series against `xs` (e.g. training step), one
/// colour per series from [`SERIES_COLOURS`]. A legend at the top shows each series' colour bar
/// followed by its name (upper-cased, in a built-in 3×5 pixel font); the axes carry their min and
/// max values in the same font, and a light line marks y = 0 when it is in range.
/// Points where x or y is not finite are skipped and break the line there; a series longer or
/// shorter than `xs` is cut to the common length.
///
/// ```
/// use wgpu_gan::plot::{line_chart, SERIES_COLOURS};
/// let steps: Vec<f32> = (0..10).map(|i| i as f32).collect();
/// let mut loss: Vec<f32> = steps.iter().map(|s| (-s).exp()).collect();
/// loss[4] = f32::NAN;                                       // breaks the line, nothing more
/// let chart = line_chart(&steps, &[("loss", &loss)], 320, 200);
/// assert_eq!(chart.dimensions(), (320, 200));
/// assert!(chart.pixels().any(|p| *p == SERIES_COLOURS[0]));
/// assert_eq!(line_chart(&steps, &[], 0, 0).dimensions(), (1, 1));
/// ```
pub fn line_chart(xs: &[f32], series: &[(&str, &[f32])], width: u32, height: u32) -> RgbImage {
    let (width, height) = (width.max(1), height.max(1));
    let mut img = RgbImage::from_pixel(width, height, BG);
    let fs: i64 = if height >= 300 && width >= 400 { 2 } else { 1 };
    let (wi, hi) = (width as i64, height as i64);
    let text = Rgb([60, 60, 60]);

    // Ranges over the finite points only.
    let finite_pts = || {
        series.iter().flat_map(|(_, ys)| {
            xs.iter().zip(ys.iter()).filter(|(x, y)| x.is_finite() && y.is_finite()).map(|(&x, &y)| (x, y))
        })
    };
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY);
    for (x, y) in finite_pts() {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(y);
        y_hi = y_hi.max(y);
    }
    if x_lo > x_hi {
        (x_lo, x_hi, y_lo, y_hi) = (0.0, 1.0, 0.0, 1.0);
    }
    if x_hi == x_lo {
        (x_lo, x_hi) = (x_lo - 1.0, x_hi + 1.0);
    }
    if y_hi == y_lo {
        let d = (y_lo.abs() * 0.1).max(1.0);
        (y_lo, y_hi) = (y_lo - d, y_hi + d);
    }

    // Legend rows at the top: [bar] NAME, wrapping to the next row when the width runs out.
    let line_h = 5 * fs + 4;
    let mut lx = 6i64;
    let mut ly = 4i64;
    for (k, (name, _)) in series.iter().enumerate() {
        let c = SERIES_COLOURS[k % SERIES_COLOURS.len()];
        let item_w = 10 * fs + 3 + text_width(name, fs) + 10;
        if lx > 6 && lx + item_w > wi {
            lx = 6;
            ly += line_h;
        }
        for dx in 0..10 * fs {
            for dy in 0..3 * fs {
                put_clipped(&mut img, lx + dx, ly + fs + dy, c);
            }
        }
        draw_text(&mut img, name, lx + 10 * fs + 3, ly, fs, text);
        lx += item_w;
    }
    let legend_h = if series.is_empty() { 0 } else { ly + line_h };

    // Plot area.
    let (ylab_lo, ylab_hi) = (axis_label(y_lo), axis_label(y_hi));
    let (xlab_lo, xlab_hi) = (axis_label(x_lo), axis_label(x_hi));
    let left = text_width(&ylab_lo, fs).max(text_width(&ylab_hi, fs)) + 4 + 3 * fs;
    let right = wi - 1 - (text_width(&xlab_hi, fs) / 2).max(6);
    let top = legend_h + 3 * fs;
    let bottom = hi - 1 - (5 * fs + 6);
    if right - left < 2 || bottom - top < 2 {
        return img; // too small for a plot area: legend only
    }
    let to_px = |x: f32, y: f32| -> (i64, i64) {
        let px = left as f32 + (x - x_lo) / (x_hi - x_lo) * (right - left) as f32;
        let py = bottom as f32 - (y - y_lo) / (y_hi - y_lo) * (bottom - top) as f32;
        (px.round() as i64, py.round() as i64)
    };
    if y_lo < 0.0 && y_hi > 0.0 {
        let (_, y0) = to_px(x_lo, 0.0);
        for x in left..=right {
            put_clipped(&mut img, x, y0, AXIS);
        }
    }
    let axis = Rgb([80, 80, 80]);
    for x in left..=right {
        put_clipped(&mut img, x, bottom, axis);
    }
    for y in top..=bottom {
        put_clipped(&mut img, left, y, axis);
    }
    for (x, y) in [(left, top), (left, bottom)] {
        for d in 1..=2 * fs {
            put_clipped(&mut img, x - d, y, axis);
        }
    }
    for (x, y) in [(left, bottom), (right, bottom)] {
        for d in 1..=2 * fs {
            put_clipped(&mut img, x, y + d, axis);
        }
    }
    // Axis end values: y max level with the top, y min level with the bottom, x at both ends.
    draw_text(&mut img, &ylab_hi, left - 3 * fs - text_width(&ylab_hi, fs), top, fs, text);
    draw_text(&mut img, &ylab_lo, left - 3 * fs - text_width(&ylab_lo, fs), bottom - 5 * fs + 1, fs, text);
    let xl_y = bottom + 2 * fs + 3;
    draw_text(&mut img, &xlab_lo, (left - text_width(&xlab_lo, fs) / 2).max(0), xl_y, fs, text);
    draw_text(&mut img, &xlab_hi, (right - text_width(&xlab_hi, fs) / 2).min(wi - text_width(&xlab_hi, fs)), xl_y, fs, text);

    // The series, broken at non-finite points.
    for (k, (_, ys)) in series.iter().enumerate() {
        let c = SERIES_COLOURS[k % SERIES_COLOURS.len()];
        let mut prev: Option<(i64, i64)> = None;
        for (&x, &y) in xs.iter().zip(ys.iter()) {
            if !(x.is_finite() && y.is_finite()) {
                prev = None;
                continue;
            }
            let p = to_px(x, y);
            match prev {
                Some(q) => draw_line(&mut img, q, p, c),
                None => put_clipped(&mut img, p.0, p.1, c),
            }
            prev = Some(p);
        }
    }
    img
}
