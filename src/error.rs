//! The crate's error type, grouped by who is at fault: the caller (arguments that cannot
//! describe an image), the content (bytes that are not a decodable image) and the limits
//! (input larger than the configured bounds). Every variant has a stable snake_case
//! [`Error::code`] for JSON and JS adapters.

use crate::hash::HexError;

/// Everything that can go wrong in pixelprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The arguments cannot describe an image.
    #[error(transparent)]
    Caller(#[from] CallerError),
    /// The bytes are not an image this crate can decode.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The input exceeds a configured limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl Error {
    /// A stable machine-readable code, e.g. `buffer_too_short`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Caller(e) => e.code(),
            Error::Content(e) => e.code(),
            Error::Limit(e) => e.code(),
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
    #[error(
        "image of {width}x{height} pixels with row stride {stride} overflows the address space"
    )]
    SizeOverflow {
        width: u32,
        height: u32,
        stride: usize,
    },
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
    UnsupportedHashSize {
        algorithm: &'static str,
        expected: &'static str,
        found: u32,
    },
    /// An algorithm name that is not one of ours.
    #[error("unknown algorithm {found:?}: expected a comma-separated list of pdq, pdq-dihedral, pdq-trimmed, pdq-embedded, pdq-captioned, pdq-straightened, ahash, dhash, dhash-vertical, phash, phash-mirrored, phash16, whash, md5, sha1, sha256")]
    UnknownAlgorithm { found: String },
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
            CallerError::UnknownAlgorithm { .. } => "unknown_algorithm",
        }
    }
}

/// The formats this build decodes, for messages. TIFF is a cargo feature (`tiff`, on by
/// default); the browser build leaves it out to keep the module small.
#[cfg(feature = "tiff")]
const SUPPORTED_FORMATS: &str = "a JPEG, PNG, GIF, WebP, BMP or TIFF file";
#[cfg(not(feature = "tiff"))]
const SUPPORTED_FORMATS: &str = "a JPEG, PNG, GIF, WebP or BMP file (this build leaves out TIFF)";

/// Bytes that are not an image this crate can decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// Zero bytes of input.
    #[error("input is empty: expected the bytes of an image file, found 0 bytes")]
    EmptyInput,
    /// The leading bytes are not the signature of a supported format.
    #[error("unsupported format: expected {}, found {found}", SUPPORTED_FORMATS)]
    UnsupportedFormat {
        /// What the bytes look like, e.g. `an AVIF file` or `bytes 48 65 6c 6c 6f ...`.
        found: String,
    },
    /// A supported format using a feature its decoder does not implement.
    #[error("unsupported {format} feature: {detail}")]
    UnsupportedFeature {
        format: &'static str,
        detail: String,
    },
    /// The data ends before the image does.
    #[error("truncated {format} image: {detail}")]
    Truncated {
        format: &'static str,
        detail: String,
    },
    /// The data is malformed.
    #[error("corrupt {format} image: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
}

impl ContentError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ContentError::EmptyInput => "empty_input",
            ContentError::UnsupportedFormat { .. } => "unsupported_format",
            ContentError::UnsupportedFeature { .. } => "unsupported_feature",
            ContentError::Truncated { .. } => "truncated_image",
            ContentError::Corrupt { .. } => "corrupt_image",
        }
    }
}

/// Input that exceeds a configured limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// More input bytes than `max_input_bytes`; nothing was decoded.
    #[error("input too large: at most {max_bytes} bytes allowed, found {bytes}")]
    InputTooLarge { bytes: u64, max_bytes: u64 },
    /// The header declares more pixels than `max_pixels`; no pixel buffer was allocated.
    #[error("too many pixels: at most {max_pixels} allowed, the header declares {width}x{height} = {pixels}")]
    TooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        max_pixels: u64,
    },
    /// A decoder needed more memory than the limits allow.
    #[error("decoding needs more memory than the limits allow: {detail}")]
    MemoryLimit { detail: String },
}

impl LimitError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::InputTooLarge { .. } => "input_too_large",
            LimitError::TooManyPixels { .. } => "too_many_pixels",
            LimitError::MemoryLimit { .. } => "memory_limit_exceeded",
        }
    }
}
