//! Containers and services: real cgroups made by the tests (root and a
//! memory controller are needed: without them these tests fail), watched
//! with `--cgroup` and `scan --cgroups`; and `--follow` through restarts.

use crate::common::{json, leakwatch, leaky_path, rows, run_json, wait_until};
use crate::scan::scan_json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The memory hierarchy's root on this machine (v2 with memory, else v1).
fn memory_root() -> PathBuf {
    let v2 = Path::new("/sys/fs/cgroup");
    if std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"))
    {
        return v2.to_path_buf();
    }
    let v1 = v2.join("memory");
    assert!(
        v1.join("memory.stat").is_file(),
        "these tests need a cgroup memory controller (v1 or v2) mounted under /sys/fs/cgroup"
    );
    v1
}

/// A cgroup made for one test, removed (with what runs in it) at the end.
struct TestCgroup {
    dir: PathBuf,
    kids: Vec<Child>,
}

impl TestCgroup {
    fn new(name: &str) -> TestCgroup {
        let dir = memory_root().join(format!("leakwatch-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {} (root is needed): {e}", dir.display()));
        TestCgroup {
            dir,
            kids: Vec::new(),
        }
    }

    /// A child cgroup `name`.
    fn child(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Starts `leaky ARGS` inside cgroup `dir` (it moves itself in before exec).
    fn start(&mut self, dir: &Path, args: &[&str]) -> u32 {
        let procs = dir.join("cgroup.procs");
        let script = format!(
            "echo $$ > {} && exec {} \"$@\"",
            procs.display(),
            leaky_path().display()
        );
        let c = Command::new("sh")
            .args(["-c", &script, "leaky"])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = c.id();
        let want = pid.to_string();
        wait_until(
            "the process to join its cgroup",
            Duration::from_secs(10),
            || {
                std::fs::read_to_string(&procs)
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l == want)
            },
        );
        self.kids.push(c);
        pid
    }

    /// Ends the process `pid` started here, and waits until it is gone.
    fn stop(&mut self, pid: u32) {
        if let Some(i) = self.kids.iter().position(|c| c.id() == pid) {
            let mut c = self.kids.remove(i);
            c.kill().ok();
            c.wait().ok();
        }
    }

