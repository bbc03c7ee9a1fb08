//! The Internet checksum (RFC 1071), with the TCP/IPv4 pseudo-header.

use core::net::Ipv4Addr;

/// Adds `data` as big-endian 16-bit words to `sum` (not folded). Odd trailing byte padded.
pub fn sum(data: &[u8], sum: u32) -> u32 {
    let _ = (data, sum);
    todo!("wire helper")
}

/// Folds a 32-bit accumulator into 16 bits (end-around carry). Not complemented.
pub fn fold(sum: u32) -> u16 {
    let _ = sum;
    todo!("wire helper")
}

/// `!fold(sum(data, 0))`: the value to store in a checksum field over `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let _ = data;
    todo!("wire helper")
}

/// Unfolded sum of the TCP/UDP pseudo-header (src, dst, zero, protocol, length).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u32 {
    let _ = (src, dst, protocol, length);
    todo!("wire helper")
}
