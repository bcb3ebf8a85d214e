//! Stage 3: decimation of the blurred plane to 64x64 by point sampling.
//!
//! Mirrors `decimateFloat` in pdq/cpp/downscaling/downscaling.cpp: output `i` samples
//! input `floor((i + 0.5) * n / 64)`, computed in f64.

use super::Buffer64x64;

/// Index of the input sample for output `out` of `out_len`, from an input of `in_len`.
pub(crate) fn sample_index(out: usize, in_len: usize, out_len: usize) -> usize {
    // Truncation of a non-negative f64 is floor, as the reference's (int) cast.
    (((out as f64 + 0.5) * in_len as f64) / out_len as f64) as usize
}

/// Point-samples a `rows x cols` plane to 64x64.
pub fn decimate_to_64(plane: &[f32], rows: usize, cols: usize) -> Buffer64x64 {
    let mut out = Buffer64x64::zero();
    for (i, out_row) in out.0.iter_mut().enumerate() {
        let ini = sample_index(i, rows, 64);
        for (j, v) in out_row.iter_mut().enumerate() {
            let inj = sample_index(j, cols, 64);
            *v = plane[ini * cols + inj];
        }
    }
    out
}
