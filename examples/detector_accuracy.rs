//! Accuracy of the detector on seeded synthetic series of every shape, at
//! several intervals and lengths: final verdicts, false leaks, how early a
//! leak is called (as a fraction of the leak's span), whether an
//! `inconclusive` decides right when its `watch_more_s` is followed (and
//! whole-run accuracy counting those right too; and without the right
//! `plateau` calls whose interval does not rule out --min-rate, which the
//! honesty rule makes `inconclusive`), and how
//! often the 95% rate interval of a leaking call holds the true mean growth
//! rate over its window (on the constant-rate leaks).
//!
//! Beside it, the rule users apply today: a least-squares slope over the whole
//! run (Prometheus' `deriv()` / `predict_linear()`), called a leak when it is
//! above the same 1 MiB/h and significant (t ≥ 3).
//!
//! Then prefix honesty: each series cut at 10%, 20%, … 100% and judged, on
//! the shapes whose truth is clear on every prefix (flat ones, and leaks at
//! a constant rate), split into the standard and the hard shapes; and the
//! same on the real recordings of `examples/recordings/`, by split.
//!
//! `cargo run --release --example detector_accuracy [SEEDS] [DURATION:INTERVAL,...]`
//! (by default seeds 0 to 39, which the detector was tuned on, then 40 to
//! 119, which it was not, at the five settings below; e.g.
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
    called_plateau: usize,
    inconclusive: usize,
    followed_right: usize,
    /// Each inconclusive run's watch_more_s over the run's length.
    asks: Vec<f64>,
    early: Vec<f64>,
    ever: Vec<f64>,
    covered: usize,
    covered_of: usize,
    plateau_above: usize,
    plateaus: usize,
    /// Right `plateau` calls whose interval reaches above --min-rate
    /// (growth at that rate is not ruled out).
    plateau_not_ruled_out: usize,
    ls_correct: usize,
    ls_false: usize,
    ls_missed: usize,
}

