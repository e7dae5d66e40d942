//! One window of the floor that ends now, and the tests a leak must pass in it.

use super::Hold;
use super::fit::{Fit, line_fit, median, t_quantile, theil_sen_with};

/// One-sided z needed to call a leak (p ≈ 0.0013).
pub(crate) const Z_LEAK: f64 = 3.0;

/// Statistics of one window of the floor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowStats {
    /// Floor blocks in the window.
    pub n: usize,
    /// How far the floor can drift from sampling a swing at few points.
    pub alias: f64,
    /// The least autocorrelation time of its residuals, in blocks; `None`:
    /// its blocks count as independent.
    pub tau: Option<f64>,
    /// Time of the window's first block, seconds since the first sample.
    pub t_start: f64,
    /// Time of the window's last block.
    pub t_end: f64,
    /// The fit over the whole window.
    pub fit: Fit,
    /// z needed to call a leak, given the window's effective sample size.
    pub z_crit: f64,
    /// The fit over the window's second half.
    pub late: Fit,
    /// Slope of the window's first half.
    pub early: f64,
    /// The first half's slope over its standard error.
    pub early_z: f64,
    /// The first half's rise stands well clear of the second half's noise.
    pub early_clear: bool,
    /// The recent floor is above every floor of the window's first half and
    /// (but for one block) every floor before the window.
    pub new_high: bool,
    /// The highest of those earlier floors less the recent floor.
    pub below_high: f64,
    /// The fit over the window's last quarter.
    pub last: Fit,
    /// Where the second half and the last quarter start, seconds.
    pub late_start: f64,
    /// Where the last quarter starts, seconds.
    pub last_start: f64,
}

impl WindowStats {
    /// The window's fitted growth rate.
    pub fn slope(&self) -> f64 {
        self.fit.slope
    }

    /// Growth over the window at its fitted rate.
    pub fn rise(&self) -> f64 {
        self.fit.slope * (self.t_end - self.t_start)
    }

    /// The window's length in seconds.
    pub fn span(&self) -> f64 {
        self.t_end - self.t_start
    }

    /// Growth is still going on at the end of the window: neither half-window
    /// check shows it has slowed to well under the window's rate.
    pub fn still_rising(&self) -> bool {
        let s = self.fit.slope;
        let late_ok = self.late.slope >= 0.5 * s || self.late.slope + 2.0 * self.late.se() >= s;
        let last_ok =
            self.last.slope >= 0.3 * s || self.last.slope + 2.0 * self.last.se() >= 0.6 * s;
        late_ok && last_ok
    }

    /// Significant growth in the window's first half that has since slowed to
    /// well under its rate (a warm-up curve, a cache reaching its cap).
    pub fn levelled_off(&self, min_rate: f64) -> bool {
        self.early_clear
            && self.early >= min_rate
            && self.late.slope < 0.3 * self.early
            && self.last.slope < 0.3 * self.early
    }

    /// The recent rate: the slower of the last half's and last quarter's, at least 0.
    pub fn recent_rate(&self) -> f64 {
        self.late.slope.min(self.last.slope).max(0.0)
    }

    /// The recent part the rate above is read from: its fit and start.
    pub fn recent(&self) -> (Fit, f64) {
        if self.last.slope < self.late.slope {
            (self.last, self.last_start)
        } else {
            (self.late, self.late_start)
        }
    }

    /// Every test of a leak holds in this window.
    pub fn leaking(&self, min_rate: f64) -> bool {
        self.fit.slope >= min_rate && self.holdback().is_none()
    }

    /// The first test of a leak that growth in this window does not pass.
    pub fn holdback(&self) -> Option<Hold> {
        let f = &self.fit;
        let rise = self.rise();
        if f.z < self.z_crit || f.lo <= 0.0 {
            Some(Hold::Significance {
                z: f.z,
                needed: self.z_crit,
            })
        } else if rise <= 2.0 * f.noise {
            Some(Hold::Noise {
                rise,
                noise: f.noise,
            })
        } else if rise <= self.alias {
            Some(Hold::Sampling {
                rise,
                drift: self.alias,
            })
        } else if !self.new_high {
            Some(Hold::NoNewHigh {
                below: self.below_high.max(0.0),
            })
        } else if self.early < 0.25 * f.slope {
            Some(Hold::OneStep)
        } else if !self.still_rising() {
            Some(Hold::Slowing {
                recent: self.recent_rate(),
            })
        } else {
            None
        }
    }
}

