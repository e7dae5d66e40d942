//! Finding the processes a scan watches: one listing of `/proc` a tick; a
//! process seen for the first time is read once (`stat`, `cmdline`) and
//! either joins the scan or is set aside for as long as it lives.

use super::{ProcSelect, command_line, read_head};
use crate::metrics::Metric;
use crate::sampler::linux::{ProcFiles, StatInfo, parse_stat};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;

/// A process that joins the scan.
pub struct NewProc {
    /// Its PID.
    pub pid: u32,
    /// Its command line (or `[comm]` when it has none).
    pub command: String,
    /// Its first reading, taken as it joined.
    pub first: crate::sampler::Reading,
}

/// What the finder knows of a PID it has seen.
#[derive(Debug, Clone, Copy)]
struct Known {
    /// The tick it was last listed in.
    seen: u64,
}

/// Finds new processes, one listing of `/proc` a tick.
pub struct Finder {
    select: ProcSelect,
    known: HashMap<u32, Known>,
    /// The process and its descendants, for `children_of`.
    tree: HashSet<u32>,
    /// This process and, with a name, its ancestors (whose command lines
    /// hold the pattern too): never targets.
    exclude: Vec<u32>,
    tick: u64,
    /// The PIDs listed this tick, and the buffers for listing and reading.
    pids: Vec<u32>,
    dirbuf: Vec<u8>,
    buf: Vec<u8>,
    page: u64,
    /// The last PID given out at the last listing.
    last_pid: Option<u32>,
    /// New processes that still had their parent's command line (forked,
    /// not yet exec'd): looked at again at the next listing.
    pending: HashSet<u32>,
}

impl Finder {
    /// A finder of the processes `select` names.
    pub fn new(select: ProcSelect) -> Finder {
        let me = std::process::id();
        let mut exclude = vec![me];
        if select.name.is_some() {
            let mut p = me;
            while let Some(pp) = read_stat(p).map(|s| s.ppid).filter(|&pp| pp > 0) {
                exclude.push(pp);
                p = pp;
            }
        }
        let tree = select.children_of.into_iter().collect();
        Finder {
            select,
            known: HashMap::new(),
            tree,
            exclude,
            tick: 0,
            pids: Vec::new(),
            dirbuf: vec![0; 64 * 1024],
            buf: vec![0; 4096],
            page: crate::sampler::linux::page_size(),
            last_pid: None,
            pending: HashSet::new(),
        }
    }

    /// The processes listed now that were not listed before and match,
    /// opened for `metrics` (holding descriptors while `keep` says so).
    pub fn find(
        &mut self,
        metrics: &[Metric],
        mut keep: impl FnMut() -> bool,
    ) -> Vec<(NewProc, ProcFiles)> {
        // The last PID the kernel gave out: unchanged, no process (or
        // thread) was created since the last listing, so none is needed.
        let last = last_pid();
        if last.is_some() && last == self.last_pid && self.pending.is_empty() {
            return Vec::new();
        }
        self.last_pid = last;
        self.tick += 1;
        let tick = self.tick;
        list_pids(&mut self.dirbuf, &mut self.pids);
        let mut fresh: Vec<(u32, Option<StatInfo>)> = Vec::new();
        // stat is read only when something needs it: the parent for
        // children_of, the name, or the start time for smaps_rollup.
        let need_stat = self.select.children_of.is_some()
            || self.select.name.is_some()
            || metrics
                .iter()
                .any(|m| matches!(m, Metric::Pss | Metric::Uss | Metric::Swap));
        for &pid in &self.pids {
            match self.known.get_mut(&pid) {
                Some(k) => k.seen = tick,
                None => {
                    self.known.insert(pid, Known { seen: tick });
                    if !need_stat {
                        fresh.push((pid, None));
                    } else if let Some(info) = read_stat(pid) {
                        fresh.push((pid, Some(info)));
                    }
                }
            }
        }
        // A PID no longer listed is gone: if it comes back, it is new.
        self.known.retain(|_, k| k.seen == tick);
        let listed = &self.pids;
        self.pending.retain(|p| listed.contains(p));
        self.grow_tree(&fresh);
        let mut out = Vec::new();
        for (pid, info) in fresh {
            if !self.wanted(pid, info.as_ref()) {
                continue;
            }
            let start = info.as_ref().map(|i| i.start);
            let k = keep();
            // The first read tells a user process from a kernel thread or
            // a zombie (no memory), which never join.
            let Ok(mut files) = ProcFiles::open_known(pid, metrics, start, k) else {
                continue;
            };
            let Ok(Some(first)) = files.read(&mut self.buf, self.page) else {
                continue;
            };
            let comm = info.as_ref().map_or("", |i| i.comm.as_str());
            let Some(mut command) = command_line(pid) else {
                continue;
            };
            // Forked and not yet exec'd, a process has its parent's command
            // line for a moment: it joins at the next listing, under the
            // command it has then (a fork that never execs, as it is).
            if !self.pending.remove(&pid) {
                let ppid = info
                    .as_ref()
                    .map_or_else(|| read_stat(pid).map(|s| s.ppid), |i| Some(i.ppid));
                if ppid.and_then(command_line).is_some_and(|c| c == command) {
                    self.pending.insert(pid);
                    self.known.remove(&pid);
                    continue;
                }
            }
            if command.is_empty() {
                command = format!("[{comm}]");
            }
            if let Some(pat) = &self.select.name
                && !comm.contains(pat.as_str())
                && !command.contains(pat.as_str())
            {
                continue;
            }
            out.push((
                NewProc {
                    pid,
                    command,
                    first,
                },
                files,
            ));
        }
        out
    }

