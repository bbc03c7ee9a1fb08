//! ARP for IPv4 over Ethernet (RFC 826).

use super::{Ipv4Addr, MacAddr, WireError};
use crate::time::Instant;

pub const PACKET_LEN: usize = 28;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
}

/// Checked view: hardware type 1, protocol 0x0800, hlen 6, plen 4, length >= 28.
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// `Truncated` when shorter than 28 bytes, `Malformed` for anything but Ethernet/IPv4.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if u16::from_be_bytes([b[0], b[1]]) != HTYPE_ETHERNET
            || u16::from_be_bytes([b[2], b[3]]) != PTYPE_IPV4
            || b[4] != 6
            || b[5] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(ArpPacket { buffer })
    }
    pub fn buffer(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    pub op: ArpOp,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

fn mac_at(b: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    MacAddr(m)
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

impl ArpRepr {
    /// Unknown operations are `Unsupported`.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<Self, WireError> {
        let b = packet.buffer();
        // new_checked guaranteed PACKET_LEN bytes.
        let op = match u16::from_be_bytes([b[6], b[7]]) {
            OP_REQUEST => ArpOp::Request,
            OP_REPLY => ArpOp::Reply,
            _ => return Err(WireError::Unsupported),
        };
        Ok(ArpRepr {
            op,
            sender_mac: mac_at(b, 8),
            sender_ip: ip_at(b, 14),
            target_mac: mac_at(b, 18),
            target_ip: ip_at(b, 24),
        })
    }
    /// Writes `PACKET_LEN` bytes into `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..PACKET_LEN];
        b[0..2].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[2..4].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        b[4] = 6;
        b[5] = 4;
        let op = match self.op {
            ArpOp::Request => OP_REQUEST,
            ArpOp::Reply => OP_REPLY,
        };
        b[6..8].copy_from_slice(&op.to_be_bytes());
        b[8..14].copy_from_slice(&self.sender_mac.0);
        b[14..18].copy_from_slice(&self.sender_ip.octets());
        b[18..24].copy_from_slice(&self.target_mac.0);
        b[24..28].copy_from_slice(&self.target_ip.octets());
    }
}

#[derive(Clone, Copy)]
struct Entry {
    ip: Ipv4Addr,
    mac: MacAddr,
    expires: Instant,
}

/// IPv4 → MAC cache with expiry. Bounded: when full, the entry closest to expiry is replaced.
///
/// An open-addressed table (linear probing, backward-shift deletion) sized to twice the
/// capacity at construction: lookups, which run for every transmitted frame, are O(1) and never
/// allocate. Only an insert into a full cache scans for the victim, which is rare (learning).
pub struct ArpCache {
    slots: Box<[Option<Entry>]>,
    mask: usize,
    len: usize,
    capacity: usize,
    timeout: core::time::Duration,
}

impl ArpCache {
    pub fn new(capacity: usize, timeout: core::time::Duration) -> Self {
        let n = (capacity.max(1) * 2).next_power_of_two();
        ArpCache {
            slots: vec![None; n].into_boxed_slice(),
            mask: n - 1,
            len: 0,
            capacity,
            timeout,
        }
    }

