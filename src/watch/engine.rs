//! The watch loop itself: sample, judge, hand to the outputs, wait for the
//! next tick. It is given its sampler, clock and outputs, so a replay or a
//! test drives it as exactly as a live process.

use super::clock::{Clock, Wake};
use super::output::{Output, Tick};
use crate::judging::Judging;
use crate::sampler::Sampler;
use anyhow::Result;

/// When the loop stops by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Seconds between samples.
    pub interval: f64,
    /// Stop once the next tick would fall after this many seconds.
    pub duration: Option<f64>,
    /// Stop after this many samples.
    pub samples: Option<u64>,
}

/// How the loop ended.
#[derive(Debug)]
pub struct LoopEnd {
    /// Why: `duration`, `sample count`, `target exited`, a signal, `write error`.
    pub ended_by: String,
    /// Samples taken.
    pub samples: u64,
    /// The last process sampled, if any.
    pub pid: Option<u32>,
    /// An output's error, which ended the watch.
    pub error: Option<anyhow::Error>,
}

/// Runs the loop until a limit, the target's end, `stop` or an output error.
/// A sampling error is returned as is.
pub fn run_loop(
    limits: Limits,
    sampler: &mut dyn Sampler,
    clock: &mut dyn Clock,
    judging: &mut Judging,
    outputs: &mut [&mut dyn Output],
    stop: &mut dyn FnMut() -> Option<String>,
) -> Result<LoopEnd> {
    let mut end = LoopEnd {
        ended_by: String::new(),
        samples: 0,
        pid: None,
        error: None,
    };
    loop {
        let Some(s) = sampler.sample()? else {
            if !sampler.waiting() {
                end.ended_by = sampler.gone().into();
                break;
            }
            match clock.wait_next(limits.interval, limits.duration, stop) {
                Wake::Tick => continue,
                Wake::Deadline => end.ended_by = "duration".into(),
                Wake::Stopped(why) => end.ended_by = why,
            }
            break;
        };
        let t = clock.elapsed();
        if s.fresh {
            judging.reset();
        }
        judging.push_reading(t, &s.reading);
        end.samples += 1;
        end.pid = Some(s.pid);
        let tick = Tick {
            t,
            wall: clock.wall(),
            pid: s.pid,
            reading: &s.reading,
            samples: end.samples,
            judging,
        };
        if let Some(e) = outputs.iter_mut().find_map(|o| o.sample(&tick).err()) {
            end.error = Some(e);
            end.ended_by = "write error".into();
            break;
        }
        if limits.samples.is_some_and(|max| end.samples >= max) {
            end.ended_by = "sample count".into();
            break;
        }
        match clock.wait_next(limits.interval, limits.duration, stop) {
            Wake::Tick => {}
            Wake::Deadline => {
                end.ended_by = "duration".into();
                break;
            }
            Wake::Stopped(why) => {
                end.ended_by = why;
                break;
            }
        }
    }
    for o in outputs.iter_mut() {
        o.finish();
    }
    Ok(end)
}
