//! The whole integration suite in one binary, so its tests run concurrently
//! (most wait on real processes and real seconds; see .cargo/config.toml).

mod analyze;
mod cgroups;
mod common;
mod detector;
mod engine;
mod examples;
mod fakes;
mod fuzz;
mod hardening;
mod metrics;
mod newcomer;
mod plot;
mod polish;
mod procfs;
mod prometheus;
mod repeat;
mod replay;
mod safety;
mod scan;
mod watch;
