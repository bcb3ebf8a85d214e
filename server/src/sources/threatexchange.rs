//! Meta's ThreatExchange: a privacy group's `threat_updates`, as python-threatexchange's client
//! reads it (`exchanges/clients/fb_threatexchange/api.py` `ThreatExchangeAPI.get_threat_updates`,
//! `threat_updates.py` `ThreatUpdateJSON`, `exchanges/impl/fb_threatexchange_api.py`).
//!
//! - Base URL: the Graph API root (pytx's `_TE_BASE_URL`, `https://graph.facebook.com/v26.0`, or
//!   its `endpoint_override`); the source names its `privacy_group`.
//! - Credential: an app access token (`APPID|SECRET`, pytx's `TX_ACCESS_TOKEN`), sent as the
//!   `access_token` parameter as pytx sends it; no message names a URL that carries it.
//! - A page: `GET {base}/{privacy_group}/threat_updates/?access_token=&start_time=&limit=&fields=`
//!   answers `{"data": [...], "paging": {"next": URL}}`. An update: `id`, `indicator`, `type`
//!   (`HASH_PDQ`, `HASH_MD5`, ...), `last_updated` (Unix seconds), `should_delete`,
//!   `descriptors.data[]` (`id`, `owner.id`, `tags`, `status`). It is the current state of
//!   (type, indicator), pytx's key; `should_delete`, no `descriptors`, or no descriptor with an
//!   owner (pytx's `from_threatexchange_json` gives no record) remove it.
//! - Checkpoint: the highest `last_updated` read (pytx's `FBThreatExchangeCheckpoint.update_time`,
//!   the next run's `start_time`) and, within a run, the `next` URL without its token (it must
//!   lead to the base URL's host: the token is not sent elsewhere).
//! - An update without the fields pytx reads is skipped and counted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::feedback::{FeedbackItem, Verdict};
use super::{
    get_body_with, read_checkpoint, signal_algorithm, sourced_entry, Exchange, ExchangeKind,
    FetchContext, FetchError, Fetched, RecordFacts, Secret,
};

pub struct ThreatExchange;

/// pytx's `fetch_iter` page size.
const DEFAULT_PAGE_SIZE: u32 = 100;
/// pytx's `FBThreatExchangeIndicatorRecord.te_threat_updates_fields`, and the update's `id`.
const FIELDS: &str =
    "id,indicator,type,last_updated,should_delete,descriptors{id,reactions,owner{id},tags,status}";

#[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
struct Checkpoint {
    update_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Update {
    #[serde(default)]
    id: Option<Value>,
    indicator: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(deserialize_with = "seconds")]
    last_updated: i64,
    should_delete: bool,
    #[serde(default)]
    descriptors: Option<Descriptors>,
}

#[derive(Deserialize)]
struct Descriptors {
    #[serde(default)]
    data: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    owner: Option<Value>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    status: Option<String>,
}

/// A descriptor's tags: a list, or the Graph API's `{"data": [{"text": ...}]}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Tags {
    List(Vec<String>),
    Graph { data: Vec<TagText> },
}

#[derive(Deserialize)]
struct TagText {
    text: String,
}

/// `int(raw_json["last_updated"])`: a number or a numeric string.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| D::Error::custom("not whole seconds")),
        Value::String(s) => s.trim().parse().map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("not seconds: {other}"))),
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

