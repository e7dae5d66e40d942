//! The report as text: the verdict on the first line, then details for people.

use super::Report;
use super::verdict::VerdictReport;
use crate::units::{
    Quantity, escape_controls, format_bytes, format_secs, format_span, short_command,
};
use std::fmt::Write;

/// Renders `r` as text, ending with a newline; the verdict coloured when `color`.
pub(super) fn text(report: &Report, color: bool) -> String {
    let r = &report.verdict;
    let mut s = String::new();
    let _ = writeln!(s, "{}", super::verdict_word(r.verdict, color));
    window_lines(r, &mut s);
    let _ = writeln!(
        s,
        "  samples:   {} over {}",
        r.samples,
        format_span(r.duration_s)
    );
    let _ = writeln!(s, "  reason:    {}", r.reason);
    if let Some(w) = r.watch_more_s {
        let _ = writeln!(s, "  next:      watch about {} longer", format_secs(w));
    }
    if let Some(limit) = r.limit_bytes {
        let _ = writeln!(s, "  limit:     {}", limit_text(r, limit));
    }
    metrics_table(r, &mut s);
    let restarts = report.restarts.map(|n| {
        format!(
            "{n} (the verdict judges the current run, PID {})",
            report.pid.unwrap_or(0)
        )
    });
    // The process judged, unless it is a cgroup's.
    let process =
        report
            .pid
            .filter(|_| report.cgroup.is_none())
            .map(|p| match report.command.as_deref() {
                Some(c) => format!("PID {p}, {}", escape_controls(&short_command(c, 100))),
                None => format!("PID {p}"),
            });
    for (label, value) in [
        ("process", &process),
        ("cgroup", &report.cgroup),
        ("restarts", &restarts),
        ("set aside", &report.set_aside),
        ("ended by", &report.ended_by),
        ("target", &report.target_exit),
        ("next step", &report.next_step),
    ] {
        if let Some(v) = value {
            let _ = writeln!(s, "  {:<10} {v}", format!("{label}:"));
        }
    }
    s
}

/// The rate, baseline and window lines, when a window was judged.
fn window_lines(r: &VerdictReport, s: &mut String) {
    let (Some(g), Some([lo, hi])) = (r.growth_rate_bytes_per_s, r.growth_rate_ci95) else {
        let _ = writeln!(s, "  rate:      not yet known");
        return;
    };
    let q = r.quantity;
    let _ = writeln!(
        s,
        "  rate:      {} ({}); 95% interval {} to {}",
        q.rate(g, "min"),
        q.rate(g, "h"),
        q.rate(lo, "h"),
        q.rate(hi, "h")
    );
    let _ = writeln!(
        s,
        "  baseline:  {} -> {} ({})",
        q.value(r.baseline_start_bytes),
        q.value(r.baseline_end_bytes),
        r.column
    );
    let warmup = if r.warmup_s > 0.0 {
        format!("; first {} set aside as warm-up", format_secs(r.warmup_s))
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "  window:    last {} ({} to {}){warmup}",
        format_span(r.window_s),
        format_span(r.window_start_s),
        format_span(r.window_end_s)
    );
}

/// When the judged byte series reaches `limit`, in words, with its source.
fn limit_text(r: &VerdictReport, limit: f64) -> String {
    let (col, rate) = r.limit_series.clone().unwrap_or_default();
    let at = format!("at {}", Quantity::Bytes.rate(rate, "h"));
    let text = match (r.time_to_limit_s, r.time_to_limit_ci95) {
        (Some(t), _) if t <= 0.0 => format!("{col} is at or over the limit"),
        (Some(t), Some([a, b])) => format!(
            "{at}, {col} reaches {} in about {} ({} to {})",
            format_bytes(limit),
            format_secs(t),
            a.map(format_secs).unwrap_or_else(|| "?".into()),
            b.map(format_secs).unwrap_or_else(|| "never".into())
        ),
        _ => format!(
            "{col} is not growing towards {}: it won't reach it at the current rate",
            format_bytes(limit)
        ),
    };
    let src = r.limit_source.as_deref().unwrap_or("");
    format!("{text} ({src})")
}

/// One line per judged metric, when there are several.
fn metrics_table(r: &VerdictReport, s: &mut String) {
    if r.metrics.len() <= 1 {
        return;
    }
    let _ = writeln!(s, "  metrics:   (judged: {})", r.judge);
    for (col, m) in &r.metrics {
        let q = m.unit;
        let rate = match m.growth_rate_per_s {
            Some(g) => q.rate(g, "h"),
            None => "rate not known".to_string(),
        };
        let _ = writeln!(
            s,
            "    {col:<11} {:<13} {rate:>14}  now {}, floor {}",
            m.verdict.as_str(),
            q.value(m.last),
            q.value(m.baseline_end)
        );
    }
}
