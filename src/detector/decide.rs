//! Judging the detector's state: the floor, the windows that end now, and the
//! verdict with the finding behind it.

use super::fit::line_fit;
use super::floor::{Floor, Period, dominant_period, floor_blocks};
use super::window::{WindowStats, rose_and_fell_before, window_stats};
use super::{Detector, Finding, Hold, MIN_SAMPLES, Verdict, VerdictKind};

/// Fewest floor blocks a window needs to be tested.
const MIN_BLOCKS: usize = 6;
/// Fewest floor blocks a window needs when a regular swing was found.
const MIN_BLOCKS_PERIODIC: usize = 4;
/// Fewer residuals than this say next to nothing of their autocorrelation.
const FEW_TO_CORRELATE: usize = 12;
/// Floor blocks aimed for over the whole judged run when there is no GC period.
const TARGET_BLOCKS: usize = 64;
/// z above which growth that is not yet a leak is `inconclusive` rather than `plateau`.
pub(crate) const Z_MAYBE: f64 = 2.5;

/// Judges the samples `d` has seen.
pub(crate) fn verdict(d: &Detector) -> Verdict {
    let mut v = empty_verdict(d);
    if d.judged < MIN_SAMPLES {
        too_few_samples(d, &mut v);
        return v;
    }
    let (floor, period) = find_floor(d, &mut v);
    let min_blocks = if period.is_some() {
        // A regular swing gives clean minima: fewer blocks can be judged (the
        // t-test asks more of few blocks, and a plateau must then be clearly flat).
        MIN_BLOCKS_PERIODIC
    } else {
        MIN_BLOCKS
    };
    // Sampling a swing at few points a period misses its troughs by up to a
    // step of the swing, and the miss drifts as the phases beat: growth must
    // exceed that to count.
    // The miss is no more than the step from a trough to its neighbours,
    // which memory that rests at its floor between swings barely shows.
    let alias = period.map_or(0.0, |p| {
        (floor.swing_high / p.seen.max(1) as f64).min(floor.trough_step)
    });
    let m = floor.points.len();
    // Slow wander is measured on the buckets, finer than the blocks (a
    // swing's buckets are no floor: there the blocks' own measure serves).
    let k = (v.block_s / d.width).round().max(1.0);
    let t0 = d.first_t.unwrap_or(0.0);
    let bucket_pts: Vec<(f64, f64)> = match period {
        None => d
            .buckets
            .iter()
            .map(|b| ((b.t_first + b.t_last) / 2.0 - t0, b.min))
            .collect(),
        Some(_) => Vec::new(),
    };
    let tau = |start: usize| match floor.points.get(start) {
        Some(p) if period.is_none() => {
            let from = bucket_pts.partition_point(|b| b.0 < p.0);
            Some(bucket_tau(&bucket_pts[from..]) / k)
        }
        // A swing's minima, each from troughs of its own block (the drift
        // of sampling them is the alias test's): in fewer blocks than
        // their correlation can be measured from, they count as independent.
        _ if m - start < FEW_TO_CORRELATE => None,
        _ => Some(1.0),
    };
    // Windows that end now: the whole judged run, its last half, quarter, eighth.
    let stats: Vec<WindowStats> = [m, m / 2, m / 4, m / 8]
        .iter()
        .filter(|&&n| n >= min_blocks)
        .map(|&n| window_stats(&floor.points, m - n, alias, tau(m - n)))
        .collect();
    let swing = (floor.swing, floor.swing_high);
    v.floor = floor.points;
    if stats.is_empty() {
        too_short(d, &mut v, period.is_some(), min_blocks);
        return v;
    }
    let judged = judge_windows(d, &mut v, &stats, swing);
    honest_plateau(d, &mut v, judged.curve);
    if v.kind == VerdictKind::Inconclusive
        && let Some((w, drop)) = judged.swing_held
    {
        held_by_swing(d, &mut v, &w, drop, stats[0].t_start);
    }
    v
}

