//! The CSV log format: writing it sample by sample, and reading it back (or the
//! article's `ps | awk` shell-loop log) as a stream.
//!
//! A log has a header row and the columns `timestamp,elapsed_s,pid,rss_bytes,vsz_bytes`
//! (RFC 3339 UTC with milliseconds; seconds since the watch began, to the
//! millisecond; the PID; sizes in bytes), possibly followed by more columns.
//! Readers find columns by name and ignore the ones they do not know.

use crate::metrics::{self, Metric};
use crate::sampler::Reading;
use anyhow::{Context, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The base columns every leakwatch log starts with, in order.
pub const BASE_COLUMNS: [&str; 5] = ["timestamp", "elapsed_s", "pid", "rss_bytes", "vsz_bytes"];

/// The header line for a log with `extra` columns after the base ones.
pub fn header_line(extra: &[&str]) -> String {
    let mut cols: Vec<&str> = BASE_COLUMNS.to_vec();
    cols.extend_from_slice(extra);
    cols.join(",")
}

/// One sample as written to the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Wall-clock time of the sample.
    pub timestamp: SystemTime,
    /// Seconds since the watch began (monotonic clock).
    pub elapsed_s: f64,
    /// The process sampled.
    pub pid: u32,
    /// The metrics read.
    pub reading: Reading,
}

/// Where the log goes: a file, appended to, or standard output.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
    path: Option<PathBuf>,
    line: String,
    extra: Vec<Metric>,
}

impl LogWriter {
    /// Opens `path` for appending, or standard output for `-`, for a log of
    /// `metrics` (rss and vsz are always written; others become extra columns).
    ///
    /// A new or empty file gets the header. A file that starts with the same
    /// header is appended to (a row cut short by an earlier crash is dropped
    /// first). Anything else is refused and left untouched.
    pub fn open(path: &Path, metrics: &[Metric]) -> Result<LogWriter> {
        let extra: Vec<Metric> = metrics
            .iter()
            .copied()
            .filter(|m| !matches!(m, Metric::Rss | Metric::Vsz))
            .collect();
        let names: Vec<&str> = extra.iter().map(|m| m.column()).collect();
        let header = header_line(&names);
        if path.as_os_str() == "-" {
            let mut out = std::io::stdout();
            out.write_all(format!("{header}\n").as_bytes())
                .context("cannot write the log header to standard output")?;
            out.flush().ok();
            return Ok(LogWriter {
                out: Box::new(out),
                path: None,
                line: String::with_capacity(128),
                extra,
            });
        }
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("cannot open log file {shown} for writing"))?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot read {shown}"))?
            .len();
        if len == 0 {
            file.write_all(format!("{header}\n").as_bytes())
                .with_context(|| format!("cannot write to {shown}"))?;
        } else {
            let mut first = String::new();
            BufReader::new(&mut file)
                .take(4096)
                .read_line(&mut first)
                .with_context(|| format!("cannot read {shown}"))?;
            let found = first.trim_end_matches(['\n', '\r']);
            if found != header {
                let what = if BASE_COLUMNS
                    .iter()
                    .all(|c| found.split(',').any(|f| f == *c))
                {
                    format!("it has another header ('{found}')")
                } else {
                    "it is not a leakwatch log".to_string()
                };
                bail!(
                    "{shown}: refusing to append: {what}; the file is left untouched. \
                     Choose another file with -o, or move this one away"
                );
            }
            // A row cut short by a crash would glue onto our first row: drop it.
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                let keep = last_newline(&mut file, len)?;
                file.set_len(keep)
                    .with_context(|| format!("cannot trim the partial last row of {shown}"))?;
                eprintln!(
                    "leakwatch: warning: {shown}: dropped a partial last row left by an earlier run"
                );
            }
        }
        Ok(LogWriter {
            out: Box::new(file),
            path: Some(path.to_path_buf()),
            line: String::with_capacity(128),
            extra,
        })
    }

    /// Writes one row and hands it to the OS at once (one `write` call), so a
    /// crash loses at most that row and `tail -f` sees every sample.
    pub fn write(&mut self, s: &Sample) -> Result<()> {
        use std::fmt::Write as _;
        self.line.clear();
        let _ = write!(
            self.line,
            "{},{:.3},{},{},{}",
            humantime::format_rfc3339_millis(s.timestamp),
            s.elapsed_s,
            s.pid,
            s.reading.rss(),
            s.reading.vsz()
        );
        for m in &self.extra {
            let _ = write!(self.line, ",{}", s.reading.get(*m));
        }
        self.line.push('\n');
        let res = self
            .out
            .write_all(self.line.as_bytes())
            .and_then(|_| self.out.flush());
        res.with_context(|| match &self.path {
            Some(p) => format!("cannot write to log file {}", p.display()),
            None => "cannot write the log to standard output".to_string(),
        })
    }
}

/// Offset just past the last newline in the first `len` bytes of `file`.
fn last_newline(file: &mut File, len: u64) -> Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

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

