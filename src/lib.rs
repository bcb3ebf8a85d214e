//! pixelprint: perceptual image hashes computed where the image is, so that only hashes
//! travel.
//!
//! PDQ here is bit-exact with the reference implementation on the same pixels, natively
//! and in WebAssembly; so are aHash, dHash, pHash and wHash with Python's `imagehash` 4.3.2
//! (and the Pillow, NumPy, SciPy and PyWavelets arithmetic under it). Videos get vPDQ
//! ([`video`]): the reference's frame selection, text format and matchers, fed decoded frames.
//!
//! ```
//! use pixelprint::{pdq_hash, PixelFormat, PixelView};
//!
//! let (w, h) = (32u32, 24u32);
//! let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
//! let view = PixelView::packed(&rgb, w, h, PixelFormat::Rgb8)?;
//! let out = pdq_hash(&view);
//! assert_eq!(out.hash.to_hex().len(), 64);
//!
//! // imagehash's phash(image, hash_size=8), bit for bit; str(hash) is to_hex().
//! let p = pixelprint::phash(&view, 8)?;
//! assert_eq!(p.to_hex().len(), 16);
//! assert_eq!(p.to_hex().parse::<pixelprint::PerceptualHash>(), Ok(p));
//! # Ok::<(), pixelprint::CallerError>(())
//! ```
// No `unsafe` anywhere but `arch`, whose one use is documented there.
#![deny(unsafe_code)]

pub mod algorithm;
#[allow(unsafe_code)]
mod arch;
pub mod caption;
pub mod decode;
pub mod digest;
pub mod embedded;
pub mod error;
pub mod hash;
pub mod hashlist;
pub mod imagehash;
pub mod index;
pub mod matching;
pub mod pdq;
pub mod pipeline;
pub mod pixels;
pub mod straighten;
#[cfg(test)]
mod testing;
pub mod trim;
pub mod video;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use algorithm::{Algorithm, AlgorithmInfo, AlgorithmMap, AlgorithmSet, Family, FpRate};
pub use decode::{
    decode, AlphaPolicy, DecodeOptions, DecodedImage, ImageFormat, Orientation, OrientationPolicy,
    DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_PIXELS,
};
pub use digest::{md5_hex, sha1_hex, sha256_hex, DigestStream, Digests};
pub use error::{CallerError, ContentError, Error, LimitError};
pub use hash::{
    Average, AverageHash, BitHash, Difference, DifferenceHash, DifferenceVertical,
    DifferenceVerticalHash, DigestHash, HashValue, HexError, ImageHash, ImageHashKind, PdqHash,
    Perceptual, PerceptualHash, SizeMismatch, ValueError, Wavelet, WaveletHash, IMAGEHASH_MAX_SIZE,
    IMAGEHASH_MIN_SIZE,
};
pub use imagehash::{average_hash, dhash, dhash_vertical, phash, whash};
pub use pdq::{
    pdq_dihedral, pdq_hash, Dihedral, PdqDihedralOutput, PdqOutput, PDQ_MATCH_THRESHOLD_BITS,
    PDQ_MIN_DIMENSION, PDQ_MIN_QUALITY,
};
pub use pipeline::{hash_bytes, FileHashes, HashOptions};
pub use pixels::{PixelFormat, PixelView};
pub use video::{
    match_vpdq, parse_vpdq_text, write_vpdq_text, VideoError, VpdqFeature, VpdqHasher, VpdqMatch,
    VpdqMatchOptions, VpdqTextError, VPDQ_DEFAULT_SECONDS_PER_HASH,
};
