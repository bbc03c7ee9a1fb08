//! Engine-level behaviour: one engine against a scripted peer (exact segments), and two engines
//! over the in-memory wire.

use core::time::Duration;
use stack::counters::State;
use stack::sim::{Impairments, Pair};
use stack::testing::*;
use stack::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use stack::{CloseReason, Engine, Instant, SeqNum, SynCookiePolicy, TcpConfig};

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;

const PORT: u16 = 80;
const PEER_PORT: u16 = 40000;
const PEER_ISS: u32 = 1_000_000;

fn cfg() -> TcpConfig {
    TcpConfig {
        msl: Duration::from_secs(1),
        ..TcpConfig::default()
    }
}

fn harness(app: Recorder, tcp: TcpConfig) -> Harness<Recorder> {
    let mut h = Harness::new(app, tcp);
    h.engine.listen(PORT).unwrap();
    h
}

/// Completes a passive open from the peer (no options); returns our ISS.
fn establish(h: &mut Harness<Recorder>) -> u32 {
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(out.len(), 1, "one SYN-ACK");
    let synack = out[0].0;
    assert_eq!(synack.flags, TcpFlags(SYN | ACK));
    let iss = synack.seq.0;
    let out = h.send(
        &seg(
            PEER_PORT,
            PORT,
            ACK,
            PEER_ISS + 1,
            iss.wrapping_add(1),
            65535,
        ),
        &[],
    );
    assert!(out.is_empty(), "no answer to the handshake ACK: {out:?}");
    iss
}

fn flags(r: &TcpRepr) -> u8 {
    r.flags.0
}

#[test]
fn passive_open_three_way_handshake_rfc9293_3_5() {
    let mut h = harness(Recorder::default(), cfg());
    let mut syn = seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535);
    syn.options.mss = Some(1400);
    let out = h.send(&syn, &[]);
    assert_eq!(out.len(), 1);
    let (sa, data) = &out[0];
    assert!(data.is_empty());
    assert_eq!(flags(sa), SYN | ACK);
    assert_eq!(sa.ack, SeqNum(PEER_ISS + 1));
    assert_eq!(sa.options.mss, Some(1460));
    // Options the peer did not send are not offered back.
    assert_eq!(sa.options.window_scale, None);
    assert_eq!(sa.options.timestamp, None);
    assert!(!sa.options.sack_permitted);
    assert_eq!(h.engine.counters().states.get(State::SynReceived), 1);
    assert_eq!(h.engine.app().opened(), 0);

    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, sa.seq.0 + 1, 65535),
        &[],
    );
    assert!(out.is_empty());
    assert_eq!(h.engine.app().opened(), 1);
    let c = h.engine.counters();
    assert_eq!(c.states.get(State::SynReceived), 0);
    assert_eq!(c.states.get(State::Established), 1);
    assert_eq!(c.mib.passive_opens, 1);
    assert_eq!(h.engine.conn_count(), 1);
}

#[test]
fn handshake_negotiates_ws_sack_ts_when_both_send_them_rfc7323() {
    let mut h = harness(Recorder::default(), cfg());
    let mut syn = seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((777, 0)),
        ..TcpOptions::default()
    };
    let out = h.send(&syn, &[]);
    let sa = out[0].0;
    assert_eq!(
        sa.options.window_scale,
        Some(TcpConfig::default().rcv_wscale())
    );
    assert!(sa.options.sack_permitted);
    let (_, tsecr) = sa.options.timestamp.expect("TS echoed");
    assert_eq!(tsecr, 777);
}

#[test]
fn syn_to_closed_port_gets_rst_ack_with_ack_seq_plus_one_rfc9293_3_10_7_1() {
    let mut h = harness(Recorder::default(), cfg());
    let out = h.send(&seg(PEER_PORT, 81, SYN, 5000, 0, 65535), &[]);
    assert_eq!(out.len(), 1);
    let r = out[0].0;
    assert_eq!(flags(&r), RST | ACK);
    assert_eq!(r.seq, SeqNum(0));
    assert_eq!(r.ack, SeqNum(5001));
    assert_eq!(h.engine.counters().drops.tcp_no_listener, 1);
    assert_eq!(h.engine.counters().mib.out_rsts, 1);
}

#[test]
fn ack_to_unknown_connection_gets_rst_with_seq_eq_seg_ack_rfc9293_3_10_7_1() {
    let mut h = harness(Recorder::default(), cfg());
    let out = h.send(&seg(PEER_PORT, 81, ACK | PSH, 5000, 777, 65535), b"data");
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), RST);
    assert_eq!(out[0].0.seq, SeqNum(777));
}

#[test]
fn rst_to_unknown_connection_is_never_answered_with_rst() {
    let mut h = harness(Recorder::default(), cfg());
    assert!(h.send(&seg(PEER_PORT, 81, RST, 5000, 0, 0), &[]).is_empty());
    assert!(h
        .send(&seg(PEER_PORT, PORT, RST | ACK, 5000, 9, 0), &[])
        .is_empty());
}

#[test]
fn listen_ignores_rst_and_resets_ack_rfc9293_3_10_7_2() {
    let mut h = harness(Recorder::default(), cfg());
    assert!(h
        .send(&seg(PEER_PORT, PORT, RST, 5000, 0, 0), &[])
        .is_empty());
    let out = h.send(&seg(PEER_PORT, PORT, ACK, 5000, 4242, 100), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), RST);
    assert_eq!(out[0].0.seq, SeqNum(4242));
}

