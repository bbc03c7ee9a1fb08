//! Whole frames: one-pass parse of a received Ethernet frame down to what the engine acts on,
//! and one-pass build of outgoing TCP/ARP/ICMP frames.

use super::arp::{ArpPacket, ArpRepr};
use super::ethernet::{self, EthernetFrame, EthernetRepr};
use super::icmp::{self, IcmpEcho, IcmpMessage, QuotedDatagram};
use super::ipv4::{self, Ipv4Packet, Ipv4Repr};
use super::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use super::{ChecksumCaps, Ipv4Addr, MacAddr, RxCsum, RxMeta, TxCsum, WireError};
use crate::counters::Drops;
use crate::seq::SeqNum;

/// Bytes of Ethernet + IPv4 headers in front of every TCP segment we build.
pub const TCP_FRAME_OVERHEAD: usize = super::ethernet::HEADER_LEN + super::ipv4::HEADER_LEN;

/// A received frame the engine must act on. Borrowed from the frame buffer (zero-copy).
#[derive(Debug)]
pub enum Parsed<'a> {
    Arp {
        eth_src: MacAddr,
        arp: ArpRepr,
    },
    EchoRequest {
        eth_src: MacAddr,
        ip_src: Ipv4Addr,
        ip_dst: Ipv4Addr,
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    Tcp {
        eth_src: MacAddr,
        ip_src: Ipv4Addr,
        ip_dst: Ipv4Addr,
        tcp: TcpRepr,
        payload: &'a [u8],
    },
    /// ICMP "fragmentation needed and DF set" (RFC 1191 §4) quoting a TCP segment from our
    /// address; whether it belongs to a connection is the engine's to check (RFC 5927).
    FragNeeded {
        /// The router that sent it.
        ip_src: Ipv4Addr,
        /// 0 from a router older than RFC 1191.
        next_hop_mtu: u16,
        quoted: QuotedDatagram,
    },
}

/// Why `parse_frame` refused a frame; `count` bumps the matching drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameDrop {
    EthTruncated,
    EthNotForUs,
    EthUnsupported,
    ArpMalformed,
    IpTruncated,
    IpMalformed,
    IpChecksum,
    IpFragment,
    IpNotForUs,
    IpUnsupportedProto,
    IcmpMalformed,
    IcmpUnsupported,
    /// An ICMP error quoting a datagram we cannot have sent: not TCP, or not from our address.
    IcmpQuoteNotOurs,
    TcpTruncated,
    TcpMalformed,
    TcpChecksum,
}

impl FrameDrop {
    pub fn count(self, drops: &mut Drops) {
        let c = match self {
            FrameDrop::EthTruncated => &mut drops.eth_truncated,
            FrameDrop::EthNotForUs => &mut drops.eth_not_for_us,
            FrameDrop::EthUnsupported => &mut drops.eth_unsupported,
            FrameDrop::ArpMalformed => &mut drops.arp_malformed,
            FrameDrop::IpTruncated => &mut drops.ip_truncated,
            FrameDrop::IpMalformed => &mut drops.ip_malformed,
            FrameDrop::IpChecksum => &mut drops.ip_checksum,
            FrameDrop::IpFragment => &mut drops.ip_fragment,
            FrameDrop::IpNotForUs => &mut drops.ip_not_for_us,
            FrameDrop::IpUnsupportedProto => &mut drops.ip_unsupported_proto,
            FrameDrop::IcmpMalformed => &mut drops.icmp_malformed,
            FrameDrop::IcmpUnsupported => &mut drops.icmp_unsupported,
            FrameDrop::IcmpQuoteNotOurs => &mut drops.icmp_quote_not_ours,
            FrameDrop::TcpTruncated => &mut drops.tcp_truncated,
            FrameDrop::TcpMalformed => &mut drops.tcp_malformed,
            FrameDrop::TcpChecksum => &mut drops.tcp_checksum,
        };
        *c += 1;
    }
}

/// What the NIC said, if it was asked to check at all.
#[inline]
fn rx_status(cap: bool, status: RxCsum) -> RxCsum {
    if cap {
        status
    } else {
        RxCsum::Unknown
    }
}

#[inline]
fn tx_mode(cap: bool) -> TxCsum {
    if cap {
        TxCsum::Offload
    } else {
        TxCsum::Compute
    }
}

