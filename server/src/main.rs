//! `pixelprint-server`: the matching server. Answers "is this hash on a list?", takes anonymous
//! tips, lets administrators manage banks, and serves the browser pages (`www/site`) and the npm
//! package they import (`www/package`).
//!
//! See `docs/api.md` for the HTTP API and `/v1/openapi.json` for its OpenAPI document.

#![forbid(unsafe_code)]

mod auth;
mod catalog;
mod error;
mod exchange;
mod http;
mod import;
mod matching;
mod model;
mod nearmiss;
mod ratelimit;
mod serve;
mod sources;
mod state;
mod storage;
mod sync;
mod thresholds;
mod time;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use auth::sha256_hex;
use nearmiss::NearMissWatch;
use pixelprint::Algorithm;
use ratelimit::{Cidr, ItemQuota, RateLimiter};
use state::{AppState, Guards, Limits};
use storage::{Postgres, Sqlite, Storage};
use time::now_unix;

/// The registry's match thresholds, the largest a request may use unless configured.
const DEFAULT_PDQ_THRESHOLD: u32 = registry_threshold(Algorithm::Pdq);
const DEFAULT_H64_THRESHOLD: u32 = registry_threshold(Algorithm::PHash);

/// `a`'s default match threshold (evaluated at compile time: a registry row without one fails
/// the build).
const fn registry_threshold(a: Algorithm) -> u32 {
    match a.match_threshold() {
        Some(t) => t,
        None => panic!("a perceptual algorithm has a threshold"),
    }
}

/// Delta size that triggers a rebuild before --rebuild-secs are up.
const REBUILD_MIN_DELTA: usize = 1000;

/// The pages' Content-Security-Policy (docs/api.md), sent with every answer. Its one source: the
/// pages' tests read the same file; the pages carry no copy of it.
const CSP: &str = include_str!("../../www/site/csp.txt");

