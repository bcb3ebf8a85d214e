//! Hostile input is bounded before anything proportional to it is allocated: the pixel
//! count the header declares, the allocation budget derived from it, and data shorter than
//! what its container declares.

use super::{DecodeOptions, ImageFormat};
use crate::error::{ContentError, LimitError};

/// The most bytes one decoded pixel can take before conversion to 8 bits (RGBA of f32).
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 16;

/// What decoders may allocate beyond the pixels, for metadata: PNG's compressed ICC profile
/// is the one place a small file can claim a large allocation (an iCCP chunk inflating to
/// gigabytes). ICC profiles are far smaller in practice; Pillow caps them at 1 MB.
const METADATA_ALLOWANCE_BYTES: u64 = 16 * 1024 * 1024;

/// The `image` crate's allocation limit for an image of `pixels` pixels.
pub(super) fn allocation_budget(pixels: u64) -> u64 {
    pixels
        .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
        .saturating_add(METADATA_ALLOWANCE_BYTES)
}

pub(super) fn check_pixel_count(
    width: u32,
    height: u32,
    options: &DecodeOptions,
) -> Result<(), LimitError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > options.max_pixels {
        return Err(LimitError::TooManyPixels {
            width,
            height,
            pixels,
            max_pixels: options.max_pixels,
        });
    }
    Ok(())
}

/// Walks the RIFF chunks of a WebP file (12-byte file header, then `fourcc`, little-endian
/// `size`, `size` bytes padded to even) and refuses a chunk that claims more bytes than follow.
pub(super) fn webp_chunks_fit(bytes: &[u8]) -> Result<(), ContentError> {
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let fourcc = String::from_utf8_lossy(&bytes[pos..pos + 4]).into_owned();
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as u64;
        let available = (bytes.len() - pos - 8) as u64;
        if size > available {
            return Err(ContentError::Truncated {
                format: ImageFormat::WebP.name(),
                detail: format!(
                    "chunk {fourcc:?} at byte {pos} declares {size} bytes, {available} follow"
                ),
            });
        }
        pos += 8 + size as usize + (size as usize & 1);
    }
    Ok(())
}

/// Whether the data ends before what the container itself declares: JPEG must reach its
/// end-of-image marker, WebP its RIFF size, BMP its header's file size. Checked before
/// decoding JPEG and WebP; for every format also after a decoder failed, since some decoders
/// report running out of data as a generic format error. BMP writers often leave the file
/// size wrong, so it is only used to explain a failure.
pub(super) fn declared_length_exceeds_data(
    format: ImageFormat,
    bytes: &[u8],
) -> Option<ContentError> {
    let declared = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let truncated = |detail: String| {
        Some(ContentError::Truncated {
            format: format.name(),
            detail,
        })
    };
    let len = bytes.len() as u64;
    match format {
        ImageFormat::Jpeg => super::jpeg::check_complete(bytes).err(),
        // RIFF: the chunk size after "RIFF" counts the bytes after the first 8.
        ImageFormat::WebP => match declared(4) {
            Some(size) if size + 8 > len => truncated(format!(
                "the RIFF header declares {} bytes, found {len}",
                size + 8
            )),
            _ => None,
        },
        // BITMAPFILEHEADER: the file size at offset 2.
        ImageFormat::Bmp => match declared(2) {
            Some(size) if size > len => truncated(format!(
                "the file header declares {size} bytes, found {len}"
            )),
            _ => None,
        },
        ImageFormat::Png | ImageFormat::Gif | ImageFormat::Tiff => None,
    }
}

fn u16_le(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 2)
        .map(|v| u32::from(u16::from_le_bytes([v[0], v[1]])))
}
fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}
fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
}
fn u24_le(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 3)
        .map(|v| u32::from_le_bytes([v[0], v[1], v[2], 0]))
}

/// (width, height) as the header declares them, read straight from the header bytes without
/// a decoder, for the formats where they sit at a known place. `None` when the header is too
/// short or not laid out as expected: the decoder then reads the dimensions (and reports the
/// error).
pub(super) fn declared_dimensions(format: ImageFormat, b: &[u8]) -> Option<(u32, u32)> {
    match format {
        // The signature, then the IHDR chunk: length 13, type, width, height.
        ImageFormat::Png => (b.get(12..16)? == b"IHDR").then_some((u32_be(b, 16)?, u32_be(b, 20)?)),
        // The logical screen descriptor after the 6-byte signature.
        ImageFormat::Gif => Some((u16_le(b, 6)?, u16_le(b, 8)?)),
        // BITMAPFILEHEADER (14 bytes), then the info header: OS/2 core headers (size 12)
        // have 16-bit dimensions, the others 32-bit with a negative height for top-down.
        ImageFormat::Bmp => match u32_le(b, 14)? {
            12 => Some((u16_le(b, 18)?, u16_le(b, 20)?)),
            _ => Some((u32_le(b, 18)?, (u32_le(b, 22)? as i32).unsigned_abs())),
        },
        ImageFormat::WebP => match b.get(12..16)? {
            // Lossy: frame tag (3 bytes) and start code (3 bytes), then 14-bit sizes.
            b"VP8 " => Some((u16_le(b, 26)? & 0x3FFF, u16_le(b, 28)? & 0x3FFF)),
            // Lossless: signature byte, then 14-bit width - 1 and height - 1.
            b"VP8L" => {
                let bits = u32_le(b, 21)?;
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            // Extended: flags (4 bytes), then 24-bit canvas width - 1 and height - 1.
            b"VP8X" => Some((u24_le(b, 24)? + 1, u24_le(b, 27)? + 1)),
            _ => None,
        },
        ImageFormat::Jpeg => super::jpeg::frame_dimensions(b),
        // TIFF keeps them in a directory anywhere in the file; its decoder reads them
        // without allocating by them.
        ImageFormat::Tiff => None,
    }
}
