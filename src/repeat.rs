//! `leakwatch repeat`: runs a client command N times against a target, one
//! run after another, and judges the bytes each run leaves behind: the
//! detector of a watch, fed the target's memory right after each run
//! against the run's number, so the rate it finds is bytes per run. A
//! cool-down after the last run says whether memory came back.
//!
//! It is the engine's loop with a [`Driver`] that starts the runs: the
//! target is sampled on its ticks (and once more the moment a run ends),
//! and the runs come from a [`Runner`], a seam tests fill with fake runs.

use crate::detector::{DetectorConfig, VerdictKind};
use crate::discovery::{self, NewTarget, Single};
use crate::engine::{Driver, Engine, Limits, Output, Target as Tracked};
use crate::judging::{Judge, Judging};
use crate::log::LogWriter;
use crate::metrics::Metric;
use crate::sampler::cgroup::CgroupSampler;
use crate::sampler::{self, Sampler};
use crate::sys::cgroupfs::Hierarchy;
use crate::sys::clock::{Clock, SystemClock, Wake};
use crate::sys::process::{self, Streams};
use crate::sys::procfs::ProcFs;
use crate::sys::signals::Signals;
use crate::units::quoted;
use crate::watch::Target;
use anyhow::Result;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `run` logged during the cool-down (0 is before the first run).
pub const COOLDOWN_RUN: i64 = -1;

/// Failed runs in a row after which `repeat` stops.
pub const MAX_FAILURES_IN_A_ROW: u64 = 3;

/// Samples taken before the first run, for the baseline.
const BASELINE_SAMPLES: u32 = 5;

/// Why the loop ends once every run and the cool-down are done.
const DONE: &str = "done";

/// What to repeat, against what.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatConfig {
    /// The target: a PID, a name, a cgroup, or a command started for it.
    pub target: Target,
    /// Sum the target's metrics over its descendants.
    pub children: bool,
    /// For a started target: how long it is given before the first sample.
    pub start_wait: Duration,
    /// The command to run, with its arguments.
    pub command: Vec<String>,
    /// How many runs.
    pub runs: u64,
    /// Time between samples while a run goes on and in the cool-down.
    pub interval: Duration,
    /// The cool-down after the last run; `None`: 3 s or 3 × the mean run, the longer.
    pub cooldown: Option<Duration>,
    /// Growth per run below which it is a plateau, bytes.
    pub max_per_run: f64,
    /// What to sample (rss and vsz always).
    pub metrics: Vec<Metric>,
    /// The CSV log, with a `run` column.
    pub output: Option<PathBuf>,
}

/// What the runs left behind.
#[derive(Debug)]
pub struct RepeatOutcome {
    /// The target.
    pub pid: u32,
    /// Runs done.
    pub runs: u64,
    /// Runs asked for.
    pub runs_asked: u64,
    /// Runs whose command failed.
    pub failed: u64,
    /// The judging of each metric against the run number (rate = per run).
    pub judging: Judging,
    /// Growth per run below which it is a plateau, bytes.
    pub max_per_run: f64,
    /// RSS before the first run (the least of a few samples), bytes.
    pub baseline: f64,
    /// RSS above the baseline at the end of the cool-down (its least), bytes.
    pub held: Option<f64>,
    /// The cool-down's length, seconds.
    pub cooldown_s: f64,
    /// Why the repeat ended early, if it did.
    pub ended_by: Option<String>,
    /// On `leaking`: the next command that finds where, for the target's runtime.
    pub next_step: Option<String>,
    /// An error after which the report still stands (the command failing
    /// again and again, the target gone before the runs were done, a log
    /// that could not be written).
    pub error: Option<anyhow::Error>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    /// It succeeded (exit status 0).
    pub ok: bool,
    /// How it ended, in words (`exited with status 7`).
    pub how: String,
    /// The last line it wrote to stderr.
    pub last_err: String,
}

/// One run of the command, under way.
pub trait Run {
    /// How it ended, once it has.
    fn poll(&mut self) -> Option<RunStatus>;
    /// Ends it now, and what it started.
    fn stop(&mut self);
}

/// What starts the runs.
pub trait Runner {
    /// Starts run number `run` (from 1).
    fn start(&mut self, run: u64) -> Result<Box<dyn Run>>;
}

