//! The verdict as people and pipelines read it (`--format text|json`), and the
//! exit codes that go with it.

use crate::detector::{Verdict, VerdictKind};
use crate::units::{format_bytes, format_rate, format_secs};
use serde::Serialize;

/// Output format of the final verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The verdict on the first line, then details for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// leakwatch's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success (and, without `--fail-on-leak`, any verdict).
    Success = 0,
    /// With `--fail-on-leak`: the verdict is `leaking`.
    Leaking = 1,
    /// Bad input, a missing process, an unwritable log: any error.
    Error = 2,
    /// With `--fail-on-leak`: the verdict is `inconclusive`.
    Inconclusive = 3,
}

impl ExitCode {
    /// The exit code for `verdict`, given `--fail-on-leak`.
    pub fn for_verdict(kind: VerdictKind, fail_on_leak: bool) -> ExitCode {
        match (fail_on_leak, kind) {
            (true, VerdictKind::Leaking) => ExitCode::Leaking,
            (true, VerdictKind::Inconclusive) => ExitCode::Inconclusive,
            _ => ExitCode::Success,
        }
    }
}

/// Everything the final report says; serialised as the JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `leaking`, `plateau` or `inconclusive`.
    pub verdict: VerdictKind,
    /// Samples seen, including any set aside as warm-up.
    pub samples: u64,
    /// Seconds from first to last sample of the judged watch.
    pub duration_s: f64,
    /// Growth rate of the floor over the judged window, bytes per second.
    pub growth_rate_bytes_per_s: f64,
    /// 95% interval of the growth rate, bytes per second.
    pub growth_rate_ci95: [f64; 2],
    /// Fitted floor at the start of the judged window, bytes.
    pub baseline_start_bytes: f64,
    /// Fitted floor at the end of the judged window, bytes.
    pub baseline_end_bytes: f64,
    /// Length of the judged window, seconds.
    pub window_s: f64,
    /// Start of the judged window, seconds since the first sample.
    pub window_start_s: f64,
    /// End of the judged window, seconds since the first sample.
    pub window_end_s: f64,
    /// Seconds set aside at the start as warm-up.
    pub warmup_s: f64,
    /// Width of the blocks whose minima form the judged floor, seconds.
    pub floor_block_s: f64,
    /// Period of a regular swing (GC sawtooth) found, seconds.
    pub gc_period_s: Option<f64>,
    /// For `inconclusive`: about how much longer to watch, seconds.
    pub watch_more_s: Option<f64>,
    /// Growth slower than this counts as plateau, bytes per second.
    pub min_rate_bytes_per_s: f64,
    /// One sentence a person can check against a plot.
    pub reason: String,
    /// The column judged.
    pub column: String,
    /// The log read (analyze) or written (watch), if any.
    pub source: Option<String>,
    /// The PID of the judged process.
    pub pid: Option<u64>,
    /// Earlier watches set aside or appended runs joined, in words.
    pub set_aside: Option<String>,
    /// Why a live watch ended (`duration`, `samples`, `target exited`, `interrupted`, `terminated`, `write error`).
    pub ended_by: Option<String>,
    /// How the started command ended, for `-- CMD`.
    pub target_exit: Option<String>,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
}

impl Report {
    /// A report of `v` on `column`; the caller fills in the rest.
    pub fn new(v: &Verdict, column: &str, min_rate: f64) -> Report {
        Report {
            verdict: v.kind,
            samples: v.samples,
            duration_s: round3(v.duration_s),
            growth_rate_bytes_per_s: round3(v.rate),
            growth_rate_ci95: [round3(v.rate_ci95[0]), round3(v.rate_ci95[1])],
            baseline_start_bytes: v.baseline_start.round(),
            baseline_end_bytes: v.baseline_end.round(),
            window_s: round3(v.window_s()),
            window_start_s: round3(v.window_start_s),
            window_end_s: round3(v.window_end_s),
            warmup_s: round3(v.warmup_s),
            floor_block_s: round3(v.block_s),
            gc_period_s: v.period_s.map(round3),
            watch_more_s: v.watch_more_s.map(round3),
            min_rate_bytes_per_s: round3(min_rate),
            reason: v.reason.clone(),
            column: column.to_string(),
            source: None,
            pid: None,
            set_aside: None,
            ended_by: None,
            target_exit: None,
            warnings: Vec::new(),
        }
    }

    /// Renders the report in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self).expect("report serialises");
                s.push('\n');
                s
            }
            Format::Text => self.text(),
        }
    }

    fn text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.verdict);
        let unit = if self.column.ends_with("_bytes") || self.column.is_empty() {
            ""
        } else {
            " (column values, shown as bytes)"
        };
        if self.window_s > 0.0 {
            let r = self.growth_rate_bytes_per_s;
            let [lo, hi] = self.growth_rate_ci95;
            let _ = writeln!(
                s,
                "  rate:      {} ({}); 95% interval {} to {}{unit}",
                format_rate(r, "min"),
                format_rate(r, "h"),
                format_rate(lo, "h"),
                format_rate(hi, "h")
            );
            let _ = writeln!(
                s,
                "  baseline:  {} -> {} ({})",
                format_bytes(self.baseline_start_bytes),
                format_bytes(self.baseline_end_bytes),
                self.column
            );
            let _ = writeln!(
                s,
                "  window:    last {} ({} to {}); first {} set aside as warm-up",
                format_secs(self.window_s),
                format_secs(self.window_start_s),
                format_secs(self.window_end_s),
                format_secs(self.warmup_s)
            );
        }
        let _ = writeln!(
            s,
            "  samples:   {} over {}",
            self.samples,
            format_secs(self.duration_s)
        );
        let _ = writeln!(s, "  reason:    {}", self.reason);
        if let Some(w) = self.watch_more_s {
            let _ = writeln!(s, "  next:      watch about {} longer", format_secs(w));
        }
        if let Some(a) = &self.set_aside {
            let _ = writeln!(s, "  set aside: {a}");
        }
        if let Some(e) = &self.ended_by {
            let _ = writeln!(s, "  ended by:  {e}");
        }
        if let Some(e) = &self.target_exit {
            let _ = writeln!(s, "  target:    {e}");
        }
        s
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{DetectorConfig, judge};

    #[test]
    fn exit_codes() {
        use VerdictKind::*;
        assert_eq!(ExitCode::for_verdict(Leaking, false), ExitCode::Success);
        assert_eq!(ExitCode::for_verdict(Leaking, true), ExitCode::Leaking);
        assert_eq!(
            ExitCode::for_verdict(Inconclusive, true),
            ExitCode::Inconclusive
        );
        assert_eq!(ExitCode::for_verdict(Plateau, true), ExitCode::Success);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v = judge(
            DetectorConfig::default(),
            (0..100).map(|i| (i as f64, 1e6 + 1e4 * i as f64)),
        );
        let r = Report::new(&v, "rss_bytes", 1.0);
        let j: serde_json::Value = serde_json::from_str(&r.render(Format::Json)).unwrap();
        for k in [
            "verdict",
            "samples",
            "duration_s",
            "growth_rate_bytes_per_s",
            "growth_rate_ci95",
            "baseline_start_bytes",
            "baseline_end_bytes",
            "window_s",
            "reason",
        ] {
            assert!(j.get(k).is_some(), "missing {k}");
        }
        assert_eq!(j["verdict"], "leaking");
        assert!(r.render(Format::Text).starts_with("leaking\n"));
    }
}
