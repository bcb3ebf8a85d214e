//! Every kernel as this build runs it against its [`portable`] form, on seeded pseudo-random
//! and extreme inputs: equal outputs, bit for bit, and (where the build has vectors for the
//! kernel) the same number of items done. Run by `cargo test --lib` natively, and by the
//! integration suite, which compiles this module from source, in wasm (Node and Chromium),
//! where the simd128 kernels run.

use super::portable;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Marsaglia's xorshift64 (13, 7, 17) from a non-zero seed: the same inputs on every run and
/// target.
fn xorshift64(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

fn bytes(next: &mut impl FnMut() -> u64, len: usize) -> Vec<u8> {
    (0..len).map(|_| next() as u8).collect()
}

/// Lengths around the vector blocks, and a few long ones.
fn lengths() -> impl Iterator<Item = usize> {
    (0..100).chain([255, 256, 257, 1000, 3025, 4097])
}

/// Whether this build runs `kernel` on vectors; where it does not, the kernel does nothing and
/// leaves every item to its caller.
fn vectors(kernel: &str) -> bool {
    let sse2 = cfg!(all(target_arch = "x86_64", target_feature = "sse2"));
    let simd128 = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));
    match kernel {
        "luma" | "grey" => simd128,
        _ => sse2 || simd128,
    }
}

/// The items a prefix kernel did, checked against the portable count.
fn check_done(kernel: &str, done: usize, portable: usize) {
    let expected = if vectors(kernel) { portable } else { 0 };
    assert_eq!(done, expected, "{kernel}: items done");
}

#[test]
fn dot_product_equals_portable() {
    let mut next = xorshift64(0x9e37_79b9_7f4a_7c15);
    for len in lengths() {
        let pixels = bytes(&mut next, len);
        let extremes = [0, 255].map(|v| vec![v; len]);
        for weights in [
            (0..len).map(|_| next() as i16).collect::<Vec<i16>>(),
            vec![i16::MAX; len],
            vec![i16::MIN; len],
        ] {
            for pixels in [&pixels, &extremes[0], &extremes[1]] {
                assert_eq!(
                    super::dot_u8_i16(pixels, &weights),
                    portable::dot_u8_i16(pixels, &weights),
                    "length {len}"
                );
            }
        }
    }
}

#[test]
fn luma_equals_portable_bit_for_bit() {
    let mut next = xorshift64(0x5eed_0001);
    let pdq = [0.299f32, 0.587, 0.114];
    let odd = [1.0f32 / 3.0, f32::MAX / 1024.0, -0.0];
    for len in lengths() {
        for row in [
            bytes(&mut next, 3 * len),
            vec![255; 3 * len],
            vec![0; 3 * len],
        ] {
            for weights in [pdq, odd] {
                let (mut got, mut want) = (vec![-1.0f32; len], vec![-1.0f32; len]);
                let done = super::luma_rgb16(&row, &mut got, weights);
                let all = portable::luma_rgb16(&row, &mut want, weights);
                check_done("luma", done, all);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got[..done]), bits(&want[..done]), "length {len}");
            }
        }
    }
}

#[test]
fn grey_equals_portable() {
    let mut next = xorshift64(0x2545_f491_4f6c_dd1d);
    for len in lengths() {
        for row in [
            bytes(&mut next, 3 * len),
            vec![255; 3 * len],
            vec![0; 3 * len],
        ] {
            // A shorter output bounds the blocks too.
            for room in [len, len / 2] {
                let (mut got, mut want) = (vec![7u8; room], vec![7u8; room]);
                let done = super::grey_rgb16(&row, &mut got);
                let all = portable::grey_rgb16(&row, &mut want);
                check_done("grey", done, all);
                assert_eq!(got[..done], want[..done], "length {len}");
            }
        }
    }
}

/// Writes the IDCT of `coef` both ways into 8 rows of a wider buffer and compares everything,
/// the bytes beside the block included.
fn assert_idct_equal(coef: &[i16; 64], quant: &[u16; 64], what: &str) {
    const STRIDE: usize = 11;
    let (mut got, mut want) = ([0xA5u8; 8 * STRIDE], [0xA5u8; 8 * STRIDE]);
    super::idct_islow(coef, quant, &mut got[1..], STRIDE);
    portable::idct_islow(coef, quant, &mut want[1..], STRIDE);
    assert_eq!(got, want, "{what}: {coef:?} {quant:?}");
}

#[test]
fn idct_equals_portable_on_random_blocks() {
    let mut next = xorshift64(0x1D_C7);
    for round in 0..20_000 {
        let mut coef = [0i16; 64];
        let mut quant = [0u16; 64];
        // Sparse blocks like real ones, dense ones in the usual range, and dense ones anywhere
        // (where the first pass saturates and the products wrap).
        let kind = round % 4;
        for i in 0..64 {
            quant[i] = if kind == 3 {
                next() as u16
            } else {
                1 + (next() % 16) as u16
            };
            coef[i] = match kind {
                0 if i > 0 && next() % 64 >= 2 => 0,
                0 | 1 => {
                    let range = if i == 0 { 256 } else { 64 >> (i / 16) };
                    (next() % (2 * range) as u64) as i16 - range as i16
                }
                _ => next() as i16,
            };
        }
        assert_idct_equal(&coef, &quant, &format!("block {round}"));
    }
}

