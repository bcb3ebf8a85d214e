//! Stage 3 of the perceptual hash: `scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)`,
//! the unnormalised type-II DCT in float64, `y[k] = 2 * sum x[n] cos(pi k (2n + 1) / 2N)`.
//!
//! SciPy computes it with pocketfft's `T_dcst23::exec` (type 2, `cosine`, no `ortho`, scale 1;
//! `pocketfft_hdronly.h`): pre-processing of the input pairs, a backward real FFT
//! ([`super::pocketfft::RealFft`]), and post-processing with twiddles
//! `cos(2 pi (i + 1) / 4N)` taken from `sincos_2pibyn(4N)`. Each column is transformed, then
//! each row of the result, every one alone (SciPy's SIMD lanes hold different columns, so they
//! do not change the arithmetic). Only the rows the hash reads are transformed along axis 1.

use super::pocketfft::{RealFft, SinCos2PiByN};

/// A planned type-II DCT of one length (`T_dcst23`).
pub struct Dct2 {
    fft: RealFft,
    twiddle: Vec<f64>,
}

impl Dct2 {
    /// The plan for `length` (>= 1).
    pub fn new(length: usize) -> Self {
        let tw = SinCos2PiByN::new(4 * length);
        let twiddle = (0..length).map(|i| tw.get(i + 1).0).collect();
        Dct2 {
            fft: RealFft::new(length),
            twiddle,
        }
    }

    /// The transform of `c`, in place; `c.len()` is the planned length.
    pub fn apply(&self, c: &mut [f64]) {
        let n = c.len();
        let tw = &self.twiddle;
        let ns2 = n.div_ceil(2);
        c[0] *= 2.0;
        if n % 2 == 0 {
            c[n - 1] *= 2.0;
        }
        let mut k = 1;
        while k + 1 < n {
            // MPINPLACE(c[k + 1], c[k])
            let t = c[k + 1];
            c[k + 1] = t - c[k];
            c[k] += t;
            k += 2;
        }
        self.fft.backward(c);
        for k in 1..ns2 {
            let kc = n - k;
            let t1 = tw[k - 1] * c[kc] + tw[kc - 1] * c[k];
            let t2 = tw[k - 1] * c[k] - tw[kc - 1] * c[kc];
            c[k] = 0.5 * (t1 + t2);
            c[kc] = 0.5 * (t1 - t2);
        }
        if n % 2 == 0 {
            c[ns2] *= tw[ns2 - 1];
        }
    }
}

/// The top-left `keep` x `keep` corner of the 2-D DCT of a `size` x `size` row-major image,
/// row-major.
pub fn dct_2d_low(pixels: &[u8], size: usize, keep: usize) -> Vec<f64> {
    let plan = Dct2::new(size);
    // Axis 0: every column.
    let mut columns = vec![0.0f64; size * size];
    let mut buf = vec![0.0f64; size];
    for x in 0..size {
        for (y, v) in buf.iter_mut().enumerate() {
            *v = f64::from(pixels[y * size + x]);
        }
        plan.apply(&mut buf);
        for (y, v) in buf.iter().enumerate() {
            columns[y * size + x] = *v;
        }
    }
    // Axis 1: the rows that are kept.
    let mut out = Vec::with_capacity(keep * keep);
    for y in 0..keep {
        buf.copy_from_slice(&columns[y * size..][..size]);
        plan.apply(&mut buf);
        out.extend_from_slice(&buf[..keep]);
    }
    out
}
