//! Heap cost of idle connections and of TIME_WAIT entries, measured on the server engine.
//!
//! A counting global allocator attributes every allocation to whichever engine is running
//! (a tag set around each engine call; the outboxes are reserved up front so their growth is
//! never charged to an engine). Two engines in memory: the client opens N idle connections
//! (no data), then the server closes them all (active close: the server holds TIME_WAIT),
//! then time passes 2×MSL so the TIME_WAIT entries expire.
//!
//! Usage: conn_memory [N] (default 100000). Heap figures are requested bytes (Layout sizes),
//! without the allocator's own per-block overhead. Beside them, and kept apart from them, the
//! process's resident memory from /proc/self/status: VmRSS before the connections, and the peak
//! (VmHWM) once they are established and over the whole run. Both engines live in this one
//! process, so the RSS figures cover client and server together, and are compared with both
//! engines' heap.

use core::net::SocketAddrV4;
use core::time::Duration;
use stack::config::TcpConfig;
use stack::engine::Engine;
use stack::time::Instant;
use stack::wire::RxMeta;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use tcpterm_benches::*;

const OTHER: usize = 0;
const SERVER: usize = 1;
const CLIENT: usize = 2;

struct Counting;
static TAG: AtomicUsize = AtomicUsize::new(OTHER);
static LIVE: [AtomicI64; 3] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];
static ALLOCS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are only
// bookkeeping beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let t = TAG.load(Relaxed);
        LIVE[t].fetch_add(layout.size() as i64, Relaxed);
        ALLOCS[t].fetch_add(1, Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let t = TAG.load(Relaxed);
        LIVE[t].fetch_add(layout.size() as i64, Relaxed);
        ALLOCS[t].fetch_add(1, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE[TAG.load(Relaxed)].fetch_sub(layout.size() as i64, Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let t = TAG.load(Relaxed);
        LIVE[t].fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        ALLOCS[t].fetch_add(1, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live(tag: usize) -> i64 {
    LIVE[tag].load(Relaxed)
}

/// Runs `f` with allocations charged to `tag`.
fn tagged<R>(tag: usize, f: impl FnOnce() -> R) -> R {
    let prev = TAG.swap(tag, Relaxed);
    let r = f();
    TAG.store(prev, Relaxed);
    r
}

/// `Duo::exchange` with each engine's work charged to its own tag.
fn exchange(d: &mut Duo<TxnClient, EchoServer>) {
    let now = d.now;
    loop {
        if d.a_out.is_empty() && d.b_out.is_empty() {
            tagged(CLIENT, || d.a.poll(now, &mut d.a_out));
            tagged(SERVER, || d.b.poll(now, &mut d.b_out));
            if d.a_out.is_empty() && d.b_out.is_empty() {
                return;
            }
        }
        for f in d.a_out.iter() {
            tagged(SERVER, || {
                d.b.receive(now, f, RxMeta::default(), &mut d.b_out)
            });
        }
        d.a_out.clear();
        for f in d.b_out.iter() {
            tagged(CLIENT, || {
                d.a.receive(now, f, RxMeta::default(), &mut d.a_out)
            });
        }
        d.b_out.clear();
    }
}

fn advance(d: &mut Duo<TxnClient, EchoServer>, by: Duration, step: Duration) {
    let end = d.now + by;
    while d.now < end {
        d.now = (d.now + step).min(end);
        exchange(d);
    }
}

/// A field of /proc/self/status in kB: VmRSS (resident now) or VmHWM (peak resident size).
fn status_kb(field: &str) -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("/proc/self/status has no {field}"))
}

fn per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

/// The TIME_WAIT store's two parts measured alone, with stand-ins of the engine's entry sizes:
/// a `ConnTable` of 24-byte values and a `TimerWheel` of 12-byte payloads (enum tag + SlotId).
fn breakdown(n: usize) {
    use stack::flow::FourTuple;
    let before = live(OTHER);
    let mut table: stack::table::ConnTable<[u8; 24]> = stack::table::ConnTable::new(n + 16, 5);
    for i in 0..n as u32 {
        let key = FourTuple {
            local_ip: SERVER_IP,
            local_port: 80,
            remote_ip: core::net::Ipv4Addr::from(i),
            remote_port: 1024,
        };
        assert!(table.insert(key, [0; 24]).is_ok(), "insert");
    }
    let table_bytes = live(OTHER) - before;
    let before = live(OTHER);
    let t0 = Instant::from_secs(1);
    let mut wheel: stack::timer::TimerWheel<(u32, u32, u32)> =
        stack::timer::TimerWheel::new(t0, Duration::from_millis(1));
    for i in 0..n as u32 {
        wheel.schedule(t0 + Duration::from_secs(2), (0, i, 0));
    }
    let wheel_bytes = live(OTHER) - before;
    println!(
        "  breakdown with {n} entries: ConnTable<[u8; 24]> {:.1} B/entry, TimerWheel<12 B payload> {:.1} B/timer",
        per(table_bytes, n),
        per(wheel_bytes, n)
    );
    drop((table, wheel));
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N must be a number"))
        .unwrap_or(100_000);
    let msl = Duration::from_secs(1);
    let tcp = TcpConfig {
        msl,
        max_conns: n + 16,
        max_time_wait: n + 16,
        // close_all orphans every connection at once; past this Linux-like limit they are reset.
        max_orphans: n + 16,
        ..TcpConfig::default()
    };
    let ports_needed = n.div_ceil(64_000);
    let server_ports: Vec<u16> = (0..ports_needed as u16).map(|i| 80 + i).collect();
    let t0 = Instant::from_secs(1);

    let client = tagged(CLIENT, || {
        let app = TxnClient {
            send_on_open: false,
            close_on_fin: true,
            ..TxnClient::default()
        };
        Engine::new(
            engine_config(CLIENT_IP, CLIENT_MAC, tcp.clone(), 11),
            app,
            t0,
        )
        .expect("client engine")
    });
    let h_before = live(SERVER);
    let server = tagged(SERVER, || {
        let app = EchoServer {
            close_on_fin: true,
            ..EchoServer::default()
        };
        let mut e = Engine::new(
            engine_config(SERVER_IP, SERVER_MAC, tcp.clone(), 12),
            app,
            t0,
        )
        .expect("server engine");
        for &p in &server_ports {
            e.listen(p).expect("listen");
        }
        e
    });
    let mut d = Duo::new(client, server, t0);
    // Outboxes big enough for a whole batch, so they never grow inside an engine's tag.
    d.a_out = FlatOutbox::with_capacity(64 << 20, 1 << 20);
    d.b_out = FlatOutbox::with_capacity(64 << 20, 1 << 20);
    let h0 = live(SERVER) - h_before;
    let c0 = live(CLIENT);
    let rss0 = status_kb("VmRSS");
    let hwm0 = status_kb("VmHWM");

    // Open N idle connections in batches.
    const BATCH: usize = 4096;
    let mut opened = 0usize;
    let mut i = 0u64;
    while opened < n {
        let k = BATCH.min(n - opened);
        for _ in 0..k {
            let remote = SocketAddrV4::new(
                SERVER_IP,
                server_ports[(i % server_ports.len() as u64) as usize],
            );
            let port = client_port(i / server_ports.len() as u64);
            i += 1;
            let r = tagged(CLIENT, || d.a.connect(d.now, remote, port, &mut d.a_out));
            r.expect("connect");
        }
        opened += k;
        d.now += Duration::from_micros(100);
        exchange(&mut d);
    }
    // Let ARP and any retransmitted SYN finish.
    let mut guard = 0;
    while d.b.app().opened < n as u64 && guard < 200 {
        advance(
            &mut d,
            Duration::from_millis(100),
            Duration::from_millis(10),
        );
        guard += 1;
    }
    // Past the delayed-ACK timers etc., so nothing transient is counted.
    advance(
        &mut d,
        Duration::from_millis(500),
        Duration::from_millis(50),
    );
    let est = d.b.conn_count();
    let h1 = live(SERVER) - h_before;
    let c1 = live(CLIENT);
    let rss1 = status_kb("VmRSS");
    let hwm1 = status_kb("VmHWM");

    // The server closes everything; the client closes on FIN, so the server ends in TIME_WAIT.
    let now = d.now;
    tagged(SERVER, || d.b.close_all(now, &mut d.b_out));
    advance(
        &mut d,
        Duration::from_millis(100),
        Duration::from_millis(10),
    );
    let tw = d.b.time_wait_count();
    let tw_table = d.b.time_wait_memory_bytes();
    let live_after_close = d.b.conn_count();
    let h2 = live(SERVER) - h_before;

    // TIME_WAIT expires after 2×MSL.
    advance(
        &mut d,
        msl * 2 + Duration::from_millis(500),
        Duration::from_millis(50),
    );
    // At most a bounded batch of TIME_WAIT entries expires per poll: poll on until drained.
    let mut guard = 0;
    while d.b.time_wait_count() > 0 && guard < 100_000 {
        advance(&mut d, Duration::from_millis(1), Duration::from_millis(1));
        guard += 1;
    }
    let tw_after = d.b.time_wait_count();
    let h3 = live(SERVER) - h_before;

    println!("conn_memory: N={n} (server ports {server_ports:?}), requested heap bytes on the server engine");
    println!(
        "  size_of::<stack::tcp::tcb::Tcb>() = {} B",
        std::mem::size_of::<stack::tcp::tcb::Tcb>()
    );
    println!(
        "  stack::engine::slot_size::<()>() = {} B, stack::engine::time_wait_entry_size() = {} B",
        stack::engine::slot_size::<()>(),
        stack::engine::time_wait_entry_size()
    );
    println!(
        "  H0 engine created + listening (tables sized max_conns={}) = {h0} B",
        n + 16
    );
    println!(
        "  H1 with {est} ESTABLISHED idle connections = {h1} B  -> growth/N = {:.1} B, total/N = {:.1} B",
        per(h1 - h0, n),
        per(h1, n)
    );
    println!(
        "  H2 with {tw} TIME_WAIT (live conns {live_after_close}) = {h2} B  -> (H2-H0)/N = {:.1} B",
        per(h2 - h0, n)
    );
    println!(
        "  heap growth over the close (H2-H1)/N = {:.1} B: the TIME_WAIT table plus what closing N at once grew and keeps (timer-wheel capacity of the FIN timers); see H3",
        per(h2 - h1, n)
    );
    println!(
        "  TIME_WAIT table's own capacity: {tw_table} B -> {:.1} B/entry",
        per(tw_table as i64, tw.max(1))
    );
    println!(
        "  H3 after TIME_WAIT expiry (left {tw_after}) = {h3} B  -> freed at expiry (H2-H3)/N = {:.1} B",
        per(h2 - h3, n)
    );
    println!(
        "  process RSS (client + server engines): VmRSS {rss0} kB before the connections (VmHWM {hwm0} kB); with {est} ESTABLISHED VmRSS {rss1} kB, peak VmHWM {hwm1} kB"
    );
    println!(
        "  peak RSS (VmHWM) growth/N with the connections established = {:.1} B per connection, client + server (their heap growth/N: {:.1} B)",
        per((hwm1 - rss0) * 1024, n),
        per((h1 - h0) + (c1 - c0), n)
    );
    println!(
        "  peak RSS (VmHWM) over the whole run, TIME_WAIT included: {} kB -> (VmHWM - VmRSS before)/N = {:.1} B",
        status_kb("VmHWM"),
        per((status_kb("VmHWM") - rss0) * 1024, n)
    );
    breakdown(n);
    println!(
        "  server allocations: {}, client allocations: {}, other: {}",
        ALLOCS[SERVER].load(Relaxed),
        ALLOCS[CLIENT].load(Relaxed),
        ALLOCS[OTHER].load(Relaxed)
    );
    println!(
        "  closes: server {:?}, client {:?}",
        d.b.app().closes,
        d.a.app().closes
    );
}
