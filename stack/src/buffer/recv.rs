//! Receive buffer with bounded out-of-order reassembly. Offsets are relative to `rcv.nxt`:
//! offset 0 is the next byte expected in order.
//!
//! The room for data is `limit - len` from `rcv.nxt`, out-of-order bytes included: they lie
//! inside that span, so they are not subtracted again (which would refuse data the window
//! advertised). Out-of-order ranges keep their own storage, sized to what arrived, so a byte
//! far to the right costs one byte, not a zero-filled hole the width of the window.

use std::collections::VecDeque;

use super::grow_for;

pub struct RecvBuffer {
    /// The readable (in-order, unread) bytes. Empty and unallocated when nothing is held.
    buf: VecDeque<u8>,
    /// Reassembly bookkeeping exists only while out-of-order data is held, keeping the common
    /// in-order connection one pointer wide here.
    ooo: Option<Box<Ooo>>,
    limit: u32,
    max_ooo: u32,
}

struct Ooo {
    /// Sorted, disjoint, non-adjacent; every `start > 0` (offset 0 would be in order).
    ranges: Vec<OooRange>,
    /// Sum of the range lengths.
    bytes: usize,
    /// Source of `OooRange::stamp`; 64 bits so it never wraps.
    clock: u64,
}

#[derive(Debug)]
struct OooRange {
    start: u32,
    data: Vec<u8>,
    /// When the range last received data; orders SACK blocks (RFC 2018 §4). Unique per range.
    stamp: u64,
}

impl OooRange {
    fn end(&self) -> u32 {
        self.start + self.data.len() as u32
    }
}

/// Result of offering a segment's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Bytes that became readable in order by this call (the amount `rcv.nxt` advances),
    /// including previously queued out-of-order data that is now contiguous.
    pub in_order: usize,
    /// Whether out-of-order data was stored (or was a duplicate of stored data).
    pub out_of_order: bool,
    /// Bytes refused because the buffer limit or reassembly limit was reached.
    pub dropped: usize,
}

impl RecvBuffer {
    /// `limit`: most bytes of sequence space held from `rcv.nxt` less the unread bytes
    /// (readable + out-of-order). `max_ooo_ranges`: most disjoint out-of-order ranges kept
    /// (bounds reassembly memory and work). Limits above `u32::MAX` are clamped to it.
    /// Allocates nothing.
    pub fn new(limit: usize, max_ooo_ranges: usize) -> Self {
        RecvBuffer {
            buf: VecDeque::new(),
            ooo: None,
            limit: limit.min(u32::MAX as usize) as u32,
            max_ooo: max_ooo_ranges.min(u32::MAX as usize) as u32,
        }
    }

