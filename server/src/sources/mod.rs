//! Banks that fill themselves from a hash-sharing exchange: each bank may name one source
//! (`PATCH /v1/banks/{name}` with a `source` object, stored in the `sources` table), which a
//! scheduler in every server process fetches page by page.
//!
//! - [`Exchange`]: one implementation per exchange (`stopncii.rs`, `tat.rs`, `ncmec.rs`,
//!   `threatexchange.rs`), which turns the
//!   exchange's pages into entries to add or replace, keys to withdraw, and malformed records
//!   to skip, and says where the next fetch starts (its checkpoint, JSON text).
//! - Checkpoints: each page's entries and the checkpoint after it are written in one transaction
//!   (`Storage::apply_source_page`), so `kill -9` at any moment loses no entry that was written
//!   and the next fetch starts where the last written page ended.
//! - Scheduling: a source is due when its `next_attempt` is past; a process claims it by moving
//!   `next_attempt` a lease ahead (one conditional UPDATE, so two processes on one database do
//!   not fetch it together), renews the lease with every page, and sets the next attempt when
//!   done: the interval after a complete run, an exponential backoff (capped) after a failure,
//!   and the cap at once after a refused credential.
//! - Credentials are read at each run from the file or environment variable the configuration
//!   names; the database holds only that name, and no message carries the secret.
//! - Signal types: each exchange's names map to the registry's algorithms in [`SIGNAL_TYPES`]
//!   (StopNCII's in `crate::exchange::stopncii::SIGNAL_TYPES`, which the server's own feed uses).

pub mod feedback;
mod ncmec;
mod stopncii;
mod tat;
mod threatexchange;

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pixelprint::Algorithm;
use serde::{Deserialize, Serialize};

use crate::model::{
    canonical_hash, EntrySource, SourceFailure, SourcePage, SourceRow, SourcedEntry,
};
use crate::state::AppState;
use crate::time::now_unix;

/// The exchanges a bank can be filled from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// StopNCII.org's `FetchHashes`.
    Stopncii,
    /// Tech Against Terrorism's hash list (TCAP).
    Tat,
    /// NCMEC's hash sharing API (`/v2/entries`, XML).
    Ncmec,
    /// Meta's ThreatExchange: a privacy group's `threat_updates`.
    ThreatExchange,
}

impl ExchangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ExchangeKind::Stopncii => "stopncii",
            ExchangeKind::Tat => "tat",
            ExchangeKind::Ncmec => "ncmec",
            ExchangeKind::ThreatExchange => "threatexchange",
        }
    }

    pub fn exchange(self) -> &'static dyn Exchange {
        match self {
            ExchangeKind::Stopncii => &stopncii::StopNcii,
            ExchangeKind::Tat => &tat::Tat,
            ExchangeKind::Ncmec => &ncmec::Ncmec,
            ExchangeKind::ThreatExchange => &threatexchange::ThreatExchange,
        }
    }
}

/// Each exchange's signal type names and the registry algorithm whose entries they are. A
/// signal type not listed is not stored (and not counted as malformed). StopNCII's are
/// `crate::exchange::stopncii::SIGNAL_TYPES`, the table the server's own StopNCII feed uses.
///
/// - TAT: `TATHashListEntry.algorithm`.
/// - NCMEC: the element names inside an entry's `<fingerprints>` (pytx's `_get_conversion`
///   reads `md5` and `pdq`; an image's MD5 is a file MD5 like a video's, which pixelprint's
///   `md5` is). `sha1`, `pdna` and the video fingerprints have no bank algorithm.
/// - ThreatExchange: the `type` of a threat update (pytx's `INDICATOR_TYPE`s of `PdqSignal`,
///   `VideoMD5Signal`, `VideoSHA256Signal`; a file's MD5 and SHA-256 are pixelprint's whatever
///   the media type).
pub const SIGNAL_TYPES: [(ExchangeKind, &str, Algorithm); 9] = [
    (ExchangeKind::Tat, "PDQ", Algorithm::Pdq),
    (ExchangeKind::Tat, "MD5", Algorithm::Md5),
    (ExchangeKind::Ncmec, "pdq", Algorithm::Pdq),
    (ExchangeKind::Ncmec, "md5", Algorithm::Md5),
    (ExchangeKind::ThreatExchange, "HASH_PDQ", Algorithm::Pdq),
    (ExchangeKind::ThreatExchange, "HASH_MD5", Algorithm::Md5),
    (
        ExchangeKind::ThreatExchange,
        "HASH_VIDEO_MD5",
        Algorithm::Md5,
    ),
    (
        ExchangeKind::ThreatExchange,
        "HASH_SHA256",
        Algorithm::Sha256,
    ),
    (
        ExchangeKind::ThreatExchange,
        "HASH_VIDEO_SHA256",
        Algorithm::Sha256,
    ),
];

