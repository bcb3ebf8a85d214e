//! The few loops LLVM does not vectorise well by itself, and the one place that chooses how they
//! run: SSE2 on x86-64 (always present there, `x86_64.rs`), `simd128` on wasm32 when the module is
//! built with it (scripts/wasm-cargo.sh, `wasm32.rs`), plain Rust elsewhere ([`portable`]).
//!
//! The backend is chosen once, by `cfg`, in the `use ... as backend` lines below; callers never
//! name an ISA, and builds without vectors get `no_vectors`. The kernels both ISAs run with the
//! same lane operations (the JPEG IDCT, colour conversion and upsampling, Pillow's resampling
//! dot product) are written once in `v128.rs` and expanded by each ISA file over its own
//! intrinsics. Every kernel is integer arithmetic, except PDQ's luma, which does the reference's
//! f32 products and sums per pixel in the same order; so every backend gives the bits of
//! [`portable`], and the tests (`tests.rs`, run natively and by the wasm suite) demand it on
//! random and extreme inputs.
//!
//! Some kernels do only a prefix of their input (whole vector blocks) and return how many items
//! they did; the caller's loop, which is the algorithm's own definition (PDQ's luma table,
//! Pillow's `grey_of`, libjpeg's `jdcolor.c`), does the rest, and all of it where this build has no
//! vectors for that kernel.
//!
//! This is the crate's only module allowed `unsafe`: the call of a `#[target_feature]` function,
//! made only where `cfg(target_feature)` proves the feature is enabled for the whole build. Loads
//! and stores are `bytemuck` casts of arrays.

// Outside tests, builds with vectors use none of it, builds without use only part.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod portable;
#[cfg(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[macro_use]
mod v128;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod x86_64;

#[cfg(test)]
mod tests;

// The one place an ISA is chosen: every kernel below calls `backend`.
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use no_vectors as backend;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use wasm32 as backend;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use x86_64 as backend;

/// `sum pixels[i] * weights[i]` in wrapping `i32` arithmetic (C `int`, as in Pillow), the
/// pixels zero-extended. Wrapping sums are exact modulo 2^32 whatever their order, so the lanes
/// may add in any order. Each pair of products must fit in an `i32` (true for pixel values).
#[inline]
pub(crate) fn dot_u8_i16(pixels: &[u8], weights: &[i16]) -> i32 {
    assert_eq!(pixels.len(), weights.len());
    let main = pixels.len() / 16 * 16;
    // SAFETY: a vector backend is compiled only where its cfg proves the build enables the
    // feature its `#[target_feature]` functions are compiled with.
    #[allow(unused_unsafe)]
    let sum = unsafe { backend::dot_blocks(&pixels[..main], &weights[..main]) };
    pixels[main..]
        .iter()
        .zip(&weights[main..])
        .fold(sum, |s, (&p, &w)| {
            s.wrapping_add(i32::from(p) * i32::from(w))
        })
}

/// Writes PDQ's f32 luma (`cr * r + cg * g + cb * b`, the products and sums in that order, as
/// `pdq::luma::luma_of`) of the leading whole blocks of 16 RGB pixels of `pixels` to `out`;
/// returns how many pixels it did. Vectors only with simd128 (channels split by byte shuffles,
/// then f32x4 arithmetic: the same IEEE operations per pixel); elsewhere 0: natively the
/// caller's table of products beats SSE2, which has no byte shuffle.
#[inline]
pub(crate) fn luma_rgb16(pixels: &[u8], out: &mut [f32], weights: [f32; 3]) -> usize {
    // SAFETY: see `dot_u8_i16`.
    #[allow(unused_unsafe)]
    unsafe {
        backend::luma_rgb16(pixels, out, weights)
    }
}

