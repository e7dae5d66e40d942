//! A watch: one target (a PID, a process tree, a name, a cgroup, a started
//! command, or a replayed log) through the engine, with its log, and how it
//! ended.

use crate::detector::{DetectorConfig, VerdictKind};
use crate::discovery::{self, Label, Limit, LimitSource, NewTarget, Single};
use crate::engine::replay::{Replay, ReplayClock, ReplaySampler};
use crate::engine::{Driver, Ended, Engine, Limits, NoDriver, Output};
use crate::judging::{Judge, Judged, Judging};
use crate::log::{LogWriter, ReadOptions};
use crate::metrics::Metric;
use crate::sampler::cgroup::CgroupSampler;
use crate::sampler::follow::{Follow, Reopen};
use crate::sampler::{self, SampleError, Sampler};
use crate::sys::cgroupfs::Hierarchy;
use crate::sys::clock::{SystemClock, Wake};
use crate::sys::console::Relay;
use crate::sys::process::{self, Streams};
use crate::sys::procfs::ProcFs;
use crate::sys::signals::Signals;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::Child;
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
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// What to sample (always including rss and vsz), in log-column order;
    /// a replay takes the log's columns instead.
    pub metrics: Vec<Metric>,
    /// The series behind the exit code.
    pub judge: Judge,
    /// A memory limit to compare against; else the cgroup's, if any.
    pub limit: Option<f64>,
}

impl WatchConfig {
    /// The log goes to standard output (so the verdict goes to stderr).
    pub fn log_to_stdout(&self) -> bool {
        self.output.as_deref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// The loop's limits.
    fn limits(&self) -> Limits {
        Limits {
            interval: self.interval.as_secs_f64(),
            duration: self.duration.map(|d| d.as_secs_f64()),
            samples: self.samples,
        }
    }
}

/// What a watch runs against: the procfs, where a started command's
/// output goes, and the signals that end it.
pub struct Env<'a> {
    /// The procfs the target is read from.
    pub proc: &'a ProcFs,
    /// Where a started command's streams go.
    pub streams: Streams,
    /// The signals that end the watch.
    pub signals: &'a Signals,
}

