//! Per-connection byte buffers. Both allocate lazily (an idle connection owns no buffer memory)
//! and release their storage when drained, so idle connections stay small.

use std::collections::VecDeque;

pub mod recv;
pub mod send;

pub use recv::RecvBuffer;
pub use send::SendBuffer;

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
