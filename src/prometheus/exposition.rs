//! The exposition: the metrics leakwatch exposes for its targets, kept
//! current and rendered in the OpenMetrics or the classic text format.

use crate::detector::VerdictKind;
use crate::judging::{Judged, Judging};
use crate::metrics::Reading;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// A label set: (name, value) pairs.
type Labels = Vec<(String, String)>;
/// A family of float gauges.
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// Who is watched: the labels on every series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLabels {
    /// The process.
    pub pid: u32,
    /// Its command, short.
    pub command: String,
}

impl TargetLabels {
    /// The labels on every series of this target.
    fn labels(&self) -> Labels {
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
    count: Gauges,
    count_growth: Gauges,
    verdict: Gauges,
    time_to_limit: Gauges,
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
        let count = gauges("count", "Counts of the target now (fds, threads)");
        let count_growth = gauges(
            "count_growth_per_second",
            "Growth of a count over the judged window, with its 95% interval",
        );
        let verdict = gauges(
            "verdict",
            "1 for the current verdict of a metric (leaking, plateau, inconclusive), 0 for the others",
        );
        let time_to_limit = gauges(
            "time_to_limit_seconds",
            "Seconds until the judged floor reaches the memory limit at its current rate",
        );
        let build = gauges(
            "build_info",
            "The leakwatch build: 1, labelled with its version",
        );
        build
            .get_or_create(&vec![("version".into(), env!("LEAKWATCH_VERSION").into())])
            .set(1.0);
        let samples = Family::<Labels, Counter>::default();
        registry.register("samples", "Samples taken of the target", samples.clone());
        Exposition {
            registry,
            memory,
            floor,
            growth,
            count,
            count_growth,
            verdict,
            time_to_limit,
            samples,
        }
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
    /// node_exporter's textfile collector reads: the counter's HELP and TYPE
    /// name its `_total` series, and there is no `# EOF`.
    pub fn render_classic(&self) -> String {
        self.render()
            .lines()
            .filter(|l| *l != "# EOF")
            .map(|l| match l {
                "# TYPE leakwatch_samples counter" => {
                    "# TYPE leakwatch_samples_total counter".into()
                }
                _ if l.starts_with("# HELP leakwatch_samples ") => {
                    l.replacen("leakwatch_samples ", "leakwatch_samples_total ", 1)
                }
                _ => l.to_string(),
            })
            .map(|l| l + "\n")
            .collect()
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
        let with = |extra: &[(&str, &str)]| -> Labels {
            let mut l = base.clone();
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            l
        };
        // Each series' verdict, judged once for every metric and the limit.
        let judged = judging.judged();
        for (s, j) in judging.series().iter().zip(&judged) {
            let Some(m) = s.metric else { continue };
            let v = &j.verdict;
            let name = m.name();
            let (now, floor_or_count, growth) = if m.is_bytes() {
                (&self.memory, Some(&self.floor), &self.growth)
            } else {
                (&self.count, None, &self.count_growth)
            };
            now.get_or_create(&with(&[("metric", name)]))
                .set(reading.get(m) as f64);
            if v.finding.rate_known() {
                if let Some(f) = floor_or_count {
                    f.get_or_create(&with(&[("metric", name)]))
                        .set(v.baseline_end);
                }
                for (bound, x) in [
                    ("estimate", v.rate),
                    ("lower", v.rate_ci95[0]),
                    ("upper", v.rate_ci95[1]),
                ] {
                    growth
                        .get_or_create(&with(&[("metric", name), ("bound", bound)]))
                        .set(x);
                }
            }
            for k in [
                VerdictKind::Leaking,
                VerdictKind::Plateau,
                VerdictKind::Inconclusive,
            ] {
                let on = if k == v.kind { 1.0 } else { 0.0 };
                self.verdict
                    .get_or_create(&with(&[("metric", name), ("verdict", k.as_str())]))
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
        let v = &j.verdict;
        let (t, _) = crate::report::time_to_limit(v.baseline_end, v.rate, v.rate_ci95, limit);
        match t {
            Some(t) if v.finding.rate_known() => {
                self.time_to_limit.get_or_create(base).set(t);
            }
            _ => {
                self.time_to_limit.remove(base);
            }
        }
    }
}
