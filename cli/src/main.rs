//! `pixelprint`: hash image files, compare two files or hashes, match files against a list,
//! hash videos (vPDQ, decoded by ffmpeg).
//!
//! A thin adapter: arguments in, `pixelprint::pipeline::hash_bytes` per file (or
//! `pixelprint::VpdqHasher` per decoded video frame), output out.
//! Exit codes: 0 ok (or: a match was found), 1 no match, 2 an error (for `hash`: any file
//! failed; the other files are still hashed and printed).

mod compare;
mod ffmpeg;
mod files;
mod hash;
mod matching;
mod video;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pixelprint::decode::{DecodeOptions, OrientationPolicy};
use pixelprint::pipeline::{AlgorithmSet, HashOptions};

#[derive(Parser)]
#[command(
    name = "pixelprint",
    version,
    about = "Perceptual hashes of image files (PDQ, aHash, dHash, pHash, wHash), videos (vPDQ) and digests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hash files and directories (recursively).
    Hash(hash::HashArgs),
    /// Compare two files or two hash strings: distance and verdict per algorithm.
    Compare(compare::CompareArgs),
    /// Match files against a hash list.
    Match(matching::MatchArgs),
    /// vPDQ-hash video files (needs the ffmpeg and ffprobe programs).
    HashVideo(video::HashVideoArgs),
}

/// Whether to rotate the pixels by the EXIF orientation before hashing.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Orientation {
    /// Hash the stored pixels, as the reference ecosystem does (default).
    #[default]
    Ignore,
    /// Rotate/flip to the upright view first.
    Apply,
}

/// Builds hashing options from the shared flags.
pub fn hash_options(algorithms: AlgorithmSet, orientation: Orientation) -> HashOptions {
    HashOptions {
        algorithms,
        decode: DecodeOptions {
            orientation: match orientation {
                Orientation::Ignore => OrientationPolicy::Ignore,
                Orientation::Apply => OrientationPolicy::Apply,
            },
            ..DecodeOptions::default()
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Hash(args) => hash::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Match(args) => matching::run(args),
        Command::HashVideo(args) => video::run(args),
    };
    ExitCode::from(code)
}
