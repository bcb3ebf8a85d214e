//! Bytes → decode → every hash: any input either hashes or fails with an error that has a
//! code, within the memory limit libFuzzer enforces; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pixelprint::decode::DecodeOptions;
use pixelprint::pipeline::{hash_bytes, HashOptions};
use pixelprint::Algorithm;

fuzz_target!(|data: &[u8]| {
    let options = HashOptions {
        algorithms: Algorithm::ALL.into_iter().collect(),
        // Small limits keep each run fast; the limit checks themselves are what is fuzzed.
        decode: DecodeOptions { max_pixels: 1_000_000, ..DecodeOptions::default() },
    };
    match hash_bytes(data, &options) {
        Ok(h) => {
            let (w, hgt) = (h.width.unwrap_or(0), h.height.unwrap_or(0));
            assert!(w > 0 && hgt > 0 && u64::from(w) * u64::from(hgt) <= 1_000_000);
            assert!(h.pdq.is_some() && h.sha256.is_some());
        }
        Err(e) => assert!(!e.code().is_empty() && !e.to_string().is_empty()),
    }
});
