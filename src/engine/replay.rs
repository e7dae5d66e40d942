//! A log read back as if it were a live target, with a clock of its own: each row is a sample, at the
//! time the log gives it (appended runs and earlier watches placed as
//! `analyze` places them), so the live loop reaches `analyze`'s verdict.

use crate::log::{LogReader, Placement, ReadOptions, Row, Segmenter};
use crate::metrics::{Metric, Reading};
use crate::sampler::{Sampled, Sampler};
use crate::sys::clock::{Clock, Wake};
use anyhow::Result;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

/// The rows of a log, placed on its last watch's time axis, with one row of
/// look-ahead so a simulated clock can move to the next sample's time.
pub struct Replay {
    reader: LogReader,
    seg: Segmenter,
    next: Option<(f64, Row, Placement)>,
    /// A read error met while looking ahead, handed out by the next sample.
    error: Option<anyhow::Error>,
    wall0: Option<f64>,
}

/// A replay shared by its sampler and its clock.
pub type SharedReplay = Rc<RefCell<Replay>>;

impl Replay {
    /// Opens the log at `path` (`-` for standard input).
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<SharedReplay> {
        let reader = LogReader::open(path, opts)?;
        let mut r = Replay {
            reader,
            seg: Segmenter::default(),
            next: None,
            error: None,
            wall0: None,
        };
        r.fill();
        Ok(Rc::new(RefCell::new(r)))
    }

    /// The metric columns the log has.
    pub fn metrics(&self) -> Vec<Metric> {
        self.reader.present_metrics()
    }

    /// The log's name as used in messages.
    pub fn name(&self) -> &str {
        self.reader.name()
    }

    /// Warnings from reading (a last row cut short, a clock stepped back).
    pub fn warnings(&self) -> Vec<String> {
        self.seg.named_warnings(self.reader.warnings(), self.name())
    }

    /// Rows of earlier watches set aside, and appended runs joined, in words.
    pub fn set_aside_note(&self) -> Option<String> {
        self.seg.set_aside_note()
    }

    /// No row is left to replay (a read error is still to come, if any).
    pub fn is_empty(&self) -> bool {
        self.next.is_none() && self.error.is_none()
    }

    /// The time of the next sample, seconds on the watch's axis.
    pub fn peek_time(&self) -> Option<f64> {
        self.next.as_ref().map(|n| n.0)
    }

    /// The wall-clock time of the next sample in seconds since the epoch,
    /// from its timestamp, else from the first timestamp seen and its time.
    pub fn peek_wall(&self) -> Option<f64> {
        let (t, row, _) = self.next.as_ref()?;
        row.timestamp.or(self.wall0.map(|w| w + t))
    }

    fn fill(&mut self) {
        if self.next.is_some() || self.error.is_some() {
            return;
        }
        match self.reader.next_row() {
            Ok(Some(row)) => {
                let (t, placement) = self.seg.place(&row);
                if let Some(ts) = row.timestamp {
                    self.wall0.get_or_insert(ts - t);
                }
                self.next = Some((t, row, placement));
            }
            Ok(None) => {}
            Err(e) => self.error = Some(e),
        }
    }

    fn pop(&mut self) -> Result<Option<(f64, Row, Placement)>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let out = self.next.take();
        self.fill();
        Ok(out)
    }
}

/// Samples a replayed log, row by row.
pub struct ReplaySampler {
    replay: SharedReplay,
}

impl ReplaySampler {
    /// Samples `replay`.
    pub fn new(replay: SharedReplay) -> ReplaySampler {
        ReplaySampler { replay }
    }
}

impl Sampler for ReplaySampler {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        let Some((_, row, placement)) = self.replay.borrow_mut().pop()? else {
            return Ok(None);
        };
        let mut reading = Reading::default();
        for m in Metric::ALL {
            if let Some(v) = row.metrics[m.index()] {
                reading.values[m.index()] = v as u64;
            }
        }
        Ok(Some(Sampled {
            reading,
            pid: row.pid.map_or(0, |p| p as u32),
            fresh: placement == Placement::NewWatch,
        }))
    }

    fn gone(&self) -> &'static str {
        "end of log"
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
    fn now(&self) -> f64 {
        self.now
    }

    fn wall(&self) -> SystemTime {
        Duration::try_from_secs_f64(self.wall)
            .ok()
            .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The next logged sample's time (at the end of the log, now: the
    /// sampler then says the log has ended).
    fn next_tick(&mut self, _interval: f64) -> f64 {
        self.replay.borrow().peek_time().unwrap_or(self.now)
    }

    fn wait_until(&mut self, t: f64, poll: &mut dyn FnMut() -> Option<Wake>) -> Wake {
        if let Some(w) = poll() {
            return w;
        }
        let r = self.replay.borrow();
        if r.peek_time().is_some() {
            self.now = t;
            self.wall = r.peek_wall().unwrap_or(self.wall);
        }
        Wake::Tick
    }
}
