//! What `tcpterm serve` and `tcpterm gen` share to come up on DPDK: the port, its queues and
//! mempool, the worker cores, SIGINT/SIGTERM, and random seeds. Each command keeps only what
//! differs: its app, its steering and what it prints.
//!
//! - [`device`]: EAL, choosing the port, opening it with its queues, RSS and mempool.
//! - [`pool`]: how many mbufs a port needs and how large each must be.
//! - [`cores`]: the cores workers are pinned to.
//! - [`signals`]: the first signal asks for a graceful stop, the second exits.
//! - [`seed`]: seeds for ISNs, SYN-cookie secrets and hashing, from the operating system.

pub mod cores;
pub mod device;
pub mod pool;
pub mod seed;
pub mod signals;

pub use device::{queue_pair, Device, DeviceRequest, PortPlan};
pub use seed::{seed_or_random, SeedError};
pub use signals::Signals;

/// Why the runtime could not come up, in one line with what to do.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("DPDK EAL initialisation failed: {0} (check the EAL arguments after `--`)")]
    Eal(String),
    /// The vdev in the hint is the one the command is most often run with.
    #[error("no DPDK ports: pass --vdev (e.g. `-- --vdev {0}`) or bind a NIC to a DPDK driver")]
    NoPorts(&'static str),
    #[error("{0} DPDK ports are available ({1}); choose one with --port NAME|ID")]
    ManyPorts(usize, String),
    #[error("no DPDK port {0:?} (available: {1})")]
    NoSuchPort(String, String),
    #[error("--mtu {mtu} is outside what port {name} allows ({min}..={max})")]
    Mtu {
        mtu: u16,
        name: String,
        min: u16,
        max: u16,
    },
    #[error("could not set up port {0}: {1}")]
    Port(String, String),
    #[error("could not install the signal handlers: {0}")]
    Signals(std::io::Error),
}
