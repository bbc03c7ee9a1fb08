//! Sender-side SACK scoreboard (RFC 6675): which bytes above `snd.una` the peer has SACKed,
//! and the derived `IsLost`, `pipe` and `NextSeg()`.
//!
//! `high_rxt` convention: every method takes `high_rxt` as the sequence number just *after*
//! the highest retransmitted octet (the exclusive end of the last retransmission), so it
//! starts at `snd.una` when recovery begins and becomes `seq + len` after retransmitting
//! `[seq, seq + len)`. RFC 6675's HighRxt is the inclusive octet, i.e. `high_rxt - 1`:
//! "S1 <= HighRxt" here reads `S1 < high_rxt`, and NextSeg's "S2 > HighRxt" reads
//! `S2 >= high_rxt`.

use crate::seq::SeqNum;

/// RFC 6675 §2 DupThresh.
const DUP_THRESH: u64 = 3;

pub struct Scoreboard {
    /// SACKed ranges `[start, end)`, ascending in sequence order above `snd.una`, disjoint and
    /// non-adjacent. Unallocated while empty so idle connections own no memory.
    ranges: Vec<(SeqNum, SeqNum)>,
    /// Sum of the range lengths.
    sacked: u32,
    max_ranges: u32,
}

impl Scoreboard {
    /// `max_ranges` bounds memory; older/lower ranges are dropped when exceeded (at least one
    /// range is always kept).
    pub fn new(max_ranges: usize) -> Self {
        Scoreboard {
            ranges: Vec::new(),
            sacked: 0,
            max_ranges: max_ranges.clamp(1, u32::MAX as usize) as u32,
        }
    }

    /// Records SACK blocks from one ACK; blocks at or below `snd_una` or beyond `snd_nxt` are
    /// ignored: a block counts only if `snd_una < start < end <= snd_nxt` (an RFC 2883 D-SACK
    /// below una is recognised with [`Scoreboard::dsack`]).
    /// Returns the number of newly SACKed bytes. When the range limit forces the lowest range
    /// out, bytes it held may be reported again by a later SACK.
    pub fn on_sack(
        &mut self,
        snd_una: SeqNum,
        snd_nxt: SeqNum,
        blocks: &[(SeqNum, SeqNum)],
    ) -> u32 {
        // Keeps every stored range inside (snd_una, snd_nxt] so wrapping comparisons between
        // them stay meaningful even if the caller skipped `on_cumulative_ack`.
        self.on_cumulative_ack(snd_una);
        let mut newly = 0u32;
        for &(start, end) in blocks {
            if !(start.gt(snd_una) && start.lt(end) && end.le(snd_nxt)) {
                continue;
            }
            newly = newly.saturating_add(self.insert(start, end));
            while self.ranges.len() > self.max_ranges as usize {
                let (s, e) = self.ranges.remove(0);
                self.sacked -= e - s;
            }
        }
        newly
    }

    /// Adds `[start, end)`, merging with ranges it overlaps or touches; returns bytes added.
    fn insert(&mut self, start: SeqNum, end: SeqNum) -> u32 {
        let first = self.ranges.partition_point(|r| r.1.lt(start));
        let last = self.ranges.partition_point(|r| r.0.le(end));
        if first >= last {
            self.ranges.insert(first, (start, end));
            self.sacked += end - start;
            return end - start;
        }
        let merged = (
            start.min(self.ranges[first].0),
            end.max(self.ranges[last - 1].1),
        );
        let before: u32 = self.ranges[first..last].iter().map(|r| r.1 - r.0).sum();
        let added = (merged.1 - merged.0) - before;
        self.sacked += added;
        self.ranges.drain(first + 1..last);
        self.ranges[first] = merged;
        added
    }

    /// Drops state at or below the new `snd.una`.
    pub fn on_cumulative_ack(&mut self, snd_una: SeqNum) {
        let gone = self.ranges.partition_point(|r| r.1.le(snd_una));
        for r in &self.ranges[..gone] {
            self.sacked -= r.1 - r.0;
        }
        self.ranges.drain(..gone);
        if let Some(first) = self.ranges.first_mut() {
            if first.0.lt(snd_una) {
                self.sacked -= snd_una - first.0;
                first.0 = snd_una;
            }
        } else {
            self.clear();
        }
    }

    pub fn is_sacked(&self, seq: SeqNum) -> bool {
        let i = self.ranges.partition_point(|r| r.1.le(seq));
        self.ranges.get(i).is_some_and(|r| r.0.le(seq))
    }

