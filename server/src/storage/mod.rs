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
    ApiKeyRecord, Bank, BankSettings, Change, DeliveryRecord, DueDelivery, FeedCursor, FeedRow,
    Feedback, FeedbackRecord, NewDelivery, NewEntry, PageApplied, Purged, SourceFailure,
    SourcePage, SourceRow, SourcedEntry, StoredEntry, TipRecord, TipTransition, Webhook,
};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The write conflicts with what is stored (a bank that exists already).
    #[error("{0}")]
    Conflict(String),
    /// Another process held the database's write lock for longer than the wait allowed.
    #[error("storage busy: {0}")]
    Busy(String),
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
CREATE TABLE IF NOT EXISTS exchange_hashes (
    tip_id TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    hash_value TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tip_id, signal_type, hash_value)
);
CREATE INDEX IF NOT EXISTS exchange_hashes_value ON exchange_hashes(signal_type, hash_value);
CREATE INDEX IF NOT EXISTS exchange_hashes_updated ON exchange_hashes(updated_at);
CREATE TABLE IF NOT EXISTS exchange_feedback (
    hash_value TEXT NOT NULL,
    platform TEXT NOT NULL,
    value TEXT NOT NULL,
    tags TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (hash_value, platform)
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
CREATE TABLE IF NOT EXISTS source_feedback (
    id TEXT PRIMARY KEY,
    bank TEXT NOT NULL,
    entry_id BIGINT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS source_feedback_due ON source_feedback(status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS source_feedback_bank ON source_feedback(bank, created_at);
";

/// Every stored entry but the disabled ones, as [`read::entry`] reads them.
const LOAD_ENTRIES: &str = "SELECT id, bank, algorithm, hash, metadata FROM entries
 WHERE id NOT IN (SELECT entry_id FROM disabled_entries) ORDER BY id";

/// The columns of `webhooks`, in the order [`read::webhook`] reads them.
const WEBHOOK_COLUMNS: &str = "id, bank, url, secret, events, created_at";

/// The columns of `webhook_deliveries`, in the order [`read::delivery`] reads them.
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, status, attempts, next_attempt_ms, last_error, created_at, payload";

/// The columns of `source_feedback`, in the order [`read::source_feedback`] reads them.
const FEEDBACK_COLUMNS: &str =
    "id, bank, entry_id, payload, status, attempts, next_attempt_ms, last_error, created_at";

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

/// Columns added to tables since they were first created: `(table, column, type)`. Both
/// backends add those missing when they open a database; never removed or changed.
const ADDED_COLUMNS: [(&str, &str, &str); 6] = [
    // A bank's settings (`crate::model::BankSettings`) as JSON.
    ("banks", "settings", "TEXT"),
    // A synced entry's identity at its exchange (`crate::model::SourcedEntry::key`).
    ("entries", "source_key", "TEXT"),
    // A synced entry's `crate::model::EntrySource` as JSON.
    ("entries", "source", "TEXT"),
    // When a key stops being accepted (Unix seconds; NULL: never).
    ("api_keys", "expires_at", "BIGINT"),
    // When a key was revoked (NULL: it was not).
    ("api_keys", "revoked_at", "BIGINT"),
    // `admin-key` for the key `--admin-key` stored (NULL: made through the API, or stored by
    // `--admin-key` before this column, with the label `bootstrap`).
    ("api_keys", "origin", "TEXT"),
];

/// Indexes over [`ADDED_COLUMNS`], created after them.
const ADDED_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS entries_source_key ON entries(bank, source_key);";

/// Statements of the sources (shared SQL: `?N` parameters, see [`numbered_for_postgres`]).
mod source_sql {
    pub const LIST: &str = "SELECT bank, config, checkpoint, last_success, last_error,
        last_error_at, next_attempt, failures, added, removed, skipped FROM sources ORDER BY bank";
    pub const INSERT: &str = "INSERT INTO sources (bank, config) VALUES (?1, ?2)
        ON CONFLICT (bank) DO UPDATE SET config = excluded.config, next_attempt = 0";
    pub const RESET: &str = "UPDATE sources SET checkpoint = NULL, next_attempt = 0,
        failures = 0 WHERE bank = ?1";
    pub const REMOVE: &str = "DELETE FROM sources WHERE bank = ?1";
    /// Takes a due source for this process until `?3` (0 rows: not due, or another has it).
    pub const CLAIM: &str =
        "UPDATE sources SET next_attempt = ?3 WHERE bank = ?1 AND next_attempt <= ?2";
    pub const FAILED: &str = "UPDATE sources SET last_error = ?2, last_error_at = ?3,
        next_attempt = ?4, failures = ?5 WHERE bank = ?1";
    pub const SCHEDULE: &str = "UPDATE sources SET next_attempt = ?2 WHERE bank = ?1";
    pub const FIND: &str = "SELECT id, algorithm, hash, source FROM entries
        WHERE bank = ?1 AND source_key = ?2";
    pub const ADD: &str = "INSERT INTO entries (bank, algorithm, hash, source_key, source)
        VALUES (?1, ?2, ?3, ?4, ?5)";
    pub const DELETE: &str = "DELETE FROM entries WHERE id = ?1";
    pub const PROGRESS: &str = "UPDATE sources SET checkpoint = ?2, last_success = ?3,
        failures = 0, next_attempt = ?4, added = added + ?5, removed = removed + ?6,
        skipped = skipped + ?7 WHERE bank = ?1";
    pub const ENTRY_SOURCE: &str =
        "SELECT source FROM entries WHERE id = ?1 AND source IS NOT NULL";
}

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

/// The exchange's statements (shared SQL: `?N` parameters, see [`numbered_for_postgres`]).
///
/// The feed is `exchange_hashes`, a row per tip and published hash; a record of the feed is a
/// hash with all its rows (its cases), changed last at the latest of their `updated_at`. A page
/// is the records after a cursor in `(last_mod, signal_type, hash_value)` order, read with the
/// rows of each.
macro_rules! feed_page_cte {
    () => {
        "WITH page AS (
    SELECT signal_type, hash_value, MAX(updated_at) AS last_mod FROM exchange_hashes
    GROUP BY signal_type, hash_value
    HAVING MAX(updated_at) > ?1
        OR (MAX(updated_at) = ?1 AND (signal_type > ?2 OR (signal_type = ?2 AND hash_value > ?3)))
    ORDER BY last_mod, signal_type, hash_value LIMIT ?4)"
    };
}
const FEED_PAGE: &str = concat!(
    feed_page_cte!(),
    "
 SELECT p.last_mod, p.signal_type, p.hash_value, e.tip_id, e.status
 FROM page p JOIN exchange_hashes e ON e.signal_type = p.signal_type AND e.hash_value = p.hash_value
 ORDER BY p.last_mod, p.signal_type, p.hash_value, e.tip_id"
);

/// The feedback on the records of the page [`FEED_PAGE`] reads (same parameters).
const FEED_PAGE_FEEDBACK: &str = concat!(
    feed_page_cte!(),
    "
 SELECT f.hash_value, f.platform, f.value, f.tags, f.updated_at FROM exchange_feedback f
 WHERE f.hash_value IN (SELECT hash_value FROM page) ORDER BY f.hash_value, f.platform"
);

/// The feedback on the hashes a tip published.
const TIP_FEEDBACK: &str = "SELECT f.hash_value, f.platform, f.value, f.tags, f.updated_at
 FROM exchange_feedback f
 WHERE f.hash_value IN (SELECT hash_value FROM exchange_hashes WHERE tip_id = ?1)
 ORDER BY f.hash_value, f.platform";

const TIP_SET_STATUS: &str = "UPDATE tips SET status = ?2, updated_at = ?3 WHERE id = ?1";
const TIP_CLEAR_ITEMS: &str = "UPDATE tips SET items = '[]' WHERE id = ?1";
const FEED_PUBLISH: &str =
    "INSERT INTO exchange_hashes (tip_id, signal_type, hash_value, status, updated_at)
 VALUES (?1, ?2, ?3, 'Active', ?4)
 ON CONFLICT (tip_id, signal_type, hash_value)
 DO UPDATE SET status = 'Active', updated_at = excluded.updated_at";
const FEED_RETRACT: &str = "UPDATE exchange_hashes SET status = ?2, updated_at = ?3
 WHERE tip_id = ?1 AND status = 'Active'";
const PUT_FEEDBACK: &str =
    "INSERT INTO exchange_feedback (hash_value, platform, value, tags, updated_at)
 VALUES (?1, ?2, ?3, ?4, ?5)
 ON CONFLICT (hash_value, platform)
 DO UPDATE SET value = excluded.value, tags = excluded.tags, updated_at = excluded.updated_at";
/// [`PUT_FEEDBACK`] for a hash the feed publishes (of any status), else nothing.
const PUT_FEEDBACK_PUBLISHED: &str =
    "INSERT INTO exchange_feedback (hash_value, platform, value, tags, updated_at)
 SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT), CAST(?5 AS BIGINT)
 WHERE EXISTS (SELECT 1 FROM exchange_hashes WHERE hash_value = ?1)
 ON CONFLICT (hash_value, platform)
 DO UPDATE SET value = excluded.value, tags = excluded.tags, updated_at = excluded.updated_at";
/// Feedback changes the records of its hash: consumers fetch them again.
const FEED_TOUCH: &str =
    "UPDATE exchange_hashes SET updated_at = ?2 WHERE hash_value = ?1 AND updated_at < ?2";

/// Retention: the hashes and free text of finished tips (rejected, withdrawn or closed) last
/// changed before `?1`, the feed's tombstones older than that, and feedback left on no hash.
const PURGE_TIPS: &str =
    "UPDATE tips SET items = '[]', description = NULL, contact = NULL, urls = '[]'
 WHERE status IN ('rejected', 'withdrawn', 'closed') AND updated_at < ?1
   AND (items <> '[]' OR description IS NOT NULL OR contact IS NOT NULL OR urls <> '[]')";
const PURGE_FEED: &str = "DELETE FROM exchange_hashes WHERE status <> 'Active' AND updated_at < ?1";
const PURGE_FEEDBACK: &str = "DELETE FROM exchange_feedback
 WHERE updated_at < ?1 AND hash_value NOT IN (SELECT hash_value FROM exchange_hashes)";

const API_KEY_LABEL: &str = "SELECT label FROM api_keys WHERE key_sha256 = ?1";

/// A statement of the shared SQL with PostgreSQL's parameters (`$1` for `?1`).
///
/// SQL text shared by both backends (the constants of this module) has one convention:
/// SQLite's numbered parameters `?1`, `?2`, ..., which SQLite runs as written and PostgreSQL
/// through this function; it holds no other `?` or `$`. SQL written for one backend only
/// (in `sqlite.rs`, `postgres.rs`) uses that backend's own form.
fn numbered_for_postgres(sql: &str) -> String {
    sql.replace('?', "$")
}

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
    /// The label of a stored key: `None` if there is no such key, `Some(None)` if it has none.
    fn api_key_label(&self, key_sha256: &str) -> Result<Option<Option<String>>>;
    /// Changes a tip's status and the feed with it, in one transaction; `false` if there is no
    /// such tip.
    fn transition_tip(&self, id: &str, t: &TipTransition) -> Result<bool>;
    /// The feed's rows of the first `limit` records after `after`, and the feedback on them.
    fn feed_page(&self, after: &FeedCursor, limit: usize) -> Result<(Vec<FeedRow>, Vec<Feedback>)>;
    /// Stores a platform's feedback (replacing its earlier feedback on the same hash); with
    /// `published_only`, only on hashes the feed publishes. Returns how many were stored.
    fn put_feedback(&self, feedback: &[Feedback], published_only: bool) -> Result<usize>;
    /// The feedback on the hashes a tip published.
    fn tip_feedback(&self, tip_id: &str) -> Result<Vec<Feedback>>;
    /// Deletes what the retention period allows to delete before `before` (Unix seconds).
    fn purge(&self, before: i64) -> Result<Purged>;
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
    /// Queues feedback on a synced entry for its exchange (status `pending`).
    fn enqueue_feedback(&self, feedback: &FeedbackRecord) -> Result<()>;
    /// Pending feedback due at `now_ms`, at most `limit`, each leased until `lease_until_ms`.
    fn claim_feedback(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackRecord>>;
    /// Records an attempt to send feedback: its attempt count and outcome.
    fn record_feedback(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()>;
    /// A bank's feedback, newest first, at most `limit`.
    fn list_feedback(&self, bank: &str, limit: usize) -> Result<Vec<FeedbackRecord>>;
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

    /// Every statement shared by both backends, in the one convention of
    /// [`super::numbered_for_postgres`].
    #[test]
    fn shared_sql_uses_numbered_question_mark_parameters_only() {
        use super::source_sql::*;
        use super::*;
        let shared = [
            LOAD_ENTRIES,
            LIST_API_KEYS,
            LIST_BANKS,
            BANK_SETTINGS,
            FEED_PAGE,
            FEED_PAGE_FEEDBACK,
            TIP_FEEDBACK,
            TIP_SET_STATUS,
            TIP_CLEAR_ITEMS,
            FEED_PUBLISH,
            FEED_RETRACT,
            PUT_FEEDBACK,
            PUT_FEEDBACK_PUBLISHED,
            FEED_TOUCH,
            PURGE_TIPS,
            PURGE_FEED,
            PURGE_FEEDBACK,
            API_KEY_LABEL,
            LIST,
            INSERT,
            RESET,
            REMOVE,
            CLAIM,
            FAILED,
            SCHEDULE,
            FIND,
            ADD,
            DELETE,
            PROGRESS,
            ENTRY_SOURCE,
        ];
        for sql in shared {
            assert!(!sql.contains('$'), "{sql}");
            let mut used = Vec::new();
            for (i, _) in sql.match_indices('?') {
                let n: String = sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                assert!(!n.is_empty(), "a `?` without its number in {sql}");
                used.push(n.parse::<usize>().unwrap());
            }
            used.sort_unstable();
            used.dedup();
            // Numbered from 1 without a gap, as both backends bind them by position.
            assert!(used.iter().enumerate().all(|(k, &n)| n == k + 1), "{sql}");
            let converted = numbered_for_postgres(sql);
            assert!(!converted.contains('?'), "{converted}");
        }
    }

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
