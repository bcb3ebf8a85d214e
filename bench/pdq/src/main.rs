//! PDQ benchmark commands (driven by bench/pdq/run.sh).
//!
//! - `gen DIR`: writes deterministic RGB test images `DIR/<W>x<H>.rgb` (raw, row-major) of
//!   about 1, 4, 12 and 24 MP, and prints their names.
//! - `time FILE W H REPS`: hashes the pixels with the scalar and the fast path, checks that
//!   both give the same hash, then prints one JSON line: the hash and the median process CPU
//!   time of REPS runs of each.
//! - `once FILE W H fast|scalar`: hashes once and prints the hash (for peak-RSS measurement).

use std::time::Duration;

use pixelprint::pdq::{fast, scalar};
use pixelprint::{PixelFormat, PixelView};

const SIZES: &[(u32, u32)] = &[(1152, 864), (2304, 1728), (4000, 3000), (6000, 4000)];

/// A photo-like test image: smooth gradients and shapes plus noise, from a fixed seed.
fn generate(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut x: u32 = 0x2545_F491;
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for i in 0..w {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let noise = (x & 31) as usize;
            let fx = i * 255 / w;
            let fy = y * 255 / h;
            let disc = ((i as i64 - w as i64 / 3).pow(2) + (y as i64 - h as i64 / 2).pow(2))
                < (h as i64 / 4).pow(2);
            let r = (fx + noise) / 2 + if disc { 100 } else { 0 };
            let g = (fy + noise) / 2 + ((i / 97 + y / 89) % 2) * 60;
            let b = ((fx ^ fy) + noise) / 3;
            out.extend([r.min(255) as u8, g.min(255) as u8, b.min(255) as u8]);
        }
    }
    out
}

// The process CPU clock has no safe std API: the workspace denies `unsafe_code` unless opted in.
#[allow(unsafe_code)]
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median_cpu_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = cpu_time();
            f();
            (cpu_time() - start).as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn load(path: &str, width: u32, height: u32) -> Vec<u8> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        data.len(),
        width as usize * height as usize * 3,
        "{path}: size"
    );
    data
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 { args[i].parse().expect("a number") };
    match args.first().map(String::as_str) {
        Some("gen") => {
            let dir = &args[1];
            std::fs::create_dir_all(dir).unwrap();
            for &(w, h) in SIZES {
                let path = format!("{dir}/{w}x{h}.rgb");
                if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(w as u64 * h as u64 * 3) {
                    std::fs::write(&path, generate(w, h)).unwrap();
                }
                println!("{w}x{h}");
            }
        }
        Some("time") => {
            let (w, h, reps) = (num(2) as u32, num(3) as u32, num(4) as usize);
            let data = load(&args[1], w, h);
            let view = PixelView::packed(&data, w, h, PixelFormat::Rgb8).unwrap();
            let want = scalar::pdq_hash(&view);
            let got = fast::pdq_hash(&view);
            assert_eq!(got, want, "fast and scalar differ on {}", args[1]);
            let fast_ms = median_cpu_ms(reps, || {
                std::hint::black_box(fast::pdq_hash(std::hint::black_box(&view)));
            });
            let scalar_ms = median_cpu_ms(reps.min(5), || {
                std::hint::black_box(scalar::pdq_hash(std::hint::black_box(&view)));
            });
            println!(
                "{{\"hash\":\"{}\",\"quality\":{},\"fast_ms\":{fast_ms:.2},\"scalar_ms\":{scalar_ms:.2}}}",
                got.hash, got.quality
            );
        }
        Some("once") => {
            let (w, h) = (num(2) as u32, num(3) as u32);
            let data = load(&args[1], w, h);
            let view = PixelView::packed(&data, w, h, PixelFormat::Rgb8).unwrap();
            let out = match args[4].as_str() {
                "scalar" => scalar::pdq_hash(&view),
                _ => fast::pdq_hash(&view),
            };
            println!("{}", out.hash);
        }
        _ => {
            eprintln!("usage: pdq-bench gen DIR | time FILE W H REPS | once FILE W H fast|scalar");
            std::process::exit(2);
        }
    }
}
