//! Time: the [`Clock`] every loop reads and waits on, the system clock on
//! a tick grid, and a fake one for exact tests. Nothing else in leakwatch
//! reads the time or sleeps.

use std::time::{Duration, Instant, SystemTime};

/// Why a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// The time waited for has come.
    Tick,
    /// Something asked to stop; the reason in words.
    Stopped(String),
    /// Something happened that wants a sample now (a run ended), before the tick.
    Woken,
}

/// A source of time and of waits.
pub trait Clock {
    /// Seconds since the clock started (to the millisecond for the system clock).
    fn now(&self) -> f64;

    /// The wall-clock time now.
    fn wall(&self) -> SystemTime;

    /// The time of the next tick, `interval` seconds after the last one on
    /// a grid from the start (ticks already missed are skipped, not made up
    /// in a burst).
    fn next_tick(&mut self, interval: f64) -> f64;

    /// Waits until `t` seconds, unless `poll` (asked at least once, then
    /// now and then) gives a reason to end the wait first.
    fn wait_until(&mut self, t: f64, poll: &mut dyn FnMut() -> Option<Wake>) -> Wake;
}

/// The next tick after `tick` for a clock at `now`: the tick after the last
/// one, or the first not yet passed, whichever is later.
fn grid_next(tick: &mut u64, now: f64, interval: f64) -> f64 {
    let due = (now / interval).ceil();
    let due = if due < u64::MAX as f64 {
        due as u64
    } else {
        u64::MAX
    };
    *tick = tick.saturating_add(1).max(due);
    *tick as f64 * interval
}

/// Sleeps for `d`, or less if a signal handler ran in this thread meanwhile
/// (`nanosleep` is never restarted after a handler).
fn sleep_unless_signalled(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    };
    // SAFETY: nanosleep(2) reads the timespec we pass; no remainder asked.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

/// The system clock: monotonic time from its start, ticks on a fixed grid.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
    tick: u64,
    slice: Duration,
}

impl SystemClock {
    /// A clock whose time starts now; waits look at their poll every 50 ms.
    pub fn start() -> SystemClock {
        SystemClock {
            start: Instant::now(),
            tick: 0,
            slice: Duration::from_millis(50),
        }
    }

    /// The same clock, looking at a wait's poll every `slice` (a repeat
    /// wants a run's end seen within milliseconds).
    pub fn polling_every(mut self, slice: Duration) -> SystemClock {
        self.slice = slice;
        self
    }
}

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        // Kept to the millisecond, as the log has it, so `analyze` on the
        // log reaches exactly the live verdict.
        (self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn next_tick(&mut self, interval: f64) -> f64 {
        grid_next(&mut self.tick, self.start.elapsed().as_secs_f64(), interval)
    }

    fn wait_until(&mut self, t: f64, poll: &mut dyn FnMut() -> Option<Wake>) -> Wake {
        // A time too far away to represent is never reached: wait for a stop.
        let deadline = Duration::try_from_secs_f64(t)
            .ok()
            .and_then(|d| self.start.checked_add(d));
        loop {
            if let Some(w) = poll() {
                return w;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return Wake::Tick,
                Some(d) => d - now,
                None => Duration::MAX,
            };
            // Sleep in slices so a stop is seen within one even where the
            // signal went to another thread; here it cuts the sleep short.
            sleep_unless_signalled(left.min(self.slice));
        }
    }
}

/// A clock for tests: time moves only when waited on, at once, to the time
/// waited for. Its wall clock starts at 2023-11-14T22:13:20Z.
#[derive(Debug, Default, Clone)]
pub struct FakeClock {
    now: f64,
    tick: u64,
}

impl FakeClock {
    /// A fake clock at 0 s.
    pub fn new() -> FakeClock {
        FakeClock::default()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> f64 {
        (self.now * 1000.0).round() / 1000.0
    }

    fn wall(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(1_700_000_000)
            + Duration::from_secs_f64(self.now)
    }

    fn next_tick(&mut self, interval: f64) -> f64 {
        grid_next(&mut self.tick, self.now, interval)
    }

    fn wait_until(&mut self, t: f64, poll: &mut dyn FnMut() -> Option<Wake>) -> Wake {
        if let Some(w) = poll() {
            return w;
        }
        self.now = self.now.max(t);
        Wake::Tick
    }
}

/// CPU seconds this thread has used (user and system): what a read that
/// walks a process's page tables really costs, whatever the scheduler did
/// meanwhile.
pub fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_lie_on_a_grid_and_missed_ones_are_skipped() {
        let mut tick = 0;
        assert_eq!(grid_next(&mut tick, 0.0, 0.5), 0.5);
        assert_eq!(grid_next(&mut tick, 0.6, 0.5), 1.0);
        // Late by two ticks: the next one not yet passed.
        assert_eq!(grid_next(&mut tick, 2.2, 0.5), 2.5);
        let mut c = FakeClock::new();
        let t = c.next_tick(1.0);
        assert_eq!(c.wait_until(t, &mut || None), Wake::Tick);
        assert_eq!(c.now(), 1.0);
        assert_eq!(
            c.wait_until(2.0, &mut || Some(Wake::Stopped("x".into()))),
            Wake::Stopped("x".into())
        );
        assert_eq!(c.now(), 1.0);
    }
}