/// The `next` URL without its access token, if it leads to the base URL's host.
fn stored_next(base: &reqwest::Url, next: &str) -> Result<String, FetchError> {
    let mut url = reqwest::Url::parse(next)
        .map_err(|e| FetchError::Malformed(format!("paging.next is not a URL: {e}")))?;
    if url.origin() != base.origin() {
        return Err(FetchError::Malformed(format!(
            "paging.next leads to {}, not to the base URL's host",
            url.origin().ascii_serialization()
        )));
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "access_token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    Ok(url.into())
}

fn read_page(
    page: Value,
    checkpoint: &Checkpoint,
    base: &reqwest::Url,
) -> Result<Fetched, FetchError> {
    let page: Page =
        serde_json::from_value(page).map_err(|e| FetchError::Malformed(e.to_string()))?;
    let mut fetched = Fetched::default();
    let mut highest = checkpoint.update_time;
    let empty = page.data.is_empty();
    for (i, record) in page.data.into_iter().enumerate() {
        let update: Update = match serde_json::from_value(record) {
            Ok(u) => u,
            Err(e) => {
                fetched.skipped.push(format!("record {i}: {e}"));
                continue;
            }
        };
        highest = highest.max(update.last_updated);
        let Some(algorithm) = signal_algorithm(ExchangeKind::ThreatExchange, &update.kind) else {
            continue;
        };
        let key = format!("{}:{}", update.kind, update.indicator.to_ascii_lowercase());
        let owned: Vec<&Descriptor> = update
            .descriptors
            .iter()
            .flat_map(|d| &d.data)
            .filter(|d| d.owner.is_some())
            .collect();
        if update.should_delete || owned.is_empty() {
            fetched.deletions.push(key);
            continue;
        }
        let mut tags: Vec<String> = Vec::new();
        for d in &owned {
            match &d.tags {
                Some(Tags::List(list)) => tags.extend(list.iter().cloned()),
                Some(Tags::Graph { data }) => tags.extend(data.iter().map(|t| t.text.clone())),
                None => {}
            }
            if let Some(status) = &d.status {
                tags.push(format!("status:{status}"));
            }
        }
        let id = graph_id(update.id.as_ref()).unwrap_or_else(|| key.clone());
        let mut descriptors: Vec<String> = owned
            .iter()
            .filter_map(|d| graph_id(d.id.as_ref()))
            .collect();
        descriptors.sort();
        descriptors.dedup();
        let facts = RecordFacts {
            algorithm,
            key,
            id,
            hash: &update.indicator,
            tags,
            descriptors,
        };
        match sourced_entry(ExchangeKind::ThreatExchange, facts) {
            Ok(e) => fetched.upserts.push(e),
            Err(why) => fetched.skipped.push(format!("record {i}: {why}")),
        }
    }
    // An empty page ends the run whatever its paging says (pytx expects none).
    let next = match page
        .paging
        .and_then(|p| p.next)
        .filter(|n| !n.is_empty() && !empty)
    {
        Some(next) => Some(stored_next(base, &next)?),
        None => None,
    };
    if next.is_some() && next == checkpoint.next {
        return Err(FetchError::Malformed(
            "a page with more to come gave the same next URL".into(),
        ));
    }
    fetched.more = next.is_some();
    let next = Checkpoint {
        update_time: highest,
        next,
    };
    fetched.checkpoint = serde_json::to_string(&next).expect("numbers and strings");
    Ok(fetched)
}

/// A Graph API id: a string of digits, or a number.
fn graph_id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The reaction a verdict sends: `HELPFUL` for a confirmed match (pytx's
/// `react_upvote_threat_descriptor`; pytx reads it back as a positive opinion), and
/// `DISAGREE_WITH_TAGS` for a false positive (pytx reads it back as a negative opinion, a
/// dispute of the descriptor's tags).
fn reaction(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Confirmed => "HELPFUL",
        Verdict::FalsePositive => "DISAGREE_WITH_TAGS",
    }
}

/// The Graph API answers a bad token with 400 and an `OAuthException` (code 190, or 102 for a
/// session), not 401.
fn refuses(status: reqwest::StatusCode, body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let error = &v["error"];
    status == reqwest::StatusCode::BAD_REQUEST
        && (error["type"] == "OAuthException" || error["code"] == 190 || error["code"] == 102)
}

impl Exchange for ThreatExchange {
    fn default_base_url(&self) -> &'static str {
        "https://graph.facebook.com/v26.0"
    }

    fn takes_feedback(&self) -> bool {
        true
    }

    /// One reaction per descriptor of the entry's indicator, as pytx's
    /// `ThreatExchangeAPI.react_to_threat_descriptor` sends it: `POST {base}/{descriptor_id}/`
    /// with `access_token` and `reactions` in the query and `reactions=NAME` as the body.
    fn send_feedback(
        &self,
        ctx: &FetchContext<'_>,
        _feedback_secret: Option<&Secret>,
        item: &FeedbackItem,
    ) -> Result<(), FetchError> {
        if item.descriptors.is_empty() {
            return Err(FetchError::Config(format!(
                "entry {} was synced without its descriptor ids: sync the bank again to react to it",
                item.source_id
            )));
        }
        let root = ctx.base_url.trim_end_matches('/');
        let name = reaction(item.verdict);
        for descriptor in &item.descriptors {
            if !descriptor.chars().all(|c| c.is_ascii_digit()) {
                return Err(FetchError::Config(format!(
                    "descriptor id {descriptor:?} is not a Graph API id"
                )));
            }
            let request = ctx
                .http
                .post(format!("{root}/{descriptor}/"))
                .query(&[("access_token", ctx.secret.expose()), ("reactions", name)])
                .body(format!("reactions={name}"));
            get_body_with(request, true, &refuses)?;
        }
        Ok(())
    }

    fn fetch(
        &self,
        ctx: &FetchContext<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let checkpoint = read_checkpoint(checkpoint, Checkpoint::default())?;
        let group = ctx.privacy_group.ok_or_else(|| {
            FetchError::Config("a threatexchange source names its privacy_group".into())
        })?;
        let token = ctx.secret.expose();
        let root = ctx.base_url.trim_end_matches('/');
        let base =
            reqwest::Url::parse(root).map_err(|e| FetchError::Config(format!("base_url: {e}")))?;
        let request = match &checkpoint.next {
            Some(next) => ctx.http.get(next).query(&[("access_token", token)]),
            None => {
                let limit = ctx.page_size.unwrap_or(DEFAULT_PAGE_SIZE).to_string();
                let mut query = vec![
                    ("access_token", token.to_string()),
                    ("limit", limit),
                    ("fields", FIELDS.to_string()),
                ];
                if checkpoint.update_time > 0 {
                    query.push(("start_time", checkpoint.update_time.to_string()));
                }
                ctx.http
                    .get(format!("{root}/{group}/threat_updates/"))
                    .query(&query)
            }
        };
        let body = get_body_with(request, true, &refuses)?;
        let page = serde_json::from_slice(&body)
            .map_err(|e| FetchError::Malformed(format!("not JSON: {e}")))?;
        read_page(page, &checkpoint, &base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> reqwest::Url {
        reqwest::Url::parse("https://graph.facebook.com/v26.0").unwrap()
    }

    #[test]
    fn a_page_gives_entries_deletions_skips_and_a_next_url_without_the_token() {
        let pdq = "c".repeat(64);
        let owner = json!({"id": "1"});
        let page = json!({
            "data": [
                {"id": "11", "indicator": pdq.to_uppercase(), "type": "HASH_PDQ", "last_updated": 50,
                 "should_delete": false, "descriptors": {"data": [
                    {"id": "d1", "owner": owner, "tags": {"data": [{"text": "b"}, {"text": "a"}]},
                     "status": "MALICIOUS"}]}},
                {"id": "12", "indicator": "0".repeat(32), "type": "HASH_MD5", "last_updated": "60",
                 "should_delete": true},
                {"id": "13", "indicator": "1".repeat(32), "type": "HASH_VIDEO_MD5",
                 "last_updated": 55, "should_delete": false,
                 "descriptors": {"data": [{"id": "d3", "tags": ["x"], "status": "MALICIOUS"}]}},
                {"id": "14", "type": "HASH_PDQ", "last_updated": 56, "should_delete": false},
                {"id": "15", "indicator": "example.org", "type": "URI", "last_updated": 57,
                 "should_delete": false, "descriptors": {"data": [{"owner": owner}]}},
            ],
            "paging": {"next": "https://graph.facebook.com/v26.0/9/threat_updates?access_token=1%7Csecret&limit=5&after=QVFI"}
        });
        let f = read_page(page, &Checkpoint::default(), &base()).unwrap();
        assert_eq!(f.upserts.len(), 1);
        assert_eq!(f.upserts[0].key, format!("HASH_PDQ:{pdq}"));
        assert!(f.upserts[0]
            .source
            .contains(r#""id":"11","tags":["a","b","status:MALICIOUS"]"#));
        assert_eq!(
            f.deletions,
            [
                format!("HASH_MD5:{}", "0".repeat(32)),
                format!("HASH_VIDEO_MD5:{}", "1".repeat(32))
            ]
        );
        assert_eq!(f.skipped.len(), 1);
        assert!(f.skipped[0].starts_with("record 3: missing field `indicator`"));
        assert!(f.more);
        assert!(!f.checkpoint.contains("secret"), "{}", f.checkpoint);
        let cp: Checkpoint = serde_json::from_str(&f.checkpoint).unwrap();
        assert_eq!(cp.update_time, 60);
        assert_eq!(
            cp.next.as_deref(),
            Some("https://graph.facebook.com/v26.0/9/threat_updates?limit=5&after=QVFI")
        );
    }

    #[test]
    fn a_next_url_to_another_host_is_refused() {
        let page = json!({"data": [{"indicator": "x", "type": "URI", "last_updated": 1,
                                    "should_delete": true}],
                          "paging": {"next": "https://elsewhere.example/v26.0/9/threat_updates"}});
        assert!(matches!(
            read_page(page, &Checkpoint::default(), &base()),
            Err(FetchError::Malformed(_))
        ));
    }

    #[test]
    fn the_last_page_keeps_the_highest_time() {
        let page = json!({"data": [], "paging": {"next": "https://graph.facebook.com/x"}});
        let cp = Checkpoint {
            update_time: 70,
            next: Some("https://graph.facebook.com/y".into()),
        };
        let f = read_page(page, &cp, &base()).unwrap();
        assert!(!f.more);
        assert_eq!(f.checkpoint, r#"{"update_time":70}"#);
    }

    #[test]
    fn an_oauth_error_is_a_refused_credential() {
        let body = br#"{"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}"#;
        assert!(refuses(reqwest::StatusCode::BAD_REQUEST, body));
        assert!(!refuses(reqwest::StatusCode::BAD_REQUEST, b"{}"));
    }
}
