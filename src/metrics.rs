//! The metrics leakwatch can sample and judge, their log columns and units.

use crate::detector::DetectorConfig;
use anyhow::{Result, bail};

/// A sampled quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Resident set size, bytes.
    Rss,
    /// Virtual size, bytes.
    Vsz,
    /// Proportional set size (shared pages divided among their users), bytes.
    Pss,
    /// Unique set size (private clean + private dirty), bytes.
    Uss,
    /// Swapped-out memory, bytes.
    Swap,
    /// Open file descriptors.
    Fds,
    /// Threads.
    Threads,
}

/// How many metrics there are.
pub const COUNT: usize = 7;

impl Metric {
    /// Every metric, in log-column order.
    pub const ALL: [Metric; COUNT] = [
        Metric::Rss,
        Metric::Vsz,
        Metric::Pss,
        Metric::Uss,
        Metric::Swap,
        Metric::Fds,
        Metric::Threads,
    ];

    /// The name used in `--metrics` and `--judge`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rss => "rss",
            Metric::Vsz => "vsz",
            Metric::Pss => "pss",
            Metric::Uss => "uss",
            Metric::Swap => "swap",
            Metric::Fds => "fds",
            Metric::Threads => "threads",
        }
    }

    /// The log column.
    pub fn column(self) -> &'static str {
        match self {
            Metric::Rss => "rss_bytes",
            Metric::Vsz => "vsz_bytes",
            Metric::Pss => "pss_bytes",
            Metric::Uss => "uss_bytes",
            Metric::Swap => "swap_bytes",
            Metric::Fds => "fds",
            Metric::Threads => "threads",
        }
    }

    /// Whether values are bytes (else a count).
    pub fn is_bytes(self) -> bool {
        !matches!(self, Metric::Fds | Metric::Threads)
    }

    /// Position in [`Metric::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The metric whose name or column is `s`.
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s || m.column() == s)
    }

    /// The metric logged in column `column`.
    pub fn from_column(column: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.column() == column)
    }
}

/// Growth slower than this (per second) counts as a plateau for fds and threads: 1 an hour.
pub const COUNT_MIN_RATE: f64 = 1.0 / 3600.0;

/// The detector settings for `m`, from the shared ones: counts get their own
/// minimum rate and wording.
pub fn detector_for(m: Metric, base: DetectorConfig) -> DetectorConfig {
    if m.is_bytes() {
        base
    } else {
        DetectorConfig {
            min_rate: COUNT_MIN_RATE,
            counts: true,
            ..base
        }
    }
}

/// Parses `--metrics`: a comma-separated list of metric names. `rss` and
/// `vsz` are always sampled (they are the log's base columns), so they may be
/// left out. The result is in log-column order, without repeats.
pub fn parse_list(text: &str) -> Result<Vec<Metric>> {
    let mut out = vec![Metric::Rss, Metric::Vsz];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Metric::parse(part) {
            Some(m) => out.push(m),
            None => bail!(
                "--metrics: unknown metric '{part}'; choose from rss,vsz,pss,uss,swap,fds,threads"
            ),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Which metric decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// This metric.
    One(Metric),
    /// Any metric that leaks.
    Any,
}

/// Parses `--judge`: a metric name or `any`.
pub fn parse_judge(text: &str) -> Result<Judge> {
    if text == "any" {
        return Ok(Judge::Any);
    }
    match Metric::parse(text) {
        Some(m) => Ok(Judge::One(m)),
        None => bail!(
            "--judge: unknown metric '{text}'; choose rss, vsz, pss, uss, swap, fds, threads or any"
        ),
    }
}

/// Formats a value of `metric` for people: bytes in binary units, counts plain.
pub fn format_value(bytes: bool, v: f64) -> String {
    if bytes {
        crate::units::format_bytes(v)
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Formats a rate per second of `metric` as a signed amount per `unit` (`min`, `h`).
pub fn format_rate(bytes: bool, per_s: f64, unit: &str) -> String {
    if bytes {
        return crate::units::format_rate(per_s, unit);
    }
    let per = if unit == "min" { 60.0 } else { 3600.0 };
    let v = per_s * per;
    let sign = if v >= 0.0 { "+" } else { "" };
    format!("{sign}{}/{unit}", format_value(false, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(
            parse_list("rss,vsz").unwrap(),
            vec![Metric::Rss, Metric::Vsz]
        );
        assert_eq!(
            parse_list("fds, pss,rss").unwrap(),
            vec![Metric::Rss, Metric::Vsz, Metric::Pss, Metric::Fds]
        );
        assert!(parse_list("rss,heap").is_err());
        assert_eq!(parse_judge("any").unwrap(), Judge::Any);
        assert_eq!(parse_judge("pss").unwrap(), Judge::One(Metric::Pss));
        assert!(parse_judge("heap").is_err());
    }

    #[test]
    fn formats_counts() {
        assert_eq!(format_rate(false, 2.0, "min"), "+120/min");
        assert_eq!(format_rate(false, 0.01, "min"), "+0.6/min");
        assert_eq!(format_value(false, 37.0), "37");
    }
}
