//! Finding the process to watch: by PID, by name, or by starting a command;
//! and ending a started command when the watch ends.

use crate::sampler;
use anyhow::{Context, Result, bail};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Grace between SIGTERM and SIGKILL for a started command.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// The one process whose name or command line contains `pattern`.
pub fn resolve_name(pattern: &str) -> Result<u32> {
    let found = sampler::find_by_name(pattern)?;
    match found.len() {
        0 => bail!("no process matches '{pattern}'; check with `ps aux | grep {pattern}`"),
        1 => Ok(found[0].pid),
        _ => {
            let list: Vec<String> = found
                .iter()
                .map(|f| format!("  {:>7}  {}", f.pid, f.cmdline))
                .collect();
            bail!(
                "{} processes match '{pattern}'; choose one by its PID:\n{}",
                found.len(),
                list.join("\n")
            )
        }
    }
}

/// Starts `argv`; its stdout goes to our stderr when `quiet_stdout` (our
/// stdout carries the log or the verdict).
pub fn spawn(argv: &[String], quiet_stdout: bool) -> Result<Child> {
    let Some((prog, args)) = argv.split_first() else {
        bail!("no command to start");
    };
    let mut cmd = Command::new(prog);
    cmd.args(args);
    if quiet_stdout {
        cmd.stdout(std::io::stderr());
    }
    cmd.spawn()
        .with_context(|| format!("cannot start '{}'", argv.join(" ")))
}

/// Ends a started command: SIGTERM, then SIGKILL after a grace; reaps it and
/// says how it ended.
pub fn stop_child(c: &mut Child) -> String {
    if let Ok(Some(st)) = c.try_wait() {
        return describe_exit(st);
    }
    // SAFETY: kill(2) on our own child's PID, which we have not reaped yet.
    unsafe {
        libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = c.try_wait() {
            return format!("{} after SIGTERM", describe_exit(st));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    match c.wait() {
        Ok(st) => format!("{} after SIGKILL", describe_exit(st)),
        Err(e) => format!("could not be reaped: {e}"),
    }
}

/// How a process ended, in words.
pub fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "exited".into(),
    }
}

/// The cgroup v2 memory limit of `pid` (the smallest `memory.max` on its
/// cgroup's path), if it has one.
pub fn cgroup_limit(pid: u32) -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        sampler::linux::cgroup_memory_max(&cg, std::path::Path::new("/sys/fs/cgroup"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}
