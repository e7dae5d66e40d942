//! `leakwatch plot`: a well-formed SVG carrying the verdict and its elements.

use crate::common::{leakwatch, log_text};
use predicates::prelude::*;

fn svg_of(log: &str, extra: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("s.csv");
    let out = dir.path().join("s.svg");
    std::fs::write(&input, log).unwrap();
    let res = leakwatch()
        .arg("plot")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    (
        std::fs::read_to_string(&out).unwrap(),
        String::from_utf8_lossy(&res.stdout).into_owned(),
    )
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|s| s.trim().to_string()))
        .collect()
}

#[test]
fn a_leak_plot_carries_the_verdict_and_its_elements() {
    let log = log_text(
        (0..600).map(|i| {
            (
                i as f64,
                300e6 + 5e4 * i as f64 + ((i * 37) % 11) as f64 * 1e5,
            )
        }),
        5,
    );
    // A leak from the first sample sets nothing aside; a warm-up asked for is shaded.
    let (svg, _) = svg_of(&log, &[]);
    assert!(!texts(&svg).join("\n").contains("set aside (warm-up)"));
    let (svg, stdout) = svg_of(&log, &["--warmup", "1m"]);
    let t = texts(&svg);
    let all = t.join("\n");
    assert!(
        t.iter().any(|s| s.starts_with("leaking: +")),
        "title with verdict and rate:\n{all}"
    );
    for needle in [
        "judged floor",
        "trend over judged window",
        "set aside (warm-up)",
        // Axes name the quantity, not the log column.
        "RSS (MiB)",
        "VSZ (MiB)",
        "time since start (minutes)",
    ] {
        assert!(all.contains(needle), "missing {needle}:\n{all}");
    }
    assert!(stdout.starts_with("leaking"));
}

#[test]
fn a_plateau_plot_says_plateau() {
    let log = log_text(
        (0..300).map(|i| (i as f64 * 0.5, 6e9 + ((i * 7919) % 13) as f64 * 4096.0)),
        5,
    );
    let (svg, _) = svg_of(&log, &["--column", "rss_bytes"]);
    let t = texts(&svg);
    assert!(t.iter().any(|s| s.starts_with("plateau: ")), "{t:?}");
    assert!(
        t.iter().any(|s| s.contains("(GiB)")),
        "GiB axis for 6 GB: {t:?}"
    );
}

#[test]
fn appended_runs_are_drawn_as_separate_lines() {
    // Same PID, second run 10 minutes later: two polylines for the mean, not one.
    let first = log_text((0..100).map(|i| (i as f64, 1e8)), 9);
    let second = log_text((700..800).map(|i| (i as f64, 1e8)), 9);
    let second: String = second
        .lines()
        .skip(1)
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            f[1] = format!("{:.3}", f[1].parse::<f64>().unwrap() - 700.0);
            f.join(",") + "\n"
        })
        .collect();
    let (svg, _) = svg_of(&(first + &second), &[]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter(|n| {
            n.attribute("points")
                .is_some_and(|p| p.split(' ').count() > 10)
        })
        .count();
    assert!(
        lines >= 2,
        "expected separate segments, found {lines} long polylines"
    );
}

#[test]
fn plot_errors_like_analyze() {
    leakwatch()
        .args(["plot", "/nonexistent.csv", "-o", "/tmp/x.svg"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent.csv"));
}

#[test]
fn the_trend_is_not_drawn_across_the_gap_between_runs() {
    // A leak in two runs of one process, the second appended 10 minutes after
    // the first: the trend is drawn over each run, never across the gap.
    let rate = |i: usize| 1e8 + 2e5 * i as f64;
    let first = log_text((0..300).map(|i| (i as f64, rate(i))), 9);
    let second: String = log_text((900..1200).map(|i| (i as f64, rate(i - 600))), 9)
        .lines()
        .skip(1)
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            f[1] = format!("{:.3}", f[1].parse::<f64>().unwrap() - 900.0);
            f.join(",") + "\n"
        })
        .collect();
    let (svg, stdout) = svg_of(&(first + &second), &["--warmup", "1s"]);
    assert!(stdout.starts_with("leaking"), "{stdout}");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // The trend: thick two-point polylines.
    let trend: Vec<Vec<f64>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("3"))
        .filter_map(|n| n.attribute("points"))
        .map(|p| {
            p.split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect()
        })
        .filter(|xy: &Vec<f64>| xy.len() == 4)
        .collect();
    assert!(trend.len() >= 2, "one piece per run: {trend:?}");
    let widest = trend.iter().map(|xy| xy[2] - xy[0]).fold(0.0, f64::max);
    let plot_width = 1100.0;
    assert!(
        widest < 0.6 * plot_width,
        "a piece spans the gap: {trend:?}"
    );
}

#[test]
fn the_legend_never_covers_the_curve() {
    // The warm-up example, whose curve rose into the legend's corner.
    for log in [
        "docs/warmup-level.csv",
        "docs/leak-server.csv",
        "docs/sawtooth-leak.csv",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("p.svg");
        leakwatch()
            .arg("plot")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_string() + log)
            .arg("-o")
            .arg(&svg)
            .assert()
            .success();
        let text = std::fs::read_to_string(&svg).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let num = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
        // The first legend box (the judged panel's) and the mean curve.
        let legend = doc
            .descendants()
            .find(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some("#C8C8C8"))
            .unwrap();
        let (x0, y0) = (num(&legend, "x"), num(&legend, "y"));
        let (x1, y1) = (x0 + num(&legend, "width"), y0 + num(&legend, "height"));
        for line in doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some("#1E5AB4"))
        {
            let points: Vec<&str> = line
                .attribute("points")
                .unwrap()
                .split_whitespace()
                .collect();
            if points.len() <= 2 {
                continue; // the legend's own sample of the line
            }
            for p in points {
                let (x, y) = p.split_once(',').unwrap();
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                let inside = (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
                assert!(
                    !inside,
                    "{log}: the curve at ({x}, {y}) is under the legend"
                );
            }
        }
    }
}

