//! SQLite, the embedded default: one file under the data directory, WAL, `synchronous=FULL`,
//! so an acknowledged write survives `kill -9` and power loss. Several processes may share the
//! file on one machine (SQLite's own locking); they follow each other through the change log.
//!
//! One connection writes; a few read-only connections (`--database-readers`) read, so an API key check or the
//! change-log poll never waits behind a long import (in WAL, readers see the last commit and
//! do not block the writer). Writes take the write lock when their transaction begins
//! (`BEGIN IMMEDIATE`) and wait up to [`BUSY_WAIT`] for another process's; past that the
//! caller gets [`StorageError::Busy`] (503), never a 500.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::read::{self, Columns, TIP_COLUMNS};
use super::{
    page_keys, same_entry, source_sql, DeliveryOutcome, Result, Storage, StorageError,
    ADDED_COLUMNS, ADDED_INDEXES, API_KEY_LABEL, BANK_SETTINGS, CONTROL_SCHEMA, DELIVERY_COLUMNS,
    FEEDBACK_COLUMNS, FEED_PAGE, FEED_PAGE_FEEDBACK, FEED_PUBLISH, FEED_RETRACT, FEED_TOUCH,
    FLAG_KEY, LIST_API_KEYS, LIST_BANKS, LOAD_ENTRIES, PURGE_FEED, PURGE_FEEDBACK, PURGE_TIPS,
    PUT_FEEDBACK, PUT_FEEDBACK_PUBLISHED, SHARED_SCHEMA, TIP_CLEAR_ITEMS, TIP_FEEDBACK,
    TIP_SET_STATUS, WEBHOOK_COLUMNS,
};
use std::collections::HashMap;

use crate::model::{
    ApiKeyRecord, Bank, BankSettings, Change, DeliveryRecord, DueDelivery, FeedCursor, FeedRow,
    Feedback, FeedbackRecord, NewDelivery, NewEntry, PageApplied, Purged, SourceFailure,
    SourcePage, SourceRow, StoredEntry, TipRecord, TipTransition, Webhook, API_KEY_ID_LEN,
};

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            StorageError::Busy(e.to_string())
        } else {
            StorageError::Backend(e.to_string())
        }
    }
}

/// How long a statement waits for another connection's lock (SQLite's busy handler retries
/// meanwhile). A whole 64 MiB import commits well within it.
pub const BUSY_WAIT: Duration = Duration::from_secs(60);

pub struct Sqlite {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// The entry tables; the others are in [`super::SHARED_SCHEMA`].
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bank TEXT NOT NULL REFERENCES banks(name),
    algorithm TEXT NOT NULL,
    hash TEXT NOT NULL,
    metadata TEXT
);
CREATE INDEX IF NOT EXISTS entries_bank ON entries(bank);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    entry_id INTEGER NOT NULL
);
";

