//! The progress shown on stderr while a watch runs: a line redrawn in place on
//! a terminal, a line every 10 s otherwise.

use super::output::{Output, Tick};
use crate::report::plural;
use crate::units::{Quantity, format_secs};
use anyhow::Result;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The progress line.
pub struct Progress {
    tty: bool,
    last: Option<Instant>,
    drawn: bool,
    duration: Option<f64>,
}

impl Progress {
    /// Progress on stderr, redrawn in place when it is a terminal, for a
    /// watch of `duration` seconds if it has one.
    pub fn new(duration: Option<f64>) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
            duration,
        }
    }
}

/// The width of the terminal on stderr, in columns.
fn terminal_width() -> Option<usize> {
    // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills it for a terminal.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl(2) TIOCGWINSZ on stderr with a valid winsize pointer.
    let rc = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// The status line for `tick`: what is known now, and the verdict only once
/// the detector stands by it.
fn status(tick: &Tick, duration: Option<f64>) -> String {
    let series = tick.judging.shown();
    let q = series.metric.map_or(Quantity::Bytes, |m| m.quantity());
    let name = series.metric.map_or(series.column.as_str(), |m| m.name());
    let value = series.metric.map_or(0, |m| tick.reading.get(m));
    // The verdict first (it matters most on a narrow terminal), and only
    // once the detector stands by it.
    let v = series.detector.verdict();
    let judged = if v.finding.rate_known() {
        format!(
            "{} so far | {} | floor {}",
            v.kind,
            q.rate(v.rate, "min"),
            q.value(v.baseline_end)
        )
    } else {
        "judging…".to_string()
    };
    let mut line = format!(
        "{} | PID {} | {judged} | {name} {} | {}",
        format_secs(tick.t),
        tick.pid,
        q.value(value as f64),
        plural(tick.samples, "sample")
    );
    if let Some(d) = duration {
        line.push_str(&format!(" | {} left", format_secs((d - tick.t).max(0.0))));
    }
    line
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
        let mut line = status(tick, self.duration);
        if self.tty
            && let Some(w) = terminal_width()
            && line.chars().count() >= w
        {
            // A line as wide as the terminal would wrap, and each redraw
            // would leave a line behind.
            line = line.chars().take(w.saturating_sub(1)).collect();
        }
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
