//! Two in-memory engines: a client engine running a small scripted app, and a server engine
//! running tcpterm's `BuiltinApp` (see [`super::engines::builtin`]).

pub use super::engines::*;
use core::net::SocketAddrV4;
use core::time::Duration;
use stack::sim::{Impairments, Pair};
use stack::{App, CloseReason, ConnHandle, Engine, Instant, Socket, TcpConfig};
use tcpterm::apps::BuiltinApp;

/// The client side of one connection: sends `to_send` as the window allows, records
/// everything received and how the connection ended.
#[derive(Default)]
pub struct Client {
    pub to_send: Vec<u8>,
    pub sent: usize,
    pub received: Vec<u8>,
    pub opened: bool,
    pub peer_closed: bool,
    pub closed: Option<CloseReason>,
    /// Half-close once everything is sent.
    pub shutdown_when_sent: bool,
    /// Close once the server closes.
    pub close_on_peer_close: bool,
    pub shut: bool,
}

impl Client {
    fn pump(&mut self, sock: &mut Socket<'_, ()>) {
        while self.sent < self.to_send.len() {
            let n = sock.send(&self.to_send[self.sent..]);
            if n == 0 {
                break;
            }
            self.sent += n;
        }
        if self.sent == self.to_send.len() && self.shutdown_when_sent && !self.shut {
            self.shut = true;
            sock.shutdown_write();
        }
    }
}

impl App for Client {
    type State = ();
    fn on_open(&mut self, sock: &mut Socket<'_, ()>) {
        self.opened = true;
        self.pump(sock);
    }
    fn on_data(&mut self, _sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        self.received.extend_from_slice(data);
        data.len()
    }
    fn on_writable(&mut self, sock: &mut Socket<'_, ()>) {
        self.pump(sock);
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ()>) {
        self.peer_closed = true;
        if self.close_on_peer_close {
            sock.close();
        }
    }
    fn on_closed(&mut self, _st: &mut (), _h: ConnHandle, reason: CloseReason) {
        self.closed = Some(reason);
    }
}

pub struct Setup {
    pub pair: Pair<Client, BuiltinApp>,
    pub conn: ConnHandle,
}

/// Connects a client carrying `client` to `port` on a server with `server_tcp` settings.
pub fn connect(
    client: Client,
    port: u16,
    client_tcp: TcpConfig,
    server_tcp: TcpConfig,
    imp: Impairments,
) -> Setup {
    let now = Instant::from_secs(100);
    let a = Engine::new(config(CLIENT_IP, 2, client_tcp), client, now).unwrap();
    let mut b = Engine::new(config(SERVER_IP, 1, server_tcp), builtin(128), now).unwrap();
    for p in [HTTP, ECHO, DISCARD] {
        b.listen(p).unwrap();
    }
    let mut pair = Pair::new(a, b, imp, imp, 7, now);
    let conn = pair
        .with_a(|e, now, tx| e.connect(now, SocketAddrV4::new(SERVER_IP, port), 40_000, tx))
        .unwrap();
    Setup { pair, conn }
}

/// Sends `to_send` to `port` with default settings on both sides, answering the server's close
/// with ours; runs until `done`, which must hold within `limit` of simulated time.
pub fn exchange(
    port: u16,
    to_send: Vec<u8>,
    limit: Duration,
    done: impl FnMut(&Pair<Client, BuiltinApp>) -> bool,
) -> Setup {
    let client = Client {
        to_send,
        close_on_peer_close: true,
        ..Client::default()
    };
    let mut s = connect(client, port, tcp(), tcp(), Impairments::perfect());
    assert!(
        s.run_until(limit, done),
        "the exchange did not finish in {limit:?}"
    );
    s
}

impl Setup {
    /// Runs until `done` or `limit` of simulated time; returns whether `done` held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        done: impl FnMut(&Pair<Client, BuiltinApp>) -> bool,
    ) -> bool {
        let deadline = self.pair.now + limit;
        self.pair.run_until(deadline, done)
    }

    /// Sends more client data on the open connection.
    pub fn send(&mut self, data: &[u8]) {
        let conn = self.conn;
        self.pair.with_a(|e, now, tx| {
            e.with_conn(conn, now, tx, |app, sock| {
                app.to_send.extend_from_slice(data);
                app.pump(sock);
            })
        });
    }

    pub fn client(&self) -> &Client {
        self.pair.a.app()
    }
}

pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
