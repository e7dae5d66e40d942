//! The plateau-vs-growth detector.
//!
//! [`Detector`] takes `(seconds, value)` samples one at a time and keeps a fixed
//! number of time buckets (min, max, sum, count), merging neighbours pairwise
//! when the run outgrows them, so its memory does not depend on how long it
//! runs. [`Detector::verdict`] judges that state on demand:
//!
//! 1. The *floor* is judged, not raw samples: the minimum of time blocks at
//!    least one garbage-collection period wide (the period is found from the
//!    autocorrelation of the bucket minima), so a sawtooth, spikes and bursts
//!    of load do not count as growth.
//! 2. Windows that end now (the whole judged run, and its last half, quarter
//!    and eighth) each get a Theil–Sen slope and a z score against an honest
//!    error: the residuals' scale, widened by their integrated autocorrelation
//!    time, with Student's t for few effective blocks.
//! 3. Growth counts as a leak only if it is significant, at least `min_rate`,
//!    larger than the floor's noise (and than the drift a sparsely sampled
//!    swing can fake), spread over the window (not one step), setting new
//!    highs, and not decelerating towards a ceiling.
//!
//! The same samples give the same verdict whether they arrive live or from a
//! log: the state is a pure function of the samples fed in. The detector deals
//! in numbers only: a [`Finding`] says what it decided and why; putting that
//! in words is the caller's business.

use serde::Serialize;

mod decide;
mod fit;
mod floor;
mod window;

/// How many time buckets the detector keeps at most.
pub const MAX_BUCKETS: usize = 512;
/// Fewest judged samples before any verdict but `inconclusive`.
pub const MIN_SAMPLES: u64 = 10;
/// Default `min_rate`: 1 MiB/h.
pub const DEFAULT_MIN_RATE: f64 = 1024.0 * 1024.0 / 3600.0;

/// What the detector concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// The floor is still rising, significantly and faster than `min_rate`.
    Leaking,
    /// The floor is flat, falling, or levelling off.
    Plateau,
    /// The data cannot decide yet.
    Inconclusive,
}

impl VerdictKind {
    /// The lowercase name used in output: `leaking`, `plateau`, `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Leaking => "leaking",
            VerdictKind::Plateau => "plateau",
            VerdictKind::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings shared by the live watch and `analyze`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Seconds set aside at the start; `None` lets the detector decide.
    pub warmup: Option<f64>,
    /// Growth slower than this (units/s) counts as a plateau.
    pub min_rate: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup: None,
            min_rate: DEFAULT_MIN_RATE,
        }
    }
}

/// The detector's judgement of the samples seen so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The verdict.
    pub kind: VerdictKind,
    /// All samples fed in, including those set aside as warm-up.
    pub samples: u64,
    /// Seconds from the first to the last sample.
    pub duration_s: f64,
    /// Growth rate of the floor over the judged window, bytes per second.
    pub rate: f64,
    /// 95% interval of `rate`.
    pub rate_ci95: [f64; 2],
    /// Fitted floor at the start of the judged window, bytes.
    pub baseline_start: f64,
    /// Fitted floor at the end of the judged window, bytes.
    pub baseline_end: f64,
    /// Start of the judged window, seconds since the first sample.
    pub window_start_s: f64,
    /// End of the judged window, seconds since the first sample.
    pub window_end_s: f64,
    /// Seconds set aside at the start (explicit or decided) before the judged window.
    pub warmup_s: f64,
    /// Width of the blocks whose minima make the floor, seconds.
    pub block_s: f64,
    /// Period of a regular swing (a GC sawtooth) found in the data, seconds.
    pub period_s: Option<f64>,
    /// What was decided and why, with the numbers behind it.
    pub finding: Finding,
    /// For `inconclusive`: roughly how much longer to watch, seconds.
    pub watch_more_s: Option<f64>,
    /// The floor series of the whole run: (seconds since first sample, bytes).
    pub floor: Vec<(f64, f64)>,
    /// The last sample's value.
    pub last: f64,
}

