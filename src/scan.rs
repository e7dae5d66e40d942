//! `scan`: every process of the machine (or those selected), or every
//! cgroup holding processes, watched at once through the engine, each with
//! its own detectors (and log).
//!
//! Each tick lists the procfs once (or walks the cgroup tree) for targets
//! that started since, then reads every target through its files kept open
//! (`pread` of `statm`, as a single watch does). A target that is gone is
//! kept, as exited, with what was seen.

use crate::detector::DetectorConfig;
use crate::discovery::cgroups::Cgroups;
use crate::discovery::procs::{ProcSelect, Procs};
use crate::discovery::{Discovery, Label, Limit};
use crate::engine::output::LogDir;
use crate::engine::{Dropped, Engine, Limits, Output};
use crate::judging::{Judge, Judged, Judging};
use crate::metrics::{Metric, Reading};
use crate::sys::cgroupfs::Hierarchy;
use crate::sys::clock::SystemClock;
use crate::sys::files::FdBudget;
use crate::sys::procfs::ProcFs;
use crate::sys::signals::Signals;
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::time::Duration;

/// Buckets per detector: a coarser state than a single watch's, so
/// thousands of targets stay a few KB each.
pub const SCAN_BUCKETS: usize = 96;

/// At most this many exited targets are kept for the report (those judged;
/// the oldest not leaking go first), so a scan of a host that starts
/// millions of short processes stays bounded in memory.
pub const EXITED_KEPT: usize = 1000;

/// The scan's driver: it only caps the exited targets kept.
struct KeepJudged;

impl crate::engine::Driver for KeepJudged {
    fn exited_cap(&self) -> Option<usize> {
        Some(EXITED_KEPT)
    }
}

/// The descriptors kept for the scan's own use, besides its targets'.
const RESERVED_FDS: u64 = 32;

/// What a scan watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Processes (all, or those selected; Linux).
    Processes(ProcSelect),
    /// Every leaf cgroup holding processes below this directory (`None`:
    /// the memory hierarchy's root).
    Cgroups(Option<PathBuf>),
}

/// A validated scan configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// What to watch.
    pub scope: Scope,
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this long (else at a signal).
    pub duration: Option<Duration>,
    /// Warm-up and minimum rate, for every target.
    pub detector: DetectorConfig,
    /// What to sample, in log-column order.
    pub metrics: Vec<Metric>,
    /// The series behind each target's verdict.
    pub judge: Judge,
    /// Write one log per target into this directory.
    pub output_dir: Option<PathBuf>,
}

/// One target as the scan saw it.
#[derive(Debug)]
pub struct Seen {
    /// Who it is.
    pub label: Label,
    /// Every judged series' verdict.
    pub judged: Vec<Judged>,
    /// The last reading.
    pub last: Reading,
    /// Seconds into the scan when it joined.
    pub first_s: f64,
    /// Seconds into the scan when it was last read.
    pub last_s: f64,
    /// It was gone before the scan ended.
    pub exited: bool,
    /// Its memory limit, if it has one.
    pub limit: Option<Limit>,
    /// Its log, if one was written.
    pub log: Option<PathBuf>,
}

/// How a scan ended and what it saw.
#[derive(Debug)]
pub struct ScanOutcome {
    /// Every target, in the order they joined.
    pub targets: Vec<Seen>,
    /// Why the scan ended.
    pub ended_by: String,
    /// Seconds the scan ran.
    pub duration_s: f64,
    /// Seconds between samples.
    pub interval_s: f64,
    /// The series behind each verdict.
    pub judge: Judge,
    /// Warm-up and minimum rate judged with.
    pub detector: DetectorConfig,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
    /// What was scanned, in words (`processes`, `cgroups below /sys/fs/cgroup`).
    pub scope: String,
    /// An output's error that ended the scan after its report.
    pub error: Option<anyhow::Error>,
    /// Exited targets left out of `targets`, counted.
    pub left_out: Dropped,
}

