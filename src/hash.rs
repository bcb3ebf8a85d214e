//! Hash values: [`PdqHash`] (256 bits) and the imagehash family ([`ImageHash`], one type per
//! algorithm), each with strict hex parsing, lower-case hex output, serde as hex and Hamming
//! distance.
//!
//! The hex form is the one the hash-sharing ecosystem exchanges (ThreatExchange, HMA,
//! StopNCII): the reference `Hash256` (pdq/cpp/common/pdqhashtypes.cpp) keeps sixteen
//! 16-bit words, bit `k` in word `k >> 4` at position `k & 15`, and prints word 15 first
//! as `%04x`. Storing the 32 bytes in that printed order makes bit `k` the `k`-th least
//! significant bit of a big-endian 256-bit integer: byte `31 - k / 8`, bit `k % 8`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::algorithm::{Algorithm, Family};

/// Why a hex string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string has the wrong number of characters.
    #[error("expected {expected} hex characters, found {found}")]
    Length { expected: usize, found: usize },
    /// A character outside `0-9a-fA-F`.
    #[error("invalid hex character {found:?} at position {position}")]
    Character { position: usize, found: char },
    /// No supported imagehash size prints as this many hex characters.
    #[error("expected the hex of a {min}x{min} to {max}x{max} imagehash ({lengths} characters), found {found} characters")]
    UnknownLength {
        min: u32,
        max: u32,
        lengths: &'static str,
        found: usize,
    },
    /// The first digit sets bits above the hash's width (imagehash pads the top digit with zeros).
    #[error("hex digit {found:?} at position 0 sets bits beyond the {bits}-bit hash")]
    Excess { found: char, bits: u32 },
    /// A list of hashes with the wrong number of members.
    #[error("expected {expected} hashes, found {found}")]
    Count { expected: usize, found: usize },
    /// The algorithm's values are not written as hex (vPDQ is text of many lines).
    #[error("not written as one hex string")]
    NotHex,
    /// A well-formed hex of a size this algorithm never produces.
    #[error("{algorithm} has no {size}x{size} hashes")]
    UnsupportedSize { algorithm: &'static str, size: u32 },
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

/// The imagehash algorithms, as type-level markers: an [`ImageHash<Average>`] cannot be compared
/// with an [`ImageHash<Perceptual>`].
pub trait ImageHashKind:
    Copy + Eq + std::hash::Hash + Ord + fmt::Debug + Default + sealed::Sealed
{
    /// The imagehash function name, for messages.
    const NAME: &'static str;
    /// Whether the algorithm produces `size` x `size` hashes (size already in 2..=16).
    fn supports(size: u32) -> bool {
        let _ = size;
        true
    }
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! algorithm {
    ($(#[$doc:meta])* $marker:ident, $alias:ident, $name:literal $(, $supports:expr)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $marker;
        impl sealed::Sealed for $marker {}
        impl ImageHashKind for $marker {
            const NAME: &'static str = $name;
            $(fn supports(size: u32) -> bool {
                $supports(size)
            })?
        }
        #[doc = concat!("A hash from imagehash's `", $name, "`.")]
        pub type $alias = ImageHash<$marker>;
    };
}

algorithm!(
    /// imagehash `average_hash`: each pixel of the shrunk image against the mean.
    Average, AverageHash, "average_hash"
);
algorithm!(
    /// imagehash `dhash`: each pixel against its left neighbour.
    Difference, DifferenceHash, "dhash"
);
algorithm!(
    /// imagehash `dhash_vertical`: each pixel against the one above.
    DifferenceVertical, DifferenceVerticalHash, "dhash_vertical"
);
algorithm!(
    /// imagehash `phash`: low DCT frequencies against their median.
    Perceptual, PerceptualHash, "phash"
);
algorithm!(
    /// imagehash `whash` (haar): the low-pass wavelet band against its median. Sizes are powers
    /// of two, as imagehash asserts.
    Wavelet, WaveletHash, "whash", |size: u32| size.is_power_of_two()
);

/// Hash sizes (bits per side) that [`ImageHash`] holds: imagehash rejects sizes under 2, and
/// 16 (256 bits) is the largest in common use.
pub const IMAGEHASH_MIN_SIZE: u32 = 2;
/// See [`IMAGEHASH_MIN_SIZE`].
pub const IMAGEHASH_MAX_SIZE: u32 = 16;

/// Hex lengths of sizes 2..=16, for the error message.
const HEX_LENGTHS: &str = "1, 3, 4, 7, 9, 13, 16, 21, 25, 31, 36, 43, 49, 57 or 64";

/// Hex digits imagehash prints for a `size` x `size` hash: `ceil(size² / 4)`.
const fn hex_len(size: u32) -> usize {
    (size * size).div_ceil(4) as usize
}

/// The size whose hex has as many characters as `s` (every size in 2..=16 has its own length).
fn size_of_hex(s: &str) -> Result<u32, HexError> {
    let found = s.chars().count();
    (IMAGEHASH_MIN_SIZE..=IMAGEHASH_MAX_SIZE)
        .find(|&size| hex_len(size) == found && s.len() == found)
        .ok_or(HexError::UnknownLength {
            min: IMAGEHASH_MIN_SIZE,
            max: IMAGEHASH_MAX_SIZE,
            lengths: HEX_LENGTHS,
            found,
        })
}

/// Parses the hex of a `size` x `size` imagehash (size already checked) into the integer it
/// prints, big-endian in 32 bytes: exactly `ceil(size² / 4)` digits, either case, the first
/// digit setting no bits above the hash.
fn parse_sized_hex(s: &str, size: u32) -> Result<[u8; 32], HexError> {
    let len = hex_len(size);
    // Left-pad to 64 digits so the shared decoder reads the whole 256-bit integer.
    let chars = s.chars().count();
    if s.len() != len || chars != len {
        return Err(HexError::Length {
            expected: len,
            found: chars,
        });
    }
    let padded = format!("{}{}", "0".repeat(64 - len), s);
    let value = decode_hex::<32>(&padded).map_err(|e| match e {
        HexError::Character { position, found } => HexError::Character {
            position: position - (64 - len),
            found,
        },
        other => other,
    })?;
    let bits = size * size;
    let top_bits = bits - 4 * (len as u32 - 1);
    let first = s.as_bytes()[0];
    // The first digit is digit `len - 1` counted from the least significant.
    let byte = value[31 - (len - 1) / 2];
    let top = if (len - 1) % 2 == 0 {
        byte & 15
    } else {
        byte >> 4
    };
    if u32::from(top) >> top_bits != 0 {
        return Err(HexError::Excess {
            found: char::from(first),
            bits,
        });
    }
    Ok(value)
}

/// imagehash's `str(hash)` of a `size` x `size` hash held as the integer it prints.
fn write_image_hex(size: u32, value: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let len = hex_len(size);
    let mut out = String::with_capacity(len);
    for d in (0..len).rev() {
        let byte = value[31 - d / 2];
        let nibble = if d % 2 == 0 { byte & 15 } else { byte >> 4 };
        out.push(char::from(DIGITS[usize::from(nibble)]));
    }
    f.write_str(&out)
}

/// Bits that differ between two 256-bit integers.
fn bits_apart(a: &[u8; 32], b: &[u8; 32]) -> u32 {
    a.iter()
        .zip(b.iter())
        .map(|(a, b)| (a ^ b).count_ones())
        .sum()
}

/// An imagehash hash of `size` x `size` bits for algorithm `A`.
///
/// Bit order is imagehash's: the hash array flattened row by row, the first element the most
/// significant bit of an integer printed as `ceil(size² / 4)` hex digits, left-padded with zeros
/// (`_binary_array_to_hex`). The bits are stored as that integer, big-endian in 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageHash<A: ImageHashKind> {
    size: u8,
    value: [u8; 32],
    algorithm: std::marker::PhantomData<A>,
}

/// Two hashes of different sizes have no Hamming distance (imagehash raises `TypeError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot compare a {left}x{left} hash with a {right}x{right} hash")]
pub struct SizeMismatch {
    pub left: u32,
    pub right: u32,
}

impl<A: ImageHashKind> ImageHash<A> {
    /// A hash from its bits in imagehash order (row-major, first = most significant), or
    /// `None` unless there are `size²` bits for a size `A` supports in 2..=16.
    pub fn from_bits(size: u32, bits: impl IntoIterator<Item = bool>) -> Option<Self> {
        if !(IMAGEHASH_MIN_SIZE..=IMAGEHASH_MAX_SIZE).contains(&size) || !A::supports(size) {
            return None;
        }
        let n = (size * size) as usize;
        let mut value = [0u8; 32];
        let mut count = 0;
        for (i, bit) in bits.into_iter().enumerate() {
            if i >= n {
                return None;
            }
            if bit {
                let k = n - 1 - i;
                value[31 - k / 8] |= 1 << (k % 8);
            }
            count += 1;
        }
        if count != n {
            return None;
        }
        Some(ImageHash {
            size: size as u8,
            value,
            algorithm: std::marker::PhantomData,
        })
    }

    /// Bits per side.
    pub fn size(&self) -> u32 {
        u32::from(self.size)
    }

    /// Number of bits (`size²`).
    pub fn bit_count(&self) -> u32 {
        self.size() * self.size()
    }

    /// Bit `i` in imagehash order (row-major; 0 is the first pixel, the most significant).
    pub fn bit(&self, i: usize) -> bool {
        let n = self.bit_count() as usize;
        debug_assert!(i < n);
        let k = n - 1 - i;
        self.value[31 - k / 8] >> (k % 8) & 1 == 1
    }

    /// The bits in imagehash order.
    pub fn bits(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.bit_count() as usize).map(|i| self.bit(i))
    }

    /// The integer imagehash prints, big-endian in 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.value
    }

    /// Parses imagehash's `str(hash)`, either case. The length gives the size (every size in
    /// 2..=16 has its own); the first digit must not set bits above the hash.
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        Self::from_hex_sized(s, size_of_hex(s)?)
    }

    /// Parses the hex of a `size` x `size` hash, either case, exactly `ceil(size² / 4)` characters.
    pub fn from_hex_sized(s: &str, size: u32) -> Result<Self, HexError> {
        if !(IMAGEHASH_MIN_SIZE..=IMAGEHASH_MAX_SIZE).contains(&size) || !A::supports(size) {
            return Err(HexError::UnsupportedSize {
                algorithm: A::NAME,
                size,
            });
        }
        Ok(ImageHash {
            size: size as u8,
            value: parse_sized_hex(s, size)?,
            algorithm: std::marker::PhantomData,
        })
    }

    /// Lower-case hex, imagehash's `str(hash)`.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Hamming distance (imagehash's `hash1 - hash2`); hashes of different sizes have none.
    pub fn distance(&self, other: &Self) -> Result<u32, SizeMismatch> {
        if self.size != other.size {
            return Err(SizeMismatch {
                left: self.size(),
                right: other.size(),
            });
        }
        Ok(bits_apart(&self.value, &other.value))
    }
}

