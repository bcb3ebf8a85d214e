//! Exact Hamming-distance search over a list of hashes: "which entries are within distance `r`
//! of this hash?", answered with every such entry and nothing else.
//!
//! An [`Index`] is an immutable base, searched by multi-index hashing ([`mih`]) or by a batched
//! linear scan ([`linear`]), whichever its cost estimate says is faster for the radius, plus an
//! append-only delta of recent inserts (scanned linearly) and tombstones for removed entries.
//! [`Index::rebuild`] folds the delta and the tombstones into a new base. For a server that must
//! keep answering while it rebuilds, the work splits in three: [`Index::begin_rebuild`] (cheap,
//! under the writer's lock), [`RebuildJob::run`] (the heavy part, on any thread, no lock), and
//! [`Index::finish_rebuild`] (swaps the new base in and replays the changes made meanwhile). The
//! base sits behind an [`Arc`], so cloning an index to publish a snapshot copies only the delta
//! and the tombstones.
//!
//! Results are always sorted by (distance, id) and equal, entry for entry, to
//! [`linear_search`] over the live entries: the property tests demand it.
//!
//! ```
//! use pixelprint::index::{EntryId, Index, Match};
//! use pixelprint::PdqHash;
//!
//! let a = PdqHash::from_bytes([0xAA; 32]);
//! let mut b_bytes = [0xAA; 32];
//! b_bytes[0] ^= 0b111;
//! let b = PdqHash::from_bytes(b_bytes);
//! let mut index = Index::build(vec![(EntryId(1), a), (EntryId(2), b)])?;
//! assert_eq!(
//!     index.search(&a, 3),
//!     vec![Match { distance: 0, id: EntryId(1) }, Match { distance: 3, id: EntryId(2) }]
//! );
//! index.remove(EntryId(1));
//! assert_eq!(index.search(&a, 3), vec![Match { distance: 3, id: EntryId(2) }]);
//! # Ok::<(), pixelprint::index::IndexError>(())
//! ```

mod bitset;
mod code;
pub mod linear;
pub mod mih;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use bitset::Bitset;
pub use code::{Code, Code64};
pub use linear::linear_search;
use linear::Hit;
use mih::{MultiIndex, Scratch};

/// The caller's identifier of an entry (a row id, a list position). Unique within an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryId(pub u64);

/// An entry within the search radius. Orders by distance, then id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    /// Hamming distance from the query.
    pub distance: u32,
    /// The matching entry.
    pub id: EntryId,
}

/// How the base is searched. Results never depend on it, only the time taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Whichever the cost estimate for the radius says is faster.
    #[default]
    Auto,
    /// Multi-index hashing.
    MultiIndex,
    /// The (batched) linear scan.
    Linear,
}

/// Why an index operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Two entries given to a build share an id.
    #[error("entry ids must be unique, found {0:?} twice")]
    DuplicateId(EntryId),
    /// More entries than positions are counted with (`u32`).
    #[error("an index holds at most {max} entries, found {found}")]
    TooManyEntries { max: usize, found: usize },
    /// A substring count that would give substrings outside the supported lengths.
    #[error("{bits}-bit codes need {min}..={max} substrings, found {found}")]
    Substrings {
        bits: u32,
        min: usize,
        max: usize,
        found: usize,
    },
    /// A rebuild finished for an index that has started another one since, or none.
    #[error("the rebuild does not belong to this index's current rebuild")]
    StaleRebuild,
}

/// Build settings. The default chooses everything from the number of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IndexOptions {
    /// Number of multi-index substrings; `None` picks [`mih::substrings_for`] of the base size.
    pub substrings: Option<usize>,
}

/// Sizes of an index and the memory it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexStats {
    /// Live entries.
    pub entries: usize,
    /// Entries in the base, including removed ones.
    pub base_entries: usize,
    /// Entries in the delta.
    pub delta_entries: usize,
    /// Removed base entries not yet folded away.
    pub tombstones: usize,
    /// Multi-index substrings of the base.
    pub substrings: usize,
    /// Heap bytes: codes, ids, tables, delta and tombstones.
    pub heap_bytes: usize,
}

/// The immutable part: codes by position, positions ordered by id.
struct Base<C> {
    ids: Vec<EntryId>,
    codes: Vec<u64>,
    tables: MultiIndex,
    _code: PhantomData<fn() -> C>,
}

