//! The command line: clap types parsed and validated into plain configs. No
//! other module sees clap, and flag names appear only here: [`explain`] adds
//! them to the library's errors.

use crate::analyze::AnalyzeConfig;
use crate::detector::DetectorConfig;
use crate::judging::Judge;
use crate::log::ReadOptions;
use crate::log::reader::MissingColumn;
use crate::metrics::{self, Metric};
use crate::plot::PlotConfig;
use crate::prometheus::PromConfig;
use crate::repeat::RepeatConfig;
use crate::report::{ColorChoice, Format};
use crate::sampler::SampleError;
use crate::scan::{ScanConfig, Scope};
use crate::units::{parse_duration, parse_rate, parse_size, quoted};
use crate::watch::{Target, WatchConfig};
use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Examples:
  leakwatch --pid 50662 --interval 1s -o samples.csv
  leakwatch --name my-server --duration 10m --fail-on-leak
  leakwatch --children -d 2m -- python3 server.py
  leakwatch scan -d 10m                  (every process: which one is still growing?)
  leakwatch scan --cgroups -d 30m        (every container and service)
  leakwatch --cgroup /system.slice/app.service --follow
  leakwatch analyze samples.csv --format json
  leakwatch --replay samples.csv --min-rate 5MiB/h --fail-on-leak
  leakwatch plot samples.csv -o samples.svg

Exit codes: 0 ok; 1 leaking and 3 inconclusive (with --fail-on-leak); 2 error.

leakwatch grew from the article \"分析Python中的内存泄漏\" (Analysing memory leaks
in Python): its shell loop, ps aux | grep | awk >> t, done properly.";

