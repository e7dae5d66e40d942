//! Telling apart the watches and appended runs in one log, and placing each
//! row on the time axis of its watch.

use super::Row;

/// How a row relates to the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The first row of the input.
    First,
    /// The same run as the row before.
    Same,
    /// An appended run of the same process, placed on the time axis by `timestamp`.
    NewSegment,
    /// A new watch (another PID, or a restart with no timestamps to order it):
    /// everything before is set aside.
    NewWatch,
}

/// Splits a log into watches and places each row on the time axis of the last one.
///
/// A new run starts where `elapsed_s` goes back or the PID changes. Runs of the
/// same PID are one watch, ordered by `timestamp`; a PID change starts a new watch.
#[derive(Debug, Default, Clone)]
pub struct Segmenter {
    started: bool,
    pid: Option<u64>,
    prev_elapsed: f64,
    prev_ts: Option<f64>,
    watch_ts0: Option<f64>,
    offset: f64,
    /// Watches set aside so far (all but the current).
    pub watches_set_aside: u64,
    /// Rows set aside so far (those of earlier watches).
    pub rows_set_aside: u64,
    rows_in_watch: u64,
    /// Appended runs joined into the current watch.
    pub segments_in_watch: u64,
    /// The time last placed, and the last spacing between rows.
    prev_t: f64,
    step: f64,
    /// Warnings (`line N: …`), for the caller to prefix with the input's name.
    pub warnings: Vec<String>,
}

impl Segmenter {
    /// Places `row`: its time in seconds on the current watch's axis, and how it relates.
    pub fn place(&mut self, row: &Row) -> (f64, Placement) {
        let mut placement = Placement::Same;
        if !self.started {
            self.started = true;
            placement = Placement::First;
            self.segments_in_watch = 1;
        } else {
            let pid_changed = matches!((self.pid, row.pid), (Some(a), Some(b)) if a != b);
            let restarted = match row.elapsed {
                Some(e) => e < self.prev_elapsed,
                None => matches!((self.prev_ts, row.timestamp), (Some(a), Some(b)) if b < a),
            };
            if pid_changed || (restarted && (row.timestamp.is_none() || row.elapsed.is_none())) {
                placement = Placement::NewWatch;
            } else if restarted {
                placement = Placement::NewSegment;
            }
        }
        match placement {
            Placement::First | Placement::NewWatch => {
                if placement == Placement::NewWatch {
                    self.watches_set_aside += 1;
                    self.rows_set_aside += self.rows_in_watch;
                    self.segments_in_watch = 1;
                }
                self.rows_in_watch = 0;
                self.watch_ts0 = row.timestamp;
                self.offset = 0.0;
                if let (Some(e), None) = (row.elapsed, row.timestamp) {
                    self.offset = -e.min(0.0);
                }
            }
            Placement::NewSegment => {
                self.segments_in_watch += 1;
                if let (Some(ts), Some(ts0), Some(e)) = (row.timestamp, self.watch_ts0, row.elapsed)
                {
                    self.offset = self.run_start(row.line, ts - ts0) - e;
                }
            }
            Placement::Same => {}
        }
        self.rows_in_watch += 1;
        self.pid = row.pid.or(self.pid);
        if let Some(e) = row.elapsed {
            self.prev_elapsed = e;
        }
        self.prev_ts = row.timestamp.or(self.prev_ts);
        let t = match (row.elapsed, row.timestamp, self.watch_ts0) {
            (Some(e), _, _) => e + self.offset,
            (None, Some(ts), Some(ts0)) => ts - ts0,
            _ => 0.0,
        };
        if placement == Placement::Same && t > self.prev_t {
            self.step = t - self.prev_t;
        }
        self.prev_t = t;
        (t, placement)
    }

    /// `read` (a reader's warnings), then this segmenter's, named for the input.
    pub fn named_warnings(&self, read: &[String], name: &str) -> Vec<String> {
        let mut out = read.to_vec();
        out.extend(self.warnings.iter().map(|w| format!("{name}: {w}")));
        out
    }

    /// Where an appended run starts: at `by_clock`, its timestamp's place,
    /// unless the wall clock went back between the runs; then right after
    /// the previous run, keeping the file's order (with a warning).
    fn run_start(&mut self, line: u64, by_clock: f64) -> f64 {
        if by_clock > self.prev_t {
            return by_clock;
        }
        let start = self.prev_t + if self.step > 0.0 { self.step } else { 1.0 };
        self.warnings.push(format!(
            "line {line}: an appended run's timestamps go back {} before the previous run's end \
             (was the clock changed?); it is placed right after the previous run",
            crate::units::format_secs(self.prev_t - by_clock)
        ));
        start
    }

    /// A sentence on what was set aside, if anything.
    pub fn set_aside_note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.watches_set_aside > 0 {
            let watches = if self.watches_set_aside == 1 {
                "1 earlier watch".to_string()
            } else {
                format!("{} earlier watches", self.watches_set_aside)
            };
            parts.push(format!(
                "{watches} ({} rows), before the watch judged",
                self.rows_set_aside
            ));
        }
        if self.segments_in_watch > 1 {
            parts.push(format!(
                "{} appended runs of the same process joined by timestamp",
                self.segments_in_watch
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}
