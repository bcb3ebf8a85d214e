//! The kernels in plain Rust, one scalar form per kernel of [`super`] with the same contract:
//! the oracles the vector backends are tested against, and what builds without vectors run for
//! the kernels that do a whole job (the dot product, the IDCT). Each is written as the
//! arithmetic it mirrors is specified, pixel by pixel, with no regard for speed, except the
//! IDCT, whose passes run over eight independent lines so that LLVM vectorises them.

use std::num::Wrapping as W;

/// [`super::dot_u8_i16`]: the products summed left to right in wrapping `i32`.
pub(crate) fn dot_u8_i16(pixels: &[u8], weights: &[i16]) -> i32 {
    pixels.iter().zip(weights).fold(0i32, |s, (&p, &w)| {
        s.wrapping_add(i32::from(p) * i32::from(w))
    })
}

/// Whole blocks of `block` items out of `items`, at most `room` of them.
fn whole_blocks(items: usize, room: usize, block: usize) -> usize {
    items.min(room) / block * block
}

/// [`super::luma_rgb16`]: `cr * r + cg * g + cb * b` per pixel, in f32, in that order.
pub(crate) fn luma_rgb16(pixels: &[u8], out: &mut [f32], weights: [f32; 3]) -> usize {
    let [cr, cg, cb] = weights;
    let done = whole_blocks(pixels.len() / 3, out.len(), 16);
    for (o, p) in out[..done].iter_mut().zip(pixels.chunks_exact(3)) {
        *o = cr * f32::from(p[0]) + cg * f32::from(p[1]) + cb * f32::from(p[2]);
    }
    done
}

/// Pillow's `L24(rgb) >> 16`.
fn grey_of(r: u8, g: u8, b: u8) -> u8 {
    let l24 = u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000;
    (l24 >> 16) as u8
}

/// [`super::grey_rgb16`].
pub(crate) fn grey_rgb16(row: &[u8], out: &mut [u8]) -> usize {
    let done = whole_blocks(row.len() / 3, out.len(), 16);
    for (o, p) in out[..done].iter_mut().zip(row.chunks_exact(3)) {
        *o = grey_of(p[0], p[1], p[2]);
    }
    done
}

/// [`super::ycc_rgb16`]: `jdcolor.c`'s `ycc_rgb_convert` with its 16-bit fixed-point factors,
/// `R = Y + round(1.402 (Cr - 128))`, `B = Y + round(1.772 (Cb - 128))`,
/// `G = Y + ((-0.34414 (Cb - 128) - 0.71414 (Cr - 128)) * 2^16 + 2^15) >> 16`, clamped to
/// 0..=255; then Pillow's grey of that RGB.
pub(crate) fn ycc_rgb16(
    y: &[u8],
    cb: &[u8],
    cr: &[u8],
    mut rgb: Option<&mut [u8]>,
    mut grey: Option<&mut [u8]>,
) -> usize {
    const HALF: i32 = 1 << 15;
    let pixels = y.len().min(cb.len()).min(cr.len());
    let pixels = rgb.as_ref().map_or(pixels, |o| pixels.min(o.len() / 3));
    let done = whole_blocks(pixels, grey.as_ref().map_or(pixels, |o| o.len()), 16);
    for i in 0..done {
        let (luma, b, r) = (
            i32::from(y[i]),
            i32::from(cb[i]) - 128,
            i32::from(cr[i]) - 128,
        );
        let px = [
            (luma + ((91881 * r + HALF) >> 16)).clamp(0, 255) as u8,
            (luma + ((-22554 * b + HALF - 46802 * r) >> 16)).clamp(0, 255) as u8,
            (luma + ((116130 * b + HALF) >> 16)).clamp(0, 255) as u8,
        ];
        if let Some(o) = rgb.as_deref_mut() {
            o[3 * i..3 * i + 3].copy_from_slice(&px);
        }
        if let Some(o) = grey.as_deref_mut() {
            o[i] = grey_of(px[0], px[1], px[2]);
        }
    }
    done
}

/// [`super::triangle_pairs`].
pub(crate) fn triangle_pairs(s: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) -> usize {
    let pairs = s.len().saturating_sub(1) / 8 * 8;
    for i in 0..pairs {
        let (a, b) = (s[i], s[i + 1]);
        out[2 * i + 1] = ((3 * a + b + odd) >> shift) as u8;
        out[2 * i + 2] = ((3 * b + a + even) >> shift) as u8;
    }
    pairs
}

// The accurate integer IDCT, `jpeg_idct_islow` in libjpeg-turbo's `jidctint.c`: 13-bit
// fixed-point constants, two extra bits kept between the passes, results rounded by adding half
// and shifting.
const CONST_BITS: usize = 13;
const PASS1_BITS: usize = 2;

