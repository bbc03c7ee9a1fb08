//! ICMPv4 (RFC 792): echo, and Destination Unreachable code 4 "fragmentation needed and DF
//! set" with its Next-Hop MTU field (RFC 1191 §4). Other types and codes are `Unsupported`.
//!
//! `parse` takes any byte string (the IPv4 payload) and never panics: it is the entry point for
//! the frame parser and the fuzzer.

use super::checksum;
use super::ipv4;
use super::{Ipv4Addr, WireError};
use crate::seq::SeqNum;

pub const HEADER_LEN: usize = 8;

const TYPE_ECHO_REPLY: u8 = 0;
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
const TYPE_ECHO_REQUEST: u8 = 8;
/// RFC 792: "fragmentation needed and DF set".
pub const CODE_FRAG_NEEDED: u8 = 4;
/// Bytes of the quoted datagram's payload an ICMP error must carry (RFC 792 "Internet Header +
/// 64 bits of Original Data Datagram"): for TCP, the ports and the sequence number.
pub const QUOTED_L4_LEN: usize = 8;

/// One ICMP message the engine understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpMessage<'a> {
    Echo(IcmpEcho<'a>),
    FragNeeded(FragNeeded<'a>),
}

/// Parses any ICMP message (the IPv4 payload), of any length. Errors as `IcmpEcho::parse` and
/// `FragNeeded::parse`: `Truncated`, `Checksum`, `Malformed`, `Unsupported`.
pub fn parse(buf: &[u8]) -> Result<IcmpMessage<'_>, WireError> {
    match buf.first() {
        Some(&TYPE_DEST_UNREACHABLE) => FragNeeded::parse(buf).map(IcmpMessage::FragNeeded),
        _ => IcmpEcho::parse(buf).map(IcmpMessage::Echo),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpEcho<'a> {
    Request {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    Reply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
}

impl<'a> IcmpEcho<'a> {
    /// Parses and verifies the checksum of an ICMP message (the IPv4 payload).
    /// Shorter than 8 bytes: `Truncated`; bad checksum: `Checksum`; echo with a non-zero code:
    /// `Malformed`; any other type: `Unsupported`.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if checksum::fold(checksum::sum(buf, 0)) != 0xffff {
            return Err(WireError::Checksum);
        }
        let ident = u16::from_be_bytes([buf[4], buf[5]]);
        let seq_no = u16::from_be_bytes([buf[6], buf[7]]);
        let data = &buf[HEADER_LEN..];
        let (ty, code) = (buf[0], buf[1]);
        match ty {
            TYPE_ECHO_REQUEST | TYPE_ECHO_REPLY if code != 0 => Err(WireError::Malformed),
            TYPE_ECHO_REQUEST => Ok(IcmpEcho::Request {
                ident,
                seq_no,
                data,
            }),
            TYPE_ECHO_REPLY => Ok(IcmpEcho::Reply {
                ident,
                seq_no,
                data,
            }),
            _ => Err(WireError::Unsupported),
        }
    }
    pub fn buffer_len(&self) -> usize {
        match self {
            IcmpEcho::Request { data, .. } | IcmpEcho::Reply { data, .. } => {
                HEADER_LEN + data.len()
            }
        }
    }
    /// Writes header + data + checksum into `buf[..self.buffer_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let (ty, ident, seq_no, data) = match *self {
            IcmpEcho::Request {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REQUEST, ident, seq_no, data),
            IcmpEcho::Reply {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REPLY, ident, seq_no, data),
        };
        let b = &mut buf[..HEADER_LEN + data.len()];
        b[0] = ty;
        b[1] = 0;
        b[2..4].copy_from_slice(&[0, 0]);
        b[4..6].copy_from_slice(&ident.to_be_bytes());
        b[6..8].copy_from_slice(&seq_no.to_be_bytes());
        b[HEADER_LEN..].copy_from_slice(data);
        let c = checksum::checksum(b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

/// The start of the datagram an ICMP error quotes: what RFC 5927 §4.1 needs to find the
/// connection it belongs to and to check it. Read from bytes whose lengths `FragNeeded::parse`
/// checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedDatagram {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// The quoted IPv4 Total Length: the size of the datagram that did not fit (RFC 1191 §5
    /// estimates the path MTU from it when the router gives none).
    pub total_len: u16,
    /// The first 8 bytes of the quoted payload.
    pub l4: [u8; QUOTED_L4_LEN],
}

