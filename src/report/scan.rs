//! A scan's report: one verdict per target, leaking first, as a table for
//! people (also drawn live) or one JSON object.

use super::verdict::{Report, VerdictReport};
use super::{Render, Style, round3, verdict_word};
use crate::detector::VerdictKind;
use crate::judging::{Judge, Judging};
use crate::scan::{ScanOutcome, Seen};
use crate::units::{Quantity, cut_middle, format_bytes, format_secs, short_command};
use serde::Serialize;
use std::fmt::Write;

/// A target's verdict as a table shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    /// The verdict.
    pub kind: VerdictKind,
    /// A window was judged (else the rate means nothing yet).
    pub rate_known: bool,
    /// Growth rate, units per second.
    pub rate: f64,
    /// Its 95% interval.
    pub ci: [f64; 2],
    /// What the series counts.
    pub quantity: Quantity,
}

impl Shown {
    /// The verdict `judging` gives now, on the series its rule picks.
    pub fn of(judging: &Judging) -> Shown {
        let all = judging.judged();
        let (top, kind) = judging.judge().pick(&all);
        let v = &top.verdict;
        Shown {
            kind,
            rate_known: v.finding.rate_known(),
            rate: v.rate,
            ci: v.rate_ci95,
            quantity: top.quantity,
        }
    }
}

/// One target's row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Its PID.
    pub pid: u32,
    /// Its command line, or cgroup.
    pub label: &'a str,
    /// Its last RSS (a cgroup's anonymous memory), bytes.
    pub rss: u64,
    /// It is gone.
    pub exited: bool,
    /// Its verdict, once judged.
    pub shown: Option<Shown>,
}

/// What one redraw of the live table shows.
pub struct Frame<'a> {
    /// Every target.
    pub rows: Vec<Row<'a>>,
    /// Seconds into the scan.
    pub t: f64,
    /// The scan's length, if it has one.
    pub duration: Option<f64>,
    /// Seconds between samples.
    pub interval: f64,
    /// What is scanned, in words.
    pub scope: &'a str,
    /// The judged series.
    pub judge: &'a str,
}

/// How many targets came to each end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Targets watched.
    pub targets: usize,
    /// Leaking.
    pub leaking: usize,
    /// Plateau.
    pub plateau: usize,
    /// Inconclusive.
    pub inconclusive: usize,
    /// Gone before the scan ended (counted in their verdicts too).
    pub exited: usize,
    /// Samples taken, over every target (kept in the report).
    pub samples: u64,
    /// Exited targets left out of the report: gone before they could be
    /// judged (not leaking, no rate known).
    pub exited_short_lived: u64,
    /// Exited targets judged but left out, over the report's cap (none leaking
    /// while others could go).
    pub exited_over_cap: u64,
}

/// One target in the report.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Its command line (a cgroup's: its lowest PID's).
    pub command: String,
    /// Gone before the scan ended: the verdict is on what was seen.
    pub exited: bool,
    /// Seconds into the scan when it joined.
    pub first_seen_s: f64,
    /// Seconds into the scan when it was last read.
    pub last_seen_s: f64,
    /// Its last RSS (a cgroup's anonymous memory), bytes.
    pub rss_bytes: u64,
    /// The verdict and the usual fields, as for a watch.
    #[serde(flatten)]
    pub report: Report,
}

/// The scan's report; serialised as its JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `leaking` if any target leaks; else `inconclusive` if one watched for
    /// the whole scan is (or nothing was watched); else `plateau`.
    pub verdict: VerdictKind,
    /// What was scanned.
    pub scope: String,
    /// Seconds the scan ran.
    pub duration_s: f64,
    /// Seconds between samples.
    pub interval_s: f64,
    /// Why it ended.
    pub ended_by: String,
    /// The series behind each verdict.
    pub judge: String,
    /// Growth slower than this is a plateau, bytes per second.
    pub min_rate_bytes_per_s: f64,
    /// How many targets came to each end.
    pub counts: Counts,
    /// Every target: running ones first, leaking first, fastest first.
    pub targets: Vec<TargetReport>,
    /// Warnings met on the way.
    pub warnings: Vec<String>,
}

/// Sorting rank of a verdict: leaking, inconclusive, plateau.
fn rank(kind: VerdictKind) -> u8 {
    match kind {
        VerdictKind::Leaking => 0,
        VerdictKind::Inconclusive => 1,
        VerdictKind::Plateau => 2,
    }
}

