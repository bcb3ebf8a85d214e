//! Correctly rounded `sin` and `cos` of a double, for the arguments the imagehash pipeline
//! feeds them (|x| below about 10).
//!
//! Pillow's Lanczos weights (Resample.c `sinc_filter`) and pocketfft's twiddle factors
//! (`sincos_2pibyn::calc`) call the C library's `sin`/`cos`; the reference runs on glibc.
//! glibc's results are correctly rounded on every twiddle argument the perceptual hash uses
//! (all 256 checked, tests/vectors/imagehash/twiddles-glibc.txt) and on all but about 0.1 % of
//! arbitrary arguments; musl's (and the `libm` crate's) differ from glibc on about 6 % of the
//! twiddle arguments. So this module computes the correctly rounded value, the same on every
//! target: a Cody-Waite reduction by pi/2 in triple-double, then Taylor series in
//! double-double arithmetic (about 100 significant bits), rounded once to double. Only an
//! argument whose sine lies within about 2^-100 of a rounding midpoint could round wrongly.
//! Plain IEEE operations only (Dekker products, no FMA), so native and wasm agree bit for bit.
//!
//! Speed (Pillow's weights need two sines per tap, hundreds of thousands for a phone photo):
//! [`sin`] and [`cos`] first try a short evaluation (the leading terms in double-double, the
//! tail in double; relative error below 2^-70) and keep it when rounding it to double is
//! certain whatever its error (Ziv's test, with a 2^-66 margin); otherwise, about one call in
//! five thousand, they evaluate the full series above. Both give the same double on every
//! argument (tested against the full series alone).

/// A double-double: the unevaluated sum `hi + lo`, `|lo| <= ulp(hi) / 2`.
#[derive(Debug, Clone, Copy)]
struct Dd {
    hi: f64,
    lo: f64,
}

#[inline(always)]
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd {
        hi: s,
        lo: (a - (s - bb)) + (b - bb),
    }
}

#[inline(always)]
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    // Veltkamp: 2^27 + 1.
    let t = 134_217_729.0 * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

#[inline(always)]
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    Dd {
        hi: p,
        lo: ((ah * bh - p) + ah * bl + al * bh) + al * bl,
    }
}

#[inline(always)]
fn add(a: Dd, b: Dd) -> Dd {
    let s = two_sum(a.hi, b.hi);
    let t = two_sum(a.lo, b.lo);
    let s = quick_two_sum(s.hi, s.lo + t.hi);
    quick_two_sum(s.hi, s.lo + t.lo)
}

#[inline(always)]
fn mul(a: Dd, b: Dd) -> Dd {
    let p = two_prod(a.hi, b.hi);
    quick_two_sum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi))
}

#[inline(always)]
fn neg(a: Dd) -> Dd {
    Dd {
        hi: -a.hi,
        lo: -a.lo,
    }
}

/// `1 / n!` for n in 0..32 as double-doubles (from mpmath at 300 bits).
#[allow(clippy::excessive_precision)]
const INV_FACTORIAL: [(f64, f64); 32] = [
    (1.0, 0.0),                                        // 1/0!
    (1.0, 0.0),                                        // 1/1!
    (0.5, 0.0),                                        // 1/2!
    (0.16666666666666666, 9.25185853854297e-18),       // 1/3!
    (0.041666666666666664, 2.3129646346357427e-18),    // 1/4!
    (0.008333333333333333, 1.1564823173178714e-19),    // 1/5!
    (0.001388888888888889, -5.300543954373577e-20),    // 1/6!
    (0.0001984126984126984, 1.7209558293420705e-22),   // 1/7!
    (2.48015873015873e-05, 2.1511947866775882e-23),    // 1/8!
    (2.7557319223985893e-06, -1.858393274046472e-22),  // 1/9!
    (2.755731922398589e-07, 2.3767714622250297e-23),   // 1/10!
    (2.505210838544172e-08, -1.448814070935912e-24),   // 1/11!
    (2.08767569878681e-09, -1.20734505911326e-25),     // 1/12!
    (1.6059043836821613e-10, 1.2585294588752098e-26),  // 1/13!
    (1.1470745597729725e-11, 2.0655512752830745e-28),  // 1/14!
    (7.647163731819816e-13, 7.03872877733453e-30),     // 1/15!
    (4.779477332387385e-14, 4.399205485834081e-31),    // 1/16!
    (2.8114572543455206e-15, 1.6508842730861433e-31),  // 1/17!
    (1.5619206968586225e-16, 1.1910679660273754e-32),  // 1/18!
    (8.22063524662433e-18, 2.2141894119604265e-34),    // 1/19!
    (4.110317623312165e-19, 1.4412973378659527e-36),   // 1/20!
    (1.9572941063391263e-20, -1.3643503830087908e-36), // 1/21!
    (8.896791392450574e-22, -7.911402614872376e-38),   // 1/22!
    (3.868170170630684e-23, -8.843177655482344e-40),   // 1/23!
    (1.6117375710961184e-24, -3.6846573564509766e-41), // 1/24!
    (6.446950284384474e-26, -1.9330404233703465e-42),  // 1/25!
    (2.4795962632247976e-27, -1.2953730964765229e-43), // 1/26!
    (9.183689863795546e-29, 1.4303150396787322e-45),   // 1/27!
    (3.279889237069838e-30, 1.5117542744029879e-46),   // 1/28!
    (1.1309962886447716e-31, 1.0498015412959506e-47),  // 1/29!
    (3.7699876288159054e-33, 2.5870347832750324e-49),  // 1/30!
    (1.216125041553518e-34, 5.586290567888806e-51),    // 1/31!
];

