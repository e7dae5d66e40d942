//! Seeded synthetic memory series of the shapes real processes show, for the
//! detector's tests, its accuracy report (`examples/detector_accuracy.rs`) and
//! the benchmarks. The generator is a fixed SplitMix64 so a seed gives the same
//! series on every platform and every version of the crate.

use crate::detector::VerdictKind;

/// A tiny deterministic random source (SplitMix64) with uniform and normal draws.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// A uniform 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A shape of memory over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Flat with noise.
    Flat,
    /// A warm-up curve that levels off.
    WarmupLevel,
    /// A GC sawtooth around a flat floor.
    Sawtooth,
    /// A cache that grows to its cap and stays there.
    CacheCap,
    /// One to three steps up, then flat.
    StepsThenFlat,
    /// Growth that stopped (a leak fixed, a queue drained), then a slight decline.
    GrowthStopped,
    /// Bursts of load that return to the baseline.
    Bursts,
    /// Slow mean-reverting wander.
    Wander,
    /// Linear growth, with or without noise.
    Linear,
    /// A growing floor under a GC sawtooth larger than the growth.
    SawtoothLeak,
    /// A staircase of regular steps.
    Staircase,
    /// Flat, then growth that starts late in the run.
    LateStart,
    /// A warm-up followed by steady growth.
    WarmupThenGrowth,
    /// Sublinear but unbounded growth (√t).
    Sqrt,
    /// Slow growth in heavy noise.
    SlowNoisy,
    /// A slow leak under a tall, slow GC sawtooth: a swing of 20–60% of the
    /// baseline, 8–20 cycles in the run, a floor rising 20–50% of the swing.
    TallSawtoothLeak,
    /// A warm-up whose time constant is 10–18% of the run: still curving at the end.
    SlowWarmup,
    /// GC peaks that grow through the run over a flat floor (which each
    /// cycle rests on for a moment, so sampling sees it).
    GrowingPeaks,
    /// A leak that starts at 60–75% of the run.
    LateLeak,
    /// A warm-up, then a short sawtooth (a Python process's 12 MB swing every ~4 s).
    SawtoothAfterWarmup,
    /// A heap rising in steps, falling once when the runtime compacts it, and rising on.
    CompactionLeak,
    /// A tiny leak under a huge sawtooth: a batch worker that takes 2–4× its
    /// baseline for each batch and idles at its floor between batches, the
    /// floor rising by 3–6% of the swing over the run.
    BatchWorkerLeak,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 22] = [
        Shape::Flat,
        Shape::WarmupLevel,
        Shape::Sawtooth,
        Shape::CacheCap,
        Shape::StepsThenFlat,
        Shape::GrowthStopped,
        Shape::Bursts,
        Shape::Wander,
        Shape::Linear,
        Shape::SawtoothLeak,
        Shape::Staircase,
        Shape::LateStart,
        Shape::WarmupThenGrowth,
        Shape::Sqrt,
        Shape::SlowNoisy,
        Shape::TallSawtoothLeak,
        Shape::SlowWarmup,
        Shape::GrowingPeaks,
        Shape::LateLeak,
        Shape::SawtoothAfterWarmup,
        Shape::CompactionLeak,
        Shape::BatchWorkerLeak,
    ];

    /// The verdict a correct detector gives at the end of the series.
    pub fn expected(self) -> VerdictKind {
        match self {
            Shape::Flat
            | Shape::WarmupLevel
            | Shape::Sawtooth
            | Shape::CacheCap
            | Shape::StepsThenFlat
            | Shape::GrowthStopped
            | Shape::Bursts
            | Shape::Wander
            | Shape::SlowWarmup
            | Shape::GrowingPeaks
            | Shape::SawtoothAfterWarmup => VerdictKind::Plateau,
            _ => VerdictKind::Leaking,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::WarmupLevel => "warmup-level",
            Shape::Sawtooth => "sawtooth",
            Shape::CacheCap => "cache-cap",
            Shape::StepsThenFlat => "steps-then-flat",
            Shape::GrowthStopped => "growth-stopped",
            Shape::Bursts => "bursts",
            Shape::Wander => "wander",
            Shape::Linear => "linear",
            Shape::SawtoothLeak => "sawtooth-leak",
            Shape::Staircase => "staircase",
            Shape::LateStart => "late-start",
            Shape::WarmupThenGrowth => "warmup-then-growth",
            Shape::Sqrt => "sqrt",
            Shape::SlowNoisy => "slow-noisy",
            Shape::TallSawtoothLeak => "tall-sawtooth-leak",
            Shape::SlowWarmup => "slow-warmup",
            Shape::GrowingPeaks => "growing-peaks",
            Shape::LateLeak => "late-leak",
            Shape::SawtoothAfterWarmup => "sawtooth-after-warmup",
            Shape::CompactionLeak => "compaction-leak",
            Shape::BatchWorkerLeak => "batch-worker-leak",
        }
    }

    /// One of the hard shapes (tall or slow swings, late or stepped leaks),
    /// added after the standard fifteen.
    pub fn hard(self) -> bool {
        Shape::ALL.iter().position(|&s| s == self).unwrap_or(0) >= 15
    }

    /// A leak at a constant rate (from its start): the shapes on which the
    /// rate's 95% interval is checked.
    pub fn constant_rate(self) -> bool {
        matches!(
            self,
            Shape::Linear
                | Shape::SawtoothLeak
                | Shape::LateStart
                | Shape::SlowNoisy
                | Shape::TallSawtoothLeak
                | Shape::LateLeak
                | Shape::BatchWorkerLeak
        )
    }
}