/// What the detector decided and why, in numbers (values in the series'
/// unit, rates per second, spans in seconds). The report puts it in words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finding {
    /// No samples were fed in.
    NoSamples,
    /// Every sample so far falls inside the explicit warm-up.
    AllInWarmup {
        /// Samples seen.
        samples: u64,
    },
    /// Too few samples after the warm-up to judge.
    TooFewSamples {
        /// Samples judged.
        judged: u64,
        /// Samples needed.
        needed: u64,
    },
    /// A regular swing was found, but the watch is too short to judge its floor.
    SwingTooLong {
        /// The swing's period.
        period_s: f64,
        /// The shortest watch that can judge it.
        need_s: f64,
    },
    /// The judged data spans too little time.
    TooShort {
        /// Seconds judged.
        judged_s: f64,
        /// Seconds needed.
        need_s: f64,
    },
    /// `leaking`: the floor rose steadily over the window and still rises.
    StillRising {
        /// Growth over the window.
        rise: f64,
        /// The window's length.
        span_s: f64,
        /// The window's growth rate.
        rate: f64,
        /// The rate over its standard error.
        z: f64,
    },
    /// `plateau`: significant growth that has since levelled off.
    LevelledOff {
        /// Growth over the longer window.
        rise: f64,
        /// The longer window's length.
        span_s: f64,
        /// The recent part's rate (the verdict's).
        recent_rate: f64,
        /// The length of the recent part the verdict's numbers come from.
        recent_s: f64,
    },
    /// `plateau`: the floor fell significantly.
    Fell {
        /// How far it fell.
        fall: f64,
        /// The window's length.
        span_s: f64,
        /// The (negative) rate.
        rate: f64,
    },
    /// `plateau`: the floor did not change at all.
    Unchanged {
        /// The window's length.
        span_s: f64,
    },
    /// `plateau`: the floor held within a band, slower than the minimum rate.
    HeldWithin {
        /// The band's height.
        within: f64,
        /// The window's length.
        span_s: f64,
        /// The window's rate.
        rate: f64,
        /// The minimum rate of a leak.
        min_rate: f64,
    },
    /// `inconclusive`: too few swings to rule out growth.
    FewSwings {
        /// Floor blocks in the judged window.
        blocks: usize,
        /// Swings (GC periods) in the judged window.
        swings: usize,
        /// The rate that cannot be ruled out.
        up_to: f64,
        /// The window is the run after a warm-up (else all of it).
        after_warmup: bool,
    },
    /// `inconclusive`: growth at the minimum rate of a leak cannot be ruled
    /// out yet (the interval reaches above it).
    NotRuledOut {
        /// The window's rate.
        rate: f64,
        /// The growth was slowing as a warm-up does (but not yet below the
        /// minimum rate).
        slowing: bool,
        /// The interval's lower bound.
        from: f64,
        /// The interval's upper bound.
        up_to: f64,
        /// The minimum rate of a leak.
        min_rate: f64,
        /// The window's length.
        span_s: f64,
    },
    /// `inconclusive`: growth that one test of a leak still holds back.
    MayBeRising {
        /// The window's rate.
        rate: f64,
        /// The rate over its standard error.
        z: f64,
        /// The window's length.
        span_s: f64,
        /// The test that held it back.
        held: Hold,
    },
    /// `plateau`: a rise that is not significant against the noise.
    CreptUp {
        /// Growth over the window.
        rise: f64,
        /// The window's length.
        span_s: f64,
        /// The window's rate.
        rate: f64,
        /// The floor's noise.
        noise: f64,
        /// The rate over its standard error.
        z: f64,
        /// The z needed to suspect growth.
        z_needed: f64,
    },
    /// `plateau`: no growth beyond the noise.
    NoGrowth {
        /// The floor's noise.
        noise: f64,
        /// The window's length.
        span_s: f64,
        /// The window's rate.
        rate: f64,
        /// The rate over its standard error.
        z: f64,
    },
    /// `plateau`: the floor moved but stayed within its earlier range.
    Wanders {
        /// How far it moved.
        moved: f64,
        /// The window's length.
        span_s: f64,
    },
    /// `plateau`: a rise that is levelling off.
    LevellingOff {
        /// Growth over the longer window.
        rise: f64,
        /// The longer window's length.
        span_s: f64,
        /// The recent part's rate (the verdict's).
        recent_rate: f64,
        /// The length of the recent part the verdict's numbers come from.
        recent_s: f64,
        /// When a warm-up curve explains the growth: the curve's rate now.
        curve_rate: Option<f64>,
    },
}

