//! `tcpterm gen`: a load generator on the same engine and runtime as the server.
//!
//! - [`scenario`]: the TOML scenario format and its checks.
//! - [`app`]: the generator's `stack::App` (requests, checks, counters, histograms).
//! - [`driver`]: the per-worker timeline: opens, pacing, think time, timeouts, drain.
//! - [`pacing`]: the rate schedule with ramp-up.
//! - [`ports`]: source ports whose replies RSS-hash back to the opening worker.
//! - [`report`]: live line, final report, JSON.
//! - [`run`]: the DPDK runtime (EAL, port, one pinned worker per core).
//! - [`sim`]: the same driver over an in-memory wire, for tests.

pub mod app;
pub mod args;
pub mod driver;
pub mod http;
pub mod pacing;
pub mod ports;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;

pub use app::{Counts, GenApp, PhaseRt};
pub use driver::Driver;
pub use scenario::Scenario;

use std::sync::Arc;

/// The phases with their requests prebuilt, shared by every worker.
pub fn prepare(scenario: &Scenario) -> Arc<Vec<PhaseRt>> {
    Arc::new(scenario.phases.iter().cloned().map(PhaseRt::new).collect())
}
