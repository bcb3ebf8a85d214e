//! The StopNCII-compatible exchange (`docs/exchange.md`) driven by PyPI `threatexchange`'s own
//! StopNCII client (python-threatexchange, the library inside Hasher-Matcher-Actioner) over
//! real HTTP, and the tip lifecycle behind it: review, withdrawal, feedback, retention.
//!
//! The client runs in the venv `scripts/bootstrap.sh` makes ($PIXELPRINT_CACHE_DIR/venv-exchange);
//! without it these tests fail and say so. SQLite by default; PostgreSQL with
//! `PIXELPRINT_TEST_DATABASE_URL` (see `common`).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, TempDir, ADMIN_KEY, MANY_TIPS};
use serde_json::{json, Value};

/// The venv's python, as `scripts/common.sh` places it.
fn venv_python() -> PathBuf {
    let cache = std::env::var_os("PIXELPRINT_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("pixelprint")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("pixelprint"))
        })
        .expect("PIXELPRINT_CACHE_DIR, XDG_CACHE_HOME or HOME is set");
    let python = cache.join("venv-exchange").join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bootstrap.sh, which makes the venv with PyPI threatexchange \
         (scripts/requirements-exchange.txt)",
        python.display()
    );
    python
}

/// Runs a command of `tests/exchange/stopncii_client.py` as `platform_key` and returns its JSON.
fn pytx(s: &Server, platform_key: &str, args: &[&str]) -> Value {
    pytx_with(s, platform_key, args, &[])
}

/// [`pytx`] with more environment variables.
fn pytx_with(s: &Server, platform_key: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/exchange/stopncii_client.py"
    );
    let out = Command::new(venv_python())
        .arg(script)
        .args(args)
        .env("PIXELPRINT_URL", format!("http://{}", s.addr))
        .env("PIXELPRINT_PLATFORM_KEY", platform_key)
        .env_remove("TX_STOPNCII_KEYS")
        .envs(env.iter().copied())
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "stopncii_client.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stopncii_client.py {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn key(s: &Server, scopes: &[&str], label: &str) -> String {
    let r = s.admin("/v1/keys", &json!({"scopes": scopes, "label": label}));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_string()
}

/// A PDQ hash made from `n` (any 256 bits are a PDQ hash).
fn pdq(n: u32) -> String {
    format!("{:08x}", n.wrapping_mul(0x9e37_79b9)).repeat(8)
}

struct Tip {
    id: String,
    token: String,
}

