//! tcpterm's TCP/IPv4 engine: sans-IO (no DPDK, no clock reads, no I/O). Frames and time go in,
//! frames and application callbacks come out.

#![forbid(unsafe_code)]

pub mod app;
pub mod buffer;
pub mod config;
pub mod counters;
pub mod engine;
pub mod flow;
pub mod seq;
pub mod sim;
pub mod table;
pub mod tcp;
pub mod testing;
pub mod time;
pub mod timer;
pub mod wire;

pub use app::{App, CloseReason, ConnHandle, Socket};
pub use config::{Keepalive, SynCookiePolicy, TcpConfig};
pub use counters::{Counters, State};
pub use engine::{Engine, EngineConfig, EngineError, Transmit, TxMeta};
pub use flow::FourTuple;
pub use seq::SeqNum;
pub use time::Instant;