// FIX(x) = round(x * 2^13), the values `jidctint.c` lists.
const FIX_0_298631336: W<i32> = W(2446);
const FIX_0_390180644: W<i32> = W(3196);
const FIX_0_541196100: W<i32> = W(4433);
const FIX_0_765366865: W<i32> = W(6270);
const FIX_0_899976223: W<i32> = W(7373);
const FIX_1_175875602: W<i32> = W(9633);
const FIX_1_501321110: W<i32> = W(12299);
const FIX_1_847759065: W<i32> = W(15137);
const FIX_1_961570560: W<i32> = W(16069);
const FIX_2_053119869: W<i32> = W(16819);
const FIX_2_562915447: W<i32> = W(20995);
const FIX_3_072711026: W<i32> = W(25172);

type Row = [W<i32>; 8];

/// One 1-D pass over eight lines side by side: `v[k]` holds input `k` of every line; the
/// outputs, before rounding, are returned in the same layout. The even/odd split and every
/// product and sum are those of `jidctint.c`.
#[inline(always)]
fn pass(v: &[Row; 8], shift: usize, out: &mut [Row; 8]) {
    let round = W(1i32 << (shift - 1));
    for l in 0..8 {
        // Even part.
        let z2 = v[2][l];
        let z3 = v[6][l];
        let z1 = (z2 + z3) * FIX_0_541196100;
        let tmp2 = z1 - z3 * FIX_1_847759065;
        let tmp3 = z1 + z2 * FIX_0_765366865;
        let z2 = v[0][l];
        let z3 = v[4][l];
        let tmp0 = (z2 + z3) << CONST_BITS;
        let tmp1 = (z2 - z3) << CONST_BITS;
        let tmp10 = tmp0 + tmp3;
        let tmp13 = tmp0 - tmp3;
        let tmp11 = tmp1 + tmp2;
        let tmp12 = tmp1 - tmp2;

        // Odd part.
        let t0 = v[7][l];
        let t1 = v[5][l];
        let t2 = v[3][l];
        let t3 = v[1][l];
        let z1 = t0 + t3;
        let z2 = t1 + t2;
        let z3 = t0 + t2;
        let z4 = t1 + t3;
        let z5 = (z3 + z4) * FIX_1_175875602;
        let t0 = t0 * FIX_0_298631336;
        let t1 = t1 * FIX_2_053119869;
        let t2 = t2 * FIX_3_072711026;
        let t3 = t3 * FIX_1_501321110;
        let z1 = -(z1 * FIX_0_899976223);
        let z2 = -(z2 * FIX_2_562915447);
        let z3 = z5 - z3 * FIX_1_961570560;
        let z4 = z5 - z4 * FIX_0_390180644;
        let t0 = t0 + z1 + z3;
        let t1 = t1 + z2 + z4;
        let t2 = t2 + z2 + z3;
        let t3 = t3 + z1 + z4;

        out[0][l] = (tmp10 + t3 + round) >> shift;
        out[7][l] = (tmp10 - t3 + round) >> shift;
        out[1][l] = (tmp11 + t2 + round) >> shift;
        out[6][l] = (tmp11 - t2 + round) >> shift;
        out[2][l] = (tmp12 + t1 + round) >> shift;
        out[5][l] = (tmp12 - t1 + round) >> shift;
        out[3][l] = (tmp13 + t0 + round) >> shift;
        out[4][l] = (tmp13 - t0 + round) >> shift;
    }
}

/// [`super::idct_islow`]. Out-of-range values: libjpeg-turbo's C code works in 64-bit `long`
/// and its x86 SIMD code (`jidctint-sse2.asm`, what Pillow runs on x86-64) in 16-bit lanes: the
/// dequantised coefficients are the low 16 bits of the product (`pmullw`), the first pass's
/// results saturate to 16 bits (`packssdw`), and the samples saturate (`packsswb`) where the C
/// code indexes its range-limit table modulo 1024. Both agree whenever the first pass's results
/// fit 16 bits and the samples lie within +-512, which holds for the images 8-bit encoders
/// write. Beyond it this does what the SIMD code does, in 32-bit sums that wrap rather than
/// panic.
pub(crate) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // Pass 1: columns. v[k][c] = dequantised coefficient (row k, column c), as 16-bit lanes
    // keep the product.
    let v: [Row; 8] = std::array::from_fn(|k| {
        std::array::from_fn(|c| {
            W(i32::from(
                coef[8 * k + c].wrapping_mul(quant[8 * k + c] as i16),
            ))
        })
    });
    let mut cols = [[W(0i32); 8]; 8];
    pass(&v, CONST_BITS - PASS1_BITS, &mut cols);
    // cols[r][c]: workspace row r, column c. Pass 2 runs along rows: transpose so that the
    // eight rows are the lanes.
    let mut t = [[W(0i32); 8]; 8];
    for r in 0..8 {
        for c in 0..8 {
            t[c][r] = W(cols[r][c].0.clamp(-32768, 32767));
        }
    }
    let mut rows = [[W(0i32); 8]; 8];
    pass(&t, CONST_BITS + PASS1_BITS + 3, &mut rows);
    // rows[c][r]: output sample at row r, column c; the range limit plus 128, saturating.
    for r in 0..8 {
        let line = &mut out[r * stride..r * stride + 8];
        for c in 0..8 {
            line[c] = (rows[c][r].0.saturating_add(128)).clamp(0, 255) as u8;
        }
    }
}
