//! Property tests (native only: proptest needs an OS random source) and the edge-size table.

use pixelprint::{pdq_dihedral, pdq_hash, PdqHash, PixelFormat, PixelView};
use proptest::prelude::*;

fn any_hash() -> impl Strategy<Value = PdqHash> {
    proptest::array::uniform32(any::<u8>()).prop_map(PdqHash::from_bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hex_round_trips_in_either_case(h in any_hash()) {
        prop_assert_eq!(PdqHash::from_hex(&h.to_hex()), Ok(h));
        prop_assert_eq!(PdqHash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        prop_assert_eq!(h.to_hex().parse::<PdqHash>(), Ok(h));
    }

    #[test]
    fn distance_is_symmetric_and_zero_only_for_equal_hashes(a in any_hash(), b in any_hash()) {
        prop_assert_eq!(a.distance(&b), b.distance(&a));
        prop_assert_eq!(a.distance(&a), 0);
        prop_assert_eq!(a.distance(&b) == 0, a == b);
        prop_assert!(a.distance(&b) <= 256);
    }

    #[test]
    fn serde_uses_the_hex_string(h in any_hash()) {
        let json = serde_json::to_string(&h).unwrap();
        prop_assert_eq!(&json, &format!("\"{}\"", h.to_hex()));
        prop_assert_eq!(serde_json::from_str::<PdqHash>(&json).unwrap(), h);
    }

    #[test]
    fn pdq_never_panics_and_stride_padding_never_changes_a_bit(
        width in 1u32..300, height in 1u32..300, pad in 0usize..9, seed in any::<u32>(),
        format in prop_oneof![Just(PixelFormat::Rgb8), Just(PixelFormat::Rgba8), Just(PixelFormat::Gray8)],
    ) {
        let bpp = format.bytes_per_pixel();
        let row = width as usize * bpp;
        let mut x = seed | 1;
        let packed: Vec<u8> = (0..row * height as usize).map(|_| { x ^= x << 13; x ^= x >> 17; x ^= x << 5; x as u8 }).collect();
        let view = PixelView::packed(&packed, width, height, format).unwrap();
        let want = (pdq_hash(&view), pdq_dihedral(&view));
        prop_assert!(want.0.quality <= 100);
        let stride = row + pad;
        let mut padded = vec![0x5Au8; stride * height as usize];
        for y in 0..height as usize {
            padded[y * stride..y * stride + row].copy_from_slice(&packed[y * row..(y + 1) * row]);
        }
        let view = PixelView::new(&padded, width, height, stride, format).unwrap();
        prop_assert_eq!((pdq_hash(&view), pdq_dihedral(&view)), want);
    }
}

#[test]
fn serde_rejects_a_bad_hex_string_with_the_reason() {
    let err = serde_json::from_str::<PdqHash>("\"abc\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 64 hex characters, found 3"), "{err}");
}

/// Sizes where the pipeline's arithmetic changes shape, each with the reason it is here.
#[test]
fn edge_sizes_hash_without_panic_and_follow_the_reference_rules() {
    let table: &[(u32, u32, &str)] = &[
        (1, 1, "smallest image: under 5 px, all-zero hash"),
        (4, 4, "largest all-zero size"),
        (5, 5, "smallest hashable size; decimation repeats samples"),
        (5, 4, "one side hashable, the other not: still all zero"),
        (63, 63, "just under the 64x64 fast path"),
        (64, 64, "fast path: plain hash skips the blur"),
        (65, 65, "just over: blur with window 1"),
        (127, 127, "largest window-1 size"),
        (128, 128, "window 1 still"),
        (129, 129, "first window-2 size"),
        (3000, 5, "thin: window 24 along rows, 1 along columns"),
        (5, 3000, "thin the other way"),
    ];
    for &(w, h, why) in table {
        let data: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let view = PixelView::packed(&data, w, h, PixelFormat::Rgb8).unwrap();
        let out = pdq_hash(&view);
        let dih = pdq_dihedral(&view);
        if w < 5 || h < 5 {
            assert_eq!(
                (out.hash, out.quality),
                (PdqHash::ZERO, 0),
                "{w}x{h}: {why}"
            );
            assert_eq!(dih.hashes, [PdqHash::ZERO; 8], "{w}x{h}: {why}");
        } else {
            assert_ne!(out.hash, PdqHash::ZERO, "{w}x{h}: {why}");
            if (w, h) != (64, 64) {
                assert_eq!(
                    out.hash, dih.hashes[0],
                    "{w}x{h}: {why}: plain and dihedral orig agree"
                );
            }
        }
    }
}
