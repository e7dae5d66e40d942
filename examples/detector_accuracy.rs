//! Accuracy of the detector on seeded synthetic series of every shape, at
//! several intervals and lengths: final verdicts, false leaks, how early a
//! leak is called (as a fraction of the leak's span), whether an
//! `inconclusive` decides right when its `watch_more_s` is followed, and how
//! often the 95% rate interval of a leaking call holds the true mean growth
//! rate over its window (on the constant-rate leaks).
//!
//! Beside it, the rule users apply today: a least-squares slope over the whole
//! run (Prometheus' `deriv()` / `predict_linear()`), called a leak when it is
//! above the same 1 MiB/h and significant (t ≥ 3).
//!
//! `cargo run --release --example detector_accuracy [SEEDS] [DURATION:INTERVAL,...]`
//! (default 40 seeds, 0 to 39, at the five settings below; e.g.
//! `40 60:0.5,960:1`; `40..120` for seeds 40 to 119). False leaks are
//! listed first among each shape's misses.

use leakwatch::detector::{Detector, DetectorConfig, Verdict, VerdictKind, judge};
use leakwatch::synth::{Series, Shape, generate, generate_until};

/// (duration, interval) settings, seconds.
const CONFIGS: [(f64, f64); 5] = [
    (120.0, 0.1),
    (120.0, 1.0),
    (600.0, 0.5),
    (1800.0, 1.0),
    (3600.0, 0.5),
];

/// Totals over every shape.
#[derive(Default)]
struct Totals {
    runs: usize,
    correct: usize,
    false_leaks: usize,
    inconclusive: usize,
    followed_right: usize,
    early: Vec<f64>,
    ever: Vec<f64>,
    covered: usize,
    covered_of: usize,
    plateau_above: usize,
    plateaus: usize,
    ls_correct: usize,
    ls_false: usize,
    ls_missed: usize,
}

fn main() {
    // `N` for seeds 0 to N-1, or `A..B` (e.g. seeds never used while tuning).
    let seeds: std::ops::Range<u64> = match std::env::args().nth(1) {
        Some(a) => match a.split_once("..") {
            Some((lo, hi)) => lo.parse().unwrap_or(0)..hi.parse().unwrap_or(40),
            None => 0..a.parse().unwrap_or(40),
        },
        None => 0..40,
    };
    let configs: Vec<(f64, f64)> = match std::env::args().nth(2) {
        Some(list) => list
            .split(',')
            .filter_map(|c| {
                let (d, i) = c.split_once(':')?;
                Some((d.parse().ok()?, i.parse().ok()?))
            })
            .collect(),
        None => CONFIGS.to_vec(),
    };
    let mut tot = Totals::default();
    for shape in Shape::ALL {
        let (mut ok, mut n) = (0, 0);
        let mut wrong: Vec<String> = Vec::new();
        let mut calls: Vec<f64> = Vec::new();
        for &(dur, iv) in &configs {
            for seed in seeds.clone() {
                let s = generate(shape, seed, dur, iv);
                let (v, first_call, first_ever) = run(&s);
                n += 1;
                score_least_squares(&s, &mut tot);
                if v.kind == VerdictKind::Plateau {
                    tot.plateaus += 1;
                    let above = v.rate_ci95[0] > leakwatch::detector::DEFAULT_MIN_RATE;
                    tot.plateau_above += usize::from(above);
                    if above && std::env::var_os("SHOW_MISSED").is_some() {
                        println!(
                            "  plateau above min-rate: {} {dur}s@{iv}s#{seed} [{:.1}, {:.1}] {}",
                            shape.name(),
                            v.rate_ci95[0],
                            v.rate_ci95[1],
                            leakwatch::report::reason(&v, leakwatch::units::Quantity::Bytes)
                        );
                    }
                }
                if v.kind == shape.expected() {
                    ok += 1;
                } else {
                    if v.kind == VerdictKind::Leaking {
                        tot.false_leaks += 1;
                    }
                    if v.kind == VerdictKind::Inconclusive {
                        tot.inconclusive += 1;
                        tot.followed_right += usize::from(followed(&s, seed, dur, iv, &v));
                    }
                    wrong.push(format!(
                        "{dur}s@{iv}s#{seed}={} ({})",
                        v.kind,
                        leakwatch::report::reason(&v, leakwatch::units::Quantity::Bytes)
                    ));
                }
                if let Some(t) = first_call {
                    let f = (t - s.leak_start) / (dur - s.leak_start);
                    tot.early.push(f);
                    calls.push(f);
                }
                if let Some(t) = first_ever {
                    tot.ever.push((t - s.leak_start) / (dur - s.leak_start));
                }
                if v.kind == VerdictKind::Leaking
                    && let Some(rate) = s.rate
                {
                    tot.covered_of += 1;
                    let ok = covers(&v, rate, s.leak_start);
                    tot.covered += usize::from(ok);
                    if !ok && std::env::var_os("SHOW_MISSED").is_some() {
                        println!(
                            "  not covered: {} {dur}s@{iv}s#{seed} truth {:.1} in [{:.1}, {:.1}] window {:.0}-{:.0}",
                            shape.name(),
                            rate,
                            v.rate_ci95[0],
                            v.rate_ci95[1],
                            v.window_start_s,
                            v.window_end_s
                        );
                    }
                }
            }
        }
        tot.runs += n;
        tot.correct += ok;
        calls.sort_by(|a, b| a.total_cmp(b));
        match calls.get(calls.len() / 2) {
            Some(m) => println!(
                "{:22} {ok:4}/{n:4}  first called at a median {:.0}% of the leak's span",
                shape.name(),
                100.0 * m
            ),
            None => println!("{:22} {ok:4}/{n:4}", shape.name()),
        }
        // False leaks first: they cost most.
        wrong.sort_by_key(|w| !w.contains("=leaking "));
        for w in wrong
            .iter()
            .take(if std::env::var_os("SHOW_MISSED").is_some() {
                usize::MAX
            } else {
                4
            })
        {
            println!("    {w}");
        }
    }
    summary(&tot);
}

