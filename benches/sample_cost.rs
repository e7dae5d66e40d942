//! CPU cost of one sample, next to the alternatives, and leakwatch's own
//! footprint while it samples every millisecond.
//!
//! `cargo bench --bench sample_cost`
//!
//! - `pread /proc/PID/statm` through a kept descriptor (leakwatch on Linux),
//!   and what each further metric (`--metrics`) adds;
//! - a sysinfo single-process refresh (leakwatch elsewhere);
//! - the article's `ps aux | grep PID | grep -v grep | awk ...` loop, per sample;
//! - the whole `leakwatch` binary at `--interval 1ms` for 10 s with a log:
//!   CPU per sample including the log write and the detector, and its peak RSS.

use leakwatch::sampler::Sampler;
use leakwatch::sampler::portable::SysinfoSampler;
use std::process::{Command, Stdio};
use std::time::Instant;

/// (user + system) CPU seconds of this process, or of its reaped children.
fn cpu(who: i32) -> f64 {
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn per_sample(name: &str, n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let (c, t) = (cpu(libc::RUSAGE_SELF), Instant::now());
    for _ in 0..n {
        f();
    }
    let us = (cpu(libc::RUSAGE_SELF) - c) / n as f64 * 1e6;
    let wall = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    println!("{name:56} {us:9.2} µs CPU/sample  ({wall:.2} µs wall)");
    us
}

fn main() {
    let mut target = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = target.id();

    #[cfg(target_os = "linux")]
    {
        use leakwatch::metrics::Metric::*;
        use leakwatch::sampler::process::ProcSampler;
        let fs = leakwatch::sys::procfs::ProcFs::host();
        let mut s = ProcSampler::open(&fs, pid, false, &[Rss, Vsz]).unwrap();
        per_sample("leakwatch: pread /proc/PID/statm", 200_000, || {
            std::hint::black_box(s.sample().unwrap());
        });
        // Each further metric, on an idle `sleep` and on a Python process holding 256 MiB.
        let mut big = Command::new("python3")
            .args(["-c", "import time; a = bytearray(256 << 20); a[::4096] = b'x' * len(a[::4096]); time.sleep(600)"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_secs(2));
        for (name, metrics) in [
            (
                "  --metrics rss,vsz,threads (+ stat)",
                vec![Rss, Vsz, Threads],
            ),
            (
                "  --metrics rss,vsz,pss,uss,swap (+ smaps_rollup)",
                vec![Rss, Vsz, Pss, Uss, Swap],
            ),
            (
                "  --metrics rss,vsz,fds (+ /proc/PID/fd)",
                vec![Rss, Vsz, Fds],
            ),
            (
                "  all seven metrics",
                vec![Rss, Vsz, Pss, Uss, Swap, Fds, Threads],
            ),
        ] {
            for (target, label) in [(pid, "sleep"), (big.id(), "python, 256 MiB")] {
                let mut s = ProcSampler::open(&fs, target, false, &metrics).unwrap();
                per_sample(&format!("{name}, {label}"), 20_000, || {
                    std::hint::black_box(s.sample().unwrap());
                });
            }
        }
        big.kill().ok();
        big.wait().ok();
    }
    let mut s = SysinfoSampler::open(pid, false).unwrap();
    per_sample("sysinfo single-process refresh", 20_000, || {
        std::hint::black_box(s.sample().unwrap());
    });

    // The article's loop body, one sample: CPU of the whole pipeline (children).
    let n = 30;
    let c = cpu(libc::RUSAGE_CHILDREN);
    let script =
        format!("ps aux | grep {pid} | grep -v grep | awk '{{print $5\" \"$6}}' >> /dev/null");
    for _ in 0..n {
        Command::new("sh").args(["-c", &script]).status().unwrap();
    }
    let shell = (cpu(libc::RUSAGE_CHILDREN) - c) / n as f64 * 1e6;
    println!(
        "{:44} {shell:9.0} µs CPU/sample",
        "article's ps aux | grep | awk loop"
    );

    // The whole binary at 1 ms for 10 s, logging every sample.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("soak.csv");
    let bin = env!("CARGO_BIN_EXE_leakwatch");
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = Command::new(bin)
        .args([
            "--pid",
            &pid.to_string(),
            "-i",
            "1ms",
            "-d",
            "10s",
            "-q",
            "-o",
        ])
        .arg(&log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // wait4 gives this one child's own CPU time and peak RSS.
    let mut status = 0;
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills `ru`.
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    assert!(r > 0 && status == 0, "leakwatch failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let used = tv(ru.ru_utime) + tv(ru.ru_stime);
    let samples = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    println!(
        "{:56} {:9.2} µs CPU/sample  ({samples} samples in 10 s, log and detector included)",
        "leakwatch binary, -i 1ms with -o",
        used / samples as f64 * 1e6
    );
    println!(
        "leakwatch binary peak RSS (ru_maxrss): {:.1} MB",
        ru.ru_maxrss as f64 / 1024.0
    );
    target.kill().ok();
    target.wait().ok();
}
