//! The command line: clap types ([`args`]) parsed into typed values
//! ([`values`]) and validated into plain configs. No other module sees
//! clap, and flag names appear only here: [`explain`] adds them to the
//! library's errors. Nothing here looks at the terminal.

mod args;
pub mod values;

use crate::analyze::AnalyzeConfig;
use crate::detector::DetectorConfig;
use crate::discovery::procs::ProcSelect;
use crate::judging::Judge;
use crate::log::ReadOptions;
use crate::log::reader::MissingColumn;
use crate::metrics::Metric;
use crate::plot::PlotConfig;
use crate::prometheus::fleet::{FleetConfig, Limit};
use crate::prometheus::query::PromConfig;
use crate::repeat::RepeatConfig;
use crate::report::{ColorChoice, Format};
use crate::sampler::SampleError;
use crate::scan::{ScanConfig, Scope};
use crate::units::quoted;
use crate::watch::{Target, WatchConfig};
use anyhow::{Result, bail};
use args::{
    AnalyzeArgs, Cli, ColorArg, ExportArgs, FleetArgs, FormatArg, JudgeArgs, PromReadArgs,
    RepeatArgs, ScanArgs, ShowArgs, Sub, TargetArgs, WatchArgs,
};
use clap::{CommandFactory, Parser};
use std::net::SocketAddr;
use std::path::PathBuf;

/// How a report is shown, and what its verdict means for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Show {
    /// Text or JSON.
    pub format: Format,
    /// Exit 1 on `leaking`, 3 on `inconclusive`.
    pub fail_on_leak: bool,
    /// No progress or live table while it runs.
    pub quiet: bool,
}

/// The verdicts for Prometheus: served, written, or neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Export {
    /// Serve `/metrics` on this address.
    pub listen: Option<SocketAddr>,
    /// Write the exposition to this file, atomically.
    pub textfile: Option<PathBuf>,
}

/// What to run, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Config {
    /// A live watch.
    Watch {
        /// What to watch and how.
        watch: WatchConfig,
        /// How to show it.
        show: Show,
        /// Where its verdicts go for Prometheus.
        export: Export,
    },
    /// `analyze`.
    Analyze {
        /// What to read and how to judge it.
        analyze: AnalyzeConfig,
        /// How to show it.
        show: Show,
    },
    /// `plot`.
    Plot(PlotConfig),
    /// `analyze --prometheus`.
    Prometheus {
        /// What to fetch and how to judge it.
        prom: PromConfig,
        /// Labels to group the series by (`--by`; none: no groups).
        by: Vec<String>,
        /// How to show it (exit 1/3 when any series leaks / is inconclusive).
        show: Show,
    },
    /// `scan`.
    Scan {
        /// What to scan and how.
        scan: ScanConfig,
        /// How to show it (exit 1 when any target leaks, 3 when one watched
        /// throughout is inconclusive).
        show: Show,
        /// Where to export every target's series, if anywhere.
        export: Export,
        /// The most targets exported at once.
        max_targets: usize,
    },
    /// `repeat`.
    Repeat {
        /// What to repeat against what.
        repeat: RepeatConfig,
        /// How to show it.
        show: Show,
    },
    /// `fleet`: judging a query's series every so often, exposed.
    Fleet {
        /// What to judge, how often, and the textfile, if any.
        fleet: FleetConfig,
        /// Where its verdicts go for Prometheus (one at least).
        export: Export,
    },
    /// Print a shell completion script.
    Completions(clap_complete::Shell),
    /// Print a man page: leakwatch's, or a subcommand's.
    Man(Option<String>),
}

/// A validated command line: what to run, and how to colour what it prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// What to run.
    pub config: Config,
    /// Whether to colour the verdict.
    pub color: ColorChoice,
}

/// Why the command line was not accepted.
#[derive(Debug)]
pub enum CliError {
    /// clap's own error, help or version text.
    Clap(clap::Error),
    /// A value that parsed but is not valid.
    Invalid(anyhow::Error),
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

/// Parses and validates command-line arguments into an [`Invocation`].
pub fn parse_invocation<I, T>(args: I) -> Result<Invocation, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = Cli::try_parse_from(&args).map_err(|e| CliError::Clap(mistyped(e, &args)))?;
    let color = match cli.color {
        ColorArg::Auto => ColorChoice::Auto,
        ColorArg::Always => ColorChoice::Always,
        ColorArg::Never => ColorChoice::Never,
    };
    let config = validate(cli).map_err(CliError::Invalid)?;
    Ok(Invocation { config, color })
}

