//! leakwatch: tells whether a running process is still leaking memory.
//!
//! The library holds everything; `src/main.rs` only calls [`cli::main`].
//! - [`sampler`]: reads a process's RSS and VSZ (`/proc` on Linux, sysinfo elsewhere).
//! - [`detector`]: the streaming plateau-vs-growth detector.
//! - [`log`]: the CSV log format, written live and read back.
//! - [`watch`]: the live watch loop.
//! - [`analyze`] and [`plot`]: judging and drawing a log offline.
//! - [`report`]: the verdict as text or JSON, and the exit codes.
//! - [`cli`]: the command line, validated into plain configs.
//! - [`units`]: human sizes, rates and durations.
//! - [`synth`]: seeded synthetic series of the shapes real processes show.

pub mod analyze;
pub mod cli;
pub mod detector;
pub mod log;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod sampler;
pub mod synth;
pub mod units;
pub mod watch;
