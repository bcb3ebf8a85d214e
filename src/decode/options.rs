//! How to decode: the orientation and alpha policies and the limits, each with its
//! documented default.

/// Default for [`DecodeOptions::max_pixels`]: 100 million pixels (e.g. 10000x10000), above
/// any camera photo in common use.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Default for [`DecodeOptions::max_input_bytes`]: 256 MiB, above any still image a camera
/// or phone writes, and small enough to hold in a browser tab.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

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
    pub(super) fn background(self) -> Option<u8> {
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
