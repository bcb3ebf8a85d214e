//! StopNCII.org's `GET {base}/FetchHashes?startTimestamp=&pageSize=&nextPageToken=`, as
//! python-threatexchange's client reads it (`exchanges/clients/stopncii/api.py`,
//! `exchanges/impl/stop_ncii_api.py`).
//!
//! - Credential: `fetch_function_key,subscription_key` (pytx's `TX_STOPNCII_KEYS` format; a
//!   third field, pytx's base URL override, is ignored: the source names its `base_url`), sent
//!   as `x-functions-key` and `Ocp-Apim-Subscription-Key`.
//! - A page: `count`, `nextPageToken`, `nextSetTimestamp`, `hasMoreRecords`, `hashRecords`.
//!   A record is the current state of one (signal type, hash): it replaces what was stored for
//!   that pair; `hashStatus` `Withdrawn` or `Deleted` removes it.
//! - Checkpoint: the `startTimestamp` of the run and the page token within it; after the last
//!   page, the `nextSetTimestamp` the exchange gave. A record that pytx's client would not
//!   read (a missing field, a value outside its enums) is skipped and counted, as pytx does.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::feedback::{FeedbackItem, Verdict};
use super::{
    get_json, read_checkpoint, send, signal_algorithm, sourced_entry, Exchange, ExchangeKind,
    FetchContext, FetchError, Fetched, RecordFacts, Secret,
};
use crate::exchange::stopncii::{FetchHashesResponse, HashRecord};

pub struct StopNcii;

/// pytx's `StopNCIIAPI.DEFAULT_START_TIME`.
const DEFAULT_START_TIME: i64 = 10;
/// pytx's default `page_size`.
const DEFAULT_PAGE_SIZE: u32 = 800;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Checkpoint {
    start_timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// The key of a (signal type, hash) pair in the bank.
fn key(signal: &str, hash: &str) -> String {
    format!("{}:{}", signal, hash.to_ascii_lowercase())
}

/// Splits the credential into the fetch function key and the subscription key.
fn keys(secret: &str) -> Result<(&str, &str), FetchError> {
    let mut parts = secret.split(',').map(str::trim);
    match (parts.next(), parts.next()) {
        (Some(f), Some(s)) if !f.is_empty() && !s.is_empty() => Ok((f, s)),
        _ => Err(FetchError::Config(
            "a StopNCII credential is `fetch_function_key,subscription_key`".into(),
        )),
    }
}

/// Turns one page into entries; the records one by one, so that a malformed one is skipped.
fn read_page(page: Value, checkpoint: &Checkpoint) -> Result<Fetched, FetchError> {
    if page
        .get("hashRecords")
        .is_some_and(|r| !r.is_array() && !r.is_null())
    {
        return Err(FetchError::Malformed("hashRecords is not a list".into()));
    }
    let mut page = page;
    if page.get("hashRecords").is_some_and(Value::is_null) {
        page["hashRecords"] = Value::Array(Vec::new());
    }
    let head: FetchHashesResponse<Value> =
        serde_json::from_value(page).map_err(|e| FetchError::Malformed(e.to_string()))?;
    let mut fetched = Fetched::default();
    for (i, record) in head.hash_records.into_iter().enumerate() {
        let record = serde_json::from_value::<HashRecord>(record)
            .map_err(|e| e.to_string())
            .and_then(|r| r.check().map(|()| r));
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                fetched.skipped.push(format!("record {i}: {e}"));
                continue;
            }
        };
        let Some(algorithm) = signal_algorithm(ExchangeKind::Stopncii, &record.signal_type) else {
            continue;
        };
        let key = key(&record.signal_type, &record.hash_value);
        if record.is_removed() {
            fetched.deletions.push(key);
            continue;
        }
        let tags = record
            .csp_feedbacks
            .iter()
            .flat_map(|f| f.tags.iter().cloned())
            .collect();
        let facts = RecordFacts {
            algorithm,
            id: key.clone(),
            key,
            hash: &record.hash_value,
            tags,
            descriptors: Vec::new(),
        };
        match sourced_entry(ExchangeKind::Stopncii, facts) {
            Ok(e) => fetched.upserts.push(e),
            Err(why) => fetched.skipped.push(format!("record {i}: {why}")),
        }
    }
    let next = if head.has_more_records {
        let token = head
            .next_page_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                FetchError::Malformed("hasMoreRecords without a nextPageToken".into())
            })?;
        Checkpoint {
            start_timestamp: checkpoint.start_timestamp,
            next_page_token: Some(token),
        }
    } else {
        Checkpoint {
            start_timestamp: head.next_set_timestamp,
            next_page_token: None,
        }
    };
    fetched.more = head.has_more_records;
    fetched.checkpoint = serde_json::to_string(&next).expect("numbers and strings");
    Ok(fetched)
}