/// Tells whether a running process is still leaking memory.
#[derive(Debug, Parser)]
#[command(
    name = "leakwatch",
    version = env!("LEAKWATCH_VERSION"),
    about,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    watch: WatchArgs,
    /// Colour the verdict: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    color: ColorArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Judge a CSV log (or the article's `ps | awk` log) offline.
    Analyze(AnalyzeArgs),
    /// Render a log as an SVG chart with the verdict.
    Plot(PlotArgs),
    /// Watch every process (or those selected), or every cgroup, at once: which
    /// one here is still growing?
    Scan(ScanArgs),
    /// Run a command N times against a running process: the bytes each run leaves
    /// behind, and whether memory comes back afterwards.
    Repeat(RepeatArgs),
    /// Print a shell completion script (install: see the README).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `leakwatch man > leakwatch.1`.
    Man,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct JudgeArgs {
    /// Time set aside at the start (e.g. 90s, 5m) [default: decided by the detector]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    warmup: Option<String>,
    /// Growth slower than this is a plateau (e.g. 1MiB/h, 10KB/s, 512KiB/min)
    #[arg(
        long,
        value_name = "RATE",
        default_value = "1MiB/h",
        allow_hyphen_values = true
    )]
    min_rate: String,
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// Format of the verdict
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
    /// Exit 1 when leaking and 3 when inconclusive
    #[arg(long)]
    fail_on_leak: bool,
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// Watch this process
    #[arg(short, long, value_name = "PID", conflicts_with = "name", allow_hyphen_values = true, value_parser = parse_pid)]
    pid: Option<u32>,
    /// Watch the one process whose name or command line contains PATTERN
    #[arg(long, value_name = "PATTERN")]
    name: Option<String>,
    /// Watch a cgroup (a container, a service): a cgroupfs directory, or a path as
    /// /proc/PID/cgroup shows it. Judges its anonymous memory (as rss); logs its use
    /// with page cache as usage
    #[arg(long, value_name = "PATH", conflicts_with_all = ["pid", "name", "children"])]
    cgroup: Option<PathBuf>,
    /// With --name or --cgroup: when the target is gone, go on with the next match
    /// (or the cgroup's next process) as a new run; the verdict judges the current run
    #[arg(long)]
    follow: bool,
    /// Sum every metric over the process and all its descendants (shared pages
    /// count once per process in RSS; PSS divides them)
    #[arg(long)]
    children: bool,
    /// Time between samples (down to 1ms)
    #[arg(
        short,
        long,
        value_name = "DURATION",
        default_value = "1s",
        allow_hyphen_values = true
    )]
    interval: String,
    /// Stop after this long
    #[arg(short, long, value_name = "DURATION", allow_hyphen_values = true)]
    duration: Option<String>,
    /// Stop after this many samples
    #[arg(short = 'n', long, value_name = "N", allow_hyphen_values = true, value_parser = parse_count)]
    samples: Option<u64>,
    /// Append samples to this CSV log (`-` for standard output)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// No progress on stderr
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    judge_opts: JudgeArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// What to sample and log, from rss,vsz,pss,uss,swap,fds,threads (rss and vsz
    /// always). CPU per sample on Linux: rss,vsz 1 µs (statm); threads +3 µs (stat);
    /// fds +7 µs (lists /proc/PID/fd); pss,uss,swap +25 µs for a small process and
    /// about +10 µs per MiB resident (smaps_rollup walks the page tables)
    #[arg(long, value_name = "LIST", default_value = "rss,vsz")]
    metrics: String,
    /// The metric behind the exit code: rss, vsz, pss, uss, swap, fds, threads, or
    /// any (fail on any metric that leaks); pss is the honest choice for forking servers
    #[arg(long, value_name = "METRIC", default_value = "rss")]
    judge: String,
    /// A memory limit (e.g. 2GiB): say when the floor will reach it [default:
    /// the target's cgroup v2 memory.max, if set]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    limit: Option<String>,
    /// Serve the verdicts for Prometheus on ADDR (e.g. 127.0.0.1:9464), at /metrics
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Write the verdicts for node_exporter's textfile collector to PATH (a *.prom
    /// file), atomically, once a second
    #[arg(long, value_name = "PATH")]
    textfile: Option<PathBuf>,
    /// Feed a log's samples through the live watch on a simulated clock, as
    /// fast as it reads (to try settings on a recording; its columns are the metrics)
    #[arg(long, value_name = "LOG", conflicts_with_all = ["pid", "name", "cgroup", "children", "metrics"])]
    replay: Option<PathBuf>,
    /// A command to start and watch (after `--`)
    #[arg(last = true, value_name = "CMD")]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// The log (`-` for standard input); with --prometheus, the PromQL query
    /// whose series to judge (e.g. 'process_resident_memory_bytes{job="api"}')
    #[arg(value_name = "FILE|QUERY")]
    file: PathBuf,
    /// Judge every series that QUERY returns from this Prometheus-compatible
    /// server (e.g. http://127.0.0.1:9090), over --range
    #[arg(long, value_name = "URL", conflicts_with_all = ["column", "judge", "limit"])]
    prometheus: Option<String>,
    /// With --prometheus: how much history to read
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "6h",
        allow_hyphen_values = true
    )]
    range: String,
    /// With --prometheus and an expression that is not a plain selector: its
    /// resolution (no coarser than the scrape interval)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15s",
        allow_hyphen_values = true
    )]
    step: String,
    /// With --prometheus: a file holding a bearer token for the server
    #[arg(long, value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    #[command(flatten)]
    read: ReadArgs,
    /// The metric behind the exit code (like --column), or any: fail on any
    /// metric column that leaks
    #[arg(long, value_name = "METRIC", conflicts_with = "column")]
    judge: Option<String>,
    /// A memory limit (e.g. 2GiB): say when the floor will reach it
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    limit: Option<String>,
    #[command(flatten)]
    judging: JudgeArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct RepeatArgs {
    /// The running process the command is run against
    #[arg(short, long, value_name = "PID", conflicts_with = "name", allow_hyphen_values = true, value_parser = parse_pid)]
    pid: Option<u32>,
    /// The one process whose name or command line contains PATTERN
    #[arg(long, value_name = "PATTERN")]
    name: Option<String>,
    /// How many times to run the command (at least 10 for a verdict)
    #[arg(short = 'n', long, value_name = "N", allow_hyphen_values = true, value_parser = parse_count)]
    runs: u64,
    /// Growth per run below which it is a plateau
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "4KiB",
        allow_hyphen_values = true
    )]
    max_per_run: String,
    /// Watch after the last run for memory to come back [default: 3s, or 3 x the
    /// mean run, the longer]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    cooldown: Option<String>,
    /// Time between samples while a run goes on
    #[arg(
        short,
        long,
        value_name = "DURATION",
        default_value = "100ms",
        allow_hyphen_values = true
    )]
    interval: String,
    /// What to sample, as for a watch (fds: a socket leak is +1.0 fds per run)
    #[arg(long, value_name = "LIST", default_value = "rss,vsz")]
    metrics: String,
    /// Append every sample to a CSV log with a `run` column
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    /// The command to run each time (after `--`)
    #[arg(last = true, value_name = "CMD", required = true)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Only processes whose name or command line contains PATTERN
    #[arg(long, value_name = "PATTERN")]
    name: Option<String>,
    /// Only processes of USER (a name or a user ID)
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Only the descendants of PID
    #[arg(long, value_name = "PID", allow_hyphen_values = true, value_parser = parse_pid)]
    children_of: Option<u32>,
    /// Watch every leaf cgroup holding processes (containers, services) below ROOT
    /// [default ROOT: the memory hierarchy's root]
    #[arg(long, value_name = "ROOT", num_args = 0..=1, conflicts_with_all = ["name", "user", "children_of"])]
    cgroups: Option<Option<PathBuf>>,
    /// Time between samples
    #[arg(
        short,
        long,
        value_name = "DURATION",
        default_value = "1s",
        allow_hyphen_values = true
    )]
    interval: String,
    /// Stop after this long [default: at Ctrl-C]
    #[arg(short, long, value_name = "DURATION", allow_hyphen_values = true)]
    duration: Option<String>,
    /// Write one CSV log per target into DIR (for analyze and plot)
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// No live table on the terminal: only the report at the end
    #[arg(short, long)]
    quiet: bool,
    /// What to sample, as for a watch
    #[arg(long, value_name = "LIST", default_value = "rss,vsz")]
    metrics: String,
    /// The metric behind each verdict, as for a watch
    #[arg(long, value_name = "METRIC", default_value = "rss")]
    judge: String,
    #[command(flatten)]
    judging: JudgeArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// How to read a log, for analyze and plot.
