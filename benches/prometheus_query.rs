//! `analyze --prometheus` at fleet scale, against a real Prometheus, and the
//! cost of one `/metrics` scrape.
//!
//! `cargo bench --bench prometheus_query` (needs Debian's `prometheus`, which
//! `bash .ci/deps` installs)
//!
//! - 1,000 seeded series of every shape, 720 points each (6 hours every
//!   30 s), backfilled with `promtool tsdb create-blocks-from openmetrics`,
//!   served by Prometheus on loopback and judged with `prometheus::judge`:
//!   leakwatch's own CPU time (this process; Prometheus' is its own), the
//!   wall time, and how many verdicts match the shape;
//! - rendering the exposition of a watch of every metric: one scrape's work.

use leakwatch::detector::{DetectorConfig, VerdictKind};
use leakwatch::judging::{Judge, Judging};
use leakwatch::metrics::Metric;
use leakwatch::metrics::Reading;
use leakwatch::prometheus::query::{PromConfig, judge};
use leakwatch::prometheus::{Exposition, TargetLabels};
use leakwatch::synth::{Shape, generate};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERIES: usize = 1000;

/// (user + system) CPU seconds of this process.
fn cpu() -> f64 {
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    fleet();
    scrape();
    scrape_scan();
}

fn fleet() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as f64
        - 60.0;
    let start = end - 6.0 * 3600.0;
    let mut text = String::from("# TYPE bench_memory_bytes gauge\n");
    let mut expected = std::collections::HashMap::new();
    for i in 0..SERIES {
        let shape = Shape::ALL[i % Shape::ALL.len()];
        let s = generate(shape, i as u64, 6.0 * 3600.0 - 30.0, 30.0);
        expected.insert(i.to_string(), shape.expected());
        for (t, v) in &s.samples {
            text.push_str(&format!(
                "bench_memory_bytes{{i=\"{i}\"}} {} {}\n",
                v.round(),
                start + t
            ));
        }
    }
    text.push_str("# EOF\n");
    let om = dir.path().join("bench.om");
    std::fs::write(&om, text).expect("writing the OpenMetrics file");
    let tsdb = dir.path().join("tsdb");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .stdout(Stdio::null())
        .status()
        .expect("promtool: run `bash .ci/deps` first");
    assert!(st.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let cfg = dir.path().join("p.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 30s\n").expect("config");
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus: run `bash .ci/deps` first");
    let url = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    while ureq::get(format!("{url}/-/ready")).call().is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "Prometheus never got ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let cfg = PromConfig {
        url,
        query: "bench_memory_bytes".into(),
        // A little more than the data, so every one of its points is read.
        range_s: 6.0 * 3600.0 + 120.0,
        token_file: None,
        end: None,
        step_s: 15.0,
        detector: DetectorConfig::default(),
        max_series: leakwatch::prometheus::query::DEFAULT_MAX_SERIES,
        timeout: leakwatch::prometheus::query::DEFAULT_TIMEOUT,
    };
    let (c0, w0) = (cpu(), Instant::now());
    let all = judge(&cfg).expect("judging the fleet").series;
    let (own, wall) = (cpu() - c0, w0.elapsed().as_secs_f64());
    prom.kill().ok();
    prom.wait().ok();
    let points: u64 = all.iter().map(|s| s.verdict.samples).sum();
    let right = all
        .iter()
        .filter(|s| expected.get(&s.labels["i"]) == Some(&s.verdict.kind))
        .count();
    let leaks = all
        .iter()
        .filter(|s| s.verdict.kind == VerdictKind::Leaking)
        .count();
    println!(
        "analyze --prometheus: {} series, {points} points: {own:.2} s of leakwatch's CPU, {wall:.2} s wall; {right} verdicts as the shape ({leaks} leaking)",
        all.len()
    );
}

fn scrape() {
    let expo = Exposition::new();
    let metrics = Metric::ALL;
    let mut judging = Judging::new(DetectorConfig::default(), &metrics, None, Judge::Any);
    let mut r = Reading::default();
    for i in 0..3600 {
        for m in Metric::ALL {
            r.values[m.index()] = 50_000_000 + i * 1000 + m.index() as u64;
        }
        judging.push_reading(i as f64, &r);
    }
    let target = TargetLabels {
        pid: 4242,
        command: "api".into(),
        cgroup: None,
    };
    expo.update(&target, &r, &judging, Some(2e9));
    let n = 10_000;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += expo.render().len();
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "scrape: {:.1} µs to render /metrics for a watch of every metric ({} bytes)",
        per * 1e6,
        bytes / n
    );
}

/// A scan's /metrics: 2,000 targets, each judged on rss (a scan's default).
fn scrape_scan() {
    let expo = Exposition::new();
    let metrics = [Metric::Rss, Metric::Vsz];
    for pid in 0..2000u32 {
        let mut judging = Judging::new(DetectorConfig::default(), &metrics, None, Judge::Any);
        let mut r = Reading::default();
        for i in 0..600u64 {
            r.values[Metric::Rss.index()] = 50_000_000 + i * u64::from(pid % 7) * 1000;
            r.values[Metric::Vsz.index()] = 90_000_000;
            judging.push_reading(i as f64, &r);
        }
        let target = TargetLabels {
            pid: 10_000 + pid,
            command: format!("worker-{pid}"),
            cgroup: None,
        };
        expo.update(&target, &r, &judging, None);
    }
    let n = 20;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += expo.render().len();
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "scrape of a scan: {:.2} ms to render /metrics for 2,000 targets ({} bytes)",
        per * 1e3,
        bytes / n
    );
}