/// The algorithm of `exchange`'s signal type `name`, if pixelprint stores it.
pub fn signal_algorithm(exchange: ExchangeKind, name: &str) -> Option<Algorithm> {
    if exchange == ExchangeKind::Stopncii {
        return crate::exchange::stopncii::SIGNAL_TYPES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a);
    }
    SIGNAL_TYPES
        .iter()
        .find(|(e, n, _)| *e == exchange && *n == name)
        .map(|(_, _, a)| *a)
}

/// The signal type names of `exchange` that pixelprint stores, with their algorithms.
pub fn signal_types(exchange: ExchangeKind) -> impl Iterator<Item = (&'static str, Algorithm)> {
    SIGNAL_TYPES
        .iter()
        .filter(move |(e, _, _)| *e == exchange)
        .map(|(_, n, a)| (*n, *a))
}

/// Where a source's secret is: a file (its content, trimmed) or an environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialRef {
    File(String),
    Env(String),
}

/// A secret read from a [`CredentialRef`]; never printed.
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl CredentialRef {
    /// Reads the secret; the error names where it was looked for, never what was found.
    pub fn load(&self) -> Result<Secret, FetchError> {
        let text = match self {
            CredentialRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| FetchError::Config(format!("credential file {path}: {e}")))?,
            CredentialRef::Env(var) => std::env::var(var)
                .map_err(|_| FetchError::Config(format!("credential variable {var} is not set")))?,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(FetchError::Config(format!("credential {self} is empty")));
        }
        Ok(Secret(text.to_string()))
    }
}

impl std::fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialRef::File(p) => write!(f, "file {p}"),
            CredentialRef::Env(v) => write!(f, "variable {v}"),
        }
    }
}

/// Seconds between complete runs unless configured.
const DEFAULT_INTERVAL_SECS: u64 = 3600;

fn default_interval() -> u64 {
    DEFAULT_INTERVAL_SECS
}

/// A bank's source, as `PATCH /v1/banks/{name}` takes it and `GET /v1/banks` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The exchange's API root; its public address when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub credential: CredentialRef,
    pub exchange: ExchangeKind,
    /// Seconds from the end of a complete run to the next.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Records per page asked for (the exchange's default when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Where the key for sending reviewers' feedback is, when the exchange wants another one
    /// than for fetching (StopNCII: the `SubmitFeedback` function key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_credential: Option<CredentialRef>,
    /// ThreatExchange only, and required there: the privacy group whose updates fill the bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_group: Option<u64>,
    /// NCMEC only: the guid of the reason a false positive is downvoted with, when NCMEC offers
    /// more than one for the fingerprint (`GET {base}/v2/feedback/{TYPE}/reasons`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_reason: Option<String>,
}

/// Most records per page a configuration may ask for.
pub const MAX_PAGE_SIZE: u32 = 10_000;

