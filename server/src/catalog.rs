//! The in-memory matching state: one exact Hamming index per perceptual bank algorithm (keyed by
//! the registry; 256-bit for PDQ, 64-bit for the 8x8 imagehashes), hash maps for the digests and
//! a frame index for vPDQ, plus what each entry is. It is what `pixelprint::matching` searches.
//!
//! It follows the storage's change log: [`Catalog::apply`] takes the log's rows in order, so a
//! process's own writes and other processes' reach the index the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use pixelprint::hash::HashValue;
use pixelprint::index::{Code, Code64, EntryId, Index, IndexError, RebuildJob, Rebuilt};
use pixelprint::matching::{Probe, Searchable};
use pixelprint::video::{match_vpdq, VpdqFeature, VpdqMatch, VpdqMatchOptions};
use pixelprint::{Algorithm, AlgorithmMap, Family, PdqHash};

use crate::model::{is_bank_algorithm, parse_vpdq, ChangeOp, StoredEntry, BANK_ALGORITHMS};

/// Frame ids in the vPDQ frame index: the video's entry id above, the frame's position below.
const FRAME_BITS: u32 = 20;

fn frame_id(video: i64, k: usize) -> EntryId {
    EntryId(((video as u64) << FRAME_BITS) | k as u64)
}

fn video_of(frame: EntryId) -> i64 {
    (frame.0 >> FRAME_BITS) as i64
}

/// The frames of a video that can match (quality at least 50), with their frame ids.
fn indexed_frames(
    video: i64,
    features: &[VpdqFeature],
) -> impl Iterator<Item = (EntryId, PdqHash)> + '_ {
    features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_matchable())
        .map(move |(k, f)| (frame_id(video, k), f.hash))
}

/// A video that matches a vPDQ query.
#[derive(Clone, Debug)]
pub struct VideoHit {
    pub id: i64,
    /// The smallest distance between a query frame and one of the video's frames.
    pub distance: u32,
    pub result: VpdqMatch,
}

/// What the index knows of an entry.
#[derive(Clone, Debug)]
pub struct EntryInfo {
    pub bank: Arc<str>,
    pub algorithm: Algorithm,
}

/// A hit: the entry and its distance (0 for digests).
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub id: i64,
    pub distance: u32,
}

/// The exact Hamming index of one perceptual algorithm, by the width of its hashes.
#[derive(Clone)]
pub enum HashIndex {
    /// 256-bit hashes (PDQ).
    Bits256(Index<PdqHash>),
    /// 64-bit hashes (the 8x8 imagehash family).
    Bits64(Index<Code64>),
}

/// A [`HashIndex`]'s rebuild in progress.
pub enum HashIndexJob {
    Bits256(RebuildJob<PdqHash>),
    Bits64(RebuildJob<Code64>),
}

/// A [`HashIndex`]'s rebuilt base.
pub enum HashIndexRebuilt {
    Bits256(Rebuilt<PdqHash>),
    Bits64(Rebuilt<Code64>),
}

/// A value as an index code: PDQ hashes as they are, 8x8 imagehashes as their 64-bit integer.
enum IndexCode {
    Bits256(PdqHash),
    Bits64(Code64),
}

fn index_code(value: &HashValue) -> Option<IndexCode> {
    match value {
        HashValue::Pdq(h) => Some(IndexCode::Bits256(*h)),
        HashValue::Bits(b) => b.as_u64().map(|v| IndexCode::Bits64(Code64(v))),
        HashValue::PdqDihedral(_) | HashValue::Digest(_) => None,
    }
}

/// The code of a stored perceptual entry (`None` if the stored text is not one).
fn stored_code(e: &StoredEntry) -> Option<IndexCode> {
    index_code(&HashValue::from_hex(e.algorithm, &e.hash).ok()?)
}

