//! pixelprint: perceptual image hashes computed where the image is, so that only hashes
//! travel.
//!
//! PDQ here is bit-exact with the reference implementation on the same pixels, natively
//! and in WebAssembly.
//!
//! ```
//! use pixelprint::{pdq_hash, PixelFormat, PixelView};
//!
//! let (w, h) = (32u32, 24u32);
//! let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
//! let view = PixelView::packed(&rgb, w, h, PixelFormat::Rgb8)?;
//! let out = pdq_hash(&view);
//! assert_eq!(out.hash.to_hex().len(), 64);
//! # Ok::<(), pixelprint::CallerError>(())
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod hash;
pub mod index;
pub mod pdq;
pub mod pixels;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use error::{CallerError, Error};
pub use hash::{HexError, PdqHash};
pub use pdq::{
    pdq_dihedral, pdq_hash, Dihedral, PdqDihedralOutput, PdqOutput, PDQ_MATCH_THRESHOLD_BITS,
    PDQ_MIN_DIMENSION, PDQ_MIN_QUALITY,
};
pub use pixels::{PixelFormat, PixelView};