#[test]
fn in_order_data_is_delivered_and_acked_by_the_reply() {
    let mut h = harness(
        Recorder {
            echo: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK | PSH, PEER_ISS + 1, iss + 1, 65535),
        b"hello",
    );
    assert_eq!(h.engine.app().data(), b"hello");
    // The echo and the ACK leave in one segment.
    assert_eq!(out.len(), 1);
    let (r, d) = &out[0];
    assert_eq!(d, b"hello");
    assert_eq!(r.seq, SeqNum(iss + 1));
    assert_eq!(r.ack, SeqNum(PEER_ISS + 1 + 5));
    assert!(r.flags.psh());
}

#[test]
fn lone_segment_ack_is_delayed_then_sent_by_timer_rfc1122_4_2_3_2() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"abc",
    );
    assert!(out.is_empty(), "first segment's ACK is delayed");
    let out = h.advance(Duration::from_millis(39));
    assert!(out.is_empty());
    let out = h.advance(Duration::from_millis(2));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 4));
    assert_eq!(h.engine.counters().mib.delayed_acks, 1);
}

#[test]
fn every_second_segment_is_acked_at_once_rfc5681_4_2() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let a = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        &[1u8; 500],
    );
    assert!(a.is_empty());
    let b = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 501, iss + 1, 65535),
        &[2u8; 500],
    );
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].0.ack, SeqNum(PEER_ISS + 1001));
}

#[test]
fn out_of_order_segment_gets_immediate_duplicate_ack_and_is_reassembled() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 11, iss + 1, 65535),
        b"world",
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 1));
    assert!(h.engine.app().data().is_empty());
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"hello, the",
    );
    assert_eq!(h.engine.app().data(), b"hello, theworld");
    assert_eq!(out.len(), 1, "hole fill is ACKed at once");
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 16));
}

#[test]
fn unread_remainder_is_buffered_and_offered_first_next_time() {
    let mut h = harness(
        Recorder {
            consume: Some(3),
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"abcdef",
    );
    assert_eq!(h.engine.app().data(), b"abc");
    h.engine.app_mut().consume = None;
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 7, iss + 1, 65535),
        b"gh",
    );
    assert_eq!(h.engine.app().data(), b"abcdefgh");
}

#[test]
fn close_with_unread_data_sends_rst_rfc2525_2_17() {
    let mut h = harness(
        Recorder {
            consume: Some(2),
            close_after_data: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK | PSH, PEER_ISS + 1, iss + 1, 65535),
        b"GET / HTTP/1.0",
    );
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), RST | ACK);
    assert_eq!(out[0].0.seq, SeqNum(iss + 1));
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.app().closed(), vec![CloseReason::Aborted]);
    let c = h.engine.counters();
    assert_eq!(c.mib.abort_on_close, 1);
    assert_eq!(c.states.get(State::Established), 0);
}

#[test]
fn data_after_full_close_is_answered_with_rst() {
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"x",
    );
    // FIN (with the ACK) goes out: FIN_WAIT_1.
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), FIN | ACK);
    assert_eq!(h.engine.counters().orphans, 1);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 2, iss + 2, 65535),
        b"more",
    );
    assert_eq!(out.len(), 1);
    assert!(out[0].0.flags.rst());
    assert_eq!(h.engine.counters().mib.abort_on_data, 1);
    assert_eq!(h.engine.counters().orphans, 0);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn rst_in_window_but_not_exact_gets_challenge_ack_rfc5961_3_2() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let out = h.send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 100, 0, 0), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(out[0].0.seq, SeqNum(iss + 1));
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 1));
    assert_eq!(h.engine.conn_count(), 1);
    assert_eq!(h.engine.counters().mib.challenge_acks, 1);
    // Exactly at RCV.NXT: reset.
    let out = h.send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 1, 0, 0), &[]);
    assert!(out.is_empty());
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.app().closed(), vec![CloseReason::ResetByPeer]);
    assert_eq!(h.engine.counters().mib.estab_resets, 1);
}

#[test]
fn rst_out_of_window_is_dropped_silently() {
    let mut h = harness(Recorder::default(), cfg());
    establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, RST, PEER_ISS.wrapping_sub(10), 0, 0),
        &[],
    );
    assert!(out.is_empty());
    assert_eq!(h.engine.conn_count(), 1);
}

#[test]
fn syn_in_established_gets_challenge_ack_rfc5961_4() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS + 50, 0, 65535), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 1));
    assert_eq!(out[0].0.seq, SeqNum(iss + 1));
    assert_eq!(h.engine.conn_count(), 1);
}

#[test]
fn rst_in_syn_received_drops_embryo_listener_stays() {
    let mut h = harness(Recorder::default(), cfg());
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(out.len(), 1);
    let out = h.send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 1, 0, 0), &[]);
    assert!(out.is_empty());
    assert_eq!(h.engine.conn_count(), 0);
    assert!(h.engine.app().closed().is_empty(), "app never saw it");
    // The listener still answers.
    let out = h.send(&seg(PEER_PORT + 1, PORT, SYN, 1, 0, 65535), &[]);
    assert_eq!(flags(&out[0].0), SYN | ACK);
}

