//! The built-in applications (`echo`, `discard`, `http`) and the pieces a user needs to write and
//! register their own.
//!
//! Each built-in app is a [`Handler`]: the same callbacks as [`stack::App`], but with the
//! connection and the app's per-connection state passed apart. That lets one engine run several
//! apps at once ([`BuiltinApp`] dispatches by local port and stores an enum of their states), lets
//! each app also run alone ([`Single`]), and lets the logic be tested with a fake connection.

pub mod discard;
pub mod echo;
pub mod http;
pub mod registry;

pub use registry::{AppKind, BuiltinApp, BuiltinState, Listeners};

use stack::{App, CloseReason, ConnHandle, Socket};

/// What a handler can do to its connection (the subset of [`stack::Socket`] the apps use).
pub trait Conn {
    /// Queues data; returns how much was accepted (backpressure).
    fn send(&mut self, data: &[u8]) -> usize;
    /// Full close: FIN after pending data (RST if received data is left unread).
    fn close(&mut self);
    /// Received data not consumed yet, copied into `out` (cleared first).
    fn copy_buffered(&self, out: &mut Vec<u8>);
    /// How many received bytes are not consumed yet.
    fn buffered_len(&self) -> usize;
    /// Marks `n` buffered bytes as consumed.
    fn consume(&mut self, n: usize);
}

impl<S> Conn for Socket<'_, S> {
    #[inline]
    fn send(&mut self, data: &[u8]) -> usize {
        Socket::send(self, data)
    }
    #[inline]
    fn close(&mut self) {
        Socket::close(self)
    }
    fn copy_buffered(&self, out: &mut Vec<u8>) {
        out.clear();
        let (a, b) = self.buffered();
        out.extend_from_slice(a);
        out.extend_from_slice(b);
    }
    fn buffered_len(&self) -> usize {
        let (a, b) = self.buffered();
        a.len() + b.len()
    }
    #[inline]
    fn consume(&mut self, n: usize) {
        Socket::consume(self, n)
    }
}

/// Application counters the runtime adds to the stats (requests per second and so on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppStats {
    /// Requests answered (HTTP) — the "rps" of the summary line.
    pub requests: u64,
    /// Error responses (HTTP 4xx/5xx).
    pub errors: u64,
    /// Payload bytes the apps consumed.
    pub bytes_in: u64,
    /// Payload bytes the apps queued for sending.
    pub bytes_out: u64,
}

impl AppStats {
    pub fn add(&mut self, o: &AppStats) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
    }
}

/// An app's logic with the connection and its state apart. See the module docs.
pub trait Handler {
    type State: Default;
    fn on_open(&mut self, conn: &mut impl Conn, st: &mut Self::State) {
        let _ = (conn, st);
    }
    fn on_data(&mut self, conn: &mut impl Conn, st: &mut Self::State, data: &[u8]) -> usize;
    fn on_writable(&mut self, conn: &mut impl Conn, st: &mut Self::State) {
        let _ = (conn, st);
    }
    fn on_peer_closed(&mut self, conn: &mut impl Conn, st: &mut Self::State) {
        let _ = (conn, st);
    }
    fn on_closed(&mut self, st: &mut Self::State, reason: CloseReason) {
        let _ = (st, reason);
    }
    fn stats(&self) -> AppStats {
        AppStats::default()
    }
}

/// Runs a callback with the state moved out of the socket, so the handler can use both at once.
/// States are a few words, so the two moves cost less than a cache miss.
#[inline]
fn split<S: Default, R>(
    sock: &mut Socket<'_, S>,
    f: impl FnOnce(&mut Socket<'_, S>, &mut S) -> R,
) -> R {
    let mut st = core::mem::take(sock.state());
    let r = f(sock, &mut st);
    *sock.state() = st;
    r
}

/// One handler as a whole [`stack::App`] (every listening port runs it).
#[derive(Debug, Default)]
pub struct Single<H>(pub H);

impl<H: Handler> App for Single<H> {
    type State = H::State;
    fn on_open(&mut self, sock: &mut Socket<'_, H::State>) {
        split(sock, |c, st| self.0.on_open(c, st))
    }
    fn on_data(&mut self, sock: &mut Socket<'_, H::State>, data: &[u8]) -> usize {
        split(sock, |c, st| self.0.on_data(c, st, data))
    }
    fn on_writable(&mut self, sock: &mut Socket<'_, H::State>) {
        split(sock, |c, st| self.0.on_writable(c, st))
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, H::State>) {
        split(sock, |c, st| self.0.on_peer_closed(c, st))
    }
    fn on_closed(&mut self, state: &mut H::State, _h: ConnHandle, reason: CloseReason) {
        self.0.on_closed(state, reason)
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A connection double: a send buffer with a settable capacity and a receive buffer.
    use super::Conn;

    #[derive(Default, Debug)]
    pub struct FakeConn {
        pub sent: Vec<u8>,
        /// Bytes `send` still accepts; `None` = unlimited.
        pub room: Option<usize>,
        pub closed: bool,
        /// Set when `close` was called with buffered data unread (the engine would RST).
        pub closed_with_unread: bool,
        pub buffered: Vec<u8>,
    }

    impl Conn for FakeConn {
        fn send(&mut self, data: &[u8]) -> usize {
            if self.closed {
                return 0;
            }
            let n = self.room.map_or(data.len(), |r| r.min(data.len()));
            if let Some(r) = self.room.as_mut() {
                *r -= n;
            }
            self.sent.extend_from_slice(&data[..n]);
            n
        }
        fn close(&mut self) {
            self.closed = true;
            self.closed_with_unread |= !self.buffered.is_empty();
        }
        fn copy_buffered(&self, out: &mut Vec<u8>) {
            out.clear();
            out.extend_from_slice(&self.buffered);
        }
        fn buffered_len(&self) -> usize {
            self.buffered.len()
        }
        fn consume(&mut self, n: usize) {
            self.buffered.drain(..n);
        }
    }

    impl FakeConn {
        /// What the engine does with an `on_data` return value: keep the unconsumed rest.
        pub fn keep_rest(&mut self, data: &[u8], consumed: usize) {
            self.buffered.extend_from_slice(&data[consumed..]);
        }
    }
}
