//! Receive buffer with bounded out-of-order reassembly. Offsets are relative to `rcv.nxt`:
//! offset 0 is the next byte expected in order.

pub struct RecvBuffer {
    _limit: usize,
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
    /// `limit`: most bytes held (readable + out-of-order). `max_ooo_ranges`: most disjoint
    /// out-of-order ranges kept (bounds reassembly memory and work).
    pub fn new(limit: usize, max_ooo_ranges: usize) -> Self {
        let _ = (limit, max_ooo_ranges);
        todo!("buffer helper")
    }
    /// Offers `data` that starts `offset` bytes after `rcv.nxt` (offset may be 0).
    /// Data beyond `limit` from the start of unread data is cut off and counted in `dropped`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Written {
        let _ = (offset, data);
        todo!("buffer helper")
    }
    /// Readable (in-order, unread) bytes.
    pub fn len(&self) -> usize {
        todo!("buffer helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Space the receive window may advertise: `limit - len - (bytes held out of order)`.
    pub fn window(&self) -> usize {
        todo!("buffer helper")
    }
    pub fn limit(&self) -> usize {
        todo!("buffer helper")
    }
    /// Readable bytes as at most two slices.
    pub fn readable(&self) -> (&[u8], &[u8]) {
        todo!("buffer helper")
    }
    /// Marks `n` readable bytes as read.
    pub fn consume(&mut self, n: usize) {
        let _ = n;
        todo!("buffer helper")
    }
    /// Whether any out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        todo!("buffer helper")
    }
    /// Out-of-order ranges as (start, end) offsets relative to `rcv.nxt`, the range most
    /// recently written first (RFC 2018 §4 order), at most `max` of them.
    pub fn sack_ranges(&self, max: usize, out: &mut [(usize, usize)]) -> usize {
        let _ = (max, out);
        todo!("buffer helper")
    }
    /// Drops everything and releases storage.
    pub fn clear(&mut self) {
        todo!("buffer helper")
    }
    pub fn heap_bytes(&self) -> usize {
        todo!("buffer helper")
    }
}
