//! Bytes of an image file -> tightly packed 8-bit pixels, ready for a [`PixelView`].
//!
//! Input: the bytes of a JPEG, PNG, GIF, WebP, BMP or TIFF file; the format is detected from
//! the bytes (their signature), never from a file name. Output: a [`DecodedImage`] owning
//! `Rgb8`, `Rgba8` or `Gray8` pixels, with the detected format and the EXIF orientation tag.
//!
//! JPEG is decoded by our own decoder (`jpeg`), which gives libjpeg-turbo's pixels as Pillow
//! does, and the JPEG files it leaves out by zune-jpeg (where the build has it); every other
//! format by the pure-Rust decoders of the `image` crate. The same code runs natively and in
//! WebAssembly. Conversions to 8 bits follow what Pillow, which the reference hashing tools
//! use, produces for the same file (`docs/decoding.md` has the details and the measured
//! distance to the reference hashes):
//!
//! - palette images are expanded to RGB (or RGBA when the palette has transparency);
//! - 16-bit RGB, RGBA and grey+alpha keep the high byte of each sample (Pillow's `;16B` raw
//!   modes); 16-bit grey is clipped to 255, as Pillow's `I;16` -> `L` conversion does;
//! - CMYK JPEG is read with Adobe's inverted polarity and converted as Pillow's `cmyk2rgb`
//!   does (`R = round(C' * K' / 255)` on the stored, inverted samples); CMYK TIFF is read
//!   as stored and converted by the same `cmyk2rgb`;
//! - alpha is ignored by default (the stored RGB is kept, as the reference hashes it), or
//!   composited over white or black ([`AlphaPolicy`]);
//! - the EXIF orientation is reported and, by default, not applied ([`OrientationPolicy`]);
//! - GIF: the first frame.
//!
//! Hostile input is bounded: the input size is checked before anything is parsed, and the
//! pixel count declared by the header is checked before any pixel buffer is allocated
//! ([`DecodeOptions::max_pixels`]); the `image` crate's allocation limit is set from the
//! declared pixel count plus a fixed allowance for metadata.
//!
//! One file per concern: `options` (policies and limits), `detect` (the format), `limits`
//! (what the header declares, checked first), `convert` (Pillow's conversions), `orient`
//! (EXIF orientation), `error` (error mapping), `sink` (where rows go), and one per decoder
//! beyond the `image` crate's: `jpeg`, `zune` (zune-jpeg) and `tiff` (CMYK TIFF).

mod convert;
mod detect;
mod error;
pub(crate) mod jpeg;
mod limits;
mod options;
mod orient;
pub(crate) mod sink;
#[cfg(feature = "tiff")]
mod tiff;
#[cfg(feature = "zune-jpeg")]
mod zune;

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use crate::error::{ContentError, Error, LimitError};
use crate::pixels::{PixelFormat, PixelView};

pub use detect::ImageFormat;
pub use options::{
    AlphaPolicy, DecodeOptions, OrientationPolicy, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_PIXELS,
};
pub use orient::Orientation;

use convert::to_8bit;
use detect::detect_format;
use error::{corrupt, image_error};
use limits::{
    allocation_budget, check_pixel_count, declared_dimensions, declared_length_exceeds_data,
    webp_chunks_fit,
};
use orient::{orient, read_orientation};
use sink::RowSink;

/// A decoded image: tightly packed 8-bit pixels and what was learnt from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    pixel_format: PixelFormat,
    source_format: ImageFormat,
    orientation: Option<Orientation>,
}

impl DecodedImage {
    /// Width in pixels (non-zero), after orientation if it was applied.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels (non-zero), after orientation if it was applied.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Layout of [`DecodedImage::pixels`].
    pub fn pixel_format(&self) -> PixelFormat {
        self.pixel_format
    }

    /// The file format detected from the bytes.
    pub fn source_format(&self) -> ImageFormat {
        self.source_format
    }

