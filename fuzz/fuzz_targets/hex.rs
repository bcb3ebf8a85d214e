//! Hex parsing: any string either parses to a hash that prints back to the same hex (lower-cased)
//! or is rejected with an error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pixelprint::PdqHash;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(hash) = PdqHash::from_hex(s) {
            assert_eq!(hash.to_hex(), s.to_ascii_lowercase());
        }
    }
});
