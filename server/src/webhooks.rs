//! Match webhooks: a bank's matches delivered as signed JSON to the URLs its operator
//! registered (docs/bank-controls.md).
//!
//! A match request queues one delivery per webhook of each bank it matched in (a row of
//! `webhook_deliveries`, written by a spawned task: the answer never waits for it). A worker in
//! every process claims due deliveries (a lease, so that processes on one database do not send
//! the same one at once), POSTs them with an HMAC-SHA256 signature over `timestamp.body`, and
//! retries failures (a non-2xx answer, a timeout, a refused connection) with exponential
//! backoff until `--webhook-max-attempts`; then the delivery is dead-lettered, which
//! administrators list with `GET /v1/webhooks/deliveries?status=dead`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::auth::random_hex;
use crate::matching::MatchHit;
use crate::model::{DueDelivery, NewDelivery};
use crate::state::AppState;
use crate::storage::DeliveryOutcome;
use crate::time::now_unix;

/// The header that carries a delivery's id (the same on every attempt: receivers drop repeats).
pub const DELIVERY_HEADER: &str = "x-pixelprint-delivery";
/// The header that carries the attempt's Unix time in seconds (signed with the body).
pub const TIMESTAMP_HEADER: &str = "x-pixelprint-timestamp";
/// The header that carries `sha256=` and the hex HMAC-SHA256 of `timestamp.body`.
pub const SIGNATURE_HEADER: &str = "x-pixelprint-signature";

/// The only event so far.
pub const MATCH_EVENT: &str = "match";

/// Deliveries claimed per round.
const CLAIM_BATCH: usize = 32;

/// Longest wait between two attempts, whatever the backoff doubles to.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How the worker delivers (`--webhook-*` flags).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
    /// Longest a receiver may take to answer.
    pub timeout: Duration,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
}

/// One match in a delivery: which item of the request matched which entry, and how closely.
#[derive(Debug, Serialize)]
pub struct DeliveredMatch {
    pub algorithm: &'static str,
    pub distance: u32,
    pub entry_id: String,
    /// The item's position in the request.
    pub item: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'static str>,
}

/// The body of a `match` delivery. Nothing of the request but these: no image, no hash, no
/// client address, no key.
#[derive(Debug, Serialize)]
pub struct MatchPayload<'a> {
    pub bank: &'a str,
    /// `anonymous` or `keyed`.
    pub caller: &'static str,
    /// Unix seconds when the match was answered.
    pub created_at: i64,
    pub event: &'static str,
    /// The delivery id (also in the `x-pixelprint-delivery` header).
    pub id: &'a str,
    pub matches: &'a [DeliveredMatch],
    pub webhook_id: &'a str,
}

/// `sha256=` and the hex HMAC-SHA256 under `secret` of `timestamp`, a dot, and `body`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Queues deliveries for the matches of one request (`(item, hit)` pairs in active banks), on a
/// task of its own: the answer does not wait, and a failure is logged, never answered.
pub fn queue_matches(state: &Arc<AppState>, caller: &'static str, hits: Vec<(usize, MatchHit)>) {
    if hits.is_empty() {
        return;
    }
    let state = Arc::clone(state);
    tokio::spawn(async move {
        if let Err(e) = queue(&state, caller, hits).await {
            tracing::error!(error = %e, "cannot queue webhook deliveries");
        }
    });
}

