//! Throughput probes (print; assert nothing about speed). Run:
//! `cargo test --release -p stack --test engine_perf -- --ignored --nocapture --test-threads 1`
//!
//! - `short_transactions_*`: both ends in memory on one core; per transaction a handshake, a
//!   64 B request, a 64 B echo, a four-way close, the client active-closing into TIME_WAIT.
//!   The lean variants swap frames between two preallocated `FrameBuf`s (no allocation, no
//!   zeroing per frame), so nearly all the time is the two engines; `_sim_wire` goes through
//!   `sim::Pair` for comparison.
//! - `established_receive_*`: one engine receiving in-order data segments on an established
//!   connection and ACKing them (delayed ACK: one ACK per two segments).
//!
//! Each runs with checksums in software and with NIC checksum offload modeled (all
//! `ChecksumCaps` set, every frame delivered with `RxMeta` Good), as DPDK ports provide.

use core::net::SocketAddrV4;
use core::time::Duration;
use stack::sim::{Impairments, Pair};
use stack::testing::*;
use stack::wire::frame::{parse_frame, Parsed};
use stack::wire::tcp::TcpFlags;
use stack::wire::{ChecksumCaps, RxCsum, RxMeta};
use stack::{App, CloseReason, ConnHandle, Engine, Instant, Socket, TcpConfig};

#[derive(Default)]
struct Client {
    done: u64,
}

impl App for Client {
    type State = u32;
    fn on_open(&mut self, sock: &mut Socket<'_, u32>) {
        sock.send(&[0x55; 64]);
    }
    fn on_data(&mut self, sock: &mut Socket<'_, u32>, data: &[u8]) -> usize {
        *sock.state() += data.len() as u32;
        if *sock.state() >= 64 {
            sock.close();
        }
        data.len()
    }
    fn on_closed(&mut self, _s: &mut u32, _h: ConnHandle, r: CloseReason) {
        assert_eq!(r, CloseReason::Normal);
        self.done += 1;
    }
}

/// Consumes everything (zero-copy delivery, nothing buffered).
#[derive(Default)]
struct Sink {
    bytes: u64,
}

impl App for Sink {
    type State = ();
    fn on_data(&mut self, _sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        self.bytes += data.len() as u64;
        data.len()
    }
}

/// `ENGINE_PERF_DIV=N` divides the run lengths (e.g. for runs under callgrind).
fn div() -> u64 {
    std::env::var("ENGINE_PERF_DIV")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

const TOTAL: u64 = 200_000;
const BATCH: u64 = 256;

fn offload_caps() -> ChecksumCaps {
    ChecksumCaps {
        rx_ipv4: true,
        rx_tcp: true,
        tx_ipv4: true,
        tx_tcp: true,
    }
}

fn good_meta() -> RxMeta {
    RxMeta {
        ipv4: RxCsum::Good,
        l4: RxCsum::Good,
    }
}

fn tcp_cfg() -> TcpConfig {
    TcpConfig {
        msl: Duration::from_millis(10),
        ..TcpConfig::default()
    }
}

fn engines(offload: bool) -> (Engine<Echo>, Engine<Client>) {
    let now = Instant::from_secs(1);
    let mut sc = engine_config(LOCAL_IP, LOCAL_MAC, tcp_cfg());
    let mut cc = engine_config(PEER_IP, PEER_MAC, tcp_cfg());
    if offload {
        sc.checksums = offload_caps();
        cc.checksums = offload_caps();
    }
    let server = Engine::new(sc, Echo::default(), now).unwrap();
    let client = Engine::new(cc, Client::default(), now).unwrap();
    (server, client)
}

/// Server `a`, client `b`, and the two directions of the wire.
struct Lean {
    a: Engine<Echo>,
    b: Engine<Client>,
    to_a: FrameBuf,
    to_b: FrameBuf,
    now: Instant,
    meta: RxMeta,
}

impl Lean {
    /// Delivers frames both ways until neither engine has anything more to say.
    fn exchange(&mut self) {
        loop {
            for i in 0..self.to_b.len() {
                self.b
                    .receive(self.now, self.to_b.get(i), self.meta, &mut self.to_a);
            }
            self.to_b.clear();
            if self.to_a.is_empty() {
                return;
            }
            for i in 0..self.to_a.len() {
                self.a
                    .receive(self.now, self.to_a.get(i), self.meta, &mut self.to_b);
            }
            self.to_a.clear();
            if self.to_b.is_empty() {
                return;
            }
        }
    }

    /// Moves time on by `d`, firing both engines' timers.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.a.poll(self.now, &mut self.to_b);
        self.b.poll(self.now, &mut self.to_a);
        if !self.to_a.is_empty() {
            for i in 0..self.to_a.len() {
                self.a
                    .receive(self.now, self.to_a.get(i), self.meta, &mut self.to_b);
            }
            self.to_a.clear();
        }
        self.exchange();
    }

    fn connect(&mut self) {
        let to = SocketAddrV4::new(LOCAL_IP, 80);
        self.b.connect(self.now, to, 0, &mut self.to_a).unwrap();
    }
}