#[derive(Debug, Args)]
struct ReadArgs {
    /// The column to judge (and plot) [default: rss_bytes]
    #[arg(long, value_name = "NAME")]
    column: Option<String>,
    /// Spacing of samples in a shell-loop log (which has no times)
    #[arg(
        short,
        long,
        value_name = "DURATION",
        default_value = "1s",
        allow_hyphen_values = true
    )]
    interval: String,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// The log (`-` for standard input)
    file: PathBuf,
    /// The SVG file to write
    #[arg(short, long, value_name = "OUT.svg")]
    output: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
    /// Write over an existing output that is not an SVG
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    judge: JudgeArgs,
}

/// What to run, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Config {
    /// A live watch.
    Watch(WatchConfig),
    /// `analyze`.
    Analyze {
        /// What to read and how to judge it.
        analyze: AnalyzeConfig,
        /// Verdict format.
        format: Format,
        /// Exit 1/3 on leaking/inconclusive.
        fail_on_leak: bool,
    },
    /// `plot`.
    Plot(PlotConfig),
    /// `analyze --prometheus`.
    Prometheus {
        /// What to fetch and how to judge it.
        prom: PromConfig,
        /// Verdict format.
        format: Format,
        /// Exit 1/3 when any series leaks / is inconclusive.
        fail_on_leak: bool,
    },
    /// `scan`.
    Scan {
        /// What to scan and how.
        scan: ScanConfig,
        /// Verdict format.
        format: Format,
        /// Exit 1 when any target leaks, 3 when one watched throughout is inconclusive.
        fail_on_leak: bool,
    },
    /// `repeat`.
    Repeat {
        /// What to repeat against what.
        repeat: RepeatConfig,
        /// Verdict format.
        format: Format,
        /// Exit 1/3 on leaking/inconclusive.
        fail_on_leak: bool,
    },
    /// Print a shell completion script.
    Completions(clap_complete::Shell),
    /// Print the man page.
    Man,
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "leakwatch", &mut out);
    out
}

