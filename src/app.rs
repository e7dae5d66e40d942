//! The one place that prints reports and picks the exit code: it runs a
//! validated [`Config`], gives each mode the outputs it shows (a progress
//! line, a live table, an exporter), and turns the outcome into a report.

use crate::cli::{self, CliError, Config, Export, Show};
use crate::engine::Output;
use crate::exit_codes::ExitCode;
use crate::prometheus::exposition::Scrape;
use crate::prometheus::fleet::{Event as FleetEvent, FleetConfig};
use crate::prometheus::fleet_exposition::FleetExposition;
use crate::prometheus::{Exporter, Exposition};
use crate::report::live::{LiveTable, Progress};
use crate::report::repeat::RepeatReport;
use crate::report::scan::ScanReport;
use crate::report::{ColorChoice, Format, Render, Report, Style, verdict_word};
use crate::sys::process::Streams;
use crate::sys::procfs::ProcFs;
use crate::sys::signals::Signals;
use crate::sys::terminal::Stream;
use anyhow::Result;
use std::io::Write;
use std::sync::Arc;

/// Runs leakwatch with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    match cli::parse_invocation(std::env::args_os()) {
        Ok(inv) => run(&inv.config, inv.color),
        Err(CliError::Clap(e)) => match cli::value_error(&e) {
            Some(line) => fail(&anyhow::anyhow!(line)),
            None => {
                let _ = e.print();
                if e.use_stderr() {
                    ExitCode::Error
                } else {
                    ExitCode::Success
                }
            }
        },
        Err(CliError::Invalid(e)) => fail(&e),
    }
}

/// Runs a validated configuration, printing what it finds.
pub fn run(cfg: &Config, color: ColorChoice) -> ExitCode {
    let res = match cfg {
        Config::Watch {
            watch,
            show,
            export,
        } => run_watch(watch, *show, export, color),
        Config::Analyze { analyze, show } => crate::analyze::analyze(analyze)
            .and_then(|a| finish(&Report::from(&a), *show, color, Stream::Stdout, &a.warnings)),
        Config::Plot(p) => run_plot(p, color),
        Config::Prometheus { prom, by, show } => {
            crate::prometheus::query::judge(prom).and_then(|o| {
                let r = crate::prometheus::report::FleetReport::new(&o, by);
                finish(&r, *show, color, Stream::Stdout, &o.warnings)
            })
        }
        Config::Fleet { fleet, export } => run_fleet(fleet, export),
        Config::Repeat { repeat, show } => run_repeat(repeat, *show, color),
        Config::Scan {
            scan,
            show,
            export,
            max_targets,
        } => run_scan(scan, *show, export, *max_targets, color),
        Config::Completions(shell) => print_bytes(&cli::completions(*shell)),
        Config::Man(page) => cli::man_page(page.as_deref()).and_then(|m| print_bytes(&m)),
    };
    res.unwrap_or_else(|e| fail(&e))
}

/// Prints `e` as one error line; exit code 2.
fn fail(e: &anyhow::Error) -> ExitCode {
    let text = cli::explain(e);
    let line = match e.downcast_ref::<crate::units::Escaped>() {
        Some(_) => text,
        None => crate::units::escape_controls(&text),
    };
    let _ = writeln!(std::io::stderr(), "leakwatch: {line}");
    ExitCode::Error
}

fn warn(warnings: &[String]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let w = crate::units::escape_controls(w);
        let _ = writeln!(err, "leakwatch: warning: {w}");
    }
}

/// Writes `text` to `to`. A reader that went away (`| head`) has what it
/// wanted: that is no error; any other failure is.
fn emit(text: &str, to: Stream) -> Result<()> {
    let res = match to {
        Stream::Stderr => std::io::stderr().write_all(text.as_bytes()),
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|_| out.flush())
        }
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
    emit(&String::from_utf8_lossy(b), Stream::Stdout)?;
    Ok(ExitCode::Success)
}

