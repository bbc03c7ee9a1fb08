//! TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).

use super::checksum;
use super::{Ipv4Addr, RxCsum, TxCsum, WireError};
use crate::seq::SeqNum;

pub const HEADER_LEN: usize = 20;
pub const MAX_HEADER_LEN: usize = 60;
pub const MAX_SACK_BLOCKS: usize = 4;
/// Options never exceed 40 bytes (data offset is at most 15 words).
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

const PROTO_TCP: u8 = 6;

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WS: u8 = 3;
const OPT_SACK_PERM: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TS: u8 = 8;
const LEN_TS: u8 = 10;

#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    #[inline]
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    #[inline]
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    #[inline]
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    #[inline]
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    #[inline]
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    #[inline]
    pub fn urg(self) -> bool {
        self.0 & Self::URG != 0
    }
}

impl core::fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = [
            (Self::SYN, "SYN"),
            (Self::FIN, "FIN"),
            (Self::RST, "RST"),
            (Self::PSH, "PSH"),
            (Self::ACK, "ACK"),
            (Self::URG, "URG"),
            (Self::ECE, "ECE"),
            (Self::CWR, "CWR"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// SACK blocks carried by one segment: `[left, right)` edges, at most four.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct SackBlocks {
    pub len: u8,
    pub blocks: [(SeqNum, SeqNum); MAX_SACK_BLOCKS],
}

impl SackBlocks {
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..self.len as usize]
    }
    /// Appends a block; returns false when already full.
    pub fn push(&mut self, left: SeqNum, right: SeqNum) -> bool {
        if (self.len as usize) < MAX_SACK_BLOCKS {
            self.blocks[self.len as usize] = (left, right);
            self.len += 1;
            true
        } else {
            false
        }
    }
}

/// The options tcpterm understands; unknown options are skipped on parse.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    /// Shift count as sent; values above 14 are clamped to 14 on use (RFC 7323 §2.3).
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub sack: SackBlocks,
    /// (TSval, TSecr)
    pub timestamp: Option<(u32, u32)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    /// Meaningful only when `flags.ack()`.
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

/// Checked view: data offset >= 5 and the header fits in the buffer.
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// `Truncated` when shorter than 20 bytes or than the data offset says; `Malformed` when the
    /// data offset is below 5.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hl = ((b[12] >> 4) as usize) * 4;
        if hl < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if hl > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(TcpPacket { buffer })
    }
    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    #[inline]
    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }
    #[inline]
    fn be32(&self, at: usize) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }
    #[inline]
    pub fn header_len(&self) -> usize {
        ((self.b()[12] >> 4) as usize) * 4
    }
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.be16(0)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.be16(2)
    }
    #[inline]
    pub fn seq_number(&self) -> SeqNum {
        SeqNum(self.be32(4))
    }
    #[inline]
    pub fn ack_number(&self) -> SeqNum {
        SeqNum(self.be32(8))
    }
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.b()[13])
    }
    #[inline]
    pub fn window(&self) -> u16 {
        self.be16(14)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(16)
    }
    #[inline]
    pub fn urgent(&self) -> u16 {
        self.be16(18)
    }
    /// The option bytes (between the fixed header and the data offset).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
}

