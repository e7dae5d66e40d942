//! The exposition: the metrics leakwatch exposes for its targets, kept
//! current and rendered in the OpenMetrics or the classic text format. Every
//! family has a HELP line and a name `promtool check metrics` accepts; a
//! target's series go away together ([`Exposition::forget`]) when another
//! process takes its place.

use crate::detector::VerdictKind;
use crate::judging::{Judged, Judging};
use crate::metrics::{COUNT, Metric, Reading};
use crate::units::Quantity;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family as ClientFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// A label set: (name, value) pairs.
pub(super) type Labels = Vec<(String, String)>;
/// A family of float gauges.
pub(super) type Gauges = ClientFamily<Labels, Gauge<f64, AtomicU64>>;

/// The `bound` label of a growth series: the estimate and its 95% interval.
pub(super) const BOUNDS: [&str; 3] = ["estimate", "lower", "upper"];
/// The `verdict` label of a verdict series.
pub(super) const VERDICTS: [VerdictKind; 3] = [
    VerdictKind::Leaking,
    VerdictKind::Plateau,
    VerdictKind::Inconclusive,
];

/// The HELP of `leakwatch_up`.
const UP_HELP: &str =
    "1 while leakwatch watches the target; 0 in the textfile a finished watch leaves";

/// What `/metrics` serves: an exposition now, in either text format.
pub trait Scrape: Send + Sync + 'static {
    /// In the OpenMetrics text format.
    fn render(&self) -> String;
    /// In the classic text format.
    fn render_classic(&self) -> String;
}

impl Scrape for Exposition {
    fn render(&self) -> String {
        Exposition::render(self)
    }
    fn render_classic(&self) -> String {
        Exposition::render_classic(self)
    }
}

/// OpenMetrics text (as prometheus_client writes it) in the classic
/// Prometheus text format, which node_exporter's textfile collector reads:
/// a counter's HELP and TYPE name its `_total` series, and there is no
/// `# EOF`.
pub fn classic(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for l in openmetrics.lines().filter(|l| *l != "# EOF") {
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, l.strip_prefix(p)?)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let total = if counters.contains(&name) {
                    "_total"
                } else {
                    ""
                };
                out.push_str(&format!("{p}{name}{total} {tail}"));
            }
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

/// The classic text of one gauge, `leakwatch_<name>{labels} value`, alone
/// (what a finished watch or fleet leaves in its textfile).
pub(super) fn one_gauge(name: &str, help: &str, labels: &Labels, value: f64) -> String {
    let mut registry = Registry::with_prefix("leakwatch");
    let g = Gauges::default();
    registry.register(name, help, g.clone());
    g.get_or_create(labels).set(value);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    classic(&out)
}

/// Registers `leakwatch_build_info{version}` 1 in `registry`.
pub(super) fn register_build(registry: &mut Registry) {
    let build = Gauges::default();
    registry.register(
        "build_info",
        "The leakwatch build: 1, labelled with its version",
        build.clone(),
    );
    build
        .get_or_create(&vec![("version".into(), env!("LEAKWATCH_VERSION").into())])
        .set(1.0);
}

/// Seconds until the floor of `v` reaches `limit`, while it grows towards
/// it and its rate is known.
pub(super) fn time_to_limit(v: &crate::detector::Verdict, limit: f64) -> Option<f64> {
    let (t, _) = crate::report::time_to_limit(v.baseline_end, v.rate, v.rate_ci95, limit);
    t.filter(|_| v.finding.rate_known())
}

/// `base` with the `extra` labels after it.
pub(super) fn with(base: &Labels, extra: &[(&str, &str)]) -> Labels {
    let mut l = base.clone();
    l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    l
}

/// Who is watched: the labels on every series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLabels {
    /// The process.
    pub pid: u32,
    /// Its command, short.
    pub command: String,
    /// For a cgroup target, its path: labelled `cgroup`, without pid and command.
    pub cgroup: Option<String>,
}

impl TargetLabels {
    /// The labels on every series of this target.
    fn labels(&self) -> Labels {
        if let Some(c) = &self.cgroup {
            return vec![("cgroup".into(), c.clone())];
        }
        vec![
            ("pid".into(), self.pid.to_string()),
            ("command".into(), self.command.clone()),
        ]
    }

    /// The labels as a scrape writes them inside the braces:
    /// `pid="41",command="api"` (values escaped).
    fn written(&self) -> String {
        let mut out = String::new();
        for (k, v) in self.labels() {
            if !out.is_empty() {
                out.push(',');
            }
            push_label(&mut out, &k, &v);
        }
        out
    }
}

