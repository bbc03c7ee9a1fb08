//! Reset generation (RFC 9293 §3.10.7.1-2) and reset processing (RFC 9293 §3.10.7.4,
//! RFC 5961 §3), black-box.

mod common;
use common::*;
use stack::{CloseReason, State, TcpConfig};

const CLOSED_PORT: u16 = 81;

fn to_closed_port(h: &Harness, flags: u8) -> Out {
    let c = Conn::new(PPORT, PEER_ISS, PeerOpts::none());
    h.seg_on(&c, flags).dport(CLOSED_PORT).seq(PEER_ISS).ack(0)
}

// ---- §3.10.7.1: CLOSED (no connection, no listener) -------------------------------------------

#[test]
fn syn_to_closed_port_gets_rst_ack_seq_zero_ack_seq_plus_one_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, SYN).win(65535);
    h.send(o);
    // No ACK on the segment: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN counts as one.
    let r = h.expect_one(RST | ACK, 0, PEER_ISS + 1);
    assert_eq!(r.repr.src_port, CLOSED_PORT);
    assert_eq!(r.repr.dst_port, PPORT);
    assert_eq!(r.ip_dst, PEER_IP);
    assert_eq!(r.eth_dst, PEER_MAC);
    assert_eq!(h.counters().mib.out_rsts, 1);
    assert_eq!(h.counters().drops.tcp_no_listener, 1);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.gauge_total(), 0);
}

#[test]
fn syn_with_data_to_closed_port_acks_syn_plus_data_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, SYN).data(b"hello");
    h.send(o);
    h.expect_one(RST | ACK, 0, PEER_ISS + 1 + 5);
}

#[test]
fn ack_for_unknown_connection_gets_rst_seq_seg_ack_without_ack_flag_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, ACK).ack(12345).data(b"stale data");
    h.send(o);
    // SEG has ACK: <SEQ=SEG.ACK><CTL=RST>, and no ACK flag.
    let r = h.expect_one(RST, 12345, 0);
    assert!(!r.has(ACK));
    assert_eq!(h.counters().mib.out_rsts, 1);
    assert_eq!(
        h.counters().drops.tcp_no_listener + h.counters().drops.tcp_no_connection,
        1
    );
}

#[test]
fn data_without_ack_to_unknown_gets_rst_ack_seq_plus_len_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, PSH).data(&[7u8; 100]);
    h.send(o);
    h.expect_one(RST | ACK, 0, PEER_ISS + 100);
}

#[test]
fn fin_counts_in_seg_len_for_rst_ack_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, FIN).data(&[7u8; 10]);
    h.send(o);
    h.expect_one(RST | ACK, 0, PEER_ISS + 11);
}

#[test]
fn bare_fin_to_unknown_gets_rst_ack_seq_plus_one_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, FIN);
    h.send(o);
    h.expect_one(RST | ACK, 0, PEER_ISS + 1);
}

#[test]
fn rst_to_unknown_connection_is_never_answered_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, RST);
    h.send(o);
    let o = to_closed_port(&h, RST | ACK).ack(4242);
    h.send(o);
    // Also on a port with a listener but no such connection.
    let o = to_closed_port(&h, RST | ACK).dport(LPORT).ack(4242);
    h.send(o);
    h.expect_none();
    assert_eq!(h.counters().mib.out_rsts, 0);
    assert_eq!(h.counters().drops.tcp_rst_no_connection, 3);
}

// ---- §3.10.7.2: LISTEN ----------------------------------------------------------------------

#[test]
fn listen_ignores_rst_rfc9293_3_10_7_2() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, RST).dport(LPORT);
    h.send(o);
    h.expect_none();
    // The listener still works.
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut c);
    assert_eq!(h.gauge(State::SynReceived), 1);
}

#[test]
fn listen_answers_ack_with_rst_seq_seg_ack_rfc9293_3_10_7_2() {
    let mut h = Harness::with_defaults();
    let o = to_closed_port(&h, ACK).dport(LPORT).ack(777_777);
    h.send(o);
    let r = h.expect_one(RST, 777_777, 0);
    assert!(!r.has(ACK));
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.gauge_total(), 0);
}