/// The test of a leak that growth did not pass yet (each one more data
/// resolves, for a leak that goes on).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hold {
    /// Not yet significant: z below the z needed.
    Significance {
        /// The z reached.
        z: f64,
        /// The z needed.
        needed: f64,
    },
    /// The rise is not yet clear of the floor's noise (twice it).
    Noise {
        /// The rise over the window.
        rise: f64,
        /// The floor's noise.
        noise: f64,
    },
    /// The rise is not yet larger than the drift that sampling the swing at
    /// few points can fake.
    Sampling {
        /// The rise over the window.
        rise: f64,
        /// The drift sampling can fake.
        drift: f64,
    },
    /// The rise is not yet larger than a fall the floor has shown: a
    /// swing's rising phase looks the same until the climb outgrows it.
    Swing {
        /// The least rise over the window (at the interval's lower bound).
        rise: f64,
        /// The height of the fall.
        swing: f64,
    },
    /// The recent floor is not yet above the window's earlier highs.
    NoNewHigh {
        /// The highest floor before, less the recent floor.
        below: f64,
    },
    /// The growth came in the window's second half: a step, until it goes on.
    OneStep,
    /// The growth has slowed in the window's last part.
    Slowing {
        /// The recent rate.
        recent: f64,
    },
}

impl Finding {
    /// A window of the floor was judged: the rate and its interval are the
    /// window's (else they are 0 and mean nothing yet).
    pub fn rate_known(&self) -> bool {
        !matches!(
            self,
            Finding::NoSamples
                | Finding::AllInWarmup { .. }
                | Finding::TooFewSamples { .. }
                | Finding::SwingTooLong { .. }
                | Finding::TooShort { .. }
        )
    }
}

impl Verdict {
    /// Length of the judged window in seconds.
    pub fn window_s(&self) -> f64 {
        self.window_end_s - self.window_start_s
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    idx: u64,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    t_first: f64,
    t_last: f64,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        self.count += o.count;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.t_first = self.t_first.min(o.t_first);
        self.t_last = self.t_last.max(o.t_last);
    }

    /// Adds one sample.
    #[inline]
    fn add(&mut self, t: f64, v: f64) {
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.t_last = t;
    }
}

/// A streaming, bounded-memory plateau-vs-growth detector.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    first_t: Option<f64>,
    origin: f64,
    width: f64,
    buckets: Vec<Bucket>,
    samples: u64,
    judged: u64,
    last_t: f64,
    last_v: f64,
    cap: usize,
    /// A sample whose `t - origin` is below this falls in the last bucket
    /// (see [`Detector::push`]); -inf until a bucket is made.
    edge: f64,
}

/// Shrinks a bucket's end so that whatever lies below it divides (rounded)
/// to less than the end's index: see [`Detector::push`].
const EDGE_SHRINK: f64 = 1.0 - 1.0 / (1u64 << 50) as f64;

/// A bucket's summary as the outside sees it (for plots and tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketView {
    /// Time of the first sample in the bucket (seconds since the first sample).
    pub t_first: f64,
    /// Time of the last sample in the bucket.
    pub t_last: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// Number of samples.
    pub count: u64,
}

