//! The real-input FFT that SciPy's `scipy.fftpack.dct` runs underneath: pocketfft's `rfftp`
//! (C++ header `pocketfft_hdronly.h`, as vendored by SciPy in scipy/fft/_pocketfft), backward
//! direction only, with its twiddle factors (`sincos_2pibyn`).
//!
//! Written anew from that file's arithmetic so that every rounding matches: the same factor
//! order (`factorize`: fours first, a two moved to the front, then odd primes), the same
//! radix-2, 3, 4, 5 and generic passes (`radb2` .. `radbg`) with their operation order, and
//! the same twiddles, computed by `sincos_2pibyn` from `cos`/`sin` of multiples of
//! `double(0.25L * pi / n)` (x87 80-bit `long double`, emulated here with integers) and one
//! complex product per entry. A general-purpose FFT crate rounds differently, which flips
//! hash bits wherever DCT coefficients nearly tie (constant images, for one).
//!
//! Only the lengths the perceptual hash uses are needed (multiples of 4 up to 64); for all of
//! them pocketfft picks `rfftp`, never its Bluestein path, which is therefore not reproduced.
//! Where pocketfft calls the C library's `cos`/`sin`, this calls [`super::trig`]'s correctly
//! rounded ones, which equal glibc's on all 256 arguments these lengths use (tested).

/// Emulates `double(0.25L * pi / n)` as GCC evaluates it on x86-64: `pi` rounded to a 64-bit
/// mantissa, the quotient rounded to 64 bits, then to 53 (round half to even both times).
pub fn quarter_pi_over(n: usize) -> f64 {
    // pi = PI_MANTISSA * 2^-62 in x87 extended precision.
    const PI_MANTISSA: u64 = 0xC90F_DAA2_2168_C235;
    // 0.25 * pi = PI_MANTISSA * 2^-64 = (PI_MANTISSA << 64) * 2^-128.
    let numerator = u128::from(PI_MANTISSA) << 64;
    let n = n.max(1) as u128;
    let (quotient, remainder) = (numerator / n, numerator % n);
    let bits = 128 - quotient.leading_zeros();
    let drop = bits.saturating_sub(64);
    let mut mantissa = quotient >> drop;
    let dropped = quotient & ((1u128 << drop) - 1);
    let half = if drop == 0 { 0 } else { 1u128 << (drop - 1) };
    let round_up = if drop == 0 {
        // Only the division remainder is below the last kept bit.
        2 * remainder > n || (2 * remainder == n && mantissa & 1 == 1)
    } else {
        dropped > half || (dropped == half && (remainder != 0 || mantissa & 1 == 1))
    };
    let mut exponent = drop as i32 - 128;
    if round_up {
        mantissa += 1;
        if mantissa >> 64 != 0 {
            mantissa >>= 1;
            exponent += 1;
        }
    }
    // Now exact in 64 bits: round to 53, half to even.
    let low = mantissa & 0x7FF;
    let mut m53 = mantissa >> 11;
    exponent += 11;
    if low > 0x400 || (low == 0x400 && m53 & 1 == 1) {
        m53 += 1;
        if m53 >> 53 != 0 {
            m53 >>= 1;
            exponent += 1;
        }
    }
    // m53 has exactly 53 significant bits: assemble the normal double m53 * 2^exponent.
    let biased = (exponent + 52 + 1023) as u64;
    f64::from_bits(biased << 52 | (m53 as u64 & ((1u64 << 52) - 1)))
}

/// pocketfft's `sincos_2pibyn`: `exp(2 pi i k / n)` for `k` in `0..n`, from two short tables
/// whose entries are exact `cos`/`sin` calls and whose product is one complex multiplication.
pub struct SinCos2PiByN {
    n: usize,
    mask: usize,
    shift: u32,
    v1: Vec<(f64, f64)>,
    v2: Vec<(f64, f64)>,
}

