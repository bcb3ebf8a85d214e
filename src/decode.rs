//! Bytes of an image file -> tightly packed 8-bit pixels, ready for a [`PixelView`].
//!
//! Input: the bytes of a JPEG, PNG, GIF, WebP, BMP or TIFF file; the format is detected from
//! the bytes (their signature), never from a file name. Output: a [`DecodedImage`] owning
//! `Rgb8`, `Rgba8` or `Gray8` pixels, with the detected format and the EXIF orientation tag.
//!
//! Decoding uses the pure-Rust decoders of the `image` crate (JPEG: zune-jpeg), so the same
//! code runs natively and in WebAssembly. Conversions to 8 bits follow what Pillow, which the
//! reference hashing tools use, produces for the same file (`docs/decoding.md` has the
//! details and the measured distance to the reference hashes):
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

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use crate::error::{ContentError, Error, LimitError};
use crate::pixels::{PixelFormat, PixelView};

/// Default for [`DecodeOptions::max_pixels`]: 100 million pixels (e.g. 10000x10000), above
/// any camera photo in common use.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Default for [`DecodeOptions::max_input_bytes`]: 256 MiB, above any still image a camera
/// or phone writes, and small enough to hold in a browser tab.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// The most bytes one decoded pixel can take before conversion to 8 bits (RGBA of f32).
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 16;

/// What decoders may allocate beyond the pixels, for metadata: PNG's compressed ICC profile
/// is the one place a small file can claim a large allocation (an iCCP chunk inflating to
/// gigabytes). ICC profiles are far smaller in practice; Pillow caps them at 1 MB.
const METADATA_ALLOWANCE_BYTES: u64 = 16 * 1024 * 1024;

/// The `image` crate's allocation limit for an image of `pixels` pixels.
fn allocation_budget(pixels: u64) -> u64 {
    pixels
        .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
        .saturating_add(METADATA_ALLOWANCE_BYTES)
}

/// Whether to rotate or flip the pixels as the EXIF orientation tag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrientationPolicy {
    /// Keep the stored pixels (the tag is still reported). This is what the reference
    /// ecosystem hashes: python-threatexchange, HMA and the reference CLIs do not rotate.
    #[default]
    Ignore,
    /// Rotate and flip the pixels first, so the image is upright as a viewer shows it.
    Apply,
}

/// What to do with an alpha channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlphaPolicy {
    /// Keep the stored colour values and drop nothing: RGBA stays `Rgba8` (the hashes ignore
    /// alpha, as the reference does), grey+alpha becomes `Gray8` (its grey channel).
    #[default]
    Ignore,
    /// Composite over white: `out = (c * a + 255 * (255 - a) + 127) / 255` per channel, in
    /// integers (`c`, `a` in 0..=255; the `+ 127` makes the division round to nearest, and a
    /// tie cannot occur as 255 is odd). The result has no alpha (`Rgb8` or `Gray8`).
    OverWhite,
    /// Composite over black: `out = (c * a + 127) / 255`, otherwise as [`AlphaPolicy::OverWhite`].
    OverBlack,
}

impl AlphaPolicy {
    /// The background level for compositing, or `None` to keep the stored values.
    fn background(self) -> Option<u8> {
        match self {
            AlphaPolicy::Ignore => None,
            AlphaPolicy::OverWhite => Some(255),
            AlphaPolicy::OverBlack => Some(0),
        }
    }
}