/// What [`judge_windows`] found besides the verdict it wrote.
struct Judged {
    /// When a warm-up curve explains the growth: the curve's rate now.
    curve: Option<f64>,
    /// The first window whose growth passed every test of a leak but the
    /// swing's, with the fall it did not outgrow.
    swing_held: Option<(WindowStats, f64)>,
}

/// `inconclusive` on window `w`, whose growth passed every test of a leak
/// but is no larger than a fall of `drop` the floor has shown: the
/// verdict's numbers and reason are that window's.
fn held_by_swing(d: &Detector, v: &mut Verdict, w: &WindowStats, drop: f64, first_start: f64) {
    take_window(v, w, first_start, d.cfg.warmup.is_some());
    let held = Hold::Swing {
        rise: w.fit.lo * w.span(),
        swing: drop,
    };
    let judged_s = d.duration() - v.warmup_s;
    v.watch_more_s = Some(watch_more(w, Some(held), judged_s));
    v.finding = Finding::MayBeRising {
        rate: w.slope(),
        z: w.fit.z,
        span_s: w.span(),
        held,
    };
}

/// `plateau` only where the data rules out growth at `min_rate`: the
/// interval's upper bound lies below it, or a fitted warm-up curve
/// (`explained`: its rate now) accounts for the growth and both the
/// curve's rate now and the recent rate shown are below it;
/// else `inconclusive`, with how much longer the interval needs to narrow
/// that far.
fn honest_plateau(d: &Detector, v: &mut Verdict, explained: Option<f64>) {
    let min_rate = d.cfg.min_rate;
    let up_to = v.rate_ci95[1];
    // The curve's slope at the end can be flat while the floor after the
    // curve's rise still climbs (a start-up step, then a slow leak): the
    // recent rate, which the report shows, must be below the minimum too.
    let levelled = explained.is_some_and(|rate_now| rate_now < min_rate) && v.rate < min_rate;
    if v.kind != VerdictKind::Plateau || up_to < min_rate || levelled {
        return;
    }
    let span_s = v.window_end_s - v.window_start_s;
    v.kind = VerdictKind::Inconclusive;
    let slowing = matches!(
        v.finding,
        Finding::LevelledOff { .. } | Finding::LevellingOff { .. }
    );
    v.finding = Finding::NotRuledOut {
        rate: v.rate,
        slowing,
        from: v.rate_ci95[0],
        up_to,
        min_rate,
        span_s,
    };
    // How much longer until the interval is narrow enough. Its half-width
    // shrinks about as the run's length to the power 1.15 (measured on flat
    // series, whose floor minima narrow it more slowly than white noise
    // would, and from 0.8 to 1.4 from run to run). It must come to half
    // the gap between the rate and the minimum, or for a rate above the
    // minimum, half the rate: room for the rate to move and for a run
    // whose interval narrows slowly (on flat seeded runs, about 4 in 5 then
    // rule the minimum out; aiming at three quarters of the gap, 3 in 5). The
    // rate is taken as at least 0: a falling estimate over a flat floor
    // comes back up as the run grows.
    let judged_s = d.duration() - v.warmup_s;
    if v.rate_ci95[0] >= min_rate {
        // Growth faster than the minimum that failed a leak's other tests
        // (it slows, or is not yet steady): as long again shows whether
        // it levels off or goes on.
        v.watch_more_s = Some(span_s.max(0.1 * judged_s));
        return;
    }
    let half = (up_to - v.rate).max(f64::MIN_POSITIVE);
    let rate = v.rate.max(0.0);
    let aim = 0.5
        * if rate < min_rate {
            min_rate - rate
        } else {
            rate
        };
    let factor = (half / aim.max(1e-3 * half)).powf(1.0 / 1.15);
    v.watch_more_s = Some((judged_s * (factor - 1.0)).max(0.1 * judged_s));
}

