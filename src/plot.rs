//! `leakwatch plot`: a log rendered to SVG with the detector's view of it.
//!
//! The log is read in one streaming pass. Drawing uses bounded min/max/mean
//! buckets (the detector's own bucket store), so a log of millions of rows is
//! drawn from at most a few hundred columns and spikes stay visible.

use crate::detector::{BucketView, Detector, DetectorConfig, Verdict, VerdictKind};
use crate::judging::{Judge, Judging};
use crate::log::{LogReader, Placement, ReadOptions, Segmenter};
use crate::metrics::Metric;
use crate::report::reason;
use crate::units::Quantity;
use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use std::path::PathBuf;

/// What `plot` is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotConfig {
    /// The log, or `-` for standard input.
    pub path: PathBuf,
    /// The SVG to write.
    pub output: PathBuf,
    /// Column and shell-loop spacing.
    pub read: ReadOptions,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// Write over an existing file that is not an SVG.
    pub force: bool,
}

/// The plot would write over a file it should not.
#[derive(Debug)]
pub struct WouldOverwrite {
    /// The file.
    pub path: PathBuf,
    /// It is the plot's own input (else: it is not an SVG).
    pub is_input: bool,
}

impl std::fmt::Display for WouldOverwrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = if self.is_input {
            "it is the log being plotted"
        } else {
            "it exists and is not an SVG"
        };
        write!(
            f,
            "{}: refusing to write the plot over it: {why}; choose another output file",
            self.path.display()
        )
    }
}

impl std::error::Error for WouldOverwrite {}

/// Refuses an output that is the input (by any path), or an existing file
/// that is not an SVG unless `force`.
fn check_output(cfg: &PlotConfig) -> Result<()> {
    if let Some(dir) = cfg.output.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        anyhow::bail!(
            "{}: cannot write the plot: there is no directory {}",
            cfg.output.display(),
            dir.display()
        );
    }
    let Ok(out) = std::fs::canonicalize(&cfg.output) else {
        return Ok(()); // a new file
    };
    let refuse = |is_input| WouldOverwrite {
        path: cfg.output.clone(),
        is_input,
    };
    if std::fs::canonicalize(&cfg.path).is_ok_and(|inp| inp == out) {
        return Err(refuse(true).into());
    }
    if cfg.force || !out.is_file() {
        return Ok(());
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(&out)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    let svg = text.trim_start().starts_with("<?xml") || text.contains("<svg");
    if n > 0 && !svg {
        return Err(refuse(false).into());
    }
    Ok(())
}

/// The outcome of a plot: the verdict drawn in the title.
#[derive(Debug, Clone)]
pub struct Plotted {
    /// The verdict on the last watch.
    pub verdict: Verdict,
    /// What the plotted column counts.
    pub quantity: Quantity,
    /// Warnings from reading.
    pub warnings: Vec<String>,
}

/// Reads the log, judges its last watch and writes the SVG.
pub fn plot(cfg: &PlotConfig) -> Result<Plotted> {
    check_output(cfg)?;
    let mut reader = LogReader::open(&cfg.path, &cfg.read)?;
    let store = DetectorConfig {
        warmup: None,
        min_rate: 0.0,
    };
    let column = reader.column().to_string();
    let metric = Metric::from_column(&column);
    let quantity = metric.map_or(Quantity::Bytes, Metric::quantity);
    let metrics: Vec<Metric> = metric.into_iter().collect();
    let extra = metric.is_none().then_some(column.as_str());
    let mut judging = Judging::new(cfg.detector, &metrics, extra, Judge::Column(column.clone()));
    let mut seg = Segmenter::default();
    let mut main = Detector::new(store);
    let mut vsz = Detector::new(store);
    let mut breaks: Vec<f64> = Vec::new();
    // A repeat log's runs: where each starts (0 before the first, -1 the cool-down).
    let mut runs: Vec<(f64, i64)> = Vec::new();
    // Every watch is drawn, each after the one before (a step's gap
    // between them); the last one is judged.
    let (mut shift, mut last_pt, mut step, mut judged_from) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let own_vsz = column != "vsz_bytes";
    reader.for_each_row(|row| {
        let (t, placement) = seg.place(row);
        if placement == Placement::NewWatch {
            judging.reset();
            judged_from = last_pt + step.max(1e-3);
            shift = judged_from - t;
            runs.clear();
            breaks.push(judged_from);
        }
        let pt = shift + t;
        if placement == Placement::NewSegment {
            breaks.push(pt);
        }
        if let Some(r) = row.run
            && runs.last().is_none_or(|l| l.1 != r)
        {
            runs.push((pt, r));
        }
        if placement == Placement::Same {
            step = pt - last_pt;
        }
        last_pt = pt;
        judging.push(t, |_| row.value);
        main.push(pt, row.value);
        if own_vsz && let Some(v) = row.metrics[Metric::Vsz.index()] {
            vsz.push(pt, v);
        }
    })?;
    if judging.shown().detector.samples() == 0 {
        anyhow::bail!(
            "{}: no samples to plot: {}",
            reader.name(),
            crate::analyze::no_rows(&reader)
        );
    }
    let verdict = judging.shown().detector.verdict();
    let q = quantity;
    let title = format!(
        "{}: {} on {column}",
        verdict.kind,
        crate::report::rate_text(&verdict, q)
    );
    let why = reason(&verdict, q);
    let subtitle = match seg.set_aside_note() {
        Some(n) => format!("{why} | {n}"),
        None => why,
    };
    let chart = Chart {
        title: &title,
        subtitle: &subtitle,
        verdict: &verdict,
        column: &column,
        quantity,
        main: &main.buckets(),
        vsz: &vsz.buckets(),
        breaks: &breaks,
        runs: &runs,
        shift,
        judged_from,
    };
    draw(&cfg.output, &chart).with_context(|| format!("cannot write {}", cfg.output.display()))?;
    Ok(Plotted {
        verdict,
        quantity,
        warnings: seg.named_warnings(reader.warnings(), reader.name()),
    })
}

