//! Reading a log back as a stream of rows: a CSV log found by its header, or
//! the article's shell-loop log.

use super::fields::{self, number};
use super::lines::{Lines, MAX_LINE};
use super::parse_timestamp;
use super::pipeline::{Batch, PIECE, Pipeline, Stop};
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

/// Rows of a CSV log, parsed on worker threads (see [`pipeline`](super::pipeline))
/// and taken in file order.
struct CsvRows {
    cols: Cols,
    layout: Layout,
    pipe: Pipeline,
    /// The batch being taken, and the next row in it.
    batch: Batch,
    at: usize,
    /// Lines before the batch (the header's too).
    lines_before: u64,
    /// Whether the input has ended (or failed).
    done: bool,
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
        input: Box<dyn Read + Send>,
        opts: &ReadOptions,
    ) -> Result<LogReader> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        Self::in_pieces(name, input, opts, (PIECE, workers))
    }

    /// [`Self::from_reader`], the body read `piece` bytes at a time and
    /// parsed on `workers` threads (none: on the caller's).
    fn in_pieces(
        name: String,
        input: Box<dyn Read + Send>,
        opts: &ReadOptions,
        (piece, workers): (usize, usize),
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
            let rows = CsvRows::open(&name, br, &column, (piece, workers))?;
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

    /// Calls `f` with every row left, in order: what [`Self::next_row`]
    /// gives, faster.
    pub fn for_each_row(&mut self, mut f: impl FnMut(&Row)) -> Result<()> {
        match &mut self.rows {
            Rows::Csv(c) => c.for_each_row(&self.name, &mut self.warnings, &mut f),
            Rows::Shell(s) => {
                while let Some(row) = s.next_row(&self.name, &mut self.warnings)? {
                    f(&row);
                }
                Ok(())
            }
        }
    }
}

impl CsvRows {
    /// Reads the header of a CSV log and finds its columns.
    fn open(
        name: &str,
        input: BufReader<Box<dyn Read + Send>>,
        column: &str,
        (piece, workers): (usize, usize),
    ) -> Result<Box<CsvRows>> {
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
        let layout = Layout::of(&cols);
        let parse = {
            let (layout, mut spans) = (layout.clone(), Vec::with_capacity(cols.nfields));
            let mut times = fields::Times::default();
            move |line: &[u8], vals: &mut Vec<f64>| {
                layout.parse(line, &cols, (&mut spans, &mut times), vals)
            }
        };
        let lines_before = lines.number;
        let pipe = Pipeline::start(lines.into_inner(), piece, workers, parse);
        Ok(Box::new(CsvRows {
            cols,
            layout,
            pipe,
            batch: Batch::default(),
            at: 0,
            lines_before,
            done: false,
        }))
    }

    /// The next row. Only a last line without its newline is a row cut
    /// short (skipped, with a warning); any other bad line is an error.
    fn next_row(&mut self, name: &str, warnings: &mut Vec<String>) -> Result<Option<Row>> {
        loop {
            if let Some(&rel) = self.batch.lines.get(self.at) {
                let slots = &self.batch.vals[self.at * self.layout.stride..];
                self.at += 1;
                return Ok(Some(
                    self.layout.row(slots, self.lines_before + u64::from(rel)),
                ));
            }
            if !self.advance(name, warnings)? {
                return Ok(None);
            }
        }
    }

    /// Calls `f` with every row left, in order (as [`Self::next_row`] gives
    /// them, without copying each out).
    fn for_each_row(
        &mut self,
        name: &str,
        warnings: &mut Vec<String>,
        f: &mut impl FnMut(&Row),
    ) -> Result<()> {
        loop {
            let (stride, before) = (self.layout.stride, self.lines_before);
            let b = &self.batch;
            for (i, &rel) in b.lines.iter().enumerate().skip(self.at) {
                f(&self.layout.row(
                    &b.vals[i * stride..(i + 1) * stride],
                    before + u64::from(rel),
                ));
            }
            self.at = b.lines.len();
            if !self.advance(name, warnings)? {
                return Ok(());
            }
        }
    }

