//! The `pixelprint` binary run for real on the reference images: documented JSON, exit
//! codes, formats, compare and match.

mod common;

use std::path::PathBuf;

use common::{error_codes, json_lines, run, stdout};

fn vectors() -> PathBuf {
    common::vectors_in("pdq")
}

fn canonical(file: &str) -> (String, u8) {
    let text = std::fs::read_to_string(vectors().join("cpp-core-fullres.txt")).unwrap();
    let row = text
        .lines()
        .find(|l| l.split(',').nth(3) == Some(file))
        .expect("row");
    let f: Vec<&str> = row.split(',').collect();
    (f[0].to_string(), f[1].parse().unwrap())
}

#[test]
fn hash_prints_exactly_the_documented_keys_and_the_reference_pdq() {
    let png = vectors().join("misc-images/modes/P.png");
    let o = run(&[
        "hash",
        "--algorithms",
        "pdq,pdq-dihedral,ahash,dhash,dhash-vertical,phash,phash16,whash,md5,sha1,sha256",
        png.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "path",
        "width",
        "height",
        "format",
        "pdq",
        "pdq_dihedral",
        "ahash",
        "dhash",
        "dhash_vertical",
        "phash",
        "phash16",
        "whash",
        "md5",
        "sha1",
        "sha256",
    ];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let (hash, quality) = canonical("misc-images/modes/P.png");
    assert_eq!(v["pdq"]["hash"], hash.as_str());
    assert_eq!(v["pdq"]["quality"], quality);
    assert_eq!(v["pdq_dihedral"].as_array().unwrap().len(), 8);
    assert_eq!(
        (
            v["width"].as_u64(),
            v["height"].as_u64(),
            v["format"].as_str()
        ),
        (Some(1600), Some(1004), Some("png"))
    );
    assert_eq!(v["phash16"].as_str().unwrap().len(), 64);
    assert_eq!(v["sha1"].as_str().unwrap().len(), 40);
}

#[test]
fn default_algorithms_are_pdq_ahash_dhash_phash_md5_sha256() {
    let o = run(&[
        "hash",
        vectors().join("misc-images/small.jpg").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["ahash", "dhash", "format", "height", "md5", "path", "pdq", "phash", "sha256", "width"]
    );
}

#[test]
fn a_failing_file_is_reported_and_the_run_goes_on_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-text.jpg"), "not an image").unwrap();
    std::fs::write(dir.path().join("b-empty.png"), "").unwrap();
    let jpeg = std::fs::read(vectors().join("misc-images/wee.jpg")).unwrap();
    std::fs::write(dir.path().join("c-truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::copy(
        vectors().join("misc-images/wee.jpg"),
        dir.path().join("d-good.jpg"),
    )
    .unwrap();
    let o = run(&["hash", "--jobs", "2", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let lines = json_lines(&o);
    let codes = error_codes(&lines);
    assert_eq!(
        codes,
        ["unsupported_format", "empty_input", "truncated_image", "ok"]
    );
    assert!(
        lines[0]["path"].as_str().unwrap().ends_with("a-text.jpg"),
        "input order is kept"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 of 4 files failed"));
}

#[test]
fn text_format_prints_hash_quality_path_like_the_reference_tool() {
    let file = vectors().join("bridge-mods/aaa-orig.jpg");
    let o = run(&["hash", "--format", "text", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let (hash, quality) = canonical("bridge-mods/aaa-orig.jpg");
    assert_eq!(
        stdout(&o).trim(),
        format!("{hash},{quality},{}", file.display())
    );
}

#[test]
fn csv_has_a_header_and_one_row_per_file() {
    let file = vectors().join("misc-images/wee.jpg");
    let o = run(&[
        "hash",
        "--format",
        "csv",
        "-a",
        "pdq,md5",
        file.to_str().unwrap(),
        "/does/not/exist",
    ]);
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows[0],
        "path,width,height,format,pdq,pdq_quality,md5,error"
    );
    assert_eq!(rows[1].split(',').count(), 8);
    assert!(rows[2].ends_with("not_found: no such file or directory"));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unknown_algorithm_is_an_error_that_lists_the_known_ones() {
    let o = run(&["hash", "-a", "pdq,nope", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown algorithm \"nope\""));
}

#[test]
fn compare_gives_distance_and_verdict_and_exit_code() {
    let a = vectors().join("bridge-mods/aaa-orig.jpg");
    let b = vectors().join("bridge-mods/blur-a-lot.jpg");
    let o = run(&[
        "compare",
        "-f",
        "json",
        "-a",
        "pdq,md5",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v[0]["algorithm"], "pdq");
    assert_eq!(v[0]["verdict"], "match");
    assert_eq!(v[0]["threshold"], 39);
    assert_eq!(v[1]["verdict"], "different");
    assert!(v[1].get("distance").is_none(), "digests have no distance");
    // Two unrelated hashes: no match, exit 1.
    let o = run(&["compare", &"0".repeat(64), &"f".repeat(64)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("distance 256  no match"));
    let o = run(&["compare", "abcd", "abcd"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a 4-character hash needs --algorithms"
    );
}

#[test]
fn match_finds_listed_images_and_reports_broken_list_lines_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let (hash, _) = canonical("bridge-mods/aaa-orig.jpg");
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        format!(
            "# bank\npdq {hash} bridge\nsignal_type,signal_str\npdq,{},far away\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let target = vectors().join("bridge-mods/blur-a-lot.jpg");
    let o = run(&[
        "match",
        "--list",
        list.to_str().unwrap(),
        target.to_str().unwrap(),
        vectors().join("misc-images/c.png").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["matches"][0]["line"], 2);
    assert_eq!(lines[0]["matches"][0]["metadata"], "bridge");
    assert_eq!(lines[0]["matches"][0]["distance"], 4);
    assert_eq!(lines[1]["matches"].as_array().unwrap().len(), 0);

    std::fs::write(&list, format!("{hash}\nnot-a-hash\n")).unwrap();
    let o = run(&[
        "match",
        "--list",
        list.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2: "));
    let o = run(&[
        "match",
        "--skip-bad-lines",
        "--list",
        list.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));

    // No match at all: exit 1.
    std::fs::write(&list, format!("{}\n", "0".repeat(64))).unwrap();
    let o = run(&[
        "match",
        "--list",
        list.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_low_quality_pdq_is_reported_as_not_matchable() {
    let dir = tempfile::tempdir().unwrap();
    let (hash, quality) = canonical("misc-images/small.jpg");
    assert!(quality < 50);
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("{hash}\n")).unwrap();
    let o = run(&[
        "match",
        "--list",
        list.to_str().unwrap(),
        vectors().join("misc-images/small.jpg").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["not_matchable"], "pdq quality under 50");
}

/// A 24-bit BMP of `w` x `h` RGB pixels (rows bottom-up, each padded to 4 bytes).
fn bmp(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut out = Vec::with_capacity(size);
    out.extend(b"BM");
    for v in [size as u32, 0, 54, 40, w as u32, h as u32] {
        out.extend(v.to_le_bytes());
    }
    out.extend(1u16.to_le_bytes());
    out.extend(24u16.to_le_bytes());
    for v in [0u32, (row * h) as u32, 2835, 2835, 0, 0] {
        out.extend(v.to_le_bytes());
    }
    for y in (0..h).rev() {
        for p in rgb[y * w * 3..(y + 1) * w * 3].chunks_exact(3) {
            out.extend([p[2], p[1], p[0]]);
        }
        out.resize(out.len() + row - w * 3, 0);
    }
    out
}

/// A textured picture (w x h RGB) that PDQ hashes with full quality.
fn textured(w: usize, h: usize) -> Vec<u8> {
    let mut pic = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let v = ((x * x / 7 + y * 5 + (x ^ y) % 37) % 256) as u8;
            pic.extend([v, v / 2 + 60, 255 - v]);
        }
    }
    pic
}

/// The first hit of `pixelprint match --expand` for `copy` (w x h RGB) against a list with the
/// PDQ of `pic` (pw x ph RGB), after checking that the plain match misses it.
fn expanded_hit(
    pic: &[u8],
    (pw, ph): (usize, usize),
    copy: &[u8],
    (w, h): (usize, usize),
) -> serde_json::Value {
    expanded_hit_by("pdq", pic, (pw, ph), copy, (w, h))
}

/// As [`expanded_hit`], against a list of `algorithm` (its CLI name and JSON key).
fn expanded_hit_by(
    algorithm: &str,
    pic: &[u8],
    (pw, ph): (usize, usize),
    copy: &[u8],
    (w, h): (usize, usize),
) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let (original, copied) = (dir.path().join("pic.bmp"), dir.path().join("copy.bmp"));
    std::fs::write(&original, bmp(pic, pw, ph)).unwrap();
    std::fs::write(&copied, bmp(copy, w, h)).unwrap();
    let o = run(&["hash", "-a", algorithm, original.to_str().unwrap()]);
    let value = &json_lines(&o)[0][algorithm];
    // PDQ is an object with its quality; the 64-bit hashes are hex strings.
    let hash = value["hash"]
        .as_str()
        .or(value.as_str())
        .unwrap()
        .to_string();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("{hash},picture\n")).unwrap();
    let args = [
        "match",
        "--list-type",
        algorithm,
        "--list",
        list.to_str().unwrap(),
        copied.to_str().unwrap(),
    ];
    // The copy's plain hash is out of reach.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = run(&[&args[..], &["--expand"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    json_lines(&o)[0]["matches"][0].clone()
}

#[test]
fn match_expand_finds_a_letterboxed_copy_by_its_trimmed_pdq() {
    let (w, h, bar) = (240, 160, 24);
    let pic = textured(w, h);
    let mut boxed = vec![0u8; w * (h + 2 * bar) * 3];
    boxed[w * bar * 3..w * (bar + h) * 3].copy_from_slice(&pic);
    let hit = expanded_hit(&pic, (w, h), &boxed, (w, h + 2 * bar));
    assert_eq!(hit["variant"], "trimmed", "{hit}");
    assert_eq!(hit["distance"], 0);
    assert_eq!(hit["metadata"], "picture");
}

#[test]
fn match_expand_finds_a_screenshot_by_its_embedded_pdq() {
    let (w, h, pw, ph, x0, y0) = (480, 320, 240, 160, 150, 80);
    let pic = textured(pw, ph);
    // The picture on a flat page under a title bar.
    let mut page = [250u8, 250, 250].repeat(w * h);
    page[..w * 30 * 3].fill(210);
    for y in 0..ph {
        let at = ((y0 + y) * w + x0) * 3;
        page[at..at + pw * 3].copy_from_slice(&pic[y * pw * 3..(y + 1) * pw * 3]);
    }
    let hit = expanded_hit(&pic, (pw, ph), &page, (w, h));
    assert_eq!(hit["variant"], "embedded", "{hit}");
    assert_eq!(hit["distance"], 0);
}

#[test]
fn match_expand_finds_a_meme_by_its_captioned_pdq() {
    let (w, ph, band) = (320, 200, 48);
    let pic = textured(w, ph);
    // A black band with a line of white strokes (the caption) under the picture.
    let mut meme = pic.clone();
    let mut caption = vec![0u8; w * band * 3];
    for y in 18..30 {
        for x in (24..w - 24).filter(|x| x % 5 < 2) {
            caption[(y * w + x) * 3..][..3].fill(255);
        }
    }
    meme.extend_from_slice(&caption);
    let hit = expanded_hit(&pic, (w, ph), &meme, (w, ph + band));
    assert_eq!(hit["variant"], "captioned", "{hit}");
    assert_eq!(hit["distance"], 0);
}

#[test]
fn match_expand_finds_a_tilted_copy_by_its_straightened_pdq() {
    // The picture turned 6 degrees clockwise on a white canvas of its own size (corners cut).
    let (w, h) = (320, 200);
    let pic = textured(w, h);
    let (s, c) = (-6f64).to_radians().sin_cos();
    let mut tilted = vec![255u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (
                x as f64 + 0.5 - w as f64 / 2.0,
                y as f64 + 0.5 - h as f64 / 2.0,
            );
            let (sx, sy) = (
                px * c - py * s + w as f64 / 2.0,
                px * s + py * c + h as f64 / 2.0,
            );
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                let from = (sy as usize * w + sx as usize) * 3;
                tilted[(y * w + x) * 3..][..3].copy_from_slice(&pic[from..from + 3]);
            }
        }
    }
    let hit = expanded_hit(&pic, (w, h), &tilted, (w, h));
    assert_eq!(hit["variant"], "straightened", "{hit}");
    assert!(hit["distance"].as_u64().unwrap() <= 39, "{hit}");
}

#[test]
fn match_expand_finds_a_mirrored_copy_by_its_mirrored_phash() {
    let (w, h) = (320, 200);
    let pic = textured(w, h);
    let mirrored: Vec<u8> = pic
        .chunks_exact(w * 3)
        .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
        .collect();
    let hit = expanded_hit_by("phash", &pic, (w, h), &mirrored, (w, h));
    assert_eq!(hit["variant"], "mirrored", "{hit}");
    assert_eq!(hit["signal"], "phash", "{hit}");
    assert_eq!(hit["metadata"], "picture");
}
