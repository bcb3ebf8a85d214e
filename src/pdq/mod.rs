//! PDQ, bit-exact with the reference C++ implementation (facebook/ThreatExchange `pdq/cpp`)
//! on the same pixels.
//!
//! The pipeline is a chain of stages, one per file, each with a typed output:
//! pixels → [`luma`] ([`LumaPlane`]) → [`jarosz`] blur → [`decimate`] ([`Buffer64x64`])
//! → [`quality`] and [`dct`] ([`Dct16x16`]) → [`median`] threshold → [`bits`] ([`PdqHash`]),
//! and [`dihedral`] for the eight symmetries. That chain is the [`scalar`] oracle; the default
//! [`pdq_hash`] and [`pdq_dihedral`] run the streaming [`fast`] path, equal to it bit for
//! bit. All arithmetic is IEEE f32 in the reference's operation order: no FMA, no
//! reassociation, so native and wasm builds agree bit for bit.
//!
//! Two reference behaviours are kept on purpose, both decided in one place (`Preparation`):
//! - images under [`PDQ_MIN_DIMENSION`] pixels on a side hash to all zeros with quality 0;
//! - a 64x64 input skips the blur in [`pdq_hash`] but not in [`pdq_dihedral`], where the
//!   window-1 box filter is not an exact identity (its running sum rounds).

pub mod bits;
pub mod dct;
pub mod decimate;
pub mod dihedral;
pub mod fast;
pub mod jarosz;
pub mod luma;
pub mod median;
pub mod quality;
pub mod scalar;

use serde::Serialize;

pub use dihedral::Dihedral;
pub use luma::LumaPlane;

use crate::hash::PdqHash;
use crate::pixels::PixelView;

/// Hashes at most this many bits apart are a match by the ecosystem's convention, which vPDQ's
/// frame matching keeps; photos match at the registry's measured
/// [`crate::algorithm::PDQ_DEFAULT_THRESHOLD`].
pub const PDQ_MATCH_THRESHOLD_BITS: u32 = 31;
/// Hashes of lower quality are not used for matching.
pub const PDQ_MIN_QUALITY: u8 = 50;
/// Images smaller than this on either side hash to all zeros with quality 0.
pub const PDQ_MIN_DIMENSION: usize = 5;

/// The 64x64 image after blur and decimation, row-major.
#[derive(Clone, PartialEq)]
pub struct Buffer64x64(pub [[f32; 64]; 64]);

impl Buffer64x64 {
    /// All zeros.
    pub fn zero() -> Self {
        Buffer64x64([[0.0; 64]; 64])
    }
}

/// The 16x16 low-frequency DCT coefficients; row `i` is vertical frequency `i + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dct16x16(pub [[f32; 16]; 16]);

/// A PDQ hash and its quality (0..=100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PdqOutput {
    pub hash: PdqHash,
    pub quality: u8,
}

/// The eight dihedral PDQ hashes of one image, in [`Dihedral::ALL`] order, and the quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PdqDihedralOutput {
    pub hashes: [PdqHash; 8],
    pub quality: u8,
}

impl PdqOutput {
    /// The reference's output for an image under [`PDQ_MIN_DIMENSION`] on a side.
    pub(crate) const TOO_SMALL: PdqOutput = PdqOutput {
        hash: PdqHash::ZERO,
        quality: 0,
    };
}

impl PdqDihedralOutput {
    /// The reference's output for an image under [`PDQ_MIN_DIMENSION`] on a side.
    pub(crate) const TOO_SMALL: PdqDihedralOutput = PdqDihedralOutput {
        hashes: [PdqHash::ZERO; 8],
        quality: 0,
    };

    /// The hash of one variant.
    pub fn get(&self, variant: Dihedral) -> PdqHash {
        self.hashes[variant as usize]
    }
}

/// How the reference makes the 64x64 buffer of an image of a given size: the one place its
/// two size rules live (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preparation {
    /// Under [`PDQ_MIN_DIMENSION`] on a side: no buffer; the output is all zeros, quality 0.
    TooSmall,
    /// Exactly 64x64 for the plain hash: the luma is the buffer, unblurred.
    Copy,
    /// Blur and decimate.
    Blur,
}

impl Preparation {
    /// For the plain hash (`pdqHash256FromFloatLuma`).
    pub(crate) fn plain(width: usize, height: usize) -> Self {
        if width < PDQ_MIN_DIMENSION || height < PDQ_MIN_DIMENSION {
            Preparation::TooSmall
        } else if width == 64 && height == 64 {
            Preparation::Copy
        } else {
            Preparation::Blur
        }
    }

    /// For the dihedral hashes (`pdqDihedralHash256esFromFloatLuma`), which blur a 64x64
    /// input too.
    pub(crate) fn dihedral(width: usize, height: usize) -> Self {
        match Preparation::plain(width, height) {
            Preparation::Copy => Preparation::Blur,
            other => other,
        }
    }
}

/// Blur and decimate a luma plane to 64x64 (consumes the plane as the filter's buffer).
pub fn downsample(mut luma: LumaPlane) -> Buffer64x64 {
    let (rows, cols) = (luma.height, luma.width);
    let window_along_rows = jarosz::jarosz_window_size(cols, 64);
    let window_along_cols = jarosz::jarosz_window_size(rows, 64);
    let mut scratch = vec![0.0f32; luma.data.len()];
    jarosz::jarosz_filter(
        &mut luma.data,
        &mut scratch,
        rows,
        cols,
        window_along_rows,
        window_along_cols,
    );
    decimate::decimate_to_64(&luma.data, rows, cols)
}

/// The reference plain hash of a luma plane (`pdqHash256FromFloatLuma`).
pub fn pdq_from_luma(luma: LumaPlane) -> PdqOutput {
    let buffer = match Preparation::plain(luma.width, luma.height) {
        Preparation::TooSmall => return PdqOutput::TOO_SMALL,
        Preparation::Copy => {
            let mut b = Buffer64x64::zero();
            for (row, src) in b.0.iter_mut().zip(luma.data.chunks_exact(64)) {
                row.copy_from_slice(src);
            }
            b
        }
        Preparation::Blur => downsample(luma),
    };
    let quality = quality::quality(&buffer);
    let dct = dct::dct_64_to_16(&buffer);
    PdqOutput {
        hash: bits::dct_to_hash(&dct),
        quality,
    }
}

/// The reference dihedral hashes of a luma plane (`pdqDihedralHash256esFromFloatLuma`).
pub fn pdq_dihedral_from_luma(luma: LumaPlane) -> PdqDihedralOutput {
    if Preparation::dihedral(luma.width, luma.height) == Preparation::TooSmall {
        return PdqDihedralOutput::TOO_SMALL;
    }
    let buffer = downsample(luma);
    let quality = quality::quality(&buffer);
    let dct = dct::dct_64_to_16(&buffer);
    let hashes = Dihedral::ALL.map(|d| bits::dct_to_hash(&d.apply(&dct)));
    PdqDihedralOutput { hashes, quality }
}

/// PDQ hash and quality of an image, by the streaming [`fast`] path (bit-identical to
/// [`scalar::pdq_hash`]).
pub fn pdq_hash(view: &PixelView<'_>) -> PdqOutput {
    fast::pdq_hash(view)
}

/// The eight dihedral PDQ hashes and quality of an image, by the streaming [`fast`] path
/// (bit-identical to [`scalar::pdq_dihedral`]).
pub fn pdq_dihedral(view: &PixelView<'_>) -> PdqDihedralOutput {
    fast::pdq_dihedral(view)
}
