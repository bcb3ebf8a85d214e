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
        e if super::error::is_truncation(&e) => ContentError::Truncated {
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
        .flat_map(|p| super::convert::pillow_cmyk_to_rgb(p[0], p[1], p[2], p[3]))
        .collect();
    let image = image::RgbImage::from_raw(width, height, rgb).expect("3 samples per pixel");
    Ok(DynamicImage::ImageRgb8(image))
}
