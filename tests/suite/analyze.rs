//! `leakwatch analyze` end to end: formats, multi-watch logs, the shell-loop
//! log, exit codes and every error path.

use crate::common::{json, leakwatch, log_text};
use predicates::prelude::*;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn growing(n: usize) -> Vec<(f64, f64)> {
    (0..n).map(|i| (i as f64, 50e6 + 2e5 * i as f64)).collect()
}

fn flat(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| (i as f64, 50e6 + ((i * 7919) % 13) as f64 * 4096.0))
        .collect()
}

#[test]
fn text_verdict_first_then_details() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "g.csv", &log_text(growing(120), 42));
    leakwatch()
        .arg("analyze")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("leaking\n"))
        .stdout(predicate::str::contains("/min").and(predicate::str::contains("/h")))
        .stdout(predicate::str::contains("baseline:"))
        .stdout(predicate::str::contains("reason:"));
}

#[test]
fn json_fields_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "g.csv", &log_text(growing(120), 42));
    let out = leakwatch()
        .args(["analyze", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j = json(&out.stdout);
    assert_eq!(j["verdict"], "leaking");
    assert_eq!(j["samples"], 120);
    assert_eq!(j["pid"], 42);
    let r = j["growth_rate_bytes_per_s"].as_f64().unwrap();
    assert!((r - 2e5).abs() < 2e3, "{r}");
    let ci = j["growth_rate_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= r && r <= ci[1].as_f64().unwrap());
    for k in [
        "duration_s",
        "baseline_start_bytes",
        "baseline_end_bytes",
        "window_s",
        "reason",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
}

#[test]
fn fail_on_leak_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let g = write(&dir, "g.csv", &log_text(growing(120), 1));
    let f = write(&dir, "f.csv", &log_text(flat(120), 1));
    let short = write(&dir, "s.csv", &log_text(growing(3), 1));
    leakwatch().arg("analyze").arg(&g).assert().code(0);
    leakwatch()
        .args(["analyze", "--fail-on-leak"])
        .arg(&g)
        .assert()
        .code(1);
    leakwatch()
        .args(["analyze", "--fail-on-leak"])
        .arg(&f)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("plateau"));
    leakwatch()
        .args(["analyze", "--fail-on-leak"])
        .arg(&short)
        .assert()
        .code(3)
        .stdout(predicate::str::starts_with("inconclusive"));
}

#[test]
fn stdin_and_other_columns() {
    let text = log_text(growing(100), 9);
    leakwatch()
        .args(["analyze", "-", "--column", "vsz_bytes", "--format", "json"])
        .write_stdin(text)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"column\": \"vsz_bytes\""))
        .stdout(predicate::str::contains("\"verdict\": \"leaking\""));
}

#[test]
fn judges_the_last_watch_of_appended_runs() {
    // A leaking process, then a restarted (new PID) flat one: judge the last.
    let mut text = log_text(growing(100), 100);
    text.push_str(log_text(flat(100), 200).split_once('\n').unwrap().1);
    let out = leakwatch()
        .args(["analyze", "-", "--format", "json"])
        .write_stdin(text)
        .output()
        .unwrap();
    let j = json(&out.stdout);
    assert_eq!(j["verdict"], "plateau", "{j}");
    assert_eq!(j["pid"], 200);
    assert_eq!(j["samples"], 100);
    assert!(
        j["set_aside"]
            .as_str()
            .unwrap()
            .contains("1 earlier watch (100 rows)"),
        "{j}"
    );
}

#[test]
fn appended_runs_of_one_process_are_joined_by_timestamp() {
    // Two runs of the same PID, the second 200 s later with elapsed_s from 0 again.
    let first = log_text((0..60).map(|i| (i as f64, 50e6 + 1e5 * i as f64)), 7);
    let second = log_text((260..320).map(|i| (i as f64, 50e6 + 1e5 * i as f64)), 7);
    let second: String = second
        .lines()
        .skip(1)
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            let e: f64 = f[1].parse().unwrap();
            f[1] = format!("{:.3}", e - 260.0);
            f.join(",") + "\n"
        })
        .collect();
    let out = leakwatch()
        .args(["analyze", "-", "--format", "json"])
        .write_stdin(first + &second)
        .output()
        .unwrap();
    let j = json(&out.stdout);
    assert_eq!(j["samples"], 120);
    assert!(
        (j["duration_s"].as_f64().unwrap() - 319.0).abs() < 0.01,
        "{j}"
    );
    assert_eq!(j["verdict"], "leaking");
    assert!(
        j["set_aside"].as_str().unwrap().contains("2 appended runs"),
        "{j}"
    );
}

