//! Which algorithms a bank matches by, and at what threshold: the bank's own (`PATCH
//! /v1/banks/{name}`) or the registry's, within the server's caps; each with the false-positive
//! rate per pair measured at the registry's threshold (`pixelprint::FpRate`) and the false hits
//! a query should expect from the bank at its size (entries × the rates of the query's hashes
//! searched against them: PDQ and its five variants, pHash and the mirrored pHash).
//!
//! A 64-bit hash is matched in a bank only while that expectation is within the budget
//! (`--false-hit-budget`, 1e-3 per query by default): above the size where its measured bound
//! passes the budget, the bank stops matching by it (docs/thresholds.md). 256-bit hashes are not
//! limited. aHash and wHash are matched only where the bank's operator turns them on.

use std::collections::HashMap;

use pixelprint::matching::Policy;
use pixelprint::{Algorithm, AlgorithmMap};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::model::{BankMode, BankSettings, BANK_ALGORITHMS};
use crate::state::Limits;

/// The bank algorithms matched by distance.
pub fn threshold_algorithms() -> impl Iterator<Item = Algorithm> {
    BANK_ALGORITHMS.into_iter().filter(|a| a.is_perceptual())
}

/// The largest threshold the server allows for `a` (`--max-pdq-threshold`, `--max-h64-threshold`).
pub fn cap(limits: &Limits, a: Algorithm) -> u32 {
    if a.bits() == 64 {
        limits.h64_max_threshold
    } else {
        limits.pdq_max_threshold
    }
}

/// The query hashes searched against entries of `a` (`a` itself and the registry's variants
/// matched against it by default): PDQ, its dihedral, trimmed, embedded, captioned and
/// straightened variants; pHash and the mirrored pHash; else `a` alone.
pub fn query_hashes(a: Algorithm) -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(move |q| q.entry_algorithm() == a && (*q == a || q.matched_by_default()))
}

/// `x` to three significant digits (a report's figure, not a float's tail).
fn three_digits(x: f64) -> f64 {
    format!("{x:.2e}").parse().unwrap_or(x)
}

/// How a bank uses one algorithm, as `GET /v1/banks` reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlgorithmUse {
    /// The bank's live entries of this algorithm.
    pub entries: usize,
    /// The threshold in force: the bank's, else the registry's, within the server's cap.
    pub threshold: u32,
    /// The 95 % upper bound on the false-positive rate per pair at `threshold` (`None`: not
    /// measured at or above it).
    pub fp_rate_per_pair_bound: Option<f64>,
    /// `entries` × the bounds of the query's hashes searched against them (`query_hashes`: six
    /// for PDQ, two for pHash): the false hits one query should expect here.
    pub expected_false_hits_per_query: Option<f64>,
    /// Whether the bank matches by it.
    pub matching: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How a bank with `settings` and `entries` live entries of `a` uses it.
