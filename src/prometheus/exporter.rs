//! The exporter, an engine output: it keeps the exposition current for the
//! process the loop samples and, with a textfile, writes it there each time.
//! When another process takes the target's place (`--follow`), the one
//! before's series go; when the loop ends, the textfile is left holding
//! `leakwatch_up 0` alone, so nothing reads a finished watch's verdict as
//! current.

use super::exposition::{Exposition, TargetLabels};
use super::textfile;
use crate::engine::{Output, Target, Tick};
use std::path::PathBuf;
use std::sync::Arc;

/// Keeps an [`Exposition`] current (the verdicts at most once a second of
/// a target's time) and writes it to a textfile, if one is given.
pub struct Exporter {
    expo: Arc<Exposition>,
    /// The process exposed now.
    target: Option<TargetLabels>,
    /// Samples of the target taken before this process was (a followed
    /// target's earlier processes).
    before: u64,
    textfile: Option<PathBuf>,
    last: Option<f64>,
    /// The textfile was written at least once.
    written: bool,
    /// The final textfile was written (or there is none to write).
    finished: bool,
    warnings: Vec<String>,
}

impl Exporter {
    /// Exports to `expo` and the `textfile`, if any.
    pub fn new(expo: Arc<Exposition>, textfile: Option<PathBuf>) -> Exporter {
        Exporter {
            expo,
            target: None,
            before: 0,
            textfile,
            last: None,
            written: false,
            finished: false,
            warnings: Vec::new(),
        }
    }

    /// Makes the process of `tick` the one exposed, if it is not yet: the
    /// series of the one before are removed.
    fn track(&mut self, tick: &Tick) {
        let name = &tick.target.label.name;
        if self
            .target
            .as_ref()
            .is_some_and(|t| t.pid == tick.pid && t.command == *name)
        {
            return;
        }
        if let Some(old) = self.target.take() {
            self.expo.forget(&old);
        }
        let now = TargetLabels {
            pid: tick.pid,
            command: name.clone(),
            cgroup: tick.target.label.cgroup.clone(),
        };
        self.expo.set_up(&now, true);
        self.target = Some(now);
        self.before = tick.samples().saturating_sub(1);
        self.last = None;
    }

    /// Leaves the textfile with `leakwatch_up 0` alone, if one was written;
    /// the error, if that fails.
    fn write_final(&mut self) -> anyhow::Result<()> {
        self.finished = true;
        match &self.textfile {
            Some(p) if self.written => {
                textfile::write(p, &Exposition::finished(self.target.as_ref()))
            }
            _ => Ok(()),
        }
    }
}

impl Output for Exporter {
    fn sample(&mut self, tick: &Tick) -> anyhow::Result<()> {
        self.track(tick);
        let Some(target) = self.target.as_ref() else {
            return Ok(());
        };
        self.expo
            .count(target, tick.samples().saturating_sub(self.before));
        if self.last.is_some_and(|l| tick.t - l < 1.0) {
            return Ok(());
        }
        self.last = Some(tick.t);
        let limit = tick.target.limit.map(|l| l.bytes);
        self.expo
            .update(target, tick.reading, &tick.target.judging, limit);
        if let Some(p) = &self.textfile {
            textfile::write(p, &self.expo.render_classic())?;
            self.written = true;
        }
        Ok(())
    }

