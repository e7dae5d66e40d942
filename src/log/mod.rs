//! The CSV log format: writing it sample by sample ([`writer`]), reading it
//! back as a stream ([`reader`], with the article's `ps | awk` shell-loop log
//! in [`shell`]), and telling the watches and runs in it apart ([`segments`]).
//!
//! A log has a header row and the columns `timestamp,elapsed_s,pid,rss_bytes,vsz_bytes`
//! (RFC 3339 UTC with milliseconds; seconds since the watch began, to the
//! millisecond; the PID; sizes in bytes), possibly followed by more columns.
//! Readers find columns by name and ignore the ones they do not know.

pub mod fields;
pub mod lines;
pub mod pipeline;
pub mod reader;
pub mod segments;
pub mod shell;
pub mod writer;

pub use reader::{InputKind, LogReader, ReadOptions, Row};
pub use segments::{Placement, Segmenter};
pub use writer::{LogWriter, Sample};

/// The base columns every leakwatch log starts with, in order.
pub const BASE_COLUMNS: [&str; 5] = ["timestamp", "elapsed_s", "pid", "rss_bytes", "vsz_bytes"];

/// The header line for a log with `extra` columns after the base ones.
pub fn header_line(extra: &[&str]) -> String {
    let mut cols: Vec<&str> = BASE_COLUMNS.to_vec();
    cols.extend_from_slice(extra);
    cols.join(",")
}

/// Parses an RFC 3339 UTC time to seconds since the Unix epoch.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2024-05-01T12:00:00.250Z").unwrap();
        assert!((t - 1714564800.25).abs() < 1e-6);
        assert!(parse_timestamp("yesterday").is_none());
    }
}