/// A streaming reader of leakwatch logs and shell-loop logs.
pub struct LogReader {
    name: String,
    kind: InputKind,
    column_name: String,
    inner: Inner,
    warnings: Vec<String>,
    index: u64,
    interval: f64,
}

enum Inner {
    Csv {
        rdr: Box<csv::Reader<Box<dyn Read>>>,
        rec: csv::ByteRecord,
        next: csv::ByteRecord,
        have_next: bool,
        cols: Cols,
    },
    Shell {
        rdr: BufReader<Box<dyn Read>>,
        buf: String,
        line: u64,
        rss: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Cols {
    ts: Option<usize>,
    el: Option<usize>,
    pid: Option<usize>,
    val: usize,
    metrics: [Option<usize>; metrics::COUNT],
    nfields: usize,
}

impl LogReader {
    /// Opens `path` (`-` for standard input) and reads its header.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<LogReader> {
        let (name, input): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
            ("<stdin>".to_string(), Box::new(std::io::stdin()))
        } else {
            let f = File::open(path).with_context(|| {
                format!(
                    "cannot open {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                )
            });
            let f = match f {
                Ok(f) => f,
                Err(_) => bail!(
                    "{}: no such file or not readable; give the path of a log written with -o",
                    path.display()
                ),
            };
            (path.display().to_string(), Box::new(f))
        };
        Self::from_reader(name, input, opts)
    }

    /// Reads from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: String,
        input: Box<dyn Read>,
        opts: &ReadOptions,
    ) -> Result<LogReader> {
        let mut br = BufReader::with_capacity(256 * 1024, input);
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
        let is_shell = !head.is_empty()
            && head.split_whitespace().count() == 2
            && head.split_whitespace().all(|w| w.parse::<u64>().is_ok());
        if is_shell || empty {
            let column = opts.column.clone().unwrap_or_else(|| "rss_bytes".into());
            let rss = match column.as_str() {
                "rss_bytes" | "rss" => true,
                "vsz_bytes" | "vsz" => false,
                other => bail!(
                    "{name}: a shell-loop log has only the columns vsz_bytes and rss_bytes, not '{other}'"
                ),
            };
            // Empty input reads as a log with no rows (judged `inconclusive`).
            return Ok(LogReader {
                name,
                kind: if empty {
                    InputKind::Csv
                } else {
                    InputKind::ShellLoop
                },
                column_name: if rss { "rss_bytes" } else { "vsz_bytes" }.into(),
                inner: Inner::Shell {
                    rdr: br,
                    buf: String::new(),
                    line: 0,
                    rss,
                },
                warnings: Vec::new(),
                index: 0,
                interval: opts.interval_s,
            });
        }
        let boxed: Box<dyn Read> = Box::new(br);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(boxed);
        let headers = match rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => bail!("{name}: line 1: cannot read the header: {e}"),
        };
        let find = |n: &str| headers.iter().position(|h| h == n.as_bytes());
        let column = opts.column.clone().unwrap_or_else(|| "rss_bytes".into());
        let val = match find(&column) {
            Some(i) => i,
            None => {
                let have: Vec<String> = headers
                    .iter()
                    .map(|h| String::from_utf8_lossy(h).into_owned())
                    .collect();
                bail!(
                    "{name}: line 1: no column '{column}' in the header (columns: {}); choose one with --column",
                    have.join(", ")
                )
            }
        };
        let cols = Cols {
            ts: find("timestamp"),
            el: find("elapsed_s"),
            pid: find("pid"),
            val,
            metrics: Metric::ALL.map(|m| find(m.column())),
            nfields: headers.len(),
        };
        if cols.ts.is_none() && cols.el.is_none() {
            bail!(
                "{name}: line 1: the header has neither 'elapsed_s' nor 'timestamp', so samples have no times"
            );
        }
        Ok(LogReader {
            name,
            kind: InputKind::Csv,
            column_name: column,
            inner: Inner::Csv {
                rdr: Box::new(rdr),
                rec: csv::ByteRecord::new(),
                next: csv::ByteRecord::new(),
                have_next: false,
                cols,
            },
            warnings: Vec::new(),
            index: 0,
            interval: opts.interval_s,
        })
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
        match &self.inner {
            Inner::Csv { cols, .. } => Metric::ALL
                .into_iter()
                .filter(|m| cols.metrics[m.index()].is_some())
                .collect(),
            Inner::Shell { .. } if self.kind == InputKind::ShellLoop => {
                vec![Metric::Rss, Metric::Vsz]
            }
            Inner::Shell { .. } => vec![Metric::Rss],
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
        let name = &self.name;
        match &mut self.inner {
            Inner::Shell {
                rdr,
                buf,
                line,
                rss,
            } => loop {
                buf.clear();
                let n = rdr
                    .read_line(buf)
                    .with_context(|| format!("{name}: cannot read line {}", *line + 1))?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                let text = buf.trim();
                if text.is_empty() {
                    continue;
                }
                let mut it = text.split_whitespace();
                let parsed = match (it.next(), it.next(), it.next()) {
                    (Some(a), Some(b), None) => a.parse::<u64>().ok().zip(b.parse::<u64>().ok()),
                    _ => None,
                };
                let Some((vsz, rs)) = parsed else {
                    let msg = format!(
                        "{name}: line {}: expected two whole numbers 'VSZ RSS' in KiB, found '{text}'",
                        *line
                    );
                    let complete = buf.ends_with('\n');
                    let at_end = rdr.fill_buf().map(|b| b.is_empty()).unwrap_or(true);
                    if at_end && !complete {
                        self.warnings.push(format!(
                            "{name}: line {}: skipped a last line cut short",
                            *line
                        ));
                        return Ok(None);
                    }
                    bail!(msg);
                };
                let t = self.index as f64 * self.interval;
                self.index += 1;
                let value = if *rss { rs } else { vsz };
                let mut m = [None; metrics::COUNT];
                m[Metric::Rss.index()] = Some(rs as f64 * 1024.0);
                m[Metric::Vsz.index()] = Some(vsz as f64 * 1024.0);
                return Ok(Some(Row {
                    line: *line,
                    timestamp: None,
                    elapsed: Some(t),
                    pid: None,
                    value: value as f64 * 1024.0,
                    metrics: m,
                }));
            },
            Inner::Csv {
                rdr,
                rec,
                next,
                have_next,
                cols,
            } => {
                loop {
                    // Keep one record of look-ahead so the last one is known.
                    if *have_next {
                        std::mem::swap(rec, next);
                        *have_next = false;
                    } else {
                        match rdr.read_byte_record(rec) {
                            Ok(true) => {}
                            Ok(false) => return Ok(None),
                            Err(e) => bail!("{name}: {}", csv_error(&e)),
                        }
                    }
                    let line = rec.position().map(|p| p.line()).unwrap_or(0);
                    if rec.len() == 1 && rec[0].is_empty() {
                        continue;
                    }
                    match parse_record(rec, cols, line) {
                        Ok(row) => return Ok(Some(row)),
                        Err(msg) => {
                            let msg = format!("{name}: {msg}");
                            match rdr.read_byte_record(next) {
                                Ok(true) => {
                                    // A row follows, so this one is malformed, not cut short.
                                    *have_next = true;
                                    bail!(msg);
                                }
                                Ok(false) => {
                                    self.warnings.push(format!(
                                        "{name}: line {line}: skipped a last row cut short ({})",
                                        msg.split(": ").last().unwrap_or("")
                                    ));
                                    return Ok(None);
                                }
                                Err(e) => bail!("{name}: {}", csv_error(&e)),
                            }
                        }
                    }
                }
            }
        }
    }
}

