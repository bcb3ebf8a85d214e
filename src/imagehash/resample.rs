//! Stage 2: Pillow's `Image.resize(size, Image.LANCZOS)` on an 8-bit grey image.
//!
//! Mirrors src/libImaging/Resample.c of Pillow 13 (`precompute_coeffs`, `normalize_coeffs_8bpc`,
//! `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`, `ImagingResampleInner`):
//! - separable, each pass only if that side changes; an unchanged size is a copy (as
//!   `Image.resize` and `_resize` do);
//! - the horizontal pass first, unless the height shrinks by more than twice as many pixels as
//!   the width does (`(in_h - out_h) > 0 && (in_h - out_h) > (in_w - out_w) * 2`, C `int`):
//!   then the vertical pass runs first, over every column. Older Pillow always went
//!   horizontal first; the order changes the 8-bit intermediate and so the result;
//! - per output pixel a window `[xmin, xmin + xmax)` of source pixels, from the box
//!   `(0, 0, width, height)` given to C as `float`, the support `3 * max(scale, 1)` and
//!   truncating `(int)` casts, with Lanczos-3 weights normalised to sum 1 in double;
//! - weights rounded half away from zero to 22-bit fixed point (`PRECISION_BITS = 32 - 8 - 2`),
//!   sums in `int` starting at one half, clipped to 0..=255 after each pass (the horizontal
//!   pass writes an 8-bit image);
//! - when it goes first, the horizontal pass computes only the source rows the vertical pass
//!   reads.
//!
//! Pillow's weights call the C library's `sin`; this calls [`super::trig::sin`], correctly
//! rounded like glibc's on all but about 0.1 % of arguments. Where they differ (by one ulp), a
//! weight's 22-bit fixed-point value can change only if the weight lies within about 1e-16
//! of a rounding boundary.
//! Pure integer arithmetic after the weights: no rounding-order concerns.

use super::grey::GreyImage;

/// Fixed-point fraction bits of the 8-bit-per-channel weights.
pub const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Lanczos-3 support in source pixels at scale 1.
const LANCZOS_SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    super::trig::sin(x) / x
}

/// Pillow's `lanczos_filter`: truncated sinc.
fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Hashes the bits of an f64 with one multiplication (Fibonacci hashing): the keys are
/// arguments of one image's weights, not chosen by anyone, so no DoS-resistant hasher is needed.
#[derive(Default, Clone, Copy)]
struct BitsHash;

impl std::hash::BuildHasher for BitsHash {
    type Hasher = BitsHasher;
    fn build_hasher(&self) -> BitsHasher {
        BitsHasher(0)
    }
}

struct BitsHasher(u64);

impl std::hash::Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

/// The fixed-point weights of one pass: output pixel `i` reads source pixels
/// `start[i] .. start[i] + count[i]` with weights `weights[i * ksize ..][.. count[i]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coefficients {
    pub ksize: usize,
    pub start: Vec<usize>,
    pub count: Vec<usize>,
    pub weights: Vec<i32>,
}

/// `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the box `[0, in_size)`.
pub fn precompute_coeffs(in_size: usize, out_size: usize) -> Coefficients {
    // Whole and half-integer scales (4032 pixels to 8, 9 or 32) put the taps of every output
    // at the same offsets, so most arguments recur. `lanczos` is even bit for bit inside
    // (-3, 3) (the sine is odd and `x * PI`, `x / 3` are exact under negation; -3 itself is
    // inside Pillow's window, 3 outside), so |x| is the key there. Remembering the values
    // saves most of the sines without changing one.
    let mut seen: std::collections::HashMap<u64, f64, BitsHash> = Default::default();
    coefficients_with(in_size, out_size, |x| {
        let key = if x > -3.0 { x.abs() } else { x };
        *seen.entry(key.to_bits()).or_insert_with(|| lanczos(key))
    })
}