#[test]
fn synack_is_retransmitted_then_embryo_dropped_after_synack_retries() {
    let tcp = TcpConfig {
        synack_retries: 2,
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    let iss = out[0].0.seq;
    let out = h.advance(Duration::from_millis(1000));
    assert_eq!(out.len(), 1, "first retransmission after rto_initial");
    assert_eq!(out[0].0.seq, iss);
    assert!(h.advance(Duration::from_millis(1900)).is_empty());
    assert_eq!(
        h.advance(Duration::from_millis(100)).len(),
        1,
        "backoff doubles"
    );
    assert_eq!(h.engine.conn_count(), 1);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.counters().mib.attempt_fails, 1);
    assert_eq!(h.engine.counters().states.get(State::SynReceived), 0);
}

#[test]
fn retransmission_after_dropped_segment_rfc6298() {
    let mut h = harness(
        Recorder {
            echo: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"ping",
    );
    assert_eq!(out[0].1, b"ping");
    // The peer "loses" it: nothing comes back. The handshake gave a ~0 RTT sample, so the RTO
    // is rto_min (200 ms).
    assert!(h.advance(Duration::from_millis(199)).is_empty());
    let out = h.advance(Duration::from_millis(2));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.seq, SeqNum(iss + 1));
    assert_eq!(out[0].1, b"ping");
    assert_eq!(h.engine.counters().mib.retrans_segs, 1);
    assert_eq!(h.engine.counters().mib.timeouts, 1);
    // Backed off: next one after 400 ms.
    assert!(h.advance(Duration::from_millis(390)).is_empty());
    assert_eq!(h.advance(Duration::from_millis(20)).len(), 1);
    // The ACK ends it.
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 5, iss + 5, 65535),
        &[],
    );
    assert!(out.is_empty());
    assert!(h.advance(Duration::from_secs(30)).is_empty());
}

#[test]
fn retries_exhausted_resets_and_reports_timed_out() {
    let tcp = TcpConfig {
        retries: 2,
        ..cfg()
    };
    let mut h = harness(
        Recorder {
            echo: true,
            ..Recorder::default()
        },
        tcp,
    );
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"ping",
    );
    let out = h.advance(Duration::from_secs(60));
    assert_eq!(out.len(), 3, "two retransmissions then RST: {out:?}");
    assert!(out[2].0.flags.rst());
    assert_eq!(h.engine.app().closed(), vec![CloseReason::TimedOut]);
    assert_eq!(h.engine.counters().mib.abort_on_timeout, 1);
}

#[test]
fn passive_close_goes_close_wait_last_ack_closed() {
    let mut h = harness(
        Recorder {
            close_on_peer_close: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 1, iss + 1, 65535),
        &[],
    );
    // ACK of their FIN and our FIN in one segment.
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), FIN | ACK);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 2));
    assert_eq!(h.engine.counters().states.get(State::LastAck), 1);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert!(out.is_empty());
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.engine.app().closed(), vec![CloseReason::Normal]);
    assert_eq!(h.engine.counters().states.get(State::LastAck), 0);
}

#[test]
fn close_wait_is_held_until_the_app_closes() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 1, iss + 1, 65535),
        &[],
    );
    h.advance(Duration::from_secs(600));
    assert_eq!(h.engine.counters().states.get(State::CloseWait), 1);
    assert_eq!(h.engine.conn_count(), 1);
}

#[test]
fn active_close_fin_wait_to_time_wait_reacks_fin_and_expires_after_2msl() {
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"q",
    );
    assert_eq!(flags(&out[0].0), FIN | ACK);
    assert_eq!(h.engine.counters().states.get(State::FinWait1), 1);
    // Peer ACKs our FIN: FIN_WAIT_2.
    assert!(h
        .send(
            &seg(PEER_PORT, PORT, ACK, PEER_ISS + 2, iss + 2, 65535),
            &[]
        )
        .is_empty());
    assert_eq!(h.engine.counters().states.get(State::FinWait2), 1);
    // Peer's FIN: ACK it, TIME_WAIT; the Tcb is gone.
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 3));
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 1);
    assert_eq!(h.engine.counters().states.get(State::TimeWait), 1);
    assert_eq!(h.engine.counters().states.get(State::FinWait2), 0);
    assert_eq!(h.engine.app().closed(), vec![CloseReason::Normal]);
    // Retransmitted FIN: re-ACKed, 2MSL restarts.
    h.advance(Duration::from_millis(1500));
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(out[0].0.seq, SeqNum(iss + 2));
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 3));
    h.advance(Duration::from_millis(1900));
    assert_eq!(h.engine.time_wait_count(), 1, "2MSL restarted by the FIN");
    h.advance(Duration::from_millis(200));
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.engine.counters().states.get(State::TimeWait), 0);
    assert_eq!(h.engine.counters().mib.tw_expired, 1);
}

