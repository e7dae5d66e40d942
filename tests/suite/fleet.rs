//! `leakwatch fleet` against a real Prometheus (Debian's package) on
//! loopback, its TSDB backfilled with seeded series of every shape under two
//! versions, one leaking and one not: two passes judge every series right
//! and both groups, a second Prometheus scrapes the fleet and its group
//! alert fires for the leaking version, and a pass that fails keeps the
//! verdicts. Bad input is one line and exit 2.

use crate::common::*;
use crate::prometheus::{backfill, prometheus};
use leakwatch::detector::VerdictKind;
use leakwatch::synth::{Shape, generate};
use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The version of the leaking shapes, and of the others.
const LEAKING: &str = "2.0";
const STEADY: &str = "1.9";

/// One sample of an exposition: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a classic or OpenMetrics text (no escapes in the labels).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").unwrap();
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The value of the sample `name` whose labels include `want`.
fn value(all: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    all.iter()
        .find(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// GET `url`'s body, if it answers.
fn get(url: &str) -> Option<String> {
    ureq::get(url).call().ok()?.body_mut().read_to_string().ok()
}

/// OpenMetrics text of every shape, 6 hours every 30 s ending 10 minutes
/// ago, labelled by shape and version; the flat one also with a `bound`
/// label of its own (leakwatch's, so it is exported as `exported_bound`).
fn every_shape() -> String {
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
        - 600.0;
    let start = end - 6.0 * 3600.0;
    let mut text = String::from("# TYPE synth_memory_bytes gauge\n");
    for (i, &shape) in Shape::ALL.iter().enumerate() {
        let version = version(shape);
        let extra = if shape == Shape::Flat {
            ",bound=\"b\""
        } else {
            ""
        };
        for (t, v) in &generate(shape, i as u64, 6.0 * 3600.0, 30.0).samples {
            text.push_str(&format!(
                "synth_memory_bytes{{shape=\"{}\",version=\"{version}\"{extra}}} {} {}\n",
                shape.name(),
                v.round(),
                start + t
            ));
        }
    }
    text.push_str("# EOF\n");
    text
}

fn version(shape: Shape) -> &'static str {
    if shape.expected() == VerdictKind::Leaking {
        LEAKING
    } else {
        STEADY
    }
}

/// Checks every series' verdict and both groups in a scrape.
fn judged_right(all: &[Sample]) {
    for &shape in &Shape::ALL {
        let (s, v) = (shape.name(), version(shape));
        let is = |verdict: &str| {
            value(
                all,
                "leakwatch_fleet_verdict",
                &[("shape", s), ("version", v), ("verdict", verdict)],
            ) == Some(1.0)
        };
        if shape.expected() == VerdictKind::Leaking {
            assert!(is("leaking"), "{s}: not leaking");
        } else {
            // Never a leak; `plateau` where six hours rule one out.
            assert!(is("plateau") || is("inconclusive"), "{s}: leaking");
        }
    }
    assert!(
        all.iter()
            .filter(|s| s.labels.get("shape").is_some_and(|v| v == "flat"))
            .all(|s| s.labels.get("exported_bound").is_some_and(|v| v == "b")),
        "the flat series' own bound label is exported_bound"
    );
    let leaks = Shape::ALL
        .iter()
        .filter(|s| s.expected() == VerdictKind::Leaking)
        .count() as f64;
    let steady = Shape::ALL.len() as f64 - leaks;
    let group = |v: &str, verdict: &str| {
        value(
            all,
            "leakwatch_fleet_group_series",
            &[("version", v), ("verdict", verdict)],
        )
    };
    assert_eq!(group(LEAKING, "leaking"), Some(leaks));
    let (plateau, undecided) = (group(STEADY, "plateau"), group(STEADY, "inconclusive"));
    assert_eq!(plateau.unwrap_or(0.0) + undecided.unwrap_or(0.0), steady);
    assert!(plateau > undecided, "{plateau:?} {undecided:?}");
    assert_eq!(group(STEADY, "leaking"), Some(0.0));
    let gv = |v: &str, verdict: &str| {
        value(
            all,
            "leakwatch_fleet_group_verdict",
            &[("version", v), ("verdict", verdict)],
        )
    };
    assert_eq!(gv(LEAKING, "leaking"), Some(1.0));
    assert_eq!(gv(STEADY, "plateau"), Some(1.0));
    let median = value(
        all,
        "leakwatch_fleet_group_growth_bytes_per_second",
        &[("version", LEAKING), ("quantile", "0.5")],
    );
    assert!(median.unwrap() > 0.0, "{median:?}");
    // The limit (a series without labels: every series') gives the time
    // to it of a leak, and of no plateau.
    let ttl = |s: &str| {
        value(
            all,
            "leakwatch_fleet_time_to_limit_seconds",
            &[("shape", s)],
        )
    };
    assert!(
        ttl("linear").is_some_and(|t| t > 0.0),
        "{:?}",
        ttl("linear")
    );
    assert_eq!(ttl("flat"), None);
    assert_eq!(
        value(all, "leakwatch_fleet_series", &[]),
        Some(Shape::ALL.len() as f64)
    );
}

/// `analyze --prometheus --by version`, once: both groups in text and JSON,
/// counted as the fleet counts them.
fn analyze_by_prints_both_groups(url: &str) {
    let leaks = Shape::ALL
        .iter()
        .filter(|s| s.expected() == VerdictKind::Leaking)
        .count();
    let steady = Shape::ALL.len() - leaks;
    let args = [
        "analyze",
        "synth_memory_bytes",
        "--by",
        "version",
        "--prometheus",
        url,
    ];
    let out = leakwatch()
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 groups by version:"), "{text}");
    let line = |v: &str| {
        text.lines()
            .find(|l| l.contains(&format!("version=\"{v}\": ")))
            .unwrap_or_else(|| panic!("no group {v}: {text}"))
            .to_string()
    };
    let (l, s) = (line(LEAKING), line(STEADY));
    assert!(l.trim_start().starts_with("leaking"), "{l}");
    assert!(
        l.contains(&format!(": {leaks} of {leaks} leaking, median +")),
        "{l}"
    );
    assert!(s.trim_start().starts_with("plateau"), "{s}");
    assert!(
        s.contains(&format!(": 0 of {steady} leaking, median ")),
        "{s}"
    );
    let out = leakwatch()
        .args(args)
        .args(["--format", "json"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let j = json(&out.stdout);
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{j}");
    let g = groups
        .iter()
        .find(|g| g["labels"]["version"] == LEAKING)
        .unwrap();
    assert_eq!(g["series"], leaks);
    assert_eq!(g["counts"]["leaking"], leaks);
    assert_eq!(g["verdict"], "leaking");
    assert!(
        g["median_growth_bytes_per_s"].as_f64().unwrap() > 0.0,
        "{g}"
    );
    let g = groups
        .iter()
        .find(|g| g["labels"]["version"] == STEADY)
        .unwrap();
    assert_eq!(g["verdict"], "plateau", "{g}");
    // No leak among them; `plateau` where a series rules one out, else
    // `inconclusive` (a wander, say, in six hours at 15 s).
    assert_eq!(g["counts"]["leaking"], 0, "{g}");
    let decided = g["counts"]["plateau"].as_u64().unwrap();
    let undecided = g["counts"]["inconclusive"].as_u64().unwrap();
    assert_eq!(decided + undecided, steady as u64, "{g}");
    assert!(decided > undecided, "{g}");
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn fleet_judges_every_series_and_group_twice_and_its_group_alert_fires() {
    let (_data, tsdb) = backfill(&every_shape());
    let source = prometheus("global:\n  scrape_interval: 30s\n", Some(&tsdb));
    // A PromQL error in the first pass: one line, exit 2.
    let out = leakwatch()
        .args(["fleet", "sum(", "--prometheus", &source.url])
        .args(["--textfile", "/tmp/never-written.prom"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused the query") && err.lines().count() == 1,
        "{err}"
    );
    analyze_by_prints_both_groups(&source.url);
    let (port, dir) = (free_port(), tempfile::tempdir().unwrap());
    let textfile = dir.path().join("fleet.prom");
    let mut fleet = Command::new(leakwatch_path())
        .args([
            "fleet",
            "synth_memory_bytes",
            "--range",
            "6h",
            "--every",
            "2s",
        ])
        .args([
            "--by",
            "version",
            "--limit",
            "8GiB",
            "--prometheus",
            &source.url,
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--textfile")
        .arg(&textfile)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    // Two passes: the last pass's time changes.
    let pass_at = || {
        let text = get(&metrics)?;
        value(
            &samples(&text),
            "leakwatch_fleet_last_pass_timestamp_seconds",
            &[],
        )
    };
    let mut first = None;
    wait_until("fleet's first pass", Duration::from_secs(60), || {
        first = pass_at();
        first.is_some()
    });
    wait_until("fleet's second pass", Duration::from_secs(60), || {
        pass_at().is_some_and(|t| Some(t) != first)
    });
    let text = get(&metrics).unwrap();
    judged_right(&samples(&text));
    crate::exposition::promtool_check(&text).unwrap();
    crate::exposition::promtool_check(&std::fs::read_to_string(&textfile).unwrap()).unwrap();
    // A second Prometheus scrapes the fleet; the example group alert (its
    // `for` cut to nothing) fires for the leaking version alone.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/prometheus/leakwatch-fleet-rules.yml"
    ))
    .unwrap();
    let quick: String = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => l.split("for:").next().unwrap().to_string() + "for: 0s",
            None => l.to_string(),
        } + "\n")
        .collect();
    let rules_file = dir.path().join("rules.yml");
    std::fs::write(&rules_file, quick).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: fleet\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
        rules_file.display()
    );
    let watcher = prometheus(&config, None);
    let alerts = format!("{}/api/v1/alerts", watcher.url);
    let firing = |alert: &str| -> Vec<String> {
        let body = get(&alerts).unwrap_or_default();
        let j: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        j["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["labels"]["alertname"] == alert && a["state"] == "firing")
            .map(|a| a["labels"]["version"].as_str().unwrap_or("").to_string())
            .collect()
    };
    wait_until("FleetGroupLeaking to fire", Duration::from_secs(60), || {
        !firing("FleetGroupLeaking").is_empty()
    });
    assert_eq!(firing("FleetGroupLeaking"), [LEAKING]);
    // The rates' summary came through the OpenMetrics scrape too.
    let q = format!(
        r#"leakwatch_fleet_group_growth_bytes_per_second{{version="{LEAKING}",quantile="0.5"}}"#
    );
    let median: f64 = crate::prometheus::query_value(&watcher.url, &q)
        .unwrap()
        .parse()
        .unwrap();
    assert!(median > 0.0, "{median}");
    // The source goes away: passes fail, the verdicts stay, errors count.
    drop(source);
    let errors = || {
        value(
            &samples(&get(&metrics)?),
            "leakwatch_fleet_query_errors_total",
            &[],
        )
    };
    wait_until("two failed passes", Duration::from_secs(60), || {
        errors().is_some_and(|e| e >= 2.0)
    });
    judged_right(&samples(&get(&metrics).unwrap()));
    signal(fleet.id(), libc::SIGTERM);
    let status = fleet.wait().unwrap();
    let mut err = String::new();
    fleet
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err.matches("a pass failed").count(), 1, "{err}");
    let left = std::fs::read_to_string(&textfile).unwrap();
    let kept: Vec<&str> = left.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(kept, ["leakwatch_fleet_up 0.0"], "{left}");
}

#[test]
fn fleet_bad_input_is_one_line_and_exit_2() {
    let down = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("f.prom");
    let tf = tf.to_str().unwrap();
    for (args, msg) in [
        (
            vec!["fleet", "up", "--prometheus", "not-a-url", "--textfile", tf],
            "--prometheus: 'not-a-url' is not an http:// or https:// URL",
        ),
        (
            vec![
                "fleet",
                "up",
                "--prometheus",
                &down,
                "--every",
                "0s",
                "--textfile",
                tf,
            ],
            "--every: must be more than 0",
        ),
        (
            vec!["fleet", "up", "--prometheus", &down],
            "fleet: give --listen ADDR",
        ),
        (
            vec!["fleet", "up", "--textfile", tf],
            "fleet: give the server to read with --prometheus URL",
        ),
        (
            vec![
                "fleet",
                "up",
                "--prometheus",
                &down,
                "--listen",
                "127.0.0.1:0",
            ],
            "cannot reach Prometheus",
        ),
        (
            vec!["analyze", "up", "--prometheus", &down, "--by", "a-b"],
            "--by: 'a-b' is not a label name",
        ),
        (
            vec![
                "fleet",
                "up",
                "--prometheus",
                &down,
                "--by",
                "__name__",
                "--textfile",
                tf,
            ],
            "--by: '__name__': names that start with __ are Prometheus' own",
        ),
        (
            vec!["analyze", "log.csv", "--by", "version"],
            "--by: give it with --prometheus URL QUERY",
        ),
    ] {
        let out = leakwatch()
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    assert!(!std::path::Path::new(tf).exists());
}

#[test]
fn sigint_ends_fleet_at_once_also_in_the_middle_of_a_pass() {
    // A server that takes connections and never answers: the first pass
    // waits on it (up to --timeout 60s).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(8).collect();
        std::thread::sleep(Duration::from_secs(120));
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut fleet = Command::new(leakwatch_path())
        .args(["fleet", "up", "--timeout", "60s", "--prometheus", &url])
        .arg("--textfile")
        .arg(dir.path().join("f.prom"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let sent = std::time::Instant::now();
    signal(fleet.id(), libc::SIGINT);
    wait_until("fleet to end on SIGINT", Duration::from_secs(5), || {
        fleet.try_wait().unwrap().is_some()
    });
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    let status = fleet.wait().unwrap();
    let mut err = String::new();
    fleet
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "", "nothing to say: no pass ended");
}
