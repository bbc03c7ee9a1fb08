//! Short transactions, both engines in memory on one core: the client engine connects, sends
//! 64 B on open, the server echoes, the client closes after the reply (active close: the client
//! holds TIME_WAIT) and the server closes on FIN. Many connections are in flight at once.
//!
//! Engine time is a counter: +1 µs per transaction started. With MSL = 100 ms a TIME_WAIT lasts
//! 200 ms of that time, about 200,000 entries at steady state on the client. 4-tuples
//! round-robin over client ports 1024..=65535 × 4 server ports, so a tuple comes round again
//! after 258,048 transactions (258 ms), after its TIME_WAIT expired.
//!
//! Variants:
//! - `duo_pipelined`: the lean wire (two flat outboxes). Each round delivers one hop each way,
//!   then new connections top the in-flight count back up, so handshakes, data and closes of
//!   different connections interleave as on a busy server.
//! - `duo_batched`: same wire; a batch of connections is opened and run to completion.
//! - `sim_pair_batched`: `stack::sim::Pair` with perfect links (Vec-per-frame wire).
//!
//! Run: `cargo bench -p tcpterm-benches --bench short_txn`

use core::net::SocketAddrV4;
use core::time::Duration;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stack::engine::Engine;
use stack::sim::{Impairments, Pair};
use stack::time::Instant;
use tcpterm_benches::*;

const SERVER_PORTS: [u16; 4] = [80, 81, 82, 83];
const MSL: Duration = Duration::from_millis(100);
const PER_TXN: Duration = Duration::from_micros(1);

fn engines() -> (Engine<TxnClient>, Engine<EchoServer>) {
    let t0 = Instant::from_secs(1);
    let client = Engine::new(
        engine_config(CLIENT_IP, CLIENT_MAC, txn_tcp_config(MSL), 0xc1),
        TxnClient::new(),
        t0,
    )
    .expect("client engine");
    let mut server = Engine::new(
        engine_config(SERVER_IP, SERVER_MAC, txn_tcp_config(MSL), 0x5e),
        EchoServer::new(),
        t0,
    )
    .expect("server engine");
    for p in SERVER_PORTS {
        server.listen(p).expect("listen");
    }
    (client, server)
}

/// The i-th 4-tuple of the round-robin.
fn tuple(i: u64) -> (SocketAddrV4, u16) {
    let p = SERVER_PORTS.len() as u64;
    (
        SocketAddrV4::new(SERVER_IP, SERVER_PORTS[(i % p) as usize]),
        client_port(i / p),
    )
}

#[derive(Default, Debug)]
struct Notes {
    connect_errors: u64,
    /// Rounds where nothing was on the wire and time had to jump to an engine timer.
    stalls: u64,
}

struct DuoTxn {
    duo: Duo<TxnClient, EchoServer>,
    next: u64,
    notes: Notes,
}

impl DuoTxn {
    fn new() -> Self {
        let (c, s) = engines();
        let mut duo = Duo::new(c, s, Instant::from_secs(1));
        // One transaction first: resolves ARP (which may cost a SYN retransmission).
        let (remote, port) = tuple(0);
        duo.connect_a(remote, port).expect("first connect");
        let ok = duo.run_until(Instant::from_secs(30), |d| d.b.app().closes.total() >= 1);
        assert!(ok, "first transaction did not complete");
        DuoTxn {
            duo,
            next: 1,
            notes: Notes::default(),
        }
    }

    fn done(&self) -> u64 {
        self.duo.b.app().closes.total()
    }

    fn open_one(&mut self) {
        loop {
            let (remote, port) = tuple(self.next);
            self.next += 1;
            self.duo.now += PER_TXN;
            match self.duo.connect_a(remote, port) {
                Ok(_) => return,
                Err(_) => self.notes.connect_errors += 1,
            }
        }
    }

    /// Runs `n` more transactions keeping `inflight` open at once, one hop per round.
    fn run_pipelined(&mut self, n: u64, inflight: u64) {
        let target = self.done() + n;
        let mut started = self.next;
        let base_done = self.done();
        let base_started = started;
        loop {
            let done = self.done();
            if done >= target {
                break;
            }
            let live = (started - base_started) - (done - base_done);
            let want = inflight.min(target - done);
            for _ in live..want {
                self.open_one();
                started += 1;
            }
            let d = &mut self.duo;
            let now = d.now;
            if d.a_out.is_empty() && d.b_out.is_empty() {
                d.a.poll(now, &mut d.a_out);
                d.b.poll(now, &mut d.b_out);
                if d.a_out.is_empty() && d.b_out.is_empty() {
                    // Everything in flight waits on a timer: jump to it.
                    self.notes.stalls += 1;
                    let next = [d.a.poll_at(), d.b.poll_at()].into_iter().flatten().min();
                    d.now = match next {
                        Some(t) if t > now => t,
                        _ => now + Duration::from_millis(1),
                    };
                    continue;
                }
            }
            for f in d.a_out.iter() {
                d.b.receive(now, f, Default::default(), &mut d.b_out);
            }
            d.a_out.clear();
            for f in d.b_out.iter() {
                d.a.receive(now, f, Default::default(), &mut d.a_out);
            }
            d.b_out.clear();
            d.a.poll(now, &mut d.a_out);
            d.b.poll(now, &mut d.b_out);
        }
    }

