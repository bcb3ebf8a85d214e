//! `pixelprint compare A B`: two files, two hash strings, or one of each; the distance and the
//! verdict per algorithm, with the documented thresholds (`HashAlgorithm::match_threshold`).

use std::path::Path;

use clap::{Args, ValueEnum};
use pixelprint::pipeline::{hex_distance, AlgorithmSet, FileHashes, HashAlgorithm};
use pixelprint::PDQ_MIN_QUALITY;
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

fn side_hex(side: &Side, a: HashAlgorithm) -> Option<String> {
    match side {
        Side::File(h) => h.hex(a),
        Side::Hash(s) => Some(s.to_ascii_lowercase()),
    }
}

fn pdq_quality(side: &Side) -> Option<u8> {
    match side {
        Side::File(h) => h.pdq.map(|p| p.quality),
        Side::Hash(_) => None,
    }
}

fn verdict(a: HashAlgorithm, x: &Side, y: &Side) -> Result<Verdict, String> {
    let (hx, hy) = (side_hex(x, a), side_hex(y, a));
    let (Some(hx), Some(hy)) = (hx, hy) else {
        return Err(format!("no {} hash on one side", a.name()));
    };
    let threshold = a.match_threshold();
    let low_quality = [pdq_quality(x), pdq_quality(y)]
        .into_iter()
        .flatten()
        .any(|q| q < PDQ_MIN_QUALITY);
    let distance = if a == HashAlgorithm::PdqDihedral {
        // The smallest distance between any variant of one side and the other's original.
        let original = |s: &str| s.split(':').next().unwrap_or_default().to_string();
        let best = |variants: &str, other: &str| {
            variants
                .split(':')
                .filter_map(|v| hex_distance(v, other))
                .min()
        };
        [best(&hx, &original(&hy)), best(&hy, &original(&hx))]
            .into_iter()
            .flatten()
            .min()
    } else {
        hex_distance(&hx, &hy)
    }
    .ok_or_else(|| format!("the {} hashes differ in length or are not hex", a.name()))?;
    let verdict = match threshold {
        _ if matches!(a, HashAlgorithm::Pdq | HashAlgorithm::PdqDihedral) && low_quality => {
            "not matchable: PDQ quality under 50"
        }
        Some(t) if distance <= t => "match",
        Some(_) => "no match",
        None if distance == 0 => "identical",
        None => "different",
    };
    // A Hamming distance between digests means nothing; only equality is reported.
    let distance = threshold.map(|_| distance);
    Ok(Verdict {
        algorithm: a.name(),
        distance,
        threshold,
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
                Ok([HashAlgorithm::Pdq].into_iter().collect())
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
