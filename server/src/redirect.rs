//! Software RSS: when the port cannot spread flows over its queues with a symmetric Toeplitz
//! hash, each worker hashes the TCP frames it receives exactly as such a NIC would and hands
//! the frames that belong to another worker to it over a single-producer single-consumer ring
//! of owned mbufs (no copy; the mbuf moves).
//!
//! Why it is needed even on `net_af_packet`, whose kernel fanout already hashes flows
//! (PACKET_FANOUT_HASH): DPDK also sets PACKET_FANOUT_FLAG_ROLLOVER, so under pressure a full
//! socket's frames roll over to another queue, and the kernel's flow hash is not the Toeplitz
//! hash our active opens would pick source ports for. Ownership must not depend on either.
//!
//! What goes where:
//! - IPv4/TCP: to the owner of the 4-tuple, `queue_for(toeplitz(tuple), RETA_SIZE, workers)`.
//! - ICMP errors quoting an IPv4/TCP header: to the owner of the quoted flow (the symmetric key
//!   makes the quoted, reversed tuple hash the same), so PMTU and unreachable reach the right
//!   connection. Other ICMP (echo) is answered where it arrives.
//! - ARP: handled where it arrives, and a copy goes to every other worker so that every engine
//!   learns the peer's address (each worker transmits on its own). A copied request is turned
//!   into a reply first: the engine then learns the sender without answering a second time.
//! - Anything else: where it arrives (the engine counts and drops it).
//!
//! A device with fewer queue pairs than workers (a single-queue tap or af_packet socket):
//! workers `0..queues` own a queue pair each and steer everything they receive; the others own
//! none. They get their frames through the rings above, and transmit through a relay ring
//! ([`TxRelay`]) that their queue owner (`worker % queues`) drains into its TX queue, since a
//! DPDK TX queue must only ever be used by one thread.

use crate::port::{Mbuf, Mempool, TxBatch, TxStats};
use crossbeam_queue::ArrayQueue;
use stack::wire::toeplitz::{queue_for, Toeplitz, SYMMETRIC_KEY};
use stack::wire::Ipv4Addr;
use stack::{Transmit, TxMeta};
use std::sync::Arc;

/// The redirection table size a NIC would use; the software path maps hashes the same way.
pub const RETA_SIZE: u32 = 128;

/// Frames in flight from one worker to another. A full ring drops (like a full RX ring would);
/// TCP recovers. 1024 is as deep as an RX ring; the mempool is sized to fill every ring.
pub const RING_SIZE: usize = 1024;

const ETH_HLEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
/// ARP opcode offset within the frame, and the reply opcode.
const ARP_OP_AT: usize = ETH_HLEN + 6;
const ARP_OP_REPLY: u16 = 2;

/// Where a received frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// The worker with this index (possibly the receiving one).
    Worker(usize),
    /// The receiving worker handles it, and every other worker gets a copy (ARP).
    All,
    /// The receiving worker handles it (or drops it).
    Here,
}

/// The hash and the worker count; shared by every worker (read-only).
pub struct Steering {
    toeplitz: Toeplitz,
    workers: usize,
}