    /// Where the un-SACKed run starting at or after `seq` begins, and how long it is at most
    /// (up to the next SACKed range; `u32::MAX` when none lies above).
    pub fn unsacked_from(&self, seq: SeqNum) -> (SeqNum, u32) {
        let i = self.ranges.partition_point(|r| r.1.le(seq));
        match self.ranges.get(i) {
            Some(r) if r.0.le(seq) => {
                let next = self.ranges.get(i + 1).map_or(u32::MAX, |n| n.0 - r.1);
                (r.1, next)
            }
            Some(r) => (seq, r.0 - seq),
            None => (seq, u32::MAX),
        }
    }

    /// Whether `[start, end)` lies inside one SACKed range.
    pub fn covers(&self, start: SeqNum, end: SeqNum) -> bool {
        let i = self.ranges.partition_point(|r| r.1.le(start));
        self.ranges
            .get(i)
            .is_some_and(|r| r.0.le(start) && end.le(r.1))
    }

    /// RFC 6675 IsLost(seq): DupThresh discontiguous SACKed segments, or more than
    /// (DupThresh - 1) * SMSS bytes SACKed, above `seq`. "Discontiguous SACKed sequences"
    /// are counted as distinct scoreboard ranges above `seq`.
    pub fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        let above = seq + 1u32;
        let mut count = 0u64;
        let mut bytes = 0u64;
        for &(s, e) in self.ranges.iter().rev() {
            if e.le(above) {
                break;
            }
            count += 1;
            bytes += u64::from(e - s.max(above));
            if lost(count, bytes, smss) {
                return true;
            }
        }
        false
    }

    /// Total SACKed bytes above `snd.una`.
    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    /// Highest SACKed sequence (end of the highest block, exclusive), if any.
    pub fn highest_sacked(&self) -> Option<SeqNum> {
        self.ranges.last().map(|r| r.1)
    }

    /// The SACKed ranges `[start, end)` in ascending sequence order.
    pub fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        &self.ranges
    }

    /// RFC 6675 SetPipe: bytes believed in flight. `high_rxt` is the end of the highest
    /// retransmission (see the module docs). Every un-SACKed octet in `[snd_una, snd_nxt)`
    /// counts once unless IsLost, and once more if it was retransmitted (below `high_rxt`).
    /// O(ranges): IsLost is constant across each hole between SACKed ranges.
    pub fn pipe(&self, snd_una: SeqNum, snd_nxt: SeqNum, high_rxt: SeqNum, smss: u32) -> u32 {
        if snd_nxt.le(snd_una) {
            return 0;
        }
        let mut pipe = 0u64;
        let mut hole = |from: SeqNum, to: SeqNum, is_lost: bool| {
            if from.lt(to) {
                if !is_lost {
                    pipe += u64::from(to - from);
                }
                if high_rxt.gt(from) {
                    pipe += u64::from(to.min(high_rxt) - from);
                }
            }
        };
        let (mut count, mut bytes) = (0u64, 0u64);
        let mut hole_end = snd_nxt;
        for (s, e) in self.clamped(snd_una, snd_nxt).rev() {
            hole(e, hole_end, lost(count, bytes, smss));
            count += 1;
            bytes += u64::from(e - s);
            hole_end = s;
        }
        hole(snd_una, hole_end, lost(count, bytes, smss));
        pipe.min(u64::from(u32::MAX)) as u32
    }

    /// RFC 6675 NextSeg() rule 1: the first un-SACKed, lost sequence range at or after
    /// `high_rxt` (and `snd_una`), below the highest SACKed octet, at most `smss` long.
    /// Returns `(start, len)`.
    pub fn next_lost(
        &self,
        snd_una: SeqNum,
        snd_nxt: SeqNum,
        high_rxt: SeqNum,
        smss: u32,
    ) -> Option<(SeqNum, u32)> {
        if snd_nxt.le(snd_una) || smss == 0 {
            return None;
        }
        let from = if high_rxt.gt(snd_una) {
            high_rxt
        } else {
            snd_una
        };
        let n = self.clamped(snd_una, snd_nxt).count() as u64;
        let mut bytes_above: u64 = self
            .clamped(snd_una, snd_nxt)
            .map(|(s, e)| u64::from(e - s))
            .sum();
        let mut hole_start = snd_una;
        // Only holes below a SACKed range qualify (rule 1.b), so the walk ends at the top one.
        for (i, (s, e)) in self.clamped(snd_una, snd_nxt).enumerate() {
            let start = hole_start.max(from);
            if start.lt(s) {
                if !lost(n - i as u64, bytes_above, smss) {
                    // IsLost only weakens going up: no higher hole is lost either.
                    return None;
                }
                return Some((start, (s - start).min(smss)));
            }
            bytes_above -= u64::from(e - s);
            hole_start = e;
        }
        None
    }

    /// RFC 2883 §4: the first SACK block is a D-SACK if it lies below the cumulative ACK or
    /// within the second block. Returns it (it reports a duplicate, not new data).
    pub fn dsack(snd_una: SeqNum, blocks: &[(SeqNum, SeqNum)]) -> Option<(SeqNum, SeqNum)> {
        let &(s, e) = blocks.first()?;
        if !s.lt(e) {
            return None;
        }
        let below_una = s.lt(snd_una);
        let inside_second = blocks.get(1).is_some_and(|&(s2, e2)| s2.le(s) && e.le(e2));
        (below_una || inside_second).then_some((s, e))
    }

    /// Ranges limited to `(snd_una, snd_nxt]`, for callers whose `snd_una` is newer than the
    /// last `on_cumulative_ack`.
    fn clamped(
        &self,
        snd_una: SeqNum,
        snd_nxt: SeqNum,
    ) -> impl DoubleEndedIterator<Item = (SeqNum, SeqNum)> + '_ {
        self.ranges.iter().filter_map(move |&(s, e)| {
            let (s, e) = (s.max(snd_una), e.min(snd_nxt));
            s.lt(e).then_some((s, e))
        })
    }

    pub fn clear(&mut self) {
        self.ranges = Vec::new();
        self.sacked = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * core::mem::size_of::<(SeqNum, SeqNum)>()
    }
}

