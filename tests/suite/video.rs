//! vPDQ against the reference data (natively and in wasm): the reference hash files parse and
//! write back byte for byte, their timestamps follow the reference formula, and the matcher
//! reproduces both columns of the reference match percentages.

use pixelprint::video::{reference_timestamp, text::feature_line};
use pixelprint::{
    match_vpdq, parse_vpdq_text, write_vpdq_text, VpdqFeature, VpdqMatch, VpdqMatchOptions,
};

use crate::report;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! hash_files {
    ($($name:literal),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/vpdq/sample-hashes/",
                $name
            )),
        )),*]
    };
}

/// `vpdq-hash-video -r 0` output for the sample videos (every frame hashed).
const SAMPLE_HASHES: &[(&str, &str)] = hash_files![
    "chair-19-sd-bar.txt",
    "chair-19-sd-bar-128x128.txt",
    "chair-20-sd-bar.txt",
    "chair-22-sd-grey-bar.txt",
    "chair-22-sd-sepia-bar.txt",
    "chair-22-with-large-logo-bar.txt",
    "chair-orig-22-fhd-no-bar.txt",
    "chair-orig-22-hd-no-bar.txt",
    "chair-orig-22-sd-bar.txt",
    "doorknob-hd-no-bar.txt",
    "doorknob-hd-no-bar-128x128.txt",
    "pattern-hd-no-bar.txt",
    "pattern-hd-no-bar-128x128.txt",
    "pattern-longer-no-bar.txt",
    "pattern-sd-grey-bar.txt",
    "pattern-sd-with-large-logo-bar.txt",
    "pattern-sd-with-small-logo-bar.txt",
    "test-padded-dimensions.txt",
];

/// The two reference matchers' percentages on pairs of the files above.
const EXPECTED_MATCH_PERCENTAGES: &str =
    include_str!("../vectors/vpdq/expected-match-percentages.txt");

/// Every sample video behind these files is 30 fps (`avg_frame_rate` 30/1).
const SAMPLE_FRAME_RATE: f64 = 30.0;

fn sample(name: &str) -> Vec<VpdqFeature> {
    let (_, text) = SAMPLE_HASHES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not embedded"));
    parse_vpdq_text(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn reference_hash_files_parse_and_write_back_byte_for_byte() {
    let mut lines = 0;
    for (name, text) in SAMPLE_HASHES {
        let features = parse_vpdq_text(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(features.first().map(|f| f.frame_number), Some(0), "{name}");
        assert_eq!(write_vpdq_text(&features), *text, "{name}");
        lines += features.len();
    }
    report!(
        "vpdq text: {} reference files, {lines} lines written back byte for byte",
        SAMPLE_HASHES.len()
    );
}

#[test]
fn reference_timestamps_are_the_float_division_of_frame_number_by_frame_rate() {
    for (name, text) in SAMPLE_HASHES {
        for (line, feature) in text.lines().zip(sample(name)) {
            let ours = VpdqFeature {
                timestamp: reference_timestamp(feature.frame_number, SAMPLE_FRAME_RATE),
                ..feature
            };
            assert_eq!(feature_line(&ours), line, "{name}");
        }
    }
}

/// One row of `expected-match-percentages.txt`.
struct ExpectedRow<'a> {
    query: &'a str,
    target: &'a str,
    cpp: (f64, f64),
    python: (f64, f64),
}

fn percent_pair(field: &str) -> (f64, f64) {
    let (a, b) = field.trim().split_once(',').expect("q%,t%");
    (a.parse().expect("q%"), b.parse().expect("t%"))
}

fn expected_rows() -> Vec<ExpectedRow<'static>> {
    EXPECTED_MATCH_PERCENTAGES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('|').collect();
            let (query, target) = cols[0].trim().split_once(',').expect("query,target");
            ExpectedRow {
                query,
                target,
                cpp: percent_pair(cols[1]),
                python: percent_pair(cols[2]),
            }
        })
        .collect()
}

/// The files print percentages with 2 decimals: ours must round to the same digits.
fn assert_same_to_two_decimals(got: &VpdqMatch, want: (f64, f64), what: &str) {
    for (g, w) in [(got.query_percent, want.0), (got.target_percent, want.1)] {
        assert!(
            (g - w).abs() <= 0.005 + 1e-9,
            "{what}: ours {:.4},{:.4} reference {:.2},{:.2}",
            got.query_percent,
            got.target_percent,
            want.0,
            want.1
        );
    }
}

#[test]
fn matcher_reproduces_both_reference_matchers_on_the_sample_pairs() {
    let rows = expected_rows();
    assert_eq!(rows.len(), 14);
    let mut table = vec![format!(
        "{:<70} | {:>15} | {:>15} | {:>15} | {:>15}",
        "query,target", "C++ reference", "ours (C++ rule)", "python-tx", "ours (default)"
    )];
    for row in &rows {
        let (q, t) = (sample(row.query), sample(row.target));
        let cpp = match_vpdq(&q, &t, &VpdqMatchOptions::CPP_REFERENCE);
        let py = match_vpdq(&q, &t, &VpdqMatchOptions::PYTHON_THREATEXCHANGE);
        table.push(format!(
            "{:<70} | {:>6.2},{:>7.2} | {:>6.2},{:>7.2} | {:>6.2},{:>7.2} | {:>6.2},{:>7.2}",
            format!("{},{}", row.query, row.target),
            row.cpp.0,
            row.cpp.1,
            cpp.query_percent,
            cpp.target_percent,
            row.python.0,
            row.python.1,
            py.query_percent,
            py.target_percent
        ));
        let what = format!("{} vs {}", row.query, row.target);
        assert_same_to_two_decimals(&cpp, row.cpp, &format!("{what} (C++ rule)"));
        assert_same_to_two_decimals(&py, row.python, &format!("{what} (python rule)"));
        // The verdict follows from the percentages; the pairs cover both outcomes.
        assert_eq!(py.is_match(), row.python.0 >= 80.0, "{what}");
    }
    report!(
        "vpdq matcher on the reference hash files:\n{}",
        table.join("\n")
    );
}
