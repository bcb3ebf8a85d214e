//! `POST /v1/match`: is any of these hashes on a list? The rules are in `crate::matching`.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::Json;

use super::json::JsonBody;
use super::{AppResult, Routes, St};
use crate::auth::{Keyed, MatchKey};
use crate::error::ApiError;
use crate::matching::{match_query, policy, MatchRequest, MatchResponse};

pub fn routes() -> Routes {
    Routes::new().route("/v1/match", post(match_hashes))
}

async fn match_hashes(
    State(state): St,
    Keyed(MatchKey, JsonBody(req)): Keyed<MatchKey, JsonBody<MatchRequest>>,
) -> AppResult<Json<MatchResponse>> {
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
    let policy = policy(
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
            .map(|(i, q)| match_query(&catalog, i, q, &policy, banks.as_ref()))
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