/// Appends `key="value"` to `out`, the value escaped as the text formats
/// want (`\\`, `\"`, `\n`).
fn push_label(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str("=\"");
    let mut last = 0;
    for (i, b) in value.bytes().enumerate() {
        let escaped = match b {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            b'\n' => "\\n",
            _ => continue,
        };
        out.push_str(&value[last..i]);
        out.push_str(escaped);
        last = i + 1;
    }
    out.push_str(&value[last..]);
    out.push('"');
}

/// The families of an [`Exposition`], in the order a scrape shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Memory,
    Floor,
    Growth,
    Count(Metric),
    CountGrowth(Metric),
    Verdict,
    TimeToLimit,
    Up,
    Build,
    Samples,
}

/// Each family with its name (after `leakwatch_`) and HELP.
const FAMILIES: [(Family, &str, &str); 12] = [
    (
        Family::Memory,
        "memory_bytes",
        "Memory of the target now, by metric (rss, vsz, pss, uss, swap)",
    ),
    (
        Family::Floor,
        "floor_bytes",
        "The floor the detector judges: the fitted trend at the end of its window",
    ),
    (
        Family::Growth,
        "growth_bytes_per_second",
        "Growth of the floor over the judged window, with its 95% interval (bound=lower|upper)",
    ),
    (
        Family::Count(Metric::Fds),
        "fds",
        "Open file descriptors of the target now",
    ),
    (
        Family::CountGrowth(Metric::Fds),
        "fds_growth_per_second",
        "Growth of the open file descriptors over the judged window, with its 95% interval (bound=lower|upper)",
    ),
    (
        Family::Count(Metric::Threads),
        "threads",
        "Threads of the target now",
    ),
    (
        Family::CountGrowth(Metric::Threads),
        "threads_growth_per_second",
        "Growth of the threads over the judged window, with its 95% interval (bound=lower|upper)",
    ),
    (
        Family::Verdict,
        "verdict",
        "1 for the current verdict of a metric (leaking, plateau, inconclusive), 0 for the others",
    ),
    (
        Family::TimeToLimit,
        "time_to_limit_seconds",
        "Seconds until the judged floor reaches the memory limit at its current rate",
    ),
    (Family::Up, "up", UP_HELP),
    (
        Family::Build,
        "build_info",
        "The leakwatch build: 1, labelled with its version",
    ),
    (Family::Samples, "samples", "Samples taken of the target"),
];

/// One target's series: its labels as written, and each value it has.
#[derive(Debug)]
struct Series {
    labels: String,
    up: Option<f64>,
    samples: Option<u64>,
    /// By metric: the value now, the floor, the growth (estimate, lower,
    /// upper) and the verdict.
    now: [Option<f64>; COUNT],
    floor: [Option<f64>; COUNT],
    growth: [Option<[f64; 3]>; COUNT],
    verdict: [Option<VerdictKind>; COUNT],
    time_to_limit: Option<f64>,
}

impl Series {
    fn new(labels: String) -> Series {
        Series {
            labels,
            up: None,
            samples: None,
            now: [None; COUNT],
            floor: [None; COUNT],
            growth: [None; COUNT],
            verdict: [None; COUNT],
            time_to_limit: None,
        }
    }
}

/// Writes series lines of one family into a scrape.
struct Lines<'a> {
    out: &'a mut String,
    name: &'a str,
    dtoa: dtoa::Buffer,
}

