//! `pixelprint hash-video` run for real: conformance with the reference vPDQ hashes of the
//! sample videos, the python-threatexchange one-second hash, the output formats and the
//! errors for broken input.
//!
//! These tests need the `ffmpeg` and `ffprobe` programs. Without them they are skipped with a
//! message, except when the `CI` environment variable is set: there scripts/bootstrap.sh has
//! installed them, so their absence is a failure.
//!
//! The sample videos in tests/vectors/vpdq are checked always; set
//! `PIXELPRINT_VPDQ_CONFORMANCE` to a directory laid out like it (`sample-videos/<name>.mp4`,
//! `sample-hashes/<name>.txt`) to check more.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{error_codes, json_lines, run, stderr, stdout};
use pixelprint::{
    match_vpdq, parse_vpdq_text, Digests, PdqHash, VpdqFeature, VpdqMatchOptions, PDQ_MIN_QUALITY,
};

fn vectors() -> PathBuf {
    common::vectors_in("vpdq")
}

/// Whether ffmpeg and ffprobe can run; a failure in CI if not.
fn have_ffmpeg(test: &str) -> bool {
    let runs = |p: &str| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: ffmpeg and ffprobe are required in CI (scripts/bootstrap.sh installs them)"
    );
    eprintln!("{test}: skipped, ffmpeg/ffprobe not found (install ffmpeg to run it)");
    false
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Per-video comparison of our every-frame hashes with the reference file.
struct Conformance {
    name: String,
    frames: usize,
    compared: usize,
    max: u32,
    mean: f64,
    within_10: f64,
    equal: f64,
    quality_equal: usize,
}

fn compare_with_reference(name: &str, video: &Path, expected: &Path) -> Conformance {
    let o = run(&["hash-video", "-s", "0", "-f", "vpdq", path_str(video)]);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    let ours = parse_vpdq_text(&stdout(&o)).unwrap_or_else(|e| panic!("{name}: ours: {e}"));
    let text = std::fs::read_to_string(expected).unwrap();
    let reference = parse_vpdq_text(&text).unwrap_or_else(|e| panic!("{name}: reference: {e}"));
    assert_eq!(ours.len(), reference.len(), "{name}: frame count");
    let mut distances = Vec::new();
    let mut quality_equal = 0;
    for (a, b) in ours.iter().zip(&reference) {
        assert_eq!(a.frame_number, b.frame_number, "{name}: frame numbers");
        assert_eq!(
            format!("{:.3}", a.timestamp),
            format!("{:.3}", b.timestamp),
            "{name}: timestamp of frame {}",
            a.frame_number
        );
        quality_equal += usize::from(a.quality == b.quality);
        if a.quality >= PDQ_MIN_QUALITY && b.quality >= PDQ_MIN_QUALITY {
            let d = a.hash.distance(&b.hash);
            assert!(
                d <= pixelprint::PDQ_MATCH_THRESHOLD_BITS,
                "{name}: frame {} is {d} bits from the reference",
                a.frame_number
            );
            distances.push(d);
        }
    }
    let n = distances.len().max(1) as f64;
    Conformance {
        name: name.to_string(),
        frames: ours.len(),
        compared: distances.len(),
        max: distances.iter().copied().max().unwrap_or(0),
        mean: distances.iter().sum::<u32>() as f64 / n,
        within_10: distances.iter().filter(|&&d| d <= 10).count() as f64 * 100.0 / n,
        equal: distances.iter().filter(|&&d| d == 0).count() as f64 * 100.0 / n,
        quality_equal,
    }
}

