//! SYN cookies (RFC 4987 §3.6): the listener keeps no state for a SYN; the ISN it answers with
//! encodes a keyed MAC of the 4-tuple, a coarse time counter and the peer's MSS (one of a small
//! table). With timestamps, window scale and SACK-permitted are encoded in the low bits of our
//! TSval so they survive too.
//!
//! Layout (Linux's, with two hardening tweaks noted below):
//!
//! ```text
//! ISN = H1(tuple) + peer_isn + (count << 24)
//!     + ((H2(tuple, peer_isn, count) + (mss_index << 22)) mod 2^24)
//! ```
//!
//! `count` ticks every 64 s. Subtracting `H1 + peer_isn` from a returned cookie leaves the low
//! 8 bits of `count` in the top byte (the low part is < 2^24, so nothing carries into it), which
//! tells the decoder which counter to recompute H2 with; the low 24 bits minus H2 then have to
//! come out as a valid MSS slot. A forged cookie passes only if its top byte lands in the
//! accepted age window (3/256) and its low 24 bits hit one of the 4 slots (4/2^24): about
//! 7·10^-10.
//!
//! Unlike Linux, H2 also covers `peer_isn` and the index sits in the top 2 of the 24 bits
//! rather than the bottom 2: with Linux's layout an ACK whose SEQ or ACK is off by one or two
//! still validates (with a neighbouring MSS); here any such perturbation is rejected.

use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use core::hash::Hasher;
use siphasher::sip::SipHasher24;

/// What a valid cookie restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    pub mss: u16,
    /// Peer's window scale, when it was encoded in the timestamp.
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
}

/// MSS values a cookie can carry (index in 2 bits). Chosen around common paths: the IPv4
/// minimum, tunnels/VPNs, PPPoE-ish and plain Ethernet.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// The MSS index occupies the top 2 of the 24 MAC'd bits.
const MSS_SHIFT: u32 = COOKIE_BITS - 2;
const MSS_SLOT_MASK: u32 = (1 << MSS_SHIFT) - 1;
/// Length of one counter tick, in µs (64 s).
const COUNT_PERIOD_US: u64 = 64_000_000;
/// Cookies minted this many ticks ago or fewer are accepted: an age of at least 128 s and less
/// than 192 s, depending on where in its tick the cookie was minted.
pub const MAX_AGE_TICKS: u32 = 2;
/// The longest a cookie stays valid: minted at the very start of a tick, it decodes until
/// [`MAX_AGE_TICKS`] more ticks have fully passed.
pub const COOKIE_LIFETIME: core::time::Duration =
    core::time::Duration::from_micros(COUNT_PERIOD_US * (MAX_AGE_TICKS as u64 + 1));

/// Low TSval bits carrying the options; see [`SynCookies::encode_ts`].
const TS_OPT_BITS: u32 = 6;
const TS_OPT_MASK: u32 = (1 << TS_OPT_BITS) - 1;
const TS_WSCALE_MASK: u32 = 0xf;
const TS_WSCALE_NONE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;
const TS_VALID: u32 = 1 << 5;
/// RFC 7323 §2.3: larger shifts are treated as 14.
const MAX_WSCALE: u8 = 14;

pub struct SynCookies {
    key: [u8; 16],
}

impl SynCookies {
    /// `secret` keys the MAC (from the engine's seed).
    pub fn new(secret: [u8; 16]) -> Self {
        SynCookies { key: secret }
    }

    fn count(now: Instant) -> u32 {
        (now.as_micros() / COUNT_PERIOD_US) as u32
    }

