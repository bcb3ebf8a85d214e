//! The reference brute-force vPDQ matcher: what share of each video's frames has a close frame
//! in the other.
//!
//! Two reference implementations exist and differ slightly; both are available:
//! - python-threatexchange `match_VPDQ_hash_brute` (`extensions/vpdq/vpdq_brute_matcher.py`,
//!   used by HMA and `VPDQSignal.compare_hash`): drop repeated identical hashes (first one
//!   kept), then frames with quality < 50; a frame matches when some frame of the other video
//!   is within `<= 31` bits. This is [`VpdqMatchOptions::PYTHON_THREATEXCHANGE`], the default.
//! - C++ `matchTwoHashBrute` (`vpdq/cpp/vpdq/cpp/hashing/matchTwoHash.cpp`, the
//!   `match-hashes-brute` tool): no de-duplication, quality >= 50, distance `< 31` (strict).
//!   This is [`VpdqMatchOptions::CPP_REFERENCE`].
//!
//! Each percentage is `matched * 100 / usable frames` in f64, as both compute it. Where a side
//! has no usable frame the C++ matcher reports 0 % for both sides and the Python one divides
//! by zero; here both report 0 %.

use serde::Serialize;

use super::{VpdqFeature, VPDQ_QUERY_MATCH_THRESHOLD_PERCENT, VPDQ_TARGET_MATCH_THRESHOLD_PERCENT};
use crate::hash::PdqHash;
use crate::pdq::{PDQ_MATCH_THRESHOLD_BITS, PDQ_MIN_QUALITY};

/// How a frame distance is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceRule {
    /// `distance <= threshold` (python-threatexchange, and PDQ matching everywhere).
    AtMost,
    /// `distance < threshold` (the C++ `matchTwoHashBrute`).
    LessThan,
}

/// The matcher's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpdqMatchOptions {
    /// Frame distance threshold in bits.
    pub distance_threshold: u32,
    /// How the distance is compared with the threshold.
    pub rule: DistanceRule,
    /// Frames of lower quality are dropped.
    pub min_quality: u8,
    /// Drop repeated identical hashes (keeping the first) before the quality filter.
    pub dedupe: bool,
}

impl VpdqMatchOptions {
    /// python-threatexchange's `match_VPDQ_hash_brute(q, t, 50, 31)`.
    pub const PYTHON_THREATEXCHANGE: VpdqMatchOptions = VpdqMatchOptions {
        distance_threshold: PDQ_MATCH_THRESHOLD_BITS,
        rule: DistanceRule::AtMost,
        min_quality: PDQ_MIN_QUALITY,
        dedupe: true,
    };

    /// The C++ `match-hashes-brute <q> <t> 31 50`.
    pub const CPP_REFERENCE: VpdqMatchOptions = VpdqMatchOptions {
        distance_threshold: PDQ_MATCH_THRESHOLD_BITS,
        rule: DistanceRule::LessThan,
        min_quality: PDQ_MIN_QUALITY,
        dedupe: false,
    };

    fn close(&self, a: &PdqHash, b: &PdqHash) -> bool {
        let d = a.distance(b);
        match self.rule {
            DistanceRule::AtMost => d <= self.distance_threshold,
            DistanceRule::LessThan => d < self.distance_threshold,
        }
    }
}

impl Default for VpdqMatchOptions {
    fn default() -> Self {
        VpdqMatchOptions::PYTHON_THREATEXCHANGE
    }
}

/// The result of matching a query video with a target video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VpdqMatch {
    /// Share of the query's usable frames with a close frame in the target, 0..=100.
    pub query_percent: f64,
    /// Share of the target's usable frames with a close frame in the query, 0..=100.
    pub target_percent: f64,
    /// Usable query frames (after de-duplication and the quality filter).
    pub query_frames: usize,
    /// Usable target frames.
    pub target_frames: usize,
    /// Query frames with a close target frame.
    pub query_matched: usize,
    /// Target frames with a close query frame.
    pub target_matched: usize,
}

impl VpdqMatch {
    /// The result for these counts of usable and matched frames: the percentages as both
    /// references compute them (`matched * 100 / usable`, 0 where a side has no usable frame).
    /// For matchers that count the frames another way than [`match_vpdq`] (from an index).
    pub fn from_counts(
        query_frames: usize,
        target_frames: usize,
        query_matched: usize,
        target_matched: usize,
    ) -> VpdqMatch {
        VpdqMatch {
            query_percent: percent(query_matched, query_frames),
            target_percent: percent(target_matched, target_frames),
            query_frames,
            target_frames,
            query_matched,
            target_matched,
        }
    }

    /// python-threatexchange's verdict (`VPDQSignal.compare_hash` defaults): the query's
    /// share at least 80 % (and the target's at least 0 %).
    pub fn is_match(&self) -> bool {
        self.is_match_with(
            VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
            VPDQ_TARGET_MATCH_THRESHOLD_PERCENT,
        )
    }

