//! Linux sampling straight from `/proc`.
//!
//! Cost per sample, per metric (`cargo bench --bench sample_cost`):
//! rss and vsz, one `pread` of `statm` (about 1 µs); threads, one `pread` of
//! `stat`; pss, uss and swap, one `pread` of `smaps_rollup`, which walks the
//! page tables (tens of µs, growing with the process's size); fds, a listing
//! of `/proc/PID/fd` (grows with the number of descriptors).

use super::{Reading, SampleError, Sampled, Sampler};
use crate::metrics::Metric;
use anyhow::Result;
use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;

/// Reads a process's metrics through descriptors kept open (`pread`), which
/// stay bound to that process: once it exits they fail, even if the PID is
/// reused. With `children`, it also sums every descendant, re-found on each
/// sample by a scan of `/proc/*/stat`.
pub struct ProcSampler {
    pid: u32,
    own: ProcFiles,
    metrics: Vec<Metric>,
    page: u64,
    children: bool,
    kids: HashMap<u32, ProcFiles>,
    buf: Vec<u8>,
}

/// The open files of one process.
pub(crate) struct ProcFiles {
    pid: u32,
    /// Start time (clock ticks after boot): with the PID, the process's identity.
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
}

/// The system page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// The error for failing to open `path` of `pid`, needed for `metric`.
fn open_error(pid: u32, path: String, metric: Option<Metric>, e: std::io::Error) -> SampleError {
    match e.kind() {
        ErrorKind::NotFound => SampleError::NoProcess { pid },
        ErrorKind::PermissionDenied => SampleError::PermissionDenied { pid, path, metric },
        _ => SampleError::Io {
            path,
            metric,
            source: e,
        },
    }
}

fn open_proc(pid: u32, file: &str, metric: Option<Metric>) -> Result<File, SampleError> {
    let path = format!("/proc/{pid}/{file}");
    File::open(&path).map_err(|e| open_error(pid, path, metric, e))
}

impl ProcFiles {
    fn open(pid: u32, metrics: &[Metric]) -> Result<ProcFiles, SampleError> {
        Self::open_known(pid, metrics, start_time(pid), true)
    }

    /// Opens `pid`, whose start time is `start`, for `metrics`. Unless
    /// `keep`, no descriptor is held between reads: each read opens and
    /// closes its files (slower; for more targets than descriptors).
    pub(crate) fn open_known(
        pid: u32,
        metrics: &[Metric],
        start: Option<u64>,
        keep: bool,
    ) -> Result<ProcFiles, SampleError> {
        let statm = open_proc(pid, "statm", None)?;
        let stat = if metrics.contains(&Metric::Threads) {
            Some(open_proc(pid, "stat", Some(Metric::Threads))?)
        } else {
            None
        };
        let rollup = metrics
            .iter()
            .find(|m| matches!(m, Metric::Pss | Metric::Uss | Metric::Swap));
        let smaps = match rollup {
            Some(&m) => Some(open_proc(pid, "smaps_rollup", Some(m))?),
            None => None,
        };
        let fds = metrics.contains(&Metric::Fds);
        if fds {
            let path = format!("/proc/{pid}/fd");
            if let Err(e) = std::fs::read_dir(&path) {
                return Err(open_error(pid, path, Some(Metric::Fds), e));
            }
        }
        let (wants_stat, wants_smaps) = (stat.is_some(), smaps.is_some());
        Ok(ProcFiles {
            pid,
            start,
            statm: keep.then_some(statm),
            stat: if keep { stat } else { None },
            wants_stat,
            smaps: if keep { smaps } else { None },
            wants_smaps,
            keep,
            fds,
        })
    }

    /// Descriptors held between reads.
    pub(crate) fn held(&self) -> usize {
        [&self.statm, &self.stat, &self.smaps]
            .iter()
            .filter(|f| f.is_some())
            .count()
    }

    /// Reads `file` of this process through `kept`, or opened for this read.
    fn read_file(
        &self,
        kept: &Option<File>,
        file: &str,
        buf: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        match kept {
            Some(f) => pread(f, buf),
            None => match File::open(format!("/proc/{}/{file}", self.pid)) {
                Ok(f) => pread(&f, buf),
                Err(_) => Ok(None),
            },
        }
    }

