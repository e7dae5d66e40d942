//! `analyze --prometheus` at fleet scale, against a real Prometheus, and the
//! cost of one `/metrics` scrape.
//!
//! `cargo bench --bench prometheus_query` (needs Debian's `prometheus`, which
//! `bash .ci/deps` installs; FLEET_PASSES=N for N fleet passes, default 10;
//! SCRAPE_ONLY=1 for the two scrapes alone, without Prometheus)
//!
//! - 1,000 seeded series of every shape, 720 points each (6 hours every
//!   30 s), backfilled with `promtool tsdb create-blocks-from openmetrics`,
//!   served by Prometheus on loopback and judged with `prometheus::judge`:
//!   leakwatch's own CPU time (this process; Prometheus' is its own), the
//!   wall time, and how many verdicts match the shape;
//! - `leakwatch fleet` (the binary, a child) over 1,000 such series of 1,440
//!   points (6 hours every 15 s: 1.44 M points) for 10 passes, grouped by a
//!   label: each pass's CPU time (from /proc/PID/stat when its textfile is
//!   written), its resident memory after each pass, and its peak so far
//!   (VmHWM: wait4's ru_maxrss would count the bench's own pages, shared
//!   with the child between fork and exec); targets 2 s of CPU and 256 MiB
//!   a pass;
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
    // SCRAPE_ONLY=1: the two scrapes alone (no Prometheus needed).
    if std::env::var_os("SCRAPE_ONLY").is_none() {
        fleet();
        fleet_passes();
    }
    scrape();
    scrape_scan();
}

/// Prometheus on loopback, serving a TSDB backfilled with `series` seeded
/// series of every shape, 6 hours every `every` s ending a minute ago,
/// labelled `i` and `version` (ten versions); with the expected verdicts.
struct Backfilled {
    _dir: tempfile::TempDir,
    prom: std::process::Child,
    url: String,
    expected: std::collections::HashMap<String, VerdictKind>,
}

impl Drop for Backfilled {
    fn drop(&mut self) {
        self.prom.kill().ok();
        self.prom.wait().ok();
    }
}

fn backfilled(series: usize, every: f64) -> Backfilled {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as f64
        - 60.0;
    let start = end - 6.0 * 3600.0;
    let mut text = String::from("# TYPE bench_memory_bytes gauge\n");
    let mut expected = std::collections::HashMap::new();
    for i in 0..series {
        let shape = Shape::ALL[i % Shape::ALL.len()];
        let s = generate(shape, i as u64, 6.0 * 3600.0 - every, every);
        expected.insert(i.to_string(), shape.expected());
        for (t, v) in &s.samples {
            text.push_str(&format!(
                "bench_memory_bytes{{i=\"{i}\",version=\"1.{}\"}} {} {}\n",
                i % 10,
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
    let prom = Command::new("prometheus")
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
    Backfilled {
        _dir: dir,
        prom,
        url,
        expected,
    }
}

fn fleet() {
    let b = backfilled(SERIES, 30.0);
    let cfg = PromConfig {
        url: b.url.clone(),
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
    let points: u64 = all.iter().map(|s| s.verdict.samples).sum();
    let right = all
        .iter()
        .filter(|s| b.expected.get(&s.labels["i"]) == Some(&s.verdict.kind))
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

/// The CPU seconds (user + system), resident KiB and peak resident KiB of
/// process `pid` now.
fn child_usage(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15: 11 and 12 after the state.
    let cpu = (ticks(11) + ticks(12)) / tick;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or(0)
    };
    (cpu, kib("VmRSS:"), kib("VmHWM:"))
}

/// `leakwatch fleet` over 1,000 series × 1,440 points, 10 passes.
fn fleet_passes() {
    let passes_asked: usize = std::env::var("FLEET_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let b = backfilled(SERIES, 15.0);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let textfile = dir.path().join("fleet.prom");
    #[allow(clippy::zombie_processes)] // reaped below
    let child = Command::new(env!("CARGO_BIN_EXE_leakwatch"))
        .args([
            "fleet",
            "bench_memory_bytes",
            "--range",
            "6h2m",
            "--every",
            "1s",
        ])
        .args(["--by", "version", "--prometheus", &b.url])
        .arg("--textfile")
        .arg(&textfile)
        .stderr(Stdio::null())
        .spawn()
        .expect("leakwatch fleet");
    let pid = child.id();
    let mut seen = None;
    let mut passes: Vec<(f64, u64, u64)> = Vec::new();
    let t0 = Instant::now();
    while passes.len() < passes_asked {
        assert!(
            t0.elapsed() < Duration::from_secs(60 * passes_asked as u64),
            "fleet passes stalled"
        );
        let modified = std::fs::metadata(&textfile).and_then(|m| m.modified()).ok();
        if modified.is_some() && modified != seen {
            seen = modified;
            passes.push(child_usage(pid));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let text = std::fs::read_to_string(&textfile).unwrap_or_default();
    leakwatch::sys::process::signal(pid, libc::SIGTERM);
    let mut child = child;
    let ended = child.wait().expect("fleet to end");
    assert!(ended.success(), "fleet ended with {ended}");
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let cpu: Vec<f64> = std::iter::once(passes[0].0)
        .chain(passes.windows(2).map(|w| w[1].0 - w[0].0))
        .collect();
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let rss: Vec<String> = passes.iter().map(|p| mib(p.1)).collect();
    let hwm: Vec<String> = passes.iter().map(|p| mib(p.2)).collect();
    println!(
        "fleet: {} series, 1,440 points each, {passes_asked} passes: CPU per pass {} s (the first with start-up); last pass {:.2} s wall; RSS after each pass {} MiB, peak so far (VmHWM) {} MiB",
        gauge("leakwatch_fleet_series"),
        cpu.iter()
            .map(|c| format!("{c:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        gauge("leakwatch_fleet_pass_duration_seconds"),
        rss.join(", "),
        hwm.join(", "),
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
