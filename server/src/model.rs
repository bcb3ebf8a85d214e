//! The algorithms banks hold (a subset of the registry's), and the records the server stores.

use std::collections::BTreeMap;

use pixelprint::hash::HashValue;
use pixelprint::video::{parse_vpdq_text, write_vpdq_text, VpdqFeature};
use pixelprint::Algorithm;

/// The algorithms a bank holds entries of, in the order the API lists them (metrics, messages):
/// the registry's PDQ, its 64-bit imagehash defaults, its default digests and vPDQ.
pub const BANK_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::Pdq,
    Algorithm::PHash,
    Algorithm::DHash,
    Algorithm::AHash,
    Algorithm::Md5,
    Algorithm::Sha256,
    Algorithm::Vpdq,
];

/// Whether banks hold entries of `a`.
pub fn is_bank_algorithm(a: Algorithm) -> bool {
    BANK_ALGORITHMS.contains(&a)
}

/// A bank algorithm by its exact registry name (`pdq`, `phash`, ..., `vpdq`).
pub fn bank_algorithm(name: &str) -> Option<Algorithm> {
    BANK_ALGORITHMS.into_iter().find(|a| a.name() == name)
}

/// The names of the bank algorithms, comma-separated, for messages.
pub fn bank_algorithm_names() -> String {
    BANK_ALGORITHMS.map(Algorithm::name).join(", ")
}

/// Most frames a stored vPDQ hash may hold (a day of video at one hash a second; imports
/// carry them, up to `--import-limit`).
pub const MAX_VPDQ_FRAMES: usize = 86_400;

/// Most frames of a vPDQ query item: what the default 1 MiB body holds (a frame is about 130
/// bytes of JSON), two hours and a quarter at one hash a second.
pub const MAX_QUERY_VPDQ_FRAMES: usize = 8_000;

/// Parses a vPDQ hash in the reference text format (`frameNumber,quality,pdqHex,timestamp`
/// per line) within [`MAX_VPDQ_FRAMES`].
pub fn parse_vpdq(text: &str) -> Result<Vec<VpdqFeature>, String> {
    let features = parse_vpdq_text(text).map_err(|e| e.to_string())?;
    if features.is_empty() {
        return Err("a vpdq hash has at least one frame".into());
    }
    if features.len() > MAX_VPDQ_FRAMES {
        return Err(format!(
            "a vpdq hash has at most {MAX_VPDQ_FRAMES} frames, found {}",
            features.len()
        ));
    }
    Ok(features)
}

/// Checks `text` as a hash of `algorithm` and returns its stored form: lower-case hex, or for
/// vPDQ (text in the reference format) its canonical text.
pub fn canonical_hash(algorithm: Algorithm, text: &str) -> Result<String, String> {
    if algorithm == Algorithm::Vpdq {
        return parse_vpdq(text).map(|f| write_vpdq_text(&f));
    }
    HashValue::from_hex(algorithm, text)
        .map(|v| v.to_hex())
        .map_err(|e| e.to_string())
}

/// An entry to add to a bank (hash already normalised).
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub algorithm: Algorithm,
    pub hash: String,
    pub metadata: Option<String>,
}

/// An entry as stored.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    pub id: i64,
    pub bank: String,
    pub algorithm: Algorithm,
    pub hash: String,
    pub metadata: Option<String>,
}

/// A bank as stored: its entry count and its operator's settings.
#[derive(Clone, Debug)]
pub struct Bank {
    pub description: Option<String>,
    pub entries: u64,
    pub name: String,
    pub settings: BankSettings,
}

/// What a bank's operator set (`PATCH /v1/banks/{name}`), stored as JSON in the bank's row:
/// thresholds and whether an algorithm is matched, by registry key, and the bank's controls
/// (docs/bank-controls.md). What is not set follows the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankSettings {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matching: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BankMode::is_active")]
    pub mode: BankMode,
    /// A bank of known false positives: an item that matches one of its entries has its
    /// matches in the other banks suppressed; its own hits are never matches.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
}

/// Whether a bank takes part in matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BankMode {
    /// Matches are answered (and delivered to the bank's webhooks).
    #[default]
    Active,
    /// Matches are searched and counted (`pixelprint_shadow_matches_total{bank}`), shown to
    /// keyed callers only when they ask (`"include_shadow": true`, flagged `"shadow": true`),
    /// and never answered to anonymous callers nor delivered to webhooks.
    Shadow,
    /// The bank matches nothing.
    Disabled,
}