/// The autocorrelation time, in buckets, of bucket minima `pts` (seconds,
/// value) about their least-squares line.
fn bucket_tau(pts: &[(f64, f64)]) -> f64 {
    if pts.len() < 16 {
        return 1.0;
    }
    let (a, b) = line_fit(pts);
    let resid: Vec<f64> = pts.iter().map(|p| p.1 - a - b * p.0).collect();
    // As for a first-order autoregression (slow wander is one): from the
    // lag-one correlation alone, which keeps a verdict cheap.
    let rv: f64 = resid.iter().map(|r| r * r).sum();
    let r1 = resid.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / rv;
    let r1 = if r1.is_finite() {
        r1.clamp(0.0, 0.99)
    } else {
        0.0
    };
    (1.0 + r1) / (1.0 - r1)
}

/// An `inconclusive` verdict with nothing judged yet.
fn empty_verdict(d: &Detector) -> Verdict {
    let duration = d.duration();
    let warmup = d.cfg.warmup.unwrap_or(0.0).min(duration);
    Verdict {
        kind: VerdictKind::Inconclusive,
        finding: Finding::NoSamples,
        samples: d.samples,
        duration_s: duration,
        rate: 0.0,
        rate_ci95: [0.0, 0.0],
        baseline_start: d.last_v,
        baseline_end: d.last_v,
        window_start_s: warmup,
        window_end_s: duration,
        warmup_s: warmup,
        block_s: d.width,
        period_s: None,
        watch_more_s: None,
        floor: Vec::new(),
        last: d.last_v,
    }
}

/// Mean seconds between samples (0 for fewer than two).
fn interval(d: &Detector) -> f64 {
    if d.samples > 1 {
        d.duration() / (d.samples - 1) as f64
    } else {
        0.0
    }
}

fn too_few_samples(d: &Detector, v: &mut Verdict) {
    let needed = MIN_SAMPLES - d.judged;
    v.finding = if d.samples == 0 {
        Finding::NoSamples
    } else if d.judged == 0 {
        Finding::AllInWarmup { samples: d.samples }
    } else {
        Finding::TooFewSamples {
            judged: d.judged,
            needed: MIN_SAMPLES,
        }
    };
    // The warm-up still to come, then the samples still needed.
    let warmup_left = (d.cfg.warmup.unwrap_or(0.0) - d.duration()).max(0.0);
    let interval = interval(d);
    if interval > 0.0 {
        v.watch_more_s = Some(warmup_left + needed as f64 * interval);
    }
}

/// The floor blocks (at least a GC period wide) and the period, if any;
/// records both widths in `v`.
fn find_floor(d: &Detector, v: &mut Verdict) -> (Floor, Option<Period>) {
    let period = dominant_period(&d.buckets);
    let (first, last) = (d.buckets[0].idx, d.buckets[d.buckets.len() - 1].idx);
    let nb_span = (last - first + 1) as usize;
    let mut k = nb_span.div_ceil(TARGET_BLOCKS).max(1);
    if let Some(p) = period {
        // A block holds at least one trough; a period seen in few samples
        // gets more slack, because sampling may straddle the trough.
        let factor = if p.seen < 10 { 2.0 } else { 1.2 };
        k = k.max((p.buckets as f64 * factor).ceil() as usize);
    }
    let t0 = d.first_t.unwrap_or(0.0);
    v.block_s = d.width * k as f64;
    v.period_s = period.map(|p| p.buckets as f64 * d.width);
    (floor_blocks(&d.buckets, k, t0), period)
}

fn too_short(d: &Detector, v: &mut Verdict, periodic: bool, min_blocks: usize) {
    let need_s = min_blocks as f64 * v.block_s;
    let judged_s = d.duration() - v.warmup_s;
    v.watch_more_s = Some((need_s - judged_s).max(interval(d)));
    v.finding = if periodic {
        Finding::SwingTooLong {
            period_s: v.period_s.unwrap_or(v.block_s),
            need_s,
        }
    } else {
        Finding::TooShort { judged_s, need_s }
    };
}

