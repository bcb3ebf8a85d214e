//! The index against its oracle (native only: proptest needs an OS random source). Every search
//! path — multi-index hashing, the batched linear scan, the automatic choice, single queries and
//! batches — must return exactly what `linear_search` returns over the live entries.

use std::collections::BTreeMap;

use pixelprint::index::{
    linear_search, Code, Code64, EntryId, Index, IndexError, IndexOptions, Match,
    Strategy as Search,
};
use pixelprint::PdqHash;
use proptest::prelude::*;

/// splitmix64: deterministic codes from a proptest-chosen seed, so thousands of codes per case
/// cost one integer of shrinking state.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Codes built from random words and single-bit flips.
trait TestCode: Code + PartialEq + std::fmt::Debug {
    fn random(rng: &mut Rng) -> Self;
    fn flip(self, bit: usize) -> Self;
}

impl TestCode for PdqHash {
    fn random(rng: &mut Rng) -> Self {
        PdqHash::from_bytes(core::array::from_fn(|_| rng.next() as u8))
    }
    fn flip(self, bit: usize) -> Self {
        let mut bytes = *self.as_bytes();
        bytes[31 - bit / 8] ^= 1 << (bit % 8);
        PdqHash::from_bytes(bytes)
    }
}

impl TestCode for Code64 {
    fn random(rng: &mut Rng) -> Self {
        Code64(rng.next())
    }
    fn flip(self, bit: usize) -> Self {
        Code64(self.0 ^ 1 << bit)
    }
}

fn perturb<C: TestCode>(mut code: C, max_flips: u64, rng: &mut Rng) -> C {
    for _ in 0..rng.below(max_flips + 1) {
        code = code.flip(rng.below(u64::from(C::BITS)) as usize);
    }
    code
}

/// Uniform codes, or a few centres each surrounded by codes a few bits away (and some exact
/// duplicates, since zero flips is allowed).
fn codes<C: TestCode>(n: usize, clustered: bool, rng: &mut Rng) -> Vec<C> {
    if !clustered {
        return (0..n).map(|_| C::random(rng)).collect();
    }
    let centres: Vec<C> = (0..1 + rng.below(6)).map(|_| C::random(rng)).collect();
    (0..n)
        .map(|_| {
            let centre = centres[rng.below(centres.len() as u64) as usize];
            perturb(centre, u64::from(C::BITS) / 20, rng)
        })
        .collect()
}

/// Ids scattered over a wide range and given out of order, as a database would.
fn entries<C: TestCode>(codes: &[C], rng: &mut Rng) -> Vec<(EntryId, C)> {
    let mut ids: Vec<u64> = (0..codes.len() as u64)
        .map(|i| i * 1000 + rng.below(1000))
        .collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    ids.into_iter()
        .map(EntryId)
        .zip(codes.iter().copied())
        .collect()
}

/// Queries: random codes (mostly misses) and stored codes a few bits off (hits).
fn queries<C: TestCode>(stored: &[C], rng: &mut Rng) -> Vec<C> {
    let mut qs: Vec<C> = (0..3).map(|_| C::random(rng)).collect();
    for _ in 0..5 {
        if stored.is_empty() {
            break;
        }
        let c = stored[rng.below(stored.len() as u64) as usize];
        qs.push(perturb(c, 24, rng));
    }
    qs
}

/// Every search path of `index` equals the oracle over `live` for every query.
fn assert_equals_oracle<C: TestCode>(
    index: &Index<C>,
    live: &[(EntryId, C)],
    queries: &[C],
    radius: u32,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(index.len(), live.len());
    let want: Vec<Vec<Match>> = queries
        .iter()
        .map(|q| linear_search(live, q, radius))
        .collect();
    for strategy in [Search::Auto, Search::MultiIndex, Search::Linear] {
        for (q, want) in queries.iter().zip(&want) {
            prop_assert_eq!(
                &index.search_with(q, radius, strategy),
                want,
                "{:?} radius {}",
                strategy,
                radius
            );
        }
        prop_assert_eq!(
            &index.search_batch_with(queries, radius, strategy),
            &want,
            "batch {:?} radius {}",
            strategy,
            radius
        );
    }
    Ok(())
}

/// Substring counts to force: automatic, or any valid count (unequal lengths included).
fn substrings(bits: u32) -> impl Strategy<Value = Option<usize>> {
    let min = bits.div_ceil(28) as usize;
    prop_oneof![Just(None), (min..=bits as usize / 2).prop_map(Some)]
}