    #[inline]
    fn home(&self, ip: Ipv4Addr) -> usize {
        // Fibonacci hashing: addresses in one subnet differ in the low bits only.
        ((ip.to_bits() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & self.mask
    }

    #[inline]
    fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        let mut i = self.home(ip);
        // The table is never more than half full, so an empty slot ends every probe.
        loop {
            match &self.slots[i] {
                None => return None,
                Some(e) if e.ip == ip => return Some(i),
                Some(_) => i = (i + 1) & self.mask,
            }
        }
    }

    fn remove_at(&mut self, mut hole: usize) {
        self.slots[hole] = None;
        self.len -= 1;
        // Backward-shift: move later entries of the probe run into the hole when their home
        // position allows it, so probes never stop early at the hole.
        let mut i = (hole + 1) & self.mask;
        while let Some(e) = self.slots[i] {
            let home = self.home(e.ip);
            // Distance of i and of the hole from e's home, along the probe direction.
            let dist_i = i.wrapping_sub(home) & self.mask;
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            if dist_hole < dist_i {
                self.slots[hole] = Some(e);
                self.slots[i] = None;
                hole = i;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Learns or refreshes `ip`'s address; valid until `now + timeout`.
    pub fn insert(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) {
        let expires = now + self.timeout;
        if let Some(i) = self.find(ip) {
            self.slots[i] = Some(Entry { ip, mac, expires });
            return;
        }
        if self.capacity == 0 {
            return;
        }
        if self.len >= self.capacity {
            let victim = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|e| (e.expires, i)))
                .min()
                .map(|(_, i)| i);
            if let Some(v) = victim {
                self.remove_at(v);
            }
        }
        let mut i = self.home(ip);
        while self.slots[i].is_some() {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Some(Entry { ip, mac, expires });
        self.len += 1;
    }

    /// The address of `ip` if known and not expired (an entry expires at `insert time + timeout`).
    #[inline]
    pub fn lookup(&self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        let e = self.slots[self.find(ip)?]?;
        (now < e.expires).then_some(e.mac)
    }

    /// Entries held, expired ones included until they are replaced.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use proptest::prelude::*;

    /// A who-has 198.18.0.1 tell 198.18.0.2 request as on the wire.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 198,
        18, 0, 2, 0, 0, 0, 0, 0, 0, 198, 18, 0, 1,
    ];

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, 0, last)
    }

