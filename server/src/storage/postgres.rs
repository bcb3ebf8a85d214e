//! PostgreSQL, for teams that run several server processes on one database
//! (`--database-url postgres://...`). Same tables and the same change log as SQLite; each
//! process follows the log, so a change made through one is matchable on the others after the
//! next poll (`--poll-ms`, 500 ms by default).
//!
//! Ordering: sequence numbers are handed out when rows are inserted, not when transactions
//! commit, so two concurrent writers could make seq 8 visible before seq 7 and a follower that
//! read up to 8 would never see 7. Every transaction that appends to the change log therefore
//! takes the same transaction-scoped advisory lock first: writers to the log commit one at a
//! time, in sequence order.
//!
//! Connections, as SQLite's: one writer behind a mutex (reopened when it breaks), and a pool of
//! read-only connections (`--database-readers`, r2d2), so an API key check, a keyed answer's
//! sources or the change-log poll never waits behind a long import. A write commits before it
//! returns, so a read that follows it on any reader sees it. A read waits at most [`READ_WAIT`]
//! for a free reader, else the caller gets [`StorageError::Busy`] (503). Connections are made
//! without TLS: point the URL at a local socket, loopback or a private network.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row};
use r2d2_postgres::PostgresConnectionManager;

use super::read::{self, Columns, TIP_COLUMNS};
use super::{
    numbered_for_postgres as pg, page_keys, same_entry, source_sql, DeliveryOutcome, Result,
    Storage, StorageError, ADDED_COLUMNS, ADDED_INDEXES, API_KEY_LABEL, BANK_SETTINGS,
    CONTROL_SCHEMA, DELIVERY_COLUMNS, FEEDBACK_COLUMNS, FEED_PAGE, FEED_PAGE_FEEDBACK,
    FEED_PUBLISH, FEED_RETRACT, FEED_TOUCH, FLAG_KEY, LIST_API_KEYS, LIST_BANKS, LOAD_ENTRIES,
    PURGE_FEED, PURGE_FEEDBACK, PURGE_TIPS, PUT_FEEDBACK, PUT_FEEDBACK_PUBLISHED, SHARED_SCHEMA,
    TIP_CLEAR_ITEMS, TIP_FEEDBACK, TIP_SET_STATUS, WEBHOOK_COLUMNS,
};
use std::collections::HashMap;

use crate::model::{
    ApiKeyRecord, Bank, BankSettings, Change, DeliveryRecord, DueDelivery, FeedCursor, FeedRow,
    Feedback, FeedbackRecord, NewDelivery, NewEntry, PageApplied, Purged, SourceFailure,
    SourcePage, SourceRow, StoredEntry, TipRecord, TipTransition, Webhook, API_KEY_ID_LEN,
};

/// The advisory lock key of change-log writers (and of the schema set-up).
const LOG_LOCK: i64 = 0x7069_7865_6c70_7274; // "pixelprt"

/// Rows per INSERT statement of a bulk add.
const INSERT_CHUNK: usize = 5_000;

/// The entry tables; the others are in [`super::SHARED_SCHEMA`].
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id BIGSERIAL PRIMARY KEY,
    bank TEXT NOT NULL REFERENCES banks(name),
    algorithm TEXT NOT NULL,
    hash TEXT NOT NULL,
    metadata TEXT
);
CREATE INDEX IF NOT EXISTS entries_bank ON entries(bank);
CREATE TABLE IF NOT EXISTS changes (
    seq BIGSERIAL PRIMARY KEY,
    op TEXT NOT NULL,
    entry_id BIGINT NOT NULL
);
";

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        // The server's message (constraint, syntax) when there is one, else the client's.
        match e.as_db_error() {
            Some(db) => StorageError::Backend(format!("{}: {}", db.code().code(), db.message())),
            None => StorageError::Backend(e.to_string()),
        }
    }
}

/// Longest a read waits for a free read-only connection (or for one to be opened).
pub const READ_WAIT: Duration = Duration::from_secs(30);

type Readers = r2d2::Pool<PostgresConnectionManager<NoTls>>;

pub struct Postgres {
    config: postgres::Config,
    writer: Mutex<Option<Client>>,
    /// `None` only while dropping.
    readers: Option<Readers>,
}

/// Logs the failures of the read pool's background connects (r2d2 retries them).
#[derive(Debug)]
struct LogReaderErrors;

