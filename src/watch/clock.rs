//! The watch's sense of time: the system clock on a fixed tick grid, or a
//! simulated one that a replay advances to each logged sample.

use crate::sampler::replay::SharedReplay;
use std::time::{Duration, Instant, SystemTime};

/// Why the wait for the next tick ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// The next tick is due: sample now.
    Tick,
    /// The next tick would fall past the watch's end.
    Deadline,
    /// Something asked the watch to stop; the reason in words.
    Stopped(String),
}

/// A source of time and of waits between samples.
pub trait Clock {
    /// Seconds since the watch began (to the millisecond for a live watch).
    fn elapsed(&self) -> f64;

    /// The wall-clock time of the current sample.
    fn wall(&self) -> SystemTime;

    /// Waits for the next tick `interval` seconds apart (ticks already
    /// missed are skipped), unless it would fall after `until` seconds or
    /// `stop` gives a reason to stop first.
    fn wait_next(
        &mut self,
        interval: f64,
        until: Option<f64>,
        stop: &mut dyn FnMut() -> Option<String>,
    ) -> Wake;
}

/// The system clock: ticks on a fixed grid from the watch's start.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
    tick: u64,
}

impl SystemClock {
    /// A clock whose time starts now.
    pub fn start() -> SystemClock {
        SystemClock {
            start: Instant::now(),
            tick: 0,
        }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> f64 {
        // Kept to the millisecond, as the log has it, so `analyze` on the log
        // reaches exactly the live verdict.
        (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn wait_next(
        &mut self,
        interval: f64,
        until: Option<f64>,
        stop: &mut dyn FnMut() -> Option<String>,
    ) -> Wake {
        let after = self.start.elapsed().as_secs_f64();
        let due = (after / interval).ceil();
        self.tick = (self.tick + 1).max(if due < u64::MAX as f64 {
            due as u64
        } else {
            u64::MAX
        });
        let next_at = self.tick as f64 * interval;
        if until.is_some_and(|d| next_at > d + 1e-9) {
            return Wake::Deadline;
        }
        // A tick too far away to represent is never reached: wait for a stop.
        let deadline = Duration::try_from_secs_f64(next_at)
            .ok()
            .and_then(|d| self.start.checked_add(d));
        loop {
            if let Some(why) = stop() {
                return Wake::Stopped(why);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return Wake::Tick,
                Some(d) => d - now,
                None => Duration::MAX,
            };
            // Sleep in short slices so a signal ends even a long interval promptly.
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

/// A simulated clock for a replayed log: each wait moves it, at once, to the
/// next logged sample's time.
pub struct ReplayClock {
    replay: SharedReplay,
    now: f64,
    wall: f64,
}

impl ReplayClock {
    /// A clock at the replay's first sample.
    pub fn new(replay: SharedReplay) -> ReplayClock {
        let (now, wall) = {
            let r = replay.borrow();
            (r.peek_time().unwrap_or(0.0), r.peek_wall().unwrap_or(0.0))
        };
        ReplayClock { replay, now, wall }
    }
}

impl Clock for ReplayClock {
    fn elapsed(&self) -> f64 {
        self.now
    }

    fn wall(&self) -> SystemTime {
        Duration::try_from_secs_f64(self.wall)
            .ok()
            .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn wait_next(
        &mut self,
        _interval: f64,
        until: Option<f64>,
        stop: &mut dyn FnMut() -> Option<String>,
    ) -> Wake {
        if let Some(why) = stop() {
            return Wake::Stopped(why);
        }
        let r = self.replay.borrow();
        let Some(next) = r.peek_time() else {
            // The end of the log: the sampler says so.
            return Wake::Tick;
        };
        if until.is_some_and(|d| next > d + 1e-9) {
            return Wake::Deadline;
        }
        self.now = next;
        self.wall = r.peek_wall().unwrap_or(self.wall);
        Wake::Tick
    }
}
