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

/// libjpeg-turbo's accurate inverse DCT of one block, as [`crate::jpeg`]'s `idct` module
/// computes it (the same 32-bit products and sums, lane by lane; first-pass results
/// saturated to 16 bits, samples to 0..=255). Only in wasm builds with simd128, where it
/// returns `true`; elsewhere `false`, and the caller runs the plain form.
#[inline]
pub fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) -> bool {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unused_unsafe)]
    // SAFETY: the cfg above proves the build enables simd128.
    return unsafe {
        wasm::idct_islow(coef, quant, out, stride);
        true
    };
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: the cfg above proves the build enables SSE2.
    return unsafe {
        sse2::idct_islow(coef, quant, out, stride);
        true
    };
    #[allow(unreachable_code)]
    {
        let _ = (coef, quant, out, stride);
        false
    }
}

/// The accurate IDCT's sums regrouped as dot products of input pairs with constant pairs
/// (see `wasm::idct_pass`): for (v0, v4) the pairs giving tmp0 and tmp1, for (v2, v6) tmp2
/// and tmp3; for the odd outputs t0..t3, the pair for (v7, v5) then the pair for (v3, v1).
#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
))]
const IDCT_EVEN: [[i16; 2]; 4] = [[8192, 8192], [8192, -8192], [4433, -10704], [10703, 4433]];
#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
))]
const IDCT_ODD: [[i16; 4]; 4] = [
    [-11363, 9633, -6436, 2260],
    [9633, 2261, -11362, 6437],
    [-6436, -11362, -2259, 9633],
    [2260, 6437, 9633, 11363],
];