    /// The EXIF orientation tag found in the file, whether or not it was applied. `None` when
    /// the file has none or its value is outside 1..=8. For TIFF the tag is read from the
    /// TIFF directory, where a tag of 1 cannot be told from an absent one and reads as `None`.
    pub fn orientation(&self) -> Option<Orientation> {
        self.orientation
    }

    /// The pixels, rows top to bottom, no padding.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel buffer, without copying.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// A view for the hashing functions (the buffer was checked against the dimensions when
    /// the image was made).
    pub fn view(&self) -> PixelView<'_> {
        PixelView::packed(&self.pixels, self.width, self.height, self.pixel_format)
            .expect("dimensions and buffer length were validated when decoding")
    }
}

/// What [`decode_rows`] made of the file.
pub(crate) enum Decoded {
    /// The decoder gave its rows to the sink, in the stored orientation.
    Rows(RowsInfo),
    /// The whole image; the sink's rows, if any, are to be ignored (a decoder that emits no
    /// rows, a fallback after a refusal, or an orientation to apply).
    Image(DecodedImage),
}

/// What was learnt from a file whose rows went to a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowsInfo {
    pub width: u32,
    pub height: u32,
    pub source_format: ImageFormat,
    pub orientation: Option<Orientation>,
}

/// Decodes the bytes of an image file. See the module documentation for the conversions and
/// [`DecodeOptions`] for the policies and limits.
///
/// # Errors
/// [`Error::Content`] when the bytes are empty, not a supported format, truncated or
/// corrupt; [`Error::Limit`] when the input or the declared pixel count exceeds the limits.
///
/// # Example
/// ```
/// use pixelprint::{decode, pdq_hash, DecodeOptions, Digests};
///
/// let bytes = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/decode/rgb.bmp"));
/// let image = decode(bytes, &DecodeOptions::default())?;
/// assert_eq!((image.width(), image.height(), image.source_format().name()), (24, 16, "bmp"));
/// let pdq = pdq_hash(&image.view());
/// let digests = Digests::of(bytes);
/// println!("{} {} {}", pdq.hash.to_hex(), pdq.quality, digests.sha256);
///
/// let err = decode(b"not an image", &DecodeOptions::default()).unwrap_err();
/// assert_eq!(err.code(), "unsupported_format");
/// # Ok::<(), pixelprint::Error>(())
/// ```
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, Error> {
    let mut kept = sink::Pixels::default();
    match decode_rows(bytes, options, &mut kept)? {
        Decoded::Image(image) => Ok(image),
        Decoded::Rows(info) => {
            let format = info.source_format;
            let (pixels, pixel_format) = kept
                .into_parts()
                .ok_or_else(|| corrupt(format, "the decoder gave no rows".into()))?;
            packed(
                pixels,
                info.width,
                info.height,
                pixel_format,
                format,
                info.orientation,
            )
        }
    }
}