    /// Moves on to the next batch; `false` at the end of the rows.
    fn advance(&mut self, name: &str, warnings: &mut Vec<String>) -> Result<bool> {
        if let Some(stop) = self.batch.stop.take() {
            self.done = true;
            self.stopped(stop, name, warnings)?;
            return Ok(false);
        }
        if self.done {
            return Ok(false);
        }
        self.lines_before += u64::from(self.batch.nlines);
        match self.pipe.next_batch() {
            Some(b) => (self.batch, self.at) = (b, 0),
            None => self.done = true,
        }
        Ok(!self.done)
    }

    /// What ends the rows: the end, a row cut short (a warning), or an
    /// error naming its line.
    fn stopped(&self, stop: Stop, name: &str, warnings: &mut Vec<String>) -> Result<()> {
        let at = |rel: u32| self.lines_before + u64::from(rel);
        match stop {
            Stop::End => Ok(()),
            Stop::Cut => {
                warnings.push(format!(
                    "{name}: line {}: skipped a last row cut short (it has no newline)",
                    at(self.batch.nlines + 1)
                ));
                Ok(())
            }
            Stop::Bad(rel, text) => {
                let why = parse_record(&text, &mut Vec::new(), &self.cols, at(rel))
                    .err()
                    .unwrap_or_else(|| format!("line {}: not a row", at(rel)));
                bail!("{name}: {why}")
            }
            Stop::Long(rel) => bail!(
                "{name}: line {} is longer than {} KiB: this is not a leakwatch log",
                at(rel),
                MAX_LINE / 1024
            ),
            Stop::Read(e) => Err(anyhow::Error::new(e).context(format!(
                "{name}: cannot read line {}",
                at(self.batch.nlines + 1)
            ))),
        }
    }
}

/// Where a row's values stand among its slots in a [`Batch`], and how each
/// field of a line is read into them.
#[derive(Debug, Clone)]
struct Layout {
    ts: Option<usize>,
    el: Option<usize>,
    pid: Option<usize>,
    run: Option<usize>,
    metrics: [Option<usize>; metrics::COUNT],
    value: usize,
    stride: usize,
    /// What each field up to the last one read is (the fast path), or
    /// `None` where every line takes the general path.
    fields: Option<Vec<Field>>,
}

/// What a field of a line is, for the fast path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Skip,
    Timestamp(usize),
    Elapsed(usize),
    Pid(usize),
    Run(usize),
    Amount(usize),
}

impl Layout {
    /// The slots for the columns `c` has.
    fn of(c: &Cols) -> Layout {
        let mut stride = 0;
        let mut slot = |present: bool| {
            present.then(|| {
                stride += 1;
                stride - 1
            })
        };
        let (ts, el, pid, run) = (
            slot(c.ts.is_some()),
            slot(c.el.is_some()),
            slot(c.pid.is_some()),
            slot(c.run.is_some()),
        );
        let metrics = c.metrics.map(|m| slot(m.is_some()));
        let of_metric = c.metrics.iter().position(|m| *m == Some(c.val));
        let value = match of_metric {
            Some(k) => metrics[k].unwrap_or(0),
            None => slot(true).unwrap_or(0),
        };
        let mut fields = vec![Field::Skip; c.nfields];
        let mut set = |col: Option<usize>, f: Field| {
            col.is_some_and(|i| std::mem::replace(&mut fields[i], f) != Field::Skip)
        };
        let mut clash = false;
        clash |= set(c.ts, Field::Timestamp(ts.unwrap_or(0)));
        clash |= set(c.el, Field::Elapsed(el.unwrap_or(0)));
        clash |= set(c.pid, Field::Pid(pid.unwrap_or(0)));
        clash |= set(c.run, Field::Run(run.unwrap_or(0)));
        for (col, s) in c.metrics.iter().zip(metrics) {
            clash |= set(*col, Field::Amount(s.unwrap_or(0)));
        }
        if of_metric.is_none() {
            clash |= set(Some(c.val), Field::Amount(value));
        }
        let last = fields
            .iter()
            .rposition(|f| *f != Field::Skip)
            .map_or(0, |i| i + 1);
        fields.truncate(last);
        Layout {
            ts,
            el,
            pid,
            run,
            metrics,
            value,
            stride,
            fields: (!clash).then_some(fields),
        }
    }