impl SourceConfig {
    /// Checks what serde cannot: the URL's scheme, the interval, the page size.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(url) = &self.base_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err((
                    "base_url",
                    format!("base_url is an http(s) URL, found {url:?}"),
                ));
            }
        }
        if self.interval_secs == 0 {
            return Err(("interval_secs", "interval_secs is at least 1".into()));
        }
        if let Some(n) = self.page_size {
            if !(1..=MAX_PAGE_SIZE).contains(&n) {
                return Err((
                    "page_size",
                    format!("page_size is 1..={MAX_PAGE_SIZE}, found {n}"),
                ));
            }
        }
        let group = self.exchange == ExchangeKind::ThreatExchange;
        if group != self.privacy_group.is_some() {
            return Err((
                "privacy_group",
                if group {
                    "a threatexchange source names its privacy_group".into()
                } else {
                    format!(
                        "privacy_group is for threatexchange, not {}",
                        self.exchange.name()
                    )
                },
            ));
        }
        if let Some(reason) = &self.feedback_reason {
            if self.exchange != ExchangeKind::Ncmec {
                return Err((
                    "feedback_reason",
                    format!("feedback_reason is for ncmec, not {}", self.exchange.name()),
                ));
            }
            let guid = |c: char| c.is_ascii_alphanumeric() || c == '-';
            if reason.is_empty() || reason.len() > 64 || !reason.chars().all(guid) {
                return Err((
                    "feedback_reason",
                    format!("feedback_reason is a guid, found {reason:?}"),
                ));
            }
        }
        Ok(())
    }

    /// A configuration as `sources.config` holds it.
    pub fn stored(text: &str) -> Result<SourceConfig, FetchError> {
        serde_json::from_str(text)
            .map_err(|e| FetchError::Config(format!("stored configuration unreadable: {e}")))
    }

    /// What a request to this source's exchange needs.
    pub fn context<'a>(
        &'a self,
        http: &'a reqwest::blocking::Client,
        secret: &'a Secret,
    ) -> FetchContext<'a> {
        FetchContext {
            http,
            base_url: self
                .base_url
                .as_deref()
                .unwrap_or(self.exchange.exchange().default_base_url()),
            secret,
            page_size: self.page_size,
            privacy_group: self.privacy_group,
            feedback_reason: self.feedback_reason.as_deref(),
        }
    }

    /// Whether `other` fetches from another place (the checkpoint means nothing there).
    pub fn same_place(&self, other: &SourceConfig) -> bool {
        self.exchange == other.exchange
            && self.base_url == other.base_url
            && self.privacy_group == other.privacy_group
    }
}

/// Why a fetch failed, which decides when it is tried again.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The exchange refused the credential (401, 403): not tried again before the backoff cap.
    #[error("the exchange refused the credential: {0}")]
    Refused(String),
    /// Too many requests, a server error, a network error: tried again after a backoff (at
    /// least the `Retry-After` the exchange asked for).
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<u64>,
    },
    /// A page that is not what the exchange's format says.
    #[error("malformed page: {0}")]
    Malformed(String),
    /// The configuration or credential cannot be used as it is.
    #[error("{0}")]
    Config(String),
}

/// A fetched page, turned into pixelprint's terms.
#[derive(Debug, Default)]
pub struct Fetched {
    pub upserts: Vec<SourcedEntry>,
    /// Keys of entries the exchange withdrew or deleted.
    pub deletions: Vec<String>,
    /// One message per malformed record (`record N: why`), skipped.
    pub skipped: Vec<String>,
    /// Where the next fetch starts.
    pub checkpoint: String,
    /// Whether another page follows now.
    pub more: bool,
}

/// What a fetch needs besides the checkpoint.
pub struct FetchContext<'a> {
    pub http: &'a reqwest::blocking::Client,
    pub base_url: &'a str,
    pub secret: &'a Secret,
    pub page_size: Option<u32>,
    pub privacy_group: Option<u64>,
    pub feedback_reason: Option<&'a str>,
}