impl<C: Code> Base<C> {
    /// `ids` ascending and unique, `codes` the matching codes' words back to back.
    fn build(ids: Vec<EntryId>, codes: Vec<u64>, options: IndexOptions) -> Self {
        let m = options
            .substrings
            .unwrap_or_else(|| mih::substrings_for(C::BITS, ids.len()));
        Base {
            tables: MultiIndex::build(&codes, C::WORDS, m),
            ids,
            codes,
            _code: PhantomData,
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn position(&self, id: EntryId) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }

    fn code(&self, pos: usize) -> &[u64] {
        &self.codes[pos * C::WORDS..(pos + 1) * C::WORDS]
    }

    fn heap_bytes(&self) -> usize {
        8 * (self.ids.capacity() + self.codes.capacity()) + self.tables.heap_bytes()
    }
}

/// Recent inserts, scanned linearly.
#[derive(Clone, Default)]
struct Delta {
    ids: Vec<EntryId>,
    codes: Vec<u64>,
    positions: HashMap<EntryId, usize>,
}

/// A change logged while a background rebuild runs, replayed onto its result.
#[derive(Clone)]
enum Change<C> {
    Insert(EntryId, C),
    Remove(EntryId),
}

/// An exact Hamming-distance index over codes of type `C` ([`crate::PdqHash`], [`Code64`]).
pub struct Index<C: Code> {
    base: Arc<Base<C>>,
    tombstones: Bitset,
    removed: usize,
    delta: Delta,
    options: IndexOptions,
    /// Changes since `begin_rebuild`, while a rebuild is pending.
    pending: Option<Vec<Change<C>>>,
    generation: u64,
}

impl<C: Code> Clone for Index<C> {
    fn clone(&self) -> Self {
        Index {
            base: Arc::clone(&self.base),
            tombstones: self.tombstones.clone(),
            removed: self.removed,
            delta: self.delta.clone(),
            options: self.options,
            pending: self.pending.clone(),
            generation: self.generation,
        }
    }
}

impl<C: Code> Default for Index<C> {
    fn default() -> Self {
        Self::from_sorted(Vec::new(), Vec::new(), IndexOptions::default())
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

impl<C: Code> Index<C> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// An index over `entries`, whose ids must be unique.
    pub fn build(entries: Vec<(EntryId, C)>) -> Result<Self, IndexError> {
        Self::build_with(entries, IndexOptions::default())
    }

    /// [`Index::build`] with explicit settings.
    pub fn build_with(
        mut entries: Vec<(EntryId, C)>,
        options: IndexOptions,
    ) -> Result<Self, IndexError> {
        if entries.len() > u32::MAX as usize {
            return Err(IndexError::TooManyEntries {
                max: u32::MAX as usize,
                found: entries.len(),
            });
        }
        if let Some(m) = options.substrings {
            let (min, max) = (
                C::BITS.div_ceil(mih::MAX_SUBSTRING_BITS) as usize,
                C::BITS as usize,
            );
            if !(min..=max).contains(&m) {
                return Err(IndexError::Substrings {
                    bits: C::BITS,
                    min,
                    max,
                    found: m,
                });
            }
        }
        if !entries.is_sorted_by_key(|e| e.0) {
            entries.sort_unstable_by_key(|e| e.0);
        }
        if let Some(pair) = entries.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(IndexError::DuplicateId(pair[0].0));
        }
        let mut codes = Vec::with_capacity(entries.len() * C::WORDS);
        for (_, code) in &entries {
            code::push_words(code, &mut codes);
        }
        // Collected from a borrow: `into_iter().map().collect()` would reuse the entries'
        // allocation, five times the size the ids need.
        let ids = entries.iter().map(|e| e.0).collect();
        drop(entries);
        Ok(Self::from_sorted(ids, codes, options))
    }

