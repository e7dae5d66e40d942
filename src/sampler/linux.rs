//! Linux sampling straight from `/proc`.

use super::{Mem, Sampler};
use anyhow::{Result, bail};
use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;

/// Reads `/proc/PID/statm` through a descriptor kept open, with one `pread`
/// per sample. With `children`, it also sums every descendant, re-found on each
/// sample by a scan of `/proc/*/stat`.
pub struct ProcSampler {
    pid: u32,
    statm: File,
    page: u64,
    children: bool,
    kids: HashMap<u32, File>,
    buf: [u8; 128],
}

/// The system page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

impl ProcSampler {
    /// Opens the target; fails with a clear message if it does not exist or
    /// cannot be read.
    pub fn open(pid: u32, children: bool) -> Result<Self> {
        let path = format!("/proc/{pid}/statm");
        let statm = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                bail!("no process with PID {pid}; check the PID with `ps -p {pid}`")
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => bail!(
                "cannot read {path}: permission denied; run leakwatch as the user that owns PID {pid}, or as root"
            ),
            Err(e) => bail!("cannot read {path}: {e}"),
        };
        let mut s = ProcSampler {
            pid,
            statm,
            page: page_size(),
            children,
            kids: HashMap::new(),
            buf: [0; 128],
        };
        if s.read_one_own()?.is_none() {
            bail!("process {pid} has already exited");
        }
        Ok(s)
    }

    fn read_one_own(&mut self) -> Result<Option<Mem>> {
        read_statm(&self.statm, &mut self.buf, self.page)
    }
}

/// Reads one statm through `f`; `None` once the process is gone (or a zombie).
fn read_statm(f: &File, buf: &mut [u8; 128], page: u64) -> Result<Option<Mem>> {
    let n = match f.read_at(buf, 0) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut it = buf[..n].split(|&b| b == b' ');
    let size = it.next().and_then(parse_u64);
    let resident = it.next().and_then(parse_u64);
    match (size, resident) {
        (Some(0), Some(0)) | (None, _) | (_, None) => Ok(None),
        (Some(s), Some(r)) => Ok(Some(Mem {
            rss: r * page,
            vsz: s * page,
        })),
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
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

impl Sampler for ProcSampler {
    fn sample(&mut self) -> Result<Option<Mem>> {
        let Some(mut mem) = self.read_one_own()? else {
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
            for &pid in &tree[1..] {
                let f = match self.kids.entry(pid) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        match File::open(format!("/proc/{pid}/statm")) {
                            Ok(f) => e.insert(f),
                            Err(_) => continue, // gone already, or not ours to read
                        }
                    }
                };
                if let Some(m) = read_statm(f, &mut self.buf, self.page)? {
                    mem.rss += m.rss;
                    mem.vsz += m.vsz;
                }
            }
        }
        Ok(Some(mem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let mut s = ProcSampler::open(std::process::id(), false).unwrap();
        let m = s.sample().unwrap().unwrap();
        assert!(m.rss > 0 && m.vsz >= m.rss);
    }

    #[test]
    fn missing_pid_is_a_clear_error() {
        let e = ProcSampler::open(u32::MAX - 7, false).err().unwrap();
        assert!(e.to_string().contains("no process with PID"), "{e}");
    }
}
