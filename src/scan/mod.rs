//! `scan`: every process of the machine (or those selected), or every
//! cgroup holding processes, watched at once, each with its own detector.
//!
//! Each tick lists `/proc` once (or walks the cgroup tree) for targets
//! that started since, then reads every target through its files kept open
//! (`pread` of `statm`, as a single watch does). A target that is gone is
//! kept, as exited, with what was seen. Verdicts are judged at the end; a
//! live table judges a share of the targets each tick.

mod cgroups;
#[cfg(target_os = "linux")]
mod procs;
pub mod table;

use crate::cgroup::Hierarchy;
use crate::detector::DetectorConfig;
use crate::judging::{Judge, Judged, Judging};
use crate::log::{LogWriter, Sample};
use crate::metrics::Metric;
use crate::sampler::Reading;
use crate::watch::clock::{Clock, SystemClock, Wake};
use crate::watch::signals::Signals;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Buckets per detector: a coarser state than a single watch's, so
/// thousands of targets stay a few KB each.
pub const SCAN_BUCKETS: usize = 96;

/// Which processes a scan watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSelect {
    /// Those whose name or command line contains this.
    pub name: Option<String>,
    /// Those of this user ID.
    pub uid: Option<u32>,
    /// Those descended from this process.
    pub children_of: Option<u32>,
}

/// The user ID of `user`, a name or a number; `None` when there is no such user.
pub fn uid_of(user: &str) -> Option<u32> {
    if let Ok(n) = user.parse::<u32>() {
        return Some(n);
    }
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: a zeroed passwd is valid for getpwnam_r to fill.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r(3) with a valid name, passwd, buffer and result pointer.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    (rc == 0 && !out.is_null()).then_some(pw.pw_uid)
}

/// What a scan watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Processes (all, or those selected; Linux).
    Processes(ProcSelect),
    /// Every leaf cgroup holding processes below this directory (`None`:
    /// the memory hierarchy's root).
    Cgroups(Option<PathBuf>),
}

/// A validated scan configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// What to watch.
    pub scope: Scope,
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this long (else at a signal).
    pub duration: Option<Duration>,
    /// Warm-up and minimum rate, for every target.
    pub detector: DetectorConfig,
    /// What to sample, in log-column order.
    pub metrics: Vec<Metric>,
    /// The series behind each target's verdict.
    pub judge: Judge,
    /// Write one log per target into this directory.
    pub output_dir: Option<PathBuf>,
    /// Redraw a live table on the terminal.
    pub table: bool,
}

/// One target as the scan saw it.
#[derive(Debug)]
pub struct Seen {
    /// Its PID (a cgroup's: its lowest when it joined).
    pub pid: u32,
    /// Its command line (a cgroup's: its lowest PID's).
    pub command: String,
    /// The cgroup, as a path inside its hierarchy.
    pub cgroup: Option<String>,
    /// Every judged series' verdict.
    pub judged: Vec<Judged>,
    /// The last reading.
    pub last: Reading,
    /// Seconds into the scan when it joined.
    pub first_s: f64,
    /// Seconds into the scan when it was last read.
    pub last_s: f64,
    /// It was gone before the scan ended.
    pub exited: bool,
    /// The cgroup's memory limit, bytes, and the file it is in.
    pub limit: Option<(f64, &'static str)>,
    /// Its log, if one was written.
    pub log: Option<PathBuf>,
}

/// How a scan ended and what it saw.
#[derive(Debug)]
pub struct ScanOutcome {
    /// Every target, in the order they joined.
    pub targets: Vec<Seen>,
    /// Why the scan ended.
    pub ended_by: String,
    /// Seconds the scan ran.
    pub duration_s: f64,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
    /// What was scanned, in words (`processes`, `cgroups below /sys/fs/cgroup`).
    pub scope: String,
}

/// Where a target's samples come from.
enum Source {
    #[cfg(target_os = "linux")]
    Proc(crate::sampler::linux::ProcFiles),
    Cgroup(crate::cgroup::CgroupFiles, PathBuf),
    Gone,
}

/// A target being watched.
struct Target {
    source: Source,
    pid: u32,
    command: String,
    cgroup: Option<String>,
    judging: Judging,
    last: Reading,
    first_s: f64,
    last_s: f64,
    limit: Option<(f64, &'static str)>,
    log: Option<LogWriter>,
    log_path: Option<PathBuf>,
    /// The verdict the live table shows, judged now and then.
    shown: Option<table::Shown>,
    /// At least one reading was taken.
    sampled: bool,
}

/// The descriptors kept for the scan's own use, besides its targets'.
const RESERVED_FDS: u64 = 32;

/// Raises the open-file soft limit to the hard one; returns the limit.
fn raise_fd_limit() -> u64 {
    // SAFETY: a zeroed rlimit is valid for getrlimit to fill.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit(2)/setrlimit(2) on RLIMIT_NOFILE with a valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
    }
    rl.rlim_cur as u64
}

/// The state of a running scan.
struct Scan<'a> {
    cfg: &'a ScanConfig,
    targets: Vec<Target>,
    warnings: Vec<String>,
    buf: Vec<u8>,
    page: u64,
    /// Descriptors the targets may hold.
    fd_budget: u64,
    fds_held: u64,
    /// Targets read by open/read/close for want of descriptors.
    unkept: u64,
    /// The next target the live table judges.
    cursor: usize,
}

