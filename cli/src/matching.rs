//! `pixelprint match --list FILE PATH...`: which files are on a hash list.
//!
//! The list may mix signal types (see `pixelprint::hashlist`); each file is hashed with the
//! algorithms the list needs and matched against the list's entries by
//! `pixelprint::matching`: perceptual hashes by Hamming distance within the threshold, digests
//! by equality, PDQ hashes under quality 50 reported as not matchable.

use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use pixelprint::hashlist::{list_algorithm, parse_hash_list, ListEntry};
use pixelprint::matching::{match_against, EntryList, Policy, Query};
use pixelprint::pipeline::{AlgorithmSet, FileHashes};
use pixelprint::Algorithm;
use serde::Serialize;

use crate::files::{self, FileError};
use crate::{hash_options, Orientation};

#[derive(Args)]
pub struct MatchArgs {
    /// The hash list: plain hex (`hash[,metadata]`), `pdq <hex>` lines or HMA CSV.
    #[arg(long, short)]
    list: PathBuf,
    /// Signal type of plain hex lines.
    #[arg(long, default_value = "pdq")]
    list_type: String,
    /// Match within this many bits, for every perceptual type [default: per type, PDQ 39].
    #[arg(long, short)]
    threshold: Option<u32>,
    /// Also search the list's PDQ hashes with each file's eight dihedral PDQ hashes (turns and
    /// mirrors), its PDQ inside uniform borders (pdq-trimmed: letterbox bars, padding) and the
    /// PDQ of the largest picture embedded in it (pdq-embedded: a screenshot), its PDQ
    /// without caption bands (pdq-captioned: a band of text at the top or bottom) and the PDQ of
    /// its picture turned back upright (pdq-straightened: a small turn with filled corners); and
    /// the list's pHash hashes with each file's mirrored pHash (phash-mirrored); a hit found so
    /// names its `variant`.
    #[arg(long)]
    expand: bool,
    /// Use the list's valid lines even if some lines are broken (they are reported).
    #[arg(long)]
    skip_bad_lines: bool,
    /// EXIF orientation policy.
    #[arg(long, value_enum, default_value_t = Orientation::Ignore)]
    orientation: Orientation,
    /// Files hashed in parallel [default: the number of cores].
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Files and directories (searched recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Hit<'a> {
    signal: &'static str,
    hash: String,
    distance: u32,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
}

#[derive(Serialize)]
struct Report<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdq_quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_matchable: Option<String>,
    matches: Vec<Hit<'a>>,
}

#[derive(Serialize)]
struct Failure<'a> {
    path: &'a str,
    error: &'a FileError,
}

fn matches<'a>(
    hashes: &FileHashes,
    entries: &'a [ListEntry],
    index: &EntryList,
    policy: &Policy,
) -> (Vec<Hit<'a>>, Option<String>) {
    let outcome = match_against(index, &Query::from_file(hashes), policy);
    let hits = outcome
        .hits
        .iter()
        .filter_map(|h| {
            // Ids are positions in the list, in line order: hits stay sorted by (distance, line).
            let e = entries.get(usize::try_from(h.id.0).ok()?)?;
            Some(Hit {
                signal: e.algorithm.name(),
                hash: e.value.to_hex(),
                distance: h.distance,
                line: e.line,
                variant: h.variant.map(|v| v.name()),
                metadata: e.metadata.as_deref(),
            })
        })
        .collect();
    let not_matchable = outcome
        .not_matchable
        .map(|n| format!("pdq quality under {}", n.min_quality));
    (hits, not_matchable)
}

pub fn run(args: MatchArgs) -> u8 {
    let Some(default_type) = list_algorithm(&args.list_type) else {
        eprintln!("pixelprint: unknown --list-type {:?}", args.list_type);
        return 2;
    };
    let text = match files::read_limited(&args.list, 4 << 30) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!(
                "pixelprint: {}: {}: {}",
                args.list.display(),
                e.code,
                e.message
            );
            return 2;
        }
    };
    let list = parse_hash_list(&text, default_type);
    for e in &list.errors {
        eprintln!("pixelprint: {}: {e}", args.list.display());
    }
    if !list.errors.is_empty() && !args.skip_bad_lines {
        eprintln!(
            "pixelprint: {} broken lines in the list; fix them or pass --skip-bad-lines",
            list.errors.len()
        );
        return 2;
    }
    if list.entries.is_empty() {
        eprintln!("pixelprint: {}: no hashes in the list", args.list.display());
        return 2;
    }
    let mut algorithms: AlgorithmSet = list.entries.iter().map(|e| e.algorithm).collect();
    if args.expand && algorithms.contains(Algorithm::Pdq) {
        algorithms = algorithms
            .with(Algorithm::PdqDihedral)
            .with(Algorithm::PdqTrimmed)
            .with(Algorithm::PdqEmbedded)
            .with(Algorithm::PdqCaptioned)
            .with(Algorithm::PdqStraightened);
    }
    if args.expand && algorithms.contains(Algorithm::PHash) {
        algorithms = algorithms.with(Algorithm::PHashMirrored);
    }
    let mut index = EntryList::new();
    for e in &list.entries {
        index.push(e.algorithm, e.value);
    }
    // `--threshold` sets every perceptual algorithm's.
    let policy = Policy::default().map_thresholds(|_, t| args.threshold.unwrap_or(t));
    let options = hash_options(algorithms, args.orientation);
    let Some(inputs) = files::expand_reported(&args.paths) else {
        return 2;
    };
    let (mut any_match, mut failures) = (false, 0usize);
    let hidden = ProgressBar::hidden();
    let run = files::hash_in_order(&inputs, args.jobs, &options, &hidden, |path, result| {
        let line = match result {
            Ok(hashes) => {
                let (hits, not_matchable) = matches(hashes, &list.entries, &index, &policy);
                any_match |= !hits.is_empty();
                let pdq_quality = hashes.pdq().map(|p| p.quality);
                serde_json::to_string(&Report {
                    path,
                    pdq_quality,
                    not_matchable,
                    matches: hits,
                })
            }
            Err(error) => {
                failures += 1;
                serde_json::to_string(&Failure { path, error })
            }
        };
        println!("{}", line.unwrap_or_default());
        true
    });
    if let Err(e) = run {
        eprintln!("pixelprint: {e}");
        return 2;
    }
    if failures > 0 {
        2
    } else if any_match {
        0
    } else {
        1
    }
}