impl HashIndex {
    /// The index for `a`'s hashes, built from `codes` (those of another width are left out);
    /// `None` for the algorithms not matched by Hamming distance.
    fn build(a: Algorithm, codes: Vec<(EntryId, IndexCode)>) -> Option<Result<Self, IndexError>> {
        let index = match a.family() {
            Family::Perceptual256 => Index::build(
                codes
                    .into_iter()
                    .filter_map(|(id, c)| match c {
                        IndexCode::Bits256(h) => Some((id, h)),
                        IndexCode::Bits64(_) => None,
                    })
                    .collect(),
            )
            .map(HashIndex::Bits256),
            Family::Perceptual64 => Index::build(
                codes
                    .into_iter()
                    .filter_map(|(id, c)| match c {
                        IndexCode::Bits64(h) => Some((id, h)),
                        IndexCode::Bits256(_) => None,
                    })
                    .collect(),
            )
            .map(HashIndex::Bits64),
            Family::Digest | Family::Video => return None,
        };
        Some(index)
    }

    /// An empty index for `a`'s hashes (`None` for the algorithms not matched by distance).
    fn empty(a: Algorithm) -> Option<Self> {
        match a.family() {
            Family::Perceptual256 => Some(HashIndex::Bits256(Index::default())),
            Family::Perceptual64 => Some(HashIndex::Bits64(Index::default())),
            Family::Digest | Family::Video => None,
        }
    }

    fn insert(&mut self, id: EntryId, code: IndexCode) {
        match (self, code) {
            (HashIndex::Bits256(i), IndexCode::Bits256(h)) => {
                i.insert(id, h);
            }
            (HashIndex::Bits64(i), IndexCode::Bits64(h)) => {
                i.insert(id, h);
            }
            _ => {}
        }
    }

    fn remove(&mut self, id: EntryId) {
        match self {
            HashIndex::Bits256(i) => i.remove(id),
            HashIndex::Bits64(i) => i.remove(id),
        };
    }

    fn search(&self, value: &HashValue, radius: u32) -> Vec<pixelprint::index::Match> {
        match (self, index_code(value)) {
            (HashIndex::Bits256(i), Some(IndexCode::Bits256(h))) => i.search(&h, radius),
            (HashIndex::Bits64(i), Some(IndexCode::Bits64(h))) => i.search(&h, radius),
            _ => Vec::new(),
        }
    }

    fn pending(&self) -> usize {
        fn p<C: Code>(i: &Index<C>) -> usize {
            let s = i.stats();
            s.delta_entries + s.tombstones
        }
        match self {
            HashIndex::Bits256(i) => p(i),
            HashIndex::Bits64(i) => p(i),
        }
    }

    fn begin_rebuild(&mut self) -> HashIndexJob {
        match self {
            HashIndex::Bits256(i) => HashIndexJob::Bits256(i.begin_rebuild()),
            HashIndex::Bits64(i) => HashIndexJob::Bits64(i.begin_rebuild()),
        }
    }

    fn finish_rebuild(&mut self, rebuilt: HashIndexRebuilt) -> Result<(), IndexError> {
        match (self, rebuilt) {
            (HashIndex::Bits256(i), HashIndexRebuilt::Bits256(r)) => i.finish_rebuild(r),
            (HashIndex::Bits64(i), HashIndexRebuilt::Bits64(r)) => i.finish_rebuild(r),
            _ => Err(IndexError::StaleRebuild),
        }
    }
}

impl HashIndexJob {
    fn run(self) -> HashIndexRebuilt {
        match self {
            HashIndexJob::Bits256(j) => HashIndexRebuilt::Bits256(j.run()),
            HashIndexJob::Bits64(j) => HashIndexRebuilt::Bits64(j.run()),
        }
    }
}

/// A rebuild of every index of the catalog: begun under the writer's lock
/// ([`Catalog::begin_rebuild`]), run with no lock held, finished under the lock again.
pub struct CatalogRebuild {
    indexes: AlgorithmMap<HashIndexJob>,
    frames: RebuildJob<PdqHash>,
}

/// What [`CatalogRebuild::run`] built.
pub struct CatalogRebuilt {
    indexes: AlgorithmMap<HashIndexRebuilt>,
    frames: Rebuilt<PdqHash>,
}