impl<A: ImageHashKind> fmt::Display for ImageHash<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_image_hex(self.size(), &self.value, f)
    }
}

impl<A: ImageHashKind> fmt::Debug for ImageHash<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}x{}, {self})", A::NAME, self.size, self.size)
    }
}

impl<A: ImageHashKind> FromStr for ImageHash<A> {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl<A: ImageHashKind> Serialize for ImageHash<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, A: ImageHashKind> Deserialize<'de> for ImageHash<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The bits of an imagehash-family hash without its algorithm: the value a registry map
/// ([`crate::algorithm::AlgorithmMap`]) holds, where the key says which algorithm it is.
/// Same bit order, hex and distance as [`ImageHash`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BitHash {
    size: u8,
    value: [u8; 32],
}

impl BitHash {
    /// Parses the hex of a `size` x `size` hash (`size` in 2..=16), either case.
    pub fn from_hex_sized(s: &str, size: u32) -> Result<Self, HexError> {
        if !(IMAGEHASH_MIN_SIZE..=IMAGEHASH_MAX_SIZE).contains(&size) {
            return Err(HexError::UnsupportedSize {
                algorithm: "imagehash",
                size,
            });
        }
        Ok(BitHash {
            size: size as u8,
            value: parse_sized_hex(s, size)?,
        })
    }