/// A generated series and what it is.
#[derive(Debug, Clone)]
pub struct Series {
    /// The shape generated.
    pub shape: Shape,
    /// (seconds, bytes) samples at a fixed interval.
    pub samples: Vec<(f64, f64)>,
    /// For leaking shapes: seconds at which the leak starts.
    pub leak_start: f64,
    /// For constant-rate leaks: the floor's true growth rate from `leak_start`.
    pub rate: Option<f64>,
}

/// Generates `shape` with random parameters from `seed`: `duration` seconds at
/// `interval` seconds per sample, around a base level of 50–500 MB.
pub fn generate(shape: Shape, seed: u64, duration: f64, interval: f64) -> Series {
    generate_until(shape, seed, duration, interval, duration)
}

/// As [`generate`], with the same shape (its parameters drawn for
/// `duration`) but samples on to `until` seconds: watching longer.
pub fn generate_until(shape: Shape, seed: u64, duration: f64, interval: f64, until: f64) -> Series {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(shape as u64));
    let n = (until.max(duration) / interval).round() as usize + 1;
    let t_end = duration;
    let base = rng.range(50e6, 500e6);
    let noise_frac = rng.range(0.0, 0.02);
    let sigma = base * noise_frac;
    let mut leak_start = 0.0;
    // Shape parameters drawn once.
    let tau = t_end * rng.range(0.04, 0.12);
    let amp = base * rng.range(0.3, 1.5);
    let period = rng
        .range(2.0f64.max(interval * 6.0), (t_end / 10.0).max(2.0))
        .min(t_end / 8.0);
    let saw_amp = base * rng.range(0.1, 0.5);
    let t_stop = t_end * rng.range(0.2, 0.5);
    let rise_total = base * rng.range(0.1, 1.0);
    let mut steps: Vec<(f64, f64)> = (0..1 + (rng.unit() * 3.0) as usize)
        .map(|_| (t_end * rng.range(0.05, 0.5), base * rng.range(0.05, 0.5)))
        .collect();
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let step_every = t_end * rng.range(1.0 / 40.0, 1.0 / 10.0);
    let step_h = rise_total * step_every / t_end;
    if shape == Shape::LateStart {
        leak_start = t_end * rng.range(0.3, 0.7);
    }
    let burst_len = (t_end * rng.range(0.005, 0.04)).max(interval * 3.0);
    let bursts: Vec<(f64, f64)> = (0..3 + (rng.unit() * 6.0) as usize)
        .map(|_| (t_end * rng.range(0.0, 0.9), base * rng.range(0.2, 1.0)))
        .collect();
    let ou_tau = t_end * rng.range(0.02, 0.1);
    let ou_sd = base * rng.range(0.01, 0.04);
    let mut ou = 0.0;
    let phase = rng.unit() * period;
    let new = NewShapes::draw(shape, seed, base, t_end, interval);
    if matches!(shape, Shape::LateLeak | Shape::CompactionLeak) {
        leak_start = new.start;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 * interval;
        let e = sigma * rng.normal();
        let saw = |p: f64, a: f64| a * (((t + phase) % p) / p);
        let v = match shape {
            Shape::Flat => base + e,
            Shape::WarmupLevel => base + amp * (1.0 - (-t / tau).exp()) + e,
            Shape::Sawtooth => base + saw(period, saw_amp) + e * 0.2,
            Shape::CacheCap | Shape::GrowthStopped => {
                let r = rise_total / t_stop;
                let g = r * t.min(t_stop);
                let decline = if shape == Shape::GrowthStopped {
                    -0.05 * rise_total * ((t - t_stop).max(0.0) / t_end)
                } else {
                    0.0
                };
                base + g + decline + e
            }
            Shape::StepsThenFlat => {
                base + steps.iter().filter(|s| t >= s.0).map(|s| s.1).sum::<f64>() + e
            }
            Shape::Bursts => {
                let b: f64 = bursts
                    .iter()
                    .filter(|b| t >= b.0 && t < b.0 + burst_len)
                    .map(|b| b.1)
                    .sum();
                base + b + e
            }
            Shape::Wander => {
                let a = (-interval / ou_tau).exp();
                ou = a * ou + ou_sd * (1.0 - a * a).sqrt() * rng.normal();
                base + ou + e * 0.5
            }
            Shape::Linear => base + rise_total * t / t_end + e,
            Shape::SawtoothLeak => {
                let a = base * rng_const(seed, 0.2, 0.5);
                base + saw(period, a) + a * rng_const(seed ^ 7, 0.3, 0.9) * t / t_end + e * 0.2
            }
            Shape::Staircase => base + step_h * (t / step_every).floor() + e,
            Shape::LateStart => base + rise_total * ((t - leak_start).max(0.0) / t_end) + e,
            Shape::WarmupThenGrowth => {
                base + amp * 0.5 * (1.0 - (-t / tau).exp()) + rise_total * t / t_end + e
            }
            Shape::Sqrt => base + rise_total * (t / t_end).sqrt() + e,
            Shape::SlowNoisy => {
                let heavy = base * 0.03;
                base + heavy * rng_const(seed ^ 3, 5.0, 9.0) * t / t_end + heavy * rng.normal()
            }
            _ => new.value(shape, t, base, e),
        };
        out.push((t, v.max(0.0)));
    }
    Series {
        shape,
        samples: out,
        leak_start,
        rate: true_rate(shape, seed, base, t_end, rise_total, new.rate),
    }
}