/// The man page, in roff.
pub fn man_page() -> Result<Vec<u8>> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}

/// A PID: a whole number above 0 (a negative one is not taken for a flag).
fn parse_pid(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("must be a process ID: a whole number above 0".into()),
    }
}

/// A number of samples: a whole number above 0.
fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number above 0".into()),
    }
}

/// A duration given to `flag`, which must be positive.
fn duration(flag: &str, text: &str) -> Result<Duration> {
    if text.trim_start().starts_with('-') {
        bail!(
            "{flag}: {} must be positive, e.g. 500ms, 1s or 5m",
            quoted(text)
        );
    }
    parse_duration(text).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

fn detector_config(j: &JudgeArgs) -> Result<DetectorConfig> {
    let warmup = match &j.warmup {
        Some(w) => Some(duration("--warmup", w)?),
        None => None,
    };
    let min_rate = parse_rate(&j.min_rate).map_err(|e| anyhow::anyhow!("--min-rate: {e}"))?;
    if min_rate < 0.0 {
        bail!("--min-rate: must not be negative");
    }
    Ok(DetectorConfig {
        warmup: warmup.map(|d| d.as_secs_f64()),
        min_rate,
    })
}

fn limit(text: &Option<String>) -> Result<Option<f64>> {
    match text {
        None => Ok(None),
        Some(t) => {
            let v = parse_size(t).map_err(|e| anyhow::anyhow!("--limit: {e}"))?;
            if v <= 0.0 {
                bail!("--limit: must be more than 0");
            }
            Ok(Some(v))
        }
    }
}

fn interval(text: &str) -> Result<Duration> {
    let d = duration("--interval", text)?;
    if d < Duration::from_millis(1) {
        bail!("--interval: {text} is below the 1ms minimum");
    }
    Ok(d)
}

fn format(f: FormatArg) -> Format {
    match f {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
    }
}

/// Parses and validates command-line arguments into a [`Config`].
/// Help and version requests come back as clap errors to print.
pub fn parse<I, T>(args: I) -> Result<Config, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    parse_invocation(args).map(|i| i.config)
}

/// A validated command line: what to run, and how to colour what it prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// What to run.
    pub config: Config,
    /// Whether to colour the verdict.
    pub color: ColorChoice,
}

/// Parses and validates command-line arguments into an [`Invocation`].
pub fn parse_invocation<I, T>(args: I) -> Result<Invocation, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(CliError::Clap)?;
    let color = match cli.color {
        ColorArg::Auto => ColorChoice::Auto,
        ColorArg::Always => ColorChoice::Always,
        ColorArg::Never => ColorChoice::Never,
    };
    let config = validate(cli).map_err(CliError::Invalid)?;
    Ok(Invocation { config, color })
}

/// Why the command line was not accepted.
#[derive(Debug)]
pub enum CliError {
    /// clap's own error, help or version text.
    Clap(clap::Error),
    /// A value that parsed but is not valid.
    Invalid(anyhow::Error),
}

