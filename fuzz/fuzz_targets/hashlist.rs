//! Hash-list parsing: any text gives entries and line-numbered errors, never a panic; every
//! entry's hash has its type's exact length and is lower-case hex.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pixelprint::hashlist::{parse_hash_list, SignalType};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let list = parse_hash_list(&text, SignalType::Pdq);
    let lines = text.lines().count();
    for e in &list.entries {
        assert_eq!(e.hash.len(), e.signal.hex_len());
        assert!(e.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(e.line >= 1 && e.line <= lines);
    }
    for e in &list.errors {
        assert!(e.line >= 1 && e.line <= lines);
    }
});