#[test]
fn time_wait_ignores_rst_rfc1337_and_new_syn_recycles_it_rfc6191() {
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"q",
    );
    h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert_eq!(
        h.engine.time_wait_count(),
        1,
        "simultaneous-ish close: FIN+ACK together"
    );
    assert!(h
        .send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 3, 0, 0), &[])
        .is_empty());
    assert_eq!(h.engine.time_wait_count(), 1);
    // Old SYN (below RCV.NXT): just ACKed.
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(h.engine.time_wait_count(), 1);
    // New SYN above RCV.NXT: a new connection takes over the 4-tuple.
    let out = h.send(
        &seg(PEER_PORT, PORT, SYN, PEER_ISS + 100_000, 0, 65535),
        &[],
    );
    assert_eq!(flags(&out[0].0), SYN | ACK);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 100_001));
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.engine.counters().mib.tw_recycled, 1);
}

#[test]
fn syn_cookies_always_keep_no_state_until_the_ack_rfc4987() {
    let tcp = TcpConfig {
        syncookies: SynCookiePolicy::Always,
        syn_backlog: 1,
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    let mut syn = seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535);
    syn.options.mss = Some(1460);
    let out = h.send(&syn, &[]);
    assert_eq!(out.len(), 1);
    let sa = out[0].0;
    assert_eq!(flags(&sa), SYN | ACK);
    assert_eq!(h.engine.conn_count(), 0, "stateless");
    assert_eq!(h.engine.counters().mib.syncookies_sent, 1);
    let out = h.send(
        &seg(
            PEER_PORT,
            PORT,
            ACK,
            PEER_ISS + 1,
            sa.seq.0.wrapping_add(1),
            65535,
        ),
        &[],
    );
    assert!(out.is_empty());
    assert_eq!(h.engine.conn_count(), 1);
    assert_eq!(h.engine.app().opened(), 1);
    assert_eq!(h.engine.counters().mib.syncookies_recv, 1);
    assert_eq!(h.engine.counters().states.get(State::Established), 1);
    // A forged ACK fails and is reset.
    let out = h.send(&seg(PEER_PORT + 1, PORT, ACK, 5, 12345, 65535), &[]);
    assert_eq!(flags(&out[0].0), RST);
    assert_eq!(h.engine.counters().mib.syncookies_failed, 1);
}

#[test]
fn syn_cookies_auto_only_when_backlog_overflows() {
    let tcp = TcpConfig {
        syncookies: SynCookiePolicy::Auto,
        syn_backlog: 1,
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(h.engine.conn_count(), 1);
    let out = h.send(&seg(PEER_PORT + 1, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(flags(&out[0].0), SYN | ACK);
    assert_eq!(h.engine.conn_count(), 1);
    let c = h.engine.counters();
    assert_eq!(c.mib.syncookies_sent, 1);
    assert_eq!(c.mib.listen_overflows, 1);
}

#[test]
fn syn_backlog_full_without_cookies_drops() {
    let tcp = TcpConfig {
        syncookies: SynCookiePolicy::Never,
        syn_backlog: 1,
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    let out = h.send(&seg(PEER_PORT + 1, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert!(out.is_empty());
    let c = h.engine.counters();
    assert_eq!(c.mib.listen_overflows, 1);
    assert_eq!(c.mib.listen_drops, 1);
}

#[test]
fn paws_rejects_old_timestamp_rfc7323_5() {
    let mut h = harness(Recorder::default(), cfg());
    let mut syn = seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535);
    syn.options.timestamp = Some((1000, 0));
    let out = h.send(&syn, &[]);
    let sa = out[0].0;
    let mut ack = seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, sa.seq.0 + 1, 65535);
    ack.options.timestamp = Some((1001, sa.options.timestamp.unwrap().0));
    h.send(&ack, &[]);
    let mut old = seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, sa.seq.0 + 1, 65535);
    old.options.timestamp = Some((900, 0));
    let out = h.send(&old, b"stale");
    assert_eq!(out.len(), 1, "ACK for the rejected segment");
    assert!(h.engine.app().data().is_empty());
    assert_eq!(h.engine.counters().mib.paws_estab_rejected, 1);
}

#[test]
fn zero_window_probes_back_off_and_orphan_is_reset_eventually() {
    let tcp = TcpConfig {
        orphan_retries: 3,
        ..cfg()
    };
    let mut h = harness(
        Recorder {
            close_after_data: true,
            greeting: vec![7u8; 100],
            ..Recorder::default()
        },
        tcp,
    );
    // Peer advertises a zero window in its handshake ACK.
    let out = h.send(&seg(PEER_PORT, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    let iss = out[0].0.seq.0;
    let out = h.send(&seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 0), &[]);
    assert!(out.is_empty(), "greeting held by the zero window: {out:?}");
    // The app closes after the next data: orphan in FIN_WAIT_1 behind unsendable data.
    let out = h.send(&seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 0), b"x");
    assert!(out.iter().all(|(_, d)| d.is_empty()));
    assert_eq!(h.engine.counters().states.get(State::FinWait1), 1);
    let out = h.advance(Duration::from_secs(600));
    // Probes carry SEG.SEQ = SND.UNA - 1 = ISS (the delayed ACK of "x" is not one).
    let probes = out
        .iter()
        .filter(|(r, _)| !r.flags.rst() && r.seq == SeqNum(iss))
        .count();
    assert_eq!(probes, 3);
    assert!(out.last().unwrap().0.flags.rst());
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.counters().mib.persist_probes, 3);
    assert_eq!(h.engine.counters().orphans, 0);
}

#[test]
fn keepalive_probes_then_times_out() {
    let tcp = TcpConfig {
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(2),
            probes: 3,
        }),
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    let iss = establish(&mut h);
    let out = h.advance(Duration::from_millis(10_001));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.seq, SeqNum(iss)); // SND.UNA - 1
    let out = h.advance(Duration::from_secs(10));
    assert_eq!(out.len(), 3, "two more probes then RST: {out:?}");
    assert!(out[2].0.flags.rst());
    assert_eq!(h.engine.app().closed(), vec![CloseReason::TimedOut]);
}

