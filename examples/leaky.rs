//! A small program with a leak, or without one, for trying leakwatch on.
//!
//! ```text
//! cargo run --release --example leaky -- leak      # keeps 1 MiB a second, forever
//! cargo run --release --example leaky -- steady    # warms up to 32 MiB, then holds
//! leakwatch -d 30s -- target/release/examples/leaky leak
//! ```
//!
//! Options (after the mode): `--rate BYTES_PER_S` (leak: default 1 MiB/s),
//! `--warmup-bytes N` (default 32 MiB), `--warmup-secs S` (default 2),
//! `--tick-ms MS` (allocation step, default 50). The tests use it as their
//! child with a known allocation rate.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("leak");
    let opt = |name: &str, default: f64| -> f64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rate = opt("--rate", 1024.0 * 1024.0);
    let warmup_bytes = opt("--warmup-bytes", 32.0 * 1024.0 * 1024.0);
    let warmup_secs = opt("--warmup-secs", 2.0);
    let tick = Duration::from_millis(opt("--tick-ms", 50.0) as u64);
    if !matches!(mode, "leak" | "steady") {
        eprintln!(
            "usage: leaky leak|steady [--rate B/s] [--warmup-bytes N] [--warmup-secs S] [--tick-ms MS]"
        );
        std::process::exit(2);
    }

    // Memory kept for good: a leak keeps adding to it; steady stops after warm-up.
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut kept_bytes = 0.0;
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        n += 1;
        let t = start.elapsed().as_secs_f64();
        // Warm-up: a fixed amount taken in the first seconds (both modes).
        let warm_target = warmup_bytes * (t / warmup_secs).min(1.0);
        let target = warm_target + if mode == "leak" { rate * t } else { 0.0 };
        if target > kept_bytes {
            let add = (target - kept_bytes) as usize;
            kept.push(touched(add));
            kept_bytes += add as f64;
        }
        // Churn: short-lived garbage that comes and goes, as real programs make.
        let scratch = touched(256 * 1024);
        std::hint::black_box(&scratch);
        drop(scratch);
        std::hint::black_box(&kept);
        let next = start + tick * n as u32;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

/// A buffer of `n` bytes with every page written, so it counts in RSS.
fn touched(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for i in (0..n).step_by(4096) {
        v[i] = 1;
    }
    v
}
