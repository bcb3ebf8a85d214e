//! Stage 6: the threshold, the 128th smallest of the 256 DCT coefficients.
//!
//! The reference (`torben` in pdq/cpp/common/torben.cpp) returns, for an even count `n`, the
//! `(n + 1) / 2`-th smallest value: element 127 of the sorted 256. A selection gives the
//! same value without the reference's repeated passes.

/// The 128th smallest of 256 values (`sorted[127]`).
pub fn torben_median(values: &[f32; 256]) -> f32 {
    let mut copy = *values;
    // Values are finite (sums of finite products of bytes), so total order equals IEEE
    // order except for the sign of zero, which cannot change a `>` comparison.
    let (_, median, _) = copy.select_nth_unstable_by(127, f32::total_cmp);
    *median
}
