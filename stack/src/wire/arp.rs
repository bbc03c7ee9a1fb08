//! ARP for IPv4 over Ethernet (RFC 826).

use super::{Ipv4Addr, MacAddr, WireError};

pub const PACKET_LEN: usize = 28;

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
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = buffer;
        todo!("wire helper")
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

impl ArpRepr {
    /// Unknown operations are `Unsupported`.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<Self, WireError> {
        let _ = packet;
        todo!("wire helper")
    }
    /// Writes `PACKET_LEN` bytes into `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        let _ = buf;
        todo!("wire helper")
    }
}

/// IPv4 → MAC cache with expiry. Bounded: when full, the entry closest to expiry is replaced.
pub struct ArpCache {
    _timeout: core::time::Duration,
}

impl ArpCache {
    pub fn new(capacity: usize, timeout: core::time::Duration) -> Self {
        let _ = capacity;
        let _ = timeout;
        todo!("wire helper")
    }
    /// Learns or refreshes `ip`'s address; valid until `now + timeout`.
    pub fn insert(&mut self, ip: Ipv4Addr, mac: MacAddr, now: crate::time::Instant) {
        let _ = (ip, mac, now);
        todo!("wire helper")
    }
    /// The address of `ip` if known and not expired.
    pub fn lookup(&self, ip: Ipv4Addr, now: crate::time::Instant) -> Option<MacAddr> {
        let _ = (ip, now);
        todo!("wire helper")
    }
    pub fn len(&self) -> usize {
        todo!("wire helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