    fn from_sorted(ids: Vec<EntryId>, codes: Vec<u64>, options: IndexOptions) -> Self {
        let base = Base::build(ids, codes, options);
        Index {
            tombstones: Bitset::new(base.len()),
            base: Arc::new(base),
            removed: 0,
            delta: Delta::default(),
            options,
            pending: None,
            generation: 0,
        }
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.base.len() - self.removed + self.delta.ids.len()
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `id` is a live entry.
    pub fn contains(&self, id: EntryId) -> bool {
        self.delta.positions.contains_key(&id)
            || self
                .base
                .position(id)
                .is_some_and(|p| !self.tombstones.contains(p))
    }

    /// Adds `id` with `code`, replacing the entry `id` had. Returns whether it had one.
    pub fn insert(&mut self, id: EntryId, code: C) -> bool {
        if let Some(log) = &mut self.pending {
            log.push(Change::Insert(id, code));
        }
        if let Some(&i) = self.delta.positions.get(&id) {
            for (w, slot) in self.delta.codes[i * C::WORDS..(i + 1) * C::WORDS]
                .iter_mut()
                .enumerate()
            {
                *slot = code.word(w);
            }
            return true;
        }
        let replaced = self.remove_from_base(id);
        self.delta.positions.insert(id, self.delta.ids.len());
        self.delta.ids.push(id);
        code::push_words(&code, &mut self.delta.codes);
        replaced
    }

    /// Removes `id`. Returns whether it was present.
    pub fn remove(&mut self, id: EntryId) -> bool {
        if let Some(log) = &mut self.pending {
            log.push(Change::Remove(id));
        }
        if let Some(i) = self.delta.positions.remove(&id) {
            let last = self.delta.ids.len() - 1;
            self.delta.ids.swap_remove(i);
            if i != last {
                let (head, tail) = self.delta.codes.split_at_mut(last * C::WORDS);
                head[i * C::WORDS..(i + 1) * C::WORDS].copy_from_slice(&tail[..C::WORDS]);
                self.delta.positions.insert(self.delta.ids[i], i);
            }
            self.delta.codes.truncate(last * C::WORDS);
            return true;
        }
        self.remove_from_base(id)
    }

    fn remove_from_base(&mut self, id: EntryId) -> bool {
        match self.base.position(id) {
            Some(p) if self.tombstones.insert(p) => {
                self.removed += 1;
                true
            }
            _ => false,
        }
    }

    /// Every live entry within `radius` of `query`, sorted by (distance, id).
    pub fn search(&self, query: &C, radius: u32) -> Vec<Match> {
        self.search_with(query, radius, Strategy::Auto)
    }

    /// [`Index::search`] with the base searched as `strategy` says.
    pub fn search_with(&self, query: &C, radius: u32, strategy: Strategy) -> Vec<Match> {
        self.search_batch_with(std::slice::from_ref(query), radius, strategy)
            .pop()
            .unwrap_or_default()
    }

    /// [`Index::search`] for each query; the linear scan reads the codes once for the batch.
    pub fn search_batch(&self, queries: &[C], radius: u32) -> Vec<Vec<Match>> {
        self.search_batch_with(queries, radius, Strategy::Auto)
    }

    /// [`Index::search_batch`] with the base searched as `strategy` says.
    pub fn search_batch_with(
        &self,
        queries: &[C],
        radius: u32,
        strategy: Strategy,
    ) -> Vec<Vec<Match>> {
        let mut words = Vec::with_capacity(queries.len() * C::WORDS);
        for q in queries {
            code::push_words(q, &mut words);
        }
        let base = &*self.base;
        let mut hits = vec![Vec::new(); queries.len()];
        match self.resolve(strategy, radius) {
            Strategy::Linear => {
                linear::scan(&base.codes, C::WORDS, &words, radius, &mut hits);
                if self.removed > 0 {
                    for h in &mut hits {
                        h.retain(|hit| !self.tombstones.contains(hit.pos as usize));
                    }
                }
            }
            _ => {
                let plan = base.tables.plan(radius);
                let skip = (self.removed > 0).then_some(&self.tombstones);
                SCRATCH.with_borrow_mut(|scratch| {
                    for (q, out) in words.chunks_exact(C::WORDS).zip(&mut hits) {
                        base.tables
                            .search(&base.codes, q, radius, plan, skip, scratch, out);
                    }
                });
            }
        }
        let mut delta_hits = vec![Vec::new(); queries.len()];
        if !self.delta.ids.is_empty() {
            linear::scan(&self.delta.codes, C::WORDS, &words, radius, &mut delta_hits);
        }
        hits.into_iter()
            .zip(delta_hits)
            .map(|(base_hits, delta_hits)| {
                let mut out: Vec<Match> = base_hits
                    .iter()
                    .map(|h| Match {
                        distance: h.distance,
                        id: base.ids[h.pos as usize],
                    })
                    .chain(delta_hits.iter().map(|h: &Hit| Match {
                        distance: h.distance,
                        id: self.delta.ids[h.pos as usize],
                    }))
                    .collect();
                out.sort_unstable();
                out
            })
            .collect()
    }

    /// The strategy `Auto` resolves to for `radius` on the current base.
    pub fn strategy_for(&self, radius: u32) -> Strategy {
        self.resolve(Strategy::Auto, radius)
    }

    fn resolve(&self, strategy: Strategy, radius: u32) -> Strategy {
        match strategy {
            Strategy::Auto => {
                let base = &*self.base;
                let scan_ns = base.len() as f64 * mih::SCAN_NS_PER_CODE;
                if radius >= C::BITS || base.tables.plan(radius).cost_ns() >= scan_ns {
                    Strategy::Linear
                } else {
                    Strategy::MultiIndex
                }
            }
            chosen => chosen,
        }
    }

    /// Sizes and memory.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            entries: self.len(),
            base_entries: self.base.len(),
            delta_entries: self.delta.ids.len(),
            tombstones: self.removed,
            substrings: self.base.tables.substrings(),
            heap_bytes: self.base.heap_bytes()
                + self.tombstones.heap_bytes()
                + 8 * (self.delta.ids.capacity() + self.delta.codes.capacity())
                + self.delta.positions.capacity() * 24,
        }
    }

