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
