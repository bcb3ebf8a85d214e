//! The kernels SSE2 and simd128 run with the same 128-bit lane operations, written once:
//! [`v128_kernels!`] expands them inside an ISA module (`x86_64.rs`, `wasm32.rs`) over that
//! module's vector type `V` and its lane operations, each a `#[target_feature]` function of one
//! or two intrinsics with the same name and meaning in both files:
//!
//! - `zero()`, `splat_i16(k)`, `splat_i32(k)`, `pair_i16(a, b)` (`a, b` repeated four times);
//! - `add_i16`, `sub_i16`, `add_i32`, `sub_i32` (wrapping), `mul_lo_i16` (the low 16 bits of
//!   the products), `mul_wide_i16` (the 32-bit products of lanes 0-3 and of lanes 4-7),
//!   `madd_i16` (`a0 b0 + a1 b1` and so on into four 32-bit lanes);
//! - `shr_i32` (arithmetic), `shr_u16` (logical), by a count below the lane width;
//! - `widen_lo_u8`, `widen_hi_u8` (bytes 0-7 or 8-15 zero-extended to 16 bits);
//! - `narrow_i32_i16`, `narrow_i16_u8` (two vectors to one, saturating, the second unsigned);
//! - `zip_lo_*`, `zip_hi_*` (the low or high halves of two vectors interleaved by 8, 16, 32 or
//!   64-bit elements: `unpack` on SSE2, shuffles on simd128);
//! - `store_rgb(r, g, b, out)` (sixteen pixels' channels interleaved to 48 bytes).
//!
//! Every operation is integer arithmetic, and the two ISAs define each lane's result the
//! same way, so both expansions compute the bits of [`super::portable`].

/// The accurate IDCT's sums regrouped as dot products of input pairs with constant pairs
/// (see `idct_pass`): for (v0, v4) the pairs giving tmp0 and tmp1, for (v2, v6) tmp2 and tmp3;
/// for the odd outputs t0..t3, the pair for (v7, v5) then the pair for (v3, v1).
pub(super) const IDCT_EVEN: [[i16; 2]; 4] =
    [[8192, 8192], [8192, -8192], [4433, -10704], [10703, 4433]];
pub(super) const IDCT_ODD: [[i16; 4]; 4] = [
    [-11363, 9633, -6436, 2260],
    [9633, 2261, -11362, 6437],
    [-6436, -11362, -2259, 9633],
    [2260, 6437, 9633, 11363],
];

