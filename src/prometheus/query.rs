//! `analyze --prometheus`: judging the series a Prometheus server (or Thanos,
//! Mimir, VictoriaMetrics: the same HTTP API) already holds, each with the
//! same detector as a watch.
//!
//! The range is read in time chunks, oldest first (`QUERY[CHUNK]` evaluated
//! at each chunk's end: raw samples, no resampling), so a response holds at
//! most about [`MAX_POINTS`] samples; each series feeds its own detector,
//! whose state is bounded. A chunk the server refuses as too large is halved.

use crate::detector::{Detector, DetectorConfig, Verdict};
use crate::units::quoted;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::time::Duration;

/// Samples aimed for in one response, over all series.
pub const MAX_POINTS: f64 = 500_000.0;

/// What to fetch and how to judge it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    /// The PromQL expression whose series to judge (an instant vector).
    pub query: String,
    /// How far back to read, seconds.
    pub range_s: f64,
    /// A file holding a bearer token for the server, if it needs one.
    pub token_file: Option<std::path::PathBuf>,
    /// The end of the range, seconds since the epoch (`None`: now).
    pub end: Option<f64>,
    /// For an expression that is not a plain selector: the resolution at
    /// which it is evaluated, seconds (no coarser than the scrape interval).
    pub step_s: f64,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
}

/// One series and its verdict.
#[derive(Debug, Clone)]
pub struct SeriesVerdict {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The detector's verdict.
    pub verdict: Verdict,
}

/// Every series a query returned, judged.
#[derive(Debug, Clone)]
pub struct PromOutcome {
    /// Each series and its verdict, fastest growth first.
    pub series: Vec<SeriesVerdict>,
    /// The query judged.
    pub query: String,
    /// The server asked.
    pub url: String,
    /// Seconds of history read.
    pub range_s: f64,
    /// Growth slower than this is a plateau, bytes per second.
    pub min_rate: f64,
}

/// Fetches every series of the query over the range and judges each.
pub fn judge(cfg: &PromConfig) -> Result<PromOutcome> {
    Ok(PromOutcome {
        series: judge_series(cfg)?,
        query: cfg.query.clone(),
        url: cfg.url.clone(),
        range_s: cfg.range_s,
        min_rate: cfg.detector.min_rate,
    })
}

/// Fetches every series of the query over the range and judges each; sorted
/// by growth rate, fastest first.
fn judge_series(cfg: &PromConfig) -> Result<Vec<SeriesVerdict>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let token = match &cfg.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map(|t| t.trim().to_string())
                .map_err(|e| anyhow!("cannot read the bearer token file {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let end = cfg.end.unwrap_or_else(now);
    let start = end - cfg.range_s;
    let mut detectors: BTreeMap<String, (BTreeMap<String, String>, Detector)> = BTreeMap::new();
    let mut chunk = cfg.range_s.min(600.0);
    let mut done = start;
    while done < end {
        let upto = (done + chunk).min(end);
        let matrix = match fetch(&agent, cfg, token.as_deref(), upto, upto - done) {
            Err(e) if e.to_string().contains("too many samples") && chunk > 1.0 => {
                chunk /= 2.0;
                continue;
            }
            other => other?,
        };
        let points: usize = matrix.iter().map(|s| s.1.len()).sum();
        for (labels, values) in matrix {
            let key = format!("{labels:?}");
            let entry = detectors
                .entry(key)
                .or_insert_with(|| (labels, Detector::new(cfg.detector)));
            for (t, v) in values {
                // A sample on a chunk's boundary comes once.
                if t > done || t == start {
                    entry.1.push(t, v);
                }
            }
        }
        done = upto;
        // Aim the next chunk at MAX_POINTS samples.
        let per_s = points as f64 / chunk.max(1.0);
        chunk = if per_s > 0.0 {
            (MAX_POINTS / per_s).clamp(1.0, cfg.range_s)
        } else {
            chunk * 2.0
        };
        // query_range answers at most 11,000 points a series.
        chunk = chunk.min(10_000.0 * cfg.step_s);
    }
    if detectors.is_empty() {
        bail!(
            "{}: the query {} returned no series over the last {}",
            cfg.url,
            quoted(&cfg.query),
            crate::units::format_secs(cfg.range_s)
        );
    }
    let mut out: Vec<SeriesVerdict> = detectors
        .into_values()
        .map(|(labels, d)| SeriesVerdict {
            labels,
            verdict: d.verdict(),
        })
        .collect();
    out.sort_by(|a, b| b.verdict.rate.total_cmp(&a.verdict.rate));
    Ok(out)
}

/// Whether `q` is a plain series selector (`name{label="v"}`), which can be
/// read raw as a range vector.
fn is_selector(q: &str) -> bool {
    let q = q.trim();
    let name_end = q.find('{').unwrap_or(q.len());
    let name_ok = q[..name_end]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let rest = &q[name_end..];
    name_ok
        && (rest.is_empty()
            || (rest.starts_with('{') && rest.ends_with('}') && rest.matches('}').count() == 1))
        && !q.is_empty()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A series' labels and its (time, value) samples.
type Series = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// The raw samples of every series of the query in (`at` − `span`, `at`].
fn fetch(
    agent: &ureq::Agent,
    cfg: &PromConfig,
    token: Option<&str>,
    at: f64,
    span: f64,
) -> Result<Vec<Series>> {
    let base = cfg.url.trim_end_matches('/');
    // A plain selector is read raw (`QUERY[RANGE]`); any other expression is
    // evaluated every `step` over the range (query_range).
    let mut req = if is_selector(&cfg.query) {
        let expr = format!(
            "{}[{}ms]",
            cfg.query,
            (span * 1000.0).round().max(1.0) as u64
        );
        agent
            .get(format!("{base}/api/v1/query"))
            .query("query", &expr)
            .query("time", format!("{at:.3}"))
    } else {
        agent
            .get(format!("{base}/api/v1/query_range"))
            .query("query", &cfg.query)
            .query("start", format!("{:.3}", at - span))
            .query("end", format!("{at:.3}"))
            .query("step", format!("{}", cfg.step_s))
    };
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req
        .call()
        .map_err(|e| anyhow!("cannot reach Prometheus at {}: {e}", cfg.url))?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .with_config()
        .limit(512 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| anyhow!("cannot read Prometheus' answer from {}: {e}", cfg.url))?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
        anyhow!(
            "{} answered HTTP {} with no Prometheus API response: {}; is it a Prometheus server?",
            cfg.url,
            status.as_u16(),
            quoted(body.trim())
        )
    })?;
    if json["status"] != "success" {
        let msg = json["error"].as_str().unwrap_or("no message");
        bail!(
            "Prometheus at {} refused the query: {}",
            cfg.url,
            quoted(msg)
        );
    }
    parse_matrix(&json["data"]).with_context(|| format!("an unexpected answer from {}", cfg.url))
}

/// The series of a `matrix` result.
fn parse_matrix(data: &serde_json::Value) -> Result<Vec<Series>> {
    if data["resultType"] != "matrix" {
        bail!(
            "the query gives a {}, not a series over time; give an instant-vector expression",
            data["resultType"].as_str().unwrap_or("nothing")
        );
    }
    let empty = Vec::new();
    let result = data["result"].as_array().unwrap_or(&empty);
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let labels: BTreeMap<String, String> = s["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let values = s["values"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|p| {
                let t = p.get(0)?.as_f64()?;
                let v: f64 = p.get(1)?.as_str()?.parse().ok()?;
                v.is_finite().then_some((t, v))
            })
            .collect();
        out.push((labels, values));
    }
    Ok(out)
}
