//! `pixelprint compare A B`: two files, two hash strings, or one of each; the distance and the
//! verdict per algorithm, decided by `pixelprint::matching` with the registry's thresholds.

use std::path::Path;

use clap::{Args, ValueEnum};
use pixelprint::matching::{Policy, Verdict as Decision};
use pixelprint::pipeline::{AlgorithmSet, FileHashes};
use pixelprint::{Algorithm, HashValue};
use serde::Serialize;

use crate::files::hash_file;
use crate::{hash_options, Orientation};

#[derive(Args)]
pub struct CompareArgs {
    /// Algorithms to compare [default: for files, pdq,ahash,dhash,phash,md5,sha256; for a
    /// hash string, pdq if it has 64 hex characters, else this option is required].
    #[arg(long, short)]
    algorithms: Option<String>,
    /// EXIF orientation policy for files.
    #[arg(long, value_enum, default_value_t = Orientation::Ignore)]
    orientation: Orientation,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = CompareFormat::Text)]
    format: CompareFormat,
    /// A file, or a hash string.
    a: String,
    /// A file, or a hash string.
    b: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Text,
    Json,
}

/// One side: a file's hashes, or a hash given as text.
enum Side {
    File(Box<FileHashes>),
    Hash(String),
}

#[derive(Serialize)]
struct Verdict {
    algorithm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<u32>,
    verdict: &'static str,
}

/// One side's value of `a`: a file's result, or the hash string read as `a`'s. A single PDQ
/// hash given for the dihedral set stands for all eight variants, so that it is compared with
/// every variant of the other side.
fn side_value(side: &Side, a: Algorithm) -> Result<Option<HashValue>, String> {
    match side {
        Side::File(h) => Ok(h.get(a).copied()),
        Side::Hash(s) if a == Algorithm::PdqDihedral => HashValue::from_hex(Algorithm::Pdq, s)
            .map(|v| match v {
                HashValue::Pdq(h) => Some(HashValue::PdqDihedral([h; 8])),
                other => Some(other),
            })
            .map_err(|e| e.to_string()),
        Side::Hash(s) => HashValue::from_hex(a, s)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

fn pdq_quality(side: &Side) -> Option<u8> {
    match side {
        Side::File(h) => h.pdq_quality,
        Side::Hash(_) => None,
    }
}

fn verdict(a: Algorithm, x: &Side, y: &Side) -> Result<Verdict, String> {
    let (Some(vx), Some(vy)) = (side_value(x, a)?, side_value(y, a)?) else {
        return Err(format!("no {} hash on one side", a.name()));
    };
    let quality = [pdq_quality(x), pdq_quality(y)].into_iter().flatten().min();
    let c = Policy::default()
        .compare(a, &vx, &vy, quality)
        .ok_or_else(|| format!("the {} hashes differ in length or are not hex", a.name()))?;
    let verdict = match (c.verdict, c.threshold) {
        (Decision::LowQuality, _) => "not matchable: PDQ quality under 50",
        (Decision::Match, Some(_)) => "match",
        (Decision::NoMatch, Some(_)) => "no match",
        // Digests: a distance between them means nothing; only equality is reported.
        (Decision::Match, None) => "identical",
        (Decision::NoMatch, None) => "different",
    };
    Ok(Verdict {
        algorithm: a.name(),
        distance: c.distance,
        threshold: c.threshold,
        verdict,
    })
}

fn load(arg: &str, algorithms: AlgorithmSet, orientation: Orientation) -> Result<Side, String> {
    let path = Path::new(arg);
    if path.is_file() {
        let options = hash_options(algorithms, orientation);
        hash_file(path, &options)
            .map(|h| Side::File(Box::new(h)))
            .map_err(|e| format!("{arg}: {}: {}", e.code, e.message))
    } else if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(Side::Hash(arg.to_string()))
    } else {
        Err(format!("{arg}: neither a file nor a hex hash"))
    }
}

pub fn run(args: CompareArgs) -> u8 {
    let is_hash = |s: &str| !Path::new(s).is_file();
    let algorithms = match args.algorithms.as_deref() {
        Some(list) => AlgorithmSet::parse(list).map_err(|e| e.to_string()),
        None if is_hash(&args.a) || is_hash(&args.b) => {
            let hash = if is_hash(&args.a) { &args.a } else { &args.b };
            if hash.len() == 64 {
                Ok([Algorithm::Pdq].into_iter().collect())
            } else {
                Err(format!(
                    "cannot tell the algorithm of a {}-character hash: pass --algorithms",
                    hash.len()
                ))
            }
        }
        None => Ok(AlgorithmSet::default()),
    };
    let algorithms = match algorithms {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pixelprint: {e}");
            return 2;
        }
    };
    let sides = load(&args.a, algorithms, args.orientation)
        .and_then(|a| Ok((a, load(&args.b, algorithms, args.orientation)?)));
    let (a, b) = match sides {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pixelprint: {e}");
            return 2;
        }
    };
    let mut verdicts = Vec::new();
    for alg in algorithms.iter() {
        match verdict(alg, &a, &b) {
            Ok(v) => verdicts.push(v),
            Err(e) => {
                eprintln!("pixelprint: {e}");
                return 2;
            }
        }
    }
    match args.format {
        CompareFormat::Json => println!("{}", serde_json::to_string(&verdicts).unwrap_or_default()),
        CompareFormat::Text => {
            for v in &verdicts {
                let threshold = v
                    .threshold
                    .map(|t| format!(" (threshold {t})"))
                    .unwrap_or_default();
                let distance = v.distance.map_or("-".to_string(), |d| d.to_string());
                println!(
                    "{:<15} distance {:>3}  {}{}",
                    v.algorithm, distance, v.verdict, threshold
                );
            }
        }
    }
    if verdicts
        .iter()
        .any(|v| v.verdict == "match" || v.verdict == "identical")
    {
        0
    } else {
        1
    }
}
