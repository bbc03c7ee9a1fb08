//! SYN cookies (RFC 4987 §3.6): the listener keeps no state for a SYN; the ISN it answers with
//! encodes a keyed MAC of the 4-tuple, a coarse time counter and the peer's MSS (one of a small
//! table). With timestamps, window scale and SACK-permitted are encoded in the low bits of our
//! TSval so they survive too.

use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;

/// What a valid cookie restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    pub mss: u16,
    /// Peer's window scale, when it was encoded in the timestamp.
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
}

pub struct SynCookies {}

impl SynCookies {
    /// `secret` keys the MAC (from the engine's seed).
    pub fn new(secret: [u8; 16]) -> Self {
        let _ = secret;
        todo!("cookie helper")
    }
    /// Our ISN for a SYN from `tuple` with initial sequence `peer_isn` and advertised `mss`
    /// (rounded down to the table). Returns (isn, mss actually encoded).
    pub fn encode(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        mss: u16,
    ) -> (SeqNum, u16) {
        let _ = (now, tuple, peer_isn, mss);
        todo!("cookie helper")
    }
    /// Validates the ACK completing a cookie handshake: `peer_isn` = SEG.SEQ - 1,
    /// `cookie` = SEG.ACK - 1. Accepts cookies up to about two minutes old.
    pub fn decode(
        &self,
        now: Instant,
        tuple: &FourTuple,
        peer_isn: SeqNum,
        cookie: SeqNum,
    ) -> Option<u16> {
        let _ = (now, tuple, peer_isn, cookie);
        todo!("cookie helper")
    }
    /// Our TSval for the SYN-ACK: `ts_now` with its low 6 bits replaced by the options.
    pub fn encode_ts(ts_now: u32, window_scale: Option<u8>, sack_permitted: bool) -> u32 {
        let _ = (ts_now, window_scale, sack_permitted);
        todo!("cookie helper")
    }
    /// Recovers (window_scale, sack_permitted) from the TSecr echoed in the final ACK.
    pub fn decode_ts(tsecr: u32) -> (Option<u8>, bool) {
        let _ = tsecr;
        todo!("cookie helper")
    }
}
