//! RACK-TLP loss detection (RFC 8985 §6) and the per-episode recovery state that goes with it:
//! a compact record of the segments in flight, in sequence order, with their last
//! transmission time. A segment is lost when one sent after it has been delivered and more
//! than RACK.rtt + reo_wnd has passed since it was sent. Unlike DupThresh counting this also
//! finds lost retransmissions and losses in a flight too small for three duplicate ACKs.
//!
//! The record lives only while data is in flight on a SACK connection (the Tcb drops it when
//! everything is acknowledged), so idle connections own none of it. PRR (RFC 6937) and the
//! undo snapshot (RFC 3708 / Linux's undo) ride in the same allocation, because they too
//! exist only while a flight is being repaired.

use crate::seq::SeqNum;
use crate::tcp::cc::rate::{Gather, Rate, TxStamp};
use crate::tcp::cc::Cc;
use std::collections::VecDeque;

/// Bounds the record's memory (24 B a segment); segments beyond it are simply not tracked.
pub const MAX_SEGS: usize = 2048;

const RTX: u8 = 1;
const LOST: u8 = 2;
const DELIVERED: u8 = 4;
/// Marked lost at some point (kept when resent, unlike `LOST`).
const EVER_LOST: u8 = 8;

/// Shortest RACK.rtt + reo_wnd (the timer wheel's 1 ms tick).
const MIN_WAIT_US: u32 = 1_000;

/// RFC 8985 §6.2 step 4: DSACK-widened reordering windows last this many recoveries.
const REO_WND_PERSIST: u8 = 16;

#[derive(Clone, Copy, Debug)]
struct Seg {
    end: SeqNum,
    /// Microseconds (wrapping) of the last transmission.
    xmit: u32,
    flags: u8,
    /// Delivery state at the last transmission, for rate sampling (zero when unused).
    stamp: TxStamp,
    /// TSval of the last transmission (0 without timestamps).
    tsval: u32,
}

/// One transmission, as [`Rack::on_send`] records it.
#[derive(Clone, Copy, Debug)]
pub struct Tx {
    pub now_us: u32,
    pub rtx: bool,
    /// The TSval it carried (0 without timestamps).
    pub tsval: u32,
}

/// RFC 6937 state for one recovery episode.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prr {
    /// Bytes delivered to the receiver since recovery began (prr_delivered).
    pub delivered: u32,
    /// Bytes sent since recovery began (prr_out).
    pub out: u32,
    /// FlightSize when recovery began (RecoverFS).
    pub recover_fs: u32,
}

impl Prr {
    /// RFC 6937 §3.1: how many bytes may go out on this ACK, given `pipe`, ssthresh and this
    /// ACK's `delivered` bytes (PRR-SSRB below ssthresh). At least one segment goes out on
    /// the first ACK of the episode, which is the fast retransmit.
    pub fn sndcnt(&self, pipe: u32, ssthresh: u32, delivered: u32, mss: u32) -> u32 {
        let cnt = if pipe > ssthresh {
            let num = u64::from(self.delivered) * u64::from(ssthresh);
            let fs = u64::from(self.recover_fs.max(1));
            (num.div_ceil(fs) as u32).saturating_sub(self.out)
        } else {
            let limit = self.delivered.saturating_sub(self.out).max(delivered) + mss;
            ssthresh.saturating_sub(pipe).min(limit)
        };
        if self.out == 0 {
            cnt.max(mss)
        } else {
            cnt
        }
    }
}

