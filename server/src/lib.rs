//! tcpterm's runtime: the built-in apps, configuration, statistics and the control socket, and
//! the DPDK worker runtime that serves any `stack::App`.

pub mod apps;
pub mod cli;
pub mod control;
pub mod gen;
// `unsafe_code` is denied for every target of this package (server/Cargo.toml, [lints]); the
// port layer, the safe wrapper over dpdk-sys, is the one place allowed to use it, and there every
// unsafe block carries a `// SAFETY:` comment (clippy::undocumented_unsafe_blocks, denied).
#[allow(unsafe_code)]
pub mod port;
pub mod redirect;
pub mod runtime;
pub mod serve;
pub mod stats;
pub mod summary;
pub mod worker;
