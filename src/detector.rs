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
//! log: the state is a pure function of the samples fed in.

use serde::Serialize;

/// How many time buckets the detector keeps at most.
pub const MAX_BUCKETS: usize = 512;
/// Fewest judged samples before any verdict but `inconclusive`.
pub const MIN_SAMPLES: u64 = 10;
/// Fewest floor blocks a window needs to be tested.
const MIN_BLOCKS: usize = 6;
/// Fewest floor blocks a window needs when a regular swing was found.
const MIN_BLOCKS_PERIODIC: usize = 4;
/// Floor blocks aimed for over the whole judged run when there is no GC period.
const TARGET_BLOCKS: usize = 64;
/// One-sided Mann–Kendall z needed to call a leak (p ≈ 0.0013).
const Z_LEAK: f64 = 3.0;
/// z above which growth that is not yet a leak is `inconclusive` rather than `plateau`.
const Z_MAYBE: f64 = 2.5;
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
    /// The values are counts (file descriptors, threads), not bytes; only
    /// changes how the reason is worded.
    pub counts: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            warmup: None,
            min_rate: DEFAULT_MIN_RATE,
            counts: false,
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
    /// One sentence a person can check against a plot.
    pub reason: String,
    /// For `inconclusive`: roughly how much longer to watch, seconds.
    pub watch_more_s: Option<f64>,
    /// The floor series of the whole run: (seconds since first sample, bytes).
    pub floor: Vec<(f64, f64)>,
}