impl From<&ScanOutcome> for ScanReport {
    fn from(out: &ScanOutcome) -> ScanReport {
        let (judge, min_rate, interval_s) = (&out.judge, out.detector.min_rate, out.interval_s);
        let mut counts = Counts {
            exited_short_lived: out.left_out.short_lived,
            exited_over_cap: out.left_out.over_cap,
            ..Counts::default()
        };
        let mut whole_inconclusive = false;
        let mut targets: Vec<TargetReport> = out
            .targets
            .iter()
            .map(|s| {
                let t = target(s, judge, min_rate);
                counts.targets += 1;
                match t.report.verdict.verdict {
                    VerdictKind::Leaking => counts.leaking += 1,
                    VerdictKind::Plateau => counts.plateau += 1,
                    VerdictKind::Inconclusive => counts.inconclusive += 1,
                }
                counts.exited += usize::from(s.exited);
                counts.samples += t.report.verdict.samples;
                whole_inconclusive |= t.report.verdict.verdict == VerdictKind::Inconclusive
                    && !s.exited
                    && s.first_s < interval_s / 2.0;
                t
            })
            .collect();
        targets.sort_by(|a, b| {
            let (va, vb) = (&a.report.verdict, &b.report.verdict);
            (a.exited, rank(va.verdict))
                .cmp(&(b.exited, rank(vb.verdict)))
                .then({
                    let rate = |v: &VerdictReport| v.growth_rate_bytes_per_s.unwrap_or(0.0);
                    rate(vb).total_cmp(&rate(va))
                })
        });
        let verdict = if counts.leaking > 0 {
            VerdictKind::Leaking
        } else if whole_inconclusive || counts.targets == 0 {
            VerdictKind::Inconclusive
        } else {
            VerdictKind::Plateau
        };
        let mut warnings = out.warnings.clone();
        if counts.targets == 0 && counts.exited_short_lived + counts.exited_over_cap == 0 {
            warnings.push("no target matched: nothing was watched".into());
        }
        ScanReport {
            verdict,
            scope: out.scope.clone(),
            duration_s: round3(out.duration_s),
            interval_s,
            ended_by: out.ended_by.clone(),
            judge: judge.name().to_string(),
            min_rate_bytes_per_s: round3(min_rate),
            counts,
            targets,
            warnings,
        }
    }
}

impl Render for ScanReport {
    fn verdict(&self) -> VerdictKind {
        self.verdict
    }

    /// The table, its rows cut to the terminal's width when it goes to one.
    fn text(&self, style: &Style) -> String {
        let (color, width) = (style.color, style.width.unwrap_or(usize::MAX));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {}",
            verdict_word(self.verdict, color),
            summary(&self.counts, &self.scope)
        );
        let _ = writeln!(
            s,
            "  watched for {} at {} ({} samples), judging {}; ended by {}",
            format_secs(self.duration_s),
            format_secs(self.interval_s),
            self.counts.samples,
            self.judge,
            self.ended_by
        );
        if let Some(line) = left_out(&self.counts, &self.scope) {
            let _ = writeln!(s, "{line}");
        }
        let rows: Vec<Row> = self.targets.iter().map(row_of).collect();
        for line in rows_lines(
            &rows,
            width,
            true,
            usize::MAX,
            self.scope.starts_with("cgroups"),
        ) {
            let _ = writeln!(s, "{line}");
        }
        for t in self.targets.iter().filter(|t| t.report.source.is_some()) {
            if let Some(src) = &t.report.source {
                let _ = writeln!(s, "  log: {src}");
            }
        }
        s
    }
}

/// "2 leaking, 120 plateau, 15 inconclusive of 137 processes (6 exited
/// during the scan)".
fn summary(c: &Counts, scope: &str) -> String {
    summaries(c, scope).swap_remove(0)
}

/// The summary line, whole first, then shorter by whole parts (for a narrow
/// terminal): the exited in fewer words, then without them, the total, the
/// inconclusive, the plateau.
fn summaries(c: &Counts, scope: &str) -> Vec<String> {
    let what = scope.split(' ').next().unwrap_or(scope);
    let what = match (c.targets, what) {
        (1, "processes") => "process",
        (1, w) => w.strip_suffix('s').unwrap_or(w),
        (_, w) => w,
    };
    let leaking = format!("{} leaking", c.leaking);
    let plateau = format!("{leaking}, {} plateau", c.plateau);
    let inconclusive = format!("{plateau}, {} inconclusive", c.inconclusive);
    let of = format!("{inconclusive} of {} {what}", c.targets);
    let mut forms = Vec::new();
    if c.exited > 0 {
        forms.push(format!("{of} ({} exited during the scan)", c.exited));
        forms.push(format!("{of} ({} exited)", c.exited));
    }
    forms.extend([of, inconclusive, plateau, leaking]);
    forms
}

