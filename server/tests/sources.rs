//! Banks filled from hash-sharing exchanges, end to end: a local upstream per exchange
//! (`tests/sources/upstream.py`, speaking the exchange's wire format over real HTTP), the real
//! server syncing from it (SQLite, or PostgreSQL with `PIXELPRINT_TEST_DATABASE_URL`), and
//! python-threatexchange's own client for that exchange (`tests/sources/pytx_check.py`) reading
//! the same upstream: what pytx parses must be what pixelprint stored, so the upstreams cannot
//! drift from the formats the exchanges' real clients read.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{backend_name, pdq, Server, TempDir, ADMIN_KEY, MANY_TIPS};
use serde_json::{json, Value};

/// The server flags of these tests: sources looked for often, short leases and backoffs.
const FAST: [&str; 8] = [
    "--source-tick-ms",
    "100",
    "--source-lease-secs",
    "2",
    "--source-backoff-secs",
    "1",
    "--source-backoff-max-secs",
    "30",
];

/// The venv with PyPI `threatexchange` that `scripts/bootstrap.sh` makes.
fn python() -> PathBuf {
    let cache = std::env::var_os("PIXELPRINT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/pixelprint")
        });
    let python = cache.join("venv-exchange/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/bootstrap.sh (it makes the venv with python-threatexchange \
         from scripts/requirements-exchange.txt)",
        python.display()
    );
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sources")
        .join(name)
}

/// A test upstream, stopped on drop.
struct Upstream {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
}

impl Upstream {
    fn start(exchange: &str, credential: &str) -> Upstream {
        let mut child = Command::new(python())
            .arg(script("upstream.py"))
            .args([exchange, "--credential", credential])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the test upstream");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Upstream { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn control(&self, what: &str, body: &Value) {
        let r = common::request(
            &self.addr,
            "POST",
            &format!("/_control/{what}"),
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// The exchange requests served so far.
    fn log(&self) -> Vec<Value> {
        let r = common::request(&self.addr, "GET", "/_control/log", &[], b"");
        r.json().as_array().unwrap().clone()
    }

    /// The requests for pages (not for tokens).
    fn page_requests(&self) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|r| r["method"] == "GET")
            .collect()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every page of the upstream as pytx's client parses it.
fn pytx(exchange: &str, upstream: &Upstream, credential: &str, page_size: u32) -> Value {
    pytx_args(
        exchange,
        upstream,
        credential,
        &["--page-size", &page_size.to_string()],
    )
}

fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out after {secs} s waiting until {what} ({})",
        backend_name()
    );
}

/// The bank as `GET /v1/banks` lists it.
fn bank(server: &Server, name: &str) -> Value {
    let r = server.get_auth("/v1/banks", ADMIN_KEY);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["banks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no bank {name}"))
}

fn patch_bank(server: &Server, name: &str, body: &Value) -> common::Response {
    let auth = format!("Bearer {ADMIN_KEY}");
    server.request(
        "PATCH",
        &format!("/v1/banks/{name}"),
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.to_string().as_bytes(),
    )
}

/// `(algorithm, hash)` of every entry of the bank.
fn exported(server: &Server, name: &str) -> BTreeSet<(String, String)> {
    let r = server.get_auth(&format!("/v1/banks/{name}/export"), ADMIN_KEY);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .lines()
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect()
}

