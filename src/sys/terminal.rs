//! The terminal: whether a stream is one, and its size.

use std::io::IsTerminal;

/// A standard stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// Whether the stream is a terminal.
    pub fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn fd(self) -> libc::c_int {
        match self {
            Stream::Stdout => libc::STDOUT_FILENO,
            Stream::Stderr => libc::STDERR_FILENO,
        }
    }

    /// The terminal's (columns, rows), if the stream is a terminal.
    pub fn size(self) -> Option<(usize, usize)> {
        // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills it for a terminal.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: ioctl(2) TIOCGWINSZ on a standard stream with a valid winsize pointer.
        let rc = unsafe { libc::ioctl(self.fd(), libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0)
            .then_some((ws.ws_col as usize, ws.ws_row as usize))
    }
}

/// Enters the alternate screen and hides the cursor.
pub const FULL_SCREEN_ON: &str = "\x1b[?1049h\x1b[?25l";
/// Shows the cursor and leaves the alternate screen.
pub const FULL_SCREEN_OFF: &str = "\x1b[?25h\x1b[?1049l";

static FULL_SCREEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RESUMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A full-screen view on standard output that survives job control, as
/// `top` does: Ctrl-Z (SIGTSTP) restores the terminal before the process
/// stops, and SIGCONT takes the screen back and asks for a redraw.
pub struct FullScreen;

impl FullScreen {
    /// Takes the screen.
    pub fn enter() -> FullScreen {
        use std::sync::Once;
        static HANDLERS: Once = Once::new();
        HANDLERS.call_once(|| {
            // SAFETY: the handlers only load and store atomics, write(2) a
            // static string and raise(3) SIGSTOP, all async-signal-safe.
            unsafe {
                let _ = signal_hook::low_level::register(signal_hook::consts::SIGTSTP, || {
                    if FULL_SCREEN.load(std::sync::atomic::Ordering::SeqCst) {
                        write_out(FULL_SCREEN_OFF);
                    }
                    let _ = signal_hook::low_level::raise(signal_hook::consts::SIGSTOP);
                });
                let _ = signal_hook::low_level::register(signal_hook::consts::SIGCONT, || {
                    if FULL_SCREEN.load(std::sync::atomic::Ordering::SeqCst) {
                        write_out(FULL_SCREEN_ON);
                        RESUMED.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        FULL_SCREEN.store(true, std::sync::atomic::Ordering::SeqCst);
        write_out(FULL_SCREEN_ON);
        FullScreen
    }

    /// Whether the process was resumed (SIGCONT) since the last call: the
    /// screen was cleared and wants a full redraw.
    pub fn resumed(&self) -> bool {
        RESUMED.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for FullScreen {
    fn drop(&mut self) {
        FULL_SCREEN.store(false, std::sync::atomic::Ordering::SeqCst);
        write_out(FULL_SCREEN_OFF);
    }
}

/// Writes `s` to standard output with one write(2), unbuffered (safe in a
/// signal handler).
fn write_out(s: &str) {
    // SAFETY: write(2) of a valid buffer to standard output.
    unsafe { libc::write(libc::STDOUT_FILENO, s.as_ptr().cast(), s.len()) };
}