#[test]
fn reads_the_articles_shell_loop_log() {
    // `ps aux | awk '{print $5" "$6}'`: VSZ RSS in KiB, one line a second.
    let text: String = (0..120)
        .map(|i| format!("{} {}\n", 400000 + i * 10, 20000 + i * 100))
        .collect();
    let out = leakwatch()
        .args(["analyze", "-", "--interval", "2s", "--format", "json"])
        .write_stdin(text)
        .output()
        .unwrap();
    let j = json(&out.stdout);
    assert_eq!(j["verdict"], "leaking");
    assert!((j["duration_s"].as_f64().unwrap() - 238.0).abs() < 1e-6);
    let r = j["growth_rate_bytes_per_s"].as_f64().unwrap();
    assert!((r - 100.0 * 1024.0 / 2.0).abs() < 1.0, "{r}");
}

#[test]
fn empty_logs_are_errors_and_a_single_sample_is_inconclusive() {
    // An empty or header-only log has nothing to judge: an error, not a verdict.
    for text in ["", "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n"] {
        for cmd in ["analyze", "plot"] {
            let mut args = vec![cmd, "-"];
            if cmd == "plot" {
                args.extend(["-o", "/tmp/leakwatch-never-written.svg"]);
            }
            leakwatch()
                .args(&args)
                .write_stdin(text)
                .assert()
                .code(2)
                .stdout("")
                .stderr(predicate::str::contains("no samples"));
        }
    }
    assert!(!std::path::Path::new("/tmp/leakwatch-never-written.svg").exists());
    leakwatch()
        .args(["analyze", "-"])
        .write_stdin(log_text([(0.0, 1e6)], 1))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("inconclusive"));
}

#[test]
fn a_last_row_cut_short_is_skipped_with_a_warning() {
    let mut text = log_text(growing(50), 3);
    text.push_str("2023-11-14T22:14:10.000Z,50.0");
    leakwatch()
        .args(["analyze", "-"])
        .write_stdin(text)
        .assert()
        .success()
        .stderr(predicate::str::contains("warning").and(predicate::str::contains("line 52")))
        .stdout(predicate::str::contains("samples:   50"));
}

#[test]
fn missing_file_is_an_error() {
    leakwatch()
        .args(["analyze", "/nonexistent/samples.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/samples.csv"));
}

#[test]
fn missing_column_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "g.csv", &log_text(growing(10), 1));
    leakwatch()
        .args(["analyze", "--column", "pss_bytes"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("g.csv: line 1: no column 'pss_bytes'")
                .and(predicate::str::contains("--column")),
        );
}

#[test]
fn malformed_number_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = log_text(growing(10), 1);
    text = text.replacen(",50400000,", ",50.4MB,", 1);
    text.push_str(log_text(growing(2), 1).lines().nth(1).unwrap());
    text.push('\n');
    let p = write(&dir, "bad.csv", &text);
    crate::common::fails_with(
        &["analyze", p.to_str().unwrap()],
        "bad.csv: line 4, column 4 (rss_bytes): '50.4MB' is not a number",
    );
}

#[test]
fn malformed_timestamp_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = log_text(growing(10), 1);
    let line3 = text.lines().nth(2).unwrap().to_string();
    let bad = format!("yesterday{}", &line3[line3.find(',').unwrap()..]);
    text = text.replacen(&line3, &bad, 1);
    let p = write(&dir, "ts.csv", &text);
    crate::common::fails_with(
        &["analyze", p.to_str().unwrap()],
        "ts.csv: line 3, column 1 (timestamp): 'yesterday'",
    );
}

#[test]
fn bad_options_are_errors() {
    leakwatch()
        .args(["analyze", "-", "--min-rate", "fast"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--min-rate"));
    leakwatch()
        .args(["analyze", "-", "--warmup", "a while"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--warmup"));
}

#[test]
fn a_big_log_streams() {
    // 200k rows through a pipe: constant memory, no trouble.
    let mut child = std::process::Command::new(crate::common::leakwatch_path())
        .args(["analyze", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"elapsed_s,rss_bytes\n").unwrap();
        let mut buf = String::new();
        for i in 0..200_000u64 {
            buf.push_str(&format!(
                "{}.{:03},{}\n",
                i / 100,
                (i % 100) * 10,
                80_000_000 + (i % 500) * 4096
            ));
            if buf.len() > 1 << 16 {
                stdin.write_all(buf.as_bytes()).unwrap();
                buf.clear();
            }
        }
        stdin.write_all(buf.as_bytes()).unwrap();
    });
    writer.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let j = json(&out.stdout);
    assert_eq!(j["samples"], 200_000);
    assert_eq!(j["verdict"], "plateau", "{j}");
}