/// One exchange's wire format.
pub trait Exchange: Sync {
    /// The API root when the configuration names none.
    fn default_base_url(&self) -> &'static str;
    /// Fetches the page after `checkpoint` (`None`: from the beginning).
    fn fetch(
        &self,
        ctx: &FetchContext<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Fetched, FetchError>;
    /// Whether the exchange takes reviewers' feedback on its entries (see [`feedback`]).
    fn takes_feedback(&self) -> bool {
        false
    }
    /// Sends one reviewer's verdict on one of the exchange's entries. `feedback_secret` is the
    /// source's `feedback_credential`, when it names one.
    fn send_feedback(
        &self,
        ctx: &FetchContext<'_>,
        _feedback_secret: Option<&Secret>,
        _item: &feedback::FeedbackItem,
    ) -> Result<(), FetchError> {
        Err(FetchError::Config(format!(
            "{} takes no feedback",
            ctx.base_url
        )))
    }
}

/// Largest page body read from an exchange.
pub const MAX_PAGE_BYTES: u64 = 64 << 20;

/// Sends `request` (a submission whose answer says nothing more than its status), mapping the
/// status to a [`FetchError`].
pub fn send(request: reqwest::blocking::RequestBuilder) -> Result<(), FetchError> {
    get_body(request, false).map(|_| ())
}

/// Sends `request` and reads a JSON body, mapping the status to a [`FetchError`].
pub fn get_json(
    request: reqwest::blocking::RequestBuilder,
) -> Result<serde_json::Value, FetchError> {
    let body = get_body(request, false)?;
    serde_json::from_slice(&body).map_err(|e| FetchError::Malformed(format!("not JSON: {e}")))
}

/// Sends `request` and reads its body (at most [`MAX_PAGE_BYTES`]), mapping the status to a
/// [`FetchError`]. `secret_in_url`: the URL carries the credential, so no message names it.
pub fn get_body(
    request: reqwest::blocking::RequestBuilder,
    secret_in_url: bool,
) -> Result<Vec<u8>, FetchError> {
    get_body_with(request, secret_in_url, &|_, _| false)
}

/// Most bytes of an error answer read to tell a refused credential (`refuses`).
const MAX_ERROR_BYTES: u64 = 64 << 10;

/// [`get_body`], where `refuses(status, body)` says whether another client error (4xx) is the
/// exchange refusing the credential (some answer 400 with their own error code).
pub fn get_body_with(
    request: reqwest::blocking::RequestBuilder,
    secret_in_url: bool,
    refuses: &dyn Fn(reqwest::StatusCode, &[u8]) -> bool,
) -> Result<Vec<u8>, FetchError> {
    let transient = |message: String| FetchError::Transient {
        message,
        retry_after: None,
    };
    let shown = |e: reqwest::Error| if secret_in_url { e.without_url() } else { e };
    // reqwest's errors carry the URL, never the headers that hold the credential.
    let response = request
        .send()
        .map_err(|e| transient(format!("request failed: {}", shown(e))))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(FetchError::Refused(format!("HTTP {status}")));
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        return Err(FetchError::Transient {
            message: format!("HTTP {status}"),
            retry_after,
        });
    }
    if !status.is_success() {
        if status.is_client_error() {
            let mut body = Vec::new();
            // An unreadable error answer is told by its status alone.
            let _ = response.take(MAX_ERROR_BYTES).read_to_end(&mut body);
            if refuses(status, &body) {
                return Err(FetchError::Refused(format!("HTTP {status}")));
            }
        }
        return Err(transient(format!("HTTP {status}")));
    }
    let mut body = Vec::new();
    response
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| transient(format!("reading the page: {e}")))?;
    if body.len() as u64 > MAX_PAGE_BYTES {
        return Err(FetchError::Malformed(format!(
            "the page is larger than {MAX_PAGE_BYTES} bytes"
        )));
    }
    Ok(body)
}

/// The checkpoint an exchange stored (JSON), or `start` when there is none yet.
pub fn read_checkpoint<T: serde::de::DeserializeOwned>(
    stored: Option<&str>,
    start: T,
) -> Result<T, FetchError> {
    match stored {
        None => Ok(start),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| FetchError::Config(format!("stored checkpoint unreadable: {e}"))),
    }
}

/// A `user:password` credential (`exchange` names it in the error).
pub fn user_password<'a>(
    secret: &'a Secret,
    exchange: &str,
) -> Result<(&'a str, &'a str), FetchError> {
    secret
        .expose()
        .split_once(':')
        .filter(|(u, p)| !u.is_empty() && !p.is_empty())
        .ok_or_else(|| FetchError::Config(format!("a {exchange} credential is `user:password`")))
}

/// What an exchange says of one entry.
pub struct RecordFacts<'a> {
    pub algorithm: Algorithm,
    /// Its identity in the bank (the same for the record that adds and the one that withdraws).
    pub key: String,
    /// Its id at the exchange, as match results name it.
    pub id: String,
    pub hash: &'a str,
    pub tags: Vec<String>,
    /// ThreatExchange: the ids of the record's descriptors (what reactions are sent to).
    pub descriptors: Vec<String>,
}