    /// Reads `line` into `vals`: the fast path, else the general one;
    /// `false` when the line is no row.
    fn parse(
        &self,
        line: &[u8],
        c: &Cols,
        (spans, times): (&mut Vec<(usize, usize)>, &mut fields::Times),
        vals: &mut Vec<f64>,
    ) -> bool {
        let base = vals.len();
        vals.resize(base + self.stride, 0.0);
        if self
            .fast(line, c.nfields, times, &mut vals[base..])
            .is_some()
        {
            return true;
        }
        match parse_record(line, spans, c, 0) {
            Ok(row) => {
                self.store(&row, &mut vals[base..]);
                true
            }
            Err(_) => {
                vals.truncate(base);
                false
            }
        }
    }

    /// The fast path: the fields as leakwatch writes them (plain decimals,
    /// millisecond UTC times), each within its bounds, no quote, at least
    /// `nfields` fields. `None` for anything else, which the general path
    /// then reads (and judges) as it always has.
    fn fast(
        &self,
        line: &[u8],
        nfields: usize,
        times: &mut fields::Times,
        out: &mut [f64],
    ) -> Option<()> {
        let fields = self.fields.as_ref()?;
        let mut i = 0;
        for (n, f) in fields.iter().enumerate() {
            let end = match *f {
                Field::Skip => field_end(line, i)?,
                Field::Timestamp(s) => {
                    let end = match line.get(i + 24) {
                        None if line.len() == i + 24 => i + 24,
                        Some(b',') => i + 24,
                        _ => field_end(line, i)?,
                    };
                    out[s] = times.read(&line[i..end])?;
                    end
                }
                Field::Elapsed(s) => put(out, s, line, i, |v| (0.0..=MAX_ELAPSED).contains(&v))?,
                Field::Pid(s) => put(out, s, line, i, |p| {
                    (0.0..=u32::MAX as f64).contains(&p) && p == p as i64 as f64
                })?,
                Field::Run(s) => put(out, s, line, i, |r| r.abs() <= 1e15 && r == r as i64 as f64)?,
                Field::Amount(s) => put(out, s, line, i, |v| (0.0..=MAX_VALUE).contains(&v))?,
            };
            if end == line.len() {
                return (n + 1 >= nfields).then_some(());
            }
            i = end + 1;
        }
        let rest = &line[i..];
        let more = 1 + memchr::memchr_iter(b',', rest).count();
        (memchr::memchr(b'"', rest).is_none() && fields.len() + more >= nfields).then_some(())
    }

    /// A row read by the general path, into its slots.
    fn store(&self, row: &Row, out: &mut [f64]) {
        let mut put = |slot: Option<usize>, v: Option<f64>| {
            if let (Some(s), Some(v)) = (slot, v) {
                out[s] = v;
            }
        };
        put(self.ts, row.timestamp);
        put(self.el, row.elapsed);
        put(self.pid, row.pid.map(|p| p as f64));
        put(self.run, row.run.map(|r| r as f64));
        for (s, v) in self.metrics.iter().zip(row.metrics) {
            put(*s, v);
        }
        out[self.value] = row.value;
    }

