//! `--textfile` as root in a shared directory: what a finished watch leaves,
//! a FIFO or symlink planted at the temporary name the file used to be
//! written under, and a PATH that is no regular file. Each test failed
//! before its fix.

use crate::common::*;
use crate::exposition::promtool_check;
use crate::listen::Reaped;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits at most `limit` for `child` to end; kills it and fails if it does not.
fn exit_within(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{what}: the watch did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that `path` holds `leakwatch_up{LABELS} 0` and nothing else but
/// its HELP and TYPE, valid for promtool.
fn only_up_0(path: &Path, labels: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("# HELP leakwatch_up "), "{text}");
    assert_eq!(lines[1], "# TYPE leakwatch_up gauge", "{text}");
    let v = lines[2]
        .strip_prefix(&format!("leakwatch_up{{{labels}}} "))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(v.parse::<f64>().unwrap(), 0.0, "{text}");
    promtool_check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// This process's umask (the watch inherits it).
fn umask() -> u32 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let v = s.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap();
    u32::from_str_radix(v.trim(), 8).unwrap()
}

#[test]
fn a_finished_watch_leaves_only_leakwatch_up_0() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("leakwatch.prom");
    let target = Reaped(spawn_sleep("300"));
    let pid = target.0.id();
    let mut watch = Command::new(leakwatch_path())
        .args(["-q", "-i", "100ms", "-d", "4s", "--pid", &pid.to_string()])
        .arg("--textfile")
        .arg(&prom)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let labels = format!("pid=\"{pid}\",command=\"sleep\"");
    let mut text = String::new();
    wait_until("the textfile", Duration::from_secs(30), || {
        text = std::fs::read_to_string(&prom).unwrap_or_default();
        text.contains("leakwatch_verdict{")
    });
    assert!(
        text.contains(&format!("leakwatch_up{{{labels}}} 1")),
        "{text}"
    );
    // Readable by the collector, which runs as a user of its own.
    let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644 & !umask(), "{mode:o}");
    assert!(exit_within(&mut watch, Duration::from_secs(60), "4 s").success());
    only_up_0(&prom, &labels);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
}

/// Whether process `pid` is stopped.
fn stopped(pid: u32) -> bool {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    s.rfind(')').is_some_and(|i| s[i..].starts_with(") T"))
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn a_fifo_or_symlink_planted_at_the_old_temporary_name_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let target = Reaped(spawn_sleep("300"));
    let pid = target.0.id().to_string();
    let prom = dir.path().join("leakwatch.prom");
    for fifo in [true, false] {
        // Stopped before it execs leakwatch, whose PID it keeps, so the old
        // name (.NAME.PID.tmp) is known before the first write.
        let mut watch = Command::new("sh")
            .args(["-c", "kill -STOP $$; exec \"$0\" \"$@\""])
            .arg(leakwatch_path())
            .args(["-q", "-i", "100ms", "-d", "2s", "--pid", &pid, "--textfile"])
            .arg(&prom)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the shell to stop", Duration::from_secs(30), || {
            stopped(watch.id())
        });
        let planted = dir
            .path()
            .join(format!(".leakwatch.prom.{}.tmp", watch.id()));
        if fifo {
            mkfifo(&planted);
        } else {
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
        }
        signal(watch.id(), libc::SIGCONT);
        let what = if fifo { "a FIFO" } else { "a symlink" };
        assert!(exit_within(&mut watch, Duration::from_secs(60), what).success());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let t = std::fs::symlink_metadata(&planted).unwrap().file_type();
        assert!(if fifo { t.is_fifo() } else { t.is_symlink() }, "{what}");
        only_up_0(&prom, &format!("pid=\"{pid}\",command=\"sleep\""));
        std::fs::remove_file(&planted).unwrap();
    }
    // Nothing else was left in the shared directory.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn a_textfile_path_that_is_no_regular_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let device = d.join("null.prom");
    let c = CString::new(device.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod(2) on a NUL-terminated path: the character device 1:3,
    // as /dev/null is.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
    mkfifo(&d.join("fifo.prom"));
    let _socket = std::os::unix::net::UnixListener::bind(d.join("socket.prom")).unwrap();
    std::fs::create_dir(d.join("dir.prom")).unwrap();
    std::fs::write(d.join("real.prom"), "").unwrap();
    std::os::unix::fs::symlink(d.join("real.prom"), d.join("link.prom")).unwrap();
    let target = Reaped(spawn_sleep("300"));
    let pid = target.0.id().to_string();
    for (name, what) in [
        ("null.prom", "is a character device, not a regular file"),
        ("fifo.prom", "is a FIFO, not a regular file"),
        ("socket.prom", "is a socket, not a regular file"),
        ("dir.prom", "is a directory, not a regular file"),
        ("link.prom", "is a symbolic link, not a regular file"),
        ("nowhere/x.prom", "no directory"),
    ] {
        let path = d.join(name);
        let before = std::fs::symlink_metadata(&path).ok().map(|m| m.file_type());
        let out = leakwatch()
            .args(["-q", "-n", "3", "-i", "50ms", "--pid", &pid, "--textfile"])
            .arg(&path)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(what), "{name}: {err}");
        assert!(err.contains(&path.display().to_string()), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}");
        let after = std::fs::symlink_metadata(&path).ok().map(|m| m.file_type());
        assert_eq!(before, after, "{name} was replaced");
    }
    assert_eq!(std::fs::read_to_string(d.join("real.prom")).unwrap(), "");
}
