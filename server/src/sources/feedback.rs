//! Reviewers' verdicts on synced entries, sent back to the exchange each entry came from
//! (docs/exchange.md, "Feedback to the exchanges").
//!
//! `POST /v1/banks/{name}/entries/{id}/feedback` checks that the entry came from the bank's
//! source and that its exchange takes feedback, then queues one row of `source_feedback`. The
//! sources scheduler of every process claims due rows each tick (a lease, so that processes on
//! one database do not send a row twice at once), sends each through its exchange's
//! [`Exchange::send_feedback`](super::Exchange::send_feedback) with the source's credentials,
//! and retries a failure with the sources' backoff until [`MAX_ATTEMPTS`]; then the row is
//! dead-lettered. `GET /v1/banks/{name}/feedback` lists a bank's rows with their state.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::{ExchangeKind, FetchError, SchedulerSettings, SourceConfig};
use crate::auth::random_hex;
use crate::error::ApiError;
use crate::model::{EntrySource, FeedbackRecord};
use crate::state::AppState;
use crate::storage::DeliveryOutcome;
use crate::time::now_unix;

/// A reviewer's verdict on a match with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The matched content is what the list is for (StopNCII: `Blocked`).
    Confirmed,
    /// It is not (StopNCII: `NotBlocked`).
    FalsePositive,
}

/// What a queued row sends: the entry as its exchange knows it, and the verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedbackItem {
    pub exchange: ExchangeKind,
    /// The entry's id at the exchange (StopNCII: `signalType:hashValue`; NCMEC:
    /// `{member}-{id}`; ThreatExchange: the indicator's id).
    pub source_id: String,
    pub verdict: Verdict,
    /// Free tags passed on where the exchange takes them.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The entry's algorithm (NCMEC: which fingerprint of the entry the vote is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// ThreatExchange: the descriptors of the entry's indicator, which the reaction goes to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<String>,
}

/// Attempts before a row is dead-lettered.
pub const MAX_ATTEMPTS: i64 = 10;

/// Rows claimed per tick.
const CLAIM_BATCH: usize = 32;

/// Queues `verdict` on entry `entry_id` of `bank` for the exchange the entry came from.
pub async fn queue(
    state: &AppState,
    bank: &str,
    entry_id: i64,
    verdict: Verdict,
    tags: Vec<String>,
) -> Result<FeedbackRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("no entry {entry_id} in bank {bank:?}"));
    let b = bank.to_string();
    let (sources, stored, entry_source) = state
        .db(move |s| {
            let sources = s.list_sources()?;
            let stored = s.export_entries(&b, entry_id - 1, 1)?;
            let entry_source = s.entry_sources(&[entry_id])?;
            Ok((sources, stored, entry_source))
        })
        .await?;
    let Some(stored) = stored.first().filter(|e| e.id == entry_id) else {
        return Err(not_found());
    };
    let no_feedback = |message: String| ApiError::bad("no_feedback", message);
    let row = sources.iter().find(|r| r.bank == bank).ok_or_else(|| {
        no_feedback(format!(
            "bank {bank:?} has no source: feedback goes to the exchange a bank is synced from"
        ))
    })?;
    let config = SourceConfig::stored(&row.config).map_err(ApiError::internal)?;
    if !config.exchange.exchange().takes_feedback() {
        return Err(no_feedback(format!(
            "{} takes no feedback through pixelprint",
            config.exchange.name()
        )));
    }
    let source: Option<EntrySource> = entry_source
        .first()
        .and_then(|(_, text)| serde_json::from_str(text).ok());
    let Some(source) = source.filter(|s| s.exchange == config.exchange.name()) else {
        return Err(no_feedback(format!(
            "entry {entry_id} was not synced from the bank's {} source",
            config.exchange.name()
        )));
    };
    let item = FeedbackItem {
        exchange: config.exchange,
        source_id: source.id,
        verdict,
        tags,
        algorithm: Some(stored.algorithm.name().to_string()),
        descriptors: source.descriptors,
    };
    let record = FeedbackRecord {
        id: random_hex(16)?,
        bank: bank.to_string(),
        entry_id,
        payload: serde_json::to_string(&item).map_err(ApiError::internal)?,
        status: "pending".into(),
        attempts: 0,
        next_attempt_ms: 0,
        last_error: None,
        created_at: now_unix(),
    };
    let r = record.clone();
    state.db(move |s| s.enqueue_feedback(&r)).await?;
    Ok(record)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Claims the due rows and sends each (on the blocking pool, from the sources scheduler).
pub fn send_due(state: &AppState, settings: &SchedulerSettings, http: &reqwest::blocking::Client) {
    let storage = &*state.storage;
    let now = now_ms();
    // Held long enough for the attempts to end before another process may take them.
    let lease = now + (settings.request_timeout.as_millis() as i64 + 1000) * CLAIM_BATCH as i64;
    let due = match storage.claim_feedback(now, lease, CLAIM_BATCH) {
        Ok(due) if due.is_empty() => return,
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim feedback to send");
            return;
        }
    };
    let configs: HashMap<String, String> = match storage.list_sources() {
        Ok(rows) => rows.into_iter().map(|r| (r.bank, r.config)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the sources to send feedback");
            return;
        }
    };
    let m = &state.metrics;
    for f in due {
        let attempts = f.attempts + 1;
        let outcome = match send_one(http, configs.get(&f.bank), &f) {
            Ok(()) => {
                m.feedback_sent.fetch_add(1, Ordering::Relaxed);
                DeliveryOutcome::Delivered
            }
            Err(e) if attempts >= MAX_ATTEMPTS => {
                m.feedback_dead.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(feedback = %f.id, bank = %f.bank, attempts, error = %e, "feedback dead-lettered");
                DeliveryOutcome::Dead {
                    error: e.to_string(),
                }
            }
            Err(e) => {
                m.feedback_failed_attempts.fetch_add(1, Ordering::Relaxed);
                let wait = settings.retry_wait(&e, attempts);
                tracing::warn!(feedback = %f.id, bank = %f.bank, attempts, retry_in_secs = wait, error = %e, "sending feedback failed");
                DeliveryOutcome::Retry {
                    next_attempt_ms: now_ms() + wait * 1000,
                    error: e.to_string(),
                }
            }
        };
        if let Err(e) = storage.record_feedback(&f.id, attempts, &outcome) {
            tracing::warn!(feedback = %f.id, error = %e, "cannot record a feedback attempt");
        }
    }
}

/// One attempt: the bank's source as configured now, its credentials, its exchange's call.
fn send_one(
    http: &reqwest::blocking::Client,
    config: Option<&String>,
    f: &FeedbackRecord,
) -> Result<(), FetchError> {
    let item: FeedbackItem = serde_json::from_str(&f.payload)
        .map_err(|e| FetchError::Config(format!("stored feedback unreadable: {e}")))?;
    let config = config
        .ok_or_else(|| FetchError::Config(format!("bank {:?} no longer has a source", f.bank)))?;
    let config = SourceConfig::stored(config)?;
    if config.exchange != item.exchange {
        return Err(FetchError::Config(format!(
            "bank {:?} is now synced from {}, not {}",
            f.bank,
            config.exchange.name(),
            item.exchange.name()
        )));
    }
    let secret = config.credential.load()?;
    let feedback_secret = config
        .feedback_credential
        .as_ref()
        .map(|c| c.load())
        .transpose()?;
    config.exchange.exchange().send_feedback(
        &config.context(http, &secret),
        feedback_secret.as_ref(),
        &item,
    )
}