    /// The row in `slots`, read from line `line`.
    #[inline]
    fn row(&self, slots: &[f64], line: u64) -> Row {
        Row {
            line,
            timestamp: self.ts.map(|s| slots[s]),
            elapsed: self.el.map(|s| slots[s]),
            pid: self.pid.map(|s| slots[s] as u64),
            run: self.run.map(|s| slots[s] as i64),
            value: slots[self.value],
            metrics: self.metrics.map(|s| s.map(|s| slots[s])),
        }
    }
}

/// Reads the plain decimal (see [`fields::decimal_at`]) that starts `line`
/// at `i` into `out[slot]` if `ok` holds; where the field ends.
#[inline]
fn put(
    out: &mut [f64],
    slot: usize,
    line: &[u8],
    i: usize,
    ok: impl Fn(f64) -> bool,
) -> Option<usize> {
    let (v, end) = fields::decimal_at(line, i)?;
    ok(v).then(|| out[slot] = v)?;
    Some(end)
}

/// Where the field that starts at `i` ends (a comma, or the line's end);
/// `None` at a quote.
#[inline]
fn field_end(line: &[u8], i: usize) -> Option<usize> {
    match memchr::memchr2(b',', b'"', &line[i..]) {
        Some(k) if line[i + k] == b'"' => None,
        Some(k) => Some(i + k),
        None => Some(line.len()),
    }
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
    use super::super::lines::Line;
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

    /// The rows, warnings and error of the line-by-line reader that came
    /// before the pipeline: what the pipeline must give, whatever its
    /// pieces.
    fn line_by_line(text: &[u8]) -> (Vec<Row>, Vec<String>, Option<String>) {
        let name = "t.csv";
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.to_vec()));
        let (mut rows, mut warnings) = (Vec::new(), Vec::new());
        let mut br = BufReader::new(input);
        if br.fill_buf().unwrap().starts_with(b"\xEF\xBB\xBF") {
            br.consume(3);
        }
        let mut lines = Lines::new(br);
        if let Err(e) = lines.next(name) {
            return (rows, warnings, Some(format!("{e:#}")));
        }
        let head = String::from_utf8_lossy(&lines.buf).to_string();
        let headers: Vec<&str> = head.split(',').map(str::trim).collect();
        let find = |n: &str| headers.iter().position(|h| *h == n);
        let cols = Cols {
            ts: find("timestamp"),
            el: find("elapsed_s"),
            pid: find("pid"),
            run: find("run"),
            val: find("rss_bytes").unwrap(),
            metrics: Metric::ALL.map(|m| find(m.column())),
            nfields: headers.len(),
        };
        let mut spans = Vec::new();
        loop {
            let kind = match lines.next(name) {
                Ok(k) => k,
                Err(e) => return (rows, warnings, Some(format!("{e:#}"))),
            };
            let line = lines.number;
            let blank = lines.buf.iter().all(|b| b.is_ascii_whitespace());
            match kind {
                Line::End => break,
                Line::Cut if blank => break,
                Line::Cut => {
                    warnings.push(format!(
                        "{name}: line {line}: skipped a last row cut short (it has no newline)"
                    ));
                    break;
                }
                Line::Complete if blank => continue,
                Line::Complete => match parse_record(&lines.buf, &mut spans, &cols, line) {
                    Ok(r) => rows.push(r),
                    Err(m) => return (rows, warnings, Some(format!("{name}: {m}"))),
                },
            }
        }
        (rows, warnings, None)
    }

    /// The same through the pipeline, `piece` bytes at a time on `workers`
    /// threads, by `next_row` or `for_each_row`.
    fn piecewise(
        text: &[u8],
        pieces: (usize, usize),
        each: bool,
    ) -> (Vec<Row>, Vec<String>, Option<String>) {
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.to_vec()));
        let mut r =
            match LogReader::in_pieces("t.csv".into(), input, &ReadOptions::default(), pieces) {
                Ok(r) => r,
                Err(e) => return (Vec::new(), Vec::new(), Some(format!("{e:#}"))),
            };
        let mut rows = Vec::new();
        let end = if each {
            r.for_each_row(|row| rows.push(*row)).err()
        } else {
            loop {
                match r.next_row() {
                    Ok(Some(row)) => rows.push(row),
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            }
        };
        (rows, r.warnings().to_vec(), end.map(|e| format!("{e:#}")))
    }

    /// Seeded logs, damaged in every way a log can be (blank lines, CRLF,
    /// quotes, cut rows, bad numbers and times, long lines, odd number
    /// forms), read through the pipeline in pieces of 1 byte to 1 MiB, on
    /// worker threads and on none:
    /// the same rows (bit for bit), warnings and errors as line by line.
    #[test]
    fn the_pipeline_reads_what_the_line_by_line_reader_read() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n.max(1)
        };
        let damage: [&[u8]; 14] = [
            b"\n",
            b"\r\n",
            b"\"",
            b",",
            b"x",
            b"-1",
            b"1e3",
            b" ",
            b"\n\n",
            b"NaN",
            b".5",
            b"99999999999999999999",
            b"2024-13-01T00:00:00.000Z",
            b"\xff",
        ];
        for case in 0..400 {
            let header: &[u8] = match case % 4 {
                0 => b"timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n",
                1 => b"elapsed_s,rss_bytes\n",
                2 => b"timestamp,elapsed_s,pid,rss_bytes,vsz_bytes,run,fds,extra\n",
                _ => b"pid,timestamp,rss_bytes,elapsed_s\n",
            };
            let mut text = header.to_vec();
            let rows = rnd(300);
            for i in 0..rows {
                let (ms, rss) = (i * 500 + rnd(400), 1_000_000 + rnd(1 << 30));
                let ts = humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_millis(1_700_000_000_000 + ms * 97),
                );
                let line = match case % 4 {
                    0 => format!("{ts},{}.{:03},42,{rss},{}\n", ms / 1000, ms % 1000, rss * 2),
                    1 => format!("{}.{},{rss}\n", ms / 1000, ms % 10),
                    2 => format!(
                        "{ts},{}.{:03},42,{rss},{},{},{},y\n",
                        ms / 1000,
                        ms % 1000,
                        rss * 2,
                        i / 50,
                        rnd(99)
                    ),
                    _ => format!("7,{ts},{rss},{}\n", ms / 1000),
                };
                text.extend_from_slice(line.as_bytes());
            }
            for _ in 0..rnd(4) {
                let at = header.len() + rnd((text.len() - header.len()) as u64 + 1) as usize;
                let d = damage[rnd(damage.len() as u64) as usize];
                text.splice(at..at, d.iter().copied());
            }
            if case % 7 == 3 {
                let at = header.len() + rnd((text.len() - header.len()) as u64 + 1) as usize;
                text.splice(
                    at..at,
                    std::iter::repeat_n(b'7', MAX_LINE + rnd(3) as usize - 1),
                );
            }
            if case % 5 == 0 {
                text.truncate(text.len() - rnd(30).min(text.len() as u64) as usize);
            }
            let want = line_by_line(&text);
            // On two workers, and on none (no thread could be started).
            for (piece, workers) in [(1, 2), (7, 2), (64, 0), (4096, 2), (PIECE, 2), (PIECE, 0)] {
                let got = piecewise(&text, (piece, workers), case % 2 == 0);
                assert_eq!(got.2, want.2, "case {case}, pieces of {piece}");
                assert_eq!(got.1, want.1, "case {case}, pieces of {piece}");
                assert_eq!(got.0.len(), want.0.len(), "case {case}, pieces of {piece}");
                for (g, w) in got.0.iter().zip(&want.0) {
                    assert_eq!(
                        format!("{g:?}"),
                        format!("{w:?}"),
                        "case {case}, pieces of {piece}"
                    );
                }
            }
        }
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
