//! The state every request sees: storage, the in-memory catalog and where it stands in the
//! change log, the limits in force, the counters behind `/metrics`, the rate limiters and the
//! near-miss watch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::model::BankSettings;
use crate::nearmiss::NearMissWatch;
use crate::ratelimit::{ItemQuota, RateLimiter};
use crate::storage::{self, Storage};
use crate::sync::SyncProgress;

/// Server-wide settings that requests see.
#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes: usize,
    /// Time a request body has to arrive once reading it starts (`--body-timeout-secs`).
    pub body_timeout: std::time::Duration,
    pub import_bytes: usize,
    /// Largest `POST /v1/tips` body (`--tip-body-limit`).
    pub tip_bytes: usize,
    pub match_items: usize,
    pub tip_items: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<crate::ratelimit::Cidr>,
    /// Most close frame pairs one vPDQ item may visit (`--vpdq-max-pairs`).
    pub vpdq_max_pairs: usize,
    /// The matching time of one request (`--match-time-budget-ms`).
    pub match_time_budget: Duration,
    /// Most vPDQ searches that run at once (`--vpdq-concurrent`); further requests with video
    /// items wait for a slot, up to `vpdq_queue_wait`.
    pub vpdq_concurrent: usize,
    /// How long a request with video items waits for a search slot (`--vpdq-queue-wait-ms`)
    /// before it is answered 503 `busy`. The time budget starts once the slot is taken.
    pub vpdq_queue_wait: Duration,
    /// Largest PDQ threshold a request may ask for.
    pub pdq_max_threshold: u32,
    /// Largest threshold for the 64-bit hashes.
    pub h64_max_threshold: u32,
    /// Most false hits per query a bank may be expected to give by a 64-bit hash
    /// (`--false-hit-budget`; see `crate::thresholds`).
    pub false_hit_budget: f64,
    /// Whether `/v1/match` refuses anonymous callers (`--require-match-key`).
    pub require_match_key: bool,
    /// Whether `/metrics` wants a key with the `metrics` (or `admin`) scope (`--require-metrics-key`).
    pub require_metrics_key: bool,
    /// How long `/metrics` reuses the index gauges it read (`--metrics-interval-ms`).
    pub metrics_interval: std::time::Duration,
    /// The category anonymous answers may name for a match in a bank, by bank name
    /// (`--public-category`); a bank not listed is never named.
    pub public_categories: HashMap<String, String>,
    /// Whether anonymous items are matched by their 64-bit hashes too (`--anon-match-64bit`).
    /// Off by default: a verdict on a 64-bit hash leaks enough for the bit-flip extraction to
    /// recover a stored pHash within the daily item budget (docs/threat-model.md).
    pub anon_match_64bit: bool,
    /// Most records of one page of the StopNCII feed (`--exchange-page-size`).
    pub exchange_page_size: usize,
}

#[cfg(test)]
impl Limits {
    /// Small limits with the default thresholds and budget, for unit tests.
    pub fn for_tests() -> Limits {
        Limits {
            body_bytes: 1 << 10,
            body_timeout: std::time::Duration::from_secs(30),
            import_bytes: 1 << 10,
            tip_bytes: 1 << 10,
            match_items: 1,
            tip_items: 1,
            trusted_proxies: Vec::new(),
            vpdq_max_pairs: 1_000_000,
            match_time_budget: Duration::from_secs(10),
            vpdq_concurrent: 1,
            vpdq_queue_wait: Duration::from_secs(10),
            pdq_max_threshold: pixelprint::Algorithm::Pdq.match_threshold().unwrap_or(0),
            h64_max_threshold: 10,
            false_hit_budget: 1e-3,
            require_match_key: false,
            require_metrics_key: false,
            metrics_interval: std::time::Duration::ZERO,
            public_categories: Default::default(),
            anon_match_64bit: false,
            exchange_page_size: 10,
        }
    }
}