    /// Forgets `pid` (a target that exited): if the PID is listed again, it
    /// is a new process.
    pub fn forget(&mut self, pid: u32) {
        self.known.remove(&pid);
    }

    /// Adds the new descendants of the `children_of` process to the tree
    /// (a child may be listed before its parent).
    fn grow_tree(&mut self, fresh: &[(u32, Option<StatInfo>)]) {
        if self.select.children_of.is_none() {
            return;
        }
        loop {
            let before = self.tree.len();
            for (pid, info) in fresh {
                if info.as_ref().is_some_and(|i| self.tree.contains(&i.ppid)) {
                    self.tree.insert(*pid);
                }
            }
            if self.tree.len() == before {
                break;
            }
        }
    }

    /// Whether a new process is one to watch (the name is checked later,
    /// against its command line).
    fn wanted(&self, pid: u32, info: Option<&StatInfo>) -> bool {
        if info.is_some_and(|i| i.kernel) || self.exclude.contains(&pid) {
            return false;
        }
        if let Some(root) = self.select.children_of
            && (pid == root || !self.tree.contains(&pid))
        {
            return false;
        }
        if let Some(uid) = self.select.uid
            && std::fs::metadata(format!("/proc/{pid}"))
                .ok()
                .map(|m| m.uid())
                != Some(uid)
        {
            return false;
        }
        true
    }
}

/// `/proc/PID/stat`, parsed; `None` when the process is gone.
fn read_stat(pid: u32) -> Option<StatInfo> {
    // A stat line is a few hundred bytes: its command name is at most 64.
    let mut buf = [0u8; 1024];
    parse_stat(read_head(&format!("/proc/{pid}/stat"), &mut buf)?)
}

/// The PIDs in `/proc`, listed with `getdents64` into `buf` (one or two
/// system calls for thousands of processes, no allocation per entry).
fn list_pids(buf: &mut [u8], out: &mut Vec<u32>) {
    out.clear();
    // SAFETY: open(2) of a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    loop {
        // SAFETY: getdents64(2) writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut at = 0usize;
        while at + 19 < n as usize {
            // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[at + 19..(at + reclen).min(n as usize)];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(pid) = parse_pid(name) {
                out.push(pid);
            }
            at += reclen;
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
}

/// The last PID the kernel gave out (the last field of `/proc/loadavg`).
fn last_pid() -> Option<u32> {
    let mut buf = [0u8; 128];
    let text = read_head("/proc/loadavg", &mut buf)?;
    let last = text.split(|&b| b == b' ').next_back()?;
    std::str::from_utf8(last).ok()?.trim().parse().ok()
}

/// A directory name that is a PID.
fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}