fn file_tip(s: &Server, items: Value) -> Tip {
    let r = s.post_json(
        "/v1/tips",
        &json!({"items": items, "category": "non_consensual_intimate_imagery",
                "description": "free text", "contact": "me@example.org"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let b = r.json();
    Tip {
        id: b["tip_id"].as_str().unwrap().into(),
        token: b["receipt_token"].as_str().unwrap().into(),
    }
}

fn review(s: &Server, reviewer: &str, tip: &Tip, decision: &str) {
    let r = s.post_json_auth(
        &format!("/v1/tips/{}/review", tip.id),
        reviewer,
        &json!({ "decision": decision }),
    );
    assert_eq!(r.status, 204, "{}", r.text());
}

fn reporter_view(s: &Server, tip: &Tip) -> Value {
    let r = s.get_auth(&format!("/v1/tips/{}", tip.id), &tip.token);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The tip as reviewers list it.
fn reviewer_view(s: &Server, reviewer: &str, id: &str) -> Value {
    let r = s.get_auth("/v1/tips", reviewer);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["tips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tip_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("tip {id} is not listed"))
}

fn keys_of(fetched: &Value) -> BTreeSet<String> {
    fetched["records"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn set(keys: &[String]) -> BTreeSet<String> {
    keys.iter().cloned().collect()
}

/// Waits until the clock is past `secs` + 1: a fetch's checkpoint then lies after every change
/// made up to `secs` (the server keeps checkpoints a second behind the present).
fn wait_past(secs: i64) {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        if now > secs + 1 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn last_mod(fetched: &Value) -> i64 {
    fetched["records"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["lastModtimestamp"].as_i64().unwrap())
        .max()
        .unwrap()
}

#[test]
fn stopncii_client_fetches_exactly_the_accepted_tips_and_follows_their_lifecycle() {
    let dir = TempDir::new("exchange");
    let s = Server::start_ready(
        &dir.0,
        &[MANY_TIPS, &["--exchange-page-size", "2"]].concat(),
    );
    let platform = key(&s, &["exchange"], "platform-a");
    let reviewer = key(&s, &["review"], "reviewer");

    // A video: its MD5 is exchanged as VideoMD5 (an image's MD5 is not).
    let frames = json!([{"frame": 0, "timestamp": 0.0, "hash": pdq(90), "quality": 100}]);
    let video_md5 = "0123456789abcdef0123456789abcdef";
    let image_md5 = "fedcba9876543210fedcba9876543210";
    let a = file_tip(
        &s,
        json!([{"pdq": pdq(1)}, {"pdq": pdq(2), "md5": image_md5}]),
    );
    let b = file_tip(
        &s,
        json!([{"pdq": pdq(3)}, {"vpdq": frames, "md5": video_md5}]),
    );
    let pending = file_tip(&s, json!([{"pdq": pdq(4)}]));
    let rejected = file_tip(&s, json!([{"pdq": pdq(5)}]));
    // Two accepted tips may carry the same hash: one record, two cases.
    let shared = file_tip(&s, json!([{"pdq": pdq(1)}]));
    review(&s, &reviewer, &a, "accept");
    review(&s, &reviewer, &b, "accept");
    review(&s, &reviewer, &shared, "accept");
    review(&s, &reviewer, &rejected, "reject");
    assert_eq!(reporter_view(&s, &pending)["status"], "received");

    // Everything, through fetch_hashes_iter, in pages of two.
    let all = pytx(&s, &platform, &["fetch"]);
    let accepted = [
        format!("ImagePDQ:{}", pdq(1)),
        format!("ImagePDQ:{}", pdq(2)),
        format!("ImagePDQ:{}", pdq(3)),
        format!("VideoMD5:{video_md5}"),
    ];
    assert_eq!(keys_of(&all), set(&accepted), "{all:#}");
    let pages = all["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "four records in pages of two: {all:#}");
    assert!(pages[0]["hasMoreRecords"].as_bool().unwrap());
    assert!(!pages[1]["hasMoreRecords"].as_bool().unwrap());
    assert!(pages[1]["nextPageToken"].is_null());
    let a_case = reporter_view(&s, &a)["case_number"]
        .as_str()
        .unwrap()
        .to_string();
    let shared_case = reporter_view(&s, &shared)["case_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(a_case, shared_case);
    let one = &all["records"][&accepted[0]];
    assert_eq!(one["hashStatus"], "Active");
    assert_eq!(
        one["caseNumbers"],
        json!({ a_case.clone(): "Active", shared_case.clone(): "Active" })
    );
    for r in all["records"].as_object().unwrap().values() {
        assert_eq!(r["hashStatus"], "Active", "{r}");
    }

    // One call with a page size: the next-page token and the flag.
    let page = pytx(&s, &platform, &["fetch-page", "0", "1"]);
    assert_eq!(page["count"], 1);
    assert!(page["hasMoreRecords"].as_bool().unwrap());
    assert!(page["nextPageToken"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    // Incremental: from the checkpoint, only what changed since.
    wait_past(last_mod(&all));
    let all = pytx(&s, &platform, &["fetch"]);
    let checkpoint = all["checkpoint"].as_i64().unwrap();
    assert!(checkpoint > last_mod(&all), "{all:#}");
    let c = file_tip(&s, json!([{"pdq": pdq(6)}]));
    review(&s, &reviewer, &c, "accept");
    let since = pytx(&s, &platform, &["fetch", &checkpoint.to_string()]);
    assert_eq!(
        keys_of(&since),
        set(&[format!("ImagePDQ:{}", pdq(6))]),
        "{since:#}"
    );
    // The exchange interface HMA runs, from the same checkpoint.
    let exchanged = pytx(&s, &platform, &["exchange-fetch", &checkpoint.to_string()]);
    let updates: BTreeSet<String> = exchanged["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_object().unwrap().keys().cloned())
        .collect();
    assert_eq!(updates, set(&[format!("pdq:{}", pdq(6))]), "{exchanged:#}");
    assert!(exchanged["checkpoint"].as_i64().unwrap() >= checkpoint);
    // From the start it sees every accepted hash under pytx's own signal names.
    let everything = pytx(&s, &platform, &["exchange-fetch"]);
    let updates: BTreeSet<String> = everything["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_object().unwrap().keys().cloned())
        .collect();
    let expected: BTreeSet<String> = [1, 2, 3, 6]
        .map(|n| format!("pdq:{}", pdq(n)))
        .into_iter()
        .chain([format!("video_md5:{video_md5}")])
        .collect();
    assert_eq!(updates, expected, "{everything:#}");
    // The same, configured as docs/exchange.md tells platforms to (pytx's TX_STOPNCII_KEYS).
    let credentials = format!("{platform},{platform},http://{}/v1/stopncii", s.addr);
    let configured = pytx_with(
        &s,
        "unused",
        &["configured-fetch"],
        &[("TX_STOPNCII_KEYS", &credentials)],
    );
    assert_eq!(configured["deltas"], everything["deltas"], "{configured:#}");

    // The reporter withdraws A: its hashes come back Withdrawn (the hash A shares with another
    // accepted tip stays Active), and the hashes stored with the tip are deleted.
    let since = pytx(&s, &platform, &["fetch", &checkpoint.to_string()]);
    wait_past(last_mod(&since));
    let checkpoint = pytx(&s, &platform, &["fetch", &checkpoint.to_string()])["checkpoint"]
        .as_i64()
        .unwrap();
    let r = s.request(
        "POST",
        &format!("/v1/tips/{}/withdraw", a.id),
        &[("authorization", &format!("Bearer {}", a.token))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "withdrawn");
    let withdrawn = pytx(&s, &platform, &["fetch", &checkpoint.to_string()]);
    assert_eq!(
        keys_of(&withdrawn),
        set(&accepted[..2]),
        "only A's hashes changed: {withdrawn:#}"
    );
    let two = &withdrawn["records"][&accepted[1]];
    assert_eq!(two["hashStatus"], "Withdrawn");
    assert_eq!(two["caseNumbers"], json!({ a_case.clone(): "Withdrawn" }));
    let one = &withdrawn["records"][&accepted[0]];
    assert_eq!(one["hashStatus"], "Active");
    assert_eq!(
        one["caseNumbers"],
        json!({ a_case.clone(): "Withdrawn", shared_case: "Active" })
    );
    assert_eq!(reviewer_view(&s, &reviewer, &a.id)["items"], json!([]));
    assert_eq!(reviewer_view(&s, &reviewer, &a.id)["status"], "withdrawn");
    // A withdrawn tip cannot be accepted again.
    let r = s.post_json_auth(
        &format!("/v1/tips/{}/review", a.id),
        &reviewer,
        &json!({"decision": "accept"}),
    );
    assert_eq!(r.status, 409, "{}", r.text());

    // Feedback: the platform blocked a match of B's PDQ hash.
    pytx(&s, &platform, &["feedback", "ImagePDQ", &pdq(3), "Blocked"]);
    let seen = reviewer_view(&s, &reviewer, &b.id);
    let feedback = seen["feedback"].as_array().unwrap();
    assert_eq!(feedback.len(), 1, "{seen:#}");
    assert_eq!(feedback[0]["platform"], "platform-a");
    assert_eq!(feedback[0]["value"], "Blocked");
    assert_eq!(feedback[0]["hash"], pdq(3));
    assert_eq!(feedback[0]["tags"], json!(["reviewed"]));
    let status = reporter_view(&s, &b);
    assert_eq!(
        status["platform_feedback"],
        json!({"blocked": 1, "not_blocked": 0, "pending_review": 0})
    );
    assert_eq!(status["status"], "accepted");
    let refetched = pytx(&s, &platform, &["fetch"]);
    assert_eq!(
        refetched["records"][&accepted[2]]["feedbacks"],
        json!([{"value": "Blocked", "source": "platform-a", "tags": ["reviewed"]}])
    );
    // Feedback is per platform: its second word replaces its first.
    pytx(
        &s,
        &platform,
        &["feedback", "ImagePDQ", &pdq(3), "NotBlocked"],
    );
    assert_eq!(
        reporter_view(&s, &b)["platform_feedback"],
        json!({"blocked": 0, "not_blocked": 1, "pending_review": 0})
    );

    // A platform's own hash: a tip for reviewers, in the feed once accepted.
    pytx(&s, &platform, &["submit", "ImagePDQ", &pdq(7)]);
    let r = s.get_auth("/v1/tips?status=received", &reviewer);
    let submitted: Vec<Value> = r.json()["tips"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["items"] == json!([{"pdq": pdq(7)}]))
        .cloned()
        .collect();
    assert_eq!(submitted.len(), 1, "{}", r.text());
    assert!(submitted[0]["description"]
        .as_str()
        .unwrap()
        .contains("platform-a"));
    let id = submitted[0]["tip_id"].as_str().unwrap().to_string();
    let r = s.post_json_auth(
        &format!("/v1/tips/{id}/review"),
        &reviewer,
        &json!({"decision": "accept"}),
    );
    assert_eq!(r.status, 204);
    let fetched = pytx(&s, &platform, &["fetch"]);
    let record = &fetched["records"][format!("ImagePDQ:{}", pdq(7))];
    assert_eq!(record["hashStatus"], "Active", "{fetched:#}");
    assert_eq!(record["feedbacks"][0]["value"], "Blocked");
}

/// The exchange's keys: both StopNCII headers carry the same key of the `exchange` scope.
#[test]
fn exchange_routes_require_a_platform_key_in_both_headers() {
    let dir = TempDir::new("exchange-auth");
    let s = Server::start_ready(&dir.0, MANY_TIPS);
    let platform = key(&s, &["exchange"], "p");
    let matcher = key(&s, &["match"], "m");
    let reviewer = key(&s, &["review"], "r");
    let fetch = |sub: &str, func: &str| {
        let mut headers = Vec::new();
        if !sub.is_empty() {
            headers.push(("Ocp-Apim-Subscription-Key", sub));
        }
        if !func.is_empty() {
            headers.push(("x-functions-key", func));
        }
        s.request("GET", "/v1/stopncii/FetchHashes", &headers, b"")
            .status
    };
    assert_eq!(fetch(&platform, &platform), 200);
    assert_eq!(
        fetch(ADMIN_KEY, ADMIN_KEY),
        200,
        "admin implies every scope"
    );
    assert_eq!(fetch("", ""), 401);
    assert_eq!(fetch(&platform, ""), 401);
    assert_eq!(fetch(&platform, &matcher), 401, "two different keys");
    assert_eq!(fetch(&matcher, &matcher), 403);
    assert_eq!(fetch("unknown", "unknown"), 401);
    // Bad parameters are named.
    let headers = [
        ("Ocp-Apim-Subscription-Key", platform.as_str()),
        ("x-functions-key", platform.as_str()),
    ];
    for (query, field) in [
        ("startTimestamp=soon", "startTimestamp"),
        ("pageSize=0", "pageSize"),
        ("nextPageToken=forged", "nextPageToken"),
    ] {
        let r = s.request(
            "GET",
            &format!("/v1/stopncii/FetchHashes?{query}"),
            &headers,
            b"",
        );
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.json()["error"]["field"], field, "{query}");
    }
    // Feedback is kept only on hashes the feed holds; `count` must match the records.
    let post = |path: &str, body: Value| {
        let mut h = headers.to_vec();
        h.push(("content-type", "application/json"));
        s.request("POST", path, &h, body.to_string().as_bytes())
    };
    let unknown = json!({"count": 1, "hashFeedbacks": [
        {"hashValue": pdq(9), "feedbackValue": "Blocked", "tags": []}]});
    let r = post("/v1/stopncii/SubmitFeedback", unknown);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"count": 0}));
    let r = post(
        "/v1/stopncii/SubmitFeedback",
        json!({"count": 2, "hashFeedbacks": [{"hashValue": pdq(9), "feedbackValue": "Blocked"}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "count");
    let r = post(
        "/v1/stopncii/SubmitFeedback",
        json!({"hashFeedbacks": [{"hashValue": pdq(9), "feedbackValue": "Liked"}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "feedbackValue");
    let r = post(
        "/v1/stopncii/SubmitHashes",
        json!({"hashRecords": [{"signalType": "VideoTMK", "hashValue": "00"}]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "signalType");

    // Reviewers review; they do not administer or exchange.
    let tip = file_tip(&s, json!([{"pdq": pdq(1)}]));
    assert_eq!(s.get_auth("/v1/tips", &reviewer).status, 200);
    assert_eq!(s.get_auth("/v1/tips", &matcher).status, 403);
    assert_eq!(s.get_auth("/v1/tips", &platform).status, 403);
    let r = s.post_json_auth(
        &format!("/v1/tips/{}/review", tip.id),
        &platform,
        &json!({"decision": "accept"}),
    );
    assert_eq!(r.status, 403);
    let r = s.post_json_auth(
        &format!("/v1/tips/{}/review", tip.id),
        &reviewer,
        &json!({"decision": "maybe"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "decision");
    // A wrong receipt token cannot withdraw a tip.
    let r = s.request(
        "POST",
        &format!("/v1/tips/{}/withdraw", tip.id),
        &[("authorization", &format!("Bearer {}", "0".repeat(64)))],
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(reporter_view(&s, &tip)["status"], "received");
}

/// With a short retention period, a finished tip loses its hashes and free text, and the
/// feed forgets its withdrawn records; an accepted tip keeps everything.
#[test]
fn retention_deletes_what_finished_tips_held() {
    const RETENTION_SECS: u64 = 15;
    let dir = TempDir::new("exchange-retention");
    let s = Server::start_ready(
        &dir.0,
        &[
            MANY_TIPS,
            &["--tip-retention-secs", &RETENTION_SECS.to_string()],
        ]
        .concat(),
    );
    let platform = key(&s, &["exchange"], "p");
    let reviewer = key(&s, &["review"], "r");
    let kept = file_tip(&s, json!([{"pdq": pdq(1)}]));
    let withdrawn = file_tip(&s, json!([{"pdq": pdq(2)}]));
    let rejected = file_tip(&s, json!([{"pdq": pdq(3)}]));
    review(&s, &reviewer, &kept, "accept");
    review(&s, &reviewer, &withdrawn, "accept");
    review(&s, &reviewer, &rejected, "reject");
    let r = s.request(
        "POST",
        &format!("/v1/tips/{}/withdraw", withdrawn.id),
        &[("authorization", &format!("Bearer {}", withdrawn.token))],
        b"",
    );
    assert_eq!(r.status, 200);
    let withdrawn_at = Instant::now();
    // Read the feed over plain HTTP here: starting the Python client can take longer than
    // the retention period on a loaded machine, and the record must be seen before it goes.
    let feed_status = |value: &str| {
        let r = s.request(
            "GET",
            "/v1/stopncii/FetchHashes",
            &[
                ("Ocp-Apim-Subscription-Key", platform.as_str()),
                ("x-functions-key", platform.as_str()),
            ],
            b"",
        );
        assert_eq!(r.status, 200);
        let records = r.json()["hashRecords"].clone();
        records
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["hashValue"] == value)
            .map(|r| r["hashStatus"].clone())
    };
    let before = feed_status(&pdq(2));
    assert!(
        withdrawn_at.elapsed() < Duration::from_secs(RETENTION_SECS),
        "the feed was read after the retention period; the check below would mean nothing"
    );
    assert_eq!(before, Some(json!("Withdrawn")));

    // Both finished tips and the withdrawn record go once the period has passed.
    let deadline = Instant::now() + Duration::from_secs(RETENTION_SECS + 40);
    loop {
        let t = reviewer_view(&s, &reviewer, &rejected.id);
        if t["description"].is_null() && feed_status(&pdq(2)).is_none() {
            assert_eq!(t["items"], json!([]));
            assert_eq!(t["contact"], Value::Null);
            break;
        }
        assert!(Instant::now() < deadline, "retention did not run: {t:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let gone = reviewer_view(&s, &reviewer, &withdrawn.id);
    assert!(gone["description"].is_null(), "{gone:#}");
    let open = reviewer_view(&s, &reviewer, &kept.id);
    assert_eq!(open["items"], json!([{"pdq": pdq(1)}]));
    assert_eq!(open["description"], "free text");
    let after = pytx(&s, &platform, &["fetch"]);
    assert_eq!(
        keys_of(&after),
        set(&[format!("ImagePDQ:{}", pdq(1))]),
        "{after:#}"
    );
}

/// A platform's requests are counted against its key, as bearer-keyed requests are.
#[test]
fn platform_keys_are_rate_limited_like_other_keys() {
    let dir = TempDir::new("exchange-rate");
    let s = Server::start_ready(
        &dir.0,
        &[MANY_TIPS, &["--rate-key", "0.001", "--burst-key", "2"]].concat(),
    );
    let platform = key(&s, &["exchange"], "p");
    let other = key(&s, &["exchange"], "q");
    let fetch = |k: &str| {
        s.request(
            "GET",
            "/v1/stopncii/FetchHashes",
            &[("Ocp-Apim-Subscription-Key", k), ("x-functions-key", k)],
            b"",
        )
        .status
    };
    assert_eq!([fetch(&platform), fetch(&platform)], [200, 200]);
    assert_eq!(fetch(&platform), 429, "the key's burst is spent");
    assert_eq!(fetch(&other), 200, "another platform has its own bucket");
}
