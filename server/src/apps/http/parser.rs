//! A streaming HTTP/1.x request parser (RFC 9112) that keeps a few dozen bytes of state per
//! connection and never allocates or buffers: bytes are fed as they arrive, in any split, and
//! the parser reports each request head as it completes. It keeps only what the server acts on
//! (method, version, `Connection`, `Content-Length`, `Transfer-Encoding`, `Host`); request bodies
//! are skipped.

/// Status codes the parser can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStatus {
    BadRequest = 400,
    MethodNotAllowed = 405,
    UriTooLong = 414,
    HeaderTooLarge = 431,
    NotImplemented = 501,
    VersionNotSupported = 505,
}

/// A complete request head the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub head: bool,
    pub http10: bool,
    /// The connection stays open after the response (RFC 9112 §9.3).
    pub keep_alive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Request(Request),
    /// The request cannot be served; answer with this status and close (RFC 9112 §2.2 lets a
    /// server close after an invalid message since framing can no longer be trusted).
    Error(ErrorStatus),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// Before a request line (empty lines are skipped, RFC 9112 §2.2).
    #[default]
    Start,
    Method,
    Target,
    Version,
    /// At the start of a header line, or inside a field name.
    Name,
    Value,
    /// Skipping a request body of `body_left` bytes.
    Body,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Method {
    #[default]
    Get,
    Head,
    /// A method we know but do not serve.
    Known,
    Unknown,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Field {
    #[default]
    Other,
    Connection,
    ContentLength,
    TransferEncoding,
    Host,
}

/// Longest method, version or field name we need to tell apart; longer ones are "other".
const TOK: usize = 18;

#[derive(Clone, Copy, Debug, Default)]
pub struct Parser {
    phase: Phase,
    /// A CR was seen; only LF may follow.
    cr: bool,
    head_len: u32,
    tok: [u8; TOK],
    /// Bytes in `tok`; `TOK + 1` once the token overflowed.
    tok_len: u8,
    target_len: u32,
    method: Method,
    http10: bool,
    field: Field,
    conn_close: bool,
    conn_keep_alive: bool,
    has_host: bool,
    has_te: bool,
    content_length: Option<u64>,
    cl_value: u64,
    cl_digits: u8,
    cl_done: bool,
    body_left: u64,
}

#[inline]
fn is_tchar(b: u8) -> bool {
    // RFC 9110 §5.6.2.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Parser {
    fn tok(&self) -> &[u8] {
        &self.tok[..(self.tok_len as usize).min(TOK)]
    }

    fn push_tok(&mut self, b: u8) {
        if (self.tok_len as usize) < TOK {
            self.tok[self.tok_len as usize] = b;
            self.tok_len += 1;
        } else {
            self.tok_len = TOK as u8 + 1;
        }
    }

    fn tok_overflowed(&self) -> bool {
        self.tok_len as usize > TOK
    }

    /// True while no request is partly parsed (so closing now loses nothing).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Start && self.head_len == 0
    }

    /// Feeds bytes; returns how many were used and the event completed by the last of them, if
    /// any. Call again with the rest after an event.
    pub fn feed(&mut self, data: &[u8], max_head: u32) -> (usize, Option<Event>) {
        let mut i = 0;
        while i < data.len() {
            if self.phase == Phase::Body {
                let n = (self.body_left.min((data.len() - i) as u64)) as usize;
                self.body_left -= n as u64;
                i += n;
                if self.body_left == 0 {
                    self.phase = Phase::Start;
                }
                continue;
            }
            let b = data[i];
            i += 1;
            self.head_len += 1;
            if self.head_len > max_head {
                let status = if matches!(self.phase, Phase::Method | Phase::Target) {
                    ErrorStatus::UriTooLong
                } else {
                    ErrorStatus::HeaderTooLarge
                };
                return (i, Some(Event::Error(status)));
            }
            match self.byte(b) {
                Ok(None) => {}
                Ok(Some(ev)) => return (i, Some(ev)),
                Err(s) => return (i, Some(Event::Error(s))),
            }
        }
        (i, None)
    }

    fn byte(&mut self, mut b: u8) -> Result<Option<Event>, ErrorStatus> {
        use ErrorStatus::BadRequest;
        if self.cr {
            if b != b'\n' {
                return Err(BadRequest);
            }
            self.cr = false;
        } else if b == b'\r'
            && matches!(
                self.phase,
                Phase::Start | Phase::Version | Phase::Name | Phase::Value
            )
        {
            self.cr = true;
            return Ok(None);
        }
        match self.phase {
            Phase::Start => {
                if b == b'\n' {
                    return Ok(None);
                }
                if !is_tchar(b) {
                    return Err(BadRequest);
                }
                self.phase = Phase::Method;
                self.push_tok(b);
            }
            Phase::Method => {
                if b == b' ' {
                    self.method = classify_method(self.tok(), self.tok_overflowed());
                    self.tok_len = 0;
                    self.phase = Phase::Target;
                } else if is_tchar(b) {
                    self.push_tok(b);
                } else {
                    return Err(BadRequest);
                }
            }
            Phase::Target => {
                if b == b' ' {
                    if self.target_len == 0 {
                        return Err(BadRequest);
                    }
                    self.phase = Phase::Version;
                } else if b <= b' ' || b >= 0x7f {
                    return Err(BadRequest);
                } else {
                    self.target_len += 1;
                }
            }
            Phase::Version => {
                if b == b'\n' {
                    self.http10 = match self.tok() {
                        b"HTTP/1.1" => false,
                        b"HTTP/1.0" => true,
                        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                            if major.is_ascii_digit() && minor.is_ascii_digit() =>
                        {
                            return Err(ErrorStatus::VersionNotSupported)
                        }
                        _ => return Err(BadRequest),
                    };
                    self.tok_len = 0;
                    self.phase = Phase::Name;
                } else {
                    self.push_tok(b);
                    if self.tok_overflowed() {
                        return Err(BadRequest);
                    }
                }
            }
            Phase::Name => {
                if b == b'\n' {
                    if self.tok_len != 0 {
                        return Err(BadRequest);
                    }
                    return self.finish_head().map(Some);
                }
                if b == b':' {
                    if self.tok_len == 0 {
                        return Err(BadRequest);
                    }
                    self.start_field()?;
                    self.phase = Phase::Value;
                } else if is_tchar(b) {
                    // Covers a space before the colon and obs-fold (RFC 9112 §5.1, §5.2): both 400.
                    self.push_tok(b.to_ascii_lowercase());
                } else {
                    return Err(BadRequest);
                }
            }
            Phase::Value => {
                if b == b'\n' {
                    self.end_field()?;
                    self.tok_len = 0;
                    self.phase = Phase::Name;
                } else if (b < b' ' && b != b'\t') || b == 0x7f {
                    return Err(BadRequest);
                } else {
                    if b == b'\t' {
                        b = b' ';
                    }
                    self.value_byte(b)?;
                }
            }
            // Bodies are skipped in bulk by `feed` and never reach here.
            Phase::Body => {}
        }
        Ok(None)
    }

    fn start_field(&mut self) -> Result<(), ErrorStatus> {
        self.field = if self.tok_overflowed() {
            Field::Other
        } else {
            match self.tok() {
                b"connection" => Field::Connection,
                b"content-length" => Field::ContentLength,
                b"transfer-encoding" => Field::TransferEncoding,
                b"host" => Field::Host,
                _ => Field::Other,
            }
        };
        self.tok_len = 0;
        match self.field {
            Field::Host if self.has_host => return Err(ErrorStatus::BadRequest),
            Field::Host => self.has_host = true,
            Field::TransferEncoding => self.has_te = true,
            Field::ContentLength => {
                self.cl_value = 0;
                self.cl_digits = 0;
                self.cl_done = false;
            }
            _ => {}
        }
        Ok(())
    }

    fn value_byte(&mut self, b: u8) -> Result<(), ErrorStatus> {
        match self.field {
            Field::Connection => {
                if b == b',' || b == b' ' {
                    self.connection_token();
                } else {
                    self.push_tok(b.to_ascii_lowercase());
                }
            }
            Field::ContentLength => {
                // RFC 9110 §8.6: 1*DIGIT; a list or anything else is invalid framing.
                if b.is_ascii_digit() && !self.cl_done {
                    self.cl_value = self
                        .cl_value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b - b'0')))
                        .ok_or(ErrorStatus::BadRequest)?;
                    self.cl_digits = self.cl_digits.saturating_add(1);
                } else if b == b' ' {
                    self.cl_done = self.cl_digits > 0;
                } else {
                    return Err(ErrorStatus::BadRequest);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn connection_token(&mut self) {
        match self.tok() {
            b"close" => self.conn_close = true,
            b"keep-alive" => self.conn_keep_alive = true,
            _ => {}
        }
        self.tok_len = 0;
    }

    fn end_field(&mut self) -> Result<(), ErrorStatus> {
        match self.field {
            Field::Connection => self.connection_token(),
            Field::ContentLength => {
                if self.cl_digits == 0 {
                    return Err(ErrorStatus::BadRequest);
                }
                // RFC 9112 §6.3: differing Content-Length values are unrecoverable framing.
                if self.content_length.is_some_and(|v| v != self.cl_value) {
                    return Err(ErrorStatus::BadRequest);
                }
                self.content_length = Some(self.cl_value);
            }
            _ => {}
        }
        self.field = Field::Other;
        Ok(())
    }

    fn finish_head(&mut self) -> Result<Event, ErrorStatus> {
        match self.method {
            Method::Unknown => return Err(ErrorStatus::NotImplemented),
            Method::Known => return Err(ErrorStatus::MethodNotAllowed),
            Method::Get | Method::Head => {}
        }
        // RFC 9112 §3.2: a 1.1 request without Host is answered 400.
        if !self.http10 && !self.has_host {
            return Err(ErrorStatus::BadRequest);
        }
        // Chunked request bodies are not supported (RFC 9112 §6.1 allows 501).
        if self.has_te {
            return Err(ErrorStatus::NotImplemented);
        }
        let keep_alive = if self.http10 {
            self.conn_keep_alive && !self.conn_close
        } else {
            !self.conn_close
        };
        let req = Request {
            head: self.method == Method::Head,
            http10: self.http10,
            keep_alive,
        };
        let body = self.content_length.unwrap_or(0);
        *self = Parser::default();
        if body > 0 {
            self.phase = Phase::Body;
            self.body_left = body;
        }
        Ok(Event::Request(req))
    }
}

fn classify_method(tok: &[u8], overflowed: bool) -> Method {
    if overflowed {
        return Method::Unknown;
    }
    match tok {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" | b"PUT" | b"DELETE" | b"PATCH" | b"OPTIONS" | b"CONNECT" | b"TRACE" => {
            Method::Known
        }
        _ => Method::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 8192;

    /// Feeds `input` in one piece and collects every event.
    fn events(input: &[u8]) -> Vec<Event> {
        let mut p = Parser::default();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let (n, ev) = p.feed(&input[pos..], MAX);
            pos += n;
            match ev {
                Some(e @ Event::Error(_)) => {
                    out.push(e);
                    break;
                }
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    fn get(keep_alive: bool, http10: bool) -> Event {
        Event::Request(Request {
            head: false,
            http10,
            keep_alive,
        })
    }

    #[test]
    fn http11_get_keeps_alive_by_default() {
        assert_eq!(
            events(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            vec![get(true, false)]
        );
    }

    #[test]
    fn connection_close_token_in_a_list_closes_case_insensitively() {
        assert_eq!(
            events(b"GET / HTTP/1.1\r\nHost: a\r\nconnection: Foo,  CLOSE \r\n\r\n"),
            vec![get(false, false)]
        );
    }

    #[test]
    fn http10_closes_unless_keep_alive_is_asked_for() {
        assert_eq!(events(b"GET / HTTP/1.0\r\n\r\n"), vec![get(false, true)]);
        assert_eq!(
            events(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
            vec![get(true, true)]
        );
    }

    #[test]
    fn head_is_flagged() {
        assert_eq!(
            events(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"),
            vec![Event::Request(Request {
                head: true,
                http10: false,
                keep_alive: true
            })]
        );
    }

    #[test]
    fn pipelined_requests_each_complete_with_a_body_skipped_between() {
        let input = b"GET /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET /3 HTTP/1.1\nHost: a\n\n";
        assert_eq!(events(input), vec![get(true, false); 3]);
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_events() {
        let input: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let whole = events(input);
        assert_eq!(whole.len(), 2);
        for split in 0..input.len() {
            for chunk in 1..4 {
                let mut p = Parser::default();
                let mut got = Vec::new();
                let pieces = [&input[..split], &input[split..]];
                for piece in pieces {
                    for part in piece.chunks(chunk) {
                        let mut pos = 0;
                        while pos < part.len() {
                            let (n, ev) = p.feed(&part[pos..], MAX);
                            pos += n;
                            got.extend(ev);
                        }
                    }
                }
                assert_eq!(got, whole, "split at {split}, chunks of {chunk}");
            }
        }
    }

    #[test]
    fn garbage_is_400() {
        for bad in [
            &b"\x16\x03\x01\x02\x00\x01\x00"[..],
            b"GET / HTTP/1.1\rX",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / FOO/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        ] {
            assert_eq!(
                events(bad),
                vec![Event::Error(ErrorStatus::BadRequest)],
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn repeated_equal_content_length_is_accepted() {
        assert_eq!(
            events(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"),
            vec![get(true, false)]
        );
    }

    #[test]
    fn other_methods_are_405_and_unknown_ones_501() {
        assert_eq!(
            events(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
            vec![Event::Error(ErrorStatus::MethodNotAllowed)]
        );
        assert_eq!(
            events(b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n"),
            vec![Event::Error(ErrorStatus::NotImplemented)]
        );
        assert_eq!(
            events(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            vec![Event::Error(ErrorStatus::NotImplemented)]
        );
    }

    #[test]
    fn unknown_http_version_is_505() {
        assert_eq!(
            events(b"GET / HTTP/2.0\r\n\r\n"),
            vec![Event::Error(ErrorStatus::VersionNotSupported)]
        );
    }

    #[test]
    fn oversized_head_is_431_and_oversized_target_414() {
        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 9000));
        assert_eq!(
            events(&big),
            vec![Event::Error(ErrorStatus::HeaderTooLarge)]
        );
        let mut uri = b"GET /".to_vec();
        uri.extend(std::iter::repeat_n(b'a', 9000));
        assert_eq!(events(&uri), vec![Event::Error(ErrorStatus::UriTooLong)]);
        // Exactly at the limit is fine.
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        head.resize(MAX as usize - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(events(&head), vec![get(true, false)]);
    }

    #[test]
    fn random_bytes_never_panic() {
        const ALPHABET: &[u8] = b"GET /HTP1.0\r\n: Hostcnaie-lgkp,0123456789 \x00\xff";
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let mut p = Parser::default();
            let mut buf = [0u8; 64];
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = ALPHABET[(x % ALPHABET.len() as u64) as usize];
            }
            let mut pos = 0;
            while pos < buf.len() {
                let (n, ev) = p.feed(&buf[pos..], 32);
                assert!(n > 0 && pos + n <= buf.len());
                pos += n;
                if matches!(ev, Some(Event::Error(_))) {
                    break;
                }
            }
        }
    }
}