/// Feeds `s` sample by sample: the final verdict, when a leak was first
/// called for good, and when it was first called at all (checked at every
/// 1% of the run after the leak starts).
fn run(s: &Series) -> (Verdict, Option<f64>, Option<f64>) {
    let mut d = Detector::new(DetectorConfig::default());
    let mut first_call: Option<f64> = None;
    let check_every = (s.samples.len() / 100).max(1);
    let leak = s.shape.expected() == VerdictKind::Leaking;
    let mut first_ever: Option<f64> = None;
    for (i, &(t, v)) in s.samples.iter().enumerate() {
        d.push(t, v);
        if leak && i % check_every == 0 && t > s.leak_start {
            if d.verdict().kind == VerdictKind::Leaking {
                first_call.get_or_insert(t);
                first_ever.get_or_insert(t);
            } else {
                first_call = None;
            }
        }
    }
    (d.verdict(), first_call, first_ever)
}

/// An `inconclusive` decides right when watched `watch_more_s` longer.
fn followed(s: &Series, seed: u64, dur: f64, iv: f64, v: &Verdict) -> bool {
    let Some(more) = v.watch_more_s else {
        return false;
    };
    let longer = generate_until(s.shape, seed, dur, iv, dur + more);
    judge(DetectorConfig::default(), longer.samples).kind == s.shape.expected()
}

/// The 95% interval of a leaking call holds the true mean growth rate over
/// its window (a leak at `rate` from `start`).
fn covers(v: &Verdict, rate: f64, start: f64) -> bool {
    let (a, b) = (v.window_start_s, v.window_end_s);
    let truth = rate * (b - a.max(start)).max(0.0) / (b - a);
    v.rate_ci95[0] <= truth && truth <= v.rate_ci95[1]
}

fn score_least_squares(s: &Series, tot: &mut Totals) {
    let ls = least_squares_says_leak(&s.samples);
    let expect_leak = s.shape.expected() == VerdictKind::Leaking;
    if ls == expect_leak {
        tot.ls_correct += 1;
    } else if ls {
        tot.ls_false += 1;
    } else {
        tot.ls_missed += 1;
    }
}

fn summary(tot: &Totals) {
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let med = median(&tot.early);
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "least-squares slope over the run (deriv()): correct {}/{} = {:.1}%, false leaks {}, missed leaks {}",
        tot.ls_correct,
        tot.runs,
        pct(tot.ls_correct, tot.runs),
        tot.ls_false,
        tot.ls_missed
    );
    println!(
        "leakwatch: correct {}/{} = {:.1}%, false leaks {}, median call at {:.0}% of the leak's span",
        tot.correct,
        tot.runs,
        pct(tot.correct, tot.runs),
        tot.false_leaks,
        100.0 * med
    );
    println!(
        "a leak's first `leaking` (held or not) at a median {:.0}% of its span",
        100.0 * median(&tot.ever)
    );
    println!(
        "inconclusive {}: decided right when watch_more_s is followed {}/{}",
        tot.inconclusive, tot.followed_right, tot.inconclusive
    );
    println!(
        "plateau calls whose 95% interval lies wholly above --min-rate: {}/{}",
        tot.plateau_above, tot.plateaus
    );
    println!(
        "95% rate interval holds the true mean rate over its window: {}/{} = {:.1}% of leaking calls on constant-rate leaks",
        tot.covered,
        tot.covered_of,
        pct(tot.covered, tot.covered_of)
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
