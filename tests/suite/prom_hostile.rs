//! `analyze --prometheus` against a hostile or just huge server (issue 20):
//! a fake Prometheus HTTP API on loopback, in threads of this process, that
//! sends what a real one never would (100,000 new series an answer, 8 M
//! points in one series, a gzip bomb, escape sequences in labels, refusals
//! without end, a redirect elsewhere, an answer a byte at a time). Each
//! leakwatch child is measured: its peak memory (`ru_maxrss` from `wait4`)
//! stays under 256 MiB and it ends within seconds (under 10 s of CPU), with
//! one line on stderr. An address-space limit of 2 GiB on the child, and a
//! kill after 30 s, keep a regression from taking the machine with it. A
//! real Prometheus checks `--step` too.

use crate::common::*;
use crate::prometheus::{prometheus, query_value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Peak memory allowed the leakwatch child, whatever the server sends.
const PEAK_LIMIT: u64 = 256 << 20;

/// One request the fake server took.
#[derive(Debug, Clone)]
struct Request {
    /// The path and query as sent.
    raw: String,
    path: String,
    params: HashMap<String, String>,
    auth: Option<String>,
}

impl Request {
    fn num(&self, key: &str) -> f64 {
        self.params
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// The window asked for: (after, up to), seconds since the epoch.
    fn window(&self) -> (f64, f64) {
        if self.path.ends_with("query_range") {
            return (self.num("start"), self.num("end"));
        }
        // `QUERY[Nms]` at `time`.
        let q = &self.params["query"];
        let ms: f64 = q[q.rfind('[').unwrap() + 1..q.len() - 3].parse().unwrap();
        let at = self.num("time");
        (at - ms / 1000.0, at)
    }
}

type Handler = dyn Fn(&Request, &mut dyn Write) -> std::io::Result<()> + Send + Sync;

/// A fake Prometheus on `host` (a loopback address), each connection served
/// by `handler` in a thread; ended when dropped.
struct Fake {
    addr: SocketAddr,
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn new(
        host: &str,
        handler: impl Fn(&Request, &mut dyn Write) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Fake {
        let listener = TcpListener::bind((host, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, halt) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let (Ok(conn), handler, reqs) = (conn, handler.clone(), reqs.clone()) else {
                    continue;
                };
                std::thread::spawn(move || serve(conn, &*handler, &reqs));
            }
        });
        Fake {
            addr,
            url: format!("http://{addr}"),
            requests,
            stop,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok();
    }
}

/// Reads one request on `conn` and answers it with `handler`.
fn serve(conn: TcpStream, handler: &Handler, reqs: &Mutex<Vec<Request>>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut lines = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if lines.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if lines.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = Some(v.trim().to_string());
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let req = Request {
        raw: target.clone(),
        path: path.to_string(),
        params,
        auth,
    };
    reqs.lock().unwrap().push(req.clone());
    let mut out = std::io::BufWriter::with_capacity(1 << 16, conn);
    // A client that hangs up early ends the answer: no matter.
    let _ = handler(&req, &mut out).and_then(|()| out.flush());
}

/// Percent-decoding of a query parameter.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() + 1 => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The head of a JSON answer: `status` and `extra` headers.
fn head(w: &mut dyn Write, status: &str, extra: &str) -> std::io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n"
    )
}

/// A whole answer holding a matrix of `series`: (labels as JSON, points).
fn matrix(w: &mut dyn Write, series: &[(String, Vec<(f64, f64)>)]) -> std::io::Result<()> {
    head(w, "200 OK", "")?;
    write!(
        w,
        r#"{{"status":"success","data":{{"resultType":"matrix","result":["#
    )?;
    for (i, (labels, points)) in series.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let pts: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("[{t:.3},\"{v}\"]"))
            .collect();
        write!(
            w,
            r#"{sep}{{"metric":{labels},"values":[{}]}}"#,
            pts.join(",")
        )?;
    }
    write!(w, "]}}}}")
}

