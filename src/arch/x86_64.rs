//! The SSE2 backend (always present on x86-64): the shared kernels of `v128.rs` over `__m128i`.
//! SSE2 has no byte shuffle, so RGB is interleaved through arrays, and the RGB-only kernels
//! (PDQ's luma, Pillow's grey) are left to the callers' loops, which do better without it.

use core::arch::x86_64::*;

type V = __m128i;

v128_kernels!("sse2");

/// No SSE2 form: 0 pixels done (see [`super::luma_rgb16`]).
pub(super) fn luma_rgb16(_: &[u8], _: &mut [f32], _: [f32; 3]) -> usize {
    0
}

/// No SSE2 form: 0 pixels done (see [`super::grey_rgb16`]).
pub(super) fn grey_rgb16(_: &[u8], _: &mut [u8]) -> usize {
    0
}

#[inline]
#[target_feature(enable = "sse2")]
fn zero() -> V {
    _mm_setzero_si128()
}

#[inline]
#[target_feature(enable = "sse2")]
fn splat_i16(k: i16) -> V {
    _mm_set1_epi16(k)
}

#[inline]
#[target_feature(enable = "sse2")]
fn splat_i32(k: i32) -> V {
    _mm_set1_epi32(k)
}

#[inline]
#[target_feature(enable = "sse2")]
fn pair_i16(a: i16, b: i16) -> V {
    _mm_set1_epi32(((u32::from(b as u16) << 16) | u32::from(a as u16)) as i32)
}

#[inline]
#[target_feature(enable = "sse2")]
fn add_i16(a: V, b: V) -> V {
    _mm_add_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn sub_i16(a: V, b: V) -> V {
    _mm_sub_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn add_i32(a: V, b: V) -> V {
    _mm_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn sub_i32(a: V, b: V) -> V {
    _mm_sub_epi32(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn mul_lo_i16(a: V, b: V) -> V {
    _mm_mullo_epi16(a, b)
}

/// `pmullw` and `pmulhw` give the low and high halves of each 32-bit product.
#[inline]
#[target_feature(enable = "sse2")]
fn mul_wide_i16(a: V, b: V) -> (V, V) {
    let (low, high) = (_mm_mullo_epi16(a, b), _mm_mulhi_epi16(a, b));
    (_mm_unpacklo_epi16(low, high), _mm_unpackhi_epi16(low, high))
}

#[inline]
#[target_feature(enable = "sse2")]
fn madd_i16(a: V, b: V) -> V {
    _mm_madd_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn shr_i32(a: V, count: u32) -> V {
    _mm_sra_epi32(a, _mm_cvtsi32_si128(count as i32))
}

#[inline]
#[target_feature(enable = "sse2")]
fn shr_u16(a: V, count: u32) -> V {
    _mm_srl_epi16(a, _mm_cvtsi32_si128(count as i32))
}

#[inline]
#[target_feature(enable = "sse2")]
fn widen_lo_u8(a: V) -> V {
    _mm_unpacklo_epi8(a, _mm_setzero_si128())
}

#[inline]
#[target_feature(enable = "sse2")]
fn widen_hi_u8(a: V) -> V {
    _mm_unpackhi_epi8(a, _mm_setzero_si128())
}

#[inline]
#[target_feature(enable = "sse2")]
fn narrow_i32_i16(a: V, b: V) -> V {
    _mm_packs_epi32(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn narrow_i16_u8(a: V, b: V) -> V {
    _mm_packus_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_lo_u8(a: V, b: V) -> V {
    _mm_unpacklo_epi8(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_lo_i16(a: V, b: V) -> V {
    _mm_unpacklo_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_hi_i16(a: V, b: V) -> V {
    _mm_unpackhi_epi16(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_lo_i32(a: V, b: V) -> V {
    _mm_unpacklo_epi32(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_hi_i32(a: V, b: V) -> V {
    _mm_unpackhi_epi32(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_lo_i64(a: V, b: V) -> V {
    _mm_unpacklo_epi64(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn zip_hi_i64(a: V, b: V) -> V {
    _mm_unpackhi_epi64(a, b)
}

#[inline]
#[target_feature(enable = "sse2")]
fn store_rgb(r: V, g: V, b: V, out: &mut [u8]) {
    let [r, g, b]: [[u8; 16]; 3] = [r, g, b].map(bytemuck::cast);
    for (i, px) in out.chunks_exact_mut(3).enumerate() {
        px.copy_from_slice(&[r[i], g[i], b[i]]);
    }
}
