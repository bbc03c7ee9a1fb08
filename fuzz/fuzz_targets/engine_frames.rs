//! Frames from the fuzzer into live engines: nothing may panic, whatever arrives.
//!
//! Each input starts from the same world: a server engine listening on port 80 and a client
//! engine with three ESTABLISHED connections to it (set up over an in-memory wire, ARP
//! included). The input is a list of records; each either
//! - injects raw bytes as a frame (to the server or the client),
//! - injects a TCP segment built on one live connection's 4-tuple (or a fresh one), with
//!   sequence and acknowledgment numbers near the ones in use, fuzzed flags, window, options
//!   and payload, and correct checksums (so it gets past the parser into the state machine),
//! - advances time (timers: retransmission, delayed ACK, TIME_WAIT, keepalive...), or
//! - makes an app on either side send, close, half-close, abort or consume.
//!
//! Whatever an engine sends is delivered to the other (a bounded number of rounds), so the
//! conversation carries on from the state the fuzzer drove it into.
#![no_main]

use core::net::SocketAddrV4;
use core::time::Duration;
use libfuzzer_sys::fuzz_target;
use stack::app::{App, CloseReason, ConnHandle, Socket};
use stack::config::TcpConfig;
use stack::engine::Engine;
use stack::time::Instant;
use stack::wire::checksum;
use stack::wire::frame::{parse_frame, Parsed};
use stack::wire::{ChecksumCaps, Ipv4Addr, MacAddr, RxMeta};
use tcpterm_benches::{
    engine_config, Duo, FlatOutbox, CLIENT_IP, CLIENT_MAC, SERVER_IP, SERVER_MAC,
};

/// Records handles and does what the fuzzer says with data.
#[derive(Default)]
struct FuzzApp {
    handles: Vec<ConnHandle>,
    /// How many of the offered bytes to consume (0 = none, keeps data buffered).
    consume: u8,
    echo: bool,
    close_on_fin: bool,
}

impl App for FuzzApp {
    type State = u64;
    fn on_open(&mut self, sock: &mut Socket<'_, u64>) {
        self.handles.push(sock.handle());
        let _ = (sock.tuple(), sock.tcp_state());
    }
    fn on_data(&mut self, sock: &mut Socket<'_, u64>, data: &[u8]) -> usize {
        *sock.state() += data.len() as u64;
        let n = match self.consume {
            0 => 0,
            255 => data.len(),
            k => data.len().min(k as usize),
        };
        if self.echo {
            sock.send(&data[..n])
        } else {
            n
        }
    }
    fn on_writable(&mut self, sock: &mut Socket<'_, u64>) {
        let _ = sock.send_capacity();
    }
    fn on_peer_closed(&mut self, sock: &mut Socket<'_, u64>) {
        if self.close_on_fin {
            sock.close();
        }
    }
    fn on_closed(&mut self, _st: &mut u64, handle: ConnHandle, _reason: CloseReason) {
        self.handles.retain(|h| *h != handle);
    }
}

/// Where a side's next sequence numbers stand on a 4-tuple, learned from what it sent.
#[derive(Clone, Copy, Default)]
struct Track {
    port: u16,
    /// Next sequence number the client would send / the server would send.
    cli_nxt: u32,
    srv_nxt: u32,
}

struct World {
    duo: Duo<FuzzApp, FuzzApp>,
    tracks: [Track; 3],
}

const SERVER_PORT: u16 = 80;
const CLIENT_PORTS: [u16; 3] = [40001, 40002, 40003];

fn tcp_config() -> TcpConfig {
    TcpConfig {
        msl: Duration::from_secs(1),
        max_conns: 64,
        max_time_wait: 16,
        max_orphans: 16,
        syn_backlog: 4,
        rx_buf: 4096,
        tx_buf: 4096,
        max_ooo_ranges: 4,
        challenge_ack_limit: 10,
        ..TcpConfig::default()
    }
}

fn learn(tracks: &mut [Track; 3], frames: &FlatOutbox, from_client: bool) {
    let (mac, ip) = if from_client {
        (SERVER_MAC, SERVER_IP)
    } else {
        (CLIENT_MAC, CLIENT_IP)
    };
    for f in frames.iter() {
        if let Ok(Parsed::Tcp { tcp, payload, .. }) =
            parse_frame(f, mac, ip, ChecksumCaps::default(), RxMeta::default())
        {
            let port = if from_client {
                tcp.src_port
            } else {
                tcp.dst_port
            };
            let seq = u32::from_be_bytes(f[38..42].try_into().unwrap());
            let len = payload.len() as u32 + tcp.flags.syn() as u32 + tcp.flags.fin() as u32;
            for t in tracks.iter_mut().filter(|t| t.port == port) {
                if from_client {
                    t.cli_nxt = seq.wrapping_add(len);
                } else {
                    t.srv_nxt = seq.wrapping_add(len);
                }
            }
        }
    }
}

