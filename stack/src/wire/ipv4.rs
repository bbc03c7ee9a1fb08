//! IPv4 (RFC 791). Options are skipped, fragments refused, TTL set on output.

use super::checksum;
use super::{Ipv4Addr, RxCsum, TxCsum, WireError};

pub const HEADER_LEN: usize = 20;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const DEFAULT_TTL: u8 = 64;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// Checked view: version 4, IHL >= 5, header fits, `total_len` between header length and the
/// buffer length (trailing Ethernet padding is ignored by `payload`).
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// `Truncated` when the buffer is shorter than the header or `total_len`; `Malformed` for a
    /// version other than 4, IHL < 5, or `total_len` shorter than the header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let hl = ((b[0] & 0x0f) as usize) * 4;
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let total = u16::from_be_bytes([b[2], b[3]]) as usize;
        if total < hl {
            return Err(WireError::Malformed);
        }
        if total > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buffer })
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline]
    pub fn header_len(&self) -> usize {
        ((self.b()[0] & 0x0f) as usize) * 4
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        u16::from_be_bytes([self.b()[2], self.b()[3]]) as usize
    }
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }
    /// More-fragments set or fragment offset non-zero.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        let f = u16::from_be_bytes([self.b()[6], self.b()[7]]);
        f & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }
    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.b()[..self.header_len()]
    }
    /// `buffer[header_len..total_len]`.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
}