    /// Reads this process; `None` once it is gone (or a zombie).
    pub(crate) fn read(&mut self, buf: &mut Vec<u8>, page: u64) -> Result<Option<Reading>> {
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
            r.values[Metric::Threads.index()] = parse_threads(&buf[..n]).unwrap_or(0);
        }
        if self.wants_smaps {
            let Some(n) = self.read_smaps(buf)? else {
                return Ok(None);
            };
            let (pss, uss, swap) = parse_rollup(&buf[..n]);
            r.values[Metric::Pss.index()] = pss;
            r.values[Metric::Uss.index()] = uss;
            r.values[Metric::Swap.index()] = swap;
        }
        if self.fds {
            match std::fs::read_dir(format!("/proc/{}/fd", self.pid)) {
                Ok(d) => r.values[Metric::Fds.index()] = d.count() as u64,
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(r))
    }
}

impl ProcFiles {
    /// Reads `smaps_rollup`; `None` once the process is gone. The file is
    /// bound to the memory the process had when it was opened, so after an
    /// `exec` it reads empty: while the same process (PID and start time)
    /// is there, it is opened again.
    fn read_smaps(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        if let Some(f) = &self.smaps
            && let Some(n) = pread(f, buf)?
        {
            return Ok(Some(n));
        }
        if self.start.is_none() || start_time(self.pid) != self.start {
            return Ok(None);
        }
        let Ok(f) = File::open(format!("/proc/{}/smaps_rollup", self.pid)) else {
            return Ok(None);
        };
        let n = pread(&f, buf)?;
        if self.keep {
            self.smaps = Some(f);
        }
        Ok(n)
    }
}

/// The start time of `pid` (field 22 of `/proc/PID/stat`), if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .nth(19)
        .and_then(parse_u64)
}

/// Reads a whole /proc file from offset 0 into `buf`; `None` if the process is gone.
fn pread(f: &File, buf: &mut Vec<u8>) -> Result<Option<usize>> {
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
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if len == 0 { None } else { Some(len) })
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

/// Field 20 (num_threads) of `/proc/PID/stat`.
fn parse_threads(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .nth(17)
        .and_then(parse_u64)
}

/// (PSS, USS = private clean + private dirty, swap) in bytes from `smaps_rollup`.
fn parse_rollup(text: &[u8]) -> (u64, u64, u64) {
    let (mut pss, mut uss, mut swap) = (0, 0, 0);
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        let kib = line[colon + 1..]
            .split(|&b| b == b' ')
            .find(|f| !f.is_empty())
            .and_then(parse_u64)
            .unwrap_or(0);
        match key {
            b"Pss" => pss = kib * 1024,
            b"Private_Clean" | b"Private_Dirty" => uss += kib * 1024,
            b"Swap" => swap = kib * 1024,
            _ => {}
        }
    }
    (pss, uss, swap)
}

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatInfo {
    /// The command name (`comm`), up to 15 bytes.
    pub comm: String,
    /// The parent's PID.
    pub ppid: u32,
    /// Start time, clock ticks after boot.
    pub start: u64,
    /// A kernel thread (no memory of its own).
    pub kernel: bool,
}

/// Parses `/proc/PID/stat` text.
pub(crate) fn parse_stat(stat: &[u8]) -> Option<StatInfo> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut f = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let ppid = f.nth(1).and_then(parse_u64)?;
    let flags = f.nth(4).and_then(parse_u64)?;
    let start = f.nth(12).and_then(parse_u64)?;
    Some(StatInfo {
        comm: String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned(),
        ppid: ppid as u32,
        start,
        kernel: flags & PF_KTHREAD != 0,
    })
}

/// The name of `pid` if it is a kernel thread (flag PF_KTHREAD in
/// `/proc/PID/stat`), which has no memory of its own to watch.
fn kernel_thread_name(pid: u32) -> Option<String> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let flags = stat
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .nth(6)
        .and_then(parse_u64)?;
    let name = String::from_utf8_lossy(stat.get(open + 1..close)?);
    (flags & PF_KTHREAD != 0).then(|| name.chars().take(32).collect())
}

/// (pid, parent pid) of every process, from `/proc/*/stat`.
fn process_table() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: parse after the last ')'.
        let Some(close) = stat.iter().rposition(|&b| b == b')') else {
            continue;
        };
        let mut fields = stat[close + 1..]
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty());
        let _state = fields.next();
        if let Some(ppid) = fields.next().and_then(parse_u64) {
            out.push((pid, ppid as u32));
        }
    }
    out
}