impl Steering {
    pub fn new(workers: usize) -> Self {
        Steering {
            toeplitz: Toeplitz::new(&SYMMETRIC_KEY),
            workers: workers.max(1),
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The worker that owns the flow (`a`:`pa`, `b`:`pb`), in either direction.
    #[inline]
    pub fn owner(&self, a: Ipv4Addr, b: Ipv4Addr, pa: u16, pb: u16) -> usize {
        let h = self.toeplitz.hash_ipv4_tcp(a, b, pa, pb);
        queue_for(h, RETA_SIZE, self.workers as u16) as usize
    }

    /// Classifies an Ethernet frame. Every length is checked; anything malformed stays `Here`,
    /// where the engine counts why it drops it.
    #[inline]
    pub fn classify(&self, f: &[u8]) -> Dest {
        let Some(et) = be16(f, 12) else {
            return Dest::Here;
        };
        match et {
            ETHERTYPE_ARP => Dest::All,
            ETHERTYPE_IPV4 => match self.ipv4_flow(f, ETH_HLEN, false) {
                Some(w) => Dest::Worker(w),
                None => Dest::Here,
            },
            _ => Dest::Here,
        }
    }

    /// The owner of the TCP flow in the IPv4 packet at `ip`, or of the TCP flow quoted by an
    /// ICMP error there (`quoted` guards against following quotes within quotes).
    fn ipv4_flow(&self, f: &[u8], ip: usize, quoted: bool) -> Option<usize> {
        let vihl = *f.get(ip)?;
        if vihl >> 4 != 4 {
            return None;
        }
        let ihl = (vihl & 0x0f) as usize * 4;
        if ihl < 20 {
            return None;
        }
        let frag = be16(f, ip + 6)?;
        // Non-first fragments carry no ports; the engine does not reassemble anyway.
        if frag & 0x1fff != 0 {
            return None;
        }
        let proto = *f.get(ip + 9)?;
        let src = ipv4(f, ip + 12)?;
        let dst = ipv4(f, ip + 16)?;
        let l4 = ip + ihl;
        match proto {
            PROTO_TCP => {
                let sp = be16(f, l4)?;
                let dp = be16(f, l4 + 2)?;
                Some(self.owner(src, dst, sp, dp))
            }
            // Destination unreachable, time exceeded, parameter problem: they quote our packet.
            PROTO_ICMP if !quoted => match *f.get(l4)? {
                3 | 11 | 12 => self.ipv4_flow(f, l4 + 8, true),
                _ => None,
            },
            _ => None,
        }
    }
}

#[inline]
fn be16(f: &[u8], at: usize) -> Option<u16> {
    let b = f.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
fn ipv4(f: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b = f.get(at..at + 4)?;
    Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

/// The rings between every ordered pair of workers (`rings[from * n + to]`), and one TX relay
/// ring per worker that owns no queue pair.
pub struct Rings {
    n: usize,
    queues: usize,
    rings: Vec<ArrayQueue<Mbuf>>,
    relay: Vec<ArrayQueue<Mbuf>>,
}

impl Rings {
    /// `queues`: how many workers own a queue pair (workers `0..queues`).
    pub fn new(workers: usize, queues: usize, capacity: usize) -> Arc<Self> {
        let n = workers.max(1);
        let queues = queues.clamp(1, n);
        Arc::new(Rings {
            n,
            queues,
            rings: (0..n * n)
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
            relay: (queues..n)
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
        })
    }

    fn ring(&self, from: usize, to: usize) -> &ArrayQueue<Mbuf> {
        &self.rings[from * self.n + to]
    }

    /// The relay ring of queueless worker `w` (`None` for a worker that owns a queue pair).
    fn relay(&self, w: usize) -> Option<&ArrayQueue<Mbuf>> {
        w.checked_sub(self.queues).and_then(|i| self.relay.get(i))
    }

    /// Frames (mbufs) the rings can hold at once, for sizing the mempool.
    pub fn capacity_frames(workers: usize, queues: usize, capacity: usize) -> usize {
        let n = workers.max(1);
        (n * (n - 1) + n.saturating_sub(queues.clamp(1, n))) * capacity
    }
}

/// Counters of one worker's redirection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedirectStats {
    pub out: u64,
    pub inn: u64,
    /// Frames dropped because the destination ring was full or no mbuf was left for a copy.
    pub dropped: u64,
}

/// One worker's end of the redirection: classify, hand off, collect.
pub struct Redirect {
    me: usize,
    steering: Arc<Steering>,
    rings: Arc<Rings>,
    pool: Mempool,
    pub stats: RedirectStats,
}

impl Redirect {
    pub fn new(me: usize, steering: Arc<Steering>, rings: Arc<Rings>, pool: Mempool) -> Self {
        Redirect {
            me,
            steering,
            rings,
            pool,
            stats: RedirectStats::default(),
        }
    }

    /// Takes a received frame: returns it if this worker must process it now, after sending
    /// copies or the frame itself wherever else it belongs.
    #[inline]
    pub fn steer(&mut self, m: Mbuf) -> Option<Mbuf> {
        match self.steering.classify(m.data()) {
            Dest::Here => Some(m),
            Dest::Worker(w) if w == self.me => Some(m),
            Dest::Worker(w) => {
                match self.rings.ring(self.me, w).push(m) {
                    Ok(()) => self.stats.out += 1,
                    // A full ring: drop here, like a full RX ring; the mbuf is freed on drop.
                    Err(_m) => self.stats.dropped += 1,
                }
                None
            }
            Dest::All => {
                for w in (0..self.steering.workers()).filter(|&w| w != self.me) {
                    match self.learn_only_copy(&m) {
                        Some(c) => match self.rings.ring(self.me, w).push(c) {
                            Ok(()) => self.stats.out += 1,
                            Err(_c) => self.stats.dropped += 1,
                        },
                        None => self.stats.dropped += 1,
                    }
                }
                Some(m)
            }
        }
    }

    /// A copy of an ARP frame that other workers can learn from without answering it.
    fn learn_only_copy(&self, m: &Mbuf) -> Option<Mbuf> {
        let src = m.data();
        let mut c = self.pool.alloc()?;
        c.append(src.len())?.copy_from_slice(src);
        if let Some(op) = c.data_mut().get_mut(ARP_OP_AT..ARP_OP_AT + 2) {
            op.copy_from_slice(&ARP_OP_REPLY.to_be_bytes());
        }
        Some(c)
    }

    /// A queue owner sends what the queueless workers it serves have built (up to `max`).
    #[inline]
    pub fn drain_relays(&mut self, tx: &mut TxBatch, max: usize) -> usize {
        let (n, q) = (self.rings.n, self.rings.queues);
        if self.me >= q {
            return 0;
        }
        let mut sent = 0;
        for w in (q..n).filter(|w| w % q == self.me) {
            let Some(ring) = self.rings.relay(w) else {
                continue;
            };
            sent += pop_into(ring, max - sent, |m| tx.push(m));
        }
        sent
    }

    pub fn workers(&self) -> usize {
        self.rings.n
    }

    /// Frames other workers handed to this one, up to `max` per call, appended to `out`.
    #[inline]
    pub fn collect(&mut self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        let mut got = 0;
        for from in (0..self.rings.n).filter(|&f| f != self.me) {
            let ring = self.rings.ring(from, self.me);
            got += pop_into(ring, max - got, |m| out.push(m));
        }
        self.stats.inn += got as u64;
        got
    }
}

/// Pops up to `max` frames from `ring` into `put`; returns how many.
#[inline]
fn pop_into(ring: &ArrayQueue<Mbuf>, max: usize, mut put: impl FnMut(Mbuf)) -> usize {
    let mut n = 0;
    while n < max {
        let Some(m) = ring.pop() else { break };
        put(m);
        n += 1;
    }
    n
}

/// The transmit side of a worker without a queue pair: frames are built into mbufs from the
/// shared pool and queued on this worker's relay ring, which its queue owner sends.
pub struct TxRelay {
    me: usize,
    rings: Arc<Rings>,
    pool: Mempool,
    stats: TxStats,
}

impl TxRelay {
    pub fn new(me: usize, rings: Arc<Rings>, pool: Mempool) -> Self {
        TxRelay {
            me,
            rings,
            pool,
            stats: TxStats::default(),
        }
    }

    pub fn stats(&self) -> TxStats {
        self.stats
    }
}

impl Transmit for TxRelay {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, meta: TxMeta, fill: F) -> bool {
        let Some(ring) = self.rings.relay(self.me) else {
            self.stats.dropped += 1;
            return false;
        };
        let Some(m) = self.pool.alloc_frame(len, meta, fill) else {
            self.stats.alloc_failed += 1;
            return false;
        };
        match ring.push(m) {
            Ok(()) => self.stats.sent += 1,
            // The owner is behind: drop like a full TX ring would; TCP recovers.
            Err(_m) => self.stats.dropped += 1,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = PROTO_TCP;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sp.to_be_bytes());
        f[36..38].copy_from_slice(&dp.to_be_bytes());
        f
    }

    #[test]
    fn both_directions_of_a_flow_have_one_owner() {
        let s = Steering::new(4);
        let mut seen = [0usize; 4];
        for port in 1000..3000u16 {
            let a = s.classify(&tcp_frame([198, 18, 0, 2], [198, 18, 0, 1], port, 80));
            let b = s.classify(&tcp_frame([198, 18, 0, 1], [198, 18, 0, 2], 80, port));
            assert_eq!(a, b, "port {port}");
            let Dest::Worker(w) = a else { panic!("{a:?}") };
            seen[w] += 1;
        }
        // Toeplitz spreads client ports over every worker, roughly evenly.
        assert!(seen.iter().all(|&n| n > 300), "{seen:?}");
    }

    #[test]
    fn owner_is_what_a_nic_with_the_symmetric_key_would_pick() {
        let s = Steering::new(2);
        let t = Toeplitz::new(&SYMMETRIC_KEY);
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 1));
        for p in [1u16, 4242, 65535] {
            let want = queue_for(t.hash_ipv4_tcp(a, b, p, 80), RETA_SIZE, 2) as usize;
            assert_eq!(s.owner(a, b, p, 80), want);
        }
    }