/// How text going to `to` is drawn.
fn style(color: ColorChoice, to: Stream) -> Style {
    Style {
        color: color.enabled(to.is_terminal()),
        width: to.size().map(|(w, _)| w),
    }
}

/// Prints `warnings` and report `r` to `to`; the exit code for its verdict.
fn finish<R: Render>(
    r: &R,
    show: Show,
    color: ColorChoice,
    to: Stream,
    warnings: &[String],
) -> Result<ExitCode> {
    warn(warnings);
    emit(&r.render(show.format, &style(color, to)), to)?;
    Ok(ExitCode::for_verdict(r.verdict(), show.fail_on_leak))
}

/// The exporter for `export`, serving `/metrics` already if asked to.
fn exporter(export: &Export) -> Result<Option<Exporter>> {
    Ok(exposition(export)?.map(|expo| Exporter::new(expo, export.textfile.clone())))
}

/// The exposition to export to, serving it on `/metrics` if asked; `None`
/// when nothing is exported.
fn exposition(export: &Export) -> Result<Option<Arc<Exposition>>> {
    if export.listen.is_none() && export.textfile.is_none() {
        return Ok(None);
    }
    let expo = Arc::new(Exposition::new());
    if let Some(bound) = publish(export, &expo)? {
        serving(bound);
    }
    Ok(Some(expo))
}

/// Checks the textfile of `export`, if any, and serves `expo` on `/metrics`
/// if asked: the address bound.
fn publish<S: Scrape>(export: &Export, expo: &Arc<S>) -> Result<Option<std::net::SocketAddr>> {
    if let Some(p) = &export.textfile {
        crate::prometheus::textfile::check(p)?;
    }
    export
        .listen
        .map(|addr| crate::prometheus::listen::serve(addr, expo.clone()))
        .transpose()
}

/// Says where `/metrics` is served (and warns when beyond loopback).
fn serving(bound: std::net::SocketAddr) {
    let _ = writeln!(
        std::io::stderr(),
        "leakwatch: serving http://{bound}/metrics"
    );
    if let Some(w) = crate::prometheus::listen::exposure(bound) {
        warn(&[w]);
    }
}

/// `fleet`: passes until a signal, each one's verdicts exposed; what
/// happens said on stderr (a failure once, until a pass succeeds again).
fn run_fleet(cfg: &FleetConfig, export: &Export) -> Result<ExitCode> {
    let signals = Signals::install()?;
    let expo = Arc::new(FleetExposition::new());
    // Bound at once (a port in use is an error before any pass), said
    // after the first pass, so that a first pass that fails is one line.
    let bound = publish(export, &expo)?;
    let stop = signals.any();
    let every = crate::units::format_secs(cfg.every.as_secs_f64());
    crate::prometheus::fleet::run(cfg, &expo, &stop, &mut |e| match e {
        FleetEvent::First(p, warnings) => {
            warn(warnings);
            if let Some(b) = bound {
                serving(b);
            }
            let leaking = p
                .series
                .iter()
                .filter(|s| s.verdict.kind == crate::detector::VerdictKind::Leaking)
                .count();
            let _ = writeln!(
                std::io::stderr(),
                "leakwatch: fleet: {} series judged in {:.2} s, {leaking} leaking; judging again every {every}",
                p.series.len(),
                p.duration_s
            );
        }
        FleetEvent::Failed(err) => warn(&[format!(
            "fleet: a pass failed, the last good verdicts stay exposed (leakwatch_fleet_query_errors_total counts each failed pass): {}",
            cli::explain(err)
        )]),
        FleetEvent::Recovered(p, failed) => {
            let _ = writeln!(
                std::io::stderr(),
                "leakwatch: fleet: passes succeed again after {failed} failed; {} series judged",
                p.series.len()
            );
        }
    })?;
    Ok(ExitCode::Success)
}