impl SinCos2PiByN {
    fn calc(x: usize, n: usize, ang: f64) -> (f64, f64) {
        let (cos, sin) = (super::trig::cos, super::trig::sin);
        let at = |k: usize| k as f64 * ang;
        let mut x = x << 3;
        if x < 4 * n {
            if x < 2 * n {
                if x < n {
                    return (cos(at(x)), sin(at(x)));
                }
                return (sin(at(2 * n - x)), cos(at(2 * n - x)));
            }
            x -= 2 * n;
            if x < n {
                return (-sin(at(x)), cos(at(x)));
            }
            return (-cos(at(2 * n - x)), sin(at(2 * n - x)));
        }
        x = 8 * n - x;
        if x < 2 * n {
            if x < n {
                return (cos(at(x)), -sin(at(x)));
            }
            return (sin(at(2 * n - x)), -cos(at(2 * n - x)));
        }
        x -= 2 * n;
        if x < n {
            return (-sin(at(x)), -cos(at(x)));
        }
        (-cos(at(2 * n - x)), -sin(at(2 * n - x)))
    }

    /// The table for `n` (n >= 1).
    pub fn new(n: usize) -> Self {
        let ang = quarter_pi_over(n);
        let nval = (n + 2) / 2;
        let mut shift = 1u32;
        while (1usize << shift) * (1usize << shift) < nval {
            shift += 1;
        }
        let mask = (1usize << shift) - 1;
        let mut v1 = vec![(1.0, 0.0)];
        v1.extend((1..=mask).map(|i| Self::calc(i, n, ang)));
        let mut v2 = vec![(1.0, 0.0)];
        v2.extend((1..(nval + mask) / (mask + 1)).map(|i| Self::calc(i * (mask + 1), n, ang)));
        SinCos2PiByN {
            n,
            mask,
            shift,
            v1,
            v2,
        }
    }

    /// `(cos, sin)` of `2 pi idx / n`, for `idx` in `0..n`.
    pub fn get(&self, idx: usize) -> (f64, f64) {
        let (idx, conjugate) = if 2 * idx <= self.n {
            (idx, false)
        } else {
            (self.n - idx, true)
        };
        let (a, b) = (self.v1[idx & self.mask], self.v2[idx >> self.shift]);
        let re = a.0 * b.0 - a.1 * b.1;
        let im = a.0 * b.1 + a.1 * b.0;
        if conjugate {
            (re, -im)
        } else {
            (re, im)
        }
    }
}

/// One factor of the plan with its twiddles (`fctdata`).
struct Factor {
    ip: usize,
    tw: Vec<f64>,
    tws: Vec<f64>,
}

/// pocketfft's `rfftp` plan, backward (half-complex to real) direction, scale 1.
pub struct RealFft {
    length: usize,
    factors: Vec<Factor>,
}

// Constants as pocketfft writes them (`T0(...L)`), digit for digit; each long double literal
// rounds to the same double as its decimal does (checked with numpy.longdouble).
const TAUR: f64 = -0.5;
#[allow(clippy::excessive_precision)]
const TAUI: f64 = 0.8660254037844386467637231707529362;
const SQRT2: f64 = std::f64::consts::SQRT_2;
#[allow(clippy::excessive_precision)]
const TR11: f64 = 0.3090169943749474241022934171828191;
#[allow(clippy::excessive_precision)]
const TI11: f64 = 0.9510565162951535721164393333793821;
#[allow(clippy::excessive_precision)]
const TR12: f64 = -0.8090169943749474241022934171828191;
#[allow(clippy::excessive_precision)]
const TI12: f64 = 0.5877852522924731291687059546390728;

impl RealFft {
    /// The plan for `length` (>= 1).
    pub fn new(length: usize) -> Self {
        let mut factors: Vec<usize> = Vec::new();
        let mut len = length;
        while len % 4 == 0 {
            factors.push(4);
            len >>= 2;
        }
        if len % 2 == 0 {
            len >>= 1;
            factors.push(2);
            let last = factors.len() - 1;
            factors.swap(0, last);
        }
        let mut divisor = 3;
        while divisor * divisor <= len {
            while len % divisor == 0 {
                factors.push(divisor);
                len /= divisor;
            }
            divisor += 2;
        }
        if len > 1 {
            factors.push(len);
        }
        if length == 1 {
            factors.clear();
        }

        let twid = SinCos2PiByN::new(length);
        let nf = factors.len();
        let mut l1 = 1;
        let mut plan = Vec::with_capacity(nf);
        for (k, &ip) in factors.iter().enumerate() {
            let ido = length / (l1 * ip);
            let mut tw = Vec::new();
            if k < nf - 1 {
                tw = vec![0.0; (ip - 1) * (ido - 1)];
                for j in 1..ip {
                    for i in 1..=(ido - 1) / 2 {
                        let (re, im) = twid.get(j * l1 * i);
                        tw[(j - 1) * (ido - 1) + 2 * i - 2] = re;
                        tw[(j - 1) * (ido - 1) + 2 * i - 1] = im;
                    }
                }
            }
            let mut tws = Vec::new();
            if ip > 5 {
                tws = vec![0.0; 2 * ip];
                tws[0] = 1.0;
                tws[1] = 0.0;
                let (mut i, mut ic) = (2, 2 * ip - 2);
                while i <= ic {
                    let (re, im) = twid.get(i / 2 * (length / ip));
                    tws[i] = re;
                    tws[i + 1] = im;
                    tws[ic] = re;
                    tws[ic + 1] = -im;
                    i += 2;
                    ic -= 2;
                }
            }
            plan.push(Factor { ip, tw, tws });
            l1 *= ip;
        }
        RealFft {
            length,
            factors: plan,
        }
    }