    /// Runs `n` more transactions in batches of `batch`, each run to completion.
    fn run_batched(&mut self, n: u64, batch: u64) {
        let target = self.done() + n;
        while self.done() < target {
            let k = batch.min(target - self.done());
            for _ in 0..k {
                self.open_one();
            }
            let before = self.done();
            self.duo.exchange();
            if self.done() == before {
                self.notes.stalls += 1;
                let now = self.duo.now;
                let next = [self.duo.a.poll_at(), self.duo.b.poll_at()]
                    .into_iter()
                    .flatten()
                    .min();
                self.duo.now = match next {
                    Some(t) if t > now => t,
                    _ => now + Duration::from_millis(1),
                };
            }
        }
    }

    fn report(&self, name: &str) {
        let c = self.duo.a.app();
        let s = self.duo.b.app();
        eprintln!(
            "{name}: txns={} client_closes={:?} server_closes={:?} client_time_wait={} client_live={} server_live={} {:?}",
            s.closes.total(),
            c.closes,
            s.closes,
            self.duo.a.time_wait_count(),
            self.duo.a.conn_count(),
            self.duo.b.conn_count(),
            self.notes
        );
    }
}

struct PairTxn {
    pair: Pair<TxnClient, EchoServer>,
    next: u64,
    connect_errors: u64,
}

impl PairTxn {
    fn new() -> Self {
        let (c, s) = engines();
        let mut pair = Pair::new(
            c,
            s,
            Impairments::perfect(),
            Impairments::perfect(),
            1,
            Instant::from_secs(1),
        );
        let (remote, port) = tuple(0);
        pair.with_a(|e, now, out| e.connect(now, remote, port, out))
            .expect("first connect");
        let ok = pair.run_until(Instant::from_secs(30), |p| p.b.app().closes.total() >= 1);
        assert!(ok, "first transaction did not complete");
        PairTxn {
            pair,
            next: 1,
            connect_errors: 0,
        }
    }

    fn run_batched(&mut self, n: u64, batch: u64) {
        let target = self.pair.b.app().closes.total() + n;
        while self.pair.b.app().closes.total() < target {
            let k = batch.min(target - self.pair.b.app().closes.total());
            for _ in 0..k {
                loop {
                    let (remote, port) = tuple(self.next);
                    self.next += 1;
                    self.pair.now += PER_TXN;
                    if self
                        .pair
                        .with_a(|e, now, out| e.connect(now, remote, port, out))
                        .is_ok()
                    {
                        break;
                    }
                    self.connect_errors += 1;
                }
            }
            let before = self.pair.b.app().closes.total();
            self.pair.deliver_due();
            if self.pair.b.app().closes.total() == before {
                self.pair.step();
            }
        }
    }

    fn report(&self, name: &str) {
        eprintln!(
            "{name}: txns={} client_closes={:?} server_closes={:?} client_time_wait={} connect_errors={}",
            self.pair.b.app().closes.total(),
            self.pair.a.app().closes,
            self.pair.b.app().closes,
            self.pair.a.time_wait_count(),
            self.connect_errors
        );
    }
}

fn short_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("short_txn");
    g.throughput(Throughput::Elements(1));

    // Each state is set up inside its closure so a name filter skips it entirely.
    for inflight in [64u64, 256] {
        let name = format!("duo_pipelined/inflight_{inflight}");
        let mut st: Option<DuoTxn> = None;
        g.bench_function(&name, |b| {
            let s = st.get_or_insert_with(DuoTxn::new);
            b.iter_custom(|iters| timed(|| s.run_pipelined(iters, inflight)))
        });
        if let Some(s) = st {
            s.report(&name);
        }
    }

    let mut st: Option<DuoTxn> = None;
    g.bench_function("duo_batched/batch_128", |b| {
        let s = st.get_or_insert_with(DuoTxn::new);
        b.iter_custom(|iters| timed(|| s.run_batched(iters, 128)))
    });
    if let Some(s) = st {
        s.report("duo_batched/batch_128");
    }

    let mut st: Option<PairTxn> = None;
    g.bench_function("sim_pair_batched/batch_128", |b| {
        let s = st.get_or_insert_with(PairTxn::new);
        b.iter_custom(|iters| timed(|| s.run_batched(iters, 128)))
    });
    if let Some(s) = st {
        s.report("sim_pair_batched/batch_128");
    }

    g.finish();
}

criterion_group!(benches, short_txn);
criterion_main!(benches);
