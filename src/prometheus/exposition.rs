//! The exposition: the metrics leakwatch exposes for its targets, kept
//! current and rendered in the OpenMetrics or the classic text format. Every
//! family has a HELP line and a name `promtool check metrics` accepts; a
//! target's series go away together ([`Exposition::forget`]) when another
//! process takes its place.

use crate::detector::VerdictKind;
use crate::judging::{Judged, Judging};
use crate::metrics::{Metric, Reading};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// A label set: (name, value) pairs.
pub(super) type Labels = Vec<(String, String)>;
/// A family of float gauges.
pub(super) type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

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
}

/// The metrics leakwatch exposes, kept current by [`Exposition::update`] and
/// read by any number of scrapes.
#[derive(Debug)]
pub struct Exposition {
    registry: Registry,
    memory: Gauges,
    floor: Gauges,
    growth: Gauges,
    fds: Gauges,
    fds_growth: Gauges,
    threads: Gauges,
    threads_growth: Gauges,
    verdict: Gauges,
    time_to_limit: Gauges,
    up: Gauges,
    samples: Family<Labels, Counter>,
}

impl Default for Exposition {
    fn default() -> Self {
        Exposition::new()
    }
}

impl Exposition {
    /// The metrics, registered, with no values yet but the build's.
    pub fn new() -> Exposition {
        let mut registry = Registry::with_prefix("leakwatch");
        let mut gauges = |name: &str, help: &str| {
            let g = Gauges::default();
            registry.register(name, help, g.clone());
            g
        };
        let memory = gauges(
            "memory_bytes",
            "Memory of the target now, by metric (rss, vsz, pss, uss, swap)",
        );
        let floor = gauges(
            "floor_bytes",
            "The floor the detector judges: the fitted trend at the end of its window",
        );
        let growth = gauges(
            "growth_bytes_per_second",
            "Growth of the floor over the judged window, with its 95% interval (bound=lower|upper)",
        );
        let fds = gauges("fds", "Open file descriptors of the target now");
        let fds_growth = gauges(
            "fds_growth_per_second",
            "Growth of the open file descriptors over the judged window, with its 95% interval (bound=lower|upper)",
        );
        let threads = gauges("threads", "Threads of the target now");
        let threads_growth = gauges(
            "threads_growth_per_second",
            "Growth of the threads over the judged window, with its 95% interval (bound=lower|upper)",
        );
        let verdict = gauges(
            "verdict",
            "1 for the current verdict of a metric (leaking, plateau, inconclusive), 0 for the others",
        );
        let time_to_limit = gauges(
            "time_to_limit_seconds",
            "Seconds until the judged floor reaches the memory limit at its current rate",
        );
        let up = gauges("up", UP_HELP);
        register_build(&mut registry);
        let samples = Family::<Labels, Counter>::default();
        registry.register("samples", "Samples taken of the target", samples.clone());
        Exposition {
            registry,
            memory,
            floor,
            growth,
            fds,
            fds_growth,
            threads,
            threads_growth,
            verdict,
            time_to_limit,
            up,
            samples,
        }
    }

    /// What a finished watch leaves in the textfile: `leakwatch_up 0` (for
    /// `target`, if it had one) and nothing else, in the classic format.
    pub fn finished(target: Option<&TargetLabels>) -> String {
        let labels = target.map(TargetLabels::labels).unwrap_or_default();
        one_gauge("up", UP_HELP, &labels, 0.0)
    }

    /// The gauges of count metric `m` (fds, threads): now, and its growth.
    fn count_gauges(&self, m: Metric) -> Option<(&Gauges, &Gauges)> {
        match m {
            Metric::Fds => Some((&self.fds, &self.fds_growth)),
            Metric::Threads => Some((&self.threads, &self.threads_growth)),
            _ => None,
        }
    }

    /// Says whether `target` is watched now (`leakwatch_up` 1 or 0).
    pub fn set_up(&self, target: &TargetLabels, up: bool) {
        self.up
            .get_or_create(&target.labels())
            .set(if up { 1.0 } else { 0.0 });
    }

    /// Removes every series of `target` (a process another one replaced).
    pub fn forget(&self, target: &TargetLabels) {
        let base = target.labels();
        for m in Metric::ALL {
            let name = m.name();
            let lm = with(&base, &[("metric", name)]);
            self.memory.remove(&lm);
            self.floor.remove(&lm);
            for b in BOUNDS {
                self.growth
                    .remove(&with(&base, &[("metric", name), ("bound", b)]));
            }
            for k in VERDICTS {
                self.verdict
                    .remove(&with(&base, &[("metric", name), ("verdict", k.as_str())]));
            }
            if let Some((now, growth)) = self.count_gauges(m) {
                now.remove(&base);
                for b in BOUNDS {
                    growth.remove(&with(&base, &[("bound", b)]));
                }
            }
        }
        self.time_to_limit.remove(&base);
        self.up.remove(&base);
        self.samples.remove(&base);
    }

    /// The exposition now, in the OpenMetrics text format (what `/metrics`
    /// serves).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The exposition in the classic Prometheus text format, which
    /// node_exporter's textfile collector reads (see [`classic`]).
    pub fn render_classic(&self) -> String {
        classic(&self.render())
    }

    /// Counts the samples of `target`: `total` so far.
    pub fn count(&self, target: &TargetLabels, total: u64) {
        let c = self.samples.get_or_create(&target.labels());
        c.inc_by(total.saturating_sub(c.get()));
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
        let base = target.labels();
        // Each series' verdict, judged once for every metric and the limit.
        let judged = judging.judged();
        for (s, j) in judging.series().iter().zip(&judged) {
            let Some(m) = s.metric else { continue };
            let v = &j.verdict;
            let name = m.name();
            let rate_known = v.finding.rate_known();
            let bounds = BOUNDS
                .into_iter()
                .zip([v.rate, v.rate_ci95[0], v.rate_ci95[1]]);
            if let Some((now, growth)) = self.count_gauges(m) {
                now.get_or_create(&base).set(reading.get(m) as f64);
                for (bound, x) in bounds.filter(|_| rate_known) {
                    growth
                        .get_or_create(&with(&base, &[("bound", bound)]))
                        .set(x);
                }
            } else {
                let lm = with(&base, &[("metric", name)]);
                self.memory.get_or_create(&lm).set(reading.get(m) as f64);
                if rate_known {
                    self.floor.get_or_create(&lm).set(v.baseline_end);
                }
                for (bound, x) in bounds.filter(|_| rate_known) {
                    self.growth
                        .get_or_create(&with(&base, &[("metric", name), ("bound", bound)]))
                        .set(x);
                }
            }
            for k in VERDICTS {
                let on = if k == v.kind { 1.0 } else { 0.0 };
                self.verdict
                    .get_or_create(&with(&base, &[("metric", name), ("verdict", k.as_str())]))
                    .set(on);
            }
        }
        let shown = judged.iter().find(|j| j.column == judging.shown().column);
        self.update_limit(&base, shown, limit);
    }

    /// Time to the limit, for the judged byte series, while it grows towards it.
    fn update_limit(&self, base: &Labels, shown: Option<&Judged>, limit: Option<f64>) {
        let (Some(limit), Some(j)) = (limit, shown) else {
            return;
        };
        if j.quantity == crate::units::Quantity::Count {
            return;
        }
        match time_to_limit(&j.verdict, limit) {
            Some(t) => {
                self.time_to_limit.get_or_create(base).set(t);
            }
            None => {
                self.time_to_limit.remove(base);
            }
        }
    }
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
