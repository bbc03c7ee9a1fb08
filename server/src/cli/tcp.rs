//! The TCP options that `serve` and `gen` share, with the same defaults in both.

use crate::runtime::{seed_or_random, SeedError};
use clap::Args;
use core::time::Duration;
use stack::TcpConfig;

#[derive(Debug, Args)]
pub struct TcpArgs {
    /// Maximum segment lifetime; TIME_WAIT lasts 2 x MSL (`gen` reuses TIME_WAIT tuples for
    /// new connections anyway).
    #[arg(
        long,
        default_value_t = 30_000,
        value_name = "MS",
        help_heading = "TCP"
    )]
    pub msl_ms: u64,
    /// Minimum retransmission timeout (Linux: 200 ms).
    #[arg(long, default_value_t = 200, value_name = "MS", help_heading = "TCP")]
    pub rto_min_ms: u64,
    /// Delayed ACK timeout; 0 disables delayed ACKs.
    #[arg(long, default_value_t = 40, value_name = "MS", help_heading = "TCP")]
    pub delayed_ack_ms: u64,
    /// Connections per engine, TIME_WAIT excluded (`serve` runs an engine per worker, `gen`
    /// one per worker and address).
    #[arg(long, default_value_t = 1 << 20, help_heading = "TCP")]
    pub max_conns: usize,
    /// Seed for ISNs, SYN cookies and hashing (random unless given).
    #[arg(long, help_heading = "TCP")]
    pub seed: Option<u64>,
}

impl TcpArgs {
    /// `rest` with these options, and the MSS that fits `mtu`.
    pub fn apply(&self, rest: TcpConfig, mtu: u16) -> TcpConfig {
        let ms = Duration::from_millis;
        TcpConfig {
            msl: ms(self.msl_ms),
            rto_min: ms(self.rto_min_ms),
            delayed_ack: ms(self.delayed_ack_ms),
            max_conns: self.max_conns,
            mss: mtu.saturating_sub(40),
            ..rest
        }
    }

    /// `--seed`, or a random one.
    pub fn seed(&self) -> Result<u64, SeedError> {
        seed_or_random(self.seed)
    }
}