#[test]
fn listen_drops_segment_without_syn_ack_or_rst_rfc9293_3_10_7_2() {
    let mut h = Harness::with_defaults();
    // "Any other control or text-bearing segment (not containing SYN) must have an ACK and
    // thus would be discarded by the ACK processing" — dropped, no reply.
    let o = to_closed_port(&h, PSH).dport(LPORT).data(b"xyz");
    h.send(o);
    h.expect_none();
    assert_eq!(h.engine.conn_count(), 0);
}

// ---- RST processing -------------------------------------------------------------------------

#[test]
fn rst_in_syn_received_drops_embryo_and_listener_stays_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut c);
    assert_eq!(h.gauge(State::SynReceived), 1);
    let o = h.seg_on(&c, RST).seq(PEER_ISS + 1);
    h.send(o);
    h.expect_none();
    assert_eq!(h.gauge(State::SynReceived), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().mib.attempt_fails, 1);
    assert_eq!(h.counters().mib.in_rsts, 1);
    assert!(h.app().events.is_empty(), "the app never saw the embryo");
    // The listener is unaffected: the same peer can open again, and so can another.
    let mut again = Conn::new(PPORT, PEER_ISS + 50_000, PeerOpts::full());
    h.syn(&mut again);
    h.handshake_ack(&mut again);
    assert_eq!(h.app().opens(), 1);
    h.take();
    let mut other = Conn::new(PPORT + 1, PEER_ISS, PeerOpts::full());
    h.syn(&mut other);
    assert_eq!(h.gauge(State::SynReceived), 1);
}

#[test]
fn rst_exactly_at_rcv_nxt_closes_established_reset_by_peer_rfc5961_3_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let p = h.c.iss;
    let o = h.seg(RST).seq(p + 1);
    h.send(o);
    h.expect_none();
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::ResetByPeer))
    );
    assert_eq!(h.counters().mib.estab_resets, 1);
    assert_eq!(h.counters().mib.in_rsts, 1);
    assert_eq!(h.gauge(State::Established), 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 0, "a reset skips TIME_WAIT");
    // The connection is gone: the peer's next segment is answered as unknown.
    let s = h.c.irs;
    let o = h.seg(ACK).ack(s + 1).data(b"late");
    h.send(o);
    h.expect_rst(s + 1);
}

#[test]
fn rst_with_ack_exactly_at_rcv_nxt_closes_established() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(RST | ACK).seq(p + 1).ack(s + 1);
    h.send(o);
    h.expect_none();
    assert!(h
        .app()
        .events
        .contains(&Event::Closed(handle, CloseReason::ResetByPeer)));
}

#[test]
fn rst_in_window_but_not_exact_gets_challenge_ack_rfc5961_3_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(RST).seq(p + 1 + 100);
    h.send(o);
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    let a = h.expect_one(ACK, s + 1, p + 1);
    assert!(a.payload.is_empty());
    assert_eq!(h.counters().mib.challenge_acks, 1);
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
    // The real peer would now answer with an exact RST; that one works.
    let o = h.seg(RST).seq(p + 1);
    h.send(o);
    assert_eq!(h.app().closes(), vec![CloseReason::ResetByPeer]);
}

#[test]
fn rst_outside_window_dropped_silently_rfc5961_3_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let p = h.c.iss;
    // Far beyond the right edge, and just left of RCV.NXT.
    for seq in [p + 1 + 10_000_000, p, p - 5000] {
        let o = h.seg(RST).seq(seq);
        h.send(o);
        h.expect_none();
    }
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
    assert_eq!(h.counters().mib.challenge_acks, 0);
    assert_eq!(h.counters().mib.out_rsts, 0);
}

#[test]
fn syn_in_established_gets_challenge_ack_rfc5961_4_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // In window...
    let o = h.syn_for(&h.c.clone()).seq(p + 1 + 50);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    // ...and the original SYN again (left of the window): an ACK either way, never a reset.
    // (Past the per-connection limit on answers to invalid segments: at most one per 500 ms.)
    h.advance(ms(500));
    let o = h.syn_for(&h.c.clone());
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert!(h.counters().mib.syn_challenges >= 1);
    assert!(h.app().closes().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
    assert_eq!(h.gauge(State::Established), 1);
    assert_eq!(h.gauge(State::SynReceived), 0);
}

