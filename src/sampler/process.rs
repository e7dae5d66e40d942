//! Sampling a process (or a process tree) through the procfs reader: its
//! files kept open and read with `pread`, bound to the process they were
//! opened for, so once it exits reads fail, even if its PID is reused.

use super::{SampleError, Sampled, Sampler};
use crate::metrics::{Metric, Reading};
use crate::sys::procfs::{ProcError, ProcFiles, ProcFs, page_size};
use anyhow::Result;
use std::collections::HashMap;

/// Reads a process's metrics; with `children`, also sums every descendant,
/// re-found on each sample from the process table.
pub struct ProcSampler {
    fs: ProcFs,
    pid: u32,
    own: ProcFiles,
    metrics: Vec<Metric>,
    page: u64,
    children: bool,
    kids: HashMap<u32, ProcFiles>,
    buf: Vec<u8>,
}

/// The sampling error for `e`, met opening a file of `pid` needed for `metric`.
pub fn proc_error(pid: u32, e: ProcError, metric: Option<Metric>) -> SampleError {
    match e {
        ProcError::Gone => SampleError::NoProcess { pid },
        ProcError::Denied(path) => SampleError::PermissionDenied {
            pid,
            path: path.display().to_string(),
            metric,
        },
        ProcError::Io(path, source) => SampleError::Io {
            path: path.display().to_string(),
            metric,
            source,
        },
    }
}

/// Opens `pid` of `fs` for `metrics`, holding its descriptors.
fn open_files(fs: &ProcFs, pid: u32, metrics: &[Metric]) -> Result<ProcFiles, SampleError> {
    ProcFiles::open(fs, pid, metrics, fs.start_time(pid), true)
        .map_err(|(e, m)| proc_error(pid, e, m))
}

impl ProcSampler {
    /// Opens process `pid` of `fs` for `metrics`; fails with a clear message
    /// if it does not exist, is a kernel thread, or a metric cannot be read.
    pub fn open(fs: &ProcFs, pid: u32, children: bool, metrics: &[Metric]) -> Result<Self> {
        let mut own = open_files(fs, pid, metrics)?;
        let mut buf = vec![0; 4096];
        if own.read(&mut buf, page_size())?.is_none() {
            return Err(match fs.kernel_thread_name(pid) {
                Some(name) => SampleError::KernelThread { pid, name },
                None => SampleError::Exited { pid },
            }
            .into());
        }
        Ok(ProcSampler {
            fs: fs.clone(),
            pid,
            own,
            metrics: metrics.to_vec(),
            page: page_size(),
            children,
            kids: HashMap::new(),
            buf,
        })
    }

    /// Adds every descendant's reading to `total`.
    fn add_tree(&mut self, total: &mut Reading) -> Result<()> {
        let table = self.fs.process_table();
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
                    match open_files(&self.fs, pid, &self.metrics) {
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
        Ok(())
    }
}

impl Sampler for ProcSampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        let Some(mut total) = self.own.read(&mut self.buf, self.page)? else {
            return Ok(None);
        };
        if self.children {
            self.add_tree(&mut total)?;
        }
        Ok(Some(Sampled {
            reading: total,
            pid: self.pid,
            fresh: false,
        }))
    }

    fn note(&self) -> Option<String> {
        rollup_note(&self.own)
    }
}

/// A sampler of a process `ProcFiles` the caller opened (a scan's
/// discovery, which read its first sample to tell it from a kernel thread).
pub struct FilesSampler {
    files: ProcFiles,
    buf: Vec<u8>,
    page: u64,
}

impl FilesSampler {
    /// Samples through `files`.
    pub fn new(files: ProcFiles) -> FilesSampler {
        FilesSampler {
            files,
            // Grown by the first read to what the files need (512 bytes
            // for statm): a scan holds thousands.
            buf: Vec::new(),
            page: page_size(),
        }
    }

    /// Descriptors held between reads.
    pub fn held(&self) -> usize {
        self.files.held()
    }
}

impl Sampler for FilesSampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        // A failed read is a process gone (a scan never stops for one).
        let r = self.files.read(&mut self.buf, self.page).ok().flatten();
        Ok(r.map(|reading| Sampled {
            reading,
            pid: self.files.pid(),
            fresh: false,
        }))
    }

    fn held(&self) -> u64 {
        self.files.held() as u64
    }

    fn note(&self) -> Option<String> {
        rollup_note(&self.files)
    }
}

/// `secs` in milliseconds below a second, else as durations are shown.
fn short_secs(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        crate::units::format_secs(secs)
    }
}

/// Says how `files`' `smaps_rollup` reads were spaced, if some samples kept
/// the last values.
fn rollup_note(files: &ProcFiles) -> Option<String> {
    let p = files.rollup_pacing().filter(|p| p.held > 0)?;
    Some(format!(
        "PID {}: pss, uss and swap were read {} times in {} samples, at most every {}: one read of its smaps_rollup took up to {} (it stalls the process's allocations), and leakwatch holds a process there at most {}% of the time; between reads the samples and the log repeat the last values",
        files.pid(),
        p.reads,
        p.reads + p.held,
        short_secs(p.max_spacing_s),
        short_secs(p.max_cost_s),
        crate::sys::procfs::ROLLUP_SHARE * 100.0,
    ))
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
        // Exec'd, and blocked in its sleep (state S).
        let stat = format!("/proc/{}/stat", child.id());
        while !std::fs::read_to_string(&stat)
            .unwrap_or_default()
            .contains("(sleep) S ")
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let fs = ProcFs::host();
        let mut s = ProcSampler::open(&fs, child.id(), false, &Metric::ALL).unwrap();
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
        let fs = ProcFs::host();
        let mut s = ProcSampler::open(&fs, child.id(), false, &Metric::ALL).unwrap();
        assert!(s.sample().unwrap().is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(s.sample().unwrap(), None);
    }

    #[test]
    fn missing_pid_is_a_clear_error() {
        let fs = ProcFs::host();
        let e = ProcSampler::open(&fs, u32::MAX - 7, false, &[Metric::Rss])
            .err()
            .unwrap();
        assert!(e.to_string().contains("no process with PID"), "{e}");
    }
}
