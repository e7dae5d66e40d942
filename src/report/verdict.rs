//! The verdict on one target's series, as a watch and `analyze` report it:
//! [`VerdictReport`] for the judged series (and every other one under
//! `metrics`), [`Report`] with what the watch or the log was.

use super::{Render, Style, reason, round3, text};
use crate::analyze::Analysis;
use crate::detector::{Verdict, VerdictKind};
use crate::discovery::{Limit, LimitSource};
use crate::judging::{Judge, Judged};
use crate::metrics;
use crate::units::Quantity;
use crate::watch::WatchOutcome;
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

/// The verdict and its numbers, for the series the judge rule picks, with
/// every judged series under `metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictReport {
    /// `leaking`, `plateau` or `inconclusive`: the verdict behind the exit code.
    pub verdict: VerdictKind,
    /// Samples seen, including any set aside as warm-up.
    pub samples: u64,
    /// Seconds from first to last sample of the judged watch.
    pub duration_s: f64,
    /// Whether a window was judged: else the rate and its interval are
    /// not known yet (`null`).
    pub rate_known: bool,
    /// Growth rate of the floor over the judged window, bytes per second;
    /// `None` (`null`) while it is not known.
    pub growth_rate_bytes_per_s: Option<f64>,
    /// 95% interval of the growth rate, bytes per second; `None` while the
    /// rate is not known.
    pub growth_rate_ci95: Option<[f64; 2]>,
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
    /// The metric behind the exit code: a column name, or `any`.
    pub judge: String,
    /// Every judged metric, keyed by log column, in column order.
    #[serde(serialize_with = "ordered_map")]
    pub metrics: Vec<(String, MetricReport)>,
    /// The memory limit compared against (bytes), from `--limit` or the cgroup.
    pub limit_bytes: Option<f64>,
    /// Where the limit came from: `--limit` or `cgroup memory.max`.
    pub limit_source: Option<String>,
    /// Seconds until the floor reaches the limit at the current rate; `null`
    /// when it is not growing towards it.
    pub time_to_limit_s: Option<f64>,
    /// 95% interval of `time_to_limit_s` (`null` bound: possibly never).
    pub time_to_limit_ci95: Option<[Option<f64>; 2]>,
    /// What the top-level series counts (text output wording only).
    #[serde(skip)]
    pub quantity: Quantity,
    /// The series compared with the limit, and its rate (text output only).
    #[serde(skip)]
    pub limit_series: Option<(String, f64)>,
}

/// One metric's verdict in the `metrics` object.
#[derive(Debug, Clone, Serialize)]
pub struct MetricReport {
    /// `leaking`, `plateau` or `inconclusive`.
    pub verdict: VerdictKind,
    /// `bytes` or `count`.
    pub unit: Quantity,
    /// Whether a window was judged (else the rate is not known yet: `null`).
    pub rate_known: bool,
    /// Growth rate of the floor, units per second; `None` while not known.
    pub growth_rate_per_s: Option<f64>,
    /// 95% interval of the growth rate; `None` while the rate is not known.
    pub growth_rate_ci95: Option<[f64; 2]>,
    /// Fitted floor at the start of the judged window.
    pub baseline_start: f64,
    /// Fitted floor at the end of the judged window.
    pub baseline_end: f64,
    /// The last sample's value.
    pub last: f64,
    /// Length of the judged window, seconds.
    pub window_s: f64,
    /// One sentence a person can check against a plot.
    pub reason: String,
}

/// Where a limit came from, in words.
fn limit_source(s: LimitSource) -> String {
    match s {
        LimitSource::Given => "--limit".into(),
        LimitSource::Cgroup(file) => format!("cgroup {file}"),
    }
}

/// The verdict's rate, once a window was judged (else it is not known).
fn known_rate(v: &Verdict) -> Option<f64> {
    v.finding.rate_known().then(|| round3(v.rate))
}

/// The rate's 95% interval, once a window was judged.
fn known_ci(v: &Verdict) -> Option<[f64; 2]> {
    v.finding
        .rate_known()
        .then(|| [round3(v.rate_ci95[0]), round3(v.rate_ci95[1])])
}

impl MetricReport {
    /// The report on one judged series.
    fn of(j: &Judged) -> MetricReport {
        let v = &j.verdict;
        MetricReport {
            verdict: v.kind,
            unit: j.quantity,
            rate_known: v.finding.rate_known(),
            growth_rate_per_s: known_rate(v),
            growth_rate_ci95: known_ci(v),
            baseline_start: v.baseline_start.round(),
            baseline_end: v.baseline_end.round(),
            last: v.last.round(),
            window_s: round3(v.window_s()),
            reason: reason(v, j.quantity),
        }
    }
}

