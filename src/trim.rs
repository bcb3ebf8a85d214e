//! Uniform borders around a picture (letterbox bars, a padding colour), found and cut off so
//! that a query can also be hashed as the picture alone: [`pdq_trimmed`] is the PDQ of what is
//! left, matched against PDQ entries like the dihedral variants are (`pdq-trimmed` in the
//! registry). It is a query's hash, never stored: an entry is the picture as it was stored.
//!
//! The rule, in integer arithmetic on the decoded pixels (grey counts as R = G = B, alpha is
//! ignored as PDQ ignores it):
//! - each side is trimmed while its outermost remaining line (row or column) is uniform: at
//!   most [`OUTLIER_PER_MILLE`] of its pixels are more than [`TOLERANCE`] from the side's colour
//!   in any channel, the side's colour being the mean of its outermost line;
//! - the top and bottom are trimmed first, on whole rows; then the left and right, on the
//!   columns of the rows that are kept;
//! - at least [`MIN_KEPT_NUM`]/[`MIN_KEPT_DEN`] of each dimension is kept, and a dimension
//!   under [`MIN_TRIMMED_DIMENSION`] pixels is not trimmed;
//! - nothing trimmed: the value is plain PDQ.

use crate::pdq::{pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// The largest difference (0-255, per channel) from a side's colour that counts as the same
/// colour: room for JPEG noise on a flat bar.
pub const TOLERANCE: u32 = 24;
/// Pixels per thousand of a line that may differ from the side's colour (JPEG ringing, dust).
pub const OUTLIER_PER_MILLE: usize = 10;
/// A trim keeps at least this share (numerator) of each dimension ...
pub const MIN_KEPT_NUM: usize = 1;
/// ... of this denominator.
pub const MIN_KEPT_DEN: usize = 4;
/// Dimensions under this many pixels are never trimmed.
pub const MIN_TRIMMED_DIMENSION: usize = 16;

/// The kept rectangle of an image: columns `left..right`, rows `top..bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub left: usize,
    pub top: usize,
    pub right: usize,
    pub bottom: usize,
}

impl Trim {
    /// Whether the whole image is kept.
    pub fn is_whole(&self, view: &PixelView<'_>) -> bool {
        *self
            == Trim {
                left: 0,
                top: 0,
                right: view.width() as usize,
                bottom: view.height() as usize,
            }
    }
}

/// The pixel at column `x` of `row` as RGB.
fn rgb(row: &[u8], x: usize, format: PixelFormat) -> [u8; 3] {
    match format {
        PixelFormat::Gray8 => [row[x]; 3],
        PixelFormat::Rgb8 => [row[3 * x], row[3 * x + 1], row[3 * x + 2]],
        PixelFormat::Rgba8 => [row[4 * x], row[4 * x + 1], row[4 * x + 2]],
    }
}

/// Whether every pixel of the line is within [`TOLERANCE`] of `colour`, outliers allowed.
fn same_colour(pixels: impl Iterator<Item = [u8; 3]>, len: usize, colour: [u8; 3]) -> bool {
    let allowed = len * OUTLIER_PER_MILLE / 1000;
    let mut outliers = 0;
    for p in pixels {
        if p.iter()
            .zip(colour)
            .any(|(&v, c)| v.abs_diff(c) > TOLERANCE as u8)
        {
            outliers += 1;
            if outliers > allowed {
                return false;
            }
        }
    }
    true
}

/// The mean colour of a line.
fn mean(pixels: impl Iterator<Item = [u8; 3]>) -> [u8; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for p in pixels {
        for (s, v) in sum.iter_mut().zip(p) {
            *s += u64::from(v);
        }
        n += 1;
    }
    sum.map(|s| ((s + n / 2) / n.max(1)) as u8)
}

/// How many lines, from the outside in, are of the outermost line's colour. `line(k)` gives
/// the pixels of the k-th line from the outside; at most `max` lines are trimmed.
fn border<I>(line: impl Fn(usize) -> I, len: usize, max: usize) -> usize
where
    I: Iterator<Item = [u8; 3]>,
{
    if max == 0 {
        return 0;
    }
    // The outermost line must be uniform itself: of its own mean colour.
    let colour = mean(line(0));
    if !same_colour(line(0), len, colour) {
        return 0;
    }
    (1..max)
        .find(|&k| !same_colour(line(k), len, colour))
        .unwrap_or(max)
}

/// The rows and columns of `view` left after its uniform borders are trimmed (see the module
/// documentation for the rule).
pub fn trimmed_bounds(view: &PixelView<'_>) -> Trim {
    let (w, h) = (view.width() as usize, view.height() as usize);
    let format = view.format();
    let mut t = Trim {
        left: 0,
        top: 0,
        right: w,
        bottom: h,
    };
    let room = |size: usize| {
        if size < MIN_TRIMMED_DIMENSION {
            0
        } else {
            size - size.div_ceil(MIN_KEPT_DEN) * MIN_KEPT_NUM
        }
    };

    // Rows: top, then bottom over what the top left.
    let max_rows = room(h);
    let row_pixels = |y: usize| (0..w).map(move |x| rgb(view.row(y), x, format));
    t.top = border(row_pixels, w, max_rows);
    t.bottom = h - border(|k| row_pixels(h - 1 - k), w, max_rows - t.top);

    // Columns, over the kept rows.
    let (top, bottom) = (t.top, t.bottom);
    let max_cols = room(w);
    let column = |x: usize| (top..bottom).map(move |y| rgb(view.row(y), x, format));
    t.left = border(column, bottom - top, max_cols);
    t.right = w - border(|k| column(w - 1 - k), bottom - top, max_cols - t.left);
    t
}