/// The floor's growth rate of a constant-rate leak of `shape` over a run
/// of `t_end` seconds: `rise_total` for the linear shapes, `new` for the
/// newer ones.
fn true_rate(
    shape: Shape,
    seed: u64,
    base: f64,
    t_end: f64,
    rise_total: f64,
    new: f64,
) -> Option<f64> {
    match shape {
        Shape::Linear | Shape::LateStart => Some(rise_total / t_end),
        Shape::SawtoothLeak => {
            let a = base * rng_const(seed, 0.2, 0.5);
            Some(a * rng_const(seed ^ 7, 0.3, 0.9) / t_end)
        }
        Shape::SlowNoisy => Some(base * 0.03 * rng_const(seed ^ 3, 5.0, 9.0) / t_end),
        Shape::TallSawtoothLeak | Shape::LateLeak | Shape::BatchWorkerLeak => Some(new),
        _ => None,
    }
}

/// The parameters of the newer shapes, drawn from the seed alone (so the
/// older shapes' series stay as they were).
struct NewShapes {
    /// Height of the swing, or of the warm-up.
    height: f64,
    /// Period of the swing, seconds.
    period: f64,
    /// Phase of the swing, seconds.
    phase: f64,
    /// Time constant of a warm-up, seconds.
    tau: f64,
    /// Growth rate of the floor, bytes per second.
    rate: f64,
    /// When the growth (or the compaction) starts.
    start: f64,
    /// The second height: grown peaks, a compaction's drop, a warm-up's swing.
    other: f64,
    /// Seconds between a staircase's steps.
    step: f64,
    /// The share of each period spent resting at the floor.
    rest: f64,
    /// The run's length the parameters were drawn for.
    t_end: f64,
}