impl Detector {
    /// A detector with the given settings and no samples.
    pub fn new(cfg: DetectorConfig) -> Self {
        Self::with_buckets(cfg, MAX_BUCKETS)
    }

    /// A detector that keeps at most `cap` buckets (at least 16, at most
    /// [`MAX_BUCKETS`]): a smaller, coarser state, for watching thousands of
    /// targets at once. Buckets are allocated as the run fills them.
    pub fn with_buckets(cfg: DetectorConfig, cap: usize) -> Self {
        Detector {
            cfg,
            first_t: None,
            origin: 0.0,
            width: 1e-3,
            buckets: Vec::new(),
            samples: 0,
            judged: 0,
            last_t: 0.0,
            last_v: 0.0,
            cap: cap.clamp(16, MAX_BUCKETS),
            edge: f64::NEG_INFINITY,
        }
    }

    /// The settings this detector was made with.
    pub fn config(&self) -> DetectorConfig {
        self.cfg
    }

    /// The most buckets this detector keeps.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Number of samples fed in so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The most recent value fed in.
    pub fn last_value(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.last_v)
    }

    /// Approximate heap bytes held by the detector (constant once full).
    pub fn state_bytes(&self) -> usize {
        size_of::<Self>() + self.buckets.capacity() * size_of::<Bucket>()
    }

    /// The buckets currently held, oldest first.
    pub fn buckets(&self) -> Vec<BucketView> {
        let t0 = self.first_t.unwrap_or(0.0);
        self.buckets
            .iter()
            .map(|b| BucketView {
                t_first: b.t_first - t0,
                t_last: b.t_last - t0,
                min: b.min,
                max: b.max,
                mean: b.sum / b.count as f64,
                count: b.count,
            })
            .collect()
    }

    /// Feeds one sample: `t` in seconds (any origin, non-decreasing), `v` in bytes.
    /// Non-finite values are ignored; a time that goes backwards is taken as the last one.
    pub fn push(&mut self, t: f64, v: f64) {
        let Some(t) = self.admit(t, v) else {
            return;
        };
        let x = t - self.origin;
        // Most samples fall in the last bucket; this spares them the
        // division. Times never go back, so `x / width` (rounded) is at least
        // the last bucket's index; below the edge, it is less than that
        // index + 1 (the edge is (index + 1) * width, shrunk by far more than
        // its rounding, and the index is below 512).
        if x < self.edge
            && let Some(b) = self.buckets.last_mut()
        {
            b.add(t, v);
            return;
        }
        // `x` is never negative, so the cast floors it.
        let mut idx = (x / self.width) as u64;
        while idx >= self.cap as u64 {
            self.coarsen();
            idx = (x / self.width) as u64;
        }
        match self.buckets.last_mut() {
            Some(b) if b.idx == idx => b.add(t, v),
            _ => {
                // Grow to the cap and no further (a doubling would overshoot it).
                if self.buckets.len() == self.buckets.capacity() {
                    let want = (self.buckets.len() * 2).clamp(8, self.cap);
                    self.buckets.reserve_exact(want - self.buckets.len());
                }
                self.buckets.push(Bucket {
                    idx,
                    count: 1,
                    min: v,
                    max: v,
                    sum: v,
                    t_first: t,
                    t_last: t,
                });
            }
        }
        self.edge = (idx + 1) as f64 * self.width * EDGE_SHRINK;
    }

    /// Counts sample (`t`, `v`) and keeps it as the last one; its time (not
    /// before the last one's) when it is to be judged, `None` when it is
    /// not finite or falls inside the explicit warm-up.
    #[inline]
    fn admit(&mut self, t: f64, v: f64) -> Option<f64> {
        if !t.is_finite() || !v.is_finite() {
            return None;
        }
        let first = *self.first_t.get_or_insert(t);
        let t = if self.samples > 0 {
            t.max(self.last_t)
        } else {
            t
        };
        self.samples += 1;
        self.last_t = t;
        self.last_v = v;
        if let Some(w) = self.cfg.warmup
            && t - first < w
        {
            return None;
        }
        if self.judged == 0 {
            self.origin = t;
        }
        self.judged += 1;
        Some(t)
    }

    /// Doubles the bucket width, merging neighbours pairwise (in place: no
    /// allocation, and a scan's thousands of detectors coarsen often).
    fn coarsen(&mut self) {
        self.width *= 2.0;
        let mut kept = 0;
        for i in 0..self.buckets.len() {
            let b = self.buckets[i];
            let idx = b.idx / 2;
            if kept > 0 && self.buckets[kept - 1].idx == idx {
                self.buckets[kept - 1].merge(&b);
            } else {
                self.buckets[kept] = Bucket { idx, ..b };
                kept += 1;
            }
        }
        self.buckets.truncate(kept);
    }

    /// Seconds from the first to the last sample (0 before two samples).
    pub fn duration(&self) -> f64 {
        match self.first_t {
            Some(t0) if self.samples > 0 => self.last_t - t0,
            _ => 0.0,
        }
    }

    /// Judges the samples seen so far.
    pub fn verdict(&self) -> Verdict {
        decide::verdict(self)
    }
}

