//! The one registry of algorithms: every hash pixelprint computes or matches, as one enum
//! ([`Algorithm`]) and one constant table row per algorithm ([`AlgorithmInfo`]): its names, the
//! JSON key of its result, its bit length, its family, its default match threshold and the
//! false-positive rate measured at that threshold (see docs/thresholds.md).
//!
//! Everything that lists, names, parses or thresholds algorithms (the pipeline, hash lists,
//! the CLI, the server, the wasm module and, generated from the wasm module's table, the JS
//! package) reads it from here. Adding an algorithm is a row in [`TABLE`] plus its hashing
//! function (see ARCHITECTURE.md).
//!
//! Results per algorithm live in an [`AlgorithmMap`] keyed by the enum, not in one field per
//! algorithm; sets of algorithms are an [`AlgorithmSet`].

use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::error::CallerError;

/// Every algorithm pixelprint knows, in output order (the order of [`TABLE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// PDQ (256 bits) with its quality.
    Pdq,
    /// The eight dihedral PDQ hashes (turns and mirrors) from one DCT.
    PdqDihedral,
    /// PDQ of the picture inside its uniform borders (letterbox bars, padding): a query's
    /// hash, matched against PDQ entries (`src/trim.rs`).
    PdqTrimmed,
    /// PDQ of the largest picture embedded in a screenshot-like frame: a query's hash, matched
    /// against PDQ entries, absent when no picture is found (`src/embedded.rs`).
    PdqEmbedded,
    /// PDQ of the picture without its caption bands (one background colour with text, at the
    /// top or bottom): a query's hash, matched against PDQ entries, absent when no band is
    /// found (`src/caption.rs`).
    PdqCaptioned,
    /// PDQ of a picture turned by a small angle on a canvas of one colour, turned back
    /// upright: a query's hash, matched against PDQ entries, absent when no turn is found
    /// (`src/straighten.rs`).
    PdqStraightened,
    /// imagehash `average_hash` (8x8).
    AHash,
    /// imagehash `dhash` (8x8).
    DHash,
    /// imagehash `dhash_vertical` (8x8).
    DHashVertical,
    /// imagehash `phash` (8x8).
    PHash,
    /// imagehash `phash` (8x8) of the image mirrored left to right, from the image's own DCT:
    /// a query's hash, matched against pHash entries (`ImageHasher::phash_mirrored`).
    PHashMirrored,
    /// imagehash `phash(hash_size=16)` (16x16).
    PHash16,
    /// imagehash `whash` (haar, 8x8).
    WHash,
    /// MD5 of the file's bytes.
    Md5,
    /// SHA-1 of the file's bytes.
    Sha1,
    /// SHA-256 of the file's bytes.
    Sha256,
    /// A video's vPDQ: one PDQ per selected frame, in the reference text format.
    Vpdq,
}

/// What kind of value an algorithm gives, which decides how two values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// 256-bit perceptual hashes, compared by Hamming distance.
    Perceptual256,
    /// 64-bit perceptual hashes, compared by Hamming distance.
    Perceptual64,
    /// Cryptographic digests of the bytes, compared by equality.
    Digest,
    /// A sequence of frame hashes (vPDQ), compared by the share of close frames.
    Video,
}

/// What an algorithm reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// An image's decoded RGB pixels, through PDQ's own float luminance (`src/pdq`).
    Rgb,
    /// Pillow's 8-bit grey image of the decoded pixels (`src/imagehash`).
    Grey,
    /// A file's bytes as they are.
    Bytes,
    /// A video's decoded frames.
    Video,
}