impl Ipv4Repr {
    /// Verifies the header checksum unless `csum` says the NIC already did (`Good`); `Bad` fails
    /// with `Checksum`. Fragments fail with `Fragment`.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>, csum: RxCsum) -> Result<Self, WireError> {
        let ok = match csum {
            RxCsum::Good => true,
            RxCsum::Bad => false,
            RxCsum::Unknown => checksum::fold(checksum::sum(packet.header(), 0)) == 0xffff,
        };
        if !ok {
            return Err(WireError::Checksum);
        }
        if packet.is_fragment() {
            return Err(WireError::Fragment);
        }
        Ok(Ipv4Repr {
            src: packet.src(),
            dst: packet.dst(),
            protocol: packet.protocol(),
            payload_len: packet.total_len() - packet.header_len(),
            ttl: packet.ttl(),
        })
    }
    /// Writes a 20-byte header (no options, DF set, id 0) into `buf[..HEADER_LEN]`.
    /// `payload_len` must fit the 16-bit total length (at most 65515).
    #[inline]
    pub fn emit(&self, buf: &mut [u8], csum: TxCsum) {
        debug_assert!(self.payload_len <= u16::MAX as usize - HEADER_LEN);
        let h = &mut buf[..HEADER_LEN];
        let total = (HEADER_LEN + self.payload_len) as u16;
        h[0] = 0x45;
        h[1] = 0;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&[0, 0]);
        h[6..8].copy_from_slice(&FLAG_DF.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        if csum == TxCsum::Compute {
            let c = checksum::checksum(h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 198.18.0.2 → 198.18.0.1, TCP, 40 bytes total, DF, TTL 64, id 0x1c46, checksum filled.
    fn sample() -> [u8; 40] {
        let mut p = [0u8; 40];
        p[..20].copy_from_slice(&[
            0x45, 0x00, 0x00, 0x28, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 2,
            198, 18, 0, 1,
        ]);
        let c = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn parses_valid_header() {
        let p = sample();
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        let r = Ipv4Repr::parse(&v, RxCsum::Unknown).unwrap();
        assert_eq!(
            r,
            Ipv4Repr {
                src: Ipv4Addr::new(198, 18, 0, 2),
                dst: Ipv4Addr::new(198, 18, 0, 1),
                protocol: PROTO_TCP,
                payload_len: 20,
                ttl: 64,
            }
        );
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut p = [0u8; 60];
        p[..40].copy_from_slice(&sample());
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert_eq!(v.payload().len(), 20);
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL) before the payload.
        let mut p = [0u8; 28];
        p[..20].copy_from_slice(&sample()[..20]);
        p[0] = 0x46;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        p[20..24].copy_from_slice(&[1, 1, 1, 0]);
        p[24..28].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let c = checksum::checksum(&p[..24]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert_eq!(v.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(Ipv4Repr::parse(&v, RxCsum::Unknown).unwrap().payload_len, 4);
    }

    #[test]
    fn bad_checksum_is_refused_unless_nic_verified() {
        let mut p = sample();
        p[11] ^= 1;
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            Ipv4Repr::parse(&v, RxCsum::Unknown),
            Err(WireError::Checksum)
        );
        assert!(Ipv4Repr::parse(&v, RxCsum::Good).is_ok());
        let good = sample();
        let v = Ipv4Packet::new_checked(&good[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&v, RxCsum::Bad), Err(WireError::Checksum));
    }

    #[test]
    fn fragments_are_refused() {
        for flags in [0x2000u16, 0x0001, 0x4001, 0x3fff] {
            let mut p = sample();
            p[6..8].copy_from_slice(&flags.to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            let v = Ipv4Packet::new_checked(&p[..]).unwrap();
            assert!(v.is_fragment());
            assert_eq!(
                Ipv4Repr::parse(&v, RxCsum::Unknown),
                Err(WireError::Fragment)
            );
        }
    }

    #[test]
    fn length_errors() {
        let p = sample();
        let e = |b: &[u8]| Ipv4Packet::new_checked(b).err();
        assert_eq!(e(&p[..19]), Some(WireError::Truncated));
        assert_eq!(e(&p[..39]), Some(WireError::Truncated)); // total_len 40
        let mut q = p;
        q[0] = 0x65;
        assert_eq!(e(&q), Some(WireError::Malformed)); // version 6
        q[0] = 0x44;
        assert_eq!(e(&q), Some(WireError::Malformed)); // IHL 4
        q[0] = 0x4f;
        assert_eq!(e(&q), Some(WireError::Malformed)); // IHL 60 > total_len 40
        q[0] = 0x45;
        q[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(e(&q), Some(WireError::Malformed));
    }

    #[test]
    fn emit_writes_exact_header() {
        let r = Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(192, 168, 0, 199),
            protocol: 17,
            payload_len: 95,
            ttl: 64,
        };
        let mut h = [0xaau8; 20];
        r.emit(&mut h, TxCsum::Compute);
        // Same header as the checksum test vector (0x0073 total, DF, TTL 64, UDP): b861.
        assert_eq!(
            h,
            [
                0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7
            ]
        );
        r.emit(&mut h, TxCsum::Offload);
        assert_eq!(&h[10..12], &[0, 0]);
    }

    fn arb_repr() -> impl Strategy<Value = Ipv4Repr> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            0usize..=65515,
            any::<u8>(),
        )
            .prop_map(|(s, d, protocol, payload_len, ttl)| Ipv4Repr {
                src: Ipv4Addr::from_bits(s),
                dst: Ipv4Addr::from_bits(d),
                protocol,
                payload_len,
                ttl,
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80), c in 0u8..3) {
            let csum = [RxCsum::Unknown, RxCsum::Good, RxCsum::Bad][c as usize];
            if let Ok(v) = Ipv4Packet::new_checked(&data[..]) {
                let _ = v.payload();
                if let Ok(r) = Ipv4Repr::parse(&v, csum) {
                    prop_assert_eq!(r.payload_len, v.payload().len());
                }
            }
        }

        #[test]
        fn emit_parse_round_trip(r in arb_repr()) {
            let mut buf = vec![0u8; HEADER_LEN + r.payload_len];
            r.emit(&mut buf, TxCsum::Compute);
            let v = Ipv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&v, RxCsum::Unknown).unwrap(), r);
        }
    }
}
