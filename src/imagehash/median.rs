//! The thresholds: `numpy.mean` of the shrunk 8-bit image (average hash) and `numpy.median`
//! of float64 coefficients (perceptual and wavelet hashes).
//!
//! numpy's mean of a uint8 array sums in float64 and divides by the count; the sum of at most
//! 256 bytes is exact in any order, so it is computed as an integer. numpy's median
//! (`numpy/lib/_function_base_impl.py`, `_median`) partitions and takes the `mean` of the middle
//! element, or of the two middle elements for an even count: `(a + b) / 2` in float64.

/// `numpy.mean` of 8-bit pixels (non-empty).
pub fn mean_u8(pixels: &[u8]) -> f64 {
    let sum: u64 = pixels.iter().map(|&p| u64::from(p)).sum();
    sum as f64 / pixels.len() as f64
}

/// `numpy.median` of finite float64 values (non-empty).
pub fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    // Finite values: total order equals IEEE order except for the sign of zero, which changes
    // neither the sum below nor any later `>` comparison.
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_pair() {
        assert_eq!(median_f64(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_f64(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(mean_u8(&[0, 255, 255]), 170.0);
    }
}
