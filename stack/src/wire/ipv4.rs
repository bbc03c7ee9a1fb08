//! IPv4 (RFC 791). Options are skipped, fragments refused, TTL set on output.

use super::{Ipv4Addr, RxCsum, TxCsum, WireError};

pub const HEADER_LEN: usize = 20;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const DEFAULT_TTL: u8 = 64;

/// Checked view: version 4, IHL >= 5, header fits, `total_len` between header length and the
/// buffer length (trailing Ethernet padding is ignored by `payload`).
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = buffer;
        todo!("wire helper")
    }
    pub fn header_len(&self) -> usize {
        let _ = &self.buffer;
        todo!("wire helper")
    }
    pub fn total_len(&self) -> usize {
        todo!("wire helper")
    }
    pub fn src(&self) -> Ipv4Addr {
        todo!("wire helper")
    }
    pub fn dst(&self) -> Ipv4Addr {
        todo!("wire helper")
    }
    pub fn protocol(&self) -> u8 {
        todo!("wire helper")
    }
    pub fn ttl(&self) -> u8 {
        todo!("wire helper")
    }
    /// More-fragments set or fragment offset non-zero.
    pub fn is_fragment(&self) -> bool {
        todo!("wire helper")
    }
    /// `buffer[header_len..total_len]`.
    pub fn payload(&self) -> &[u8] {
        todo!("wire helper")
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
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>, csum: RxCsum) -> Result<Self, WireError> {
        let _ = (packet, csum);
        todo!("wire helper")
    }
    /// Writes a 20-byte header (no options, DF set, id 0) into `buf[..HEADER_LEN]`.
    pub fn emit(&self, buf: &mut [u8], csum: TxCsum) {
        let _ = (buf, csum);
        todo!("wire helper")
    }
}