/// Points every `every` seconds in the request's window, of value `v`.
fn points(req: &Request, every: f64, v: f64) -> Vec<(f64, f64)> {
    let (lo, hi) = req.window();
    let first = (lo / every).floor() * every + every;
    (0..)
        .map(|i| first + i as f64 * every)
        .take_while(|&t| t <= hi)
        .map(|t| (t, v))
        .collect()
}

/// How a leakwatch child went.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident memory, bytes.
    peak: u64,
    /// Wall seconds.
    secs: f64,
    /// CPU seconds (user and system) of the child.
    cpu: f64,
}

impl Run {
    /// Asserts exit 2 with one line on stderr holding each of `msgs`, in
    /// bounded memory and time.
    fn fails_with(&self, msgs: &[&str]) {
        assert_eq!(self.code, Some(2), "{}{}", self.stdout, self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "{}", self.stderr);
        assert!(self.stderr.len() < 600, "{}", self.stderr);
        for m in msgs {
            assert!(self.stderr.contains(m), "no {m:?} in {}", self.stderr);
        }
        self.bounded();
    }

    /// Peak memory under [`PEAK_LIMIT`]; under 10 s of work (CPU: the
    /// whole suite on two cores stretches wall time) and no hang.
    fn bounded(&self) {
        assert!(self.peak < PEAK_LIMIT, "peak {} MiB", self.peak >> 20);
        assert!(self.cpu < 10.0, "{:.1} s of CPU", self.cpu);
        assert!(self.secs < 25.0, "{:.1} s", self.secs);
    }
}

/// Starts a command (argv after the two output files), limited to 2 GiB
/// of address space and killed after 30 s; prints its exit code (negative:
/// the signal), peak resident KiB from `wait4`, wall and CPU seconds. A small
/// python3 starts it: a child forked from this big test process would
/// count the test's pages in its peak.
const RUNNER: &str = "\
import os,resource,subprocess,sys,time
def limit(): resource.setrlimit(resource.RLIMIT_AS,(2<<30,2<<30))
t=time.monotonic()
p=subprocess.Popen(sys.argv[3:],stdout=open(sys.argv[1],'wb'),stderr=open(sys.argv[2],'wb'),preexec_fn=limit)
while True:
    pid,st,ru=os.wait4(p.pid,os.WNOHANG)
    if pid: break
    if time.monotonic()-t>30: p.kill()
    time.sleep(0.005)
print(os.waitstatus_to_exitcode(st),ru.ru_maxrss,time.monotonic()-t,ru.ru_utime+ru.ru_stime)
";

/// Runs leakwatch with `args` under [`RUNNER`].
fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let status = std::process::Command::new("python3")
        .args(["-c", RUNNER])
        .args([&out, &err])
        .arg(leakwatch_path())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&status.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or_else(|_| panic!("{text}")))
        .collect();
    assert_eq!(
        f.len(),
        4,
        "{text}{}",
        String::from_utf8_lossy(&status.stderr)
    );
    Run {
        code: (f[0] >= 0.0).then_some(f[0] as i32),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        peak: f[1] as u64 * 1024,
        secs: f[2],
        cpu: f[3],
    }
}

/// `analyze QUERY --prometheus URL` with `extra` flags.
fn analyze(url: &str, query: &str, extra: &[&str]) -> Run {
    let mut args = vec!["analyze", query, "--prometheus", url];
    args.extend_from_slice(extra);
    let r = run(&args);
    eprintln!(
        "{query} {extra:?}: exit {:?}, peak {:.1} MiB, {:.2} s ({:.2} s CPU): {}",
        r.code,
        r.peak as f64 / 1048576.0,
        r.secs,
        r.cpu,
        r.stderr.trim()
    );
    r
}