#[derive(Parser, Debug)]
#[command(
    name = "pixelprint-server",
    version,
    about = "pixelprint matching server"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Directory for the SQLite database (created if missing).
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` (default: pixelprint.db under --data-dir) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`, which several server processes can share.
    #[arg(long, env = "PIXELPRINT_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Read-only database connections beside the one writer (SQLite and PostgreSQL): key
    /// checks, listings and the change-log poll read on them, so they never wait behind an
    /// import. On PostgreSQL each server process keeps this many connections open, plus the
    /// writer: mind the server's `max_connections` when running several processes.
    #[arg(long, env = "PIXELPRINT_DATABASE_READERS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    database_readers: u32,
    /// Serve this directory (the browser pages) at `/`.
    #[arg(long)]
    www: Option<PathBuf>,
    /// Also serve a directory under a URL path, `/PATH=DIR` (`/package=www/package`: the npm
    /// package the pages import). Repeatable.
    #[arg(long = "mount", value_name = "/PATH=DIR", value_parser = parse_mount)]
    mounts: Vec<(String, PathBuf)>,
    /// Seed a bank named `demo` (if missing) with the demo hashes.
    #[arg(long)]
    demo: bool,
    /// An API key with the admin scope, stored (hashed) at start if not stored yet.
    #[arg(long, env = "PIXELPRINT_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Require an API key with the `match` scope for /v1/match: no anonymous matching.
    #[arg(long, env = "PIXELPRINT_REQUIRE_MATCH_KEY")]
    require_match_key: bool,
    /// Require an API key with the `metrics` (or `admin`) scope for /metrics (open by default,
    /// for scrapers configured before this option).
    #[arg(long, env = "PIXELPRINT_REQUIRE_METRICS_KEY")]
    require_metrics_key: bool,
    /// Milliseconds /metrics reuses the index gauges it read (reading them walks every entry).
    #[arg(long, env = "PIXELPRINT_METRICS_INTERVAL_MS", default_value_t = 5000)]
    metrics_interval_ms: u64,
    /// Let anonymous match answers name CATEGORY for a match in bank BANK, `BANK=CATEGORY`
    /// (repeatable; the variable takes a comma-separated list). Banks not listed are never
    /// named to anonymous callers.
    #[arg(long = "public-category", value_name = "BANK=CATEGORY", value_parser = parse_public_category,
          env = "PIXELPRINT_PUBLIC_CATEGORIES", value_delimiter = ',')]
    public_categories: Vec<(String, String)>,
    /// Allowed CORS origin (repeatable); none by default.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Largest request body in bytes (import bodies: --import-limit).
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Largest tip body in bytes (`POST /v1/tips`).
    #[arg(long, default_value_t = 64 << 10)]
    tip_body_limit: usize,
    /// Largest import body in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    import_limit: usize,
    /// Most items in one /v1/match request.
    #[arg(long, default_value_t = 1000)]
    max_match_items: usize,
    /// Most close frame pairs (a query frame and a stored frame within the threshold) one vPDQ
    /// item may visit; above it the request is refused (422 `too_costly`).
    #[arg(long, default_value_t = 4_000_000)]
    vpdq_max_pairs: usize,
    /// The matching time one /v1/match request may take, in milliseconds; above it the request
    /// is answered 503 `busy` (checked between short steps of the vPDQ search).
    #[arg(long, default_value_t = 2000)]
    match_time_budget_ms: u64,
    /// Most vPDQ searches run at once (default: half the cores, at least one). A request with
    /// video items waits for a free slot; its time budget starts when it gets one.
    #[arg(long)]
    vpdq_concurrent: Option<usize>,
    /// How long a request with video items waits for a vPDQ search slot, in milliseconds,
    /// before it is answered 503 `busy`.
    #[arg(long, default_value_t = 10_000)]
    vpdq_queue_wait_ms: u64,
    /// Largest PDQ threshold a request may use.
    #[arg(long, default_value_t = DEFAULT_PDQ_THRESHOLD)]
    max_pdq_threshold: u32,
    /// Largest threshold for the 64-bit hashes.
    #[arg(long, default_value_t = DEFAULT_H64_THRESHOLD)]
    max_h64_threshold: u32,
    /// Most false hits per query a bank may be expected to give by a 64-bit hash (its measured
    /// false-positive rate per pair × its entries); a bank above that stops matching by it
    /// (docs/thresholds.md).
    #[arg(long, default_value_t = 1e-3, value_parser = parse_budget)]
    false_hit_budget: f64,
    /// Requests per second per client (an IPv4 address or an IPv6 /64) (0: no limit).
    #[arg(long, env = "PIXELPRINT_RATE_IP", default_value_t = 50.0)]
    rate_ip: f64,
    /// Burst per client.
    #[arg(long, env = "PIXELPRINT_BURST_IP", default_value_t = 200.0)]
    burst_ip: f64,
    /// Requests per second per API key (0: no limit).
    #[arg(long, env = "PIXELPRINT_RATE_KEY", default_value_t = 100.0)]
    rate_key: f64,
    /// Burst per API key.
    #[arg(long, env = "PIXELPRINT_BURST_KEY", default_value_t = 400.0)]
    burst_key: f64,
    /// Keyed match items per second per API key (0: no limit).
    #[arg(long, env = "PIXELPRINT_KEY_ITEM_RATE", default_value_t = 2000.0)]
    key_item_rate: f64,
    /// Keyed match items an API key may send at once (at least --max-match-items, or the
    /// largest requests are refused).
    #[arg(long, env = "PIXELPRINT_KEY_ITEM_BURST", default_value_t = 20_000.0)]
    key_item_burst: f64,
    /// A reverse proxy (an address or `ADDRESS/BITS`, repeatable; the variable takes a
    /// comma-separated list): for requests from it the client is the rightmost address of
    /// `X-Forwarded-For` that is not a trusted proxy. Without it the header is ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "PIXELPRINT_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<Cidr>,
    /// Tips a client may send per hour, at most that many at once (0: no limit).
    #[arg(long, env = "PIXELPRINT_TIPS_PER_HOUR", default_value_t = 4)]
    tips_per_hour: u64,
    /// Tips per client per day, refilled evenly over 24 h (0: no limit).
    #[arg(long, env = "PIXELPRINT_DAILY_TIPS", default_value_t = 10)]
    daily_tips: u64,
    /// Anonymous match items per second per client (0: no limit).
    #[arg(long, env = "PIXELPRINT_ANON_ITEM_RATE", default_value_t = 2.0)]
    anon_item_rate: f64,
    /// Anonymous match items a client may send at once (also the most items of one anonymous
    /// request).
    #[arg(long, env = "PIXELPRINT_ANON_ITEM_BURST", default_value_t = 100.0)]
    anon_item_burst: f64,
    /// Anonymous match items per client per day, refilled evenly over 24 h (0: no limit).
    #[arg(long, env = "PIXELPRINT_ANON_DAILY_ITEMS", default_value_t = 100)]
    anon_daily_items: u64,
    /// Anonymous match items per second per `Origin` of another site (0: no limit).
    #[arg(long, env = "PIXELPRINT_ORIGIN_ITEM_RATE", default_value_t = 20.0)]
    origin_item_rate: f64,
    /// Anonymous match items an `Origin` may send at once.
    #[arg(long, env = "PIXELPRINT_ORIGIN_ITEM_BURST", default_value_t = 1000.0)]
    origin_item_burst: f64,
    /// Match anonymous items by their 64-bit hashes (pHash, dHash, ...) too. Off by default:
    /// anonymous items are matched by PDQ (and its query variants), the digests and vPDQ only,
    /// because verdicts on a 64-bit hash let a client recover a stored one within the daily
    /// item budget (docs/threat-model.md). Keyed callers are always matched by every hash.
    #[arg(long, env = "PIXELPRINT_ANON_MATCH_64BIT")]
    anon_match_64bit: bool,
    /// Anonymous match items per `Origin` of another site per day (0: no limit).
    #[arg(long, env = "PIXELPRINT_ORIGIN_DAILY_ITEMS", default_value_t = 20_000)]
    origin_daily_items: u64,
    /// Near misses (anonymous items within twice the threshold of an entry, not matching) a
    /// client may send in a window before it is logged (0: not looked for).
    #[arg(long, env = "PIXELPRINT_NEAR_MISS_LIMIT", default_value_t = 20)]
    near_miss_limit: u64,
    /// The near-miss window, in seconds.
    #[arg(long, env = "PIXELPRINT_NEAR_MISS_WINDOW_SECS", default_value_t = 3600)]
    near_miss_window_secs: u64,
    /// Most records of one page of the StopNCII feed (`/v1/stopncii/FetchHashes`); a platform
    /// asking for more gets this many and a token for the next page.
    #[arg(long, env = "PIXELPRINT_EXCHANGE_PAGE_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    exchange_page_size: u32,
    /// Seconds after which a finished tip (rejected, withdrawn or closed; counted from its last
    /// change) loses its hashes and free text, and the feed's withdrawn records are removed
    /// (0: kept forever). Checked every minute, or every tenth of the period if shorter.
    #[arg(long, env = "PIXELPRINT_TIP_RETENTION_SECS", default_value_t = 0)]
    tip_retention_secs: u64,
    /// How often to read the change log written by other processes, in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// How often to fold the index deltas into new bases, in seconds.
    #[arg(long, default_value_t = 60)]
    rebuild_secs: u64,
    /// How often to look for bank sources due to be fetched, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    source_tick_ms: u64,
    /// How long a process holds a bank source it fetches without storing a page, in seconds
    /// (after a crash, another process or the restarted one resumes it after this).
    #[arg(long, default_value_t = 120)]
    source_lease_secs: u64,
    /// The first wait after a failed fetch, in seconds; doubled after each further failure.
    #[arg(long, default_value_t = 30)]
    source_backoff_secs: u64,
    /// The longest wait after failed fetches, and the wait after a refused credential, in
    /// seconds.
    #[arg(long, default_value_t = 3600)]
    source_backoff_max_secs: u64,
    /// Timeout of one request to an exchange, in seconds.
    #[arg(long, default_value_t = 60)]
    source_timeout_secs: u64,
    /// Seconds a client has to send a request's head; an idle keep-alive connection is closed
    /// after as long (slow-header clients hold no connection longer).
    #[arg(long, env = "PIXELPRINT_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body once the server starts reading it
    /// (408 after): a 64 MiB import needs about 18 Mbit/s at the default.
    #[arg(long, env = "PIXELPRINT_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_secs: u64,
    /// Most connections served at once; further ones wait, unaccepted, until one closes.
    #[arg(long, env = "PIXELPRINT_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C before the process exits.
    #[arg(long, env = "PIXELPRINT_DRAIN_SECS", default_value_t = 10)]
    drain_secs: u64,
    /// Wait this long before loading the index (to observe /readyz answering 503).
    #[arg(long, default_value_t = 0, hide = true)]
    load_delay_ms: u64,
    /// Attempts at a webhook delivery before it is dead-lettered.
    #[arg(long, env = "PIXELPRINT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    webhook_max_attempts: u32,
    /// Wait after a webhook delivery's first failed attempt, doubled after each further one (at
    /// most an hour).
    #[arg(long, env = "PIXELPRINT_WEBHOOK_BACKOFF_MS", default_value_t = 10_000)]
    webhook_backoff_ms: u64,
    /// Longest a webhook receiver may take to answer.
    #[arg(long, env = "PIXELPRINT_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// How often each process looks for due webhook deliveries.
    #[arg(long, default_value_t = 500)]
    webhook_poll_ms: u64,
}

