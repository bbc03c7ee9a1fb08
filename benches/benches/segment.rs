//! Per-segment cost: an ESTABLISHED connection receiving full-sized in-order data segments and
//! producing their ACKs, plus micro-benches of the pieces on that path.
//!
//! The data frames are real: the client engine builds one full segment, which is copied into a
//! ring of 256 frames (384 KiB, so frames do not all sit in L1 as they would not off a NIC).
//! Each iteration rewrites the sequence number of the next ring frame and patches the TCP
//! checksum incrementally (RFC 1624, a few ns, included in the figure), then hands it to the
//! server engine, whose ACKs go to a transmit that builds and discards them. Engine time moves
//! 1 µs per segment and `poll` runs once per 32 segments, like a poll loop's burst.
//!
//! Run: `cargo bench -p tcpterm-benches --bench segment`

use core::net::SocketAddrV4;
use core::time::Duration;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use stack::config::TcpConfig;
use stack::engine::Engine;
use stack::flow::FourTuple;
use stack::seq::SeqNum;
use stack::table::ConnTable;
use stack::time::Instant;
use stack::timer::TimerWheel;
use stack::wire::checksum;
use stack::wire::frame::{build_tcp_frame, parse_frame, tcp_frame_len, Parsed};
use stack::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use stack::wire::{ChecksumCaps, RxCsum, RxMeta};
use tcpterm_benches::*;

const RING: usize = 256;
/// A power of two: the burst boundary is a mask test.
const BURST: u64 = 32;

struct SegBench {
    duo: Duo<TxnClient, Discard>,
    ring: Vec<Vec<u8>>,
    seq: u32,
    payload_len: u32,
    meta: RxMeta,
    sink: Sink,
    k: u64,
}

impl SegBench {
    /// `delayed_ack`: zero ACKs every segment; otherwise the engine's delayed-ACK policy
    /// (at least every second full-sized segment, RFC 5681 §4.2). `offload`: the NIC verified
    /// the checksums (RxMeta Good), as on a DPDK port with rx checksum offload.
    fn new(delayed_ack: Duration, offload: bool) -> Self {
        let t0 = Instant::from_secs(1);
        let tcp = TcpConfig {
            delayed_ack,
            ..TcpConfig::default()
        };
        let client_app = TxnClient {
            send_on_open: false,
            ..TxnClient::default()
        };
        let client = Engine::new(
            engine_config(CLIENT_IP, CLIENT_MAC, tcp.clone(), 1),
            client_app,
            t0,
        )
        .expect("client engine");
        let mut scfg = engine_config(SERVER_IP, SERVER_MAC, tcp, 2);
        if offload {
            scfg.checksums = ChecksumCaps {
                rx_ipv4: true,
                rx_tcp: true,
                tx_ipv4: false,
                tx_tcp: false,
            };
        }
        let mut server = Engine::new(scfg, Discard::default(), t0).expect("server engine");
        server.listen(80).expect("listen");
        let mut duo = Duo::new(client, server, t0);
        let h = duo
            .connect_a(SocketAddrV4::new(SERVER_IP, 80), 40000)
            .expect("connect");
        assert!(
            duo.run_until(Instant::from_secs(30), |d| d.b.app().opened == 1
                && d.a.app().opened == 1),
            "handshake did not complete"
        );
        // One full-sized segment from the client, captured instead of delivered.
        let data = vec![0xabu8; 64 * 1024];
        let now = duo.now;
        duo.a
            .with_conn(h, now, &mut duo.a_out, |_, sock| sock.send(&data))
            .expect("client connection");
        let template = duo
            .a_out
            .iter()
            .find(|f| f.len() > 1000)
            .expect("client sent a full-sized segment")
            .to_vec();
        duo.a_out.clear();
        let payload_len = match parse_frame(
            &template,
            SERVER_MAC,
            SERVER_IP,
            ChecksumCaps::default(),
            RxMeta::default(),
        )
        .expect("template parses")
        {
            Parsed::Tcp { payload, .. } => payload.len() as u32,
            other => panic!("template is not TCP: {other:?}"),
        };
        // The first ring frame reuses the template's own sequence number.
        let seq = tcp_seq(&template);
        let meta = if offload {
            RxMeta {
                ipv4: RxCsum::Good,
                l4: RxCsum::Good,
            }
        } else {
            RxMeta::default()
        };
        SegBench {
            duo,
            ring: vec![template; RING],
            seq,
            payload_len,
            meta,
            sink: Sink::default(),
            k: 0,
        }
    }

