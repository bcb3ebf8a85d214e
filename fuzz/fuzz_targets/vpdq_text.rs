//! vPDQ text parsing: any bytes give features or a line-numbered error, never a panic; what
//! parses writes back to text that parses to the same frames.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pixelprint::{parse_vpdq_text, write_vpdq_text};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_vpdq_text(&text) {
        Ok(features) => {
            assert!(!features.is_empty());
            assert!(features.windows(2).all(|w| w[0].frame_number < w[1].frame_number));
            assert!(features.iter().all(|f| f.quality <= 100 && f.timestamp >= 0.0));
            let again = parse_vpdq_text(&write_vpdq_text(&features)).expect("written text parses");
            assert_eq!(again.len(), features.len());
            for (a, b) in again.iter().zip(&features) {
                assert_eq!((a.frame_number, a.hash, a.quality), (b.frame_number, b.hash, b.quality));
                assert!((a.timestamp - b.timestamp).abs() <= 0.0005 * (1.0 + b.timestamp));
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.split('\n').count()),
    }
});
