//! The engine on its seams: a fake sampler and the fake clock, so every
//! rule of the loop (its ticks, ends, outputs, restarts, drivers) is tested
//! exactly and at once, without real processes or real seconds.

use crate::fakes::{Series, reading};
use leakwatch::detector::{DetectorConfig, VerdictKind};
use leakwatch::discovery::{Label, NewTarget, Single};
use leakwatch::engine::{Driver, Ended, Engine, Limits, NoDriver, Output, Target, Tick};
use leakwatch::judging::{Judge, Judging};
use leakwatch::log::LogWriter;
use leakwatch::metrics::Metric;
use leakwatch::sampler::follow::Follow;
use leakwatch::sampler::{Sampled, Sampler};
use leakwatch::sys::clock::{FakeClock, Wake};

fn label(pid: u32) -> Label {
    Label {
        pid,
        name: "fake".into(),
        command: "fake --serve".into(),
        cgroup: None,
    }
}

fn judging() -> Judging {
    Judging::new(
        DetectorConfig::default(),
        &[Metric::Rss, Metric::Vsz],
        None,
        Judge::metric(Metric::Rss),
    )
}

/// Runs `sampler` as one target at `limits`, with `outputs`, `driver` and
/// a stop that gives `stop_after` polls of the clock first.
fn run(
    sampler: Box<dyn Sampler>,
    limits: Limits,
    outputs: Vec<&mut dyn Output>,
    driver: &mut dyn Driver,
    stop_after: Option<u32>,
) -> Ended {
    let mut clock = FakeClock::new();
    let mut discovery = Single::new(NewTarget {
        sampler,
        label: label(42),
        limit: None,
        first: None,
        origin: Some(0.0),
    });
    let mut polls = 0u32;
    let mut stop = || {
        polls += 1;
        stop_after
            .is_some_and(|n| polls > n)
            .then(|| "interrupted (SIGINT)".to_string())
    };
    Engine {
        limits,
        clock: &mut clock,
        discovery: &mut discovery,
        judging: judging(),
        outputs,
        driver,
    }
    .run(&mut stop)
    .unwrap()
}

fn limits(duration: Option<f64>, samples: Option<u64>) -> Limits {
    Limits {
        interval: 1.0,
        duration,
        samples,
    }
}

/// A leak of 1 MiB a tick under a little noise.
fn leak(n: usize) -> Series {
    Series::new(
        42,
        (0..n).map(|i| (100 << 20) + ((i as u64) << 20) + (i as u64 * 7919 % 13) * 4096),
    )
}

#[test]
fn a_leak_on_the_fake_clock_is_judged_and_logged_on_its_tick_grid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    let mut log = LogWriter::open(&path, &[Metric::Rss, Metric::Vsz]).unwrap();
    let ended = run(
        Box::new(leak(10_000)),
        limits(Some(300.0), None),
        vec![&mut log],
        &mut NoDriver,
        None,
    );
    drop(log);
    assert_eq!(ended.ended_by, "duration");
    let t = &ended.targets[0];
    // Ticks at 0, 1, …, 300 s: 301 samples, none made up or lost.
    assert_eq!(t.samples, 301);
    let v = t.judging.shown().detector.verdict();
    assert_eq!(v.kind, VerdictKind::Leaking, "{v:?}");
    assert!(
        (v.rate - (1u64 << 20) as f64).abs() < 0.02 * (1u64 << 20) as f64,
        "{}",
        v.rate
    );
    let rows = crate::common::rows(&path);
    assert_eq!(rows.len(), 301);
    assert!(rows[0].contains(",0.000,42,"), "{}", rows[0]);
    assert!(rows[300].contains(",300.000,42,"), "{}", rows[300]);
    // The fake clock's wall time is on the rows too.
    assert!(
        rows[1].starts_with("2023-11-14T22:13:21.000Z"),
        "{}",
        rows[1]
    );
}

