//! The command line as clap sees it: the subcommands and the flag groups
//! they share (timing, judging, showing the report, exporting, the target),
//! each declared once. Values are parsed into types by [`super::values`].

use super::values::{self, JudgedMetric, MetricList};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub(super) const AFTER_HELP: &str = "\
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
  leakwatch fleet --prometheus http://prom:9090 'process_resident_memory_bytes' \\
      --by version --listen 127.0.0.1:9466   (judge stored series every 5m)

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
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Option<Sub>,
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Colour the verdict: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(super) enum Sub {
    /// Judge a CSV log (or the article's `ps | awk` log) offline.
    Analyze(AnalyzeArgs),
    /// Render a log as an SVG chart with the verdict.
    Plot(PlotArgs),
    /// Watch every process (or those selected), or every cgroup, at once: which
    /// one here is still growing?
    Scan(ScanArgs),
    /// Run a command N times against a target: the bytes each run leaves
    /// behind, and whether memory comes back afterwards.
    Repeat(RepeatArgs),
    /// Judge every series a Prometheus query returns, again and again (every
    /// --every), and expose the verdicts for Prometheus to scrape and alert on.
    Fleet(FleetArgs),
    /// Print a shell completion script (install: see the README).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `leakwatch man > leakwatch.1`, `leakwatch man scan`.
    Man {
        /// The subcommand whose page to print (analyze, plot, scan, repeat,
        /// fleet, completions, man) [default: leakwatch's own]
        page: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(super) enum FormatArg {
    Text,
    Json,
}

/// Time between samples.
#[derive(Debug, Args)]
pub(super) struct IntervalArg {
    /// Time between samples (down to 1ms)
    #[arg(short, long, value_name = "DURATION", default_value = "1s", allow_hyphen_values = true, value_parser = values::interval)]
    pub interval: Duration,
}

/// How long to watch.
#[derive(Debug, Args)]
pub(super) struct DurationArg {
    /// Stop after this long
    #[arg(short, long, value_name = "DURATION", allow_hyphen_values = true, value_parser = values::positive_duration)]
    pub duration: Option<Duration>,
}

/// How the detector judges.
#[derive(Debug, Args)]
pub(super) struct JudgeArgs {
    /// Time set aside at the start (e.g. 90s, 5m) [default: decided by the detector]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = values::duration)]
    pub warmup: Option<Duration>,
    /// Growth slower than this is a plateau (e.g. 1MiB/h, 10KB/s, 512KiB/min)
    #[arg(long, value_name = "RATE", default_value = "1MiB/h", allow_hyphen_values = true, value_parser = values::rate)]
    pub min_rate: f64,
}

/// What to sample, and which of it decides.
#[derive(Debug, Args)]
pub(super) struct MetricArgs {
    /// What to sample and log, from rss,vsz,pss,uss,swap,fds,threads (rss and vsz
    /// always). CPU per sample on Linux: rss,vsz 1 µs (statm); threads +3 µs (stat);
    /// fds +7 µs (lists /proc/PID/fd); pss,uss,swap +25 µs for a small process and
    /// about +10 µs per MiB resident (smaps_rollup walks the page tables)
    #[arg(long, value_name = "LIST", default_value = "rss,vsz", value_parser = values::metric_list)]
    pub metrics: MetricList,
    /// The metric behind the exit code: rss, vsz, pss, uss, swap, fds, threads, or
    /// any (fail on any metric that leaks); pss is the honest choice for forking servers
    #[arg(long, value_name = "METRIC", default_value = "rss", value_parser = values::judged)]
    pub judge: JudgedMetric,
}

/// How the report is shown and what it means for the exit code.
#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// Format of the verdict
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Exit 1 when leaking and 3 when inconclusive
    #[arg(long)]
    pub fail_on_leak: bool,
}

/// The verdicts for Prometheus.
#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// Serve the verdicts for Prometheus on ADDR (HOST:PORT, e.g. 127.0.0.1:9464), at /metrics
    #[arg(long, value_name = "ADDR", value_parser = values::address)]
    pub listen: Option<SocketAddr>,
    /// Write the verdicts for node_exporter's textfile collector to PATH (a *.prom
    /// file), atomically, once a second
    #[arg(long, value_name = "PATH", value_parser = values::textfile)]
    pub textfile: Option<PathBuf>,
}

/// A running target: a process, a tree, a name, a cgroup.
#[derive(Debug, Args)]
pub(super) struct TargetArgs {
    /// Watch this process
    #[arg(short, long, value_name = "PID", conflicts_with = "name", allow_hyphen_values = true, value_parser = values::pid)]
    pub pid: Option<u32>,
    /// Watch the one process whose name or command line contains PATTERN
    #[arg(long, value_name = "PATTERN", value_parser = values::pattern)]
    pub name: Option<String>,
    /// Watch a cgroup (a container, a service): a cgroupfs directory, or a path as
    /// /proc/PID/cgroup shows it. Judges its anonymous memory (as rss); logs its use
    /// with page cache as usage
    #[arg(long, value_name = "PATH", conflicts_with_all = ["pid", "name", "children"])]
    pub cgroup: Option<PathBuf>,
    /// Sum every metric over the process and all its descendants (shared pages
    /// count once per process in RSS; PSS divides them)
    #[arg(long)]
    pub children: bool,
}