/// A time axis unit fitting `span` seconds.
fn time_unit(span: f64) -> (f64, &'static str) {
    if span >= 3.0 * 3600.0 {
        (3600.0, "hours")
    } else if span >= 180.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    }
}

/// A byte axis unit fitting `max` bytes.
fn byte_unit(max: f64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && max >= 4.0 * 1024f64.powi(i as i32 + 1) {
        i += 1;
    }
    (1024f64.powi(i as i32), UNITS[i])
}

/// The labels of an axis from `lo` to `hi`: short (`950`, `12.5`, `3.2k`,
/// `41M`), with as many decimals as its ticks (about ten) need to differ,
/// so a nearly flat series reads `14.62, 14.64`, not `14.6, 14.6`.
fn axis_labels(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let a = lo.abs().max(hi.abs());
    let (scale, suffix) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let step = ((hi - lo).abs() / 10.0 / scale).max(1e-9);
    let decimals = (-step.log10()).ceil().clamp(0.0, 6.0) as usize;
    move |v| {
        let x = v / scale;
        if decimals == 0 || x.fract() == 0.0 && step >= 1.0 {
            format!("{x:.0}{suffix}")
        } else {
            format!("{x:.decimals$}{suffix}")
        }
    }
}

/// How a column is named on an axis: `RSS`, `VSZ`, `open file descriptors`.
fn axis_name(column: &str) -> &str {
    match Metric::from_column(column) {
        Some(Metric::Rss) => "RSS",
        Some(Metric::Vsz) => "VSZ",
        Some(Metric::Pss) => "PSS",
        Some(Metric::Uss) => "USS",
        Some(Metric::Swap) => "swap",
        Some(Metric::Fds) => "open file descriptors",
        Some(Metric::Threads) => "threads",
        Some(Metric::Usage) => "cgroup memory use",
        None => column,
    }
}

/// Splits buckets into runs with no gap (a gap is an appended run's start, or
/// a stretch with no samples much longer than the usual spacing).
fn runs<'a>(b: &'a [BucketView], breaks: &[f64]) -> Vec<&'a [BucketView]> {
    let mut gaps: Vec<f64> = b.windows(2).map(|w| w[1].t_first - w[0].t_last).collect();
    gaps.sort_by(|a, b| a.total_cmp(b));
    let typical = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..b.len() {
        let gap = b[i].t_first - b[i - 1].t_last;
        let crosses = breaks
            .iter()
            .any(|&t| t > b[i - 1].t_last && t <= b[i].t_first);
        if crosses || (gap > 5.0 * typical.max(1e-9) && gap > 2.0 * (b[i].t_last - b[i].t_first)) {
            out.push(&b[start..i]);
            start = i;
        }
    }
    if start < b.len() {
        out.push(&b[start..]);
    }
    out
}

/// What one picture shows.
struct Chart<'a> {
    title: &'a str,
    subtitle: &'a str,
    verdict: &'a Verdict,
    column: &'a str,
    quantity: Quantity,
    main: &'a [BucketView],
    vsz: &'a [BucketView],
    breaks: &'a [f64],
    runs: &'a [(f64, i64)],
    /// The judged watch's times on the time axis: `t + shift`.
    shift: f64,
    /// Where the judged watch starts on the time axis: earlier watches of
    /// the log are drawn before it, not judged.
    judged_from: f64,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_err(e: DrawingAreaErrorKind<std::io::Error>) -> anyhow::Error {
    anyhow!("{e}")
}

