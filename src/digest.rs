//! Cryptographic digests of the original file bytes: MD5, SHA-1 and SHA-256, as lower-case
//! hex. Hash lists identify exact files by these (NCMEC and StopNCII lists carry MD5 and
//! SHA-1 beside PDQ); they are computed on the bytes as given, before any decoding.
//!
//! Implementations: the RustCrypto crates `md-5`, `sha1` and `sha2` (pure Rust, so the same
//! code runs in WebAssembly).

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

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
        Digests {
            md5: md5_hex(bytes),
            sha1: sha1_hex(bytes),
            sha256: sha256_hex(bytes),
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
