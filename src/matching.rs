//! The one place that decides a match: the policy (a threshold per algorithm, PDQ's quality
//! gate), the query (one image's values, with the searches they make: the dihedral variants
//! and the trimmed PDQ against PDQ entries) and [`match_against`] any index of entries. The CLI's `match` and
//! `compare` and the server all decide through here.
//!
//! The rules, as the ecosystem applies them (ThreatExchange's PDQ notes, HMA):
//! - perceptual hashes match at a Hamming distance at or below the algorithm's threshold
//!   ([`crate::algorithm::AlgorithmInfo::default_threshold`] unless the policy sets another);
//! - digests match only when equal;
//! - PDQ hashes (and their dihedral variants) under quality [`PDQ_MIN_QUALITY`] are not
//!   matchable at all: such images are flat or tiny and their hashes collide;
//! - an entry matched by several searches of one query counts once, at its smallest distance
//!   (the plain hash before a variant at the same distance).

use std::collections::BTreeMap;

use crate::algorithm::{Algorithm, AlgorithmMap, Family};
use crate::hash::HashValue;
use crate::index::EntryId;
use crate::pdq::{Dihedral, PDQ_MIN_QUALITY};
use crate::pipeline::FileHashes;

/// What counts as a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    thresholds: AlgorithmMap<u32>,
    /// PDQ hashes under this quality are not matchable.
    pub min_pdq_quality: u8,
}

impl Default for Policy {
    /// The registry's default threshold for every perceptual algorithm; PDQ quality 50.
    fn default() -> Self {
        Policy {
            thresholds: Algorithm::ALL
                .into_iter()
                .filter_map(|a| Some((a, a.match_threshold()?)))
                .collect(),
            min_pdq_quality: PDQ_MIN_QUALITY,
        }
    }
}

impl Policy {
    /// The policy with `a`'s threshold set to `bits` (ignored for digests, which only match
    /// when equal).
    pub fn with_threshold(mut self, a: Algorithm, bits: u32) -> Self {
        if a.is_perceptual() || a.family() == Family::Video {
            self.thresholds.insert(a, bits);
        }
        self
    }

    /// The policy with every perceptual threshold set by `f(algorithm, current)`.
    pub fn map_thresholds(mut self, f: impl Fn(Algorithm, u32) -> u32) -> Self {
        for (a, t) in self.thresholds.iter_mut() {
            *t = f(a, *t);
        }
        self
    }

    /// The distance at or below which values of `a` match; `None`: only equal values do.
    pub fn threshold(&self, a: Algorithm) -> Option<u32> {
        self.thresholds.get(a).copied()
    }

    /// Whether two values of `a` at `distance` match.
    pub fn is_match(&self, a: Algorithm, distance: u32) -> bool {
        match self.threshold(a) {
            Some(t) => distance <= t,
            None => distance == 0,
        }
    }

    /// Whether a PDQ-family value of this quality may be matched.
    pub fn pdq_quality_ok(&self, quality: Option<u8>) -> bool {
        quality.is_none_or(|q| q >= self.min_pdq_quality)
    }

    /// Compares two values of one algorithm: their distance and the verdict. `quality` is the
    /// lower PDQ quality of the two sides, where known.
    pub fn compare(
        &self,
        a: Algorithm,
        x: &HashValue,
        y: &HashValue,
        quality: Option<u8>,
    ) -> Option<Comparison> {
        let distance = x.distance(y).or_else(|| {
            // Digests have no distance; different ones are simply different.
            (a.is_digest() && std::mem::discriminant(x) == std::mem::discriminant(y)).then_some(1)
        })?;
        let verdict = if uses_pdq_quality(a) && !self.pdq_quality_ok(quality) {
            Verdict::LowQuality
        } else if self.is_match(a, distance) {
            Verdict::Match
        } else {
            Verdict::NoMatch
        };
        Some(Comparison {
            distance: self.threshold(a).map(|_| distance),
            threshold: self.threshold(a),
            verdict,
        })
    }
}

