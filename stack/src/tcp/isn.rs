//! Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock and F a
//! keyed hash (SipHash), so ISNs are unpredictable across connections yet grow monotonically for
//! one 4-tuple (which is what lets a new SYN take over a TIME_WAIT entry).

use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;

pub struct IsnGenerator {}

impl IsnGenerator {
    pub fn new(secret: [u8; 16]) -> Self {
        let _ = secret;
        todo!("isn helper")
    }
    pub fn isn(&self, now: Instant, tuple: &FourTuple) -> SeqNum {
        let _ = (now, tuple);
        todo!("isn helper")
    }
}
