//! Samplers: what reads a target's metrics, one [`Sampled`] at a time.
//!
//! On Linux, [`process::ProcSampler`] reads `/proc/PID/statm` through a
//! descriptor kept open (`pread`), which costs about a microsecond and is
//! bound to the process it was opened for: once that process exits, reads
//! fail, even if its PID is reused. Elsewhere [`portable::SysinfoSampler`]
//! asks sysinfo. [`cgroup::CgroupSampler`] reads a cgroup, and
//! [`follow::Follow`] goes on with a target's successor after a restart.

use crate::metrics::{Metric, Reading};
use anyhow::Result;

pub mod cgroup;
pub mod follow;
pub mod portable;
pub mod process;

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

    /// Descriptors held open between samples (a scan counts them against
    /// the open-file limit).
    fn held(&self) -> u64 {
        0
    }

    /// How it sampled, where the report should know (a metric read less
    /// often than every sample); one line.
    fn note(&self) -> Option<String> {
        None
    }
}

/// A sampler of `metrics` for `pid` (summed over its descendants with
/// `children`), the fastest this platform has. Fails at once, naming the
/// metric, when one cannot be read.
pub fn open(
    fs: &crate::sys::procfs::ProcFs,
    pid: u32,
    children: bool,
    metrics: &[Metric],
) -> Result<Box<dyn Sampler>> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(process::ProcSampler::open(
            fs, pid, children, metrics,
        )?))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fs;
        if let Some(&metric) = metrics
            .iter()
            .find(|m| !matches!(m, Metric::Rss | Metric::Vsz))
        {
            return Err(SampleError::Unsupported { metric }.into());
        }
        Ok(Box::new(portable::SysinfoSampler::open(pid, children)?))
    }
}
