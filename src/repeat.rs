//! `leakwatch repeat`: runs a client command N times against a running
//! target, one run after another, and judges the bytes each run leaves
//! behind: the detector of a watch, fed the target's memory right after each
//! run against the run's number, so the rate it finds is bytes per run. A
//! cool-down after the last run says whether memory came back.

use crate::detector::DetectorConfig;
use crate::judging::{Judge, Judging};
use crate::log::{LogWriter, Sample};
use crate::metrics::Metric;
use crate::sampler::{self, Reading, Sampler};
use crate::units::quoted;
use crate::watch::signals::Signals;
use crate::watch::target;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The `run` logged during the cool-down (0 is before the first run).
pub const COOLDOWN_RUN: i64 = -1;

/// Failed runs in a row after which `repeat` stops.
pub const MAX_FAILURES_IN_A_ROW: u64 = 3;

/// What to repeat, against what.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatConfig {
    /// The running target: a PID, or a name to find it by.
    pub target: crate::watch::Target,
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
    /// Runs whose command failed.
    pub failed: u64,
    /// The judging of each metric against the run number (rate = per run).
    pub judging: Judging,
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
    /// again and again, the target gone before the runs were done).
    pub error: Option<anyhow::Error>,
}

/// Runs the repeat to its end.
pub fn run(cfg: &RepeatConfig) -> Result<RepeatOutcome> {
    let signals = Signals::install()?;
    let pid = match &cfg.target {
        crate::watch::Target::Pid(p) => *p,
        crate::watch::Target::Name(n) => target::resolve_name(n)?,
        _ => anyhow::bail!("repeat needs a running target"),
    };
    let mut sampler = sampler::open(pid, false, &cfg.metrics)?;
    let mut log = cfg
        .output
        .as_deref()
        .map(|p| LogWriter::open_with(p, &cfg.metrics, true))
        .transpose()?;
    let per_run = DetectorConfig {
        warmup: None,
        min_rate: cfg.max_per_run,
    };
    let mut r = Runner {
        cfg,
        pid,
        sampler: sampler.as_mut(),
        log: log.as_mut(),
        signals: &signals,
        start: Instant::now(),
    };
    let mut out = RepeatOutcome {
        pid,
        runs: 0,
        failed: 0,
        judging: Judging::new(per_run, &cfg.metrics, None, Judge::metric(Metric::Rss)),
        baseline: 0.0,
        held: None,
        cooldown_s: 0.0,
        ended_by: None,
        next_step: None,
        error: None,
    };
    out.baseline = r.baseline()?;
    let mean_run = r.runs(&mut out)?;
    if out.ended_by.is_none() {
        let cool = cfg
            .cooldown
            .unwrap_or_else(|| Duration::from_secs(3).max(mean_run * 3));
        out.cooldown_s = cool.as_secs_f64();
        out.held = r
            .cooldown(cool, COOLDOWN_RUN)?
            .map(|least| least - out.baseline);
    }
    if out.judging.shown().detector.verdict().kind == crate::detector::VerdictKind::Leaking {
        out.next_step = crate::runtime::next_step(pid);
    }
    Ok(out)
}

/// The state of a repeat under way.
struct Runner<'a> {
    cfg: &'a RepeatConfig,
    pid: u32,
    sampler: &'a mut dyn Sampler,
    log: Option<&'a mut LogWriter>,
    signals: &'a Signals,
    start: Instant,
}