#[test]
fn idct_equals_portable_on_extreme_blocks() {
    let alternating: [i16; 64] =
        std::array::from_fn(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN });
    let single = |i: usize, v: i16| {
        let mut c = [0i16; 64];
        c[i] = v;
        c
    };
    for quant in [[u16::MAX; 64], [1; 64], [0x8000; 64]] {
        for coef in [[i16::MIN; 64], [i16::MAX; 64], [0; 64], alternating] {
            assert_idct_equal(&coef, &quant, "extreme");
        }
        for i in 0..64 {
            for v in [i16::MIN, i16::MAX, -1, 1] {
                assert_idct_equal(&single(i, v), &quant, &format!("coefficient {i}"));
            }
        }
    }
}

/// A `ycc_rgb16`, as the build runs it or portable.
type YccKernel = dyn Fn(&[u8], &[u8], &[u8], Option<&mut [u8]>, Option<&mut [u8]>) -> usize;

/// Every (Cb, Cr) pair with luma sweeping 0..=255, then random pixels, through each output
/// combination and output sizes that bound the blocks.
#[test]
fn ycc_conversion_and_grey_equal_portable() {
    let n = 65536 + 7;
    let sweep = (
        (0..n).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>(),
        (0..n).map(|i| (i % 256) as u8).collect::<Vec<_>>(),
        (0..n).map(|i| (i / 256 % 256) as u8).collect::<Vec<_>>(),
    );
    let mut next = xorshift64(0x7c_c0);
    let mut cases = vec![sweep];
    for len in lengths() {
        cases.push((
            bytes(&mut next, len),
            bytes(&mut next, len),
            bytes(&mut next, len + len % 3),
        ));
    }
    for (y, cb, cr) in &cases {
        let len = y.len();
        for (rgb_room, grey_room) in [
            (Some(3 * len), Some(len)),
            (Some(3 * len), None),
            (None, Some(len)),
            (Some(3 * len / 2), Some(len)),
            (Some(3 * len), Some(len / 3)),
        ] {
            let run = |kernel: &YccKernel| {
                let mut rgb = rgb_room.map(|n| vec![0x5Au8; n]);
                let mut grey = grey_room.map(|n| vec![0x5Au8; n]);
                let done = kernel(y, cb, cr, rgb.as_deref_mut(), grey.as_deref_mut());
                (done, rgb, grey)
            };
            let (done, rgb, grey) =
                run(&|y, cb, cr, rgb, grey| super::ycc_rgb16(y, cb, cr, rgb, grey));
            let (all, rgb_want, grey_want) =
                run(&|y, cb, cr, rgb, grey| portable::ycc_rgb16(y, cb, cr, rgb, grey));
            check_done("ycc", done, all);
            if let (Some(got), Some(want)) = (&rgb, &rgb_want) {
                assert_eq!(got[..3 * done], want[..3 * done], "length {len}: rgb");
                // Nothing written past the pixels done.
                assert!(got[3 * done..].iter().all(|&b| b == 0x5A), "length {len}");
            }
            if let (Some(got), Some(want)) = (&grey, &grey_want) {
                assert_eq!(got[..done], want[..done], "length {len}: grey");
                assert!(got[done..].iter().all(|&b| b == 0x5A), "length {len}");
            }
        }
    }
}

/// Both filters libjpeg uses (`h2v1`: samples up to 255, biases 1 and 2, shift 2; `h2v2`: column
/// sums up to 1020, biases 8 and 7, shift 4) on random and extreme inputs.
#[test]
fn triangle_pairs_equal_portable() {
    let mut next = xorshift64(0x7_21a9);
    for (even, odd, shift, max) in [(1u16, 2u16, 2u32, 255u16), (8, 7, 4, 1020)] {
        for len in lengths() {
            let random: Vec<u16> = (0..len)
                .map(|_| (next() % (u64::from(max) + 1)) as u16)
                .collect();
            for s in [random, vec![max; len], vec![0; len]] {
                let (mut got, mut want) = (vec![0xEEu8; 2 * len], vec![0xEEu8; 2 * len]);
                let done = super::triangle_pairs(&s, &mut got, even, odd, shift);
                let all = portable::triangle_pairs(&s, &mut want, even, odd, shift);
                check_done("triangle", done, all);
                let written = if done == 0 { 0 } else { 2 * done + 1 };
                assert_eq!(got[..written], want[..written], "length {len}");
                assert!(got[written..].iter().all(|&b| b == 0xEE), "length {len}");
            }
        }
    }
}