impl Lines<'_> {
    /// `leakwatch_<name>{labels,extra} value`.
    fn line(&mut self, labels: &str, extra: &[(&str, &str)], value: f64) {
        self.start(labels, extra);
        self.out.push_str(self.dtoa.format(value));
        self.out.push('\n');
    }

    /// The line up to its value, and the space before it.
    fn start(&mut self, labels: &str, extra: &[(&str, &str)]) {
        self.out.push_str("leakwatch_");
        self.out.push_str(self.name);
        if !labels.is_empty() || !extra.is_empty() {
            self.out.push('{');
            self.out.push_str(labels);
            for (i, (k, v)) in extra.iter().enumerate() {
                if i > 0 || !labels.is_empty() {
                    self.out.push(',');
                }
                push_label(self.out, k, v);
            }
            self.out.push('}');
        }
        self.out.push(' ');
    }

    /// The growth lines, one per bound.
    fn bounds(&mut self, labels: &str, metric: Option<&str>, g: &[f64; 3]) {
        for (b, x) in BOUNDS.into_iter().zip(g) {
            match metric {
                Some(m) => self.line(labels, &[("metric", m), ("bound", b)], *x),
                None => self.line(labels, &[("bound", b)], *x),
            }
        }
    }

    /// Family `f`'s lines for target `s`.
    fn series(&mut self, f: Family, s: &Series) {
        let bytes = Metric::ALL
            .into_iter()
            .filter(|m| m.quantity() == Quantity::Bytes);
        let l = s.labels.as_str();
        match f {
            Family::Memory | Family::Floor => {
                let v = if f == Family::Memory {
                    &s.now
                } else {
                    &s.floor
                };
                for m in bytes {
                    if let Some(x) = v[m.index()] {
                        self.line(l, &[("metric", m.name())], x);
                    }
                }
            }
            Family::Growth => {
                for m in bytes {
                    if let Some(g) = &s.growth[m.index()] {
                        self.bounds(l, Some(m.name()), g);
                    }
                }
            }
            Family::Count(m) => {
                if let Some(x) = s.now[m.index()] {
                    self.line(l, &[], x);
                }
            }
            Family::CountGrowth(m) => {
                if let Some(g) = &s.growth[m.index()] {
                    self.bounds(l, None, g);
                }
            }
            Family::Verdict => self.verdicts(s),
            Family::TimeToLimit => s
                .time_to_limit
                .into_iter()
                .for_each(|t| self.line(l, &[], t)),
            Family::Up => s.up.into_iter().for_each(|u| self.line(l, &[], u)),
            Family::Samples => {
                if let Some(n) = s.samples {
                    self.start(l, &[]);
                    // Writing to a String cannot fail.
                    let _ = writeln!(self.out, "{n}");
                }
            }
            Family::Build => {}
        }
    }

    /// The verdict lines of `s`: 1 for each metric's verdict, 0 for the others.
    fn verdicts(&mut self, s: &Series) {
        for m in Metric::ALL {
            let Some(kind) = s.verdict[m.index()] else {
                continue;
            };
            for k in VERDICTS {
                let on = if k == kind { 1.0 } else { 0.0 };
                self.line(
                    &s.labels,
                    &[("metric", m.name()), ("verdict", k.as_str())],
                    on,
                );
            }
        }
    }
}

/// The metrics leakwatch exposes, kept current by [`Exposition::update`] and
/// read by any number of scrapes. Each target's values are kept together
/// and written straight into the text (a scan's thousands of targets render
/// in milliseconds), family by family, targets in the order of their labels.
#[derive(Debug, Default)]
pub struct Exposition {
    targets: Mutex<BTreeMap<String, Series>>,
}

impl Exposition {
    /// The metrics, with no values yet but the build's.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// What a finished watch leaves in the textfile: `leakwatch_up 0` (for
    /// `target`, if it had one) and nothing else, in the classic format.
    pub fn finished(target: Option<&TargetLabels>) -> String {
        let labels = target.map(TargetLabels::labels).unwrap_or_default();
        one_gauge("up", UP_HELP, &labels, 0.0)
    }

    /// Runs `f` on the series of `target`, made if new.
    fn with_series(&self, target: &TargetLabels, f: impl FnOnce(&mut Series)) {
        let labels = target.written();
        let mut all = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        match all.get_mut(&labels) {
            Some(s) => f(s),
            None => f(all.entry(labels.clone()).or_insert(Series::new(labels))),
        }
    }

    /// Says whether `target` is watched now (`leakwatch_up` 1 or 0).
    pub fn set_up(&self, target: &TargetLabels, up: bool) {
        self.with_series(target, |s| s.up = Some(if up { 1.0 } else { 0.0 }));
    }

    /// Removes every series of `target` (a process another one replaced).
    pub fn forget(&self, target: &TargetLabels) {
        let mut all = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        all.remove(&target.written());
    }

    /// The exposition now, in the OpenMetrics text format (what `/metrics`
    /// serves).
    pub fn render(&self) -> String {
        self.write(false)
    }

    /// The exposition in the classic Prometheus text format, which
    /// node_exporter's textfile collector reads (see [`classic`]).
    pub fn render_classic(&self) -> String {
        self.write(true)
    }

    /// Every family with series, in either format: in the classic one a
    /// counter's HELP and TYPE name its `_total` series and there is no
    /// `# EOF`.
    fn write(&self, classic: bool) -> String {
        let all = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(4096 + all.len() * 1600);
        for (f, name, help) in FAMILIES {
            let head = out.len();
            let (kind, total) = match f {
                Family::Samples => ("counter", if classic { "_total" } else { "" }),
                _ => ("gauge", ""),
            };
            for meta in ["HELP", "TYPE"] {
                let tail = if meta == "HELP" { help } else { kind };
                let dot = if meta == "HELP" { "." } else { "" };
                // Writing to a String cannot fail.
                let _ = writeln!(out, "# {meta} leakwatch_{name}{total} {tail}{dot}");
            }
            let body = out.len();
            let mut lines = Lines {
                out: &mut out,
                name: if f == Family::Samples {
                    "samples_total"
                } else {
                    name
                },
                dtoa: dtoa::Buffer::new(),
            };
            if f == Family::Build {
                lines.line("", &[("version", env!("LEAKWATCH_VERSION"))], 1.0);
            }
            for s in all.values() {
                lines.series(f, s);
            }
            // A family with no series is left out.
            if out.len() == body {
                out.truncate(head);
            }
        }
        if !classic {
            out.push_str("# EOF\n");
        }
        out
    }