/// The loop's parts besides the driver: the clock, what reads the target,
/// the outputs and what stops it.
pub struct Parts<'a> {
    /// The loop's time.
    pub clock: &'a mut dyn Clock,
    /// What reads the target.
    pub sampler: Box<dyn Sampler>,
    /// Where samples go (the log, with its `run` column, among them).
    pub outputs: Vec<&'a mut dyn Output>,
    /// Gives a signal's reason, if one came.
    pub stop: &'a mut dyn FnMut() -> Option<String>,
}

/// Runs the repeat to its end on `parts`, with runs from `runner`.
pub fn repeat(
    cfg: &RepeatConfig,
    mut parts: Parts,
    runner: &mut dyn Runner,
) -> Result<RepeatOutcome> {
    let per_run = DetectorConfig {
        warmup: None,
        min_rate: cfg.max_per_run,
    };
    let mut d = Runs {
        cfg,
        runner,
        phase: Phase::Baseline { taken: 0 },
        least: f64::MAX,
        in_a_row: 0,
        run_time: 0.0,
        status: None,
        out: RepeatOutcome {
            pid: 0,
            runs: 0,
            runs_asked: cfg.runs,
            failed: 0,
            judging: Judging::new(per_run, &cfg.metrics, None, Judge::metric(Metric::Rss)),
            max_per_run: cfg.max_per_run,
            baseline: 0.0,
            held: None,
            cooldown_s: 0.0,
            ended_by: None,
            next_step: None,
            error: None,
        },
    };
    let mut discovery = Single::new(NewTarget {
        sampler: parts.sampler,
        label: discovery::Label {
            pid: 0,
            name: String::new(),
            command: String::new(),
            cgroup: None,
        },
        limit: None,
        first: None,
        origin: Some(0.0),
    });
    let engine = Engine {
        limits: Limits {
            interval: cfg.interval.as_secs_f64(),
            duration: None,
            samples: None,
        },
        clock: &mut *parts.clock,
        discovery: &mut discovery,
        judging: Judging::new(per_run, &cfg.metrics, None, Judge::metric(Metric::Rss)),
        outputs: {
            let mut outputs = Vec::new();
            crate::engine::output::reborrow(&mut outputs, &mut parts.outputs);
            outputs
        },
        driver: &mut d,
    };
    let ended = engine.run(parts.stop);
    if let Phase::Running { run, .. } = &mut d.phase {
        run.stop();
    }
    let ended = ended?;
    if let Some(t) = ended.targets.first() {
        d.out.pid = t.label.pid;
    }
    if ended.ended_by != DONE {
        d.out.ended_by = Some(ended.ended_by);
    }
    if let Some(e) = ended.error {
        d.out.error = Some(e);
    }
    Ok(d.out)
}

/// Where the runs are.
enum Phase {
    /// Samples before the first run, for the baseline.
    Baseline { taken: u32 },
    /// A run under way, started at engine time `began`.
    Running {
        number: u64,
        run: Box<dyn Run>,
        began: f64,
    },
    /// After the last run, until engine time `until`: the least RSS seen.
    Cooldown { until: f64, least: Option<f64> },
}

/// The driver: starts the runs, judges what each leaves behind.
struct Runs<'a> {
    cfg: &'a RepeatConfig,
    runner: &'a mut dyn Runner,
    phase: Phase,
    /// The least RSS before the first run.
    least: f64,
    in_a_row: u64,
    /// Engine seconds the runs took, in all.
    run_time: f64,
    /// How the current run ended, once seen while waiting.
    status: Option<RunStatus>,
    out: RepeatOutcome,
}

