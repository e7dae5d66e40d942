//! `leakwatch repeat` against real servers: `leaky serve`, which keeps an
//! exact number of bytes per connection, and the article's server; the
//! retention per run is checked against the truth measured independently.

use crate::common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The RSS of `pid` now, bytes, from /proc (as ps would say).
fn rss(pid: u32) -> f64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: f64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
    pages * 4096.0
}

/// Waits until something listens on `port`.
fn listening(port: u16) {
    wait_until("the server to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// `leaky serve` keeping `retain` bytes a connection, on a free port.
fn leaky_server(retain: u64) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(leaky_path())
        .args([
            "serve",
            "--port",
            &port.to_string(),
            "--retain",
            &retain.to_string(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    listening(port);
    (child, port)
}

/// Runs repeat against `pid` with `args` and the command after them: (exit code, JSON).
fn repeat(pid: u32, args: &[&str], cmd: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = leakwatch()
        .args(["repeat", "--format", "json", "-p", &pid.to_string()])
        .args(args)
        .arg("--")
        .args(cmd)
        .timeout(Duration::from_secs(180))
        .output()
        .unwrap();
    assert!(
        !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), json(&out.stdout))
}

/// `runs` runs of 4 connections against `leaky serve --retain retain`: the
/// exit code, the report, and the server's RSS growth per run measured here.
fn leaky_repeat(retain: u64, runs: &str) -> (Option<i32>, serde_json::Value, f64) {
    let (mut server, port) = leaky_server(retain);
    let before = rss(server.id());
    let client = leaky_path();
    let p = port.to_string();
    let cmd = [
        client.to_str().unwrap(),
        "client",
        "--port",
        &p,
        "--requests",
        "4",
    ];
    let args = ["-n", runs, "--cooldown", "1s", "--fail-on-leak"];
    let (code, j) = repeat(server.id(), &args, &cmd);
    let measured = (rss(server.id()) - before) / runs.parse::<f64>().unwrap();
    server.kill().ok();
    server.wait().ok();
    (code, j, measured)
}

#[test]
fn bytes_retained_per_run_are_measured_within_ten_percent() {
    // 4 connections a run, 64 KiB kept for each: 256 KiB a run.
    let (code, j, measured) = leaky_repeat(65536, "20");
    assert_eq!(code, Some(1), "{j}");
    assert_eq!(j["verdict"], "leaking");
    assert_eq!(j["runs"], 20);
    let est = j["retained_bytes_per_run"].as_f64().unwrap();
    for truth in [256.0 * 1024.0, measured] {
        assert!((est - truth).abs() < 0.1 * truth, "{est} vs {truth}: {j}");
    }
    assert_eq!(j["returned_to_baseline"], false);
    assert!(j["held_after_cooldown_bytes"].as_f64().unwrap() > 4.0 * 1024.0 * 1024.0);
    // What next, for a native program.
    assert!(
        j["next_step"].as_str().unwrap().contains("heaptrack -p"),
        "{j}"
    );
}

#[test]
fn a_server_that_keeps_nothing_is_a_plateau_near_zero() {
    let (code, j, _) = leaky_repeat(0, "15");
    assert_eq!(code, Some(0), "{j}");
    assert_eq!(j["verdict"], "plateau");
    assert!(
        j["retained_bytes_per_run"].as_f64().unwrap().abs() < 4096.0,
        "{j}"
    );
    assert_eq!(j["returned_to_baseline"], true);
}

/// The article's server in `mode`, on a free port.
fn article_server(mode: &str) -> (Child, u16) {
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leaky_server.py");
    let child = Command::new("python3")
        .args([script, "--mode", mode, "--port", &port.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    listening(port);
    (child, port)
}

fn article_repeat(mode: &str, metrics: &str) -> (serde_json::Value, f64) {
    let (mut server, port) = article_server(mode);
    // Settle the server's first connections before measuring.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leaky_server.py");
    let p = port.to_string();
    let cmd = [
        "python3",
        script,
        "--client-only",
        "--port",
        &p,
        "--load",
        "1000",
        "--connections",
        "50",
    ];
    let before = rss(server.id());
    let (_, j) = repeat(
        server.id(),
        &["-n", "20", "--cooldown", "1s", "--metrics", metrics],
        &cmd,
    );
    let measured = (rss(server.id()) - before) / 20.0;
    server.kill().ok();
    server.wait().ok();
    (j, measured)
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn the_articles_server_leaks_per_connection_and_the_fixed_one_does_not() {
    let leak = std::thread::spawn(|| article_repeat("leak", "rss,vsz"));
    let fixed = std::thread::spawn(|| article_repeat("fixed", "rss,vsz"));
    let sockets = std::thread::spawn(|| article_repeat("sockets", "fds"));
    let (j, measured) = leak.join().unwrap();
    assert_eq!(j["verdict"], "leaking", "{j}");
    let est = j["retained_bytes_per_run"].as_f64().unwrap();
    assert!(
        (est - measured).abs() < 0.1 * measured,
        "{est} vs {measured}: {j}"
    );
    let (j, _) = fixed.join().unwrap();
    assert_eq!(j["verdict"], "plateau", "{j}");
    assert!(
        j["retained_bytes_per_run"].as_f64().unwrap().abs() < 4096.0,
        "{j}"
    );
    // Sockets never closed: 50 file descriptors a run.
    let (j, _) = sockets.join().unwrap();
    let fds = &j["metrics"]["fds"];
    assert_eq!(fds["verdict"], "leaking", "{j}");
    assert!((fds["per_run"].as_f64().unwrap() - 50.0).abs() < 1.0, "{j}");
}

#[test]
fn repeat_errors_are_one_clear_line() {
    let (mut server, _) = leaky_server(0);
    let pid = server.id().to_string();
    fails_with(
        &[
            "repeat",
            "-p",
            &pid,
            "-n",
            "10",
            "--",
            "/nonexistent/client",
        ],
        "cannot start",
    );
    fails_with(&["repeat", "-p", &pid, "-n", "0", "--", "true"], "above 0");
    // A command that keeps failing: stopped after 3, its last stderr line quoted.
    let out = leakwatch()
        .args([
            "repeat",
            "-p",
            &pid,
            "-n",
            "10",
            "--",
            "sh",
            "-c",
            "echo 'no route to the server' >&2; exit 7",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("failed 3 times in a row") && err.contains("'no route to the server'"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 done, 3 failed"));
}

#[test]
fn the_log_has_a_run_column_that_analyze_reads() {
    let (mut server, port) = leaky_server(4096);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.csv");
    let client = leaky_path();
    let p = port.to_string();
    leakwatch()
        .args([
            "repeat",
            "-p",
            &server.id().to_string(),
            "-n",
            "10",
            "--cooldown",
            "300ms",
            "-o",
        ])
        .arg(&log)
        .arg("--")
        .args([client.to_str().unwrap(), "client", "--port", &p])
        .assert()
        .success();
    server.kill().ok();
    server.wait().ok();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with("timestamp,elapsed_s,pid,rss_bytes,vsz_bytes,run\n"),
        "{text}"
    );
    let runs: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(runs.first(), Some(&"0"));
    assert_eq!(runs.last(), Some(&"-1"), "the cool-down is run -1");
    leakwatch().arg("analyze").arg(&log).assert().success();
    // plot marks the runs and the cool-down.
    let svg = dir.path().join("runs.svg");
    leakwatch()
        .arg("plot")
        .arg(&log)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.contains("runs (10;") && svg.contains("cool-down"),
        "{svg}"
    );
}

#[test]
fn a_target_that_exits_mid_repeat_is_reported_and_an_error() {
    let (mut server, port) = leaky_server(0);
    let pid = server.id().to_string();
    let client = leaky_path();
    // Run 3 ends the target.
    let script = format!(
        "n=$(cat {dir}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {dir}/n; \
         [ $n -ge 3 ] && kill {pid}; {client} client --port {port}",
        dir = std::env::temp_dir()
            .join(format!("lw-repeat-{pid}"))
            .display(),
        client = client.display()
    );
    std::fs::create_dir_all(std::env::temp_dir().join(format!("lw-repeat-{pid}"))).unwrap();
    let out = leakwatch()
        .args(["repeat", "-p", &pid, "-n", "10", "--", "sh", "-c", &script])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    server.wait().ok();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("ended by:  target exited"), "{stdout}");
    assert!(
        stderr.contains("exited during run 3 of 10") || stdout.contains("2 done"),
        "{stdout}{stderr}"
    );
}

#[test]
fn ctrl_c_mid_run_ends_the_command_and_reports_the_runs_done() {
    let (mut server, _) = leaky_server(0);
    let marker = "sleep 1041";
    let rep = Command::new(leakwatch_path())
        .args([
            "repeat",
            "-p",
            &server.id().to_string(),
            "-n",
            "10",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!("{marker}; true"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the run to start", Duration::from_secs(20), || {
        !Command::new("pgrep")
            .args(["-f", marker])
            .output()
            .unwrap()
            .stdout
            .is_empty()
    });
    signal(rep.id(), libc::SIGINT);
    let out = rep.wait_with_output().unwrap();
    server.kill().ok();
    server.wait().ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("interrupted (SIGINT)") && text.contains("0 done"),
        "{text}"
    );
    wait_until(
        "the command's group to end",
        Duration::from_secs(10),
        || {
            Command::new("pgrep")
                .args(["-f", marker])
                .output()
                .unwrap()
                .stdout
                .is_empty()
        },
    );
}

/// Fake runs against a fake target: each run adds `retain` bytes to the
/// target and ends after `polls` polls, failing when `fails` says so.
struct FakeRuns {
    rss: std::rc::Rc<std::cell::Cell<u64>>,
    gone: std::rc::Rc<std::cell::Cell<bool>>,
    retain: u64,
    fails: fn(u64) -> bool,
    gone_in: Option<u64>,
}

struct FakeRun {
    left: u32,
    ok: bool,
}

impl leakwatch::repeat::Run for FakeRun {
    fn poll(&mut self) -> Option<leakwatch::repeat::RunStatus> {
        if self.left > 0 {
            self.left -= 1;
            return None;
        }
        Some(leakwatch::repeat::RunStatus {
            ok: self.ok,
            how: if self.ok {
                "exited with status 0"
            } else {
                "exited with status 7"
            }
            .into(),
            last_err: "no route to the server".into(),
        })
    }
    fn stop(&mut self) {}
}

impl leakwatch::repeat::Runner for FakeRuns {
    fn start(&mut self, run: u64) -> anyhow::Result<Box<dyn leakwatch::repeat::Run>> {
        self.rss.set(self.rss.get() + self.retain);
        if self.gone_in == Some(run) {
            self.gone.set(true);
        }
        Ok(Box::new(FakeRun {
            left: 2,
            ok: !(self.fails)(run),
        }))
    }
}

/// A repeat of `runs` fake runs: the outcome, and the rows logged.
fn fake_repeat(
    runs: u64,
    retain: u64,
    fails: fn(u64) -> bool,
    gone_in: Option<u64>,
) -> (leakwatch::repeat::RepeatOutcome, Vec<String>) {
    use leakwatch::repeat::{Parts, RepeatConfig, repeat};
    let rss = std::rc::Rc::new(std::cell::Cell::new(50u64 << 20));
    let gone = std::rc::Rc::new(std::cell::Cell::new(false));
    let cfg = RepeatConfig {
        target: leakwatch::watch::Target::Pid(9),
        children: false,
        start_wait: Duration::ZERO,
        command: vec!["client".into()],
        runs,
        interval: Duration::from_millis(100),
        cooldown: Some(Duration::from_secs(1)),
        max_per_run: 4096.0,
        metrics: vec![
            leakwatch::metrics::Metric::Rss,
            leakwatch::metrics::Metric::Vsz,
        ],
        output: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.csv");
    let mut log = leakwatch::log::LogWriter::open_with(&path, &cfg.metrics, true).unwrap();
    let mut clock = leakwatch::sys::clock::FakeClock::new();
    let mut runner = FakeRuns {
        rss: rss.clone(),
        gone: gone.clone(),
        retain,
        fails,
        gone_in,
    };
    let parts = Parts {
        clock: &mut clock,
        sampler: Box::new(crate::fakes::Shared { rss, gone, pid: 9 }),
        outputs: vec![&mut log],
        stop: &mut || None,
    };
    let out = repeat(&cfg, parts, &mut runner).unwrap();
    drop(log);
    (out, rows(&path))
}

#[test]
fn fake_runs_are_judged_per_run_exactly() {
    let (out, rows) = fake_repeat(12, 65536, |_| false, None);
    let r = leakwatch::report::repeat::RepeatReport::from(&out);
    assert_eq!(
        (out.runs, out.failed, out.ended_by.as_deref()),
        (12, 0, None)
    );
    assert_eq!(r.verdict.as_str(), "leaking");
    let per_run = r
        .retained_bytes_per_run
        .expect("a rate known after 12 runs");
    assert!((per_run - 65536.0).abs() < 1.0, "{per_run}");
    assert_eq!(r.returned_to_baseline, Some(false));
    // 5 baseline samples (run 0), each run sampled on its ticks and once
    // the moment it ends, then a second of cool-down (run -1).
    let run_of = |l: &String| l.rsplit(',').next().unwrap().to_string();
    assert_eq!(rows.iter().filter(|l| run_of(l) == "0").count(), 5);
    assert_eq!(run_of(rows.last().unwrap()), "-1");
    assert!(rows.iter().any(|l| run_of(l) == "12"));
    // Nothing retained: a plateau near zero that comes back.
    let (out, _) = fake_repeat(12, 0, |_| false, None);
    let r = leakwatch::report::repeat::RepeatReport::from(&out);
    assert_eq!(
        (r.verdict.as_str(), r.returned_to_baseline),
        ("plateau", Some(true))
    );
}

#[test]
fn three_failed_runs_in_a_row_stop_it_and_a_target_gone_mid_run_is_an_error() {
    let (out, _) = fake_repeat(12, 0, |run| run >= 4, None);
    assert_eq!((out.runs, out.failed), (6, 3));
    assert_eq!(out.ended_by.as_deref(), Some("the command failed"));
    let e = out.error.unwrap().to_string();
    assert!(
        e.contains("failed 3 times in a row (exited with status 7)")
            && e.contains("'no route to the server'"),
        "{e}"
    );
    let (out, _) = fake_repeat(12, 0, |_| false, Some(3));
    assert_eq!(
        (out.runs, out.ended_by.as_deref()),
        (2, Some("target exited"))
    );
    assert!(
        out.error
            .unwrap()
            .to_string()
            .contains("during run 3 of 12")
    );
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn what_a_run_starts_in_the_background_ends_with_the_run() {
    let (mut server, _) = leaky_server(0);
    let marker = "sleep 9797";
    let out = leakwatch()
        .args(["repeat", "-p", &server.id().to_string(), "-n", "10"])
        .args(["--", "sh", "-c"])
        .arg(format!("{marker} & true"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    let left = Command::new("pgrep")
        .args(["-fc", marker])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout).trim().to_string();
    Command::new("pkill").args(["-f", marker]).status().ok();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(left, "0", "runs left {left} background sleeps running");
}
