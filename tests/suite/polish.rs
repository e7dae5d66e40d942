//! What a newcomer trips on, and what a polished CLI ships: each test holds
//! one item of it.

use crate::common::*;
use predicates::prelude::*;
use std::time::Duration;

#[test]
fn watch_more_counts_the_warmup_still_to_come() {
    let log = log_text((0..61).map(|i| (i as f64 * 0.5, 1e6)), 3);
    let out = leakwatch()
        .args(["analyze", "-", "--warmup", "1h", "--format", "json"])
        .write_stdin(log.clone())
        .output()
        .unwrap();
    let j = json(&out.stdout);
    let more = j["watch_more_s"].as_f64().unwrap();
    assert!((3570.0..3580.0).contains(&more), "{more}: {j}");
    assert_eq!(j["rate_known"], false);
    leakwatch()
        .args(["analyze", "-", "--warmup", "1h"])
        .write_stdin(log)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("rate:      not yet known")
                .and(predicate::str::contains("+0 B/h").not()),
        );
}

#[test]
fn messages_say_what_is_wrong() {
    fails_with(&["--name", ""], "--name: the pattern is empty");
    fails_with(&["--pid", "1", "--duration", "-5s"], "must be positive");
    for args in [["--pid", "-5"], ["-n", "-3"]] {
        let out = leakwatch().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("above 0") && !err.contains("'-- "), "{err}");
    }
    fails_with(
        &[
            "plot",
            "docs/leak-server.csv",
            "-o",
            "/nonexistent-dir/x.svg",
        ],
        "there is no directory /nonexistent-dir",
    );
    // One sample: no "1 samples", no "first 0s set aside", no "z = inf".
    let one = log_text([(0.0, 1e6)], 1);
    leakwatch()
        .args(["analyze", "-"])
        .write_stdin(one)
        .assert()
        .success()
        .stdout(predicate::str::contains("only 1 sample to judge"));
    let clean = log_text((0..100).map(|i| (i as f64, 1e6 + 1e5 * i as f64)), 1);
    leakwatch()
        .args(["analyze", "-"])
        .write_stdin(clean)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("first 0s")
                .not()
                .and(predicate::str::contains("inf").not()),
        );
}

#[test]
fn an_ambiguous_name_lists_short_lines() {
    let long = "x".repeat(3000);
    let mut a = std::process::Command::new("sh")
        .args(["-c", "sleep 30", "leakwatch-ambiguous-marker", &long])
        .spawn()
        .unwrap();
    let mut b = std::process::Command::new("sh")
        .args(["-c", "sleep 30", "leakwatch-ambiguous-marker", &long])
        .spawn()
        .unwrap();
    wait_until("both to start", Duration::from_secs(10), || {
        [a.id(), b.id()]
            .iter()
            .all(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
    });
    let out = leakwatch()
        .args(["--name", "leakwatch-ambiguous-marker", "-n", "1"])
        .output()
        .unwrap();
    for c in [&mut a, &mut b] {
        c.kill().ok();
        c.wait().ok();
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.lines().all(|l| l.chars().count() < 120), "{err}");
}

/// Runs `cmd` in a detached tmux session `name` of `cols` × 12.
fn tmux(name: &str, cols: u32, cmd: &str) {
    let st = std::process::Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            "12",
            cmd,
        ])
        .status()
        .expect("tmux (the test command installs it)");
    assert!(st.success());
}

