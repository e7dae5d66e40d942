//! The log, the target and the terminal under hostile use: each test here
//! failed before its fix.

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// A log of `n` rows of a steady leak (1 KiB a second from 50 MB) for PID 3.
fn leak_log(n: usize) -> String {
    log_text((0..n).map(|i| (i as f64, 5e7 + 1024.0 * i as f64)), 3)
}

/// Runs `leakwatch analyze` on `text`: (exit code, stdout, stderr).
fn analyze_text(text: &[u8]) -> (Option<i32>, String, String) {
    let out = leakwatch()
        .args(["analyze", "-"])
        .write_stdin(text.to_vec())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), s(&out.stdout), s(&out.stderr))
}

/// The error is one line of bounded length.
fn one_short_line(err: &str) {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    assert!(!err.contains('\0'));
}

#[test]
fn a_stray_quote_is_an_error_naming_its_line() {
    let mut text = leak_log(10_000);
    let at = text.match_indices('\n').nth(99).unwrap().0;
    text.insert(at - 3, '"');
    let (code, out, err) = analyze_text(text.as_bytes());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty());
    assert!(err.contains("line 100") && err.contains("quote"), "{err}");
    one_short_line(&err);
}

#[test]
fn only_a_last_line_without_its_newline_is_cut_short() {
    // A complete last line with a bad number is an error.
    let mut text = leak_log(20);
    text.push_str("2023-11-14T22:14:10.000Z,20.000,3,50.4MB,100\n");
    let (code, _, err) = analyze_text(text.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 22") && err.contains("'50.4MB'"), "{err}");
    // A last row cut mid-number is skipped, not read as 95 bytes.
    let mut text = leak_log(20);
    text.push_str("2023-11-14T22:14:10.000Z,20.000,3,15010240,95");
    let (code, out, err) = analyze_text(text.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("samples:   20 "), "{out}");
    assert!(
        err.starts_with("leakwatch: warning:") && err.contains("line 22"),
        "{err}"
    );
}

#[test]
fn implausible_values_are_errors_naming_line_and_column() {
    for (bad, column) in [
        ("1.7e308", "rss_bytes"),
        ("-5", "rss_bytes"),
        ("inf", "rss_bytes"),
        ("NaN", "rss_bytes"),
        ("1e19", "rss_bytes"),
    ] {
        let text = leak_log(20).replacen(",50010240,", &format!(",{bad},"), 1);
        assert_ne!(text, leak_log(20));
        let (code, out, err) = analyze_text(text.as_bytes());
        assert_eq!(code, Some(2), "{bad}: {out}{err}");
        assert!(
            err.contains("column 4") && err.contains(column),
            "{bad}: {err}"
        );
        one_short_line(&err);
        // plot refuses what analyze refuses, and writes nothing.
        let dir = tempfile::tempdir().unwrap();
        let (log, svg) = (dir.path().join("x.csv"), dir.path().join("x.svg"));
        std::fs::write(&log, &text).unwrap();
        leakwatch()
            .arg("plot")
            .arg(&log)
            .arg("-o")
            .arg(&svg)
            .timeout(Duration::from_secs(30))
            .assert()
            .code(2);
        assert!(!svg.exists());
    }
    let text = leak_log(20).replacen(",100020480\n", ",-1e308\n", 1);
    let (code, _, err) = analyze_text(text.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("vsz_bytes"), "{err}");
}

#[test]
fn a_clock_stepped_back_between_runs_keeps_the_runs_in_order() {
    // Two appended runs of one leaking process; the second's timestamps are
    // an hour before the first's (the wall clock was set back).
    let first = leak_log(300);
    let second: String = log_text(
        (0..300).map(|i| (i as f64, 5e7 + 1024.0 * (300 + i) as f64)),
        3,
    )
    .lines()
    .skip(1)
    .map(|l| format!("{}\n", l.replacen("2023-11-14T22:", "2023-11-14T21:", 1)))
    .collect();
    let (code, out, err) = analyze_text(format!("{first}{second}").as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("leaking\n"), "{out}");
    assert!(out.contains("samples:   600 "), "{out}");
    assert!(
        err.starts_with("leakwatch: warning:") && err.contains("placed right after"),
        "{err}"
    );
}

#[test]
fn an_endless_line_is_an_error_in_bounded_memory() {
    // analyze /dev/zero: no newline, ever.
    let out = leakwatch()
        .args(["analyze", "/dev/zero"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("longer than"), "{err}");
    one_short_line(&err);
    // A 50 MB line of NULs and quotes after a good header: a short error,
    // and the process's peak memory stays small.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.csv");
    let mut text = leak_log(5).into_bytes();
    text.extend(std::iter::repeat_n(b"\0\"x".as_slice(), 17_000_000).flatten());
    std::fs::write(&p, &text).unwrap();
    // Started from a small python3, whose wait4 gives the child's own peak
    // (a child forked from this big test process would count its pages).
    drop(text);
    let script = "import os,subprocess,sys\n\
        p=subprocess.Popen(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\n\
        _,st,ru=os.wait4(p.pid,0)\n\
        print(os.waitstatus_to_exitcode(st),ru.ru_maxrss)";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(leakwatch_path())
        .arg("analyze")
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<i64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(f[0], 2, "{text}");
    assert!(f[1] < 40 * 1024, "peak RSS {} KiB", f[1]);
}

#[test]
fn a_target_that_execs_is_still_the_target() {
    let tree = std::thread::spawn(a_child_that_execs_still_counts_in_the_tree);
    // smaps_rollup is bound to the memory of before the exec: the watch must
    // reopen it, not take the target for exited.
    let (code, j) = run_json(&[
        "-d",
        "3s",
        "-i",
        "100ms",
        "--metrics",
        "pss",
        "--",
        "sh",
        "-c",
        "sleep 0.3; exec sleep 5",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(j["ended_by"], "duration", "{j}");
    assert!(j["samples"].as_u64().unwrap() >= 25, "{j}");
    tree.join().unwrap();
}

/// A child that execs after it was found still counts in the tree's sum.
fn a_child_that_execs_still_counts_in_the_tree() {
    let leaky = leaky_path();
    let script = format!(
        "(sleep 0.5; exec {} steady --warmup-bytes 33554432 --warmup-secs 0.2) & wait",
        leaky.display()
    );
    let (_, j) = run_json(&[
        "-d",
        "3s",
        "-i",
        "100ms",
        "--children",
        "--metrics",
        "pss",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let pss = j["metrics"]["pss_bytes"]["baseline_end"].as_f64().unwrap();
    assert!(pss > 24.0 * 1024.0 * 1024.0, "pss {pss}: {j}");
}

#[test]
fn a_fifo_log_never_hangs_the_watch() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut target = spawn_sleep("60");
    let pid = target.id().to_string();
    // No reader: refused at once.
    leakwatch()
        .args(["--pid", &pid, "-n", "2", "-o"])
        .arg(&fifo)
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no one reads"));
    // A reader that never reads: the pipe fills, yet --duration ends the watch.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let out = leakwatch()
        .args([
            "--pid",
            &pid,
            "-i",
            "1ms",
            "-d",
            "4s",
            "-q",
            "--format",
            "json",
            "--metrics",
            "fds,threads",
            "-o",
        ])
        .arg(&fifo)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out.stdout)["ended_by"], "write error");
    // And so does Ctrl-C, on an open-ended watch.
    let mut watch = Command::new(leakwatch_path())
        .args(["--pid", &pid, "-i", "1ms", "-q", "-o"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(watch.id(), libc::SIGINT);
    let start = std::time::Instant::now();
    wait_until("the watch to end", Duration::from_secs(10), || {
        matches!(watch.try_wait(), Ok(Some(_)))
    });
    assert!(start.elapsed() < Duration::from_secs(10));
    target.kill().ok();
    target.wait().ok();
}

#[test]
fn an_absurd_interval_is_no_panic() {
    let mut target = spawn_sleep("30");
    let out = leakwatch()
        .args([
            "-p",
            &target.id().to_string(),
            "-i",
            "500000000000y",
            "-d",
            "1s",
            "-q",
        ])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    target.kill().ok();
    target.wait().ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Where no thread can be started (a user at its process limit),
/// `analyze` and `plot` read the log on their own thread: the same verdict,
/// no panic. Run as `nobody` with `prlimit --nproc=1`, which leaves the
/// process itself and no thread more.
#[test]
fn without_threads_a_log_is_still_read_and_judged_the_same() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.path().join("leak.csv");
    std::fs::write(&log, leak_log(3000)).unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let limited = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["prlimit", "--nproc=1:1"])
            .arg(leakwatch_path())
            .args(args)
            .output()
            .unwrap()
    };
    let path = log.to_str().unwrap();
    let alone = limited(&["analyze", path, "--format", "json"]);
    assert!(
        alone.status.success(),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let threaded = leakwatch()
        .args(["analyze", path, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&alone.stdout),
        String::from_utf8_lossy(&threaded.stdout)
    );
    let svg = dir.path().join("leak.svg");
    let plotted = limited(&["plot", path, "-o", svg.to_str().unwrap()]);
    assert!(
        plotted.status.success(),
        "{}",
        String::from_utf8_lossy(&plotted.stderr)
    );
}
