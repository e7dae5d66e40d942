//! The one loop under every mode: targets found by a [`Discovery`], sampled
//! on the ticks of a [`Clock`], each judged by its own [`Judging`], and handed
//! to [`Output`]s (a log, a progress line, a live table, an exporter). A
//! watch, a scan and a repeat differ only in what they give it: the
//! discovery, the outputs and a [`Driver`] (a repeat's runs, a started
//! command's exit). Fakes of each (a sampler, the [`FakeClock`](crate::sys::clock::FakeClock)
//! , a procfs tree) drive it exactly in tests.

pub mod output;
pub mod replay;

use crate::detector::VerdictKind;
pub use crate::discovery::{Discovery, Label, Limit, LimitSource, NewTarget};
use crate::judging::{Judged, Judging};
use crate::metrics::Reading;
use crate::sampler::{Sampled, Sampler};
use crate::sys::clock::{Clock, Wake};
use anyhow::Result;
pub use output::{Frame, Output, Tick};

/// When the loop stops by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Seconds between ticks.
    pub interval: f64,
    /// Stop once the next tick would fall after this many seconds.
    pub duration: Option<f64>,
    /// Stop after this many samples (over every target).
    pub samples: Option<u64>,
}

/// A target being watched, or watched until it went away.
pub struct Target {
    /// Its place in the order targets joined.
    pub id: usize,
    /// Who it is.
    pub label: Label,
    /// Its memory limit, if it has one.
    pub limit: Option<Limit>,
    /// Its series' detectors.
    pub judging: Judging,
    /// Engine seconds its own time counts from.
    pub origin: f64,
    /// Engine seconds when it joined.
    pub first_s: f64,
    /// Engine seconds when it was last sampled.
    pub last_s: f64,
    /// Its last reading.
    pub last: Reading,
    /// Samples taken.
    pub samples: u64,
    /// It is gone (its sampler is closed).
    pub gone: bool,
    sampler: Option<Box<dyn Sampler>>,
    /// The reason its sampler gives for being gone.
    gone_why: &'static str,
    /// Its sampler's note, kept when the sampler is closed.
    note: Option<String>,
}

impl Target {
    /// Every judged series' verdict now.
    pub fn judged(&self) -> Vec<Judged> {
        self.judging.judged()
    }

    /// Descriptors its sampler holds.
    pub fn held(&self) -> u64 {
        self.sampler.as_ref().map_or(0, |s| s.held())
    }
}

/// What stops a loop from outside: a signal's reason, if one came.
pub type Stop<'a> = &'a mut dyn FnMut() -> Option<String>;

/// What a mode adds to the loop: when it ends, and what happens between ticks.
pub trait Driver {
    /// After each tick's samples: `Some(reason)` to end the loop.
    fn after_tick(&mut self, _t: f64, _targets: &[Target]) -> Result<Option<String>> {
        Ok(None)
    }

    /// Asked while waiting for the next tick: end now ([`Wake::Stopped`]),
    /// sample now ([`Wake::Woken`]), or wait on (`None`).
    fn poll(&mut self) -> Option<Wake> {
        None
    }

    /// A mark put on each sample (a repeat's run), for the log.
    fn mark(&self) -> Option<i64> {
        None
    }

    /// At most how many exited targets to keep (`None`: every one). With a
    /// cap, an exited target is kept only if it was judged (leaking, or its
    /// rate known); the rest are counted in [`Ended::dropped`] and freed.
    fn exited_cap(&self) -> Option<usize> {
        None
    }
}

/// Exited targets the loop let go of, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Gone before they could be judged (no rate known, not leaking).
    pub short_lived: u64,
    /// Judged, but let go of to keep the exited ones under the cap (the
    /// oldest that were not leaking first).
    pub over_cap: u64,
}

/// A driver that adds nothing.
pub struct NoDriver;

impl Driver for NoDriver {}

/// How the loop ended and what it saw.
pub struct Ended {
    /// Why: `duration`, `sample count`, `target exited`, a signal, `write error`, the driver's reason.
    pub ended_by: String,
    /// Every target, in the order they joined (gone ones too).
    pub targets: Vec<Target>,
    /// Engine seconds at the end.
    pub duration_s: f64,
    /// An output's error, which ended the loop.
    pub error: Option<anyhow::Error>,
    /// Warnings the outputs met.
    pub warnings: Vec<String>,
    /// Exited targets let go of (with the driver's [`Driver::exited_cap`]).
    pub dropped: Dropped,
}

/// The loop's parts (the outputs may live less long than the rest).
pub struct Engine<'a, 'o> {
    /// When it stops by itself.
    pub limits: Limits,
    /// Its time.
    pub clock: &'a mut dyn Clock,
    /// What finds its targets.
    pub discovery: &'a mut dyn Discovery,
    /// The judging each new target starts with.
    pub judging: Judging,
    /// Where samples go.
    pub outputs: Vec<&'o mut dyn Output>,
    /// What the mode adds.
    pub driver: &'a mut dyn Driver,
}

