//! Pictures as PNG: the SVG rasterised with resvg, text in the system's sans-serif font.

use resvg::{tiny_skia, usvg};

/// Sans-serif families tried in order for the pictures' `sans-serif` text.
const SANS_SERIF: [&str; 4] = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"];

/// Rasterises `svg` at `scale` (2 for a sharp picture) into PNG bytes. Without any of the
/// usual system fonts the text is left out and the shapes are still drawn.
///
/// # Errors
/// An SVG resvg cannot read, or a picture of zero size.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    if let Some(family) = SANS_SERIF.into_iter().find(|f| {
        fonts
            .faces()
            .any(|face| face.families.iter().any(|(n, _)| n == f))
    }) {
        fonts.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| format!("reading the SVG: {e}"))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or("an empty picture")?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("an empty picture")?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("encoding the PNG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rasterises_at_the_scale_asked() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"20\">\
                   <rect width=\"40\" height=\"20\" fill=\"white\"/>\
                   <rect x=\"10\" y=\"5\" width=\"20\" height=\"10\" fill=\"#2171b5\"/></svg>";
        let png = svg_to_png(svg, 2.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // Width and height in the IHDR chunk, big-endian.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (80, 40));
        assert!(svg_to_png("<svg", 1.0).is_err());
    }
}
