//! Rows to records, once for both backends: each backend says how it reads a column of its row
//! type ([`Columns`]); the readers here say which column holds what.

use super::{Result, StorageError};
use pixelprint::Algorithm;

use crate::model::{
    bank_algorithm, ApiKeyRecord, Bank, BankSettings, Change, ChangeOp, DeliveryRecord, FeedRow,
    Feedback, FeedbackRecord, SourceRow, StoredEntry, TipRecord, Webhook,
};

/// The columns of `tips`, in the order [`tip`] reads them.
pub(super) const TIP_COLUMNS: &str =
    "id, token_sha256, status, category, description, urls, contact, items, created_at, updated_at";

/// A result row, read by column position.
pub(super) trait Columns {
    fn int(&self, i: usize) -> Result<i64>;
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
}

/// An `api_keys` row read as [`super::LIST_API_KEYS`] selects it.
pub(super) fn api_key(r: &impl Columns) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        key_sha256: r.text(0)?,
        scopes: r.text(1)?.split_whitespace().map(String::from).collect(),
        label: r.opt_text(2)?,
        created_at: r.int(3)?,
        expires_at: r.opt_int(4)?,
        revoked_at: r.opt_int(5)?,
    })
}

fn algorithm(name: &str) -> Result<Algorithm> {
    bank_algorithm(name)
        .ok_or_else(|| StorageError::Backend(format!("unknown algorithm {name:?} in entries")))
}

/// An `entries` row read as `id, bank, algorithm, hash, metadata`.
pub(super) fn entry(r: &impl Columns) -> Result<StoredEntry> {
    Ok(StoredEntry {
        id: r.int(0)?,
        bank: r.text(1)?,
        algorithm: algorithm(&r.text(2)?)?,
        hash: r.text(3)?,
        metadata: r.opt_text(4)?,
    })
}

/// A change-log row joined with its entry: `seq, op, entry_id`, then the entry's
/// `bank, algorithm, hash, metadata` (NULL when the entry is gone).
pub(super) fn change(r: &impl Columns) -> Result<Change> {
    let seq = r.int(0)?;
    let op = r.text(1)?;
    let id = r.int(2)?;
    let op = match (op.as_str(), r.opt_text(3)?) {
        // `off`: the entry was disabled (`on`, re-enabled, reads as an addition).
        ("del" | "off", _) => Some(ChangeOp::Remove(id)),
        (_, Some(bank)) => Some(ChangeOp::Add(StoredEntry {
            id,
            bank,
            algorithm: algorithm(&r.text(4)?)?,
            hash: r.text(5)?,
            metadata: r.opt_text(6)?,
        })),
        (_, None) => None,
    };
    Ok(Change { seq, op })
}

/// A bank row read as `name, description, entry count, settings`.
pub(super) fn bank(r: &impl Columns) -> Result<Bank> {
    Ok(Bank {
        name: r.text(0)?,
        description: r.opt_text(1)?,
        entries: r.int(2)? as u64,
        settings: BankSettings::from_stored(r.opt_text(3)?.as_deref()),
    })
}

/// A bank's settings read as `name, settings`.
pub(super) fn bank_settings(r: &impl Columns) -> Result<(String, BankSettings)> {
    Ok((
        r.text(0)?,
        BankSettings::from_stored(r.opt_text(1)?.as_deref()),
    ))
}

/// A `tips` row read as [`TIP_COLUMNS`].
pub(super) fn tip(r: &impl Columns) -> Result<TipRecord> {
    let urls = r.text(5)?;
    Ok(TipRecord {
        id: r.text(0)?,
        token_sha256: r.text(1)?,
        status: r.text(2)?,
        category: r.text(3)?,
        description: r.opt_text(4)?,
        urls: serde_json::from_str(&urls).unwrap_or_default(),
        contact: r.opt_text(6)?,
        items_json: r.text(7)?,
        created_at: r.int(8)?,
        updated_at: r.int(9)?,
    })
}

/// A row of [`super::FEED_PAGE`]: `last_mod, signal_type, hash_value, tip_id, status`.
pub(super) fn feed_row(r: &impl Columns) -> Result<FeedRow> {
    Ok(FeedRow {
        last_mod: r.int(0)?,
        signal_type: r.text(1)?,
        hash_value: r.text(2)?,
        tip_id: r.text(3)?,
        status: r.text(4)?,
    })
}

/// A feedback row read as `hash_value, platform, value, tags, updated_at`.
pub(super) fn feedback(r: &impl Columns) -> Result<Feedback> {
    Ok(Feedback {
        hash_value: r.text(0)?,
        platform: r.text(1)?,
        value: r.text(2)?,
        tags: serde_json::from_str(&r.text(3)?).unwrap_or_default(),
        updated_at: r.int(4)?,
    })
}

/// A `sources` row read as `super::source_sql::LIST` lists it.
pub(super) fn source(r: &impl Columns) -> Result<SourceRow> {
    Ok(SourceRow {
        bank: r.text(0)?,
        config: r.text(1)?,
        checkpoint: r.opt_text(2)?,
        last_success: r.opt_int(3)?,
        last_error: r.opt_text(4)?,
        last_error_at: r.opt_int(5)?,
        next_attempt: r.int(6)?,
        failures: r.int(7)?,
        added: r.int(8)?,
        removed: r.int(9)?,
        skipped: r.int(10)?,
    })
}

/// An entry found by its source key: `id, algorithm, hash, source`.
pub(super) fn keyed_entry(r: &impl Columns) -> Result<(i64, String, String, Option<String>)> {
    Ok((r.int(0)?, r.text(1)?, r.text(2)?, r.opt_text(3)?))
}

/// A `webhooks` row read as `super::WEBHOOK_COLUMNS`.
pub(super) fn webhook(r: &impl Columns) -> Result<Webhook> {
    Ok(Webhook {
        id: r.text(0)?,
        bank: r.text(1)?,
        url: r.text(2)?,
        secret: r.text(3)?,
        events: r.text(4)?.split_whitespace().map(String::from).collect(),
        created_at: r.int(5)?,
    })
}

/// A `source_feedback` row read as `super::FEEDBACK_COLUMNS`.
pub(super) fn source_feedback(r: &impl Columns) -> Result<FeedbackRecord> {
    Ok(FeedbackRecord {
        id: r.text(0)?,
        bank: r.text(1)?,
        entry_id: r.int(2)?,
        payload: r.text(3)?,
        status: r.text(4)?,
        attempts: r.int(5)?,
        next_attempt_ms: r.int(6)?,
        last_error: r.opt_text(7)?,
        created_at: r.int(8)?,
    })
}

/// A `webhook_deliveries` row read as `super::DELIVERY_COLUMNS`.
pub(super) fn delivery(r: &impl Columns) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.text(0)?,
        webhook_id: r.text(1)?,
        status: r.text(2)?,
        attempts: r.int(3)?,
        next_attempt_ms: r.int(4)?,
        last_error: r.opt_text(5)?,
        created_at: r.int(6)?,
        payload: r.text(7)?,
    })
}
