//! The real recordings in `examples/recordings/` (see its README): each
//! judged at full length by `analyze` against the truth it was built with.
//! Three real leaks are still called `plateau` today (issue 21: step growth
//! of the JVM's heap, and a slow leak under a gc sawtooth); they are listed
//! here so that a fix shows up (this test then fails until the list is
//! emptied) and so does any new miss.

use crate::common::*;

/// Recordings whose verdict is wrong today: name → what analyze says.
const KNOWN_MISSES: [(&str, &str); 3] = [
    ("py_cycles_slowleak", "plateau"),
    ("jvm_serial_leak", "plateau"),
    ("jvm_g1_leak", "plateau"),
];

#[test]
fn every_recording_gets_its_truth_at_full_length_but_the_known_misses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/recordings");
    let manifest = std::fs::read_to_string(format!("{dir}/manifest.csv")).unwrap();
    let mut wrong = Vec::new();
    let mut n = 0;
    // name,file,runtime,truth,…: the first four fields hold no comma.
    for line in manifest.lines().skip(1) {
        let row: Vec<&str> = line.splitn(5, ',').collect();
        let (name, file, truth) = (row[0], row[1], row[3]);
        let out = leakwatch()
            .args(["analyze", "--format", "json"])
            .arg(format!("{dir}/{file}"))
            .output()
            .unwrap();
        let got = json(&out.stdout)["verdict"].as_str().unwrap().to_string();
        n += 1;
        if got != truth {
            wrong.push((name.to_string(), got));
        }
    }
    assert!(n >= 20, "{n} recordings");
    let known: Vec<(String, String)> = KNOWN_MISSES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        wrong, known,
        "misses changed: update KNOWN_MISSES (and issue 21)"
    );
}
