//! The procfs reader: every `/proc` path leakwatch reads is spelled here,
//! under a root that is a parameter ([`ProcFs::new`]), so tests point it at
//! a tree of their own in a temporary directory (as below's
//! `ProcReader::new_with_custom_procfs`).
//!
//! Cost per sample, per metric (`cargo bench --bench sample_cost`): rss and
//! vsz, one `pread` of `statm` (about 1 µs); threads, one `pread` of `stat`;
//! pss, uss and swap, one `pread` of `smaps_rollup`, which walks the page
//! tables (tens of µs, growing with the process's size); fds, a listing of
//! `fd/` (grows with the number of descriptors).

use crate::metrics::{Metric, Reading};
use std::ffi::CString;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why a file of a process cannot be read.
#[derive(Debug)]
pub enum ProcError {
    /// The process is not there (no such PID, or it exited).
    Gone,
    /// This user may not read the file.
    Denied(PathBuf),
    /// Any other failure.
    Io(PathBuf, std::io::Error),
}

/// A procfs mounted at a root: `/proc` on the host, or a test's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcFs {
    root: PathBuf,
}

impl Default for ProcFs {
    fn default() -> Self {
        ProcFs::host()
    }
}

/// What `stat` says of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name (`comm`), up to 15 bytes, lossily decoded.
    pub comm: String,
    /// The parent's PID.
    pub ppid: u32,
    /// Start time, clock ticks after boot: with the PID, the process's identity.
    pub start: u64,
    /// A kernel thread (no memory of its own).
    pub kernel: bool,
    /// Threads.
    pub threads: u64,
    /// Its process group.
    pub pgrp: u32,
    /// Exited, not yet reaped by its parent.
    pub zombie: bool,
    /// Forked and not (yet) exec'd (`PF_FORKNOEXEC`): it has its parent's
    /// command line.
    pub forked: bool,
}

impl ProcFs {
    /// The host's `/proc`.
    pub fn host() -> ProcFs {
        ProcFs::new("/proc")
    }

