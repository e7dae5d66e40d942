//! The report of `analyze --prometheus`: one verdict per series, sorted by
//! growth rate, and the worst of them.

use super::query::PromOutcome;
use crate::detector::VerdictKind;
use crate::judging::{Judge, Judged};
use crate::report::{Render, Report, Style, VerdictReport, verdict_word};
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

impl From<&PromOutcome> for FleetReport {
    fn from(o: &PromOutcome) -> FleetReport {
        let all = &o.series;
        let worst = |k: VerdictKind| all.iter().any(|s| s.verdict.kind == k);
        let verdict = if worst(VerdictKind::Leaking) {
            VerdictKind::Leaking
        } else if worst(VerdictKind::Inconclusive) {
            VerdictKind::Inconclusive
        } else {
            VerdictKind::Plateau
        };
        let judge = Judge::Column("value".into());
        FleetReport {
            verdict,
            query: o.query.clone(),
            source: o.url.clone(),
            range_s: o.range_s,
            series: all
                .iter()
                .map(|s| {
                    let judged = [Judged {
                        column: "value".into(),
                        quantity: Quantity::Bytes,
                        verdict: s.verdict.clone(),
                    }];
                    SeriesReport {
                        labels: s.labels.clone(),
                        report: Report::of(VerdictReport::new(&judged, &judge, o.min_rate, None)),
                    }
                })
                .collect(),
        }
    }
}

impl Render for FleetReport {
    fn verdict(&self) -> VerdictKind {
        self.verdict
    }

    fn text(&self, style: &Style) -> String {
        let color = style.color;
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
            let v = &r.report.verdict;
            let rate = if v.rate_known {
                format!(
                    "{} (95% {} to {})",
                    q.rate(v.growth_rate_bytes_per_s.unwrap_or(0.0), "h"),
                    q.rate(v.growth_rate_ci95.unwrap_or_default()[0], "h"),
                    q.rate(v.growth_rate_ci95.unwrap_or_default()[1], "h")
                )
            } else {
                "rate not yet known".to_string()
            };
            let labels: Vec<String> = r
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let word = verdict_word(v.verdict, color);
            let pad = 13usize.saturating_sub(v.verdict.as_str().len());
            let _ = writeln!(
                s,
                "  {word}{:pad$} {rate:<44} floor {:>10}  {{{}}}",
                "",
                q.value(v.baseline_end_bytes),
                labels.join(", ")
            );
        }
        s
    }
}