pub fn algorithm_use(
    limits: &Limits,
    settings: &BankSettings,
    a: Algorithm,
    entries: usize,
) -> AlgorithmUse {
    let default = a.match_threshold().unwrap_or(0);
    let threshold = settings.threshold(a).unwrap_or(default).min(cap(limits, a));
    // The rate can only grow with the threshold: the one measured at the registry's holds below.
    let bound = a
        .fp_rate_per_pair()
        .filter(|_| threshold <= default)
        .map(|fp| fp.upper_bound);
    let per_entry = bound.map(|_| {
        query_hashes(a)
            .filter_map(|q| q.fp_rate_per_pair())
            .map(|fp| fp.upper_bound)
            .sum::<f64>()
    });
    let expected = per_entry.map(|r| r * entries as f64);
    let budget = limits.false_hit_budget;
    let reason = if !settings.matches_by(a) {
        Some(if a.matched_by_default() {
            format!("{a} is turned off for this bank")
        } else {
            format!(
                "{a} is matched only where the bank's operator turns it on: its false-positive \
                 rate is over 1e-6 per pair from threshold 2 (docs/thresholds.md)"
            )
        })
    } else if a.bits() != 64 {
        None
    } else {
        match expected {
            None => Some(format!(
                "{a} has no measured false-positive rate at threshold {threshold} (measured at \
                 {default}): 64-bit hashes are matched only where one bounds the expected false hits"
            )),
            Some(e) if e > budget => {
                let per_entry = per_entry.unwrap_or(1.0);
                let most = (budget / per_entry).floor();
                let hashes = query_hashes(a).count();
                Some(format!(
                    "{entries} entries at up to {:.1e} false positives per pair, searched by {hashes} \
                     of a query's hashes, expect {e:.1e} false hits per query, over the budget of \
                     {budget:e}: {a} is matched in banks of at most {most} {a} entries at threshold \
                     {threshold}",
                    bound.unwrap_or(0.0)
                ))
            }
            Some(_) => None,
        }
    };
    AlgorithmUse {
        entries,
        threshold,
        fp_rate_per_pair_bound: bound,
        expected_false_hits_per_query: expected.map(three_digits),
        matching: reason.is_none(),
        reason,
    }
}

/// What one hit is under the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Match,
    /// Not a match, but within twice the threshold in a bank that matches by the algorithm.
    NearMiss,
    No,
}

/// The part a bank's hits play in an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankRole {
    Active,
    /// Counted and shown only to keyed callers who ask.
    Shadow,
    /// Its hits suppress the item's matches in every other bank.
    Negative,
    /// Matches nothing.
    Disabled,
}

/// The rules of one request: each bank's settings and sizes, the request's own thresholds.
pub struct Rules<'a> {
    pub limits: &'a Limits,
    pub settings: &'a HashMap<String, BankSettings>,
    pub catalog: &'a Catalog,
    /// A keyed caller's thresholds; they replace the banks', within the caps.
    pub requested: Option<&'a pixelprint::AlgorithmMap<u32>>,
}

impl Rules<'_> {
    fn requested(&self, a: Algorithm) -> Option<u32> {
        self.requested
            .and_then(|r| r.get(a).copied())
            .map(|t| t.min(cap(self.limits, a)))
    }

    /// What part `bank`'s hits play (docs/bank-controls.md).
    pub fn role(&self, bank: &str) -> BankRole {
        match self.settings.get(bank) {
            None => BankRole::Active,
            Some(s) => match (s.mode, s.negative) {
                (BankMode::Disabled, _) => BankRole::Disabled,
                (_, true) => BankRole::Negative,
                (BankMode::Shadow, false) => BankRole::Shadow,
                (BankMode::Active, false) => BankRole::Active,
            },
        }
    }

    /// Whether an entry of `a` in `bank` at `distance` from the query matches.
    pub fn admit(&self, bank: &str, a: Algorithm, distance: u32) -> Admission {
        if !a.is_perceptual() {
            return Admission::Match;
        }
        let none = BankSettings::default();
        let settings = self.settings.get(bank).unwrap_or(&none);
        let used = algorithm_use(self.limits, settings, a, self.catalog.bank_count(bank, a));
        if !used.matching {
            return Admission::No;
        }
        let t = self.requested(a).unwrap_or(used.threshold);
        if distance <= t {
            Admission::Match
        } else if distance <= t.saturating_mul(2).min(a.bits()) {
            Admission::NearMiss
        } else {
            Admission::No
        }
    }

    /// The searches' radii: per algorithm the largest threshold any bank may match at (twice
    /// that, at most the hash's width, when near misses are looked for).
    pub fn search_policy(&self, near_misses: bool) -> Policy {
        threshold_algorithms().fold(Policy::default(), |policy, a| {
            let cap = cap(self.limits, a);
            let radius = self.requested(a).unwrap_or_else(|| {
                let default = a.match_threshold().unwrap_or(0).min(cap);
                self.settings
                    .values()
                    .filter_map(|s| s.threshold(a))
                    .map(|t| t.min(cap))
                    .fold(default, u32::max)
            });
            let radius = if near_misses {
                radius.saturating_mul(2).min(a.bits())
            } else {
                radius
            };
            policy.with_threshold(a, radius)
        })
    }
}

