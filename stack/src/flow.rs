//! Connection identity: the 4-tuple, from this host's point of view.

use core::net::Ipv4Addr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FourTuple {
    pub local_ip: Ipv4Addr,
    pub local_port: u16,
    pub remote_ip: Ipv4Addr,
    pub remote_port: u16,
}

impl FourTuple {
    /// The 12 octets in a fixed order, for keyed hashes (ISN, SYN cookies, table index).
    #[inline]
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.local_ip.octets());
        b[4..8].copy_from_slice(&self.remote_ip.octets());
        b[8..10].copy_from_slice(&self.local_port.to_be_bytes());
        b[10..12].copy_from_slice(&self.remote_port.to_be_bytes());
        b
    }
}
