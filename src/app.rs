//! The one place that prints reports and picks the exit code: it runs a
//! validated [`Config`] and turns the outcome into output.

use crate::cli::{self, CliError, Config};
use crate::exit_codes::ExitCode;
use crate::judging::Judged;
use crate::report::{ColorChoice, Format, Report, verdict_word};
use crate::units::Quantity;
use crate::watch::{self, LimitSource, WatchConfig};
use anyhow::Result;
use std::io::Write;

/// Runs leakwatch with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    match cli::parse_invocation(std::env::args_os()) {
        Ok(inv) => run(&inv.config, inv.color),
        Err(CliError::Clap(e)) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::Error
            } else {
                ExitCode::Success
            }
        }
        Err(CliError::Invalid(e)) => fail(&e),
    }
}

/// Runs a validated configuration, printing what it finds.
pub fn run(cfg: &Config, color: ColorChoice) -> ExitCode {
    let res = match cfg {
        Config::Watch(w) => run_watch(w, color),
        Config::Analyze {
            analyze,
            format,
            fail_on_leak,
        } => run_analyze(analyze, *format, *fail_on_leak, color),
        Config::Plot(p) => run_plot(p, color),
        Config::Prometheus {
            prom,
            format,
            fail_on_leak,
        } => run_prometheus(prom, *format, *fail_on_leak, color),
        Config::Repeat {
            repeat,
            format,
            fail_on_leak,
        } => run_repeat(repeat, *format, *fail_on_leak, color),
        Config::Scan {
            scan,
            format,
            fail_on_leak,
        } => run_scan(scan, *format, *fail_on_leak, color),
        Config::Completions(shell) => print_bytes(&cli::completions(*shell)),
        Config::Man => cli::man_page().and_then(|m| print_bytes(&m)),
    };
    res.unwrap_or_else(|e| fail(&e))
}

/// Prints `e` as one error line; exit code 2.
fn fail(e: &anyhow::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "leakwatch: {}", cli::explain(e));
    ExitCode::Error
}

fn warn(warnings: &[String]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(err, "leakwatch: warning: {w}");
    }
}

/// Writes `text` to stdout (or stderr). A reader that went away (`| head`)
/// has what it wanted: that is no error; any other failure is.
fn emit(text: &str, to_stderr: bool) -> Result<()> {
    let res = if to_stderr {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush())
    };
    match res {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write the report"))
        }
        _ => Ok(()),
    }
}

/// Prints generated text (a completion script, the man page) to stdout.
fn print_bytes(b: &[u8]) -> Result<ExitCode> {
    emit(&String::from_utf8_lossy(b), false)?;
    Ok(ExitCode::Success)
}

/// The report on `judged`, with the limit's source named as the user gave it.
fn report(
    judged: &[Judged],
    judge: &crate::judging::Judge,
    min_rate: f64,
    limit: Option<(f64, LimitSource)>,
) -> (Report, crate::detector::VerdictKind) {
    let limit = limit.map(|(l, src)| {
        let name = match src {
            LimitSource::Given => "--limit".to_string(),
            LimitSource::Cgroup(file) => format!("cgroup {file}"),
        };
        (l, name)
    });
    Report::from_judged(judged, judge, min_rate, limit)
}

/// Whether text for stdout (or stderr) gets colour.
fn colored(choice: ColorChoice, to_stderr: bool) -> bool {
    use std::io::IsTerminal;
    let tty = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    choice.enabled(tty)
}

fn run_watch(cfg: &WatchConfig, color: ColorChoice) -> Result<ExitCode> {
    let out = watch::run(cfg)?;
    warn(&out.warnings);
    let (mut r, kind) = report(&out.judged, &out.judge, cfg.detector.min_rate, out.limit);
    r.pid = out.pid.map(u64::from);
    r.source = cfg
        .output
        .as_ref()
        .filter(|p| p.as_os_str() != "-")
        .map(|p| p.display().to_string());
    r.set_aside = out.set_aside;
    r.ended_by = Some(out.ended_by);
    r.target_exit = out.target_exit;
    r.next_step = out.next_step;
    r.warnings = out.warnings;
    r.restarts = out.restarts;
    r.cgroup = out.cgroup;
    let to_stderr = cfg.log_to_stdout();
    emit(
        &r.render_colored(cfg.format, colored(color, to_stderr)),
        to_stderr,
    )?;
    match out.error {
        Some(e) => Err(e),
        None => Ok(ExitCode::for_verdict(kind, cfg.fail_on_leak)),
    }
}

fn run_analyze(
    cfg: &crate::analyze::AnalyzeConfig,
    format: Format,
    fail_on_leak: bool,
    color: ColorChoice,
) -> Result<ExitCode> {
    let a = crate::analyze::analyze(cfg)?;
    warn(&a.warnings);
    let limit = cfg.limit.map(|l| (l, LimitSource::Given));
    let (mut r, kind) = report(&a.judged, &a.judge, cfg.detector.min_rate, limit);
    r.source = Some(a.source.clone());
    r.pid = a.pid;
    r.set_aside = a.set_aside.clone();
    r.warnings = a.warnings.clone();
    emit(&r.render_colored(format, colored(color, false)), false)?;
    Ok(ExitCode::for_verdict(kind, fail_on_leak))
}

fn run_prometheus(
    cfg: &crate::prometheus::PromConfig,
    format: Format,
    fail_on_leak: bool,
    color: ColorChoice,
) -> Result<ExitCode> {
    let all = crate::prometheus::judge(cfg)?;
    let r = crate::report::prom::FleetReport::new(
        &all,
        &cfg.query,
        &cfg.url,
        cfg.range_s,
        cfg.detector.min_rate,
    );
    emit(&r.render(format, colored(color, false)), false)?;
    Ok(ExitCode::for_verdict(r.verdict, fail_on_leak))
}

fn run_repeat(
    cfg: &crate::repeat::RepeatConfig,
    format: Format,
    fail_on_leak: bool,
    color: ColorChoice,
) -> Result<ExitCode> {
    let out = crate::repeat::run(cfg)?;
    let r = crate::report::repeat::RepeatReport::new(&out, cfg.max_per_run);
    emit(&r.render(format, colored(color, false)), false)?;
    match out.error {
        Some(e) => Err(e),
        None => Ok(ExitCode::for_verdict(r.verdict, fail_on_leak)),
    }
}

fn run_scan(
    cfg: &crate::scan::ScanConfig,
    format: Format,
    fail_on_leak: bool,
    color: ColorChoice,
) -> Result<ExitCode> {
    let out = crate::scan::run(cfg)?;
    let r = crate::report::scan::ScanReport::new(
        &out,
        &cfg.judge,
        cfg.detector.min_rate,
        cfg.interval.as_secs_f64(),
    );
    warn(&r.warnings);
    use std::io::IsTerminal;
    let width = std::io::stdout()
        .is_terminal()
        .then(|| crate::scan::table::terminal_size().0);
    emit(&r.render(format, colored(color, false), width), false)?;
    Ok(ExitCode::for_verdict(r.verdict, fail_on_leak))
}

fn run_plot(cfg: &crate::plot::PlotConfig, color: ColorChoice) -> Result<ExitCode> {
    let a = crate::plot::plot(cfg)?;
    warn(&a.warnings);
    let q = Quantity::of(!a.counts);
    emit(
        &format!(
            "{}: {} ({}), written to {}\n",
            verdict_word(a.verdict.kind, colored(color, false)),
            crate::report::rate_text(&a.verdict, q),
            crate::report::reason(&a.verdict, q),
            cfg.output.display()
        ),
        false,
    )?;
    Ok(ExitCode::Success)
}