/// Whether `a`'s values carry PDQ's quality gate.
fn uses_pdq_quality(a: Algorithm) -> bool {
    matches!(
        a,
        Algorithm::Pdq
            | Algorithm::PdqDihedral
            | Algorithm::PdqTrimmed
            | Algorithm::PdqEmbedded
            | Algorithm::PdqCaptioned
            | Algorithm::PdqStraightened
    )
}

/// Which of a query's PDQ variants found an entry: a dihedral variant, or the picture inside
/// its uniform borders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Dihedral(Dihedral),
    Trimmed,
    /// The largest picture embedded in a screenshot-like frame (`src/embedded.rs`).
    Embedded,
    /// The picture without its caption bands (`src/caption.rs`).
    Captioned,
    /// The picture turned back upright (`src/straighten.rs`).
    Straightened,
    /// The image mirrored left to right (the mirrored pHash).
    Mirrored,
}

impl Variant {
    /// The name reported with a hit (`rot90`, `trimmed`).
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Dihedral(d) => d.name(),
            Variant::Trimmed => "trimmed",
            Variant::Embedded => "embedded",
            Variant::Captioned => "captioned",
            Variant::Straightened => "straightened",
            Variant::Mirrored => "mirrored",
        }
    }
}

/// The outcome of comparing two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The Hamming distance (`None` for digests, whose distance means nothing).
    pub distance: Option<u32>,
    pub threshold: Option<u32>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold (digests: equal).
    Match,
    /// Beyond the threshold (digests: different).
    NoMatch,
    /// A PDQ value under the quality gate: no verdict either way.
    LowQuality,
}

/// One search a query makes: one value against the entries of one algorithm, within a radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The algorithm of the entries searched.
    pub entries: Algorithm,
    /// The algorithm of the query value (the dihedral set searches PDQ entries).
    pub query: Algorithm,
    /// One hash (one variant of the dihedral set).
    pub value: HashValue,
    /// Which variant of the query's PDQ `value` is, when it is one.
    pub variant: Option<Variant>,
    /// The largest distance that matches (0 for digests: equality).
    pub radius: u32,
}

/// Why a query's values of one algorithm were not searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotMatchable {
    pub algorithm: Algorithm,
    pub quality: u8,
    pub min_quality: u8,
}

/// One image's (or item's) values, as a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub values: AlgorithmMap<HashValue>,
    /// PDQ's quality, when the query says it.
    pub pdq_quality: Option<u8>,
}

impl Query {
    /// A file's results as a query.
    pub fn from_file(hashes: &FileHashes) -> Query {
        Query {
            values: hashes.hashes.clone(),
            pdq_quality: hashes.pdq_quality,
        }
    }

    /// The searches this query makes under `policy`, and what it cannot match.
    pub fn probes(&self, policy: &Policy) -> (Vec<Probe>, Option<NotMatchable>) {
        let mut probes = Vec::new();
        let mut not_matchable = None;
        for (a, value) in self.values.iter() {
            if uses_pdq_quality(a) && !policy.pdq_quality_ok(self.pdq_quality) {
                not_matchable = Some(NotMatchable {
                    algorithm: Algorithm::Pdq,
                    quality: self.pdq_quality.unwrap_or(0),
                    min_quality: policy.min_pdq_quality,
                });
                continue;
            }
            let entries = a.entry_algorithm();
            let radius = policy.threshold(entries).unwrap_or(0);
            match value {
                HashValue::PdqDihedral(variants) => {
                    for (hash, variant) in variants.iter().zip(Dihedral::ALL) {
                        probes.push(Probe {
                            entries,
                            query: a,
                            value: HashValue::Pdq(*hash),
                            variant: Some(Variant::Dihedral(variant)),
                            radius,
                        });
                    }
                }
                value => probes.push(Probe {
                    entries,
                    query: a,
                    value: *value,
                    variant: match a {
                        Algorithm::PdqTrimmed => Some(Variant::Trimmed),
                        Algorithm::PdqEmbedded => Some(Variant::Embedded),
                        Algorithm::PdqCaptioned => Some(Variant::Captioned),
                        Algorithm::PdqStraightened => Some(Variant::Straightened),
                        Algorithm::PHashMirrored => Some(Variant::Mirrored),
                        _ => None,
                    },
                    radius,
                }),
            }
        }
        (probes, not_matchable)
    }
}

