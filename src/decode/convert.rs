//! Any decoded image to one of the three 8-bit layouts, as Pillow converts the same file
//! (see the module documentation of [`super`]), with the alpha policy applied.

use image::DynamicImage;

use super::AlphaPolicy;
use crate::pixels::PixelFormat;

/// Converts any decoded image to one of the three 8-bit layouts, as Pillow does (see the
/// module documentation), applying the alpha policy.
pub(super) fn to_8bit(image: DynamicImage, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    use image::{GrayImage, RgbImage, RgbaImage};
    let (w, h) = (image.width(), image.height());
    let high_byte = |v: Vec<u16>| -> Vec<u8> { v.into_iter().map(|s| (s >> 8) as u8).collect() };
    match image {
        DynamicImage::ImageLuma8(i) => (PixelFormat::Gray8, DynamicImage::ImageLuma8(i)),
        DynamicImage::ImageRgb8(i) => (PixelFormat::Rgb8, DynamicImage::ImageRgb8(i)),
        DynamicImage::ImageLumaA8(i) => grey_alpha(i.into_raw(), w, h, alpha),
        DynamicImage::ImageRgba8(i) => rgba(i, alpha),
        // Pillow opens 16-bit grey as mode I;16, and its conversion to L clips at 255.
        DynamicImage::ImageLuma16(i) => {
            let data = i.into_raw().into_iter().map(|s| s.min(255) as u8).collect();
            let grey = GrayImage::from_raw(w, h, data).expect("same dimensions");
            (PixelFormat::Gray8, DynamicImage::ImageLuma8(grey))
        }
        DynamicImage::ImageLumaA16(i) => grey_alpha(high_byte(i.into_raw()), w, h, alpha),
        DynamicImage::ImageRgb16(i) => {
            let rgb = RgbImage::from_raw(w, h, high_byte(i.into_raw())).expect("same dimensions");
            (PixelFormat::Rgb8, DynamicImage::ImageRgb8(rgb))
        }
        DynamicImage::ImageRgba16(i) => {
            let rgba8 =
                RgbaImage::from_raw(w, h, high_byte(i.into_raw())).expect("same dimensions");
            rgba(rgba8, alpha)
        }
        // Float images (TIFF) have no Pillow counterpart: the image crate's conversion.
        DynamicImage::ImageRgb32F(i) => (
            PixelFormat::Rgb8,
            DynamicImage::ImageRgb8(DynamicImage::ImageRgb32F(i).to_rgb8()),
        ),
        other => rgba(other.to_rgba8(), alpha),
    }
}

/// Grey+alpha samples to `Gray8`: the grey channel, or composited over the background.
fn grey_alpha(data: Vec<u8>, w: u32, h: u32, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    let grey: Vec<u8> = match alpha.background() {
        None => data.chunks_exact(2).map(|p| p[0]).collect(),
        Some(bg) => data
            .chunks_exact(2)
            .map(|p| composite(p[0], p[1], bg))
            .collect(),
    };
    let grey = image::GrayImage::from_raw(w, h, grey).expect("same dimensions");
    (PixelFormat::Gray8, DynamicImage::ImageLuma8(grey))
}

/// RGBA to `Rgba8` (kept) or `Rgb8` (composited).
fn rgba(image: image::RgbaImage, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    let Some(bg) = alpha.background() else {
        return (PixelFormat::Rgba8, DynamicImage::ImageRgba8(image));
    };
    let (w, h) = image.dimensions();
    let rgb: Vec<u8> = image
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| {
            [
                composite(p[0], p[3], bg),
                composite(p[1], p[3], bg),
                composite(p[2], p[3], bg),
            ]
        })
        .collect();
    (
        PixelFormat::Rgb8,
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb).expect("same dimensions")),
    )
}

/// `(c * a + bg * (255 - a) + 127) / 255`: `c` over `bg` with coverage `a`, rounded to nearest.
pub(super) fn composite(c: u8, a: u8, bg: u8) -> u8 {
    let (c, a, bg) = (u32::from(c), u32::from(a), u32::from(bg));
    ((c * a + bg * (255 - a) + 127) / 255) as u8
}

/// Pillow's `cmyk2rgb` (Convert.c) for one pixel of stored (non-inverted) CMYK:
/// `nk = 255 - K; R = nk - MULDIV255(C, nk)`, likewise G from M and B from Y, where
/// `MULDIV255(a, b) = ((t >> 8) + t) >> 8` with `t = a * b + 128` (a * b / 255 rounded).
#[cfg(feature = "tiff")]
pub(super) fn pillow_cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let nk = 255 - u32::from(k);
    let channel = |v: u8| {
        let t = u32::from(v) * nk + 128;
        // MULDIV255(v, nk) <= nk, so no clipping is needed.
        (nk - (((t >> 8) + t) >> 8)) as u8
    };
    [channel(c), channel(m), channel(y)]
}
