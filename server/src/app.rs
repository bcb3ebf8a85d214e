//! Shared server state: storage, the catalog that follows the change log, limits, metrics.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::index::Catalog;
use crate::model::StoredEntry;
use crate::ratelimit::RateLimiter;
use crate::storage::{self, Storage};

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
    pub require_match_key: bool,
}

pub const PDQ_MIN_QUALITY: u32 = pixelprint::pdq::PDQ_MIN_QUALITY as u32;

pub const TIP_CATEGORIES: [(&str, &str); 5] = [
    (
        "non_consensual_intimate_imagery",
        "Non-consensual intimate imagery",
    ),
    ("child_sexual_abuse", "Child sexual abuse"),
    ("violent_extremism", "Violent extremism"),
    ("harassment", "Harassment"),
    ("other", "Other"),
];

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
    pub rebuilds: AtomicU64,
}

pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub catalog: RwLock<Catalog>,
    pub ready: AtomicBool,
    pub checkpoint: AtomicI64,
    synced_at: Mutex<Instant>,
    sync_lock: tokio::sync::Mutex<()>,
    pub limits: Limits,
    pub metrics: Metrics,
    pub ip_limiter: RateLimiter,
    pub key_limiter: RateLimiter,
}

/// Changes read from the log per round trip.
const CHANGE_BATCH: usize = 10_000;

impl AppState {
    pub fn new(
        storage: Arc<dyn Storage>,
        limits: Limits,
        ip_limiter: RateLimiter,
        key_limiter: RateLimiter,
    ) -> Arc<Self> {
        Arc::new(AppState {
            storage,
            catalog: RwLock::new(Catalog::default()),
            ready: AtomicBool::new(false),
            checkpoint: AtomicI64::new(0),
            synced_at: Mutex::new(Instant::now()),
            sync_lock: tokio::sync::Mutex::new(()),
            limits,
            metrics: Metrics::default(),
            ip_limiter,
            key_limiter,
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

    /// Loads every entry and builds the indexes; the server is ready afterwards.
    pub async fn load(&self) -> Result<(), ApiError> {
        let _guard = self.sync_lock.lock().await;
        let (entries, seq): (Vec<StoredEntry>, i64) = self.db(|s| s.load_entries()).await?;
        let n = entries.len();
        let catalog = tokio::task::spawn_blocking(move || Catalog::build(entries))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = catalog;
        self.checkpoint.store(seq, Ordering::SeqCst);
        *self.synced_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.ready.store(true, Ordering::SeqCst);
        tracing::info!(entries = n, checkpoint = seq, "index loaded");
        Ok(())
    }

    /// Applies the change log past the checkpoint to the catalog.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _guard = self.sync_lock.lock().await;
        loop {
            let seq = self.checkpoint.load(Ordering::SeqCst);
            let changes = self.db(move |s| s.changes_since(seq, CHANGE_BATCH)).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                break;
            };
            let full = changes.len() == CHANGE_BATCH;
            {
                let mut catalog = self.catalog.write().unwrap_or_else(|e| e.into_inner());
                for change in changes {
                    if let Some(op) = change.op {
                        catalog.apply(op);
                    }
                }
            }
            self.checkpoint.store(last, Ordering::SeqCst);
            if !full {
                break;
            }
        }
        *self.synced_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// Seconds since the catalog last caught up with the change log.
    pub fn index_age(&self) -> Duration {
        self.synced_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Folds the indexes' deltas into new bases without blocking searches for long: the
    /// heavy part runs with no lock held, changes made meanwhile are replayed by the index.
    pub async fn rebuild(&self) -> Result<(), ApiError> {
        let jobs = {
            let mut c = self.catalog.write().unwrap_or_else(|e| e.into_inner());
            (
                c.pdq.begin_rebuild(),
                c.phash.begin_rebuild(),
                c.dhash.begin_rebuild(),
                c.ahash.begin_rebuild(),
                c.vpdq_frames.begin_rebuild(),
            )
        };
        let (pdq, phash, dhash, ahash, frames) = tokio::task::spawn_blocking(move || {
            (
                jobs.0.run(),
                jobs.1.run(),
                jobs.2.run(),
                jobs.3.run(),
                jobs.4.run(),
            )
        })
        .await
        .map_err(ApiError::internal)?;
        let mut c = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        c.pdq.finish_rebuild(pdq).map_err(ApiError::internal)?;
        c.phash.finish_rebuild(phash).map_err(ApiError::internal)?;
        c.dhash.finish_rebuild(dhash).map_err(ApiError::internal)?;
        c.ahash.finish_rebuild(ahash).map_err(ApiError::internal)?;
        c.vpdq_frames
            .finish_rebuild(frames)
            .map_err(ApiError::internal)?;
        self.metrics.rebuilds.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Checks the request's API key for `scope` (`admin` implies `match`).
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        scope: &'static str,
    ) -> Result<(), ApiError> {
        let key = bearer(headers).ok_or(ApiError::Unauthorized)?;
        let digest = sha256_hex(key.as_bytes());
        let scopes = self
            .db(move |s| s.api_key_scopes(&digest))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if scopes.iter().any(|s| s == scope || s == "admin") {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }

    pub fn require_ready(&self) -> Result<(), ApiError> {
        if self.ready.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(ApiError::NotReady)
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as hex, from the operating system.
pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(ApiError::internal)?;
    Ok(to_hex(&buf))
}

/// Equality that takes the same time wherever the strings differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 (UTC) of Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A JSON body: size limit → 413, malformed or unknown fields → 400 naming the place.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The body as bytes, with the route's size limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<bytes::Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(usize::MAX);
    match bytes::Bytes::from_request(req, state).await {
        Ok(b) => Ok(b),
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::TooLarge(limit))
        }
        Err(e) => Err(ApiError::bad("bad_body", e.body_text())),
    }
}

/// The body limit in force for a route, for error messages.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (item, field) = locate(&path);
        let code = if inner.is_syntax() || inner.is_eof() {
            "malformed_json"
        } else {
            "invalid_request"
        };
        ApiError::BadRequest {
            code,
            message: if path.is_empty() || path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            },
            item,
            field,
        }
    })
}

/// Item index and field from a path like `items[3].pdq`.
fn locate(path: &str) -> (Option<usize>, Option<String>) {
    let item = path
        .strip_prefix("items[")
        .or_else(|| path.strip_prefix("entries["))
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok());
    let field = path
        .rsplit('.')
        .next()
        .filter(|f| !f.is_empty() && *f != "?")
        .map(|f| f.split('[').next().unwrap_or(f).to_string());
    (item, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn paths_locate_item_and_field() {
        assert_eq!(locate("items[3].pdq"), (Some(3), Some("pdq".into())));
        assert_eq!(
            locate("items[0].pdq_dihedral[2]"),
            (Some(0), Some("pdq_dihedral".into()))
        );
    }
}
