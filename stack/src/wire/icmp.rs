//! ICMPv4 echo (RFC 792). Other types are `Unsupported`.

use super::checksum;
use super::WireError;

pub const HEADER_LEN: usize = 8;

const TYPE_ECHO_REPLY: u8 = 0;
const TYPE_ECHO_REQUEST: u8 = 8;

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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = IcmpEcho::parse(&data);
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