fn run_watch(
    cfg: &crate::watch::WatchConfig,
    show: Show,
    export: &Export,
    color: ColorChoice,
) -> Result<ExitCode> {
    let signals = Signals::install()?;
    let proc = ProcFs::host();
    let to = if cfg.log_to_stdout() {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    // A started command may write to our stdout only when that is a
    // terminal showing the text verdict, never into a log or JSON.
    let keeps_stdout = to == Stream::Stdout && show.format == Format::Text && to.is_terminal();
    let env = crate::watch::Env {
        proc: &proc,
        streams: streams(keeps_stdout, show.quiet),
        signals: &signals,
    };
    let mut exp = exporter(export)?;
    let mut progress = (!show.quiet).then(|| Progress::new(cfg.duration.map(|d| d.as_secs_f64())));
    let mut extra: Vec<&mut dyn Output> = Vec::new();
    if let Some(e) = exp.as_mut() {
        extra.push(e);
    }
    if let Some(p) = progress.as_mut() {
        extra.push(p);
    }
    let out = crate::watch::run(cfg, &env, &mut extra)?;
    let code = finish(&Report::from(&out), show, color, to, &out.warnings)?;
    match out.error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// Where a started command's output goes: to our stdout only when
/// `keeps_stdout`, else to stderr; relayed above the status line when that
/// is drawn on a terminal.
fn streams(keeps_stdout: bool, quiet: bool) -> Streams {
    let to = if keeps_stdout {
        Stream::Stdout
    } else {
        Stream::Stderr
    };
    match (quiet || !Stream::Stderr.is_terminal(), keeps_stdout) {
        (false, _) => Streams::Relay(to),
        (true, true) => Streams::Inherit,
        (true, false) => Streams::StdoutToStderr,
    }
}

fn run_repeat(
    cfg: &crate::repeat::RepeatConfig,
    show: Show,
    color: ColorChoice,
) -> Result<ExitCode> {
    let signals = Signals::install()?;
    let out = crate::repeat::run(cfg, &ProcFs::host(), &signals, &mut [])?;
    let code = finish(&RepeatReport::from(&out), show, color, Stream::Stdout, &[])?;
    match out.error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

fn run_scan(
    cfg: &crate::scan::ScanConfig,
    show: Show,
    export: &Export,
    max_targets: usize,
    color: ColorChoice,
) -> Result<ExitCode> {
    let signals = Signals::install()?;
    let mut exporter = exposition(export)?.map(|expo| {
        crate::prometheus::exporter::ScanExporter::new(expo, export.textfile.clone(), max_targets)
    });
    let live = !show.quiet && show.format == Format::Text && Stream::Stdout.is_terminal();
    let mut table = live.then(|| {
        LiveTable::start(
            cfg.duration.map(|d| d.as_secs_f64()),
            cfg.interval.as_secs_f64(),
            cfg.judge.name(),
        )
    });
    let mut extra: Vec<&mut dyn Output> = Vec::new();
    if let Some(t) = table.as_mut() {
        extra.push(t);
    }
    if let Some(e) = exporter.as_mut() {
        extra.push(e);
    }
    let out = crate::scan::run(cfg, &ProcFs::host(), &signals, &mut extra);
    drop(table);
    let out = out?;
    let r = ScanReport::from(&out);
    let code = finish(&r, show, color, Stream::Stdout, &r.warnings)?;
    match out.error {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

fn run_plot(cfg: &crate::plot::PlotConfig, color: ColorChoice) -> Result<ExitCode> {
    let a = crate::plot::plot(cfg)?;
    warn(&a.warnings);
    let q = a.quantity;
    emit(
        &format!(
            "{}: {} ({}), written to {}\n",
            verdict_word(a.verdict.kind, style(color, Stream::Stdout).color),
            crate::report::rate_text(&a.verdict, q),
            crate::report::reason(&a.verdict, q),
            cfg.output.display()
        ),
        Stream::Stdout,
    )?;
    Ok(ExitCode::Success)
}
