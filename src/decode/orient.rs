//! The EXIF orientation: the tag as read from the file, and the transform that
//! [`OrientationPolicy::Apply`](super::OrientationPolicy::Apply) performs on the pixels.

use image::ImageDecoder;

use super::ImageFormat;

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

    pub(super) fn from_image(o: image::metadata::Orientation) -> Self {
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
    pub(super) fn to_image(self) -> image::metadata::Orientation {
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

/// Packed pixels of `bpp` bytes transformed as the EXIF orientation says (what the image
/// crate's `apply_orientation` does, in a few lines instead of its per-layout generic code,
/// which is larger in the WebAssembly module). Returns the pixels and the new width and height.
pub(super) fn orient(
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

/// The EXIF orientation tag, if the file has a valid one. Unreadable metadata is not an
/// error: the pixels may still decode, and the tag is then reported absent.
pub(super) fn read_orientation(
    decoder: &mut impl ImageDecoder,
    format: ImageFormat,
) -> Option<Orientation> {
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
