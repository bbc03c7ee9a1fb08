//! The http app through a real engine: keep-alive, pipelining, `Connection: close`, 400, 431.

mod support;

use core::time::Duration;
use stack::sim::Impairments;
use stack::CloseReason;
use support::apps::*;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn response_len() -> usize {
    let head = "HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\nContent-Length: 128\r\n\r\n";
    head.len() + 128
}

#[test]
fn keep_alive_and_pipelining_then_connection_close_ends_with_server_fin() {
    let client = Client {
        to_send: GET.repeat(3),
        close_on_peer_close: true,
        ..Client::default()
    };
    let mut s = connect(client, HTTP, tcp(), tcp(), Impairments::perfect());
    let want = 3 * response_len();
    assert!(s.run_until(Duration::from_secs(2), |p| p.a.app().received.len() >= want));
    assert_eq!(s.client().received.len(), want, "exactly three responses");
    assert_eq!(count(&s.client().received, b"HTTP/1.1 200 OK\r\n"), 3);
    assert!(
        !s.client().peer_closed,
        "keep-alive: the server keeps the connection"
    );

    // A fourth request on the same connection, asking to close.
    s.send(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(s.run_until(Duration::from_secs(5), |p| p.a.app().closed.is_some()));
    let c = s.client();
    assert_eq!(count(&c.received, b"HTTP/1.1 200 OK\r\n"), 4);
    assert!(c.received.ends_with(b"\n"));
    assert_eq!(count(&c.received, b"Connection: close\r\n"), 1);
    assert!(c.peer_closed, "server sent FIN after the response");
    assert_eq!(c.closed, Some(CloseReason::Normal));
    assert_eq!(s.pair.b.app().stats().requests, 4);
    // The server closed first, so it holds TIME_WAIT, and no reset was sent.
    assert_eq!(s.pair.b.time_wait_count(), 1);
    assert_eq!(s.pair.b.counters().mib.out_rsts, 0);
}

#[test]
fn many_pipelined_requests_in_small_pieces_all_get_answers_in_order() {
    let n = 200;
    let client = Client {
        to_send: GET.repeat(n),
        ..Client::default()
    };
    // A small server send buffer forces backpressure on the pipelined responses.
    let server = stack::TcpConfig {
        tx_buf: 4096,
        ..tcp()
    };
    let mut s = connect(client, HTTP, tcp(), server, Impairments::perfect());
    let want = n * response_len();
    assert!(
        s.run_until(Duration::from_secs(10), |p| p.a.app().received.len()
            >= want)
    );
    assert_eq!(s.client().received.len(), want);
    assert_eq!(count(&s.client().received, b"HTTP/1.1 200 OK\r\n"), n);
}

#[test]
fn garbage_gets_400_and_the_server_closes() {
    let s = exchange(
        HTTP,
        b"\x16\x03\x01\x00\xa5 definitely not http\r\n\r\n".to_vec(),
        Duration::from_secs(5),
        |p| p.a.app().closed.is_some(),
    );
    let c = s.client();
    assert!(
        c.received.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
        "{:?}",
        String::from_utf8_lossy(&c.received)
    );
    assert!(c.peer_closed);
    assert_eq!(c.closed, Some(CloseReason::Normal));
}

#[test]
fn oversized_headers_get_431_and_the_server_closes() {
    let mut req = b"GET / HTTP/1.1\r\nHost: t\r\nCookie: ".to_vec();
    req.resize(20_000, b'c');
    let s = exchange(HTTP, req, Duration::from_secs(5), |p| p.a.app().peer_closed);
    let c = s.client();
    assert!(c
        .received
        .starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_eq!(count(&c.received, b"HTTP/1.1 "), 1);
}

#[test]
fn http10_request_is_answered_then_closed() {
    let s = exchange(
        HTTP,
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        Duration::from_secs(5),
        |p| p.a.app().closed.is_some(),
    );
    let c = s.client();
    assert_eq!(
        c.received.len(),
        response_len() + "Connection: close\r\n".len()
    );
    assert_eq!(c.closed, Some(CloseReason::Normal));
}

#[test]
fn head_gets_headers_only() {
    let client = Client {
        to_send: b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        ..Client::default()
    };
    let mut s = connect(client, HTTP, tcp(), tcp(), Impairments::perfect());
    assert!(s.run_until(Duration::from_secs(2), |p| p
        .a
        .app()
        .received
        .ends_with(b"\r\n\r\n")));
    assert_eq!(s.client().received.len(), response_len() - 128);
}
