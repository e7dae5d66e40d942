//! The report of `analyze --prometheus`: one verdict per series, sorted by
//! growth rate, and the worst of them.

use super::{Format, Report, verdict_word};
use crate::detector::VerdictKind;
use crate::prometheus::SeriesVerdict;
use crate::units::Quantity;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One series in the JSON output: its labels and the usual verdict fields.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesReport {
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The verdict and its numbers, as for a log.
    #[serde(flatten)]
    pub report: Report,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// The worst verdict of any series: leaking, else inconclusive, else plateau.
    pub verdict: VerdictKind,
    /// The query judged.
    pub query: String,
    /// The server asked.
    pub source: String,
    /// Seconds of history read.
    pub range_s: f64,
    /// Every series, fastest growth first.
    pub series: Vec<SeriesReport>,
}

impl FleetReport {
    /// The report on `all`, judged with `min_rate`.
    pub fn new(
        all: &[SeriesVerdict],
        query: &str,
        source: &str,
        range_s: f64,
        min_rate: f64,
    ) -> FleetReport {
        let worst = |k: VerdictKind| all.iter().any(|s| s.verdict.kind == k);
        let verdict = if worst(VerdictKind::Leaking) {
            VerdictKind::Leaking
        } else if worst(VerdictKind::Inconclusive) {
            VerdictKind::Inconclusive
        } else {
            VerdictKind::Plateau
        };
        FleetReport {
            verdict,
            query: query.to_string(),
            source: source.to_string(),
            range_s,
            series: all
                .iter()
                .map(|s| SeriesReport {
                    labels: s.labels.clone(),
                    report: Report::new(&s.verdict, "value", Quantity::Bytes, min_rate),
                })
                .collect(),
        }
    }

    /// Renders the report in `format`; the verdict words coloured when `color`.
    pub fn render(&self, format: Format, color: bool) -> String {
        if format == Format::Json {
            return super::json_text(self);
        }
        let q = Quantity::Bytes;
        let mut s = String::new();
        let _ = writeln!(s, "{}", verdict_word(self.verdict, color));
        let _ = writeln!(
            s,
            "  {} series of {} over the last {}, fastest growth first:",
            self.series.len(),
            self.query,
            crate::units::format_secs(self.range_s)
        );
        for r in &self.series {
            let rate = if r.report.rate_known {
                format!(
                    "{} (95% {} to {})",
                    q.rate(r.report.growth_rate_bytes_per_s, "h"),
                    q.rate(r.report.growth_rate_ci95[0], "h"),
                    q.rate(r.report.growth_rate_ci95[1], "h")
                )
            } else {
                "rate not yet known".to_string()
            };
            let labels: Vec<String> = r
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let word = verdict_word(r.report.verdict, color);
            let pad = 13usize.saturating_sub(r.report.verdict.as_str().len());
            let _ = writeln!(
                s,
                "  {word}{:pad$} {rate:<44} floor {:>10}  {{{}}}",
                "",
                q.value(r.report.baseline_end_bytes),
                labels.join(", ")
            );
        }
        s
    }
}