fn csv_error(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: {}", p.line(), e),
        None => e.to_string(),
    }
}

fn parse_record(rec: &csv::ByteRecord, c: &Cols, line: u64) -> std::result::Result<Row, String> {
    if rec.len() < c.nfields {
        return Err(format!(
            "line {line}: {} fields where the header has {}",
            rec.len(),
            c.nfields
        ));
    }
    let num = |i: usize, what: &str| -> std::result::Result<f64, String> {
        let f = &rec[i];
        let s = std::str::from_utf8(f).unwrap_or("");
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                format!(
                    "line {line}, column {} ({what}): '{}' is not a number",
                    i + 1,
                    String::from_utf8_lossy(f)
                )
            })
    };
    let timestamp = match c.ts {
        Some(i) => {
            let f = &rec[i];
            let s = std::str::from_utf8(f).unwrap_or("");
            Some(parse_timestamp(s).ok_or_else(|| {
                format!(
                    "line {line}, column {} (timestamp): '{}' is not an RFC 3339 time such as 2024-05-01T12:00:00.000Z",
                    i + 1,
                    String::from_utf8_lossy(f)
                )
            })?)
        }
        None => None,
    };
    let elapsed = match c.el {
        Some(i) => Some(num(i, "elapsed_s")?),
        None => None,
    };
    let pid = match c.pid {
        Some(i) => Some(num(i, "pid")? as u64),
        None => None,
    };
    let mut metrics = [None; metrics::COUNT];
    let mut value = None;
    for (slot, (col, m)) in metrics.iter_mut().zip(c.metrics.iter().zip(Metric::ALL)) {
        if let Some(i) = *col {
            let v = num(i, m.column())?;
            *slot = Some(v);
            if i == c.val {
                value = Some(v);
            }
        }
    }
    let value = match value {
        Some(v) => v,
        None => num(c.val, "judged column")?,
    };
    Ok(Row {
        line,
        timestamp,
        elapsed,
        pid,
        value,
        metrics,
    })
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

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2024-05-01T12:00:00.250Z").unwrap();
        assert!((t - 1714564800.25).abs() < 1e-6);
        assert!(parse_timestamp("yesterday").is_none());
    }
}
