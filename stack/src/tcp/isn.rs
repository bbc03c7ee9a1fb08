//! Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock and F a
//! keyed hash (SipHash), so ISNs are unpredictable across connections yet grow monotonically for
//! one 4-tuple (which is what lets a new SYN take over a TIME_WAIT entry).

use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use core::hash::Hasher;
use siphasher::sip::SipHasher24;

pub struct IsnGenerator {
    key: [u8; 16],
}

impl IsnGenerator {
    pub fn new(secret: [u8; 16]) -> Self {
        IsnGenerator { key: secret }
    }

    /// SipHash-2-4 over the tuple, keyed by the secret: its low 32 bits are F of RFC 6528 §3,
    /// its high 32 bits the tuple's timestamp offset (RFC 7323 §5.4), so a connection's setup
    /// costs one keyed hash, not two.
    fn hash(&self, tuple: &FourTuple) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(&tuple.to_bytes());
        h.finish()
    }

    fn with_clock(now: Instant, f: u32) -> SeqNum {
        // M: the 4 µs timer of RFC 9293 §3.4.1, wrapping every ~4.77 hours.
        let m = (now.as_micros() / 4) as u32;
        SeqNum(m.wrapping_add(f))
    }

    pub fn isn(&self, now: Instant, tuple: &FourTuple) -> SeqNum {
        Self::with_clock(now, self.hash(tuple) as u32)
    }

    /// The tuple's timestamp offset: keyed, so TSvals reveal nothing across tuples, and stable,
    /// so they keep growing across incarnations of one tuple (RFC 6191).
    pub fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        (self.hash(tuple) >> 32) as u32
    }

    /// `isn` and `ts_offset` from one hash.
    pub fn isn_and_ts_offset(&self, now: Instant, tuple: &FourTuple) -> (SeqNum, u32) {
        let h = self.hash(tuple);
        (Self::with_clock(now, h as u32), (h >> 32) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn tuple(rport: u16) -> FourTuple {
        FourTuple {
            local_ip: Ipv4Addr::new(10, 0, 0, 1),
            local_port: 80,
            remote_ip: Ipv4Addr::new(192, 168, 1, 2),
            remote_port: rport,
        }
    }
    const SECRET: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn rfc6528_different_tuples_get_unrelated_isns() {
        let g = IsnGenerator::new(SECRET);
        let now = Instant::from_secs(7);
        let a = g.isn(now, &tuple(40000));
        let b = g.isn(now, &tuple(40001));
        assert_ne!(a, b);
        // Adjacent ports must not give adjacent ISNs (F is a keyed hash, not a counter).
        assert!(a.diff(b).unsigned_abs() > 1_000_000);
        let swapped = FourTuple {
            local_ip: Ipv4Addr::new(192, 168, 1, 2),
            remote_ip: Ipv4Addr::new(10, 0, 0, 1),
            ..tuple(40000)
        };
        assert_ne!(g.isn(now, &swapped), a);
    }

    #[test]
    fn rfc6528_same_tuple_advances_by_4us_ticks() {
        let g = IsnGenerator::new(SECRET);
        let t = tuple(40000);
        let t0 = Instant::from_secs(100);
        let a = g.isn(t0, &t);
        let b = g.isn(t0 + core::time::Duration::from_millis(1), &t);
        assert_eq!(b.diff(a), 250);
        assert!(b.gt(a));
        let c = g.isn(t0 + core::time::Duration::from_secs(60), &t);
        assert_eq!(c.diff(a), 15_000_000);
        // Same 4 µs tick, same ISN.
        assert_eq!(g.isn(Instant::from_micros(100_000_003), &t), a);
    }

    #[test]
    fn rfc6528_wraps_modulo_2_32() {
        let g = IsnGenerator::new(SECRET);
        let t = tuple(1);
        let a = g.isn(Instant::ZERO, &t);
        // 2^32 ticks later the clock component has wrapped back to the same value.
        let b = g.isn(Instant::from_micros(4 << 32), &t);
        assert_eq!(a, b);
    }

    #[test]
    fn one_hash_gives_the_isn_and_an_unrelated_timestamp_offset() {
        let g = IsnGenerator::new(SECRET);
        let now = Instant::from_millis(777);
        let (isn, off) = g.isn_and_ts_offset(now, &tuple(40000));
        assert_eq!(isn, g.isn(now, &tuple(40000)));
        assert_eq!(off, g.ts_offset(&tuple(40000)));
        // The offset does not move with the clock and is not the ISN's hash half.
        assert_eq!(
            g.isn_and_ts_offset(Instant::from_secs(99), &tuple(40000)).1,
            off
        );
        assert_ne!(off, isn.0.wrapping_sub((now.as_micros() / 4) as u32));
        assert_ne!(g.ts_offset(&tuple(40001)), off);
    }

    #[test]
    fn rfc6528_deterministic_per_secret() {
        let t = tuple(5555);
        let now = Instant::from_millis(1234);
        let a = IsnGenerator::new(SECRET).isn(now, &t);
        assert_eq!(IsnGenerator::new(SECRET).isn(now, &t), a);
        assert_ne!(IsnGenerator::new([7; 16]).isn(now, &t), a);
    }
}
