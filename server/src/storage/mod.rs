//! Durable storage behind one trait, with two implementations: SQLite (the embedded default)
//! and PostgreSQL (for several server processes sharing one database).
//!
//! Every change to the entries also appends a row to the change log (`changes`); the in-memory
//! index follows that log, so a process sees its own writes and other processes' the same way.
//! The log's sequence numbers must become visible in order: a follower that has read up to `seq`
//! never looks below it again. SQLite has one writer at a time; PostgreSQL writers take one
//! advisory lock for the transaction (see `postgres.rs`).

mod postgres;
mod read;
mod sqlite;

pub use postgres::Postgres;
pub use sqlite::Sqlite;

use std::collections::HashMap;

use crate::model::{
    Bank, BankSettings, Change, DeliveryRecord, DueDelivery, NewDelivery, NewEntry, StoredEntry,
    TipRecord, Webhook,
};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The write conflicts with what is stored (a bank that exists already).
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Backend(String),
}

/// Tables both backends create alike (SQLite's BIGINT is its 64-bit INTEGER).
const SHARED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS banks (
    name TEXT PRIMARY KEY,
    description TEXT
);
CREATE TABLE IF NOT EXISTS tips (
    id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT,
    urls TEXT NOT NULL,
    contact TEXT,
    items TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256 TEXT PRIMARY KEY,
    scopes TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL
);
";

/// Tables of the bank controls and match webhooks (docs/bank-controls.md), both backends alike.
/// An entry in `disabled_entries` stays stored but is left out of the index; ids are never
/// reused, so a row left by a deleted entry is harmless. A webhook's secret is kept as given:
/// deliveries are signed with it.
const CONTROL_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS disabled_entries (
    entry_id BIGINT PRIMARY KEY,
    disabled_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    bank TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(status, next_attempt_ms);
";

/// Every stored entry but the disabled ones, as [`read::entry`] reads them.
const LOAD_ENTRIES: &str = "SELECT id, bank, algorithm, hash, metadata FROM entries
 WHERE id NOT IN (SELECT entry_id FROM disabled_entries) ORDER BY id";

/// The columns of `webhooks`, in the order [`read::webhook`] reads them.
const WEBHOOK_COLUMNS: &str = "id, bank, url, secret, events, created_at";

/// The columns of `webhook_deliveries`, in the order [`read::delivery`] reads them.
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, status, attempts, next_attempt_ms, last_error, created_at, payload";

/// What became of one delivery attempt.
#[derive(Clone, Debug)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again at `next_attempt_ms` (Unix milliseconds).
    Retry {
        next_attempt_ms: i64,
        error: String,
    },
    /// Failed for the last time: dead-lettered.
    Dead {
        error: String,
    },
}

/// Columns added to tables of [`SHARED_SCHEMA`] since they were first created: `(table, column,
/// type)`. Both backends add those missing when they open a database; never removed or changed.
const ADDED_COLUMNS: [(&str, &str, &str); 1] = [
    // A bank's settings (`crate::model::BankSettings`) as JSON.
    ("banks", "settings", "TEXT"),
];

/// The query that lists banks as [`read::bank`] reads them.
const LIST_BANKS: &str = "SELECT b.name, b.description,
        (SELECT COUNT(*) FROM entries e WHERE e.bank = b.name), b.settings
 FROM banks b ORDER BY b.name";

/// The query that lists bank settings as [`read::bank_settings`] reads them.
const BANK_SETTINGS: &str = "SELECT name, settings FROM banks";

pub type Result<T> = std::result::Result<T, StorageError>;

