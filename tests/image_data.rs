//! R6's image data (src/data/images.rs): a folder of PNG and JPEG files of mixed sizes, made here
//! with the `image` crate, with two files that are not images and two symbolic links (to an
//! image, and back to the folder); the errors a user can meet (no
//! such folder, an empty one, an image too small, a PNG that declares 100,000 × 100,000 pixels);
//! the values of a known image after resizing and cropping; and the shapes toy, whose classes
//! `shape_class` reads back from the pictures.

use image::{ImageFormat, Rgb, RgbImage};
use std::path::PathBuf;
use wgpu_gan::data::images::{fake, load_folder, shape_class, shape_coverage, shapes, FolderOptions, SHAPE_CLASSES};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgpu-gan-images-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn solid(w: u32, h: u32, c: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(c))
}

fn opts(size: usize, nc: usize) -> FolderOptions {
    FolderOptions { size, nc, min_side: 8, max_images: None }
}

/// A PNG whose header declares `w` × `h` RGB pixels, followed by an empty image stream.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn a_folder_of_mixed_images_loads_and_reports_what_it_skipped() {
    let d = scratch("mixed");
    solid(40, 30, [255, 0, 0]).save_with_format(d.join("red.png"), ImageFormat::Png).unwrap();
    solid(64, 80, [0, 255, 0]).save_with_format(d.join("green.jpg"), ImageFormat::Jpeg).unwrap();
    std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
    solid(50, 50, [0, 0, 255]).save_with_format(d.join("sub/deeper/blue.PNG"), ImageFormat::Png).unwrap();
    std::fs::write(d.join("sub/broken.png"), b"\x89PNG\r\n\x1a\nthis is not really a png").unwrap();
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    // A link to an image counts as the image; a link back to the folder is not followed.
    std::os::unix::fs::symlink(d.join("red.png"), d.join("sub/link.png")).unwrap();
    std::os::unix::fs::symlink(&d, d.join("sub/loop")).unwrap();
    let set = load_folder(&d, opts(16, 3)).unwrap();
    let report = set.skipped_report().unwrap();
    println!("{} images of {} values; {report}", set.count, set.dim());
    assert_eq!((set.count, set.dim(), set.rows.len()), (4, 3 * 16 * 16, 4 * 3 * 16 * 16));
    assert_eq!(set.skipped.len(), 2, "{report}");
    assert!(report.contains("broken.png") && report.contains("notes.txt"), "{report}");
    // Path order: green.jpg, red.png, sub/deeper/blue.PNG, sub/link.png. A solid colour stays
    // that colour through the resize and crop: its channel at +1, the others at −1 (JPEG within
    // its error).
    let plane = 16 * 16;
    let mean = |img: usize, c: usize| set.rows[img * 3 * plane + c * plane..img * 3 * plane + (c + 1) * plane].iter().sum::<f32>() / plane as f32;
    for (img, bright) in [(0, 1), (1, 0), (2, 2), (3, 0)] {
        for c in 0..3 {
            let want = if c == bright { 1.0 } else { -1.0 };
            assert!((mean(img, c) - want).abs() < 0.03, "image {img} channel {c}: mean {} instead of {want}", mean(img, c));
        }
    }
    // Grey: one channel.
    let grey = load_folder(&d, opts(8, 1)).unwrap();
    assert_eq!((grey.count, grey.dim()), (4, 64));
    let _ = std::fs::remove_dir_all(&d);
}

