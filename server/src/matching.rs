//! Hash items (the CLI's JSON keys) checked into typed queries, and `/v1/match`.

use std::collections::{BTreeMap, HashSet};

use pixelprint::index::Code64;
use pixelprint::video::{VpdqFeature, VpdqMatch};
use pixelprint::PdqHash;
use serde::{Deserialize, Serialize};

use crate::catalog::{parse_code64, Catalog, Hit};
use crate::error::ApiError;
use crate::model::{normalize_hex, Algorithm, MAX_VPDQ_FRAMES};

/// PDQ hashes of lower quality are not matched (the reference's rule).
pub const PDQ_MIN_QUALITY: u32 = pixelprint::pdq::PDQ_MIN_QUALITY as u32;

/// One image's hashes as the CLI and the wasm `hashBytes` print them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HashItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq_quality: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq_dihedral: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A video's vPDQ frames, as `pixelprint hash-video --format jsonl` prints them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpdq: Option<Vec<VpdqFrame>>,
}

/// One frame of a vPDQ item.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VpdqFrame {
    pub frame: u64,
    pub timestamp: f64,
    pub hash: String,
    pub quality: u32,
}

/// The dihedral variants in the order of `pdq_dihedral` (the reference's order).
pub const VARIANTS: [&str; 8] = [
    "orig",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
];

/// A checked item.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub pdq: Option<PdqHash>,
    pub pdq_quality: Option<u32>,
    pub dihedral: Option<Vec<PdqHash>>,
    pub h64: Vec<(Algorithm, Code64)>,
    pub digests: Vec<(Algorithm, String)>,
    pub vpdq: Option<Vec<VpdqFeature>>,
}

impl HashItem {
    /// Checks every field; errors name the item and the field.
    pub fn check(&self, item: usize) -> Result<Query, ApiError> {
        let bad = |field: &str, message: String| {
            ApiError::bad_at("invalid_hash", message, Some(item), field)
        };
        let mut q = Query::default();
        if let Some(hex) = &self.pdq {
            let hex = normalize_hex(Algorithm::Pdq, hex).map_err(|m| bad("pdq", m))?;
            q.pdq = Some(PdqHash::from_hex(&hex).map_err(|e| bad("pdq", e.to_string()))?);
        }
        if let Some(quality) = self.pdq_quality {
            if quality > 100 {
                return Err(bad(
                    "pdq_quality",
                    format!("pdq_quality is 0..=100, found {quality}"),
                ));
            }
            q.pdq_quality = Some(quality);
        }
        if let Some(list) = &self.pdq_dihedral {
            if list.len() != 8 {
                return Err(bad(
                    "pdq_dihedral",
                    format!("pdq_dihedral has 8 hashes, found {}", list.len()),
                ));
            }
            let mut hashes = Vec::with_capacity(8);
            for (k, hex) in list.iter().enumerate() {
                let hex = normalize_hex(Algorithm::Pdq, hex)
                    .map_err(|m| bad("pdq_dihedral", format!("hash {k}: {m}")))?;
                hashes.push(
                    PdqHash::from_hex(&hex)
                        .map_err(|e| bad("pdq_dihedral", format!("hash {k}: {e}")))?,
                );
            }
            q.dihedral = Some(hashes);
        }
        for (a, v) in [
            (Algorithm::PHash, &self.phash),
            (Algorithm::DHash, &self.dhash),
            (Algorithm::AHash, &self.ahash),
        ] {
            if let Some(hex) = v {
                let hex = normalize_hex(a, hex).map_err(|m| bad(a.name(), m))?;
                let code = parse_code64(&hex).ok_or_else(|| bad(a.name(), "invalid hex".into()))?;
                q.h64.push((a, code));
            }
        }
        for (a, v) in [
            (Algorithm::Md5, &self.md5),
            (Algorithm::Sha256, &self.sha256),
        ] {
            if let Some(hex) = v {
                q.digests
                    .push((a, normalize_hex(a, hex).map_err(|m| bad(a.name(), m))?));
            }
        }
        if let Some(frames) = &self.vpdq {
            q.vpdq = Some(check_vpdq(frames).map_err(|m| bad("vpdq", m))?);
        }
        if q.pdq.is_none()
            && q.dihedral.is_none()
            && q.h64.is_empty()
            && q.digests.is_empty()
            && q.vpdq.is_none()
        {
            return Err(ApiError::bad_at(
                "empty_item",
                "an item needs at least one hash",
                Some(item),
                "item",
            ));
        }
        Ok(q)
    }
}