fn open_storage(args: &Args) -> Result<Arc<dyn Storage>, String> {
    let readers = args.database_readers as usize;
    let path = match args.database_url.as_deref() {
        None => {
            private_dir(&args.data_dir)
                .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
            args.data_dir.join("pixelprint.db")
        }
        Some(url) if url.starts_with("sqlite://") => PathBuf::from(&url["sqlite://".len()..]),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let storage = Postgres::open(url, readers).map_err(|e| format!("PostgreSQL: {e}"))?;
            return Ok(Arc::new(storage));
        }
        Some(url) => {
            let scheme = url.split(':').next().unwrap_or("");
            return Err(format!(
                "database URL scheme {scheme:?} is not supported (sqlite:// or postgres://)"
            ));
        }
    };
    private_files(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let storage = Sqlite::open(&path, readers).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::new(storage))
}

/// Creates the data directory readable by its owner only (it holds tips and their contacts);
/// a directory that exists is left as its owner set it.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the SQLite database readable and writable by its owner only, whatever the umask:
/// creates it 0600 if missing, and narrows it and its journal files if they exist (SQLite gives
/// the `-wal` and `-shm` files it creates the database file's permissions).
fn private_files(db: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = std::path::Path::new(&name);
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

/// Fewest characters of `--admin-key`: 32 random hex digits are 128 bits.
const MIN_ADMIN_KEY_CHARS: usize = 32;

fn seed(storage: &dyn Storage, args: &Args) -> Result<(), String> {
    if let Some(key) = &args.admin_key {
        // The key given now replaces any an earlier --admin-key stored.
        let revoked = storage
            .set_flag_admin_key(&sha256_hex(key.as_bytes()), now_unix())
            .map_err(|e| e.to_string())?;
        if revoked > 0 {
            tracing::info!(revoked, "an earlier --admin-key is no longer accepted");
        }
    }
    if args.demo && !storage.bank_exists("demo").map_err(|e| e.to_string())? {
        storage
            .create_bank("demo", Some("demo hashes"))
            .map_err(|e| e.to_string())?;
        let list = import::parse_import(
            include_str!("../demo/demo-bank.txt"),
            import::ImportFormat::Auto,
            Algorithm::Pdq,
        );
        storage
            .add_entries("demo", &list.entries)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `--false-hit-budget`: a finite number >= 0.
fn parse_budget(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(b) if b.is_finite() && b >= 0.0 => Ok(b),
        _ => Err(format!("expected a number >= 0, found {arg:?}")),
    }
}

/// `BANK=CATEGORY` of `--public-category`: both in the bank names' alphabet.
fn parse_public_category(arg: &str) -> Result<(String, String), String> {
    let plain = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    match arg.split_once('=') {
        Some((bank, category)) if plain(bank) && plain(category) => {
            Ok((bank.to_string(), category.to_string()))
        }
        _ => Err(format!(
            "expected BANK=CATEGORY, each 1 to 64 characters of a-z, 0-9, _ and -, found {arg:?}"
        )),
    }
}

/// `/PATH=DIR` of `--mount`: PATH is one or more plain segments (letters, digits, `-_.`), so
/// that it is a literal route and cannot shadow another mount by a pattern.
fn parse_mount(arg: &str) -> Result<(String, PathBuf), String> {
    let (path, dir) = arg
        .split_once('=')
        .ok_or_else(|| format!("expected /PATH=DIR, found {arg:?}"))?;
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match path.strip_prefix('/') {
        Some(rest) if rest.split('/').all(plain) && !dir.is_empty() => {
            Ok((path.to_string(), PathBuf::from(dir)))
        }
        _ => Err(format!(
            "expected /PATH=DIR with PATH made of plain segments, found {arg:?}"
        )),
    }
}

/// Refuses paths into `node_modules` (dependencies, not pages) and hidden files or folders
/// (`.git`, `.env`), judged on the percent-decoded path that `ServeDir` opens: `%6eode_modules`
/// is `node_modules`. A path that does not decode to UTF-8 is refused too.
async fn static_guard(req: Request<axum::body::Body>, next: Next) -> Response {
    if hidden_static_path(req.uri().path()) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    next.run(req).await
}

fn hidden_static_path(raw: &str) -> bool {
    let Ok(path) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return true;
    };
    path.split(['/', '\\'])
        .any(|segment| segment.eq_ignore_ascii_case("node_modules") || segment.starts_with('.'))
}

fn main() {
    let args = Args::parse();
    // Logs go to stderr: stdout carries only the "listening on" line that scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pixelprint-server: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(run(args));
    // Background tasks (the index follower) end here; blocking storage calls get a moment.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Err(e) = result {
        eprintln!("pixelprint-server: {e}");
        std::process::exit(2);
    }
    tracing::info!("stopped");
}

