//! The few loops LLVM does not vectorise well by itself, written with `core::arch` intrinsics:
//! SSE2 on x86-64 (always present there), `simd128` on wasm32 when the module is built with it
//! (scripts/wasm-cargo.sh), plain Rust elsewhere. Every function here is integer arithmetic, so
//! the vector and scalar forms give the same result; the tests compare them on every build.
//! Loads and stores go through `bytemuck` casts of arrays. The one `unsafe` operation is the
//! call of a `#[target_feature]` function, made only where `cfg(target_feature)` proves the
//! feature is enabled for the whole build; this is the crate's only module allowed `unsafe`.

/// `sum pixels[i] * weights[i]` in wrapping `i32` arithmetic (C `int`, as in Pillow), the
/// pixels zero-extended. Wrapping sums are exact modulo 2^32 whatever their order, so the lanes
/// may add in any order. Each pair of products must fit in an `i32` (true for pixel values).
#[inline]
pub fn dot_u8_i16(pixels: &[u8], weights: &[i16]) -> i32 {
    assert_eq!(pixels.len(), weights.len());
    let main = pixels.len() / 16 * 16;
    #[cfg(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    // SAFETY: the cfg above proves the build enables the feature `dot_blocks` is compiled with.
    // (Some toolchains already treat the wasm call as safe, hence the allow.)
    #[allow(unused_unsafe)]
    let sum = unsafe { dot_blocks(&pixels[..main], &weights[..main]) };
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    let sum = dot_scalar(&pixels[..main], &weights[..main]);
    pixels[main..]
        .iter()
        .zip(&weights[main..])
        .fold(sum, |s, (&p, &w)| {
            s.wrapping_add(i32::from(p) * i32::from(w))
        })
}

/// [`dot_u8_i16`] over whole blocks of 16.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn dot_blocks(pixels: &[u8], weights: &[i16]) -> i32 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_madd_epi16, _mm_setzero_si128, _mm_unpackhi_epi8,
        _mm_unpacklo_epi8,
    };
    let zero = _mm_setzero_si128();
    let mut acc = [_mm_setzero_si128(); 2];
    for (p, w) in pixels.chunks_exact(16).zip(weights.chunks_exact(16)) {
        let p: __m128i = bytemuck::cast(<[u8; 16]>::try_from(p).expect("16 bytes"));
        let w0: __m128i = bytemuck::cast(<[i16; 8]>::try_from(&w[..8]).expect("8 weights"));
        let w1: __m128i = bytemuck::cast(<[i16; 8]>::try_from(&w[8..]).expect("8 weights"));
        acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(_mm_unpacklo_epi8(p, zero), w0));
        acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(_mm_unpackhi_epi8(p, zero), w1));
    }
    let lanes: [i32; 4] = bytemuck::cast(_mm_add_epi32(acc[0], acc[1]));
    lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v))
}

/// [`dot_u8_i16`] over whole blocks of 16.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[target_feature(enable = "simd128")]
fn dot_blocks(pixels: &[u8], weights: &[i16]) -> i32 {
    use core::arch::wasm32::{
        i32x4_add, i32x4_dot_i16x8, u16x8_extend_high_u8x16, u16x8_extend_low_u8x16, v128,
    };
    let mut acc = [i32x4_add(v128_zero(), v128_zero()); 2];
    for (p, w) in pixels.chunks_exact(16).zip(weights.chunks_exact(16)) {
        let p: v128 = bytemuck::cast(<[u8; 16]>::try_from(p).expect("16 bytes"));
        let w0: v128 = bytemuck::cast(<[i16; 8]>::try_from(&w[..8]).expect("8 weights"));
        let w1: v128 = bytemuck::cast(<[i16; 8]>::try_from(&w[8..]).expect("8 weights"));
        acc[0] = i32x4_add(acc[0], i32x4_dot_i16x8(u16x8_extend_low_u8x16(p), w0));
        acc[1] = i32x4_add(acc[1], i32x4_dot_i16x8(u16x8_extend_high_u8x16(p), w1));
    }
    let lanes: [i32; 4] = bytemuck::cast(i32x4_add(acc[0], acc[1]));
    lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v))
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[target_feature(enable = "simd128")]
fn v128_zero() -> core::arch::wasm32::v128 {
    bytemuck::cast([0u8; 16])
}

/// Writes PDQ's f32 luma (`cr * r + cg * g + cb * b`, the products and sums in that order, as
/// [`crate::pdq::luma::luma_of`]) of the leading whole blocks of 16 RGB pixels of `pixels` to
/// `out`; returns how many pixels it did. Only in wasm builds with simd128 (channels split by
/// byte shuffles, then f32x4 arithmetic: the same IEEE operations per pixel); elsewhere 0,
/// and the caller's loop does them all.
#[inline]
pub fn luma_rgb16(pixels: &[u8], out: &mut [f32], weights: [f32; 3]) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unused_unsafe)]
    // SAFETY: the cfg above proves the build enables simd128.
    return unsafe { wasm::luma_rgb16(pixels, out, weights) };
    #[allow(unreachable_code)]
    {
        let _ = (pixels, out, weights);
        0
    }
}