fn index_equals_linear_scan<C: TestCode>(
    seed: u64,
    n: usize,
    clustered: bool,
    radius: u32,
    substrings: Option<usize>,
) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let stored: Vec<C> = codes(n, clustered, &mut rng);
    let entries = entries(&stored, &mut rng);
    let index = Index::build_with(entries.clone(), IndexOptions { substrings }).unwrap();
    let qs = queries(&stored, &mut rng);
    assert_equals_oracle(&index, &entries, &qs, radius)
}

#[derive(Clone, Debug)]
enum Op {
    Insert { id: u64, from_stored: bool },
    Remove { id: u64 },
    Rebuild,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0u64..600, any::<bool>()).prop_map(|(id, from_stored)| Op::Insert { id, from_stored }),
            4 => (0u64..600).prop_map(|id| Op::Remove { id }),
            1 => Just(Op::Rebuild),
        ],
        0..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn index_equals_linear_scan_for_pdq_codes(
        seed in any::<u64>(), n in 0usize..3000, clustered in any::<bool>(), radius in 0u32..=70,
        substrings in substrings(256),
    ) {
        index_equals_linear_scan::<PdqHash>(seed, n, clustered, radius, substrings)?;
    }

    #[test]
    fn index_equals_linear_scan_for_64_bit_codes(
        seed in any::<u64>(), n in 0usize..3000, clustered in any::<bool>(), radius in 0u32..=70,
        substrings in substrings(64),
    ) {
        index_equals_linear_scan::<Code64>(seed, n, clustered, radius, substrings)?;
    }

    #[test]
    fn index_equals_linear_scan_after_inserts_removals_and_rebuilds(
        seed in any::<u64>(), n in 0usize..600, clustered in any::<bool>(), radius in 0u32..=70,
        ops in ops(),
    ) {
        let mut rng = Rng(seed);
        let stored: Vec<PdqHash> = codes(n, clustered, &mut rng);
        let initial: Vec<(EntryId, PdqHash)> =
            stored.iter().enumerate().map(|(i, &c)| (EntryId(i as u64), c)).collect();
        let mut model: BTreeMap<EntryId, PdqHash> = initial.iter().copied().collect();
        let mut index = Index::build(initial).unwrap();
        for op in ops {
            match op {
                Op::Insert { id, from_stored } => {
                    // Copies of stored codes make duplicates and near-duplicates.
                    let code = if from_stored && !stored.is_empty() {
                        perturb(stored[rng.below(stored.len() as u64) as usize], 3, &mut rng)
                    } else {
                        PdqHash::random(&mut rng)
                    };
                    let had = model.insert(EntryId(id), code).is_some();
                    prop_assert_eq!(index.insert(EntryId(id), code), had);
                }
                Op::Remove { id } => {
                    let had = model.remove(&EntryId(id)).is_some();
                    prop_assert_eq!(index.remove(EntryId(id)), had);
                }
                Op::Rebuild => {
                    index.rebuild();
                    prop_assert_eq!(index.stats().delta_entries, 0);
                    prop_assert_eq!(index.stats().tombstones, 0);
                }
            }
            prop_assert_eq!(index.contains(EntryId(7)), model.contains_key(&EntryId(7)));
        }
        let live: Vec<(EntryId, PdqHash)> = model.into_iter().collect();
        let qs = queries(&stored, &mut rng);
        assert_equals_oracle(&index, &live, &qs, radius)?;
    }

    #[test]
    fn a_background_rebuild_keeps_the_changes_made_while_it_ran(
        seed in any::<u64>(), n in 0usize..600, before in ops(), during in ops(), radius in 0u32..=70,
    ) {
        let mut rng = Rng(seed);
        let stored: Vec<PdqHash> = codes(n, true, &mut rng);
        let initial: Vec<(EntryId, PdqHash)> =
            stored.iter().enumerate().map(|(i, &c)| (EntryId(i as u64), c)).collect();
        let mut model: BTreeMap<EntryId, PdqHash> = initial.iter().copied().collect();
        let mut index = Index::build(initial).unwrap();
        let mut apply = |index: &mut Index<PdqHash>, ops: &[Op], rng: &mut Rng| {
            for op in ops {
                match *op {
                    Op::Insert { id, .. } => {
                        let code = PdqHash::random(rng);
                        model.insert(EntryId(id), code);
                        index.insert(EntryId(id), code);
                    }
                    Op::Remove { id } => {
                        model.remove(&EntryId(id));
                        index.remove(EntryId(id));
                    }
                    Op::Rebuild => {}
                }
            }
        };
        apply(&mut index, &before, &mut rng);
        let job = index.begin_rebuild();
        let rebuilt = std::thread::spawn(move || job.run()).join().unwrap();
        apply(&mut index, &during, &mut rng);
        index.finish_rebuild(rebuilt).unwrap();
        let live: Vec<(EntryId, PdqHash)> = model.into_iter().collect();
        let qs = queries(&stored, &mut rng);
        assert_equals_oracle(&index, &live, &qs, radius)?;
    }
}

