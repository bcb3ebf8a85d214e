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
        ($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/imagehash/", $name)) as &[u8])
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
            Row { file: f[0], algorithm: f[1], size: f[2].parse().expect("hash size"), hex: f[3] }
        })
        .collect()
}

/// Decodes a vector by its expected.csv name with the suite's own decoders.
fn load(file: &str) -> Image {
    if let Some(rel) = file.strip_prefix("pdq/") {
        if let Some((_, gz)) = vectors::DECODED_RGB.iter().find(|(p, _)| *p == rel) {
            return vectors::parse_pnm(&vectors::gunzip(gz));
        }
        let (_, bytes) = vectors::PNG_IMAGES.iter().find(|(p, _)| *p == rel).unwrap_or_else(|| panic!("no PDQ vector {rel}"));
        return vectors::decode_png(bytes);
    }
    let (_, bytes) = IMAGES.iter().find(|(n, _)| *n == file).unwrap_or_else(|| panic!("no imagehash vector {file}"));
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
    let summary: Vec<String> = matched.iter().map(|(a, (ok, all))| format!("{a} {ok}/{all}")).collect();
    report!("imagehash conformance [{}]: {} images, bit-exact: {}", environment(), files.len(), summary.join(", "));
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(matched.values().map(|(ok, _)| ok).sum::<usize>(), 845);
}
