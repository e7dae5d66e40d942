//! The exposition of `fleet`: each judged series' verdict, growth and time
//! to its limit, labelled with the series' own labels; with `--by`, each
//! group's counts, rates and verdict; and the passes' own health. It is
//! rendered once a pass and scrapes take the text as it is, so it holds the
//! last good pass and nothing older: a series that vanished is gone with
//! the pass that no longer saw it.
//!
//! A series label that is one of leakwatch's own (`verdict`, `bound`,
//! `quantile`) is kept as `exported_<name>`, as Prometheus does on a
//! scrape; `__name__` is dropped.

use super::exposition::{
    BOUNDS, Gauges, Labels, Scrape, VERDICTS, classic, one_gauge, register_build, time_to_limit,
    with,
};
use super::groups::{Group, group};
use super::query::SeriesVerdict;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Labels leakwatch adds to a series of the fleet: a series' own label of
/// one of these names is exported as `exported_<name>`.
const OURS: [&str; 3] = ["verdict", "bound", "quantile"];
/// The HELP of `leakwatch_fleet_up`.
const UP_HELP: &str = "1 while leakwatch fleet runs; 0 in the textfile it leaves when it ends";

/// One good pass: every series judged, and what is known of its limit.
#[derive(Debug, Clone, Default)]
pub struct Pass {
    /// Every series the query returned, judged.
    pub series: Vec<SeriesVerdict>,
    /// Each series' memory limit, bytes, where one is known (same order).
    pub limits: Vec<Option<f64>>,
    /// When the pass ended, seconds since the epoch.
    pub at: f64,
    /// How long it took, seconds.
    pub duration_s: f64,
}

/// The text a scrape gets, in both formats.
#[derive(Debug, Default)]
struct Texts {
    openmetrics: String,
    classic: String,
}

/// The fleet's exposition as of its last publication.
#[derive(Debug, Default)]
pub struct FleetExposition {
    texts: Mutex<Arc<Texts>>,
}

impl Scrape for FleetExposition {
    fn render(&self) -> String {
        self.current().openmetrics.clone()
    }
    fn render_classic(&self) -> String {
        self.current().classic.clone()
    }
}

impl FleetExposition {
    /// An exposition with no pass yet.
    pub fn new() -> FleetExposition {
        let e = FleetExposition::default();
        e.publish(None, &[], 0);
        e
    }

