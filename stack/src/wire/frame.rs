//! Whole frames: one-pass parse of a received Ethernet frame down to what the engine acts on,
//! and one-pass build of outgoing TCP/ARP/ICMP frames.

use super::arp::ArpRepr;
use super::tcp::TcpRepr;
use super::{ChecksumCaps, Ipv4Addr, MacAddr, RxMeta};
use crate::counters::Drops;

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
    TcpTruncated,
    TcpMalformed,
    TcpChecksum,
}

impl FrameDrop {
    pub fn count(self, drops: &mut Drops) {
        let _ = drops;
        todo!("wire helper")
    }
}

/// Parses `frame` addressed to `our_mac` (or broadcast, for ARP) and `our_ip`. Verifies
/// checksums the NIC did not (per `caps` and `meta`).
pub fn parse_frame<'a>(
    frame: &'a [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    caps: ChecksumCaps,
    meta: RxMeta,
) -> Result<Parsed<'a>, FrameDrop> {
    let _ = (frame, our_mac, our_ip, caps, meta);
    todo!("wire helper")
}

/// Length of the frame `build_tcp_frame` writes.
pub fn tcp_frame_len(tcp: &TcpRepr, payload_len: usize) -> usize {
    let _ = (tcp, payload_len);
    todo!("wire helper")
}

/// Writes a complete Ethernet/IPv4/TCP frame into `buf` (exactly `tcp_frame_len` bytes). The
/// payload is given as two slices (ring buffers wrap). Checksums computed or left to the NIC per
/// `caps` (TTL 64, DF set).
#[allow(clippy::too_many_arguments)]
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
    let _ = (buf, src_mac, dst_mac, src_ip, dst_ip, tcp, payload, caps);
    todo!("wire helper")
}

/// ARP frame length (Ethernet header + 28, padded to the 60-byte minimum).
pub const ARP_FRAME_LEN: usize = 60;

/// Writes an ARP frame (padded to 60 bytes).
pub fn build_arp_frame(buf: &mut [u8], eth_src: MacAddr, eth_dst: MacAddr, arp: &ArpRepr) {
    let _ = (buf, eth_src, eth_dst, arp);
    todo!("wire helper")
}

/// Length of an ICMP echo reply frame carrying `data_len` bytes.
pub fn echo_reply_frame_len(data_len: usize) -> usize {
    let _ = data_len;
    todo!("wire helper")
}

/// Writes an ICMP echo reply frame answering a request.
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
    let _ = (
        buf, src_mac, dst_mac, src_ip, dst_ip, ident, seq_no, data, caps,
    );
    todo!("wire helper")
}
