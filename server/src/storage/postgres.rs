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
//! One connection behind a mutex, reopened when it breaks. Storage is off the matching path (the
//! index lives in memory), so the mutex only orders admin writes, tips and the log poll.
//! Connections are made without TLS: point the URL at a local socket, loopback or a private
//! network.

use std::sync::{Mutex, MutexGuard};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row};

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

pub struct Postgres {
    config: postgres::Config,
    client: Mutex<Option<Client>>,
}

impl Postgres {
    /// Connects and creates the tables if they are missing. Blocks: call it off async threads.
    pub fn open(url: &str) -> Result<Self> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Backend(format!("invalid database URL: {e}")))?;
        let pg = Postgres {
            config,
            client: Mutex::new(None),
        };
        pg.with(|c| {
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
            tx.commit()?;
            Ok(())
        })?;
        Ok(pg)
    }

    /// Runs `f` on the connection, connecting first if there is none or it broke.
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut guard: MutexGuard<'_, Option<Client>> =
            self.client.lock().unwrap_or_else(|e| e.into_inner());
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
}

impl Columns for Row {
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
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

impl Storage for Postgres {
    fn load_entries(&self) -> Result<(Vec<StoredEntry>, i64)> {
        self.with(|c| {
            // One snapshot for the checkpoint and the rows it covers.
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
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
        self.with(|c| {
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
        self.with(|c| {
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
        self.with(|c| {
            let rows = c.query(LIST_BANKS, &[])?;
            rows.iter().map(read::bank).collect()
        })
    }

    fn bank_settings(&self) -> Result<HashMap<String, BankSettings>> {
        self.with(|c| {
            c.query(BANK_SETTINGS, &[])?
                .iter()
                .map(read::bank_settings)
                .collect()
        })
    }

    fn set_bank_settings(&self, name: &str, settings: Option<&str>) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE banks SET settings = $2 WHERE name = $1",
                &[&name, &settings],
            )?;
            Ok(n > 0)
        })
    }

    fn bank_exists(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT 1 FROM banks WHERE name = $1", &[&name])?
                    .is_some(),
            )
        })
    }

    fn add_entries(&self, bank: &str, entries: &[NewEntry]) -> Result<Vec<i64>> {
        self.with(|c| {
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
        self.with(|c| {
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

    fn export_entries(&self, bank: &str) -> Result<Vec<StoredEntry>> {
        self.with(|c| {
            c.query(
                "SELECT id, bank, algorithm, hash, metadata FROM entries
                 WHERE bank = $1 ORDER BY id",
                &[&bank],
            )?
            .iter()
            .map(read::entry)
            .collect()
        })
    }

    fn insert_tip(&self, t: &TipRecord) -> Result<()> {
        let urls = serde_json::to_string(&t.urls).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
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
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {TIP_COLUMNS} FROM tips WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(read::tip)
            .transpose()
        })
    }

    fn list_tips(&self, status: Option<&str>) -> Result<Vec<TipRecord>> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {TIP_COLUMNS} FROM tips
                     WHERE $1::TEXT IS NULL OR status = $1 ORDER BY created_at, id"
                ),
                &[&status],
            )?
            .iter()
            .map(read::tip)
            .collect()
        })
    }

    fn set_tip_status(&self, id: &str, status: &str, now: i64) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE tips SET status = $2, updated_at = $3 WHERE id = $1",
                &[&id, &status, &now],
            )?;
            Ok(n > 0)
        })
    }

    fn put_api_key(
        &self,
        key_sha256: &str,
        scopes: &[String],
        label: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let scopes = scopes.join(" ");
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (key_sha256, scopes, label, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&key_sha256, &scopes, &label, &now],
            )?;
            Ok(())
        })
    }

    fn api_key_scopes(&self, key_sha256: &str) -> Result<Option<Vec<String>>> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT scopes FROM api_keys WHERE key_sha256 = $1",
                &[&key_sha256],
            )?;
            Ok(row
                .map(|r| r.try_get::<_, String>(0))
                .transpose()?
                .map(|s| s.split_whitespace().map(String::from).collect()))
        })
    }

    fn set_entry_enabled(
        &self,
        bank: &str,
        id: i64,
        enabled: bool,
        now: i64,
    ) -> Result<Option<bool>> {
        self.with(|c| {
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
        self.with(|c| {
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
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                &[&w.id, &w.bank, &w.url, &w.secret, &events, &w.created_at],
            )?;
            Ok(())
        })
    }

    fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        self.with(|c| {
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
        self.with(|c| {
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
        self.with(|c| {
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

    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        self.with(|c| {
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
        self.with(|c| {
            c.execute(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_ms = $4,
                 last_error = $5 WHERE id = $1",
                &[&id, &status, &attempts, &next, &error],
            )?;
            Ok(())
        })
    }

    fn list_deliveries(&self, status: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        self.with(|c| {
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

    fn entry(hash: &str) -> NewEntry {
        NewEntry {
            algorithm: Algorithm::Md5,
            hash: hash.to_string(),
            metadata: None,
        }
    }

    /// A database made before banks had settings gets the column when opened.
    #[test]
    fn an_older_database_gains_the_settings_column() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "addcol");
        Client::connect(&scratch.url, NoTls)
            .unwrap()
            .batch_execute(crate::storage::tests::OLD_BANKS)
            .unwrap();
        crate::storage::tests::check_added_columns(|| Postgres::open(&scratch.url).unwrap());
    }

    /// A writer that holds the change-log lock keeps every other writer out until it commits,
    /// so sequence numbers become visible in order.
    #[test]
    fn change_log_writers_wait_for_the_log_lock() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "loglock");
        let store = std::sync::Arc::new(Postgres::open(&scratch.url).unwrap());
        store.create_bank("b", None).unwrap();

        let mut holder = Client::connect(&scratch.url, NoTls).unwrap();
        let mut tx = holder.transaction().unwrap();
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])
            .unwrap();
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
        let mut tx = holder.transaction().unwrap();
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])
            .unwrap();
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

    /// Ids come back in the order of the entries, across insert chunks, and the log holds one
    /// row per entry in the same order.
    #[test]
    fn bulk_adds_return_ids_in_order_and_log_every_entry() {
        let Some(base) = test_url() else { return };
        let scratch = Scratch::new(&base, "bulk");
        let store = Postgres::open(&scratch.url).unwrap();
        store.create_bank("b", None).unwrap();
        let n = INSERT_CHUNK * 2 + 7;
        let entries: Vec<NewEntry> = (0..n).map(|i| entry(&format!("{i:032x}"))).collect();
        let ids = store.add_entries("b", &entries).unwrap();
        assert_eq!(ids.len(), n);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let exported = store.export_entries("b").unwrap();
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
