//! imagehash conformance: aHash, dHash (both directions), pHash and wHash against Python
//! imagehash 4.3.2 itself (tests/vectors/imagehash/expected.csv, PROVENANCE.md), bit for bit,
//! on the synthetic images beside it and on the lossless PDQ reference images.

use std::collections::BTreeMap;

use pixelprint::{
    average_hash, dhash, dhash_vertical, phash, whash, AverageHash, CallerError, DifferenceHash,
    DifferenceVerticalHash, PerceptualHash, PixelFormat, PixelView, WaveletHash,
};

use crate::vectors::{self, Image};
use crate::{environment, report};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! image {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/imagehash/",
                $name
            )) as &[u8],
        )
    };
}

/// The synthetic images written by scripts/vectors/imagehash_expected.py.
const IMAGES: &[(&str, &[u8])] = &[
    image!("checker1_16x16_l.png"),
    image!("checker4_32x32_l.png"),
    image!("checker5_40x40_1.png"),
    image!("checker8_64x64_l.png"),
    image!("const0_32x32_l.png"),
    image!("const128_8x8_l.png"),
    image!("const200_17x13_l.png"),
    image!("const255_64x64_l.png"),
    image!("const3_100x75_l.png"),
    image!("const77_1x1_l.png"),
    image!("const_rgb_40x30_rgb.png"),
    image!("grad_100x75_rgb.png"),
    image!("grad_256x1_rgb.png"),
    image!("grad_64x64_rgb.png"),
    image!("hgrad_300x200_l.png"),
    image!("noise_100x1_rgb.png"),
    image!("noise_127x128_rgb.png"),
    image!("noise_16x16_rgb.png"),
    image!("noise_17x13_rgb.png"),
    image!("noise_1x100_rgb.png"),
    image!("noise_1x1_rgb.png"),
    image!("noise_200x150_rgb.png"),
    image!("noise_20x20_la.png"),
    image!("noise_2x2_rgb.png"),
    image!("noise_2x2_rgba.png"),
    image!("noise_31x23_rgba.png"),
    image!("noise_32x32_rgb.png"),
    image!("noise_33x31_rgb.png"),
    image!("noise_3x3_l.png"),
    image!("noise_3x5_rgb.png"),
    image!("noise_45x33_1.png"),
    image!("noise_50x40_l.png"),
    image!("noise_5x3_rgb.png"),
    image!("noise_64x64_rgb.png"),
    image!("noise_65x63_rgb.png"),
    image!("noise_7x7_rgb.png"),
    image!("noise_8x8_rgb.png"),
    image!("noise_8x9_rgb.png"),
    image!("noise_9x8_rgb.png"),
    image!("palette_37x29_p.png"),
    image!("palette_trns_37x29_p.png"),
    image!("pattern_300x200_rgb.png"),
    image!("pattern_3x4000_rgb.png"),
    image!("pattern_4000x3_rgb.png"),
    image!("stripes3_45x45_l.png"),
    image!("stripes4_64x64_l.png"),
    image!("vgrad_50x90_l.png"),
];

const EXPECTED: &str = include_str!("../vectors/imagehash/expected.csv");

/// One row of expected.csv.
struct Row<'a> {
    file: &'a str,
    algorithm: &'a str,
    size: u32,
    hex: &'a str,
}

fn rows() -> Vec<Row<'static>> {
    EXPECTED
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 4, "expected row has 4 fields: {line}");
            Row {
                file: f[0],
                algorithm: f[1],
                size: f[2].parse().expect("hash size"),
                hex: f[3],
            }
        })
        .collect()
}

/// Decodes a vector by its expected.csv name with the suite's own decoders.
fn load(file: &str) -> Image {
    if let Some(rel) = file.strip_prefix("pdq/") {
        if let Some((_, gz)) = vectors::DECODED_RGB.iter().find(|(p, _)| *p == rel) {
            return vectors::parse_pnm(&vectors::gunzip(gz));
        }
        let (_, bytes) = vectors::PNG_IMAGES
            .iter()
            .find(|(p, _)| *p == rel)
            .unwrap_or_else(|| panic!("no PDQ vector {rel}"));
        return vectors::decode_png(bytes);
    }
    let (_, bytes) = IMAGES
        .iter()
        .find(|(n, _)| *n == file)
        .unwrap_or_else(|| panic!("no imagehash vector {file}"));
    vectors::decode_png(bytes)
}

/// Our hash as lower-case hex, and its distance to the expected one, after checking that the
/// expected hex parses as the algorithm's type and prints back unchanged.
fn compute(view: &PixelView<'_>, row: &Row<'_>) -> (String, u32) {
    macro_rules! run {
        ($f:ident, $t:ty) => {{
            let want: $t = row.hex.parse().expect("expected hex parses");
            assert_eq!(want.to_hex(), row.hex, "expected hex round-trips");
            let got = $f(view, row.size).expect("supported size");
            (got.to_hex(), got.distance(&want).expect("same size"))
        }};
    }
    match row.algorithm {
        "average_hash" => run!(average_hash, AverageHash),
        "dhash" => run!(dhash, DifferenceHash),
        "dhash_vertical" => run!(dhash_vertical, DifferenceVerticalHash),
        "phash" => run!(phash, PerceptualHash),
        "whash" => run!(whash, WaveletHash),
        other => panic!("unknown algorithm {other}"),
    }
}

