//! Retransmission timer (RFC 6298), SYN-ACK retransmission, give-up, and fast retransmit /
//! recovery (RFC 5681 §3.2, RFC 6582 NewReno, RFC 6675 SACK), black-box.

mod common;
use common::*;
use stack::{CloseReason, State, TcpConfig};

#[test]
fn data_retransmitted_at_rto_from_first_rtt_sample_rfc6298_2_2() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let s = h.c.irs;
    let t1 = h.now;
    h.app_send(handle, &pattern(100, 1));
    let d = h.take();
    assert_eq!(d.len(), 1);
    h.advance_to(t1 + ms(299));
    h.expect_none();
    h.advance_to(t1 + ms(300));
    let r = h.expect_one_nopsh(ACK, s + 1, h.c.iss + 1);
    assert_eq!(r.payload, d[0].payload, "same bytes again");
    assert_eq!(h.counters().mib.retrans_segs, 1);
    assert!(h.counters().mib.timeouts >= 1);
}

#[test]
fn retransmission_timer_backs_off_by_doubling_rfc6298_5_5() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let s = h.c.irs;
    let t1 = h.now;
    h.app_send(handle, &pattern(100, 1));
    h.take();
    let mut at = t1;
    for rto in [300u64, 600, 1200, 2400] {
        h.advance_to(at + ms(rto - 1));
        h.expect_none();
        at += ms(rto);
        h.advance_to(at);
        h.expect_one_nopsh(ACK, s + 1, h.c.iss + 1);
    }
    assert_eq!(h.counters().mib.retrans_segs, 4);
}

#[test]
fn ack_after_retransmission_clears_backoff_and_timestamps_give_a_sample_rfc6298_5_rfc7323_4() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let s = h.c.irs;
    let t1 = h.now;
    h.app_send(handle, &pattern(100, 1));
    h.take();
    h.advance_to(t1 + ms(300));
    h.advance_to(t1 + ms(900));
    assert_eq!(h.take().len(), 2);
    // The retransmission sent at +900 ms is acknowledged at +1000 ms, echoing its TSval: with
    // timestamps the sample is unambiguous (RFC 7323 §4), R = 100 ms, so SRTT = 100,
    // RTTVAR = 3/4 * 50 + 1/4 * 0 = 37.5 and RTO = 100 + 150 = 250 ms, no longer backed off.
    h.advance_to(t1 + ms(1000));
    h.expect_none();
    h.c.ack = s + 101;
    h.send_ack();
    h.take();
    let t2 = h.now;
    h.app_send(handle, &pattern(50, 2));
    h.take();
    h.run_until_output(secs(10));
    let r = h.take();
    assert_eq!(r[0].seq(), s + 101);
    assert_eq!(r[0].at - t2, ms(250), "{}", show(&r));
}

#[test]
fn retries_exhausted_sends_rst_and_app_sees_timed_out() {
    let cfg = TcpConfig {
        retries: 3,
        ..TcpConfig::default()
    };
    let (mut h, handle) = establish_rtt_100(cfg);
    let s = h.c.irs;
    let t1 = h.now;
    h.app_send(handle, &pattern(100, 1));
    h.take();
    // Retransmissions at +300, +900, +2100 ms, then one more backed-off RTO (2400 ms) without
    // an ACK and the connection is given up.
    h.advance_to(t1 + ms(4499));
    let r = h.take();
    assert_eq!(r.len(), 3, "{}", show(&r));
    assert!(r.iter().all(|x| x.seq() == s + 1 && x.len() == 100));
    assert!(h.app().closes().is_empty());
    h.advance_to(t1 + ms(4500));
    let rst = h.expect_rst(s + 101);
    assert!(rst.payload.is_empty());
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::TimedOut))
    );
    assert_eq!(h.counters().mib.abort_on_timeout, 1);
    assert_eq!(h.counters().mib.out_rsts, 1);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.gauge_total(), 0);
}

#[test]
fn synack_retransmitted_with_backoff_then_embryo_dropped_after_synack_retries() {
    let cfg = TcpConfig {
        synack_retries: 2,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(cfg, Behaviour::default());
    let t0 = h.now;
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    // RFC 6298 §2.1: no sample yet, RTO 1 s; doubled each time.
    h.advance_to(t0 + ms(999));
    h.expect_none();
    h.advance_to(t0 + secs(1));
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
    h.advance_to(t0 + ms(2999));
    h.expect_none();
    h.advance_to(t0 + secs(3));
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
    assert_eq!(h.gauge(State::SynReceived), 1);
    h.advance_to(t0 + ms(6999));
    h.expect_none();
    assert_eq!(h.gauge(State::SynReceived), 1);
    h.advance_to(t0 + secs(7));
    assert!(h.take().iter().all(|s| !s.has(SYN)), "no third SYN-ACK");
    assert_eq!(h.gauge(State::SynReceived), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().mib.attempt_fails, 1);
    assert!(h.app().events.is_empty());
    // A late third ACK finds nothing: reset <SEQ=SEG.ACK><CTL=RST>.
    h.handshake_ack(&mut c);
    h.expect_rst(sa.seq() + 1);
    assert_eq!(h.app().opens(), 0);
}

#[test]
fn synack_retransmission_still_completes_on_late_ack() {
    let mut h = Harness::with_defaults();
    let t0 = h.now;
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut c);
    h.advance_to(t0 + secs(1));
    assert_eq!(h.take().len(), 1);
    h.handshake_ack(&mut c);
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.gauge(State::Established), 1);
}

