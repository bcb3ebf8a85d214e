//! Stage 1: pixels to Pillow's 8-bit grey, `Image.convert('L')`.
//!
//! Mirrors `rgb2l` in Pillow's src/libImaging/Convert.c: the fixed-point ITU-R 601-2 luma
//! `L24(rgb) = r * 19595 + g * 38470 + b * 7471 + 0x8000`, shifted right by 16. RGBA converts
//! through the same function, so alpha is ignored; grey is used as is (Pillow's `L` needs no
//! conversion). Palette, 1-bit and grey+alpha images reach Pillow's `p2l`, `bit2l` and `la2l`,
//! which give what this stage gives for the expanded palette colours, 0/255 and the grey channel.

use crate::pixels::{PixelFormat, PixelView};

/// A row-major 8-bit grey image (Pillow mode `L`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl GreyImage {
    /// Row `y`.
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.width..][..self.width]
    }
}

/// Pillow's `L24(rgb) >> 16`.
#[inline(always)]
pub fn grey_of(r: u8, g: u8, b: u8) -> u8 {
    let l24 = u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000;
    // The weights sum to 65536, so the result is at most 255.
    (l24 >> 16) as u8
}

/// `Image.convert('L')` of the view.
pub fn to_grey(view: &PixelView<'_>) -> GreyImage {
    let (width, height) = (view.width() as usize, view.height() as usize);
    let mut data = vec![0u8; width * height];
    for (y, out) in data.chunks_exact_mut(width.max(1)).enumerate().take(height) {
        let row = view.row(y);
        match view.format() {
            PixelFormat::Gray8 => out.copy_from_slice(&row[..width]),
            PixelFormat::Rgb8 => grey_row_rgb(row, out),
            PixelFormat::Rgba8 => {
                for (o, p) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *o = grey_of(p[0], p[1], p[2]);
                }
            }
        }
    }
    GreyImage {
        width,
        height,
        data,
    }
}

/// Writes the grey values of a row of RGB pixels, sixteen at a time through planar arrays so
/// that the products run several lanes wide (the same [`grey_of`] per pixel). RGBA pixels,
/// aligned words, vectorise as they are.
pub(crate) fn grey_row_rgb(row: &[u8], out: &mut [u8]) {
    // Vector grey where the build has it (wasm simd128); this loop does the rest.
    let done = crate::arch::grey_rgb16(row, out);
    let (row, out) = (&row[3 * done..], &mut out[done..]);
    let blocks = row.chunks_exact(48);
    let rest = blocks.remainder();
    let mut outs = out.chunks_exact_mut(16);
    for (block, o) in blocks.zip(&mut outs) {
        let (mut r, mut g, mut b) = ([0u8; 16], [0u8; 16], [0u8; 16]);
        for (i, p) in block.chunks_exact(3).enumerate() {
            (r[i], g[i], b[i]) = (p[0], p[1], p[2]);
        }
        for i in 0..16 {
            o[i] = grey_of(r[i], g[i], b[i]);
        }
    }
    for (o, p) in outs.into_remainder().iter_mut().zip(rest.chunks_exact(3)) {
        *o = grey_of(p[0], p[1], p[2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_keeps_the_ends_and_rounds_like_pillow() {
        assert_eq!(grey_of(0, 0, 0), 0);
        assert_eq!(grey_of(255, 255, 255), 255);
        // (255 * 19595 + 0x8000) >> 16: 76.24 plus one half, truncated, is 76 (values from Pillow).
        assert_eq!(grey_of(255, 0, 0), 76);
        assert_eq!(grey_of(0, 255, 0), 150);
        assert_eq!(grey_of(0, 0, 255), 29);
    }

    #[test]
    fn blocked_rows_equal_pixel_by_pixel() {
        let mut next = crate::testing::xorshift32(0x2545_f491);
        for len in [0, 1, 15, 16, 17, 33, 100] {
            let row: Vec<u8> = (0..len * 4).map(|_| next() as u8).collect();
            let mut rgb = vec![0; len];
            grey_row_rgb(&row[..len * 3], &mut rgb);
            let want: Vec<u8> = row[..len * 3]
                .chunks_exact(3)
                .map(|p| grey_of(p[0], p[1], p[2]))
                .collect();
            assert_eq!(rgb, want);
            if len == 0 {
                continue;
            }
            let view = PixelView::packed(&row, len as u32, 1, PixelFormat::Rgba8).unwrap();
            let rgba = to_grey(&view).data;
            let want: Vec<u8> = row
                .chunks_exact(4)
                .map(|p| grey_of(p[0], p[1], p[2]))
                .collect();
            assert_eq!(rgba, want);
        }
    }
}
