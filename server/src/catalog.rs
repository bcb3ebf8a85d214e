//! The in-memory matching state: one exact Hamming index per perceptual bank algorithm (keyed by
//! the registry; 256-bit for PDQ, 64-bit for the 8x8 imagehashes), hash maps for the digests and
//! a frame index for vPDQ, plus what each entry is. It is what `pixelprint::matching` searches.
//!
//! It follows the storage's change log: [`Catalog::apply`] takes the log's rows in order, so a
//! process's own writes and other processes' reach the index the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use pixelprint::hash::HashValue;
use pixelprint::index::{Code, Code64, EntryId, Index, IndexError, RebuildJob, Rebuilt};
use pixelprint::matching::{Probe, Searchable};
use pixelprint::video::{VpdqFeature, VpdqMatch};
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

/// Frame ids keep the frame's position below [`FRAME_BITS`].
const POSITION_MASK: u64 = (1 << FRAME_BITS) - 1;

/// A video's frames as the vPDQ matcher counts them (python-threatexchange's
/// `match_VPDQ_hash_brute`, see `pixelprint::video::matcher`): repeated hashes count once, by
/// their first copy, and only when that copy has quality 50 or more.
struct FramePlan {
    /// The first matchable copy of each distinct hash (what the frame index holds, and what a
    /// query searches): its position, its hash, and whether the matcher counts it (its hash's
    /// first copy, of any quality, is this one).
    searched: Vec<(usize, PdqHash, bool)>,
    /// Frames the matcher counts.
    usable: usize,
}

fn plan_frames(features: &[VpdqFeature]) -> FramePlan {
    // Per distinct hash: whether its first copy is matchable, and whether it has been taken.
    let mut seen: HashMap<PdqHash, (bool, bool)> = HashMap::new();
    let mut searched = Vec::new();
    for (k, f) in features.iter().enumerate() {
        let (first_usable, taken) = seen.entry(f.hash).or_insert((f.is_matchable(), false));
        if f.is_matchable() && !*taken {
            *taken = true;
            searched.push((k, f.hash, *first_usable));
        }
    }
    let usable = seen
        .values()
        .filter(|(first_usable, _)| *first_usable)
        .count();
    FramePlan { searched, usable }
}

/// A stored video: its frames, what the matcher counts of them, and when it was added.
struct StoredVideo {
    features: Arc<[VpdqFeature]>,
    /// Frames the matcher counts (see [`FramePlan`]).
    usable: usize,
    /// Indexed positions the matcher does not count (a hash whose first copy has low
    /// quality); sorted, usually empty.
    uncounted: Box<[u32]>,
    /// The catalog's video generation when it was added (a search ignores later videos).
    generation: u64,
}

impl StoredVideo {
    fn counts(&self, position: u32) -> bool {
        self.uncounted.binary_search(&position).is_err()
    }
}

/// What one request may spend on one vPDQ item.
#[derive(Clone, Copy, Debug)]
pub struct VideoBudget {
    /// Most (query frame, stored frame) pairs within the radius an item may visit.
    pub max_pairs: usize,
    /// When the request's time is up.
    pub deadline: Instant,
    /// The time budget the deadline was set from, in milliseconds (for messages).
    pub time_ms: u64,
}

/// Why a vPDQ search stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum VideoSearchError {
    /// More close frame pairs than [`VideoBudget::max_pairs`].
    TooManyPairs { max: usize },
    /// The deadline passed.
    OutOfTime,
}

/// Query frames searched per hold of the catalog's read lock, and close pairs visited.
const FRAMES_PER_HOLD: usize = 64;
const PAIRS_PER_HOLD: usize = 100_000;

/// What a search has found of one stored video so far.
struct Tally {
    distance: u32,
    query_matched: usize,
    /// The last query frame counted in `query_matched` (each counts once).
    last_query: usize,
    /// Counted stored frames with a close query frame, one bit per position.
    target_matched: Vec<u64>,
}