impl QuotedDatagram {
    /// TCP source port (meaningful when `protocol` is TCP).
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.l4[0], self.l4[1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.l4[2], self.l4[3]])
    }
    /// The quoted segment's sequence number (RFC 5927 §4.1: it must be in flight).
    pub fn seq(&self) -> SeqNum {
        SeqNum(u32::from_be_bytes([
            self.l4[4], self.l4[5], self.l4[6], self.l4[7],
        ]))
    }
}

/// Destination Unreachable, code 4: a router could not forward a datagram with DF set because
/// it was larger than the next hop's MTU (RFC 792, RFC 1191 §4).
///
/// ```text
///  0      type 3 | code 4 | checksum
///  4      unused (16 bits) | Next-Hop MTU (16 bits, 0 from routers older than RFC 1191)
///  8      quoted IPv4 header (options included) + at least 8 bytes of its payload
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragNeeded<'a> {
    pub next_hop_mtu: u16,
    pub quoted: QuotedDatagram,
    /// The quoted bytes as received (the header and all the payload the router returned);
    /// `emit` writes these, so `quoted` must describe them.
    pub quoted_bytes: &'a [u8],
}

impl<'a> FragNeeded<'a> {
    /// Parses and verifies an ICMP message of any length. In this order: shorter than 8 bytes:
    /// `Truncated`; bad checksum: `Checksum`; another type or code: `Unsupported`; then the quoted
    /// datagram: header or 8 bytes of its payload cut off: `Truncated`; not IPv4, IHL < 5, a
    /// Total Length shorter than what is quoted, a fragment other than the first, or DF clear
    /// (code 4 is only sent for DF datagrams): `Malformed`.
    ///
    /// The quoted header's own checksum is not verified: routers and NATs on the way may have
    /// rewritten fields (TTL, addresses) when they quoted it.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let Some(head) = buf.get(..HEADER_LEN) else {
            return Err(WireError::Truncated);
        };
        if checksum::fold(checksum::sum(buf, 0)) != 0xffff {
            return Err(WireError::Checksum);
        }
        if head[0] != TYPE_DEST_UNREACHABLE || head[1] != CODE_FRAG_NEEDED {
            return Err(WireError::Unsupported);
        }
        let next_hop_mtu = u16::from_be_bytes([head[6], head[7]]);
        let q = &buf[HEADER_LEN..];
        let Some(ip) = q.get(..ipv4::HEADER_LEN) else {
            return Err(WireError::Truncated);
        };
        if ip[0] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let ihl = ((ip[0] & 0x0f) as usize) * 4;
        if ihl < ipv4::HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let Some(l4) = q.get(ihl..ihl + QUOTED_L4_LEN) else {
            return Err(WireError::Truncated);
        };
        let total_len = u16::from_be_bytes([ip[2], ip[3]]);
        if (total_len as usize) < ihl + QUOTED_L4_LEN {
            return Err(WireError::Malformed);
        }
        let frag = u16::from_be_bytes([ip[6], ip[7]]);
        // Offset 0 (the payload starts with the transport header) and DF set.
        if frag & 0x1fff != 0 || frag & 0x4000 == 0 {
            return Err(WireError::Malformed);
        }
        let mut head8 = [0u8; QUOTED_L4_LEN];
        head8.copy_from_slice(l4);
        Ok(FragNeeded {
            next_hop_mtu,
            quoted: QuotedDatagram {
                src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
                dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
                protocol: ip[9],
                total_len,
                l4: head8,
            },
            quoted_bytes: q,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.quoted_bytes.len()
    }

    /// Writes header + quoted bytes + checksum into `buf[..self.buffer_len()]`.
    pub fn emit(&self, buf: &mut [u8]) {
        emit_frag_needed(buf, self.next_hop_mtu, self.quoted_bytes);
    }
}

/// Writes a frag-needed message with `next_hop_mtu` quoting `quoted` (a datagram or the start
/// of one, as a router returns it) into `buf[..HEADER_LEN + quoted.len()]`, checksum included.
pub fn emit_frag_needed(buf: &mut [u8], next_hop_mtu: u16, quoted: &[u8]) {
    let b = &mut buf[..HEADER_LEN + quoted.len()];
    b[0] = TYPE_DEST_UNREACHABLE;
    b[1] = CODE_FRAG_NEEDED;
    b[2..6].copy_from_slice(&[0, 0, 0, 0]);
    b[6..8].copy_from_slice(&next_hop_mtu.to_be_bytes());
    b[HEADER_LEN..].copy_from_slice(quoted);
    let c = checksum::checksum(b);
    b[2..4].copy_from_slice(&c.to_be_bytes());
}

