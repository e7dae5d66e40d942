//! The article's shell-loop log: `VSZ RSS` in KiB per line, no header, no
//! times (`ps aux | grep $PID | grep -v grep | awk '{print $5" "$6}' >> t`).

use super::reader::Row;
use crate::metrics::{self, Metric};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read};

/// Whether the first line `head` looks like the shell loop's `VSZ RSS`.
pub fn looks_like(head: &str) -> bool {
    !head.is_empty()
        && head.split_whitespace().count() == 2
        && head.split_whitespace().all(|w| w.parse::<u64>().is_ok())
}

/// Rows of a shell-loop log, spaced `interval` seconds apart.
pub struct ShellRows {
    rdr: BufReader<Box<dyn Read>>,
    buf: String,
    line: u64,
    rss: bool,
    index: u64,
    interval: f64,
}

impl ShellRows {
    /// Reads `rdr`; the judged value is RSS when `rss`, else VSZ.
    pub fn new(rdr: BufReader<Box<dyn Read>>, rss: bool, interval: f64) -> ShellRows {
        ShellRows {
            rdr,
            buf: String::new(),
            line: 0,
            rss,
            index: 0,
            interval,
        }
    }

    /// The next row; a bad line is an error, but for a last line cut short,
    /// which is skipped with a warning pushed onto `warnings`.
    pub fn next_row(&mut self, name: &str, warnings: &mut Vec<String>) -> Result<Option<Row>> {
        loop {
            self.buf.clear();
            let n = self
                .rdr
                .read_line(&mut self.buf)
                .with_context(|| format!("{name}: cannot read line {}", self.line + 1))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            let mut it = text.split_whitespace();
            let parsed = match (it.next(), it.next(), it.next()) {
                (Some(a), Some(b), None) => a.parse::<u64>().ok().zip(b.parse::<u64>().ok()),
                _ => None,
            };
            let Some((vsz, rss)) = parsed else {
                let msg = format!(
                    "{name}: line {}: expected two whole numbers 'VSZ RSS' in KiB, found '{text}'",
                    self.line
                );
                let complete = self.buf.ends_with('\n');
                let at_end = self.rdr.fill_buf().map(|b| b.is_empty()).unwrap_or(true);
                if at_end && !complete {
                    warnings.push(format!(
                        "{name}: line {}: skipped a last line cut short",
                        self.line
                    ));
                    return Ok(None);
                }
                bail!(msg);
            };
            return Ok(Some(self.row(vsz, rss)));
        }
    }

    fn row(&mut self, vsz: u64, rss: u64) -> Row {
        let t = self.index as f64 * self.interval;
        self.index += 1;
        let mut m = [None; metrics::COUNT];
        m[Metric::Rss.index()] = Some(rss as f64 * 1024.0);
        m[Metric::Vsz.index()] = Some(vsz as f64 * 1024.0);
        Row {
            line: self.line,
            timestamp: None,
            elapsed: Some(t),
            pid: None,
            value: if self.rss { rss } else { vsz } as f64 * 1024.0,
            metrics: m,
        }
    }
}
