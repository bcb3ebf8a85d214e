//! Stage 3 of the wavelet hash: the haar transforms `pywt.wavedec2` / `pywt.waverec2` (mode
//! `symmetric`) on a square float64 image whose side is a power of two.
//!
//! Mirrors PyWavelets' C kernels (pywt/_extensions/c/convolution.template.c
//! `downsampling_convolution` and `upsampling_convolution_valid_sf`, driven by `dwtn`/`idwtn`):
//! with the two-tap haar filters `c = 0x1.6a09e667f3bcdp-1` (1/sqrt 2 as stored by pywt) and
//! even lengths, no boundary extension is ever read, and each output is one rounded sum of two
//! rounded products:
//! - analysis, along one axis: `lo = c*x[2i+1] + c*x[2i]`, `hi = -c*x[2i+1] + c*x[2i]`;
//! - synthesis: `out[2i] = c*lo + c*hi`, `out[2i+1] = c*lo + -c*hi`;
//! - `dwt2` transforms axis 0 (pairs of rows) then axis 1; `idwt2` undoes axis 1 then axis 0.
//!
//! pywt starts each sum at 0.0, which can only change the sign of a zero; no later comparison
//! sees that sign.

/// pywt's haar filter magnitude, `dec_lo[0]`.
pub const HAAR: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// A square row-major float64 image.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub size: usize,
    pub data: Vec<f64>,
}

/// Detail bands of one level: `da` (axis-0 high, axis-1 low), `ad`, `dd`.
struct Details {
    da: Vec<f64>,
    ad: Vec<f64>,
    dd: Vec<f64>,
}

#[inline(always)]
fn analysis(first: f64, second: f64) -> (f64, f64) {
    // pywt: sum = filter[0] * x[2i+1] + filter[1] * x[2i]
    (HAAR * second + HAAR * first, -HAAR * second + HAAR * first)
}

#[inline(always)]
fn synthesis(lo: f64, hi: f64) -> (f64, f64) {
    (HAAR * lo + HAAR * hi, HAAR * lo + -HAAR * hi)
}

/// One `dwt2` level of a `size` x `size` image: the `aa` band and, if asked, the details.
fn dwt2_level(x: &[f64], size: usize, keep_details: bool) -> (Vec<f64>, Option<Details>) {
    let half = size / 2;
    // Axis 0: rows 2i and 2i+1 give row i of the low and high halves (half x size each).
    let mut lo0 = vec![0.0; half * size];
    let mut hi0 = vec![0.0; half * size];
    for i in 0..half {
        for j in 0..size {
            let (lo, hi) = analysis(x[2 * i * size + j], x[(2 * i + 1) * size + j]);
            lo0[i * size + j] = lo;
            hi0[i * size + j] = hi;
        }
    }
    // Axis 1 on each half.
    let axis1 = |src: &[f64]| {
        let mut lo = vec![0.0; half * half];
        let mut hi = vec![0.0; half * half];
        for i in 0..half {
            for j in 0..half {
                let (l, h) = analysis(src[i * size + 2 * j], src[i * size + 2 * j + 1]);
                lo[i * half + j] = l;
                hi[i * half + j] = h;
            }
        }
        (lo, hi)
    };
    let (aa, ad) = axis1(&lo0);
    if !keep_details {
        return (aa, None);
    }
    let (da, dd) = axis1(&hi0);
    (aa, Some(Details { da, ad, dd }))
}

/// One `idwt2` level: a `half` x `half` approximation and details to a `2 half` square.
fn idwt2_level(aa: &[f64], d: &Details, half: usize) -> Vec<f64> {
    let size = 2 * half;
    // Axis 1: (aa, ad) -> a, (da, dd) -> d, each half x size.
    let axis1 = |lo: &[f64], hi: &[f64]| {
        let mut out = vec![0.0; half * size];
        for i in 0..half {
            for j in 0..half {
                let (even, odd) = synthesis(lo[i * half + j], hi[i * half + j]);
                out[i * size + 2 * j] = even;
                out[i * size + 2 * j + 1] = odd;
            }
        }
        out
    };
    let a = axis1(aa, &d.ad);
    let dt = axis1(&d.da, &d.dd);
    // Axis 0: (a, d) -> the image.
    let mut out = vec![0.0; size * size];
    for i in 0..half {
        for j in 0..size {
            let (even, odd) = synthesis(a[i * size + j], dt[i * size + j]);
            out[2 * i * size + j] = even;
            out[(2 * i + 1) * size + j] = odd;
        }
    }
    out
}

/// `waverec2` of `wavedec2(x, 'haar', level=log2(size))` with the 1x1 approximation
/// multiplied by zero: imagehash's `remove_max_haar_ll`.
pub fn remove_max_haar_ll(x: &Plane) -> Plane {
    let mut details = Vec::new();
    let mut approx = x.data.clone();
    let mut size = x.size;
    while size > 1 {
        let (aa, d) = dwt2_level(&approx, size, true);
        details.extend(d);
        approx = aa;
        size /= 2;
    }
    // `coeffs[0] *= 0`
    for v in &mut approx {
        *v *= 0.0;
    }
    for d in details.iter().rev() {
        approx = idwt2_level(&approx, d, size);
        size *= 2;
    }
    Plane { size, data: approx }
}

/// `wavedec2(x, 'haar', level=levels)[0]`: the approximation band after `levels` levels.
pub fn haar_approximation(x: &Plane, levels: u32) -> Plane {
    let mut approx = x.data.clone();
    let mut size = x.size;
    for _ in 0..levels {
        approx = dwt2_level(&approx, size, false).0;
        size /= 2;
    }
    Plane { size, data: approx }
}
