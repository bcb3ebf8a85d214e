//! Exact multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with
//! Multi-Index Hashing", CVPR 2012; "Fast Exact Search in Hamming Space with Multi-Index
//! Hashing", TPAMI 2014).
//!
//! # The structure
//! Each `B`-bit code is cut into `m` contiguous substrings of `floor(B/m)` or `ceil(B/m)` bits.
//! For each substring there is one table mapping the substring's value to the positions of the
//! codes that have it. Tables are compressed-sparse-row arrays: `offsets` (`2^len + 1` `u32`s)
//! and `positions` (`N` `u32`s, grouped by bucket, ascending within a bucket), built with one
//! counting sort per table. There is no per-bucket allocation: a bucket lookup is two adjacent
//! loads from `offsets` and a contiguous run of `positions`.
//!
//! # The radius bound
//! Let substring `i` be searched to radius `rho_i` (`-1` meaning not searched). If a code is
//! within `r` of the query, its substring distances `d_i` sum to at most `r`; if every `d_i`
//! exceeded `rho_i`, the sum would be at least `sum(rho_i + 1)`. So choosing radii with
//! `sum(rho_i + 1) >= r + 1` guarantees every hit matches some substring within its radius: the
//! search is exact. With equal lengths, spreading the `r + 1` units evenly gives Norouzi's refined
//! bound (for `r = m*q + a`: `a + 1` substrings to radius `q`, the rest to `q - 1`), which is
//! tighter than searching all `m` substrings to `floor(r/m)`. When lengths differ (256 bits in 11
//! substrings are 3 of 24 bits and 8 of 23), the units go greedily to the substring whose next
//! radius step is cheapest: `C(len, rho + 1)` more buckets, each probe costing a lookup plus an
//! expected `N / 2^len` candidates.
//!
//! # The search
//! For each searched substring, every value within its radius of the query's substring is
//! enumerated (Gosper's hack over masks of each weight) and its bucket range read into a list;
//! the list is then walked, each position tested-and-set in a visited bit set (a code can appear
//! under several substrings), and the new ones verified by full Hamming distance. Doing the
//! three steps in separate passes keeps many independent cache misses in flight, which is what
//! software prefetching would otherwise be for, without `unsafe`.
//!
//! # Choosing m
//! Norouzi's analysis puts the optimum near `m = B / log2 N`: each substring then has about as
//! many buckets as there are codes, so a probe finds about one candidate. 256-bit codes at
//! N = 10M give `m = 11`; 64-bit codes give `m = 3`. Substrings are kept between
//! `MIN_SUBSTRING_BITS` and `MAX_SUBSTRING_BITS` bits (a 28-bit table's offsets take 1 GiB).
//!
//! # When the linear scan wins
//! The probe count grows like `m * C(B/m, r/m)`; at 10M PDQ codes radius 31 needs about 2,900
//! probes and as many expected candidates, radius 63 about 470,000 of each. Each probe and each
//! candidate is a cache miss in a structure far larger than the caches, while the batched linear
//! scan compares a code in under 2 ns from a block that stays in L2. `MultiIndex::plan`
//! estimates the multi-index cost from the enumeration size and `N` (`PROBE_NS`, `CANDIDATE_NS`)
//! and the index compares it with `N * SCAN_NS_PER_CODE`. On 10M uniform or clustered PDQ codes
//! (bench/results/index/) multi-index hashing is faster up to radius 47 and the batched scan
//! at radius 63, which is where the estimate switches. The estimate assumes uniform codes; for
//! data clustered within substrings the real candidate count of a hit query is higher.
//! Software prefetching of the next bucket was not added: the passes above already issue
//! independent loads, and `core::arch` prefetch needs `unsafe`, which no measurement here has
//! justified.

use std::sync::OnceLock;

use super::bitset::Bitset;
use super::code::{hamming, substring};
use super::linear::Hit;