fn capture(name: &str) -> String {
    let out = std::process::Command::new("tmux")
        .args(["capture-pane", "-p", "-t", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_status_line_fits_a_60_column_terminal() {
    let name = format!("lw-status-{}", std::process::id());
    let cmd = format!(
        "{} -i 100ms -d 4s -- sleep 30; sleep 30",
        leakwatch_path().display()
    );
    tmux(&name, 60, &cmd);
    let mut seen = Vec::new();
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(250));
        seen.push(capture(&name));
    }
    std::process::Command::new("tmux")
        .args(["kill-session", "-t", &name])
        .status()
        .ok();
    let is_status = |l: &str| l.contains("judging") || l.contains("so far");
    let during: Vec<&String> = seen.iter().filter(|s| s.lines().any(is_status)).collect();
    assert!(!during.is_empty(), "no status line seen: {seen:?}");
    for screen in during {
        assert!(screen.lines().all(|l| l.chars().count() <= 60), "{screen}");
        // Redrawn in place: one status line, not a trail of them.
        let lines: Vec<&str> = screen.lines().filter(|l| is_status(l)).collect();
        assert_eq!(lines.len(), 1, "{screen}");
        // Whole fields only: the last one is not cut mid-number.
        let last = lines[0].trim_end().rsplit(" | ").next().unwrap();
        assert!(
            [
                "left",
                "sample",
                "samples",
                "B",
                "/min",
                "so far",
                "judging…"
            ]
            .iter()
            .any(|end| last.ends_with(end))
                || last.ends_with('s') && last[..last.len() - 1].parse::<f64>().is_ok(),
            "cut field {last:?}: {screen}"
        );
    }
    let early = &seen[0];
    assert!(
        !early.contains("so far") || !early.contains("judging"),
        "{early}"
    );
}

#[test]
fn the_verdict_is_coloured_on_a_terminal_only() {
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/leak-server.csv");
    let bin = leakwatch_path();
    let name = format!("lw-color-{}", std::process::id());
    let cmd = format!(
        "{b} analyze {log}; {b} analyze {log} --color never; NO_COLOR=1 {b} analyze {log}; sleep 30",
        b = bin.display()
    );
    tmux(&name, 100, &cmd);
    let mut screen = String::new();
    wait_until("three reports", Duration::from_secs(20), || {
        let out = std::process::Command::new("tmux")
            .args(["capture-pane", "-e", "-p", "-S", "-100", "-t", &name])
            .output()
            .unwrap();
        screen = String::from_utf8_lossy(&out.stdout).into_owned();
        screen.matches("reason:").count() >= 3
    });
    std::process::Command::new("tmux")
        .args(["kill-session", "-t", &name])
        .status()
        .ok();
    let coloured = screen.matches("31mleaking").count();
    let plain = screen.lines().filter(|l| *l == "leaking").count();
    assert_eq!((coloured, plain), (1, 2), "{screen:?}");
    // Piped: plain unless forced.
    leakwatch()
        .args(["analyze", log])
        .assert()
        .stdout(predicate::str::starts_with("leaking\n"));
    leakwatch()
        .args(["analyze", log, "--color", "always"])
        .assert()
        .stdout(predicate::str::starts_with("\x1b[1;31mleaking\x1b[0m\n"));
}

#[test]
fn completions_man_page_and_version() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = leakwatch().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("leakwatch") && text.contains("fail-on-leak"),
            "{shell}"
        );
        if shell == "bash" {
            let f = dir.path().join("leakwatch.bash");
            std::fs::write(&f, text.as_bytes()).unwrap();
            let st = std::process::Command::new("bash")
                .arg("-n")
                .arg(&f)
                .status()
                .unwrap();
            assert!(st.success(), "bash -n rejects the completion script");
        }
    }
    let page = leakwatch().arg("man").output().unwrap();
    assert!(page.status.success());
    let f = dir.path().join("leakwatch.1");
    std::fs::write(&f, &page.stdout).unwrap();
    let shown = std::process::Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&f)
        .env("MANWIDTH", "80")
        .output()
        .expect("man (the test command installs man-db)");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success() && text.contains("--fail-on-leak"),
        "{text}"
    );
    // Built from a checkout, --version names its revision.
    let root = env!("CARGO_MANIFEST_DIR");
    let rev = std::process::Command::new("git")
        .args(["-C", root, "rev-parse", "--short=12", "HEAD"])
        .output()
        .unwrap();
    let rev = String::from_utf8_lossy(&rev.stdout).trim().to_string();
    assert_eq!(rev.len(), 12, "not a checkout?");
    leakwatch()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("({rev}")));
    leakwatch()
        .arg("--help")
        .assert()
        .stdout(predicate::str::contains("分析Python中的内存泄漏"));
}

#[test]
fn a_started_command_is_first_sampled_once_it_runs() {
    // Not a fork of leakwatch nor the bare exec image: sleep's first sample
    // is what it holds while it sleeps.
    let out = leakwatch()
        .args([
            "-i", "100ms", "-n", "3", "-o", "-", "-q", "--", "sleep", "5",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    let vsz: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(vsz.len(), 3, "{log}");
    // The bare exec image maps a tenth of what the running program does.
    assert!(vsz[0] > 0.5 * vsz[2], "{log}");
}

#[test]
fn huge_values_keep_the_axis_labels_on_the_picture() {
    let dir = tempfile::tempdir().unwrap();
    let (log, svg) = (dir.path().join("big.csv"), dir.path().join("big.svg"));
    let text = log_text((0..200).map(|i| (i as f64, 4e18 + 1e15 * i as f64)), 1);
    std::fs::write(&log, text).unwrap();
    leakwatch()
        .arg("plot")
        .arg(&log)
        .arg("-o")
        .arg(&svg)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let x: f64 = t.attribute("x").and_then(|x| x.parse().ok()).unwrap_or(0.0);
        let label = t.text().unwrap_or("");
        assert!(x >= 0.0, "{label:?} at x = {x}");
        if t.attribute("text-anchor") == Some("end") {
            // A right-aligned axis label: short enough to fit its margin.
            assert!(label.chars().count() <= 7, "{label:?}");
        }
    }
}
