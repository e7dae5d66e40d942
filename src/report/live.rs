//! The live views, as engine outputs: the status line a watch redraws on
//! stderr, and the table a scan redraws on the terminal like `top`.

use super::plural;
use super::scan::{Frame as TableFrame, Row, Shown, table_lines};
use crate::engine::{Frame, Output, Target, Tick};
use crate::sys::console;
use crate::sys::terminal::{FullScreen, Stream};
use crate::units::format_secs;
use anyhow::Result;
use std::io::Write;
use std::time::{Duration, Instant};

/// The status line of a watch.
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
            tty: Stream::Stderr.is_terminal(),
            last: None,
            drawn: false,
            duration,
        }
    }
}

/// The status line for `tick`, at most `width` characters (unbounded:
/// `None`): what is known now, and the verdict only once the detector
/// stands by it. On a narrow terminal whole fields are dropped, least
/// useful first, never a part of one.
fn status(tick: &Tick, duration: Option<f64>, width: Option<usize>) -> String {
    let series = tick.target.judging.shown();
    let q = series.quantity();
    let name = series.metric.map_or(series.column.as_str(), |m| m.name());
    let value = series.metric.map_or(0, |m| tick.reading.get(m));
    let v = series.detector.verdict();
    // (field, rank): the lower the rank, the longer it stays.
    let mut fields: Vec<(String, u8)> = vec![(format_secs(tick.t), 2)];
    fields.push((format!("PID {}", tick.pid), 6));
    if v.finding.rate_known() {
        fields.push((format!("{} so far", v.kind), 0));
        fields.push((q.rate(v.rate, "min"), 1));
        fields.push((format!("floor {}", q.value(v.baseline_end)), 4));
    } else {
        fields.push(("judging…".to_string(), 0));
    }
    fields.push((format!("{name} {}", q.value(value as f64)), 3));
    fields.push((plural(tick.target.samples, "sample"), 7));
    if let Some(d) = duration {
        fields.push((format!("{} left", format_secs((d - tick.t).max(0.0))), 5));
    }
    let join = |f: &[(String, u8)]| {
        f.iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut line = join(&fields);
    while let Some(w) = width
        && line.chars().count() >= w
        && fields.len() > 1
    {
        let worst = (0..fields.len()).max_by_key(|&i| fields[i].1).unwrap_or(0);
        fields.remove(worst);
        line = join(&fields);
    }
    match width {
        // The last field alone still too wide: cut it rather than wrap.
        Some(w) if line.chars().count() >= w => line.chars().take(w.saturating_sub(1)).collect(),
        _ => line,
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
        // A line as wide as the terminal would wrap, and each redraw would
        // leave a line behind.
        let width = self
            .tty
            .then(|| Stream::Stderr.size().map(|(w, _)| w))
            .flatten();
        let line = status(tick, self.duration, width);
        if self.tty {
            // Through the console, which keeps it below a started command's output.
            console::draw_status(&line);
            self.drawn = true;
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "leakwatch: {line}");
            let _ = err.flush();
        }
        Ok(())
    }

    fn finish(&mut self, _targets: &[Target]) {
        if self.drawn {
            console::clear_status();
        }
    }
}

/// The live table of a scan on the terminal (standard output), in the
/// alternate screen while the scan runs.
pub struct LiveTable {
    screen: Option<FullScreen>,
    duration: Option<f64>,
    interval: f64,
    judge: String,
    /// Each target's verdict as shown (by id), judged now and then.
    shown: std::collections::HashMap<usize, Shown>,
    /// The next target to judge.
    cursor: usize,
}

impl LiveTable {
    /// Switches to the alternate screen, for a scan of `duration` seconds
    /// (if it has one) at `interval`, judging `judge`.
    pub fn start(duration: Option<f64>, interval: f64, judge: &str) -> LiveTable {
        LiveTable {
            screen: Some(FullScreen::enter()),
            duration,
            interval,
            judge: judge.to_string(),
            shown: std::collections::HashMap::new(),
            cursor: 0,
        }
    }

    /// Judges the next share of targets: all of them within about eight ticks.
    fn judge_some(&mut self, targets: &[Target]) {
        let n = targets.len();
        if self.shown.len() > n {
            // Targets the scan let go of.
            let ids: std::collections::HashSet<usize> = targets.iter().map(|t| t.id).collect();
            self.shown.retain(|id, _| ids.contains(id));
        }
        if n == 0 {
            return;
        }
        let share = n.div_ceil(8).max(64).min(n);
        for _ in 0..share {
            let t = &targets[self.cursor % n];
            self.cursor = self.cursor.wrapping_add(1);
            if !self.shown.contains_key(&t.id) || !t.gone {
                self.shown.insert(t.id, Shown::of(&t.judging));
            }
        }
    }

    /// Leaves the alternate screen (the report is printed after).
    fn leave(&mut self) {
        self.screen = None;
    }
}

impl Output for LiveTable {
    fn sample(&mut self, _tick: &Tick) -> Result<()> {
        Ok(())
    }

    fn tick(&mut self, f: &Frame) -> Result<()> {
        self.judge_some(f.targets);
        let rows = f
            .targets
            .iter()
            .filter(|t| t.samples > 0)
            .map(|t| Row {
                pid: t.label.pid,
                label: t.label.cgroup.as_deref().unwrap_or(&t.label.command),
                rss: t.last.rss(),
                exited: t.gone,
                shown: self.shown.get(&t.id).copied(),
            })
            .collect();
        let (w, h) = Stream::Stdout.size().unwrap_or((80, 24));
        let lines = table_lines(
            &TableFrame {
                rows,
                t: f.t,
                duration: self.duration,
                interval: self.interval,
                scope: f.scope,
                judge: &self.judge,
            },
            w,
            h,
        );
        // Back from Ctrl-Z: the screen was given back, draw it whole.
        let resumed = self.screen.as_ref().is_some_and(FullScreen::resumed);
        let mut out = String::from(if resumed { "\x1b[2J\x1b[H" } else { "\x1b[H" });
        // No newline after the last line: on the bottom row it would scroll
        // the title off the screen.
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                out.push_str("\x1b[K\n");
            }
            out.push_str(l);
        }
        out.push_str("\x1b[K");
        out.push_str("\x1b[J");
        emit(&out);
        Ok(())
    }

    fn finish(&mut self, _targets: &[Target]) {
        self.leave();
    }
}

fn emit(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}