    /// Bits per side.
    pub fn size(&self) -> u32 {
        u32::from(self.size)
    }

    /// The integer imagehash prints, big-endian in 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.value
    }

    /// An 8x8 hash as the 64-bit integer imagehash prints; `None` for other sizes.
    pub fn as_u64(&self) -> Option<u64> {
        let low: [u8; 8] = self.value[24..].try_into().ok()?;
        (self.size == 8).then(|| u64::from_be_bytes(low))
    }

    /// Lower-case hex, imagehash's `str(hash)`.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Hamming distance; hashes of different sizes have none.
    pub fn distance(&self, other: &Self) -> Result<u32, SizeMismatch> {
        if self.size != other.size {
            return Err(SizeMismatch {
                left: self.size(),
                right: other.size(),
            });
        }
        Ok(bits_apart(&self.value, &other.value))
    }
}

impl<A: ImageHashKind> From<ImageHash<A>> for BitHash {
    fn from(h: ImageHash<A>) -> Self {
        BitHash {
            size: h.size,
            value: h.value,
        }
    }
}

impl fmt::Display for BitHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_image_hex(self.size(), &self.value, f)
    }
}

impl fmt::Debug for BitHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BitHash({}x{}, {self})", self.size, self.size)
    }
}

/// A digest of a file's bytes (MD5, SHA-1 or SHA-256): up to 32 bytes, compared by equality.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DigestHash {
    len: u8,
    bytes: [u8; 32],
}