impl BankMode {
    pub fn is_active(&self) -> bool {
        *self == BankMode::Active
    }

    pub fn name(self) -> &'static str {
        match self {
            BankMode::Active => "active",
            BankMode::Shadow => "shadow",
            BankMode::Disabled => "disabled",
        }
    }
}

impl BankSettings {
    /// The stored text (`None` when nothing is set); unreadable text reads as no settings.
    pub fn from_stored(text: Option<&str>) -> BankSettings {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    pub fn to_stored(&self) -> Option<String> {
        (*self != BankSettings::default())
            .then(|| serde_json::to_string(self).expect("maps of strings and numbers"))
    }

    /// The threshold the operator set for `a`, if any.
    pub fn threshold(&self, a: Algorithm) -> Option<u32> {
        self.thresholds.get(a.key()).copied()
    }

    /// Whether the bank matches by `a`: the operator's choice, else the registry's.
    pub fn matches_by(&self, a: Algorithm) -> bool {
        self.matching
            .get(a.key())
            .copied()
            .unwrap_or(a.matched_by_default())
    }
}

/// A match webhook: where a bank's matches are delivered, signed with its secret.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: String,
    pub bank: String,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: i64,
}

/// A delivery to queue (payload: the JSON body, `docs/bank-controls.md`).
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: String,
    pub webhook_id: String,
    pub payload: String,
    pub created_at: i64,
}

/// A delivery claimed for an attempt, with where it goes and what signs it.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// A delivery as stored.
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub payload: String,
}

/// Feedback on a synced entry, as stored for its exchange (`crate::sources::feedback`): the
/// payload says what is sent where; status `pending`, `delivered` or `dead`.
#[derive(Clone, Debug)]
pub struct FeedbackRecord {
    pub id: String,
    pub bank: String,
    pub entry_id: i64,
    pub payload: String,
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// A tip as stored: the receipt token only as its SHA-256.
#[derive(Clone, Debug)]
pub struct TipRecord {
    pub id: String,
    pub token_sha256: String,
    pub status: String,
    pub category: String,
    pub description: Option<String>,
    pub urls: Vec<String>,
    pub contact: Option<String>,
    /// The items as received (JSON array text).
    pub items_json: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An API key as stored: only its SHA-256. Times are Unix seconds.
#[derive(Clone, Debug)]
pub struct ApiKeyRecord {
    pub key_sha256: String,
    pub scopes: Vec<String>,
    pub label: Option<String>,
    pub created_at: i64,
    /// When it stops being accepted, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl ApiKeyRecord {
    /// The key's public name: the first 16 hex digits of its SHA-256 (neither the key nor a
    /// digest to test guesses against).
    pub fn id(&self) -> &str {
        &self.key_sha256[..self.key_sha256.len().min(API_KEY_ID_LEN)]
    }
}

/// Hex digits of a key's SHA-256 that name it in `/v1/keys`.
pub const API_KEY_ID_LEN: usize = 16;

/// One row of the change log that every replica follows.
#[derive(Clone, Debug)]
pub struct Change {
    pub seq: i64,
    /// `None` for an addition whose entry was deleted since (a later removal follows).
    pub op: Option<ChangeOp>,
}

#[derive(Clone, Debug)]
pub enum ChangeOp {
    Add(StoredEntry),
    Remove(i64),
}

/// The statuses a tip may have. A reporter's tip starts `received`; a reviewer moves it to
/// `in_review`, `accepted` (its hashes go into the exchange feed) or `rejected`; its reporter may
/// withdraw it (`withdrawn`); an administrator may close it (`closed`).
pub const TIP_STATUSES: [&str; 6] = [
    "received",
    "in_review",
    "accepted",
    "rejected",
    "withdrawn",
    "closed",
];

/// The case number a reporter and the exchange's consumers see for a tip: a short, readable
/// form of its id (which is random, so the prefix is too).
pub fn case_number(tip_id: &str) -> String {
    let head: String = tip_id.chars().take(12).collect::<String>().to_uppercase();
    let groups: Vec<&str> = head
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!("PP-{}", groups.join("-"))
}

/// What the exchange feed says of a published hash of a tip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedStatus {
    /// The tip is accepted: consumers hold the hash.
    Active,
    /// The reporter withdrew the tip: consumers delete the hash.
    Withdrawn,
    /// A reviewer or administrator took the tip back: consumers delete the hash.
    Deleted,
}

impl FeedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Active => "Active",
            FeedStatus::Withdrawn => "Withdrawn",
            FeedStatus::Deleted => "Deleted",
        }
    }

    pub fn from_stored(s: &str) -> Option<FeedStatus> {
        [
            FeedStatus::Active,
            FeedStatus::Withdrawn,
            FeedStatus::Deleted,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A hash as the exchange feed carries it: the exchange's signal type name and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedHash {
    pub signal_type: &'static str,
    pub hash_value: String,
}

/// A change of a tip's status and what it does to the feed and the stored hashes.
#[derive(Clone, Debug)]
pub struct TipTransition {
    pub status: &'static str,
    pub now: i64,
    /// Hashes to publish (or publish again) as `Active`: the tip is accepted.
    pub publish: Vec<FeedHash>,
    /// The status the tip's `Active` hashes take otherwise.
    pub retract: Option<FeedStatus>,
    /// Delete the items stored with the tip (a withdrawal).
    pub clear_items: bool,
}

/// Where a page of the feed starts: after the record `(last_mod, signal_type, hash_value)`, in
/// that order. The start of a fetch from a timestamp `t` is `(t, "", "")`: every record changed
/// at or after `t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedCursor {
    pub last_mod: i64,
    pub signal_type: String,
    pub hash_value: String,
}

