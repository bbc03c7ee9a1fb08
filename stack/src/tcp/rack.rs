//! RACK loss detection (RFC 8985 §6), simplified: a compact per-connection record of the
//! segments in flight, in sequence order, with their last transmission time. A segment is
//! lost when one sent after it has been delivered and more than RTT + reo_wnd has passed
//! since it was sent. Unlike DupThresh counting this also finds lost retransmissions.
//!
//! The record lives only while data is in flight (the Tcb drops it when everything is
//! acknowledged), so idle connections own none of it.

use crate::seq::SeqNum;
use std::collections::VecDeque;

/// Bounds the record's memory (12 B a segment); segments beyond it are simply not tracked.
pub const MAX_SEGS: usize = 2048;

const RTX: u8 = 1;
const LOST: u8 = 2;
const DELIVERED: u8 = 4;

#[derive(Clone, Copy, Debug)]
struct Seg {
    end: SeqNum,
    /// Microseconds (wrapping) of the last transmission.
    xmit: u32,
    flags: u8,
}

#[derive(Debug, Default)]
pub struct Rack {
    /// Start of the first record (SND.UNA once trimmed).
    start: SeqNum,
    segs: VecDeque<Seg>,
    /// Send time and end of the most recently sent delivered segment (RACK.xmit_ts,
    /// RACK.end_seq); `have` says whether there is one.
    rack_xmit: u32,
    rack_end: SeqNum,
    have: bool,
}

