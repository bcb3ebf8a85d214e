//! Bank controls and match webhooks, over real HTTP against the server binary (SQLite, or
//! PostgreSQL with `PIXELPRINT_TEST_DATABASE_URL`): disabled and shadow banks, soft-disabled
//! entries, negative banks, two processes agreeing on a disable, and signed webhook deliveries
//! to a receiver in the test (real HTTP) that retries and dead-letters.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{backend_name, flip, pdq, Server, TempDir, ADMIN_KEY};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn matches_of(response: &Value, item: usize) -> Vec<Value> {
    response["results"][item]["matches"]
        .as_array()
        .unwrap()
        .clone()
}

/// An admin request with a JSON body and any method; returns the response.
fn admin_send(s: &Server, method: &str, path: &str, body: &Value) -> common::Response {
    let auth = format!("Bearer {ADMIN_KEY}");
    s.request(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

fn set_bank(s: &Server, bank: &str, body: Value) {
    let r = admin_send(s, "PATCH", &format!("/v1/banks/{bank}"), &body);
    assert_eq!(r.status, 204, "{}", r.text());
}

fn set_entry(s: &Server, bank: &str, id: &str, enabled: bool) -> common::Response {
    admin_send(
        s,
        "PATCH",
        &format!("/v1/banks/{bank}/entries/{id}"),
        &json!({ "enabled": enabled }),
    )
}

/// The anonymous verdict on one PDQ hash.
fn anonymous_match(s: &Server, hash: &str) -> bool {
    let r = s.match_anon(&json!({"items": [{"pdq": hash}]}));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["results"][0]["match"].as_bool().unwrap()
}

/// The banks of the keyed matches of one PDQ hash.
fn keyed_banks(s: &Server, hash: &str) -> Vec<String> {
    let r = s.match_items(json!({"items": [{"pdq": hash}]}));
    matches_of(&r, 0)
        .iter()
        .map(|m| m["bank"].as_str().unwrap().to_string())
        .collect()
}

/// A labelled line of `/metrics`, e.g. `pixelprint_shadow_matches_total{bank="trial"}`.
fn labelled_metric(s: &Server, series: &str) -> Option<u64> {
    s.get("/metrics")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A disabled bank matches nothing for anyone; a shadow bank's matches are counted per bank,
/// shown to keyed callers only when asked (flagged), and never told to anonymous callers.
#[test]
fn disabled_banks_match_nothing_and_shadow_banks_only_count() {
    let dir = TempDir::new("modes");
    let s = Server::start_ready(&dir.0, &[]);
    for bank in ["live", "dark", "trial"] {
        s.create_bank(bank);
    }
    let (live, dark, trial) = (pdq(11), pdq(12), pdq(13));
    s.add("live", &[("pdq", &live)]);
    s.add("dark", &[("pdq", &dark)]);
    let trial_id = s.add("trial", &[("pdq", &trial)]).remove(0);
    for h in [&live, &dark, &trial] {
        assert!(anonymous_match(&s, h), "every bank matches while active");
    }
    set_bank(&s, "dark", json!({"mode": "disabled"}));
    set_bank(&s, "trial", json!({"mode": "shadow"}));

    assert_eq!(keyed_banks(&s, &live), ["live"]);
    assert!(keyed_banks(&s, &dark).is_empty());
    assert!(!anonymous_match(&s, &dark));
    let with_shadow =
        |hash: &str| s.match_items(json!({"items": [{"pdq": hash}], "include_shadow": true}));
    assert!(
        matches_of(&with_shadow(&dark), 0).is_empty(),
        "disabled is not shadow"
    );

    // Shadow: not a match by default nor anonymously; flagged when asked for.
    assert!(keyed_banks(&s, &trial).is_empty());
    assert!(!anonymous_match(&s, &trial));
    let shown = matches_of(&with_shadow(&trial), 0);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["bank"], "trial");
    assert_eq!(shown[0]["entry_id"], trial_id);
    assert_eq!(shown[0]["shadow"], true);
    // Active matches carry no flag.
    assert!(matches_of(&with_shadow(&live), 0)[0]
        .get("shadow")
        .is_none());
    let anon = s.match_anon(&json!({"items": [{"pdq": trial}], "include_shadow": true}));
    assert_eq!(anon.status, 400, "{}", anon.text());
    assert_eq!(anon.json()["error"]["field"], "include_shadow");
    // Counted once per search that found it in shadow mode: a keyed one, an anonymous one and
    // the keyed one that asked for it (the refused request searched nothing).
    assert_eq!(
        labelled_metric(&s, "pixelprint_shadow_matches_total{bank=\"trial\"}"),
        Some(3)
    );

    let banks = s.get_auth("/v1/banks", ADMIN_KEY).json();
    let mode = |name: &str| {
        banks["banks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap()["mode"]
            .clone()
    };
    assert_eq!(
        (mode("live"), mode("dark"), mode("trial")),
        (json!("active"), json!("disabled"), json!("shadow"))
    );
    // Back to active: matches again.
    set_bank(&s, "dark", json!({"mode": "active"}));
    assert!(anonymous_match(&s, &dark));
    let bad = admin_send(&s, "PATCH", "/v1/banks/dark", &json!({"mode": "asleep"}));
    assert_eq!(bad.status, 400, "{}", bad.text());
}

/// A soft-disabled entry stays stored (exported, listed as disabled), matches nothing, survives
/// a restart disabled, and matches again once re-enabled.
#[test]
fn a_soft_disabled_entry_matches_nothing_until_enabled_again() {
    let dir = TempDir::new("entry");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("b");
    let (flood, other) = (pdq(21), pdq(22));
    let ids = s.add("b", &[("pdq", &flood), ("pdq", &other)]);
    let r = set_entry(&s, "b", &ids[0], false);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"changed": true, "enabled": false, "id": ids[0]})
    );
    assert_eq!(set_entry(&s, "b", &ids[0], false).json()["changed"], false);
    assert!(keyed_banks(&s, &flood).is_empty());
    assert!(!anonymous_match(&s, &flood));
    assert_eq!(keyed_banks(&s, &other), ["b"]);
    let export = s.get_auth("/v1/banks/b/export", ADMIN_KEY).text();
    assert!(export.contains(&flood), "still stored: {export}");
    let disabled = s.get_auth("/v1/banks/b/disabled", ADMIN_KEY).json();
    assert_eq!(disabled, json!({"ids": [ids[0]]}));
    assert_eq!(set_entry(&s, "b", "999999", false).status, 404);
    assert_eq!(set_entry(&s, "other", &ids[0], false).status, 404);

    // A restart loads it disabled.
    drop(s);
    let s = Server::start_ready(&dir.0, &[]);
    assert!(keyed_banks(&s, &flood).is_empty());
    let r = set_entry(&s, "b", &ids[0], true);
    assert_eq!(r.json()["changed"], true, "{}", r.text());
    assert_eq!(keyed_banks(&s, &flood), ["b"]);
    assert!(anonymous_match(&s, &flood));
    let disabled = s.get_auth("/v1/banks/b/disabled", ADMIN_KEY).json();
    assert_eq!(disabled, json!({"ids": []}));
}

