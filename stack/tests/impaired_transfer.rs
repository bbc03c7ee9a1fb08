//! Large transfers through the seeded impaired in-memory wire must arrive byte-exact and finish:
//! 100 MB each way at once, with 5% loss, 2% reordering, 1% duplication and 1% corruption.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::sim::{Impairments, Pair, SimRng};
use stack::tcp::cc::CcKind;
use stack::wire::{ChecksumCaps, MacAddr};
use stack::{App, CloseReason, ConnHandle, Engine, EngineConfig, Instant, Socket, TcpConfig};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 5001;

/// The byte at `pos` of the stream a side sends: pseudo-random so that a misplaced or corrupted
/// byte cannot go unnoticed, and computable anywhere without storing the stream.
fn stream_byte(salt: u64, pos: u64) -> u8 {
    let mut r = SimRng::new(salt ^ (pos >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (r.next_u64() >> ((pos & 7) * 8)) as u8
}

#[derive(Default)]
struct Progress {
    sent: u64,
    received: u64,
    mismatch_at: Option<u64>,
    peer_closed: bool,
    closed: Option<CloseReason>,
}

/// Sends `total` bytes of its stream, verifies the peer's stream, half-closes when done sending,
/// closes when the peer has closed too.
struct Bulk {
    total: u64,
    send_salt: u64,
    recv_salt: u64,
    progress: Progress,
    chunk: Vec<u8>,
}

impl Bulk {
    fn new(total: u64, send_salt: u64, recv_salt: u64) -> Self {
        Bulk {
            total,
            send_salt,
            recv_salt,
            progress: Progress::default(),
            chunk: Vec::with_capacity(64 * 1024),
        }
    }

    fn pump(&mut self, sock: &mut Socket<'_, ()>) {
        while self.progress.sent < self.total {
            let room = sock.send_capacity().min(64 * 1024) as u64;
            let n = room.min(self.total - self.progress.sent) as usize;
            if n == 0 {
                return;
            }
            self.chunk.clear();
            let base = self.progress.sent;
            self.chunk
                .extend((0..n as u64).map(|i| stream_byte(self.send_salt, base + i)));
            let took = sock.send(&self.chunk);
            self.progress.sent += took as u64;
            if took < n {
                return;
            }
        }
        sock.shutdown_write();
    }
}

impl App for Bulk {
    type State = ();

    fn on_open(&mut self, sock: &mut Socket<'_, ()>) {
        self.pump(sock);
    }

    fn on_data(&mut self, _sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        let base = self.progress.received;
        if self.progress.mismatch_at.is_none() {
            if let Some(i) = data
                .iter()
                .enumerate()
                .position(|(i, b)| *b != stream_byte(self.recv_salt, base + i as u64))
            {
                self.progress.mismatch_at = Some(base + i as u64);
            }
        }
        self.progress.received += data.len() as u64;
        data.len()
    }

    fn on_writable(&mut self, sock: &mut Socket<'_, ()>) {
        self.pump(sock);
    }

    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ()>) {
        self.progress.peer_closed = true;
        if self.progress.sent >= self.total {
            sock.close();
        }
    }

    fn on_closed(&mut self, _state: &mut (), _h: ConnHandle, reason: CloseReason) {
        self.progress.closed = Some(reason);
    }
}

fn config(ip: Ipv4Addr, mac: u8) -> EngineConfig {
    EngineConfig {
        tcp: TcpConfig {
            msl: Duration::from_secs(1),
            rto_min: Duration::from_millis(20),
            delayed_ack: Duration::from_millis(5),
            rx_buf: 512 * 1024,
            tx_buf: 512 * 1024,
            ..TcpConfig::default()
        },
        ip,
        prefix_len: 24,
        gateway: None,
        mac: MacAddr([0x02, 0, 0, 0, 0, mac]),
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed: mac as u64 * 7919,
        arp_timeout: Duration::from_secs(300),
    }
}

/// Runs `total` bytes each way between two engines built by `cfg` through `imp`, and checks
/// that both streams arrived byte-exact and both ends closed normally. Returns the pair for
/// the caller's own figures.
fn transfer(
    total: u64,
    imp: Impairments,
    seed: u64,
    sim_deadline: Duration,
    cfg: fn(Ipv4Addr, u8) -> EngineConfig,
) -> Pair<Bulk, Bulk> {
    let t0 = Instant::ZERO;
    let client = Engine::new(cfg(CLIENT_IP, 2), Bulk::new(total, 11, 22), t0).unwrap();
    let mut server = Engine::new(cfg(SERVER_IP, 1), Bulk::new(total, 22, 11), t0).unwrap();
    server.listen(PORT).unwrap();
    let mut pair = Pair::new(client, server, imp, imp, seed, t0);
    pair.with_a(|e, now, out| e.connect(now, SocketAddrV4::new(SERVER_IP, PORT), 40000, out))
        .expect("connect");

    let finished = pair.run_until(t0 + sim_deadline, |p| {
        p.a.app().progress.closed.is_some() && p.b.app().progress.closed.is_some()
    });
    let (c, s) = (&pair.a.app().progress, &pair.b.app().progress);
    eprintln!(
        "sim time {:?}; a->b {:?}; b->a {:?}; client mib {:?}",
        pair.now - t0,
        pair.ab.stats,
        pair.ba.stats,
        pair.a.counters().mib
    );
    assert!(
        finished,
        "transfer did not finish: client sent {} recv {}, server sent {} recv {}",
        c.sent, c.received, s.sent, s.received
    );
    assert_eq!(c.mismatch_at, None, "client received a wrong byte");
    assert_eq!(s.mismatch_at, None, "server received a wrong byte");
    assert_eq!(c.received, total);
    assert_eq!(s.received, total);
    assert_eq!(c.closed, Some(CloseReason::Normal));
    assert_eq!(s.closed, Some(CloseReason::Normal));
    pair
}

fn run_transfer(total: u64, imp: Impairments, seed: u64, sim_deadline: Duration) {
    let pair = transfer(total, imp, seed, sim_deadline, config);
    assert!(
        pair.a.counters().mib.in_csum_errors + pair.b.counters().mib.in_csum_errors > 0
            || imp.corrupt == 0.0
    );
}

#[test]
fn one_megabyte_each_way_on_a_perfect_wire() {
    run_transfer(1 << 20, Impairments::perfect(), 1, Duration::from_secs(60));
}

#[test]
fn one_megabyte_each_way_with_delay() {
    let imp = Impairments {
        delay: Duration::from_millis(10),
        ..Impairments::default()
    };
    run_transfer(1 << 20, imp, 2, Duration::from_secs(60));
}

/// The acceptance test. Slow in debug builds: the test script runs the suite in release.
#[test]
fn hundred_megabytes_each_way_through_loss_reordering_duplication_and_corruption() {
    let imp = Impairments {
        loss: 0.05,
        reorder: 0.02,
        duplicate: 0.01,
        corrupt: 0.01,
        delay: Duration::from_millis(1),
        reorder_window: Duration::from_millis(2),
    };
    let total = if cfg!(debug_assertions) {
        4 << 20
    } else {
        100 << 20
    };
    run_transfer(total, imp, 3, Duration::from_secs(24 * 3600));
}

/// What one lossy transfer cost: simulated time and the client's and server's RTOs.
struct LossRun {
    sim: Duration,
    rtos: u64,
    retrans: u64,
    frames: u64,
}

/// Linux's defaults: rto_min 200 ms, 40 ms delayed ACK.
fn linux_like(ip: Ipv4Addr, mac: u8, cc: CcKind) -> EngineConfig {
    let mut c = config(ip, mac);
    c.tcp.rto_min = Duration::from_millis(200);
    c.tcp.delayed_ack = Duration::from_millis(40);
    c.tcp.cc = cc;
    c
}

/// `total` bytes each way through random loss `p` in both directions, with Linux's defaults
/// and a 1 ms one-way delay, both ends running CUBIC.
fn lossy_each_way(total: u64, p: f64, seed: u64) -> LossRun {
    lossy_each_way_with(total, p, seed, |ip, mac| linux_like(ip, mac, CcKind::Cubic))
}

fn lossy_each_way_with(
    total: u64,
    p: f64,
    seed: u64,
    cfg: fn(Ipv4Addr, u8) -> EngineConfig,
) -> LossRun {
    let imp = Impairments {
        loss: p,
        delay: Duration::from_millis(1),
        ..Impairments::default()
    };
    let pair = transfer(total, imp, seed, Duration::from_secs(3600), cfg);
    let (ma, mb) = (pair.a.counters().mib, pair.b.counters().mib);
    let run = LossRun {
        sim: pair.now - Instant::ZERO,
        rtos: ma.timeouts + mb.timeouts,
        retrans: ma.retrans_segs + mb.retrans_segs,
        frames: pair.ab.stats.sent + pair.ba.stats.sent,
    };
    eprintln!(
        "{:?}, {:.0}% loss, {} MB each way: sim {:?}, RTOs {} (client {} server {}), retransmitted {}, \
         frames {}, fast retransmits {}, TLPs {}, RACK losses {}, D-SACKs received {}, lost on the wire {}",
        cfg(CLIENT_IP, 2).tcp.cc,
        p * 100.0,
        total >> 20,
        run.sim,
        run.rtos,
        ma.timeouts,
        mb.timeouts,
        run.retrans,
        run.frames,
        ma.fast_retrans + mb.fast_retrans,
        ma.tlp_probes + mb.tlp_probes,
        ma.rack_lost + mb.rack_lost,
        ma.dsack_recv + mb.dsack_recv,
        pair.ab.stats.lost + pair.ba.stats.lost,
    );
    run
}

#[test]
fn ten_megabytes_each_way_at_one_three_and_five_percent_loss() {
    // Linux, 3% both ways, 50 MiB echo: 6-9 RTOs, about one per 5 MiB moved. 10 MB each way
    // moves 20 MiB: at most 4 RTOs at 1% and 3%; 5% gets twice that allowance. The wire itself
    // refuses any frame over the MTU (sim::Outbox), so each run checks that too.
    for (p, seed, max_rtos) in [(0.01, 21, 4), (0.03, 22, 4), (0.05, 23, 8)] {
        let r = lossy_each_way(10 << 20, p, seed);
        assert!(
            r.rtos <= max_rtos,
            "{p} loss: {} RTOs, bound {max_rtos} (sim {:?}, {} retransmitted, {} frames)",
            r.rtos,
            r.sim,
            r.retrans,
            r.frames
        );
    }
}

/// BBR does not take random loss for congestion: through the same 3% and 5% random loss it
/// finishes in less simulated time than CUBIC (which cuts cwnd by β per episode), byte-exact,
/// with every frame within the MTU, and with no more RTOs than the CUBIC bound above.
#[test]
fn bbr_keeps_its_rate_through_random_loss_where_cubic_cuts() {
    let bbr = |ip, mac| linux_like(ip, mac, CcKind::Bbr);
    for (p, seed, max_rtos) in [(0.03, 22, 4), (0.05, 23, 8)] {
        let c = lossy_each_way(10 << 20, p, seed);
        let b = lossy_each_way_with(10 << 20, p, seed, bbr);
        assert!(
            b.rtos <= max_rtos,
            "{p} loss, BBR: {} RTOs, bound {max_rtos} (sim {:?})",
            b.rtos,
            b.sim
        );
        assert!(
            b.sim < c.sim,
            "{p} loss: BBR took {:?} simulated, CUBIC {:?}",
            b.sim,
            c.sim
        );
    }
}
