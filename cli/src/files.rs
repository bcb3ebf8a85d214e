//! Paths in, files out: directories walked recursively in a stable (sorted) order, symbolic
//! links followed, what is left out reported; files read with the decoder's input-size limit
//! enforced before reading them whole.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use pixelprint::pipeline::{hash_bytes, FileHashes, HashOptions};
use rayon::prelude::*;
use serde::Serialize;

/// A failure for one file: a stable code and a message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileError {
    pub code: String,
    pub message: String,
}

impl FileError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        FileError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl From<pixelprint::Error> for FileError {
    fn from(e: pixelprint::Error) -> Self {
        FileError::new(e.code(), e.to_string())
    }
}

/// A file to hash, or the error found while listing it.
pub type Input = Result<PathBuf, (PathBuf, FileError)>;

/// An entry of a walked directory that is neither hashed nor an error: the reason is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What the given paths hold: the files to hash (and the errors found listing them, in place)
/// and the entries left out.
#[derive(Debug, Default)]
pub struct Listing {
    pub inputs: Vec<Input>,
    pub skipped: Vec<Skipped>,
}

/// Every file under the given paths, with symbolic links followed to files and directories.
/// Directories are walked depth first in file-name order. A directory already walked for the
/// same argument (a link loop, or two links to one directory) is skipped, which also bounds
/// the walk. Unreadable entries become errors in place; broken links, repeated directories
/// and entries that are neither files nor directories (sockets, pipes, devices) are skipped.
pub fn expand(paths: &[PathBuf]) -> Listing {
    let mut listing = Listing::default();
    for path in paths {
        if path.is_dir() {
            let mut visited = HashSet::new();
            match fs::canonicalize(path) {
                Ok(canonical) => {
                    visited.insert(canonical);
                    walk(path, &mut visited, &mut listing);
                }
                Err(e) => listing.inputs.push(Err((path.clone(), io_error(&e)))),
            }
        } else if path.exists() {
            listing.inputs.push(Ok(path.clone()));
        } else {
            listing.inputs.push(Err((
                path.clone(),
                FileError::new("not_found", "no such file or directory"),
            )));
        }
    }
    listing
}

/// Lists one directory's entries (sorted by file name) into `listing`, descending into
/// subdirectories whose canonical path is not yet in `visited`.
fn walk(dir: &Path, visited: &mut HashSet<PathBuf>, listing: &mut Listing) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            listing.inputs.push(Err((dir.to_path_buf(), io_error(&e))));
            return;
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => found.push(entry),
            Err(e) => listing.inputs.push(Err((dir.to_path_buf(), io_error(&e)))),
        }
    }
    found.sort_by_key(fs::DirEntry::file_name);
    for entry in found {
        let path = entry.path();
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        // `fs::metadata` follows links; a broken one fails with NotFound.
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if is_link => {
                let reason = if e.kind() == io::ErrorKind::NotFound {
                    "broken symbolic link".to_string()
                } else {
                    format!("symbolic link cannot be followed: {e}")
                };
                listing.skipped.push(Skipped { path, reason });
                continue;
            }
            Err(e) => {
                listing.inputs.push(Err((path, io_error(&e))));
                continue;
            }
        };
        if meta.is_file() {
            listing.inputs.push(Ok(path));
        } else if meta.is_dir() {
            match fs::canonicalize(&path) {
                Ok(canonical) if visited.insert(canonical.clone()) => {
                    walk(&path, visited, listing);
                }
                Ok(canonical) => listing.skipped.push(Skipped {
                    path,
                    reason: format!(
                        "directory {} already listed (a symbolic link loop or a second link)",
                        canonical.display()
                    ),
                }),
                Err(e) => listing.inputs.push(Err((path, io_error(&e)))),
            }
        } else {
            listing.skipped.push(Skipped {
                path,
                reason: "neither a file nor a directory".to_string(),
            });
        }
    }
}

fn io_error(e: &io::Error) -> FileError {
    FileError::new("io_error", e.to_string())
}

/// [`expand`], with every skipped entry and a count of them reported on stderr. `None` (also
/// reported) when nothing is left to hash, which the commands turn into exit status 2.
pub fn expand_reported(paths: &[PathBuf]) -> Option<Vec<Input>> {
    let Listing { inputs, skipped } = expand(paths);
    for s in &skipped {
        eprintln!("pixelprint: {}: skipped: {}", s.path.display(), s.reason);
    }
    if !skipped.is_empty() {
        eprintln!(
            "pixelprint: skipped {} entries that are not files to hash",
            skipped.len()
        );
    }
    if inputs.is_empty() {
        eprintln!("pixelprint: no files to hash");
        return None;
    }
    Some(inputs)
}

/// Reads a whole file, refusing one larger than `max_bytes` before reading it.
pub fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let file = File::open(path).map_err(|e| FileError::new("io_error", e.to_string()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max_bytes {
        return Err(FileError::new(
            "input_too_large",
            format!("file of {len} bytes exceeds the limit of {max_bytes} bytes"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` bounds memory even if the file grows while it is read.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::new("io_error", e.to_string()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FileError::new(
            "input_too_large",
            format!("file exceeds the limit of {max_bytes} bytes"),
        ));
    }
    Ok(bytes)
}

/// Path as text for output (lossy for non-UTF-8 names).
pub fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Reads and hashes one file.
pub fn hash_file(path: &Path, options: &HashOptions) -> Result<FileHashes, FileError> {
    let bytes = read_limited(path, options.decode.max_input_bytes)?;
    Ok(hash_bytes(&bytes, options)?)
}

/// Hashes every input on `jobs` threads (default: one per core) and hands each result to
/// `emit` in input order; `emit` returning `false` stops the run. Chunks keep the order while
/// the pool works on many files at once.
pub fn hash_in_order(
    inputs: &[Input],
    jobs: Option<usize>,
    options: &HashOptions,
    progress: &ProgressBar,
    mut emit: impl FnMut(&str, &Result<FileHashes, FileError>) -> bool,
) -> Result<(), String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;
    for chunk in inputs.chunks(64) {
        let results: Vec<(String, Result<FileHashes, FileError>)> = pool.install(|| {
            chunk
                .par_iter()
                .map(|input| {
                    let r = match input {
                        Ok(path) => (display(path), hash_file(path, options)),
                        Err((path, e)) => (display(path), Err(e.clone())),
                    };
                    progress.inc(1);
                    r
                })
                .collect()
        });
        for (path, result) in &results {
            if !emit(path, result) {
                return Ok(());
            }
        }
    }
    Ok(())
}