/// Sends 5 full segments from the engine; returns (mss, segments).
fn five_segments(h: &mut Harness, handle: stack::ConnHandle) -> (usize, Vec<Seg>) {
    let mss = h.eff_mss(&h.c.clone());
    assert_eq!(h.app_send(handle, &pattern(5 * mss, 1)), 5 * mss);
    let segs = h.take();
    assert_eq!(segs.len(), 5, "{}", show(&segs));
    for (i, sg) in segs.iter().enumerate() {
        assert_eq!(sg.seq(), h.c.irs + 1 + (i * mss) as u32);
        assert_eq!(sg.len(), mss);
    }
    (mss, segs)
}

#[test]
fn fast_retransmit_after_three_dup_acks_newreno_rfc5681_3_2_rfc6582() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        sack: false,
        ..PeerOpts::full()
    };
    let handle = h.establish_with(opts);
    let (p, s) = (h.c.iss, h.c.irs);
    let (mss, _) = five_segments(&mut h, handle);
    let m = mss as u32;
    // Segments 1 and 3 are lost; 2, 4, 5 each trigger a duplicate ACK.
    h.c.ack = s + 1;
    h.send_ack();
    h.expect_none();
    h.send_ack();
    h.expect_none();
    h.send_ack();
    let r = h.expect_one_nopsh(ACK, s + 1, p + 1);
    assert_eq!(r.len(), mss);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.reno_recoveries, 1);
    assert_eq!(h.counters().mib.sack_recoveries, 0);
    // Partial ACK (RFC 6582 §3.2 step 5): retransmit the first unacknowledged segment at once.
    h.c.ack = s + 1 + 2 * m;
    h.send_ack();
    let r = h.expect_one_nopsh(ACK, s + 1 + 2 * m, p + 1);
    assert_eq!(r.len(), mss);
    // Full ACK: recovery ends; nothing more to send.
    h.c.ack = s + 1 + 5 * m;
    h.send_ack();
    h.expect_none();
    // No timeout-driven retransmission follows.
    h.advance(secs(5));
    h.expect_none();
}

#[test]
fn sack_based_fast_retransmit_on_third_dup_ack_rfc6675_5() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    assert!(h.c.sack_ok);
    let (mss, _) = five_segments(&mut h, handle);
    let m = mss as u32;
    let seg = |i: u32| s + 1 + i * m;
    h.c.ack = s + 1;
    // Segment 1 lost; 2, 3, 4 arrive and are SACKed one by one.
    let o = h.seg(ACK).sack(&[(seg(1), seg(2))]);
    h.send(o);
    h.expect_none();
    let o = h.seg(ACK).sack(&[(seg(1), seg(3))]);
    h.send(o);
    h.expect_none();
    let o = h.seg(ACK).sack(&[(seg(1), seg(4))]);
    h.send(o);
    let r = h.expect_one_nopsh(ACK, s + 1, p + 1);
    assert_eq!(r.len(), mss);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.reno_recoveries, 0);
    // Everything acknowledged: done, no further retransmission.
    h.c.ack = seg(5);
    h.send_ack();
    h.expect_none();
    h.advance(secs(5));
    h.expect_none();
}

#[test]
fn sacked_segments_are_not_retransmitted_on_timeout_rfc6675_5_1() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let s = h.c.irs;
    let (mss, _) = five_segments(&mut h, handle);
    let m = mss as u32;
    let seg = |i: u32| s + 1 + i * m;
    h.c.ack = s + 1;
    // Only one dup ACK SACKing two segments: below DupThresh, and IsLost(SND.UNA) is false
    // (RFC 6675 §5 step 3.2), so no fast retransmit.
    let o = h.seg(ACK).sack(&[(seg(1), seg(3))]);
    h.send(o);
    h.expect_none();
    // A tail loss probe (RFC 8985 §7) may go out first; the RTO follows it.
    let mut r = Vec::new();
    while h.counters().mib.timeouts == 0 {
        assert!(h.run_until_output(secs(10)).is_some());
        r = h.take();
    }
    // The first segment goes again; SACKed ones must not precede it.
    assert_eq!(r[0].seq(), seg(0), "{}", show(&r));
    assert_eq!(r[0].len(), mss);
}