impl World {
    fn new() -> World {
        let t0 = Instant::from_secs(1);
        let client = Engine::new(
            engine_config(CLIENT_IP, CLIENT_MAC, tcp_config(), 3),
            FuzzApp {
                consume: 255,
                ..FuzzApp::default()
            },
            t0,
        )
        .expect("client engine");
        let mut server = Engine::new(
            engine_config(SERVER_IP, SERVER_MAC, tcp_config(), 4),
            FuzzApp {
                consume: 255,
                echo: true,
                close_on_fin: true,
                ..FuzzApp::default()
            },
            t0,
        )
        .expect("server engine");
        server.listen(SERVER_PORT).expect("listen");
        let mut duo = Duo::new(client, server, t0);
        let mut tracks = [Track::default(); 3];
        for (t, &p) in tracks.iter_mut().zip(&CLIENT_PORTS) {
            t.port = p;
            duo.connect_a(SocketAddrV4::new(SERVER_IP, SERVER_PORT), p)
                .expect("connect");
        }
        let mut w = World { duo, tracks };
        let deadline = Instant::from_secs(60);
        while !(w.duo.b.app().handles.len() == 3 && w.duo.a.app().handles.len() == 3) {
            assert!(w.duo.now < deadline, "set-up did not establish");
            w.rounds(64);
            w.duo.now += Duration::from_millis(10);
            w.poll();
        }
        w
    }

    fn poll(&mut self) {
        let now = self.duo.now;
        self.duo.a.poll(now, &mut self.duo.a_out);
        self.duo.b.poll(now, &mut self.duo.b_out);
    }

    /// Delivers outputs both ways, at most `max` rounds (an ACK war would otherwise never end;
    /// it is not a crash, so it is only cut short here).
    fn rounds(&mut self, max: usize) {
        let now = self.duo.now;
        let d = &mut self.duo;
        for _ in 0..max {
            if d.a_out.is_empty() && d.b_out.is_empty() {
                return;
            }
            learn(&mut self.tracks, &d.a_out, true);
            for f in d.a_out.iter() {
                d.b.receive(now, f, RxMeta::default(), &mut d.b_out);
            }
            d.a_out.clear();
            learn(&mut self.tracks, &d.b_out, false);
            for f in d.b_out.iter() {
                d.a.receive(now, f, RxMeta::default(), &mut d.a_out);
            }
            d.b_out.clear();
        }
        d.a_out.clear();
        d.b_out.clear();
    }
}

/// Pulls bytes off the front of the input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

