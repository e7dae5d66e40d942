//! The live watch on real processes that the tests start: a child that
//! allocates at a known rate, one that holds steady, idle ones; every way a
//! watch ends; the log's append and refusal rules; and leakwatch's own memory.
//! No assertion depends on timing: children run long enough, and waits poll.

use crate::common::*;
use predicates::prelude::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;

/// Run by `side_by_side` (it waits on real seconds).
pub fn a_leaking_child_is_leaking_at_its_rate() {
    // Beside it, a leak that leakwatch starts itself fails the build.
    let spawned = std::thread::spawn(spawn_mode_catches_a_leak_and_fails_the_build);
    // 2 MiB/s after a 1 s warm-up of 8 MiB.
    let child = spawn_leaky(&[
        "leak",
        "--rate",
        "2097152",
        "--warmup-bytes",
        "8388608",
        "--warmup-secs",
        "1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("leak.csv");
    let log_arg = log.to_str().unwrap();
    let (code, j) = watch_child(
        child,
        &["-i", "100ms", "-d", "6s", "--metrics", "pss", "-o", log_arg],
    );
    assert_eq!(code, Some(0));
    assert_eq!(j["verdict"], "leaking", "{j}");
    for (what, rate) in [
        ("rss", j["growth_rate_bytes_per_s"].as_f64().unwrap()),
        (
            "pss",
            j["metrics"]["pss_bytes"]["growth_rate_per_s"]
                .as_f64()
                .unwrap(),
        ),
    ] {
        assert!(
            (rate - 2.0 * MIB).abs() < 0.25 * 2.0 * MIB,
            "{what} rate {rate} vs 2 MiB/s"
        );
    }
    assert_eq!(j["ended_by"], "duration");
    // Live times and values reach the log as the loop saw them: analyze of
    // the log gives the live verdict.
    let offline = leakwatch()
        .args(["analyze", "--format", "json", log_arg])
        .output()
        .unwrap();
    let o = json(&offline.stdout);
    for k in [
        "verdict",
        "samples",
        "growth_rate_bytes_per_s",
        "growth_rate_ci95",
        "baseline_end_bytes",
        "window_s",
        "reason",
    ] {
        assert_eq!(j[k], o[k], "{k}: live {j} vs offline {o}");
    }
    // --judge pss fails on the same samples.
    let (code, p) = run_json(&["--replay", log_arg, "--judge", "pss", "--fail-on-leak"]);
    assert_eq!(
        (code, p["column"].as_str()),
        (Some(1), Some("pss_bytes")),
        "{p}"
    );
    spawned.join().unwrap();
}

/// `-- CMD`: a leak that leakwatch starts itself fails the build.
fn spawn_mode_catches_a_leak_and_fails_the_build() {
    let leaky = leaky_path();
    leakwatch()
        .args(["-d", "5s", "-i", "100ms", "-q", "--fail-on-leak", "--"])
        .arg(&leaky)
        .args(["leak", "--rate", "4194304", "--warmup-secs", "0.5"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("leaking"));
}

#[test]
fn samples_match_ps() {
    let mut child = spawn_sleep("30");
    let pid = child.id().to_string();
    let out = leakwatch()
        .args(["--pid", &pid, "-n", "3", "-i", "10ms", "-o", "-", "-q"])
        .output()
        .unwrap();
    let ps = Command::new("ps")
        .args(["-o", "rss=,vsz=", "-p", &pid])
        .output()
        .unwrap();
    child.kill().ok();
    child.wait().ok();
    assert!(out.status.success());
    let ps: Vec<u64> = String::from_utf8_lossy(&ps.stdout)
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let log = String::from_utf8_lossy(&out.stdout);
    let mut lines = log.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,elapsed_s,pid,rss_bytes,vsz_bytes")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[2], pid);
        assert_eq!(f[3].parse::<u64>().unwrap(), ps[0] * 1024, "rss");
        assert_eq!(f[4].parse::<u64>().unwrap(), ps[1] * 1024, "vsz");
    }
    // The verdict went to stderr, the log alone to stdout.
    assert!(String::from_utf8_lossy(&out.stderr).contains("samples:"));
}

#[test]
fn runs_append_to_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("s.csv");
    let rec = recording(&dir);
    for _ in 0..2 {
        leakwatch()
            .args(["-n", "4", "-q", "--replay"])
            .arg(&rec)
            .arg("-o")
            .arg(&log)
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("timestamp,").count(), 1, "one header:\n{text}");
    assert_eq!(rows(&log).len(), 8);
    leakwatch()
        .args(["analyze", "--format", "json"])
        .arg(&log)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"samples\": 8"));
}

