//! StopNCII.org's hash API as pixelprint serves it: the wire types of `FetchHashes`,
//! `SubmitHashes` and `SubmitFeedback`, the one mapping between pixelprint's algorithms and
//! StopNCII's signal types, the page cursor, and the records of a page built from the feed's
//! rows.
//!
//! Source of the wire format: PyPI `threatexchange` (python-threatexchange, the library inside
//! Hasher-Matcher-Actioner), `exchanges/clients/stopncii/api.py`: its dataclasses
//! (`FetchHashesResponse`, `StopNCIIHashRecord`, `StopNCIICSPFeedback`) and enums
//! (`StopNCIISignalType`, `StopNCIICaseStatus`, `StopNCIICSPFeedbackValue`) name every field and
//! value used here; `server/tests/exchange.rs` drives that client against the server.

use std::collections::BTreeMap;

use pixelprint::Algorithm;
use serde::{Deserialize, Serialize};

use crate::model::{FeedCursor, FeedHash, FeedRow, FeedStatus, Feedback};

/// pixelprint's algorithms that StopNCII has a signal type for, with its name: the one place
/// that maps between the two. PDQ is `ImagePDQ`; an MD5 is `VideoMD5` only when the item it
/// belongs to is a video (it has a vPDQ hash): StopNCII has no signal type for an image's MD5.
/// vPDQ has none either (`VideoTMK` is another algorithm).
pub const SIGNAL_TYPES: [(Algorithm, &str); 2] =
    [(Algorithm::Pdq, "ImagePDQ"), (Algorithm::Md5, "VideoMD5")];

/// StopNCII's name for `a`'s hashes, if it has one.
pub fn signal_type(a: Algorithm) -> Option<&'static str> {
    SIGNAL_TYPES
        .iter()
        .find(|(alg, _)| *alg == a)
        .map(|(_, name)| *name)
}

/// The algorithm of a StopNCII signal type name. Also accepts the name as Python's `str()` of
/// the client's enum spells it (`StopNCIISignalType.ImagePDQ`), which is what
/// `StopNCIIAPI.submit_hashes` sends.
pub fn signal_algorithm(name: &str) -> Option<(Algorithm, &'static str)> {
    let name = name.strip_prefix("StopNCIISignalType.").unwrap_or(name);
    SIGNAL_TYPES.iter().copied().find(|(_, n)| *n == name)
}

/// The hashes of a tip's items that the feed publishes, in item order, without repeats.
pub fn feed_hashes(items: &[crate::matching::HashItem]) -> Vec<FeedHash> {
    let mut out: Vec<FeedHash> = Vec::new();
    for item in items {
        let video = item.values.contains(Algorithm::Vpdq);
        for (a, value) in item.values.iter() {
            let Some(name) = signal_type(a) else { continue };
            if a == Algorithm::Md5 && !video {
                continue;
            }
            let crate::matching::ItemValue::Hex(hex) = value else {
                continue;
            };
            let Ok(hash) = crate::model::canonical_hash(a, hex) else {
                continue;
            };
            let h = FeedHash {
                signal_type: name,
                hash_value: hash,
            };
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    out
}

/// `StopNCIICSPFeedbackValue`: what a platform says of a hash.
pub const FEEDBACK_VALUES: [&str; 8] = [
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
];

/// `StopNCIISignalType`: every signal type name pytx's client reads (the ones pixelprint
/// stores are in [`SIGNAL_TYPES`]).
pub const SIGNAL_TYPE_NAMES: [&str; 6] =
    ["Unknown", "ImagePDQ", "VideoMD5", "VideoTMK", "Text", "URL"];

/// `StopNCIICaseStatus`: a hash's and a case's status.
pub const CASE_STATUSES: [&str; 5] = ["Unknown", "Received", "Active", "Withdrawn", "Deleted"];

/// `FetchHashesResponse`: served with [`HashRecord`]s; a source reads its records one by one
/// (`R` = `serde_json::Value`), so that a malformed one is skipped, not the page.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchHashesResponse<R = HashRecord> {
    pub count: usize,
    pub has_more_records: bool,
    #[serde(default)]
    pub hash_records: Vec<R>,
    pub next_page_token: Option<String>,
    pub next_set_timestamp: i64,
}

/// `StopNCIIHashRecord`: a hash, its aggregate status, its cases and the platforms' feedback.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashRecord {
    #[serde(rename = "CSPFeedbacks", default)]
    pub csp_feedbacks: Vec<CspFeedback>,
    #[serde(deserialize_with = "case_numbers")]
    pub case_numbers: BTreeMap<String, String>,
    pub hash_status: String,
    pub hash_value: String,
    pub last_modtimestamp: i64,
    pub signal_type: String,
}

