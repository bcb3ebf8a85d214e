//! The server binary against hostile or careless HTTP clients, over real sockets: slow heads and
//! bodies, idle and surplus connections, bodies sent without a key or as another media type,
//! text a database cannot store, caching, secrets in help and logs, file permissions, and
//! shutdown on a signal with a request in flight.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{backend_name, pdq, Server, TempDir, ADMIN_KEY, MANY_TIPS};
use serde_json::{json, Value};

fn connect(s: &Server) -> TcpStream {
    let stream = TcpStream::connect(&s.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// What the server sent until it closed the connection, or `None` if it did not close it
/// within the stream's read timeout.
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Option<Instant>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Some(Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, None)
            }
            // Reset by the server: closed too.
            Err(_) => return (got, Some(Instant::now())),
        }
    }
}

/// The status code of a raw response.
fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Writes `bytes` one at a time, `every` apart, until done, a write fails or `stop` is set.
fn trickle(
    mut stream: TcpStream,
    bytes: Vec<u8>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for b in bytes {
            if stop.load(Ordering::SeqCst) || stream.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
    })
}

fn tip() -> Value {
    json!({"items": [{"pdq": pdq(7), "pdq_quality": 90}], "category": "harassment",
           "description": "seen on a forum"})
}

fn post(
    s: &Server,
    path: &str,
    content_type: Option<&str>,
    key: Option<&str>,
    body: &[u8],
) -> common::Response {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = Vec::new();
    if let Some(t) = content_type {
        headers.push(("content-type", t));
    }
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    s.request("POST", path, &headers, body)
}

/// Sends `head`, then `rest` a byte every 500 ms; what the server answered and the seconds from
/// the head until it closed the connection (fails if it does not within 15 s).
fn send_slowly(s: &Server, head: &[u8], rest: &[u8]) -> (Vec<u8>, f64) {
    let mut stream = connect(s);
    stream.write_all(head).unwrap();
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = trickle(
        stream.try_clone().unwrap(),
        rest.to_vec(),
        Duration::from_millis(500),
        Arc::clone(&stop),
    );
    let (raw, closed) = read_until_closed(&mut stream);
    stop.store(true, Ordering::SeqCst);
    let _ = sender.join();
    let closed = closed.expect("the server closes a slow client's connection within 15 s");
    (raw, closed.duration_since(start).as_secs_f64())
}

/// An anonymous POST of `body` as `application/json`.
fn post_text(s: &Server, path: &str, body: &str) -> common::Response {
    post(s, path, Some("application/json"), None, body.as_bytes())
}