#[test]
fn another_header_or_a_foreign_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir);
    for (name, text) in [
        (
            "other.csv",
            "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes,fds\n2024-01-01T00:00:00.000Z,0.000,1,2,3,4\n",
        ),
        ("notes.txt", "remember the milk\n"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        leakwatch()
            .args(["-n", "2", "--replay"])
            .arg(&rec)
            .arg("-o")
            .arg(&p)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("refusing to append").and(predicate::str::contains(name)),
            );
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            text,
            "{name} was changed"
        );
    }
}

/// Starts an open-ended watch of an idle process, waits for rows, sends `sig`.
fn end_with_signal(sig: i32) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("s.csv");
    let mut target = spawn_sleep("60");
    let watch = Command::new(leakwatch_path())
        .args(["--pid", &target.id().to_string(), "-i", "20ms", "-o"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("rows in the log", Duration::from_secs(30), || {
        rows(&log).len() >= 5
    });
    signal(watch.id(), sig);
    let out = watch.wait_with_output().unwrap();
    target.kill().ok();
    target.wait().ok();
    (out, log, dir)
}

fn log_is_complete(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.ends_with('\n'), "last row is complete");
    for row in rows(log) {
        assert_eq!(row.split(',').count(), 5, "row {row}");
    }
}

/// Ends an open-ended watch with `sig`: exit 0, a verdict naming why it
/// ended, every logged sample judged, and a log complete to its last row.
fn ends_cleanly_on(sig: i32, ended_by: &str) {
    let (out, log, _dir) = end_with_signal(sig);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("plateau") || text.starts_with("inconclusive"),
        "{text}"
    );
    assert!(text.contains(&format!("ended by:  {ended_by}")), "{text}");
    log_is_complete(&log);
    let n = rows(&log).len();
    assert!(
        text.contains(&format!("samples:   {n} ")),
        "every logged sample judged: {text}"
    );
}

#[test]
fn ctrl_c_ends_the_watch_with_a_verdict() {
    ends_cleanly_on(libc::SIGINT, "interrupted (SIGINT)");
}

#[test]
fn sigterm_ends_the_watch_with_a_verdict() {
    ends_cleanly_on(libc::SIGTERM, "terminated (SIGTERM)");
}

#[test]
fn sighup_ends_the_watch_with_a_verdict() {
    ends_cleanly_on(libc::SIGHUP, "hung up (SIGHUP)");
}

#[test]
fn the_watch_ends_when_the_target_exits() {
    let (code, j) = watch_child(spawn_sleep("1"), &["-i", "50ms"]);
    assert_eq!(code, Some(0));
    assert_eq!(j["ended_by"], "target exited");
}

#[test]
fn a_missing_pid_is_a_clear_error() {
    fails_with(&["--pid", "4999999"], "no process with PID 4999999");
}

#[test]
fn bad_interval_or_duration_is_a_clear_error() {
    fails_with(&["--pid", "1", "-i", "0s"], "--interval");
    fails_with(&["--pid", "1", "-d", "soon"], "--duration");
    fails_with(&[], "nothing to watch");
}

#[test]
fn a_started_command_is_stopped_and_reaped_when_the_watch_ends() {
    let (code, j) = run_json(&["-d", "1s", "-i", "100ms", "--", "sleep", "30"]);
    assert_eq!(code, Some(0));
    assert_eq!(j["ended_by"], "duration");
    assert_eq!(j["target_exit"], "killed by signal 15 after SIGTERM");
    let pid = j["pid"].as_u64().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "child reaped"
    );
}

#[test]
fn a_started_command_that_exits_ends_the_watch_with_its_status() {
    let (code, j) = run_json(&["-i", "50ms", "--", "sh", "-c", "sleep 0.5; exit 3"]);
    assert_eq!(code, Some(0));
    assert_eq!(j["ended_by"], "target exited");
    assert_eq!(j["target_exit"], "exited with status 3");
}