    /// The factors in pass order, for tests.
    pub fn factors(&self) -> Vec<usize> {
        self.factors.iter().map(|f| f.ip).collect()
    }

    /// `exec(c, 1.0, false)`: half-complex (FFTPACK order) to real, unnormalised, in place.
    pub fn backward(&self, c: &mut [f64]) {
        let n = self.length;
        debug_assert_eq!(c.len(), n);
        if n == 1 {
            return;
        }
        let mut p1 = c.to_vec();
        let mut p2 = vec![0.0; n];
        let mut l1 = 1;
        for f in &self.factors {
            let ido = n / (f.ip * l1);
            match f.ip {
                4 => radb4(ido, l1, &p1, &mut p2, &f.tw),
                2 => radb2(ido, l1, &p1, &mut p2, &f.tw),
                3 => radb3(ido, l1, &p1, &mut p2, &f.tw),
                5 => radb5(ido, l1, &p1, &mut p2, &f.tw),
                ip => radbg(ido, ip, l1, &mut p1, &mut p2, &f.tw, &f.tws),
            }
            std::mem::swap(&mut p1, &mut p2);
            l1 *= f.ip;
        }
        c.copy_from_slice(&p1);
    }
}

/// `(a + ib) = conj(c + id) * (e + if)`, pocketfft's `MULPM`.
#[inline(always)]
fn mulpm(c: f64, d: f64, e: f64, f: f64) -> (f64, f64) {
    (c * e + d * f, c * f - d * e)
}

fn radb2(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc_at = |a: usize, b: usize, c: usize| cc[a + ido * (b + 2 * c)];
    let ch_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_at = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let (a, b) = (cc_at(0, 0, k), cc_at(ido - 1, 1, k));
        ch[ch_at(0, k, 0)] = a + b;
        ch[ch_at(0, k, 1)] = a - b;
    }
    if ido & 1 == 0 {
        for k in 0..l1 {
            ch[ch_at(ido - 1, k, 0)] = 2.0 * cc_at(ido - 1, 0, k);
            ch[ch_at(ido - 1, k, 1)] = -2.0 * cc_at(0, 1, k);
        }
    }
    if ido <= 2 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            ch[ch_at(i - 1, k, 0)] = cc_at(i - 1, 0, k) + cc_at(ic - 1, 1, k);
            let tr2 = cc_at(i - 1, 0, k) - cc_at(ic - 1, 1, k);
            let ti2 = cc_at(i, 0, k) + cc_at(ic, 1, k);
            ch[ch_at(i, k, 0)] = cc_at(i, 0, k) - cc_at(ic, 1, k);
            let (a, b) = mulpm(wa_at(0, i - 2), wa_at(0, i - 1), ti2, tr2);
            ch[ch_at(i, k, 1)] = a;
            ch[ch_at(i - 1, k, 1)] = b;
        }
    }
}

