//! The watch: a target sampled at fixed ticks, every sample logged and judged,
//! an outcome when it ends. [`engine`] is the loop; this module sets it up for
//! a live process ([`target`]) or a replayed log, with the system clock or a
//! simulated one ([`clock`]), and the outputs ([`output`], [`progress`]).

pub mod clock;
pub mod engine;
pub mod output;
pub mod progress;
pub mod signals;
pub mod target;

use crate::detector::DetectorConfig;
use crate::export::{self, Exporter, Exposition};
use crate::judging::{Judge, Judged, Judging};
use crate::log::{LogWriter, ReadOptions};
use crate::metrics::Metric;
use crate::report::Format;
use crate::sampler::replay::{Replay, ReplaySampler};
use crate::sampler::{self, SampleError, Sampler};
use anyhow::{Result, bail};
use clock::{Clock, ReplayClock, SystemClock};
use engine::{Limits, LoopEnd, run_loop};
use output::Output;
use progress::Progress;
use signals::Signals;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running process.
    Pid(u32),
    /// The one process whose name or command line contains this.
    Name(String),
    /// A cgroup: a cgroupfs directory, or a path as `/proc/PID/cgroup` shows it.
    Cgroup(PathBuf),
    /// A command to start and watch.
    Command(Vec<String>),
    /// A log, fed through the loop on a simulated clock.
    Replay(PathBuf),
}

/// A validated watch configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// What to watch.
    pub target: Target,
    /// Sum over the process and all its descendants.
    pub children: bool,
    /// Go on with the next match (or the cgroup's next process) when the
    /// target is gone, as a new run.
    pub follow: bool,
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many samples.
    pub samples: Option<u64>,
    /// The CSV log (`-` for standard output).
    pub output: Option<PathBuf>,
    /// Format of the final verdict.
    pub format: Format,
    /// No progress on stderr.
    pub quiet: bool,
    /// Exit 1 on `leaking`, 3 on `inconclusive`.
    pub fail_on_leak: bool,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// What to sample (always including rss and vsz), in log-column order;
    /// a replay takes the log's columns instead.
    pub metrics: Vec<Metric>,
    /// The series behind the exit code.
    pub judge: Judge,
    /// A memory limit to compare against; else the cgroup's, if any.
    pub limit: Option<f64>,
    /// Serve the Prometheus exposition on this address (`/metrics`).
    pub listen: Option<String>,
    /// Write the Prometheus exposition to this file, atomically.
    pub textfile: Option<PathBuf>,
}

