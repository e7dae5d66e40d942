//! The metrics leakwatch can sample and judge, their log columns and units,
//! and a [`Reading`] of them at one moment.

use crate::detector::DetectorConfig;
use crate::units::Quantity;

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
    /// A cgroup's memory use with page cache (v2 `memory.current`, v1
    /// `memory.usage_in_bytes`), bytes; cgroup targets only.
    Usage,
}

/// How many metrics there are.
pub const COUNT: usize = 8;

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
        Metric::Usage,
    ];

    /// The metric's short name (`rss`, `fds`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rss => "rss",
            Metric::Vsz => "vsz",
            Metric::Pss => "pss",
            Metric::Uss => "uss",
            Metric::Swap => "swap",
            Metric::Fds => "fds",
            Metric::Threads => "threads",
            Metric::Usage => "usage",
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
            Metric::Usage => "usage_bytes",
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

/// The target's metrics at one moment (bytes, or counts for fds and
/// threads); metrics that were not asked for are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// Values indexed by [`Metric::index`].
    pub values: [u64; COUNT],
}

impl Reading {
    /// The value of `m`.
    pub fn get(&self, m: Metric) -> u64 {
        self.values[m.index()]
    }

    /// Resident set size (what `ps -o rss` shows, ×1024).
    pub fn rss(&self) -> u64 {
        self.get(Metric::Rss)
    }

    /// Virtual size (what `ps -o vsz` shows, ×1024).
    pub fn vsz(&self) -> u64 {
        self.get(Metric::Vsz)
    }

    /// Adds `o` to this reading, metric by metric (for process trees).
    pub fn add(&mut self, o: &Reading) {
        for (a, b) in self.values.iter_mut().zip(o.values) {
            *a += b;
        }
    }
}

/// Growth slower than this (per second) counts as a plateau for fds and threads: 1 an hour.
pub const COUNT_MIN_RATE: f64 = 1.0 / 3600.0;

impl Metric {
    /// What its values count.
    pub fn quantity(self) -> Quantity {
        Quantity::of(self.is_bytes())
    }

    /// The detector settings for this metric, from the shared ones: counts get
    /// their own minimum rate.
    pub fn detector_config(self, base: DetectorConfig) -> DetectorConfig {
        if self.is_bytes() {
            base
        } else {
            DetectorConfig {
                min_rate: COUNT_MIN_RATE,
                ..base
            }
        }
    }
}

impl Metric {
    /// Sampled for a process (else only for a cgroup).
    pub fn of_process(self) -> bool {
        self != Metric::Usage
    }
}

/// The names of every metric a process has, comma-separated, for messages.
pub fn names() -> String {
    Metric::ALL
        .into_iter()
        .filter(|m| m.of_process())
        .map(Metric::name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_columns_parse() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            assert_eq!(Metric::parse(m.column()), Some(m));
        }
        assert_eq!(Metric::parse("heap"), None);
        assert_eq!(
            Metric::Fds
                .detector_config(DetectorConfig::default())
                .min_rate,
            COUNT_MIN_RATE
        );
    }
}
