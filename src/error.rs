//! The crate's error type, grouped by who is at fault: the caller (arguments that cannot
//! describe an image), and later the content and the limits. Every variant has a stable
//! snake_case [`Error::code`] for JSON and JS adapters.

use crate::hash::HexError;

/// Everything that can go wrong in pixelprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments cannot describe an image.
    #[error(transparent)]
    Caller(#[from] CallerError),
}

impl Error {
    /// A stable machine-readable code, e.g. `buffer_too_short`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Caller(e) => e.code(),
        }
    }
}

impl From<HexError> for Error {
    fn from(e: HexError) -> Self {
        Error::Caller(CallerError::InvalidHex(e))
    }
}

/// Arguments that cannot describe an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// Width or height is zero.
    #[error("image dimensions must be non-zero, found {width}x{height}")]
    ZeroDimension { width: u32, height: u32 },
    /// The byte count of the described image does not fit in memory addresses.
    #[error("image of {width}x{height} pixels with row stride {stride} overflows the address space")]
    SizeOverflow { width: u32, height: u32, stride: usize },
    /// The row stride is smaller than one row of pixels.
    #[error("row stride must be at least {row_bytes} bytes, found {stride}")]
    StrideTooSmall { stride: usize, row_bytes: usize },
    /// The buffer holds fewer bytes than the dimensions require.
    #[error("pixel buffer too short: expected at least {expected} bytes, found {found}")]
    BufferTooShort { expected: usize, found: usize },
    /// A tightly packed buffer whose length does not match the dimensions.
    #[error("pixel buffer length does not match the dimensions: expected {expected} bytes, found {found}")]
    BufferLengthMismatch { expected: usize, found: usize },
    /// A hash string that is not valid hex of the right length.
    #[error("invalid hash: {0}")]
    InvalidHex(HexError),
    /// A hash size the algorithm does not support.
    #[error("{algorithm} needs a hash size of {expected}, found {found}")]
    UnsupportedHashSize { algorithm: &'static str, expected: &'static str, found: u32 },
}

impl CallerError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CallerError::ZeroDimension { .. } => "zero_dimension",
            CallerError::SizeOverflow { .. } => "size_overflow",
            CallerError::StrideTooSmall { .. } => "stride_too_small",
            CallerError::BufferTooShort { .. } => "buffer_too_short",
            CallerError::BufferLengthMismatch { .. } => "buffer_length_mismatch",
            CallerError::InvalidHex(_) => "invalid_hex",
            CallerError::UnsupportedHashSize { .. } => "unsupported_hash_size",
        }
    }
}
