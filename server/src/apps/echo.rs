//! `echo`: sends back everything it receives (RFC 862 over TCP), and closes once the peer has
//! closed and every byte has been echoed.
//!
//! Backpressure: when `send` accepts less than offered, the rest is left unconsumed, so the
//! receive window closes and the peer slows down; `on_writable` resumes from the receive buffer.

use super::{AppStats, Conn, Handler};

#[derive(Debug, Default, Clone, Copy)]
pub struct EchoState {
    /// The last send was short: wait for `on_writable` before echoing more.
    blocked: bool,
    /// The peer's FIN arrived; close once nothing is left to echo.
    peer_closed: bool,
}

#[derive(Debug, Default)]
pub struct Echo {
    /// Reused copy of a connection's receive buffer when resuming after backpressure.
    scratch: Vec<u8>,
    stats: AppStats,
}

impl Echo {
    /// Echoes as much of `data` as the send buffer takes; returns how much that was.
    fn echo(&mut self, conn: &mut impl Conn, st: &mut EchoState, data: &[u8]) -> usize {
        let n = conn.send(data);
        st.blocked = n < data.len();
        self.stats.bytes_in += n as u64;
        self.stats.bytes_out += n as u64;
        n
    }
}

impl Handler for Echo {
    type State = EchoState;

    fn on_data(&mut self, conn: &mut impl Conn, st: &mut EchoState, data: &[u8]) -> usize {
        if st.blocked {
            return 0;
        }
        self.echo(conn, st, data)
    }

    fn on_writable(&mut self, conn: &mut impl Conn, st: &mut EchoState) {
        st.blocked = false;
        let mut scratch = core::mem::take(&mut self.scratch);
        conn.copy_buffered(&mut scratch);
        let n = self.echo(conn, st, &scratch);
        conn.consume(n);
        let drained = n == scratch.len();
        self.scratch = scratch;
        if drained && st.peer_closed {
            conn.close();
        }
    }

    fn on_peer_closed(&mut self, conn: &mut impl Conn, st: &mut EchoState) {
        st.peer_closed = true;
        if !st.blocked {
            conn.close();
        }
    }

    fn stats(&self) -> AppStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::fake::FakeConn;

    #[test]
    fn echoes_everything_when_send_has_room() {
        let (mut app, mut c, mut st) = (Echo::default(), FakeConn::default(), EchoState::default());
        assert_eq!(app.on_data(&mut c, &mut st, b"hello"), 5);
        assert_eq!(app.on_data(&mut c, &mut st, b" world"), 6);
        assert_eq!(c.sent, b"hello world");
        app.on_peer_closed(&mut c, &mut st);
        assert!(c.closed && !c.closed_with_unread);
        assert_eq!(app.stats().bytes_out, 11);
    }

    #[test]
    fn short_send_stops_consuming_and_on_writable_resumes_in_order() {
        let (mut app, mut st) = (Echo::default(), EchoState::default());
        let mut c = FakeConn {
            room: Some(3),
            ..Default::default()
        };
        let n = app.on_data(&mut c, &mut st, b"abcdef");
        assert_eq!(n, 3);
        c.keep_rest(b"abcdef", n);
        // More data while blocked is not consumed (the window closes instead).
        let n = app.on_data(&mut c, &mut st, b"gh");
        assert_eq!(n, 0);
        c.keep_rest(b"gh", n);
        // The peer closes while we are still blocked: no close yet (it would RST the unread data).
        app.on_peer_closed(&mut c, &mut st);
        assert!(!c.closed);
        c.room = Some(2);
        app.on_writable(&mut c, &mut st);
        assert_eq!(c.sent, b"abcde");
        assert!(!c.closed);
        c.room = None;
        app.on_writable(&mut c, &mut st);
        assert_eq!(c.sent, b"abcdefgh");
        assert!(c.buffered.is_empty());
        assert!(c.closed && !c.closed_with_unread);
    }
}
