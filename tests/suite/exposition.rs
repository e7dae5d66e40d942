//! The exposition as Prometheus' own tools read it: `promtool check metrics`
//! passes on `/metrics` and on the textfile of a watch of every metric; a
//! followed target exposes only its current process; a command name that is
//! not UTF-8 is a lossy, escaped label.

use crate::common::*;
use crate::listen::{Reaped, Served};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What `promtool check metrics` says of `text`: Ok, or its complaints.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (from Debian's prometheus package)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The value of the series that `line_start` begins (name and labels).
fn value(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))?
        .parse()
        .ok()
}

#[test]
fn promtool_accepts_metrics_and_the_textfile_of_a_watch_of_every_metric() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("leakwatch.prom");
    let target = Reaped(spawn_leaky(&["leak", "--rate", "2097152"]));
    let pid = target.0.id();
    let path = prom.to_str().unwrap();
    let mut w = Served::watch(
        pid,
        &[
            "--metrics",
            "rss,vsz,pss,uss,swap,fds,threads",
            "--limit",
            "8GiB",
            "--textfile",
            path,
        ],
    );
    let mut text = String::new();
    wait_until("a time to the limit", Duration::from_secs(90), || {
        text = w.scrape();
        text.contains("leakwatch_time_to_limit_seconds{")
    });
    let labels = format!("pid=\"{pid}\",command=\"leaky\"");
    for family in [
        "fds",
        "threads",
        "fds_growth_per_second",
        "threads_growth_per_second",
    ] {
        assert!(
            text.contains(&format!("leakwatch_{family}{{{labels}")),
            "{family}: {text}"
        );
    }
    assert!(!text.contains("leakwatch_count"), "{text}");
    assert_eq!(
        value(&text, &format!("leakwatch_up{{{labels}}}")),
        Some(1.0)
    );
    promtool_check(&text).unwrap_or_else(|e| panic!("/metrics: {e}\n{text}"));
    let file = std::fs::read_to_string(&prom).unwrap();
    assert!(file.contains("leakwatch_fds{"), "{file}");
    promtool_check(&file).unwrap_or_else(|e| panic!("the textfile: {e}\n{file}"));
    // What Prometheus asks for: OpenMetrics, the counter named without _total.
    let (_, _, om) = w
        .http(b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n")
        .unwrap();
    let om = String::from_utf8(om).unwrap();
    assert!(om.contains("# TYPE leakwatch_samples counter\n"), "{om}");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert_eq!(w.stop(), Some(0));
    let last = std::fs::read_to_string(&prom).unwrap();
    promtool_check(&last).unwrap_or_else(|e| panic!("the last textfile: {e}\n{last}"));
}

#[test]
fn a_followed_target_exposes_only_its_current_process() {
    let secs = format!("{}.25", 900_000 + std::process::id() % 90_000);
    let first = Reaped(spawn_sleep(&secs));
    let pattern = format!("sleep {secs}");
    let w = Served::start(
        &["--name", &pattern, "--follow", "-i", "100ms", "-d", "120s"],
        "127.0.0.1:0",
    );
    let old = format!("pid=\"{}\"", first.0.id());
    wait_until(
        "the first process's verdicts",
        Duration::from_secs(30),
        || w.scrape().contains(&format!("leakwatch_verdict{{{old}")),
    );
    drop(first);
    let second = Reaped(spawn_sleep(&secs));
    let new = format!("pid=\"{}\"", second.0.id());
    let mut text = String::new();
    wait_until(
        "the next process's verdicts",
        Duration::from_secs(30),
        || {
            text = w.scrape();
            text.contains(&format!("leakwatch_verdict{{{new}"))
        },
    );
    assert!(!text.contains(&old), "{old} is gone, but:\n{text}");
    assert_eq!(
        value(&text, &format!("leakwatch_up{{{new},command=\"sleep\"}}")),
        Some(1.0),
        "{text}"
    );
    promtool_check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// `sleep`, as found on PATH.
fn sleep_program() -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("sleep"))
        .find(|p| p.is_file())
        .expect("sleep on PATH")
}

#[test]
fn a_command_name_that_is_not_utf8_is_a_lossy_escaped_label() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // The kernel names a process after the file it runs: these bytes.
    let name = b"a\xff\xfe\"b\\c";
    let link = dir.path().join(std::ffi::OsStr::from_bytes(name));
    std::os::unix::fs::symlink(sleep_program(), &link).unwrap();
    let target = Reaped(
        Command::new(&link)
            .arg("300")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = target.0.id();
    wait_until("the odd name", Duration::from_secs(30), || {
        std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with(name))
    });
    let w = Served::watch(pid, &[]);
    let text = w.scrape();
    let label = "command=\"a\u{fffd}\u{fffd}\\\"b\\\\c\"";
    assert!(
        text.contains(&format!(
            "leakwatch_verdict{{pid=\"{pid}\",{label},metric=\"rss\""
        )),
        "{text}"
    );
    promtool_check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}
