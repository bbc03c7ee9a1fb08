//! Loopback through `net_ring` (its TX rings feed its RX rings): frames come back intact,
//! ownership is right (nothing leaked: the pool returns to full), mbuf editing works, TX
//! offload metadata is set as the engine asks, and workers stop together when one panics.
//! One test function: EAL initialises once per process.

mod support;

use stack::{Transmit, TxMeta};
use std::time::{Duration, Instant};
use support::eal::eal_args;
use tcpterm::port::{
    Eal, Mbuf, Mempool, Port, PortConfig, RssStatus, TscClock, TxBatch, WorkerError, Workers, BURST,
};

const POOL: u32 = 4095;

fn frame_for(seq: u32) -> Vec<u8> {
    // Lengths vary from 60 to 1514 so truncation or mixing would show.
    let len = 60 + (seq as usize * 37) % 1455;
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes()); // local experimental ethertype
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    f
}

fn recv_all(rxq: &mut tcpterm::port::RxQueue, want: usize) -> Vec<Mbuf> {
    let mut got = Vec::with_capacity(want);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut burst = Vec::with_capacity(BURST);
    while got.len() < want && Instant::now() < deadline {
        rxq.rx_burst(&mut burst);
        got.append(&mut burst);
    }
    got
}

#[test]
fn ring_loopback_frames_intact_and_no_mbuf_leaks() {
    let eal = support::eal::init("ring", 0, &["net_ring0".to_string()]);
    assert!(matches!(
        Eal::init(eal_args("ring2", 0, &[])),
        Err(tcpterm::port::PortError::EalAlreadyInitialised)
    ));

    let pool = Mempool::new(&eal, "ring_pool", POOL, 32).expect("mempool");
    assert_eq!(pool.capacity(), POOL);
    assert_eq!(pool.available(), POOL);

    let id = Port::id_by_name(&eal, "net_ring0").expect("net_ring0 exists");
    assert!(Port::ids(&eal).contains(&id));
    let info = Port::query(&eal, id).unwrap();
    assert_eq!(info.driver, "net_ring");
    let port = Port::open(&eal, id, &PortConfig::default(), &pool).expect("open port");
    assert_eq!(port.rss(), RssStatus::Off);
    assert!(port.wait_link_up(Duration::from_secs(1)).up);
    let mut rxq = port.rx_queue(0).unwrap();
    let mut txq = port.tx_queue(0).unwrap();
    assert!(port.rx_queue(0).is_err(), "a queue can be taken once");
    assert!(port.tx_queue(1).is_err(), "only one queue was configured");

    // 1. Frames sent come back byte-exact and in order.
    let n = 1000u32;
    let mut sent = 0usize;
    let mut bufs = Vec::with_capacity(BURST);
    let mut seq = 0;
    while seq < n {
        while bufs.len() < BURST && seq < n {
            let f = frame_for(seq);
            let mut m = pool.alloc().expect("alloc");
            m.append(f.len()).unwrap().copy_from_slice(&f);
            bufs.push(m);
            seq += 1;
        }
        let k = txq.tx_burst(&mut bufs);
        sent += k;
        assert!(bufs.is_empty(), "net_ring takes a 32-frame burst whole");
        let back = recv_all(&mut rxq, k);
        assert_eq!(back.len(), k);
        for m in back {
            let s = u32::from_be_bytes(m.data()[14..18].try_into().unwrap());
            assert_eq!(m.data(), &frame_for(s)[..], "frame {s} changed");
            assert!(m.is_contiguous());
        }
    }
    assert_eq!(sent, n as usize);
    let st = port.stats().unwrap();
    assert_eq!(st.opackets, n as u64);
    assert_eq!(st.ipackets, n as u64);
    assert!(port.xstats().is_ok());
    assert_eq!(pool.available(), POOL, "every mbuf is back in the pool");

    // 2. Unsent mbufs stay with the caller and are freed on drop: fill the ring until the
    //    device refuses, then drop what it refused.
    let mut refused = 0;
    let mut accepted = 0;
    for _ in 0..200 {
        assert!(pool.alloc_bulk(&mut bufs, BURST));
        accepted += txq.tx_burst(&mut bufs);
        refused += bufs.len();
        bufs.clear();
    }
    assert!(refused > 0, "the ring filled up");
    assert_eq!(
        pool.in_use() as usize,
        accepted,
        "refused mbufs went back to the pool"
    );
    let drained = recv_all(&mut rxq, accepted);
    assert_eq!(drained.len(), accepted);
    drop(drained);
    assert_eq!(pool.available(), POOL);

    // 3. Mbuf editing: prepend into headroom, append, adj, trim.
    {
        let mut m = pool.alloc().unwrap();
        let head = m.headroom();
        let tail = m.tailroom();
        assert_eq!(head, 128);
        assert!(m.is_empty());
        m.append(10).unwrap().copy_from_slice(b"0123456789");
        m.prepend(4).unwrap().copy_from_slice(b"HDR:");
        assert_eq!(m.data(), b"HDR:0123456789");
        assert_eq!(m.headroom(), head - 4);
        assert_eq!(m.tailroom(), tail - 10);
        assert!(m.prepend(head).is_none(), "headroom is checked");
        assert!(m.append(tail).is_none(), "tailroom is checked");
        assert_eq!(m.len(), 14);
        assert!(m.adj(4));
        assert!(m.trim(2));
        assert_eq!(m.data(), b"01234567");
        assert!(!m.adj(100));
        assert!(!m.trim(100));
        assert_eq!(m.pkt_len(), 8);
    }
    assert_eq!(pool.available(), POOL);

    // 4. TxBatch as the engine's Transmit: frames built in mbufs with offload metadata. net_ring
    //    hands the very same mbufs back, so the metadata is visible on receive.
    {
        let tx = port.tx_queue(0);
        assert!(tx.is_err());
        let mut batch = TxBatch::new(txq, pool.clone());
        let meta = TxMeta {
            l2_len: 14,
            l3_len: 20,
            ipv4_csum_offload: true,
            tcp_csum_offload: true,
        };
        for i in 0..40u8 {
            assert!(batch.frame(60, meta, |b| {
                b.fill(i);
            }));
        }
        assert!(!batch.frame(100_000, meta, |_| unreachable!()), "too large");
        assert_eq!(batch.len(), 8, "32 went out when the batch filled");
        batch.flush();
        assert_eq!(batch.stats().sent, 40);
        assert_eq!(batch.stats().alloc_failed, 1);
        let back = recv_all(&mut rxq, 40);
        assert_eq!(back.len(), 40);
        for (i, m) in back.iter().enumerate() {
            assert_eq!(m.data(), &[i as u8; 60][..]);
            assert_eq!(m.tx_lens(), (14, 20));
            let f = m.ol_flags();
            assert_eq!(
                f & dpdk_sys::RTE_MBUF_F_TX_IPV4,
                dpdk_sys::RTE_MBUF_F_TX_IPV4
            );
            assert_eq!(
                f & dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM,
                dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM
            );
            assert_eq!(
                f & dpdk_sys::RTE_MBUF_F_TX_L4_MASK,
                dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM
            );
        }
        drop(back);
        let txq = batch.into_queue();
        drop(txq);
    }
    assert_eq!(pool.available(), POOL);

    // 5. The TSC clock runs forward at a sane rate.
    let clock = TscClock::new(&eal);
    assert!(clock.hz() > 100_000_000);
    let t0 = clock.now();
    std::thread::sleep(Duration::from_millis(20));
    let dt = clock.now().as_micros() - t0.as_micros();
    assert!(
        (15_000..1_000_000).contains(&dt),
        "20 ms measured as {dt} us"
    );

    // 6. Workers: pinned, registered (own lcore id, so mempool caches work), and a panic in one
    //    stops the others instead of leaving join() hanging.
    let mut w: Workers<u64> = Workers::new(&eal);
    let p2 = pool.clone();
    w.spawn(1, move |ctx| {
        assert_ne!(ctx.lcore_id, u32::MAX, "registered with DPDK");
        assert_eq!(tcpterm::port::lcore_id(), ctx.lcore_id);
        let mut loops = 0u64;
        while !ctx.should_stop() {
            drop(p2.alloc());
            loops += 1;
        }
        loops
    })
    .unwrap();
    w.spawn(0, |_ctx| -> u64 {
        std::thread::sleep(Duration::from_millis(50));
        panic!("worker failure on purpose");
    })
    .unwrap();
    let t = Instant::now();
    match w.join() {
        Err(WorkerError::Panicked { core, message }) => {
            assert_eq!(core, 0);
            assert!(message.contains("on purpose"));
        }
        other => panic!(
            "expected the panic to be reported, got {:?}",
            other.map(|_| ())
        ),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(matches!(
        Workers::<()>::new(&eal).spawn(4096, |_| ()),
        Err(WorkerError::BadCore(4096))
    ));

    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), POOL, "no leak after close");
}
