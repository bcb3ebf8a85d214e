//! Stage 1: pixels to a full-resolution f32 luma plane.
//!
//! Mirrors `fillFloatLumaFromRGB` / `fillFloatLumaFromGrey` in the reference
//! (pdq/cpp/downscaling/downscaling.cpp and pdq/cpp/hashing/pdqhashing.cpp):
//! `0.299f*R + 0.587f*G + 0.114f*B`, each product in f32, summed left to right, never fused.
//! Grey input is used as is. Alpha is ignored: the reference hashes the stored RGB.

use crate::pixels::{PixelFormat, PixelView};

/// Reference luma weights (f32 literals, as in the C++ `#define`s).
pub const LUMA_FROM_R: f32 = 0.299;
/// See [`LUMA_FROM_R`].
pub const LUMA_FROM_G: f32 = 0.587;
/// See [`LUMA_FROM_R`].
pub const LUMA_FROM_B: f32 = 0.114;

/// A row-major f32 plane of `width * height` values.
#[derive(Debug, Clone, PartialEq)]
pub struct LumaPlane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// Luma of one RGB pixel in the reference's exact operation order.
#[inline(always)]
pub fn luma_of(r: u8, g: u8, b: u8) -> f32 {
    // Separate statements are not needed for exactness: Rust never contracts a*b+c into an FMA.
    LUMA_FROM_R * f32::from(r) + LUMA_FROM_G * f32::from(g) + LUMA_FROM_B * f32::from(b)
}

/// Converts a pixel view to its luma plane.
pub fn luma_plane(view: &PixelView<'_>) -> LumaPlane {
    let width = view.width() as usize;
    let height = view.height() as usize;
    let mut data = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = view.row(y);
        match view.format() {
            PixelFormat::Gray8 => data.extend(row.iter().map(|&v| f32::from(v))),
            PixelFormat::Rgb8 => {
                data.extend(row.chunks_exact(3).map(|p| luma_of(p[0], p[1], p[2])))
            }
            PixelFormat::Rgba8 => {
                data.extend(row.chunks_exact(4).map(|p| luma_of(p[0], p[1], p[2])))
            }
        }
    }
    LumaPlane {
        width,
        height,
        data,
    }
}