fn lean(offload: bool) -> Lean {
    let (mut a, b) = engines(offload);
    a.listen(80).unwrap();
    let mut l = Lean {
        a,
        b,
        to_a: FrameBuf::default(),
        to_b: FrameBuf::default(),
        now: Instant::from_secs(1),
        meta: if offload {
            good_meta()
        } else {
            RxMeta::default()
        },
    };
    // Warm-up: resolves ARP and grows every table, slab and wheel to its working size.
    l.connect();
    while l.b.app().done < 1 {
        for i in 0..l.to_a.len() {
            l.a.receive(l.now, l.to_a.get(i), l.meta, &mut l.to_b);
        }
        l.to_a.clear();
        l.exchange();
        l.advance(Duration::from_millis(1));
    }
    run_lean(&mut l, 20_000 / div());
    l
}

/// `n` transactions, `BATCH` started per millisecond of simulated time; returns when all ended.
fn run_lean(l: &mut Lean, n: u64) {
    let target = l.b.app().done + n;
    let mut started = l.b.app().done;
    while l.b.app().done < target {
        while started - l.b.app().done < BATCH && started < target {
            l.connect();
            started += 1;
        }
        // Deliver the SYNs, then everything that follows, at this instant.
        for i in 0..l.to_a.len() {
            l.a.receive(l.now, l.to_a.get(i), l.meta, &mut l.to_b);
        }
        l.to_a.clear();
        l.exchange();
        // 1 ms of simulated time per round lets TIME_WAIT (20 ms) expire and free ports.
        l.advance(Duration::from_millis(1));
    }
}

fn short_transactions_lean(offload: bool) {
    let mut l = lean(offload);
    let total = TOTAL / div();
    let t0 = std::time::Instant::now();
    run_lean(&mut l, total);
    let el = t0.elapsed();
    assert_eq!(l.a.counters().drops.tcp_checksum, 0);
    println!(
        "short transactions, lean wire, checksums {}: {total} in {el:?}: {:.0}/s, {:.0} ns each \
         (both ends, one core); server conns {} tw {}; client tw {}",
        if offload { "offloaded" } else { "in software" },
        total as f64 / el.as_secs_f64(),
        el.as_nanos() as f64 / total as f64,
        l.a.conn_count(),
        l.a.time_wait_count(),
        l.b.time_wait_count()
    );
}

#[test]
#[ignore]
fn short_transactions_lean_sw_checksum() {
    short_transactions_lean(false);
}

#[test]
#[ignore]
fn short_transactions_lean_offload() {
    short_transactions_lean(true);
}

#[test]
#[ignore]
fn short_transactions_sim_wire() {
    let (mut server, client) = engines(false);
    server.listen(80).unwrap();
    let now = Instant::from_secs(1);
    let mut p = Pair::new(
        server,
        client,
        Impairments::perfect(),
        Impairments::perfect(),
        1,
        now,
    );
    let to = SocketAddrV4::new(LOCAL_IP, 80);
    // Warm-up resolves ARP.
    p.with_b(|e, now, out| e.connect(now, to, 0, out)).unwrap();
    p.run_until(Instant::from_secs(10), |p| p.b.app().done == 1);
    let t0 = std::time::Instant::now();
    let mut started = 1u64;
    while p.b.app().done < TOTAL + 1 {
        while started - p.b.app().done < BATCH && started < TOTAL + 1 {
            p.with_b(|e, now, out| e.connect(now, to, 0, out)).unwrap();
            started += 1;
        }
        p.advance(Duration::from_millis(1));
    }
    let el = t0.elapsed();
    println!(
        "short transactions, sim::Pair wire, checksums in software: {TOTAL} in {el:?}: {:.0}/s; \
         server conns {} tw {}; client tw {}",
        TOTAL as f64 / el.as_secs_f64(),
        p.a.conn_count(),
        p.a.time_wait_count(),
        p.b.time_wait_count()
    );
}

/// RFC 1624 incremental checksum update for a 32-bit field changing from `old` to `new`.
fn csum_update32(csum: u16, old: u32, new: u32) -> u16 {
    let mut s = (!csum) as u32;
    for (o, n) in [(old >> 16, new >> 16), (old & 0xffff, new & 0xffff)] {
        s += (!o as u16) as u32 + n;
    }
    while s > 0xffff {
        s = (s >> 16) + (s & 0xffff);
    }
    !(s as u16)
}