    #[test]
    fn rfc826_request_parses() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            ArpRepr {
                op: ArpOp::Request,
                sender_mac: MacAddr([2, 0, 0, 0, 0, 2]),
                sender_ip: ip(2),
                target_mac: MacAddr::ZERO,
                target_ip: ip(1),
            }
        );
        let mut out = [0u8; PACKET_LEN];
        r.emit(&mut out);
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn short_packet_is_truncated() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn non_ethernet_ipv4_arp_is_malformed() {
        for (at, v) in [(1, 6), (2, 0x86), (4, 8), (5, 16)] {
            let mut p = REQUEST;
            p[at] = v;
            assert_eq!(
                ArpPacket::new_checked(&p[..]).err(),
                Some(WireError::Malformed)
            );
        }
    }

    #[test]
    fn unknown_operation_is_unsupported() {
        let mut p = REQUEST;
        p[7] = 3; // RARP request
        let v = ArpPacket::new_checked(&p[..]).unwrap();
        assert_eq!(ArpRepr::parse(&v), Err(WireError::Unsupported));
    }

    #[test]
    fn cache_entry_expires_after_timeout() {
        let mut c = ArpCache::new(4, Duration::from_secs(60));
        let m = MacAddr([2, 0, 0, 0, 0, 9]);
        c.insert(ip(9), m, Instant::from_secs(10));
        assert_eq!(c.lookup(ip(9), Instant::from_secs(69)), Some(m));
        assert_eq!(c.lookup(ip(9), Instant::from_secs(70)), None);
        assert_eq!(c.lookup(ip(8), Instant::from_secs(10)), None);
        // Refresh extends the lifetime and replaces the address without growing.
        let m2 = MacAddr([2, 0, 0, 0, 0, 10]);
        c.insert(ip(9), m2, Instant::from_secs(65));
        assert_eq!(c.lookup(ip(9), Instant::from_secs(124)), Some(m2));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn full_cache_replaces_entry_closest_to_expiry() {
        let mut c = ArpCache::new(3, Duration::from_secs(60));
        let t = Instant::from_secs;
        c.insert(ip(1), MacAddr([1; 6]), t(5));
        c.insert(ip(2), MacAddr([2; 6]), t(1)); // expires first
        c.insert(ip(3), MacAddr([3; 6]), t(3));
        c.insert(ip(4), MacAddr([4; 6]), t(6));
        assert_eq!(c.len(), 3);
        assert_eq!(c.lookup(ip(2), t(6)), None);
        assert_eq!(c.lookup(ip(1), t(6)), Some(MacAddr([1; 6])));
        assert_eq!(c.lookup(ip(3), t(6)), Some(MacAddr([3; 6])));
        assert_eq!(c.lookup(ip(4), t(6)), Some(MacAddr([4; 6])));
    }

    #[test]
    fn large_cache_keeps_every_entry_until_full() {
        let mut c = ArpCache::new(1000, Duration::from_secs(60));
        let a = |i: u32| Ipv4Addr::from_bits(0xc612_0000 + i);
        let m = |i: u32| MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]);
        for i in 0..1000 {
            c.insert(a(i), m(i), Instant::from_micros(i as u64));
        }
        assert_eq!(c.len(), 1000);
        let now = Instant::from_secs(1);
        assert!((0..1000).all(|i| c.lookup(a(i), now) == Some(m(i))));
        c.insert(a(1000), m(1000), now);
        assert_eq!(c.len(), 1000);
        assert_eq!(c.lookup(a(0), now), None);
        assert!((1..=1000).all(|i| c.lookup(a(i), now) == Some(m(i))));
    }

    #[test]
    fn zero_capacity_cache_holds_nothing() {
        let mut c = ArpCache::new(0, Duration::from_secs(60));
        c.insert(ip(1), MacAddr([1; 6]), Instant::ZERO);
        assert!(c.is_empty());
        assert_eq!(c.lookup(ip(1), Instant::ZERO), None);
    }

    fn arb_repr() -> impl Strategy<Value = ArpRepr> {
        (
            any::<bool>(),
            any::<[u8; 6]>(),
            any::<u32>(),
            any::<[u8; 6]>(),
            any::<u32>(),
        )
            .prop_map(|(req, sm, si, tm, ti)| ArpRepr {
                op: if req { ArpOp::Request } else { ArpOp::Reply },
                sender_mac: MacAddr(sm),
                sender_ip: Ipv4Addr::from_bits(si),
                target_mac: MacAddr(tm),
                target_ip: Ipv4Addr::from_bits(ti),
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = ArpPacket::new_checked(&data[..]) {
                let _ = ArpRepr::parse(&p);
            }
        }

        #[test]
        fn emit_parse_round_trip(r in arb_repr()) {
            let mut buf = [0u8; PACKET_LEN];
            r.emit(&mut buf);
            let p = ArpPacket::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(ArpRepr::parse(&p).unwrap(), r);
        }

        /// The cache agrees with a model (a plain list with the same eviction rule).
        #[test]
        fn cache_matches_model(ops in proptest::collection::vec((0u8..24, 0u64..100), 0..200), cap in 1usize..10) {
            let timeout = Duration::from_secs(30);
            let mut c = ArpCache::new(cap, timeout);
            let mut model: Vec<(Ipv4Addr, MacAddr, Instant)> = Vec::new();
            let mut now = Instant::ZERO;
            for (last, dt) in ops {
                // Time strictly increases, so every expiry is distinct and the victim unique.
                now += Duration::from_secs(1 + dt % 7);
                let a = ip(last);
                let m = MacAddr([last, dt as u8, 0, 0, 0, 1]);
                c.insert(a, m, now);
                if let Some(e) = model.iter_mut().find(|e| e.0 == a) {
                    *e = (a, m, now + timeout);
                } else {
                    if model.len() == cap {
                        let min = model.iter().map(|e| e.2).min().unwrap();
                        model.retain(|e| e.2 != min);
                    }
                    model.push((a, m, now + timeout));
                }
                prop_assert_eq!(c.len(), model.len());
                for l in 0u8..24 {
                    let want = model.iter().find(|e| e.0 == ip(l)).filter(|e| now < e.2).map(|e| e.1);
                    prop_assert_eq!(c.lookup(ip(l), now), want);
                }
            }
        }
    }
}
