//! Connection termination (RFC 9293 §3.6, §3.10.7.4 FIN processing, TIME_WAIT), black-box.

mod common;
use common::*;
use stack::{CloseReason, State, TcpConfig};

/// Active close up to TIME_WAIT; returns the instant TIME_WAIT was entered.
fn into_time_wait(h: &mut Harness, handle: stack::ConnHandle) -> stack::Instant {
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    h.c.ack = s + 2;
    h.send_ack();
    h.expect_none();
    let o = h.seg(FIN | ACK);
    h.send(o);
    h.c.nxt = p + 2;
    h.expect_one(ACK, s + 2, p + 2);
    assert_eq!(h.gauge(State::TimeWait), 1);
    h.now
}

#[test]
fn active_close_goes_fin_wait_1_fin_wait_2_time_wait_rfc9293_3_6() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>
    h.expect_one(FIN | ACK, s + 1, p + 1);
    assert_eq!(h.gauge(State::FinWait1), 1);
    assert_eq!(h.gauge(State::Established), 0);
    assert_eq!(
        h.counters().orphans,
        1,
        "closed by the app: an orphan until CLOSED"
    );
    h.c.ack = s + 2;
    h.send_ack();
    h.expect_none();
    assert_eq!(h.gauge(State::FinWait2), 1);
    assert_eq!(h.gauge(State::FinWait1), 0);
    let o = h.seg(FIN | ACK);
    h.send(o);
    // The FIN is acknowledged at once.
    h.expect_one(ACK, s + 2, p + 2);
    assert_eq!(h.gauge(State::TimeWait), 1);
    assert_eq!(h.gauge(State::FinWait2), 0);
    assert_eq!(h.engine.time_wait_count(), 1);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().orphans, 0);
    assert_eq!(h.app().closes(), vec![CloseReason::Normal]);
    assert!(h
        .app()
        .events
        .contains(&Event::Closed(handle, CloseReason::Normal)));
}

#[test]
fn time_wait_expires_after_exactly_2msl_rfc9293_3_6() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let tw = into_time_wait(&mut h, handle);
    let two_msl = 2 * TcpConfig::default().msl;
    h.advance_to(tw + (two_msl - ms(1)));
    assert_eq!(h.gauge(State::TimeWait), 1);
    assert_eq!(h.engine.time_wait_count(), 1);
    h.advance_to(tw + two_msl);
    h.expect_none();
    assert_eq!(h.gauge(State::TimeWait), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.counters().mib.tw_expired, 1);
    // Gone: a late segment is answered as for no connection.
    let s = h.c.irs;
    let o = h.seg(ACK).ack(s + 2);
    h.send(o);
    h.expect_rst(s + 2);
}

#[test]
fn time_wait_reacks_retransmitted_fin_and_restarts_2msl_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let tw = into_time_wait(&mut h, handle);
    let two_msl = 2 * TcpConfig::default().msl;
    h.advance_to(tw + secs(10));
    // Our last ACK was lost; the peer retransmits its FIN.
    let o = h.seg(FIN | ACK).seq(p + 1);
    h.send(o);
    h.expect_one(ACK, s + 2, p + 2);
    h.advance_to(tw + two_msl);
    assert_eq!(h.engine.time_wait_count(), 1, "2MSL restarted at the FIN");
    h.advance_to(tw + secs(10) + (two_msl - ms(1)));
    assert_eq!(h.engine.time_wait_count(), 1);
    h.advance_to(tw + secs(10) + two_msl);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge(State::TimeWait), 0);
}

#[test]
fn time_wait_ignores_rst_rfc1337() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let p = h.c.iss;
    into_time_wait(&mut h, handle);
    let o = h.seg(RST).seq(p + 2);
    h.send(o);
    h.expect_none();
    assert_eq!(h.engine.time_wait_count(), 1);
}

#[test]
fn syn_with_higher_seq_in_time_wait_opens_new_connection_rfc9293_3_10_7_4_rfc6191() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let p = h.c.iss;
    into_time_wait(&mut h, handle);
    h.advance(secs(1));
    let new_iss = p + 2 + 100_000;
    let mut c = Conn::new(PPORT, new_iss, PeerOpts::full());
    let sa = h.syn(&mut c);
    assert_eq!(sa.ack(), new_iss + 1);
    assert_eq!(h.counters().mib.tw_recycled, 1);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge(State::TimeWait), 0);
    assert_eq!(h.gauge(State::SynReceived), 1);
    h.handshake_ack(&mut c);
    assert_eq!(h.app().opens(), 2);
    assert_eq!(h.gauge(State::Established), 1);
}