/// How a watch ended and what it judged.
#[derive(Debug)]
pub struct WatchOutcome {
    /// Every series' verdict, in column order.
    pub judged: Vec<Judged>,
    /// Which series decides.
    pub judge: Judge,
    /// Warm-up and minimum rate judged with.
    pub detector: DetectorConfig,
    /// The last process sampled.
    pub pid: Option<u32>,
    /// Its command line, when known (not for a replay).
    pub command: Option<String>,
    /// The log written, if a file.
    pub log: Option<PathBuf>,
    /// Why the watch ended.
    pub ended_by: String,
    /// How a started command ended.
    pub target_exit: Option<String>,
    /// The memory limit compared against, and where it came from.
    pub limit: Option<Limit>,
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

/// Runs a watch to its end, with `extra` outputs besides its log.
pub fn run(cfg: &WatchConfig, env: &Env, extra: &mut [&mut dyn Output]) -> Result<WatchOutcome> {
    match &cfg.target {
        Target::Replay(path) => replay(cfg, path, env, extra),
        _ => live(cfg, env, extra),
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

/// A live target, opened: its sampler and who it is.
struct Opened {
    sampler: Box<dyn Sampler>,
    label: Label,
    limit: Option<Limit>,
    /// A follow's sampler, whose restarts are counted.
    follows: bool,
}

/// The outcome of a watch whose loop ended as `ended`.
fn outcome(cfg: &WatchConfig, judging: &Judging, ended: Ended) -> WatchOutcome {
    let target = ended.targets.first();
    WatchOutcome {
        judged: target.map_or_else(|| judging.judged(), |t| t.judged()),
        judge: cfg.judge.clone(),
        detector: cfg.detector,
        pid: target.map(|t| t.label.pid),
        command: target
            .map(|t| t.label.command.clone())
            .filter(|c| !c.is_empty()),
        log: cfg.output.clone().filter(|p| p.as_os_str() != "-"),
        ended_by: ended.ended_by,
        target_exit: None,
        limit: target.and_then(|t| t.limit),
        set_aside: None,
        warnings: ended.warnings,
        error: ended.error,
        next_step: None,
        restarts: None,
        cgroup: target.and_then(|t| t.label.cgroup.clone()),
    }
}

/// Watches a live process (by PID, by name, or a command started here) or
/// a cgroup.
fn live(cfg: &WatchConfig, env: &Env, extra: &mut [&mut dyn Output]) -> Result<WatchOutcome> {
    // A log that exists is opened (and checked) first: a refused log must
    // not leave a started command behind. A new one is made only once the
    // target is found, so a failed start leaves no file.
    let new_log = cfg
        .output
        .as_deref()
        .is_some_and(|p| p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err());
    let mut log = match new_log {
        true => {
            writable_dir(cfg.output.as_deref().unwrap_or(Path::new(".")))?;
            None
        }
        false => open_log(cfg, &cfg.metrics, env.signals)?,
    };
    let mut child: Option<Child> = None;
    let mut relay: Option<Relay> = None;
    let opened = match &cfg.target {
        Target::Command(argv) => {
            let (mut c, r) = process::start(argv, env.streams)?;
            relay = r;
            process::wait_started(env.proc, &mut c);
            let pid = c.id();
            let opened = open_pid(cfg, env.proc, pid);
            let c = child.insert(c);
            match opened {
                Ok(o) => Some(o),
                // A started command that is gone already gets the usual report.
                Err(e) if gone(&e) => None,
                Err(e) => {
                    process::stop_child(c, false);
                    finish_relay(relay);
                    return Err(e);
                }
            }
        }
        _ => Some(open_target(cfg, env.proc)?),
    };
    if new_log {
        match open_log(cfg, &cfg.metrics, env.signals) {
            Ok(l) => log = l,
            Err(e) => {
                if let Some(c) = child.as_mut() {
                    process::stop_child(c, false);
                }
                finish_relay(relay);
                return Err(e);
            }
        }
    }
    let judging = Judging::new(cfg.detector, &cfg.metrics, None, cfg.judge.clone());
    let result = match opened {
        Some(o) => drive(cfg, env, o, child.as_mut(), log.as_mut(), extra, &judging),
        None => {
            let mut out = outcome(cfg, &judging, empty_end());
            out.pid = child.as_ref().map(Child::id);
            out.warnings = log
                .as_ref()
                .map(|l| l.warnings().to_vec())
                .unwrap_or_default();
            Ok(out)
        }
    };
    let exiting = result.as_ref().is_ok_and(|o| o.ended_by == GONE);
    let target_exit = child.as_mut().map(|c| process::stop_child(c, exiting));
    finish_relay(relay);
    let mut out = result?;
    out.target_exit = target_exit;
    Ok(out)
}

/// Waits until a started command's output is all relayed (its group is
/// ended by then; a process that left it and kept the streams gets a
/// second).
fn finish_relay(relay: Option<Relay>) {
    if let Some(r) = relay {
        r.finish(Duration::from_secs(1));
    }
}

/// Refuses a new log at `path` whose directory is missing or not writable,
/// before anything is started.
fn writable_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        _ => bail!(
            "cannot open log file {}: there is no directory {}",
            path.display(),
            dir.display()
        ),
    }
    if !crate::sys::users::can_write(dir) {
        bail!(
            "cannot open log file {}: the directory {} is not writable by leakwatch's user",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// A loop end with no sample: the target was gone before the first.
fn empty_end() -> Ended {
    Ended {
        ended_by: GONE.into(),
        targets: Vec::new(),
        duration_s: 0.0,
        error: None,
        warnings: Vec::new(),
        dropped: Default::default(),
    }
}

/// Runs the loop over `opened` on the system clock, and makes its outcome.
fn drive(
    cfg: &WatchConfig,
    env: &Env,
    opened: Opened,
    child: Option<&mut Child>,
    log: Option<&mut LogWriter>,
    extra: &mut [&mut dyn Output],
    judging: &Judging,
) -> Result<WatchOutcome> {
    let follows = opened.follows;
    let what = match &opened.label.cgroup {
        Some(c) => format!("cgroup {c}"),
        None => format!("PID {}", opened.label.pid),
    };
    let restarts = std::rc::Rc::new(std::cell::Cell::new(0));
    let sampler: Box<dyn Sampler> = if follows {
        Box::new(Counted {
            inner: opened.sampler,
            restarts: restarts.clone(),
        })
    } else {
        opened.sampler
    };
    let mut discovery = Single::new(NewTarget {
        sampler,
        label: opened.label,
        limit: opened.limit,
        first: None,
        origin: Some(0.0),
    });
    let mut clock = SystemClock::start();
    let mut outputs: Vec<&mut dyn Output> = Vec::new();
    if let Some(l) = log {
        outputs.push(l);
    }
    crate::engine::output::reborrow(&mut outputs, extra);
    let mut child_driver = child.map(|c| ChildExit { child: c });
    let mut none = NoDriver;
    let driver: &mut dyn Driver = match child_driver.as_mut() {
        Some(d) => d,
        None => &mut none,
    };
    let engine = Engine {
        limits: cfg.limits(),
        clock: &mut clock,
        discovery: &mut discovery,
        judging: judging.clone(),
        outputs,
        driver,
    };
    let mut stop = || env.signals.received().map(str::to_string);
    let ended = engine
        .run(&mut stop)
        .map_err(|e| e.context(format!("cannot sample {what}")))?;
    let mut out = outcome(cfg, judging, ended);
    if follows {
        out.restarts = Some(restarts.get());
    }
    // The current run's process, not the first one's; and the target as it
    // is now, while it is still there: one that called exec (a pyenv shim
    // that runs python, `sh -c 'exec …'`) is named by what it runs now.
    if let Some(p) = out.pid.filter(|_| follows || out.ended_by != GONE) {
        out.command = env
            .proc
            .cmdline(p, discovery::MAX_CMDLINE)
            .filter(|c| !c.is_empty())
            .or(out.command);
    }
    // While the target is still there (a started command is stopped after).
    if let Some(p) = out.pid
        && let (j, VerdictKind::Leaking) = out.judge.pick(&out.judged)
    {
        out.next_step = crate::runtime::next_step_for(env.proc, p, &j.column);
    }
    Ok(out)
}

/// A follow's sampler, counting its restarts where the watch can read them.
struct Counted {
    inner: Box<dyn Sampler>,
    restarts: std::rc::Rc<std::cell::Cell<u32>>,
}

impl Sampler for Counted {
    fn sample(&mut self) -> Result<Option<sampler::Sampled>> {
        let s = self.inner.sample()?;
        if s.as_ref().is_some_and(|s| s.fresh) {
            self.restarts.set(self.restarts.get() + 1);
        }
        Ok(s)
    }

    fn gone(&self) -> &'static str {
        self.inner.gone()
    }

    fn waiting(&self) -> bool {
        self.inner.waiting()
    }

    fn held(&self) -> u64 {
        self.inner.held()
    }
}

/// A started command's exit ends the watch.
struct ChildExit<'a> {
    child: &'a mut Child,
}

impl Driver for ChildExit<'_> {
    fn poll(&mut self) -> Option<Wake> {
        match self.child.try_wait() {
            Ok(Some(_)) => Some(Wake::Stopped(GONE.into())),
            _ => None,
        }
    }
}

/// The limit given, else the one of `pid`'s cgroup.
fn pid_limit(cfg: &WatchConfig, proc: &ProcFs, pid: u32) -> Option<Limit> {
    given_limit(cfg).or_else(|| {
        let h = Hierarchy::find(proc).ok()?;
        discovery::cgroups::limit(&h, &h.of_pid(proc, pid)?)
    })
}

/// The limit given on the command line.
fn given_limit(cfg: &WatchConfig) -> Option<Limit> {
    cfg.limit.map(|bytes| Limit {
        bytes,
        source: LimitSource::Given,
    })
}

/// The label of process `pid`.
fn pid_label(proc: &ProcFs, pid: u32) -> Label {
    Label {
        pid,
        name: proc.comm(pid).unwrap_or_default(),
        command: proc
            .cmdline(pid, discovery::MAX_CMDLINE)
            .unwrap_or_default(),
        cgroup: None,
    }
}

/// Opens process `pid` as the target.
fn open_pid(cfg: &WatchConfig, proc: &ProcFs, pid: u32) -> Result<Opened> {
    let sampler = sampler::open(proc, pid, cfg.children, &cfg.metrics)?;
    Ok(Opened {
        sampler,
        label: pid_label(proc, pid),
        limit: pid_limit(cfg, proc, pid),
        follows: false,
    })
}

/// Opens the target of a watch by PID, name or cgroup.
fn open_target(cfg: &WatchConfig, proc: &ProcFs) -> Result<Opened> {
    match &cfg.target {
        Target::Pid(p) => open_pid(cfg, proc, *p),
        Target::Name(pat) => {
            let pid = discovery::resolve_name(proc, pat)?;
            let mut o = open_pid(cfg, proc, pid)?;
            if cfg.follow {
                let (pat, children, metrics) = (pat.clone(), cfg.children, cfg.metrics.clone());
                let fs = proc.clone();
                let mut last = pid;
                let reopen: Reopen = Box::new(move || {
                    let Some(next) = discovery::newest_match(&fs, &pat, last) else {
                        return Ok(None);
                    };
                    match sampler::open(&fs, next, children, &metrics) {
                        Ok(s) => {
                            last = next;
                            Ok(Some(s))
                        }
                        Err(_) => Ok(None),
                    }
                });
                o.sampler = Box::new(Follow::new(o.sampler, reopen));
                o.follows = true;
            }
            Ok(o)
        }
        Target::Cgroup(path) => open_cgroup(cfg, proc, path),
        Target::Command(_) | Target::Replay(_) => bail!("not a running target"),
    }
}

/// Opens a cgroup as the target: its anonymous memory as rss, its use with
/// page cache as usage; with `follow`, its next process after it empties.
fn open_cgroup(cfg: &WatchConfig, proc: &ProcFs, path: &Path) -> Result<Opened> {
    let h = Hierarchy::find(proc)?;
    let dir = h.resolve(path)?;
    let first = CgroupSampler::open(&h, &dir)?;
    let mut label = discovery::cgroups::label(proc, &h, &dir).unwrap_or(Label {
        pid: first.pid(),
        name: h.name(&dir),
        command: String::new(),
        cgroup: Some(h.name(&dir)),
    });
    label.pid = first.pid();
    let limit = given_limit(cfg).or_else(|| discovery::cgroups::limit(&h, &dir));
    let sampler: Box<dyn Sampler> = if cfg.follow {
        let reopen: Reopen = Box::new(move || {
            Ok(CgroupSampler::open(&h, &dir)
                .ok()
                .map(|s| Box::new(s) as Box<dyn Sampler>))
        });
        Box::new(Follow::new(Box::new(first), reopen))
    } else {
        Box::new(first)
    };
    Ok(Opened {
        sampler,
        label,
        limit,
        follows: cfg.follow,
    })
}

/// The error says the process is gone (exited, or reaped already).
fn gone(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<SampleError>(),
        Some(SampleError::Exited { .. } | SampleError::NoProcess { .. })
    )
}

