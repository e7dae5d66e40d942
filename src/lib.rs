//! leakwatch: tells whether a running process is still leaking memory.
//!
//! The library holds everything; `src/main.rs` only calls [`app::main`].
//! Layers, each using only those above it in this list:
//! - [`units`], [`metrics`]: human sizes, rates and durations; what is sampled.
//! - [`detector`]: the streaming plateau-vs-growth detector; numbers only.
//! - [`judging`]: a detector per series and the rule for which decides.
//! - [`sys`]: the OS layer (procfs and cgroupfs under a root that is a
//!   parameter, signals, the clock, processes, users, the terminal); all `unsafe`.
//! - [`sampler`]: what reads a target (a process, a tree, a cgroup).
//! - [`log`]: the CSV log format, written live and read back.
//! - [`discovery`]: what finds targets (one, or every process or cgroup).
//! - [`engine`]: the one loop under every mode: clock, discovery, outputs.
//! - [`watch`], [`scan`], [`repeat`], [`analyze`], [`plot`]: the modes, each
//!   returning an outcome; [`runtime`]: what a leaking process runs on.
//! - [`prometheus`]: the exposition, `/metrics`, the textfile, the query client.
//! - [`report`]: each outcome in words or JSON, and the live views.
//! - [`cli`]: the command line, validated into plain configs.
//! - [`app`]: runs a configuration, prints, and picks the [`exit_codes`].
//! - `synth` (feature `synth`): seeded synthetic series, for tests and benchmarks.

// No unwrap in the shipped code: every failure is an error with a message.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod analyze;
pub mod app;
pub mod cli;
pub mod detector;
pub mod discovery;
pub mod engine;
pub mod exit_codes;
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
pub mod sys;
pub mod units;
pub mod watch;
