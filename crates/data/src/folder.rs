//! ImageNet-style folders: one sub-folder per class holding JPEG or PNG images. Images are
//! decoded in parallel, resized (shorter side) and centre-cropped to a square once, and kept in
//! memory at that size.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::{ImageSet, Split};

/// Reads `dir/<split>/<class>/*` (with `split` = `train` or `val`, when those sub-folders exist;
/// otherwise `dir/<class>/*`) at `resolution` x `resolution`, RGB.
pub fn load(dir: &Path, split: Split, resolution: usize) -> Result<ImageSet> {
    let (root, sub) = split_root(dir, split);
    let classes = class_dirs(&root)?;
    let mut files = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let mut images: Vec<PathBuf> = read_dir(class)?
            .into_iter()
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
                })
            })
            .collect();
        images.sort();
        files.extend(images.into_iter().map(|p| (p, label as u16)));
    }
    if files.is_empty() {
        return Err(Error::Missing {
            path: root,
            hint: "the class folders hold no .jpg/.jpeg/.png images".into(),
        });
    }
    let decoded: Vec<Vec<u8>> = files
        .par_iter()
        .map(|(path, _)| decode(path, resolution))
        .collect::<Result<_>>()?;
    let labels = files.iter().map(|(_, l)| *l).collect();
    let name = format!("{} ({})", root.display(), sub);
    ImageSet::new(
        name,
        [3, resolution, resolution],
        classes.len(),
        decoded.concat(),
        labels,
    )
}

/// The class names of the folder set in `dir`, in label order: its training split's class
/// folders, sorted.
pub fn class_names(dir: &Path) -> Result<Vec<String>> {
    let (root, _) = split_root(dir, Split::Train);
    Ok(class_dirs(&root)?
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect())
}

/// `dir/train` or `dir/val` when that sub-folder exists, else `dir`; and the split's name.
fn split_root(dir: &Path, split: Split) -> (PathBuf, &'static str) {
    let sub = match split {
        Split::Train => "train",
        Split::Test => "val",
    };
    let root = if dir.join(sub).is_dir() {
        dir.join(sub)
    } else {
        dir.to_path_buf()
    };
    (root, sub)
}

/// The class folders under `root`, sorted (a class's label is its place in this list).
fn class_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut classes: Vec<PathBuf> = read_dir(root)?.into_iter().filter(|p| p.is_dir()).collect();
    classes.sort();
    if classes.is_empty() {
        return Err(Error::Missing {
            path: root.to_path_buf(),
            hint: "expected one sub-folder per class holding .jpg/.jpeg/.png images".into(),
        });
    }
    Ok(classes)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.flatten().map(|e| e.path()).collect())
}

/// The most elongated image accepted, longer side over shorter.
const MAX_ASPECT: u32 = 64;

/// Decodes one image, resizes its shorter side to `resolution` and crops the centre square;
/// returns `[3, resolution, resolution]` bytes.
fn decode(path: &Path, resolution: usize) -> Result<Vec<u8>> {
    Ok(decode_image(path, 3, resolution)?.pixels)
}

/// One image decoded for a network.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedImage {
    /// `[channels, resolution, resolution]` bytes, planar.
    pub pixels: Vec<u8>,
    /// How its colours were converted to the network's channels, if they were
    /// (`"grayscale to RGB"`, `"RGB to grayscale"`).
    pub converted: Option<&'static str>,
}

/// Decodes a JPEG or PNG file as the image folders do (shorter side resized to `resolution`
/// with a triangle filter, centre square cropped) with `channels` planes: 3 for RGB, 1 for
/// grayscale (luma). A file of the other kind is converted and says so.
pub fn decode_image(path: &Path, channels: usize, resolution: usize) -> Result<DecodedImage> {
    if channels != 1 && channels != 3 {
        return Err(Error::format(
            path,
            format!("a network of {channels} input channels reads no image file (1 or 3)"),
        ));
    }
    let img =
        image::open(path).map_err(|e| Error::format(path, format!("cannot decode image: {e}")))?;
    let gray_file = !img.color().has_color();
    let converted = match (channels, gray_file) {
        (3, true) => Some("grayscale to RGB"),
        (1, false) => Some("RGB to grayscale"),
        _ => None,
    };
    let img = match channels {
        1 => image::DynamicImage::ImageLuma8(img.to_luma8()).to_rgb8(),
        _ => img.to_rgb8(),
    };
    let (w, h) = img.dimensions();
    // The shorter side is resized to `resolution`: a strip a pixel high would make the other
    // side (and the allocation) thousands of times the resolution.
    if w.max(h) > MAX_ASPECT * w.min(h) {
        return Err(Error::format(
            path,
            format!("an image of {w}x{h} is too elongated to resize (at most {MAX_ASPECT}:1)"),
        ));
    }
    let scale = resolution as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(resolution as u32),
        ((h as f64 * scale).round() as u32).max(resolution as u32),
    );
    let resized = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
    let (x0, y0) = ((nw - resolution as u32) / 2, (nh - resolution as u32) / 2);
    let crop = image::imageops::crop_imm(&resized, x0, y0, resolution as u32, resolution as u32)
        .to_image();
    let plane = resolution * resolution;
    let mut out = vec![0u8; channels * plane];
    for (i, pixel) in crop.pixels().enumerate() {
        for c in 0..channels {
            out[c * plane + i] = pixel[c];
        }
    }
    Ok(DecodedImage {
        pixels: out,
        converted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_class_folders_of_png_and_jpeg() {
        let dir = tempfile::tempdir().unwrap();
        for (class, colour) in [("cat", [200u8, 10, 10]), ("dog", [10, 10, 200])] {
            let folder = dir.path().join("train").join(class);
            std::fs::create_dir_all(&folder).unwrap();
            let img = image::RgbImage::from_pixel(40, 30, image::Rgb(colour));
            img.save(folder.join("a.png")).unwrap();
            img.save(folder.join("b.jpg")).unwrap();
        }
        std::fs::write(dir.path().join("train/cat/notes.txt"), "ignored").unwrap();
        let set = load(dir.path(), Split::Train, 16).unwrap();
        assert_eq!((set.len(), set.classes, set.height), (4, 2, 16));
        assert_eq!(set.label(3), 1);
        // Red plane of a cat image is bright, blue plane dark.
        assert!(set.image(0)[0] > 150 && set.image(0)[2 * 256] < 60);
        std::fs::write(dir.path().join("train/dog/c.png"), "not a png").unwrap();
        let err = load(dir.path(), Split::Train, 16).unwrap_err().to_string();
        assert!(err.contains("c.png: cannot decode image"), "{err}");
    }
}