impl ProcSampler {
    /// Opens the target for `metrics`; fails with a clear message if it does
    /// not exist or a metric cannot be read.
    pub fn open(pid: u32, children: bool, metrics: &[Metric]) -> Result<Self> {
        let mut own = ProcFiles::open(pid, metrics)?;
        let mut buf = vec![0; 4096];
        if own.read(&mut buf, page_size())?.is_none() {
            return Err(match kernel_thread_name(pid) {
                Some(name) => SampleError::KernelThread { pid, name },
                None => SampleError::Exited { pid },
            }
            .into());
        }
        Ok(ProcSampler {
            pid,
            own,
            metrics: metrics.to_vec(),
            page: page_size(),
            children,
            kids: HashMap::new(),
            buf,
        })
    }
}

impl Sampler for ProcSampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        let Some(mut total) = self.own.read(&mut self.buf, self.page)? else {
            return Ok(None);
        };
        if self.children {
            let table = process_table();
            let mut tree = vec![self.pid];
            let mut i = 0;
            while i < tree.len() {
                let parent = tree[i];
                tree.extend(
                    table
                        .iter()
                        .filter(|(_, pp)| *pp == parent)
                        .map(|(p, _)| *p),
                );
                i += 1;
            }
            self.kids.retain(|pid, _| tree.contains(pid));
            let mut gone = Vec::new();
            for &pid in &tree[1..] {
                let files = match self.kids.entry(pid) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        match ProcFiles::open(pid, &self.metrics) {
                            Ok(f) => e.insert(f),
                            Err(_) => continue, // gone already, or not ours to read
                        }
                    }
                };
                match files.read(&mut self.buf, self.page)? {
                    Some(r) => total.add(&r),
                    // Gone: if its PID comes back, it is another process.
                    None => gone.push(pid),
                }
            }
            for pid in gone {
                self.kids.remove(&pid);
            }
        }
        Ok(Some(Sampled {
            reading: total,
            pid: self.pid,
            fresh: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_metric_of_a_quiet_process() {
        // A sleeping child, not this process: its memory does not move
        // between the reads of statm and smaps_rollup, as this one's does
        // while other tests run beside it.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let stat = format!("/proc/{}/stat", child.id());
        while !std::fs::read_to_string(&stat)
            .unwrap_or_default()
            .contains("(sleep) S ")
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let mut s = ProcSampler::open(child.id(), false, &Metric::ALL).unwrap();
        let m = s.sample().unwrap().unwrap().reading;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(m.rss() > 0 && m.vsz() >= m.rss());
        assert!(m.get(Metric::Pss) > 0 && m.get(Metric::Pss) <= m.rss());
        assert!(m.get(Metric::Uss) > 0 && m.get(Metric::Uss) <= m.rss());
        assert!(m.get(Metric::Fds) >= 3);
        assert!(m.get(Metric::Threads) >= 1);
    }

    #[test]
    fn a_sampler_stays_bound_to_its_process() {
        // Reads go through descriptors opened on the process: once it has
        // exited and been reaped they fail, whatever process gets the PID next.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut s = ProcSampler::open(child.id(), false, &Metric::ALL).unwrap();
        assert!(s.sample().unwrap().is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(s.sample().unwrap(), None);
    }

    #[test]
    fn missing_pid_is_a_clear_error() {
        let e = ProcSampler::open(u32::MAX - 7, false, &[Metric::Rss])
            .err()
            .unwrap();
        assert!(e.to_string().contains("no process with PID"), "{e}");
    }

    #[test]
    fn parsers() {
        let stat = b"42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 12345 1000 200 18446744073709551615";
        assert_eq!(parse_threads(stat), Some(7));
        let info = parse_stat(stat).unwrap();
        assert_eq!(info.comm, "my (odd) name");
        assert_eq!((info.ppid, info.start, info.kernel), (1, 12345, false));
        let rollup = b"00-ff ---p 0 00:00 0 [rollup]\nRss: 100 kB\nPss: 60 kB\nPrivate_Clean: 4 kB\nPrivate_Dirty: 40 kB\nSwap: 8 kB\nSwapPss: 8 kB\n";
        assert_eq!(parse_rollup(rollup), (60 * 1024, 44 * 1024, 8 * 1024));
    }
}