/// One algorithm's row of the registry. Serialises with camelCase keys (the wasm module
/// exports the table to JS as it is).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgorithmInfo {
    #[serde(skip)]
    pub algorithm: Algorithm,
    /// The name on the command line, in the JS API and in hash lists (`pdq-dihedral`).
    pub name: &'static str,
    /// The key of its result in the JSON the CLI prints and the server takes (`pdq_dihedral`).
    pub key: &'static str,
    /// Other names it is known by in the ecosystem's lists and APIs (matched case-insensitively,
    /// `_` and `-` alike).
    pub aliases: &'static [&'static str],
    /// Bits of one hash (of one frame for vPDQ, of each variant for the dihedral hashes).
    pub bits: u32,
    pub family: Family,
    pub input: Input,
    /// The distance at or below which two hashes count as a match (`None`: only equal values
    /// match). Lists and banks may set their own.
    pub default_threshold: Option<u32>,
    /// What the default threshold rests on: the false positives measured at it (`None`: not
    /// measured, as for digests and vPDQ).
    pub fp_rate_per_pair: Option<FpRate>,
    /// Whether a server bank matches by it unless its operator turns it off; `false` for the
    /// hashes whose false-positive rate is too high to match by at any useful threshold
    /// (aHash, wHash): a bank matches by them only when its operator turns them on.
    pub matched_by_default: bool,
    /// Whether `hash` computes it when no algorithms are named.
    pub default: bool,
    /// Whether a line of a hash list can hold it as one hex value (not the dihedral variants,
    /// which are a query's and match PDQ entries, nor vPDQ, which is text of many lines).
    pub listable: bool,
}

/// False matches at a threshold in the accuracy benchmark: `false_pairs` of `pairs` impostor
/// pairs (an edited copy of one photo against another photo's original) were within it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FpRate {
    pub false_pairs: u32,
    pub pairs: u64,
    /// The 95 % upper bound on the rate per pair (exact Poisson on `false_pairs`), rounded up
    /// to two significant digits: what a bank's expected false hits are computed from.
    pub upper_bound: f64,
}

/// The benchmark behind every measured row: bench/results/accuracy/2026-12-03-d90d1a5.md
/// (and its .json): 231 real photos x 26 edits, 1,381,380 impostor pairs.
pub const FP_RATE_SOURCE: &str = "bench/results/accuracy/2026-12-03-d90d1a5.md";
const MEASURED_PAIRS: u64 = 1_381_380;

/// No false pair in the benchmark: the rate is below 2.2e-6 (-ln 0.05 / 1,381,380 = 2.17e-6).
const NO_FALSE_PAIR: Option<FpRate> = Some(FpRate {
    false_pairs: 0,
    pairs: MEASURED_PAIRS,
    upper_bound: 2.2e-6,
});

/// 39 of 256 bits, for PDQ and every PDQ query hash matched against stored PDQ (dihedral,
/// trimmed, embedded, captioned, straightened). In the benchmark the closest unrelated pair over
/// all of them is 80 bits apart, so 39 is the largest threshold whose near-miss band (twice the
/// threshold, 78) still holds no unrelated pair; 0 false pairs at 39. Against the ecosystem's
/// 31 it finds 1 to 4 more copies in 100 of captioned, turned and screenshot copies (the
/// "PDQ threshold of the default rule" table of the benchmark's report).
pub const PDQ_DEFAULT_THRESHOLD: u32 = 39;
const PDQ_THRESHOLD: Option<u32> = Some(PDQ_DEFAULT_THRESHOLD);

