//! Per-connection byte buffers. Both allocate lazily (an idle connection owns no buffer memory)
//! and release their storage when drained, so idle connections stay small.

pub mod recv;
pub mod send;

pub use recv::RecvBuffer;
pub use send::SendBuffer;