fn radb3(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc_at = |a: usize, b: usize, c: usize| cc[a + ido * (b + 3 * c)];
    let ch_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_at = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let tr2 = 2.0 * cc_at(ido - 1, 1, k);
        let cr2 = cc_at(0, 0, k) + TAUR * tr2;
        ch[ch_at(0, k, 0)] = cc_at(0, 0, k) + tr2;
        let ci3 = 2.0 * TAUI * cc_at(0, 2, k);
        ch[ch_at(0, k, 2)] = cr2 + ci3;
        ch[ch_at(0, k, 1)] = cr2 - ci3;
    }
    if ido == 1 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let tr2 = cc_at(i - 1, 2, k) + cc_at(ic - 1, 1, k);
            let ti2 = cc_at(i, 2, k) - cc_at(ic, 1, k);
            let cr2 = cc_at(i - 1, 0, k) + TAUR * tr2;
            let ci2 = cc_at(i, 0, k) + TAUR * ti2;
            ch[ch_at(i - 1, k, 0)] = cc_at(i - 1, 0, k) + tr2;
            ch[ch_at(i, k, 0)] = cc_at(i, 0, k) + ti2;
            let cr3 = TAUI * (cc_at(i - 1, 2, k) - cc_at(ic - 1, 1, k));
            let ci3 = TAUI * (cc_at(i, 2, k) + cc_at(ic, 1, k));
            let (dr3, dr2) = (cr2 + ci3, cr2 - ci3);
            let (di2, di3) = (ci2 + cr3, ci2 - cr3);
            let (a, b) = mulpm(wa_at(0, i - 2), wa_at(0, i - 1), di2, dr2);
            ch[ch_at(i, k, 1)] = a;
            ch[ch_at(i - 1, k, 1)] = b;
            let (a, b) = mulpm(wa_at(1, i - 2), wa_at(1, i - 1), di3, dr3);
            ch[ch_at(i, k, 2)] = a;
            ch[ch_at(i - 1, k, 2)] = b;
        }
    }
}

fn radb4(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc_at = |a: usize, b: usize, c: usize| cc[a + ido * (b + 4 * c)];
    let ch_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_at = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let (tr2, tr1) = (
            cc_at(0, 0, k) + cc_at(ido - 1, 3, k),
            cc_at(0, 0, k) - cc_at(ido - 1, 3, k),
        );
        let tr3 = 2.0 * cc_at(ido - 1, 1, k);
        let tr4 = 2.0 * cc_at(0, 2, k);
        ch[ch_at(0, k, 0)] = tr2 + tr3;
        ch[ch_at(0, k, 2)] = tr2 - tr3;
        ch[ch_at(0, k, 3)] = tr1 + tr4;
        ch[ch_at(0, k, 1)] = tr1 - tr4;
    }
    if ido & 1 == 0 {
        for k in 0..l1 {
            let (ti1, ti2) = (
                cc_at(0, 3, k) + cc_at(0, 1, k),
                cc_at(0, 3, k) - cc_at(0, 1, k),
            );
            let (tr2, tr1) = (
                cc_at(ido - 1, 0, k) + cc_at(ido - 1, 2, k),
                cc_at(ido - 1, 0, k) - cc_at(ido - 1, 2, k),
            );
            ch[ch_at(ido - 1, k, 0)] = tr2 + tr2;
            ch[ch_at(ido - 1, k, 1)] = SQRT2 * (tr1 - ti1);
            ch[ch_at(ido - 1, k, 2)] = ti2 + ti2;
            ch[ch_at(ido - 1, k, 3)] = -SQRT2 * (tr1 + ti1);
        }
    }
    if ido <= 2 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let (tr2, tr1) = (
                cc_at(i - 1, 0, k) + cc_at(ic - 1, 3, k),
                cc_at(i - 1, 0, k) - cc_at(ic - 1, 3, k),
            );
            let (ti1, ti2) = (
                cc_at(i, 0, k) + cc_at(ic, 3, k),
                cc_at(i, 0, k) - cc_at(ic, 3, k),
            );
            let (tr4, ti3) = (
                cc_at(i, 2, k) + cc_at(ic, 1, k),
                cc_at(i, 2, k) - cc_at(ic, 1, k),
            );
            let (tr3, ti4) = (
                cc_at(i - 1, 2, k) + cc_at(ic - 1, 1, k),
                cc_at(i - 1, 2, k) - cc_at(ic - 1, 1, k),
            );
            ch[ch_at(i - 1, k, 0)] = tr2 + tr3;
            let cr3 = tr2 - tr3;
            ch[ch_at(i, k, 0)] = ti2 + ti3;
            let ci3 = ti2 - ti3;
            let (cr4, cr2) = (tr1 + tr4, tr1 - tr4);
            let (ci2, ci4) = (ti1 + ti4, ti1 - ti4);
            for (x, ci, cr) in [(1, ci2, cr2), (2, ci3, cr3), (3, ci4, cr4)] {
                let (a, b) = mulpm(wa_at(x - 1, i - 2), wa_at(x - 1, i - 1), ci, cr);
                ch[ch_at(i, k, x)] = a;
                ch[ch_at(i - 1, k, x)] = b;
            }
        }
    }
}

