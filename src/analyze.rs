//! `leakwatch analyze`: judging a log offline with the same detector the live
//! watch uses, including the rules for logs that hold several watches.

use crate::detector::{Detector, DetectorConfig, Verdict};
use crate::log::{InputKind, LogReader, ReadOptions, Row};
use crate::metrics::{self, Metric};
use crate::report::Judged;

use anyhow::Result;
use std::path::PathBuf;

/// What `analyze` is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeConfig {
    /// The log, or `-` for standard input.
    pub path: PathBuf,
    /// Column and shell-loop spacing.
    pub read: ReadOptions,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// `--judge any`: the exit code follows any metric that leaks.
    pub judge_any: bool,
    /// A memory limit to compare against.
    pub limit: Option<f64>,
}

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
                    self.offset = ts - ts0 - e;
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
        (t, placement)
    }

    /// A sentence on what was set aside, if anything.
    pub fn set_aside_note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.watches_set_aside > 0 {
            parts.push(format!(
                "{} earlier watch{} ({} rows) set aside; judged the last",
                self.watches_set_aside,
                if self.watches_set_aside == 1 {
                    ""
                } else {
                    "es"
                },
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

/// The outcome of `analyze`.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Verdicts on every metric column (and the judged column), in column order.
    pub judged: Vec<Judged>,
    /// The column judged.
    pub column: String,
    /// The input's name.
    pub source: String,
    /// CSV log or shell-loop log.
    pub kind: InputKind,
    /// The PID of the judged watch, if the log has one.
    pub pid: Option<u64>,
    /// What was set aside or joined, in words.
    pub set_aside: Option<String>,
    /// Rows of earlier watches set aside.
    pub rows_set_aside: u64,
    /// Warnings (a cut-short last row).
    pub warnings: Vec<String>,
}

impl Analysis {
    /// The verdict on the judged column (always among `judged`).
    pub fn verdict(&self) -> &Verdict {
        let j = self.judged.iter().find(|j| j.column == self.column);
        &j.unwrap_or(&self.judged[0]).verdict
    }
}

/// Reads the log in one streaming pass and judges its last watch: the judged
/// column and every known metric column present.
pub fn analyze(cfg: &AnalyzeConfig) -> Result<Analysis> {
    let mut reader = LogReader::open(&cfg.path, &cfg.read)?;
    let column = reader.column().to_string();
    // (metric, or None for a judged column that is no known metric; its detector)
    let mut series: Vec<(Option<Metric>, DetectorConfig)> = reader
        .present_metrics()
        .into_iter()
        .map(|m| (Some(m), metrics::detector_for(m, cfg.detector)))
        .collect();
    if Metric::from_column(&column).is_none() {
        series.push((None, cfg.detector));
    }
    let fresh = |s: &[(Option<Metric>, DetectorConfig)]| -> Vec<Detector> {
        s.iter().map(|(_, c)| Detector::new(*c)).collect()
    };
    let mut dets = fresh(&series);
    let mut seg = Segmenter::default();
    let mut pid = None;
    while let Some(row) = reader.next_row()? {
        let (t, placement) = seg.place(&row);
        if placement == Placement::NewWatch {
            dets = fresh(&series);
        }
        pid = row.pid.or(pid);
        for ((m, _), d) in series.iter().zip(dets.iter_mut()) {
            let v = match m {
                Some(m) => row.metrics[m.index()].unwrap_or(row.value),
                None => row.value,
            };
            d.push(t, v);
        }
    }
    let judged: Vec<Judged> = series
        .iter()
        .zip(&dets)
        .map(|((m, _), d)| Judged {
            column: m.map_or(column.clone(), |m| m.column().to_string()),
            counts: m.is_some_and(|m| !m.is_bytes()),
            verdict: d.verdict(),
        })
        .collect();
    Ok(Analysis {
        judged,
        column,
        source: reader.name().to_string(),
        kind: reader.kind(),
        pid,
        set_aside: seg.set_aside_note(),
        rows_set_aside: seg.rows_set_aside,
        warnings: reader.warnings().to_vec(),
    })
}
