//! The verdict as people and pipelines read it (`--format text|json`), and the
//! exit codes that go with it.

use crate::detector::{Verdict, VerdictKind};
use crate::metrics;
use crate::units::{format_bytes, format_rate, format_secs};
use serde::Serialize;

/// Serialises pairs as a JSON object, keeping their order.
fn ordered_map<S: serde::Serializer>(
    pairs: &[(String, MetricReport)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

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
    /// Why a live watch ended (`duration`, `sample count`, `target exited`,
    /// `interrupted (SIGINT)`, `terminated (SIGTERM)`, `hung up (SIGHUP)`, `write error`).
    pub ended_by: Option<String>,
    /// How the started command ended, for `-- CMD`.
    pub target_exit: Option<String>,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
    /// The metric behind the exit code: a column name, or `any`.
    pub judge: String,
    /// Every judged metric, keyed by log column, in column order.
    #[serde(serialize_with = "ordered_map")]
    pub metrics: Vec<(String, MetricReport)>,
    /// The memory limit compared against (bytes), from `--limit` or the cgroup.
    pub limit_bytes: Option<f64>,
    /// The top-level series counts things (text output wording only).
    #[serde(skip)]
    pub counts: bool,
    /// The series compared with the limit, and its rate (text output only).
    #[serde(skip)]
    pub limit_series: Option<(String, f64)>,
    /// Where the limit came from: `--limit` or `cgroup memory.max`.
    pub limit_source: Option<String>,
    /// Seconds until the floor reaches the limit at the current rate; `null`
    /// when it is not growing towards it.
    pub time_to_limit_s: Option<f64>,
    /// 95% interval of `time_to_limit_s` (`null` bound: possibly never).
    pub time_to_limit_ci95: Option<[Option<f64>; 2]>,
}

/// One metric's verdict in the `metrics` object.
#[derive(Debug, Clone, Serialize)]
pub struct MetricReport {
    /// `leaking`, `plateau` or `inconclusive`.
    pub verdict: VerdictKind,
    /// `bytes` or `count`.
    pub unit: &'static str,
    /// Growth rate of the floor, units per second.
    pub growth_rate_per_s: f64,
    /// 95% interval of the growth rate.
    pub growth_rate_ci95: [f64; 2],
    /// Fitted floor at the start of the judged window.
    pub baseline_start: f64,
    /// Fitted floor at the end of the judged window.
    pub baseline_end: f64,
    /// Length of the judged window, seconds.
    pub window_s: f64,
    /// One sentence a person can check against a plot.
    pub reason: String,
}

/// One judged series: its column, whether it counts things, its verdict.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The log column.
    pub column: String,
    /// Counts (fds, threads), not bytes.
    pub counts: bool,
    /// The detector's verdict.
    pub verdict: Verdict,
}

/// Which judged series decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JudgeSpec {
    /// The series in this column.
    Column(String),
    /// Any series that leaks.
    Any,
}

impl JudgeSpec {
    /// The judged series for the top-level fields (for `Any`: the first that
    /// leaks, else the first) and the verdict behind the exit code.
    pub fn pick<'a>(&self, all: &'a [Judged]) -> (&'a Judged, VerdictKind) {
        match self {
            JudgeSpec::Column(c) => {
                let j = all.iter().find(|j| &j.column == c).unwrap_or(&all[0]);
                (j, j.verdict.kind)
            }
            JudgeSpec::Any => {
                if let Some(j) = all.iter().find(|j| j.verdict.kind == VerdictKind::Leaking) {
                    (j, VerdictKind::Leaking)
                } else if all
                    .iter()
                    .any(|j| j.verdict.kind == VerdictKind::Inconclusive)
                {
                    (&all[0], VerdictKind::Inconclusive)
                } else {
                    (&all[0], all[0].verdict.kind)
                }
            }
        }
    }

    /// The name shown in output.
    pub fn name(&self) -> String {
        match self {
            JudgeSpec::Column(c) => c.clone(),
            JudgeSpec::Any => "any".into(),
        }
    }
}