/// What the loop does next, after a step.
enum Next {
    Go,
    End(String),
}

impl Engine<'_, '_> {
    /// Runs the loop until a limit, the targets' end, `stop`, the driver or
    /// an output error. A sampling error is returned as is.
    pub fn run(mut self, stop: Stop) -> Result<Ended> {
        let mut targets = Targets::default();
        let mut samples = 0u64;
        // A tick not yet reached when the driver asked for a sample now.
        let mut pending = None;
        let mut error = None;
        let ended_by = loop {
            let t = self.clock.now();
            let next = match self.step(t, &mut targets, &mut samples) {
                Ok(next) => self.let_go(&mut targets).map(|_| next),
                Err(e) => Err(e),
            };
            let next = match next {
                Ok(next) => next,
                Err(Failure::Sampling(e)) => return Err(e),
                Err(Failure::Output(e)) => {
                    error = Some(e);
                    break "write error".to_string();
                }
            };
            // The driver sees every tick, the last one too.
            if let Some(why) = self.driver.after_tick(t, &targets.all)? {
                break why;
            }
            if let Next::End(why) = next {
                break why;
            }
            if let Some(why) = self.wait(stop, &mut pending) {
                break why;
            }
        };
        let mut warnings = self.discovery.warnings();
        // Samplers that read a metric less often than the interval say so.
        warnings.extend(targets.all.iter().filter_map(|t| match &t.sampler {
            Some(s) => s.note(),
            None => t.note.clone(),
        }));
        warnings.extend(targets.notes);
        for o in self.outputs.iter_mut() {
            o.finish(&targets.all);
            warnings.extend(o.warnings());
        }
        Ok(Ended {
            ended_by,
            duration_s: self.clock.now(),
            targets: targets.all,
            error,
            warnings,
            dropped: targets.dropped,
        })
    }

    /// Lets go of the targets that exited this tick, under the driver's cap:
    /// those not judged at once, then (over the cap) the oldest judged ones
    /// that were not leaking, then the oldest.
    fn let_go(&mut self, targets: &mut Targets) -> Result<(), Failure> {
        let Some(cap) = self.driver.exited_cap() else {
            targets.exited_now.clear();
            return Ok(());
        };
        if targets.exited_now.is_empty() {
            return Ok(());
        }
        let now = std::mem::take(&mut targets.exited_now);
        let mut drop: Vec<usize> = Vec::new();
        for id in now {
            let Some(tg) = targets.all.iter().find(|t| t.id == id) else {
                continue;
            };
            let (judged, leaking) = judged(tg);
            if judged {
                targets.kept_exited.push_back((id, leaking));
            } else {
                targets.dropped.short_lived += 1;
                drop.push(id);
            }
        }
        while targets.kept_exited.len() > cap {
            let at = targets
                .kept_exited
                .iter()
                .position(|&(_, leaking)| !leaking)
                .unwrap_or(0);
            if let Some((id, _)) = targets.kept_exited.remove(at) {
                targets.dropped.over_cap += 1;
                drop.push(id);
            }
        }
        if drop.is_empty() {
            return Ok(());
        }
        // The notes of those let go of still reach the report, once each.
        for tg in targets.all.iter().filter(|t| drop.contains(&t.id)) {
            if let Some(n) = &tg.note
                && !targets.notes.contains(n)
            {
                targets.notes.push(n.clone());
            }
            for o in self.outputs.iter_mut() {
                o.dropped(tg).map_err(Failure::Output)?;
            }
        }
        targets.all.retain(|t| !drop.contains(&t.id));
        targets.all.shrink_to(targets.all.len() * 2);
        Ok(())
    }

    /// Waits for the next tick (the `pending` one, if a wake came before
    /// it); the reason to end, if the wait ended the loop.
    fn wait(&mut self, stop: Stop, pending: &mut Option<f64>) -> Option<String> {
        let next = match pending.take() {
            Some(t) => t,
            None => self.clock.next_tick(self.limits.interval),
        };
        if self.limits.duration.is_some_and(|d| next > d + 1e-9) {
            return Some("duration".into());
        }
        let driver = &mut *self.driver;
        let mut poll = || stop().map(Wake::Stopped).or_else(|| driver.poll());
        match self.clock.wait_until(next, &mut poll) {
            Wake::Tick => None,
            Wake::Woken => {
                *pending = Some(next);
                None
            }
            Wake::Stopped(why) => Some(why),
        }
    }