/// [`decode`], the decoder's rows going to `sink` where the decoder emits rows (our JPEG
/// decoder, orientation not applied); every other file decodes as by [`decode`].
pub(crate) fn decode_rows(
    bytes: &[u8],
    options: &DecodeOptions,
    sink: &mut dyn RowSink,
) -> Result<Decoded, Error> {
    if bytes.is_empty() {
        return Err(ContentError::EmptyInput.into());
    }
    let len = bytes.len() as u64;
    if len > options.max_input_bytes {
        return Err(LimitError::InputTooLarge {
            bytes: len,
            max_bytes: options.max_input_bytes,
        }
        .into());
    }
    let format = detect_format(bytes)?;
    if format == ImageFormat::WebP {
        // image-webp allocates a metadata chunk (EXIF, ICCP, XMP) at the size it declares
        // before reading it: a chunk claiming 4 GiB in a 100-byte file must be refused first.
        webp_chunks_fit(bytes)?;
    }
    let fail = |e: ImageError| match declared_length_exceeds_data(format, bytes) {
        Some(truncated) => truncated.into(),
        None => image_error(format, e),
    };

    // Dimensions from our own header parse, before any decoder exists: some decoders size
    // buffers while reading their header, and in 32-bit WebAssembly a claimed size over
    // isize::MAX then fails as an allocation error instead of as too many pixels.
    let declared = declared_dimensions(format, bytes);
    if let Some((width, height)) = declared {
        check_pixel_count(width, height, options)?;
    }
    // Allocation limit: from the declared size where the header told it (the PNG decoder
    // takes its limit only here), else from max_pixels, then tightened below.
    let limits = |pixels: u64| {
        let mut limits = image::Limits::no_limits();
        limits.max_alloc = Some(allocation_budget(pixels));
        limits
    };
    if format == ImageFormat::Jpeg {
        // JPEG goes to our own decoder (`jpeg`), then, for what it leaves out, to
        // zune-jpeg directly (the decoder the image crate would use, with the same options:
        // the image crate's wrapper instantiates the decoder twice).
        if let Some(truncated) = declared_length_exceeds_data(format, bytes) {
            return Err(truncated.into());
        }
        // Our decoder gives libjpeg-turbo's pixels (Pillow's); the files it does not cover
        // (see `jpeg`) go to zune-jpeg where the build has it.
        let pixels = declared.map_or(options.max_pixels, |(w, h)| u64::from(w) * u64::from(h));
        let budget = allocation_budget(pixels);
        // With the orientation applied, rows must be turned before anything reads them: the
        // decoder's rows are kept here and the whole image is turned.
        let apply = options.orientation == OrientationPolicy::Apply;
        let mut kept = sink::Pixels::default();
        let target: &mut dyn RowSink = if apply { &mut kept } else { &mut *sink };
        let refusal = match jpeg::decode(bytes, target, options.max_pixels, budget) {
            Ok(d) => {
                let orientation = d
                    .exif
                    .as_deref()
                    .and_then(image::metadata::Orientation::from_exif_chunk)
                    .map(Orientation::from_image);
                let (w, h) = (d.width, d.height);
                if !apply {
                    return Ok(Decoded::Rows(RowsInfo {
                        width: w,
                        height: h,
                        source_format: format,
                        orientation,
                    }));
                }
                let (pixels, _) = kept
                    .into_parts()
                    .ok_or_else(|| corrupt(format, "the decoder gave no rows".into()))?;
                let image = if d.grey {
                    image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::from)
                } else {
                    image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::from)
                };
                let image = image.ok_or_else(|| corrupt(format, "decoded size mismatch".into()))?;
                return finish(image, format, orientation, options).map(Decoded::Image);
            }
            Err(refusal) => refusal,
        };
        if let jpeg::Refusal::TooManyPixels(w, h) = refusal {
            check_pixel_count(w, h, options)?;
        }
        let refused = match refusal {
            jpeg::Refusal::Unsupported(what) => ContentError::UnsupportedFeature {
                format: "jpeg",
                detail: what.to_string(),
            }
            .into(),
            jpeg::Refusal::Memory => LimitError::MemoryLimit {
                detail: "the JPEG decoder's buffers would exceed the allocation limit".into(),
            }
            .into(),
            _ => corrupt(
                format,
                "malformed marker segments or entropy-coded data".into(),
            ),
        };
        #[cfg(not(feature = "zune-jpeg"))]
        return Err(refused);
        #[cfg(feature = "zune-jpeg")]
        {
            // A feature ours leaves out and zune-jpeg too is reported as ours names it.
            let unsupported = matches!(refusal, jpeg::Refusal::Unsupported(_));
            let (image, orientation) = match zune::decode(bytes, options, fail) {
                Ok(decoded) => decoded,
                Err(_) if unsupported => return Err(refused),
                Err(e) => return Err(e),
            };
            return finish(image, format, orientation, options).map(Decoded::Image);
        }
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image());
    reader.limits(limits(
        declared.map_or(options.max_pixels, |(w, h)| u64::from(w) * u64::from(h)),
    ));
    // Reads the header only: nothing proportional to the pixel count is allocated yet.
    let mut decoder = reader.into_decoder().map_err(fail)?;

    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(corrupt(
            format,
            format!("the header declares {width}x{height} pixels"),
        ));
    }
    check_pixel_count(width, height, options)?;
    let pixels = u64::from(width) * u64::from(height);
    decoder.set_limits(limits(pixels)).map_err(fail)?;
    let orientation = read_orientation(&mut decoder, format);
    // zune-jpeg fills missing data with grey, and image-webp may decode a cut file, instead
    // of failing: refuse data shorter than the container says, as Pillow does (it reports
    // "image file is truncated" for a JPEG missing only its EOI, and fails on a cut WebP).
    if matches!(format, ImageFormat::Jpeg | ImageFormat::WebP) {
        if let Some(truncated) = declared_length_exceeds_data(format, bytes) {
            return Err(truncated.into());
        }
    }

    // The image crate converts CMYK TIFF with its own rounding; read the raw samples to
    // convert them as Pillow does.
    #[cfg(feature = "tiff")]
    if format == ImageFormat::Tiff
        && matches!(
            decoder.original_color_type(),
            image::ExtendedColorType::Cmyk8 | image::ExtendedColorType::Cmyk16
        )
    {
        drop(decoder);
        let image = tiff::decode(bytes, allocation_budget(pixels))?;
        return finish(image, format, orientation, options).map(Decoded::Image);
    }
    let image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    finish(image, format, orientation, options).map(Decoded::Image)
}