/// Feeds a log through the loop on a simulated clock, as fast as it reads.
fn replay(
    cfg: &WatchConfig,
    path: &Path,
    env: &Env,
    extra: &mut [&mut dyn Output],
) -> Result<WatchOutcome> {
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
    let name = shared.borrow().name().to_string();
    if shared.borrow().is_empty() {
        bail!("{name}: no samples to replay: the log has no rows");
    }
    if let Judge::Column(c) = &cfg.judge
        && !metrics.iter().any(|m| m.column() == c)
    {
        bail!("{name}: the log has no column '{c}' to judge");
    }
    let mut log = open_log(cfg, &metrics, env.signals)?;
    let judging = Judging::new(cfg.detector, &metrics, None, cfg.judge.clone());
    let mut clock = ReplayClock::new(shared.clone());
    let mut discovery = Single::new(NewTarget {
        sampler: Box::new(ReplaySampler::new(shared.clone())),
        label: Label {
            pid: 0,
            name: "replay".into(),
            command: "replay".into(),
            cgroup: None,
        },
        limit: given_limit(cfg),
        first: None,
        origin: Some(0.0),
    });
    let mut outputs: Vec<&mut dyn Output> = Vec::new();
    if let Some(l) = log.as_mut() {
        outputs.push(l);
    }
    crate::engine::output::reborrow(&mut outputs, extra);
    let engine = Engine {
        limits: cfg.limits(),
        clock: &mut clock,
        discovery: &mut discovery,
        judging: judging.clone(),
        outputs,
        driver: &mut NoDriver,
    };
    let mut stop = || env.signals.received().map(str::to_string);
    let ended = engine.run(&mut stop)?;
    let mut out = outcome(cfg, &judging, ended);
    out.command = None;
    let r = shared.borrow();
    out.warnings.extend(r.warnings());
    out.set_aside = r.set_aside_note();
    Ok(out)
}