/// The verdict's colour: red leaking, green plateau, amber inconclusive.
fn verdict_color(kind: VerdictKind) -> RGBColor {
    match kind {
        VerdictKind::Leaking => RGBColor(200, 30, 30),
        VerdictKind::Plateau => RGBColor(20, 130, 60),
        VerdictKind::Inconclusive => RGBColor(180, 120, 0),
    }
}

/// Draws `c` as an SVG and writes it to `path`, opened as every output is
/// (never through a link planted in a shared directory).
fn draw(path: &std::path::Path, c: &Chart) -> Result<()> {
    let mut svg = String::new();
    render(&mut svg, c)?;
    use crate::sys::files::{Write, open_output};
    let mut f = open_output(path, Write::Truncate)?;
    std::io::Write::write_all(&mut f, svg.as_bytes())?;
    Ok(())
}

/// Draws `c` as an SVG into `svg`: the title, the judged panel, and VSZ below it.
fn render(svg: &mut String, c: &Chart) -> Result<()> {
    let root = SVGBackend::with_string(svg, (1100, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let color = verdict_color(c.verdict.kind);
    let root = root
        .titled(c.title, ("sans-serif", 24).into_font().color(&color))
        .map_err(draw_err)?;
    let (head, body) = root.split_vertically(26);
    let short: String = c.subtitle.chars().take(170).collect();
    head.draw(&Text::new(
        short,
        (10, 4),
        ("sans-serif", 14).into_font().color(&RGBColor(60, 60, 60)),
    ))
    .map_err(draw_err)?;
    let has_vsz = !c.vsz.is_empty();
    let (top, bottom) = if has_vsz {
        body.split_vertically(470)
    } else {
        (body.clone(), body.shrink((0, 0), (0, 0)))
    };
    panel(&top, c, c.main, c.column, true)?;
    if has_vsz {
        panel(&bottom, c, c.vsz, "vsz_bytes", false)?;
    }
    root.present().map_err(draw_err)?;
    Ok(())
}

/// The y axis of a panel of `data`: its unit, the unit's name, and the
/// range (in that unit), with headroom above the data for the legend.
fn y_range(data: &[BucketView], is_count: bool) -> (f64, &'static str, f64, f64) {
    let ymax = data.iter().map(|b| b.max).fold(0.0f64, f64::max);
    let ymin = data
        .iter()
        .map(|b| b.min)
        .fold(f64::MAX, f64::min)
        .min(ymax);
    let (bu, bname) = if is_count {
        (1.0, "count")
    } else {
        byte_unit(ymax)
    };
    let pad = ((ymax - ymin) * 0.08).max(ymax * 0.01).max(1.0);
    // Headroom above the data for the legend, so it never covers the curve.
    let room = ((ymax - ymin) * 0.45).max(pad);
    (bu, bname, ((ymin - pad) / bu).max(0.0), (ymax + room) / bu)
}

/// One panel: `data` as a min–max band and a mean line; on the `judged`
/// panel also the warm-up, the floor and the trend of the judged window.
fn panel(area: &Area, c: &Chart, data: &[BucketView], label: &str, judged: bool) -> Result<()> {
    let v = c.verdict;
    let is_count = judged && c.quantity == Quantity::Count;
    let span = c.main.last().map(|b| b.t_last).unwrap_or(1.0).max(1e-3);
    let (tu, tname) = time_unit(span);
    let (bu, bname, lo, hi) = y_range(data, is_count);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..(span / tu).max(1e-3), lo..hi.max(lo + 1e-9))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(format!("time since start ({tname})"))
        .y_desc(format!("{} ({bname})", axis_name(label)))
        .y_label_formatter(&axis_labels(lo, hi))
        .x_label_formatter(&axis_labels(0.0, span / tu))
        .light_line_style(RGBColor(244, 244, 244))
        .draw()
        .map_err(draw_err)?;
    if judged {
        draw_set_aside(&mut chart, c, (tu, lo, hi))?;
    }
    // min–max band: spikes stay visible however many rows were merged.
    chart
        .draw_series(data.iter().map(|b| {
            let x = (b.t_first + b.t_last) / 2.0 / tu;
            PathElement::new(
                vec![(x, b.min / bu), (x, b.max / bu)],
                RGBColor(120, 160, 220).mix(0.6),
            )
        }))
        .map_err(draw_err)?;
    for (i, run) in runs(data, c.breaks).into_iter().enumerate() {
        let s = chart
            .draw_series(LineSeries::new(
                run.iter()
                    .map(|b| ((b.t_first + b.t_last) / 2.0 / tu, b.mean / bu)),
                RGBColor(30, 90, 180).stroke_width(1),
            ))
            .map_err(draw_err)?;
        if i == 0 {
            s.label(format!("{} (mean; band = min..max)", axis_name(label)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(30, 90, 180))
                });
        }
    }
    if judged {
        draw_runs(&mut chart, c.runs, (tu, lo, hi), span)?;
        let spans: Vec<(f64, f64)> = runs(data, c.breaks)
            .iter()
            .filter_map(|r| Some((r.first()?.t_first, r.last()?.t_last)))
            .collect();
        draw_floor(
            &mut chart,
            v,
            &spans,
            (tu, bu, c.shift),
            if is_count {
                Quantity::Count
            } else {
                Quantity::Bytes
            },
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(draw_err)?;
    Ok(())
}

type Plot<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// What the verdict sets aside, shaded: the watches before the judged one,
/// and its warm-up; in units of `tu` seconds, between `lo` and `hi`.
fn draw_set_aside(chart: &mut Plot, c: &Chart, (tu, lo, hi): (f64, f64, f64)) -> Result<()> {
    if c.judged_from > 0.0 {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, lo), (c.judged_from / tu, hi)],
                RGBColor(150, 110, 200).mix(0.10).filled(),
            )))
            .map_err(draw_err)?
            .label("earlier watches (not judged)")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 16, y + 5)],
                    RGBColor(150, 110, 200).mix(0.25).filled(),
                )
            });
    }
    if c.verdict.warmup_s > 0.0 {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [
                    (c.judged_from / tu, lo),
                    ((c.judged_from + c.verdict.warmup_s) / tu, hi),
                ],
                RGBColor(120, 120, 120).mix(0.15).filled(),
            )))
            .map_err(draw_err)?
            .label("set aside (warm-up)")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 16, y + 5)],
                    RGBColor(120, 120, 120).mix(0.3).filled(),
                )
            });
    }
    Ok(())
}