impl HashRecord {
    /// Refuses what pytx's client refuses: a value outside its enums.
    pub fn check(&self) -> Result<(), String> {
        let within = |what: &str, v: &str, names: &[&str]| {
            if names.contains(&v) {
                Ok(())
            } else {
                Err(format!("{what} {v:?} is none of {}", names.join(", ")))
            }
        };
        within("signalType", &self.signal_type, &SIGNAL_TYPE_NAMES)?;
        within("hashStatus", &self.hash_status, &CASE_STATUSES)?;
        for status in self.case_numbers.values() {
            within("a case's status", status, &CASE_STATUSES)?;
        }
        for f in &self.csp_feedbacks {
            within("feedbackValue", &f.feedback_value, &FEEDBACK_VALUES)?;
        }
        Ok(())
    }

    /// Whether the hash is gone from the exchange (withdrawn or deleted).
    pub fn is_removed(&self) -> bool {
        [FeedStatus::Withdrawn, FeedStatus::Deleted]
            .iter()
            .any(|s| s.as_str() == self.hash_status)
    }
}

/// Some answers send an empty `caseNumbers` as `[]` (pytx reads it as `{}`).
fn case_numbers<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Cases {
        Map(BTreeMap<String, String>),
        Empty([(); 0]),
    }
    Ok(match Cases::deserialize(d)? {
        Cases::Map(m) => m,
        Cases::Empty(_) => BTreeMap::new(),
    })
}

/// `StopNCIICSPFeedback` as the server sends it and a source reads it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CspFeedback {
    pub feedback_value: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `StopNCIICSPFeedback` as a platform posts it (`as_dict_for_post`), with the hash it is on
/// when posted to `SubmitFeedback`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedFeedback {
    pub feedback_value: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub hash_value: Option<String>,
}

/// The body of `SubmitFeedback`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitFeedbackRequest {
    #[serde(default)]
    pub count: Option<usize>,
    pub hash_feedbacks: Vec<PostedFeedback>,
}

/// One record of `SubmitHashes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostedHash {
    pub signal_type: String,
    pub hash_value: String,
    #[serde(rename = "CSPFeedbacks", default)]
    pub csp_feedbacks: Vec<PostedFeedback>,
}

/// The body of `SubmitHashes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitHashesRequest {
    #[serde(default)]
    pub count: Option<usize>,
    pub hash_records: Vec<PostedHash>,
}

/// The answer to a submission: how many records it stored.
#[derive(Debug, Serialize)]
pub struct SubmitResponse {
    pub count: usize,
}

/// The opaque `nextPageToken` of a cursor: `LASTMOD.SIGNALTYPE.HASH`.
pub fn page_token(c: &FeedCursor) -> String {
    format!("{}.{}.{}", c.last_mod, c.signal_type, c.hash_value)
}

/// Reads a `nextPageToken` this server wrote.
pub fn parse_page_token(token: &str) -> Option<FeedCursor> {
    let mut parts = token.splitn(3, '.');
    let last_mod: i64 = parts.next()?.parse().ok()?;
    let signal = parts.next()?;
    let hash = parts.next()?;
    let (_, signal_type) = signal_algorithm(signal)?;
    let hex = !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (last_mod >= 0 && hex && signal == signal_type).then(|| FeedCursor {
        last_mod,
        signal_type: signal_type.to_string(),
        hash_value: hash.to_string(),
    })
}

