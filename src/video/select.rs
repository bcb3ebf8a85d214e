//! Which frames of a video are hashed, and the timestamp of each.
//!
//! Mirrors `FFmpegHasher` in the reference (`vpdq/cpp/vpdq/cpp/hashing/filehasher.cpp`):
//! `frameMod = static_cast<int>(secondsPerHash * frameRate)`, raised to 1 when it truncates to
//! 0, and frame `n` (0-based, in decoding order) is hashed iff `n % frameMod == 0`. So
//! `seconds_per_hash = 0` hashes every frame, and the default of 1 second at 30 fps hashes
//! frames 0, 30, 60, ... The timestamp is `hashFrame` in `vpdq/cpp/vpdq/cpp/hashing/hasher.h`:
//! `static_cast<float>(frameNumber) / framerate`, a float division with the frame rate
//! narrowed to float.

use super::VideoError;

/// The frames a video hasher keeps: every `frame_mod`-th, starting with frame 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSelection {
    frame_mod: u64,
}

impl FrameSelection {
    /// The reference's selection for `seconds_per_hash` (>= 0; 0 means every frame) at
    /// `frame_rate` frames per second (> 0).
    pub fn new(seconds_per_hash: f64, frame_rate: f64) -> Result<Self, VideoError> {
        check_seconds_per_hash(seconds_per_hash)?;
        check_frame_rate(frame_rate)?;
        // `as` truncates toward zero like the reference's cast and saturates where the C++
        // cast would be undefined; both values are finite and non-negative here.
        let frame_mod = (seconds_per_hash * frame_rate) as u64;
        Ok(FrameSelection {
            frame_mod: frame_mod.max(1),
        })
    }

    /// Every frame.
    pub const EVERY_FRAME: FrameSelection = FrameSelection { frame_mod: 1 };

    /// Every `frame_mod`-th frame (0 is taken as 1).
    pub fn every(frame_mod: u64) -> Self {
        FrameSelection {
            frame_mod: frame_mod.max(1),
        }
    }

    /// The step between hashed frames, at least 1.
    pub fn frame_mod(&self) -> u64 {
        self.frame_mod
    }

    /// Whether frame `frame_number` is hashed.
    pub fn selects(&self, frame_number: u64) -> bool {
        frame_number % self.frame_mod == 0
    }
}

/// The reference timestamp of a frame, in seconds: an f32 division, widened to f64.
pub fn reference_timestamp(frame_number: u64, frame_rate: f64) -> f64 {
    f64::from(frame_number as f32 / frame_rate as f32)
}

fn check_seconds_per_hash(found: f64) -> Result<(), VideoError> {
    if found.is_finite() && found >= 0.0 {
        Ok(())
    } else {
        Err(VideoError::InvalidSecondsPerHash { found })
    }
}

fn check_frame_rate(found: f64) -> Result<(), VideoError> {
    if found.is_finite() && found > 0.0 {
        Ok(())
    } else {
        Err(VideoError::InvalidFrameRate { found })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_second_at_30_fps_hashes_every_30th_frame_from_frame_0() {
        let s = FrameSelection::new(1.0, 30.0).unwrap();
        assert_eq!(s.frame_mod(), 30);
        let picked: Vec<u64> = (0..100).filter(|&n| s.selects(n)).collect();
        assert_eq!(picked, [0, 30, 60, 90]);
    }

    #[test]
    fn zero_seconds_and_slow_videos_hash_every_frame() {
        assert_eq!(FrameSelection::new(0.0, 30.0).unwrap().frame_mod(), 1);
        // The reference's corner case: 1 s at under 1 fps truncates to 0, raised to 1.
        assert_eq!(FrameSelection::new(1.0, 0.5).unwrap().frame_mod(), 1);
    }

    #[test]
    fn the_product_truncates_like_the_reference_int_cast() {
        assert_eq!(
            FrameSelection::new(1.0, 30000.0 / 1001.0)
                .unwrap()
                .frame_mod(),
            29
        );
        assert_eq!(FrameSelection::new(2.5, 25.0).unwrap().frame_mod(), 62);
        assert_eq!(
            FrameSelection::new(1e300, 60.0).unwrap().frame_mod(),
            u64::MAX
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                FrameSelection::new(bad, 30.0),
                Err(VideoError::InvalidSecondsPerHash { .. })
            ));
        }
        for bad in [0.0, -30.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                FrameSelection::new(1.0, bad),
                Err(VideoError::InvalidFrameRate { .. })
            ));
        }
    }

    #[test]
    fn timestamps_are_float_divisions() {
        assert_eq!(reference_timestamp(0, 30.0), 0.0);
        assert_eq!(reference_timestamp(30, 30.0), 1.0);
        assert_eq!(reference_timestamp(1, 30.0), f64::from(1.0f32 / 30.0f32));
        assert_ne!(reference_timestamp(1, 30.0), 1.0 / 30.0);
    }
}
