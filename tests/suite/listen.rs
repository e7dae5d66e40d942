//! `--listen` under hostile or careless clients, on loopback with real
//! sockets: the port it picked is said, a wider bind is warned of, requests
//! other than `GET`/`HEAD /metrics` are refused, a head over 8 KiB is `431`
//! in bounded memory, one stuck client delays no other, connections are
//! bounded, and running out of descriptors is said once and survived. Each
//! test failed on the tiny_http server before.

use crate::common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child ended when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A leakwatch serving `/metrics`, its stderr collected line by line; ended
/// when dropped.
pub struct Served {
    /// The watch.
    pub child: Child,
    /// The address it says it serves on.
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Served {
    /// Starts leakwatch with `args` and `--listen listen`, and waits until
    /// it says where it serves.
    pub fn start(args: &[&str], listen: &str) -> Served {
        let mut child = Command::new(leakwatch_path())
            .args(["-q", "--listen", listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut line = Vec::new();
            while err.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                sink.lock().unwrap().push(text);
                line.clear();
            }
        });
        let mut served = Served {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
            lines,
        };
        let mut addr = None;
        wait_until(
            "leakwatch to say where it serves",
            Duration::from_secs(30),
            || {
                addr = served.lines().iter().find_map(|l| {
                    l.strip_prefix("leakwatch: serving http://")?
                        .strip_suffix("/metrics")?
                        .parse::<SocketAddr>()
                        .ok()
                });
                addr.is_some()
            },
        );
        served.addr = addr.unwrap();
        served
    }

    /// Starts a watch of `pid` with `args`, served on a port it picks.
    pub fn watch(pid: u32, args: &[&str]) -> Served {
        let pid = pid.to_string();
        let mut all = vec!["--pid", pid.as_str(), "-i", "100ms", "-d", "120s"];
        all.extend_from_slice(args);
        let w = Served::start(&all, "127.0.0.1:0");
        wait_until("the first verdicts", Duration::from_secs(30), || {
            w.scrape().contains("leakwatch_verdict{")
        });
        w
    }

    /// Every line it wrote to stderr so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The address to connect to (loopback for a wildcard bind).
    pub fn connect_addr(&self) -> SocketAddr {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(match a {
                SocketAddr::V4(_) => "127.0.0.1".parse().unwrap(),
                SocketAddr::V6(_) => "::1".parse().unwrap(),
            });
        }
        a
    }

    /// Sends `request` and reads the whole answer: (status, head, body).
    pub fn http(&self, request: &[u8]) -> std::io::Result<(u16, String, Vec<u8>)> {
        http(self.connect_addr(), request)
    }

    /// `GET /metrics` in the classic format: the body of a 200.
    pub fn scrape(&self) -> String {
        let (status, head, body) = self
            .http(b"GET /metrics HTTP/1.1\r\nHost: leakwatch\r\nConnection: close\r\n\r\n")
            .expect("a scrape");
        assert_eq!(status, 200, "{head}");
        String::from_utf8(body).unwrap()
    }

    /// Ends it with SIGINT; its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        signal(self.child.id(), libc::SIGINT);
        self.child.wait().unwrap().code()
    }
}

/// Sends `request` to `addr` and reads the answer until the server closes:
/// (status, head, body).
pub fn http(addr: SocketAddr, request: &[u8]) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut all = Vec::new();
    s.read_to_end(&mut all)?;
    let end = memchr::memmem::find(&all, b"\r\n\r\n").ok_or(std::io::ErrorKind::InvalidData)?;
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    Ok((status, head, all[end + 4..].to_vec()))
}

/// A field of `/proc/PID/status` (in kB for memory), if it is there.
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU seconds `pid` has used (user and system).
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = after
        .split(' ')
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    // SAFETY: sysconf(3) has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (f[0] + f[1]) as f64 / hz
}