#[test]
fn keepalive_answered_by_rst_reports_reset_by_peer() {
    let tcp = TcpConfig {
        keepalive: Some(stack::Keepalive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(2),
            probes: 3,
        }),
        ..cfg()
    };
    let mut h = harness(Recorder::default(), tcp);
    establish(&mut h);
    h.advance(Duration::from_millis(10_001));
    // The rebooted peer answers the probe with RST (seq = its SEG.ACK = our RCV.NXT... as
    // it knows nothing, it uses the probe's ACK field).
    h.send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 1, 0, 0), &[]);
    assert_eq!(h.engine.app().closed(), vec![CloseReason::ResetByPeer]);
}

#[test]
fn active_open_syn_sent_rst_is_refused() {
    let mut h = harness(Recorder::default(), cfg());
    let (_hd, syn) = h.connect(5555, 9999);
    assert_eq!(flags(&syn), SYN);
    assert_eq!(syn.options.mss, Some(1460));
    assert!(syn.options.timestamp.is_some());
    let out = h.send(
        &seg(9999, 5555, RST | ACK, 0, syn.seq.0.wrapping_add(1), 0),
        &[],
    );
    assert!(out.is_empty());
    assert_eq!(h.engine.app().closed(), vec![CloseReason::Refused]);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn active_open_unacceptable_ack_in_syn_sent_gets_rst() {
    let mut h = harness(Recorder::default(), cfg());
    let (_hd, syn) = h.connect(5555, 9999);
    let out = h.send(
        &seg(9999, 5555, SYN | ACK, 1, syn.seq.0.wrapping_add(7), 0),
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), RST);
    assert_eq!(out[0].0.seq, syn.seq + 7u32);
    assert_eq!(h.engine.conn_count(), 1, "still SYN-SENT");
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut h = harness(Recorder::default(), cfg());
    let (_hd, syn) = h.connect(5555, 9999);
    let out = h.send(&seg(9999, 5555, SYN, 777, 0, 65535), &[]);
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), SYN | ACK);
    assert_eq!(out[0].0.seq, syn.seq);
    assert_eq!(out[0].0.ack, SeqNum(778));
    let out = h.send(&seg(9999, 5555, ACK, 778, syn.seq.0 + 1, 65535), &[]);
    assert!(out.is_empty());
    assert_eq!(h.engine.app().opened(), 1);
}

// ---- two engines over the in-memory wire ----

fn pair<A: stack::App, B: stack::App>(a: A, b: B, tcp: TcpConfig) -> Pair<A, B> {
    let now = Instant::from_secs(100);
    let ea = Engine::new(engine_config(LOCAL_IP, LOCAL_MAC, tcp.clone()), a, now).unwrap();
    let eb = Engine::new(engine_config(PEER_IP, PEER_MAC, tcp), b, now).unwrap();
    Pair::new(
        ea,
        eb,
        Impairments::perfect(),
        Impairments::perfect(),
        7,
        now,
    )
}

/// A SYN that cannot leave for want of the peer's MAC goes out as soon as the ARP reply
/// arrives (as Linux's neighbour queue sends it), not an initial RTO (1 s) later.
#[test]
fn syn_waiting_for_arp_leaves_when_the_reply_arrives() {
    let mut p = pair(Echo::default(), Recorder::default(), cfg());
    p.a.listen(PORT).unwrap();
    let t0 = p.now;
    p.with_b(|e, now, out| {
        e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, PORT), 0, out)
            .unwrap()
    });
    assert_eq!(p.b.counters().mib.arp_requests_sent, 1);
    assert_eq!(p.b.counters().drops.arp_unresolved, 1);
    assert_eq!(
        p.b.counters().mib.out_segs,
        0,
        "no SYN before the MAC is known"
    );
    assert!(p.run_until(t0 + Duration::from_secs(5), |p| p.b.app().opened() == 1));
    assert_eq!(
        p.now, t0,
        "the handshake completed at once on the zero-delay wire"
    );
    assert_eq!(p.b.counters().mib.syn_retrans, 0);
    assert_eq!(p.b.counters().mib.arp_requests_sent, 1);
}

