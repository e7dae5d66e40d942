//! Finding the process to watch: by PID, by name, or by starting a command;
//! and ending a started command when the watch ends.

use crate::sampler;
use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Grace between SIGTERM and SIGKILL for a started command.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// The one process whose name or command line contains `pattern`.
pub fn resolve_name(pattern: &str) -> Result<u32> {
    let found = sampler::find_by_name(pattern)?;
    match found.len() {
        0 => bail!(
            "no process matches {}; check with `ps aux | grep {}`",
            quoted(pattern),
            quoted(pattern)
        ),
        1 => Ok(found[0].pid),
        _ => {
            let list: Vec<String> = found
                .iter()
                .take(20)
                .map(|f| format!("  {:>7}  {}", f.pid, quoted(&f.cmdline)))
                .collect();
            bail!(
                "{} processes match {}; choose one by its PID:\n{}",
                found.len(),
                quoted(pattern),
                list.join("\n")
            )
        }
    }
}

/// The most recently started process, other than `last`, whose name or
/// command line contains `pattern`: the successor `--follow` goes on with.
pub fn newest_match(pattern: &str, last: u32) -> Option<u32> {
    let found = sampler::find_by_name(pattern).ok()?;
    found
        .into_iter()
        .filter(|f| f.pid != last)
        .max_by_key(|f| (sampler::start_time(f.pid).unwrap_or(0), f.pid))
        .map(|f| f.pid)
}

/// Starts `argv` in a process group of its own (so the watch can end all it
/// starts); its stdout goes to our stderr when `quiet_stdout` (our stdout
/// carries the log or the verdict).
pub fn spawn(argv: &[String], quiet_stdout: bool) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let Some((prog, args)) = argv.split_first() else {
        bail!("no command to start");
    };
    let mut cmd = Command::new(prog);
    cmd.args(args).process_group(0);
    if quiet_stdout {
        cmd.stdout(std::io::stderr());
    }
    cmd.spawn()
        .with_context(|| format!("cannot start {}", quoted(&argv.join(" "))))
}

/// Waits (briefly) until a started command has exec'd and its loader has
/// mapped it, so the first sample is of the program, not of a fork of
/// leakwatch or of the bare exec image.
pub fn wait_started(c: &mut Child) {
    #[cfg(target_os = "linux")]
    {
        let pid = c.id();
        let exe = format!("/proc/{pid}/exe");
        let me = std::fs::read_link("/proc/self/exe").ok();
        let until = |limit: u64, mut done: Box<dyn FnMut() -> bool + '_>| {
            let end = Instant::now() + Duration::from_millis(limit);
            while Instant::now() < end && !done() {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let alive = |c: &mut Child| matches!(c.try_wait(), Ok(None));
        until(500, Box::new(|| std::fs::read_link(&exe).ok() != me));
        if !alive(c) {
            return;
        }
        // A dynamically linked program runs once the loader has mapped its
        // libraries: wait (at most a second) until one besides the loader
        // is in its maps, or there is no loader (a static program).
        until(1000, Box::new(|| loaded(pid)));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = c;
}

/// The loader of `pid` is done: a dynamically linked program (its
/// executable names an interpreter, `/ld-…`) has a shared library besides the
/// loader mapped; a static one is done once exec'd.
#[cfg(target_os = "linux")]
fn loaded(pid: u32) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4096];
    let n = std::fs::File::open(format!("/proc/{pid}/exe"))
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let dynamic = memchr::memmem::find(&head[..n], b"/ld-").is_some();
    if !dynamic {
        return true;
    }
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        // Unreadable mid-exec, or gone: done only if gone.
        return !std::path::Path::new(&format!("/proc/{pid}")).exists();
    };
    let is_loader =
        |p: &str| p.contains("/ld-linux") || p.contains("/ld-musl") || p.contains("/ld.so");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .any(|p| p.contains(".so") && !is_loader(p))
}

/// Sends `sig` to the process group `pgid`; false when no process is left in it.
fn signal_group(pgid: u32, sig: i32) -> bool {
    // SAFETY: kill(2) on the process group of a command we started.
    unsafe { libc::kill(-(pgid as libc::pid_t), sig) == 0 }
}

/// Ends a started command and everything it started: SIGTERM to its process
/// group, then SIGKILL after a grace; reaps it and says how it ended. When
/// the watch saw it exit (`exiting`), it is first given a moment to finish
/// exiting by itself.
pub fn stop_child(c: &mut Child, exiting: bool) -> String {
    let pgid = c.id();
    if exiting {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    if let Ok(Some(st)) = c.try_wait() {
        // It ended by itself; what it left behind in its group ends too.
        if signal_group(pgid, libc::SIGTERM) {
            end_group(pgid);
        }
        return describe_exit(st);
    }
    signal_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = c.try_wait() {
            end_group(pgid);
            return format!("{} after SIGTERM", describe_exit(st));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, libc::SIGKILL);
    match c.wait() {
        Ok(st) => format!("{} after SIGKILL", describe_exit(st)),
        Err(e) => format!("could not be reaped: {e}"),
    }
}

/// Waits out the grace for the rest of a group sent SIGTERM, then kills what is left.
fn end_group(pgid: u32) {
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if !signal_group(pgid, 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, libc::SIGKILL);
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

/// The memory limit of `pid`'s cgroup (the smallest on its path) and the
/// file it is in, if it has one.
pub fn cgroup_limit(pid: u32) -> Option<(f64, &'static str)> {
    let h = crate::cgroup::Hierarchy::find().ok()?;
    let dir = h.of_pid(pid)?;
    h.limit(&dir).map(|l| (l, h.version.limit_file()))
}

/// The short name of `pid`'s command (`/proc/PID/comm`), for labels.
pub fn command_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().chars().take(64).collect())
        .unwrap_or_default()
}