/// Writes Pillow's grey (`(19595 r + 38470 g + 7471 b + 0x8000) >> 16`, as
/// `imagehash::grey::grey_of`) of the leading whole blocks of 16 RGB pixels of `row` to the
/// start of `out`; returns how many pixels it did. Vectors only with simd128 (byte shuffles
/// split the channels); elsewhere 0, and the caller's blocked loop, which LLVM vectorises, does
/// every pixel.
#[inline]
pub(crate) fn grey_rgb16(row: &[u8], out: &mut [u8]) -> usize {
    // SAFETY: see `dot_u8_i16`.
    #[allow(unused_unsafe)]
    unsafe {
        backend::grey_rgb16(row, out)
    }
}

/// libjpeg-turbo's accurate inverse DCT (`jidctint.c`) of one block: `coef` in natural
/// (row-major) order, `quant` the component's quantisation table in natural order; writes 8 rows
/// of 8 samples at `out[row * stride]`. Out-of-range values are handled as libjpeg-turbo's SIMD
/// code does (see [`portable::idct_islow`]): dequantised coefficients keep their low 16 bits,
/// first-pass results saturate to 16 bits, samples to 0..=255.
#[inline]
pub(crate) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // SAFETY: see `dot_u8_i16`.
    #[allow(unused_unsafe)]
    unsafe {
        backend::idct_islow(coef, quant, out, stride)
    }
}

/// libjpeg's YCbCr to RGB (`jdcolor.c`, as the JPEG decoder's `output` module computes it) of
/// the leading whole blocks of 16 pixels, written packed to `rgb` if given, and Pillow's grey of
/// those RGB pixels (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`, as
/// `imagehash::grey::grey_of`) to `grey` if given; returns how many pixels it did. Vectors with
/// SSE2 and with simd128; elsewhere 0, and the caller does every pixel.
#[inline]
pub(crate) fn ycc_rgb16(
    y: &[u8],
    cb: &[u8],
    cr: &[u8],
    rgb: Option<&mut [u8]>,
    grey: Option<&mut [u8]>,
) -> usize {
    // SAFETY: see `dot_u8_i16`.
    #[allow(unused_unsafe)]
    unsafe {
        backend::ycc_rgb16(y, cb, cr, rgb, grey)
    }
}

/// The pairs of libjpeg's 2:1 triangle filter, as the JPEG decoder's `output::triangle`
/// computes them: for `i` from 1, `out[2i - 1] = (3 s[i-1] + s[i] + odd) >> shift` and
/// `out[2i] = (3 s[i] + s[i-1] + even) >> shift`, in 16-bit lanes (the sums stay below
/// 2^13). Does whole blocks of eight pairs and returns how many pairs. Vectors with SSE2 and
/// with simd128; elsewhere 0, and the caller does every pair.
#[inline]
pub(crate) fn triangle_pairs(s: &[u16], out: &mut [u8], even: u16, odd: u16, shift: u32) -> usize {
    // SAFETY: see `dot_u8_i16`.
    #[allow(unused_unsafe)]
    unsafe {
        backend::triangle_pairs(s, out, even, odd, shift)
    }
}

/// The backend of builds without vectors: the kernels that do a whole job run [`portable`];
/// those that do a prefix do none of it, leaving every item to the caller's loop.
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod no_vectors {
    pub(super) use super::portable::{dot_u8_i16 as dot_blocks, idct_islow};

    pub(super) fn luma_rgb16(_: &[u8], _: &mut [f32], _: [f32; 3]) -> usize {
        0
    }

    pub(super) fn grey_rgb16(_: &[u8], _: &mut [u8]) -> usize {
        0
    }

    pub(super) fn ycc_rgb16(
        _: &[u8],
        _: &[u8],
        _: &[u8],
        _: Option<&mut [u8]>,
        _: Option<&mut [u8]>,
    ) -> usize {
        0
    }

    pub(super) fn triangle_pairs(_: &[u16], _: &mut [u8], _: u16, _: u16, _: u32) -> usize {
        0
    }
}