/// A repeat's runs: a thin line where each starts, the cool-down shaded;
/// in units of `tu` seconds, between `lo` and `hi` on the y axis.
fn draw_runs(
    chart: &mut Plot,
    runs: &[(f64, i64)],
    (tu, lo, hi): (f64, f64, f64),
    end: f64,
) -> Result<()> {
    let starts: Vec<f64> = runs.iter().filter(|r| r.1 >= 1).map(|r| r.0 / tu).collect();
    if !starts.is_empty() {
        chart
            .draw_series(starts.iter().map(|&x| {
                PathElement::new(vec![(x, lo), (x, hi)], RGBColor(150, 150, 150).mix(0.5))
            }))
            .map_err(draw_err)?
            .label(format!("runs ({}; a line where each starts)", starts.len()))
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x + 8, y - 6), (x + 8, y + 6)],
                    RGBColor(150, 150, 150),
                )
            });
    }
    if let Some(&(t, _)) = runs.iter().find(|r| r.1 == -1) {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(t / tu, lo), (end / tu, hi)],
                RGBColor(40, 160, 80).mix(0.12).filled(),
            )))
            .map_err(draw_err)?
            .label("cool-down")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 16, y + 5)],
                    RGBColor(40, 160, 80).mix(0.3).filled(),
                )
            });
    }
    Ok(())
}

/// The judged floor's points and the trend over the judged window, drawn
/// only over the runs' `spans` (not across the gap between appended runs),
/// in units of (`tu` seconds, `bu` values), the judged watch starting at
/// `shift` seconds.
fn draw_floor(
    chart: &mut Plot,
    v: &Verdict,
    spans: &[(f64, f64)],
    (tu, bu, shift): (f64, f64, f64),
    q: Quantity,
) -> Result<()> {
    if v.floor.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(
            v.floor
                .iter()
                .map(|&(t, f)| Circle::new(((t + shift) / tu, f / bu), 2, BLACK.filled())),
        )
        .map_err(draw_err)?
        .label("judged floor (block minima)")
        .legend(|(x, y)| Circle::new((x + 8, y), 3, BLACK.filled()));
    if !v.finding.rate_known() {
        return Ok(());
    }
    let color = verdict_color(v.kind);
    let at = |p: f64| {
        (
            p / tu,
            (v.baseline_start + v.rate * (p - shift - v.window_start_s)) / bu,
        )
    };
    let pieces: Vec<(f64, f64)> = spans
        .iter()
        .map(|&(a, b)| {
            (
                a.max(v.window_start_s + shift),
                b.min(v.window_end_s + shift),
            )
        })
        .filter(|(a, b)| b > a)
        .collect();
    for (i, &(a, b)) in pieces.iter().enumerate() {
        let s = chart
            .draw_series(LineSeries::new(vec![at(a), at(b)], color.stroke_width(3)))
            .map_err(draw_err)?;
        if i == 0 {
            s.label(format!(
                "trend over judged window ({})",
                if v.finding.rate_known() {
                    q.rate(v.rate, "h")
                } else {
                    "rate not yet known".into()
                }
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
            });
        }
    }
    Ok(())
}