#[test]
fn the_loop_ends_by_sample_count_by_the_targets_end_and_by_a_stop() {
    let ended = run(
        Box::new(leak(100)),
        limits(None, Some(7)),
        vec![],
        &mut NoDriver,
        None,
    );
    assert_eq!(
        (ended.ended_by.as_str(), ended.targets[0].samples),
        ("sample count", 7)
    );
    let ended = run(
        Box::new(leak(12)),
        limits(None, None),
        vec![],
        &mut NoDriver,
        None,
    );
    assert_eq!(
        (ended.ended_by.as_str(), ended.targets[0].samples),
        ("target exited", 12)
    );
    assert!(ended.targets[0].gone);
    let ended = run(
        Box::new(leak(100)),
        limits(None, None),
        vec![],
        &mut NoDriver,
        Some(5),
    );
    assert_eq!(ended.ended_by, "interrupted (SIGINT)");
    assert_eq!(ended.targets[0].samples, 6);
}

/// An output that fails on its `n`th sample.
struct FailsAt(u64, u64);

impl Output for FailsAt {
    fn sample(&mut self, _tick: &Tick) -> anyhow::Result<()> {
        self.1 += 1;
        if self.1 >= self.0 {
            anyhow::bail!("disk full");
        }
        Ok(())
    }
}

#[test]
fn an_output_error_ends_the_loop_with_what_was_seen() {
    let mut out = FailsAt(5, 0);
    let ended = run(
        Box::new(leak(100)),
        limits(None, None),
        vec![&mut out],
        &mut NoDriver,
        None,
    );
    assert_eq!(ended.ended_by, "write error");
    assert_eq!(ended.error.unwrap().to_string(), "disk full");
    assert_eq!(ended.targets[0].samples, 5);
}

#[test]
fn a_follow_restart_judges_the_new_run_alone() {
    // A leak, then its successor holding flat: the verdict is the new run's.
    let mut next =
        Some(Box::new(Series::new(43, std::iter::repeat_n(50 << 20, 120))) as Box<dyn Sampler>);
    let follow = Follow::new(Box::new(leak(60)), Box::new(move || Ok(next.take())));
    // After both, it waits for a third: the duration ends it.
    let ended = run(
        Box::new(follow),
        limits(Some(300.0), None),
        vec![],
        &mut NoDriver,
        None,
    );
    let t = &ended.targets[0];
    assert_eq!(t.label.pid, 43);
    assert_eq!(t.samples, 180);
    let v = t.judging.shown().detector.verdict();
    assert_eq!(v.samples, 120);
    assert_eq!(v.kind, VerdictKind::Plateau, "{v:?}");
    assert_eq!(ended.ended_by, "duration");
    assert!(!t.gone);
}

/// A driver that wakes the loop between two ticks, once, and stops it at 10 s.
struct Wakes {
    woke: bool,
    seen: Vec<f64>,
}

impl Driver for Wakes {
    fn after_tick(&mut self, t: f64, _targets: &[Target]) -> anyhow::Result<Option<String>> {
        self.seen.push(t);
        Ok((t >= 10.0).then(|| "done".into()))
    }

    fn poll(&mut self) -> Option<Wake> {
        if self.seen.len() == 3 && !self.woke {
            self.woke = true;
            return Some(Wake::Woken);
        }
        None
    }
}

#[test]
fn a_driver_wakes_the_loop_for_a_sample_now_and_ends_it() {
    let mut d = Wakes {
        woke: false,
        seen: Vec::new(),
    };
    let ended = run(
        Box::new(leak(100)),
        limits(None, None),
        vec![],
        &mut d,
        None,
    );
    assert_eq!(ended.ended_by, "done");
    // Ticks 0, 1, 2; a sample at once (still 2 s on the fake clock); then on.
    assert_eq!(&d.seen[..5], &[0.0, 1.0, 2.0, 2.0, 3.0]);
    assert_eq!(ended.targets[0].samples, 12);
}

/// A sampler that is between targets now and then (a follow waiting).
struct Waits(u32);

impl Sampler for Waits {
    fn sample(&mut self) -> anyhow::Result<Option<Sampled>> {
        self.0 += 1;
        Ok((!self.0.is_multiple_of(3)).then(|| Sampled {
            reading: reading(1 << 20),
            pid: 7,
            fresh: false,
        }))
    }

    fn waiting(&self) -> bool {
        true
    }
}

#[test]
fn a_target_awaited_keeps_the_loop_going_without_samples() {
    let ended = run(
        Box::new(Waits(0)),
        limits(Some(8.0), None),
        vec![],
        &mut NoDriver,
        None,
    );
    assert_eq!(ended.ended_by, "duration");
    // 9 ticks, every third without a sample.
    assert_eq!(ended.targets[0].samples, 6);
    assert!(!ended.targets[0].gone);
}
