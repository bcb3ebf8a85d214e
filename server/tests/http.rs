//! The server binary over real HTTP on 127.0.0.1, with its SQLite store in a temporary directory.

mod anonymous;
mod common;

use std::time::{Duration, Instant};

use common::{backend_name, distance, flip, pdq, random_hex, Server, TempDir, ADMIN_KEY};
use serde_json::{json, Value};

fn matches_of(response: &Value, item: usize) -> Vec<Value> {
    response["results"][item]["matches"]
        .as_array()
        .unwrap()
        .clone()
}

fn admin_key_with(server: &Server, scopes: &[&str]) -> String {
    let r = server.admin("/v1/keys", &json!({ "scopes": scopes }));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_string()
}

#[test]
fn readyz_answers_503_until_the_index_is_loaded_then_reports_the_checkpoint() {
    let dir = TempDir::new("ready");
    let s = Server::start(&dir.0, &["--load-delay-ms", "3000"]);
    let r = s.get("/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    let m = s.post_json(
        "/v1/match",
        &json!({"items": [{"md5": "d41d8cd98f00b204e9800998ecf8427e"}]}),
    );
    assert_eq!(m.status, 503);
    assert_eq!(s.get("/healthz").status, 200);
    s.wait_ready();
    let r = s.get("/readyz").json();
    assert_eq!(r["ready"], true);
    assert_eq!(r["checkpoint"], 0);
    s.create_bank("a");
    s.add(
        "a",
        &[
            ("pdq", &pdq(1)),
            ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ],
    );
    let r = s.get("/readyz").json();
    assert_eq!(r["checkpoint"], 2);
    assert!(r["index_age_seconds"].as_u64().unwrap() < 5);
    let metrics = s.get("/metrics").text();
    assert!(
        metrics.contains("pixelprint_index_entries{algorithm=\"pdq\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pixelprint_index_checkpoint 2"),
        "{metrics}"
    );
}

#[test]
fn openapi_document_lists_every_route() {
    let dir = TempDir::new("openapi");
    let s = Server::start_ready(&dir.0, &[]);
    let doc = s.get("/v1/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("/v1/match", "post"),
        ("/v1/tips", "post"),
        ("/v1/tips", "get"),
        ("/v1/tips/categories", "get"),
        ("/v1/tips/{tip_id}", "get"),
        ("/v1/tips/{tip_id}", "patch"),
        ("/v1/tips/{tip_id}/review", "post"),
        ("/v1/tips/{tip_id}/withdraw", "post"),
        ("/v1/stopncii/FetchHashes", "get"),
        ("/v1/stopncii/SubmitHashes", "post"),
        ("/v1/stopncii/SubmitFeedback", "post"),
        ("/v1/banks", "post"),
        ("/v1/banks", "get"),
        ("/v1/banks/{name}", "patch"),
        ("/v1/banks/{name}/entries", "post"),
        ("/v1/banks/{name}/entries/{id}", "delete"),
        ("/v1/banks/{name}/entries/{id}", "patch"),
        ("/v1/banks/{name}/disabled", "get"),
        ("/v1/banks/{name}/entries/{id}/feedback", "post"),
        ("/v1/banks/{name}/feedback", "get"),
        ("/v1/banks/{name}/webhooks", "post"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks/{id}", "delete"),
        ("/v1/webhooks/deliveries", "get"),
        ("/v1/banks/{name}/import", "post"),
        ("/v1/banks/{name}/export", "get"),
        ("/v1/keys", "post"),
        ("/v1/keys", "get"),
        ("/v1/keys/{id}", "delete"),
        ("/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            p.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count()
        })
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "documented operations that the test does not know"
    );
}

#[test]
fn pages_are_served_with_the_strict_csp() {
    let dir = TempDir::new("www");
    let www = dir.0.join("www");
    std::fs::create_dir_all(www.join("node_modules")).unwrap();
    std::fs::write(
        www.join("index.html"),
        "<!doctype html><title>pixelprint</title>",
    )
    .unwrap();
    std::fs::write(www.join("node_modules/x.js"), "secret").unwrap();
    let package = dir.0.join("package");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(package.join("index.js"), "export const x = 1;").unwrap();
    let mount = format!("/package={}", package.to_str().unwrap());
    let s = Server::start_ready(
        &dir.0.join("data"),
        &["--www", www.to_str().unwrap(), "--mount", &mount],
    );
    let csp = include_str!("../../www/site/csp.txt").trim_end();
    let r = s.get("/");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("pixelprint"));
    assert_eq!(r.header("content-security-policy"), Some(csp));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(s.get("/node_modules/x.js").status, 404);
    let r = s.get("/package/index.js");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("export const x"));
    assert_eq!(r.header("content-security-policy"), Some(csp));
    // The API's routes stay the API's.
    assert_eq!(s.get("/healthz").status, 200);
}

#[test]
fn cors_allows_only_listed_origins() {
    let dir = TempDir::new("cors");
    let s = Server::start_ready(&dir.0, &["--cors-origin", "https://pages.example"]);
    let r = s.request(
        "GET",
        "/v1/tips/categories",
        &[("origin", "https://pages.example")],
        b"",
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://pages.example")
    );
    let r = s.request(
        "GET",
        "/v1/tips/categories",
        &[("origin", "https://other.example")],
        b"",
    );
    assert_eq!(r.header("access-control-allow-origin"), None);
    let dir2 = TempDir::new("nocors");
    let s2 = Server::start_ready(&dir2.0, &[]);
    let r = s2.request(
        "GET",
        "/v1/tips/categories",
        &[("origin", "https://pages.example")],
        b"",
    );
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// A textured picture (w x h RGB) that PDQ hashes with full quality.
fn picture(w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let v = ((x * x / 7 + y * 5 + (x ^ y) % 37) % 256) as u8;
            out.extend([v, v / 2 + 60, 255 - v]);
        }
    }
    out
}