/// A mistyped subcommand (`leakwatch anaylze x.csv`), which clap takes for
/// an unexpected argument (the watch's `-- CMD` takes positionals): clap's
/// own "unrecognized subcommand" error with the one it resembles, as clap
/// suggests for a flag. Any other error as it is.
fn mistyped(e: clap::Error, args: &[std::ffi::OsString]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let Some(first) = args.get(1).and_then(|a| a.to_str()) else {
        return e;
    };
    let about_first = matches!(
        e.get(ContextKind::InvalidArg),
        Some(ContextValue::String(a)) if a == first
    );
    if e.kind() != ErrorKind::UnknownArgument || !about_first {
        return e;
    }
    let mut cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let best = names
        .iter()
        .map(|n| (strsim::jaro(first, n), n))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let Some((_, name)) = best else {
        // A command without `--` before it.
        let mut e = e;
        let tip =
            format!("to start {first} and watch it, put it after '--': 'leakwatch -- {first} ...'");
        e.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
        return e;
    };
    let usage = cmd.render_usage();
    let mut err = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&cmd);
    err.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(first.to_string()),
    );
    err.insert(
        ContextKind::SuggestedSubcommand,
        ContextValue::Strings(vec![name.clone()]),
    );
    err.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    err
}

/// A clap error about one value (`--interval 0s`) as one line,
/// `--interval: 0s is below the 1ms minimum`; `None` for other errors
/// (usage, help), which clap prints itself.
pub fn value_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(e.kind(), ErrorKind::ValueValidation) {
        return None;
    }
    let arg = match e.get(ContextKind::InvalidArg)? {
        ContextValue::String(s) => s.split(' ').next().unwrap_or(s).to_string(),
        _ => return None,
    };
    let why = std::error::Error::source(e)?.to_string();
    Some(format!("{arg}: {why}"))
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "leakwatch", &mut out);
    out
}

/// The man page of leakwatch (`None`) or of one of its subcommands, in roff.
pub fn man_page(page: Option<&str>) -> Result<Vec<u8>> {
    let cmd = Cli::command();
    let cmd = match page {
        // Its SUBCOMMANDS name only pages that `leakwatch man PAGE` prints:
        // no leakwatch-help(1) (`leakwatch help scan` still works).
        None => cmd.disable_help_subcommand(true),
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            match cmd.find_subcommand(name) {
                Some(sub) => sub.clone().name(leak_name(name)),
                None => bail!(
                    "man: no page {}; choose one of {}",
                    quoted(name),
                    names.join(", ")
                ),
            }
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    out.extend_from_slice(MAN_TAIL.as_bytes());
    Ok(out)
}

/// The sections every page ends with: exit status and environment.
const MAN_TAIL: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success; without \fB\-\-fail\-on\-leak\fR, whatever the verdict.
.TP
\fB1\fR
With \fB\-\-fail\-on\-leak\fR: the verdict is \fIleaking\fR.
.TP
\fB2\fR
An error: bad input, a missing process, an unwritable log (one line on stderr).
.TP
\fB3\fR
With \fB\-\-fail\-on\-leak\fR: the verdict is \fIinconclusive\fR (watch longer, or set \fB\-\-min\-rate\fR).
.SH ENVIRONMENT
.TP
\fBNO_COLOR\fR
When set (to anything), the verdict is not coloured unless \fB\-\-color always\fR is given.
.SH "SEE ALSO"
\fBleakwatch\fR(1): \fBleakwatch man PAGE\fR prints the page of a subcommand (analyze, plot, scan, repeat, fleet, completions, man).
"#;

/// `leakwatch-NAME`, as a man page's name, for the life of the program
/// (clap names are static; a page is rendered once a run).
fn leak_name(name: &str) -> &'static str {
    Box::leak(format!("leakwatch-{name}").into_boxed_str())
}

