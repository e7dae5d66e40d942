//! Reports: each mode's outcome in words (text) or as one JSON object, both
//! from one [`Render`] trait; each report is built from its mode's outcome
//! (`From<&Outcome>`). The live views (the status line, the scan's table)
//! are in [`live`].

use crate::detector::{Verdict, VerdictKind};
use crate::units::Quantity;
use serde::Serialize;

pub mod live;
mod reason;
pub mod repeat;
pub mod scan;
mod text;
pub mod verdict;

pub use reason::{plural, reason};
pub use verdict::{MetricReport, Report, VerdictReport};

/// Output format of the final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The verdict on the first line, then details for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// How text is drawn: coloured, and cut to a terminal's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Colour the verdict words.
    pub color: bool,
    /// The terminal's width in columns, if the text goes to one.
    pub width: Option<usize>,
}

/// A report that renders as text or JSON.
pub trait Render: Serialize {
    /// The report for people, ending with a newline.
    fn text(&self, style: &Style) -> String;

    /// The verdict behind the exit code.
    fn verdict(&self) -> VerdictKind;

    /// The report in `format`, ending with a newline.
    fn render(&self, format: Format, style: &Style) -> String {
        match format {
            Format::Json => json_text(self),
            Format::Text => self.text(style),
        }
    }
}

/// `v` as pretty JSON ending with a newline. Reports have no maps with
/// non-string keys, so they always serialise.
pub(crate) fn json_text<T: Serialize + ?Sized>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The rate with its 95% interval per hour (`+5.59 MiB/h (95% -624 KiB/h to
/// +11.8 MiB/h)`), or "rate not yet known" when no window was judged.
pub fn rate_text(v: &Verdict, q: Quantity) -> String {
    if !v.finding.rate_known() {
        return "rate not yet known".into();
    }
    format!(
        "{} (95% {} to {})",
        q.rate(v.rate, "h"),
        q.rate(v.rate_ci95[0], "h"),
        q.rate(v.rate_ci95[1], "h")
    )
}

/// When to colour the verdict word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that `is_terminal` or not.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// The verdict word, coloured for a terminal when `color`: red leaking,
/// green plateau, yellow inconclusive.
pub fn verdict_word(kind: VerdictKind, color: bool) -> String {
    if !color {
        return kind.as_str().to_string();
    }
    let code = match kind {
        VerdictKind::Leaking => "31",
        VerdictKind::Plateau => "32",
        VerdictKind::Inconclusive => "33",
    };
    format!("\x1b[1;{code}m{kind}\x1b[0m")
}

/// When a floor at `floor` growing at `rate` (95% `[lo, hi]`) reaches `limit`:
/// (estimate, [earliest, latest]) in seconds; `None` where it never does.
pub fn time_to_limit(
    floor: f64,
    rate: f64,
    ci: [f64; 2],
    limit: f64,
) -> (Option<f64>, [Option<f64>; 2]) {
    let room = limit - floor;
    if room <= 0.0 {
        return (Some(0.0), [Some(0.0), Some(0.0)]);
    }
    let t = |r: f64| (r > 0.0).then(|| room / r);
    (t(rate), [t(ci[1]), t(ci[0])])
}

/// `x` to the millisecond (or the thousandth of a byte), as reports show it.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
