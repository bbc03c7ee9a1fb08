//! Black-box harness for the RFC scenario suite: one engine under test with a listener and a
//! recording app, and a scripted fake peer that builds Ethernet/IPv4/TCP frames with exact
//! sequence numbers, flags, windows and options, then parses back whatever the engine sends.
//!
//! Time is explicit: every call passes `h.now`, and `advance`/`advance_to` move it and poll the
//! engine, so timer tests can check exact deadlines. The engine's timer wheel rounds deadlines up
//! to its 1 ms tick, so the harness keeps every instant on a whole millisecond.

#![allow(dead_code)]

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::sim::Outbox;
use stack::wire::arp::{ArpOp, ArpRepr};
use stack::wire::frame::ARP_FRAME_LEN;
use stack::wire::frame::{build_arp_frame, build_tcp_frame, parse_frame, tcp_frame_len, Parsed};
use stack::wire::tcp::{SackBlocks, TcpFlags, TcpOptions, TcpRepr};
use stack::wire::{ChecksumCaps, MacAddr, RxMeta};
use stack::{
    App, CloseReason, ConnHandle, Counters, Engine, EngineConfig, Instant, SeqNum, Socket, State,
    TcpConfig,
};

pub const US_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
pub const US_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The port the engine listens on.
pub const LPORT: u16 = 80;
/// The fake peer's first source port.
pub const PPORT: u16 = 40000;
/// The fake peer's initial sequence number (its SYN carries this).
pub const PEER_ISS: u32 = 1_000_000;
/// The peer's timestamp clock at harness start.
pub const PEER_TS0: u32 = 7_000;

pub const FIN: u8 = TcpFlags::FIN;
pub const SYN: u8 = TcpFlags::SYN;
pub const RST: u8 = TcpFlags::RST;
pub const PSH: u8 = TcpFlags::PSH;
pub const ACK: u8 = TcpFlags::ACK;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Distinct, position-dependent bytes, so a misplaced byte cannot go unnoticed.
pub fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(salt as u32 * 7) as u8)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The recording app.

/// What the app does in one of its callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    Close,
    Abort,
    ShutdownWrite,
}

/// How much received data the app consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Read {
    /// Everything offered.
    #[default]
    All,
    /// Nothing: data stays buffered and the receive window shrinks.
    None,
    /// At most this many bytes in total over the connection's life; the rest stays unread.
    UpTo(usize),
}

#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    pub read: Read,
    /// Send back whatever is consumed.
    pub echo: bool,
    pub on_open: Vec<Action>,
    /// Run after every on_data call.
    pub on_data: Vec<Action>,
    pub on_peer_closed: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Open(ConnHandle),
    Data(ConnHandle, Vec<u8>),
    PeerClosed(ConnHandle),
    Writable(ConnHandle),
    Closed(ConnHandle, CloseReason),
}

#[derive(Default)]
pub struct ConnState {
    consumed: usize,
}

#[derive(Default)]
pub struct TestApp {
    pub behaviour: Behaviour,
    pub events: Vec<Event>,
    /// Calls to on_data, including ones that consumed nothing.
    pub data_calls: usize,
}

fn run_actions(actions: &[Action], sock: &mut Socket<'_, ConnState>) {
    for a in actions {
        match a {
            Action::Send(d) => {
                sock.send(d);
            }
            Action::Close => sock.close(),
            Action::Abort => sock.abort(),
            Action::ShutdownWrite => sock.shutdown_write(),
        }
    }
}

impl App for TestApp {
    type State = ConnState;

    fn on_open(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.events.push(Event::Open(sock.handle()));
        let actions = self.behaviour.on_open.clone();
        run_actions(&actions, sock);
    }

    fn on_data(&mut self, sock: &mut Socket<'_, ConnState>, data: &[u8]) -> usize {
        self.data_calls += 1;
        let n = match self.behaviour.read {
            Read::All => data.len(),
            Read::None => 0,
            Read::UpTo(limit) => data.len().min(limit.saturating_sub(sock.state().consumed)),
        };
        sock.state().consumed += n;
        if n > 0 {
            self.events
                .push(Event::Data(sock.handle(), data[..n].to_vec()));
            if self.behaviour.echo {
                sock.send(&data[..n]);
            }
        }
        let actions = self.behaviour.on_data.clone();
        run_actions(&actions, sock);
        n
    }