/// The verdict from the windows: a leak in the first window that shows one,
/// else plateau or inconclusive on the primary window.
fn judge_windows(
    d: &Detector,
    v: &mut Verdict,
    stats: &[WindowStats],
    swing: (f64, f64),
) -> Judged {
    let (swing, _swing_high) = swing;
    let explicit_warmup = d.cfg.warmup.is_some();
    let min_rate = d.cfg.min_rate;
    let primary = primary_window(stats, explicit_warmup, min_rate);
    // A short window's growth that is a sliver of what a longer window saw
    // before it levelled off is the tail of that curve, not a leak.
    let tail_of_curve = |i: usize, w: &WindowStats| {
        stats[..i]
            .iter()
            .any(|l| l.levelled_off(min_rate) && w.slope() < 0.05 * l.early)
    };
    // A climb in a part of the run no larger than one the floor made well
    // before it and half undid is a wander, not a leak yet.
    let m = v.floor.len();
    let seen_before =
        |i: usize, s: &WindowStats| i > 0 && rose_and_fell_before(&v.floor, m - s.n, s.n, s.rise());
    // A window shorter than a few periods of a swing (or one whose period
    // is not known yet) can be on a swing's rising phase: its growth must
    // clear the swing's height, even at the interval's lower bound.
    let period = v.period_s;
    let drops = swing_drop(&v.floor);
    let past_the_swing = |s: &WindowStats| {
        // Falls within the floor's noise are no swing.
        drops <= 3.0 * s.fit.noise
            || period.is_some_and(|p| s.span() >= 3.0 * p)
            || s.fit.lo * s.span() > drops
    };
    // Each window passes every test of a leak but the swing's, or not
    // (judged once: a leak is past the swing too, a held one is not).
    let passes: Vec<bool> = stats
        .iter()
        .enumerate()
        .map(|(i, s)| s.leaking(min_rate) && !tail_of_curve(i, s) && !seen_before(i, s))
        .collect();
    let swing_held = stats
        .iter()
        .zip(&passes)
        .find(|(s, passes)| **passes && !past_the_swing(s))
        .map(|(s, _)| (*s, drops));
    // Growth that a warm-up curve flattening towards its ceiling explains
    // is that curve's tail, however steady it looks in a short window.
    let mut curve: Option<f64> = None;
    let chosen = stats
        .iter()
        .zip(&passes)
        .find(|(s, passes)| **passes && past_the_swing(s))
        .filter(|(s, _)| {
            curve = if explicit_warmup {
                None
            } else {
                warmup_curve(&v.floor, s)
            };
            curve.is_none()
        })
        .map(|(s, _)| {
            // A window over the bend where growth began reports the growth
            // from the bend, not its rate diluted by the flat part before.
            from_bend(&v.floor, s)
                .filter(|b| b.leaking(min_rate))
                .unwrap_or(*s)
        });
    let w = chosen.unwrap_or(primary);
    take_window(v, &w, stats[0].t_start, explicit_warmup);
    if chosen.is_some() {
        v.kind = VerdictKind::Leaking;
        v.finding = Finding::StillRising {
            rise: w.rise(),
            span_s: w.span(),
            rate: w.slope(),
            z: w.fit.z,
        };
        return Judged {
            curve: None,
            swing_held: None,
        };
    }
    let judged_s = d.duration() - v.warmup_s;
    not_a_leak(v, &primary, stats, swing, min_rate, judged_s);
    if curve.is_none()
        && v.kind == VerdictKind::Plateau
        && !explicit_warmup
        && v.rate_ci95[1] >= min_rate
    {
        // Growth a line cannot rule out, which a warm-up curve may explain.
        curve = warmup_curve(&v.floor, &primary);
    }
    if let Some(rate_now) = curve {
        on_a_curve(v, &primary, rate_now);
    }
    rest_on(v, &primary, explicit_warmup, min_rate);
    Judged { curve, swing_held }
}

