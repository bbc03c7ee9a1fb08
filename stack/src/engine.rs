//! One worker's engine: Ethernet/ARP/IPv4/ICMP/TCP demultiplexing, the connection and listen
//! tables, TIME_WAIT, SYN queue and cookies, the timer wheel, the app, and counters.
//! Frames and time go in; frames and app callbacks come out.

use crate::app::{App, CloseReason, ConnHandle, Socket};
use crate::config::{SynCookiePolicy, TcpConfig};
use crate::counters::{Counters, State};
use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::table::{ConnTable, SlotId};
use crate::tcp::cookie::{SynCookies, COOKIE_LIFETIME};
use crate::tcp::isn::IsnGenerator;
use crate::tcp::tcb::{self, Events, Tcb};
use crate::tcp::timewait::{TimeWaitTable, TwEntry, TwId};
use crate::time::Instant;
use crate::timer::{TimerId, TimerWheel};
use crate::wire::arp::{ArpCache, ArpOp, ArpRepr};
use crate::wire::frame::{self, FrameDrop, Parsed};
use crate::wire::icmp::{self, QuotedDatagram};
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
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

/// What a timer carries: which connection (or TIME_WAIT entry) and which of its timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerPayload {
    /// The connection's "rtx" slot: SYN/SYN-ACK/data retransmit, persist, keepalive, FIN_WAIT_2.
    Rtx(SlotId),
    DelAck(SlotId),
}

/// The smallest path MTU a frag-needed may set (Linux `net.ipv4.route.min_pmtu`).
const MIN_PMTU: u16 = 552;

/// TIME_WAIT entries expired per `poll` at most, so one poll stays short after a storm; the
/// rest go on the next (`poll_at` then says "now").
const TW_EXPIRE_BUDGET: usize = 1024;

/// One connection slot: the Tcb and the app's state, inline.
pub(crate) struct Slot<S> {
    pub(crate) tcb: Tcb,
    pub(crate) state: S,
}

/// Bytes of one connection slot for an app state type (memory budgeting and tests).
pub fn slot_size<S>() -> usize {
    core::mem::size_of::<Slot<S>>()
}

/// Bytes of one TIME_WAIT entry, 4-tuple and expiry included (without the index: ~9–11 B
/// more per entry, see `tcp::timewait`).
pub fn time_wait_entry_size() -> usize {
    core::mem::size_of::<TwEntry>()
}

struct Listener {
    port: u16,
    /// Embryonic connections in SYN-RECEIVED.
    synq: usize,
    /// When this listener's SYN queue last overflowed (Linux `tcp_synq_overflow`).
    last_overflow: Option<Instant>,
}

impl Listener {
    /// Linux `tcp_synq_no_recent_overflow`, inverted: under `SynCookiePolicy::Auto` a cookie
    /// is only sent after an overflow, so a bare ACK can carry a cookie we minted only while
    /// the last overflow is younger than a cookie's whole lifetime. Linux sizes this window the
    /// same way (TCP_SYNCOOKIE_VALID is its cookie lifetime, 2 min): a shorter window would
    /// refuse late but legitimate handshakes, and a longer one admits nothing valid. Outside it
    /// every bare ACK is just an ACK for no connection, and no cookie check (no MAC to compute
    /// for an attacker's ACK flood, no blind guess at a cookie) is made.
    fn overflowed_recently(&self, now: Instant) -> bool {
        self.last_overflow
            .is_some_and(|t| now.saturating_since(t) < COOKIE_LIFETIME)
    }
}

/// Everything a connection's processing touches besides its own slot and the app: split from
/// `Engine` so the borrow checker lets a Tcb, the app and this be used together.
pub(crate) struct Shared {
    pub(crate) cfg: TcpConfig,
    pub(crate) ip: Ipv4Addr,
    pub(crate) mac: MacAddr,
    mask: u32,
    gateway: Option<Ipv4Addr>,
    pub(crate) caps: ChecksumCaps,
    tx_meta: TxMeta,
    /// MSS we advertise: min(tcp.mss, mtu - 40).
    pub(crate) our_mss: u16,
    /// Longest Ethernet frame we may emit: MTU + 14 (no FCS).
    max_frame: usize,
    pub(crate) rcv_wscale: u8,
    pub(crate) now: Instant,
    pub(crate) counters: Counters,
    pub(crate) timers: TimerWheel<TimerPayload>,
    /// Drained send-buffer storage for reuse.
    pub(crate) bufs: crate::buffer::BufPool,
    arp: ArpCache,
    isn: IsnGenerator,
    cookies: SynCookies,
    chal_epoch: u64,
    /// Challenge ACKs still allowed in second `chal_epoch`.
    chal_budget: u32,
    /// Draws each second's challenge-ACK budget.
    chal_rng: u64,
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn secret16(state: &mut u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&splitmix64(state).to_le_bytes());
    out[8..].copy_from_slice(&splitmix64(state).to_le_bytes());
    out
}

impl Shared {
    /// RFC 5961 §7: the engine-wide cap on challenge ACKs, behind each connection's own
    /// limit (`Tcb::challenge_ack`). An exact per-second count is the side channel of
    /// CVE-2016-5696: an off-path attacker who spends the budget on its own connection and
    /// counts the challenge ACKs it gets back learns whether a guessed segment of another
    /// connection drew one. So, as Linux since 4.7, each second's budget is drawn at random
    /// from [limit/2, limit/2 + limit), which hides how many others were sent.
    pub(crate) fn challenge_ack_allowed(&mut self) -> bool {
        let sec = self.now.as_micros() / 1_000_000;
        if sec != self.chal_epoch {
            self.chal_epoch = sec;
            let limit = u64::from(self.cfg.challenge_ack_limit);
            let half = limit.div_ceil(2);
            let budget = half + splitmix64(&mut self.chal_rng) % limit.max(1);
            self.chal_budget = budget.min(u64::from(u32::MAX)) as u32;
        }
        if self.chal_budget > 0 {
            self.chal_budget -= 1;
            true
        } else {
            false
        }
    }