/// RFC 1191 §7 table 7-1: the MTU plateaus, highest first.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// RFC 1191 §5: a router that does not fill the Next-Hop MTU field (RFC 792 era) leaves the
/// sender to guess: the largest plateau below the Total Length of the datagram that did not
/// fit (68, the IPv4 minimum, when none is).
pub fn plateau_below(total_len: u16) -> u16 {
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| p < total_len)
        .unwrap_or(68)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Echo request id 0x0001 seq 0x0001 with "abcd" (as `ping -p 61626364 -s 4`).
    const REQUEST: [u8; 12] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    fn with_csum(mut p: [u8; 12]) -> [u8; 12] {
        p[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn echo_request_checksum_is_exact() {
        // 0x0800 + 0x0001 + 0x0001 + 0x6162 + 0x6364 = 0xccc8; complement = 0x3337.
        assert_eq!(with_csum(REQUEST)[2..4], [0x33, 0x37]);
    }

    #[test]
    fn parses_echo_request() {
        let p = with_csum(REQUEST);
        assert_eq!(
            IcmpEcho::parse(&p),
            Ok(IcmpEcho::Request {
                ident: 1,
                seq_no: 1,
                data: b"abcd"
            })
        );
    }

    #[test]
    fn reply_emits_answer_with_same_ident_seq_and_data() {
        let reply = IcmpEcho::Reply {
            ident: 1,
            seq_no: 1,
            data: b"abcd",
        };
        let mut buf = [0u8; 12];
        assert_eq!(reply.buffer_len(), 12);
        reply.emit(&mut buf);
        let mut want = REQUEST;
        want[0] = 0;
        assert_eq!(buf, with_csum(want));
        assert_eq!(IcmpEcho::parse(&buf), Ok(reply));
    }

    #[test]
    fn errors() {
        let p = with_csum(REQUEST);
        assert_eq!(IcmpEcho::parse(&p[..7]), Err(WireError::Truncated));
        let mut bad = p;
        bad[9] ^= 0x40;
        assert_eq!(IcmpEcho::parse(&bad), Err(WireError::Checksum));
        let mut unreach = REQUEST;
        unreach[0] = 3;
        assert_eq!(
            IcmpEcho::parse(&with_csum(unreach)),
            Err(WireError::Unsupported)
        );
        let mut code = REQUEST;
        code[1] = 1;
        assert_eq!(IcmpEcho::parse(&with_csum(code)), Err(WireError::Malformed));
    }

    /// An IPv4 header + the first 12 bytes of a TCP segment 198.18.0.1:80 -> 198.18.0.2:40000,
    /// seq 0x01020304, total length 1500, DF, as a router would quote it.
    fn quoted() -> Vec<u8> {
        let mut q = vec![
            0x45, 0x00, 0x05, 0xdc, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x00, 0x00, 198, 18, 0, 1,
            198, 18, 0, 2,
        ];
        q.extend_from_slice(&[0x00, 0x50, 0x9c, 0x40, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 9]);
        q
    }

    /// Built by hand (not with `emit_frag_needed`), so the parser is checked against the layout.
    fn frag_needed(mtu: u16, q: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN + q.len()];
        b[0] = 3;
        b[1] = 4;
        b[6..8].copy_from_slice(&mtu.to_be_bytes());
        b[HEADER_LEN..].copy_from_slice(q);
        let c = checksum::checksum(&b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
        b
    }

    #[test]
    fn parses_frag_needed_with_next_hop_mtu_rfc1191_4() {
        let q = quoted();
        let b = frag_needed(1280, &q);
        let Ok(IcmpMessage::FragNeeded(f)) = parse(&b) else {
            panic!("{:?}", parse(&b));
        };
        assert_eq!(f.next_hop_mtu, 1280);
        assert_eq!(f.quoted.src, Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(f.quoted.dst, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(f.quoted.protocol, ipv4::PROTO_TCP);
        assert_eq!(f.quoted.total_len, 1500);
        assert_eq!((f.quoted.src_port(), f.quoted.dst_port()), (80, 40000));
        assert_eq!(f.quoted.seq(), SeqNum(0x0102_0304));
        assert_eq!(f.quoted_bytes, &q[..]);
        // Emit writes the same bytes back.
        let mut again = vec![0xeeu8; f.buffer_len()];
        f.emit(&mut again);
        assert_eq!(again, b);
    }

    #[test]
    fn frag_needed_with_ip_options_in_the_quote_and_exactly_8_bytes() {
        let mut q = quoted();
        q[0] = 0x46;
        q.splice(20..20, [1, 1, 1, 0]); // NOP NOP NOP EOL
        q.truncate(24 + QUOTED_L4_LEN);
        let b = frag_needed(0, &q);
        let Ok(IcmpMessage::FragNeeded(f)) = parse(&b) else {
            panic!("{:?}", parse(&b));
        };
        assert_eq!(f.next_hop_mtu, 0);
        assert_eq!(f.quoted.seq(), SeqNum(0x0102_0304));
    }

    #[test]
    fn frag_needed_errors() {
        let q = quoted();
        let good = frag_needed(1280, &q);
        assert_eq!(parse(&good[..7]), Err(WireError::Truncated));
        let mut bad = good.clone();
        bad[30] ^= 1;
        assert_eq!(parse(&bad), Err(WireError::Checksum));
        // Other Destination Unreachable codes (port unreachable) are not ours to act on.
        let mut code = good.clone();
        code[1] = 3;
        code[2..4].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&code);
        code[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse(&code), Err(WireError::Unsupported));
        // The quote cut inside the IPv4 header, or with fewer than 8 bytes of TCP.
        assert_eq!(
            parse(&frag_needed(1280, &q[..19])),
            Err(WireError::Truncated)
        );
        assert_eq!(
            parse(&frag_needed(1280, &q[..27])),
            Err(WireError::Truncated)
        );
        assert!(parse(&frag_needed(1280, &q[..28])).is_ok());
        let cases: [(usize, u8); 5] = [
            (0, 0x65), // IPv6 version nibble
            (0, 0x44), // IHL 4
            (2, 0x00), // total length 27 (set below): shorter than what is quoted
            (6, 0x00), // DF clear
            (7, 0x01), // offset 1 with DF
        ];
        for (at, v) in cases {
            let mut m = q.clone();
            m[at] = v;
            if at == 2 {
                m[3] = 27;
            }
            if at == 7 {
                m[6] = 0x40;
            }
            assert_eq!(
                parse(&frag_needed(1280, &m)),
                Err(WireError::Malformed),
                "quoted byte {at} = {v:#x}"
            );
        }
    }

    #[test]
    fn plateaus_rfc1191_7() {
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(1492), 1006);
        assert_eq!(plateau_below(1006), 508);
        assert_eq!(plateau_below(9000), 8166);
        assert_eq!(plateau_below(65535), 32000);
        assert_eq!(plateau_below(69), 68);
        assert_eq!(plateau_below(68), 68);
        assert_eq!(plateau_below(0), 68);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = IcmpEcho::parse(&data);
            let _ = FragNeeded::parse(&data);
            let _ = parse(&data);
        }

        /// Any corruption or cut of a valid frag-needed message parses or fails, never panics;
        /// what parses survives an emit/parse round trip.
        #[test]
        fn corrupted_frag_needed_never_panics(edits in proptest::collection::vec((0usize..40, any::<u8>()), 0..4), cut in 0usize..41, fix_csum in any::<bool>()) {
            let mut b = frag_needed(1280, &quoted());
            for (at, v) in edits {
                if at < b.len() {
                    b[at] = v;
                }
            }
            b.truncate(cut);
            if fix_csum && b.len() >= HEADER_LEN {
                b[2..4].copy_from_slice(&[0, 0]);
                let c = checksum::checksum(&b);
                b[2..4].copy_from_slice(&c.to_be_bytes());
            }
            if let Ok(IcmpMessage::FragNeeded(f)) = parse(&b) {
                let mut again = vec![0u8; f.buffer_len()];
                f.emit(&mut again);
                prop_assert_eq!(FragNeeded::parse(&again), Ok(f));
            }
        }

        #[test]
        fn emit_parse_round_trip(req in any::<bool>(), ident in any::<u16>(), seq_no in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let m = if req {
                IcmpEcho::Request { ident, seq_no, data: &data }
            } else {
                IcmpEcho::Reply { ident, seq_no, data: &data }
            };
            let mut buf = vec![0u8; m.buffer_len()];
            m.emit(&mut buf);
            prop_assert_eq!(IcmpEcho::parse(&buf), Ok(m));
        }
    }
}