/// Videos that match a query video, found through the frame index alone: every close pair of
/// a query frame and a stored frame is visited once, so the cost follows the pairs, not the
/// product of the frame counts. The counts, and so the answer, equal the reference brute-force
/// matcher's with python-threatexchange's options at `radius` (`catalog_matches_brute_force`
/// checks it). The catalog's read lock is held for [`FRAMES_PER_HOLD`] query frames or
/// [`PAIRS_PER_HOLD`] pairs at a time, never for the whole search, so writers and other
/// requests go on; videos added meanwhile are left out and videos removed meanwhile are not
/// answered.
pub fn search_vpdq(
    catalog: &RwLock<Catalog>,
    query: &[VpdqFeature],
    radius: u32,
    budget: &VideoBudget,
) -> Result<Vec<VideoHit>, VideoSearchError> {
    let read = || catalog.read().unwrap_or_else(|e| e.into_inner());
    let plan = plan_frames(query);
    let generation = read().video_generation;
    let mut tallies: HashMap<i64, Tally> = HashMap::new();
    let mut pairs = 0usize;
    let mut next = 0;
    while next < plan.searched.len() {
        if Instant::now() > budget.deadline {
            return Err(VideoSearchError::OutOfTime);
        }
        let c = read();
        let held_from = pairs;
        let end = (next + FRAMES_PER_HOLD).min(plan.searched.len());
        while next < end && pairs - held_from < PAIRS_PER_HOLD {
            let (_, hash, query_counts) = plan.searched[next];
            let matches = c.vpdq_frames.search(&hash, radius);
            pairs += matches.len();
            if pairs > budget.max_pairs {
                return Err(VideoSearchError::TooManyPairs {
                    max: budget.max_pairs,
                });
            }
            for m in matches {
                let id = video_of(m.id);
                let Some(video) = c.videos.get(&id).filter(|v| v.generation <= generation) else {
                    continue;
                };
                let t = tallies.entry(id).or_insert_with(|| Tally {
                    distance: m.distance,
                    query_matched: 0,
                    last_query: usize::MAX,
                    target_matched: Vec::new(),
                });
                t.distance = t.distance.min(m.distance);
                let position = (m.id.0 & POSITION_MASK) as u32;
                if query_counts && video.counts(position) {
                    if t.last_query != next {
                        t.last_query = next;
                        t.query_matched += 1;
                    }
                    if t.target_matched.is_empty() {
                        t.target_matched = vec![0; video.features.len().div_ceil(64)];
                    }
                    t.target_matched[position as usize / 64] |= 1 << (position % 64);
                }
            }
            next += 1;
        }
    }
    let c = read();
    let mut hits: Vec<VideoHit> = tallies
        .into_iter()
        .filter_map(|(id, t)| {
            let video = c.videos.get(&id)?;
            let target_matched = t
                .target_matched
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum();
            let result =
                VpdqMatch::from_counts(plan.usable, video.usable, t.query_matched, target_matched);
            result.is_match().then_some(VideoHit {
                id,
                distance: t.distance,
                result,
            })
        })
        .collect();
    hits.sort_by_key(|h| h.id);
    Ok(hits)
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
    videos: HashMap<i64, Arc<StoredVideo>>,
    /// Videos added so far (see [`StoredVideo::generation`]).
    video_generation: u64,
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
            video_generation: 0,
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
        let mut c = Catalog::default();
        let mut remembered = Vec::with_capacity(entries.len());
        for e in entries {
            let id = EntryId(e.id as u64);
            if e.algorithm == Algorithm::Vpdq {
                if let Ok(features) = parse_vpdq(&e.hash) {
                    frames.extend(c.add_video(e.id, features));
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
        c.indexes = indexes;
        c.vpdq_frames = Index::build(frames)?;
        for e in remembered {
            c.remember(e);
        }
        Ok(c)
    }

    /// Keeps a video's frames; returns the frames the frame index is to hold.
    fn add_video(&mut self, id: i64, features: Vec<VpdqFeature>) -> Vec<(EntryId, PdqHash)> {
        let plan = plan_frames(&features);
        let mut uncounted: Vec<u32> = plan
            .searched
            .iter()
            .filter(|(_, _, counts)| !counts)
            .map(|(k, _, _)| *k as u32)
            .collect();
        uncounted.sort_unstable();
        self.video_generation += 1;
        self.videos.insert(
            id,
            Arc::new(StoredVideo {
                features: features.into(),
                usable: plan.usable,
                uncounted: uncounted.into(),
                generation: self.video_generation,
            }),
        );
        plan.searched
            .into_iter()
            .map(|(k, h, _)| (frame_id(id, k), h))
            .collect()
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
                        for (fid, h) in self.add_video(e.id, features) {
                            self.vpdq_frames.insert(fid, h);
                        }
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
                    if let Some(video) = self.videos.remove(&id) {
                        for (k, _, _) in plan_frames(&video.features).searched {
                            self.vpdq_frames.remove(frame_id(id, k));
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

    /// A small deterministic generator (xorshift64*) for the random cases.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn hash(&mut self) -> PdqHash {
            let mut bytes = [0u8; 32];
            for b in &mut bytes {
                *b = self.next() as u8;
            }
            PdqHash::from_bytes(bytes)
        }

        /// `hash` with up to `bits` random bits flipped.
        fn near(&mut self, hash: &PdqHash, bits: u64) -> PdqHash {
            let mut bytes = *hash.as_bytes();
            for _ in 0..self.below(bits + 1) {
                let k = self.below(256) as usize;
                bytes[k / 8] ^= 0x80 >> (k % 8);
            }
            PdqHash::from_bytes(bytes)
        }

        /// A video around a few scenes: near-copies, exact repeats and low-quality frames
        /// (some of them first copies of a hash that comes again with good quality).
        fn video(&mut self, scenes: &[PdqHash], frames: usize, spread: u64) -> Vec<VpdqFeature> {
            let mut out: Vec<VpdqFeature> = Vec::with_capacity(frames);
            for k in 0..frames {
                let hash = match (self.below(10), out.is_empty()) {
                    (0, false) => out[self.below(out.len() as u64) as usize].hash,
                    _ => {
                        let scene = scenes[self.below(scenes.len() as u64) as usize];
                        self.near(&scene, spread)
                    }
                };
                let quality = if self.below(8) == 0 { 30 } else { 90 };
                out.push(VpdqFeature {
                    frame_number: k as u64,
                    timestamp: k as f64,
                    hash,
                    quality,
                });
            }
            out
        }
    }

    fn video_entry(id: i64, features: &[VpdqFeature]) -> StoredEntry {
        let text = pixelprint::video::write_vpdq_text(features);
        entry(id, Algorithm::Vpdq, &text)
    }

    /// The answer of the reference brute-force matcher on every stored video, with the
    /// smallest distance between a matchable query frame and a matchable stored frame.
    fn brute_force(
        videos: &[(i64, Vec<VpdqFeature>)],
        query: &[VpdqFeature],
        radius: u32,
    ) -> Vec<(i64, u32, VpdqMatch)> {
        use pixelprint::video::{match_vpdq, VpdqMatchOptions};
        let options = VpdqMatchOptions {
            distance_threshold: radius,
            ..VpdqMatchOptions::PYTHON_THREATEXCHANGE
        };
        videos
            .iter()
            .filter_map(|(id, target)| {
                let result = match_vpdq(query, target, &options);
                let distance = query
                    .iter()
                    .filter(|q| q.is_matchable())
                    .flat_map(|q| {
                        target
                            .iter()
                            .filter(|t| t.is_matchable())
                            .map(|t| q.hash.distance(&t.hash))
                    })
                    .min()?;
                result.is_match().then_some((*id, distance, result))
            })
            .collect()
    }

    /// The frame-index search answers exactly as the brute-force matcher on random videos
    /// and queries (near and far copies, repeats, low-quality frames), at several radii, for
    /// videos loaded at start and added later, and after removals.
    #[test]
    fn catalog_matches_brute_force() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let unlimited = VideoBudget {
            max_pairs: usize::MAX,
            deadline: Instant::now() + std::time::Duration::from_secs(3600),
            time_ms: 0,
        };
        let mut compared = 0;
        let mut matched = 0;
        for round in 0..12 {
            let scenes: Vec<PdqHash> = (0..4).map(|_| rng.hash()).collect();
            let mut videos = Vec::new();
            for id in 1..=6 {
                let frames = 1 + rng.below(60) as usize;
                let spread = [4, 20, 40][rng.below(3) as usize];
                let mut own: Vec<PdqHash> = scenes
                    .iter()
                    .filter(|_| rng.below(2) == 0)
                    .copied()
                    .collect();
                own.push(rng.hash());
                videos.push((id, rng.video(&own, frames, spread)));
            }
            let (loaded, added) = videos.split_at(3);
            let catalog =
                Catalog::build(loaded.iter().map(|(id, f)| video_entry(*id, f)).collect()).unwrap();
            let lock = RwLock::new(catalog);
            for (id, f) in added {
                lock.write()
                    .unwrap()
                    .apply(ChangeOp::Add(video_entry(*id, f)));
            }
            if round % 3 == 2 {
                lock.write().unwrap().apply(ChangeOp::Remove(2));
                videos.retain(|(id, _)| *id != 2);
            }
            // Queries: a stored video's copy altered, or frames around the shared scenes.
            for _ in 0..8 {
                let query = if rng.below(2) == 0 {
                    let source = &videos[rng.below(videos.len() as u64) as usize].1;
                    let spread = rng.below(40);
                    source
                        .iter()
                        .map(|f| VpdqFeature {
                            hash: rng.near(&f.hash, spread),
                            quality: if rng.below(10) == 0 { 20 } else { f.quality },
                            ..*f
                        })
                        .collect()
                } else {
                    let frames = 1 + rng.below(40) as usize;
                    rng.video(&scenes, frames, 30)
                };
                for radius in [0, 10, 31, 50] {
                    let want = brute_force(&videos, &query, radius);
                    let got = search_vpdq(&lock, &query, radius, &unlimited).unwrap();
                    let got: Vec<_> = got.iter().map(|h| (h.id, h.distance, h.result)).collect();
                    assert_eq!(got, want, "round {round}, radius {radius}");
                    compared += 1;
                    matched += want.len();
                }
            }
        }
        // The cases must include matches, or the comparison says little.
        assert!(
            matched > compared / 4,
            "{matched} matches in {compared} cases"
        );
    }

    /// A query whose frames are close to too many stored frames is refused before the work
    /// is done, and a passed deadline stops a search.
    #[test]
    fn budgets_stop_a_search() {
        let mut rng = Rng(7);
        let scene = rng.hash();
        let stored: Vec<VpdqFeature> = rng.video(&[scene], 500, 6);
        let lock = RwLock::new(Catalog::build(vec![video_entry(1, &stored)]).unwrap());
        let query = rng.video(&[scene], 200, 6);
        let far = Instant::now() + std::time::Duration::from_secs(3600);
        let small = VideoBudget {
            max_pairs: 1000,
            deadline: far,
            time_ms: 0,
        };
        assert_eq!(
            search_vpdq(&lock, &query, 31, &small).unwrap_err(),
            VideoSearchError::TooManyPairs { max: 1000 }
        );
        let late = VideoBudget {
            max_pairs: usize::MAX,
            deadline: Instant::now(),
            time_ms: 0,
        };
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(
            search_vpdq(&lock, &query, 31, &late).unwrap_err(),
            VideoSearchError::OutOfTime
        );
        let enough = VideoBudget {
            max_pairs: usize::MAX,
            deadline: far,
            time_ms: 0,
        };
        assert_eq!(search_vpdq(&lock, &query, 31, &enough).unwrap().len(), 1);
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