#[test]
fn two_engines_handshake_echo_and_close_with_time_wait_on_active_closer() {
    let mut p = pair(
        Echo::default(),
        Recorder {
            greeting: b"hello".to_vec(),
            close_on_peer_close: true,
            ..Recorder::default()
        },
        cfg(),
    );
    p.a.listen(PORT).unwrap();
    // The engines learn each other's MAC by ARP.
    let h = p.with_b(|e, now, out| {
        e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, PORT), 0, out)
            .unwrap()
    });
    assert!(p.run_until(Instant::from_secs(110), |p| p.b.app().data() == b"hello"));
    assert_eq!(p.b.app().opened(), 1);
    assert_eq!(p.a.counters().states.get(State::Established), 1);
    assert_eq!(p.b.counters().states.get(State::Established), 1);
    // Client half-closes after more data; the server echoes, then closes on the FIN; the
    // client closes when it sees the server's FIN.
    p.with_b(|e, now, out| {
        e.with_conn(h, now, out, |_, s| {
            s.send(b" world");
            s.shutdown_write();
        })
    });
    assert!(
        p.run_until(Instant::from_secs(120), |p| p.a.conn_count() == 0
            && p.b.conn_count() == 0)
    );
    assert_eq!(p.b.app().closed(), vec![CloseReason::Normal]);
    assert_eq!(p.b.app().data(), b"hello world");
    assert_eq!(p.a.app().closed, 1);
    // b closed first: TIME_WAIT on b only.
    assert_eq!(p.b.time_wait_count(), 1);
    assert_eq!(p.a.time_wait_count(), 0);
    p.advance(Duration::from_millis(2100));
    assert_eq!(p.b.time_wait_count(), 0);
    for e in [p.a.counters(), p.b.counters()] {
        assert!(e
            .states
            .entries()
            .all(|(s, n)| n == 0 || s == State::Listen));
    }
}

#[test]
fn two_engines_bulk_transfer_is_byte_exact() {
    let mut p = pair(
        Echo::default(),
        Recorder::default(),
        TcpConfig {
            tx_buf: 1 << 20,
            ..cfg()
        },
    );
    p.a.listen(PORT).unwrap();
    let h = p.with_b(|e, now, out| {
        e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, PORT), 0, out)
            .unwrap()
    });
    p.run_until(Instant::from_secs(110), |p| p.b.app().opened() == 1);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sent = p.with_b(|e, now, out| e.with_conn(h, now, out, |_, s| s.send(&data)).unwrap());
    assert_eq!(sent, data.len());
    assert!(
        p.run_until(Instant::from_secs(200), |p| p.b.app().data().len()
            == data.len())
    );
    assert!(p.b.app().data() == data);
}

#[test]
fn two_engines_lossy_wire_transfer_is_byte_exact() {
    let now = Instant::from_secs(100);
    let tcp = TcpConfig {
        tx_buf: 1 << 20,
        ..cfg()
    };
    let ea = Engine::new(
        engine_config(LOCAL_IP, LOCAL_MAC, tcp.clone()),
        Echo::default(),
        now,
    )
    .unwrap();
    let eb = Engine::new(
        engine_config(PEER_IP, PEER_MAC, tcp),
        Recorder::default(),
        now,
    )
    .unwrap();
    let imp = Impairments {
        loss: 0.03,
        reorder: 0.03,
        duplicate: 0.01,
        corrupt: 0.005,
        delay: Duration::from_millis(5),
        reorder_window: Duration::from_millis(3),
    };
    let mut p = Pair::new(ea, eb, imp, imp, 99, now);
    p.a.listen(PORT).unwrap();
    let h = p.with_b(|e, now, out| {
        e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, PORT), 0, out)
            .unwrap()
    });
    assert!(p.run_until(Instant::from_secs(200), |p| p.b.app().opened() == 1));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 253) as u8).collect();
    let sent = p.with_b(|e, now, out| e.with_conn(h, now, out, |_, s| s.send(&data)).unwrap());
    assert_eq!(sent, data.len());
    assert!(
        p.run_until(Instant::from_secs(2000), |p| p.b.app().data().len()
            == data.len()),
        "got {} of {}",
        p.b.app().data().len(),
        data.len()
    );
    assert!(p.b.app().data() == data);
}

#[test]
fn idle_established_slot_fits_memory_budget() {
    let slot = stack::engine::slot_size::<u64>();
    let tw = stack::engine::time_wait_entry_size();
    // ConnTable per entry: generation (4) + key (12) + enum tag (4, padded to the value's
    // alignment) + an 8-byte index bucket at <= 7/8 load (~10 bytes).
    let table = |v: usize, align: usize| (4 + 12 + v + align).div_ceil(align) * align + 10;
    println!(
        "Slot<u64> = {slot} B ({} B in the table), TwEntry = {tw} B ({} B in the table)",
        table(slot, 8),
        table(tw, 4)
    );
    // An idle ESTABLISHED connection (keepalive off) has no timer entries and no buffers.
    assert!(
        table(slot, 8) <= 512,
        "connection costs {} B",
        table(slot, 8)
    );
    assert!(
        table(tw, 4) <= 64,
        "TIME_WAIT entry costs {} B",
        table(tw, 4)
    );
}

