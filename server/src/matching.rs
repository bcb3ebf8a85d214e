//! Hash items (the CLI's JSON keys) checked into typed queries, and `/v1/match`. What matches is
//! decided by [`pixelprint::matching`]; vPDQ videos are matched by the catalog's frame index.
//!
//! Two answers: keyed callers get every match in detail ([`match_query`]); anonymous callers a
//! verdict per item ([`verdict_query`]), which names no bank, entry, distance or variant, so
//! that perturbing a hash and asking again tells at most one bit an item.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{LazyLock, RwLock};

use pixelprint::hash::HashValue;
use pixelprint::matching::{match_against, Query as HashQuery};
use pixelprint::video::{VpdqFeature, VpdqMatch};
use pixelprint::{Algorithm, AlgorithmMap, PdqHash};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::{search_vpdq, Catalog, VideoBudget, VideoHit, VideoSearchError};
use crate::error::ApiError;
use crate::model::{BANK_ALGORITHMS, MAX_QUERY_VPDQ_FRAMES};
use crate::thresholds::{threshold_algorithms, Admission, BankRole, Rules};

/// PDQ hashes of lower quality are not matched (the reference's rule).
pub const PDQ_MIN_QUALITY: u32 = pixelprint::pdq::PDQ_MIN_QUALITY as u32;

/// The key of an item's PDQ quality.
const PDQ_QUALITY: &str = "pdq_quality";

/// The algorithms an item may hold, in the order they are checked and stored: each bank
/// algorithm, followed by the query algorithms searched against its entries (PDQ's dihedral
/// variants, trimmed, embedded, captioned and straightened PDQ).
static ITEM_ALGORITHMS: LazyLock<Vec<Algorithm>> = LazyLock::new(|| {
    BANK_ALGORITHMS
        .into_iter()
        .flat_map(|bank| {
            let searching = Algorithm::ALL
                .into_iter()
                .filter(move |a| *a != bank && a.entry_algorithm() == bank);
            std::iter::once(bank).chain(searching)
        })
        .collect()
});

/// Every key an item may have (for the message that rejects another): `pdq_quality` after
/// `pdq`.
static ITEM_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ITEM_ALGORITHMS
        .iter()
        .flat_map(|a| {
            let quality = (*a == Algorithm::Pdq).then_some(PDQ_QUALITY);
            std::iter::once(a.key()).chain(quality)
        })
        .collect()
});

/// Every key of `thresholds`: the bank algorithms matched by distance.
static THRESHOLD_KEYS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| threshold_algorithms().map(Algorithm::key).collect());

/// One algorithm's value in an item, as received.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ItemValue {
    /// One hex hash.
    Hex(String),
    /// The eight dihedral PDQ hashes, in [`pixelprint::pdq::Dihedral::ALL`] order.
    Hexes(Vec<String>),
    /// A video's vPDQ frames, as `pixelprint hash-video --format jsonl` prints them.
    Frames(Vec<VpdqFrame>),
}

/// One image's hashes as the CLI and the wasm `hashBytes` print them: a value per algorithm
/// under its registry key, and PDQ's quality. Unknown keys are refused.
#[derive(Clone, Debug, Default)]
pub struct HashItem {
    pub values: AlgorithmMap<ItemValue>,
    pub pdq_quality: Option<u32>,
}

/// An item key: an algorithm's, or `None` for `pdq_quality`.
struct ItemKey(Option<Algorithm>);

/// Reads a map key as one of `keys`, rejecting any other with serde's `unknown field` error
/// (whose place the request's error reports).
struct KeyVisitor(&'static [&'static str]);

impl Visitor<'_> for KeyVisitor {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        self.0
            .iter()
            .find(|k| **k == v)
            .copied()
            .ok_or_else(|| E::unknown_field(v, self.0))
    }
}

fn known_key<'de, D: Deserializer<'de>>(
    d: D,
    keys: &'static [&'static str],
) -> Result<&'static str, D::Error> {
    d.deserialize_identifier(KeyVisitor(keys))
}