/// An item that matches an entry of a negative bank has its matches elsewhere suppressed:
/// anonymous callers hear no match, keyed callers see what was withheld and by which entry.
#[test]
fn a_negative_bank_suppresses_the_items_other_matches() {
    let dir = TempDir::new("negative");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("known");
    s.create_bank("false-positives");
    let (fp, real) = (pdq(31), pdq(32));
    let known = s.add("known", &[("pdq", &fp), ("pdq", &real)]);
    let negative = s.add("false-positives", &[("pdq", &flip(&fp, 3))]);
    // Before the bank is negative its entry is an ordinary match.
    assert_eq!(keyed_banks(&s, &fp).len(), 2);
    set_bank(&s, "false-positives", json!({"negative": true}));

    assert!(!anonymous_match(&s, &fp));
    assert!(anonymous_match(&s, &real), "other items still match");
    let r = s.match_items(json!({"items": [{"pdq": fp}, {"pdq": real}]}));
    let item = &r["results"][0];
    assert!(matches_of(&r, 0).is_empty(), "{r}");
    assert_eq!(item["suppressed"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(item["suppressed"][0]["bank"], "known");
    assert_eq!(item["suppressed"][0]["entry_id"], known[0]);
    assert_eq!(item["negative"][0]["bank"], "false-positives");
    assert_eq!(item["negative"][0]["entry_id"], negative[0]);
    assert_eq!(item["negative"][0]["distance"], 3);
    assert_eq!(matches_of(&r, 1).len(), 1);
    assert!(r["results"][1].get("suppressed").is_none(), "{r}");
    // A bank filter does not escape the negative bank.
    let filtered = s.match_items(json!({"items": [{"pdq": fp}], "banks": ["known"]}));
    assert!(matches_of(&filtered, 0).is_empty(), "{filtered}");
    assert_eq!(filtered["results"][0]["suppressed"][0]["bank"], "known");
    // Counted: the anonymous one, the keyed one, the filtered one.
    assert_eq!(s.metric("pixelprint_suppressed_matches_total"), 3);
    // A negative bank in shadow mode would suppress nothing: refused.
    let r = admin_send(
        &s,
        "PATCH",
        "/v1/banks/false-positives",
        &json!({"mode": "shadow"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Disabled, it suppresses nothing.
    set_bank(&s, "false-positives", json!({"mode": "disabled"}));
    assert!(anonymous_match(&s, &fp));
}

/// Polls until `check` holds on the keyed banks of `hash` through `s`; panics after 2 s.
fn within_2_s(s: &Server, hash: &str, check: impl Fn(&[String]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let banks = keyed_banks(s, hash);
        if check(&banks) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "not seen by the other process within 2 s ({}): {banks:?}",
            backend_name()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two processes on one store (one SQLite file, or one PostgreSQL database) agree on an entry
/// disabled through one and re-enabled through the other, and on a bank's mode.
#[test]
fn two_processes_agree_on_entry_and_bank_controls() {
    let dir = TempDir::new("replicas");
    let a = Server::start_ready(&dir.0, &[]);
    let b = Server::start_ready(&dir.0, &[]);
    a.create_bank("shared");
    let h = pdq(41);
    let id = a.add("shared", &[("pdq", &h)]).remove(0);
    within_2_s(&b, &h, |banks| banks == ["shared"]);
    assert_eq!(set_entry(&a, "shared", &id, false).status, 200);
    let off = within_2_s(&b, &h, |banks| banks.is_empty());
    assert_eq!(set_entry(&b, "shared", &id, true).status, 200);
    let on = within_2_s(&a, &h, |banks| banks == ["shared"]);
    set_bank(&b, "shared", json!({"mode": "disabled"}));
    let mode = within_2_s(&a, &h, |banks| banks.is_empty());
    eprintln!(
        "{}: disable via A seen on B after {} ms, enable via B on A after {} ms, bank mode \
         via B on A after {} ms",
        backend_name(),
        off.as_millis(),
        on.as_millis(),
        mode.as_millis()
    );
}

/// One request a receiver took.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver on 127.0.0.1 (real HTTP/1.1): answers its requests with `statuses` in
/// turn, then with the last one, and keeps what it received.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, statuses) = (Arc::clone(&seen), statuses.to_vec());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(received) = read_request(&mut stream) else {
                    continue;
                };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(received);
                    log.len()
                };
                let status = statuses[(n - 1).min(statuses.len() - 1)];
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, seen }
    }

    fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (at most `secs` seconds).
    fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries within {secs} s",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    assert!(line.starts_with("POST /hook "), "{line:?}");
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body })
}

