//! Cryptographic digests of the original file bytes: MD5, SHA-1 and SHA-256, as lower-case
//! hex. Hash lists identify exact files by these (NCMEC and StopNCII lists carry MD5 and
//! SHA-1 beside PDQ); they are computed on the bytes as given, before any decoding.
//!
//! Implementations: the RustCrypto crates `md-5`, `sha1` and `sha2` (pure Rust, so the same
//! code runs in WebAssembly).

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::algorithm::Algorithm;
use crate::hash::DigestHash;

/// The digest `algorithm` names, of `bytes`; `None` for an algorithm that is not a digest.
pub fn digest(algorithm: Algorithm, bytes: &[u8]) -> Option<DigestHash> {
    match algorithm {
        Algorithm::Md5 => DigestHash::from_bytes(&Md5::digest(bytes)),
        Algorithm::Sha1 => DigestHash::from_bytes(&Sha1::digest(bytes)),
        Algorithm::Sha256 => DigestHash::from_bytes(&Sha256::digest(bytes)),
        _ => None,
    }
}

/// The three digests of one input, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digests {
    /// MD5, 32 hex digits.
    pub md5: String,
    /// SHA-1, 40 hex digits.
    pub sha1: String,
    /// SHA-256, 64 hex digits.
    pub sha256: String,
}

impl Digests {
    /// All three digests of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut stream = DigestStream::new();
        stream.update(bytes);
        stream.finish()
    }
}

/// The three digests of input that arrives in pieces (a large file read in chunks): the same
/// values as [`Digests::of`] on the concatenation, in constant memory.
#[derive(Debug, Clone, Default)]
pub struct DigestStream {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
}

impl DigestStream {
    /// No input yet.
    pub fn new() -> Self {
        DigestStream::default()
    }

    /// Appends `bytes` to the input.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
    }

    /// The digests of everything given to [`update`](Self::update).
    pub fn finish(self) -> Digests {
        Digests {
            md5: hex(&self.md5.finalize()),
            sha1: hex(&self.sha1.finalize()),
            sha256: hex(&self.sha256.finalize()),
        }
    }
}

/// MD5 of `bytes`, 32 lower-case hex digits.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// SHA-1 of `bytes`, 40 lower-case hex digits.
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

/// SHA-256 of `bytes`, 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(digest.len() * 2);
    for &b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
