//! The exporter, an engine output: it keeps the exposition current for the
//! targets the loop sees and, with a textfile, writes it there each time.

use super::exposition::{Exposition, TargetLabels};
use super::textfile;
use crate::engine::{Output, Tick};
use std::path::PathBuf;
use std::sync::Arc;

/// Keeps an [`Exposition`] current (the verdicts at most once a second of
/// a target's time) and writes it to a textfile, if one is given.
pub struct Exporter {
    expo: Arc<Exposition>,
    target: Option<TargetLabels>,
    textfile: Option<PathBuf>,
    last: Option<f64>,
}

impl Exporter {
    /// Exports to `expo` and the `textfile`, if any.
    pub fn new(expo: Arc<Exposition>, textfile: Option<PathBuf>) -> Exporter {
        Exporter {
            expo,
            target: None,
            textfile,
            last: None,
        }
    }
}

impl Output for Exporter {
    fn sample(&mut self, tick: &Tick) -> anyhow::Result<()> {
        let target = self.target.get_or_insert_with(|| TargetLabels {
            pid: tick.pid,
            command: tick.target.label.name.clone(),
        });
        target.pid = tick.pid;
        self.expo.count(target, tick.samples());
        if self.last.is_some_and(|l| tick.t - l < 1.0) {
            return Ok(());
        }
        self.last = Some(tick.t);
        let limit = tick.target.limit.map(|l| l.bytes);
        self.expo
            .update(target, tick.reading, &tick.target.judging, limit);
        if let Some(p) = &self.textfile {
            textfile::write(p, &self.expo.render_classic())?;
        }
        Ok(())
    }
}