/// The window plateau and inconclusive are judged on: the last half when
/// it can be tested and the start looks like a warm-up (unless the warm-up
/// was given), else all of the judged run.
fn primary_window(stats: &[WindowStats], explicit_warmup: bool, min_rate: f64) -> WindowStats {
    let warmup_seen = stats[0].early_z >= Z_MAYBE || stats[0].levelled_off(min_rate);
    if !explicit_warmup && stats.len() > 1 && warmup_seen {
        stats[1]
    } else {
        stats[0]
    }
}

/// A plateau: the growth of the `primary` window is a warm-up curve's,
/// levelling off, rising `rate_now` now.
fn on_a_curve(v: &mut Verdict, primary: &WindowStats, rate_now: f64) {
    v.kind = VerdictKind::Plateau;
    v.watch_more_s = None;
    v.finding = Finding::LevellingOff {
        rise: primary.rise(),
        span_s: primary.span(),
        recent_rate: primary.recent_rate(),
        recent_s: primary.t_end - primary.recent().1,
        curve_rate: Some(rate_now),
    };
}

/// The verdict's numbers from window `w`: its rate and 95% interval, its
/// ends and baseline; unless the warm-up was given, what comes before it
/// is set aside as warm-up (nothing, for a window from the first block,
/// which starts at `first_start`).
fn take_window(v: &mut Verdict, w: &WindowStats, first_start: f64, explicit_warmup: bool) {
    v.rate = w.slope();
    v.rate_ci95 = [w.fit.lo, w.fit.hi];
    v.window_start_s = w.t_start;
    v.window_end_s = w.t_end;
    v.baseline_start = w.fit.intercept + w.slope() * w.t_start;
    v.baseline_end = w.fit.intercept + w.slope() * w.t_end;
    if !explicit_warmup {
        v.warmup_s = if w.t_start > first_start {
            w.t_start
        } else {
            0.0
        };
    }
}

/// Not a leak: the verdict rests on the recent part of growth that levelled
/// off (what came before it is set aside as a warm-up), else on the primary
/// window; their rate and interval are the ones to show.
fn rest_on(v: &mut Verdict, primary: &WindowStats, explicit_warmup: bool, min_rate: f64) {
    if matches!(
        v.finding,
        Finding::LevelledOff { .. } | Finding::LevellingOff { .. }
    ) {
        // Growth that levelled off: the verdict rests on the recent part,
        // whose rate and interval are the ones to show.
        let (f, start) = primary.recent();
        show(v, &f, start);
        if !explicit_warmup {
            v.warmup_s = start;
        }
        // The reason's recent rate is the one shown.
        if let Finding::LevelledOff { recent_rate, .. }
        | Finding::LevellingOff { recent_rate, .. } = &mut v.finding
        {
            *recent_rate = f.slope;
        }
        if let Finding::LevelledOff {
            rise,
            span_s,
            recent_rate,
            recent_s,
        } = v.finding
            && f.lo > min_rate
        {
            // Still rising faster than a leak's minimum: not levelled off
            // yet, only levelling off.
            v.finding = Finding::LevellingOff {
                rise,
                span_s,
                recent_rate,
                recent_s,
                curve_rate: None,
            };
        }
    }
}

