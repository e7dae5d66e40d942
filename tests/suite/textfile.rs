//! `--textfile`: what a finished watch leaves. The test failed before its
//! fix.

use crate::common::*;
use crate::exposition::promtool_check;
use crate::listen::Reaped;
use std::os::unix::fs::PermissionsExt;
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