/// Runs a scan to its end.
pub fn run(cfg: &ScanConfig) -> Result<ScanOutcome> {
    let signals = Signals::install()?;
    if let Some(dir) = &cfg.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let limit = raise_fd_limit();
    let mut scan = Scan {
        cfg,
        targets: Vec::new(),
        warnings: Vec::new(),
        buf: vec![0; 4096],
        page: page_size(),
        fd_budget: limit.saturating_sub(RESERVED_FDS),
        fds_held: 0,
        unkept: 0,
        cursor: 0,
    };
    let mut finder = Finder::new(&cfg.scope)?;
    let mut table = cfg.table.then(table::LiveTable::start);
    let mut clock = SystemClock::start();
    let mut stop = || signals.received().map(str::to_string);
    let ended_by = loop {
        let t = clock.elapsed();
        let wall = clock.wall();
        finder.join(&mut scan, t, wall);
        scan.sample(t, wall, &mut finder);
        if let Some(tb) = table.as_mut() {
            scan.judge_some();
            tb.draw(&table::Frame {
                rows: scan.rows(),
                t,
                duration: cfg.duration.map(|d| d.as_secs_f64()),
                interval: cfg.interval.as_secs_f64(),
                scope: finder.scope(),
                judge: cfg.judge.name(),
            });
        }
        let wake = clock.wait_next(
            cfg.interval.as_secs_f64(),
            cfg.duration.map(|d| d.as_secs_f64()),
            &mut stop,
        );
        match wake {
            Wake::Tick => {}
            Wake::Deadline => break "duration".to_string(),
            Wake::Stopped(why) => break why,
        }
    };
    if let Some(tb) = table.as_mut() {
        tb.finish();
    }
    if scan.unkept > 0 {
        scan.warnings.push(format!(
            "{} targets were read by open/read/close, not through descriptors kept open: the open-file limit ({limit}) is too low for them; raise it (`ulimit -n`) for a cheaper scan",
            scan.unkept
        ));
    }
    let duration_s = clock.elapsed();
    Ok(scan.outcome(ended_by, duration_s, finder.scope()))
}

fn page_size() -> u64 {
    #[cfg(target_os = "linux")]
    {
        crate::sampler::linux::page_size()
    }
    #[cfg(not(target_os = "linux"))]
    {
        4096
    }
}

/// What finds the targets: processes in `/proc`, or cgroups.
enum Finder {
    #[cfg(target_os = "linux")]
    Procs(procs::Finder),
    Cgroups(cgroups::Finder),
}

impl Finder {
    fn new(scope: &Scope) -> Result<Finder> {
        Ok(match scope {
            #[cfg(not(target_os = "linux"))]
            Scope::Processes(_) => bail!(
                "scanning processes reads Linux's /proc; on this system watch one process (--pid) instead"
            ),
            #[cfg(target_os = "linux")]
            Scope::Processes(sel) => {
                if let Some(pid) = sel.children_of
                    && !Path::new(&format!("/proc/{pid}")).exists()
                {
                    bail!(crate::sampler::SampleError::NoProcess { pid });
                }
                Finder::Procs(procs::Finder::new(sel.clone()))
            }
            Scope::Cgroups(root) => Finder::Cgroups(cgroups::Finder::new(root.as_deref())?),
        })
    }

    /// What is scanned, in words.
    fn scope(&self) -> String {
        match self {
            #[cfg(target_os = "linux")]
            Finder::Procs(_) => "processes".into(),
            Finder::Cgroups(c) => format!("cgroups below {}", c.root().display()),
        }
    }

