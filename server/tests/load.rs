//! Hostile load, the deterministic part: work and answers a request can cause are bounded
//! (vPDQ close-pair budget, import error lists). The server binary over real HTTP on
//! 127.0.0.1, SQLite by default, PostgreSQL when PIXELPRINT_TEST_DATABASE_URL is set. Timings
//! under load are measured by `bench/hostile/run.sh`, not here.

mod common;

use common::{flip_at, pdq, Server, TempDir};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// `count` distinct hashes within 4 bits of `scene`: two of its bits flipped, from `first` on.
fn around(scene: &str, first: usize, count: usize) -> Vec<String> {
    (0..256)
        .flat_map(|a| (a + 1..256).map(move |b| (a, b)))
        .skip(first)
        .take(count)
        .map(|(a, b)| flip_at(scene, &[a, b]))
        .collect()
}

/// A video in the reference text format (`frameNumber,quality,pdqHex,timestamp`).
fn video_text(hashes: &[String]) -> String {
    hashes
        .iter()
        .enumerate()
        .map(|(k, h)| format!("{k},100,{h},{k}.000\n"))
        .collect()
}

fn vpdq_item(hashes: &[String]) -> Value {
    let frames: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(k, h)| json!({"frame": k, "timestamp": k as f64, "hash": h, "quality": 100}))
        .collect();
    json!({ "vpdq": frames })
}

/// A stored video of 2,500 frames of one scene and a query of 2,000 frames of the same scene:
/// every query frame is close to every stored frame (5 million pairs, over the default
/// `--vpdq-max-pairs`). The server refuses the item with 422 rather than do the work, and a
/// query of a few frames of the scene still matches.
#[test]
fn a_vpdq_query_close_to_too_many_stored_frames_is_refused() {
    let dir = TempDir::new("load-vpdq");
    // A time budget that a slow debug build on a busy machine cannot reach first.
    let s = Server::start_ready(&dir.0, &["--match-time-budget-ms", "120000"]);
    s.create_bank("videos");
    let scene = pdq(42);
    let stored = around(&scene, 0, 2500);
    let r = s.import("videos", "format=vpdq", &video_text(&stored));
    assert_eq!(r.status, 200, "{}", r.text());

    let query = around(&scene, 10_000, 2000);
    let body = json!({ "items": [{"pdq": pdq(1)}, vpdq_item(&query)] });
    let r = s.post_json_auth("/v1/match", common::ADMIN_KEY, &body);
    assert_eq!(r.status, 422, "{}", r.text());
    let error = &r.json()["error"];
    assert_eq!(error["code"], "too_costly", "{error}");
    assert_eq!(error["item"], 1, "{error}");

    // A few frames of the scene: 10 x 2,500 pairs, within the budget, and a match.
    let answer = s.match_items(json!({ "items": [vpdq_item(&query[..10])] }));
    let matches = answer["results"][0]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{answer}");
    assert_eq!(matches[0]["query_percent"], 100.0);
}

