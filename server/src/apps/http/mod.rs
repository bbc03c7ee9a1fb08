//! `http`: a minimal, fast HTTP/1.1 server. Every GET or HEAD is answered 200 with a fixed body
//! of `--http-body-size` bytes; keep-alive and pipelining work; `Connection: close`, HTTP/1.0
//! without keep-alive and every error response end with a server-side close after the response.
//!
//! Per request there is no allocation and no copy: a streaming parser sees each byte once and
//! the response is a precomputed slice handed to `send`. When `send` is short, the app stops
//! consuming (the receive window then closes on a client that pipelines without reading) and
//! resumes in `on_writable`.

pub mod parser;
pub mod response;

use super::{AppStats, Conn, Handler};
use parser::{Event, Parser};
use response::{RespId, Responses};

pub const DEFAULT_BODY_SIZE: usize = 128;
/// Request line plus headers (larger heads get 431, like common servers' 8 KiB default).
pub const DEFAULT_MAX_HEAD: u32 = 8192;

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub body_size: usize,
    pub max_head: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_size: DEFAULT_BODY_SIZE,
            max_head: DEFAULT_MAX_HEAD,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct HttpState {
    parser: Parser,
    /// A response `send` took only part of, and how much of it went out.
    pending: Option<(RespId, u32)>,
    /// Close once `pending` is out.
    close_after: bool,
    /// We closed: whatever still arrives is dropped.
    closing: bool,
    /// The client sent FIN: close once every request it sent is answered.
    peer_closed: bool,
}

pub struct Http {
    max_head: u32,
    responses: Responses,
    scratch: Vec<u8>,
    stats: AppStats,
}

impl Default for Http {
    fn default() -> Self {
        Http::new(&HttpConfig::default())
    }
}

/// What processing a run of bytes decided.
struct Outcome {
    consumed: usize,
    /// Close the connection once the consumed bytes are accounted for.
    close: bool,
}

impl Http {
    pub fn new(cfg: &HttpConfig) -> Self {
        Http {
            max_head: cfg.max_head,
            responses: Responses::new(cfg.body_size),
            scratch: Vec::new(),
            stats: AppStats::default(),
        }
    }

    /// Sends a response; false if `send` was short (the rest is left pending).
    fn respond(
        &mut self,
        conn: &mut impl Conn,
        st: &mut HttpState,
        id: RespId,
        off: usize,
    ) -> bool {
        let bytes = &self.responses.bytes(id)[off..];
        let n = conn.send(bytes);
        self.stats.bytes_out += n as u64;
        if n < bytes.len() {
            st.pending = Some((id, (off + n) as u32));
            return false;
        }
        st.pending = None;
        true
    }

    fn process(&mut self, conn: &mut impl Conn, st: &mut HttpState, data: &[u8]) -> Outcome {
        if st.closing {
            return Outcome {
                consumed: data.len(),
                close: false,
            };
        }
        if st.pending.is_some() {
            return Outcome {
                consumed: 0,
                close: false,
            };
        }
        let mut pos = 0;
        while pos < data.len() {
            let (n, ev) = st.parser.feed(&data[pos..], self.max_head);
            pos += n;
            let Some(ev) = ev else { break };
            self.stats.requests += 1;
            let (id, close) = match ev {
                Event::Request(req) => (self.responses.ok(&req), !req.keep_alive),
                Event::Error(status) => {
                    self.stats.errors += 1;
                    (self.responses.error(status), true)
                }
            };
            let sent = self.respond(conn, st, id, 0);
            if close {
                // Whatever the client pipelined after this request is dropped, so that the close
                // is a FIN rather than a reset for unread data.
                st.closing = true;
                self.stats.bytes_in += data.len() as u64;
                if sent {
                    return Outcome {
                        consumed: data.len(),
                        close: true,
                    };
                }
                st.close_after = true;
                return Outcome {
                    consumed: data.len(),
                    close: false,
                };
            }
            if !sent {
                break;
            }
        }
        self.stats.bytes_in += pos as u64;
        Outcome {
            consumed: pos,
            close: false,
        }
    }
}

impl Handler for Http {
    type State = HttpState;

    fn on_data(&mut self, conn: &mut impl Conn, st: &mut HttpState, data: &[u8]) -> usize {
        let out = self.process(conn, st, data);
        if out.close {
            conn.close();
        }
        out.consumed
    }

    fn on_writable(&mut self, conn: &mut impl Conn, st: &mut HttpState) {
        if let Some((id, off)) = st.pending {
            if !self.respond(conn, st, id, off as usize) {
                return;
            }
            if st.close_after {
                conn.consume(conn.buffered_len());
                conn.close();
                return;
            }
        }
        // Requests the client pipelined while we were blocked wait in the receive buffer.
        let mut scratch = core::mem::take(&mut self.scratch);
        conn.copy_buffered(&mut scratch);
        let out = self.process(conn, st, &scratch);
        self.scratch = scratch;
        conn.consume(out.consumed);
        if out.close || (st.peer_closed && st.pending.is_none() && !st.closing) {
            st.closing = true;
            conn.close();
        }
    }

    fn on_peer_closed(&mut self, conn: &mut impl Conn, st: &mut HttpState) {
        // The client is done sending; once our answers are out there is nothing more to say
        // (a half-closed client still gets everything already queued: close sends FIN after it).
        st.peer_closed = true;
        if st.pending.is_none() && !st.closing {
            st.closing = true;
            conn.close();
        }
    }

    fn stats(&self) -> AppStats {
        self.stats
    }
}

#[cfg(test)]
mod tests;