/// The discovery for `scope`.
fn discovery(cfg: &ScanConfig, proc: &ProcFs, budget: &FdBudget) -> Result<Box<dyn Discovery>> {
    Ok(match &cfg.scope {
        Scope::Processes(_) if !cfg!(target_os = "linux") => bail!(
            "scanning processes reads Linux's /proc; on this system watch one process (--pid) instead"
        ),
        Scope::Processes(sel) => {
            if let Some(pid) = sel.children_of
                && !proc.exists(pid)
            {
                bail!(crate::sampler::SampleError::NoProcess { pid });
            }
            Box::new(Procs::new(
                proc.clone(),
                sel.clone(),
                &cfg.metrics,
                budget.clone(),
            ))
        }
        Scope::Cgroups(root) => {
            let h = Hierarchy::find(proc)?;
            Box::new(Cgroups::new(proc.clone(), h, root.as_deref())?)
        }
    })
}

/// The judging every target starts with: the judged metric, or every one
/// for `any`, with the scan's coarser detectors; with logs, a watch's (and
/// `analyze`'s), so a log judged by `analyze` gives the scan's verdict.
fn judging(cfg: &ScanConfig) -> Judging {
    let judged: Vec<Metric> = match &cfg.judge {
        Judge::Column(c) => Metric::from_column(c).into_iter().collect(),
        Judge::Any => cfg.metrics.clone(),
    };
    let judging = Judging::new(cfg.detector, &judged, None, cfg.judge.clone());
    match cfg.output_dir {
        Some(_) => judging,
        None => judging.with_buckets(SCAN_BUCKETS),
    }
}

/// Runs a scan of `proc` to its end, with `extra` outputs (a live table,
/// an exporter) besides its logs.
pub fn run(
    cfg: &ScanConfig,
    proc: &ProcFs,
    signals: &Signals,
    extra: &mut [&mut dyn Output],
) -> Result<ScanOutcome> {
    if let Some(dir) = &cfg.output_dir {
        crate::sys::files::own_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot write logs in {}: {e}", dir.display()))?;
    }
    let budget = FdBudget::new(crate::sys::process::raise_fd_limit().saturating_sub(RESERVED_FDS));
    let mut discovery = discovery(cfg, proc, &budget)?;
    let mut logs = cfg
        .output_dir
        .as_deref()
        .map(|d| LogDir::new(d, &cfg.metrics, budget.clone()));
    let mut outputs: Vec<&mut dyn Output> = Vec::new();
    if let Some(l) = logs.as_mut() {
        outputs.push(l);
    }
    crate::engine::output::reborrow(&mut outputs, extra);
    // Its waits look for a stop every 250 ms, not 50 (each wake-up costs
    // tens of µs of CPU): a signal to this thread cuts a wait short anyway.
    let mut clock = SystemClock::start().polling_every(Duration::from_millis(250));
    let engine = Engine {
        limits: Limits {
            interval: cfg.interval.as_secs_f64(),
            duration: cfg.duration.map(|d| d.as_secs_f64()),
            samples: None,
        },
        clock: &mut clock,
        discovery: discovery.as_mut(),
        judging: judging(cfg),
        outputs,
        driver: &mut KeepJudged,
    };
    let mut stop = || signals.received().map(str::to_string);
    let ended = engine.run(&mut stop)?;
    if ended.targets.iter().all(|t| t.samples == 0)
        && let Some(why) = discovery.denied()
    {
        bail!(why);
    }
    let scope = discovery.scope().to_string();
    let log_of = |id: usize| logs.as_ref().and_then(|l| l.path_of(id)).map(PathBuf::from);
    let targets = ended
        .targets
        .iter()
        // A target gone before its first reading was never seen.
        .filter(|t| t.samples > 0)
        .map(|t| Seen {
            label: t.label.clone(),
            judged: t.judged(),
            last: t.last,
            // A fork joins a listing after it was first seen.
            first_s: t.origin.min(t.first_s),
            last_s: t.last_s,
            exited: t.gone,
            limit: t.limit,
            log: log_of(t.id),
        })
        .collect();
    Ok(ScanOutcome {
        targets,
        ended_by: ended.ended_by,
        duration_s: ended.duration_s,
        interval_s: cfg.interval.as_secs_f64(),
        judge: cfg.judge.clone(),
        detector: cfg.detector,
        warnings: ended.warnings,
        scope,
        error: ended.error,
        left_out: ended.dropped,
    })
}
