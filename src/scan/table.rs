//! The live table a scan redraws on the terminal, like `top`: the targets
//! leaking first, fitted to the terminal's width and height.

use crate::detector::VerdictKind;
use crate::judging::Judging;

/// A target's verdict as the table shows it, judged now and then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    /// The verdict.
    pub kind: VerdictKind,
    /// A window was judged (else the rate means nothing yet).
    pub rate_known: bool,
    /// Growth rate, units per second.
    pub rate: f64,
    /// Its 95% interval.
    pub ci: [f64; 2],
    /// The series counts things (fds, threads), not bytes.
    pub counts: bool,
}

impl Shown {
    /// The verdict `judging` gives now, on the series its rule picks.
    pub fn of(judging: &Judging) -> Shown {
        let all = judging.judged();
        let (top, kind) = judging.judge().pick(&all);
        let v = &top.verdict;
        Shown {
            kind,
            rate_known: v.finding.rate_known(),
            rate: v.rate,
            ci: v.rate_ci95,
            counts: top.counts,
        }
    }
}

/// One target's row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Its PID.
    pub pid: u32,
    /// Its command line, or cgroup.
    pub label: &'a str,
    /// Its last RSS (a cgroup's anonymous memory), bytes.
    pub rss: u64,
    /// It is gone.
    pub exited: bool,
    /// Its verdict, once judged.
    pub shown: Option<Shown>,
}

/// What one redraw shows.
pub struct Frame<'a> {
    /// Every target.
    pub rows: Vec<Row<'a>>,
    /// Seconds into the scan.
    pub t: f64,
    /// The scan's length, if it has one.
    pub duration: Option<f64>,
    /// Seconds between samples.
    pub interval: f64,
    /// What is scanned, in words.
    pub scope: String,
    /// The judged series.
    pub judge: &'a str,
}

/// The table on the terminal (standard output), in the alternate screen
/// while the scan runs.
pub struct LiveTable {
    started: bool,
}

impl LiveTable {
    /// Switches to the alternate screen.
    pub fn start() -> LiveTable {
        emit("\x1b[?1049h\x1b[?25l");
        LiveTable { started: true }
    }

    /// Redraws the table for `f`, fitted to the terminal.
    pub fn draw(&mut self, f: &Frame) {
        let (w, h) = terminal_size();
        let lines = crate::report::scan::table_lines(f, w, h);
        let mut out = String::from("\x1b[H");
        for l in lines {
            out.push_str(&l);
            out.push_str("\x1b[K\n");
        }
        out.push_str("\x1b[J");
        emit(&out);
    }

    /// Leaves the alternate screen (the summary is printed after).
    pub fn finish(&mut self) {
        if self.started {
            emit("\x1b[?25h\x1b[?1049l");
            self.started = false;
        }
    }
}

impl Drop for LiveTable {
    fn drop(&mut self) {
        self.finish();
    }
}

fn emit(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// The terminal's (columns, rows) on standard output; 80×24 if unknown.
pub fn terminal_size() -> (usize, usize) {
    // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills it for a terminal.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl(2) TIOCGWINSZ on stdout with a valid winsize pointer.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
        (ws.ws_col as usize, ws.ws_row as usize)
    } else {
        (80, 24)
    }
}