/// [`precompute_coeffs`] with the filter `filter`.
fn coefficients_with(
    in_size: usize,
    out_size: usize,
    mut filter: impl FnMut(f64) -> f64,
) -> Coefficients {
    // The box reaches C as `float`; `in1 - in0` is a float subtraction.
    let (in0, in1) = (0.0f32, in_size as f32);
    let scale = f64::from(in1 - in0) / out_size as f64;
    let filterscale = if scale < 1.0 { 1.0 } else { scale };
    let support = LANCZOS_SUPPORT * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut start = Vec::with_capacity(out_size);
    let mut count = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0.0f64; ksize];
    for xx in 0..out_size {
        let center = f64::from(in0) + (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // `(int)` truncates toward zero, then the window is clamped to the image.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
        let (xmin, xmax) = (xmin as usize, xmax.max(0) as usize);
        let mut ww = 0.0f64;
        for (x, slot) in k.iter_mut().enumerate().take(xmax) {
            let w = filter(((x + xmin) as f64 - center + 0.5) * ss);
            *slot = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..][..ksize];
        for (fixed, &w) in row.iter_mut().zip(&k).take(xmax) {
            let w = if ww != 0.0 { w / ww } else { w };
            let scaled = w * f64::from(1u32 << PRECISION_BITS);
            *fixed = if w < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        start.push(xmin);
        count.push(xmax);
    }
    Coefficients {
        ksize,
        start,
        count,
        weights,
    }
}

/// Pillow's `clip8`: the sum's integer part, clamped to a byte.
#[inline(always)]
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One output sample: `1 << (PRECISION_BITS - 1)` plus the weighted pixels, in C `int`
/// arithmetic (wrapping, which never happens: the weights' absolute sum stays well under 2).
#[inline(always)]
fn weighted(pixels: impl Iterator<Item = u8>, weights: &[i32]) -> u8 {
    let mut sum = 1i32 << (PRECISION_BITS - 1);
    for (p, &w) in pixels.zip(weights) {
        sum = sum.wrapping_add(i32::from(p).wrapping_mul(w));
    }
    clip8(sum)
}

/// `resize((out_width, out_height), LANCZOS)` of a grey image. Sizes must be non-zero.
pub fn resize_lanczos(src: &GreyImage, out_width: usize, out_height: usize) -> GreyImage {
    let need_horizontal = out_width != src.width;
    let need_vertical = out_height != src.height;
    if !need_horizontal && !need_vertical {
        return src.clone();
    }
    // Pillow compares C ints; i64 holds every usize difference of image sides exactly.
    let height_shrink = src.height as i64 - out_height as i64;
    let width_shrink = src.width as i64 - out_width as i64;
    let horizontal_first = !(height_shrink > 0 && height_shrink > width_shrink * 2);
    if horizontal_first {
        let mut vertical = precompute_coeffs(src.height, out_height);
        if !need_horizontal {
            return vertical_pass(src, &vertical);
        }
        // Rows of the source that the vertical pass reads.
        let first_row = vertical.start[0];
        let last_row = vertical.start[out_height - 1] + vertical.count[out_height - 1];
        for start in &mut vertical.start {
            *start -= first_row;
        }
        let horizontal = precompute_coeffs(src.width, out_width);
        let temp = horizontal_pass(src, &horizontal, first_row..last_row);
        if need_vertical {
            vertical_pass(&temp, &vertical)
        } else {
            temp
        }
    } else {
        // Only reached when the height changes.
        let vertical = precompute_coeffs(src.height, out_height);
        let temp = vertical_pass(src, &vertical);
        if need_horizontal {
            let horizontal = precompute_coeffs(src.width, out_width);
            horizontal_pass(&temp, &horizontal, 0..out_height)
        } else {
            temp
        }
    }
}

/// A pass's weights cut for 16-bit multiply-adds (x86 `pmaddwd`, wasm `i32x4.dot_i16x8_s`:
/// eight products per instruction where 32-bit products go four at a time; [`crate::arch`]):
/// `w = hi * 2^SPLIT + lo` with `0 <= lo < 2^SPLIT`, so `sum p w = 2^SPLIT sum p hi + sum p lo`
/// exactly, in the same wrapping `int` arithmetic (the true sum fits, as in Pillow). When every
/// weight fits in an `i16` (shrinking by more than about 130), `hi` holds the weights and `lo`
/// is empty: one multiply-add per pair.
struct Weights16 {
    hi: Vec<i16>,
    lo: Vec<i16>,
}

const SPLIT: u32 = 11;

impl Weights16 {
    fn new(coefficients: &Coefficients) -> Self {
        let weights = &coefficients.weights;
        if weights.iter().all(|&w| i16::try_from(w).is_ok()) {
            return Weights16 {
                hi: weights.iter().map(|&w| w as i16).collect(),
                lo: Vec::new(),
            };
        }
        // |w| < 2^23 (normalised weights stay near 1), so hi fits with room to spare.
        Weights16 {
            hi: weights.iter().map(|&w| (w >> SPLIT) as i16).collect(),
            lo: weights
                .iter()
                .map(|&w| (w & ((1 << SPLIT) - 1)) as i16)
                .collect(),
        }
    }
}

/// The weighted sum of one output, as [`weighted`] computes it, by 16-bit multiply-adds.
#[inline(always)]
fn weighted16(pixels: &[u8], split: &Weights16, at: usize) -> u8 {
    let hi = crate::arch::dot_u8_i16(pixels, &split.hi[at..][..pixels.len()]);
    let sum = if split.lo.is_empty() {
        hi
    } else {
        let lo = crate::arch::dot_u8_i16(pixels, &split.lo[at..][..pixels.len()]);
        (hi << SPLIT).wrapping_add(lo)
    };
    clip8(sum.wrapping_add(1 << (PRECISION_BITS - 1)))
}

/// `ImagingResampleHorizontal_8bpc` over the source rows `rows`.
fn horizontal_pass(
    src: &GreyImage,
    coefficients: &Coefficients,
    rows: std::ops::Range<usize>,
) -> GreyImage {
    let out_width = coefficients.start.len();
    let height = rows.len();
    let split = Weights16::new(coefficients);
    let mut data = Vec::with_capacity(out_width * height);
    for y in rows {
        let row = src.row(y);
        for xx in 0..out_width {
            let (start, count) = (coefficients.start[xx], coefficients.count[xx]);
            let at = xx * coefficients.ksize;
            data.push(weighted16(&row[start..start + count], &split, at));
        }
    }
    GreyImage {
        width: out_width,
        height,
        data,
    }
}

/// `ImagingResampleVertical_8bpc` over every column.
fn vertical_pass(src: &GreyImage, coefficients: &Coefficients) -> GreyImage {
    let (width, out_height) = (src.width, coefficients.start.len());
    let mut data = Vec::with_capacity(width * out_height);
    for yy in 0..out_height {
        let (start, count) = (coefficients.start[yy], coefficients.count[yy]);
        let w = &coefficients.weights[yy * coefficients.ksize..][..count];
        for xx in 0..width {
            let column = (start..start + count).map(|y| src.data[y * width + xx]);
            data.push(weighted(column, w));
        }
    }
    GreyImage {
        width,
        height: out_height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 16-bit multiply-adds give Pillow's 32-bit sums on every output, for weights that
    /// fit in 16 bits and for split ones, on rows of random and extreme pixels.
    #[test]
    fn sixteen_bit_sums_equal_the_32_bit_ones() {
        let mut next = crate::testing::xorshift32(0x2545_f491);
        for (n_in, n_out) in [
            (4032, 8),
            (4032, 32),
            (3024, 9),
            (1001, 33),
            (97, 8),
            (8, 64),
        ] {
            let c = precompute_coeffs(n_in, n_out);
            let split = Weights16::new(&c);
            assert_eq!(split.lo.is_empty(), n_in / n_out > 200, "{n_in} to {n_out}");
            let rows: Vec<Vec<u8>> = vec![
                (0..n_in).map(|_| next() as u8).collect(),
                vec![255; n_in],
                (0..n_in)
                    .map(|i| if i % 2 == 0 { 255 } else { 0 })
                    .collect(),
            ];
            for row in &rows {
                for xx in 0..n_out {
                    let (start, count) = (c.start[xx], c.count[xx]);
                    let pixels = &row[start..start + count];
                    let w = &c.weights[xx * c.ksize..][..count];
                    assert_eq!(
                        weighted16(pixels, &split, xx * c.ksize),
                        weighted(pixels.iter().copied(), w),
                        "{n_in} to {n_out}, output {xx}"
                    );
                }
            }
        }
    }

    /// Remembered filter values give the weights computed tap by tap, for whole, half-integer
    /// and irregular scales, shrinking and enlarging.
    #[test]
    fn remembered_weights_equal_direct_ones() {
        for (n_in, n_out) in [
            (4032, 8),
            (4032, 9),
            (3024, 32),
            (4000, 9),
            (1001, 33),
            (97, 8),
            (8, 9),
            (5, 64),
            (1, 8),
        ] {
            assert_eq!(
                precompute_coeffs(n_in, n_out),
                coefficients_with(n_in, n_out, lanczos),
                "{n_in} to {n_out}"
            );
        }
    }
}