#[test]
fn an_empty_index_finds_nothing_at_any_radius() {
    let index = Index::<PdqHash>::new();
    assert!(index.is_empty());
    for radius in [0, 31, 256, u32::MAX] {
        for strategy in [Search::Auto, Search::MultiIndex, Search::Linear] {
            assert!(index
                .search_with(&PdqHash::ZERO, radius, strategy)
                .is_empty());
        }
    }
    assert_eq!(
        Index::<Code64>::build(Vec::new())
            .unwrap()
            .search(&Code64(0), 64),
        vec![]
    );
}

#[test]
fn duplicate_hashes_are_all_returned_in_id_order() {
    let h = PdqHash::from_bytes([0x5A; 32]);
    let entries: Vec<(EntryId, PdqHash)> = (0..50).rev().map(|i| (EntryId(i), h)).collect();
    let index = Index::build(entries).unwrap();
    for strategy in [Search::MultiIndex, Search::Linear] {
        let found = index.search_with(&h, 0, strategy);
        let want: Vec<Match> = (0..50)
            .map(|i| Match {
                distance: 0,
                id: EntryId(i),
            })
            .collect();
        assert_eq!(found, want);
    }
}

#[test]
fn radii_past_the_code_width_return_every_entry() {
    let mut rng = Rng(3);
    let stored: Vec<PdqHash> = codes(500, false, &mut rng);
    let entries = entries(&stored, &mut rng);
    let index = Index::build(entries.clone()).unwrap();
    for radius in [256, 300, u32::MAX] {
        for strategy in [Search::MultiIndex, Search::Linear, Search::Auto] {
            assert_eq!(
                index.search_with(&PdqHash::ZERO, radius, strategy),
                linear_search(&entries, &PdqHash::ZERO, radius)
            );
        }
    }
}

#[test]
fn build_rejects_duplicate_ids_and_impossible_substring_counts() {
    let h = PdqHash::ZERO;
    assert_eq!(
        Index::build(vec![(EntryId(4), h), (EntryId(1), h), (EntryId(4), h)]).err(),
        Some(IndexError::DuplicateId(EntryId(4)))
    );
    let err = Index::build_with(
        vec![(EntryId(1), h)],
        IndexOptions {
            substrings: Some(1),
        },
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "256-bit codes need 10..=256 substrings, found 1"
    );
}

#[test]
fn a_finished_or_superseded_rebuild_is_refused() {
    let mut index = Index::build(vec![(EntryId(1), PdqHash::ZERO)]).unwrap();
    let old = index.begin_rebuild().run();
    let new = index.begin_rebuild().run();
    assert_eq!(
        index.finish_rebuild(old).err(),
        Some(IndexError::StaleRebuild)
    );
    assert_eq!(index.finish_rebuild(new), Ok(()));
    let again = index.begin_rebuild().run();
    index.rebuild();
    assert_eq!(
        index.finish_rebuild(again).err(),
        Some(IndexError::StaleRebuild)
    );
    assert_eq!(index.len(), 1);
}

#[test]
fn auto_picks_multi_index_at_small_radii_and_the_scan_at_large_ones() {
    let mut rng = Rng(9);
    let stored: Vec<PdqHash> = codes(100_000, false, &mut rng);
    let index = Index::build(entries(&stored, &mut rng)).unwrap();
    assert_eq!(index.strategy_for(8), Search::MultiIndex);
    assert_eq!(index.strategy_for(120), Search::Linear);
}

#[test]
fn an_index_holds_its_codes_ids_and_tables_and_little_else() {
    let mut rng = Rng(11);
    let n = 50_000;
    let stored: Vec<PdqHash> = codes(n, false, &mut rng);
    let index = Index::build(entries(&stored, &mut rng)).unwrap();
    let stats = index.stats();
    let m = stats.substrings;
    let (short, extra) = (256 / m, 256 % m);
    let offsets: usize = (0..m)
        .map(|i| 4 * ((1usize << (short + usize::from(i < extra))) + 1))
        .sum();
    let want = n * (8 + 32) + m * 4 * n + offsets + n.div_ceil(64) * 8;
    assert_eq!(stats.heap_bytes, want);
}