    /// Folds the delta and the tombstones into a new base, here and now.
    pub fn rebuild(&mut self) {
        let job = self.begin_rebuild();
        let rebuilt = job.run();
        self.install(rebuilt.base);
    }

    /// Starts a rebuild of the current contents: copies the delta and the tombstones and shares
    /// the base. Changes made from now on are logged and replayed by [`Index::finish_rebuild`].
    /// Starting another rebuild abandons this one.
    pub fn begin_rebuild(&mut self) -> RebuildJob<C> {
        self.generation += 1;
        self.pending = Some(Vec::new());
        RebuildJob {
            base: Arc::clone(&self.base),
            tombstones: self.tombstones.clone(),
            delta_ids: self.delta.ids.clone(),
            delta_codes: self.delta.codes.clone(),
            options: self.options,
            generation: self.generation,
        }
    }

    /// Swaps in the base a [`RebuildJob`] built and replays the changes made since it began.
    pub fn finish_rebuild(&mut self, rebuilt: Rebuilt<C>) -> Result<(), IndexError> {
        if self.pending.is_none() || rebuilt.generation != self.generation {
            return Err(IndexError::StaleRebuild);
        }
        self.install(rebuilt.base);
        Ok(())
    }

    fn install(&mut self, base: Base<C>) {
        let changes = self.pending.take().unwrap_or_default();
        self.tombstones = Bitset::new(base.len());
        self.base = Arc::new(base);
        self.removed = 0;
        self.delta = Delta::default();
        for change in changes {
            match change {
                Change::Insert(id, code) => {
                    self.insert(id, code);
                }
                Change::Remove(id) => {
                    self.remove(id);
                }
            }
        }
    }
}

/// The heavy half of a rebuild, detached from the index: `Send`, holds no lock.
pub struct RebuildJob<C: Code> {
    base: Arc<Base<C>>,
    tombstones: Bitset,
    delta_ids: Vec<EntryId>,
    delta_codes: Vec<u64>,
    options: IndexOptions,
    generation: u64,
}

/// A base built by [`RebuildJob::run`], ready for [`Index::finish_rebuild`].
pub struct Rebuilt<C: Code> {
    base: Base<C>,
    generation: u64,
}

impl<C: Code> RebuildJob<C> {
    /// Builds the new base: live base entries and the delta, ordered by id.
    pub fn run(self) -> Rebuilt<C> {
        let w = C::WORDS;
        let base = &*self.base;
        let mut order: Vec<(EntryId, &[u64])> = (0..base.len())
            .filter(|&p| !self.tombstones.contains(p))
            .map(|p| (base.ids[p], base.code(p)))
            .chain(
                self.delta_ids
                    .iter()
                    .zip(self.delta_codes.chunks_exact(w))
                    .map(|(&id, code)| (id, code)),
            )
            .collect();
        // Ids are unique across base and delta (an insert tombstones the base entry).
        order.sort_unstable_by_key(|e| e.0);
        let mut codes = Vec::with_capacity(order.len() * w);
        for (_, code) in &order {
            codes.extend_from_slice(code);
        }
        let ids = order.iter().map(|e| e.0).collect();
        Rebuilt {
            base: Base::build(ids, codes, self.options),
            generation: self.generation,
        }
    }
}
