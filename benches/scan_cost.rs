//! What a scan of every process costs, next to `ps aux` each tick.
//!
//! `cargo bench --bench scan_cost` (Linux; set SCAN_PROCS to change the
//! 2,000 extra processes it starts, SCAN_ROUNDS the rounds of scan and bare
//! loop, default 3; SCAN_SECONDS the length of each, default 10; LEAKWATCH_BIN
//! another build of leakwatch to measure)
//!
//! Starts 2,000 sleeping processes, then runs `leakwatch scan` over the whole
//! machine for 10 s at 1 s with the open-file soft limit at 1024 (as a login
//! shell has it) and prints:
//! - its whole CPU time (user + system, start-up and report included) over
//!   targets × samples: the cost per process per sample;
//! - its peak RSS, and that less an empty scan's, per target;
//! - the floor it is held to (issue 22): a bare loop, this bench re-run as a
//!   child in its `BARE_LOOP` mode, that opens each process's `statm` once
//!   and `pread`s it every second for the same 10 s, over the same processes,
//!   under the same 1024 soft limit and measured the same way (all of its
//!   CPU, start-up included, from wait4). Like the scan, it raises its soft
//!   limit to the hard limit and holds as many descriptors as then fit (less
//!   the scan's reserve of 32); any process beyond them it reads by
//!   open/pread/close, as the scan does. Scan and loop run in turn,
//!   SCAN_ROUNDS times (default 3): the medians and the median ratio are
//!   printed (target: ratio ≤ 1.5);
//! - the same machine's `ps aux`, run once per tick, per process per sample.

use std::process::{Child, Command, Stdio};

/// Runs `cmd` as a child with the open-file soft limit at 1024 and returns
/// (its stdout, CPU seconds, peak RSS in KiB), from wait4.
fn measured(cmd: &mut Command) -> (String, f64, f64) {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    // SAFETY: only setrlimit(2), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut rl: libc::rlimit = std::mem::zeroed();
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
            rl.rlim_cur = 1024.min(rl.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            Ok(())
        });
    }
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills `ru`.
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    assert!(r > 0, "wait4 failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (out, tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as f64)
}

/// (user + system) CPU seconds of this process.
fn self_cpu() -> f64 {
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Samples taken over every target, and the targets, from a scan's text
/// report ("... of 2009 processes" and "(22099 samples)").
fn samples(text: &str) -> (u64, u64) {
    let number_before = |marker: &str| -> u64 {
        let i = text.find(marker).expect("scan report");
        let head = &text[..i];
        let start = head
            .trim_end()
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |j| j + 1);
        head.trim_end()[start..].parse().expect("a number")
    };
    (number_before(" samples)"), number_before(" processes"))
}

/// The descriptors the scan keeps for its own use (`RESERVED_FDS` in
/// src/scan.rs): the bare loop keeps as many back.
const RESERVED_FDS: u64 = 32;

/// The bare loop (`BARE_LOOP=1`): lists `/proc` and opens every process's
/// `statm` (but its own), then `pread`s each every second for SCAN_SECONDS
/// (10 s: 11 ticks, as the scan's 10 s at 1 s), the first read (at tick 0) telling a
/// process from a kernel thread (no memory), which is dropped. It holds as
/// many descriptors as the raised limit allows and reads the rest by
/// open/pread/close. Prints "SAMPLES PROCESSES".
fn bare_loop() {
    use std::os::unix::fs::FileExt;
    // As the scan: the soft limit raised to the hard one.
    // SAFETY: rlimit is plain data; getrlimit/setrlimit fill and read it.
    let limit = unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur
    };
    let room = limit.saturating_sub(RESERVED_FDS) as usize;
    let me = std::process::id();
    let mut buf = [0u8; 256];
    let path = |p: u32| format!("/proc/{p}/statm");
    let start = std::time::Instant::now();
    // Tick 0: (pid, the descriptor if held) of those with memory.
    let mut held = 0;
    let procs: Vec<(u32, Option<std::fs::File>)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| p != me)
        .filter_map(|p| {
            let f = std::fs::File::open(path(p)).ok()?;
            let n = f.read_at(&mut buf, 0).ok()?;
            if n == 0 || buf.starts_with(b"0 0 ") {
                return None;
            }
            held += 1;
            Some((p, (held <= room).then_some(f)))
        })
        .collect();
    let mut samples = procs.len() as u64;
    for tick in 1..=seconds() {
        let due = start + std::time::Duration::from_secs(tick.into());
        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        for (p, f) in &procs {
            let n = match f {
                Some(f) => f.read_at(&mut buf, 0),
                None => std::fs::File::open(path(*p)).and_then(|f| f.read_at(&mut buf, 0)),
            };
            samples += u64::from(n.is_ok_and(|n| n > 0));
        }
    }
    println!("{samples} {}", procs.len());
}

/// The median of `v` (not empty).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A run of `leakwatch scan` with extra arguments: (its report, CPU
/// seconds, peak RSS in KiB).
type Scan<'a> = &'a dyn Fn(&[&str]) -> (String, f64, f64);

