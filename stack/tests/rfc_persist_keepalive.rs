//! Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) and keep-alives
//! (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4), black-box.

mod common;
use common::*;
use stack::{CloseReason, Keepalive, State, TcpConfig};

/// Established with the peer's window closed (third ACK advertises 0).
fn zero_window_peer(cfg: TcpConfig) -> (Harness, stack::ConnHandle) {
    let mut h = Harness::new(cfg, Behaviour::default());
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    c.window = 0;
    let (c, handle) = h.open(c);
    h.c = c;
    h.take();
    (h, handle)
}

/// A zero-window probe: either one byte of new data at SND.NXT (RFC 9293) or an empty segment
/// at SND.UNA - 1 (Linux); both force the receiver to answer with its window.
fn assert_probe(p: &Seg, snd_una: u32) {
    assert!(p.has(ACK) && !p.has(RST) && !p.has(SYN), "{p}");
    let byte = p.seq() == snd_una && p.len() == 1;
    let empty = p.seq() == snd_una.wrapping_sub(1) && p.is_empty();
    assert!(byte || empty, "not a window probe: {p}");
}

#[test]
fn zero_window_persist_probes_back_off_exponentially_rfc9293_3_8_6_1() {
    let (mut h, handle) = zero_window_peer(TcpConfig::default());
    let s = h.c.irs;
    let t0 = h.now;
    assert_eq!(h.app_send(handle, &pattern(100, 1)), 100);
    h.expect_none();
    let mut times = vec![t0];
    for _ in 0..4 {
        let at = h.run_until_output(secs(600)).expect("a persist probe");
        let segs = h.take();
        assert_eq!(segs.len(), 1, "{}", show(&segs));
        assert_probe(&segs[0], s + 1);
        times.push(at);
    }
    let gaps: Vec<u64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    assert!(gaps[0] > 0);
    for w in gaps.windows(2) {
        assert_eq!(w[1], 2 * w[0], "probe intervals must double: {gaps:?}");
    }
    assert_eq!(h.counters().mib.persist_probes, 4);
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn window_opening_lets_queued_data_flow_rfc9293_3_8_6_1() {
    let (mut h, handle) = zero_window_peer(TcpConfig::default());
    let s = h.c.irs;
    let data = pattern(100, 1);
    h.app_send(handle, &data);
    h.run_until_output(secs(600)).expect("a probe");
    h.take();
    // The peer's window opens (ACK of nothing new, window 16384 << 7).
    h.c.window = 16384;
    h.c.ack = s + 1;
    h.send_ack();
    let segs = h.take();
    let mut got = Vec::new();
    let mut next = s + 1;
    for sg in &segs {
        if !sg.is_empty() && sg.seq() == next {
            got.extend_from_slice(&sg.payload);
            next += sg.len() as u32;
        }
    }
    assert_eq!(got, data, "{}", show(&segs));
}

#[test]
fn answered_zero_window_probes_never_time_out_rfc1122_4_2_2_17() {
    let cfg = TcpConfig {
        retries: 3,
        ..TcpConfig::default()
    };
    let (mut h, handle) = zero_window_peer(cfg);
    let s = h.c.irs;
    h.app_send(handle, &pattern(100, 1));
    h.c.ack = s + 1;
    for _ in 0..8 {
        h.run_until_output(secs(600)).expect("a probe");
        for sg in h.take() {
            assert!(!sg.has(RST), "{sg}");
        }
        // "The transmitting host SHOULD NOT close the connection as long as the receiving host
        // continues to send acknowledgments in response to the probe segments."
        h.send_ack();
    }
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

fn keepalive_cfg() -> TcpConfig {
    TcpConfig {
        keepalive: Some(Keepalive {
            idle: secs(10),
            interval: secs(2),
            probes: 3,
        }),
        ..TcpConfig::default()
    }
}

#[test]
fn keepalive_probe_after_idle_has_seq_snd_una_minus_one_and_no_data_rfc1122_4_2_3_6() {
    let mut h = Harness::new(keepalive_cfg(), Behaviour::default());
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let t0 = h.now;
    h.advance_to(t0 + ms(9999));
    h.expect_none();
    h.advance_to(t0 + secs(10));
    let k = h.expect_one(ACK, s, p + 1);
    assert!(k.payload.is_empty());
    assert_eq!(h.counters().mib.keepalive_probes, 1);
    // The peer answers one RTT (5 ms) later: the connection stays, and the idle period starts
    // over from the answer.
    h.advance(ms(5));
    h.c.ack = s + 1;
    h.send_ack();
    h.expect_none();
    let t1 = h.now;
    h.advance_to(t1 + ms(9999));
    h.expect_none();
    h.advance_to(t1 + secs(10));
    h.expect_one(ACK, s, p + 1);
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn keepalive_idle_counts_from_last_received_segment_rfc1122_4_2_3_6() {
    let mut h = Harness::new(keepalive_cfg(), Behaviour::default());
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.advance(secs(6));
    h.send_data(b"hello");
    let t1 = h.now;
    h.advance(ms(500));
    h.take();
    h.advance_to(t1 + ms(9999));
    h.expect_none();
    h.advance_to(t1 + secs(10));
    h.expect_one(ACK, s, p + 6);
}

#[test]
fn keepalive_unanswered_probes_reset_connection_timed_out() {
    let mut h = Harness::new(keepalive_cfg(), Behaviour::default());
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let t0 = h.now;
    for at in [10u64, 12, 14] {
        h.advance_to(t0 + (secs(at) - ms(1)));
        h.expect_none();
        h.advance_to(t0 + secs(at));
        h.expect_one(ACK, s, p + 1);
    }
    h.advance_to(t0 + ms(15_999));
    h.expect_none();
    assert!(h.app().closes().is_empty());
    h.advance_to(t0 + secs(16));
    h.expect_rst(s + 1);
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::TimedOut))
    );
    assert_eq!(h.counters().mib.keepalive_probes, 3);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.gauge_total(), 0);
}

#[test]
fn keepalive_probe_answered_with_rst_by_rebooted_peer_is_reset_by_peer() {
    let mut h = Harness::new(keepalive_cfg(), Behaviour::default());
    let handle = h.establish();
    let p = h.c.iss;
    h.advance(secs(10));
    let k = h.take().pop().expect("a keepalive probe");
    // The rebooted peer knows nothing: <SEQ=SEG.ACK><CTL=RST>, which is exactly RCV.NXT.
    let o = h.seg(RST).seq(k.ack()).no_ts();
    assert_eq!(k.ack(), p + 1);
    h.send(o);
    h.expect_none();
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::ResetByPeer))
    );
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn no_keepalive_by_default() {
    let mut h = Harness::with_defaults();
    h.establish();
    h.advance(secs(3 * 3600));
    h.expect_none();
    assert_eq!(h.gauge(State::Established), 1);
}

#[test]
fn keepalive_answer_within_the_same_millisecond_keeps_connection_rfc1122_4_2_3_6() {
    // A LAN peer answers the probe within microseconds.
    let mut h = Harness::new(keepalive_cfg(), Behaviour::default());
    let handle = h.establish();
    let s = h.c.irs;
    h.c.ack = s + 1;
    for _ in 0..5 {
        h.run_until_output(secs(60)).expect("a keepalive probe");
        for sg in h.take() {
            assert!(
                !sg.has(RST),
                "reset although every probe was answered: {sg}"
            );
        }
        h.send_ack();
    }
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}