impl WatchConfig {
    /// The log goes to standard output (so the verdict goes to stderr).
    pub fn log_to_stdout(&self) -> bool {
        self.output.as_deref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// A started command may write to our stdout: only when that is a
    /// terminal showing the text verdict, never into a log or JSON.
    fn command_keeps_stdout(&self) -> bool {
        use std::io::IsTerminal;
        !self.log_to_stdout() && self.format == Format::Text && std::io::stdout().is_terminal()
    }
}

/// Where a memory limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// Given in the configuration.
    Given,
    /// The target's cgroup: the file it is in (`memory.max`).
    Cgroup(&'static str),
}

/// How a watch ended and what it judged.
#[derive(Debug)]
pub struct Outcome {
    /// Every series' verdict, in column order.
    pub judged: Vec<Judged>,
    /// Which series decides.
    pub judge: Judge,
    /// The last process sampled.
    pub pid: Option<u32>,
    /// Why the watch ended.
    pub ended_by: String,
    /// How a started command ended.
    pub target_exit: Option<String>,
    /// The memory limit compared against, and where it came from.
    pub limit: Option<(f64, LimitSource)>,
    /// For a replay: earlier watches set aside or runs joined, in words.
    pub set_aside: Option<String>,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
    /// An output's error that ended the watch after its verdict.
    pub error: Option<anyhow::Error>,
    /// On `leaking`: the next command that finds where, for its runtime.
    pub next_step: Option<String>,
    /// With `follow`: how many times a new process took over (the verdict
    /// is the current run's).
    pub restarts: Option<u32>,
    /// The cgroup watched, as a path inside its hierarchy.
    pub cgroup: Option<String>,
}

/// Why a watch ended when its target exited.
const GONE: &str = "target exited";

/// Runs a watch to its end.
pub fn run(cfg: &WatchConfig) -> Result<Outcome> {
    let signals = Signals::install()?;
    match &cfg.target {
        Target::Replay(path) => replay(cfg, path, &signals),
        _ => live(cfg, &signals),
    }
}

/// Opens the log, if one is asked for, for `metrics`; a write that waits on
/// a FIFO's reader gives up on a signal or once the watch is over.
fn open_log(cfg: &WatchConfig, metrics: &[Metric], signals: &Signals) -> Result<Option<LogWriter>> {
    let Some(path) = cfg.output.as_deref() else {
        return Ok(None);
    };
    let mut log = LogWriter::open(path, metrics)?;
    let signalled = signals.any();
    let end = cfg
        .duration
        .and_then(|d| std::time::Instant::now().checked_add(d + Duration::from_secs(1)));
    log.give_up_when(Box::new(move || {
        signalled() || end.is_some_and(|e| std::time::Instant::now() > e)
    }));
    Ok(Some(log))
}

/// The loop's limits from the configuration.
fn limits(cfg: &WatchConfig) -> Limits {
    Limits {
        interval: cfg.interval.as_secs_f64(),
        duration: cfg.duration.map(|d| d.as_secs_f64()),
        samples: cfg.samples,
    }
}

/// The exporter, when the exposition is served or written.
fn exporter(cfg: &WatchConfig, command: String, limit: Option<f64>) -> Result<Option<Exporter>> {
    if cfg.listen.is_none() && cfg.textfile.is_none() {
        return Ok(None);
    }
    let expo = Arc::new(Exposition::new());
    if let Some(addr) = &cfg.listen {
        export::listen::serve(addr, expo.clone())?;
    }
    Ok(Some(Exporter::new(
        expo,
        command,
        limit,
        cfg.textfile.clone(),
    )))
}

/// Runs the loop with the log, the exporter and progress as outputs.
fn drive(
    cfg: &WatchConfig,
    sampler: &mut dyn Sampler,
    clock: &mut dyn Clock,
    judging: &mut Judging,
    log: Option<&mut LogWriter>,
    mut export: Option<Exporter>,
    stop: &mut dyn FnMut() -> Option<String>,
) -> Result<LoopEnd> {
    let mut progress = Progress::new(cfg.duration.map(|d| d.as_secs_f64()));
    let mut outputs: Vec<&mut dyn Output> = Vec::new();
    if let Some(l) = log {
        outputs.push(l);
    }
    if let Some(e) = export.as_mut() {
        outputs.push(e);
    }
    if !cfg.quiet {
        outputs.push(&mut progress);
    }
    run_loop(limits(cfg), sampler, clock, judging, &mut outputs, stop)
}

fn outcome(judging: &Judging, end: LoopEnd, log: Option<&LogWriter>) -> Outcome {
    Outcome {
        judged: judging.judged(),
        judge: judging.judge().clone(),
        pid: end.pid,
        ended_by: end.ended_by,
        target_exit: None,
        limit: None,
        set_aside: None,
        warnings: log.map(|l| l.warnings().to_vec()).unwrap_or_default(),
        error: end.error,
        next_step: None,
        restarts: None,
        cgroup: None,
    }
}

/// Watches a live process (by PID, by name, or a command started here) or
/// a cgroup.
fn live(cfg: &WatchConfig, signals: &Signals) -> Result<Outcome> {
    // The log first: a refused log must not leave a started command behind.
    let mut log = open_log(cfg, &cfg.metrics, signals)?;
    let mut child: Option<Child> = None;
    let pid = match &cfg.target {
        Target::Pid(p) => *p,
        Target::Name(pat) => target::resolve_name(pat)?,
        Target::Cgroup(path) => return watch_cgroup(cfg, path, log.as_mut(), signals),
        Target::Command(argv) => {
            let mut c = target::spawn(argv, !cfg.command_keeps_stdout())?;
            target::wait_started(&mut c);
            let pid = c.id();
            child = Some(c);
            pid
        }
        Target::Replay(_) => bail!("a replay is not a live target"),
    };
    let result = watch_pid(cfg, pid, child.as_mut(), log.as_mut(), signals);
    let exiting = result.as_ref().is_ok_and(|o| o.ended_by == GONE);
    let target_exit = child.as_mut().map(|c| target::stop_child(c, exiting));
    let mut out = result?;
    out.target_exit = target_exit;
    Ok(out)
}

/// Watches `pid` (a started `child`, if any) on the system clock; with
/// `follow` and a name, the next match after it.
fn watch_pid(
    cfg: &WatchConfig,
    pid: u32,
    child: Option<&mut Child>,
    log: Option<&mut LogWriter>,
    signals: &Signals,
) -> Result<Outcome> {
    let sampler = match sampler::open(pid, cfg.children, &cfg.metrics) {
        Ok(s) => s,
        // A started command that is gone already gets the usual report.
        Err(e) if child.is_some() && gone(&e) => {
            let judging = Judging::new(cfg.detector, &cfg.metrics, None, cfg.judge.clone());
            let end = LoopEnd {
                ended_by: GONE.into(),
                samples: 0,
                pid: Some(pid),
                error: None,
            };
            return Ok(outcome(&judging, end, log.as_deref()));
        }
        Err(e) => return Err(e),
    };
    let limit = match cfg.limit {
        Some(l) => Some((l, LimitSource::Given)),
        None => target::cgroup_limit(pid).map(|(l, file)| (l, LimitSource::Cgroup(file))),
    };
    let live = Live {
        name: target::command_name(pid),
        limit,
        child,
        what: format!("PID {pid}"),
    };
    let mut out = match (&cfg.target, cfg.follow) {
        (Target::Name(pat), true) => {
            let (pat, children, metrics) = (pat.clone(), cfg.children, cfg.metrics.clone());
            let mut last = pid;
            let reopen = move || -> Result<Option<Box<dyn Sampler>>> {
                let Some(next) = target::newest_match(&pat, last) else {
                    return Ok(None);
                };
                match sampler::open(next, children, &metrics) {
                    Ok(s) => {
                        last = next;
                        Ok(Some(s))
                    }
                    Err(_) => Ok(None),
                }
            };
            follow(cfg, sampler, Box::new(reopen), live, log, signals)?
        }
        _ => {
            let mut sampler = sampler;
            drive_live(cfg, sampler.as_mut(), live, log, signals)?
        }
    };
    out.pid = out.pid.or(Some(pid));
    // While the target is still there (a started command is stopped after).
    if let Some(p) = out.pid
        && out.judge.pick(&out.judged).1 == crate::detector::VerdictKind::Leaking
    {
        out.next_step = crate::runtime::next_step(p);
    }
    Ok(out)
}

/// What a live watch needs besides its sampler.
struct Live<'a> {
    /// The target's name, for the exposition's labels.
    name: String,
    /// The memory limit and where it came from.
    limit: Option<(f64, LimitSource)>,
    /// A started command, whose exit ends the watch.
    child: Option<&'a mut Child>,
    /// The target in an error's words (`PID 42`, `cgroup /a/b`).
    what: String,
}