/// Stores the PDQ of `pic` (pw x ph RGB), then matches `copy` (w x h RGB): its plain PDQ
/// misses, its query hash `algorithm` (searched against PDQ entries) finds the entry naming
/// `variant` at that hash's distance (within the PDQ threshold), not under the quality gate, and a malformed value is refused naming the field.
fn a_query_hash_finds_the_stored_picture(
    pic: &[u8],
    (pw, ph): (usize, usize),
    copy: &[u8],
    (w, h): (usize, usize),
    algorithm: pixelprint::Algorithm,
    variant: &str,
) {
    use pixelprint::pipeline::{hash_view, FileHashes};
    use pixelprint::{AlgorithmSet, PixelFormat, PixelView};

    let stored = pixelprint::pdq_hash(
        &PixelView::packed(pic, pw as u32, ph as u32, PixelFormat::Rgb8).unwrap(),
    );
    assert!(stored.quality >= 50);
    let view = PixelView::packed(copy, w as u32, h as u32, PixelFormat::Rgb8).unwrap();
    let mut hashes = FileHashes::default();
    let wanted = AlgorithmSet::from_iter([pixelprint::Algorithm::Pdq, algorithm]);
    hash_view(&view, wanted, &mut hashes).unwrap();
    let plain = hashes.pdq().unwrap();
    let value = hashes.hex(algorithm).unwrap();
    let key = algorithm.key();
    let threshold = pixelprint::Algorithm::Pdq.match_threshold().unwrap();
    assert!(
        stored.hash.distance(&plain.hash) > threshold,
        "the plain PDQ already misses"
    );
    let found_at = distance(&stored.hash.to_hex(), &value);
    assert!(found_at <= threshold, "{variant}: {found_at}");

    let dir = TempDir::new(variant);
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let ids = s.add("a", &[("pdq", &stored.hash.to_hex())]);
    let item = json!({"pdq": plain.hash.to_hex(), "pdq_quality": plain.quality});
    assert!(matches_of(&s.match_items(json!({ "items": [item] })), 0).is_empty());
    let item = json!({"pdq": plain.hash.to_hex(), "pdq_quality": plain.quality, key: value});
    assert_eq!(
        matches_of(&s.match_items(json!({ "items": [item] })), 0),
        vec![
            json!({"bank": "a", "entry_id": ids[0], "algorithm": "pdq", "distance": found_at, "variant": variant})
        ]
    );
    // Under the quality gate, it is not matched either.
    let item = json!({"pdq": plain.hash.to_hex(), "pdq_quality": 10, key: value});
    assert!(matches_of(&s.match_items(json!({ "items": [item] })), 0).is_empty());
    // A malformed one is refused, naming the field.
    let r = s.post_json_auth("/v1/match", ADMIN_KEY, &json!({"items": [{key: "00"}]}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains(key), "{}", r.text());
}

#[test]
fn a_letterboxed_copy_matches_the_stored_picture_by_its_trimmed_pdq() {
    let (w, h, bar) = (240, 160, 24);
    let pic = picture(w, h);
    let mut boxed = vec![0u8; w * (h + 2 * bar) * 3];
    boxed[w * bar * 3..w * (bar + h) * 3].copy_from_slice(&pic);
    let trimmed = pixelprint::Algorithm::PdqTrimmed;
    a_query_hash_finds_the_stored_picture(
        &pic,
        (w, h),
        &boxed,
        (w, h + 2 * bar),
        trimmed,
        "trimmed",
    );
}

#[test]
fn a_screenshot_matches_the_stored_picture_by_its_embedded_pdq() {
    // The picture on a flat page with a title bar above it.
    let (w, h, pw, ph, x0, y0) = (480, 320, 240, 160, 150, 80);
    let pic = picture(pw, ph);
    let mut page = [250u8, 250, 250].repeat(w * h);
    page[..w * 30 * 3].fill(210);
    for y in 0..ph {
        let at = ((y0 + y) * w + x0) * 3;
        page[at..at + pw * 3].copy_from_slice(&pic[y * pw * 3..(y + 1) * pw * 3]);
    }
    let embedded = pixelprint::Algorithm::PdqEmbedded;
    a_query_hash_finds_the_stored_picture(&pic, (pw, ph), &page, (w, h), embedded, "embedded");
}

#[test]
fn a_meme_matches_the_stored_picture_by_its_captioned_pdq() {
    // A white band with a line of black strokes (the caption) added above the picture.
    let (w, ph, band) = (240, 160, 40);
    let pic = picture(w, ph);
    let mut meme = vec![255u8; w * band * 3];
    for y in 14..26 {
        for x in (20..w - 20).filter(|x| x % 6 < 2) {
            meme[(y * w + x) * 3..][..3].fill(0);
        }
    }
    meme.extend_from_slice(&pic);
    let captioned = pixelprint::Algorithm::PdqCaptioned;
    a_query_hash_finds_the_stored_picture(
        &pic,
        (w, ph),
        &meme,
        (w, ph + band),
        captioned,
        "captioned",
    );
}

#[test]
fn a_tilted_copy_matches_the_stored_picture_by_its_straightened_pdq() {
    // The picture turned 6 degrees counter-clockwise on a black canvas grown to hold it.
    let (w, h) = (240, 160);
    let pic = picture(w, h);
    let (s, c) = 6f64.to_radians().sin_cos();
    let (tw, th) = (
        (w as f64 * c + h as f64 * s).ceil() as usize,
        (w as f64 * s + h as f64 * c).ceil() as usize,
    );
    let mut tilted = vec![0u8; tw * th * 3];
    for y in 0..th {
        for x in 0..tw {
            let (px, py) = (
                x as f64 + 0.5 - tw as f64 / 2.0,
                y as f64 + 0.5 - th as f64 / 2.0,
            );
            let (sx, sy) = (
                px * c - py * s + w as f64 / 2.0,
                px * s + py * c + h as f64 / 2.0,
            );
            if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                let from = (sy as usize * w + sx as usize) * 3;
                tilted[(y * tw + x) * 3..][..3].copy_from_slice(&pic[from..from + 3]);
            }
        }
    }
    let straightened = pixelprint::Algorithm::PdqStraightened;
    a_query_hash_finds_the_stored_picture(
        &pic,
        (w, h),
        &tilted,
        (tw, th),
        straightened,
        "straightened",
    );
}