impl DigestHash {
    /// Wraps a digest of at most 32 bytes; `None` if longer.
    pub fn from_bytes(digest: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; 32];
        bytes.get_mut(..digest.len())?.copy_from_slice(digest);
        Some(DigestHash {
            len: digest.len() as u8,
            bytes,
        })
    }

    /// Parses exactly `2 * len` hex characters (`len` at most 32), either case.
    pub fn from_hex(s: &str, len: usize) -> Result<Self, HexError> {
        let chars = s.chars().count();
        if len > 32 || s.len() != 2 * len || chars != 2 * len {
            return Err(HexError::Length {
                expected: 2 * len,
                found: chars,
            });
        }
        // Right-pad to 64 digits so the shared decoder reads it; the padding is zeros.
        let padded = format!("{s}{}", "0".repeat(64 - 2 * len));
        let bytes = decode_hex::<32>(&padded)?;
        Ok(DigestHash {
            len: len as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Lower-case hex, two characters a byte.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DigestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        encode_hex(self.as_bytes(), f)
    }
}

impl fmt::Debug for DigestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DigestHash({self})")
    }
}

/// One algorithm's value, typed by its family: what a hash list entry, a bank entry, a query
/// item and a file's results hold per algorithm.
// The dihedral set is 256 bytes, the others at most 33: values are few and short-lived (one
// file's results, one query item), so a copy beats an allocation per dihedral value.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum HashValue {
    /// A PDQ hash (also one vPDQ frame's).
    Pdq(PdqHash),
    /// The eight dihedral PDQ hashes, in [`crate::pdq::Dihedral::ALL`] order.
    PdqDihedral([PdqHash; 8]),
    /// An imagehash-family hash.
    Bits(BitHash),
    /// A digest of the bytes.
    Digest(DigestHash),
}

/// A string that is not a value of the algorithm it was given for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {algorithm} hash: {error}")]
pub struct ValueError {
    pub algorithm: Algorithm,
    pub error: HexError,
}

impl HashValue {
    /// Parses `hex` as a value of `algorithm`: the one hex checker of every adapter (lists, the
    /// CLI, the server). Either case; the dihedral set is eight hashes joined by `:` or `,`.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<HashValue, ValueError> {
        let wrap = |error| ValueError { algorithm, error };
        match (algorithm, algorithm.family()) {
            (
                Algorithm::Pdq
                | Algorithm::PdqTrimmed
                | Algorithm::PdqEmbedded
                | Algorithm::PdqCaptioned
                | Algorithm::PdqStraightened,
                _,
            ) => PdqHash::from_hex(hex).map(HashValue::Pdq).map_err(wrap),
            (Algorithm::PdqDihedral, _) => {
                let mut hashes = [PdqHash::ZERO; 8];
                let mut parts = hex.split([':', ',']);
                for slot in hashes.iter_mut() {
                    let part = parts.next().ok_or(HexError::Count {
                        expected: 8,
                        found: hex.split([':', ',']).count(),
                    });
                    *slot = PdqHash::from_hex(part.map_err(wrap)?).map_err(wrap)?;
                }
                if parts.next().is_some() {
                    return Err(wrap(HexError::Count {
                        expected: 8,
                        found: hex.split([':', ',']).count(),
                    }));
                }
                Ok(HashValue::PdqDihedral(hashes))
            }
            (_, Family::Perceptual64 | Family::Perceptual256) => {
                let size = algorithm.bits().isqrt();
                BitHash::from_hex_sized(hex, size)
                    .map(HashValue::Bits)
                    .map_err(wrap)
            }
            (_, Family::Digest) => DigestHash::from_hex(hex, algorithm.bits() as usize / 8)
                .map(HashValue::Digest)
                .map_err(wrap),
            (_, Family::Video) => Err(wrap(HexError::NotHex)),
        }
    }

    /// Lower-case hex (the dihedral set joined by `:`).
    pub fn to_hex(&self) -> String {
        match self {
            HashValue::Pdq(h) => h.to_hex(),
            HashValue::PdqDihedral(d) => {
                d.iter().map(PdqHash::to_hex).collect::<Vec<_>>().join(":")
            }
            HashValue::Bits(h) => h.to_hex(),
            HashValue::Digest(h) => h.to_hex(),
        }
    }

    /// The Hamming distance between two values of the same kind and size (`None` otherwise);
    /// for the dihedral set, the smallest distance between any variant of one and the other's
    /// original. Digests have no meaningful distance: 0 when equal, `None` otherwise.
    pub fn distance(&self, other: &HashValue) -> Option<u32> {
        match (self, other) {
            (HashValue::Pdq(a), HashValue::Pdq(b)) => Some(a.distance(b)),
            (HashValue::PdqDihedral(a), HashValue::PdqDihedral(b)) => {
                let best = |variants: &[PdqHash; 8], original: &PdqHash| {
                    variants.iter().map(|v| v.distance(original)).min()
                };
                best(a, &b[0]).into_iter().chain(best(b, &a[0])).min()
            }
            (HashValue::Bits(a), HashValue::Bits(b)) => a.distance(b).ok(),
            (HashValue::Digest(a), HashValue::Digest(b)) => (a == b).then_some(0),
            _ => None,
        }
    }
}