impl<'de> Deserialize<'de> for ItemKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = known_key(d, &ITEM_KEYS)?;
        Ok(ItemKey(
            ITEM_ALGORITHMS.iter().copied().find(|a| a.key() == key),
        ))
    }
}

/// Reads the value of `algorithm` in the shape its key takes.
struct ValueSeed(Algorithm);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Option<ItemValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            Algorithm::PdqDihedral => Option::<Vec<String>>::deserialize(d)?.map(ItemValue::Hexes),
            Algorithm::Vpdq => Option::<Vec<VpdqFrame>>::deserialize(d)?.map(ItemValue::Frames),
            _ => Option::<String>::deserialize(d)?.map(ItemValue::Hex),
        })
    }
}

impl<'de> Deserialize<'de> for HashItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = HashItem;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of hashes")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HashItem, M::Error> {
                let mut item = HashItem::default();
                let mut seen = HashSet::new();
                while let Some(ItemKey(key)) = map.next_key()? {
                    let name = key.map_or(PDQ_QUALITY, Algorithm::key);
                    if !seen.insert(name) {
                        return Err(de::Error::duplicate_field(name));
                    }
                    match key {
                        None => item.pdq_quality = map.next_value()?,
                        Some(a) => {
                            if let Some(v) = map.next_value_seed(ValueSeed(a))? {
                                item.values.insert(a, v);
                            }
                        }
                    }
                }
                Ok(item)
            }
        }
        d.deserialize_map(ItemVisitor)
    }
}

impl Serialize for HashItem {
    /// As received, the keys in [`ITEM_KEYS`] order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for &a in ITEM_ALGORITHMS.iter() {
            if let Some(v) = self.values.get(a) {
                map.serialize_entry(a.key(), v)?;
            }
            if a == Algorithm::Pdq {
                if let Some(q) = self.pdq_quality {
                    map.serialize_entry(PDQ_QUALITY, &q)?;
                }
            }
        }
        map.end()
    }
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

/// A checked item: its image hashes as a query, and its video's frames.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub hashes: HashQuery,
    pub vpdq: Option<Vec<VpdqFeature>>,
}