fn radb5(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc_at = |a: usize, b: usize, c: usize| cc[a + ido * (b + 5 * c)];
    let ch_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_at = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let ti5 = cc_at(0, 2, k) + cc_at(0, 2, k);
        let ti4 = cc_at(0, 4, k) + cc_at(0, 4, k);
        let tr2 = cc_at(ido - 1, 1, k) + cc_at(ido - 1, 1, k);
        let tr3 = cc_at(ido - 1, 3, k) + cc_at(ido - 1, 3, k);
        ch[ch_at(0, k, 0)] = cc_at(0, 0, k) + tr2 + tr3;
        let cr2 = cc_at(0, 0, k) + TR11 * tr2 + TR12 * tr3;
        let cr3 = cc_at(0, 0, k) + TR12 * tr2 + TR11 * tr3;
        let (ci5, ci4) = mulpm(ti5, ti4, TI11, TI12);
        ch[ch_at(0, k, 4)] = cr2 + ci5;
        ch[ch_at(0, k, 1)] = cr2 - ci5;
        ch[ch_at(0, k, 3)] = cr3 + ci4;
        ch[ch_at(0, k, 2)] = cr3 - ci4;
    }
    if ido == 1 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let (tr2, tr5) = (
                cc_at(i - 1, 2, k) + cc_at(ic - 1, 1, k),
                cc_at(i - 1, 2, k) - cc_at(ic - 1, 1, k),
            );
            let (ti5, ti2) = (
                cc_at(i, 2, k) + cc_at(ic, 1, k),
                cc_at(i, 2, k) - cc_at(ic, 1, k),
            );
            let (tr3, tr4) = (
                cc_at(i - 1, 4, k) + cc_at(ic - 1, 3, k),
                cc_at(i - 1, 4, k) - cc_at(ic - 1, 3, k),
            );
            let (ti4, ti3) = (
                cc_at(i, 4, k) + cc_at(ic, 3, k),
                cc_at(i, 4, k) - cc_at(ic, 3, k),
            );
            ch[ch_at(i - 1, k, 0)] = cc_at(i - 1, 0, k) + tr2 + tr3;
            ch[ch_at(i, k, 0)] = cc_at(i, 0, k) + ti2 + ti3;
            let cr2 = cc_at(i - 1, 0, k) + TR11 * tr2 + TR12 * tr3;
            let ci2 = cc_at(i, 0, k) + TR11 * ti2 + TR12 * ti3;
            let cr3 = cc_at(i - 1, 0, k) + TR12 * tr2 + TR11 * tr3;
            let ci3 = cc_at(i, 0, k) + TR12 * ti2 + TR11 * ti3;
            let (cr5, cr4) = mulpm(tr5, tr4, TI11, TI12);
            let (ci5, ci4) = mulpm(ti5, ti4, TI11, TI12);
            let (dr4, dr3) = (cr3 + ci4, cr3 - ci4);
            let (di3, di4) = (ci3 + cr4, ci3 - cr4);
            let (dr5, dr2) = (cr2 + ci5, cr2 - ci5);
            let (di2, di5) = (ci2 + cr5, ci2 - cr5);
            for (x, di, dr) in [(1, di2, dr2), (2, di3, dr3), (3, di4, dr4), (4, di5, dr5)] {
                let (a, b) = mulpm(wa_at(x - 1, i - 2), wa_at(x - 1, i - 1), di, dr);
                ch[ch_at(i, k, x)] = a;
                ch[ch_at(i - 1, k, x)] = b;
            }
        }
    }
}