/// `a` sent after `b` in wrapping microseconds.
#[inline]
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Rack {
    pub fn new(start: SeqNum) -> Self {
        Rack {
            start,
            ..Rack::default()
        }
    }

    /// One past the last recorded octet.
    fn end(&self) -> SeqNum {
        self.segs.back().map_or(self.start, |s| s.end)
    }

    /// Index of the record holding `seq`.
    fn find(&self, seq: SeqNum) -> Option<usize> {
        if seq.lt(self.start) {
            return None;
        }
        let i = self.segs.partition_point(|s| s.end.le(seq));
        (i < self.segs.len()).then_some(i)
    }

    /// A (re)transmission of `[seq, end)` at `now_us`.
    pub fn on_send(&mut self, seq: SeqNum, end: SeqNum, now_us: u32, rtx: bool) {
        if !seq.lt(end) {
            return;
        }
        if seq == self.end() && !rtx {
            if self.segs.is_empty() {
                self.start = seq;
            }
            if self.segs.len() < MAX_SEGS {
                self.segs.push_back(Seg {
                    end,
                    xmit: now_us,
                    flags: 0,
                });
            }
            return;
        }
        // A retransmission: every record it overlaps was sent again now.
        let Some(mut i) = self.find(seq) else { return };
        while let Some(s) = self.segs.get_mut(i) {
            s.xmit = now_us;
            s.flags = (s.flags | RTX) & !LOST;
            if s.end.ge(end) {
                break;
            }
            i += 1;
        }
    }

    /// An ACK: drops what `snd_una` covers, marks the records `is_sacked` covers delivered, and
    /// advances RACK.xmit_ts over the segments newly delivered. A retransmitted segment counts
    /// only when acknowledged at least `min_rtt_us` after it was resent, since an earlier ACK
    /// may be for the original (RFC 8985 §6.2 step 2).
    pub fn on_ack(
        &mut self,
        snd_una: SeqNum,
        now_us: u32,
        min_rtt_us: u32,
        mut is_sacked: impl FnMut(SeqNum, SeqNum) -> bool,
    ) {
        let upd = |s: &Seg, have: &mut bool, x: &mut u32, e: &mut SeqNum| {
            if s.flags & RTX != 0 && now_us.wrapping_sub(s.xmit) < min_rtt_us {
                return;
            }
            if !*have || after(s.xmit, *x) || (s.xmit == *x && s.end.gt(*e)) {
                *have = true;
                *x = s.xmit;
                *e = s.end;
            }
        };
        while let Some(s) = self.segs.front().copied() {
            if !s.end.le(snd_una) {
                break;
            }
            self.segs.pop_front();
            if s.flags & DELIVERED == 0 {
                upd(&s, &mut self.have, &mut self.rack_xmit, &mut self.rack_end);
            }
            self.start = s.end;
        }
        if self.start.lt(snd_una) {
            self.start = snd_una;
        }
        let mut start = self.start;
        for s in self.segs.iter_mut() {
            if s.flags & DELIVERED == 0 && is_sacked(start, s.end) {
                s.flags |= DELIVERED;
                let c = *s;
                upd(&c, &mut self.have, &mut self.rack_xmit, &mut self.rack_end);
            }
            start = s.end;
        }
    }

    /// RFC 8985 §6.2 step 5: marks lost every undelivered segment sent before the most recent
    /// delivered one whose RTT + reo_wnd has passed. Returns how many were newly marked.
    pub fn detect_loss(&mut self, now_us: u32, wait_us: u32) -> u32 {
        if !self.have {
            return 0;
        }
        let mut n = 0;
        for s in self.segs.iter_mut() {
            if s.flags & (DELIVERED | LOST) != 0 {
                continue;
            }
            let before = after(self.rack_xmit, s.xmit)
                || (self.rack_xmit == s.xmit && s.end.lt(self.rack_end));
            if before && now_us.wrapping_sub(s.xmit) >= wait_us {
                s.flags |= LOST;
                n += 1;
            }
        }
        n
    }

    /// RFC 8985 §6.3 / Linux after an RTO: every undelivered segment is lost.
    pub fn mark_all_lost(&mut self) {
        for s in self.segs.iter_mut() {
            if s.flags & DELIVERED == 0 {
                s.flags |= LOST;
            }
        }
    }

    /// The first segment marked lost and not resent since: `(start, len)`.
    pub fn next_lost(&self) -> Option<(SeqNum, u32)> {
        let mut start = self.start;
        for s in &self.segs {
            if s.flags & LOST != 0 {
                return Some((start, s.end - start));
            }
            start = s.end;
        }
        None
    }

    /// Whether anything is marked lost and not yet resent.
    pub fn has_lost(&self) -> bool {
        self.segs.iter().any(|s| s.flags & LOST != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn heap_bytes(&self) -> usize {
        self.segs.capacity() * core::mem::size_of::<Seg>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straddles the sequence wrap.
    fn s(n: u32) -> SeqNum {
        SeqNum(u32::MAX - 250) + n
    }

    /// RFC 8985 §6.2: a segment sent before a delivered one is lost once RTT + reo_wnd passed.
    #[test]
    fn earlier_segment_lost_after_rtt_plus_reo_wnd_rfc8985_6_2() {
        let mut r = Rack::new(s(0));
        for i in 0..4u32 {
            r.on_send(s(i * 100), s(i * 100 + 100), 1000 + i, false);
        }
        // Segment 2 (sent at 1002) SACKed at 1500.
        r.on_ack(s(0), 1500, 100, |a, b| a.ge(s(200)) && b.le(s(300)));
        // Not yet: RTT + reo_wnd = 600 has not passed for segments 0 and 1.
        assert_eq!(r.detect_loss(1500, 600), 0);
        assert_eq!(r.next_lost(), None);
        assert_eq!(r.detect_loss(1601, 600), 2);
        assert_eq!(r.next_lost(), Some((s(0), 100)));
        // Segment 3 was sent after the delivered one: not lost.
        r.on_send(s(0), s(100), 1700, true);
        assert_eq!(r.next_lost(), Some((s(100), 100)));
        r.on_send(s(100), s(200), 1701, true);
        assert_eq!(r.next_lost(), None);
        // The retransmissions are lost again when a later-sent segment is delivered.
        r.on_send(s(400), s(500), 1800, false);
        r.on_ack(s(0), 2500, 100, |a, b| a.ge(s(400)) && b.le(s(500)));
        assert_eq!(r.detect_loss(2500, 600), 3); // 0, 1 (resent at 1700) and 3 (sent at 1003)
        assert_eq!(r.next_lost(), Some((s(0), 100)));
        r.on_ack(s(500), 2600, 100, |_, _| false);
        assert!(r.is_empty());
    }

    /// RFC 8985 §6.2 step 2: an ACK arriving sooner than min_rtt after a retransmission is
    /// presumed to be for the original, so it does not advance RACK.xmit_ts.
    #[test]
    fn quick_ack_of_retransmission_is_ignored() {
        let mut r = Rack::new(s(0));
        r.on_send(s(0), s(100), 0, false);
        r.on_send(s(100), s(200), 1, false);
        r.on_send(s(0), s(100), 500, true);
        r.on_ack(s(100), 510, 100, |_, _| false);
        assert_eq!(r.detect_loss(10_000, 100), 0);
    }
}
