//! A small program with a leak, or without one, for trying leakwatch on.
//!
//! ```text
//! cargo run --release --example leaky -- leak      # keeps 1 MiB a second, forever
//! cargo run --release --example leaky -- steady    # warms up to 32 MiB, then holds
//! cargo run --release --example leaky -- leak &
//! cargo run --release -- -d 30s --name 'examples/leaky leak'
//! ```
//!
//! More modes, each with steady memory after the warm-up:
//! `fds` leaks `--rate` pipes a second (file descriptors, not memory);
//! `threads` starts `--rate` threads a second and never joins them;
//! `forked` forks `--workers` children that share its warm-up memory
//! (copy-on-write), so RSS counts it once per process and PSS once in all.
//!
//! `sawtooth` swings: it takes `--swing N` bytes (default 16 MiB) over
//! `--period-secs S` (default 1) and frees them at once, over a flat floor;
//! `capped` fills a cache at `--rate` bytes a second up to `--cap N` (default
//! 8 MiB), then holds; `idle` takes nothing and sleeps.
//!
//! For `leakwatch repeat`: `serve --port P --retain N` serves on 127.0.0.1:P
//! and keeps exactly N bytes (every page written) per connection, for good
//! (N = 0: nothing); `client --port P --requests K` connects K times, sends a
//! packet and disconnects, then exits.
//!
//! Options (after the mode): `--rate N` (bytes a second for `leak`, default
//! 1 MiB; items a second for `fds` and `threads`, default 10),
//! `--warmup-bytes N` (default 32 MiB), `--warmup-secs S` (default 2),
//! `--workers N` (default 3), `--tick-ms MS` (step, default 50). The tests use
//! it as their child with a known rate.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("leak");
    let opt = |name: &str, default: f64| -> f64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    if mode == "idle" {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let default_rate = if matches!(mode, "leak" | "capped") {
        1024.0 * 1024.0
    } else {
        10.0
    };
    let rate = opt("--rate", default_rate);
    let warmup_bytes = opt("--warmup-bytes", 32.0 * 1024.0 * 1024.0);
    let warmup_secs = opt("--warmup-secs", 2.0);
    let workers = opt("--workers", 3.0) as usize;
    let tick = Duration::from_millis(opt("--tick-ms", 50.0) as u64);
    if !matches!(
        mode,
        "leak"
            | "steady"
            | "fds"
            | "threads"
            | "forked"
            | "serve"
            | "client"
            | "sawtooth"
            | "capped"
            | "idle"
    ) {
        eprintln!(
            "usage: leaky leak|steady|fds|threads|forked|serve|client|sawtooth|capped|idle [--rate N] [--warmup-bytes N] [--warmup-secs S] [--workers N] [--tick-ms MS] [--port P] [--retain N] [--requests K]"
        );
        std::process::exit(2);
    }
    let port = opt("--port", 0.0) as u16;
    if mode == "serve" {
        serve(port, opt("--retain", 0.0) as usize);
    }
    if mode == "client" {
        client(port, opt("--requests", 1.0) as usize);
    }
    if mode == "forked" {
        forked(warmup_bytes as usize, workers);
    }

    // Memory kept for good: a leak keeps adding to it; the others stop after warm-up.
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut kept_bytes = 0.0;
    let mut fds: Vec<(std::io::PipeReader, std::io::PipeWriter)> = Vec::new();
    let mut threads = 0usize;
    let mut swing: Vec<Vec<u8>> = Vec::new();
    let swing_bytes = opt("--swing", 16.0 * 1024.0 * 1024.0);
    let period = opt("--period-secs", 1.0).max(0.01);
    let cap = opt("--cap", 8.0 * 1024.0 * 1024.0);
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        n += 1;
        let t = start.elapsed().as_secs_f64();
        // Warm-up: a fixed amount taken in the first seconds (every mode).
        let warm_target = warmup_bytes * (t / warmup_secs).min(1.0);
        let target = warm_target
            + match mode {
                "leak" => rate * t,
                "capped" => (rate * t).min(cap),
                _ => 0.0,
            };
        if target > kept_bytes {
            let add = (target - kept_bytes) as usize;
            kept.push(touched(add));
            kept_bytes += add as f64;
        }
        if mode == "sawtooth" {
            // Up to the swing over a period, then all freed at once.
            let phase = (t % period) / period;
            let want = (swing_bytes * phase / CHUNK as f64) as usize;
            if want < swing.len() {
                swing.clear();
            }
            while swing.len() < want {
                swing.push(touched(CHUNK));
            }
        }
        let due = (rate * t) as usize;
        if mode == "fds" {
            while fds.len() < due {
                fds.push(std::io::pipe().expect("pipe"));
            }
        }
        if mode == "threads" {
            while threads < due {
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(|| {
                        loop {
                            std::thread::park();
                        }
                    })
                    .expect("thread");
                threads += 1;
            }
        }
        // Churn: short-lived garbage that comes and goes, as real programs make.
        let scratch = touched(256 * 1024);
        std::hint::black_box(&scratch);
        drop(scratch);
        std::hint::black_box(&kept);
        let next = start + tick * n as u32;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

/// The sawtooth's allocation unit: large enough to be mapped (and returned)
/// on its own.
const CHUNK: usize = 256 * 1024;

/// Serves on 127.0.0.1:`port`, keeping `retain` bytes per connection for good.
fn serve(port: u16, retain: usize) -> ! {
    use std::io::Read;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        if retain > 0 {
            kept.push(touched(retain));
        }
        std::hint::black_box(&kept);
    }
    std::process::exit(0)
}

/// Connects to 127.0.0.1:`port` `requests` times: send, disconnect.
fn client(port: u16, requests: usize) -> ! {
    use std::io::Write;
    for _ in 0..requests {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut c) => {
                let _ = c.write_all(&[b'x'; 512]);
            }
            Err(e) => {
                eprintln!("client: cannot connect to 127.0.0.1:{port}: {e}");
                std::process::exit(1);
            }
        }
    }
    std::process::exit(0)
}

/// A buffer of `n` bytes with every page written, so it counts in RSS.
fn touched(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    for i in (0..n).step_by(4096) {
        v[i] = 1;
    }
    v
}

/// Takes `bytes`, then forks `workers` children that share them and sleep.
#[cfg(target_os = "linux")]
fn forked(bytes: usize, workers: usize) -> ! {
    let shared = touched(bytes);
    for _ in 0..workers {
        // SAFETY: single-threaded here; the child only sleeps.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: asks for SIGTERM when the parent dies; no memory is touched.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
            loop {
                std::hint::black_box(&shared);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    loop {
        std::hint::black_box(&shared);
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(not(target_os = "linux"))]
fn forked(_bytes: usize, _workers: usize) -> ! {
    eprintln!("leaky forked: Linux only");
    std::process::exit(2);
}
