//! Prometheus, in one room: the exposition of a watch's verdicts
//! ([`exposition`]), kept current by an engine output ([`exporter`]),
//! served on `/metrics` ([`listen`]) or written for node_exporter's textfile
//! collector ([`textfile`]); and the other way, judging the series a
//! Prometheus server holds ([`query`], reported by [`report`], grouped by
//! [`groups`]), once or continuously ([`fleet`], exposed by
//! [`fleet_exposition`]).

pub mod exporter;
pub mod exposition;
pub mod fleet;
pub mod fleet_exposition;
pub mod groups;
pub mod listen;
pub mod query;
pub mod report;
pub mod textfile;

pub use exporter::Exporter;
pub use exposition::{Exposition, TargetLabels};