/// The JPEG loops with SSE2, operation for operation the simd128 versions in `wasm`
/// (`pmullw`, `pmulhw`, `pmaddwd`, `packssdw`, `packuswb` and unpacks for its lane
/// operations; SSE2 has no byte shuffle, so RGB is interleaved from arrays).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::*;

    #[target_feature(enable = "sse2")]
    fn pair(a: i16, b: i16) -> __m128i {
        _mm_set1_epi32(((u32::from(b as u16) << 16) | u32::from(a as u16)) as i32)
    }

    /// See `wasm::idct_pass`: the same dot products of input pairs with constant pairs.
    #[target_feature(enable = "sse2")]
    fn idct_pass(v: [__m128i; 8], shift: i32) -> [[__m128i; 8]; 2] {
        let round = _mm_set1_epi32(1 << (shift - 1));
        let count = _mm_cvtsi32_si128(shift);
        let half = |p04: __m128i, p26: __m128i, p75: __m128i, p31: __m128i| {
            let dot = |a, b| _mm_madd_epi16(a, b);
            let even = |p, [a, b]: [i16; 2]| dot(p, pair(a, b));
            let tmp0 = even(p04, super::IDCT_EVEN[0]);
            let tmp1 = even(p04, super::IDCT_EVEN[1]);
            let tmp2 = even(p26, super::IDCT_EVEN[2]);
            let tmp3 = even(p26, super::IDCT_EVEN[3]);
            let (tmp10, tmp13) = (_mm_add_epi32(tmp0, tmp3), _mm_sub_epi32(tmp0, tmp3));
            let (tmp11, tmp12) = (_mm_add_epi32(tmp1, tmp2), _mm_sub_epi32(tmp1, tmp2));
            let odd =
                |[a, b, c, d]: [i16; 4]| _mm_add_epi32(dot(p75, pair(a, b)), dot(p31, pair(c, d)));
            let [t0, t1, t2, t3] = super::IDCT_ODD.map(odd);
            let out = |a: __m128i| _mm_sra_epi32(_mm_add_epi32(a, round), count);
            [
                out(_mm_add_epi32(tmp10, t3)),
                out(_mm_add_epi32(tmp11, t2)),
                out(_mm_add_epi32(tmp12, t1)),
                out(_mm_add_epi32(tmp13, t0)),
                out(_mm_sub_epi32(tmp13, t0)),
                out(_mm_sub_epi32(tmp12, t1)),
                out(_mm_sub_epi32(tmp11, t2)),
                out(_mm_sub_epi32(tmp10, t3)),
            ]
        };
        let lo = |x, y| _mm_unpacklo_epi16(x, y);
        let hi = |x, y| _mm_unpackhi_epi16(x, y);
        [
            half(
                lo(v[0], v[4]),
                lo(v[2], v[6]),
                lo(v[7], v[5]),
                lo(v[3], v[1]),
            ),
            half(
                hi(v[0], v[4]),
                hi(v[2], v[6]),
                hi(v[7], v[5]),
                hi(v[3], v[1]),
            ),
        ]
    }

    #[target_feature(enable = "sse2")]
    fn transpose16(a: [__m128i; 8]) -> [__m128i; 8] {
        let t = [
            _mm_unpacklo_epi16(a[0], a[1]),
            _mm_unpackhi_epi16(a[0], a[1]),
            _mm_unpacklo_epi16(a[2], a[3]),
            _mm_unpackhi_epi16(a[2], a[3]),
            _mm_unpacklo_epi16(a[4], a[5]),
            _mm_unpackhi_epi16(a[4], a[5]),
            _mm_unpacklo_epi16(a[6], a[7]),
            _mm_unpackhi_epi16(a[6], a[7]),
        ];
        let u = [
            _mm_unpacklo_epi32(t[0], t[2]),
            _mm_unpackhi_epi32(t[0], t[2]),
            _mm_unpacklo_epi32(t[1], t[3]),
            _mm_unpackhi_epi32(t[1], t[3]),
            _mm_unpacklo_epi32(t[4], t[6]),
            _mm_unpackhi_epi32(t[4], t[6]),
            _mm_unpacklo_epi32(t[5], t[7]),
            _mm_unpackhi_epi32(t[5], t[7]),
        ];
        [
            _mm_unpacklo_epi64(u[0], u[4]),
            _mm_unpackhi_epi64(u[0], u[4]),
            _mm_unpacklo_epi64(u[1], u[5]),
            _mm_unpackhi_epi64(u[1], u[5]),
            _mm_unpacklo_epi64(u[2], u[6]),
            _mm_unpackhi_epi64(u[2], u[6]),
            _mm_unpacklo_epi64(u[3], u[7]),
            _mm_unpackhi_epi64(u[3], u[7]),
        ]
    }

    /// 32-bit products of eight 16-bit lanes by `k`: lanes 0-3 and 4-7.
    #[target_feature(enable = "sse2")]
    fn products(a: __m128i, k: i16) -> (__m128i, __m128i) {
        let k = _mm_set1_epi16(k);
        let (low, high) = (_mm_mullo_epi16(a, k), _mm_mulhi_epi16(a, k));
        (_mm_unpacklo_epi16(low, high), _mm_unpackhi_epi16(low, high))
    }

    /// `(sum + 2^15) >> 16` of 32-bit lanes, back to eight 16-bit lanes (see `wasm`).
    #[target_feature(enable = "sse2")]
    fn shifted(lo: __m128i, hi: __m128i) -> __m128i {
        let half = _mm_set1_epi32(1 << 15);
        _mm_packs_epi32(
            _mm_srai_epi32::<16>(_mm_add_epi32(lo, half)),
            _mm_srai_epi32::<16>(_mm_add_epi32(hi, half)),
        )
    }

    #[target_feature(enable = "sse2")]
    fn sum(terms: &[(__m128i, i16)]) -> __m128i {
        let mut lo = _mm_setzero_si128();
        let mut hi = _mm_setzero_si128();
        for &(a, k) in terms {
            let (l, h) = products(a, k);
            lo = _mm_add_epi32(lo, l);
            hi = _mm_add_epi32(hi, h);
        }
        shifted(lo, hi)
    }

    /// See `wasm::ycc_rgb16`: the same 16-bit factors and products.
    #[target_feature(enable = "sse2")]
    pub(super) fn ycc_rgb16(
        y: &[u8],
        cb: &[u8],
        cr: &[u8],
        mut rgb: Option<&mut [u8]>,
        mut grey: Option<&mut [u8]>,
    ) -> usize {
        let load =
            |s: &[u8]| -> __m128i { bytemuck::cast(<[u8; 16]>::try_from(s).expect("16 bytes")) };
        let zero = _mm_setzero_si128();
        let halves = |v: __m128i| [_mm_unpacklo_epi8(v, zero), _mm_unpackhi_epi8(v, zero)];
        let centre = _mm_set1_epi16(128);
        let blocks = y.len().min(cb.len()).min(cr.len()) / 16;
        let blocks = rgb.as_ref().map_or(blocks, |o| blocks.min(o.len() / 48));
        let blocks = grey.as_ref().map_or(blocks, |o| blocks.min(o.len() / 16));
        for k in 0..blocks {
            let at = 16 * k;
            let y = halves(load(&y[at..at + 16]));
            let cb = halves(load(&cb[at..at + 16]));
            let cr = halves(load(&cr[at..at + 16]));
            let mut planes = [[zero; 2]; 3];
            for h in 0..2 {
                let (y, cb, cr) = (
                    y[h],
                    _mm_sub_epi16(cb[h], centre),
                    _mm_sub_epi16(cr[h], centre),
                );
                planes[0][h] = _mm_add_epi16(_mm_add_epi16(y, cr), sum(&[(cr, 26345)]));
                planes[1][h] =
                    _mm_add_epi16(_mm_sub_epi16(y, cr), sum(&[(cb, -22554), (cr, 18734)]));
                planes[2][h] = _mm_add_epi16(
                    _mm_add_epi16(y, _mm_add_epi16(cb, cb)),
                    sum(&[(cb, -14942)]),
                );
            }
            let [r, g, b] = planes.map(|c| _mm_packus_epi16(c[0], c[1]));
            if let Some(o) = grey.as_deref_mut() {
                let (r, g, b) = (halves(r), halves(g), halves(b));
                let l: [__m128i; 2] = std::array::from_fn(|h| {
                    _mm_add_epi16(g[h], sum(&[(r[h], 19595), (g[h], -27066), (b[h], 7471)]))
                });
                let bytes: [u8; 16] = bytemuck::cast(_mm_packus_epi16(l[0], l[1]));
                o[at..at + 16].copy_from_slice(&bytes);
            }
            if let Some(o) = rgb.as_deref_mut() {
                let [r, g, b]: [[u8; 16]; 3] = [r, g, b].map(bytemuck::cast);
                for (i, px) in o[3 * at..3 * at + 48].chunks_exact_mut(3).enumerate() {
                    px.copy_from_slice(&[r[i], g[i], b[i]]);
                }
            }
        }
        16 * blocks
    }

    /// See `wasm::triangle_pairs`.
    #[target_feature(enable = "sse2")]
    pub(super) fn triangle_pairs(
        s: &[u16],
        out: &mut [u8],
        even: u16,
        odd: u16,
        shift: u32,
    ) -> usize {
        let load = |s: &[u16]| -> __m128i { bytemuck::cast(<[u16; 8]>::try_from(s).expect("8")) };
        let (even, odd) = (_mm_set1_epi16(even as i16), _mm_set1_epi16(odd as i16));
        let count = _mm_cvtsi32_si128(shift as i32);
        let pairs = s.len().saturating_sub(1) / 8 * 8;
        for i in (0..pairs).step_by(8) {
            let (a, b) = (load(&s[i..i + 8]), load(&s[i + 1..i + 9]));
            let three = |v: __m128i| _mm_add_epi16(_mm_add_epi16(v, v), v);
            let near_a = _mm_srl_epi16(_mm_add_epi16(_mm_add_epi16(three(a), b), odd), count);
            let near_b = _mm_srl_epi16(_mm_add_epi16(_mm_add_epi16(three(b), a), even), count);
            let mixed = _mm_unpacklo_epi8(
                _mm_packus_epi16(near_a, near_a),
                _mm_packus_epi16(near_b, near_b),
            );
            out[2 * i + 1..2 * i + 17].copy_from_slice(&bytemuck::cast::<__m128i, [u8; 16]>(mixed));
        }
        pairs
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
        let rows: [__m128i; 8] = std::array::from_fn(|r| {
            let c: __m128i = bytemuck::cast(<[i16; 8]>::try_from(&coef[8 * r..][..8]).expect("8"));
            let q: __m128i = bytemuck::cast(<[u16; 8]>::try_from(&quant[8 * r..][..8]).expect("8"));
            _mm_mullo_epi16(c, q)
        });
        let [lo, hi] = idct_pass(rows, 11);
        let ws: [__m128i; 8] = std::array::from_fn(|r| _mm_packs_epi32(lo[r], hi[r]));
        let [lo, hi] = idct_pass(transpose16(ws), 18);
        let centre = _mm_set1_epi32(128);
        let by_column: [__m128i; 8] = std::array::from_fn(|x| {
            _mm_packs_epi32(_mm_add_epi32(lo[x], centre), _mm_add_epi32(hi[x], centre))
        });
        for (r, v) in transpose16(by_column).iter().enumerate() {
            let bytes: [u8; 16] = bytemuck::cast(_mm_packus_epi16(*v, *v));
            out[r * stride..r * stride + 8].copy_from_slice(&bytes[..8]);
        }
    }
}

