//! leakwatch: tells whether a running process is still leaking memory.
//!
//! The library holds everything; `src/main.rs` only calls [`app::main`].
//! - [`sampler`]: reads a process's metrics (`/proc` on Linux, sysinfo
//!   elsewhere), or replays a log as if it were a process.
//! - [`detector`]: the streaming plateau-vs-growth detector; numbers only.
//! - [`judging`]: a detector per series and the rule for which decides.
//! - [`log`]: the CSV log format, written live and read back.
//! - [`watch`]: the live watch: its loop, clocks, targets and outputs.
//! - [`scan`]: every process (or cgroup) of a machine watched at once.
//! - [`cgroup`]: control groups (containers, services) as memory targets.
//! - [`analyze`] and [`plot`]: judging and drawing a log offline.
//! - [`export`] and [`prometheus`]: verdicts for Prometheus to scrape, and
//!   judging the series a Prometheus server holds.
//! - [`repeat`]: the bytes each run of a client leaves behind;
//!   [`runtime`]: what a leaking process runs on, and the next step.
//! - [`report`]: the verdict in words, as text or JSON.
//! - [`app`]: runs a configuration, prints, and picks the [`exit_codes`].
//! - [`cli`]: the command line, validated into plain configs.
//! - [`metrics`] and [`units`]: what is sampled, and human sizes, rates and durations.
//! - `synth` (feature `synth`): seeded synthetic series, for tests and benchmarks.

// No unwrap in the shipped code: every failure is an error with a message.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod analyze;
pub mod app;
pub mod cgroup;
pub mod cli;
pub mod detector;
pub mod exit_codes;
pub mod export;
pub mod judging;
pub mod log;
pub mod metrics;
pub mod plot;
pub mod prometheus;
pub mod repeat;
pub mod report;
pub mod runtime;
pub mod sampler;
pub mod scan;
#[cfg(feature = "synth")]
pub mod synth;
pub mod units;
pub mod watch;