    #[test]
    fn icmp_error_goes_to_the_owner_of_the_quoted_flow() {
        let s = Steering::new(4);
        for port in [1000u16, 2001, 3333, 40000] {
            // Our segment 198.18.0.1:80 -> .2:port, quoted in a "fragmentation needed" error.
            let inner = tcp_frame([198, 18, 0, 1], [198, 18, 0, 2], 80, port);
            let mut f = tcp_frame([198, 18, 0, 9], [198, 18, 0, 1], 0, 0);
            f.truncate(34);
            f[14 + 9] = PROTO_ICMP;
            f.extend_from_slice(&[3, 4, 0, 0, 0, 0, 0x05, 0xdc]);
            f.extend_from_slice(&inner[14..14 + 28]);
            let want = s.classify(&tcp_frame([198, 18, 0, 2], [198, 18, 0, 1], port, 80));
            assert_eq!(s.classify(&f), want);
        }
    }

    #[test]
    fn arp_goes_to_all_and_the_rest_stays_here() {
        let s = Steering::new(2);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        assert_eq!(s.classify(&arp), Dest::All);
        let mut ping = tcp_frame([198, 18, 0, 2], [198, 18, 0, 1], 0, 0);
        ping[14 + 9] = PROTO_ICMP;
        ping[34] = 8;
        assert_eq!(s.classify(&ping), Dest::Here);
        let mut frag = tcp_frame([198, 18, 0, 2], [198, 18, 0, 1], 5, 80);
        frag[20] = 0x00;
        frag[21] = 0x10;
        assert_eq!(s.classify(&frag), Dest::Here);
    }

