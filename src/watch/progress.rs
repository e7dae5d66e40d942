//! The progress shown on stderr while a watch runs: a line redrawn in place on
//! a terminal, a line every 10 s otherwise.

use super::output::{Output, Tick};
use crate::units::format_secs;
use anyhow::Result;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The progress line.
pub struct Progress {
    tty: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    /// Progress on stderr, redrawn in place when it is a terminal.
    pub fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Output for Progress {
    fn sample(&mut self, tick: &Tick) -> Result<()> {
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(10)
        };
        let now = Instant::now();
        if self.last.is_some_and(|l| now - l < every) {
            return Ok(());
        }
        if self.last.is_none() && !self.tty {
            // Plain output: first line only after the first period.
            self.last = Some(now);
            return Ok(());
        }
        self.last = Some(now);
        let series = tick.judging.shown();
        let v = series.detector.verdict();
        let q = series
            .metric
            .map(|m| m.quantity())
            .unwrap_or(crate::units::Quantity::Bytes);
        let name = series.metric.map_or(series.column.as_str(), |m| m.name());
        let value = series.metric.map_or(0, |m| tick.reading.get(m));
        let line = format!(
            "{} | {} samples | {name} {} | floor {} | {} | {} so far",
            format_secs(tick.t),
            tick.samples,
            q.value(value as f64),
            q.value(v.baseline_end),
            q.rate(v.rate, "min"),
            v.kind
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "leakwatch: {line}");
        }
        let _ = err.flush();
        Ok(())
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
