//! The log, the target and the terminal under hostile use: each test here
//! failed before its fix.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A recording of 30 flat samples, in `dir`.
fn recording(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let p = dir.path().join("recording.csv");
    std::fs::write(&p, log_text((0..30).map(|i| (i as f64, 1e6)), 7)).unwrap();
    p
}

#[test]
fn a_header_only_log_without_its_newline_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("s.csv");
    std::fs::write(&log, "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes").unwrap();
    leakwatch()
        .args(["-q", "-n", "3", "--replay"])
        .arg(recording(&dir))
        .arg("-o")
        .arg(&log)
        .assert()
        .success();
    assert_eq!(
        rows(&log).len(),
        3,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    leakwatch()
        .args(["analyze", "--format", "json"])
        .arg(&log)
        .assert()
        .success()
        .stdout(predicates::str::contains("\"samples\": 3"));
}

#[test]
fn a_second_writer_of_one_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("s.csv");
    let mut target = spawn_sleep("30");
    let pid = target.id().to_string();
    let mut first = Command::new(leakwatch_path())
        .args(["--pid", &pid, "-i", "20ms", "-q", "-o"])
        .arg(&log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("rows in the log", Duration::from_secs(30), || {
        rows(&log).len() >= 2
    });
    leakwatch()
        .args(["--pid", &pid, "-n", "2", "-i", "10ms", "-q", "-o"])
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("another leakwatch is writing"));
    signal(first.id(), libc::SIGINT);
    assert!(first.wait().unwrap().success());
    target.kill().ok();
    target.wait().ok();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("timestamp,").count(), 1, "{text}");
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.contains(&format!(",{pid},")))
    );
}

#[test]
fn plot_never_writes_over_its_input_or_a_file_that_is_not_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let log = recording(&dir);
    let before = std::fs::read(&log).unwrap();
    let link = dir.path().join("link.svg");
    std::os::unix::fs::symlink(&log, &link).unwrap();
    for out in [&log, &link] {
        leakwatch()
            .arg("plot")
            .arg(&log)
            .arg("-o")
            .arg(out)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("the log being plotted"));
    }
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "remember the milk\n").unwrap();
    leakwatch()
        .arg("plot")
        .arg(&log)
        .arg("-o")
        .arg(&notes)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "remember the milk\n"
    );
    leakwatch()
        .args(["plot", "--force"])
        .arg(&log)
        .arg("-o")
        .arg(&notes)
        .assert()
        .success();
    // An SVG, ours from before, is written over without --force.
    leakwatch()
        .arg("plot")
        .arg(&log)
        .arg("-o")
        .arg(&notes)
        .assert()
        .success();
}

#[test]
fn a_command_that_exits_at_once_always_gets_the_report() {
    for _ in 0..20 {
        let out = leakwatch()
            .args(["--format", "json", "-q", "--", "sh", "-c", "exit 3"])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j = json(&out.stdout);
        assert_eq!(j["target_exit"], "exited with status 3", "{j}");
        assert_eq!(j["verdict"], "inconclusive");
        assert_eq!(j["ended_by"], "target exited");
    }
}

#[test]
fn grandchildren_end_with_the_watch() {
    let marker = "sleep 1037";
    leakwatch()
        .args(["-q", "-d", "1s", "--children", "--", "sh", "-c"])
        .arg(format!("{marker} & {marker} & wait"))
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    wait_until("the grandchildren to end", Duration::from_secs(10), || {
        let ps = Command::new("pgrep").args(["-f", marker]).output().unwrap();
        ps.stdout.is_empty()
    });
}

#[test]
fn a_kernel_thread_is_named_as_such() {
    fails_with(&["-p", "2", "-n", "1"], "is a kernel thread");
}

#[test]
fn a_started_commands_output_stays_out_of_the_json() {
    let out = leakwatch()
        .args([
            "--format", "json", "-q", "-i", "100ms", "-d", "1s", "--", "sh", "-c",
        ])
        .arg("echo hello from the command; sleep 5")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(j["ended_by"], "duration");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hello from the command"));
}

#[test]
fn a_closed_or_full_stdout_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let log = recording(&dir);
    let mut child = Command::new(leakwatch_path())
        .args(["analyze", "--format", "json"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(leakwatch_path())
        .arg("analyze")
        .arg(&log)
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write the report") && !err.contains("panicked"),
        "{err}"
    );
}
