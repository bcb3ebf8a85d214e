//! Following the change log: the catalog is loaded once from every stored entry, then catches
//! up with the log's rows past its checkpoint (this process's writes and other processes' the
//! same way), and its indexes' deltas are folded into new bases now and then.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::model::StoredEntry;
use crate::state::AppState;

/// Changes read from the log per round trip.
const CHANGE_BATCH: usize = 10_000;

/// When the catalog last caught up, and the lock that keeps one load or catch-up at a time.
pub struct SyncProgress {
    synced_at: Mutex<Instant>,
    lock: tokio::sync::Mutex<()>,
}

impl Default for SyncProgress {
    fn default() -> Self {
        SyncProgress {
            synced_at: Mutex::new(Instant::now()),
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

impl SyncProgress {
    fn mark_synced(&self) {
        *self.synced_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

impl AppState {
    /// Loads every entry and builds the indexes; the server is ready afterwards.
    pub async fn load(&self) -> Result<(), ApiError> {
        let _guard = self.sync.lock.lock().await;
        self.refresh_bank_settings().await?;
        let (entries, seq): (Vec<StoredEntry>, i64) = self.db(|s| s.load_entries()).await?;
        let n = entries.len();
        let catalog = tokio::task::spawn_blocking(move || Catalog::build(entries))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = catalog;
        self.checkpoint.store(seq, Ordering::SeqCst);
        self.sync.mark_synced();
        self.ready.store(true, Ordering::SeqCst);
        tracing::info!(entries = n, checkpoint = seq, "index loaded");
        Ok(())
    }

    /// Applies the change log past the checkpoint to the catalog.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Ok(());
        }
        let _guard = self.sync.lock.lock().await;
        self.refresh_bank_settings().await?;
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
        self.sync.mark_synced();
        Ok(())
    }

    /// Seconds since the catalog last caught up with the change log.
    pub fn index_age(&self) -> Duration {
        self.sync
            .synced_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Folds the indexes' deltas into new bases without blocking searches for long: the
    /// heavy part runs with no lock held, changes made meanwhile are replayed by the index.
    pub async fn rebuild(&self) -> Result<(), ApiError> {
        let job = {
            let mut c = self.catalog.write().unwrap_or_else(|e| e.into_inner());
            c.begin_rebuild()
        };
        let rebuilt = tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(ApiError::internal)?;
        let mut c = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        c.finish_rebuild(rebuilt).map_err(ApiError::internal)?;
        self.metrics.rebuilds.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