/// The registry: one row per algorithm, in [`Algorithm`] order.
pub const TABLE: [AlgorithmInfo; Algorithm::COUNT] = [
    AlgorithmInfo {
        algorithm: Algorithm::Pdq,
        name: "pdq",
        key: "pdq",
        aliases: &["photo-pdq"],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PdqDihedral,
        name: "pdq-dihedral",
        key: "pdq_dihedral",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PdqTrimmed,
        name: "pdq-trimmed",
        key: "pdq_trimmed",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        // Against the stored PDQ: 0 false pairs at 39, the first at 82, as plain PDQ.
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PdqEmbedded,
        name: "pdq-embedded",
        key: "pdq_embedded",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        // Against the stored PDQ: 0 false pairs at 39, the first at 90.
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PdqCaptioned,
        name: "pdq-captioned",
        key: "pdq_captioned",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        // Against the stored PDQ: 0 false pairs at 39, the first at 86.
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PdqStraightened,
        name: "pdq-straightened",
        key: "pdq_straightened",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Rgb,
        // Against the stored PDQ: 0 false pairs at 39, the first (2) at 88.
        default_threshold: PDQ_THRESHOLD,
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::AHash,
        name: "ahash",
        key: "ahash",
        aliases: &["average-hash"],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // 0 of 1,328,250 pairs at 0 (recall 28.9 %); 34 already at 2.
        default_threshold: Some(0),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: false,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::DHash,
        name: "dhash",
        key: "dhash",
        aliases: &[],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // The largest with 0 false pairs (recall 41.8 %); 8 at 5.
        default_threshold: Some(4),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::DHashVertical,
        name: "dhash-vertical",
        key: "dhash_vertical",
        aliases: &[],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // 0 false pairs at 0 (recall 25.1 %); 1 at 1.
        default_threshold: Some(0),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PHash,
        name: "phash",
        key: "phash",
        aliases: &[],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // 0 false pairs at 10 (recall 49.4 %); 11 measures the same (as every odd threshold
        // does the even one below), 4 false pairs at 12.
        default_threshold: Some(10),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PHashMirrored,
        name: "phash-mirrored",
        key: "phash_mirrored",
        aliases: &[],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // Against the stored pHash, at pHash's threshold: 0 false pairs at 10 and 11, 7 at 12.
        default_threshold: Some(10),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: false,
    },
    AlgorithmInfo {
        algorithm: Algorithm::PHash16,
        name: "phash16",
        key: "phash16",
        aliases: &[],
        bits: 256,
        family: Family::Perceptual256,
        input: Input::Grey,
        // 0 false pairs at 40 (recall 39.9 %); 1 at 80.
        default_threshold: Some(40),
        fp_rate_per_pair: NO_FALSE_PAIR,
        matched_by_default: true,
        default: false,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::WHash,
        name: "whash",
        key: "whash",
        aliases: &["whash-haar"],
        bits: 64,
        family: Family::Perceptual64,
        input: Input::Grey,
        // 2 false pairs already at 0 (recall 30.7 %).
        default_threshold: Some(0),
        fp_rate_per_pair: Some(FpRate {
            false_pairs: 2,
            pairs: MEASURED_PAIRS,
            // 6.296 / 1,381,380 = 4.56e-6.
            upper_bound: 4.6e-6,
        }),
        matched_by_default: false,
        default: false,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::Md5,
        name: "md5",
        key: "md5",
        aliases: &["photo-md5"],
        bits: 128,
        family: Family::Digest,
        input: Input::Bytes,
        default_threshold: None,
        fp_rate_per_pair: None,
        matched_by_default: true,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::Sha1,
        name: "sha1",
        key: "sha1",
        aliases: &[],
        bits: 160,
        family: Family::Digest,
        input: Input::Bytes,
        default_threshold: None,
        fp_rate_per_pair: None,
        matched_by_default: true,
        default: false,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::Sha256,
        name: "sha256",
        key: "sha256",
        aliases: &["sha-256"],
        bits: 256,
        family: Family::Digest,
        input: Input::Bytes,
        default_threshold: None,
        fp_rate_per_pair: None,
        matched_by_default: true,
        default: true,
        listable: true,
    },
    AlgorithmInfo {
        algorithm: Algorithm::Vpdq,
        name: "vpdq",
        key: "vpdq",
        aliases: &[],
        bits: 256,
        family: Family::Video,
        input: Input::Video,
        // A video's frames match at the vPDQ reference's frame threshold (31), not the photo one.
        default_threshold: Some(crate::pdq::PDQ_MATCH_THRESHOLD_BITS),
        fp_rate_per_pair: None,
        matched_by_default: true,
        default: false,
        listable: false,
    },
];

impl Algorithm {
    /// How many algorithms there are.
    pub const COUNT: usize = 17;

    /// Every algorithm, in output order.
    pub const ALL: [Algorithm; Algorithm::COUNT] = {
        let mut all = [Algorithm::Pdq; Algorithm::COUNT];
        let mut i = 0;
        while i < Algorithm::COUNT {
            all[i] = TABLE[i].algorithm;
            i += 1;
        }
        all
    };