/// How far the floor fell back from a high it had reached, as a swing's
/// height: the second-largest fall from a running high (one fall is a
/// drop, as a compaction makes; falls that repeat are a swing). The
/// largest fall counts too while the climb since its low has lasted no
/// longer than twice the stretch before its high: that stretch is part
/// of a swing's rise, on average half a period, so until then the floor
/// has not shown whether it falls again (a swing's next trough: a few
/// GC peaks that grow over a flat floor) or keeps climbing (a leak after
/// a one-off drop).
fn swing_drop(floor: &[(f64, f64)]) -> f64 {
    let Some(&(t_first, first)) = floor.first() else {
        return 0.0;
    };
    let t_last = floor[floor.len() - 1].0;
    // The running high and the low since it: (value, time) each.
    let (mut high, mut low) = ((first, t_first), (first, t_first));
    // Each fall: (height, time of its high, time of its low).
    let mut falls: Vec<(f64, f64, f64)> = Vec::new();
    for &(t, v) in floor {
        if v > high.0 {
            if high.0 > low.0 {
                falls.push((high.0 - low.0, high.1, low.1));
            }
            (high, low) = ((v, t), (v, t));
        } else if v < low.0 {
            low = (v, t);
        }
    }
    if high.0 > low.0 {
        falls.push((high.0 - low.0, high.1, low.1));
    }
    falls.sort_by(|a, b| b.0.total_cmp(&a.0));
    match falls.first() {
        Some(&(height, at_high, at_low)) if t_last - at_low <= 2.0 * (at_high - t_first) => height,
        _ => falls.get(1).map_or(0.0, |f| f.0),
    }
}

/// Shows `f`, fitted from `start` to the window's end, as the verdict's rate.
fn show(v: &mut Verdict, f: &super::fit::Fit, start: f64) {
    v.rate = f.slope;
    v.rate_ci95 = [f.lo, f.hi];
    v.window_start_s = start;
    v.baseline_start = f.intercept + f.slope * start;
    v.baseline_end = f.intercept + f.slope * v.window_end_s;
}

/// When a warm-up curve flattening towards a ceiling (value = c − a·e^(−t/τ),
/// τ at most a fifth of the run) fits the whole floor far better than a line
/// and leaves no significant growth of its own in window `w`: its rate now
/// (the curve's slope at the end).
fn warmup_curve(floor: &[(f64, f64)], w: &WindowStats) -> Option<f64> {
    let n = floor.len();
    if n < 12 {
        return None;
    }
    let t0 = floor[0].0;
    let span = floor[n - 1].0 - t0;
    let line = line_sse(floor);
    // The curve for a given τ: (squared error, c, d) with value = c + d·e^(−t/τ).
    let fit = |tau: f64| {
        let pts: Vec<(f64, f64)> = floor
            .iter()
            .map(|p| ((-(p.0 - t0) / tau).exp(), p.1))
            .collect();
        let (c, d) = line_fit(&pts);
        let sse: f64 = pts.iter().map(|p| (p.1 - c - d * p.0).powi(2)).sum();
        (sse, c, d)
    };
    // τ from 3% to 19% of the run on a grid 20% apart, then refined between
    // the best one's neighbours (a τ between steps leaves a trend in the
    // residuals that low noise makes significant).
    let grid = |i: i32| span * 0.03 * 1.2f64.powi(i);
    let mut best: Option<(f64, i32)> = None;
    for i in 0..11 {
        let (sse, _, d) = fit(grid(i));
        // Rising towards the ceiling: the exponential's weight is negative.
        if d < 0.0 && best.is_none_or(|b| sse < b.0) {
            best = Some((sse, i));
        }
    }
    let (_, i) = best?;
    // Golden-section search, one new fit a step.
    const G: f64 = 0.381_966;
    let (mut lo, mut hi) = (grid(i - 1), grid(i + 1));
    let (mut a, mut b) = (lo + G * (hi - lo), hi - G * (hi - lo));
    let (mut fa, mut fb) = (fit(a).0, fit(b).0);
    for _ in 0..12 {
        if fa < fb {
            (hi, b, fb) = (b, a, fa);
            a = lo + G * (hi - lo);
            fa = fit(a).0;
        } else {
            (lo, a, fa) = (a, b, fb);
            b = hi - G * (hi - lo);
            fb = fit(b).0;
        }
    }
    let tau = (lo + hi) / 2.0;
    let (sse, c, d) = fit(tau);
    if d >= 0.0 {
        return None;
    }
    if sse > 0.25 * line {
        return None;
    }
    let resid: Vec<(f64, f64)> = floor
        .iter()
        .filter(|p| p.0 >= w.t_start)
        .map(|p| (p.0, p.1 - c - d * (-(p.0 - t0) / tau).exp()))
        .collect();
    if resid.len() < 4 {
        return None;
    }
    let r = super::fit::theil_sen(&resid);
    // The curve's slope at the last block (what is left in `w` is no
    // significant growth).
    let end = floor[n - 1].0 - t0;
    (r.z < Z_MAYBE).then_some(-d / tau * (-end / tau).exp())
}

