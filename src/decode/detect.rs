//! The format of an image file, from its leading bytes (its signature), never from a name.

use crate::error::ContentError;

/// A file format this crate decodes, as detected from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    WebP,
    Bmp,
    Tiff,
}

impl ImageFormat {
    /// A stable lower-case name: `jpeg`, `png`, `gif`, `webp`, `bmp`, `tiff`.
    pub const fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Gif => "gif",
            ImageFormat::WebP => "webp",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Tiff => "tiff",
        }
    }

    pub(super) fn from_image(format: image::ImageFormat) -> Option<Self> {
        match format {
            image::ImageFormat::Jpeg => Some(ImageFormat::Jpeg),
            image::ImageFormat::Png => Some(ImageFormat::Png),
            image::ImageFormat::Gif => Some(ImageFormat::Gif),
            image::ImageFormat::WebP => Some(ImageFormat::WebP),
            image::ImageFormat::Bmp => Some(ImageFormat::Bmp),
            image::ImageFormat::Tiff => Some(ImageFormat::Tiff),
            _ => None,
        }
    }

    pub(super) fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Gif => image::ImageFormat::Gif,
            ImageFormat::WebP => image::ImageFormat::WebP,
            ImageFormat::Bmp => image::ImageFormat::Bmp,
            ImageFormat::Tiff => image::ImageFormat::Tiff,
        }
    }
}

/// The format from the leading bytes (the `image` crate's signature table).
pub(super) fn detect_format(bytes: &[u8]) -> Result<ImageFormat, ContentError> {
    match image::guess_format(bytes) {
        #[cfg(not(feature = "tiff"))]
        Ok(image::ImageFormat::Tiff) => Err(ContentError::UnsupportedFormat {
            found: "a TIFF file".to_string(),
        }),
        Ok(f) => ImageFormat::from_image(f).ok_or_else(|| ContentError::UnsupportedFormat {
            found: format!(
                "a {} file",
                f.extensions_str()
                    .first()
                    .copied()
                    .unwrap_or("different image")
                    .to_ascii_uppercase()
            ),
        }),
        Err(_) => Err(ContentError::UnsupportedFormat {
            found: describe_bytes(bytes),
        }),
    }
}

/// A short description of unrecognised bytes for an error message.
pub(super) fn describe_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(32)];
    let is_text = head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if is_text {
        let shown = String::from_utf8_lossy(&head[..head.len().min(16)]).into_owned();
        let more = if bytes.len() > 16 { "..." } else { "" };
        return format!("text starting {shown:?}{more}");
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 8 { " ..." } else { "" };
    format!("bytes {}{more}", hex.join(" "))
}
