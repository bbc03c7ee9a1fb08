//! Wire formats: zero-copy checked views (`*Packet<T>`) and parsed values (`*Repr`).
//!
//! A view's constructor `new_checked` validates every length the accessors rely on, so accessors
//! can never panic on wire input. Length fields from the wire are never trusted beyond the buffer.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod frame;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod toeplitz;

pub use core::net::Ipv4Addr;

/// Why a frame was not accepted. Each maps to a drop counter in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// Shorter than its headers or its own length fields claim.
    Truncated,
    /// A field with an impossible value (bad version, header length, option length...).
    Malformed,
    /// Checksum did not verify.
    Checksum,
    /// A valid frame of a kind the engine does not handle (other ethertype, protocol, ICMP type).
    Unsupported,
    /// An IPv4 fragment (MF set or non-zero offset): tcpterm does not reassemble.
    Fragment,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
}

impl core::fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl core::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// What the port's hardware does for checksums, so the engine only computes or verifies what
/// the NIC does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// The NIC verifies IPv4 header checksums on receive (bad ones are flagged per packet).
    pub rx_ipv4: bool,
    /// The NIC verifies TCP checksums on receive.
    pub rx_tcp: bool,
    /// The NIC computes IPv4 header checksums on transmit.
    pub tx_ipv4: bool,
    /// The NIC computes TCP checksums on transmit (the engine writes the pseudo-header sum).
    pub tx_tcp: bool,
}

/// Per-frame receive checksum status as reported by the NIC (all `Unknown` without offload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RxCsum {
    #[default]
    Unknown,
    Good,
    Bad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RxMeta {
    pub ipv4: RxCsum,
    pub l4: RxCsum,
}

/// How a TCP/IPv4 checksum field is to be filled on transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxCsum {
    /// Compute the full checksum in software.
    Compute,
    /// Hardware offload: write only what the NIC expects (0 for IPv4, pseudo-header sum for TCP).
    Offload,
}