/// Parses `--metrics`: a comma-separated list of metric names. `rss` and
/// `vsz` are always sampled (they are the log's base columns), so they may be
/// left out. The result is in log-column order, without repeats.
fn parse_metrics(text: &str) -> Result<Vec<Metric>> {
    let mut out = vec![Metric::Rss, Metric::Vsz];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Metric::parse(part) {
            Some(m) => out.push(m),
            None => bail!(
                "--metrics: unknown metric '{part}'; choose from {}",
                metrics::names()
            ),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Parses `--metrics` for a process, which has no cgroup usage.
fn process_metrics(text: &str) -> Result<Vec<Metric>> {
    let m = parse_metrics(text)?;
    if m.contains(&Metric::Usage) {
        bail!("--metrics usage: only a cgroup has it; leave usage out");
    }
    Ok(m)
}

/// Parses `--judge`: a metric name, or `any` (`None`).
fn parse_judge(text: &str) -> Result<Option<Metric>> {
    if text == "any" {
        return Ok(None);
    }
    match Metric::parse(text) {
        Some(m) => Ok(Some(m)),
        None => bail!(
            "--judge: unknown metric '{text}'; choose {} or any",
            metrics::names()
        ),
    }
}

fn validate(cli: Cli) -> Result<Config> {
    match cli.command {
        Some(Sub::Analyze(a)) => validate_analyze(a),
        Some(Sub::Plot(p)) => Ok(Config::Plot(PlotConfig {
            path: p.file,
            output: p.output,
            read: ReadOptions {
                column: p.read.column,
                interval_s: interval(&p.read.interval)?.as_secs_f64(),
            },
            detector: detector_config(&p.judge)?,
            force: p.force,
        })),
        Some(Sub::Repeat(r)) => validate_repeat(r),
        Some(Sub::Scan(s)) => validate_scan(s),
        Some(Sub::Completions { shell }) => Ok(Config::Completions(shell)),
        Some(Sub::Man) => Ok(Config::Man),
        None => validate_watch(cli.watch),
    }
}

fn validate_scan(a: ScanArgs) -> Result<Config> {
    use std::io::IsTerminal;
    let cgroups = a.cgroups.is_some();
    let scope = match a.cgroups {
        Some(root) => Scope::Cgroups(root),
        None => {
            let uid = match &a.user {
                Some(u) => Some(crate::scan::uid_of(u).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--user: no user {} on this machine; check the name with `id {}`",
                        quoted(u),
                        quoted(u)
                    )
                })?),
                None => None,
            };
            if a.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                bail!(
                    "--name: the pattern is empty; give part of the processes' names or command lines"
                );
            }
            Scope::Processes(crate::scan::ProcSelect {
                name: a.name,
                uid,
                children_of: a.children_of,
            })
        }
    };
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration("--duration", d))
        .transpose()?;
    if duration.is_some_and(|d| d.is_zero()) {
        bail!("--duration: must be more than 0");
    }
    let (metrics, judged) = watch_metrics(&a.metrics, &a.judge, cgroups)?;
    let format = format(a.out.format);
    Ok(Config::Scan {
        scan: ScanConfig {
            scope,
            interval: interval(&a.interval)?,
            duration,
            detector: detector_config(&a.judging)?,
            metrics,
            judge: judged.map_or(Judge::Any, Judge::metric),
            output_dir: a.output,
            table: !a.quiet && format == Format::Text && std::io::stdout().is_terminal(),
        },
        format,
        fail_on_leak: a.out.fail_on_leak,
    })
}

fn validate_repeat(r: RepeatArgs) -> Result<Config> {
    let target = match (r.pid, r.name) {
        (Some(p), None) => Target::Pid(p),
        (None, Some(n)) if !n.trim().is_empty() => Target::Name(n),
        (None, Some(_)) => bail!("--name: the pattern is empty"),
        _ => bail!("repeat: give the running process with --pid PID or --name PATTERN"),
    };
    let max_per_run =
        parse_size(&r.max_per_run).map_err(|e| anyhow::anyhow!("--max-per-run: {e}"))?;
    if max_per_run < 0.0 {
        bail!("--max-per-run: must not be negative");
    }
    Ok(Config::Repeat {
        repeat: RepeatConfig {
            target,
            command: r.command,
            runs: r.runs,
            interval: interval(&r.interval)?,
            cooldown: r
                .cooldown
                .as_deref()
                .map(|c| duration("--cooldown", c))
                .transpose()?,
            max_per_run,
            metrics: process_metrics(&r.metrics)?,
            output: r.output,
        },
        format: format(r.out.format),
        fail_on_leak: r.out.fail_on_leak,
    })
}

fn validate_prometheus(a: AnalyzeArgs, url: String) -> Result<Config> {
    let range = duration("--range", &a.range)?.as_secs_f64();
    let step = duration("--step", &a.step)?.as_secs_f64();
    if range <= 0.0 || step <= 0.0 {
        bail!("--range and --step: must be more than 0");
    }
    Ok(Config::Prometheus {
        prom: PromConfig {
            url,
            query: a.file.to_string_lossy().into_owned(),
            range_s: range,
            token_file: a.bearer_token_file,
            end: None,
            step_s: step,
            detector: detector_config(&a.judging)?,
        },
        format: format(a.out.format),
        fail_on_leak: a.out.fail_on_leak,
    })
}