#[derive(Default)]
pub struct Rack {
    /// Start of the first record (SND.UNA once trimmed).
    start: SeqNum,
    segs: VecDeque<Seg>,
    /// Send time and end of the most recently sent delivered segment (RACK.xmit_ts,
    /// RACK.end_seq); `have` says whether there is one.
    rack_xmit: u32,
    rack_end: SeqNum,
    have: bool,
    /// RACK.rtt: the RTT of that segment, microseconds.
    rtt_us: u32,
    /// The smallest RTT of a segment sent once and delivered by the last ACK, microseconds:
    /// a precise sample for min_RTT (None: that ACK delivered no such segment).
    pub last_min_rtt_us: Option<u32>,
    /// Highest delivered sequence (RACK.fack), to see reordering.
    fack: SeqNum,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult, RACK.reo_wnd_persist, RACK.dsack_round (valid with `dsack_round_set`).
    reo_wnd_mult: u8,
    reo_wnd_persist: u8,
    dsack_round_set: bool,
    dsack_round: SeqNum,
    pub prr: Prr,
    /// The congestion state before this episode's reduction, and the retransmissions of the
    /// episode not yet shown spurious by a DSACK.
    pub undo: Option<Cc>,
    pub undo_retrans: u32,
    /// SND.UNA when the episode began: only a D-SACK above it reports one of the episode's
    /// retransmissions (Linux's undo_marker); one of an earlier episode must not undo this one.
    pub undo_marker: SeqNum,
    /// The reduction was undone: recovery ends without deflating to ssthresh.
    pub undone: bool,
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
            fack: start,
            reo_wnd_mult: 1,
            ..Rack::default()
        }
    }

    /// RFC 8985 §6.2 step 4: the reordering window. Zero in recovery or once DupThresh
    /// segments are SACKed, unless reordering was seen; else min_rtt/4 (times the DSACK
    /// multiplier), at most SRTT.
    pub fn reo_wnd(
        &self,
        min_rtt_us: u32,
        srtt_us: u32,
        in_recovery: bool,
        sacked_segs: bool,
    ) -> u32 {
        if !self.reordering_seen && (in_recovery || sacked_segs) {
            return 0;
        }
        (min_rtt_us / 4)
            .saturating_mul(u32::from(self.reo_wnd_mult))
            .min(srtt_us)
    }

    /// A DSACK arrived (RFC 8985 §6.2 step 4): widen the window, once per round trip. It also
    /// counts as reordering seen (Linux's tcp_sacktag_one, for a retransmission D-SACKed): a
    /// segment RACK called lost was only late, so in recovery too the window must stay open;
    /// with a zero window one spurious resend, its original's late SACK counted for the resend,
    /// marks every segment still queued behind it lost.
    pub fn on_dsack(&mut self, snd_una: SeqNum, snd_nxt: SeqNum) {
        self.reordering_seen = true;
        if self.dsack_round_set && snd_una.ge(self.dsack_round) {
            self.dsack_round_set = false;
        }
        if !self.dsack_round_set {
            self.dsack_round_set = true;
            self.dsack_round = snd_nxt;
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// Whether this state must outlive an empty flight: a reduction a late D-SACK may still
    /// undo (RFC 3708; a reordered tail segment is D-SACKed after everything was ACKed), or a
    /// reordering window widened by D-SACKs, which lasts 16 recoveries (RFC 8985 §6.2 step 4).
    pub fn holds_history(&self) -> bool {
        self.undo.is_some() || self.reo_wnd_persist > 0
    }

    /// A recovery episode ended: a widened window decays after 16 of them.
    pub fn on_recovery_exit(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 1;
            }
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

    /// A (re)transmission of `[seq, end)` at `now_us`, with the connection's delivery `stamp`.
    pub fn on_send(&mut self, seq: SeqNum, end: SeqNum, tx: Tx, stamp: TxStamp) {
        let Tx { now_us, rtx, tsval } = tx;
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
                    stamp,
                    tsval,
                });
            }
            return;
        }
        // A retransmission: every record it overlaps was sent again now.
        let Some(mut i) = self.find(seq) else { return };
        while let Some(s) = self.segs.get_mut(i) {
            s.xmit = now_us;
            s.flags = (s.flags | RTX) & !LOST;
            s.stamp = stamp;
            s.tsval = tsval;
            if s.end.ge(end) {
                break;
            }
            i += 1;
        }
    }

    /// An ACK: drops what `snd_una` covers, marks the records `is_sacked` covers delivered, and
    /// advances RACK.xmit_ts over the segments newly delivered. A retransmitted segment counts
    /// only when acknowledged at least `min_rtt_us` after it was resent, since an earlier ACK
    /// may be for the original (RFC 8985 §6.2 step 2), and a cumulatively ACKed one only when
    /// the ACK's `tsecr` is not older than the resend's TSval. With `rate`, every newly
    /// delivered segment also feeds the delivery rate sample being gathered.
    pub fn on_ack(
        &mut self,
        snd_una: SeqNum,
        now_us: u32,
        min_rtt_us: u32,
        tsecr: Option<u32>,
        mut rate: Option<(&mut Rate, &mut Gather)>,
        mut is_sacked: impl FnMut(SeqNum, SeqNum) -> bool,
    ) {
        self.last_min_rtt_us = None;
        let mut sampled = |s: &Seg, start: SeqNum| {
            if let Some((r, g)) = rate.as_mut() {
                let rtx = s.flags & RTX != 0;
                r.on_delivered(g, &s.stamp, s.end - start, s.xmit, rtx, now_us);
            }
        };
        while let Some(s) = self.segs.front().copied() {
            if !s.end.le(snd_una) {
                break;
            }
            self.segs.pop_front();
            if s.flags & DELIVERED == 0 {
                sampled(&s, self.start);
                // RFC 8985 §6.2 step 2: a cumulative ACK echoes the TSval of the segment that
                // filled the hole (RFC 7323 §4.3), so an echo older than the resend says the
                // original was delivered, however long after the resend the ACK came. On a
                // queueing path (1-2 ms) min_RTT (tens of us) cannot tell them apart.
                let for_original = s.flags & RTX != 0
                    && tsecr.is_some_and(|e| (e.wrapping_sub(s.tsval) as i32) < 0);
                if !for_original {
                    self.delivered(&s, now_us, min_rtt_us);
                }
            }
            self.start = s.end;
        }
        if self.start.lt(snd_una) {
            self.start = snd_una;
        }
        let mut start = self.start;
        for i in 0..self.segs.len() {
            let s = self.segs[i];
            if s.flags & DELIVERED == 0 && is_sacked(start, s.end) {
                self.segs[i].flags |= DELIVERED;
                sampled(&s, start);
                self.delivered(&s, now_us, min_rtt_us);
            }
            start = s.end;
        }
    }

    /// RFC 8985 §6.2 steps 2 and 3 for one newly delivered segment.
    fn delivered(&mut self, s: &Seg, now_us: u32, min_rtt_us: u32) {
        if s.end.lt(self.fack) {
            if s.flags & RTX == 0 {
                self.reordering_seen = true;
            }
        } else {
            self.fack = s.end;
        }
        let rtt = now_us.wrapping_sub(s.xmit);
        if s.flags & RTX == 0 {
            self.last_min_rtt_us = Some(self.last_min_rtt_us.map_or(rtt, |m| m.min(rtt)));
        }
        // An ACK sooner than min_rtt after a retransmission is presumed for the original.
        // RFC 8985 §6.2 step 2 also skips a resend whose TSval is newer than the ACK's TSecr;
        // that test is applied only to cumulatively ACKed resends (in `on_ack`), not here to
        // SACKed ones: an RFC 7323 §4.3 receiver takes TS.Recent only from in-order segments,
        // so the SACK of any resend beyond a hole (a tail probe, say) echoes an older TSval,
        // and RACK would never see it delivered. rfc_recovery's rfc8985_7 tail-loss trace
        // turns into an RTO with it.
        if s.flags & RTX != 0 && rtt < min_rtt_us {
            return;
        }
        if !self.have
            || after(s.xmit, self.rack_xmit)
            || (s.xmit == self.rack_xmit && s.end.gt(self.rack_end))
        {
            self.have = true;
            self.rack_xmit = s.xmit;
            self.rack_end = s.end;
            self.rtt_us = rtt;
        }
    }

    /// RFC 8985 §6.2 step 5: marks lost every undelivered segment sent before the most recent
    /// delivered one once RACK.rtt + `reo_wnd_us` has passed since it was sent. Returns how
    /// many were newly marked, and how long until the next one might be (the reordering
    /// timer, RFC 8985 §6.3).
    pub fn detect_loss(&mut self, now_us: u32, reo_wnd_us: u32) -> (u32, Option<u32>) {
        if !self.have {
            return (0, None);
        }
        // Never sooner than the engine's timer granularity: with a near-zero RTT every
        // segment sent before a SACKed one would otherwise be "lost" on the spot.
        let wait_us = self.rtt_us.saturating_add(reo_wnd_us).max(MIN_WAIT_US);
        let mut n = 0;
        let mut next: Option<u32> = None;
        for s in self.segs.iter_mut() {
            if s.flags & (DELIVERED | LOST) != 0 {
                continue;
            }
            let before = after(self.rack_xmit, s.xmit)
                || (self.rack_xmit == s.xmit && s.end.lt(self.rack_end));
            if !before {
                continue;
            }
            let age = now_us.wrapping_sub(s.xmit);
            if age >= wait_us {
                s.flags |= LOST | EVER_LOST;
                n += 1;
            } else {
                let left = wait_us - age;
                next = Some(next.map_or(left, |x| x.min(left)));
            }
        }
        (n, next)
    }

    /// RFC 8985 §6.3 / Linux after an RTO: every undelivered segment is lost.
    pub fn mark_all_lost(&mut self) {
        for s in self.segs.iter_mut() {
            if s.flags & DELIVERED == 0 {
                s.flags |= LOST | EVER_LOST;
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

    /// Bytes of undelivered segments RACK found lost whose original transmission the caller
    /// still counts in flight (`counted(start)`): RFC 8985 §6: a segment RACK marked lost has
    /// left the network, so only its retransmission, if any, is in the pipe.
    pub fn lost_bytes(&self, mut counted: impl FnMut(SeqNum) -> bool) -> u32 {
        let mut start = self.start;
        let mut n = 0u32;
        for s in &self.segs {
            if s.flags & (EVER_LOST | DELIVERED) == EVER_LOST && counted(start) {
                n = n.saturating_add(s.end - start);
            }
            start = s.end;
        }
        n
    }

    /// Whether anything is marked lost and not yet resent.
    pub fn has_lost(&self) -> bool {
        self.segs.iter().any(|s| s.flags & LOST != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Heap bytes: this record (boxed in the Tcb) and its per-segment log.
    pub fn heap_bytes(&self) -> usize {
        core::mem::size_of::<Self>() + self.segs.capacity() * core::mem::size_of::<Seg>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(now_us: u32, rtx: bool) -> Tx {
        Tx {
            now_us,
            rtx,
            tsval: 0,
        }
    }

    /// Straddles the sequence wrap.
    fn s(n: u32) -> SeqNum {
        SeqNum(u32::MAX - 250) + n
    }

    /// RFC 8985 §6.2: a segment sent before a delivered one is lost once RTT + reo_wnd passed.
    #[test]
    fn earlier_segment_lost_after_rtt_plus_reo_wnd_rfc8985_6_2() {
        let mut r = Rack::new(s(0));
        for i in 0..4u32 {
            r.on_send(
                s(i * 100),
                s(i * 100 + 100),
                tx(10_000 + i * 10, false),
                TxStamp::default(),
            );
        }
        // Segment 2 (sent at 10020) SACKed at 15000: RACK.rtt = 4980 µs.
        r.on_ack(s(0), 15_000, 100, None, None, |a, b| {
            a.ge(s(200)) && b.le(s(300))
        });
        // Not yet: RACK.rtt + reo_wnd = 5980 has not passed for segments 0 and 1.
        assert_eq!(r.detect_loss(15_000, 1000), (0, Some(980)));
        assert_eq!(r.next_lost(), None);
        assert_eq!(r.detect_loss(16_000, 1000).0, 2);
        assert_eq!(r.next_lost(), Some((s(0), 100)));
        // Segment 3 was sent after the delivered one: not lost.
        r.on_send(s(0), s(100), tx(17_000, true), TxStamp::default());
        assert_eq!(r.next_lost(), Some((s(100), 100)));
        r.on_send(s(100), s(200), tx(17_010, true), TxStamp::default());
        assert_eq!(r.next_lost(), None);
        // The retransmissions are lost again when a later-sent segment is delivered
        // (RACK.rtt now 7000 µs, so 8000 µs after they were resent).
        r.on_send(s(400), s(500), tx(18_000, false), TxStamp::default());
        r.on_ack(s(0), 25_000, 100, None, None, |a, b| {
            a.ge(s(400)) && b.le(s(500))
        });
        assert_eq!(r.detect_loss(25_010, 1000).0, 3); // 0, 1 (resent) and 3 (sent at 10030)
        assert_eq!(r.next_lost(), Some((s(0), 100)));
        r.on_ack(s(500), 26_000, 100, None, None, |_, _| false);
        assert!(r.is_empty());
    }

    /// The wait never drops below the timer tick, however small the RTT.
    #[test]
    fn wait_is_at_least_one_millisecond() {
        let mut r = Rack::new(s(0));
        r.on_send(s(0), s(100), tx(0, false), TxStamp::default());
        r.on_send(s(100), s(200), tx(0, false), TxStamp::default());
        r.on_ack(s(0), 10, 0, None, None, |a, _| a.ge(s(100)));
        assert_eq!(r.detect_loss(10, 0), (0, Some(990)));
        assert_eq!(r.detect_loss(1000, 0).0, 1);
    }

    /// RFC 8985 §6.2 step 4: reo_wnd is min_rtt/4, zero in recovery unless reordering was
    /// seen, widened by DSACK once per round trip, capped at SRTT.
    #[test]
    fn reordering_window_rfc8985_6_2_step4() {
        let mut r = Rack::new(s(0));
        assert_eq!(r.reo_wnd(8000, 20_000, false, false), 2000);
        assert_eq!(r.reo_wnd(8000, 20_000, true, false), 0);
        assert_eq!(r.reo_wnd(8000, 20_000, false, true), 0);
        r.on_dsack(s(0), s(1000));
        assert_eq!(r.reo_wnd(8000, 20_000, false, false), 4000);
        // A D-SACK is reordering seen (Linux): the window stays open in recovery too.
        assert_eq!(r.reo_wnd(8000, 20_000, true, false), 4000);
        assert_eq!(r.reo_wnd(8000, 20_000, false, true), 4000);
        r.on_dsack(s(500), s(1000)); // same round: no further widening
        assert_eq!(r.reo_wnd(8000, 20_000, false, false), 4000);
        r.on_dsack(s(1000), s(2000));
        assert_eq!(r.reo_wnd(8000, 20_000, false, false), 6000);
        assert_eq!(r.reo_wnd(8000, 5000, false, false), 5000);
        for _ in 0..REO_WND_PERSIST {
            r.on_recovery_exit();
        }
        assert_eq!(r.reo_wnd(8000, 20_000, false, false), 2000);
        // A segment delivered below one delivered before it (and not resent) is reordering:
        // from then on the window applies in recovery too.
        let mut r = Rack::new(s(0));
        assert_eq!(r.reo_wnd(8000, 20_000, true, true), 0);
        r.on_send(s(0), s(100), tx(0, false), TxStamp::default());
        r.on_send(s(100), s(200), tx(0, false), TxStamp::default());
        r.on_ack(s(0), 5000, 0, None, None, |a, _| a.ge(s(100)));
        r.on_ack(s(200), 5100, 0, None, None, |_, _| false);
        assert_eq!(r.reo_wnd(8000, 20_000, true, true), 2000);
    }

    /// RFC 6937 §3.1: proportional while pipe > ssthresh, PRR-SSRB below it, and the first
    /// ACK of an episode always sends the fast retransmit.
    #[test]
    fn prr_send_quota_rfc6937_3_1() {
        let mss = 1000;
        let mut p = Prr {
            recover_fs: 20_000,
            ..Prr::default()
        };
        // First ACK: at least one segment.
        p.delivered = 1000;
        assert_eq!(p.sndcnt(19_000, 14_000, 1000, mss), 1000);
        p.out = 1000;
        // Proportional: delivered * ssthresh / RecoverFS - out = 4000 * 0.7 - 1000.
        p.delivered = 4000;
        assert_eq!(p.sndcnt(16_000, 14_000, 1000, mss), 1800);
        // Below ssthresh: grow back by at most delivered + MSS, up to ssthresh - pipe.
        p.delivered = 10_000;
        p.out = 9000;
        assert_eq!(p.sndcnt(10_000, 14_000, 1000, mss), 2000);
        assert_eq!(p.sndcnt(13_500, 14_000, 1000, mss), 500);
    }

    /// RFC 8985 §6.2 step 2: an ACK arriving sooner than min_rtt after a retransmission is
    /// presumed to be for the original, so it does not advance RACK.xmit_ts.
    #[test]
    fn quick_ack_of_retransmission_is_ignored() {
        let mut r = Rack::new(s(0));
        r.on_send(s(0), s(100), tx(0, false), TxStamp::default());
        r.on_send(s(100), s(200), tx(1, false), TxStamp::default());
        r.on_send(s(0), s(100), tx(500, true), TxStamp::default());
        r.on_ack(s(100), 510, 100, None, None, |_, _| false);
        assert_eq!(r.detect_loss(10_000, 100).0, 0);
    }

    /// RFC 8985 §6.2 step 2 by the echo: a cumulative ACK whose TSecr is older than the
    /// resend's TSval was for the original, even 600 us (6 x min_RTT) after the resend; it
    /// does not move RACK.xmit_ts to the resend, so segment 1, sent before the resend and
    /// still in flight, is not lost. An echo of the resend's TSval does move it.
    #[test]
    fn cumulative_ack_echoing_the_original_does_not_advance_rack_rfc8985_6_2_step2() {
        for (tsecr, lost) in [(10, 0), (15, 1)] {
            let mut r = Rack::new(s(0));
            let stamp = TxStamp::default();
            r.on_send(
                s(0),
                s(100),
                Tx {
                    now_us: 0,
                    rtx: false,
                    tsval: 10,
                },
                stamp,
            );
            r.on_send(
                s(100),
                s(200),
                Tx {
                    now_us: 10,
                    rtx: false,
                    tsval: 10,
                },
                stamp,
            );
            r.on_send(
                s(0),
                s(100),
                Tx {
                    now_us: 5000,
                    rtx: true,
                    tsval: 15,
                },
                stamp,
            );
            r.on_ack(s(100), 5600, 100, Some(tsecr), None, |_, _| false);
            assert_eq!(r.detect_loss(20_000, 0).0, lost, "TSecr {tsecr}");
        }
    }
}