impl VerdictReport {
    /// The report on every series in `all` (not empty), with the top-level
    /// fields of the one `judge` picks, judged with `min_rate` and compared
    /// with `limit`.
    pub fn new(
        all: &[Judged],
        judge: &Judge,
        min_rate: f64,
        limit: Option<Limit>,
    ) -> VerdictReport {
        let (top, kind) = judge.pick(all);
        let v = &top.verdict;
        let q = top.quantity;
        let min_rate = match q {
            Quantity::Count => metrics::COUNT_MIN_RATE,
            Quantity::Bytes => min_rate,
        };
        let mut r = VerdictReport {
            verdict: kind,
            samples: v.samples,
            duration_s: round3(v.duration_s),
            rate_known: v.finding.rate_known(),
            growth_rate_bytes_per_s: known_rate(v),
            growth_rate_ci95: known_ci(v),
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
            column: top.column.clone(),
            judge: judge.name().to_string(),
            metrics: all
                .iter()
                .map(|j| (j.column.clone(), MetricReport::of(j)))
                .collect(),
            limit_bytes: None,
            limit_source: None,
            time_to_limit_s: None,
            time_to_limit_ci95: None,
            quantity: q,
            limit_series: None,
        };
        if let Some(l) = limit {
            // The limit is in bytes: compare the judged byte series against it.
            let j = if q == Quantity::Count { &all[0] } else { top };
            r.set_limit(j, l);
        }
        r
    }

    /// When series `j` reaches limit `l`, while it grows towards it.
    fn set_limit(&mut self, j: &Judged, l: Limit) {
        let v = &j.verdict;
        self.limit_bytes = Some(l.bytes);
        self.limit_source = Some(limit_source(l.source));
        if v.kind == VerdictKind::Leaking || v.baseline_end >= l.bytes {
            let (t, ci) = super::time_to_limit(v.baseline_end, v.rate, v.rate_ci95, l.bytes);
            self.time_to_limit_s = t.map(round3);
            self.time_to_limit_ci95 = Some(ci.map(|x| x.map(round3)));
        }
        self.limit_series = Some((j.column.clone(), v.rate));
    }
}

/// A watch's or a log's report: the verdict, and what was watched or read.
/// The same fields for `analyze` and a live watch.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The verdict and its numbers.
    #[serde(flatten)]
    pub verdict: VerdictReport,
    /// The log read (analyze) or written (watch), if any.
    pub source: Option<String>,
    /// The PID of the judged process.
    pub pid: Option<u64>,
    /// Its command line, when watched live (a scan's target has its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
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
}

impl Report {
    /// A report of `verdict` with nothing known of its source yet.
    pub fn of(verdict: VerdictReport) -> Report {
        Report {
            verdict,
            source: None,
            pid: None,
            command: None,
            set_aside: None,
            ended_by: None,
            target_exit: None,
            next_step: None,
            warnings: Vec::new(),
            cgroup: None,
            restarts: None,
        }
    }
}

impl From<&WatchOutcome> for Report {
    fn from(o: &WatchOutcome) -> Report {
        let v = VerdictReport::new(&o.judged, &o.judge, o.detector.min_rate, o.limit);
        Report {
            source: o.log.as_ref().map(|p| p.display().to_string()),
            pid: o.pid.map(u64::from),
            command: o.command.clone(),
            set_aside: o.set_aside.clone(),
            ended_by: Some(o.ended_by.clone()),
            target_exit: o.target_exit.clone(),
            next_step: o.next_step.clone(),
            warnings: o.warnings.clone(),
            cgroup: o.cgroup.clone(),
            restarts: o.restarts,
            ..Report::of(v)
        }
    }
}

impl From<&Analysis> for Report {
    fn from(a: &Analysis) -> Report {
        let limit = a.limit.map(|bytes| Limit {
            bytes,
            source: LimitSource::Given,
        });
        let v = VerdictReport::new(&a.judged, &a.judge, a.detector.min_rate, limit);
        Report {
            source: Some(a.source.clone()),
            pid: a.pid,
            set_aside: a.set_aside.clone(),
            warnings: a.warnings.clone(),
            ..Report::of(v)
        }
    }
}

impl Render for Report {
    fn text(&self, style: &Style) -> String {
        text::text(self, style.color)
    }

    fn verdict(&self) -> VerdictKind {
        self.verdict.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{DetectorConfig, judge};
    use crate::report::Format;

    #[test]
    fn json_has_the_documented_fields() {
        let v = judge(
            DetectorConfig::default(),
            (0..100).map(|i| (i as f64, 1e6 + 1e4 * i as f64)),
        );
        let judged = [Judged {
            column: "rss_bytes".into(),
            quantity: Quantity::Bytes,
            verdict: v,
        }];
        let r = Report::of(VerdictReport::new(
            &judged,
            &Judge::Column("rss_bytes".into()),
            1.0,
            None,
        ));
        let j: serde_json::Value =
            serde_json::from_str(&r.render(Format::Json, &Style::default())).unwrap();
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
            "metrics",
            "ended_by",
        ] {
            assert!(j.get(k).is_some(), "missing {k}");
        }
        assert_eq!(j["verdict"], "leaking");
        assert!(
            r.render(Format::Text, &Style::default())
                .starts_with("leaking\n")
        );
    }
}