/// Runs the live loop on the system clock until a limit, a signal, or the
/// target's end.
fn drive_live(
    cfg: &WatchConfig,
    sampler: &mut dyn Sampler,
    mut live: Live,
    mut log: Option<&mut LogWriter>,
    signals: &Signals,
) -> Result<Outcome> {
    let mut judging = Judging::new(cfg.detector, &cfg.metrics, None, cfg.judge.clone());
    let export = exporter(cfg, live.name.clone(), live.limit.map(|l| l.0))?;
    let mut clock = SystemClock::start();
    let mut stop = || {
        if let Some(s) = signals.received() {
            return Some(s.to_string());
        }
        match live.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) => Some(GONE.to_string()),
            _ => None,
        }
    };
    let end = drive(
        cfg,
        sampler,
        &mut clock,
        &mut judging,
        log.as_deref_mut(),
        export,
        &mut stop,
    )
    .map_err(|e| e.context(format!("cannot sample {}", live.what)))?;
    let mut out = outcome(&judging, end, log.as_deref());
    out.limit = live.limit;
    Ok(out)
}

/// Runs the live loop over `first` and the successors `reopen` finds.
fn follow(
    cfg: &WatchConfig,
    first: Box<dyn Sampler>,
    reopen: sampler::follow::Reopen,
    live: Live,
    log: Option<&mut LogWriter>,
    signals: &Signals,
) -> Result<Outcome> {
    let mut f = sampler::follow::Follow::new(first, reopen);
    let mut out = drive_live(cfg, &mut f, live, log, signals)?;
    out.restarts = Some(f.restarts());
    Ok(out)
}

