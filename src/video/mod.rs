//! vPDQ: video PDQ as the reference computes and matches it (facebook/ThreatExchange `vpdq/`
//! and python-threatexchange's `extensions/vpdq`).
//!
//! A video's vPDQ hash is a list of [`VpdqFeature`]s: for every selected frame, its frame
//! number, timestamp, PDQ hash and quality. The stages, one per file:
//! - [`select`]: which frames are hashed (`frame_number % frame_mod == 0`) and their
//!   timestamps, as the reference derives both from the frame rate;
//! - [`hasher`]: a streaming [`VpdqHasher`] fed decoded frames one at a time as
//!   [`PixelView`](crate::PixelView)s (it keeps no frame and no feature: memory is bounded);
//! - [`text`]: the reference file format `frameNumber,quality,pdqHex,timestamp`, written and
//!   parsed strictly;
//! - [`matcher`]: the reference brute-force matcher, with both reference conventions;
//! - [`yuv`]: decoded YUV frames to RGB24 exactly as libswscale converts them for the reference
//!   and the CLI (for decoders outside FFmpeg: the browser's WebCodecs).
//!
//! No I/O and no decoding here: adapters (the CLI's `hash-video` through ffmpeg) decode and
//! feed frames.

pub mod hasher;
pub mod matcher;
pub mod select;
pub mod text;
pub mod yuv;

use serde::{Serialize, Serializer};

use crate::error::CallerError;
use crate::hash::PdqHash;

pub use hasher::VpdqHasher;
pub use matcher::{match_vpdq, DistanceRule, VpdqMatch, VpdqMatchOptions};
pub use select::{reference_timestamp, FrameSelection};
pub use text::{parse_vpdq_text, write_vpdq_text, VpdqTextError};
pub use yuv::{ChromaLayout, YuvMatrix, YuvToRgb};

/// The reference's default: one hashed frame per second of video.
pub const VPDQ_DEFAULT_SECONDS_PER_HASH: f64 = 1.0;
/// python-threatexchange's match rule: a query video matches when at least this share (in
/// percent) of its usable frames have a match in the other video
/// (`VPDQ_QUERY_MATCH_THRESHOLD_PERCENT` in `vpdq_util.py`).
pub const VPDQ_QUERY_MATCH_THRESHOLD_PERCENT: f64 = 80.0;
/// python-threatexchange's threshold on the other video's share: none
/// (`VPDQ_INDEX_MATCH_THRESHOLD_PERCENT` in `vpdq_util.py`).
pub const VPDQ_TARGET_MATCH_THRESHOLD_PERCENT: f64 = 0.0;
/// Frames smaller than this on either side are refused, as the reference refuses them
/// (`MIN_HASHABLE_DIM` in `vpdq/cpp/vpdq/cpp/hashing/bufferhasher.cpp`).
pub const VPDQ_MIN_FRAME_DIMENSION: u32 = 5;

/// One hashed frame of a video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpdqFeature {
    /// 0-based number of the frame in decoding order.
    pub frame_number: u64,
    /// Seconds from the start, as the reference computes it (see [`reference_timestamp`]).
    pub timestamp: f64,
    /// The PDQ hash of the frame.
    pub hash: PdqHash,
    /// PDQ quality, 0..=100.
    pub quality: u8,
}

impl VpdqFeature {
    /// Whether the frame may take part in matching: quality at least
    /// [`crate::pdq::PDQ_MIN_QUALITY`], the reference matchers' default.
    pub fn is_matchable(&self) -> bool {
        self.quality >= crate::pdq::PDQ_MIN_QUALITY
    }
}

/// JSON: `{"frame": 30, "timestamp": 1.0, "hash": "<64 hex>", "quality": 100}`, the timestamp
/// rounded to milliseconds as in the reference text format.
impl Serialize for VpdqFeature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("VpdqFeature", 4)?;
        s.serialize_field("frame", &self.frame_number)?;
        s.serialize_field("timestamp", &text::millis(self.timestamp))?;
        s.serialize_field("hash", &self.hash)?;
        s.serialize_field("quality", &self.quality)?;
        s.end()
    }
}

/// What can go wrong while hashing a video's frames.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// Seconds per hash that is negative, infinite or NaN.
    #[error("seconds per hash must be a finite number >= 0, found {found}")]
    InvalidSecondsPerHash { found: f64 },
    /// A frame rate that is not a finite number above zero.
    #[error("frame rate must be a finite number > 0, found {found}")]
    InvalidFrameRate { found: f64 },
    /// A timestamp that is negative, infinite or NaN.
    #[error("timestamp must be a finite number >= 0, found {found}")]
    InvalidTimestamp { found: f64 },
    /// Frames fed out of order: frame numbers must increase.
    #[error("frame numbers must increase: frame {found} came after frame {previous}")]
    FrameOrder { previous: u64, found: u64 },
    /// A frame too small for PDQ, which the reference refuses.
    #[error("frame {frame_number} is {width}x{height}: vPDQ needs frames of at least 5x5 pixels")]
    FrameTooSmall {
        frame_number: u64,
        width: u32,
        height: u32,
    },
    /// The frame's pixels cannot be described (a bad buffer for its dimensions).
    #[error(transparent)]
    Pixels(#[from] CallerError),
}

impl VideoError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VideoError::InvalidSecondsPerHash { .. } => "invalid_seconds_per_hash",
            VideoError::InvalidFrameRate { .. } => "invalid_frame_rate",
            VideoError::InvalidTimestamp { .. } => "invalid_timestamp",
            VideoError::FrameOrder { .. } => "frame_out_of_order",
            VideoError::FrameTooSmall { .. } => "frame_too_small",
            VideoError::Pixels(e) => e.code(),
        }
    }
}