#[test]
fn prom_hostile_100000_new_series_an_answer_stop_at_max_series() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (_, hi) = req.window();
        head(w, "200 OK", "")?;
        write!(
            w,
            r#"{{"status":"success","data":{{"resultType":"matrix","result":["#
        )?;
        for i in 0..100_000 {
            let sep = if i == 0 { "" } else { "," };
            write!(
                w,
                r#"{sep}{{"metric":{{"pod":"p-{hi}-{i}"}},"values":[[{hi},"1"]]}}"#
            )?;
        }
        write!(w, "]}}}}")
    });
    analyze(&fake.url, "mem", &[]).fails_with(&["--max-series 10000", "narrow the query"]);
    analyze(&fake.url, "mem", &["--max-series", "50"]).fails_with(&["--max-series 50"]);
}

#[test]
fn prom_hostile_one_series_of_8m_points_is_cut_off() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (lo, hi) = req.window();
        head(w, "200 OK", "")?;
        write!(
            w,
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":["#
        )?;
        let n = 8_000_000;
        for i in 0..n {
            let sep = if i == 0 { "" } else { "," };
            let t = lo + (hi - lo) * (i + 1) as f64 / n as f64;
            write!(w, r#"{sep}[{t:.6},"{i}"]"#)?;
        }
        write!(w, "]}}]}}}}")
    });
    analyze(&fake.url, "mem", &[]).fails_with(&["more than 1000000 points", "1m 0s", &fake.url]);
    // Halved from 10 minutes to the floor: a few requests, not thousands.
    assert!(fake.requests().len() <= 6, "{}", fake.requests().len());
}

