//! The article's shell-loop log: `VSZ RSS` in KiB per line, no header, no
//! times (`ps aux | grep $PID | grep -v grep | awk '{print $5" "$6}' >> t`).

use super::lines::{Line, Lines};
use super::reader::Row;
use crate::metrics::{self, Metric};
use crate::units::quoted;
use anyhow::{Result, bail};
use std::io::{BufReader, Read};

/// Whether the first line `head` looks like the shell loop's `VSZ RSS`.
pub fn looks_like(head: &str) -> bool {
    !head.is_empty()
        && head.split_whitespace().count() == 2
        && head.split_whitespace().all(|w| w.parse::<u64>().is_ok())
}

/// The most KiB a value may hold: 2^63 bytes.
const MAX_KIB: u64 = 1 << 53;

/// Rows of a shell-loop log, spaced `interval` seconds apart.
pub struct ShellRows {
    lines: Lines,
    rss: bool,
    index: u64,
    interval: f64,
}

impl ShellRows {
    /// Reads `rdr`; the judged value is RSS when `rss`, else VSZ.
    pub fn new(rdr: BufReader<Box<dyn Read + Send>>, rss: bool, interval: f64) -> ShellRows {
        ShellRows {
            lines: Lines::new(rdr),
            rss,
            index: 0,
            interval,
        }
    }

    /// The next row; a bad line is an error, but for a last line cut short
    /// (no newline), which is skipped with a warning pushed onto `warnings`.
    pub fn next_row(&mut self, name: &str, warnings: &mut Vec<String>) -> Result<Option<Row>> {
        loop {
            let kind = self.lines.next(name)?;
            let line = self.lines.number;
            let text = String::from_utf8_lossy(&self.lines.buf);
            let text = text.trim();
            match kind {
                Line::End => return Ok(None),
                Line::Cut if text.is_empty() => return Ok(None),
                Line::Cut => {
                    warnings.push(format!(
                        "{name}: line {line}: skipped a last line cut short"
                    ));
                    return Ok(None);
                }
                Line::Complete if text.is_empty() => continue,
                Line::Complete => {}
            }
            let mut it = text.split_whitespace();
            let kib = |w: Option<&str>| w?.parse::<u64>().ok().filter(|&v| v <= MAX_KIB);
            let parsed = match (it.next(), it.next(), it.next()) {
                (a @ Some(_), b @ Some(_), None) => kib(a).zip(kib(b)),
                _ => None,
            };
            let Some((vsz, rss)) = parsed else {
                bail!(
                    "{name}: line {line}: expected two whole numbers 'VSZ RSS' in KiB, found {}",
                    quoted(text)
                );
            };
            return Ok(Some(self.row(line, vsz, rss)));
        }
    }

    fn row(&mut self, line: u64, vsz: u64, rss: u64) -> Row {
        let t = self.index as f64 * self.interval;
        self.index += 1;
        let mut m = [None; metrics::COUNT];
        m[Metric::Rss.index()] = Some(rss as f64 * 1024.0);
        m[Metric::Vsz.index()] = Some(vsz as f64 * 1024.0);
        Row {
            line,
            timestamp: None,
            elapsed: Some(t),
            pid: None,
            run: None,
            value: if self.rss { rss } else { vsz } as f64 * 1024.0,
            metrics: m,
        }
    }
}