    /// Adds the targets that appeared since the last tick (a process with
    /// the reading that told it from a kernel thread as its first sample).
    fn join(&mut self, scan: &mut Scan, t: f64, wall: SystemTime) {
        match self {
            #[cfg(target_os = "linux")]
            Finder::Procs(f) => {
                let (budget, mut held) = (scan.fd_budget, scan.fds_held);
                let found = f.find(&scan.cfg.metrics, || {
                    held += 2;
                    held < budget
                });
                for (p, files) in found {
                    scan.fds_held += files.held() as u64;
                    scan.unkept += u64::from(files.held() == 0);
                    let name = format!("{}-{}", p.pid, file_name(program(&p.command)));
                    scan.add(Source::Proc(files), p.pid, p.command, None, None, &name, t);
                    scan.record(scan.targets.len() - 1, t, wall, p.first);
                }
            }
            Finder::Cgroups(f) => {
                for c in f.find() {
                    let name = format!("cgroup{}", file_name(&c.name));
                    scan.fds_held += 2;
                    scan.add(
                        Source::Cgroup(c.files, c.dir),
                        c.pid,
                        c.command,
                        Some(c.name),
                        c.limit,
                        &name,
                        t,
                    );
                }
            }
        }
    }

    /// A target is gone: if it comes back, it is a new one.
    fn forget(&mut self, t: &Target) {
        match (self, &t.source) {
            #[cfg(target_os = "linux")]
            (Finder::Procs(f), _) => f.forget(t.pid),
            (Finder::Cgroups(f), Source::Cgroup(_, dir)) => f.forget(dir),
            _ => {}
        }
    }
}

/// `text` as part of a file name: letters, digits, `.`, `_` and `-` kept,
/// the rest `_`; at most its last 80 characters.
fn file_name(text: &str) -> String {
    let kept: Vec<char> = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    kept[kept.len().saturating_sub(80)..].iter().collect()
}

/// The program a command line runs, without its directory.
fn program(command: &str) -> &str {
    let first = command.split(' ').next().unwrap_or(command);
    first.rsplit('/').next().unwrap_or(first)
}