fn credential_file(dir: &TempDir, secret: &str) -> String {
    let path = dir.0.join("credential");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a bank holds after pytx's StopNCII records, applied in order: the pixelprint algorithm
/// of each signal type it stores (`server/src/sources/mod.rs`), a withdrawn or deleted case
/// removing its pair, hashes that are not the algorithm's hex left out.
fn stopncii_expected(pytx: &Value) -> BTreeSet<(String, String)> {
    let mut held = std::collections::BTreeMap::new();
    for r in pytx["records"].as_array().unwrap() {
        let (algorithm, len) = match r["signal_type"].as_str().unwrap() {
            "ImagePDQ" => ("pdq", 64),
            "VideoMD5" => ("md5", 32),
            _ => continue,
        };
        let hash = r["hash"].as_str().unwrap().to_ascii_lowercase();
        let key = (algorithm.to_string(), hash.clone());
        if matches!(r["status"].as_str(), Some("Withdrawn" | "Deleted")) {
            held.remove(&key);
        } else if is_hex(&hash, len) {
            held.insert(key, ());
        } else {
            held.remove(&key);
        }
    }
    held.into_keys().collect()
}

fn stopncii_record(ts: i64, signal: &str, hash: &str, status: &str, tags: &[&str]) -> Value {
    json!({
        "lastModtimestamp": ts,
        "signalType": signal,
        "hashValue": hash,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": tags, "source": "csp"}],
    })
}

/// A bank with a StopNCII source whose credential is in `credential`.
fn stopncii_bank(server: &Server, name: &str, upstream: &Upstream, credential: &str, page: u32) {
    server.create_bank(name);
    stopncii_bank_source(server, name, upstream, credential, page);
}

/// Names the StopNCII source of a bank.
fn stopncii_bank_source(
    server: &Server,
    name: &str,
    upstream: &Upstream,
    credential: &str,
    page: u32,
) {
    let r = patch_bank(
        server,
        name,
        &json!({"source": {
            "exchange": "stopncii",
            "base_url": upstream.url(),
            "credential": {"file": credential},
            "interval_secs": 1,
            "page_size": page,
        }}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
}

fn md5_of(seed: u64) -> String {
    common::random_hex(seed, 16)
}

#[test]
fn stopncii_fills_a_bank_page_by_page_as_pytx_reads_it() {
    let dir = TempDir::new("src-stopncii");
    let secret = "fetch-key-1,subscription-key-1";
    let credential = credential_file(&dir, secret);
    let upstream = Upstream::start("stopncii", secret);
    let mut records: Vec<Value> = (0..23)
        .map(|i| {
            let tags: &[&str] = if i % 2 == 0 {
                &["nudity", "adult"]
            } else {
                &[]
            };
            stopncii_record(100 + i, "ImagePDQ", &pdq(i as u64), "Active", tags)
        })
        .collect();
    records.push(stopncii_record(
        130,
        "VideoMD5",
        &md5_of(1),
        "Received",
        &[],
    ));
    records.push(stopncii_record(
        131,
        "VideoMD5",
        &md5_of(2),
        "Active",
        &["v"],
    ));
    // Malformed for pytx and pixelprint alike: no hash, a signal type outside the enum.
    records.push(json!({"lastModtimestamp": 132, "signalType": "ImagePDQ", "hashStatus": "Active", "caseNumbers": {}}));
    records.push(stopncii_record(133, "Bogus", &pdq(90), "Active", &[]));
    // Read by pytx, but not a PDQ hash: pixelprint skips it.
    records.push(stopncii_record(134, "ImagePDQ", "zz", "Active", &[]));
    // A signal type pixelprint does not store.
    records.push(stopncii_record(135, "Text", "some text", "Active", &[]));
    upstream.control("records", &json!(records));

    let read = pytx("stopncii", &upstream, secret, 4);
    assert_eq!(read["pages"], 8, "{read}");
    assert_eq!(read["skipped"], 2, "{read}");
    let expected = stopncii_expected(&read);
    assert_eq!(expected.len(), 25);
    upstream.control("clear_log", &json!({}));

    let server = Server::start_ready(&dir.0, &FAST);
    stopncii_bank(&server, "ncii", &upstream, &credential, 4);
    let done = json!({"start_timestamp": read["next_set_timestamp"]});
    wait_until("the first run is complete", 60, || {
        bank(&server, "ncii")["source"]["checkpoint"] == done
    });
    assert_eq!(exported(&server, "ncii"), expected);
    let source = bank(&server, "ncii")["source"].clone();
    assert_eq!(source["skipped"], 3, "{source}");
    assert_eq!(source["added"], 25, "{source}");
    assert_eq!(source["failures"], 0, "{source}");
    assert!(source["last_success"].is_string(), "{source}");
    let log = server.log();
    // Each skipped record is logged by its place: the page (its checkpoint) and its index.
    assert!(
        log.lines().any(
            |l| l.contains("skipped record 1: missing field `hashValue`")
                && l.contains(r#"page="{\"start_timestamp\":10,\"next_page_token\":\"10:24\"}""#)
        ),
        "{log}"
    );
    assert!(!log.contains("subscription-key-1"), "the secret was logged");
    // The pages pixelprint asked for are the pages pytx read, each once.
    let tokens: Vec<Value> = upstream.page_requests()[..8]
        .iter()
        .map(|r| r["query"]["nextPageToken"].clone())
        .collect();
    let want: Vec<Value> = std::iter::once(Value::Null)
        .chain((1..8).map(|p| json!(format!("10:{}", p * 4))))
        .collect();
    assert_eq!(tokens, want);

    // Keyed callers learn the exchange entry; anonymous callers a verdict only.
    let item = json!({"items": [{"pdq": pdq(0), "pdq_quality": 100}]});
    let answer = server.match_items(item.clone());
    let hit = &answer["results"][0]["matches"][0];
    assert_eq!(hit["bank"], "ncii", "{answer}");
    assert_eq!(
        hit["source"],
        json!({"exchange": "stopncii", "id": format!("ImagePDQ:{}", pdq(0)), "tags": ["adult", "nudity"]}),
        "{answer}"
    );
    let anonymous = server.match_anon(&item);
    assert_eq!(anonymous.status, 200);
    assert_eq!(
        anonymous.json(),
        json!({"results": [{"item": 0, "match": true}]})
    );

    // Withdrawn and updated records: the next run removes and replaces.
    records[0] = stopncii_record(200, "ImagePDQ", &pdq(0), "Withdrawn", &[]);
    records[1] = stopncii_record(201, "ImagePDQ", &pdq(1), "Active", &["reviewed"]);
    records[23] = stopncii_record(202, "VideoMD5", &md5_of(1), "Deleted", &[]);
    upstream.control("records", &json!(records));
    let read = pytx("stopncii", &upstream, secret, 4);
    let expected = stopncii_expected(&read);
    assert_eq!(expected.len(), 23);
    let done = json!({"start_timestamp": 203});
    wait_until("the withdrawals are applied", 60, || {
        bank(&server, "ncii")["source"]["checkpoint"] == done
    });
    assert_eq!(exported(&server, "ncii"), expected);
    let answer = server.match_items(item);
    assert_eq!(answer["results"][0]["matches"], json!([]), "{answer}");
    let answer = server.match_items(json!({"items": [{"pdq": pdq(1), "pdq_quality": 100}]}));
    assert_eq!(
        answer["results"][0]["matches"][0]["source"]["tags"],
        json!(["reviewed"])
    );
    let source = bank(&server, "ncii")["source"].clone();
    assert_eq!(source["removed"], 3, "{source}");
    assert_eq!(server.metric("pixelprint_source_fetch_errors_total"), 0);
    assert!(server.metric("pixelprint_source_pages_total") >= 9);
}

/// `kill -9` in the middle of a run: after the restart, the bank holds exactly the pages
/// written before the kill, the fetch resumes at the checkpoint of the last one (no earlier
/// page is asked for again), and the run completes.
#[test]
fn stopncii_resumes_from_its_checkpoint_after_kill_9() {
    let dir = TempDir::new("src-crash");
    let secret = "fk,sk";
    let credential = credential_file(&dir, secret);
    let upstream = Upstream::start("stopncii", secret);
    let records: Vec<Value> = (0..40)
        .map(|i| stopncii_record(100 + i, "ImagePDQ", &pdq(1000 + i as u64), "Active", &[]))
        .collect();
    upstream.control("records", &json!(records));
    let read = pytx("stopncii", &upstream, secret, 4);
    assert_eq!(read["pages"], 10);
    let expected = stopncii_expected(&read);
    upstream.control("clear_log", &json!({}));
    upstream.control("faults", &json!({"delay_ms": 400}));

    let server = Server::start_ready(&dir.0, &FAST);
    stopncii_bank(&server, "ncii", &upstream, &credential, 4);
    let (server, first, served) = crash_mid_run(server, &dir, &upstream, 4);
    let listed = bank(&server, "ncii");
    let checkpoint = &listed["source"]["checkpoint"];
    let token = checkpoint["next_page_token"].as_str().unwrap().to_string();
    let offset: u64 = token.rsplit(':').next().unwrap().parse().unwrap();
    // Every page written before the kill is there, and nothing of a page that was not.
    assert_eq!(listed["entries"], offset, "{listed}");
    assert!(
        offset >= 4 * (served as u64 - 1),
        "{served} served, {offset} stored"
    );
    assert_eq!(first["query"]["nextPageToken"], token, "{first}");
    assert_eq!(first["query"]["startTimestamp"], "10");

    upstream.control("faults", &json!({"block": false, "delay_ms": 0}));
    let done = json!({"start_timestamp": read["next_set_timestamp"]});
    wait_until("the run completes", 60, || {
        bank(&server, "ncii")["source"]["checkpoint"] == done
    });
    assert_eq!(exported(&server, "ncii"), expected);
    let pages: Vec<u64> = upstream
        .page_requests()
        .iter()
        // The runs after this one start at the next set's timestamp.
        .filter(|r| r["status"] == 200 && r["query"]["startTimestamp"] == "10")
        .map(|r| {
            let t = r["query"]["nextPageToken"].as_str().unwrap_or("10:0");
            t.rsplit(':').next().unwrap().parse().unwrap()
        })
        .collect();
    let want: Vec<u64> = (offset..40).step_by(4).collect();
    assert_eq!(pages, want, "pages asked for after the restart");
}

/// Once `pages` pages were served, `kill -9` the server and start it again with the upstream
/// answering 503: the restarted server, its first request, and how many pages had been served.
fn crash_mid_run(
    server: Server,
    dir: &TempDir,
    upstream: &Upstream,
    pages: usize,
) -> (Server, Value, usize) {
    wait_until(&format!("{pages} pages were served"), 60, || {
        upstream.page_requests().len() >= pages
    });
    server.kill9();
    let served = upstream.page_requests().len();
    upstream.control("faults", &json!({"block": true}));
    upstream.control("clear_log", &json!({}));
    let server = Server::start_ready(&dir.0, &FAST);
    wait_until("the restarted server asks again", 30, || {
        !upstream.page_requests().is_empty()
    });
    let first = upstream.page_requests()[0].clone();
    (server, first, served)
}

#[test]
fn stopncii_backs_off_after_429_and_5xx_and_shows_it() {
    let dir = TempDir::new("src-backoff");
    let secret = "fk,sk";
    let credential = credential_file(&dir, secret);
    let upstream = Upstream::start("stopncii", secret);
    upstream.control(
        "records",
        &json!([stopncii_record(100, "ImagePDQ", &pdq(7), "Active", &[])]),
    );
    upstream.control("faults", &json!({"statuses": [429, 503, 500]}));
    let server = Server::start_ready(&dir.0, &FAST);
    stopncii_bank(&server, "ncii", &upstream, &credential, 4);
    wait_until("two failures are shown", 30, || {
        bank(&server, "ncii")["source"]["failures"] == 2
    });
    let source = bank(&server, "ncii")["source"].clone();
    assert_eq!(
        source["last_error"], "HTTP 503 Service Unavailable",
        "{source}"
    );
    assert!(source["last_success"].is_null(), "{source}");
    assert!(source["next_attempt"].is_string(), "{source}");
    let text = server.get("/metrics").text();
    assert!(
        text.contains("pixelprint_source_consecutive_failures{bank=\"ncii\"} 2"),
        "{text}"
    );
    wait_until("the source succeeds", 60, || {
        bank(&server, "ncii")["source"]["last_success"].is_string()
    });
    let source = bank(&server, "ncii")["source"].clone();
    assert_eq!(source["failures"], 0, "{source}");
    assert_eq!(source["last_error"], "HTTP 500 Internal Server Error");
    assert_eq!(server.metric("pixelprint_source_fetch_errors_total"), 3);
    // The waits double: 1 s (at least the 429's Retry-After), 2 s, 4 s, each ±1 s for the
    // whole seconds the schedule is kept in.
    let times: Vec<f64> = upstream
        .page_requests()
        .iter()
        .map(|r| r["t"].as_f64().unwrap())
        .collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).take(3).collect();
    for (gap, wait) in gaps.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *gap >= wait - 1.0 && *gap <= wait + 1.5,
            "gaps {gaps:?} are not the backoff 1, 2, 4 s"
        );
    }
    assert!(gaps[2] > gaps[0], "gaps {gaps:?} do not grow");
}

#[test]
fn a_refused_credential_is_shown_and_not_retried_hot() {
    let dir = TempDir::new("src-refused");
    let credential = credential_file(&dir, "wrong-function-key,wrong-subscription-key");
    let upstream = Upstream::start("stopncii", "fk,sk");
    upstream.control(
        "records",
        &json!([stopncii_record(100, "ImagePDQ", &pdq(7), "Active", &[])]),
    );
    let server = Server::start_ready(&dir.0, &FAST);
    stopncii_bank(&server, "ncii", &upstream, &credential, 4);
    wait_until("the refusal is shown", 30, || {
        bank(&server, "ncii")["source"]["failures"] == 1
    });
    let listing = server.get_auth("/v1/banks", ADMIN_KEY).text();
    let source = bank(&server, "ncii")["source"].clone();
    assert_eq!(
        source["last_error"],
        "the exchange refused the credential: HTTP 401 Unauthorized"
    );
    assert_eq!(source["config"]["credential"], json!({"file": credential}));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(upstream.page_requests().len(), 1, "retried within 3 s");
    assert_eq!(bank(&server, "ncii")["source"]["failures"], 1);
    for text in [listing, server.log()] {
        assert!(
            !text.contains("wrong-subscription-key"),
            "the secret is shown: {text}"
        );
    }
    // The operator fixes the credential and names the source again: it is due at once.
    std::fs::write(&credential, "fk,sk\n").unwrap();
    stopncii_bank_source(&server, "ncii", &upstream, &credential, 4);
    wait_until("the fixed credential is used", 30, || {
        bank(&server, "ncii")["source"]["last_success"].is_string()
    });
    assert_eq!(bank(&server, "ncii")["entries"], 1);
}

#[test]
fn a_source_configuration_is_checked() {
    let dir = TempDir::new("src-config");
    let server = Server::start_ready(&dir.0, &FAST);
    server.create_bank("b");
    for (body, field) in [
        (
            json!({"source": {"exchange": "nope", "credential": {"env": "X"}}}),
            "source",
        ),
        (
            json!({"source": {"exchange": "tat", "credential": {"value": "secret"}}}),
            "source",
        ),
        (
            json!({"source": {"exchange": "tat", "credential": {"env": "X"}, "base_url": "ftp://x"}}),
            "base_url",
        ),
        (
            json!({"source": {"exchange": "tat", "credential": {"env": "X"}, "page_size": 0}}),
            "page_size",
        ),
        (
            json!({"source": {"exchange": "threatexchange", "credential": {"env": "X"}}}),
            "privacy_group",
        ),
        (
            json!({"source": {"exchange": "ncmec", "credential": {"env": "X"}, "privacy_group": 5}}),
            "privacy_group",
        ),
    ] {
        let r = patch_bank(&server, "b", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field, "{}", r.text());
    }
    let r = patch_bank(
        &server,
        "b",
        &json!({"source": {"exchange": "tat", "credential": {"env": "PIXELPRINT_TEST_NONE"}}}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    wait_until("the missing variable is shown", 30, || {
        bank(&server, "b")["source"]["last_error"]
            == "credential variable PIXELPRINT_TEST_NONE is not set"
    });
    let r = patch_bank(&server, "b", &json!({"source": null}));
    assert_eq!(r.status, 204);
    assert!(bank(&server, "b").get("source").is_none());
}

fn tat_record(id: i64, algorithm: &str, hash: &str, deleted: bool, updated_on: f64) -> Value {
    json!({
        "hash_digest": hash, "algorithm": algorithm, "ideology": if id % 2 == 0 { "islamist" } else { "far-right" },
        "file_type": if algorithm == "PDQ" { "image" } else { "video" }, "deleted": deleted,
        "updated_on": updated_on, "created_on": "2024-01-01T00:00:00Z", "id": id,
    })
}

/// What a bank holds after pytx's TAT records, applied in order.
fn tat_expected(pytx: &Value) -> BTreeSet<(String, String)> {
    let mut held = BTreeSet::new();
    for r in pytx["records"].as_array().unwrap() {
        let algorithm = match r["algorithm"].as_str().unwrap() {
            "PDQ" => "pdq",
            "MD5" => "md5",
            _ => continue,
        };
        let key = (
            algorithm.to_string(),
            r["hash"].as_str().unwrap().to_ascii_lowercase(),
        );
        if r["deleted"] == true {
            held.remove(&key);
        } else {
            held.insert(key);
        }
    }
    held
}

#[test]
fn tat_fills_a_bank_page_by_page_as_pytx_reads_it() {
    let dir = TempDir::new("src-tat");
    let secret = "analyst:pa55word";
    let credential = credential_file(&dir, secret);
    let upstream = Upstream::start("tat", secret);
    let mut records: Vec<Value> = (0..11)
        .map(|i| {
            tat_record(
                i,
                "PDQ",
                &pdq(500 + i as u64),
                false,
                1_700_000_000.0 + i as f64,
            )
        })
        .collect();
    records.push(tat_record(11, "MD5", &md5_of(11), false, 1_700_000_011.0));
    records.push(tat_record(12, "MD5", &md5_of(11), true, 1_700_000_012.0));
    upstream.control("records", &json!(records));
    let read = pytx("tat", &upstream, secret, 5);
    assert_eq!(read["pages"], 3, "{read}");
    let expected = tat_expected(&read);
    assert_eq!(expected.len(), 11);
    upstream.control("clear_log", &json!({}));

    let server = Server::start_ready(&dir.0, &FAST);
    server.create_bank("tcap");
    let r = patch_bank(
        &server,
        "tcap",
        &json!({"source": {"exchange": "tat", "base_url": upstream.url(),
                           "credential": {"file": credential}, "interval_secs": 1, "page_size": 5}}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let done = json!(read["checkpoint"]);
    wait_until("the run is complete", 60, || {
        bank(&server, "tcap")["source"]["checkpoint"] == done
    });
    assert_eq!(exported(&server, "tcap"), expected);
    let afters: Vec<Value> = upstream.page_requests()[..3]
        .iter()
        .map(|r| r["query"]["after"].clone())
        .collect();
    assert_eq!(
        afters,
        [json!(""), json!("1700000004.0,4"), json!("1700000009.0,9")]
    );
    let answer = server.match_items(json!({"items": [{"pdq": pdq(502), "pdq_quality": 100}]}));
    assert_eq!(
        answer["results"][0]["matches"][0]["source"],
        json!({"exchange": "tat", "id": "2", "tags": ["file_type:image", "ideology:islamist"]}),
        "{answer}"
    );
}

/// [`pytx`] with `pytx_check.py`'s other arguments (the page size, the privacy group).
fn pytx_args(exchange: &str, upstream: &Upstream, credential: &str, args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(script("pytx_check.py"))
        .args([exchange, &upstream.url(), credential])
        .args(args)
        .output()
        .expect("run pytx_check.py");
    assert!(
        out.status.success(),
        "pytx could not read the upstream: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pytx_check.py prints JSON")
}

/// A test's directory, its credential file holding `secret`, another holding `wrong`, and the
/// upstream of `exchange` that takes `secret`.
fn setup(exchange: &str, secret: &str, wrong: &str) -> (TempDir, String, PathBuf, Upstream) {
    let dir = TempDir::new(&format!("src-{exchange}"));
    let credential = credential_file(&dir, secret);
    let wrong_file = dir.0.join("wrong");
    std::fs::write(&wrong_file, format!("{wrong}\n")).unwrap();
    let upstream = Upstream::start(exchange, secret);
    (dir, credential, wrong_file, upstream)
}

/// Names a source of a bank (created first).
fn bank_with_source(server: &Server, name: &str, source: Value) {
    server.create_bank(name);
    let r = patch_bank(server, name, &json!({ "source": source }));
    assert_eq!(r.status, 204, "{}", r.text());
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An NCMEC entry as `upstream.py` serves it (`fingerprints`: element name to value).
fn ncmec_record(id: &str, member: i64, kind: &str, ts: i64, prints: &[(&str, String)]) -> Value {
    let prints: serde_json::Map<String, Value> = prints
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"id": id, "member": member, "type": kind, "deleted": false, "timestamp": ts,
           "classification": "A1", "fingerprints": prints})
}

/// What a bank holds after pytx's NCMEC entries: each entry's `pdq` and `md5` fingerprints
/// that are the algorithm's hex, for entries that are not tombstones.
fn ncmec_expected(pytx: &Value) -> BTreeSet<(String, String)> {
    let mut held = std::collections::BTreeMap::new();
    for r in pytx["records"].as_array().unwrap() {
        let key = r["key"].as_str().unwrap();
        held.retain(|(k, _): &(String, String), _| k != key);
        if r["deleted"] == true {
            continue;
        }
        for (name, len) in [("pdq", 64), ("md5", 32)] {
            if let Some(v) = r["fingerprints"][name].as_str() {
                if is_hex(v, len) {
                    held.insert((key.to_string(), name.to_string()), v.to_ascii_lowercase());
                }
            }
        }
    }
    held.into_iter().map(|((_, a), h)| (a, h)).collect()
}

#[test]
fn ncmec_fills_a_bank_page_by_page_as_pytx_reads_it() {
    let secret = "esp-user:esp-pa55";
    let (dir, credential, wrong, upstream) = setup("ncmec", secret, "esp-user:wrong");
    let t0 = 1_700_000_000;
    let mut records: Vec<Value> = (0..9)
        .map(|i| {
            ncmec_record(
                &format!("image{i}"),
                42,
                "image",
                t0 + i,
                &[
                    ("pdq", pdq(700 + i as u64)),
                    ("md5", md5_of(700 + i as u64)),
                    ("sha1", "ab".repeat(20)),
                ],
            )
        })
        .collect();
    for i in 0..3 {
        records.push(ncmec_record(
            &format!("video{i}"),
            43,
            "video",
            t0 + 20 + i,
            &[("md5", md5_of(800 + i as u64).to_uppercase())],
        ));
    }
    // A tombstone, and a PDQ that pytx's PdqSignal refuses (its MD5 is kept).
    records.push(
        json!({"id": "image90", "member": 42, "type": "image", "deleted": true,
                        "timestamp": t0 + 30}),
    );
    records.push(ncmec_record(
        "image91",
        44,
        "image",
        t0 + 31,
        &[("pdq", "zz".into()), ("md5", md5_of(791))],
    ));
    upstream.control("records", &json!(records));
    // The base URL is an environment: a path under the host, as NCMEC's are.
    let base = format!("{}/hashsharing", upstream.url());
    let read = pytx_args("ncmec", &upstream, secret, &[]);
    assert_eq!(read["pages"], 3, "{read}");
    assert_eq!(read["skipped"], 1, "{read}");
    let expected = ncmec_expected(&read);
    assert_eq!(expected.len(), 9 * 2 + 3 + 1);
    upstream.control("clear_log", &json!({}));
    upstream.control("faults", &json!({"statuses": [503]}));

    let server = Server::start_ready(&dir.0, &FAST);
    let source = |file: &str| {
        json!({"exchange": "ncmec", "base_url": base, "credential": {"file": file},
               "interval_secs": 1})
    };
    bank_with_source(&server, "ncmec", source(&credential));
    wait_until("the first run is complete", 60, || {
        let s = bank(&server, "ncmec")["source"].clone();
        s["last_success"].is_string() && s["checkpoint"].get("paging").is_none()
    });
    assert_eq!(exported(&server, "ncmec"), expected);
    let listed = bank(&server, "ncmec")["source"].clone();
    assert_eq!(listed["skipped"], 1, "{listed}");
    assert_eq!(listed["added"], 22, "{listed}");
    assert_eq!(
        listed["last_error"], "HTTP 503 Service Unavailable",
        "{listed}"
    );
    // The pages pixelprint asked for are pytx's: the range's first page, then each `next`.
    let asked: Vec<Value> = upstream
        .page_requests()
        .iter()
        .filter(|r| r["status"] == 200 && r["path"] == "/hashsharing/v2/entries")
        .take(3)
        .map(|r| r["query"].get("start").cloned().unwrap_or(Value::Null))
        .collect();
    let want: Vec<Value> = std::iter::once(Value::Null)
        .chain(
            read["next_starts"].as_array().unwrap()[..2]
                .iter()
                .map(|s| json!(s.to_string())),
        )
        .collect();
    assert_eq!(asked, want);
    bank_with_source(&server, "refused", source(wrong.to_str().unwrap()));
    wait_until("the refusal is shown", 30, || {
        bank(&server, "refused")["source"]["failures"] == 1
    });
    let refused = bank(&server, "refused")["source"].clone();
    assert_eq!(
        refused["last_error"], "the exchange refused the credential: HTTP 401 Unauthorized",
        "{refused}"
    );
    assert!(!server.log().contains("esp-pa55"), "the secret was logged");

    let item = json!({"items": [{"pdq": pdq(703), "pdq_quality": 100}]});
    let answer = server.match_items(item.clone());
    let hit = &answer["results"][0]["matches"][0];
    assert_eq!(
        hit["source"],
        json!({"exchange": "ncmec", "id": "42-image3", "tags": ["A1"]}),
        "{answer}"
    );

    // Later: an entry deleted, another updated without its PDQ.
    let later = now_secs();
    records[3] = json!({"id": "image3", "member": 42, "type": "image", "deleted": true,
                        "timestamp": later});
    records[4] = ncmec_record("image4", 42, "image", later, &[("md5", md5_of(704))]);
    upstream.control("records", &json!(records));
    // Ranges end 5 s behind the clock: pytx reads the change once it is that old.
    std::thread::sleep(Duration::from_secs(6));
    let read = pytx_args("ncmec", &upstream, secret, &[]);
    let expected = ncmec_expected(&read);
    assert_eq!(expected.len(), 22 - 3);
    wait_until("the deletions are applied", 60, || {
        exported(&server, "ncmec") == expected
    });
    let answer = server.match_items(item);
    assert_eq!(answer["results"][0]["matches"], json!([]), "{answer}");
    assert_eq!(bank(&server, "ncmec")["source"]["removed"], 3);
}

/// `kill -9` mid-range: the restarted server asks for the `next` page it stored, not the
/// range's first page, and the bank ends with every entry.
#[test]
fn ncmec_resumes_mid_range_after_kill_9() {
    let dir = TempDir::new("src-ncmec-crash");
    let secret = "u:p";
    let credential = credential_file(&dir, secret);
    let upstream = Upstream::start("ncmec", secret);
    let records: Vec<Value> = (0..40)
        .map(|i| {
            ncmec_record(
                &format!("e{i:03}"),
                7,
                "image",
                1_700_000_000 + 40 - i,
                &[("pdq", pdq(2000 + i as u64))],
            )
        })
        .collect();
    upstream.control("records", &json!(records));
    let read = pytx_args("ncmec", &upstream, secret, &[]);
    assert_eq!(read["pages"], 8);
    let expected = ncmec_expected(&read);
    upstream.control("clear_log", &json!({}));
    upstream.control("faults", &json!({"delay_ms": 400}));

    let server = Server::start_ready(&dir.0, &FAST);
    bank_with_source(
        &server,
        "ncmec",
        json!({"exchange": "ncmec", "base_url": upstream.url(),
               "credential": {"file": credential}, "interval_secs": 3600}),
    );
    let (server, first, _) = crash_mid_run(server, &dir, &upstream, 3);
    let listed = bank(&server, "ncmec");
    let next = listed["source"]["checkpoint"]["paging"]["next"]
        .as_str()
        .unwrap_or_else(|| panic!("no next page stored: {listed}"))
        .to_string();
    let start: u64 = next
        .split("start=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(listed["entries"], start - 1, "{listed}");
    assert!(start > 1, "{next}");
    assert_eq!(first["query"]["start"], start.to_string(), "{first}");

    upstream.control("faults", &json!({"block": false, "delay_ms": 0}));
    wait_until("the run completes", 60, || {
        let s = bank(&server, "ncmec")["source"].clone();
        s["last_success"].is_string() && s["checkpoint"].get("paging").is_none()
    });
    assert_eq!(exported(&server, "ncmec"), expected);
    let starts: Vec<u64> = upstream
        .page_requests()
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| {
            r["query"]["start"]
                .as_str()
                .map_or(1, |s| s.parse().unwrap())
        })
        .collect();
    let want: Vec<u64> = (start..=40).step_by(5).collect();
    assert_eq!(starts, want, "pages asked for after the restart");
}

/// A threat update as the Graph API gives it, with one descriptor by `owner`.
fn te_update(id: i64, kind: &str, indicator: &str, ts: i64, delete: bool, tags: &[&str]) -> Value {
    json!({"id": id.to_string(), "indicator": indicator, "type": kind, "last_updated": ts,
           "should_delete": delete,
           "descriptors": {"data": [{"id": (id * 10).to_string(), "owner": {"id": "4242"},
                                     "tags": tags, "status": "MALICIOUS"}]}})
}

/// What a bank holds after pytx's threat updates, applied in order.
fn te_expected(pytx: &Value) -> BTreeSet<(String, String)> {
    let mut held = std::collections::BTreeMap::new();
    for r in pytx["records"].as_array().unwrap() {
        let (algorithm, len) = match r["type"].as_str().unwrap() {
            "HASH_PDQ" => ("pdq", 64),
            "HASH_MD5" | "HASH_VIDEO_MD5" => ("md5", 32),
            "HASH_SHA256" | "HASH_VIDEO_SHA256" => ("sha256", 64),
            _ => continue,
        };
        let key = (
            r["type"].as_str().unwrap().to_string(),
            r["indicator"].as_str().unwrap().to_ascii_lowercase(),
        );
        held.remove(&key);
        if r["deleted"] == false && is_hex(&key.1, len) {
            held.insert(key.clone(), (algorithm.to_string(), key.1.clone()));
        }
    }
    held.into_values().collect()
}

#[test]
fn threatexchange_fills_a_bank_page_by_page_as_pytx_reads_it() {
    let token = "1234567890|abcdefghijklmnopqrstuvwxyz0123";
    let wrong_token = "1234567890|wrongwrongwrongwrongwrong";
    let (dir, credential, wrong, upstream) = setup("threatexchange", token, wrong_token);
    let t0 = 1_700_000_000;
    let mut records: Vec<Value> = (0..8)
        .map(|i| {
            te_update(
                i,
                "HASH_PDQ",
                &pdq(900 + i as u64),
                t0 + i,
                false,
                &["csam"],
            )
        })
        .collect();
    records.push(te_update(
        20,
        "HASH_MD5",
        &md5_of(920),
        t0 + 20,
        false,
        &["media_type_video"],
    ));
    records.push(te_update(
        21,
        "HASH_VIDEO_MD5",
        &md5_of(921),
        t0 + 21,
        false,
        &[],
    ));
    records.push(te_update(
        22,
        "HASH_SHA256",
        &"5a".repeat(32),
        t0 + 22,
        false,
        &[],
    ));
    // Deleted; without descriptors (pytx: deleted); a type pixelprint does not store; a PDQ that
    // is not hex; without its indicator (malformed).
    records.push(te_update(23, "HASH_PDQ", &pdq(900), t0 + 23, true, &[]));
    records.push(
        json!({"id": "24", "indicator": pdq(901), "type": "HASH_PDQ",
                        "last_updated": t0 + 24, "should_delete": false}),
    );
    records.push(te_update(
        25,
        "URI",
        "https://example.org/",
        t0 + 25,
        false,
        &[],
    ));
    records.push(te_update(26, "HASH_PDQ", "zz", t0 + 26, false, &[]));
    records.push(
        json!({"id": "27", "type": "HASH_PDQ", "last_updated": t0 + 27,
                        "should_delete": false}),
    );
    upstream.control("records", &json!(records));
    let read = pytx_args(
        "threatexchange",
        &upstream,
        token,
        &["--privacy-group", "77", "--page-size", "4"],
    );
    assert_eq!(read["pages"], 4, "{read}");
    assert_eq!(read["skipped"], 1, "{read}");
    let expected = te_expected(&read);
    assert_eq!(expected.len(), 6 + 3);
    upstream.control("clear_log", &json!({}));
    upstream.control("faults", &json!({"statuses": [429, 502]}));

    let server = Server::start_ready(&dir.0, &FAST);
    let source = |file: &str| {
        json!({"exchange": "threatexchange", "base_url": upstream.url(), "privacy_group": 77,
               "credential": {"file": file}, "interval_secs": 1, "page_size": 4})
    };
    bank_with_source(&server, "te", source(&credential));
    let done = json!({"update_time": read["update_time"]});
    wait_until("the first run is complete", 60, || {
        bank(&server, "te")["source"]["checkpoint"] == done
    });
    assert_eq!(exported(&server, "te"), expected);
    let listed = bank(&server, "te")["source"].clone();
    assert_eq!(listed["skipped"], 2, "{listed}");
    assert_eq!(listed["last_error"], "HTTP 502 Bad Gateway", "{listed}");
    // The pages asked for follow the `next` cursors, the token sent again but never stored.
    let afters: Vec<Value> = upstream
        .page_requests()
        .iter()
        .filter(|r| r["status"] == 200)
        .take(4)
        .map(|r| {
            assert_eq!(r["query"]["access_token"], "(given)");
            r["query"].get("after").cloned().unwrap_or(Value::Null)
        })
        .collect();
    assert_eq!(
        afters,
        [
            Value::Null,
            json!("cursor-4"),
            json!("cursor-8"),
            json!("cursor-12")
        ]
    );
    bank_with_source(&server, "refused", source(wrong.to_str().unwrap()));
    wait_until("the refusal is shown", 30, || {
        bank(&server, "refused")["source"]["failures"] == 1
    });
    let refused = bank(&server, "refused")["source"].clone();
    assert_eq!(
        refused["last_error"], "the exchange refused the credential: HTTP 400 Bad Request",
        "{refused}"
    );
    let listing = server.get_auth("/v1/banks", ADMIN_KEY).text();
    for text in [listing, server.log()] {
        assert!(
            !text.contains("abcdefghijklmnopqrstuvwxyz0123"),
            "the token is shown: {text}"
        );
        assert!(!text.contains("wrongwrong"), "the token is shown: {text}");
    }

    let item = json!({"items": [{"pdq": pdq(903), "pdq_quality": 100}]});
    let answer = server.match_items(item.clone());
    assert_eq!(
        answer["results"][0]["matches"][0]["source"],
        // The descriptor (`te_update` gives update 3 descriptor 30) is where reactions go.
        json!({"exchange": "threatexchange", "id": "3", "descriptors": ["30"],
               "tags": ["csam", "status:MALICIOUS"]}),
        "{answer}"
    );

    // Later updates: one deleted, one new; the next run starts at the highest time read.
    records[3] = te_update(3, "HASH_PDQ", &pdq(903), t0 + 100, true, &[]);
    records.push(te_update(30, "HASH_PDQ", &pdq(930), t0 + 101, false, &[]));
    upstream.control("records", &json!(records));
    upstream.control("clear_log", &json!({}));
    let read = pytx_args(
        "threatexchange",
        &upstream,
        token,
        &["--privacy-group", "77", "--page-size", "4"],
    );
    let expected = te_expected(&read);
    wait_until("the update is applied", 60, || {
        bank(&server, "te")["source"]["checkpoint"] == json!({"update_time": t0 + 101})
    });
    assert_eq!(exported(&server, "te"), expected);
    let first = upstream
        .page_requests()
        .into_iter()
        .find(|r| r["path"] == "/77/threat_updates/" && r["query"]["start_time"].is_string())
        .expect("a run from the checkpoint");
    assert_eq!(
        first["query"]["start_time"],
        done["update_time"].to_string()
    );
    let answer = server.match_items(item);
    assert_eq!(answer["results"][0]["matches"], json!([]), "{answer}");
}

/// One pixelprint server fills a bank from another's StopNCII-compatible feed (the accepted
/// tips' hashes), withdrawals included: the StopNCII source pointed at `/v1/stopncii`.
#[test]
fn a_bank_fills_from_another_pixelprint_servers_feed() {
    let dir_a = TempDir::new("src-peer-a");
    let dir_b = TempDir::new("src-peer-b");
    let a = Server::start_ready(
        &dir_a.0,
        &[MANY_TIPS, &["--exchange-page-size", "2"]].concat(),
    );
    let key = |scopes: &[&str], label: &str| {
        let r = a.admin("/v1/keys", &json!({"scopes": scopes, "label": label}));
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["key"].as_str().unwrap().to_string()
    };
    let platform = key(&["exchange"], "server b");
    let reviewer = key(&["review"], "reviewer");
    let file_tip = |items: Value| {
        let r = a.post_json(
            "/v1/tips",
            &json!({"items": items, "category": "non_consensual_intimate_imagery"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    };
    let accept = |tip: &Value| {
        let r = a.post_json_auth(
            &format!("/v1/tips/{}/review", tip["tip_id"].as_str().unwrap()),
            &reviewer,
            &json!({"decision": "accept"}),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    };
    let video_md5 = md5_of(3000);
    let frames = json!([{"frame": 0, "timestamp": 0.0, "hash": pdq(3001), "quality": 100}]);
    let first = file_tip(json!([{"pdq": pdq(3002)}, {"vpdq": frames, "md5": video_md5}]));
    let second = file_tip(json!([{"pdq": pdq(3003)}, {"pdq": pdq(3004)}]));
    let pending = file_tip(json!([{"pdq": pdq(3005)}]));
    accept(&first);
    accept(&second);
    assert!(pending["tip_id"].is_string());

    let b = Server::start_ready(&dir_b.0, &FAST);
    let credential = credential_file(&dir_b, &format!("{platform},{platform}"));
    bank_with_source(
        &b,
        "peer",
        json!({"exchange": "stopncii", "base_url": format!("http://{}/v1/stopncii", a.addr),
               "credential": {"file": credential}, "interval_secs": 1, "page_size": 2}),
    );
    let all: BTreeSet<(String, String)> = [
        ("pdq", pdq(3002)),
        ("pdq", pdq(3003)),
        ("pdq", pdq(3004)),
        ("md5", video_md5.clone()),
    ]
    .into_iter()
    .map(|(a, h)| (a.to_string(), h))
    .collect();
    wait_until("the peer's feed is in the bank", 60, || {
        exported(&b, "peer") == all
    });
    let source = bank(&b, "peer")["source"].clone();
    assert_eq!(source["failures"], 0, "{source}");
    assert_eq!(source["skipped"], 0, "{source}");
    let answer = b.match_items(json!({"items": [{"pdq": pdq(3003), "pdq_quality": 100}]}));
    assert_eq!(
        answer["results"][0]["matches"][0]["source"],
        json!({"exchange": "stopncii", "id": format!("ImagePDQ:{}", pdq(3003)), "tags": []}),
        "{answer}"
    );

    // The reporter withdraws the first tip: its hashes leave the other server's bank.
    let r = a.request(
        "POST",
        &format!("/v1/tips/{}/withdraw", first["tip_id"].as_str().unwrap()),
        &[(
            "authorization",
            &format!("Bearer {}", first["receipt_token"].as_str().unwrap()),
        )],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let left: BTreeSet<(String, String)> =
        [("pdq".to_string(), pdq(3003)), ("pdq".into(), pdq(3004))]
            .into_iter()
            .collect();
    wait_until("the withdrawal reaches the bank", 60, || {
        exported(&b, "peer") == left
    });
    assert_eq!(bank(&b, "peer")["source"]["removed"], 2);
}

/// `kill -9` mid-run: the restarted server follows the `next` URL it stored (without the
/// token, which it adds again), not the first page.
#[test]
fn threatexchange_resumes_from_its_next_url_after_kill_9() {
    let token = "1234567890|resumeresumeresumeresume";
    let (dir, credential, _, upstream) = setup("threatexchange", token, "unused");
    let records: Vec<Value> = (0..30)
        .map(|i| {
            te_update(
                i,
                "HASH_PDQ",
                &pdq(4000 + i as u64),
                1_700_000_000 + i,
                false,
                &[],
            )
        })
        .collect();
    upstream.control("records", &json!(records));
    let read = pytx_args(
        "threatexchange",
        &upstream,
        token,
        &["--privacy-group", "5", "--page-size", "3"],
    );
    assert_eq!(read["pages"], 10);
    let expected = te_expected(&read);
    upstream.control("clear_log", &json!({}));
    upstream.control("faults", &json!({"delay_ms": 400}));

    let server = Server::start_ready(&dir.0, &FAST);
    bank_with_source(
        &server,
        "te",
        json!({"exchange": "threatexchange", "base_url": upstream.url(), "privacy_group": 5,
               "credential": {"file": credential}, "interval_secs": 3600, "page_size": 3}),
    );
    let (server, first, _) = crash_mid_run(server, &dir, &upstream, 3);
    let listed = bank(&server, "te");
    let next = listed["source"]["checkpoint"]["next"]
        .as_str()
        .unwrap_or_else(|| panic!("no next URL stored: {listed}"))
        .to_string();
    assert!(!next.contains("access_token"), "{next}");
    let offset: u64 = next
        .rsplit("after=cursor-")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset >= 3, "{next}");
    assert_eq!(listed["entries"], offset, "{listed}");
    assert_eq!(
        first["query"]["after"],
        format!("cursor-{offset}"),
        "{first}"
    );
    assert_eq!(first["query"]["access_token"], "(given)", "{first}");

    upstream.control("faults", &json!({"block": false, "delay_ms": 0}));
    wait_until("the run completes", 60, || {
        bank(&server, "te")["source"]["checkpoint"] == json!({"update_time": read["update_time"]})
    });
    assert_eq!(exported(&server, "te"), expected);
    let afters: Vec<u64> = upstream
        .page_requests()
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| {
            let a = r["query"]["after"].as_str().unwrap_or("cursor-0");
            a["cursor-".len()..].parse().unwrap()
        })
        .collect();
    let want: Vec<u64> = (offset..30).step_by(3).collect();
    assert_eq!(afters, want, "pages asked for after the restart");
}

/// pytx's own client sends one verdict (`pytx_check.py --feedback`) to `base`.
fn pytx_feedback(exchange: &str, base: &str, credential: &str, feedback: &Value) {
    let out = Command::new(python())
        .arg(script("pytx_check.py"))
        .args([
            exchange,
            base,
            credential,
            "--feedback",
            &feedback.to_string(),
        ])
        .output()
        .expect("run pytx_check.py");
    assert!(
        out.status.success(),
        "pytx could not send its feedback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The upstream's log of feedback requests (not of pages): method, path, query, body, content
/// type and status, sorted (the rows of a bank are sent in no set order).
fn feedback_requests(upstream: &Upstream) -> Vec<Value> {
    let mut seen: Vec<Value> = upstream
        .log()
        .into_iter()
        .filter(|r| r["method"] != "GET" || r["path"].as_str().unwrap().ends_with("/reasons"))
        .map(|r| {
            json!({"method": r["method"], "path": r["path"], "query": r["query"],
                   "body": r["body"], "content_type": r["content_type"], "status": r["status"]})
        })
        .collect();
    seen.sort_by_key(|r| r.to_string());
    seen
}

/// A key with the `review` scope.
fn review_key(server: &Server) -> String {
    let r = server.admin(
        "/v1/keys",
        &json!({"scopes": ["review"], "label": "reviewer"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_string()
}

/// The id of the entry of `bank` that holds PDQ `hash`, once the sync has stored it.
fn entry_with(server: &Server, bank: &str, hash: &str) -> String {
    let mut id = String::new();
    wait_until(&format!("bank {bank} holds {hash}"), 60, || {
        let answer = server.match_items(json!({"items": [{"pdq": hash}], "banks": [bank]}));
        match answer["results"][0]["matches"][0]["entry_id"].as_str() {
            Some(found) => {
                id = found.to_string();
                true
            }
            None => false,
        }
    });
    id
}

/// Posts a verdict on entry `id` of `bank`; the row id.
fn post_feedback(server: &Server, key: &str, bank: &str, id: &str, verdict: &str) -> String {
    let r = server.post_json_auth(
        &format!("/v1/banks/{bank}/entries/{id}/feedback"),
        key,
        &json!({ "verdict": verdict }),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// The bank's feedback rows.
fn feedback_rows(server: &Server, key: &str, bank: &str) -> Vec<Value> {
    let r = server.get_auth(&format!("/v1/banks/{bank}/feedback"), key);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["feedback"].as_array().unwrap().clone()
}

fn wait_delivered(server: &Server, key: &str, bank: &str) {
    wait_until("every feedback row is delivered", 60, || {
        feedback_rows(server, key, bank)
            .iter()
            .all(|f| f["status"] == "delivered")
    });
}

/// Reviewers' verdicts on entries synced from NCMEC go back as NCMEC votes, byte for byte what
/// pytx's `NCMECHashAPI` sends for the same call: a confirmed match as `submit_upvote`, a false
/// positive as `submit_feedback` with a downvote whose reason is the only one NCMEC offers for
/// the fingerprint type (fetched first, as pytx does). With several reasons the row waits with
/// an error naming them until the source names its `feedback_reason`.
#[test]
fn ncmec_feedback_is_the_vote_pytx_sends() {
    let secret = "esp-user:esp-pa55";
    let (dir, credential, _, upstream) = setup("ncmec", secret, "esp-user:wrong");
    let t0 = 1_700_000_000;
    let records = json!([
        ncmec_record(
            "image1",
            42,
            "image",
            t0,
            &[("pdq", pdq(951)), ("md5", md5_of(951))]
        ),
        ncmec_record("img-2", 43, "image", t0 + 1, &[("pdq", pdq(952))]),
        ncmec_record("image3", 44, "image", t0 + 2, &[("pdq", pdq(953))]),
    ]);
    upstream.control("records", &records);
    let base = format!("{}/hashsharing", upstream.url());
    let server = Server::start_ready(&dir.0, &FAST);
    let source = json!({"exchange": "ncmec", "base_url": base,
                        "credential": {"file": credential}, "interval_secs": 1});
    bank_with_source(&server, "ncmec", source.clone());
    let reviewer = review_key(&server);
    let (yes, no) = (
        entry_with(&server, "ncmec", &pdq(951)),
        entry_with(&server, "ncmec", &pdq(952)),
    );
    upstream.control("clear_log", &json!({}));
    post_feedback(&server, &reviewer, "ncmec", &yes, "confirmed");
    post_feedback(&server, &reviewer, "ncmec", &no, "false_positive");
    wait_delivered(&server, &reviewer, "ncmec");
    let sent = feedback_requests(&upstream);
    assert_eq!(
        sent.len(),
        3,
        "an upvote, the reasons, a downvote: {sent:#?}"
    );

    upstream.control("clear_log", &json!({}));
    pytx_feedback(
        "ncmec",
        &base,
        secret,
        &json!({"esp_id": 42, "entry_id": "image1", "type": "PDQ", "verdict": "confirmed"}),
    );
    pytx_feedback(
        "ncmec",
        &base,
        secret,
        &json!({"esp_id": 43, "entry_id": "img-2", "type": "PDQ", "verdict": "false_positive"}),
    );
    let by_pytx = feedback_requests(&upstream);
    assert_eq!(sent, by_pytx);
    let put = |path: &str| {
        sent.iter()
            .find(|r| r["path"] == path)
            .unwrap_or_else(|| panic!("no PUT {path}: {sent:#?}"))
            .clone()
    };
    let up = put("/hashsharing/v2/entries/42/image1/PDQ/feedback");
    assert_eq!(
        (up["method"].as_str(), up["status"].as_i64()),
        (Some("PUT"), Some(200))
    );
    assert_eq!(
        up["body"],
        r#"<feedbackSubmission xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><affirmative /></feedbackSubmission>"#
    );
    let down = put("/hashsharing/v2/entries/43/img-2/PDQ/feedback");
    assert!(
        down["body"]
            .as_str()
            .unwrap()
            .contains("<negative><reasonIds><guid>3c1a7d2e-0000-4000-8000-000000000001</guid>"),
        "{down}"
    );

    // Several reasons: the row waits, its error names them; the source names one and it goes.
    let reasons = json!([{"guid": "aaaaaaaa-0000-4000-8000-000000000002", "name": "Not CSAM"},
                         {"guid": "bbbbbbbb-0000-4000-8000-000000000003", "name": "Wrong age"}]);
    upstream.control("reasons", &reasons);
    let waiting = {
        let third = entry_with(&server, "ncmec", &pdq(953));
        post_feedback(&server, &reviewer, "ncmec", &third, "false_positive")
    };
    wait_until("the row failed once", 60, || {
        let rows = feedback_rows(&server, &reviewer, "ncmec");
        let row = rows.iter().find(|f| f["id"] == waiting.as_str()).unwrap();
        row["attempts"].as_i64().unwrap() >= 1
    });
    let rows = feedback_rows(&server, &reviewer, "ncmec");
    let row = rows.iter().find(|f| f["id"] == waiting.as_str()).unwrap();
    assert_eq!(row["status"], "pending", "{row}");
    let error = row["last_error"].as_str().unwrap();
    assert!(
        error.contains("feedback_reason") && error.contains("bbbbbbbb-0000-4000-8000-000000000003"),
        "{error}"
    );
    let mut named = source.clone();
    named["feedback_reason"] = json!("bbbbbbbb-0000-4000-8000-000000000003");
    let r = patch_bank(&server, "ncmec", &json!({ "source": named }));
    assert_eq!(r.status, 204, "{}", r.text());
    upstream.control("clear_log", &json!({}));
    wait_delivered(&server, &reviewer, "ncmec");
    let sent = feedback_requests(&upstream);
    upstream.control("clear_log", &json!({}));
    pytx_feedback(
        "ncmec",
        &base,
        secret,
        &json!({"esp_id": 44, "entry_id": "image3", "type": "PDQ", "verdict": "false_positive",
                "reason": "bbbbbbbb-0000-4000-8000-000000000003"}),
    );
    let by_pytx = feedback_requests(&upstream);
    assert_eq!(sent.len(), 1, "a named reason is not fetched: {sent:#?}");
    assert_eq!(sent, by_pytx);

    // A reason is a guid, and only NCMEC's.
    let mut bad = source.clone();
    bad["feedback_reason"] = json!("not a guid");
    assert_eq!(
        patch_bank(&server, "ncmec", &json!({ "source": bad })).status,
        400
    );
}

/// Reviewers' verdicts on entries synced from ThreatExchange go back as reactions to the
/// indicator's descriptors, what pytx's `ThreatExchangeAPI` sends: `HELPFUL`
/// (`react_upvote_threat_descriptor`) for a confirmed match, `DISAGREE_WITH_TAGS`
/// (`react_to_threat_descriptor`) for a false positive; one per descriptor.
#[test]
fn threatexchange_feedback_is_the_reaction_pytx_sends() {
    let token = "1234567890|abcdefghijklmnopqrstuvwxyz0123";
    let (dir, credential, _, upstream) = setup("threatexchange", token, "1234567890|wrong");
    let t0 = 1_700_000_000;
    let mut two = te_update(2, "HASH_PDQ", &pdq(962), t0 + 1, false, &["csam"]);
    two["descriptors"]["data"].as_array_mut().unwrap().push(
        json!({"id": "21", "owner": {"id": "5151"}, "tags": ["csam"], "status": "MALICIOUS"}),
    );
    let records = json!([
        te_update(1, "HASH_PDQ", &pdq(961), t0, false, &["csam"]),
        two,
    ]);
    upstream.control("records", &records);
    let base = format!("{}/v26.0", upstream.url());
    let server = Server::start_ready(&dir.0, &FAST);
    bank_with_source(
        &server,
        "te",
        json!({"exchange": "threatexchange", "base_url": base, "privacy_group": 77,
               "credential": {"file": credential}, "interval_secs": 1}),
    );
    let reviewer = review_key(&server);
    let (yes, no) = (
        entry_with(&server, "te", &pdq(961)),
        entry_with(&server, "te", &pdq(962)),
    );
    upstream.control("clear_log", &json!({}));
    post_feedback(&server, &reviewer, "te", &yes, "confirmed");
    post_feedback(&server, &reviewer, "te", &no, "false_positive");
    wait_delivered(&server, &reviewer, "te");
    let sent = feedback_requests(&upstream);

    upstream.control("clear_log", &json!({}));
    for (descriptor, verdict) in [
        (10, "confirmed"),
        (20, "false_positive"),
        (21, "false_positive"),
    ] {
        pytx_feedback(
            "threatexchange",
            &base,
            token,
            &json!({"descriptor_id": descriptor, "verdict": verdict}),
        );
    }
    let by_pytx = feedback_requests(&upstream);
    assert_eq!(sent, by_pytx);
    let mut reactions: Vec<(&str, &str, &str)> = sent
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap(),
                r["query"]["reactions"].as_str().unwrap(),
                r["body"].as_str().unwrap(),
            )
        })
        .collect();
    reactions.sort();
    assert_eq!(
        reactions,
        [
            ("/v26.0/10/", "HELPFUL", "reactions=HELPFUL"),
            (
                "/v26.0/20/",
                "DISAGREE_WITH_TAGS",
                "reactions=DISAGREE_WITH_TAGS"
            ),
            (
                "/v26.0/21/",
                "DISAGREE_WITH_TAGS",
                "reactions=DISAGREE_WITH_TAGS"
            ),
        ]
    );
    assert!(sent.iter().all(|r| r["status"] == 200), "{sent:#?}");
}
