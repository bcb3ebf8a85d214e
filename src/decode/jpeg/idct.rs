//! libjpeg-turbo's accurate integer inverse DCT (`JDCT_ISLOW`, the default, which Pillow
//! uses), the arithmetic of `jidctint.c` (`jpeg_idct_islow`): 13-bit fixed-point constants,
//! two extra bits kept between the passes, results rounded by adding half and shifting.
//!
//! The arithmetic is [`crate::arch::idct_islow`]: plain Rust whose passes run over eight
//! independent lines (`arch::portable`), and SSE2 and simd128 forms of the same sums; integer
//! arithmetic gives the same result in any lane order. This module adds the flat-block
//! shortcut and tests the whole against a transcription of `jidctint.c`.
//!
//! Out-of-range values: libjpeg-turbo's C code works in 64-bit `long` and its x86 SIMD code
//! (`jidctint-sse2.asm`, `-avx2.asm`, what Pillow runs on x86-64) in 16-bit lanes: the
//! dequantised coefficients are the low 16 bits of the product (`pmullw`), the first pass's
//! results saturate to 16 bits (`packssdw`), and the samples saturate (`packsswb`) where the
//! C code indexes its range-limit table modulo 1024. Both agree whenever the first pass's
//! results fit 16 bits and the samples lie within +-512, which holds for the images 8-bit
//! encoders write (the test below compares the two in that range). Beyond it we do what the
//! SIMD code does, in 32-bit sums that wrap rather than panic.
//!
use std::num::Wrapping as W;

const PASS1_BITS: usize = 2;

/// The post-IDCT range limit, saturating (see the module docs): the value plus 128,
/// clamped to 0..=255.
#[inline(always)]
fn sample(x: W<i32>) -> u8 {
    (x.0.saturating_add(128)).clamp(0, 255) as u8
}

/// The product of a coefficient and its quantiser, as 16-bit lanes keep it.
#[inline(always)]
fn dequantise(coef: i16, quant: u16) -> W<i32> {
    W(i32::from(coef.wrapping_mul(quant as i16)))
}

