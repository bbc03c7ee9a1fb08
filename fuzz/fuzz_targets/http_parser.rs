//! The `http` app's streaming request parser (`tcpterm::apps::http::parser`) against `httparse`
//! as a differential oracle.
//!
//! Input: byte 0 is the size of the pieces the bytes are fed in (0: all at once), bytes 1..3 a
//! little-endian head-size limit (`max_head`), the rest is what a client sent on one connection
//! (pipelined requests, bodies included).
//!
//! tcpterm's parser keeps a few dozen bytes of state and no text: it reports a request as
//! `{ head, http10, keep_alive }` when the last byte of its head arrives, skips the body that
//! `Content-Length` announces, and reports an error as a status at the byte that decided it. So
//! where httparse says Complete, its method, path, version and every header (name, value, count,
//! order) are mapped through tcpterm's documented rules to the one event, and the one byte offset,
//! tcpterm must produce: the offset is httparse's head length for a request; a header's position
//! in the buffer says where a per-header error (a second `Host`, a bad `Content-Length`) must
//! land; the next request must start exactly `Content-Length` bytes after the head. Where
//! httparse says Partial, tcpterm must wait for more bytes too, unless it rejected early for one
//! of its own stricter rules, which is then proven (see `early_error`). Where httparse says
//! Error, tcpterm must reject at the same byte, except for the differences listed in
//! `check_request`.
//!
//! The same bytes are also fed in pieces and with the head-size limit: the events must not
//! depend on how the bytes were split, and the limit must turn into 414/431 at the first byte
//! past it and change nothing else.
//!
//! Where tcpterm differs from httparse, each encoded where it is checked:
//! - stricter, on purpose: no byte >= 0x80 in the request-target (httparse takes UTF-8); only
//!   GET and HEAD are served (other methods 405 or 501 once the head is complete); HTTP/1.1
//!   needs exactly one `Host`; `Transfer-Encoding` is 501; `Content-Length` must be 1*DIGIT in a
//!   u64, repeats must be equal (`expected`, `early_error`);
//! - later, on purpose: the version is read to the end of its line, to tell 505 from 400
//!   (`version_line`);
//! - later by one byte, harmless: a CR inside a field name (`check_request`);
//! - no header count limit (only `max_head`): httparse gets room for more headers than fit.
#![no_main]

use httparse::Status;
use libfuzzer_sys::fuzz_target;
use tcpterm::apps::http::parser::{ErrorStatus, Event, Parser, Request};

const UNLIMITED: u32 = u32::MAX;

/// What one `feed` call returned.
type Out = (usize, Option<Event>);

fn bad(at: usize) -> Out {
    (at, Some(Event::Error(ErrorStatus::BadRequest)))
}

/// Offset of `part` (a subslice httparse returned) within `buf`.
fn off(buf: &[u8], part: &[u8]) -> usize {
    let o = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    assert!(o <= buf.len());
    o
}

/// httparse on `buf`, and what it parsed. The header array is larger than any input can fill
/// (a header takes at least 3 bytes, `a:\n`), so TooManyHeaders never happens: tcpterm has no
/// header count limit, only `max_head`.
fn hparse<'b>(
    buf: &'b [u8],
    headers: &mut Vec<httparse::Header<'b>>,
) -> (httparse::Result<usize>, Head<'b>) {
    headers.clear();
    headers.resize(buf.len() / 3 + 2, httparse::EMPTY_HEADER);
    let mut req = httparse::Request::new(headers);
    let res = req.parse(buf);
    let head = Head {
        method: req.method,
        path: req.path,
        version: req.version,
        headers: if matches!(res, Ok(Status::Complete(_))) {
            req.headers.to_vec()
        } else {
            Vec::new()
        },
    };
    assert!(
        !matches!(res, Err(httparse::Error::TooManyHeaders)),
        "header array too small"
    );
    (res, head)
}

/// What httparse parsed (headers only when complete).
struct Head<'b> {
    method: Option<&'b str>,
    path: Option<&'b str>,
    version: Option<u8>,
    headers: Vec<httparse::Header<'b>>,
}