/// For window `w` that holds a bend (flat, then rising), the window from
/// the bend: where a flat mean before and a line after fit the floor with
/// less than half the squared error of one line.
fn from_bend(floor: &[(f64, f64)], w: &WindowStats) -> Option<WindowStats> {
    let start = floor.iter().position(|p| p.0 >= w.t_start)?;
    let pts = &floor[start..];
    let n = pts.len();
    if n < 2 * MIN_BLOCKS {
        return None;
    }
    let one_line = line_sse(pts);
    let mut best: Option<(f64, usize)> = None;
    for j in 2..=n - MIN_BLOCKS {
        let (flat, rising) = pts.split_at(j);
        let mean = flat.iter().map(|p| p.1).sum::<f64>() / j as f64;
        let cost = flat.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() + line_sse(rising);
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, j));
        }
    }
    let (cost, j) = best?;
    if cost >= 0.5 * one_line {
        return None;
    }
    // The bend: where the flat mean meets the line after it (between the
    // blocks on either side).
    let (flat, rising) = pts.split_at(j);
    let mean = flat.iter().map(|p| p.1).sum::<f64>() / j as f64;
    let mut b = window_stats(floor, start + j, w.alias, w.tau);
    let at = if b.fit.slope > 0.0 {
        (mean - b.fit.intercept) / b.fit.slope
    } else {
        rising[0].0
    };
    b.t_start = at.clamp(flat[j - 1].0, rising[0].0);
    Some(b)
}

/// The squared error of the least-squares line through `pts`.
fn line_sse(pts: &[(f64, f64)]) -> f64 {
    let (a, b) = line_fit(pts);
    pts.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum()
}

/// About how much longer to watch for growth in window `p`, held back by
/// `held`, to pass that test if it goes on at its rate.
fn watch_more(p: &WindowStats, held: Option<Hold>, judged_s: f64) -> f64 {
    let span = p.span().max(1e-9);
    let rise = p.rise().max(1e-9 * span);
    let more = match held {
        // z grows roughly as window^1.5 for a steady rate.
        Some(Hold::Significance { z, needed }) if z > 0.0 => {
            judged_s * 2.0 * ((needed / z).powf(2.0 / 3.0) - 1.0)
        }
        // The rise grows with the window: until it clears the bar.
        Some(Hold::Noise { noise, .. }) => span * (2.0 * noise / rise - 1.0),
        Some(Hold::Sampling { drift, .. }) => span * (drift / rise - 1.0),
        // Until the interval's lower bound times the window clears the fall.
        Some(Hold::Swing { swing, .. }) => swing / p.fit.lo.max(1e-12 * swing) - span,
        Some(Hold::NoNewHigh { below }) => 2.0 * below / p.slope().max(1e-12),
        _ => span,
    };
    // Twice the estimate (it is one at the current rate), at least a tenth
    // of what was judged.
    (2.0 * more).max(0.1 * judged_s)
}

