//! Shared harness for the criterion benches (benches/benches), the memory probe
//! (src/bin/conn_memory.rs) and the fuzz targets (fuzz/): engine configs, the two apps of a
//! short transaction, and `Duo`, the leanest wire between two engines (two flat outboxes
//! swapped until both are quiet).

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::app::{App, CloseReason, ConnHandle, Socket};
use stack::config::TcpConfig;
use stack::engine::{Engine, EngineConfig, Transmit, TxMeta};
use stack::time::Instant;
use stack::wire::{ChecksumCaps, MacAddr, RxMeta};

pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SERVER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
pub const CLIENT_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);

/// An engine on 198.18.0.0/24 with software checksums and an ARP timeout long enough that no
/// benchmark ever re-resolves (bench time runs far ahead of the wall clock).
pub fn engine_config(ip: Ipv4Addr, mac: MacAddr, tcp: TcpConfig, seed: u64) -> EngineConfig {
    EngineConfig {
        tcp,
        ip,
        prefix_len: 24,
        gateway: None,
        mac,
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed,
        arp_timeout: Duration::from_secs(365 * 24 * 3600),
    }
}

/// Counts how connections ended, so benches can check they measured clean closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Closes {
    pub normal: u64,
    pub reset_by_peer: u64,
    pub refused: u64,
    pub timed_out: u64,
    pub aborted: u64,
}

impl Closes {
    pub fn record(&mut self, reason: CloseReason) {
        match reason {
            CloseReason::Normal => self.normal += 1,
            CloseReason::ResetByPeer => self.reset_by_peer += 1,
            CloseReason::Refused => self.refused += 1,
            CloseReason::TimedOut => self.timed_out += 1,
            CloseReason::Aborted => self.aborted += 1,
        }
    }
    pub fn total(&self) -> u64 {
        self.normal + self.reset_by_peer + self.refused + self.timed_out + self.aborted
    }
    pub fn abnormal(&self) -> u64 {
        self.total() - self.normal
    }
}

/// Server side of a short transaction: echoes what arrives, closes when the peer does.
#[derive(Default)]
pub struct EchoServer {
    pub opened: u64,
    pub bytes: u64,
    pub closes: Closes,
    /// Close on the peer's FIN (passive close). Off for the idle-connection memory probe.
    pub close_on_fin: bool,
}

impl EchoServer {
    pub fn new() -> Self {
        EchoServer {
            close_on_fin: true,
            ..Default::default()
        }
    }
}

impl App for EchoServer {
    type State = ();
    fn on_open(&mut self, _sock: &mut Socket<'_, ()>) {
        self.opened += 1;
    }
    fn on_data(&mut self, sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        // Consuming only what could be echoed keeps the rest buffered, as a real echo must.
        let n = sock.send(data);
        self.bytes += n as u64;
        n
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, ()>) {
        if self.close_on_fin {
            sock.close();
        }
    }
    fn on_closed(&mut self, _state: &mut (), _handle: ConnHandle, reason: CloseReason) {
        self.closes.record(reason);
    }
}

pub const REQUEST: [u8; 64] = [0x5a; 64];

/// Client side of a short transaction: sends 64 B on open, closes once 64 B came back
/// (active close, so the client holds TIME_WAIT).
#[derive(Default)]
pub struct TxnClient {
    pub opened: u64,
    pub replies: u64,
    pub closes: Closes,
    /// Send the request on open. Off for the idle-connection memory probe.
    pub send_on_open: bool,
    /// Close when the peer closes (used when the server closes first).
    pub close_on_fin: bool,
}

impl TxnClient {
    pub fn new() -> Self {
        TxnClient {
            send_on_open: true,
            ..Default::default()
        }
    }
}

