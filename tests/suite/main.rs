//! The whole integration suite in one binary, so its tests run concurrently
//! (most wait on real processes and real seconds; see .cargo/config.toml).

mod analyze;
mod cgroups;
mod common;
mod detector;
mod engine;
mod examples;
mod exposition;
mod fakes;
mod first_minutes;
mod fleet;
mod fuzz;
mod hardening;
mod listen;
mod metrics;
mod newcomer;
mod plot;
mod polish;
mod procfs;
mod prom_hostile;
mod prometheus;
mod recordings;
mod repeat;
mod replay;
mod safety;
mod scan;
mod side_by_side;
mod textfile;
mod watch;
