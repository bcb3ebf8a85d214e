//! Anonymous tips: `POST /v1/tips` (anyone, answered with a receipt token),
//! `GET /v1/tips/{tip_id}` (the receipt token's holder), the category list, and the
//! administrators' `GET /v1/tips` and `PATCH /v1/tips/{tip_id}`.

use std::sync::atomic::Ordering;

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::{check_storable_opt, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{bearer, constant_time_eq, random_hex, sha256_hex, AdminKey, Keyed};
use crate::error::ApiError;
use crate::matching::HashItem;
use crate::model::TipRecord;
use crate::time::{now_unix, rfc3339};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/tips", post(create_tip).get(list_tips))
        .route("/v1/tips/categories", get(tip_categories))
        .route("/v1/tips/{tip_id}", get(get_tip).patch(update_tip))
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
const TIP_STATUSES: [&str; 3] = ["received", "in_review", "closed"];

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

/// What the receipt token's holder may see of a tip.
#[derive(Serialize)]
struct TipStatus {
    created_at: String,
    status: String,
    tip_id: String,
    updated_at: String,
}

/// A tip as administrators see it.
#[derive(Serialize)]
struct TipView {
    category: String,
    contact: Option<String>,
    created_at: String,
    description: Option<String>,
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
    let not_found = || ApiError::NotFound("no such tip, or a wrong receipt token".into());
    let token = bearer(&headers).ok_or_else(not_found)?.to_string();
    let tip = state
        .db(move |s| s.get_tip(&tip_id))
        .await?
        .ok_or_else(not_found)?;
    if !constant_time_eq(&sha256_hex(token.as_bytes()), &tip.token_sha256) {
        return Err(not_found());
    }
    Ok(Json(TipStatus {
        created_at: rfc3339(tip.created_at),
        status: tip.status,
        tip_id: tip.id,
        updated_at: rfc3339(tip.updated_at),
    }))
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
    _: AdminKey,
    UrlQuery(filter): UrlQuery<TipFilter>,
) -> AppResult<Json<TipList>> {
    if let Some(s) = &filter.status {
        check_status(s)?;
    }
    let limit = super::page_limit(filter.limit, TIPS_PAGE_MAX)?;
    let after = filter.after.as_deref().map(parse_tip_cursor).transpose()?;
    let mut tips = state
        .db(move |s| {
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            s.list_tips(filter.status.as_deref(), after, limit + 1)
        })
        .await?;
    let next = if tips.len() > limit {
        tips.truncate(limit);
        tips.last().map(|t| format!("{}.{}", t.created_at, t.id))
    } else {
        None
    };
    let tips = tips
        .into_iter()
        .map(|t| TipView {
            category: t.category,
            contact: t.contact,
            created_at: rfc3339(t.created_at),
            description: t.description,
            items: serde_json::from_str(&t.items_json).unwrap_or_default(),
            status: t.status,
            tip_id: t.id,
            updated_at: rfc3339(t.updated_at),
            urls: t.urls,
        })
        .collect();
    Ok(Json(TipList { next, tips }))
}

fn check_status(s: &str) -> AppResult<()> {
    if TIP_STATUSES.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::bad_at(
            "invalid_status",
            format!("status is one of received, in_review, closed; found {s:?}"),
            None,
            "status",
        ))
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
    check_status(&update.status)?;
    let now = now_unix();
    let found = state
        .db(move |s| s.set_tip_status(&tip_id, &update.status, now))
        .await?;
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such tip".into()))
    }
}