    fn current(&self) -> Arc<Texts> {
        match self.texts.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Makes `pass` (the last good one, if any), grouped by `by`, with
    /// `errors` failed passes so far, what scrapes get.
    pub fn publish(&self, pass: Option<&Pass>, by: &[String], errors: u64) {
        let openmetrics = render(pass, by, errors);
        let texts = Arc::new(Texts {
            classic: classic(&openmetrics),
            openmetrics,
        });
        match self.texts.lock() {
            Ok(mut t) => *t = texts,
            Err(poisoned) => *poisoned.into_inner() = texts,
        }
    }

    /// What an ended fleet leaves in the textfile: `leakwatch_fleet_up 0`
    /// alone, in the classic format.
    pub fn finished() -> String {
        one_gauge("fleet_up", UP_HELP, &Vec::new(), 0.0)
    }
}

/// The families of a fleet, registered.
struct Families {
    verdict: Gauges,
    growth: Gauges,
    time_to_limit: Gauges,
    group_series: Gauges,
    group_verdict: Gauges,
    last_pass: Gauges,
    duration: Gauges,
    series: Gauges,
    up: Gauges,
    errors: prometheus_client::metrics::family::Family<Labels, Counter>,
}

impl Families {
    fn new(registry: &mut Registry, grouped: bool) -> Families {
        let mut g = |name: &str, help: &str| {
            let f = Gauges::default();
            registry.register(name, help, f.clone());
            f
        };
        let verdict = g(
            "fleet_verdict",
            "1 for the current verdict of a series (leaking, plateau, inconclusive), 0 for the others",
        );
        let growth = g(
            "fleet_growth_bytes_per_second",
            "Growth of a series' floor over the range, with its 95% interval (bound=lower|upper)",
        );
        let time_to_limit = g(
            "fleet_time_to_limit_seconds",
            "Seconds until a series' floor reaches its memory limit at its current rate",
        );
        let (group_series, group_verdict) = if grouped {
            (
                g(
                    "fleet_group_series",
                    "Series of a group (--by) in each verdict",
                ),
                g(
                    "fleet_group_verdict",
                    "1 for a group's verdict (leaking when a majority of its decided series leak), 0 for the others",
                ),
            )
        } else {
            Default::default()
        };
        let last_pass = g(
            "fleet_last_pass_timestamp_seconds",
            "When the last good pass ended, seconds since the epoch",
        );
        let duration = g(
            "fleet_pass_duration_seconds",
            "How long the last good pass took, seconds",
        );
        let series = g("fleet_series", "Series judged in the last good pass");
        let up = g("fleet_up", UP_HELP);
        let errors = Default::default();
        registry.register(
            "fleet_query_errors",
            "Passes that failed (server down, PromQL error): the last good verdicts stay",
            prometheus_client::metrics::family::Family::clone(&errors),
        );
        Families {
            verdict,
            growth,
            time_to_limit,
            group_series,
            group_verdict,
            last_pass,
            duration,
            series,
            up,
            errors,
        }
    }
}

/// The OpenMetrics text of `pass`, grouped by `by`, with `errors`.
fn render(pass: Option<&Pass>, by: &[String], errors: u64) -> String {
    let mut registry = Registry::with_prefix("leakwatch");
    let f = Families::new(&mut registry, !by.is_empty());
    register_build(&mut registry);
    f.up.get_or_create(&Vec::new()).set(1.0);
    f.errors.get_or_create(&Vec::new()).inc_by(errors);
    let mut groups = Vec::new();
    if let Some(p) = pass {
        series_families(&f, p);
        if !by.is_empty() {
            groups = group(&p.series, by);
            group_families(&f, &groups);
        }
        f.last_pass.get_or_create(&Vec::new()).set(p.at);
        f.duration.get_or_create(&Vec::new()).set(p.duration_s);
        f.series
            .get_or_create(&Vec::new())
            .set(p.series.len() as f64);
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    if !by.is_empty() {
        // prometheus_client has no summary: the rates' quantiles go in
        // before the end, written here.
        if let Some(body) = out.strip_suffix("# EOF\n") {
            out.truncate(body.len());
        }
        growth_summary(&mut out, &groups);
        out.push_str("# EOF\n");
    }
    out
}

/// The summary `leakwatch_fleet_group_growth_bytes_per_second` of each
/// group's growth rates: its median and 90th percentile (`quantile`), and
/// the count and sum of the rates known.
fn growth_summary(out: &mut String, groups: &[Group]) {
    use std::fmt::Write;
    let name = "leakwatch_fleet_group_growth_bytes_per_second";
    let _ = writeln!(
        out,
        "# HELP {name} The median (quantile=0.5) and 90th percentile (0.9) of a group's growth rates, over its series whose rate is known (_count)"
    );
    let _ = writeln!(out, "# TYPE {name} summary");
    for g in groups {
        let base: Vec<String> = exported(&g.labels.iter().cloned().collect())
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_value(v)))
            .collect();
        let braces = |extra: Option<String>| {
            let all: Vec<&str> = base
                .iter()
                .map(String::as_str)
                .chain(extra.as_deref())
                .collect();
            if all.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", all.join(","))
            }
        };
        for (q, x) in [("0.5", g.median), ("0.9", g.p90)] {
            if let Some(x) = x {
                let _ = writeln!(
                    out,
                    "{name}{} {x:?}",
                    braces(Some(format!("quantile=\"{q}\"")))
                );
            }
        }
        let _ = writeln!(out, "{name}_sum{} {:?}", braces(None), g.rates.1);
        let _ = writeln!(out, "{name}_count{} {}", braces(None), g.rates.0);
    }
}

/// A label value escaped for the text formats: `\`, `"` and newlines.
fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Each series' verdict, growth and time to its limit.
fn series_families(f: &Families, p: &Pass) {
    for (i, s) in p.series.iter().enumerate() {
        let base = exported(&s.labels);
        let v = &s.verdict;
        for k in VERDICTS {
            let on = if k == v.kind { 1.0 } else { 0.0 };
            f.verdict
                .get_or_create(&with(&base, &[("verdict", k.as_str())]))
                .set(on);
        }
        if v.finding.rate_known() {
            for (b, x) in BOUNDS
                .into_iter()
                .zip([v.rate, v.rate_ci95[0], v.rate_ci95[1]])
            {
                f.growth.get_or_create(&with(&base, &[("bound", b)])).set(x);
            }
        }
        if let Some(t) = p
            .limits
            .get(i)
            .copied()
            .flatten()
            .and_then(|l| time_to_limit(v, l))
        {
            f.time_to_limit.get_or_create(&base).set(t);
        }
    }
}

