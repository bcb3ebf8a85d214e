//! SQLite, the embedded default: one file under the data directory, WAL, `synchronous=FULL`,
//! so an acknowledged write survives `kill -9` and power loss. Several processes may share the
//! file on one machine (SQLite's own locking); they follow each other through the change log.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::read::{self, Columns, TIP_COLUMNS};
use super::{
    DeliveryOutcome, Result, Storage, StorageError, ADDED_COLUMNS, BANK_SETTINGS, CONTROL_SCHEMA,
    DELIVERY_COLUMNS, LIST_BANKS, LOAD_ENTRIES, SHARED_SCHEMA, WEBHOOK_COLUMNS,
};
use std::collections::HashMap;

use crate::model::{
    Bank, BankSettings, Change, DeliveryRecord, DueDelivery, NewDelivery, NewEntry, StoredEntry,
    TipRecord, Webhook,
};

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Backend(e.to_string())
    }
}

pub struct Sqlite {
    conn: Mutex<Connection>,
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
    pub fn open(path: &Path) -> Result<Self> {
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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
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
        Ok(Sqlite {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut conn = self.conn();
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
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT c.seq, c.op, c.entry_id, e.bank, e.algorithm, e.hash, e.metadata
             FROM changes c LEFT JOIN entries e ON e.id = c.entry_id
             WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
        )?;
        read_all(&mut stmt, params![seq, limit as i64], |r| read::change(r))
    }

    fn create_bank(&self, name: &str, description: Option<&str>) -> Result<()> {
        let conn = self.conn();
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
        let conn = self.conn();
        let mut stmt = conn.prepare(LIST_BANKS)?;
        read_all(&mut stmt, [], |r| read::bank(r))
    }

    fn bank_settings(&self) -> Result<HashMap<String, BankSettings>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(BANK_SETTINGS)?;
        Ok(read_all(&mut stmt, [], |r| read::bank_settings(r))?
            .into_iter()
            .collect())
    }

    fn set_bank_settings(&self, name: &str, settings: Option<&str>) -> Result<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE banks SET settings = ?2 WHERE name = ?1",
            params![name, settings],
        )?;
        Ok(n > 0)
    }

    fn bank_exists(&self, name: &str) -> Result<bool> {
        let conn = self.conn();
        Ok(conn
            .query_row("SELECT 1 FROM banks WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn add_entries(&self, bank: &str, entries: &[NewEntry]) -> Result<Vec<i64>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
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

    fn export_entries(&self, bank: &str) -> Result<Vec<StoredEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, bank, algorithm, hash, metadata FROM entries WHERE bank = ?1 ORDER BY id",
        )?;
        read_all(&mut stmt, [bank], |r| read::entry(r))
    }

    fn insert_tip(&self, t: &TipRecord) -> Result<()> {
        let conn = self.conn();
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
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {TIP_COLUMNS} FROM tips WHERE id = ?1"))?;
        let mut found = stmt.query([id])?;
        found.next()?.map(read::tip).transpose()
    }

    fn list_tips(&self, status: Option<&str>) -> Result<Vec<TipRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {TIP_COLUMNS} FROM tips WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, id"
        ))?;
        read_all(&mut stmt, [status], |r| read::tip(r))
    }

    fn set_tip_status(&self, id: &str, status: &str, now: i64) -> Result<bool> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE tips SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, status, now],
        )?;
        Ok(n > 0)
    }

    fn put_api_key(
        &self,
        key_sha256: &str,
        scopes: &[String],
        label: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_keys (key_sha256, scopes, label, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![key_sha256, scopes.join(" "), label, now],
        )?;
        Ok(())
    }

    fn api_key_scopes(&self, key_sha256: &str) -> Result<Option<Vec<String>>> {
        let conn = self.conn();
        let scopes: Option<String> = conn
            .query_row(
                "SELECT scopes FROM api_keys WHERE key_sha256 = ?1",
                [key_sha256],
                |r| r.get(0),
            )
            .optional()?;
        Ok(scopes.map(|s| s.split_whitespace().map(String::from).collect()))
    }

    fn set_entry_enabled(
        &self,
        bank: &str,
        id: i64,
        enabled: bool,
        now: i64,
    ) -> Result<Option<bool>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
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
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT d.entry_id FROM disabled_entries d JOIN entries e ON e.id = d.entry_id
             WHERE e.bank = ?1 ORDER BY d.entry_id",
        )?;
        read_all(&mut stmt, [bank], |r| r.int(0))
    }

    fn create_webhook(&self, w: &Webhook) -> Result<()> {
        let conn = self.conn();
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
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"
        ))?;
        read_all(&mut stmt, [], |r| read::webhook(r))
    }

    fn delete_webhook(&self, id: &str) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM webhooks WHERE id = ?1", [id])?;
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND status = 'pending'",
            [id],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
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
        let mut conn = self.conn();
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
        let conn = self.conn();
        conn.execute(
            "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_ms = ?4,
             last_error = ?5 WHERE id = ?1",
            params![id, status, attempts, next, error],
        )?;
        Ok(())
    }

    fn list_deliveries(&self, status: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = ?1
             ORDER BY created_at, id LIMIT ?2"
        ))?;
        read_all(&mut stmt, params![status, limit as i64], |r| {
            read::delivery(r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made before banks had settings gets the column when opened.
    #[test]
    fn an_older_database_gains_the_settings_column() {
        let dir = std::env::temp_dir().join(format!("pixelprint-addcol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch(crate::storage::tests::OLD_BANKS)
            .unwrap();
        crate::storage::tests::check_added_columns(|| Sqlite::open(&path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