/// Parses `frame` addressed to `our_mac` (or broadcast, for ARP) and `our_ip`. Verifies
/// checksums the NIC did not (per `caps` and `meta`).
///
/// ARP packets are returned whatever their target IP (the engine counts `arp_not_for_us`).
/// IPv4 checks run in the order checksum, fragment, destination, so a corrupted destination
/// address is counted as a checksum error. A short or badly summed ICMP message, or a
/// frag-needed whose quoted datagram is cut short or not a sane IPv4 header, is
/// `IcmpMalformed`; a frag-needed quoting anything but TCP from `our_ip` is `IcmpQuoteNotOurs`;
/// echo replies and other ICMP types and codes are `IcmpUnsupported`.
#[inline]
pub fn parse_frame<'a>(
    frame: &'a [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    caps: ChecksumCaps,
    meta: RxMeta,
) -> Result<Parsed<'a>, FrameDrop> {
    if let Some(r) = parse_tcp_fast(frame, our_mac, our_ip, caps, meta) {
        return r;
    }
    parse_frame_slow(frame, our_mac, our_ip, caps, meta)
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The shape of nearly every frame on the fast path: Ethernet II, IPv4 without options, TCP.
/// Reads the fixed headers from one array (bounds checked once) and gives the same answers as
/// the general path, in the same order; anything else (`None`) goes the general way.
#[inline]
fn parse_tcp_fast<'a>(
    frame: &'a [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    caps: ChecksumCaps,
    meta: RxMeta,
) -> Option<Result<Parsed<'a>, FrameDrop>> {
    const L3: usize = ethernet::HEADER_LEN;
    const L4: usize = L3 + ipv4::HEADER_LEN;
    let h: &[u8; L4 + 20] = frame.get(..L4 + 20)?.try_into().ok()?;
    if u16::from_be_bytes([h[12], h[13]]) != ethernet::ETHERTYPE_IPV4
        || h[L3] != 0x45
        || h[L3 + 9] != ipv4::PROTO_TCP
    {
        return None;
    }
    let ip_total = u16::from_be_bytes([h[L3 + 2], h[L3 + 3]]) as usize;
    let tcp_hl = ((h[L4 + 12] >> 4) as usize) * 4;
    // Truncated/malformed shapes get their exact drop reason from the general path.
    if ip_total > frame.len() - L3 || ip_total < ipv4::HEADER_LEN + tcp_hl || tcp_hl < 20 {
        return None;
    }
    if h[..6] != our_mac.0 {
        return Some(Err(FrameDrop::EthNotForUs));
    }
    let eth_src = MacAddr([h[6], h[7], h[8], h[9], h[10], h[11]]);
    let ip_ok = match rx_status(caps.rx_ipv4, meta.ipv4) {
        RxCsum::Good => true,
        RxCsum::Bad => false,
        RxCsum::Unknown => super::checksum::fold(super::checksum::sum(&h[L3..L4], 0)) == 0xffff,
    };
    if !ip_ok {
        return Some(Err(FrameDrop::IpChecksum));
    }
    if u16::from_be_bytes([h[L3 + 6], h[L3 + 7]]) & 0x3fff != 0 {
        return Some(Err(FrameDrop::IpFragment));
    }
    let ip_src = Ipv4Addr::new(h[L3 + 12], h[L3 + 13], h[L3 + 14], h[L3 + 15]);
    let ip_dst = Ipv4Addr::new(h[L3 + 16], h[L3 + 17], h[L3 + 18], h[L3 + 19]);
    if ip_dst != our_ip {
        return Some(Err(FrameDrop::IpNotForUs));
    }
    let seg = &frame[L4..L3 + ip_total];
    match rx_status(caps.rx_tcp, meta.l4) {
        RxCsum::Good => {}
        RxCsum::Bad => return Some(Err(FrameDrop::TcpChecksum)),
        RxCsum::Unknown => {
            let phdr =
                super::checksum::pseudo_header(ip_src, ip_dst, ipv4::PROTO_TCP, seg.len() as u16);
            if super::checksum::fold(super::checksum::sum(seg, phdr)) != 0xffff {
                return Some(Err(FrameDrop::TcpChecksum));
            }
        }
    }
    let options = if tcp_hl == 20 {
        TcpOptions::default()
    } else {
        match TcpOptions::parse(&seg[20..tcp_hl]) {
            Ok(o) => o,
            Err(_) => return Some(Err(FrameDrop::TcpMalformed)),
        }
    };
    let t = &h[L4..];
    let tcp = TcpRepr {
        src_port: be16(t, 0),
        dst_port: be16(t, 2),
        seq: SeqNum(be32(t, 4)),
        ack: SeqNum(be32(t, 8)),
        flags: TcpFlags(t[13]),
        window: be16(t, 14),
        urgent: be16(t, 18),
        options,
    };
    Some(Ok(Parsed::Tcp {
        eth_src,
        ip_src,
        ip_dst,
        tcp,
        payload: &seg[tcp_hl..],
    }))
}