    /// Its row of the registry.
    pub const fn info(self) -> &'static AlgorithmInfo {
        &TABLE[self as usize]
    }

    /// The name on the command line and in the JS API (`pdq-dihedral`).
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// The JSON key of its result (`pdq_dihedral`).
    pub const fn key(self) -> &'static str {
        self.info().key
    }

    /// Bits of one hash.
    pub const fn bits(self) -> u32 {
        self.info().bits
    }

    /// Hex characters of one hash (of one frame for vPDQ, of one variant for the dihedral set).
    pub const fn hex_len(self) -> usize {
        (self.info().bits / 4) as usize
    }

    pub const fn family(self) -> Family {
        self.info().family
    }

    /// What it reads: RGB pixels (PDQ), Pillow's grey image, the bytes, or a video's frames.
    pub const fn input(self) -> Input {
        self.info().input
    }

    /// The default match threshold in bits (`None`: equality).
    pub const fn match_threshold(self) -> Option<u32> {
        self.info().default_threshold
    }

    /// The false positives measured at the default threshold (`None`: not measured).
    pub const fn fp_rate_per_pair(self) -> Option<FpRate> {
        self.info().fp_rate_per_pair
    }

    /// Whether a server bank matches by it unless its operator turns it off.
    pub const fn matched_by_default(self) -> bool {
        self.info().matched_by_default
    }

    /// Whether it reads decoded pixels (else the bytes as they are, or a video's frames).
    pub const fn needs_pixels(self) -> bool {
        matches!(self.info().input, Input::Rgb | Input::Grey)
    }

    /// Whether values compare by Hamming distance (else by equality or, for vPDQ, by frames).
    pub const fn is_perceptual(self) -> bool {
        matches!(
            self.info().family,
            Family::Perceptual256 | Family::Perceptual64
        )
    }

    /// Whether it is a digest of the bytes.
    pub const fn is_digest(self) -> bool {
        matches!(self.info().family, Family::Digest)
    }

    /// The algorithm of the entries its values are matched against: PDQ for the dihedral
    /// variants, the trimmed, the embedded, the captioned and the straightened PDQ; pHash for
    /// the mirrored pHash; else itself.
    pub const fn entry_algorithm(self) -> Algorithm {
        match self {
            Algorithm::PdqDihedral
            | Algorithm::PdqTrimmed
            | Algorithm::PdqEmbedded
            | Algorithm::PdqCaptioned
            | Algorithm::PdqStraightened => Algorithm::Pdq,
            Algorithm::PHashMirrored => Algorithm::PHash,
            other => other,
        }
    }

    /// Parses a name, a JSON key or an alias: case-insensitive, `_` and `-` alike
    /// (`pdq_dihedral`, `PDQ-Dihedral`, `photo_pdq`).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let wanted = name.trim();
        let same = |candidate: &str| {
            candidate.len() == wanted.len()
                && candidate.bytes().zip(wanted.bytes()).all(|(c, w)| {
                    let w = match w.to_ascii_lowercase() {
                        b'_' => b'-',
                        w => w,
                    };
                    c == w
                })
        };
        TABLE
            .iter()
            .find(|row| same(row.name) || row.aliases.iter().any(|a| same(a)))
            .map(|row| row.algorithm)
    }

    /// The names of the algorithms that satisfy `keep`, comma-separated, for messages.
    pub fn names_where(keep: impl Fn(&AlgorithmInfo) -> bool) -> String {
        TABLE
            .iter()
            .filter(|row| keep(row))
            .map(|row| row.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A set of algorithms, iterated in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u32);

const _: () = assert!(Algorithm::COUNT <= 32, "AlgorithmSet holds 32 bits");

impl AlgorithmSet {
    /// The empty set.
    pub const fn empty() -> Self {
        AlgorithmSet(0)
    }

    /// Whether `a` is in the set.
    pub const fn contains(self, a: Algorithm) -> bool {
        self.0 & (1 << a as u32) != 0
    }

    /// The set with `a` added.
    pub const fn with(self, a: Algorithm) -> Self {
        AlgorithmSet(self.0 | (1 << a as u32))
    }

    /// The set without `a`.
    pub const fn without(self, a: Algorithm) -> Self {
        AlgorithmSet(self.0 & !(1 << a as u32))
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in output order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// Whether any member satisfies `f`.
    pub fn any(self, f: impl Fn(Algorithm) -> bool) -> bool {
        self.iter().any(f)
    }

    /// Parses a comma-separated list of what a file can be hashed with (`pdq,phash,md5`); an
    /// unknown name, or one that is not computed from a file (vPDQ), is an error that names it.
    pub fn parse(list: &str) -> Result<Self, CallerError> {
        let unknown = |found: &str| CallerError::UnknownAlgorithm {
            found: found.chars().take(64).collect(),
        };
        let mut set = AlgorithmSet::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let a = Algorithm::from_name(name)
                .filter(|a| a.info().input != Input::Video)
                .ok_or_else(|| unknown(name))?;
            set = set.with(a);
        }
        if set.is_empty() {
            return Err(unknown(list));
        }
        Ok(set)
    }
}

impl Default for AlgorithmSet {
    /// The registry's default set: `pdq,ahash,dhash,phash,md5,sha256`.
    fn default() -> Self {
        TABLE
            .iter()
            .filter(|row| row.default)
            .map(|row| row.algorithm)
            .collect()
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::empty(), AlgorithmSet::with)
    }
}

