//! The simd128 backend (wasm32 modules built with `+simd128`): the shared kernels of `v128.rs`
//! over `v128`, and the RGB kernels that need a byte shuffle to split the channels (PDQ's luma,
//! Pillow's grey), which SSE2 lacks.

use core::arch::wasm32::*;

type V = v128;

v128_kernels!("simd128");

/// The red, green and blue bytes of 16 packed RGB pixels (pixel i's channel c is byte
/// 3i + c): two shuffles per channel. Lanes 0-15 of a shuffle index its first operand,
/// 16-31 its second.
#[target_feature(enable = "simd128")]
fn split(block: &[u8]) -> [v128; 3] {
    let v: [v128; 3] = std::array::from_fn(|k| load_u8(&block[16 * k..][..16]));
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

/// [`super::luma_rgb16`].
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

/// [`super::grey_rgb16`].
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

#[inline]
#[target_feature(enable = "simd128")]
fn zero() -> V {
    i32x4_splat(0)
}

#[inline]
#[target_feature(enable = "simd128")]
fn splat_i16(k: i16) -> V {
    i16x8_splat(k)
}

#[inline]
#[target_feature(enable = "simd128")]
fn splat_i32(k: i32) -> V {
    i32x4_splat(k)
}

#[inline]
#[target_feature(enable = "simd128")]
fn pair_i16(a: i16, b: i16) -> V {
    i16x8(a, b, a, b, a, b, a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn add_i16(a: V, b: V) -> V {
    i16x8_add(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn sub_i16(a: V, b: V) -> V {
    i16x8_sub(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn add_i32(a: V, b: V) -> V {
    i32x4_add(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn sub_i32(a: V, b: V) -> V {
    i32x4_sub(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn mul_lo_i16(a: V, b: V) -> V {
    i16x8_mul(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn mul_wide_i16(a: V, b: V) -> (V, V) {
    (i32x4_extmul_low_i16x8(a, b), i32x4_extmul_high_i16x8(a, b))
}

#[inline]
#[target_feature(enable = "simd128")]
fn madd_i16(a: V, b: V) -> V {
    i32x4_dot_i16x8(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn shr_i32(a: V, count: u32) -> V {
    i32x4_shr(a, count)
}

#[inline]
#[target_feature(enable = "simd128")]
fn shr_u16(a: V, count: u32) -> V {
    u16x8_shr(a, count)
}

#[inline]
#[target_feature(enable = "simd128")]
fn widen_lo_u8(a: V) -> V {
    u16x8_extend_low_u8x16(a)
}

#[inline]
#[target_feature(enable = "simd128")]
fn widen_hi_u8(a: V) -> V {
    u16x8_extend_high_u8x16(a)
}

#[inline]
#[target_feature(enable = "simd128")]
fn narrow_i32_i16(a: V, b: V) -> V {
    i16x8_narrow_i32x4(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn narrow_i16_u8(a: V, b: V) -> V {
    u8x16_narrow_i16x8(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_lo_u8(a: V, b: V) -> V {
    i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_lo_i16(a: V, b: V) -> V {
    i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_hi_i16(a: V, b: V) -> V {
    i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_lo_i32(a: V, b: V) -> V {
    i32x4_shuffle::<0, 4, 1, 5>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_hi_i32(a: V, b: V) -> V {
    i32x4_shuffle::<2, 6, 3, 7>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_lo_i64(a: V, b: V) -> V {
    i64x2_shuffle::<0, 2>(a, b)
}

#[inline]
#[target_feature(enable = "simd128")]
fn zip_hi_i64(a: V, b: V) -> V {
    i64x2_shuffle::<1, 3>(a, b)
}

/// Interleaves with shuffles: r0 g0 r1 g1 ... then the blue bytes between.
#[inline]
#[target_feature(enable = "simd128")]
fn store_rgb(r: V, g: V, b: V, out: &mut [u8]) {
    let rg_lo = i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r, g);
    let rg_hi = i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(r, g);
    let out0 = i8x16_shuffle::<0, 1, 16, 2, 3, 17, 4, 5, 18, 6, 7, 19, 8, 9, 20, 10>(rg_lo, b);
    let mid =
        i8x16_shuffle::<11, 0, 12, 13, 0, 14, 15, 0, 16, 17, 0, 18, 19, 0, 20, 21>(rg_lo, rg_hi);
    let out1 = i8x16_shuffle::<0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15>(mid, b);
    let out2 =
        i8x16_shuffle::<26, 6, 7, 27, 8, 9, 28, 10, 11, 29, 12, 13, 30, 14, 15, 31>(rg_hi, b);
    for (o, v) in out.chunks_exact_mut(16).zip([out0, out1, out2]) {
        o.copy_from_slice(&bytemuck::cast::<v128, [u8; 16]>(v));
    }
}
