//! The generator's HTTP/1.1: requests built once per phase, and a streaming response checker
//! that keeps a few dozen bytes per connection (status line and `Content-Length` are all it
//! needs; the body is counted, not stored).

/// A GET of `size` bytes (padded with a path, then an `X-Pad` header); `close` adds
/// `Connection: close`. Never shorter than the smallest such request.
pub fn request(size: usize, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    let base = format!("GET / HTTP/1.1\r\nHost: t\r\n{conn}\r\n").len();
    let extra = size.saturating_sub(base);
    // A header costs 9 bytes of framing ("X-Pad: " and CRLF); shorter padding goes in the path.
    let (path_pad, header_pad) = if extra < 10 {
        (extra, None)
    } else {
        (0, Some(extra - 9))
    };
    let mut r = format!("GET /{} HTTP/1.1\r\nHost: t\r\n", "a".repeat(path_pad));
    if let Some(n) = header_pad {
        r.push_str("X-Pad: ");
        r.push_str(&"p".repeat(n));
        r.push_str("\r\n");
    }
    r.push_str(conn);
    r.push_str("\r\n");
    r.into_bytes()
}

/// Bytes of a header line kept for parsing; longer lines are judged on their start.
const LINE: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum St {
    #[default]
    Status,
    Headers,
    Body,
}

/// Where a response is in its parse.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpResp {
    st: St,
    line: [u8; LINE],
    len: u8,
    status: u16,
    /// `Content-Length` + 1; 0: not seen.
    length: u64,
    body_left: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    More,
    /// The response is complete after `used` bytes of this chunk.
    Done {
        used: usize,
        status: u16,
        length: u64,
    },
    /// Not an HTTP/1.x response we can frame (no status line, no Content-Length).
    Bad,
}

fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (_, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|b| *b != b' ') {
        return None;
    }
    Some(code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0')))
}

fn parse_length(line: &[u8]) -> Option<Option<u64>> {
    const NAME: &[u8] = b"content-length:";
    if line.len() < NAME.len() || !line[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return None;
    }
    let v = line[NAME.len()..].trim_ascii();
    if v.is_empty() || v.len() > 15 || !v.iter().all(u8::is_ascii_digit) {
        return Some(None);
    }
    Some(Some(
        v.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')),
    ))
}

impl HttpResp {
    /// Feeds received bytes, in any split.
    pub fn feed(&mut self, data: &[u8]) -> Feed {
        let mut i = 0;
        while i < data.len() {
            if self.st == St::Body {
                let take = (self.body_left as usize).min(data.len() - i);
                self.body_left -= take as u64;
                i += take;
                if self.body_left == 0 {
                    return self.done(i);
                }
                continue;
            }
            let b = data[i];
            i += 1;
            if b != b'\n' {
                if (self.len as usize) < LINE {
                    self.line[self.len as usize] = b;
                }
                self.len = self.len.saturating_add(1);
                continue;
            }
            let n = (self.len as usize).min(LINE);
            let mut line = &self.line[..n];
            if (self.len as usize) <= LINE {
                line = line.strip_suffix(b"\r").unwrap_or(line);
            }
            match self.st {
                St::Status => match parse_status(line) {
                    Some(s) => {
                        self.status = s;
                        self.st = St::Headers;
                    }
                    None => return Feed::Bad,
                },
                St::Headers if line.is_empty() => {
                    if self.length == 0 {
                        return Feed::Bad;
                    }
                    self.body_left = self.length - 1;
                    self.st = St::Body;
                    if self.body_left == 0 {
                        return self.done(i);
                    }
                }
                St::Headers => match parse_length(line) {
                    Some(Some(l)) => self.length = l + 1,
                    Some(None) => return Feed::Bad,
                    None => {}
                },
                St::Body => unreachable!("handled above"),
            }
            self.len = 0;
        }
        Feed::More
    }

    fn done(&self, used: usize) -> Feed {
        Feed::Done {
            used,
            status: self.status,
            length: self.length - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_asked_size_and_parse_as_http() {
        for size in [0, 27, 28, 36, 37, 38, 100, 4096] {
            for close in [false, true] {
                let r = request(size, close);
                let min = if close { 46 } else { 27 };
                assert_eq!(r.len(), size.max(min), "size {size} close {close}");
                assert!(r.ends_with(b"\r\n\r\n"));
                assert_eq!(close, r.windows(17).any(|w| w == b"Connection: close"));
            }
        }
    }

    const RESP: &[u8] =
        b"HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn response_in_any_split() {
        for split in 0..RESP.len() {
            let mut p = HttpResp::default();
            let (a, b) = RESP.split_at(split);
            let first = p.feed(a);
            let r = if split == RESP.len() {
                first
            } else {
                assert_eq!(first, Feed::More, "split {split}");
                p.feed(b)
            };
            assert_eq!(
                r,
                Feed::Done {
                    used: RESP.len() - split,
                    status: 200,
                    length: 5
                },
                "split {split}"
            );
        }
    }

    #[test]
    fn bytes_after_the_response_are_not_used() {
        let mut p = HttpResp::default();
        let mut d = RESP.to_vec();
        d.extend_from_slice(b"HTTP/1.1");
        assert_eq!(
            p.feed(&d),
            Feed::Done {
                used: RESP.len(),
                status: 200,
                length: 5
            }
        );
    }

    #[test]
    fn error_status_empty_body_and_bad_framing() {
        let mut p = HttpResp::default();
        let r =
            p.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert!(matches!(
            r,
            Feed::Done {
                status: 400,
                length: 0,
                ..
            }
        ));
        assert_eq!(HttpResp::default().feed(b"SSH-2.0\r\n"), Feed::Bad);
        assert_eq!(
            HttpResp::default().feed(b"HTTP/1.1 200 OK\r\n\r\n"),
            Feed::Bad
        );
        assert_eq!(
            HttpResp::default().feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Feed::Bad
        );
        // A long header line is skipped, not misread.
        let mut p = HttpResp::default();
        let long = format!(
            "HTTP/1.1 200 OK\r\nX-Long: {}\r\ncontent-length: 2\r\n\r\nok",
            "z".repeat(300)
        );
        assert!(matches!(
            p.feed(long.as_bytes()),
            Feed::Done {
                status: 200,
                length: 2,
                ..
            }
        ));
    }
}