/// A value per algorithm, at most one each, iterated in output order; serialises as a JSON
/// object keyed by [`Algorithm::key`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AlgorithmMap<T> {
    slots: [Option<T>; Algorithm::COUNT],
}

impl<T> AlgorithmMap<T> {
    /// The empty map.
    pub fn new() -> Self {
        AlgorithmMap {
            slots: std::array::from_fn(|_| None),
        }
    }

    pub fn get(&self, a: Algorithm) -> Option<&T> {
        self.slots[a as usize].as_ref()
    }

    pub fn get_mut(&mut self, a: Algorithm) -> Option<&mut T> {
        self.slots[a as usize].as_mut()
    }

    /// Sets `a`'s value and returns the one it had.
    pub fn insert(&mut self, a: Algorithm, value: T) -> Option<T> {
        self.slots[a as usize].replace(value)
    }

    pub fn remove(&mut self, a: Algorithm) -> Option<T> {
        self.slots[a as usize].take()
    }

    pub fn contains(&self, a: Algorithm) -> bool {
        self.slots[a as usize].is_some()
    }

    /// `a`'s value, made with `make` if there is none yet.
    pub fn get_or_insert_with(&mut self, a: Algorithm, make: impl FnOnce() -> T) -> &mut T {
        self.slots[a as usize].get_or_insert_with(make)
    }

    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// The algorithms that have a value.
    pub fn keys(&self) -> AlgorithmSet {
        self.iter().map(|(a, _)| a).collect()
    }

    /// `(algorithm, value)` pairs in output order.
    pub fn iter(&self) -> impl Iterator<Item = (Algorithm, &T)> {
        Algorithm::ALL
            .into_iter()
            .zip(self.slots.iter())
            .filter_map(|(a, v)| Some((a, v.as_ref()?)))
    }

    /// `(algorithm, value)` pairs in output order, the values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Algorithm, &mut T)> {
        Algorithm::ALL
            .into_iter()
            .zip(self.slots.iter_mut())
            .filter_map(|(a, v)| Some((a, v.as_mut()?)))
    }
}

impl<T> Default for AlgorithmMap<T> {
    fn default() -> Self {
        AlgorithmMap::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for AlgorithmMap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<T> FromIterator<(Algorithm, T)> for AlgorithmMap<T> {
    fn from_iter<I: IntoIterator<Item = (Algorithm, T)>>(iter: I) -> Self {
        let mut map = AlgorithmMap::new();
        for (a, v) in iter {
            map.insert(a, v);
        }
        map
    }
}

impl<T: Serialize> Serialize for AlgorithmMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (a, v) in self.iter() {
            map.serialize_entry(a.key(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_sits_at_its_enum_position() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.algorithm as usize, i, "{}", row.name);
            assert_eq!(Algorithm::ALL[i], row.algorithm);
        }
    }

    #[test]
    fn names_keys_and_aliases_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for row in &TABLE {
            for name in [row.name].iter().chain(row.aliases) {
                assert!(seen.insert(*name), "{name} names two algorithms");
            }
            assert_eq!(row.key, row.name.replace('-', "_"));
            assert_eq!(Algorithm::from_name(row.name), Some(row.algorithm));
            assert_eq!(Algorithm::from_name(row.key), Some(row.algorithm));
            assert_eq!(
                Algorithm::from_name(&row.name.to_ascii_uppercase()),
                Some(row.algorithm)
            );
            for alias in row.aliases {
                assert_eq!(Algorithm::from_name(alias), Some(row.algorithm));
            }
        }
        assert_eq!(Algorithm::from_name("photo_PDQ"), Some(Algorithm::Pdq));
        assert_eq!(Algorithm::from_name("pdq2"), None);
        assert_eq!(Algorithm::from_name(""), None);
    }