/// Checks a delivery's signature as a receiver does: HMAC-SHA256 under the secret of the
/// timestamp header, a dot and the raw body, hex, after `sha256=`.
fn signed_by(r: &Received, secret: &str) -> bool {
    let timestamp = &r.headers["x-pixelprint-timestamp"];
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    r.headers["x-pixelprint-signature"] == format!("sha256={hex}")
}

/// Polls the deliveries in `status` until `check` holds on the listing; panics after 5 s.
fn wait_deliveries(s: &Server, status: &str, check: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let list = s
            .get_auth(
                &format!("/v1/webhooks/deliveries?status={status}"),
                ADMIN_KEY,
            )
            .json();
        if check(&list["deliveries"]) {
            return list;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{list}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Webhooks: a match is delivered signed; a 500 is retried with the same delivery id; a
/// receiver that never accepts gets the configured attempts and the delivery is dead-lettered,
/// visible to administrators. The anonymous answer says nothing of it.
#[test]
fn webhook_deliveries_are_signed_retried_and_dead_lettered() {
    let dir = TempDir::new("webhooks");
    let s = Server::start_ready(
        &dir.0,
        &[
            "--webhook-max-attempts",
            "3",
            "--webhook-backoff-ms",
            "200",
            "--webhook-poll-ms",
            "50",
            "--webhook-timeout-ms",
            "2000",
        ],
    );
    s.create_bank("live");
    s.create_bank("other");
    let (h, other_hash) = (pdq(51), pdq(52));
    let id = s.add("live", &[("pdq", &h)]).remove(0);
    let other_id = s.add("other", &[("pdq", &other_hash)]).remove(0);

    let flaky = Receiver::start(&[500, 200]);
    let secret = "a-secret-the-operator-chose";
    let r = s.admin(
        "/v1/banks/live/webhooks",
        &json!({"url": flaky.url, "secret": secret}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let hook = r.json();
    assert!(hook.get("secret").is_none(), "a given secret is not echoed");
    assert_eq!(hook["events"], json!(["match"]));
    let broken = Receiver::start(&[503]);
    let r = s.admin("/v1/banks/other/webhooks", &json!({"url": broken.url}));
    assert_eq!(r.status, 201, "{}", r.text());
    let generated = r.json()["secret"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 64, "a generated secret is shown once");
    let listed = s.get_auth("/v1/webhooks", ADMIN_KEY).text();
    assert!(
        !listed.contains(secret) && !listed.contains(&generated),
        "{listed}"
    );
    for bad in [
        json!({"url": "ftp://example.org/"}),
        json!({"url": flaky.url, "secret": "short"}),
        json!({"url": flaky.url, "events": ["tip"]}),
    ] {
        assert_eq!(
            s.admin("/v1/banks/live/webhooks", &bad).status,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        s.admin("/v1/banks/none/webhooks", &json!({"url": flaky.url}))
            .status,
        404
    );

    // Anonymous match: the answer is the verdict alone.
    let answer = s.match_anon(&json!({"items": [{"pdq": pdq(59)}, {"pdq": h}]}));
    assert_eq!(
        answer.json(),
        json!({"results": [{"item": 0, "match": false}, {"item": 1, "match": true}]})
    );
    let got = flaky.wait_for(2, 10);
    let (first, retry) = (&got[0], &got[1]);
    assert!(signed_by(first, secret) && signed_by(retry, secret));
    assert!(!signed_by(first, "another-secret-entirely"));
    let delivery = &first.headers["x-pixelprint-delivery"];
    assert_eq!(&retry.headers["x-pixelprint-delivery"], delivery);
    assert_eq!(first.body, retry.body);
    let payload: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(
        payload,
        json!({
            "bank": "live",
            "caller": "anonymous",
            "created_at": payload["created_at"],
            "event": "match",
            "id": delivery,
            "matches": [{"algorithm": "pdq", "distance": 0, "entry_id": id, "item": 1}],
            "webhook_id": hook["id"],
        })
    );
    assert!(payload["created_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(!String::from_utf8_lossy(&first.body).contains(&h));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(flaky.received().len(), 2, "delivered once accepted");

    // Keyed match in the other bank: three attempts, all refused, then dead-lettered.
    s.match_items(json!({"items": [{"pdq": other_hash}]}));
    let got = broken.wait_for(3, 15);
    assert!(got.iter().all(|r| signed_by(r, &generated)));
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers["x-pixelprint-delivery"].clone())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let dead = wait_deliveries(&s, "dead", |d| !d.as_array().unwrap().is_empty());
    assert_eq!(
        dead,
        s.get_auth("/v1/webhooks/deliveries", ADMIN_KEY).json()
    );
    let d = &dead["deliveries"][0];
    assert_eq!(dead["deliveries"].as_array().unwrap().len(), 1, "{dead}");
    assert_eq!(d["id"], ids[0].as_str());
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["status"], "dead");
    assert!(d["last_error"].as_str().unwrap().contains("503"), "{d}");
    assert_eq!(d["payload"]["caller"], "keyed");
    assert_eq!(d["payload"]["matches"][0]["entry_id"], other_id);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(broken.received().len(), 3, "no attempt after the last");
    let delivered = s
        .get_auth("/v1/webhooks/deliveries?status=delivered", ADMIN_KEY)
        .json();
    assert_eq!(delivered["deliveries"][0]["attempts"], 2, "{delivered}");
    assert_eq!(s.metric("pixelprint_webhook_deliveries_dead_total"), 1);
    assert_eq!(s.metric("pixelprint_webhook_deliveries_delivered_total"), 1);
    assert_eq!(s.get("/v1/webhooks/deliveries").status, 401, "admins only");
}

/// A delivery queued before a `kill -9` is sent by the restarted server, with the same id: the
/// queue is a table, not memory.
#[test]
fn a_pending_delivery_survives_kill_9() {
    let dir = TempDir::new("durable");
    // The retry is due 3 s after the first attempt: the server is killed before that.
    let flags = ["--webhook-backoff-ms", "3000", "--webhook-poll-ms", "50"];
    let s = Server::start_ready(&dir.0, &flags);
    s.create_bank("b");
    let h = pdq(61);
    s.add("b", &[("pdq", &h)]);
    let receiver = Receiver::start(&[500, 200]);
    let secret = "durable-secret-0123456789";
    let r = s.admin(
        "/v1/banks/b/webhooks",
        &json!({"url": receiver.url, "secret": secret}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(anonymous_match(&s, &h));
    let first = receiver.wait_for(1, 10).remove(0);
    // Killed once the failed attempt is recorded (else the claim's lease, 3 s here, delays it).
    wait_deliveries(&s, "pending", |d| d[0]["attempts"] == 1);
    s.kill9();
    assert_eq!(receiver.received().len(), 1);
    let s = Server::start_ready(&dir.0, &flags);
    let got = receiver.wait_for(2, 15);
    assert!(signed_by(&got[1], secret));
    assert_eq!(
        got[1].headers["x-pixelprint-delivery"],
        first.headers["x-pixelprint-delivery"]
    );
    wait_deliveries(&s, "delivered", |d| d[0]["attempts"] == 2);
}