#[test]
fn imagehash_matches_python_on_every_vector() {
    let rows = rows();
    assert_eq!(rows.len(), 845, "every row of expected.csv");
    let mut files: Vec<&str> = rows.iter().map(|r| r.file).collect();
    files.dedup();
    assert_eq!(files.len(), 62, "every image of expected.csv");
    for (name, _) in IMAGES {
        assert!(files.contains(name), "{name} has expected values");
    }

    let mut matched: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let mut current: Option<(&str, Image)> = None;
    for row in &rows {
        if current.as_ref().map(|(f, _)| *f) != Some(row.file) {
            current = Some((row.file, load(row.file)));
        }
        let image = &current.as_ref().expect("loaded").1;
        let (hex, distance) = compute(&image.view(), row);
        let entry = matched.entry(row.algorithm).or_default();
        entry.1 += 1;
        if hex == row.hex {
            entry.0 += 1;
        } else {
            mismatches.push(format!(
                "{} {} size {} ({}x{}): got {hex}, want {} ({distance} bits differ)",
                row.file, row.algorithm, row.size, image.width, image.height, row.hex
            ));
        }
    }
    let summary: Vec<String> = matched
        .iter()
        .map(|(a, (ok, all))| format!("{a} {ok}/{all}"))
        .collect();
    report!(
        "imagehash conformance [{}]: {} images, bit-exact: {}",
        environment(),
        files.len(),
        summary.join(", ")
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(matched.values().map(|(ok, _)| ok).sum::<usize>(), 845);
}

/// pocketfft's twiddle factors come from `cos`/`sin` of `k * double(0.25L * pi / n)`; the
/// crate's argument (x87 long double emulated) and its correctly rounded `cos`/`sin` must equal
/// glibc's on every argument the phash DCT lengths use.
#[test]
fn twiddle_arguments_and_values_equal_glibc() {
    use pixelprint::imagehash::{pocketfft, trig};
    let text = include_str!("../vectors/imagehash/twiddles-glibc.txt");
    let mut count = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (n, k): (usize, usize) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let bits = |s: &str| u64::from_str_radix(s, 16).unwrap();
        let arg = k as f64 * pocketfft::quarter_pi_over(n);
        assert_eq!(arg.to_bits(), bits(f[2]), "argument n={n} k={k}");
        assert_eq!(trig::cos(arg).to_bits(), bits(f[3]), "cos n={n} k={k}");
        assert_eq!(trig::sin(arg).to_bits(), bits(f[4]), "sin n={n} k={k}");
        count += 1;
    }
    assert_eq!(count, 256);
    report!(
        "imagehash twiddles [{}]: {count} glibc cos/sin pairs bit-exact",
        environment()
    );
}

#[test]
fn unsupported_hash_sizes_are_errors_not_panics() {
    let data = [9u8; 3 * 4 * 4];
    let view = PixelView::packed(&data, 4, 4, PixelFormat::Rgb8).unwrap();
    for size in [0, 1, 17, 64, u32::MAX] {
        assert!(matches!(
            average_hash(&view, size),
            Err(CallerError::UnsupportedHashSize {
                algorithm: "average_hash",
                ..
            })
        ));
        assert!(matches!(
            dhash(&view, size),
            Err(CallerError::UnsupportedHashSize { .. })
        ));
        assert!(matches!(
            dhash_vertical(&view, size),
            Err(CallerError::UnsupportedHashSize { .. })
        ));
        assert!(matches!(
            phash(&view, size),
            Err(CallerError::UnsupportedHashSize { .. })
        ));
        assert!(matches!(
            whash(&view, size),
            Err(CallerError::UnsupportedHashSize { .. })
        ));
    }
    let err = whash(&view, 6).unwrap_err();
    assert_eq!(
        err.to_string(),
        "whash needs a hash size of 2, 4, 8 or 16, found 6"
    );
    assert_eq!(err.code(), "unsupported_hash_size");
    assert!(phash(&view, 6).is_ok());
}

