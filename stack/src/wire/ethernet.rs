//! Ethernet II frames (no VLAN tags: tagged frames are `Unsupported`).

use super::{MacAddr, WireError};

pub const HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// Checked view over an Ethernet II frame.
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Fails with `Truncated` when shorter than the header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = buffer;
        todo!("wire helper")
    }
    pub fn dst(&self) -> MacAddr {
        todo!("wire helper")
    }
    pub fn src(&self) -> MacAddr {
        todo!("wire helper")
    }
    pub fn ethertype(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn payload(&self) -> &[u8] {
        let _ = &self.buffer;
        todo!("wire helper")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<Self, WireError> {
        let _ = frame;
        todo!("wire helper")
    }
    /// Writes the 14-byte header into `buf[..HEADER_LEN]`.
    pub fn emit(&self, buf: &mut [u8]) {
        let _ = buf;
        todo!("wire helper")
    }
}