/// The value of an unlabelled metric in `/metrics`.
fn metric(s: &Server, name: &str) -> u64 {
    let text = s.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

/// Polls `/metrics` until `name` reads `value`.
fn wait_metric(s: &Server, name: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(s, name) != value {
        assert!(Instant::now() < deadline, "{name} never read {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server with one vPDQ search slot that waits `queue_wait_ms` for it, and the body of a
/// query that visits `QUERY_FRAMES` x 2,500 close pairs of a stored scene: long enough
/// (seconds in a debug build) that a second request arrives while it runs.
fn one_video_slot(name: &str, queue_wait_ms: &str) -> (TempDir, Server, Value) {
    let dir = TempDir::new(name);
    let s = Server::start_ready(
        &dir.0,
        &[
            "--vpdq-concurrent",
            "1",
            "--vpdq-queue-wait-ms",
            queue_wait_ms,
            "--match-time-budget-ms",
            "600000",
            "--vpdq-max-pairs",
            "100000000",
        ],
    );
    s.create_bank("videos");
    let scene = pdq(42);
    let r = s.import(
        "videos",
        "format=vpdq",
        &video_text(&around(&scene, 0, 2500)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = json!({ "items": [vpdq_item(&around(&scene, 10_000, QUERY_FRAMES))] });
    (dir, s, body)
}

const QUERY_FRAMES: usize = 6000;

/// With one vPDQ search slot, a second long video query waits for the first instead of
/// racing it for the cores and the time budget; both are answered. A request without video
/// items is not queued behind them.
#[test]
fn video_searches_queue_for_a_slot_and_both_are_answered() {
    let (_dir, s, body) = one_video_slot("load-queue", "600000");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| s.post_json_auth("/v1/match", common::ADMIN_KEY, &body));
        wait_metric(&s, "pixelprint_vpdq_searches_running", 1);
        let second = scope.spawn(|| s.post_json_auth("/v1/match", common::ADMIN_KEY, &body));
        wait_metric(&s, "pixelprint_vpdq_searches_waiting", 1);
        // A small match is answered while the second video query still waits.
        let small = s.match_items(json!({ "items": [{"pdq": pdq(1)}] }));
        assert_eq!(small["results"][0]["matches"], json!([]));
        assert_eq!(
            metric(&s, "pixelprint_vpdq_searches_waiting"),
            1,
            "the first video query ended before the small match was answered; make it longer"
        );
        for r in [first.join().unwrap(), second.join().unwrap()] {
            assert_eq!(r.status, 200, "{}", r.text());
            let matches = r.json()["results"][0]["matches"].clone();
            assert_eq!(matches.as_array().unwrap().len(), 1, "{matches}");
        }
    });
    assert_eq!(metric(&s, "pixelprint_vpdq_searches_running"), 0);
    assert_eq!(metric(&s, "pixelprint_vpdq_searches_waiting"), 0);
    assert_eq!(metric(&s, "pixelprint_vpdq_queue_timeouts_total"), 0);
}

/// A video query that cannot get a search slot within `--vpdq-queue-wait-ms` is answered 503
/// `busy` with `Retry-After`, and counted.
#[test]
fn a_video_query_that_waits_too_long_for_a_slot_is_answered_busy() {
    let (_dir, s, body) = one_video_slot("load-queue-full", "50");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| s.post_json_auth("/v1/match", common::ADMIN_KEY, &body));
        wait_metric(&s, "pixelprint_vpdq_searches_running", 1);
        let r = s.post_json_auth("/v1/match", common::ADMIN_KEY, &body);
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "busy");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(metric(&s, "pixelprint_vpdq_searches_running"), 1);
        assert_eq!(first.join().unwrap().status, 200);
    });
    assert_eq!(metric(&s, "pixelprint_vpdq_queue_timeouts_total"), 1);
}

/// A query item has at most 8,000 frames (what the default 1 MiB body holds); more is a 400
/// that says so.
#[test]
fn a_vpdq_query_has_at_most_8000_frames() {
    let dir = TempDir::new("load-frames");
    let s = Server::start_ready(&dir.0, &["--body-limit", "4194304"]);
    let hashes: Vec<String> = (0..8001).map(|k| pdq(k as u64)).collect();
    let r = s.post_json_auth(
        "/v1/match",
        common::ADMIN_KEY,
        &json!({ "items": [vpdq_item(&hashes)] }),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("1..=8000 frames, found 8001"), "{message}");
}

/// The first 100 errors and their count, whatever the number of broken lines.
fn assert_capped(r: &common::Response, broken: u64) {
    assert!(r.body.len() < 64 << 10, "{} bytes answered", r.body.len());
    let v = r.json();
    assert_eq!(v["errors"].as_array().unwrap().len(), 100, "{v}");
    assert_eq!(v["error_count"], broken, "{v}");
    assert_eq!(v["errors"][0]["line"], 1, "{v}");
}

/// An import of 200,000 broken lines, or 200,000 empty StopNCII records (JSON Lines or an
/// array), is answered with the first 100 errors and their count, not a list of all.
#[test]
fn import_errors_are_capped_at_100_with_a_count() {
    let dir = TempDir::new("load-import");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("lists");
    let lines = 200_000;
    let bad = "x\n".repeat(lines);
    let r = s.import("lists", "format=plain", &bad);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_capped(&r, lines as u64);

    let records = "{}\n".repeat(lines);
    let r = s.import("lists", "format=stopncii", &records);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_capped(&r, lines as u64);

    let array = format!("[{}{{}}]", "{},".repeat(lines - 1));
    let r = s.import("lists", "format=stopncii", &array);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_capped(&r, lines as u64);

    // Not atomic: the good lines are stored, the broken ones counted.
    let good: String = (0..500).map(|k| format!("{}\n", pdq(k))).collect();
    let mixed = format!("{good}{bad}");
    let r = s.import("lists", "format=plain&atomic=false", &mixed);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["imported"], 500, "{v}");
    assert_eq!(v["error_count"], lines as u64, "{v}");
    assert_eq!(v["errors"][0]["line"], 501, "{v}");
}