fn validate_analyze(a: AnalyzeArgs) -> Result<Config> {
    if let Some(url) = a.prometheus.clone() {
        return validate_prometheus(a, url);
    }
    let (column, judge) = match a.judge.as_deref().map(parse_judge).transpose()? {
        None => (a.read.column, None),
        Some(None) => (None, Some(Judge::Any)),
        Some(Some(m)) => (Some(m.column().to_string()), None),
    };
    let judge = judge
        .unwrap_or_else(|| Judge::Column(column.clone().unwrap_or_else(|| "rss_bytes".into())));
    Ok(Config::Analyze {
        analyze: AnalyzeConfig {
            path: a.file,
            read: ReadOptions {
                column,
                interval_s: interval(&a.read.interval)?.as_secs_f64(),
            },
            detector: detector_config(&a.judging)?,
            judge,
            limit: limit(&a.limit)?,
        },
        format: format(a.out.format),
        fail_on_leak: a.out.fail_on_leak,
    })
}

fn target(w: &mut WatchArgs) -> Result<Target> {
    let command = std::mem::take(&mut w.command);
    if let Some(c) = w.cgroup.take() {
        if w.pid.is_some() || w.name.is_some() || !command.is_empty() || w.replay.is_some() {
            bail!("give only one of --pid, --name, --cgroup, --replay and a command after `--`");
        }
        return Ok(Target::Cgroup(c));
    }
    Ok(
        match (w.pid, w.name.take(), command.is_empty(), w.replay.take()) {
            (Some(p), None, true, None) => Target::Pid(p),
            (None, Some(n), true, None) if n.trim().is_empty() => bail!(
                "--name: the pattern is empty; give part of the process's name or command line"
            ),
            (None, Some(n), true, None) => Target::Name(n),
            (None, None, false, None) => Target::Command(command),
            (None, None, true, Some(r)) => Target::Replay(r),
            (None, None, true, None) => bail!(
                "nothing to watch: give --pid PID, --name PATTERN, --cgroup PATH, or a command \
                 after `--`; or `leakwatch scan` for every process, `leakwatch analyze FILE` \
                 for a log (see --help)"
            ),
            _ => {
                bail!("give only one of --pid, --name, --cgroup, --replay and a command after `--`")
            }
        },
    )
}

fn validate_watch(mut w: WatchArgs) -> Result<Config> {
    let target = target(&mut w)?;
    let duration = match &w.duration {
        Some(d) => {
            let d = duration("--duration", d)?;
            if d.is_zero() {
                bail!("--duration: must be more than 0");
            }
            Some(d)
        }
        None => None,
    };
    if w.follow && !matches!(target, Target::Name(_) | Target::Cgroup(_)) {
        bail!("--follow: give it with --name PATTERN or --cgroup PATH, whose target can restart");
    }
    let cgroup = matches!(target, Target::Cgroup(_));
    let (sampled, judged) = watch_metrics(&w.metrics, &w.judge, cgroup)?;
    Ok(Config::Watch(WatchConfig {
        target,
        children: w.children,
        follow: w.follow,
        interval: interval(&w.interval)?,
        duration,
        samples: w.samples,
        output: w.output,
        format: format(w.out.format),
        quiet: w.quiet,
        fail_on_leak: w.out.fail_on_leak,
        detector: detector_config(&w.judge_opts)?,
        metrics: sampled,
        judge: judged.map_or(Judge::Any, Judge::metric),
        limit: limit(&w.limit)?,
        listen: w.listen,
        textfile: w.textfile,
    }))
}