impl fmt::Display for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for HashValue {
    /// Hex strings; the dihedral set as an array of eight.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HashValue::PdqDihedral(d) => d.serialize(serializer),
            other => serializer.collect_str(other),
        }
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

    #[test]
    fn imagehash_hex_pads_the_top_digit_like_binary_array_to_hex() {
        // 5x5 = 25 bits print as 7 digits; a lone first bit is 2^24.
        let mut bits = [false; 25];
        bits[0] = true;
        let h = AverageHash::from_bits(5, bits.iter().copied()).unwrap();
        assert_eq!(h.to_hex(), "1000000");
        bits[0] = false;
        bits[24] = true;
        let h = AverageHash::from_bits(5, bits.iter().copied()).unwrap();
        assert_eq!(h.to_hex(), "0000001");
        assert_eq!(AverageHash::from_hex("0000001").unwrap(), h);
        let full = PerceptualHash::from_bits(16, std::iter::repeat_n(true, 256)).unwrap();
        assert_eq!(full.to_hex(), "f".repeat(64));
        assert!(full.bit(0) && full.bit(255));
    }

    #[test]
    fn imagehash_from_hex_says_what_is_wrong_and_where() {
        assert_eq!(
            AverageHash::from_hex("12345"),
            Err(HexError::UnknownLength {
                min: 2,
                max: 16,
                lengths: HEX_LENGTHS,
                found: 5
            })
        );
        assert_eq!(
            AverageHash::from_hex("2000000"),
            Err(HexError::Excess {
                found: '2',
                bits: 25
            })
        );
        assert_eq!(
            AverageHash::from_hex("00000x0000000000"),
            Err(HexError::Character {
                position: 5,
                found: 'x'
            })
        );
        assert_eq!(
            AverageHash::from_hex_sized("abc", 8),
            Err(HexError::Length {
                expected: 16,
                found: 3
            })
        );
        assert_eq!(
            WaveletHash::from_hex("0000000"),
            Err(HexError::UnsupportedSize {
                algorithm: "whash",
                size: 5
            })
        );
        assert_eq!(
            AverageHash::from_hex("ABCDEF0123456789").unwrap().to_hex(),
            "abcdef0123456789"
        );
        let s = format!("{}é", "0".repeat(14));
        assert!(matches!(
            AverageHash::from_hex(&s),
            Err(HexError::UnknownLength { found: 15, .. })
        ));
    }

    #[test]
    fn imagehash_distance_needs_equal_sizes() {
        let a = DifferenceHash::from_hex("ffffffffffffffff").unwrap();
        let b = DifferenceHash::from_hex("0f0f0f0f0f0f0f0f").unwrap();
        assert_eq!(a.distance(&b), Ok(32));
        let c = DifferenceHash::from_hex("f".repeat(64).as_str()).unwrap();
        assert_eq!(a.distance(&c), Err(SizeMismatch { left: 8, right: 16 }));
    }
}