/// A memory limit.
#[derive(Debug, Args)]
pub(super) struct LimitArg {
    /// A memory limit (e.g. 2GiB): say when the floor will reach it [default:
    /// the target's cgroup memory.max or memory.limit_in_bytes, if set]
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = values::positive_size)]
    pub limit: Option<f64>,
}

#[derive(Debug, Args)]
pub(super) struct WatchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// With --name or --cgroup: when the target is gone, go on with the next match
    /// (or the cgroup's next process) as a new run; the verdict judges the current run
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub interval: IntervalArg,
    #[command(flatten)]
    pub duration: DurationArg,
    /// Stop after this many samples
    #[arg(short = 'n', long, value_name = "N", allow_hyphen_values = true, value_parser = values::count)]
    pub samples: Option<u64>,
    /// Append samples to this CSV log (`-` for standard output)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No progress on stderr
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub judging: JudgeArgs,
    #[command(flatten)]
    pub show: ShowArgs,
    #[command(flatten)]
    pub metrics: MetricArgs,
    #[command(flatten)]
    pub limit: LimitArg,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Feed a log's samples through the live watch on a simulated clock, as
    /// fast as it reads (to try settings on a recording; its columns are the metrics)
    #[arg(long, value_name = "LOG", conflicts_with_all = ["pid", "name", "cgroup", "children", "metrics"])]
    pub replay: Option<PathBuf>,
    /// A command to start and watch (after `--`)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// How a Prometheus server's series are read, for analyze and fleet.
#[derive(Debug, Args)]
pub(super) struct PromReadArgs {
    /// With --prometheus: how much history to read
    #[arg(long, value_name = "DURATION", default_value = "6h", allow_hyphen_values = true, value_parser = values::positive_duration)]
    pub range: Duration,
    /// With --prometheus and an expression that is not a plain selector: its
    /// resolution (no coarser than the scrape interval; 1s or more)
    #[arg(long, value_name = "DURATION", default_value = "15s", allow_hyphen_values = true, value_parser = values::step)]
    pub step: Duration,
    /// With --prometheus: a file holding a bearer token for the server
    #[arg(long, value_name = "FILE")]
    pub bearer_token_file: Option<PathBuf>,
    /// With --prometheus: judge at most N series; more is an error
    #[arg(long, value_name = "N", default_value_t = crate::prometheus::query::DEFAULT_MAX_SERIES as u64, allow_hyphen_values = true, value_parser = values::count)]
    pub max_series: u64,
    /// With --prometheus: the most one read of every series may take
    #[arg(long, value_name = "DURATION", default_value = "5m", allow_hyphen_values = true, value_parser = values::positive_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("max_series", |a| a.requires("prometheus")),
    mut_arg("timeout", |a| a.requires("prometheus"))
)]
pub(super) struct AnalyzeArgs {
    /// The log (`-` for standard input); with --prometheus, the PromQL query
    /// whose series to judge (e.g. 'process_resident_memory_bytes{job="api"}')
    #[arg(value_name = "FILE|QUERY")]
    pub file: PathBuf,
    /// Judge every series that QUERY returns from this Prometheus-compatible
    /// server (e.g. http://127.0.0.1:9090), over --range
    #[arg(long, value_name = "URL", conflicts_with_all = ["column", "judge", "limit"], value_parser = values::url)]
    pub prometheus: Option<String>,
    #[command(flatten)]
    pub prom: PromReadArgs,
    /// With --prometheus: group the series by this label's values (repeat for
    /// several), each group with its counts, median rate and verdict
    #[arg(long, value_name = "LABEL", value_parser = values::label_name)]
    pub by: Vec<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// The metric behind the exit code (like --column), or any: fail on any
    /// metric column that leaks
    #[arg(long, value_name = "METRIC", conflicts_with = "column", value_parser = values::judged)]
    pub judge: Option<JudgedMetric>,
    #[command(flatten)]
    pub limit: LimitArg,
    #[command(flatten)]
    pub judging: JudgeArgs,
    #[command(flatten)]
    pub show: ShowArgs,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("range", |a| a.help("How much history each pass reads")),
    mut_arg("timeout", |a| a.help("The most one pass's read may take")),
    mut_arg("textfile", |a| a.help("Write the verdicts for node_exporter's textfile collector to PATH (a *.prom file), atomically, after each pass")),
)]
pub(super) struct FleetArgs {
    /// The PromQL query whose series to judge (e.g.
    /// 'process_resident_memory_bytes{job="api"}')
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// The Prometheus-compatible server to read from (e.g. http://127.0.0.1:9090)
    #[arg(long, value_name = "URL", value_parser = values::url)]
    pub prometheus: Option<String>,
    #[command(flatten)]
    pub prom: PromReadArgs,
    /// Time from the start of one pass to the start of the next
    #[arg(long, value_name = "DURATION", default_value = "5m", allow_hyphen_values = true, value_parser = values::positive_duration)]
    pub every: Duration,
    /// Group the series by this label's values (repeat for several): each
    /// group's counts, rate quantiles and verdict are exposed too
    #[arg(long, value_name = "LABEL", value_parser = values::label_name)]
    pub by: Vec<String>,
    /// A memory limit for every series (e.g. 2GiB): expose the time until
    /// each floor reaches it
    #[arg(long, value_name = "SIZE", conflicts_with = "limit_query", allow_hyphen_values = true, value_parser = values::positive_size)]
    pub limit: Option<f64>,
    /// A PromQL query whose series are limits, bytes: each applies to the
    /// series whose labels include all of its own (the most specific wins)
    #[arg(long, value_name = "QUERY")]
    pub limit_query: Option<String>,
    #[command(flatten)]
    pub judging: JudgeArgs,
    #[command(flatten)]
    pub export: ExportArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("interval", |a| a.default_value("100ms").help("Time between samples while a run goes on")))]