#[test]
fn a_mirrored_copy_matches_the_stored_phash_by_its_mirrored_phash() {
    use pixelprint::pipeline::{hash_view, FileHashes};
    use pixelprint::{Algorithm, AlgorithmSet, PixelFormat, PixelView};

    let (w, h) = (240, 160);
    let pic = picture(w, h);
    let mirrored: Vec<u8> = pic
        .chunks_exact(w * 3)
        .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
        .collect();
    let hashes = |rgb: &[u8]| {
        let view = PixelView::packed(rgb, w as u32, h as u32, PixelFormat::Rgb8).unwrap();
        let mut out = FileHashes::default();
        let wanted = AlgorithmSet::from_iter([Algorithm::PHash, Algorithm::PHashMirrored]);
        hash_view(&view, wanted, &mut out).unwrap();
        (
            out.hex(Algorithm::PHash).unwrap(),
            out.hex(Algorithm::PHashMirrored).unwrap(),
        )
    };
    let (stored, _) = hashes(&pic);
    let (plain, flipped) = hashes(&mirrored);
    assert!(
        distance(&stored, &plain) > 10,
        "the plain pHash already matches"
    );
    let found_at = distance(&stored, &flipped);
    assert!(found_at <= 10, "{found_at}");

    let dir = TempDir::new("mirrored");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let ids = s.add("a", &[("phash", &stored)]);
    assert!(matches_of(&s.match_items(json!({"items": [{"phash": plain}]})), 0).is_empty());
    assert_eq!(
        matches_of(
            &s.match_items(json!({"items": [{"phash": plain, "phash_mirrored": flipped}]})),
            0
        ),
        vec![
            json!({"bank": "a", "entry_id": ids[0], "algorithm": "phash", "distance": found_at, "variant": "mirrored"})
        ]
    );
    let r = s.post_json_auth(
        "/v1/match",
        ADMIN_KEY,
        &json!({"items": [{"phash_mirrored": "00"}]}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("phash_mirrored"), "{}", r.text());
}

#[test]
fn match_finds_hits_misses_variants_digests_with_capped_thresholds_and_bank_filter() {
    let dir = TempDir::new("match");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    s.create_bank("b");
    let p = pdq(1);
    let near = flip(&p, 5);
    let d20 = flip(&pdq(2), 20);
    let d40 = flip(&pdq(3), 40);
    let rotated = pdq(4);
    let ph = random_hex(5, 8);
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let ids_a = s.add(
        "a",
        &[
            ("pdq", &p),
            ("pdq", &d20),
            ("pdq", &d40),
            ("pdq", &rotated),
            ("phash", &ph),
            ("md5", md5),
        ],
    );
    let ids_b = s.add("b", &[("pdq", &near)]);
    for (x, y) in [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)] {
        assert!(
            distance(&pdq(x), &pdq(y)) > 64,
            "test hashes {x} and {y} are too close"
        );
    }

    // Hit in both banks, sorted by distance; a far hash misses.
    let r = s.match_items(
        json!({"items": [{"pdq": p.to_uppercase(), "pdq_quality": 100}, {"pdq": pdq(9)}]}),
    );
    assert_eq!(
        matches_of(&r, 0),
        vec![
            json!({"bank": "a", "entry_id": ids_a[0], "algorithm": "pdq", "distance": 0}),
            json!({"bank": "b", "entry_id": ids_b[0], "algorithm": "pdq", "distance": 5}),
        ]
    );
    assert_eq!(r["results"][1]["item"], 1);
    assert_eq!(matches_of(&r, 1), Vec::<Value>::new());

    // Bank filter.
    let r = s.match_items(json!({"items": [{"pdq": p}], "banks": ["b"]}));
    assert_eq!(matches_of(&r, 0).len(), 1);
    assert_eq!(matches_of(&r, 0)[0]["bank"], "b");

    // Low quality: reported, not matched.
    let r = s.match_items(json!({"items": [{"pdq": p, "pdq_quality": 12, "md5": md5}]}));
    assert_eq!(
        r["results"][0]["not_matchable"],
        json!([{"algorithm": "pdq", "reason": "pdq quality 12 is below 50"}])
    );
    let m = matches_of(&r, 0);
    assert_eq!(m.len(), 1, "only the digest matches: {m:?}");
    assert_eq!(m[0]["algorithm"], "md5");

    // Thresholds: lower than the distance misses; above the cap is capped.
    let t = pdq(2);
    let r = s.match_items(json!({"items": [{"pdq": t}]}));
    assert_eq!(matches_of(&r, 0)[0]["distance"], 20);
    let r = s.match_items(json!({"items": [{"pdq": t}], "thresholds": {"pdq": 10}}));
    assert!(matches_of(&r, 0).is_empty());
    let r = s.match_items(json!({"items": [{"pdq": pdq(3)}], "thresholds": {"pdq": 64}}));
    assert!(
        matches_of(&r, 0).is_empty(),
        "a threshold of 64 is capped at 39"
    );

    // Dihedral: the stored hash is the query's rot90 variant.
    let mut dihedral: Vec<String> = (10..18).map(pdq).collect();
    dihedral[1] = flip(&rotated, 2);
    let r = s.match_items(json!({"items": [{"pdq": dihedral[0], "pdq_dihedral": dihedral}]}));
    assert_eq!(
        matches_of(&r, 0),
        vec![
            json!({"bank": "a", "entry_id": ids_a[3], "algorithm": "pdq", "distance": 2, "variant": "rot90"})
        ]
    );

    // 64-bit and digests.
    let r = s.match_items(json!({"items": [{"phash": flip(&ph, 3)}, {"md5": md5.to_uppercase()}, {"sha256": random_hex(6, 32)}]}));
    assert_eq!(
        matches_of(&r, 0),
        vec![json!({"bank": "a", "entry_id": ids_a[4], "algorithm": "phash", "distance": 3})]
    );
    assert_eq!(
        matches_of(&r, 1),
        vec![json!({"bank": "a", "entry_id": ids_a[5], "algorithm": "md5", "distance": 0})]
    );
    assert!(matches_of(&r, 2).is_empty());
    let r = s.match_items(json!({"items": [{"phash": flip(&ph, 3)}], "thresholds": {"phash": 2}}));
    assert!(matches_of(&r, 0).is_empty());
    let r =
        s.match_items(json!({"items": [{"phash": flip(&ph, 12)}], "thresholds": {"phash": 64}}));
    assert!(
        matches_of(&r, 0).is_empty(),
        "64-bit thresholds are capped at 10"
    );

    // Deleting an entry removes it from matching at once.
    assert_eq!(s.delete_entry("b", &ids_b[0]), 204);
    let r = s.match_items(json!({"items": [{"pdq": near}]}));
    assert_eq!(matches_of(&r, 0).len(), 1);
    assert_eq!(matches_of(&r, 0)[0]["bank"], "a");
    assert_eq!(s.delete_entry("b", &ids_b[0]), 404);
}