fn lossy_transfer(tcp: TcpConfig, seed: u64) -> stack::Counters {
    let now = Instant::from_secs(100);
    let ea = Engine::new(
        engine_config(LOCAL_IP, LOCAL_MAC, tcp.clone()),
        Echo::default(),
        now,
    )
    .unwrap();
    let eb = Engine::new(
        engine_config(PEER_IP, PEER_MAC, tcp),
        Recorder::default(),
        now,
    )
    .unwrap();
    let imp = Impairments {
        loss: 0.04,
        reorder: 0.02,
        duplicate: 0.01,
        corrupt: 0.0,
        delay: Duration::from_millis(5),
        reorder_window: Duration::from_millis(3),
    };
    let mut p = Pair::new(ea, eb, imp, imp, seed, now);
    p.a.listen(PORT).unwrap();
    let h = p.with_b(|e, now, out| {
        e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, PORT), 0, out)
            .unwrap()
    });
    assert!(p.run_until(Instant::from_secs(300), |p| p.b.app().opened() == 1));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 241) as u8).collect();
    let sent = p.with_b(|e, now, out| e.with_conn(h, now, out, |_, s| s.send(&data)).unwrap());
    assert_eq!(sent, data.len());
    assert!(
        p.run_until(Instant::from_secs(3000), |p| p.b.app().data().len()
            == data.len()),
        "got {} of {}",
        p.b.app().data().len(),
        data.len()
    );
    assert!(p.b.app().data() == data);
    *p.b.counters()
}

#[test]
fn newreno_recovery_without_sack_or_timestamps_rfc6582() {
    let c = lossy_transfer(
        TcpConfig {
            sack: false,
            timestamps: false,
            tx_buf: 1 << 20,
            ..cfg()
        },
        5,
    );
    assert!(c.mib.reno_recoveries > 0, "{:?}", c.mib);
    assert_eq!(c.mib.sack_recoveries, 0);
}

#[test]
fn sack_recovery_when_negotiated_rfc6675() {
    let c = lossy_transfer(
        TcpConfig {
            tx_buf: 1 << 20,
            ..cfg()
        },
        6,
    );
    assert!(c.mib.sack_recoveries > 0, "{:?}", c.mib);
    assert_eq!(c.mib.reno_recoveries, 0);
}

#[test]
fn orphan_in_fin_wait_2_times_out_after_fin_timeout() {
    let tcp = TcpConfig {
        fin_timeout: Duration::from_secs(5),
        ..cfg()
    };
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        tcp,
    );
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"q",
    );
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert_eq!(h.engine.counters().states.get(State::FinWait2), 1);
    h.advance(Duration::from_millis(4900));
    assert_eq!(h.engine.conn_count(), 1);
    h.advance(Duration::from_millis(200));
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.counters().states.get(State::FinWait2), 0);
    assert_eq!(h.engine.counters().orphans, 0);
}

#[test]
fn max_orphans_resets_new_orphans() {
    let tcp = TcpConfig {
        max_orphans: 0,
        ..cfg()
    };
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        tcp,
    );
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"q",
    );
    assert!(out[0].0.flags.rst());
    assert_eq!(h.engine.counters().mib.abort_on_memory, 1);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn close_all_sends_fin_to_every_connection() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    h.engine.close_all(h.now, &mut h.out);
    let out = h.take();
    assert_eq!(out.len(), 1);
    assert_eq!(flags(&out[0].0), FIN | ACK);
    assert_eq!(out[0].0.seq, SeqNum(iss + 1));
    assert_eq!(h.engine.counters().states.get(State::Listen), 0);
    assert_eq!(h.engine.counters().states.get(State::FinWait1), 1);
}

#[test]
fn idle_connection_holds_no_buffer_memory_after_an_exchange() {
    let mut h = harness(
        Recorder {
            echo: true,
            ..Recorder::default()
        },
        cfg(),
    );
    let iss = establish(&mut h);
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        &[9u8; 1000],
    );
    h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1001, iss + 1001, 65535),
        &[],
    );
    let handle = match h.engine.app().events[0] {
        Event::Open(hd) => hd,
        ref e => panic!("{e:?}"),
    };
    assert_eq!(h.engine.conn_heap_bytes(handle), Some(0));
}

#[test]
fn challenge_acks_are_rate_limited_per_connection_rfc5961_7() {
    let mut h = harness(Recorder::default(), cfg());
    establish(&mut h);
    let mut acks = 0;
    for i in 0..5 {
        acks += h
            .send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 10 + i, 0, 0), &[])
            .len();
    }
    assert_eq!(acks, 1);
    assert_eq!(h.engine.counters().mib.ack_skipped_challenge, 4);
    h.advance(Duration::from_millis(500));
    assert_eq!(
        h.send(&seg(PEER_PORT, PORT, RST, PEER_ISS + 50, 0, 0), &[])
            .len(),
        1
    );
}

/// The delack timer is lazy (not cancelled when two segments are ACKed at once): a later lone
/// segment must still get its full delay, counted from its own arrival.
#[test]
fn delayed_ack_interval_restarts_after_an_immediate_ack_rfc1122_4_2_3_2() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let mut seq = PEER_ISS + 1;
    let mut data = |h: &mut Harness<Recorder>, len: u32| {
        let out = h.send(
            &seg(PEER_PORT, PORT, ACK, seq, iss + 1, 65535),
            &vec![7u8; len as usize],
        );
        seq += len;
        out
    };
    assert!(data(&mut h, 10).is_empty());
    let out = data(&mut h, 10);
    assert_eq!(out.len(), 1, "second segment ACKed at once");
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 21));
    assert!(h.advance(Duration::from_millis(30)).is_empty());
    // A lone segment 30 ms after the first timer was armed.
    assert!(data(&mut h, 10).is_empty());
    // The first interval's deadline passes: nothing owed from it, the new one not yet due.
    assert!(h.advance(Duration::from_millis(39)).is_empty());
    let out = h.advance(Duration::from_millis(2));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 31));
    assert_eq!(h.engine.counters().mib.delayed_acks, 1);
    assert!(h.advance(Duration::from_millis(200)).is_empty());
}