    /// One tick at `t`: new targets join, every target is sampled, the
    /// outputs see it all.
    fn step(&mut self, t: f64, all: &mut Targets, samples: &mut u64) -> Result<Next, Failure> {
        let Targets {
            all: targets,
            next_id,
            exited_now,
            ..
        } = all;
        let wall = self.clock.wall();
        let mark = self.driver.mark();
        // Targets that joined with a reading: sampled already this tick.
        let mut read_at_join = Vec::new();
        for nt in self.discovery.discover(t) {
            *next_id += 1;
            let target = Target {
                id: *next_id - 1,
                label: nt.label,
                limit: nt.limit,
                judging: self.judging.clone(),
                origin: nt.origin.unwrap_or(t),
                first_s: t,
                last_s: t,
                last: Reading::default(),
                samples: 0,
                gone: false,
                gone_why: nt.sampler.gone(),
                note: None,
                sampler: Some(nt.sampler),
            };
            for o in self.outputs.iter_mut() {
                o.joined(&target).map_err(Failure::Output)?;
            }
            targets.push(target);
            if let Some(first) = nt.first {
                let i = targets.len() - 1;
                self.record(&mut targets[i], t, wall, &first, mark)?;
                *samples += 1;
                read_at_join.push(targets[i].id);
            }
        }
        for tg in targets.iter_mut() {
            if tg.gone || read_at_join.contains(&tg.id) {
                continue;
            }
            let Some(sampler) = tg.sampler.as_mut() else {
                continue;
            };
            match sampler.sample().map_err(Failure::Sampling)? {
                Some(s) => {
                    self.record(tg, t, wall, &s, mark)?;
                    *samples += 1;
                }
                None if sampler.waiting() => {}
                None => {
                    tg.gone = true;
                    tg.gone_why = sampler.gone();
                    let held = sampler.held();
                    tg.note = sampler.note();
                    tg.sampler = None;
                    self.discovery.forget(&tg.label, held);
                    exited_now.push(tg.id);
                    for o in self.outputs.iter_mut() {
                        o.left(tg).map_err(Failure::Output)?;
                    }
                }
            }
        }
        let frame = Frame {
            t,
            targets,
            scope: self.discovery.scope(),
        };
        for o in self.outputs.iter_mut() {
            o.tick(&frame).map_err(Failure::Output)?;
        }
        if self.limits.samples.is_some_and(|max| *samples >= max) {
            return Ok(Next::End("sample count".into()));
        }
        if !self.discovery.open_ended() && !targets.is_empty() && targets.iter().all(|t| t.gone) {
            let why = targets.last().map_or("target exited", |t| t.gone_why);
            return Ok(Next::End(why.into()));
        }
        Ok(Next::Go)
    }

    /// Takes sample `s` of `tg` at engine time `t`: judged, kept, handed on.
    fn record(
        &mut self,
        tg: &mut Target,
        t: f64,
        wall: std::time::SystemTime,
        s: &Sampled,
        mark: Option<i64>,
    ) -> Result<(), Failure> {
        if s.fresh {
            tg.judging.reset();
        }
        let own = t - tg.origin;
        tg.judging.push_reading(own, &s.reading);
        tg.last = s.reading;
        tg.last_s = t;
        tg.samples += 1;
        tg.label.pid = s.pid;
        let tick = Tick {
            t: own,
            wall,
            pid: s.pid,
            reading: &s.reading,
            target: tg,
            mark,
        };
        for o in self.outputs.iter_mut() {
            o.sample(&tick).map_err(Failure::Output)?;
        }
        Ok(())
    }
}

/// The loop's targets, and what it let go of.
#[derive(Default)]
struct Targets {
    /// Every target kept, in the order they joined.
    all: Vec<Target>,
    /// The id the next target gets.
    next_id: usize,
    /// Targets that exited this tick.
    exited_now: Vec<usize>,
    /// Exited targets kept, oldest first, and whether each was leaking.
    kept_exited: std::collections::VecDeque<(usize, bool)>,
    /// Those let go of, counted.
    dropped: Dropped,
    /// Sampler notes of targets let go of.
    notes: Vec<String>,
}

/// Whether an exited target lived long enough to be judged (it is
/// `leaking`, or its judged series' rate is known), and whether it leaks.
fn judged(tg: &Target) -> (bool, bool) {
    let all = tg.judging.judged();
    if all.is_empty() {
        return (false, false);
    }
    let (shown, kind) = tg.judging.judge().pick(&all);
    let leaking = kind == VerdictKind::Leaking;
    (leaking || shown.verdict.finding.rate_known(), leaking)
}

/// Why a step failed.
enum Failure {
    /// A sampler's error: the loop's own.
    Sampling(anyhow::Error),
    /// An output's error: the loop ends with a report.
    Output(anyhow::Error),
}