/// How to decode: each policy with its documented default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DecodeOptions {
    /// Default [`OrientationPolicy::Ignore`].
    pub orientation: OrientationPolicy,
    /// Default [`AlphaPolicy::Ignore`].
    pub alpha: AlphaPolicy,
    /// Refuse images whose header declares more pixels than this, before allocating them.
    /// Default [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: u64,
    /// Refuse inputs longer than this many bytes, before parsing them.
    /// Default [`DEFAULT_MAX_INPUT_BYTES`].
    pub max_input_bytes: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            orientation: OrientationPolicy::default(),
            alpha: AlphaPolicy::default(),
            max_pixels: DEFAULT_MAX_PIXELS,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

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

    fn from_image(format: image::ImageFormat) -> Option<Self> {
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

    fn to_image(self) -> image::ImageFormat {
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

/// The EXIF orientation tag (values 1 to 8): how the stored pixels must be transformed to
/// show the image upright. Names say what [`OrientationPolicy::Apply`] does to the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orientation {
    /// 1: already upright.
    Normal = 1,
    /// 2: mirror left-right.
    FlipHorizontal = 2,
    /// 3: rotate 180 degrees.
    Rotate180 = 3,
    /// 4: mirror top-bottom.
    FlipVertical = 4,
    /// 5: rotate 90 degrees clockwise, then mirror left-right (transpose).
    Rotate90FlipHorizontal = 5,
    /// 6: rotate 90 degrees clockwise.
    Rotate90 = 6,
    /// 7: rotate 270 degrees clockwise, then mirror left-right (transverse).
    Rotate270FlipHorizontal = 7,
    /// 8: rotate 270 degrees clockwise (90 counter-clockwise).
    Rotate270 = 8,
}

impl Orientation {
    /// The orientation for an EXIF tag value; `None` outside 1..=8.
    pub const fn from_tag(tag: u16) -> Option<Self> {
        Some(match tag {
            1 => Orientation::Normal,
            2 => Orientation::FlipHorizontal,
            3 => Orientation::Rotate180,
            4 => Orientation::FlipVertical,
            5 => Orientation::Rotate90FlipHorizontal,
            6 => Orientation::Rotate90,
            7 => Orientation::Rotate270FlipHorizontal,
            8 => Orientation::Rotate270,
            _ => return None,
        })
    }

    /// The EXIF tag value, 1 to 8.
    pub const fn tag(self) -> u8 {
        self as u8
    }

    fn from_image(o: image::metadata::Orientation) -> Self {
        use image::metadata::Orientation as I;
        match o {
            I::NoTransforms => Orientation::Normal,
            I::FlipHorizontal => Orientation::FlipHorizontal,
            I::Rotate180 => Orientation::Rotate180,
            I::FlipVertical => Orientation::FlipVertical,
            I::Rotate90FlipH => Orientation::Rotate90FlipHorizontal,
            I::Rotate90 => Orientation::Rotate90,
            I::Rotate270FlipH => Orientation::Rotate270FlipHorizontal,
            I::Rotate270 => Orientation::Rotate270,
        }
    }

    #[cfg(test)]
    fn to_image(self) -> image::metadata::Orientation {
        use image::metadata::Orientation as I;
        match self {
            Orientation::Normal => I::NoTransforms,
            Orientation::FlipHorizontal => I::FlipHorizontal,
            Orientation::Rotate180 => I::Rotate180,
            Orientation::FlipVertical => I::FlipVertical,
            Orientation::Rotate90FlipHorizontal => I::Rotate90FlipH,
            Orientation::Rotate90 => I::Rotate90,
            Orientation::Rotate270FlipHorizontal => I::Rotate270FlipH,
            Orientation::Rotate270 => I::Rotate270,
        }
    }
}

/// A decoded image: tightly packed 8-bit pixels and what was learnt from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    pixel_format: PixelFormat,
    source_format: ImageFormat,
    orientation: Option<Orientation>,
    /// Pillow's grey image of RGB pixels, when the decoder made it alongside them.
    grey: Option<Vec<u8>>,
    /// PDQ computed from the decoder's rows ([`decode_for`] with `pdq_rows`): the pixels are
    /// then Pillow's grey image, or none at all (empty, and not to be viewed) when nothing
    /// else needs them. The public [`decode`] never returns such an image.
    pdq: Option<crate::jpeg::PdqDone>,
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

    /// A view for the hashing functions.
    pub fn view(&self) -> PixelView<'_> {
        PixelView::packed(&self.pixels, self.width, self.height, self.pixel_format)
            .expect("dimensions and buffer length were validated when decoding")
    }

    /// Pillow's grey image (`convert("L")`) of the pixels, if the decoder made it.
    pub(crate) fn take_grey(&mut self) -> Option<Vec<u8>> {
        self.grey.take()
    }

    /// PDQ's outputs, if the decoder computed them from its rows (see the field).
    pub(crate) fn take_pdq(&mut self) -> Option<crate::jpeg::PdqDone> {
        self.pdq.take()
    }
}

