//! Accuracy of the detector on seeded synthetic series of every shape, at
//! several intervals and lengths: final verdicts, false leaks, and how early a
//! leak is called (as a fraction of the leak's span).
//!
//! Beside it, the rule users apply today: a least-squares slope over the whole
//! run (Prometheus' `deriv()` / `predict_linear()`), called a leak when it is
//! above the same 1 MiB/h and significant (t ≥ 3).
//!
//! `cargo run --release --example detector_accuracy [SEEDS]`

use leakwatch::detector::{Detector, DetectorConfig, VerdictKind};
use leakwatch::synth::{Shape, generate};

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let configs = [
        (120.0, 0.1),
        (120.0, 1.0),
        (600.0, 0.5),
        (1800.0, 1.0),
        (3600.0, 0.5),
    ];
    let mut total = 0;
    let mut correct = 0;
    let mut false_leaks = 0;
    let mut early: Vec<f64> = Vec::new();
    let (mut ls_correct, mut ls_false, mut ls_missed) = (0, 0, 0);
    for shape in Shape::ALL {
        let mut ok = 0;
        let mut n = 0;
        let mut wrong: Vec<String> = Vec::new();
        for &(dur, iv) in &configs {
            for seed in 0..seeds {
                let s = generate(shape, seed, dur, iv);
                let mut d = Detector::new(DetectorConfig::default());
                let mut first_call: Option<f64> = None;
                let check_every = (s.samples.len() / 100).max(1);
                for (i, &(t, v)) in s.samples.iter().enumerate() {
                    d.push(t, v);
                    if shape.expected() == VerdictKind::Leaking
                        && i % check_every == 0
                        && t > s.leak_start
                    {
                        let k = d.verdict().kind;
                        if k == VerdictKind::Leaking {
                            first_call.get_or_insert(t);
                        } else {
                            first_call = None;
                        }
                    }
                }
                let v = d.verdict();
                let ls = least_squares_says_leak(&s.samples);
                let expect_leak = shape.expected() == VerdictKind::Leaking;
                if ls == expect_leak {
                    ls_correct += 1;
                } else if ls {
                    ls_false += 1;
                } else {
                    ls_missed += 1;
                }
                n += 1;
                if v.kind == shape.expected() {
                    ok += 1;
                } else {
                    if v.kind == VerdictKind::Leaking {
                        false_leaks += 1;
                    }
                    wrong.push(format!(
                        "{dur}s@{iv}s#{seed}={} ({})",
                        v.kind,
                        leakwatch::report::reason(&v, leakwatch::units::Quantity::Bytes)
                    ));
                }
                if let Some(t) = first_call {
                    early.push((t - s.leak_start) / (dur - s.leak_start));
                }
            }
        }
        total += n;
        correct += ok;
        println!("{:20} {ok:3}/{n:3}", shape.name());
        for w in wrong.iter().take(4) {
            println!("    {w}");
        }
    }
    early.sort_by(|a, b| a.total_cmp(b));
    let med = if early.is_empty() {
        f64::NAN
    } else {
        early[early.len() / 2]
    };
    println!(
        "least-squares slope over the run (deriv()): correct {ls_correct}/{total} = {:.1}%, false leaks {ls_false}, missed leaks {ls_missed}",
        100.0 * ls_correct as f64 / total as f64
    );
    println!(
        "leakwatch: correct {correct}/{total} = {:.1}%, false leaks {false_leaks}, median call at {:.0}% of the leak's span",
        100.0 * correct as f64 / total as f64,
        100.0 * med
    );
}

/// `deriv()` over the whole run: ordinary least squares, leak if the slope is
/// at least 1 MiB/h and t = slope / se ≥ 3 (errors taken as independent).
fn least_squares_says_leak(samples: &[(f64, f64)]) -> bool {
    let n = samples.len() as f64;
    let mt = samples.iter().map(|p| p.0).sum::<f64>() / n;
    let mv = samples.iter().map(|p| p.1).sum::<f64>() / n;
    let stt: f64 = samples.iter().map(|p| (p.0 - mt).powi(2)).sum();
    let stv: f64 = samples.iter().map(|p| (p.0 - mt) * (p.1 - mv)).sum();
    let slope = stv / stt;
    let rss: f64 = samples
        .iter()
        .map(|p| (p.1 - mv - slope * (p.0 - mt)).powi(2))
        .sum();
    let se = (rss / (n - 2.0) / stt).sqrt();
    slope >= leakwatch::detector::DEFAULT_MIN_RATE && slope / se >= 3.0
}