impl r2d2::HandleError<postgres::Error> for LogReaderErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::warn!("PostgreSQL read connection: {}", StorageError::from(error));
    }
}

impl Postgres {
    /// Connects (the writer and `readers` read-only connections, at least one) and creates the
    /// tables if they are missing. Blocks: call it off async threads.
    pub fn open(url: &str, readers: usize) -> Result<Self> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Backend(format!("invalid database URL: {e}")))?;
        let mut pg = Postgres {
            config,
            writer: Mutex::new(None),
            readers: None,
        };
        pg.write(|c| {
            let mut tx = c.transaction()?;
            // Two processes starting at once would race on CREATE TABLE IF NOT EXISTS.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
            tx.batch_execute(SHARED_SCHEMA)?;
            tx.batch_execute(SCHEMA)?;
            tx.batch_execute(CONTROL_SCHEMA)?;
            for (table, column, kind) in ADDED_COLUMNS {
                tx.batch_execute(&format!(
                    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"
                ))?;
            }
            tx.batch_execute(ADDED_INDEXES)?;
            tx.commit()?;
            Ok(())
        })?;
        // Readers refuse writes, as SQLite's read-only connections do; the URL's own options
        // are kept.
        let mut read_config = pg.config.clone();
        let options = match pg.config.get_options() {
            Some(o) => format!("{o} -c default_transaction_read_only=on"),
            None => "-c default_transaction_read_only=on".to_string(),
        };
        read_config.options(&options);
        let size = u32::try_from(readers.max(1)).unwrap_or(u32::MAX);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(READ_WAIT)
            .error_handler(Box::new(LogReaderErrors))
            .build(PostgresConnectionManager::new(read_config, NoTls))
            .map_err(|e| StorageError::Backend(format!("read connections: {e}")))?;
        pg.readers = Some(pool);
        Ok(pg)
    }

    /// Runs `f` on the writer, connecting first if there is none or it broke.
    fn write<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut guard: MutexGuard<'_, Option<Client>> =
            self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = Some(self.config.connect(NoTls)?);
        }
        let client = guard.as_mut().expect("connected above");
        let result = f(client);
        if client.is_closed() {
            *guard = None;
        }
        result
    }

    /// Runs `f` on a free read-only connection (the pool drops one that broke).
    fn read<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let pool = self
            .readers
            .as_ref()
            .expect("readers are set from open to drop");
        let mut conn = pool
            .get()
            .map_err(|e| StorageError::Busy(format!("no read connection: {e}")))?;
        f(&mut conn)
    }
}

/// The blocking client runs its own runtime to close the connection when dropped, which panics
/// on a thread of the server's runtime (where the last reference may go at shutdown): the
/// connections are dropped on a plain thread instead.
impl Drop for Postgres {
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let readers = self.readers.take();
        let _ = std::thread::spawn(move || drop((writer, readers))).join();
    }
}

impl Columns for Row {
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

/// Appends `op` rows for `ids` to the change log, in the order given.
fn log_changes(tx: &mut impl GenericClient, op: &str, ids: &[i64]) -> Result<()> {
    tx.execute(
        "INSERT INTO changes (op, entry_id)
         SELECT $1, id FROM UNNEST($2::BIGINT[]) WITH ORDINALITY AS t(id, n) ORDER BY n",
        &[&op, &ids],
    )?;
    Ok(())
}

/// A read-only transaction that sees one snapshot throughout.
fn snapshot(c: &mut Client) -> Result<postgres::Transaction<'_>> {
    Ok(c.build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?)
}

