//! Where samples go while the loop runs: a CSV log, one log per target in a
//! directory, and (built above the engine) a progress line, a live table and
//! an exporter, all behind one trait.

use super::Target;
use crate::log::{LogWriter, Sample};
use crate::metrics::{Metric, Reading};
use crate::sys::files::FdBudget;
use anyhow::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One sample as the outputs see it.
pub struct Tick<'a> {
    /// Seconds on the target's own time axis (since its origin).
    pub t: f64,
    /// Wall-clock time of the sample.
    pub wall: SystemTime,
    /// The process sampled.
    pub pid: u32,
    /// What was read.
    pub reading: &'a Reading,
    /// The target, its detectors fed with this sample.
    pub target: &'a Target,
    /// The mark the mode puts on the sample (a repeat's run), if any.
    pub mark: Option<i64>,
}

impl Tick<'_> {
    /// Samples taken of the target so far, this one included.
    pub fn samples(&self) -> u64 {
        self.target.samples
    }
}

/// Every target after a tick's samples.
pub struct Frame<'a> {
    /// Engine seconds.
    pub t: f64,
    /// Every target, in the order they joined (gone ones too).
    pub targets: &'a [Target],
    /// What is watched, in words.
    pub scope: &'a str,
}

/// A consumer of what the loop sees. An error ends the loop (after its report).
pub trait Output {
    /// A target joined (before its first sample).
    fn joined(&mut self, _target: &Target) -> Result<()> {
        Ok(())
    }

    /// One sample of a target.
    fn sample(&mut self, tick: &Tick) -> Result<()>;

    /// Every target was sampled for this tick.
    fn tick(&mut self, _frame: &Frame) -> Result<()> {
        Ok(())
    }

    /// A target is gone.
    fn left(&mut self, _target: &Target) -> Result<()> {
        Ok(())
    }

    /// An exited target is let go of (see [`Driver::exited_cap`](super::Driver::exited_cap)):
    /// forget what is kept for it.
    fn dropped(&mut self, _target: &Target) -> Result<()> {
        Ok(())
    }

    /// The loop has ended: tidy up (clear a progress line, flush).
    fn finish(&mut self, _targets: &[Target]) {}

    /// Warnings met on the way, for the report.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Adds `extra` to `outputs`, reborrowed for as long as `outputs` lives.
pub fn reborrow<'s>(outputs: &mut Vec<&'s mut dyn Output>, extra: &'s mut [&mut dyn Output]) {
    for o in extra.iter_mut() {
        outputs.push(&mut **o);
    }
}

/// A sample as a log row.
fn row(tick: &Tick) -> Sample {
    Sample {
        timestamp: tick.wall,
        elapsed_s: tick.t,
        pid: tick.pid,
        reading: *tick.reading,
        run: tick.mark,
    }
}

impl Output for LogWriter {
    fn sample(&mut self, tick: &Tick) -> Result<()> {
        self.write(&row(tick))
    }

    fn warnings(&self) -> Vec<String> {
        LogWriter::warnings(self).to_vec()
    }
}

/// One CSV log per target in a directory (`PID-program.csv`,
/// `cgroup_path.csv`), each opened as its target joins.
pub struct LogDir {
    dir: PathBuf,
    metrics: Vec<Metric>,
    budget: FdBudget,
    logs: HashMap<usize, LogWriter>,
    /// Every log written, by target.
    paths: HashMap<usize, PathBuf>,
    warnings: Vec<String>,
}

impl LogDir {
    /// Logs of `metrics` in `dir`, each counted against `budget`.
    pub fn new(dir: &Path, metrics: &[Metric], budget: FdBudget) -> LogDir {
        LogDir {
            dir: dir.to_path_buf(),
            metrics: metrics.to_vec(),
            budget,
            logs: HashMap::new(),
            paths: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// The log written for target `id`, if one was.
    pub fn path_of(&self, id: usize) -> Option<&Path> {
        self.paths.get(&id).map(PathBuf::as_path)
    }

    /// Every log written, by target.
    pub fn paths(&self) -> &HashMap<usize, PathBuf> {
        &self.paths
    }
}

/// The file name of a target's log.
fn log_name(target: &Target) -> String {
    let l = &target.label;
    match &l.cgroup {
        Some(c) => format!("cgroup{}", file_name(c)),
        None => format!("{}-{}", l.pid, file_name(program(&l.command))),
    }
}

/// `text` as part of a file name: letters, digits, `.`, `_` and `-` kept,
/// the rest `_`; at most its last 80 characters.
fn file_name(text: &str) -> String {
    let kept: Vec<char> = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    kept[kept.len().saturating_sub(80)..].iter().collect()
}

/// The program a command line runs, without its directory.
pub fn program(command: &str) -> &str {
    let first = command.split(' ').next().unwrap_or(command);
    first.rsplit('/').next().unwrap_or(first)
}

impl Output for LogDir {
    fn joined(&mut self, target: &Target) -> Result<()> {
        let path = self.dir.join(format!("{}.csv", log_name(target)));
        if !self.budget.room(1) {
            self.warnings.push(format!(
                "{}: not written: no descriptor left under the open-file limit; raise it (`ulimit -n`)",
                path.display()
            ));
            return Ok(());
        }
        let log = LogWriter::open(&path, &self.metrics)?;
        self.budget.take(1);
        self.warnings.extend(log.warnings().iter().cloned());
        self.logs.insert(target.id, log);
        self.paths.insert(target.id, path);
        Ok(())
    }

    fn sample(&mut self, tick: &Tick) -> Result<()> {
        match self.logs.get_mut(&tick.target.id) {
            Some(log) => log.write(&row(tick)),
            None => Ok(()),
        }
    }

    fn dropped(&mut self, target: &Target) -> Result<()> {
        self.paths.remove(&target.id);
        Ok(())
    }

    fn left(&mut self, target: &Target) -> Result<()> {
        if self.logs.remove(&target.id).is_some() {
            self.budget.give(1);
        }
        Ok(())
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
