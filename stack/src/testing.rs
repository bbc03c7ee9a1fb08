//! Test harness for engine-level tests, benches and fuzzing: a `FrameQueue` transmitter, frame
//! build/parse helpers, a scripted peer facing one engine (`Harness`), and small test apps.

use crate::app::{App, CloseReason, ConnHandle, Socket};
use crate::config::TcpConfig;
use crate::engine::{Engine, EngineConfig, Transmit, TxMeta};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::arp::{ArpOp, ArpRepr};
use crate::wire::frame::{
    build_arp_frame, build_tcp_frame, parse_frame, tcp_frame_len, Parsed, ARP_FRAME_LEN,
};
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use crate::wire::{ChecksumCaps, Ipv4Addr, MacAddr, RxMeta};
use core::time::Duration;

pub const LOCAL_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
pub const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Collects every frame an engine emits.
#[derive(Default, Debug)]
pub struct FrameQueue {
    pub frames: Vec<Vec<u8>>,
}

impl Transmit for FrameQueue {
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, _meta: TxMeta, fill: F) -> bool {
        let mut buf = vec![0u8; len];
        fill(&mut buf);
        self.frames.push(buf);
        true
    }
}

/// Frames packed back to back in one preallocated, reused buffer: the lean transmitter for
/// benchmarks. After warm-up nothing allocates and nothing is zeroed per frame (the engine
/// writes every byte of a frame, as it must for NIC buffers, which are not zeroed either).
#[derive(Debug)]
pub struct FrameBuf {
    data: Vec<u8>,
    used: usize,
    ends: Vec<u32>,
}

impl Default for FrameBuf {
    fn default() -> Self {
        FrameBuf::with_capacity(64 * 1024, 1024)
    }
}

impl FrameBuf {
    pub fn with_capacity(bytes: usize, frames: usize) -> Self {
        FrameBuf {
            data: vec![0u8; bytes],
            used: 0,
            ends: Vec::with_capacity(frames),
        }
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// Forgets the frames; keeps the storage.
    pub fn clear(&mut self) {
        self.used = 0;
        self.ends.clear();
    }
    /// Frame `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }
    /// Mutable frame `i` (to patch sequence numbers in benchmarks).
    pub fn get_mut(&mut self, i: usize) -> &mut [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &mut self.data[start..self.ends[i] as usize]
    }
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

impl Transmit for FrameBuf {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, _meta: TxMeta, fill: F) -> bool {
        let end = self.used + len;
        if end > self.data.len() {
            self.data.resize(end.max(self.data.len() * 2), 0);
        }
        fill(&mut self.data[self.used..end]);
        self.used = end;
        self.ends.push(end as u32);
        true
    }
}

/// An engine configuration for tests: software checksums, MTU 1500, /24, no gateway.
pub fn engine_config(ip: Ipv4Addr, mac: MacAddr, tcp: TcpConfig) -> EngineConfig {
    EngineConfig {
        tcp,
        ip,
        prefix_len: 24,
        gateway: None,
        mac,
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed: 0x1234_5678_9abc_def0,
        arp_timeout: Duration::from_secs(60),
    }
}

/// A complete Ethernet/IPv4/TCP frame.
pub fn build_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    repr: &TcpRepr,
    payload: &[u8],
) -> Vec<u8> {
    let mut buf = vec![0u8; tcp_frame_len(repr, payload.len())];
    build_tcp_frame(
        &mut buf,
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        repr,
        (payload, &[]),
        ChecksumCaps::default(),
    );
    buf
}

/// The IPv4 datagram (header + segment) a TCP segment travels in, as the engine sends it
/// (DF set): what a router quotes in an ICMP error.
pub fn tcp_datagram(src_ip: Ipv4Addr, dst_ip: Ipv4Addr, repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
    let mut f = build_frame(MacAddr::ZERO, MacAddr::ZERO, src_ip, dst_ip, repr, payload);
    f.drain(..crate::wire::ethernet::HEADER_LEN);
    f
}

/// How much of a datagram a router quotes (RFC 1812 §4.3.2.3: as much as keeps the ICMP
/// datagram within 576 bytes; RFC 792 asks for the header and 8 bytes only).
pub const ROUTER_QUOTE_LEN: usize = 576 - 20 - crate::wire::icmp::HEADER_LEN;