#[test]
fn prom_hostile_a_gzip_bomb_stops_at_64_mib() {
    use flate2::{Compression, write::GzEncoder};
    let member = |data: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    // 300 MiB of JSON whitespace in under 400 KB: gzip members, one after
    // another, are one body.
    let spaces = member(&vec![b' '; 1 << 20]);
    let mut body = member(br#"{"status":"success","#);
    (0..300).for_each(|_| body.extend_from_slice(&spaces));
    body.extend(member(br#""data":{"resultType":"matrix","result":[]}}"#));
    assert!(body.len() < 400_000, "{}", body.len());
    let body = Arc::new(body);
    let fake = Fake::new("127.0.0.1", move |_, w| {
        head(w, "200 OK", "Content-Encoding: gzip\r\n")?;
        w.write_all(&body)
    });
    analyze(&fake.url, "mem", &[]).fails_with(&["more than 64.0 MiB", &fake.url]);
}

#[test]
fn prom_hostile_a_label_of_60_mib_stops_at_the_label_budget() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (_, hi) = req.window();
        head(w, "200 OK", "")?;
        write!(
            w,
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"values":[[{hi},"1"]],"metric":{{"pod":""#
        )?;
        let chunk = vec![b'x'; 1 << 20];
        (0..60).try_for_each(|_| w.write_all(&chunk))?;
        write!(w, r#""}}}}]}}}}"#)
    });
    analyze(&fake.url, "mem", &[]).fails_with(&["labels", "16.0 MiB", &fake.url]);
}

#[test]
fn prom_hostile_5000_long_series_over_many_chunks_stay_bounded() {
    // 5,000 series, one point a second for 9 minutes: 2.7 M points in
    // chunks the client sizes, every series with more points than a
    // detector has buckets: past about 4,300 of them the detector state
    // is at its budget, and the rest get coarser detectors.
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (lo, hi) = req.window();
        head(w, "200 OK", "")?;
        write!(
            w,
            r#"{{"status":"success","data":{{"resultType":"matrix","result":["#
        )?;
        let first = lo.floor() + 1.0;
        for i in 0..5_000 {
            let sep = if i == 0 { "" } else { "," };
            write!(
                w,
                r#"{sep}{{"metric":{{"job":"api","pod":"api-{i}"}},"values":["#
            )?;
            let mut t = first;
            while t <= hi {
                let c = if t == first { "" } else { "," };
                write!(w, r#"{c}[{t},"{}"]"#, 1e8 as u64 + i)?;
                t += 1.0;
            }
            write!(w, "]}}")?;
        }
        write!(w, "]}}}}")
    });
    let r = analyze(&fake.url, "mem", &["--range", "9m", "--format", "json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j = json(r.stdout.as_bytes());
    assert_eq!(j["series"].as_array().unwrap().len(), 5_000);
    r.bounded();
}

#[test]
fn prom_hostile_a_slow_answer_ends_at_the_timeout() {
    let fake = Fake::new("127.0.0.1", |_, w| {
        head(w, "200 OK", "")?;
        w.write_all(b"{")?;
        loop {
            w.write_all(b" ")?;
            w.flush()?;
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let r = analyze(&fake.url, "mem", &["--timeout", "2s"]);
    r.fails_with(&["within --timeout 2s", "raise --timeout"]);
    assert!(r.secs > 1.9 && r.secs < 4.0, "{}", r.secs);
}

#[test]
fn prom_hostile_a_server_that_keeps_refusing_stops_at_the_chunk_floor() {
    // Refuses any chunk over a second as too many samples: leakwatch must
    // not answer by asking for 21,600 one-second chunks.
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (lo, hi) = req.window();
        if hi - lo > 1.5 {
            head(w, "422 Unprocessable Entity", "")?;
            return write!(
                w,
                r#"{{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}}"#
            );
        }
        matrix(w, &[("{}".into(), vec![(hi, 1.0)])])
    });
    analyze(&fake.url, "mem", &["--range", "6h"])
        .fails_with(&["refuses even 1m 0s", "too many samples"]);
    assert!(fake.requests().len() <= 6, "{}", fake.requests().len());
}

#[test]
fn prom_hostile_query_range_asks_for_at_most_11000_points() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (lo, hi) = req.window();
        let step = req.num("step");
        if step < 1.0 || (hi - lo) / step > 11_000.0 {
            head(w, "400 Bad Request", "")?;
            return write!(
                w,
                r#"{{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}}"#
            );
        }
        matrix(w, &[(r#"{"job":"a"}"#.into(), points(req, step, 1e6))])
    });
    let r = analyze(&fake.url, "sum(mem)", &["--range", "6h", "--step", "1s"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.bounded();
    let reqs = fake.requests();
    assert!(reqs.len() < 10, "{}", reqs.len());
    for q in &reqs {
        let (lo, hi) = q.window();
        assert!((hi - lo) / q.num("step") <= 11_000.0, "{q:?}");
    }
    for step in ["1ns", "500ms"] {
        let r = analyze(&fake.url, "sum(mem)", &["--step", step]);
        assert_eq!(r.code, Some(2));
        assert!(
            r.stderr.contains("--step") && r.stderr.contains("1s minimum"),
            "{}",
            r.stderr
        );
    }
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn prom_hostile_step_1ns_against_a_real_prometheus_ends_at_once() {
    // Prometheus scrapes a fake target every second, so `up` has points.
    let target = Fake::new("127.0.0.1", |_, w| {
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n\r\nfake_memory_bytes 1e6\n")
    });
    let prom = prometheus(
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
        None,
    );
    for step in ["1ns", "999ms"] {
        let r = analyze(&prom.url, "sum(up)", &["--step", step, "--range", "6h"]);
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(r.stderr.contains("1s minimum"), "{}", r.stderr);
        r.bounded();
    }
    // 6 hours at 1 s is 21,600 points: read in chunks Prometheus takes.
    wait_until(
        "Prometheus to scrape itself",
        Duration::from_secs(30),
        || {
            query_value(&prom.url, "count_over_time(up[1m])")
                .is_some_and(|n| n.parse::<f64>().unwrap_or(0.0) >= 3.0)
        },
    );
    let r = analyze(&prom.url, "sum(up)", &["--step", "1s", "--range", "6h"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("1 series of 'sum(up)'"), "{}", r.stdout);
    r.bounded();
}

#[test]
fn prom_hostile_series_without_points_are_one_error_line() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let (lo, _) = req.window();
        let series: Vec<(String, Vec<(f64, f64)>)> = (0..10)
            .map(|i| {
                // No points, or only NaN, or only before the window.
                let pts = match i % 3 {
                    0 => vec![],
                    1 => vec![(lo + 1.0, f64::NAN)],
                    _ => vec![(lo - 100.0, 1.0)],
                };
                (format!(r#"{{"pod":"p{i}"}}"#), pts)
            })
            .collect();
        matrix(w, &series)
    });
    analyze(&fake.url, "mem", &[]).fails_with(&["returned series but no points", "--range"]);
    let none = Fake::new("127.0.0.1", |_, w| matrix(w, &[]));
    analyze(&none.url, "mem", &[]).fails_with(&["returned no series"]);
}

#[test]
fn prom_hostile_a_bearer_token_file_of_dev_zero_is_a_bounded_read() {
    let fake = Fake::new("127.0.0.1", |_, w| matrix(w, &[]));
    analyze(&fake.url, "mem", &["--bearer-token-file", "/dev/zero"])
        .fails_with(&["--bearer-token-file /dev/zero", "more than 64.0 KiB"]);
    assert!(fake.requests().is_empty());
}

/// Labels that would clear the screen, retitle the terminal and fake a row.
const EVIL_POD: &str = "a\u{1b}[2J\u{1b}[Hb\nleaking       +1.00 GiB/h  {pod=\"fake\"}";
const EVIL_KEY: &str = "\u{1b}]0;pwned\u{7}";

#[test]
fn prom_hostile_labels_reach_the_terminal_escaped_and_json_exact() {
    let fake = Fake::new("127.0.0.1", |req, w| {
        let labels = serde_json::json!({"pod": EVIL_POD, EVIL_KEY: "\u{202e}x"}).to_string();
        matrix(w, &[(labels, points(req, 15.0, 1e6))])
    });
    let r = analyze(&fake.url, "mem", &["--range", "1h"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.bounded();
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
        "{:?}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{202e}'), "{:?}", r.stdout);
    // The header, the verdict word and one row: no injected row.
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    assert!(
        r.stdout.contains(r#"pod="a\x1b[2J\x1b[Hb\nleaking"#),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(r#"\x1b]0;pwned\x07="\u202ex""#),
        "{}",
        r.stdout
    );
    let r = analyze(&fake.url, "mem", &["--range", "1h", "--format", "json"]);
    let j = json(r.stdout.as_bytes());
    let labels = &j["series"][0]["labels"];
    assert_eq!(labels["pod"], EVIL_POD);
    assert_eq!(labels[EVIL_KEY], "\u{202e}x");
}

#[test]
fn prom_hostile_a_redirect_to_another_host_is_a_warning_without_the_token() {
    let other = Fake::new("127.0.0.2", |req, w| {
        matrix(
            w,
            &[(r#"{"pod":"elsewhere"}"#.into(), points(req, 15.0, 1e6))],
        )
    });
    let to = other.url.clone();
    let fake = Fake::new("127.0.0.1", move |req, w| {
        write!(
            w,
            "HTTP/1.1 302 Found\r\nLocation: {to}{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            req.raw
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let r = analyze(
        &fake.url,
        "mem",
        &[
            "--range",
            "1h",
            "--bearer-token-file",
            token.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.bounded();
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning") && r.stderr.contains("'127.0.0.2'"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("elsewhere"), "{}", r.stdout);
    assert!(
        fake.requests()
            .iter()
            .all(|q| q.auth.as_deref() == Some("Bearer s3cret"))
    );
    let seen = other.requests();
    assert!(
        !seen.is_empty() && seen.iter().all(|q| q.auth.is_none()),
        "{seen:?}"
    );
}