/// Writes Pillow's grey (`(19595 r + 38470 g + 7471 b + 0x8000) >> 16`, as
/// [`crate::imagehash::grey::grey_of`]) of the leading whole blocks of 16 RGB pixels of `row`
/// to the start of `out`; returns how many pixels it did. Only in wasm builds with simd128 (integer
/// arithmetic, exact in any lane width); elsewhere 0.
#[inline]
pub fn grey_rgb16(row: &[u8], out: &mut [u8]) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unused_unsafe)]
    // SAFETY: the cfg above proves the build enables simd128.
    return unsafe { wasm::grey_rgb16(row, out) };
    #[allow(unreachable_code)]
    {
        let _ = (row, out);
        0
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    /// The red, green and blue bytes of 16 packed RGB pixels (pixel i's channel c is byte
    /// 3i + c): two shuffles per channel. Lanes 0-15 of a shuffle index its first operand,
    /// 16-31 its second.
    #[target_feature(enable = "simd128")]
    fn split(block: &[u8]) -> [v128; 3] {
        let v: [v128; 3] = std::array::from_fn(|k| {
            bytemuck::cast(<[u8; 16]>::try_from(&block[16 * k..][..16]).expect("16 bytes"))
        });
        let r = i8x16_shuffle::<0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0>(v[0], v[1]);
        let r = i8x16_shuffle::<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29>(r, v[2]);
        let g = i8x16_shuffle::<1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0>(v[0], v[1]);
        let g = i8x16_shuffle::<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30>(g, v[2]);
        let b = i8x16_shuffle::<2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0>(v[0], v[1]);
        let b = i8x16_shuffle::<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31>(b, v[2]);
        [r, g, b]
    }

    /// Sixteen bytes as four u32x4, in order.
    #[target_feature(enable = "simd128")]
    fn widen(v: v128) -> [v128; 4] {
        let (lo, hi) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
        [
            u32x4_extend_low_u16x8(lo),
            u32x4_extend_high_u16x8(lo),
            u32x4_extend_low_u16x8(hi),
            u32x4_extend_high_u16x8(hi),
        ]
    }

    #[target_feature(enable = "simd128")]
    pub(super) fn luma_rgb16(pixels: &[u8], out: &mut [f32], weights: [f32; 3]) -> usize {
        let [cr, cg, cb] = weights.map(|w| f32x4_splat(w));
        let mut done = 0;
        for (block, o) in pixels.chunks_exact(48).zip(out.chunks_exact_mut(16)) {
            let [r, g, b] = split(block).map(|v| widen(v));
            for q in 0..4 {
                // u8 values convert exactly; then the reference's products and sums in order.
                let (r, g, b) = (
                    f32x4_convert_u32x4(r[q]),
                    f32x4_convert_u32x4(g[q]),
                    f32x4_convert_u32x4(b[q]),
                );
                let l = f32x4_add(
                    f32x4_add(f32x4_mul(cr, r), f32x4_mul(cg, g)),
                    f32x4_mul(cb, b),
                );
                o[4 * q..4 * q + 4].copy_from_slice(&bytemuck::cast::<v128, [f32; 4]>(l));
            }
            done += 16;
        }
        done
    }

    #[target_feature(enable = "simd128")]
    pub(super) fn grey_rgb16(row: &[u8], out: &mut [u8]) -> usize {
        let [wr, wg, wb, half] = [19595, 38470, 7471, 0x8000].map(|w| u32x4_splat(w));
        let mut done = 0;
        for (block, o) in row.chunks_exact(48).zip(out.chunks_exact_mut(16)) {
            let [r, g, b] = split(block).map(|v| widen(v));
            let grey: [v128; 4] = std::array::from_fn(|q| {
                let sum = i32x4_add(
                    i32x4_add(i32x4_mul(r[q], wr), i32x4_mul(g[q], wg)),
                    i32x4_add(i32x4_mul(b[q], wb), half),
                );
                // At most 255 * 65536 + 0x8000: positive in i32, at most 255 after the shift.
                u32x4_shr(sum, 16)
            });
            let words = [
                u16x8_narrow_i32x4(grey[0], grey[1]),
                u16x8_narrow_i32x4(grey[2], grey[3]),
            ];
            o.copy_from_slice(&bytemuck::cast::<v128, [u8; 16]>(u8x16_narrow_i16x8(
                words[0], words[1],
            )));
            done += 16;
        }
        done
    }
}

/// The plain form of [`dot_u8_i16`]: the fallback, and the oracle of the tests.
#[cfg_attr(
    any(
        all(target_arch = "x86_64", target_feature = "sse2"),
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
fn dot_scalar(pixels: &[u8], weights: &[i16]) -> i32 {
    pixels.iter().zip(weights).fold(0i32, |s, (&p, &w)| {
        s.wrapping_add(i32::from(p) * i32::from(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_dot_equals_scalar_dot() {
        let mut next = crate::testing::xorshift32(0x9e37_79b9);
        for len in (0..100).chain([1000, 3025, 4097]) {
            let pixels: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            for weights in [
                (0..len).map(|_| next() as i16).collect::<Vec<i16>>(),
                vec![i16::MAX; len],
                vec![i16::MIN + 1; len],
            ] {
                assert_eq!(
                    dot_u8_i16(&pixels, &weights),
                    dot_scalar(&pixels, &weights),
                    "length {len}"
                );
            }
        }
    }
}
