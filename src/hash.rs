//! Hash values: [`PdqHash`] (256 bits) with strict hex parsing, lower-case hex output,
//! serde as hex and Hamming distance.
//!
//! The hex form is the one the hash-sharing ecosystem exchanges (ThreatExchange, HMA,
//! StopNCII): the reference `Hash256` (pdq/cpp/common/pdqhashtypes.cpp) keeps sixteen
//! 16-bit words, bit `k` in word `k >> 4` at position `k & 15`, and prints word 15 first
//! as `%04x`. Storing the 32 bytes in that printed order makes bit `k` the `k`-th least
//! significant bit of a big-endian 256-bit integer: byte `31 - k / 8`, bit `k % 8`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a hex string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string has the wrong number of characters.
    #[error("expected {expected} hex characters, found {found}")]
    Length { expected: usize, found: usize },
    /// A character outside `0-9a-fA-F`.
    #[error("invalid hex character {found:?} at position {position}")]
    Character { position: usize, found: char },
}

/// Decodes exactly `N * 2` hex digits (either case) into `N` bytes.
pub(crate) fn decode_hex<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let chars = s.chars().count();
    if s.len() != N * 2 || chars != N * 2 {
        return Err(HexError::Length {
            expected: N * 2,
            found: chars,
        });
    }
    let digit = |position: usize, byte: u8| -> Result<u8, HexError> {
        match byte {
            b'0'..=b'9' => Ok(byte - b'0'),
            b'a'..=b'f' => Ok(byte - b'a' + 10),
            b'A'..=b'F' => Ok(byte - b'A' + 10),
            _ => Err(HexError::Character {
                position,
                found: char::from(byte),
            }),
        }
    };
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = (digit(2 * i, bytes[2 * i])? << 4) | digit(2 * i + 1, bytes[2 * i + 1])?;
    }
    Ok(out)
}

fn encode_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 2];
    for &b in bytes {
        buf[0] = DIGITS[usize::from(b >> 4)];
        buf[1] = DIGITS[usize::from(b & 15)];
        // The two bytes are ASCII hex digits, so this never fails.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)?;
    }
    Ok(())
}

/// A 256-bit PDQ hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash([u8; 32]);

impl PdqHash {
    /// Number of bits in a PDQ hash.
    pub const BITS: u32 = 256;

    /// The all-zero hash (what the reference returns for images under 5 px on a side).
    pub const ZERO: PdqHash = PdqHash([0; 32]);

    /// Wraps 32 bytes given in hex (printed) order.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        PdqHash(bytes)
    }

    /// The 32 bytes in hex (printed) order.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses exactly 64 hex characters, either case.
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        decode_hex::<32>(s).map(PdqHash)
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Bit `k` (0..256) in the reference numbering: bit `16 * i + j` is DCT coefficient `(i, j)`.
    pub fn bit(&self, k: usize) -> bool {
        debug_assert!(k < 256);
        self.0[31 - k / 8] >> (k % 8) & 1 == 1
    }

    /// Sets bit `k` (0..256) in the reference numbering.
    pub(crate) fn set_bit(&mut self, k: usize) {
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// Hamming distance: the number of differing bits, 0..=256.
    pub fn distance(&self, other: &PdqHash) -> u32 {
        let mut d = 0;
        for (a, b) in self.0.chunks_exact(8).zip(other.0.chunks_exact(8)) {
            let a = u64::from_be_bytes(a.try_into().expect("chunk of 8"));
            let b = u64::from_be_bytes(b.try_into().expect("chunk of 8"));
            d += (a ^ b).count_ones();
        }
        d
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        encode_hex(&self.0, f)
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({self})")
    }
}

impl FromStr for PdqHash {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PdqHash::from_hex(s)
    }
}

impl Serialize for PdqHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PdqHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PdqHash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_numbering_follows_the_reference_word_order() {
        // Bit 0 is the lowest bit of word 0, printed last; bit 255 the highest of word 15, printed first.
        let mut h = PdqHash::ZERO;
        h.set_bit(0);
        assert!(h.to_hex().ends_with("0001"));
        let mut h = PdqHash::ZERO;
        h.set_bit(15);
        assert!(h.to_hex().ends_with("8000"));
        let mut h = PdqHash::ZERO;
        h.set_bit(16);
        assert!(h.to_hex().ends_with("00010000"));
        let mut h = PdqHash::ZERO;
        h.set_bit(255);
        assert!(h.to_hex().starts_with("8000"));
        assert!(h.bit(255) && !h.bit(254));
    }

    #[test]
    fn from_hex_rejects_wrong_length_and_characters_and_says_where() {
        assert_eq!(
            PdqHash::from_hex("abc"),
            Err(HexError::Length {
                expected: 64,
                found: 3
            })
        );
        let mut s = "0".repeat(64);
        s.replace_range(10..11, "g");
        assert_eq!(
            PdqHash::from_hex(&s),
            Err(HexError::Character {
                position: 10,
                found: 'g'
            })
        );
        // A multi-byte character must not be mistaken for two hex digits.
        let s = format!("{}é", "0".repeat(62));
        assert_eq!(s.len(), 64);
        assert!(matches!(
            PdqHash::from_hex(&s),
            Err(HexError::Length { found: 63, .. })
        ));
        assert!(PdqHash::from_hex(&"A".repeat(64)).is_ok());
    }
}
