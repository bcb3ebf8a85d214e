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

use crate::model::{ApiKeyRecord, Bank, BankSettings, Change, NewEntry, StoredEntry, TipRecord};

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

/// Columns added to tables of [`SHARED_SCHEMA`] since they were first created: `(table, column,
/// type)`. Both backends add those missing when they open a database; never removed or changed.
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    // A bank's settings (`crate::model::BankSettings`) as JSON.
    ("banks", "settings", "TEXT"),
    // When a key stops being accepted (Unix seconds; NULL: never).
    ("api_keys", "expires_at", "BIGINT"),
    // When a key was revoked (NULL: it was not).
    ("api_keys", "revoked_at", "BIGINT"),
    // `admin-key` for the key `--admin-key` stored (NULL: made through the API, or stored by
    // `--admin-key` before this column, with the label `bootstrap`).
    ("api_keys", "origin", "TEXT"),
];

/// The condition that a key was stored by `--admin-key` (older rows: by its label).
const FLAG_KEY: &str = "(origin = 'admin-key' OR (origin IS NULL AND label = 'bootstrap'))";

/// The query that lists keys as [`read::api_key`] reads them.
const LIST_API_KEYS: &str = "SELECT key_sha256, scopes, label, created_at, expires_at, revoked_at
 FROM api_keys ORDER BY created_at, key_sha256";

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
    /// A bank's entries with ids above `after`, by id, at most `limit`.
    fn export_entries(&self, bank: &str, after: i64, limit: usize) -> Result<Vec<StoredEntry>>;
    fn insert_tip(&self, tip: &TipRecord) -> Result<()>;
    fn get_tip(&self, id: &str) -> Result<Option<TipRecord>>;
    /// Tips (of `status` if given) after the position `after` (`created_at`, `id`) in that
    /// order, at most `limit`.
    fn list_tips(
        &self,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<TipRecord>>;
    fn set_tip_status(&self, id: &str, status: &str, now: i64) -> Result<bool>;
    /// Stores an API key by its SHA-256 (does nothing if it is stored already).
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    /// Stores the `--admin-key` key (accepted again if it had been revoked) and revokes every
    /// other key an earlier `--admin-key` stored; returns how many it revoked.
    fn set_flag_admin_key(&self, key_sha256: &str, now: i64) -> Result<usize>;
    /// The scopes of a key neither revoked nor expired at `now`.
    fn api_key_scopes(&self, key_sha256: &str, now: i64) -> Result<Option<Vec<String>>>;
    /// Every key, revoked and expired ones too, oldest first.
    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;
    /// Revokes the key whose id ([`ApiKeyRecord::id`]) is `id`; `false` if there is none not
    /// revoked yet.
    fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Storage;
    use pixelprint::Algorithm;

    /// The banks and api_keys tables as they were before [`super::ADDED_COLUMNS`], with one bank
    /// and the digest of a key an old `--admin-key` stored.
    pub const OLD_BANKS: &str = "CREATE TABLE banks (name TEXT PRIMARY KEY, description TEXT);
        INSERT INTO banks VALUES ('old', 'before settings');
        CREATE TABLE api_keys (key_sha256 TEXT PRIMARY KEY, scopes TEXT NOT NULL, label TEXT,
            created_at BIGINT NOT NULL);
        INSERT INTO api_keys VALUES
            ('3ba8a4f9a6fd4bfae2b4d1f0c2aa13b8b27bc8e1f36c0ecb6d3eb0e3a7d0e4d1', 'admin', 'bootstrap', 1);";
    const OLD_KEY: &str = "3ba8a4f9a6fd4bfae2b4d1f0c2aa13b8b27bc8e1f36c0ecb6d3eb0e3a7d0e4d1";

    /// Opens (with `open`) a database made with [`OLD_BANKS`]: it gains the added columns,
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
        // The old key is accepted until another --admin-key replaces it.
        assert_eq!(
            store.api_key_scopes(OLD_KEY, 2).unwrap(),
            Some(vec!["admin".to_string()])
        );
        assert_eq!(store.set_flag_admin_key("00new", 3).unwrap(), 1);
        assert_eq!(store.api_key_scopes(OLD_KEY, 4).unwrap(), None);
        assert_eq!(
            store.api_key_scopes("00new", 4).unwrap(),
            Some(vec!["admin".to_string()])
        );
        let keys = store.list_api_keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].revoked_at, Some(3));
        assert!(store.revoke_api_key("00new", 5).unwrap());
        assert!(!store.revoke_api_key("00new", 6).unwrap());
        assert_eq!(store.api_key_scopes("00new", 7).unwrap(), None);
        // A key with an expiry is accepted before it, not from it on.
        store
            .put_api_key(&crate::model::ApiKeyRecord {
                key_sha256: "00exp".into(),
                scopes: vec!["match".into()],
                label: None,
                created_at: 1,
                expires_at: Some(10),
                revoked_at: None,
            })
            .unwrap();
        assert_eq!(
            store.api_key_scopes("00exp", 9).unwrap(),
            Some(vec!["match".to_string()])
        );
        assert_eq!(store.api_key_scopes("00exp", 10).unwrap(), None);
    }
}