/// Entries that can be searched: a hash list, a bank's index.
pub trait Searchable {
    /// Every entry of `probe.entries` within `probe.radius` of `probe.value` (digests: equal),
    /// with its distance.
    fn search(&self, probe: &Probe) -> Vec<(EntryId, u32)>;
}

/// A matched entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: EntryId,
    /// The query algorithm that found it at its smallest distance.
    pub algorithm: Algorithm,
    pub distance: u32,
    /// The variant of the query's PDQ that matched, when one did.
    pub variant: Option<Variant>,
}

/// What a query matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// One hit per entry, sorted by distance, then id.
    pub hits: Vec<Hit>,
    pub not_matchable: Option<NotMatchable>,
}

/// Matches `query` against `index` under `policy`.
pub fn match_against(index: &impl Searchable, query: &Query, policy: &Policy) -> Outcome {
    let (probes, not_matchable) = query.probes(policy);
    let mut best: BTreeMap<EntryId, Hit> = BTreeMap::new();
    for probe in &probes {
        for (id, distance) in index.search(probe) {
            let hit = Hit {
                id,
                algorithm: probe.query.entry_algorithm(),
                distance,
                variant: probe.variant,
            };
            let slot = best.entry(id).or_insert(hit);
            // Strictly smaller only: the first search (the plain hash) wins ties.
            if distance < slot.distance {
                *slot = hit;
            }
        }
    }
    let mut hits: Vec<Hit> = best.into_values().collect();
    hits.sort_by_key(|h| (h.distance, h.id));
    Outcome {
        hits,
        not_matchable,
    }
}

/// A plain list of entries searched one by one: right for hash lists of a few thousand lines
/// (a bank of millions wants [`crate::index::Index`]).
#[derive(Debug, Clone, Default)]
pub struct EntryList {
    entries: Vec<(Algorithm, HashValue)>,
}

impl EntryList {
    pub fn new() -> Self {
        EntryList::default()
    }

    /// Adds an entry; its id is its position.
    pub fn push(&mut self, algorithm: Algorithm, value: HashValue) -> EntryId {
        self.entries.push((algorithm, value));
        EntryId(self.entries.len() as u64 - 1)
    }
}

