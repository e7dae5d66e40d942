//! `--replay`: a log fed through the live watch loop on a simulated clock
//! reaches exactly `analyze`'s verdict, with every live option.

use crate::common::*;
use leakwatch::synth::{Shape, generate};
use std::path::{Path, PathBuf};

const MIB: f64 = 1024.0 * 1024.0;

/// Rows of (elapsed, rss) for `pid`, timestamps starting `ts0` seconds after
/// a fixed epoch; vsz is twice rss.
fn rows_text(rows: &[(f64, f64)], pid: u32, ts0: f64) -> String {
    let mut s = String::new();
    for &(t, v) in rows {
        let ts = humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(1_700_000_000.0 + ts0 + t),
        );
        s.push_str(&format!(
            "{ts},{t:.3},{pid},{},{}\n",
            v as u64,
            v as u64 * 2
        ));
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `analyze` and `--replay` on `log` with `extra` options: their JSON reports.
fn both(log: &Path, extra: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let a = leakwatch()
        .args(["analyze", "--format", "json"])
        .arg(log)
        .args(extra)
        .output()
        .unwrap();
    let r = leakwatch()
        .args(["--format", "json", "-q", "--replay"])
        .arg(log)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        a.status.success() && r.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&r.stderr)
    );
    (json(&a.stdout), json(&r.stdout))
}

fn assert_same(log: &Path, extra: &[&str]) {
    let (a, r) = both(log, extra);
    for k in [
        "verdict",
        "samples",
        "growth_rate_bytes_per_s",
        "growth_rate_ci95",
        "baseline_end_bytes",
        "window_s",
        "reason",
        "metrics",
        "set_aside",
    ] {
        assert_eq!(
            a[k],
            r[k],
            "{}: {k}: analyze {a} vs replay {r}",
            log.display()
        );
    }
}

#[test]
fn replay_equals_analyze_on_every_log_in_docs() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut n = 0;
    for e in std::fs::read_dir(docs).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "csv") {
            assert_same(&p, &[]);
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} logs in docs/");
}

#[test]
fn replay_equals_analyze_on_every_shape() {
    let dir = tempfile::tempdir().unwrap();
    for shape in Shape::ALL {
        for seed in 0..2 {
            let s = generate(shape, seed, 300.0, 0.5);
            let header = "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n";
            let log = write(
                dir.path(),
                &format!("{}-{seed}.csv", shape.name()),
                &format!("{header}{}", rows_text(&s.samples, 7, 0.0)),
            );
            assert_same(&log, &[]);
        }
    }
}

#[test]
fn replay_places_appended_runs_and_earlier_watches_as_analyze_does() {
    let dir = tempfile::tempdir().unwrap();
    let header = "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n";
    let run = |a: f64| -> Vec<(f64, f64)> {
        (0..120)
            .map(|i| (i as f64, 100.0 * MIB + a + 0.5 * MIB * i as f64))
            .collect()
    };
    // Two runs of PID 7, the second appended an hour later: one watch.
    let appended = format!(
        "{header}{}{}",
        rows_text(&run(0.0), 7, 0.0),
        rows_text(&run(60.0 * MIB), 7, 3600.0)
    );
    assert_same(&write(dir.path(), "appended.csv", &appended), &[]);
    // A watch of PID 7, then one of PID 8: the first is set aside.
    let flat: Vec<(f64, f64)> = (0..120).map(|i| (i as f64, 50.0 * MIB)).collect();
    let two = format!(
        "{header}{}{}",
        rows_text(&run(0.0), 7, 0.0),
        rows_text(&flat, 8, 200.0)
    );
    let log = write(dir.path(), "two.csv", &two);
    assert_same(&log, &[]);
    let (_, r) = both(&log, &[]);
    assert_eq!(r["verdict"], "plateau", "{r}");
    assert_eq!(r["pid"], 8);
}

#[test]
fn replay_takes_every_live_option() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(Shape::Linear, 3, 600.0, 1.0);
    let header = "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n";
    let log = write(
        dir.path(),
        "leak.csv",
        &format!("{header}{}", rows_text(&s.samples, 7, 0.0)),
    );
    assert_same(&log, &["--judge", "vsz"]);
    assert_same(&log, &["--min-rate", "1GiB/h", "--warmup", "60s"]);
    // --fail-on-leak turns the verdict into the exit code.
    leakwatch()
        .args(["-q", "--fail-on-leak", "--replay"])
        .arg(&log)
        .assert()
        .code(1)
        .stdout(predicates::str::starts_with("leaking\n"));
    // -n and -d count samples and simulated seconds.
    let (code, j) = run_json(&["-n", "50", "--replay", log.to_str().unwrap()]);
    assert_eq!((code, j["samples"].as_u64()), (Some(0), Some(50)));
    assert_eq!(j["ended_by"], "sample count");
    let (_, j) = run_json(&["-d", "100s", "--replay", log.to_str().unwrap()]);
    assert_eq!(j["samples"], 101);
    assert_eq!(j["ended_by"], "duration");
    let (_, j) = run_json(&["--replay", log.to_str().unwrap()]);
    assert_eq!(j["ended_by"], "end of log");
    // -o writes a log that analyze judges the same.
    let out = dir.path().join("again.csv");
    let (_, j) = run_json(&[
        "--replay",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(rows(&out).len(), s.samples.len());
    let (a, _) = both(&out, &[]);
    assert_eq!(a["growth_rate_bytes_per_s"], j["growth_rate_bytes_per_s"]);
    assert_eq!(a["verdict"], j["verdict"]);
    // Never into itself.
    fails_with(
        &[
            "--replay",
            log.to_str().unwrap(),
            "-o",
            log.to_str().unwrap(),
        ],
        "into itself",
    );
    fails_with(
        &["--replay", log.to_str().unwrap(), "--judge", "fds"],
        "no column 'fds'",
    );
}

#[test]
fn time_to_the_limit() {
    // 4 MiB/s from 100 MiB: a 1 GiB limit is (1024 - floor) / 4 seconds away.
    let dir = tempfile::tempdir().unwrap();
    let leak: Vec<(f64, f64)> = (0..60)
        .map(|i| {
            let t = i as f64 * 0.1;
            (t, 100.0 * MIB + 4.0 * MIB * t)
        })
        .collect();
    let header = "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n";
    let log = write(
        dir.path(),
        "leak.csv",
        &format!("{header}{}", rows_text(&leak, 7, 0.0)),
    );
    let (_, j) = run_json(&["--limit", "1GiB", "--replay", log.to_str().unwrap()]);
    assert_eq!(j["limit_bytes"].as_f64().unwrap(), 1024.0 * MIB);
    assert_eq!(j["limit_source"], "--limit");
    let floor = j["baseline_end_bytes"].as_f64().unwrap();
    let expect = (1024.0 * MIB - floor) / (4.0 * MIB);
    let t = j["time_to_limit_s"].as_f64().unwrap();
    assert!((t - expect).abs() < 0.25 * expect, "{t} vs {expect}");
    let ci = j["time_to_limit_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= t && t <= ci[1].as_f64().unwrap());

    let flat: Vec<(f64, f64)> = (0..60).map(|i| (i as f64 * 0.1, 100.0 * MIB)).collect();
    let log = write(
        dir.path(),
        "flat.csv",
        &format!("{header}{}", rows_text(&flat, 7, 0.0)),
    );
    let out = leakwatch()
        .args(["-q", "--limit", "1GiB", "--replay"])
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("won't reach it at the current rate"),
        "{text}"
    );
}