/// The limiters and watches of client traffic.
pub struct Guards {
    /// Requests per client group, every `/v1` route.
    pub ip: RateLimiter,
    /// Requests per API key.
    pub key: RateLimiter,
    /// Match items per API key (a keyed request may carry `--max-match-items`).
    pub key_items: RateLimiter,
    /// Anonymous match items.
    pub items: ItemQuota,
    /// Tips per client: an hourly bucket and a daily budget, charged per stored tip.
    pub tips: [RateLimiter; 2],
    pub near_miss: NearMissWatch,
}

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub client_errors: AtomicU64,
    pub server_errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub match_requests: AtomicU64,
    pub match_items: AtomicU64,
    pub match_hits: AtomicU64,
    pub tips: AtomicU64,
    /// Anonymous items that matched nothing within the threshold but something within twice it.
    pub near_misses: AtomicU64,
    /// Clients that went over the near-miss limit in a window (each logged once).
    pub near_miss_clients: AtomicU64,
    pub rebuilds: AtomicU64,
    /// Requests waiting for a vPDQ search slot now, and those that waited in vain.
    pub video_waiting: AtomicU64,
    pub video_queue_full: AtomicU64,
    /// Pages fetched from exchanges and stored (`crate::sources`).
    pub source_pages: AtomicU64,
    pub source_added: AtomicU64,
    pub source_removed: AtomicU64,
    /// Malformed records skipped.
    pub source_skipped: AtomicU64,
    /// Failed fetches (each followed by a backoff).
    pub source_errors: AtomicU64,
    /// Reviewers' feedback sent to exchanges, failed attempts retried, and dead-lettered.
    pub feedback_sent: AtomicU64,
    pub feedback_failed_attempts: AtomicU64,
    pub feedback_dead: AtomicU64,
    /// Times `/metrics` walked the catalog for its gauges (at most once per interval).
    pub index_reads: AtomicU64,
    /// Matches in banks in shadow mode, by bank (never answered to anonymous callers).
    pub shadow_matches: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Matches withheld because their item matched an entry of a negative bank.
    pub suppressed_matches: AtomicU64,
    /// Webhook deliveries queued, delivered, failed attempts retried, and dead-lettered.
    pub webhook_queued: AtomicU64,
    pub webhook_delivered: AtomicU64,
    pub webhook_failed_attempts: AtomicU64,
    pub webhook_dead: AtomicU64,
}

impl Metrics {
    /// Counts shadow matches and suppressed matches of evaluated items.
    pub fn count_controls<'a>(
        &self,
        evaluations: impl IntoIterator<Item = &'a crate::matching::Evaluation>,
    ) {
        let mut shadow = self
            .shadow_matches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ev in evaluations {
            for h in ev.shadow.iter() {
                *shadow.entry(h.bank.clone()).or_default() += 1;
            }
            self.suppressed_matches
                .fetch_add(ev.suppressed.len() as u64, Ordering::Relaxed);
        }
    }
}

pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub catalog: RwLock<Catalog>,
    /// Every bank's settings, by name, as last read from storage.
    pub bank_settings: RwLock<HashMap<String, BankSettings>>,
    /// Whether the catalog has been loaded (see `sync.rs`).
    pub ready: AtomicBool,
    /// The change-log position the catalog reflects.
    pub checkpoint: AtomicI64,
    pub(crate) sync: SyncProgress,
    pub limits: Limits,
    pub metrics: Metrics,
    /// The index gauges' text and when it was read, reused for `limits.metrics_interval`.
    pub index_gauges: std::sync::Mutex<Option<(std::time::Instant, String)>>,
    pub guards: Guards,
    /// Slots for vPDQ searches (`limits.vpdq_concurrent`): a search is CPU-bound for up to
    /// the time budget, so running more at once than there are cores only makes each miss
    /// its budget and slows every other request.
    pub video_searches: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, limits: Limits, guards: Guards) -> Arc<Self> {
        Arc::new(AppState {
            storage,
            catalog: RwLock::new(Catalog::default()),
            bank_settings: RwLock::new(HashMap::new()),
            ready: AtomicBool::new(false),
            checkpoint: AtomicI64::new(0),
            sync: SyncProgress::default(),
            metrics: Metrics::default(),
            index_gauges: std::sync::Mutex::new(None),
            video_searches: Arc::new(tokio::sync::Semaphore::new(limits.vpdq_concurrent.max(1))),
            limits,
            guards,
        })
    }

    /// Runs a storage call on the blocking pool.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Storage) -> storage::Result<T> + Send + 'static,
    {
        let s = Arc::clone(&self.storage);
        tokio::task::spawn_blocking(move || f(&*s))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }

    /// Reads every bank's settings from storage (they change through any process).
    pub async fn refresh_bank_settings(&self) -> Result<(), ApiError> {
        let settings = self.db(|s| s.bank_settings()).await?;
        *self
            .bank_settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = settings;
        Ok(())
    }

    pub fn require_ready(&self) -> Result<(), ApiError> {
        if self.ready.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(ApiError::NotReady)
        }
    }
}
