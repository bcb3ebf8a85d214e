//! `POST /v1/match`: is any of these hashes on a list? The rules are in `crate::matching`.
//!
//! Keyed callers get every match in detail and may choose banks and thresholds. Anonymous
//! callers get a verdict per item, at the server's thresholds against every bank, and are
//! charged per item against their client group's and their `Origin`'s quota; their near misses
//! are counted per client (`crate::nearmiss`).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;

use super::json::JsonBody;
use super::{AppResult, Routes, St};
use crate::auth::{bearer, sha256_hex};
use crate::auth::{Keyed, MatchCaller};
use crate::catalog::VideoBudget;
use crate::error::ApiError;
use crate::matching::{
    evaluate, keyed_result, search_videos, verdict, Evaluation, ItemResult, MatchHit, MatchRequest,
    MatchResponse, Query, VerdictResponse, VideoOutcome,
};
use crate::ratelimit::{client_group, client_ip, take_all, QuotaRefusal};
use crate::state::AppState;
use crate::thresholds::{video_radius, Rules};
use crate::webhooks::queue_matches;
use pixelprint::{Algorithm, AlgorithmMap, Family};

pub fn routes() -> Routes {
    Routes::new().route("/v1/match", post(match_hashes))
}

async fn match_hashes(
    State(state): St,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Keyed(caller, JsonBody(req)): Keyed<MatchCaller, JsonBody<MatchRequest>>,
) -> AppResult<Response> {
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
    if caller == MatchCaller::Anonymous {
        for (field, given) in [
            ("banks", req.banks.is_some()),
            ("thresholds", req.thresholds.is_some()),
            ("include_shadow", req.include_shadow.is_some()),
        ] {
            if given {
                return Err(ApiError::bad_at(
                    "needs_match_key",
                    format!(
                        "{field} needs an api key with the match scope: anonymous requests are \
                         matched against every bank at the server's thresholds"
                    ),
                    None,
                    field,
                ));
            }
        }
    }
    let queries = req
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| item.check(i))
        .collect::<AppResult<Vec<_>>>()?;
    let requested = req.thresholds.map(|t| t.0);
    let client = client_group(client_ip(
        addr.ip(),
        &headers,
        &state.limits.trusted_proxies,
    ));
    match (caller, bearer(&headers)) {
        (MatchCaller::Anonymous, _) => charge_anonymous(&state, &client, &headers, queries.len())?,
        (_, Some(key)) => charge_key(&state, key, queries.len())?,
        (_, None) => {}
    }
    let m = &state.metrics;
    m.match_requests.fetch_add(1, Ordering::Relaxed);
    m.match_items
        .fetch_add(queries.len() as u64, Ordering::Relaxed);
    if caller == MatchCaller::Anonymous {
        let answer = anonymous_answer(&state, &client, queries).await?;
        return Ok(Json(answer).into_response());
    }
    let banks: Option<HashSet<String>> = req.banks.map(|b| b.into_iter().collect());
    let include_shadow = req.include_shadow.unwrap_or(false);
    let evaluations = each_item(&state, requested, queries, move |rules, _, q, videos| {
        evaluate(rules, q, videos, false, banks.as_ref())
    })
    .await?;
    m.count_controls(&evaluations);
    queue_matches(&state, "keyed", active_matches(&evaluations));
    let results: Vec<_> = evaluations
        .into_iter()
        .enumerate()
        .map(|(i, ev)| keyed_result(i, ev, include_shadow))
        .collect();
    m.match_hits.fetch_add(
        results.iter().map(|r| r.matches.len() as u64).sum(),
        Ordering::Relaxed,
    );
    let mut results = results;
    name_sources(&state, &mut results).await?;
    Ok(Json(MatchResponse { results }).into_response())
}

/// Names the exchange entry of each match in a synced bank (keyed answers only: the sources
/// are read from storage, off the index, for the few entries that matched).
async fn name_sources(state: &AppState, results: &mut [ItemResult]) -> AppResult<()> {
    let ids: Vec<i64> = results
        .iter()
        .flat_map(|r| r.matches.iter())
        .filter_map(|m| m.entry_id.parse().ok())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let sources: HashMap<i64, String> = state
        .db(move |s| s.entry_sources(&ids))
        .await?
        .into_iter()
        .collect();
    for m in results.iter_mut().flat_map(|r| r.matches.iter_mut()) {
        let source = m.entry_id.parse().ok().and_then(|id: i64| sources.get(&id));
        m.source = source.and_then(|s| serde_json::from_str(s).ok());
    }
    Ok(())
}

/// The matches in active banks, with their items' positions: what webhooks are told.
fn active_matches(evaluations: &[Evaluation]) -> Vec<(usize, MatchHit)> {
    evaluations
        .iter()
        .enumerate()
        .flat_map(|(i, ev)| ev.matches.iter().map(move |h| (i, h.clone())))
        .collect()
}

/// Charges an anonymous request's items to its client group and to its `Origin` when that is
/// another site's (the server's own pages send their own origin; they are the client's).
fn charge_anonymous(
    state: &AppState,
    client: &str,
    headers: &HeaderMap,
    items: usize,
) -> AppResult<()> {
    let origin = foreign_origin(headers);
    match state
        .guards
        .items
        .charge(client, origin.as_deref(), items as u64)
    {
        Ok(()) => Ok(()),
        Err(QuotaRefusal::TooMany(most)) => Err(ApiError::bad_at(
            "item_count",
            format!(
                "anonymous requests have at most {most} items, found {items}; larger batches \
                 need an api key with the match scope"
            ),
            None,
            "items",
        )),
        Err(QuotaRefusal::Wait(secs)) => {
            state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            Err(ApiError::RateLimited(secs))
        }
    }
}