    /// Per-4-tuple timestamp offset (RFC 7323 §5.4): keyed, so it reveals nothing, and stable
    /// per tuple, so TSvals keep growing across incarnations (RFC 6191).
    /// It shares the ISN's keyed hash (see `IsnGenerator::isn_and_ts_offset`).
    fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        self.isn.ts_offset(tuple)
    }

    fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        let on_link = (u32::from(dst) ^ u32::from(self.ip)) & self.mask == 0;
        if on_link {
            Some(dst)
        } else {
            self.gateway
        }
    }

    fn send_arp_request<T: Transmit>(&mut self, tx: &mut T, ip: Ipv4Addr) {
        let req = ArpRepr {
            op: ArpOp::Request,
            sender_mac: self.mac,
            sender_ip: self.ip,
            target_mac: MacAddr::ZERO,
            target_ip: ip,
        };
        let mac = self.mac;
        let meta = TxMeta {
            l2_len: 14,
            ..TxMeta::default()
        };
        if tx.frame(frame::ARP_FRAME_LEN, meta, |buf| {
            frame::build_arp_frame(buf, mac, MacAddr::BROADCAST, &req)
        }) {
            self.counters.mib.arp_requests_sent += 1;
            self.counters.mib.out_frames += 1;
        } else {
            self.counters.drops.tx_no_buffer += 1;
        }
    }

    /// Builds and queues one TCP frame. `mac` is the connection's next-hop address; when it
    /// is unknown it is resolved from the ARP cache, or an ARP request goes out and the
    /// segment is dropped (TCP retransmits).
    pub(crate) fn emit_tcp<T: Transmit>(
        &mut self,
        tx: &mut T,
        mac: &mut MacAddr,
        dst_ip: Ipv4Addr,
        repr: &TcpRepr,
        payload: (&[u8], &[u8]),
    ) -> bool {
        if *mac == MacAddr::ZERO {
            let Some(hop) = self.next_hop(dst_ip) else {
                self.counters.drops.no_route += 1;
                return false;
            };
            match self.arp.lookup(hop, self.now) {
                Some(m) => *mac = m,
                None => {
                    self.counters.drops.arp_unresolved += 1;
                    self.send_arp_request(tx, hop);
                    return false;
                }
            }
        }
        let len = frame::tcp_frame_len(repr, payload.0.len() + payload.1.len());
        // The one place every TCP frame passes: nothing over the MTU leaves (RFC 9293 §3.7.1).
        if len > self.max_frame {
            debug_assert!(
                false,
                "{len} B frame exceeds the {} B limit",
                self.max_frame
            );
            self.counters.drops.tx_oversize += 1;
            return false;
        }
        let (src_mac, dst_mac, src_ip, caps) = (self.mac, *mac, self.ip, self.caps);
        let ok = tx.frame(len, self.tx_meta, |buf| {
            frame::build_tcp_frame(buf, src_mac, dst_mac, src_ip, dst_ip, repr, payload, caps)
        });
        if ok {
            self.counters.mib.out_frames += 1;
        } else {
            self.counters.drops.tx_no_buffer += 1;
        }
        ok
    }

    /// RFC 9293 §3.10.7.1: the reset for a segment that matches no connection (never in reply
    /// to a RST).
    fn reply_rst<T: Transmit>(
        &mut self,
        tx: &mut T,
        eth_src: MacAddr,
        tuple: &FourTuple,
        seg: &TcpRepr,
        payload_len: usize,
    ) {
        if seg.flags.rst() {
            return;
        }
        let (seq, ack, flags) = if seg.flags.ack() {
            (seg.ack, SeqNum(0), TcpFlags::RST)
        } else {
            let len = payload_len as u32 + seg.flags.syn() as u32 + seg.flags.fin() as u32;
            (SeqNum(0), seg.seq + len, TcpFlags::RST | TcpFlags::ACK)
        };
        let repr = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let mut mac = eth_src;
        if self.emit_tcp(tx, &mut mac, tuple.remote_ip, &repr, (&[], &[])) {
            self.counters.mib.out_rsts += 1;
            self.counters.mib.out_segs += 1;
        }
    }

    fn tw_ack<T: Transmit>(&mut self, tx: &mut T, e: &TwEntry, mac: MacAddr) {
        let tuple = &e.tuple;
        let mut options = TcpOptions::default();
        if e.ts_ok() {
            options.timestamp = Some((
                (self.now.as_millis() as u32).wrapping_add(self.ts_offset(tuple)),
                e.ts_recent,
            ));
        }
        let repr = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            seq: e.snd_nxt,
            ack: e.rcv_nxt,
            flags: TcpFlags(TcpFlags::ACK),
            window: e.window,
            urgent: 0,
            options,
        };
        let mut mac = mac;
        if self.emit_tcp(tx, &mut mac, tuple.remote_ip, &repr, (&[], &[])) {
            self.counters.mib.out_segs += 1;
        }
    }
}

#[inline]
fn sync_gauge(counters: &mut Counters, tcb: &mut Tcb) {
    if tcb.state != tcb.gauge_state && tcb.state != State::Closed {
        counters.states.transition(tcb.gauge_state, tcb.state);
        tcb.gauge_state = tcb.state;
    }
}

/// Undoes a connection's share of the engine-wide accounting (timers, gauges, SYN queue,
/// orphans) before its slot is freed.
fn release<S>(sh: &mut Shared, listeners: &mut [Listener], slot: &mut Slot<S>) {
    let t = &mut slot.tcb;
    t.cancel_timers(sh);
    t.sndbuf.release_to(&mut sh.bufs);
    sh.counters.states.leave(t.gauge_state);
    if t.has(tcb::F_IN_SYNQ) {
        listener_leave(listeners, t.tuple.local_port);
    }
    if t.has(tcb::F_ORPHAN_COUNTED) {
        sh.counters.orphans = sh.counters.orphans.saturating_sub(1);
    }
}

/// A compact entry keeps the 4-tuple of a connection that reached TIME_WAIT for 2×MSL.
fn time_wait_insert(sh: &mut Shared, tw: &mut TimeWaitTable, tuple: FourTuple, t: &Tcb) {
    let wnd = (t.rcv_adv - t.rcv_nxt) >> t.rcv_wscale;
    let e = TwEntry::new(
        tuple,
        t.snd_nxt,
        t.rcv_nxt,
        t.ts_recent,
        wnd.min(65535) as u16,
        t.has(tcb::F_TS),
    );
    match tw.insert(sh.now, e) {
        Ok(()) => sh.counters.states.enter(State::TimeWait),
        Err(_) => sh.counters.mib.tw_killed += 1,
    }
}

fn listener_leave(listeners: &mut [Listener], port: u16) {
    if let Some(l) = listeners.iter_mut().find(|l| l.port == port) {
        l.synq = l.synq.saturating_sub(1);
    }
}