/// The decoded image in one of the three 8-bit layouts, the orientation applied if asked.
fn finish(
    image: DynamicImage,
    format: ImageFormat,
    orientation: Option<Orientation>,
    options: &DecodeOptions,
) -> Result<DecodedImage, Error> {
    let (pixel_format, image) = to_8bit(image, options.alpha);
    let (mut width, mut height) = (image.width(), image.height());
    let mut pixels = image.into_bytes();
    if let (OrientationPolicy::Apply, Some(o)) = (options.orientation, orientation) {
        (pixels, width, height) = orient(&pixels, width, height, pixel_format.bytes_per_pixel(), o);
    }
    packed(pixels, width, height, pixel_format, format, orientation)
}

/// The image, once its buffer is checked against its dimensions (so that
/// [`DecodedImage::view`] cannot fail).
fn packed(
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    pixel_format: PixelFormat,
    format: ImageFormat,
    orientation: Option<Orientation>,
) -> Result<DecodedImage, Error> {
    PixelView::packed(&pixels, width, height, pixel_format).map_err(|e| {
        corrupt(
            format,
            format!("decoder output does not match its dimensions: {e}"),
        )
    })?;
    Ok(DecodedImage {
        pixels,
        width,
        height,
        pixel_format,
        source_format: format,
        orientation,
    })
}

#[cfg(test)]
mod tests {
    use super::convert::composite;
    #[cfg(feature = "tiff")]
    use super::convert::pillow_cmyk_to_rgb;
    use super::detect::describe_bytes;
    use super::*;

    #[test]
    fn composite_matches_its_documented_formula() {
        assert_eq!(
            composite(200, 128, 255),
            ((200 * 128 + 255 * 127 + 127) / 255) as u8
        );
        assert_eq!(composite(200, 128, 0), ((200 * 128 + 127) / 255) as u8);
        for c in 0..=255u8 {
            assert_eq!(composite(c, 255, 0), c, "opaque keeps the colour");
            assert_eq!(composite(c, 255, 255), c, "opaque keeps the colour");
            assert_eq!(
                composite(c, 0, 255),
                255,
                "transparent shows the background"
            );
            assert_eq!(composite(c, 0, 0), 0, "transparent shows the background");
        }
        // Rounds to nearest: the exact value 64.25 -> 64, 127.5 cannot occur.
        for c in 0..=255u32 {
            for a in 0..=255u32 {
                let exact = (c * a + 255 * (255 - a)) as f64 / 255.0;
                assert_eq!(composite(c as u8, a as u8, 255), exact.round() as u8);
            }
        }
    }