/// Another process holds the SQLite file's write lock for 8 s (longer than the 5 s SQLite used
/// to wait): a tip sent meanwhile waits and is stored (201, not a 500 `database is locked`),
/// and a keyed read (the key check and the bank list) answers while the lock is still held.
#[test]
fn a_write_lock_held_by_another_process_delays_writes_and_blocks_no_reads() {
    if common::postgres_base_url().is_some() {
        return; // SQLite's file lock only.
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    let dir = TempDir::new("load-locked");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("lists");
    let released = Arc::new(AtomicBool::new(false));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = {
        let path = dir.0.join("pixelprint.db");
        let released = Arc::clone(&released);
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(8));
            released.store(true, Ordering::SeqCst);
            conn.execute_batch("COMMIT").unwrap();
        })
    };
    locked_rx.recv().unwrap();
    let tip = std::thread::scope(|scope| {
        let tip = scope.spawn(|| {
            s.post_json(
                "/v1/tips",
                &json!({"items": [{"pdq": pdq(3)}], "category": "other"}),
            )
        });
        std::thread::sleep(Duration::from_millis(500));
        let r = s.get_auth("/v1/banks", common::ADMIN_KEY);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            !released.load(Ordering::SeqCst),
            "the read waited for the other process's lock"
        );
        tip.join().unwrap()
    });
    assert_eq!(tip.status, 201, "{}", tip.text());
    assert!(released.load(Ordering::SeqCst));
    holder.join().unwrap();
}

/// PostgreSQL: an import waiting for the change-log lock, held here by another connection for
/// as long as the check takes (as another process's long import would hold it), keeps its
/// transaction and the writer connection open; keyed reads (the key check, the bank list, a
/// small match and its sources) answer meanwhile on the read-only connections. Once the lock is
/// released the import commits. SQLite's counterpart is the test above.
#[test]
fn keyed_reads_answer_while_an_import_waits_for_the_change_log_lock() {
    if common::postgres_base_url().is_none() {
        return; // PostgreSQL's change-log lock only.
    }
    use std::time::{Duration, Instant};
    /// The change-log writers' advisory lock (`LOG_LOCK` in server/src/storage/postgres.rs).
    const LOG_LOCK: i64 = 0x7069_7865_6c70_7274;

    let dir = TempDir::new("load-pg-import-held");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("lists");
    let stored = pdq(7);
    s.add("lists", &[("pdq", &stored)]);
    let url = common::database_url(&dir.0).unwrap();
    let mut holder = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut lock = holder.transaction().unwrap();
    lock.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])
        .unwrap();

    let imported: String = (100..20_100).map(|k| format!("{}\n", pdq(k))).collect();
    std::thread::scope(|scope| {
        let import = scope.spawn(|| s.import("lists", "format=plain", &imported));
        // The import is in its transaction, waiting for the lock.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let waiting: i64 = lock
                .query_one(
                    "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[],
                )
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            assert!(!import.is_finished(), "{}", import.join().unwrap().text());
            assert!(
                Instant::now() < deadline,
                "the import never waited for the lock"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A read stuck behind the import would wait as long as the lock is held: it is given
        // 20 s, then the lock goes and the test fails.
        let reads = scope.spawn(|| {
            let banks = s.get_auth("/v1/banks", common::ADMIN_KEY);
            let item = json!({"pdq": flip_at(&stored, &[1, 2])});
            let matched =
                s.post_json_auth("/v1/match", common::ADMIN_KEY, &json!({ "items": [item] }));
            (banks, matched)
        });
        let read_deadline = Instant::now() + Duration::from_secs(20);
        while !reads.is_finished() && Instant::now() < read_deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let answered = reads.is_finished();
        let import_waited = !import.is_finished();
        lock.commit().unwrap();
        assert!(answered, "keyed reads waited for the import's transaction");
        assert!(
            import_waited,
            "the import did not wait for the change-log lock"
        );
        let (banks, matched) = reads.join().unwrap();
        assert_eq!(banks.status, 200, "{}", banks.text());
        assert_eq!(banks.json()["banks"][0]["entries"], 1, "{}", banks.text());
        assert_eq!(matched.status, 200, "{}", matched.text());
        let hits = &matched.json()["results"][0]["matches"];
        assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
        let import = import.join().unwrap();
        assert_eq!(import.status, 200, "{}", import.text());
        assert_eq!(import.json()["imported"], 20_000, "{}", import.text());
    });
    let banks = s.get_auth("/v1/banks", common::ADMIN_KEY).json();
    assert_eq!(banks["banks"][0]["entries"], 20_001, "{banks}");
}

