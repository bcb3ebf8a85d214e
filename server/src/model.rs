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
/// thresholds and whether an algorithm is matched, by registry key. What is not set follows
/// the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankSettings {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matching: BTreeMap<String, bool>,
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
