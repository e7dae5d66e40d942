//! Reading a log back as a stream of rows: a CSV log found by its header, or
//! the article's shell-loop log.

use super::lines::{Line, Lines};
use super::parse_timestamp;
use super::shell::{self, ShellRows};
use crate::metrics::{self, Metric};
use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// How to read a log.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// The column judged; `None` means `rss_bytes`.
    pub column: Option<String>,
    /// Spacing of samples in a shell-loop log, which has no times.
    pub interval_s: f64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            column: None,
            interval_s: 1.0,
        }
    }
}

/// One row read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Line number in the input (1-based).
    pub line: u64,
    /// Seconds since the Unix epoch, from `timestamp`, if present.
    pub timestamp: Option<f64>,
    /// Seconds from `elapsed_s`, or the row's index × interval for a shell-loop log.
    pub elapsed: Option<f64>,
    /// The PID, if present.
    pub pid: Option<u64>,
    /// The `repeat` run, if the log has one (0 before the first, -1 the cool-down).
    pub run: Option<i64>,
    /// The judged column's value.
    pub value: f64,
    /// Every known metric column present, indexed by [`Metric::index`].
    pub metrics: [Option<f64>; metrics::COUNT],
}

/// What kind of input was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A CSV log with a header.
    Csv,
    /// The article's shell-loop log: `VSZ RSS` in KiB per line, no header, no times.
    ShellLoop,
}

/// The header has no such column.
#[derive(Debug)]
pub struct MissingColumn {
    /// The input's name.
    pub source: String,
    /// The column asked for.
    pub column: String,
    /// The first columns the header has, quoted.
    pub have: Vec<String>,
}

impl std::fmt::Display for MissingColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: line 1: no column {} in the header (columns: {})",
            self.source,
            quoted(&self.column),
            self.have.join(", ")
        )
    }
}

impl std::error::Error for MissingColumn {}

/// A streaming reader of leakwatch logs and shell-loop logs.
pub struct LogReader {
    name: String,
    kind: InputKind,
    column_name: String,
    rows: Rows,
    warnings: Vec<String>,
}

enum Rows {
    Csv(Box<CsvRows>),
    Shell(ShellRows),
}

/// Where the known columns are.
#[derive(Debug, Clone, Copy)]
struct Cols {
    ts: Option<usize>,
    el: Option<usize>,
    pid: Option<usize>,
    run: Option<usize>,
    val: usize,
    metrics: [Option<usize>; metrics::COUNT],
    nfields: usize,
}

/// The most columns a header may have.
pub const MAX_COLUMNS: usize = 256;

/// The largest plausible byte count or count: 2^63.
const MAX_VALUE: f64 = 9_223_372_036_854_775_808.0;

/// The largest plausible `elapsed_s`: about 300 years.
const MAX_ELAPSED: f64 = 1e10;

/// Rows of a CSV log, line by line.
struct CsvRows {
    lines: Lines,
    cols: Cols,
    /// Where each field of the current line starts and ends (reused).
    spans: Vec<(usize, usize)>,
}