/// Judges a whole series at once (the offline path; same result as pushing each sample).
pub fn judge(cfg: DetectorConfig, samples: impl IntoIterator<Item = (f64, f64)>) -> Verdict {
    let mut d = Detector::new(cfg);
    for (t, v) in samples {
        d.push(t, v);
    }
    d.verdict()
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Detector {
        /// `push` as it was before the edge: every sample divided.
        fn push_dividing(&mut self, t: f64, v: f64) {
            let Some(t) = self.admit(t, v) else {
                return;
            };
            let mut idx = ((t - self.origin) / self.width).floor() as u64;
            while idx >= self.cap as u64 {
                self.coarsen();
                idx = ((t - self.origin) / self.width).floor() as u64;
            }
            match self.buckets.last_mut() {
                Some(b) if b.idx == idx => b.add(t, v),
                _ => self.buckets.push(Bucket {
                    idx,
                    count: 1,
                    min: v,
                    max: v,
                    sum: v,
                    t_first: t,
                    t_last: t,
                }),
            }
        }
    }

    /// Seeded runs whose times land on, just before and just after bucket
    /// ends (multiples of 1 ms × 2^k), in tiny and huge steps, some going
    /// back: the same buckets, bit for bit, as dividing every sample.
    #[test]
    fn the_edge_puts_every_sample_where_dividing_does() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for case in 0..3000 {
            let warmup = (case % 3 == 0).then_some(0.5);
            let cfg = DetectorConfig {
                warmup,
                ..DetectorConfig::default()
            };
            let cap = [16, 96, MAX_BUCKETS][case % 3];
            let (mut a, mut b) = (
                Detector::with_buckets(cfg, cap),
                Detector::with_buckets(cfg, cap),
            );
            let mut t = (rnd() % 1000) as f64 * 0.37;
            for _ in 0..(rnd() % 4000) {
                let r = rnd();
                let step = match r % 6 {
                    0 => 1e-3 * (1u64 << ((r >> 8) % 12)) as f64,
                    1 => f64::EPSILON * t.abs().max(1.0) * ((r >> 8) % 4) as f64,
                    2 => ((r >> 8) % 1000) as f64 * 1e-4,
                    3 => -(((r >> 8) % 100) as f64) * 1e-3,
                    4 => ((r >> 8) % 1000) as f64,
                    _ => 0.1,
                };
                t += step;
                let v = (r >> 20) as f64;
                a.push(t, v);
                b.push_dividing(t, v);
            }
            assert_eq!(a.width.to_bits(), b.width.to_bits(), "case {case}");
            assert_eq!(
                format!("{:?}", a.buckets),
                format!("{:?}", b.buckets),
                "case {case}"
            );
            assert_eq!((a.samples, a.judged), (b.samples, b.judged), "case {case}");
        }
    }
}
