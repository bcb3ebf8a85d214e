//! `pixelprint hash`: every file under the given paths, in parallel, printed in input order.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pixelprint::pipeline::{AlgorithmSet, FileHashes};
use pixelprint::Algorithm;
use serde::Serialize;

use crate::files::{self, FileError};
use crate::{hash_options, Orientation};

#[derive(Args)]
pub struct HashArgs {
    /// Comma-separated: pdq, pdq-dihedral, pdq-trimmed, pdq-embedded, pdq-captioned,
    /// pdq-straightened, ahash, dhash, dhash-vertical, phash, phash-mirrored, phash16, whash, md5,
    /// sha1, sha256 [default: pdq,ahash,dhash,phash,md5,sha256; pdq for --format text]
    #[arg(long, short)]
    algorithms: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one row per file.
    Csv,
    /// `hash,quality,path` per file, as the reference PDQ tools print.
    Text,
}

/// One output record: the path, then the hashes or the error.
#[derive(Serialize)]
struct Record<'a> {
    path: &'a str,
    #[serde(flatten)]
    outcome: Outcome<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Hashes(&'a FileHashes),
    Error { error: &'a FileError },
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_header(algorithms: AlgorithmSet) -> String {
    let mut cols = vec!["path", "width", "height", "format"];
    for a in algorithms.iter() {
        cols.push(a.key());
        if a == Algorithm::Pdq {
            cols.push("pdq_quality");
        }
    }
    cols.push("error");
    cols.join(",")
}

fn csv_row(path: &str, algorithms: AlgorithmSet, result: &Result<FileHashes, FileError>) -> String {
    let mut cols = vec![csv_field(path)];
    match result {
        Ok(h) => {
            let opt = |v: Option<String>| v.unwrap_or_default();
            cols.push(opt(h.width.map(|w| w.to_string())));
            cols.push(opt(h.height.map(|v| v.to_string())));
            cols.push(opt(h.format.map(str::to_string)));
            for a in algorithms.iter() {
                cols.push(opt(h.hex(a)));
                if a == Algorithm::Pdq {
                    cols.push(opt(h.pdq().map(|p| p.quality.to_string())));
                }
            }
            cols.push(String::new());
        }
        Err(e) => {
            let columns = 3 + algorithms
                .iter()
                .map(|a| if a == Algorithm::Pdq { 2 } else { 1 })
                .sum::<usize>();
            cols.extend(std::iter::repeat_n(String::new(), columns));
            cols.push(csv_field(&format!("{}: {}", e.code, e.message)));
        }
    }
    cols.join(",")
}

pub fn run(args: HashArgs) -> u8 {
    let algorithms = match args.algorithms.as_deref() {
        Some(list) => match AlgorithmSet::parse(list) {
            Ok(set) => set,
            Err(e) => {
                eprintln!("pixelprint: {e}");
                return 2;
            }
        },
        None if args.format == Format::Text => [Algorithm::Pdq].into_iter().collect(),
        None => AlgorithmSet::default(),
    };
    if args.format == Format::Text && !algorithms.contains(Algorithm::Pdq) {
        eprintln!("pixelprint: --format text prints PDQ hashes; include pdq in --algorithms");
        return 2;
    }
    let options = hash_options(algorithms, args.orientation);
    let Some(inputs) = files::expand_reported(&args.paths) else {
        return 2;
    };
    let progress =
        ProgressBar::with_draw_target(Some(inputs.len() as u64), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if args.format == Format::Csv {
        let _ = writeln!(out, "{}", csv_header(algorithms));
    }
    let mut failures = 0usize;
    let run = files::hash_in_order(&inputs, args.jobs, &options, &progress, |path, result| {
        if result.is_err() {
            failures += 1;
        }
        let line = match args.format {
            Format::Jsonl => {
                let outcome = match result {
                    Ok(h) => Outcome::Hashes(h),
                    Err(e) => Outcome::Error { error: e },
                };
                serde_json::to_string(&Record { path, outcome }).unwrap_or_default()
            }
            Format::Csv => csv_row(path, algorithms, result),
            Format::Text => match result {
                Ok(h) => match h.pdq() {
                    Some(p) => format!("{},{},{}", p.hash, p.quality, path),
                    None => return true,
                },
                Err(e) => {
                    progress.suspend(|| eprintln!("pixelprint: {path}: {}: {}", e.code, e.message));
                    return true;
                }
            },
        };
        // A write error is a broken pipe (e.g. `| head`): stop quietly.
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    });
    if let Err(e) = run {
        eprintln!("pixelprint: {e}");
        return 2;
    }
    progress.finish_and_clear();
    if failures > 0 {
        eprintln!("pixelprint: {failures} of {} files failed", inputs.len());
        2
    } else {
        0
    }
}
