//! The sampler: reads a process's (or process tree's) RSS and VSZ.
//!
//! On Linux, [`linux::ProcSampler`] reads `/proc/PID/statm` through a descriptor
//! kept open (`pread`), which costs about a microsecond and is bound to the
//! process it was opened for: once that process exits, reads fail, even if its
//! PID is reused. Elsewhere [`portable::SysinfoSampler`] asks sysinfo.

use crate::metrics::Metric;
use anyhow::Result;

#[cfg(target_os = "linux")]
pub mod linux;
pub mod portable;

/// The target's metrics at one moment (bytes, or counts for fds and
/// threads); metrics that were not asked for are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// Values indexed by [`Metric::index`].
    pub values: [u64; crate::metrics::COUNT],
}

impl Reading {
    /// The value of `m`.
    pub fn get(&self, m: Metric) -> u64 {
        self.values[m.index()]
    }

    /// Resident set size (what `ps -o rss` shows, ×1024).
    pub fn rss(&self) -> u64 {
        self.get(Metric::Rss)
    }

    /// Virtual size (what `ps -o vsz` shows, ×1024).
    pub fn vsz(&self) -> u64 {
        self.get(Metric::Vsz)
    }

    /// Adds `o` to this reading, metric by metric (for process trees).
    pub fn add(&mut self, o: &Reading) {
        for (a, b) in self.values.iter_mut().zip(o.values) {
            *a += b;
        }
    }
}

/// Reads the metrics of a fixed target.
pub trait Sampler {
    /// The target's metrics now, or `Ok(None)` once the target has exited.
    fn sample(&mut self) -> Result<Option<Reading>>;
}

/// A process found by name: its PID and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The PID.
    pub pid: u32,
    /// Its command line (or name when the command line is hidden).
    pub cmdline: String,
}

/// Processes whose name or command line contains `pattern`, leaving out this
/// process and its ancestors (whose command lines contain the pattern too).
pub fn find_by_name(pattern: &str) -> Result<Vec<Found>> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let mut sys = System::new()?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    let me = sysinfo::Pid::from_u32(std::process::id());
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
            (name.contains(pattern) || cmdline.contains(pattern)).then(|| Found {
                pid: pid.as_u32(),
                cmdline,
            })
        })
        .collect();
    out.sort_by_key(|f| f.pid);
    Ok(out)
}

/// A sampler of `metrics` for `pid` (summed over its descendants with
/// `children`), the fastest this platform has. Fails at once, naming the
/// metric, when one cannot be read.
pub fn open(pid: u32, children: bool, metrics: &[Metric]) -> Result<Box<dyn Sampler>> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(linux::ProcSampler::open(pid, children, metrics)?))
    }
    #[cfg(not(target_os = "linux"))]
    {
        if let Some(m) = metrics
            .iter()
            .find(|m| !matches!(m, Metric::Rss | Metric::Vsz))
        {
            anyhow::bail!(
                "--metrics {}: only available on Linux; leave it out of --metrics",
                m.name()
            );
        }
        Ok(Box::new(portable::SysinfoSampler::open(pid, children)?))
    }
}
