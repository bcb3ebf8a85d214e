//! Paths in, files out: directories walked recursively in a stable (sorted) order, files read
//! with the decoder's input-size limit enforced before reading them whole.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use pixelprint::pipeline::{hash_bytes, FileHashes, HashOptions};
use rayon::prelude::*;
use serde::Serialize;
use walkdir::WalkDir;

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

/// Every file under the given paths; unreadable entries become errors in place.
pub fn expand(paths: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in WalkDir::new(path).sort_by_file_name().follow_links(false) {
                match entry {
                    Ok(e) if e.file_type().is_file() => out.push(Ok(e.into_path())),
                    Ok(_) => {}
                    Err(e) => {
                        let p = e
                            .path()
                            .map(Path::to_path_buf)
                            .unwrap_or_else(|| path.clone());
                        out.push(Err((p, FileError::new("io_error", e.to_string()))));
                    }
                }
            }
        } else if path.exists() {
            out.push(Ok(path.clone()));
        } else {
            out.push(Err((
                path.clone(),
                FileError::new("not_found", "no such file or directory"),
            )));
        }
    }
    out
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
