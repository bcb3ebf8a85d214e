//! Stage 5: the 16x64 DCT, `B = D A D^T` keeping the 16x16 lowest non-DC frequencies.
//!
//! Mirrors `dct64To16` and the matrix set-up in pdq/cpp/hashing/pdqhashing.cpp:
//! `D[i][j] = (float)((float)sqrt(2/64) * cos((pi / 2 / 64) * (i + 1) * (2j + 1)))`, the
//! product and cosine in f64, then rounded to f32. Both products sum in f32 over ascending
//! `k`, never fused, never reordered.

use std::sync::OnceLock;

use super::{Buffer64x64, Dct16x16};

/// The 16x64 DCT matrix, row `i` = frequency `i + 1`.
pub type DctMatrix = [[f32; 64]; 16];

/// Computes the matrix from the reference formula.
pub fn compute_dct_matrix() -> DctMatrix {
    let scale = f64::from((2.0f64 / 64.0).sqrt() as f32);
    let mut d = [[0f32; 64]; 16];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let angle = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
            *v = (scale * angle.cos()) as f32;
        }
    }
    d
}

/// The matrix, computed once.
pub fn dct_matrix() -> &'static DctMatrix {
    static MATRIX: OnceLock<DctMatrix> = OnceLock::new();
    MATRIX.get_or_init(compute_dct_matrix)
}

/// `D A D^T` for a 64x64 buffer.
pub fn dct_64_to_16(a: &Buffer64x64) -> Dct16x16 {
    let d = dct_matrix();
    let a = &a.0;
    // T = D A (16x64).
    let mut t = [[0f32; 64]; 16];
    for i in 0..16 {
        for j in 0..64 {
            let mut sum = 0.0f32;
            for k in 0..64 {
                sum += d[i][k] * a[k][j];
            }
            t[i][j] = sum;
        }
    }
    // B = T D^T (16x16).
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let mut sum = 0.0f32;
            for k in 0..64 {
                sum += t[i][k] * d[j][k];
            }
            b[i][j] = sum;
        }
    }
    Dct16x16(b)
}
