//! The HTTP routes of `docs/api.md`: matching, tips, admin, operations.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query as UrlQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::{
    bearer, constant_time_eq, now_unix, random_hex, read_body, rfc3339, sha256_hex, AppState,
    BodyLimit, JsonBody, TIP_CATEGORIES,
};
use crate::error::ApiError;
use crate::import::{parse_import, ImportFormat};
use crate::matching::{match_query, HashItem, MatchRequest, MatchResponse, Radii};
use crate::model::{normalize_hex, Algorithm, NewEntry, TipRecord};

type AppResult<T> = Result<T, ApiError>;
type St = State<Arc<AppState>>;

pub const OPENAPI: &str = include_str!("../openapi.json");

/// The `/v1` API and the operations endpoints.
pub fn routes(state: Arc<AppState>) -> Router {
    let limits = state.limits.clone();
    let import = Router::new()
        .route("/v1/banks/{name}/import", post(import_entries))
        .layer(DefaultBodyLimit::max(limits.import_bytes))
        .layer(axum::Extension(BodyLimit(limits.import_bytes)));
    let v1 = Router::new()
        .route("/v1/match", post(match_hashes))
        .route("/v1/tips", post(create_tip).get(list_tips))
        .route("/v1/tips/categories", get(tip_categories))
        .route("/v1/tips/{tip_id}", get(get_tip).patch(update_tip))
        .route("/v1/banks", post(create_bank).get(list_banks))
        .route("/v1/banks/{name}/entries", post(add_entries))
        .route("/v1/banks/{name}/entries/{id}", delete(delete_entry))
        .route("/v1/banks/{name}/export", get(export_bank))
        .route("/v1/keys", post(create_key))
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::Extension(BodyLimit(limits.body_bytes)))
        .merge(import)
        .route("/v1/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(v1)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn count(State(state): St, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let m = &state.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    if response.status().is_client_error() {
        m.client_errors.fetch_add(1, Ordering::Relaxed);
    } else if response.status().is_server_error()
        && response.status() != StatusCode::SERVICE_UNAVAILABLE
    {
        m.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// Per-IP buckets for every request, and per-key buckets for requests that carry a key.
async fn rate_limit(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let mut verdict = state.ip_limiter.take(&addr.ip().to_string());
    if verdict.is_ok() {
        if let Some(key) = bearer(req.headers()) {
            verdict = state.key_limiter.take(&sha256_hex(key.as_bytes()));
        }
    }
    match verdict {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            ApiError::RateLimited(secs).into_response()
        }
    }
}

async fn match_hashes(
    State(state): St,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MatchRequest>,
) -> AppResult<Json<MatchResponse>> {
    if state.limits.require_match_key {
        state.authorize(&headers, "match").await?;
    }
    state.require_ready()?;
    let max = state.limits.match_items;
    if req.items.is_empty() || req.items.len() > max {
        return Err(ApiError::bad_at(
            "item_count",
            format!("items has 1..={max} entries, found {}", req.items.len()),
            None,
            "items",
        ));
    }
    let queries = req
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| item.check(i))
        .collect::<AppResult<Vec<_>>>()?;
    let banks: Option<HashSet<String>> = req.banks.map(|b| b.into_iter().collect());
    let radii = Radii::new(
        req.thresholds.as_ref(),
        state.limits.pdq_max_threshold,
        state.limits.h64_max_threshold,
    );
    let state2 = Arc::clone(&state);
    // The searches are CPU work: off the async threads, under the catalog's read lock.
    let results = tokio::task::spawn_blocking(move || {
        let catalog = state2.catalog.read().unwrap_or_else(|e| e.into_inner());
        queries
            .iter()
            .enumerate()
            .map(|(i, q)| match_query(&catalog, i, q, &radii, banks.as_ref()))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let m = &state.metrics;
    m.match_requests.fetch_add(1, Ordering::Relaxed);
    m.match_items
        .fetch_add(results.len() as u64, Ordering::Relaxed);
    m.match_hits.fetch_add(
        results.iter().map(|r| r.matches.len() as u64).sum(),
        Ordering::Relaxed,
    );
    Ok(Json(MatchResponse { results }))
}

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

const TIP_MAX_DESCRIPTION: usize = 5000;
const TIP_MAX_URLS: usize = 20;
const TIP_MAX_URL_CHARS: usize = 2048;
const TIP_MAX_CONTACT: usize = 500;
const TIP_STATUSES: [&str; 3] = ["received", "in_review", "closed"];

async fn create_tip(
    State(state): St,
    JsonBody(req): JsonBody<TipRequest>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
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
        Json(json!({"tip_id": id, "receipt_token": token, "status": "received"})),
    ))
}

