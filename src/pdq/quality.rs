//! Stage 4: the image-domain quality metric, 0..=100.
//!
//! Mirrors `computePDQImageDomainQualityMetric` in pdq/cpp/hashing/pdqhashing.cpp: the sum
//! over vertical and horizontal neighbours of `|trunc((u - v) * 100 / 255)|` (f32
//! arithmetic, truncation toward zero), integer-divided by 90 and capped at 100.

use super::Buffer64x64;

/// The reference quality of a 64x64 buffer.
pub fn quality(buffer: &Buffer64x64) -> u8 {
    let b = &buffer.0;
    let term = |u: f32, v: f32| -> i64 { (((u - v) * 100.0) / 255.0) as i32 as i64 };
    let mut gradient_sum: i64 = 0;
    for (up, down) in b.iter().zip(&b[1..]) {
        for (&u, &d) in up.iter().zip(down) {
            gradient_sum += term(u, d).abs();
        }
    }
    for row in b.iter() {
        for j in 0..63 {
            gradient_sum += term(row[j], row[j + 1]).abs();
        }
    }
    (gradient_sum / 90).min(100) as u8
}