fn main() {
    // `N` for seeds 0 to N-1, or `A..B` (e.g. seeds never used while tuning);
    // by default the seeds tuned on (0..40), then unseen ones (40..120).
    let ranges: Vec<std::ops::Range<u64>> = match std::env::args().nth(1) {
        Some(a) => vec![match a.split_once("..") {
            Some((lo, hi)) => lo.parse().unwrap_or(0)..hi.parse().unwrap_or(40),
            None => 0..a.parse().unwrap_or(40),
        }],
        None => vec![0..40, 40..120],
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
    for seeds in ranges {
        println!("== seeds {}..{}", seeds.start, seeds.end);
        evaluate(seeds, &configs);
    }
    recordings();
}

/// Every shape at every setting for `seeds`: accuracy, then prefix honesty.
fn evaluate(seeds: std::ops::Range<u64>, configs: &[(f64, f64)]) {
    let mut tot = Totals::default();
    let mut honesty = [Honesty::default(), Honesty::default()];
    for shape in Shape::ALL {
        let (mut ok, mut n) = (0, 0);
        let mut wrong: Vec<String> = Vec::new();
        let mut calls: Vec<f64> = Vec::new();
        for &(dur, iv) in configs {
            for seed in seeds.clone() {
                let s = generate(shape, seed, dur, iv);
                let (v, first_call, first_ever, prefixes) = run(&s);
                honesty[usize::from(shape.hard())].score(&s, &prefixes);
                n += 1;
                score_least_squares(&s, &mut tot);
                count_plateau(&mut tot, &v, shape, (dur, iv, seed));
                if v.kind == shape.expected() {
                    ok += 1;
                } else {
                    if v.kind == VerdictKind::Leaking {
                        tot.false_leaks += 1;
                    }
                    if v.kind == VerdictKind::Plateau {
                        tot.called_plateau += 1;
                    }
                    if v.kind == VerdictKind::Inconclusive {
                        tot.inconclusive += 1;
                        tot.followed_right += usize::from(followed(&s, seed, dur, iv, &v));
                        if let Some(more) = v.watch_more_s {
                            tot.asks.push(more / dur);
                        }
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
    print_honesty(&honesty);
}

/// Tallies a `plateau` call: whether its interval lies wholly above
/// --min-rate, and whether a right one's reaches above it.
fn count_plateau(tot: &mut Totals, v: &Verdict, shape: Shape, (dur, iv, seed): (f64, f64, u64)) {
    if v.kind != VerdictKind::Plateau {
        return;
    }
    let min_rate = leakwatch::detector::DEFAULT_MIN_RATE;
    tot.plateaus += 1;
    tot.plateau_not_ruled_out +=
        usize::from(shape.expected() == VerdictKind::Plateau && v.rate_ci95[1] >= min_rate);
    let above = v.rate_ci95[0] > min_rate;
    tot.plateau_above += usize::from(above);
    if above && std::env::var_os("SHOW_MISSED").is_some() {
        println!(
            "  plateau above min-rate: {} {dur}s@{iv}s#{seed} [{:.1}, {:.1}] {}",
            shape.name(),
            v.rate_ci95[0],
            v.rate_ci95[1],
            leakwatch::report::reason(v, leakwatch::units::Quantity::Bytes)
        );
    }
}

/// The real recordings of `examples/recordings/` (rss_bytes), by split:
/// whole-run verdicts against their truth, and prefix honesty (a leak's
/// prefixes that end after its onset called `plateau`; a no-leak
/// recording's prefixes called `leaking`, after its fill and during it).
fn recordings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/recordings");
    let Ok(manifest) = std::fs::read_to_string(format!("{dir}/manifest.csv")) else {
        return;
    };
    println!("real recordings (examples/recordings, rss_bytes):");
    for split in ["tune", "heldout"] {
        let (mut n, mut right, mut contrary, mut undecided) = (0, 0, 0, 0);
        let (mut lp, mut lp_plateau, mut fp, mut fp_leaking) = (0, 0, 0, 0);
        let (mut fill, mut fill_leaking) = (0, 0);
        for line in manifest.lines().skip(1) {
            let row: Vec<&str> = line.splitn(7, ',').collect();
            if row.len() < 6 || row[5] != split {
                continue;
            }
            let leak = row[3] == "leaking";
            let onset: f64 = row[4].parse().unwrap_or(0.0);
            let samples = read_rss(&format!("{dir}/{}", row[1]));
            let filled = fill_end(&samples);
            let mut d = Detector::new(DetectorConfig::default());
            let len = samples.len();
            let mut cuts = 0;
            for (i, &(t, v)) in samples.iter().enumerate() {
                d.push(t, v);
                if (i + 1) * 10 >= len * (cuts + 1) && cuts < 10 {
                    cuts += 1;
                    let p = d.verdict().kind;
                    if leak && t > onset {
                        lp += 1;
                        lp_plateau += usize::from(p == VerdictKind::Plateau);
                    } else if !leak && t > filled {
                        fp += 1;
                        fp_leaking += usize::from(p == VerdictKind::Leaking);
                    } else if !leak {
                        fill += 1;
                        fill_leaking += usize::from(p == VerdictKind::Leaking);
                    }
                }
            }
            let k = d.verdict().kind;
            n += 1;
            right += usize::from(
                k == if leak {
                    VerdictKind::Leaking
                } else {
                    VerdictKind::Plateau
                },
            );
            undecided += usize::from(k == VerdictKind::Inconclusive);
            contrary += usize::from(
                k == if leak {
                    VerdictKind::Plateau
                } else {
                    VerdictKind::Leaking
                },
            );
        }
        println!(
            "  {split:8} whole runs: {right}/{n} right, {undecided} inconclusive, {contrary} contrary to the truth; prefixes: `plateau` on {lp_plateau}/{lp} of a leak's, `leaking` on {fp_leaking}/{fp} of a no-leak's after its fill ({fill_leaking}/{fill} during it)"
        );
    }
}

/// When a no-leak recording's fill ends (a cache or heap growing to the
/// size it then holds, truly growing until then): the first sample at 95%
/// of the median of its last quarter.
fn fill_end(samples: &[(f64, f64)]) -> f64 {
    let mut last: Vec<f64> = samples[samples.len() * 3 / 4..]
        .iter()
        .map(|p| p.1)
        .collect();
    last.sort_by(|a, b| a.total_cmp(b));
    let held = last.get(last.len() / 2).copied().unwrap_or(0.0);
    samples
        .iter()
        .find(|p| p.1 >= 0.95 * held)
        .map_or(0.0, |p| p.0)
}

/// (elapsed_s, rss_bytes) of a leakwatch log.
fn read_rss(path: &str) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name);
    let (Some(t), Some(r)) = (col("elapsed_s"), col("rss_bytes")) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(t)?.parse().ok()?, f.get(r)?.parse().ok()?))
        })
        .collect()
}

