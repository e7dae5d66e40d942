//! The floor under a swing: the GC period the bucket minima show, and the
//! minima of blocks at least that wide.

use super::Bucket;
use super::fit::median;

/// A regular swing found in the bucket minima.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    /// Its length in bucket widths.
    pub buckets: usize,
    /// Its length in buckets that hold samples (fewer when samples are sparse).
    pub seen: usize,
}

/// The floor series and the swing above it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Floor {
    /// Block minima: (seconds since the first sample, value).
    pub points: Vec<(f64, f64)>,
    /// The median swing within a block (max − min).
    pub swing: f64,
    /// The largest swing within a block but the top tenth: a swing that
    /// grows misses its troughs by more as it grows.
    pub swing_high: f64,
    /// The median rise from each block's lowest bucket to the lower of its
    /// neighbours: how far sampling can miss a trough (next to nothing when
    /// memory rests at its floor between swings; a step of the ramp when it
    /// climbs straight away).
    pub trough_step: f64,
}

/// The floor: minima of blocks of `k` bucket widths, aligned so the last block
/// ends with the newest bucket, as (seconds since first sample, value); and the
/// median swing within a block.
pub(crate) fn floor_blocks(buckets: &[Bucket], k: usize, t0: f64) -> Floor {
    struct Block {
        no: u64,
        min: f64,
        max: f64,
        t_last: f64,
        /// The position of its lowest bucket.
        at: usize,
    }
    let Some(last) = buckets.last().map(|b| b.idx) else {
        return Floor {
            points: Vec::new(),
            swing: 0.0,
            swing_high: 0.0,
            trough_step: 0.0,
        };
    };
    let mut out: Vec<Block> = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        let no = (last - b.idx) / k as u64;
        match out.last_mut() {
            Some(cur) if cur.no == no => {
                if b.min < cur.min {
                    cur.min = b.min;
                    cur.at = i;
                }
                cur.max = cur.max.max(b.max);
                cur.t_last = b.t_last;
            }
            _ => out.push(Block {
                no,
                min: b.min,
                max: b.max,
                t_last: b.t_last,
                at: i,
            }),
        }
    }
    // The oldest block may be partial (it starts mid-block): drop it when
    // enough others remain.
    let first_idx = buckets[0].idx;
    if out.len() > 4 && k > 1 {
        // Where the oldest block would start were it whole (before the first
        // bucket when it is partial: signed, not clamped at 0).
        let full_start = last as i64 - ((out[0].no + 1) * k as u64 - 1) as i64;
        if first_idx as i64 > full_start + (k as i64) / 4 {
            out.remove(0);
        }
    }
    let mut ranges: Vec<f64> = out.iter().map(|b| b.max - b.min).collect();
    let mut steps: Vec<f64> = out
        .iter()
        .filter_map(|b| {
            let prev = b.at.checked_sub(1).map(|i| buckets[i].min);
            let next = buckets.get(b.at + 1).map(|n| n.min);
            let near = match (prev, next) {
                (Some(p), Some(n)) => p.min(n),
                (p, n) => p.or(n)?,
            };
            Some((near - b.min).max(0.0))
        })
        .collect();
    let swing_high = quantile(&mut ranges.clone(), 0.9).unwrap_or(0.0);
    Floor {
        swing_high,
        swing: median(&mut ranges),
        trough_step: quantile(&mut steps, 0.5).unwrap_or(f64::INFINITY),
        points: out
            .iter()
            // At the time of its lowest bucket: where the floor was read.
            .map(|b| {
                let m = &buckets[b.at];
                ((m.t_first + m.t_last) / 2.0 - t0, b.min)
            })
            .collect(),
    }
}

/// The dominant period of the bucket minima, if there is a clear one.
/// (Buckets may be sparse when samples are further apart than a bucket is
/// wide: the lag found between samples is scaled by their spacing.)
pub(crate) fn dominant_period(buckets: &[Bucket]) -> Option<Period> {
    let n = buckets.len();
    if n < 32 {
        return None;
    }
    let r = detrended_minima(buckets)?;
    let var: f64 = r.iter().map(|a| a * a).sum();
    let max_lag = n / 4;
    let acf = |l: usize| -> f64 { (0..n - l).map(|i| r[i] * r[i + l]).sum::<f64>() / var };
    let start = (1..=max_lag).find(|&l| acf(l) < 0.0)?;
    let acfs: Vec<f64> = (0..=max_lag)
        .map(|l| if l < start { 0.0 } else { acf(l) })
        .collect();
    let mut best = (0usize, f64::MIN);
    for (l, &a) in acfs.iter().enumerate().skip(start) {
        if a > best.1 {
            best = (l, a);
        }
    }
    // A multiple of the period correlates about as well as the period, or
    // better when the period is not a whole number of samples (a sawtooth's
    // drop then straddles the shorter lag more often): take the first peak
    // at least 0.7 as high as the best when the best's lag is a multiple of
    // its own (within a fifth).
    let local_peak =
        |l: usize| acfs[l] >= acfs[l - 1] && acfs.get(l + 1).is_none_or(|&n| acfs[l] >= n);
    let divides_best = |l: usize| {
        let q = best.0 as f64 / l as f64;
        (q - q.round()).abs() <= 0.2
    };
    if let Some(l) = (start.max(1)..best.0)
        .find(|&l| acfs[l] >= 0.7 * best.1 && local_peak(l) && divides_best(l))
    {
        best = (l, acfs[l]);
    }
    // A periodic swing shows a clear second peak; noise and trends do not.
    let repeats = 2 * best.0 >= n / 2 || acf(2 * best.0) > 0.1;
    if best.1 >= 0.3 && best.0 >= 2 && repeats {
        let mut gaps: Vec<f64> = buckets
            .windows(2)
            .map(|w| (w[1].idx - w[0].idx) as f64)
            .collect();
        let spacing = median(&mut gaps).max(1.0);
        Some(Period {
            buckets: (best.0 as f64 * spacing).round() as usize,
            seen: best.0,
        })
    } else {
        None
    }
}

/// The bucket minima less their least-squares line (so a trend does not
/// masquerade as a long period); `None` when what remains is no swing.
fn detrended_minima(buckets: &[Bucket]) -> Option<Vec<f64>> {
    let n = buckets.len();
    let x: Vec<f64> = buckets.iter().map(|b| b.min).collect();
    let xs: Vec<f64> = buckets.iter().map(|b| b.idx as f64).collect();
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
    // Less a moving mean a quarter of the run wide (the longest period
    // looked for): a slow curve the line leaves (a warm-up) would hold the
    // autocorrelation up past the first period.
    let r = less_moving_mean(&r, (n / 4).max(3));
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
    Some(r)
}

/// The value a share `q` of `v` lies below; `None` for none.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 * q) as usize).min(v.len().checked_sub(1)?);
    v.get(i).copied()
}

/// `x` less its centred moving mean over `w` points (fewer at the ends).
fn less_moving_mean(x: &[f64], w: usize) -> Vec<f64> {
    let mut sums = Vec::with_capacity(x.len() + 1);
    sums.push(0.0);
    for v in x {
        sums.push(sums[sums.len() - 1] + v);
    }
    let half = w / 2;
    (0..x.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(x.len()));
            x[i] - (sums[b] - sums[a]) / (b - a) as f64
        })
        .collect()
}