    /// The cgroup's path as /proc/PID/cgroup shows it.
    fn name(&self, dir: &Path) -> String {
        format!("/{}", dir.strip_prefix(memory_root()).unwrap().display())
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for c in &mut self.kids {
            c.kill().ok();
            c.wait().ok();
        }
        // Children first, then the cgroup itself.
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The file holding a cgroup's limit in this hierarchy.
fn limit_file() -> &'static str {
    if memory_root() == Path::new("/sys/fs/cgroup") {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    }
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn a_cgroup_watch_judges_its_memory_and_a_scan_every_leaf_with_processes() {
    let side = std::thread::spawn(scan_cgroups_judges_every_leaf_that_holds_processes);
    let mut cg = TestCgroup::new("watch");
    let app = cg.child("app");
    std::fs::write(app.join(limit_file()), "1073741824").unwrap();
    cg.start(&app, &["leak", "--rate", "2097152"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cg.csv");
    let name = cg.name(&app);
    let (code, r) = run_json(&[
        "--cgroup",
        &name,
        "-i",
        "100ms",
        "-d",
        "8s",
        "-o",
        log.to_str().unwrap(),
        "--fail-on-leak",
    ]);
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(r["verdict"], "leaking");
    assert_eq!(r["cgroup"], name.as_str());
    let rate = r["growth_rate_bytes_per_s"].as_f64().unwrap();
    assert!((rate / 2097152.0 - 1.0).abs() < 0.25, "{rate}");
    assert_eq!(r["limit_bytes"], 1073741824.0);
    assert_eq!(r["limit_source"], format!("cgroup {}", limit_file()));
    assert!(r["time_to_limit_s"].as_f64().unwrap() > 0.0);
    let header = std::fs::read_to_string(&log).unwrap();
    assert!(
        header.starts_with("timestamp,elapsed_s,pid,rss_bytes,vsz_bytes,usage_bytes\n"),
        "{header}"
    );
    // Usage counts page cache too: never below the anonymous memory.
    for row in rows(&log) {
        let f: Vec<u64> = row.split(',').skip(3).map(|x| x.parse().unwrap()).collect();
        assert!(f[2] >= f[0], "{row}");
    }
    // The log reads back to the same verdict.
    let a = leakwatch()
        .args(["analyze", log.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(json(&a.stdout)["verdict"], "leaking");
    side.join().unwrap();
}

/// A scan of cgroups judges every leaf that holds processes (run beside the
/// cgroup watch).
fn scan_cgroups_judges_every_leaf_that_holds_processes() {
    let mut cg = TestCgroup::new("scan");
    let (leaky, steady, idle, empty) = (
        cg.child("leaky.service"),
        cg.child("steady.service"),
        cg.child("idle.service"),
        cg.child("empty.service"),
    );
    cg.start(&leaky, &["leak", "--rate", "2097152"]);
    cg.start(&steady, &["steady"]);
    cg.start(&idle, &["idle"]);
    let root = cg.dir.to_str().unwrap().to_string();
    let (code, r, err) = scan_json(&[
        "--cgroups",
        &root,
        "-i",
        "100ms",
        "-d",
        "7s",
        "--fail-on-leak",
    ]);
    assert_eq!(code, Some(1), "{err}");
    let targets = r["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3, "{r:#}");
    let by = |dir: &Path| {
        let name = cg.name(dir);
        targets
            .iter()
            .find(|t| t["cgroup"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing: {r:#}"))
            .clone()
    };
    assert_eq!(by(&leaky)["verdict"], "leaking", "{r:#}");
    assert_eq!(by(&steady)["verdict"], "plateau", "{r:#}");
    assert_eq!(by(&idle)["verdict"], "plateau", "{r:#}");
    assert!(targets[0]["cgroup"] == cg.name(&leaky).as_str());
    assert!(
        !targets
            .iter()
            .any(|t| t["cgroup"] == cg.name(&empty).as_str())
    );
}

#[test]
fn the_whole_memory_hierarchy_can_be_scanned() {
    let mut cg = TestCgroup::new("all");
    let svc = cg.child("svc");
    cg.start(&svc, &["idle"]);
    let (code, r, err) = scan_json(&["--cgroups", "-i", "500ms", "-d", "2s"]);
    assert_eq!(code, Some(0), "{err}");
    let name = cg.name(&svc);
    assert!(
        r["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["cgroup"] == name.as_str()),
        "{name} not in {r:#}"
    );
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn follow_goes_on_with_a_cgroups_or_a_names_next_process() {
    let side = std::thread::spawn(follow_goes_on_with_the_next_process_of_the_name);
    let mut cg = TestCgroup::new("follow");
    let app = cg.child("app");
    let first = cg.start(&app, &["steady"]);
    let name = cg.name(&app);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("f.csv");
    let watch = Command::new(crate::common::leakwatch_path())
        .args([
            "--cgroup", &name, "--follow", "-i", "100ms", "-d", "10s", "-q",
        ])
        .args(["--format", "json", "-o", log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    cg.stop(first);
    std::thread::sleep(Duration::from_millis(500));
    cg.start(&app, &["leak", "--rate", "2097152"]);
    let out = watch.wait_with_output().unwrap();
    let r = json(&out.stdout);
    assert_eq!(r["restarts"], 1, "{r:#}");
    assert_eq!(r["verdict"], "leaking", "{r:#}");
    let pids: std::collections::BTreeSet<String> = rows(&log)
        .iter()
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(pids.len(), 2, "two runs in the log: {pids:?}");
    side.join().unwrap();
}

/// Follow by name goes on with the next process of the name (run beside the
/// cgroup follow).
fn follow_goes_on_with_the_next_process_of_the_name() {
    let tag = format!("lwfollow-{}", std::process::id());
    let start = |mode: &str| {
        Command::new(leaky_path())
            .args([mode, "--rate", "2097152", "--tag", &tag])
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = start("steady");
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("n.csv");
    let watch = Command::new(crate::common::leakwatch_path())
        .args(["--name", &tag, "--follow", "-i", "100ms", "-d", "10s", "-q"])
        .args(["--format", "json", "-o", log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    first.kill().ok();
    first.wait().ok();
    std::thread::sleep(Duration::from_millis(500));
    let mut second = start("leak");
    let out = watch.wait_with_output().unwrap();
    second.kill().ok();
    second.wait().ok();
    let r = json(&out.stdout);
    assert_eq!(r["restarts"], 1, "{r:#}");
    assert_eq!(r["verdict"], "leaking", "{r:#}");
    assert_eq!(r["pid"], second.id());
    // analyze sees the two runs the log holds.
    let a = leakwatch()
        .args(["analyze", log.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(text.starts_with("leaking"), "{text}");
}

#[test]
fn bad_cgroup_input_is_one_clear_line_and_exit_2() {
    let cg = TestCgroup::new("bad");
    let empty = cg.child("empty");
    let empty_name = cg.name(&empty);
    for (args, msg) in [
        (
            vec!["--cgroup", "/no-such-cgroup-lw", "-d", "1s"],
            "no cgroup /no-such-cgroup-lw",
        ),
        (vec!["--cgroup", "/tmp", "-d", "1s"], "/tmp is not a cgroup"),
        (
            vec!["--cgroup", empty_name.as_str(), "-d", "1s"],
            "holds no process",
        ),
        (
            vec!["--pid", "1", "--follow"],
            "--follow: give it with --name",
        ),
        (
            vec!["--cgroup", "/x", "--metrics", "fds"],
            "a cgroup has only rss",
        ),
        (
            vec!["--pid", "1", "--metrics", "usage"],
            "--metrics usage: only a cgroup",
        ),
    ] {
        let out = leakwatch().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
