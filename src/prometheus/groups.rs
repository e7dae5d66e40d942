//! Judged series grouped by the values of some of their labels (`--by
//! version`): per group how many series are in each verdict, the median and
//! 90th percentile of their growth rates, and the group's own verdict,
//! `leaking` when a majority of its decided series leak. `analyze
//! --prometheus --by` prints the groups; `fleet` exposes them.

use super::query::SeriesVerdict;
use crate::detector::VerdictKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many series of a group are in each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Leaking.
    pub leaking: usize,
    /// Plateau.
    pub plateau: usize,
    /// Inconclusive.
    pub inconclusive: usize,
}

impl Counts {
    /// The count of `kind`.
    pub fn of(&self, kind: VerdictKind) -> usize {
        match kind {
            VerdictKind::Leaking => self.leaking,
            VerdictKind::Plateau => self.plateau,
            VerdictKind::Inconclusive => self.inconclusive,
        }
    }

    fn add(&mut self, kind: VerdictKind) {
        match kind {
            VerdictKind::Leaking => self.leaking += 1,
            VerdictKind::Plateau => self.plateau += 1,
            VerdictKind::Inconclusive => self.inconclusive += 1,
        }
    }
}

/// One group of series.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The grouping labels and this group's values, in `--by` order (a
    /// series without the label has the empty value, as in PromQL).
    pub labels: Vec<(String, String)>,
    /// Series in the group.
    pub series: usize,
    /// Series in each verdict.
    pub counts: Counts,
    /// The median growth rate of the series whose rate is known, bytes per
    /// second (`None`: none is known).
    pub median: Option<f64>,
    /// The 90th percentile of those rates.
    pub p90: Option<f64>,
    /// How many series' rates are known, and their sum (bytes per second).
    pub rates: (usize, f64),
    /// `leaking` when more than half of the decided (leaking or plateau)
    /// series leak; else `plateau` when any is decided; else `inconclusive`.
    pub verdict: VerdictKind,
}

/// The series grouped by the labels `by`, in the order of their values.
pub fn group(series: &[SeriesVerdict], by: &[String]) -> Vec<Group> {
    let mut groups: BTreeMap<Vec<&str>, (Counts, Vec<f64>)> = BTreeMap::new();
    for s in series {
        let key: Vec<&str> = by
            .iter()
            .map(|l| s.labels.get(l).map_or("", String::as_str))
            .collect();
        let (counts, rates) = groups.entry(key).or_default();
        counts.add(s.verdict.kind);
        if s.verdict.finding.rate_known() {
            rates.push(s.verdict.rate);
        }
    }
    groups
        .into_iter()
        .map(|(key, (counts, mut rates))| {
            rates.sort_by(f64::total_cmp);
            Group {
                labels: by
                    .iter()
                    .cloned()
                    .zip(key.into_iter().map(str::to_string))
                    .collect(),
                series: counts.leaking + counts.plateau + counts.inconclusive,
                counts,
                median: quantile(&rates, 0.5),
                p90: quantile(&rates, 0.9),
                rates: (rates.len(), rates.iter().sum()),
                verdict: verdict(counts),
            }
        })
        .collect()
}

/// The group's verdict from its counts.
fn verdict(c: Counts) -> VerdictKind {
    let decided = c.leaking + c.plateau;
    if c.leaking * 2 > decided {
        VerdictKind::Leaking
    } else if decided > 0 {
        VerdictKind::Plateau
    } else {
        VerdictKind::Inconclusive
    }
}

/// The `q` quantile of `sorted`, interpolated between the two nearest ranks.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let at = q * last as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Detector, DetectorConfig};

    /// A series labelled `version` judged on a line of `slope` bytes a second.
    fn series(version: Option<&str>, slope: f64) -> SeriesVerdict {
        let mut d = Detector::new(DetectorConfig::default());
        (0..720).for_each(|i| d.push(i as f64 * 30.0, 1e8 + slope * i as f64 * 30.0));
        let mut labels = BTreeMap::from([("job".to_string(), "api".to_string())]);
        if let Some(v) = version {
            labels.insert("version".into(), v.into());
        }
        SeriesVerdict {
            labels,
            verdict: d.verdict(),
        }
    }

    #[test]
    fn a_group_leaks_when_most_of_its_decided_series_do() {
        let all = [
            series(Some("2.0"), 1000.0),
            series(Some("2.0"), 2000.0),
            series(Some("2.0"), 0.0),
            series(Some("1.9"), 0.0),
            series(Some("1.9"), 1000.0),
            series(None, 0.0),
        ];
        let g = group(&all, &["version".to_string()]);
        let names: Vec<&str> = g.iter().map(|g| g.labels[0].1.as_str()).collect();
        assert_eq!(names, ["", "1.9", "2.0"]);
        let v2 = &g[2];
        assert_eq!((v2.series, v2.counts.leaking, v2.counts.plateau), (3, 2, 1));
        assert_eq!(v2.verdict, VerdictKind::Leaking);
        assert!((v2.median.unwrap() - 1000.0).abs() < 20.0, "{v2:?}");
        assert!(v2.p90.unwrap() > v2.median.unwrap());
        // One of two is no majority.
        assert_eq!(g[1].verdict, VerdictKind::Plateau);
        assert_eq!(g[0].verdict, VerdictKind::Plateau);
    }

    #[test]
    fn no_decided_series_is_an_inconclusive_group_and_quantiles_interpolate() {
        assert_eq!(verdict(Counts::default()), VerdictKind::Inconclusive);
        let c = Counts {
            inconclusive: 3,
            ..Counts::default()
        };
        assert_eq!(verdict(c), VerdictKind::Inconclusive);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 3.0], 0.5), Some(2.0));
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.9).unwrap() - 4.6).abs() < 1e-12);
    }
}