/// pi / 2 as a triple-double (from mpmath at 300 bits).
#[allow(clippy::excessive_precision)]
const PIO2: [f64; 3] = [
    std::f64::consts::FRAC_PI_2,
    6.123233995736766e-17,
    -1.4973849048591698e-33,
];

/// `x - k pi/2` as a double-double, and `k mod 4`, with `k` the nearest integer to `x 2/pi`.
fn reduce(x: f64) -> (Dd, i64) {
    let k = (x * std::f64::consts::FRAC_2_PI).round();
    // Each product k * PIO2[i] is exact as a double-double; |k| is small.
    let p1 = two_prod(k, PIO2[0]);
    let p2 = two_prod(k, PIO2[1]);
    let p3 = k * PIO2[2];
    let mut r = two_sum(x, -p1.hi);
    r = add(
        r,
        Dd {
            hi: -p1.lo,
            lo: 0.0,
        },
    );
    r = add(r, neg(p2));
    r = add(r, Dd { hi: -p3, lo: 0.0 });
    (r, (k as i64).rem_euclid(4))
}

fn coefficient(n: usize) -> Dd {
    let (hi, lo) = INV_FACTORIAL[n];
    Dd { hi, lo }
}

/// Horner's rule in double-double from term `top` down to term 0 of
/// `sum_n (-1)^n x^n / (2n + offset)!`, `acc` standing for the terms above `top` divided by
/// `x^(top + 1)`.
fn series(mut acc: Dd, r2: Dd, top: usize, offset: usize) -> Dd {
    for n in (1..=top).rev() {
        let c = coefficient(2 * n + offset);
        let c = if n % 2 == 1 { neg(c) } else { c };
        acc = add(c, mul(acc, r2));
    }
    add(Dd { hi: 1.0, lo: 0.0 }, mul(acc, r2))
}

/// sin r for |r| <= pi/4: r (1 - r²/3! + r⁴/5! - ... - r³⁰/31!).
fn sin_kernel(r: Dd) -> Dd {
    mul(r, series(neg(coefficient(31)), mul(r, r), 14, 1))
}

/// cos r for |r| <= pi/4: 1 - r²/2! + r⁴/4! - ... + r³⁰/30!.
fn cos_kernel(r: Dd) -> Dd {
    series(neg(coefficient(30)), mul(r, r), 14, 0)
}

/// `sum_{n=first}^{last} (-1)^n x^(n-first) / (2n + offset)!` in plain double (Horner, the
/// coefficients' high parts): the tail of a short kernel.
#[inline(always)]
fn tail(x: f64, first: usize, last: usize, offset: usize) -> f64 {
    let term = |n: usize| {
        let c = INV_FACTORIAL[2 * n + offset].0;
        if n % 2 == 1 {
            -c
        } else {
            c
        }
    };
    let mut t = term(last);
    for n in (first..last).rev() {
        t = term(n) + x * t;
    }
    t
}

/// The short sin kernel: `r (1 - r²/3! + r⁴/5! - r⁶/7! + r⁸ T)`, T the series' tail from
/// `1/9!` in double. |T r⁸| < 2^-21 for |r| <= pi/4, so T's few-ulp error is below 2^-71 of
/// the result; the double-double part errs by about 2^-100.
fn sin_kernel_short(r: Dd) -> Dd {
    let r2 = mul(r, r);
    let tail = Dd {
        hi: tail(r2.hi, 4, 15, 1),
        lo: 0.0,
    };
    mul(r, series(tail, r2, 3, 1))
}

/// The short cos kernel: `1 - r²/2! + ... + r⁸/8! + r¹⁰ T`, T from `-1/10!` in double;
/// |T r¹⁰| < 2^-24 and cos r >= 0.7 for |r| <= pi/4.
fn cos_kernel_short(r: Dd) -> Dd {
    let r2 = mul(r, r);
    let tail = Dd {
        hi: tail(r2.hi, 5, 15, 0),
        lo: 0.0,
    };
    series(tail, r2, 4, 0)
}

fn round(a: Dd) -> f64 {
    a.hi + a.lo
}