fn validate(cli: Cli) -> Result<Config> {
    match cli.command {
        Some(Sub::Analyze(a)) => validate_analyze(a),
        Some(Sub::Plot(p)) => Ok(Config::Plot(PlotConfig {
            path: p.file,
            output: p.output,
            read: ReadOptions {
                column: p.read.column,
                interval_s: p.read.interval.interval.as_secs_f64(),
            },
            detector: detector_config(&p.judging),
            force: p.force,
        })),
        Some(Sub::Repeat(r)) => validate_repeat(r),
        Some(Sub::Scan(s)) => validate_scan(s),
        Some(Sub::Fleet(f)) => validate_fleet(f),
        Some(Sub::Completions { shell }) => Ok(Config::Completions(shell)),
        Some(Sub::Man { page }) => Ok(Config::Man(page)),
        None => validate_watch(cli.watch),
    }
}

fn detector_config(j: &JudgeArgs) -> DetectorConfig {
    DetectorConfig {
        warmup: j.warmup.map(|d| d.as_secs_f64()),
        min_rate: j.min_rate,
    }
}

fn show(s: &ShowArgs, quiet: bool) -> Show {
    Show {
        format: match s.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        },
        fail_on_leak: s.fail_on_leak,
        quiet,
    }
}

fn export(e: ExportArgs) -> Export {
    Export {
        listen: e.listen,
        textfile: e.textfile,
    }
}

fn validate_scan(a: ScanArgs) -> Result<Config> {
    let cgroups = a.cgroups.is_some();
    let scope = match a.cgroups {
        Some(root) => Scope::Cgroups(root),
        None => {
            let uid = match &a.user {
                Some(u) => Some(crate::sys::users::uid_of(u).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--user: no user {} on this machine; check the name with `id {}`",
                        quoted(u),
                        quoted(u)
                    )
                })?),
                None => None,
            };
            Scope::Processes(ProcSelect {
                name: a.name,
                uid,
                children_of: a.children_of,
            })
        }
    };
    let (metrics, judged) = watch_metrics(a.metrics.metrics.0, a.metrics.judge.0, cgroups)?;
    Ok(Config::Scan {
        scan: ScanConfig {
            scope,
            interval: a.interval.interval,
            duration: a.duration.duration,
            detector: detector_config(&a.judging),
            metrics,
            judge: judged.map_or(Judge::Any, Judge::metric),
            output_dir: a.output,
        },
        show: show(&a.show, a.quiet),
        max_targets: a.max_targets as usize,
        export: export(a.export),
    })
}

fn validate_repeat(r: RepeatArgs) -> Result<Config> {
    let target = match (r.start, running(&r.target)) {
        (Some(cmd), None) => Target::Command(vec!["sh".into(), "-c".into(), cmd]),
        (None, Some(t)) => t,
        _ => bail!(
            "repeat: give the target with --pid PID, --name PATTERN, --cgroup PATH or --start CMD"
        ),
    };
    let min = crate::detector::MIN_SAMPLES;
    if r.runs < min {
        bail!(
            "-n {}: repeat needs at least {min} runs to tell a leak from noise; give -n {min} or more",
            r.runs
        );
    }
    let metrics = r.metrics.0;
    if metrics.contains(&Metric::Usage) {
        bail!("--metrics usage: only a cgroup has it; leave usage out");
    }
    Ok(Config::Repeat {
        repeat: RepeatConfig {
            target,
            children: r.target.children,
            start_wait: r.start_wait,
            command: r.command,
            runs: r.runs,
            interval: r.interval.interval,
            cooldown: r.cooldown,
            max_per_run: r.max_per_run,
            metrics,
            output: r.output,
        },
        show: show(&r.show, false),
    })
}

/// What to read from `url` and how to judge it.
fn prom_config(url: String, query: String, r: PromReadArgs, j: &JudgeArgs) -> PromConfig {
    PromConfig {
        url,
        query,
        range_s: r.range.as_secs_f64(),
        token_file: r.bearer_token_file,
        end: None,
        step_s: r.step.as_secs_f64(),
        detector: detector_config(j),
        max_series: usize::try_from(r.max_series).unwrap_or(usize::MAX),
        timeout: r.timeout,
    }
}