/// The aggregate `hashStatus` of a hash's cases: `Active` while any case is, else `Withdrawn`
/// if any case was withdrawn, else `Deleted`.
fn aggregate_status(cases: &BTreeMap<String, String>) -> &'static str {
    let any = |s: FeedStatus| cases.values().any(|v| v == s.as_str());
    if any(FeedStatus::Active) {
        FeedStatus::Active.as_str()
    } else if any(FeedStatus::Withdrawn) {
        FeedStatus::Withdrawn.as_str()
    } else {
        FeedStatus::Deleted.as_str()
    }
}

/// The records of a page from the feed's rows (ordered by record, as
/// `crate::storage::Storage::feed_page` reads them) and the feedback on them; `case_number`
/// names a tip's case.
pub fn records(
    rows: Vec<FeedRow>,
    feedback: &[Feedback],
    case_number: impl Fn(&str) -> String,
) -> Vec<HashRecord> {
    let mut out: Vec<HashRecord> = Vec::new();
    for row in rows {
        let status = FeedStatus::from_stored(&row.status)
            .unwrap_or(FeedStatus::Deleted)
            .as_str();
        let same = out
            .last()
            .is_some_and(|r| r.signal_type == row.signal_type && r.hash_value == row.hash_value);
        if !same {
            let csp_feedbacks = feedback
                .iter()
                .filter(|f| f.hash_value == row.hash_value)
                .map(|f| CspFeedback {
                    feedback_value: f.value.clone(),
                    source: f.platform.clone(),
                    tags: f.tags.clone(),
                })
                .collect();
            out.push(HashRecord {
                csp_feedbacks,
                case_numbers: BTreeMap::new(),
                hash_status: String::new(),
                hash_value: row.hash_value.clone(),
                last_modtimestamp: row.last_mod,
                signal_type: row.signal_type.clone(),
            });
        }
        let record = out.last_mut().expect("pushed above");
        record
            .case_numbers
            .insert(case_number(&row.tip_id), status.to_string());
    }
    for r in &mut out {
        r.hash_status = aggregate_status(&r.case_numbers).to_string();
    }
    out
}

/// The cursor after a record.
pub fn cursor_after(r: &HashRecord) -> FeedCursor {
    FeedCursor {
        last_mod: r.last_modtimestamp,
        signal_type: r.signal_type.clone(),
        hash_value: r.hash_value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_types_map_both_ways_through_the_registry() {
        for (a, name) in SIGNAL_TYPES {
            assert_eq!(signal_type(a), Some(name));
            assert_eq!(signal_algorithm(name), Some((a, name)));
            let python = format!("StopNCIISignalType.{name}");
            assert_eq!(signal_algorithm(&python), Some((a, name)));
            assert!(crate::model::is_bank_algorithm(a), "{a:?} is matchable");
        }
        assert_eq!(signal_type(Algorithm::Vpdq), None);
        assert_eq!(signal_algorithm("VideoTMK"), None);
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_anything_else() {
        let c = FeedCursor {
            last_mod: 1_700_000_000,
            signal_type: "ImagePDQ".into(),
            hash_value: "ab".repeat(32),
        };
        assert_eq!(parse_page_token(&page_token(&c)), Some(c));
        for bad in [
            "",
            "x.ImagePDQ.ab",
            "-1.ImagePDQ.ab",
            "1.VideoTMK.ab",
            "1.ImagePDQ.",
            "1.ImagePDQ.zz",
            "1.ImagePDQ.ab.cd",
        ] {
            assert_eq!(parse_page_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_hash_is_active_while_any_of_its_cases_is() {
        let row = |tip: &str, status: &str| FeedRow {
            last_mod: 5,
            signal_type: "ImagePDQ".into(),
            hash_value: "00".into(),
            tip_id: tip.into(),
            status: status.into(),
        };
        let one = records(
            vec![row("a", "Withdrawn"), row("b", "Active")],
            &[],
            str::to_string,
        );
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].hash_status, "Active");
        assert_eq!(one[0].case_numbers["a"], "Withdrawn");
        let gone = records(
            vec![row("a", "Withdrawn"), row("b", "Deleted")],
            &[],
            str::to_string,
        );
        assert_eq!(gone[0].hash_status, "Withdrawn");
        let deleted = records(vec![row("b", "Deleted")], &[], str::to_string);
        assert_eq!(deleted[0].hash_status, "Deleted");
    }
}