    /// Pillow's cmyk2rgb on inverted (Adobe) samples equals zune-jpeg's CMYK conversion
    /// `round(C' * K' / 255)`, which the CMYK JPEG path relies on.
    #[test]
    #[cfg(feature = "tiff")]
    fn pillow_cmyk_conversion_equals_the_rounded_product_on_inverted_samples() {
        for c in 0..=255u8 {
            for k in 0..=255u8 {
                let product = ((u32::from(c) * u32::from(k)) as f64 / 255.0).round() as u8;
                assert_eq!(
                    pillow_cmyk_to_rgb(255 - c, 0, 0, 255 - k)[0],
                    product,
                    "C'={c} K'={k}"
                );
            }
        }
    }

    #[test]
    fn orient_equals_the_image_crates_apply_orientation() {
        let (w, h) = (5u32, 3u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        for tag in 1..=8u16 {
            let o = Orientation::from_tag(tag).unwrap();
            let mut want =
                DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb.clone()).unwrap());
            want.apply_orientation(o.to_image());
            let (got, gw, gh) = orient(&rgb, w, h, 3, o);
            assert_eq!((gw, gh), (want.width(), want.height()), "tag {tag}");
            assert_eq!(got, want.into_bytes(), "tag {tag}");
        }
    }

    #[test]
    fn orientation_tags_round_trip() {
        for tag in 1..=8u16 {
            let o = Orientation::from_tag(tag).unwrap();
            assert_eq!(u16::from(o.tag()), tag);
            assert_eq!(Orientation::from_image(o.to_image()), o);
        }
        assert_eq!(Orientation::from_tag(0), None);
        assert_eq!(Orientation::from_tag(9), None);
    }

    /// The header parse must agree with the decoders on real files of each layout.
    #[test]
    fn header_dimensions_equal_the_decoded_dimensions() {
        let files: &[(&str, &[u8])] = &[
            (
                "png",
                include_bytes!("../../tests/vectors/decode/rgb16.png"),
            ),
            (
                "palette png",
                include_bytes!("../../tests/vectors/decode/palette.png"),
            ),
            (
                "gif",
                include_bytes!("../../tests/vectors/decode/two-frames.gif"),
            ),
            ("bmp", include_bytes!("../../tests/vectors/decode/rgb.bmp")),
            (
                "lossless webp",
                include_bytes!("../../tests/vectors/decode/lossless.webp"),
            ),
            (
                "lossy webp",
                include_bytes!("../../tests/vectors/pdq/misc-images/modes/F.webp"),
            ),
            (
                "cmyk jpeg",
                include_bytes!("../../tests/vectors/decode/cmyk.jpg"),
            ),
            (
                "progressive jpeg",
                include_bytes!("../../tests/vectors/pdq/misc-images/wee.jpg"),
            ),
            (
                "exif jpeg",
                include_bytes!("../../tests/vectors/pdq/reg-test-input/labelme-subset/q0122.jpg"),
            ),
        ];
        for (what, bytes) in files {
            let format = detect_format(bytes).unwrap();
            let image = decode(bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(
                declared_dimensions(format, bytes),
                Some((image.width(), image.height())),
                "{what}"
            );
        }
    }

    #[test]
    fn unrecognised_bytes_are_described() {
        assert_eq!(describe_bytes(b"hello"), "text starting \"hello\"");
        assert_eq!(describe_bytes(&[0, 1, 2]), "bytes 00 01 02");
        assert_eq!(describe_bytes(&[0; 9]), "bytes 00 00 00 00 00 00 00 00 ...");
    }
}