/// IsLost given what is SACKed above a sequence number.
fn lost(ranges_above: u64, bytes_above: u64, smss: u32) -> bool {
    ranges_above >= DUP_THRESH || bytes_above > (DUP_THRESH - 1) * u64::from(smss)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMSS: u32 = 100;

    /// Bases that put the window at zero, mid-space and straddling the 2^32 wrap.
    const BASES: [u32; 5] = [0, 1_000_000, u32::MAX - 150, u32::MAX - 450, u32::MAX];

    fn s(base: u32, off: u32) -> SeqNum {
        SeqNum(base) + off
    }

    fn blocks(base: u32, offs: &[(u32, u32)]) -> Vec<(SeqNum, SeqNum)> {
        offs.iter()
            .map(|&(a, b)| (s(base, a), s(base, b)))
            .collect()
    }

    fn offs(base: u32, sb: &Scoreboard) -> Vec<(u32, u32)> {
        sb.ranges()
            .iter()
            .map(|&(a, b)| (a - SeqNum(base), b - SeqNum(base)))
            .collect()
    }

    #[test]
    fn new_scoreboard_is_empty_and_unallocated() {
        let sb = Scoreboard::new(8);
        assert!(sb.is_empty());
        assert_eq!(sb.sacked_bytes(), 0);
        assert_eq!(sb.highest_sacked(), None);
        assert_eq!(sb.heap_bytes(), 0);
    }

    #[test]
    fn on_sack_records_merges_and_counts_new_bytes_across_wrap() {
        for base in BASES {
            let (una, nxt) = (s(base, 0), s(base, 1000));
            let mut sb = Scoreboard::new(8);
            assert_eq!(sb.on_sack(una, nxt, &blocks(base, &[(200, 300)])), 100);
            // Repeating a block adds nothing.
            assert_eq!(sb.on_sack(una, nxt, &blocks(base, &[(200, 300)])), 0);
            assert_eq!(
                sb.on_sack(una, nxt, &blocks(base, &[(500, 600), (300, 350)])),
                150
            );
            assert_eq!(offs(base, &sb), vec![(200, 350), (500, 600)]);
            // Overlapping block bridging the two ranges.
            assert_eq!(sb.on_sack(una, nxt, &blocks(base, &[(340, 510)])), 150);
            assert_eq!(offs(base, &sb), vec![(200, 600)]);
            assert_eq!(sb.sacked_bytes(), 400);
            assert_eq!(sb.highest_sacked(), Some(s(base, 600)));
            assert!(sb.is_sacked(s(base, 200)));
            assert!(sb.is_sacked(s(base, 599)));
            assert!(!sb.is_sacked(s(base, 600)));
            assert!(!sb.is_sacked(s(base, 199)));
        }
    }

    #[test]
    fn on_sack_ignores_blocks_outside_una_nxt() {
        for base in BASES {
            let (una, nxt) = (s(base, 100), s(base, 1000));
            let mut sb = Scoreboard::new(8);
            let far = SeqNum(base ^ 0x8000_0000);
            let bad = [
                (s(base, 0), s(base, 100)),    // D-SACK below una
                (s(base, 50), s(base, 200)),   // straddles una
                (s(base, 100), s(base, 200)),  // starts at una: would have been ACKed
                (s(base, 900), s(base, 1001)), // beyond snd_nxt
                (s(base, 500), s(base, 500)),  // empty
                (s(base, 600), s(base, 500)),  // reversed
                (s(base, 1000), s(base, 1100)),
                (far, far + 10u32),
            ];
            assert_eq!(sb.on_sack(una, nxt, &bad), 0);
            assert!(sb.is_empty());
            // The edges themselves are fine: start just above una, end exactly at nxt.
            assert_eq!(
                sb.on_sack(una, nxt, &blocks(base, &[(101, 102), (999, 1000)])),
                2
            );
        }
    }

    #[test]
    fn cumulative_ack_trims_and_releases() {
        for base in BASES {
            let mut sb = Scoreboard::new(8);
            let b = blocks(base, &[(200, 300), (400, 500), (600, 700)]);
            sb.on_sack(s(base, 0), s(base, 1000), &b);
            sb.on_cumulative_ack(s(base, 300));
            assert_eq!(offs(base, &sb), vec![(400, 500), (600, 700)]);
            assert_eq!(sb.sacked_bytes(), 200);
            sb.on_cumulative_ack(s(base, 450));
            assert_eq!(offs(base, &sb), vec![(450, 500), (600, 700)]);
            assert_eq!(sb.sacked_bytes(), 150);
            sb.on_cumulative_ack(s(base, 700));
            assert!(sb.is_empty());
            assert_eq!(sb.sacked_bytes(), 0);
            assert_eq!(sb.heap_bytes(), 0);
        }
    }

    #[test]
    fn range_limit_drops_lowest_ranges() {
        let base = u32::MAX - 250;
        let mut sb = Scoreboard::new(2);
        let b = blocks(base, &[(100, 200), (300, 400), (500, 600)]);
        assert_eq!(sb.on_sack(s(base, 0), s(base, 1000), &b), 300);
        assert_eq!(offs(base, &sb), vec![(300, 400), (500, 600)]);
        assert_eq!(sb.sacked_bytes(), 200);
    }

    /// RFC 6675 §4 IsLost: three discontiguous SACKed sequences, or more than
    /// (DupThresh - 1) * SMSS bytes, above the sequence number.
    #[test]
    fn rfc6675_is_lost_needs_three_ranges_or_more_than_two_smss() {
        for base in BASES {
            let (una, nxt) = (s(base, 0), s(base, 1000));
            let mut sb = Scoreboard::new(8);
            sb.on_sack(una, nxt, &blocks(base, &[(100, 150), (200, 250)]));
            assert!(!sb.is_lost(s(base, 0), SMSS), "2 ranges, 100 bytes");
            sb.on_sack(una, nxt, &blocks(base, &[(300, 310)]));
            assert!(sb.is_lost(s(base, 0), SMSS), "3 discontiguous ranges");
            assert!(sb.is_lost(s(base, 99), SMSS));
            assert!(!sb.is_lost(s(base, 150), SMSS), "only 2 ranges above 150");

            let mut sb = Scoreboard::new(8);
            sb.on_sack(una, nxt, &blocks(base, &[(100, 300)]));
            assert!(!sb.is_lost(s(base, 0), SMSS), "exactly 2*SMSS is not more");
            sb.on_sack(una, nxt, &blocks(base, &[(300, 301)]));
            assert!(sb.is_lost(s(base, 0), SMSS), "2*SMSS + 1 bytes");
            assert!(sb.is_lost(s(base, 99), SMSS));
            // Inside the range only the bytes above count: 300 - 100 = 200.
            assert!(!sb.is_lost(s(base, 100), SMSS));
            assert!(!sb.is_lost(s(base, 300), SMSS));
        }
    }

    /// RFC 6675 §4 SetPipe with segments 0..10 of SMSS outstanding, 1..4 SACKed.
    #[test]
    fn rfc6675_set_pipe_counts_unlost_and_retransmitted_octets() {
        for base in BASES {
            let (una, nxt) = (s(base, 0), s(base, 1000));
            let mut sb = Scoreboard::new(8);
            assert_eq!(sb.pipe(una, nxt, una, SMSS), 1000, "nothing SACKed");
            sb.on_sack(una, nxt, &blocks(base, &[(100, 400)]));
            // Segment 0 is lost (300 > 200 bytes above); 400..1000 is not.
            assert_eq!(sb.pipe(una, nxt, una, SMSS), 600);
            // Segment 0 retransmitted: counts again via HighRxt.
            assert_eq!(sb.pipe(una, nxt, s(base, 100), SMSS), 700);
            // Retransmitting into the not-lost region counts those octets twice.
            assert_eq!(sb.pipe(una, nxt, s(base, 450), SMSS), 600 + 100 + 50);
            // SACKed octets never count, even below high_rxt.
            assert_eq!(sb.pipe(una, nxt, s(base, 400), SMSS), 700);

            // Holes between ranges: each hole judged by what lies above it.
            let mut sb = Scoreboard::new(8);
            sb.on_sack(
                una,
                nxt,
                &blocks(base, &[(100, 200), (300, 400), (500, 600)]),
            );
            // Hole 0..100 has 3 ranges above: lost. 200..300: 2 ranges, 200 bytes: not lost.
            // 400..500 and 600..1000: not lost.
            assert_eq!(sb.pipe(una, nxt, una, SMSS), 100 + 100 + 400);
            assert_eq!(
                sb.pipe(una, nxt, una, 50),
                100 + 400,
                "smaller SMSS: 200..300 lost"
            );
        }
    }

    #[test]
    fn rfc6675_next_seg_rule1_returns_lost_holes_below_highest_sack() {
        for base in BASES {
            let (una, nxt) = (s(base, 0), s(base, 1000));
            let mut sb = Scoreboard::new(8);
            assert_eq!(sb.next_lost(una, nxt, una, SMSS), None, "no SACK");
            sb.on_sack(una, nxt, &blocks(base, &[(250, 550)]));
            assert_eq!(sb.next_lost(una, nxt, una, SMSS), Some((s(base, 0), 100)));
            assert_eq!(
                sb.next_lost(una, nxt, s(base, 100), SMSS),
                Some((s(base, 100), 100))
            );
            assert_eq!(
                sb.next_lost(una, nxt, s(base, 200), SMSS),
                Some((s(base, 200), 50)),
                "capped at the SACKed range"
            );
            // Above the highest SACK nothing qualifies (rule 1.b).
            assert_eq!(sb.next_lost(una, nxt, s(base, 250), SMSS), None);

            // A hole not yet lost is skipped by rule 1.
            let mut sb = Scoreboard::new(8);
            sb.on_sack(una, nxt, &blocks(base, &[(100, 200), (300, 400)]));
            assert_eq!(sb.next_lost(una, nxt, una, SMSS), None);
            sb.on_sack(una, nxt, &blocks(base, &[(500, 510)]));
            assert_eq!(sb.next_lost(una, nxt, una, SMSS), Some((s(base, 0), 100)));
            // 200..300 has only two ranges (110 bytes) above: not lost.
            assert_eq!(sb.next_lost(una, nxt, s(base, 100), SMSS), None);
        }
    }

    #[test]
    fn rfc2883_dsack_detection() {
        let una = SeqNum(u32::MAX - 10);
        assert_eq!(
            Scoreboard::dsack(una, &[(una - 100u32, una - 50u32)]),
            Some((una - 100u32, una - 50u32))
        );
        let inner = (una + 20u32, una + 30u32);
        let outer = (una + 10u32, una + 40u32);
        assert_eq!(Scoreboard::dsack(una, &[inner, outer]), Some(inner));
        assert_eq!(Scoreboard::dsack(una, &[outer, inner]), None);
        assert_eq!(Scoreboard::dsack(una, &[inner]), None);
        assert_eq!(Scoreboard::dsack(una, &[]), None);
    }

    /// Octet-wise reference implementing RFC 6675 IsLost literally.
    fn model_is_lost(held: &[bool], seq: usize, smss: u32) -> bool {
        let mut count = 0u64;
        let mut bytes = 0u64;
        let mut prev = false;
        for &h in &held[seq + 1..] {
            if h {
                bytes += 1;
                if !prev {
                    count += 1;
                }
            }
            prev = h;
        }
        count >= 3 || bytes > 2 * u64::from(smss)
    }

    fn model_ranges(held: &[bool]) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        let mut i = 0;
        while i < held.len() {
            if held[i] {
                let st = i;
                while i < held.len() && held[i] {
                    i += 1;
                }
                v.push((st as u32, i as u32));
            } else {
                i += 1;
            }
        }
        v
    }

    proptest::proptest! {
        #[test]
        fn on_sack_matches_bitmap_model(
            base_pick in 0usize..5,
            window in 1u32..600,
            max_ranges in 1usize..6,
            acks in proptest::collection::vec(
                (0u32..40, proptest::collection::vec((0u32..700, 0u32..700), 0..4)),
                1..25,
            ),
        ) {
            let base = BASES[base_pick];
            let mut sb = Scoreboard::new(max_ranges);
            // Bitmap over offsets from the base; `una` moves up.
            let mut held = vec![false; 2000];
            let mut una = 0u32;
            let nxt = window;
            for (advance, raw) in acks {
                let new_una = (una + advance).min(nxt);
                sb.on_cumulative_ack(s(base, new_una));
                for h in &mut held[..new_una as usize] {
                    *h = false;
                }
                una = new_una;
                let mut want_new = 0u32;
                for &(a, b) in &raw {
                    if !(a > una && a < b && b <= nxt) {
                        continue;
                    }
                    for h in &mut held[a as usize..b as usize] {
                        if !*h {
                            want_new += 1;
                            *h = true;
                        }
                    }
                    let r = model_ranges(&held);
                    if r.len() > max_ranges {
                        for h in &mut held[r[0].0 as usize..r[0].1 as usize] {
                            *h = false;
                        }
                    }
                }
                let got_new = sb.on_sack(s(base, una), s(base, nxt), &blocks(base, &raw));
                proptest::prop_assert_eq!(got_new, want_new);
                proptest::prop_assert_eq!(offs(base, &sb), model_ranges(&held));
                let total = held.iter().filter(|&&h| h).count() as u32;
                proptest::prop_assert_eq!(sb.sacked_bytes(), total);
                for off in una..nxt {
                    proptest::prop_assert_eq!(sb.is_sacked(s(base, off)), held[off as usize]);
                }
            }
        }

        #[test]
        fn pipe_and_next_seg_match_octetwise_rfc6675(
            base_pick in 0usize..5,
            window in 1u32..800,
            smss in 1u32..120,
            rxt in 0u32..800,
            raw in proptest::collection::vec((1u32..800, 1u32..200), 0..8),
        ) {
            let base = BASES[base_pick];
            let (una, nxt) = (s(base, 0), s(base, window));
            let mut sb = Scoreboard::new(64);
            let mut held = vec![false; window as usize];
            let bl: Vec<_> = raw
                .iter()
                .map(|&(a, l)| (a.min(window), (a + l).min(window)))
                .filter(|&(a, b)| a < b)
                .collect();
            for &(a, b) in &bl {
                for h in held.iter_mut().take(b as usize).skip(a as usize) {
                    *h = true;
                }
            }
            sb.on_sack(una, nxt, &blocks(base, &bl));
            let high_rxt = rxt.min(window);
            let hr = s(base, high_rxt);
            let mut want_pipe = 0u32;
            for off in 0..window as usize {
                let lost_here = model_is_lost(&held, off, smss);
                proptest::prop_assert_eq!(sb.is_lost(s(base, off as u32), smss), lost_here);
                if held[off] {
                    continue;
                }
                if !lost_here {
                    want_pipe += 1;
                }
                if (off as u32) < high_rxt {
                    want_pipe += 1;
                }
            }
            proptest::prop_assert_eq!(sb.pipe(una, nxt, hr, smss), want_pipe);

            let highest = held.iter().rposition(|&h| h).map_or(0, |p| p + 1);
            let pick = || {
                (high_rxt as usize..highest)
                    .find(|&o| !held[o] && model_is_lost(&held, o, smss))
                    .map(|o| {
                        let end = (o..highest).find(|&e| held[e]).unwrap_or(highest);
                        (s(base, o as u32), ((end - o) as u32).min(smss))
                    })
            };
            proptest::prop_assert_eq!(sb.next_lost(una, nxt, hr, smss), pick());
        }
    }
}