fn established_receive(offload: bool, payload: usize) {
    const PEER_PORT: u16 = 40000;
    const PEER_ISS: u32 = 1_000_000;
    const TSVAL: u32 = 777;
    let mut cfg = engine_config(LOCAL_IP, LOCAL_MAC, tcp_cfg());
    if offload {
        cfg.checksums = offload_caps();
    }
    let meta = if offload {
        good_meta()
    } else {
        RxMeta::default()
    };
    let mut now = Instant::from_secs(1);
    let mut e = Engine::new(cfg, Sink::default(), now).unwrap();
    e.listen(80).unwrap();
    let mut out = FrameBuf::default();
    let frame = |r: &stack::wire::tcp::TcpRepr, p: &[u8]| {
        build_frame(PEER_MAC, LOCAL_MAC, PEER_IP, LOCAL_IP, r, p)
    };
    // Handshake with timestamps (the usual NOP NOP TS on every later segment).
    let mut syn = seg(PEER_PORT, 80, TcpFlags::SYN, PEER_ISS, 0, 65535);
    syn.options.mss = Some(1460);
    syn.options.window_scale = Some(7);
    syn.options.timestamp = Some((TSVAL, 0));
    e.receive(now, &frame(&syn, &[]), RxMeta::default(), &mut out);
    let synack = match parse_frame(
        out.get(out.len() - 1),
        PEER_MAC,
        PEER_IP,
        offload_caps(),
        good_meta(),
    ) {
        Ok(Parsed::Tcp { tcp, .. }) => tcp,
        _ => panic!("no SYN-ACK"),
    };
    out.clear();
    let ack = synack.seq.0.wrapping_add(1);
    let mut hs = seg(PEER_PORT, 80, TcpFlags::ACK, PEER_ISS + 1, ack, 65535);
    hs.options.timestamp = Some((TSVAL, synack.options.timestamp.unwrap().0));
    e.receive(now, &frame(&hs, &[]), RxMeta::default(), &mut out);
    assert_eq!(e.conn_count(), 1);

    // A ring of prebuilt data segments; each use patches SEQ and (incrementally) the checksum.
    const RING: usize = 64;
    let data = vec![0xabu8; payload];
    let mut ring = FrameBuf::with_capacity(RING * (payload + 100), RING);
    let mut d = seg(
        PEER_PORT,
        80,
        TcpFlags::ACK | TcpFlags::PSH,
        PEER_ISS + 1,
        ack,
        65535,
    );
    d.options.timestamp = hs.options.timestamp;
    for _ in 0..RING {
        use stack::engine::Transmit;
        let f = frame(&d, &data);
        ring.frame(f.len(), Default::default(), |b| b.copy_from_slice(&f));
    }
    const SEQ_AT: usize = 14 + 20 + 4;
    const CSUM_AT: usize = 14 + 20 + 16;
    let mut seq = PEER_ISS + 1;
    let mut run = |e: &mut Engine<Sink>, n: usize, now: &mut Instant, out: &mut FrameBuf| {
        for i in 0..n {
            let f = ring.get_mut(i % RING);
            let old = u32::from_be_bytes(f[SEQ_AT..SEQ_AT + 4].try_into().unwrap());
            f[SEQ_AT..SEQ_AT + 4].copy_from_slice(&seq.to_be_bytes());
            let c = u16::from_be_bytes([f[CSUM_AT], f[CSUM_AT + 1]]);
            let c = csum_update32(c, old, seq);
            f[CSUM_AT..CSUM_AT + 2].copy_from_slice(&c.to_be_bytes());
            e.receive(*now, f, meta, out);
            seq = seq.wrapping_add(payload as u32);
            if i % 1024 == 1023 {
                *now += Duration::from_micros(100);
                e.poll(*now, out);
                out.clear();
            }
        }
    };
    run(&mut e, 100_000, &mut now, &mut out);
    let n = 2_000_000 / div() as usize;
    let acks0 = e.counters().mib.out_segs;
    let t0 = std::time::Instant::now();
    run(&mut e, n, &mut now, &mut out);
    let el = t0.elapsed();
    let acks = e.counters().mib.out_segs - acks0;
    assert_eq!(e.app().bytes, (n + 100_000) as u64 * payload as u64);
    assert_eq!(e.counters().drops.tcp_checksum, 0);
    println!(
        "established receive, {payload} B segments, checksums {}: {:.1} ns/segment \
         ({acks} ACKs for {n} segments, harness patch+checksum fix included)",
        if offload { "offloaded" } else { "in software" },
        el.as_nanos() as f64 / n as f64,
    );
}

#[test]
#[ignore]
fn established_receive_1448_sw_checksum() {
    established_receive(false, 1448);
}

#[test]
#[ignore]
fn established_receive_1448_offload() {
    established_receive(true, 1448);
}

#[test]
#[ignore]
fn established_receive_64_sw_checksum() {
    established_receive(false, 64);
}

#[test]
#[ignore]
fn established_receive_64_offload() {
    established_receive(true, 64);
}