impl App for TxnClient {
    /// Reply bytes received so far.
    type State = u32;
    fn on_open(&mut self, sock: &mut Socket<'_, u32>) {
        self.opened += 1;
        if self.send_on_open {
            sock.send(&REQUEST);
        }
    }
    fn on_data(&mut self, sock: &mut Socket<'_, u32>, data: &[u8]) -> usize {
        let got = {
            let st = sock.state();
            *st += data.len() as u32;
            *st
        };
        if got >= REQUEST.len() as u32 {
            self.replies += 1;
            sock.close();
        }
        data.len()
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, u32>) {
        if self.close_on_fin {
            sock.close();
        }
    }
    fn on_closed(&mut self, _state: &mut u32, _handle: ConnHandle, reason: CloseReason) {
        self.closes.record(reason);
    }
}

/// Frames queued back to back in one buffer: after warm-up, sending a frame is a bump of two
/// vectors with no allocation.
#[derive(Default)]
pub struct FlatOutbox {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl FlatOutbox {
    pub fn with_capacity(bytes: usize, frames: usize) -> Self {
        FlatOutbox {
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(frames),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
    pub fn frame_at(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(move |i| self.frame_at(i))
    }
}

impl Transmit for FlatOutbox {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, _meta: TxMeta, fill: F) -> bool {
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        fill(&mut self.buf[start..]);
        self.ends.push(self.buf.len());
        true
    }
}

/// Discards every frame after it is built (into one reused buffer) and counts them: the
/// cheapest possible transmit, for measuring one engine alone.
pub struct Sink {
    buf: Vec<u8>,
    pub frames: u64,
    pub bytes: u64,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            buf: vec![0; 16 * 1024],
            frames: 0,
            bytes: 0,
        }
    }
}

impl Transmit for Sink {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, _meta: TxMeta, fill: F) -> bool {
        if len > self.buf.len() {
            self.buf.resize(len, 0);
        }
        fill(&mut self.buf[..len]);
        self.frames += 1;
        self.bytes += len as u64;
        true
    }
}

/// Two engines joined back to back: `a` sends into `a_out`, `b` into `b_out`; `exchange`
/// delivers each outbox to the other engine until both are empty.
pub struct Duo<A: App, B: App> {
    pub a: Engine<A>,
    pub b: Engine<B>,
    pub a_out: FlatOutbox,
    pub b_out: FlatOutbox,
    pub now: Instant,
    /// Frames delivered so far (both directions).
    pub delivered: u64,
}

impl<A: App, B: App> Duo<A, B> {
    pub fn new(a: Engine<A>, b: Engine<B>, now: Instant) -> Self {
        Duo {
            a,
            b,
            a_out: FlatOutbox::with_capacity(1 << 20, 1 << 14),
            b_out: FlatOutbox::with_capacity(1 << 20, 1 << 14),
            now,
            delivered: 0,
        }
    }

    /// Active open from `a` to `remote`; the SYN (or ARP request) waits in `a_out`.
    pub fn connect_a(
        &mut self,
        remote: SocketAddrV4,
        local_port: u16,
    ) -> Result<ConnHandle, stack::engine::EngineError> {
        self.a
            .connect(self.now, remote, local_port, &mut self.a_out)
    }

    /// Delivers frames both ways until neither engine has anything more to say at this instant
    /// (polling both once they are quiet, in case output was deferred to `poll`).
    pub fn exchange(&mut self) {
        let now = self.now;
        loop {
            if self.a_out.is_empty() && self.b_out.is_empty() {
                self.a.poll(now, &mut self.a_out);
                self.b.poll(now, &mut self.b_out);
                if self.a_out.is_empty() && self.b_out.is_empty() {
                    return;
                }
            }
            for f in self.a_out.iter() {
                self.b.receive(now, f, RxMeta::default(), &mut self.b_out);
            }
            self.delivered += self.a_out.len() as u64;
            self.a_out.clear();
            for f in self.b_out.iter() {
                self.a.receive(now, f, RxMeta::default(), &mut self.a_out);
            }
            self.delivered += self.b_out.len() as u64;
            self.b_out.clear();
        }
    }

