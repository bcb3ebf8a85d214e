//! The HTTP routes of `docs/api.md`, one module per resource, each with its own router:
//! [`r#match`] (`/v1/match`), [`tips`], [`banks`] (entries, import, export, controls),
//! [`webhooks`] (match webhooks and their deliveries), [`keys`], [`exchange`] (StopNCII's hash
//! API for platforms) and [`ops`] (health, readiness, metrics, the OpenAPI document).
//!
//! Every `/v1` answer carries `Cache-Control: no-store`. Every `/v1` route is rate-limited per client (an IPv4 address or an IPv6 /64) and per API
//! key, a token a request; anonymous matching is charged per item on top (`match.rs`). Every
//! answer is counted
//! for `/metrics`. Response bodies are structs whose fields are declared in alphabetical order,
//! the order in which the API has always sent its keys.

mod banks;
mod exchange;
pub mod json;
mod keys;
mod r#match;
mod ops;
mod tips;
mod webhooks;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{bearer, sha256_hex};
use crate::error::ApiError;
use crate::ratelimit::{client_group, client_ip};
use crate::state::AppState;
use json::{BodyLimit, BodyTimeout};

type AppResult<T> = Result<T, ApiError>;
type St = State<Arc<AppState>>;
/// A resource's routes, before the state is given.
type Routes = Router<Arc<AppState>>;

/// The `/v1` API and the operations endpoints.
pub fn routes(state: Arc<AppState>) -> Router {
    let limits = &state.limits;
    let import = banks::import_routes()
        .layer(DefaultBodyLimit::max(limits.import_bytes))
        .layer(axum::Extension(BodyLimit(limits.import_bytes)));
    let tip = tips::create_routes()
        .layer(DefaultBodyLimit::max(limits.tip_bytes))
        .layer(axum::Extension(BodyLimit(limits.tip_bytes)));
    let v1 = Router::new()
        .merge(r#match::routes())
        .merge(tips::routes())
        .merge(banks::routes())
        .merge(keys::routes())
        .merge(exchange::routes())
        .merge(webhooks::routes())
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::Extension(BodyLimit(limits.body_bytes)))
        .merge(import)
        .merge(tip)
        .merge(ops::v1_routes())
        .layer(axum::Extension(BodyTimeout(limits.body_timeout)))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        // Answers carry tips, keys and verdicts: no cache may keep them.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .merge(ops::routes())
        .merge(v1)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// A page's `limit` parameter: 1 to `max`, `max` when not given.
fn page_limit(limit: Option<usize>, max: usize) -> AppResult<usize> {
    match limit {
        None => Ok(max),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_at(
            "invalid_limit",
            format!("limit is 1 to {max}, found {n}"),
            None,
            "limit",
        )),
    }
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

/// Per-client buckets for every request, and per-key buckets for requests that carry a key
/// (a bearer token, or a platform's key in StopNCII's subscription-key header).
async fn rate_limit(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let guards = &state.guards;
    let client = client_ip(addr.ip(), req.headers(), &state.limits.trusted_proxies);
    let mut verdict = guards.ip.take(&client_group(client));
    if verdict.is_ok() {
        let headers = req.headers();
        let platform_key = || {
            headers
                .get(exchange::SUBSCRIPTION_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|k| !k.is_empty())
        };
        if let Some(key) = bearer(headers).or_else(platform_key) {
            verdict = guards.key.take(&sha256_hex(key.as_bytes()));
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