/// Ziv's rounding test: `a` rounded to double, if every value within `2^-66 |a|` of it rounds
/// to the same double (rounding is monotonic, so checking the two ends suffices). The short
/// kernels err by less than 2^-70; the margin covers that and the test's own roundings.
fn certain(a: Dd) -> Option<f64> {
    const MARGIN: f64 = 1.0 / (1u64 << 63) as f64 / 8.0;
    // Far from subnormals, so that the relative margin means something.
    if a.hi.is_nan() || a.hi.abs() <= 1e-290 {
        return None;
    }
    let e = a.hi.abs() * MARGIN;
    let (up, down) = (a.hi + (a.lo + e), a.hi + (a.lo - e));
    (up == down).then_some(up)
}

/// The correctly rounded sine of `x` (|x| below about 10; beyond, accuracy degrades slowly).
pub fn sin(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x.sin();
    }
    let (r, q) = reduce(x);
    let short = match q {
        0 => sin_kernel_short(r),
        1 => cos_kernel_short(r),
        2 => neg(sin_kernel_short(r)),
        _ => neg(cos_kernel_short(r)),
    };
    certain(short).unwrap_or_else(|| sin_full(x))
}

/// The correctly rounded cosine of `x` (|x| below about 10).
pub fn cos(x: f64) -> f64 {
    if !x.is_finite() {
        return x.cos();
    }
    let (r, q) = reduce(x);
    let short = match q {
        0 => cos_kernel_short(r),
        1 => neg(sin_kernel_short(r)),
        2 => neg(cos_kernel_short(r)),
        _ => sin_kernel_short(r),
    };
    certain(short).unwrap_or_else(|| cos_full(x))
}

/// [`sin`] by the full series only.
fn sin_full(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x.sin();
    }
    let (r, q) = reduce(x);
    round(match q {
        0 => sin_kernel(r),
        1 => cos_kernel(r),
        2 => neg(sin_kernel(r)),
        _ => neg(cos_kernel(r)),
    })
}

/// [`cos`] by the full series only.
fn cos_full(x: f64) -> f64 {
    if !x.is_finite() {
        return x.cos();
    }
    let (r, q) = reduce(x);
    round(match q {
        0 => cos_kernel(r),
        1 => neg(sin_kernel(r)),
        2 => neg(cos_kernel(r)),
        _ => sin_kernel(r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_points_and_symmetry() {
        assert_eq!(sin(0.0), 0.0);
        assert_eq!(cos(0.0), 1.0);
        assert_eq!(sin(std::f64::consts::FRAC_PI_2), 1.0);
        assert_eq!(cos(std::f64::consts::PI), -1.0);
        // sin(double(pi)) is pi minus double(pi), about 1.2246e-16.
        assert_eq!(sin(std::f64::consts::PI), 1.2246467991473532e-16);
        for x in [0.1, 0.7, 1.3, 2.9, 5.5, 9.1] {
            assert_eq!(sin(-x), -sin(x));
            assert_eq!(cos(-x), cos(x));
        }
    }

    /// The short path with its rounding test gives the full series' double everywhere: on
    /// random arguments over the whole range used, near multiples of pi/2 and pi/4, and on
    /// the Lanczos arguments of a phone photo's weights.
    #[test]
    fn short_path_equals_full_series() {
        let mut next = crate::testing::xorshift64(0x9e37_79b9_7f4a_7c15);
        let mut args: Vec<f64> = (0..400_000)
            .map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64 * 24.0 - 12.0)
            .collect();
        for k in -15..=15 {
            let m = f64::from(k) * std::f64::consts::FRAC_PI_4;
            let mut x = m;
            for _ in 0..200 {
                args.push(x);
                x = x.next_up();
            }
            args.extend((1..200).map(|i| m + f64::from(i) * 1e-9));
        }
        // sin(pi x) and sin(pi x / 3) of Pillow's Lanczos taps, 4032 pixels to 8 and to 32.
        for scale in [504.0f64, 126.0] {
            for j in -1600..1600 {
                let x = (f64::from(j) + 0.5) / scale * std::f64::consts::PI;
                args.extend([x, x / 3.0]);
            }
        }
        let mut fallbacks = 0;
        for &x in &args {
            assert_eq!(sin(x).to_bits(), sin_full(x).to_bits(), "sin({x:e})");
            assert_eq!(cos(x).to_bits(), cos_full(x).to_bits(), "cos({x:e})");
            let (r, q) = reduce(x);
            let short = if q % 2 == 0 {
                sin_kernel_short(r)
            } else {
                cos_kernel_short(r)
            };
            fallbacks += usize::from(certain(short).is_none());
        }
        // The short path must carry almost every call (else it is pointless): under 0.1 %.
        assert!(
            fallbacks * 1000 < args.len(),
            "{fallbacks} of {} fell back",
            args.len()
        );
    }
}