#[test]
fn ack_of_unsent_data_is_dropped_and_acked_rfc9293_3_10_7_4_rfc5961_5_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // SEG.ACK > SND.NXT: send an ACK, drop the segment (its data too).
    let o = h
        .seg(ACK | PSH)
        .ack(s + 1 + 1000)
        .data(b"must not be delivered");
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert!(h.app().data().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn ack_older_than_max_snd_wnd_is_dropped_and_acked_rfc5961_5_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // The peer advertised 16384 << 7 = 2 MiB, so MAX.SND.WND is 2 MiB; 10 MB back is too old.
    let o = h
        .seg(ACK | PSH)
        .ack(s.wrapping_add(1).wrapping_sub(10_000_000))
        .data(b"must not be delivered");
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert!(h.app().data().is_empty());
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn slightly_old_ack_within_max_snd_wnd_is_acceptable_rfc5961_5_2() {
    let mut h = Harness::with_defaults();
    h.establish();
    let s = h.c.irs;
    // An old duplicate ACK value still inside [SND.UNA - MAX.SND.WND, SND.NXT]: data accepted.
    let o = h.seg(ACK | PSH).ack(s.wrapping_sub(100)).data(b"fine");
    h.send(o);
    h.c.nxt += 4;
    assert_eq!(h.app().data(), b"fine");
}

#[test]
fn challenge_acks_are_limited_per_connection_rfc5961_7() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let b = Conn::new(PPORT + 1, PEER_ISS + 777, PeerOpts::full());
    let (b, _) = h.open(b);
    h.take();
    // A noisy connection: 20 in-window RSTs within 500 ms draw one challenge ACK.
    for i in 0..20 {
        let o = h.seg(RST).seq(p + 1 + 100 + i);
        h.send(o);
    }
    h.expect_one(ACK, s + 1, p + 1);
    let m = h.counters().mib;
    assert_eq!(m.challenge_acks, 1);
    assert_eq!(m.ack_skipped_challenge, 19);
    assert_eq!(m.challenge_ack_limited, 0);
    // It spent nothing of another connection's: that one is challenged at once.
    let o = h.seg_on(&b, RST).seq(b.nxt + 100);
    h.send(o);
    let ch = h.expect_one(ACK, b.irs + 1, b.nxt);
    assert_eq!(ch.dport(), PPORT + 1);
    // 500 ms later the noisy one may be challenged again.
    h.advance(ms(500));
    h.take();
    let o = h.seg(RST).seq(p + 1 + 100);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert!(h.app().closes().is_empty());
}

#[test]
fn challenge_ack_budget_is_engine_wide_and_randomised_rfc5961_7() {
    // CVE-2016-5696: an exact per-second count lets an off-path attacker learn whether its
    // guess drew a challenge ACK. Each second's budget is drawn from [limit/2, limit*3/2).
    let limit = 4u32;
    let mut h = Harness::new(
        TcpConfig {
            challenge_ack_limit: limit,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let conns: Vec<Conn> = (0..12u16)
        .map(|i| {
            let c = Conn::new(PPORT + i, PEER_ISS + 1000 * i as u32, PeerOpts::full());
            h.open(c).0
        })
        .collect();
    let mut per_second = Vec::new();
    for _ in 0..10 {
        h.advance(secs(1));
        h.take();
        for c in &conns {
            let o = h.seg_on(c, RST).seq(c.nxt + 100);
            h.send(o);
        }
        per_second.push(h.take().len() as u32);
    }
    assert!(
        per_second
            .iter()
            .all(|n| (limit / 2..limit * 3 / 2).contains(n)),
        "{per_second:?}"
    );
    assert!(
        per_second.iter().any(|&n| n != per_second[0]),
        "the same budget every second: {per_second:?}"
    );
    let m = h.counters().mib;
    let sent: u32 = per_second.iter().sum();
    assert_eq!(m.challenge_acks, sent as u64);
    assert_eq!(m.challenge_ack_limited, 12 * 10 - sent as u64);
    assert_eq!(m.ack_skipped_challenge, 0);
}

// ---- Unacceptable segments (§3.10.7.4 table) --------------------------------------------------

#[test]
fn old_duplicate_data_gets_immediate_ack_with_rcv_nxt_and_is_not_redelivered_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let data = pattern(100, 3);
    h.send_data(&data);
    h.advance(ms(500));
    h.take();
    let o = h.seg(ACK | PSH).seq(p + 1).data(&data);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 101);
    assert_eq!(h.app().data(), data);
}