/// Inverse DCT of one block: `coef` in natural (row-major) order, `quant` the component's
/// quantisation table in natural order; writes 8 rows of 8 samples at `out[row * stride]`.
pub(super) fn idct_block(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    // A block with only a DC term is flat. This shortcut is exact: with every AC input zero,
    // both passes reduce to `dc << 2` and then `(x + 16) >> 5`, as the full sums do.
    if coef[1..].iter().fold(0, |any, &c| any | c) == 0 {
        let dc = dequantise(coef[0], quant[0]);
        let v = sample((dc * W(1 << PASS1_BITS) + W(1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3));
        for r in 0..8 {
            out[r * stride..r * stride + 8].fill(v);
        }
        return;
    }
    crate::arch::idct_islow(coef, quant, out, stride);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jidctint.c` as written: column pass with its zero-column shortcut, then row pass,
    /// 64-bit intermediates, samples through the range-limit table indexed modulo 1024.
    /// `None` where libjpeg-turbo's C and SIMD code differ (see the module docs).
    fn reference(coef: &[i16; 64], quant: &[u16; 64]) -> Option<[u8; 64]> {
        let dq = |i: usize| i64::from(coef[i]) * i64::from(quant[i]);
        if (0..64).any(|i| i16::try_from(dq(i)).is_err()) {
            return None;
        }
        let descale = |x: i64, n: u32| (x + (1 << (n - 1))) >> n;
        let mut ws = [0i64; 64];
        let one_d = |inp: [i64; 8]| -> [i64; 8] {
            let (z2, z3) = (inp[2], inp[6]);
            let z1 = (z2 + z3) * 4433;
            let tmp2 = z1 + z3 * -15137;
            let tmp3 = z1 + z2 * 6270;
            let tmp0 = (inp[0] + inp[4]) << 13;
            let tmp1 = (inp[0] - inp[4]) << 13;
            let (tmp10, tmp13, tmp11, tmp12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
            let (mut t0, mut t1, mut t2, mut t3) = (inp[7], inp[5], inp[3], inp[1]);
            let (mut z1, mut z2, mut z3, mut z4) = (t0 + t3, t1 + t2, t0 + t2, t1 + t3);
            let z5 = (z3 + z4) * 9633;
            t0 *= 2446;
            t1 *= 16819;
            t2 *= 25172;
            t3 *= 12299;
            z1 *= -7373;
            z2 *= -20995;
            z3 *= -16069;
            z4 *= -3196;
            z3 += z5;
            z4 += z5;
            t0 += z1 + z3;
            t1 += z2 + z4;
            t2 += z2 + z3;
            t3 += z1 + z4;
            [
                tmp10 + t3,
                tmp11 + t2,
                tmp12 + t1,
                tmp13 + t0,
                tmp13 - t0,
                tmp12 - t1,
                tmp11 - t2,
                tmp10 - t3,
            ]
        };
        for c in 0..8 {
            if (1..8).all(|r| coef[r * 8 + c] == 0) {
                for r in 0..8 {
                    ws[r * 8 + c] = dq(c) << 2;
                }
                continue;
            }
            let out = one_d(std::array::from_fn(|r| dq(r * 8 + c)));
            for r in 0..8 {
                ws[r * 8 + c] = descale(out[r], 11);
            }
        }
        if ws.iter().any(|&w| i16::try_from(w).is_err()) {
            return None;
        }
        let mut px = [0u8; 64];
        for r in 0..8 {
            let out = one_d(std::array::from_fn(|c| ws[r * 8 + c]));
            for c in 0..8 {
                let x = descale(out[c], 18);
                if !(-512..512).contains(&x) {
                    return None;
                }
                // The table: x + 128 clamped, for x in -512..512 (x & 1023 read as signed).
                px[r * 8 + c] = (x + 128).clamp(0, 255) as u8;
            }
        }
        Some(px)
    }

    #[test]
    fn equals_the_transcription_on_random_blocks() {
        let mut next = crate::testing::xorshift64(0x1D_C7);
        let mut compared = 0;
        for round in 0..20_000 {
            let mut coef = [0i16; 64];
            let mut quant = [0u16; 64];
            // Sparse blocks like real ones, plus dense and DC-only ones.
            let density = [2, 8, 64, 0][round % 4];
            for i in 0..64 {
                quant[i] = 1 + (next() % 16) as u16;
                let keep = i == 0 || (density > 0 && next() % 64 < density);
                if keep {
                    let range = if i == 0 { 256 } else { 64 >> (i / 16) };
                    coef[i] = (next() % (2 * range) as u64) as i16 - range as i16;
                }
            }
            let (mut out, mut plain) = ([0u8; 64], [0u8; 64]);
            idct_block(&coef, &quant, &mut out, 8);
            crate::arch::portable::idct_islow(&coef, &quant, &mut plain, 8);
            // The vector form (where the build has one) equals the plain one everywhere,
            // also outside the range where libjpeg-turbo's C and SIMD code agree.
            assert_eq!(out, plain, "block {round}: {coef:?}");
            if let Some(expected) = reference(&coef, &quant) {
                assert_eq!(out, expected, "block {round}: {coef:?}");
                compared += 1;
            }
        }
        // Most blocks lie in the range where the reference is defined.
        assert!(compared > 15_000, "{compared}");
    }

    #[test]
    fn extreme_coefficients_neither_panic_nor_depend_on_lane_order() {
        let quant = [u16::MAX; 64];
        let alternating: [i16; 64] =
            std::array::from_fn(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN });
        for coef in [[i16::MIN; 64], [i16::MAX; 64], alternating] {
            let (mut out, mut plain) = ([0u8; 64], [0u8; 64]);
            idct_block(&coef, &quant, &mut out, 8);
            crate::arch::portable::idct_islow(&coef, &quant, &mut plain, 8);
            assert_eq!(out, plain);
        }
    }
}