    fn on_writable(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.events.push(Event::Writable(sock.handle()));
    }

    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.events.push(Event::PeerClosed(sock.handle()));
        let actions = self.behaviour.on_peer_closed.clone();
        run_actions(&actions, sock);
    }

    fn on_closed(&mut self, _state: &mut ConnState, handle: ConnHandle, reason: CloseReason) {
        self.events.push(Event::Closed(handle, reason));
    }
}

impl TestApp {
    /// Every consumed byte, in order, over all connections.
    pub fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for e in &self.events {
            if let Event::Data(_, d) = e {
                v.extend_from_slice(d);
            }
        }
        v
    }
    pub fn opens(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Open(_)))
            .count()
    }
    pub fn last_open(&self) -> Option<ConnHandle> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Open(h) => Some(*h),
            _ => None,
        })
    }
    pub fn peer_closed(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::PeerClosed(_)))
            .count()
    }
    pub fn closes(&self) -> Vec<CloseReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Closed(_, r) => Some(*r),
                _ => None,
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Segments the engine sent.

/// One TCP segment the engine emitted, parsed back.
#[derive(Clone, Debug)]
pub struct Seg {
    pub at: Instant,
    pub repr: TcpRepr,
    pub payload: Vec<u8>,
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
    pub ip_src: Ipv4Addr,
    pub ip_dst: Ipv4Addr,
}

impl Seg {
    pub fn flags(&self) -> u8 {
        self.repr.flags.0
    }
    pub fn seq(&self) -> u32 {
        self.repr.seq.0
    }
    pub fn ack(&self) -> u32 {
        self.repr.ack.0
    }
    pub fn len(&self) -> usize {
        self.payload.len()
    }
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
    pub fn has(&self, flag: u8) -> bool {
        self.repr.flags.0 & flag != 0
    }
    /// Sequence space consumed (payload + SYN + FIN).
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + self.has(SYN) as u32 + self.has(FIN) as u32
    }
    pub fn end(&self) -> u32 {
        self.seq().wrapping_add(self.seg_len())
    }
    pub fn tsval(&self) -> Option<u32> {
        self.repr.options.timestamp.map(|t| t.0)
    }
    pub fn tsecr(&self) -> Option<u32> {
        self.repr.options.timestamp.map(|t| t.1)
    }
    pub fn sack(&self) -> Vec<(u32, u32)> {
        self.repr
            .options
            .sack
            .as_slice()
            .iter()
            .map(|(l, r)| (l.0, r.0))
            .collect()
    }
    pub fn dport(&self) -> u16 {
        self.repr.dst_port
    }
}

impl core::fmt::Display for Seg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "[{}us {}->{} {:?} seq={} ack={} win={} len={} opts={:?}]",
            self.at.as_micros(),
            self.repr.src_port,
            self.repr.dst_port,
            self.repr.flags,
            self.seq(),
            self.ack(),
            self.repr.window,
            self.payload.len(),
            self.repr.options
        )
    }
}

pub fn show(segs: &[Seg]) -> String {
    segs.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n  ")
}

// ---------------------------------------------------------------------------------------------
// The peer's view of one connection.

/// Options the fake peer offers in its SYN.
#[derive(Clone, Copy, Debug)]
pub struct PeerOpts {
    pub mss: Option<u16>,
    pub ws: Option<u8>,
    pub sack: bool,
    pub ts: bool,
    /// Raw window field on the SYN (never scaled).
    pub syn_window: u16,
}

impl PeerOpts {
    /// What a modern Linux peer offers.
    pub fn full() -> Self {
        PeerOpts {
            mss: Some(1460),
            ws: Some(7),
            sack: true,
            ts: true,
            syn_window: 65535,
        }
    }
    /// A bare SYN with no options at all.
    pub fn none() -> Self {
        PeerOpts {
            mss: None,
            ws: None,
            sack: false,
            ts: false,
            syn_window: 65535,
        }
    }
}

