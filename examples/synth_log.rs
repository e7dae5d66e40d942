//! Writes a seeded synthetic recording of one shape as a leakwatch CSV log on
//! stdout, for trying `analyze` and `plot` on shapes a real process would take
//! hours to show.
//!
//! `cargo run --release --example synth_log -- SHAPE [SEED] [DURATION_S] [INTERVAL_S] > log.csv`
//!
//! SHAPE is one of: flat, warmup-level, sawtooth, cache-cap, steps-then-flat,
//! growth-stopped, bursts, wander, linear, sawtooth-leak, staircase,
//! late-start, warmup-then-growth, sqrt, slow-noisy.

use leakwatch::synth::{Shape, generate};
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(shape) = args
        .first()
        .and_then(|a| Shape::ALL.into_iter().find(|s| s.name() == a))
    else {
        let names: Vec<&str> = Shape::ALL.iter().map(|s| s.name()).collect();
        eprintln!(
            "usage: synth_log SHAPE [SEED] [DURATION_S] [INTERVAL_S]; shapes: {}",
            names.join(", ")
        );
        std::process::exit(2);
    };
    let num = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let series = generate(shape, num(1, 1.0) as u64, num(2, 1800.0), num(3, 1.0));
    let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes").unwrap();
    for (t, v) in series.samples {
        let ts = humantime::format_rfc3339_millis(t0 + Duration::from_secs_f64(t));
        let v = (v / 4096.0).round() as u64 * 4096;
        writeln!(out, "{ts},{t:.3},1000,{v},{}", v + (400 << 20)).unwrap();
    }
}