/// Row padding, alpha and the pixel layout must not change any hash: grey is computed from the
/// stored RGB (Pillow's `convert('L')` ignores alpha).
#[test]
fn stride_alpha_and_grey_layout_do_not_change_the_hash() {
    let image = load("noise_33x31_rgb.png");
    let (w, h) = (image.width as usize, image.height as usize);
    let stride = w * 4 + 5;
    let mut padded = vec![0xCD; stride * h];
    for y in 0..h {
        for x in 0..w {
            let src = &image.data[(y * w + x) * 3..][..3];
            padded[y * stride + x * 4..][..4].copy_from_slice(&[
                src[0],
                src[1],
                src[2],
                (x ^ y) as u8,
            ]);
        }
    }
    let rgba = PixelView::new(&padded, w as u32, h as u32, stride, PixelFormat::Rgba8).unwrap();
    let rgb = image.view();
    let grey: Vec<u8> = image
        .data
        .chunks_exact(3)
        .map(|p| pixelprint::imagehash::grey::grey_of(p[0], p[1], p[2]))
        .collect();
    let grey = PixelView::packed(&grey, w as u32, h as u32, PixelFormat::Gray8).unwrap();
    for size in [8, 16] {
        for view in [&rgba, &grey] {
            assert_eq!(average_hash(view, size), average_hash(&rgb, size));
            assert_eq!(dhash(view, size), dhash(&rgb, size));
            assert_eq!(dhash_vertical(view, size), dhash_vertical(&rgb, size));
            assert_eq!(phash(view, size), phash(&rgb, size));
            assert_eq!(whash(view, size), whash(&rgb, size));
        }
    }
}

/// The grey image (vectorised where the target allows) equals Pillow's formula pixel by pixel,
/// RGB and RGBA, on a noise vector and on a generated image whose rows are not whole blocks.
#[test]
fn grey_conversion_equals_the_formula_on_every_pixel() {
    use pixelprint::imagehash::grey::{grey_of, to_grey};
    let noise = load("noise_33x31_rgb.png");
    let mut state = 0x2545_f491u32;
    let generated: Vec<u8> = (0..203 * 37 * 3)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    for (rgb, w, h) in [
        (&noise.data, noise.width, noise.height),
        (&generated, 203, 37),
    ] {
        let want: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| grey_of(p[0], p[1], p[2]))
            .collect();
        let view = PixelView::packed(rgb, w, h, PixelFormat::Rgb8).unwrap();
        assert_eq!(to_grey(&view).data, want, "{w}x{h} RGB");
        let rgba: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        let view = PixelView::packed(&rgba, w, h, PixelFormat::Rgba8).unwrap();
        assert_eq!(to_grey(&view).data, want, "{w}x{h} RGBA");
    }
}

/// Property tests (native only: proptest needs an OS random source).
#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use pixelprint::ImageHash;
    use proptest::prelude::*;

    fn image(width: u32, height: u32, seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        (0..width as usize * height as usize * 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    fn round_trips<A: pixelprint::ImageHashKind>(hash: ImageHash<A>) {
        let hex = hash.to_hex();
        assert_eq!(hex.len(), (hash.bit_count() as usize).div_ceil(4));
        assert_eq!(hex.parse::<ImageHash<A>>(), Ok(hash));
        assert_eq!(ImageHash::<A>::from_hex(&hex.to_uppercase()), Ok(hash));
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<ImageHash<A>>(&json).unwrap(), hash);
        assert_eq!(hash.distance(&hash), Ok(0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any image from 1x1 to 300x300 and any hash size 2..=16: a result, never a panic,
        /// and every hash round-trips through hex and JSON.
        #[test]
        fn every_size_hashes_without_panic(width in 1u32..=300, height in 1u32..=300, size in 2u32..=16, seed: u32) {
            let data = image(width, height, seed);
            let view = PixelView::packed(&data, width, height, PixelFormat::Rgb8).unwrap();
            round_trips(average_hash(&view, size).unwrap());
            round_trips(dhash(&view, size).unwrap());
            round_trips(dhash_vertical(&view, size).unwrap());
            round_trips(phash(&view, size).unwrap());
            match whash(&view, size) {
                Ok(hash) => { prop_assert!(size.is_power_of_two()); round_trips(hash); }
                Err(CallerError::UnsupportedHashSize { .. }) => prop_assert!(!size.is_power_of_two()),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn hex_round_trips_and_distance_is_symmetric(size in 2u32..=16, a: [u64; 4], b: [u64; 4]) {
            let n = (size * size) as usize;
            let bit = |words: &[u64; 4], i: usize| words[i / 64] >> (i % 64) & 1 == 1;
            let ha = pixelprint::PerceptualHash::from_bits(size, (0..n).map(|i| bit(&a, i))).unwrap();
            let hb = pixelprint::PerceptualHash::from_bits(size, (0..n).map(|i| bit(&b, i))).unwrap();
            round_trips(ha);
            prop_assert_eq!(ha.bits().collect::<Vec<_>>(), (0..n).map(|i| bit(&a, i)).collect::<Vec<_>>());
            let d = ha.distance(&hb).unwrap();
            prop_assert_eq!(Ok(d), hb.distance(&ha));
            prop_assert_eq!(d as usize, (0..n).filter(|&i| bit(&a, i) != bit(&b, i)).count());
        }

        #[test]
        fn from_hex_never_panics(s in "[0-9a-fA-Fxé ]{0,70}") {
            let _ = pixelprint::AverageHash::from_hex(&s);
            let _ = pixelprint::WaveletHash::from_hex(&s);
        }
    }
}
