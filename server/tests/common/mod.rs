//! The real server binary on 127.0.0.1 (a free port, a temporary data directory) and a small
//! HTTP/1.1 client over `std::net::TcpStream`: real sockets, real requests, nothing mocked.
//!
//! Storage: SQLite under the data directory by default. With `PIXELPRINT_TEST_DATABASE_URL` set
//! (a PostgreSQL URL whose role may create databases; `scripts/postgres.sh` prints one), every
//! data directory gets its own PostgreSQL database instead, created on first use and dropped
//! with the directory: the same tests then run against a real PostgreSQL, and two servers
//! started on one data directory share one database, as replicas do.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123456789";

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

/// Flags for a server whose test files more tips from one address than the anonymous tip quota
/// (`--tips-per-hour`, `--daily-tips`) allows.
#[allow(dead_code)]
pub const MANY_TIPS: &[&str] = &["--tips-per-hour", "1000", "--daily-tips", "1000"];

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "pixelprint-server-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(base) = postgres_base_url() {
            for name in take_databases_under(&self.0) {
                let mut admin = postgres::Client::connect(&base, postgres::NoTls)
                    .expect("connect to PostgreSQL");
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL URL the tests run against, if any.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("PIXELPRINT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The storage the tests run against, for messages.
pub fn backend_name() -> &'static str {
    if postgres_base_url().is_some() {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// Databases created for data directories, to drop with them.
static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());

fn take_databases_under(dir: &Path) -> Vec<String> {
    let mut all = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    let (under, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(p, _)| p.starts_with(dir));
    *all = rest;
    under.into_iter().map(|(_, name)| name).collect()
}

/// The URL of the database for `data_dir` under `base`, creating the database on first use.
fn database_for(base: &str, data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    let name = format!("pixelprint_test_{:016x}", h.finish());
    let mut all = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|(_, n)| *n == name) {
        let mut admin =
            postgres::Client::connect(base, postgres::NoTls).expect("connect to PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        all.push((data_dir.to_path_buf(), name.clone()));
    }
    let (url, query) = base.split_once('?').unwrap_or((base, ""));
    let (prefix, _) = url
        .rsplit_once('/')
        .expect("a database URL ends with /DATABASE");
    if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    }
}

/// The PostgreSQL URL of the database that servers on `data_dir` use (`None` on SQLite).
pub fn database_url(data_dir: &Path) -> Option<String> {
    postgres_base_url().map(|base| database_for(&base, data_dir))
}

pub struct Server {
    child: Child,
    /// Where to connect: `127.0.0.1:PORT`.
    pub addr: String,
    /// What the server wrote to stderr so far (also passed on to the test's stderr).
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server on a free port with `data_dir` and the extra flags; waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_on(data_dir, "127.0.0.1:0", extra)
    }

    /// [`Server::start`] listening on `bind` (`[::]:0`: IPv6 and IPv4 through one socket).
    pub fn start_on(data_dir: &Path, bind: &str, extra: &[&str]) -> Server {
        Server::start_with_env(data_dir, bind, extra, &[("RUST_LOG", "warn")])
    }

    /// [`Server::start_on`] with environment variables (`RUST_LOG` is `warn` unless given).
    pub fn start_with_env(
        data_dir: &Path,
        bind: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pixelprint-server"));
        command.args(["--bind", bind, "--data-dir"]).arg(data_dir);
        if let Some(base) = postgres_base_url() {
            command.args(["--database-url", &database_for(&base, data_dir)]);
        }
        if !extra.contains(&"--admin-key") {
            command.args(["--admin-key", ADMIN_KEY]);
        }
        let mut child = command
            .args(["--poll-ms", "200"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .env_remove("PIXELPRINT_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pixelprint-server");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address within 30 s");
        let local: SocketAddr = line
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let addr = format!("127.0.0.1:{}", local.port());
        Server { child, addr, log }
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The log once a line of it satisfies `found`, waiting up to 10 s for the server's stderr
    /// to be read (it is read by another thread as it comes); the log as it is after that.
    pub fn wait_log(&self, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.lines().any(&found) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts and waits for /readyz to answer 200.
    pub fn start_ready(data_dir: &Path, extra: &[&str]) -> Server {
        let s = Server::start(data_dir, extra);
        s.wait_ready();
        s
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.get("/readyz").status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("/readyz did not answer 200 within 30 s");
    }

    /// Sends `signal` (`TERM`, `INT`) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit; its status, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                // Let the stderr reader take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill9(mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(&self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    pub fn get_auth(&self, path: &str, key: &str) -> Response {
        let auth = format!("Bearer {key}");
        self.request("GET", path, &[("authorization", &auth)], b"")
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    pub fn post_json_auth(&self, path: &str, key: &str, body: &Value) -> Response {
        let auth = format!("Bearer {key}");
        self.request(
            "POST",
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            body.to_string().as_bytes(),
        )
    }

    pub fn admin(&self, path: &str, body: &Value) -> Response {
        self.post_json_auth(path, ADMIN_KEY, body)
    }

    pub fn import(&self, bank: &str, query: &str, text: &str) -> Response {
        let auth = format!("Bearer {ADMIN_KEY}");
        self.request(
            "POST",
            &format!("/v1/banks/{bank}/import?{query}"),
            &[("content-type", "text/plain"), ("authorization", &auth)],
            text.as_bytes(),
        )
    }

    pub fn create_bank(&self, name: &str) {
        let r = self.admin("/v1/banks", &serde_json::json!({ "name": name }));
        assert_eq!(r.status, 201, "{}", r.text());
    }

    /// Adds entries; returns their ids.
    pub fn add(&self, bank: &str, entries: &[(&str, &str)]) -> Vec<String> {
        let entries: Vec<Value> = entries
            .iter()
            .map(|(a, h)| serde_json::json!({"algorithm": a, "hash": h}))
            .collect();
        let r = self.admin(
            &format!("/v1/banks/{bank}/entries"),
            &serde_json::json!({ "entries": entries }),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// Deletes an entry with the admin key; returns the status.
    pub fn delete_entry(&self, bank: &str, id: &str) -> u16 {
        let auth = format!("Bearer {ADMIN_KEY}");
        self.request(
            "DELETE",
            &format!("/v1/banks/{bank}/entries/{id}"),
            &[("authorization", &auth)],
            b"",
        )
        .status
    }

    /// Matches with a key (the admin key has the `match` scope): the detailed answer.
    pub fn match_items(&self, body: Value) -> Value {
        let r = self.post_json_auth("/v1/match", ADMIN_KEY, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Matches without a key, from the loopback address `source` (`127.0.0.2`, ...: another
    /// client), with extra headers.
    pub fn match_from(&self, source: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let source: IpAddr = source.parse().unwrap();
        // An IPv6 client reaches a server listening on `[::]` at `[::1]`.
        let to = match source {
            IpAddr::V4(_) => self.addr.clone(),
            IpAddr::V6(_) => self.addr.replacen("127.0.0.1", "[::1]", 1),
        };
        request_from(
            Some(source),
            &to,
            "POST",
            "/v1/match",
            &all,
            body.to_string().as_bytes(),
        )
    }

    /// Matches without a key from 127.0.0.1.
    pub fn match_anon(&self, body: &Value) -> Response {
        self.post_json("/v1/match", body)
    }

    /// A counter or gauge of `/metrics` (without labels).
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.get("/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    request_from(None, addr, method, path, headers, body)
}

/// [`request`] from the local address `source` when given (any address of 127.0.0.0/8 is the
/// loopback's, so each is another client to the server).
pub fn request_from(
    source: Option<IpAddr>,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = match source {
        None => TcpStream::connect(addr).expect("connect"),
        Some(ip) => {
            let to: SocketAddr = addr.parse().expect("a socket address");
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(to),
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            socket
                .bind(&SocketAddr::new(ip, 0).into())
                .expect("bind the source address");
            socket.connect(&to.into()).expect("connect");
            socket.into()
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading the whole body and close: that is fine.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let mut reader = BufReader::new(stream);
    let _ = reader.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = std::str::from_utf8(&data[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

/// Pseudo-random hex of `bytes` bytes from a seed (xorshift): different seeds are far apart.
pub fn random_hex(seed: u64, bytes: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:02x}", (x >> 24) as u8)
        })
        .collect()
}

/// A PDQ hash (hex) from a seed.
pub fn pdq(seed: u64) -> String {
    random_hex(seed, 32)
}

/// Hamming distance of two hex strings.
pub fn distance(a: &str, b: &str) -> u32 {
    a.chars()
        .zip(b.chars())
        .map(|(x, y)| (x.to_digit(16).unwrap() ^ y.to_digit(16).unwrap()).count_ones())
        .sum()
}

/// The hash with the bits at `positions` flipped (bit `k` is bit `k % 8` of byte `k / 8`).
pub fn flip_at(hex: &str, positions: &[usize]) -> String {
    let mut bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    for &b in positions {
        bytes[b / 8] ^= 1 << (b % 8);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash with its first `bits` bits flipped.
pub fn flip(hex: &str, bits: usize) -> String {
    flip_at(hex, &(0..bits).collect::<Vec<_>>())
}