async fn get_tip(
    State(state): St,
    headers: HeaderMap,
    Path(tip_id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    let not_found = || ApiError::NotFound("no such tip, or a wrong receipt token".into());
    let token = bearer(&headers).ok_or_else(not_found)?.to_string();
    let tip = state
        .db(move |s| s.get_tip(&tip_id))
        .await?
        .ok_or_else(not_found)?;
    if !constant_time_eq(&sha256_hex(token.as_bytes()), &tip.token_sha256) {
        return Err(not_found());
    }
    Ok(Json(json!({
        "tip_id": tip.id,
        "status": tip.status,
        "created_at": rfc3339(tip.created_at),
        "updated_at": rfc3339(tip.updated_at),
    })))
}

async fn tip_categories() -> Json<serde_json::Value> {
    let list: Vec<_> = TIP_CATEGORIES
        .iter()
        .map(|(id, label)| json!({"id": id, "label": label}))
        .collect();
    Json(json!({ "categories": list }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TipFilter {
    status: Option<String>,
}

async fn list_tips(
    State(state): St,
    headers: HeaderMap,
    UrlQuery(filter): UrlQuery<TipFilter>,
) -> AppResult<Json<serde_json::Value>> {
    state.authorize(&headers, "admin").await?;
    if let Some(s) = &filter.status {
        check_status(s)?;
    }
    let tips = state
        .db(move |s| s.list_tips(filter.status.as_deref()))
        .await?;
    let tips: Vec<_> = tips
        .into_iter()
        .map(|t| {
            json!({
                "tip_id": t.id,
                "status": t.status,
                "category": t.category,
                "description": t.description,
                "urls": t.urls,
                "contact": t.contact,
                "items": serde_json::from_str::<serde_json::Value>(&t.items_json).unwrap_or_default(),
                "created_at": rfc3339(t.created_at),
                "updated_at": rfc3339(t.updated_at),
            })
        })
        .collect();
    Ok(Json(json!({ "tips": tips })))
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
    headers: HeaderMap,
    Path(tip_id): Path<String>,
    JsonBody(update): JsonBody<TipUpdate>,
) -> AppResult<StatusCode> {
    state.authorize(&headers, "admin").await?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

pub fn check_bank_name(name: &str) -> AppResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_at(
            "invalid_bank_name",
            "a bank name has 1 to 64 characters of a-z, 0-9, _ and -",
            None,
            "name",
        ))
    }
}

async fn create_bank(
    State(state): St,
    headers: HeaderMap,
    JsonBody(req): JsonBody<BankRequest>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    state.authorize(&headers, "admin").await?;
    check_bank_name(&req.name)?;
    let name = req.name.clone();
    state
        .db(move |s| s.create_bank(&req.name, req.description.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": name }))))
}

async fn list_banks(State(state): St, headers: HeaderMap) -> AppResult<Json<serde_json::Value>> {
    state.authorize(&headers, "admin").await?;
    let banks = state.db(|s| s.list_banks()).await?;
    Ok(Json(json!({ "banks": banks })))
}

async fn require_bank(state: &AppState, name: &str) -> AppResult<()> {
    let n = name.to_string();
    if state.db(move |s| s.bank_exists(&n)).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no bank named {name:?}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRequest {
    algorithm: String,
    hash: String,
    #[serde(default)]
    metadata: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesRequest {
    entries: Vec<EntryRequest>,
}

const MAX_ENTRIES_PER_REQUEST: usize = 10_000;

async fn add_entries(
    State(state): St,
    headers: HeaderMap,
    Path(bank): Path<String>,
    JsonBody(req): JsonBody<EntriesRequest>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    state.authorize(&headers, "admin").await?;
    require_bank(&state, &bank).await?;
    if req.entries.is_empty() || req.entries.len() > MAX_ENTRIES_PER_REQUEST {
        return Err(ApiError::bad_at(
            "item_count",
            format!(
                "entries has 1..={MAX_ENTRIES_PER_REQUEST} entries, found {}",
                req.entries.len()
            ),
            None,
            "entries",
        ));
    }
    let mut entries = Vec::with_capacity(req.entries.len());
    for (i, e) in req.entries.into_iter().enumerate() {
        let algorithm =
            Algorithm::from_name(&e.algorithm.to_ascii_lowercase()).ok_or_else(|| {
                ApiError::bad_at(
                    "invalid_algorithm",
                    format!(
                        "algorithm is one of pdq, phash, dhash, ahash, md5, sha256, vpdq; found {:?}",
                        e.algorithm
                    ),
                    Some(i),
                    "algorithm",
                )
            })?;
        let hash = normalize_hex(algorithm, &e.hash)
            .map_err(|m| ApiError::bad_at("invalid_hash", m, Some(i), "hash"))?;
        entries.push(NewEntry {
            algorithm,
            hash,
            metadata: e.metadata,
        });
    }
    let ids = state.db(move |s| s.add_entries(&bank, &entries)).await?;
    state.catch_up().await?;
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    Ok((StatusCode::CREATED, Json(json!({ "ids": ids }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    atomic: Option<bool>,
    /// The algorithm of plain hex lines (default pdq).
    #[serde(default)]
    algorithm: Option<String>,
    /// Metadata of the entry a `format=vpdq` import makes.
    #[serde(default)]
    metadata: Option<String>,
}

async fn import_entries(
    State(state): St,
    Path(bank): Path<String>,
    params: Result<UrlQuery<ImportParams>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> AppResult<Response> {
    let headers = req.headers().clone();
    state.authorize(&headers, "admin").await?;
    let UrlQuery(params) = params.map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    require_bank(&state, &bank).await?;
    let format = match params.format.as_deref() {
        None => ImportFormat::Auto,
        Some(f) => ImportFormat::from_name(f).ok_or_else(|| {
            ApiError::bad_at(
                "invalid_format",
                format!(
                    "format is one of auto, plain, csv, threatexchange, hma, stopncii, vpdq; found {f:?}"
                ),
                None,
                "format",
            )
        })?,
    };
    let default = match params.algorithm.as_deref() {
        None => Algorithm::Pdq,
        Some(a) => Algorithm::from_name(a).ok_or_else(|| {
            ApiError::bad_at(
                "invalid_algorithm",
                format!("unknown algorithm {a:?}"),
                None,
                "algorithm",
            )
        })?,
    };
    let atomic = params.atomic.unwrap_or(true);
    let body = read_body(req, &()).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad("invalid_utf8", format!("the list is not UTF-8: {e}")))?;
    let mut parsed = parse_import(text, format, default);
    if format == ImportFormat::Vpdq {
        for e in &mut parsed.entries {
            e.metadata.clone_from(&params.metadata);
        }
    }
    let errors: Vec<_> = parsed
        .errors
        .iter()
        .map(|e| json!({"line": e.line, "message": e.message}))
        .collect();
    if atomic && !parsed.errors.is_empty() {
        let n = parsed.errors.len();
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({
                "imported": 0,
                "errors": errors,
                "error": {"code": "import_rejected",
                          "message": format!("{n} line(s) have errors; nothing was imported (atomic)")},
            })),
        )
            .into_response());
    }
    let entries = parsed.entries;
    let ids = if entries.is_empty() {
        Vec::new()
    } else {
        let ids = state.db(move |s| s.add_entries(&bank, &entries)).await?;
        state.catch_up().await?;
        ids
    };
    tracing::info!(imported = ids.len(), rejected = errors.len(), "import");
    Ok(Json(json!({"imported": ids.len(), "errors": errors})).into_response())
}

async fn delete_entry(
    State(state): St,
    headers: HeaderMap,
    Path((bank, id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    state.authorize(&headers, "admin").await?;
    let not_found = || ApiError::NotFound(format!("no entry {id:?} in bank {bank:?}"));
    let Ok(n) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let b = bank.clone();
    if state.db(move |s| s.delete_entry(&b, n)).await? {
        state.catch_up().await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

async fn export_bank(
    State(state): St,
    headers: HeaderMap,
    Path(bank): Path<String>,
) -> AppResult<Response> {
    state.authorize(&headers, "admin").await?;
    require_bank(&state, &bank).await?;
    let entries = state.db(move |s| s.export_entries(&bank)).await?;
    let mut text = String::new();
    for e in entries {
        text.push_str(e.algorithm.name());
        text.push(',');
        // A vPDQ hash is several lines of the reference format: one line here, frames
        // separated by `;`.
        text.push_str(&e.hash.trim_end().replace('\n', ";"));
        if let Some(m) = e.metadata {
            text.push(',');
            text.push_str(&m.replace(['\n', '\r'], " "));
        }
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    scopes: Vec<String>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Serialize)]
struct KeyResponse {
    key: String,
    scopes: Vec<String>,
}

async fn create_key(
    State(state): St,
    headers: HeaderMap,
    JsonBody(req): JsonBody<KeyRequest>,
) -> AppResult<(StatusCode, Json<KeyResponse>)> {
    state.authorize(&headers, "admin").await?;
    if req.scopes.is_empty() || req.scopes.iter().any(|s| s != "match" && s != "admin") {
        return Err(ApiError::bad_at(
            "invalid_scopes",
            "scopes is a non-empty list of \"match\" and \"admin\"",
            None,
            "scopes",
        ));
    }
    let key = format!("ppk_{}", random_hex(32)?);
    let digest = sha256_hex(key.as_bytes());
    let scopes = req.scopes.clone();
    let now = now_unix();
    state
        .db(move |s| s.put_api_key(&digest, &req.scopes, req.label.as_deref(), now))
        .await?;
    Ok((StatusCode::CREATED, Json(KeyResponse { key, scopes })))
}

async fn readyz(State(state): St) -> Response {
    if !state.ready.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false})),
        )
            .into_response();
    }
    Json(json!({
        "ready": true,
        "checkpoint": state.checkpoint.load(Ordering::SeqCst),
        "index_age_seconds": state.index_age().as_secs(),
    }))
    .into_response()
}

async fn metrics(State(state): St) -> Response {
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    };
    let r = Ordering::Relaxed;
    counter(
        "pixelprint_http_requests_total",
        "HTTP requests answered.",
        m.requests.load(r),
    );
    counter(
        "pixelprint_http_client_errors_total",
        "Answers with a 4xx status.",
        m.client_errors.load(r),
    );
    counter(
        "pixelprint_http_server_errors_total",
        "Answers with a 5xx status other than 503 (not ready).",
        m.server_errors.load(r),
    );
    counter(
        "pixelprint_rate_limited_total",
        "Requests refused by a rate limit.",
        m.rate_limited.load(r),
    );
    counter(
        "pixelprint_match_requests_total",
        "Successful /v1/match requests.",
        m.match_requests.load(r),
    );
    counter(
        "pixelprint_match_items_total",
        "Items matched.",
        m.match_items.load(r),
    );
    counter(
        "pixelprint_match_hits_total",
        "Matches returned.",
        m.match_hits.load(r),
    );
    counter("pixelprint_tips_total", "Tips received.", m.tips.load(r));
    counter(
        "pixelprint_index_rebuilds_total",
        "Background index rebuilds.",
        m.rebuilds.load(r),
    );
    let (counts, pending) = {
        let c = state.catalog.read().unwrap_or_else(|e| e.into_inner());
        (c.counts(), c.pending())
    };
    out.push_str("# HELP pixelprint_index_entries Live entries per algorithm.\n# TYPE pixelprint_index_entries gauge\n");
    for (a, n) in counts {
        out.push_str(&format!(
            "pixelprint_index_entries{{algorithm=\"{}\"}} {n}\n",
            a.name()
        ));
    }
    out.push_str(&format!(
        "# HELP pixelprint_index_pending Changes not yet folded by a rebuild.\n# TYPE pixelprint_index_pending gauge\npixelprint_index_pending {pending}\n"
    ));
    out.push_str(&format!(
        "# HELP pixelprint_index_checkpoint Change-log position of the index.\n# TYPE pixelprint_index_checkpoint gauge\npixelprint_index_checkpoint {}\n",
        state.checkpoint.load(Ordering::SeqCst)
    ));
    out.push_str(&format!(
        "# HELP pixelprint_index_ready Whether the index is loaded.\n# TYPE pixelprint_index_ready gauge\npixelprint_index_ready {}\n",
        u8::from(state.ready.load(Ordering::SeqCst))
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