impl LogReader {
    /// Opens `path` (`-` for standard input) and reads its header.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<LogReader> {
        if path.as_os_str() == "-" {
            return Self::from_reader("<stdin>".to_string(), Box::new(std::io::stdin()), opts);
        }
        match File::open(path) {
            Ok(f) => Self::from_reader(path.display().to_string(), Box::new(f), opts),
            Err(_) => bail!(
                "{}: no such file or not readable; give the path of a log written with -o",
                path.display()
            ),
        }
    }

    /// Reads from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: String,
        input: Box<dyn Read>,
        opts: &ReadOptions,
    ) -> Result<LogReader> {
        let mut br = BufReader::with_capacity(256 * 1024, input);
        // A byte-order mark (from an editor on Windows) is not part of the header.
        if br
            .fill_buf()
            .with_context(|| format!("cannot read {name}"))?
            .starts_with(b"\xEF\xBB\xBF")
        {
            br.consume(3);
        }
        let (head, empty) = {
            let buf = br
                .fill_buf()
                .with_context(|| format!("cannot read {name}"))?;
            let empty = buf.iter().all(|b| b.is_ascii_whitespace());
            let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
            (
                String::from_utf8_lossy(&buf[..end]).trim().to_string(),
                empty,
            )
        };
        let column = opts.column.clone().unwrap_or_else(|| "rss_bytes".into());
        let shell_loop = shell::looks_like(&head);
        if !shell_loop && !empty {
            let rows = CsvRows::open(&name, br, &column)?;
            return Ok(LogReader::new(
                name,
                InputKind::Csv,
                column,
                Rows::Csv(rows),
            ));
        }
        let rss = match column.as_str() {
            "rss_bytes" | "rss" => true,
            "vsz_bytes" | "vsz" => false,
            other => bail!(
                "{name}: a shell-loop log has only the columns vsz_bytes and rss_bytes, not '{other}'"
            ),
        };
        // Empty input reads as a log with no rows.
        let kind = if empty {
            InputKind::Csv
        } else {
            InputKind::ShellLoop
        };
        let column = if rss { "rss_bytes" } else { "vsz_bytes" };
        let rows = Rows::Shell(ShellRows::new(br, rss, opts.interval_s));
        Ok(LogReader::new(name, kind, column.to_string(), rows))
    }

    fn new(name: String, kind: InputKind, column_name: String, rows: Rows) -> LogReader {
        LogReader {
            name,
            kind,
            column_name,
            rows,
            warnings: Vec::new(),
        }
    }

    /// The input's name as used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What kind of input this is.
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// The judged column's name.
    pub fn column(&self) -> &str {
        &self.column_name
    }

    /// The known metric columns this input has.
    pub fn present_metrics(&self) -> Vec<Metric> {
        match &self.rows {
            Rows::Csv(c) => Metric::ALL
                .into_iter()
                .filter(|m| c.cols.metrics[m.index()].is_some())
                .collect(),
            Rows::Shell(_) if self.kind == InputKind::ShellLoop => {
                vec![Metric::Rss, Metric::Vsz]
            }
            Rows::Shell(_) => vec![Metric::Rss],
        }
    }

    /// Warnings so far (a last row cut short, skipped).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The next row, `Ok(None)` at the end. A malformed row is an error naming
    /// the line and column, except the very last row, which is skipped with a
    /// warning (a writer killed mid-row leaves one).
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        match &mut self.rows {
            Rows::Shell(s) => s.next_row(&self.name, &mut self.warnings),
            Rows::Csv(c) => c.next_row(&self.name, &mut self.warnings),
        }
    }
}

impl CsvRows {
    /// Reads the header of a CSV log and finds its columns.
    fn open(name: &str, input: BufReader<Box<dyn Read>>, column: &str) -> Result<Box<CsvRows>> {
        let mut lines = Lines::new(input);
        lines.next(name)?;
        let Ok(text) = std::str::from_utf8(&lines.buf) else {
            bail!("{name}: line 1: the header is not text: this is not a leakwatch log");
        };
        if text.contains('"') {
            bail!("{name}: line 1: the header has a quote: leakwatch logs have no quoted fields");
        }
        let headers: Vec<&str> = text.split(',').map(str::trim).collect();
        if headers.len() > MAX_COLUMNS {
            bail!(
                "{name}: line 1: the header has {} columns, more than the {MAX_COLUMNS} a log may have",
                headers.len()
            );
        }
        let find = |n: &str| headers.iter().position(|h| *h == n);
        let Some(val) = find(column) else {
            return Err(MissingColumn {
                source: name.to_string(),
                column: column.to_string(),
                have: headers.iter().take(20).map(|h| quoted(h)).collect(),
            }
            .into());
        };
        let cols = Cols {
            ts: find("timestamp"),
            el: find("elapsed_s"),
            pid: find("pid"),
            run: find("run"),
            val,
            metrics: Metric::ALL.map(|m| find(m.column())),
            nfields: headers.len(),
        };
        if cols.ts.is_none() && cols.el.is_none() {
            bail!(
                "{name}: line 1: the header has neither 'elapsed_s' nor 'timestamp', so samples have no times"
            );
        }
        let spans = Vec::with_capacity(headers.len());
        Ok(Box::new(CsvRows { lines, cols, spans }))
    }

    /// The next row. Only a last line without its newline is a row cut
    /// short (skipped, with a warning); any other bad line is an error.
    fn next_row(&mut self, name: &str, warnings: &mut Vec<String>) -> Result<Option<Row>> {
        loop {
            let kind = self.lines.next(name)?;
            let line = self.lines.number;
            let blank = self.lines.buf.iter().all(|b| b.is_ascii_whitespace());
            match kind {
                Line::End => return Ok(None),
                Line::Cut if blank => return Ok(None),
                Line::Cut => {
                    warnings.push(format!(
                        "{name}: line {line}: skipped a last row cut short (it has no newline)"
                    ));
                    return Ok(None);
                }
                Line::Complete if blank => continue,
                Line::Complete => {
                    return parse_record(&self.lines.buf, &mut self.spans, &self.cols, line)
                        .map(Some)
                        .map_err(|m| anyhow::anyhow!("{name}: {m}"));
                }
            }
        }
    }
}

/// A field's number, if it is one.
fn number(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field).ok()?.trim().parse::<f64>().ok()
}