/// A keyed request is charged per item to its key (`--key-item-burst`), not a token a request:
/// 40 items pass, 40 more at once are refused with 429.
#[test]
fn keyed_requests_are_charged_per_item() {
    let dir = TempDir::new("load-key-items");
    let s = Server::start_ready(
        &dir.0,
        &["--key-item-rate", "0.01", "--key-item-burst", "50"],
    );
    let items: Vec<Value> = (0..40).map(|k| json!({"pdq": pdq(k)})).collect();
    let body = json!({ "items": items });
    let r = s.post_json_auth("/v1/match", common::ADMIN_KEY, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.post_json_auth("/v1/match", common::ADMIN_KEY, &body);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
}

/// Behind a trusted proxy the client is the rightmost untrusted `X-Forwarded-For` hop; from
/// any other peer the header is ignored, so rotating it does not escape the quota.
#[test]
fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let dir = TempDir::new("load-proxy");
    let s = Server::start_ready(
        &dir.0,
        &[
            "--trusted-proxy",
            "127.0.0.1/32",
            "--anon-item-rate",
            "0.001",
            "--anon-item-burst",
            "2",
            "--anon-daily-items",
            "0",
        ],
    );
    let one = json!({ "items": [{"pdq": pdq(1)}] });
    let from = |source: &str, xff: &str| {
        s.match_from(source, &[("x-forwarded-for", xff)], &one)
            .status
    };
    // Through the proxy: each forwarded client has its own quota of 2 items.
    assert_eq!(from("127.0.0.1", "6.6.6.6, 203.0.113.7"), 200);
    assert_eq!(from("127.0.0.1", "7.7.7.7, 203.0.113.7"), 200);
    assert_eq!(from("127.0.0.1", "203.0.113.7"), 429);
    assert_eq!(from("127.0.0.1", "203.0.113.8, 127.0.0.1"), 200);
    // Not through the proxy: the peer is the client, whatever the header says.
    assert_eq!(from("127.0.0.2", "198.51.100.1"), 200);
    assert_eq!(from("127.0.0.2", "198.51.100.2"), 200);
    assert_eq!(from("127.0.0.2", "198.51.100.3"), 429);
}

/// Tips have their own, much smaller budget per client (`--tips-per-hour` 4, `--daily-tips` 10)
/// and body limit (`--tip-body-limit`, 64 KiB): the fifth tip in an hour is refused with 429,
/// another client still gets through, and a 100 KB tip is refused with 413.
#[test]
fn anonymous_tips_have_a_small_budget_and_size() {
    let dir = TempDir::new("load-tips");
    let s = Server::start_ready(&dir.0, &[]);
    let tip_from = |source: &str, body: &Value| {
        common::request_from(
            Some(source.parse().unwrap()),
            &s.addr,
            "POST",
            "/v1/tips",
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    let tip = json!({"items": [{"pdq": pdq(3)}], "category": "other"});
    for k in 0..4 {
        let r = tip_from("127.0.0.1", &tip);
        assert_eq!(r.status, 201, "tip {k}: {}", r.text());
    }
    let r = tip_from("127.0.0.1", &tip);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert_eq!(tip_from("127.0.0.2", &tip).status, 201);

    let large = json!({"items": [{"pdq": pdq(3)}], "category": "other",
                       "description": "x".repeat(100_000)});
    assert_eq!(tip_from("127.0.0.3", &large).status, 413);
}