/// The radius of a vPDQ query's frames: the request's PDQ threshold, else the registry's vPDQ
/// frame threshold (the reference's 31), within the PDQ cap. The vPDQ matcher's verdict is not a
/// distance, so the request's PDQ threshold is the only one that applies.
pub fn video_radius(limits: &Limits, requested: Option<&AlgorithmMap<u32>>) -> u32 {
    let a = Algorithm::Pdq;
    let threshold = requested
        .and_then(|r| r.get(a).copied())
        .unwrap_or_else(|| Algorithm::Vpdq.match_threshold().unwrap_or(0));
    threshold.min(cap(limits, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the default budget a 64-bit hash measured at 0 of 1,381,380 pairs (bound 2.2e-6) is
    /// matched in banks of up to 454 of its entries (1e-3 / 2.2e-6 = 454.5), pHash, searched by
    /// the plain and the mirrored pHash of a query, in banks of up to 227 (1e-3 / 4.4e-6); PDQ,
    /// searched by six, at any size.
    #[test]
    fn the_size_limit_is_the_budget_over_the_measured_bound() {
        let (l, none) = (Limits::for_tests(), BankSettings::default());
        let names = |a| query_hashes(a).map(Algorithm::name).collect::<Vec<_>>();
        assert_eq!(names(Algorithm::PHash), ["phash", "phash-mirrored"]);
        assert_eq!(names(Algorithm::DHash), ["dhash"]);
        assert_eq!(names(Algorithm::AHash), ["ahash"]);
        assert_eq!(names(Algorithm::Pdq).len(), 6);
        assert!(algorithm_use(&l, &none, Algorithm::PHash, 227).matching);
        let over = algorithm_use(&l, &none, Algorithm::PHash, 228);
        assert!(!over.matching);
        assert!(
            over.reason
                .as_deref()
                .unwrap()
                .contains("searched by 2 of a query's hashes")
                && over
                    .reason
                    .as_deref()
                    .unwrap()
                    .contains("at most 227 phash"),
            "{over:?}"
        );
        assert!(algorithm_use(&l, &none, Algorithm::DHash, 454).matching);
        assert!(!algorithm_use(&l, &none, Algorithm::DHash, 455).matching);
        let pdq = algorithm_use(&l, &none, Algorithm::Pdq, 10_000_000);
        assert!(pdq.matching);
        assert_eq!(pdq.threshold, 39);
        assert_eq!(pdq.fp_rate_per_pair_bound, Some(2.2e-6));
        assert_eq!(pdq.expected_false_hits_per_query, Some(132.0));
        // aHash only where turned on; a lower threshold keeps the bound, a higher one has none.
        assert!(!algorithm_use(&l, &none, Algorithm::AHash, 1).matching);
        let mut on = BankSettings::default();
        on.matching.insert("ahash".into(), true);
        on.thresholds.insert("phash".into(), 6);
        on.thresholds.insert("dhash".into(), 9);
        assert!(algorithm_use(&l, &on, Algorithm::AHash, 1).matching);
        let phash = algorithm_use(&l, &on, Algorithm::PHash, 200);
        assert_eq!((phash.threshold, phash.matching), (6, true));
        let dhash = algorithm_use(&l, &on, Algorithm::DHash, 1);
        assert_eq!((dhash.threshold, dhash.matching), (9, false));
        assert_eq!(dhash.fp_rate_per_pair_bound, None);
        // The cap bounds a stored threshold the server no longer allows.
        on.thresholds.insert("pdq".into(), 40);
        assert_eq!(algorithm_use(&l, &on, Algorithm::Pdq, 1).threshold, 39);
    }
}