    /// The verdict with explicit thresholds in percent.
    pub fn is_match_with(&self, query_min_percent: f64, target_min_percent: f64) -> bool {
        self.query_frames > 0
            && self.target_frames > 0
            && self.query_percent >= query_min_percent
            && self.target_percent >= target_min_percent
    }
}

fn usable(features: &[VpdqFeature], options: &VpdqMatchOptions) -> Vec<PdqHash> {
    let mut seen = std::collections::HashSet::new();
    features
        .iter()
        .filter(|f| !options.dedupe || seen.insert(f.hash))
        .filter(|f| f.quality >= options.min_quality)
        .map(|f| f.hash)
        .collect()
}

fn count_found(needles: &[PdqHash], haystack: &[PdqHash], options: &VpdqMatchOptions) -> usize {
    needles
        .iter()
        .filter(|n| haystack.iter().any(|h| options.close(n, h)))
        .count()
}

fn percent(matched: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        matched as f64 * 100.0 / of as f64
    }
}

/// Matches a query video's features against a target video's, brute force.
pub fn match_vpdq(
    query: &[VpdqFeature],
    target: &[VpdqFeature],
    options: &VpdqMatchOptions,
) -> VpdqMatch {
    let q = usable(query, options);
    let t = usable(target, options);
    let (query_matched, target_matched) = if q.is_empty() || t.is_empty() {
        (0, 0)
    } else {
        (count_found(&q, &t, options), count_found(&t, &q, options))
    };
    VpdqMatch::from_counts(q.len(), t.len(), query_matched, target_matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash with the first `ones` bits set.
    fn hash(ones: usize) -> PdqHash {
        let mut bytes = [0u8; 32];
        for k in 0..ones {
            bytes[k / 8] |= 0x80 >> (k % 8);
        }
        PdqHash::from_bytes(bytes)
    }

    fn features(hashes: &[(usize, u8)]) -> Vec<VpdqFeature> {
        hashes
            .iter()
            .enumerate()
            .map(|(i, &(ones, quality))| VpdqFeature {
                frame_number: i as u64,
                timestamp: i as f64,
                hash: hash(ones),
                quality,
            })
            .collect()
    }

    #[test]
    fn distance_31_matches_in_python_but_not_in_cpp() {
        let q = features(&[(0, 100)]);
        let t = features(&[(31, 100)]);
        let py = match_vpdq(&q, &t, &VpdqMatchOptions::PYTHON_THREATEXCHANGE);
        assert_eq!((py.query_percent, py.target_percent), (100.0, 100.0));
        assert!(py.is_match());
        let cpp = match_vpdq(&q, &t, &VpdqMatchOptions::CPP_REFERENCE);
        assert_eq!((cpp.query_percent, cpp.target_percent), (0.0, 0.0));
        assert!(!cpp.is_match());
    }

    #[test]
    fn low_quality_frames_are_dropped_and_duplicates_counted_once_in_python() {
        // Query: a repeated hash, a far one, and a low-quality one.
        let q = features(&[(0, 100), (0, 100), (200, 100), (0, 49)]);
        let t = features(&[(3, 100)]);
        let py = match_vpdq(&q, &t, &VpdqMatchOptions::PYTHON_THREATEXCHANGE);
        assert_eq!((py.query_frames, py.query_matched), (2, 1));
        assert_eq!(py.query_percent, 50.0);
        let cpp = match_vpdq(&q, &t, &VpdqMatchOptions::CPP_REFERENCE);
        assert_eq!((cpp.query_frames, cpp.query_matched), (3, 2));
    }

    #[test]
    fn dedupe_comes_before_the_quality_filter_as_in_python() {
        // The first copy has low quality: deduping first drops the good second copy too.
        let q = features(&[(0, 10), (0, 100), (100, 100)]);
        let py = match_vpdq(&q, &q, &VpdqMatchOptions::PYTHON_THREATEXCHANGE);
        assert_eq!(py.query_frames, 1);
    }

    #[test]
    fn no_usable_frames_is_zero_percent_and_no_match() {
        let q = features(&[(0, 10)]);
        let t = features(&[(0, 100)]);
        let m = match_vpdq(&q, &t, &VpdqMatchOptions::default());
        assert_eq!((m.query_percent, m.target_percent), (0.0, 0.0));
        assert!(!m.is_match_with(0.0, 0.0));
        assert!(!match_vpdq(&[], &[], &VpdqMatchOptions::default()).is_match());
    }

    #[test]
    fn the_verdict_needs_80_percent_of_the_query() {
        let t = features(&[(0, 100)]);
        let four_of_five = features(&[(0, 100), (1, 100), (2, 100), (3, 100), (250, 100)]);
        assert!(match_vpdq(&four_of_five, &t, &VpdqMatchOptions::default()).is_match());
        let three_of_five = features(&[(0, 100), (1, 100), (2, 100), (240, 100), (250, 100)]);
        let m = match_vpdq(&three_of_five, &t, &VpdqMatchOptions::default());
        assert_eq!(m.query_percent, 60.0);
        assert!(!m.is_match());
    }
}