/// `--by` labels, each once, in the order first given.
fn distinct_labels(by: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(by.len());
    for l in by {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

fn validate_prometheus(a: AnalyzeArgs, url: String) -> Result<Config> {
    let query = a.file.to_string_lossy().into_owned();
    Ok(Config::Prometheus {
        prom: prom_config(url, query, a.prom, &a.judging),
        by: distinct_labels(a.by),
        show: show(&a.show, false),
    })
}

fn validate_fleet(f: FleetArgs) -> Result<Config> {
    let Some(url) = f.prometheus else {
        bail!("fleet: give the server to read with --prometheus URL (e.g. http://127.0.0.1:9090)");
    };
    if f.export.listen.is_none() && f.export.textfile.is_none() {
        bail!(
            "fleet: give --listen ADDR (e.g. 127.0.0.1:9466) or --textfile PATH: its verdicts are for Prometheus to scrape"
        );
    }
    if f.query.trim().is_empty() {
        bail!("fleet: the query is empty; give the PromQL query whose series to judge");
    }
    let limit = match (f.limit, f.limit_query) {
        (Some(l), _) => Some(Limit::Fixed(l)),
        (None, Some(q)) => Some(Limit::Query(q)),
        (None, None) => None,
    };
    let export = export(f.export);
    Ok(Config::Fleet {
        fleet: FleetConfig {
            prom: prom_config(url, f.query, f.prom, &f.judging),
            every: f.every,
            by: distinct_labels(f.by),
            limit,
            textfile: export.textfile.clone(),
        },
        export,
    })
}

fn validate_analyze(a: AnalyzeArgs) -> Result<Config> {
    if let Some(url) = a.prometheus.clone() {
        return validate_prometheus(a, url);
    }
    if !a.by.is_empty() {
        bail!("--by: give it with --prometheus URL QUERY: it groups the series of a query");
    }
    let (column, judge) = match a.judge.map(|j| j.0) {
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
                interval_s: a.read.interval.interval.as_secs_f64(),
            },
            detector: detector_config(&a.judging),
            judge,
            limit: a.limit.limit,
        },
        show: show(&a.show, false),
    })
}

/// The running target the flags name, if they name one.
fn running(t: &TargetArgs) -> Option<Target> {
    match (t.pid, &t.name, &t.cgroup) {
        (Some(p), None, None) => Some(Target::Pid(p)),
        (None, Some(n), None) => Some(Target::Name(n.clone())),
        (None, None, Some(c)) => Some(Target::Cgroup(c.clone())),
        _ => None,
    }
}

fn target(w: &mut WatchArgs) -> Result<Target> {
    const ONE: &str = "give only one of --pid, --name, --cgroup, --replay and a command after `--`";
    let command = std::mem::take(&mut w.command);
    let t = &w.target;
    let given = [
        t.pid.is_some(),
        t.name.is_some(),
        t.cgroup.is_some(),
        !command.is_empty(),
        w.replay.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => bail!(
            "nothing to watch: give --pid PID, --name PATTERN, --cgroup PATH, or a command \
             after `--`; or `leakwatch scan` for every process, `leakwatch analyze FILE` \
             for a log (see --help)"
        ),
        1 => {}
        _ => bail!(ONE),
    }
    if !command.is_empty() {
        return Ok(Target::Command(command));
    }
    if let Some(r) = w.replay.take() {
        return Ok(Target::Replay(r));
    }
    running(t).ok_or_else(|| anyhow::anyhow!(ONE))
}

/// Refuses two of `files` (flag, path) that name the same file: one would
/// overwrite or feed on the other.
fn distinct(files: &[(&str, Option<&std::path::Path>)]) -> Result<()> {
    let given: Vec<(&str, &std::path::Path)> = files
        .iter()
        .filter_map(|(f, p)| p.map(|p| (*f, p)))
        .collect();
    for (i, (fa, a)) in given.iter().enumerate() {
        for (fb, b) in &given[i + 1..] {
            if crate::sys::files::same_file(a, b) {
                bail!(
                    "{fa} and {fb} name the same file ({}); give each its own file",
                    quoted(&a.display().to_string())
                );
            }
        }
    }
    Ok(())
}

fn validate_watch(mut w: WatchArgs) -> Result<Config> {
    let target = target(&mut w)?;
    // (A replay into its own log is refused where the replay opens it.)
    distinct(&[
        ("-o", w.output.as_deref().filter(|p| p.as_os_str() != "-")),
        ("--textfile", w.export.textfile.as_deref()),
    ])?;
    if w.follow && !matches!(target, Target::Name(_) | Target::Cgroup(_)) {
        bail!("--follow: give it with --name PATTERN or --cgroup PATH, whose target can restart");
    }
    let cgroup = matches!(target, Target::Cgroup(_));
    let (sampled, judged) = watch_metrics(w.metrics.metrics.0, w.metrics.judge.0, cgroup)?;
    Ok(Config::Watch {
        watch: WatchConfig {
            target,
            children: w.target.children,
            follow: w.follow,
            interval: w.interval.interval,
            duration: w.duration.duration,
            samples: w.samples,
            output: w.output,
            detector: detector_config(&w.judging),
            metrics: sampled,
            judge: judged.map_or(Judge::Any, Judge::metric),
            limit: w.limit.limit,
        },
        show: show(&w.show, w.quiet),
        export: export(w.export),
    })
}