impl HashItem {
    /// Checks every field; errors name the item and the field.
    pub fn check(&self, item: usize) -> Result<Query, ApiError> {
        let bad = |field: &str, message: String| {
            ApiError::bad_at("invalid_hash", message, Some(item), field)
        };
        let mut q = Query::default();
        for &a in ITEM_ALGORITHMS.iter() {
            let field = a.key();
            match self.values.get(a) {
                None => {}
                Some(ItemValue::Frames(frames)) if a == Algorithm::Vpdq => {
                    q.vpdq = Some(check_vpdq(frames).map_err(|m| bad(field, m))?);
                }
                Some(ItemValue::Hexes(list)) if a == Algorithm::PdqDihedral => {
                    if list.len() != 8 {
                        return Err(bad(
                            field,
                            format!("{field} has 8 hashes, found {}", list.len()),
                        ));
                    }
                    let mut hashes = [PdqHash::ZERO; 8];
                    for (k, (slot, hex)) in hashes.iter_mut().zip(list).enumerate() {
                        *slot = pdq_hash(hex).map_err(|m| bad(field, format!("hash {k}: {m}")))?;
                    }
                    q.hashes.values.insert(a, HashValue::PdqDihedral(hashes));
                }
                Some(ItemValue::Hex(hex)) => {
                    let value =
                        HashValue::from_hex(a, hex).map_err(|e| bad(field, e.to_string()))?;
                    q.hashes.values.insert(a, value);
                }
                Some(_) => return Err(bad(field, format!("{field} has the wrong shape"))),
            }
            // Checked right after PDQ's value, so the first bad field in key order is reported.
            if a == Algorithm::Pdq {
                if let Some(quality) = self.pdq_quality {
                    if quality > 100 {
                        return Err(bad(
                            PDQ_QUALITY,
                            format!("pdq_quality is 0..=100, found {quality}"),
                        ));
                    }
                    q.hashes.pdq_quality = Some(quality as u8);
                }
            }
        }
        if q.hashes.values.is_empty() && q.vpdq.is_none() {
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

/// One PDQ hash, by the registry's hex checker.
fn pdq_hash(hex: &str) -> Result<PdqHash, String> {
    match HashValue::from_hex(Algorithm::Pdq, hex) {
        Ok(HashValue::Pdq(h)) => Ok(h),
        Ok(_) => Err("not a pdq hash".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks a vPDQ item's frames (messages name the frame's position).
fn check_vpdq(frames: &[VpdqFrame]) -> Result<Vec<VpdqFeature>, String> {
    if frames.is_empty() || frames.len() > MAX_QUERY_VPDQ_FRAMES {
        return Err(format!(
            "vpdq has 1..={MAX_QUERY_VPDQ_FRAMES} frames, found {}",
            frames.len()
        ));
    }
    frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let hash = pdq_hash(&f.hash).map_err(|m| format!("frame {k}: {m}"))?;
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

/// A request's thresholds: at most one per bank algorithm matched by distance, under its
/// registry key.
#[derive(Debug, Default)]
pub struct Thresholds(pub AlgorithmMap<u32>);

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key(Algorithm);
        impl<'de> Deserialize<'de> for Key {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let key = known_key(d, &THRESHOLD_KEYS)?;
                threshold_algorithms()
                    .find(|a| a.key() == key)
                    .map(Key)
                    .ok_or_else(|| de::Error::unknown_field(key, &THRESHOLD_KEYS))
            }
        }
        struct ThresholdVisitor;
        impl<'de> Visitor<'de> for ThresholdVisitor {
            type Value = Thresholds;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of thresholds")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Thresholds, M::Error> {
                let mut t = AlgorithmMap::new();
                let mut seen = HashSet::new();
                while let Some(Key(a)) = map.next_key()? {
                    if !seen.insert(a) {
                        return Err(de::Error::duplicate_field(a.key()));
                    }
                    if let Some(v) = map.next_value::<Option<u32>>()? {
                        t.insert(a, v);
                    }
                }
                Ok(Thresholds(t))
            }
        }
        d.deserialize_map(ThresholdVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    pub items: Vec<HashItem>,
    #[serde(default)]
    pub banks: Option<Vec<String>>,
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// Keyed callers: show the matches of banks in shadow mode too, flagged `"shadow": true`.
    #[serde(default)]
    pub include_shadow: Option<bool>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
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
    /// The exchange entry a synced bank's entry comes from (`crate::model::EntrySource`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// vPDQ: share (percent) of the video's usable frames with a close frame in the query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<f64>,
    /// A match in a bank in shadow mode (shown only when the request asks for them).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
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
    /// Entries of negative banks (known false positives) the item matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub negative: Vec<MatchHit>,
    pub not_matchable: Vec<NotMatchable>,
    /// The matches withheld because the item matches a negative entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<MatchHit>,
}

#[derive(Debug, Serialize)]
pub struct MatchResponse {
    pub results: Vec<ItemResult>,
}

/// An anonymous caller's answer for one item: whether it matched and, for matches in banks
/// whose category the operator made public, those categories. Nothing else.
#[derive(Debug, Serialize)]
pub struct ItemVerdict {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    pub item: usize,
    #[serde(rename = "match")]
    pub matched: bool,
}

#[derive(Debug, Serialize)]
pub struct VerdictResponse {
    pub results: Vec<ItemVerdict>,
}

/// The stored videos an item's vPDQ frames match (none without frames).
pub type VideoOutcome = Result<Vec<VideoHit>, NotMatchable>;

/// Searches the stored videos for item `item`'s vPDQ frames at `radius` within `budget`,
/// taking the catalog's lock only in short holds (see [`crate::catalog::search_vpdq`]). The
/// inner `Err` when no frame may be matched; the outer one when the budget runs out.
pub fn search_videos(
    catalog: &RwLock<Catalog>,
    item: usize,
    q: &Query,
    radius: u32,
    budget: &VideoBudget,
) -> Result<VideoOutcome, ApiError> {
    let Some(frames) = &q.vpdq else {
        return Ok(Ok(Vec::new()));
    };
    if !frames.iter().any(VpdqFeature::is_matchable) {
        return Ok(Err(NotMatchable {
            algorithm: Algorithm::Vpdq.name(),
            reason: format!("no frame has pdq quality {PDQ_MIN_QUALITY} or more"),
        }));
    }
    match search_vpdq(catalog, frames, radius, budget) {
        Ok(hits) => Ok(Ok(hits)),
        Err(VideoSearchError::TooManyPairs { max }) => Err(ApiError::TooCostly {
            item,
            message: format!(
                "the vpdq frames of item {item} are within the threshold of more than {max} \
                 stored frames in all; send fewer or more varied frames"
            ),
        }),
        Err(VideoSearchError::OutOfTime) => Err(ApiError::Busy(budget.time_ms)),
    }
}

/// One item's hits sorted by the part their banks play (docs/bank-controls.md): each list in
/// order of distance, bank and entry.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Matches in active banks (empty when suppressed).
    pub matches: Vec<MatchHit>,
    /// Matches in shadow banks, flagged `shadow` (empty when suppressed).
    pub shadow: Vec<MatchHit>,
    /// Entries of negative banks the item matches (whatever the request's bank filter).
    pub negative: Vec<MatchHit>,
    /// Matches withheld because the item matches a negative entry.
    pub suppressed: Vec<MatchHit>,
    /// An entry of an active bank within twice its threshold (when near misses are looked for).
    pub near_hit: bool,
    pub not_matchable: Vec<NotMatchable>,
}

/// Searches one checked item under `rules` and sorts its hits by their banks' roles: disabled
/// banks match nothing, a negative bank's hit suppresses every other match of the item, a
/// shadow bank's matches are kept apart. `near`: search to twice the thresholds and note near
/// misses. `videos`: the item's video search ([`search_videos`]). `banks`: the keyed caller's bank filter (negative banks apply regardless).
pub fn evaluate(
    rules: &Rules,
    q: &Query,
    videos: VideoOutcome,
    near: bool,
    banks: Option<&HashSet<String>>,
) -> Evaluation {
    let catalog = rules.catalog;
    let outcome = match_against(catalog, &q.hashes, &rules.search_policy(near));
    let mut ev = Evaluation::default();
    if let Some(n) = outcome.not_matchable {
        ev.not_matchable.push(NotMatchable {
            algorithm: n.algorithm.name(),
            reason: format!(
                "{} quality {} is below {}",
                n.algorithm, n.quality, n.min_quality
            ),
        });
    }
    let videos = match videos {
        Ok(videos) => videos,
        Err(n) => {
            ev.not_matchable.push(n);
            Vec::new()
        }
    };
    let percents =
        |r: Option<&VpdqMatch>| (r.map(|r| r.query_percent), r.map(|r| r.target_percent));
    let found = outcome
        .hits
        .iter()
        .map(|h| {
            let variant = h.variant.map(|v| v.name());
            (h.id.0 as i64, h.distance, h.algorithm, variant, None)
        })
        .chain(
            videos
                .iter()
                .map(|v| (v.id, v.distance, Algorithm::Vpdq, None, Some(&v.result))),
        );
    for (id, distance, algorithm, variant, video) in found {
        let Some(info) = catalog.entry(id) else {
            continue;
        };
        let role = rules.role(&info.bank);
        if role == BankRole::Disabled {
            continue;
        }
        if role != BankRole::Negative && banks.is_some_and(|b| !b.contains(&*info.bank)) {
            continue;
        }
        if video.is_none() {
            match rules.admit(&info.bank, algorithm, distance) {
                Admission::Match => {}
                Admission::NearMiss => {
                    ev.near_hit |= role == BankRole::Active;
                    continue;
                }
                Admission::No => continue,
            }
        }
        let (query_percent, target_percent) = percents(video);
        let hit = MatchHit {
            bank: info.bank.to_string(),
            entry_id: id.to_string(),
            algorithm: algorithm.name(),
            distance,
            variant,
            query_percent,
            source: None,
            target_percent,
            shadow: role == BankRole::Shadow,
        };
        match role {
            BankRole::Active => ev.matches.push(hit),
            BankRole::Shadow => ev.shadow.push(hit),
            BankRole::Negative => ev.negative.push(hit),
            BankRole::Disabled => {}
        }
    }
    for list in [&mut ev.matches, &mut ev.shadow, &mut ev.negative] {
        sort_hits(list);
    }
    if !ev.negative.is_empty() {
        ev.suppressed = std::mem::take(&mut ev.matches);
        ev.suppressed.append(&mut ev.shadow);
        sort_hits(&mut ev.suppressed);
    }
    ev
}

/// In order of distance, bank and entry id.
fn sort_hits(hits: &mut [MatchHit]) {
    hits.sort_by_cached_key(|h| {
        let id = h.entry_id.parse::<i64>().unwrap_or(i64::MAX);
        (h.distance, h.bank.clone(), id)
    });
}

/// An anonymous caller's verdict on an evaluated item, and whether it was a near miss (no
/// match, but an entry of an active bank within twice its threshold). Public categories come
/// from `categories` (bank name to category). Shadow, negative and suppressed hits are not told.
pub fn verdict(
    item: usize,
    ev: &Evaluation,
    categories: &HashMap<String, String>,
) -> (ItemVerdict, bool) {
    let matched = !ev.matches.is_empty();
    let named: BTreeSet<String> = ev
        .matches
        .iter()
        .filter_map(|h| categories.get(&h.bank).cloned())
        .collect();
    let near_miss = !matched && ev.near_hit && ev.negative.is_empty();
    let verdict = ItemVerdict {
        categories: named.into_iter().collect(),
        item,
        matched,
    };
    (verdict, near_miss)
}

/// A keyed caller's answer for an evaluated item: its matches (with the shadow banks' when
/// `include_shadow`, merged in order), the negative entries it matches and what they withheld.
pub fn keyed_result(item: usize, ev: Evaluation, include_shadow: bool) -> ItemResult {
    let Evaluation {
        mut matches,
        shadow,
        negative,
        suppressed,
        not_matchable,
        ..
    } = ev;
    let suppressed = if include_shadow {
        suppressed
    } else {
        suppressed.into_iter().filter(|h| !h.shadow).collect()
    };
    if include_shadow && !shadow.is_empty() {
        matches.extend(shadow);
        sort_hits(&mut matches);
    }
    ItemResult {
        item,
        matches,
        negative,
        not_matchable,
        suppressed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_take_the_registry_keys_and_refuse_others() {
        let json = r#"{"pdq_quality": 90, "md5": "D41D8CD98F00B204E9800998ECF8427E", "pdq": null}"#;
        let item: HashItem = serde_json::from_str(json).unwrap();
        // Stored as received, `null` as absent.
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"pdq_quality":90,"md5":"D41D8CD98F00B204E9800998ECF8427E"}"#
        );
        let q = item.check(0).unwrap();
        assert_eq!(q.hashes.pdq_quality, Some(90));
        assert_eq!(
            q.hashes.values.get(Algorithm::Md5).map(HashValue::to_hex),
            Some("d41d8cd98f00b204e9800998ecf8427e".into())
        );
        let err = serde_json::from_str::<HashItem>(r#"{"pdq": "00", "colour": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown field `colour`, expected one of `pdq`, `pdq_quality`, `pdq_dihedral`, `pdq_trimmed`, `pdq_embedded`, `pdq_captioned`, `pdq_straightened`, `phash`, `phash_mirrored`, `dhash`, `ahash`, `md5`, `sha256`, `vpdq`"),
            "{err}"
        );
        assert!(serde_json::from_str::<HashItem>(r#"{"md5": "a", "md5": "b"}"#).is_err());
        assert!(serde_json::from_str::<HashItem>(r#"{"whash": "00"}"#).is_err());
    }
}
