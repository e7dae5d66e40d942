//! Where each sample goes while a watch runs: the CSV log, the progress line,
//! and any later exporter, all behind one trait.

use crate::judging::Judging;
use crate::log::{LogWriter, Sample};
use crate::sampler::Reading;
use anyhow::Result;
use std::time::SystemTime;

/// One sample as the outputs see it, with the judging so far.
pub struct Tick<'a> {
    /// Seconds since the watch began.
    pub t: f64,
    /// Wall-clock time of the sample.
    pub wall: SystemTime,
    /// The process sampled.
    pub pid: u32,
    /// What was read.
    pub reading: &'a Reading,
    /// Samples taken so far, this one included.
    pub samples: u64,
    /// The detectors, fed with this sample.
    pub judging: &'a Judging,
}

/// A consumer of samples. An error ends the watch (after its verdict).
pub trait Output {
    /// Takes one sample.
    fn sample(&mut self, tick: &Tick) -> Result<()>;

    /// The watch has ended: tidy up (clear a progress line, flush).
    fn finish(&mut self) {}
}

impl Output for LogWriter {
    fn sample(&mut self, tick: &Tick) -> Result<()> {
        self.write(&Sample {
            timestamp: tick.wall,
            elapsed_s: tick.t,
            pid: tick.pid,
            reading: *tick.reading,
            run: None,
        })
    }
}