impl Storage for Postgres {
    fn load_entries(&self) -> Result<(Vec<StoredEntry>, i64)> {
        self.read(|c| {
            // One snapshot for the checkpoint and the rows it covers.
            let mut tx = snapshot(c)?;
            let seq: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])?
                .try_get(0)?;
            let mut entries = Vec::new();
            // Streamed, not collected into rows first: a bank can hold tens of millions.
            let mut rows = tx.query_raw(LOAD_ENTRIES, std::iter::empty::<i64>())?;
            while let Some(row) = rows.next()? {
                entries.push(read::entry(&row)?);
            }
            drop(rows);
            tx.commit()?;
            Ok((entries, seq))
        })
    }

    fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT c.seq, c.op, c.entry_id, e.bank, e.algorithm, e.hash, e.metadata
                 FROM changes c LEFT JOIN entries e ON e.id = c.entry_id
                 WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
                &[&seq, &(limit as i64)],
            )?;
            rows.iter().map(read::change).collect()
        })
    }

    fn create_bank(&self, name: &str, description: Option<&str>) -> Result<()> {
        self.write(|c| {
            let n = c.execute(
                "INSERT INTO banks (name, description) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &description],
            )?;
            if n == 0 {
                return Err(StorageError::Conflict(format!(
                    "bank {name:?} exists already"
                )));
            }
            Ok(())
        })
    }

    fn list_banks(&self) -> Result<Vec<Bank>> {
        self.read(|c| {
            let rows = c.query(LIST_BANKS, &[])?;
            rows.iter().map(read::bank).collect()
        })
    }

    fn bank_settings(&self) -> Result<HashMap<String, BankSettings>> {
        self.read(|c| {
            c.query(BANK_SETTINGS, &[])?
                .iter()
                .map(read::bank_settings)
                .collect()
        })
    }

    fn set_bank_settings(&self, name: &str, settings: Option<&str>) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE banks SET settings = $2 WHERE name = $1",
                &[&name, &settings],
            )?;
            Ok(n > 0)
        })
    }

    fn bank_exists(&self, name: &str) -> Result<bool> {
        self.read(|c| {
            Ok(
                c.query_opt("SELECT 1 FROM banks WHERE name = $1", &[&name])?
                    .is_some(),
            )
        })
    }

    fn add_entries(&self, bank: &str, entries: &[NewEntry]) -> Result<Vec<i64>> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
            let mut ids = Vec::with_capacity(entries.len());
            for chunk in entries.chunks(INSERT_CHUNK) {
                // Ids drawn first, so that they are known in order without relying on the
                // order of RETURNING rows.
                let n = chunk.len() as i64;
                let chunk_ids: Vec<i64> = tx
                    .query(
                        "SELECT nextval(pg_get_serial_sequence('entries', 'id'))
                         FROM generate_series(1, $1::BIGINT)",
                        &[&n],
                    )?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<std::result::Result<_, _>>()?;
                let algorithms: Vec<&str> = chunk.iter().map(|e| e.algorithm.name()).collect();
                let hashes: Vec<&str> = chunk.iter().map(|e| e.hash.as_str()).collect();
                let metadata: Vec<Option<&str>> =
                    chunk.iter().map(|e| e.metadata.as_deref()).collect();
                tx.execute(
                    "INSERT INTO entries (id, bank, algorithm, hash, metadata)
                     SELECT id, $2, algorithm, hash, metadata
                     FROM UNNEST($1::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
                          AS t(id, algorithm, hash, metadata)",
                    &[&chunk_ids, &bank, &algorithms, &hashes, &metadata],
                )?;
                log_changes(&mut tx, "add", &chunk_ids)?;
                ids.extend(chunk_ids);
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    fn delete_entry(&self, bank: &str, id: i64) -> Result<bool> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
            let n = tx.execute(
                "DELETE FROM entries WHERE id = $1 AND bank = $2",
                &[&id, &bank],
            )?;
            if n > 0 {
                log_changes(&mut tx, "del", &[id])?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn export_entries(&self, bank: &str, after: i64, limit: usize) -> Result<Vec<StoredEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            c.query(
                "SELECT id, bank, algorithm, hash, metadata FROM entries
                 WHERE bank = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[&bank, &after, &limit],
            )?
            .iter()
            .map(read::entry)
            .collect()
        })
    }

    fn insert_tip(&self, t: &TipRecord) -> Result<()> {
        let urls = serde_json::to_string(&t.urls).unwrap_or_else(|_| "[]".into());
        self.write(|c| {
            c.execute(
                &format!(
                    "INSERT INTO tips ({TIP_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ),
                &[
                    &t.id,
                    &t.token_sha256,
                    &t.status,
                    &t.category,
                    &t.description,
                    &urls,
                    &t.contact,
                    &t.items_json,
                    &t.created_at,
                    &t.updated_at,
                ],
            )?;
            Ok(())
        })
    }

    fn get_tip(&self, id: &str) -> Result<Option<TipRecord>> {
        self.read(|c| {
            c.query_opt(
                &format!("SELECT {TIP_COLUMNS} FROM tips WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(read::tip)
            .transpose()
        })
    }

    fn list_tips(
        &self,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<TipRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (at, id) = (after.map(|a| a.0), after.map(|a| a.1));
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {TIP_COLUMNS} FROM tips
                     WHERE ($1::TEXT IS NULL OR status = $1)
                     AND ($2::BIGINT IS NULL OR created_at > $2 OR (created_at = $2 AND id > $3))
                     ORDER BY created_at, id LIMIT $4"
                ),
                &[&status, &at, &id, &limit],
            )?
            .iter()
            .map(read::tip)
            .collect()
        })
    }

    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let scopes = key.scopes.join(" ");
        self.write(|c| {
            c.execute(
                "INSERT INTO api_keys (key_sha256, scopes, label, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &key.key_sha256,
                    &scopes,
                    &key.label,
                    &key.created_at,
                    &key.expires_at,
                ],
            )?;
            Ok(())
        })
    }

    fn set_flag_admin_key(&self, key_sha256: &str, now: i64) -> Result<usize> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            let revoked = tx.execute(
                &format!(
                    "UPDATE api_keys SET revoked_at = $2
                     WHERE {FLAG_KEY} AND revoked_at IS NULL AND key_sha256 <> $1"
                ),
                &[&key_sha256, &now],
            )?;
            tx.execute(
                "INSERT INTO api_keys (key_sha256, scopes, label, created_at, origin)
                 VALUES ($1, 'admin', 'bootstrap', $2, 'admin-key')
                 ON CONFLICT (key_sha256) DO UPDATE SET scopes = 'admin', expires_at = NULL,
                     revoked_at = NULL, origin = 'admin-key'",
                &[&key_sha256, &now],
            )?;
            tx.commit()?;
            Ok(usize::try_from(revoked).unwrap_or(usize::MAX))
        })
    }

    fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        self.read(|c| {
            c.query(LIST_API_KEYS, &[])?
                .iter()
                .map(read::api_key)
                .collect()
        })
    }

    fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool> {
        let len = API_KEY_ID_LEN as i32;
        self.write(|c| {
            let n = c.execute(
                "UPDATE api_keys SET revoked_at = $2
                 WHERE substr(key_sha256, 1, $3) = $1 AND revoked_at IS NULL",
                &[&id, &now, &len],
            )?;
            Ok(n > 0)
        })
    }

    fn api_key_scopes(&self, key_sha256: &str, now: i64) -> Result<Option<Vec<String>>> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT scopes FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL
                 AND (expires_at IS NULL OR expires_at > $2)",
                &[&key_sha256, &now],
            )?;
            Ok(row
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?
                .map(|s| s.split_whitespace().map(String::from).collect()))
        })
    }

    fn api_key_label(&self, key_sha256: &str) -> Result<Option<Option<String>>> {
        self.read(|c| {
            let row = c.query_opt(&pg(API_KEY_LABEL), &[&key_sha256])?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn transition_tip(&self, id: &str, t: &TipTransition) -> Result<bool> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(&pg(TIP_SET_STATUS), &[&id, &t.status, &t.now])?;
            if n == 0 {
                return Ok(false);
            }
            if t.clear_items {
                tx.execute(&pg(TIP_CLEAR_ITEMS), &[&id])?;
            }
            if !t.publish.is_empty() {
                let publish = tx.prepare(&pg(FEED_PUBLISH))?;
                for h in &t.publish {
                    tx.execute(&publish, &[&id, &h.signal_type, &h.hash_value, &t.now])?;
                }
            }
            if let Some(status) = t.retract {
                tx.execute(&pg(FEED_RETRACT), &[&id, &status.as_str(), &t.now])?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn feed_page(&self, after: &FeedCursor, limit: usize) -> Result<(Vec<FeedRow>, Vec<Feedback>)> {
        let limit = limit as i64;
        self.read(|c| {
            // One snapshot for the records and their feedback.
            let mut tx = snapshot(c)?;
            let p: [&(dyn postgres::types::ToSql + Sync); 4] = [
                &after.last_mod,
                &after.signal_type,
                &after.hash_value,
                &limit,
            ];
            let rows = tx
                .query(&pg(FEED_PAGE), &p)?
                .iter()
                .map(read::feed_row)
                .collect::<Result<Vec<_>>>()?;
            let feedback = tx
                .query(&pg(FEED_PAGE_FEEDBACK), &p)?
                .iter()
                .map(read::feedback)
                .collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok((rows, feedback))
        })
    }

    fn put_feedback(&self, feedback: &[Feedback], published_only: bool) -> Result<usize> {
        let sql = pg(if published_only {
            PUT_FEEDBACK_PUBLISHED
        } else {
            PUT_FEEDBACK
        });
        self.write(|c| {
            let mut tx = c.transaction()?;
            let put = tx.prepare(&sql)?;
            let touch = tx.prepare(&pg(FEED_TOUCH))?;
            let mut stored = 0;
            for f in feedback {
                let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
                stored += tx.execute(
                    &put,
                    &[&f.hash_value, &f.platform, &f.value, &tags, &f.updated_at],
                )? as usize;
                tx.execute(&touch, &[&f.hash_value, &f.updated_at])?;
            }
            tx.commit()?;
            Ok(stored)
        })
    }

    fn tip_feedback(&self, tip_id: &str) -> Result<Vec<Feedback>> {
        self.read(|c| {
            c.query(&pg(TIP_FEEDBACK), &[&tip_id])?
                .iter()
                .map(read::feedback)
                .collect()
        })
    }

    fn set_source(&self, bank: &str, config: Option<&str>, reset: bool) -> Result<()> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            match config {
                None => {
                    tx.execute(&pg(source_sql::REMOVE), &[&bank])?;
                }
                Some(config) => {
                    tx.execute(&pg(source_sql::INSERT), &[&bank, &config])?;
                    if reset {
                        tx.execute(&pg(source_sql::RESET), &[&bank])?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn list_sources(&self) -> Result<Vec<SourceRow>> {
        self.read(|c| {
            c.query(&pg(source_sql::LIST), &[])?
                .iter()
                .map(read::source)
                .collect()
        })
    }

    fn purge(&self, before: i64) -> Result<Purged> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            let purged = Purged {
                tips: tx.execute(&pg(PURGE_TIPS), &[&before])?,
                feed_hashes: tx.execute(&pg(PURGE_FEED), &[&before])?,
                feedback: tx.execute(&pg(PURGE_FEEDBACK), &[&before])?,
            };
            tx.commit()?;
            Ok(purged)
        })
    }

    fn claim_source(&self, bank: &str, now: i64, lease_until: i64) -> Result<bool> {
        self.write(|c| Ok(c.execute(&pg(source_sql::CLAIM), &[&bank, &now, &lease_until])? > 0))
    }

    fn apply_source_page(&self, bank: &str, page: &SourcePage) -> Result<PageApplied> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
            let mut applied = PageApplied::default();
            let find = tx.prepare(&pg(source_sql::FIND))?;
            let delete = tx.prepare(&pg(source_sql::DELETE))?;
            let add = tx.prepare(&format!("{} RETURNING id", pg(source_sql::ADD)))?;
            for (key, new) in page_keys(page) {
                let stored = tx
                    .query(&find, &[&bank, &key])?
                    .iter()
                    .map(read::keyed_entry)
                    .collect::<Result<Vec<_>>>()?;
                if let (Some(e), [one]) = (new, stored.as_slice()) {
                    if same_entry(one, e) {
                        applied.unchanged += 1;
                        continue;
                    }
                }
                for (id, ..) in &stored {
                    tx.execute(&delete, &[id])?;
                    log_changes(&mut tx, "del", &[*id])?;
                    applied.removed += 1;
                }
                if let Some(e) = new {
                    let id: i64 = tx
                        .query_one(
                            &add,
                            &[&bank, &e.algorithm.name(), &e.hash, &e.key, &e.source],
                        )?
                        .try_get(0)?;
                    log_changes(&mut tx, "add", &[id])?;
                    applied.added += 1;
                }
            }
            tx.execute(
                &pg(source_sql::PROGRESS),
                &[
                    &bank,
                    &page.checkpoint,
                    &page.now,
                    &page.lease_until,
                    &(applied.added as i64),
                    &(applied.removed as i64),
                    &(page.skipped as i64),
                ],
            )?;
            tx.commit()?;
            Ok(applied)
        })
    }

    fn source_failed(&self, bank: &str, f: &SourceFailure) -> Result<()> {
        self.write(|c| {
            c.execute(
                &pg(source_sql::FAILED),
                &[&bank, &f.error, &f.at, &f.next_attempt, &f.failures],
            )?;
            Ok(())
        })
    }

    fn set_entry_enabled(
        &self,
        bank: &str,
        id: i64,
        enabled: bool,
        now: i64,
    ) -> Result<Option<bool>> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM entries WHERE id = $1 AND bank = $2",
                    &[&id, &bank],
                )?
                .is_some();
            if !exists {
                return Ok(None);
            }
            let changed = if enabled {
                tx.execute("DELETE FROM disabled_entries WHERE entry_id = $1", &[&id])?
            } else {
                tx.execute(
                    "INSERT INTO disabled_entries (entry_id, disabled_at) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&id, &now],
                )?
            } > 0;
            if changed {
                log_changes(&mut tx, if enabled { "on" } else { "off" }, &[id])?;
            }
            tx.commit()?;
            Ok(Some(changed))
        })
    }

    fn disabled_entries(&self, bank: &str) -> Result<Vec<i64>> {
        self.read(|c| {
            c.query(
                "SELECT d.entry_id FROM disabled_entries d JOIN entries e ON e.id = d.entry_id
                 WHERE e.bank = $1 ORDER BY d.entry_id",
                &[&bank],
            )?
            .iter()
            .map(|r| r.int(0))
            .collect()
        })
    }

    fn create_webhook(&self, w: &Webhook) -> Result<()> {
        let events = w.events.join(" ");
        self.write(|c| {
            c.execute(
                &format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                &[&w.id, &w.bank, &w.url, &w.secret, &events, &w.created_at],
            )?;
            Ok(())
        })
    }

    fn schedule_source(&self, bank: &str, next_attempt: i64) -> Result<()> {
        self.write(|c| {
            c.execute(&pg(source_sql::SCHEDULE), &[&bank, &next_attempt])?;
            Ok(())
        })
    }

    fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        self.read(|c| {
            c.query(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"),
                &[],
            )?
            .iter()
            .map(read::webhook)
            .collect()
        })
    }

    fn delete_webhook(&self, id: &str) -> Result<bool> {
        self.write(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute("DELETE FROM webhooks WHERE id = $1", &[&id])?;
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending'",
                &[&id],
            )?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<()> {
        let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
        let hooks: Vec<&str> = deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
        let created: Vec<i64> = deliveries.iter().map(|d| d.created_at).collect();
        let payloads: Vec<&str> = deliveries.iter().map(|d| d.payload.as_str()).collect();
        self.write(|c| {
            c.execute(
                &format!(
                    "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
                     SELECT id, webhook_id, 'pending', 0, 0, NULL, created_at, payload
                     FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[])
                          AS t(id, webhook_id, created_at, payload)"
                ),
                &[&ids, &hooks, &created, &payloads],
            )?;
            Ok(())
        })
    }

    fn entry_sources(&self, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT id, source FROM entries WHERE id = ANY($1) AND source IS NOT NULL",
                &[&ids],
            )?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        self.write(|c| {
            // SKIP LOCKED: processes claiming at once take different rows.
            let rows = c.query(
                "WITH claimed AS (
                     UPDATE webhook_deliveries SET next_attempt_ms = $2
                     WHERE id IN (SELECT id FROM webhook_deliveries
                                  WHERE status = 'pending' AND next_attempt_ms <= $1
                                  ORDER BY next_attempt_ms, id LIMIT $3
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING id, webhook_id, payload, attempts)
                 SELECT c.id, w.url, w.secret, c.payload, c.attempts
                 FROM claimed c JOIN webhooks w ON w.id = c.webhook_id",
                &[&now_ms, &lease_until_ms, &(limit as i64)],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(DueDelivery {
                        id: r.text(0)?,
                        url: r.text(1)?,
                        secret: r.text(2)?,
                        payload: r.text(3)?,
                        attempts: r.int(4)?,
                    })
                })
                .collect()
        })
    }

    fn record_delivery(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()> {
        let (status, next, error) = outcome.columns();
        self.write(|c| {
            c.execute(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_ms = $4,
                 last_error = $5 WHERE id = $1",
                &[&id, &status, &attempts, &next, &error],
            )?;
            Ok(())
        })
    }

    fn enqueue_feedback(&self, f: &FeedbackRecord) -> Result<()> {
        self.write(|c| {
            c.execute(
                &format!(
                    "INSERT INTO source_feedback ({FEEDBACK_COLUMNS})
                     VALUES ($1, $2, $3, $4, 'pending', 0, 0, NULL, $5)"
                ),
                &[&f.id, &f.bank, &f.entry_id, &f.payload, &f.created_at],
            )?;
            Ok(())
        })
    }

    fn claim_feedback(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<FeedbackRecord>> {
        self.write(|c| {
            // SKIP LOCKED: processes claiming at once take different rows.
            c.query(
                &format!(
                    "UPDATE source_feedback SET next_attempt_ms = $2
                     WHERE id IN (SELECT id FROM source_feedback
                                  WHERE status = 'pending' AND next_attempt_ms <= $1
                                  ORDER BY next_attempt_ms, id LIMIT $3
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING {FEEDBACK_COLUMNS}"
                ),
                &[&now_ms, &lease_until_ms, &(limit as i64)],
            )?
            .iter()
            .map(read::source_feedback)
            .collect()
        })
    }

    fn record_feedback(&self, id: &str, attempts: i64, outcome: &DeliveryOutcome) -> Result<()> {
        let (status, next, error) = outcome.columns();
        self.write(|c| {
            c.execute(
                "UPDATE source_feedback SET status = $2, attempts = $3, next_attempt_ms = $4,
                 last_error = $5 WHERE id = $1",
                &[&id, &status, &attempts, &next, &error],
            )?;
            Ok(())
        })
    }

    fn list_feedback(&self, bank: &str, limit: usize) -> Result<Vec<FeedbackRecord>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {FEEDBACK_COLUMNS} FROM source_feedback WHERE bank = $1
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ),
                &[&bank, &(limit as i64)],
            )?
            .iter()
            .map(read::source_feedback)
            .collect()
        })
    }

    fn list_deliveries(&self, status: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        self.read(|c| {
            c.query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = $1
                     ORDER BY created_at, id LIMIT $2"
                ),
                &[&status, &(limit as i64)],
            )?
            .iter()
            .map(read::delivery)
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChangeOp;
    use pixelprint::Algorithm;
    use std::time::Duration;

    /// The database the PostgreSQL test run points at (`PIXELPRINT_TEST_DATABASE_URL`); in CI
    /// its absence is a failure, elsewhere the test says it did not run.
    fn test_url() -> Option<String> {
        let url = std::env::var("PIXELPRINT_TEST_DATABASE_URL").ok();
        if url.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL tests (scripts/test.sh sets PIXELPRINT_TEST_DATABASE_URL)"
            );
            eprintln!("PIXELPRINT_TEST_DATABASE_URL is not set: PostgreSQL storage test not run");
        }
        url
    }

    /// A fresh database for one test, dropped at the end.
    struct Scratch {
        admin: Client,
        name: String,
        url: String,
    }

    impl Scratch {
        fn new(base: &str, tag: &str) -> Scratch {
            let mut admin = Client::connect(base, NoTls).expect("connect");
            let name = format!("pixelprint_unit_{tag}_{}", std::process::id());
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                admin.batch_execute(&sql).expect("create database");
            }
            let (prefix, _) = base.rsplit_once('/').expect("URL ends with /DATABASE");
            let url = format!("{prefix}/{name}");
            Scratch { admin, name, url }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = self.admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }

    /// A transaction of `holder` that holds the change-log lock until it ends.
    fn lock_log(holder: &mut Client) -> postgres::Transaction<'_> {
        let mut tx = holder.transaction().unwrap();
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])
            .unwrap();
        tx
    }

    fn entry(hash: &str) -> NewEntry {
        NewEntry {
            algorithm: Algorithm::Md5,
            hash: hash.to_string(),
            metadata: None,
        }
    }

    /// A database made before banks had settings gets the column when opened.
    #[test]
    fn an_older_database_gains_the_added_columns_and_keeps_its_keys() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "addcol");
        Client::connect(&scratch.url, NoTls)
            .unwrap()
            .batch_execute(crate::storage::tests::OLD_BANKS)
            .unwrap();
        crate::storage::tests::check_added_columns(|| Postgres::open(&scratch.url, 2).unwrap());
    }

    /// A writer that holds the change-log lock keeps every other writer out until it commits,
    /// so sequence numbers become visible in order.
    #[test]
    fn change_log_writers_wait_for_the_log_lock() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "loglock");
        let store = std::sync::Arc::new(Postgres::open(&scratch.url, 2).unwrap());
        store.create_bank("b", None).unwrap();

        let mut holder = Client::connect(&scratch.url, NoTls).unwrap();
        let tx = lock_log(&mut holder);
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || store.add_entries("b", &[entry(&"a".repeat(32))]))
        };
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !writer.is_finished(),
            "add_entries did not wait for the log lock"
        );
        tx.commit().unwrap();
        let ids = writer.join().unwrap().unwrap();
        assert_eq!(ids.len(), 1);

        // Deletions take the same lock.
        let tx = lock_log(&mut holder);
        let deleter = {
            let store = store.clone();
            std::thread::spawn(move || store.delete_entry("b", ids[0]))
        };
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !deleter.is_finished(),
            "delete_entry did not wait for the log lock"
        );
        tx.commit().unwrap();
        assert!(deleter.join().unwrap().unwrap());
        let changes = store.changes_since(0, 10).unwrap();
        assert_eq!(changes.len(), 2);
        assert!(changes[0].seq < changes[1].seq);
    }

    /// A writer waiting for the change-log lock (as an import does behind another process's)
    /// holds the writer connection; reads go to the read-only connections and answer
    /// meanwhile, and a reader refuses a write.
    #[test]
    fn reads_answer_while_a_writer_waits_for_the_log_lock() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "readers");
        let store = std::sync::Arc::new(Postgres::open(&scratch.url, 2).unwrap());
        store.create_bank("b", Some("kept")).unwrap();

        let mut holder = Client::connect(&scratch.url, NoTls).unwrap();
        let mut tx = lock_log(&mut holder);
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || store.add_entries("b", &[entry(&"c".repeat(32))]))
        };
        // The writer is inside its transaction, waiting for the lock.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while tx
            .query_one(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never waited"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Reads on other threads, so that a read stuck behind the writer fails the test
        // instead of hanging it.
        let reads = {
            let store = store.clone();
            std::thread::spawn(move || {
                let banks = store.list_banks().unwrap();
                let exists = store.bank_exists("b").unwrap();
                let (entries, seq) = store.load_entries().unwrap();
                (banks, exists, entries.len(), seq)
            })
        };
        let read_deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !reads.is_finished() && std::time::Instant::now() < read_deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let answered = reads.is_finished();
        let writer_waited = !writer.is_finished();
        tx.commit().unwrap();
        assert!(answered, "reads waited for the writer");
        assert!(writer_waited, "the writer did not wait for the log lock");
        let (banks, exists, entries, seq) = reads.join().unwrap();
        assert_eq!(banks.len(), 1);
        assert_eq!(banks[0].description.as_deref(), Some("kept"));
        assert!(exists);
        assert_eq!((entries, seq), (0, 0));
        assert_eq!(writer.join().unwrap().unwrap().len(), 1);
        assert_eq!(store.load_entries().unwrap().0.len(), 1);

        let refused = store.read(|c| Ok(c.execute("DELETE FROM banks", &[])?));
        assert!(
            matches!(&refused, Err(StorageError::Backend(m)) if m.contains("read-only")),
            "{refused:?}"
        );
    }

    /// Ids come back in the order of the entries, across insert chunks, and the log holds one
    /// row per entry in the same order.
    #[test]
    fn bulk_adds_return_ids_in_order_and_log_every_entry() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "bulk");
        let store = Postgres::open(&scratch.url, 2).unwrap();
        store.create_bank("b", None).unwrap();
        let n = INSERT_CHUNK * 2 + 7;
        let entries: Vec<NewEntry> = (0..n).map(|i| entry(&format!("{i:032x}"))).collect();
        let ids = store.add_entries("b", &entries).unwrap();
        assert_eq!(ids.len(), n);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let exported = store.export_entries("b", 0, usize::MAX).unwrap();
        for (e, (id, want)) in exported.iter().zip(ids.iter().zip(&entries)) {
            assert_eq!((e.id, &e.hash), (*id, &want.hash));
        }
        let (loaded, seq) = store.load_entries().unwrap();
        assert_eq!(loaded.len(), n);
        let changes = store.changes_since(0, n + 1).unwrap();
        assert_eq!(changes.len(), n);
        assert_eq!(changes.last().unwrap().seq, seq);
        let logged: Vec<i64> = changes
            .iter()
            .map(|c| match &c.op {
                Some(ChangeOp::Add(e)) => e.id,
                other => panic!("unexpected change {other:?}"),
            })
            .collect();
        assert_eq!(logged, ids);
    }
}
