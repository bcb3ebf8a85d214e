//! Stage 7: coefficients to hash bits. Bit `16 * i + j` is set iff `B[i][j]` is strictly
//! greater than the threshold (`pdqBuffer16x16ToBits` in pdq/cpp/hashing/pdqhashing.cpp).

use super::median::torben_median;
use super::Dct16x16;
use crate::hash::PdqHash;

/// The hash of a 16x16 DCT.
pub fn dct_to_hash(dct: &Dct16x16) -> PdqHash {
    let flat: [f32; 256] = std::array::from_fn(|k| dct.0[k / 16][k % 16]);
    let median = torben_median(&flat);
    let mut hash = PdqHash::ZERO;
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            hash.set_bit(k);
        }
    }
    hash
}
