//! Anonymous tips: `POST /v1/tips` (anyone, answered with a receipt token),
//! `GET /v1/tips/{tip_id}` (the receipt token's holder), the category list, and the
//! administrators' `GET /v1/tips` and `PATCH /v1/tips/{tip_id}`.

use std::sync::atomic::Ordering;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::JsonBody;
use super::{AppResult, Routes, St};
use crate::auth::{bearer, constant_time_eq, random_hex, sha256_hex, AdminKey, Keyed};
use crate::error::ApiError;
use crate::matching::HashItem;
use crate::model::TipRecord;
use crate::ratelimit::{client_group, client_ip, take_all};
use crate::time::{now_unix, rfc3339};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/tips", get(list_tips))
        .route("/v1/tips/categories", get(tip_categories))
        .route("/v1/tips/{tip_id}", get(get_tip).patch(update_tip))
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

#[derive(Serialize)]
struct TipList {
    tips: Vec<TipView>,
}

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
}

async fn list_tips(
    State(state): St,
    UrlQuery(filter): UrlQuery<TipFilter>,
    _: AdminKey,
) -> AppResult<Json<TipList>> {
    if let Some(s) = &filter.status {
        check_status(s)?;
    }
    let tips = state
        .db(move |s| s.list_tips(filter.status.as_deref()))
        .await?;
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
    Ok(Json(TipList { tips }))
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
