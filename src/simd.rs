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
