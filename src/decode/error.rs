//! The decoders' errors mapped onto the crate's groups ([`ContentError`], [`LimitError`]).

use image::ImageError;

use super::ImageFormat;
use crate::error::{ContentError, Error, LimitError};

pub(super) fn corrupt(format: ImageFormat, detail: String) -> Error {
    ContentError::Corrupt {
        format: format.name(),
        detail,
    }
    .into()
}

/// Maps the `image` crate's errors onto the crate's groups.
pub(super) fn image_error(format: ImageFormat, e: ImageError) -> Error {
    let name = format.name();
    match e {
        // Dimensions were checked before decoding; what remains is the allocation limit.
        ImageError::Limits(l) => LimitError::MemoryLimit {
            detail: l.to_string(),
        }
        .into(),
        ImageError::Unsupported(u) => ContentError::UnsupportedFeature {
            format: name,
            detail: u.to_string(),
        }
        .into(),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ContentError::Truncated {
                format: name,
                detail: "the data ends before the image does".to_string(),
            }
            .into()
        }
        other => {
            if is_truncation(&other) {
                ContentError::Truncated {
                    format: name,
                    detail: other.to_string(),
                }
                .into()
            } else {
                ContentError::Corrupt {
                    format: name,
                    detail: other.to_string(),
                }
                .into()
            }
        }
    }
}

/// Whether an error (or one it wraps) is an unexpected end of data: an I/O error of that
/// kind, or a decoder's message saying so (the gif crate reports "Unexpected End of File"
/// as a format error).
pub(super) fn is_truncation(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        let message = err.to_string().to_ascii_lowercase();
        if [
            "unexpected end of file",
            "unexpected eof",
            "not enough bytes",
            "no more bytes",
        ]
        .iter()
        .any(|m| message.contains(m))
        {
            return true;
        }
        current = err.source();
    }
    false
}
