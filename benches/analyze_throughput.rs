//! Throughput of `leakwatch analyze` (and `plot`) on a generated log of 10
//! million rows (parsed on every core), and the detector's cost per sample.
//! `bash benches/vs_duckdb.sh` sets the same log beside DuckDB.
//!
//! `cargo bench --bench analyze_throughput` (ROWS=N to change the size).
//! The log is written to a temporary file (about 600 MB) and removed after.

use leakwatch::analyze::{AnalyzeConfig, analyze};
use leakwatch::detector::{Detector, DetectorConfig};
use leakwatch::log::ReadOptions;
use leakwatch::plot::{PlotConfig, plot};
use std::time::Instant;

fn main() {
    let rows: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let t = Instant::now();
    leakwatch::synth::write_big_log(rows, std::fs::File::create(&path).unwrap()).unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "generated {rows} rows, {:.0} MB, in {:.1?}",
        bytes as f64 / 1e6,
        t.elapsed()
    );

    let cfg = AnalyzeConfig {
        path: path.clone(),
        read: ReadOptions::default(),
        detector: DetectorConfig::default(),
        judge: leakwatch::judging::Judge::Column("rss_bytes".into()),
        limit: None,
    };
    // Warm the page cache, then measure the best of three.
    let _ = analyze(&cfg).unwrap();
    let mut best = f64::MAX;
    let mut verdict = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let a = analyze(&cfg).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        verdict = format!(
            "{} ({})",
            a.verdict().kind,
            leakwatch::report::reason(a.verdict(), leakwatch::units::Quantity::Bytes)
        );
    }
    println!(
        "analyze: {:.2} s for {rows} rows = {:.0} MB/s, {:.1} M rows/s; verdict {verdict}",
        best,
        bytes as f64 / 1e6 / best,
        rows as f64 / 1e6 / best
    );

    let svg = dir.path().join("big.svg");
    let t = Instant::now();
    plot(&PlotConfig {
        path: path.clone(),
        output: svg.clone(),
        read: ReadOptions::default(),
        detector: DetectorConfig::default(),
        force: false,
    })
    .unwrap();
    println!(
        "plot: {:.2} s, SVG of {:.0} KB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&svg).unwrap().len() as f64 / 1e3
    );

    let mut d = Detector::new(DetectorConfig::default());
    let n = 50_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        d.push(i as f64 * 0.01, 1e8 + (i % 1000) as f64);
    }
    let push = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    let v = d.verdict();
    println!(
        "detector: {:.1} ns per sample pushed, {:.2} ms per verdict, {} bytes of state ({})",
        push * 1e9,
        t.elapsed().as_secs_f64() * 1e3,
        d.state_bytes(),
        v.kind
    );
    verdict_cost();
    println!(
        "peak RSS of this benchmark: {:.1} MB",
        peak_rss_kb() as f64 / 1024.0
    );
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The mean time of a verdict on each synthetic shape (30 min at 1 s,
/// 8 seeds): the cost of each redraw of a watch's status line. The fastest
/// of five rounds, as other work on the machine only slows a round down.
fn verdict_cost() {
    use leakwatch::synth::{Shape, generate};
    let mut detectors = Vec::new();
    for shape in Shape::ALL {
        for seed in 0..8 {
            let s = generate(shape, seed, 1800.0, 1.0);
            let mut d = Detector::new(DetectorConfig::default());
            for &(t, v) in &s.samples {
                d.push(t, v);
            }
            detectors.push(d);
        }
    }
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            for d in &detectors {
                std::hint::black_box(d.verdict());
            }
            t.elapsed().as_secs_f64() / detectors.len() as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!(
        "detector: {:.3} ms per verdict, the mean over {} synthetic series of 22 shapes (30 min at 1 s)",
        best * 1e3,
        detectors.len()
    );
}