/// The PDQ hashes [`decode_for`]'s caller wants, which the JPEG decoder can compute from its
/// rows as it makes them instead of keeping the RGB image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PdqRows {
    pub plain: bool,
    pub dihedral: bool,
}

/// What [`decode_for`]'s caller will do with the pixels, so that the JPEG decoder makes what
/// is needed while each row is in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PixelUse {
    /// Anything: RGB (or grey, RGBA) as [`decode`] gives them.
    Any,
    /// The pixels and also Pillow's grey image of them (PDQ and the imagehash family).
    AlsoGrey,
    /// Only Pillow's grey image (the imagehash family alone): a JPEG may come out `Gray8`.
    GreyOnly,
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
    decode_for(bytes, options, PixelUse::Any, None)
}

/// [`decode`], making what `usage` says alongside or instead of RGB where the decoder can
/// (JPEG); every other format decodes as by [`decode`].
pub(crate) fn decode_for(
    bytes: &[u8],
    options: &DecodeOptions,
    usage: PixelUse,
    pdq_rows: Option<PdqRows>,
) -> Result<DecodedImage, Error> {
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
    let declared = header::dimensions(format, bytes);
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
        // JPEG goes to our own decoder (`crate::jpeg`), then, for what it leaves out, to
        // zune-jpeg directly (the decoder the image crate would use, with the same options:
        // the image crate's wrapper instantiates the decoder twice).
        if let Some(truncated) = declared_length_exceeds_data(format, bytes) {
            return Err(truncated.into());
        }
        // Our decoder gives libjpeg-turbo's pixels (Pillow's); the files it does not cover
        // (see `crate::jpeg`) go to zune-jpeg where the build has it.
        let pixels = declared.map_or(options.max_pixels, |(w, h)| u64::from(w) * u64::from(h));
        let want = match usage {
            PixelUse::Any => crate::jpeg::Want::Rgb,
            PixelUse::AlsoGrey => crate::jpeg::Want::RgbAndGrey,
            PixelUse::GreyOnly => crate::jpeg::Want::Grey,
        };
        let budget = allocation_budget(pixels);
        let apply = options.orientation == OrientationPolicy::Apply;
        let request = pdq_rows.map(|r| crate::jpeg::PdqRequest {
            plain: r.plain,
            dihedral: r.dihedral,
            upright_only: apply,
        });
        let refusal = match crate::jpeg::decode(bytes, want, request, options.max_pixels, budget) {
            Ok(d) => {
                let orientation = d
                    .exif
                    .as_deref()
                    .and_then(image::metadata::Orientation::from_exif_chunk)
                    .map(Orientation::from_image);
                let (w, h) = (d.width, d.height);
                if let Some(done) = d.pdq {
                    if apply && crate::jpeg::rotates(d.exif.as_deref()) {
                        // An EXIF segment after the first scan turns the image: PDQ saw the
                        // stored rows. Decode again, keeping the pixels to turn.
                        return decode_for(bytes, options, usage, None);
                    }
                    return Ok(DecodedImage {
                        pixels: d.pixels,
                        width: w,
                        height: h,
                        pixel_format: PixelFormat::Gray8,
                        source_format: format,
                        orientation,
                        grey: None,
                        pdq: Some(done),
                    });
                }
                let image = if d.grey {
                    image::GrayImage::from_raw(w, h, d.pixels).map(DynamicImage::from)
                } else {
                    image::RgbImage::from_raw(w, h, d.pixels).map(DynamicImage::from)
                };
                let image = image.ok_or_else(|| corrupt(format, "decoded size mismatch".into()))?;
                let mut decoded = finish(image, format, orientation, options)?;
                if let Some(grey) = d.grey_image {
                    decoded.grey = Some(match (options.orientation, orientation) {
                        (OrientationPolicy::Apply, Some(o)) => orient(&grey, w, h, 1, o).0,
                        _ => grey,
                    });
                }
                return Ok(decoded);
            }
            Err(refusal) => refusal,
        };
        if let crate::jpeg::Refusal::TooManyPixels(w, h) = refusal {
            check_pixel_count(w, h, options)?;
        }
        let refused = match refusal {
            crate::jpeg::Refusal::Unsupported(what) => ContentError::UnsupportedFeature {
                format: "jpeg",
                detail: what.to_string(),
            }
            .into(),
            crate::jpeg::Refusal::Memory => LimitError::MemoryLimit {
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
            let unsupported = matches!(refusal, crate::jpeg::Refusal::Unsupported(_));
            let (image, orientation) = match zune::decode(bytes, options, fail) {
                Ok(decoded) => decoded,
                Err(_) if unsupported => return Err(refused),
                Err(e) => return Err(e),
            };
            return finish(image, format, orientation, options);
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
        let image = tiff_cmyk::decode(bytes, allocation_budget(pixels))?;
        return finish(image, format, orientation, options);
    }
    let image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    finish(image, format, orientation, options)
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
        grey: None,
        pdq: None,
    })
}

