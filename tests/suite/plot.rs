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
