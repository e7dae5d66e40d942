//! Serving the exposition on `/metrics` over HTTP/1.1, so a scrape never
//! waits on sampling and sampling never waits on a scrape.
//!
//! A small server on std, made to run for weeks next to production: one
//! thread accepts, and each connection gets a thread of its own, at most
//! [`MAX_CONNECTIONS`] at once (more are answered `503` and closed), so one
//! slow or stuck client cannot delay another's scrape. A client has
//! [`READ_TIMEOUT`] to send its request's head, which may take at most
//! [`MAX_HEAD`] bytes (more is `431`), and [`WRITE_TIMEOUT`] to take the
//! answer; each connection serves one request and closes. When `accept()`
//! fails (out of descriptors), the server says so once on stderr, pauses,
//! and serves again as soon as it can.

use super::exposition::Scrape;
use anyhow::{Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Connections served at once; more are answered `503` and closed.
pub const MAX_CONNECTIONS: usize = 16;
/// The most bytes a request's head (its request line and headers) may take.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request's head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to take the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After an answer, how long (and how many bytes) what the client still
/// sends is read and dropped before the close, so the close does not reset
/// the connection under an answer the client has not read yet.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;
/// The pause after a failed `accept()`, so the loop waits rather than spins.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// The stack of a connection's thread: it parses a head and renders text.
const STACK: usize = 256 * 1024;

/// The content type of the OpenMetrics text format, for a client that asks
/// for it (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the classic text format, for any other client.
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Starts serving `expo` (a watch's or a fleet's) on `addr` (e.g. `127.0.0.1:9464`); returns the
/// address bound (a port of 0 picks a free one). The server answers `GET`
/// and `HEAD /metrics` until the process ends.
pub fn serve<S: Scrape>(addr: SocketAddr, expo: Arc<S>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot listen on {addr}"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || accept_loop(&listener, &expo))
        .context("cannot start the /metrics server")?;
    Ok(bound)
}

/// The warning for a server bound where other hosts can reach it, if it is.
pub fn exposure(bound: SocketAddr) -> Option<String> {
    let ip = bound.ip().to_canonical();
    if ip.is_loopback() {
        return None;
    }
    let who = if ip.is_unspecified() {
        "every host that can reach this one".to_string()
    } else {
        format!("every host that can reach {ip}")
    };
    Some(format!(
        "/metrics on {bound}: {who} can scrape it; listen on 127.0.0.1 unless Prometheus scrapes from another machine"
    ))
}

/// Accepts connections for ever, each served on a thread of its own.
fn accept_loop<S: Scrape>(listener: &TcpListener, expo: &Arc<S>) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut warned = false;
    loop {
        match listener.accept() {
            Ok((stream, _)) => admit(stream, &active, expo),
            // The client gave up before it was accepted, or a signal came.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                if !warned {
                    warned = true;
                    refused(listener, &e);
                }
                std::thread::sleep(ACCEPT_PAUSE);
            }
        }
    }
}

/// Says, once, that scrapes were refused because `accept()` failed with `e`.
fn refused(listener: &TcpListener, e: &std::io::Error) {
    let at = listener
        .local_addr()
        .map(|a| format!(" on {a}"))
        .unwrap_or_default();
    let hint = match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => "; raise the open-file limit (`ulimit -n`)",
        _ => "",
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "leakwatch: warning: /metrics{at} refused scrapes: cannot accept a connection: {e}; it serves again as soon as it can{hint}"
    );
}

/// One connection's place among the [`MAX_CONNECTIONS`], given back when
/// its thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `stream` on a thread of its own, if there is room; else `503`.
fn admit<S: Scrape>(stream: TcpStream, active: &Arc<AtomicUsize>, expo: &Arc<S>) {
    // Only this thread adds, so the count cannot pass the bound.
    if active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
        busy(stream);
        return;
    }
    active.fetch_add(1, Ordering::AcqRel);
    let slot = Slot(active.clone());
    let expo = expo.clone();
    // If the thread cannot start, the closure is dropped with the stream
    // (closed) and the slot (given back).
    let _ = std::thread::Builder::new()
        .name("metrics-client".into())
        .stack_size(STACK)
        .spawn(move || {
            let _slot = slot;
            serve_one(stream, &*expo);
        });
}

/// Answers `503` without waiting on the client, and closes.
fn busy(mut stream: TcpStream) {
    let answer = Answer::plain(503, "too many connections at once; try again\n");
    if stream.set_nonblocking(true).is_ok() {
        let _ = stream.write(&answer.bytes());
    }
}

/// A request's head, as far as the server reads it.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// `GET`, `HEAD`, or another method.
    method: String,
    /// The path, without its query.
    path: String,
    /// The client accepts the OpenMetrics text format.
    openmetrics: bool,
}

/// Why no request was read.
#[derive(Debug, PartialEq, Eq)]
enum NoRequest {
    /// The head is over [`MAX_HEAD`]: `431`.
    TooLarge,
    /// Not an HTTP/1 request: `400`.
    Malformed,
    /// The client closed, reset, or sent too slowly: nothing to answer.
    Gone,
}

