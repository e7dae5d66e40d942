//! Safe to run as root in a shared directory: the files leakwatch writes
//! (`-o`, `scan -o DIR`, `plot -o`) never go through a link another user
//! planted in a sticky world-writable directory, two outputs never name the
//! same file, a failed start leaves no file, and a full disk is exit 2.
//! The tests run as root (as CI does) and plant links owned by a uid that
//! is neither root nor the directory's owner.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The owner of the planted links: no user of this machine.
const OTHER: u32 = 4242;

/// A sticky world-writable directory (as /tmp), owned by root.
fn shared_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// Plants at `at` a symlink to `to`, owned by uid `owner`.
fn plant(at: &Path, to: &Path, owner: u32) {
    std::os::unix::fs::symlink(to, at).unwrap();
    std::os::unix::fs::lchown(at, Some(owner), Some(owner)).unwrap();
}

/// A file whose contents must survive, outside the shared directory.
fn victim(dir: &Path) -> PathBuf {
    let p = dir.join("precious");
    std::fs::write(&p, "precious\n").unwrap();
    p
}

#[test]
fn a_link_planted_by_another_user_is_never_followed() {
    let shared = shared_dir();
    let safe = tempfile::tempdir().unwrap();
    let precious = victim(safe.path());
    let absent = safe.path().join("made-by-root");
    let (to_file, to_absent) = (shared.path().join("log.csv"), shared.path().join("new.csv"));
    plant(&to_file, &precious, OTHER);
    plant(&to_absent, &absent, OTHER);
    let mut target = spawn_sleep("30");
    let pid = target.id().to_string();
    for link in [&to_file, &to_absent] {
        let l = link.to_str().unwrap();
        fails_with(
            &["--pid", &pid, "-n", "2", "-i", "10ms", "-o", l],
            "symlink owned by uid 4242",
        );
        fails_with(
            &["plot", "docs/leak-server.csv", "-o", l, "--force"],
            "symlink owned by uid 4242",
        );
    }
    // scan -o through a planted link to a directory, or into another's.
    let theirs = safe.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(OTHER), Some(OTHER)).unwrap();
    let dir_link = shared.path().join("logs");
    plant(&dir_link, &safe.path().join("elsewhere"), OTHER);
    let scan = |dir: &Path, msg: &str| {
        fails_with(
            &[
                "scan",
                "--children-of",
                &pid,
                "-d",
                "1s",
                "-o",
                dir.to_str().unwrap(),
            ],
            msg,
        )
    };
    scan(&dir_link, "symlink owned by uid 4242");
    scan(&theirs, "belongs to uid 4242");
    target.kill().ok();
    target.wait().ok();
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious\n");
    assert!(!absent.exists() && !safe.path().join("elsewhere").exists());
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
}

#[test]
fn a_link_of_ones_own_or_of_the_directorys_owner_is_followed() {
    // What fs.protected_symlinks allows: leakwatch's own link, in a shared
    // directory; or any link in a directory that is not shared.
    let shared = shared_dir();
    let safe = tempfile::tempdir().unwrap();
    let mine = shared.path().join("mine.csv");
    plant(&mine, &safe.path().join("a.csv"), 0);
    let private = safe.path().join("link.csv");
    plant(&private, &safe.path().join("b.csv"), OTHER);
    let mut target = spawn_sleep("30");
    let pid = target.id().to_string();
    for link in [&mine, &private] {
        leakwatch()
            .args(["--pid", &pid, "-n", "2", "-i", "10ms", "-q", "-o"])
            .arg(link)
            .assert()
            .success();
    }
    target.kill().ok();
    target.wait().ok();
    for f in ["a.csv", "b.csv"] {
        assert_eq!(rows(&safe.path().join(f)).len(), 2, "{f}");
    }
}

#[test]
fn two_outputs_naming_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.prom");
    let alias = dir.path().join("alias.prom");
    std::os::unix::fs::symlink(&log, &alias).unwrap();
    let (l, a) = (log.to_str().unwrap(), alias.to_str().unwrap());
    fails_with(
        &["--pid", "1", "-d", "2s", "-o", l, "--textfile", l],
        "-o and --textfile name the same file",
    );
    // The same file by two paths (a link and its target, or `./` and not).
    std::fs::write(&log, "").unwrap();
    fails_with(
        &["--pid", "1", "-d", "2s", "-o", a, "--textfile", l],
        "name the same file",
    );
    fails_with(&["--replay", l, "-o", a], "into itself");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
}

