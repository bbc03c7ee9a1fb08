//! The generator's [`stack::App`]: one per engine. It drives each connection through its
//! requests from the engine's callbacks, checks every byte it receives, and keeps the counters
//! and latency histograms. What needs the engine itself (opening connections, timed actions) is
//! done by the [`Driver`](super::driver::Driver) through `Engine::connect` and `Engine::with_conn`.
//!
//! Time: callbacks read `now`, which the worker loop sets once per iteration (the engine passes
//! no time to callbacks).

use super::http::{self, HttpResp};
use super::scenario::{CloseWith, Closer, Mode, Phase, Protocol};
use hdrhistogram::Histogram;
use stack::{App, CloseReason, ConnHandle, Instant, Socket};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

/// Echo payloads are this repeating pattern, indexed by the byte's offset in the connection's
/// stream: a prime period, so a shifted, dropped or duplicated segment never matches.
const PATTERN_PERIOD: usize = 251;
/// The longest slice of the pattern offered to `send` at once.
const PATTERN_CHUNK: usize = 64 * 1024;

/// A phase with its requests built once.
#[derive(Debug)]
pub struct PhaseRt {
    pub phase: Phase,
    /// HTTP request that keeps the connection open, and the one asking the server to close.
    http_keep: Vec<u8>,
    http_close: Vec<u8>,
}

impl PhaseRt {
    pub fn new(phase: Phase) -> Self {
        let size = phase.request_size as usize;
        PhaseRt {
            http_keep: http::request(size, false),
            http_close: http::request(size, true),
            phase,
        }
    }
}

/// Every outcome the generator counts. Error fields are exclusive: one failed connection counts
/// once, under its first failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// `connect` calls that created a connection.
    pub conn_attempts: u64,
    /// Connections that reached ESTABLISHED.
    pub connected: u64,
    /// Connections that ended (any way).
    pub closed: u64,
    pub requests: u64,
    /// Responses received complete and correct.
    pub responses: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Active opens answered by RST.
    pub refused: u64,
    /// No SYN-ACK within the phase's timeout.
    pub connect_timeouts: u64,
    /// No complete response within the timeout (or the server did not close when asked).
    pub response_timeouts: u64,
    /// The server reset an established connection.
    pub resets: u64,
    /// Received bytes that are not what was sent (echo) or not valid HTTP framing.
    pub wrong_data: u64,
    /// HTTP responses with a status other than 200, or the wrong Content-Length.
    pub http_errors: u64,
    /// The server closed before the response was complete, or while the connection was idle.
    pub early_closes: u64,
    /// The engine gave up on the connection (retransmissions exhausted).
    pub tcp_timeouts: u64,
    /// The engine aborted the connection (memory pressure).
    pub aborted: u64,
    /// No free source port or connection slot here, or no route: the generator's own limit.
    pub local_errors: u64,
    /// syn-flood: spoofed SYNs handed to the port, and those that found no transmit buffer (or
    /// no target MAC yet). Neither counts as an error.
    pub syns_sent: u64,
    pub syns_unsent: u64,
}

impl Counts {
    pub fn errors(&self) -> u64 {
        self.refused
            + self.connect_timeouts
            + self.response_timeouts
            + self.resets
            + self.wrong_data
            + self.http_errors
            + self.early_closes
            + self.tcp_timeouts
            + self.aborted
            + self.local_errors
    }

    pub fn add(&mut self, o: &Counts) {
        self.conn_attempts += o.conn_attempts;
        self.connected += o.connected;
        self.closed += o.closed;
        self.requests += o.requests;
        self.responses += o.responses;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.refused += o.refused;
        self.connect_timeouts += o.connect_timeouts;
        self.response_timeouts += o.response_timeouts;
        self.resets += o.resets;
        self.wrong_data += o.wrong_data;
        self.http_errors += o.http_errors;
        self.early_closes += o.early_closes;
        self.tcp_timeouts += o.tcp_timeouts;
        self.aborted += o.aborted;
        self.local_errors += o.local_errors;
        self.syns_sent += o.syns_sent;
        self.syns_unsent += o.syns_unsent;
    }
}

