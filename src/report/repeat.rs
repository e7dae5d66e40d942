//! The report of `leakwatch repeat`: what each run leaves behind, and whether
//! memory came back after the last.

use super::{Render, Style, verdict_word};
use crate::detector::VerdictKind;
use crate::repeat::RepeatOutcome;
use crate::units::{Quantity, format_secs};
use serde::Serialize;
use std::fmt::Write;

/// One metric, judged per run.
#[derive(Debug, Clone, Serialize)]
pub struct PerRun {
    /// `leaking`, `plateau` or `inconclusive`.
    pub verdict: VerdictKind,
    /// `bytes` or `count`.
    pub unit: Quantity,
    /// Retained per run (bytes, or a count); `None` (`null`) while not
    /// known: unknown, not zero.
    pub per_run: Option<f64>,
    /// Its 95% interval; `None` while not known.
    pub per_run_ci95: Option<[f64; 2]>,
    /// Whether enough runs were judged for the numbers to mean something.
    pub rate_known: bool,
}

/// Everything `repeat` reports; serialised as its JSON.
#[derive(Debug, Clone, Serialize)]
pub struct RepeatReport {
    /// The verdict on RSS retained per run.
    pub verdict: VerdictKind,
    /// Runs done.
    pub runs: u64,
    /// Runs asked for (`-n`).
    pub runs_asked: u64,
    /// One sentence a person can check against a plot.
    pub reason: String,
    /// Runs whose command failed.
    pub failed_runs: u64,
    /// RSS retained per run, bytes; `None` (`null`) while not known
    /// (`rate_known` false): unknown, not zero.
    pub retained_bytes_per_run: Option<f64>,
    /// Its 95% interval; `None` while not known.
    pub retained_bytes_per_run_ci95: Option<[f64; 2]>,
    /// Whether enough runs were judged for the numbers to mean something.
    pub rate_known: bool,
    /// The first runs set aside as warm-up.
    pub runs_set_aside: u64,
    /// Growth per run below which it is a plateau, bytes.
    pub max_per_run_bytes: f64,
    /// RSS before the first run, bytes.
    pub baseline_bytes: f64,
    /// Whether RSS came back to its level before the first run in the cool-down.
    pub returned_to_baseline: Option<bool>,
    /// RSS still held above that level at the end of the cool-down, bytes.
    pub held_after_cooldown_bytes: Option<f64>,
    /// The cool-down, seconds.
    pub cooldown_s: f64,
    /// Every metric, judged per run.
    pub metrics: std::collections::BTreeMap<String, PerRun>,
    /// The target.
    pub pid: u32,
    /// Why the repeat ended before its runs were done, if it did.
    pub ended_by: Option<String>,
    /// On `leaking`: the next command that finds where, for the target's runtime.
    pub next_step: Option<String>,
}

/// Why a repeat stopped before its runs were done, in words, if it did:
/// `the repeat stopped after 3 of 10 runs (the command failed)`.
fn stopped(o: &RepeatOutcome) -> Option<String> {
    (o.runs < o.runs_asked).then(|| {
        let why = o.ended_by.as_deref().unwrap_or("stopped");
        format!(
            "the repeat stopped after {} of {} runs ({why})",
            o.runs, o.runs_asked
        )
    })
}

/// Memory back within this much of its level counts as returned: twice the
/// plateau threshold per run, or 64 KiB (a page or two of allocator slack).
fn returned(held: f64, max_per_run: f64) -> bool {
    held <= (2.0 * max_per_run).max(64.0 * 1024.0)
}

impl From<&RepeatOutcome> for RepeatReport {
    fn from(o: &RepeatOutcome) -> RepeatReport {
        let max_per_run = o.max_per_run;
        let judged = o.judging.judged();
        let metrics = judged
            .iter()
            .map(|j| {
                let v = &j.verdict;
                let known = v.finding.rate_known();
                let r = PerRun {
                    verdict: v.kind,
                    unit: j.quantity,
                    per_run: known.then_some(v.rate),
                    per_run_ci95: known.then_some(v.rate_ci95),
                    rate_known: known,
                };
                (j.column.clone(), r)
            })
            .collect::<std::collections::BTreeMap<_, _>>();
        let rss = &o.judging.shown().detector.verdict();
        RepeatReport {
            verdict: rss.kind,
            runs: o.runs,
            runs_asked: o.runs_asked,
            reason: match stopped(o) {
                Some(why) if !rss.finding.rate_known() => format!("{why}: too few runs to judge"),
                _ => reason(rss, max_per_run),
            },
            failed_runs: o.failed,
            retained_bytes_per_run: rss.finding.rate_known().then_some(rss.rate),
            retained_bytes_per_run_ci95: rss.finding.rate_known().then_some(rss.rate_ci95),
            rate_known: rss.finding.rate_known(),
            runs_set_aside: rss.warmup_s.round() as u64,
            max_per_run_bytes: max_per_run,
            baseline_bytes: o.baseline,
            returned_to_baseline: o.held.map(|h| returned(h, max_per_run)),
            held_after_cooldown_bytes: o.held.map(|h| h.max(0.0)),
            cooldown_s: o.cooldown_s,
            metrics,
            pid: o.pid,
            ended_by: o.ended_by.clone(),
            next_step: o.next_step.clone(),
        }
    }
}