/// The fake peer's state for one connection. Tests read `iss`/`irs` to compute exact numbers.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub port: u16,
    /// Peer's ISN (its SYN's seq).
    pub iss: u32,
    /// Engine's ISN (its SYN or SYN-ACK's seq).
    pub irs: u32,
    /// Next sequence number the peer sends.
    pub nxt: u32,
    /// The peer's acknowledgment field.
    pub ack: u32,
    /// Raw window field the peer advertises after the handshake.
    pub window: u16,
    pub opts: PeerOpts,
    /// Negotiated (both sides offered it).
    pub ts_ok: bool,
    pub sack_ok: bool,
    /// Engine's window shift (None: not negotiated).
    pub engine_ws: Option<u8>,
    /// TS.Recent (RFC 7323 §4.3), echoed as TSecr: the engine's TSval from the last segment
    /// at or left of the peer's ACK, never moving back.
    pub ts_recent: u32,
    /// The engine's SYN-ACK/SYN as received.
    pub syn_seg: Option<TcpRepr>,
}

impl Conn {
    pub fn new(port: u16, iss: u32, opts: PeerOpts) -> Self {
        Conn {
            port,
            iss,
            irs: 0,
            nxt: iss.wrapping_add(1),
            ack: 0,
            window: 16384,
            opts,
            ts_ok: false,
            sack_ok: false,
            engine_ws: None,
            ts_recent: 0,
            syn_seg: None,
        }
    }
    /// RFC 7323 §4.3 (2): TS.Recent takes a segment's TSval only when the segment starts at
    /// or before Last.ACK.sent and the TSval is not older, so an out-of-order segment (one a
    /// retransmission must fill) leaves the echo at the older in-order segment's TSval.
    pub fn learn_ts(&mut self, seg: &Seg) {
        let Some(v) = seg.tsval() else { return };
        let in_order = (seg.seq().wrapping_sub(self.ack) as i32) <= 0;
        if in_order && (v.wrapping_sub(self.ts_recent) as i32) >= 0 {
            self.ts_recent = v;
        }
    }
    /// The shift the peer applies to its own window fields once scaling is negotiated.
    pub fn peer_ws(&self) -> u8 {
        if self.engine_ws.is_some() {
            self.opts.ws.unwrap_or(0).min(14)
        } else {
            0
        }
    }
}

/// A segment the peer is about to send; built from `Harness::seg` with defaults taken from a
/// `Conn`, then adjusted field by field.
#[derive(Clone, Debug)]
pub struct Out {
    pub repr: TcpRepr,
    pub payload: Vec<u8>,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
}

