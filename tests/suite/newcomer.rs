//! A newcomer's first ten minutes (issue 24): which process grows, on any
//! terminal; targets found by any part of their command line; verdicts
//! that name their target; unknown rates that read as unknown.

use crate::common::{json, leakwatch, leakwatch_path, wait_until};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A tag no other test's processes carry.
pub(crate) fn tag(name: &str) -> String {
    format!("lwnc-{name}-{}", std::process::id())
}

/// The python3 interpreter by its whole path, as `sys.executable` names it
/// (a command line that starts with a long directory, as a pyenv or venv
/// python's does).
fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 (the test command installs it)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Children ended when it goes, a failed assertion or not; and a cgroup
/// of theirs removed.
struct Kids(Vec<Child>, Option<std::path::PathBuf>);

impl Drop for Kids {
    fn drop(&mut self) {
        end(std::mem::take(&mut self.0));
        if let Some(cg) = &self.1 {
            let gone = |d: &std::path::Path| std::fs::remove_dir(d).is_ok() || !d.exists();
            wait_until("the cgroup to empty", Duration::from_secs(10), || {
                gone(&cg.join("app"))
            });
            std::fs::remove_dir(cg).ok();
        }
    }
}

/// Kills `kids`, and the whole process group of one that leads its own
/// (a shell's servers too, which would otherwise outlive the test).
fn end(mut kids: Vec<Child>) {
    for k in &mut kids {
        let pid = k.id() as libc::pid_t;
        // SAFETY: getpgid(2) and kill(2) on a child of ours, not yet reaped.
        unsafe {
            if libc::getpgid(pid) == pid {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        k.kill().ok();
    }
    for k in &mut kids {
        k.wait().ok();
    }
}

/// A tmux session `name` of `cols` × 24 running `cmd`.
pub(crate) struct Tmux(String);

impl Tmux {
    pub(crate) fn start(name: &str, cols: u32, cmd: &str) -> Tmux {
        Tmux::sized(name, cols, 24, cmd)
    }

    /// A session of `cols` × `rows`.
    pub(crate) fn sized(name: &str, cols: u32, rows: u32, cmd: &str) -> Tmux {
        let st = Command::new("tmux")
            .args(["new-session", "-d", "-s", name, "-x", &cols.to_string()])
            .args(["-y", &rows.to_string(), cmd])
            .status()
            .expect("tmux (the test command installs it)");
        assert!(st.success());
        Tmux(name.to_string())
    }

    pub(crate) fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen and everything scrolled off it.
    pub(crate) fn history(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-S", "-", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen once it shows `needle` (waiting up to a minute).
    pub(crate) fn screen_with(&self, needle: &str) -> String {
        let mut screen = String::new();
        wait_until(needle, Duration::from_secs(60), || {
            screen = self.capture();
            screen.contains(needle)
        });
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status()
            .ok();
    }
}

/// A shell that starts the article's server, leaking and fixed, under a
/// python3 named by its whole path, with the script's whole path, and
/// `args` (with `MODE` for the mode); in a process group of its own, which
/// [`end`] ends whole. Returns once both servers have started; the shell
/// is `.0[0]`.
fn servers(args: &str) -> Kids {
    use std::os::unix::process::CommandExt;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leaky_server.py");
    let py = python();
    let sh = format!(
        "{py} {script} {} & {py} {script} {} & wait",
        args.replace("MODE", "leak"),
        args.replace("MODE", "fixed")
    );
    let sh = Command::new("sh")
        .args(["-c", &sh])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = sh.id();
    wait_until("both servers", Duration::from_secs(30), || {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        kids.split_whitespace().count() >= 2
    });
    Kids(vec![sh], None)
}

/// Item 1: at 100 and at 60 columns, scan's table (live and at the end)
/// shows each server's program and the arguments that tell them apart.
#[test]
fn scan_shows_which_process_grows_at_100_and_60_columns() {
    let servers = servers("--load 40 --mode MODE");
    let pid = servers.0[0].id();
    let sessions: Vec<(u32, Tmux)> = [100, 60]
        .into_iter()
        .map(|cols| {
            let cmd = format!(
                "{} scan --children-of {pid} -i 200ms -d 6s; sleep 60",
                leakwatch_path().display()
            );
            (cols, Tmux::start(&tag(&format!("scan{cols}")), cols, &cmd))
        })
        .collect();
    let live: Vec<String> = sessions
        .iter()
        .map(|(_, t)| t.screen_with("leakwatch scan:"))
        .collect();
    let report: Vec<String> = sessions
        .iter()
        .map(|(_, t)| t.screen_with("watched for"))
        .collect();
    drop(servers);
    for (((cols, _), live), report) in sessions.iter().zip(&live).zip(&report) {
        for screen in [live, report] {
            let cols = *cols as usize;
            assert!(
                screen.lines().all(|l| l.chars().count() <= cols),
                "{screen}"
            );
            for mode in ["--mode leak", "--mode fixed"] {
                let row = screen
                    .lines()
                    .find(|l| l.ends_with(mode))
                    .unwrap_or_else(|| panic!("{cols} columns: no row of {mode}:\n{screen}"));
                // The program's base name, not the start of its directory.
                assert!(row.contains(" python3"), "{row}");
                assert!(!row.contains("/bin/python3"), "{row}");
            }
        }
    }
    // The leaking one is first, its rate known, at either width.
    for r in &report {
        let mut rows = r
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("PID "));
        let first = rows.nth(1).unwrap_or("");
        assert!(
            first.contains("leaking") && first.ends_with("--mode leak"),
            "{r}"
        );
    }
    // Room at 100 columns: the end of the script's name too.
    assert!(
        report[0].contains(".py --load 40 --mode leak"),
        "{}",
        report[0]
    );
}

/// Items 1 and 3, with the arguments in the README's order (`--mode leak
/// --load 40`, the mode in the middle of the command line): at 100 and at
/// 60 columns, on a terminal too short for every row, every live screen
/// has the title on its first line and the counts whole below it (a narrow
/// terminal drops whole parts, never the end of one), and each server's
/// row, live and in the report, shows `python3` and the end that tells the
/// leaking server from the fixed one.
#[test]
fn the_modes_in_the_middle_stay_visible_and_the_title_on_top() {
    let servers = servers("--mode MODE --load 40");
    let pid = servers.0[0].id();
    // Rows for the title, the counts, a blank, the header, one target and
    // "… 1 more": the two servers do not both fit.
    let sessions: Vec<(usize, Tmux)> = [100, 60]
        .into_iter()
        .map(|cols| {
            let cmd = format!(
                "{} scan --children-of {pid} -i 200ms -d 6s; sleep 60",
                leakwatch_path().display()
            );
            let t = Tmux::sized(&tag(&format!("mid{cols}")), cols as u32, 6, &cmd);
            (cols, t)
        })
        .collect();
    let mut live: Vec<Vec<String>> = vec![Vec::new(); sessions.len()];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline
        && !sessions
            .iter()
            .all(|(_, t)| t.capture().contains("watched for"))
    {
        for ((_, t), screens) in sessions.iter().zip(&mut live) {
            let screen = t.capture();
            if screen.contains("Ctrl-C") || screen.contains("leaking") {
                screens.push(screen);
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let reports: Vec<String> = sessions.iter().map(|(_, t)| t.history()).collect();
    drop(servers);
    for (((cols, _), screens), report) in sessions.iter().zip(&live).zip(&reports) {
        let cols = *cols;
        let screens: Vec<&String> = screens
            .iter()
            .filter(|s| !s.contains("watched for"))
            .collect();
        assert!(screens.len() >= 3, "{cols} columns: {screens:?}");
        for screen in &screens {
            let lines: Vec<&str> = screen.lines().collect();
            assert!(lines.len() <= 6, "{screen}");
            assert!(lines.iter().all(|l| l.chars().count() <= cols), "{screen}");
            assert!(
                lines[0].starts_with("leakwatch scan: ") && lines[0].ends_with("; Ctrl-C ends it")
                    || lines[0].ends_with("; Ctrl-C ends it with the report"),
                "{cols} columns, the title:\n{screen}"
            );
            assert!(
                lines[1].ends_with(" of 2 processes") && !lines[1].contains('…'),
                "{cols} columns, the counts:\n{screen}"
            );
            for row in lines.iter().filter(|l| l.contains("python3")) {
                assert!(
                    row.ends_with("leak --load 40") || row.ends_with("fixed --load 40"),
                    "{cols} columns: {row}"
                );
            }
        }
        let start = report.rfind("watched for").unwrap();
        let rows: Vec<&str> = report[start..].lines().collect();
        for mode in ["leak", "fixed"] {
            let row = rows
                .iter()
                .find(|l| l.contains("  python3 ") && l.ends_with(&format!("{mode} --load 40")))
                .unwrap_or_else(|| panic!("{cols} columns, no row of {mode}:\n{report}"));
            assert!(row.chars().count() <= cols, "{row}");
            if cols == 100 {
                assert!(row.ends_with(&format!("--mode {mode} --load 40")), "{row}");
            }
        }
    }
}

/// Idle python processes whose command lines are 4 KiB long, `tag-a` and
/// `tag-b` at their very end.
fn long_command_lines(tag: &str) -> Vec<Child> {
    let kids: Vec<Child> = ["a", "b"]
        .iter()
        .map(|which| {
            Command::new(python())
                .args(["-c", "import time; time.sleep(120)"])
                .args(std::iter::repeat_n("x".repeat(63), 64))
                .arg(format!("{tag}-{which}"))
                .spawn()
                .unwrap()
        })
        .collect();
    for k in &kids {
        let f = format!("/proc/{}/cmdline", k.id());
        wait_until("python to start", Duration::from_secs(30), || {
            std::fs::read(&f).is_ok_and(|c| c.len() > 4096)
        });
    }
    kids
}

/// Items 1 and 2: `scan --name` finds processes by the end of a 4 KiB
/// command line, and `--name`'s list of matches shows each one's program
/// and the end that tells them apart.
#[test]
fn a_name_at_the_end_of_a_4_kib_command_line_is_found() {
    let t = tag("long");
    let kids = long_command_lines(&t);
    let out = leakwatch()
        .args([
            "scan", "--name", &t, "-i", "100ms", "-d", "1s", "--format", "json",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let listed = leakwatch()
        .args(["--name", &t, "-d", "1s"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let ids: Vec<u64> = kids.iter().map(|k| u64::from(k.id())).collect();
    end(kids);
    let r = json(&out.stdout);
    let mut pids: Vec<u64> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["samples"].as_u64().unwrap() > 0)
        .map(|x| x["pid"].as_u64().unwrap())
        .collect();
    pids.sort();
    assert_eq!(pids, ids, "{r:#}");
    let err = String::from_utf8_lossy(&listed.stderr);
    assert_eq!(listed.status.code(), Some(2), "{err}");
    for which in ["a", "b"] {
        let line = err
            .lines()
            .find(|l| l.ends_with(&format!("{t}-{which}'")))
            .unwrap_or_else(|| panic!("no line for {which}: {err}"));
        assert!(line.contains("'python3 -c import time"), "{line}");
        assert!(line.chars().count() < 100, "{line}");
    }
}

/// Item 6: the forked workers a scan of `--children-of` finds at its first
/// listing (forks that never exec join a listing later) were watched for
/// the whole scan: an inconclusive one makes the scan inconclusive, exit 3
/// with --fail-on-leak, as it does by --name.
#[test]
fn children_seen_at_the_first_listing_are_no_late_joiners() {
    let t = tag("forked");
    let parent = crate::common::spawn_leaky(&["forked", "--tag", &t]);
    let pid = parent.id();
    wait_until("the workers", Duration::from_secs(30), || {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        kids.split_whitespace().count() >= 3
    });
    let scan = |select: &[&str]| {
        leakwatch()
            .arg("scan")
            .args(select)
            .args([
                "-i",
                "200ms",
                "-d",
                "2s",
                "--fail-on-leak",
                "--format",
                "json",
            ])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    };
    let by_name = {
        let t = t.clone();
        std::thread::spawn(move || scan(&["--name", &t]))
    };
    let out = scan(&["--children-of", &pid.to_string()]);
    let by_name = by_name.join().unwrap();
    end(vec![parent]);
    for (out, kids) in [(&out, 3), (&by_name, 4)] {
        let r = json(&out.stdout);
        let targets = r["targets"].as_array().unwrap();
        let mine: Vec<&serde_json::Value> = targets
            .iter()
            .filter(|x| !x["command"].as_str().unwrap().contains("leakwatch"))
            .collect();
        assert_eq!(mine.len(), kids, "{r:#}");
        for x in &mine {
            assert_eq!(x["first_seen_s"], 0.0, "{x:#}");
        }
        let c = &r["counts"];
        let (verdict, code) = if c["leaking"].as_u64() > Some(0) {
            ("leaking", 1)
        } else if c["inconclusive"].as_u64() > Some(0) {
            ("inconclusive", 3)
        } else {
            ("plateau", 0)
        };
        assert_eq!(r["verdict"], verdict, "{r:#}");
        assert_eq!(out.status.code(), Some(code), "{r:#}");
    }
}

/// Item 7: `repeat -n` below 10 is refused before any run; a repeat the
/// command's failures stop says so, not that it needs 10 runs.
#[test]
fn too_few_runs_are_refused_before_any_and_failures_are_the_reason() {
    let mut target = crate::common::spawn_sleep("60");
    let pid = target.id().to_string();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let run = format!("touch {}", marker.display());
    let out = leakwatch()
        .args(["repeat", "-p", &pid, "-n", "5", "--", "sh", "-c", &run])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-n 5: repeat needs at least 10 runs"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!marker.exists(), "a run was started");
    let out = leakwatch()
        .args(["repeat", "-p", &pid, "-n", "10", "--", "sh", "-c", "exit 7"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let json_out = leakwatch()
        .args(["repeat", "-p", &pid, "-n", "12", "--format", "json"])
        .args(["--", "sh", "-c", "exit 7"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    target.kill().ok();
    target.wait().ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("runs:      3 done, 3 failed"), "{text}");
    assert!(
        text.contains("reason:    the repeat stopped after 3 of 10 runs (the command failed)"),
        "{text}"
    );
    assert!(!text.contains("at least 10"), "{text}");
    let j = json(&json_out.stdout);
    assert_eq!(
        (j["runs"].as_u64(), j["runs_asked"].as_u64()),
        (Some(3), Some(12))
    );
    assert!(
        !j["reason"].as_str().unwrap().contains("at least 10"),
        "{j}"
    );
}

/// Item 8: an inconclusive with no rate yet says the rate is unknown
/// (`null`, `rate_known: false`), not 0, which a pipeline reads as no
/// growth; once known, it is a number.
#[test]
fn an_unknown_rate_is_null_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.csv");
    let long = dir.path().join("long.csv");
    let flat = |n: usize| crate::common::log_text((0..n).map(|i| (i as f64, 5e6)), 7);
    std::fs::write(&short, flat(4)).unwrap();
    std::fs::write(&long, flat(120)).unwrap();
    let report = |log: &std::path::Path| {
        let out = leakwatch()
            .args(["analyze", "--format", "json"])
            .arg(log)
            .output()
            .unwrap();
        json(&out.stdout)
    };
    let j = report(&short);
    assert_eq!(j["verdict"], "inconclusive", "{j:#}");
    assert_eq!(j["rate_known"], false, "{j:#}");
    assert!(j["growth_rate_bytes_per_s"].is_null(), "{j:#}");
    assert!(j["growth_rate_ci95"].is_null(), "{j:#}");
    let rss = &j["metrics"]["rss_bytes"];
    assert!(rss["growth_rate_per_s"].is_null() && rss["growth_rate_ci95"].is_null());
    let j = report(&long);
    assert_eq!(j["rate_known"], true, "{j:#}");
    assert_eq!(j["growth_rate_bytes_per_s"], 0.0, "{j:#}");
    assert_eq!(j["growth_rate_ci95"].as_array().map(Vec::len), Some(2));
    // In a scan's targets too, beside its text table's "not yet known".
    let mut idle = crate::common::spawn_sleep("30");
    let pid = idle.id().to_string();
    let out = leakwatch()
        .args(["scan", "--children-of", &std::process::id().to_string()])
        .args(["-i", "100ms", "-d", "300ms", "--format", "json"])
        .output()
        .unwrap();
    idle.kill().ok();
    idle.wait().ok();
    let r = json(&out.stdout);
    let t = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["pid"].as_u64().map(|p| p.to_string()) == Some(pid.clone()))
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(t["rate_known"], false, "{t:#}");
    assert!(t["growth_rate_bytes_per_s"].is_null(), "{t:#}");
}

/// Item 8, for `repeat`: a repeat its command's failures stop has no rate
/// per run; it is `null` with `rate_known: false` (in every metric too),
/// not 0 bytes a run, which a pipeline would read as no leak.
#[test]
fn a_repeat_without_a_rate_per_run_says_null_not_zero() {
    let mut target = crate::common::spawn_sleep("60");
    let pid = target.id().to_string();
    let out = leakwatch()
        .args(["repeat", "-p", &pid, "-n", "10", "--format", "json"])
        .args(["--", "sh", "-c", "exit 7"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    target.kill().ok();
    target.wait().ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    // A command silent on stderr is said to be, not quoted as ''.
    assert!(
        err.contains("failed 3 times in a row (exited with status 7); it wrote nothing on stderr"),
        "{err}"
    );
    let j = json(&out.stdout);
    assert_eq!(
        (j["verdict"].as_str(), j["runs"].as_u64()),
        (Some("inconclusive"), Some(3)),
        "{j:#}"
    );
    assert_eq!(j["rate_known"], false, "{j:#}");
    assert!(j["retained_bytes_per_run"].is_null(), "{j:#}");
    assert!(j["retained_bytes_per_run_ci95"].is_null(), "{j:#}");
    let metrics = j["metrics"].as_object().unwrap();
    assert!(metrics.contains_key("rss_bytes"), "{j:#}");
    for (col, m) in metrics {
        assert_eq!(m["rate_known"], false, "{col}: {j:#}");
        assert!(
            m["per_run"].is_null() && m["per_run_ci95"].is_null(),
            "{col}: {j:#}"
        );
    }
}

/// The fields a scan target and `analyze` of its log must agree on.
const SAME: [&str; 8] = [
    "verdict",
    "samples",
    "rate_known",
    "growth_rate_bytes_per_s",
    "growth_rate_ci95",
    "baseline_end_bytes",
    "window_s",
    "reason",
];

/// Runs `scan ARGS -o DIR` and checks that `analyze` of each target's log
/// gives that target's verdict and numbers; returns the scan's report.
fn scan_equals_analyze_of_its_logs(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let out = leakwatch()
        .arg("scan")
        .args(args)
        .args(["--format", "json", "-o"])
        .arg(&logs)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let r = json(&out.stdout);
    for t in r["targets"].as_array().unwrap() {
        let log = t["source"].as_str().expect("a log per target");
        let a = leakwatch()
            .args(["analyze", "--format", "json", log])
            .output()
            .unwrap();
        let a = json(&a.stdout);
        for k in SAME {
            assert_eq!(t[k], a[k], "{k} of {log}: scan {t:#}\nanalyze {a:#}");
        }
    }
    r
}

/// Item 9: a scan's verdicts and rates are those `analyze` gives of the
/// scan's own per-target logs (same samples, same detector), for processes
/// and for cgroups, over more samples than a scan without logs keeps
/// buckets for.
#[test]
fn scan_rates_equal_analyze_of_the_scans_logs() {
    let t = tag("same");
    let mut kids = Kids(
        vec![
            crate::common::spawn_leaky(&["leak", "--rate", "2097152", "--tag", &t]),
            crate::common::spawn_leaky(&["steady", "--tag", &t]),
        ],
        None,
    );
    let cgroup = cgroup_root();
    std::fs::create_dir_all(cgroup.join("app")).expect("root, for a cgroup");
    kids.1 = Some(cgroup.clone());
    let procs = cgroup.join("app/cgroup.procs");
    let script = format!(
        "echo $$ > {} && exec {} leak --rate 1048576",
        procs.display(),
        crate::common::leaky_path().display()
    );
    kids.0.push(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the cgroup's process", Duration::from_secs(10), || {
        std::fs::read_to_string(&procs).is_ok_and(|p| !p.trim().is_empty())
    });
    let root = cgroup.to_str().unwrap().to_string();
    let side = std::thread::spawn(move || {
        scan_equals_analyze_of_its_logs(&["--cgroups", &root, "-i", "50ms", "-d", "7s"])
    });
    let r = scan_equals_analyze_of_its_logs(&["--name", &t, "-i", "50ms", "-d", "7s"]);
    let c = side.join().unwrap();
    drop(kids);
    assert_eq!(c["counts"]["targets"], 1, "{c:#}");
    let targets = r["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{r:#}");
    assert!(
        targets.iter().all(|t| t["samples"].as_u64() > Some(100)),
        "{r:#}"
    );
}

/// A cgroup of this test's own below the memory hierarchy's root.
fn cgroup_root() -> std::path::PathBuf {
    let v2 = std::path::Path::new("/sys/fs/cgroup");
    let root = if std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
    {
        v2.to_path_buf()
    } else {
        v2.join("memory")
    };
    root.join(tag("cg"))
}