/// `Content-Length` as tcpterm reads it: 1*DIGIT (RFC 9110 §8.6), fitting in a u64. A list
/// (`1, 1`), which RFC 9110 lets a recipient accept when the members are equal, is rejected:
/// tcpterm is deliberately stricter (it never has to decide what a list means). `Err(Some(i))`:
/// the byte of the (trimmed) value tcpterm rejects; `Err(None)`: the value is empty (rejected at
/// the end of the line).
fn content_length(v: &[u8]) -> Result<u64, Option<usize>> {
    if v.is_empty() {
        return Err(None);
    }
    let mut x = 0u64;
    for (i, &b) in v.iter().enumerate() {
        if b.is_ascii_digit() {
            x = x
                .checked_mul(10)
                .and_then(|x| x.checked_add(u64::from(b - b'0')))
                .ok_or(Some(i))?;
        } else if b == b' ' || b == b'\t' {
            // Whitespace ends the number; the next non-blank byte (there is one: httparse trims
            // the value) is the second member of a list or garbage.
            let j = v[i..]
                .iter()
                .position(|&c| c != b' ' && c != b'\t')
                .unwrap();
            return Err(Some(i + j));
        } else {
            return Err(Some(i));
        }
    }
    Ok(x)
}

/// Methods tcpterm knows but does not serve (405); any other than GET and HEAD is 501.
const KNOWN: [&str; 7] = [
    "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// The event (and the count of bytes used for it) tcpterm must produce for a head httparse
/// parsed completely as `h` with length `n`, and the body length it must then skip.
fn expected(buf: &[u8], h: &Head, n: usize) -> (Out, u64) {
    let path = h.path.unwrap().as_bytes();
    // tcpterm: the request-target is ASCII (RFC 9112 §3.2 and RFC 3986 have no room for other
    // bytes); httparse accepts any UTF-8 there. tcpterm is deliberately stricter.
    if let Some(i) = path.iter().position(|&b| b >= 0x80) {
        return (bad(off(buf, path) + i + 1), 0);
    }
    let (mut host, mut te, mut close, mut keep_alive) = (false, false, false, false);
    let mut cl: Option<u64> = None;
    for hd in &h.headers {
        let name = hd.name.as_bytes();
        let colon = off(buf, name) + name.len();
        assert_eq!(buf[colon], b':');
        let lf = colon + buf[colon..].iter().position(|&b| b == b'\n').unwrap();
        if name.eq_ignore_ascii_case(b"host") {
            // RFC 9112 §3.2: more than one Host is 400, decided at the second one's colon.
            if host {
                return (bad(colon + 1), 0);
            }
            host = true;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te = true;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            match content_length(hd.value) {
                Ok(v) => {
                    // RFC 9112 §6.3: differing values are unrecoverable framing (at the line end).
                    if cl.is_some_and(|c| c != v) {
                        return (bad(lf + 1), 0);
                    }
                    cl = Some(v);
                }
                Err(Some(i)) => return (bad(off(buf, hd.value) + i + 1), 0),
                Err(None) => return (bad(lf + 1), 0),
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            // RFC 9110 §7.6.1: a comma-separated list of case-insensitive options.
            for t in hd.value.split(|&b| b == b',' || b == b' ' || b == b'\t') {
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    // The rest is decided when the head is complete, in this order.
    let method = h.method.unwrap();
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        // Methods are case-sensitive (RFC 9110 §9.1): "get" is unknown, 501.
        m if KNOWN.contains(&m) => {
            return ((n, Some(Event::Error(ErrorStatus::MethodNotAllowed))), 0)
        }
        _ => return ((n, Some(Event::Error(ErrorStatus::NotImplemented))), 0),
    };
    let http10 = h.version.unwrap() == 0;
    if !http10 && !host {
        return (bad(n), 0);
    }
    // Request bodies in chunked (or any) transfer coding are not supported: 501.
    if te {
        return ((n, Some(Event::Error(ErrorStatus::NotImplemented))), 0);
    }
    let keep_alive = if http10 { keep_alive && !close } else { !close };
    let req = Request {
        head,
        http10,
        keep_alive,
    };
    ((n, Some(Event::Request(req))), cl.unwrap_or(0))
}

/// tcpterm rejected at byte `p` (count `p`) where httparse, on the same bytes, is still fine:
/// only one of tcpterm's stricter rules may explain it, and this proves which.
fn early_error(buf: &[u8], p: usize) {
    let mut hs = Vec::new();
    // A byte >= 0x80 in the request-target (see `expected`): httparse, given the bytes up to
    // and including it, must still be inside the target (method parsed, path not yet).
    if buf[p - 1] >= 0x80 {
        let (res, h) = hparse(&buf[..p], &mut hs);
        if matches!(res, Ok(Status::Partial)) && h.method.is_some() && h.path.is_none() {
            return;
        }
    }
    // A per-header rule (a second Host, a bad or conflicting Content-Length): end the head right
    // after the rejected byte; httparse must then parse it completely, and the rules applied to
    // what it parsed must reject at that same byte.
    let mut ext = buf[..p].to_vec();
    ext.extend_from_slice(b"\r\n\r\n");
    let (res, h) = hparse(&ext, &mut hs);
    let Ok(Status::Complete(n)) = res else {
        panic!("tcpterm rejected at {p}; httparse: {res:?} even with the head ended there");
    };
    let (want, _) = expected(&ext, &h, n);
    assert_eq!(
        want,
        bad(p),
        "tcpterm rejected at {p}, which its rules do not explain"
    );
}

/// How tcpterm reads the version: to the end of the line, so that a well-formed other version
/// gets 505 (RFC 9110 §15.6.6) and anything else 400, with at most 18 bytes kept. `rest` starts
/// after the space that ends the target. `None`: the line is still open.
fn version_line(rest: &[u8]) -> Option<Result<(), (usize, ErrorStatus)>> {
    let mut tok = Vec::new();
    let mut cr = false;
    for (i, &b) in rest.iter().enumerate() {
        if cr {
            if b != b'\n' {
                return Some(Err((i + 1, ErrorStatus::BadRequest)));
            }
        } else if b == b'\r' {
            cr = true;
            continue;
        }
        if b == b'\n' {
            return Some(match tok.as_slice() {
                b"HTTP/1.1" | b"HTTP/1.0" => Ok(()),
                [b'H', b'T', b'T', b'P', b'/', a, b'.', c]
                    if a.is_ascii_digit() && c.is_ascii_digit() =>
                {
                    Err((i + 1, ErrorStatus::VersionNotSupported))
                }
                _ => Err((i + 1, ErrorStatus::BadRequest)),
            });
        }
        tok.push(b);
        if tok.len() > 18 {
            return Some(Err((i + 1, ErrorStatus::BadRequest)));
        }
    }
    None
}

/// Compares tcpterm's `got` (one `feed` of `buf` from a request boundary, unlimited head) with
/// httparse on `buf`. Returns the head length and body length when both accepted a request.
fn check_request(buf: &[u8], got: Out) -> Option<(usize, u64)> {
    let mut hs = Vec::new();
    let (res, h) = hparse(buf, &mut hs);
    match res {
        Ok(Status::Complete(n)) => {
            let (want, body) = expected(buf, &h, n);
            assert_eq!(got, want, "httparse: complete head of {n} bytes");
            match got.1 {
                Some(Event::Request(_)) => Some((n, body)),
                _ => None,
            }
        }
        Ok(Status::Partial) => {
            match got {
                (p, None) => assert_eq!(p, buf.len()),
                (p, Some(Event::Error(ErrorStatus::BadRequest))) => early_error(buf, p),
                _ => panic!("httparse: partial; tcpterm: {got:?}"),
            }
            None
        }
        Err(_) => {
            // The shortest prefix httparse rejects: the byte it rejects is `q - 1`.
            let (mut lo, mut hi) = (0, buf.len());
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if hparse(&buf[..mid], &mut hs).0.is_err() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            let q = hi;
            // tcpterm rejected earlier, for one of its stricter rules.
            if let (p, Some(Event::Error(ErrorStatus::BadRequest))) = got {
                if p < q {
                    early_error(buf, p);
                    return None;
                }
            }
            let (res_q, at_q) = hparse(&buf[..q], &mut hs);
            let Err(e) = res_q else { unreachable!() };
            // Difference 1: httparse rejects a version as soon as its prefix cannot be
            // HTTP/1.0 or HTTP/1.1; tcpterm reads the version to the end of the line (to answer
            // 505 rather than 400), so it rejects there, or where the line cannot go on.
            if let Some(path) = at_q.path {
                let sp = off(buf, path.as_bytes()) + path.len();
                match version_line(&buf[sp + 1..]) {
                    None => {
                        assert_eq!(got, (buf.len(), None), "httparse: {e:?} at {q}");
                        return None;
                    }
                    Some(Err((i, status))) => {
                        let p = sp + 1 + i;
                        assert!(q <= p, "httparse rejected the version later ({q}) than {p}");
                        assert_eq!(
                            got,
                            (p, Some(Event::Error(status))),
                            "httparse: {e:?} at {q}"
                        );
                        return None;
                    }
                    Some(Ok(())) => {}
                }
            }
            // Difference 2: a CR in a field name: httparse rejects the CR; tcpterm takes it as
            // the start of a line end and rejects the byte after it (the LF of a line with no
            // colon, or whatever is not LF). Both answer 400; tcpterm one byte later.
            if e == httparse::Error::HeaderName && buf[q - 1] == b'\r' {
                if q == buf.len() {
                    assert_eq!(got, (q, None), "CR at the end of a field name");
                } else {
                    assert_eq!(got, bad(q + 1), "CR in a field name");
                }
                return None;
            }
            assert_eq!(got, bad(q), "httparse: {e:?} at {q}");
            None
        }
    }
}

/// The status tcpterm answers when byte `i` of a head (from a request boundary) is the first
/// past `max_head`: 414 while in the method (after its first byte) or the target, else 431.
/// Only called when tcpterm accepts every byte before `i`.
fn limit_status(buf: &[u8], i: usize) -> ErrorStatus {
    let Some(s) = buf.iter().position(|&b| b != b'\r' && b != b'\n') else {
        return ErrorStatus::HeaderTooLarge;
    };
    let sp1 = buf[s..].iter().position(|&b| b == b' ').map(|j| s + j);
    let sp2 = sp1.and_then(|a| {
        buf[a + 1..]
            .iter()
            .position(|&b| b == b' ')
            .map(|j| a + 1 + j)
    });
    if i > s && sp2.is_none_or(|e| i <= e) {
        ErrorStatus::UriTooLong
    } else {
        ErrorStatus::HeaderTooLarge
    }
}

/// tcpterm's events over the whole input with `max_head`, fed in pieces of `chunk` bytes the way
/// the app feeds what arrives: (offset just past the event, event), up to the first error. Also
/// whether the parser ends idle.
fn stream(data: &[u8], chunk: usize, max_head: u32) -> (Vec<(usize, Event)>, bool) {
    let mut p = Parser::default();
    let mut evs = Vec::new();
    for (k, piece) in data.chunks(chunk).enumerate() {
        let base = k * chunk;
        let mut pos = 0;
        while pos < piece.len() {
            let (n, ev) = p.feed(&piece[pos..], max_head);
            assert!(
                n > 0 && pos + n <= piece.len(),
                "feed used {n} of {}",
                piece.len() - pos
            );
            pos += n;
            match ev {
                Some(e @ Event::Error(_)) => {
                    evs.push((base + pos, e));
                    return (evs, false);
                }
                Some(e) => evs.push((base + pos, e)),
                None => assert_eq!(pos, piece.len(), "no event, yet bytes left"),
            }
        }
    }
    (evs, p.is_idle())
}

fuzz_target!(|data: &[u8]| {
    let [chunk, l0, l1, ref input @ ..] = *data else {
        return;
    };
    let max_head = u16::from_le_bytes([l0, l1]);
    let lim = usize::from(max_head);

    // Request by request: a parser that runs on (the body skip and the reset after each request
    // are part of what is tested), unlimited, against httparse; and a fresh one per request with
    // the limit, which may only turn the byte past it into 414/431.
    let mut p = Parser::default();
    let mut want: Vec<(usize, Event)> = Vec::new();
    let mut at = 0;
    // Whether the parser must end idle (`None`: it stopped at an error).
    let idle: Option<bool> = loop {
        let buf = &input[at..];
        if buf.is_empty() {
            break Some(true);
        }
        let got = p.feed(buf, UNLIMITED);
        let next = check_request(buf, got);
        let limited = Parser::default().feed(buf, u32::from(max_head));
        let within = match got.1 {
            Some(_) => got.0 <= lim,
            None => buf.len() <= lim,
        };
        if within {
            assert_eq!(limited, got, "max_head {max_head} changed the result");
        } else {
            let status = limit_status(buf, lim);
            assert_eq!(
                limited,
                (lim + 1, Some(Event::Error(status))),
                "max_head {max_head}"
            );
        }
        if let Some(e) = limited.1 {
            want.push((at + limited.0, e));
        }
        match (next, got.1) {
            _ if limited != got => break None,
            (Some((n, body)), _) => {
                at += n;
                // The body: used up without an event; the next head starts right after it.
                let take = body.min((input.len() - at) as u64) as usize;
                if take > 0 {
                    assert_eq!(
                        p.feed(&input[at..take + at], UNLIMITED),
                        (take, None),
                        "body"
                    );
                    at += take;
                }
                if (take as u64) < body {
                    break Some(false);
                }
            }
            // Part of a head: the parser is busy (closing now would lose a request).
            (None, None) => break Some(false),
            (None, Some(_)) => break None,
        }
    };
    if let Some(idle) = idle {
        assert_eq!(p.is_idle(), idle, "idle at the end");
    }

    // The same bytes all at once and in pieces: the same events at the same offsets.
    let pieces = if chunk == 0 {
        input.len()
    } else {
        chunk.into()
    };
    for size in [input.len(), pieces] {
        let (evs, stream_idle) = stream(input, size.max(1), u32::from(max_head));
        assert_eq!(evs, want, "fed in pieces of {size}");
        if let Some(idle) = idle {
            assert_eq!(stream_idle, idle, "idle at the end, pieces of {size}");
        }
    }
});
