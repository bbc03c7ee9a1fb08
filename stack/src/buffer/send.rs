//! Send buffer: bytes the app wrote that the peer has not yet acknowledged. Offset 0 is the
//! byte at `snd.una`.

use std::collections::VecDeque;

use super::{grow_for, sub_slices, BufPool};

pub struct SendBuffer {
    /// Empty with no allocation whenever nothing is buffered, so idle connections own no memory.
    buf: VecDeque<u8>,
    /// u32 keeps the struct small; TCP windows are far below 4 GiB anyway.
    limit: u32,
}

impl SendBuffer {
    /// No allocation until the first write; `limit` bounds `len()`. Limits above `u32::MAX`
    /// are clamped to it.
    pub fn new(limit: usize) -> Self {
        SendBuffer {
            buf: VecDeque::new(),
            limit: limit.min(u32::MAX as usize) as u32,
        }
    }
    /// Appends as much of `data` as fits under the limit; returns bytes taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let take = data.len().min(self.free());
        if take == 0 {
            return 0;
        }
        grow_for(&mut self.buf, take, self.limit as usize);
        // `Extend<&u8>` from a slice iterator is specialised to a memcpy into the ring.
        self.buf.extend(&data[..take]);
        take
    }
    /// `write`, taking storage from `pool` when this buffer has none.
    #[inline]
    pub fn write_pooled(&mut self, data: &[u8], pool: &mut BufPool) -> usize {
        if self.buf.capacity() == 0 && !data.is_empty() && self.free() > 0 {
            if let Some(b) = pool.take() {
                self.buf = b;
            }
        }
        self.write(data)
    }
    /// `consume`, giving the storage to `pool` when the buffer drains.
    #[inline]
    pub fn consume_pooled(&mut self, n: usize, pool: &mut BufPool) {
        if n >= self.buf.len() {
            pool.put(core::mem::take(&mut self.buf));
        } else {
            self.consume(n);
        }
    }
    /// Gives the storage to `pool` (the connection is going away).
    pub fn release_to(&mut self, pool: &mut BufPool) {
        pool.put(core::mem::take(&mut self.buf));
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes that can still be written.
    pub fn free(&self) -> usize {
        (self.limit as usize).saturating_sub(self.buf.len())
    }
    pub fn limit(&self) -> usize {
        self.limit as usize
    }
    /// The bytes `[offset, offset + len)` (clamped to what is buffered) as at most two slices.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let (a, b) = self.buf.as_slices();
        sub_slices(a, b, offset, len)
    }
    /// Drops the first `n` bytes (acknowledged). Releases storage when it becomes empty.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        if n == self.buf.len() {
            self.clear();
        } else {
            // Draining a prefix of a ring of `u8` only moves the head; nothing is copied.
            self.buf.drain(..n);
        }
    }
    /// Drops everything and releases storage.
    pub fn clear(&mut self) {
        self.buf = VecDeque::new();
    }
    /// Bytes of heap memory held (for memory accounting and tests).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: (&[u8], &[u8])) -> Vec<u8> {
        let mut v = s.0.to_vec();
        v.extend_from_slice(s.1);
        v
    }

    #[test]
    fn drained_storage_goes_to_the_pool_and_is_reused() {
        let mut pool = BufPool::default();
        let mut b = SendBuffer::new(1 << 20);
        assert_eq!(b.write_pooled(&[1u8; 64], &mut pool), 64);
        let cap = b.heap_bytes();
        assert!(cap >= 64);
        b.consume_pooled(10, &mut pool);
        assert_eq!(pool.heap_bytes(), 0);
        b.consume_pooled(54, &mut pool);
        // The drained connection owns nothing; the engine's pool holds the storage.
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(pool.heap_bytes(), cap);
        let mut c = SendBuffer::new(1 << 20);
        assert_eq!(c.write_pooled(b"abc", &mut pool), 3);
        assert_eq!(c.heap_bytes(), cap);
        assert_eq!(pool.heap_bytes(), 0);
        assert_eq!(collect(c.slices(0, 3)), b"abc");
    }

    #[test]
    fn pool_keeps_only_small_buffers_and_a_bounded_number() {
        let mut pool = BufPool::default();
        let mut big = SendBuffer::new(1 << 20);
        big.write(&vec![0u8; 100_000]);
        big.release_to(&mut pool);
        assert_eq!(pool.heap_bytes(), 0);
        for _ in 0..1000 {
            let mut b = SendBuffer::new(1 << 20);
            b.write(&[0u8; 10]);
            b.release_to(&mut pool);
        }
        assert!(pool.heap_bytes() <= 256 * 4096, "{}", pool.heap_bytes());
    }

    #[test]
    fn new_buffer_owns_no_memory() {
        let b = SendBuffer::new(1 << 20);
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.len(), 0);
        assert_eq!(b.free(), 1 << 20);
        assert_eq!(b.limit(), 1 << 20);
    }

    #[test]
    fn write_is_bounded_by_limit() {
        let mut b = SendBuffer::new(10);
        assert_eq!(b.write(b"hello"), 5);
        assert_eq!(b.write(b"world!!"), 5);
        assert_eq!(b.len(), 10);
        assert_eq!(b.free(), 0);
        assert_eq!(b.write(b"x"), 0);
        assert_eq!(collect(b.slices(0, 100)), b"helloworld");
        assert!(b.heap_bytes() >= 10);
    }

    #[test]
    fn small_write_does_not_allocate_the_whole_limit() {
        let mut b = SendBuffer::new(4 << 20);
        b.write(&[7u8; 64]);
        assert!(b.heap_bytes() < 4096, "heap {}", b.heap_bytes());
    }

    #[test]
    fn growth_never_exceeds_limit() {
        let mut b = SendBuffer::new(1000);
        for _ in 0..100 {
            b.write(&[1u8; 37]);
        }
        assert_eq!(b.len(), 1000);
        // VecDeque may round internally but must not double past the limit.
        assert!(b.heap_bytes() < 2000, "heap {}", b.heap_bytes());
    }

    #[test]
    fn slices_clamp_offset_and_len() {
        let mut b = SendBuffer::new(100);
        b.write(b"0123456789");
        assert_eq!(collect(b.slices(3, 4)), b"3456");
        assert_eq!(collect(b.slices(8, 10)), b"89");
        assert_eq!(collect(b.slices(10, 1)), b"");
        assert_eq!(collect(b.slices(50, 1)), b"");
        assert_eq!(collect(b.slices(0, usize::MAX)), b"0123456789");
    }

    #[test]
    fn consume_then_write_wraps_ring_and_slices_stay_correct() {
        let mut b = SendBuffer::new(300);
        let data: Vec<u8> = (0..=255u8).collect();
        assert_eq!(b.write(&data), 256);
        let cap = b.heap_bytes();
        b.consume(200);
        // Refill past the physical end of the ring without reallocating.
        let more: Vec<u8> = (0..100u8).map(|x| x.wrapping_mul(3)).collect();
        assert_eq!(b.write(&more), 100);
        assert_eq!(
            b.heap_bytes(),
            cap,
            "refill within capacity must not reallocate"
        );
        let (s1, s2) = b.slices(0, usize::MAX);
        assert!(!s2.is_empty(), "expected the data to wrap the ring");
        let mut want: Vec<u8> = (200..=255u8).collect();
        want.extend_from_slice(&more);
        assert_eq!(collect((s1, s2)), want);
        // A window straddling the wrap point.
        assert_eq!(collect(b.slices(50, 10)), want[50..60].to_vec());
        assert_eq!(collect(b.slices(100, 1000)), want[100..].to_vec());
    }

    #[test]
    fn drained_buffer_releases_storage() {
        let mut b = SendBuffer::new(1 << 16);
        b.write(&[1u8; 5000]);
        assert!(b.heap_bytes() >= 5000);
        b.consume(4999);
        assert!(b.heap_bytes() > 0);
        assert_eq!(collect(b.slices(0, 10)), vec![1u8]);
        b.consume(1);
        assert_eq!(b.heap_bytes(), 0);
        assert!(b.is_empty());
        // Over-consuming is clamped, not a panic.
        b.write(b"ab");
        b.consume(10);
        assert_eq!(b.heap_bytes(), 0);
        b.write(b"ab");
        b.clear();
        assert_eq!(b.heap_bytes(), 0);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn zero_limit_buffer_takes_nothing() {
        let mut b = SendBuffer::new(0);
        assert_eq!(b.write(b"abc"), 0);
        assert_eq!(b.heap_bytes(), 0);
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_fifo(ops in proptest::collection::vec((0usize..700, 0usize..700), 1..60)) {
            let limit = 1500;
            let mut b = SendBuffer::new(limit);
            let mut model: std::collections::VecDeque<u8> = Default::default();
            let mut next = 0u8;
            for (w, c) in ops {
                let data: Vec<u8> = (0..w).map(|_| { next = next.wrapping_add(1); next }).collect();
                let took = b.write(&data);
                proptest::prop_assert_eq!(took, w.min(limit - model.len()));
                model.extend(&data[..took]);
                proptest::prop_assert_eq!(b.len(), model.len());
                let off = c / 3;
                let want: Vec<u8> = model.iter().skip(off).take(c).copied().collect();
                proptest::prop_assert_eq!(collect(b.slices(off, c)), want);
                b.consume(c);
                model.drain(..c.min(model.len()));
                proptest::prop_assert!(b.heap_bytes() <= limit);
                if model.is_empty() {
                    proptest::prop_assert_eq!(b.heap_bytes(), 0);
                }
            }
        }
    }
}