    /// A procfs whose root is `root` (a test's tree).
    pub fn new(root: impl Into<PathBuf>) -> ProcFs {
        ProcFs { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `file` of `pid`.
    fn path(&self, pid: u32, file: &str) -> PathBuf {
        let mut p = self.root.join(pid.to_string());
        if !file.is_empty() {
            p.push(file);
        }
        p
    }

    /// Opens `file` of `pid` for reading.
    fn open(&self, pid: u32, file: &str) -> Result<File, ProcError> {
        let path = self.path(pid, file);
        File::open(&path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ProcError::Gone,
            ErrorKind::PermissionDenied => ProcError::Denied(path),
            _ => ProcError::Io(path, e),
        })
    }

    /// The start of `file` of `pid`, in one read into `buf` (no size probe,
    /// no allocation: a discovery reads files of every process).
    fn head<'a>(&self, pid: u32, file: &str, buf: &'a mut [u8]) -> Option<&'a [u8]> {
        let mut f = File::open(self.path(pid, file)).ok()?;
        let n = f.read(buf).ok()?;
        Some(&buf[..n])
    }

    /// Whether a process `pid` is there.
    pub fn exists(&self, pid: u32) -> bool {
        self.path(pid, "").is_dir()
    }

    /// `stat` of `pid`, parsed; `None` when it is gone.
    pub fn stat(&self, pid: u32) -> Option<Stat> {
        // A stat line is a few hundred bytes: its command name is at most 64.
        let mut buf = [0u8; 1024];
        parse_stat(self.head(pid, "stat", &mut buf)?)
    }

    /// The start time of `pid` (clock ticks after boot), if it is there.
    pub fn start_time(&self, pid: u32) -> Option<u64> {
        self.stat(pid).map(|s| s.start)
    }

    /// `pid`'s whole command line, its arguments joined by spaces, control
    /// characters made spaces (empty for a kernel thread or a zombie);
    /// `None` when it is gone. At most `max` bytes are read.
    pub fn cmdline(&self, pid: u32, max: usize) -> Option<String> {
        let mut f = File::open(self.path(pid, "cmdline")).ok()?;
        // Each read of a `cmdline` reaches into the process's memory (a few
        // µs): one read of a page takes most whole, and one that comes back
        // short has reached the end (the kernel fills what it is asked for
        // while there is more), so no read is spent on finding the end.
        let mut raw = vec![0; max.min(4096)];
        let mut len = 0;
        while len < raw.len() {
            match f.read(&mut raw[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
            if len < raw.len() {
                break;
            }
            if raw.len() < max {
                raw.resize((raw.len() * 4).min(max), 0);
            }
        }
        Some(join_args(&raw[..len]))
    }

    /// `pid`'s command name (`comm`), lossily decoded, at most 64 characters.
    pub fn comm(&self, pid: u32) -> Option<String> {
        let mut buf = [0u8; 128];
        let raw = self.head(pid, "comm", &mut buf)?;
        let s = String::from_utf8_lossy(raw);
        Some(s.trim_end_matches('\n').chars().take(64).collect())
    }

    /// The executable `pid` runs.
    pub fn exe(&self, pid: u32) -> Option<PathBuf> {
        std::fs::read_link(self.path(pid, "exe")).ok()
    }

    /// The first `max` bytes of `pid`'s executable.
    pub fn exe_head(&self, pid: u32, max: u64) -> Vec<u8> {
        let mut head = Vec::new();
        if let Ok(f) = File::open(self.path(pid, "exe")) {
            let _ = f.take(max).read_to_end(&mut head);
        }
        head
    }

    /// `pid`'s resident set size, in pages (from `statm`).
    pub fn resident_pages(&self, pid: u32) -> Option<u64> {
        let mut buf = [0u8; 256];
        let text = self.head(pid, "statm", &mut buf)?;
        text.split(|&b| b == b' ').nth(1).and_then(parse_u64)
    }

    /// `pid`'s memory maps (`maps`), or `None` if they cannot be read.
    pub fn maps(&self, pid: u32) -> Option<String> {
        std::fs::read_to_string(self.path(pid, "maps")).ok()
    }

    /// `pid`'s `cgroup` file.
    pub fn cgroup(&self, pid: u32) -> Option<String> {
        std::fs::read_to_string(self.path(pid, "cgroup")).ok()
    }

    /// The owner (user ID) of process `pid`.
    pub fn uid(&self, pid: u32) -> Option<u32> {
        std::fs::metadata(self.path(pid, "")).ok().map(|m| m.uid())
    }

    /// The mounts this process sees (`self/mountinfo`).
    pub fn mountinfo(&self) -> String {
        std::fs::read_to_string(self.root.join("self/mountinfo")).unwrap_or_default()
    }

    /// This process's own executable (`self/exe`).
    pub fn self_exe(&self) -> Option<PathBuf> {
        std::fs::read_link(self.root.join("self/exe")).ok()
    }

    /// The last PID the kernel gave out (the last field of `loadavg`).
    pub fn last_pid(&self) -> Option<u32> {
        let mut buf = [0u8; 128];
        let mut f = File::open(self.root.join("loadavg")).ok()?;
        let n = f.read(&mut buf).ok()?;
        let last = buf[..n].split(|&b| b == b' ').next_back()?;
        std::str::from_utf8(last).ok()?.trim().parse().ok()
    }

    /// The PIDs under the root, listed with `getdents64` into `buf` (one or
    /// two system calls for thousands of processes, no allocation per entry).
    pub fn list_pids(&self, buf: &mut [u8], out: &mut Vec<u32>) {
        out.clear();
        let Ok(path) = CString::new(self.root.as_os_str().as_bytes()) else {
            return;
        };
        super::dirents(&path, buf, |name| {
            if let Some(pid) = parse_pid(name) {
                out.push(pid);
            }
        });
    }

    /// Whether the root is a procfs whose listing can start at a PID
    /// ([`ProcFs::list_pids_in`]), and of this process's PID namespace (the
    /// one `loadavg` gives the last PID of): listed from this process's
    /// PID, it lists this process first. A test's tree is no procfs.
    pub fn lists_by_pid(&self) -> bool {
        const PROC_SUPER_MAGIC: i64 = 0x9fa0;
        let Ok(path) = CString::new(self.root.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: statfs is plain data, valid when zeroed.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: statfs(2) of a NUL-terminated path into the struct we pass.
        let rc = unsafe { libc::statfs(path.as_ptr(), &mut st) };
        if rc != 0 || st.f_type as i64 != PROC_SUPER_MAGIC {
            return false;
        }
        let me = std::process::id();
        let mut listed = Vec::new();
        self.list_pids_in(me, me, &mut [0; 512], &mut listed);
        listed == [me]
    }

    /// Appends to `out` the PIDs from `lo` to `hi` (both included), in
    /// order, listed from `lo` on: a procfs's directory offsets follow the
    /// PIDs (a process's is its PID plus 258 since Linux 3.17, plus 257
    /// before), so the listing starts a little before `lo` and stops past
    /// `hi`, at the cost of the PIDs in between. Only where
    /// [`ProcFs::lists_by_pid`]; `buf` sized for the PIDs expected (each
    /// takes 24 bytes; a call fills it).
    pub fn list_pids_in(&self, lo: u32, hi: u32, buf: &mut [u8], out: &mut Vec<u32>) {
        let Ok(path) = CString::new(self.root.as_os_str().as_bytes()) else {
            return;
        };
        super::dirents_from(&path, 256 + i64::from(lo), buf, |name| {
            match parse_pid(name) {
                Some(pid) if pid > hi => false,
                Some(pid) if pid >= lo => {
                    out.push(pid);
                    true
                }
                _ => true,
            }
        });
    }

    /// (pid, parent pid) of every process, from each `stat`.
    pub fn process_table(&self) -> Vec<(u32, u32)> {
        let mut pids = Vec::new();
        self.list_pids(&mut vec![0; 64 * 1024], &mut pids);
        pids.into_iter()
            .filter_map(|p| Some((p, self.stat(p)?.ppid)))
            .collect()
    }

    /// The name of `pid` if it is a kernel thread, which has no memory of
    /// its own to watch.
    pub fn kernel_thread_name(&self, pid: u32) -> Option<String> {
        let s = self.stat(pid)?;
        s.kernel.then(|| s.comm.chars().take(32).collect())
    }

    /// The loader of `pid` is done: a dynamically linked program (its
    /// executable names an interpreter, `/ld-…`) has a shared library
    /// besides the loader mapped; a static one is done once exec'd.
    pub fn loaded(&self, pid: u32) -> bool {
        let head = self.exe_head(pid, 4096);
        if memchr::memmem::find(&head, b"/ld-").is_none() {
            return true;
        }
        let Some(maps) = self.maps(pid) else {
            // Unreadable mid-exec, or gone: done only if gone.
            return !self.exists(pid);
        };
        let is_loader =
            |p: &str| p.contains("/ld-linux") || p.contains("/ld-musl") || p.contains("/ld.so");
        maps.lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .any(|p| p.contains(".so") && !is_loader(p))
    }

    /// Open file descriptors of `pid` (a listing of `fd/`).
    pub fn fd_count(&self, pid: u32) -> Result<u64, ProcError> {
        let path = self.path(pid, "fd");
        match std::fs::read_dir(&path) {
            Ok(d) => Ok(d.count() as u64),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(ProcError::Gone),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(ProcError::Denied(path)),
            Err(e) => Err(ProcError::Io(path, e)),
        }
    }
}

/// A directory name that is a PID.
fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// A raw `cmdline` as one line: arguments joined by spaces, control
/// characters made spaces, lossily decoded.
fn join_args(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The system page size in bytes.
pub fn page_size() -> u64 {
    super::page_size()
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// Parses `stat` text.
pub fn parse_stat(stat: &[u8]) -> Option<Stat> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    const PF_FORKNOEXEC: u64 = 0x0000_0040;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut f = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // Fields after the name: state (3), ppid (4), ..., flags (9), ...,
    // num_threads (20), ..., starttime (22).
    let state = f.next()?;
    let ppid = f.next().and_then(parse_u64)?;
    let pgrp = f.next().and_then(parse_u64)?;
    let flags = f.nth(3).and_then(parse_u64)?;
    let threads = f.nth(10).and_then(parse_u64)?;
    let start = f.nth(1).and_then(parse_u64)?;
    Some(Stat {
        comm: String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned(),
        ppid: ppid as u32,
        start,
        kernel: flags & PF_KTHREAD != 0,
        threads,
        pgrp: pgrp as u32,
        zombie: state == b"Z",
        forked: flags & PF_FORKNOEXEC != 0,
    })
}

/// (PSS, USS = private clean + private dirty, swap) in bytes from `smaps_rollup`.
pub fn parse_rollup(text: &[u8]) -> (u64, u64, u64) {
    let (mut pss, mut uss, mut swap) = (0, 0, 0);
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let kib = line[colon + 1..]
            .split(|&b| b == b' ')
            .find(|f| !f.is_empty())
            .and_then(parse_u64)
            .unwrap_or(0);
        match &line[..colon] {
            b"Pss" => pss = kib * 1024,
            b"Private_Clean" | b"Private_Dirty" => uss += kib * 1024,
            b"Swap" => swap = kib * 1024,
            _ => {}
        }
    }
    (pss, uss, swap)
}

/// Reads a whole file from offset 0 into `buf`, growing it as needed;
/// `None` when the process is gone (`ESRCH`, or nothing to read).
fn pread(f: &File, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len().max(256) * 2, 0);
        }
        match f.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                // statm and stat come in one read; go on only for longer files.
                if len < buf.len() {
                    break;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(if len == 0 { None } else { Some(len) })
}

/// The files of one process a sampler reads, kept open (`pread`) so they
/// stay bound to that process: once it exits they fail, even if its PID
/// is reused.
#[derive(Debug)]
pub struct ProcFiles {
    fs: ProcFs,
    pid: u32,
    /// Start time: with the PID, the process's identity.
    start: Option<u64>,
    /// `statm`, kept open; `None`: opened for each read (too few descriptors).
    statm: Option<File>,
    stat: Option<File>,
    /// `stat` is read (for threads) though not kept open.
    wants_stat: bool,
    smaps: Option<File>,
    /// `smaps_rollup` is read (for pss, uss, swap).
    wants_smaps: bool,
    /// Descriptors are kept open between reads.
    keep: bool,
    fds: bool,
    /// How often `smaps_rollup` may be read (see [`RollupPacing`]).
    rollup: RollupPacing,
}

/// The share of wall time leakwatch may hold a target in `smaps_rollup`,
/// whose read walks the page tables under the target's mmap lock and so
/// stalls its allocations: about 9 µs per MiB resident.
pub const ROLLUP_SHARE: f64 = 0.01;

/// Paces `smaps_rollup` reads so they take at most [`ROLLUP_SHARE`] of wall
/// time: after a read that took `c`, the next comes no sooner than `c /
/// ROLLUP_SHARE` later; in between, pss, uss and swap keep their last values.
#[derive(Debug, Clone, Default)]
pub struct RollupPacing {
    last: [u64; 3],
    next: Option<std::time::Instant>,
    /// The longest read and the longest spacing it set, seconds.
    pub max_cost_s: f64,
    /// The longest spacing set, seconds.
    pub max_spacing_s: f64,
    /// Reads made and ticks that kept the last values.
    pub reads: u64,
    /// Ticks that kept the last values.
    pub held: u64,
}

impl RollupPacing {
    /// Takes the `values` of a read begun at `start` that cost `cost` CPU
    /// seconds (not wall time: a read preempted on a busy machine did not
    /// hold the target longer), and spaces the next.
    fn read(&mut self, start: std::time::Instant, cost: f64, values: [u64; 3]) {
        let spacing = cost / ROLLUP_SHARE;
        self.last = values;
        self.next = start.checked_add(std::time::Duration::from_secs_f64(spacing));
        self.reads += 1;
        self.max_cost_s = self.max_cost_s.max(cost);
        self.max_spacing_s = self.max_spacing_s.max(spacing);
    }
}

/// Which metric a failed file was needed for (`None`: the base metrics).
pub type Needed = Option<Metric>;

impl ProcFiles {
    /// Opens `pid` (started at `start`) for `metrics`. Unless `keep`, no
    /// descriptor is held between reads: each read opens and closes its
    /// files (slower; for more targets than descriptors). A failure names
    /// the metric whose file failed.
    pub fn open(
        fs: &ProcFs,
        pid: u32,
        metrics: &[Metric],
        start: Option<u64>,
        keep: bool,
    ) -> Result<ProcFiles, (ProcError, Needed)> {
        let statm = fs.open(pid, "statm").map_err(|e| (e, None))?;
        let stat = if metrics.contains(&Metric::Threads) {
            Some(
                fs.open(pid, "stat")
                    .map_err(|e| (e, Some(Metric::Threads)))?,
            )
        } else {
            None
        };
        let rollup = metrics
            .iter()
            .find(|m| matches!(m, Metric::Pss | Metric::Uss | Metric::Swap));
        let smaps = match rollup {
            Some(&m) => Some(fs.open(pid, "smaps_rollup").map_err(|e| (e, Some(m)))?),
            None => None,
        };
        let fds = metrics.contains(&Metric::Fds);
        if fds {
            fs.fd_count(pid).map_err(|e| (e, Some(Metric::Fds)))?;
        }
        let (wants_stat, wants_smaps) = (stat.is_some(), smaps.is_some());
        Ok(ProcFiles {
            fs: fs.clone(),
            pid,
            start,
            statm: keep.then_some(statm),
            stat: if keep { stat } else { None },
            wants_stat,
            smaps: if keep { smaps } else { None },
            wants_smaps,
            keep,
            fds,
            rollup: RollupPacing::default(),
        })
    }

    /// How `smaps_rollup` reads were paced so far.
    pub fn rollup_pacing(&self) -> Option<&RollupPacing> {
        self.wants_smaps.then_some(&self.rollup)
    }

    /// The process read.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Descriptors held between reads.
    pub fn held(&self) -> usize {
        [&self.statm, &self.stat, &self.smaps]
            .iter()
            .filter(|f| f.is_some())
            .count()
    }

    /// Reads `file` through `kept`, or opened for this read.
    fn read_file(
        &self,
        kept: &Option<File>,
        file: &str,
        buf: &mut Vec<u8>,
    ) -> std::io::Result<Option<usize>> {
        match kept {
            Some(f) => pread(f, buf),
            None => match self.fs.open(self.pid, file) {
                Ok(f) => pread(&f, buf),
                Err(_) => Ok(None),
            },
        }
    }

    /// Reads this process's metrics; `None` once it is gone (or a zombie,
    /// or a kernel thread: no memory).
    pub fn read(&mut self, buf: &mut Vec<u8>, page: u64) -> std::io::Result<Option<Reading>> {
        let mut r = Reading::default();
        let Some(n) = self.read_file(&self.statm, "statm", buf)? else {
            return Ok(None);
        };
        let mut it = buf[..n].split(|&b| b == b' ');
        let size = it.next().and_then(parse_u64);
        let resident = it.next().and_then(parse_u64);
        match (size, resident) {
            (Some(0), Some(0)) | (None, _) | (_, None) => return Ok(None),
            (Some(s), Some(res)) => {
                r.values[Metric::Rss.index()] = res * page;
                r.values[Metric::Vsz.index()] = s * page;
            }
        }
        if self.wants_stat {
            let Some(n) = self.read_file(&self.stat, "stat", buf)? else {
                return Ok(None);
            };
            r.values[Metric::Threads.index()] = parse_stat(&buf[..n]).map_or(0, |s| s.threads);
        }
        if self.wants_smaps {
            let now = std::time::Instant::now();
            if self.rollup.next.is_some_and(|n| now < n) {
                self.rollup.held += 1;
            } else {
                let cpu = super::clock::thread_cpu_s();
                let Some(n) = self.read_smaps(buf)? else {
                    return Ok(None);
                };
                let cost = super::clock::thread_cpu_s() - cpu;
                let (pss, uss, swap) = parse_rollup(&buf[..n]);
                self.rollup.read(now, cost, [pss, uss, swap]);
            }
            let [pss, uss, swap] = self.rollup.last;
            r.values[Metric::Pss.index()] = pss;
            r.values[Metric::Uss.index()] = uss;
            r.values[Metric::Swap.index()] = swap;
        }
        if self.fds {
            match self.fs.fd_count(self.pid) {
                Ok(n) => r.values[Metric::Fds.index()] = n,
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(r))
    }

    /// Reads `smaps_rollup`; `None` once the process is gone. The file is
    /// bound to the memory the process had when it was opened, so after an
    /// `exec` it reads empty: while the same process (PID and start time)
    /// is there, it is opened again.
    fn read_smaps(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
        if let Some(f) = &self.smaps
            && let Some(n) = pread(f, buf)?
        {
            return Ok(Some(n));
        }
        if self.start.is_none() || self.fs.start_time(self.pid) != self.start {
            return Ok(None);
        }
        let Ok(f) = self.fs.open(self.pid, "smaps_rollup") else {
            return Ok(None);
        };
        let n = pread(&f, buf)?;
        if self.keep {
            self.smaps = Some(f);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_procfs_lists_from_a_pid() {
        let fs = ProcFs::host();
        if !fs.lists_by_pid() {
            return;
        }
        let me = std::process::id();
        let (mut all, mut from) = (Vec::new(), Vec::new());
        let mut buf = vec![0; 64 * 1024];
        fs.list_pids(&mut buf, &mut all);
        // A small buffer: several calls.
        fs.list_pids_in(0, u32::MAX, &mut buf[..512], &mut from);
        let mut each = Vec::new();
        fs.list_pids_in(me, me, &mut buf[..512], &mut each);
        assert_eq!(each, [me]);
        // Processes come and go meanwhile: the lists mostly agree.
        let common = from.iter().filter(|p| all.contains(p)).count();
        assert!(common * 10 >= all.len() * 9, "{from:?} / {all:?}");
        assert!(from.windows(2).all(|w| w[0] < w[1]), "{from:?}");
        assert!(!ProcFs::new(std::env::temp_dir()).lists_by_pid());
    }

    #[test]
    fn parsers() {
        let stat = b"42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 12345 1000 200 18446744073709551615";
        let info = parse_stat(stat).unwrap();
        assert_eq!(info.comm, "my (odd) name");
        assert_eq!(
            (info.ppid, info.start, info.kernel, info.threads),
            (1, 12345, false, 7)
        );
        assert_eq!((info.pgrp, info.zombie, info.forked), (42, false, false));
        let forked = b"43 (sh) R 42 42 42 0 -1 4194624 0 0 0 0 0 0 0 0 20 0 1 0 12346 1000 200 0";
        assert!(parse_stat(forked).unwrap().forked);
        let rollup = b"00-ff ---p 0 00:00 0 [rollup]\nRss: 100 kB\nPss: 60 kB\nPrivate_Clean: 4 kB\nPrivate_Dirty: 40 kB\nSwap: 8 kB\nSwapPss: 8 kB\n";
        assert_eq!(parse_rollup(rollup), (60 * 1024, 44 * 1024, 8 * 1024));
        assert_eq!(join_args(b"a\0b c\0\x1b[2J\0"), "a b c  [2J");
    }
}