#[test]
fn a_rate_not_yet_known_is_said_so_not_printed_as_zero() {
    // Five samples: too few to judge any window.
    let log = log_text((0..5).map(|i| (i as f64, 1e6 + 1e5 * i as f64)), 7);
    let (svg, stdout) = svg_of(&log, &[]);
    assert!(
        stdout.starts_with("inconclusive: rate not yet known"),
        "{stdout}"
    );
    assert!(!stdout.contains("+0 B/h"), "{stdout}");
    let t = texts(&svg).join("\n");
    assert!(t.contains("rate not yet known"), "{t}");
    assert!(!t.contains("+0 B/h"), "{t}");
}

/// Issue 24, item 14: a nearly flat series (14.6 to 14.7 MiB) gets y tick
/// labels with enough decimals to tell them apart, on both panels.
#[test]
fn a_flat_plots_axis_labels_are_distinct() {
    let base = 14.65 * 1048576.0;
    let log = log_text(
        (0..300).map(|i| (i as f64, base + ((i * 37) % 11) as f64 * 3000.0)),
        42,
    );
    let (svg, _) = svg_of(&log, &[]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // The y axes' labels: numbers left of the plot area, by panel.
    let mut panels: [Vec<String>; 2] = Default::default();
    for n in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let t = n.text().unwrap_or("").trim().to_string();
        let x: f64 = n.attribute("x").and_then(|v| v.parse().ok()).unwrap_or(1e9);
        let y: f64 = n.attribute("y").and_then(|v| v.parse().ok()).unwrap_or(0.0);
        if x < 90.0 && x > 30.0 && t.parse::<f64>().is_ok() {
            panels[usize::from(y > 500.0)].push(t);
        }
    }
    for labels in &panels {
        assert!(labels.len() >= 4, "{panels:?}");
        let mut seen = labels.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), labels.len(), "repeated labels: {labels:?}");
    }
}

/// Issue 24, item 16: a `--follow` log (a second process takes over, its
/// `elapsed_s` going on) is plotted whole: the earlier watch before the
/// judged one, marked as not judged, the time axis spanning both.
#[test]
fn a_follow_logs_earlier_run_is_plotted_too() {
    let first = log_text((0..60).map(|i| (i as f64, 3e7 + 1e4 * i as f64)), 100);
    let second = log_text((0..60).map(|i| (61.0 + i as f64, 2e7)), 200);
    let second = second.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n";
    let (svg, stdout) = svg_of(&(first + &second), &[]);
    assert!(stdout.starts_with("plateau"), "{stdout}");
    let t = texts(&svg);
    assert!(
        t.iter().any(|s| s == "earlier watches (not judged)"),
        "{t:?}"
    );
    // The time axis spans both watches (about 120 s).
    assert!(t.iter().any(|s| s == "time since start (seconds)"), "{t:?}");
    let ticks: Vec<f64> = t.iter().filter_map(|s| s.parse().ok()).collect();
    assert!(ticks.contains(&100.0), "{ticks:?}");
    // The earlier watch's RSS (about 30 MB) is on the axis, not only the
    // judged one's 20 MB.
    assert!(
        ticks.iter().any(|&y| (28.0..=32.0).contains(&y)),
        "{ticks:?}"
    );
}

/// Issue 24, item 13: every image the README shows is what the documented
/// command draws from its log now (`leakwatch plot docs/X.csv -o
/// docs/X.svg`), byte for byte: a change to the plot redraws them.
#[test]
fn every_readme_image_is_what_plot_draws_from_its_log() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut images: Vec<&str> = readme
        .match_indices("](docs/")
        .filter_map(|(at, _)| {
            let rest = &readme[at + 2..];
            let end = rest.find(')')?;
            rest[..end].ends_with(".svg").then(|| &rest[..end])
        })
        .collect();
    images.sort();
    images.dedup();
    assert!(images.len() >= 4, "{images:?}");
    let dir = tempfile::tempdir().unwrap();
    for img in images {
        let log = format!("{root}/{}", img.replace(".svg", ".csv"));
        assert!(
            readme.contains(&format!("`{}`", img.replace(".svg", ".csv")))
                || readme.contains(&format!("leakwatch plot {}", img.replace(".svg", ".csv"))),
            "the README does not say how {img} is drawn"
        );
        let out = dir.path().join("x.svg");
        let res = leakwatch()
            .arg("plot")
            .arg(&log)
            .arg("-o")
            .arg(&out)
            .arg("--force")
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "{img}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let now = std::fs::read(&out).unwrap();
        let shown = std::fs::read(format!("{root}/{img}")).unwrap();
        assert!(
            now == shown,
            "{img} is stale: redraw it with `leakwatch plot {} -o {img}`",
            img.replace(".svg", ".csv")
        );
    }
}