/// The first of `forms` (whole first, then shorter by whole parts) that fits
/// in `width`, else the last cut to it: a narrow terminal loses whole parts,
/// not the end of one.
fn fitted(forms: &[String], width: usize) -> String {
    forms
        .iter()
        .find(|f| f.chars().count() <= width)
        .cloned()
        .unwrap_or_else(|| clip(forms.last().map_or("", String::as_str), width))
}

/// The line on exited targets left out of the report, if any were.
fn left_out(c: &Counts, scope: &str) -> Option<String> {
    let what = scope.split(' ').next().unwrap_or(scope);
    let one = |n: u64| match (n, what) {
        (1, "processes") => "process",
        (1, w) => w.strip_suffix('s').unwrap_or(w),
        (_, w) => w,
    };
    let mut parts = Vec::new();
    if c.exited_short_lived > 0 {
        let n = c.exited_short_lived;
        parts.push(format!(
            "{n} exited {} that lived too briefly to judge (not leaking)",
            one(n)
        ));
    }
    if c.exited_over_cap > 0 {
        let n = c.exited_over_cap;
        parts.push(format!(
            "{n} more exited {}, judged, over the report's cap of {} (the oldest not leaking first)",
            one(n),
            crate::scan::EXITED_KEPT
        ));
    }
    (!parts.is_empty()).then(|| format!("  left out: {}", parts.join("; ")))
}

/// A target's report: the usual fields for its verdict.
fn target(s: &Seen, judge: &Judge, min_rate: f64) -> TargetReport {
    let mut r = Report::of(VerdictReport::new(&s.judged, judge, min_rate, s.limit));
    r.pid = Some(u64::from(s.label.pid));
    r.cgroup = s.label.cgroup.clone();
    r.source = s.log.as_ref().map(|p| p.display().to_string());
    TargetReport {
        command: s
            .label
            .cgroup
            .clone()
            .unwrap_or_else(|| s.label.command.clone()),
        exited: s.exited,
        first_seen_s: round3(s.first_s),
        last_seen_s: round3(s.last_s),
        rss_bytes: s.last.rss(),
        report: r,
    }
}

fn row_of(t: &TargetReport) -> Row<'_> {
    let v = &t.report.verdict;
    Row {
        pid: t.report.pid.unwrap_or(0) as u32,
        label: &t.command,
        rss: t.rss_bytes,
        exited: t.exited,
        shown: Some(Shown {
            kind: v.verdict,
            rate_known: v.rate_known,
            rate: v.growth_rate_bytes_per_s.unwrap_or(0.0),
            ci: v.growth_rate_ci95.unwrap_or_default(),
            quantity: v.quantity,
        }),
    }
}

/// The rate cell: the rate with its 95% interval (`full`), or alone.
fn rate_cell(s: Option<Shown>, full: bool) -> String {
    let q = s.map_or(Quantity::Bytes, |s| s.quantity);
    match s {
        Some(s) if s.rate_known && full => format!(
            "{} ({} to {})",
            q.rate(s.rate, "h"),
            q.rate(s.ci[0], "h"),
            q.rate(s.ci[1], "h")
        ),
        Some(s) if s.rate_known => q.rate(s.rate, "h"),
        Some(_) => "not yet known".into(),
        None => "judging…".into(),
    }
}

fn verdict_cell(r: &Row) -> String {
    let v = r.shown.map_or("-", |s| s.kind.as_str());
    if r.exited {
        format!("{v}, exited")
    } else {
        v.to_string()
    }
}

/// The command column gets at least this many characters before the RSS
/// column gives way to it.
const MIN_COMMAND: usize = 32;

/// Which columns a table shows, and how wide.
struct Layout {
    pid: usize,
    rss: Option<usize>,
    /// The rate with its 95% interval, or alone.
    full: bool,
    rate: usize,
    verdict: usize,
    /// Room left for the command.
    command: usize,
}