impl Exchange for StopNcii {
    fn default_base_url(&self) -> &'static str {
        "https://api.stopncii.org/v1"
    }

    fn takes_feedback(&self) -> bool {
        true
    }

    /// `POST {base}/SubmitFeedback` as pytx's `StopNCIIAPI.submit_feedbacks` sends it: the
    /// hash, `feedbackValue` `Blocked` for a confirmed match or `NotBlocked` for a false
    /// positive, and the tags; with the `SubmitFeedback` function key when the source names a
    /// `feedback_credential`, else the fetch function key (one key per platform, as a
    /// pixelprint exchange gives).
    fn send_feedback(
        &self,
        ctx: &FetchContext<'_>,
        feedback_secret: Option<&Secret>,
        item: &FeedbackItem,
    ) -> Result<(), FetchError> {
        let (fetch_key, subscription_key) = keys(ctx.secret.expose())?;
        let function_key = feedback_secret.map_or(fetch_key, |s| s.expose());
        let Some((_, hash)) = item.source_id.split_once(':') else {
            return Err(FetchError::Config(format!(
                "StopNCII entry id {:?} is not signalType:hashValue",
                item.source_id
            )));
        };
        let value = match item.verdict {
            Verdict::Confirmed => "Blocked",
            Verdict::FalsePositive => "NotBlocked",
        };
        let body = serde_json::json!({
            "count": 1,
            "hashFeedbacks": [{"tags": item.tags, "feedbackValue": value, "hashValue": hash}],
        });
        let url = format!("{}/SubmitFeedback", ctx.base_url.trim_end_matches('/'));
        send(
            ctx.http
                .post(url)
                .header("x-functions-key", function_key)
                .header("Ocp-Apim-Subscription-Key", subscription_key)
                .json(&body),
        )?;
        Ok(())
    }

    fn fetch(
        &self,
        ctx: &FetchContext<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let checkpoint = read_checkpoint(
            checkpoint,
            Checkpoint {
                start_timestamp: DEFAULT_START_TIME,
                next_page_token: None,
            },
        )?;
        let (function_key, subscription_key) = keys(ctx.secret.expose())?;
        let mut query = vec![
            ("startTimestamp", checkpoint.start_timestamp.to_string()),
            (
                "pageSize",
                ctx.page_size.unwrap_or(DEFAULT_PAGE_SIZE).to_string(),
            ),
        ];
        if let Some(token) = &checkpoint.next_page_token {
            query.push(("nextPageToken", token.clone()));
        }
        let url = format!("{}/FetchHashes", ctx.base_url.trim_end_matches('/'));
        let page = get_json(
            ctx.http
                .get(url)
                .query(&query)
                .header("x-functions-key", function_key)
                .header("Ocp-Apim-Subscription-Key", subscription_key),
        )?;
        read_page(page, &checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_gives_entries_deletions_and_skips_malformed_records() {
        let pdq = "f".repeat(64);
        let page = json!({
            "count": 4, "nextPageToken": "t2", "nextSetTimestamp": 99, "hasMoreRecords": true,
            "hashRecords": [
                {"lastModtimestamp": 1, "signalType": "ImagePDQ", "hashValue": pdq.to_uppercase(),
                 "hashStatus": "Active", "caseNumbers": [],
                 "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": ["b", "a"], "source": "x"}]},
                {"lastModtimestamp": 2, "signalType": "VideoMD5", "hashValue": "0".repeat(32),
                 "hashStatus": "Withdrawn", "caseNumbers": {"c1": "Withdrawn"}},
                {"lastModtimestamp": 3, "signalType": "ImagePDQ", "hashStatus": "Active",
                 "caseNumbers": {}},
                {"lastModtimestamp": 4, "signalType": "Text", "hashValue": "hello",
                 "hashStatus": "Active", "caseNumbers": {}},
            ]
        });
        let cp = Checkpoint {
            start_timestamp: 10,
            next_page_token: None,
        };
        let f = read_page(page, &cp).unwrap();
        assert_eq!(f.upserts.len(), 1);
        assert_eq!(f.upserts[0].hash, pdq);
        assert_eq!(f.upserts[0].key, format!("ImagePDQ:{pdq}"));
        assert!(f.upserts[0].source.contains(r#""tags":["a","b"]"#));
        assert_eq!(f.deletions, [format!("VideoMD5:{}", "0".repeat(32))]);
        assert_eq!(f.skipped.len(), 1);
        assert!(f.skipped[0].starts_with("record 2: "), "{}", f.skipped[0]);
        assert!(f.more);
        assert_eq!(
            f.checkpoint,
            r#"{"start_timestamp":10,"next_page_token":"t2"}"#
        );
    }

    #[test]
    fn the_last_page_moves_the_start_to_the_next_set_timestamp() {
        let page = json!({"count": 0, "nextPageToken": null, "nextSetTimestamp": 77,
                          "hasMoreRecords": false, "hashRecords": []});
        let cp = Checkpoint {
            start_timestamp: 10,
            next_page_token: Some("t".into()),
        };
        let f = read_page(page, &cp).unwrap();
        assert!(!f.more);
        assert_eq!(f.checkpoint, r#"{"start_timestamp":77}"#);
    }

    #[test]
    fn a_page_without_its_head_is_malformed() {
        let page = json!({"hashRecords": []});
        let cp = Checkpoint {
            start_timestamp: 10,
            next_page_token: None,
        };
        assert!(matches!(
            read_page(page, &cp),
            Err(FetchError::Malformed(_))
        ));
    }
}
