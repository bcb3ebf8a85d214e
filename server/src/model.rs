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

/// Most frames a stored or queried vPDQ hash may hold (a day of video at one hash a second).
pub const MAX_VPDQ_FRAMES: usize = 86_400;

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
