//! Software RSS with real mbufs: frames steered by one worker reach their owner intact through
//! the rings, ARP reaches every worker (the copies as learn-only replies), and a worker with no
//! queue pair transmits through its owner's TX queue (`net_ring` loops TX back to RX). Nothing
//! leaks: the pool is full again at the end. One test function: EAL initialises once.

mod support;

use stack::{Transmit, TxMeta};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::frames;
use tcpterm::port::{Mbuf, Mempool, Port, PortConfig, TxBatch, BURST};
use tcpterm::redirect::{Dest, Redirect, Rings, Steering, TxRelay};

const POOL: u32 = 4095;

fn tcp_frame(sport: u16) -> Vec<u8> {
    frames::tcp_frame(sport, &sport.to_le_bytes().repeat(5))
}

fn arp_request() -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[28..32].copy_from_slice(&[198, 18, 0, 2]);
    f[38..42].copy_from_slice(&[198, 18, 0, 1]);
    f
}

fn mbuf(pool: &Mempool, bytes: &[u8]) -> Mbuf {
    let mut m = pool.alloc().expect("alloc");
    m.append(bytes.len()).unwrap().copy_from_slice(bytes);
    m
}

#[test]
fn steering_rings_and_relay_with_real_mbufs() {
    let eal = support::eal::init("redirect", 0, &["net_ring0".to_string()]);
    let pool = Mempool::new(&eal, "redirect_pool", POOL, 0).expect("mempool");

    // 1. Two workers, each with a queue pair: what worker 0 receives for worker 1 reaches it.
    let steering = Arc::new(Steering::new(2));
    let rings = Rings::new(2, 2, 1024);
    let mut w0 = Redirect::new(0, steering.clone(), rings.clone(), pool.clone());
    let mut w1 = Redirect::new(1, steering.clone(), rings.clone(), pool.clone());
    let mut mine = Vec::new();
    let mut want_w1 = Vec::new();
    for sport in 20_000..20_400u16 {
        let f = tcp_frame(sport);
        let owner = steering.classify(&f);
        match w0.steer(mbuf(&pool, &f)) {
            Some(m) => {
                assert_eq!(owner, Dest::Worker(0));
                mine.push(m);
            }
            None => {
                assert_eq!(owner, Dest::Worker(1));
                want_w1.push(f);
            }
        }
    }
    assert!(!mine.is_empty() && !want_w1.is_empty());
    let mut got = Vec::new();
    while w1.collect(&mut got, BURST) > 0 {}
    let got_bytes: Vec<Vec<u8>> = got.iter().map(|m| m.data().to_vec()).collect();
    assert_eq!(got_bytes, want_w1, "frames arrive intact and in order");
    assert_eq!(w0.stats.out, want_w1.len() as u64);
    assert_eq!(w1.stats.inn, want_w1.len() as u64);
    drop((mine, got));

    // 2. ARP: handled where it arrived, unchanged; the other worker gets a learn-only copy.
    let req = arp_request();
    let here = w0
        .steer(mbuf(&pool, &req))
        .expect("ARP is also handled where it arrives");
    assert_eq!(here.data(), &req[..]);
    let mut copies = Vec::new();
    assert_eq!(w1.collect(&mut copies, BURST), 1);
    let mut want = req.clone();
    want[20..22].copy_from_slice(&2u16.to_be_bytes());
    assert_eq!(
        copies[0].data(),
        &want[..],
        "the copy is the same frame as a reply"
    );
    drop((here, copies));

    // 3. One queue pair, two workers: worker 1 transmits through worker 0's TX queue.
    let id = Port::id_by_name(&eal, "net_ring0").unwrap();
    let port = Port::open(&eal, id, &PortConfig::default(), &pool).expect("open port");
    let mut rxq = port.rx_queue(0).unwrap();
    let mut tx0 = TxBatch::new(port.tx_queue(0).unwrap(), pool.clone());
    let rings = Rings::new(2, 1, 1024);
    let mut owner = Redirect::new(0, steering.clone(), rings.clone(), pool.clone());
    let mut relay = TxRelay::new(1, rings.clone(), pool.clone());
    let frames: Vec<Vec<u8>> = (0..100u16).map(|i| tcp_frame(30_000 + i)).collect();
    for f in &frames {
        assert!(relay.frame(f.len(), TxMeta::default(), |b| b.copy_from_slice(f)));
    }
    assert_eq!(relay.stats().sent, 100);
    let mut sent = 0;
    while sent < 100 {
        let n = owner.drain_relays(&mut tx0, 4 * BURST);
        assert!(n > 0, "relayed frames are waiting");
        sent += n;
        tx0.flush();
    }
    let mut back: Vec<Mbuf> = Vec::new();
    let mut burst = Vec::with_capacity(BURST);
    let deadline = Instant::now() + Duration::from_secs(5);
    while back.len() < 100 && Instant::now() < deadline {
        rxq.rx_burst(&mut burst);
        back.append(&mut burst);
    }
    let back_bytes: Vec<Vec<u8>> = back.iter().map(|m| m.data().to_vec()).collect();
    assert_eq!(
        back_bytes, frames,
        "relayed frames went out through the owner's queue"
    );
    drop(back);
    drop(tx0);

    assert_eq!(pool.available(), POOL, "every mbuf is back in the pool");
}