/// Shortest substring: below this the tables are tiny and enumeration is wasted.
pub const MIN_SUBSTRING_BITS: u32 = 4;
/// Longest substring: a table's offsets take `4 * 2^len` bytes (1 GiB at 28 bits).
pub const MAX_SUBSTRING_BITS: u32 = 28;

/// Estimated cost of one bucket probe (two loads from a large offsets array), in nanoseconds.
const PROBE_NS: f64 = 12.0;
/// Estimated cost of one candidate (visited test, random read of its code, distance), in ns.
const CANDIDATE_NS: f64 = 25.0;
/// Estimated cost of comparing one code in a batched linear scan, in ns.
pub(crate) const SCAN_NS_PER_CODE: f64 = 1.0;

/// The number of substrings for `n` codes of `bits` bits: `bits / log2 n`, rounded, then
/// clamped so every substring has `MIN_SUBSTRING_BITS..=MAX_SUBSTRING_BITS` bits.
pub fn substrings_for(bits: u32, n: usize) -> usize {
    let log2n = (n.max(2) as f64).log2();
    let target = log2n.clamp(MIN_SUBSTRING_BITS as f64, MAX_SUBSTRING_BITS as f64);
    let m = (bits as f64 / target).round() as u32;
    let fewest = bits.div_ceil(MAX_SUBSTRING_BITS);
    let most = (bits / MIN_SUBSTRING_BITS).max(1);
    m.clamp(fewest, most) as usize
}

/// Bits `start .. start + len` of every code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Substring {
    start: u32,
    len: u32,
}

/// One substring's buckets: bucket `v` holds `positions[offsets[v]..offsets[v + 1]]`.
#[derive(Debug)]
struct Table {
    offsets: Vec<u32>,
    positions: Vec<u32>,
}

/// The substring tables over a fixed array of codes.
#[derive(Debug)]
pub(crate) struct MultiIndex {
    substrings: Vec<Substring>,
    tables: Vec<Table>,
    words_per_code: usize,
    len: usize,
    /// Plans by radius (`0..=bits`), computed on first use.
    plans: Vec<OnceLock<Plan>>,
}

/// How a query at one radius would be answered by the tables, and what it would cost.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// Search radius per substring; `-1` means the substring is not searched.
    pub(crate) radii: Vec<i32>,
    /// Buckets probed.
    pub(crate) probes: f64,
    /// Expected candidates for a query independent of the data (uniform codes).
    pub(crate) candidates: f64,
}

impl Plan {
    /// Estimated nanoseconds per query.
    pub(crate) fn cost_ns(&self) -> f64 {
        self.probes * PROBE_NS + self.candidates * CANDIDATE_NS
    }
}

/// Per-thread working memory of a query, reused between queries.
#[derive(Default)]
pub(crate) struct Scratch {
    visited: Bitset,
    ranges: Vec<(u32, u32)>,
    candidates: Vec<u32>,
}

