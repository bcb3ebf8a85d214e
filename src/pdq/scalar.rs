//! The scalar PDQ path: the literal transcription of the reference, stage by stage over
//! full-size planes (luma plane, then `jarosz_filter` in place, then decimation).
//!
//! It is slow on large images (the column pass walks a whole row per step) and is kept as
//! the oracle that [`super::fast`], the default path, is tested against bit for bit.

pub use super::{downsample, pdq_dihedral_from_luma, pdq_from_luma};

use super::{luma, PdqDihedralOutput, PdqOutput};
use crate::pixels::PixelView;

/// PDQ hash and quality of an image, through full-size planes.
pub fn pdq_hash(view: &PixelView<'_>) -> PdqOutput {
    pdq_from_luma(luma::luma_plane(view))
}

/// The eight dihedral PDQ hashes and quality of an image, through full-size planes.
pub fn pdq_dihedral(view: &PixelView<'_>) -> PdqDihedralOutput {
    pdq_dihedral_from_luma(luma::luma_plane(view))
}