impl Verdict {
    /// Length of the judged window in seconds.
    pub fn window_s(&self) -> f64 {
        self.window_end_s - self.window_start_s
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
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
}

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
        Detector {
            cfg,
            first_t: None,
            origin: 0.0,
            width: 1e-3,
            buckets: Vec::with_capacity(MAX_BUCKETS),
            samples: 0,
            judged: 0,
            last_t: 0.0,
            last_v: 0.0,
        }
    }

    /// The settings this detector was made with.
    pub fn config(&self) -> DetectorConfig {
        self.cfg
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
        if !t.is_finite() || !v.is_finite() {
            return;
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
            return;
        }
        if self.judged == 0 {
            self.origin = t;
        }
        self.judged += 1;
        let mut idx = ((t - self.origin) / self.width).floor() as u64;
        while idx >= MAX_BUCKETS as u64 {
            self.coarsen();
            idx = ((t - self.origin) / self.width).floor() as u64;
        }
        match self.buckets.last_mut() {
            Some(b) if b.idx == idx => {
                b.count += 1;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
                b.sum += v;
                b.t_last = t;
            }
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

    /// Doubles the bucket width, merging neighbours pairwise.
    fn coarsen(&mut self) {
        self.width *= 2.0;
        let mut out: Vec<Bucket> = Vec::with_capacity(MAX_BUCKETS);
        for b in &self.buckets {
            let idx = b.idx / 2;
            match out.last_mut() {
                Some(o) if o.idx == idx => o.merge(b),
                _ => out.push(Bucket { idx, ..*b }),
            }
        }
        self.buckets = out;
    }

    /// Judges the samples seen so far.
    pub fn verdict(&self) -> Verdict {
        analyze_state(self)
    }
}

/// Statistics of one window of the floor.
#[derive(Debug, Clone, Copy)]
struct WindowStats {
    /// Floor blocks in the window.
    n: usize,
    /// How far the floor can drift from sampling a swing at few points.
    alias: f64,
    t_start: f64,
    t_end: f64,
    slope: f64,
    lo: f64,
    hi: f64,
    intercept: f64,
    z: f64,
    /// z needed to call a leak, given the window's effective sample size.
    z_crit: f64,
    noise: f64,
    /// Slope of the window's second half and its standard error.
    late: f64,
    late_se: f64,
    /// Slope of the window's first half, and whether its rise stands well
    /// clear of the second half's noise.
    early: f64,
    early_clear: bool,
    /// The recent floor is above every floor of the window's first half and
    /// (but for one block) every floor before the window.
    new_high: bool,
    /// Slope of the window's last quarter and its standard error.
    last: f64,
    last_se: f64,
}

impl WindowStats {
    fn rise(&self) -> f64 {
        self.slope * (self.t_end - self.t_start)
    }

    /// Growth is still going on at the end of the window: neither half-window
    /// check shows it has slowed to well under the window's rate.
    fn still_rising(&self) -> bool {
        let late_ok = self.late >= 0.5 * self.slope || self.late + 2.0 * self.late_se >= self.slope;
        let last_ok =
            self.last >= 0.3 * self.slope || self.last + 2.0 * self.last_se >= 0.6 * self.slope;
        late_ok && last_ok
    }

    /// Significant growth in the window's first half that has since slowed to
    /// well under its rate (a warm-up curve, a cache reaching its cap).
    fn levelled_off(&self, min_rate: f64) -> bool {
        self.early_clear
            && self.early >= min_rate
            && self.late < 0.3 * self.early
            && self.last < 0.3 * self.early
    }

    fn leaking(&self, min_rate: f64) -> bool {
        self.z >= self.z_crit
            && self.lo > 0.0
            && self.slope >= min_rate
            && self.rise() > 2.0 * self.noise
            && self.rise() > self.alias
            && self.new_high
            && self.early >= 0.25 * self.slope
            && self.still_rising()
    }
}

fn analyze_state(d: &Detector) -> Verdict {
    let t0 = d.first_t.unwrap_or(0.0);
    let duration = if d.samples > 0 { d.last_t - t0 } else { 0.0 };
    let explicit_warmup = d.cfg.warmup;
    let mut v = Verdict {
        kind: VerdictKind::Inconclusive,
        samples: d.samples,
        duration_s: duration,
        rate: 0.0,
        rate_ci95: [0.0, 0.0],
        baseline_start: d.last_v,
        baseline_end: d.last_v,
        window_start_s: explicit_warmup.unwrap_or(0.0).min(duration),
        window_end_s: duration,
        warmup_s: explicit_warmup.unwrap_or(0.0).min(duration),
        block_s: d.width,
        period_s: None,
        reason: String::new(),
        watch_more_s: None,
        floor: Vec::new(),
    };
    let interval = if d.samples > 1 {
        duration / (d.samples - 1) as f64
    } else {
        0.0
    };
    if d.judged < MIN_SAMPLES {
        let need = MIN_SAMPLES - d.judged;
        v.reason = if d.samples == 0 {
            "no samples to judge".to_string()
        } else if d.judged == 0 {
            format!("all {} samples fall inside the warm-up", d.samples)
        } else {
            format!(
                "only {} samples to judge; at least {MIN_SAMPLES} are needed",
                d.judged
            )
        };
        if interval > 0.0 {
            v.watch_more_s = Some(need as f64 * interval);
        }
        return v;
    }

    // Bucket minima and the GC period they show, if any.
    let period_buckets = dominant_period(&d.buckets);
    let nb_span = (d.buckets.last().unwrap().idx - d.buckets[0].idx + 1) as usize;
    let mut k = nb_span.div_ceil(TARGET_BLOCKS).max(1);
    if let Some((p, seen)) = period_buckets {
        // A block holds at least one trough; a period seen in few samples
        // gets more slack, because sampling may straddle the trough.
        let factor = if seen < 10 { 2.0 } else { 1.2 };
        k = k.max((p as f64 * factor).ceil() as usize);
    }
    let (floor, swing) = floor_blocks(&d.buckets, k, t0);
    // Sampling a swing at few points a period misses its troughs by up to a
    // step of the swing, and the miss drifts as the phases beat: growth must
    // exceed that to count.
    let alias = match period_buckets {
        Some((_, seen)) => swing / seen.max(1) as f64,
        None => 0.0,
    };
    v.block_s = d.width * k as f64;
    v.period_s = period_buckets.map(|(p, _)| p as f64 * d.width);
    let m = floor.len();
    // Windows that end now: the whole judged run, its last half, quarter, eighth.
    let windows = [m, m / 2, m / 4, m / 8];
    // A regular swing gives clean minima: fewer blocks can be judged (the
    // t-test asks more of few blocks, and a plateau must then be clearly flat).
    let min_blocks = if period_buckets.is_some() {
        MIN_BLOCKS_PERIODIC
    } else {
        MIN_BLOCKS
    };
    let stats: Vec<WindowStats> = windows
        .iter()
        .filter(|&&n| n >= min_blocks)
        .map(|&n| WindowStats {
            alias,
            ..window_stats(&floor, m - n)
        })
        .collect();
    if stats.is_empty() {
        let need_s = min_blocks as f64 * v.block_s;
        let judged_s = duration - v.warmup_s;
        v.watch_more_s = Some((need_s - judged_s).max(interval));
        v.reason = if period_buckets.is_some() {
            format!(
                "memory swings with a period of about {}; judging its floor needs a watch of at least {}",
                crate::units::format_secs(v.period_s.unwrap_or(v.block_s)),
                crate::units::format_secs(need_s)
            )
        } else {
            format!(
                "{} of data is too short to judge; watch at least {}",
                crate::units::format_secs(judged_s),
                crate::units::format_secs(need_s)
            )
        };
        v.floor = floor;
        return v;
    }

    v.floor = floor;
    let min_rate = d.cfg.min_rate;
    // Plateau and inconclusive are judged on the last half when it can be
    // tested (an automatic warm-up), else on all of it.
    let primary = if explicit_warmup.is_none() && stats.len() > 1 {
        stats[1]
    } else {
        stats[0]
    };
    // A short window's growth that is a sliver of what a longer window saw
    // before it levelled off is the tail of that curve, not a leak.
    let tail_of_curve = |i: usize, w: &WindowStats| {
        stats[..i]
            .iter()
            .any(|l| l.levelled_off(min_rate) && w.slope < 0.05 * l.early)
    };
    let chosen = stats
        .iter()
        .enumerate()
        .find(|(i, s)| s.leaking(min_rate) && !tail_of_curve(*i, s))
        .map(|(_, s)| *s);
    let w = chosen.unwrap_or(primary);
    v.rate = w.slope;
    v.rate_ci95 = [w.lo, w.hi];
    v.window_start_s = w.t_start;
    v.window_end_s = w.t_end;
    v.baseline_start = w.intercept + w.slope * w.t_start;
    v.baseline_end = w.intercept + w.slope * w.t_end;
    if explicit_warmup.is_none() {
        v.warmup_s = w.t_start;
    }
    let bytes = !d.cfg.counts;
    let fmt_rate = |r: f64| crate::metrics::format_rate(bytes, r, "h");
    let fmt_v = |x: f64| crate::metrics::format_value(bytes, x);
    let span = crate::units::format_secs(w.t_end - w.t_start);
    let floor_word = match v.period_s {
        Some(p) => format!("the floor under a {} swing", crate::units::format_secs(p)),
        None => "the floor".to_string(),
    };

    if chosen.is_some() {
        v.kind = VerdictKind::Leaking;
        v.reason = format!(
            "{floor_word} rose steadily by {} over the last {span} ({}, z = {:.1}) and is still rising",
            fmt_v(w.rise()),
            fmt_rate(w.slope),
            w.z
        );
        return v;
    }

    // Not a leak: plateau or can't tell, judged on the primary window.
    let p = primary;
    if p.levelled_off(min_rate) && p.z >= Z_MAYBE {
        v.kind = VerdictKind::Plateau;
        v.reason = format!(
            "{floor_word} rose by {} over the last {span} but has levelled off: its recent rate is {}",
            fmt_v(p.rise()),
            fmt_rate(p.late.min(p.last).max(0.0))
        );
    } else if p.slope < min_rate {
        v.kind = VerdictKind::Plateau;
        v.reason = if p.slope < 0.0 && p.z <= -Z_MAYBE {
            format!(
                "{floor_word} fell by {} over the last {span} ({})",
                fmt_v(-p.rise()),
                fmt_rate(p.slope)
            )
        } else {
            if p.noise == 0.0 && p.rise() == 0.0 {
                format!("{floor_word} did not change over the last {span}")
            } else {
                format!(
                    "{floor_word} held within {} over the last {span} ({}, below the {} threshold)",
                    fmt_v(p.noise.max(p.rise().abs())),
                    fmt_rate(p.slope),
                    fmt_rate(min_rate)
                )
            }
        };
    } else if (p.z >= Z_MAYBE
        && p.rise() > p.noise
        && p.still_rising()
        && !stats.iter().any(|s| s.levelled_off(min_rate)))
        || (p.n < MIN_BLOCKS && p.hi * (p.t_end - p.t_start) > 0.25 * swing)
    {
        v.kind = VerdictKind::Inconclusive;
        // z grows roughly as window^1.5 for a steady rate.
        let factor = (p.z_crit / p.z).powf(2.0 / 3.0);
        let judged = duration - v.warmup_s;
        v.watch_more_s = Some(judged * 2.0 * (factor - 1.0).max(0.1));
        v.reason = if p.n < MIN_BLOCKS && p.z < Z_MAYBE {
            format!(
                "{floor_word} is seen over only {} swings: too few to rule out growth of up to {}",
                p.n,
                fmt_rate(p.hi)
            )
        } else {
            format!(
                "{floor_word} may be rising ({}, z = {:.1}) but the noise ({}) is too large to be sure over {span}",
                fmt_rate(p.slope),
                p.z,
                fmt_v(p.noise)
            )
        };
    } else {
        v.kind = VerdictKind::Plateau;
        let noisy = p.z < Z_MAYBE || p.rise() <= p.noise;
        v.reason = if noisy && p.z >= 1.96 && p.rise() > 0.0 {
            format!(
                "{floor_word} crept up by {} over the last {span} ({}), not significant against its noise of {} (z = {:.1}, {Z_MAYBE} needed to suspect growth)",
                fmt_v(p.rise()),
                fmt_rate(p.slope),
                fmt_v(p.noise),
                p.z
            )
        } else if noisy {
            format!(
                "{floor_word} shows no growth beyond its noise of {} over the last {span} ({}, z = {:.1})",
                fmt_v(p.noise),
                fmt_rate(p.slope),
                p.z
            )
        } else if !p.new_high {
            format!(
                "{floor_word} moved by {} over the last {span} but stayed within its earlier range: it wanders, it does not climb",
                fmt_v(p.rise())
            )
        } else {
            format!(
                "{floor_word} rose by {} over the last {span} but is levelling off: its recent rate is {}",
                fmt_v(p.rise()),
                fmt_rate(p.late.min(p.last).max(0.0))
            )
        };
    }
    v
}

/// The floor: minima of blocks of `k` bucket widths, aligned so the last block
/// ends with the newest bucket, as (seconds since first sample, bytes); and the
/// median swing within a block (max − min).
fn floor_blocks(buckets: &[Bucket], k: usize, t0: f64) -> (Vec<(f64, f64)>, f64) {
    struct Block {
        no: u64,
        min: f64,
        max: f64,
        t_first: f64,
        t_last: f64,
    }
    let last = buckets.last().unwrap().idx;
    let mut out: Vec<Block> = Vec::new();
    for b in buckets {
        let no = (last - b.idx) / k as u64;
        match out.last_mut() {
            Some(cur) if cur.no == no => {
                cur.min = cur.min.min(b.min);
                cur.max = cur.max.max(b.max);
                cur.t_last = b.t_last;
            }
            _ => out.push(Block {
                no,
                min: b.min,
                max: b.max,
                t_first: b.t_first,
                t_last: b.t_last,
            }),
        }
    }
    // The oldest block may be partial (it starts mid-block): drop it when
    // enough others remain.
    let first_idx = buckets[0].idx;
    if out.len() > 4 && k > 1 {
        let full_start = last.saturating_sub((out[0].no + 1) * k as u64 - 1);
        if first_idx > full_start + (k as u64) / 4 {
            out.remove(0);
        }
    }
    let mut ranges: Vec<f64> = out.iter().map(|b| b.max - b.min).collect();
    let swing = median(&mut ranges);
    let floor = out
        .iter()
        .map(|b| ((b.t_first + b.t_last) / 2.0 - t0, b.min))
        .collect();
    (floor, swing)
}

/// The dominant period of the bucket minima, in bucket widths and in buckets
/// holding samples, if there is a clear one. (Buckets may be sparse when samples are further apart than a
/// bucket is wide: the lag found between samples is scaled by their spacing.)
fn dominant_period(buckets: &[Bucket]) -> Option<(usize, usize)> {
    let n = buckets.len();
    if n < 32 {
        return None;
    }
    let x: Vec<f64> = buckets.iter().map(|b| b.min).collect();
    let xs: Vec<f64> = buckets.iter().map(|b| b.idx as f64).collect();
    // Remove a least-squares line so a trend does not masquerade as a long period.
    let mx = xs.iter().sum::<f64>() / n as f64;
    let my = x.iter().sum::<f64>() / n as f64;
    let sxx: f64 = xs.iter().map(|a| (a - mx) * (a - mx)).sum();
    let sxy: f64 = xs.iter().zip(&x).map(|(a, b)| (a - mx) * (b - my)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let r: Vec<f64> = xs
        .iter()
        .zip(&x)
        .map(|(a, y)| y - my - b * (a - mx))
        .collect();
    let var: f64 = r.iter().map(|a| a * a).sum();
    if var <= 0.0 {
        return None;
    }
    // A swing wider than the buckets moves their minima by much more than
    // each bucket's own range; tiny ripples (aliasing) are not a swing.
    // Nor is a wobble of a hair around a clean trend.
    let mut ranges: Vec<f64> = buckets.iter().map(|b| b.max - b.min).collect();
    let typical_range = median(&mut ranges);
    let spread =
        x.iter().copied().fold(f64::MIN, f64::max) - x.iter().copied().fold(f64::MAX, f64::min);
    if (var / n as f64).sqrt() < (0.2 * typical_range).max(0.02 * spread) {
        return None;
    }
    let max_lag = n / 4;
    let acf = |l: usize| -> f64 { (0..n - l).map(|i| r[i] * r[i + l]).sum::<f64>() / var };
    let mut crossed = None;
    for l in 1..=max_lag {
        if acf(l) < 0.0 {
            crossed = Some(l);
            break;
        }
    }
    let start = crossed?;
    let mut best = (0usize, f64::MIN);
    for l in start..=max_lag {
        let a = acf(l);
        if a > best.1 {
            best = (l, a);
        }
    }
    // A periodic swing shows a clear second peak; noise and trends do not.
    let repeats = 2 * best.0 >= n / 2 || acf(2 * best.0) > 0.1;
    if best.1 >= 0.3 && best.0 >= 2 && repeats {
        let mut gaps: Vec<f64> = buckets
            .windows(2)
            .map(|w| (w[1].idx - w[0].idx) as f64)
            .collect();
        let spacing = median(&mut gaps).max(1.0);
        Some(((best.0 as f64 * spacing).round() as usize, best.0))
    } else {
        None
    }
}

/// Theil–Sen slope, its 95% interval, intercept, z (slope over its standard
/// error) and the residuals' robust noise scale.
fn theil_sen(pts: &[(f64, f64)]) -> (f64, f64, f64, f64, f64, f64, f64) {
    let n = pts.len();
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dt = pts[j].0 - pts[i].0;
            let dv = pts[j].1 - pts[i].1;
            if dt > 0.0 {
                slopes.push(dv / dt);
            }
        }
    }
    slopes.sort_by(|a, b| a.total_cmp(b));
    let slope = median_sorted(&slopes);
    let mut resid: Vec<f64> = pts.iter().map(|(t, y)| y - slope * t).collect();
    let intercept = median(&mut resid.clone());
    for r in resid.iter_mut() {
        *r -= intercept;
    }
    let noise = 1.4826 * median(&mut resid.iter().map(|r| r.abs()).collect::<Vec<_>>());
    // An honest standard error: the residuals' robust scale, widened for
    // lag-1 autocorrelation (slow wander makes neighbouring blocks alike).
    let nf = n as f64;
    let rms = (resid.iter().map(|r| r * r).sum::<f64>() / nf).sqrt();
    let scale = noise.max(rms);
    // Integrated autocorrelation time of the residuals (sum of the
    // autocorrelations up to the first one that is not positive).
    let rv: f64 = resid.iter().map(|r| r * r).sum();
    let mut tau_int = 1.0;
    if rv > 0.0 && n > 3 {
        for lag in 1..n / 2 {
            let r = resid[lag..]
                .iter()
                .zip(&resid)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / rv;
            if r <= 0.0 {
                break;
            }
            tau_int += 2.0 * r;
        }
    }
    let tau_int = tau_int.min(nf / 3.0).max(1.0);
    let tm = pts.iter().map(|p| p.0).sum::<f64>() / nf;
    let stt: f64 = pts.iter().map(|p| (p.0 - tm) * (p.0 - tm)).sum();
    let se = if stt > 0.0 {
        scale / stt.sqrt() * tau_int.sqrt()
    } else {
        f64::INFINITY
    };
    let z = if slope == 0.0 {
        0.0
    } else if se > 0.0 {
        slope / se
    } else {
        slope.signum() * f64::INFINITY
    };
    // Few effectively independent blocks call for a wider interval (Student's t).
    let neff = (nf / tau_int).max(3.0);
    let tq = t_quantile_975(neff - 2.0);
    let (lo, hi) = (slope - tq * se, slope + tq * se);
    (slope, lo, hi, intercept, z, noise, neff)
}