/// A Linux receiver holding out-of-order data grows its advertised window with every ACK, so
/// RFC 5681's "window unchanged" condition (e) never holds. RFC 6675 §2: for a SACK connection
/// an ACK that SACKs new data is a duplicate ACK whatever its window.
#[test]
fn sack_dup_acks_with_growing_window_trigger_fast_retransmit_rfc6675_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let (mss, _) = five_segments(&mut h, handle);
    let m = mss as u32;
    let seg = |i: u32| s + 1 + i * m;
    h.c.ack = s + 1;
    for (i, w) in [(2u32, 16400u16), (3, 16410), (4, 16420)] {
        h.c.window = w;
        let o = h.seg(ACK).sack(&[(seg(1), seg(i))]);
        h.send(o);
        if i < 4 {
            h.expect_none();
        }
    }
    let r = h.expect_one_nopsh(ACK, s + 1, p + 1);
    assert_eq!(r.len(), mss);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// A busy peer acknowledges on its own data segments: with SACK blocks covering new data those
/// count as duplicate ACKs too (RFC 6675 §2 has no "no data" condition).
#[test]
fn sack_dup_acks_riding_on_data_trigger_fast_retransmit_rfc6675_2() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let s = h.c.irs;
    let (mss, _) = five_segments(&mut h, handle);
    let m = mss as u32;
    let seg = |i: u32| s + 1 + i * m;
    h.c.ack = s + 1;
    for i in 2..=4u32 {
        let o = h.seg(ACK | PSH).sack(&[(seg(1), seg(i))]).data(b"xy");
        h.c.nxt = h.c.nxt.wrapping_add(2);
        h.send(o);
    }
    let r = h.take();
    let rtx: Vec<_> = r
        .iter()
        .filter(|x| x.seq() == s + 1 && x.len() == mss)
        .collect();
    assert_eq!(rtx.len(), 1, "{}", show(&r));
    assert_eq!(h.counters().mib.fast_retrans, 1);
}

/// Without SACK the strict RFC 5681 §2 definition stays: a changed window is no dupACK.
#[test]
fn newreno_dup_ack_with_changed_window_is_not_counted_rfc5681_2() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        sack: false,
        ..PeerOpts::full()
    };
    let handle = h.establish_with(opts);
    let s = h.c.irs;
    five_segments(&mut h, handle);
    h.c.ack = s + 1;
    for w in [16400u16, 16410, 16420, 16430] {
        h.c.window = w;
        h.send_ack();
        h.expect_none();
    }
    assert_eq!(h.counters().mib.fast_retrans, 0);
}

/// RFC 8985 §7: with several segments in flight and no ACK, a tail loss probe resends the
/// last segment after PTO = 2 * SRTT (200 ms), before the 300 ms RTO; only one per episode.
#[test]
fn tail_loss_probe_resends_last_segment_after_two_srtt_rfc8985_7() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let s = h.c.irs;
    let t1 = h.now;
    let (mss, _) = five_segments(&mut h, handle);
    h.advance_to(t1 + ms(199));
    h.expect_none();
    h.advance_to(t1 + ms(200));
    let r = h.take();
    assert_eq!(r.len(), 1, "{}", show(&r));
    assert_eq!(r[0].seq(), s + 1 + 4 * mss as u32);
    assert_eq!(r[0].len(), mss);
    assert_eq!(h.counters().mib.timeouts, 0);
    assert_eq!(h.counters().mib.retrans_segs, 1);
    // Still no ACK: the RTO (armed when the probe went out) resends from SND.UNA.
    h.advance_to(t1 + ms(200 + 299));
    h.expect_none();
    h.advance_to(t1 + ms(200 + 300));
    let r = h.take();
    assert_eq!(r[0].seq(), s + 1, "{}", show(&r));
    assert_eq!(h.counters().mib.timeouts, 1);
}

/// RFC 8985 §7.2: with one segment in flight the PTO includes the peer's worst-case delayed
/// ACK, so it does not beat the RTO here (2 * 100 + 200 > 300 ms): the RTO fires first.
#[test]
fn single_segment_pto_adds_max_ack_delay_rfc8985_7_2() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let t1 = h.now;
    h.app_send(handle, &pattern(100, 1));
    h.take();
    h.advance_to(t1 + ms(299));
    h.expect_none();
    h.advance_to(t1 + ms(300));
    h.take();
    assert_eq!(h.counters().mib.timeouts, 1);
}
