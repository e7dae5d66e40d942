//! `fleet`: a long-running judge. Every `every` it reads the range of every
//! series a query returns and judges each, as `analyze --prometheus` does
//! once ([`judge`], with its bounds), and publishes the verdicts for
//! Prometheus to scrape ([`FleetExposition`]) and, if asked, to a textfile.
//!
//! Each pass starts afresh: nothing of a pass is kept but its verdicts, so
//! memory does not grow from pass to pass, and a series that is gone from
//! one pass is gone from what is exposed. A pass that fails keeps the last
//! good verdicts and counts the failure; the first one must succeed.
//! Passes run on a thread of their own, so a stop request (a signal) is
//! answered at once, also in the middle of a slow pass.

use super::fleet_exposition::{FleetExposition, Pass};
use super::query::{Labels, NoSeries, PromConfig, SeriesVerdict, judge, latest};
use super::textfile;
use anyhow::{Result, anyhow};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often a wait (for the next pass, or for a pass to end) looks for a
/// stop request.
const POLL: Duration = Duration::from_millis(50);
/// How far back the limit query is read for each series' last value.
pub const LIMIT_RANGE_S: f64 = 900.0;

/// Where each series' memory limit comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// The same for every series, bytes.
    Fixed(f64),
    /// A query whose series are limits: each applies to the series whose
    /// labels include all of its own (the most specific one wins).
    Query(String),
}

/// What to judge, how often, and where to publish it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// What to read and how to judge it (its `end` is each pass's now).
    pub prom: PromConfig,
    /// Time from the start of one pass to the start of the next.
    pub every: Duration,
    /// Labels to group the series by (none: no groups).
    pub by: Vec<String>,
    /// The series' memory limit, if one is known.
    pub limit: Option<Limit>,
    /// A textfile to write each pass's exposition to.
    pub textfile: Option<PathBuf>,
}