fn window_stats(floor: &[(f64, f64)], start: usize) -> WindowStats {
    let pts = &floor[start..];
    // Before the window: the highest floor but one (one odd block is forgiven).
    let mut before: Vec<f64> = floor[..start].iter().map(|p| p.1).collect();
    before.sort_by(|a, b| b.total_cmp(a));
    let history_max = before
        .get(1)
        .or(before.first())
        .copied()
        .unwrap_or(f64::MIN);
    let n = pts.len();
    let (slope, lo, hi, intercept, z, noise, neff) = theil_sen(pts);
    let half = &pts[n / 2..];
    let (late, late_lo, late_hi, _, _, late_noise, _) = theil_sen(half);
    let early_pts = &pts[..n / 2 + 1];
    let (early, ..) = theil_sen(early_pts);
    let early_rise = early * (early_pts[early_pts.len() - 1].0 - early_pts[0].0);
    let quarter = &pts[n - (n / 4).max(3)..];
    // A leak sets new highs: the recent floor is above all of the first half's.
    let mut recent: Vec<f64> = pts[n - (n / 8).max(3)..].iter().map(|p| p.1).collect();
    let first_half_max = pts[..n / 2].iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let new_high = median(&mut recent) > first_half_max.max(history_max);
    let (last, last_lo, last_hi, ..) = theil_sen(quarter);
    WindowStats {
        n,
        alias: 0.0,
        t_start: pts[0].0,
        t_end: pts[n - 1].0,
        slope,
        lo,
        hi,
        intercept,
        z,
        z_crit: t_quantile(Z_LEAK, neff - 2.0),
        noise,
        late,
        late_se: (late_hi - late_lo) / 3.92,
        early,
        early_clear: early_rise > 4.0 * late_noise,
        new_high,
        last,
        last_se: (last_hi - last_lo) / 3.92,
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
fn t_quantile_975(df: f64) -> f64 {
    t_quantile(1.959_964, df)
}

/// The quantile of Student's t with `df` degrees of freedom at the normal
/// quantile `z` (Cornish–Fisher expansion; within a few percent for df ≥ 3).
fn t_quantile(z: f64, df: f64) -> f64 {
    let df = df.max(1.0);
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    z + g1 / df + g2 / (df * df) + g3 / df.powi(3)
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    median_sorted(v)
}

/// Judges a whole series at once (the offline path; same result as pushing each sample).
pub fn judge(cfg: DetectorConfig, samples: impl IntoIterator<Item = (f64, f64)>) -> Verdict {
    let mut d = Detector::new(cfg);
    for (t, v) in samples {
        d.push(t, v);
    }
    d.verdict()
}
