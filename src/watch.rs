//! The live watch: samples a process at fixed ticks, logs every sample, feeds
//! the detector and reports a verdict when the watch ends.

use crate::detector::{Detector, DetectorConfig};
use crate::log::{LogWriter, Sample};
use crate::metrics::{self, Judge, Metric};
use crate::report::{ExitCode, Format, JudgeSpec, Judged, Report};
use crate::sampler;
use crate::units::format_secs;
use anyhow::{Context, Result, bail};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A running process.
    Pid(u32),
    /// The one process whose name or command line contains this.
    Name(String),
    /// A command to start and watch.
    Command(Vec<String>),
}

/// A validated watch configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// What to watch.
    pub target: Target,
    /// Sum over the process and all its descendants.
    pub children: bool,
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many samples.
    pub samples: Option<u64>,
    /// The CSV log (`-` for standard output).
    pub output: Option<PathBuf>,
    /// Format of the final verdict.
    pub format: Format,
    /// No progress on stderr.
    pub quiet: bool,
    /// Exit 1 on `leaking`, 3 on `inconclusive`.
    pub fail_on_leak: bool,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// What to sample (always including rss and vsz), in log-column order.
    pub metrics: Vec<Metric>,
    /// The metric behind the exit code.
    pub judge: Judge,
    /// A memory limit to compare against (`--limit`); else the cgroup's, if any.
    pub limit: Option<f64>,
}

/// Grace between SIGTERM and SIGKILL for a started command.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// Runs a watch to its end and returns the exit code to use.
pub fn run(cfg: &WatchConfig) -> Result<ExitCode> {
    let signals = Signals::install()?;
    // The log first: a refused log must not leave a started command behind.
    let mut log = match &cfg.output {
        Some(p) => Some(LogWriter::open(p, &cfg.metrics)?),
        None => None,
    };
    let log_to_stdout = cfg.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let mut child: Option<Child> = None;
    let pid = match &cfg.target {
        Target::Pid(p) => *p,
        Target::Name(pat) => resolve_name(pat)?,
        Target::Command(argv) => {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            if log_to_stdout {
                // Keep the log on stdout clean: the command's output goes to stderr.
                cmd.stdout(std::io::stderr());
            }
            let c = cmd
                .spawn()
                .with_context(|| format!("cannot start '{}'", argv.join(" ")))?;
            let pid = c.id();
            child = Some(c);
            pid
        }
    };
    let mut sampler = match sampler::open(pid, cfg.children, &cfg.metrics) {
        Ok(s) => s,
        Err(e) => {
            if let Some(c) = child.as_mut() {
                stop_child(c);
            }
            return Err(e);
        }
    };
    let mut dets: Vec<(Metric, Detector)> = cfg
        .metrics
        .iter()
        .map(|&m| (m, Detector::new(metrics::detector_for(m, cfg.detector))))
        .collect();
    let shown = match cfg.judge {
        Judge::One(m) => cfg.metrics.iter().position(|&x| x == m).unwrap_or(0),
        Judge::Any => 0,
    };
    let limit = match cfg.limit {
        Some(l) => Some((l, "--limit".to_string())),
        None => cgroup_limit(pid).map(|l| (l, "cgroup memory.max".to_string())),
    };
    let start = Instant::now();
    let interval = cfg.interval.as_secs_f64();
    let mut tick: u64 = 0;
    let mut n: u64 = 0;
    let ended_by: String;
    let mut write_error: Option<anyhow::Error> = None;
    let mut progress = Progress::new(cfg.quiet);
    loop {
        // Sample now. Time is kept to the millisecond, as the log has it, so
        // `analyze` on the log reaches exactly the live verdict.
        let now_elapsed = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        let mem = match sampler.sample() {
            Ok(Some(m)) => m,
            Ok(None) => {
                ended_by = "target exited".into();
                break;
            }
            Err(e) => {
                if let Some(c) = child.as_mut() {
                    stop_child(c);
                }
                return Err(e.context(format!("cannot sample PID {pid}")));
            }
        };
        n += 1;
        for (m, d) in dets.iter_mut() {
            d.push(now_elapsed, mem.get(*m) as f64);
        }
        if let Some(l) = log.as_mut() {
            let s = Sample {
                timestamp: SystemTime::now(),
                elapsed_s: now_elapsed,
                pid,
                reading: mem,
            };
            if let Err(e) = l.write(&s) {
                write_error = Some(e);
                ended_by = "write error".into();
                break;
            }
        }
        let (m, d) = &dets[shown];
        progress.update(d, *m, now_elapsed, mem.get(*m), n);
        if cfg.samples.is_some_and(|max| n >= max) {
            ended_by = "sample count".into();
            break;
        }
        // The next tick on the fixed grid; ticks already missed are skipped.
        let after = start.elapsed().as_secs_f64();
        tick = (tick + 1).max((after / interval).ceil() as u64);
        let next_at = tick as f64 * interval;
        if cfg
            .duration
            .is_some_and(|d| next_at > d.as_secs_f64() + 1e-9)
        {
            ended_by = "duration".into();
            break;
        }
        // Wait for the tick, a signal or the started command's exit.
        let deadline = start + Duration::from_secs_f64(next_at);
        let mut stop = None;
        loop {
            if let Some(s) = signals.received() {
                stop = Some(s);
                break;
            }
            if let Some(c) = child.as_mut()
                && matches!(c.try_wait(), Ok(Some(_)))
            {
                stop = Some("target exited");
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // Sleep in short slices so a signal ends even a long interval promptly.
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
        if let Some(s) = stop {
            ended_by = s.into();
            break;
        }
    }
    progress.finish();
    let target_exit = child.as_mut().map(stop_child);
    let judged: Vec<Judged> = dets
        .iter()
        .map(|(m, d)| Judged {
            column: m.column().to_string(),
            counts: !m.is_bytes(),
            verdict: d.verdict(),
        })
        .collect();
    let spec = match cfg.judge {
        Judge::One(m) => JudgeSpec::Column(m.column().to_string()),
        Judge::Any => JudgeSpec::Any,
    };
    let (mut report, kind) = Report::from_judged(&judged, &spec, cfg.detector.min_rate, limit);
    report.pid = Some(pid as u64);
    report.source = cfg
        .output
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .map(|p| p.display().to_string());
    report.ended_by = Some(ended_by);
    report.target_exit = target_exit;
    let text = report.render(cfg.format);
    if log_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
        std::io::stdout().flush().ok();
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    Ok(ExitCode::for_verdict(kind, cfg.fail_on_leak))
}

/// SIGINT, SIGTERM and SIGHUP, recorded by flags so the watch can end cleanly
/// (a closed terminal or ssh session ends it with a verdict too).
struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let s = Signals {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            hup: Arc::new(AtomicBool::new(false)),
        };
        signal_hook::flag::register(SIGINT, Arc::clone(&s.int))
            .context("cannot install a SIGINT handler")?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&s.term))
            .context("cannot install a SIGTERM handler")?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&s.hup))
            .context("cannot install a SIGHUP handler")?;
        Ok(s)
    }

    /// Why to stop, if a signal came.
    fn received(&self) -> Option<&'static str> {
        if self.int.load(Ordering::Relaxed) {
            Some("interrupted (SIGINT)")
        } else if self.term.load(Ordering::Relaxed) {
            Some("terminated (SIGTERM)")
        } else if self.hup.load(Ordering::Relaxed) {
            Some("hung up (SIGHUP)")
        } else {
            None
        }
    }
}

