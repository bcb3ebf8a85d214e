//! Anonymous tips: `POST /v1/tips` (anyone, answered with a receipt token),
//! `GET /v1/tips/{tip_id}` and `POST /v1/tips/{tip_id}/withdraw` (the receipt token's holder),
//! the category list, the reviewers' `GET /v1/tips` and `POST /v1/tips/{tip_id}/review`, and
//! the administrators' `PATCH /v1/tips/{tip_id}`.
//!
//! The lifecycle (`crate::model::TIP_STATUSES`): a tip is `received`; a reviewer accepts it
//! (its PDQ hashes, and its videos' MD5s, go into the exchange feed, `crate::http::exchange`)
//! or rejects it; its reporter may withdraw it at any time (the feed tells platforms to delete
//! its hashes, and the hashes stored with the tip are deleted). Every status change goes
//! through [`transition`], which says what it does to the feed.

use std::sync::atomic::Ordering;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::{check_storable_opt, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{bearer, constant_time_eq, random_hex, sha256_hex, AdminKey, Keyed, ReviewKey};
use crate::error::ApiError;
use crate::exchange::stopncii::feed_hashes;
use crate::matching::HashItem;
use crate::model::{case_number, FeedStatus, Feedback, TipRecord, TipTransition, TIP_STATUSES};
use crate::ratelimit::{client_group, client_ip, take_all};
use crate::state::AppState;
use crate::time::{now_unix, rfc3339};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/tips", get(list_tips))
        .route("/v1/tips/categories", get(tip_categories))
        .route("/v1/tips/{tip_id}", get(get_tip).patch(update_tip))
        .route("/v1/tips/{tip_id}/review", post(review_tip))
        .route("/v1/tips/{tip_id}/withdraw", post(withdraw_tip))
}

/// `POST /v1/tips`, apart: its body has its own limit (`--tip-body-limit`).
pub fn create_routes() -> Routes {
    Routes::new().route("/v1/tips", post(create_tip))
}

const TIP_CATEGORIES: [(&str, &str); 5] = [
    (
        "non_consensual_intimate_imagery",
        "Non-consensual intimate imagery",
    ),
    ("child_sexual_abuse", "Child sexual abuse"),
    ("violent_extremism", "Violent extremism"),
    ("harassment", "Harassment"),
    ("other", "Other"),
];

