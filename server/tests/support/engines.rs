//! Engines for the in-memory tests: their addresses, short TCP timers, and tcpterm's built-in
//! apps as the server.

use core::net::Ipv4Addr;
use core::time::Duration;
use stack::wire::{ChecksumCaps, MacAddr};
use stack::{EngineConfig, TcpConfig};
use tcpterm::apps::http::HttpConfig;
use tcpterm::apps::{AppKind, BuiltinApp, Listeners};

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const HTTP: u16 = 80;
pub const ECHO: u16 = 7;
pub const DISCARD: u16 = 9;

/// A locally administered MAC ending in `n`.
pub fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

/// An engine at `ip` with MAC [`mac`]`(n)` and a seed of its own.
pub fn config(ip: Ipv4Addr, n: u8, tcp: TcpConfig) -> EngineConfig {
    EngineConfig {
        tcp,
        ip,
        prefix_len: 24,
        gateway: None,
        mac: mac(n),
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed: u64::from(n) * 7919,
        arp_timeout: Duration::from_secs(300),
    }
}

/// Timers short enough that simulated runs (TIME_WAIT, retransmissions) end quickly.
pub fn tcp() -> TcpConfig {
    TcpConfig {
        msl: Duration::from_secs(1),
        rto_min: Duration::from_millis(20),
        delayed_ack: Duration::from_millis(5),
        ..TcpConfig::default()
    }
}

/// The built-in apps: http on [`HTTP`] with `body_size`-byte responses, echo on [`ECHO`],
/// discard on [`DISCARD`].
pub fn builtin(body_size: usize) -> BuiltinApp {
    BuiltinApp::new(
        Listeners(vec![
            (HTTP, AppKind::Http),
            (ECHO, AppKind::Echo),
            (DISCARD, AppKind::Discard),
        ]),
        &HttpConfig {
            body_size,
            ..HttpConfig::default()
        },
    )
}