impl CatalogRebuild {
    /// The heavy part: builds the new bases.
    pub fn run(self) -> CatalogRebuilt {
        let CatalogRebuild {
            indexes: mut jobs,
            frames,
        } = self;
        let mut indexes = AlgorithmMap::new();
        for a in BANK_ALGORITHMS {
            if let Some(job) = jobs.remove(a) {
                indexes.insert(a, job.run());
            }
        }
        CatalogRebuilt {
            indexes,
            frames: frames.run(),
        }
    }
}

#[derive(Clone)]
pub struct Catalog {
    /// One exact Hamming index per perceptual bank algorithm.
    indexes: AlgorithmMap<HashIndex>,
    /// Every usable frame of every stored video (see [`frame_id`]).
    vpdq_frames: Index<PdqHash>,
    videos: HashMap<i64, Arc<[VpdqFeature]>>,
    digests: HashMap<(Algorithm, String), BTreeSet<i64>>,
    /// Bank and algorithm of every live entry. The hashes themselves live in the indexes
    /// (and, for digests, in `digests` and `digest_of`), not here: at tens of millions of
    /// entries a copy of each hex string costs gigabytes.
    entries: HashMap<i64, EntryInfo>,
    /// The hex of each digest entry, to find its set in `digests` when it is removed.
    digest_of: HashMap<i64, String>,
    banks: HashMap<String, Arc<str>>,
    /// Live entries per bank and algorithm (what a bank's expected false hits scale with).
    bank_counts: HashMap<Arc<str>, AlgorithmMap<usize>>,
}

impl Default for Catalog {
    /// An empty index for every perceptual bank algorithm.
    fn default() -> Self {
        Catalog {
            indexes: BANK_ALGORITHMS
                .into_iter()
                .filter_map(|a| Some((a, HashIndex::empty(a)?)))
                .collect(),
            vpdq_frames: Index::default(),
            videos: HashMap::new(),
            digests: HashMap::new(),
            entries: HashMap::new(),
            digest_of: HashMap::new(),
            banks: HashMap::new(),
            bank_counts: HashMap::new(),
        }
    }
}

impl Catalog {
    /// A catalog of `entries`, with the indexes built in one go.
    pub fn build(entries: Vec<StoredEntry>) -> Result<Catalog, IndexError> {
        let mut codes: AlgorithmMap<Vec<(EntryId, IndexCode)>> = AlgorithmMap::new();
        let mut frames = vec![];
        let mut videos = HashMap::new();
        let mut remembered = Vec::with_capacity(entries.len());
        for e in entries {
            let id = EntryId(e.id as u64);
            if e.algorithm == Algorithm::Vpdq {
                if let Ok(features) = parse_vpdq(&e.hash) {
                    frames.extend(indexed_frames(e.id, &features));
                    videos.insert(e.id, Arc::<[VpdqFeature]>::from(features));
                }
            } else if let Some(code) = stored_code(&e) {
                codes
                    .get_or_insert_with(e.algorithm, Vec::new)
                    .push((id, code));
            }
            remembered.push(e);
        }
        let mut indexes = AlgorithmMap::new();
        for a in BANK_ALGORITHMS {
            if let Some(index) = HashIndex::build(a, codes.remove(a).unwrap_or_default()) {
                indexes.insert(a, index?);
            }
        }
        let mut c = Catalog {
            indexes,
            ..Catalog::default()
        };
        c.vpdq_frames = Index::build(frames)?;
        c.videos = videos;
        for e in remembered {
            c.remember(e);
        }
        Ok(c)
    }

    fn remember(&mut self, e: StoredEntry) {
        let bank = self
            .banks
            .entry(e.bank.clone())
            .or_insert_with(|| Arc::from(e.bank.as_str()))
            .clone();
        if e.algorithm.is_digest() {
            self.digests
                .entry((e.algorithm, e.hash.clone()))
                .or_default()
                .insert(e.id);
            self.digest_of.insert(e.id, e.hash);
        }
        *self
            .bank_counts
            .entry(bank.clone())
            .or_default()
            .get_or_insert_with(e.algorithm, || 0) += 1;
        self.entries.insert(
            e.id,
            EntryInfo {
                bank,
                algorithm: e.algorithm,
            },
        );
    }