    /// Exchanges, then jumps time to the engines' next deadline, until `done` holds (true) or
    /// time passes `deadline` (false). For set-up (ARP, retransmissions), not for measuring.
    pub fn run_until(&mut self, deadline: Instant, mut done: impl FnMut(&Self) -> bool) -> bool {
        loop {
            self.exchange();
            if done(self) {
                return true;
            }
            if self.now > deadline {
                return false;
            }
            let next = [self.a.poll_at(), self.b.poll_at()]
                .into_iter()
                .flatten()
                .min();
            self.now = match next {
                Some(t) if t > self.now => t.min(deadline + Duration::from_micros(1)),
                _ => self.now + Duration::from_millis(1),
            };
        }
    }

    /// Advances time by `d` in steps of at most `step`, exchanging at each.
    pub fn advance(&mut self, d: Duration, step: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = (self.now + step).min(end);
            self.exchange();
        }
    }
}

/// A TCP config for the short-transaction bench: small MSL so TIME_WAIT entries expire and
/// 4-tuples come round again, and tables sized for what the bench keeps live.
pub fn txn_tcp_config(msl: Duration) -> TcpConfig {
    TcpConfig {
        msl,
        max_conns: 1 << 16,
        max_time_wait: 1 << 20,
        ..TcpConfig::default()
    }
}

/// Local port `i` of a round-robin over 1024..=65535.
#[inline]
pub fn client_port(i: u64) -> u16 {
    (1024 + i % (65536 - 1024)) as u16
}

/// Consumes and counts everything it receives; sends nothing.
#[derive(Default)]
pub struct Discard {
    pub opened: u64,
    pub bytes: u64,
    pub closes: Closes,
}

impl App for Discard {
    type State = ();
    fn on_open(&mut self, _sock: &mut Socket<'_, ()>) {
        self.opened += 1;
    }
    fn on_data(&mut self, _sock: &mut Socket<'_, ()>, data: &[u8]) -> usize {
        self.bytes += data.len() as u64;
        data.len()
    }
    fn on_closed(&mut self, _state: &mut (), _handle: ConnHandle, reason: CloseReason) {
        self.closes.record(reason);
    }
}

/// Offsets into an untagged Ethernet/IPv4 (no options) /TCP frame.
pub const IP_OFF: usize = 14;
pub const TCP_OFF: usize = 14 + 20;

/// Rewrites a 32-bit big-endian field of a TCP/IPv4 frame and patches the TCP checksum
/// incrementally (RFC 1624 eqn. 3), so a prebuilt frame can be reused with new sequence numbers.
pub fn patch_tcp_u32(frame: &mut [u8], field_off: usize, value: u32) {
    let csum_off = TCP_OFF + 16;
    let old = u32::from_be_bytes(frame[field_off..field_off + 4].try_into().unwrap());
    frame[field_off..field_off + 4].copy_from_slice(&value.to_be_bytes());
    let hc = u16::from_be_bytes([frame[csum_off], frame[csum_off + 1]]);
    let mut sum = (!hc) as u32;
    sum += (!(old >> 16) as u16) as u32 + (!(old as u16)) as u32;
    sum += (value >> 16) + (value & 0xffff);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let new = !(sum as u16);
    frame[csum_off..csum_off + 2].copy_from_slice(&new.to_be_bytes());
}

/// CPU time this thread has run, which other processes' load does not inflate (the machine is
/// shared; wall time there mostly measures the scheduler).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given, which lives on this stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Whether benches time with this thread's CPU time (`TCPTERM_BENCH_CLOCK=cpu`) instead of the
/// wall clock (the default).
pub fn cpu_clock() -> bool {
    static CPU: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CPU.get_or_init(|| std::env::var("TCPTERM_BENCH_CLOCK").is_ok_and(|v| v == "cpu"))
}

/// Times `f` with the bench clock (see `cpu_clock`), for criterion's `iter_custom`.
pub fn timed(f: impl FnOnce()) -> Duration {
    if cpu_clock() {
        let t = thread_cpu_time();
        f();
        thread_cpu_time() - t
    } else {
        let t = std::time::Instant::now();
        f();
        t.elapsed()
    }
}

/// Runs `f` `iters` times under `timed`.
pub fn timed_iters(iters: u64, mut f: impl FnMut()) -> Duration {
    timed(|| {
        for _ in 0..iters {
            f();
        }
    })
}