    /// Offers `data` that starts `offset` bytes after `rcv.nxt` (offset may be 0).
    /// Data at or beyond `limit - len` from `rcv.nxt` is cut off and counted in `dropped`.
    /// Bytes already held (out of order) are kept as first written; only the gaps are filled.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Written {
        let room = self.window();
        if offset >= room || data.is_empty() {
            return Written {
                in_order: 0,
                out_of_order: false,
                dropped: data.len(),
            };
        }
        let keep = data.len().min(room - offset);
        let dropped = data.len() - keep;
        let data = &data[..keep];
        if offset > 0 {
            let end = offset + keep;
            let ranges = self.ooo.as_ref().map_or(&[][..], |o| &o.ranges[..]);
            let touches = ranges
                .iter()
                .any(|r| r.start as usize <= end && r.end() as usize >= offset);
            if !touches && ranges.len() >= self.max_ooo as usize {
                return Written {
                    in_order: 0,
                    out_of_order: false,
                    dropped: data.len() + dropped,
                };
            }
            self.insert_ooo(offset, data);
            return Written {
                in_order: 0,
                out_of_order: true,
                dropped,
            };
        }
        // In order: up to the first held range goes to the readable ring; the rest is merged
        // into that range (which keeps the bytes it already has) and then absorbed.
        let first = self
            .ooo
            .as_ref()
            .and_then(|o| o.ranges.first())
            .map_or(usize::MAX, |r| r.start as usize);
        let direct = data.len().min(first);
        grow_for(&mut self.buf, direct, self.limit as usize);
        self.buf.extend(&data[..direct]);
        if direct < data.len() {
            self.insert_ooo(direct, &data[direct..]);
        }
        Written {
            in_order: self.join_in_order(direct),
            out_of_order: false,
            dropped,
        }
    }

    /// In-order data now reaches `end`: appends out-of-order ranges that became contiguous and
    /// re-bases the rest on the new `rcv.nxt`. Returns how far `rcv.nxt` advanced.
    fn join_in_order(&mut self, end: usize) -> usize {
        let Some(ooo) = self.ooo.as_mut() else {
            return end;
        };
        let mut reach = end;
        let mut absorbed = 0;
        for r in &ooo.ranges {
            if r.start as usize > reach {
                break;
            }
            let r_end = r.end() as usize;
            if r_end > reach {
                let tail = &r.data[reach - r.start as usize..];
                grow_for(&mut self.buf, tail.len(), self.limit as usize);
                self.buf.extend(tail);
                reach = r_end;
            }
            ooo.bytes -= r.data.len();
            absorbed += 1;
        }
        ooo.ranges.drain(..absorbed);
        if ooo.ranges.is_empty() {
            self.ooo = None;
        } else {
            let shift = reach as u32;
            for r in &mut ooo.ranges {
                r.start -= shift;
            }
        }
        reach
    }

    /// Stores `data` at `start` (> 0) out of order, merging with ranges it overlaps or touches
    /// and filling only their gaps. Callers have checked the limits.
    fn insert_ooo(&mut self, start: usize, data: &[u8]) {
        let ooo = self.ooo.get_or_insert_with(|| {
            Box::new(Ooo {
                ranges: Vec::new(),
                bytes: 0,
                clock: 0,
            })
        });
        ooo.clock += 1;
        let stamp = ooo.clock;
        let (start, end) = (start as u32, (start + data.len()) as u32);
        let first = ooo.ranges.partition_point(|r| r.end() < start);
        let last = ooo.ranges.partition_point(|r| r.start <= end);
        if first >= last {
            ooo.bytes += data.len();
            let range = OooRange {
                start,
                data: data.to_vec(),
                stamp,
            };
            ooo.ranges.insert(first, range);
            return;
        }
        // The common case after one loss: the next segment extends the range at its tail.
        if last - first == 1 && ooo.ranges[first].start <= start {
            let r = &mut ooo.ranges[first];
            let r_end = r.end();
            if end > r_end {
                r.data.extend_from_slice(&data[(r_end - start) as usize..]);
                ooo.bytes += (end - r_end) as usize;
            }
            r.stamp = stamp;
            return;
        }
        let m_start = start.min(ooo.ranges[first].start);
        let m_end = end.max(ooo.ranges[last - 1].end());
        let mut merged = Vec::with_capacity((m_end - m_start) as usize);
        let mut at = m_start;
        // Gaps between touching ranges lie inside [start, end], so `data` covers them.
        let from_data = |a: u32, b: u32| &data[(a - start) as usize..(b - start) as usize];
        for r in ooo.ranges.drain(first..last) {
            if at < r.start {
                merged.extend_from_slice(from_data(at, r.start));
            }
            ooo.bytes -= r.data.len();
            at = r.end();
            merged.extend_from_slice(&r.data);
        }
        if at < m_end {
            merged.extend_from_slice(from_data(at, m_end));
        }
        ooo.bytes += merged.len();
        let range = OooRange {
            start: m_start,
            data: merged,
            stamp,
        };
        ooo.ranges.insert(first, range);
    }

    /// Readable (in-order, unread) bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// Sequence space from `rcv.nxt` the buffer will take: `limit - len`. Out-of-order bytes
    /// lie inside it and are not counted again.
    pub fn window(&self) -> usize {
        (self.limit as usize).saturating_sub(self.len())
    }
    pub fn limit(&self) -> usize {
        self.limit as usize
    }
    /// Bytes held out of order (not counting the holes between them).
    pub fn ooo_bytes(&self) -> usize {
        self.ooo.as_ref().map_or(0, |o| o.bytes)
    }
    /// Readable bytes as at most two slices.
    pub fn readable(&self) -> (&[u8], &[u8]) {
        self.buf.as_slices()
    }
    /// Marks `n` readable bytes as read (clamped to `len()`). Releases storage when nothing
    /// is left.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        if n == self.buf.len() {
            self.buf = VecDeque::new();
        } else {
            self.buf.drain(..n);
        }
    }
    /// Whether any out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        self.ooo.is_some()
    }
    /// Out-of-order ranges as (start, end) offsets relative to `rcv.nxt`, the range most
    /// recently written first (RFC 2018 §4 order), at most `max` of them. Returns how many
    /// entries of `out` were filled.
    pub fn sack_ranges(&self, max: usize, out: &mut [(usize, usize)]) -> usize {
        let Some(ooo) = self.ooo.as_ref() else {
            return 0;
        };
        let n = max.min(out.len()).min(ooo.ranges.len());
        // Stamps are unique, so "newest below the previous pick" walks them in order; the
        // lists are a handful long, which beats sorting a copy.
        let mut below = u64::MAX;
        for slot in out.iter_mut().take(n) {
            let r = ooo
                .ranges
                .iter()
                .filter(|r| r.stamp < below)
                .max_by_key(|r| r.stamp);
            let Some(r) = r else { return 0 };
            below = r.stamp;
            *slot = (r.start as usize, r.end() as usize);
        }
        n
    }
    /// Drops everything and releases storage.
    pub fn clear(&mut self) {
        self.buf = VecDeque::new();
        self.ooo = None;
    }
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
            + self.ooo.as_ref().map_or(0, |o| {
                core::mem::size_of::<Ooo>()
                    + o.ranges.capacity() * core::mem::size_of::<OooRange>()
                    + o.ranges.iter().map(|r| r.data.capacity()).sum::<usize>()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let (x, y) = b.readable();
        let mut v = x.to_vec();
        v.extend_from_slice(y);
        b.consume(v.len());
        v
    }

    fn sacks(b: &RecvBuffer) -> Vec<(usize, usize)> {
        let mut out = [(0, 0); 16];
        let n = b.sack_ranges(16, &mut out);
        out[..n].to_vec()
    }

    fn w(in_order: usize, out_of_order: bool, dropped: usize) -> Written {
        Written {
            in_order,
            out_of_order,
            dropped,
        }
    }

    #[test]
    fn new_buffer_owns_no_memory() {
        let b = RecvBuffer::new(65535, 8);
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.window(), 65535);
        assert_eq!(b.limit(), 65535);
        assert!(b.is_empty());
        assert!(!b.has_out_of_order());
    }

    #[test]
    fn in_order_data_is_readable_and_shrinks_window() {
        let mut b = RecvBuffer::new(100, 4);
        assert_eq!(b.write_at(0, b"hello"), w(5, false, 0));
        assert_eq!(b.write_at(0, b" world"), w(6, false, 0));
        assert_eq!(b.len(), 11);
        assert_eq!(b.window(), 89);
        assert_eq!(read_all(&mut b), b"hello world");
        assert_eq!(b.window(), 100);
        assert_eq!(b.heap_bytes(), 0, "drained buffer must release its storage");
    }

    #[test]
    fn partial_consume_keeps_the_rest() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(0, b"abcdef");
        b.consume(2);
        assert_eq!(b.readable().0, b"cdef");
        b.consume(100);
        assert!(b.is_empty());
        assert_eq!(b.heap_bytes(), 0);
    }

    #[test]
    fn out_of_order_segment_waits_for_the_hole() {
        let mut b = RecvBuffer::new(100, 4);
        assert_eq!(b.write_at(5, b"fghij"), w(0, true, 0));
        assert_eq!(b.len(), 0);
        assert!(b.has_out_of_order());
        assert_eq!(
            b.window(),
            100,
            "held out-of-order bytes lie inside the window"
        );
        assert_eq!(b.ooo_bytes(), 5);
        assert_eq!(sacks(&b), vec![(5, 10)]);
        // Filling the hole makes both the new and the queued bytes readable.
        assert_eq!(b.write_at(0, b"abcde"), w(10, false, 0));
        assert!(!b.has_out_of_order());
        assert_eq!(sacks(&b), vec![]);
        assert_eq!(b.window(), 90);
        assert_eq!(read_all(&mut b), b"abcdefghij");
        assert_eq!(b.heap_bytes(), 0);
    }

    #[test]
    fn partial_fill_rebases_remaining_ranges_on_new_rcv_nxt() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(3, b"DE");
        b.write_at(10, b"KL");
        assert_eq!(b.write_at(0, b"abc"), w(5, false, 0));
        assert_eq!(sacks(&b), vec![(5, 7)]);
        assert_eq!(read_all(&mut b), b"abcDE");
        assert_eq!(b.write_at(0, b"fghij"), w(7, false, 0));
        assert_eq!(read_all(&mut b), b"fghijKL");
        assert_eq!(b.heap_bytes(), 0);
    }

    #[test]
    fn adjacent_and_overlapping_ranges_merge() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(10, b"0123");
        b.write_at(14, b"4567"); // adjacent
        assert_eq!(sacks(&b), vec![(10, 18)]);
        b.write_at(20, b"ab");
        assert_eq!(sacks(&b), vec![(20, 22), (10, 18)]);
        b.write_at(17, b"XYZ"); // bridges both: 17 overlaps, 20 adjacent
        assert_eq!(sacks(&b), vec![(10, 22)]);
        assert_eq!(b.ooo_bytes(), 12);
        assert_eq!(b.window(), 100);
    }

    #[test]
    fn overlapping_data_keeps_first_written_bytes() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(2, b"CD");
        b.write_at(6, b"GH");
        // Overlaps both held ranges with different content: only the holes take it.
        assert_eq!(b.write_at(1, b"xxxxxxxxx"), w(0, true, 0));
        assert_eq!(sacks(&b), vec![(1, 10)]);
        assert_eq!(b.write_at(0, b"a"), w(10, false, 0));
        assert_eq!(read_all(&mut b), b"axCDxxGHxx");
    }

    #[test]
    fn duplicate_out_of_order_is_reported_and_moves_to_front_of_sack_list() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(10, b"aa");
        b.write_at(20, b"bb");
        assert_eq!(sacks(&b), vec![(20, 22), (10, 12)]);
        assert_eq!(b.write_at(10, b"zz"), w(0, true, 0));
        assert_eq!(sacks(&b), vec![(10, 12), (20, 22)]);
        assert_eq!(b.ooo_bytes(), 4, "a duplicate must not be counted twice");
    }

    #[test]
    fn rfc2018_sack_order_most_recent_first_and_max_respected() {
        let mut b = RecvBuffer::new(1000, 8);
        for off in [100, 300, 200, 400] {
            b.write_at(off, &[1; 10]);
        }
        assert_eq!(
            sacks(&b),
            vec![(400, 410), (200, 210), (300, 310), (100, 110)]
        );
        let mut out = [(0, 0); 8];
        assert_eq!(b.sack_ranges(3, &mut out), 3);
        assert_eq!(&out[..3], &[(400, 410), (200, 210), (300, 310)]);
        let mut small = [(0, 0); 2];
        assert_eq!(b.sack_ranges(8, &mut small), 2);
        assert_eq!(small, [(400, 410), (200, 210)]);
    }

    #[test]
    fn in_order_duplicate_of_queued_data_is_not_an_error() {
        let mut b = RecvBuffer::new(100, 4);
        b.write_at(0, b"abc");
        // The caller trims already-received bytes; re-sending queued bytes is a no-op.
        b.write_at(2, b"XY");
        assert_eq!(sacks(&b), vec![(2, 4)]);
    }

    #[test]
    fn data_beyond_limit_is_truncated_and_counted() {
        let mut b = RecvBuffer::new(10, 4);
        assert_eq!(b.write_at(0, b"0123456789abc"), w(10, false, 3));
        assert_eq!(b.window(), 0);
        assert_eq!(b.write_at(0, b"x"), w(0, false, 1));
        b.consume(4);
        // Room is now 4 bytes after rcv.nxt: offset 2 fits two bytes of five.
        assert_eq!(b.write_at(2, b"CDEFG"), w(0, true, 3));
        assert_eq!(b.write_at(4, b"Z"), w(0, false, 1));
        assert_eq!(b.write_at(0, b"ABCDEF"), w(4, false, 2));
        assert_eq!(read_all(&mut b), b"456789ABCD");
    }

    #[test]
    fn out_of_order_range_limit_drops_new_ranges_but_accepts_merges() {
        let mut b = RecvBuffer::new(1000, 2);
        b.write_at(10, b"a");
        b.write_at(20, b"b");
        assert_eq!(b.write_at(30, b"ccc"), w(0, false, 3));
        assert_eq!(sacks(&b), vec![(20, 21), (10, 11)]);
        // Extending an existing range and in-order data are still accepted.
        assert_eq!(b.write_at(21, b"bb"), w(0, true, 0));
        assert_eq!(b.write_at(0, &[0; 5]), w(5, false, 0));
        assert_eq!(sacks(&b), vec![(15, 18), (5, 6)]);
    }

    #[test]
    fn zero_out_of_order_ranges_means_in_order_only() {
        let mut b = RecvBuffer::new(1000, 0);
        assert_eq!(b.write_at(1, b"x"), w(0, false, 1));
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.write_at(0, b"x"), w(1, false, 0));
    }

    #[test]
    fn empty_write_changes_nothing() {
        let mut b = RecvBuffer::new(10, 2);
        assert_eq!(b.write_at(0, b""), w(0, false, 0));
        assert_eq!(b.write_at(5, b""), w(0, false, 0));
        assert_eq!(b.write_at(usize::MAX, b"ab"), w(0, false, 2));
        assert_eq!(b.heap_bytes(), 0);
    }

    #[test]
    fn ring_wraps_and_out_of_order_lands_across_the_wrap() {
        let mut b = RecvBuffer::new(300, 4);
        let stream: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
        b.write_at(0, &stream[..250]);
        b.consume(240);
        let cap = b.heap_bytes();
        // Ten bytes unread at the physical end; the next 280 bytes wrap around.
        assert_eq!(b.write_at(100, &stream[350..400]), w(0, true, 0));
        assert_eq!(b.write_at(0, &stream[250..350]), w(150, false, 0));
        assert_eq!(
            b.heap_bytes(),
            cap,
            "refill within capacity must not reallocate"
        );
        let (_, y) = b.readable();
        assert!(!y.is_empty(), "expected readable bytes to wrap the ring");
        assert_eq!(read_all(&mut b), stream[240..400].to_vec());
        assert_eq!(b.heap_bytes(), 0);
    }

    #[test]
    fn small_transfer_does_not_allocate_the_whole_limit() {
        let mut b = RecvBuffer::new(4 << 20, 8);
        b.write_at(0, &[1; 64]);
        assert!(b.heap_bytes() < 4096, "heap {}", b.heap_bytes());
        b.clear();
        assert_eq!(b.heap_bytes(), 0);
        b.write_at(3000, &[1; 64]);
        assert!(b.has_out_of_order());
        b.clear();
        assert_eq!(b.heap_bytes(), 0);
        assert!(!b.has_out_of_order());
        assert_eq!(b.window(), 4 << 20);
    }

    /// Byte-level reference: which stream positions are held out of order.
    struct Model {
        limit: usize,
        max_ooo: usize,
        read: usize,
        nxt: usize,
        held: Vec<bool>,
    }

    impl Model {
        fn ranges(&self) -> Vec<(usize, usize)> {
            let mut v = Vec::new();
            let mut i = self.nxt;
            while i < self.held.len() {
                if self.held[i] {
                    let s = i;
                    while i < self.held.len() && self.held[i] {
                        i += 1;
                    }
                    v.push((s - self.nxt, i - self.nxt));
                } else {
                    i += 1;
                }
            }
            v
        }
        fn write(&mut self, offset: usize, len: usize) -> Written {
            let room = self.limit - (self.nxt - self.read);
            if offset >= room || len == 0 {
                return w(0, false, len);
            }
            let keep = len.min(room - offset);
            let (s, e) = (offset, offset + keep);
            if s > 0 {
                let r = self.ranges();
                let touches = r.iter().any(|&(a, b)| a <= e && b >= s);
                if !touches && r.len() >= self.max_ooo {
                    return w(0, false, len);
                }
                for i in s..e {
                    self.held[self.nxt + i] = true;
                }
                return w(0, true, len - keep);
            }
            let old = self.nxt;
            self.nxt += e;
            while self.nxt < self.held.len() && self.held[self.nxt] {
                self.nxt += 1;
            }
            for h in &mut self.held[old..self.nxt] {
                *h = false;
            }
            w(self.nxt - old, false, len - keep)
        }
    }

    proptest::proptest! {
        #[test]
        fn reassembly_reproduces_the_stream(
            stream_len in 1usize..3000,
            limit in 1usize..1500,
            max_ooo in 0usize..6,
            segs in proptest::collection::vec((0.0f64..1.0, 1usize..400, 0usize..300), 1..80),
        ) {
            let stream: Vec<u8> = (0..stream_len).map(|i| (i * 31 % 253) as u8).collect();
            let mut b = RecvBuffer::new(limit, max_ooo);
            let mut m = Model { limit, max_ooo, read: 0, nxt: 0, held: vec![false; stream_len] };
            let mut out = Vec::new();
            // Random segments in random order (duplicates and overlaps come naturally).
            for (f, len, rd) in segs {
                let abs = (f * stream_len as f64) as usize;
                let end = (abs + len).min(stream_len);
                if end <= m.nxt {
                    continue; // wholly old: the TCB would not offer it
                }
                let abs = abs.max(m.nxt); // the TCB trims the already-received front
                let offset = abs - m.nxt;
                let got = b.write_at(offset, &stream[abs..end]);
                let want = m.write(offset, end - abs);
                proptest::prop_assert_eq!(got, want);
                proptest::prop_assert_eq!(b.len(), m.nxt - m.read);
                let mut sr = sacks(&b);
                sr.sort_unstable();
                proptest::prop_assert_eq!(sr, m.ranges());
                let ooo: usize = m.ranges().iter().map(|&(a, b)| b - a).sum();
                proptest::prop_assert_eq!(b.window(), limit - b.len());
                proptest::prop_assert_eq!(b.ooo_bytes(), ooo);
                proptest::prop_assert!(b.window() <= limit);
                proptest::prop_assert_eq!(b.has_out_of_order(), ooo > 0);
                // Read part of what is readable.
                let (x, y) = b.readable();
                let mut r = x.to_vec();
                r.extend_from_slice(y);
                r.truncate(rd);
                b.consume(r.len());
                m.read += r.len();
                out.extend_from_slice(&r);
                proptest::prop_assert_eq!(&out[..], &stream[..out.len()]);
                if b.is_empty() && ooo == 0 {
                    proptest::prop_assert_eq!(b.heap_bytes(), 0);
                }
            }
            // Then an in-order pass: the whole stream must come out, whatever was dropped.
            while m.nxt < stream_len {
                out.extend(read_all(&mut b));
                m.read = m.nxt;
                let end = (m.nxt + 97).min(stream_len);
                let got = b.write_at(0, &stream[m.nxt..end]);
                let want = m.write(0, end - m.nxt);
                proptest::prop_assert_eq!(got, want);
            }
            out.extend(read_all(&mut b));
            proptest::prop_assert_eq!(out, stream);
            proptest::prop_assert_eq!(b.heap_bytes(), 0);
        }
    }
}