#[test]
fn out_of_order_fin_is_kept_and_processed_when_the_hole_fills_rfc9293_3_10_7_4() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    // "world" + FIN arrives before "hello": a duplicate ACK, no close yet.
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 6, iss + 1, 65535),
        b"world",
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 1));
    assert_eq!(h.engine.counters().states.get(State::Established), 1);
    assert!(!h
        .engine
        .app()
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerClosed(_))));
    // The hole fills: both data and the remembered FIN are taken, with no FIN retransmission.
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"hello",
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].0.ack,
        SeqNum(PEER_ISS + 12),
        "data and FIN acknowledged"
    );
    assert_eq!(h.engine.app().data(), b"helloworld");
    let ev = &h.engine.app().events;
    let data_at = ev
        .iter()
        .rposition(|e| matches!(e, Event::Data(..)))
        .unwrap();
    let fin_at = ev
        .iter()
        .position(|e| matches!(e, Event::PeerClosed(_)))
        .expect("peer FIN processed");
    assert!(data_at < fin_at);
    assert_eq!(h.engine.counters().states.get(State::CloseWait), 1);
}

#[test]
fn out_of_order_pure_fin_waits_for_in_order_data_rfc9293_3_10_7_4() {
    let mut h = harness(Recorder::default(), cfg());
    let iss = establish(&mut h);
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 4, iss + 1, 65535),
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 1));
    let out = h.send(
        &seg(PEER_PORT, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"abc",
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 5));
    assert_eq!(h.engine.counters().states.get(State::CloseWait), 1);
}

/// Passive open from `peer_port`, the app closes after one byte, the peer ACKs our FIN and
/// sends its own: the connection ends in TIME_WAIT (or is counted as overflow).
fn close_into_time_wait(h: &mut Harness<Recorder>, peer_port: u16) {
    let out = h.send(&seg(peer_port, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(flags(&out[0].0), SYN | ACK);
    let iss = out[0].0.seq.0;
    h.send(
        &seg(peer_port, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        &[],
    );
    let out = h.send(
        &seg(peer_port, PORT, ACK, PEER_ISS + 1, iss + 1, 65535),
        b"q",
    );
    assert_eq!(flags(&out[0].0), FIN | ACK);
    let out = h.send(
        &seg(peer_port, PORT, FIN | ACK, PEER_ISS + 2, iss + 2, 65535),
        &[],
    );
    assert_eq!(flags(&out[0].0), ACK);
    assert_eq!(out[0].0.ack, SeqNum(PEER_ISS + 3));
}

#[test]
fn time_wait_expiry_is_reported_by_poll_at_without_a_timer_per_entry() {
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        cfg(),
    );
    close_into_time_wait(&mut h, PEER_PORT);
    let entered = h.now;
    assert_eq!(h.engine.time_wait_count(), 1);
    // The connection's own timers are gone; only the TIME_WAIT expiry is pending.
    assert_eq!(h.engine.poll_at(), Some(entered + Duration::from_secs(2)));
    // A retransmitted FIN restarts 2×MSL, and poll_at follows.
    h.advance(Duration::from_millis(700));
    let out = h.send(
        &seg(PEER_PORT, PORT, FIN | ACK, PEER_ISS + 2, 0, 65535),
        &[],
    );
    assert_eq!(flags(&out[0].0), ACK);
    let restarted = h.now;
    assert_eq!(restarted, entered + Duration::from_millis(700));
    assert_eq!(h.engine.poll_at(), Some(restarted + Duration::from_secs(2)));
    h.advance(Duration::from_millis(1999));
    assert_eq!(h.engine.time_wait_count(), 1);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.engine.poll_at(), None);
    assert_eq!(h.engine.counters().mib.tw_expired, 1);
    assert_eq!(h.engine.counters().states.get(State::TimeWait), 0);
}

#[test]
fn time_wait_storm_counts_overflow_and_returns_its_memory_after_2msl() {
    let tcp = TcpConfig {
        max_time_wait: 300,
        ..cfg()
    };
    let mut h = harness(
        Recorder {
            close_after_data: true,
            ..Recorder::default()
        },
        tcp,
    );
    for i in 0..400u16 {
        close_into_time_wait(&mut h, 20_000 + i);
    }
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 300);
    assert_eq!(h.engine.counters().states.get(State::TimeWait), 300);
    assert_eq!(h.engine.counters().mib.tw_killed, 100);
    let bytes = h.engine.time_wait_memory_bytes();
    assert!(
        bytes > 0 && bytes <= 300 * 64,
        "TIME_WAIT table holds {bytes} B for 300 entries"
    );
    // A killed tuple is free at once: its SYN opens a new connection.
    let out = h.send(&seg(20_399, PORT, SYN, PEER_ISS, 0, 65535), &[]);
    assert_eq!(flags(&out[0].0), SYN | ACK);
    h.advance(Duration::from_millis(2100));
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.engine.counters().mib.tw_expired, 300);
    assert_eq!(h.engine.counters().states.get(State::TimeWait), 0);
    assert_eq!(h.engine.time_wait_memory_bytes(), 0, "heap returned");
}
