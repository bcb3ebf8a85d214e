//! The in-memory matching state: one exact Hamming index per perceptual algorithm (PDQ 256-bit;
//! 64-bit for pHash, dHash, aHash) and hash maps for the digests, plus what each entry is.
//!
//! It follows the storage's change log: [`Catalog::apply`] takes the log's rows in order, so a
//! process's own writes and other processes' reach the index the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use pixelprint::index::{Code, Code64, EntryId, Index, IndexError};
use pixelprint::video::{match_vpdq, VpdqFeature, VpdqMatch, VpdqMatchOptions};
use pixelprint::PdqHash;

use crate::model::{parse_vpdq, Algorithm, ChangeOp, StoredEntry};

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

#[derive(Default, Clone)]
pub struct Catalog {
    pub pdq: Index<PdqHash>,
    pub phash: Index<Code64>,
    pub dhash: Index<Code64>,
    pub ahash: Index<Code64>,
    /// Every usable frame of every stored video (see [`frame_id`]).
    pub vpdq_frames: Index<PdqHash>,
    videos: HashMap<i64, Arc<[VpdqFeature]>>,
    digests: HashMap<(Algorithm, String), BTreeSet<i64>>,
    /// Bank and algorithm of every live entry. The hashes themselves live in the indexes
    /// (and, for digests, in `digests` and `digest_of`), not here: at tens of millions of
    /// entries a copy of each hex string costs gigabytes.
    entries: HashMap<i64, EntryInfo>,
    /// The hex of each digest entry, to find its set in `digests` when it is removed.
    digest_of: HashMap<i64, String>,
    banks: HashMap<String, Arc<str>>,
}

pub fn parse_code64(hex: &str) -> Option<Code64> {
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
        .map(Code64)
}

impl Catalog {
    /// A catalog of `entries`, with the indexes built in one go.
    pub fn build(entries: Vec<StoredEntry>) -> Result<Catalog, IndexError> {
        let mut c = Catalog::default();
        let (mut pdq, mut phash, mut dhash, mut ahash) = (vec![], vec![], vec![], vec![]);
        let mut frames = vec![];
        for e in entries {
            let id = EntryId(e.id as u64);
            match e.algorithm {
                Algorithm::Pdq => {
                    if let Ok(h) = PdqHash::from_hex(&e.hash) {
                        pdq.push((id, h));
                    }
                }
                Algorithm::PHash | Algorithm::DHash | Algorithm::AHash => {
                    if let Some(code) = parse_code64(&e.hash) {
                        match e.algorithm {
                            Algorithm::PHash => phash.push((id, code)),
                            Algorithm::DHash => dhash.push((id, code)),
                            _ => ahash.push((id, code)),
                        }
                    }
                }
                Algorithm::Vpdq => {
                    if let Ok(features) = parse_vpdq(&e.hash) {
                        frames.extend(indexed_frames(e.id, &features));
                        c.videos.insert(e.id, features.into());
                    }
                }
                Algorithm::Md5 | Algorithm::Sha256 => {}
            }
            c.remember(e);
        }
        c.pdq = Index::build(pdq)?;
        c.phash = Index::build(phash)?;
        c.dhash = Index::build(dhash)?;
        c.ahash = Index::build(ahash)?;
        c.vpdq_frames = Index::build(frames)?;
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
                if self.entries.contains_key(&e.id) {
                    return;
                }
                let id = EntryId(e.id as u64);
                match e.algorithm {
                    Algorithm::Pdq => {
                        if let Ok(h) = PdqHash::from_hex(&e.hash) {
                            self.pdq.insert(id, h);
                        }
                    }
                    Algorithm::PHash | Algorithm::DHash | Algorithm::AHash => {
                        if let Some(code) = parse_code64(&e.hash) {
                            self.index64_mut(e.algorithm).insert(id, code);
                        }
                    }
                    Algorithm::Vpdq => {
                        if let Ok(features) = parse_vpdq(&e.hash) {
                            for (fid, h) in indexed_frames(e.id, &features) {
                                self.vpdq_frames.insert(fid, h);
                            }
                            self.videos.insert(e.id, features.into());
                        }
                    }
                    Algorithm::Md5 | Algorithm::Sha256 => {}
                }
                self.remember(e);
            }
            ChangeOp::Remove(id) => {
                let Some(info) = self.entries.remove(&id) else {
                    return;
                };
                let eid = EntryId(id as u64);
                match info.algorithm {
                    Algorithm::Pdq => {
                        self.pdq.remove(eid);
                    }
                    Algorithm::PHash | Algorithm::DHash | Algorithm::AHash => {
                        self.index64_mut(info.algorithm).remove(eid);
                    }
                    Algorithm::Vpdq => {
                        if let Some(features) = self.videos.remove(&id) {
                            for (fid, _) in indexed_frames(id, &features) {
                                self.vpdq_frames.remove(fid);
                            }
                        }
                    }
                    a @ (Algorithm::Md5 | Algorithm::Sha256) => {
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
    }

    fn index64_mut(&mut self, a: Algorithm) -> &mut Index<Code64> {
        match a {
            Algorithm::PHash => &mut self.phash,
            Algorithm::DHash => &mut self.dhash,
            _ => &mut self.ahash,
        }
    }

    pub fn index64(&self, a: Algorithm) -> &Index<Code64> {
        match a {
            Algorithm::PHash => &self.phash,
            Algorithm::DHash => &self.dhash,
            _ => &self.ahash,
        }
    }

    pub fn entry(&self, id: i64) -> Option<&EntryInfo> {
        self.entries.get(&id)
    }

    pub fn search_pdq(&self, q: &PdqHash, radius: u32) -> Vec<Hit> {
        hits(self.pdq.search(q, radius))
    }

    pub fn search64(&self, a: Algorithm, q: &Code64, radius: u32) -> Vec<Hit> {
        hits(self.index64(a).search(q, radius))
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

    /// Live entries per algorithm.
    pub fn counts(&self) -> Vec<(Algorithm, usize)> {
        let mut counts: HashMap<Algorithm, usize> = HashMap::new();
        for info in self.entries.values() {
            *counts.entry(info.algorithm).or_default() += 1;
        }
        Algorithm::ALL
            .iter()
            .map(|a| (*a, counts.get(a).copied().unwrap_or(0)))
            .collect()
    }

    /// Entries waiting in the indexes' deltas and tombstones (what a rebuild folds).
    pub fn pending(&self) -> usize {
        fn p<C: Code>(i: &Index<C>) -> usize {
            let s = i.stats();
            s.delta_entries + s.tombstones
        }
        p(&self.pdq) + p(&self.phash) + p(&self.dhash) + p(&self.ahash) + p(&self.vpdq_frames)
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

        let q = PdqHash::from_hex(&pdq).unwrap();
        assert_eq!(ids(c.search_pdq(&q, 0)), [2]);
        c.apply(ChangeOp::Remove(2));
        assert!(c.search_pdq(&q, 0).is_empty());
        c.apply(ChangeOp::Remove(4));
        // Removing twice is harmless.
        c.apply(ChangeOp::Remove(4));
        assert!(c.counts().iter().all(|(_, n)| *n == 0), "{:?}", c.counts());
    }
}