impl Runner<'_> {
    /// One sample, logged with its run; `None` once the target is gone.
    fn sample(&mut self, run: i64) -> Result<Option<Reading>> {
        let Some(s) = self.sampler.sample()? else {
            return Ok(None);
        };
        if let Some(log) = self.log.as_deref_mut() {
            log.write(&Sample {
                timestamp: SystemTime::now(),
                elapsed_s: (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                pid: s.pid,
                reading: s.reading,
                run: Some(run),
            })?;
        }
        Ok(Some(s.reading))
    }

    /// RSS before the first run: the least of five samples an interval apart.
    fn baseline(&mut self) -> Result<f64> {
        let mut least = f64::MAX;
        for i in 0..5 {
            if i > 0 {
                std::thread::sleep(self.cfg.interval);
            }
            let r = self
                .sample(0)?
                .with_context(|| format!("process {} exited before the first run", self.pid))?;
            least = least.min(r.rss() as f64);
        }
        Ok(least)
    }

    /// Runs the command `cfg.runs` times; returns the mean run's length.
    fn runs(&mut self, out: &mut RepeatOutcome) -> Result<Duration> {
        let mut in_a_row = 0;
        let mut total = Duration::ZERO;
        for run in 1..=self.cfg.runs {
            let began = Instant::now();
            let (status, last_err) = match self.one_run(run)? {
                RunEnd::Done(status, last) => (status, last),
                RunEnd::Stopped(why) => {
                    out.ended_by = Some(why);
                    break;
                }
                RunEnd::TargetGone => {
                    out.ended_by = Some("target exited".into());
                    out.error = Some(self.gone_during(run));
                    break;
                }
            };
            total += began.elapsed();
            out.runs = run;
            // The target's memory right after the run, against the run's number.
            let Some(after) = self.sample(run as i64)? else {
                out.ended_by = Some("target exited".into());
                if run < self.cfg.runs {
                    out.error = Some(self.gone_during(run));
                }
                break;
            };
            out.judging.push_reading(run as f64, &after);
            if status.success() {
                in_a_row = 0;
            } else {
                out.failed += 1;
                in_a_row += 1;
                if in_a_row >= MAX_FAILURES_IN_A_ROW {
                    out.ended_by = Some("the command failed".into());
                    out.error = Some(anyhow::anyhow!(
                        "the command failed {in_a_row} times in a row ({}); its last stderr line: {}",
                        target::describe_exit(status),
                        quoted(&last_err)
                    ));
                    break;
                }
            }
        }
        Ok(total / out.runs.max(1) as u32)
    }

    /// The error for a target gone during `run`.
    fn gone_during(&self, run: u64) -> anyhow::Error {
        anyhow::anyhow!(
            "process {} exited during run {run} of {}",
            self.pid,
            self.cfg.runs
        )
    }

    /// One run of the command, sampling the target while it goes on.
    fn one_run(&mut self, run: u64) -> Result<RunEnd> {
        let logged = run as i64;
        let (mut child, last_err) = spawn(&self.cfg.command)?;
        loop {
            if let Some(why) = self.signals.received() {
                target::stop_child(&mut child, false);
                return Ok(RunEnd::Stopped(why.into()));
            }
            if let Some(status) = child.try_wait()? {
                return Ok(RunEnd::Done(status, last_err.last_line()));
            }
            if self.sample(logged)?.is_none() {
                target::stop_child(&mut child, false);
                return Ok(RunEnd::TargetGone);
            }
            let end = Instant::now() + self.cfg.interval;
            while Instant::now() < end && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(2).min(self.cfg.interval));
            }
        }
    }

    /// Samples for `cool`; the least RSS seen, if the target lasted.
    fn cooldown(&mut self, cool: Duration, run: i64) -> Result<Option<f64>> {
        let end = Instant::now() + cool;
        let mut least: Option<f64> = None;
        while Instant::now() < end && self.signals.received().is_none() {
            std::thread::sleep(self.cfg.interval.min(end - Instant::now()));
            let Some(r) = self.sample(run)? else {
                break;
            };
            let rss = r.rss() as f64;
            least = Some(least.map_or(rss, |l| l.min(rss)));
        }
        Ok(least)
    }
}

/// How a run ended.
enum RunEnd {
    /// The command exited, with its last stderr line.
    Done(std::process::ExitStatus, String),
    /// A signal asked to stop.
    Stopped(String),
    /// The target exited.
    TargetGone,
}

/// Starts `argv` in a process group of its own, output discarded but for the
/// last line of its stderr, kept (cut) in the returned cell.
fn spawn(argv: &[String]) -> Result<(Child, StderrTail)> {
    use std::os::unix::process::CommandExt;
    let (prog, args) = argv.split_first().context("no command to run")?;
    let mut child = Command::new(prog)
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", quoted(&argv.join(" "))))?;
    let last = Arc::new(Mutex::new(String::new()));
    let mut reader = None;
    if let Some(err) = child.stderr.take() {
        let keep = last.clone();
        reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(err).split(b'\n').map_while(|l| l.ok()) {
                let text = String::from_utf8_lossy(&line);
                if !text.trim().is_empty()
                    && let Ok(mut k) = keep.lock()
                {
                    *k = text.chars().take(400).collect();
                }
            }
        }));
    }
    Ok((child, StderrTail { last, reader }))
}

/// The last line of a command's stderr, as a thread reads it.
struct StderrTail {
    last: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl StderrTail {
    /// The last line, once the reader has seen the end of the stream (or
    /// after a second, if something the command started still holds it).
    fn last_line(self) -> String {
        if let Some(r) = self.reader {
            let end = Instant::now() + Duration::from_secs(1);
            while !r.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