/// An entry of `exchange`, or the reason it is malformed.
pub fn sourced_entry(
    exchange: ExchangeKind,
    facts: RecordFacts<'_>,
) -> Result<SourcedEntry, String> {
    let RecordFacts {
        algorithm,
        key,
        id,
        hash,
        tags,
        descriptors,
    } = facts;
    let hash = canonical_hash(algorithm, hash)?;
    let mut tags = tags;
    tags.sort();
    tags.dedup();
    let source = EntrySource {
        exchange: exchange.name().to_string(),
        id,
        tags,
        descriptors,
    };
    Ok(SourcedEntry {
        key,
        algorithm,
        hash,
        source: serde_json::to_string(&source).expect("strings"),
    })
}

/// How the scheduler paces itself (`--source-*` flags).
#[derive(Clone, Debug)]
pub struct SchedulerSettings {
    /// How often due sources are looked for.
    pub tick: Duration,
    /// How long a claim holds a source without a page written.
    pub lease_secs: i64,
    /// The first backoff after a failure; doubled with each further one.
    pub backoff_base_secs: i64,
    /// The longest backoff, and the wait after a refused credential.
    pub backoff_max_secs: i64,
    /// Timeout of one request to an exchange.
    pub request_timeout: Duration,
}

impl SchedulerSettings {
    /// Seconds to wait after the `failures`th failure in a row ending in `error`: the cap
    /// after a refused credential or an unusable configuration (a person must act), else the
    /// backoff, at least the `Retry-After` the exchange asked for.
    pub fn retry_wait(&self, error: &FetchError, failures: i64) -> i64 {
        let (base, max) = (self.backoff_base_secs, self.backoff_max_secs);
        match error {
            FetchError::Refused(_) | FetchError::Config(_) => max,
            FetchError::Transient { retry_after, .. } => backoff_secs(base, max, failures)
                .max(retry_after.map_or(0, |s| s.min(max as u64) as i64)),
            FetchError::Malformed(_) => backoff_secs(base, max, failures),
        }
    }
}

/// The wait after the `failures`th failure in a row (1 for the first): `base * 2^(n-1)`,
/// capped at `max`.
pub fn backoff_secs(base: i64, max: i64, failures: i64) -> i64 {
    let shift = (failures - 1).clamp(0, 40) as u32;
    base.saturating_mul(1i64 << shift).min(max).max(1)
}

/// Starts the scheduler: every `tick`, each due source is claimed and fetched on the blocking
/// pool, at most one run per bank in this process.
pub fn spawn(state: Arc<AppState>, settings: SchedulerSettings) {
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::spawn(async move {
        // The blocking client runs its own runtime: made (and dropped) off the async threads.
        let timeout = settings.request_timeout;
        let made = tokio::task::spawn_blocking(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("pixelprint-server/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let http = match made {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot make the HTTP client: sources are not fetched");
                return;
            }
        };
        let mut tick = tokio::time::interval(settings.tick);
        let sending = Arc::new(std::sync::atomic::AtomicBool::new(false));
        loop {
            tick.tick().await;
            if !sending.swap(true, Ordering::AcqRel) {
                let (state, settings, http, sending) = (
                    state.clone(),
                    settings.clone(),
                    http.clone(),
                    sending.clone(),
                );
                tokio::task::spawn_blocking(move || {
                    feedback::send_due(&state, &settings, &http);
                    sending.store(false, Ordering::Release);
                });
            }
            let rows = match state.db(|s| s.list_sources()).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "listing the sources failed");
                    continue;
                }
            };
            let now = now_unix();
            for row in rows.into_iter().filter(|r| r.next_attempt <= now) {
                if !running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(row.bank.clone())
                {
                    continue;
                }
                let (state, settings, http, running) = (
                    state.clone(),
                    settings.clone(),
                    http.clone(),
                    running.clone(),
                );
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let bank = row.bank.clone();
                    run_source(&state, &settings, &http, &runtime, row);
                    running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&bank);
                });
            }
        }
    });
}