impl Layout {
    /// The widest layout that shows the longest of `commands` whole in
    /// `width`: the 95% interval goes first, then (if the command would be
    /// left fewer than [`MIN_COMMAND`] characters) the RSS column.
    fn fit(rows: &[Row], commands: &[String], width: usize, full: bool) -> Layout {
        let widest = |cells: &mut dyn Iterator<Item = usize>, header: &str| {
            cells.max().unwrap_or(0).max(header.chars().count())
        };
        let pid = widest(&mut rows.iter().map(|r| r.pid.to_string().len()), "PID");
        let rss = widest(
            &mut rows
                .iter()
                .map(|r| format_bytes(r.rss as f64).chars().count()),
            "RSS",
        );
        let verdict = widest(
            &mut rows.iter().map(|r| verdict_cell(r).chars().count()),
            "VERDICT",
        );
        let rate = |full: bool| {
            let header = if full { "RATE (95% INTERVAL)" } else { "RATE" };
            widest(
                &mut rows
                    .iter()
                    .map(|r| rate_cell(r.shown, full).chars().count()),
                header,
            )
        };
        let need = widest(&mut commands.iter().map(|c| c.chars().count()), "COMMAND");
        let layout = |full: bool, rss: Option<usize>| {
            let rate = rate(full);
            let used = pid + 2 + rss.map_or(0, |w| w + 2) + rate + 2 + verdict + 2;
            Layout {
                pid,
                rss,
                full,
                rate,
                verdict,
                command: width.saturating_sub(used),
            }
        };
        if full {
            let l = layout(true, Some(rss));
            if l.command >= need {
                return l;
            }
        }
        let l = layout(false, Some(rss));
        if l.command >= need.min(MIN_COMMAND) {
            return l;
        }
        layout(false, None)
    }

    /// One line of the table.
    fn line(&self, pid: &str, rss: &str, rate: &str, verdict: &str, command: &str) -> String {
        let (pw, rw, vw) = (self.pid, self.rate, self.verdict);
        let rss = match self.rss {
            Some(w) => format!("{rss:<w$}  "),
            None => String::new(),
        };
        format!("{pid:>pw$}  {rss}{rate:<rw$}  {verdict:<vw$}  {command}")
            .trim_end()
            .to_string()
    }
}

/// The table's lines, `width` columns wide, with at most `max_rows` rows (a
/// last line says how many more there are); the labels are cgroups' paths
/// when `cgroups`, else command lines.
fn rows_lines(
    rows: &[Row],
    width: usize,
    full: bool,
    max_rows: usize,
    cgroups: bool,
) -> Vec<String> {
    let shown = &rows[..rows.len().min(max_rows)];
    let commands: Vec<String> = shown
        .iter()
        .map(|r| match cgroups {
            true => r.label.to_string(),
            false => short_command(r.label, usize::MAX),
        })
        .collect();
    let l = Layout::fit(shown, &commands, width, full);
    let rate = if l.full {
        "RATE (95% INTERVAL)"
    } else {
        "RATE"
    };
    let mut out = vec![l.line("PID", "RSS", rate, "VERDICT", "COMMAND")];
    for (r, c) in shown.iter().zip(&commands) {
        out.push(l.line(
            &r.pid.to_string(),
            &format_bytes(r.rss as f64),
            &rate_cell(r.shown, l.full),
            &verdict_cell(r),
            &match cgroups {
                true => cut_middle(c, l.command.max(1)),
                false => short_command(c, l.command.max(1)),
            },
        ));
    }
    if rows.len() > shown.len() {
        out.push(format!("  … {} more", rows.len() - shown.len()));
    }
    out.into_iter().map(|line| clip(&line, width)).collect()
}

