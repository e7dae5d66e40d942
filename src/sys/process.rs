//! Processes leakwatch starts: each in a process group of its own, so that
//! ending it ends everything it started (SIGTERM, then SIGKILL after a
//! grace), reaped, with how it ended in words.

use super::console::Relay;
use super::procfs::ProcFs;
use super::terminal::Stream;
use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Grace between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Where a started process's standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// Inherited from leakwatch.
    Inherit,
    /// Standard output to leakwatch's stderr (leakwatch's stdout carries a
    /// log or JSON), the rest inherited.
    StdoutToStderr,
    /// No input, no output, stderr piped for the caller to read.
    PipeStderr,
    /// Stdout and stderr on ptys of their own, relayed by leakwatch above
    /// its status line (see [`start`]): stdout to this stream, stderr to
    /// stderr.
    Relay(Stream),
}

/// Starts `argv` in a process group of its own, with the relay of its
/// output when `streams` asks for one.
pub fn start(argv: &[String], streams: Streams) -> Result<(Child, Option<Relay>)> {
    let Streams::Relay(to) = streams else {
        return Ok((spawn(argv, streams)?, None));
    };
    let (relay, out, err) = Relay::open(to)?;
    let mut cmd = command(argv)?;
    cmd.stdout(out).stderr(err);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", quoted(&argv.join(" "))))?;
    Ok((child, Some(relay)))
}

/// `argv` as a command in a process group of its own.
fn command(argv: &[String]) -> Result<Command> {
    use std::os::unix::process::CommandExt;
    let Some((prog, args)) = argv.split_first() else {
        bail!("no command to start");
    };
    let mut cmd = Command::new(prog);
    cmd.args(args).process_group(0);
    Ok(cmd)
}

/// Starts `argv` in a process group of its own (its streams inherited for
/// [`Streams::Relay`], which only [`start`] relays).
pub fn spawn(argv: &[String], streams: Streams) -> Result<Child> {
    let mut cmd = command(argv)?;
    match streams {
        Streams::Inherit | Streams::Relay(_) => {}
        Streams::StdoutToStderr => {
            cmd.stdout(std::io::stderr());
        }
        Streams::PipeStderr => {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
        }
    }
    cmd.spawn()
        .with_context(|| format!("cannot start {}", quoted(&argv.join(" "))))
}

/// Waits (briefly) until a started command has exec'd and its loader has
/// mapped it, so the first sample is of the program, not of a fork of
/// leakwatch or of the bare exec image.
pub fn wait_started(proc: &ProcFs, c: &mut Child) {
    let pid = c.id();
    let me = proc.self_exe();
    let until = |limit: u64, done: &mut dyn FnMut() -> bool| {
        let end = Instant::now() + Duration::from_millis(limit);
        while Instant::now() < end && !done() {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    until(500, &mut || proc.exe(pid) != me);
    if !matches!(c.try_wait(), Ok(None)) {
        return;
    }
    // A dynamically linked program runs once the loader has mapped its
    // libraries: wait (at most a second) until one besides the loader is
    // in its maps, or there is no loader (a static program).
    until(1000, &mut || proc.loaded(pid));
}

/// Sends `sig` to the process group `pgid`; false when no process is left in it.
pub fn signal_group(pgid: u32, sig: i32) -> bool {
    // SAFETY: kill(2) on the process group of a command we started.
    unsafe { libc::kill(-(pgid as libc::pid_t), sig) == 0 }
}

/// Sends `sig` to process `pid`; false when there is none.
pub fn signal(pid: u32, sig: i32) -> bool {
    // SAFETY: kill(2) with a plain PID.
    unsafe { libc::kill(pid as libc::pid_t, sig) == 0 }
}

/// Ends a started command and everything it started: SIGTERM to its process
/// group, then SIGKILL after a grace; reaps it and says how it ended. When
/// it was seen exiting (`exiting`), it is first given a moment to finish
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
        if !signal_group(pgid, 0) || only_zombies(pgid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, libc::SIGKILL);
}

/// Whether every process left in group `pgid` has exited (zombies whose
/// parent, often init in a container, has not reaped them yet).
fn only_zombies(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let fs = ProcFs::host();
        let (mut buf, mut pids) = (vec![0u8; 64 * 1024], Vec::new());
        fs.list_pids(&mut buf, &mut pids);
        !pids
            .iter()
            .filter_map(|&p| fs.stat(p))
            .any(|s| s.pgrp == pgid && !s.zombie)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pgid;
        false
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

/// Raises the open-file soft limit to the hard one; returns the limit.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: a zeroed rlimit is valid for getrlimit to fill.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit(2)/setrlimit(2) on RLIMIT_NOFILE with a valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
    }
    rl.rlim_cur as u64
}
