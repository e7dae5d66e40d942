//! Lines of bounded length, read as bytes: however long a line in the input
//! is (`/dev/zero` has no end), memory stays bounded.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read};

/// The longest line a log may hold; far beyond any real row.
pub const MAX_LINE: usize = 64 * 1024;

/// One line read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// No more input.
    End,
    /// A line ending with a newline (stripped, with any `\r` before it).
    Complete,
    /// The input's last line, which has no newline: a row cut short.
    Cut,
}

/// Reads lines of at most [`MAX_LINE`] bytes, counting them.
pub struct Lines {
    rdr: BufReader<Box<dyn Read + Send>>,
    /// The current line's bytes.
    pub buf: Vec<u8>,
    /// The current line's number (1-based).
    pub number: u64,
}

impl Lines {
    /// Lines of `rdr`.
    pub fn new(rdr: BufReader<Box<dyn Read + Send>>) -> Lines {
        Lines {
            rdr,
            buf: Vec::with_capacity(256),
            number: 0,
        }
    }

    /// The input, from the first byte not yet read as a line.
    pub fn into_inner(self) -> BufReader<Box<dyn Read + Send>> {
        self.rdr
    }

    /// Reads the next line into `buf`; `name` names the input in errors.
    pub fn next(&mut self, name: &str) -> Result<Line> {
        self.buf.clear();
        loop {
            let chunk = self
                .rdr
                .fill_buf()
                .with_context(|| format!("{name}: cannot read line {}", self.number + 1))?;
            if chunk.is_empty() {
                if self.buf.is_empty() {
                    return Ok(Line::End);
                }
                self.number += 1;
                return Ok(Line::Cut);
            }
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if self.buf.len() + take > MAX_LINE {
                bail!(
                    "{name}: line {} is longer than {} KiB: this is not a leakwatch log",
                    self.number + 1,
                    MAX_LINE / 1024
                );
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.rdr.consume(take + usize::from(done));
            if done {
                self.number += 1;
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                return Ok(Line::Complete);
            }
        }
    }
}
