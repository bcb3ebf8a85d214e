//! Property tests (native only: proptest needs an OS random source) and the edge-size table.

use pixelprint::pdq::{self, scalar};
use pixelprint::{
    match_vpdq, parse_vpdq_text, pdq_dihedral, pdq_hash, write_vpdq_text, PdqHash, PixelFormat,
    PixelView, VpdqFeature, VpdqMatchOptions,
};
use proptest::prelude::*;

fn any_hash() -> impl Strategy<Value = PdqHash> {
    proptest::array::uniform32(any::<u8>()).prop_map(PdqHash::from_bytes)
}

/// Deterministic pseudo-random bytes (xorshift32).
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A side length biased to the edges of the pipeline: under the minimum, around 64 (the
/// plain hash's no-blur case) and 128 (where the window grows from 1 to 2), then anything.
fn any_side() -> impl Strategy<Value = u32> {
    prop_oneof![
        1u32..7,
        63u32..66,
        127u32..130,
        255u32..258,
        1u32..400,
        1u32..2000,
    ]
}

fn any_format() -> impl Strategy<Value = PixelFormat> {
    prop_oneof![
        Just(PixelFormat::Rgb8),
        Just(PixelFormat::Rgba8),
        Just(PixelFormat::Gray8)
    ]
}

/// The streaming path against the scalar oracle on one strided view: the 64x64 buffer, the
/// plain hash and the dihedral hashes, bit for bit.
fn assert_fast_equals_scalar(
    width: u32,
    height: u32,
    pad: usize,
    seed: u32,
    format: PixelFormat,
) -> Result<(), TestCaseError> {
    let stride = width as usize * format.bytes_per_pixel() + pad;
    // The last row needs no padding: views may end right after the last pixel.
    let data = noise(stride * (height as usize - 1) + stride - pad, seed);
    let view = PixelView::new(&data, width, height, stride, format).unwrap();
    let bits = |b: pdq::Buffer64x64| {
        b.0.iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(
        bits(pdq::fast::downsample(&view)),
        bits(scalar::downsample(pdq::luma::luma_plane(&view))),
        "{}x{} {:?} pad {}",
        width,
        height,
        format,
        pad
    );
    prop_assert_eq!(pdq::fast::pdq_hash(&view), scalar::pdq_hash(&view));
    prop_assert_eq!(pdq::fast::pdq_dihedral(&view), scalar::pdq_dihedral(&view));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fast_pdq_equals_scalar_pdq_on_random_sizes(
        width in any_side(), height in any_side(), pad in 0usize..11, seed in any::<u32>(),
        format in any_format(),
    ) {
        assert_fast_equals_scalar(width, height, pad, seed, format)?;
    }

    #[test]
    fn fast_pdq_equals_scalar_pdq_on_thin_and_large_images(
        long in 1u32..5001, short in 1u32..7, tall in any::<bool>(), pad in 0usize..11,
        seed in any::<u32>(), format in any_format(),
    ) {
        let (width, height) = if tall { (short, long) } else { (long, short) };
        assert_fast_equals_scalar(width, height, pad, seed, format)?;
    }

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

/// Fixed large and extreme sizes (proptest's random sizes rarely reach them): thin strips of
/// the maximum side, odd multi-megapixel sizes, and one 5000x5000.
#[test]
fn fast_pdq_equals_scalar_pdq_on_fixed_large_sizes() {
    let cases: &[(u32, u32, usize, PixelFormat)] = &[
        (5000, 5, 3, PixelFormat::Rgb8),
        (5, 5000, 1, PixelFormat::Rgba8),
        (5000, 1, 0, PixelFormat::Gray8),
        (1, 5000, 7, PixelFormat::Rgb8),
        (1283, 2049, 5, PixelFormat::Rgba8),
        (4001, 999, 2, PixelFormat::Rgb8),
        (2999, 3001, 1, PixelFormat::Gray8),
        (5000, 5000, 9, PixelFormat::Rgb8),
    ];
    for (i, &(width, height, pad, format)) in cases.iter().enumerate() {
        assert_fast_equals_scalar(width, height, pad, 0x9E37_79B9 ^ i as u32, format).unwrap();
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

/// Video features whose hashes lie near one of three fixed hashes (so that some frames match
/// and some do not), with any quality; frame numbers increase.
fn any_video() -> impl Strategy<Value = Vec<VpdqFeature>> {
    let bases = [0x00u8, 0x5a, 0xf0].map(|b| [b; 32]);
    proptest::collection::vec(
        (
            0..3usize,
            proptest::collection::vec(0..256usize, 0..48),
            0u8..=100,
        ),
        0..24,
    )
    .prop_map(move |frames| {
        frames
            .into_iter()
            .enumerate()
            .map(|(i, (base, flips, quality))| {
                let mut bytes = bases[base];
                for k in flips {
                    bytes[k / 8] ^= 1 << (k % 8);
                }
                VpdqFeature {
                    frame_number: i as u64 * 3,
                    timestamp: i as f64 * 0.1,
                    hash: PdqHash::from_bytes(bytes),
                    quality,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn vpdq_text_round_trips(
        frames in proptest::collection::vec(
            (1u64..5000, 0u64..100_000_000_000, any_hash(), 0u8..=100), 1..40)
    ) {
        let mut frame_number = 0;
        let features: Vec<VpdqFeature> = frames
            .into_iter()
            .map(|(gap, millis, hash, quality)| {
                frame_number += gap;
                VpdqFeature { frame_number, timestamp: millis as f64 / 1000.0, hash, quality }
            })
            .collect();
        let text = write_vpdq_text(&features);
        prop_assert_eq!(parse_vpdq_text(&text).unwrap(), features);
    }

    #[test]
    fn vpdq_parser_never_panics_and_names_a_line_of_the_input(
        text in "([0-9]{0,3},[0-9]{0,3},[0-9a-fA-F]{60,66},[0-9.]{0,6}\r?\n|[ -~]{0,20}\n){0,5}[ -~]{0,8}"
    ) {
        if let Err(e) = parse_vpdq_text(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count(), "{}", e);
        }
    }

    #[test]
    fn vpdq_match_is_symmetric(q in any_video(), t in any_video()) {
        for options in [VpdqMatchOptions::PYTHON_THREATEXCHANGE, VpdqMatchOptions::CPP_REFERENCE] {
            let a = match_vpdq(&q, &t, &options);
            let b = match_vpdq(&t, &q, &options);
            prop_assert_eq!(
                (a.query_percent, a.target_percent, a.query_frames, a.target_frames),
                (b.target_percent, b.query_percent, b.target_frames, b.query_frames)
            );
            prop_assert!(a.query_matched <= a.query_frames && a.target_matched <= a.target_frames);
            // Nothing matches on one side only when the other side has frames to match.
            prop_assert_eq!(a.query_matched == 0, a.target_matched == 0);
        }
    }

    #[test]
    fn vpdq_strict_rule_never_finds_more_frames_than_the_inclusive_one(
        q in any_video(), t in any_video()
    ) {
        let strict = match_vpdq(&q, &t, &VpdqMatchOptions::CPP_REFERENCE);
        let inclusive = match_vpdq(&q, &t, &VpdqMatchOptions { dedupe: false, ..VpdqMatchOptions::PYTHON_THREATEXCHANGE });
        prop_assert!(strict.query_matched <= inclusive.query_matched);
        prop_assert!(strict.target_matched <= inclusive.target_matched);
    }

    #[test]
    fn vpdq_of_a_video_with_usable_frames_matches_itself_fully(v in any_video()) {
        let m = match_vpdq(&v, &v, &VpdqMatchOptions::default());
        prop_assert_eq!(m.is_match(), m.query_frames > 0);
        if m.query_frames > 0 {
            prop_assert_eq!((m.query_percent, m.target_percent), (100.0, 100.0));
        }
    }
}
