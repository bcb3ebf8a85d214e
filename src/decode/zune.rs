//! JPEG through zune-jpeg, set up as the image crate sets it up (image 0.25,
//! `codecs/jpeg/decoder.rs`): lenient mode, RGB, RGBA, Luma and LumaA kept, every other
//! colour space (YCbCr, CMYK, YCCK) converted to RGB by zune-jpeg.

use image::error::{
    DecodingError, ImageFormatHint, LimitError, LimitErrorKind, UnsupportedError,
    UnsupportedErrorKind,
};
use image::{DynamicImage, ImageError};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::errors::DecodeErrors;

use super::limits::{allocation_budget, check_pixel_count};
use super::{DecodeOptions, Orientation};
use crate::error::Error;

fn error(e: DecodeErrors) -> ImageError {
    let hint = ImageFormatHint::Exact(image::ImageFormat::Jpeg);
    match e {
        DecodeErrors::Unsupported(desc) => {
            ImageError::Unsupported(UnsupportedError::from_format_and_kind(
                hint,
                UnsupportedErrorKind::GenericFeature(format!("{desc:?}")),
            ))
        }
        DecodeErrors::LargeDimensions(_) => {
            ImageError::Limits(LimitError::from_kind(LimitErrorKind::DimensionError))
        }
        e => ImageError::Decoding(DecodingError::new(hint, e)),
    }
}

/// Decodes to 8-bit pixels; the EXIF orientation tag, if any. Decoder errors go through
/// `fail`, the caller's mapping of image errors; limits are checked as for every format.
pub(super) fn decode(
    bytes: &[u8],
    options: &DecodeOptions,
    fail: impl Fn(ImageError) -> Error,
) -> Result<(DynamicImage, Option<Orientation>), Error> {
    let error = |e: DecodeErrors| fail(error(e));
    let settings = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), settings);
    decoder.decode_headers().map_err(error)?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| error(DecodeErrors::FormatStatic("no frame header")))?;
    let out = match decoder.input_colorspace() {
        Some(c @ (ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA)) => c,
        _ => ColorSpace::RGB,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let orientation = decoder
        .exif()
        .and_then(|exif| image::metadata::Orientation::from_exif_chunk(exif))
        .map(Orientation::from_image);

    let (w, h) = (width as u32, height as u32);
    // Usually checked already from our own header parse; this covers a frame header that
    // parse did not find.
    check_pixel_count(w, h, options)?;
    let pixels = u64::from(w) * u64::from(h);
    let len = pixels * out.num_components() as u64;
    if len > allocation_budget(pixels) {
        return Err(fail(ImageError::Limits(LimitError::from_kind(
            LimitErrorKind::InsufficientMemory,
        ))));
    }
    let mut buf = vec![0u8; len as usize];
    decoder.decode_into(&mut buf).map_err(error)?;
    let built = match out {
        ColorSpace::Luma => image::GrayImage::from_raw(w, h, buf).map(DynamicImage::from),
        ColorSpace::LumaA => image::GrayAlphaImage::from_raw(w, h, buf).map(DynamicImage::from),
        ColorSpace::RGBA => image::RgbaImage::from_raw(w, h, buf).map(DynamicImage::from),
        _ => image::RgbImage::from_raw(w, h, buf).map(DynamicImage::from),
    };
    let image = built.ok_or_else(|| {
        error(DecodeErrors::FormatStatic(
            "decoded size does not match the dimensions",
        ))
    })?;
    Ok((image, orientation))
}
