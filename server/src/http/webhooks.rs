//! Match webhooks, for administrators: register one per bank (`POST
//! /v1/banks/{name}/webhooks`), list and delete them, and list deliveries (the dead-lettered
//! ones by default). Delivery itself is `crate::webhooks`.

use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::JsonBody;
use super::{AppResult, Routes, St};
use crate::auth::{random_hex, AdminKey, Keyed};
use crate::error::ApiError;
use crate::model::{DeliveryRecord, Webhook};
use crate::time::{now_unix, rfc3339};
use crate::webhooks::MATCH_EVENT;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/banks/{name}/webhooks", post(create_webhook))
        .route("/v1/webhooks", get(list_webhooks))
        .route("/v1/webhooks/{id}", delete(delete_webhook))
        .route("/v1/webhooks/deliveries", get(list_deliveries))
}

/// Secrets an operator gives are this long at least (a generated one is 64 hex digits).
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 256;
const MAX_URL_LEN: usize = 2048;
/// Most deliveries one listing shows.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    url: String,
    /// The signing secret; one is generated (and shown once) when it is not given.
    #[serde(default)]
    secret: Option<String>,
    /// The events to deliver (`match`, the only one, by default).
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// A webhook as the API shows it: never its secret, but in the answer that generated it.
#[derive(Serialize)]
struct WebhookView {
    bank: String,
    created_at: String,
    events: Vec<String>,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    url: String,
}

impl WebhookView {
    fn of(w: Webhook, secret: Option<String>) -> WebhookView {
        WebhookView {
            bank: w.bank,
            created_at: rfc3339(w.created_at),
            events: w.events,
            id: w.id,
            secret,
            url: w.url,
        }
    }
}

#[derive(Serialize)]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

fn check_url(url: &str) -> AppResult<()> {
    let bad = |m: String| ApiError::bad_at("invalid_url", m, None, "url");
    if url.len() > MAX_URL_LEN {
        return Err(bad(format!("url has at most {MAX_URL_LEN} characters")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("url is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(bad(format!(
            "url is an http:// or https:// URL with a host, found {url:?}"
        )));
    }
    Ok(())
}

async fn create_webhook(
    State(state): St,
    Path(bank): Path<String>,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<WebhookRequest>>,
) -> AppResult<(StatusCode, Json<WebhookView>)> {
    let b = bank.clone();
    if !state.db(move |s| s.bank_exists(&b)).await? {
        return Err(ApiError::NotFound(format!("no bank named {bank:?}")));
    }
    check_url(&req.url)?;
    let events = req.events.unwrap_or_else(|| vec![MATCH_EVENT.to_string()]);
    if events.is_empty() || events.iter().any(|e| e != MATCH_EVENT) {
        return Err(ApiError::bad_at(
            "invalid_events",
            format!("events is [\"{MATCH_EVENT}\"], found {events:?}"),
            None,
            "events",
        ));
    }
    let (secret, shown) = match req.secret {
        Some(s) if (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&s.len()) => (s, None),
        Some(_) => {
            return Err(ApiError::bad_at(
                "invalid_secret",
                format!("secret has {MIN_SECRET_LEN} to {MAX_SECRET_LEN} characters"),
                None,
                "secret",
            ))
        }
        None => {
            let s = random_hex(32)?;
            (s.clone(), Some(s))
        }
    };
    let webhook = Webhook {
        id: random_hex(12)?,
        bank,
        url: req.url,
        secret,
        events,
        created_at: now_unix(),
    };
    let stored = webhook.clone();
    state.db(move |s| s.create_webhook(&stored)).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::of(webhook, shown))))
}

async fn list_webhooks(State(state): St, _: AdminKey) -> AppResult<Json<WebhookList>> {
    let webhooks = state.db(|s| s.list_webhooks()).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks
            .into_iter()
            .map(|w| WebhookView::of(w, None))
            .collect(),
    }))
}

async fn delete_webhook(
    State(state): St,
    Path(id): Path<String>,
    _: AdminKey,
) -> AppResult<StatusCode> {
    let i = id.clone();
    if state.db(move |s| s.delete_webhook(&i)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no webhook {id:?}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryParams {
    /// `dead` (the default), `pending` or `delivered`.
    #[serde(default)]
    status: Option<String>,
}

#[derive(Serialize)]
struct DeliveryView {
    attempts: i64,
    created_at: String,
    id: String,
    last_error: Option<String>,
    /// When a pending delivery is tried next.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    /// The body as delivered.
    payload: serde_json::Value,
    status: String,
    webhook_id: String,
}

#[derive(Serialize)]
struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        DeliveryView {
            attempts: d.attempts,
            created_at: rfc3339(d.created_at),
            id: d.id,
            last_error: d.last_error,
            next_attempt_at: (d.status == "pending").then(|| rfc3339(d.next_attempt_ms / 1000)),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            status: d.status,
            webhook_id: d.webhook_id,
        }
    }
}

async fn list_deliveries(
    State(state): St,
    params: Result<UrlQuery<DeliveryParams>, axum::extract::rejection::QueryRejection>,
    _: AdminKey,
) -> AppResult<Json<DeliveryList>> {
    let UrlQuery(params) = params.map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    let status = params.status.unwrap_or_else(|| "dead".into());
    if !matches!(status.as_str(), "dead" | "pending" | "delivered") {
        return Err(ApiError::bad_at(
            "invalid_status",
            format!("status is dead, pending or delivered; found {status:?}"),
            None,
            "status",
        ));
    }
    let deliveries = state
        .db(move |s| s.list_deliveries(&status, MAX_LISTED))
        .await?;
    Ok(Json(DeliveryList {
        deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
    }))
}