impl Render for RepeatReport {
    fn verdict(&self) -> VerdictKind {
        self.verdict
    }

    fn text(&self, style: &Style) -> String {
        let color = style.color;
        let b = Quantity::Bytes;
        let mut s = String::new();
        let _ = writeln!(s, "{}", verdict_word(self.verdict, color));
        if let (Some(per_run), Some([lo, hi])) = (
            self.retained_bytes_per_run,
            self.retained_bytes_per_run_ci95,
        ) {
            let aside = match self.runs_set_aside {
                0 => String::new(),
                n => format!("; first {} set aside", crate::report::plural(n, "run")),
            };
            let _ = writeln!(
                s,
                "  per run:   {} retained (95% interval {} to {}){aside}",
                signed(b, per_run),
                signed(b, lo),
                signed(b, hi)
            );
        } else {
            let why = if self.runs < self.runs_asked {
                format!(
                    "the repeat stopped after {} of {} runs",
                    self.runs, self.runs_asked
                )
            } else {
                "at least 10 runs are needed".to_string()
            };
            let _ = writeln!(s, "  per run:   not known: {why}");
        }
        let _ = writeln!(
            s,
            "  runs:      {} done, {} failed",
            self.runs, self.failed_runs
        );
        let _ = writeln!(s, "  reason:    {}", self.reason);
        let _ = writeln!(s, "  cool-down: {}", self.cooldown_text());
        for (col, m) in &self.metrics {
            let Some(per_run) = m
                .per_run
                .filter(|_| col != "rss_bytes" && col != "vsz_bytes")
            else {
                continue;
            };
            let _ = writeln!(
                s,
                "  {col:<10} {} per run ({})",
                signed(m.unit, per_run),
                m.verdict
            );
        }
        let _ = writeln!(s, "  target:    PID {}", self.pid);
        if let Some(e) = &self.ended_by {
            let _ = writeln!(s, "  ended by:  {e}");
        }
        if let Some(n) = &self.next_step {
            let _ = writeln!(s, "  next step: {n}");
        }
        s
    }
}

impl RepeatReport {
    fn cooldown_text(&self) -> String {
        let b = Quantity::Bytes;
        match (self.returned_to_baseline, self.held_after_cooldown_bytes) {
            (Some(true), _) => format!(
                "after {}, memory came back to its level before the first run",
                format_secs(self.cooldown_s)
            ),
            (Some(false), Some(h)) => format!(
                "after {}, memory did not come back: {} still held above its level before the first run",
                format_secs(self.cooldown_s),
                b.value(h)
            ),
            _ => "none (the runs did not finish)".into(),
        }
    }
}

/// The verdict on RSS per run in words.
fn reason(v: &crate::detector::Verdict, max_per_run: f64) -> String {
    let b = Quantity::Bytes;
    let (a, z) = (
        v.window_start_s.round() as u64,
        v.window_end_s.round() as u64,
    );
    match v.kind {
        _ if !v.finding.rate_known() => format!(
            "{} runs judged: at least 10 are needed to tell a leak from noise; run more",
            v.samples
        ),
        VerdictKind::Leaking => format!(
            "RSS right after each run rose by about {} a run over runs {a} to {z}, and still rises",
            b.value(v.rate)
        ),
        VerdictKind::Plateau => format!(
            "RSS right after each run grew by less than the {} a run that counts as a leak over runs {a} to {z}",
            b.value(max_per_run)
        ),
        VerdictKind::Inconclusive => format!(
            "RSS right after each run may be rising (about {} a run) but the runs vary too much to be sure; run more",
            b.value(v.rate)
        ),
    }
}

/// A signed amount: `+256 KiB`, `-12 KiB`, `+1.0`.
fn signed(q: Quantity, v: f64) -> String {
    let sign = if v >= 0.0 { "+" } else { "" };
    match q {
        Quantity::Count => format!("{sign}{v:.1}"),
        Quantity::Bytes => format!("{sign}{}", q.value(v)),
    }
}
