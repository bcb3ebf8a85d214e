//! The HTTP routes of `docs/api.md`, one module per resource, each with its own router:
//! [`r#match`] (`/v1/match`), [`tips`], [`banks`] (entries, import, export, controls),
//! [`webhooks`] (match webhooks and their deliveries), [`keys`], and
//! [`ops`] (health, readiness, metrics, the OpenAPI document).
//!
//! Every `/v1` route is rate-limited per client (an IPv4 address or an IPv6 /64) and per API
//! key, a token a request; anonymous matching is charged per item on top (`match.rs`). Every
//! answer is counted
//! for `/metrics`. Response bodies are structs whose fields are declared in alphabetical order,
//! the order in which the API has always sent its keys.

mod banks;
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
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::auth::{bearer, sha256_hex};
use crate::error::ApiError;
use crate::ratelimit::client_group;
use crate::state::AppState;
use json::BodyLimit;

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
    let v1 = Router::new()
        .merge(r#match::routes())
        .merge(tips::routes())
        .merge(banks::routes())
        .merge(keys::routes())
        .merge(webhooks::routes())
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::Extension(BodyLimit(limits.body_bytes)))
        .merge(import)
        .merge(ops::v1_routes())
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(ops::routes())
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

/// Per-client buckets for every request, and per-key buckets for requests that carry a key.
async fn rate_limit(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let guards = &state.guards;
    let mut verdict = guards.ip.take(&client_group(addr.ip()));
    if verdict.is_ok() {
        if let Some(key) = bearer(req.headers()) {
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
