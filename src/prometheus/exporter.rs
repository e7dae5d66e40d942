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