/// Serves one request on `stream`, then closes it.
fn serve_one<S: Scrape>(mut stream: TcpStream, expo: &S) {
    let mut buf = vec![0u8; MAX_HEAD];
    let answer = match read_head(&mut stream, &mut buf) {
        Ok(req) => answer(&req, expo),
        Err(NoRequest::TooLarge) => Answer::plain(431, "request header fields too large\n"),
        Err(NoRequest::Malformed) => Answer::plain(400, "not an HTTP/1 request\n"),
        Err(NoRequest::Gone) => return,
    };
    let deadline = Instant::now() + WRITE_TIMEOUT;
    if write_by(&mut stream, &answer.bytes(), deadline).is_ok() {
        linger(&mut stream, &mut buf);
    }
}

/// The answer to `req`.
fn answer<S: Scrape>(req: &Request, expo: &S) -> Answer {
    let head_only = match req.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut a = Answer::plain(405, "leakwatch serves GET and HEAD /metrics only\n");
            a.extra = "Allow: GET, HEAD\r\n";
            return a;
        }
    };
    let mut a = if req.path == "/metrics" {
        let (body, content_type) = if req.openmetrics {
            (expo.render(), OPENMETRICS)
        } else {
            (expo.render_classic(), CLASSIC)
        };
        Answer {
            status: 200,
            content_type,
            body,
            head_only: false,
            extra: "",
        }
    } else {
        Answer::plain(404, "leakwatch serves /metrics only\n")
    };
    a.head_only = head_only;
    a
}

/// Reads a request's head from `stream` into `buf` (at most its length),
/// within [`READ_TIMEOUT`] in all, and parses it.
fn read_head(stream: &mut TcpStream, buf: &mut [u8]) -> Result<Request, NoRequest> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(NoRequest::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(NoRequest::Gone);
        }
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Err(NoRequest::Gone),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(NoRequest::Gone),
        };
        let from = len;
        len += n;
        if let Some(end) = head_end(&buf[..len], from) {
            return parse_head(&buf[..end]);
        }
    }
}

/// Where the head in `buf` ends (after its empty line), looking for an end
/// from byte `from` on (what came before had none).
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memchr_iter(b'\n', &buf[from..])
        .map(|i| from + i)
        .find(|&i| {
            let before = &buf[..i];
            before.ends_with(b"\n") || before.ends_with(b"\n\r")
        })
        .map(|i| i + 1)
}

/// Parses a request's head: its request line, and the `Accept` header.
fn parse_head(head: &[u8]) -> Result<Request, NoRequest> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().ok_or(NoRequest::Malformed)?;
    let line = std::str::from_utf8(line).map_err(|_| NoRequest::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(NoRequest::Malformed);
    };
    if method.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(NoRequest::Malformed);
    }
    let openmetrics = lines.any(|l| {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return false;
        };
        l[..colon].eq_ignore_ascii_case(b"accept")
            && memchr::memmem::find(&l[colon + 1..], b"application/openmetrics-text").is_some()
    });
    Ok(Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or("").to_string(),
        openmetrics,
    })
}

/// An answer to send.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    /// Headers only (`HEAD`).
    head_only: bool,
    /// More header lines, each ending in CRLF.
    extra: &'static str,
}

impl Answer {
    /// A short plain-text answer.
    fn plain(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            head_only: false,
            extra: "",
        }
    }

    /// The answer on the wire.
    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Service Unavailable",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
            self.status,
            self.content_type,
            self.body.len(),
            self.extra
        )
        .into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// Writes all of `bytes` to `stream` before `deadline`.
fn write_by(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&bytes[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ends the answer (FIN), then reads and drops what the client still sends,
/// for at most [`LINGER`] and `LINGER_BYTES`, before the close.
fn linger(stream: &mut TcpStream, buf: &mut [u8]) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(buf) {
            Ok(0) => return,
            Ok(n) => dropped += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Request, NoRequest> {
        let end = head_end(text.as_bytes(), 0).ok_or(NoRequest::Gone)?;
        parse_head(&text.as_bytes()[..end])
    }

    #[test]
    fn heads() {
        let r = req("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\nmore").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert!(r.openmetrics);
        let r = req("HEAD / HTTP/1.0\n\n").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.openmetrics),
            ("HEAD", "/", false)
        );
        assert_eq!(req("GET /metrics\r\n\r\n"), Err(NoRequest::Malformed));
        assert_eq!(req("PRI * HTTP/2.0\r\n\r\n"), Err(NoRequest::Malformed));
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\nHost: a\r\n"),
            Err(NoRequest::Gone)
        );
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_wherever_the_reads_cut_it() {
        let text = b"GET / HTTP/1.1\r\nA: b\r\n\r\nGET";
        for cut in 0..text.len() {
            let first = head_end(&text[..cut], 0);
            let found = first.or_else(|| head_end(text, cut));
            assert_eq!(found, Some(24), "{cut}");
        }
    }

    #[test]
    fn only_loopback_goes_unwarned() {
        let w = |a: &str| exposure(a.parse().unwrap());
        assert_eq!(w("127.0.0.1:9464"), None);
        assert_eq!(w("[::1]:9464"), None);
        assert!(
            w("0.0.0.0:9464")
                .unwrap()
                .contains("every host that can reach this one")
        );
        assert!(
            w("[::]:9464")
                .unwrap()
                .contains("every host that can reach this one")
        );
        assert!(w("10.1.2.3:9464").unwrap().contains("reach 10.1.2.3"));
    }
}