/// libjpeg's YCbCr to RGB (`jdcolor.c`, as [`crate::jpeg`]'s `output` module computes it) of
/// the leading whole blocks of 16 pixels, written packed to `rgb` if given, and Pillow's
/// grey of those RGB pixels (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`, as
/// [`crate::imagehash::grey::grey_of`]) to `grey` if given; returns how many pixels it did.
/// Only in wasm builds with simd128 (integer arithmetic, exact in any lane width); elsewhere
/// 0.
#[inline]
pub fn ycc_rgb16(
    y: &[u8],
    cb: &[u8],
    cr: &[u8],
    rgb: Option<&mut [u8]>,
    grey: Option<&mut [u8]>,
) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unused_unsafe)]
    // SAFETY: the cfg above proves the build enables simd128.
    return unsafe { wasm::ycc_rgb16(y, cb, cr, rgb, grey) };
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: the cfg above proves the build enables SSE2.
    return unsafe { sse2::ycc_rgb16(y, cb, cr, rgb, grey) };
    #[allow(unreachable_code)]
    {
        let _ = (y, cb, cr, rgb, grey);
        0
    }
}

/// The pairs of libjpeg's 2:1 triangle filter, as [`crate::jpeg`]'s `output::triangle`
/// computes them: for `i` from 1, `out[2i - 1] = (3 s[i-1] + s[i] + odd) >> shift` and
/// `out[2i] = (3 s[i] + s[i-1] + even) >> shift`, in 16-bit lanes (the sums stay below
/// 2^13). Does whole blocks of eight pairs and returns how many pairs; only in wasm builds
/// with simd128, elsewhere 0.
#[inline]
pub fn triangle_pairs(s: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[allow(unused_unsafe)]
    // SAFETY: the cfg above proves the build enables simd128.
    return unsafe { wasm::triangle_pairs(s, out, even, odd, shift) };
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: the cfg above proves the build enables SSE2.
    return unsafe { sse2::triangle_pairs(s, out, even, odd, shift) };
    #[allow(unreachable_code)]
    {
        let _ = (s, out, even, odd, shift);
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

    /// One 1-D pass of the accurate IDCT on eight lines side by side: `v[k]` holds input `k`
    /// of each line as 16-bit lanes; returns the outputs as 32-bit lanes, lines 0-3 and 4-7.
    /// Each output of `jpeg::idct::pass` is a sum of the inputs times fixed integers; those
    /// sums are regrouped here as dot products of input pairs with constant pairs
    /// (`i32x4.dot_i16x8_s`, as libjpeg-turbo's SSE2 code does with `pmaddwd`), which gives
    /// the same value in wrapping 32-bit arithmetic. For example, `tmp2 = z1 - 15137 v6` with
    /// `z1 = 4433 (v2 + v6)` is `4433 v2 - 10704 v6`.
    #[target_feature(enable = "simd128")]
    fn idct_pass(v: [v128; 8], shift: u32) -> [[v128; 8]; 2] {
        let pair = |a: i16, b: i16| i16x8(a, b, a, b, a, b, a, b);
        let lo = |x, y| i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(x, y);
        let hi = |x, y| i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(x, y);
        let round = i32x4_splat(1 << (shift - 1));
        let half = |p04: v128, p26: v128, p75: v128, p31: v128| {
            let dot = i32x4_dot_i16x8;
            let even = |p, [a, b]: [i16; 2]| dot(p, pair(a, b));
            let tmp0 = even(p04, super::IDCT_EVEN[0]);
            let tmp1 = even(p04, super::IDCT_EVEN[1]);
            let tmp2 = even(p26, super::IDCT_EVEN[2]);
            let tmp3 = even(p26, super::IDCT_EVEN[3]);
            let (tmp10, tmp13) = (i32x4_add(tmp0, tmp3), i32x4_sub(tmp0, tmp3));
            let (tmp11, tmp12) = (i32x4_add(tmp1, tmp2), i32x4_sub(tmp1, tmp2));
            // Odd part: t0..t3 are inputs 7, 5, 3, 1 (pairs (t0, t1) and (t2, t3)).
            let odd =
                |[a, b, c, d]: [i16; 4]| i32x4_add(dot(p75, pair(a, b)), dot(p31, pair(c, d)));
            let [t0, t1, t2, t3] = super::IDCT_ODD.map(odd);
            let out = |a: v128| i32x4_shr(i32x4_add(a, round), shift);
            [
                out(i32x4_add(tmp10, t3)),
                out(i32x4_add(tmp11, t2)),
                out(i32x4_add(tmp12, t1)),
                out(i32x4_add(tmp13, t0)),
                out(i32x4_sub(tmp13, t0)),
                out(i32x4_sub(tmp12, t1)),
                out(i32x4_sub(tmp11, t2)),
                out(i32x4_sub(tmp10, t3)),
            ]
        };
        [
            half(
                lo(v[0], v[4]),
                lo(v[2], v[6]),
                lo(v[7], v[5]),
                lo(v[3], v[1]),
            ),
            half(
                hi(v[0], v[4]),
                hi(v[2], v[6]),
                hi(v[7], v[5]),
                hi(v[3], v[1]),
            ),
        ]
    }

    /// Transposes an 8x8 matrix of 16-bit values held as eight rows.
    #[target_feature(enable = "simd128")]
    fn transpose16(a: [v128; 8]) -> [v128; 8] {
        let lo = |x, y| i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(x, y);
        let hi = |x, y| i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(x, y);
        let t = [
            lo(a[0], a[1]),
            hi(a[0], a[1]),
            lo(a[2], a[3]),
            hi(a[2], a[3]),
            lo(a[4], a[5]),
            hi(a[4], a[5]),
            lo(a[6], a[7]),
            hi(a[6], a[7]),
        ];
        let lo = |x, y| i32x4_shuffle::<0, 4, 1, 5>(x, y);
        let hi = |x, y| i32x4_shuffle::<2, 6, 3, 7>(x, y);
        let u = [
            lo(t[0], t[2]),
            hi(t[0], t[2]),
            lo(t[1], t[3]),
            hi(t[1], t[3]),
            lo(t[4], t[6]),
            hi(t[4], t[6]),
            lo(t[5], t[7]),
            hi(t[5], t[7]),
        ];
        let lo = |x, y| i64x2_shuffle::<0, 2>(x, y);
        let hi = |x, y| i64x2_shuffle::<1, 3>(x, y);
        [
            lo(u[0], u[4]),
            hi(u[0], u[4]),
            lo(u[1], u[5]),
            hi(u[1], u[5]),
            lo(u[2], u[6]),
            hi(u[2], u[6]),
            lo(u[3], u[7]),
            hi(u[3], u[7]),
        ]
    }

    #[target_feature(enable = "simd128")]
    pub(super) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
        let raw: [v128; 8] = std::array::from_fn(|r| {
            bytemuck::cast(<[i16; 8]>::try_from(&coef[8 * r..][..8]).expect("8"))
        });
        let q: [v128; 8] = std::array::from_fn(|r| {
            bytemuck::cast(<[u16; 8]>::try_from(&quant[8 * r..][..8]).expect("8"))
        });
        // Dequantised: the low 16 bits of each product, as the scalar form keeps them.
        let rows: [v128; 8] = std::array::from_fn(|r| i16x8_mul(raw[r], q[r]));
        // Pass 1 along columns: lanes are columns.
        let [lo, hi] = idct_pass(rows, 11);
        // Saturated to 16 bits, then rows become lanes for pass 2.
        let ws: [v128; 8] = std::array::from_fn(|r| i16x8_narrow_i32x4(lo[r], hi[r]));
        let [lo, hi] = idct_pass(transpose16(ws), 18);
        // Plus 128, saturated to 16 then to unsigned 8 bits: the clamp to 0..=255.
        let centre = i32x4_splat(128);
        let by_column: [v128; 8] = std::array::from_fn(|x| {
            i16x8_narrow_i32x4(i32x4_add(lo[x], centre), i32x4_add(hi[x], centre))
        });
        let by_row = transpose16(by_column);
        for (r, v) in by_row.iter().enumerate() {
            let bytes: [u8; 16] = bytemuck::cast(u8x16_narrow_i16x8(*v, *v));
            out[r * stride..r * stride + 8].copy_from_slice(&bytes[..8]);
        }
    }

    #[target_feature(enable = "simd128")]
    pub(super) fn ycc_rgb16(
        y: &[u8],
        cb: &[u8],
        cr: &[u8],
        mut rgb: Option<&mut [u8]>,
        mut grey: Option<&mut [u8]>,
    ) -> usize {
        let load =
            |s: &[u8]| -> v128 { bytemuck::cast(<[u8; 16]>::try_from(s).expect("16 bytes")) };
        let half = i32x4_splat(1 << 15);
        // (sum of k_i a_i + 2^15) >> 16 for eight 16-bit lanes, through 32-bit products; the
        // callers' results fit 16 bits, so narrowing them back is exact. One, two or three
        // products: a product by zero would not be optimised away.
        let shift = |lo: v128, hi: v128| {
            i16x8_narrow_i32x4(
                i32x4_shr(i32x4_add(lo, half), 16),
                i32x4_shr(i32x4_add(hi, half), 16),
            )
        };
        let products = |a: v128, k: i16| {
            let k = i16x8_splat(k);
            (i32x4_extmul_low_i16x8(a, k), i32x4_extmul_high_i16x8(a, k))
        };
        let term1 = |a: v128, k1: i16| {
            let (lo, hi) = products(a, k1);
            shift(lo, hi)
        };
        let term2 = |a: v128, k1: i16, b: v128, k2: i16| {
            let ((lo1, hi1), (lo2, hi2)) = (products(a, k1), products(b, k2));
            shift(i32x4_add(lo1, lo2), i32x4_add(hi1, hi2))
        };
        let term3 = |a: v128, k1: i16, b: v128, k2: i16, c: v128, k3: i16| {
            let ((lo1, hi1), (lo2, hi2)) = (products(a, k1), products(b, k2));
            let (lo3, hi3) = products(c, k3);
            shift(
                i32x4_add(i32x4_add(lo1, lo2), lo3),
                i32x4_add(i32x4_add(hi1, hi2), hi3),
            )
        };
        let centre = i16x8_splat(128);
        let zero = i16x8_splat(0);
        let blocks = y.len().min(cb.len()).min(cr.len()) / 16;
        let blocks = rgb.as_ref().map_or(blocks, |o| blocks.min(o.len() / 48));
        let blocks = grey.as_ref().map_or(blocks, |o| blocks.min(o.len() / 16));
        for k in 0..blocks {
            let at = 16 * k;
            let halves = |v: v128| [u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v)];
            let y = halves(load(&y[at..at + 16]));
            let cb = halves(load(&cb[at..at + 16]));
            let cr = halves(load(&cr[at..at + 16]));
            let mut planes = [[zero; 2]; 3];
            for h in 0..2 {
                let (y, cb, cr) = (y[h], i16x8_sub(cb[h], centre), i16x8_sub(cr[h], centre));
                // The factors rewritten to fit 16 bits, exactly (checked for every input):
                // (91881 x + 2^15) >> 16 = x + ((26345 x + 2^15) >> 16),
                // (116130 x + 2^15) >> 16 = 2 x + ((-14942 x + 2^15) >> 16),
                // (-22554 b - 46802 r + 2^15) >> 16 = -r + ((-22554 b + 18734 r + 2^15) >> 16).
                planes[0][h] = i16x8_add(i16x8_add(y, cr), term1(cr, 26345));
                planes[1][h] = i16x8_add(i16x8_sub(y, cr), term2(cb, -22554, cr, 18734));
                planes[2][h] = i16x8_add(i16x8_add(y, i16x8_add(cb, cb)), term1(cb, -14942));
            }
            // Saturating narrowing: the clamp to 0..=255.
            let [r, g, b] = planes.map(|c| u8x16_narrow_i16x8(c[0], c[1]));
            if let Some(o) = grey.as_deref_mut() {
                // Pillow's grey with 38470 = 65536 - 27066: g + ((19595 r - 27066 g + 7471 b
                // + 2^15) >> 16), the same integer.
                let (r, g, b) = (halves(r), halves(g), halves(b));
                let l: [v128; 2] = std::array::from_fn(|h| {
                    i16x8_add(g[h], term3(r[h], 19595, g[h], -27066, b[h], 7471))
                });
                let bytes = u8x16_narrow_i16x8(l[0], l[1]);
                o[at..at + 16].copy_from_slice(&bytemuck::cast::<v128, [u8; 16]>(bytes));
            }
            let Some(o) = rgb.as_deref_mut() else {
                continue;
            };
            // Interleave: r0 g0 r1 g1 ... then the blue bytes between.
            let rg_lo =
                i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(r, g);
            let rg_hi =
                i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(r, g);
            let out0 =
                i8x16_shuffle::<0, 1, 16, 2, 3, 17, 4, 5, 18, 6, 7, 19, 8, 9, 20, 10>(rg_lo, b);
            let mid = i8x16_shuffle::<11, 0, 12, 13, 0, 14, 15, 0, 16, 17, 0, 18, 19, 0, 20, 21>(
                rg_lo, rg_hi,
            );
            let out1 =
                i8x16_shuffle::<0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15>(mid, b);
            let out2 = i8x16_shuffle::<26, 6, 7, 27, 8, 9, 28, 10, 11, 29, 12, 13, 30, 14, 15, 31>(
                rg_hi, b,
            );
            for (i, v) in [out0, out1, out2].iter().enumerate() {
                let at = 3 * at + 16 * i;
                o[at..at + 16].copy_from_slice(&bytemuck::cast::<v128, [u8; 16]>(*v));
            }
        }
        16 * blocks
    }

    #[target_feature(enable = "simd128")]
    pub(super) fn triangle_pairs(
        s: &[u16],
        out: &mut [u8],
        even: u16,
        odd: u16,
        shift: u32,
    ) -> usize {
        let load = |s: &[u16]| -> v128 { bytemuck::cast(<[u16; 8]>::try_from(s).expect("8")) };
        let (even, odd, three) = (u16x8_splat(even), u16x8_splat(odd), u16x8_splat(3));
        let pairs = s.len().saturating_sub(1) / 8 * 8;
        for i in (0..pairs).step_by(8) {
            // a = s[i..i+8], b = s[i+1..i+9]: the pairs (a, b) give outputs 2i+1 and 2i+2.
            let (a, b) = (load(&s[i..i + 8]), load(&s[i + 1..i + 9]));
            let near_a = u16x8_shr(u16x8_add(u16x8_add(u16x8_mul(a, three), b), odd), shift);
            let near_b = u16x8_shr(u16x8_add(u16x8_add(u16x8_mul(b, three), a), even), shift);
            let bytes = u8x16_narrow_i16x8(near_a, near_b);
            let mixed =
                i8x16_shuffle::<0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15>(bytes, bytes);
            out[2 * i + 1..2 * i + 17].copy_from_slice(&bytemuck::cast::<v128, [u8; 16]>(mixed));
        }
        pairs
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