    /// H1 and H2 share the key; a domain byte keeps them independent, and H2 mixes in the full
    /// 32-bit counter so a cookie cannot be replayed 256 ticks (~4.5 h) later.
    fn hash1(&self, tuple: &FourTuple) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(&tuple.to_bytes());
        h.write_u8(1);
        h.finish() as u32
    }

    fn hash2(&self, tuple: &FourTuple, peer_isn: SeqNum, count: u32) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(&tuple.to_bytes());
        h.write_u8(2);
        h.write(&peer_isn.0.to_le_bytes());
        h.write(&count.to_le_bytes());
        h.finish() as u32
    }

    /// Index of the largest table MSS not above `mss`; 0 (536) when the peer asks for less.
    fn mss_index(mss: u16) -> u32 {
        MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32
    }

    /// Our ISN for a SYN from `tuple` with initial sequence `peer_isn` and advertised `mss`
    /// (rounded down to the table). Returns (isn, mss actually encoded).
    pub fn encode(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        mss: u16,
    ) -> (SeqNum, u16) {
        let count = Self::count(now);
        let idx = Self::mss_index(mss);
        let cookie = self
            .hash1(tuple)
            .wrapping_add(peer_isn.0)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(
                self.hash2(tuple, peer_isn, count)
                    .wrapping_add(idx << MSS_SHIFT)
                    & COOKIE_MASK,
            );
        (SeqNum(cookie), MSS_TABLE[idx as usize])
    }

    /// Validates the ACK completing a cookie handshake: `peer_isn` = SEG.SEQ - 1,
    /// `cookie` = SEG.ACK - 1. Accepts cookies up to about two minutes old: minted in the
    /// current 64 s tick or the [`MAX_AGE_TICKS`] before it (so at least 128 s, under 192 s).
    pub fn decode(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        cookie: SeqNum,
    ) -> Option<u16> {
        let v = cookie
            .0
            .wrapping_sub(self.hash1(tuple))
            .wrapping_sub(peer_isn.0);
        let now_count = Self::count(now);
        // Age in ticks, modulo 256; a cookie "from the future" wraps to a large age.
        let age = now_count.wrapping_sub(v >> COOKIE_BITS) & 0xff;
        if age > MAX_AGE_TICKS {
            return None;
        }
        let count = now_count.wrapping_sub(age);
        let slot = v.wrapping_sub(self.hash2(tuple, peer_isn, count)) & COOKIE_MASK;
        if slot & MSS_SLOT_MASK != 0 {
            return None;
        }
        MSS_TABLE.get((slot >> MSS_SHIFT) as usize).copied()
    }

    /// Our TSval for the SYN-ACK: `ts_now` with its low 6 bits replaced by the options.
    ///
    /// Bits 0-3: peer's window scale (0..=14; 0xf = peer sent no window scale option; larger
    /// shifts are clamped to 14 as RFC 7323 §2.3 says). Bit 4: SACK permitted. Bit 5: always 1,
    /// marking the low bits as ours. The result is moved back by 64 ticks when replacing the
    /// bits would put it ahead of `ts_now`, so TSvals we send later never go backwards.
    pub fn encode_ts(ts_now: u32, window_scale: Option<u8>, sack_permitted: bool) -> u32 {
        let ws = window_scale.map_or(TS_WSCALE_NONE, |w| u32::from(w.min(MAX_WSCALE)));
        let opts = TS_VALID | if sack_permitted { TS_SACK } else { 0 } | ws;
        let ts = (ts_now & !TS_OPT_MASK) | opts;
        if (ts.wrapping_sub(ts_now) as i32) > 0 {
            ts.wrapping_sub(TS_OPT_MASK + 1)
        } else {
            ts
        }
    }

    /// Recovers (window_scale, sack_permitted) from the TSecr echoed in the final ACK.
    ///
    /// Any 32-bit value decodes: if bit 5 is clear the TSecr was not produced by
    /// [`Self::encode_ts`] (e.g. a peer echoing 0), so the result is the conservative
    /// (None, false) — no window scaling, no SACK. A scale field of 15 means "none". No other
    /// value can be out of range.
    pub fn decode_ts(tsecr: u32) -> (Option<u8>, bool) {
        if tsecr & TS_VALID == 0 {
            return (None, false);
        }
        let ws = tsecr & TS_WSCALE_MASK;
        let ws = if ws == TS_WSCALE_NONE {
            None
        } else {
            Some(ws as u8)
        };
        (ws, tsecr & TS_SACK != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use core::time::Duration;

    const SECRET: [u8; 16] = *b"cookie-secret-16";

    fn tuple() -> FourTuple {
        FourTuple {
            local_ip: Ipv4Addr::new(10, 0, 0, 1),
            local_port: 443,
            remote_ip: Ipv4Addr::new(203, 0, 113, 9),
            remote_port: 51000,
        }
    }

    /// Tiny deterministic PRNG so the tests need no extra crates.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn rfc4987_round_trip_every_table_mss() {
        let c = SynCookies::new(SECRET);
        let now = Instant::from_secs(1_000_000);
        for (i, &m) in MSS_TABLE.iter().enumerate() {
            let peer_isn = SeqNum(0xfedc_ba98u32.wrapping_add(i as u32 * 7919));
            let (isn, enc) = c.encode(now, &tuple(), peer_isn, m);
            assert_eq!(enc, m);
            assert_eq!(c.decode(now, &tuple(), peer_isn, isn), Some(m));
        }
    }

    #[test]
    fn mss_rounds_down_to_table() {
        let c = SynCookies::new(SECRET);
        let now = Instant::from_secs(5);
        let cases = [
            (0u16, 536u16),
            (100, 536),
            (536, 536),
            (1299, 536),
            (1300, 1300),
            (1439, 1300),
            (1440, 1440),
            (1459, 1440),
            (1460, 1460),
            (9000, 1460),
            (u16::MAX, 1460),
        ];
        for (adv, want) in cases {
            let (isn, enc) = c.encode(now, &tuple(), SeqNum(1), adv);
            assert_eq!(enc, want, "advertised {adv}");
            assert_eq!(c.decode(now, &tuple(), SeqNum(1), isn), Some(want));
        }
    }

    #[test]
    fn rfc4987_accepted_for_two_ticks_then_rejected() {
        let c = SynCookies::new(SECRET);
        // Start of a tick, so the boundaries are exact.
        let t0 = Instant::from_secs(64 * 1000);
        let (isn, _) = c.encode(t0, &tuple(), SeqNum(77), 1460);
        for secs in [0u64, 63, 64, 127, 128, 191] {
            let now = t0 + Duration::from_secs(secs);
            assert_eq!(
                c.decode(now, &tuple(), SeqNum(77), isn),
                Some(1460),
                "{secs}s"
            );
        }
        for secs in [192u64, 256, 64 * 256, 64 * 257] {
            let now = t0 + Duration::from_secs(secs);
            assert_eq!(c.decode(now, &tuple(), SeqNum(77), isn), None, "{secs}s");
        }
        // A cookie minted "in the future" (clock went backwards / forged) is rejected.
        let earlier = Instant::from_secs(64 * 999);
        assert_eq!(c.decode(earlier, &tuple(), SeqNum(77), isn), None);
    }

    #[test]
    fn rfc4987_wrong_tuple_or_peer_isn_rejected() {
        let c = SynCookies::new(SECRET);
        let now = Instant::from_secs(12345);
        let (isn, _) = c.encode(now, &tuple(), SeqNum(1000), 1460);
        let mut other = tuple();
        other.remote_port += 1;
        assert_eq!(c.decode(now, &other, SeqNum(1000), isn), None);
        let mut other = tuple();
        other.remote_ip = Ipv4Addr::new(203, 0, 113, 10);
        assert_eq!(c.decode(now, &other, SeqNum(1000), isn), None);
        let mut other = tuple();
        other.local_port = 80;
        assert_eq!(c.decode(now, &other, SeqNum(1000), isn), None);
        // Off-by-a-little SEQ or ACK must not validate with a neighbouring MSS slot.
        for m in MSS_TABLE {
            let (isn, _) = c.encode(now, &tuple(), SeqNum(1000), m);
            for d in [1u32, 2, 3, 4, 1 << 21, 1 << 24, 1 << 31] {
                for d in [d, d.wrapping_neg()] {
                    assert_eq!(c.decode(now, &tuple(), SeqNum(1000) + d, isn), None);
                    assert_eq!(c.decode(now, &tuple(), SeqNum(1000), isn + d), None);
                }
            }
            // The peer ISN is MAC'd, so even the slot stride does not help there.
            assert_eq!(
                c.decode(now, &tuple(), SeqNum(1000) + (1u32 << 22), isn),
                None
            );
        }
        // Another secret (another process / restart) does not accept it either.
        assert_eq!(
            SynCookies::new([9; 16]).decode(now, &tuple(), SeqNum(1000), isn),
            None
        );
    }

    #[test]
    fn rfc4987_random_cookies_rejected() {
        let c = SynCookies::new(SECRET);
        let now = Instant::from_secs(3_000_000);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for _ in 0..100_000 {
            let r = rng.next();
            let peer = SeqNum(r as u32);
            let cookie = SeqNum((r >> 32) as u32);
            let mut t = tuple();
            t.remote_port = (rng.next() >> 48) as u16;
            if c.decode(now, &t, peer, cookie).is_some() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0);
    }

    #[test]
    fn ts_round_trip_all_wscale_and_sack() {
        let mut rng = XorShift(42);
        for _ in 0..50 {
            let ts_now = rng.next() as u32;
            for ws in (0u8..=14).map(Some).chain([None]) {
                for sack in [false, true] {
                    let ts = SynCookies::encode_ts(ts_now, ws, sack);
                    assert_eq!(SynCookies::decode_ts(ts), (ws, sack));
                    // Never ahead of the clock, and at most 64 ticks behind it.
                    let behind = ts_now.wrapping_sub(ts);
                    assert!(behind < 64, "ts_now {ts_now:#x} ts {ts:#x}");
                }
            }
        }
    }

    #[test]
    fn ts_encoding_exact_bits() {
        assert_eq!(
            SynCookies::encode_ts(0x1000_00ff, Some(7), true),
            0x1000_00f7
        );
        assert_eq!(SynCookies::encode_ts(0x1000_00ff, None, false), 0x1000_00ef);
        // Low bits would exceed ts_now: step back one 64-tick block.
        assert_eq!(
            SynCookies::encode_ts(0x1000_0040, Some(7), true),
            0x1000_0037
        );
        // Wraps below zero cleanly.
        assert_eq!(SynCookies::encode_ts(0, Some(0), false), 0xffff_ffe0);
        // RFC 7323 §2.3: scale above 14 is treated as 14.
        assert_eq!(
            SynCookies::decode_ts(SynCookies::encode_ts(12345, Some(200), false)),
            (Some(14), false)
        );
    }

    #[test]
    fn ts_decode_of_foreign_values_is_conservative() {
        // Bit 5 clear: not ours.
        assert_eq!(SynCookies::decode_ts(0), (None, false));
        assert_eq!(SynCookies::decode_ts(0xffff_ffdf), (None, false));
        assert_eq!(SynCookies::decode_ts(0xffff_ffff), (None, true));
        for v in 0..=u32::from(u16::MAX) {
            let (ws, _) = SynCookies::decode_ts(v.wrapping_mul(2_654_435_761));
            assert!(ws.is_none_or(|w| w <= 14));
        }
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use core::net::Ipv4Addr;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cookie_round_trip_any_input(key in any::<[u8; 16]>(), l in any::<u32>(),
                                       r in any::<u32>(), lp in any::<u16>(), rp in any::<u16>(),
                                       isn in any::<u32>(), mss in any::<u16>(),
                                       t in any::<u64>(), age in 0u64..128_000_000) {
            let c = SynCookies::new(key);
            let tuple = FourTuple {
                local_ip: Ipv4Addr::from(l),
                local_port: lp,
                remote_ip: Ipv4Addr::from(r),
                remote_port: rp,
            };
            let t = Instant::from_micros(t >> 1);
            let (cookie, enc) = c.encode(t, &tuple, SeqNum(isn), mss);
            prop_assert!(enc <= mss.max(536));
            prop_assert_eq!(
                c.decode(t + core::time::Duration::from_micros(age), &tuple, SeqNum(isn), cookie),
                Some(enc)
            );
        }

        #[test]
        fn ts_options_round_trip(ts in any::<u32>(), ws in proptest::option::of(0u8..=14),
                                 sack in any::<bool>()) {
            let v = SynCookies::encode_ts(ts, ws, sack);
            prop_assert_eq!(SynCookies::decode_ts(v), (ws, sack));
            prop_assert!(ts.wrapping_sub(v) < 64);
        }
    }
}