/// Charges a keyed request's items to its key (the request itself was charged a token by the
/// middleware): one request may carry `--max-match-items` items.
fn charge_key(state: &AppState, key: &str, items: usize) -> AppResult<()> {
    let limiter = &state.guards.key_items;
    if let Some(most) = limiter.capacity().filter(|m| items as u64 > *m) {
        return Err(ApiError::bad_at(
            "item_count",
            format!("this server takes at most {most} items at once from a key, found {items}"),
            None,
            "items",
        ));
    }
    let key = sha256_hex(key.as_bytes());
    take_all(&[(limiter, &key)], items as u64).map_err(|secs| {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        ApiError::RateLimited(secs)
    })
}

/// The request's `Origin` when it names a site other than the one the request was sent to
/// (`Host`); lower case.
fn foreign_origin(headers: &HeaderMap) -> Option<String> {
    let origin = headers
        .get(header::ORIGIN)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    (host.as_deref() != Some(origin_host)).then_some(origin)
}

/// Runs `f` on each item with the rules of a request that asks for `requested` thresholds and
/// the item's video hits, on the blocking pool (the searches are CPU work), within the
/// request's budget (`--match-time-budget-ms`, `--vpdq-max-pairs`).
///
/// A request with video items first takes one of the vPDQ search slots (`--vpdq-concurrent`),
/// waiting up to `--vpdq-queue-wait-ms`; its time budget starts once it has one, so two honest
/// long queries run one after the other instead of both running out of time on shared cores.
/// The catalog's lock is taken per item, and inside a vPDQ search per short hold, never for
/// the whole request: a writer (and every request queued behind it, the lock preferring
/// writers) waits for one item at most.
async fn each_item<T: Send + 'static>(
    state: &Arc<AppState>,
    requested: Option<AlgorithmMap<u32>>,
    queries: Vec<Query>,
    f: impl FnMut(&Rules, usize, &Query, VideoOutcome) -> T + Send + 'static,
) -> AppResult<Vec<T>> {
    let slot = if queries.iter().any(|q| q.vpdq.is_some()) {
        let wait = state.limits.vpdq_queue_wait;
        let slots = Arc::clone(&state.video_searches);
        let _waiting = Waiting::count(&state.metrics.video_waiting);
        match tokio::time::timeout(wait, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            Ok(Err(closed)) => return Err(ApiError::internal(closed)),
            Err(_) => {
                state
                    .metrics
                    .video_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::VideoQueueFull(wait.as_millis() as u64));
            }
        }
    } else {
        None
    };
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        search_items(&state, requested.as_ref(), &queries, f)
    })
    .await
    .map_err(ApiError::internal)?
}

/// One request in a waiting gauge, counted down however the wait ends (a dropped connection
/// included).
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn count(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Waiting(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The blocking half of [`each_item`].
fn search_items<T>(
    state: &AppState,
    requested: Option<&AlgorithmMap<u32>>,
    queries: &[Query],
    mut f: impl FnMut(&Rules, usize, &Query, VideoOutcome) -> T,
) -> AppResult<Vec<T>> {
    let limits = &state.limits;
    let budget = VideoBudget {
        max_pairs: limits.vpdq_max_pairs,
        deadline: Instant::now() + limits.match_time_budget,
        time_ms: limits.match_time_budget.as_millis() as u64,
    };
    let radius = video_radius(limits, requested);
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let videos = search_videos(&state.catalog, i, q, radius, &budget)?;
            Ok(with_rules(state, requested, |rules| f(rules, i, q, videos)))
        })
        .collect()
}

/// Runs `f` with the rules of a request that asks for `requested` thresholds, under the
/// catalog's and the bank settings' read locks (on the blocking pool: searches are CPU work).
fn with_rules<T>(
    state: &AppState,
    requested: Option<&AlgorithmMap<u32>>,
    f: impl FnOnce(&Rules) -> T,
) -> T {
    let catalog = state.catalog.read().unwrap_or_else(|e| e.into_inner());
    let settings = state
        .bank_settings
        .read()
        .unwrap_or_else(|e| e.into_inner());
    f(&Rules {
        limits: &state.limits,
        settings: &settings,
        catalog: &catalog,
        requested,
    })
}

/// Verdicts for an anonymous caller's items, counting its near misses.
async fn anonymous_answer(
    state: &Arc<AppState>,
    client: &str,
    queries: Vec<Query>,
) -> AppResult<VerdictResponse> {
    let watch = &state.guards.near_miss;
    let near = watch.enabled();
    let mut queries = queries;
    if !state.limits.anon_match_64bit {
        for q in &mut queries {
            for a in Algorithm::ALL {
                if a.family() == Family::Perceptual64 {
                    q.hashes.values.remove(a);
                }
            }
        }
    }
    let evaluations = each_item(state, None, queries, move |rules, _, q, videos| {
        evaluate(rules, q, videos, near, None)
    })
    .await?;
    state.metrics.count_controls(&evaluations);
    let categories = &state.limits.public_categories;
    let mut near_misses = 0u64;
    let results: Vec<_> = evaluations
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let (v, near_miss) = verdict(i, ev, categories);
            near_misses += u64::from(near_miss);
            v
        })
        .collect();
    queue_matches(state, "anonymous", active_matches(&evaluations));
    let m = &state.metrics;
    m.match_hits.fetch_add(
        results.iter().filter(|r| r.matched).count() as u64,
        Ordering::Relaxed,
    );
    m.near_misses.fetch_add(near_misses, Ordering::Relaxed);
    if let Some(flagged) = watch.record(client, near_misses) {
        m.near_miss_clients.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            client,
            near_misses = flagged.count,
            window_secs = watch.window().as_secs(),
            "many near-miss match queries from one client: it may be probing the threshold"
        );
    }
    Ok(VerdictResponse { results })
}