/// What happened, for the caller to say.
#[derive(Debug)]
pub enum Event<'a> {
    /// The first pass succeeded; any warnings of its read.
    First(&'a Pass, &'a [String]),
    /// A pass failed, after good ones (said once until one succeeds again).
    Failed(&'a anyhow::Error),
    /// A pass succeeded after failed ones.
    Recovered(&'a Pass, u64),
}

/// Runs passes until `stop` says so; the first pass's error, or a textfile
/// that cannot be written, is an error. Ends with the textfile, if one was
/// written, holding `leakwatch_fleet_up 0` alone.
pub fn run(
    cfg: &FleetConfig,
    expo: &FleetExposition,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(Event),
) -> Result<()> {
    let start = Instant::now();
    let worker = Worker::start(cfg)?;
    let Some(first) = worker.pass(stop, true) else {
        return Ok(());
    };
    let (mut good, warnings) = first?;
    on(Event::First(&good, &warnings));
    let res = passes(cfg, &worker, expo, stop, on, start, &mut good);
    let end = match &cfg.textfile {
        Some(p) => textfile::write(p, &FleetExposition::finished()),
        None => Ok(()),
    };
    res.and(end)
}

/// Publishes `good`, then runs a pass every `every` from `start` until
/// `stop` says so.
fn passes(
    cfg: &FleetConfig,
    worker: &Worker,
    expo: &FleetExposition,
    stop: &dyn Fn() -> bool,
    on: &mut dyn FnMut(Event),
    start: Instant,
    good: &mut Pass,
) -> Result<()> {
    let (mut errors, mut failing) = (0u64, 0u64);
    loop {
        expo.publish(Some(good), &cfg.by, errors);
        if let Some(p) = &cfg.textfile {
            textfile::write(p, &super::exposition::Scrape::render_classic(expo))?;
        }
        if !wait_until(next_tick(start, cfg.every), stop) {
            return Ok(());
        }
        match worker.pass(stop, false) {
            None => return Ok(()),
            Some(Ok((p, _))) => {
                *good = p;
                if failing > 0 {
                    on(Event::Recovered(good, failing));
                }
                failing = 0;
            }
            Some(Err(e)) => {
                errors += 1;
                if failing == 0 {
                    on(Event::Failed(&e));
                }
                failing += 1;
            }
        }
    }
}

/// The first tick (`start` + k × `every`) after now.
fn next_tick(start: Instant, every: Duration) -> Instant {
    let every = every.max(Duration::from_millis(1));
    let k = (start.elapsed().as_secs_f64() / every.as_secs_f64()).floor() + 1.0;
    start + every.mul_f64(k)
}

/// Waits until `at`; false if `stop` said so first.
fn wait_until(at: Instant, stop: &dyn Fn() -> bool) -> bool {
    loop {
        if stop() {
            return false;
        }
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// The thread passes run on, one for the life of the fleet (so that what
/// each pass allocates comes from the same place, not an arena per pass).
struct Worker {
    go: mpsc::Sender<bool>,
    done: mpsc::Receiver<Result<(Pass, Vec<String>)>>,
}

impl Worker {
    /// Starts the thread; it ends when the worker is dropped.
    fn start(cfg: &FleetConfig) -> Result<Worker> {
        let (go, go_rx) = mpsc::channel::<bool>();
        let (done_tx, done) = mpsc::channel();
        let c = cfg.clone();
        std::thread::Builder::new()
            .name("fleet-pass".into())
            .spawn(move || {
                while let Ok(first) = go_rx.recv() {
                    if done_tx.send(pass(&c, first)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| anyhow!("cannot start the thread passes run on: {e}"))?;
        Ok(Worker { go, done })
    }

    /// A pass; `None` if `stop` said so before it ended (the thread is left
    /// to end with the process).
    fn pass(&self, stop: &dyn Fn() -> bool, first: bool) -> Option<Result<(Pass, Vec<String>)>> {
        if self.go.send(first).is_err() {
            return Some(Err(anyhow!("the thread passes run on has ended")));
        }
        loop {
            match self.done.recv_timeout(POLL) {
                Ok(r) => return Some(r),
                Err(mpsc::RecvTimeoutError::Timeout) if stop() => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Some(Err(anyhow!("a pass ended without an answer")));
                }
            }
        }
    }
}

/// One pass: every series judged, and its limit; and the read's warnings.
/// After the first pass, a query that returns no series is an empty pass.
pub fn pass(cfg: &FleetConfig, first: bool) -> Result<(Pass, Vec<String>)> {
    let t0 = Instant::now();
    let (mut series, mut warnings) = match judge(&cfg.prom) {
        Ok(o) => (o.series, o.warnings),
        Err(e) if !first && e.downcast_ref::<NoSeries>().is_some() => (Vec::new(), Vec::new()),
        Err(e) => return Err(e),
    };
    let twins = drop_twins(&mut series);
    if twins > 0 {
        warnings.push(format!(
            "{twins} series of {} have the labels of another once __name__ is dropped, and are not exposed; select one metric",
            crate::units::quoted(&cfg.prom.query)
        ));
    }
    let limits = match &cfg.limit {
        None => vec![None; series.len()],
        Some(Limit::Fixed(l)) => vec![Some(*l); series.len()],
        Some(Limit::Query(q)) => {
            let lcfg = PromConfig {
                query: q.clone(),
                range_s: LIMIT_RANGE_S,
                ..cfg.prom.clone()
            };
            let mut limits = latest(&lcfg).map_err(|e| anyhow!("--limit-query: {e:#}"))?;
            // A limit of 0 (cAdvisor's for a container without one) is none.
            limits.retain(|(_, v)| v.is_finite() && *v > 0.0);
            match_limits(&series, &limits)
        }
    };
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let pass = Pass {
        series,
        limits,
        at,
        duration_s: t0.elapsed().as_secs_f64(),
    };
    Ok((pass, warnings))
}

/// Drops the series whose labels less `__name__` are another's (the query
/// selects several metrics): they would be one series twice in the
/// exposition, which Prometheus refuses whole. Returns how many.
fn drop_twins(series: &mut Vec<SeriesVerdict>) -> usize {
    let before = series.len();
    let mut seen = std::collections::HashSet::new();
    series.retain(|s| {
        let key: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        seen.insert(key)
    });
    before - series.len()
}

/// Each series' limit: the value of the limit series whose labels are all
/// among the series' own, the one with the most labels if several are.
pub fn match_limits(series: &[SeriesVerdict], limits: &[(Labels, f64)]) -> Vec<Option<f64>> {
    // The limits by their label names, each found by its label values.
    let mut index: BTreeMap<Vec<&str>, HashMap<Vec<&str>, f64>> = BTreeMap::new();
    for (l, v) in limits {
        let names = l.keys().map(String::as_str).collect();
        let values = l.values().map(String::as_str).collect();
        index.entry(names).or_default().insert(values, *v);
    }
    series
        .iter()
        .map(|s| {
            let mut best: Option<(usize, f64)> = None;
            for (names, by_values) in &index {
                let key: Option<Vec<&str>> = names
                    .iter()
                    .map(|n| s.labels.get(*n).map(String::as_str))
                    .collect();
                if let Some(&v) = key.and_then(|k| by_values.get(&k))
                    && best.is_none_or(|(n, _)| names.len() > n)
                {
                    best = Some((names.len(), v));
                }
            }
            best.map(|(_, v)| v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Detector, DetectorConfig};

    fn series(pairs: &[(&str, &str)]) -> SeriesVerdict {
        SeriesVerdict {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            verdict: Detector::new(DetectorConfig::default()).verdict(),
        }
    }

    #[test]
    fn each_series_gets_the_most_specific_limit_whose_labels_it_has() {
        let all = [
            series(&[("__name__", "m"), ("job", "api"), ("instance", "a")]),
            series(&[("job", "api"), ("instance", "b")]),
            series(&[("job", "db"), ("instance", "c")]),
        ];
        let lim = |pairs: &[(&str, &str)], v: f64| {
            (
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Labels>(),
                v,
            )
        };
        let limits = [
            lim(&[("job", "api")], 1e9),
            lim(&[("job", "api"), ("instance", "a")], 2e9),
        ];
        assert_eq!(match_limits(&all, &limits), [Some(2e9), Some(1e9), None]);
        // A limit with no labels (`vector(2e9)`) applies to every series.
        assert_eq!(match_limits(&all, &[lim(&[], 3e9)]), [Some(3e9); 3]);
    }

    #[test]
    fn series_with_the_same_labels_but_the_name_are_kept_once() {
        let mut all = vec![
            series(&[("__name__", "a"), ("job", "api")]),
            series(&[("__name__", "b"), ("job", "api")]),
            series(&[("__name__", "b"), ("job", "db")]),
        ];
        assert_eq!(drop_twins(&mut all), 1);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].labels["job"], "db");
    }

    #[test]
    fn ticks_are_whole_periods_from_the_start() {
        let start = Instant::now() - Duration::from_millis(2500);
        let next = next_tick(start, Duration::from_secs(1));
        let at = next.duration_since(start).as_secs_f64();
        assert!((at - 3.0).abs() < 1e-6, "{at}");
    }
}
