//! A borrowed, validated view of pixels: the only input the hashing core accepts.
//!
//! All size arithmetic happens once, here, with checked operations; code downstream may
//! index `row(y)` without further bounds reasoning.

use crate::error::CallerError;

/// How the bytes of one pixel are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes per pixel: red, green, blue.
    Rgb8,
    /// 4 bytes per pixel: red, green, blue, alpha. Alpha is ignored by the hashes, as the
    /// reference hashes the stored RGB.
    Rgba8,
    /// 1 byte per pixel: grey. PDQ uses it as luma directly, as the reference does.
    Gray8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 => 4,
            PixelFormat::Gray8 => 1,
        }
    }
}

/// A validated, borrowed image: `height` rows of `width` pixels, rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct PixelView<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

impl<'a> PixelView<'a> {
    /// A view with an explicit row stride (in bytes). The buffer may be longer than needed;
    /// the last row needs only `width * bytes_per_pixel` bytes.
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        format: PixelFormat,
    ) -> Result<Self, CallerError> {
        if width == 0 || height == 0 {
            return Err(CallerError::ZeroDimension { width, height });
        }
        let overflow = CallerError::SizeOverflow {
            width,
            height,
            stride,
        };
        let row_bytes = usize::try_from(width)
            .ok()
            .and_then(|w| w.checked_mul(format.bytes_per_pixel()))
            .ok_or(overflow.clone())?;
        if stride < row_bytes {
            return Err(CallerError::StrideTooSmall { stride, row_bytes });
        }
        let expected = usize::try_from(height - 1)
            .ok()
            .and_then(|h| h.checked_mul(stride))
            .and_then(|b| b.checked_add(row_bytes))
            .ok_or(overflow)?;
        if data.len() < expected {
            return Err(CallerError::BufferTooShort {
                expected,
                found: data.len(),
            });
        }
        Ok(PixelView {
            data,
            width,
            height,
            stride,
            format,
        })
    }

    /// A tightly packed view (stride = width * bytes per pixel) whose buffer length must
    /// equal the dimensions exactly: a longer buffer almost always means wrong dimensions.
    pub fn packed(
        data: &'a [u8],
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<Self, CallerError> {
        if width == 0 || height == 0 {
            return Err(CallerError::ZeroDimension { width, height });
        }
        let bpp = format.bytes_per_pixel();
        let stride = usize::try_from(width)
            .ok()
            .and_then(|w| w.checked_mul(bpp))
            .ok_or(CallerError::SizeOverflow {
                width,
                height,
                stride: usize::MAX,
            })?;
        let view = PixelView::new(data, width, height, stride, format)?;
        let expected = view.stride * usize::try_from(height).unwrap_or(usize::MAX);
        if data.len() != expected {
            return Err(CallerError::BufferLengthMismatch {
                expected,
                found: data.len(),
            });
        }
        Ok(view)
    }

    /// Width in pixels (non-zero).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels (non-zero).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Row stride in bytes.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The `width` x `height` pixels from column `x`, row `y`.
    ///
    /// # Panics
    /// If the rectangle is empty or not inside the view (callers compute it from the view).
    pub(crate) fn crop(&self, x: usize, y: usize, width: usize, height: usize) -> PixelView<'a> {
        assert!(width > 0 && height > 0, "an empty crop");
        assert!(
            x + width <= self.width as usize && y + height <= self.height as usize,
            "a crop outside the view"
        );
        let start = y * self.stride + x * self.format.bytes_per_pixel();
        PixelView {
            data: &self.data[start..],
            width: width as u32,
            height: height as u32,
            stride: self.stride,
            format: self.format,
        }
    }

    /// The `width * bytes_per_pixel` bytes of row `y`.
    ///
    /// # Panics
    /// If `y >= height`; in-range rows are guaranteed to be in the buffer by construction.
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width as usize * self.format.bytes_per_pixel()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_each_kind_of_bad_geometry_with_its_own_error() {
        let buf = [0u8; 64];
        assert_eq!(
            PixelView::new(&buf, 0, 4, 12, PixelFormat::Rgb8).unwrap_err(),
            CallerError::ZeroDimension {
                width: 0,
                height: 4
            }
        );
        assert_eq!(
            PixelView::new(&buf, 4, 4, 11, PixelFormat::Rgb8).unwrap_err(),
            CallerError::StrideTooSmall {
                stride: 11,
                row_bytes: 12
            }
        );
        assert_eq!(
            PixelView::new(&buf, 4, 6, 12, PixelFormat::Rgb8).unwrap_err(),
            CallerError::BufferTooShort {
                expected: 72,
                found: 64
            }
        );
        assert!(matches!(
            PixelView::new(&buf, u32::MAX, u32::MAX, usize::MAX, PixelFormat::Rgba8).unwrap_err(),
            CallerError::SizeOverflow { .. }
        ));
        assert!(PixelView::packed(&buf, 4, 4, PixelFormat::Rgba8).is_ok());
    }

    #[test]
    fn last_row_needs_no_padding() {
        let buf = [0u8; 10 + 10 + 6];
        let v = PixelView::new(&buf, 2, 3, 10, PixelFormat::Rgb8).unwrap();
        assert_eq!(v.row(2).len(), 6);
    }

    #[test]
    fn packed_rejects_a_longer_buffer() {
        let buf = [0u8; 49];
        assert_eq!(
            PixelView::packed(&buf, 4, 4, PixelFormat::Rgb8).unwrap_err(),
            CallerError::BufferLengthMismatch {
                expected: 48,
                found: 49
            }
        );
    }
}
