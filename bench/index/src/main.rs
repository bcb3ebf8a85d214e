//! The index benchmark, our side. `bench/index/run.sh` runs it with the FAISS side and writes
//! the report; the data files are shared so both sides search the same hashes with the same
//! queries.
//!
//! ```text
//! index-bench gen DIR [--n N] [--queries Q] [--seed S]
//!     DIR/{uniform,clustered}.bin       N PDQ hashes, 32 bytes each in hex order; id = row
//!     DIR/queries-{miss,hit}-{uniform,clustered}.bin   Q queries each
//! index-bench run DIR --out FILE.jsonl [--check C] [--budget SECONDS]
//!     DIR/truth-{kind}-{dataset}.u32    (query, id, distance) triples from the linear oracle
//!                                       at the largest radius, for the first C queries
//! ```
//!
//! Every timed path is first checked against the oracle on the check queries; a mismatch is
//! counted and reported, never hidden.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pixelprint::index::{linear_search, EntryId, Index, Match, Strategy};
use pixelprint::PdqHash;
use serde_json::json;

/// The radii of the report; the truth is computed at the largest and filtered for the others.
const RADII: [u32; 4] = [15, 31, 47, 63];
const DATASETS: [&str; 2] = ["uniform", "clustered"];
const KINDS: [&str; 2] = ["miss", "hit"];
/// Bits flipped in a stored hash to make a hit query.
const HIT_FLIPS: usize = 8;
/// Clustered data: one centre per this many hashes, each hash up to this many bits from it.
const CLUSTER_SIZE: usize = 100;
const CLUSTER_MAX_FLIPS: u64 = 8;
/// Queries of one batched linear scan.
const LINEAR_BATCH: usize = 64;
/// Queries checked on the single-query linear path (the same kernel as the batch).
const LINEAR_SINGLE_CHECK: usize = 10;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hash(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for chunk in b.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        b
    }
}