impl Runs<'_> {
    /// Starts run `number` at engine time `t`.
    fn start(&mut self, number: u64, t: f64) -> Result<()> {
        let run = self.runner.start(number)?;
        self.phase = Phase::Running {
            number,
            run,
            began: t,
        };
        Ok(())
    }

    /// The error for a target gone during run `number`.
    fn gone_during(&self, number: u64) -> anyhow::Error {
        anyhow::anyhow!(
            "process {} exited during run {number} of {}",
            self.out.pid,
            self.cfg.runs
        )
    }

    /// Run `number` ended as `status` and the target reads `after`: judged,
    /// counted, and the next run started (or the cool-down).
    fn ended(
        &mut self,
        number: u64,
        began: f64,
        t: f64,
        target: &Tracked,
        status: RunStatus,
    ) -> Result<Option<String>> {
        self.run_time += t - began;
        self.out.runs = number;
        self.out.judging.push_reading(number as f64, &target.last);
        if status.ok {
            self.in_a_row = 0;
        } else {
            self.out.failed += 1;
            self.in_a_row += 1;
            if self.in_a_row >= MAX_FAILURES_IN_A_ROW {
                let said = match status.last_err.trim() {
                    "" => "it wrote nothing on stderr".to_string(),
                    _ => format!("its last stderr line: {}", quoted(&status.last_err)),
                };
                self.out.error = Some(anyhow::anyhow!(
                    "the command failed {} times in a row ({}); {said}",
                    self.in_a_row,
                    status.how
                ));
                return Ok(Some("the command failed".into()));
            }
        }
        if number < self.cfg.runs {
            self.start(number + 1, t)?;
        } else {
            let mean = self.run_time / number.max(1) as f64;
            let cool = self
                .cfg
                .cooldown
                .map_or((3.0f64).max(3.0 * mean), |c| c.as_secs_f64());
            self.out.cooldown_s = cool;
            self.phase = Phase::Cooldown {
                until: t + cool,
                least: None,
            };
        }
        Ok(None)
    }
}

impl Driver for Runs<'_> {
    fn after_tick(&mut self, t: f64, targets: &[Tracked]) -> Result<Option<String>> {
        let Some(target) = targets.first() else {
            return Ok(None);
        };
        self.out.pid = target.label.pid;
        if target.gone {
            let number = match &self.phase {
                Phase::Running { number, .. } => *number,
                Phase::Baseline { .. } => {
                    anyhow::bail!("process {} exited before the first run", self.out.pid)
                }
                // Gone in the cool-down: it is judged on what was seen.
                Phase::Cooldown { least, .. } => {
                    self.out.held = least.map(|l| l - self.out.baseline);
                    return Ok(Some(DONE.into()));
                }
            };
            self.out.error = Some(self.gone_during(number));
            return Ok(Some("target exited".into()));
        }
        let rss = target.last.rss() as f64;
        match &mut self.phase {
            // A started target is given its time first.
            Phase::Baseline { .. } if t + 1e-9 < self.cfg.start_wait.as_secs_f64() => {}
            Phase::Baseline { taken } => {
                *taken += 1;
                self.least = self.least.min(rss);
                if *taken >= BASELINE_SAMPLES {
                    self.out.baseline = self.least;
                    self.start(1, t)?;
                }
            }
            Phase::Running { number, began, .. } => {
                let (number, began) = (*number, *began);
                if let Some(status) = self.status.take() {
                    return self.ended(number, began, t, target, status);
                }
            }
            Phase::Cooldown { until, least } => {
                *least = Some(least.map_or(rss, |l: f64| l.min(rss)));
                if t >= *until - 1e-9 {
                    self.out.held = least.map(|l| l - self.out.baseline);
                    return Ok(Some(DONE.into()));
                }
            }
        }
        Ok(None)
    }

    fn poll(&mut self) -> Option<Wake> {
        match &mut self.phase {
            Phase::Running { run, .. } if self.status.is_none() => {
                self.status = run.poll();
                self.status.as_ref().map(|_| Wake::Woken)
            }
            _ => None,
        }
    }

    fn mark(&self) -> Option<i64> {
        Some(match &self.phase {
            Phase::Baseline { .. } => 0,
            Phase::Running { number, .. } => *number as i64,
            Phase::Cooldown { .. } => COOLDOWN_RUN,
        })
    }
}

/// Runs of a command, each in a process group of its own, its output
/// discarded but for the last line of its stderr.
pub struct CommandRunner {
    argv: Vec<String>,
}

impl CommandRunner {
    /// Runs of `argv`.
    pub fn new(argv: &[String]) -> CommandRunner {
        CommandRunner {
            argv: argv.to_vec(),
        }
    }
}

impl Runner for CommandRunner {
    fn start(&mut self, _run: u64) -> Result<Box<dyn Run>> {
        let mut child = process::spawn(&self.argv, Streams::PipeStderr)?;
        let tail = StderrTail::read(&mut child);
        Ok(Box::new(CommandRun {
            child,
            tail: Some(tail),
        }))
    }
}

/// One run of a command.
struct CommandRun {
    child: Child,
    tail: Option<StderrTail>,
}