    #[test]
    fn the_default_set_is_the_documented_one() {
        let names: Vec<_> = AlgorithmSet::default()
            .iter()
            .map(Algorithm::name)
            .collect();
        assert_eq!(names, ["pdq", "ahash", "dhash", "phash", "md5", "sha256"]);
    }

    #[test]
    fn sets_parse_names_and_refuse_what_a_file_cannot_give() {
        let set = AlgorithmSet::parse(" pdq_dihedral, MD5 ,,phash").unwrap();
        let names: Vec<_> = set.iter().map(Algorithm::name).collect();
        assert_eq!(names, ["pdq-dihedral", "phash", "md5"]);
        assert!(matches!(
            AlgorithmSet::parse("pdq,vpdq"),
            Err(CallerError::UnknownAlgorithm { found }) if found == "vpdq"
        ));
        assert!(AlgorithmSet::parse(" , ").is_err());
    }

    #[test]
    fn maps_iterate_and_serialise_in_output_order() {
        let mut map = AlgorithmMap::new();
        map.insert(Algorithm::Sha256, 3);
        map.insert(Algorithm::Pdq, 1);
        map.insert(Algorithm::DHashVertical, 2);
        assert_eq!(map.len(), 3);
        let keys: Vec<_> = map.iter().map(|(a, v)| (a.key(), *v)).collect();
        assert_eq!(keys, [("pdq", 1), ("dhash_vertical", 2), ("sha256", 3)]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"pdq":1,"dhash_vertical":2,"sha256":3}"#
        );
        assert_eq!(map.remove(Algorithm::Pdq), Some(1));
        assert!(!map.contains(Algorithm::Pdq));
    }

    /// The smallest rate whose Poisson chance of `k` or fewer events in `n` trials is 5 %:
    /// the exact 95 % upper bound on a rate of which `k` events were seen (by bisection).
    fn poisson_upper_95(k: u32, n: u64) -> f64 {
        let cdf = |mean: f64| {
            let mut term = (-mean).exp();
            let mut sum = term;
            for i in 1..=k {
                term *= mean / f64::from(i);
                sum += term;
            }
            sum
        };
        let (mut lo, mut hi) = (0.0f64, 100.0f64);
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if cdf(mid) > 0.05 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi / n as f64
    }

    #[test]
    fn measured_rates_are_the_benchmarks_at_the_default_thresholds() {
        let result: serde_json::Value = serde_json::from_str(include_str!(
            "../bench/results/accuracy/2026-12-03-d90d1a5.json"
        ))
        .unwrap();
        assert!(FP_RATE_SOURCE.ends_with("2026-12-03-d90d1a5.md"));
        let pairs = result["impostor_pairs"].as_u64().unwrap();
        let mut measured = 0;
        for row in &TABLE {
            let Some(fp) = row.fp_rate_per_pair else {
                assert!(!row.algorithm.is_perceptual(), "{} has no rate", row.name);
                continue;
            };
            let t = row.default_threshold.unwrap();
            let at_t = result["algorithms"][row.key]["thresholds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["threshold"] == t)
                .unwrap_or_else(|| panic!("{} has no measurement at {t}", row.name));
            assert_eq!(fp.pairs, pairs, "{}", row.name);
            assert_eq!(u64::from(fp.false_pairs), at_t["fp_pairs"], "{}", row.name);
            let exact = poisson_upper_95(fp.false_pairs, fp.pairs);
            // Rounded up to two significant digits, never down.
            assert!(
                fp.upper_bound >= exact && fp.upper_bound < exact * 1.05,
                "{}: {} for {exact}",
                row.name,
                fp.upper_bound
            );
            measured += 1;
        }
        assert_eq!(measured, 13);
        assert!((poisson_upper_95(0, pairs) - 2.1687e-6).abs() < 1e-9);
    }

    #[test]
    fn ahash_and_whash_are_not_matched_by_default() {
        let off: Vec<_> = TABLE
            .iter()
            .filter(|row| !row.matched_by_default)
            .map(|row| row.name)
            .collect();
        assert_eq!(off, ["ahash", "whash"]);
    }
}