/// The statistics of the window of `floor` that starts at block `start`,
/// at least four blocks long.
/// Its residuals count as correlated over at least `tau` blocks; with
/// `None`, its blocks count as independent.
pub(crate) fn window_stats(
    floor: &[(f64, f64)],
    start: usize,
    alias: f64,
    tau: Option<f64>,
) -> WindowStats {
    let (tau_floor, tau_cap) = tau.map_or((1.0, 1.0), |t| (t, f64::INFINITY));
    let theil_sen = |p: &[(f64, f64)]| theil_sen_with(p, tau_floor, tau_cap);
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
    let fit = theil_sen(pts);
    let late = theil_sen(&pts[n / 2..]);
    let early_pts = &pts[..n / 2 + 1];
    let early_fit = theil_sen(early_pts);
    let early = early_fit.slope;
    let early_rise = early * (early_pts[early_pts.len() - 1].0 - early_pts[0].0);
    // A leak sets new highs: the recent floor is above all of the first half's.
    let mut recent: Vec<f64> = pts[n - (n / 8).max(3)..].iter().map(|p| p.1).collect();
    let first_half_max = pts[..n / 2].iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let recent_floor = median(&mut recent);
    let new_high = recent_floor > first_half_max.max(history_max);
    let last_pts = &pts[n - (n / 4).max(3)..];
    let last = theil_sen(last_pts);
    WindowStats {
        n,
        alias,
        tau,
        t_start: pts[0].0,
        t_end: pts[n - 1].0,
        fit,
        z_crit: t_quantile(Z_LEAK, fit.neff - 2.0),
        late,
        early,
        early_z: early_fit.z,
        early_clear: early_rise > 4.0 * late.noise,
        new_high,
        below_high: first_half_max.max(history_max) - recent_floor,
        last,
        late_start: pts[n / 2].0,
        last_start: last_pts[0].0,
    }
}

/// Whether, before block `start`, a stretch of `n` blocks of `floor` that
/// ends at least `n / 2` blocks before it rose by at least `rise`, and the
/// floor then fell back by half of that rise before `start`. (So the last
/// half of a run is never held back by its first half: a leak through one
/// compaction drop rises, falls and rises again.)
pub(crate) fn rose_and_fell_before(
    floor: &[(f64, f64)],
    start: usize,
    n: usize,
    rise: f64,
) -> bool {
    if rise <= 0.0 || n < 2 {
        return false;
    }
    (0..(start + 1).saturating_sub(n + n / 2))
        .step_by((n / 2).max(1))
        .any(|j| {
            let seg = &floor[j..j + n];
            let (a, b) = line_fit(seg);
            let seg_rise = b * (seg[n - 1].0 - seg[0].0);
            let top = a + b * seg[n - 1].0;
            seg_rise >= rise
                && floor[j + n..start]
                    .iter()
                    .any(|p| p.1 <= top - 0.5 * seg_rise)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floor blocks: a climb of 10 over blocks 4–8, then `after` from block 10 on.
    fn climb_then(after: f64) -> Vec<(f64, f64)> {
        (0..20)
            .map(|i| {
                let v = match i {
                    0..4 => 0.0,
                    4..9 => 2.5 * (i - 4) as f64,
                    9 => 10.0,
                    _ => after,
                };
                (i as f64, v)
            })
            .collect()
    }

    #[test]
    fn an_earlier_climb_that_fell_back_is_seen_before() {
        // A climb of 10 over 5 blocks that fell back to 2: a later climb of
        // 8 over 5 blocks is no more than that.
        assert!(rose_and_fell_before(&climb_then(2.0), 15, 5, 8.0));
        // Not when the later climb is larger than the earlier one.
        assert!(!rose_and_fell_before(&climb_then(2.0), 15, 5, 12.0));
        // Nor when the floor kept what it gained (a leak's earlier steps).
        assert!(!rose_and_fell_before(&climb_then(10.0), 15, 5, 8.0));
        // Nor with no room before the window for a stretch as long.
        assert!(!rose_and_fell_before(&climb_then(2.0), 4, 5, 8.0));
        // Nor when the climb ended less than half its length before the
        // window (the climb ends at block 8: the window must start at 11).
        assert!(!rose_and_fell_before(&climb_then(2.0), 10, 5, 8.0));
        assert!(rose_and_fell_before(&climb_then(2.0), 11, 5, 8.0));
    }
}