impl MultiIndex {
    /// Builds `m` tables over `codes` (`words_per_code` words each, `64 * words_per_code` bits).
    pub(crate) fn build(codes: &[u64], words_per_code: usize, m: usize) -> Self {
        let bits = 64 * words_per_code as u32;
        let n = codes.len() / words_per_code;
        assert!(n <= u32::MAX as usize, "positions are u32");
        let m = m as u32;
        let (short, extra) = (bits / m, bits % m);
        // The first `extra` substrings get one more bit.
        let mut substrings = Vec::with_capacity(m as usize);
        let mut start = 0;
        for i in 0..m {
            let len = short + u32::from(i < extra);
            substrings.push(Substring { start, len });
            start += len;
        }
        debug_assert_eq!(start, bits);
        let mut keys = vec![0u32; n];
        let tables = substrings
            .iter()
            .map(|s| {
                for (key, code) in keys.iter_mut().zip(codes.chunks_exact(words_per_code)) {
                    *key = substring(code, s.start, s.len);
                }
                Table::build(&keys, s.len)
            })
            .collect();
        MultiIndex {
            substrings,
            tables,
            words_per_code,
            len: n,
            plans: (0..=bits).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Number of substrings.
    pub(crate) fn substrings(&self) -> usize {
        self.substrings.len()
    }

    /// Heap bytes of the tables.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| 4 * (t.offsets.capacity() + t.positions.capacity()))
            .sum()
    }

    /// Per-substring radii for an exact search at `radius`, chosen greedily by marginal cost.
    /// Radii past the code width share the plan for the width: every code is within it, and
    /// that plan makes every code a candidate.
    pub(crate) fn plan(&self, radius: u32) -> &Plan {
        let radius = radius.min(self.plans.len() as u32 - 1);
        self.plans[radius as usize].get_or_init(|| self.make_plan(radius))
    }

    fn make_plan(&self, radius: u32) -> Plan {
        let n = self.len as f64;
        let bucket_cost = |len: u32| PROBE_NS + CANDIDATE_NS * n / (len as f64).exp2();
        let mut radii = vec![-1i32; self.substrings.len()];
        // `sum(rho_i + 1) >= radius + 1` makes the search exact (module docs).
        for _ in 0..=radius {
            let cheapest = self
                .substrings
                .iter()
                .zip(&radii)
                .enumerate()
                .filter(|(_, (s, &rho))| rho < s.len as i32)
                .map(|(i, (s, &rho))| (i, binomial(s.len, (rho + 1) as u32) * bucket_cost(s.len)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match cheapest {
                Some((i, _)) => radii[i] += 1,
                // Every substring is searched in full: every code is a candidate.
                None => break,
            }
        }
        let (mut probes, mut candidates) = (0.0, 0.0);
        for (s, &rho) in self.substrings.iter().zip(&radii) {
            let p: f64 = (0..=rho).map(|w| binomial(s.len, w as u32)).sum();
            probes += p;
            candidates += p * n / (s.len as f64).exp2();
        }
        Plan {
            radii,
            probes,
            candidates: candidates.min(n),
            // A code found under several substrings is verified once, hence the cap at n.
        }
    }

    /// Appends to `out` every position within `radius` of `query` that `skip` (tombstones, if
    /// any) does not contain, in no particular order. (The arguments are the index's parts and
    /// the caller's reusable buffers; bundling them would only rename them.)
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search(
        &self,
        codes: &[u64],
        query: &[u64],
        radius: u32,
        plan: &Plan,
        skip: Option<&Bitset>,
        scratch: &mut Scratch,
        out: &mut Vec<Hit>,
    ) {
        let w = self.words_per_code;
        if scratch.visited.len() < self.len {
            scratch.visited = Bitset::new(self.len);
        }
        scratch.ranges.clear();
        scratch.candidates.clear();

        // Pass 1: bucket ranges of every enumerated substring value.
        for ((s, table), &rho) in self.substrings.iter().zip(&self.tables).zip(&plan.radii) {
            if rho < 0 {
                continue;
            }
            let key = substring(query, s.start, s.len);
            let ranges = &mut scratch.ranges;
            for weight in 0..=rho as u32 {
                for_each_mask(s.len, weight, |mask| {
                    let bucket = (key ^ mask) as usize;
                    let (a, b) = (table.offsets[bucket], table.offsets[bucket + 1]);
                    if a != b {
                        ranges.push((a, b));
                    }
                });
            }
            // Pass 2 per table, so that `ranges` refers to this table's positions.
            for &(a, b) in ranges.iter() {
                for &pos in &table.positions[a as usize..b as usize] {
                    if scratch.visited.insert(pos as usize) {
                        scratch.candidates.push(pos);
                    }
                }
            }
            ranges.clear();
        }

        // Pass 3: verify each candidate once by its full distance.
        for &pos in &scratch.candidates {
            let p = pos as usize;
            let distance = hamming(&codes[p * w..p * w + w], query);
            if distance <= radius && !skip.is_some_and(|t| t.contains(p)) {
                out.push(Hit { distance, pos });
            }
        }
        for &pos in &scratch.candidates {
            scratch.visited.remove(pos as usize);
        }
    }
}

impl Table {
    /// Counting sort of positions by key: `keys[pos]` is the substring value of code `pos`.
    fn build(keys: &[u32], len: u32) -> Table {
        let buckets = 1usize << len;
        let mut offsets = vec![0u32; buckets + 1];
        for &k in keys {
            offsets[k as usize + 1] += 1;
        }
        for i in 0..buckets {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets[..buckets].to_vec();
        let mut positions = vec![0u32; keys.len()];
        for (pos, &k) in keys.iter().enumerate() {
            let c = &mut cursor[k as usize];
            positions[*c as usize] = pos as u32;
            *c += 1;
        }
        Table { offsets, positions }
    }
}

/// Calls `f` with every `len`-bit mask of exactly `weight` set bits, in increasing order.
#[inline]
fn for_each_mask(len: u32, weight: u32, mut f: impl FnMut(u32)) {
    if weight == 0 {
        f(0);
        return;
    }
    if weight > len {
        return;
    }
    let limit = 1u64 << len;
    let mut x = (1u64 << weight) - 1;
    while x < limit {
        f(x as u32);
        // Gosper's hack: the next larger integer with the same number of set bits.
        let lowest = x & x.wrapping_neg();
        let ripple = x + lowest;
        x = (((ripple ^ x) >> 2) >> lowest.trailing_zeros()) | ripple;
    }
}

/// `C(n, k)` as a float (exact for the sizes used here).
fn binomial(n: u32, k: u32) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cover_every_value_of_each_weight_once() {
        for len in 1..=10u32 {
            let mut seen = vec![0u32; 1 << len];
            for weight in 0..=len + 1 {
                let mut count = 0.0;
                for_each_mask(len, weight, |m| {
                    assert_eq!(m.count_ones(), weight);
                    seen[m as usize] += 1;
                    count += 1.0;
                });
                assert_eq!(count, binomial(len, weight));
            }
            assert!(seen.iter().all(|&s| s == 1));
        }
    }

    #[test]
    fn m_is_bits_over_log2_n() {
        assert_eq!(substrings_for(256, 10_000_000), 11);
        assert_eq!(substrings_for(64, 10_000_000), 3);
        assert_eq!(substrings_for(256, 0), 64);
        assert_eq!(substrings_for(64, 1), 16);
        assert_eq!(substrings_for(256, usize::MAX), 10);
    }

    #[test]
    fn equal_substrings_get_the_refined_pigeonhole_radii() {
        // 64 bits in 4 substrings of 16: r = 4*q + a gives a + 1 at q and the rest at q - 1.
        let codes = vec![0u64; 1000];
        let index = MultiIndex::build(&codes, 1, 4);
        for (r, want) in [
            (0, vec![0, -1, -1, -1]),
            (3, vec![0, 0, 0, 0]),
            (9, vec![2, 2, 1, 1]),
            (11, vec![2, 2, 2, 2]),
        ] {
            let mut got = index.plan(r).radii.clone();
            got.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(got, want, "radius {r}");
        }
    }

    #[test]
    fn plan_satisfies_the_pigeonhole_condition_for_unequal_substrings() {
        let codes = vec![0u64; 4 * 3000];
        let index = MultiIndex::build(&codes, 4, 11);
        for r in 0..=256 {
            let plan = index.plan(r);
            let units: i64 = plan.radii.iter().map(|&rho| i64::from(rho) + 1).sum();
            let full = index
                .substrings
                .iter()
                .zip(&plan.radii)
                .all(|(s, &rho)| rho == s.len as i32);
            assert!(units > i64::from(r) || full, "radius {r}");
        }
    }
}