/// Latency histogram in microseconds, 1 us to 100 s at 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("static bounds are valid")
}

/// One phase's results on one engine.
#[derive(Clone, Debug)]
pub struct PhaseStats {
    pub counts: Counts,
    /// Request start to complete response.
    pub latency: Histogram<u64>,
    /// `connect` to ESTABLISHED.
    pub connect: Histogram<u64>,
    /// Connections of this phase open now.
    pub open: u64,
}

impl Default for PhaseStats {
    fn default() -> Self {
        PhaseStats {
            counts: Counts::default(),
            latency: new_histogram(),
            connect: new_histogram(),
            open: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Step {
    /// Not one of ours (or not registered yet).
    #[default]
    Untracked,
    Connecting,
    /// Request partly queued (backpressure).
    Sending,
    Awaiting,
    /// Waiting out the think time.
    Thinking,
    /// Waiting for a rate token (persistent with a request rate).
    Ready,
    /// Idle mode: open without data.
    Holding,
    /// Asked the server to close; waiting for its FIN.
    AwaitClose,
    /// We closed (FIN) or aborted; waiting for the engine to finish.
    Closing,
}

/// Per-connection state, inline in the engine's connection slot.
#[derive(Debug, Default)]
pub struct ConnState {
    serial: u32,
    idx: u32,
    phase: u16,
    step: Step,
    /// An error was counted for this connection; nothing more is.
    failed: bool,
    /// The request in flight is the connection's last.
    last: bool,
    reqs: u64,
    /// Stream offsets: next byte to queue, end of the current request, bytes received.
    send_off: u64,
    send_end: u64,
    recv_off: u64,
    /// Expected end of the echoed stream for the current request.
    recv_end: u64,
    /// When the current request (or the connect) started, in microseconds.
    t0: u64,
    http: HttpResp,
}

/// The driver's view of a live connection.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    handle: ConnHandle,
    serial: u32,
    phase: u16,
    /// Microseconds; 0: none.
    deadline: u64,
}

pub struct GenApp {
    /// The worker loop's timestamp, set before every engine call.
    pub now: Instant,
    phases: Arc<Vec<PhaseRt>>,
    pub stats: Vec<PhaseStats>,
    phase_over: Vec<bool>,
    tracked: Vec<Option<Tracked>>,
    free: Vec<u32>,
    live: usize,
    next_serial: u32,
    /// Think timers: (due, idx, serial).
    think: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// Connections waiting for a request-rate token: (idx, serial).
    ready: VecDeque<(u32, u32)>,
    pattern: Box<[u8]>,
    sweep_pos: usize,
}

fn pattern() -> Box<[u8]> {
    (0..PATTERN_CHUNK + PATTERN_PERIOD)
        .map(|i| (i % PATTERN_PERIOD) as u8)
        .collect()
}

impl GenApp {
    pub fn new(phases: Arc<Vec<PhaseRt>>) -> Self {
        let n = phases.len();
        GenApp {
            now: Instant::ZERO,
            stats: (0..n).map(|_| PhaseStats::default()).collect(),
            phase_over: vec![false; n],
            phases,
            tracked: Vec::new(),
            free: Vec::new(),
            live: 0,
            next_serial: 0,
            think: BinaryHeap::new(),
            ready: VecDeque::new(),
            pattern: pattern(),
            sweep_pos: 0,
        }
    }

    /// Connections this app tracks (all phases).
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn open_in(&self, phase: usize) -> u64 {
        self.stats[phase].open
    }

    pub fn count_local_error(&mut self, phase: usize) {
        self.stats[phase].counts.local_errors += 1;
    }

    /// syn-flood: `sent` SYNs went to the port, `unsent` found no buffer.
    pub fn count_syns(&mut self, phase: usize, sent: u64, unsent: u64) {
        let c = &mut self.stats[phase].counts;
        c.syns_sent += sent;
        c.syns_unsent += unsent;
    }

    pub(crate) fn set_phase_over(&mut self, phase: usize) {
        self.phase_over[phase] = true;
    }

    fn now_us(&self) -> u64 {
        self.now.as_micros()
    }

    fn phase(&self, p: u16) -> &Phase {
        &self.phases[p as usize].phase
    }

    fn set_deadline(&mut self, st: &ConnState, deadline: u64) {
        if let Some(Some(t)) = self.tracked.get_mut(st.idx as usize) {
            t.deadline = deadline;
        }
    }

    /// Starts tracking a connection `connect` just created (called through `with_conn`).
    pub fn register(&mut self, sock: &mut Socket<'_, ConnState>, phase: usize) {
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        let serial = self.next_serial;
        let timeout = self.phase(phase as u16).timeout.as_micros() as u64;
        let t = Tracked {
            handle: sock.handle(),
            serial,
            phase: phase as u16,
            deadline: self.now_us() + timeout,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.tracked[i as usize] = Some(t);
                i
            }
            None => {
                self.tracked.push(Some(t));
                (self.tracked.len() - 1) as u32
            }
        };
        self.live += 1;
        let s = &mut self.stats[phase];
        s.open += 1;
        s.counts.conn_attempts += 1;
        *sock.state() = ConnState {
            serial,
            idx,
            phase: phase as u16,
            step: Step::Connecting,
            t0: self.now_us(),
            ..ConnState::default()
        };
    }

    fn counts(&mut self, st: &ConnState) -> &mut Counts {
        &mut self.stats[st.phase as usize].counts
    }

    /// Counts one failure and resets the connection.
    fn fail(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState, f: fn(&mut Counts)) {
        if !st.failed {
            f(self.counts(st));
        }
        st.failed = true;
        st.step = Step::Closing;
        self.set_deadline(st, 0);
        sock.abort();
    }

    fn start_request(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState) {
        let ph = self.phase(st.phase);
        let (len, last) = match ph.mode {
            Mode::Short => (ph.request_size as u64, true),
            Mode::Persistent { requests_per_conn } => (
                ph.request_size as u64,
                requests_per_conn > 0 && st.reqs + 1 >= requests_per_conn,
            ),
            Mode::Bulk { bytes } => (
                if ph.protocol == Protocol::Echo {
                    bytes
                } else {
                    0
                },
                true,
            ),
            // A syn-flood phase has no connections of its own.
            Mode::Idle | Mode::SynFlood { .. } => (0, true),
        };
        let protocol = ph.protocol;
        let closer = ph.closer;
        let timeout = ph.timeout.as_micros() as u64;
        let len = match protocol {
            Protocol::Echo => len,
            Protocol::Http => {
                let rt = &self.phases[st.phase as usize];
                if last && closer == Closer::Server {
                    rt.http_close.len() as u64
                } else {
                    rt.http_keep.len() as u64
                }
            }
        };
        st.last = last;
        st.send_end = st.send_off + len;
        st.recv_end = st.send_end;
        st.http = HttpResp::default();
        st.t0 = self.now_us();
        st.step = Step::Sending;
        self.set_deadline(st, self.now_us() + timeout);
        self.counts(st).requests += 1;
        self.pump(sock, st);
    }

    /// Queues as much of the current request as the send buffer takes.
    fn pump(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState) {
        let rt = &self.phases[st.phase as usize];
        let ph = &rt.phase;
        while st.send_off < st.send_end {
            let left = st.send_end - st.send_off;
            let n = match ph.protocol {
                Protocol::Echo => {
                    let start = (st.send_off % PATTERN_PERIOD as u64) as usize;
                    let len = left.min(PATTERN_CHUNK as u64) as usize;
                    sock.send(&self.pattern[start..start + len])
                }
                Protocol::Http => {
                    let req = if st.last && ph.closer == Closer::Server {
                        &rt.http_close
                    } else {
                        &rt.http_keep
                    };
                    let from = req.len() - left as usize;
                    sock.send(&req[from..])
                }
            };
            st.send_off += n as u64;
            self.stats[st.phase as usize].counts.bytes_sent += n as u64;
            if n == 0 || st.send_off < st.send_end && n < PATTERN_CHUNK {
                break;
            }
        }
        if st.send_off == st.send_end && st.step == Step::Sending {
            st.step = Step::Awaiting;
            if st.last && ph.closer == Closer::Server && ph.protocol == Protocol::Echo {
                // Echo's way of asking the server to close: it closes after echoing our FIN.
                sock.shutdown_write();
            }
        }
    }

    /// A response arrived complete and correct.
    fn response_done(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState) {
        let now = self.now_us();
        let lat = now.saturating_sub(st.t0).max(1);
        let s = &mut self.stats[st.phase as usize];
        s.latency.saturating_record(lat);
        s.counts.responses += 1;
        st.reqs += 1;
        self.set_deadline(st, 0);
        let ph = self.phase(st.phase);
        let (closer, think, timeout) = (ph.closer, ph.think_time, ph.timeout);
        let over = self.phase_over[st.phase as usize];
        if st.last && closer == Closer::Server {
            st.step = Step::AwaitClose;
            self.set_deadline(st, now + timeout.as_micros() as u64);
        } else if !think.is_zero() {
            st.step = Step::Thinking;
            self.think
                .push(Reverse((now + think.as_micros() as u64, st.idx, st.serial)));
        } else if st.last || over {
            self.finish(sock, st);
        } else {
            self.next_request(sock, st);
        }
    }

    /// The next request now, or a wait for a rate token.
    fn next_request(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState) {
        let ph = self.phase(st.phase);
        if ph.rate.is_some() && ph.rate_is_requests() {
            st.step = Step::Ready;
            self.ready.push_back((st.idx, st.serial));
        } else {
            self.start_request(sock, st);
        }
    }

    /// Ends the connection the phase's way: close (FIN or RST), or ask the server to.
    fn finish(&mut self, sock: &mut Socket<'_, ConnState>, st: &mut ConnState) {
        let ph = self.phase(st.phase);
        let (closer, close_with, timeout) = (ph.closer, ph.close_with, ph.timeout);
        match closer {
            Closer::Client => {
                st.step = Step::Closing;
                self.set_deadline(st, 0);
                match close_with {
                    CloseWith::Fin => sock.close(),
                    CloseWith::Rst => sock.abort(),
                }
            }
            Closer::Server => {
                st.step = Step::AwaitClose;
                self.set_deadline(st, self.now_us() + timeout.as_micros() as u64);
                sock.shutdown_write();
            }
        }
    }

    fn with_state<R>(
        &mut self,
        sock: &mut Socket<'_, ConnState>,
        serial: Option<u32>,
        f: impl FnOnce(&mut Self, &mut Socket<'_, ConnState>, &mut ConnState) -> R,
    ) -> Option<R> {
        let mut st = core::mem::take(sock.state());
        let r = if st.step == Step::Untracked || serial.is_some_and(|s| s != st.serial) {
            None
        } else {
            Some(f(self, sock, &mut st))
        };
        *sock.state() = st;
        r
    }

    /// Think time is over (the driver pops the timer).
    pub fn wake(&mut self, sock: &mut Socket<'_, ConnState>, serial: u32) {
        self.with_state(sock, Some(serial), |app, sock, st| {
            if st.step != Step::Thinking {
                return;
            }
            if st.last || app.phase_over[st.phase as usize] {
                app.finish(sock, st);
            } else {
                app.next_request(sock, st);
            }
        });
    }

    /// A rate token for a `Ready` connection. Returns whether a request was started.
    pub fn release(&mut self, sock: &mut Socket<'_, ConnState>, serial: u32) -> bool {
        self.with_state(sock, Some(serial), |app, sock, st| {
            if st.step != Step::Ready {
                return false;
            }
            if app.phase_over[st.phase as usize] {
                app.finish(sock, st);
                return false;
            }
            app.start_request(sock, st);
            true
        })
        .unwrap_or(false)
    }

    /// The phase ended: idle and waiting connections close now.
    pub fn end_phase_conn(&mut self, sock: &mut Socket<'_, ConnState>, serial: u32) {
        self.with_state(sock, Some(serial), |app, sock, st| {
            if matches!(st.step, Step::Holding | Step::Ready) {
                app.finish(sock, st);
            }
        });
    }

    /// The deadline passed: count the timeout by what we were waiting for, and reset.
    pub fn timed_out(&mut self, sock: &mut Socket<'_, ConnState>, serial: u32) {
        self.with_state(sock, Some(serial), |app, sock, st| {
            let f: fn(&mut Counts) = match st.step {
                Step::Connecting => |c| c.connect_timeouts += 1,
                Step::Sending | Step::Awaiting | Step::AwaitClose => |c| c.response_timeouts += 1,
                // Nothing was owed: just end it.
                _ => |_| {},
            };
            app.fail(sock, st, f);
        });
    }

    /// Takes the next due think timer.
    pub fn pop_think(&mut self, now: Instant) -> Option<(ConnHandle, u32)> {
        loop {
            let Reverse((due, idx, serial)) = *self.think.peek()?;
            if due > now.as_micros() {
                return None;
            }
            self.think.pop();
            if let Some(h) = self.handle_of(idx, serial) {
                return Some((h, serial));
            }
        }
    }

    pub fn next_think(&self) -> Option<Instant> {
        self.think
            .peek()
            .map(|Reverse((due, _, _))| Instant::from_micros(*due))
    }

    pub fn pop_ready(&mut self) -> Option<(ConnHandle, u32)> {
        while let Some((idx, serial)) = self.ready.pop_front() {
            if let Some(h) = self.handle_of(idx, serial) {
                return Some((h, serial));
            }
        }
        None
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn handle_of(&self, idx: u32, serial: u32) -> Option<ConnHandle> {
        match self.tracked.get(idx as usize) {
            Some(Some(t)) if t.serial == serial => Some(t.handle),
            _ => None,
        }
    }

    /// Connections of `phase` (all of them, or past their deadline when `expired_at`), into
    /// `out`. Scans at most `budget` slots from where the last scan stopped, so a sweep over
    /// millions of connections is spread over many loop iterations.
    pub fn collect(
        &mut self,
        expired_at: Option<Instant>,
        phase: Option<usize>,
        budget: usize,
        out: &mut Vec<(ConnHandle, u32)>,
    ) {
        let n = self.tracked.len();
        if n == 0 {
            return;
        }
        let now = expired_at.map(|t| t.as_micros());
        for _ in 0..budget.min(n) {
            if self.sweep_pos >= n {
                self.sweep_pos = 0;
            }
            if let Some(t) = &self.tracked[self.sweep_pos] {
                let phase_ok = phase.is_none_or(|p| t.phase as usize == p);
                let due = now.is_none_or(|now| t.deadline != 0 && t.deadline <= now);
                if phase_ok && due {
                    out.push((t.handle, t.serial));
                }
            }
            self.sweep_pos += 1;
        }
    }

    pub fn tracked_slots(&self) -> usize {
        self.tracked.len()
    }
}

impl App for GenApp {
    type State = ConnState;

    fn on_open(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.with_state(sock, None, |app, sock, st| {
            if st.step != Step::Connecting {
                return;
            }
            let now = app.now_us();
            let s = &mut app.stats[st.phase as usize];
            s.connect
                .saturating_record(now.saturating_sub(st.t0).max(1));
            s.counts.connected += 1;
            app.set_deadline(st, 0);
            let over = app.phase_over[st.phase as usize];
            match app.phase(st.phase).mode {
                Mode::Idle | Mode::Persistent { .. } if over => app.finish(sock, st),
                Mode::Idle => st.step = Step::Holding,
                // Through the pacer: with a request rate, the first request needs a token too.
                _ => app.next_request(sock, st),
            }
        });
    }

    fn on_data(&mut self, sock: &mut Socket<'_, ConnState>, data: &[u8]) -> usize {
        self.with_state(sock, None, |app, sock, st| {
            app.stats[st.phase as usize].counts.bytes_received += data.len() as u64;
            if st.failed || st.step == Step::Closing {
                return;
            }
            if !matches!(st.step, Step::Sending | Step::Awaiting) {
                // Nothing was asked for.
                app.fail(sock, st, |c| c.wrong_data += 1);
                return;
            }
            let protocol = app.phase(st.phase).protocol;
            match protocol {
                Protocol::Echo => {
                    // Never more than was sent, and exactly the pattern at these offsets.
                    let end = st.recv_off + data.len() as u64;
                    let start = (st.recv_off % PATTERN_PERIOD as u64) as usize;
                    let ok = end <= st.send_off
                        && data.chunks(PATTERN_CHUNK).enumerate().all(|(i, c)| {
                            let s = (start + i * PATTERN_CHUNK) % PATTERN_PERIOD;
                            c == &app.pattern[s..s + c.len()]
                        });
                    if !ok {
                        app.fail(sock, st, |c| c.wrong_data += 1);
                        return;
                    }
                    st.recv_off = end;
                    if st.recv_off == st.recv_end && st.step == Step::Awaiting {
                        app.response_done(sock, st);
                    }
                }
                Protocol::Http => match st.http.feed(data) {
                    http::Feed::More => {}
                    http::Feed::Done {
                        used,
                        status,
                        length,
                    } => {
                        let want = app.phase(st.phase).response_size;
                        if used != data.len() {
                            app.fail(sock, st, |c| c.wrong_data += 1);
                        } else if status != 200 || want.is_some_and(|w| w != length) {
                            app.fail(sock, st, |c| c.http_errors += 1);
                        } else {
                            app.response_done(sock, st);
                        }
                    }
                    http::Feed::Bad => app.fail(sock, st, |c| c.wrong_data += 1),
                },
            }
        });
        // Everything is consumed: checked data is not kept.
        data.len()
    }

    fn on_writable(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.with_state(sock, None, |app, sock, st| {
            if st.step == Step::Sending {
                app.pump(sock, st);
            }
        });
    }

    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ConnState>) {
        self.with_state(sock, None, |app, sock, st| {
            match st.step {
                Step::AwaitClose | Step::Closing => {}
                _ if st.failed => {}
                _ => {
                    // The server closed while we expected a response or kept the connection.
                    if !st.failed {
                        app.counts(st).early_closes += 1;
                    }
                    st.failed = true;
                }
            }
            if st.step != Step::Closing {
                st.step = Step::Closing;
                app.set_deadline(st, 0);
                sock.close();
            }
        });
    }

    fn on_closed(&mut self, st: &mut ConnState, _handle: ConnHandle, reason: CloseReason) {
        if st.step == Step::Untracked {
            return;
        }
        if let Some(slot) = self.tracked.get_mut(st.idx as usize) {
            if slot.is_some_and(|t| t.serial == st.serial) {
                *slot = None;
                self.free.push(st.idx);
                self.live -= 1;
            }
        }
        let s = &mut self.stats[st.phase as usize];
        s.open = s.open.saturating_sub(1);
        let c = &mut s.counts;
        c.closed += 1;
        if st.failed {
            return;
        }
        match reason {
            CloseReason::Normal => {
                if !matches!(st.step, Step::Closing | Step::AwaitClose) {
                    c.early_closes += 1;
                }
            }
            CloseReason::Refused => c.refused += 1,
            CloseReason::ResetByPeer => c.resets += 1,
            CloseReason::TimedOut => c.tcp_timeouts += 1,
            CloseReason::Aborted => {
                // Our own RST close is the phase's choice; anything else is the engine's.
                if st.step != Step::Closing {
                    c.aborted += 1;
                }
            }
        }
    }
}