/// PDQ of the picture inside its uniform borders (plain PDQ when there are none).
pub fn pdq_trimmed(view: &PixelView<'_>) -> PdqOutput {
    let t = trimmed_bounds(view);
    if t.is_whole(view) {
        return pdq_hash(view);
    }
    pdq_hash(&view.crop(t.left, t.top, t.right - t.left, t.bottom - t.top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::xorshift32;

    /// A deterministic textured picture (no uniform line anywhere).
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut next = xorshift32(0x9e37_79b9);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 7 + y * 3) % 160 + (next() >> 26) as usize) as u8;
                out.extend([v, v.wrapping_add(40), 255 - v]);
            }
        }
        out
    }

    /// `pic` (w x h RGB) on a canvas with borders of `colour`: `l`, `t`, `r`, `b` pixels.
    fn framed(
        pic: &[u8],
        (w, h): (usize, usize),
        (l, t, r, b): (usize, usize, usize, usize),
        colour: [u8; 3],
    ) -> (Vec<u8>, usize, usize) {
        let (cw, ch) = (w + l + r, h + t + b);
        let mut out = colour.repeat(cw * ch);
        for y in 0..h {
            let at = ((y + t) * cw + l) * 3;
            out[at..at + w * 3].copy_from_slice(&pic[y * w * 3..(y + 1) * w * 3]);
        }
        (out, cw, ch)
    }

    fn view(data: &[u8], w: usize, h: usize) -> PixelView<'_> {
        PixelView::packed(data, w as u32, h as u32, PixelFormat::Rgb8).unwrap()
    }

    #[test]
    fn black_bars_are_trimmed_to_the_picture_and_its_pdq() {
        let pic = picture(120, 80);
        let (boxed, w, h) = framed(&pic, (120, 80), (0, 9, 0, 7), [0, 0, 0]);
        let v = view(&boxed, w, h);
        assert_eq!(
            trimmed_bounds(&v),
            Trim {
                left: 0,
                top: 9,
                right: 120,
                bottom: 89
            }
        );
        assert_eq!(pdq_trimmed(&v), pdq_hash(&view(&pic, 120, 80)));
        assert_ne!(pdq_hash(&v).hash, pdq_hash(&view(&pic, 120, 80)).hash);
    }

    #[test]
    fn a_uniform_padding_all_round_is_trimmed() {
        let pic = picture(100, 70);
        let (padded, w, h) = framed(&pic, (100, 70), (10, 7, 12, 5), [181, 40, 99]);
        let v = view(&padded, w, h);
        assert_eq!(
            trimmed_bounds(&v),
            Trim {
                left: 10,
                top: 7,
                right: 110,
                bottom: 77
            }
        );
        assert_eq!(pdq_trimmed(&v), pdq_hash(&view(&pic, 100, 70)));
    }

    #[test]
    fn noisy_borders_are_trimmed_within_the_tolerance() {
        let pic = picture(90, 60);
        let (mut noisy, w, h) = framed(&pic, (90, 60), (6, 6, 6, 6), [20, 20, 20]);
        // Noise on every border pixel, within the tolerance of the bars' colour.
        let mut next = xorshift32(12345);
        for y in 0..h {
            for x in 0..w {
                let inside = (6..6 + 90).contains(&x) && (6..6 + 60).contains(&y);
                if inside {
                    continue;
                }
                for c in 0..3 {
                    // 0..=40 around the bars' 20: at most 20 from their mean.
                    noisy[(y * w + x) * 3 + c] = (next() % 41) as u8;
                }
            }
        }
        // One far pixel in the top row (1 of 102 is within 10 per mille).
        noisy[5 * 3] = 250;
        let v = view(&noisy, w, h);
        assert_eq!(
            trimmed_bounds(&v),
            Trim {
                left: 6,
                top: 6,
                right: 96,
                bottom: 66
            }
        );
    }

    #[test]
    fn a_picture_without_borders_is_plain_pdq() {
        let pic = picture(80, 80);
        let v = view(&pic, 80, 80);
        assert!(trimmed_bounds(&v).is_whole(&v));
        assert_eq!(pdq_trimmed(&v), pdq_hash(&v));
    }

    #[test]
    fn a_uniform_image_keeps_a_quarter_of_each_dimension() {
        let flat = [70u8, 70, 70].repeat(100 * 40);
        let v = view(&flat, 100, 40);
        let t = trimmed_bounds(&v);
        assert_eq!((t.right - t.left, t.bottom - t.top), (25, 10));
        let q = pdq_trimmed(&v);
        assert_eq!(q.quality, 0);
    }

    #[test]
    fn tiny_and_grey_and_rgba_images_do_not_panic() {
        for (w, h) in [(1, 1), (1, 40), (40, 1), (15, 15), (16, 16), (17, 3)] {
            for format in [PixelFormat::Gray8, PixelFormat::Rgb8, PixelFormat::Rgba8] {
                let data = vec![0u8; w * h * format.bytes_per_pixel()];
                let v = PixelView::packed(&data, w as u32, h as u32, format).unwrap();
                let t = trimmed_bounds(&v);
                assert!(t.left < t.right && t.top < t.bottom, "{w}x{h} {format:?}");
                if w < MIN_TRIMMED_DIMENSION && h < MIN_TRIMMED_DIMENSION {
                    assert!(t.is_whole(&v));
                }
                pdq_trimmed(&v);
            }
        }
    }
}