#[test]
fn a_body_sent_byte_by_byte_is_cut_off_at_the_body_timeout() {
    let dir = TempDir::new("slow-body");
    let s = Server::start_ready(&dir.0, &["--body-timeout-secs", "2"]);
    let body = tip().to_string();
    let head = format!(
        "POST /v1/tips HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (raw, secs) = send_slowly(&s, head.as_bytes(), body.as_bytes());
    eprintln!("slow body: answered and closed after {secs:.2} s (body timeout 2 s)");
    assert_eq!(
        status_of(&raw),
        Some(408),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!((1.5..5.0).contains(&secs), "closed after {secs:.2} s");
}

#[test]
fn a_head_sent_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let dir = TempDir::new("slow-head");
    let s = Server::start_ready(&dir.0, &["--header-timeout-secs", "2"]);
    let (_, secs) = send_slowly(
        &s,
        b"GET /healthz HTTP/1.1\r\n",
        b"x-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
    );
    eprintln!("slow head: closed after {secs:.2} s (header timeout 2 s)");
    assert!((1.5..5.0).contains(&secs), "closed after {secs:.2} s");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let dir = TempDir::new("idle");
    let s = Server::start_ready(&dir.0, &["--header-timeout-secs", "2"]);
    let mut stream = connect(&s);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    // The answer is small: one read takes it; the connection stays open for the next request.
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).unwrap();
    assert_eq!(status_of(&buf[..n]), Some(200));
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream);
    let closed = closed.expect("the server closes an idle keep-alive connection");
    let secs = closed.duration_since(answered).as_secs_f64();
    eprintln!("idle keep-alive connection: closed {secs:.2} s after its answer");
    assert!(secs < 5.0, "closed after {secs:.2} s");
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let dir = TempDir::new("cap");
    let s = Server::start_ready(&dir.0, &["--max-connections", "3"]);
    let idle: Vec<TcpStream> = (0..3).map(|_| connect(&s)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = connect(&s);
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    fourth
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 1024];
    match fourth.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a fourth connection was served past a cap of 3: {other:?}"),
    }
    drop(idle);
    fourth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (raw, _) = read_until_closed(&mut fourth);
    assert_eq!(
        status_of(&raw),
        Some(200),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn admin_routes_refuse_a_request_without_a_key_before_reading_its_body() {
    let dir = TempDir::new("key-first");
    let s = Server::start_ready(&dir.0, &[]);
    // A body with an unknown field: not parsed, so not named.
    let r = post(
        &s,
        "/v1/banks",
        Some("application/json"),
        None,
        br#"{"nme": "x"}"#,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(!r.text().contains("nme"), "{}", r.text());
    let r = post(
        &s,
        "/v1/keys",
        Some("application/json"),
        Some("wrong"),
        b"{bad",
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // A body that never comes: the answer does not wait for it.
    let mut stream = connect(&s);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"POST /v1/banks HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).expect("an answer before the body");
    assert_eq!(status_of(&buf[..n]), Some(401));
}

#[test]
fn json_routes_take_only_application_json_and_nothing_after_the_value() {
    let dir = TempDir::new("strict-json");
    let s = Server::start_ready(&dir.0, &[]);
    let tip = tip().to_string();
    // What a cross-site form can send without a preflight, and no type at all.
    for t in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some("application/json; charset=latin1"),
        None,
    ] {
        let r = post(&s, "/v1/tips", t, None, tip.as_bytes());
        assert_eq!(r.status, 415, "{t:?}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "unsupported_media_type");
    }
    let items = json!({"items": [{"pdq": pdq(1)}]}).to_string();
    let r = post(
        &s,
        "/v1/match",
        Some("application/x-www-form-urlencoded"),
        None,
        items.as_bytes(),
    );
    assert_eq!(r.status, 415, "{}", r.text());
    let r = post(
        &s,
        "/v1/tips",
        Some("Application/JSON; charset=UTF-8"),
        None,
        tip.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Only whitespace after the value.
    for trailing in [" {}", "x", "]", "\n{\"items\": []}"] {
        let body = format!("{tip}{trailing}");
        let r = post_text(&s, "/v1/tips", &body);
        assert_eq!(r.status, 400, "{trailing:?}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "malformed_json");
        let body = format!("{items}{trailing}");
        let r = post_text(&s, "/v1/match", &body);
        assert_eq!(r.status, 400, "{trailing:?}: {}", r.text());
    }
    let body = format!("{tip} \r\n\t ");
    let r = post_text(&s, "/v1/tips", &body);
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn text_a_database_cannot_store_is_refused_naming_the_field() {
    let dir = TempDir::new("nul");
    let s = Server::start_ready(&dir.0, &[]);
    s.create_bank("a");
    let nul = "before\u{0}after";
    let check = |r: common::Response, field: &str, item: Option<u64>| {
        assert_eq!(
            r.status,
            400,
            "{} ({}): {}",
            field,
            backend_name(),
            r.text()
        );
        let error = &r.json()["error"];
        assert_eq!(error["code"], "invalid_text", "{error}");
        assert_eq!(error["field"], field, "{error}");
        assert_eq!(error["item"].as_u64(), item, "{error}");
    };
    let mut t = tip();
    t["description"] = json!(nul);
    check(s.post_json("/v1/tips", &t), "description", None);
    let mut t = tip();
    t["contact"] = json!(nul);
    check(s.post_json("/v1/tips", &t), "contact", None);
    check(
        s.admin("/v1/banks", &json!({"name": "b", "description": nul})),
        "description",
        None,
    );
    check(
        s.admin(
            "/v1/banks/a/entries",
            &json!({"entries": [{"algorithm": "pdq", "hash": pdq(1)},
                                {"algorithm": "pdq", "hash": pdq(2), "metadata": nul}]}),
        ),
        "metadata",
        Some(1),
    );
    check(
        s.admin("/v1/keys", &json!({"scopes": ["match"], "label": nul})),
        "label",
        None,
    );
    // Nothing was stored, and the same requests without the character succeed.
    let mut t = tip();
    t["contact"] = json!("before after");
    assert_eq!(s.post_json("/v1/tips", &t).status, 201);
    let r = s.get_auth("/v1/tips", ADMIN_KEY).json();
    assert_eq!(r["tips"].as_array().unwrap().len(), 1, "{r}");
}

#[test]
fn v1_answers_are_not_stored_by_caches_but_pages_are_revalidated() {
    let dir = TempDir::new("no-store");
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    let www = www.to_str().unwrap().to_string();
    let s = Server::start_ready(&dir.0, &["--www", &www]);
    let answers = [
        s.get("/v1/tips/categories"),
        s.get("/v1/openapi.json"),
        s.get("/v1/tips"),
        s.get_auth("/v1/banks", ADMIN_KEY),
        s.post_json("/v1/match", &json!({"items": [{"pdq": "zz"}]})),
    ];
    for r in &answers {
        assert_eq!(
            r.header("cache-control"),
            Some("no-store"),
            "{} {}",
            r.status,
            r.text()
        );
    }
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-cache"));
}

#[test]
fn help_and_logs_do_not_show_secrets() {
    let password = "hunter2-not-for-eyes";
    let url = format!("postgres://pixelprint:{password}@127.0.0.1:1/pixelprint");
    let key = "an-admin-key-that-must-stay-secret-0123456789";
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pixelprint-server"))
        .arg("--help")
        .env("PIXELPRINT_DATABASE_URL", &url)
        .env("PIXELPRINT_ADMIN_KEY", key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("PIXELPRINT_DATABASE_URL"), "{text}");
    assert!(!text.contains(password), "{text}");
    assert!(!text.contains(key), "{text}");
    // A database that cannot be reached: the error names it without its password.
    let dir = TempDir::new("secrets");
    let failed = std::process::Command::new(env!("CARGO_BIN_EXE_pixelprint-server"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .env("PIXELPRINT_DATABASE_URL", &url)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(!err.is_empty());
    assert!(!err.contains(password), "{err}");
    // Keys used in requests do not reach the log, at the most verbose level.
    let s = Server::start_with_env(&dir.0, "127.0.0.1:0", &[], &[("RUST_LOG", "trace")]);
    s.wait_ready();
    let made = s.admin("/v1/keys", &json!({"scopes": ["match"]}));
    assert_eq!(made.status, 201);
    let made = made.json()["key"].as_str().unwrap().to_string();
    assert_eq!(s.get_auth("/v1/banks", &made).status, 403);
    assert_eq!(s.get_auth("/v1/banks", "a-wrong-key-to-hide").status, 401);
    let log = s.log();
    for secret in [ADMIN_KEY, made.as_str(), "a-wrong-key-to-hide"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    if backend_name() != "sqlite" {
        return; // no files: the database is PostgreSQL's
    }
    let dir = TempDir::new("modes");
    let data = dir.0.join("data");
    let s = Server::start_ready(&data, &[]);
    s.create_bank("a");
    s.add("a", &[("pdq", &pdq(1))]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    let mut files = 0;
    for name in ["pixelprint.db", "pixelprint.db-wal", "pixelprint.db-shm"] {
        let path = data.join(name);
        if path.exists() {
            files += 1;
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert!(files >= 1);
}

/// Starts a match whose body is half sent, signals the server, sends the rest: the answer
/// comes, the process exits 0, no new connection is taken, and nothing panicked.
fn finish_in_flight_request_after(signal: &str) {
    let dir = TempDir::new("drain");
    let mut s = Server::start_ready(&dir.0, &["--drain-secs", "10"]);
    let body = json!({"items": [{"pdq": pdq(1)}]}).to_string();
    let mut stream = connect(&s);
    let head = format!(
        "POST /v1/match HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.signal(signal);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        TcpStream::connect(&s.addr).is_err(),
        "a new connection was accepted after SIG{signal}"
    );
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let (raw, _) = read_until_closed(&mut stream);
    assert_eq!(
        status_of(&raw),
        Some(200),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits");
    assert!(status.success(), "{status:?}");
    let log = s.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    finish_in_flight_request_after("TERM");
}

#[test]
fn ctrl_c_lets_the_request_in_flight_finish_and_exits_0() {
    finish_in_flight_request_after("INT");
}

#[test]
fn static_files_hide_node_modules_and_dot_files_however_the_path_is_encoded() {
    let dir = TempDir::new("static");
    let www = dir.0.join("www");
    std::fs::create_dir_all(www.join("node_modules/dep")).unwrap();
    std::fs::create_dir_all(www.join(".git")).unwrap();
    std::fs::create_dir_all(www.join("lib")).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(www.join("lib/page.js"), "export {};").unwrap();
    std::fs::write(www.join("node_modules/dep/index.js"), "secret dependency").unwrap();
    std::fs::write(www.join(".git/config"), "secret config").unwrap();
    std::fs::write(www.join(".env"), "SECRET=1").unwrap();
    let www = www.to_str().unwrap().to_string();
    let mount = format!("/package={www}");
    let s = Server::start_ready(&dir.0, &["--www", &www, "--mount", &mount]);
    assert_eq!(s.get("/index.html").status, 200);
    assert_eq!(s.get("/lib/page.js").status, 200);
    assert_eq!(s.get("/package/lib/page.js").status, 200);
    assert_eq!(
        s.get("/%6cib/page.js").status,
        200,
        "an encoded page is still served"
    );
    for path in [
        "/node_modules/dep/index.js",
        "/node%5fmodules/dep/index.js",
        "/%6eode_modules/dep/index.js",
        "/NODE_MODULES/dep/index.js",
        "/package/node%5Fmodules/dep/index.js",
        "/.git/config",
        "/%2egit/config",
        "/.env",
        "/package/%2eenv",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("secret"), "{path}");
    }
}

#[test]
fn keys_are_listed_by_id_and_revoked_and_the_list_shows_no_secret() {
    let dir = TempDir::new("keys");
    let s = Server::start_ready(&dir.0, &[]);
    let r = s.admin(
        "/v1/keys",
        &json!({"scopes": ["admin"], "label": "ops", "expires_in_days": 30}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let made = r.json();
    let key = made["key"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{made}");
    assert!(made["expires_at"].is_string(), "{made}");
    let list = s.get_auth("/v1/keys", &key);
    assert_eq!(list.status, 200, "{}", list.text());
    let text = list.text();
    assert!(!text.contains(&key), "{text}");
    let keys = list.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "{text}");
    let ours = keys.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert_eq!(ours["label"], "ops");
    assert_eq!(ours["scopes"], json!(["admin"]));
    assert_eq!(ours["revoked_at"], Value::Null);
    assert_eq!(ours["expires_at"], made["expires_at"]);
    let fields: Vec<&String> = ours.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "expires_at",
            "id",
            "label",
            "revoked_at",
            "scopes"
        ]
    );
    // Nothing as long as a whole SHA-256 (64 hex digits) is sent.
    let longest_hex = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap();
    assert!(longest_hex < 64, "{text}");
    assert_eq!(s.get("/v1/keys").status, 401);
    let auth = format!("Bearer {ADMIN_KEY}");
    let delete = |id: &str| {
        s.request(
            "DELETE",
            &format!("/v1/keys/{id}"),
            &[("authorization", &auth)],
            b"",
        )
        .status
    };
    assert_eq!(delete(&id), 204);
    assert_eq!(s.get_auth("/v1/banks", &key).status, 401);
    assert_eq!(delete(&id), 404);
    assert_eq!(delete("not-a-key-id"), 404);
    let revoked = s.get_auth("/v1/keys", ADMIN_KEY).json();
    let ours = revoked["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert!(ours["revoked_at"].is_string(), "{ours}");
    for days in [0, 3651] {
        let r = s.admin(
            "/v1/keys",
            &json!({"scopes": ["match"], "expires_in_days": days}),
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["field"], "expires_in_days");
    }
}

#[test]
fn a_short_admin_key_is_refused_at_start() {
    let dir = TempDir::new("short-key");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pixelprint-server"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .args(["--admin-key", "short-key-of-31-characters-0123"])
        .env_remove("PIXELPRINT_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 32"), "{err}");
    assert!(!err.contains("short-key-of"), "{err}");
}

#[test]
fn an_earlier_admin_key_is_no_longer_accepted_after_rotation() {
    let dir = TempDir::new("rotate");
    let s = Server::start_ready(&dir.0, &[]);
    let made = s.admin("/v1/keys", &json!({"scopes": ["match"]})).json();
    let made = made["key"].as_str().unwrap().to_string();
    drop(s);
    let rotated = "a-rotated-admin-key-0123456789abcdef";
    let s = Server::start_ready(&dir.0, &["--admin-key", rotated]);
    assert_eq!(s.get_auth("/v1/banks", ADMIN_KEY).status, 401);
    assert_eq!(s.get_auth("/v1/banks", rotated).status, 200);
    // Keys made through the API stay.
    assert_eq!(s.get_auth("/v1/banks", &made).status, 403);
    drop(s);
    // Back to the first key: accepted again, the rotated one no longer.
    let s = Server::start_ready(&dir.0, &[]);
    assert_eq!(s.get_auth("/v1/banks", ADMIN_KEY).status, 200);
    assert_eq!(s.get_auth("/v1/banks", rotated).status, 401);
}

#[test]
fn metrics_read_the_index_at_most_once_an_interval_and_can_require_a_key() {
    let dir = TempDir::new("metrics");
    let s = Server::start_ready(&dir.0, &["--metrics-interval-ms", "60000"]);
    for _ in 0..20 {
        assert_eq!(s.get("/metrics").status, 200);
    }
    // Counters stay live; the index was walked once for twenty scrapes.
    assert_eq!(s.metric("pixelprint_metrics_index_reads_total"), 1);
    let before = s.metric("pixelprint_http_requests_total");
    assert_eq!(s.metric("pixelprint_http_requests_total"), before + 1);
    drop(s);

    let s = Server::start_ready(&dir.0, &["--require-metrics-key"]);
    assert_eq!(s.get("/metrics").status, 401);
    let r = s.admin("/v1/keys", &json!({"scopes": ["match"]})).json();
    assert_eq!(
        s.get_auth("/metrics", r["key"].as_str().unwrap()).status,
        403
    );
    let r = s.admin("/v1/keys", &json!({"scopes": ["metrics"]})).json();
    let key = r["key"].as_str().unwrap();
    let text = s.get_auth("/metrics", key).text();
    assert!(text.contains("pixelprint_index_entries"), "{text}");
    assert_eq!(s.get_auth("/metrics", ADMIN_KEY).status, 200);
    // A metrics key is no admin key.
    assert_eq!(s.get_auth("/v1/banks", key).status, 403);
}

#[test]
fn tips_and_exports_come_in_pages_with_a_next_cursor() {
    let dir = TempDir::new("pages");
    let s = Server::start_ready(&dir.0, MANY_TIPS);
    for _ in 0..5 {
        assert_eq!(s.post_json("/v1/tips", &tip()).status, 201);
    }
    let all = s.get_auth("/v1/tips", ADMIN_KEY).json();
    assert_eq!(all["next"], Value::Null);
    let want: Vec<Value> = all["tips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tip_id"].clone())
        .collect();
    assert_eq!(want.len(), 5);
    let mut got = Vec::new();
    let mut path = "/v1/tips?limit=2".to_string();
    loop {
        let page = s.get_auth(&path, ADMIN_KEY).json();
        let tips = page["tips"].as_array().unwrap();
        assert!(tips.len() <= 2, "{page}");
        got.extend(tips.iter().map(|t| t["tip_id"].clone()));
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/tips?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(got, want);
    for bad in ["limit=0", "limit=1001", "after=nonsense", "after=1.zz"] {
        let r = s.get_auth(&format!("/v1/tips?{bad}"), ADMIN_KEY);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }

    s.create_bank("a");
    let hashes: Vec<(String, String)> = (0..5).map(|i| ("pdq".to_string(), pdq(100 + i))).collect();
    let refs: Vec<(&str, &str)> = hashes
        .iter()
        .map(|(a, h)| (a.as_str(), h.as_str()))
        .collect();
    s.add("a", &refs);
    let full = s.get_auth("/v1/banks/a/export", ADMIN_KEY);
    assert_eq!(full.header("pixelprint-next-after"), None);
    let mut lines = String::new();
    let mut path = "/v1/banks/a/export?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = s.get_auth(&path, ADMIN_KEY);
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.text().lines().count() <= 2);
        lines.push_str(&page.text());
        pages += 1;
        match page.header("pixelprint-next-after") {
            Some(next) => path = format!("/v1/banks/a/export?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(lines, full.text());
    assert_eq!(
        s.get_auth("/v1/banks/a/export?limit=0", ADMIN_KEY).status,
        400
    );
}