/// Watches a cgroup: its anonymous memory as rss, its use with page cache
/// as usage; with `follow`, its next process after it empties.
fn watch_cgroup(
    cfg: &WatchConfig,
    path: &Path,
    log: Option<&mut LogWriter>,
    signals: &Signals,
) -> Result<Outcome> {
    use crate::sampler::cgroup::CgroupSampler;
    let h = crate::cgroup::Hierarchy::find()?;
    let dir = h.resolve(path)?;
    let first = CgroupSampler::open(&h, &dir)?;
    let limit = match cfg.limit {
        Some(l) => Some((l, LimitSource::Given)),
        None => h
            .limit(&dir)
            .map(|l| (l, LimitSource::Cgroup(h.version.limit_file()))),
    };
    let live = Live {
        name: h.name(&dir),
        limit,
        child: None,
        what: format!("cgroup {}", h.name(&dir)),
    };
    let name = h.name(&dir);
    let mut out = if cfg.follow {
        let reopen = move || -> Result<Option<Box<dyn Sampler>>> {
            Ok(CgroupSampler::open(&h, &dir)
                .ok()
                .map(|s| Box::new(s) as Box<dyn Sampler>))
        };
        follow(cfg, Box::new(first), Box::new(reopen), live, log, signals)?
    } else {
        let mut first = first;
        drive_live(cfg, &mut first, live, log, signals)?
    };
    out.cgroup = Some(name);
    Ok(out)
}

/// The error says the process is gone (exited, or reaped already).
fn gone(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<SampleError>(),
        Some(SampleError::Exited { .. } | SampleError::NoProcess { .. })
    )
}

/// Feeds a log through the loop on a simulated clock, as fast as it reads.
fn replay(cfg: &WatchConfig, path: &Path, signals: &Signals) -> Result<Outcome> {
    if let Some(out) = cfg.output.as_deref() {
        let same = std::fs::canonicalize(out).ok();
        if same.is_some() && same == std::fs::canonicalize(path).ok() {
            bail!(
                "{}: refusing to replay a log into itself; write the replay's log elsewhere",
                path.display()
            );
        }
    }
    let shared = Replay::open(path, &ReadOptions::default())?;
    let metrics = shared.borrow().metrics();
    if shared.borrow().is_empty() {
        let name = shared.borrow().name().to_string();
        bail!("{name}: no samples to replay: the log has no rows");
    }
    if let Judge::Column(c) = &cfg.judge
        && !metrics.iter().any(|m| m.column() == c)
    {
        let name = shared.borrow().name().to_string();
        bail!("{name}: the log has no column '{c}' to judge");
    }
    let mut log = open_log(cfg, &metrics, signals)?;
    let mut judging = Judging::new(cfg.detector, &metrics, None, cfg.judge.clone());
    let mut clock = ReplayClock::new(shared.clone());
    let mut sampler = ReplaySampler::new(shared.clone());
    let mut stop = || signals.received().map(str::to_string);
    let export = exporter(cfg, "replay".into(), cfg.limit)?;
    let end = drive(
        cfg,
        &mut sampler,
        &mut clock,
        &mut judging,
        log.as_mut(),
        export,
        &mut stop,
    )?;
    let mut out = outcome(&judging, end, log.as_ref());
    let r = shared.borrow();
    out.warnings.extend(r.warnings());
    out.set_aside = r.set_aside_note();
    out.limit = cfg.limit.map(|l| (l, LimitSource::Given));
    Ok(out)
}
