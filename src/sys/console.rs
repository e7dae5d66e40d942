//! The terminal a watch's status line shares with the command it started:
//! the command writes to terminals of its own (ptys, so it still sees a
//! terminal and flushes each line), and leakwatch relays what it writes to
//! its own streams above the status line, which is cleared first and drawn
//! again after.

use super::terminal::Stream;
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

/// How long a started command's unfinished line holds the status line back.
const OPEN_LINE: Duration = Duration::from_secs(1);

/// What the terminal shows at its last line.
struct Screen {
    /// The status line last drawn.
    status: Option<String>,
    /// Whether it is on the screen now (the last line).
    shown: bool,
    /// Since when the last line is a started command's, not yet ended by a
    /// newline (the status line waits for it, a while).
    open: Option<Instant>,
    /// Relays that have finished drop what still comes.
    closed: bool,
}

static SCREEN: Mutex<Screen> = Mutex::new(Screen {
    status: None,
    shown: false,
    open: None,
    closed: false,
});

fn screen() -> std::sync::MutexGuard<'static, Screen> {
    SCREEN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Draws `line` as the status line on stderr (a terminal), in place of the
/// last one. While a started command's line is unfinished, it waits for
/// it a second, then ends that line first.
pub fn draw_status(line: &str) {
    let mut s = screen();
    let mut err = std::io::stderr().lock();
    match s.open {
        Some(since) if since.elapsed() < OPEN_LINE => return,
        Some(_) => {
            let _ = err.write_all(b"\r\n");
            s.open = None;
        }
        None => {}
    }
    let _ = write!(err, "\r\x1b[K{line}");
    let _ = err.flush();
    s.status = Some(line.to_string());
    s.shown = true;
}

/// Clears the status line for good (the report comes next).
pub fn clear_status() {
    let mut s = screen();
    s.status = None;
    if std::mem::take(&mut s.shown) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(b"\r\x1b[K");
        let _ = err.flush();
    }
}

/// Writes a chunk of a started command's output to `to`, above the status
/// line.
fn relay_chunk(to: Stream, chunk: &[u8]) {
    let mut s = screen();
    if s.closed {
        return;
    }
    let mut err = std::io::stderr().lock();
    if std::mem::take(&mut s.shown) {
        let _ = err.write_all(b"\r\x1b[K");
        let _ = err.flush();
    }
    match to {
        Stream::Stderr => {
            let _ = err.write_all(chunk);
            let _ = err.flush();
        }
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(chunk);
            let _ = out.flush();
        }
    }
    if chunk.ends_with(b"\n") {
        s.open = None;
        if let Some(line) = &s.status {
            let _ = write!(err, "\r\x1b[K{line}");
            let _ = err.flush();
            s.shown = true;
        }
    } else if s.open.is_none() {
        s.open = Some(Instant::now());
    }
}

/// A started command's stdout and stderr, each on a pty of its own and
/// relayed by a thread of its own.
pub struct Relay {
    done: Receiver<()>,
    threads: usize,
}

/// A pty: its master (leakwatch reads it) and its slave (the command's stream).
fn pty(size: Option<(usize, usize)>) -> Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: a zeroed winsize is valid; filled below when the size is known.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    if let Some((cols, rows)) = size {
        ws.ws_col = cols.min(u16::MAX as usize) as u16;
        ws.ws_row = rows.min(u16::MAX as usize) as u16;
    }
    // SAFETY: openpty(3) with valid out-pointers, no name, default termios.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .context("cannot open a terminal (pty) for the command's output");
    }
    // SAFETY: openpty returned two open descriptors that we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl(2) and tcgetattr/tcsetattr(3) on the descriptors just
    // opened, with a termios that tcgetattr filled.
    unsafe {
        libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(slave.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        // The bytes as the command wrote them: leakwatch's terminal does
        // its own output processing.
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
            t.c_oflag &= !libc::OPOST;
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    Ok((master, slave))
}

/// Reads `master` to its end (EIO once every slave is closed), relaying it to `to`.
fn pump(master: OwnedFd, to: Stream, done: Sender<()>) {
    let mut f = std::fs::File::from(master);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => relay_chunk(to, &buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = done.send(());
}

impl Relay {
    /// Opens a pty for the command's stdout (relayed to `stdout_to`) and
    /// one for its stderr (relayed to stderr); the streams to give it.
    pub fn open(stdout_to: Stream) -> Result<(Relay, Stdio, Stdio)> {
        let size = Stream::Stderr.size();
        let (out_m, out_s) = pty(size)?;
        let (err_m, err_s) = pty(size)?;
        let (tx, done) = channel();
        screen().closed = false;
        for (m, to) in [(out_m, stdout_to), (err_m, Stream::Stderr)] {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name("relay".into())
                .spawn(move || pump(m, to, tx))
                .context("cannot start the thread relaying the command's output")?;
        }
        let relay = Relay { done, threads: 2 };
        Ok((relay, Stdio::from(out_s), Stdio::from(err_s)))
    }

    /// Waits (at most `within`) until everything the command wrote is
    /// relayed, that is until every process holding its streams has
    /// closed them; what comes later is dropped.
    pub fn finish(self, within: Duration) {
        let end = Instant::now() + within;
        for _ in 0..self.threads {
            let left = end.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                break;
            }
        }
        let mut s = screen();
        s.closed = true;
        if s.open.take().is_some() {
            let _ = std::io::stderr().write_all(b"\r\n");
        }
    }
}
