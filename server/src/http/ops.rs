//! Operations: `/healthz` (the process answers), `/readyz` (the index is loaded, and how far it
//! follows the change log), `/metrics` (Prometheus text), and `/v1/openapi.json`.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Serialize;

use super::{Routes, St};
use crate::auth::authorize;
use crate::model::SourceRow;
use crate::state::AppState;

pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The probes and metrics, outside `/v1` and its rate limits.
pub fn routes() -> Routes {
    Routes::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The OpenAPI document, under `/v1` with the API it describes.
pub fn v1_routes() -> Routes {
    Routes::new().route("/v1/openapi.json", get(openapi))
}

/// Not ready: `ready` alone; ready: where the index stands.
#[derive(Serialize)]
struct Readiness {
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_age_seconds: Option<u64>,
    ready: bool,
}

async fn readyz(State(state): St) -> Response {
    if !state.ready.load(Ordering::SeqCst) {
        let not_ready = Readiness {
            checkpoint: None,
            index_age_seconds: None,
            ready: false,
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(not_ready)).into_response();
    }
    Json(Readiness {
        checkpoint: Some(state.checkpoint.load(Ordering::SeqCst)),
        index_age_seconds: Some(state.index_age().as_secs()),
        ready: true,
    })
    .into_response()
}

async fn metrics(State(state): St, headers: HeaderMap) -> Response {
    if state.limits.require_metrics_key {
        if let Err(e) = authorize(&state, &headers, "metrics").await {
            return e.into_response();
        }
    }
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
        "Matches returned (anonymous answers: items that matched).",
        m.match_hits.load(r),
    );
    counter(
        "pixelprint_match_near_misses_total",
        "Anonymous items that matched nothing but lie within twice the threshold of an entry.",
        m.near_misses.load(r),
    );
    counter(
        "pixelprint_match_near_miss_clients_total",
        "Clients that sent more near misses than --near-miss-limit in a window (each logged).",
        m.near_miss_clients.load(r),
    );
    counter("pixelprint_tips_total", "Tips received.", m.tips.load(r));
    counter(
        "pixelprint_index_rebuilds_total",
        "Background index rebuilds.",
        m.rebuilds.load(r),
    );
    for (name, help, v) in [
        (
            "pixelprint_source_pages_total",
            "Pages fetched from exchanges and stored.",
            &m.source_pages,
        ),
        (
            "pixelprint_source_entries_added_total",
            "Entries added or replaced by exchange sources.",
            &m.source_added,
        ),
        (
            "pixelprint_source_entries_removed_total",
            "Entries removed by exchange sources (withdrawn, deleted, replaced).",
            &m.source_removed,
        ),
        (
            "pixelprint_source_records_skipped_total",
            "Malformed exchange records skipped.",
            &m.source_skipped,
        ),
        (
            "pixelprint_source_fetch_errors_total",
            "Failed fetches from exchanges.",
            &m.source_errors,
        ),
        (
            "pixelprint_source_feedback_sent_total",
            "Reviewers' feedback an exchange accepted.",
            &m.feedback_sent,
        ),
        (
            "pixelprint_source_feedback_attempts_failed_total",
            "Failed attempts to send feedback that will be retried.",
            &m.feedback_failed_attempts,
        ),
        (
            "pixelprint_source_feedback_dead_total",
            "Feedback dead-lettered after its last attempt.",
            &m.feedback_dead,
        ),
    ] {
        counter(name, help, v.load(r));
    }
    counter(
        "pixelprint_suppressed_matches_total",
        "Matches withheld because their item matched an entry of a negative bank.",
        m.suppressed_matches.load(r),
    );
    counter(
        "pixelprint_webhook_deliveries_queued_total",
        "Webhook deliveries queued.",
        m.webhook_queued.load(r),
    );
    counter(
        "pixelprint_webhook_deliveries_delivered_total",
        "Webhook deliveries a receiver accepted (2xx).",
        m.webhook_delivered.load(r),
    );
    counter(
        "pixelprint_webhook_attempts_failed_total",
        "Failed webhook attempts that will be retried.",
        m.webhook_failed_attempts.load(r),
    );
    counter(
        "pixelprint_webhook_deliveries_dead_total",
        "Webhook deliveries dead-lettered after their last attempt.",
        m.webhook_dead.load(r),
    );
    counter(
        "pixelprint_vpdq_queue_timeouts_total",
        "Requests with video items answered 503 after waiting --vpdq-queue-wait-ms for a search slot.",
        m.video_queue_full.load(r),
    );
    let gauges = index_gauges(&state);
    counter(
        "pixelprint_metrics_index_reads_total",
        "Times /metrics read the index gauges (at most once per --metrics-interval-ms).",
        m.index_reads.load(r),
    );
    let running = state.limits.vpdq_concurrent.max(1) - state.video_searches.available_permits();
    let waiting = m.video_waiting.load(r);
    out.push_str(&format!(
        "# HELP pixelprint_vpdq_searches_running vPDQ searches running now (at most --vpdq-concurrent).\n\
         # TYPE pixelprint_vpdq_searches_running gauge\npixelprint_vpdq_searches_running {running}\n\
         # HELP pixelprint_vpdq_searches_waiting Requests with video items waiting for a search slot.\n\
         # TYPE pixelprint_vpdq_searches_waiting gauge\npixelprint_vpdq_searches_waiting {waiting}\n"
    ));
    out.push_str("# HELP pixelprint_shadow_matches_total Matches in banks in shadow mode, by bank.\n# TYPE pixelprint_shadow_matches_total counter\n");
    for (bank, n) in m
        .shadow_matches
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        out.push_str(&format!(
            "pixelprint_shadow_matches_total{{bank=\"{bank}\"}} {n}\n"
        ));
    }
    let sources = state.db(|s| s.list_sources()).await.unwrap_or_default();
    for (name, help, value) in [
        (
            "pixelprint_source_last_success_timestamp_seconds",
            "When a bank's source last stored a page (0: never).",
            (|s: &SourceRow| s.last_success.unwrap_or(0)) as fn(&SourceRow) -> i64,
        ),
        (
            "pixelprint_source_next_attempt_timestamp_seconds",
            "When a bank's source is fetched next.",
            |s| s.next_attempt,
        ),
        (
            "pixelprint_source_consecutive_failures",
            "Failed fetches of a bank's source since its last success.",
            |s| s.failures,
        ),
    ] {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for s in &sources {
            out.push_str(&format!("{name}{{bank=\"{}\"}} {}\n", s.bank, value(s)));
        }
    }
    out.push_str(&gauges);
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

/// The index's entries per algorithm and pending changes: read from the catalog (a walk over
/// every entry, under its read lock) at most once per `--metrics-interval-ms`, else reused.
fn index_gauges(state: &AppState) -> String {
    let mut cached = state.index_gauges.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((at, text)) = cached.as_ref() {
        if at.elapsed() < state.limits.metrics_interval {
            return text.clone();
        }
    }
    let (counts, pending) = {
        let c = state.catalog.read().unwrap_or_else(|e| e.into_inner());
        (c.counts(), c.pending())
    };
    state.metrics.index_reads.fetch_add(1, Ordering::Relaxed);
    let mut out = String::from("# HELP pixelprint_index_entries Live entries per algorithm.\n# TYPE pixelprint_index_entries gauge\n");
    for (a, n) in counts {
        out.push_str(&format!(
            "pixelprint_index_entries{{algorithm=\"{}\"}} {n}\n",
            a.name()
        ));
    }
    out.push_str(&format!(
        "# HELP pixelprint_index_pending Changes not yet folded by a rebuild.\n# TYPE pixelprint_index_pending gauge\npixelprint_index_pending {pending}\n"
    ));
    *cached = Some((std::time::Instant::now(), out.clone()));
    out
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