    #[inline]
    fn one(&mut self) {
        let i = (self.k as usize) % RING;
        let f = &mut self.ring[i];
        patch_tcp_u32(f, TCP_OFF + 4, self.seq);
        self.seq = self.seq.wrapping_add(self.payload_len);
        self.k += 1;
        self.duo.now += Duration::from_micros(1);
        let now = self.duo.now;
        self.duo.b.receive(now, f, self.meta, &mut self.sink);
        if self.k & (BURST - 1) == 0 {
            self.duo.b.poll(now, &mut self.sink);
        }
    }

    fn report(&self, name: &str) {
        let app = self.duo.b.app();
        eprintln!(
            "{name}: segments={} bytes_delivered={} (expected {}) acks_out={} closes={:?}",
            self.k,
            app.bytes,
            self.k * self.payload_len as u64,
            self.sink.frames,
            app.closes
        );
    }
}

/// A client-to-server data segment as the engine would build it: ACK|PSH with a timestamp.
fn data_frame(payload_len: usize) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: SeqNum(0x1234_5678),
        ack: SeqNum(0x8765_4321),
        flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        window: 1024,
        urgent: 0,
        options: TcpOptions {
            timestamp: Some((1000, 2000)),
            ..TcpOptions::default()
        },
    };
    let payload = vec![0xab; payload_len];
    let mut buf = vec![0u8; tcp_frame_len(&tcp, payload_len)];
    build_tcp_frame(
        &mut buf,
        CLIENT_MAC,
        SERVER_MAC,
        CLIENT_IP,
        SERVER_IP,
        &tcp,
        (&payload, &[]),
        ChecksumCaps::default(),
    );
    buf
}

fn tcp_seq(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[TCP_OFF + 4..TCP_OFF + 8].try_into().unwrap())
}

fn segment(c: &mut Criterion) {
    let mut g = c.benchmark_group("segment");
    g.throughput(Throughput::Elements(1));
    for (name, dack, offload) in [
        ("rx_1448B_ack_every_segment/sw_csum", Duration::ZERO, false),
        (
            "rx_1448B_ack_every_segment/csum_offload",
            Duration::ZERO,
            true,
        ),
        (
            "rx_1448B_delayed_ack_40ms/sw_csum",
            Duration::from_millis(40),
            false,
        ),
        (
            "rx_1448B_delayed_ack_40ms/csum_offload",
            Duration::from_millis(40),
            true,
        ),
    ] {
        // Set up inside the closure so a name filter skips the engine entirely.
        let mut st: Option<SegBench> = None;
        g.bench_function(name, |b| {
            let s = st.get_or_insert_with(|| SegBench::new(dack, offload));
            b.iter_custom(|iters| timed_iters(iters, || s.one()))
        });
        if let Some(s) = st {
            s.report(name);
        }
    }
    g.finish();
}

/// 1M entries keyed like remote clients of 4 server ports, and the keys in random order.
fn big_table() -> (ConnTable<u64>, Vec<FourTuple>) {
    const N: usize = 1_000_000;
    let mut table: ConnTable<u64> = ConnTable::new(1 << 20, 0x1234_5678);
    let mut rng = stack::sim::SimRng::new(7);
    let mut keys = Vec::with_capacity(N);
    while keys.len() < N {
        let r = rng.next_u64();
        let key = FourTuple {
            local_ip: SERVER_IP,
            local_port: 80 + (r % 4) as u16,
            remote_ip: core::net::Ipv4Addr::from(0xc612_0000u32 | ((r >> 8) as u32 & 0xffff)),
            remote_port: (r >> 32) as u16,
        };
        if table.insert(key, r).is_ok() {
            keys.push(key);
        }
    }
    for i in (1..keys.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        keys.swap(i, j);
    }
    (table, keys)
}