fn parse_frame_slow<'a>(
    frame: &'a [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    caps: ChecksumCaps,
    meta: RxMeta,
) -> Result<Parsed<'a>, FrameDrop> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| FrameDrop::EthTruncated)?;
    let eth_dst = eth.dst();
    let eth_src = eth.src();
    match eth.ethertype() {
        ethernet::ETHERTYPE_IPV4 => {
            if eth_dst != our_mac {
                return Err(FrameDrop::EthNotForUs);
            }
        }
        ethernet::ETHERTYPE_ARP => {
            if eth_dst != our_mac && !eth_dst.is_broadcast() {
                return Err(FrameDrop::EthNotForUs);
            }
            let arp = ArpPacket::new_checked(eth.payload())
                .and_then(|p| ArpRepr::parse(&p))
                .map_err(|_| FrameDrop::ArpMalformed)?;
            return Ok(Parsed::Arp { eth_src, arp });
        }
        _ => {
            return Err(if eth_dst == our_mac || eth_dst.is_broadcast() {
                FrameDrop::EthUnsupported
            } else {
                FrameDrop::EthNotForUs
            })
        }
    }

    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|e| match e {
        WireError::Truncated => FrameDrop::IpTruncated,
        _ => FrameDrop::IpMalformed,
    })?;
    let ip_repr =
        Ipv4Repr::parse(&ip, rx_status(caps.rx_ipv4, meta.ipv4)).map_err(|e| match e {
            WireError::Fragment => FrameDrop::IpFragment,
            WireError::Checksum => FrameDrop::IpChecksum,
            _ => FrameDrop::IpMalformed,
        })?;
    if ip_repr.dst != our_ip {
        return Err(FrameDrop::IpNotForUs);
    }
    // Sliced from `frame` rather than through the views, so the result borrows the frame.
    let l4 = &frame[ethernet::HEADER_LEN + ip.header_len()..ethernet::HEADER_LEN + ip.total_len()];
    match ip_repr.protocol {
        ipv4::PROTO_TCP => {
            let tcp = TcpPacket::new_checked(l4).map_err(|e| match e {
                WireError::Truncated => FrameDrop::TcpTruncated,
                _ => FrameDrop::TcpMalformed,
            })?;
            let repr = TcpRepr::parse(
                &tcp,
                ip_repr.src,
                ip_repr.dst,
                rx_status(caps.rx_tcp, meta.l4),
            )
            .map_err(|e| match e {
                WireError::Checksum => FrameDrop::TcpChecksum,
                WireError::Truncated => FrameDrop::TcpTruncated,
                _ => FrameDrop::TcpMalformed,
            })?;
            let payload = &l4[tcp.header_len()..];
            Ok(Parsed::Tcp {
                eth_src,
                ip_src: ip_repr.src,
                ip_dst: ip_repr.dst,
                tcp: repr,
                payload,
            })
        }
        ipv4::PROTO_ICMP => match icmp::parse(l4) {
            Ok(IcmpMessage::FragNeeded(f)) => {
                let q = f.quoted;
                if q.protocol != ipv4::PROTO_TCP || q.src != our_ip {
                    return Err(FrameDrop::IcmpQuoteNotOurs);
                }
                Ok(Parsed::FragNeeded {
                    ip_src: ip_repr.src,
                    next_hop_mtu: f.next_hop_mtu,
                    quoted: q,
                })
            }
            Ok(IcmpMessage::Echo(IcmpEcho::Request {
                ident,
                seq_no,
                data,
            })) => Ok(Parsed::EchoRequest {
                eth_src,
                ip_src: ip_repr.src,
                ip_dst: ip_repr.dst,
                ident,
                seq_no,
                data,
            }),
            Ok(IcmpMessage::Echo(IcmpEcho::Reply { .. })) | Err(WireError::Unsupported) => {
                Err(FrameDrop::IcmpUnsupported)
            }
            Err(_) => Err(FrameDrop::IcmpMalformed),
        },
        _ => Err(FrameDrop::IpUnsupportedProto),
    }
}

/// Length of the frame `build_tcp_frame` writes.
#[inline]
pub fn tcp_frame_len(tcp: &TcpRepr, payload_len: usize) -> usize {
    TCP_FRAME_OVERHEAD + tcp.header_len() + payload_len
}

