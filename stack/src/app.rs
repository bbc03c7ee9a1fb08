//! The application API: the pluggable handler that receives payloads and writes replies.
//!
//! One `App` instance lives in each worker's engine; its per-connection `State` is stored inline
//! in the connection slot (no allocation, no lookup). Callbacks get a `Socket` for that
//! connection through which the app sends, closes, aborts or half-closes.

use crate::counters::State;
use crate::flow::FourTuple;
use crate::table::SlotId;
use crate::tcp::tcb::{F_ABORT_REQ, F_CLOSE_REQ, F_SHUT_REQ, F_WANT_WRITABLE};

/// Why a connection ended, as the app sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Orderly close: both FINs exchanged (or our FIN acknowledged after the peer's).
    Normal,
    /// The peer sent a RST ("connection reset by peer").
    ResetByPeer,
    /// An active open was answered by RST ("connection refused").
    Refused,
    /// Retransmissions, SYN retries or keepalive probes exhausted.
    TimedOut,
    /// The app (or engine shutdown, or memory pressure) aborted with RST.
    Aborted,
}

/// Stable handle to a connection, valid until `on_closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnHandle(pub SlotId);

pub trait App {
    /// Per-connection app state, created with `Default` when the connection is created.
    type State: Default;

    /// The connection reached ESTABLISHED (passive open accepted, or active open connected).
    fn on_open(&mut self, sock: &mut Socket<'_, Self::State>) {
        let _ = sock;
    }

    /// In-order received data. Return how many bytes were consumed; the rest stays buffered
    /// (shrinking the receive window) and is offered again, before new data, on the next call.
    /// When the app consumes everything at once, the slice is the packet itself (zero-copy).
    fn on_data(&mut self, sock: &mut Socket<'_, Self::State>, data: &[u8]) -> usize;

    /// Send space became available after `send` accepted less than offered.
    fn on_writable(&mut self, sock: &mut Socket<'_, Self::State>) {
        let _ = sock;
    }

    /// The peer closed its side (FIN), after all its data was delivered.
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, Self::State>) {
        let _ = sock;
    }

    /// The connection is gone for the app; `state` is dropped right after.
    fn on_closed(&mut self, state: &mut Self::State, handle: ConnHandle, reason: CloseReason) {
        let _ = (state, handle, reason);
    }
}

/// A connection as the app sees it during a callback.
pub struct Socket<'a, S> {
    pub(crate) tcb: &'a mut crate::tcp::tcb::Tcb,
    pub(crate) state: &'a mut S,
    pub(crate) handle: ConnHandle,
    pub(crate) pool: &'a mut crate::buffer::BufPool,
}

impl<S> Socket<'_, S> {
    pub fn state(&mut self) -> &mut S {
        self.state
    }
    pub fn handle(&self) -> ConnHandle {
        self.handle
    }
    pub fn tuple(&self) -> FourTuple {
        self.tcb.tuple
    }
    pub fn tcp_state(&self) -> State {
        self.tcb.state
    }
    /// Queues `data` for sending; returns how much was accepted (backpressure: the rest must be
    /// offered again after `on_writable`). Zero after `close`/`shutdown_write`.
    pub fn send(&mut self, data: &[u8]) -> usize {
        if !self.tcb.can_send() {
            return 0;
        }
        let n = self.tcb.sndbuf.write_pooled(data, self.pool);
        if n < data.len() {
            self.tcb.set(F_WANT_WRITABLE);
        }
        n
    }
    /// Bytes `send` would accept now.
    pub fn send_capacity(&self) -> usize {
        if self.tcb.can_send() {
            self.tcb.sndbuf.free()
        } else {
            0
        }
    }
    /// Received data the app has not consumed yet, as at most two slices.
    pub fn buffered(&self) -> (&[u8], &[u8]) {
        self.tcb.rcvbuf.readable()
    }
    /// Marks `n` buffered bytes as consumed (opens the receive window).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.tcb.rcvbuf.len());
        self.tcb.rcvbuf.consume(n);
    }
    /// Full close: FIN after pending data; RST instead when received data is unread
    /// (RFC 2525 §2.17). Data arriving afterwards is answered with RST. Takes effect when the
    /// callback returns.
    pub fn close(&mut self) {
        self.tcb.set(F_CLOSE_REQ);
    }
    /// Half-close: FIN after pending data; receiving continues.
    pub fn shutdown_write(&mut self) {
        self.tcb.set(F_SHUT_REQ);
    }
    /// RST now, discarding both buffers (SO_LINGER with zero timeout).
    pub fn abort(&mut self) {
        self.tcb.set(F_ABORT_REQ);
    }
}