impl Searchable for EntryList {
    fn search(&self, probe: &Probe) -> Vec<(EntryId, u32)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, (a, _))| *a == probe.entries)
            .filter_map(|(i, (_, v))| {
                let d = v.distance(&probe.value)?;
                (d <= probe.radius).then_some((EntryId(i as u64), d))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::PdqHash;

    fn pdq(bytes: [u8; 32]) -> HashValue {
        HashValue::Pdq(PdqHash::from_bytes(bytes))
    }

    fn flipped(bits: usize) -> [u8; 32] {
        let mut b = [0u8; 32];
        for k in 0..bits {
            b[k / 8] |= 1 << (k % 8);
        }
        b
    }

    #[test]
    fn thresholds_come_from_the_registry_and_digests_need_equality() {
        let p = Policy::default();
        assert_eq!(p.threshold(Algorithm::Pdq), Some(39));
        assert_eq!(p.threshold(Algorithm::Md5), None);
        assert!(p.is_match(Algorithm::Pdq, 39) && !p.is_match(Algorithm::Pdq, 40));
        assert!(p.is_match(Algorithm::Md5, 0) && !p.is_match(Algorithm::Md5, 1));
        let p = p
            .with_threshold(Algorithm::Md5, 9)
            .with_threshold(Algorithm::Pdq, 20);
        assert_eq!(p.threshold(Algorithm::Md5), None);
        assert_eq!(p.threshold(Algorithm::Pdq), Some(20));
    }

    #[test]
    fn an_entry_counts_once_at_its_smallest_distance_plain_first() {
        let mut list = EntryList::new();
        let near = list.push(Algorithm::Pdq, pdq(flipped(3)));
        let far = list.push(Algorithm::Pdq, pdq(flipped(40)));
        let mut query = Query::default();
        query.values.insert(Algorithm::Pdq, pdq([0; 32]));
        let mut variants = [PdqHash::ZERO; 8];
        variants[2] = PdqHash::from_bytes(flipped(38));
        query
            .values
            .insert(Algorithm::PdqDihedral, HashValue::PdqDihedral(variants));
        query.pdq_quality = Some(90);
        let out = match_against(&list, &query, &Policy::default());
        assert_eq!(out.hits.len(), 2);
        // Variant rot180 is 2 bits from the far entry (the plain hash is 40 away): it sorts first.
        assert_eq!(
            out.hits[0],
            Hit {
                id: far,
                algorithm: Algorithm::Pdq,
                distance: 2,
                variant: Some(Variant::Dihedral(Dihedral::Rotate180))
            }
        );
        // Seven variants are as near as the plain hash (3 bits): the plain hash wins the tie.
        assert_eq!(
            out.hits[1],
            Hit {
                id: near,
                algorithm: Algorithm::Pdq,
                distance: 3,
                variant: None
            }
        );
    }

    #[test]
    fn the_trimmed_pdq_searches_pdq_entries_and_names_its_variant() {
        let mut list = EntryList::new();
        let stored = list.push(Algorithm::Pdq, pdq(flipped(60)));
        let other = list.push(Algorithm::Pdq, pdq([0; 32]));
        let mut query = Query::default();
        query.values.insert(Algorithm::Pdq, pdq([0xff; 32]));
        query.values.insert(Algorithm::PdqTrimmed, pdq(flipped(64)));
        query.pdq_quality = Some(80);
        let out = match_against(&list, &query, &Policy::default());
        // 4 bits from the stored picture; 64 from the other entry and the plain hash misses both.
        assert_eq!(
            out.hits,
            [Hit {
                id: stored,
                algorithm: Algorithm::Pdq,
                distance: 4,
                variant: Some(Variant::Trimmed)
            }]
        );
        assert_eq!(Variant::Trimmed.name(), "trimmed");
        assert_ne!(stored, other);
        // Under the quality gate it is not searched either.
        query.pdq_quality = Some(49);
        assert!(match_against(&list, &query, &Policy::default())
            .hits
            .is_empty());
    }

    #[test]
    fn low_quality_pdq_is_not_matchable_but_other_values_are() {
        let mut list = EntryList::new();
        list.push(Algorithm::Pdq, pdq([0; 32]));
        let md5 = HashValue::from_hex(Algorithm::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap();
        let id = list.push(Algorithm::Md5, md5);
        let mut query = Query::default();
        query.values.insert(Algorithm::Pdq, pdq([0; 32]));
        query.values.insert(Algorithm::Md5, md5);
        query.pdq_quality = Some(49);
        let out = match_against(&list, &query, &Policy::default());
        assert_eq!(out.hits.iter().map(|h| h.id).collect::<Vec<_>>(), [id]);
        assert_eq!(
            out.not_matchable,
            Some(NotMatchable {
                algorithm: Algorithm::Pdq,
                quality: 49,
                min_quality: 50
            })
        );
    }

    #[test]
    fn comparisons_give_distance_threshold_and_verdict() {
        let p = Policy::default();
        let (x, y) = (pdq([0; 32]), pdq(flipped(39)));
        let c = p.compare(Algorithm::Pdq, &x, &y, Some(100)).unwrap();
        assert_eq!((c.distance, c.verdict), (Some(39), Verdict::Match));
        let c = p.compare(Algorithm::Pdq, &x, &y, Some(10)).unwrap();
        assert_eq!(c.verdict, Verdict::LowQuality);
        let a = HashValue::from_hex(Algorithm::Md5, &"a".repeat(32)).unwrap();
        let b = HashValue::from_hex(Algorithm::Md5, &"b".repeat(32)).unwrap();
        let c = p.compare(Algorithm::Md5, &a, &b, None).unwrap();
        assert_eq!((c.distance, c.verdict), (None, Verdict::NoMatch));
        assert!(p.compare(Algorithm::Md5, &a, &x, None).is_none());
    }
}