async fn queue(
    state: &AppState,
    caller: &'static str,
    hits: Vec<(usize, MatchHit)>,
) -> Result<(), crate::error::ApiError> {
    let webhooks = state.db(|s| s.list_webhooks()).await?;
    let created_at = now_unix();
    let mut deliveries = Vec::new();
    for w in webhooks
        .iter()
        .filter(|w| w.events.iter().any(|e| e == MATCH_EVENT))
    {
        let matches: Vec<DeliveredMatch> = hits
            .iter()
            .filter(|(_, h)| h.bank == w.bank)
            .map(|(item, h)| DeliveredMatch {
                algorithm: h.algorithm,
                distance: h.distance,
                entry_id: h.entry_id.clone(),
                item: *item,
                variant: h.variant,
            })
            .collect();
        if matches.is_empty() {
            continue;
        }
        let id = random_hex(16)?;
        let payload = MatchPayload {
            bank: &w.bank,
            caller,
            created_at,
            event: MATCH_EVENT,
            id: &id,
            matches: &matches,
            webhook_id: &w.id,
        };
        let payload = serde_json::to_string(&payload).map_err(crate::error::ApiError::internal)?;
        deliveries.push(NewDelivery {
            id,
            webhook_id: w.id.clone(),
            payload,
            created_at,
        });
    }
    if !deliveries.is_empty() {
        let n = deliveries.len() as u64;
        state.db(move |s| s.enqueue_deliveries(&deliveries)).await?;
        state.metrics.webhook_queued.fetch_add(n, Ordering::Relaxed);
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The wait after `failed` failed attempts: `backoff` doubled `failed - 1` times, at most an
/// hour.
fn backoff_after(config: &WebhookConfig, failed: u32) -> Duration {
    let factor = 1u32 << failed.saturating_sub(1).min(20);
    config.backoff.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Starts the delivery worker of this process.
pub fn spawn_worker(state: Arc<AppState>, config: WebhookConfig) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("pixelprint-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("webhook client: {e}"))?;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(config.poll).await;
            let now = now_ms();
            // Held long enough for the attempt to end before another process may take it.
            let lease = now + (config.timeout.as_millis() as i64) * 2 + 1000;
            let due = match state
                .db(move |s| s.claim_deliveries(now, lease, CLAIM_BATCH))
                .await
            {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim webhook deliveries");
                    continue;
                }
            };
            let attempts: Vec<_> = due
                .into_iter()
                .map(|d| {
                    let (state, client, config) =
                        (Arc::clone(&state), client.clone(), config.clone());
                    tokio::spawn(async move { attempt(&state, &client, &config, d).await })
                })
                .collect();
            for a in attempts {
                let _ = a.await;
            }
        }
    });
    Ok(())
}

/// One attempt at a delivery, and its outcome recorded.
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    config: &WebhookConfig,
    d: DueDelivery,
) {
    let timestamp = now_unix();
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, &d.id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(&d.secret, timestamp, d.payload.as_bytes()),
        )
        .body(d.payload.clone())
        .send()
        .await;
    let failure = match sent {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("the receiver answered {}", r.status())),
        Err(e) if e.is_timeout() => Some(format!(
            "no answer within {} ms",
            config.timeout.as_millis()
        )),
        Err(e) => Some(format!("cannot reach the receiver: {e}")),
    };
    let attempts = d.attempts + 1;
    let m = &state.metrics;
    let outcome = match failure {
        None => {
            m.webhook_delivered.fetch_add(1, Ordering::Relaxed);
            DeliveryOutcome::Delivered
        }
        Some(error) if attempts >= i64::from(config.max_attempts) => {
            m.webhook_dead.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(delivery = %d.id, attempts, %error, "webhook delivery dead-lettered");
            DeliveryOutcome::Dead { error }
        }
        Some(error) => {
            m.webhook_failed_attempts.fetch_add(1, Ordering::Relaxed);
            let wait = backoff_after(config, attempts as u32);
            DeliveryOutcome::Retry {
                next_attempt_ms: now_ms() + wait.as_millis() as i64,
                error,
            }
        }
    };
    let id = d.id.clone();
    if let Err(e) = state
        .db(move |s| s.record_delivery(&id, attempts, &outcome))
        .await
    {
        tracing::warn!(delivery = %d.id, error = %e, "cannot record a webhook delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected tag is Python's: `hmac.new(b"s3cret-for-the-test", b"1700000000." +
    /// b'{"a":1}', hashlib.sha256).hexdigest()` (the receiver's check in docs/bank-controls.md).
    #[test]
    fn signature_equals_pythons_hmac() {
        assert_eq!(
            signature("s3cret-for-the-test", 1_700_000_000, br#"{"a":1}"#),
            "sha256=3e1151112f5f01d06463b05cbe272ae7e53f9d43001ca9b2faae39d8f78d8282"
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let c = WebhookConfig {
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(10),
        };
        assert_eq!(backoff_after(&c, 1), Duration::from_millis(100));
        assert_eq!(backoff_after(&c, 2), Duration::from_millis(200));
        assert_eq!(backoff_after(&c, 4), Duration::from_millis(800));
        assert_eq!(backoff_after(&c, 40), MAX_BACKOFF);
    }
}