/// The cgroup v2 memory limit of `pid` (the smallest `memory.max` on its
/// cgroup's path), if it has one.
fn cgroup_limit(pid: u32) -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        sampler::linux::cgroup_memory_max(&cg, std::path::Path::new("/sys/fs/cgroup"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

fn resolve_name(pattern: &str) -> Result<u32> {
    let found = sampler::find_by_name(pattern)?;
    match found.len() {
        0 => bail!("no process matches '{pattern}'; check with `ps aux | grep {pattern}`"),
        1 => Ok(found[0].pid),
        _ => {
            let list: Vec<String> = found
                .iter()
                .map(|f| format!("  {:>7}  {}", f.pid, f.cmdline))
                .collect();
            bail!(
                "{} processes match '{pattern}'; choose one with --pid:\n{}",
                found.len(),
                list.join("\n")
            )
        }
    }
}

/// Ends a started command: SIGTERM, then SIGKILL after a grace; reaps it and
/// says how it ended.
fn stop_child(c: &mut Child) -> String {
    if let Ok(Some(st)) = c.try_wait() {
        return describe_exit(st);
    }
    // SAFETY: kill(2) on our own child's PID, which we have not reaped yet.
    unsafe {
        libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = c.try_wait() {
            return format!("{} after SIGTERM", describe_exit(st));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    match c.wait() {
        Ok(st) => format!("{} after SIGKILL", describe_exit(st)),
        Err(e) => format!("could not be reaped: {e}"),
    }
}

fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "exited".into(),
    }
}

/// The progress shown on stderr while the watch runs.
struct Progress {
    tty: bool,
    quiet: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            quiet,
            last: None,
            drawn: false,
        }
    }

    fn update(&mut self, det: &Detector, m: Metric, elapsed: f64, value: u64, n: u64) {
        if self.quiet {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(10)
        };
        let now = Instant::now();
        if self.last.is_some_and(|l| now - l < every) {
            return;
        }
        if self.last.is_none() && !self.tty {
            // Plain output: first line only after the first period.
            self.last = Some(now);
            return;
        }
        self.last = Some(now);
        let v = det.verdict();
        let b = m.is_bytes();
        let line = format!(
            "{} | {n} samples | {} {} | floor {} | {} | {} so far",
            format_secs(elapsed),
            m.name(),
            metrics::format_value(b, value as f64),
            metrics::format_value(b, v.baseline_end),
            metrics::format_rate(b, v.rate, "min"),
            v.kind
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "leakwatch: {line}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