    /// Counts the samples of `target`: `total` so far.
    pub fn count(&self, target: &TargetLabels, total: u64) {
        self.with_series(target, |s| {
            s.samples = Some(s.samples.unwrap_or(0).max(total));
        });
    }

    /// Takes one sample of `target`: its reading now, the judging so far and,
    /// if there is one, the memory limit.
    pub fn update(
        &self,
        target: &TargetLabels,
        reading: &Reading,
        judging: &Judging,
        limit: Option<f64>,
    ) {
        // Each series' verdict, judged once for every metric and the limit.
        let judged = judging.judged();
        let shown = judged.iter().find(|j| j.column == judging.shown().column);
        let limit = limit_of(shown, limit);
        self.with_series(target, |s| {
            for (series, j) in judging.series().iter().zip(&judged) {
                let Some(m) = series.metric else { continue };
                let (i, v) = (m.index(), &j.verdict);
                s.now[i] = Some(reading.get(m) as f64);
                if v.finding.rate_known() {
                    if m.quantity() == Quantity::Bytes {
                        s.floor[i] = Some(v.baseline_end);
                    }
                    s.growth[i] = Some([v.rate, v.rate_ci95[0], v.rate_ci95[1]]);
                }
                s.verdict[i] = Some(v.kind);
            }
            if let Some(t) = limit {
                s.time_to_limit = t;
            }
        });
    }
}

/// What the time to the limit becomes for the judged series `shown`: set
/// (`Some(Some)`), removed (`Some(None)`: not growing towards it), or left
/// as it is (`None`: no limit, or a count series).
fn limit_of(shown: Option<&Judged>, limit: Option<f64>) -> Option<Option<f64>> {
    let (Some(limit), Some(j)) = (limit, shown) else {
        return None;
    };
    if j.quantity == Quantity::Count {
        return None;
    }
    Some(time_to_limit(&j.verdict, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DetectorConfig;
    use crate::judging::Judge;

    /// An exposition of `targets`, each judged on every metric over an hour
    /// of a steady climb, with a limit.
    fn exposed(targets: &[&TargetLabels]) -> Exposition {
        let expo = Exposition::new();
        let mut judging = Judging::new(DetectorConfig::default(), &Metric::ALL, None, Judge::Any);
        let mut r = Reading::default();
        for i in 0..3600 {
            for m in Metric::ALL {
                r.values[m.index()] = 50_000_000 + i * 1000 + m.index() as u64;
            }
            judging.push_reading(i as f64, &r);
        }
        for t in targets {
            expo.set_up(t, true);
            expo.count(t, 3600);
            expo.update(t, &r, &judging, Some(2e9));
        }
        expo
    }

    fn target(pid: u32) -> TargetLabels {
        TargetLabels {
            pid,
            command: "api".into(),
            cgroup: None,
        }
    }

    #[test]
    fn forget_removes_every_series_of_one_target() {
        let (a, b) = (target(41), target(42));
        let expo = exposed(&[&a, &b]);
        let before = expo.render_classic();
        for family in [
            "up",
            "memory_bytes",
            "floor_bytes",
            "growth_bytes_per_second",
            "fds",
            "threads",
            "fds_growth_per_second",
            "threads_growth_per_second",
            "verdict",
            "time_to_limit_seconds",
            "samples_total",
        ] {
            let series = format!("\nleakwatch_{family}{{pid=\"41\"");
            assert!(before.contains(&series), "{family}: {before}");
        }
        expo.forget(&a);
        let after = expo.render_classic();
        assert!(!after.contains("pid=\"41\""), "{after}");
        let kept = |text: &str| text.lines().filter(|l| l.contains("pid=\"42\"")).count();
        assert_eq!(kept(&after), kept(&before));
    }

    #[test]
    fn a_finished_file_holds_leakwatch_up_0_alone() {
        let t = target(7);
        let text = Exposition::finished(Some(&t));
        let samples: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            ["leakwatch_up{pid=\"7\",command=\"api\"} 0.0"],
            "{text}"
        );
        let text = Exposition::finished(None);
        let samples: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples, ["leakwatch_up 0.0"], "{text}");
        assert!(text.starts_with("# HELP leakwatch_up "), "{text}");
    }
}
