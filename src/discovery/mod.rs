//! Finding targets: the [`Discovery`] seam the engine asks each tick for
//! targets that appeared, and tells of those gone. A watch's one target
//! ([`Single`]: a PID, a tree, a name, a cgroup, a started command, a
//! replayed log), every process of the host ([`procs`]) or every cgroup
//! holding processes ([`cgroups`]).

pub mod cgroups;
pub mod procs;

use crate::sampler::{Sampled, Sampler};
use crate::sys::procfs::ProcFs;
use crate::units::{quoted, short_command};
use anyhow::{Result, bail};

/// Who a target is, as reports and labels name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Its PID (a cgroup's: its lowest when it joined).
    pub pid: u32,
    /// Its short name: a process's `comm`, a cgroup's path, `replay`.
    pub name: String,
    /// Its command line (a cgroup's: its lowest PID's).
    pub command: String,
    /// The cgroup, as a path inside its hierarchy.
    pub cgroup: Option<String>,
}

/// Where a memory limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// Given on the command line.
    Given,
    /// The target's cgroup: the file it is in (`memory.max`).
    Cgroup(&'static str),
}

/// A memory limit, bytes, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The limit, bytes.
    pub bytes: f64,
    /// Where it came from.
    pub source: LimitSource,
}

/// A target found, ready to be sampled.
pub struct NewTarget {
    /// What reads it.
    pub sampler: Box<dyn Sampler>,
    /// Who it is.
    pub label: Label,
    /// Its memory limit, if it has one.
    pub limit: Option<Limit>,
    /// A first reading taken as it was found, if one was.
    pub first: Option<Sampled>,
    /// Engine seconds its own time counts from (`None`: when it joins).
    pub origin: Option<f64>,
}

/// What finds the targets of a loop.
pub trait Discovery {
    /// The targets that appeared by engine time `t` (seconds).
    fn discover(&mut self, t: f64) -> Vec<NewTarget>;

    /// A target is gone (its sampler held `held` descriptors): if it is
    /// found again, it is a new one.
    fn forget(&mut self, _label: &Label, _held: u64) {}

    /// More targets may appear: the loop goes on while none is there.
    fn open_ended(&self) -> bool {
        false
    }

    /// What is watched, in words (`processes`, `cgroups below /sys/fs/cgroup`).
    fn scope(&self) -> &str;

    /// Why some targets could not be read, if any were refused: one line.
    fn denied(&self) -> Option<String> {
        None
    }

    /// Warnings met on the way, for the report.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One target, found before the loop starts.
pub struct Single {
    target: Option<NewTarget>,
    scope: String,
}

impl Single {
    /// Watches `target` from the loop's start.
    pub fn new(mut target: NewTarget) -> Single {
        target.origin.get_or_insert(0.0);
        Single {
            target: Some(target),
            scope: "a target".into(),
        }
    }
}

impl Discovery for Single {
    fn discover(&mut self, _t: f64) -> Vec<NewTarget> {
        self.target.take().into_iter().collect()
    }

    fn scope(&self) -> &str {
        &self.scope
    }
}

/// A process found by name: its PID and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The PID.
    pub pid: u32,
    /// Its command line (or name when the command line is hidden).
    pub cmdline: String,
}

/// The most of a command line read to match a name against (a JVM's main
/// class may come after kilobytes of flags).
pub const MAX_CMDLINE: usize = 256 * 1024;

/// Whether a process named `comm` with command line `cmdline` matches `pattern`.
pub fn name_matches(pattern: &str, comm: &str, cmdline: &str) -> bool {
    comm.contains(pattern) || cmdline.contains(pattern)
}

/// This process and its ancestors (whose command lines hold a pattern
/// given on leakwatch's own command line too).
pub fn self_and_ancestors(fs: &ProcFs) -> Vec<u32> {
    let mut out = vec![std::process::id()];
    let mut p = out[0];
    while let Some(pp) = fs.stat(p).map(|s| s.ppid).filter(|&pp| pp > 0) {
        if out.contains(&pp) {
            break;
        }
        out.push(pp);
        p = pp;
    }
    out
}

/// Processes whose name or whole command line contains `pattern`, but for
/// this process and its ancestors and kernel threads, by PID.
pub fn find_by_name(fs: &ProcFs, pattern: &str) -> Result<Vec<Found>> {
    #[cfg(target_os = "linux")]
    {
        let exclude = self_and_ancestors(fs);
        let mut pids = Vec::new();
        fs.list_pids(&mut vec![0; 64 * 1024], &mut pids);
        let mut out: Vec<Found> = pids
            .into_iter()
            .filter(|p| !exclude.contains(p))
            .filter_map(|pid| {
                let st = fs.stat(pid).filter(|s| !s.kernel)?;
                let cmd = fs.cmdline(pid, MAX_CMDLINE)?;
                let cmdline = if cmd.is_empty() { st.comm.clone() } else { cmd };
                name_matches(pattern, &st.comm, &cmdline).then_some(Found { pid, cmdline })
            })
            .collect();
        out.sort_by_key(|f| f.pid);
        Ok(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fs;
        find_by_name_sysinfo(pattern)
    }
}

/// The one process whose name or command line contains `pattern`.
pub fn resolve_name(fs: &ProcFs, pattern: &str) -> Result<u32> {
    let found = find_by_name(fs, pattern)?;
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
                .map(|f| format!("  {:>7}  {}", f.pid, quoted(&short_command(&f.cmdline, 76))))
                .collect();
            Err(crate::units::Escaped(format!(
                "{} processes match {}; choose one by its PID:\n{}",
                found.len(),
                quoted(pattern),
                list.join("\n")
            ))
            .into())
        }
    }
}

/// The most recently started process, other than `last`, whose name or
/// command line contains `pattern`: the successor `--follow` goes on with.
pub fn newest_match(fs: &ProcFs, pattern: &str, last: u32) -> Option<u32> {
    let found = find_by_name(fs, pattern).ok()?;
    found
        .into_iter()
        .filter(|f| f.pid != last)
        .max_by_key(|f| (fs.start_time(f.pid).unwrap_or(0), f.pid))
        .map(|f| f.pid)
}

/// Processes whose name or command line contains `pattern`, leaving out this
/// process and its ancestors (whose command lines contain the pattern too),
/// through sysinfo (where there is no `/proc` to read).
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn find_by_name_sysinfo(pattern: &str) -> Result<Vec<Found>> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let mut sys = System::new()?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    let me = Pid::from_u32(std::process::id());
    let mut exclude = vec![me];
    let mut cur = sys.process(me).and_then(|p| p.parent());
    while let Some(p) = cur {
        exclude.push(p);
        cur = sys.process(p).and_then(|p| p.parent());
    }
    let mut out: Vec<Found> = sys
        .processes()
        .iter()
        .filter(|(pid, _)| !exclude.contains(pid))
        .filter(|(_, p)| p.thread_kind().is_none())
        .filter_map(|(pid, p)| {
            let name = p.name().to_string_lossy().into_owned();
            let cmd: Vec<String> = p
                .cmd()
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            let cmdline = if cmd.is_empty() {
                name.clone()
            } else {
                cmd.join(" ")
            };
            name_matches(pattern, &name, &cmdline).then(|| Found {
                pid: pid.as_u32(),
                cmdline,
            })
        })
        .collect();
    out.sort_by_key(|f| f.pid);
    Ok(out)
}