/// One case of a feed record: a tip that published the hash, and its status.
#[derive(Clone, Debug)]
pub struct FeedRow {
    pub last_mod: i64,
    pub signal_type: String,
    pub hash_value: String,
    pub tip_id: String,
    pub status: String,
}

/// A platform's feedback on a hash.
#[derive(Clone, Debug)]
pub struct Feedback {
    pub hash_value: String,
    pub platform: String,
    pub value: String,
    pub tags: Vec<String>,
    pub updated_at: i64,
}

/// What a retention pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Closed tips whose hashes and free text were deleted.
    pub tips: u64,
    /// Withdrawn or deleted feed records removed.
    pub feed_hashes: u64,
    /// Feedback on hashes no longer in the feed.
    pub feedback: u64,
}

/// An entry as an exchange gave it: its identity there (`key`, unique within the bank, e.g.
/// `ImagePDQ:<hash>`), its hash, and what the match results of keyed callers name
/// (`source`: [`EntrySource`] as JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedEntry {
    pub key: String,
    pub algorithm: Algorithm,
    pub hash: String,
    pub source: String,
}

/// Where a synced entry comes from, as keyed match results show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EntrySource {
    /// The exchange (`stopncii`, `tat`, ...).
    pub exchange: String,
    /// The entry's id at the exchange.
    pub id: String,
    /// The exchange's tags (labels, ideologies, feedback tags), sorted.
    #[serde(default)]
    pub tags: Vec<String>,
    /// ThreatExchange: the ids of the indicator's descriptors, which reviewers' reactions go to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<String>,
}

/// One fetched page of a bank's source, written in one transaction with its checkpoint: the
/// entries added or replaced, the keys withdrawn, the records skipped as malformed.
#[derive(Clone, Debug, Default)]
pub struct SourcePage {
    pub upserts: Vec<SourcedEntry>,
    pub deletions: Vec<String>,
    pub skipped: u64,
    /// Where the next fetch starts (the exchange's own cursor, as JSON text).
    pub checkpoint: Option<String>,
    pub now: i64,
    /// Until when this process holds the source (see `crate::sources`).
    pub lease_until: i64,
}

/// A failed fetch of a bank's source, and when it is tried again (Unix seconds).
#[derive(Clone, Debug)]
pub struct SourceFailure {
    pub error: String,
    pub at: i64,
    pub next_attempt: i64,
    /// Failures in a row, this one included.
    pub failures: i64,
}

/// What writing a page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageApplied {
    pub added: u64,
    pub removed: u64,
    pub unchanged: u64,
}

/// A bank's source as stored: its configuration (JSON, `crate::sources::SourceConfig`) and
/// where its synchronisation stands. Times are Unix seconds.
#[derive(Clone, Debug)]
pub struct SourceRow {
    pub bank: String,
    pub config: String,
    pub checkpoint: Option<String>,
    pub last_success: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub next_attempt: i64,
    pub failures: i64,
    pub added: i64,
    pub removed: i64,
    pub skipped: i64,
}