    #[test]
    fn only_workers_beyond_the_queues_have_relay_rings() {
        let r = Rings::new(4, 1, 8);
        assert!(r.relay(0).is_none());
        assert!((1..4).all(|w| r.relay(w).is_some()));
        assert!(r.relay(4).is_none());
        let r = Rings::new(4, 4, 8);
        assert!((0..4).all(|w| r.relay(w).is_none()));
        // 12 worker-to-worker rings plus 3 relay rings of 8.
        assert_eq!(Rings::capacity_frames(4, 1, 8), (12 + 3) * 8);
        assert_eq!(Rings::capacity_frames(2, 2, 8), 2 * 8);
    }

    #[test]
    fn truncated_frames_never_panic_and_stay_here() {
        let s = Steering::new(3);
        let full = tcp_frame([198, 18, 0, 2], [198, 18, 0, 1], 1234, 80);
        for len in 0..38 {
            assert_eq!(s.classify(&full[..len]), Dest::Here, "len {len}");
        }
        let mut bad_ihl = full.clone();
        bad_ihl[14] = 0x41;
        assert_eq!(s.classify(&bad_ihl), Dest::Here);
        let mut v6 = full;
        v6[14] = 0x65;
        assert_eq!(s.classify(&v6), Dest::Here);
    }
}