const TIP_MAX_DESCRIPTION: usize = 5000;
const TIP_MAX_URLS: usize = 20;
const TIP_MAX_URL_CHARS: usize = 2048;
const TIP_MAX_CONTACT: usize = 500;
/// The statuses an administrator may set with `PATCH` (review and withdrawal have their routes).
const PATCH_STATUSES: [&str; 3] = ["received", "in_review", "closed"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TipRequest {
    items: Vec<HashItem>,
    category: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    contact: Option<String>,
}

/// The answer to a new tip: the receipt token is shown once, only its digest is stored.
#[derive(Serialize)]
struct TipReceipt {
    receipt_token: String,
    status: &'static str,
    tip_id: String,
}

/// What the receipt token's holder may see of a tip: its status in words, and how many
/// platforms said what of its hashes (never which platforms).
#[derive(Serialize)]
struct TipStatus {
    case_number: String,
    created_at: String,
    platform_feedback: FeedbackSummary,
    status: String,
    status_text: &'static str,
    tip_id: String,
    updated_at: String,
}

/// Platforms by what they said last of any of a tip's hashes.
#[derive(Default, Serialize)]
struct FeedbackSummary {
    /// Platforms that blocked a match.
    blocked: usize,
    /// Platforms that reviewed a match and did not block it.
    not_blocked: usize,
    /// Platforms that found a match and are reviewing it.
    pending_review: usize,
}

impl FeedbackSummary {
    fn of(feedback: &[Feedback]) -> FeedbackSummary {
        let platforms = |value: &str| {
            let mut p: Vec<&str> = feedback
                .iter()
                .filter(|f| f.value == value)
                .map(|f| f.platform.as_str())
                .collect();
            p.sort_unstable();
            p.dedup();
            p.len()
        };
        FeedbackSummary {
            blocked: platforms("Blocked"),
            not_blocked: platforms("NotBlocked"),
            pending_review: platforms("PendingReview"),
        }
    }
}

/// A status as a reporter reads it.
fn status_text(status: &str) -> &'static str {
    match status {
        "received" => "Received: waiting for review",
        "in_review" => "Being reviewed",
        "accepted" => "Accepted: the hashes were shared with platforms so that they can block matching content",
        "rejected" => "Not accepted: the hashes were not shared",
        "withdrawn" => "Withdrawn: platforms were told to delete the hashes, and they were deleted here",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

/// A platform's feedback on one of a tip's hashes, as reviewers see it.
#[derive(Serialize)]
struct FeedbackView {
    hash: String,
    platform: String,
    tags: Vec<String>,
    updated_at: String,
    value: String,
}

/// A tip as reviewers and administrators see it.
#[derive(Serialize)]
struct TipView {
    case_number: String,
    category: String,
    contact: Option<String>,
    created_at: String,
    description: Option<String>,
    feedback: Vec<FeedbackView>,
    items: serde_json::Value,
    status: String,
    tip_id: String,
    updated_at: String,
    urls: Vec<String>,
}

/// A page of tips; `next` is the `after` of the next page, `null` on the last.
#[derive(Serialize)]
struct TipList {
    next: Option<String>,
    tips: Vec<TipView>,
}

/// Most tips on one page of `GET /v1/tips`, also the page size when `limit` is not given (so a
/// client that knows no pages gets every tip of a store below it).
const TIPS_PAGE_MAX: usize = 1000;

#[derive(Serialize)]
struct Category {
    id: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct CategoryList {
    categories: Vec<Category>,
}

async fn create_tip(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<TipRequest>,
) -> AppResult<(StatusCode, Json<TipReceipt>)> {
    let max = state.limits.tip_items;
    if req.items.is_empty() || req.items.len() > max {
        return Err(ApiError::bad_at(
            "item_count",
            format!("items has 1..={max} entries, found {}", req.items.len()),
            None,
            "items",
        ));
    }
    for (i, item) in req.items.iter().enumerate() {
        item.check(i)?;
    }
    if !TIP_CATEGORIES.iter().any(|(id, _)| *id == req.category) {
        return Err(ApiError::bad_at(
            "invalid_category",
            format!(
                "unknown category {:?}, see /v1/tips/categories",
                req.category
            ),
            None,
            "category",
        ));
    }
    let too_long = |field: &str, max: usize, found: usize| {
        ApiError::bad_at(
            "too_long",
            format!("{field} has at most {max} characters, found {found}"),
            None,
            field,
        )
    };
    check_storable_opt(req.description.as_deref(), None, "description")?;
    check_storable_opt(req.contact.as_deref(), None, "contact")?;
    if let Some(d) = &req.description {
        let n = d.chars().count();
        if n > TIP_MAX_DESCRIPTION {
            return Err(too_long("description", TIP_MAX_DESCRIPTION, n));
        }
    }
    if let Some(c) = &req.contact {
        let n = c.chars().count();
        if n > TIP_MAX_CONTACT {
            return Err(too_long("contact", TIP_MAX_CONTACT, n));
        }
    }
    let urls = req.urls.unwrap_or_default();
    if urls.len() > TIP_MAX_URLS {
        return Err(ApiError::bad_at(
            "too_many_urls",
            format!(
                "urls has at most {TIP_MAX_URLS} entries, found {}",
                urls.len()
            ),
            None,
            "urls",
        ));
    }
    for url in &urls {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok
            || url.chars().count() > TIP_MAX_URL_CHARS
            || url.chars().any(char::is_whitespace)
        {
            return Err(ApiError::bad_at(
                "invalid_url",
                format!("urls are http(s) URLs of at most {TIP_MAX_URL_CHARS} characters without spaces"),
                None,
                "urls",
            ));
        }
    }
    // Charged once the tip is valid: a client's budget counts the tips it stores.
    let client = client_group(client_ip(
        addr.ip(),
        &headers,
        &state.limits.trusted_proxies,
    ));
    let [hourly, daily] = &state.guards.tips;
    take_all(&[(hourly, &client), (daily, &client)], 1).map_err(|secs| {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        ApiError::RateLimited(secs)
    })?;
    let id = random_hex(16)?;
    let token = random_hex(32)?;
    let now = now_unix();
    let tip = TipRecord {
        id: id.clone(),
        token_sha256: sha256_hex(token.as_bytes()),
        status: "received".into(),
        category: req.category,
        description: req.description,
        urls,
        contact: req.contact,
        items_json: serde_json::to_string(&req.items).map_err(ApiError::internal)?,
        created_at: now,
        updated_at: now,
    };
    state.db(move |s| s.insert_tip(&tip)).await?;
    state.metrics.tips.fetch_add(1, Ordering::Relaxed);
    tracing::info!("tip received");
    Ok((
        StatusCode::CREATED,
        Json(TipReceipt {
            receipt_token: token,
            status: "received",
            tip_id: id,
        }),
    ))
}

async fn get_tip(
    State(state): St,
    headers: HeaderMap,
    Path(tip_id): Path<String>,
) -> AppResult<Json<TipStatus>> {
    let tip = reporters_tip(&state, &headers, tip_id).await?;
    tip_status(&state, tip).await
}

/// The reporter withdraws the tip: platforms are told to delete its hashes (`Withdrawn` in the
/// feed) and the hashes stored with it are deleted.
async fn withdraw_tip(
    State(state): St,
    headers: HeaderMap,
    Path(tip_id): Path<String>,
) -> AppResult<Json<TipStatus>> {
    let tip = reporters_tip(&state, &headers, tip_id).await?;
    let id = tip.id.clone();
    let t = transition(&tip, "withdrawn", now_unix())?;
    state.db(move |s| s.transition_tip(&id, &t)).await?;
    let id = tip.id.clone();
    let tip = state
        .db(move |s| s.get_tip(&id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such tip".into()))?;
    tracing::info!("tip withdrawn");
    tip_status(&state, tip).await
}

/// What moving `tip` to `status` does: accepting publishes its hashes, withdrawing retracts
/// them as `Withdrawn` and deletes its items, anything else retracts them as `Deleted` (a
/// no-op for a tip that was never accepted). A withdrawn tip stays withdrawn.
fn transition(tip: &TipRecord, status: &str, now: i64) -> AppResult<TipTransition> {
    let status = TIP_STATUSES
        .into_iter()
        .find(|s| *s == status)
        .ok_or_else(|| ApiError::internal(format!("unknown tip status {status:?}")))?;
    if tip.status == "withdrawn" {
        return Err(ApiError::Conflict(
            "the tip was withdrawn by its reporter".into(),
        ));
    }
    let mut t = TipTransition {
        status,
        now,
        publish: Vec::new(),
        retract: None,
        clear_items: false,
    };
    match status {
        "accepted" => {
            let items: Vec<HashItem> =
                serde_json::from_str(&tip.items_json).map_err(ApiError::internal)?;
            t.publish = feed_hashes(&items);
        }
        "withdrawn" => {
            t.retract = Some(FeedStatus::Withdrawn);
            t.clear_items = true;
        }
        _ => t.retract = Some(FeedStatus::Deleted),
    }
    Ok(t)
}

/// The reporter's view of `tip`.
async fn tip_status(state: &AppState, tip: TipRecord) -> AppResult<Json<TipStatus>> {
    let id = tip.id.clone();
    let feedback = state.db(move |s| s.tip_feedback(&id)).await?;
    Ok(Json(TipStatus {
        case_number: case_number(&tip.id),
        created_at: rfc3339(tip.created_at),
        platform_feedback: FeedbackSummary::of(&feedback),
        status_text: status_text(&tip.status),
        status: tip.status,
        tip_id: tip.id,
        updated_at: rfc3339(tip.updated_at),
    }))
}

/// The tip `tip_id` if the request's receipt token opens it; an unknown tip and a wrong token
/// get the same answer.
async fn reporters_tip(
    state: &AppState,
    headers: &HeaderMap,
    tip_id: String,
) -> AppResult<TipRecord> {
    let not_found = || ApiError::NotFound("no such tip, or a wrong receipt token".into());
    let token = bearer(headers).ok_or_else(not_found)?.to_string();
    let tip = state
        .db(move |s| s.get_tip(&tip_id))
        .await?
        .ok_or_else(not_found)?;
    if !constant_time_eq(&sha256_hex(token.as_bytes()), &tip.token_sha256) {
        return Err(not_found());
    }
    Ok(tip)
}

async fn tip_categories() -> Json<CategoryList> {
    let categories = TIP_CATEGORIES
        .iter()
        .map(|&(id, label)| Category { id, label })
        .collect();
    Json(CategoryList { categories })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TipFilter {
    status: Option<String>,
    limit: Option<usize>,
    /// The `next` of the previous page: `CREATED.TIP_ID`.
    after: Option<String>,
}

/// The position a tips cursor names: `created_at` and `tip_id`.
fn parse_tip_cursor(cursor: &str) -> AppResult<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| {
            let plain =
                !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
            Some((at.parse().ok()?, id.to_string())).filter(|_| plain)
        })
        .ok_or_else(|| {
            ApiError::bad_at(
                "invalid_cursor",
                "after is the next of a previous page",
                None,
                "after",
            )
        })
}

async fn list_tips(
    State(state): St,
    _: ReviewKey,
    UrlQuery(filter): UrlQuery<TipFilter>,
) -> AppResult<Json<TipList>> {
    if let Some(s) = &filter.status {
        check_status(s, &TIP_STATUSES)?;
    }
    let limit = super::page_limit(filter.limit, TIPS_PAGE_MAX)?;
    let after = filter.after.as_deref().map(parse_tip_cursor).transpose()?;
    let mut tips = state
        .db(move |s| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            s.list_tips(filter.status.as_deref(), after, limit + 1)?
                .into_iter()
                .map(|t| {
                    let feedback = s.tip_feedback(&t.id)?;
                    Ok((t, feedback))
                })
                .collect::<crate::storage::Result<Vec<_>>>()
        })
        .await?;
    let next = if tips.len() > limit {
        tips.truncate(limit);
        tips.last()
            .map(|(t, _)| format!("{}.{}", t.created_at, t.id))
    } else {
        None
    };
    let tips = tips
        .into_iter()
        .map(|(t, feedback)| TipView {
            case_number: case_number(&t.id),
            category: t.category,
            contact: t.contact,
            created_at: rfc3339(t.created_at),
            description: t.description,
            feedback: feedback
                .into_iter()
                .map(|f| FeedbackView {
                    hash: f.hash_value,
                    platform: f.platform,
                    tags: f.tags,
                    updated_at: rfc3339(f.updated_at),
                    value: f.value,
                })
                .collect(),
            items: serde_json::from_str(&t.items_json).unwrap_or_default(),
            status: t.status,
            tip_id: t.id,
            updated_at: rfc3339(t.updated_at),
            urls: t.urls,
        })
        .collect();
    Ok(Json(TipList { next, tips }))
}

fn check_status(s: &str, allowed: &[&str]) -> AppResult<()> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::bad_at(
            "invalid_status",
            format!("status is one of {}; found {s:?}", allowed.join(", ")),
            None,
            "status",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    decision: String,
}

/// A reviewer's decision: `accept` (the tip's hashes go into the exchange feed) or `reject`.
async fn review_tip(
    State(state): St,
    Path(tip_id): Path<String>,
    Keyed(ReviewKey, JsonBody(req)): Keyed<ReviewKey, JsonBody<ReviewRequest>>,
) -> AppResult<StatusCode> {
    let status = match req.decision.as_str() {
        "accept" => "accepted",
        "reject" => "rejected",
        other => {
            return Err(ApiError::bad_at(
                "invalid_decision",
                format!("decision is accept or reject, found {other:?}"),
                None,
                "decision",
            ))
        }
    };
    change_status(&state, tip_id, status).await
}

/// Moves a tip to `status` through [`transition`].
async fn change_status(state: &AppState, tip_id: String, status: &str) -> AppResult<StatusCode> {
    let id = tip_id.clone();
    let tip = state
        .db(move |s| s.get_tip(&id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such tip".into()))?;
    let t = transition(&tip, status, now_unix())?;
    let found = state.db(move |s| s.transition_tip(&tip_id, &t)).await?;
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such tip".into()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TipUpdate {
    status: String,
}

async fn update_tip(
    State(state): St,
    Path(tip_id): Path<String>,
    Keyed(AdminKey, JsonBody(update)): Keyed<AdminKey, JsonBody<TipUpdate>>,
) -> AppResult<StatusCode> {
    check_status(&update.status, &PATCH_STATUSES)?;
    change_status(&state, tip_id, &update.status).await
}
