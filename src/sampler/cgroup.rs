//! Sampling a cgroup: its anonymous memory as `rss_bytes` and its use with
//! page cache as `usage_bytes` (see [`crate::sys::cgroupfs`]).

use super::{Reading, Sampled, Sampler};
use crate::metrics::Metric;
use crate::sys::cgroupfs::{self, CgroupError, CgroupFiles, Hierarchy};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Reads a cgroup's memory through its files kept open. The process
/// logged with each sample is the cgroup's lowest PID when the watch (or
/// run) began, so a run keeps one PID in the log; once the cgroup holds no
/// process, or is removed, it is gone.
#[derive(Debug)]
pub struct CgroupSampler {
    dir: PathBuf,
    files: CgroupFiles,
    pid: u32,
    buf: Vec<u8>,
}

impl CgroupSampler {
    /// Opens the cgroup at `dir` of `h`; fails when it holds no process.
    pub fn open(h: &Hierarchy, dir: &Path) -> Result<CgroupSampler> {
        let files = CgroupFiles::open(dir, h.version)?;
        let Some(&pid) = cgroupfs::procs(dir).iter().min() else {
            return Err(CgroupError::Empty {
                path: dir.to_path_buf(),
            }
            .into());
        };
        Ok(CgroupSampler {
            dir: dir.to_path_buf(),
            files,
            pid,
            buf: Vec::new(),
        })
    }

    /// The cgroup's lowest PID when it was opened.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// A reading of a cgroup's memory.
pub fn reading(m: cgroupfs::Memory) -> Reading {
    let mut r = Reading::default();
    r.values[Metric::Rss.index()] = m.anon;
    r.values[Metric::Usage.index()] = m.usage;
    r
}

impl Sampler for CgroupSampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        let Some(m) = self.files.read(&mut self.buf) else {
            return Ok(None);
        };
        if cgroupfs::procs(&self.dir).is_empty() {
            return Ok(None);
        }
        Ok(Some(Sampled {
            reading: reading(m),
            pid: self.pid,
            fresh: false,
        }))
    }

    fn gone(&self) -> &'static str {
        "cgroup emptied"
    }

    fn held(&self) -> u64 {
        2
    }
}