/// `line` cut to `width` characters.
fn clip(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut s: String = line.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The live table's lines for `f`, fitted to `width` × `height`.
pub fn table_lines(f: &Frame, width: usize, height: usize) -> Vec<String> {
    let mut rows = f.rows.clone();
    rows.sort_by(|a, b| {
        let key = |r: &Row| {
            (
                r.exited,
                r.shown.map_or(3, |s| rank(s.kind)),
                -(r.shown.map_or(0.0, |s| s.rate)),
            )
        };
        let (ka, kb) = (key(a), key(b));
        (ka.0, ka.1).cmp(&(kb.0, kb.1)).then(ka.2.total_cmp(&kb.2))
    });
    let mut c = Counts::default();
    for r in &rows {
        c.targets += 1;
        c.exited += usize::from(r.exited);
        match r.shown.map(|s| s.kind) {
            Some(VerdictKind::Leaking) => c.leaking += 1,
            Some(VerdictKind::Plateau) => c.plateau += 1,
            Some(VerdictKind::Inconclusive) => c.inconclusive += 1,
            None => {}
        }
    }
    let of = match f.duration {
        Some(d) => format!(" of {}", format_secs(d)),
        None => String::new(),
    };
    let now = format!("leakwatch scan: {}", format_secs(f.t));
    let when = format!("{now}{of}");
    let at = format!("{when} at {}", format_secs(f.interval));
    let judging = format!("{at}, judging {}", f.judge);
    let title = [
        format!("{judging}; Ctrl-C ends it with the report"),
        format!("{judging}; Ctrl-C ends it"),
        format!("{at}; Ctrl-C ends it"),
        format!("{when}; Ctrl-C ends it"),
        when,
        now,
    ];
    let mut out = vec![
        fitted(&title, width),
        fitted(&summaries(&c, f.scope), width),
        String::new(),
    ];
    let room = height.saturating_sub(out.len() + 2).max(1);
    out.extend(rows_lines(
        &rows,
        width,
        true,
        room,
        f.scope.starts_with("cgroups"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: u32, kind: VerdictKind, rate: f64, exited: bool) -> Row<'static> {
        Row {
            pid,
            label: "python3 server.py --with a rather long command line that goes on",
            rss: 48 << 20,
            exited,
            shown: Some(Shown {
                kind,
                rate_known: true,
                rate,
                ci: [rate * 0.9, rate * 1.1],
                quantity: Quantity::Bytes,
            }),
        }
    }

    #[test]
    fn the_live_table_fits_the_terminal_and_puts_leaks_first() {
        let rows: Vec<Row> = (0..50)
            .map(|i| row(100 + i, VerdictKind::Plateau, 0.0, false))
            .chain([
                row(7, VerdictKind::Leaking, 100.0, false),
                row(8, VerdictKind::Leaking, 900.0, false),
                row(9, VerdictKind::Leaking, 5000.0, true),
            ])
            .collect();
        let f = Frame {
            rows,
            t: 12.0,
            duration: Some(60.0),
            interval: 1.0,
            scope: "processes",
            judge: "rss_bytes",
        };
        for (w, h) in [(80, 24), (40, 10), (200, 60), (10, 3)] {
            let lines = table_lines(&f, w, h);
            assert!(lines.len() <= h.max(6), "{w}x{h}: {} lines", lines.len());
            assert!(lines.iter().all(|l| l.chars().count() <= w), "{w}x{h}");
        }
        let lines = table_lines(&f, 120, 24);
        assert!(lines[4].trim_start().starts_with("8 "), "{}", lines[4]);
        assert!(lines[5].trim_start().starts_with("7 "), "{}", lines[5]);
        assert!(lines.last().unwrap().contains("more"));
    }

    /// Issue 24, item 3: on a narrow terminal the title and the counts lose
    /// whole parts, never the end of one, and the title keeps how to end it.
    #[test]
    fn the_title_and_counts_lose_whole_parts_on_a_narrow_terminal() {
        let rows: Vec<Row> = (0..2000)
            .map(|i| row(1000 + i, VerdictKind::Inconclusive, 0.0, i % 500 == 0))
            .collect();
        let f = Frame {
            rows,
            t: 72.0,
            duration: Some(600.0),
            interval: 1.0,
            scope: "processes",
            judge: "rss_bytes",
        };
        let wide = table_lines(&f, 100, 24);
        assert_eq!(
            wide[0],
            "leakwatch scan: 1m 12s of 10m 0s at 1s, judging rss_bytes; Ctrl-C ends it with the report"
        );
        assert_eq!(
            wide[1],
            "0 leaking, 0 plateau, 2000 inconclusive of 2000 processes (4 exited during the scan)"
        );
        let narrow = table_lines(&f, 60, 24);
        assert_eq!(
            narrow[0],
            "leakwatch scan: 1m 12s of 10m 0s at 1s; Ctrl-C ends it"
        );
        assert_eq!(
            narrow[1],
            "0 leaking, 0 plateau, 2000 inconclusive of 2000 processes"
        );
        let tiny = table_lines(&f, 30, 24);
        assert_eq!(tiny[0], "leakwatch scan: 1m 12s");
        assert_eq!(tiny[1], "0 leaking, 0 plateau");
    }

    /// Issue 24, item 1: a command column too narrow for a command line keeps
    /// the program's name and the arguments at the end, which tell processes
    /// apart.
    #[test]
    fn a_narrow_command_column_keeps_the_program_and_the_end() {
        let leak = "/usr/bin/python3 /srv/examples/leaky_server.py --mode leak --load 40";
        let fixed = "/usr/bin/python3 /srv/examples/leaky_server.py --mode fixed --load 40";
        let rows: Vec<Row> = [leak, fixed]
            .iter()
            .zip([1.0e6, 0.0])
            .map(|(label, rate)| Row {
                label,
                ..row(4242, VerdictKind::Leaking, rate, false)
            })
            .collect();
        let lines = rows_lines(&rows, 60, true, usize::MAX, false);
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{lines:#?}");
        for (line, mode) in lines[1..].iter().zip(["leak", "fixed"]) {
            assert!(line.contains("  python3 …"), "{lines:#?}");
            assert!(
                line.ends_with(&format!(" --mode {mode} --load 40")),
                "{lines:#?}"
            );
        }
    }
}
