//! Writing a log: one row per sample, appended to a file or standard output.

use super::{BASE_COLUMNS, header_line};
use crate::metrics::Metric;
use crate::sampler::Reading;
use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    warnings: Vec<String>,
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
                warnings: Vec::new(),
            });
        }
        let (file, warnings) = prepare_file(path, &header)?;
        Ok(LogWriter {
            out: Box::new(file),
            path: Some(path.to_path_buf()),
            line: String::with_capacity(128),
            extra,
            warnings,
        })
    }

    /// Warnings from opening the log (a partial last row dropped).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
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

/// Opens the log file at `path` for appending under an advisory lock, checks
/// its header (writing it to a new file) and makes it end with a newline.
fn prepare_file(path: &Path, header: &str) -> Result<(File, Vec<String>)> {
    let shown = path.display();
    let mut warnings = Vec::new();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open log file {shown} for writing"))?;
    lock(&file, path)?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if len == 0 {
        file.write_all(format!("{header}\n").as_bytes())
            .with_context(|| format!("cannot write to {shown}"))?;
        return Ok((file, warnings));
    }
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
            format!("it has another header ({})", quoted(found))
        } else {
            "it is not a leakwatch log".to_string()
        };
        bail!(
            "{shown}: refusing to append: {what}; the file is left untouched. \
             Choose another log file, or move this one away"
        );
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok((file, warnings));
    }
    if len == header.len() as u64 {
        // The header alone, without its newline: finish the line.
        file.write_all(b"\n")
            .with_context(|| format!("cannot write to {shown}"))?;
    } else {
        // A row cut short by a crash would glue onto our first row: drop it.
        let keep = last_newline(&mut file, len)?;
        file.set_len(keep)
            .with_context(|| format!("cannot trim the partial last row of {shown}"))?;
        warnings.push(format!(
            "{shown}: dropped a partial last row left by an earlier run"
        ));
    }
    Ok((file, warnings))
}

/// Takes an exclusive advisory lock (`flock`) on the log, held while it is
/// open, so two watches never interleave their rows in one file.
fn lock(file: &File, path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a descriptor we own and keep open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        bail!(
            "{}: another leakwatch is writing to this log (it holds the log's lock); \
             wait for it to end, or choose another log file",
            path.display()
        );
    }
    // A file system without locks (some network mounts) still takes the log.
    Ok(())
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
