use super::*;
use crate::apps::fake::FakeConn;

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn app() -> Http {
    Http::new(&HttpConfig {
        body_size: 16,
        max_head: 8192,
    })
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn keep_alive_answers_each_request_and_stays_open() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    assert_eq!(a.on_data(&mut c, &mut st, REQ), REQ.len());
    assert_eq!(a.on_data(&mut c, &mut st, REQ), REQ.len());
    assert_eq!(count(&c.sent, b"HTTP/1.1 200 OK\r\n"), 2);
    assert!(!c.closed);
    assert_eq!(a.stats().requests, 2);
}

#[test]
fn pipelined_requests_in_one_segment_are_answered_in_order() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    let mut data = REQ.repeat(3);
    data.extend_from_slice(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HT");
    assert_eq!(a.on_data(&mut c, &mut st, &data), data.len());
    assert_eq!(count(&c.sent, b"HTTP/1.1 200 OK\r\n"), 4);
    let one = a.responses.bytes(a.responses.ok(&parser::Request {
        head: false,
        http10: false,
        keep_alive: true,
    }));
    assert!(
        c.sent.ends_with(b"Content-Length: 16\r\n\r\n"),
        "HEAD last, no body"
    );
    assert!(c.sent.starts_with(one));
    // The split request completes with the next segment.
    assert_eq!(a.on_data(&mut c, &mut st, b"TP/1.1\r\nHost: t\r\n\r\n"), 19);
    assert_eq!(count(&c.sent, b"HTTP/1.1 200 OK\r\n"), 5);
}

#[test]
fn connection_close_closes_after_the_response_and_drops_what_follows() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    let mut data = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec();
    data.extend_from_slice(REQ);
    assert_eq!(a.on_data(&mut c, &mut st, &data), data.len());
    assert_eq!(count(&c.sent, b"HTTP/1.1 200 OK\r\n"), 1);
    assert!(count(&c.sent, b"Connection: close\r\n") == 1);
    assert!(c.closed && !c.closed_with_unread);
}

#[test]
fn http10_without_keep_alive_closes() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    a.on_data(&mut c, &mut st, b"GET / HTTP/1.0\r\n\r\n");
    assert!(c.closed);
    assert!(c.sent.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn garbage_gets_400_and_a_close() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    let data = b"\x16\x03\x01garbage";
    assert_eq!(a.on_data(&mut c, &mut st, data), data.len());
    assert!(c.sent.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(c.closed);
    assert_eq!(a.stats().errors, 1);
}

#[test]
fn oversized_headers_get_431() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    let mut data = b"GET / HTTP/1.1\r\nHost: t\r\nCookie: ".to_vec();
    data.resize(10_000, b'c');
    // Arriving in MSS-sized pieces, as it would.
    for part in data.chunks(1448) {
        assert_eq!(a.on_data(&mut c, &mut st, part), part.len());
    }
    assert!(c.sent.starts_with(b"HTTP/1.1 431 "));
    assert_eq!(count(&c.sent, b"HTTP/1.1"), 1);
    assert!(c.closed);
}

#[test]
fn short_send_stops_consuming_and_on_writable_answers_the_rest() {
    let (mut a, mut st) = (app(), HttpState::default());
    let full = a
        .responses
        .bytes(a.responses.ok(&parser::Request {
            head: false,
            http10: false,
            keep_alive: true,
        }))
        .len();
    let mut c = FakeConn {
        room: Some(full + 10),
        ..Default::default()
    };
    let data = REQ.repeat(4);
    let n = a.on_data(&mut c, &mut st, &data);
    // The first response fit, the second went out partly: consumption stops after request 2.
    assert_eq!(n, 2 * REQ.len());
    c.keep_rest(&data, n);
    assert_eq!(a.on_data(&mut c, &mut st, REQ), 0, "no more while blocked");
    c.keep_rest(REQ, 0);
    a.on_peer_closed(&mut c, &mut st);
    assert!(!c.closed, "answers are still owed");
    c.room = None;
    a.on_writable(&mut c, &mut st);
    assert_eq!(c.sent.len(), 5 * full);
    assert_eq!(count(&c.sent, b"HTTP/1.1 200 OK\r\n"), 5);
    assert!(c.buffered.is_empty());
    assert!(c.closed && !c.closed_with_unread);
}

#[test]
fn close_response_cut_short_closes_once_it_is_out() {
    let (mut a, mut st) = (app(), HttpState::default());
    let mut c = FakeConn {
        room: Some(10),
        ..Default::default()
    };
    let data = b"GET / HTTP/1.0\r\n\r\n";
    assert_eq!(a.on_data(&mut c, &mut st, data), data.len());
    assert!(!c.closed);
    c.room = None;
    a.on_writable(&mut c, &mut st);
    assert!(c.closed && !c.closed_with_unread);
    assert!(c.sent.ends_with(b"\n") && c.sent.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn peer_close_when_idle_closes() {
    let (mut a, mut c, mut st) = (app(), FakeConn::default(), HttpState::default());
    a.on_data(&mut c, &mut st, REQ);
    a.on_peer_closed(&mut c, &mut st);
    assert!(c.closed && !c.closed_with_unread);
}
