//! What a scan of every process costs, next to `ps aux` each tick.
//!
//! `cargo bench --bench scan_cost` (Linux; set SCAN_PROCS to change the
//! 2,000 extra processes it starts)
//!
//! Starts 2,000 sleeping processes, then runs `leakwatch scan` over the whole
//! machine for 10 s at 1 s with the open-file soft limit at 1024 (as a login
//! shell has it) and prints:
//! - its whole CPU time (user + system, start-up and report included) over
//!   targets × samples: the cost per process per sample;
//! - its peak RSS, and that less an empty scan's, per target;
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

fn main() {
    let extra: usize = std::env::var("SCAN_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut kids: Vec<Child> = (0..extra)
        .map(|_| {
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .spawn()
                .expect("sleep")
        })
        .collect();
    // Let them exec and settle.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let bin = env!("CARGO_BIN_EXE_leakwatch");
    let scan = |args: &[&str]| {
        measured(
            Command::new(bin)
                .args(["scan", "-i", "1s", "-d", "10s", "-q"])
                .args(args),
        )
    };
    let (empty, _, empty_rss) = scan(&["--name", "no-process-has-this-name-4f2a"]);
    assert_eq!(samples(&empty).1, 0);
    let (json, cpu, rss) = scan(&[]);
    let (n, targets) = samples(&json);
    println!("processes watched: {targets} ({n} samples over 10 s at 1 s)");
    println!(
        "{:44} {:8.2} µs CPU per process per sample (all of its CPU time)",
        "leakwatch scan",
        cpu / n as f64 * 1e6
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
