//! Helpers shared by the CLI's integration tests: run the built binary, read its output, find
//! the test vectors.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `tests/vectors/<sub>` of the repository.
pub fn vectors_in(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(sub)
}

/// Runs the `pixelprint` binary of this build.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pixelprint"))
        .args(args)
        .output()
        .expect("runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as JSON lines.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Each line's error code, `ok` for a line without error.
pub fn error_codes(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|v| v["error"]["code"].as_str().unwrap_or("ok"))
        .collect()
}
