//! `pixelprint hash DIR` over symbolic links: links to files and directories are followed, a
//! link loop ends the walk of that branch, broken links are named on stderr, and a run that
//! finds nothing to hash exits 2.
#![cfg(unix)]

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{json_lines, run, stderr};

/// A small image of the reference set.
fn image() -> PathBuf {
    common::vectors_in("pdq").join("misc-images/modes/P.png")
}

/// `hash --format jsonl --algorithms md5 DIR`: (exit status, hashed paths relative to DIR, stderr).
fn hash_dir(dir: &Path) -> (Option<i32>, Vec<String>, String) {
    let o = run(&[
        "hash",
        "--format",
        "jsonl",
        "--algorithms",
        "md5",
        dir.to_str().unwrap(),
    ]);
    let paths = json_lines(&o)
        .iter()
        .map(|v| {
            assert!(v.get("error").is_none(), "unexpected error: {v}");
            let path = Path::new(v["path"].as_str().unwrap());
            path.strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (o.status.code(), paths, stderr(&o))
}

#[test]
fn a_link_to_a_file_is_hashed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    symlink(image(), dir.join("linked.png")).unwrap();
    let (status, paths, err) = hash_dir(&dir);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(paths, ["linked.png"]);
}

#[test]
fn a_link_to_a_directory_is_walked() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::copy(image(), elsewhere.join("a.png")).unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(image(), dir.join("b.png")).unwrap();
    symlink(&elsewhere, dir.join("c-linked")).unwrap();
    let (status, paths, err) = hash_dir(&dir);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(paths, ["b.png", "c-linked/a.png"]);
}

#[test]
fn a_link_loop_is_walked_once_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(image(), dir.join("sub/a.png")).unwrap();
    // sub/up -> photos: following it would list photos/sub/up/sub/up/... for ever.
    symlink(&dir, dir.join("sub/up")).unwrap();
    let (status, paths, err) = hash_dir(&dir);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(paths, ["sub/a.png"]);
    assert!(err.contains("sub/up: skipped: directory"), "{err}");
    assert!(err.contains("skipped 1 entries"), "{err}");
}

#[test]
fn a_broken_link_is_reported_and_the_others_are_hashed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(image(), dir.join("a.png")).unwrap();
    symlink(tmp.path().join("gone.png"), dir.join("b.png")).unwrap();
    let (status, paths, err) = hash_dir(&dir);
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(paths, ["a.png"]);
    assert!(
        err.contains("b.png: skipped: broken symbolic link"),
        "{err}"
    );
}

#[test]
fn nothing_to_hash_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir(&dir).unwrap();
    symlink(tmp.path().join("gone.png"), dir.join("b.png")).unwrap();
    let (status, paths, err) = hash_dir(&dir);
    assert_eq!(status, Some(2), "{err}");
    assert!(paths.is_empty());
    assert!(err.contains("broken symbolic link"), "{err}");
    assert!(err.contains("no files to hash"), "{err}");
}
