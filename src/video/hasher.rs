//! The streaming video hasher: decoded frames in, one [`VpdqFeature`] per selected frame out.
//!
//! Each selected frame is hashed as the reference's `PDQFrameBufferHasher::hashFrame`
//! (`vpdq/cpp/vpdq/cpp/hashing/bufferhasher.cpp`) does: float luma from the RGB24 pixels
//! (`fillFloatLumaFromRGB`) and the plain hash `pdqHash256FromFloatLuma`, which is
//! [`pdq_hash`](crate::pdq_hash). Frames under 5 pixels on a side are refused, as there.
//!
//! The hasher keeps neither frames nor features: the caller owns each frame's buffer for the
//! duration of one call and collects (or writes out) the features it returns.

use super::select::reference_timestamp;
use super::{FrameSelection, VideoError, VpdqFeature, VPDQ_MIN_FRAME_DIMENSION};
use crate::pdq::pdq_hash;
use crate::pixels::PixelView;

/// Hashes the selected frames of one video, fed in decoding order.
#[derive(Debug, Clone)]
pub struct VpdqHasher {
    selection: FrameSelection,
    frame_rate: f64,
    previous: Option<u64>,
}

impl VpdqHasher {
    /// A hasher for a video of `frame_rate` frames per second (the stream's average frame
    /// rate, as the reference reads it), hashing one frame every `seconds_per_hash` seconds
    /// (0: every frame).
    pub fn new(frame_rate: f64, seconds_per_hash: f64) -> Result<Self, VideoError> {
        Ok(VpdqHasher {
            selection: FrameSelection::new(seconds_per_hash, frame_rate)?,
            frame_rate,
            previous: None,
        })
    }

    /// Which frames are hashed.
    pub fn selection(&self) -> FrameSelection {
        self.selection
    }

    /// Whether frame `frame_number` will be hashed: an adapter may skip converting the
    /// pixels of the others, but should still count them.
    pub fn wants(&self, frame_number: u64) -> bool {
        self.selection.selects(frame_number)
    }

    /// Feeds frame `frame_number` (0-based, increasing from call to call) with the
    /// reference timestamp; returns its feature if the frame is selected.
    pub fn push(
        &mut self,
        frame_number: u64,
        pixels: &PixelView<'_>,
    ) -> Result<Option<VpdqFeature>, VideoError> {
        let timestamp = reference_timestamp(frame_number, self.frame_rate);
        self.push_with_timestamp(frame_number, timestamp, pixels)
    }

    /// As [`push`](Self::push), with the caller's timestamp in seconds (e.g. a player's
    /// presentation time) instead of the reference's `frame_number / frame_rate`.
    pub fn push_with_timestamp(
        &mut self,
        frame_number: u64,
        timestamp: f64,
        pixels: &PixelView<'_>,
    ) -> Result<Option<VpdqFeature>, VideoError> {
        if let Some(previous) = self.previous {
            if frame_number <= previous {
                return Err(VideoError::FrameOrder {
                    previous,
                    found: frame_number,
                });
            }
        }
        if !(timestamp.is_finite() && timestamp >= 0.0) {
            return Err(VideoError::InvalidTimestamp { found: timestamp });
        }
        self.previous = Some(frame_number);
        if !self.wants(frame_number) {
            return Ok(None);
        }
        let (width, height) = (pixels.width(), pixels.height());
        if width < VPDQ_MIN_FRAME_DIMENSION || height < VPDQ_MIN_FRAME_DIMENSION {
            return Err(VideoError::FrameTooSmall {
                frame_number,
                width,
                height,
            });
        }
        let out = pdq_hash(pixels);
        Ok(Some(VpdqFeature {
            frame_number,
            timestamp,
            hash: out.hash,
            quality: out.quality,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::PixelFormat;

    fn frame(width: u32, height: u32, seed: u8) -> Vec<u8> {
        (0..width * height * 3)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn selected_frames_get_the_plain_pdq_hash_and_the_reference_timestamp() {
        let mut h = VpdqHasher::new(30.0, 1.0).unwrap();
        let mut out = Vec::new();
        for n in 0..61u64 {
            let px = frame(32, 24, n as u8);
            let view = PixelView::packed(&px, 32, 24, PixelFormat::Rgb8).unwrap();
            if let Some(f) = h.push(n, &view).unwrap() {
                let pdq = pdq_hash(&view);
                assert_eq!((f.hash, f.quality), (pdq.hash, pdq.quality));
                out.push((f.frame_number, f.timestamp));
            }
        }
        assert_eq!(out, [(0, 0.0), (30, 1.0), (60, 2.0)]);
    }

    #[test]
    fn frames_must_come_in_increasing_order() {
        let px = frame(8, 8, 0);
        let view = PixelView::packed(&px, 8, 8, PixelFormat::Rgb8).unwrap();
        let mut h = VpdqHasher::new(25.0, 0.0).unwrap();
        h.push(3, &view).unwrap();
        assert_eq!(
            h.push(3, &view).unwrap_err(),
            VideoError::FrameOrder {
                previous: 3,
                found: 3
            }
        );
    }

    #[test]
    fn frames_under_5_pixels_are_refused_only_when_selected() {
        let px = frame(4, 9, 0);
        let view = PixelView::packed(&px, 4, 9, PixelFormat::Rgb8).unwrap();
        let mut h = VpdqHasher::new(30.0, 1.0).unwrap();
        assert_eq!(
            h.push(0, &view).unwrap_err().code(),
            "frame_too_small",
            "frame 0 is always selected"
        );
        assert_eq!(h.push(1, &view), Ok(None));
    }

    #[test]
    fn caller_timestamps_must_be_finite_and_non_negative() {
        let px = frame(8, 8, 0);
        let view = PixelView::packed(&px, 8, 8, PixelFormat::Rgb8).unwrap();
        let mut h = VpdqHasher::new(30.0, 0.0).unwrap();
        assert!(h.push_with_timestamp(0, -0.5, &view).is_err());
        assert!(h.push_with_timestamp(0, f64::NAN, &view).is_err());
        let f = h.push_with_timestamp(0, 12.25, &view).unwrap().unwrap();
        assert_eq!(f.timestamp, 12.25);
    }
}
