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
    Bank, BankSettings, Change, NewEntry, PageApplied, SourceFailure, SourcePage, SourceRow,
    SourcedEntry, StoredEntry, TipRecord,
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
CREATE TABLE IF NOT EXISTS sources (
    bank TEXT PRIMARY KEY REFERENCES banks(name),
    config TEXT NOT NULL,
    checkpoint TEXT,
    last_success BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    next_attempt BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    added BIGINT NOT NULL DEFAULT 0,
    removed BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256 TEXT PRIMARY KEY,
    scopes TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL
);
";

/// Columns added to tables since they were first created: `(table, column, type)`. Both
/// backends add those missing when they open a database; never removed or changed.
const ADDED_COLUMNS: [(&str, &str, &str); 3] = [
    // A bank's settings (`crate::model::BankSettings`) as JSON.
    ("banks", "settings", "TEXT"),
    // A synced entry's identity at its exchange (`crate::model::SourcedEntry::key`).
    ("entries", "source_key", "TEXT"),
    // A synced entry's `crate::model::EntrySource` as JSON.
    ("entries", "source", "TEXT"),
];

/// Indexes over [`ADDED_COLUMNS`], created after them.
const ADDED_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS entries_source_key ON entries(bank, source_key);";

/// Statements of the sources, written once with `$N` parameters (SQLite reads them as `?N`).
mod source_sql {
    pub const LIST: &str = "SELECT bank, config, checkpoint, last_success, last_error,
        last_error_at, next_attempt, failures, added, removed, skipped FROM sources ORDER BY bank";
    pub const INSERT: &str = "INSERT INTO sources (bank, config) VALUES ($1, $2)
        ON CONFLICT (bank) DO UPDATE SET config = excluded.config, next_attempt = 0";
    pub const RESET: &str = "UPDATE sources SET checkpoint = NULL, next_attempt = 0,
        failures = 0 WHERE bank = $1";
    pub const REMOVE: &str = "DELETE FROM sources WHERE bank = $1";
    /// Takes a due source for this process until `$3` (0 rows: not due, or another has it).
    pub const CLAIM: &str =
        "UPDATE sources SET next_attempt = $3 WHERE bank = $1 AND next_attempt <= $2";
    pub const FAILED: &str = "UPDATE sources SET last_error = $2, last_error_at = $3,
        next_attempt = $4, failures = $5 WHERE bank = $1";
    pub const SCHEDULE: &str = "UPDATE sources SET next_attempt = $2 WHERE bank = $1";
    pub const FIND: &str = "SELECT id, algorithm, hash, source FROM entries
        WHERE bank = $1 AND source_key = $2";
    pub const ADD: &str = "INSERT INTO entries (bank, algorithm, hash, source_key, source)
        VALUES ($1, $2, $3, $4, $5)";
    pub const DELETE: &str = "DELETE FROM entries WHERE id = $1";
    pub const PROGRESS: &str = "UPDATE sources SET checkpoint = $2, last_success = $3,
        failures = 0, next_attempt = $4, added = added + $5, removed = removed + $6,
        skipped = skipped + $7 WHERE bank = $1";
    pub const ENTRY_SOURCE: &str =
        "SELECT source FROM entries WHERE id = $1 AND source IS NOT NULL";
}

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
    /// Sets a bank's source configuration (`None`: no source), due at once; `reset` forgets its
    /// checkpoint (another exchange or address). The bank must exist.
    fn set_source(&self, bank: &str, config: Option<&str>, reset: bool) -> Result<()>;
    fn list_sources(&self) -> Result<Vec<SourceRow>>;
    /// Takes the source of `bank` if it is due at `now`, until `lease_until`; `false` if it is
    /// not due or another process took it.
    fn claim_source(&self, bank: &str, now: i64, lease_until: i64) -> Result<bool>;
    /// Writes a fetched page (entries added, replaced and removed, with the change log) and
    /// its checkpoint in one transaction: after a crash the fetch resumes after the last page
    /// written, and no page is written twice.
    fn apply_source_page(&self, bank: &str, page: &SourcePage) -> Result<PageApplied>;
    /// Records a failed fetch and when to try again.
    fn source_failed(&self, bank: &str, f: &SourceFailure) -> Result<()>;
    /// Sets when the source is fetched next.
    fn schedule_source(&self, bank: &str, next_attempt: i64) -> Result<()>;
    /// The `source` JSON of those of `ids` that were synced from an exchange.
    fn entry_sources(&self, ids: &[i64]) -> Result<Vec<(i64, String)>>;
}

/// The keys a page touches, in order: each entry it adds or replaces, then each it withdraws.
fn page_keys(page: &SourcePage) -> impl Iterator<Item = (&str, Option<&SourcedEntry>)> {
    page.upserts
        .iter()
        .map(|e| (e.key.as_str(), Some(e)))
        .chain(page.deletions.iter().map(|k| (k.as_str(), None)))
}

/// Whether a stored entry (algorithm, hash, source) is the one a page brings.
fn same_entry(
    stored: &(i64, String, String, Option<String>),
    e: &crate::model::SourcedEntry,
) -> bool {
    stored.1 == e.algorithm.name() && stored.2 == e.hash && stored.3.as_deref() == Some(&e.source)
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