impl Scan<'_> {
    /// A new target, with its own detectors (and log).
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        source: Source,
        pid: u32,
        command: String,
        cgroup: Option<String>,
        limit: Option<(f64, &'static str)>,
        name: &str,
        t: f64,
    ) {
        let judging = Judging::new(
            self.cfg.detector,
            &self.judged_metrics(),
            None,
            self.cfg.judge.clone(),
        )
        .with_buckets(SCAN_BUCKETS);
        let (log, log_path) = self.open_log(name);
        self.targets.push(Target {
            source,
            pid,
            command,
            cgroup,
            judging,
            last: Reading::default(),
            first_s: t,
            last_s: t,
            limit,
            log,
            log_path,
            shown: None,
            sampled: false,
        });
    }

    /// The metrics judged: the judged one, or every one for `any`.
    fn judged_metrics(&self) -> Vec<Metric> {
        match &self.cfg.judge {
            Judge::Column(c) => Metric::from_column(c).into_iter().collect(),
            Judge::Any => self.cfg.metrics.clone(),
        }
    }

    /// The log of a new target named `name`, in the output directory.
    fn open_log(&mut self, name: &str) -> (Option<LogWriter>, Option<PathBuf>) {
        let Some(dir) = &self.cfg.output_dir else {
            return (None, None);
        };
        let path = dir.join(format!("{name}.csv"));
        if self.fds_held + 1 >= self.fd_budget {
            self.warnings.push(format!(
                "{}: not written: no descriptor left under the open-file limit; raise it (`ulimit -n`)",
                path.display()
            ));
            return (None, None);
        }
        match LogWriter::open(&path, &self.cfg.metrics) {
            Ok(l) => {
                self.fds_held += 1;
                (Some(l), Some(path))
            }
            Err(e) => {
                self.warnings.push(format!("{e:#}"));
                (None, None)
            }
        }
    }

    /// Reads every target still there (but those that joined with a
    /// reading this tick); those gone are kept as exited.
    fn sample(&mut self, t: f64, wall: SystemTime, finder: &mut Finder) {
        for i in 0..self.targets.len() {
            let tg = &mut self.targets[i];
            if tg.sampled && tg.last_s == t {
                continue;
            }
            let reading = match &mut tg.source {
                #[cfg(target_os = "linux")]
                Source::Proc(f) => f.read(&mut self.buf, self.page).ok().flatten(),
                Source::Cgroup(f, dir) => f
                    .read(&mut self.buf)
                    .filter(|_| !crate::cgroup::procs(dir).is_empty())
                    .map(crate::sampler::cgroup::reading),
                Source::Gone => continue,
            };
            match reading {
                Some(r) => self.record(i, t, wall, r),
                None => {
                    self.fds_held = self.fds_held.saturating_sub(held(&tg.source));
                    finder.forget(tg);
                    tg.source = Source::Gone;
                    if tg.log.take().is_some() {
                        self.fds_held = self.fds_held.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Takes reading `r` of target `i` at `t`: judged, kept, logged.
    fn record(&mut self, i: usize, t: f64, wall: SystemTime, r: Reading) {
        let tg = &mut self.targets[i];
        tg.judging.push_reading(t - tg.first_s, &r);
        tg.last = r;
        tg.last_s = t;
        tg.sampled = true;
        if let Some(log) = tg.log.as_mut() {
            let row = Sample {
                timestamp: wall,
                elapsed_s: t - tg.first_s,
                pid: tg.pid,
                reading: r,
                run: None,
            };
            if let Err(e) = log.write(&row) {
                self.warnings.push(format!("{e:#}"));
                tg.log = None;
                self.fds_held = self.fds_held.saturating_sub(1);
            }
        }
    }

    /// Judges the next share of targets for the live table: all of them
    /// within about eight ticks.
    fn judge_some(&mut self) {
        let n = self.targets.len();
        if n == 0 {
            return;
        }
        let share = n.div_ceil(8).max(64).min(n);
        for _ in 0..share {
            let i = self.cursor % n;
            self.cursor = self.cursor.wrapping_add(1);
            let tg = &mut self.targets[i];
            if tg.shown.is_none() || !matches!(tg.source, Source::Gone) {
                tg.shown = Some(table::Shown::of(&tg.judging));
            }
        }
    }

    /// The rows the live table shows.
    fn rows(&self) -> Vec<table::Row<'_>> {
        self.targets
            .iter()
            .map(|t| table::Row {
                pid: t.pid,
                label: t.cgroup.as_deref().unwrap_or(&t.command),
                rss: t.last.rss(),
                exited: matches!(t.source, Source::Gone),
                shown: t.shown,
            })
            .collect()
    }

    fn outcome(self, ended_by: String, duration_s: f64, scope: String) -> ScanOutcome {
        // A target gone before its first reading was never seen.
        let targets = self
            .targets
            .into_iter()
            .filter(|t| t.sampled)
            .map(|t| Seen {
                pid: t.pid,
                judged: t.judging.judged(),
                exited: matches!(t.source, Source::Gone),
                command: t.command,
                cgroup: t.cgroup,
                last: t.last,
                first_s: t.first_s,
                last_s: t.last_s,
                limit: t.limit,
                log: t.log_path,
            })
            .collect();
        ScanOutcome {
            targets,
            ended_by,
            duration_s,
            warnings: self.warnings,
            scope,
        }
    }
}

/// Descriptors a source holds.
fn held(s: &Source) -> u64 {
    match s {
        #[cfg(target_os = "linux")]
        Source::Proc(f) => f.held() as u64,
        Source::Cgroup(..) => 2,
        Source::Gone => 0,
    }
}

/// The lowest PID of a cgroup, and its command line.
pub(crate) fn cgroup_pid(dir: &Path) -> Option<(u32, String)> {
    let pid = *crate::cgroup::procs(dir).iter().min()?;
    Some((pid, command_line(pid).unwrap_or_default()))
}

/// The start of a `/proc` file, in one read into `buf` (no size probe, no
/// growing buffer, no allocation: a discovery reads two files of every
/// process); the bytes read.
pub(crate) fn read_head<'a>(path: &str, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(buf).ok()?;
    Some(&buf[..n])
}

/// The longest command line kept, in characters.
const MAX_COMMAND: usize = 200;

/// `pid`'s command line, its arguments joined by spaces (empty when it has
/// none, as a kernel thread or a zombie); `None` when it is gone.
pub(crate) fn command_line(pid: u32) -> Option<String> {
    // Enough for MAX_COMMAND characters of up to four bytes each.
    let mut buf = [0u8; 4 * MAX_COMMAND];
    let raw = read_head(&format!("/proc/{pid}/cmdline"), &mut buf)?;
    Some(
        String::from_utf8_lossy(raw)
            .split('\0')
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_COMMAND)
            .collect(),
    )
}

/// The hierarchy and root a cgroup scan walks.
pub(crate) fn cgroup_root(root: Option<&Path>) -> Result<(Hierarchy, PathBuf)> {
    let h = Hierarchy::find()?;
    let dir = match root {
        Some(r) => h.resolve(r)?,
        None => h.root.clone(),
    };
    Ok((h, dir))
}