/// Feeds `s` sample by sample: the final verdict, when a leak was first
/// called for good, and when it was first called at all (checked at every
/// 1% of the run after the leak starts).
fn run(s: &Series) -> (Verdict, Option<f64>, Option<f64>, Vec<Verdict>) {
    let mut d = Detector::new(DetectorConfig::default());
    let n = s.samples.len();
    let mut prefixes = Vec::with_capacity(10);
    let mut first_call: Option<f64> = None;
    let check_every = (s.samples.len() / 100).max(1);
    let leak = s.shape.expected() == VerdictKind::Leaking;
    let mut first_ever: Option<f64> = None;
    for (i, &(t, v)) in s.samples.iter().enumerate() {
        d.push(t, v);
        if (i + 1) * 10 >= n * (prefixes.len() + 1) && prefixes.len() < 10 {
            prefixes.push(d.verdict());
        }
        if leak && i % check_every == 0 && t > s.leak_start {
            if d.verdict().kind == VerdictKind::Leaking {
                first_call.get_or_insert(t);
                first_ever.get_or_insert(t);
            } else {
                first_call = None;
            }
        }
    }
    (d.verdict(), first_call, first_ever, prefixes)
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
        "right, counting an inconclusive right when its watch_more_s followed decides right: {}/{} = {:.1}%",
        tot.correct + tot.followed_right,
        tot.runs,
        pct(tot.correct + tot.followed_right, tot.runs)
    );
    println!(
        "right plateau calls whose 95% interval reaches above --min-rate (a leak not ruled out): {}; right without them: {}/{} = {:.1}%",
        tot.plateau_not_ruled_out,
        tot.correct - tot.plateau_not_ruled_out,
        tot.runs,
        pct(tot.correct - tot.plateau_not_ruled_out, tot.runs)
    );
    println!(
        "contrary to the truth: {} ({} false leaks, {} leaks called plateau); the rest of the misses are inconclusive",
        tot.false_leaks + tot.called_plateau,
        tot.false_leaks,
        tot.called_plateau
    );
    println!(
        "a leak's first `leaking` (held or not) at a median {:.0}% of its span",
        100.0 * median(&tot.ever)
    );
    let mut asks = tot.asks.clone();
    asks.sort_by(|a, b| a.total_cmp(b));
    let quartile = |q: usize| {
        asks.get((asks.len().max(1) - 1) * q / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "inconclusive {}: decided right when watch_more_s is followed {}/{} = {:.1}%; watch_more_s is {:.1}x / {:.1}x / {:.1}x the run (quartiles)",
        tot.inconclusive,
        tot.followed_right,
        tot.inconclusive,
        pct(tot.followed_right, tot.inconclusive),
        quartile(1),
        quartile(2),
        quartile(3)
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

/// Prefix honesty: each series cut at 10%, 20%, … 100% of its length and
/// judged, counted only where the truth is clear on every prefix.
#[derive(Default)]
struct Honesty {
    /// Prefixes of flat shapes, and of late leaks before their onset.
    flat: usize,
    flat_leaking: usize,
    /// Prefixes of constant-rate leaks that end after the onset.
    leaking: usize,
    leaking_plateau: usize,
    /// `leaking` calls on those, and how many of their intervals hold the truth.
    calls: usize,
    covered: usize,
    /// Every prefix counted, and those decided (not `inconclusive`).
    prefixes: usize,
    decided: usize,
}

impl Honesty {
    fn score(&mut self, s: &Series, prefixes: &[Verdict]) {
        let flat = matches!(
            s.shape,
            Shape::Flat | Shape::Sawtooth | Shape::Bursts | Shape::Wander | Shape::GrowingPeaks
        );
        if !flat && !s.shape.constant_rate() {
            return;
        }
        for v in prefixes {
            self.prefixes += 1;
            self.decided += usize::from(v.kind != VerdictKind::Inconclusive);
            let end = v.duration_s + s.samples[0].0;
            if flat || end <= s.leak_start {
                self.flat += 1;
                self.flat_leaking += usize::from(v.kind == VerdictKind::Leaking);
                if v.kind == VerdictKind::Leaking && std::env::var_os("SHOW_PREFIX").is_some() {
                    println!(
                        "  leaking on a flat prefix: {} {:.0}s of {} samples: {}",
                        s.shape.name(),
                        v.duration_s,
                        s.samples.len(),
                        leakwatch::report::reason(v, leakwatch::units::Quantity::Bytes)
                    );
                }
                continue;
            }
            self.leaking += 1;
            self.leaking_plateau += usize::from(v.kind == VerdictKind::Plateau);
            if v.kind == VerdictKind::Leaking
                && let Some(rate) = s.rate
            {
                self.calls += 1;
                self.covered += usize::from(covers(v, rate, s.leak_start));
            }
        }
    }
}

fn print_honesty(h: &[Honesty; 2]) {
    let pct = |a: usize, b: usize| format!("{:.1}% ({a}/{b})", 100.0 * a as f64 / b.max(1) as f64);
    println!("prefix honesty (each series cut at 10%, 20%, … 100%):");
    println!("{:44} {:>22} {:>22}", "", "standard shapes", "hard shapes");
    let row = |name: &str, f: &dyn Fn(&Honesty) -> String| {
        println!("{name:44} {:>22} {:>22}", f(&h[0]), f(&h[1]));
    };
    row("`leaking` on a flat prefix", &|x| {
        pct(x.flat_leaking, x.flat)
    });
    row("`plateau` on a leaking prefix", &|x| {
        pct(x.leaking_plateau, x.leaking)
    });
    row("95% interval holds the true rate", &|x| {
        pct(x.covered, x.calls)
    });
    row("prefixes decided", &|x| pct(x.decided, x.prefixes));
}