    fn finish(&mut self, _targets: &[Target]) {
        if let Some(t) = &self.target {
            self.expo.forget(t);
            self.expo.set_up(t, false);
        }
        if let Err(e) = self.write_final() {
            self.warnings
                .push(format!("{e:#}: it may still show the last verdicts"));
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

impl Drop for Exporter {
    /// A loop that ended without [`Output::finish`] (a sampling error) still
    /// leaves `leakwatch_up 0` alone in the textfile.
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.write_final();
        }
    }
}

/// How long an exited target's series stay, seconds of the scan: long
/// enough for a scrape (every 15 s to 1 min) to see its final state.
pub const GONE_KEPT_S: f64 = 60.0;

/// The exporter of a scan: every target's series (the same families as a
/// watch's), labelled by PID and command, or by cgroup; at most `max`
/// targets at once (the rest are counted, and said). An exited target's
/// series stay [`GONE_KEPT_S`] with `leakwatch_up 0`, then go. The textfile
/// is written at most once a second.
pub struct ScanExporter {
    expo: Arc<Exposition>,
    textfile: Option<PathBuf>,
    max: usize,
    /// Targets exposed now, by id: their labels and last update.
    shown: std::collections::HashMap<usize, (TargetLabels, Option<f64>)>,
    /// Exited targets, and when they left.
    gone: std::collections::VecDeque<(TargetLabels, f64)>,
    left_out: u64,
    now: f64,
    written_at: Option<f64>,
    finished: bool,
    warnings: Vec<String>,
}

impl ScanExporter {
    /// Exports at most `max` targets to `expo` and the `textfile`, if any.
    pub fn new(expo: Arc<Exposition>, textfile: Option<PathBuf>, max: usize) -> ScanExporter {
        ScanExporter {
            expo,
            textfile,
            max,
            shown: std::collections::HashMap::new(),
            gone: std::collections::VecDeque::new(),
            left_out: 0,
            now: 0.0,
            written_at: None,
            finished: false,
            warnings: Vec::new(),
        }
    }

    fn write_final(&mut self) -> anyhow::Result<()> {
        self.finished = true;
        match &self.textfile {
            Some(p) if self.written_at.is_some() => textfile::write(p, &Exposition::finished(None)),
            _ => Ok(()),
        }
    }
}

impl Output for ScanExporter {
    fn joined(&mut self, target: &Target) -> anyhow::Result<()> {
        if self.shown.len() >= self.max {
            self.left_out += 1;
            return Ok(());
        }
        let l = &target.label;
        let labels = TargetLabels {
            pid: l.pid,
            command: l.name.clone(),
            cgroup: l.cgroup.clone(),
        };
        self.expo.set_up(&labels, true);
        self.shown.insert(target.id, (labels, None));
        Ok(())
    }

    fn sample(&mut self, tick: &Tick) -> anyhow::Result<()> {
        let Some((labels, last)) = self.shown.get_mut(&tick.target.id) else {
            return Ok(());
        };
        self.expo.count(labels, tick.samples());
        if last.is_some_and(|l| tick.t - l < 1.0) {
            return Ok(());
        }
        *last = Some(tick.t);
        let limit = tick.target.limit.map(|l| l.bytes);
        self.expo
            .update(labels, tick.reading, &tick.target.judging, limit);
        Ok(())
    }

    fn left(&mut self, target: &Target) -> anyhow::Result<()> {
        if let Some((labels, _)) = self.shown.remove(&target.id) {
            self.expo.set_up(&labels, false);
            self.gone.push_back((labels, self.now));
        }
        Ok(())
    }

    fn tick(&mut self, f: &crate::engine::Frame) -> anyhow::Result<()> {
        self.now = f.t;
        while self
            .gone
            .front()
            .is_some_and(|(_, at)| f.t - at >= GONE_KEPT_S)
        {
            if let Some((labels, _)) = self.gone.pop_front() {
                self.expo.forget(&labels);
            }
        }
        if let Some(p) = &self.textfile
            && !self.written_at.is_some_and(|w| f.t - w < 1.0)
        {
            textfile::write(p, &self.expo.render_classic())?;
            self.written_at = Some(f.t);
        }
        Ok(())
    }

    fn finish(&mut self, _targets: &[Target]) {
        if self.left_out > 0 {
            self.warnings.push(format!(
                "{} targets were not exported: the exporter holds at most {} at once",
                self.left_out, self.max
            ));
        }
        if let Err(e) = self.write_final() {
            self.warnings
                .push(format!("{e:#}: it may still show the last verdicts"));
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

impl Drop for ScanExporter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.write_final();
        }
    }
}
