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