fn flip(h: &mut [u8; 32], bit: usize) {
    h[31 - bit / 8] ^= 1 << (bit % 8);
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: index-bench gen DIR [--n N] [--queries Q] [--seed S] | run DIR --out FILE [--check C] [--budget SECONDS]";
    let (Some(cmd), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let num = |name: &str, default: u64| -> u64 {
        arg(&args, name).map_or(default, |v| v.parse().expect("a number"))
    };
    match cmd.as_str() {
        "gen" => generate(
            &dir,
            num("--n", 10_000_000) as usize,
            num("--queries", 1000) as usize,
            num("--seed", 1),
        ),
        "run" => {
            let out = arg(&args, "--out").expect("--out FILE");
            run(
                &dir,
                Path::new(&out),
                num("--check", 50) as usize,
                Duration::from_secs_f64(
                    arg(&args, "--budget").map_or(2.0, |v| v.parse().expect("seconds")),
                ),
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

fn write_hashes(path: &Path, hashes: &[[u8; 32]]) {
    let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
    fs::write(path, bytes).expect("write hashes");
}

fn read_hashes(path: &Path) -> Vec<PdqHash> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(32)
        .map(|c| PdqHash::from_bytes(c.try_into().expect("32 bytes")))
        .collect()
}

fn generate(dir: &Path, n: usize, queries: usize, seed: u64) {
    fs::create_dir_all(dir).expect("create data dir");
    let mut rng = Rng(seed);
    for dataset in DATASETS {
        let hashes: Vec<[u8; 32]> = if dataset == "uniform" {
            (0..n).map(|_| rng.hash()).collect()
        } else {
            let centres: Vec<[u8; 32]> =
                (0..n.div_ceil(CLUSTER_SIZE)).map(|_| rng.hash()).collect();
            (0..n)
                .map(|_| {
                    let mut h = centres[rng.below(centres.len() as u64) as usize];
                    for _ in 0..rng.below(CLUSTER_MAX_FLIPS + 1) {
                        flip(&mut h, rng.below(256) as usize);
                    }
                    h
                })
                .collect()
        };
        write_hashes(&dir.join(format!("{dataset}.bin")), &hashes);
        let miss: Vec<[u8; 32]> = (0..queries).map(|_| rng.hash()).collect();
        write_hashes(&dir.join(format!("queries-miss-{dataset}.bin")), &miss);
        let hit: Vec<[u8; 32]> = (0..queries)
            .map(|_| {
                let mut h = hashes[rng.below(n as u64) as usize];
                let mut bits: Vec<usize> = Vec::new();
                while bits.len() < HIT_FLIPS {
                    let b = rng.below(256) as usize;
                    if !bits.contains(&b) {
                        bits.push(b);
                        flip(&mut h, b);
                    }
                }
                h
            })
            .collect();
        write_hashes(&dir.join(format!("queries-hit-{dataset}.bin")), &hit);
        eprintln!("{dataset}: {n} hashes, {queries} miss and {queries} hit queries");
    }
}

/// Resident set size in bytes.
fn rss() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time of this thread in seconds (`/proc/thread-self/schedstat`, nanoseconds on CPU). The
/// machine is shared, so wall time includes waiting for a core; both are reported.
fn cpu_seconds() -> f64 {
    let s = fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 * 1e-9)
}

/// Wall and CPU seconds of one timed run.
#[derive(Clone, Copy)]
struct Timing {
    queries: usize,
    wall: f64,
    cpu: f64,
    results: usize,
}

impl Timing {
    fn json(&self, checked: usize, mismatches: usize) -> serde_json::Value {
        json!({"queries": self.queries, "wall_s": self.wall, "cpu_s": self.cpu,
            "qps_wall": self.queries as f64 / self.wall, "qps_cpu": self.queries as f64 / self.cpu,
            "mean_results": self.results as f64 / self.queries as f64,
            "checked": checked, "mismatches": mismatches})
    }
}

/// Runs `one` over the queries in order until all are done or the budget of CPU time is spent.
fn timed(queries: &[PdqHash], budget: Duration, mut one: impl FnMut(&PdqHash) -> usize) -> Timing {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let (mut done, mut results) = (0, 0);
    for q in queries {
        results += one(q);
        done += 1;
        if cpu_seconds() - cpu >= budget.as_secs_f64() {
            break;
        }
    }
    Timing {
        queries: done,
        wall: wall.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
        results,
    }
}

fn run(dir: &Path, out: &Path, check: usize, budget: Duration) {
    let mut log = fs::File::create(out).expect("create output");
    let max_radius = *RADII.iter().max().expect("radii");
    for dataset in DATASETS {
        let hashes = read_hashes(&dir.join(format!("{dataset}.bin")));
        let n = hashes.len();
        let queries: BTreeMap<&str, Vec<PdqHash>> = KINDS
            .iter()
            .map(|k| {
                (
                    *k,
                    read_hashes(&dir.join(format!("queries-{k}-{dataset}.bin"))),
                )
            })
            .collect();

        // The oracle's answers, shared with the FAISS side through the truth files.
        let mut truth: BTreeMap<&str, Vec<Vec<Match>>> = BTreeMap::new();
        {
            let entries: Vec<(EntryId, PdqHash)> = hashes
                .iter()
                .enumerate()
                .map(|(i, &h)| (EntryId(i as u64), h))
                .collect();
            for kind in KINDS {
                let start = Instant::now();
                let answers: Vec<Vec<Match>> = queries[kind][..check]
                    .iter()
                    .map(|q| linear_search(&entries, q, max_radius))
                    .collect();
                let mut triples: Vec<u8> = Vec::new();
                for (qi, answer) in answers.iter().enumerate() {
                    for m in answer {
                        for v in [qi as u32, m.id.0 as u32, m.distance] {
                            triples.extend_from_slice(&v.to_le_bytes());
                        }
                    }
                }
                fs::write(dir.join(format!("truth-{kind}-{dataset}.u32")), triples)
                    .expect("write truth");
                eprintln!(
                    "{dataset} {kind}: oracle for {check} queries in {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                truth.insert(kind, answers);
            }
        }

        let rss_before = rss();
        let start = Instant::now();
        let entries: Vec<(EntryId, PdqHash)> = hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (EntryId(i as u64), h))
            .collect();
        let index = Index::build(entries).expect("unique ids");
        let build_s = start.elapsed().as_secs_f64();
        let rss_delta = rss().saturating_sub(rss_before);
        let stats = index.stats();
        drop(hashes);
        let record = json!({"side": "ours", "dataset": dataset, "n": n, "build_s": build_s,
            "heap_bytes": stats.heap_bytes, "rss_delta_bytes": rss_delta, "substrings": stats.substrings});
        writeln!(log, "{record}").expect("write");
        eprintln!("{record}");

        for radius in RADII {
            for kind in KINDS {
                let qs = &queries[kind];
                let want: Vec<Vec<Match>> = truth[kind]
                    .iter()
                    .map(|a| a.iter().copied().filter(|m| m.distance <= radius).collect())
                    .collect();
                let check_qs = &qs[..check];
                let mismatches =
                    |got: &[Vec<Match>]| got.iter().zip(&want).filter(|(g, w)| g != w).count();

                let mih: Vec<Vec<Match>> = check_qs
                    .iter()
                    .map(|q| index.search_with(q, radius, Strategy::MultiIndex))
                    .collect();
                let mih_bad = mismatches(&mih);
                let batch_bad =
                    mismatches(&index.search_batch_with(check_qs, radius, Strategy::Linear));
                let single: Vec<Vec<Match>> = check_qs[..LINEAR_SINGLE_CHECK]
                    .iter()
                    .map(|q| index.search_with(q, radius, Strategy::Linear))
                    .collect();
                let single_bad = mismatches(&single);

                let mih_t = timed(qs, budget, |q| {
                    index.search_with(q, radius, Strategy::MultiIndex).len()
                });
                let batch = &qs[..LINEAR_BATCH.min(qs.len())];
                let (wall, cpu) = (Instant::now(), cpu_seconds());
                let results: usize = index
                    .search_batch_with(batch, radius, Strategy::Linear)
                    .iter()
                    .map(Vec::len)
                    .sum();
                let batch_t = Timing {
                    queries: batch.len(),
                    wall: wall.elapsed().as_secs_f64(),
                    cpu: cpu_seconds() - cpu,
                    results,
                };
                let single_t = timed(qs, budget, |q| {
                    index.search_with(q, radius, Strategy::Linear).len()
                });
                let auto = match index.strategy_for(radius) {
                    Strategy::MultiIndex => "mih",
                    _ => "linear",
                };
                let record = json!({"side": "ours", "dataset": dataset, "radius": radius, "kind": kind,
                    "auto": auto,
                    "mih": mih_t.json(check, mih_bad),
                    "linear_batch": batch_t.json(check, batch_bad),
                    "linear_single": single_t.json(LINEAR_SINGLE_CHECK, single_bad)});
                writeln!(log, "{record}").expect("write");
                eprintln!("{record}");
            }
        }
    }
}