/// Finds the fields of `text` (their spans), at least as many as the
/// header has; a quote is an error.
fn split_fields(
    text: &[u8],
    spans: &mut Vec<(usize, usize)>,
    nfields: usize,
    line: u64,
) -> std::result::Result<(), String> {
    if let Some(i) = memchr::memchr(b'"', text) {
        let column = text[..i].iter().filter(|&&b| b == b',').count() + 1;
        return Err(format!(
            "line {line}, column {column}: a quote: leakwatch logs have no quoted fields; this line is damaged"
        ));
    }
    spans.clear();
    let mut start = 0;
    for comma in memchr::memchr_iter(b',', text) {
        spans.push((start, comma));
        start = comma + 1;
    }
    spans.push((start, text.len()));
    if spans.len() < nfields {
        return Err(format!(
            "line {line}: {} fields where the header has {nfields}",
            spans.len()
        ));
    }
    Ok(())
}

/// Parses one row's fields: times, PID, run and every known metric column.
fn parse_record(
    text: &[u8],
    spans: &mut Vec<(usize, usize)>,
    c: &Cols,
    line: u64,
) -> std::result::Result<Row, String> {
    split_fields(text, spans, c.nfields, line)?;
    let field = |i: usize| &text[spans[i].0..spans[i].1];
    let bad = |i: usize, what: &str, want: &str| {
        let shown = quoted(&String::from_utf8_lossy(field(i)));
        format!(
            "line {line}, column {} ({what}): {shown} is not {want}",
            i + 1
        )
    };
    // A byte count or count: a number from 0 to 2^63.
    let amount = |i: usize, what: &str| -> std::result::Result<f64, String> {
        match number(field(i)) {
            Some(v) if (0.0..=MAX_VALUE).contains(&v) => Ok(v),
            Some(_) => Err(bad(i, what, "a plausible amount (from 0 to 2^63)")),
            None => Err(bad(i, what, "a number")),
        }
    };
    let timestamp = match c.ts {
        Some(i) => Some(
            std::str::from_utf8(field(i))
                .ok()
                .and_then(parse_timestamp)
                .ok_or_else(|| {
                    bad(
                        i,
                        "timestamp",
                        "an RFC 3339 time such as 2024-05-01T12:00:00.000Z",
                    )
                })?,
        ),
        None => None,
    };
    let elapsed = match c.el {
        Some(i) => match number(field(i)) {
            Some(e) if (0.0..=MAX_ELAPSED).contains(&e) => Some(e),
            Some(_) => return Err(bad(i, "elapsed_s", "a plausible number of seconds")),
            None => return Err(bad(i, "elapsed_s", "a number")),
        },
        None => None,
    };
    let pid = match c.pid {
        Some(i) => match number(field(i)) {
            Some(p) if p.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&p) => Some(p as u64),
            _ => return Err(bad(i, "pid", "a process ID")),
        },
        None => None,
    };
    let run = match c.run {
        Some(i) => match number(field(i)) {
            Some(r) if r.fract() == 0.0 && r.abs() <= 1e15 => Some(r as i64),
            _ => return Err(bad(i, "run", "a run number")),
        },
        None => None,
    };
    let mut metrics = [None; metrics::COUNT];
    let mut value = None;
    for (slot, (col, m)) in metrics.iter_mut().zip(c.metrics.iter().zip(Metric::ALL)) {
        if let Some(i) = *col {
            let v = amount(i, m.column())?;
            *slot = Some(v);
            if i == c.val {
                value = Some(v);
            }
        }
    }
    let value = match value {
        Some(v) => v,
        None => amount(c.val, "judged column")?,
    };
    Ok(Row {
        line,
        timestamp,
        elapsed,
        pid,
        run,
        value,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Vec<Row>, Vec<String>) {
        let mut r = LogReader::from_reader(
            "t.csv".into(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            &ReadOptions::default(),
        )
        .unwrap();
        let mut rows = Vec::new();
        while let Some(row) = r.next_row().unwrap() {
            rows.push(row);
        }
        (rows, r.warnings().to_vec())
    }

    #[test]
    fn reads_header_by_name_and_ignores_unknown_columns() {
        let (rows, w) = read_all("pid,extra,elapsed_s,rss_bytes\n7,x,0.5,100\n7,y,1.5,200\n");
        assert!(w.is_empty());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].elapsed, Some(1.5));
        assert_eq!(rows[1].value, 200.0);
        assert_eq!(rows[0].pid, Some(7));
    }

    #[test]
    fn last_row_cut_short_is_a_warning() {
        let (rows, w) = read_all("elapsed_s,rss_bytes\n0,1\n1,2\n2,");
        assert_eq!(rows.len(), 2);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("line 4"), "{w:?}");
    }

    #[test]
    fn shell_loop_log_is_recognised() {
        let (rows, _) = read_all("1000 200\n1000 300\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].value, 300.0 * 1024.0);
        assert_eq!(rows[1].metrics[Metric::Vsz.index()], Some(1000.0 * 1024.0));
        assert_eq!(rows[1].elapsed, Some(1.0));
    }
}
