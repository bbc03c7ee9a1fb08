//! The generator counts each failure kind: refused connects, server resets, wrong echo bytes,
//! silent servers (timeouts) and bad HTTP.

mod support;

use core::time::Duration;
use stack::{App, Socket};
use support::gen::*;

const D: Duration = Duration::from_micros(50);

/// A server app that misbehaves in one way.
#[derive(Clone, Copy)]
enum Bad {
    /// RST as soon as data arrives.
    Reset,
    /// Echo with the first byte of every segment flipped.
    Corrupt,
    /// Read and never answer.
    Silent,
    /// Answer with an HTTP 500.
    Http500,
}

struct BadServer(Bad);

impl App for BadServer {
    type State = ();
    fn on_data(&mut self, sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        match self.0 {
            Bad::Reset => sock.abort(),
            Bad::Corrupt => {
                let mut v = data.to_vec();
                v[0] ^= 0x20;
                sock.send(&v);
            }
            Bad::Silent => {}
            Bad::Http500 => {
                sock.send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
            }
        }
        data.len()
    }
}

const SHORT: &str = r#"
[[phase]]
duration = "100ms"
mode = "short"
rate = 100
timeout = "50ms"
"#;

#[test]
fn port_not_listening_counts_refused() {
    let (res, _, _) = run(SHORT, builtin(128), &[], ECHO, D);
    let c = res[0].counts;
    assert_eq!(c.conn_attempts, 9);
    assert_eq!(c.refused, 9, "{c:?}");
    assert_eq!(c.errors(), 9);
    assert_eq!((c.connected, c.requests), (0, 0));
}

#[test]
fn server_reset_counts_resets() {
    let (res, _, _) = run(SHORT, BadServer(Bad::Reset), &[ECHO], ECHO, D);
    let c = res[0].counts;
    assert_eq!(c.connected, 9);
    assert_eq!(c.resets, 9, "{c:?}");
    assert_eq!(c.errors(), 9);
    assert_eq!(c.responses, 0);
}

#[test]
fn wrong_echo_bytes_count_wrong_data() {
    let (res, pair, _) = run(SHORT, BadServer(Bad::Corrupt), &[ECHO], ECHO, D);
    let c = res[0].counts;
    assert_eq!(c.wrong_data, 9, "{c:?}");
    assert_eq!(c.errors(), 9);
    assert_eq!(c.responses, 0);
    // The generator reset each bad connection.
    assert_eq!(pair.a.counters().mib.out_rsts, 9);
}

#[test]
fn silent_server_counts_response_timeouts() {
    let (res, _, _) = run(SHORT, BadServer(Bad::Silent), &[ECHO], ECHO, D);
    let c = res[0].counts;
    assert_eq!(c.response_timeouts, 9, "{c:?}");
    assert_eq!(c.errors(), 9);
}

#[test]
fn http_error_status_counts_http_errors() {
    let http = SHORT.replace("mode = \"short\"", "mode = \"short\"\nprotocol = \"http\"");
    let (res, _, _) = run(&http, BadServer(Bad::Http500), &[HTTP], HTTP, D);
    let c = res[0].counts;
    assert_eq!(c.http_errors, 9, "{c:?}");
    assert_eq!(c.errors(), 9);
}

#[test]
fn wrong_content_length_counts_http_errors() {
    // The server sends 128-byte bodies; the scenario expects 64.
    let http = SHORT.replace(
        "mode = \"short\"",
        "mode = \"short\"\nprotocol = \"http\"\nresponse_size = 64",
    );
    let (res, _, _) = run(&http, builtin(128), &[HTTP], HTTP, D);
    let c = res[0].counts;
    assert_eq!(c.http_errors, 9, "{c:?}");
}