/// Each group's counts and verdict.
fn group_families(f: &Families, groups: &[Group]) {
    for g in groups {
        let base = exported(&g.labels.iter().cloned().collect());
        for k in VERDICTS {
            f.group_series
                .get_or_create(&with(&base, &[("verdict", k.as_str())]))
                .set(g.counts.of(k) as f64);
            let on = if k == g.verdict { 1.0 } else { 0.0 };
            f.group_verdict
                .get_or_create(&with(&base, &[("verdict", k.as_str())]))
                .set(on);
        }
    }
}

/// A series' labels as the fleet exposes them: `__name__` dropped, a name
/// made valid, and one of leakwatch's own kept as `exported_<name>` (again
/// prefixed while that is taken).
fn exported(labels: &BTreeMap<String, String>) -> Labels {
    let mut out: Labels = Vec::with_capacity(labels.len());
    let taken = |n: &str, out: &Labels| labels.contains_key(n) || out.iter().any(|(k, _)| k == n);
    for (k, v) in labels {
        if k == "__name__" {
            continue;
        }
        let mut name = valid_name(k);
        if OURS.contains(&name.as_str()) || (name != *k && taken(&name, &out)) {
            name = format!("exported_{name}");
            while taken(&name, &out) {
                name = format!("exported_{name}");
            }
        }
        out.push((name, v.clone()));
    }
    out
}

/// `name` as a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, other
/// characters as `_`.
fn valid_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Detector, DetectorConfig};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn judged(pairs: &[(&str, &str)], slope: f64) -> SeriesVerdict {
        let mut d = Detector::new(DetectorConfig::default());
        (0..720).for_each(|i| d.push(i as f64 * 30.0, 1e8 + slope * i as f64 * 30.0));
        SeriesVerdict {
            labels: labels(pairs),
            verdict: d.verdict(),
        }
    }

    #[test]
    fn colliding_labels_are_exported_and_the_name_dropped() {
        let l = labels(&[
            ("__name__", "mem"),
            ("verdict", "x"),
            ("exported_verdict", "y"),
            ("bound", "z"),
            ("job", "api"),
        ]);
        let got = exported(&l);
        let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "exported_bound",
                "exported_verdict",
                "job",
                "exported_exported_verdict"
            ]
        );
        assert_eq!(got[3].1, "x");
        assert_eq!(valid_name("9a-b"), "_9a_b");
    }

    #[test]
    fn a_pass_replaces_the_one_before_whole() {
        let e = FleetExposition::new();
        let first = Pass {
            series: vec![
                judged(&[("version", "2"), ("i", "1")], 1000.0),
                judged(&[("version", "1"), ("i", "2")], 0.0),
            ],
            limits: vec![Some(2e9), None],
            at: 1e9,
            duration_s: 0.5,
        };
        let by = ["version".to_string()];
        e.publish(Some(&first), &by, 0);
        let text = e.render_classic();
        for line in [
            "leakwatch_fleet_verdict{i=\"1\",version=\"2\",verdict=\"leaking\"} 1.0",
            "leakwatch_fleet_verdict{i=\"2\",version=\"1\",verdict=\"plateau\"} 1.0",
            "leakwatch_fleet_group_series{version=\"2\",verdict=\"leaking\"} 1.0",
            "leakwatch_fleet_group_verdict{version=\"1\",verdict=\"plateau\"} 1.0",
            "leakwatch_fleet_series 2.0",
            "leakwatch_fleet_query_errors_total 0",
            "# TYPE leakwatch_fleet_query_errors_total counter",
            "# TYPE leakwatch_fleet_group_growth_bytes_per_second summary",
            "leakwatch_fleet_group_growth_bytes_per_second_count{version=\"2\"} 1",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        assert!(text.contains("leakwatch_fleet_time_to_limit_seconds{i=\"1\",version=\"2\"}"));
        assert!(!text.contains("# EOF"));
        assert!(e.render().ends_with("# EOF\n"));
        assert_eq!(e.render().matches("# EOF").count(), 1);
        // The series i=1 is gone from the next pass: so are its series.
        let second = Pass {
            series: vec![first.series[1].clone()],
            limits: vec![None],
            ..first.clone()
        };
        e.publish(Some(&second), &by, 3);
        let text = e.render_classic();
        assert!(!text.contains("i=\"1\""), "{text}");
        assert!(!text.contains("version=\"2\""), "{text}");
        assert!(
            text.contains("leakwatch_fleet_query_errors_total 3"),
            "{text}"
        );
        let end = FleetExposition::finished();
        let samples: Vec<_> = end.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples, ["leakwatch_fleet_up 0.0"]);
    }
}
