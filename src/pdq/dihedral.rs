//! Stage 7b: the eight dihedral variants, from sign flips and transposes of one 16x16 DCT.
//!
//! Mirrors `dct16OriginalToRotate90` ... `dct16OriginalToFlipMinus1` in
//! pdq/cpp/hashing/pdqhashing.cpp. Reversing one axis of the 64x64 image negates the DCT
//! coefficients of even index along that axis (index `i` is frequency `i + 1`); a transpose
//! swaps the axes. The results are 0-8 bits away from hashing a physically rotated image.

use super::Dct16x16;

/// The eight symmetries of the square, in the reference's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Dihedral {
    /// All eight, in the reference order (orig, rot90, rot180, rot270, flipx, flipy,
    /// flipplus1, flipminus1).
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// The reference's short name.
    pub const fn name(self) -> &'static str {
        match self {
            Dihedral::Original => "orig",
            Dihedral::Rotate90 => "rot90",
            Dihedral::Rotate180 => "rot180",
            Dihedral::Rotate270 => "rot270",
            Dihedral::FlipX => "flipx",
            Dihedral::FlipY => "flipy",
            Dihedral::FlipPlus1 => "flipplus1",
            Dihedral::FlipMinus1 => "flipminus1",
        }
    }

    /// The DCT of the transformed image.
    pub fn apply(self, a: &Dct16x16) -> Dct16x16 {
        let a = &a.0;
        let mut b = [[0f32; 16]; 16];
        let even = |n: usize| n & 1 == 0;
        for i in 0..16 {
            for j in 0..16 {
                let v = a[i][j];
                match self {
                    Dihedral::Original => b[i][j] = v,
                    Dihedral::Rotate90 => b[j][i] = if even(j) { -v } else { v },
                    Dihedral::Rotate180 => b[i][j] = if even(i + j) { v } else { -v },
                    Dihedral::Rotate270 => b[j][i] = if even(i) { -v } else { v },
                    Dihedral::FlipX => b[i][j] = if even(i) { -v } else { v },
                    Dihedral::FlipY => b[i][j] = if even(j) { -v } else { v },
                    Dihedral::FlipPlus1 => b[j][i] = v,
                    Dihedral::FlipMinus1 => b[j][i] = if even(i + j) { v } else { -v },
                }
            }
        }
        Dct16x16(b)
    }
}