/// Plateau or inconclusive, judged on the primary window `p`.
fn not_a_leak(
    v: &mut Verdict,
    p: &WindowStats,
    stats: &[WindowStats],
    swing: f64,
    min_rate: f64,
    judged_s: f64,
) {
    let (rise, span_s, rate, z, noise) = (p.rise(), p.span(), p.slope(), p.fit.z, p.fit.noise);
    v.kind = VerdictKind::Plateau;
    if p.levelled_off(min_rate) && z >= Z_MAYBE {
        v.finding = Finding::LevelledOff {
            rise,
            span_s,
            recent_rate: p.recent_rate(),
            recent_s: p.t_end - p.recent().1,
        };
    } else if rate < min_rate {
        v.finding = if rate < 0.0 && z <= -Z_MAYBE {
            Finding::Fell {
                fall: -rise,
                span_s,
                rate,
            }
        } else if noise == 0.0 && rise == 0.0 {
            Finding::Unchanged { span_s }
        } else {
            Finding::HeldWithin {
                within: noise.max(rise.abs()),
                span_s,
                rate,
                min_rate,
            }
        };
    } else if (z >= Z_MAYBE
        && rise > noise
        && p.still_rising()
        && !stats.iter().any(|s| s.levelled_off(min_rate)))
        || (p.n < MIN_BLOCKS && p.fit.hi * span_s > 0.25 * swing)
    {
        v.kind = VerdictKind::Inconclusive;
        let held = p.holdback();
        v.watch_more_s = Some(watch_more(p, held, judged_s));
        v.finding = if p.n < MIN_BLOCKS && z < Z_MAYBE {
            Finding::FewSwings {
                blocks: p.n,
                swings: v
                    .period_s
                    .map_or(p.n, |per| (span_s / per).round() as usize),
                up_to: p.fit.hi,
                after_warmup: p.t_start > stats[0].t_start,
            }
        } else {
            Finding::MayBeRising {
                rate,
                z,
                span_s,
                // Every test passed, but a longer window saw the growth level off.
                held: held.unwrap_or(Hold::Slowing {
                    recent: p.recent_rate(),
                }),
            }
        };
    } else {
        let noisy = z < Z_MAYBE || rise <= noise;
        v.finding = if noisy && z >= 1.96 && rise > 0.0 {
            Finding::CreptUp {
                rise,
                span_s,
                rate,
                noise,
                z,
                z_needed: Z_MAYBE,
            }
        } else if noisy {
            Finding::NoGrowth {
                noise,
                span_s,
                rate,
                z,
            }
        } else if !p.new_high {
            Finding::Wanders {
                moved: rise,
                span_s,
            }
        } else {
            Finding::LevellingOff {
                rise,
                span_s,
                recent_rate: p.recent_rate(),
                recent_s: p.t_end - p.recent().1,
                curve_rate: None,
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::swing_drop;

    /// Floor blocks one second apart with the values `v`.
    fn floor(v: &[f64]) -> Vec<(f64, f64)> {
        v.iter().enumerate().map(|(i, &x)| (i as f64, x)).collect()
    }

    #[test]
    fn one_fall_is_a_swing_until_the_climb_after_it_outlasts_it() {
        // A rise over 4 s, a fall of 8, then a climb of 3 s: it may be the
        // same swing rising again, so the fall counts.
        assert_eq!(
            swing_drop(&floor(&[0., 2., 4., 6., 8., 0., 2., 4., 6.])),
            8.0
        );
        // A climb of 10 s after it (more than twice the 4 s before it): a
        // one-off drop, which does not count.
        let long: Vec<f64> = (0..5)
            .map(|i| 2.0 * i as f64)
            .chain((0..11).map(|i| i as f64))
            .collect();
        assert_eq!(swing_drop(&floor(&long)), 0.0);
        // Falls that repeat count, as the second largest, however long the
        // climb after them.
        let repeated = [0., 9., 0., 10., 1., 5., 7., 9., 11., 12., 13., 14., 15.];
        assert_eq!(swing_drop(&floor(&repeated)), 9.0);
    }
}
