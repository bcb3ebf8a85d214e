//! StopNCII.org's hash API, served from the accepted tips (`docs/exchange.md`):
//! `GET /v1/stopncii/FetchHashes`, `POST /v1/stopncii/SubmitHashes` and
//! `POST /v1/stopncii/SubmitFeedback`, with StopNCII's paths, query parameters, headers and JSON,
//! so that its clients (python-threatexchange's `StopNCIIAPI`, Hasher-Matcher-Actioner) work
//! when given `…/v1/stopncii` as their base URL.
//!
//! A platform authenticates as StopNCII's clients do, with two headers,
//! `Ocp-Apim-Subscription-Key` and `x-functions-key`; both carry the platform's API key (scope
//! `exchange`), whose label names the platform in the feedback others see.

use std::sync::atomic::Ordering;

use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::{AppResult, Routes, St};
use crate::auth::{
    authorize_key, constant_time_eq, key_check_extractor, random_hex, sha256_hex, KeyCheck, Keyed,
};
use crate::error::ApiError;
use crate::exchange::stopncii::{
    self, cursor_after, page_token, parse_page_token, FetchHashesResponse, PostedFeedback,
    SubmitFeedbackRequest, SubmitHashesRequest, SubmitResponse, FEEDBACK_VALUES,
};
use crate::matching::{HashItem, ItemValue};
use crate::model::{case_number, FeedCursor, Feedback, TipRecord};
use crate::state::AppState;
use crate::time::now_unix;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/stopncii/FetchHashes", get(fetch_hashes))
        .route("/v1/stopncii/SubmitHashes", post(submit_hashes))
        .route("/v1/stopncii/SubmitFeedback", post(submit_feedback))
}

/// The header StopNCII's API gateway reads the subscription key from.
pub const SUBSCRIPTION_KEY_HEADER: &str = "ocp-apim-subscription-key";
/// The header StopNCII's functions read the endpoint's key from.
const FUNCTION_KEY_HEADER: &str = "x-functions-key";

/// Seconds a write may take between reading the clock and committing: a fetch's checkpoint
/// stays this far behind the present so that such a write is not skipped (records are
/// snapshots, so the ones fetched again are harmless).
const FEED_SETTLE_SECS: i64 = 1;

/// Most records of one submission.
const MAX_SUBMITTED: usize = 1000;
/// Most tags on one feedback, and most characters of a tag.
const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 100;

/// The platform making an exchange request: the label of its key (else the key's digest's
/// start), as other platforms and reviewers see it.
pub struct Platform(pub String);

impl KeyCheck for Platform {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let (Some(subscription), Some(function)) =
            (header(SUBSCRIPTION_KEY_HEADER), header(FUNCTION_KEY_HEADER))
        else {
            return Err(ApiError::Unauthorized);
        };
        if !constant_time_eq(subscription, function) {
            return Err(ApiError::Unauthorized);
        }
        authorize_key(state, subscription, "exchange").await?;
        let digest = sha256_hex(subscription.as_bytes());
        let short = format!("key {}", &digest[..12]);
        let label = state
            .db(move |s| s.api_key_label(&digest))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Platform(label.filter(|l| !l.is_empty()).unwrap_or(short)))
    }
}

key_check_extractor!(Platform);

/// `FetchHashes`' query parameters, read as text so that a bad one gets a clear error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FetchQuery {
    start_timestamp: Option<String>,
    page_size: Option<String>,
    next_page_token: Option<String>,
}

fn bad_param(name: &str, message: String) -> ApiError {
    ApiError::bad_at("invalid_parameter", message, None, name)
}

/// The records changed at or after `startTimestamp` (or after `nextPageToken`), oldest change
/// first, `pageSize` at most (within `--exchange-page-size`).
async fn fetch_hashes(
    State(state): St,
    _: Platform,
    UrlQuery(q): UrlQuery<FetchQuery>,
) -> AppResult<Json<FetchHashesResponse>> {
    let start = match q.start_timestamp.as_deref() {
        None => 0,
        Some(t) => t.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
            bad_param(
                "startTimestamp",
                format!("startTimestamp is Unix seconds, found {t:?}"),
            )
        })?,
    };
    let max = state.limits.exchange_page_size;
    let size = match q.page_size.as_deref() {
        None => max,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                bad_param(
                    "pageSize",
                    format!("pageSize is a positive number, found {n:?}"),
                )
            })?
            .min(max),
    };
    let cursor = match q.next_page_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => parse_page_token(token).ok_or_else(|| {
            bad_param(
                "nextPageToken",
                "nextPageToken is a token from an earlier answer".into(),
            )
        })?,
        None => FeedCursor {
            last_mod: start,
            signal_type: String::new(),
            hash_value: String::new(),
        },
    };
    let now = now_unix();
    let (rows, feedback) = state.db(move |s| s.feed_page(&cursor, size + 1)).await?;
    let mut records = stopncii::records(rows, &feedback, case_number);
    let has_more = records.len() > size;
    records.truncate(size);
    let (next_page_token, next_set_timestamp) = match records.last() {
        // Resuming from the last record's change time fetches it (and its equals) again.
        Some(last) if has_more => (
            Some(page_token(&cursor_after(last))),
            last.last_modtimestamp,
        ),
        _ => (None, start.max(now - FEED_SETTLE_SECS)),
    };
    Ok(Json(FetchHashesResponse {
        count: records.len(),
        has_more_records: has_more,
        hash_records: records,
        next_page_token,
        next_set_timestamp,
    }))
}