/// `(name, video, expected hashes)` for every sample video that has a reference file.
fn samples(dir: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir.join("sample-videos")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .filter_map(|video| {
            let name = video.file_stem()?.to_str()?.to_string();
            let expected = dir.join("sample-hashes").join(format!("{name}.txt"));
            expected.is_file().then_some((name, video, expected))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_frame_of_the_sample_videos_is_within_31_bits_of_the_reference() {
    if !have_ffmpeg("conformance") {
        return;
    }
    let mut dirs = vec![vectors()];
    if let Some(extra) = std::env::var_os("PIXELPRINT_VPDQ_CONFORMANCE") {
        dirs.push(PathBuf::from(extra));
    }
    let mut rows: Vec<Conformance> = Vec::new();
    for dir in &dirs {
        for (name, video, expected) in samples(dir) {
            if rows.iter().any(|r| r.name == name) {
                continue;
            }
            rows.push(compare_with_reference(&name, &video, &expected));
        }
    }
    assert!(rows.len() >= 4, "the sample videos in {:?}", vectors());
    let mut table = vec![
        "| video | frames | compared (both q >= 50) | max | mean | <= 10 bits | equal | quality equal |"
            .to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for r in &rows {
        table.push(format!(
            "| {} | {} | {} | {} | {:.2} | {:.1} % | {:.1} % | {} of {} |",
            r.name,
            r.frames,
            r.compared,
            r.max,
            r.mean,
            r.within_10,
            r.equal,
            r.quality_equal,
            r.frames
        ));
    }
    println!("vPDQ conformance, every frame:\n{}", table.join("\n"));
}

/// python-threatexchange's `VpdqCompactFeature` lines: `pdq_hex,quality,timestamp`.
fn parse_pytx(text: &str) -> Vec<VpdqFeature> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            VpdqFeature {
                frame_number: i as u64,
                timestamp: f[2].parse().unwrap(),
                hash: PdqHash::from_hex(f[0]).unwrap(),
                quality: f[1].parse().unwrap(),
            }
        })
        .collect()
}

#[test]
fn one_hash_per_second_matches_python_threatexchange_fully() {
    if !have_ffmpeg("pytx") {
        return;
    }
    let video = vectors().join("sample-videos/chair-20-sd-bar.mp4");
    let o = run(&["hash-video", path_str(&video)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let frames = v["vpdq"].as_array().unwrap();
    assert_eq!(frames.len(), 21);
    let numbers: Vec<u64> = frames
        .iter()
        .map(|f| f["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..=600).step_by(30).collect::<Vec<u64>>());
    let ours: Vec<VpdqFeature> = frames
        .iter()
        .map(|f| VpdqFeature {
            frame_number: f["frame"].as_u64().unwrap(),
            timestamp: f["timestamp"].as_f64().unwrap(),
            hash: PdqHash::from_hex(f["hash"].as_str().unwrap()).unwrap(),
            quality: f["quality"].as_u64().unwrap() as u8,
        })
        .collect();
    let expected =
        std::fs::read_to_string(vectors().join("pytx-chair-20-sd-bar-1sec-expected.txt")).unwrap();
    let m = match_vpdq(
        &ours,
        &parse_pytx(&expected),
        &VpdqMatchOptions::PYTHON_THREATEXCHANGE,
    );
    assert_eq!((m.query_percent, m.target_percent), (100.0, 100.0));
    assert!(m.is_match());
    // The rest of the record: the stream, the selection and the file's digests.
    let digests = Digests::of(&std::fs::read(&video).unwrap());
    assert_eq!(v["md5"], digests.md5.as_str());
    assert_eq!(v["sha256"], digests.sha256.as_str());
    assert_eq!(v["frames"], 614, "the reference file has 614 frames");
    assert_eq!(v["frame_rate"], 30.0);
    assert_eq!(v["seconds_per_hash"], 1.0);
    assert_eq!(frames[20]["timestamp"], 20.0);
}

#[test]
fn vpdq_format_prints_the_reference_lines_and_needs_exactly_one_video() {
    if !have_ffmpeg("vpdq format") {
        return;
    }
    let video = vectors().join("sample-videos/test-padded-dimensions.mp4");
    let o = run(&["hash-video", "-s", "0.5", "-f", "vpdq", path_str(&video)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let features = parse_vpdq_text(&stdout(&o)).unwrap();
    let numbers: Vec<u64> = features.iter().map(|f| f.frame_number).collect();
    assert_eq!(numbers, (0..150).step_by(15).collect::<Vec<u64>>());
    let o = run(&[
        "hash-video",
        "-f",
        "vpdq",
        path_str(&video),
        path_str(&video),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--format vpdq prints one video's frames, found 2 files"));
    let o = run(&["hash-video", "-s", "-1", path_str(&video)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("seconds per hash must be a finite number >= 0, found -1"));
}

fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(o.status.success(), "ffmpeg {args:?}: {}", stderr(&o));
}

#[test]
fn broken_videos_get_clear_errors_and_the_run_goes_on() {
    if !have_ffmpeg("errors") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let sample = std::fs::read(vectors().join("sample-videos/doorknob-hd-no-bar.mp4")).unwrap();
    std::fs::write(d("a-empty.mp4"), b"").unwrap();
    std::fs::write(d("b-text.mp4"), b"not a video\n").unwrap();
    std::fs::write(d("c-cut-in-index.mp4"), &sample[..3000]).unwrap();
    std::fs::write(d("d-cut-in-frames.mp4"), &sample[..sample.len() / 2]).unwrap();
    let mut corrupt = sample.clone();
    for i in (100_000..300_000).step_by(997) {
        corrupt[i] ^= 0x5a;
    }
    std::fs::write(d("e-corrupt.mp4"), &corrupt).unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        path_str(&d("f-audio.m4a")),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=4x4:rate=10:duration=1",
        "-c:v",
        "ffv1",
        path_str(&d("g-tiny.mkv")),
    ]);
    let mkv = d("h-good.mkv");
    ffmpeg(&[
        "-i",
        path_str(&vectors().join("sample-videos/doorknob-hd-no-bar.mp4")),
        "-c",
        "copy",
        path_str(&mkv),
    ]);
    let whole = std::fs::read(&mkv).unwrap();
    std::fs::write(d("i-cut.mkv"), &whole[..whole.len() / 2]).unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x64:rate=1:duration=1",
        "-map",
        "0",
        "-map",
        "1",
        "-c:v",
        "png",
        "-frames:v",
        "1",
        "-disposition:v:0",
        "attached_pic",
        path_str(&d("j-cover.m4a")),
    ]);

    let o = run(&["hash-video", path_str(dir.path())]);
    assert_eq!(o.status.code(), Some(2));
    let lines = json_lines(&o);
    let codes = error_codes(&lines);
    assert_eq!(
        codes,
        [
            "empty_input",
            "unsupported_format",
            "truncated_video",
            "truncated_video",
            "corrupt_video",
            "no_video_stream",
            "frame_too_small",
            "ok",
            "truncated_video",
            "no_video_stream"
        ],
        "{}",
        stdout(&o)
    );
    let message = |i: usize| lines[i]["error"]["message"].as_str().unwrap().to_string();
    assert!(message(2).contains("'moov' box needs"), "{}", message(2));
    assert!(message(3).contains("'mdat' box needs"), "{}", message(3));
    assert!(
        message(4).contains("decoding failed after"),
        "{}",
        message(4)
    );
    assert_eq!(message(5), "no video stream: found only audio streams");
    assert!(
        message(8).contains("Matroska segment needs"),
        "{}",
        message(8)
    );
    // The same frames from the same stream in another container: the same hashes.
    let good = &lines[7];
    assert_eq!(good["frames"], 120);
    let mp4 = run(&[
        "hash-video",
        path_str(&vectors().join("sample-videos/doorknob-hd-no-bar.mp4")),
    ]);
    let mp4: serde_json::Value = serde_json::from_str(stdout(&mp4).trim()).unwrap();
    assert_eq!(good["vpdq"], mp4["vpdq"]);
    assert!(stderr(&o).contains("9 of 10 videos failed"));
}

#[test]
fn limits_and_missing_programs_are_errors_before_decoding() {
    let video = vectors().join("sample-videos/test-padded-dimensions.mp4");
    let (code, message) = only_error(&run(&[
        "hash-video",
        "--ffprobe",
        "/nonexistent/ffprobe",
        path_str(&video),
    ]));
    assert_eq!(code, "ffmpeg_missing");
    assert!(message.contains("apt-get install ffmpeg"), "{message}");
    if !have_ffmpeg("limits") {
        return;
    }
    let (code, message) = only_error(&run(&[
        "hash-video",
        "--max-pixels",
        "1000000",
        path_str(&video),
    ]));
    assert_eq!(code, "too_many_pixels");
    assert!(message.contains("1080x1080 = 1166400"), "{message}");
}

/// The code and message of a run that failed on its one video.
fn only_error(o: &Output) -> (String, String) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    let v: serde_json::Value = serde_json::from_str(stdout(o).trim()).unwrap();
    let field = |k: &str| v["error"][k].as_str().unwrap_or_default().to_string();
    (field("code"), field("message"))
}