#[test]
fn partially_overlapping_segment_delivers_only_new_bytes_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let p = h.c.iss;
    let stream = pattern(150, 4);
    h.send_data(&stream[..100]);
    let o = h.seg(ACK | PSH).seq(p + 51).data(&stream[50..150]);
    h.send(o);
    h.advance(ms(500));
    assert_eq!(h.app().data(), stream);
    let last = h.take().into_iter().last().expect("an ACK");
    assert_eq!(last.ack(), p + 151);
}

#[test]
fn segment_beyond_receive_window_gets_ack_and_is_dropped_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let beyond = p + 1 + TcpConfig::default().rx_buf as u32 + 1000;
    let o = h.seg(ACK | PSH).seq(beyond).data(b"far future");
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert!(h.app().data().is_empty());
    assert_eq!(h.counters().drops.tcp_out_of_window, 1);
}

/// Fills a 2048-byte receive buffer the app does not read; returns rcv_nxt.
fn fill_zero_window(h: &mut Harness) -> u32 {
    let p = h.c.iss;
    let wnd = h.c.syn_seg.unwrap().window as usize;
    assert_eq!(wnd, 2048, "SYN-ACK advertises the whole 2048-byte buffer");
    let mss = h.eff_mss(&h.c.clone());
    let data = pattern(wnd, 5);
    for chunk in data.chunks(mss) {
        h.send_data(chunk);
    }
    h.advance(ms(500));
    let segs = h.take();
    let last = segs.last().expect("the data was acknowledged");
    assert_eq!(last.ack(), p + 1 + wnd as u32);
    assert_eq!(last.repr.window, 0, "buffer full: zero window");
    p + 1 + wnd as u32
}

fn zero_window_harness() -> (Harness, stack::ConnHandle) {
    let mut h = Harness::new(
        TcpConfig {
            rx_buf: 2048,
            ..TcpConfig::default()
        },
        Behaviour {
            read: Read::None,
            ..Behaviour::default()
        },
    );
    let handle = h.establish();
    (h, handle)
}

#[test]
fn zero_window_data_segment_is_not_acceptable_and_gets_ack_rfc9293_3_10_7_4() {
    let (mut h, _handle) = zero_window_harness();
    let rcv_nxt = fill_zero_window(&mut h);
    let s = h.c.irs;
    // RCV.WND = 0: a segment with data is not acceptable, even at RCV.NXT (a probe).
    let o = h.seg(ACK | PSH).seq(rcv_nxt).data(b"x");
    h.send(o);
    let a = h.expect_one(ACK, s + 1, rcv_nxt);
    assert_eq!(a.repr.window, 0);
    assert!(h.app().data().is_empty());
}

#[test]
fn zero_window_still_accepts_pure_ack_at_rcv_nxt_rfc9293_3_10_7_4() {
    let (mut h, handle) = zero_window_harness();
    let rcv_nxt = fill_zero_window(&mut h);
    let s = h.c.irs;
    // An ACK-only segment with SEG.SEQ = RCV.NXT is acceptable with a zero window: it is
    // processed (it acknowledges our data) and not answered.
    assert_eq!(h.app_send(handle, b"reply"), 5);
    let d = h.take();
    assert_eq!(d.len(), 1);
    let o = h.seg(ACK).seq(rcv_nxt).ack(s + 1 + 5);
    h.send(o);
    h.expect_none();
    // Nothing left to retransmit: the ACK was taken.
    h.advance(secs(5));
    h.expect_none();
}

#[test]
fn zero_window_reopens_with_window_update_when_app_reads_rfc9293_3_8_6_2_2() {
    let (mut h, handle) = zero_window_harness();
    let rcv_nxt = fill_zero_window(&mut h);
    let s = h.c.irs;
    let buffered = h
        .with_conn(handle, |_, sock| {
            let (a, b) = sock.buffered();
            a.len() + b.len()
        })
        .unwrap();
    assert_eq!(buffered, 2048);
    h.with_conn(handle, |_, sock| sock.consume(2048));
    let u = h.expect_one(ACK, s + 1, rcv_nxt);
    assert!(
        u.repr.window >= 1024,
        "window update must open by at least min(buffer/2, MSS): {u}"
    );
    // And data is accepted again.
    h.send_data(b"more");
    let got = h
        .with_conn(handle, |_, sock| {
            let (a, b) = sock.buffered();
            [a, b].concat()
        })
        .unwrap();
    assert_eq!(got, b"more");
}
