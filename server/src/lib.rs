//! tcpterm's runtime: the built-in apps, configuration, statistics and the control socket, and
//! the DPDK worker runtime that serves any `stack::App`.

pub mod apps;
pub mod cli;
pub mod control;
pub mod gen;
pub mod port;
pub mod redirect;
pub mod serve;
pub mod stats;
pub mod summary;
pub mod worker;
