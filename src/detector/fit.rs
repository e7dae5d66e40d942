//! Robust line fits and the small statistics they need.

/// How much wider than Student's t the 95% interval is drawn.
const WIDEN: f64 = 1.28;

/// A Theil–Sen line through points, with an honest error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fit {
    /// Median of the pairwise slopes, units per second.
    pub slope: f64,
    /// Lower bound of the slope's 95% interval.
    pub lo: f64,
    /// Upper bound of the slope's 95% interval.
    pub hi: f64,
    /// Value of the line at time 0.
    pub intercept: f64,
    /// Slope over its standard error.
    pub z: f64,
    /// Robust scale of the residuals (1.4826 × their median absolute value).
    pub noise: f64,
    /// Effectively independent points, after autocorrelation.
    pub neff: f64,
    /// The slope's standard error, scaled by Student's t for few points.
    pub se: f64,
}

impl Fit {
    /// The slope's standard error, scaled by Student's t for few points.
    pub fn se(&self) -> f64 {
        self.se
    }
}

/// Fits a Theil–Sen line to `pts` (time, value), at least two of them.
pub(crate) fn theil_sen(pts: &[(f64, f64)]) -> Fit {
    theil_sen_with(pts, 1.0, f64::INFINITY)
}

/// As [`theil_sen`], with the residuals' autocorrelation time (in points)
/// taken as at least `tau_floor` (what finer data showed of it) and at most
/// `tau_cap`.
pub(crate) fn theil_sen_with(pts: &[(f64, f64)], tau_floor: f64, tau_cap: f64) -> Fit {
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
    // autocorrelation (slow wander makes neighbouring blocks alike).
    let nf = n as f64;
    let rms = (resid.iter().map(|r| r * r).sum::<f64>() / nf).sqrt();
    let scale = noise.max(rms);
    let tau_int = autocorrelation_time(&resid)
        .max(tau_floor)
        .min(tau_cap)
        .min(nf / 3.0)
        .max(1.0);
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
    // The interval is widened beyond the standard error's own t quantile:
    // the autocorrelation correction and a floor read from block minima (a
    // bend, a swing's phase) leave the plain interval short of 95%
    // (`examples/detector_accuracy` measures its coverage). At 1.28 it is
    // never narrower than ±2.5 standard errors, so growth too weak to
    // suspect (z < 2.5) always has 0 inside its interval.
    let tq = WIDEN * t_quantile_975(neff - 2.0);
    Fit {
        slope,
        lo: slope - tq * se,
        hi: slope + tq * se,
        intercept,
        z,
        noise,
        neff,
        se: se * t_quantile_975(neff - 2.0) / 1.959_964,
    }
}

/// The least-squares line through `pts`: (intercept, slope).
pub(crate) fn line_fit(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

/// Integrated autocorrelation time of residuals: 1 plus twice the sum of
/// their autocorrelations up to the first one that is not positive.
fn autocorrelation_time(resid: &[f64]) -> f64 {
    let n = resid.len();
    let rv: f64 = resid.iter().map(|r| r * r).sum();
    let mut tau_int = 1.0;
    if rv > 0.0 && n > 3 {
        for lag in 1..n / 2 {
            let r = resid[lag..]
                .iter()
                .zip(resid)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / rv;
            if r <= 0.0 {
                break;
            }
            tau_int += 2.0 * r;
        }
    }
    tau_int
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
pub(crate) fn t_quantile_975(df: f64) -> f64 {
    t_quantile(1.959_964, df)
}

/// The quantile of Student's t with `df` degrees of freedom at the normal
/// quantile `z` (Cornish–Fisher expansion; within a few percent for df ≥ 3).
pub(crate) fn t_quantile(z: f64, df: f64) -> f64 {
    let df = df.max(1.0);
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    z + g1 / df + g2 / (df * df) + g3 / df.powi(3)
}

/// The median of sorted values (0 for none).
pub(crate) fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `v`, which it sorts.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    median_sorted(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_line_is_fitted_exactly() {
        let pts: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 5.0 + 2.0 * i as f64)).collect();
        let f = theil_sen(&pts);
        assert_eq!(f.slope, 2.0);
        assert_eq!(f.intercept, 5.0);
        assert_eq!(f.noise, 0.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