pub(super) struct RepeatArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Start this command (run by `sh -c`, in a process group of its own) as the
    /// target, with all it starts; it is ended after the cool-down
    #[arg(long, value_name = "CMD", conflicts_with_all = ["pid", "name", "cgroup"])]
    pub start: Option<String>,
    /// With --start: how long the started target is given before the first sample
    #[arg(long, value_name = "DURATION", default_value = "1s", requires = "start", value_parser = values::duration)]
    pub start_wait: Duration,
    /// How many times to run the command (at least 10: fewer cannot tell a leak from noise)
    #[arg(short = 'n', long, value_name = "N", allow_hyphen_values = true, value_parser = values::count)]
    pub runs: u64,
    /// Growth per run below which it is a plateau
    #[arg(long, value_name = "SIZE", default_value = "4KiB", allow_hyphen_values = true, value_parser = values::size)]
    pub max_per_run: f64,
    /// Watch after the last run for memory to come back [default: 3s, or 3 x the
    /// mean run, the longer]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = values::duration)]
    pub cooldown: Option<Duration>,
    #[command(flatten)]
    pub interval: IntervalArg,
    /// What to sample, as for a watch (fds: a socket leak is +1.0 fds per run)
    #[arg(long, value_name = "LIST", default_value = "rss,vsz", value_parser = values::metric_list)]
    pub metrics: MetricList,
    /// Append every sample to a CSV log with a `run` column
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub show: ShowArgs,
    /// The command to run each time (after `--`)
    #[arg(last = true, value_name = "CMD", required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct ScanArgs {
    /// Only processes whose name or command line contains PATTERN
    #[arg(long, value_name = "PATTERN", value_parser = values::pattern)]
    pub name: Option<String>,
    /// Only processes of USER (a name or a user ID)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only the descendants of PID
    #[arg(long, value_name = "PID", allow_hyphen_values = true, value_parser = values::pid)]
    pub children_of: Option<u32>,
    /// Watch every leaf cgroup holding processes (containers, services) below ROOT
    /// [default ROOT: the memory hierarchy's root]
    #[arg(long, value_name = "ROOT", num_args = 0..=1, conflicts_with_all = ["name", "user", "children_of"])]
    pub cgroups: Option<Option<PathBuf>>,
    #[command(flatten)]
    pub interval: IntervalArg,
    #[command(flatten)]
    pub duration: DurationArg,
    /// Write one CSV log per target into DIR (for analyze and plot)
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// No live table on the terminal: only the report at the end
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub metrics: MetricArgs,
    #[command(flatten)]
    pub judging: JudgeArgs,
    #[command(flatten)]
    pub show: ShowArgs,
    #[command(flatten)]
    pub export: ExportArgs,
    /// Export the series of at most N targets at once (--listen, --textfile);
    /// the rest are counted in a warning
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_targets: u64,
}

/// How to read a log, for analyze and plot.
#[derive(Debug, Args)]
#[command(mut_arg("interval", |a| a.help("Spacing of samples in a shell-loop log (which has no times)")))]
pub(super) struct ReadArgs {
    /// The column to judge (and plot) [default: rss_bytes]
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    #[command(flatten)]
    pub interval: IntervalArg,
}

#[derive(Debug, Args)]
pub(super) struct PlotArgs {
    /// The log (`-` for standard input)
    pub file: PathBuf,
    /// The SVG file to write
    #[arg(short, long, value_name = "OUT.svg")]
    pub output: PathBuf,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Write over an existing output that is not an SVG
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub judging: JudgeArgs,
}