fn micro(c: &mut Criterion) {
    let mut g = c.benchmark_group("micro");
    g.throughput(Throughput::Elements(1));

    // parse_frame of a full-sized data segment (software checksum, then NIC-verified).
    let frame = data_frame(1448);
    g.bench_function("parse_frame/1448B_data/sw_csum", |b| {
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                let p = parse_frame(
                    black_box(&frame),
                    SERVER_MAC,
                    SERVER_IP,
                    ChecksumCaps::default(),
                    RxMeta::default(),
                );
                assert!(matches!(p, Ok(Parsed::Tcp { .. })));
            })
        })
    });
    let caps = ChecksumCaps {
        rx_ipv4: true,
        rx_tcp: true,
        ..ChecksumCaps::default()
    };
    let good = RxMeta {
        ipv4: RxCsum::Good,
        l4: RxCsum::Good,
    };
    g.bench_function("parse_frame/1448B_data/csum_offload", |b| {
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                let p = parse_frame(black_box(&frame), SERVER_MAC, SERVER_IP, caps, good);
                assert!(matches!(p, Ok(Parsed::Tcp { .. })));
            })
        })
    });

    // Internet checksum over 1500 B.
    let buf: Vec<u8> = (0..1500u32).map(|i| (i * 7) as u8).collect();
    g.throughput(Throughput::Bytes(1500));
    g.bench_function("checksum/1500B", |b| {
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                black_box(checksum::checksum(black_box(&buf)));
            })
        })
    });
    g.throughput(Throughput::Elements(1));

    // ConnTable lookup with 1M live entries, keys visited in a scrambled order (cache misses,
    // as with many connections in flight). Built lazily, so a name filter skips it.
    let mut tbl: Option<(ConnTable<u64>, Vec<FourTuple>)> = None;
    let mut i = 0usize;
    g.bench_function("conn_table/lookup_hit_1M", |b| {
        let (table, keys) = tbl.get_or_insert_with(big_table);
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                let k = &keys[i];
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                let id = table.lookup(black_box(k));
                debug_assert!(id.is_some());
                black_box(id);
            })
        })
    });
    g.bench_function("conn_table/lookup_miss_1M", |b| {
        let (table, keys) = tbl.get_or_insert_with(big_table);
        let mut miss = keys[0];
        miss.local_ip = core::net::Ipv4Addr::new(10, 0, 0, 1);
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                miss.remote_port = miss.remote_port.wrapping_add(1);
                black_box(table.lookup(black_box(&miss)));
            })
        })
    });
    drop(tbl);

    // TimerWheel schedule + cancel with 1M other timers pending.
    let t0 = Instant::from_secs(1);
    let mut wheel: Option<TimerWheel<u32>> = None;
    let mut j = 0u64;
    g.bench_function("timer_wheel/schedule_cancel_1M_pending", |b| {
        let wheel = wheel.get_or_insert_with(|| {
            let mut rng = stack::sim::SimRng::new(8);
            let mut w = TimerWheel::new(t0, Duration::from_millis(1));
            for i in 0..1_000_000u32 {
                w.schedule(t0 + Duration::from_millis(1 + (rng.below(120_000))), i);
            }
            w
        });
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                j = j.wrapping_add(0x9e37_79b9);
                let at = t0 + Duration::from_micros(200_000 + (j % 60_000_000));
                let id = wheel.schedule(at, j as u32);
                black_box(wheel.cancel(black_box(id)));
            })
        })
    });
    drop(wheel);
    // A fresh wheel, 1024 timers over 200 ms, all polled out: the whole life of a burst.
    g.throughput(Throughput::Elements(1024));
    g.bench_function("timer_wheel/new_schedule_1024_poll_all", |b| {
        b.iter_custom(|iters| {
            timed_iters(iters, || {
                let mut w = TimerWheel::<u32>::new(t0, Duration::from_millis(1));
                for i in 0..1024u32 {
                    w.schedule(t0 + Duration::from_millis(1 + (i as u64 % 200)), i);
                }
                let end = t0 + Duration::from_millis(300);
                let mut n = 0;
                while w.poll_expired(end).is_some() {
                    n += 1;
                }
                assert_eq!(n, 1024);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, segment, micro);
criterion_main!(benches);
