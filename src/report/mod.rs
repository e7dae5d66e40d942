//! The verdict as people and pipelines read it (`--format text|json`), and the
//! exit codes that go with it.

use crate::detector::{Verdict, VerdictKind};
use crate::judging::{Judge, Judged};
use crate::metrics;
use crate::units::Quantity;
use serde::Serialize;

pub mod prom;
mod reason;
pub mod repeat;
pub mod scan;
mod text;

pub use reason::{plural, reason};

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

/// `v` as pretty JSON ending with a newline. Reports have no maps with
/// non-string keys, so they always serialise.
pub(crate) fn json_text<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The rate with its 95% interval per hour (`+5.59 MiB/h (95% -624 KiB/h to
/// +11.8 MiB/h)`), or "rate not yet known" when no window was judged.
pub fn rate_text(v: &Verdict, q: Quantity) -> String {
    if !v.finding.rate_known() {
        return "rate not yet known".into();
    }
    format!(
        "{} (95% {} to {})",
        q.rate(v.rate, "h"),
        q.rate(v.rate_ci95[0], "h"),
        q.rate(v.rate_ci95[1], "h")
    )
}

/// When to colour the verdict word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that `is_terminal` or not.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// The verdict word, coloured for a terminal when `color`: red leaking,
/// green plateau, yellow inconclusive.
pub fn verdict_word(kind: VerdictKind, color: bool) -> String {
    if !color {
        return kind.as_str().to_string();
    }
    let code = match kind {
        VerdictKind::Leaking => "31",
        VerdictKind::Plateau => "32",
        VerdictKind::Inconclusive => "33",
    };
    format!("\x1b[1;{code}m{kind}\x1b[0m")
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

/// Everything the final report says; serialised as the JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `leaking`, `plateau` or `inconclusive`.
    pub verdict: VerdictKind,
    /// Samples seen, including any set aside as warm-up.
    pub samples: u64,
    /// Seconds from first to last sample of the judged watch.
    pub duration_s: f64,
    /// Whether a window was judged: else the rate and its interval are 0
    /// and mean nothing yet.
    pub rate_known: bool,
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
    /// On `leaking`: the one next command that finds where, for the
    /// target's runtime (Python, JVM, Node.js, Go, native).
    pub next_step: Option<String>,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
    /// The cgroup watched, as a path inside its hierarchy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// With `--follow`: how many times a new process took over; the verdict
    /// judges the current run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarts: Option<u32>,
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
    /// Whether a window was judged (else the rate is 0 and means nothing yet).
    pub rate_known: bool,
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
    /// A report of `v` on `column` (of `q`); the caller fills in the rest.
    pub fn new(v: &Verdict, column: &str, q: Quantity, min_rate: f64) -> Report {
        Report {
            verdict: v.kind,
            samples: v.samples,
            duration_s: round3(v.duration_s),
            rate_known: v.finding.rate_known(),
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
            reason: reason(v, q),
            column: column.to_string(),
            source: None,
            pid: None,
            set_aside: None,
            ended_by: None,
            target_exit: None,
            next_step: None,
            warnings: Vec::new(),
            cgroup: None,
            restarts: None,
            judge: column.to_string(),
            metrics: Vec::new(),
            limit_bytes: None,
            limit_source: None,
            time_to_limit_s: None,
            time_to_limit_ci95: None,
            counts: q == Quantity::Count,
            limit_series: None,
        }
    }

    /// The report on every series in `all`, with top-level fields for the one
    /// `judge` picks; returns it with the verdict behind the exit code.
    pub fn from_judged(
        all: &[Judged],
        judge: &Judge,
        min_rate: f64,
        limit: Option<(f64, String)>,
    ) -> (Report, VerdictKind) {
        let (top, exit_kind) = judge.pick(all);
        let top_min_rate = if top.counts {
            metrics::COUNT_MIN_RATE
        } else {
            min_rate
        };
        let q = Quantity::of(!top.counts);
        let mut r = Report::new(&top.verdict, &top.column, q, top_min_rate);
        r.judge = judge.name().to_string();
        for j in all {
            let v = &j.verdict;
            r.metrics.push((
                j.column.clone(),
                MetricReport {
                    verdict: v.kind,
                    unit: if j.counts { "count" } else { "bytes" },
                    rate_known: v.finding.rate_known(),
                    growth_rate_per_s: round3(v.rate),
                    growth_rate_ci95: [round3(v.rate_ci95[0]), round3(v.rate_ci95[1])],
                    baseline_start: v.baseline_start.round(),
                    baseline_end: v.baseline_end.round(),
                    window_s: round3(v.window_s()),
                    reason: reason(v, Quantity::of(!j.counts)),
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
        self.render_colored(format, false)
    }

    /// Renders the report in `format`, the verdict word coloured when `color`
    /// (text only).
    pub fn render_colored(&self, format: Format, color: bool) -> String {
        match format {
            Format::Json => json_text(self),
            Format::Text => text::text(self, color),
        }
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
    fn json_has_the_documented_fields() {
        let v = judge(
            DetectorConfig::default(),
            (0..100).map(|i| (i as f64, 1e6 + 1e4 * i as f64)),
        );
        let r = Report::new(&v, "rss_bytes", Quantity::Bytes, 1.0);
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