#[test]
fn passive_close_acks_fin_and_holds_close_wait_until_app_closes_rfc9293_3_6() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(FIN | ACK).ack(s + 1);
    h.send(o);
    h.c.nxt = p + 2;
    h.advance(TcpConfig::default().delayed_ack);
    h.expect_one(ACK, s + 1, p + 2);
    assert_eq!(h.app().peer_closed(), 1);
    assert_eq!(h.gauge(State::CloseWait), 1);
    assert_eq!(h.gauge(State::Established), 0);
    // The app does nothing: CLOSE_WAIT stays, visible, however long it takes.
    h.advance(secs(3600));
    h.expect_none();
    assert_eq!(h.gauge(State::CloseWait), 1);
    assert_eq!(h.engine.conn_count(), 1);
    assert_eq!(h.tcp_state(handle), Some(State::CloseWait));
    // The app closes: FIN, LAST_ACK.
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 2);
    assert_eq!(h.gauge(State::LastAck), 1);
    assert_eq!(h.gauge(State::CloseWait), 0);
    h.c.ack = s + 2;
    h.send_ack();
    h.expect_none();
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(
        h.engine.time_wait_count(),
        0,
        "the passive closer skips TIME_WAIT"
    );
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::Normal))
    );
}

#[test]
fn data_then_fin_in_one_segment_delivers_data_before_peer_closed() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(FIN | ACK | PSH).data(b"bye");
    h.send(o);
    h.advance(TcpConfig::default().delayed_ack);
    h.expect_one(ACK, s + 1, p + 5);
    let ev = &h.app().events;
    let data_at = ev
        .iter()
        .position(|e| matches!(e, Event::Data(_, d) if d == b"bye"))
        .expect("data delivered");
    let closed_at = ev
        .iter()
        .position(|e| *e == Event::PeerClosed(handle))
        .expect("peer closed");
    assert!(data_at < closed_at);
}

#[test]
fn fin_beyond_a_hole_waits_for_the_missing_data_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(FIN | ACK).seq(p + 101);
    h.send(o);
    let d = h.take();
    assert!(d.iter().all(|x| x.ack() == p + 1), "{}", show(&d));
    assert_eq!(h.app().peer_closed(), 0);
    assert_eq!(h.gauge(State::Established), 1);
    h.send_data(&pattern(100, 1));
    h.advance(TcpConfig::default().delayed_ack);
    let last = h.take().pop().expect("ACK");
    assert_eq!(last.seq(), s + 1);
    // Holding an out-of-order FIN is allowed, not required: if it was not kept, the peer's
    // retransmitted FIN must now be taken.
    if last.ack() == p + 101 {
        assert_eq!(h.app().peer_closed(), 0);
        let o = h.seg(FIN | ACK).seq(p + 101);
        h.send(o);
        h.advance(TcpConfig::default().delayed_ack);
        let last = h.take().pop().expect("ACK of the FIN");
        assert_eq!(last.ack(), p + 102);
    } else {
        assert_eq!(last.ack(), p + 102, "data and FIN both acknowledged");
    }
    assert_eq!(h.app().peer_closed(), 1);
    assert_eq!(h.gauge(State::CloseWait), 1);
}

#[test]
fn last_ack_retransmits_fin_until_acked() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(FIN | ACK).ack(s + 1);
    h.send(o);
    h.c.nxt = p + 2;
    h.advance(secs(1));
    h.take();
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 2);
    h.run_until_output(secs(10)).expect("FIN retransmitted");
    h.expect_one(FIN | ACK, s + 1, p + 2);
    assert_eq!(h.gauge(State::LastAck), 1);
    h.c.ack = s + 2;
    h.send_ack();
    h.expect_none();
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn simultaneous_close_passes_through_closing_to_time_wait_rfc9293_3_6_figure_13() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    let o = h.seg(FIN | ACK).ack(s + 1);
    h.send(o);
    h.c.nxt = p + 2;
    h.expect_one(ACK, s + 2, p + 2);
    assert_eq!(h.gauge(State::Closing), 1);
    assert_eq!(h.gauge(State::FinWait1), 0);
    h.c.ack = s + 2;
    h.send_ack();
    h.expect_none();
    assert_eq!(h.gauge(State::Closing), 0);
    assert_eq!(h.gauge(State::TimeWait), 1);
    assert_eq!(h.engine.time_wait_count(), 1);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn fin_wait_1_fin_with_ack_of_our_fin_goes_straight_to_time_wait_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    let o = h.seg(FIN | ACK).ack(s + 2);
    h.send(o);
    h.expect_one(ACK, s + 2, p + 2);
    assert_eq!(h.gauge(State::TimeWait), 1);
    assert_eq!(h.gauge(State::FinWait1) + h.gauge(State::Closing), 0);
}

#[test]
fn fin_is_sent_after_pending_data_rfc9293_3_10_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_send(handle, b"last words");
    h.take();
    h.app_close(handle);
    let f = h.take();
    let fin = f.iter().find(|x| x.has(FIN)).expect("FIN");
    // The FIN comes after the data: its sequence number is SND.NXT after the 10 bytes.
    assert_eq!(fin.end(), s + 1 + 10 + 1);
    assert_eq!(fin.ack(), p + 1);
}