/// Writes a complete Ethernet/IPv4/TCP frame into `buf` (exactly `tcp_frame_len` bytes). The
/// payload is given as two slices (ring buffers wrap). Checksums computed or left to the NIC per
/// `caps` (TTL 64, DF set).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn build_tcp_frame(
    buf: &mut [u8],
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    tcp: &TcpRepr,
    payload: (&[u8], &[u8]),
    caps: ChecksumCaps,
) {
    const L3: usize = ethernet::HEADER_LEN;
    const L4: usize = TCP_FRAME_OVERHEAD;
    // The common established-state header carries only a timestamp (or nothing): written
    // directly, without the general option layout pass.
    let o = &tcp.options;
    let simple =
        o.mss.is_none() && o.window_scale.is_none() && !o.sack_permitted && o.sack.len == 0;
    let opt_len = if simple {
        if o.timestamp.is_some() {
            12
        } else {
            0
        }
    } else {
        tcp.header_len() - super::tcp::HEADER_LEN
    };
    let hl = super::tcp::HEADER_LEN + opt_len;
    let seg_len = hl + payload.0.len() + payload.1.len();
    let buf = &mut buf[..L4 + seg_len];
    let (head, rest) = buf.split_at_mut(L4 + 20);
    // `buf` is at least L4 + 20 long (the slice above would have panicked otherwise), so this
    // conversion cannot fail; it lets every header byte below be written unchecked.
    let Ok(h) = <&mut [u8; L4 + 20]>::try_from(head) else {
        return;
    };
    h[0..6].copy_from_slice(&dst_mac.0);
    h[6..12].copy_from_slice(&src_mac.0);
    h[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
    let total = (ipv4::HEADER_LEN + seg_len) as u16;
    h[L3] = 0x45;
    h[L3 + 1] = 0;
    h[L3 + 2..L3 + 4].copy_from_slice(&total.to_be_bytes());
    // Identification 0, DF set, no fragment offset.
    h[L3 + 4..L3 + 8].copy_from_slice(&[0, 0, 0x40, 0]);
    h[L3 + 8] = ipv4::DEFAULT_TTL;
    h[L3 + 9] = ipv4::PROTO_TCP;
    h[L3 + 10..L3 + 12].copy_from_slice(&[0, 0]);
    h[L3 + 12..L3 + 16].copy_from_slice(&src_ip.octets());
    h[L3 + 16..L3 + 20].copy_from_slice(&dst_ip.octets());
    if tx_mode(caps.tx_ipv4) == TxCsum::Compute {
        let c = super::checksum::checksum(&h[L3..L4]);
        h[L3 + 10..L3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    h[L4..L4 + 2].copy_from_slice(&tcp.src_port.to_be_bytes());
    h[L4 + 2..L4 + 4].copy_from_slice(&tcp.dst_port.to_be_bytes());
    h[L4 + 4..L4 + 8].copy_from_slice(&tcp.seq.0.to_be_bytes());
    h[L4 + 8..L4 + 12].copy_from_slice(&tcp.ack.0.to_be_bytes());
    h[L4 + 12] = ((hl / 4) as u8) << 4;
    h[L4 + 13] = tcp.flags.0;
    h[L4 + 14..L4 + 16].copy_from_slice(&tcp.window.to_be_bytes());
    h[L4 + 16..L4 + 18].copy_from_slice(&[0, 0]);
    h[L4 + 18..L4 + 20].copy_from_slice(&tcp.urgent.to_be_bytes());
    let (opts, data) = rest.split_at_mut(opt_len);
    match (simple, o.timestamp) {
        (true, Some((tsval, tsecr))) => {
            if let Ok(t) = <&mut [u8; 12]>::try_from(opts) {
                // NOP NOP TS, as Linux lays it out.
                t[..4].copy_from_slice(&[1, 1, 8, 10]);
                t[4..8].copy_from_slice(&tsval.to_be_bytes());
                t[8..12].copy_from_slice(&tsecr.to_be_bytes());
            }
        }
        (true, None) => {}
        (false, _) => {
            o.emit(opts);
        }
    }
    let (first, second) = data.split_at_mut(payload.0.len());
    first.copy_from_slice(payload.0);
    second.copy_from_slice(payload.1);
    let phdr = super::checksum::pseudo_header(src_ip, dst_ip, ipv4::PROTO_TCP, seg_len as u16);
    let c = match tx_mode(caps.tx_tcp) {
        TxCsum::Compute => {
            let s = super::checksum::sum(&h[L4..], phdr);
            let s = super::checksum::sum(rest, s);
            !super::checksum::fold(s)
        }
        TxCsum::Offload => super::checksum::fold(phdr),
    };
    h[L4 + 16..L4 + 18].copy_from_slice(&c.to_be_bytes());
}

/// ARP frame length (Ethernet header + 28, padded to the 60-byte minimum).
pub const ARP_FRAME_LEN: usize = 60;

/// Writes an ARP frame (padded to 60 bytes).
pub fn build_arp_frame(buf: &mut [u8], eth_src: MacAddr, eth_dst: MacAddr, arp: &ArpRepr) {
    let buf = &mut buf[..ARP_FRAME_LEN];
    EthernetRepr {
        src: eth_src,
        dst: eth_dst,
        ethertype: ethernet::ETHERTYPE_ARP,
    }
    .emit(buf);
    arp.emit(&mut buf[ethernet::HEADER_LEN..]);
    buf[ethernet::HEADER_LEN + super::arp::PACKET_LEN..].fill(0);
}

/// Length of an ICMP echo reply frame carrying `data_len` bytes.
pub fn echo_reply_frame_len(data_len: usize) -> usize {
    ethernet::HEADER_LEN + ipv4::HEADER_LEN + super::icmp::HEADER_LEN + data_len
}

/// Writes an ICMP echo reply frame answering a request. The ICMP checksum is always computed
/// in software (NICs offload TCP/UDP only).
#[allow(clippy::too_many_arguments)]
pub fn build_echo_reply_frame(
    buf: &mut [u8],
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    seq_no: u16,
    data: &[u8],
    caps: ChecksumCaps,
) {
    let reply = IcmpEcho::Reply {
        ident,
        seq_no,
        data,
    };
    let buf = &mut buf[..echo_reply_frame_len(data.len())];
    EthernetRepr {
        src: src_mac,
        dst: dst_mac,
        ethertype: ethernet::ETHERTYPE_IPV4,
    }
    .emit(buf);
    Ipv4Repr {
        src: src_ip,
        dst: dst_ip,
        protocol: ipv4::PROTO_ICMP,
        payload_len: reply.buffer_len(),
        ttl: ipv4::DEFAULT_TTL,
    }
    .emit(&mut buf[ethernet::HEADER_LEN..], tx_mode(caps.tx_ipv4));
    reply.emit(&mut buf[ethernet::HEADER_LEN + ipv4::HEADER_LEN..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seq::SeqNum;
    use crate::wire::arp::ArpOp;
    use crate::wire::checksum;
    use crate::wire::tcp::{TcpFlags, TcpOptions};
    use proptest::prelude::*;

    const US_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
    const PEER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const NO_CAPS: ChecksumCaps = ChecksumCaps {
        rx_ipv4: false,
        rx_tcp: false,
        tx_ipv4: false,
        tx_tcp: false,
    };
    const ALL_CAPS: ChecksumCaps = ChecksumCaps {
        rx_ipv4: true,
        rx_tcp: true,
        tx_ipv4: true,
        tx_tcp: true,
    };

    fn repr() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            ack: SeqNum(2000),
            flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
            window: 502,
            urgent: 0,
            options: TcpOptions {
                timestamp: Some((7, 9)),
                ..TcpOptions::default()
            },
        }
    }

    /// A data segment from PEER to US, payload split across the two slices.
    fn tcp_frame() -> Vec<u8> {
        let r = repr();
        let mut buf = vec![0u8; tcp_frame_len(&r, 11)];
        build_tcp_frame(
            &mut buf,
            PEER_MAC,
            US_MAC,
            PEER,
            US,
            &r,
            (b"hello", b" world"),
            NO_CAPS,
        );
        buf
    }

    fn parse(f: &[u8]) -> Result<Parsed<'_>, FrameDrop> {
        parse_frame(f, US_MAC, US, NO_CAPS, RxMeta::default())
    }

    fn refill_ip_csum(f: &mut [u8]) {
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn built_tcp_frame_has_exact_headers() {
        let f = tcp_frame();
        assert_eq!(f.len(), 14 + 20 + 32 + 11);
        assert_eq!(&f[..14], &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
        // 45 00, total 63, id 0, DF, TTL 64, TCP, checksum, addresses.
        assert_eq!(&f[14..24], &[0x45, 0, 0, 63, 0, 0, 0x40, 0, 64, 6]);
        assert_eq!(&f[26..34], &[198, 18, 0, 2, 198, 18, 0, 1]);
        assert_eq!(checksum::fold(checksum::sum(&f[14..34], 0)), 0xffff);
        assert_eq!(&f[66..], b"hello world");
    }

    #[test]
    fn tcp_frame_round_trips() {
        let f = tcp_frame();
        match parse(&f) {
            Ok(Parsed::Tcp {
                eth_src,
                ip_src,
                ip_dst,
                tcp,
                payload,
            }) => {
                assert_eq!((eth_src, ip_src, ip_dst), (PEER_MAC, PEER, US));
                assert_eq!(tcp, repr());
                assert_eq!(payload, b"hello world");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ethernet_padding_is_not_tcp_payload() {
        let r = TcpRepr {
            options: TcpOptions::default(),
            ..repr()
        };
        let mut f = vec![0u8; 60];
        build_tcp_frame(&mut f, PEER_MAC, US_MAC, PEER, US, &r, (&[], &[]), NO_CAPS);
        f[54..].fill(0xee);
        match parse(&f) {
            Ok(Parsed::Tcp { payload, .. }) => assert!(payload.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn offload_leaves_ip_checksum_zero_and_pseudo_header_in_tcp() {
        let r = repr();
        let mut f = vec![0u8; tcp_frame_len(&r, 5)];
        build_tcp_frame(
            &mut f,
            US_MAC,
            PEER_MAC,
            US,
            PEER,
            &r,
            (b"hel", b"lo"),
            ALL_CAPS,
        );
        assert_eq!(&f[24..26], &[0, 0]);
        let seg_len = (f.len() - 34) as u16;
        let ph = checksum::fold(checksum::pseudo_header(US, PEER, 6, seg_len));
        assert_eq!(&f[50..52], &ph.to_be_bytes());
    }

    #[test]
    fn frame_to_other_mac_is_not_for_us() {
        let mut f = tcp_frame();
        f[5] = 9;
        assert_eq!(parse(&f).err(), Some(FrameDrop::EthNotForUs));
        f[..6].copy_from_slice(&[0xff; 6]); // broadcast IPv4 is not ours either
        assert_eq!(parse(&f).err(), Some(FrameDrop::EthNotForUs));
    }

    #[test]
    fn other_ethertypes_are_unsupported() {
        for et in [[0x86, 0xdd], [0x81, 0x00]] {
            let mut f = tcp_frame();
            f[12..14].copy_from_slice(&et);
            assert_eq!(parse(&f).err(), Some(FrameDrop::EthUnsupported));
        }
    }

    #[test]
    fn truncations_map_to_their_layer() {
        let f = tcp_frame();
        assert_eq!(parse(&f[..13]).err(), Some(FrameDrop::EthTruncated));
        assert_eq!(parse(&f[..33]).err(), Some(FrameDrop::IpTruncated));
        // IP total length says more than the frame holds.
        assert_eq!(parse(&f[..f.len() - 1]).err(), Some(FrameDrop::IpTruncated));
        // IP total length cut to 30: TCP header no longer fits.
        let mut g = f.clone();
        g[16..18].copy_from_slice(&30u16.to_be_bytes());
        refill_ip_csum(&mut g);
        assert_eq!(parse(&g).err(), Some(FrameDrop::TcpTruncated));
        let mut g = f.clone();
        g[14] = 0x55;
        assert_eq!(parse(&g).err(), Some(FrameDrop::IpMalformed));
        let mut g = f;
        g[46] = 0x30; // TCP data offset 3
        assert_eq!(parse(&g).err(), Some(FrameDrop::TcpMalformed));
    }

    #[test]
    fn ip_checksum_verified_unless_nic_says_good() {
        let mut f = tcp_frame();
        f[22] = 63; // TTL changed, checksum now wrong
        assert_eq!(parse(&f).err(), Some(FrameDrop::IpChecksum));
        let good = RxMeta {
            ipv4: RxCsum::Good,
            l4: RxCsum::Unknown,
        };
        // Without the capability, the NIC's flag is not trusted.
        assert_eq!(
            parse_frame(&f, US_MAC, US, NO_CAPS, good).err(),
            Some(FrameDrop::IpChecksum)
        );
        assert!(parse_frame(&f, US_MAC, US, ALL_CAPS, good).is_ok());
        let bad = RxMeta {
            ipv4: RxCsum::Bad,
            l4: RxCsum::Good,
        };
        assert_eq!(
            parse_frame(&tcp_frame(), US_MAC, US, ALL_CAPS, bad).err(),
            Some(FrameDrop::IpChecksum)
        );
        // Unknown with the capability on still verifies in software.
        assert_eq!(
            parse_frame(&f, US_MAC, US, ALL_CAPS, RxMeta::default()).err(),
            Some(FrameDrop::IpChecksum)
        );
    }

    #[test]
    fn tcp_checksum_verified_unless_nic_says_good() {
        let mut f = tcp_frame();
        let last = f.len() - 1;
        f[last] ^= 0x20;
        assert_eq!(parse(&f).err(), Some(FrameDrop::TcpChecksum));
        let good = RxMeta {
            ipv4: RxCsum::Unknown,
            l4: RxCsum::Good,
        };
        assert_eq!(
            parse_frame(&f, US_MAC, US, NO_CAPS, good).err(),
            Some(FrameDrop::TcpChecksum)
        );
        assert!(parse_frame(&f, US_MAC, US, ALL_CAPS, good).is_ok());
        let bad = RxMeta {
            ipv4: RxCsum::Good,
            l4: RxCsum::Bad,
        };
        assert_eq!(
            parse_frame(&tcp_frame(), US_MAC, US, ALL_CAPS, bad).err(),
            Some(FrameDrop::TcpChecksum)
        );
    }

    #[test]
    fn fragments_and_other_destinations_and_protocols() {
        let mut f = tcp_frame();
        f[20] = 0x20; // MF
        refill_ip_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IpFragment));
        let mut f = tcp_frame();
        f[33] = 7;
        refill_ip_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IpNotForUs));
        let mut f = tcp_frame();
        f[23] = 17;
        refill_ip_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IpUnsupportedProto));
    }

    fn arp_request(target: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            op: ArpOp::Request,
            sender_mac: PEER_MAC,
            sender_ip: PEER,
            target_mac: MacAddr::ZERO,
            target_ip: target,
        }
    }

    #[test]
    fn arp_frame_is_padded_and_round_trips() {
        let mut f = [0xaau8; ARP_FRAME_LEN];
        build_arp_frame(&mut f, PEER_MAC, MacAddr::BROADCAST, &arp_request(US));
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert!(f[42..].iter().all(|&b| b == 0));
        match parse(&f) {
            Ok(Parsed::Arp { eth_src, arp }) => {
                assert_eq!(eth_src, PEER_MAC);
                assert_eq!(arp, arp_request(US));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arp_for_another_ip_is_still_returned() {
        let other = Ipv4Addr::new(198, 18, 0, 77);
        let mut f = [0u8; ARP_FRAME_LEN];
        build_arp_frame(&mut f, PEER_MAC, MacAddr::BROADCAST, &arp_request(other));
        assert!(matches!(parse(&f), Ok(Parsed::Arp { arp, .. }) if arp.target_ip == other));
        // But a unicast ARP to another MAC is not ours.
        build_arp_frame(
            &mut f,
            PEER_MAC,
            MacAddr([2, 0, 0, 0, 0, 9]),
            &arp_request(US),
        );
        assert_eq!(parse(&f).err(), Some(FrameDrop::EthNotForUs));
        // Malformed / unknown-operation ARP.
        build_arp_frame(&mut f, PEER_MAC, US_MAC, &arp_request(US));
        f[21] = 9;
        assert_eq!(parse(&f).err(), Some(FrameDrop::ArpMalformed));
        assert_eq!(parse(&f[..41]).err(), Some(FrameDrop::ArpMalformed));
    }

    #[test]
    fn echo_request_parses_and_reply_is_built() {
        // Build the request as a "reply" frame from PEER, then flip it into a request.
        let data = b"0123456789";
        let mut f = vec![0u8; echo_reply_frame_len(data.len())];
        build_echo_reply_frame(&mut f, PEER_MAC, US_MAC, PEER, US, 7, 3, data, NO_CAPS);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpUnsupported));
        let icmp = IcmpEcho::Request {
            ident: 7,
            seq_no: 3,
            data,
        };
        icmp.emit(&mut f[34..]);
        match parse(&f) {
            Ok(Parsed::EchoRequest {
                eth_src,
                ip_src,
                ip_dst,
                ident,
                seq_no,
                data: d,
            }) => {
                assert_eq!((eth_src, ip_src, ip_dst), (PEER_MAC, PEER, US));
                assert_eq!((ident, seq_no, d), (7, 3, &data[..]));
            }
            other => panic!("{other:?}"),
        }
        f[40] ^= 1;
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpMalformed));
        // The reply frame built for it: IPv4 checksum valid, ICMP type 0.
        let mut r = vec![0u8; echo_reply_frame_len(data.len())];
        build_echo_reply_frame(&mut r, US_MAC, PEER_MAC, US, PEER, 7, 3, data, NO_CAPS);
        assert_eq!(checksum::fold(checksum::sum(&r[14..34], 0)), 0xffff);
        assert_eq!(
            IcmpEcho::parse(&r[34..]),
            Ok(IcmpEcho::Reply {
                ident: 7,
                seq_no: 3,
                data
            })
        );
    }

    /// A router at 198.18.0.254 tells US that our segment to PEER (the reverse of
    /// `tcp_frame`) did not fit a 1280-byte hop.
    fn frag_needed_frame(mtu: u16, quote_len: usize) -> Vec<u8> {
        let r = TcpRepr {
            src_port: 80,
            dst_port: 40000,
            ..repr()
        };
        let q = crate::testing::tcp_datagram(US, PEER, &r, &[0x5a; 1400]);
        crate::testing::build_frag_needed_frame(
            PEER_MAC,
            US_MAC,
            Ipv4Addr::new(198, 18, 0, 254),
            US,
            mtu,
            &q[..quote_len.min(q.len())],
        )
    }

    #[test]
    fn frag_needed_parses_with_its_quoted_segment_rfc1191_4() {
        for quote_len in [28, 52, crate::testing::ROUTER_QUOTE_LEN] {
            match parse(&frag_needed_frame(1280, quote_len)) {
                Ok(Parsed::FragNeeded {
                    ip_src,
                    next_hop_mtu,
                    quoted,
                }) => {
                    assert_eq!(ip_src, Ipv4Addr::new(198, 18, 0, 254));
                    assert_eq!(next_hop_mtu, 1280);
                    assert_eq!((quoted.src, quoted.dst), (US, PEER));
                    assert_eq!((quoted.src_port(), quoted.dst_port()), (80, 40000));
                    assert_eq!(quoted.seq(), SeqNum(1000));
                    assert_eq!(quoted.total_len as usize, 20 + 32 + 1400);
                }
                other => panic!("quote of {quote_len}: {other:?}"),
            }
        }
    }

    #[test]
    fn frag_needed_not_about_our_tcp_is_dropped_rfc5927_4_1() {
        // Quoted source is not our address.
        let mut f = frag_needed_frame(1280, 52);
        f[42 + 15] = 9;
        refill_icmp_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpQuoteNotOurs));
        // Quoted protocol is UDP.
        let mut f = frag_needed_frame(1280, 52);
        f[42 + 9] = 17;
        refill_icmp_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpQuoteNotOurs));
        // Bad ICMP checksum, and a quote too short for the ports and sequence number.
        let mut f = frag_needed_frame(1280, 52);
        f[60] ^= 1;
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpMalformed));
        let f = frag_needed_frame(1280, 27);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpMalformed));
        // The outer IPv4 header cut short of its own total length.
        let f = frag_needed_frame(1280, 52);
        assert_eq!(parse(&f[..f.len() - 1]).err(), Some(FrameDrop::IpTruncated));
        // Another Destination Unreachable code (host unreachable).
        let mut f = frag_needed_frame(1280, 52);
        f[35] = 1;
        refill_icmp_csum(&mut f);
        assert_eq!(parse(&f).err(), Some(FrameDrop::IcmpUnsupported));
    }

    fn refill_icmp_csum(f: &mut [u8]) {
        f[36..38].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[34..]);
        f[36..38].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn each_drop_counts_its_own_counter() {
        let cases = [
            (FrameDrop::EthTruncated, "eth_truncated"),
            (FrameDrop::EthNotForUs, "eth_not_for_us"),
            (FrameDrop::EthUnsupported, "eth_unsupported_ethertype"),
            (FrameDrop::ArpMalformed, "arp_malformed"),
            (FrameDrop::IpTruncated, "ip_truncated"),
            (FrameDrop::IpMalformed, "ip_malformed"),
            (FrameDrop::IpChecksum, "ip_bad_checksum"),
            (FrameDrop::IpFragment, "ip_fragment"),
            (FrameDrop::IpNotForUs, "ip_not_for_us"),
            (FrameDrop::IpUnsupportedProto, "ip_unsupported_protocol"),
            (FrameDrop::IcmpMalformed, "icmp_malformed"),
            (FrameDrop::IcmpUnsupported, "icmp_unsupported_type"),
            (FrameDrop::IcmpQuoteNotOurs, "icmp_quote_not_ours"),
            (FrameDrop::TcpTruncated, "tcp_truncated"),
            (FrameDrop::TcpMalformed, "tcp_malformed"),
            (FrameDrop::TcpChecksum, "tcp_bad_checksum"),
        ];
        for (d, label) in cases {
            let mut drops = Drops::default();
            d.count(&mut drops);
            let hit: Vec<_> = drops.entries().filter(|(_, v)| *v != 0).collect();
            assert_eq!(hit, vec![(label, 1)], "{d:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_frame_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..128), caps in any::<[bool; 2]>(), m in 0u8..9) {
            let st = [RxCsum::Unknown, RxCsum::Good, RxCsum::Bad];
            let caps = ChecksumCaps { rx_ipv4: caps[0], rx_tcp: caps[1], ..NO_CAPS };
            let meta = RxMeta { ipv4: st[(m % 3) as usize], l4: st[(m / 3) as usize] };
            let _ = parse_frame(&data, US_MAC, US, caps, meta);
        }

        /// Arbitrary bytes rarely get past the MAC check; corrupting a valid frame reaches
        /// every layer.
        #[test]
        fn parse_frame_never_panics_on_corrupted_frames(edits in proptest::collection::vec((0usize..80, any::<u8>()), 1..6), cut in 0usize..80) {
            let mut f = tcp_frame();
            for (at, v) in edits {
                if at < f.len() {
                    f[at] = v;
                }
            }
            let len = f.len().min(cut.max(1) + 14);
            let ok = ChecksumCaps { rx_ipv4: true, rx_tcp: true, ..NO_CAPS };
            let meta = RxMeta { ipv4: RxCsum::Good, l4: RxCsum::Good };
            let _ = parse_frame(&f[..len], US_MAC, US, ok, meta);
            let _ = parse_frame(&f, US_MAC, US, ok, meta);
            let _ = parse(&f);
        }

        /// Corrupting or cutting a valid frag-needed frame reaches every check of the ICMP
        /// path, with and without a repaired ICMP checksum: never a panic.
        #[test]
        fn frag_needed_never_panics_on_corrupted_frames(edits in proptest::collection::vec((14usize..100, any::<u8>()), 1..6), cut in 0usize..120, fix in any::<bool>()) {
            let mut f = frag_needed_frame(1280, 80);
            for (at, v) in edits {
                if at < f.len() {
                    f[at] = v;
                }
            }
            if fix {
                refill_ip_csum(&mut f);
                refill_icmp_csum(&mut f);
            }
            let len = f.len().min(cut + 14);
            let _ = parse(&f[..len]);
            let _ = parse(&f);
        }

        /// The direct header writer matches the layer-by-layer emitters byte for byte, for any
        /// options, payload split and checksum capabilities.
        #[test]
        fn build_tcp_frame_matches_layered_emit(mss in proptest::option::of(any::<u16>()), ws in proptest::option::of(0u8..15), sack_perm in any::<bool>(), nsack in 0u8..5, ts in proptest::option::of(any::<(u32, u32)>()), seq in any::<u32>(), flags in any::<u8>(), a in proptest::collection::vec(any::<u8>(), 0..40), b in proptest::collection::vec(any::<u8>(), 0..40), caps in any::<[bool; 2]>()) {
            let mut sack = crate::wire::tcp::SackBlocks::default();
            for i in 0..nsack as u32 {
                sack.push(SeqNum(seq.wrapping_add(i * 100)), SeqNum(seq.wrapping_add(i * 100 + 50)));
            }
            let mut r = repr();
            r.seq = SeqNum(seq);
            r.flags = TcpFlags(flags);
            r.options = TcpOptions { mss, window_scale: ws, sack_permitted: sack_perm, sack, timestamp: ts };
            let caps = ChecksumCaps { tx_ipv4: caps[0], tx_tcp: caps[1], ..NO_CAPS };
            let len = tcp_frame_len(&r, a.len() + b.len());
            let mut got = vec![0xeeu8; len];
            build_tcp_frame(&mut got, PEER_MAC, US_MAC, PEER, US, &r, (&a, &b), caps);
            let mut want = vec![0u8; len];
            EthernetRepr { src: PEER_MAC, dst: US_MAC, ethertype: ethernet::ETHERTYPE_IPV4 }.emit(&mut want);
            let seg_len = len - TCP_FRAME_OVERHEAD;
            Ipv4Repr { src: PEER, dst: US, protocol: ipv4::PROTO_TCP, payload_len: seg_len, ttl: ipv4::DEFAULT_TTL }
                .emit(&mut want[14..], tx_mode(caps.tx_ipv4));
            let hl = r.header_len();
            want[TCP_FRAME_OVERHEAD + hl..TCP_FRAME_OVERHEAD + hl + a.len()].copy_from_slice(&a);
            want[TCP_FRAME_OVERHEAD + hl + a.len()..].copy_from_slice(&b);
            r.emit(&mut want[TCP_FRAME_OVERHEAD..], PEER, US, tx_mode(caps.tx_tcp));
            prop_assert_eq!(got, want);
        }

        /// The TCP fast path is an optimisation only: on any corruption of a valid frame, with
        /// any checksum capabilities and NIC verdicts, it gives exactly the general path's answer.
        #[test]
        fn fast_path_agrees_with_general_path(edits in proptest::collection::vec((0usize..80, any::<u8>()), 0..4), cut in 0usize..80, caps in any::<[bool; 2]>(), m in 0u8..9, fix_ip in any::<bool>()) {
            let mut f = tcp_frame();
            for (at, v) in edits {
                if at < f.len() {
                    f[at] = v;
                }
            }
            if fix_ip {
                refill_ip_csum(&mut f);
            }
            let len = f.len().min(cut + 14);
            let st = [RxCsum::Unknown, RxCsum::Good, RxCsum::Bad];
            let caps = ChecksumCaps { rx_ipv4: caps[0], rx_tcp: caps[1], ..NO_CAPS };
            let meta = RxMeta { ipv4: st[(m % 3) as usize], l4: st[(m / 3) as usize] };
            for frame in [&f[..len], &f[..]] {
                let fast = format!("{:?}", parse_frame(frame, US_MAC, US, caps, meta));
                let slow = format!("{:?}", parse_frame_slow(frame, US_MAC, US, caps, meta));
                prop_assert_eq!(fast, slow);
            }
        }
    }
}