    /// Applies one change-log row.
    pub fn apply(&mut self, op: ChangeOp) {
        match op {
            ChangeOp::Add(e) => {
                if self.entries.contains_key(&e.id) || !is_bank_algorithm(e.algorithm) {
                    return;
                }
                let id = EntryId(e.id as u64);
                if e.algorithm == Algorithm::Vpdq {
                    if let Ok(features) = parse_vpdq(&e.hash) {
                        for (fid, h) in indexed_frames(e.id, &features) {
                            self.vpdq_frames.insert(fid, h);
                        }
                        self.videos.insert(e.id, features.into());
                    }
                } else if let Some(index) = self.indexes.get_mut(e.algorithm) {
                    if let Some(code) = stored_code(&e) {
                        index.insert(id, code);
                    }
                }
                self.remember(e);
            }
            ChangeOp::Remove(id) => {
                let Some(info) = self.entries.remove(&id) else {
                    return;
                };
                let a = info.algorithm;
                if let Some(n) = self
                    .bank_counts
                    .get_mut(&info.bank)
                    .and_then(|counts| counts.get_mut(a))
                {
                    *n = n.saturating_sub(1);
                }
                if a == Algorithm::Vpdq {
                    if let Some(features) = self.videos.remove(&id) {
                        for (fid, _) in indexed_frames(id, &features) {
                            self.vpdq_frames.remove(fid);
                        }
                    }
                } else if let Some(index) = self.indexes.get_mut(a) {
                    index.remove(EntryId(id as u64));
                } else if a.is_digest() {
                    let Some(hash) = self.digest_of.remove(&id) else {
                        return;
                    };
                    if let Some(set) = self.digests.get_mut(&(a, hash.clone())) {
                        set.remove(&id);
                        if set.is_empty() {
                            self.digests.remove(&(a, hash));
                        }
                    }
                }
            }
        }
    }

    pub fn entry(&self, id: i64) -> Option<&EntryInfo> {
        self.entries.get(&id)
    }

    /// Entries of `a` within `radius` of `value` (digests: equal to it).
    pub fn search_entries(&self, a: Algorithm, value: &HashValue, radius: u32) -> Vec<Hit> {
        if let Some(index) = self.indexes.get(a) {
            return hits(index.search(value, radius));
        }
        match value {
            HashValue::Digest(_) if a.is_digest() => self.lookup_digest(a, &value.to_hex()),
            _ => Vec::new(),
        }
    }

    /// Videos that match a query video: candidates from the frame index (a usable query frame
    /// within `radius` of one of theirs), then the reference brute-force matcher on each.
    pub fn search_vpdq(&self, query: &[VpdqFeature], radius: u32) -> Vec<VideoHit> {
        let options = VpdqMatchOptions {
            distance_threshold: radius,
            ..VpdqMatchOptions::PYTHON_THREATEXCHANGE
        };
        let mut candidates: HashMap<i64, u32> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for f in query {
            if !f.is_matchable() || !seen.insert(f.hash) {
                continue;
            }
            for m in self.vpdq_frames.search(&f.hash, radius) {
                let d = candidates.entry(video_of(m.id)).or_insert(m.distance);
                *d = (*d).min(m.distance);
            }
        }
        let mut hits: Vec<VideoHit> = candidates
            .into_iter()
            .filter_map(|(id, distance)| {
                let result = match_vpdq(query, self.videos.get(&id)?, &options);
                result.is_match().then_some(VideoHit {
                    id,
                    distance,
                    result,
                })
            })
            .collect();
        hits.sort_by_key(|h| h.id);
        hits
    }

    pub fn lookup_digest(&self, a: Algorithm, hex: &str) -> Vec<Hit> {
        self.digests
            .get(&(a, hex.to_string()))
            .map(|ids| ids.iter().map(|&id| Hit { id, distance: 0 }).collect())
            .unwrap_or_default()
    }

    /// Live entries of `a` in `bank`.
    pub fn bank_count(&self, bank: &str, a: Algorithm) -> usize {
        self.bank_counts
            .get(bank)
            .and_then(|counts| counts.get(a))
            .copied()
            .unwrap_or(0)
    }

