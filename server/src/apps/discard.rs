//! `discard`: reads and drops everything (RFC 863 over TCP); closes when the peer closes.

use super::{AppStats, Conn, Handler};

#[derive(Debug, Default)]
pub struct Discard {
    stats: AppStats,
}

impl Handler for Discard {
    type State = ();

    fn on_data(&mut self, _conn: &mut impl Conn, _st: &mut (), data: &[u8]) -> usize {
        self.stats.bytes_in += data.len() as u64;
        data.len()
    }

    fn on_peer_closed(&mut self, conn: &mut impl Conn, _st: &mut ()) {
        conn.close();
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
    fn consumes_all_sends_nothing_and_closes_after_peer() {
        let (mut app, mut c) = (Discard::default(), FakeConn::default());
        assert_eq!(app.on_data(&mut c, &mut (), &[7u8; 1000]), 1000);
        assert!(c.sent.is_empty());
        app.on_peer_closed(&mut c, &mut ());
        assert!(c.closed && !c.closed_with_unread);
        assert_eq!(app.stats().bytes_in, 1000);
    }
}