#[test]
fn a_failed_start_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("never.csv");
    let l = log.to_str().unwrap();
    fails_with(&["--pid", "999999", "-o", l], "999999");
    fails_with(&["-o", l, "--", "/nonexistent/server"], "cannot start");
    fails_with(
        &["--name", "no-such-process-anywhere-xyz", "-o", l],
        "no-such-process",
    );
    assert!(!log.exists(), "a failed start made {l}");
    // A log in a directory that is not there: refused before the start.
    fails_with(
        &["-o", "/nonexistent-dir/x.csv", "--", "sleep", "5"],
        "there is no directory /nonexistent-dir",
    );
}

/// A 64 KiB tmpfs, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn new() -> SmallDisk {
        let d = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(d.path())
            .status()
            .expect("mount (root is needed)");
        assert!(st.success(), "cannot mount a tmpfs (root is needed)");
        SmallDisk(d)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_ends_a_scan_and_a_watch_with_exit_2_after_the_report() {
    let disk = SmallDisk::new();
    let kids: Vec<_> = (0..3).map(|_| spawn_sleep("30")).collect();
    let parent = std::process::id().to_string();
    let dir = disk.0.path().join("logs");
    let out = leakwatch()
        .args(["scan", "--children-of", &parent, "-i", "1ms", "-d", "10s"])
        .args(["--format", "json", "-o", dir.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("No space")).count(),
        1,
        "{err}"
    );
    let r = json(&out.stdout);
    assert!(
        r["targets"].as_array().is_some_and(|t| !t.is_empty()),
        "{r}"
    );
    // A watch: the same, on the disk the scan's logs filled, emptied.
    std::fs::remove_dir_all(&dir).unwrap();
    let log = disk.0.path().join("w.csv");
    let pid = kids[0].id().to_string();
    let out = leakwatch()
        .args([
            "--pid", &pid, "-i", "1ms", "-d", "10s", "-q", "--format", "json", "-o",
        ])
        .arg(&log)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out.stdout)["ended_by"], "write error");
    for mut k in kids {
        k.kill().ok();
        k.wait().ok();
    }
}

/// leakwatch, run as the unprivileged user `nobody` (uid 65534).
fn as_nobody() -> std::process::Command {
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(leakwatch_path());
    c
}

#[test]
fn processes_a_user_may_not_read_are_counted_and_none_left_is_exit_2() {
    let mut root_owned = spawn_sleep("30");
    let mut own = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "30",
        ])
        .spawn()
        .unwrap();
    // Seen before setpriv drops to nobody, it would be a root process.
    let status = format!("/proc/{}/status", own.id());
    wait_until("sleep as nobody", Duration::from_secs(20), || {
        let s = std::fs::read_to_string(&status).unwrap_or_default();
        s.contains("Name:\tsleep") && s.contains("Uid:\t65534")
    });
    let me = std::process::id().to_string();
    let scan = |extra: &[&str]| {
        as_nobody()
            .args(["scan", "--children-of", &me, "--metrics", "pss", "-d", "1s"])
            .args(extra)
            .output()
            .unwrap()
    };
    // Only its own sleep is readable: it is watched, the rest are counted.
    let out = scan(&["--format", "json"]);
    let r = json(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{r}");
    let targets = r["targets"].as_array().unwrap();
    assert!(targets.iter().all(|t| t["pid"] == own.id()), "{r}");
    let warned = r["warnings"].as_array().unwrap();
    assert!(
        warned.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("may not read their smaps_rollup, which the pss metric needs")),
        "{r}"
    );
    own.kill().ok();
    own.wait().ok();
    // None readable: one line, exit 2.
    let out = scan(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("skipped: leakwatch's user (uid 65534) may not read"),
        "{err}"
    );
    root_owned.kill().ok();
    root_owned.wait().ok();
}

#[test]
fn an_error_naming_a_hostile_file_name_is_one_escaped_line() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("x\u{1b}[2J\nleaking: fake row");
    std::fs::write(&name, "not a log\n").unwrap();
    let out = leakwatch().arg("analyze").arg(&name).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        !err.contains('\u{1b}') && err.contains("\\u{1b}[2J\\nleaking"),
        "{err}"
    );
}
