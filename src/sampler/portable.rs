//! The sampler for every platform sysinfo supports (used where `/proc` is not).

use super::{Reading, SampleError, Sampled, Sampler};
use crate::metrics::Metric;
use anyhow::Result;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Samples through sysinfo, refreshing only the target (or, with children,
/// the whole table to find descendants).
pub struct SysinfoSampler {
    sys: System,
    pid: Pid,
    start_time: u64,
    children: bool,
}

impl SysinfoSampler {
    /// Opens `pid`; fails if there is no such process.
    pub fn open(pid: u32, children: bool) -> Result<Self> {
        let mut sys = System::new()?;
        let p = Pid::from_u32(pid);
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[p]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        let Some(proc_) = sys.process(p) else {
            return Err(SampleError::NoProcess { pid }.into());
        };
        let start_time = proc_.start_time();
        Ok(SysinfoSampler {
            sys,
            pid: p,
            start_time,
            children,
        })
    }
}

impl Sampler for SysinfoSampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        let kind = ProcessRefreshKind::nothing().with_memory();
        if self.children {
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        } else {
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::Some(&[self.pid]), true, kind);
        }
        let Some(p) = self.sys.process(self.pid) else {
            return Ok(None);
        };
        if p.start_time() != self.start_time {
            return Ok(None); // the PID now belongs to another process
        }
        let mut mem = Reading::default();
        mem.values[Metric::Rss.index()] = p.memory();
        mem.values[Metric::Vsz.index()] = p.virtual_memory();
        if self.children {
            let procs = self.sys.processes();
            let mut tree = vec![self.pid];
            let mut i = 0;
            while i < tree.len() {
                let parent = tree[i];
                for (pid, q) in procs {
                    if q.parent() == Some(parent)
                        && q.thread_kind().is_none()
                        && !tree.contains(pid)
                    {
                        tree.push(*pid);
                        mem.values[Metric::Rss.index()] += q.memory();
                        mem.values[Metric::Vsz.index()] += q.virtual_memory();
                    }
                }
                i += 1;
            }
        }
        Ok(Some(Sampled {
            reading: mem,
            pid: self.pid.as_u32(),
            fresh: false,
        }))
    }
}