impl NewShapes {
    fn draw(shape: Shape, seed: u64, base: f64, t_end: f64, interval: f64) -> NewShapes {
        let k = seed
            .wrapping_mul(1_000_003)
            .wrapping_add(shape as u64 * 7919);
        let u = |i: u64, lo: f64, hi: f64| rng_const(k ^ (i << 40), lo, hi);
        // A swing is sampled at least six times a period.
        let min_period = interval * 6.0;
        let mut p = NewShapes {
            height: 0.0,
            period: 1.0,
            phase: 0.0,
            tau: 1.0,
            rate: 0.0,
            start: 0.0,
            other: 0.0,
            step: 1.0,
            rest: 0.0,
            t_end,
        };
        match shape {
            Shape::TallSawtoothLeak => {
                p.height = base * u(1, 0.2, 0.6);
                p.period = (t_end / u(2, 8.0, 20.0)).max(min_period);
                p.rate = p.height * u(3, 0.2, 0.5) / t_end;
            }
            Shape::SlowWarmup => {
                p.height = base * u(1, 0.3, 1.5);
                p.tau = t_end * u(2, 0.10, 0.18);
            }
            Shape::GrowingPeaks => {
                p.height = base * u(1, 0.05, 0.15);
                p.other = base * u(2, 0.3, 0.6);
                p.period = (t_end / u(3, 10.0, 30.0)).max(min_period);
                // The floor is seen: memory rests there for at least one
                // and a half sampling intervals a cycle (a sampler that
                // missed every trough would see them grow with the peaks).
                p.rest = (1.5 * interval / p.period).max(0.05);
            }
            Shape::LateLeak => {
                p.start = t_end * u(1, 0.6, 0.75);
                p.rate = base * u(2, 0.3, 1.0) / t_end;
            }
            Shape::SawtoothAfterWarmup => {
                p.other = base * u(1, 0.2, 0.5);
                p.tau = t_end * u(2, 0.03, 0.08);
                p.height = base * u(3, 0.05, 0.2);
                p.period = (t_end / u(4, 12.0, 18.0)).max(min_period);
            }
            Shape::CompactionLeak => {
                let rise = base * u(1, 0.1, 0.4);
                p.rate = rise / t_end;
                p.step = t_end / u(2, 30.0, 60.0);
                p.start = t_end * u(3, 0.3, 0.5);
                p.other = rise * u(4, 0.2, 0.4);
            }
            Shape::BatchWorkerLeak => {
                p.height = base * u(1, 2.0, 4.0);
                let cycles = u(2, 60.0, 150.0).min(t_end / min_period);
                p.period = t_end / cycles;
                p.rate = p.height * u(3, 0.03, 0.06) / t_end;
                // The share of each period spent on a batch; the rest idles at the floor.
                p.other = u(4, 0.4, 0.7);
            }
            _ => {}
        }
        p.phase = u(9, 0.0, 1.0) * p.period;
        p
    }

    /// The value of `shape` at `t` over `base`, with noise `e`.
    fn value(&self, shape: Shape, t: f64, base: f64, e: f64) -> f64 {
        let frac = ((t + self.phase) % self.period) / self.period;
        match shape {
            Shape::TallSawtoothLeak => base + self.height * frac + self.rate * t + e * 0.2,
            Shape::SlowWarmup => base + self.height * (1.0 - (-t / self.tau).exp()) + e,
            Shape::GrowingPeaks => {
                let grown = (t / self.t_end).min(1.0);
                let ramp = ((frac - self.rest) / (1.0 - self.rest)).max(0.0);
                base + (self.height + (self.other - self.height) * grown) * ramp + e * 0.2
            }
            Shape::LateLeak => base + self.rate * (t - self.start).max(0.0) + e,
            Shape::SawtoothAfterWarmup => {
                base + self.other * (1.0 - (-t / self.tau).exp()) + self.height * frac + e * 0.2
            }
            Shape::CompactionLeak => {
                let steps = (t / self.step).floor() * self.step;
                let drop = if t >= self.start { self.other } else { 0.0 };
                base + self.rate * steps - drop + e * 0.2
            }
            Shape::BatchWorkerLeak => {
                let busy = (frac / self.other).min(1.0);
                let batch = if frac < self.other { busy } else { 0.0 };
                base + self.height * batch + self.rate * t + e * 0.05
            }
            _ => base + e,
        }
    }
}

/// A value in `[lo, hi)` fixed by `seed` alone.
fn rng_const(seed: u64, lo: f64, hi: f64) -> f64 {
    Rng::new(seed).range(lo, hi)
}

/// Writes a large leakwatch log to `out`: `rows` samples at 10 ms of a slow
/// leak under a GC sawtooth, with the columns `timestamp,elapsed_s,pid,
/// rss_bytes,vsz_bytes` (about 60 bytes a row), for timing `analyze` and
/// `plot` on logs of millions of rows.
pub fn write_big_log(rows: u64, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write;
    use std::time::{Duration, UNIX_EPOCH};
    let mut f = std::io::BufWriter::with_capacity(1 << 20, out);
    writeln!(f, "timestamp,elapsed_s,pid,rss_bytes,vsz_bytes")?;
    let t0 = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    for i in 0..rows {
        let ms = i * 10;
        let ts = humantime::format_rfc3339_millis(t0 + Duration::from_millis(ms));
        let rss = 200_000_000 + i * 3 + (i % 3000) * 20_000;
        writeln!(
            f,
            "{ts},{}.{:03},4242,{rss},{}",
            ms / 1000,
            ms % 1000,
            rss * 3
        )?;
    }
    f.flush()
}
