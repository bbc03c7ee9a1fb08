//! TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).

use super::{Ipv4Addr, RxCsum, TxCsum, WireError};
use crate::seq::SeqNum;

pub const HEADER_LEN: usize = 20;
pub const MAX_HEADER_LEN: usize = 60;
pub const MAX_SACK_BLOCKS: usize = 4;

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
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = buffer;
        todo!("wire helper")
    }
    pub fn header_len(&self) -> usize {
        let _ = &self.buffer;
        todo!("wire helper")
    }
    pub fn src_port(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn dst_port(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn payload(&self) -> &[u8] {
        todo!("wire helper")
    }
}

impl TcpRepr {
    /// Parses the header and options of `packet` (the whole IPv4 payload). Verifies the checksum
    /// over the pseudo-header unless `csum` is `Good`; `Bad` fails with `Checksum`. Option
    /// lengths that are zero, one, or run past the header are `Malformed`; a SYN+RST or
    /// SYN+FIN combination is left for the engine to judge.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &TcpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        csum: RxCsum,
    ) -> Result<Self, WireError> {
        let _ = (packet, src, dst, csum);
        todo!("wire helper")
    }

    /// Header length including options, padded to a multiple of 4.
    pub fn header_len(&self) -> usize {
        todo!("wire helper")
    }

    /// Writes the header into `segment[..self.header_len()]` and fills the checksum over the
    /// whole `segment` (header + payload, which the caller has already placed after the header).
    pub fn emit(&self, segment: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, csum: TxCsum) {
        let _ = (segment, src, dst, csum);
        todo!("wire helper")
    }
}