/// Checks a vPDQ item's frames (messages name the frame's position).
fn check_vpdq(frames: &[VpdqFrame]) -> Result<Vec<VpdqFeature>, String> {
    if frames.is_empty() || frames.len() > MAX_VPDQ_FRAMES {
        return Err(format!(
            "vpdq has 1..={MAX_VPDQ_FRAMES} frames, found {}",
            frames.len()
        ));
    }
    frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let hex =
                normalize_hex(Algorithm::Pdq, &f.hash).map_err(|m| format!("frame {k}: {m}"))?;
            let hash = PdqHash::from_hex(&hex).map_err(|e| format!("frame {k}: {e}"))?;
            if f.quality > 100 {
                return Err(format!(
                    "frame {k}: quality is 0..=100, found {}",
                    f.quality
                ));
            }
            if !f.timestamp.is_finite() || f.timestamp < 0.0 {
                return Err(format!("frame {k}: timestamp must be a number >= 0"));
            }
            Ok(VpdqFeature {
                frame_number: f.frame,
                timestamp: f.timestamp,
                hash,
                quality: f.quality as u8,
            })
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub pdq: Option<u32>,
    pub phash: Option<u32>,
    pub dhash: Option<u32>,
    pub ahash: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    pub items: Vec<HashItem>,
    #[serde(default)]
    pub banks: Option<Vec<String>>,
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct MatchHit {
    pub bank: String,
    pub entry_id: String,
    pub algorithm: &'static str,
    /// For vPDQ: the smallest distance between a query frame and one of the video's frames.
    pub distance: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'static str>,
    /// vPDQ: share (percent) of the query's usable frames with a close frame in the video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_percent: Option<f64>,
    /// vPDQ: share (percent) of the video's usable frames with a close frame in the query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct NotMatchable {
    pub algorithm: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct ItemResult {
    pub item: usize,
    pub matches: Vec<MatchHit>,
    pub not_matchable: Vec<NotMatchable>,
}

#[derive(Debug, Serialize)]
pub struct MatchResponse {
    pub results: Vec<ItemResult>,
}

/// The radii in force: the request's, capped by the server's maximums.
pub struct Radii {
    pub pdq: u32,
    pub phash: u32,
    pub dhash: u32,
    pub ahash: u32,
}

impl Radii {
    pub fn new(t: Option<&Thresholds>, pdq_max: u32, h64_max: u32) -> Radii {
        let t = t.unwrap_or(&Thresholds {
            pdq: None,
            phash: None,
            dhash: None,
            ahash: None,
        });
        let cap = |v: Option<u32>, max: u32| v.map_or(max, |v| v.min(max));
        Radii {
            pdq: cap(t.pdq, pdq_max),
            phash: cap(t.phash, h64_max),
            dhash: cap(t.dhash, h64_max),
            ahash: cap(t.ahash, h64_max),
        }
    }

    fn h64(&self, a: Algorithm) -> u32 {
        match a {
            Algorithm::PHash => self.phash,
            Algorithm::DHash => self.dhash,
            _ => self.ahash,
        }
    }
}

/// Matches one checked item against the catalog.
pub fn match_query(
    catalog: &Catalog,
    item: usize,
    q: &Query,
    radii: &Radii,
    banks: Option<&HashSet<String>>,
) -> ItemResult {
    // Best hit per (entry, algorithm): the smallest distance, the plain query before a variant.
    let mut best: BTreeMap<i64, (u32, Algorithm, Option<&'static str>)> = BTreeMap::new();
    let mut consider = |hits: Vec<Hit>, a: Algorithm, variant: Option<&'static str>| {
        for h in hits {
            let e = best.entry(h.id).or_insert((h.distance, a, variant));
            if h.distance < e.0 {
                *e = (h.distance, a, variant);
            }
        }
    };
    let mut not_matchable = Vec::new();
    let low_quality = q.pdq_quality.filter(|&x| x < PDQ_MIN_QUALITY);
    if let Some(quality) = low_quality {
        if q.pdq.is_some() || q.dihedral.is_some() {
            not_matchable.push(NotMatchable {
                algorithm: "pdq",
                reason: format!("pdq quality {quality} is below {PDQ_MIN_QUALITY}"),
            });
        }
    } else {
        if let Some(h) = &q.pdq {
            consider(catalog.search_pdq(h, radii.pdq), Algorithm::Pdq, None);
        }
        if let Some(list) = &q.dihedral {
            for (h, name) in list.iter().zip(VARIANTS) {
                consider(catalog.search_pdq(h, radii.pdq), Algorithm::Pdq, Some(name));
            }
        }
    }
    for (a, code) in &q.h64 {
        consider(catalog.search64(*a, code, radii.h64(*a)), *a, None);
    }
    for (a, hex) in &q.digests {
        consider(catalog.lookup_digest(*a, hex), *a, None);
    }
    let mut videos = Vec::new();
    if let Some(frames) = &q.vpdq {
        if frames.iter().any(VpdqFeature::is_matchable) {
            videos = catalog.search_vpdq(frames, radii.pdq);
        } else {
            not_matchable.push(NotMatchable {
                algorithm: "vpdq",
                reason: format!("no frame has pdq quality {PDQ_MIN_QUALITY} or more"),
            });
        }
    }
    let percents =
        |r: Option<&VpdqMatch>| (r.map(|r| r.query_percent), r.map(|r| r.target_percent));
    let found = best
        .into_iter()
        .map(|(id, (distance, algorithm, variant))| (id, distance, algorithm, variant, None))
        .chain(
            videos
                .iter()
                .map(|v| (v.id, v.distance, Algorithm::Vpdq, None, Some(&v.result))),
        );
    let mut matches: Vec<(u32, &str, i64, MatchHit)> = found
        .filter_map(|(id, distance, algorithm, variant, video)| {
            let info = catalog.entry(id)?;
            if banks.is_some_and(|b| !b.contains(&*info.bank)) {
                return None;
            }
            let (query_percent, target_percent) = percents(video);
            Some((
                distance,
                &*info.bank,
                id,
                MatchHit {
                    bank: info.bank.to_string(),
                    entry_id: id.to_string(),
                    algorithm: algorithm.name(),
                    distance,
                    variant,
                    query_percent,
                    target_percent,
                },
            ))
        })
        .collect();
    matches.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    ItemResult {
        item,
        matches: matches.into_iter().map(|m| m.3).collect(),
        not_matchable,
    }
}