#[test]
fn bad_input_is_a_400_that_says_where() {
    let dir = TempDir::new("bad");
    let s = Server::start_ready(&dir.0, &[]);
    let check = |body: &[u8], code: &str, item: Option<u64>, field: Option<&str>| {
        let r = s.request(
            "POST",
            "/v1/match",
            &[("content-type", "application/json")],
            body,
        );
        assert_eq!(r.status, 400, "{}", r.text());
        let e = &r.json()["error"];
        assert_eq!(e["code"], code, "{e}");
        assert_eq!(e["item"].as_u64(), item, "{e}");
        assert_eq!(e["field"].as_str(), field, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    };
    let good = pdq(1);
    let body = json!({"items": [{"pdq": good}, {"pdq": good}, {"pdq": "zz"}]}).to_string();
    check(body.as_bytes(), "invalid_hash", Some(2), Some("pdq"));
    let body = json!({"items": [{"md5": "abc"}]}).to_string();
    check(body.as_bytes(), "invalid_hash", Some(0), Some("md5"));
    let body = json!({"items": [{"pdq": good, "pdq_dihedral": [good]}]}).to_string();
    check(
        body.as_bytes(),
        "invalid_hash",
        Some(0),
        Some("pdq_dihedral"),
    );
    let body = json!({"items": [{"pdq": good, "colour": "red"}]}).to_string();
    let r = s.post_json("/v1/match", &serde_json::from_str(&body).unwrap());
    assert_eq!(r.status, 400);
    assert!(r.text().contains("colour"), "{}", r.text());
    assert_eq!(r.json()["error"]["item"], 0);
    let body = json!({"items": [{"pdq": good}], "extra": 1}).to_string();
    let r = s.request(
        "POST",
        "/v1/match",
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 400);
    let r = s.request(
        "POST",
        "/v1/match",
        &[("content-type", "application/json")],
        b"{\"items\": [",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "malformed_json");
    let r = s.request(
        "POST",
        "/v1/match",
        &[("content-type", "application/json")],
        b"not json",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "malformed_json");
    let body = json!({"items": [{}]}).to_string();
    check(body.as_bytes(), "empty_item", Some(0), Some("item"));
    let body = json!({"items": []}).to_string();
    check(body.as_bytes(), "item_count", None, Some("items"));
    let items: Vec<Value> = (0..1001)
        .map(|_| json!({"md5": "d41d8cd98f00b204e9800998ecf8427e"}))
        .collect();
    check(
        json!({ "items": items }).to_string().as_bytes(),
        "item_count",
        None,
        Some("items"),
    );
    let r = s.post_json(
        "/v1/match",
        &json!({"items": [{"pdq": good}], "thresholds": {"whash": 3}}),
    );
    assert_eq!(r.status, 400);
    // A body over the 1 MiB limit: 413, not a 5xx.
    let big = format!("{{\"items\": [{{\"md5\": \"{}\"}}]}}", "a".repeat(1 << 20));
    let r = s.request(
        "POST",
        "/v1/match",
        &[("content-type", "application/json")],
        big.as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "body_too_large");
    let metrics = s.get("/metrics").text();
    assert!(
        metrics.contains("pixelprint_http_server_errors_total 0"),
        "{metrics}"
    );
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = TempDir::new("rate");
    let s = Server::start_ready(&dir.0, &["--rate-ip", "0.5", "--burst-ip", "3"]);
    let statuses: Vec<u16> = (0..5)
        .map(|_| s.get("/v1/tips/categories").status)
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let r = s.get("/v1/tips/categories");
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    assert_eq!(
        s.get("/healthz").status,
        200,
        "operations endpoints are not limited"
    );

    let dir = TempDir::new("ratekey");
    let s = Server::start_ready(&dir.0, &["--rate-key", "0.5", "--burst-key", "2"]);
    let key = admin_key_with(&s, &["match"]);
    let statuses: Vec<u16> = (0..3)
        .map(|_| s.get_auth("/v1/tips/categories", &key).status)
        .collect();
    assert_eq!(statuses, vec![200, 200, 429]);
    assert_eq!(
        s.get("/v1/tips/categories").status,
        200,
        "anonymous requests have their own bucket"
    );
}

#[test]
fn admin_endpoints_need_an_admin_key() {
    let dir = TempDir::new("auth");
    let s = Server::start_ready(&dir.0, &[]);
    let r = s.post_json("/v1/banks", &json!({"name": "x"}));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let r = s.post_json_auth("/v1/banks", "not-a-key", &json!({"name": "x"}));
    assert_eq!(r.status, 401);
    let match_key = admin_key_with(&s, &["match"]);
    let r = s.post_json_auth("/v1/banks", &match_key, &json!({"name": "x"}));
    assert_eq!(r.status, 403);
    assert_eq!(s.get_auth("/v1/tips", &match_key).status, 403);
    assert_eq!(s.get_auth("/v1/banks", &match_key).status, 403);
    assert_eq!(s.get("/v1/banks/x/export").status, 401);
    let r = s.admin("/v1/banks", &json!({"name": "Bad Name"}));
    assert_eq!(r.status, 400);
    s.create_bank("x");
    assert_eq!(s.admin("/v1/banks", &json!({"name": "x"})).status, 409);
    let banks = s.get_auth("/v1/banks", ADMIN_KEY).json();
    let bank = &banks["banks"][0];
    assert_eq!(
        (&bank["name"], &bank["description"], &bank["entries"]),
        (&json!("x"), &Value::Null, &json!(0))
    );
    let keys: Vec<_> = bank["algorithms"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ahash", "dhash", "pdq", "phash"]);
    let r = s.request("PATCH", "/v1/banks/x", &[], b"{}");
    assert_eq!(r.status, 401);
    // A second admin key works too.
    let admin2 = admin_key_with(&s, &["admin"]);
    assert_eq!(s.get_auth("/v1/banks", &admin2).status, 200);

    // A server that requires keys for matching.
    let dir = TempDir::new("matchkey");
    let s = Server::start_ready(&dir.0, &["--require-match-key"]);
    let body = json!({"items": [{"pdq": pdq(1)}]});
    assert_eq!(s.post_json("/v1/match", &body).status, 401);
    let key = admin_key_with(&s, &["match"]);
    assert_eq!(s.post_json_auth("/v1/match", &key, &body).status, 200);
}

#[test]
fn tips_get_a_receipt_that_only_its_token_opens() {
    let dir = TempDir::new("tips");
    let s = Server::start_ready(&dir.0, &[]);
    let cats = s.get("/v1/tips/categories").json();
    let ids: Vec<&str> = cats["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "non_consensual_intimate_imagery",
            "child_sexual_abuse",
            "violent_extremism",
            "harassment",
            "other"
        ]
    );

    // The hash is on a list: the answer must not say so.
    s.create_bank("a");
    let p = pdq(1);
    s.add("a", &[("pdq", &p)]);
    let tip = json!({"items": [{"pdq": p, "pdq_quality": 90}], "category": "harassment",
                     "description": "seen on a forum", "urls": ["https://forum.example/t/1"]});
    let r = s.post_json("/v1/tips", &tip);
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["receipt_token", "status", "tip_id"]);
    assert_eq!(body["status"], "received");
    let (id, token) = (
        body["tip_id"].as_str().unwrap(),
        body["receipt_token"].as_str().unwrap(),
    );
    let miss = s
        .post_json(
            "/v1/tips",
            &json!({"items": [{"pdq": pdq(2)}], "category": "other"}),
        )
        .json();
    let miss_keys: Vec<&String> = miss.as_object().unwrap().keys().collect();
    assert_eq!(
        miss_keys, keys,
        "a tip on a listed hash answers like any other"
    );

    let r = s.get_auth(&format!("/v1/tips/{id}"), token);
    assert_eq!(r.status, 200);
    let status = r.json();
    assert_eq!(status["tip_id"], id);
    assert_eq!(status["status"], "received");
    assert!(status["created_at"].as_str().unwrap().ends_with('Z'));
    let wrong = s.get_auth(&format!("/v1/tips/{id}"), &"0".repeat(64));
    assert_eq!(wrong.status, 404);
    let other = s.get_auth(
        &format!("/v1/tips/{id}"),
        miss["receipt_token"].as_str().unwrap(),
    );
    assert_eq!(
        other.status, 404,
        "another tip's token does not open this one"
    );
    assert_eq!(s.get(&format!("/v1/tips/{id}")).status, 404);
    let unknown = s.get_auth("/v1/tips/0123", token);
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body, wrong.body,
        "an unknown id and a wrong token look the same"
    );

    // Validation.
    let bad = s.post_json(
        "/v1/tips",
        &json!({"items": [{"pdq": p}], "category": "spam"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["field"], "category");
    let bad = s.post_json(
        "/v1/tips",
        &json!({"items": [{"pdq": p}], "category": "other", "description": "x".repeat(5001)}),
    );
    assert_eq!(bad.json()["error"]["field"], "description");
    let bad = s.post_json(
        "/v1/tips",
        &json!({"items": [{"pdq": p}], "category": "other", "urls": ["javascript:alert(1)"]}),
    );
    assert_eq!(bad.json()["error"]["field"], "urls");
    let items: Vec<Value> = (0..101).map(|_| json!({"pdq": p})).collect();
    assert_eq!(
        s.post_json("/v1/tips", &json!({"items": items, "category": "other"}))
            .status,
        400
    );

    // Admin view and status changes.
    let list = s.get_auth("/v1/tips?status=received", ADMIN_KEY).json();
    let tips = list["tips"].as_array().unwrap();
    assert_eq!(tips.len(), 2);
    let ours = tips.iter().find(|t| t["tip_id"] == id).unwrap();
    assert_eq!(ours["items"], json!([{"pdq": p, "pdq_quality": 90}]));
    assert_eq!(ours["category"], "harassment");
    let auth = format!("Bearer {ADMIN_KEY}");
    let r = s.request(
        "PATCH",
        &format!("/v1/tips/{id}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        br#"{"status":"in_review"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        s.get_auth(&format!("/v1/tips/{id}"), token).json()["status"],
        "in_review"
    );
    assert_eq!(
        s.get_auth("/v1/tips?status=received", ADMIN_KEY).json()["tips"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn import_reports_broken_lines_atomically_or_not() {
    let dir = TempDir::new("import");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let (p1, p2, p3) = (pdq(1), pdq(2), pdq(3));
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    let text = format!("# list\n{p1},first\nnot-hex\npdq {p2} second\nwhash 0123456789abcdef\nsignal_type,signal_str,bank\npdq,{p3},third\nmd5,{md5}\n");

    // Atomic (the default): nothing is imported.
    let r = s.import("a", "format=auto", &text);
    assert_eq!(r.status, 400, "{}", r.text());
    let report = r.json();
    assert_eq!(report["imported"], 0);
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 5]);
    assert_eq!(
        s.get_auth("/v1/banks", ADMIN_KEY).json()["banks"][0]["entries"],
        0
    );
    let r = s.match_items(json!({"items": [{"pdq": p1}]}));
    assert!(matches_of(&r, 0).is_empty());

    // Not atomic: the good lines are imported, the broken ones reported.
    let r = s.import("a", "format=auto&atomic=false", &text);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 4);
    assert_eq!(r.json()["errors"].as_array().unwrap().len(), 2);
    let r = s.match_items(json!({"items": [{"pdq": p1}, {"pdq": p2}, {"pdq": p3}, {"md5": md5}]}));
    for i in 0..4 {
        assert_eq!(matches_of(&r, i).len(), 1, "item {i}: {r}");
    }

    // StopNCII records, and plain hex of another algorithm.
    s.create_bank("b");
    let p4 = pdq(4);
    let records =
        format!("{{\"signalType\":\"PDQ\",\"hashValue\":\"{p4}\",\"caseNumber\":\"c-1\"}}\n");
    let r = s.import("b", "format=stopncii", &records);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], 1);
    let dh = random_hex(7, 8);
    let r = s.import("b", "format=plain&algorithm=dhash", &format!("{dh}\n"));
    assert_eq!(r.json()["imported"], 1);
    let r = s.match_items(json!({"items": [{"pdq": p4, "dhash": dh}]}));
    assert_eq!(matches_of(&r, 0).len(), 2);

    // Export: re-importable lines.
    let export = s.get_auth("/v1/banks/b/export", ADMIN_KEY);
    assert_eq!(export.status, 200);
    assert_eq!(
        export.text(),
        format!("pdq,{p4},{{\"caseNumber\":\"c-1\"}}\ndhash,{dh}\n")
    );
    s.create_bank("c");
    let r = s.import("c", "format=hma", &export.text());
    assert_eq!(r.json()["imported"], 2, "{}", r.text());

    assert_eq!(s.import("nope", "", &text).status, 404);
    assert_eq!(s.import("a", "format=xml", &text).status, 400);
}

#[test]
fn acknowledged_tips_and_imports_survive_kill_9() {
    let dir = TempDir::new("durable");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let p = pdq(1);
    let r = s.import("a", "", &format!("{p},kept\n"));
    assert_eq!(r.status, 200);
    let tip = s.post_json(
        "/v1/tips",
        &json!({"items": [{"pdq": p}], "category": "other"}),
    );
    assert_eq!(tip.status, 201);
    let tip = tip.json();
    s.kill9();

    let s = Server::start_ready(&dir.0, &[]);
    let r = s.match_items(json!({"items": [{"pdq": p}]}));
    assert_eq!(matches_of(&r, 0).len(), 1, "{r}");
    let id = tip["tip_id"].as_str().unwrap();
    let r = s.get_auth(
        &format!("/v1/tips/{id}"),
        tip["receipt_token"].as_str().unwrap(),
    );
    assert_eq!(r.status, 200);
}

/// Polls `check` on a fresh match of `body` through `server` until it holds; panics after 2 s.
/// Returns how long it took.
fn within_2_s(server: &Server, body: &Value, check: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let r = server.match_items(body.clone());
        if check(&r) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "not visible on the other process after 2 s ({}): {r}",
            backend_name()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two server processes on one store (one SQLite file, or one PostgreSQL database: replicas).
/// An import through one is matchable through the other within 2 s, and a deletion through the
/// other stops matching on the first within 2 s.
#[test]
fn two_processes_on_one_store_see_each_others_changes_within_2_s() {
    let dir = TempDir::new("replica");
    let a = Server::start_ready(&dir.0, &[]);
    let b = Server::start_ready(&dir.0, &[]);
    a.create_bank("a");
    let p = pdq(1);
    let imported = a.import("a", "", &format!("{p}\n{}\n", pdq(2)));
    assert_eq!(imported.status, 200, "{}", imported.text());
    let body = json!({"items": [{"pdq": p}]});
    let seen = within_2_s(&b, &body, |r| matches_of(r, 0).len() == 1);
    let id = matches_of(&b.match_items(body.clone()), 0)[0]["entry_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.delete_entry("a", &id), 204);
    let gone = within_2_s(&a, &body, |r| matches_of(r, 0).is_empty());
    eprintln!(
        "{}: import via A matchable on B after {} ms; delete via B gone on A after {} ms",
        backend_name(),
        seen.as_millis(),
        gone.as_millis()
    );
}

#[test]
fn demo_flag_seeds_a_demo_bank() {
    let dir = TempDir::new("demo");
    let s = Server::start_ready(&dir.0, &["--demo"]);
    let bridge = "f8f8f0cee0f4a84f06370a22038f67f0b36e2ed596221e1d33e6b39c4e9c9b22";
    let r = s.match_items(json!({"items": [{"pdq": bridge}]}));
    assert_eq!(matches_of(&r, 0)[0]["bank"], "demo");
    drop(s);
    // Seeding twice does not duplicate.
    let s = Server::start_ready(&dir.0, &["--demo"]);
    let r = s.match_items(json!({"items": [{"pdq": bridge}]}));
    assert_eq!(matches_of(&r, 0).len(), 1);
}

#[test]
fn a_bulk_import_is_folded_by_a_background_rebuild_and_still_matches() {
    let dir = TempDir::new("rebuild");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let hashes: Vec<String> = (100..3100).map(pdq).collect();
    let r = s.import("a", "", &hashes.join("\n"));
    assert_eq!(r.json()["imported"], 3000, "{}", r.text());
    let start = Instant::now();
    loop {
        let m = s.get("/metrics").text();
        if m.contains("pixelprint_index_pending 0")
            && !m.contains("pixelprint_index_rebuilds_total 0")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no rebuild within 15 s: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let items: Vec<Value> = [7usize, 1500, 2999]
        .iter()
        .map(|&i| json!({"pdq": flip(&hashes[i], 6)}))
        .collect();
    let r = s.match_items(json!({ "items": items }));
    for i in 0..3 {
        let m = matches_of(&r, i);
        assert_eq!(m.len(), 1, "item {i}: {r}");
        assert_eq!(m[0]["distance"], 6);
    }
    // A removal after the rebuild hides the entry (a tombstone in the new base).
    let id = matches_of(&r, 0)[0]["entry_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.delete_entry("a", &id), 204);
    let r = s.match_items(json!({"items": [{"pdq": hashes[7]}]}));
    assert!(matches_of(&r, 0).is_empty(), "{r}");
}

/// Concurrent writers through two processes while a third follows the change log: the follower
/// ends up with every entry (a log row that became visible late would be skipped for good).
#[test]
fn a_follower_misses_no_entry_written_concurrently_through_two_processes() {
    let dir = TempDir::new("writers");
    let a = Server::start_ready(&dir.0, &[]);
    let b = Server::start_ready(&dir.0, &[]);
    let follower = Server::start_ready(&dir.0, &[]);
    a.create_bank("w");
    let hashes: Vec<String> = (0..120).map(|i| pdq(1000 + i)).collect();
    std::thread::scope(|scope| {
        for (k, server) in [&a, &b].into_iter().enumerate() {
            let hashes = &hashes;
            scope.spawn(move || {
                for h in hashes.iter().skip(k).step_by(2) {
                    server.add("w", &[("pdq", h)]);
                }
            });
        }
    });
    let items: Vec<Value> = hashes.iter().map(|h| json!({ "pdq": h })).collect();
    let body = json!({ "items": items, "thresholds": {"pdq": 0} });
    within_2_s(&follower, &body, |r| {
        (0..hashes.len()).all(|i| matches_of(r, i).len() == 1)
    });
}

/// The reference sample hashes (tests/vectors/vpdq) as a `vpdq` item's frames.
fn vpdq_frames(name: &str) -> (String, Value) {
    let path = format!(
        "{}/../tests/vectors/vpdq/sample-hashes/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let frames: Vec<Value> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            json!({"frame": f[0].parse::<u64>().unwrap(), "quality": f[1].parse::<u32>().unwrap(),
                   "hash": f[2], "timestamp": f[3].parse::<f64>().unwrap()})
        })
        .collect();
    (text, Value::Array(frames))
}

/// python-threatexchange's percentages for (query, target) from expected-match-percentages.txt.
fn expected_percentages(query: &str, target: &str) -> (f64, f64) {
    let path = format!(
        "{}/../tests/vectors/vpdq/expected-match-percentages.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let key = format!("{query}.txt,{target}.txt");
    let line = text
        .lines()
        .find(|l| l.split(" | ").next() == Some(key.as_str()))
        .unwrap_or_else(|| panic!("no row for {key}"));
    let python: Vec<f64> = line
        .split(" | ")
        .nth(2)
        .unwrap()
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    (python[0], python[1])
}

#[test]
fn videos_match_by_vpdq_with_both_percentages() {
    let dir = TempDir::new("vpdq");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("videos");
    let (chair20, _) = vpdq_frames("chair-20-sd-bar");
    let (pattern, _) = vpdq_frames("pattern-hd-no-bar");
    for (text, name) in [(&chair20, "chair-20"), (&pattern, "pattern-hd")] {
        let r = s.import("videos", &format!("format=vpdq&metadata={name}"), text);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["imported"], 1);
    }
    // A broken line: nothing imported, the line named.
    let broken = chair20.replacen(",100,", ",1000,", 1);
    let r = s.import("videos", "format=vpdq", &broken);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["line"], 1);

    // chair-19 against the stored chair-20: a match, with python-threatexchange's percentages.
    let (_, chair19) = vpdq_frames("chair-19-sd-bar");
    let r = s.match_items(json!({"items": [{"vpdq": chair19}]}));
    let m = matches_of(&r, 0);
    assert_eq!(m.len(), 1, "{r}");
    assert_eq!(m[0]["algorithm"], "vpdq");
    let (q, t) = expected_percentages("chair-19-sd-bar", "chair-20-sd-bar");
    let got = (
        m[0]["query_percent"].as_f64().unwrap(),
        m[0]["target_percent"].as_f64().unwrap(),
    );
    assert!(
        (got.0 - q).abs() < 0.005 && (got.1 - t).abs() < 0.005,
        "{got:?} vs {q},{t}"
    );
    let chair20_id = m[0]["entry_id"].as_str().unwrap().to_string();

    // Videos that share no frame with anything stored: no match.
    let (_, doorknob) = vpdq_frames("doorknob-hd-no-bar");
    let r = s.match_items(json!({"items": [{"vpdq": doorknob}]}));
    assert!(matches_of(&r, 0).is_empty(), "{r}");
    // pattern-sd-grey-bar shares 0 % with pattern-hd-no-bar in the reference table.
    assert_eq!(
        expected_percentages("pattern-sd-grey-bar", "pattern-hd-no-bar"),
        (0.0, 0.0)
    );
    let (_, grey) = vpdq_frames("pattern-sd-grey-bar");
    let r = s.match_items(json!({"items": [{"vpdq": grey}]}));
    assert!(matches_of(&r, 0).is_empty(), "{r}");

    // Frames all below quality 50: reported as not matchable.
    let low: Vec<Value> = chair19.as_array().unwrap()[..5]
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f["quality"] = json!(10);
            f
        })
        .collect();
    let r = s.match_items(json!({"items": [{"vpdq": low}]}));
    assert_eq!(
        r["results"][0]["not_matchable"][0]["algorithm"], "vpdq",
        "{r}"
    );

    // A bad frame names the item and the field.
    let r = s.post_json(
        "/v1/match",
        &json!({"items": [{"vpdq": [{"frame": 0, "timestamp": 0.0, "hash": "xyz", "quality": 100}]}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "vpdq", "{}", r.text());

    // Deleted: gone from matching.
    assert_eq!(s.delete_entry("videos", &chair20_id), 204);
    let r = s.match_items(json!({"items": [{"vpdq": chair19}]}));
    assert!(matches_of(&r, 0).is_empty(), "{r}");
}

/// Sets a bank's settings with the admin key; returns the response.
fn patch_bank(s: &Server, bank: &str, body: &Value) -> common::Response {
    let auth = format!("Bearer {}", common::ADMIN_KEY);
    s.request(
        "PATCH",
        &format!("/v1/banks/{bank}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

/// One bank's `algorithms` report from `GET /v1/banks`.
fn bank_report(s: &Server, bank: &str) -> Value {
    let r = s.get_auth("/v1/banks", common::ADMIN_KEY);
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    assert_eq!(
        list["fp_rate_source"],
        "bench/results/accuracy/2026-12-03-d90d1a5.md"
    );
    list["banks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == bank)
        .unwrap_or_else(|| panic!("no bank {bank} in {list}"))["algorithms"]
        .clone()
}

fn algorithms_matched(s: &Server, item: Value) -> Vec<String> {
    let r = s.match_items(json!({ "items": [item] }));
    matches_of(&r, 0)
        .iter()
        .map(|m| m["algorithm"].as_str().unwrap().to_string())
        .collect()
}

/// Banks report each threshold with the measured rate it rests on and the false hits a query
/// should expect; aHash matches only where the bank turns it on; per-bank thresholds are capped.
#[test]
fn banks_report_threshold_provenance_and_take_their_own_settings() {
    let dir = TempDir::new("provenance");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let ph = random_hex(71, 8);
    let dh = random_hex(72, 8);
    let ah = random_hex(73, 8);
    let p = pdq(74);
    s.add(
        "a",
        &[("pdq", &p), ("phash", &ph), ("dhash", &dh), ("ahash", &ah)],
    );

    let report = bank_report(&s, "a");
    // A query searches the PDQ entries with six of its hashes (PDQ and its variants), the
    // pHash entries with two (pHash and the mirrored pHash): their bounds add up.
    assert_eq!(
        report["pdq"],
        json!({"entries": 1, "threshold": 39, "fp_rate_per_pair_bound": 2.2e-6,
               "expected_false_hits_per_query": 1.32e-5, "matching": true})
    );
    assert_eq!(report["phash"]["expected_false_hits_per_query"], 4.4e-6);
    assert_eq!(report["dhash"]["expected_false_hits_per_query"], 2.2e-6);
    assert_eq!(report["phash"]["threshold"], 10);
    assert_eq!(report["dhash"]["threshold"], 4);
    assert_eq!(report["dhash"]["matching"], true);
    assert_eq!(report["ahash"]["threshold"], 0);
    assert_eq!(report["ahash"]["matching"], false);
    assert!(report["ahash"]["reason"]
        .as_str()
        .unwrap()
        .contains("operator turns it on"));

    // The registry's thresholds: dHash 4, aHash not at all.
    assert_eq!(
        algorithms_matched(&s, json!({"dhash": flip(&dh, 4)})),
        ["dhash"]
    );
    assert!(algorithms_matched(&s, json!({"dhash": flip(&dh, 5)})).is_empty());
    assert!(algorithms_matched(&s, json!({"ahash": ah})).is_empty());

    // Turned on, aHash matches at its threshold (0); above it no measured rate bounds its false
    // hits, so a 64-bit hash set there is not matched; lower thresholds are.
    let r = patch_bank(&s, "a", &json!({"matching": {"ahash": true}}));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(algorithms_matched(&s, json!({"ahash": ah})), ["ahash"]);
    assert!(algorithms_matched(&s, json!({"ahash": flip(&ah, 1)})).is_empty());
    let r = patch_bank(&s, "a", &json!({"thresholds": {"ahash": 3, "dhash": 2}}));
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(algorithms_matched(&s, json!({"ahash": ah})).is_empty());
    assert!(algorithms_matched(&s, json!({"dhash": flip(&dh, 3)})).is_empty());
    assert_eq!(
        algorithms_matched(&s, json!({"dhash": flip(&dh, 2)})),
        ["dhash"]
    );
    let report = bank_report(&s, "a");
    assert_eq!(report["ahash"]["threshold"], 3);
    assert_eq!(report["ahash"]["matching"], false);
    assert_eq!(report["ahash"]["fp_rate_per_pair_bound"], Value::Null);
    assert!(report["ahash"]["reason"]
        .as_str()
        .unwrap()
        .contains("no measured false-positive rate at threshold 3"));
    assert_eq!(report["dhash"]["threshold"], 2);
    assert_eq!(report["dhash"]["fp_rate_per_pair_bound"], 2.2e-6);

    // Thresholds above the server's caps are refused; unknown keys too; null resets.
    let r = patch_bank(&s, "a", &json!({"thresholds": {"phash": 11}}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "threshold_above_cap");
    let r = patch_bank(&s, "a", &json!({"thresholds": {"pdq": 40}}));
    assert_eq!(r.json()["error"]["code"], "threshold_above_cap");
    let r = patch_bank(&s, "a", &json!({"thresholds": {"md5": 1}}));
    assert_eq!(r.json()["error"]["code"], "invalid_algorithm");
    let r = patch_bank(&s, "nope", &json!({"thresholds": {"pdq": 20}}));
    assert_eq!(r.status, 404);
    let r = patch_bank(
        &s,
        "a",
        &json!({"thresholds": {"ahash": null, "dhash": null}, "matching": {"ahash": null}}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(algorithms_matched(&s, json!({"ahash": ah})).is_empty());
    assert_eq!(bank_report(&s, "a")["dhash"]["threshold"], 4);

    // Settings are stored: a restarted server keeps them.
    let r = patch_bank(&s, "a", &json!({"matching": {"ahash": true}}));
    assert_eq!(r.status, 204, "{}", r.text());
    drop(s);
    let s = Server::start_ready(&dir.0, &[]);
    assert_eq!(algorithms_matched(&s, json!({"ahash": ah})), ["ahash"]);
}

/// A 64-bit hash is matched only while the bounds of the query's hashes searched against it ×
/// the bank's entries of it stay within the budget: pHash entries are searched by the plain and
/// the mirrored pHash, so 2e-5 / (2 × 2.2e-6) allows 4 of them.
#[test]
fn a_64_bit_hash_stops_matching_when_the_bank_outgrows_its_budget() {
    let dir = TempDir::new("budget");
    let s = Server::start_ready(&dir.0, &["--false-hit-budget", "2e-5"]);
    s.create_bank("a");
    let phashes: Vec<String> = (0..5).map(|i| random_hex(80 + i, 8)).collect();
    let p = pdq(90);
    s.add("a", &[("pdq", &p)]);
    let four: Vec<(&str, &str)> = phashes[..4].iter().map(|h| ("phash", h.as_str())).collect();
    s.add("a", &four);
    assert_eq!(
        algorithms_matched(&s, json!({"phash": phashes[0]})),
        ["phash"]
    );
    let report = bank_report(&s, "a");
    assert_eq!(report["phash"]["matching"], true);
    let expected = report["phash"]["expected_false_hits_per_query"]
        .as_f64()
        .unwrap();
    assert!((expected - 4.0 * 4.4e-6).abs() < 1e-12, "{expected}");

    let fifth = s.add("a", &[("phash", &phashes[4])]);
    assert!(algorithms_matched(&s, json!({"phash": phashes[0]})).is_empty());
    let report = bank_report(&s, "a");
    assert_eq!(report["phash"]["entries"], 5);
    assert_eq!(report["phash"]["matching"], false);
    let reason = report["phash"]["reason"].as_str().unwrap();
    assert!(reason.contains("at most 4 phash entries"), "{reason}");
    // PDQ (256 bits) is not limited by size.
    assert_eq!(report["pdq"]["matching"], true);
    assert_eq!(algorithms_matched(&s, json!({"pdq": p})), ["pdq"]);

    // Back within the budget, it matches again.
    assert_eq!(s.delete_entry("a", &fifth[0]), 204);
    assert_eq!(
        algorithms_matched(&s, json!({"phash": phashes[0]})),
        ["phash"]
    );
}
