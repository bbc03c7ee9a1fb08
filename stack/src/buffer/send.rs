//! Send buffer: bytes the app wrote that the peer has not yet acknowledged. Offset 0 is the
//! byte at `snd.una`.

pub struct SendBuffer {
    _limit: usize,
}

impl SendBuffer {
    /// No allocation until the first write; `limit` bounds `len()`.
    pub fn new(limit: usize) -> Self {
        let _ = limit;
        todo!("buffer helper")
    }
    /// Appends as much of `data` as fits under the limit; returns bytes taken.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let _ = data;
        todo!("buffer helper")
    }
    pub fn len(&self) -> usize {
        todo!("buffer helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes that can still be written.
    pub fn free(&self) -> usize {
        todo!("buffer helper")
    }
    pub fn limit(&self) -> usize {
        todo!("buffer helper")
    }
    /// The bytes `[offset, offset + len)` (clamped to what is buffered) as at most two slices.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let _ = (offset, len);
        todo!("buffer helper")
    }
    /// Drops the first `n` bytes (acknowledged). Releases storage when it becomes empty.
    pub fn consume(&mut self, n: usize) {
        let _ = n;
        todo!("buffer helper")
    }
    /// Drops everything and releases storage.
    pub fn clear(&mut self) {
        todo!("buffer helper")
    }
    /// Bytes of heap memory held (for memory accounting and tests).
    pub fn heap_bytes(&self) -> usize {
        todo!("buffer helper")
    }
}
