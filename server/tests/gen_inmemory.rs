//! The generator against tcpterm's BuiltinApp (http and echo) over an in-memory wire: every
//! mode and both protocols, with exact counts and zero errors.

mod support;

use core::time::Duration;
use stack::sim::Pair;
use support::gen::*;
use tcpterm::apps::BuiltinApp;
use tcpterm::gen::report::PhaseDelta;
use tcpterm::gen::{Counts, GenApp};

const RTT_HALF: Duration = Duration::from_micros(50);

/// Runs one phase (the keys under `[[phase]]`) against the built-in apps, with `body_size`-byte
/// http responses, listening on and targeting `port`; every connection must end cleanly.
fn clean_phase(keys: &str, body_size: usize, port: u16) -> (PhaseDelta, Pair<GenApp, BuiltinApp>) {
    let (mut res, pair, _) = run(
        &format!("[[phase]]\n{keys}"),
        builtin(body_size),
        &[port],
        port,
        RTT_HALF,
    );
    let phase = res.remove(0);
    assert_clean(&phase.counts);
    (phase, pair)
}

fn assert_clean(c: &Counts) {
    assert_eq!(c.errors(), 0, "{c:?}");
    assert_eq!(c.closed, c.conn_attempts, "every connection ended: {c:?}");
    assert_eq!(c.connected, c.conn_attempts, "{c:?}");
}

#[test]
fn short_http_at_a_paced_rate_gets_every_response() {
    let (phase, pair) = clean_phase(
        r#"
duration = "1s"
mode = "short"
protocol = "http"
rate = 1000
concurrency = 64
response_size = 128
"#,
        128,
        HTTP,
    );
    let c = phase.counts;
    // 1000/s for 1 s: the pacer releases the 1000th connection exactly at the end, which
    // belongs to the next instant.
    assert_eq!(c.conn_attempts, 999, "{c:?}");
    assert_eq!((c.requests, c.responses), (999, 999));
    // Each response: the 128-byte body and its head.
    assert!(c.bytes_received > 999 * 128, "{c:?}");
    let lat = phase.latency.as_ref().unwrap();
    assert_eq!(lat.len(), 999);
    // One round trip over a 50 us wire each way, plus the engines' work (simulated: none).
    assert!(
        lat.value_at_quantile(0.99) <= 200,
        "{}",
        lat.value_at_quantile(0.99)
    );
    // The server answered every request.
    assert_eq!(pair.b.app().stats().requests, 999);
}

#[test]
fn short_echo_where_the_server_closes() {
    let (phase, pair) = clean_phase(
        r#"
duration = "500ms"
mode = "short"
protocol = "echo"
request_size = 1000
concurrency = 10
closer = "server"
"#,
        128,
        ECHO,
    );
    let c = phase.counts;
    assert!(c.responses > 100, "{c:?}");
    assert_eq!(c.responses, c.conn_attempts);
    assert_eq!(c.bytes_sent, 1000 * c.requests);
    assert_eq!(c.bytes_received, c.bytes_sent);
    // Echo's close is an answer to our half-close, so our FIN went first: TIME_WAIT is here.
    assert_eq!(pair.b.time_wait_count(), 0);
    assert_eq!(pair.a.time_wait_count() as u64, c.conn_attempts);
}

#[test]
fn persistent_echo_paced_requests_over_a_few_connections() {
    let (phase, _) = clean_phase(
        r#"
duration = "1s"
mode = "persistent"
protocol = "echo"
rate = 2000
concurrency = 8
request_size = 300
requests_per_conn = 50
"#,
        128,
        ECHO,
    );
    let c = phase.counts;
    assert_eq!(c.requests, 1999, "{c:?}");
    assert_eq!(c.responses, 1999);
    // 50 per connection: 39 connections done (1950), 8 more closed when the phase ended.
    assert_eq!(c.conn_attempts, 39 + 8, "{c:?}");
    assert_eq!(c.bytes_received, 300 * 1999);
}

#[test]
fn persistent_http_unlimited_with_think_time() {
    let (phase, _) = clean_phase(
        r#"
duration = "200ms"
mode = "persistent"
protocol = "http"
concurrency = 4
request_size = 200
response_size = 128
think_time = "1ms"
"#,
        128,
        HTTP,
    );
    let c = phase.counts;
    assert_eq!(c.conn_attempts, 4);
    // Each connection: a request every 1 ms think + ~100 us round trip over 200 ms.
    assert!((170..=200 * 4).contains(&c.responses), "{c:?}");
    assert_eq!(c.bytes_sent, 200 * c.requests);
}

