//! Toeplitz hash for RSS, with the symmetric key (0x6d5a repeated) so both directions of a flow
//! hash to the same queue.

use super::Ipv4Addr;

/// 40-byte key whose every 16-bit half repeats, making the hash symmetric in (src, dst).
pub const SYMMETRIC_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
];

/// Reference bit-by-bit Toeplitz hash of `input` under `key` (key must be >= input.len() + 4).
pub fn hash(key: &[u8], input: &[u8]) -> u32 {
    let _ = (key, input);
    todo!("wire helper")
}

/// Precomputed tables for the 12-byte IPv4/TCP input; same result as `hash`, much faster.
pub struct Toeplitz {
    table: Box<[[u32; 256]; 12]>,
}

impl Toeplitz {
    pub fn new(key: &[u8; 40]) -> Self {
        let _ = key;
        todo!("wire helper")
    }
    /// Hash of (src ip, dst ip, src port, dst port) as the NIC computes it for IPv4/TCP.
    pub fn hash_ipv4_tcp(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u32 {
        let _ = (&self.table, src, dst, sport, dport);
        todo!("wire helper")
    }
}

/// The queue a NIC with a `reta_size`-entry round-robin redirection table picks for `hash`.
pub fn queue_for(hash: u32, reta_size: u32, queues: u16) -> u16 {
    ((hash % reta_size) % queues as u32) as u16
}
