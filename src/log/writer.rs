//! Writing a log: one row per sample, appended to a file or standard output.

use super::{BASE_COLUMNS, header_line};
use crate::metrics::Metric;
use crate::metrics::Reading;
use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
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
    /// For `repeat`: the run (0 before the first, -1 the cool-down).
    pub run: Option<i64>,
}

/// Says when to stop waiting for a FIFO's reader.
pub type GiveUp = Box<dyn Fn() -> bool + Send + Sync>;

/// Where the log goes: a file, appended to, or standard output.
pub struct LogWriter {
    out: Box<dyn Write + Send>,
    path: Option<PathBuf>,
    line: String,
    extra: Vec<Metric>,
    warnings: Vec<String>,
    give_up: Arc<OnceLock<GiveUp>>,
}

/// A FIFO written without blocking, so a reader that stops reading cannot
/// hang the watch: a full pipe is waited on in short polls until `give_up`.
struct Fifo {
    file: File,
    give_up: Arc<OnceLock<GiveUp>>,
}

impl Write for Fifo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match self.file.write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if self.give_up.get().is_some_and(|g| g()) {
                        return Err(std::io::Error::other(
                            "its reader stopped reading and the watch is ending",
                        ));
                    }
                    crate::sys::files::wait_writable(&self.file, 50);
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Opens an existing FIFO for writing without blocking; refused when no
/// reader has it open.
fn open_fifo(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => Ok(f),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => bail!(
            "{}: a FIFO that no one reads; start its reader first (e.g. `cat {}`)",
            path.display(),
            path.display()
        ),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot open {}", path.display()))),
    }
}

impl LogWriter {
    /// Opens `path` for appending, or standard output for `-`, for a log of
    /// `metrics` (rss and vsz are always written; others become extra columns).
    ///
    /// A new or empty file gets the header. A file that starts with the same
    /// header is appended to (a row cut short by an earlier crash is dropped
    /// first). Anything else is refused and left untouched.
    pub fn open(path: &Path, metrics: &[Metric]) -> Result<LogWriter> {
        Self::open_with(path, metrics, false)
    }

    /// As [`LogWriter::open`], with a last column `run` when `runs` (a
    /// `repeat` log).
    pub fn open_with(path: &Path, metrics: &[Metric], runs: bool) -> Result<LogWriter> {
        let extra: Vec<Metric> = metrics
            .iter()
            .copied()
            .filter(|m| !matches!(m, Metric::Rss | Metric::Vsz))
            .collect();
        let mut names: Vec<&str> = extra.iter().map(|m| m.column()).collect();
        if runs {
            names.push("run");
        }
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
                give_up: Arc::default(),
            });
        }
        use std::os::unix::fs::FileTypeExt;
        if let Ok(m) = std::fs::symlink_metadata(path)
            && m.file_type().is_symlink()
        {
            crate::sys::files::check_link(path, &m)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
        }
        if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
            let give_up = Arc::<OnceLock<GiveUp>>::default();
            let out = Fifo {
                file: open_fifo(path)?,
                give_up: give_up.clone(),
            };
            // The header goes with the first row, once give_up is known.
            return Ok(LogWriter {
                out: Box::new(out),
                path: Some(path.to_path_buf()),
                line: format!("{header}\n"),
                extra,
                warnings: Vec::new(),
                give_up,
            });
        }
        let (file, warnings) = prepare_file(path, &header)?;
        Ok(LogWriter {
            out: Box::new(file),
            path: Some(path.to_path_buf()),
            line: String::with_capacity(128),
            extra,
            warnings,
            give_up: Arc::default(),
        })
    }

    /// When a FIFO's reader stops reading, writes wait until `give_up` says
    /// to stop (a signal, the watch's end); then they fail.
    pub fn give_up_when(&mut self, give_up: GiveUp) {
        let _ = self.give_up.set(give_up);
    }

    /// Warnings from opening the log (a partial last row dropped).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Writes one row and hands it to the OS at once (one `write` call), so a
    /// crash loses at most that row and `tail -f` sees every sample.
    pub fn write(&mut self, s: &Sample) -> Result<()> {
        use std::fmt::Write as _;
        // `line` is empty, or holds a FIFO's header, due with the first row.
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
        if let Some(run) = s.run {
            let _ = write!(self.line, ",{run}");
        }
        self.line.push('\n');
        let res = self
            .out
            .write_all(self.line.as_bytes())
            .and_then(|_| self.out.flush());
        self.line.clear();
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
    let mut file = crate::sys::files::open_output(path, crate::sys::files::Write::Append)
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
    use crate::sys::files::{Lock, lock_exclusive};
    match lock_exclusive(file) {
        Lock::Held => bail!(
            "{}: another leakwatch is writing to this log (it holds the log's lock); \
             wait for it to end, or choose another log file",
            path.display()
        ),
        // A file system without locks (some network mounts) still takes the log.
        Lock::Taken | Lock::Unsupported => Ok(()),
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
