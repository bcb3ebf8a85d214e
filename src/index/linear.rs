//! Linear scans: the oracle every faster search is tested against, and the batched scan the
//! index falls back to when multi-index hashing would touch more memory than reading every code.
//!
//! [`linear_search`] is deliberately plain: one pass over `(id, code)` pairs, a distance per
//! pair, a sort. It is the slow twin the property tests and the benchmark compare with.
//!
//! [`scan`] is the fast path. A single query over N codes is bound by memory bandwidth (N x 32
//! bytes for PDQ), while the distance itself costs a few instructions. Reading the codes once per
//! block of `SCAN_BLOCK_CODES` (which stays in L1/L2) and comparing the whole block with every
//! query of a batch turns the scan from memory-bound into compute-bound: the batch costs one pass
//! over memory instead of one pass per query. Distances for a block are computed into a small
//! array first, then filtered, so the distance loop has no branches and can be vectorised.

use super::code::{hamming, Code};
use super::{EntryId, Match};

/// The reference search: every entry within `radius` of `query`, sorted by (distance, id).
pub fn linear_search<C: Code>(entries: &[(EntryId, C)], query: &C, radius: u32) -> Vec<Match> {
    let mut out: Vec<Match> = entries
        .iter()
        .filter_map(|(id, code)| {
            let distance: u32 = (0..C::WORDS)
                .map(|i| (code.word(i) ^ query.word(i)).count_ones())
                .sum();
            (distance <= radius).then_some(Match { distance, id: *id })
        })
        .collect();
    out.sort_unstable();
    out
}

/// A hit of a scan over positions: the position in the scanned code array and its distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hit {
    pub(crate) distance: u32,
    pub(crate) pos: u32,
}

/// Codes per block: 2048 PDQ codes are 64 KiB, which stays in L2 while every query of the batch
/// is compared with it.
const SCAN_BLOCK_CODES: usize = 2048;

/// For each query (`queries` holds them back to back, `words_per_code` words each), appends to
/// `out[q]` every position `pos` of `codes` with distance `<= radius`, in ascending position.
pub(crate) fn scan(
    codes: &[u64],
    words_per_code: usize,
    queries: &[u64],
    radius: u32,
    out: &mut [Vec<Hit>],
) {
    debug_assert_eq!(queries.len(), out.len() * words_per_code);
    match words_per_code {
        // Monomorphised for the two widths in use so the distance loop is fully unrolled.
        1 => scan_fixed::<1>(codes, queries, radius, out),
        4 => scan_fixed::<4>(codes, queries, radius, out),
        w => scan_any(codes, w, queries, radius, out),
    }
}

fn scan_fixed<const W: usize>(codes: &[u64], queries: &[u64], radius: u32, out: &mut [Vec<Hit>]) {
    let mut distances = [0u32; SCAN_BLOCK_CODES];
    for (block_index, block) in codes.chunks(W * SCAN_BLOCK_CODES).enumerate() {
        let first = block_index * SCAN_BLOCK_CODES;
        for (query, hits) in queries.chunks_exact(W).zip(out.iter_mut()) {
            let q: [u64; W] = core::array::from_fn(|i| query[i]);
            for (d, code) in distances.iter_mut().zip(block.chunks_exact(W)) {
                // A whole array, so the loop has no bounds checks and vectorises (vpopcntq where
                // the target has it); chunks_exact guarantees the length, so this never fails.
                let code: &[u64; W] = code.try_into().expect("chunk of W words");
                let mut sum = 0;
                for i in 0..W {
                    sum += (code[i] ^ q[i]).count_ones();
                }
                *d = sum;
            }
            for (j, &distance) in distances[..block.len() / W].iter().enumerate() {
                if distance <= radius {
                    hits.push(Hit {
                        distance,
                        pos: (first + j) as u32,
                    });
                }
            }
        }
    }
}

fn scan_any(codes: &[u64], w: usize, queries: &[u64], radius: u32, out: &mut [Vec<Hit>]) {
    for (pos, code) in codes.chunks_exact(w).enumerate() {
        for (query, hits) in queries.chunks_exact(w).zip(out.iter_mut()) {
            let distance = hamming(code, query);
            if distance <= radius {
                hits.push(Hit {
                    distance,
                    pos: pos as u32,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_equals_the_plain_distance_for_every_width_and_block_edge() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for w in [1usize, 2, 4] {
            let n = SCAN_BLOCK_CODES + 3;
            let codes: Vec<u64> = (0..n * w).map(|_| next()).collect();
            let queries: Vec<u64> = codes[..w]
                .iter()
                .chain(&codes[5 * w..6 * w])
                .copied()
                .collect();
            let radius = 30 * w as u32;
            let mut out = vec![Vec::new(); 2];
            scan(&codes, w, &queries, radius, &mut out);
            for (q, hits) in queries.chunks_exact(w).zip(&out) {
                let want: Vec<Hit> = codes
                    .chunks_exact(w)
                    .enumerate()
                    .map(|(pos, c)| Hit {
                        distance: hamming(c, q),
                        pos: pos as u32,
                    })
                    .filter(|h| h.distance <= radius)
                    .collect();
                assert_eq!(hits, &want);
            }
        }
    }
}