#[test]
fn bulk_echo_checks_every_byte_of_a_megabyte() {
    let (phase, _) = clean_phase(
        r#"
duration = "100ms"
mode = "bulk"
protocol = "echo"
bytes = "1m"
concurrency = 2
rate = 20
"#,
        128,
        ECHO,
    );
    let c = phase.counts;
    assert_eq!(c.conn_attempts, 1, "20/s for 100 ms");
    assert_eq!(c.responses, 1);
    assert_eq!((c.bytes_sent, c.bytes_received), (1 << 20, 1 << 20));
}

#[test]
fn bulk_http_downloads_and_checks_the_length() {
    let (phase, _) = clean_phase(
        r#"
duration = "300ms"
mode = "bulk"
protocol = "http"
bytes = "100k"
concurrency = 3
rate = 10
"#,
        100 * 1024,
        HTTP,
    );
    let c = phase.counts;
    assert_eq!(c.responses, 2, "{c:?}");
    assert!(c.bytes_received > 2 * 100 * 1024);
}

#[test]
fn idle_connections_are_held_then_closed_with_rst() {
    let (phase, pair) = clean_phase(
        r#"
duration = "300ms"
mode = "idle"
concurrency = 500
rate = 10000
close_with = "rst"
"#,
        128,
        ECHO,
    );
    let c = phase.counts;
    assert_eq!(c.conn_attempts, 500);
    assert_eq!((c.requests, c.bytes_sent, c.bytes_received), (0, 0, 0));
    // The server saw 500 resets and holds nothing.
    assert_eq!(pair.b.counters().mib.in_rsts, 500);
    assert_eq!(pair.b.conn_count(), 0);
}

#[test]
fn two_phases_run_back_to_back() {
    let (res, _, driver) = run(
        r#"
[[phase]]
name = "a"
duration = "100ms"
mode = "short"
protocol = "http"
rate = 500
[[phase]]
name = "b"
duration = "100ms"
mode = "persistent"
protocol = "echo"
concurrency = 2
"#,
        builtin(128),
        &[HTTP, ECHO],
        HTTP,
        RTT_HALF,
    );
    // Phase b targets the same port (http), so echo requests get HTTP answers: counted as
    // wrong data, not silently accepted.
    assert_clean(&res[0].counts);
    assert_eq!(res[0].counts.responses, 49);
    assert!(
        res[1].counts.wrong_data > 0
            || res[1].counts.http_errors > 0
            || res[1].counts.early_closes > 0,
        "{:?}",
        res[1].counts
    );
    let (s0, e0) = driver.phase_times[0];
    let (s1, _) = driver.phase_times[1];
    assert_eq!(e0.saturating_since(s0), Duration::from_millis(100));
    assert_eq!(s1, s0 + Duration::from_millis(100));
}

#[test]
fn syn_flood_sends_spoofed_syns_at_the_rate_and_each_reaches_the_listener() {
    let sc = r#"
[[phase]]
name = "flood"
duration = "1s"
mode = "syn-flood"
rate = 5000
sources = "198.18.128.0/17"
"#;
    let (res, pair, _) = run(sc, builtin(128), &[HTTP], HTTP, RTT_HALF);
    let c = &res[0].counts;
    assert!((4990..=5000).contains(&c.syns_sent), "{c:?}");
    assert_eq!(c.syns_unsent, 0, "{c:?}");
    assert_eq!(c.errors(), 0, "{c:?}");
    assert_eq!(c.conn_attempts, 0, "a flood opens no connection: {c:?}");
    // Every SYN was well-formed and new: it took a SYN-queue entry or got a cookie SYN-ACK.
    let s = pair.b.counters();
    assert_eq!(
        s.mib.passive_opens + s.mib.syncookies_sent,
        c.syns_sent,
        "{:?}",
        s.mib
    );
    assert_eq!(s.drops.tcp_bad_flags + s.drops.tcp_checksum, 0);
    // No connection was completed: nobody at the spoofed addresses answers.
    assert_eq!(s.mib.syncookies_recv, 0);
    assert_eq!(s.states.get(stack::State::Established), 0);
}