#[inline]
fn be32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl TcpOptions {
    /// Parses an option list (RFC 9293 §3.2). Options of a known kind with an unexpected
    /// length are ignored, as Linux does; a later occurrence overrides an earlier one.
    pub fn parse(opts: &[u8]) -> Result<Self, WireError> {
        let mut o = TcpOptions::default();
        // The overwhelmingly common case on established connections: NOP NOP TS.
        if opts.len() == 12 && opts[..4] == [OPT_NOP, OPT_NOP, OPT_TS, LEN_TS] {
            o.timestamp = Some((be32_at(opts, 4), be32_at(opts, 8)));
            return Ok(o);
        }
        // A Linux (and tcpterm) SYN: MSS, SACK-permitted + TS, NOP WS.
        if let Ok(b) = <&[u8; 20]>::try_from(opts) {
            if b[..2] == [OPT_MSS, 4]
                && b[4..8] == [OPT_SACK_PERM, 2, OPT_TS, LEN_TS]
                && b[16..19] == [OPT_NOP, OPT_WS, 3]
            {
                o.mss = Some(u16::from_be_bytes([b[2], b[3]]));
                o.sack_permitted = true;
                o.timestamp = Some((be32_at(b, 8), be32_at(b, 12)));
                o.window_scale = Some(b[19]);
                return Ok(o);
            }
        }
        Self::parse_general(opts)
    }

    /// The option walk for any layout.
    fn parse_general(opts: &[u8]) -> Result<Self, WireError> {
        let mut o = TcpOptions::default();
        let mut i = 0;
        while i < opts.len() {
            let kind = opts[i];
            match kind {
                OPT_EOL => break,
                OPT_NOP => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = opts.get(i + 1) else {
                return Err(WireError::Malformed);
            };
            let len = len as usize;
            if len < 2 || i + len > opts.len() {
                return Err(WireError::Malformed);
            }
            let body = &opts[i + 2..i + len];
            match (kind, body.len()) {
                (OPT_MSS, 2) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (OPT_WS, 1) => o.window_scale = Some(body[0]),
                (OPT_SACK_PERM, 0) => o.sack_permitted = true,
                (OPT_SACK, n) if n >= 8 && n % 8 == 0 => {
                    // At most 4 blocks fit in 40 bytes of options, so none are dropped here.
                    let mut sack = SackBlocks::default();
                    for blk in body.chunks_exact(8) {
                        sack.push(SeqNum(be32_at(blk, 0)), SeqNum(be32_at(blk, 4)));
                    }
                    o.sack = sack;
                }
                (OPT_TS, 8) => o.timestamp = Some((be32_at(body, 0), be32_at(body, 4))),
                _ => {}
            }
            i += len;
        }
        Ok(o)
    }

    /// Bytes these options take on the wire, padding included.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.layout().1
    }

    /// SACK blocks that fit beside the other options, and the total option length.
    #[inline]
    fn layout(&self) -> (usize, usize) {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        let mut blocks = (self.sack.len as usize).min(MAX_SACK_BLOCKS);
        if blocks > 0 {
            blocks = blocks.min((MAX_OPTIONS_LEN - len - 4) / 8);
            if blocks > 0 {
                len += 4 + 8 * blocks;
            }
        }
        (blocks, len)
    }

    /// Writes the options in Linux's order and layout (every option 4-byte aligned with NOPs),
    /// returning the bytes written (a multiple of 4, at most 40).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let (blocks, len) = self.layout();
        let b = &mut buf[..len];
        let mut i = 0;
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            b[i..i + 4].copy_from_slice(&[OPT_MSS, 4, m[0], m[1]]);
            i += 4;
        }
        if let Some((tsval, tsecr)) = self.timestamp {
            let lead = if self.sack_permitted {
                [OPT_SACK_PERM, 2]
            } else {
                [OPT_NOP, OPT_NOP]
            };
            b[i..i + 2].copy_from_slice(&lead);
            b[i + 2..i + 4].copy_from_slice(&[OPT_TS, LEN_TS]);
            b[i + 4..i + 8].copy_from_slice(&tsval.to_be_bytes());
            b[i + 8..i + 12].copy_from_slice(&tsecr.to_be_bytes());
            i += 12;
        } else if self.sack_permitted {
            b[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK_PERM, 2]);
            i += 4;
        }
        if let Some(ws) = self.window_scale {
            b[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_WS, 3, ws]);
            i += 4;
        }
        if blocks > 0 {
            b[i..i + 4].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_SACK, (2 + 8 * blocks) as u8]);
            i += 4;
            for &(l, r) in &self.sack.blocks[..blocks] {
                b[i..i + 4].copy_from_slice(&l.0.to_be_bytes());
                b[i + 4..i + 8].copy_from_slice(&r.0.to_be_bytes());
                i += 8;
            }
        }
        debug_assert_eq!(i, len);
        len
    }
}