pub struct Engine<A: App> {
    app: A,
    conns: ConnTable<Slot<A::State>>,
    tw: TimeWaitTable,
    listeners: Vec<Listener>,
    sh: Shared,
    next_port: u16,
    /// Connections whose SYN waits for ARP: sent as soon as the reply comes, as Linux's
    /// neighbour queue does, instead of a full initial RTO later.
    arp_waiters: Vec<SlotId>,
}

/// At most this many SYNs wait for ARP; the others go out on their retransmission timer.
const ARP_WAITERS_MAX: usize = 4096;

const EPHEMERAL_LO: u16 = 32768;
const EPHEMERAL_HI: u16 = 60999;

impl<A: App> Engine<A> {
    pub fn new(config: EngineConfig, app: A, now: Instant) -> Result<Self, EngineError> {
        config.tcp.validate().map_err(EngineError::InvalidConfig)?;
        if config.prefix_len > 32 {
            return Err(EngineError::InvalidConfig(
                "prefix length must be at most 32".into(),
            ));
        }
        if config.mtu < 128 {
            return Err(EngineError::InvalidConfig(
                "mtu must be at least 128".into(),
            ));
        }
        let mask = if config.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - config.prefix_len as u32)
        };
        let mut seed = config.seed;
        let isn = IsnGenerator::new(secret16(&mut seed));
        let cookies = SynCookies::new(secret16(&mut seed));
        // Formerly the timestamp-offset key; still drawn so the keys below stay as they were.
        let _ = (splitmix64(&mut seed), splitmix64(&mut seed));
        let table_seed = splitmix64(&mut seed);
        let tw_seed = splitmix64(&mut seed);
        let chal_rng = splitmix64(&mut seed);
        let our_mss = config.tcp.mss.min(config.mtu - 40);
        let rcv_wscale = if config.tcp.window_scaling {
            config.tcp.rcv_wscale()
        } else {
            0
        };
        let caps = config.checksums;
        let sh = Shared {
            ip: config.ip,
            mac: config.mac,
            mask,
            gateway: config.gateway,
            caps,
            tx_meta: TxMeta {
                l2_len: 14,
                l3_len: 20,
                ipv4_csum_offload: caps.tx_ipv4,
                tcp_csum_offload: caps.tx_tcp,
            },
            our_mss,
            max_frame: config.mtu as usize + crate::wire::ethernet::HEADER_LEN,
            rcv_wscale,
            now,
            counters: Counters::default(),
            timers: TimerWheel::new(now, Duration::from_millis(1)),
            bufs: crate::buffer::BufPool::default(),
            arp: ArpCache::new(1024, config.arp_timeout),
            isn,
            cookies,
            // No second has started: the first challenge ACK draws a budget.
            chal_epoch: u64::MAX,
            chal_budget: 0,
            chal_rng,
            cfg: config.tcp,
        };
        Ok(Engine {
            app,
            conns: ConnTable::new(sh.cfg.max_conns, table_seed),
            tw: TimeWaitTable::new(sh.cfg.max_time_wait, sh.cfg.msl * 2, tw_seed),
            listeners: Vec::new(),
            arp_waiters: Vec::new(),
            sh,
            next_port: EPHEMERAL_LO,
        })
    }

    pub fn listen(&mut self, port: u16) -> Result<(), EngineError> {
        if self.listeners.iter().any(|l| l.port == port) {
            return Err(EngineError::PortInUse(port));
        }
        self.listeners.push(Listener {
            port,
            synq: 0,
            last_overflow: None,
        });
        self.sh.counters.states.enter(State::Listen);
        Ok(())
    }

    /// Stops accepting on `port`; established connections continue.
    pub fn unlisten(&mut self, port: u16) {
        if let Some(i) = self.listeners.iter().position(|l| l.port == port) {
            self.listeners.swap_remove(i);
            self.sh.counters.states.leave(State::Listen);
        }
    }

    fn pick_port(&mut self, remote: SocketAddrV4) -> Option<u16> {
        let span = (EPHEMERAL_HI - EPHEMERAL_LO) as u32 + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p >= EPHEMERAL_HI {
                EPHEMERAL_LO
            } else {
                p + 1
            };
            let t = FourTuple {
                local_ip: self.sh.ip,
                local_port: p,
                remote_ip: *remote.ip(),
                remote_port: remote.port(),
            };
            if self.conns.lookup(&t).is_none()
                && self.tw.lookup(&t).is_none()
                && !self.listeners.iter().any(|l| l.port == p)
            {
                return Some(p);
            }
        }
        None
    }

    /// Active open from our address and `local_port` to `remote` (`local_port` 0 picks an
    /// ephemeral port).
    pub fn connect<T: Transmit>(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
        local_port: u16,
        tx: &mut T,
    ) -> Result<ConnHandle, EngineError> {
        self.sh.now = now;
        // A picked port is free in both tables already: no second pair of lookups.
        let picked = local_port == 0;
        let local_port = if picked {
            self.pick_port(remote).ok_or(EngineError::Exhausted)?
        } else {
            local_port
        };
        let tuple = FourTuple {
            local_ip: self.sh.ip,
            local_port,
            remote_ip: *remote.ip(),
            remote_port: remote.port(),
        };
        if !picked && self.conns.lookup(&tuple).is_some() {
            return Err(EngineError::AddressInUse);
        }
        if self.conns.len() >= self.sh.cfg.max_conns {
            return Err(EngineError::Exhausted);
        }
        let hop = self
            .sh
            .next_hop(tuple.remote_ip)
            .ok_or(EngineError::NoRoute(tuple.remote_ip))?;
        // Reusing a 4-tuple still in TIME_WAIT: our ISN grows per tuple (RFC 6528), so the
        // peer accepts the new SYN (RFC 6191 / Linux tcp_tw_reuse).
        if !picked {
            if let Some(twid) = self.tw.lookup(&tuple) {
                self.tw_remove(twid);
                self.sh.counters.mib.tw_recycled += 1;
            }
        }
        let mac = self.sh.arp.lookup(hop, now).unwrap_or(MacAddr::ZERO);
        let (iss, ts_off) = self.sh.isn.isn_and_ts_offset(now, &tuple);
        let mut t = Tcb::new(&self.sh, tuple, mac, State::SynSent, iss, ts_off);
        t.set(tcb::F_APP_OPEN);
        let id = self
            .conns
            .insert(
                tuple,
                Slot {
                    tcb: t,
                    state: A::State::default(),
                },
            )
            .map_err(|_| EngineError::Exhausted)?;
        self.sh.counters.states.enter(State::SynSent);
        self.sh.counters.mib.active_opens += 1;
        let slot = self.conns.get_mut(id).expect("just inserted");
        slot.tcb.send_syn(&mut self.sh, tx, false);
        let rto = slot.tcb.rtt.rto();
        slot.tcb.arm_rtx(&mut self.sh, id, tcb::RTX_SYN, rto);
        if slot.tcb.peer_mac == MacAddr::ZERO && self.arp_waiters.len() < ARP_WAITERS_MAX {
            self.arp_waiters.push(id);
        }
        Ok(ConnHandle(id))
    }

    /// Processes one received Ethernet frame.
    pub fn receive<T: Transmit>(&mut self, now: Instant, frame: &[u8], meta: RxMeta, tx: &mut T) {
        self.sh.now = now;
        self.sh.counters.mib.in_frames += 1;
        match frame::parse_frame(frame, self.sh.mac, self.sh.ip, self.sh.caps, meta) {
            Err(d) => {
                d.count(&mut self.sh.counters.drops);
                match d {
                    FrameDrop::TcpChecksum => {
                        self.sh.counters.mib.in_segs += 1;
                        self.sh.counters.mib.in_errs += 1;
                        self.sh.counters.mib.in_csum_errors += 1;
                    }
                    FrameDrop::TcpMalformed | FrameDrop::TcpTruncated => {
                        self.sh.counters.mib.in_segs += 1;
                        self.sh.counters.mib.in_errs += 1;
                    }
                    _ => {}
                }
            }
            Ok(Parsed::Arp { eth_src, arp }) => self.arp_input(eth_src, arp, tx),
            Ok(Parsed::EchoRequest {
                eth_src,
                ip_src,
                ip_dst,
                ident,
                seq_no,
                data,
            }) => {
                let len = frame::echo_reply_frame_len(data.len());
                let (mac, caps) = (self.sh.mac, self.sh.caps);
                let meta = TxMeta {
                    l2_len: 14,
                    l3_len: 20,
                    ..TxMeta::default()
                };
                if tx.frame(len, meta, |buf| {
                    frame::build_echo_reply_frame(
                        buf, mac, eth_src, ip_dst, ip_src, ident, seq_no, data, caps,
                    )
                }) {
                    self.sh.counters.mib.icmp_echo_replies += 1;
                    self.sh.counters.mib.out_frames += 1;
                } else {
                    self.sh.counters.drops.tx_no_buffer += 1;
                }
            }
            Ok(Parsed::Tcp {
                eth_src,
                ip_src,
                ip_dst,
                tcp,
                payload,
            }) => self.tcp_input(eth_src, ip_src, ip_dst, &tcp, payload, tx),
            Ok(Parsed::FragNeeded {
                next_hop_mtu,
                quoted,
                ..
            }) => self.frag_needed_input(next_hop_mtu, &quoted, tx),
        }
    }

    /// Path MTU discovery (RFC 1191 §6.1) with the checks of RFC 5927: an ICMP
    /// "fragmentation needed" lowers a connection's segment size only if it quotes a segment of
    /// that connection that is still in flight, and only downwards. The frame parser has already
    /// checked the ICMP checksum and that the quote is a TCP segment from our address.
    ///
    /// Not done: RFC 1191 §6.3 aging (raising the estimate again after some minutes); the path
    /// MTU only goes down, for the life of the connection, and is not shared between
    /// connections to the same destination.
    fn frag_needed_input<T: Transmit>(
        &mut self,
        next_hop_mtu: u16,
        quoted: &QuotedDatagram,
        tx: &mut T,
    ) {
        let c = &mut self.sh.counters;
        c.mib.icmp_frag_needed += 1;
        // The quoted segment went from us to the peer.
        let tuple = FourTuple {
            local_ip: quoted.src,
            local_port: quoted.src_port(),
            remote_ip: quoted.dst,
            remote_port: quoted.dst_port(),
        };
        let Some(id) = self.conns.lookup(&tuple) else {
            c.drops.icmp_no_connection += 1;
            return;
        };
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        let t = &mut slot.tcb;
        // RFC 5927 §4.1 / §5.1 (Linux tcp_v4_err): only a segment still unacknowledged can
        // have been dropped; anything else is stale or a blind attacker guessing.
        if !quoted.seq().in_range(t.snd_una, t.snd_nxt) {
            c.drops.icmp_out_of_window += 1;
            return;
        }
        // RFC 1191 §5: a router older than RFC 1191 sends 0; we then take the largest plateau
        // of RFC 1191 §7 below the size of the datagram that did not fit. Either way the
        // estimate is clamped to Linux's min_pmtu (552): tiny MTUs are an attack on throughput
        // (RFC 5927 §7.2), and DF stays set, so a path that really is narrower than that is not
        // served (Linux would clear DF there).
        let mtu = match next_hop_mtu {
            0 => icmp::plateau_below(quoted.total_len),
            m => m,
        }
        .max(MIN_PMTU);
        // The largest datagram this connection sends is 40 bytes of headers + its MSS (payload
        // and options). A report that is not below that changes nothing (RFC 1191 §6.1: the
        // PMTU never rises from a "too big" message).
        if mtu as u32 >= t.mss as u32 + 40 {
            c.drops.icmp_mtu_not_lower += 1;
            return;
        }
        c.mib.pmtu_updates += 1;
        t.on_frag_needed(&mut self.sh, tx, id, mtu);
    }

    fn arp_input<T: Transmit>(&mut self, eth_src: MacAddr, arp: ArpRepr, tx: &mut T) {
        if arp.target_ip != self.sh.ip {
            self.sh.counters.drops.arp_not_for_us += 1;
            return;
        }
        if arp.sender_mac.is_multicast() || arp.sender_mac == MacAddr::ZERO {
            self.sh.counters.drops.arp_malformed += 1;
            return;
        }
        self.sh
            .arp
            .insert(arp.sender_ip, arp.sender_mac, self.sh.now);
        if !self.arp_waiters.is_empty() {
            self.send_waiting_syns(arp.sender_ip, tx);
        }
        if arp.op == ArpOp::Request {
            let reply = ArpRepr {
                op: ArpOp::Reply,
                sender_mac: self.sh.mac,
                sender_ip: self.sh.ip,
                target_mac: arp.sender_mac,
                target_ip: arp.sender_ip,
            };
            let mac = self.sh.mac;
            let meta = TxMeta {
                l2_len: 14,
                ..TxMeta::default()
            };
            if tx.frame(frame::ARP_FRAME_LEN, meta, |buf| {
                frame::build_arp_frame(buf, mac, eth_src, &reply)
            }) {
                self.sh.counters.mib.arp_replies_sent += 1;
                self.sh.counters.mib.out_frames += 1;
            } else {
                self.sh.counters.drops.tx_no_buffer += 1;
            }
        }
    }

    /// `hop` was just resolved: the SYNs that could not leave for want of its MAC go now.
    fn send_waiting_syns<T: Transmit>(&mut self, hop: Ipv4Addr, tx: &mut T) {
        let mut waiters = core::mem::take(&mut self.arp_waiters);
        waiters.retain(|&id| {
            let Some(slot) = self.conns.get_mut(id) else {
                return false;
            };
            let t = &mut slot.tcb;
            if t.state != State::SynSent || t.peer_mac != MacAddr::ZERO {
                return false;
            }
            if self.sh.next_hop(t.tuple.remote_ip) != Some(hop) {
                return true;
            }
            t.send_syn(&mut self.sh, tx, false);
            false
        });
        self.arp_waiters = waiters;
    }

    fn tcp_input<T: Transmit>(
        &mut self,
        eth_src: MacAddr,
        ip_src: Ipv4Addr,
        ip_dst: Ipv4Addr,
        seg: &TcpRepr,
        payload: &[u8],
        tx: &mut T,
    ) {
        let c = &mut self.sh.counters;
        c.mib.in_segs += 1;
        let f = seg.flags;
        if f.rst() {
            c.mib.in_rsts += 1;
        }
        if f.syn() && (f.rst() || f.fin()) {
            c.drops.tcp_bad_flags += 1;
            return;
        }
        let tuple = FourTuple {
            local_ip: ip_dst,
            local_port: seg.dst_port,
            remote_ip: ip_src,
            remote_port: seg.src_port,
        };
        if let Some(id) = self.conns.lookup(&tuple) {
            let Some(slot) = self.conns.get_mut(id) else {
                return;
            };
            // The frame's source becomes the next hop for replies (no ARP needed), but only
            // once `input` found the segment acceptable.
            let mut ev = Events::default();
            slot.tcb
                .input(&mut self.sh, tx, id, eth_src, seg, payload, &mut ev);
            self.dispatch(id, payload, ev, tx);
            return;
        }
        if let Some(twid) = self.tw.lookup(&tuple) {
            if self.tw_input(twid, eth_src, seg, payload, tx) {
                return;
            }
        }
        self.listen_input(tuple, eth_src, seg, payload, tx);
    }

    /// TIME-WAIT (RFC 9293 §3.10.7.4, RFC 1337, RFC 6191). Returns false when the entry was
    /// recycled for a new SYN, which the listener must now handle.
    fn tw_input<T: Transmit>(
        &mut self,
        twid: TwId,
        eth_src: MacAddr,
        seg: &TcpRepr,
        payload: &[u8],
        tx: &mut T,
    ) -> bool {
        let Some(&e) = self.tw.get(twid) else {
            return false;
        };
        let f = seg.flags;
        let seg_ts = if e.ts_ok() {
            seg.options.timestamp
        } else {
            None
        };
        if f.rst() {
            // RFC 1337: a RST must not cut TIME-WAIT short (TIME-WAIT assassination).
            self.sh.counters.drops.tcp_time_wait += 1;
            return true;
        }
        if f.syn() && !f.ack() {
            let newer = match seg_ts {
                Some((tsval, _)) => (tsval.wrapping_sub(e.ts_recent) as i32) > 0,
                None => seg.seq.gt(e.rcv_nxt),
            };
            if newer {
                self.tw_remove(twid);
                self.sh.counters.mib.tw_recycled += 1;
                return false;
            }
            self.sh.tw_ack(tx, &e, eth_src);
            self.sh.counters.drops.tcp_time_wait += 1;
            return true;
        }
        if let Some((tsval, _)) = seg_ts {
            if (tsval.wrapping_sub(e.ts_recent) as i32) < 0 {
                self.sh.counters.mib.paws_estab_rejected += 1;
                self.sh.counters.drops.tcp_paws += 1;
                self.sh.tw_ack(tx, &e, eth_src);
                return true;
            }
        }
        let fin = f.fin();
        if fin || !payload.is_empty() || seg.seq != e.rcv_nxt {
            // A retransmitted FIN: our last ACK was lost. Re-ACK and restart 2×MSL.
            self.sh.tw_ack(tx, &e, eth_src);
            if fin {
                self.tw.restart(self.sh.now, twid);
            }
        }
        self.sh.counters.drops.tcp_time_wait += 1;
        true
    }

    fn tw_remove(&mut self, twid: TwId) {
        if self.tw.remove(twid).is_some() {
            self.sh.counters.states.leave(State::TimeWait);
        }
    }

    /// LISTEN (RFC 9293 §3.10.7.2), SYN queue, SYN cookies (RFC 4987 §3.6); else RST.
    fn listen_input<T: Transmit>(
        &mut self,
        tuple: FourTuple,
        eth_src: MacAddr,
        seg: &TcpRepr,
        payload: &[u8],
        tx: &mut T,
    ) {
        let f = seg.flags;
        let li = if tuple.local_ip == self.sh.ip {
            self.listeners
                .iter()
                .position(|l| l.port == tuple.local_port)
        } else {
            None
        };
        let Some(li) = li else {
            let d = &mut self.sh.counters.drops;
            if f.rst() {
                d.tcp_rst_no_connection += 1;
            } else if f.syn() {
                d.tcp_no_listener += 1;
            } else {
                d.tcp_no_connection += 1;
            }
            self.sh.reply_rst(tx, eth_src, &tuple, seg, payload.len());
            return;
        };
        if f.rst() {
            self.sh.counters.drops.tcp_rst_no_connection += 1;
            return;
        }
        let policy = self.sh.cfg.syncookies;
        if f.ack() {
            let try_cookie = match policy {
                SynCookiePolicy::Always => true,
                SynCookiePolicy::Auto => self.listeners[li].overflowed_recently(self.sh.now),
                SynCookiePolicy::Never => false,
            };
            if !f.syn() && try_cookie {
                let peer_isn = seg.seq - 1u32;
                let cookie = seg.ack - 1u32;
                if let Some(mss) = self
                    .sh
                    .cookies
                    .decode(self.sh.now, &tuple, peer_isn, cookie)
                {
                    self.cookie_accept(tuple, eth_src, seg, payload, mss, tx);
                    return;
                }
                self.sh.counters.mib.syncookies_failed += 1;
                self.sh.counters.drops.tcp_bad_cookie += 1;
            } else {
                self.sh.counters.drops.tcp_no_connection += 1;
            }
            self.sh.reply_rst(tx, eth_src, &tuple, seg, payload.len());
            return;
        }
        if !f.syn() {
            self.sh.counters.drops.tcp_bad_flags += 1;
            return;
        }
        if self.conns.len() >= self.sh.cfg.max_conns {
            self.sh.counters.drops.tcp_conn_table_full += 1;
            self.sh.counters.mib.listen_drops += 1;
            return;
        }
        let full = self.listeners[li].synq >= self.sh.cfg.syn_backlog;
        if full {
            self.sh.counters.mib.listen_overflows += 1;
            self.listeners[li].last_overflow = Some(self.sh.now);
        }
        let cookie = match policy {
            SynCookiePolicy::Always => true,
            SynCookiePolicy::Auto => full,
            SynCookiePolicy::Never => false,
        };
        if cookie {
            self.cookie_synack(&tuple, eth_src, seg, tx);
            return;
        }
        if full {
            self.sh.counters.mib.listen_drops += 1;
            self.sh.counters.drops.tcp_syn_queue_full += 1;
            return;
        }
        let (iss, ts_off) = self.sh.isn.isn_and_ts_offset(self.sh.now, &tuple);
        let mut t = Tcb::new(&self.sh, tuple, eth_src, State::SynReceived, iss, ts_off);
        t.set(tcb::F_PASSIVE | tcb::F_IN_SYNQ);
        t.irs = seg.seq;
        t.rcv_nxt = seg.seq + 1u32;
        t.negotiate(&self.sh, &seg.options);
        t.snd_wnd = seg.window as u32;
        t.max_snd_wnd = t.snd_wnd;
        let Ok(id) = self.conns.insert(
            tuple,
            Slot {
                tcb: t,
                state: A::State::default(),
            },
        ) else {
            self.sh.counters.drops.tcp_conn_table_full += 1;
            self.sh.counters.mib.listen_drops += 1;
            return;
        };
        self.listeners[li].synq += 1;
        self.sh.counters.states.enter(State::SynReceived);
        self.sh.counters.mib.passive_opens += 1;
        let slot = self.conns.get_mut(id).expect("just inserted");
        slot.tcb.send_syn(&mut self.sh, tx, false);
        let rto = self.sh.cfg.rto_initial;
        slot.tcb.arm_rtx(&mut self.sh, id, tcb::RTX_SYN, rto);
    }

    /// Stateless SYN-ACK whose ISN is a cookie; WS and SACK ride in our TSval.
    fn cookie_synack<T: Transmit>(
        &mut self,
        tuple: &FourTuple,
        eth_src: MacAddr,
        seg: &TcpRepr,
        tx: &mut T,
    ) {
        let sh = &mut self.sh;
        let o = &seg.options;
        let peer_mss = o.mss.unwrap_or(536);
        let (isn, _mss) = sh.cookies.encode(sh.now, tuple, seg.seq, peer_mss);
        let peer_ts = if sh.cfg.timestamps { o.timestamp } else { None };
        // Without timestamps there is nowhere to keep WS/SACK: offer neither.
        let ws = match peer_ts {
            Some(_) if sh.cfg.window_scaling => o.window_scale,
            _ => None,
        };
        let sack = peer_ts.is_some() && sh.cfg.sack && o.sack_permitted;
        let mut options = TcpOptions {
            mss: Some(sh.our_mss),
            window_scale: ws.map(|_| sh.rcv_wscale),
            sack_permitted: sack,
            ..TcpOptions::default()
        };
        if let Some((tsval, _)) = peer_ts {
            let now_ts = (sh.now.as_millis() as u32).wrapping_add(sh.ts_offset(tuple));
            options.timestamp = Some((SynCookies::encode_ts(now_ts, ws, sack), tsval));
        }
        let repr = TcpRepr {
            src_port: tuple.local_port,
            dst_port: tuple.remote_port,
            seq: isn,
            ack: seg.seq + 1u32,
            flags: TcpFlags(TcpFlags::SYN | TcpFlags::ACK),
            window: sh.cfg.rx_buf.min(65535) as u16,
            urgent: 0,
            options,
        };
        let mut mac = eth_src;
        if sh.emit_tcp(tx, &mut mac, tuple.remote_ip, &repr, (&[], &[])) {
            sh.counters.mib.syncookies_sent += 1;
            sh.counters.mib.out_segs += 1;
        }
    }

    /// The ACK completing a cookie handshake: the connection starts in ESTABLISHED.
    fn cookie_accept<T: Transmit>(
        &mut self,
        tuple: FourTuple,
        eth_src: MacAddr,
        seg: &TcpRepr,
        payload: &[u8],
        mss: u16,
        tx: &mut T,
    ) {
        if self.conns.len() >= self.sh.cfg.max_conns {
            self.sh.counters.drops.tcp_conn_table_full += 1;
            self.sh.counters.mib.listen_drops += 1;
            return;
        }
        self.sh.counters.mib.syncookies_recv += 1;
        let iss = seg.ack - 1u32;
        let ts_off = self.sh.ts_offset(&tuple);
        let mut t = Tcb::new(&self.sh, tuple, eth_src, State::Established, iss, ts_off);
        t.set(tcb::F_PASSIVE | tcb::F_SYN_ACKED);
        let mut opts = TcpOptions {
            mss: Some(mss),
            ..TcpOptions::default()
        };
        // `cookie_synack` put WS and SACK in our TSval only when it sent a timestamp, which it
        // does only with timestamps configured and a TS option in the SYN; then the peer must
        // echo it in every segment (RFC 7323 §3.2). So an ACK without TS had a SYN-ACK without
        // one: no WS, no SACK. With timestamps off we sent none, and a TS option in the ACK is
        // ignored (RFC 7323 §3.2) rather than decoded. A TSecr not from our clock in the last
        // cookie lifetime was not minted by us either.
        if let Some((tsval, tsecr)) = seg.options.timestamp.filter(|_| self.sh.cfg.timestamps) {
            let now_ts = (self.sh.now.as_millis() as u32).wrapping_add(ts_off);
            let age_ms = now_ts.wrapping_sub(tsecr);
            // encode_ts may step back one 64 ms block below the clock.
            if u64::from(age_ms) <= COOKIE_LIFETIME.as_millis() as u64 + 64 {
                let (ws, sack) = SynCookies::decode_ts(tsecr);
                opts.window_scale = ws;
                opts.sack_permitted = sack;
                opts.timestamp = Some((tsval, tsecr));
            }
        }
        t.negotiate(&self.sh, &opts);
        t.irs = seg.seq - 1u32;
        t.rcv_nxt = seg.seq;
        t.last_ack_sent = seg.seq;
        t.rcv_adv = seg.seq + self.sh.cfg.rx_buf.min(65535) as u32;
        t.snd_una = seg.ack;
        t.snd_nxt = seg.ack;
        t.rtx_nxt = seg.ack;
        t.rtx_end = seg.ack;
        t.recover = seg.ack;
        t.high_rxt = seg.ack;
        // wl1 just before SEG.SEQ so that this ACK's window is taken.
        t.snd_wl1 = seg.seq - 1u32;
        t.snd_wl2 = seg.ack;
        let Ok(id) = self.conns.insert(
            tuple,
            Slot {
                tcb: t,
                state: A::State::default(),
            },
        ) else {
            self.sh.counters.drops.tcp_conn_table_full += 1;
            return;
        };
        self.sh.counters.states.enter(State::Established);
        self.sh.counters.mib.passive_opens += 1;
        let slot = self.conns.get_mut(id).expect("just inserted");
        let mut ev = Events {
            opened: true,
            ..Events::default()
        };
        slot.tcb
            .input(&mut self.sh, tx, id, eth_src, seg, payload, &mut ev);
        self.dispatch(id, payload, ev, tx);
    }

    /// App callbacks for what `input` found, then the app's requests, then one output flush.
    fn dispatch<T: Transmit>(&mut self, id: SlotId, payload: &[u8], ev: Events, tx: &mut T) {
        if let Some(reason) = ev.close {
            self.finish(id, reason);
            return;
        }
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        let handle = ConnHandle(id);
        if ev.opened {
            if slot.tcb.has(tcb::F_IN_SYNQ) {
                slot.tcb.clear(tcb::F_IN_SYNQ);
                listener_leave(&mut self.listeners, slot.tcb.tuple.local_port);
            }
            if !slot.tcb.has(tcb::F_OPENED) {
                slot.tcb.set(tcb::F_OPENED | tcb::F_APP_OPEN);
                let mut sock = Socket {
                    tcb: &mut slot.tcb,
                    state: &mut slot.state,
                    handle,
                    pool: &mut self.sh.bufs,
                };
                self.app.on_open(&mut sock);
            }
        }
        let gone = tcb::F_ORPHAN | tcb::F_CLOSE_REQ | tcb::F_ABORT_REQ;
        let live = |t: &Tcb| t.has(tcb::F_OPENED) && !t.has(gone);
        if let Some((a, b)) = ev.direct {
            let data = payload.get(a..b).unwrap_or(&[]);
            let n = if live(&slot.tcb) {
                let mut sock = Socket {
                    tcb: &mut slot.tcb,
                    state: &mut slot.state,
                    handle,
                    pool: &mut self.sh.bufs,
                };
                self.app.on_data(&mut sock, data).min(data.len())
            } else {
                0
            };
            if n < data.len() {
                // Only what the app left is copied (zero-copy otherwise).
                let w = slot.tcb.rcvbuf.write_at(0, &data[n..]);
                if w.dropped > 0 {
                    self.sh.counters.drops.tcp_rcv_buffer_full += 1;
                }
            }
        }
        if ev.buffered && live(&slot.tcb) {
            // Offer buffered data; the buffer is moved out so the app may hold the slice
            // while it uses the socket.
            for _ in 0..2 {
                let placeholder = crate::buffer::RecvBuffer::new(0, 0);
                let rb = core::mem::replace(&mut slot.tcb.rcvbuf, placeholder);
                let (a, _) = rb.readable();
                let len = a.len();
                let n = if len > 0 {
                    let mut sock = Socket {
                        tcb: &mut slot.tcb,
                        state: &mut slot.state,
                        handle,
                        pool: &mut self.sh.bufs,
                    };
                    self.app.on_data(&mut sock, a).min(len)
                } else {
                    0
                };
                slot.tcb.rcvbuf = rb;
                slot.tcb.rcvbuf.consume(n);
                if len == 0 || n < len || !live(&slot.tcb) {
                    break;
                }
            }
        }
        if ev.peer_fin && live(&slot.tcb) {
            let mut sock = Socket {
                tcb: &mut slot.tcb,
                state: &mut slot.state,
                handle,
                pool: &mut self.sh.bufs,
            };
            self.app.on_peer_closed(&mut sock);
        }
        if ev.writable && live(&slot.tcb) {
            let mut sock = Socket {
                tcb: &mut slot.tcb,
                state: &mut slot.state,
                handle,
                pool: &mut self.sh.bufs,
            };
            self.app.on_writable(&mut sock);
        }
        self.flush(id, tx, ev.time_wait);
    }

    /// Applies app requests (close/shutdown/abort), sends what is due, keeps the gauges exact,
    /// and moves the connection to TIME_WAIT when it got there.
    fn flush<T: Transmit>(&mut self, id: SlotId, tx: &mut T, time_wait: bool) {
        let Some(slot) = self.conns.get_mut(id) else {
            return;
        };
        let t = &mut slot.tcb;
        if t.has(tcb::F_ABORT_REQ | tcb::F_CLOSE_REQ | tcb::F_SHUT_REQ) {
            let mut abort = t.has(tcb::F_ABORT_REQ);
            if !abort && t.has(tcb::F_CLOSE_REQ) && !t.rcvbuf.is_empty() {
                // RFC 2525 §2.17: closing with unread data resets and discards it.
                self.sh.counters.mib.abort_on_close += 1;
                abort = true;
            }
            if !abort
                && t.has(tcb::F_CLOSE_REQ)
                && !t.has(tcb::F_ORPHAN_COUNTED)
                && self.sh.counters.orphans >= self.sh.cfg.max_orphans as u64
            {
                // tcp_max_orphans: refuse to keep another orphan (TCPAbortOnMemory).
                self.sh.counters.mib.abort_on_memory += 1;
                abort = true;
            }
            if abort {
                t.clear(tcb::F_ABORT_REQ | tcb::F_CLOSE_REQ | tcb::F_SHUT_REQ);
                match t.state {
                    State::SynSent | State::Closed => {}
                    _ => t.send_abort_rst(&mut self.sh, tx),
                }
                t.state = State::Closed;
                self.finish(id, CloseReason::Aborted);
                return;
            }
            if t.has(tcb::F_CLOSE_REQ) {
                t.clear(tcb::F_CLOSE_REQ | tcb::F_SHUT_REQ);
                if t.state == State::SynSent {
                    t.state = State::Closed;
                    self.finish(id, CloseReason::Aborted);
                    return;
                }
                t.set(tcb::F_ORPHAN | tcb::F_ORPHAN_COUNTED);
                self.sh.counters.orphans += 1;
                t.queue_fin();
            }
            if t.has(tcb::F_SHUT_REQ) {
                t.clear(tcb::F_SHUT_REQ);
                t.queue_fin();
            }
        }
        t.output(&mut self.sh, tx, id);
        sync_gauge(&mut self.sh.counters, t);
        if time_wait || t.state == State::TimeWait {
            self.enter_time_wait(id);
        }
    }

    /// Frees the connection; the app hears `on_closed` once if it knew the handle.
    fn finish(&mut self, id: SlotId, reason: CloseReason) {
        let (sh, listeners, app) = (&mut self.sh, &mut self.listeners, &mut self.app);
        self.conns.remove_with(id, |_, slot| {
            release(sh, listeners, slot);
            if slot.tcb.has(tcb::F_APP_OPEN) {
                app.on_closed(&mut slot.state, ConnHandle(id), reason);
            }
        });
    }

    /// The full Tcb is freed; a compact entry keeps the 4-tuple for 2×MSL.
    fn enter_time_wait(&mut self, id: SlotId) {
        let (sh, listeners, app, tw) = (
            &mut self.sh,
            &mut self.listeners,
            &mut self.app,
            &mut self.tw,
        );
        self.conns.remove_with(id, |&tuple, slot| {
            release(sh, listeners, slot);
            time_wait_insert(sh, tw, tuple, &slot.tcb);
            if slot.tcb.has(tcb::F_APP_OPEN) {
                app.on_closed(&mut slot.state, ConnHandle(id), CloseReason::Normal);
            }
        });
    }

    /// Fires due timers and flushes pending output. Call once per poll loop.
    pub fn poll<T: Transmit>(&mut self, now: Instant, tx: &mut T) {
        self.sh.now = now;
        while let Some(p) = self.sh.timers.poll_expired(now) {
            match p {
                TimerPayload::Rtx(id) => {
                    let Some(slot) = self.conns.get_mut(id) else {
                        continue;
                    };
                    slot.tcb.rtx_timer = TimerId::NONE;
                    let mut ev = Events::default();
                    slot.tcb.on_rtx_timer(&mut self.sh, tx, id, &mut ev);
                    if let Some(reason) = ev.close {
                        self.finish(id, reason);
                    } else {
                        sync_gauge(&mut self.sh.counters, &mut slot.tcb);
                    }
                }
                TimerPayload::DelAck(id) => {
                    let Some(slot) = self.conns.get_mut(id) else {
                        continue;
                    };
                    slot.tcb.on_delack_timer(&mut self.sh, tx, id);
                }
            }
        }
        let n = self.tw.expire(now, TW_EXPIRE_BUDGET);
        if n > 0 {
            for _ in 0..n {
                self.sh.counters.states.leave(State::TimeWait);
            }
            self.sh.counters.mib.tw_expired += n as u64;
        }
    }

    /// When `poll` next has work (for callers that sleep).
    pub fn poll_at(&self) -> Option<Instant> {
        match (self.sh.timers.next_deadline(), self.tw.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Heap bytes held by the TIME_WAIT table (memory accounting and tests).
    pub fn time_wait_memory_bytes(&self) -> usize {
        self.tw.memory_bytes()
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
        self.sh.now = now;
        let slot = self.conns.get_mut(handle.0)?;
        if !slot.tcb.has(tcb::F_APP_OPEN) {
            return None;
        }
        let mut sock = Socket {
            tcb: &mut slot.tcb,
            state: &mut slot.state,
            handle,
            pool: &mut self.sh.bufs,
        };
        let r = f(&mut self.app, &mut sock);
        self.flush(handle.0, tx, false);
        Some(r)
    }

    /// Graceful shutdown: stop listening and close every connection (FIN, or RST where data is
    /// unread). `poll` then drives them to CLOSED.
    pub fn close_all<T: Transmit>(&mut self, now: Instant, tx: &mut T) {
        self.sh.now = now;
        while let Some(l) = self.listeners.pop() {
            let _ = l;
            self.sh.counters.states.leave(State::Listen);
        }
        for id in self.conns.ids() {
            let Some(slot) = self.conns.get_mut(id) else {
                continue;
            };
            if slot.tcb.has(tcb::F_ORPHAN) {
                continue;
            }
            if slot.tcb.state == State::SynReceived && !slot.tcb.has(tcb::F_OPENED) {
                slot.tcb.send_abort_rst(&mut self.sh, tx);
                slot.tcb.state = State::Closed;
                self.finish(id, CloseReason::Aborted);
                continue;
            }
            slot.tcb.set(tcb::F_CLOSE_REQ);
            self.flush(id, tx, false);
        }
    }

    /// Live connections, TIME_WAIT excluded.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }
    pub fn time_wait_count(&self) -> usize {
        self.tw.len()
    }
    pub fn app(&self) -> &A {
        &self.app
    }
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }
    pub fn counters(&self) -> &Counters {
        &self.sh.counters
    }
    /// The RFC 9293 state of a live connection (None once closed or in TIME_WAIT).
    pub fn conn_state(&self, handle: ConnHandle) -> Option<State> {
        self.conns.get(handle.0).map(|s| s.tcb.state)
    }
    /// Heap bytes held by a connection's buffers (memory accounting and tests).
    pub fn conn_heap_bytes(&self, handle: ConnHandle) -> Option<usize> {
        self.conns.get(handle.0).map(|s| s.tcb.heap_bytes())
    }
}