/// The scan and the bare loop in turn, `rounds` times: prints each round's
/// CPU per process-sample and the medians; returns the last scan's report
/// and its peak RSS.
fn scan_against_bare(scan: Scan, rounds: usize) -> (String, f64) {
    let me = std::env::current_exe().expect("the bench's own path");
    let (mut scans, mut bares, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = (String::new(), 0.0);
    for round in 1..=rounds {
        let (out, bare_cpu, _) = measured(Command::new(&me).env("BARE_LOOP", "1"));
        let mut it = out
            .split_whitespace()
            .map(|w| w.parse::<f64>().expect("a number"));
        let (bare_n, bare_procs) = (it.next().unwrap(), it.next().unwrap());
        let (report, cpu, rss) = scan(&[]);
        let (n, targets) = samples(&report);
        let (s, b) = (cpu / n as f64 * 1e6, bare_cpu / bare_n * 1e6);
        println!(
            "round {round}: scan {s:.2} µs ({targets} processes, {n} samples), bare pread loop {b:.2} µs ({bare_procs} processes, {bare_n} samples): {:.2}x",
            s / b
        );
        scans.push(s);
        bares.push(b);
        ratios.push(s / b);
        last = (report, rss);
    }
    println!(
        "{:44} {:8.2} µs CPU per process per sample (all of its CPU time; median of {rounds})",
        "leakwatch scan",
        median(&mut scans)
    );
    println!(
        "{:44} {:8.2} µs CPU per process per sample (all of its CPU time; median of {rounds})",
        "bare pread loop over held statm descriptors",
        median(&mut bares)
    );
    println!(
        "{:44} {:8.2}x (median of the rounds' ratios; target ≤ 1.5x)",
        "scan / bare pread loop",
        median(&mut ratios)
    );
    last
}

/// How long each scan and bare loop runs, seconds (SCAN_SECONDS, default 10).
fn seconds() -> u32 {
    std::env::var("SCAN_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn main() {
    if std::env::var_os("BARE_LOOP").is_some() {
        return bare_loop();
    }
    let extra: usize = std::env::var("SCAN_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut kids: Vec<Child> = (0..extra)
        .map(|_| {
            Command::new("sleep")
                // Through the empty scan and every round of both.
                .arg((seconds() * 8 + 120).to_string())
                .stdin(Stdio::null())
                .spawn()
                .expect("sleep")
        })
        .collect();
    // Let them exec and settle.
    std::thread::sleep(std::time::Duration::from_secs(2));
    // LEAKWATCH_BIN: another build to measure (an earlier commit's).
    let bin = std::env::var("LEAKWATCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_leakwatch").to_string());
    let duration = format!("{}s", seconds());
    let scan = |args: &[&str]| {
        measured(
            Command::new(&bin)
                .args(["scan", "-i", "1s", "-d", &duration, "-q"])
                .args(args),
        )
    };
    let (empty, _, empty_rss) = scan(&["--name", "no-process-has-this-name-4f2a"]);
    assert_eq!(samples(&empty).1, 0);
    let rounds: usize = std::env::var("SCAN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (report, rss) = scan_against_bare(&scan, rounds.max(1));
    let (n, targets) = samples(&report);
    println!(
        "processes watched: {targets} ({n} samples over {} s at 1 s, the last round)",
        seconds()
    );
    println!(
        "{:44} {:8.1} MB peak RSS; {:.2} KB per target over an empty scan ({:.1} MB)",
        "leakwatch scan",
        rss / 1024.0,
        (rss - empty_rss) / targets as f64 * 1.024,
        empty_rss / 1024.0
    );
    // The kernel's own cost: one pread of statm per process, the floor of
    // any scan that reads every process each tick.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::FileExt;
        let files: Vec<std::fs::File> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|p| std::fs::File::open(format!("/proc/{p}/statm")).ok())
            .collect();
        let mut buf = [0u8; 256];
        let before = self_cpu();
        for _ in 0..20 {
            for f in &files {
                let _ = f.read_at(&mut buf, 0);
            }
        }
        println!(
            "{:44} {:8.2} µs CPU per process (the kernel's part of every sample)",
            "pread of /proc/PID/statm, every process",
            (self_cpu() - before) / (20 * files.len()) as f64 * 1e6
        );
    }
    // ps aux once a tick, as the article's loop would over the whole machine.
    let ticks = 10;
    let mut ps_cpu = 0.0;
    let mut ps_rss: f64 = 0.0;
    let mut ps_lines = 0;
    for _ in 0..ticks {
        let (out, c, r) = measured(Command::new("ps").arg("aux"));
        ps_cpu += c;
        ps_rss = ps_rss.max(r);
        ps_lines = out.lines().count().saturating_sub(1);
    }
    println!(
        "{:44} {:8.2} µs CPU per process per sample ({ps_lines} processes)",
        "ps aux, once per tick",
        ps_cpu / (ticks * ps_lines) as f64 * 1e6
    );
    println!("{:44} {:8.1} MB peak RSS", "ps aux", ps_rss / 1024.0);
    for k in &mut kids {
        k.kill().ok();
    }
    for k in &mut kids {
        k.wait().ok();
    }
}