/// An Ethernet/IPv4/ICMP "fragmentation needed and DF set" frame (RFC 1191 §4) from the router
/// at `router_ip` (frames from it come from `eth_src`) to `dst_ip`, with Next-Hop MTU
/// `next_hop_mtu`, quoting `quoted` (a datagram, or as much of it as the router returns; use
/// `tcp_datagram` to quote a segment). Checksums are computed.
pub fn build_frag_needed_frame(
    eth_src: MacAddr,
    eth_dst: MacAddr,
    router_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    next_hop_mtu: u16,
    quoted: &[u8],
) -> Vec<u8> {
    use crate::wire::ethernet::{self, EthernetRepr};
    use crate::wire::icmp;
    use crate::wire::ipv4::{self, Ipv4Repr};
    let icmp_len = icmp::HEADER_LEN + quoted.len();
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp_len];
    EthernetRepr {
        src: eth_src,
        dst: eth_dst,
        ethertype: ethernet::ETHERTYPE_IPV4,
    }
    .emit(&mut f);
    Ipv4Repr {
        src: router_ip,
        dst: dst_ip,
        protocol: ipv4::PROTO_ICMP,
        payload_len: icmp_len,
        ttl: ipv4::DEFAULT_TTL,
    }
    .emit(&mut f[ethernet::HEADER_LEN..], crate::wire::TxCsum::Compute);
    icmp::emit_frag_needed(
        &mut f[ethernet::HEADER_LEN + ipv4::HEADER_LEN..],
        next_hop_mtu,
        quoted,
    );
    f
}

/// Parses a TCP frame addressed to `mac`/`ip` (checksums verified).
pub fn parse_tcp_frame(frame: &[u8], mac: MacAddr, ip: Ipv4Addr) -> Option<(TcpRepr, Vec<u8>)> {
    match parse_frame(frame, mac, ip, ChecksumCaps::default(), RxMeta::default()) {
        Ok(Parsed::Tcp { tcp, payload, .. }) => Some((tcp, payload.to_vec())),
        _ => None,
    }
}

/// A segment header from the peer with no options.
pub fn seg(src_port: u16, dst_port: u16, flags: u8, seq: u32, ack: u32, window: u16) -> TcpRepr {
    TcpRepr {
        src_port,
        dst_port,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags: TcpFlags(flags),
        window,
        urgent: 0,
        options: TcpOptions::default(),
    }
}

/// One engine and a scripted peer at `PEER_IP`: feed segments, read back what the engine sent.
pub struct Harness<A: App> {
    pub engine: Engine<A>,
    pub now: Instant,
    pub out: FrameQueue,
    /// Non-TCP frames the engine sent (ARP, ICMP).
    pub other: Vec<Vec<u8>>,
}

impl<A: App> Harness<A> {
    pub fn new(app: A, tcp: TcpConfig) -> Self {
        let now = Instant::from_secs(1000);
        let engine = Engine::new(engine_config(LOCAL_IP, LOCAL_MAC, tcp), app, now)
            .expect("valid test config");
        let mut h = Harness {
            engine,
            now,
            out: FrameQueue::default(),
            other: Vec::new(),
        };
        // The peer introduces itself by ARP so active opens need no resolution round.
        let arp = ArpRepr {
            op: ArpOp::Request,
            sender_mac: PEER_MAC,
            sender_ip: PEER_IP,
            target_mac: MacAddr::ZERO,
            target_ip: LOCAL_IP,
        };
        let mut f = vec![0u8; ARP_FRAME_LEN];
        build_arp_frame(&mut f, PEER_MAC, MacAddr::BROADCAST, &arp);
        h.send_raw(&f);
        h.other.clear();
        h
    }

    /// Parses and clears what the engine sent since the last call.
    pub fn take(&mut self) -> Vec<(TcpRepr, Vec<u8>)> {
        let mut v = Vec::new();
        for f in self.out.frames.drain(..) {
            match parse_tcp_frame(&f, PEER_MAC, PEER_IP) {
                Some(x) => v.push(x),
                None => self.other.push(f),
            }
        }
        v
    }

    /// Delivers a segment from the peer; returns the engine's answer.
    pub fn send(&mut self, repr: &TcpRepr, payload: &[u8]) -> Vec<(TcpRepr, Vec<u8>)> {
        let f = build_frame(PEER_MAC, LOCAL_MAC, PEER_IP, LOCAL_IP, repr, payload);
        self.engine
            .receive(self.now, &f, RxMeta::default(), &mut self.out);
        self.take()
    }

