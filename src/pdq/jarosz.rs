//! Stage 2: the Jarosz blur, two passes of (box filter along rows, then along columns).
//!
//! Mirrors `computeJaroszFilterWindowSize`, `box1DFloat`, `boxAlongRowsFloat`,
//! `boxAlongColsFloat` and `jaroszFilterFloat` in pdq/cpp/downscaling/downscaling.cpp.
//! Every line keeps ONE running f32 sum (`sum += in[right]; sum -= in[left];
//! out = sum / count`); that order is what makes the result bit-exact, so this is the
//! literal, unoptimised oracle.

/// Number of (rows, columns) passes in the reference.
pub const JAROSZ_PASSES: usize = 2;

/// The reference window for shrinking `old_dimension` towards `new_dimension`:
/// `(old + 2 * new - 1) / (2 * new)`, i.e. `(old + 127) / 128` for PDQ's 64.
pub fn jarosz_window_size(old_dimension: usize, new_dimension: usize) -> usize {
    // The reference's integer expression is a ceiling division.
    old_dimension.div_ceil(2 * new_dimension)
}

/// One box filter over `length` values `stride` apart, from `input` to `output`
/// (reference `box1DFloat`). `window` must be in `1..=length`.
pub fn box_1d(input: &[f32], output: &mut [f32], length: usize, stride: usize, window: usize) {
    debug_assert!(window >= 1 && window <= length);
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let phase3 = length - window;
    let phase4 = half - 1;

    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0.0f32;
    let mut count = 0u32;
    // Phase 1: accumulate the first half window without writing.
    for _ in 0..phase1 {
        sum += input[ri];
        count += 1;
        ri += stride;
    }
    // Phase 2: growing window.
    for _ in 0..phase2 {
        sum += input[ri];
        count += 1;
        output[oi] = sum / count as f32;
        ri += stride;
        oi += stride;
    }
    // Phase 3: full window slides.
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / count as f32;
        li += stride;
        ri += stride;
        oi += stride;
    }
    // Phase 4: shrinking window.
    for _ in 0..phase4 {
        sum -= input[li];
        count -= 1;
        output[oi] = sum / count as f32;
        li += stride;
        oi += stride;
    }
}

/// Box filter along each row of a `rows x cols` plane.
pub fn box_along_rows(input: &[f32], output: &mut [f32], rows: usize, cols: usize, window: usize) {
    for i in 0..rows {
        let range = i * cols..(i + 1) * cols;
        box_1d(&input[range.clone()], &mut output[range], cols, 1, window);
    }
}

/// Box filter along each column of a `rows x cols` plane (stride = one row).
pub fn box_along_cols(input: &[f32], output: &mut [f32], rows: usize, cols: usize, window: usize) {
    for j in 0..cols {
        box_1d(&input[j..], &mut output[j..], rows, cols, window);
    }
}

/// The full Jarosz filter, in place on `plane` with `scratch` of the same size.
pub fn jarosz_filter(
    plane: &mut [f32],
    scratch: &mut [f32],
    rows: usize,
    cols: usize,
    window_along_rows: usize,
    window_along_cols: usize,
) {
    for _ in 0..JAROSZ_PASSES {
        box_along_rows(plane, scratch, rows, cols, window_along_rows);
        box_along_cols(scratch, plane, rows, cols, window_along_cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_size_is_ceil_of_dimension_over_128() {
        assert_eq!(jarosz_window_size(5, 64), 1);
        assert_eq!(jarosz_window_size(128, 64), 1);
        assert_eq!(jarosz_window_size(129, 64), 2);
        assert_eq!(jarosz_window_size(1600, 64), 13);
    }

    #[test]
    fn box_filter_writes_every_output_once_for_every_window() {
        for length in 1..40 {
            for window in 1..=length {
                let input: Vec<f32> = (0..length).map(|i| i as f32).collect();
                let mut output = vec![f32::NAN; length];
                box_1d(&input, &mut output, length, 1, window);
                assert!(
                    output.iter().all(|v| v.is_finite()),
                    "length {length} window {window}"
                );
            }
        }
    }
}