impl TcpRepr {
    /// Parses the header and options of `packet` (the whole IPv4 payload). Verifies the checksum
    /// over the pseudo-header unless `csum` is `Good`; `Bad` fails with `Checksum`. Option
    /// lengths that are zero, one, or run past the header are `Malformed`; a SYN+RST or
    /// SYN+FIN combination is left for the engine to judge.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(
        packet: &TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: RxCsum,
    ) -> Result<Self, WireError> {
        match csum {
            RxCsum::Good => {}
            RxCsum::Bad => return Err(WireError::Checksum),
            RxCsum::Unknown => {
                let seg = packet.b();
                // An IPv4 payload never exceeds 65535 bytes; a longer buffer is no segment.
                let Ok(len) = u16::try_from(seg.len()) else {
                    return Err(WireError::Malformed);
                };
                let s = checksum::sum(seg, checksum::pseudo_header(src, dst, PROTO_TCP, len));
                if checksum::fold(s) != 0xffff {
                    return Err(WireError::Checksum);
                }
            }
        }
        let options = if packet.header_len() == HEADER_LEN {
            TcpOptions::default()
        } else {
            TcpOptions::parse(packet.options())?
        };
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent(),
            options,
        })
    }

    /// Header length including options, padded to a multiple of 4.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.layout().1
    }

    /// Writes the header into `segment[..self.header_len()]` and fills the checksum over the
    /// whole `segment` (header + payload, which the caller has already placed after the header).
    /// With `TxCsum::Offload` the checksum field holds the folded, non-complemented
    /// pseudo-header sum, as DPDK's `rte_ipv4_phdr_cksum` gives it to the NIC.
    #[inline]
    pub fn emit(&self, segment: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, csum: TxCsum) {
        let opt_len = self.options.emit(&mut segment[HEADER_LEN..]);
        let hl = HEADER_LEN + opt_len;
        let h = &mut segment[..HEADER_LEN];
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        h[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        h[12] = ((hl / 4) as u8) << 4;
        h[13] = self.flags.0;
        h[14..16].copy_from_slice(&self.window.to_be_bytes());
        h[16..18].copy_from_slice(&[0, 0]);
        h[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        debug_assert!(segment.len() <= u16::MAX as usize);
        let phdr = checksum::pseudo_header(src, dst, PROTO_TCP, segment.len() as u16);
        let c = match csum {
            TxCsum::Compute => !checksum::fold(checksum::sum(segment, phdr)),
            TxCsum::Offload => checksum::fold(phdr),
        };
        segment[16..18].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    /// A Linux SYN 198.18.0.2:40000 → 198.18.0.1:80: MSS 1460, SACK-permitted + TS, NOP WS 7.
    /// Checksum computed independently (Python, RFC 1071 over pseudo-header + segment).
    const LINUX_SYN: [u8; 40] = [
        0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0xd9, 0x68, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01,
        0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// 198.18.0.1:80 → 198.18.0.2:40000 PSH|ACK, NOP NOP TS, NOP NOP SACK one block, "hello".
    const ACK_SACK_DATA: [u8; 49] = [
        0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0xb0, 0x18, 0x01,
        0xf6, 0xba, 0x8a, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x00, 0x14, 0x01, 0x01, 0x05, 0x0a, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x07, 0xd0, 0x68,
        0x65, 0x6c, 0x6c, 0x6f,
    ];

    fn syn_repr() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(0x1234_5678),
            ack: SeqNum(0),
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                sack: SackBlocks::default(),
                timestamp: Some((123456, 0)),
            },
        }
    }

    fn parse(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<TcpRepr, WireError> {
        TcpRepr::parse(&TcpPacket::new_checked(b)?, src, dst, RxCsum::Unknown)
    }

    /// Replaces the option bytes of a 20-byte header + `opts` and fixes offset and checksum.
    fn with_options(opts: &[u8]) -> Vec<u8> {
        let mut seg = LINUX_SYN[..20].to_vec();
        seg.extend_from_slice(opts);
        seg[12] = (((20 + opts.len()) / 4) as u8) << 4;
        seg[16..18].copy_from_slice(&[0, 0]);
        let ph = checksum::pseudo_header(CLIENT, SERVER, 6, seg.len() as u16);
        let c = !checksum::fold(checksum::sum(&seg, ph));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        seg
    }

    #[test]
    fn linux_syn_parses() {
        assert_eq!(parse(&LINUX_SYN, CLIENT, SERVER), Ok(syn_repr()));
    }

    #[test]
    fn linux_syn_emits_exact_bytes() {
        let r = syn_repr();
        assert_eq!(r.header_len(), 40);
        let mut buf = [0u8; 40];
        r.emit(&mut buf, CLIENT, SERVER, TxCsum::Compute);
        assert_eq!(buf, LINUX_SYN);
    }

    #[test]
    fn offload_writes_folded_pseudo_header_sum() {
        let mut buf = [0u8; 40];
        syn_repr().emit(&mut buf, CLIENT, SERVER, TxCsum::Offload);
        // c612+0002+c612+0001+0006+0028 = 0x18c56 → fold 0x8c56 (computed independently).
        assert_eq!(&buf[16..18], &[0x8c, 0x56]);
        assert_eq!(buf[..16], LINUX_SYN[..16]);
        assert_eq!(buf[18..], LINUX_SYN[18..]);
    }

    #[test]
    fn ack_with_timestamps_sack_and_data_round_trips() {
        let p = TcpPacket::new_checked(&ACK_SACK_DATA[..]).unwrap();
        assert_eq!(p.payload(), b"hello");
        let r = TcpRepr::parse(&p, SERVER, CLIENT, RxCsum::Unknown).unwrap();
        let mut sack = SackBlocks::default();
        sack.push(SeqNum(1000), SeqNum(2000));
        assert_eq!(
            r,
            TcpRepr {
                src_port: 80,
                dst_port: 40000,
                seq: SeqNum(1000),
                ack: SeqNum(2000),
                flags: TcpFlags(TcpFlags::PSH | TcpFlags::ACK),
                window: 502,
                urgent: 0,
                options: TcpOptions {
                    timestamp: Some((10, 20)),
                    sack,
                    ..TcpOptions::default()
                },
            }
        );
        let mut buf = [0u8; 49];
        buf[44..].copy_from_slice(b"hello");
        r.emit(&mut buf, SERVER, CLIENT, TxCsum::Compute);
        assert_eq!(buf, ACK_SACK_DATA);
    }

    #[test]
    fn checksum_is_verified_over_pseudo_header() {
        // Right bytes, wrong addresses: the pseudo-header makes it fail.
        assert_eq!(
            parse(&LINUX_SYN, CLIENT, Ipv4Addr::new(198, 18, 0, 3)),
            Err(WireError::Checksum)
        );
        let mut bad = LINUX_SYN;
        bad[39] ^= 1;
        assert_eq!(parse(&bad, CLIENT, SERVER), Err(WireError::Checksum));
        let p = TcpPacket::new_checked(&bad[..]).unwrap();
        assert!(TcpRepr::parse(&p, CLIENT, SERVER, RxCsum::Good).is_ok());
        let p = TcpPacket::new_checked(&LINUX_SYN[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(&p, CLIENT, SERVER, RxCsum::Bad),
            Err(WireError::Checksum)
        );
    }

    #[test]
    fn header_length_errors() {
        assert_eq!(
            TcpPacket::new_checked(&LINUX_SYN[..19]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            TcpPacket::new_checked(&LINUX_SYN[..39]).err(),
            Some(WireError::Truncated)
        );
        let mut s = LINUX_SYN;
        s[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&s[..]).err(),
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn option_length_zero_one_or_past_header_is_malformed() {
        for opts in [
            &[2u8, 0, 0, 0][..],               // length 0
            &[8, 1, 1, 1][..],                 // length 1
            &[1, 1, 2, 8][..],                 // MSS claims 8 bytes, 2 remain
            &[1, 1, 1, 2][..],                 // kind with no length byte
            &[2, 4, 5, 0xb4, 99, 9, 0, 0][..], // unknown kind running past
        ] {
            assert_eq!(
                parse(&with_options(opts), CLIENT, SERVER),
                Err(WireError::Malformed),
                "{opts:02x?}"
            );
        }
    }

    #[test]
    fn unknown_options_skipped_and_eol_ends_list() {
        // Unknown kind 30 (MPTCP) length 4, MSS, EOL, then garbage after EOL.
        let seg = with_options(&[30, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4, 0, 0xff, 0xff, 0xff]);
        let r = parse(&seg, CLIENT, SERVER).unwrap();
        assert_eq!(
            r.options,
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            }
        );
    }

    #[test]
    fn known_options_with_wrong_length_are_ignored() {
        // MSS with length 3 and a SACK with 4 data bytes: skipped like Linux does.
        let seg = with_options(&[2, 3, 5, 5, 6, 1, 2, 3, 4, 1, 1, 1]);
        assert_eq!(
            parse(&seg, CLIENT, SERVER).unwrap().options,
            TcpOptions::default()
        );
    }

    #[test]
    fn four_sack_blocks_parse() {
        let mut opts = vec![1, 1, 5, 34];
        for v in 1u32..=8 {
            opts.extend_from_slice(&(v * 100).to_be_bytes());
        }
        let r = parse(&with_options(&opts), CLIENT, SERVER).unwrap();
        let want: Vec<_> = (0..4)
            .map(|i| (SeqNum(200 * i + 100), SeqNum(200 * i + 200)))
            .collect();
        assert_eq!(r.options.sack.as_slice(), &want[..]);
    }

    fn sack4() -> SackBlocks {
        let mut s = SackBlocks::default();
        for i in 0..4 {
            s.push(SeqNum(i * 10), SeqNum(i * 10 + 5));
        }
        s
    }

    #[test]
    fn sack_blocks_limited_to_what_fits() {
        let mut r = syn_repr();
        r.options = TcpOptions {
            sack: sack4(),
            ..TcpOptions::default()
        };
        assert_eq!(r.header_len(), 20 + 4 + 32);
        r.options.timestamp = Some((1, 2));
        // 12 (TS) + 4 + 3 * 8 = 40: only three blocks with timestamps.
        assert_eq!(r.header_len(), 60);
        let mut buf = [0u8; 60];
        r.emit(&mut buf, CLIENT, SERVER, TxCsum::Compute);
        let parsed = parse(&buf, CLIENT, SERVER).unwrap();
        assert_eq!(parsed.options.sack.as_slice(), &sack4().as_slice()[..3]);
        assert_eq!(&buf[32..36], &[1, 1, 5, 26]);
    }

    #[test]
    fn linux_option_layouts() {
        let mut o = TcpOptions {
            sack_permitted: true,
            ..TcpOptions::default()
        };
        let mut b = [0u8; 40];
        assert_eq!(o.emit(&mut b), 4);
        assert_eq!(&b[..4], &[1, 1, 4, 2]);
        o.sack_permitted = false;
        o.timestamp = Some((0x01020304, 0x05060708));
        assert_eq!(o.emit(&mut b), 12);
        assert_eq!(&b[..12], &[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
        o.timestamp = None;
        o.window_scale = Some(14);
        assert_eq!(o.emit(&mut b), 4);
        assert_eq!(&b[..4], &[1, 3, 3, 14]);
    }

    fn arb_options() -> impl Strategy<Value = TcpOptions> {
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=4),
            proptest::option::of((any::<u32>(), any::<u32>())),
        )
            .prop_map(|(mss, window_scale, sack_permitted, blocks, timestamp)| {
                let mut sack = SackBlocks::default();
                for (l, r) in blocks {
                    sack.push(SeqNum(l), SeqNum(r));
                }
                TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    sack,
                    timestamp,
                }
            })
    }

    fn arb_repr() -> impl Strategy<Value = TcpRepr> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
            arb_options(),
        )
            .prop_map(
                |(sp, dp, seq, ack, flags, window, urgent, options)| TcpRepr {
                    src_port: sp,
                    dst_port: dp,
                    seq: SeqNum(seq),
                    ack: SeqNum(ack),
                    flags: TcpFlags(flags),
                    window,
                    urgent,
                    options,
                },
            )
    }

    proptest! {
        /// The fixed-layout shortcuts (established NOP NOP TS, the Linux SYN) answer exactly
        /// as the general option walk does, whatever the bytes.
        #[test]
        fn option_shortcuts_agree_with_general_walk(edits in proptest::collection::vec((0usize..20, any::<u8>()), 0..3), ts_only in any::<bool>()) {
            let mut o = if ts_only {
                vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
            } else {
                LINUX_SYN[20..].to_vec()
            };
            for (at, v) in edits {
                if at < o.len() {
                    o[at] = v;
                }
            }
            prop_assert_eq!(TcpOptions::parse(&o), TcpOptions::parse_general(&o));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100), c in 0u8..3) {
            let csum = [RxCsum::Unknown, RxCsum::Good, RxCsum::Bad][c as usize];
            if let Ok(p) = TcpPacket::new_checked(&data[..]) {
                let _ = p.payload();
                let _ = TcpRepr::parse(&p, CLIENT, SERVER, csum);
            }
        }

        #[test]
        fn arbitrary_option_bytes_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..=40)) {
            let _ = TcpOptions::parse(&opts);
        }

        #[test]
        fn emit_parse_round_trip(r in arb_repr(), payload in proptest::collection::vec(any::<u8>(), 0..50)) {
            let hl = r.header_len();
            prop_assert!(hl <= MAX_HEADER_LEN && hl % 4 == 0);
            let mut seg = vec![0u8; hl + payload.len()];
            seg[hl..].copy_from_slice(&payload);
            r.emit(&mut seg, CLIENT, SERVER, TxCsum::Compute);
            let p = TcpPacket::new_checked(&seg[..]).unwrap();
            prop_assert_eq!(p.header_len(), hl);
            prop_assert_eq!(p.payload(), &payload[..]);
            let back = TcpRepr::parse(&p, CLIENT, SERVER, RxCsum::Unknown).unwrap();
            // Only SACK blocks that fit are sent; everything else survives unchanged.
            let mut want = r;
            let fit = back.options.sack.len;
            prop_assert!(fit <= r.options.sack.len);
            want.options.sack.len = fit;
            for i in fit as usize..MAX_SACK_BLOCKS {
                want.options.sack.blocks[i] = Default::default();
            }
            prop_assert_eq!(back, want);
            if r.options.timestamp.is_some() && r.options.mss.is_none() && r.options.window_scale.is_none() {
                prop_assert_eq!(fit as usize, (r.options.sack.len as usize).min(3));
            }
        }

        #[test]
        fn offload_then_full_sum_equals_compute(r in arb_repr(), payload in proptest::collection::vec(any::<u8>(), 0..50)) {
            // What the NIC does with the pseudo-header sum: sum the segment over it, complement.
            let hl = r.header_len();
            let mut a = vec![0u8; hl + payload.len()];
            a[hl..].copy_from_slice(&payload);
            let mut b = a.clone();
            r.emit(&mut a, CLIENT, SERVER, TxCsum::Compute);
            r.emit(&mut b, CLIENT, SERVER, TxCsum::Offload);
            let nic = !checksum::fold(checksum::sum(&b, 0));
            prop_assert_eq!(&a[16..18], &nic.to_be_bytes()[..]);
        }
    }
}
