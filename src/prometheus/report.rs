//! The report of `analyze --prometheus`: one verdict per series, sorted by
//! growth rate, the worst of them and, with `--by`, the groups.

use super::groups::{Counts, Group, group};
use super::query::PromOutcome;
use crate::detector::VerdictKind;
use crate::judging::{Judge, Judged};
use crate::report::{Render, Report, Style, VerdictReport, verdict_word};
use crate::units::{Quantity, quoted};
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
    /// With `--by`: the series grouped by those labels' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupReport>>,
}

/// One group of series in the JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// The grouping labels and this group's values.
    pub labels: BTreeMap<String, String>,
    /// Series in the group.
    pub series: usize,
    /// Series in each verdict.
    pub counts: Counts,
    /// The median growth rate of the series whose rate is known (`null`: none is).
    pub median_growth_bytes_per_s: Option<f64>,
    /// Their 90th percentile.
    pub p90_growth_bytes_per_s: Option<f64>,
    /// `leaking` when a majority of the group's decided series leak.
    pub verdict: VerdictKind,
}

impl From<&Group> for GroupReport {
    fn from(g: &Group) -> GroupReport {
        GroupReport {
            labels: g.labels.iter().cloned().collect(),
            series: g.series,
            counts: g.counts,
            median_growth_bytes_per_s: g.median.map(crate::report::round3),
            p90_growth_bytes_per_s: g.p90.map(crate::report::round3),
            verdict: g.verdict,
        }
    }
}

impl FleetReport {
    /// The report of `o`, its series grouped by the labels `by` if any.
    pub fn new(o: &PromOutcome, by: &[String]) -> FleetReport {
        let mut r = FleetReport::from(o);
        if !by.is_empty() {
            r.groups = Some(group(&o.series, by).iter().map(GroupReport::from).collect());
        }
        r
    }
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
            groups: None,
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
            quoted(&self.query),
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
                .map(|(k, v)| format!("{}=\"{}\"", escaped(k), escaped(v)))
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
        if let Some(groups) = &self.groups {
            groups_text(&mut s, groups, color);
        }
        s
    }
}

/// The groups, one line each: `version="2.0.1": 37 of 40 leaking, median
/// +12.4 MiB/h`, after the group's verdict.
fn groups_text(s: &mut String, groups: &[GroupReport], color: bool) {
    let by: Vec<&str> = groups
        .first()
        .map(|g| g.labels.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(s, "  {} groups by {}:", groups.len(), by.join(", "));
    for g in groups {
        let labels: Vec<String> = g
            .labels
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", escaped(k), escaped(v)))
            .collect();
        let median = match g.median_growth_bytes_per_s {
            Some(m) => format!("median {}", Quantity::Bytes.rate(m, "h")),
            None => "rate not yet known".to_string(),
        };
        let word = verdict_word(g.verdict, color);
        let pad = 13usize.saturating_sub(g.verdict.as_str().len());
        let _ = writeln!(
            s,
            "  {word}{:pad$} {}: {} of {} leaking, {median}",
            "",
            labels.join(", "),
            g.counts.leaking,
            g.series
        );
    }
}

/// Characters of a label name or value shown at most.
const LABEL_CHARS: usize = 80;

/// A label's name or value for a terminal, as in a PromQL string: `"` and
/// `\` escaped, control and invisible characters (an ESC that would clear
/// the screen, a newline that would fake a row) as `\x1b`, `\n`, `\u202e`;
/// cut to [`LABEL_CHARS`] characters.
fn escaped(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == LABEL_CHARS {
            out.push('…');
            break;
        }
        let _ = match c {
            '"' => write!(out, "\\\""),
            '\\' => write!(out, "\\\\"),
            '\n' => write!(out, "\\n"),
            '\r' => write!(out, "\\r"),
            '\t' => write!(out, "\\t"),
            c if (c as u32) < 0x80 && c.is_control() => write!(out, "\\x{:02x}", c as u32),
            // What Rust would not print as it is: C1 controls, bidi overrides,
            // zero-width and unassigned characters.
            c if c != '\'' && c.escape_debug().nth(1).is_some() => {
                if (c as u32) > 0xffff {
                    write!(out, "\\U{:08x}", c as u32)
                } else {
                    write!(out, "\\u{:04x}", c as u32)
                }
            }
            c => write!(out, "{c}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn labels_are_escaped_for_a_terminal() {
        assert_eq!(escaped("api-1"), "api-1");
        assert_eq!(escaped("a\x1b[2Jb\nc"), "a\\x1b[2Jb\\nc");
        assert_eq!(escaped("q\"\\'"), "q\\\"\\\\'");
        assert_eq!(escaped("\u{202e}é"), "\\u202eé");
        assert_eq!(escaped(&"x".repeat(500)).chars().count(), 81);
    }
}
