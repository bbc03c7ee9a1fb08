//! Per-connection byte buffers. Both allocate lazily (an idle connection owns no buffer memory)
//! and release their storage when drained, so idle connections stay small.

use std::collections::VecDeque;

pub mod recv;
pub mod send;

pub use recv::RecvBuffer;
pub use send::SendBuffer;

/// Most drained buffers an engine keeps for reuse, and the largest capacity it keeps: bounds the
/// pool to 1 MiB while sparing short transactions a malloc/free pair per connection.
const POOL_MAX_BUFFERS: usize = 256;
const POOL_MAX_CAPACITY: usize = 4096;

/// Storage of drained send buffers, per engine, handed to the next connection that writes.
/// Connections still own no memory while idle; only the engine keeps this bounded stock.
#[derive(Default)]
pub struct BufPool {
    free: Vec<VecDeque<u8>>,
}

impl BufPool {
    /// Keeps `buf`'s storage if it is small and the pool has room (drops it otherwise).
    #[inline]
    pub fn put(&mut self, mut buf: VecDeque<u8>) {
        let cap = buf.capacity();
        if cap > 0 && cap <= POOL_MAX_CAPACITY && self.free.len() < POOL_MAX_BUFFERS {
            buf.clear();
            if self.free.capacity() == 0 {
                self.free.reserve_exact(POOL_MAX_BUFFERS);
            }
            self.free.push(buf);
        }
    }
    /// An empty buffer with storage, if one is pooled.
    #[inline]
    pub fn take(&mut self) -> Option<VecDeque<u8>> {
        self.free.pop()
    }
    /// Bytes held by pooled buffers.
    pub fn heap_bytes(&self) -> usize {
        self.free.iter().map(|b| b.capacity()).sum()
    }
}

/// Smallest first allocation: a short request/response fits without a second growth step,
/// yet an idle connection that writes once costs little.
const MIN_CAPACITY: usize = 256;

/// Reserves room for `additional` more bytes, growing geometrically but never beyond `limit`
/// (VecDeque's own policy could overshoot the limit by up to 2x).
fn grow_for(buf: &mut VecDeque<u8>, additional: usize, limit: usize) {
    let need = buf.len().saturating_add(additional);
    let cap = buf.capacity();
    if need <= cap {
        return;
    }
    let target = need
        .max(cap.saturating_mul(2))
        .max(MIN_CAPACITY)
        .min(limit.max(need));
    buf.reserve_exact(target - buf.len());
}

/// `[offset, offset + len)` of the concatenation `a ++ b`, clamped, as two slices.
fn sub_slices<'a>(a: &'a [u8], b: &'a [u8], offset: usize, len: usize) -> (&'a [u8], &'a [u8]) {
    let total = a.len() + b.len();
    let start = offset.min(total);
    let end = start.saturating_add(len).min(total);
    if end <= a.len() {
        (&a[start..end], &[])
    } else if start >= a.len() {
        (&b[start - a.len()..end - a.len()], &[])
    } else {
        (&a[start..], &b[..end - a.len()])
    }
}
