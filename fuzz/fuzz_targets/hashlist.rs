//! Hash-list parsing: any text gives entries and line-numbered errors, never a panic; every
//! entry's hash has its type's exact length and is lower-case hex.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pixelprint::hashlist::parse_hash_list;
use pixelprint::{Algorithm, HashValue};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let list = parse_hash_list(&text, Algorithm::Pdq);
    let lines = text.lines().count();
    for e in &list.entries {
        let hex = e.value.to_hex();
        assert_eq!(hex.len(), e.algorithm.hex_len());
        assert_eq!(HashValue::from_hex(e.algorithm, &hex), Ok(e.value));
        assert!(e.line >= 1 && e.line <= lines);
    }
    for e in &list.errors {
        assert!(e.line >= 1 && e.line <= lines);
    }
});
