//! Valid logs, mutated (byte flips, cuts, quotes, CR/CRLF/BOM, huge, NaN and
//! negative numbers, backward times, long lines, non-UTF-8, garbage in the
//! shell loop's format), read by `analyze` and `plot`. Seeded: a failure
//! names its case and reproduces. `LEAKWATCH_FUZZ_CASES=100000` runs longer.

use crate::common::*;
use leakwatch::analyze::{AnalyzeConfig, analyze};
use leakwatch::detector::DetectorConfig;
use leakwatch::judging::Judge;
use leakwatch::log::ReadOptions;
use leakwatch::plot::{PlotConfig, plot};
use leakwatch::report::{Format, Render, Report, Style};
use leakwatch::synth::Rng;
use std::path::Path;
use std::time::Duration;

fn cases(default: u64) -> u64 {
    std::env::var("LEAKWATCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A valid input to mutate: a CSV log, one with extra metrics, or a shell-loop log.
fn seed_input(r: &mut Rng) -> Vec<u8> {
    let n = 5 + (r.unit() * 200.0) as usize;
    match r.next_u64() % 3 {
        0 => log_text(
            (0..n).map(|i| (i as f64 * 0.5, 5e7 + 4096.0 * i as f64)),
            42,
        ),
        1 => {
            let mut s = String::from("timestamp,elapsed_s,pid,rss_bytes,vsz_bytes,fds,threads\n");
            for i in 0..n {
                s.push_str(&format!(
                    "2024-05-01T12:00:{:02}.000Z,{i}.000,7,{},{},{},4\n",
                    i % 60,
                    1_000_000 + i * 10,
                    3_000_000 + i,
                    10 + i / 10
                ));
            }
            s
        }
        _ => (0..n)
            .map(|i| format!("{} {}\n", 90000 + i, 15000 + i * 3))
            .collect(),
    }
    .into_bytes()
}

/// One random mutation of `b`.
fn mutate(r: &mut Rng, b: &mut Vec<u8>) {
    let at = |r: &mut Rng, b: &Vec<u8>| (r.unit() * (b.len() + 1) as f64) as usize % (b.len() + 1);
    let nasty: [&[u8]; 12] = [
        b"\"",
        b"1.7e308",
        b"-1e308",
        b"NaN",
        b"inf",
        b"-5",
        b"18446744073709551616",
        b"\r",
        b"\xff\xfe",
        b"\0",
        b",,,,",
        b"9 9 9",
    ];
    match r.next_u64() % 11 {
        0 if !b.is_empty() => {
            let i = at(r, b).min(b.len() - 1);
            b[i] ^= 1 << (r.next_u64() % 8);
        }
        1 => b.truncate(at(r, b)),
        2 => {
            let i = at(r, b);
            let s = nasty[(r.next_u64() % nasty.len() as u64) as usize];
            b.splice(i..i, s.iter().copied());
        }
        3 => {
            *b = String::from_utf8_lossy(b)
                .replace('\n', "\r\n")
                .into_bytes()
        }
        4 => {
            b.splice(0..0, *b"\xEF\xBB\xBF");
        }
        5 => {
            // Swap two lines: times that go backwards.
            let text = String::from_utf8_lossy(b).into_owned();
            let mut lines: Vec<&str> = text.lines().collect();
            if lines.len() > 3 {
                let i = 1 + (r.next_u64() as usize % (lines.len() - 1));
                let j = 1 + (r.next_u64() as usize % (lines.len() - 1));
                lines.swap(i, j);
            }
            *b = (lines.join("\n") + "\n").into_bytes();
        }
        6 => {
            let i = at(r, b);
            let long = vec![b'7'; 70_000 + (r.unit() * 30_000.0) as usize];
            b.splice(i..i, long);
        }
        7 => {
            // A number replaced by a huge, negative or non-finite one.
            let text = String::from_utf8_lossy(b).into_owned();
            let n = ["1e300", "-1", "nan", "-inf", "99999999999999999999"];
            let pick = n[(r.next_u64() % n.len() as u64) as usize];
            *b = text.replacen(",1", &format!(",{pick}"), 1).into_bytes();
        }
        8 => {
            let i = at(r, b);
            let junk: Vec<u8> = (0..(r.unit() * 40.0) as usize)
                .map(|_| (r.next_u64() % 256) as u8)
                .collect();
            b.splice(i..i, junk);
        }
        9 => b.extend_from_slice(b"timestamp,elapsed_s,pid,rss_bytes,vsz_bytes\n"),
        _ => b.clear(),
    }
}

/// Every number the report promises is a finite number.
fn numbers_are_numbers(r: &Report, json: &serde_json::Value, case: u64) {
    let r = &r.verdict;
    let f = [
        r.duration_s,
        r.growth_rate_bytes_per_s.unwrap_or(0.0),
        r.growth_rate_ci95.unwrap_or_default()[0],
        r.growth_rate_ci95.unwrap_or_default()[1],
        r.baseline_start_bytes,
        r.baseline_end_bytes,
        r.window_s,
        r.window_start_s,
        r.window_end_s,
        r.warmup_s,
        r.floor_block_s,
        r.min_rate_bytes_per_s,
    ];
    assert!(f.iter().all(|x| x.is_finite()), "case {case}: {json}");
    for k in ["watch_more_s", "gc_period_s"] {
        assert!(json[k].is_null() || json[k].is_f64(), "case {case}: {k}");
    }
    // A rate not known yet is null, never a 0 that reads as no growth.
    assert_eq!(
        json["growth_rate_bytes_per_s"].is_number(),
        r.rate_known,
        "case {case}: {json}"
    );
    assert_eq!(
        json["growth_rate_ci95"].is_array(),
        r.rate_known,
        "case {case}"
    );
    for k in ["duration_s", "baseline_end_bytes", "window_s"] {
        assert!(json[k].is_number(), "case {case}: {k} in {json}");
    }
}

/// analyze and plot in the library: no panic, the same acceptance, sane output.
fn check_in_process(case: u64, input: &Path, svg: &Path) {
    let read = ReadOptions::default();
    let analyzed = analyze(&AnalyzeConfig {
        path: input.to_path_buf(),
        read: read.clone(),
        detector: DetectorConfig::default(),
        judge: Judge::Column("rss_bytes".into()),
        limit: Some(1e9),
    });
    let _ = std::fs::remove_file(svg);
    let plotted = plot(&PlotConfig {
        path: input.to_path_buf(),
        output: svg.to_path_buf(),
        read,
        detector: DetectorConfig::default(),
        force: false,
    });
    match (&analyzed, &plotted) {
        (Ok(a), Ok(_)) => {
            let r = Report::from(a);
            let text = r.render(Format::Json, &Style::default());
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            numbers_are_numbers(&r, &json, case);
            let svg_text = std::fs::read_to_string(svg).unwrap();
            assert!(
                svg_text.len() < 2_000_000,
                "case {case}: SVG of {}",
                svg_text.len()
            );
            for bad in ["NaN", "inf"] {
                if let Some(i) = svg_text.find(bad) {
                    let around = &svg_text[i.saturating_sub(80)..(i + 40).min(svg_text.len())];
                    panic!("case {case}: {bad} in the SVG: {around}");
                }
            }
            roxmltree::Document::parse(&svg_text).unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
        (Err(a), Err(p)) => {
            for e in [a, p] {
                let msg = leakwatch::cli::explain(e);
                assert!(
                    !msg.contains('\n') && msg.len() < 400,
                    "case {case}: {msg:?}"
                );
            }
            assert!(!svg.exists(), "case {case}: an SVG was written on error");
        }
        _ => panic!(
            "case {case}: analyze {:?} but plot {:?}",
            analyzed.as_ref().err(),
            plotted.as_ref().err()
        ),
    }
}

#[test]
fn mutated_logs_never_break_analyze_or_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (input, svg) = (dir.path().join("in.csv"), dir.path().join("out.svg"));
    for case in 0..cases(2000) {
        let mut r = Rng::new(case);
        let mut b = seed_input(&mut r);
        for _ in 0..1 + r.next_u64() % 3 {
            mutate(&mut r, &mut b);
        }
        std::fs::write(&input, &b).unwrap();
        check_in_process(case, &input, &svg);
    }
}

#[test]
fn mutated_logs_get_exit_0_or_2_and_clean_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (input, svg) = (dir.path().join("in.csv"), dir.path().join("out.svg"));
    for case in 0..cases(150) / 2 + 75 {
        let mut r = Rng::new(1_000_000 + case);
        let mut b = seed_input(&mut r);
        for _ in 0..1 + r.next_u64() % 3 {
            mutate(&mut r, &mut b);
        }
        std::fs::write(&input, &b).unwrap();
        let out = leakwatch()
            .args(["analyze", "--format", "json"])
            .arg(&input)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        match out.status.code() {
            Some(0) => {
                serde_json::from_str::<serde_json::Value>(&stdout)
                    .unwrap_or_else(|e| panic!("case {case}: {e}: {stdout}"));
                assert!(
                    stderr
                        .lines()
                        .all(|l| l.starts_with("leakwatch: warning: ")),
                    "case {case}: {stderr}"
                );
            }
            Some(2) => {
                assert!(stdout.is_empty(), "case {case}: {stdout}");
                assert_eq!(stderr.lines().count(), 1, "case {case}: {stderr}");
            }
            other => panic!("case {case}: exit {other:?}: {stderr}"),
        }
        let _ = std::fs::remove_file(&svg);
        let p = leakwatch()
            .arg("plot")
            .arg(&input)
            .arg("-o")
            .arg(&svg)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(
            p.status.code(),
            out.status.code(),
            "case {case}: plot vs analyze"
        );
        assert_eq!(svg.exists(), p.status.code() == Some(0), "case {case}");
    }
}