/// Packed pixels of `bpp` bytes transformed as the EXIF orientation says (what the image
/// crate's `apply_orientation` does, in a few lines instead of its per-layout generic code,
/// which is larger in the WebAssembly module). Returns the pixels and the new width and height.
fn orient(
    pixels: &[u8],
    width: u32,
    height: u32,
    bpp: usize,
    o: Orientation,
) -> (Vec<u8>, u32, u32) {
    let (w, h) = (width as usize, height as usize);
    let transposed = matches!(
        o,
        Orientation::Rotate90FlipHorizontal
            | Orientation::Rotate90
            | Orientation::Rotate270FlipHorizontal
            | Orientation::Rotate270
    );
    let (out_w, out_h) = if transposed { (h, w) } else { (w, h) };
    // The source pixel of output pixel (x, y).
    let source = |x: usize, y: usize| -> (usize, usize) {
        match o {
            Orientation::Normal => (x, y),
            Orientation::FlipHorizontal => (w - 1 - x, y),
            Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
            Orientation::FlipVertical => (x, h - 1 - y),
            Orientation::Rotate90FlipHorizontal => (y, x),
            Orientation::Rotate90 => (y, h - 1 - x),
            Orientation::Rotate270FlipHorizontal => (w - 1 - y, h - 1 - x),
            Orientation::Rotate270 => (w - 1 - y, x),
        }
    };
    let mut out = Vec::with_capacity(pixels.len());
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = source(x, y);
            let at = (sy * w + sx) * bpp;
            out.extend_from_slice(&pixels[at..at + bpp]);
        }
    }
    let (out_w, out_h) = if transposed {
        (height, width)
    } else {
        (width, height)
    };
    (out, out_w, out_h)
}