    /// Delivers a raw frame.
    pub fn send_raw(&mut self, frame: &[u8]) -> Vec<(TcpRepr, Vec<u8>)> {
        self.engine
            .receive(self.now, frame, RxMeta::default(), &mut self.out);
        self.take()
    }

    /// Moves time forward by `d`, firing timers on the way; returns what was sent.
    pub fn advance(&mut self, d: Duration) -> Vec<(TcpRepr, Vec<u8>)> {
        let end = self.now + d;
        loop {
            let next = match self.engine.poll_at() {
                Some(t) if t <= end => t.max(self.now),
                _ => break,
            };
            self.now = next;
            let before = self.engine.poll_at();
            self.engine.poll(self.now, &mut self.out);
            if self.engine.poll_at() == before && before == Some(self.now) {
                // The wheel reported a deadline it had nothing for; step past it.
                self.now += Duration::from_millis(1);
            }
        }
        self.now = end;
        self.engine.poll(self.now, &mut self.out);
        self.take()
    }

    /// Active open to the peer; returns the handle and the SYN.
    pub fn connect(&mut self, local_port: u16, peer_port: u16) -> (ConnHandle, TcpRepr) {
        let h = self
            .engine
            .connect(
                self.now,
                core::net::SocketAddrV4::new(PEER_IP, peer_port),
                local_port,
                &mut self.out,
            )
            .expect("connect");
        let out = self.take();
        (h, out.first().expect("SYN sent").0)
    }
}

/// What a `Recorder` saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Open(ConnHandle),
    Data(ConnHandle, Vec<u8>),
    PeerClosed(ConnHandle),
    Writable(ConnHandle),
    Closed(ConnHandle, CloseReason),
}

/// Records every callback. Knobs choose how it reacts.
#[derive(Default, Debug)]
pub struct Recorder {
    pub events: Vec<Event>,
    /// Bytes consumed per `on_data` (None: everything).
    pub consume: Option<usize>,
    /// Echo consumed data back.
    pub echo: bool,
    /// Close when the peer closes.
    pub close_on_peer_close: bool,
    /// Close right after the first data.
    pub close_after_data: bool,
    /// Send this on open.
    pub greeting: Vec<u8>,
}

impl Recorder {
    pub fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for e in &self.events {
            if let Event::Data(_, d) = e {
                v.extend_from_slice(d);
            }
        }
        v
    }
    pub fn closed(&self) -> Vec<CloseReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Closed(_, r) => Some(*r),
                _ => None,
            })
            .collect()
    }
    pub fn opened(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Open(_)))
            .count()
    }
}

impl App for Recorder {
    type State = u64;
    fn on_open(&mut self, sock: &mut Socket<'_, u64>) {
        self.events.push(Event::Open(sock.handle()));
        if !self.greeting.is_empty() {
            let g = self.greeting.clone();
            sock.send(&g);
        }
    }
    fn on_data(&mut self, sock: &mut Socket<'_, u64>, data: &[u8]) -> usize {
        let n = self.consume.unwrap_or(data.len()).min(data.len());
        self.events
            .push(Event::Data(sock.handle(), data[..n].to_vec()));
        *sock.state() += n as u64;
        if self.echo {
            sock.send(&data[..n]);
        }
        if self.close_after_data {
            sock.close();
        }
        n
    }
    fn on_writable(&mut self, sock: &mut Socket<'_, u64>) {
        self.events.push(Event::Writable(sock.handle()));
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, u64>) {
        self.events.push(Event::PeerClosed(sock.handle()));
        if self.close_on_peer_close {
            sock.close();
        }
    }
    fn on_closed(&mut self, _state: &mut u64, handle: ConnHandle, reason: CloseReason) {
        self.events.push(Event::Closed(handle, reason));
    }
}

/// Echoes everything and closes when the peer closes: the short-transaction server.
#[derive(Default, Debug)]
pub struct Echo {
    pub bytes: u64,
    pub closed: u64,
}

impl App for Echo {
    type State = ();
    fn on_data(&mut self, sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        let n = sock.send(data);
        self.bytes += n as u64;
        n
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ()>) {
        sock.close();
    }
    fn on_closed(&mut self, _state: &mut (), _handle: ConnHandle, _reason: CloseReason) {
        self.closed += 1;
    }
}