/// The metrics to sample and the one to judge (`None`: any), for a process
/// or (`cgroup`) a cgroup, which has rss (its anonymous memory) and usage.
fn watch_metrics(list: &str, judge: &str, cgroup: bool) -> Result<(Vec<Metric>, Option<Metric>)> {
    let mut sampled = parse_metrics(list)?;
    let judged = parse_judge(judge)?;
    if judged == Some(Metric::Usage) && !cgroup {
        bail!("--judge usage: only a cgroup has it; give --cgroup PATH, or judge another metric");
    }
    if let Some(m) = judged
        && !sampled.contains(&m)
    {
        // Judging a metric means sampling it.
        sampled.push(m);
        sampled.sort();
    }
    if cgroup {
        if let Some(m) = sampled
            .iter()
            .find(|m| !matches!(m, Metric::Rss | Metric::Vsz | Metric::Usage))
        {
            bail!(
                "--metrics {}: a cgroup has only rss (its anonymous memory) and usage",
                m.name()
            );
        }
        if judged == Some(Metric::Vsz) {
            bail!("--judge vsz: a cgroup has no virtual size; judge rss, usage or any");
        }
        // A cgroup has no virtual size: its log's vsz_bytes column stays 0.
        let mut m = vec![Metric::Rss, Metric::Usage];
        m.sort();
        return Ok((m, judged));
    }
    if sampled.contains(&Metric::Usage) {
        bail!("--metrics usage: only a cgroup has it; give --cgroup PATH, or leave usage out");
    }
    Ok((sampled, judged))
}

/// An error as the user should read it: the library's message, with the
/// flag that leads to it named where one does.
pub fn explain(e: &anyhow::Error) -> String {
    if let Some(se) = e.downcast_ref::<SampleError>()
        && let Some(m) = se.metric()
    {
        let n = m.name();
        return match se {
            SampleError::Unsupported { .. } => {
                format!("--metrics {n}: only available on Linux; leave it out of --metrics")
            }
            _ => format!("--metrics {n}: {e:#}, or leave {n} out of --metrics"),
        };
    }
    if let Some(w) = e.downcast_ref::<crate::plot::WouldOverwrite>()
        && !w.is_input
    {
        return format!("{e:#}, or give --force to overwrite it");
    }
    if e.downcast_ref::<MissingColumn>().is_some() {
        return format!("{e:#}; choose one with --column");
    }
    format!("{e:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DEFAULT_MIN_RATE;

    fn p(args: &[&str]) -> Result<Config, CliError> {
        parse(std::iter::once("leakwatch").chain(args.iter().copied()))
    }

    #[test]
    fn watch_pid() {
        let Ok(Config::Watch(w)) = p(&["--pid", "42", "-i", "500ms", "-o", "x.csv"]) else {
            panic!()
        };
        assert_eq!(w.target, Target::Pid(42));
        assert_eq!(w.interval, Duration::from_millis(500));
        assert_eq!(w.detector.min_rate, DEFAULT_MIN_RATE);
    }

    #[test]
    fn command_after_dashes() {
        let Ok(Config::Watch(w)) = p(&["-d", "5s", "--", "sleep", "10"]) else {
            panic!()
        };
        assert_eq!(w.target, Target::Command(vec!["sleep".into(), "10".into()]));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(matches!(
            p(&["--pid", "1", "-i", "0ms"]),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(
            p(&["--pid", "1", "-i", "soon"]),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(
            p(&["--pid", "1", "--min-rate", "5"]),
            Err(CliError::Invalid(_))
        ));
        assert!(matches!(p(&[]), Err(CliError::Invalid(_))));
        assert!(matches!(p(&["--pid", "x"]), Err(CliError::Clap(_))));
    }

    #[test]
    fn analyze_options() {
        let Ok(Config::Analyze {
            analyze,
            format,
            fail_on_leak,
        }) = p(&[
            "analyze",
            "-",
            "--column",
            "vsz_bytes",
            "--warmup",
            "90s",
            "--format",
            "json",
            "--fail-on-leak",
        ])
        else {
            panic!()
        };
        assert_eq!(analyze.read.column.as_deref(), Some("vsz_bytes"));
        assert_eq!(analyze.detector.warmup, Some(90.0));
        assert_eq!(format, Format::Json);
        assert!(fail_on_leak);
    }
}