async fn run(args: Args) -> Result<(), String> {
    if let Some(key) = &args.admin_key {
        let n = key.chars().count();
        if n < MIN_ADMIN_KEY_CHARS {
            return Err(format!(
                "--admin-key (PIXELPRINT_ADMIN_KEY) has {n} characters; it needs at least \
                 {MIN_ADMIN_KEY_CHARS} (e.g. `openssl rand -hex 32`)"
            ));
        }
    }
    // Storage calls block (the PostgreSQL client runs its own event loop): off the async threads.
    let (storage, args) = tokio::task::spawn_blocking(move || {
        let storage = open_storage(&args)?;
        seed(&*storage, &args)?;
        Ok::<_, String>((storage, args))
    })
    .await
    .map_err(|e| e.to_string())??;
    let limits = Limits {
        body_bytes: args.body_limit,
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        import_bytes: args.import_limit,
        tip_bytes: args.tip_body_limit,
        match_items: args.max_match_items,
        tip_items: 100,
        trusted_proxies: args.trusted_proxies.clone(),
        vpdq_max_pairs: args.vpdq_max_pairs,
        match_time_budget: Duration::from_millis(args.match_time_budget_ms),
        vpdq_concurrent: args.vpdq_concurrent.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        }),
        vpdq_queue_wait: Duration::from_millis(args.vpdq_queue_wait_ms),
        pdq_max_threshold: args.max_pdq_threshold,
        h64_max_threshold: args.max_h64_threshold,
        false_hit_budget: args.false_hit_budget,
        require_match_key: args.require_match_key,
        require_metrics_key: args.require_metrics_key,
        metrics_interval: Duration::from_millis(args.metrics_interval_ms),
        public_categories: args
            .public_categories
            .iter()
            .cloned()
            .collect::<HashMap<_, _>>(),
        anon_match_64bit: args.anon_match_64bit,
        exchange_page_size: args.exchange_page_size as usize,
    };
    let guards = Guards {
        ip: RateLimiter::new(args.rate_ip, args.burst_ip),
        key: RateLimiter::new(args.rate_key, args.burst_key),
        key_items: RateLimiter::new(args.key_item_rate, args.key_item_burst),
        items: ItemQuota {
            client: RateLimiter::new(args.anon_item_rate, args.anon_item_burst),
            client_daily: RateLimiter::daily(args.anon_daily_items),
            origin: RateLimiter::new(args.origin_item_rate, args.origin_item_burst),
            origin_daily: RateLimiter::daily(args.origin_daily_items),
        },
        tips: [
            RateLimiter::new(
                args.tips_per_hour as f64 / 3600.0,
                args.tips_per_hour as f64,
            ),
            RateLimiter::daily(args.daily_tips),
        ],
        near_miss: NearMissWatch::new(
            Duration::from_secs(args.near_miss_window_secs),
            args.near_miss_limit,
        ),
    };
    let state = AppState::new(storage, limits, guards);
    webhooks::spawn_worker(
        state.clone(),
        webhooks::WebhookConfig {
            max_attempts: args.webhook_max_attempts,
            backoff: Duration::from_millis(args.webhook_backoff_ms),
            timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
            poll: Duration::from_millis(args.webhook_poll_ms.max(1)),
        },
    )?;

    let mut app = http::routes(state.clone());
    if args.www.is_some() || !args.mounts.is_empty() {
        // The API's routes first; the files answer what they leave (a mount named like a route
        // cannot shadow it).
        let mut pages = axum::Router::new();
        for (i, (path, dir)) in args.mounts.iter().enumerate() {
            if args.mounts[..i].iter().any(|(p, _)| p == path) {
                return Err(format!("--mount {path} given twice"));
            }
            pages = pages.nest_service(path, ServeDir::new(dir));
        }
        if let Some(www) = &args.www {
            pages =
                pages.fallback_service(ServeDir::new(www).append_index_html_on_directories(true));
        }
        let pages = pages.layer(middleware::from_fn(static_guard)).layer(
            SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            ),
        );
        app = app.fallback_service(pages);
    }
    let csp = HeaderValue::from_str(CSP.trim_end())
        .map_err(|_| "www/site/csp.txt is not a valid header value".to_string())?;
    app = app
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if !args.cors_origins.is_empty() {
        let origins = args
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| format!("invalid --cors-origin {o:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::PATCH,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
                .expose_headers([HeaderName::from_static("retry-after")]),
        );
    }

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find the port when binding port 0.
    println!("listening on http://{local}");
    tracing::info!(%local, "listening");

    if args.tip_retention_secs > 0 {
        tokio::spawn(retention(state.clone(), args.tip_retention_secs));
    }

    // Load in the background: /readyz answers 503 until the index is built.
    let loader = state.clone();
    let delay = Duration::from_millis(args.load_delay_ms);
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let rebuild_every = Duration::from_secs(args.rebuild_secs.max(1));
    let secs = |s: u64| i64::try_from(s.max(1)).unwrap_or(i64::MAX);
    let source_settings = sources::SchedulerSettings {
        tick: Duration::from_millis(args.source_tick_ms.max(10)),
        lease_secs: secs(args.source_lease_secs),
        backoff_base_secs: secs(args.source_backoff_secs),
        backoff_max_secs: secs(args.source_backoff_max_secs),
        request_timeout: Duration::from_secs(args.source_timeout_secs.max(1)),
    };
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        while let Err(e) = loader.load().await {
            tracing::error!(error = %e, "loading the index failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        sources::spawn(loader.clone(), source_settings);
        let follower = loader.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            loop {
                tick.tick().await;
                if let Err(e) = follower.catch_up().await {
                    tracing::warn!(error = %e, "reading the change log failed");
                }
            }
        });
        // Rebuild when the delta is large (a bulk import), else every --rebuild-secs if it has
        // any changes: searches scan the delta linearly.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            let (pending, entries) = loader
                .catalog
                .read()
                .map(|c| {
                    (
                        c.pending(),
                        c.counts().iter().map(|(_, n)| n).sum::<usize>(),
                    )
                })
                .unwrap_or_default();
            let large = pending >= REBUILD_MIN_DELTA.max(entries / 8);
            if pending > 0 && (large || last.elapsed() >= rebuild_every) {
                if let Err(e) = loader.rebuild().await {
                    tracing::warn!(error = %e, "index rebuild failed");
                }
                last = tokio::time::Instant::now();
            }
        }
    });

    serve::serve(
        listener,
        app,
        serve::ConnectionLimits {
            header_timeout: Duration::from_secs(args.header_timeout_secs),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            drain: Duration::from_secs(args.drain_secs),
        },
    )
    .await;
    Ok(())
}

/// Deletes, periodically, what the retention period lets go: closed tips' hashes and free
/// text, the feed's withdrawn and deleted records, feedback left on no hash.
async fn retention(state: Arc<AppState>, period_secs: u64) {
    let every = Duration::from_secs((period_secs / 10).clamp(1, 60));
    let period = i64::try_from(period_secs).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let before = now_unix().saturating_sub(period);
        match state.db(move |s| s.purge(before)).await {
            Ok(p) if p != Default::default() => tracing::info!(
                tips = p.tips,
                feed_hashes = p.feed_hashes,
                feedback = p.feedback,
                "retention: deleted"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention pass failed"),
        }
    }
}
