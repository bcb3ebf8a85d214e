//! A fixed-size set of positions `0..len` as packed bits: tombstones over a base index and the
//! visited set of a multi-index query.

/// A fixed-size bit set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    len: usize,
}

impl Bitset {
    /// An empty set over positions `0..len`.
    pub(crate) fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Number of positions the set covers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn contains(&self, pos: usize) -> bool {
        self.words[pos / 64] >> (pos % 64) & 1 == 1
    }

    /// Adds `pos`; returns whether it was absent.
    #[inline]
    pub(crate) fn insert(&mut self, pos: usize) -> bool {
        let (word, bit) = (&mut self.words[pos / 64], 1u64 << (pos % 64));
        let absent = *word & bit == 0;
        *word |= bit;
        absent
    }

    /// Removes `pos`.
    #[inline]
    pub(crate) fn remove(&mut self, pos: usize) {
        self.words[pos / 64] &= !(1u64 << (pos % 64));
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}
