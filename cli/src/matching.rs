//! `pixelprint match --list FILE PATH...`: which files are on a hash list.
//!
//! The list may mix signal types (see `pixelprint::hashlist`); each file is hashed with the
//! algorithms the list needs and compared with every entry of the same type: perceptual
//! hashes by Hamming distance within the threshold, digests by equality. PDQ hashes under
//! quality 50 are reported as not matchable, as the ecosystem's convention says.

use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use pixelprint::hashlist::{parse_hash_list, ListEntry, SignalType};
use pixelprint::pipeline::{hex_distance, AlgorithmSet, FileHashes, HashAlgorithm};
use pixelprint::PDQ_MIN_QUALITY;
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
    /// Match within this many bits, for every perceptual type [default: per type, PDQ 31].
    #[arg(long, short)]
    threshold: Option<u32>,
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
    hash: &'a str,
    distance: u32,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
}

#[derive(Serialize)]
struct Report<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdq_quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_matchable: Option<&'static str>,
    matches: Vec<Hit<'a>>,
}

#[derive(Serialize)]
struct Failure<'a> {
    path: &'a str,
    error: &'a FileError,
}

fn algorithm_of(signal: SignalType) -> HashAlgorithm {
    match signal {
        SignalType::Pdq => HashAlgorithm::Pdq,
        SignalType::AHash => HashAlgorithm::AHash,
        SignalType::DHash => HashAlgorithm::DHash,
        SignalType::DHashVertical => HashAlgorithm::DHashVertical,
        SignalType::PHash => HashAlgorithm::PHash,
        SignalType::PHash16 => HashAlgorithm::PHash16,
        SignalType::WHash => HashAlgorithm::WHash,
        SignalType::Md5 => HashAlgorithm::Md5,
        SignalType::Sha1 => HashAlgorithm::Sha1,
        SignalType::Sha256 => HashAlgorithm::Sha256,
    }
}

fn matches<'a>(
    hashes: &FileHashes,
    entries: &'a [ListEntry],
    threshold: Option<u32>,
) -> (Vec<Hit<'a>>, Option<&'static str>) {
    let low_pdq = hashes.pdq.is_some_and(|p| p.quality < PDQ_MIN_QUALITY);
    let mut hits = Vec::new();
    for e in entries {
        let alg = algorithm_of(e.signal);
        if alg == HashAlgorithm::Pdq && low_pdq {
            continue;
        }
        let Some(ours) = hashes.hex(alg) else {
            continue;
        };
        let Some(distance) = hex_distance(&ours, &e.hash) else {
            continue;
        };
        let within = match alg.match_threshold() {
            Some(default) => distance <= threshold.unwrap_or(default),
            None => distance == 0,
        };
        if within {
            hits.push(Hit {
                signal: e.signal.name(),
                hash: &e.hash,
                distance,
                line: e.line,
                metadata: e.metadata.as_deref(),
            });
        }
    }
    hits.sort_by_key(|h| (h.distance, h.line));
    (hits, low_pdq.then_some("pdq quality under 50"))
}

pub fn run(args: MatchArgs) -> u8 {
    let Some(default_type) = SignalType::from_name(&args.list_type) else {
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
    let algorithms: AlgorithmSet = list
        .entries
        .iter()
        .map(|e| algorithm_of(e.signal))
        .collect();
    let options = hash_options(algorithms, args.orientation);
    let Some(inputs) = files::expand_reported(&args.paths) else {
        return 2;
    };
    let (mut any_match, mut failures) = (false, 0usize);
    let hidden = ProgressBar::hidden();
    let run = files::hash_in_order(&inputs, args.jobs, &options, &hidden, |path, result| {
        let line = match result {
            Ok(hashes) => {
                let (hits, not_matchable) = matches(hashes, &list.entries, args.threshold);
                any_match |= !hits.is_empty();
                let pdq_quality = hashes.pdq.map(|p| p.quality);
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