/// What the server needs from a database. Calls block: callers run them off the async threads.
pub trait Storage: Send + Sync + 'static {
    /// Every entry and the change-log position they reflect, read in one snapshot.
    fn load_entries(&self) -> Result<(Vec<StoredEntry>, i64)>;
    /// Change-log rows after `seq`, oldest first, at most `limit`.
    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>>;
    fn create_bank(&self, name: &str, description: Option<&str>) -> Result<()>;
    fn list_banks(&self) -> Result<Vec<Bank>>;
    /// Every bank's settings, by name.
    fn bank_settings(&self) -> Result<HashMap<String, BankSettings>>;
    /// Stores a bank's settings (`None`: none); `false` if there is no such bank.
    fn set_bank_settings(&self, name: &str, settings: Option<&str>) -> Result<bool>;
    fn bank_exists(&self, name: &str) -> Result<bool>;
    /// Adds the entries in one transaction; returns their ids in order.
    fn add_entries(&self, bank: &str, entries: &[NewEntry]) -> Result<Vec<i64>>;
    fn delete_entry(&self, bank: &str, id: i64) -> Result<bool>;
    fn export_entries(&self, bank: &str) -> Result<Vec<StoredEntry>>;
    fn insert_tip(&self, tip: &TipRecord) -> Result<()>;
    fn get_tip(&self, id: &str) -> Result<Option<TipRecord>>;
    fn list_tips(&self, status: Option<&str>) -> Result<Vec<TipRecord>>;
    fn set_tip_status(&self, id: &str, status: &str, now: i64) -> Result<bool>;
    /// Stores an API key by its SHA-256 (does nothing if it is stored already).
    fn put_api_key(
        &self,
        key_sha256: &str,
        scopes: &[String],
        label: Option<&str>,
        now: i64,
    ) -> Result<()>;
    fn api_key_scopes(&self, key_sha256: &str) -> Result<Option<Vec<String>>>;
    /// Soft-disables or re-enables an entry, logging the change (`off`/`on`) so every process
    /// drops it from or returns it to its index. `None`: no such entry in the bank; else
    /// whether anything changed.
    fn set_entry_enabled(
        &self,
        bank: &str,
        id: i64,
        enabled: bool,
        now: i64,
    ) -> Result<Option<bool>>;
    /// The ids of a bank's disabled entries, in order.
    fn disabled_entries(&self, bank: &str) -> Result<Vec<i64>>;
    fn create_webhook(&self, webhook: &Webhook) -> Result<()>;
    fn list_webhooks(&self) -> Result<Vec<Webhook>>;
    /// Deletes a webhook and its deliveries still pending; `false` if there is none.
    fn delete_webhook(&self, id: &str) -> Result<bool>;
    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()>;
    /// Pending deliveries due at `now_ms`, at most `limit`, each leased until `lease_until_ms`
    /// so that no other process sends it meanwhile.
    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>>;
    /// Records an attempt at a delivery: its attempt count and outcome.
    fn record_delivery(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()>;
    /// Deliveries in `status` (`pending`, `delivered`, `dead`), oldest first, at most `limit`.
    fn list_deliveries(&self, status: &str, limit: usize) -> Result<Vec<DeliveryRecord>>;
}

impl DeliveryOutcome {
    /// The stored status, next attempt time and error of the outcome.
    fn columns(&self) -> (&'static str, i64, Option<&str>) {
        match self {
            DeliveryOutcome::Delivered => ("delivered", 0, None),
            DeliveryOutcome::Retry {
                next_attempt_ms,
                error,
            } => ("pending", *next_attempt_ms, Some(error)),
            DeliveryOutcome::Dead { error } => ("dead", 0, Some(error)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Storage;
    use pixelprint::Algorithm;

    /// The banks table as it was before [`super::ADDED_COLUMNS`], with one bank.
    pub const OLD_BANKS: &str = "CREATE TABLE banks (name TEXT PRIMARY KEY, description TEXT);
        INSERT INTO banks VALUES ('old', 'before settings');";

    /// Opens (with `open`) a database made with [`OLD_BANKS`]: it gains the settings column,
    /// keeps its bank, and opening it again changes nothing.
    pub fn check_added_columns<S: Storage>(open: impl Fn() -> S) {
        let store = open();
        let banks = store.list_banks().unwrap();
        assert_eq!(banks.len(), 1);
        assert_eq!(banks[0].settings, crate::model::BankSettings::default());
        assert!(store
            .set_bank_settings("old", Some(r#"{"thresholds":{"phash":6}}"#))
            .unwrap());
        assert!(!store.set_bank_settings("none", None).unwrap());
        drop(store);
        let store = open();
        let banks = store.list_banks().unwrap();
        assert_eq!(banks[0].settings.threshold(Algorithm::PHash), Some(6));
        assert_eq!(banks[0].description.as_deref(), Some("before settings"));
    }
}
