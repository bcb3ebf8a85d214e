//! The state every request sees: storage, the in-memory catalog and where it stands in the
//! change log, the limits in force, the counters behind `/metrics`, the rate limiters and the
//! near-miss watch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

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
    pub import_bytes: usize,
    pub match_items: usize,
    pub tip_items: usize,
    /// Largest PDQ threshold a request may ask for.
    pub pdq_max_threshold: u32,
    /// Largest threshold for the 64-bit hashes.
    pub h64_max_threshold: u32,
    /// Most false hits per query a bank may be expected to give by a 64-bit hash
    /// (`--false-hit-budget`; see `crate::thresholds`).
    pub false_hit_budget: f64,
    /// Whether `/v1/match` refuses anonymous callers (`--require-match-key`).
    pub require_match_key: bool,
    /// The category anonymous answers may name for a match in a bank, by bank name
    /// (`--public-category`); a bank not listed is never named.
    pub public_categories: HashMap<String, String>,
    /// Whether anonymous items are matched by their 64-bit hashes too (`--anon-match-64bit`).
    /// Off by default: a verdict on a 64-bit hash leaks enough for the bit-flip extraction to
    /// recover a stored pHash within the daily item budget (docs/threat-model.md).
    pub anon_match_64bit: bool,
}

#[cfg(test)]
impl Limits {
    /// Small limits with the default thresholds and budget, for unit tests.
    pub fn for_tests() -> Limits {
        Limits {
            body_bytes: 1 << 10,
            import_bytes: 1 << 10,
            match_items: 1,
            tip_items: 1,
            pdq_max_threshold: 31,
            h64_max_threshold: 10,
            false_hit_budget: 1e-3,
            require_match_key: false,
            public_categories: Default::default(),
            anon_match_64bit: false,
        }
    }
}

/// The limiters and watches of client traffic.
pub struct Guards {
    /// Requests per client group, every `/v1` route.
    pub ip: RateLimiter,
    /// Requests per API key.
    pub key: RateLimiter,
    /// Anonymous match items.
    pub items: ItemQuota,
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
    pub guards: Guards,
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
            limits,
            metrics: Metrics::default(),
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