fn check_pixel_count(width: u32, height: u32, options: &DecodeOptions) -> Result<(), LimitError> {
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

/// The format from the leading bytes (the `image` crate's signature table).
fn detect_format(bytes: &[u8]) -> Result<ImageFormat, ContentError> {
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
fn describe_bytes(bytes: &[u8]) -> String {
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

/// The EXIF orientation tag, if the file has a valid one. Unreadable metadata is not an
/// error: the pixels may still decode, and the tag is then reported absent.
fn read_orientation(decoder: &mut impl ImageDecoder, format: ImageFormat) -> Option<Orientation> {
    if format == ImageFormat::Tiff {
        // TIFF keeps the tag in its own directory, not in an EXIF block.
        return match decoder.orientation().ok()? {
            image::metadata::Orientation::NoTransforms => None,
            o => Some(Orientation::from_image(o)),
        };
    }
    let exif = decoder.exif_metadata().ok()??;
    image::metadata::Orientation::from_exif_chunk(&exif).map(Orientation::from_image)
}

fn corrupt(format: ImageFormat, detail: String) -> Error {
    ContentError::Corrupt {
        format: format.name(),
        detail,
    }
    .into()
}

/// Whether the data ends before what the container itself declares: JPEG must reach its
/// end-of-image marker, WebP its RIFF size, BMP its header's file size. Checked before
/// decoding JPEG and WebP; for every format also after a decoder failed, since some decoders
/// Walks the RIFF chunks of a WebP file (12-byte file header, then `fourcc`, little-endian
/// `size`, `size` bytes padded to even) and refuses a chunk that claims more bytes than follow.
fn webp_chunks_fit(bytes: &[u8]) -> Result<(), ContentError> {
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

/// report running out of data as a generic format error. BMP writers often leave the file
/// size wrong, so it is only used to explain a failure.
fn declared_length_exceeds_data(format: ImageFormat, bytes: &[u8]) -> Option<ContentError> {
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
        ImageFormat::Jpeg => jpeg::check_complete(bytes).err(),
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

/// Maps the `image` crate's errors onto the crate's groups.
fn image_error(format: ImageFormat, e: ImageError) -> Error {
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
fn is_truncation(e: &(dyn std::error::Error + 'static)) -> bool {
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

/// Converts any decoded image to one of the three 8-bit layouts, as Pillow does (see the
/// module documentation), applying the alpha policy.
fn to_8bit(image: DynamicImage, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    use image::{GrayImage, RgbImage, RgbaImage};
    let (w, h) = (image.width(), image.height());
    let high_byte = |v: Vec<u16>| -> Vec<u8> { v.into_iter().map(|s| (s >> 8) as u8).collect() };
    match image {
        DynamicImage::ImageLuma8(i) => (PixelFormat::Gray8, DynamicImage::ImageLuma8(i)),
        DynamicImage::ImageRgb8(i) => (PixelFormat::Rgb8, DynamicImage::ImageRgb8(i)),
        DynamicImage::ImageLumaA8(i) => grey_alpha(i.into_raw(), w, h, alpha),
        DynamicImage::ImageRgba8(i) => rgba(i, alpha),
        // Pillow opens 16-bit grey as mode I;16, and its conversion to L clips at 255.
        DynamicImage::ImageLuma16(i) => {
            let data = i.into_raw().into_iter().map(|s| s.min(255) as u8).collect();
            let grey = GrayImage::from_raw(w, h, data).expect("same dimensions");
            (PixelFormat::Gray8, DynamicImage::ImageLuma8(grey))
        }
        DynamicImage::ImageLumaA16(i) => grey_alpha(high_byte(i.into_raw()), w, h, alpha),
        DynamicImage::ImageRgb16(i) => {
            let rgb = RgbImage::from_raw(w, h, high_byte(i.into_raw())).expect("same dimensions");
            (PixelFormat::Rgb8, DynamicImage::ImageRgb8(rgb))
        }
        DynamicImage::ImageRgba16(i) => {
            let rgba8 =
                RgbaImage::from_raw(w, h, high_byte(i.into_raw())).expect("same dimensions");
            rgba(rgba8, alpha)
        }
        // Float images (TIFF) have no Pillow counterpart: the image crate's conversion.
        DynamicImage::ImageRgb32F(i) => (
            PixelFormat::Rgb8,
            DynamicImage::ImageRgb8(DynamicImage::ImageRgb32F(i).to_rgb8()),
        ),
        other => rgba(other.to_rgba8(), alpha),
    }
}

/// Grey+alpha samples to `Gray8`: the grey channel, or composited over the background.
fn grey_alpha(data: Vec<u8>, w: u32, h: u32, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    let grey: Vec<u8> = match alpha.background() {
        None => data.chunks_exact(2).map(|p| p[0]).collect(),
        Some(bg) => data
            .chunks_exact(2)
            .map(|p| composite(p[0], p[1], bg))
            .collect(),
    };
    let grey = image::GrayImage::from_raw(w, h, grey).expect("same dimensions");
    (PixelFormat::Gray8, DynamicImage::ImageLuma8(grey))
}

/// RGBA to `Rgba8` (kept) or `Rgb8` (composited).
fn rgba(image: image::RgbaImage, alpha: AlphaPolicy) -> (PixelFormat, DynamicImage) {
    let Some(bg) = alpha.background() else {
        return (PixelFormat::Rgba8, DynamicImage::ImageRgba8(image));
    };
    let (w, h) = image.dimensions();
    let rgb: Vec<u8> = image
        .into_raw()
        .chunks_exact(4)
        .flat_map(|p| {
            [
                composite(p[0], p[3], bg),
                composite(p[1], p[3], bg),
                composite(p[2], p[3], bg),
            ]
        })
        .collect();
    (
        PixelFormat::Rgb8,
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb).expect("same dimensions")),
    )
}

/// `(c * a + bg * (255 - a) + 127) / 255`: `c` over `bg` with coverage `a`, rounded to nearest.
fn composite(c: u8, a: u8, bg: u8) -> u8 {
    let (c, a, bg) = (u32::from(c), u32::from(a), u32::from(bg));
    ((c * a + bg * (255 - a) + 127) / 255) as u8
}

/// Pillow's `cmyk2rgb` (Convert.c) for one pixel of stored (non-inverted) CMYK:
/// `nk = 255 - K; R = nk - MULDIV255(C, nk)`, likewise G from M and B from Y, where
/// `MULDIV255(a, b) = ((t >> 8) + t) >> 8` with `t = a * b + 128` (a * b / 255 rounded).
#[cfg(feature = "tiff")]
fn pillow_cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let nk = 255 - u32::from(k);
    let channel = |v: u8| {
        let t = u32::from(v) * nk + 128;
        // MULDIV255(v, nk) <= nk, so no clipping is needed.
        (nk - (((t >> 8) + t) >> 8)) as u8
    };
    [channel(c), channel(m), channel(y)]
}

#[cfg(feature = "tiff")]
mod tiff_cmyk {
    //! CMYK TIFF read with the `tiff` crate (the `image` crate's TIFF decoder) to its raw
    //! samples, then converted as Pillow converts its mode `CMYK`. 16-bit samples keep their
    //! high byte, as Pillow's `CMYK;16B`/`CMYK;16N` raw modes do.

    use std::io::Cursor;

    use image::DynamicImage;
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    use tiff::TiffError;

    use crate::error::{ContentError, Error, LimitError};

    fn error(e: TiffError) -> Error {
        match e {
            TiffError::LimitsExceeded => LimitError::MemoryLimit {
                detail: e.to_string(),
            }
            .into(),
            TiffError::UnsupportedError(_) => ContentError::UnsupportedFeature {
                format: "tiff",
                detail: e.to_string(),
            }
            .into(),
            e if super::is_truncation(&e) => ContentError::Truncated {
                format: "tiff",
                detail: e.to_string(),
            }
            .into(),
            e => ContentError::Corrupt {
                format: "tiff",
                detail: e.to_string(),
            }
            .into(),
        }
    }

    pub(super) fn decode(bytes: &[u8], max_alloc: u64) -> Result<DynamicImage, Error> {
        let mut limits = Limits::default();
        limits.decoding_buffer_size = usize::try_from(max_alloc).unwrap_or(usize::MAX);
        let mut decoder = Decoder::new(Cursor::new(bytes))
            .map_err(error)?
            .with_limits(limits);
        let (width, height) = decoder.dimensions().map_err(error)?;
        let samples: Vec<u8> = match decoder.read_image().map_err(error)? {
            DecodingResult::U8(v) => v,
            DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
            _ => {
                let detail = "CMYK samples that are neither 8 nor 16 bits".to_string();
                return Err(ContentError::UnsupportedFeature {
                    format: "tiff",
                    detail,
                }
                .into());
            }
        };
        let pixels = u64::from(width) * u64::from(height);
        if samples.len() as u64 != pixels * 4 {
            let detail = format!(
                "CMYK with {} samples for {width}x{height} pixels (planar or extra channels)",
                samples.len()
            );
            return Err(ContentError::UnsupportedFeature {
                format: "tiff",
                detail,
            }
            .into());
        }
        let rgb = samples
            .chunks_exact(4)
            .flat_map(|p| super::pillow_cmyk_to_rgb(p[0], p[1], p[2], p[3]))
            .collect();
        let image = image::RgbImage::from_raw(width, height, rgb).expect("3 samples per pixel");
        Ok(DynamicImage::ImageRgb8(image))
    }
}

mod header {
    //! Image dimensions read straight from the header bytes, without a decoder, for the
    //! formats where they sit at a known place. `None` when the header is too short or not
    //! laid out as expected: the decoder then reads the dimensions (and reports the error).

    use super::ImageFormat;

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

    /// (width, height) as the header declares them.
    pub(super) fn dimensions(format: ImageFormat, b: &[u8]) -> Option<(u32, u32)> {
        match format {
            // The signature, then the IHDR chunk: length 13, type, width, height.
            ImageFormat::Png => {
                (b.get(12..16)? == b"IHDR").then_some((u32_be(b, 16)?, u32_be(b, 20)?))
            }
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
}

#[cfg(feature = "zune-jpeg")]
mod zune {
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

    use super::{allocation_budget, check_pixel_count, DecodeOptions, Orientation};
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
            Some(
                c @ (ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA),
            ) => c,
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
}

mod jpeg {
    //! JPEG marker walk: the file must reach its end-of-image marker.

    use crate::error::ContentError;

    fn truncated(detail: &str) -> ContentError {
        ContentError::Truncated {
            format: "jpeg",
            detail: detail.to_string(),
        }
    }

    /// Walks the marker segments and entropy-coded scans from SOI to EOI. Segments are
    /// skipped by their length (so an EXIF thumbnail's own EOI is never mistaken for the
    /// image's), scans by searching for the next marker (`FF` not followed by `00`, a
    /// restart marker or fill `FF`). Bytes after EOI are allowed, as libjpeg allows them.
    pub(super) fn check_complete(bytes: &[u8]) -> Result<(), ContentError> {
        const EOI: u8 = 0xD9;
        const SOS: u8 = 0xDA;
        let mut pos = 2; // after SOI, which format detection matched
        loop {
            // Find the next marker, tolerating stray bytes between segments as libjpeg does.
            while pos < bytes.len() && bytes[pos] != 0xFF {
                pos += 1;
            }
            while pos + 1 < bytes.len() && bytes[pos + 1] == 0xFF {
                pos += 1;
            }
            let Some(&marker) = bytes.get(pos + 1) else {
                return Err(truncated("the data ends before the end-of-image marker"));
            };
            pos += 2;
            match marker {
                EOI => return Ok(()),
                0xD0..=0xD7 | 0x01 | 0x00 => continue,
                _ => {}
            }
            let length = match bytes.get(pos..pos + 2) {
                Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
                None => return Err(truncated("the data ends inside a marker segment")),
            };
            if pos + length > bytes.len() {
                return Err(truncated("the data ends inside a marker segment"));
            }
            pos += length.max(2);
            if marker == SOS {
                pos = end_of_scan(bytes, pos);
            }
        }
    }

    /// (width, height) from the first frame header (SOFn), found by walking the segments.
    pub(super) fn frame_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
        let mut pos = 2;
        loop {
            if *bytes.get(pos)? != 0xFF {
                return None;
            }
            let marker = *bytes.get(pos + 1)?;
            let length = usize::from(u16::from_be_bytes([
                *bytes.get(pos + 2)?,
                *bytes.get(pos + 3)?,
            ]));
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                let height = u16::from_be_bytes([*bytes.get(pos + 5)?, *bytes.get(pos + 6)?]);
                let width = u16::from_be_bytes([*bytes.get(pos + 7)?, *bytes.get(pos + 8)?]);
                return Some((u32::from(width), u32::from(height)));
            }
            if marker == 0xDA {
                return None;
            }
            pos += 2 + length;
        }
    }

    /// The position of the first marker after entropy-coded data starting at `pos`, or the
    /// end of the data.
    fn end_of_scan(bytes: &[u8], mut pos: usize) -> usize {
        // The next FF with a byte after it; then that byte says whether a marker starts there.
        while pos + 1 < bytes.len() {
            let Some(ff) = memchr::memchr(0xFF, &bytes[pos..bytes.len() - 1]) else {
                break;
            };
            pos += ff;
            match bytes[pos + 1] {
                0x00 | 0xD0..=0xD7 | 0xFF => pos += 1,
                _ => return pos,
            }
        }
        bytes.len()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// SOI, an APP1 segment holding a thumbnail's EOI, SOS with stuffed and restart
        /// bytes, EOI.
        fn minimal() -> Vec<u8> {
            let mut v = vec![0xFF, 0xD8];
            v.extend([0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00]);
            v.extend([0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02]);
            v.extend([
                0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD1, 0x78,
            ]);
            v.extend([0xFF, 0xD9]);
            v
        }

        #[test]
        fn a_complete_stream_passes_and_trailing_bytes_are_allowed() {
            assert_eq!(check_complete(&minimal()), Ok(()));
            let mut trailing = minimal();
            trailing.extend(b"trailer");
            assert_eq!(check_complete(&trailing), Ok(()));
        }

        #[test]
        fn the_end_of_a_scan_is_the_first_ff_that_starts_a_marker() {
            // The byte-by-byte rule, against random data dense in FF, 00 and restart markers.
            let naive = |bytes: &[u8], mut pos: usize| {
                while pos + 1 < bytes.len() {
                    match (bytes[pos], bytes[pos + 1]) {
                        (0xFF, 0x00 | 0xD0..=0xD7 | 0xFF) | (0..=0xFE, _) => pos += 1,
                        _ => return pos,
                    }
                }
                bytes.len()
            };
            let mut seed = 0x2545_f491_u32;
            let alphabet = [0xFF, 0x00, 0xD0, 0xD7, 0xD9, 0xDA, 0x12];
            for len in 0..300 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        alphabet[seed as usize % alphabet.len()]
                    })
                    .collect();
                for start in 0..len.min(8) {
                    assert_eq!(
                        end_of_scan(&bytes, start),
                        naive(&bytes, start),
                        "{bytes:x?} from {start}"
                    );
                }
            }
        }

        #[test]
        fn every_cut_before_the_eoi_is_truncated() {
            let full = minimal();
            for cut in 2..full.len() - 1 {
                let err = check_complete(&full[..cut]).unwrap_err();
                assert_eq!(err.code(), "truncated_image", "cut at {cut}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
            ("png", include_bytes!("../tests/vectors/decode/rgb16.png")),
            (
                "palette png",
                include_bytes!("../tests/vectors/decode/palette.png"),
            ),
            (
                "gif",
                include_bytes!("../tests/vectors/decode/two-frames.gif"),
            ),
            ("bmp", include_bytes!("../tests/vectors/decode/rgb.bmp")),
            (
                "lossless webp",
                include_bytes!("../tests/vectors/decode/lossless.webp"),
            ),
            (
                "lossy webp",
                include_bytes!("../tests/vectors/pdq/misc-images/modes/F.webp"),
            ),
            (
                "cmyk jpeg",
                include_bytes!("../tests/vectors/decode/cmyk.jpg"),
            ),
            (
                "progressive jpeg",
                include_bytes!("../tests/vectors/pdq/misc-images/wee.jpg"),
            ),
            (
                "exif jpeg",
                include_bytes!("../tests/vectors/pdq/reg-test-input/labelme-subset/q0122.jpg"),
            ),
        ];
        for (what, bytes) in files {
            let format = detect_format(bytes).unwrap();
            let image = decode(bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(
                header::dimensions(format, bytes),
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