/// The generic odd-prime pass; like pocketfft it uses `cc` as scratch.
fn radbg(
    ido: usize,
    ip: usize,
    l1: usize,
    cc: &mut [f64],
    ch: &mut [f64],
    wa: &[f64],
    csarr: &[f64],
) {
    let cdim = ip;
    let ipph = ip.div_ceil(2);
    let idl1 = ido * l1;
    let cc_at = |a: usize, b: usize, c: usize| a + ido * (b + cdim * c);
    let ch_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let c1_at = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let c2_at = |a: usize, b: usize| a + idl1 * b;
    let ch2_at = |a: usize, b: usize| a + idl1 * b;

    for k in 0..l1 {
        for i in 0..ido {
            ch[ch_at(i, k, 0)] = cc[cc_at(i, 0, k)];
        }
    }
    for (j, jc) in (1..ipph).map(|j| (j, ip - j)) {
        let j2 = 2 * j - 1;
        for k in 0..l1 {
            ch[ch_at(0, k, j)] = 2.0 * cc[cc_at(ido - 1, j2, k)];
            ch[ch_at(0, k, jc)] = 2.0 * cc[cc_at(0, j2 + 1, k)];
        }
    }
    if ido != 1 {
        for (j, jc) in (1..ipph).map(|j| (j, ip - j)) {
            let j2 = 2 * j - 1;
            for k in 0..l1 {
                let mut i = 1;
                while i + 2 <= ido {
                    let ic = ido - i - 2;
                    ch[ch_at(i, k, j)] = cc[cc_at(i, j2 + 1, k)] + cc[cc_at(ic, j2, k)];
                    ch[ch_at(i, k, jc)] = cc[cc_at(i, j2 + 1, k)] - cc[cc_at(ic, j2, k)];
                    ch[ch_at(i + 1, k, j)] = cc[cc_at(i + 1, j2 + 1, k)] - cc[cc_at(ic + 1, j2, k)];
                    ch[ch_at(i + 1, k, jc)] =
                        cc[cc_at(i + 1, j2 + 1, k)] + cc[cc_at(ic + 1, j2, k)];
                    i += 2;
                }
            }
        }
    }
    for (l, lc) in (1..ipph).map(|l| (l, ip - l)) {
        for ik in 0..idl1 {
            cc[c2_at(ik, l)] = ch[ch2_at(ik, 0)]
                + csarr[2 * l] * ch[ch2_at(ik, 1)]
                + csarr[4 * l] * ch[ch2_at(ik, 2)];
            cc[c2_at(ik, lc)] = csarr[2 * l + 1] * ch[ch2_at(ik, ip - 1)]
                + csarr[4 * l + 1] * ch[ch2_at(ik, ip - 2)];
        }
        let mut iang = 2 * l;
        let (mut j, mut jc) = (3, ip - 3);
        let next = |iang: &mut usize| {
            *iang += l;
            if *iang > ip {
                *iang -= ip;
            }
            (csarr[2 * *iang], csarr[2 * *iang + 1])
        };
        while j + 3 < ipph {
            let (ar1, ai1) = next(&mut iang);
            let (ar2, ai2) = next(&mut iang);
            let (ar3, ai3) = next(&mut iang);
            let (ar4, ai4) = next(&mut iang);
            for ik in 0..idl1 {
                let add = ar1 * ch[ch2_at(ik, j)]
                    + ar2 * ch[ch2_at(ik, j + 1)]
                    + ar3 * ch[ch2_at(ik, j + 2)]
                    + ar4 * ch[ch2_at(ik, j + 3)];
                cc[c2_at(ik, l)] += add;
                let add = ai1 * ch[ch2_at(ik, jc)]
                    + ai2 * ch[ch2_at(ik, jc - 1)]
                    + ai3 * ch[ch2_at(ik, jc - 2)]
                    + ai4 * ch[ch2_at(ik, jc - 3)];
                cc[c2_at(ik, lc)] += add;
            }
            j += 4;
            jc -= 4;
        }
        while j + 1 < ipph {
            let (ar1, ai1) = next(&mut iang);
            let (ar2, ai2) = next(&mut iang);
            for ik in 0..idl1 {
                let add = ar1 * ch[ch2_at(ik, j)] + ar2 * ch[ch2_at(ik, j + 1)];
                cc[c2_at(ik, l)] += add;
                let add = ai1 * ch[ch2_at(ik, jc)] + ai2 * ch[ch2_at(ik, jc - 1)];
                cc[c2_at(ik, lc)] += add;
            }
            j += 2;
            jc -= 2;
        }
        while j < ipph {
            let (war, wai) = next(&mut iang);
            for ik in 0..idl1 {
                cc[c2_at(ik, l)] += war * ch[ch2_at(ik, j)];
                cc[c2_at(ik, lc)] += wai * ch[ch2_at(ik, jc)];
            }
            j += 1;
            jc -= 1;
        }
    }
    for j in 1..ipph {
        for ik in 0..idl1 {
            ch[ch2_at(ik, 0)] += ch[ch2_at(ik, j)];
        }
    }
    for (j, jc) in (1..ipph).map(|j| (j, ip - j)) {
        for k in 0..l1 {
            let (a, b) = (cc[c1_at(0, k, j)], cc[c1_at(0, k, jc)]);
            ch[ch_at(0, k, jc)] = a + b;
            ch[ch_at(0, k, j)] = a - b;
        }
    }
    if ido == 1 {
        return;
    }
    for (j, jc) in (1..ipph).map(|j| (j, ip - j)) {
        for k in 0..l1 {
            let mut i = 1;
            while i + 2 <= ido {
                ch[ch_at(i, k, j)] = cc[c1_at(i, k, j)] - cc[c1_at(i + 1, k, jc)];
                ch[ch_at(i, k, jc)] = cc[c1_at(i, k, j)] + cc[c1_at(i + 1, k, jc)];
                ch[ch_at(i + 1, k, j)] = cc[c1_at(i + 1, k, j)] + cc[c1_at(i, k, jc)];
                ch[ch_at(i + 1, k, jc)] = cc[c1_at(i + 1, k, j)] - cc[c1_at(i, k, jc)];
                i += 2;
            }
        }
    }
    for j in 1..ip {
        let is = (j - 1) * (ido - 1);
        for k in 0..l1 {
            let mut idij = is;
            let mut i = 1;
            while i + 2 <= ido {
                let (t1, t2) = (ch[ch_at(i, k, j)], ch[ch_at(i + 1, k, j)]);
                ch[ch_at(i, k, j)] = wa[idij] * t1 - wa[idij + 1] * t2;
                ch[ch_at(i + 1, k, j)] = wa[idij] * t2 + wa[idij + 1] * t1;
                idij += 2;
                i += 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_pi_over_n_equals_x87_long_double_then_double() {
        // Values from numpy.longdouble (x87 extended) on x86-64, converted to float64.
        for (n, hex) in [
            (8, 0x3fb9_21fb_5444_2d18u64),
            (12, 0x3fb0_c152_382d_7366),
            (16, 0x3fa9_21fb_5444_2d18),
            (112, 0x3f7c_b91f_3bbb_a140),
            (208, 0x3f6e_eebf_2ca2_ada8),
            (256, 0x3f69_21fb_5444_2d18),
        ] {
            assert_eq!(quarter_pi_over(n).to_bits(), hex, "n = {n}");
        }
    }

    #[test]
    fn constants_round_like_pocketfft_long_double_literals() {
        // Bit patterns of double(long double literal), from numpy.longdouble.
        assert_eq!(TAUI.to_bits(), 0x3feb_b67a_e858_4caa);
        assert_eq!(TR11.to_bits(), 0x3fd3_c6ef_372f_e950);
        assert_eq!(TI11.to_bits(), 0x3fee_6f0e_1344_54ff);
        assert_eq!(TR12.to_bits(), 0xbfe9_e377_9b97_f4a8);
        assert_eq!(TI12.to_bits(), 0x3fe2_cf23_0475_5a5e);
        assert_eq!(SQRT2.to_bits(), 0x3ff6_a09e_667f_3bcd);
    }

    #[test]
    fn factors_follow_pocketfft_order() {
        assert_eq!(RealFft::new(8).factors(), [2, 4]);
        assert_eq!(RealFft::new(24).factors(), [2, 4, 3]);
        assert_eq!(RealFft::new(32).factors(), [2, 4, 4]);
        assert_eq!(RealFft::new(28).factors(), [4, 7]);
        assert_eq!(RealFft::new(60).factors(), [4, 3, 5]);
        assert_eq!(RealFft::new(64).factors(), [4, 4, 4]);
    }
}
