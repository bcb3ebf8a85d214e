//! The kinds of hash the server matches, and the records it stores.

use pixelprint::video::{parse_vpdq_text, write_vpdq_text, VpdqFeature};

/// An algorithm the server keeps an index (or a digest table) for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Pdq,
    PHash,
    DHash,
    AHash,
    Md5,
    Sha256,
    /// A video's vPDQ: its frame features, stored in the reference text format.
    Vpdq,
}

impl Algorithm {
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Pdq,
        Algorithm::PHash,
        Algorithm::DHash,
        Algorithm::AHash,
        Algorithm::Md5,
        Algorithm::Sha256,
        Algorithm::Vpdq,
    ];

    /// The name in the API, the CLI's JSON key.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Pdq => "pdq",
            Algorithm::PHash => "phash",
            Algorithm::DHash => "dhash",
            Algorithm::AHash => "ahash",
            Algorithm::Md5 => "md5",
            Algorithm::Sha256 => "sha256",
            Algorithm::Vpdq => "vpdq",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Hex characters of a hash (0 for vPDQ, which is text).
    pub const fn hex_len(self) -> usize {
        match self {
            Algorithm::Pdq | Algorithm::Sha256 => 64,
            Algorithm::PHash | Algorithm::DHash | Algorithm::AHash => 16,
            Algorithm::Md5 => 32,
            Algorithm::Vpdq => 0,
        }
    }

    /// Whether hashes match by exact equality (the digests).
    pub const fn is_digest(self) -> bool {
        matches!(self, Algorithm::Md5 | Algorithm::Sha256)
    }

    /// The server's algorithm for a registry algorithm it keeps entries of.
    pub fn from_registry(a: pixelprint::Algorithm) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|s| s.registry() == a)
    }

    /// The registry's algorithm.
    pub const fn registry(self) -> pixelprint::Algorithm {
        match self {
            Algorithm::Pdq => pixelprint::Algorithm::Pdq,
            Algorithm::PHash => pixelprint::Algorithm::PHash,
            Algorithm::DHash => pixelprint::Algorithm::DHash,
            Algorithm::AHash => pixelprint::Algorithm::AHash,
            Algorithm::Md5 => pixelprint::Algorithm::Md5,
            Algorithm::Sha256 => pixelprint::Algorithm::Sha256,
            Algorithm::Vpdq => pixelprint::Algorithm::Vpdq,
        }
    }
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

/// Checks `hex` as a hash of `algorithm` and returns it in lower case. A vPDQ hash (text in the
/// reference format) comes back in its canonical form.
pub fn normalize_hex(algorithm: Algorithm, hex: &str) -> Result<String, String> {
    if algorithm == Algorithm::Vpdq {
        return parse_vpdq(hex).map(|f| write_vpdq_text(&f));
    }
    let want = algorithm.hex_len();
    if let Some((i, c)) = hex.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "invalid hex character {c:?} at position {i} of the {} hash",
            algorithm.name()
        ));
    }
    if hex.len() != want {
        return Err(format!(
            "a {} hash has {want} hex characters, found {}",
            algorithm.name(),
            hex.len()
        ));
    }
    Ok(hex.to_ascii_lowercase())
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

/// A bank with its entry count, as `GET /v1/banks` lists it (fields in alphabetical order,
/// the order in which the API has always sent them).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Bank {
    pub description: Option<String>,
    pub entries: u64,
    pub name: String,
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