/// One run of a source: claim it, fetch pages until the exchange has no more, write each with
/// its checkpoint; on failure record it and back off.
fn run_source(
    state: &AppState,
    settings: &SchedulerSettings,
    http: &reqwest::blocking::Client,
    runtime: &tokio::runtime::Handle,
    row: SourceRow,
) {
    let bank = row.bank.as_str();
    let storage = &*state.storage;
    let now = now_unix();
    match storage.claim_source(bank, now, now + settings.lease_secs) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(bank, error = %e, "claiming the source failed");
            return;
        }
    }
    let m = &state.metrics;
    let result = (|| {
        let config = SourceConfig::stored(&row.config)?;
        let exchange = config.exchange.exchange();
        let secret = config.credential.load()?;
        let ctx = config.context(http, &secret);
        let mut checkpoint = row.checkpoint.clone();
        loop {
            let fetched = exchange.fetch(&ctx, checkpoint.as_deref())?;
            for why in &fetched.skipped {
                tracing::warn!(
                    bank,
                    exchange = config.exchange.name(),
                    page = checkpoint.as_deref().unwrap_or("start"),
                    "skipped {why}"
                );
            }
            let now = now_unix();
            let page = SourcePage {
                upserts: fetched.upserts,
                deletions: fetched.deletions,
                skipped: fetched.skipped.len() as u64,
                checkpoint: Some(fetched.checkpoint),
                now,
                lease_until: now + settings.lease_secs,
            };
            let applied =
                storage
                    .apply_source_page(bank, &page)
                    .map_err(|e| FetchError::Transient {
                        message: format!("storing the page: {e}"),
                        retry_after: None,
                    })?;
            m.source_pages.fetch_add(1, Ordering::Relaxed);
            m.source_added.fetch_add(applied.added, Ordering::Relaxed);
            m.source_removed
                .fetch_add(applied.removed, Ordering::Relaxed);
            m.source_skipped.fetch_add(page.skipped, Ordering::Relaxed);
            tracing::info!(
                bank,
                added = applied.added,
                removed = applied.removed,
                unchanged = applied.unchanged,
                skipped = page.skipped,
                "source page stored"
            );
            if let Err(e) = runtime.block_on(state.catch_up()) {
                tracing::warn!(bank, error = %e, "catching up after a source page failed");
            }
            checkpoint = page.checkpoint;
            if !fetched.more {
                return Ok(config.interval_secs);
            }
        }
    })();
    match result {
        Ok(interval) => {
            let next = now_unix().saturating_add(interval as i64);
            if let Err(e) = storage.schedule_source(bank, next) {
                tracing::warn!(bank, error = %e, "scheduling the source failed");
            }
        }
        Err(error) => {
            m.source_errors.fetch_add(1, Ordering::Relaxed);
            let failures = row.failures + 1;
            let wait = settings.retry_wait(&error, failures);
            let now = now_unix();
            let message = error.to_string();
            tracing::warn!(bank, error = %message, failures, retry_in_secs = wait, "source fetch failed");
            let failure = SourceFailure {
                error: message,
                at: now,
                next_attempt: now + wait,
                failures,
            };
            if let Err(e) = storage.source_failed(bank, &failure) {
                tracing::warn!(bank, error = %e, "recording the source failure failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<i64> = (1..=8).map(|n| backoff_secs(2, 60, n)).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff_secs(2, 60, 1000), 60);
    }

    #[test]
    fn every_mapped_signal_type_names_a_bank_algorithm() {
        for (exchange, name, a) in SIGNAL_TYPES {
            assert!(crate::model::is_bank_algorithm(a), "{exchange:?} {name}");
            assert_eq!(signal_algorithm(exchange, name), Some(a));
        }
        for (a, name) in crate::exchange::stopncii::SIGNAL_TYPES {
            assert_eq!(signal_algorithm(ExchangeKind::Stopncii, name), Some(a));
        }
        assert_eq!(signal_algorithm(ExchangeKind::Stopncii, "Text"), None);
        assert_eq!(signal_algorithm(ExchangeKind::Tat, "ImagePDQ"), None);
    }

    #[test]
    fn a_secret_is_not_printed() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "Secret(..)");
    }
}