/// When a floor at `floor` growing at `rate` (95% `[lo, hi]`) reaches `limit`:
/// (estimate, [earliest, latest]) in seconds; `None` where it never does.
pub fn time_to_limit(
    floor: f64,
    rate: f64,
    ci: [f64; 2],
    limit: f64,
) -> (Option<f64>, [Option<f64>; 2]) {
    let room = limit - floor;
    if room <= 0.0 {
        return (Some(0.0), [Some(0.0), Some(0.0)]);
    }
    let t = |r: f64| (r > 0.0).then(|| room / r);
    (t(rate), [t(ci[1]), t(ci[0])])
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
            judge: column.to_string(),
            metrics: Vec::new(),
            limit_bytes: None,
            limit_source: None,
            time_to_limit_s: None,
            time_to_limit_ci95: None,
            counts: false,
            limit_series: None,
        }
    }

    /// The report on every series in `all`, with top-level fields for the one
    /// `judge` picks; returns it with the verdict behind the exit code.
    pub fn from_judged(
        all: &[Judged],
        judge: &JudgeSpec,
        min_rate: f64,
        limit: Option<(f64, String)>,
    ) -> (Report, VerdictKind) {
        let (top, exit_kind) = judge.pick(all);
        let top_min_rate = if top.counts {
            metrics::COUNT_MIN_RATE
        } else {
            min_rate
        };
        let mut r = Report::new(&top.verdict, &top.column, top_min_rate);
        r.judge = judge.name();
        r.counts = top.counts;
        for j in all {
            let v = &j.verdict;
            r.metrics.push((
                j.column.clone(),
                MetricReport {
                    verdict: v.kind,
                    unit: if j.counts { "count" } else { "bytes" },
                    growth_rate_per_s: round3(v.rate),
                    growth_rate_ci95: [round3(v.rate_ci95[0]), round3(v.rate_ci95[1])],
                    baseline_start: v.baseline_start.round(),
                    baseline_end: v.baseline_end.round(),
                    window_s: round3(v.window_s()),
                    reason: v.reason.clone(),
                },
            ));
        }
        if let Some((limit, source)) = limit {
            // The limit is in bytes: compare the judged byte series against it.
            let j = if top.counts { &all[0] } else { top };
            let v = &j.verdict;
            r.limit_bytes = Some(limit);
            r.limit_source = Some(source);
            if v.kind == VerdictKind::Leaking || v.baseline_end >= limit {
                let (t, ci) = time_to_limit(v.baseline_end, v.rate, v.rate_ci95, limit);
                r.time_to_limit_s = t.map(round3);
                r.time_to_limit_ci95 = Some(ci.map(|x| x.map(round3)));
            }
            r.limit_series = Some((j.column.clone(), v.rate));
        }
        (r, exit_kind)
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
        let bytes = !self.counts;
        let rate = |r: f64, u: &str| metrics::format_rate(bytes, r, u);
        let value = |v: f64| metrics::format_value(bytes, v);
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.verdict);
        if self.window_s > 0.0 {
            let r = self.growth_rate_bytes_per_s;
            let [lo, hi] = self.growth_rate_ci95;
            let _ = writeln!(
                s,
                "  rate:      {} ({}); 95% interval {} to {}",
                rate(r, "min"),
                rate(r, "h"),
                rate(lo, "h"),
                rate(hi, "h")
            );
            let _ = writeln!(
                s,
                "  baseline:  {} -> {} ({})",
                value(self.baseline_start_bytes),
                value(self.baseline_end_bytes),
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
        if let Some(limit) = self.limit_bytes {
            let (col, r) = self.limit_series.clone().unwrap_or_default();
            let at = format!("at {}", format_rate(r, "h"));
            let text = match (self.time_to_limit_s, self.time_to_limit_ci95) {
                (Some(t), _) if t <= 0.0 => format!("{col} is at or over the limit"),
                (Some(t), Some([a, b])) => format!(
                    "{at}, {col} reaches {} in about {} ({} to {})",
                    format_bytes(limit),
                    format_secs(t),
                    a.map(format_secs).unwrap_or_else(|| "?".into()),
                    b.map(format_secs).unwrap_or_else(|| "never".into())
                ),
                _ => format!(
                    "{col} is not growing towards {}: it won't reach it at the current rate",
                    format_bytes(limit)
                ),
            };
            let src = self.limit_source.as_deref().unwrap_or("");
            let _ = writeln!(s, "  limit:     {text} ({src})");
        }
        if self.metrics.len() > 1 {
            let _ = writeln!(s, "  metrics:   (judged: {})", self.judge);
            for (col, m) in &self.metrics {
                let b = m.unit == "bytes";
                let _ = writeln!(
                    s,
                    "    {col:<11} {:<13} {:>14}  now {}",
                    m.verdict.as_str(),
                    metrics::format_rate(b, m.growth_rate_per_s, "h"),
                    metrics::format_value(b, m.baseline_end)
                );
            }
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
