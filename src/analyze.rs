//! `leakwatch analyze`: judging a log offline with the same detector the live
//! watch uses, including the rules for logs that hold several watches.

use crate::detector::{DetectorConfig, Verdict};
use crate::judging::{Judge, Judged, Judging};
use crate::log::{InputKind, LogReader, Placement, ReadOptions, Segmenter};
use crate::metrics::Metric;

use anyhow::{Result, bail};
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
    /// Which series decides: the read column (`Judge::Column`, whatever it
    /// names) or any metric that leaks.
    pub judge: Judge,
    /// A memory limit to compare against.
    pub limit: Option<f64>,
}

/// The outcome of `analyze`.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Verdicts on every metric column (and the judged column), in column order.
    pub judged: Vec<Judged>,
    /// The column judged.
    pub column: String,
    /// Which series decides the exit code.
    pub judge: Judge,
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
    /// Warm-up and minimum rate judged with.
    pub detector: DetectorConfig,
    /// The memory limit compared against, bytes.
    pub limit: Option<f64>,
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
    let judge = match cfg.judge {
        Judge::Any => Judge::Any,
        Judge::Column(_) => Judge::Column(column.clone()),
    };
    let extra = Metric::from_column(&column)
        .is_none()
        .then_some(column.as_str());
    let mut judging = Judging::new(cfg.detector, &reader.present_metrics(), extra, judge);
    let mut seg = Segmenter::default();
    let mut pid = None;
    reader.for_each_row(|row| {
        let (t, placement) = seg.place(row);
        if placement == Placement::NewWatch {
            judging.reset();
        }
        pid = row.pid.or(pid);
        judging.push(t, |m| match m {
            Some(m) => row.metrics[m.index()].unwrap_or(row.value),
            None => row.value,
        });
    })?;
    if judging.shown().detector.samples() == 0 {
        bail!(
            "{}: no samples to judge: {}",
            reader.name(),
            no_rows(&reader)
        );
    }
    Ok(Analysis {
        judged: judging.judged(),
        judge: judging.judge().clone(),
        column,
        source: reader.name().to_string(),
        kind: reader.kind(),
        pid,
        set_aside: seg.set_aside_note(),
        rows_set_aside: seg.rows_set_aside,
        warnings: seg.named_warnings(reader.warnings(), reader.name()),
        detector: cfg.detector,
        limit: cfg.limit,
    })
}

/// Why a log gave no rows, in words.
pub fn no_rows(reader: &LogReader) -> &'static str {
    if reader.warnings().is_empty() {
        "the log has no rows"
    } else {
        "its only row was cut short"
    }
}