impl Sqlite {
    /// Opens (creating if missing) the database with `readers` read-only connections (at least
    /// one) beside the writer.
    pub fn open(path: &Path, readers: usize) -> Result<Self> {
        let conn = Connection::open(path)?;
        // WAL with synchronous=FULL: a commit returns only once the log is on disk.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Backend(format!(
                "journal_mode is {mode}, not wal"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(BUSY_WAIT)?;
        conn.execute_batch(SHARED_SCHEMA)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(CONTROL_SCHEMA)?;
        for (table, column, kind) in ADDED_COLUMNS {
            let present: bool = conn.query_row(
                &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
                [column],
                |r| r.get(0),
            )?;
            if !present {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
            }
        }
        conn.execute_batch(ADDED_INDEXES)?;

        let readers = (0..readers.max(1))
            .map(|_| {
                let r = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                r.busy_timeout(BUSY_WAIT)?;
                Ok(Mutex::new(r))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sqlite {
            writer: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free read-only connection, else the next one in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let k = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[k].lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
}

/// The rows of `stmt` with `params`, each read by `reader`.
fn read_all<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    reader: impl Fn(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(reader(row)?);
    }
    Ok(out)
}

impl Storage for Sqlite {
    fn load_entries(&self) -> Result<(Vec<StoredEntry>, i64)> {
        let mut conn = self.reader();
        // One read transaction: the entries and the checkpoint from the same snapshot.
        let tx = conn.transaction()?;
        let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
            r.get(0)
        })?;
        let entries = {
            let mut stmt = tx.prepare(LOAD_ENTRIES)?;
            read_all(&mut stmt, [], |r| read::entry(r))?
        };
        tx.commit()?;
        Ok((entries, seq))
    }

    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT c.seq, c.op, c.entry_id, e.bank, e.algorithm, e.hash, e.metadata
             FROM changes c LEFT JOIN entries e ON e.id = c.entry_id
             WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
        )?;
        read_all(&mut stmt, params![seq, limit as i64], |r| read::change(r))
    }

    fn create_bank(&self, name: &str, description: Option<&str>) -> Result<()> {
        let conn = self.writer();
        let n = conn.execute(
            "INSERT INTO banks (name, description) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![name, description],
        )?;
        if n == 0 {
            return Err(StorageError::Conflict(format!(
                "bank {name:?} exists already"
            )));
        }
        Ok(())
    }

    fn list_banks(&self) -> Result<Vec<Bank>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(LIST_BANKS)?;
        read_all(&mut stmt, [], |r| read::bank(r))
    }

    fn bank_settings(&self) -> Result<HashMap<String, BankSettings>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(BANK_SETTINGS)?;
        Ok(read_all(&mut stmt, [], |r| read::bank_settings(r))?
            .into_iter()
            .collect())
    }

    fn set_bank_settings(&self, name: &str, settings: Option<&str>) -> Result<bool> {
        let conn = self.writer();
        let n = conn.execute(
            "UPDATE banks SET settings = ?2 WHERE name = ?1",
            params![name, settings],
        )?;
        Ok(n > 0)
    }

    fn bank_exists(&self, name: &str) -> Result<bool> {
        let conn = self.reader();
        Ok(conn
            .query_row("SELECT 1 FROM banks WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn add_entries(&self, bank: &str, entries: &[NewEntry]) -> Result<Vec<i64>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut add = tx.prepare(
                "INSERT INTO entries (bank, algorithm, hash, metadata) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut log = tx.prepare("INSERT INTO changes (op, entry_id) VALUES ('add', ?1)")?;
            for e in entries {
                add.execute(params![bank, e.algorithm.name(), e.hash, e.metadata])?;
                let id = tx.last_insert_rowid();
                log.execute([id])?;
                ids.push(id);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn delete_entry(&self, bank: &str, id: i64) -> Result<bool> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "DELETE FROM entries WHERE id = ?1 AND bank = ?2",
            params![id, bank],
        )?;
        if n > 0 {
            tx.execute(
                "INSERT INTO changes (op, entry_id) VALUES ('del', ?1)",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    fn export_entries(&self, bank: &str, after: i64, limit: usize) -> Result<Vec<StoredEntry>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT id, bank, algorithm, hash, metadata FROM entries
             WHERE bank = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        read_all(&mut stmt, params![bank, after, limit], |r| read::entry(r))
    }

    fn insert_tip(&self, t: &TipRecord) -> Result<()> {
        let conn = self.writer();
        conn.execute(
            &format!(
                "INSERT INTO tips ({TIP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                t.id,
                t.token_sha256,
                t.status,
                t.category,
                t.description,
                serde_json::to_string(&t.urls).unwrap_or_else(|_| "[]".into()),
                t.contact,
                t.items_json,
                t.created_at,
                t.updated_at
            ],
        )?;
        Ok(())
    }

    fn get_tip(&self, id: &str) -> Result<Option<TipRecord>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!("SELECT {TIP_COLUMNS} FROM tips WHERE id = ?1"))?;
        let mut found = stmt.query([id])?;
        found.next()?.map(read::tip).transpose()
    }

    fn list_tips(
        &self,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<TipRecord>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT {TIP_COLUMNS} FROM tips WHERE (?1 IS NULL OR status = ?1)
             AND (?2 IS NULL OR created_at > ?2 OR (created_at = ?2 AND id > ?3))
             ORDER BY created_at, id LIMIT ?4"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (at, id) = (after.map(|a| a.0), after.map(|a| a.1));
        read_all(&mut stmt, params![status, at, id, limit], |r| read::tip(r))
    }

    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let conn = self.writer();
        conn.execute(
            "INSERT INTO api_keys (key_sha256, scopes, label, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                key.key_sha256,
                key.scopes.join(" "),
                key.label,
                key.created_at,
                key.expires_at
            ],
        )?;
        Ok(())
    }

    fn set_flag_admin_key(&self, key_sha256: &str, now: i64) -> Result<usize> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let revoked = tx.execute(
            &format!(
                "UPDATE api_keys SET revoked_at = ?2
                 WHERE {FLAG_KEY} AND revoked_at IS NULL AND key_sha256 <> ?1"
            ),
            params![key_sha256, now],
        )?;
        tx.execute(
            "INSERT INTO api_keys (key_sha256, scopes, label, created_at, origin)
             VALUES (?1, 'admin', 'bootstrap', ?2, 'admin-key')
             ON CONFLICT (key_sha256) DO UPDATE SET scopes = 'admin', expires_at = NULL,
                 revoked_at = NULL, origin = 'admin-key'",
            params![key_sha256, now],
        )?;
        tx.commit()?;
        Ok(revoked)
    }

    fn api_key_scopes(&self, key_sha256: &str, now: i64) -> Result<Option<Vec<String>>> {
        let conn = self.reader();
        let scopes: Option<String> = conn
            .query_row(
                "SELECT scopes FROM api_keys WHERE key_sha256 = ?1 AND revoked_at IS NULL
                 AND (expires_at IS NULL OR expires_at > ?2)",
                params![key_sha256, now],
                |r| r.get(0),
            )
            .optional()?;
        Ok(scopes.map(|s| s.split_whitespace().map(String::from).collect()))
    }

    fn api_key_label(&self, key_sha256: &str) -> Result<Option<Option<String>>> {
        let conn = self.reader();
        Ok(conn
            .query_row(API_KEY_LABEL, [key_sha256], |r| r.get(0))
            .optional()?)
    }

    fn transition_tip(&self, id: &str, t: &TipTransition) -> Result<bool> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(TIP_SET_STATUS, params![id, t.status, t.now])?;
        if n == 0 {
            return Ok(false);
        }
        if t.clear_items {
            tx.execute(TIP_CLEAR_ITEMS, [id])?;
        }
        {
            let mut publish = tx.prepare(FEED_PUBLISH)?;
            for h in &t.publish {
                publish.execute(params![id, h.signal_type, h.hash_value, t.now])?;
            }
        }
        if let Some(status) = t.retract {
            tx.execute(FEED_RETRACT, params![id, status.as_str(), t.now])?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn feed_page(&self, after: &FeedCursor, limit: usize) -> Result<(Vec<FeedRow>, Vec<Feedback>)> {
        let mut conn = self.reader();
        // A read transaction: one snapshot for the records and their feedback.
        let tx = conn.transaction()?;
        let p = params![
            after.last_mod,
            after.signal_type,
            after.hash_value,
            limit as i64
        ];
        let rows = read_all(&mut tx.prepare(FEED_PAGE)?, p, |r| read::feed_row(r))?;
        let feedback = read_all(&mut tx.prepare(FEED_PAGE_FEEDBACK)?, p, |r| {
            read::feedback(r)
        })?;
        tx.commit()?;
        Ok((rows, feedback))
    }

    fn put_feedback(&self, feedback: &[Feedback], published_only: bool) -> Result<usize> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut stored = 0;
        {
            let mut put = tx.prepare(if published_only {
                PUT_FEEDBACK_PUBLISHED
            } else {
                PUT_FEEDBACK
            })?;
            let mut touch = tx.prepare(FEED_TOUCH)?;
            for f in feedback {
                let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
                stored += put.execute(params![
                    f.hash_value,
                    f.platform,
                    f.value,
                    tags,
                    f.updated_at
                ])?;
                touch.execute(params![f.hash_value, f.updated_at])?;
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    fn tip_feedback(&self, tip_id: &str) -> Result<Vec<Feedback>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(TIP_FEEDBACK)?;
        read_all(&mut stmt, [tip_id], |r| read::feedback(r))
    }

    fn purge(&self, before: i64) -> Result<Purged> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let purged = Purged {
            tips: tx.execute(PURGE_TIPS, [before])? as u64,
            feed_hashes: tx.execute(PURGE_FEED, [before])? as u64,
            feedback: tx.execute(PURGE_FEEDBACK, [before])? as u64,
        };
        tx.commit()?;
        Ok(purged)
    }

    fn set_source(&self, bank: &str, config: Option<&str>, reset: bool) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match config {
            None => {
                tx.execute(source_sql::REMOVE, [bank])?;
            }
            Some(config) => {
                tx.execute(source_sql::INSERT, params![bank, config])?;
                if reset {
                    tx.execute(source_sql::RESET, [bank])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn list_sources(&self) -> Result<Vec<SourceRow>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(source_sql::LIST)?;
        read_all(&mut stmt, [], |r| read::source(r))
    }

    fn claim_source(&self, bank: &str, now: i64, lease_until: i64) -> Result<bool> {
        let conn = self.writer();
        let n = conn.execute(source_sql::CLAIM, params![bank, now, lease_until])?;
        Ok(n > 0)
    }

    fn apply_source_page(&self, bank: &str, page: &SourcePage) -> Result<PageApplied> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = PageApplied::default();
        {
            let mut find = tx.prepare(source_sql::FIND)?;
            let mut add = tx.prepare(source_sql::ADD)?;
            let mut delete = tx.prepare(source_sql::DELETE)?;
            let mut log = tx.prepare("INSERT INTO changes (op, entry_id) VALUES (?1, ?2)")?;
            for (key, new) in page_keys(page) {
                let stored = read_all(&mut find, params![bank, key], |r| read::keyed_entry(r))?;
                if let (Some(e), [one]) = (new, stored.as_slice()) {
                    if same_entry(one, e) {
                        applied.unchanged += 1;
                        continue;
                    }
                }
                for (id, ..) in &stored {
                    delete.execute([id])?;
                    log.execute(params!["del", id])?;
                    applied.removed += 1;
                }
                if let Some(e) = new {
                    add.execute(params![bank, e.algorithm.name(), e.hash, e.key, e.source])?;
                    log.execute(params!["add", tx.last_insert_rowid()])?;
                    applied.added += 1;
                }
            }
        }
        tx.execute(
            source_sql::PROGRESS,
            params![
                bank,
                page.checkpoint,
                page.now,
                page.lease_until,
                applied.added as i64,
                applied.removed as i64,
                page.skipped as i64
            ],
        )?;
        tx.commit()?;
        Ok(applied)
    }

    fn source_failed(&self, bank: &str, f: &SourceFailure) -> Result<()> {
        let conn = self.writer();
        conn.execute(
            source_sql::FAILED,
            params![bank, f.error, f.at, f.next_attempt, f.failures],
        )?;
        Ok(())
    }

    fn schedule_source(&self, bank: &str, next_attempt: i64) -> Result<()> {
        let conn = self.writer();
        conn.execute(source_sql::SCHEDULE, params![bank, next_attempt])?;
        Ok(())
    }

    fn entry_sources(&self, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(source_sql::ENTRY_SOURCE)?;
        let mut out = Vec::new();
        for &id in ids {
            if let Some(source) = stmt.query_row([id], |r| r.get(0)).optional()? {
                out.push((id, source));
            }
        }
        Ok(out)
    }
    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let conn = self.writer();
        let mut stmt = conn.prepare(LIST_API_KEYS)?;
        read_all(&mut stmt, [], |r| read::api_key(r))
    }

    fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool> {
        let conn = self.writer();
        let n = conn.execute(
            "UPDATE api_keys SET revoked_at = ?2
             WHERE substr(key_sha256, 1, ?3) = ?1 AND revoked_at IS NULL",
            params![id, now, API_KEY_ID_LEN as i64],
        )?;
        Ok(n > 0)
    }

    fn set_entry_enabled(
        &self,
        bank: &str,
        id: i64,
        enabled: bool,
        now: i64,
    ) -> Result<Option<bool>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row(
                "SELECT 1 FROM entries WHERE id = ?1 AND bank = ?2",
                params![id, bank],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let changed = if enabled {
            tx.execute("DELETE FROM disabled_entries WHERE entry_id = ?1", [id])?
        } else {
            tx.execute(
                "INSERT INTO disabled_entries (entry_id, disabled_at) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![id, now],
            )?
        } > 0;
        if changed {
            tx.execute(
                "INSERT INTO changes (op, entry_id) VALUES (?1, ?2)",
                params![if enabled { "on" } else { "off" }, id],
            )?;
        }
        tx.commit()?;
        Ok(Some(changed))
    }

    fn disabled_entries(&self, bank: &str) -> Result<Vec<i64>> {
        let conn = self.writer();
        let mut stmt = conn.prepare(
            "SELECT d.entry_id FROM disabled_entries d JOIN entries e ON e.id = d.entry_id
             WHERE e.bank = ?1 ORDER BY d.entry_id",
        )?;
        read_all(&mut stmt, [bank], |r| r.int(0))
    }

    fn create_webhook(&self, w: &Webhook) -> Result<()> {
        let conn = self.writer();
        conn.execute(
            &format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                w.id,
                w.bank,
                w.url,
                w.secret,
                w.events.join(" "),
                w.created_at
            ],
        )?;
        Ok(())
    }

    fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let conn = self.writer();
        let mut stmt = conn.prepare(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"
        ))?;
        read_all(&mut stmt, [], |r| read::webhook(r))
    }

    fn delete_webhook(&self, id: &str) -> Result<bool> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM webhooks WHERE id = ?1", [id])?;
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND status = 'pending'",
            [id],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut add = tx.prepare(&format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
                 VALUES (?1, ?2, 'pending', 0, 0, NULL, ?3, ?4)"
            ))?;
            for d in deliveries {
                add.execute(params![d.id, d.webhook_id, d.created_at, d.payload])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        let mut conn = self.writer();
        // IMMEDIATE: the write lock first, so two processes never claim the same row.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let due = {
            let mut stmt = tx.prepare(
                "UPDATE webhook_deliveries SET next_attempt_ms = ?2
                 WHERE id IN (SELECT id FROM webhook_deliveries
                              WHERE status = 'pending' AND next_attempt_ms <= ?1
                              ORDER BY next_attempt_ms, id LIMIT ?3)
                 RETURNING id, webhook_id, payload, attempts",
            )?;
            read_all(
                &mut stmt,
                params![now_ms, lease_until_ms, limit as i64],
                |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.int(3)?)),
            )?
        };
        let mut out = Vec::with_capacity(due.len());
        for (id, webhook_id, payload, attempts) in due {
            let target = tx
                .query_row(
                    "SELECT url, secret FROM webhooks WHERE id = ?1",
                    [&webhook_id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?;
            if let Some((url, secret)) = target {
                out.push(DueDelivery {
                    id,
                    url,
                    secret,
                    payload,
                    attempts,
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn record_delivery(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()> {
        let (status, next, error) = outcome.columns();
        let conn = self.writer();
        conn.execute(
            "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_ms = ?4,
             last_error = ?5 WHERE id = ?1",
            params![id, status, attempts, next, error],
        )?;
        Ok(())
    }

    fn list_deliveries(&self, status: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        let conn = self.writer();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = ?1
             ORDER BY created_at, id LIMIT ?2"
        ))?;
        read_all(&mut stmt, params![status, limit as i64], |r| {
            read::delivery(r)
        })
    }

    fn enqueue_feedback(&self, f: &FeedbackRecord) -> Result<()> {
        self.writer().execute(
            &format!(
                "INSERT INTO source_feedback ({FEEDBACK_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, 0, NULL, ?5)"
            ),
            params![f.id, f.bank, f.entry_id, f.payload, f.created_at],
        )?;
        Ok(())
    }

    fn claim_feedback(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackRecord>> {
        let mut conn = self.writer();
        // IMMEDIATE: the write lock first, so two processes never claim the same row.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due = {
            let mut stmt = tx.prepare(&format!(
                "UPDATE source_feedback SET next_attempt_ms = ?2
                 WHERE id IN (SELECT id FROM source_feedback
                              WHERE status = 'pending' AND next_attempt_ms <= ?1
                              ORDER BY next_attempt_ms, id LIMIT ?3)
                 RETURNING {FEEDBACK_COLUMNS}"
            ))?;
            read_all(
                &mut stmt,
                params![now_ms, lease_until_ms, limit as i64],
                |r| read::source_feedback(r),
            )?
        };
        tx.commit()?;
        Ok(due)
    }

    fn record_feedback(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()> {
        let (status, next, error) = outcome.columns();
        self.writer().execute(
            "UPDATE source_feedback SET status = ?2, attempts = ?3, next_attempt_ms = ?4,
             last_error = ?5 WHERE id = ?1",
            params![id, status, attempts, next, error],
        )?;
        Ok(())
    }

    fn list_feedback(&self, bank: &str, limit: usize) -> Result<Vec<FeedbackRecord>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FEEDBACK_COLUMNS} FROM source_feedback WHERE bank = ?1
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?;
        read_all(&mut stmt, params![bank, limit as i64], |r| {
            read::source_feedback(r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made before banks had settings gets the column when opened.
    #[test]
    fn an_older_database_gains_the_added_columns_and_keeps_its_keys() {
        let dir = std::env::temp_dir().join(format!("pixelprint-addcol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch(crate::storage::tests::OLD_BANKS)
            .unwrap();
        crate::storage::tests::check_added_columns(|| Sqlite::open(&path, 2).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