#[test]
fn the_bound_port_is_said_and_a_wider_bind_is_warned_of() {
    let target = Reaped(spawn_sleep("300"));
    let pid = target.0.id().to_string();
    let args = ["--pid", pid.as_str(), "-i", "100ms", "-d", "120s"];
    let w = Served::start(&args, "127.0.0.1:0");
    assert_ne!(w.addr.port(), 0);
    assert!(w.scrape().contains("leakwatch_build_info"));
    // One line, and no warning for loopback.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.lines().len(), 1, "{:?}", w.lines());
    let mut wild = vec!["0.0.0.0:0"];
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        wild.push("[::]:0");
    }
    for addr in wild {
        let w = Served::start(&args, addr);
        assert!(w.scrape().contains("leakwatch_build_info"));
        let lines = w.lines();
        let warned: Vec<_> = lines
            .iter()
            .filter(|l| l.starts_with("leakwatch: warning:"))
            .collect();
        assert_eq!(warned.len(), 1, "{addr}: {lines:?}");
        assert!(
            warned[0].contains("every host that can reach this one can scrape it"),
            "{lines:?}"
        );
        assert!(warned[0].len() < 200, "{lines:?}");
    }
}

#[test]
fn only_get_and_head_of_metrics_are_served() {
    let target = Reaped(spawn_sleep("300"));
    let w = Served::watch(target.0.id(), &[]);
    let (status, head, body) = w
        .http(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("# HELP leakwatch_verdict "));
    // Prometheus asks for OpenMetrics, and gets it.
    let (status, head, body) = w
        .http(b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n")
        .unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(body.ends_with(b"# EOF\n"));
    let (status, head, body) = w.http(b"HEAD /metrics HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(len > 100, "{head}");
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"] {
        let req = format!("{method} /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        let (status, head, _) = w.http(req.as_bytes()).unwrap();
        assert_eq!(status, 405, "{method}: {head}");
        assert!(head.contains("Allow: GET, HEAD"), "{head}");
    }
    for path in ["/", "/metricsx", "/metrics/", "/../etc/passwd"] {
        let req = format!("GET {path} HTTP/1.1\r\n\r\n");
        assert_eq!(w.http(req.as_bytes()).unwrap().0, 404, "{path}");
    }
    assert_eq!(w.http(b"hello\r\n\r\n").unwrap().0, 400);
    assert_eq!(w.scrape().matches("# TYPE leakwatch_verdict ").count(), 1);
}

#[test]
fn a_head_over_8_kib_is_431_and_a_huge_one_costs_no_memory() {
    let target = Reaped(spawn_sleep("300"));
    let w = Served::watch(target.0.id(), &[]);
    let mut req = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    req.resize(req.len() + 9 * 1024, b'a');
    req.extend_from_slice(b"\r\n\r\n");
    let (status, head, _) = w.http(&req).unwrap();
    assert_eq!(status, 431, "{head}");
    // Just under the limit is served.
    let mut req = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    req.resize(7 * 1024, b'a');
    req.extend_from_slice(b"\r\n\r\n");
    assert_eq!(w.http(&req).unwrap().0, 200);
    // A 128 MiB header, sent as fast as the server takes it: the server
    // answers and closes after 8 KiB, and its peak memory does not move.
    let pid = w.child.id();
    let before = status_field(pid, "VmHWM").unwrap();
    let mut s = TcpStream::connect(w.connect_addr()).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nX-Big: ").unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 128 << 20 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "the server read {sent} bytes of one header"
    );
    drop(s);
    std::thread::sleep(Duration::from_millis(500));
    let after = status_field(pid, "VmHWM").unwrap();
    assert!(
        after < before + 8 * 1024,
        "peak memory {before} kB -> {after} kB"
    );
    assert!(w.scrape().contains("leakwatch_verdict{"));
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn a_client_that_never_reads_or_never_sends_delays_no_other_scrape() {
    let target = Reaped(spawn_sleep("300"));
    let w = Served::watch(target.0.id(), &[]);
    let addr = w.connect_addr();
    // Pipelines many requests and never reads an answer: more answers than
    // the sockets' buffers hold.
    let mut greedy = TcpStream::connect(addr).unwrap();
    let many = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n".repeat(20_000);
    greedy
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = greedy.write_all(many.as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    // Connects and sends nothing.
    let mut silent = TcpStream::connect(addr).unwrap();
    let opened = Instant::now();
    // Sends its head a byte at a time, slowly.
    let mut drip = TcpStream::connect(addr).unwrap();
    let dripper = std::thread::spawn(move || {
        for b in b"GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if drip.write_all(&[*b]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        false
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let t = Instant::now();
        assert!(w.scrape().contains("leakwatch_verdict{"));
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(4),
        "a scrape took {slowest:?}"
    );
    // The silent client is closed after the read timeout (5 s).
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    let got = silent.read(&mut buf);
    let waited = opened.elapsed();
    assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
    assert!(
        waited > Duration::from_secs(2) && waited < Duration::from_secs(20),
        "closed after {waited:?}"
    );
    // The dripping one too, before it finished its head.
    assert!(dripper.join().unwrap(), "the server took a head for 12 s");
    drop(greedy);
}

#[test]
fn connections_are_bounded_and_the_rest_get_503() {
    let target = Reaped(spawn_sleep("300"));
    let w = Served::watch(target.0.id(), &[]);
    let pid = w.child.id();
    let threads = status_field(pid, "Threads").unwrap();
    let addr = w.connect_addr();
    let idle: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for s in &idle {
        s.set_nonblocking(true).unwrap();
    }
    // 16 are held (they send nothing, for up to 5 s); the other 24 are
    // answered 503 at once.
    let mut answered = vec![false; idle.len()];
    wait_until(
        "24 connections answered 503",
        Duration::from_secs(20),
        || {
            for (mut s, done) in idle.iter().zip(answered.iter_mut()) {
                let mut buf = [0u8; 512];
                if !*done && let Ok(n) = s.read(&mut buf) {
                    *done = true;
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
                }
            }
            answered.iter().filter(|d| **d).count() >= 24
        },
    );
    let now = status_field(pid, "Threads").unwrap();
    assert!(now <= threads + 16, "threads {threads} -> {now}");
    // Once the idle clients are gone, scrapes are served again.
    drop(idle);
    wait_until("a scrape to be served", Duration::from_secs(20), || {
        w.http(b"GET /metrics HTTP/1.0\r\n\r\n")
            .is_ok_and(|a| a.0 == 200)
    });
}

/// Holds `n` idle connections to `addr`.
fn flood(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect()
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn out_of_descriptors_is_said_once_and_serving_resumes() {
    let target = Reaped(spawn_sleep("300"));
    let w = Served::watch(target.0.id(), &[]);
    let pid = w.child.id();
    w.scrape();
    // Leave it three descriptors to spare.
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64;
    let lim = libc::rlimit {
        rlim_cur: open + 3,
        rlim_max: open + 3,
    };
    // SAFETY: prlimit(2) on a child we started, with a valid rlimit.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    let refused = |w: &Served| {
        w.lines()
            .iter()
            .filter(|l| l.contains("refused scrapes"))
            .count()
    };
    for round in 0..2 {
        let held = flood(w.connect_addr(), 30);
        if round == 0 {
            wait_until("the warning", Duration::from_secs(20), || refused(&w) > 0);
        }
        // Out of descriptors, it waits rather than spins.
        let cpu = cpu_seconds(pid);
        std::thread::sleep(Duration::from_secs(2));
        let spent = cpu_seconds(pid) - cpu;
        assert!(spent < 0.5, "{spent} s of CPU in 2 s out of descriptors");
        drop(held);
        wait_until(
            "scrapes to be served again",
            Duration::from_secs(30),
            || {
                w.http(b"GET /metrics HTTP/1.0\r\n\r\n")
                    .is_ok_and(|a| a.0 == 200)
            },
        );
    }
    let lines = w.lines();
    assert_eq!(refused(&w), 1, "{lines:?}");
    let line = lines
        .iter()
        .find(|l| l.contains("refused scrapes"))
        .unwrap();
    assert!(line.contains("ulimit -n") && line.len() < 300, "{line}");
    // The watch went on all along.
    assert!(w.scrape().contains("leakwatch_verdict{"));
}
