//! The echo and discard apps through a real engine.

mod support;

use core::time::Duration;
use stack::sim::Impairments;
use stack::{CloseReason, TcpConfig};
use support::apps::*;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn echo_mb(imp: Impairments) {
    let data = pattern(1 << 20);
    let client = Client {
        to_send: data.clone(),
        shutdown_when_sent: true,
        close_on_peer_close: true,
        ..Client::default()
    };
    // Small server buffers: echo's sends come up short and it must stop reading and resume.
    let server = TcpConfig {
        tx_buf: 8 * 1024,
        rx_buf: 16 * 1024,
        ..tcp()
    };
    let mut s = connect(client, ECHO, tcp(), server, imp);
    assert!(
        s.run_until(Duration::from_secs(120), |p| p.a.app().closed.is_some()),
        "received {} of {}",
        s.client().received.len(),
        data.len()
    );
    let c = s.client();
    assert_eq!(c.received.len(), data.len());
    assert!(c.received == data, "echo is byte-exact");
    assert!(
        c.peer_closed,
        "echo closes after the peer's FIN once everything is echoed"
    );
    assert_eq!(c.closed, Some(CloseReason::Normal));
    assert_eq!(s.pair.b.app().stats().bytes_out, data.len() as u64);
    assert_eq!(s.pair.b.counters().mib.out_rsts, 0);
}

#[test]
fn echo_one_megabyte_byte_exact_with_backpressure() {
    echo_mb(Impairments {
        delay: Duration::from_micros(200),
        ..Impairments::perfect()
    });
}

#[test]
fn echo_one_megabyte_byte_exact_over_a_lossy_reordering_wire() {
    echo_mb(Impairments {
        loss: 0.01,
        reorder: 0.01,
        duplicate: 0.005,
        delay: Duration::from_millis(1),
        reorder_window: Duration::from_millis(1),
        ..Impairments::perfect()
    });
}

#[test]
fn discard_reads_everything_answers_nothing_and_closes_after_the_peer() {
    let data = pattern(256 * 1024);
    let client = Client {
        to_send: data.clone(),
        shutdown_when_sent: true,
        close_on_peer_close: true,
        ..Client::default()
    };
    let mut s = connect(client, DISCARD, tcp(), tcp(), Impairments::perfect());
    assert!(s.run_until(Duration::from_secs(10), |p| p.a.app().closed.is_some()));
    let c = s.client();
    assert!(c.received.is_empty());
    assert_eq!(c.closed, Some(CloseReason::Normal));
    assert_eq!(s.pair.b.app().stats().bytes_in, data.len() as u64);
}
