//! Tech Against Terrorism's hash list (TCAP), as python-threatexchange's client reads it
//! (`exchanges/clients/techagainstterrorism/api.py`, `exchanges/impl/techagainstterrorism_api.py`).
//!
//! - Credential: `username:password` (pytx's `PYTX_TAT_CREDENTIALS` format), exchanged for a
//!   token at `POST {base}/token-auth/tcap/` (form `username`, `password`, `resend`) before each
//!   page, as pytx does; the page is `GET {base}/api/hash-list/v2/all?order=asc&after=CHECKPOINT`
//!   with `Authorization: Bearer TOKEN`.
//! - A page: `count`, `next` (null on the last page), `previous`, `checkpoint` (`timestamp,id` of
//!   its last record), `results`. A result: `hash_digest`, `algorithm` (`PDQ`, `MD5`),
//!   `ideology`, `file_type`, `deleted`, `updated_on`, `created_on`, `id`; `deleted: true`
//!   removes the (algorithm, hash) pair.
//! - Checkpoint: the page's `checkpoint`; the next page is asked for `after` it, so a resumed
//!   fetch starts right after the last page written (pytx pages by the `next` URL within one
//!   run and keeps the same checkpoint).

use serde::Deserialize;
use serde_json::Value;

use super::{
    get_json, signal_algorithm, sourced_entry, user_password, Exchange, ExchangeKind, FetchContext,
    FetchError, Fetched, RecordFacts,
};

pub struct Tat;

/// `TATHashListEntry`: every field is required, as pytx's constructor requires it.
#[derive(Deserialize)]
#[allow(dead_code)] // read to refuse what pytx refuses
struct Entry {
    hash_digest: String,
    algorithm: String,
    ideology: String,
    file_type: String,
    deleted: bool,
    updated_on: f64,
    created_on: Value,
    id: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Page {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    checkpoint: String,
    results: Vec<Value>,
}

#[derive(Deserialize)]
struct Token {
    token: Option<String>,
}

fn read_page(page: Value, checkpoint: Option<&str>) -> Result<Fetched, FetchError> {
    let page: Page =
        serde_json::from_value(page).map_err(|e| FetchError::Malformed(e.to_string()))?;
    let mut fetched = Fetched::default();
    for (i, record) in page.results.into_iter().enumerate() {
        let entry: Entry = match serde_json::from_value(record) {
            Ok(e) => e,
            Err(e) => {
                fetched.skipped.push(format!("record {i}: {e}"));
                continue;
            }
        };
        let Some(algorithm) = signal_algorithm(ExchangeKind::Tat, &entry.algorithm) else {
            continue;
        };
        let key = format!(
            "{}:{}",
            entry.algorithm,
            entry.hash_digest.to_ascii_lowercase()
        );
        if entry.deleted {
            fetched.deletions.push(key);
            continue;
        }
        let facts = RecordFacts {
            algorithm,
            key,
            id: entry.id.to_string(),
            hash: &entry.hash_digest,
            tags: vec![
                format!("ideology:{}", entry.ideology),
                format!("file_type:{}", entry.file_type),
            ],
            descriptors: Vec::new(),
        };
        match sourced_entry(ExchangeKind::Tat, facts) {
            Ok(e) => fetched.upserts.push(e),
            Err(why) => fetched.skipped.push(format!("record {i}: {why}")),
        }
    }
    fetched.more = page.next.is_some_and(|n| !n.is_empty());
    fetched.checkpoint = if page.checkpoint.is_empty() {
        checkpoint.unwrap_or_default().to_string()
    } else {
        page.checkpoint
    };
    if fetched.more && checkpoint == Some(fetched.checkpoint.as_str()) {
        return Err(FetchError::Malformed(
            "a page with more to come did not move the checkpoint".into(),
        ));
    }
    Ok(fetched)
}

impl Exchange for Tat {
    fn default_base_url(&self) -> &'static str {
        "https://app.terrorismanalytics.org"
    }

    fn fetch(
        &self,
        ctx: &FetchContext<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let (user, password) = user_password(ctx.secret, "TAT")?;
        let base = ctx.base_url.trim_end_matches('/');
        let token: Token = serde_json::from_value(get_json(
            ctx.http.post(format!("{base}/token-auth/tcap/")).form(&[
                ("username", user),
                ("password", password),
                ("resend", "False"),
            ]),
        )?)
        .map_err(|e| FetchError::Malformed(format!("token answer: {e}")))?;
        let token = token
            .token
            .ok_or_else(|| FetchError::Refused("no token in the answer".into()))?;
        let mut query = vec![("order", "asc"), ("after", checkpoint.unwrap_or(""))];
        let limit = ctx.page_size.map(|n| n.to_string());
        if let Some(limit) = &limit {
            query.push(("limit", limit));
        }
        let page = get_json(
            ctx.http
                .get(format!("{base}/api/hash-list/v2/all"))
                .query(&query)
                .bearer_auth(token),
        )?;
        read_page(page, checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_gives_entries_and_deletions_and_its_checkpoint() {
        let pdq = "a".repeat(64);
        let page = json!({
            "count": 3, "next": "x", "previous": null, "checkpoint": "1700000000.5,3",
            "results": [
                {"hash_digest": pdq, "algorithm": "PDQ", "ideology": "islamist",
                 "file_type": "image", "deleted": false, "updated_on": 1.0,
                 "created_on": "2024-01-01T00:00:00Z", "id": 1},
                {"hash_digest": "0".repeat(32), "algorithm": "MD5", "ideology": "far-right",
                 "file_type": "video", "deleted": true, "updated_on": 2.0,
                 "created_on": "2024-01-01T00:00:00Z", "id": 2},
                {"hash_digest": "zz", "algorithm": "PDQ", "ideology": "islamist",
                 "file_type": "image", "deleted": false, "updated_on": 3.0,
                 "created_on": "2024-01-01T00:00:00Z", "id": 3},
            ]
        });
        let f = read_page(page, None).unwrap();
        assert_eq!(f.upserts.len(), 1);
        assert!(f.upserts[0].source.contains(r#""id":"1""#));
        assert_eq!(f.deletions, [format!("MD5:{}", "0".repeat(32))]);
        assert_eq!(f.skipped.len(), 1);
        assert!(f.more);
        assert_eq!(f.checkpoint, "1700000000.5,3");
    }
}
