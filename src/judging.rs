//! One judging pipeline: a detector per judged series and the rule for which
//! series decides. The live watch, `analyze`, `plot` and a replay all judge
//! through it, so they agree.

use crate::detector::{Detector, DetectorConfig, Verdict, VerdictKind};
use crate::metrics::{Metric, Reading};
use crate::units::Quantity;

/// Which judged series decides the verdict behind the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judge {
    /// The series in this log column (`rss_bytes`, `fds`, or any other).
    Column(String),
    /// Any series that leaks.
    Any,
}

impl Judge {
    /// The series of `metric`.
    pub fn metric(m: Metric) -> Judge {
        Judge::Column(m.column().to_string())
    }

    /// The name shown in output: a column, or `any`.
    pub fn name(&self) -> &str {
        match self {
            Judge::Column(c) => c,
            Judge::Any => "any",
        }
    }

    /// The judged series for the top-level fields (for `Any`: the first that
    /// leaks, else the first) and the verdict behind the exit code. `all` must
    /// not be empty.
    pub fn pick<'a>(&self, all: &'a [Judged]) -> (&'a Judged, VerdictKind) {
        match self {
            Judge::Column(c) => {
                let j = all.iter().find(|j| &j.column == c).unwrap_or(&all[0]);
                (j, j.verdict.kind)
            }
            Judge::Any => {
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
}

/// One judged series: its column, what it counts, its verdict.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The log column.
    pub column: String,
    /// Bytes, or a count (fds, threads).
    pub quantity: Quantity,
    /// The detector's verdict.
    pub verdict: Verdict,
}

/// A series being judged.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its log column.
    pub column: String,
    /// The metric it is, if a known one.
    pub metric: Option<Metric>,
    /// Its detector.
    pub detector: Detector,
}

impl Series {
    /// Bytes, or a count (fds, threads); a column that is no known metric
    /// is taken for bytes.
    pub fn quantity(&self) -> Quantity {
        self.metric.map_or(Quantity::Bytes, Metric::quantity)
    }
}

/// The per-series detectors and the judge rule.
#[derive(Debug, Clone)]
pub struct Judging {
    series: Vec<Series>,
    judge: Judge,
}

impl Judging {
    /// Judges `metrics` with settings derived from `base` (counts get their own
    /// minimum rate), plus `extra`, a column that is no known metric, if any.
    pub fn new(
        base: DetectorConfig,
        metrics: &[Metric],
        extra: Option<&str>,
        judge: Judge,
    ) -> Judging {
        let mut series: Vec<Series> = metrics
            .iter()
            .map(|&m| Series {
                column: m.column().to_string(),
                metric: Some(m),
                detector: Detector::new(m.detector_config(base)),
            })
            .collect();
        if let Some(c) = extra {
            series.push(Series {
                column: c.to_string(),
                metric: None,
                detector: Detector::new(base),
            });
        }
        Judging { series, judge }
    }

    /// The same judging with detectors of at most `cap` buckets each (see
    /// [`Detector::with_buckets`]).
    pub fn with_buckets(mut self, cap: usize) -> Judging {
        for s in &mut self.series {
            s.detector = Detector::with_buckets(s.detector.config(), cap);
        }
        self
    }

    /// The series, in column order.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The judge rule.
    pub fn judge(&self) -> &Judge {
        &self.judge
    }

    /// The series the judge rule names (for `any`, the first): the one shown
    /// while a watch runs.
    pub fn shown(&self) -> &Series {
        let found = match &self.judge {
            Judge::Column(c) => self.series.iter().find(|s| &s.column == c),
            Judge::Any => None,
        };
        found.unwrap_or(&self.series[0])
    }

    /// Feeds one sample at `t` seconds: `value` gives each series' value from
    /// its metric (`None` for the extra column).
    pub fn push(&mut self, t: f64, value: impl Fn(Option<Metric>) -> f64) {
        for s in &mut self.series {
            s.detector.push(t, value(s.metric));
        }
    }

    /// Feeds one reading at `t` seconds.
    pub fn push_reading(&mut self, t: f64, r: &Reading) {
        self.push(t, |m| m.map_or(0.0, |m| r.get(m) as f64));
    }

    /// Forgets every sample: a new watch starts.
    pub fn reset(&mut self) {
        for s in &mut self.series {
            s.detector = Detector::with_buckets(s.detector.config(), s.detector.capacity());
        }
    }

    /// Every series' verdict, in column order.
    pub fn judged(&self) -> Vec<Judged> {
        self.series
            .iter()
            .map(|s| Judged {
                column: s.column.clone(),
                quantity: s.quantity(),
                verdict: s.detector.verdict(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_follows_the_first_leak() {
        let mut j = Judging::new(
            DetectorConfig::default(),
            &[Metric::Rss, Metric::Fds],
            None,
            Judge::Any,
        );
        for i in 0..200 {
            let t = i as f64;
            j.push(t, |m| match m {
                Some(Metric::Fds) => 10.0 + t,
                _ => 1e6,
            });
        }
        let all = j.judged();
        let (top, kind) = j.judge().pick(&all);
        assert_eq!(kind, VerdictKind::Leaking);
        assert_eq!(top.column, "fds");
        assert_eq!(top.quantity, Quantity::Count);
        j.reset();
        assert_eq!(j.judged()[0].verdict.samples, 0);
    }
}