impl Run for CommandRun {
    fn poll(&mut self) -> Option<RunStatus> {
        let st = self.child.try_wait().ok()??;
        // What the run started in its group (`cmd &`, a daemon) ends with
        // it, so runs never overlap (and its stderr pipe closes).
        process::stop_child(&mut self.child, false);
        Some(RunStatus {
            ok: st.success(),
            how: process::describe_exit(st),
            last_err: self
                .tail
                .take()
                .map(StderrTail::last_line)
                .unwrap_or_default(),
        })
    }

    fn stop(&mut self) {
        process::stop_child(&mut self.child, false);
    }
}

/// The last line of a command's stderr, as a thread reads it.
struct StderrTail {
    last: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl StderrTail {
    /// Reads `child`'s piped stderr on a thread of its own.
    fn read(child: &mut Child) -> StderrTail {
        let last = Arc::new(Mutex::new(String::new()));
        let reader = child.stderr.take().map(|err| {
            let keep = last.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).split(b'\n').map_while(|l| l.ok()) {
                    let text = String::from_utf8_lossy(&line);
                    if !text.trim().is_empty()
                        && let Ok(mut k) = keep.lock()
                    {
                        *k = text.chars().take(400).collect();
                    }
                }
            })
        });
        StderrTail { last, reader }
    }

    /// The last line, once the reader has seen the end of the stream (or
    /// after a second, if something the command started still holds it).
    fn last_line(self) -> String {
        if let Some(r) = self.reader {
            let end = std::time::Instant::now() + Duration::from_secs(1);
            while !r.is_finished() && std::time::Instant::now() < end {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Opens the target of a repeat (starting it, for a command); the
/// started process, if any, comes back with its sampler.
fn open_target(cfg: &RepeatConfig, proc: &ProcFs) -> Result<(Box<dyn Sampler>, Option<Child>)> {
    let open = |pid| sampler::open(proc, pid, cfg.children, &cfg.metrics);
    Ok(match &cfg.target {
        Target::Pid(p) => (open(*p)?, None),
        Target::Name(n) => (open(discovery::resolve_name(proc, n)?)?, None),
        Target::Cgroup(path) => {
            let h = Hierarchy::find(proc)?;
            let dir = h.resolve(path)?;
            (Box::new(CgroupSampler::open(&h, &dir)?), None)
        }
        Target::Command(argv) => {
            // What it writes stays out of the report on stdout.
            let mut c = process::spawn(argv, Streams::StdoutToStderr)?;
            process::wait_started(proc, &mut c);
            // The command and all it starts (a shell, a server under it).
            match sampler::open(proc, c.id(), true, &cfg.metrics) {
                Ok(s) => (s, Some(c)),
                Err(e) => {
                    process::stop_child(&mut c, false);
                    return Err(e);
                }
            }
        }
        Target::Replay(_) => anyhow::bail!("repeat needs a running target"),
    })
}

/// Runs the repeat against its target in `proc` to its end, with `extra`
/// outputs besides its log; a target it started is ended after.
pub fn run(
    cfg: &RepeatConfig,
    proc: &ProcFs,
    signals: &Signals,
    extra: &mut [&mut dyn Output],
) -> Result<RepeatOutcome> {
    let (sampler, mut started) = open_target(cfg, proc)?;
    let result = (|| {
        let mut log = cfg
            .output
            .as_deref()
            .map(|p| LogWriter::open_with(p, &cfg.metrics, true))
            .transpose()?;
        let mut outputs: Vec<&mut dyn Output> = Vec::new();
        if let Some(l) = log.as_mut() {
            outputs.push(l);
        }
        crate::engine::output::reborrow(&mut outputs, extra);
        let mut clock = SystemClock::start().polling_every(Duration::from_millis(2));
        let mut stop = || signals.received().map(str::to_string);
        let parts = Parts {
            clock: &mut clock,
            sampler,
            outputs,
            stop: &mut stop,
        };
        let mut out = repeat(cfg, parts, &mut CommandRunner::new(&cfg.command))?;
        // While the target is still there.
        if leaking(&out) && out.ended_by.as_deref() != Some("target exited") {
            out.next_step = crate::runtime::next_step(proc, out.pid);
        }
        Ok(out)
    })();
    if let Some(c) = started.as_mut() {
        process::stop_child(c, false);
    }
    result
}

/// Whether the verdict per run is `leaking`.
pub fn leaking(out: &RepeatOutcome) -> bool {
    out.judging.shown().detector.verdict().kind == VerdictKind::Leaking
}