/// Resize on the shorter side, then the centre: a 90 × 30 image, black but for a white band over
/// columns 20..70, becomes 30 × 10 and its centre 10 × 10 (columns 30..60 of the original) is all
/// white: the black sides are cropped away (the band is wider than the crop, so that the resize's
/// blending at its edges stays outside).
#[test]
fn the_shorter_side_is_resized_and_the_centre_kept() {
    let d = scratch("crop");
    let mut img = solid(90, 30, [0, 0, 0]);
    for y in 0..30 {
        for x in 20..70 {
            img.put_pixel(x, y, Rgb([255, 255, 255]));
        }
    }
    img.save_with_format(d.join("wide.png"), ImageFormat::Png).unwrap();
    let set = load_folder(&d, opts(10, 1)).unwrap();
    let min = set.rows.iter().cloned().fold(f32::INFINITY, f32::min);
    println!("centre crop of a 90 × 30 image to 10 × 10: min value {min}");
    assert!(min > 0.99, "the black sides should have been cropped away: {:?}", set.rows);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_folders_and_images_are_clear_errors() {
    let missing = std::env::temp_dir().join("wgpu-gan-no-such-folder-xyz");
    let e = load_folder(&missing, opts(16, 3)).unwrap_err().to_string();
    println!("missing: {e}");
    assert!(e.contains("does not exist"), "{e}");

    let empty = scratch("empty");
    let e = load_folder(&empty, opts(16, 3)).unwrap_err().to_string();
    println!("empty: {e}");
    assert!(e.contains("no readable image"), "{e}");

    std::fs::write(empty.join("a.txt"), "text").unwrap();
    let e = load_folder(&empty, opts(16, 3)).unwrap_err().to_string();
    println!("only text: {e}");
    assert!(e.contains("no readable image") && e.contains("a.txt"), "{e}");

    let tiny = scratch("tiny");
    solid(4, 6, [9, 9, 9]).save_with_format(tiny.join("tiny.png"), ImageFormat::Png).unwrap();
    let e = load_folder(&tiny, opts(16, 3)).unwrap_err().to_string();
    println!("too small: {e}");
    assert!(e.contains("tiny.png") && e.contains("4 × 6"), "{e}");
    for d in [empty, tiny] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A PNG declaring 100,000 × 100,000 pixels (30 GB decoded) is refused by the decoding limits and
/// skipped with the reason, without allocating it; the folder's real image still loads.
#[test]
fn a_decompression_bomb_is_refused_not_allocated() {
    let d = scratch("bomb");
    std::fs::write(d.join("bomb.png"), png_declaring(100_000, 100_000)).unwrap();
    solid(20, 20, [1, 2, 3]).save_with_format(d.join("ok.png"), ImageFormat::Png).unwrap();
    let set = load_folder(&d, opts(8, 3)).unwrap();
    let report = set.skipped_report().unwrap();
    println!("{report}");
    assert_eq!(set.count, 1);
    assert!(report.contains("bomb.png"), "{report}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Every class of the shapes toy is drawn, and `shape_class` reads each picture's class back.
#[test]
fn the_shapes_toy_has_nine_readable_classes() {
    for size in [32, 64] {
        let set = shapes(450, size, 3).unwrap();
        let labels = set.labels.as_ref().unwrap();
        let dim = set.dim();
        let right = (0..set.count).filter(|&i| shape_class(&set.rows[i * dim..(i + 1) * dim], size) == Some(labels[i] as usize)).count();
        let (classes, clear, per) = shape_coverage(&set.rows, set.count, size);
        println!("shapes at {size} × {size}: {right}/{} read back as drawn; coverage {classes}/{SHAPE_CLASSES} classes, {clear} clear, per class {per:?}", set.count);
        assert_eq!(classes, SHAPE_CLASSES);
        assert!(right * 100 >= set.count * 98, "{right} of {}", set.count);
        assert!(set.rows.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    // Noise is no shape.
    let noise = fake(20, 3, 32, 1);
    let (classes, clear, _) = shape_coverage(&noise.rows, noise.count, 32);
    assert_eq!((classes, clear), (0, 0), "noise read as shapes");
    assert!(noise.rows.iter().all(|v| (-1.0..=1.0).contains(v)) && noise.rows.len() == 20 * 3 * 32 * 32);
    assert!(shapes(4, 8, 0).is_err());
}

/// A generator draws soft edges and pixel-scale artefacts: `shape_class` must still read each
/// class from the toy blurred (a 3 × 3 box filter, twice), and from the toy with a grid of dark
/// holes (every other pixel of every other row at the background: a transposed convolution's
/// checkerboard), as it reads the sharp pictures.
#[test]
fn shape_class_reads_soft_and_spotted_shapes() {
    let size = 32;
    let set = shapes(450, size, 4).unwrap();
    let labels = set.labels.as_ref().unwrap();
    let plane = size * size;
    let blur = |img: &[f32]| -> Vec<f32> {
        let mut out = img.to_vec();
        for c in 0..3 {
            let p = &img[c * plane..(c + 1) * plane];
            for y in 0..size {
                for x in 0..size {
                    let (mut s, mut n) = (0.0, 0.0);
                    for dy in -1i64..=1 {
                        for dx in -1i64..=1 {
                            let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                            if yy >= 0 && xx >= 0 && (yy as usize) < size && (xx as usize) < size {
                                s += p[yy as usize * size + xx as usize];
                                n += 1.0;
                            }
                        }
                    }
                    out[c * plane + y * size + x] = s / n;
                }
            }
        }
        out
    };
    let holes = |img: &[f32]| -> Vec<f32> { img.iter().enumerate().map(|(i, &v)| if (i % plane / size) % 2 == 0 && i % 2 == 0 { -0.8 } else { v }).collect() };
    let twice = |img: &[f32]| blur(&blur(img));
    let spoilers: [(&str, &dyn Fn(&[f32]) -> Vec<f32>); 2] = [("blurred twice", &twice), ("with a grid of holes", &holes)];
    for (name, spoil) in spoilers {
        let mut per = [[0usize; 2]; SHAPE_CLASSES];
        for i in 0..set.count {
            let img = spoil(&set.rows[i * 3 * plane..(i + 1) * 3 * plane]);
            let l = labels[i] as usize;
            per[l][1] += 1;
            if shape_class(&img, size) == Some(l) {
                per[l][0] += 1;
            }
        }
        println!("shapes {name}: read back as drawn, per class [right, of]: {per:?}");
        for (c, [right, of]) in per.iter().enumerate() {
            assert!(right * 100 >= of * 90, "class {c}: {right} of {of} read back {name}");
        }
    }
}
