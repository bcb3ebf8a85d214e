//! The fuzz targets' seed corpora replayed as ordinary tests (native: they are read from
//! `fuzz/corpus/` at run time), with the same invariants the targets check, so the inputs that
//! once broke something stay fixed without a fuzzing toolchain.

use std::path::PathBuf;

use pixelprint::decode::DecodeOptions;
use pixelprint::hashlist::parse_hash_list;
use pixelprint::pipeline::{hash_bytes, HashOptions};
use pixelprint::{parse_vpdq_text, write_vpdq_text, PdqHash};
use pixelprint::{Algorithm, HashValue};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn decode_hash_corpus_hashes_or_fails_with_a_code() {
    let options = HashOptions {
        algorithms: Algorithm::ALL.into_iter().collect(),
        decode: DecodeOptions {
            max_pixels: 1_000_000,
            ..DecodeOptions::default()
        },
    };
    let inputs = corpus("decode_hash");
    assert!(inputs.len() >= 20);
    for (name, bytes) in &inputs {
        match hash_bytes(bytes, &options) {
            Ok(h) => assert!(h.pdq().is_some() && h.width.unwrap_or(0) > 0, "{name}"),
            Err(e) => assert!(!e.code().is_empty(), "{name}"),
        }
    }
}

#[test]
fn hex_and_hashlist_corpora_parse_or_fail_cleanly() {
    for (name, bytes) in corpus("hex") {
        if let Ok(h) = PdqHash::from_hex(&String::from_utf8_lossy(&bytes)) {
            assert_eq!(
                h.to_hex(),
                String::from_utf8_lossy(&bytes).to_ascii_lowercase(),
                "{name}"
            );
        }
    }
    for (name, bytes) in corpus("hashlist") {
        let list = parse_hash_list(&String::from_utf8_lossy(&bytes), Algorithm::Pdq);
        assert!(
            list.entries
                .iter()
                .all(|e| e.value.to_hex().len() == e.algorithm.hex_len()
                    && HashValue::from_hex(e.algorithm, &e.value.to_hex()) == Ok(e.value)),
            "{name}"
        );
    }
}

#[test]
fn vpdq_text_corpus_parses_and_writes_back_or_fails_with_a_line() {
    let inputs = corpus("vpdq_text");
    assert!(inputs.len() >= 5);
    for (name, bytes) in &inputs {
        let text = String::from_utf8_lossy(bytes);
        match parse_vpdq_text(&text) {
            Ok(features) => {
                let again = parse_vpdq_text(&write_vpdq_text(&features)).unwrap();
                assert_eq!(again, features, "{name}");
            }
            Err(e) => assert!(
                e.line >= 1 && e.line <= text.split('\n').count(),
                "{name}: {e}"
            ),
        }
    }
}