impl Out {
    pub fn seq(mut self, s: u32) -> Self {
        self.repr.seq = SeqNum(s);
        self
    }
    pub fn ack(mut self, a: u32) -> Self {
        self.repr.ack = SeqNum(a);
        self
    }
    pub fn flags(mut self, f: u8) -> Self {
        self.repr.flags = TcpFlags(f);
        self
    }
    pub fn win(mut self, w: u16) -> Self {
        self.repr.window = w;
        self
    }
    pub fn data(mut self, d: &[u8]) -> Self {
        self.payload = d.to_vec();
        self
    }
    pub fn ts(mut self, val: u32, ecr: u32) -> Self {
        self.repr.options.timestamp = Some((val, ecr));
        self
    }
    pub fn no_ts(mut self) -> Self {
        self.repr.options.timestamp = None;
        self
    }
    pub fn sack(mut self, blocks: &[(u32, u32)]) -> Self {
        let mut s = SackBlocks::default();
        for &(l, r) in blocks {
            s.push(SeqNum(l), SeqNum(r));
        }
        self.repr.options.sack = s;
        self
    }
    pub fn options(mut self, o: TcpOptions) -> Self {
        self.repr.options = o;
        self
    }
    pub fn sport(mut self, p: u16) -> Self {
        self.repr.src_port = p;
        self
    }
    pub fn dport(mut self, p: u16) -> Self {
        self.repr.dst_port = p;
        self
    }
    /// The complete frame, checksums computed in software.
    pub fn frame(&self) -> Vec<u8> {
        let mut buf = vec![0u8; tcp_frame_len(&self.repr, self.payload.len())];
        build_tcp_frame(
            &mut buf,
            self.src_mac,
            self.dst_mac,
            self.src_ip,
            self.dst_ip,
            &self.repr,
            (&self.payload, &[]),
            ChecksumCaps::default(),
        );
        buf
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

pub fn engine_config(tcp: TcpConfig) -> EngineConfig {
    EngineConfig {
        tcp,
        ip: US_IP,
        prefix_len: 24,
        gateway: None,
        mac: US_MAC,
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed: 0x5eed_0f7e_5700,
        arp_timeout: Duration::from_secs(3600 * 24),
    }
}

pub struct Harness {
    pub engine: Engine<TestApp>,
    pub now: Instant,
    pub out: Outbox,
    /// TCP segments the engine sent that no test has taken yet.
    pub segs: Vec<Seg>,
    /// Every TCP segment the engine ever sent.
    pub log: Vec<Seg>,
    /// Non-TCP frames (ARP, ICMP) the engine sent.
    pub other: Vec<Vec<u8>>,
    /// The primary peer connection.
    pub c: Conn,
    pub start: Instant,
    pub cfg: TcpConfig,
}

impl Harness {
    /// An engine listening on `LPORT`, whose ARP cache already knows the peer (the peer sent an
    /// ARP request for our address first, as any real peer would).
    pub fn new(cfg: TcpConfig, behaviour: Behaviour) -> Self {
        let start = Instant::from_secs(1000);
        let app = TestApp {
            behaviour,
            ..TestApp::default()
        };
        let engine = Engine::new(engine_config(cfg.clone()), app, start).expect("valid config");
        let mut h = Harness {
            engine,
            now: start,
            out: Outbox::default(),
            segs: Vec::new(),
            log: Vec::new(),
            other: Vec::new(),
            c: Conn::new(PPORT, PEER_ISS, PeerOpts::full()),
            start,
            cfg,
        };
        h.engine.listen(LPORT).expect("listen");
        h.arp_introduce();
        h.other.clear();
        h
    }

    pub fn with_defaults() -> Self {
        Self::new(TcpConfig::default(), Behaviour::default())
    }

    /// The peer asks for our MAC, which also teaches the engine the peer's (RFC 826 merge).
    pub fn arp_introduce(&mut self) {
        let arp = ArpRepr {
            op: ArpOp::Request,
            sender_mac: PEER_MAC,
            sender_ip: PEER_IP,
            target_mac: MacAddr::ZERO,
            target_ip: US_IP,
        };
        let mut f = vec![0u8; ARP_FRAME_LEN];
        build_arp_frame(&mut f, PEER_MAC, MacAddr::BROADCAST, &arp);
        self.receive_raw(&f);
    }

    pub fn counters(&self) -> &Counters {
        self.engine.counters()
    }
    pub fn gauge(&self, s: State) -> u64 {
        self.engine.counters().states.get(s)
    }
    /// Sum of all per-state gauges (LISTEN excluded).
    pub fn gauge_total(&self) -> u64 {
        State::ALL
            .iter()
            .filter(|s| **s != State::Listen)
            .map(|s| self.gauge(*s))
            .sum()
    }
    pub fn app(&self) -> &TestApp {
        self.engine.app()
    }
    pub fn app_mut(&mut self) -> &mut TestApp {
        self.engine.app_mut()
    }
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn collect(&mut self) {
        assert_eq!(
            self.engine.counters().drops.tx_oversize,
            0,
            "the engine tried to send a frame over the MTU"
        );
        for f in self.out.frames.drain(..) {
            match parse_frame(
                &f,
                PEER_MAC,
                PEER_IP,
                ChecksumCaps::default(),
                RxMeta::default(),
            ) {
                Ok(Parsed::Tcp {
                    eth_src,
                    ip_src,
                    ip_dst,
                    tcp,
                    payload,
                }) => {
                    let eth_dst = MacAddr([f[0], f[1], f[2], f[3], f[4], f[5]]);
                    let seg = Seg {
                        at: self.now,
                        repr: tcp,
                        payload: payload.to_vec(),
                        eth_src,
                        eth_dst,
                        ip_src,
                        ip_dst,
                    };
                    if self.c.port == seg.dport() {
                        self.c.learn_ts(&seg);
                    }
                    self.log.push(seg.clone());
                    self.segs.push(seg);
                }
                _ => self.other.push(f),
            }
        }
    }

    /// Feeds one raw frame to the engine and collects what it sends.
    pub fn receive_raw(&mut self, frame: &[u8]) {
        self.engine
            .receive(self.now, frame, RxMeta::default(), &mut self.out);
        self.collect();
    }

    /// Moves time forward by `d`, firing every timer on the way at its own deadline (the
    /// harness jumps from one `poll_at` deadline to the next), and collects output.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.advance_to(end);
    }

    pub fn advance_to(&mut self, end: Instant) {
        self.poll();
        while self.step(end) {}
        if end > self.now {
            self.now = end;
            self.poll();
        }
    }

    /// Polls at the engine's next deadline if it is not after `end`. A deadline at or before
    /// `now` was already served by the last poll, so time then moves on by one tick.
    fn step(&mut self, end: Instant) -> bool {
        let Some(t) = self.engine.poll_at() else {
            return false;
        };
        let t = if t <= self.now { self.now + ms(1) } else { t };
        if t > end {
            return false;
        }
        self.now = t;
        self.poll();
        true
    }

    /// Polls at the current time.
    pub fn poll(&mut self) {
        self.engine.poll(self.now, &mut self.out);
        self.collect();
    }

    /// Jumps from timer deadline to timer deadline until the engine sends something or `limit`
    /// passes. Returns the instant the first segment went out.
    pub fn run_until_output(&mut self, limit: Duration) -> Option<Instant> {
        let end = self.now + limit;
        self.poll();
        while self.segs.is_empty() && self.step(end) {}
        if self.segs.is_empty() && end > self.now {
            self.now = end;
            self.poll();
        }
        self.segs.first().map(|s| s.at)
    }

    pub fn take(&mut self) -> Vec<Seg> {
        std::mem::take(&mut self.segs)
    }

    pub fn expect_none(&mut self) {
        assert!(
            self.segs.is_empty(),
            "expected no segment, got:\n  {}",
            show(&self.segs)
        );
    }

    /// Exactly one segment was sent, with exactly these flags, seq and ack (ack checked only
    /// when the ACK flag is expected). Returns it.
    pub fn expect_one(&mut self, flags: u8, seq: u32, ack: u32) -> Seg {
        let segs = self.take();
        assert_eq!(
            segs.len(),
            1,
            "expected exactly one segment {:?} seq={seq} ack={ack}, got:\n  {}",
            TcpFlags(flags),
            show(&segs)
        );
        let s = segs.into_iter().next().unwrap();
        assert_seg(&s, flags, seq, ack);
        s
    }

    /// Like `expect_one` but ignores PSH.
    pub fn expect_one_nopsh(&mut self, flags: u8, seq: u32, ack: u32) -> Seg {
        let segs = self.take();
        assert_eq!(
            segs.len(),
            1,
            "expected exactly one segment {:?} seq={seq} ack={ack}, got:\n  {}",
            TcpFlags(flags),
            show(&segs)
        );
        let s = segs.into_iter().next().unwrap();
        assert_eq!(
            s.flags() & !PSH,
            flags & !PSH,
            "flags of {s} (expected {:?})",
            TcpFlags(flags)
        );
        assert_eq!(s.seq(), seq, "seq of {s}");
        if flags & ACK != 0 {
            assert_eq!(s.ack(), ack, "ack of {s}");
        }
        s
    }

    /// Exactly one RST; returns it. `seq` must match; an ACK flag is allowed (and then its ack
    /// field is not checked) because RFC 9293 lets a reset from a synchronized state carry one.
    pub fn expect_rst(&mut self, seq: u32) -> Seg {
        let segs = self.take();
        assert_eq!(
            segs.len(),
            1,
            "expected exactly one RST seq={seq}, got:\n  {}",
            show(&segs)
        );
        let s = segs.into_iter().next().unwrap();
        assert!(s.has(RST), "expected RST, got {s}");
        assert_eq!(s.flags() & !(RST | ACK), 0, "unexpected flags on {s}");
        assert_eq!(s.seq(), seq, "seq of {s}");
        assert!(s.payload.is_empty(), "RST with data: {s}");
        s
    }

    // -- building peer segments --------------------------------------------------------------

    /// The peer's current TSval: its clock ticks in milliseconds.
    pub fn peer_tsval(&self) -> u32 {
        PEER_TS0.wrapping_add(self.elapsed().as_millis() as u32)
    }

    /// A segment on connection `c` with the given flags; seq/ack/window/TS default from `c`.
    pub fn seg_on(&self, c: &Conn, flags: u8) -> Out {
        let mut options = TcpOptions::default();
        if c.ts_ok {
            options.timestamp = Some((self.peer_tsval(), c.ts_recent));
        }
        Out {
            repr: TcpRepr {
                src_port: c.port,
                dst_port: LPORT,
                seq: SeqNum(c.nxt),
                ack: SeqNum(c.ack),
                flags: TcpFlags(flags),
                window: c.window,
                urgent: 0,
                options,
            },
            payload: Vec::new(),
            src_ip: PEER_IP,
            dst_ip: US_IP,
            src_mac: PEER_MAC,
            dst_mac: US_MAC,
        }
    }

    /// A segment on the primary connection.
    pub fn seg(&self, flags: u8) -> Out {
        self.seg_on(&self.c, flags)
    }

    pub fn send(&mut self, o: Out) {
        let f = o.frame();
        self.receive_raw(&f);
    }

    /// Sends `data` in one segment at the peer's next sequence number and advances it.
    pub fn send_data(&mut self, data: &[u8]) {
        let o = self.seg(ACK | PSH).data(data);
        self.c.nxt = self.c.nxt.wrapping_add(data.len() as u32);
        self.send(o);
    }

    /// A pure ACK with the peer's current fields.
    pub fn send_ack(&mut self) {
        let o = self.seg(ACK);
        self.send(o);
    }

    /// The SYN the peer opens connection `c` with.
    pub fn syn_for(&self, c: &Conn) -> Out {
        let o = &c.opts;
        let options = TcpOptions {
            mss: o.mss,
            window_scale: o.ws,
            sack_permitted: o.sack,
            timestamp: if o.ts {
                Some((self.peer_tsval(), 0))
            } else {
                None
            },
            ..TcpOptions::default()
        };
        self.seg_on(c, SYN)
            .seq(c.iss)
            .ack(0)
            .win(o.syn_window)
            .options(options)
    }

    /// Records the engine's SYN-ACK (or SYN) in `c`: its ISN and what was negotiated.
    pub fn learn_syn(c: &mut Conn, s: &Seg) {
        c.irs = s.seq();
        c.ack = s.seq().wrapping_add(1);
        c.engine_ws = match (s.repr.options.window_scale, c.opts.ws) {
            (Some(w), Some(_)) => Some(w.min(14)),
            _ => None,
        };
        c.ts_ok = s.repr.options.timestamp.is_some() && c.opts.ts;
        c.sack_ok = s.repr.options.sack_permitted && c.opts.sack;
        if let Some((v, _)) = s.repr.options.timestamp {
            c.ts_recent = v;
        }
        c.syn_seg = Some(s.repr);
    }

    /// Sends the SYN of `c` and returns the SYN-ACK (asserting it is the only segment).
    pub fn syn(&mut self, c: &mut Conn) -> Seg {
        let o = self.syn_for(c);
        self.send(o);
        let segs = self.take();
        assert_eq!(segs.len(), 1, "expected a SYN-ACK, got:\n  {}", show(&segs));
        let s = segs.into_iter().next().unwrap();
        assert_seg(&s, SYN | ACK, s.seq(), c.iss.wrapping_add(1));
        Self::learn_syn(c, &s);
        s
    }

    /// Completes a passive open of `c` with the third ACK (raw window `c.window`).
    pub fn handshake_ack(&mut self, c: &mut Conn) {
        let o = self.seg_on(c, ACK);
        self.send(o);
    }

    /// Full passive open of a new peer connection; returns the connection and its handle.
    pub fn open(&mut self, mut c: Conn) -> (Conn, ConnHandle) {
        let opens = self.app().opens();
        self.syn(&mut c);
        self.handshake_ack(&mut c);
        assert_eq!(
            self.app().opens(),
            opens + 1,
            "final ACK of the handshake did not open the connection; engine sent:\n  {}",
            show(&self.segs)
        );
        let h = self.app().last_open().unwrap();
        // Whatever answered the third ACK is checked by the handshake tests, not here.
        self.segs.clear();
        (c, h)
    }

    /// Opens the primary connection with `opts`; returns its handle.
    pub fn establish_with(&mut self, opts: PeerOpts) -> ConnHandle {
        let c = Conn::new(PPORT, PEER_ISS, opts);
        let (c, h) = self.open(c);
        self.c = c;
        self.take();
        h
    }

    /// Opens the primary connection with a full Linux-like option set.
    pub fn establish(&mut self) -> ConnHandle {
        self.establish_with(PeerOpts::full())
    }

    /// Runs `f` on the connection, outside a callback.
    pub fn with_conn<R>(
        &mut self,
        h: ConnHandle,
        f: impl FnOnce(&mut TestApp, &mut Socket<'_, ConnState>) -> R,
    ) -> Option<R> {
        let r = self.engine.with_conn(h, self.now, &mut self.out, f);
        self.collect();
        r
    }

    pub fn app_send(&mut self, h: ConnHandle, data: &[u8]) -> usize {
        self.with_conn(h, |_, s| s.send(data))
            .expect("live connection")
    }
    pub fn app_close(&mut self, h: ConnHandle) {
        self.with_conn(h, |_, s| s.close())
            .expect("live connection");
    }
    pub fn app_abort(&mut self, h: ConnHandle) {
        self.with_conn(h, |_, s| s.abort())
            .expect("live connection");
    }
    pub fn app_shutdown(&mut self, h: ConnHandle) {
        self.with_conn(h, |_, s| s.shutdown_write())
            .expect("live connection");
    }
    pub fn tcp_state(&mut self, h: ConnHandle) -> Option<State> {
        self.with_conn(h, |_, s| s.tcp_state())
    }

    /// Active open to the peer at `PEER_IP:dport` from `sport`; returns the handle and the SYN.
    pub fn connect(&mut self, sport: u16, dport: u16) -> (ConnHandle, Seg) {
        let h = self
            .engine
            .connect(
                self.now,
                SocketAddrV4::new(PEER_IP, dport),
                sport,
                &mut self.out,
            )
            .expect("connect");
        self.collect();
        let segs = self.take();
        assert_eq!(segs.len(), 1, "expected one SYN, got:\n  {}", show(&segs));
        (h, segs.into_iter().next().unwrap())
    }

    /// The engine's raw advertised window scaled to bytes.
    pub fn scaled_window(&self, s: &Seg) -> u32 {
        let shift = if s.has(SYN) {
            0
        } else {
            self.c.engine_ws.unwrap_or(0)
        };
        (s.repr.window as u32) << shift
    }

    /// Effective payload size of full segments the engine sends on `c` (RFC 6691: the MSS
    /// excludes TCP options, so the 12 bytes of timestamps come off it).
    pub fn eff_mss(&self, c: &Conn) -> usize {
        let mss = c.opts.mss.unwrap_or(536).min(1460) as usize;
        if c.ts_ok {
            mss - 12
        } else {
            mss
        }
    }
}

/// Exact flags, seq and (when ACK is set) ack.
pub fn assert_seg(s: &Seg, flags: u8, seq: u32, ack: u32) {
    assert_eq!(
        s.flags(),
        flags,
        "flags of {s} (expected {:?})",
        TcpFlags(flags)
    );
    assert_eq!(s.seq(), seq, "seq of {s}");
    if flags & ACK != 0 {
        assert_eq!(s.ack(), ack, "ack of {s}");
    }
}

/// Config used by most tests: Linux defaults.
pub fn cfg() -> TcpConfig {
    TcpConfig::default()
}

/// Opens the primary connection with a 100 ms handshake RTT (SYN-ACK at t0, third ACK at
/// t0 + 100 ms), giving the first RTT sample R = 100 ms: SRTT = 100, RTTVAR = 50,
/// RTO = 100 + 4 * 50 = 300 ms (RFC 6298 §2.2, above rto_min = 200 ms).
pub fn establish_rtt_100(cfg: TcpConfig) -> (Harness, ConnHandle) {
    let mut h = Harness::new(cfg, Behaviour::default());
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut c);
    h.advance(ms(100));
    h.expect_none();
    h.handshake_ack(&mut c);
    let handle = h.app().last_open().expect("open");
    h.c = c;
    h.take();
    (h, handle)
}