    /// Live entries per bank algorithm.
    pub fn counts(&self) -> Vec<(Algorithm, usize)> {
        let mut counts: AlgorithmMap<usize> = AlgorithmMap::new();
        for info in self.entries.values() {
            *counts.get_or_insert_with(info.algorithm, || 0) += 1;
        }
        BANK_ALGORITHMS
            .iter()
            .map(|a| (*a, counts.get(*a).copied().unwrap_or(0)))
            .collect()
    }

    /// Entries waiting in the indexes' deltas and tombstones (what a rebuild folds).
    pub fn pending(&self) -> usize {
        let s = self.vpdq_frames.stats();
        let frames = s.delta_entries + s.tombstones;
        self.indexes.iter().map(|(_, i)| i.pending()).sum::<usize>() + frames
    }

    /// Starts folding every index's delta into a new base (see [`CatalogRebuild`]).
    pub fn begin_rebuild(&mut self) -> CatalogRebuild {
        CatalogRebuild {
            indexes: self
                .indexes
                .iter_mut()
                .map(|(a, i)| (a, i.begin_rebuild()))
                .collect(),
            frames: self.vpdq_frames.begin_rebuild(),
        }
    }

    /// Swaps in the bases a [`CatalogRebuild`] built.
    pub fn finish_rebuild(&mut self, rebuilt: CatalogRebuilt) -> Result<(), IndexError> {
        let CatalogRebuilt {
            mut indexes,
            frames,
        } = rebuilt;
        for (a, index) in self.indexes.iter_mut() {
            if let Some(r) = indexes.remove(a) {
                index.finish_rebuild(r)?;
            }
        }
        self.vpdq_frames.finish_rebuild(frames)
    }
}

impl Searchable for Catalog {
    fn search(&self, probe: &Probe) -> Vec<(EntryId, u32)> {
        self.search_entries(probe.entries, &probe.value, probe.radius)
            .into_iter()
            .map(|h| (EntryId(h.id as u64), h.distance))
            .collect()
    }
}

fn hits(matches: Vec<pixelprint::index::Match>) -> Vec<Hit> {
    matches
        .into_iter()
        .map(|m| Hit {
            id: m.id.0 as i64,
            distance: m.distance,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, algorithm: Algorithm, hash: &str) -> StoredEntry {
        StoredEntry {
            id,
            bank: "b".into(),
            algorithm,
            hash: hash.into(),
            metadata: None,
        }
    }

    /// Two entries may share a digest; removing one keeps the other matchable, and removing
    /// entries of every kind (built or added later) leaves no trace in the counts.
    #[test]
    fn removals_find_what_they_remove() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let pdq = "f".repeat(64);
        let mut c = Catalog::build(vec![
            entry(1, Algorithm::Md5, md5),
            entry(2, Algorithm::Pdq, &pdq),
        ])
        .unwrap();
        c.apply(ChangeOp::Add(entry(3, Algorithm::Md5, md5)));
        c.apply(ChangeOp::Add(entry(
            4,
            Algorithm::PHash,
            "00000000000000ff",
        )));
        let ids = |hits: Vec<Hit>| hits.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(ids(c.lookup_digest(Algorithm::Md5, md5)), [1, 3]);

        c.apply(ChangeOp::Remove(1));
        assert_eq!(ids(c.lookup_digest(Algorithm::Md5, md5)), [3]);
        c.apply(ChangeOp::Remove(3));
        assert!(c.lookup_digest(Algorithm::Md5, md5).is_empty());
        assert!(c.digests.is_empty() && c.digest_of.is_empty());

        let q = HashValue::from_hex(Algorithm::Pdq, &pdq).unwrap();
        assert_eq!(ids(c.search_entries(Algorithm::Pdq, &q, 0)), [2]);
        c.apply(ChangeOp::Remove(2));
        assert!(c.search_entries(Algorithm::Pdq, &q, 0).is_empty());
        c.apply(ChangeOp::Remove(4));
        // Removing twice is harmless.
        c.apply(ChangeOp::Remove(4));
        assert!(c.counts().iter().all(|(_, n)| *n == 0), "{:?}", c.counts());
    }
}
