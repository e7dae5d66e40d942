//! Helpers shared by the integration tests: the binary, the example child
//! processes, and reading their output.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The leakwatch binary under test.
pub fn leakwatch() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("leakwatch").unwrap()
}

/// Path of the leakwatch binary (for std::process::Command).
pub fn leakwatch_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("leakwatch")
}

/// Path of the `leaky` example, built by `cargo test` beside the test binaries
/// (built here if it is missing, as under some runners).
pub fn leaky_path() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let path = profile_dir.join("examples").join("leaky");
    BUILD.call_once(|| {
        if !path.exists() {
            let release = profile_dir.ends_with("release");
            let mut c = Command::new(env!("CARGO"));
            c.args(["build", "--quiet", "--example", "leaky"]);
            if release {
                c.arg("--release");
            }
            assert!(
                c.status().unwrap().success(),
                "cannot build the leaky example"
            );
        }
    });
    path
}

/// Starts the `leaky` example with `args`, output discarded.
pub fn spawn_leaky(args: &[&str]) -> Child {
    Command::new(leaky_path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts `sleep SECS` (an idle process whose memory does not move) and
/// waits until it has been exec'd and is asleep, so its memory is settled.
pub fn spawn_sleep(secs: &str) -> Child {
    let child = Command::new("sleep")
        .arg(secs)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stat = format!("/proc/{}/stat", child.id());
    wait_until("sleep to settle", Duration::from_secs(30), || {
        let s = std::fs::read_to_string(&stat).unwrap_or_default();
        // "PID (sleep) S ...": exec'd, and blocked in its sleep.
        s.contains("(sleep) S ")
    });
    child
}

/// Parses the JSON report in `out`.
pub fn json(out: &[u8]) -> serde_json::Value {
    let s = String::from_utf8_lossy(out);
    let start = s.find('{').unwrap_or_else(|| panic!("no JSON in {s}"));
    serde_json::from_str(&s[start..]).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// Waits (polling, with a generous limit) until `cond` holds.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child we started.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Data rows in a log file (lines after the header).
pub fn rows(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// A log with `rows` of (elapsed, rss) under the standard header.
pub fn log_text(rows: impl IntoIterator<Item = (f64, f64)>, pid: u32) -> String {
    let mut s = String::from("timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n");
    for (t, v) in rows {
        let ts = humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_secs_f64(t),
        );
        s.push_str(&format!(
            "{ts},{t:.3},{pid},{},{}\n",
            v as u64,
            v as u64 * 2
        ));
    }
    s
}

/// Runs leakwatch with `--format json -q` and `args`; returns its exit code
/// and JSON report.
pub fn run_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = leakwatch()
        .args(["--format", "json", "-q"])
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        !out.stdout.is_empty(),
        "no report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), json(&out.stdout))
}

/// Watches `child` by PID with `args` (JSON report), then ends the child.
pub fn watch_child(mut child: Child, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let pid = child.id().to_string();
    let mut all = vec!["--pid", pid.as_str()];
    all.extend_from_slice(args);
    let res = run_json(&all);
    child.kill().ok();
    child.wait().ok();
    res
}

/// Asserts that leakwatch with `args` exits 2 with `msg` on stderr.
pub fn fails_with(args: &[&str], msg: &str) {
    leakwatch()
        .args(args)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(msg));
}

/// A TCP port free on loopback now, below Linux's ephemeral range
/// (32768–60999): a port the kernel handed out for `:0` could be handed out
/// again as the source port of another test's client connection before the
/// server that is given it binds it. Each call gets a port of its own.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 1000) as u16 * 10;
    (0..12_000)
        .map(|_| 20_000 + (base - 20_000 + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000)
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port on loopback between 20000 and 32000")
}

/// A recording of 30 flat samples of PID 7, to replay, in `dir`.
pub fn recording(dir: &tempfile::TempDir) -> PathBuf {
    let p = dir.path().join("recording.csv");
    std::fs::write(&p, log_text((0..30).map(|i| (i as f64, 1e6)), 7)).unwrap();
    p
}
