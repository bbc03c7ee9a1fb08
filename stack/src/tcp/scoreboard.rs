//! Sender-side SACK scoreboard (RFC 6675): which bytes above `snd.una` the peer has SACKed,
//! and the derived `IsLost`, `pipe` and `NextSeg()`.

use crate::seq::SeqNum;

pub struct Scoreboard {}

impl Scoreboard {
    /// `max_ranges` bounds memory; older/lower ranges are dropped when exceeded.
    pub fn new(max_ranges: usize) -> Self {
        let _ = max_ranges;
        todo!("scoreboard helper")
    }
    /// Records SACK blocks from one ACK; blocks at or below `snd_una` or beyond `snd_nxt` are
    /// ignored (RFC 2883 D-SACK below una is reported via the return value).
    /// Returns the number of newly SACKed bytes.
    pub fn on_sack(
        &mut self,
        snd_una: SeqNum,
        snd_nxt: SeqNum,
        blocks: &[(SeqNum, SeqNum)],
    ) -> u32 {
        let _ = (snd_una, snd_nxt, blocks);
        todo!("scoreboard helper")
    }
    /// Drops state at or below the new `snd.una`.
    pub fn on_cumulative_ack(&mut self, snd_una: SeqNum) {
        let _ = snd_una;
        todo!("scoreboard helper")
    }
    pub fn is_sacked(&self, seq: SeqNum) -> bool {
        let _ = seq;
        todo!("scoreboard helper")
    }
    /// RFC 6675 IsLost(seq): DupThresh discontiguous SACKed segments, or more than
    /// (DupThresh - 1) * SMSS bytes SACKed, above `seq`.
    pub fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        let _ = (seq, smss);
        todo!("scoreboard helper")
    }
    /// Total SACKed bytes above `snd.una`.
    pub fn sacked_bytes(&self) -> u32 {
        todo!("scoreboard helper")
    }
    /// Highest SACKed sequence (end of the highest block), if any.
    pub fn highest_sacked(&self) -> Option<SeqNum> {
        todo!("scoreboard helper")
    }
    /// RFC 6675 SetPipe: bytes believed in flight. `high_rxt` is the highest retransmitted seq.
    pub fn pipe(&self, snd_una: SeqNum, snd_nxt: SeqNum, high_rxt: SeqNum, smss: u32) -> u32 {
        let _ = (snd_una, snd_nxt, high_rxt, smss);
        todo!("scoreboard helper")
    }
    /// RFC 6675 NextSeg() rule 1 (and 3): the first un-SACKed, lost sequence range to
    /// retransmit at or after `high_rxt`, at most `smss` long, below `snd_nxt`.
    pub fn next_lost(
        &self,
        snd_una: SeqNum,
        snd_nxt: SeqNum,
        high_rxt: SeqNum,
        smss: u32,
    ) -> Option<(SeqNum, u32)> {
        let _ = (snd_una, snd_nxt, high_rxt, smss);
        todo!("scoreboard helper")
    }
    pub fn clear(&mut self) {
        todo!("scoreboard helper")
    }
    pub fn is_empty(&self) -> bool {
        todo!("scoreboard helper")
    }
}