/// Checks a posted feedback value and its tags.
fn check_feedback(f: &PostedFeedback, place: &str) -> AppResult<()> {
    if !FEEDBACK_VALUES.contains(&f.feedback_value.as_str()) {
        return Err(ApiError::bad_at(
            "invalid_feedback",
            format!(
                "{place}.feedbackValue is one of {}, found {:?}",
                FEEDBACK_VALUES.join(", "),
                f.feedback_value
            ),
            None,
            "feedbackValue",
        ));
    }
    if f.tags.len() > MAX_TAGS || f.tags.iter().any(|t| t.chars().count() > MAX_TAG_CHARS) {
        return Err(ApiError::bad_at(
            "invalid_tags",
            format!(
                "{place}.tags has at most {MAX_TAGS} tags of at most {MAX_TAG_CHARS} characters"
            ),
            None,
            "tags",
        ));
    }
    Ok(())
}

/// `count` (which StopNCII's clients send) says how many records follow.
fn check_count(n: usize, count: Option<usize>, field: &str) -> AppResult<()> {
    if let Some(count) = count.filter(|c| *c != n) {
        return Err(ApiError::bad_at(
            "count_mismatch",
            format!("count is {count} but {field} has {n} entries"),
            None,
            "count",
        ));
    }
    if n == 0 || n > MAX_SUBMITTED {
        return Err(ApiError::bad_at(
            "item_count",
            format!("{field} has 1..={MAX_SUBMITTED} entries, found {n}"),
            None,
            field,
        ));
    }
    Ok(())
}

/// A platform's feedback on hashes of the feed: shown on the tips that published them (to
/// reviewers; to reporters as counts) and in the records other platforms fetch. Feedback on a
/// hash the feed does not hold is not stored; the answer's `count` says how many were.
async fn submit_feedback(
    State(state): St,
    Keyed(Platform(platform), JsonBody(req)): Keyed<Platform, JsonBody<SubmitFeedbackRequest>>,
) -> AppResult<Json<SubmitResponse>> {
    check_count(req.hash_feedbacks.len(), req.count, "hashFeedbacks")?;
    let now = now_unix();
    let mut feedback = Vec::with_capacity(req.hash_feedbacks.len());
    for (i, f) in req.hash_feedbacks.into_iter().enumerate() {
        let place = format!("hashFeedbacks[{i}]");
        check_feedback(&f, &place)?;
        let hash = f
            .hash_value
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                ApiError::bad_at(
                    "invalid_hash",
                    format!("{place}.hashValue is a hex hash"),
                    None,
                    "hashValue",
                )
            })?;
        feedback.push(Feedback {
            hash_value: hash.to_ascii_lowercase(),
            platform: platform.clone(),
            value: f.feedback_value,
            tags: f.tags,
            updated_at: now,
        });
    }
    // Only on hashes of the feed: a platform cannot fill the store with feedback on others.
    let count = state.db(move |s| s.put_feedback(&feedback, true)).await?;
    Ok(Json(SubmitResponse { count }))
}

/// Hashes a platform found itself: each becomes a tip (category non-consensual intimate
/// imagery, the exchange's subject) that reviewers accept or reject like any other; the
/// platform's feedback on it is stored.
async fn submit_hashes(
    State(state): St,
    Keyed(Platform(platform), JsonBody(req)): Keyed<Platform, JsonBody<SubmitHashesRequest>>,
) -> AppResult<(StatusCode, Json<SubmitResponse>)> {
    check_count(req.hash_records.len(), req.count, "hashRecords")?;
    let now = now_unix();
    let mut items = Vec::with_capacity(req.hash_records.len());
    let mut feedback = Vec::new();
    for (i, r) in req.hash_records.into_iter().enumerate() {
        let place = format!("hashRecords[{i}]");
        let algorithm = match stopncii::signal_algorithm(&r.signal_type) {
            // An MD5 is published as VideoMD5 only with a video's vPDQ, which a submission lacks.
            Some((a, _)) if a == pixelprint::Algorithm::Pdq => a,
            _ => {
                return Err(ApiError::bad_at(
                    "unsupported_signal_type",
                    format!(
                        "{place}.signalType: pixelprint takes submissions of ImagePDQ, found {:?}",
                        r.signal_type
                    ),
                    None,
                    "signalType",
                ))
            }
        };
        let hash = crate::model::canonical_hash(algorithm, r.hash_value.trim()).map_err(|e| {
            ApiError::bad_at(
                "invalid_hash",
                format!("{place}.hashValue: {e}"),
                None,
                "hashValue",
            )
        })?;
        for (j, f) in r.csp_feedbacks.into_iter().enumerate() {
            check_feedback(&f, &format!("{place}.CSPFeedbacks[{j}]"))?;
            feedback.push(Feedback {
                hash_value: hash.clone(),
                platform: platform.clone(),
                value: f.feedback_value,
                tags: f.tags,
                updated_at: now,
            });
        }
        let mut item = HashItem::default();
        item.values.insert(algorithm, ItemValue::Hex(hash));
        items.push(item);
    }
    let count = items.len();
    let tip = TipRecord {
        id: random_hex(16)?,
        // No receipt: the platform follows its submission through the feed.
        token_sha256: sha256_hex(random_hex(32)?.as_bytes()),
        status: "received".into(),
        category: "non_consensual_intimate_imagery".into(),
        description: Some(format!("Submitted through the StopNCII API by {platform}")),
        urls: Vec::new(),
        contact: None,
        items_json: serde_json::to_string(&items).map_err(ApiError::internal)?,
        created_at: now,
        updated_at: now,
    };
    state
        .db(move |s| {
            s.insert_tip(&tip)?;
            s.put_feedback(&feedback, false)
        })
        .await?;
    state.metrics.tips.fetch_add(1, Ordering::Relaxed);
    Ok((StatusCode::CREATED, Json(SubmitResponse { count })))
}
