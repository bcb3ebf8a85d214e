//! The codes an index holds: fixed-width bit strings compared by Hamming distance.
//!
//! [`Code`] is the small contract the index needs from a hash type: its width and its bits as
//! 64-bit words. [`PdqHash`] (256 bits) implements it, and so does [`Code64`], a plain 64-bit
//! code for pHash/dHash-style hashes. A dedicated 64-bit hash type only needs the same two
//! items. One index holds one code type, so a PDQ hash can never be compared with a 64-bit one.

use crate::hash::PdqHash;

/// A fixed-width binary code compared by Hamming distance.
///
/// Bit `k` of the code is bit `k % 64` of word `k / 64`. Substrings for multi-index hashing are
/// taken as contiguous runs of bits in that numbering, so any fixed bijection of bits to word
/// positions gives the same distances; the index only requires that it never changes.
pub trait Code: Copy + Send + Sync + 'static {
    /// Number of 64-bit words; the code has `64 * WORDS` bits.
    const WORDS: usize;

    /// Word `i` (`0..WORDS`).
    fn word(&self, i: usize) -> u64;

    /// Number of bits in the code.
    const BITS: u32 = 64 * Self::WORDS as u32;
}

impl Code for PdqHash {
    const WORDS: usize = 4;

    /// Word `i` holds reference bits `64 * i .. 64 * i + 64`: with the bytes stored in printed
    /// order (bit `k` in byte `31 - k / 8`), that is bytes `24 - 8 i .. 32 - 8 i` read big-endian.
    fn word(&self, i: usize) -> u64 {
        let start = 24 - 8 * i;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.as_bytes()[start..start + 8]);
        u64::from_be_bytes(bytes)
    }
}

/// A 64-bit code (pHash, dHash, aHash and the like) as an index key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Code64(pub u64);

impl Code for Code64 {
    const WORDS: usize = 1;

    fn word(&self, _i: usize) -> u64 {
        self.0
    }
}

/// Hamming distance between two codes given as words of equal length.
#[inline(always)]
pub(crate) fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The code's words appended to `out`.
pub(crate) fn push_words<C: Code>(code: &C, out: &mut Vec<u64>) {
    out.extend((0..C::WORDS).map(|i| code.word(i)));
}

/// Bits `start .. start + len` (`len <= 32`) of a code given as words, as an integer whose
/// bit `j` is code bit `start + j`.
#[inline]
pub(crate) fn substring(words: &[u64], start: u32, len: u32) -> u32 {
    debug_assert!((1..=32).contains(&len));
    let (w, off) = ((start / 64) as usize, start % 64);
    let mut v = words[w] >> off;
    if off + len > 64 {
        v |= words[w + 1] << (64 - off);
    }
    (v & ((1u64 << len) - 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdq_words_follow_the_reference_bit_numbering() {
        for k in [0usize, 1, 63, 64, 100, 191, 192, 255] {
            let mut bytes = [0u8; 32];
            bytes[31 - k / 8] = 1 << (k % 8);
            let h = PdqHash::from_bytes(bytes);
            assert!(h.bit(k));
            let words: Vec<u64> = (0..4).map(|i| h.word(i)).collect();
            assert_eq!(words[k / 64], 1 << (k % 64), "bit {k}");
            assert_eq!(words.iter().map(|w| w.count_ones()).sum::<u32>(), 1);
        }
    }

    #[test]
    fn hamming_on_words_equals_pdq_distance() {
        let a = PdqHash::from_bytes(core::array::from_fn(|i| (i * 37 + 11) as u8));
        let b = PdqHash::from_bytes(core::array::from_fn(|i| (i * 91 + 5) as u8));
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        push_words(&a, &mut wa);
        push_words(&b, &mut wb);
        assert_eq!(hamming(&wa, &wb), a.distance(&b));
    }

    #[test]
    fn substrings_straddle_word_boundaries() {
        let words = [0xF000_0000_0000_0000u64, 0x0000_0000_0000_000Bu64];
        assert_eq!(substring(&words, 60, 8), 0xBF);
        assert_eq!(substring(&words, 0, 32), 0);
        assert_eq!(substring(&words, 62, 3), 0b111);
        assert_eq!(substring(&words, 64, 4), 0xB);
    }
}
