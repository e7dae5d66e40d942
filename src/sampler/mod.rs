//! The sampler: reads a process's (or process tree's) RSS and VSZ.
//!
//! On Linux, [`linux::ProcSampler`] reads `/proc/PID/statm` through a descriptor
//! kept open (`pread`), which costs about a microsecond and is bound to the
//! process it was opened for: once that process exits, reads fail, even if its
//! PID is reused. Elsewhere [`portable::SysinfoSampler`] asks sysinfo.
//! [`replay::Replay`] reads a log back as if it were a live target.

use crate::metrics::Metric;
use anyhow::Result;

pub mod cgroup;
pub mod follow;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod portable;
pub mod replay;

/// Why a target cannot be sampled.
#[derive(Debug)]
pub enum SampleError {
    /// No process has this PID.
    NoProcess {
        /// The PID asked for.
        pid: u32,
    },
    /// The process exited before it could be read.
    Exited {
        /// Its PID.
        pid: u32,
    },
    /// The PID is a kernel thread, which has no user memory.
    KernelThread {
        /// Its PID.
        pid: u32,
        /// Its name.
        name: String,
    },
    /// A file of the process may not be read by this user.
    PermissionDenied {
        /// The process.
        pid: u32,
        /// The file or directory refused.
        path: String,
        /// The metric that needs it (`None`: the base metrics).
        metric: Option<Metric>,
    },
    /// This platform cannot sample the metric.
    Unsupported {
        /// The metric.
        metric: Metric,
    },
    /// Any other failure reading a file of the process.
    Io {
        /// The file.
        path: String,
        /// The metric that needs it, if not a base one.
        metric: Option<Metric>,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl SampleError {
    /// The metric whose file failed, if it is not a base metric.
    pub fn metric(&self) -> Option<Metric> {
        match self {
            SampleError::PermissionDenied { metric, .. } | SampleError::Io { metric, .. } => {
                *metric
            }
            SampleError::Unsupported { metric } => Some(*metric),
            _ => None,
        }
    }
}

impl std::fmt::Display for SampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleError::NoProcess { pid } => {
                write!(
                    f,
                    "no process with PID {pid}; check the PID with `ps -p {pid}`"
                )
            }
            SampleError::Exited { pid } => write!(f, "process {pid} has already exited"),
            SampleError::KernelThread { pid, name } => write!(
                f,
                "PID {pid} ({name}) is a kernel thread: it has no memory of its own to watch; give the PID of a user process"
            ),
            SampleError::PermissionDenied { pid, path, .. } => write!(
                f,
                "cannot read {path}: permission denied; run leakwatch as the user that owns PID {pid} (or as root)"
            ),
            SampleError::Unsupported { metric } => {
                write!(f, "{} can only be sampled on Linux", metric.name())
            }
            SampleError::Io { path, source, .. } => write!(f, "cannot read {path}: {source}"),
        }
    }
}

impl std::error::Error for SampleError {}

/// One reading and the process it is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampled {
    /// The metrics read.
    pub reading: Reading,
    /// The process read.
    pub pid: u32,
    /// A new target starts here (a replayed log's next watch): judge afresh.
    pub fresh: bool,
}

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

/// Reads the metrics of a target.
pub trait Sampler {
    /// The target's metrics now, or `Ok(None)` once the target has gone.
    fn sample(&mut self) -> Result<Option<Sampled>>;

    /// Why the target is gone, once `sample` has said so.
    fn gone(&self) -> &'static str {
        "target exited"
    }

    /// The target is gone but its successor is awaited (`--follow`): a
    /// `None` from `sample` then means no sample this tick, not the end.
    fn waiting(&self) -> bool {
        false
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

/// When `pid` started (clock ticks after boot), if it exists and this
/// platform says.
pub fn start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        linux::start_time(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
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
        if let Some(&metric) = metrics
            .iter()
            .find(|m| !matches!(m, Metric::Rss | Metric::Vsz))
        {
            return Err(SampleError::Unsupported { metric }.into());
        }
        Ok(Box::new(portable::SysinfoSampler::open(pid, children)?))
    }
}
