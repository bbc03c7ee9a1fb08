//! One worker's engine: Ethernet/ARP/IPv4/ICMP/TCP demultiplexing, the connection and listen
//! tables, TIME_WAIT, SYN queue and cookies, the timer wheel, the app, and counters.
//! Frames and time go in; frames and app callbacks come out.

use crate::app::{App, ConnHandle, Socket};
use crate::config::TcpConfig;
use crate::counters::Counters;
use crate::time::Instant;
use crate::wire::{ChecksumCaps, MacAddr, RxMeta};
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub tcp: TcpConfig,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: MacAddr,
    pub checksums: ChecksumCaps,
    /// IP MTU; the advertised MSS is min(tcp.mss, mtu - 40).
    pub mtu: u16,
    /// Keys ISNs, SYN cookies and the table hash. Give each process a random one.
    pub seed: u64,
    /// How long a learned ARP entry stays valid.
    pub arp_timeout: Duration,
}

/// What the caller needs to set per-frame offload flags (e.g. on a DPDK mbuf).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TxMeta {
    pub l2_len: u8,
    pub l3_len: u8,
    /// The IPv4 header checksum is left for the NIC.
    pub ipv4_csum_offload: bool,
    /// The TCP checksum is left for the NIC (pseudo-header sum written).
    pub tcp_csum_offload: bool,
}

/// Where the engine puts frames it sends.
pub trait Transmit {
    /// Provides a `len`-byte buffer, lets `fill` write one complete frame into it, and queues it.
    /// Returns false when no buffer is available (the engine counts it; TCP recovers).
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, meta: TxMeta, fill: F) -> bool;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    PortInUse(u16),
    /// No free local port / connection slot.
    Exhausted,
    /// The 4-tuple is in use.
    AddressInUse,
    NoRoute(Ipv4Addr),
    InvalidConfig(String),
}

impl core::fmt::Display for EngineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EngineError::PortInUse(p) => write!(f, "port {p} is already listening"),
            EngineError::Exhausted => write!(f, "no free connection slot or local port"),
            EngineError::AddressInUse => write!(f, "4-tuple already in use"),
            EngineError::NoRoute(ip) => write!(f, "no route to {ip} (set a gateway?)"),
            EngineError::InvalidConfig(s) => write!(f, "invalid configuration: {s}"),
        }
    }
}

impl std::error::Error for EngineError {}

pub struct Engine<A: App> {
    app: A,
    counters: Counters,
}

impl<A: App> Engine<A> {
    pub fn new(config: EngineConfig, app: A, now: Instant) -> Result<Self, EngineError> {
        let _ = (config, now);
        let _ = app;
        todo!("engine helper")
    }
    pub fn listen(&mut self, port: u16) -> Result<(), EngineError> {
        let _ = port;
        todo!("engine helper")
    }
    /// Stops accepting on `port`; established connections continue.
    pub fn unlisten(&mut self, port: u16) {
        let _ = port;
        todo!("engine helper")
    }
    /// Active open from our address and `local_port` to `remote`.
    pub fn connect<T: Transmit>(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: u16,
        tx: &mut T,
    ) -> Result<ConnHandle, EngineError> {
        let _ = (now, remote, local_port, tx);
        todo!("engine helper")
    }
    /// Processes one received Ethernet frame.
    pub fn receive<T: Transmit>(&mut self, now: Instant, frame: &[u8], meta: RxMeta, tx: &mut T) {
        let _ = (now, frame, meta, tx);
        todo!("engine helper")
    }
    /// Fires due timers and flushes pending output. Call once per poll loop.
    pub fn poll<T: Transmit>(&mut self, now: Instant, tx: &mut T) {
        let _ = (now, tx);
        todo!("engine helper")
    }
    /// When `poll` next has work (for callers that sleep).
    pub fn poll_at(&self) -> Option<Instant> {
        todo!("engine helper")
    }
    /// Runs `f` on a live connection outside a callback (e.g. a generator's timed send), then
    /// flushes what it queued.
    pub fn with_conn<T: Transmit, R>(
        &mut self,
        handle: ConnHandle,
        now: Instant,
        tx: &mut T,
        f: impl FnOnce(&mut A, &mut Socket<'_, A::State>) -> R,
    ) -> Option<R> {
        let _ = (handle, now, tx, f);
        todo!("engine helper")
    }
    /// Graceful shutdown: stop listening and close every connection (FIN, or RST where data is
    /// unread). `poll` then drives them to CLOSED.
    pub fn close_all<T: Transmit>(&mut self, now: Instant, tx: &mut T) {
        let _ = (now, tx);
        todo!("engine helper")
    }
    /// Live connections, TIME_WAIT excluded.
    pub fn conn_count(&self) -> usize {
        todo!("engine helper")
    }
    pub fn time_wait_count(&self) -> usize {
        todo!("engine helper")
    }
    pub fn app(&self) -> &A {
        &self.app
    }
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}
