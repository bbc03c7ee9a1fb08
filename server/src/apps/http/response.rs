//! Every response the HTTP app sends, built once at start-up so a request costs one `send` of
//! ready bytes.

use super::parser::{ErrorStatus, Request};

/// Index into [`Responses`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RespId(u8);

const ERRORS: [ErrorStatus; 6] = [
    ErrorStatus::BadRequest,
    ErrorStatus::MethodNotAllowed,
    ErrorStatus::UriTooLong,
    ErrorStatus::HeaderTooLarge,
    ErrorStatus::NotImplemented,
    ErrorStatus::VersionNotSupported,
];

/// Connection header variants of a 200.
const KEEP_11: u8 = 0;
const KEEP_10: u8 = 1;
const CLOSE: u8 = 2;

pub struct Responses {
    all: Vec<Vec<u8>>,
}

fn reason(status: ErrorStatus) -> &'static str {
    match status {
        ErrorStatus::BadRequest => "Bad Request",
        ErrorStatus::MethodNotAllowed => "Method Not Allowed",
        ErrorStatus::UriTooLong => "URI Too Long",
        ErrorStatus::HeaderTooLarge => "Request Header Fields Too Large",
        ErrorStatus::NotImplemented => "Not Implemented",
        ErrorStatus::VersionNotSupported => "HTTP Version Not Supported",
    }
}

/// The body a 200 carries: readable text, exactly `len` bytes, ending in a newline.
pub fn body(len: usize) -> Vec<u8> {
    let pattern = b"tcpterm says hello. ";
    let mut b: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
    if let Some(last) = b.last_mut() {
        *last = b'\n';
    }
    b
}

impl Responses {
    pub fn new(body_size: usize) -> Self {
        let body = body(body_size);
        let mut all = Vec::new();
        // 0..6: 200 for GET then HEAD, each with the three Connection variants.
        for head in [false, true] {
            for variant in [KEEP_11, KEEP_10, CLOSE] {
                let conn = match variant {
                    KEEP_11 => "",
                    KEEP_10 => "Connection: keep-alive\r\n",
                    _ => "Connection: close\r\n",
                };
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{conn}\r\n",
                    body.len()
                )
                .into_bytes();
                if !head {
                    r.extend_from_slice(&body);
                }
                all.push(r);
            }
        }
        // 6..: errors, always closing.
        for status in ERRORS {
            let text = format!("{}\n", reason(status));
            let allow = if status == ErrorStatus::MethodNotAllowed {
                "Allow: GET, HEAD\r\n"
            } else {
                ""
            };
            all.push(
                format!(
                    "HTTP/1.1 {} {}\r\nServer: tcpterm\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n{text}",
                    status as u16,
                    reason(status),
                    text.len()
                )
                .into_bytes(),
            );
        }
        Responses { all }
    }

    #[inline]
    pub fn ok(&self, req: &Request) -> RespId {
        let variant = if !req.keep_alive {
            CLOSE
        } else if req.http10 {
            KEEP_10
        } else {
            KEEP_11
        };
        RespId(u8::from(req.head) * 3 + variant)
    }

    #[inline]
    pub fn error(&self, status: ErrorStatus) -> RespId {
        let i = ERRORS.iter().position(|s| *s == status).unwrap_or(0);
        RespId(6 + i as u8)
    }

    #[inline]
    pub fn bytes(&self, id: RespId) -> &[u8] {
        &self.all[id.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Responses, id: RespId) -> String {
        String::from_utf8(r.bytes(id).to_vec()).unwrap()
    }

    fn content_length(s: &str) -> usize {
        let v = s
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap();
        v.trim().parse().unwrap()
    }

    #[test]
    fn content_length_matches_the_body_for_every_response() {
        let r = Responses::new(128);
        for id in 0..r.all.len() as u8 {
            let s = text(&r, RespId(id));
            let (head, body) = s.split_once("\r\n\r\n").unwrap();
            let head_only = (3..6).contains(&id);
            if head_only {
                assert_eq!(body.len(), 0);
                assert_eq!(content_length(head), 128);
            } else {
                assert_eq!(content_length(head), body.len(), "{s}");
            }
        }
    }

    #[test]
    fn keep_alive_variants_carry_the_right_connection_header() {
        let r = Responses::new(5);
        let req = |keep_alive, http10, head| Request {
            head,
            http10,
            keep_alive,
        };
        assert_eq!(
            text(&r, r.ok(&req(true, false, false))),
            "HTTP/1.1 200 OK\r\nServer: tcpterm\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\ntcpt\n"
        );
        assert!(text(&r, r.ok(&req(true, true, false))).contains("Connection: keep-alive\r\n"));
        assert!(text(&r, r.ok(&req(false, true, true))).contains("Connection: close\r\n"));
        assert!(text(&r, r.ok(&req(false, false, true))).ends_with("\r\n\r\n"));
    }

    #[test]
    fn errors_have_their_status_line_and_close() {
        let r = Responses::new(0);
        let s = text(&r, r.error(ErrorStatus::HeaderTooLarge));
        assert!(s.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        let s = text(&r, r.error(ErrorStatus::MethodNotAllowed));
        assert!(s.starts_with("HTTP/1.1 405 ") && s.contains("Allow: GET, HEAD\r\n"));
        assert!(text(
            &r,
            r.ok(&Request {
                head: false,
                http10: false,
                keep_alive: true
            })
        )
        .ends_with("Content-Length: 0\r\n\r\n"));
    }
}