/// A complete Ethernet/IPv4/TCP frame with correct checksums.
#[allow(clippy::too_many_arguments)]
fn tcp_frame(
    to_server: bool,
    client_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
    corrupt: bool,
) -> Vec<u8> {
    let (src_mac, dst_mac, src_ip, dst_ip, sport, dport): (
        MacAddr,
        MacAddr,
        Ipv4Addr,
        Ipv4Addr,
        u16,
        u16,
    ) = if to_server {
        (
            CLIENT_MAC,
            SERVER_MAC,
            CLIENT_IP,
            SERVER_IP,
            client_port,
            SERVER_PORT,
        )
    } else {
        (
            SERVER_MAC,
            CLIENT_MAC,
            SERVER_IP,
            CLIENT_IP,
            SERVER_PORT,
            client_port,
        )
    };
    let opt_len = options.len().min(40) & !3;
    let tcp_len = 20 + opt_len + payload.len();
    let mut f = vec![0u8; 14 + 20 + tcp_len];
    f[0..6].copy_from_slice(&dst_mac.0);
    f[6..12].copy_from_slice(&src_mac.0);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src_ip.octets());
    ip[16..20].copy_from_slice(&dst_ip.octets());
    let ipc = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&ipc.to_be_bytes());
    let t = &mut f[34..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = (((20 + opt_len) / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&window.to_be_bytes());
    t[20..20 + opt_len].copy_from_slice(&options[..opt_len]);
    t[20 + opt_len..].copy_from_slice(payload);
    let s = checksum::sum(
        t,
        checksum::pseudo_header(src_ip, dst_ip, 6, tcp_len as u16),
    );
    let mut c = !checksum::fold(s);
    if corrupt {
        c ^= 1;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    f
}

fn run(data: &[u8]) {
    let mut w = World::new();
    let mut inp = Input(data);
    let mut steps = 0;
    while let Some(op) = inp.u8() {
        steps += 1;
        if steps > 256 {
            break;
        }
        let to_server = op & 0x80 == 0;
        match op & 0x7 {
            // Raw bytes as a frame.
            0 | 1 => {
                let len = inp.u16().unwrap_or(0) as usize % 1600;
                let frame = inp.bytes(len);
                let now = w.duo.now;
                if to_server {
                    w.duo
                        .b
                        .receive(now, frame, RxMeta::default(), &mut w.duo.b_out);
                } else {
                    w.duo
                        .a
                        .receive(now, frame, RxMeta::default(), &mut w.duo.a_out);
                }
            }
            // A segment on a live (or a fresh) 4-tuple, near the sequence numbers in use.
            2..=4 => {
                let which = (op >> 3) & 3;
                let (port, cli, srv) = match which {
                    3 => (
                        inp.u16().unwrap_or(1),
                        inp.u16().unwrap_or(0) as u32 * 65537,
                        0,
                    ),
                    k => {
                        let t = w.tracks[k as usize];
                        (t.port, t.cli_nxt, t.srv_nxt)
                    }
                };
                let flags = inp.u8().unwrap_or(0x10);
                let dseq = inp.u16().unwrap_or(0) as i16 as i32;
                let dack = inp.u16().unwrap_or(0) as i16 as i32;
                let window = inp.u16().unwrap_or(65535);
                let olen = inp.u8().unwrap_or(0) as usize % 41;
                let options = inp.bytes(olen);
                let plen = inp.u16().unwrap_or(0) as usize % 1461;
                let payload = inp.bytes(plen);
                let corrupt = op & 0x40 != 0 && op & 0x20 != 0;
                // Seen from the receiver: to the server, seq is the client's; to the client,
                // the server's.
                let (seq, ack) = if to_server {
                    (cli.wrapping_add(dseq as u32), srv.wrapping_add(dack as u32))
                } else {
                    (srv.wrapping_add(dseq as u32), cli.wrapping_add(dack as u32))
                };
                let f = tcp_frame(
                    to_server, port, seq, ack, flags, window, options, payload, corrupt,
                );
                let now = w.duo.now;
                if to_server {
                    w.duo
                        .b
                        .receive(now, &f, RxMeta::default(), &mut w.duo.b_out);
                } else {
                    w.duo
                        .a
                        .receive(now, &f, RxMeta::default(), &mut w.duo.a_out);
                }
            }
            // Time passes; timers fire.
            5 => {
                let v = inp.u16().unwrap_or(0) as u64;
                // Up to 65 s: past RTOs, delayed ACKs, TIME_WAIT (MSL 1 s) and FIN_WAIT_2.
                let d = if op & 0x40 != 0 {
                    Duration::from_millis(v)
                } else {
                    Duration::from_micros(v * 10)
                };
                w.duo.now += d;
                w.poll();
            }
            // An app acts on one of its connections.
            _ => {
                let action = inp.u8().unwrap_or(0);
                let n = inp.u16().unwrap_or(0) as usize % 8192;
                let now = w.duo.now;
                let act = |app: &mut FuzzApp, sock: &mut Socket<'_, u64>| match action & 7 {
                    0 => {
                        let buf = vec![0x42u8; n];
                        let _ = sock.send(&buf);
                    }
                    1 => sock.close(),
                    2 => sock.shutdown_write(),
                    3 => sock.abort(),
                    4 => {
                        let (a, b) = sock.buffered();
                        let k = (a.len() + b.len()).min(n);
                        sock.consume(k);
                    }
                    5 => app.consume = (n % 256) as u8,
                    6 => app.echo = !app.echo,
                    _ => app.close_on_fin = !app.close_on_fin,
                };
                if to_server {
                    let hs = &w.duo.b.app().handles;
                    if !hs.is_empty() {
                        let h = hs[(action >> 3) as usize % hs.len()];
                        let _ = w.duo.b.with_conn(h, now, &mut w.duo.b_out, act);
                    }
                } else {
                    let hs = &w.duo.a.app().handles;
                    if !hs.is_empty() {
                        let h = hs[(action >> 3) as usize % hs.len()];
                        let _ = w.duo.a.with_conn(h, now, &mut w.duo.a_out, act);
                    }
                }
            }
        }
        w.rounds(16);
        // The engines' own views must stay within their limits.
        assert!(w.duo.b.conn_count() <= 64 && w.duo.a.conn_count() <= 64);
        let _ = (
            w.duo.b.poll_at(),
            w.duo.a.time_wait_count(),
            w.duo.b.counters(),
        );
    }
    // Finally let the timers run out, jumping from deadline to deadline (fixed steps would make
    // the wheel walk every tick in between): whatever state the input left, shutdown proceeds.
    let now = w.duo.now;
    w.duo.b.close_all(now, &mut w.duo.b_out);
    w.duo.a.close_all(now, &mut w.duo.a_out);
    for _ in 0..64 {
        w.rounds(16);
        let next = [w.duo.a.poll_at(), w.duo.b.poll_at()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        w.duo.now = next.max(w.duo.now + Duration::from_millis(1));
        w.poll();
    }
}

fuzz_target!(|data: &[u8]| run(data));
