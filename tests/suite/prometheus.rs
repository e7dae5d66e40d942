//! leakwatch and a real Prometheus (Debian's `prometheus`, which the test
//! command installs), started on loopback with a temporary TSDB: Prometheus
//! scrapes a `--listen` watch, and `analyze --prometheus` judges series
//! backfilled with `promtool`. No mock stands in for Prometheus.

use crate::common::*;
use leakwatch::synth::{Shape, generate};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Prometheus server for one test, ended when dropped.
pub(crate) struct Prometheus {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts Prometheus with `config` (YAML) on `tsdb` (else a fresh one).
pub(crate) fn prometheus(config: &str, tsdb: Option<&Path>) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let data = tsdb.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (the test command installs Debian's package)");
    let url = format!("http://127.0.0.1:{port}");
    let ready = format!("{url}/-/ready");
    wait_until("Prometheus to be ready", Duration::from_secs(60), || {
        ureq::get(&ready).call().is_ok_and(|r| r.status() == 200)
    });
    Prometheus {
        child,
        url,
        _dir: dir,
    }
}

/// A TSDB backfilled from OpenMetrics `text` with `promtool tsdb
/// create-blocks-from openmetrics`: its directory (removed when dropped)
/// and the TSDB's path in it.
pub(crate) fn backfill(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("backfill.om");
    std::fs::write(&om, text).unwrap();
    let tsdb = dir.path().join("tsdb");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .stdout(Stdio::null())
        .status()
        .expect("promtool (from Debian's prometheus package)");
    assert!(st.success(), "promtool could not backfill");
    (dir, tsdb)
}

/// The value of the first series of an instant query, if any.
pub(crate) fn query_value(url: &str, q: &str) -> Option<String> {
    let body = ureq::get(format!("{url}/api/v1/query"))
        .query("query", q)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let j: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(j["data"]["result"][0]["value"][1].as_str()?.to_string())
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn prometheus_scrapes_the_verdict_of_a_listen_watch_and_of_every_target_of_a_scan() {
    // A scan of a leaking and a steady child, exported as a watch is.
    let tag = format!("lwpromscan-{}", std::process::id());
    let kid = |mode: &str| {
        Command::new(leaky_path())
            .args([mode, "--rate", "2097152", "--tag", &tag])
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut leak, mut steady) = (kid("leak"), kid("steady"));
    let (scan_port, dir) = (free_port(), tempfile::tempdir().unwrap());
    let prom_file = dir.path().join("scan.prom");
    let mut scan = Command::new(leakwatch_path())
        .args(["scan", "-q", "--name", &tag, "-i", "100ms", "-d", "90s"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{scan_port}"))
        .arg("--textfile")
        .arg(&prom_file)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let port = free_port();
    let mut watch = Command::new(leakwatch_path())
        .args(["-q", "-i", "100ms", "-d", "90s", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--")
        .arg(leaky_path())
        .args(["leak", "--rate", "2097152"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: leakwatch\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n  - job_name: scan\n    static_configs:\n      - targets: ['127.0.0.1:{scan_port}']\n"
    );
    let prom = prometheus(&config, None);
    let q = r#"leakwatch_verdict{metric="rss",verdict="leaking",command="leaky"}"#;
    wait_until("Prometheus to see leaking", Duration::from_secs(60), || {
        query_value(&prom.url, q).as_deref() == Some("1")
    });
    let up = query_value(
        &prom.url,
        r#"leakwatch_growth_bytes_per_second{metric="rss",bound="estimate"}"#,
    );
    let rate: f64 = up.unwrap().parse().unwrap();
    assert!((rate - 2097152.0).abs() < 0.3 * 2097152.0, "{rate}");
    signal(watch.id(), libc::SIGINT);
    watch.wait().unwrap();
    // Each target of the scan, by PID, with its own verdict.
    for (pid, verdict) in [(leak.id(), "leaking"), (steady.id(), "plateau")] {
        let q = format!(
            r#"leakwatch_verdict{{job="scan",pid="{pid}",metric="rss",verdict="{verdict}"}}"#
        );
        wait_until(&q, Duration::from_secs(60), || {
            query_value(&prom.url, &q).as_deref() == Some("1")
        });
    }
    let check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom_file).unwrap())
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    // An exited target shows up = 0 (its final state), not its verdict alone.
    leak.kill().ok();
    leak.wait().ok();
    let q = format!(r#"leakwatch_up{{job="scan",pid="{}"}}"#, leak.id());
    wait_until("the exited target's up 0", Duration::from_secs(30), || {
        query_value(&prom.url, &q).as_deref() == Some("0")
    });
    signal(scan.id(), libc::SIGINT);
    scan.wait().unwrap();
    steady.kill().ok();
    steady.wait().ok();
    let left = std::fs::read_to_string(&prom_file).unwrap();
    assert!(!left.contains("leakwatch_verdict"), "{left}");
}

/// OpenMetrics text of seeded series of `shapes`, 6 hours every 30 s, ending
/// 10 minutes ago: (text, expected verdict per `shape` label).
fn backfill_text(shapes: &[Shape]) -> (String, Vec<(String, &'static str)>) {
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
        - 600.0;
    let start = end - 6.0 * 3600.0;
    let mut text = String::from(
        "# HELP synth_memory_bytes Seeded synthetic memory.\n# TYPE synth_memory_bytes gauge\n",
    );
    let mut expected = Vec::new();
    for &shape in shapes {
        let s = generate(shape, 1, 6.0 * 3600.0, 30.0);
        for (t, v) in &s.samples {
            text.push_str(&format!(
                "synth_memory_bytes{{shape=\"{}\"}} {} {}\n",
                shape.name(),
                v.round(),
                start + t
            ));
        }
        expected.push((shape.name().to_string(), shape.expected().as_str()));
    }
    text.push_str("# EOF\n");
    (text, expected)
}

#[test]
fn analyze_prometheus_judges_every_backfilled_series_right() {
    let shapes = [
        Shape::Flat,
        Shape::WarmupLevel,
        Shape::Sawtooth,
        Shape::CacheCap,
        Shape::Linear,
        Shape::SawtoothLeak,
        Shape::Staircase,
        Shape::WarmupThenGrowth,
    ];
    let (text, expected) = backfill_text(&shapes);
    let (_dir, tsdb) = backfill(&text);
    let prom = prometheus("global:\n  scrape_interval: 30s\n", Some(&tsdb));
    let out = leakwatch()
        .args([
            "analyze",
            "synth_memory_bytes",
            "--range",
            "6h",
            "--format",
            "json",
        ])
        .args(["--prometheus", &prom.url])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let j = json(&out.stdout);
    let series = j["series"].as_array().unwrap();
    assert_eq!(series.len(), shapes.len(), "{j}");
    for (shape, want) in expected {
        let s = series
            .iter()
            .find(|s| s["labels"]["shape"] == shape.as_str())
            .unwrap_or_else(|| panic!("no series for {shape}: {j}"));
        assert_eq!(s["verdict"], want, "{shape}: {s}");
        assert!(s["samples"].as_u64().unwrap() > 600, "{shape}: {s}");
    }
    assert_eq!(j["verdict"], "leaking");
    // --fail-on-leak: any leaking series fails.
    leakwatch()
        .args([
            "analyze",
            "synth_memory_bytes",
            "--range",
            "6h",
            "--fail-on-leak",
        ])
        .args(["--prometheus", &prom.url])
        .assert()
        .code(1);
    // A PromQL error quotes Prometheus; an empty result and a server that is
    // down are one clear line each.
    fails_with(
        &["analyze", "sum(", "--prometheus", &prom.url],
        "refused the query",
    );
    fails_with(
        &["analyze", "no_such_metric", "--prometheus", &prom.url],
        "returned no series",
    );
    let down = format!("http://127.0.0.1:{}", free_port());
    fails_with(
        &["analyze", "up", "--prometheus", &down],
        "cannot reach Prometheus",
    );
}

#[test]
fn the_example_alerting_rules_check_and_pass_their_unit_tests() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/prometheus");
    for args in [
        vec!["check", "config", "prometheus.yml"],
        vec!["check", "rules", "leakwatch-rules.yml"],
        vec!["test", "rules", "leakwatch-rules.test.yml"],
        vec!["check", "config", "prometheus-fleet.yml"],
        vec!["check", "rules", "leakwatch-fleet-rules.yml"],
        vec!["test", "rules", "leakwatch-fleet-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("promtool (from Debian's prometheus package)");
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_textfile_is_valid_exposition_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("leakwatch.prom");
    let rec = dir.path().join("rec.csv");
    std::fs::write(
        &rec,
        log_text((0..120).map(|i| (i as f64, 1e8 + 1e5 * i as f64)), 3),
    )
    .unwrap();
    leakwatch()
        .args(["-q", "--replay"])
        .arg(&rec)
        .arg("--textfile")
        .arg(&prom)
        .assert()
        .success();
    // A finished watch leaves `leakwatch_up 0` alone (tests/suite/textfile.rs
    // reads the verdicts while one runs).
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.ends_with("\nleakwatch_up{pid=\"3\",command=\"replay\"} 0.0\n"),
        "{text}"
    );
    crate::exposition::promtool_check(&text).unwrap();
    // Only the finished file is left: no temporary beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
