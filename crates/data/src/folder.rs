//! ImageNet-style folders (one sub-folder per class of JPEG or PNG images) read one image at a
//! time: class names, and single files decoded as a network sees them (prediction). Training
//! and evaluation stream them through [`FolderSet`](crate::FolderSet).

use std::path::Path;

use fast_image_resize::Resizer;

use crate::Split;
use crate::error::{Error, Result};
use crate::stream::{decode_noting_colour, split_root};
use crate::transform::{centre_crop, resize_crop};

/// The class names of the folder set in `dir`, in label order: its training split's class
/// folders, sorted.
pub fn class_names(dir: &Path) -> Result<Vec<String>> {
    let (root, _) = split_root(dir, Split::Train);
    crate::folder_index::class_names(&root)
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

/// Decodes a JPEG or PNG file as evaluation reads image folders: the shorter side resized to
/// `resolution / test_crop` and the centre `resolution` square kept (antialiased bilinear),
/// with `channels` planes: 3 for RGB, 1 for grayscale (luma). A file of the other kind is
/// converted and says so.
pub fn decode_image(
    path: &Path,
    channels: usize,
    resolution: usize,
    test_crop: f64,
) -> Result<DecodedImage> {
    if channels != 1 && channels != 3 {
        return Err(Error::format(
            path,
            format!("a network of {channels} input channels reads no image file (1 or 3)"),
        ));
    }
    let (image, colour_file) = decode_noting_colour(path, channels)?;
    let converted = match (channels, colour_file) {
        (3, false) => Some("grayscale to RGB"),
        (1, true) => Some("RGB to grayscale"),
        _ => None,
    };
    let side = resolution as u32;
    let crop = centre_crop(image.width, image.height, side, test_crop);
    let mut pixels = Vec::with_capacity(channels * resolution * resolution);
    resize_crop(&mut Resizer::new(), &image, crop, side).extend_planar(&mut pixels);
    Ok(DecodedImage { pixels, converted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_decode_at_the_network_side_with_conversions_named() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = image::RgbImage::from_pixel(40, 30, image::Rgb([200u8, 10, 10]));
        rgb.save(dir.path().join("a.png")).unwrap();
        let gray = image::GrayImage::from_pixel(20, 20, image::Luma([90u8]));
        gray.save(dir.path().join("g.png")).unwrap();
        let a = decode_image(&dir.path().join("a.png"), 3, 16, 1.0).unwrap();
        assert_eq!((a.pixels.len(), a.converted), (3 * 256, None));
        // Red plane bright, blue plane dark.
        assert!(a.pixels[0] > 150 && a.pixels[2 * 256] < 60);
        let g = decode_image(&dir.path().join("g.png"), 3, 8, 0.875).unwrap();
        assert_eq!(g.converted, Some("grayscale to RGB"));
        assert!(g.pixels.iter().all(|&v| v == 90));
        let l = decode_image(&dir.path().join("a.png"), 1, 8, 1.0).unwrap();
        assert_eq!(
            (l.pixels.len(), l.converted),
            (64, Some("RGB to grayscale"))
        );
        std::fs::write(dir.path().join("c.png"), "not a png").unwrap();
        let err = decode_image(&dir.path().join("c.png"), 3, 8, 1.0).unwrap_err();
        assert!(
            err.to_string().contains("c.png: cannot decode image"),
            "{err}"
        );
    }
}