#[test]
fn a_name_picks_the_one_matching_process() {
    let mut a = spawn_sleep("31.4159");
    let out = leakwatch()
        .args([
            "--name", "31.4159", "-n", "2", "-i", "10ms", "--format", "json", "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out.stdout)["pid"].as_u64().unwrap(), a.id() as u64);
    // Two matches: an error that lists both; none: an error.
    let mut b = spawn_sleep("31.4159");
    leakwatch()
        .args(["--name", "31.4159", "-n", "2"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(a.id().to_string())
                .and(predicate::str::contains(b.id().to_string())),
        );
    for c in [&mut a, &mut b] {
        c.kill().ok();
        c.wait().ok();
    }
    leakwatch()
        .args(["--name", "no-such-process-27.18", "-n", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no process matches"));
}

#[test]
fn children_sums_the_process_tree() {
    let leaky = leaky_path();
    // A shell whose two children each hold 32 MiB.
    let script = format!("{0} steady & {0} steady & wait", leaky.display());
    let mut tree = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let pid = tree.id().to_string();
    wait_until("two children", Duration::from_secs(30), || {
        let out = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count() == 2
    });
    // Poll until both children hold their 32 MiB (their warm-up takes 2 s).
    let (mut a, mut t) = (0.0, 0.0);
    wait_until("the tree's memory", Duration::from_secs(30), || {
        let (_, alone) = run_json(&["--pid", &pid, "-n", "1"]);
        let (_, tree_out) = run_json(&["--pid", &pid, "--children", "-n", "1"]);
        a = alone["baseline_end_bytes"].as_f64().unwrap();
        t = tree_out["baseline_end_bytes"].as_f64().unwrap();
        t - a > 60.0 * MIB
    });
    Command::new("pkill").args(["-P", &pid]).status().ok();
    tree.kill().ok();
    tree.wait().ok();
    assert!(t - a > 60.0 * MIB, "tree {t} vs shell alone {a}");
}

#[test]
fn a_closed_pipe_ends_the_watch_with_exit_2_after_the_verdict() {
    let mut target = spawn_sleep("30");
    let mut watch = Command::new(leakwatch_path())
        .args(["--pid", &target.id().to_string(), "-i", "10ms", "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the header and a row, then close our end.
    let mut stdout = watch.stdout.take().unwrap();
    let mut buf = [0u8; 200];
    use std::io::Read;
    let _ = stdout.read(&mut buf).unwrap();
    drop(stdout);
    let out = watch.wait_with_output().unwrap();
    target.kill().ok();
    target.wait().ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ended by:  write error"), "{err}");
    assert!(
        err.contains("cannot write the log to standard output"),
        "{err}"
    );
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn leakwatch_does_not_leak_itself_and_a_steady_child_is_a_plateau() {
    // Soak: leakwatch samples a steady child every millisecond for 10 s; a
    // second leakwatch watches the first. The child is a plateau (exit 0
    // with --fail-on-leak), and leakwatch's own memory a plateau, and small.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("soak.csv");
    let mut target = spawn_leaky(&["steady", "--warmup-bytes", "33554432", "--warmup-secs", "2"]);
    let inner = Command::new(leakwatch_path())
        .args([
            "--pid",
            &target.id().to_string(),
            "-i",
            "1ms",
            "-d",
            "10s",
            "-q",
            "--fail-on-leak",
            "--format",
            "json",
            "-o",
        ])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = leakwatch()
        .args([
            "--pid",
            &inner.id().to_string(),
            "-i",
            "100ms",
            "--warmup",
            "2s",
            // Eight seconds of RSS that moves in 4 KiB pages cannot rule out
            // 1 MiB/h (a page every 14 s); 20 MiB/h is 6 bytes a sample at
            // 1 ms, which they can.
            "--min-rate",
            "20MiB/h",
            "--format",
            "json",
            "-q",
        ])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let steady = inner.wait_with_output().unwrap();
    target.kill().ok();
    target.wait().ok();
    let child = json(&steady.stdout);
    assert_eq!(child["verdict"], "plateau", "{child}");
    assert_eq!(steady.status.code(), Some(0));
    let j = json(&out.stdout);
    assert_eq!(j["verdict"], "plateau", "{j}");
    let rss = j["baseline_end_bytes"].as_f64().unwrap();
    assert!(rss < 8.0 * MIB, "leakwatch's own RSS is {rss} bytes");
    assert!(
        rows(&log).len() > 5_000,
        "sampled every millisecond (late ticks are skipped)"
    );
}
