//! `leakwatch plot`: a log rendered to SVG with the detector's view of it.
//!
//! The log is read in one streaming pass. Drawing uses bounded min/max/mean
//! buckets (the detector's own bucket store), so a log of millions of rows is
//! drawn from at most a few hundred columns and spikes stay visible.

use crate::analyze::{Placement, Segmenter};
use crate::detector::{BucketView, Detector, DetectorConfig, Verdict, VerdictKind};
use crate::log::{LogReader, ReadOptions};
use crate::metrics::Metric;
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
}

/// The outcome of a plot: the verdict drawn in the title.
#[derive(Debug, Clone)]
pub struct Plotted {
    /// The verdict on the last watch.
    pub verdict: Verdict,
    /// The plotted column counts things (fds, threads), not bytes.
    pub counts: bool,
    /// Warnings from reading.
    pub warnings: Vec<String>,
}

/// Reads the log, judges its last watch and writes the SVG.
pub fn plot(cfg: &PlotConfig) -> Result<Plotted> {
    let mut reader = LogReader::open(&cfg.path, &cfg.read)?;
    let store = DetectorConfig {
        warmup: None,
        min_rate: 0.0,
        counts: false,
    };
    let mut seg = Segmenter::default();
    let metric = Metric::from_column(reader.column());
    let counts = metric.is_some_and(|m| !m.is_bytes());
    let judge_cfg = match metric {
        Some(m) => crate::metrics::detector_for(m, cfg.detector),
        None => cfg.detector,
    };
    let mut det = Detector::new(judge_cfg);
    let mut main = Detector::new(store);
    let mut vsz = Detector::new(store);
    let mut breaks: Vec<f64> = Vec::new();
    while let Some(row) = reader.next_row()? {
        let (t, placement) = seg.place(&row);
        match placement {
            Placement::NewWatch => {
                det = Detector::new(judge_cfg);
                main = Detector::new(store);
                vsz = Detector::new(store);
                breaks.clear();
            }
            Placement::NewSegment => breaks.push(t),
            _ => {}
        }
        det.push(t, row.value);
        main.push(t, row.value);
        if reader.column() != "vsz_bytes"
            && let Some(v) = row.metrics[Metric::Vsz.index()]
        {
            vsz.push(t, v);
        }
    }
    let verdict = det.verdict();
    let title = format!(
        "{}: {} (95% {} to {}) on {}",
        verdict.kind,
        crate::metrics::format_rate(!counts, verdict.rate, "h"),
        crate::metrics::format_rate(!counts, verdict.rate_ci95[0], "h"),
        crate::metrics::format_rate(!counts, verdict.rate_ci95[1], "h"),
        reader.column()
    );
    let subtitle = match seg.set_aside_note() {
        Some(n) => format!("{} | {n}", verdict.reason),
        None => verdict.reason.clone(),
    };
    draw(
        cfg,
        counts,
        &title,
        &subtitle,
        &verdict,
        reader.column(),
        &main.buckets(),
        &vsz.buckets(),
        &breaks,
    )
    .with_context(|| format!("cannot write {}", cfg.output.display()))?;
    Ok(Plotted {
        verdict,
        counts,
        warnings: reader.warnings().to_vec(),
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
    if max >= 4.0 * 1024.0 * 1024.0 * 1024.0 {
        (1024.0 * 1024.0 * 1024.0, "GiB")
    } else if max >= 4.0 * 1024.0 * 1024.0 {
        (1024.0 * 1024.0, "MiB")
    } else if max >= 4.0 * 1024.0 {
        (1024.0, "KiB")
    } else {
        (1.0, "bytes")
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

#[allow(clippy::too_many_arguments)]
fn draw(
    cfg: &PlotConfig,
    counts: bool,
    title: &str,
    subtitle: &str,
    v: &Verdict,
    column: &str,
    main: &[BucketView],
    vsz: &[BucketView],
    breaks: &[f64],
) -> Result<()> {
    let root = SVGBackend::new(&cfg.output, (1100, 760)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| anyhow!("{e}");
    root.fill(&WHITE).map_err(err)?;
    let color = match v.kind {
        VerdictKind::Leaking => RGBColor(200, 30, 30),
        VerdictKind::Plateau => RGBColor(20, 130, 60),
        VerdictKind::Inconclusive => RGBColor(180, 120, 0),
    };
    let root = root
        .titled(title, ("sans-serif", 24).into_font().color(&color))
        .map_err(err)?;
    let (head, body) = root.split_vertically(26);
    let short: String = subtitle.chars().take(170).collect();
    head.draw(&Text::new(
        short,
        (10, 4),
        ("sans-serif", 14).into_font().color(&RGBColor(60, 60, 60)),
    ))
    .map_err(err)?;
    let has_vsz = !vsz.is_empty();
    let (top, bottom) = if has_vsz {
        body.split_vertically(470)
    } else {
        (body.clone(), body.shrink((0, 0), (0, 0)))
    };
    let span = main.last().map(|b| b.t_last).unwrap_or(1.0).max(1e-3);
    let (tu, tname) = time_unit(span);
    let x1 = span / tu;

    let panel = |area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
                 data: &[BucketView],
                 label: &str,
                 judged: bool,
                 is_count: bool|
     -> Result<()> {
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
        let (lo, hi) = (((ymin - pad) / bu).max(0.0), (ymax + pad) / bu);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x1.max(1e-3), lo..hi.max(lo + 1e-9))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("time since start ({tname})"))
            .y_desc(format!("{label} ({bname})"))
            .light_line_style(RGBColor(244, 244, 244))
            .draw()
            .map_err(err)?;
        if judged && v.warmup_s > 0.0 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, lo), (v.warmup_s / tu, hi)],
                    RGBColor(120, 120, 120).mix(0.15).filled(),
                )))
                .map_err(err)?
                .label("set aside (warm-up)")
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 16, y + 5)],
                        RGBColor(120, 120, 120).mix(0.3).filled(),
                    )
                });
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
            .map_err(err)?;
        for (i, run) in runs(data, breaks).into_iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(
                    run.iter()
                        .map(|b| ((b.t_first + b.t_last) / 2.0 / tu, b.mean / bu)),
                    RGBColor(30, 90, 180).stroke_width(1),
                ))
                .map_err(err)?;
            if i == 0 {
                s.label(format!("{label} (mean; band = min..max)"))
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(30, 90, 180))
                    });
            }
        }
        if judged && !v.floor.is_empty() {
            chart
                .draw_series(
                    v.floor
                        .iter()
                        .map(|&(t, f)| Circle::new((t / tu, f / bu), 2, BLACK.filled())),
                )
                .map_err(err)?
                .label("judged floor (block minima)")
                .legend(|(x, y)| Circle::new((x + 8, y), 3, BLACK.filled()));
            if v.window_s() > 0.0 {
                chart
                    .draw_series(LineSeries::new(
                        vec![
                            (v.window_start_s / tu, v.baseline_start / bu),
                            (v.window_end_s / tu, v.baseline_end / bu),
                        ],
                        color.stroke_width(3),
                    ))
                    .map_err(err)?
                    .label(format!(
                        "trend over judged window ({})",
                        crate::metrics::format_rate(!is_count, v.rate, "h")
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(err)?;
        Ok(())
    };
    panel(&top, main, column, true, counts)?;
    if has_vsz {
        panel(&bottom, vsz, "vsz_bytes", false, false)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