/// The metrics to sample and the one to judge (`None`: any), for a process
/// or (`cgroup`) a cgroup, which has rss (its anonymous memory) and usage.
fn watch_metrics(
    mut sampled: Vec<Metric>,
    judged: Option<Metric>,
    cgroup: bool,
) -> Result<(Vec<Metric>, Option<Metric>)> {
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
        return Ok((vec![Metric::Rss, Metric::Usage], judged));
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
    use std::time::Duration;

    fn p(args: &[&str]) -> Result<Config, CliError> {
        parse(std::iter::once("leakwatch").chain(args.iter().copied()))
    }

    #[test]
    fn watch_pid() {
        let Ok(Config::Watch { watch: w, .. }) = p(&["--pid", "42", "-i", "500ms", "-o", "x.csv"])
        else {
            panic!()
        };
        assert_eq!(w.target, Target::Pid(42));
        assert_eq!(w.interval, Duration::from_millis(500));
        assert_eq!(w.detector.min_rate, DEFAULT_MIN_RATE);
    }

    #[test]
    fn command_after_dashes() {
        let Ok(Config::Watch { watch: w, .. }) = p(&["-d", "5s", "--", "sleep", "10"]) else {
            panic!()
        };
        assert_eq!(w.target, Target::Command(vec!["sleep".into(), "10".into()]));
    }

    #[test]
    fn bad_values_are_errors_naming_their_flag() {
        for (args, line) in [
            (
                &["--pid", "1", "-i", "0ms"][..],
                "--interval: 0ms is below the 1ms minimum",
            ),
            (
                &["--pid", "1", "-i", "soon"][..],
                "--interval: 'soon' is not a duration",
            ),
            (
                &["--pid", "1", "--min-rate", "5"][..],
                "--min-rate: '5' is not a rate",
            ),
            (&["--pid", "x"][..], "--pid: must be a process ID"),
        ] {
            let Err(CliError::Clap(e)) = p(args) else {
                panic!("{args:?}")
            };
            let got = value_error(&e).unwrap();
            assert!(got.starts_with(line), "{got}");
        }
        assert!(matches!(p(&[]), Err(CliError::Invalid(_))));
    }

    #[test]
    fn analyze_options() {
        let Ok(Config::Analyze { analyze, show }) = p(&[
            "analyze",
            "-",
            "--column",
            "vsz_bytes",
            "--warmup",
            "90s",
            "--format",
            "json",
            "--fail-on-leak",
        ]) else {
            panic!()
        };
        assert_eq!(analyze.read.column.as_deref(), Some("vsz_bytes"));
        assert_eq!(analyze.detector.warmup, Some(90.0));
        assert_eq!(show.format, Format::Json);
        assert!(show.fail_on_leak);
    }

    #[test]
    fn every_subcommand_has_a_man_page() {
        for page in [
            None,
            Some("scan"),
            Some("repeat"),
            Some("analyze"),
            Some("fleet"),
        ] {
            let roff = String::from_utf8(man_page(page).unwrap()).unwrap();
            assert!(roff.contains(".TH"), "{page:?}");
            assert!(roff.contains(".SH \"EXIT STATUS\"") && roff.contains(".SH ENVIRONMENT"));
            assert!(roff.contains("NO_COLOR"), "{page:?}");
        }
        // A subcommand's page has its own options.
        let scan = String::from_utf8(man_page(Some("scan")).unwrap()).unwrap();
        assert!(scan.contains("children\\-of"), "{scan}");
        // Every page the main page names exists, and no other.
        let main = String::from_utf8(man_page(None).unwrap()).unwrap();
        let named: Vec<&str> = main
            .lines()
            .filter_map(|l| l.strip_prefix("leakwatch\\-")?.strip_suffix("(1)"))
            .collect();
        let subs: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        assert_eq!(named, subs, "{main}");
        for page in named {
            assert!(man_page(Some(page)).is_ok(), "{page}");
        }
        assert!(man_page(Some("nope")).is_err());
    }
}