/// Expands the shared kernels with `#[target_feature(enable = $feature)]` in the invoking ISA
/// module, which defines `V` and the lane operations listed in the module docs.
macro_rules! v128_kernels {
    ($feature:tt) => {
        #[inline(always)]
        fn load_u8(s: &[u8]) -> V {
            bytemuck::cast(<[u8; 16]>::try_from(s).expect("16 bytes"))
        }

        #[inline(always)]
        fn load_i16(s: &[i16]) -> V {
            bytemuck::cast(<[i16; 8]>::try_from(s).expect("8 values"))
        }

        #[inline(always)]
        fn load_u16(s: &[u16]) -> V {
            bytemuck::cast(<[u16; 8]>::try_from(s).expect("8 values"))
        }

        /// [`super::dot_u8_i16`] over whole blocks of 16.
        #[target_feature(enable = $feature)]
        pub(super) fn dot_blocks(pixels: &[u8], weights: &[i16]) -> i32 {
            let mut acc = [zero(); 2];
            for (p, w) in pixels.chunks_exact(16).zip(weights.chunks_exact(16)) {
                let p = load_u8(p);
                let (w0, w1) = (load_i16(&w[..8]), load_i16(&w[8..]));
                acc[0] = add_i32(acc[0], madd_i16(widen_lo_u8(p), w0));
                acc[1] = add_i32(acc[1], madd_i16(widen_hi_u8(p), w1));
            }
            let lanes: [i32; 4] = bytemuck::cast(add_i32(acc[0], acc[1]));
            lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v))
        }

        /// One 1-D pass of the accurate IDCT on eight lines side by side: `v[k]` holds input
        /// `k` of each line as 16-bit lanes; returns the outputs as 32-bit lanes, lines 0-3 and
        /// 4-7. Each output of `portable::pass` is a sum of the inputs times fixed integers;
        /// those sums are regrouped here as dot products of input pairs with constant pairs
        /// (`madd_i16`, as libjpeg-turbo's SSE2 code does with `pmaddwd`), which gives the same
        /// value in wrapping 32-bit arithmetic. For example, `tmp2 = z1 - 15137 v6` with
        /// `z1 = 4433 (v2 + v6)` is `4433 v2 - 10704 v6`.
        #[target_feature(enable = $feature)]
        fn idct_pass(v: [V; 8], shift: u32) -> [[V; 8]; 2] {
            let round = splat_i32(1 << (shift - 1));
            let half = |p04: V, p26: V, p75: V, p31: V| {
                let even = |p, [a, b]: [i16; 2]| madd_i16(p, pair_i16(a, b));
                let tmp0 = even(p04, super::v128::IDCT_EVEN[0]);
                let tmp1 = even(p04, super::v128::IDCT_EVEN[1]);
                let tmp2 = even(p26, super::v128::IDCT_EVEN[2]);
                let tmp3 = even(p26, super::v128::IDCT_EVEN[3]);
                let (tmp10, tmp13) = (add_i32(tmp0, tmp3), sub_i32(tmp0, tmp3));
                let (tmp11, tmp12) = (add_i32(tmp1, tmp2), sub_i32(tmp1, tmp2));
                // Odd part: t0..t3 are inputs 7, 5, 3, 1 (pairs (t0, t1) and (t2, t3)).
                let odd = |[a, b, c, d]: [i16; 4]| {
                    add_i32(madd_i16(p75, pair_i16(a, b)), madd_i16(p31, pair_i16(c, d)))
                };
                let [t0, t1, t2, t3] = super::v128::IDCT_ODD.map(odd);
                let out = |a: V| shr_i32(add_i32(a, round), shift);
                [
                    out(add_i32(tmp10, t3)),
                    out(add_i32(tmp11, t2)),
                    out(add_i32(tmp12, t1)),
                    out(add_i32(tmp13, t0)),
                    out(sub_i32(tmp13, t0)),
                    out(sub_i32(tmp12, t1)),
                    out(sub_i32(tmp11, t2)),
                    out(sub_i32(tmp10, t3)),
                ]
            };
            let (lo, hi) = (zip_lo_i16, zip_hi_i16);
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
        #[target_feature(enable = $feature)]
        fn transpose16(a: [V; 8]) -> [V; 8] {
            let (lo, hi) = (zip_lo_i16, zip_hi_i16);
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
            let (lo, hi) = (zip_lo_i32, zip_hi_i32);
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
            let (lo, hi) = (zip_lo_i64, zip_hi_i64);
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

        /// [`super::idct_islow`].
        #[target_feature(enable = $feature)]
        pub(super) fn idct_islow(
            coef: &[i16; 64],
            quant: &[u16; 64],
            out: &mut [u8],
            stride: usize,
        ) {
            // Dequantised: the low 16 bits of each product, as the scalar form keeps them.
            let rows: [V; 8] = std::array::from_fn(|r| {
                mul_lo_i16(
                    load_i16(&coef[8 * r..][..8]),
                    load_u16(&quant[8 * r..][..8]),
                )
            });
            // Pass 1 along columns: lanes are columns.
            let [lo, hi] = idct_pass(rows, 11);
            // Saturated to 16 bits, then rows become lanes for pass 2.
            let ws: [V; 8] = std::array::from_fn(|r| narrow_i32_i16(lo[r], hi[r]));
            let [lo, hi] = idct_pass(transpose16(ws), 18);
            // Plus 128, saturated to 16 then to unsigned 8 bits: the clamp to 0..=255.
            let centre = splat_i32(128);
            let by_column: [V; 8] = std::array::from_fn(|x| {
                narrow_i32_i16(add_i32(lo[x], centre), add_i32(hi[x], centre))
            });
            for (r, v) in transpose16(by_column).iter().enumerate() {
                let bytes: [u8; 16] = bytemuck::cast(narrow_i16_u8(*v, *v));
                out[r * stride..r * stride + 8].copy_from_slice(&bytes[..8]);
            }
        }

        /// `(sum of k_i a_i + 2^15) >> 16` for eight 16-bit lanes, through 32-bit products; the
        /// callers' results fit 16 bits, so narrowing them back is exact. The products are
        /// summed in the order given (a product by zero would not be optimised away).
        #[target_feature(enable = $feature)]
        fn scaled_sum(terms: &[(V, i16)]) -> V {
            let (mut lo, mut hi) = (zero(), zero());
            for &(a, k) in terms {
                let (l, h) = mul_wide_i16(a, splat_i16(k));
                lo = add_i32(lo, l);
                hi = add_i32(hi, h);
            }
            let half = splat_i32(1 << 15);
            narrow_i32_i16(
                shr_i32(add_i32(lo, half), 16),
                shr_i32(add_i32(hi, half), 16),
            )
        }

        /// [`super::ycc_rgb16`].
        #[target_feature(enable = $feature)]
        pub(super) fn ycc_rgb16(
            y: &[u8],
            cb: &[u8],
            cr: &[u8],
            mut rgb: Option<&mut [u8]>,
            mut grey: Option<&mut [u8]>,
        ) -> usize {
            let halves = |v: V| [widen_lo_u8(v), widen_hi_u8(v)];
            let centre = splat_i16(128);
            let blocks = y.len().min(cb.len()).min(cr.len()) / 16;
            let blocks = rgb.as_ref().map_or(blocks, |o| blocks.min(o.len() / 48));
            let blocks = grey.as_ref().map_or(blocks, |o| blocks.min(o.len() / 16));
            for k in 0..blocks {
                let at = 16 * k;
                let y = halves(load_u8(&y[at..at + 16]));
                let cb = halves(load_u8(&cb[at..at + 16]));
                let cr = halves(load_u8(&cr[at..at + 16]));
                let mut planes = [[zero(); 2]; 3];
                for h in 0..2 {
                    let (y, cb, cr) = (y[h], sub_i16(cb[h], centre), sub_i16(cr[h], centre));
                    // The factors rewritten to fit 16 bits, exactly (checked for every input):
                    // (91881 x + 2^15) >> 16 = x + ((26345 x + 2^15) >> 16),
                    // (116130 x + 2^15) >> 16 = 2 x + ((-14942 x + 2^15) >> 16),
                    // (-22554 b - 46802 r + 2^15) >> 16 = -r + ((-22554 b + 18734 r + 2^15) >> 16).
                    planes[0][h] = add_i16(add_i16(y, cr), scaled_sum(&[(cr, 26345)]));
                    planes[1][h] =
                        add_i16(sub_i16(y, cr), scaled_sum(&[(cb, -22554), (cr, 18734)]));
                    planes[2][h] =
                        add_i16(add_i16(y, add_i16(cb, cb)), scaled_sum(&[(cb, -14942)]));
                }
                // Saturating narrowing: the clamp to 0..=255.
                let [r, g, b] = planes.map(|c| narrow_i16_u8(c[0], c[1]));
                if let Some(o) = grey.as_deref_mut() {
                    // Pillow's grey with 38470 = 65536 - 27066: g + ((19595 r - 27066 g +
                    // 7471 b + 2^15) >> 16), the same integer.
                    let (r, g, b) = (halves(r), halves(g), halves(b));
                    let l: [V; 2] = std::array::from_fn(|h| {
                        add_i16(
                            g[h],
                            scaled_sum(&[(r[h], 19595), (g[h], -27066), (b[h], 7471)]),
                        )
                    });
                    let bytes: [u8; 16] = bytemuck::cast(narrow_i16_u8(l[0], l[1]));
                    o[at..at + 16].copy_from_slice(&bytes);
                }
                if let Some(o) = rgb.as_deref_mut() {
                    store_rgb(r, g, b, &mut o[3 * at..3 * at + 48]);
                }
            }
            16 * blocks
        }

        /// [`super::triangle_pairs`].
        #[target_feature(enable = $feature)]
        pub(super) fn triangle_pairs(
            s: &[u16],
            out: &mut [u8],
            even: u16,
            odd: u16,
            shift: u32,
        ) -> usize {
            let (even, odd) = (splat_i16(even as i16), splat_i16(odd as i16));
            let three = |v: V| add_i16(add_i16(v, v), v);
            let pairs = s.len().saturating_sub(1) / 8 * 8;
            for i in (0..pairs).step_by(8) {
                // a = s[i..i+8], b = s[i+1..i+9]: the pairs (a, b) give outputs 2i+1 and 2i+2.
                let (a, b) = (load_u16(&s[i..i + 8]), load_u16(&s[i + 1..i + 9]));
                let near_a = shr_u16(add_i16(add_i16(three(a), b), odd), shift);
                let near_b = shr_u16(add_i16(add_i16(three(b), a), even), shift);
                let mixed = zip_lo_u8(narrow_i16_u8(near_a, near_a), narrow_i16_u8(near_b, near_b));
                out[2 * i + 1..2 * i + 17].copy_from_slice(&bytemuck::cast::<V, [u8; 16]>(mixed));
            }
            pairs
        }
    };
}
