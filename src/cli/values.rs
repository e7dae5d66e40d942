//! Typed values of the command line, parsed by clap through these
//! functions: each says in a few words what a good value looks like.

use crate::metrics::{self, Metric};
use crate::units::{parse_duration, parse_rate, parse_size, quoted};
use std::net::SocketAddr;
use std::time::Duration;

/// A PID: a whole number above 0 (a negative one is not taken for a flag).
pub fn pid(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("must be a process ID: a whole number above 0".into()),
    }
}

/// A count: a whole number above 0.
pub fn count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number above 0".into()),
    }
}

/// A duration, 0 or more (`90s`, `5m`).
pub fn duration(text: &str) -> Result<Duration, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!(
            "{} must be positive, e.g. 500ms, 1s or 5m",
            quoted(text)
        ));
    }
    parse_duration(text)
}

/// A duration above 0.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

/// The step of a `query_range` evaluation: at least 1 s (Prometheus answers
/// at most 11,000 points a series per request; a finer step would take
/// thousands of them).
pub fn step(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{} is finer than the 1s minimum; give the scrape interval, e.g. 15s",
            quoted(text)
        ));
    }
    Ok(d)
}

/// A time between samples: at least 1 ms.
pub fn interval(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d < Duration::from_millis(1) {
        return Err(format!("{text} is below the 1ms minimum"));
    }
    Ok(d)
}

/// A size in bytes, 0 or more (`4KiB`, `2GiB`, `10MB`).
pub fn size(text: &str) -> Result<f64, String> {
    let v = parse_size(text)?;
    if v < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(v)
}

/// A size above 0.
pub fn positive_size(text: &str) -> Result<f64, String> {
    let v = size(text)?;
    if v <= 0.0 {
        return Err("must be more than 0".into());
    }
    Ok(v)
}

/// A rate in bytes per second, 0 or more (`1MiB/h`, `10KB/s`).
pub fn rate(text: &str) -> Result<f64, String> {
    let v = parse_rate(text)?;
    if v < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(v)
}

/// Metrics to sample, in log-column order, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricList(pub Vec<Metric>);

/// The metric behind a verdict, or any (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgedMetric(pub Option<Metric>);

/// A list of metrics (`pss,fds`). `rss` and `vsz` are always sampled (they
/// are the log's base columns), so they may be left out.
pub fn metric_list(text: &str) -> Result<MetricList, String> {
    let mut out = vec![Metric::Rss, Metric::Vsz];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Metric::parse(part) {
            Some(m) => out.push(m),
            None => {
                return Err(format!(
                    "unknown metric '{part}'; choose from {}",
                    metrics::names()
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(MetricList(out))
}

/// The metric behind a verdict: a metric, or `any` (`None`).
pub fn judged(text: &str) -> Result<JudgedMetric, String> {
    if text == "any" {
        return Ok(JudgedMetric(None));
    }
    Metric::parse(text)
        .map(|m| JudgedMetric(Some(m)))
        .ok_or_else(|| {
            format!(
                "unknown metric '{text}'; choose {} or any",
                metrics::names()
            )
        })
}

/// An address to listen on: HOST:PORT.
pub fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!(
            "{} is not HOST:PORT; e.g. 127.0.0.1:9464 (loopback only) or 0.0.0.0:9464 (every host can scrape)",
            quoted(text)
        )
    })
}

/// A Prometheus server's base URL: `http://` or `https://` and a host.
pub fn url(text: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{} is not an http:// or https:// URL; give the server's base URL, e.g. http://127.0.0.1:9090",
            quoted(text)
        )
    };
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(text.to_string())
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn label_name(text: &str) -> Result<String, String> {
    let ok = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "{} is not a label name (letters, digits and _, not first a digit), e.g. version",
            quoted(text)
        ));
    }
    if text.starts_with("__") {
        return Err(format!(
            "{}: names that start with __ are Prometheus' own; give a label of the series, e.g. version",
            quoted(text)
        ));
    }
    Ok(text.to_string())
}

/// A file for node_exporter's textfile collector, which reads only files
/// whose names end in `.prom`.
pub fn textfile(text: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(text);
    if path.extension().is_some_and(|e| e == "prom") && path.file_stem().is_some() {
        return Ok(path);
    }
    let stem = path
        .file_stem()
        .map_or("leakwatch".into(), |s| s.to_string_lossy().into_owned());
    let dir = path.parent().map_or(String::new(), |d| {
        let d = d.display().to_string();
        if d.is_empty() { d } else { format!("{d}/") }
    });
    Err(format!(
        "{} does not end in .prom, and node_exporter's textfile collector reads only *.prom files; name it e.g. {}",
        quoted(text),
        quoted(&format!("{dir}{stem}.prom"))
    ))
}

/// A pattern to match names and command lines against: not empty.
pub fn pattern(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("the pattern is empty; give part of the process's name or command line".into());
    }
    Ok(text.to_string())
}
